/* SPDX-License-Identifier: MIT
 *
 * pp-mux: logical TCP connections over one unordered message transport,
 * as docs/protocol.md specifies: HELLO, per-tuple sequencing with
 * tombstones, reassembly, socket and session credit, the release
 * handshake, validation and the scheduler.
 *
 * Sans-IO: messages come in through pp_mux_receive(), go out through the
 * transmit callback, and time comes from the clock callback.  It never
 * touches a socket; the app layer (TCP adapters, tests) drives each
 * connection through the pp_mux_conn_* calls and the connection events.
 */
#pragma once

#include "core/pp-codec.h"

G_BEGIN_DECLS

typedef struct _PpMux PpMux;
typedef struct _PpMuxConn PpMuxConn;

typedef enum
{
  PP_MUX_ROLE_CLIENT,
  PP_MUX_ROLE_HOST,
} PpMuxRole;

/* The lifecycle of a connection (docs/protocol.md §6):
 *
 *   CONNECTING ──CONNECTED──▶ OPEN ──FIN sent──▶ HALF_CLOSED_LOCAL ──┐
 *        │                     │ ──FIN rcvd──▶ HALF_CLOSED_REMOTE ───┤
 *        └────────── CLOSE sent or received ──▶ CLOSING ◀────────────┘
 *                                                  │ own CLOSE sent and
 *                                                  ▼ peer's processed
 *                                               RELEASED (tombstone kept)
 */
typedef enum
{
  PP_MUX_CONN_CONNECTING,
  PP_MUX_CONN_OPEN,
  PP_MUX_CONN_HALF_CLOSED_LOCAL,
  PP_MUX_CONN_HALF_CLOSED_REMOTE,
  PP_MUX_CONN_CLOSING,
  PP_MUX_CONN_RELEASED,
} PpMuxConnState;

typedef enum
{
  /* Client: the host connected to the target. */
  PP_MUX_CONN_EV_CONNECTED,
  /* Bytes or the end of the stream are waiting: pp_mux_conn_peek(). */
  PP_MUX_CONN_EV_READABLE,
  /* The send budget grew from 0: read from the app again. */
  PP_MUX_CONN_EV_WRITABLE,
  /* Abnormal end: reset the app socket now (SO_LINGER {1,0}) and forget
   * the handle; the reason is in pp_mux_conn_get_close_reason().  No
   * further event follows and the handle is invalid after the callback. */
  PP_MUX_CONN_EV_RESET,
} PpMuxConnEvent;

typedef enum
{
  PP_MUX_SESSION_READY,      /* HELLOs exchanged; connections may open */
  PP_MUX_SESSION_GOAWAY,     /* the peer ended the session (reason, detail) */
  PP_MUX_SESSION_FAILED,     /* we ended it: protocol error or incompatibility */
  PP_MUX_SESSION_PONG,       /* rtt_us is set */
} PpMuxSessionEventType;

typedef struct
{
  PpMuxSessionEventType type;
  uint8_t reason;            /* PpGoawayReason for GOAWAY and FAILED */
  const char *detail;        /* escaped, printable ASCII; may be "" */
  int64_t rtt_us;
} PpMuxSessionEvent;

typedef struct
{
  /* A message for the transport; the mux gives up its reference. */
  void (*transmit_cb) (PpMux *mux, GBytes *msg, gpointer user_data);
  /* Bytes the transport holds that it has not sent yet. */
  size_t (*buffered_amount_cb) (PpMux *mux, gpointer user_data);
  /* Monotonic time in µs (injected so tests use a manual clock). */
  int64_t (*now_cb) (PpMux *mux, gpointer user_data);
  void (*session_cb) (PpMux *mux, const PpMuxSessionEvent *ev, gpointer user_data);
  /* Host only: a CONNECT arrived.  Answer later with pp_mux_conn_accept()
   * or pp_mux_conn_abort(); the mux times it out after connect_timeout_us. */
  void (*conn_request_cb) (PpMux *mux, PpMuxConn *conn, gpointer user_data);
  void (*conn_event_cb) (PpMux *mux, PpMuxConn *conn, PpMuxConnEvent ev,
                         gpointer user_data);
} PpMuxCallbacks;

typedef struct
{
  uint32_t socket_window;      /* W we accept per connection, units; default 1 MiB */
  uint32_t session_window;     /* S we accept per session, units; default 16 MiB */
  uint32_t max_tuples;         /* default 65536 */
  uint32_t max_sockets;        /* default 10000 */
  uint32_t max_connecting;     /* host: CONNECTs in flight, default 256 */
  uint32_t caps;               /* default PP_CAPS_SUPPORTED */
  size_t max_message_size;     /* the peer's, bytes; default 65536 */
  size_t high_water;           /* DATA waits while the transport buffers more; default 256 KiB */
  int64_t connect_timeout_us;  /* default 10 s */
  int64_t linger_us;           /* default 30 s */
  uint32_t credit_messages;    /* CREDIT after this many messages; default 256, never < 2 */
  const char *name;            /* HELLO name, ≤ 64 bytes; may be NULL */
} PpMuxConfig;

typedef struct
{
  uint32_t sockets;            /* live connections */
  uint32_t tuples;             /* tuples with state (live or tombstone) */
  uint32_t connecting;
  uint64_t bytes_in;           /* DATA payload bytes received */
  uint64_t bytes_out;          /* DATA payload bytes transmitted */
  uint64_t messages_in;
  uint64_t messages_out;
  uint32_t violations;
  size_t rx_queued;            /* payload bytes waiting for apps */
  size_t tx_queued;            /* payload bytes waiting for the transport */
  uint32_t pending_messages;   /* out-of-order messages held for reassembly */
} PpMuxStats;

void pp_mux_config_init (PpMuxConfig *cfg);

PpMux *pp_mux_new (PpMuxRole role, const PpMuxConfig *cfg,
                   const PpMuxCallbacks *callbacks, gpointer user_data);
/* Frees every connection without events; call pp_mux_goaway() or
 * pp_mux_transport_closed() first for an orderly end. */
void pp_mux_free (PpMux *mux);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpMux, pp_mux_free)

/* The transport opened: the client sends its HELLO. */
void pp_mux_start (PpMux *mux);
gboolean pp_mux_is_ready (PpMux *mux);
gboolean pp_mux_is_closed (PpMux *mux);
/* One message from the transport (borrowed; DATA payloads keep slices). */
void pp_mux_receive (PpMux *mux, GBytes *msg);
/* The transport's buffered amount fell: send what waits. */
void pp_mux_flush (PpMux *mux);
/* Batches output of several calls into fewer messages; nests. */
void pp_mux_cork (PpMux *mux);
void pp_mux_uncork (PpMux *mux);
void pp_mux_set_high_water (PpMux *mux, size_t bytes);
void pp_mux_set_max_message_size (PpMux *mux, size_t bytes);
/* Earliest time pp_mux_handle_timeout() has work, or G_MAXINT64. */
int64_t pp_mux_next_deadline (PpMux *mux);
void pp_mux_handle_timeout (PpMux *mux);
void pp_mux_ping (PpMux *mux);
/* Ends the session: GOAWAY to the peer, every connection reset. */
void pp_mux_goaway (PpMux *mux, PpGoawayReason reason, const char *detail);
/* The transport died: every connection reset with @reason logged. */
void pp_mux_transport_closed (PpMux *mux, const char *reason);
void pp_mux_get_stats (PpMux *mux, PpMuxStats *out);
/* The peer's HELLO (valid once ready), or NULL. */
const PpHello *pp_mux_get_peer_hello (PpMux *mux);

/* Visits live connections; the visitor may abort the one it is given. */
typedef void (*PpMuxConnFunc) (PpMuxConn *conn, gpointer user_data);
void pp_mux_foreach_conn (PpMux *mux, PpMuxConnFunc func, gpointer user_data);

/* Client: a local app connected.  @want holds the app's address as src
 * and the target as dst (dst :: with @name for CONNECT by name).  Returns
 * NULL with *why when the session cannot take it (not ready, too many
 * sockets or tuples): reset the app socket. */
PpMuxConn *pp_mux_open (PpMux *mux, const PpTuple *want, const char *name,
                        gpointer user_data, const char **why);

/* Host: the connect to the target succeeded. */
void pp_mux_conn_accept (PpMuxConn *conn);
/* Abnormal end from this side (refused, connect failed, the app reset,
 * revoked …).  The handle is invalid for the caller afterwards. */
void pp_mux_conn_abort (PpMuxConn *conn, PpCloseReason reason, const char *detail);
/* The app is finished with the connection: both directions ended (EOF
 * written and read) or it closed normally.  Unfinished streams are
 * aborted with CLOSE(4).  The handle is invalid afterwards. */
void pp_mux_conn_detach (PpMuxConn *conn);

/* Bytes the app may read now and hand to pp_mux_conn_send() as one call;
 * 0 means stop reading until PP_MUX_CONN_EV_WRITABLE. */
size_t pp_mux_conn_send_budget (PpMuxConn *conn);
void pp_mux_conn_send (PpMuxConn *conn, const uint8_t *data, size_t len);
/* The app reached EOF: FIN after the queued DATA. */
void pp_mux_conn_shutdown (PpMuxConn *conn);

/* Contiguous bytes at the head of the receive queue; 0 if none. */
size_t pp_mux_conn_peek (PpMuxConn *conn, const uint8_t **data);
void pp_mux_conn_consume (PpMuxConn *conn, size_t n);
/* Every byte was consumed and the peer sent FIN: shutdown(SHUT_WR). */
gboolean pp_mux_conn_at_eof (PpMuxConn *conn);

const PpTuple *pp_mux_conn_get_tuple (PpMuxConn *conn);
const char *pp_mux_conn_get_name (PpMuxConn *conn);   /* CONNECT by name, or NULL */
PpMuxConnState pp_mux_conn_get_state (PpMuxConn *conn);
uint8_t pp_mux_conn_get_close_reason (PpMuxConn *conn);
const char *pp_mux_conn_get_close_detail (PpMuxConn *conn);  /* escaped */
gpointer pp_mux_conn_get_user_data (PpMuxConn *conn);
void pp_mux_conn_set_user_data (PpMuxConn *conn, gpointer user_data);
PpMux *pp_mux_conn_get_mux (PpMuxConn *conn);
const char *pp_mux_conn_state_name (PpMuxConnState state);

G_END_DECLS
