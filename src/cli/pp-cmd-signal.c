/* SPDX-License-Identifier: MIT
 *
 * pp-cmd-signal: `peerport signal`, the standalone signaling server — flags
 * to options, listen (HTTP or HTTPS, plus STUN on UDP), run until SIGINT or
 * SIGTERM, then close everything.  All behaviour lives in src/signal; this
 * file only parses, reports and exits with the right code.
 */
#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/pp-cli.h"
#include "signal/pp-signal-server.h"
#include "signal/pp-signal-stun.h"

static const char signal_help[] =
  "Usage: peerport signal [OPTIONS]\n"
  "\n"
  "Run a signaling server: the HTTP long-poll API that hosts and clients use to\n"
  "meet (docs/signaling.md), and a STUN responder so peers learn their public\n"
  "address.  It never sees tunnel traffic.\n"
  "\n"
  "Options:\n"
  "  --listen ADDR:PORT     HTTP address (default 0.0.0.0:8080; [::]:8080 for\n"
  "                         IPv6; port 0 picks a free one, printed at start)\n"
  "  --redis URL            keep sessions in Redis, redis://HOST:PORT[/DB], so\n"
  "                         several instances behind a load balancer share them\n"
  "                         (default: in memory, this process only)\n"
  "  --ttl SECONDS          how long a new session waits for a peer (default 120;\n"
  "                         the later stages keep 60 s to decide, 30 s to connect)\n"
  "  --stun-port PORT|off   UDP port of the STUN responder (default: the HTTP\n"
  "                         port number), or off\n"
  "  --stun-alt-port PORT   answer STUN on this second UDP port too, so\n"
  "                         'peerport doctor' can tell how a client's NAT maps\n"
  "                         (default: none; 0 picks a free one, printed)\n"
  "  --tls-cert FILE        serve HTTPS with this PEM certificate (chain) ...\n"
  "  --tls-key FILE         ... and this PEM private key; both or neither\n"
  "  --trusted-proxy CIDR   believe X-Forwarded-For from this proxy range for the\n"
  "                         per-address rate limits (repeatable; default none)\n"
  "  --poll-timeout SECONDS longest a long poll waits before answering\n"
  "                         unchanged (default 5)\n"
  "  --max-sessions N       refuse new sessions beyond N (default 100000; with\n"
  "                         --redis, per instance: sessions it created that may\n"
  "                         still live)\n"
  "  -h, --help             show this help\n"
  "\n"
  "Limits: request bodies 64 KiB, names 64 bytes of printable ASCII, 4 long\n"
  "polls per session and 10000 in all, 20 creates (then 1 per 2 s) and 30 joins\n"
  "(then 1 per s) per client address, 10 s to send a request, 60 s idle.\n"
  "\n"
  "Prints one line 'peerport: signal: listening on URL ...' when ready; SIGINT\n"
  "or SIGTERM stops it.  Exit status: 0 after a signal, 64 usage, 66 TLS files\n"
  "unreadable, 69 cannot listen.\n";

typedef struct
{
  char *listen;
  char *redis;
  int ttl;
  char *stun_port;
  char *stun_alt_port;
  char *tls_cert, *tls_key;
  char **proxies;
  int poll_timeout;
  int max_sessions;
  gboolean help;
} Flags;

static void
flags_clear (Flags *f)
{
  g_free (f->listen);
  g_free (f->redis);
  g_free (f->stun_port);
  g_free (f->stun_alt_port);
  g_free (f->tls_cert);
  g_free (f->tls_key);
  g_strfreev (f->proxies);
}

/* "ADDR:PORT" or "[V6]:PORT" with a literal address. */
static GSocketAddress *
parse_listen (const char *text, GError **error)
{
  g_autofree char *host = NULL;
  const char *colon = strrchr (text, ':');
  char *end = NULL;
  long port;
  g_autoptr (GInetAddress) a = NULL;

  if (colon == NULL)
    goto bad;
  host = g_strndup (text, (gsize) (colon - text));
  if (host[0] == '[' && host[strlen (host) - 1] == ']')
    {
      memmove (host, host + 1, strlen (host));
      host[strlen (host) - 1] = '\0';
    }
  errno = 0;
  port = strtol (colon + 1, &end, 10);
  a = g_inet_address_new_from_string (host);
  if (a == NULL || *end != '\0' || colon[1] == '\0' || errno != 0 || port < 0 || port > 65535)
    goto bad;
  return g_inet_socket_address_new (a, (guint16) port);
bad:
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "--listen wants ADDR:PORT with a literal address, not '%s'", text);
  return NULL;
}

static gboolean
parse_flags (int argc, char **argv, Flags *f, GError **error)
{
  GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &f->listen, NULL, NULL },
    { "redis", 0, 0, G_OPTION_ARG_STRING, &f->redis, NULL, NULL },
    { "ttl", 0, 0, G_OPTION_ARG_INT, &f->ttl, NULL, NULL },
    { "stun-port", 0, 0, G_OPTION_ARG_STRING, &f->stun_port, NULL, NULL },
    { "stun-alt-port", 0, 0, G_OPTION_ARG_STRING, &f->stun_alt_port, NULL, NULL },
    { "tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &f->tls_cert, NULL, NULL },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &f->tls_key, NULL, NULL },
    { "trusted-proxy", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->proxies, NULL, NULL },
    { "poll-timeout", 0, 0, G_OPTION_ARG_INT, &f->poll_timeout, NULL, NULL },
    { "max-sessions", 0, 0, G_OPTION_ARG_INT, &f->max_sessions, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &f->help, NULL, NULL },
    { NULL },
  };
  if (!pp_cli_parse_options (&argc, &argv, entries, error))
    return FALSE;
  if (argc > 1)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                   argv[1]);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_flags (Flags *f, PpSignalServerOptions *o, GError **error)
{
  if (f->ttl != 0 && (f->ttl < 10 || f->ttl > 86400))
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--ttl must be 10 to 86400 seconds"), FALSE;
  if (f->poll_timeout != 0 && (f->poll_timeout < 1 || f->poll_timeout > 60))
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--poll-timeout must be 1 to 60 seconds"), FALSE;
  if (f->max_sessions < 0)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--max-sessions must be positive"), FALSE;
  if ((f->tls_cert == NULL) != (f->tls_key == NULL))
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--tls-cert and --tls-key go together"), FALSE;
  if (f->ttl != 0)
    o->ttl.waiting_ms = (int64_t) f->ttl * 1000;
  if (f->poll_timeout != 0)
    o->poll_timeout_ms = (guint) f->poll_timeout * 1000;
  if (f->max_sessions > 0)
    o->max_sessions = (guint) f->max_sessions;
  for (guint i = 0; f->proxies != NULL && f->proxies[i] != NULL; i++)
    if (!pp_signal_server_options_add_proxy (o, f->proxies[i], error))
      return g_prefix_error (error, "--trusted-proxy: "), FALSE;
  return TRUE;
}

/* UDP port for STUN: -1 off, 0 the HTTP port, else the number. */
static gboolean
parse_stun_port (const char *text, int *out, GError **error)
{
  char *end = NULL;
  long v;

  if (text == NULL)
    {
      *out = 0;
      return TRUE;
    }
  if (strcmp (text, "off") == 0)
    {
      *out = -1;
      return TRUE;
    }
  v = strtol (text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < 1 || v > 65535)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--stun-port wants a port number or 'off', not '%s'", text), FALSE;
  *out = (int) v;
  return TRUE;
}

static gboolean
quit_cb (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

/* --stun-alt-port: -1 none, else 0 (any) to 65535. */
static gboolean
parse_alt_port (const char *text, int *out, GError **error)
{
  char *end = NULL;
  long v;

  *out = -1;
  if (text == NULL)
    return TRUE;
  v = strtol (text, &end, 10);
  if (*text == '\0' || *end != '\0' || v < 0 || v > 65535)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--stun-alt-port wants a port number, not '%s'", text), FALSE;
  *out = (int) v;
  return TRUE;
}

/* The second STUN port (doctor's mapping test) on the HTTP address. */
static PpSignalStun *
listen_alt (GSocketAddress *addr, int alt_port, GError **error)
{
  g_autoptr (GSocketAddress) ua = g_inet_socket_address_new (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)), (guint16) alt_port);

  return pp_signal_stun_new (ua, 20.0, 50, error);
}

static int
serve (GSocketAddress *addr, PpSignalStore *store, const PpSignalServerOptions *o,
       GTlsCertificate *tls, int stun_port, int alt_port, gboolean redis)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (PpSignalServer) srv = pp_signal_server_new (o, store);
  g_autoptr (PpSignalStun) stun = NULL;
  g_autoptr (PpSignalStun) alt = NULL;
  g_autofree char *host = NULL;
  guint16 port;
  guint sigint, sigterm;

  if (!pp_signal_server_listen (srv, addr, tls, &error))
    {
      pp_cli_error ("signal", "cannot listen: %s", error->message);
      return PP_EXIT_UNAVAILABLE;
    }
  port = pp_signal_server_get_port (srv);
  host = g_inet_address_to_string (g_inet_socket_address_get_address (
                                     G_INET_SOCKET_ADDRESS (addr)));
  if (stun_port >= 0)
    {
      g_autoptr (GSocketAddress) ua = g_inet_socket_address_new (
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (addr)),
        stun_port == 0 ? port : (guint16) stun_port);

      stun = pp_signal_stun_new (ua, 20.0, 50, &error);
      if (stun == NULL)
        {
          pp_cli_error ("signal", "cannot listen for STUN: %s (use --stun-port)",
                        error->message);
          return PP_EXIT_UNAVAILABLE;
        }
    }
  if (stun != NULL && alt_port >= 0 && (alt = listen_alt (addr, alt_port, &error)) == NULL)
    {
      pp_cli_error ("signal", "cannot listen for STUN on --stun-alt-port: %s", error->message);
      return PP_EXIT_UNAVAILABLE;
    }
  pp_signal_server_set_stun_ports (srv, stun != NULL ? pp_signal_stun_get_port (stun) : 0,
                                   alt != NULL ? pp_signal_stun_get_port (alt) : 0);
  printf ("peerport: signal: listening on %s://%s%s%s:%u (%s store", tls ? "https" : "http",
          strchr (host, ':') ? "[" : "", host, strchr (host, ':') ? "]" : "", port,
          redis ? "Redis" : "memory");
  if (alt != NULL)
    printf (", STUN on udp ports %u and %u)\n", pp_signal_stun_get_port (stun),
            pp_signal_stun_get_port (alt));
  else if (stun != NULL)
    printf (", STUN on udp port %u)\n", pp_signal_stun_get_port (stun));
  else
    printf (", STUN off)\n");
  fflush (stdout);
  sigint = g_unix_signal_add (SIGINT, quit_cb, loop);
  sigterm = g_unix_signal_add (SIGTERM, quit_cb, loop);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);
  return PP_EXIT_OK;
}

static int
run (Flags *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GTlsCertificate) tls = NULL;
  PpSignalServerOptions o;
  PpSignalStore *store;
  int stun_port = 0, alt_port = -1, rc;

  pp_signal_server_options_init (&o);
  addr = parse_listen (f->listen != NULL ? f->listen : "0.0.0.0:8080", &error);
  if (addr == NULL || !check_flags (f, &o, &error)
      || !parse_stun_port (f->stun_port, &stun_port, &error)
      || !parse_alt_port (f->stun_alt_port, &alt_port, &error))
    {
      pp_cli_error ("usage", "%s", error->message);
      pp_signal_server_options_clear (&o);
      return PP_EXIT_USAGE;
    }
  if (f->tls_cert != NULL
      && (tls = g_tls_certificate_new_from_files (f->tls_cert, f->tls_key, &error)) == NULL)
    {
      pp_cli_error ("tls", "%s", error->message);
      pp_signal_server_options_clear (&o);
      return PP_EXIT_NOINPUT;
    }
  store = f->redis != NULL ? pp_signal_store_redis_new (f->redis, &error)
                           : pp_signal_store_memory_new ();
  if (store == NULL)
    {
      pp_cli_error ("usage", "--redis: %s", error->message);
      pp_signal_server_options_clear (&o);
      return PP_EXIT_USAGE;
    }
  rc = serve (addr, store, &o, tls, stun_port, alt_port, f->redis != NULL);
  pp_signal_server_options_clear (&o);
  return rc;
}

int
pp_cmd_signal (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  Flags f = { 0 };
  int rc;

  if (!parse_flags (argc, argv, &f, &error))
    {
      flags_clear (&f);
      return pp_cli_usage_error ("signal", error);
    }
  if (f.help)
    {
      fputs (signal_help, stdout);
      flags_clear (&f);
      return PP_EXIT_OK;
    }
  rc = run (&f);
  flags_clear (&f);
  return rc;
}
