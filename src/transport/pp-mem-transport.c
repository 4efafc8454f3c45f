/* SPDX-License-Identifier: MIT
 *
 * pp-mem-transport: an in-memory pair of transports with fault injection.
 * The two ends share a refcounted link that holds one queue per direction;
 * a schedule (FIFO, random, reverse, hold, delay) picks which queued message
 * moves next, from a GSource in auto mode or from pp_mem_transport_step().
 * Every callback may re-enter anything (send, close, unref either end), so
 * the code re-reads the link after each emission and never caches an end.
 */
#include "pp-mem-transport.h"

#include <string.h>

typedef struct
{
  GBytes *msg;
  gint64 ready_us;   /* auto mode: deliverable from this monotonic time */
  guint held_left;   /* HOLD: later deliveries still to let past */
  gboolean held;
} PpMemItem;

/* A deque in one array: the front is `head`; removing at index i shifts the
 * i items before it (windows are small), so FIFO pops are O(1). */
typedef struct
{
  PpMemItem *items;
  size_t head;
  size_t len;
  size_t cap;
  size_t buffered;       /* bytes queued */
  guint64 sent;          /* messages ever queued, for hold_every */
  size_t block_left;     /* REVERSE: items of the current block still queued */
  GRand *rand;
} PpMemQueue;

typedef struct _PpMemLink PpMemLink;

typedef struct
{
  PpTransport base;
  PpMemLink *link;
  guint side;
  uint64_t messages_sent;
  uint64_t messages_received;
  uint64_t bytes_sent;
  uint64_t bytes_received;
} PpMemTransport;

struct _PpMemLink
{
  int ref_count;
  PpMemConfig cfg;
  PpMemTransport *end[2];   /* weak: NULL once that end is finalized */
  PpMemQueue queue[2];      /* queue[s]: from end[s] towards end[1 - s] */
  gboolean open_pending;
  gboolean closing[2];
  char *close_reason[2];
  gboolean dead;            /* no more deliveries; queues dropped */
  char *pending_closed[2];  /* closed_cb reasons not yet emitted */
  GMainContext *context;
  GSource *source;
  gint64 ready_time;        /* what the source was last set to */
};

static void mem_finalize (PpTransport *t);
static gboolean mem_send (PpTransport *t, GBytes *msg, GError **error);
static size_t mem_get_buffered_amount (PpTransport *t);
static size_t mem_get_max_message_size (PpTransport *t);
static void mem_get_stats (PpTransport *t, PpTransportStats *out);
static void mem_close (PpTransport *t, const char *reason);

static const PpTransportClass mem_class = {
  .send = mem_send,
  .get_buffered_amount = mem_get_buffered_amount,
  .get_max_message_size = mem_get_max_message_size,
  .get_stats = mem_get_stats,
  .close = mem_close,
  .finalize = mem_finalize,
};

static PpMemTransport *
mem_cast (PpTransport *t)
{
  g_return_val_if_fail (t != NULL && t->klass == &mem_class, NULL);
  return (PpMemTransport *) t;
}

void
pp_mem_config_init (PpMemConfig *cfg)
{
  g_return_if_fail (cfg != NULL);

  memset (cfg, 0, sizeof *cfg);
  cfg->order = PP_MEM_ORDER_FIFO;
}

/* ---- queue ---- */

static PpMemItem *
queue_at (PpMemQueue *q, size_t i)
{
  return &q->items[q->head + i];
}

static void
queue_push (PpMemQueue *q, const PpMemItem *item)
{
  if (q->head + q->len == q->cap)
    {
      if (q->head > 0 && q->head >= q->cap / 2)
        {
          memmove (q->items, q->items + q->head, q->len * sizeof *q->items);
          q->head = 0;
        }
      else
        {
          q->cap = MAX (q->cap * 2, 16);
          q->items = g_renew (PpMemItem, q->items, q->cap);
        }
    }
  q->items[q->head + q->len++] = *item;
  q->buffered += g_bytes_get_size (item->msg);
}

static PpMemItem
queue_remove (PpMemQueue *q, size_t i)
{
  PpMemItem item = *queue_at (q, i);

  memmove (q->items + q->head + 1, q->items + q->head, i * sizeof *q->items);
  q->head++;
  q->len--;
  if (q->len == 0)
    q->head = 0;
  q->buffered -= g_bytes_get_size (item.msg);
  return item;
}

static void
queue_drop (PpMemQueue *q)
{
  for (size_t i = 0; i < q->len; i++)
    g_bytes_unref (queue_at (q, i)->msg);
  q->head = q->len = 0;
  q->buffered = 0;
  q->block_left = 0;
}

/* ready_us never decreases along the queue (constant delay, monotonic clock,
 * removals keep the order), so the deliverable items are a prefix. */
static size_t
queue_ready_count (PpMemQueue *q, gint64 now)
{
  size_t lo = 0, hi = q->len;

  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      if (queue_at (q, mid)->ready_us <= now)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* ---- schedule ---- */

static size_t
pick_hold (PpMemQueue *q, size_t avail)
{
  size_t i = 0;

  while (i < avail && queue_at (q, i)->held && queue_at (q, i)->held_left > 0)
    i++;
  if (i == avail)
    return 0;   /* everything deliverable is held: nothing else is queued */
  /* The held items before i are older than the one that goes now. */
  for (size_t j = 0; j < i; j++)
    queue_at (q, j)->held_left--;
  return i;
}

static size_t
pick_index (PpMemLink *link, PpMemQueue *q, size_t avail)
{
  guint window = link->cfg.window;
  size_t span = window > 0 ? MIN ((size_t) window, avail) : avail;

  switch (link->cfg.order)
    {
    case PP_MEM_ORDER_FIFO:
      return 0;
    case PP_MEM_ORDER_RANDOM:
      return (size_t) g_rand_int_range (q->rand, 0, (gint32) MIN (span, (size_t) G_MAXINT32));
    case PP_MEM_ORDER_REVERSE:
      if (q->block_left == 0 || q->block_left > avail)
        q->block_left = span;
      return --q->block_left;
    case PP_MEM_ORDER_HOLD:
      return pick_hold (q, avail);
    default:
      g_assert_not_reached ();
    }
}

static gboolean
decide_hold (PpMemLink *link, PpMemQueue *q)
{
  if (link->cfg.order != PP_MEM_ORDER_HOLD)
    return FALSE;
  if (link->cfg.hold_every == 0)
    return g_rand_int_range (q->rand, 0, 8) == 0;
  return q->sent % link->cfg.hold_every == 0;
}

/* ---- link ---- */

static PpMemLink *
link_ref (PpMemLink *link)
{
  link->ref_count++;
  return link;
}

static void
link_unref (PpMemLink *link)
{
  if (--link->ref_count > 0)
    return;
  for (guint s = 0; s < 2; s++)
    {
      queue_drop (&link->queue[s]);
      g_free (link->queue[s].items);
      g_rand_free (link->queue[s].rand);
      g_free (link->close_reason[s]);
      g_free (link->pending_closed[s]);
    }
  if (link->source != NULL)
    {
      g_source_destroy (link->source);
      g_source_unref (link->source);
    }
  if (link->context != NULL)
    g_main_context_unref (link->context);
  g_free (link);
}

static PpTransport *
link_end (PpMemLink *link, guint s)
{
  return link->end[s] != NULL ? &link->end[s]->base : NULL;
}

static gboolean
has_pending_closed (PpMemLink *link)
{
  return link->pending_closed[0] != NULL || link->pending_closed[1] != NULL;
}

/* The link dies: queues go, and each end still there owes a closed_cb. */
static void
link_kill (PpMemLink *link, const char *reason0, const char *reason1)
{
  const char *reasons[2] = { reason0, reason1 };

  if (link->dead)
    return;
  link->dead = TRUE;
  link->open_pending = FALSE;
  for (guint s = 0; s < 2; s++)
    {
      queue_drop (&link->queue[s]);
      if (link->end[s] != NULL && link->pending_closed[s] == NULL)
        link->pending_closed[s] = g_strdup (reasons[s]);
    }
}

static gboolean
close_ready (PpMemLink *link)
{
  if (link->dead || (!link->closing[0] && !link->closing[1]))
    return FALSE;
  for (guint s = 0; s < 2; s++)
    if (link->closing[s] && link->queue[s].len > 0)
      return FALSE;
  return TRUE;
}

static char *
closed_reason_for (PpMemLink *link, guint s)
{
  if (link->closing[s])
    return g_strdup (link->close_reason[s]);
  return g_strdup_printf ("peer closed: %s", link->close_reason[1 - s]);
}

static void
maybe_finish_close (PpMemLink *link)
{
  g_autofree char *r0 = NULL;
  g_autofree char *r1 = NULL;

  if (!close_ready (link))
    return;
  r0 = closed_reason_for (link, 0);
  r1 = closed_reason_for (link, 1);
  link_kill (link, r0, r1);
}

static void
emit_pending_closed (PpMemLink *link)
{
  for (guint s = 0; s < 2; s++)
    {
      g_autofree char *reason = g_steal_pointer (&link->pending_closed[s]);
      PpTransport *t = link_end (link, s);

      if (reason == NULL || t == NULL)
        continue;
      pp_transport_ref (t);
      pp__transport_emit_closed (t, reason);
      pp_transport_unref (t);
    }
}

static void
emit_opened (PpMemLink *link)
{
  if (!link->open_pending)
    return;
  link->open_pending = FALSE;
  for (guint s = 0; s < 2; s++)
    {
      PpTransport *t = link_end (link, s);

      /* A's opened_cb may have closed or severed: B then only gets closed. */
      if (t == NULL || link->dead || link->closing[0] || link->closing[1])
        continue;
      pp_transport_ref (t);
      pp__transport_emit_opened (t);
      pp_transport_unref (t);
    }
}

static gboolean
queue_can_deliver (PpMemLink *link, guint s)
{
  PpTransport *rx = link_end (link, 1 - s);

  return !link->dead && link->queue[s].len > 0 && rx != NULL
         && rx->state == PP_TRANSPORT_OPEN;
}

/* Moves one message from queue[s] to the other end.  Emissions may re-enter;
 * the caller holds a link reference, and we re-read the link afterwards. */
static gboolean
deliver_one (PpMemLink *link, guint s, gint64 now, gboolean ignore_delay)
{
  PpMemQueue *q = &link->queue[s];
  PpTransport *rx, *tx;
  PpMemItem item;
  size_t avail, before;
  gboolean crossed;

  if (!queue_can_deliver (link, s))
    return FALSE;
  avail = ignore_delay ? q->len : queue_ready_count (q, now);
  if (avail == 0)
    return FALSE;

  before = q->buffered;
  item = queue_remove (q, pick_index (link, q, avail));
  tx = link_end (link, s);
  crossed = tx != NULL && before > tx->low_water && q->buffered <= tx->low_water;

  rx = link_end (link, 1 - s);
  link->end[1 - s]->messages_received++;
  link->end[1 - s]->bytes_received += g_bytes_get_size (item.msg);
  pp_transport_ref (rx);
  pp__transport_emit_message (rx, item.msg);
  pp_transport_unref (rx);
  g_bytes_unref (item.msg);

  /* The message callback may have sent more, closed, or freed the sender. */
  tx = link_end (link, s);
  if (crossed && tx != NULL && q->buffered <= tx->low_water)
    {
      pp_transport_ref (tx);
      pp__transport_emit_buffered_low (tx);
      pp_transport_unref (tx);
    }
  return TRUE;
}

/* Sets the source's ready time only when it changes: each change wakes the
 * context, and send() calls this for every message. */
static void
link_set_ready_time (PpMemLink *link, gint64 ready_time)
{
  if (link->ready_time == ready_time)
    return;
  link->ready_time = ready_time;
  g_source_set_ready_time (link->source, ready_time);
}

static void
link_schedule (PpMemLink *link)
{
  gint64 next = -1;

  if (link->source == NULL)
    return;
  if (link->open_pending || has_pending_closed (link) || close_ready (link))
    {
      link_set_ready_time (link, 0);
      return;
    }
  for (guint s = 0; s < 2; s++)
    {
      gint64 head;

      if (!queue_can_deliver (link, s))
        continue;
      head = queue_at (&link->queue[s], 0)->ready_us;
      next = next < 0 ? head : MIN (next, head);
    }
  if (next >= 0 && next <= g_get_monotonic_time ())
    next = 0;
  link_set_ready_time (link, next);
}

/* Manual mode has no source: what would wait for it happens now. */
static void
link_settle (PpMemLink *link)
{
  link_ref (link);
  maybe_finish_close (link);
  if (link->source == NULL)
    emit_pending_closed (link);
  link_schedule (link);
  link_unref (link);
}

typedef struct
{
  GSource source;
  PpMemLink *link;
} PpMemSource;

static gboolean
mem_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  PpMemLink *link = link_ref (((PpMemSource *) source)->link);
  guint batch = link->cfg.batch > 0 ? link->cfg.batch : PP_MEM_DEFAULT_BATCH;
  gint64 now = g_get_monotonic_time ();

  emit_opened (link);
  for (guint s = 0; s < 2; s++)
    for (guint n = 0; n < batch; n++)
      if (!deliver_one (link, s, now, FALSE))
        break;
  maybe_finish_close (link);
  emit_pending_closed (link);
  link_schedule (link);
  link_unref (link);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs mem_source_funcs = {
  .dispatch = mem_source_dispatch,
};

static void
link_attach_source (PpMemLink *link)
{
  link->context = g_main_context_ref_thread_default ();
  link->source = g_source_new (&mem_source_funcs, sizeof (PpMemSource));
  ((PpMemSource *) link->source)->link = link;
  g_source_set_static_name (link->source, "pp-mem-transport");
  g_source_attach (link->source, link->context);
}

static PpMemLink *
link_new (const PpMemConfig *cfg)
{
  PpMemLink *link = g_new0 (PpMemLink, 1);

  link->ref_count = 2;   /* one per end */
  if (cfg != NULL)
    link->cfg = *cfg;
  else
    pp_mem_config_init (&link->cfg);
  if (link->cfg.max_message_size == 0)
    link->cfg.max_message_size = PP_MEM_DEFAULT_MAX_MESSAGE_SIZE;
  for (guint s = 0; s < 2; s++)
    {
      guint32 seed[3] = { (guint32) link->cfg.seed, (guint32) (link->cfg.seed >> 32), s };
      link->queue[s].rand = g_rand_new_with_seed_array (seed, 3);
    }
  link->open_pending = TRUE;
  link->ready_time = -1;
  if (!link->cfg.manual)
    link_attach_source (link);
  return link;
}

/* ---- public ---- */

void
pp_mem_transport_pair_new (const PpMemConfig *cfg, PpTransport **a, PpTransport **b)
{
  PpMemLink *link;

  g_return_if_fail (a != NULL && b != NULL);

  link = link_new (cfg);
  for (guint s = 0; s < 2; s++)
    {
      PpMemTransport *mt = g_new0 (PpMemTransport, 1);

      pp__transport_init (&mt->base, &mem_class);
      mt->link = link;
      mt->side = s;
      link->end[s] = mt;
    }
  *a = &link->end[0]->base;
  *b = &link->end[1]->base;
  link_schedule (link);
}

void
pp_mem_transport_open (PpTransport *t)
{
  PpMemTransport *mt = mem_cast (t);
  PpMemLink *link;

  g_return_if_fail (mt != NULL);
  link = link_ref (mt->link);
  emit_opened (link);
  link_settle (link);
  link_unref (link);
}

gboolean
pp_mem_transport_step (PpTransport *t)
{
  PpMemTransport *mt = mem_cast (t);
  PpMemLink *link;
  gboolean moved;

  g_return_val_if_fail (mt != NULL, FALSE);
  link = link_ref (mt->link);
  moved = deliver_one (link, mt->side, 0, TRUE);
  link_settle (link);
  link_unref (link);
  return moved;
}

size_t
pp_mem_transport_pending (PpTransport *t)
{
  PpMemTransport *mt = mem_cast (t);

  g_return_val_if_fail (mt != NULL, 0);
  return mt->link->queue[mt->side].len;
}

void
pp_mem_transport_sever (PpTransport *t, const char *reason)
{
  PpMemTransport *mt = mem_cast (t);
  PpMemLink *link;

  g_return_if_fail (mt != NULL);
  if (reason == NULL)
    reason = "link severed";
  link = link_ref (mt->link);
  link_kill (link, reason, reason);
  link_settle (link);
  link_unref (link);
}

/* ---- class ---- */

static gboolean
mem_send (PpTransport *t, GBytes *msg, GError **error)
{
  PpMemTransport *mt = (PpMemTransport *) t;
  PpMemLink *link = mt->link;
  PpMemQueue *q = &link->queue[mt->side];
  PpMemItem item = { 0 };

  if (link->dead || link->closing[mt->side])
    {
      g_set_error_literal (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_CLOSED,
                           "transport is closed");
      return FALSE;
    }
  if (t->state != PP_TRANSPORT_OPEN)
    {
      g_set_error_literal (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED,
                           "transport is not open yet");
      return FALSE;
    }
  mt->messages_sent++;
  mt->bytes_sent += g_bytes_get_size (msg);
  /* The peer is gone while we wait for our close: nobody to deliver to. */
  if (link->end[1 - mt->side] == NULL)
    return TRUE;

  q->sent++;
  item.msg = g_bytes_ref (msg);
  item.ready_us = link->source != NULL ? g_get_monotonic_time () + link->cfg.delay_us : 0;
  item.held = decide_hold (link, q);
  item.held_left = link->cfg.hold_for;
  queue_push (q, &item);
  link_schedule (link);
  return TRUE;
}

static size_t
mem_get_buffered_amount (PpTransport *t)
{
  PpMemTransport *mt = (PpMemTransport *) t;

  return mt->link->queue[mt->side].buffered;
}

static size_t
mem_get_max_message_size (PpTransport *t)
{
  return ((PpMemTransport *) t)->link->cfg.max_message_size;
}

static void
mem_get_stats (PpTransport *t, PpTransportStats *out)
{
  PpMemTransport *mt = (PpMemTransport *) t;

  out->messages_sent = mt->messages_sent;
  out->messages_received = mt->messages_received;
  out->bytes_sent = mt->bytes_sent;
  out->bytes_received = mt->bytes_received;
  out->buffered_amount = mt->link->queue[mt->side].buffered;
  out->rtt_us = -1;
  g_strlcpy (out->path, "memory", sizeof out->path);
}

static void
mem_close (PpTransport *t, const char *reason)
{
  PpMemTransport *mt = (PpMemTransport *) t;
  PpMemLink *link = mt->link;

  if (link->dead || link->closing[mt->side])
    return;
  link->closing[mt->side] = TRUE;
  link->close_reason[mt->side] = g_strdup (reason);
  link->open_pending = FALSE;
  link_ref (link);
  link_settle (link);
  link_unref (link);
}

static void
mem_finalize (PpTransport *t)
{
  PpMemTransport *mt = (PpMemTransport *) t;
  PpMemLink *link = mt->link;
  guint s = mt->side;

  link->end[s] = NULL;
  g_clear_pointer (&link->pending_closed[s], g_free);
  if (!link->dead && !link->closing[s])
    link_kill (link, "peer went away", "peer went away");
  if (!link->dead)
    {
      /* Closing: ours drains (auto mode), then the peer gets our reason.
       * In manual mode nobody can step our queue any more: close now. */
      queue_drop (&link->queue[1 - s]);
      if (link->source == NULL)
        queue_drop (&link->queue[s]);
    }
  link_settle (link);
  link_unref (link);
  g_free (mt);
}
