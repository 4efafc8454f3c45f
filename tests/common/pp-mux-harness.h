/* SPDX-License-Identifier: MIT
 *
 * pp-mux-harness: two muxes (client and host) joined by message queues
 * that the test schedules by hand — FIFO, random, reversed within a
 * window, or holding one message back — with a manual clock and fake
 * apps that read, write, half-close and reset.  It is the exhaustive test
 * bench for the mux; the real TCP adapters are tested elsewhere.
 */
#pragma once

#include "core/pp-mux-private.h"

G_BEGIN_DECLS

typedef enum
{
  PP_HARNESS_FIFO,
  PP_HARNESS_RANDOM,
  PP_HARNESS_REVERSE,          /* newest first within `window` */
  PP_HARNESS_HOLD,             /* every `hold_every`-th message waits `hold_for` deliveries */
} PpHarnessOrder;

typedef enum
{
  PP_HARNESS_ACCEPT,           /* host accepts every CONNECT at once */
  PP_HARNESS_REFUSE,           /* host refuses with `refuse_reason` */
  PP_HARNESS_DEFER,            /* host leaves it pending (test calls accept) */
} PpHarnessPolicy;

typedef struct _PpHarness PpHarness;
typedef struct _PpHarnessSide PpHarnessSide;

/* One fake app socket on either side. */
typedef struct
{
  PpHarnessSide *side;
  PpMuxConn *conn;             /* NULL once reset or detached */
  guint index;                 /* position in side->apps */
  GByteArray *rx;              /* what the app read */
  GByteArray *tx;              /* what the app still has to send */
  size_t tx_off;
  gboolean shutdown_when_sent; /* FIN after tx is sent */
  gboolean shut;               /* FIN handed to the mux */
  gboolean eof;                /* saw the end of the stream */
  gboolean reset;              /* saw PP_MUX_CONN_EV_RESET */
  gboolean connected;          /* client: saw CONNECTED */
  gboolean detached;
  gboolean echo;               /* host: send back what is read */
  size_t read_limit;           /* bytes per pump; 0 = all; G_MAXSIZE = none */
  size_t write_chunk;          /* bytes per send; 0 = budget */
  uint8_t reset_reason;
  char *reset_detail;
} PpHarnessApp;

struct _PpHarnessSide
{
  PpHarness *h;
  PpMux *mux;
  PpMuxRole role;
  GPtrArray *out;              /* GBytes waiting for delivery to the peer */
  GPtrArray *apps;             /* PpHarnessApp, owned */
  guint sent_count;
  int64_t buffered;            /* what buffered_amount_cb reports */
  gboolean ready;
  gboolean goaway;
  gboolean failed;
  uint8_t end_reason;
  char *end_detail;
  int64_t last_rtt;
};

struct _PpHarness
{
  PpHarnessSide client, host;
  int64_t clock;               /* µs */
  GRand *rand;
  PpHarnessOrder order;
  guint window;
  guint hold_every, hold_for;
  PpHarnessPolicy policy;
  uint8_t refuse_reason;
  gboolean host_echo;          /* new host apps echo */
  size_t host_read_limit;
  guint64 delivered;
  GBytes *held;                /* HOLD: the message held back */
  PpHarnessSide *held_to;
  guint held_left;
};

PpHarness *pp_harness_new (const PpMuxConfig *client_cfg, const PpMuxConfig *host_cfg,
                           PpHarnessOrder order, guint32 seed);
void pp_harness_free (PpHarness *h);
/* Starts both and runs until both are ready (asserts it). */
void pp_harness_connect (PpHarness *h);
/* Delivers one message chosen by the order; FALSE when none is in flight. */
gboolean pp_harness_deliver_one (PpHarness *h);
/* Pumps apps and delivers until nothing moves; returns deliveries made.
 * Fails the test after @max_steps deliveries (livelock guard). */
guint64 pp_harness_run (PpHarness *h, guint64 max_steps);
/* Client app opening a connection to dst port @dst_port on 127.0.0.1 from
 * 127.0.0.1:@src_port, sending @tx then (optionally) FIN. */
PpHarnessApp *pp_harness_open (PpHarness *h, uint16_t src_port, uint16_t dst_port,
                               const uint8_t *tx, size_t tx_len, gboolean fin);
/* Host app of the n-th accepted connection (creation order). */
PpHarnessApp *pp_harness_host_app (PpHarness *h, guint n);
void pp_harness_app_send (PpHarnessApp *app, const uint8_t *data, size_t len, gboolean fin);
void pp_harness_pump_apps (PpHarness *h);
/* Injects a raw message into @to as if the peer had sent it. */
void pp_harness_inject (PpHarness *h, PpHarnessSide *to, const uint8_t *msg, size_t len);
void pp_harness_advance (PpHarness *h, int64_t us);
/* Session conservation and tombstone agreement at quiescence. */
void pp_harness_assert_quiescent (PpHarness *h);

void pp_harness_tuple (PpTuple *t, uint16_t src_port, uint16_t dst_port);

G_END_DECLS
