/* SPDX-License-Identifier: MIT
 *
 * pp-tcp: the pump between one app TCP socket and one PpMuxConn (DESIGN §3,
 * "What the app sees").  Reads go through one shared 64 KiB buffer and never
 * exceed the connection's send budget; writes drain the mux's receive queue;
 * EOF travels as FIN/shutdown(SHUT_WR), every abnormal end as an RST with the
 * reason logged.  It decides nothing about rules, mappings or listeners: its
 * owner (pp-tcp-client, pp-tcp-host) creates it and is told when it is gone.
 */
#pragma once

#include "app/pp-epoll-source.h"
#include "core/pp-mux.h"

G_BEGIN_DECLS

/* Size of the read buffer shared by every socket of the process. */
#define PP_TCP_READ_BUFFER 65536
/* Per socket per epoll dispatch, so one busy socket cannot starve others:
 * at most this many reads, and no more once this many bytes were read. */
#define PP_TCP_READS_PER_DISPATCH 16
#define PP_TCP_BYTES_PER_DISPATCH (4 * PP_TCP_READ_BUFFER)

typedef struct _PpTcpConn PpTcpConn;

/* What an observer (the tunnel's owner, for --json) learns about each pump:
 * OPENED once when the logical connection opened (client: the host answered
 * CONNECTED; host: the target accepted the connect), CLOSED exactly once
 * when the pump ends, whether it opened or not. */
typedef enum
{
  PP_TCP_CONN_OPENED,
  PP_TCP_CONN_CLOSED,
} PpTcpConnEventType;

typedef struct
{
  PpTcpConnEventType type;
  uint64_t id;             /* 1, 2, … per observer, in the order pumps were bound */
  const PpTuple *tuple;    /* as the CONNECT named it */
  const char *name;        /* CONNECT by name, or NULL */
  guint via;               /* client: the mapping's id; host: 0 */
  gboolean opened;         /* CLOSED: OPENED came before */
  uint8_t reason;          /* CLOSED: PpCloseReason (0 after both FINs) */
  const char *detail;      /* CLOSED: why, "" for a normal close */
  uint64_t bytes_in;       /* CLOSED: bytes from the peer written to the app */
  uint64_t bytes_out;      /* CLOSED: bytes read from the app for the peer */
} PpTcpConnEvent;

typedef void (*PpTcpConnEventFunc) (const PpTcpConnEvent *ev, gpointer user_data);

/* Lives in the pump's owner (which outlives its pumps), so changing it
 * reaches the live pumps too. */
typedef struct
{
  PpTcpConnEventFunc func;  /* NULL: nobody listens */
  gpointer user_data;
  uint64_t next_id;
} PpTcpObserver;

/* The owner's notice that @c is about to be freed (no fd, no mux handle left). */
typedef void (*PpTcpConnFreeFunc) (PpTcpConn *c, gpointer owner_data);

/* A pump with no socket and no mux connection yet. */
PpTcpConn *pp_tcp_conn_new (PpEpoll *ep, PpTcpConnFreeFunc free_func, gpointer owner_data);
/* For callers that make mux calls which may end @c re-entrantly. */
PpTcpConn *pp_tcp_conn_ref (PpTcpConn *c);
void pp_tcp_conn_unref (PpTcpConn *c);
/* TRUE once @c ended: its owner was told and only references keep it. */
gboolean pp_tcp_conn_is_dead (PpTcpConn *c);
/* Ties @c to @mc (sets @mc's user data to @c). */
void pp_tcp_conn_bind (PpTcpConn *c, PpMuxConn *mc);
/* After bind: @c takes @obs's next id, keeps @mc's tuple and name, and
 * reports to @obs (see PpTcpObserver); @via is the mapping's id or 0. */
void pp_tcp_conn_observe (PpTcpConn *c, PpTcpObserver *obs, guint via);
/* The logical connection opened (host: call before attaching the fd). */
void pp_tcp_conn_opened (PpTcpConn *c);
/* Takes @fd (non-blocking, connected) and starts pumping.  On failure @c is
 * reset (the mux connection aborted, @fd reset) and freed: return FALSE. */
gboolean pp_tcp_conn_attach_fd (PpTcpConn *c, int fd);
/* Abnormal end from our side: CLOSE(@reason) to the peer, RST to the app,
 * @c freed.  @detail is logged and sent (escaped by the mux). */
void pp_tcp_conn_abort (PpTcpConn *c, PpCloseReason reason, const char *detail);

/* The mux's conn_event_cb for connections whose user data is a PpTcpConn
 * (NULL user data is ignored: the pump already left). */
void pp_tcp_conn_dispatch (PpMuxConn *mc, PpMuxConnEvent ev);

PpMuxConn *pp_tcp_conn_get_mux_conn (PpTcpConn *c);
int pp_tcp_conn_get_fd (PpTcpConn *c);
gpointer pp_tcp_conn_get_owner_data (PpTcpConn *c);
/* Bytes both ways through this pump so far. */
void pp_tcp_conn_get_counts (PpTcpConn *c, uint64_t *from_app, uint64_t *to_app);

G_END_DECLS
