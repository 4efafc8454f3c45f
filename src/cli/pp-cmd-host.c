/* SPDX-License-Identifier: MIT
 *
 * pp-cmd-host: `peerport host` with a remote signaling server — create a
 * session, print the join URL, show each join request with its verification
 * code and ask, then offer WebRTC and run the tunnel in host role with the
 * --allow rules.  Signaling is src/signal's, the tunnel src/app's; this file
 * only sequences them and must not grow protocol logic of its own.
 */
#include <glib-unix.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/pp-session.h"
#include "cli/pp-cli.h"
#include "core/pp-rules.h"
#include "signal/pp-signal-client.h"
#include "transport/webrtc/pp-webrtc-transport.h"

static const char host_help[] =
  "Usage: peerport host --signal URL [OPTIONS]\n"
  "\n"
  "Share TCP services with one peer.  Creates a session on a signaling server,\n"
  "prints a join URL for the peer ('peerport join URL'), asks you to accept the\n"
  "peer after comparing the verification code, then carries the peer's\n"
  "connections to the addresses the rules allow.  Nothing is allowed by default.\n"
  "\n"
  "Options:\n"
  "  --signal URL       the signaling server, http(s)://HOST:PORT (default\n"
  "                     $PEERPORT_SIGNAL)\n"
  "  --allow RULE       let the peer reach RULE, e.g. 127.0.0.1:8080,\n"
  "                     192.168.1.0/24:22, db.lan:5432, *:* (repeatable;\n"
  "                     docs/rules.md)\n"
  "  --yes              accept the first peer without asking: you trust the\n"
  "                     signaling server not to hand the link to someone else\n"
  "  --name NAME        the name the peer sees (default: this machine's name)\n"
  "  --json             one JSON event per line on stdout (docs/events.md)\n"
  "  -h, --help         show this help\n"
  "\n"
  "Not implemented yet: embedded signaling (--listen-signal, host without\n"
  "--signal), --stun, --turn, --window, the console, 'peerport ctl', invite.\n"
  "The server's STUN is not used yet: peers must reach each other's host\n"
  "addresses (same machine or LAN).\n"
  "\n"
  "Ctrl-C or SIGTERM ends the session (the peer is told).  Exit status: 0 after\n"
  "Ctrl-C/SIGTERM, 64 usage, 68 session expired, 69 peer or signaling server\n"
  "unavailable or the peer ended the session, 76 protocol error.\n";

typedef struct
{
  char *signal;
  char **allow;
  char *name;
  gboolean yes, json, help;
} Flags;

typedef struct
{
  PpSession s;
  Flags *f;
  char *name;              /* ours, as the other side sees it */
  PpRules *rules;
  PpSignalClient *client;
  PpTransport *t;
  char *offer;             /* our description once gathered */
  gboolean approved;       /* the offer goes out when both hold */
  gboolean answered;       /* the session is consumed on the server */
  char *base;
  char *peer;              /* escaped name of the peer asking */
  guint stdin_watch;
} Host;

static void host_wait_join (Host *h);

static void
flags_clear (Flags *f)
{
  g_free (f->signal);
  g_strfreev (f->allow);
  g_free (f->name);
}

static gboolean
parse_flags (int argc, char **argv, Flags *f, GError **error)
{
  GOptionEntry entries[] = {
    { "signal", 0, 0, G_OPTION_ARG_STRING, &f->signal, NULL, NULL },
    { "allow", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->allow, NULL, NULL },
    { "yes", 0, 0, G_OPTION_ARG_NONE, &f->yes, NULL, NULL },
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
  if (argc > 1)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "unexpected argument '%s'", argv[1]), FALSE;
  if (f->signal == NULL && g_getenv ("PEERPORT_SIGNAL") != NULL)
    f->signal = g_strdup (g_getenv ("PEERPORT_SIGNAL"));
  if (f->signal == NULL)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "--signal URL is needed (embedded signaling is not implemented "
                        "yet)"), FALSE;
  return TRUE;
}

/* Signaling errors to exit codes (DESIGN §7). */
static int
host_exit_code (const GError *error)
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

/* FALSE when the step failed; a cancellation (Ctrl-C) is already handled. */
static gboolean
host_check (Host *h, GError *error, const char *what)
{
  if (error == NULL)
    return TRUE;
  if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    pp_session_fail (&h->s, host_exit_code (error), "%s: %s", what, error->message);
  g_error_free (error);
  return FALSE;
}

static void
host_answer_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Host *h = user_data;
  GError *error = NULL;
  g_autoptr (PpSignalSession) ss = pp_signal_client_poll_finish (h->client, res, &error);

  if (!host_check (h, error, "waiting for the answer"))
    return;
  h->answered = TRUE;
  if (!pp_webrtc_transport_set_remote_description (h->t, ss->answer.sdp, &error))
    {
      pp_session_fail (&h->s, PP_EXIT_PROTOCOL, "the peer's answer: %s", error->message);
      g_error_free (error);
      return;
    }
  for (guint i = 0; ss->answer.candidates != NULL && i < ss->answer.candidates->len; i++)
    pp_webrtc_transport_add_remote_candidate (h->t, g_ptr_array_index (ss->answer.candidates, i));
  pp_session_state (&h->s, "connecting", "");
  pp_session_say (&h->s, "peerport: host: connecting to %s…", h->peer);
}

static void
host_offer_sent_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Host *h = user_data;
  GError *error = NULL;

  pp_signal_client_send_finish (h->client, res, &error);
  if (!host_check (h, error, "sending the offer"))
    return;
  pp_signal_client_poll_async (h->client, PP_SIGNAL_FOR_ANSWER, h->s.cancel, host_answer_cb, h);
}

/* The offer is the approval: it goes once the person said yes and
 * gathering is over, whichever comes last. */
static void
host_maybe_offer (Host *h)
{
  if (!h->approved || h->offer == NULL || h->s.ending)
    return;
  pp_signal_client_sdp_async (h->client, h->offer, NULL, h->s.cancel, host_offer_sent_cb, h);
}

static void
host_description_cb (PpTransport *t, const char *sdp, gpointer user_data)
{
  Host *h = user_data;

  g_free (h->offer);
  h->offer = g_strdup (sdp);
  host_maybe_offer (h);
}

static void
host_approve (Host *h)
{
  h->approved = TRUE;
  host_maybe_offer (h);
}

static void
host_rejected_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Host *h = user_data;
  GError *error = NULL;

  pp_signal_client_send_finish (h->client, res, &error);
  if (!host_check (h, error, "declining the peer"))
    return;
  pp_session_say (&h->s, "peerport: host: declined; the link works again for another peer");
  host_wait_join (h);
}

static void
host_decline (Host *h)
{
  pp_signal_client_reject_async (h->client, h->s.cancel, host_rejected_cb, h);
}

static gboolean
host_stdin_cb (gint fd, GIOCondition cond, gpointer user_data)
{
  Host *h = user_data;
  char buf[256];
  ssize_t n = read (fd, buf, sizeof buf - 1);
  const char *p = buf;

  h->stdin_watch = 0;
  if (n <= 0)
    {
      host_decline (h);
      return G_SOURCE_REMOVE;
    }
  buf[n] = '\0';
  while (*p == ' ' || *p == '\t')
    p++;
  if (*p == 'y' || *p == 'Y')
    host_approve (h);
  else
    host_decline (h);
  return G_SOURCE_REMOVE;
}

static void
host_ask (Host *h, uint32_t code)
{
  PpJsonEvent *ev = pp_event_new ("join-request", g_get_real_time ());
  g_autofree char *code_text = g_strdup_printf ("%03u %03u", code / 1000, code % 1000);

  pp_event_add_string (ev, "peer", h->peer);
  pp_event_add_string (ev, "code", code_text);
  pp_event_add_string (ev, "session", pp_signal_client_get_id (h->client));
  pp_session_emit (&h->s, ev);
  pp_session_state (&h->s, "approving", h->peer);
  if (h->f->yes)
    {
      pp_session_say (&h->s, "peerport: host: peer \"%s\" joined — code %s — accepted (--yes: "
                      "trusting the signaling server)", h->peer, code_text);
      host_approve (h);
      return;
    }
  if (!isatty (STDIN_FILENO))
    {
      pp_cli_error ("host", "peer \"%s\" wants to join — code %s — declined: cannot ask "
                    "without a terminal (use --yes to accept the first peer)", h->peer,
                    code_text);
      host_decline (h);
      return;
    }
  /* With --json stdout carries events only: the question goes to stderr. */
  fprintf (h->s.json ? stderr : stdout, "peer \"%s\" wants to join — code %s — accept? [y/N] ",
           h->peer, code_text);
  fflush (h->s.json ? stderr : stdout);
  h->stdin_watch = g_unix_fd_add (STDIN_FILENO, G_IO_IN | G_IO_HUP, host_stdin_cb, h);
}

static void
host_reveal_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Host *h = user_data;
  GError *error = NULL;
  g_autoptr (PpSignalSession) ss = pp_signal_client_poll_finish (h->client, res, &error);
  uint32_t code = 0;

  if (!host_check (h, error, "waiting for the peer's reveal"))
    return;
  if (!pp_signal_client_code (h->client, ss, &code, &error))
    {
      pp_session_fail (&h->s, PP_EXIT_PROTOCOL, "%s", error->message);
      g_error_free (error);
      return;
    }
  host_ask (h, code);
}

static void
host_nonce_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Host *h = user_data;
  GError *error = NULL;

  pp_signal_client_send_finish (h->client, res, &error);
  if (!host_check (h, error, "posting the nonce"))
    return;
  pp_signal_client_poll_async (h->client, PP_SIGNAL_FOR_REVEAL, h->s.cancel, host_reveal_cb, h);
}

static void
host_join_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Host *h = user_data;
  GError *error = NULL;
  g_autoptr (PpSignalSession) ss = pp_signal_client_poll_finish (h->client, res, &error);

  if (!host_check (h, error, "waiting for a peer"))
    return;
  g_free (h->peer);
  h->peer = pp_session_escape (ss->client != NULL ? ss->client : "");
  pp_session_state (&h->s, "joining", h->peer);
  pp_signal_client_nonce_async (h->client, h->s.cancel, host_nonce_cb, h);
}

static void
host_wait_join (Host *h)
{
  pp_session_state (&h->s, "waiting", pp_signal_client_get_id (h->client));
  pp_signal_client_poll_async (h->client, PP_SIGNAL_FOR_JOIN, h->s.cancel, host_join_cb, h);
}

static void
host_created_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Host *h = user_data;
  GError *error = NULL;
  g_autofree char *url = NULL;
  PpJsonEvent *ev;

  pp_signal_client_create_finish (h->client, res, &error);
  if (!host_check (h, error, "creating the session"))
    return;
  url = pp_signal_join_url (h->base, pp_signal_client_get_id (h->client),
                            pp_webrtc_transport_get_local_fingerprint (h->t));
  ev = pp_event_new ("join-url", g_get_real_time ());
  pp_event_add_string (ev, "url", url);
  pp_event_add_string (ev, "address", h->base);
  pp_event_add_string (ev, "reachable", "whoever can reach the signaling server");
  pp_session_emit (&h->s, ev);
  pp_session_say (&h->s, "peerport: host: join URL: %s", url);
  pp_session_say (&h->s, "On the other machine run:\n  peerport join '%s' -L PORT=>HOST:PORT\n"
                  "The link works once, for 120 s.  Waiting for a peer…", url);
  host_wait_join (h);
}

typedef struct
{
  PpSignalClient *client;
  GMainLoop *loop;
  GCancellable *cancel;
} HostCancel;

static void
host_cancelled_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  HostCancel *hc = user_data;

  pp_signal_client_send_finish (hc->client, res, NULL);
  g_main_loop_quit (hc->loop);
}

static gboolean
host_cancel_timeout_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* One DELETE, at most 2 s; then the request is cancelled and its callback
 * still awaited. */
static void
host_delete_once (Host *h)
{
  HostCancel hc = { h->client, NULL, NULL };
  guint timeout;

  hc.loop = g_main_loop_new (NULL, FALSE);
  hc.cancel = g_cancellable_new ();
  timeout = g_timeout_add (2000, host_cancel_timeout_cb, hc.cancel);
  pp_signal_client_reject_async (h->client, hc.cancel, host_cancelled_cb, &hc);
  g_main_loop_run (hc.loop);
  if (!g_cancellable_is_cancelled (hc.cancel))
    g_source_remove (timeout);
  g_object_unref (hc.cancel);
  g_main_loop_unref (hc.loop);
}

/* After Ctrl-C before the peer answered: withdraw the session so the link
 * stops working at once.  A DELETE with a peer joined only declines it and
 * reopens the session; the second one ends it (or finds it gone). */
static void
host_cancel_session (Host *h)
{
  if (h->client == NULL || pp_signal_client_get_id (h->client) == NULL || h->answered)
    return;
  host_delete_once (h);
  host_delete_once (h);
}

static gboolean
host_add_rules (Host *h)
{
  for (guint i = 0; h->f->allow != NULL && h->f->allow[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *warning = NULL;

      if (pp_rules_add (h->rules, h->f->allow[i], &warning, &error) == 0)
        {
          pp_cli_error ("usage", "--allow %s: %s", h->f->allow[i], error->message);
          return FALSE;
        }
      if (warning != NULL)
        pp_cli_error ("host", "--allow %s: %s", h->f->allow[i], warning);
    }
  if (pp_rules_count (h->rules) == 0)
    pp_cli_error ("host", "no --allow rule: the peer can connect to nothing (add "
                  "--allow HOST:PORT)");
  return TRUE;
}

static gboolean
host_start (Host *h, PpEpoll *ep, GError **error)
{
  PpWebrtcConfig cfg;
  g_autofree char *id = NULL, *pin = NULL;
  PpTunnel *tun;

  /* Accept a join URL or a bare server URL alike. */
  if (!pp_signal_parse_join_url (h->f->signal, &h->base, &id, &pin, NULL))
    h->base = g_strdup (h->f->signal);
  h->client = pp_signal_client_new (h->base, error);
  if (h->client == NULL)
    return FALSE;
  pp_webrtc_config_init (&cfg);
  cfg.role = PP_WEBRTC_OFFERER;
  h->t = pp_webrtc_transport_new (&cfg, host_description_cb, h, error);
  if (h->t == NULL)
    return FALSE;
  tun = pp_tunnel_new (h->t, PP_MUX_ROLE_HOST, NULL, ep);
  pp_tunnel_set_rules (tun, h->rules);
  pp_session_attach (&h->s, tun);
  pp_signal_client_create_async (h->client, h->name,
                                 pp_webrtc_transport_get_local_fingerprint (h->t), h->s.cancel,
                                 host_created_cb, h);
  return TRUE;
}

static int
run (Flags *f)
{
  g_autoptr (GError) error = NULL;
  Host h = { .f = f };
  PpEpoll *ep;
  int rc;

  h.name = pp_session_name (f->name, &error);
  if (h.name == NULL)
    {
      pp_cli_error ("usage", "%s", error->message);
      return PP_EXIT_USAGE;
    }
  h.rules = pp_rules_new ();
  if (!host_add_rules (&h))
    {
      pp_rules_free (h.rules);
      g_free (h.name);
      return PP_EXIT_USAGE;
    }
  pp_session_init (&h.s, "host", f->json);
  if (!f->yes && !isatty (STDIN_FILENO))
    pp_cli_error ("host", "stdin is not a terminal: every peer will be declined (use --yes to "
                  "accept the first peer)");
  ep = pp_epoll_new (NULL, &error);
  if (ep == NULL || !host_start (&h, ep, &error))
    pp_session_fail (&h.s, error != NULL && error->domain == PP_SIGNAL_CLIENT_ERROR
                     ? PP_EXIT_USAGE : PP_EXIT_UNAVAILABLE, "%s", error->message);
  rc = pp_session_run (&h.s);
  if (h.s.interrupted)
    host_cancel_session (&h);
  if (h.stdin_watch != 0)
    g_source_remove (h.stdin_watch);
  pp_session_clear (&h.s);
  pp_signal_client_free (h.client);
  if (h.t != NULL)
    pp_transport_unref (h.t);
  if (ep != NULL)
    pp_epoll_free (ep);
  pp_rules_free (h.rules);
  g_free (h.offer);
  g_free (h.base);
  g_free (h.peer);
  g_free (h.name);
  return rc;
}

int
pp_cmd_host (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  Flags f = { 0 };
  int rc;

  if (!parse_flags (argc, argv, &f, &error) && !f.help)
    {
      pp_cli_error ("usage", "%s; see 'peerport host --help'", error->message);
      flags_clear (&f);
      return PP_EXIT_USAGE;
    }
  if (f.help)
    {
      fputs (host_help, stdout);
      flags_clear (&f);
      return PP_EXIT_OK;
    }
  rc = run (&f);
  flags_clear (&f);
  return rc;
}
