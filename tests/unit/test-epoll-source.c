/* SPDX-License-Identifier: MIT
 *
 * Tests for pp-epoll-source and pp-sys on real sockets (socketpairs and TCP on
 * 127.0.0.1 only).  Waiting is a deadline loop over g_main_context_iteration,
 * never a sleep; the batch-boundary tests drive GLib's prepare/check/dispatch
 * by hand so that they are deterministic.
 */
#include "app/pp-epoll-source.h"
#include "app/pp-sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- fixture and helpers ---------------------------------------------- */

typedef struct
{
  GMainContext *ctx;
  PpEpoll *ep;
} Fx;

static void
fx_setup (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fx->ctx = g_main_context_new ();
  g_main_context_push_thread_default (fx->ctx);
  fx->ep = pp_epoll_new (fx->ctx, &error);
  g_assert_no_error (error);
  g_assert_nonnull (fx->ep);
}

static void
fx_teardown (Fx *fx, gconstpointer data)
{
  g_clear_pointer (&fx->ep, pp_epoll_free);
  /* Let GLib finalize the destroyed source before the context goes. */
  while (g_main_context_iteration (fx->ctx, FALSE))
    ;
  g_main_context_pop_thread_default (fx->ctx);
  g_main_context_unref (fx->ctx);
}

static gboolean
deadline_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates until *counter reaches target; fails after 10 s instead of hanging. */
static void
run_until (Fx *fx, const guint *counter, guint target)
{
  gboolean expired = FALSE;
  GSource *timer = g_timeout_source_new_seconds (10);

  g_source_set_callback (timer, deadline_cb, &expired, NULL);
  g_source_attach (timer, fx->ctx);
  while (*counter < target && !expired)
    g_main_context_iteration (fx->ctx, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
  g_assert_cmpuint (*counter, >=, target);
}

/* Dispatches whatever is ready now; used to prove that nothing more fires. */
static void
drain (Fx *fx)
{
  for (int i = 0; i < 64 && g_main_context_iteration (fx->ctx, FALSE); i++)
    ;
}

static void
make_socketpair (int sv[2])
{
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), ==,
                   0);
}

static void
loopback4 (struct sockaddr_in *sin, uint16_t port)
{
  memset (sin, 0, sizeof *sin);
  sin->sin_family = AF_INET;
  sin->sin_port = htons (port);
  sin->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
}

static int
listen_loopback (uint16_t port)
{
  g_autoptr (GError) error = NULL;
  struct sockaddr_in sin;

  loopback4 (&sin, port);
  int fd = pp_sys_listen_tcp ((struct sockaddr *) &sin, sizeof sin, 16, &error);
  g_assert_no_error (error);
  g_assert_cmpint (fd, >=, 0);
  return fd;
}

typedef struct
{
  guint calls;
  uint32_t revents;
  int fd;
} Seen;

static void
seen_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  Seen *s = user_data;

  s->calls++;
  s->revents = revents;
  s->fd = fd;
}

/* sv[0]: connect side, sv[1]: accepted side; both non-blocking. */
static void
make_tcp_pair (Fx *fx, int sv[2])
{
  g_autoptr (GError) error = NULL;
  struct sockaddr_in sin;
  Seen ready = { 0 };
  int lfd = listen_loopback (0);

  loopback4 (&sin, pp_sys_local_port (lfd));
  sv[0] = pp_sys_connect_tcp ((struct sockaddr *) &sin, sizeof sin, &error);
  g_assert_no_error (error);

  PpEpollWatch *lw = pp_epoll_watch (fx->ep, lfd, EPOLLIN, seen_cb, &ready, &error);
  g_assert_no_error (error);
  run_until (fx, &ready.calls, 1);
  pp_epoll_unwatch (lw);

  sv[1] = pp_sys_accept (lfd, NULL, NULL);
  g_assert_cmpint (sv[1], >=, 0);
  close (lfd);
}

typedef enum
{
  PAIR_UNIX,
  PAIR_TCP,
} PairKind;

static void
make_pair (Fx *fx, PairKind kind, int sv[2])
{
  switch (kind)
    {
    case PAIR_UNIX:
      make_socketpair (sv);
      return;
    case PAIR_TCP:
      make_tcp_pair (fx, sv);
      return;
    }
  g_assert_not_reached ();
}

static void
close_pair (int sv[2])
{
  close (sv[0]);
  close (sv[1]);
}

/* ---- basic readiness ---------------------------------------------------- */

static void
read_one_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  char c;

  seen_cb (w, fd, revents, user_data);
  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  g_assert_cmpint (c, ==, 'x');
}

static void
test_readable (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Seen s = { 0 };
  int sv[2];

  make_pair (fx, GPOINTER_TO_INT (data), sv);
  PpEpollWatch *w = pp_epoll_watch (fx->ep, sv[1], EPOLLIN, read_one_cb, &s, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_epoll_count (fx->ep), ==, 1);
  g_assert_cmpint (pp_epoll_watch_get_fd (w), ==, sv[1]);

  drain (fx);
  g_assert_cmpuint (s.calls, ==, 0);   /* nothing written yet */

  g_assert_cmpint (write (sv[0], "x", 1), ==, 1);
  run_until (fx, &s.calls, 1);
  g_assert_cmpint (s.fd, ==, sv[1]);
  g_assert_true (s.revents & EPOLLIN);

  drain (fx);
  g_assert_cmpuint (s.calls, ==, 1);   /* level-triggered, but the byte was read */
  pp_epoll_unwatch (w);
  g_assert_cmpuint (pp_epoll_count (fx->ep), ==, 0);
  close_pair (sv);
}

static void
test_writable (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Seen s = { 0 };
  int sv[2];

  make_pair (fx, GPOINTER_TO_INT (data), sv);
  PpEpollWatch *w = pp_epoll_watch (fx->ep, sv[0], EPOLLOUT, seen_cb, &s, &error);
  g_assert_no_error (error);
  run_until (fx, &s.calls, 1);
  g_assert_cmpint (s.fd, ==, sv[0]);
  g_assert_true (s.revents & EPOLLOUT);
  g_assert_false (s.revents & EPOLLIN);
  g_assert_cmpint (pp_sys_socket_error (sv[0]), ==, 0);
  pp_epoll_unwatch (w);
  close_pair (sv);
}

static void
test_hangup (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Seen s = { 0 };
  int sv[2];

  make_pair (fx, GPOINTER_TO_INT (data), sv);
  PpEpollWatch *w = pp_epoll_watch (fx->ep, sv[1], EPOLLIN | EPOLLRDHUP, seen_cb, &s, &error);
  g_assert_no_error (error);
  g_assert_cmpint (shutdown (sv[0], SHUT_WR), ==, 0);
  run_until (fx, &s.calls, 1);
  g_assert_true (s.revents & EPOLLRDHUP);

  /* Paused, a half-closed fd must not keep the loop busy. */
  pp_epoll_watch_set_events (w, 0);
  guint before = s.calls;
  drain (fx);
  g_assert_cmpuint (s.calls, ==, before);
  pp_epoll_unwatch (w);
  close_pair (sv);
}

/* ---- set_events --------------------------------------------------------- */

typedef struct
{
  PpEpollWatch *w;
  guint calls;
  gboolean read_it;
} Pausing;

static void
pause_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  Pausing *p = user_data;
  char c;

  p->calls++;
  if (p->read_it)
    g_assert_cmpint (read (fd, &c, 1), ==, 1);
  else
    pp_epoll_watch_set_events (w, 0);
}

static void
test_pause_resume (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Pausing p = { 0 };
  int sv[2];

  make_socketpair (sv);
  g_assert_cmpint (write (sv[0], "x", 1), ==, 1);
  p.w = pp_epoll_watch (fx->ep, sv[1], EPOLLIN, pause_cb, &p, &error);
  g_assert_no_error (error);
  run_until (fx, &p.calls, 1);
  g_assert_cmpuint (pp_epoll_watch_get_events (p.w), ==, 0);

  drain (fx);
  g_assert_cmpuint (p.calls, ==, 1);   /* the byte is still unread, yet quiet */

  p.read_it = TRUE;
  pp_epoll_watch_set_events (p.w, EPOLLIN);
  pp_epoll_watch_set_events (p.w, EPOLLIN);   /* unchanged: harmless */
  g_assert_cmpuint (pp_epoll_watch_get_events (p.w), ==, EPOLLIN);
  run_until (fx, &p.calls, 2);
  drain (fx);
  g_assert_cmpuint (p.calls, ==, 2);
  pp_epoll_unwatch (p.w);
  close_pair (sv);
}

static void
test_watch_paused (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Seen s = { 0 };
  int sv[2];

  make_socketpair (sv);
  g_assert_cmpint (write (sv[0], "x", 1), ==, 1);
  PpEpollWatch *w = pp_epoll_watch (fx->ep, sv[1], 0, read_one_cb, &s, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_epoll_count (fx->ep), ==, 1);
  drain (fx);
  g_assert_cmpuint (s.calls, ==, 0);
  pp_epoll_watch_set_events (w, EPOLLIN);
  run_until (fx, &s.calls, 1);
  pp_epoll_unwatch (w);
  close_pair (sv);
}

/* Two readable watches, each pausing the other's reads: both events are in
 * one batch, and the pause must apply to the one not yet delivered, whether
 * it leaves no events (0) or others (EPOLLRDHUP). */
typedef struct
{
  Pausing p[2];
  uint32_t paused_events;
} PausePair;

static void
pause_other_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  PausePair *pp = user_data;
  guint self = pp->p[0].w == w ? 0 : 1;

  pp->p[self].calls++;
  pp_epoll_watch_set_events (pp->p[1 - self].w, pp->paused_events);
}

static void
test_pause_in_batch (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  PausePair pp = { .paused_events = GPOINTER_TO_UINT (data) };
  Pausing *p = pp.p;
  int a[2], b[2];

  make_socketpair (a);
  make_socketpair (b);
  g_assert_cmpint (write (a[0], "x", 1), ==, 1);
  g_assert_cmpint (write (b[0], "x", 1), ==, 1);
  p[0].w = pp_epoll_watch (fx->ep, a[1], EPOLLIN, pause_other_cb, &pp, &error);
  g_assert_no_error (error);
  p[1].w = pp_epoll_watch (fx->ep, b[1], EPOLLIN, pause_other_cb, &pp, &error);
  g_assert_no_error (error);

  g_assert_true (g_main_context_iteration (fx->ctx, FALSE));
  g_assert_cmpuint (p[0].calls + p[1].calls, ==, 1);
  pp_epoll_unwatch (p[0].w);
  pp_epoll_unwatch (p[1].w);
  close_pair (a);
  close_pair (b);
}

/* ---- unwatch inside a batch --------------------------------------------- */

#define N_BATCH_PAIRS 300

typedef struct
{
  Fx *fx;
  int sv[N_BATCH_PAIRS][2];
  int fresh[N_BATCH_PAIRS][2];
  PpEpollWatch *w[N_BATCH_PAIRS];
  PpEpollWatch *fresh_w[N_BATCH_PAIRS];
  guint calls;
  guint fresh_calls;
  int first;
} Massacre;

static void
fresh_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  Massacre *m = user_data;

  m->fresh_calls++;
}

/* Unwatches and closes every other pair, then opens new pairs that reuse
 * those fd numbers and slots: stale events of this batch must reach nobody. */
static void
massacre_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  Massacre *m = user_data;
  g_autoptr (GError) error = NULL;
  char c;

  m->calls++;
  for (int i = 0; i < N_BATCH_PAIRS; i++)
    {
      if (m->w[i] == w)
        {
          m->first = i;
          continue;
        }
      pp_epoll_unwatch (m->w[i]);
      m->w[i] = NULL;
      close_pair (m->sv[i]);
      make_socketpair (m->fresh[i]);
      m->fresh_w[i] = pp_epoll_watch (m->fx->ep, m->fresh[i][1], EPOLLIN, fresh_cb, m, &error);
      g_assert_no_error (error);
    }
  g_assert_cmpint (read (fd, &c, 1), ==, 1);
}

static void
test_unwatch_in_batch (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree Massacre *m = g_new0 (Massacre, 1);

  m->fx = fx;
  m->first = -1;
  for (int i = 0; i < N_BATCH_PAIRS; i++)
    {
      make_socketpair (m->sv[i]);
      g_assert_cmpint (write (m->sv[i][0], "x", 1), ==, 1);
      m->w[i] = pp_epoll_watch (fx->ep, m->sv[i][1], EPOLLIN, massacre_cb, m, &error);
      g_assert_no_error (error);
    }

  run_until (fx, &m->calls, 1);
  drain (fx);
  g_assert_cmpuint (m->calls, ==, 1);
  g_assert_cmpuint (m->fresh_calls, ==, 0);
  g_assert_cmpuint (pp_epoll_count (fx->ep), ==, N_BATCH_PAIRS);
  g_assert_cmpint (m->first, >=, 0);

  for (int i = 0; i < N_BATCH_PAIRS; i++)
    {
      if (i == m->first)
        {
          pp_epoll_unwatch (m->w[i]);
          close_pair (m->sv[i]);
          continue;
        }
      pp_epoll_unwatch (m->fresh_w[i]);
      close_pair (m->fresh[i]);
    }
  g_assert_cmpuint (pp_epoll_count (fx->ep), ==, 0);
}

/* ---- batches: many fds, fairness, staying ready ------------------------- */

typedef struct
{
  guint *seen;
  guint total;
  guint this_iteration;
} Tally;

typedef struct
{
  Tally *tally;
  guint index;
} TallyItem;

static void
tally_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  TallyItem *item = user_data;
  char c;

  g_assert_cmpint (read (fd, &c, 1), ==, 1);
  item->tally->seen[item->index]++;
  item->tally->total++;
  item->tally->this_iteration++;
  pp_epoll_unwatch (w);
}

static gboolean
ensure_nofile (rlim_t need)
{
  struct rlimit rl;

  pp_sys_raise_nofile_limit ();
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  if (rl.rlim_cur >= need)
    return TRUE;
  g_test_skip ("RLIMIT_NOFILE hard limit too low");
  return FALSE;
}

static void
test_many_fds (Fx *fx, gconstpointer data)
{
  const guint n = 1200;   /* 2,400 fds */
  g_autoptr (GError) error = NULL;
  g_autofree int *sv = g_new (int, 2 * n);
  g_autofree TallyItem *items = g_new0 (TallyItem, n);
  g_autofree guint *seen = g_new0 (guint, n);
  Tally tally = { .seen = seen };
  guint busy_iterations = 0;

  if (!ensure_nofile (2 * n + 64))
    return;
  for (guint i = 0; i < n; i++)
    {
      make_socketpair (&sv[2 * i]);
      g_assert_cmpint (write (sv[2 * i], "x", 1), ==, 1);
      items[i] = (TallyItem) { &tally, i };
      pp_epoll_watch (fx->ep, sv[2 * i + 1], EPOLLIN, tally_cb, &items[i], &error);
      g_assert_no_error (error);
    }

  /* Every fd is ready up front, so no iteration may block or come up empty. */
  while (tally.total < n)
    {
      tally.this_iteration = 0;
      g_assert_true (g_main_context_iteration (fx->ctx, FALSE));
      g_assert_cmpuint (tally.this_iteration, >, 0);
      g_assert_cmpuint (tally.this_iteration, <=, PP_EPOLL_BATCH);
      busy_iterations++;
    }
  g_assert_cmpuint (busy_iterations, ==, (n + PP_EPOLL_BATCH - 1) / PP_EPOLL_BATCH);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (seen[i], ==, 1);
  g_assert_cmpuint (pp_epoll_count (fx->ep), ==, 0);
  for (guint i = 0; i < 2 * n; i++)
    close (sv[i]);
}

/* One manual GLib cycle; @do_poll FALSE skips poll() so only sources that
 * said "ready" in prepare are dispatched.  Returns prepare's verdict. */
static gboolean
cycle (GMainContext *ctx, gboolean do_poll, gint *timeout_out)
{
  GPollFD fds[16];
  gint prio, timeout;

  g_assert_true (g_main_context_acquire (ctx));
  gboolean ready = g_main_context_prepare (ctx, &prio);
  gint n = g_main_context_query (ctx, prio, &timeout, fds, G_N_ELEMENTS (fds));
  g_assert_cmpint (n, <=, (gint) G_N_ELEMENTS (fds));
  if (do_poll)
    g_poll (fds, n, 0);
  if (g_main_context_check (ctx, prio, fds, n))
    g_main_context_dispatch (ctx);
  g_main_context_release (ctx);
  *timeout_out = timeout;
  return ready;
}

static void
test_full_batch_stays_ready (Fx *fx, gconstpointer data)
{
  const guint n = PP_EPOLL_BATCH + 44;
  g_autoptr (GError) error = NULL;
  g_autofree int *sv = g_new (int, 2 * n);
  g_autofree TallyItem *items = g_new0 (TallyItem, n);
  g_autofree guint *seen = g_new0 (guint, n);
  Tally tally = { .seen = seen };
  gint timeout;

  for (guint i = 0; i < n; i++)
    {
      make_socketpair (&sv[2 * i]);
      g_assert_cmpint (write (sv[2 * i], "x", 1), ==, 1);
      items[i] = (TallyItem) { &tally, i };
      pp_epoll_watch (fx->ep, sv[2 * i + 1], EPOLLIN, tally_cb, &items[i], &error);
      g_assert_no_error (error);
    }

  g_assert_false (cycle (fx->ctx, TRUE, &timeout));   /* found by poll() */
  g_assert_cmpuint (tally.total, ==, PP_EPOLL_BATCH);

  /* The batch was full: ready without polling, and GLib must not sleep. */
  g_assert_true (cycle (fx->ctx, FALSE, &timeout));
  g_assert_cmpint (timeout, ==, 0);
  g_assert_cmpuint (tally.total, ==, n);

  g_assert_false (cycle (fx->ctx, FALSE, &timeout));
  g_assert_cmpint (timeout, ==, -1);
  for (guint i = 0; i < 2 * n; i++)
    close (sv[i]);
}

/* Sockets that stay readable (a reader that never drains) must not starve the
 * rest: the kernel requeues level-triggered events behind those not yet
 * fetched, so two full batches cover all 300. */
static void
count_only_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  TallyItem *item = user_data;

  item->tally->seen[item->index]++;
  item->tally->total++;
}

static void
test_batches_rotate (Fx *fx, gconstpointer data)
{
  const guint n = PP_EPOLL_BATCH + 44;
  g_autoptr (GError) error = NULL;
  g_autofree int *sv = g_new (int, 2 * n);
  g_autofree TallyItem *items = g_new0 (TallyItem, n);
  g_autofree PpEpollWatch **ws = g_new0 (PpEpollWatch *, n);
  g_autofree guint *seen = g_new0 (guint, n);
  Tally tally = { .seen = seen };

  for (guint i = 0; i < n; i++)
    {
      make_socketpair (&sv[2 * i]);
      g_assert_cmpint (write (sv[2 * i], "x", 1), ==, 1);
      items[i] = (TallyItem) { &tally, i };
      ws[i] = pp_epoll_watch (fx->ep, sv[2 * i + 1], EPOLLIN, count_only_cb, &items[i], &error);
      g_assert_no_error (error);
    }

  g_assert_true (g_main_context_iteration (fx->ctx, FALSE));
  g_assert_cmpuint (tally.total, ==, PP_EPOLL_BATCH);
  g_assert_true (g_main_context_iteration (fx->ctx, FALSE));
  g_assert_cmpuint (tally.total, ==, 2 * PP_EPOLL_BATCH);
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (seen[i], >=, 1);

  for (guint i = 0; i < n; i++)
    {
      pp_epoll_unwatch (ws[i]);
      close (sv[2 * i]);
      close (sv[2 * i + 1]);
    }
}

/* ---- freeing ------------------------------------------------------------ */

typedef struct
{
  Fx *fx;
  guint calls;
} Freeing;

static void
free_ep_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  Freeing *f = user_data;

  f->calls++;
  g_clear_pointer (&f->fx->ep, pp_epoll_free);
}

static void
test_free_in_callback (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Freeing f = { fx, 0 };
  int sv[10][2];

  for (int i = 0; i < 10; i++)
    {
      make_socketpair (sv[i]);
      g_assert_cmpint (write (sv[i][0], "x", 1), ==, 1);
      pp_epoll_watch (fx->ep, sv[i][1], EPOLLIN, free_ep_cb, &f, &error);
      g_assert_no_error (error);
    }
  run_until (fx, &f.calls, 1);
  drain (fx);
  g_assert_cmpuint (f.calls, ==, 1);
  g_assert_null (fx->ep);
  for (int i = 0; i < 10; i++)
    {
      g_assert_cmpint (fcntl (sv[i][1], F_GETFD), >=, 0);   /* not closed for us */
      close_pair (sv[i]);
    }
}

static void
test_free_with_watches (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Seen s = { 0 };
  int sv[5][2];

  for (int i = 0; i < 5; i++)
    {
      make_socketpair (sv[i]);
      pp_epoll_watch (fx->ep, sv[i][1], EPOLLIN | EPOLLOUT, seen_cb, &s, &error);
      g_assert_no_error (error);
    }
  g_assert_cmpuint (pp_epoll_count (fx->ep), ==, 5);
  g_clear_pointer (&fx->ep, pp_epoll_free);
  drain (fx);
  g_assert_cmpuint (s.calls, ==, 0);
  for (int i = 0; i < 5; i++)
    {
      g_assert_cmpint (fcntl (sv[i][1], F_GETFD), >=, 0);
      close_pair (sv[i]);
    }
}

/* ---- watch errors ------------------------------------------------------- */

typedef enum
{
  BAD_NEGATIVE,
  BAD_CLOSED,
  BAD_REGULAR_FILE,
  BAD_DUPLICATE,
} BadFd;

static void
test_watch_error (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp_path = NULL;
  Seen s = { 0 };
  int sv[2] = { -1, -1 };
  int fd = -1;
  int expect = G_IO_ERROR_FAILED;
  PpEpollWatch *first = NULL;

  switch ((BadFd) GPOINTER_TO_INT (data))
    {
    case BAD_NEGATIVE:
      fd = -1;
      break;
    case BAD_CLOSED:
      make_socketpair (sv);
      fd = dup (sv[1]);
      close (fd);
      break;
    case BAD_REGULAR_FILE:
      fd = g_file_open_tmp ("pp-epoll-XXXXXX", &tmp_path, &error);
      g_assert_no_error (error);
      expect = G_IO_ERROR_PERMISSION_DENIED;   /* EPERM: files are always ready */
      break;
    case BAD_DUPLICATE:
      make_socketpair (sv);
      fd = sv[1];
      first = pp_epoll_watch (fx->ep, fd, EPOLLIN, seen_cb, &s, &error);
      g_assert_no_error (error);
      expect = G_IO_ERROR_EXISTS;
      break;
    }

  guint before = pp_epoll_count (fx->ep);
  g_assert_null (pp_epoll_watch (fx->ep, fd, EPOLLIN, seen_cb, &s, &error));
  g_assert_error (error, G_IO_ERROR, expect);
  g_assert_cmpuint (pp_epoll_count (fx->ep), ==, before);

  pp_epoll_unwatch (first);
  if (tmp_path != NULL)
    {
      close (fd);
      g_unlink (tmp_path);
    }
  if (sv[0] >= 0)
    close_pair (sv);
}

/* ---- pp-sys ------------------------------------------------------------- */

static void
test_close_rst (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Seen s = { 0 };
  int sv[2];
  char buf[8];

  make_tcp_pair (fx, sv);
  g_assert_cmpint (write (sv[1], "x", 1), ==, 1);   /* unread data must not matter */
  pp_sys_close_rst (sv[1]);

  PpEpollWatch *w = pp_epoll_watch (fx->ep, sv[0], EPOLLRDHUP, seen_cb, &s, &error);
  g_assert_no_error (error);
  run_until (fx, &s.calls, 1);
  g_assert_true (s.revents & (EPOLLERR | EPOLLHUP | EPOLLRDHUP));
  pp_epoll_unwatch (w);

  /* Whatever arrived before the reset may be read first; then ECONNRESET. */
  ssize_t r;
  while ((r = read (sv[0], buf, sizeof buf)) > 0)
    ;
  g_assert_cmpint (r, ==, -1);
  g_assert_cmpint (errno, ==, ECONNRESET);
  close (sv[0]);
}

static void
test_connect_refused (Fx *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  struct sockaddr_in sin;
  Seen s = { 0 };
  int lfd = listen_loopback (0);

  loopback4 (&sin, pp_sys_local_port (lfd));
  close (lfd);   /* the port is now (almost surely) closed */

  int fd = pp_sys_connect_tcp ((struct sockaddr *) &sin, sizeof sin, &error);
  if (fd < 0)
    {
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
      return;
    }
  PpEpollWatch *w = pp_epoll_watch (fx->ep, fd, EPOLLOUT, seen_cb, &s, &error);
  g_assert_no_error (error);
  run_until (fx, &s.calls, 1);
  g_assert_true (s.revents & EPOLLERR);
  g_assert_cmpint (pp_sys_socket_error (fd), ==, ECONNREFUSED);
  g_assert_cmpint (pp_sys_socket_error (fd), ==, 0);   /* reading clears it */
  pp_epoll_unwatch (w);
  close (fd);
}

static void
test_tcp_nodelay (Fx *fx, gconstpointer data)
{
  int sv[2];

  make_tcp_pair (fx, sv);
  for (int i = 0; i < 2; i++)
    {
      int v = 0;
      socklen_t len = sizeof v;
      g_assert_cmpint (getsockopt (sv[i], IPPROTO_TCP, TCP_NODELAY, &v, &len), ==, 0);
      g_assert_cmpint (v, !=, 0);
      g_assert_cmpint (fcntl (sv[i], F_GETFL) & O_NONBLOCK, !=, 0);
      g_assert_cmpint (fcntl (sv[i], F_GETFD) & FD_CLOEXEC, !=, 0);
    }
  close_pair (sv);
}

static void
test_listen_in_use (void)
{
  g_autoptr (GError) error = NULL;
  struct sockaddr_in sin;
  int lfd = listen_loopback (0);
  uint16_t port = pp_sys_local_port (lfd);

  g_assert_cmpuint (port, !=, 0);
  loopback4 (&sin, port);
  g_assert_cmpint (pp_sys_listen_tcp ((struct sockaddr *) &sin, sizeof sin, 16, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_autofree char *want = g_strdup_printf ("address already in use: 127.0.0.1:%u", port);
  g_assert_cmpstr (error->message, ==, want);
  close (lfd);
}

static void
test_listen_v6only (void)
{
  g_autoptr (GError) error = NULL;
  struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT };
  struct sockaddr_in sin;

  int fd6 = pp_sys_listen_tcp ((struct sockaddr *) &sin6, sizeof sin6, 16, &error);
  if (fd6 < 0)
    {
      g_test_skip ("no IPv6");
      return;
    }
  /* [::]:P and 0.0.0.0:P side by side only work with IPV6_V6ONLY. */
  sin = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons (pp_sys_local_port (fd6)) };
  int fd4 = pp_sys_listen_tcp ((struct sockaddr *) &sin, sizeof sin, 16, &error);
  g_assert_no_error (error);
  close (fd4);
  close (fd6);
}

/* Port 1 is privileged here unless ip_unprivileged_port_start says otherwise. */
static gboolean
low_ports_privileged (void)
{
  g_autofree char *text = NULL;

  if (!g_file_get_contents ("/proc/sys/net/ipv4/ip_unprivileged_port_start", &text, NULL, NULL))
    return TRUE;
  return g_ascii_strtoull (text, NULL, 10) > 1;
}

static void
test_listen_privileged (void)
{
  if (!g_test_subprocess ())
    {
      if (!low_ports_privileged ())
        {
          g_test_skip ("unprivileged processes may bind port 1 here");
          return;
        }
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
      g_test_trap_assert_passed ();
      g_test_trap_assert_stdout ("*ports below 1024 need root or CAP_NET_BIND_SERVICE*");
      return;
    }

  g_autoptr (GError) error = NULL;
  struct sockaddr_in sin;

  /* Dropping every uid also drops CAP_NET_BIND_SERVICE. */
  if (geteuid () == 0)
    g_assert_cmpint (setresuid (65534, 65534, 65534), ==, 0);
  loopback4 (&sin, 1);
  g_assert_cmpint (pp_sys_listen_tcp ((struct sockaddr *) &sin, sizeof sin, 16, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  g_print ("%s\n", error->message);
}

typedef struct
{
  int errsv;
  uint16_t port;
  int code;
  const char *message;
} BindErrorCase;

static const BindErrorCase bind_error_cases[] = {
  { EADDRINUSE, 8080, G_IO_ERROR_ADDRESS_IN_USE, "address already in use: 127.0.0.1:8080" },
  { EACCES, 80, G_IO_ERROR_PERMISSION_DENIED,
    "permission denied: 127.0.0.1:80: ports below 1024 need root or CAP_NET_BIND_SERVICE "
    "(or pick a port ≥ 1024)" },
  { EACCES, 8080, G_IO_ERROR_PERMISSION_DENIED,
    "cannot listen on 127.0.0.1:8080: Permission denied" },
  { EADDRNOTAVAIL, 22, G_IO_ERROR_FAILED, "address not available on this host: 127.0.0.1:22" },
};

static void
test_bind_error (gconstpointer data)
{
  const BindErrorCase *c = data;
  struct sockaddr_in sin;

  loopback4 (&sin, c->port);
  g_autoptr (GError) error = pp_sys_bind_error_new (c->errsv, (struct sockaddr *) &sin,
                                                    sizeof sin);
  if (c->code != G_IO_ERROR_FAILED)
    g_assert_error (error, G_IO_ERROR, c->code);
  g_assert_cmpstr (error->message, ==, c->message);
}

static void
test_nofile_raise (void)
{
  struct rlimit rl;

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  if (rl.rlim_max < 128)
    {
      g_test_skip ("hard RLIMIT_NOFILE below 128");
      return;
    }
  rlim_t hard = rl.rlim_max;
  rl.rlim_cur = 64 + (hard - 64) / 2;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &rl), ==, 0);

  pp_sys_raise_nofile_limit ();
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  g_assert_cmpuint (rl.rlim_cur, ==, hard);
  g_assert_cmpuint (rl.rlim_max, ==, hard);

  pp_sys_raise_nofile_limit ();   /* already there: a no-op */
  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &rl), ==, 0);
  g_assert_cmpuint (rl.rlim_cur, ==, hard);
}

static void
test_nonblock_cloexec (void)
{
  g_autoptr (GError) error = NULL;
  int p[2];

  g_assert_cmpint (pipe (p), ==, 0);
  g_assert_cmpint (fcntl (p[0], F_GETFL) & O_NONBLOCK, ==, 0);
  g_assert_true (pp_sys_set_nonblock_cloexec (p[0], &error));
  g_assert_no_error (error);
  g_assert_cmpint (fcntl (p[0], F_GETFL) & O_NONBLOCK, !=, 0);
  g_assert_cmpint (fcntl (p[0], F_GETFD) & FD_CLOEXEC, !=, 0);
  close (p[0]);
  close (p[1]);

  g_assert_false (pp_sys_set_nonblock_cloexec (p[0], &error));   /* now closed */
  g_assert_nonnull (error);
}

typedef struct
{
  int family;
  const char *addr;
  uint16_t port;
  uint32_t scope;
  const char *want;
} AddrCase;

static const AddrCase addr_cases[] = {
  { AF_INET, "127.0.0.1", 80, 0, "127.0.0.1:80" },
  { AF_INET, "0.0.0.0", 0, 0, "0.0.0.0:0" },
  { AF_INET, "255.255.255.255", 65535, 0, "255.255.255.255:65535" },
  { AF_INET6, "::1", 80, 0, "[::1]:80" },
  { AF_INET6, "2001:db8::42", 443, 0, "[2001:db8::42]:443" },
  { AF_INET6, "::ffff:10.0.0.1", 22, 0, "10.0.0.1:22" },
  { AF_INET6, "fe80::1", 8080, 999999, "[fe80::1%999999]:8080" },
};

static void
test_sockaddr_to_string (gconstpointer data)
{
  const AddrCase *c = data;
  struct sockaddr_storage ss = { 0 };
  char buf[PP_SYS_ADDRSTRLEN];
  socklen_t len;

  if (c->family == AF_INET)
    {
      struct sockaddr_in *s4 = (struct sockaddr_in *) &ss;
      s4->sin_family = AF_INET;
      s4->sin_port = htons (c->port);
      g_assert_cmpint (inet_pton (AF_INET, c->addr, &s4->sin_addr), ==, 1);
      len = sizeof *s4;
    }
  else
    {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *) &ss;
      s6->sin6_family = AF_INET6;
      s6->sin6_port = htons (c->port);
      s6->sin6_scope_id = c->scope;
      g_assert_cmpint (inet_pton (AF_INET6, c->addr, &s6->sin6_addr), ==, 1);
      len = sizeof *s6;
    }
  g_assert_true (pp_sys_sockaddr_to_string ((struct sockaddr *) &ss, len, buf, sizeof buf));
  g_assert_cmpstr (buf, ==, c->want);

  /* Too short a length or too small a buffer is refused, not overrun. */
  g_assert_false (pp_sys_sockaddr_to_string ((struct sockaddr *) &ss, len - 1, buf, sizeof buf));
  g_assert_cmpstr (buf, ==, "?");
  g_assert_false (pp_sys_sockaddr_to_string ((struct sockaddr *) &ss, len, buf, 4));
  g_assert_cmpuint (strlen (buf), <, 4);
}

/* ---- registration ------------------------------------------------------- */

static void
add_fx (const char *path, gconstpointer data, void (*fn) (Fx *, gconstpointer))
{
  g_test_add (path, Fx, data, fx_setup, fn, fx_teardown);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  static const struct
  {
    const char *name;
    PairKind kind;
  } kinds[] = { { "unix", PAIR_UNIX }, { "tcp", PAIR_TCP } };
  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      gconstpointer k = GINT_TO_POINTER (kinds[i].kind);
      g_autofree char *r = g_strdup_printf ("/epoll/unit/readable/%s", kinds[i].name);
      g_autofree char *w = g_strdup_printf ("/epoll/unit/writable/%s", kinds[i].name);
      g_autofree char *h = g_strdup_printf ("/epoll/unit/rdhup/%s", kinds[i].name);
      add_fx (r, k, test_readable);
      add_fx (w, k, test_writable);
      add_fx (h, k, test_hangup);
    }
  add_fx ("/epoll/unit/pause-resume", NULL, test_pause_resume);
  add_fx ("/epoll/unit/watch-paused", NULL, test_watch_paused);
  add_fx ("/epoll/unit/pause-in-batch/none", GUINT_TO_POINTER (0), test_pause_in_batch);
  add_fx ("/epoll/unit/pause-in-batch/rdhup-only", GUINT_TO_POINTER (EPOLLRDHUP),
          test_pause_in_batch);
  add_fx ("/epoll/unit/unwatch-in-batch", NULL, test_unwatch_in_batch);
  add_fx ("/epoll/unit/many-fds", NULL, test_many_fds);
  add_fx ("/epoll/unit/full-batch-stays-ready", NULL, test_full_batch_stays_ready);
  add_fx ("/epoll/unit/batches-rotate", NULL, test_batches_rotate);
  add_fx ("/epoll/unit/free-in-callback", NULL, test_free_in_callback);
  add_fx ("/epoll/unit/free-with-watches", NULL, test_free_with_watches);
  add_fx ("/epoll/unit/watch-error/negative", GINT_TO_POINTER (BAD_NEGATIVE), test_watch_error);
  add_fx ("/epoll/unit/watch-error/closed", GINT_TO_POINTER (BAD_CLOSED), test_watch_error);
  add_fx ("/epoll/unit/watch-error/regular-file", GINT_TO_POINTER (BAD_REGULAR_FILE),
          test_watch_error);
  add_fx ("/epoll/unit/watch-error/duplicate", GINT_TO_POINTER (BAD_DUPLICATE), test_watch_error);

  add_fx ("/sys/unit/close-rst", NULL, test_close_rst);
  add_fx ("/sys/unit/connect-refused", NULL, test_connect_refused);
  add_fx ("/sys/unit/tcp-nodelay", NULL, test_tcp_nodelay);
  g_test_add_func ("/sys/unit/listen-in-use", test_listen_in_use);
  g_test_add_func ("/sys/unit/listen-v6only", test_listen_v6only);
  g_test_add_func ("/sys/unit/listen-privileged", test_listen_privileged);
  for (guint i = 0; i < G_N_ELEMENTS (bind_error_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/sys/unit/bind-error/%u", i);
      g_test_add_data_func (p, &bind_error_cases[i], test_bind_error);
    }
  g_test_add_func ("/sys/unit/nofile-raise", test_nofile_raise);
  g_test_add_func ("/sys/unit/nonblock-cloexec", test_nonblock_cloexec);
  for (guint i = 0; i < G_N_ELEMENTS (addr_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/sys/unit/sockaddr-to-string/%u", i);
      g_test_add_data_func (p, &addr_cases[i], test_sockaddr_to_string);
    }
  return g_test_run ();
}
