/* SPDX-License-Identifier: MIT
 *
 * pp-events: a tiny JSON line writer (flat objects of strings, numbers and
 * booleans are all the event stream needs, so no JSON library is pulled
 * in here) and the status line.
 */
#include "app/pp-events.h"

#include <math.h>
#include <string.h>

struct _PpJsonEvent
{
  GString *line;
};

void
pp_json_escape_append (GString *out, const uint8_t *s, size_t len)
{
  const char *p = (const char *) s;
  const char *end = p + len;

  while (p < end)
    {
      /* GLib reports a NUL byte as invalid; JSON can carry it. */
      gunichar c = *p == '\0' ? 0 : g_utf8_get_char_validated (p, end - p);

      if (c == 0)
        {
          g_string_append (out, "\\u0000");
          p++;
          continue;
        }
      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append (out, "\\ufffd");  /* an invalid byte */
          p++;
          continue;
        }
      p = g_utf8_next_char (p);
      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", (char) c);
      else if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029)
        g_string_append_printf (out, "\\u%04x", c);
      else if (c >= 0x202a && c <= 0x202e)
        g_string_append_printf (out, "\\u%04x", c);  /* bidi overrides */
      else
        g_string_append_unichar (out, c);
    }
}

static void
add_key (PpJsonEvent *ev, const char *key)
{
  g_string_append (ev->line, ",\"");
  pp_json_escape_append (ev->line, (const uint8_t *) key, strlen (key));
  g_string_append (ev->line, "\":");
}

PpJsonEvent *
pp_event_new (const char *type, int64_t unix_time_us)
{
  PpJsonEvent *ev = g_new0 (PpJsonEvent, 1);
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (unix_time_us / G_USEC_PER_SEC);

  ev->line = g_string_new ("{\"event\":\"");
  pp_json_escape_append (ev->line, (const uint8_t *) type, strlen (type));
  g_string_append_c (ev->line, '"');
  if (t != NULL)
    {
      g_autofree char *iso = g_date_time_format (t, "%Y-%m-%dT%H:%M:%S");
      g_string_append_printf (ev->line, ",\"time\":\"%s.%03dZ\"", iso,
                              (int) ((unix_time_us / 1000) % 1000));
    }
  return ev;
}

void
pp_event_add_bytes (PpJsonEvent *ev, const char *key, const uint8_t *value, size_t len)
{
  add_key (ev, key);
  if (value == NULL)
    {
      g_string_append (ev->line, "null");
      return;
    }
  g_string_append_c (ev->line, '"');
  pp_json_escape_append (ev->line, value, len);
  g_string_append_c (ev->line, '"');
}

void
pp_event_add_string (PpJsonEvent *ev, const char *key, const char *value)
{
  pp_event_add_bytes (ev, key, (const uint8_t *) value, value ? strlen (value) : 0);
}

void
pp_event_add_int (PpJsonEvent *ev, const char *key, int64_t value)
{
  add_key (ev, key);
  g_string_append_printf (ev->line, "%" G_GINT64_FORMAT, value);
}

void
pp_event_add_double (PpJsonEvent *ev, const char *key, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  add_key (ev, key);
  if (!isfinite (value))
    {
      g_string_append (ev->line, "null");
      return;
    }
  g_string_append (ev->line, g_ascii_formatd (buf, sizeof buf, "%.3f", value));
}

void
pp_event_add_bool (PpJsonEvent *ev, const char *key, gboolean value)
{
  add_key (ev, key);
  g_string_append (ev->line, value ? "true" : "false");
}

void
pp_event_add_null (PpJsonEvent *ev, const char *key)
{
  add_key (ev, key);
  g_string_append (ev->line, "null");
}

char *
pp_event_finish (PpJsonEvent *ev)
{
  char *line;

  g_string_append (ev->line, "}\n");
  line = g_string_free (ev->line, FALSE);
  g_free (ev);
  return line;
}

char *
pp_format_bytes (double bytes)
{
  static const char *units[] = { "B", "kB", "MB", "GB", "TB" };
  guint u = 0;

  while (bytes >= 999.95 && u + 1 < G_N_ELEMENTS (units))
    {
      bytes /= 1000;
      u++;
    }
  return u == 0 ? g_strdup_printf ("%.0f B", bytes) : g_strdup_printf ("%.1f %s", bytes, units[u]);
}

char *
pp_status_format (const PpStatus *st)
{
  GString *s = g_string_new (st->state);
  g_autofree char *in = pp_format_bytes (st->rate_in);
  g_autofree char *out = pp_format_bytes (st->rate_out);

  if (st->path != NULL)
    g_string_append_printf (s, " | %s", st->path);
  if (st->rtt_us >= 0)
    g_string_append_printf (s, " | rtt %.1f ms", st->rtt_us / 1000.0);
  g_string_append_printf (s, " | in %s/s out %s/s | %u socket%s", in, out, st->sockets,
                          st->sockets == 1 ? "" : "s");
  return g_string_free (s, FALSE);
}
