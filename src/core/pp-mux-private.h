/* SPDX-License-Identifier: MIT
 *
 * Internal structures of pp-mux, shared by its files (pp-mux.c: session
 * and receive path; pp-mux-conn.c: connections, tuples and the connection
 * API; pp-mux-out.c: queues, scheduler and transmission).  Nothing outside
 * src/core/pp-mux*.c and the mux tests includes this.
 */
#pragma once

#include "core/pp-mux.h"
#include "core/pp-reasm.h"

G_BEGIN_DECLS

/* docs/protocol.md §5.2: the sender's limits on unacknowledged messages. */
#define PP_U_LIMIT_DATA 768    /* DATA, FIN, CONNECT, CONNECTED */
#define PP_U_LIMIT_CREDIT 1023
#define PP_U_LIMIT_CLOSE 1024
#define PP_RX_WINDOW 1024      /* ids this far from the next expected are violations */
#define PP_UNITS_PER_PACKET 64
#define PP_MAX_VIOLATIONS 3
#define PP_MAX_PENDING_MESSAGES (1u << 18)  /* session-wide reassembly entries */
#define PP_MAX_EARLY_SESSION_PACKETS 16

/* One packet waiting to be transmitted: header space, then the payload. */
typedef struct _PpOut PpOut;
struct _PpOut
{
  PpOut *next;
  uint8_t event;
  uint32_t units;              /* DATA: payload + 64, charged at queue time */
  size_t len;                  /* payload bytes */
  uint8_t buf[];               /* PP_HEADER_SIZE + len */
};

typedef struct
{
  PpTuple key;
  uint16_t tx_next;            /* next chunk_id we send */
  uint16_t tx_acked;           /* first id the peer has not acknowledged */
  uint16_t rx_next;            /* next chunk_id we deliver */
  uint16_t rx_unacked;         /* sequenced messages processed since our last CREDIT */
  gboolean dead;               /* CLOSE(5) happened: never used again */
  PpMuxConn *conn;             /* live connection, or NULL for a tombstone */
  PpReasm *reasm;              /* lazily allocated */
  GList released_link;         /* client: in PpMux.released, oldest first */
} PpTupleState;

typedef enum
{
  PP_SCHED_NONE,
  PP_SCHED_CTRL,               /* CREDIT owed or a control packet at the head */
  PP_SCHED_DATA,               /* DATA at the head: round-robin */
  PP_SCHED_PARKED,             /* blocked by U until the peer acknowledges */
} PpSched;

typedef enum
{
  PP_TIMER_NONE,
  PP_TIMER_CONNECT,
  PP_TIMER_LINGER,
} PpTimerKind;

typedef struct
{
  GBytes *bytes;               /* owned */
  uint32_t units;              /* credit the packet cost */
} PpRxItem;

struct _PpMuxConn
{
  PpMux *mux;
  PpTupleState *ts;            /* NULL once released */
  PpTuple tuple;
  char *name;                  /* CONNECT by name, or NULL */
  gpointer user_data;

  /* What happened, from which the PpMuxConnState follows. */
  guint established : 1;       /* client: CONNECTED processed; host: accepted */
  guint connect_sent : 1;      /* client: CONNECT transmitted */
  guint fin_queued : 1;
  guint fin_sent : 1;
  guint fin_received : 1;      /* processed in order */
  guint close_queued : 1;
  guint close_sent : 1;
  guint close_received : 1;    /* processed in order */
  guint credit_pending : 1;
  guint app_gone : 1;          /* detached, aborted or told to reset */
  guint starved : 1;           /* told the budget is 0; owed a WRITABLE */
  guint counted_connecting : 1;
  guint buried : 1;
  uint8_t close_reason;
  char *close_detail;          /* escaped, owned */

  /* Send side. */
  int64_t tx_allow;            /* units the peer still accepts on this conn */
  PpOut *outq_head, *outq_tail;
  size_t tx_queued;            /* payload bytes in outq */
  PpSched sched;
  GList sched_link;

  /* Receive side. */
  GQueue rxq;                  /* PpRxItem */
  size_t rx_off;               /* bytes of the head item already consumed */
  size_t rx_queued;            /* payload bytes in rxq */
  uint64_t rx_consumed;        /* units the peer spent on this conn */
  uint64_t rx_granted;         /* units granted by our CREDITs */
  uint64_t rx_freed;           /* units freed since our last CREDIT */

  PpTimerKind timer;
  int64_t deadline;
  GList timer_link;
  GList starved_link;
  GList all_link;
};

struct _PpMux
{
  PpMuxRole role;
  PpMuxConfig cfg;
  char *name;
  PpMuxCallbacks cb;
  gpointer user_data;

  gboolean hello_sent;
  gboolean ready;              /* both HELLOs seen */
  gboolean closed;
  gboolean coalesce_tx;        /* both sides set capability bit 0 */
  PpHello peer_hello;
  GPtrArray *early;            /* client: session packets before the host's HELLO */

  GHashTable *tuples;          /* PpTuple* → PpTupleState* (owned) */
  GQueue released;             /* client: tombstones, oldest first */
  GQueue conns;                /* every PpMuxConn not yet freed */
  GQueue ctrlq, dataq, parked;
  GQueue starved;
  GQueue connect_timers, linger_timers;
  GPtrArray *graveyard;        /* conns freed when the outermost call returns */

  int64_t sess_tx_allow;       /* units the peer still accepts in the session */
  uint64_t sess_rx_arrived;    /* units the peer spent */
  uint64_t sess_rx_granted;    /* units granted by session CREDITs */
  uint64_t sess_rx_freed;      /* freed since our last session CREDIT */

  guint depth;                 /* nesting of entry points */
  guint cork;
  gboolean flush_wanted;
  uint8_t *coal;               /* coalescing buffer (max_message_size) */
  size_t coal_len;

  PpMuxStats stats;
};

/* pp-mux-out.c */
PpOut *pp__out_new (uint8_t event, const void *payload, size_t len);
void pp__out_free_all (PpOut *head);
void pp__conn_push_out (PpMuxConn *conn, PpOut *out);
void pp__conn_schedule (PpMuxConn *conn);
void pp__conn_unschedule (PpMuxConn *conn);
void pp__mux_send_session (PpMux *mux, uint8_t event, const void *payload, size_t len);
void pp__mux_flush_now (PpMux *mux);
void pp__mux_emit_coalesced (PpMux *mux);
/* The largest DATA payload or coalesced message worth making now. */
size_t pp__mux_message_cap (PpMux *mux);
void pp__tuple_send_loose (PpMux *mux, PpTupleState *ts, uint8_t event,
                           const void *payload, size_t len);

uint16_t pp__tuple_unacked (const PpTupleState *ts);

/* pp-mux.c: the session */
int64_t pp__mux_now (PpMux *mux);
void pp__mux_enter (PpMux *mux);
void pp__mux_leave (PpMux *mux);
void pp__mux_free_units (PpMux *mux, PpMuxConn *conn, uint64_t units);
void pp__mux_violation (PpMux *mux, PpTupleState *ts, const char *why);
void pp__mux_violation_full (PpMux *mux, PpTupleState *ts, const char *why,
                             gboolean send_close);

/* pp-mux-conn.c: connections and tuples */
PpTupleState *pp__tuple_new (PpMux *mux, const PpTuple *key);
const char *pp__packet_check (const PpPacket *p);
void pp__tuple_process (PpMux *mux, PpTupleState *ts, uint8_t event, GBytes *payload,
                        uint32_t units);
void pp__tuple_kill (PpMux *mux, PpTupleState *ts, gboolean send_close, const char *why);
void pp__conn_free (PpMuxConn *conn);
void pp__conn_release (PpMuxConn *conn);
void pp__conn_sent_fin (PpMuxConn *conn);
void pp__mux_fill_credit (PpMuxConn *conn, uint8_t payload[PP_CREDIT_PAYLOAD]);
void pp__mux_wake_starved (PpMux *mux, PpMuxConn *only);
void pp__mux_reset_all (PpMux *mux, uint8_t reason, const char *detail);
void pp__mux_expire_timers (PpMux *mux, int64_t t);

G_END_DECLS
