/* SPDX-License-Identifier: MIT
 *
 * pp-cmd-host: `peerport host` — flags, the rules every peer shares, the
 * console and control socket commands (allow, deny, rules, invite, status,
 * conns, quit), and the end of the host: it runs while a peer is connected
 * or a join link is waiting, and on quit, Ctrl-C or SIGTERM tells every
 * peer (GOAWAY), resets their sockets and removes what it made.  One peer's
 * signaling and tunnel are pp-host-peer.c's, the embedded signaling server
 * pp-host-embed.c's; this file must not grow protocol logic of its own.
 */
#include <glib-unix.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/pp-sys.h"
#include "cli/pp-cli.h"
#include "cli/pp-host.h"

static const char host_help[] =
  "Usage: peerport host [--allow RULE]... [--signal URL|--listen-signal ADDR:PORT]\n"
  "         [--yes] [--stun URI|none]... [--turn URI]... [--name NAME]\n"
  "         [--window BYTES] [--json]\n"
  "\n"
  "Share TCP services with peers.  Prints a join URL for a peer ('peerport join\n"
  "URL'), asks you to accept the peer after comparing the verification code, then\n"
  "carries the peer's connections to the addresses the rules allow.  Nothing is\n"
  "allowed by default.\n"
  "\n"
  "Signaling:\n"
  "  --signal URL       use the signaling server at http(s)://HOST:PORT (default\n"
  "                     $PEERPORT_SIGNAL); the link works for anyone who can\n"
  "                     reach that server\n"
  "  --listen-signal ADDR:PORT\n"
  "                     without --signal, run the signaling server inside the host\n"
  "                     on ADDR:PORT (default 0.0.0.0:7080; port 0 picks a free\n"
  "                     one).  It listens only while a link is waiting or being\n"
  "                     joined.  Its links work only for peers that can reach this\n"
  "                     machine at that address (a LAN, a public IP); for peers\n"
  "                     behind other NATs run 'peerport signal' on a server both\n"
  "                     can reach (README: \"Self-hosting the signaling server\")\n"
  "\n"
  "Peers and rules:\n"
  "  --allow RULE       let peers reach RULE, e.g. 127.0.0.1:8080,\n"
  "                     192.168.1.0/24:22, db.lan:5432, *:* (repeatable;\n"
  "                     docs/rules.md); change them later with allow/deny\n"
  "  --yes              accept the first peer of each link without asking: you\n"
  "                     trust the signaling server not to hand the link to\n"
  "                     someone else\n"
  "  --name NAME        the name peers see (default: this machine's name)\n"
  "  --window BYTES     per-connection receive window (4K to 128M; K, M, KiB,\n"
  "                     MiB accepted; default 1MiB); the session window is 16x\n"
  "\n"
  "NAT traversal:\n"
  "  --stun URI|none    stun:HOST[:PORT] (default port 3478; repeatable: the first\n"
  "                     that resolves is used, libnice takes one).  Default: with\n"
  "                     --signal, the signaling server's own STUN (same host and\n"
  "                     port number); embedded, none.  'none' turns STUN off\n"
  "  --turn URI         turn:USER:PASS@HOST[:PORT][?transport=tcp] (repeatable):\n"
  "                     a relay for when no direct path exists (both sides behind\n"
  "                     strict NATs); USER and PASS may be %-encoded\n"
  "\n"
  "Output:\n"
  "  --json             one JSON event per line on stdout (docs/events.md)\n"
  "  -h, --help         show this help\n"
  "\n"
  "Environment:\n"
  "  PEERPORT_SIGNAL    default for --signal\n"
  "  PEERPORT_STUN      comma-separated defaults for --stun\n"
  "  PEERPORT_TURN      comma-separated defaults for --turn\n"
  "  XDG_RUNTIME_DIR    where the control socket lives (peerport/host-PID.sock)\n"
  "\n"
  "Commands (typed on the console when stdin is a terminal, or sent with\n"
  "'peerport ctl COMMAND'):\n"
  "  allow RULE         add a rule for every peer\n"
  "  deny RULE|#ID [--keep]\n"
  "                     remove a rule and reset the live connections it no longer\n"
  "                     allows (--keep spares them)\n"
  "  rules              list the rules\n"
  "  invite             a new join link for one more peer (each peer gets its own\n"
  "                     tunnel and sockets; the rules are shared)\n"
  "  status, conns      peers and links; live connections\n"
  "  quit               end every session\n"
  "\n"
  "The end: the host runs while a peer is connected or a join link is waiting.\n"
  "When the last peer leaves and no link waits (links expire after 120 s unused),\n"
  "it exits with that peer's code.  quit, Ctrl-C or SIGTERM end every session\n"
  "at once: peers are told, their connections reset.\n"
  "\n"
  "Exit status: 0 after quit/Ctrl-C/SIGTERM, 64 usage, 68 the last link expired,\n"
  "69 the last peer left or its path was lost, the signaling server is\n"
  "unreachable or the listen address is in use, 76 protocol error.\n"
  "\n"
  "Examples:\n"
  "  peerport host --allow 127.0.0.1:3000\n"
  "  peerport host --listen-signal 192.168.1.5:7080 --allow 192.168.1.0/24:22\n"
  "  peerport host --signal https://signal.example --allow localhost:5432 \\\n"
  "                --turn 'turn:me:secret@turn.example?transport=tcp'\n"
  "  peerport ctl invite\n";

static void
flags_clear (PpHostFlags *f)
{
  g_free (f->signal);
  g_free (f->listen_signal);
  g_strfreev (f->allow);
  g_strfreev (f->stun);
  g_strfreev (f->turn);
  g_free (f->name);
  g_free (f->window);
}

static gboolean
parse_flags (int argc, char **argv, PpHostFlags *f, GError **error)
{
  GOptionEntry entries[] = {
    { "signal", 0, 0, G_OPTION_ARG_STRING, &f->signal, NULL, NULL },
    { "listen-signal", 0, 0, G_OPTION_ARG_STRING, &f->listen_signal, NULL, NULL },
    { "allow", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->allow, NULL, NULL },
    { "stun", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->stun, NULL, NULL },
    { "turn", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->turn, NULL, NULL },
    { "window", 0, 0, G_OPTION_ARG_STRING, &f->window, NULL, NULL },
    { "yes", 0, 0, G_OPTION_ARG_NONE, &f->yes, NULL, NULL },
    { "name", 0, 0, G_OPTION_ARG_STRING, &f->name, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &f->json, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &f->help, NULL, NULL },
    { NULL },
  };
  if (!pp_cli_parse_options (&argc, &argv, entries, error))
    return FALSE;
  if (argc > 1)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "unexpected argument '%s'", argv[1]), FALSE;
  if (f->signal != NULL && f->listen_signal != NULL)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "--listen-signal runs the signaling server in the host; it cannot "
                        "be combined with --signal"), FALSE;
  /* An explicit --listen-signal beats $PEERPORT_SIGNAL. */
  if (f->signal == NULL && f->listen_signal == NULL && g_getenv ("PEERPORT_SIGNAL") != NULL
      && g_getenv ("PEERPORT_SIGNAL")[0] != '\0')
    f->signal = g_strdup (g_getenv ("PEERPORT_SIGNAL"));
  return TRUE;
}

void
pp_host_say (PpHost *h, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  pp_session_say (&h->s, "%s", msg);
}

/* ---- peers come and go ---- */

static void
host_answer_cb (gboolean yes, gpointer user_data)
{
  PpHost *h = user_data;
  PpHostPeer *p = g_queue_pop_head (&h->asks);

  h->asking = FALSE;
  if (p != NULL)
    pp_host_peer_answer (p, yes);
  pp_host_ask_next (h);
}

void
pp_host_ask_next (PpHost *h)
{
  g_autofree char *question = NULL;
  PpHostPeer *p = g_queue_peek_head (&h->asks);

  if (h->asking || p == NULL)
    return;
  question = pp_host_peer_question (p);
  h->asking = TRUE;
  if (!pp_console_ask (h->console, question, host_answer_cb, h))
    {
      h->asking = FALSE;
      g_queue_pop_head (&h->asks);
      pp_host_peer_answer (p, FALSE);
    }
}

static gboolean
host_reap_cb (gpointer user_data)
{
  PpHost *h = user_data;

  h->reap = 0;
  g_ptr_array_set_size (h->dead, 0);
  return G_SOURCE_REMOVE;
}

void
pp_host_peer_ended (PpHost *h, PpHostPeer *p, int exit_code)
{
  guint i;

  if (h->shutting_down || !g_ptr_array_find (h->peers, p, &i))
    return;
  g_ptr_array_steal_index (h->peers, i);
  if (g_queue_peek_head (&h->asks) == p && h->asking)
    {
      h->asking = FALSE;
      pp_console_cancel_ask (h->console);
    }
  g_queue_remove (&h->asks, p);
  pp_host_ask_next (h);
  /* Freed from an idle: we may be inside one of its tunnel's callbacks. */
  g_ptr_array_add (h->dead, p);
  if (h->reap == 0)
    h->reap = g_idle_add (host_reap_cb, h);
  h->last_exit = exit_code;
  if (h->peers->len > 0)
    return;
  pp_host_say (h, "peerport: host: no peer left and no link waiting; exiting");
  pp_session_end (&h->s, exit_code);
}

/* ---- commands ---- */

static gboolean
host_allow (PpHost *h, const char *text, GString *reply)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *warning = NULL;
  guint id = pp_rules_add (h->rules, text, &warning, &error);

  if (id == 0)
    {
      g_string_append_printf (reply, "%s\n", error->message);
      return FALSE;
    }
  for (guint i = 0, rid; i < pp_rules_count (h->rules); i++)
    {
      const char *canonical;

      if (pp_rules_nth (h->rules, i, &rid, &canonical) && rid == id)
        g_string_append_printf (reply, "allowed #%u %s\n", id, canonical);
    }
  if (warning != NULL)
    g_string_append_printf (reply, "warning: %s\n", warning);
  return TRUE;
}

static gboolean
host_deny (PpHost *h, const char *what, gboolean keep, GString *reply)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *canonical = NULL;
  guint id = pp_rules_remove_full (h->rules, what, &canonical, &error);
  guint closed = 0;

  if (id == 0)
    {
      g_string_append_printf (reply, "%s\n", error->message);
      return FALSE;
    }
  g_string_append_printf (reply, "denied #%u %s\n", id, canonical);
  if (keep)
    {
      g_string_append (reply, "live connections kept (--keep)\n");
      return TRUE;
    }
  for (guint i = 0; i < h->peers->len; i++)
    closed += pp_host_peer_revoke (g_ptr_array_index (h->peers, i));
  g_string_append_printf (reply, "closed %u connection%s the rules no longer allow\n", closed,
                          closed == 1 ? "" : "s");
  return TRUE;
}

static void
host_rules (PpHost *h, GString *reply)
{
  guint n = pp_rules_count (h->rules);

  if (n == 0)
    g_string_append (reply, "no rules: peers can reach nothing (allow HOST:PORT)\n");
  for (guint i = 0; i < n; i++)
    {
      guint id;
      const char *canonical;

      if (pp_rules_nth (h->rules, i, &id, &canonical))
        g_string_append_printf (reply, "#%u %s\n", id, canonical);
    }
}

static gboolean
host_invite (PpHost *h, GString *reply)
{
  g_autoptr (GError) error = NULL;
  PpHostPeer *p = pp_host_peer_new (h, &error);
  const char *const *urls;

  if (p == NULL)
    {
      g_string_append_printf (reply, "cannot make a link: %s\n", error->message);
      return FALSE;
    }
  g_ptr_array_add (h->peers, p);
  urls = pp_host_peer_get_urls (p);
  /* With a remote server the URL comes once the server made the session. */
  if (urls == NULL)
    g_string_append_printf (reply, "link #%u: the join URL follows on the host's output\n",
                            pp_host_peer_get_id (p));
  for (guint i = 0; urls != NULL && urls[i] != NULL; i++)
    g_string_append_printf (reply, "link #%u: %s\n", pp_host_peer_get_id (p), urls[i]);
  return TRUE;
}

static void
host_status (PpHost *h, GString *reply)
{
  if (h->peers->len == 0)
    g_string_append (reply, "no peer and no link waiting\n");
  for (guint i = 0; i < h->peers->len; i++)
    pp_host_peer_describe (g_ptr_array_index (h->peers, i), reply);
  g_string_append_printf (reply, "rules: %u\n", pp_rules_count (h->rules));
}

static void
host_conns (PpHost *h, GString *reply)
{
  gsize before = reply->len;

  for (guint i = 0; i < h->peers->len; i++)
    pp_host_peer_conns (g_ptr_array_index (h->peers, i), reply);
  if (reply->len == before)
    g_string_append (reply, "no live connections\n");
}

static gboolean
host_quit_cb (gpointer user_data)
{
  PpHost *h = user_data;

  pp_host_say (h, "peerport: host: quit; ending every session");
  pp_session_end (&h->s, PP_EXIT_OK);
  return G_SOURCE_REMOVE;
}

static gboolean
host_command (const PpCommand *cmd, GString *reply, gpointer user_data)
{
  PpHost *h = user_data;

  switch (cmd->kind)
    {
    case PP_COMMAND_ALLOW:
      return host_allow (h, cmd->arg, reply);
    case PP_COMMAND_DENY:
      return host_deny (h, cmd->arg, cmd->keep, reply);
    case PP_COMMAND_RULES:
      host_rules (h, reply);
      return TRUE;
    case PP_COMMAND_INVITE:
      return host_invite (h, reply);
    case PP_COMMAND_STATUS:
      host_status (h, reply);
      return TRUE;
    case PP_COMMAND_CONNS:
      host_conns (h, reply);
      return TRUE;
    case PP_COMMAND_QUIT:
      g_string_append (reply, "ending every session\n");
      /* After the answer went out. */
      g_idle_add (host_quit_cb, h);
      return TRUE;
    case PP_COMMAND_MAP:
    case PP_COMMAND_UNMAP:
    case PP_COMMAND_MAPS:
      g_string_append_printf (reply, "%s is a join command; the host has rules (allow, "
                              "deny, rules)\n", pp_command_name (cmd->kind));
      return FALSE;
    case PP_COMMAND_NONE:
    case PP_COMMAND_HELP:
      return TRUE;
    }
  return FALSE;
}

/* ---- start and end ---- */

static gboolean
host_add_rules (PpHost *h)
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
    pp_cli_error ("host", "no --allow rule: peers can connect to nothing (add --allow "
                  "HOST:PORT, or 'allow HOST:PORT' later)");
  return TRUE;
}

/* The signaling server's host and port: its STUN's default address. */
static void
host_signal_stun (const char *base, char **host, guint *port)
{
  g_autoptr (GUri) uri = g_uri_parse (base, G_URI_FLAGS_NONE, NULL);

  *host = NULL;
  *port = 0;
  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return;
  *host = g_strdup (g_uri_get_host (uri));
  *port = g_uri_get_port (uri) > 0 ? (guint) g_uri_get_port (uri)
          : g_strcmp0 (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
}

/* Flags that need no network: name, rules, window, ICE URIs, listen address. */
static int
host_check_flags (PpHost *h, GError **error)
{
  PpHostFlags *f = h->f;

  h->name = pp_session_name (f->name, error);
  if (h->name == NULL)
    return PP_EXIT_USAGE;
  h->rules = pp_rules_new ();
  if (!host_add_rules (h))
    return PP_EXIT_USAGE; /* said already */
  if (f->window != NULL && !pp_parse_window (f->window, &h->window, error))
    return PP_EXIT_USAGE;
  h->ice = pp_ice_flags_new (f->stun, f->turn, error);
  if (h->ice == NULL)
    return PP_EXIT_USAGE;
  if (f->signal != NULL)
    return PP_EXIT_OK;
  h->listen = pp_host_parse_listen (f->listen_signal != NULL ? f->listen_signal
                                    : "0.0.0.0:7080", error);
  return h->listen == NULL ? PP_EXIT_USAGE : PP_EXIT_OK;
}

/* Resolves the ICE servers and sets up signaling; FALSE with @error. */
static gboolean
host_prepare (PpHost *h, GError **error)
{
  g_autofree char *stun_host = NULL, *id = NULL, *pin = NULL, *ice = NULL;
  guint stun_port = 0;

  if (h->f->signal != NULL)
    {
      /* Accept a join URL or a bare server URL alike. */
      if (!pp_signal_parse_join_url (h->f->signal, &h->base, &id, &pin, NULL))
        h->base = g_strdup (h->f->signal);
      host_signal_stun (h->base, &stun_host, &stun_port);
    }
  if (!pp_ice_flags_resolve (h->ice, stun_host, stun_port, error))
    return FALSE;
  ice = pp_ice_flags_describe (h->ice);
  pp_host_say (h, "peerport: host: NAT traversal: %s", ice);
  if (h->f->signal != NULL)
    return TRUE;
  return pp_host_embed_start (h, error);
}

static void
host_open_console (PpHost *h)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("host-%d", (int) getpid ());

  h->console = pp_console_new (name, PP_COMMAND_ROLE_HOST, host_command, h, &error);
  if (h->console == NULL)
    pp_cli_error ("host", "no console or control socket: %s", error->message);
  else
    pp_host_say (h, "peerport: host: commands: type 'help'%s, or 'peerport ctl --instance "
                 "%s help'", pp_console_is_interactive (h->console) ? " here" : "", name);
  h->ticker = pp_status_ticker_new (h->console, &h->s);
  if (!h->f->yes && (h->console == NULL || !pp_console_is_interactive (h->console)))
    pp_cli_error ("host", "stdin is not a terminal: every peer will be declined (use --yes "
                  "to accept the first peer of each link)");
}

static gboolean
host_any_closing (PpHost *h)
{
  for (guint i = 0; i < h->peers->len; i++)
    if (pp_host_peer_closing (g_ptr_array_index (h->peers, i)))
      return TRUE;
  return FALSE;
}

static gboolean
host_wake_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* GOAWAY to every peer and an orderly close, waiting at most
 * PP_SESSION_CLOSE_GRACE_MS for the transports. */
static void
host_shutdown (PpHost *h)
{
  gint64 deadline = g_get_monotonic_time () + PP_SESSION_CLOSE_GRACE_MS * 1000;
  guint wake;

  h->shutting_down = TRUE;
  if (h->asking)
    pp_console_cancel_ask (h->console);
  g_queue_clear (&h->asks);
  for (guint i = 0; i < h->peers->len; i++)
    pp_host_peer_shutdown (g_ptr_array_index (h->peers, i));
  wake = g_timeout_add (100, host_wake_cb, NULL);
  while (host_any_closing (h) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (wake);
}

static void
host_clear (PpHost *h)
{
  g_ptr_array_set_size (h->peers, 0);
  g_ptr_array_set_size (h->dead, 0);
  if (h->reap != 0)
    g_source_remove (h->reap);
  g_clear_pointer (&h->ticker, pp_status_ticker_free);
  g_clear_pointer (&h->console, pp_console_free);
  pp_session_clear (&h->s);
  g_clear_pointer (&h->server, pp_signal_server_free);
  g_clear_object (&h->listen);
  g_clear_pointer (&h->ep, pp_epoll_free);
  g_clear_pointer (&h->ice, pp_ice_flags_free);
  g_clear_pointer (&h->rules, pp_rules_free);
  g_ptr_array_unref (h->peers);
  g_ptr_array_unref (h->dead);
  g_free (h->base);
  g_free (h->name);
}

static int
run (PpHostFlags *f)
{
  g_autoptr (GError) error = NULL;
  PpHost h = { .f = f };
  PpHostPeer *first;
  int rc;

  h.peers = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_host_peer_free);
  h.dead = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_host_peer_free);
  g_queue_init (&h.asks);
  pp_session_init (&h.s, "host", f->json);
  rc = host_check_flags (&h, &error);
  if (rc != PP_EXIT_OK)
    {
      if (error != NULL)
        pp_cli_error ("usage", "%s; see 'peerport host --help'", error->message);
      host_clear (&h);
      return rc;
    }
  pp_sys_raise_nofile_limit ();
  h.ep = pp_epoll_new (NULL, &error);
  if (h.ep == NULL || !host_prepare (&h, &error))
    pp_session_fail (&h.s, PP_EXIT_UNAVAILABLE, "%s", error->message);
  else
    {
      host_open_console (&h);
      first = pp_host_peer_new (&h, &error);
      if (first == NULL)
        pp_session_fail (&h.s, error->domain == PP_SIGNAL_CLIENT_ERROR ? PP_EXIT_USAGE
                         : PP_EXIT_UNAVAILABLE, "%s", error->message);
      else
        g_ptr_array_add (h.peers, first);
    }
  rc = pp_session_run (&h.s);
  host_shutdown (&h);
  host_clear (&h);
  return rc;
}

int
pp_cmd_host (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  PpHostFlags f = { 0 };
  int rc;

  if (!parse_flags (argc, argv, &f, &error) && !f.help)
    {
      flags_clear (&f);
      return pp_cli_usage_error ("host", error);
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
