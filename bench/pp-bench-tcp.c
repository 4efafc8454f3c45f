/* SPDX-License-Identifier: MIT
 *
 * pp-bench-tcp: the TCP end points bench/bench-tunnel.sh drives through a tunnel (peerport,
 * ssh -L, socat) or directly: an echo server, a 1-byte round-trip timer, a short-connection
 * rate meter and a holder of many idle connections.  Loopback only (127.0.0.1); it prints one
 * machine-readable line per result and never decides pass or fail (the script does).
 *
 * usage: pp-bench-tcp serve                      echo server; prints "port N", runs until killed
 *        pp-bench-tcp rtt PORT COUNT             "rtt_us median M p99 P min N"
 *        pp-bench-tcp cps PORT SECONDS PARALLEL  "cps R done N errors E"
 *        pp-bench-tcp idle PORT COUNT            "ready N", waits for a line on stdin, "closed"
 */
#include <glib.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The byte that asks the server to close after echoing: the server is then the active closer
 * and keeps the TIME_WAIT state, so a connection-rate run never exhausts the client's ports. */
#define PP_BYE 'c'
#define PP_PING 'p'
#define PP_MAX_EVENTS 256
#define PP_IDLE_IN_FLIGHT 256

static void G_GNUC_NORETURN
die (const char *what)
{
  fprintf (stderr, "pp-bench-tcp: %s: %s\n", what, g_strerror (errno));
  exit (1);
}

static guint64
arg_u64 (const char *s, guint64 max)
{
  guint64 v = 0;
  g_autoptr (GError) error = NULL;

  if (!g_ascii_string_to_unsigned (s, 10, 1, max, &v, &error))
    {
      fprintf (stderr, "pp-bench-tcp: %s\n", error->message);
      exit (64);
    }
  return v;
}

static double
now_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
raise_nofile (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

static void
set_nodelay (int fd)
{
  int one = 1;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static struct sockaddr_in
loopback (guint16 port)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons (port) };

  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  return sa;
}

/* A non-blocking connect to 127.0.0.1:PORT; -1 only when no socket could be made. */
static int
start_connect (guint16 port)
{
  struct sockaddr_in sa = loopback (port);
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

  if (fd < 0)
    return -1;
  set_nodelay (fd);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS)
    {
      close (fd);
      return -2;
    }
  return fd;
}

static void
epoll_add (int ep, int fd, guint32 events)
{
  struct epoll_event ev = { .events = events, .data.fd = fd };

  if (epoll_ctl (ep, EPOLL_CTL_ADD, fd, &ev) < 0)
    die ("epoll_ctl");
}

/* ---- serve ---- */

static void
serve_readable (int ep, int fd)
{
  char buf[65536];
  ssize_t n = read (fd, buf, sizeof buf);

  if (n <= 0)
    {
      if (n < 0 && errno == EAGAIN)
        return;
      epoll_ctl (ep, EPOLL_CTL_DEL, fd, NULL);
      close (fd);
      return;
    }
  /* Small messages only: a short write would mean a broken client, not a slow one. */
  if (write (fd, buf, (size_t) n) != n || buf[n - 1] == PP_BYE)
    {
      epoll_ctl (ep, EPOLL_CTL_DEL, fd, NULL);
      close (fd);
    }
}

static int
cmd_serve (void)
{
  struct sockaddr_in sa = loopback (0);
  socklen_t len = sizeof sa;
  struct epoll_event evs[PP_MAX_EVENTS];
  int one = 1;
  int lfd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int ep = epoll_create1 (EPOLL_CLOEXEC);

  if (lfd < 0 || ep < 0)
    die ("socket");
  setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (lfd, 65535) < 0
      || getsockname (lfd, (struct sockaddr *) &sa, &len) < 0)
    die ("listen");
  printf ("port %u\n", ntohs (sa.sin_port));
  fflush (stdout);
  epoll_add (ep, lfd, EPOLLIN);
  for (;;)
    {
      int n = epoll_wait (ep, evs, PP_MAX_EVENTS, -1);

      if (n < 0 && errno != EINTR)
        die ("epoll_wait");
      for (int i = 0; i < n; i++)
        {
          int fd = evs[i].data.fd, cfd;

          if (fd != lfd)
            {
              serve_readable (ep, fd);
              continue;
            }
          while ((cfd = accept4 (lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
            {
              set_nodelay (cfd);
              epoll_add (ep, cfd, EPOLLIN);
            }
        }
    }
}

/* ---- rtt ---- */

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static void
ping (int fd)
{
  char c = PP_PING;

  if (write (fd, &c, 1) != 1)
    die ("rtt write");
  if (read (fd, &c, 1) != 1)
    die ("rtt read (connection closed?)");
}

static int
cmd_rtt (guint16 port, guint count)
{
  struct sockaddr_in sa = loopback (port);
  g_autofree double *t = g_new (double, count);
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0 || connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    die ("rtt connect");
  set_nodelay (fd);
  /* The first round trips open the tunnel's connection and warm the caches. */
  for (guint i = 0; i < 200; i++)
    ping (fd);
  for (guint i = 0; i < count; i++)
    {
      double t0 = now_us ();

      ping (fd);
      t[i] = now_us () - t0;
    }
  close (fd);
  qsort (t, count, sizeof *t, cmp_double);
  printf ("rtt_us median %.1f p99 %.1f min %.1f\n", t[count / 2], t[(count * 99) / 100], t[0]);
  return 0;
}

/* ---- cps ---- */

/* One slot: a connection in one of three steps (connecting, waiting for the echo, waiting for
 * the server's close); the fd is the epoll key and the slot is found by a small table. */
typedef struct
{
  guint16 port;
  int ep;
  GHashTable *step; /* fd -> step (1 connecting, 2 echo, 3 eof) */
  guint64 done, errors;
} PpCps;

static void
cps_open (PpCps *c)
{
  int fd;

  while ((fd = start_connect (c->port)) < 0)
    {
      if (fd == -1)
        die ("cps socket");
      c->errors++;
    }
  epoll_add (c->ep, fd, EPOLLOUT);
  g_hash_table_insert (c->step, GINT_TO_POINTER (fd), GINT_TO_POINTER (1));
}

static void
cps_finish (PpCps *c, int fd, gboolean ok)
{
  g_hash_table_remove (c->step, GINT_TO_POINTER (fd));
  epoll_ctl (c->ep, EPOLL_CTL_DEL, fd, NULL);
  close (fd);
  if (ok)
    c->done++;
  else
    c->errors++;
  cps_open (c);
}

static void
cps_event (PpCps *c, int fd, guint32 events)
{
  int step = GPOINTER_TO_INT (g_hash_table_lookup (c->step, GINT_TO_POINTER (fd)));
  struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
  char b = PP_BYE;
  ssize_t n;

  if (step == 1)
    {
      if ((events & (EPOLLERR | EPOLLHUP)) || write (fd, &b, 1) != 1)
        return cps_finish (c, fd, FALSE);
      epoll_ctl (c->ep, EPOLL_CTL_MOD, fd, &ev);
      g_hash_table_insert (c->step, GINT_TO_POINTER (fd), GINT_TO_POINTER (2));
      return;
    }
  n = read (fd, &b, 1);
  if (n < 0 && errno == EAGAIN)
    return;
  if (step == 2)
    {
      if (n != 1)
        return cps_finish (c, fd, FALSE);
      g_hash_table_insert (c->step, GINT_TO_POINTER (fd), GINT_TO_POINTER (3));
      return;
    }
  cps_finish (c, fd, n == 0);
}

static int
cmd_cps (guint16 port, guint seconds, guint parallel)
{
  PpCps c = { .port = port, .ep = epoll_create1 (EPOLL_CLOEXEC) };
  struct epoll_event evs[PP_MAX_EVENTS];
  double start, end;

  if (c.ep < 0)
    die ("epoll_create1");
  c.step = g_hash_table_new (NULL, NULL);
  start = now_us ();
  end = start + seconds * 1e6;
  for (guint i = 0; i < parallel; i++)
    cps_open (&c);
  while (now_us () < end)
    {
      int n = epoll_wait (c.ep, evs, PP_MAX_EVENTS, 100);

      if (n < 0 && errno != EINTR)
        die ("epoll_wait");
      for (int i = 0; i < n; i++)
        cps_event (&c, evs[i].data.fd, evs[i].events);
    }
  printf ("cps %.0f done %" G_GUINT64_FORMAT " errors %" G_GUINT64_FORMAT "\n",
          c.done / ((now_us () - start) / 1e6), c.done, c.errors);
  g_hash_table_destroy (c.step);
  return 0;
}

/* ---- idle ---- */

/* Opens COUNT connections, at most PP_IDLE_IN_FLIGHT unanswered at a time (a burst larger than
 * a listen queue would only measure SYN retries), each proven open end to end by one echo. */
static int
cmd_idle (guint16 port, guint count)
{
  struct epoll_event evs[PP_MAX_EVENTS];
  g_autofree int *fds = g_new0 (int, count);
  guint started = 0, ready = 0, in_flight = 0;
  double deadline = now_us () + 120e6;
  int ep = epoll_create1 (EPOLL_CLOEXEC);
  char line[16];

  while (ready < count)
    {
      int n;

      while (in_flight < PP_IDLE_IN_FLIGHT && started < count)
        {
          struct sockaddr_in sa = loopback (port);
          char b = PP_PING;
          int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

          /* Blocking: on loopback the kernel completes the handshake before the peer
           * accepts, so this returns at once unless the listen queue is full. */
          if (fd < 0 || connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0
              || write (fd, &b, 1) != 1)
            die ("idle connect");
          fcntl (fd, F_SETFL, O_NONBLOCK);
          fds[started++] = fd;
          in_flight++;
          epoll_add (ep, fd, EPOLLIN);
        }
      if (now_us () > deadline)
        {
          fprintf (stderr, "pp-bench-tcp: idle: only %u of %u open after 120 s\n", ready, count);
          return 1;
        }
      n = epoll_wait (ep, evs, PP_MAX_EVENTS, 100);
      for (int i = 0; i < n; i++)
        {
          char b;
          int fd = evs[i].data.fd;

          if (read (fd, &b, 1) != 1)
            {
              fprintf (stderr, "pp-bench-tcp: idle: connection %u failed (%s)\n", ready,
                       g_strerror (errno));
              return 1;
            }
          epoll_ctl (ep, EPOLL_CTL_DEL, fd, NULL);
          in_flight--;
          ready++;
        }
    }
  printf ("ready %u\n", ready);
  fflush (stdout);
  if (fgets (line, sizeof line, stdin) == NULL)
    line[0] = '\0';
  for (guint i = 0; i < count; i++)
    close (fds[i]);
  printf ("closed\n");
  return 0;
}

int
main (int argc, char **argv)
{
  raise_nofile ();
  if (argc == 2 && strcmp (argv[1], "serve") == 0)
    return cmd_serve ();
  if (argc == 4 && strcmp (argv[1], "rtt") == 0)
    return cmd_rtt (arg_u64 (argv[2], 65535), arg_u64 (argv[3], 100000000));
  if (argc == 5 && strcmp (argv[1], "cps") == 0)
    return cmd_cps (arg_u64 (argv[2], 65535), arg_u64 (argv[3], 3600), arg_u64 (argv[4], 10000));
  if (argc == 4 && strcmp (argv[1], "idle") == 0)
    return cmd_idle (arg_u64 (argv[2], 65535), arg_u64 (argv[3], 1000000));
  fprintf (stderr, "usage: pp-bench-tcp serve | rtt PORT COUNT | cps PORT SECONDS PARALLEL"
                   " | idle PORT COUNT\n");
  return 64;
}
