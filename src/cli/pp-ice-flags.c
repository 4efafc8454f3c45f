/* SPDX-License-Identifier: MIT
 *
 * pp-ice-flags: STUN/TURN URIs and --window for `host` and `join`.  Parsing
 * is strict and its errors name the flag, the value (a TURN password is
 * masked) and the expected form; names are resolved before anything reaches
 * libnice, on a private main context so no other source runs meanwhile.  It
 * must not keep state beyond the flags it was given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <gio/gio.h>

#include "app/pp-session.h"
#include "cli/pp-ice-flags.h"

#define STUN_FORM "stun:HOST[:PORT] or none"
#define TURN_FORM "turn:USER:PASS@HOST[:PORT][?transport=tcp]"

typedef struct
{
  char *host;              /* as given, without brackets */
  guint port;
  char *addr;              /* numeric, once resolved */
  char *user, *pass;       /* TURN only */
  gboolean tcp;            /* TURN over TCP */
  gboolean is_default;     /* the signaling server's STUN: failing to resolve is fine */
  GError *lookup_error;
} Server;

struct PpIceFlags
{
  GPtrArray *stun;         /* of Server * */
  GPtrArray *turn;
  gboolean stun_none;
  PpWebrtcTurn *cfg_turn;
};

static void
server_free (gpointer p)
{
  Server *s = p;

  g_free (s->host);
  g_free (s->addr);
  g_free (s->user);
  if (s->pass != NULL)
    memset (s->pass, 0, strlen (s->pass));
  g_free (s->pass);
  g_clear_error (&s->lookup_error);
  g_free (s);
}

void
pp_ice_flags_free (PpIceFlags *f)
{
  if (f == NULL)
    return;
  g_ptr_array_unref (f->stun);
  g_ptr_array_unref (f->turn);
  g_free (f->cfg_turn);
  g_free (f);
}

/* The value as shown in an error: escaped, a TURN password replaced by ***. */
static char *
shown (const char *text)
{
  g_autofree char *masked = NULL;
  const char *at = strrchr (text, '@');
  const char *colon = strchr (text, ':');

  if (at != NULL && colon != NULL && colon < at)
    {
      const char *pass = strchr (colon + 1, ':');

      if (pass != NULL && pass < at)
        masked = g_strdup_printf ("%.*s***%s", (int) (pass + 1 - text), text, at);
    }
  return pp_session_escape (masked != NULL ? masked : text);
}

static gboolean
bad (GError **error, const char *flag, const char *text, const char *why)
{
  g_autofree char *s = shown (text);

  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "bad %s \"%s\": %s", flag, s,
               why);
  return FALSE;
}

static gboolean
host_char_ok (char c)
{
  return g_ascii_isalnum (c) || c == '.' || c == '-' || c == '_';
}

static gboolean
parse_port (const char *p, guint *port)
{
  guint64 v = 0;

  if (*p == '\0' || strlen (p) > 5)
    return FALSE;
  for (; *p != '\0'; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      v = v * 10 + (guint64) (*p - '0');
    }
  if (v == 0 || v > 65535)
    return FALSE;
  *port = (guint) v;
  return TRUE;
}

/* HOST[:PORT] or [V6][:PORT] → host without brackets and port; *why on error. */
static gboolean
parse_hostport (const char *text, char **host, guint *port, const char **why)
{
  const char *end, *colon;

  *port = PP_ICE_DEFAULT_PORT;
  if (text[0] == '[')
    {
      end = strchr (text, ']');
      if (end == NULL || end == text + 1)
        return *why = "unclosed or empty [", FALSE;
      *host = g_strndup (text + 1, (gsize) (end - text - 1));
      if (!g_hostname_is_ip_address (*host) || strchr (*host, ':') == NULL)
        return *why = "only an IPv6 address goes in brackets", FALSE;
      if (end[1] == '\0')
        return TRUE;
      if (end[1] != ':' || !parse_port (end + 2, port))
        return *why = "the port must be 1 to 65535", FALSE;
      return TRUE;
    }
  colon = strchr (text, ':');
  if (colon != NULL && strchr (colon + 1, ':') != NULL)
    return *why = "an IPv6 address goes in brackets: [ADDR]:PORT", FALSE;
  *host = g_strndup (text, colon != NULL ? (gsize) (colon - text) : strlen (text));
  if ((*host)[0] == '\0' || strlen (*host) > 253)
    return *why = "the host is empty or too long", FALSE;
  for (const char *p = *host; *p != '\0'; p++)
    if (!host_char_ok (*p))
      return *why = "the host must be a name or an address", FALSE;
  if (colon != NULL && !parse_port (colon + 1, port))
    return *why = "the port must be 1 to 65535", FALSE;
  return TRUE;
}

static gboolean
scheme_is (const char *text, const char *scheme)
{
  return g_ascii_strncasecmp (text, scheme, strlen (scheme)) == 0;
}

static gboolean
add_stun (PpIceFlags *f, const char *text, const char *flag, GError **error)
{
  Server *s;
  const char *why = "expected " STUN_FORM;

  if (g_ascii_strcasecmp (text, "none") == 0)
    {
      f->stun_none = TRUE;
      return TRUE;
    }
  if (scheme_is (text, "stuns:"))
    return bad (error, flag, text, "stuns: (STUN over TLS) is not supported; use stun:");
  if (!scheme_is (text, "stun:"))
    return bad (error, flag, text, "expected " STUN_FORM);
  s = g_new0 (Server, 1);
  if (!parse_hostport (text + 5, &s->host, &s->port, &why))
    {
      server_free (s);
      return bad (error, flag, text, why);
    }
  g_ptr_array_add (f->stun, s);
  return TRUE;
}

/* "transport=tcp" or "transport=udp" after the '?'. */
static gboolean
parse_turn_query (const char *q, gboolean *tcp)
{
  if (g_ascii_strcasecmp (q, "transport=tcp") == 0)
    return *tcp = TRUE, TRUE;
  if (g_ascii_strcasecmp (q, "transport=udp") == 0)
    return *tcp = FALSE, TRUE;
  return FALSE;
}

/* USER:PASS (percent-encoding allowed, for ':' or '@' inside them). */
static gboolean
parse_userinfo (const char *text, gsize len, Server *s)
{
  g_autofree char *info = g_strndup (text, len);
  char *colon = strchr (info, ':');

  if (colon == NULL || colon == info)
    return FALSE;
  *colon = '\0';
  s->user = g_uri_unescape_string (info, NULL);
  s->pass = g_uri_unescape_string (colon + 1, NULL);
  return s->user != NULL && s->pass != NULL && s->user[0] != '\0';
}

static gboolean
add_turn (PpIceFlags *f, const char *text, const char *flag, GError **error)
{
  g_autofree char *hostport = NULL;
  const char *rest, *at, *q, *why = "expected " TURN_FORM;
  Server *s;

  if (scheme_is (text, "turns:"))
    return bad (error, flag, text, "turns: (TURN over TLS) is not supported; use turn:");
  if (!scheme_is (text, "turn:"))
    return bad (error, flag, text, "expected " TURN_FORM);
  rest = text + 5;
  at = strrchr (rest, '@');
  if (at == NULL)
    return bad (error, flag, text, "expected " TURN_FORM);
  s = g_new0 (Server, 1);
  q = strchr (at, '?');
  hostport = g_strndup (at + 1, q != NULL ? (gsize) (q - at - 1) : strlen (at + 1));
  if (!parse_userinfo (rest, (gsize) (at - rest), s))
    why = "expected " TURN_FORM " (USER must not be empty)";
  else if (!parse_hostport (hostport, &s->host, &s->port, &why))
    ;
  else if (q != NULL && !parse_turn_query (q + 1, &s->tcp))
    why = "the only parameter is ?transport=tcp or ?transport=udp";
  else
    {
      g_ptr_array_add (f->turn, s);
      return TRUE;
    }
  server_free (s);
  return bad (error, flag, text, why);
}

typedef gboolean (*AddFunc) (PpIceFlags *f, const char *text, const char *flag, GError **error);

/* The flag's values, or else the variable's comma-separated list. */
static gboolean
add_all (PpIceFlags *f, char **values, const char *flag, const char *var, AddFunc add,
         GError **error)
{
  g_auto (GStrv) env = NULL;
  g_autofree char *what = NULL;

  if (values != NULL && values[0] != NULL)
    {
      for (guint i = 0; values[i] != NULL; i++)
        if (!add (f, values[i], flag, error))
          return FALSE;
      return TRUE;
    }
  if (g_getenv (var) == NULL)
    return TRUE;
  env = g_strsplit (g_getenv (var), ",", -1);
  what = g_strdup_printf ("%s entry", var);
  for (guint i = 0; env[i] != NULL; i++)
    {
      g_strstrip (env[i]);
      if (env[i][0] != '\0' && !add (f, env[i], what, error))
        return FALSE;
    }
  return TRUE;
}

PpIceFlags *
pp_ice_flags_new (char **stun, char **turn, GError **error)
{
  g_autoptr (PpIceFlags) f = g_new0 (PpIceFlags, 1);

  f->stun = g_ptr_array_new_with_free_func (server_free);
  f->turn = g_ptr_array_new_with_free_func (server_free);
  if (!add_all (f, stun, "--stun", "PEERPORT_STUN", add_stun, error)
      || !add_all (f, turn, "--turn", "PEERPORT_TURN", add_turn, error))
    return NULL;
  if (f->stun_none && f->stun->len > 0)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--stun none cannot be combined with a STUN server");
      return NULL;
    }
  return g_steal_pointer (&f);
}

typedef struct
{
  guint pending;
  gboolean timed_out;
  GCancellable *cancel;
} Lookups;

typedef struct
{
  Lookups *all;
  Server *s;
} Lookup;

/* The first IPv4 address, else the first: STUN/TURN servers mostly speak v4. */
static char *
pick_address (GList *addrs)
{
  for (GList *l = addrs; l != NULL; l = l->next)
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      return g_inet_address_to_string (l->data);
  return addrs != NULL ? g_inet_address_to_string (addrs->data) : NULL;
}

static void
lookup_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Lookup *l = user_data;
  GList *addrs = g_resolver_lookup_by_name_finish (G_RESOLVER (src), res, &l->s->lookup_error);

  l->s->addr = pick_address (addrs);
  g_resolver_free_addresses (addrs);
  l->all->pending--;
  g_free (l);
}

static gboolean
lookup_timeout_cb (gpointer user_data)
{
  Lookups *all = user_data;

  all->timed_out = TRUE;
  g_cancellable_cancel (all->cancel);
  return G_SOURCE_REMOVE;
}

static void
start_lookups (GPtrArray *servers, GResolver *r, Lookups *all)
{
  for (guint i = 0; i < servers->len; i++)
    {
      Server *s = g_ptr_array_index (servers, i);
      Lookup *l;

      if (s->addr != NULL)
        continue;
      if (g_hostname_is_ip_address (s->host))
        {
          s->addr = g_strdup (s->host);
          continue;
        }
      l = g_new0 (Lookup, 1);
      l->all = all;
      l->s = s;
      all->pending++;
      g_resolver_lookup_by_name_async (r, s->host, all->cancel, lookup_cb, l);
    }
}

static gboolean
check_lookups (GPtrArray *servers, const char *what, gboolean timed_out, GError **error)
{
  for (guint i = 0; i < servers->len; i++)
    {
      Server *s = g_ptr_array_index (servers, i);
      g_autofree char *host = NULL;

      if (s->addr != NULL || s->is_default)
        continue;
      host = pp_session_escape (s->host);
      g_set_error (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
                   "%s server %s: %s", what, host,
                   timed_out && g_error_matches (s->lookup_error, G_IO_ERROR,
                                                 G_IO_ERROR_CANCELLED)
                   ? "the name did not resolve within 5 s"
                   : s->lookup_error != NULL ? s->lookup_error->message
                   : "no address");
      return FALSE;
    }
  return TRUE;
}

static void
add_default_stun (PpIceFlags *f, const char *host, guint port)
{
  Server *s;

  if (host == NULL || f->stun_none || f->stun->len > 0)
    return;
  s = g_new0 (Server, 1);
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    s->host = g_strndup (host + 1, strlen (host) - 2);
  else
    s->host = g_strdup (host);
  s->port = port != 0 ? port : PP_ICE_DEFAULT_PORT;
  s->is_default = TRUE;
  g_ptr_array_add (f->stun, s);
}

gboolean
pp_ice_flags_resolve (PpIceFlags *f, const char *default_stun_host, guint default_stun_port,
                      GError **error)
{
  g_autoptr (GMainContext) ctx = g_main_context_new ();
  g_autoptr (GResolver) r = NULL;
  Lookups all = { 0 };
  GSource *timeout;

  add_default_stun (f, default_stun_host, default_stun_port);
  g_main_context_push_thread_default (ctx);
  r = g_resolver_get_default ();
  all.cancel = g_cancellable_new ();
  start_lookups (f->stun, r, &all);
  start_lookups (f->turn, r, &all);
  timeout = g_timeout_source_new (PP_ICE_RESOLVE_TIMEOUT_MS);
  g_source_set_callback (timeout, lookup_timeout_cb, &all, NULL);
  g_source_attach (timeout, ctx);
  while (all.pending > 0)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  g_object_unref (all.cancel);
  g_main_context_pop_thread_default (ctx);
  return check_lookups (f->stun, "STUN", all.timed_out, error)
         && check_lookups (f->turn, "TURN", all.timed_out, error);
}

void
pp_ice_flags_apply (PpIceFlags *f, PpWebrtcConfig *cfg)
{
  guint n = 0;

  cfg->stun_host = NULL;
  cfg->stun_port = 0;
  for (guint i = 0; i < f->stun->len && cfg->stun_host == NULL; i++)
    {
      Server *s = g_ptr_array_index (f->stun, i);

      cfg->stun_host = s->addr;
      cfg->stun_port = s->port;
    }
  g_free (f->cfg_turn);
  f->cfg_turn = g_new0 (PpWebrtcTurn, f->turn->len + 1);
  for (guint i = 0; i < f->turn->len; i++)
    {
      Server *s = g_ptr_array_index (f->turn, i);

      if (s->addr == NULL)
        continue;
      f->cfg_turn[n++] = (PpWebrtcTurn) { s->addr, s->port, s->user, s->pass, s->tcp };
    }
  cfg->turn = f->cfg_turn;
  cfg->n_turn = n;
}

static void
describe_server (GString *out, const Server *s)
{
  gboolean v6 = s->addr != NULL && strchr (s->addr, ':') != NULL;

  g_string_append_printf (out, "%s%s%s:%u", v6 ? "[" : "", s->addr != NULL ? s->addr : s->host,
                          v6 ? "]" : "", s->port);
  if (s->addr != NULL && g_strcmp0 (s->addr, s->host) != 0)
    g_string_append_printf (out, " (%s)", s->host);
}

char *
pp_ice_flags_describe (PpIceFlags *f)
{
  GString *out = g_string_new (NULL);
  const Server *stun = NULL;

  for (guint i = 0; i < f->stun->len && stun == NULL; i++)
    if (((Server *) g_ptr_array_index (f->stun, i))->addr != NULL)
      stun = g_ptr_array_index (f->stun, i);
  if (stun != NULL)
    {
      g_string_append (out, "STUN ");
      describe_server (out, stun);
    }
  for (guint i = 0; i < f->turn->len; i++)
    {
      const Server *s = g_ptr_array_index (f->turn, i);

      if (s->addr == NULL)
        continue;
      g_string_append (out, out->len > 0 ? ", TURN " : "TURN ");
      describe_server (out, s);
      g_string_append (out, s->tcp ? "/tcp" : "/udp");
    }
  if (out->len == 0)
    g_string_append (out, "no STUN or TURN server");
  return g_string_free (out, FALSE);
}

gboolean
pp_ice_flags_has_turn (PpIceFlags *f)
{
  return f->turn->len > 0;
}

static gboolean
window_error (GError **error, const char *text, const char *why)
{
  g_autofree char *s = pp_session_escape (text);

  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "bad --window \"%s\": %s", s,
               why);
  return FALSE;
}

/* The multiplier of a suffix (case-insensitive), 0 when unknown. */
static guint64
window_unit (const char *suffix)
{
  static const struct { const char *name; guint64 mult; } units[] = {
    { "", 1 }, { "b", 1 }, { "k", 1024 }, { "kib", 1024 }, { "m", 1024 * 1024 },
    { "mib", 1024 * 1024 }, { "g", 1024 * 1024 * 1024 }, { "gib", 1024 * 1024 * 1024 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (g_ascii_strcasecmp (suffix, units[i].name) == 0)
      return units[i].mult;
  return 0;
}

gboolean
pp_parse_window (const char *text, uint32_t *out, GError **error)
{
  guint64 v = 0, mult;
  const char *p = text;

  for (; g_ascii_isdigit (*p); p++)
    {
      if (v > G_MAXUINT32)
        return window_error (error, text, "too large (at most 128 MiB)");
      v = v * 10 + (guint64) (*p - '0');
    }
  if (p == text)
    return window_error (error, text, "expected BYTES, e.g. 1048576, 512K or 4MiB");
  mult = window_unit (p);
  if (mult == 0)
    return window_error (error, text, "the suffix must be K, M, KiB or MiB");
  if (v > G_MAXUINT32 || v * mult > PP_WINDOW_MAX)
    return window_error (error, text, "too large (at most 128 MiB)");
  if (v * mult < PP_WINDOW_MIN)
    return window_error (error, text, "too small (at least 4 KiB: peers refuse less)");
  *out = (uint32_t) (v * mult);
  return TRUE;
}
