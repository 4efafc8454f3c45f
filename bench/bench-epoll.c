/* SPDX-License-Identifier: MIT
 *
 * bench-epoll: what one GLib main-loop iteration costs with 10,000 idle
 * sockets, held in one PpEpoll versus 10,000 g_unix_fd sources (§2 of
 * DESIGN.md: GLib polls every source on every iteration).  An always-ready
 * idle source keeps iterations from blocking.  Prints the two side by side;
 * it is a measurement, not a test, and is not part of the Meson build:
 *
 *   cc -O2 -D_GNU_SOURCE -I src bench/bench-epoll.c src/app/pp-epoll-source.c \
 *      src/app/pp-sys.c $(pkg-config --cflags --libs gio-2.0) -o /tmp/bench-epoll
 *   /tmp/bench-epoll [N_SOCKETS]
 */
#include "app/pp-epoll-source.h"
#include "app/pp-sys.h"

#include <errno.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static void
never_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  g_error ("idle socket %d reported ready (0x%x)", fd, revents);
}

static gboolean
never_fd_cb (gint fd, GIOCondition condition, gpointer user_data)
{
  g_error ("idle socket %d reported ready", fd);
  return G_SOURCE_REMOVE;
}

static gboolean
idle_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Mean µs per non-blocking iteration of @ctx, which holds an idle source. */
static double
time_iterations (GMainContext *ctx, guint n)
{
  for (guint i = 0; i < 10; i++)
    g_main_context_iteration (ctx, FALSE);

  gint64 t0 = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    g_main_context_iteration (ctx, FALSE);
  return (double) (g_get_monotonic_time () - t0) / n;
}

static GMainContext *
context_with_idle (void)
{
  GMainContext *ctx = g_main_context_new ();
  GSource *idle = g_idle_source_new ();

  g_source_set_callback (idle, idle_cb, NULL, NULL);
  g_source_attach (idle, ctx);
  g_source_unref (idle);
  return ctx;
}

static double
bench_epoll (const int *fds, guint n, guint iters)
{
  GMainContext *ctx = context_with_idle ();
  PpEpoll *ep = pp_epoll_new (ctx, NULL);

  for (guint i = 0; i < n; i++)
    if (pp_epoll_watch (ep, fds[i], EPOLLIN, never_cb, NULL, NULL) == NULL)
      g_error ("watch %u failed", i);
  double us = time_iterations (ctx, iters);
  pp_epoll_free (ep);
  g_main_context_unref (ctx);
  return us;
}

static double
bench_unix_fd_sources (const int *fds, guint n, guint iters)
{
  GMainContext *ctx = context_with_idle ();

  for (guint i = 0; i < n; i++)
    {
      GSource *s = g_unix_fd_source_new (fds[i], G_IO_IN);
      g_source_set_callback (s, (GSourceFunc) (void (*) (void)) never_fd_cb, NULL, NULL);
      g_source_attach (s, ctx);
      g_source_unref (s);
    }
  double us = time_iterations (ctx, iters);
  g_main_context_unref (ctx);   /* destroys the sources */
  return us;
}

int
main (int argc, char **argv)
{
  guint n = argc > 1 ? (guint) strtoul (argv[1], NULL, 10) : 10000;
  int *fds = g_new (int, n + 1);

  pp_sys_raise_nofile_limit ();
  for (guint i = 0; i < n; i += 2)
    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &fds[i]) < 0)
      g_error ("socketpair after %u fds: %s (raise RLIMIT_NOFILE)", i, g_strerror (errno));

  guint sizes[] = { 10, 1000, n };
  printf ("%-8s %14s %20s %8s\n", "sockets", "PpEpoll µs/it", "g_unix_fd µs/it", "ratio");
  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      guint m = MIN (sizes[k], n);
      double e = bench_epoll (fds, m, 20000);
      double g = bench_unix_fd_sources (fds, m, m >= 5000 ? 300 : 3000);
      printf ("%-8u %14.2f %20.2f %7.0fx\n", m, e, g, g / e);
    }
  for (guint i = 0; i < n; i++)
    close (fds[i]);
  g_free (fds);
  return 0;
}
