/* SPDX-License-Identifier: MIT
 *
 * pp-tcp-host: the host's answer to CONNECT (DESIGN §4).  Checks the rules,
 * resolves names asynchronously (≤ 32 lookups in flight, 5 s each), checks
 * every resolved address again (no DNS rebinding), connects to the allowed
 * ones with a 250 ms Happy Eyeballs stagger and hands the winner to a pp-tcp
 * pump.  It owns no rules (the caller's PpRules must outlive it) and never
 * times a CONNECT out itself: the mux does (10 s) and resets the connection.
 */
#pragma once

#include "app/pp-epoll-source.h"
#include "app/pp-tcp.h"
#include "core/pp-mux.h"
#include "core/pp-rules.h"

G_BEGIN_DECLS

#define PP_TCP_HOST_MAX_LOOKUPS 32
#define PP_TCP_HOST_LOOKUP_TIMEOUT_MS 5000
#define PP_TCP_HOST_STAGGER_MS 250

typedef struct _PpTcpHost PpTcpHost;

/* @rules is borrowed (may be NULL: nothing is allowed). */
PpTcpHost *pp_tcp_host_new (PpEpoll *ep, PpMux *mux, PpRules *rules);
/* Resets every app socket and cancels lookups and connects. */
void pp_tcp_host_free (PpTcpHost *host);
void pp_tcp_host_set_rules (PpTcpHost *host, PpRules *rules);

/* The mux's conn_request_cb. */
void pp_tcp_host_handle_request (PpTcpHost *host, PpMuxConn *mc);

/* After a rule was removed: re-checks every connection (its address, and for
 * a CONNECT by name also the name) and resets those no longer allowed with
 * CLOSE(8).  Returns how many. */
guint pp_tcp_host_revoke (PpTcpHost *host);

/* Connections: connecting or pumping. */
guint pp_tcp_host_count_sockets (PpTcpHost *host);

/* Every CONNECT's pump reports its opening (the target accepted) and its
 * end, refusals included, to @func (NULL: nobody). */
void pp_tcp_host_set_observer (PpTcpHost *host, PpTcpConnEventFunc func, gpointer user_data);

G_END_DECLS
