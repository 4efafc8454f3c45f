/* SPDX-License-Identifier: MIT
 *
 * pp-sys: POSIX socket and rlimit calls, wrapped once.
 *
 * The TCP adapters call these instead of repeating setsockopt dances, so
 * every socket gets the same flags (non-blocking, close-on-exec, no Nagle)
 * and every failure the same wording.  Linux first; anything here that is
 * not POSIX (accept4, SOCK_NONBLOCK) is the place to port.  No state, no
 * sources, no policy.
 */
#include "pp-sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

void
pp_sys_raise_nofile_limit (void)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) < 0)
    {
      g_debug ("getrlimit(NOFILE): %s", g_strerror (errno));
      return;
    }
  if (rl.rlim_cur >= rl.rlim_max)
    {
      g_debug ("RLIMIT_NOFILE already at its hard limit %llu", (unsigned long long) rl.rlim_max);
      return;
    }

  rlim_t old = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &rl) < 0)
    g_debug ("setrlimit(NOFILE, %llu): %s", (unsigned long long) rl.rlim_max,
             g_strerror (errno));
  else
    g_debug ("RLIMIT_NOFILE raised from %llu to %llu", (unsigned long long) old,
             (unsigned long long) rl.rlim_max);
}

static gboolean
pp_sys_set_errno_error (GError **error, int errsv, const char *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "%s: %s", what,
               g_strerror (errsv));
  return FALSE;
}

gboolean
pp_sys_set_nonblock_cloexec (int fd, GError **error)
{
  int fl = fcntl (fd, F_GETFL);

  if (fl < 0 || fcntl (fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return pp_sys_set_errno_error (error, errno, "fcntl(O_NONBLOCK)");

  int fdfl = fcntl (fd, F_GETFD);
  if (fdfl < 0 || fcntl (fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
    return pp_sys_set_errno_error (error, errno, "fcntl(FD_CLOEXEC)");
  return TRUE;
}

void
pp_sys_tcp_tune (int fd)
{
  int one = 1;

  /* EOPNOTSUPP on a Unix socket is fine: tests hand us socketpairs. */
  (void) setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

void
pp_sys_close_rst (int fd)
{
  struct linger lg = { .l_onoff = 1, .l_linger = 0 };

  if (fd < 0)
    return;
  (void) setsockopt (fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  /* Never retry close() on Linux: the fd is gone even on EINTR. */
  close (fd);
}

int
pp_sys_socket_error (int fd)
{
  int err = 0;
  socklen_t len = sizeof err;

  if (getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    return errno;
  return err;
}

static uint16_t
pp_sys_sockaddr_port (const struct sockaddr *sa, socklen_t len)
{
  if (sa == NULL)
    return 0;
  if (sa->sa_family == AF_INET && len >= sizeof (struct sockaddr_in))
    return ntohs (((const struct sockaddr_in *) sa)->sin_port);
  if (sa->sa_family == AF_INET6 && len >= sizeof (struct sockaddr_in6))
    return ntohs (((const struct sockaddr_in6 *) sa)->sin6_port);
  return 0;
}

static gboolean
pp_sys_in6_to_string (const struct sockaddr_in6 *s6, char *buf, size_t size)
{
  char host[INET6_ADDRSTRLEN];
  char scope[IF_NAMESIZE + 12] = "";
  uint16_t port = ntohs (s6->sin6_port);

  if (IN6_IS_ADDR_V4MAPPED (&s6->sin6_addr))
    {
      inet_ntop (AF_INET, &s6->sin6_addr.s6_addr[12], host, sizeof host);
      return g_snprintf (buf, size, "%s:%u", host, port) < (int) size;
    }

  inet_ntop (AF_INET6, &s6->sin6_addr, host, sizeof host);
  if (s6->sin6_scope_id != 0)
    {
      char name[IF_NAMESIZE];
      if (if_indextoname (s6->sin6_scope_id, name) != NULL)
        g_snprintf (scope, sizeof scope, "%%%s", name);
      else
        g_snprintf (scope, sizeof scope, "%%%u", s6->sin6_scope_id);
    }
  return g_snprintf (buf, size, "[%s%s]:%u", host, scope, port) < (int) size;
}

gboolean
pp_sys_sockaddr_to_string (const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
  g_return_val_if_fail (buf != NULL && size > 0, FALSE);

  if (sa != NULL && sa->sa_family == AF_INET && len >= sizeof (struct sockaddr_in))
    {
      const struct sockaddr_in *s4 = (const struct sockaddr_in *) sa;
      char host[INET_ADDRSTRLEN];
      inet_ntop (AF_INET, &s4->sin_addr, host, sizeof host);
      return g_snprintf (buf, size, "%s:%u", host, ntohs (s4->sin_port)) < (int) size;
    }
  if (sa != NULL && sa->sa_family == AF_INET6 && len >= sizeof (struct sockaddr_in6))
    return pp_sys_in6_to_string ((const struct sockaddr_in6 *) sa, buf, size);

  g_strlcpy (buf, "?", size);
  return FALSE;
}

uint16_t
pp_sys_local_port (int fd)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;

  if (getsockname (fd, (struct sockaddr *) &ss, &len) < 0)
    return 0;
  return pp_sys_sockaddr_port ((const struct sockaddr *) &ss, len);
}

GError *
pp_sys_bind_error_new (int errsv, const struct sockaddr *sa, socklen_t len)
{
  char addr[PP_SYS_ADDRSTRLEN];
  GIOErrorEnum code = g_io_error_from_errno (errsv);
  uint16_t port = pp_sys_sockaddr_port (sa, len);

  pp_sys_sockaddr_to_string (sa, len, addr, sizeof addr);
  switch (errsv)
    {
    case EADDRINUSE:
      return g_error_new (G_IO_ERROR, code, "address already in use: %s", addr);
    case EADDRNOTAVAIL:
      return g_error_new (G_IO_ERROR, code, "address not available on this host: %s", addr);
    case EACCES:
      if (port != 0 && port < 1024)
        return g_error_new (G_IO_ERROR, code,
                            "permission denied: %s: ports below 1024 need root or "
                            "CAP_NET_BIND_SERVICE (or pick a port ≥ 1024)", addr);
      break;
    default:
      break;
    }
  return g_error_new (G_IO_ERROR, code, "cannot listen on %s: %s", addr, g_strerror (errsv));
}

static gboolean
pp_sys_listen_prepare (int fd, int family, GError **error)
{
  int one = 1;

  if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
    return pp_sys_set_errno_error (error, errno, "setsockopt(SO_REUSEADDR)");
  /* Without V6ONLY a [::] listener would also take IPv4 and clash with a
   * separate 0.0.0.0 listener on the same port ("localhost" maps to both). */
  if (family == AF_INET6 && setsockopt (fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
    return pp_sys_set_errno_error (error, errno, "setsockopt(IPV6_V6ONLY)");
  return TRUE;
}

int
pp_sys_listen_tcp (const struct sockaddr *sa, socklen_t len, int backlog, GError **error)
{
  g_return_val_if_fail (sa != NULL, -1);

  int fd = socket (sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      pp_sys_set_errno_error (error, errno, "socket");
      return -1;
    }
  if (!pp_sys_listen_prepare (fd, sa->sa_family, error))
    {
      close (fd);
      return -1;
    }
  if (bind (fd, sa, len) < 0 || listen (fd, backlog) < 0)
    {
      int errsv = errno;
      close (fd);
      g_propagate_error (error, pp_sys_bind_error_new (errsv, sa, len));
      return -1;
    }
  return fd;
}

int
pp_sys_accept (int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_len)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int fd = accept4 (listen_fd, (struct sockaddr *) &ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

  if (fd < 0)
    return -1;
  pp_sys_tcp_tune (fd);
  if (peer != NULL)
    *peer = ss;
  if (peer_len != NULL)
    *peer_len = len;
  return fd;
}

int
pp_sys_connect_tcp (const struct sockaddr *sa, socklen_t len, GError **error)
{
  g_return_val_if_fail (sa != NULL, -1);

  int fd = socket (sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    {
      pp_sys_set_errno_error (error, errno, "socket");
      return -1;
    }
  pp_sys_tcp_tune (fd);
  /* EINTR: the connect goes on in the background, exactly like EINPROGRESS. */
  if (connect (fd, sa, len) < 0 && errno != EINPROGRESS && errno != EINTR)
    {
      int errsv = errno;
      char addr[PP_SYS_ADDRSTRLEN];
      close (fd);
      pp_sys_sockaddr_to_string (sa, len, addr, sizeof addr);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv), "connect to %s: %s", addr,
                   g_strerror (errsv));
      return -1;
    }
  return fd;
}
