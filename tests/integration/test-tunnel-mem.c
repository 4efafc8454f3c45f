/* SPDX-License-Identifier: MIT
 *
 * test-tunnel-mem: two full stacks (client and host tunnels with their TCP
 * adapters) in one process, joined by pp-mem-transport reordering at random.
 *
 *   app (main loop) ─TCP─▶ client listener ─▶ mux ═ mem ═ mux ─▶ host ─TCP─▶ service (threads)
 *
 * Apps are non-blocking sockets driven by the main context; services are
 * blocking sockets, one thread per connection.  Nothing sleeps: every wait
 * is pp_test_wait_until on a condition, bounded only to fail a broken test.
 */
#include "app/pp-epoll-source.h"
#include "app/pp-tcp-client.h"
#include "app/pp-tcp-host.h"
#include "app/pp-tunnel.h"
#include "core/pp-rules.h"
#include "transport/pp-mem-transport.h"
#include "pp-test-utils.h"

#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 120000
#define MIB (1024 * 1024)

/* --- an order-sensitive stream hash, independent of read boundaries --- */

typedef struct
{
  uint64_t h;
  uint64_t n;
} StreamHash;

static void
stream_hash_update (StreamHash *s, const uint8_t *p, size_t len)
{
  uint64_t h = s->h;

  for (size_t i = 0; i < len; i++)
    h = (h ^ p[i] ^ ((s->n + i) << 8)) * 0x100000001b3ull;
  s->h = h;
  s->n += len;
}

/* A deterministic endless stream: a random pattern of odd length repeated. */
#define PATTERN_LEN (MIB + 7)
static uint8_t *pattern;

static const uint8_t *
pattern_at (uint64_t offset, size_t *avail)
{
  size_t off = (size_t) (offset % PATTERN_LEN);

  *avail = PATTERN_LEN - off;
  return pattern + off;
}

/* ------------------------------------------------------------------ */
/* Services: blocking sockets, a thread per connection.               */

typedef enum
{
  SVC_ECHO,        /* echo until EOF, then EOF */
  SVC_SINK,        /* read until EOF, answer with count + hash, close */
  SVC_ANSWER,      /* read until EOF, then answer "got N bytes" and close */
  SVC_RESET,       /* write 256 KiB, then reset */
  SVC_SOURCE,      /* write the pattern until the peer goes away */
} ServiceKind;

typedef struct
{
  ServiceKind kind;
  int lfd;
  uint16_t port;
  GThread *acceptor;
  GMutex lock;
  GPtrArray *threads;
  gint accepted;          /* atomic */
  gint finished;          /* atomic */
} Service;

typedef struct
{
  Service *svc;
  int fd;
} ServiceConn;

static gboolean
write_all (int fd, const void *buf, size_t len)
{
  const uint8_t *p = buf;

  while (len > 0)
    {
      ssize_t n = send (fd, p, len, MSG_NOSIGNAL);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      len -= (size_t) n;
    }
  return TRUE;
}

static void
service_run_echo (int fd)
{
  uint8_t buf[65536];
  ssize_t n;

  while ((n = recv (fd, buf, sizeof buf, 0)) > 0)
    if (!write_all (fd, buf, (size_t) n))
      return;
  if (n == 0)
    shutdown (fd, SHUT_WR);
}

static void
service_run_sink (int fd, gboolean hashed)
{
  g_autofree uint8_t *buf = g_malloc (262144);
  StreamHash sh = { 0 };
  ssize_t n;

  while ((n = recv (fd, buf, 262144, 0)) > 0)
    if (hashed)
      stream_hash_update (&sh, buf, (size_t) n);
    else
      sh.n += (uint64_t) n;
  if (n < 0)
    return;
  if (hashed)
    {
      uint64_t out[2] = { sh.n, sh.h };

      write_all (fd, out, sizeof out);
    }
  else
    {
      g_autofree char *answer = g_strdup_printf ("got %" G_GUINT64_FORMAT " bytes", sh.n);

      write_all (fd, answer, strlen (answer));
    }
}

static void
service_run_reset (int fd)
{
  struct linger lg = { 1, 0 };

  write_all (fd, pattern, 256 * 1024);
  setsockopt (fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

static void
service_run_source (int fd)
{
  uint64_t off = 0;

  for (;;)
    {
      size_t avail;
      const uint8_t *p = pattern_at (off, &avail);
      ssize_t n = send (fd, p, MIN (avail, 65536), MSG_NOSIGNAL);

      if (n <= 0 && errno != EINTR)
        return;
      if (n > 0)
        off += (uint64_t) n;
    }
}

static gpointer
service_conn_thread (gpointer data)
{
  ServiceConn *sc = data;

  switch (sc->svc->kind)
    {
    case SVC_ECHO:
      service_run_echo (sc->fd);
      break;
    case SVC_SINK:
      service_run_sink (sc->fd, TRUE);
      break;
    case SVC_ANSWER:
      service_run_sink (sc->fd, FALSE);
      break;
    case SVC_RESET:
      service_run_reset (sc->fd);
      break;
    case SVC_SOURCE:
      service_run_source (sc->fd);
      break;
    }
  close (sc->fd);
  g_atomic_int_inc (&sc->svc->finished);
  g_free (sc);
  return NULL;
}

static gpointer
service_accept_thread (gpointer data)
{
  Service *svc = data;

  for (;;)
    {
      int fd = accept4 (svc->lfd, NULL, NULL, SOCK_CLOEXEC);
      ServiceConn *sc;
      int one = 1;

      if (fd < 0 && errno == EINTR)
        continue;
      if (fd < 0)
        return NULL;
      setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      sc = g_new0 (ServiceConn, 1);
      sc->svc = svc;
      sc->fd = fd;
      g_atomic_int_inc (&svc->accepted);
      g_mutex_lock (&svc->lock);
      g_ptr_array_add (svc->threads, g_thread_new ("svc-conn", service_conn_thread, sc));
      g_mutex_unlock (&svc->lock);
    }
}

static int
listen_loopback (uint16_t port, uint16_t *out_port)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;

  g_assert_cmpint (fd, >=, 0);
  setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (listen (fd, 512), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  *out_port = ntohs (sin.sin_port);
  return fd;
}

static Service *
service_new (ServiceKind kind)
{
  Service *svc = g_new0 (Service, 1);

  svc->kind = kind;
  svc->lfd = listen_loopback (0, &svc->port);
  g_mutex_init (&svc->lock);
  svc->threads = g_ptr_array_new ();
  svc->acceptor = g_thread_new ("svc-accept", service_accept_thread, svc);
  return svc;
}

static void
service_free (Service *svc)
{
  shutdown (svc->lfd, SHUT_RDWR);
  g_thread_join (svc->acceptor);
  close (svc->lfd);
  for (guint i = 0; i < svc->threads->len; i++)
    g_thread_join (svc->threads->pdata[i]);
  g_ptr_array_unref (svc->threads);
  g_mutex_clear (&svc->lock);
  g_free (svc);
}

/* ------------------------------------------------------------------ */
/* Two stacks over one reordering in-memory transport.                 */

typedef struct
{
  PpEpoll *ep_client;
  PpEpoll *ep_host;
  PpTransport *tc;
  PpTransport *th;
  PpTunnel *client;
  PpTunnel *host;
  PpRules *rules;
  gboolean ready_client;
  gboolean ready_host;
} Stack;

static void
stack_event_cb (PpTunnel *tun, const PpTunnelEvent *ev, gpointer user_data)
{
  gboolean *ready = user_data;

  if (ev->type == PP_TUNNEL_EV_READY)
    *ready = TRUE;
}

static gboolean
stack_is_ready (gpointer data)
{
  Stack *s = data;

  return s->ready_client && s->ready_host;
}

static Stack *
stack_new_full (size_t max_message_size, gboolean wait_ready)
{
  Stack *s = g_new0 (Stack, 1);
  PpMemConfig mc;

  pp_mem_config_init (&mc);
  mc.order = PP_MEM_ORDER_RANDOM;
  mc.window = 16;
  mc.seed = 20240601;
  if (max_message_size)
    mc.max_message_size = max_message_size;
  pp_mem_transport_pair_new (&mc, &s->tc, &s->th);
  s->ep_client = pp_epoll_new (NULL, NULL);
  s->ep_host = pp_epoll_new (NULL, NULL);
  g_assert_nonnull (s->ep_client);
  s->rules = pp_rules_new ();
  s->client = pp_tunnel_new (s->tc, PP_MUX_ROLE_CLIENT, NULL, s->ep_client);
  s->host = pp_tunnel_new (s->th, PP_MUX_ROLE_HOST, NULL, s->ep_host);
  pp_tunnel_set_rules (s->host, s->rules);
  pp_tunnel_set_event_func (s->client, stack_event_cb, &s->ready_client);
  pp_tunnel_set_event_func (s->host, stack_event_cb, &s->ready_host);
  if (wait_ready)
    g_assert_true (pp_test_wait_until (NULL, stack_is_ready, s, WAIT_MS));
  return s;
}

static Stack *
stack_new (void)
{
  return stack_new_full (0, TRUE);
}

static void
stack_allow (Stack *s, const char *rule)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *warning = NULL;

  g_assert_cmpuint (pp_rules_add (s->rules, rule, &warning, &error), >, 0);
  g_assert_no_error (error);
}

/* Maps a fresh local port to @target; returns the local port. */
static uint16_t
stack_map (Stack *s, const char *target, guint *id_out)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("127.0.0.1:0 => %s", target);
  guint id = pp_tunnel_add_mapping (s->client, text, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (id, >, 0);
  if (id_out)
    *id_out = id;
  return pp_tcp_client_get_port (pp_tunnel_get_client (s->client), id);
}

static void
stack_free (Stack *s)
{
  pp_tunnel_free (s->client);
  pp_tunnel_free (s->host);
  pp_transport_unref (s->tc);
  pp_transport_unref (s->th);
  pp_epoll_free (s->ep_client);
  pp_epoll_free (s->ep_host);
  pp_rules_free (s->rules);
  /* Let the mem transport's and the resolver's last callbacks run. */
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_free (s);
}

/* ------------------------------------------------------------------ */
/* Apps: non-blocking sockets in the main context.                    */

typedef struct
{
  int fd;
  guint in_id;
  guint out_id;
  uint64_t tx_total;        /* bytes of the pattern to send */
  uint64_t tx_done;
  gboolean shut_after;      /* shutdown(SHUT_WR) after tx_total */
  gboolean tx_shut;
  gboolean echo_check;      /* received bytes must equal the pattern */
  GByteArray *keep;         /* received bytes, if wanted */
  StreamHash rx;
  uint64_t mismatches;
  gboolean eof;
  int err;                  /* errno of a failed read */
} App;

static gboolean app_out_cb (gint fd, GIOCondition cond, gpointer data);

static gboolean
app_in_cb (gint fd, GIOCondition cond, gpointer data)
{
  App *a = data;
  static uint8_t buf[262144];

  for (int i = 0; i < 4; i++)
    {
      ssize_t n = recv (fd, buf, sizeof buf, 0);

      if (n > 0)
        {
          if (a->echo_check)
            {
              size_t avail;
              const uint8_t *p = pattern_at (a->rx.n, &avail);

              if (memcmp (p, buf, MIN (avail, (size_t) n)) != 0
                  || (avail < (size_t) n && memcmp (pattern, buf + avail, (size_t) n - avail)))
                a->mismatches++;
            }
          if (a->keep)
            g_byte_array_append (a->keep, buf, (guint) n);
          stream_hash_update (&a->rx, buf, (size_t) n);
          continue;
        }
      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
      if (n == 0)
        a->eof = TRUE;
      else
        a->err = errno;
      a->in_id = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
app_out_cb (gint fd, GIOCondition cond, gpointer data)
{
  App *a = data;

  for (int i = 0; i < 16 && a->tx_done < a->tx_total; i++)
    {
      size_t avail;
      const uint8_t *p = pattern_at (a->tx_done, &avail);
      ssize_t n = send (fd, p, MIN (MIN (avail, 262144), a->tx_total - a->tx_done),
                        MSG_NOSIGNAL);

      if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return G_SOURCE_CONTINUE;
      if (n < 0)
        {
          a->out_id = 0;
          return G_SOURCE_REMOVE;
        }
      a->tx_done += (uint64_t) n;
    }
  if (a->tx_done < a->tx_total)
    return G_SOURCE_CONTINUE;
  if (a->shut_after && !a->tx_shut)
    {
      shutdown (fd, SHUT_WR);
      a->tx_shut = TRUE;
    }
  a->out_id = 0;
  return G_SOURCE_REMOVE;
}

/* Connects to the tunnel's listener; reading starts unless @slow. */
static App *
app_new (uint16_t port, uint64_t tx_total, gboolean shut_after, gboolean slow)
{
  App *a = g_new0 (App, 1);
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };

  sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  a->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  g_assert_cmpint (connect (a->fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_unix_set_fd_nonblocking (a->fd, TRUE, NULL);
  a->tx_total = tx_total;
  a->shut_after = shut_after;
  if (!slow)
    a->in_id = g_unix_fd_add (a->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, app_in_cb, a);
  if (tx_total > 0 || shut_after)
    a->out_id = g_unix_fd_add (a->fd, G_IO_OUT, app_out_cb, a);
  return a;
}

static void
app_free (App *a)
{
  if (a->in_id)
    g_source_remove (a->in_id);
  if (a->out_id)
    g_source_remove (a->out_id);
  if (a->keep)
    g_byte_array_unref (a->keep);
  close (a->fd);
  g_free (a);
}

static gboolean
app_ended (gpointer data)
{
  App *a = data;

  return a->eof || a->err;
}

typedef struct
{
  App **apps;
  guint n;
} AppSet;

static gboolean
apps_ended (gpointer data)
{
  AppSet *set = data;

  for (guint i = 0; i < set->n; i++)
    if (!app_ended (set->apps[i]))
      return FALSE;
  return TRUE;
}

typedef struct
{
  Stack *s;
} StackRef;

static gboolean
stack_idle (gpointer data)
{
  Stack *s = data;

  return pp_tcp_client_count_sockets (pp_tunnel_get_client (s->client)) == 0
         && pp_tcp_host_count_sockets (pp_tunnel_get_host (s->host)) == 0;
}

/* ------------------------------------------------------------------ */
/* (1) 100 sockets × 1 MiB echoed concurrently.                       */

static void
test_echo_many (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autofree char *rule = g_strdup_printf ("127.0.0.1:%u", svc->port);
  App *apps[100];
  AppSet set = { apps, G_N_ELEMENTS (apps) };
  uint16_t port;

  stack_allow (s, rule);
  port = stack_map (s, target, NULL);
  for (guint i = 0; i < set.n; i++)
    {
      apps[i] = app_new (port, MIB, TRUE, FALSE);
      apps[i]->echo_check = TRUE;
    }
  g_assert_true (pp_test_wait_until (NULL, apps_ended, &set, WAIT_MS));
  for (guint i = 0; i < set.n; i++)
    {
      g_assert_cmpint (apps[i]->err, ==, 0);
      g_assert_true (apps[i]->eof);
      g_assert_cmpuint (apps[i]->rx.n, ==, MIB);
      g_assert_cmpuint (apps[i]->mismatches, ==, 0);
      app_free (apps[i]);
    }
  g_assert_true (pp_test_wait_until (NULL, stack_idle, s, WAIT_MS));
  stack_free (s);
  service_free (svc);
}

/* An app that connects before the session is ready waits in the listen
 * queue (not accepted, not reset) and is served once it is. */
static void
test_early_app (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new_full (0, FALSE);
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autofree char *rule = g_strdup_printf ("127.0.0.1:%u", svc->port);
  App *a;

  stack_allow (s, rule);
  a = app_new (stack_map (s, target, NULL), 5000, TRUE, FALSE);
  a->echo_check = TRUE;
  g_assert_false (stack_is_ready (s));
  g_assert_cmpuint (pp_tcp_client_count_sockets (pp_tunnel_get_client (s->client)), ==, 0);
  g_assert_true (pp_test_wait_until (NULL, app_ended, a, WAIT_MS));
  g_assert_true (stack_is_ready (s));
  g_assert_cmpint (a->err, ==, 0);
  g_assert_true (a->eof);
  g_assert_cmpuint (a->rx.n, ==, 5000);
  g_assert_cmpuint (a->mismatches, ==, 0);
  app_free (a);
  stack_free (s);
  service_free (svc);
}

/* ------------------------------------------------------------------ */
/* (2) Bulk one way with chunk_ids wrapping; (3) half-close.          */

static uint64_t
bulk_bytes (void)
{
  const char *env = g_getenv ("PP_TEST_BULK_MIB");

  return (env ? g_ascii_strtoull (env, NULL, 10) : 2048) * MIB;
}

static void
test_bulk_one_way (void)
{
  Service *svc = service_new (SVC_SINK);
  /* Small messages: ≈ 4 KiB of payload per DATA, so chunk_id wraps often. */
  Stack *s = stack_new_full (4096, TRUE);
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autofree char *rule = g_strdup_printf ("127.0.0.1:%u", svc->port);
  uint64_t total = bulk_bytes ();
  StreamHash expect = { 0 };
  PpMuxStats stats;
  int64_t t0;
  double secs;
  App *a;

  for (uint64_t off = 0; off < total;)
    {
      size_t avail;
      const uint8_t *p = pattern_at (off, &avail);

      avail = MIN (avail, total - off);
      stream_hash_update (&expect, p, avail);
      off += avail;
    }
  stack_allow (s, rule);
  a = app_new (stack_map (s, target, NULL), total, TRUE, FALSE);
  a->keep = g_byte_array_new ();
  t0 = g_get_monotonic_time ();
  g_assert_true (pp_test_wait_until (NULL, app_ended, a, 600000));
  secs = (double) (g_get_monotonic_time () - t0) / G_USEC_PER_SEC;
  g_test_message ("bulk: %" G_GUINT64_FORMAT " MiB client->host in %.2f s (%.0f MiB/s)",
                  total / MIB, secs, (double) total / MIB / secs);
  g_assert_cmpint (a->err, ==, 0);
  g_assert_true (a->eof);
  g_assert_cmpuint (a->keep->len, ==, 16);
  g_assert_cmpuint (((uint64_t *) a->keep->data)[0], ==, total);
  g_assert_cmpuint (((uint64_t *) a->keep->data)[1], ==, expect.h);
  pp_mux_get_stats (pp_tunnel_get_mux (s->client), &stats);
  g_test_message ("bulk: %" G_GUINT64_FORMAT " messages out", stats.messages_out);
  if (total >= 1024 * MIB)
    g_assert_cmpuint (stats.messages_out, >, 4 * 65536);
  app_free (a);
  stack_free (s);
  service_free (svc);
}

static void
test_half_close (void)
{
  Service *svc = service_new (SVC_ANSWER);
  Stack *s = stack_new ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autofree char *rule = g_strdup_printf ("127.0.0.1:%u", svc->port);
  App *a;

  stack_allow (s, rule);
  a = app_new (stack_map (s, target, NULL), 1000, TRUE, FALSE);
  a->keep = g_byte_array_new ();
  g_assert_true (pp_test_wait_until (NULL, app_ended, a, WAIT_MS));
  g_assert_cmpint (a->err, ==, 0);
  g_assert_true (a->eof);
  g_assert_cmpmem (a->keep->data, a->keep->len, "got 1000 bytes", 14);
  app_free (a);
  g_assert_true (pp_test_wait_until (NULL, stack_idle, s, WAIT_MS));
  stack_free (s);
  service_free (svc);
}

/* ------------------------------------------------------------------ */
/* (4) A slow reader does not stall another socket nor grow memory.   */

typedef struct
{
  Stack *s;
  App *fast;
  size_t max_client_rx;
  size_t max_host_tx;
} SlowWatch;

static gboolean
slow_watch_cond (gpointer data)
{
  SlowWatch *w = data;
  PpMuxStats cs, hs;

  pp_mux_get_stats (pp_tunnel_get_mux (w->s->client), &cs);
  pp_mux_get_stats (pp_tunnel_get_mux (w->s->host), &hs);
  w->max_client_rx = MAX (w->max_client_rx, cs.rx_queued);
  w->max_host_tx = MAX (w->max_host_tx, hs.tx_queued);
  return app_ended (w->fast);
}

static void
test_slow_reader (void)
{
  Service *source = service_new (SVC_SOURCE);
  Service *sink = service_new (SVC_SINK);
  Stack *s = stack_new ();
  g_autofree char *t1 = g_strdup_printf ("127.0.0.1:%u", source->port);
  g_autofree char *t2 = g_strdup_printf ("127.0.0.1:%u", sink->port);
  PpMuxConfig defaults;
  SlowWatch w = { s, NULL, 0, 0 };
  PpMuxStats cs;
  App *slow;

  pp_mux_config_init (&defaults);
  stack_allow (s, "127.0.0.1:*");
  slow = app_new (stack_map (s, t1, NULL), 0, FALSE, TRUE);
  w.fast = app_new (stack_map (s, t2, NULL), 32 * (uint64_t) defaults.socket_window, TRUE, FALSE);
  w.fast->keep = g_byte_array_new ();
  g_assert_true (pp_test_wait_until (NULL, slow_watch_cond, &w, WAIT_MS));
  g_assert_cmpint (w.fast->err, ==, 0);
  g_assert_cmpuint (w.fast->keep->len, ==, 16);
  g_assert_cmpuint (((uint64_t *) w.fast->keep->data)[0], ==,
                    32 * (uint64_t) defaults.socket_window);
  /* The slow socket is stalled, alive, and its queue stayed within W. */
  pp_mux_get_stats (pp_tunnel_get_mux (s->client), &cs);
  g_test_message ("slow reader: max client rx_queued %zu, max host tx_queued %zu, W %u",
                  w.max_client_rx, w.max_host_tx, defaults.socket_window);
  g_assert_cmpuint (cs.rx_queued, >, 0);
  g_assert_cmpuint (w.max_client_rx, <=, defaults.socket_window);
  g_assert_cmpuint (w.max_host_tx, <=, defaults.socket_window);
  g_assert_cmpint (slow->err, ==, 0);
  g_assert_false (slow->eof);
  app_free (slow);
  app_free (w.fast);
  stack_free (s);
  service_free (source);
  service_free (sink);
}

/* ------------------------------------------------------------------ */
/* (5) refused, (6) abnormal ends: the app sees a reset, never EOF.    */

static void
assert_reset (App *a)
{
  g_assert_true (pp_test_wait_until (NULL, app_ended, a, WAIT_MS));
  g_assert_false (a->eof);
  g_assert_cmpint (a->err, ==, ECONNRESET);
}

static void
test_refused (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  App *a;

  /* No rule at all. */
  a = app_new (stack_map (s, target, NULL), 100, FALSE, FALSE);
  assert_reset (a);
  g_assert_cmpint (g_atomic_int_get (&svc->accepted), ==, 0);
  app_free (a);
  g_assert_true (pp_test_wait_until (NULL, stack_idle, s, WAIT_MS));
  stack_free (s);
  service_free (svc);
}

static void
test_service_reset (void)
{
  Service *svc = service_new (SVC_RESET);
  Stack *s = stack_new ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autofree char *rule = g_strdup_printf ("127.0.0.1:%u", svc->port);
  App *a;

  stack_allow (s, rule);
  a = app_new (stack_map (s, target, NULL), 0, FALSE, FALSE);
  assert_reset (a);
  app_free (a);
  g_assert_true (pp_test_wait_until (NULL, stack_idle, s, WAIT_MS));
  stack_free (s);
  service_free (svc);
}

/* ------------------------------------------------------------------ */
/* The per-connection observer (pp_tunnel_set_conn_func).              */

typedef struct
{
  PpTcpConnEventType type;
  uint64_t id;
  guint via;
  gboolean opened;
  uint8_t reason;
  uint16_t dst_port;
  uint64_t bytes_in;
  uint64_t bytes_out;
} Seen;

typedef struct
{
  GArray *client;           /* of Seen */
  GArray *host;
} Observed;

static void
observe_cb (PpTunnel *tun, const PpTcpConnEvent *ev, gpointer user_data)
{
  GArray *seen = user_data;
  Seen one = { ev->type, ev->id, ev->via, ev->opened, ev->reason, ev->tuple->dst_port,
               ev->bytes_in, ev->bytes_out };

  g_assert_nonnull (ev->detail);
  g_array_append_val (seen, one);
}

static void
observe (Stack *s, Observed *o)
{
  o->client = g_array_new (FALSE, TRUE, sizeof (Seen));
  o->host = g_array_new (FALSE, TRUE, sizeof (Seen));
  pp_tunnel_set_conn_func (s->client, observe_cb, o->client);
  pp_tunnel_set_conn_func (s->host, observe_cb, o->host);
}

typedef struct
{
  Stack *s;
  Observed *o;
  guint n_client;
  guint n_host;
} ObservedWait;

static gboolean
observed_enough (gpointer data)
{
  ObservedWait *w = data;

  return stack_idle (w->s) && w->o->client->len >= w->n_client && w->o->host->len >= w->n_host;
}

/* Waits for @n_client and @n_host events, lets the loop run dry, and checks
 * that no more came. */
static void
observed_wait (Stack *s, Observed *o, guint n_client, guint n_host)
{
  ObservedWait w = { s, o, n_client, n_host };

  g_assert_true (pp_test_wait_until (NULL, observed_enough, &w, WAIT_MS));
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_assert_cmpuint (o->client->len, ==, n_client);
  g_assert_cmpuint (o->host->len, ==, n_host);
}

static void
observed_clear (Stack *s, Observed *o)
{
  pp_tunnel_set_conn_func (s->client, NULL, NULL);
  pp_tunnel_set_conn_func (s->host, NULL, NULL);
  g_array_unref (o->client);
  g_array_unref (o->host);
}

static const Seen *
seen_at (GArray *a, guint i)
{
  return &g_array_index (a, Seen, i);
}

/* OPENED then CLOSED(@reason) for connection 1. */
static void
assert_open_close (GArray *a, guint via, uint16_t port, uint8_t reason)
{
  const Seen *op = seen_at (a, 0);
  const Seen *cl = seen_at (a, 1);

  g_assert_cmpint (op->type, ==, PP_TCP_CONN_OPENED);
  g_assert_cmpint (cl->type, ==, PP_TCP_CONN_CLOSED);
  g_assert_cmpuint (op->id, ==, 1);
  g_assert_cmpuint (cl->id, ==, 1);
  g_assert_cmpuint (op->via, ==, via);
  g_assert_cmpuint (op->dst_port, ==, port);
  g_assert_true (cl->opened);
  g_assert_cmpuint (cl->reason, ==, reason);
}

static void
test_observer_normal (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  Observed o;
  guint map_id = 0;
  App *a;

  observe (s, &o);
  stack_allow (s, target);
  a = app_new (stack_map (s, target, &map_id), 1000, TRUE, FALSE);
  g_assert_true (pp_test_wait_until (NULL, app_ended, a, WAIT_MS));
  g_assert_true (a->eof);
  observed_wait (s, &o, 2, 2);
  assert_open_close (o.client, map_id, svc->port, PP_CLOSE_NORMAL);
  assert_open_close (o.host, 0, svc->port, PP_CLOSE_NORMAL);
  /* Client: out = read from the app; host: in = written to the service. */
  g_assert_cmpuint (seen_at (o.client, 1)->bytes_out, ==, 1000);
  g_assert_cmpuint (seen_at (o.client, 1)->bytes_in, ==, 1000);
  g_assert_cmpuint (seen_at (o.host, 1)->bytes_in, ==, 1000);
  g_assert_cmpuint (seen_at (o.host, 1)->bytes_out, ==, 1000);
  app_free (a);
  observed_clear (s, &o);
  stack_free (s);
  service_free (svc);
}

static void
test_observer_refused (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  Observed o;
  App *a;

  observe (s, &o);
  a = app_new (stack_map (s, target, NULL), 100, FALSE, FALSE);
  assert_reset (a);
  observed_wait (s, &o, 1, 1);
  for (guint i = 0; i < 2; i++)
    {
      const Seen *cl = seen_at (i == 0 ? o.client : o.host, 0);

      g_assert_cmpint (cl->type, ==, PP_TCP_CONN_CLOSED);
      g_assert_cmpuint (cl->id, ==, 1);
      g_assert_false (cl->opened);
      g_assert_cmpuint (cl->reason, ==, PP_CLOSE_REFUSED);
    }
  g_assert_cmpint (g_atomic_int_get (&svc->accepted), ==, 0);
  app_free (a);
  observed_clear (s, &o);
  stack_free (s);
  service_free (svc);
}

/* Both sides saw OPENED. */
static gboolean
observer_opened (gpointer data)
{
  Observed *o = data;

  return o->client->len >= 1 && o->host->len >= 1;
}

static gboolean
app_got_1000 (gpointer data)
{
  return ((App *) data)->rx.n >= 1000;
}

/* The app resets its socket (SO_LINGER 0) while the connection is open: its
 * pump reads ECONNRESET, the host's pump gets CLOSE(4).  (A service that
 * resets at once may beat the host's connect check: "connect failed".) */
static void
test_observer_reset (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  struct linger lg = { 1, 0 };
  Observed o;
  guint map_id = 0;
  App *a;

  observe (s, &o);
  stack_allow (s, target);
  a = app_new (stack_map (s, target, &map_id), 1000, FALSE, FALSE);
  g_assert_true (pp_test_wait_until (NULL, app_got_1000, a, WAIT_MS));
  g_assert_true (pp_test_wait_until (NULL, observer_opened, &o, WAIT_MS));
  g_assert_cmpint (setsockopt (a->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), ==, 0);
  app_free (a);
  observed_wait (s, &o, 2, 2);
  assert_open_close (o.client, map_id, svc->port, PP_CLOSE_RESET);
  assert_open_close (o.host, 0, svc->port, PP_CLOSE_RESET);
  g_assert_cmpuint (seen_at (o.client, 1)->bytes_out, ==, 1000);
  g_assert_cmpuint (seen_at (o.host, 1)->bytes_in, ==, 1000);
  observed_clear (s, &o);
  stack_free (s);
  service_free (svc);
}

/* --- the water marks follow a transport's send window --- */

typedef struct
{
  PpTransport base;
  size_t window;
} WindowTransport;

static gboolean
window_send (PpTransport *t, GBytes *msg, GError **error)
{
  return TRUE;
}

static size_t
window_get (PpTransport *t)
{
  return ((WindowTransport *) t)->window;
}

static void
window_finalize (PpTransport *t)
{
  g_free (t);
}

static const PpTransportClass window_class = {
  .send = window_send,
  .get_send_window = window_get,
  .finalize = window_finalize,
};

/* The tunnel keeps about one send window below the mux: low water = 7/8 of
 * high = window + 1/8, clamped to 8..256 KiB; 0 (unknown) keeps the marks. */
static void
test_water_follows_window (void)
{
  WindowTransport *w = g_new0 (WindowTransport, 1);
  PpTransport *t = &w->base;
  PpEpoll *ep = pp_epoll_new (NULL, NULL);
  PpTunnel *tun;

  pp__transport_init (t, &window_class);
  g_assert_cmpuint (pp_transport_get_send_window (t), ==, 0);
  tun = pp_tunnel_new (t, PP_MUX_ROLE_CLIENT, NULL, ep);
  g_assert_cmpuint (pp_transport_get_low_water (t), ==, PP_TUNNEL_LOW_WATER);
  w->window = 10 * MIB;
  pp__transport_emit_opened (t);
  g_assert_cmpuint (pp_transport_get_low_water (t), ==, PP_TUNNEL_HIGH_WATER / 8 * 7);
  w->window = 40000;
  pp__transport_emit_buffered_low (t);
  g_assert_cmpuint (pp_transport_get_low_water (t), ==, 45000 - 45000 / 8);
  w->window = 1000;
  pp__transport_emit_buffered_low (t);
  g_assert_cmpuint (pp_transport_get_low_water (t), ==, 8192 - 8192 / 8);
  w->window = 0;
  pp__transport_emit_buffered_low (t);
  g_assert_cmpuint (pp_transport_get_low_water (t), ==, 8192 - 8192 / 8);
  pp_tunnel_free (tun);
  pp_transport_unref (t);
  pp_epoll_free (ep);
}

/* A port nobody listens on: bound, then closed. */
static uint16_t
closed_port (void)
{
  struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof sin;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  g_assert_cmpint (bind (fd, (struct sockaddr *) &sin, sizeof sin), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &sin, &len), ==, 0);
  close (fd);
  return ntohs (sin.sin_port);
}

/* The host's connect fails: CLOSE(2), and the app sees a reset.  (The
 * reason's detail belongs to the connector, which is gone by then: this
 * once read freed memory.) */
static void
test_connect_failed (void)
{
  Stack *s = stack_new ();
  uint16_t port = closed_port ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", port);
  App *a;

  stack_allow (s, target);
  a = app_new (stack_map (s, target, NULL), 100, FALSE, FALSE);
  assert_reset (a);
  app_free (a);
  g_assert_true (pp_test_wait_until (NULL, stack_idle, s, WAIT_MS));
  stack_free (s);
}

static gboolean
app_received_some (gpointer data)
{
  App *a = data;

  return a->rx.n >= MIB || app_ended (a);
}

static void
test_transport_severed (void)
{
  Service *svc = service_new (SVC_SOURCE);
  Stack *s = stack_new ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autofree char *rule = g_strdup_printf ("127.0.0.1:%u", svc->port);
  App *a;

  stack_allow (s, rule);
  a = app_new (stack_map (s, target, NULL), 0, FALSE, FALSE);
  g_assert_true (pp_test_wait_until (NULL, app_received_some, a, WAIT_MS));
  g_assert_false (app_ended (a));
  pp_mem_transport_sever (s->tc, "test cut the link");
  assert_reset (a);
  app_free (a);
  g_assert_true (pp_test_wait_until (NULL, stack_idle, s, WAIT_MS));
  stack_free (s);
  service_free (svc);
}

/* ------------------------------------------------------------------ */
/* (7) deny / unmap close live sockets and count them.                 */

static gboolean
apps_got_echo (gpointer data)
{
  AppSet *set = data;

  for (guint i = 0; i < set->n; i++)
    if (set->apps[i]->rx.n < 100)
      return FALSE;
  return TRUE;
}

static void
test_revoke (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new ();
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autofree char *rule = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autoptr (GError) error = NULL;
  App *apps[3];
  AppSet set = { apps, G_N_ELEMENTS (apps) };
  uint16_t port;
  guint id;

  stack_allow (s, "10.0.0.0/8:*");
  id = pp_rules_add (s->rules, rule, NULL, &error);
  g_assert_no_error (error);
  port = stack_map (s, target, NULL);
  for (guint i = 0; i < set.n; i++)
    apps[i] = app_new (port, 100, FALSE, FALSE);
  g_assert_true (pp_test_wait_until (NULL, apps_got_echo, &set, WAIT_MS));
  /* Removing an unrelated rule revokes nothing. */
  g_assert_cmpuint (pp_rules_remove (s->rules, "10.0.0.0/8:*", &error), >, 0);
  g_assert_cmpuint (pp_tcp_host_revoke (pp_tunnel_get_host (s->host)), ==, 0);
  {
    g_autofree char *what = g_strdup_printf ("#%u", id);

    g_assert_cmpuint (pp_rules_remove (s->rules, what, &error), ==, id);
  }
  g_assert_cmpuint (pp_tcp_host_revoke (pp_tunnel_get_host (s->host)), ==, 3);
  for (guint i = 0; i < set.n; i++)
    {
      assert_reset (apps[i]);
      app_free (apps[i]);
    }
  g_assert_true (pp_test_wait_until (NULL, stack_idle, s, WAIT_MS));
  stack_free (s);
  service_free (svc);
}

static void
test_unmap (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new ();
  PpTcpClient *cl = pp_tunnel_get_client (s->client);
  g_autofree char *target = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autofree char *rule = g_strdup_printf ("127.0.0.1:%u", svc->port);
  g_autofree char *what = NULL;
  g_autoptr (GError) error = NULL;
  App *apps[2];
  AppSet set = { apps, G_N_ELEMENTS (apps) };
  guint id, n_closed = 0;
  uint16_t port;

  stack_allow (s, rule);
  port = stack_map (s, target, &id);
  for (guint i = 0; i < set.n; i++)
    apps[i] = app_new (port, 100, FALSE, FALSE);
  g_assert_true (pp_test_wait_until (NULL, apps_got_echo, &set, WAIT_MS));
  g_assert_cmpuint (pp_tcp_client_count_sockets (cl), ==, 2);
  g_assert_false (pp_tcp_client_remove_mapping (cl, "#99", NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  what = g_strdup_printf ("#%u", id);
  g_assert_true (pp_tcp_client_remove_mapping (cl, what, &n_closed, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_closed, ==, 2);
  g_assert_cmpuint (pp_tcp_client_count_mappings (cl), ==, 0);
  for (guint i = 0; i < set.n; i++)
    {
      assert_reset (apps[i]);
      app_free (apps[i]);
    }
  g_assert_true (pp_test_wait_until (NULL, stack_idle, s, WAIT_MS));
  stack_free (s);
  service_free (svc);
}

/* ------------------------------------------------------------------ */
/* (8) mapping errors and port 0.                                      */

static void
test_mapping_ports (void)
{
  Stack *s = stack_new ();
  PpTcpClient *cl = pp_tunnel_get_client (s->client);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  g_autofree char *port_text = NULL;
  const char *display = NULL;
  uint16_t busy_port;
  int busy = listen_loopback (0, &busy_port);
  guint id;

  text = g_strdup_printf ("127.0.0.1:%u => 127.0.0.1:80", busy_port);
  g_assert_cmpuint (pp_tunnel_add_mapping (s->client, text, &error), ==, 0);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, "in use"));
  g_clear_error (&error);
  g_assert_cmpuint (pp_tcp_client_count_mappings (cl), ==, 0);
  /* The session goes on: port 0 picks a port and shows it. */
  id = pp_tunnel_add_mapping (s->client, "0 => 127.0.0.1:80", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_tcp_client_get_port (cl, id), >, 0);
  g_assert_true (pp_tcp_client_nth_mapping (cl, 0, NULL, &display));
  port_text = g_strdup_printf (":%u ", pp_tcp_client_get_port (cl, id));
  g_assert_nonnull (strstr (display, port_text));
  g_assert_false (pp_tcp_client_nth_mapping (cl, 1, NULL, NULL));
  /* Removal by text, in the other (ssh) form of the same mapping. */
  {
    guint n_closed = 99;

    g_assert_true (pp_tcp_client_remove_mapping (cl, "0:127.0.0.1:80", &n_closed, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (n_closed, ==, 0);
    g_assert_cmpuint (pp_tcp_client_count_mappings (cl), ==, 0);
  }
  close (busy);
  stack_free (s);
}

/* ------------------------------------------------------------------ */
/* (9) CONNECT by name: allowed, and the anti-rebinding refusal.       */

static GPtrArray *logged;

static void
capture_log (const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
  g_ptr_array_add (logged, g_strdup (message));
}

static gboolean
logged_contains (const char *needle)
{
  for (guint i = 0; i < logged->len; i++)
    if (strstr (logged->pdata[i], needle))
      return TRUE;
  return FALSE;
}

static void
test_connect_by_name (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new ();
  g_autofree char *rule = g_strdup_printf ("localhost:%u", svc->port);
  g_autofree char *target = g_strdup_printf ("localhost:%u", svc->port);
  App *a;

  stack_allow (s, rule);
  a = app_new (stack_map (s, target, NULL), 1000, TRUE, FALSE);
  a->echo_check = TRUE;
  g_assert_true (pp_test_wait_until (NULL, app_ended, a, WAIT_MS));
  g_assert_cmpint (a->err, ==, 0);
  g_assert_true (a->eof);
  g_assert_cmpuint (a->rx.n, ==, 1000);
  g_assert_cmpuint (a->mismatches, ==, 0);
  app_free (a);
  stack_free (s);
  service_free (svc);
}

static void
test_name_rebinding_refused (void)
{
  Service *svc = service_new (SVC_ECHO);
  Stack *s = stack_new ();
  /* A name rule only; the name resolves to loopback (RFC 6761 .localhost). */
  g_autofree char *rule = g_strdup_printf ("rebind.localhost:%u", svc->port);
  g_autofree char *target = g_strdup_printf ("rebind.localhost:%u", svc->port);
  guint handler;
  App *a;

  logged = g_ptr_array_new_with_free_func (g_free);
  handler = g_log_set_handler (NULL, G_LOG_LEVEL_MESSAGE, capture_log, NULL);
  stack_allow (s, rule);
  a = app_new (stack_map (s, target, NULL), 10, FALSE, FALSE);
  assert_reset (a);
  g_assert_cmpint (g_atomic_int_get (&svc->accepted), ==, 0);
  g_assert_true (logged_contains ("refused"));
  g_assert_true (logged_contains ("rebind.localhost resolves to"));
  g_log_remove_handler (NULL, handler);
  g_clear_pointer (&logged, g_ptr_array_unref);
  app_free (a);
  stack_free (s);
  service_free (svc);
}

int
main (int argc, char **argv)
{
  int rc;

  g_test_init (&argc, &argv, NULL);
  pattern = g_malloc (PATTERN_LEN);
  pp_test_fill_random (pattern, PATTERN_LEN, 7);
  g_test_add_func ("/tunnel/mem/echo-100-sockets", test_echo_many);
  g_test_add_func ("/tunnel/mem/early-app-waits", test_early_app);
  g_test_add_func ("/tunnel/mem/bulk-one-way", test_bulk_one_way);
  g_test_add_func ("/tunnel/mem/half-close", test_half_close);
  g_test_add_func ("/tunnel/mem/slow-reader", test_slow_reader);
  g_test_add_func ("/tunnel/mem/refused-is-reset", test_refused);
  g_test_add_func ("/tunnel/mem/service-reset-is-reset", test_service_reset);
  g_test_add_func ("/tunnel/mem/connect-failed-is-reset", test_connect_failed);
  g_test_add_func ("/tunnel/mem/severed-is-reset", test_transport_severed);
  g_test_add_func ("/tunnel/mem/deny-revokes", test_revoke);
  g_test_add_func ("/tunnel/mem/unmap-closes", test_unmap);
  g_test_add_func ("/tunnel/mem/mapping-ports", test_mapping_ports);
  g_test_add_func ("/tunnel/mem/connect-by-name", test_connect_by_name);
  g_test_add_func ("/tunnel/mem/name-rebinding-refused", test_name_rebinding_refused);
  g_test_add_func ("/tunnel/mem/observer-normal", test_observer_normal);
  g_test_add_func ("/tunnel/mem/observer-refused", test_observer_refused);
  g_test_add_func ("/tunnel/mem/observer-reset", test_observer_reset);
  g_test_add_func ("/tunnel/mem/water-follows-window", test_water_follows_window);
  rc = g_test_run ();
  g_free (pattern);
  return rc;
}
