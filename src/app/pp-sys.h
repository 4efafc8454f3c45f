/* SPDX-License-Identifier: MIT
 *
 * pp-sys: the few socket and process-limit calls the TCP adapters make.
 *
 * Thin errno wrappers with error messages a user can act on ("address
 * already in use: 127.0.0.1:8080").  Every fd made here is non-blocking and
 * close-on-exec.  Nothing here keeps state, touches GLib sources or decides
 * policy (which address, when to reset): that belongs to the callers.
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

G_BEGIN_DECLS

/* "[" + INET6_ADDRSTRLEN + "%" + IF_NAMESIZE + "]:" + "65535" + NUL, rounded up. */
#define PP_SYS_ADDRSTRLEN 80

/* Soft RLIMIT_NOFILE → hard limit; logs at debug. */
void pp_sys_raise_nofile_limit (void);
gboolean pp_sys_set_nonblock_cloexec (int fd, GError **error);
/* TCP_NODELAY; silently nothing on a non-TCP socket. */
void pp_sys_tcp_tune (int fd);
/* SO_LINGER {1,0} then close: the peer sees a reset, not an orderly end. */
void pp_sys_close_rst (int fd);
/* SO_ERROR: 0, or the pending errno (cleared by reading it). */
int pp_sys_socket_error (int fd);

/* A listening socket: SO_REUSEADDR, IPV6_V6ONLY for v6, non-blocking.
 * EADDRINUSE → G_IO_ERROR_ADDRESS_IN_USE "address already in use: 127.0.0.1:8080";
 * EACCES below port 1024 → a message naming CAP_NET_BIND_SERVICE. */
int pp_sys_listen_tcp (const struct sockaddr *sa, socklen_t len, int backlog, GError **error);
/* accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC and pp_sys_tcp_tune; @peer may be
 * NULL.  Returns -1 with errno set (EAGAIN when the queue is empty): no GError
 * on this hot path. */
int pp_sys_accept (int listen_fd, struct sockaddr_storage *peer, socklen_t *peer_len);
/* Non-blocking connect with TCP_NODELAY: EINPROGRESS is swallowed; wait for
 * EPOLLOUT, then read pp_sys_socket_error. */
int pp_sys_connect_tcp (const struct sockaddr *sa, socklen_t len, GError **error);
/* The GError for a failed bind()/listen() of @sa, as pp_sys_listen_tcp reports it. */
GError *pp_sys_bind_error_new (int errsv, const struct sockaddr *sa, socklen_t len);

/* "127.0.0.1:80", "[::1]:80", "[fe80::1%eth0]:80"; IPv4-mapped IPv6 shown as
 * IPv4.  FALSE (and "?" in @buf) for other families or a short @len. */
gboolean pp_sys_sockaddr_to_string (const struct sockaddr *sa, socklen_t len, char *buf,
                                    size_t size);
/* The local port of a bound socket (after listening on port 0), or 0. */
uint16_t pp_sys_local_port (int fd);

G_END_DECLS
