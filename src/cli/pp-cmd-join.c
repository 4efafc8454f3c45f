/* SPDX-License-Identifier: MIT
 *
 * pp-cmd-join: `peerport join URL|ID` — open the -L/--map listeners, join
 * the session with a commitment (the URL's pin checked), reveal, show the
 * verification code while the host decides, answer the offer and run the
 * tunnel in client role.  Listeners accept only once the channel is open
 * (pp-tunnel's job).  This file only sequences; it holds no protocol logic.
 */
#include <stdio.h>
#include <string.h>

#include "app/pp-session.h"
#include "cli/pp-cli.h"
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
  "  --name NAME        the name the host sees (default: this machine's name)\n"
  "  --json             one JSON event per line on stdout (docs/events.md)\n"
  "  -h, --help         show this help\n"
  "\n"
  "Not implemented yet: --stun, --turn, --window, the console, 'peerport ctl'.\n"
  "\n"
  "Ctrl-C or SIGTERM ends the session (the host is told).  Exit status: 0 after\n"
  "Ctrl-C/SIGTERM, 64 usage, 68 unknown or expired session (or already taken),\n"
  "69 host, path or listening address unavailable or the host ended the\n"
  "session, 76 protocol error or pin mismatch, 77 the host declined.\n";

typedef struct
{
  char *signal;
  char **maps;
  char **maps_long;
  char *name;
  gboolean json, help;
  char *target;
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
} Join;

static void
flags_clear (Flags *f)
{
  g_free (f->signal);
  g_strfreev (f->maps);
  g_strfreev (f->maps_long);
  g_free (f->name);
  g_free (f->target);
}

static gboolean
parse_flags (int argc, char **argv, Flags *f, GError **error)
{
  GOptionEntry entries[] = {
    { "signal", 0, 0, G_OPTION_ARG_STRING, &f->signal, NULL, NULL },
    { "local", 'L', 0, G_OPTION_ARG_STRING_ARRAY, &f->maps, NULL, NULL },
    { "map", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->maps_long, NULL, NULL },
    { "name", 0, 0, G_OPTION_ARG_STRING, &f->name, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &f->json, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &f->help, NULL, NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);

  g_option_context_set_help_enabled (ctx, FALSE);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, error))
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
  return TRUE;
}

static int
join_exit_code (const GError *error)
{
  if (error->domain != PP_SIGNAL_CLIENT_ERROR)
    return PP_EXIT_UNAVAILABLE;
  switch ((PpSignalClientError) error->code)
    {
    case PP_SIGNAL_CLIENT_ERROR_EXPIRED:
    case PP_SIGNAL_CLIENT_ERROR_TAKEN:
      return PP_EXIT_EXPIRED;
    case PP_SIGNAL_CLIENT_ERROR_DECLINED:
      return PP_EXIT_DECLINED;
    case PP_SIGNAL_CLIENT_ERROR_PIN_MISMATCH:
    case PP_SIGNAL_CLIENT_ERROR_BAD_REVEAL:
    case PP_SIGNAL_CLIENT_ERROR_REFUSED:
      return PP_EXIT_PROTOCOL;
    case PP_SIGNAL_CLIENT_ERROR_UNAVAILABLE:
      return PP_EXIT_UNAVAILABLE;
    case PP_SIGNAL_CLIENT_ERROR_BAD_URL:
      return PP_EXIT_USAGE;
    }
  return PP_EXIT_UNAVAILABLE;
}

static gboolean
join_check (Join *j, GError *error, const char *what)
{
  if (error == NULL)
    return TRUE;
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    pp_session_fail (&j->s, join_exit_code (error), "%s: %s", what, error->message);
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
  pp_session_state (&j->s, "connecting", "");
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
  pp_session_state (&j->s, "approving", j->host);
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

static gboolean
join_add_maps (Join *j, PpTunnel *tun, char **maps)
{
  for (guint i = 0; maps != NULL && maps[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      guint id = pp_tunnel_add_mapping (tun, maps[i], &error);

      if (id == 0)
        {
          pp_session_fail (&j->s, error->domain == G_IO_ERROR ? PP_EXIT_UNAVAILABLE
                                                              : PP_EXIT_USAGE,
                           "-L %s: %s", maps[i], error->message);
          return FALSE;
        }
      pp_session_say (&j->s, "peerport: join: %s: listening on port %u (connections wait "
                      "until the tunnel is open)", maps[i],
                      pp_tcp_client_get_port (pp_tunnel_get_client (tun), id));
    }
  return TRUE;
}

static gboolean
join_start (Join *j, PpEpoll *ep, GError **error)
{
  PpWebrtcConfig cfg;
  PpTunnel *tun;

  j->client = pp_signal_client_new (j->base, error);
  if (j->client == NULL)
    return FALSE;
  pp_webrtc_config_init (&cfg);
  cfg.role = PP_WEBRTC_ANSWERER;
  j->t = pp_webrtc_transport_new (&cfg, join_description_cb, j, error);
  if (j->t == NULL)
    return FALSE;
  tun = pp_tunnel_new (j->t, PP_MUX_ROLE_CLIENT, NULL, ep);
  pp_session_attach (&j->s, tun);
  if (!join_add_maps (j, tun, j->f->maps) || !join_add_maps (j, tun, j->f->maps_long))
    return TRUE;
  pp_session_state (&j->s, "joining", j->id);
  pp_signal_client_join_async (j->client, j->id, j->name,
                               pp_webrtc_transport_get_local_fingerprint (j->t), j->pin,
                               j->s.cancel, join_joined_cb, j);
  return TRUE;
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
  ep = pp_epoll_new (NULL, &error);
  if (ep == NULL || !join_start (&j, ep, &error))
    pp_session_fail (&j.s, error->domain == PP_SIGNAL_CLIENT_ERROR ? PP_EXIT_USAGE
                                                                   : PP_EXIT_UNAVAILABLE,
                     "%s", error->message);
  rc = pp_session_run (&j.s);
  pp_session_clear (&j.s);
  pp_signal_client_free (j.client);
  if (j.t != NULL)
    pp_transport_unref (j.t);
  if (ep != NULL)
    pp_epoll_free (ep);
  g_free (j.base);
  g_free (j.id);
  g_free (j.pin);
  g_free (j.host);
  g_free (j.name);
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
      pp_cli_error ("usage", "%s; see 'peerport join --help'", error->message);
      flags_clear (&f);
      return PP_EXIT_USAGE;
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
