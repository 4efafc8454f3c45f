/* SPDX-License-Identifier: MIT
 *
 * --json event lines and the status line: exact output, and escaping of
 * hostile strings (terminal escapes, bidi overrides, invalid UTF-8).
 */
#include "app/pp-events.h"

#include <string.h>

/* 2026-11-25T18:00:00.250Z */
#define T0 (G_GINT64_CONSTANT (1795629600) * G_USEC_PER_SEC + 250000)

static void
test_line (void)
{
  PpJsonEvent *ev = pp_event_new ("socket-closed", T0);
  g_autofree char *line = NULL;

  pp_event_add_int (ev, "id", 7);
  pp_event_add_string (ev, "reason", "reset");
  pp_event_add_double (ev, "rtt_ms", 1.25);
  pp_event_add_bool (ev, "direct", TRUE);
  pp_event_add_string (ev, "name", NULL);
  line = pp_event_finish (ev);
  g_assert_cmpstr (line, ==,
                   "{\"event\":\"socket-closed\",\"time\":\"2026-11-25T18:00:00.250Z\","
                   "\"id\":7,\"reason\":\"reset\",\"rtt_ms\":1.250,\"direct\":true,"
                   "\"name\":null}\n");
}

typedef struct
{
  const char *in;
  size_t len;
  const char *out;
} EscapeCase;

static void
test_escape (void)
{
  static const EscapeCase cases[] = {
    { "plain", 5, "plain" },
    { "q\"b\\", 4, "q\\\"b\\\\" },
    { "\x1b[2Jcode 123 456\n", 17, "\\u001b[2Jcode 123 456\\u000a" },
    { "caf\xc3\xa9", 5, "caf\xc3\xa9" },
    { "\xff\xfe" "a", 3, "\\ufffd\\ufffda" },
    { "a\xe2\x80\xae" "b", 5, "a\\u202eb" },           /* right-to-left override */
    { "nul\0x", 5, "nul\\u0000x" },
    { "\xc2\x9b" "c", 3, "\\u009bc" },              /* C1 CSI */
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GString) s = g_string_new (NULL);

      pp_json_escape_append (s, (const uint8_t *) cases[i].in, cases[i].len);
      g_assert_cmpstr (s->str, ==, cases[i].out);
    }
}

static void
test_bytes (void)
{
  static const struct { double v; const char *s; } cases[] = {
    { 0, "0 B" }, { 999, "999 B" }, { 1000, "1.0 kB" }, { 1234567, "1.2 MB" },
    { 125e6, "125.0 MB" }, { 2.5e9, "2.5 GB" }, { 7e15, "7000.0 TB" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *s = pp_format_bytes (cases[i].v);
      g_assert_cmpstr (s, ==, cases[i].s);
    }
}

static void
test_status (void)
{
  PpStatus st = { "open", "direct udp 192.0.2.1:5000 <-> 198.51.100.7:6000", 1234, 12.3e6,
                  1000, 3 };
  g_autofree char *a = pp_status_format (&st);
  g_autofree char *b = NULL;

  g_assert_cmpstr (a, ==, "open | direct udp 192.0.2.1:5000 <-> 198.51.100.7:6000 | rtt 1.2 ms"
                          " | in 12.3 MB/s out 1.0 kB/s | 3 sockets");
  st.state = "connecting";
  st.path = NULL;
  st.rtt_us = -1;
  st.rate_in = st.rate_out = 0;
  st.sockets = 1;
  b = pp_status_format (&st);
  g_assert_cmpstr (b, ==, "connecting | in 0 B/s out 0 B/s | 1 socket");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/events/json/line", test_line);
  g_test_add_func ("/events/json/escape", test_escape);
  g_test_add_func ("/events/status/bytes", test_bytes);
  g_test_add_func ("/events/status/line", test_status);
  return g_test_run ();
}
