/* SPDX-License-Identifier: MIT
 *
 * pp-mem-transport: two PpTransports joined in memory, for tests (DESIGN §2).
 *
 * Modelled on SQLite's test VFS: a faithful transport (reliable, exactly
 * once, unordered) whose schedule a test chooses — reorder at random, reverse
 * within a window, hold a message back, delay, cap the message size, sever
 * the link — and can replay from a seed.  It never loses or duplicates a
 * message except where the link dies (sever, or an end freed without close),
 * and it is not for production: no limits beyond max_message_size.
 */
#pragma once

#include "pp-transport.h"

G_BEGIN_DECLS

#define PP_MEM_DEFAULT_MAX_MESSAGE_SIZE 262144
#define PP_MEM_DEFAULT_BATCH 64

typedef enum
{
  PP_MEM_ORDER_FIFO = 0,
  PP_MEM_ORDER_RANDOM,
  PP_MEM_ORDER_REVERSE,
  PP_MEM_ORDER_HOLD,
} PpMemOrder;

typedef struct
{
  PpMemOrder order;
  /* RANDOM: pick uniformly among the first `window` queued messages (0 = all);
   * REVERSE: deliver blocks of up to `window` queued messages newest first
   * (0 = everything queued when the block starts). */
  guint window;
  /* HOLD: every hold_every-th message sent is held back until hold_for later
   * messages have been delivered (or nothing else is queued).  hold_every 0
   * holds each message with probability 1/8, drawn from the seed. */
  guint hold_every;
  guint hold_for;
  guint64 seed;            /* RANDOM/HOLD choices, per direction: same seed, same schedule */
  gint64 delay_us;         /* auto mode only: deliverable delay_us after it was sent */
  size_t max_message_size; /* 0 = 262144; larger sends fail with TOO_LARGE */
  guint batch;             /* auto mode: messages per dispatch per direction (0 = 64) */
  gboolean manual;         /* TRUE: nothing moves until pp_mem_transport_step() */
} PpMemConfig;

/* FIFO, auto mode, defaults. */
void pp_mem_config_init (PpMemConfig *cfg);

/* Both ends start NEW; the pair opens (opened_cb on both, @a first) on the
 * next dispatch in auto mode, or at pp_mem_transport_open() in manual mode.
 * Auto mode attaches a source to the thread-default main context of the
 * caller.  @cfg may be NULL (defaults).  Sending before the open fails. */
void pp_mem_transport_pair_new (const PpMemConfig *cfg, PpTransport **a, PpTransport **b);

/* Opens both ends now (either mode); no-op once opened, closed or severed. */
void pp_mem_transport_open (PpTransport *t);

/* Delivers one message from @t's outbound queue to its peer, chosen by the
 * order, ignoring delay_us; FALSE if none could be delivered.  Works in both
 * modes; in manual mode it is the only way messages move. */
gboolean pp_mem_transport_step (PpTransport *t);

/* Messages queued from @t towards its peer and not yet delivered. */
size_t pp_mem_transport_pending (PpTransport *t);

/* The link dies: queued messages are dropped and both ends get
 * closed_cb(@reason) — at once in manual mode, from the source in auto. */
void pp_mem_transport_sever (PpTransport *t, const char *reason);

/* Close semantics (pp_transport_close on a mem end): the closer stops
 * sending at once; what it had queued is still delivered (as SCTP does
 * before a stream reset), then both ends get closed_cb — the closer with its
 * reason, the peer with "peer closed: <reason>" — and what the peer had
 * queued is dropped.  Manual mode: at once if the closer's queue is empty,
 * else right after the step that drains it.  Auto mode: from the source.
 * The last unref of an end that has not closed severs the link with
 * "peer went away"; of an end that is closing, lets its queue drain first
 * (auto mode) or finishes the close at once (manual mode). */

G_END_DECLS
