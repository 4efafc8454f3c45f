/* SPDX-License-Identifier: MIT
 *
 * pp-tcp-client: the client's mappings as listening sockets (DESIGN §4).
 * Each mapping listens on every one of its addresses; an accepted app socket
 * becomes a mux connection (CONNECT) and a pp-tcp pump.  Listeners accept
 * only while the session can take connections, so early apps wait in the
 * kernel's listen queue instead of being dropped.  It never parses mappings
 * itself (pp-mappings does) and never talks to the transport.
 */
#pragma once

#include "app/pp-epoll-source.h"
#include "app/pp-tcp.h"
#include "core/pp-mux.h"

G_BEGIN_DECLS

typedef struct _PpTcpClient PpTcpClient;

PpTcpClient *pp_tcp_client_new (PpEpoll *ep, PpMux *mux);
/* Closes every listener and resets every app socket (CLOSE 9 to the peer). */
void pp_tcp_client_free (PpTcpClient *cl);

/* TRUE once the session is ready (accept and CONNECT), and again after it
 * ended (accept and reset, so no app hangs in the listen queue). */
void pp_tcp_client_set_accepting (PpTcpClient *cl, gboolean accepting);

/* Parses @text and listens; returns the mapping's id (> 0) or 0 with @error:
 * a bad mapping, "address already in use: 127.0.0.1:8080", a privileged port. */
guint pp_tcp_client_add_mapping (PpTcpClient *cl, const char *text, GError **error);
/* @what: "#ID" or the mapping's text.  Closes its listeners and resets its
 * sockets with CLOSE(8); *@n_closed (nullable) gets how many. */
gboolean pp_tcp_client_remove_mapping (PpTcpClient *cl, const char *what, guint *n_closed,
                                       GError **error);

guint pp_tcp_client_count_mappings (PpTcpClient *cl);
/* The @i-th mapping (0-based): id and display text with the real port
 * (owned by @cl).  FALSE when out of range. */
gboolean pp_tcp_client_nth_mapping (PpTcpClient *cl, guint i, guint *id, const char **display);
/* The port mapping @id listens on (the picked one for port 0), or 0. */
uint16_t pp_tcp_client_get_port (PpTcpClient *cl, guint id);
/* Live app sockets of all mappings. */
guint pp_tcp_client_count_sockets (PpTcpClient *cl);

/* Every pump reports its opening and its end to @func (NULL: nobody). */
void pp_tcp_client_set_observer (PpTcpClient *cl, PpTcpConnEventFunc func, gpointer user_data);

G_END_DECLS
