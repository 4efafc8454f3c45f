/* SPDX-License-Identifier: MIT
 *
 * pp-cmd-join: `peerport join URL|ID` — open the -L/--map listeners, join
 * the session with a commitment (the URL's pin checked), reveal, show the
 * verification code while the host decides, answer the offer and run the
 * tunnel in client role.  Listeners accept only once the channel is open
 * (pp-tunnel's job).  The console and `peerport ctl` change the mappings at
 * runtime; pp-status shows the live line or the `stats` events.  This file
 * only sequences; it holds no protocol logic.
 */
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#include "app/pp-console.h"
#include "app/pp-session.h"
#include "app/pp-status.h"
#include "app/pp-tcp.h"
#include "cli/pp-cli.h"
#include "cli/pp-ice-flags.h"
#include "core/pp-mappings.h"
#include "signal/pp-signal-client.h"
#include "transport/webrtc/pp-webrtc-transport.h"

static const char join_help[] =
  "Usage: peerport join URL|ID [OPTIONS]\n"
  "\n"
  "Join a session a host created ('peerport host' printed the URL) and reach\n"
  "its services through local listeners.  The join URL pins the host: a link\n"
  "that leads to another host is refused.  Compare the verification code shown\n"
  "here with the host's before it accepts.\n"
  "\n"
  "Options:\n"
  "  -L, --map MAPPING  listen locally and carry each connection to the host's\n"
  "                     side: [LADDR:]LPORT=>HOST:PORT, e.g. 8080=>127.0.0.1:80\n"
  "                     or ssh's [LADDR:]LPORT:HOST:PORT (repeatable; LADDR\n"
  "                     defaults to 127.0.0.1; LPORT 0 picks a free port)\n"
  "  --signal URL       the signaling server when an ID is given instead of a\n"
  "                     URL (default $PEERPORT_SIGNAL)\n"
  "  --stun URI|none    a STUN server, stun:HOST[:PORT] (repeatable; default\n"
  "                     $PEERPORT_STUN, comma-separated, else the signaling\n"
  "                     server's own STUN on its port; 'none' turns STUN off)\n"
  "  --turn URI         a TURN relay, turn:USER:PASS@HOST[:PORT][?transport=tcp]\n"
  "                     (repeatable; default $PEERPORT_TURN, comma-separated)\n"
  "  --window BYTES     receive window per connection (e.g. 4M; default 1M;\n"
  "                     the session gets 16 times that)\n"
  "  --name NAME        the name the host sees (default: this machine's name)\n"
  "  --json             one JSON event per line on stdout (docs/events.md),\n"
  "                     with a 'stats' event every second once open\n"
  "  -h, --help         show this help\n"
  "\n"
  "Mappings: each one listens at once; connections made before the tunnel is\n"
  "open wait in the listen queue.  A mapping that cannot listen (port in use,\n"
  "a port below 1024 without root or CAP_NET_BIND_SERVICE) is reported and\n"
  "the others go on; when none of the -L mappings can listen, join exits 69.\n"
  "A malformed mapping is a usage error (64).\n"
  "\n"
  "Console: on a terminal, type commands while the session runs; from\n"
  "anywhere, 'peerport ctl [--instance join-PID] COMMAND' does the same:\n"
  "  map MAPPING        listen on one more mapping\n"
  "  unmap MAPPING|#ID  close a mapping's listener and reset its connections\n"
  "  maps               list the mappings with their ids and ports\n"
  "  status             state, path, round trip, rates, sockets\n"
  "  conns              the open connections\n"
  "  quit               end the session (exit 0)\n"
  "  help               this list\n"
  "On a terminal a status line shows the state, the path (direct or relayed),\n"
  "the round trip, the rates in and out and the sockets (not with --json).\n"
  "\n"
  "Examples:\n"
  "  peerport join 'http://signal.example:8080/session/ID#h=PIN' -L 8080=>127.0.0.1:80\n"
  "  peerport join ID --signal http://signal.example:8080 -L 2222:127.0.0.1:22\n"
  "  peerport ctl map 0.0.0.0:8443=>intranet.example:443\n"
  "\n"
  "Ctrl-C, SIGTERM or 'quit' ends the session (the host is told).  Exit status:\n"
  "0 after Ctrl-C/SIGTERM/quit, 64 usage (bad option, URL, mapping, --stun,\n"
  "--turn or --window), 68 unknown or expired session (or already taken), 69\n"
  "host, path, STUN/TURN name or every -L listening address unavailable, or\n"
  "the host ended the session, 76 protocol error or pin mismatch, 77 the host\n"
  "declined.\n";

typedef struct
{
  char *signal;
  char **maps;
  char **maps_long;
  char **stun, **turn;
  char *window;
  char *name;
  gboolean json, help;
  char *target;
  PpIceFlags *ice;
  uint32_t window_bytes;   /* 0: the default */
} Flags;

typedef struct
{
  PpSession s;
  Flags *f;
  char *name;              /* ours, as the other side sees it */
  PpSignalClient *client;
  PpTransport *t;
  char *base, *id, *pin;
  char *host;              /* escaped name of the host */
  PpConsole *console;      /* NULL when the control socket failed */
  PpStatusTicker *status;
  guint quit_idle;
} Join;

static void join_state (Join *j, const char *state, const char *detail);

static void
flags_clear (Flags *f)
{
  g_free (f->signal);
  g_strfreev (f->maps);
  g_strfreev (f->maps_long);
  g_strfreev (f->stun);
  g_strfreev (f->turn);
  g_free (f->window);
  g_free (f->name);
  g_free (f->target);
  g_clear_pointer (&f->ice, pp_ice_flags_free);
}

/* A malformed -L is a usage error before anything starts. */
static gboolean
join_check_maps (char **maps, GError **error)
{
  for (guint i = 0; maps != NULL && maps[i] != NULL; i++)
    {
      PpMapping m = { 0 };
      g_autoptr (GError) err = NULL;

      if (!pp_mapping_parse (maps[i], &m, &err))
        return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "-L %s: %s",
                            maps[i], err->message), FALSE;
      pp_mapping_clear (&m);
    }
  return TRUE;
}

static gboolean
parse_flags (int argc, char **argv, Flags *f, GError **error)
{
  GOptionEntry entries[] = {
    { "signal", 0, 0, G_OPTION_ARG_STRING, &f->signal, NULL, NULL },
    { "local", 'L', 0, G_OPTION_ARG_STRING_ARRAY, &f->maps, NULL, NULL },
    { "map", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->maps_long, NULL, NULL },
    { "stun", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->stun, NULL, NULL },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->turn, NULL, NULL },
    { "window", 0, 0, G_OPTION_ARG_STRING, &f->window, NULL, NULL },
    { "name", 0, 0, G_OPTION_ARG_STRING, &f->name, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &f->json, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &f->help, NULL, NULL },
    { NULL },
  };
  if (!pp_cli_parse_options (&argc, &argv, entries, error))
    return FALSE;
  if (f->help)
    return TRUE;
  if (argc < 2)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "the join URL (or an ID with --signal) is missing"), FALSE;
  if (argc > 2)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "unexpected argument '%s'", argv[2]), FALSE;
  f->target = g_strdup (argv[1]);
  if (f->signal == NULL && g_getenv ("PEERPORT_SIGNAL") != NULL)
    f->signal = g_strdup (g_getenv ("PEERPORT_SIGNAL"));
  if (f->window != NULL && !pp_parse_window (f->window, &f->window_bytes, error))
    return FALSE;
  f->ice = pp_ice_flags_new (f->stun, f->turn, error);
  return f->ice != NULL && join_check_maps (f->maps, error)
         && join_check_maps (f->maps_long, error);
}

static gboolean
join_check (Join *j, GError *error, const char *what)
{
  if (error == NULL)
    return TRUE;
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    pp_session_fail (&j->s, pp_cli_signal_exit_code (error), "%s: %s", what, error->message);
  g_error_free (error);
  return FALSE;
}

static void
join_answer_sent_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Join *j = user_data;
  GError *error = NULL;

  pp_signal_client_send_finish (j->client, res, &error);
  if (!join_check (j, error, "sending the answer"))
    return;
  join_state (j, "connecting", "");
  pp_session_say (&j->s, "peerport: join: the host accepted; connecting…");
}

static void
join_description_cb (PpTransport *t, const char *sdp, gpointer user_data)
{
  Join *j = user_data;

  if (j->s.ending)
    return;
  pp_signal_client_sdp_async (j->client, sdp, NULL, j->s.cancel, join_answer_sent_cb, j);
}

static void
join_offer_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Join *j = user_data;
  GError *error = NULL;
  g_autoptr (PpSignalSession) ss = pp_signal_client_poll_finish (j->client, res, &error);

  if (!join_check (j, error, "waiting for the host to accept"))
    return;
  if (!pp_webrtc_transport_set_remote_description (j->t, ss->offer.sdp, &error))
    {
      pp_session_fail (&j->s, PP_EXIT_PROTOCOL, "the host's offer: %s", error->message);
      g_error_free (error);
      return;
    }
  for (guint i = 0; ss->offer.candidates != NULL && i < ss->offer.candidates->len; i++)
    pp_webrtc_transport_add_remote_candidate (j->t, g_ptr_array_index (ss->offer.candidates, i));
}

static void
join_show_code (Join *j, uint32_t code)
{
  g_autofree char *text = g_strdup_printf ("%03u %03u", code / 1000, code % 1000);
  PpJsonEvent *ev = pp_event_new ("code", g_get_real_time ());

  pp_event_add_string (ev, "code", text);
  pp_session_emit (&j->s, ev);
  join_state (j, "approving", j->host);
  pp_session_say (&j->s, "peerport: join: code %s — waiting for \"%s\" to accept (compare the "
                  "code with the host's)", text, j->host);
}

/* After the reveal the session reads "revealed": the code can be shown. */
static void
join_revealed_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Join *j = user_data;
  GError *error = NULL;
  g_autoptr (PpSignalSession) ss = pp_signal_client_poll_finish (j->client, res, &error);
  uint32_t code = 0;

  if (!join_check (j, error, "waiting for the host"))
    return;
  if (!pp_signal_client_code (j->client, ss, &code, &error))
    {
      pp_session_fail (&j->s, PP_EXIT_PROTOCOL, "%s", error->message);
      g_error_free (error);
      return;
    }
  join_show_code (j, code);
  pp_signal_client_poll_async (j->client, PP_SIGNAL_FOR_OFFER, j->s.cancel, join_offer_cb, j);
}

static void
join_reveal_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Join *j = user_data;
  GError *error = NULL;

  pp_signal_client_send_finish (j->client, res, &error);
  if (!join_check (j, error, "revealing"))
    return;
  pp_signal_client_poll_async (j->client, PP_SIGNAL_FOR_NONCE, j->s.cancel, join_revealed_cb, j);
}

static void
join_nonce_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Join *j = user_data;
  GError *error = NULL;
  PpSignalSession *ss = pp_signal_client_poll_finish (j->client, res, &error);

  g_clear_pointer (&ss, pp_signal_session_free);
  if (!join_check (j, error, "waiting for the host"))
    return;
  pp_signal_client_reveal_async (j->client, j->s.cancel, join_reveal_cb, j);
}

static void
join_joined_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Join *j = user_data;
  GError *error = NULL;
  g_autoptr (PpSignalSession) ss = pp_signal_client_join_finish (j->client, res, &error);

  if (!join_check (j, error, "joining"))
    return;
  j->host = pp_session_escape (ss->host != NULL ? ss->host : "");
  pp_session_say (&j->s, "peerport: join: joined the session of \"%s\"", j->host);
  pp_signal_client_poll_async (j->client, PP_SIGNAL_FOR_NONCE, j->s.cancel, join_nonce_cb, j);
}

static gboolean
join_target (Join *j, GError **error)
{
  const char *target = j->f->target;

  if (g_str_has_prefix (target, "http://") || g_str_has_prefix (target, "https://"))
    return pp_signal_parse_join_url (target, &j->base, &j->id, &j->pin, error);
  if (j->f->signal == NULL)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "'%s' is not a join URL; give the URL, or the ID with --signal URL",
                        target), FALSE;
  j->base = g_strdup (j->f->signal);
  j->id = g_strdup (target);
  return TRUE;
}

/* --- mappings --- */

/* What a person can do about a mapping that cannot listen. */
static char *
join_map_error (const char *text, const GError *error)
{
  PpMapping m = { 0 };
  uint16_t port = 0;

  if (pp_mapping_parse (text, &m, NULL))
    port = m.listen_port;
  pp_mapping_clear (&m);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED) && port != 0
      && port < 1024)
    return g_strdup_printf ("port %u is privileged: run as root (or with "
                            "CAP_NET_BIND_SERVICE), pick a port ≥ 1024, or lower sysctl "
                            "net.ipv4.ip_unprivileged_port_start", port);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
    return g_strdup_printf ("%s: pick another port (0 picks a free one)", error->message);
  return g_strdup (error->message);
}

static void
join_emit_mapping (Join *j, const char *action, guint id, const char *display, uint16_t port,
                   guint closed)
{
  PpJsonEvent *ev = pp_event_new ("mapping", g_get_real_time ());

  pp_event_add_string (ev, "action", action);
  pp_event_add_int (ev, "id", id);
  pp_event_add_string (ev, "mapping", display);
  if (port != 0)
    pp_event_add_int (ev, "port", port);
  if (g_str_equal (action, "removed"))
    pp_event_add_int (ev, "closed", closed);
  pp_session_emit (&j->s, ev);
}

static const char *
join_display (PpTcpClient *cl, guint id)
{
  const char *display = "";
  guint mid = 0;

  for (guint i = 0; pp_tcp_client_nth_mapping (cl, i, &mid, &display); i++)
    if (mid == id)
      return display;
  return "";
}

/* Listens on @text; returns its id, or 0 with *@why (owned) for a person. */
static guint
join_map (Join *j, const char *text, char **why)
{
  g_autoptr (GError) error = NULL;
  PpTcpClient *cl = pp_tunnel_get_client (j->s.tun);
  guint id = pp_tunnel_add_mapping (j->s.tun, text, &error);

  if (id == 0)
    {
      *why = join_map_error (text, error);
      return 0;
    }
  join_emit_mapping (j, "added", id, join_display (cl, id), pp_tcp_client_get_port (cl, id), 0);
  return id;
}

/* Startup: a mapping that cannot listen is said and skipped (the caller
 * counts how many listen). */
static void
join_add_maps (Join *j, char **maps, guint *n_tried, guint *n_ok)
{
  PpTcpClient *cl = pp_tunnel_get_client (j->s.tun);

  for (guint i = 0; maps != NULL && maps[i] != NULL; i++)
    {
      g_autofree char *why = NULL;
      guint id = join_map (j, maps[i], &why);

      (*n_tried)++;
      if (id == 0)
        {
          pp_session_warn (&j->s, PP_EXIT_UNAVAILABLE, "-L %s: %s", maps[i], why);
          continue;
        }
      (*n_ok)++;
      pp_session_say (&j->s, "peerport: join: %s: listening on port %u (connections wait "
                      "until the tunnel is open)", maps[i], pp_tcp_client_get_port (cl, id));
    }
}

/* --- console commands --- */

static gboolean
join_cmd_map (Join *j, const char *arg, GString *reply)
{
  g_autofree char *why = NULL;
  PpTcpClient *cl = pp_tunnel_get_client (j->s.tun);
  guint id = join_map (j, arg, &why);

  if (id == 0)
    {
      g_string_append_printf (reply, "%s: %s\n", arg, why);
      return FALSE;
    }
  g_string_append_printf (reply, "#%u %s: listening on port %u\n", id, join_display (cl, id),
                          pp_tcp_client_get_port (cl, id));
  return TRUE;
}

static gboolean
join_cmd_unmap (Join *j, const char *arg, GString *reply)
{
  g_autoptr (GError) error = NULL;
  PpTcpClient *cl = pp_tunnel_get_client (j->s.tun);
  g_autofree char *display = NULL;
  guint n = 0, id = 0;
  const char *d = NULL;

  /* Name it before it goes: find it among the listed ones by id or text. */
  for (guint i = 0; pp_tcp_client_nth_mapping (cl, i, &id, &d); i++)
    {
      g_autofree char *hash = g_strdup_printf ("#%u", id);

      if (g_str_equal (hash, arg))
        display = g_strdup (d);
    }
  if (!pp_tcp_client_remove_mapping (cl, arg, &n, &error))
    {
      g_string_append_printf (reply, "%s: %s\n", arg, error->message);
      return FALSE;
    }
  join_emit_mapping (j, "removed", 0, display != NULL ? display : arg, 0, n);
  g_string_append_printf (reply, "unmapped %s; %u connection%s reset\n",
                          display != NULL ? display : arg, n, n == 1 ? "" : "s");
  return TRUE;
}

static gboolean
join_cmd_maps (Join *j, GString *reply)
{
  PpTcpClient *cl = pp_tunnel_get_client (j->s.tun);
  const char *display = NULL;
  guint id = 0;

  if (pp_tcp_client_count_mappings (cl) == 0)
    g_string_append (reply, "no mappings; add one with: map [LADDR:]LPORT=>HOST:PORT\n");
  for (guint i = 0; pp_tcp_client_nth_mapping (cl, i, &id, &display); i++)
    g_string_append_printf (reply, "#%u %s (port %u)\n", id, display,
                            pp_tcp_client_get_port (cl, id));
  return TRUE;
}

static void
join_conn_line_cb (PpMuxConn *mc, gpointer user_data)
{
  GString *reply = user_data;
  g_autofree char *tuple = pp_tuple_to_string (pp_mux_conn_get_tuple (mc));
  PpTcpConn *c = pp_mux_conn_get_user_data (mc);
  uint64_t from_app = 0, to_app = 0;
  g_autofree char *sent = NULL;
  g_autofree char *got = NULL;
  g_autofree char *name = NULL;

  if (c != NULL)
    pp_tcp_conn_get_counts (c, &from_app, &to_app);
  sent = pp_format_bytes ((double) from_app);
  got = pp_format_bytes ((double) to_app);
  if (pp_mux_conn_get_name (mc) != NULL)
    name = pp_session_escape (pp_mux_conn_get_name (mc));
  g_string_append_printf (reply, "%s%s%s%s  %s  sent %s  received %s\n", tuple,
                          name != NULL ? " (" : "", name != NULL ? name : "",
                          name != NULL ? ")" : "",
                          pp_mux_conn_state_name (pp_mux_conn_get_state (mc)), sent, got);
}

static gboolean
join_cmd_conns (Join *j, GString *reply)
{
  gsize before = reply->len;

  pp_mux_foreach_conn (pp_tunnel_get_mux (j->s.tun), join_conn_line_cb, reply);
  if (reply->len == before)
    g_string_append (reply, "no connections\n");
  return TRUE;
}

static gboolean
join_cmd_status (Join *j, GString *reply)
{
  PpTcpClient *cl = pp_tunnel_get_client (j->s.tun);

  if (j->host != NULL)
    g_string_append_printf (reply, "host: %s\n", j->host);
  pp_status_ticker_describe (j->status, reply);
  g_string_append_printf (reply, "mappings: %u\n", pp_tcp_client_count_mappings (cl));
  return TRUE;
}

static gboolean
join_quit_cb (gpointer user_data)
{
  Join *j = user_data;

  j->quit_idle = 0;
  pp_session_say (&j->s, "peerport: join: quit: ending the session");
  pp_session_end (&j->s, PP_EXIT_OK);
  return G_SOURCE_REMOVE;
}

static gboolean
join_command_cb (const PpCommand *cmd, GString *reply, gpointer user_data)
{
  Join *j = user_data;

  switch (cmd->kind)
    {
    case PP_COMMAND_MAP:
      return join_cmd_map (j, cmd->arg, reply);
    case PP_COMMAND_UNMAP:
      return join_cmd_unmap (j, cmd->arg, reply);
    case PP_COMMAND_MAPS:
      return join_cmd_maps (j, reply);
    case PP_COMMAND_STATUS:
      return join_cmd_status (j, reply);
    case PP_COMMAND_CONNS:
      return join_cmd_conns (j, reply);
    case PP_COMMAND_QUIT:
      /* After the answer is on its way: ending frees nothing the console needs. */
      if (j->quit_idle == 0)
        j->quit_idle = g_idle_add (join_quit_cb, j);
      g_string_append (reply, "ending the session\n");
      return TRUE;
    case PP_COMMAND_NONE:
    case PP_COMMAND_HELP:
    case PP_COMMAND_ALLOW:
    case PP_COMMAND_DENY:
    case PP_COMMAND_RULES:
    case PP_COMMAND_INVITE:
      break;
    }
  g_string_append (reply, "not a join command (type help)\n");
  return FALSE;
}

/* --- start and end --- */

static void
join_state (Join *j, const char *state, const char *detail)
{
  pp_session_state (&j->s, state, detail);
  if (j->status != NULL)
    pp_status_ticker_set_state (j->status, state);
}

/* The signaling server's STUN is the default (same host, same port). */
static gboolean
join_resolve_ice (Join *j, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (j->base, G_URI_FLAGS_NONE, NULL);
  const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;
  int port = uri != NULL ? g_uri_get_port (uri) : -1;

  if (port <= 0 && uri != NULL)
    port = g_str_equal (g_uri_get_scheme (uri), "https") ? 443 : 80;
  return pp_ice_flags_resolve (j->f->ice, host, port > 0 ? (guint) port : 0, error);
}

static void
join_console_start (Join *j)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("join-%d", (int) getpid ());

  j->console = pp_console_new (name, PP_COMMAND_ROLE_CLIENT, join_command_cb, j, &error);
  if (j->console == NULL)
    pp_session_warn (&j->s, PP_EXIT_UNAVAILABLE,
                     "no control socket (%s); 'peerport ctl' cannot reach this join",
                     error->message);
  j->status = pp_status_ticker_new (j->console, &j->s);
}

static PpTunnel *
join_tunnel_new (Join *j, PpEpoll *ep)
{
  PpMuxConfig mcfg;

  pp_mux_config_init (&mcfg);
  mcfg.name = j->name;
  if (j->f->window_bytes != 0)
    {
      mcfg.socket_window = j->f->window_bytes;
      mcfg.session_window = 16 * j->f->window_bytes;
    }
  return pp_tunnel_new (j->t, PP_MUX_ROLE_CLIENT, &mcfg, ep);
}

static gboolean
join_start (Join *j, PpEpoll *ep, GError **error)
{
  PpWebrtcConfig cfg;
  PpTunnel *tun;
  guint n_tried = 0, n_ok = 0;

  j->client = pp_signal_client_new (j->base, error);
  if (j->client == NULL || !join_resolve_ice (j, error))
    return FALSE;
  pp_webrtc_config_init (&cfg);
  cfg.role = PP_WEBRTC_ANSWERER;
  pp_ice_flags_apply (j->f->ice, &cfg);
  j->t = pp_webrtc_transport_new (&cfg, join_description_cb, j, error);
  if (j->t == NULL)
    return FALSE;
  tun = join_tunnel_new (j, ep);
  pp_session_attach (&j->s, tun);
  join_console_start (j);
  pp_status_ticker_add_tunnel (j->status, tun, NULL);
  join_add_maps (j, j->f->maps, &n_tried, &n_ok);
  join_add_maps (j, j->f->maps_long, &n_tried, &n_ok);
  if (n_tried > 0 && n_ok == 0)
    {
      pp_session_fail (&j->s, PP_EXIT_UNAVAILABLE, "none of the %u mapping%s can listen",
                       n_tried, n_tried == 1 ? "" : "s");
      return TRUE;
    }
  join_state (j, "joining", j->id);
  pp_signal_client_join_async (j->client, j->id, j->name,
                               pp_webrtc_transport_get_local_fingerprint (j->t), j->pin,
                               j->s.cancel, join_joined_cb, j);
  return TRUE;
}

static int
join_start_exit (const GError *error)
{
  if (error->domain == PP_SIGNAL_CLIENT_ERROR || error->domain == G_OPTION_ERROR)
    return PP_EXIT_USAGE;
  return PP_EXIT_UNAVAILABLE;
}

static void
join_clear (Join *j, PpEpoll *ep)
{
  if (j->quit_idle != 0)
    g_source_remove (j->quit_idle);
  g_clear_pointer (&j->status, pp_status_ticker_free);
  g_clear_pointer (&j->console, pp_console_free);
  pp_session_clear (&j->s);
  pp_signal_client_free (j->client);
  if (j->t != NULL)
    pp_transport_unref (j->t);
  if (ep != NULL)
    pp_epoll_free (ep);
  g_free (j->base);
  g_free (j->id);
  g_free (j->pin);
  g_free (j->host);
  g_free (j->name);
}

static int
run (Flags *f)
{
  g_autoptr (GError) error = NULL;
  Join j = { .f = f };
  PpEpoll *ep = NULL;
  int rc;

  j.name = pp_session_name (f->name, &error);
  if (j.name == NULL || !join_target (&j, &error))
    {
      g_free (j.name);
      pp_cli_error ("usage", "%s", error->message);
      g_free (j.base);
      g_free (j.id);
      return PP_EXIT_USAGE;
    }
  pp_session_init (&j.s, "join", f->json);
  j.s.have_turn = pp_ice_flags_has_turn (f->ice);
  ep = pp_epoll_new (NULL, &error);
  if (ep == NULL || !join_start (&j, ep, &error))
    pp_session_fail (&j.s, join_start_exit (error), "%s", error->message);
  rc = pp_session_run (&j.s);
  join_clear (&j, ep);
  return rc;
}

int
pp_cmd_join (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  Flags f = { 0 };
  int rc;

  if (!parse_flags (argc, argv, &f, &error))
    {
      flags_clear (&f);
      return pp_cli_usage_error ("join", error);
    }
  if (f.help)
    {
      fputs (join_help, stdout);
      flags_clear (&f);
      return PP_EXIT_OK;
    }
  rc = run (&f);
  flags_clear (&f);
  return rc;
}
