/* SPDX-License-Identifier: MIT
 *
 * Tests of the in-memory transport pair: opening in both modes, each
 * delivery order, exactly-once delivery under load, buffered amount and the
 * low-water callback, the size cap, observers, close and sever, re-entrant
 * callbacks (send, close, unref from inside) and delay.  Each test runs on
 * its own main context; waits are bounded by a deadline, never by sleeps.
 */
#include "transport/pp-mem-transport.h"
#include "pp-test-utils.h"

#include <string.h>

#define WAIT_MS 20000

/* ---- a recorder for one end ---- */

typedef struct Rec Rec;
struct Rec
{
  PpTransport *t;            /* borrowed */
  guint opened;
  guint closed;
  char *reason;
  GArray *ids;               /* guint32, in arrival order */
  guint low;
  gboolean corrupt;          /* a payload did not match its id */
  void (*on_message) (Rec *r, guint32 id);
  void (*on_low) (Rec *r);
  void (*on_closed) (Rec *r);
  gpointer hook;             /* whatever the hooks need */
  guint32 hook_n;
};

static GBytes *
make_msg (guint32 id, size_t size)
{
  uint8_t *buf;

  size = MAX (size, 4);
  buf = g_malloc (size);
  buf[0] = (uint8_t) (id >> 24);
  buf[1] = (uint8_t) (id >> 16);
  buf[2] = (uint8_t) (id >> 8);
  buf[3] = (uint8_t) id;
  pp_test_fill_random (buf + 4, size - 4, id);
  return g_bytes_new_take (buf, size);
}

static guint32
msg_id (GBytes *msg, gboolean *ok)
{
  size_t size;
  const uint8_t *p = g_bytes_get_data (msg, &size);
  guint32 id;
  g_autofree uint8_t *expect = NULL;

  g_assert_cmpuint (size, >=, 4);
  id = (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
  expect = g_malloc (size);
  pp_test_fill_random (expect, size - 4, id);
  *ok = memcmp (expect, p + 4, size - 4) == 0;
  return id;
}

static void
send_id (PpTransport *t, guint32 id, size_t size)
{
  g_autoptr (GBytes) msg = make_msg (id, size);
  g_autoptr (GError) error = NULL;

  g_assert_true (pp_transport_send (t, msg, &error));
  g_assert_no_error (error);
}

static void
rec_opened (PpTransport *t, gpointer data)
{
  ((Rec *) data)->opened++;
}

static void
rec_message (PpTransport *t, GBytes *msg, gpointer data)
{
  Rec *r = data;
  gboolean ok;
  guint32 id = msg_id (msg, &ok);

  if (!ok)
    r->corrupt = TRUE;
  g_array_append_val (r->ids, id);
  if (r->on_message != NULL)
    r->on_message (r, id);
}

static void
rec_low (PpTransport *t, gpointer data)
{
  Rec *r = data;

  r->low++;
  if (r->on_low != NULL)
    r->on_low (r);
}

static void
rec_closed (PpTransport *t, const char *reason, gpointer data)
{
  Rec *r = data;

  r->closed++;
  g_free (r->reason);
  r->reason = g_strdup (reason);
  if (r->on_closed != NULL)
    r->on_closed (r);
}

static const PpTransportCallbacks rec_callbacks = {
  .opened_cb = rec_opened,
  .message_cb = rec_message,
  .buffered_low_cb = rec_low,
  .closed_cb = rec_closed,
};

static void
rec_init (Rec *r, PpTransport *t)
{
  memset (r, 0, sizeof *r);
  r->t = t;
  r->ids = g_array_new (FALSE, FALSE, sizeof (guint32));
  pp_transport_set_callbacks (t, &rec_callbacks, r);
}

static void
rec_clear (Rec *r)
{
  g_array_unref (r->ids);
  g_free (r->reason);
}

static guint32
rec_id (Rec *r, guint i)
{
  return g_array_index (r->ids, guint32, i);
}

/* ---- a pair on a private context ---- */

typedef struct
{
  GMainContext *ctx;
  PpTransport *a, *b;
  Rec ra, rb;
} Pair;

static void
pair_setup (Pair *p, const PpMemConfig *cfg)
{
  p->ctx = g_main_context_new ();
  g_main_context_push_thread_default (p->ctx);
  pp_mem_transport_pair_new (cfg, &p->a, &p->b);
  rec_init (&p->ra, p->a);
  rec_init (&p->rb, p->b);
}

/* Drains the context so that a leaked source or callback shows up (ASan). */
static void
pair_teardown (Pair *p)
{
  g_clear_pointer (&p->a, pp_transport_unref);
  g_clear_pointer (&p->b, pp_transport_unref);
  while (g_main_context_iteration (p->ctx, FALSE))
    ;
  g_main_context_pop_thread_default (p->ctx);
  g_main_context_unref (p->ctx);
  rec_clear (&p->ra);
  rec_clear (&p->rb);
}

static gboolean
both_opened (gpointer data)
{
  Pair *p = data;

  return p->ra.opened > 0 && p->rb.opened > 0;
}

static gboolean
both_closed (gpointer data)
{
  Pair *p = data;

  return p->ra.closed > 0 && p->rb.closed > 0;
}

static gboolean
b_closed (gpointer data)
{
  return ((Pair *) data)->rb.closed > 0;
}

static gboolean
a_closed (gpointer data)
{
  return ((Pair *) data)->ra.closed > 0;
}

static void
manual_config (PpMemConfig *cfg)
{
  pp_mem_config_init (cfg);
  cfg->manual = TRUE;
}

static void
open_manual (Pair *p, const PpMemConfig *cfg)
{
  pair_setup (p, cfg);
  pp_mem_transport_open (p->a);
  g_assert_cmpuint (p->ra.opened, ==, 1);
  g_assert_cmpuint (p->rb.opened, ==, 1);
}

static void
open_auto (Pair *p, const PpMemConfig *cfg)
{
  pair_setup (p, cfg);
  g_assert_true (pp_test_wait_until (p->ctx, both_opened, p, WAIT_MS));
}

/* ---- open ---- */

static void
test_open_auto (void)
{
  Pair p;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) msg = make_msg (1, 4);

  pair_setup (&p, NULL);
  g_assert_cmpint (pp_transport_get_state (p.a), ==, PP_TRANSPORT_NEW);
  g_assert_cmpuint (p.ra.opened, ==, 0);
  g_assert_false (pp_transport_send (p.a, msg, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED);
  g_assert_true (pp_test_wait_until (p.ctx, both_opened, &p, WAIT_MS));
  g_assert_cmpint (pp_transport_get_state (p.a), ==, PP_TRANSPORT_OPEN);
  g_assert_cmpint (pp_transport_get_state (p.b), ==, PP_TRANSPORT_OPEN);
  /* Opened once, and then the source goes idle: no busy loop. */
  g_assert_false (g_main_context_iteration (p.ctx, FALSE));
  g_assert_cmpuint (p.ra.opened, ==, 1);
  g_assert_cmpuint (p.rb.opened, ==, 1);
  pair_teardown (&p);
}

static void
test_open_manual (void)
{
  PpMemConfig cfg;
  Pair p;

  manual_config (&cfg);
  pair_setup (&p, &cfg);
  for (guint i = 0; i < 5; i++)
    g_main_context_iteration (p.ctx, FALSE);
  g_assert_cmpuint (p.ra.opened, ==, 0);
  g_assert_cmpint (pp_transport_get_state (p.b), ==, PP_TRANSPORT_NEW);
  pp_mem_transport_open (p.b);
  g_assert_cmpuint (p.ra.opened, ==, 1);
  g_assert_cmpuint (p.rb.opened, ==, 1);
  pp_mem_transport_open (p.a);
  g_assert_cmpuint (p.ra.opened, ==, 1);
  g_assert_cmpint (pp_transport_get_state (p.a), ==, PP_TRANSPORT_OPEN);
  pair_teardown (&p);
}

/* ---- orders, manual mode: send n, step until nothing moves ---- */

typedef struct
{
  const char *path;
  PpMemOrder order;
  guint window, hold_every, hold_for;
  guint n;
  guint32 expect[16];
} OrderCase;

static const OrderCase order_cases[] = {
  { "/mem-transport/unit/order/fifo", PP_MEM_ORDER_FIFO, 0, 0, 0, 6, { 0, 1, 2, 3, 4, 5 } },
  { "/mem-transport/unit/order/reverse-4", PP_MEM_ORDER_REVERSE, 4, 0, 0, 8,
    { 3, 2, 1, 0, 7, 6, 5, 4 } },
  { "/mem-transport/unit/order/reverse-4-partial", PP_MEM_ORDER_REVERSE, 4, 0, 0, 10,
    { 3, 2, 1, 0, 7, 6, 5, 4, 9, 8 } },
  { "/mem-transport/unit/order/reverse-all", PP_MEM_ORDER_REVERSE, 0, 0, 0, 5,
    { 4, 3, 2, 1, 0 } },
  /* 4 is held until 5, 6, 7 have passed; 9 is held but nothing else is left. */
  { "/mem-transport/unit/order/hold-5-3", PP_MEM_ORDER_HOLD, 0, 5, 3, 10,
    { 0, 1, 2, 3, 5, 6, 7, 4, 8, 9 } },
  /* 2 waits for 3, 4, 6, 7; 5 and 8 are released when nothing else is queued. */
  { "/mem-transport/unit/order/hold-3-4", PP_MEM_ORDER_HOLD, 0, 3, 4, 10,
    { 0, 1, 3, 4, 6, 7, 2, 9, 5, 8 } },
};

static void
test_order (gconstpointer data)
{
  const OrderCase *c = data;
  PpMemConfig cfg;
  Pair p;

  manual_config (&cfg);
  cfg.order = c->order;
  cfg.window = c->window;
  cfg.hold_every = c->hold_every;
  cfg.hold_for = c->hold_for;
  open_manual (&p, &cfg);
  for (guint32 i = 0; i < c->n; i++)
    send_id (p.a, i, 8);
  g_assert_cmpuint (pp_mem_transport_pending (p.a), ==, c->n);
  while (pp_mem_transport_step (p.a))
    ;
  g_assert_cmpuint (pp_mem_transport_pending (p.a), ==, 0);
  g_assert_cmpuint (p.rb.ids->len, ==, c->n);
  for (guint i = 0; i < c->n; i++)
    g_assert_cmpuint (rec_id (&p.rb, i), ==, c->expect[i]);
  g_assert_cmpuint (p.ra.ids->len, ==, 0);
  g_assert_false (p.rb.corrupt);
  pair_teardown (&p);
}

static GArray *
random_run (guint64 seed, guint window, guint n)
{
  PpMemConfig cfg;
  Pair p;
  GArray *out;

  manual_config (&cfg);
  cfg.order = PP_MEM_ORDER_RANDOM;
  cfg.seed = seed;
  cfg.window = window;
  open_manual (&p, &cfg);
  for (guint32 i = 0; i < n; i++)
    send_id (p.a, i, 4);
  while (pp_mem_transport_step (p.a))
    ;
  out = g_array_ref (p.rb.ids);
  pair_teardown (&p);
  return out;
}

static gboolean
is_permutation (GArray *ids, guint n)
{
  g_autofree gboolean *seen = g_new0 (gboolean, n);

  if (ids->len != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      guint32 id = g_array_index (ids, guint32, i);
      if (id >= n || seen[id])
        return FALSE;
      seen[id] = TRUE;
    }
  return TRUE;
}

static gboolean
same_order (GArray *x, GArray *y)
{
  return x->len == y->len && memcmp (x->data, y->data, x->len * sizeof (guint32)) == 0;
}

static void
test_random_reproducible (void)
{
  g_autoptr (GArray) one = random_run (42, 0, 200);
  g_autoptr (GArray) again = random_run (42, 0, 200);
  g_autoptr (GArray) other = random_run (43, 0, 200);
  guint in_place = 0;

  g_assert_true (is_permutation (one, 200));
  g_assert_true (is_permutation (other, 200));
  g_assert_true (same_order (one, again));
  g_assert_false (same_order (one, other));
  for (guint i = 0; i < 200; i++)
    in_place += g_array_index (one, guint32, i) == i;
  g_assert_cmpuint (in_place, <, 20);   /* really shuffled, not near FIFO */
}

/* With a window w, each delivered message is among the w oldest still queued. */
static void
test_random_window (void)
{
  const guint n = 500, w = 4;
  g_autoptr (GArray) ids = random_run (7, w, n);
  g_autofree gboolean *gone = g_new0 (gboolean, n);
  guint out_of_order = 0;

  g_assert_true (is_permutation (ids, n));
  for (guint i = 0; i < n; i++)
    {
      guint32 id = g_array_index (ids, guint32, i);
      guint rank = 0;

      for (guint32 j = 0; j < id; j++)
        rank += !gone[j];
      g_assert_cmpuint (rank, <, w);
      out_of_order += rank > 0;
      gone[id] = TRUE;
    }
  g_assert_cmpuint (out_of_order, >, 0);
}

/* ---- exactly once, auto mode, both directions, flow-controlled ---- */

#define FLOOD_N 10000
#define FLOOD_HIGH 16384
#define FLOOD_LOW 4096

typedef struct
{
  const char *path;
  PpMemConfig cfg;
} FloodCase;

static FloodCase flood_cases[] = {
  { "/mem-transport/unit/exactly-once/fifo", { .order = PP_MEM_ORDER_FIFO } },
  { "/mem-transport/unit/exactly-once/fifo-batch-1", { .order = PP_MEM_ORDER_FIFO, .batch = 1 } },
  { "/mem-transport/unit/exactly-once/random-all", { .order = PP_MEM_ORDER_RANDOM, .seed = 1 } },
  { "/mem-transport/unit/exactly-once/random-16",
    { .order = PP_MEM_ORDER_RANDOM, .window = 16, .seed = 2 } },
  { "/mem-transport/unit/exactly-once/reverse-4", { .order = PP_MEM_ORDER_REVERSE, .window = 4 } },
  { "/mem-transport/unit/exactly-once/reverse-all", { .order = PP_MEM_ORDER_REVERSE } },
  { "/mem-transport/unit/exactly-once/hold-7-5",
    { .order = PP_MEM_ORDER_HOLD, .hold_every = 7, .hold_for = 5 } },
  { "/mem-transport/unit/exactly-once/hold-random",
    { .order = PP_MEM_ORDER_HOLD, .hold_for = 50, .seed = 3 } },
  { "/mem-transport/unit/exactly-once/random-delay",
    { .order = PP_MEM_ORDER_RANDOM, .window = 8, .delay_us = 200, .seed = 4 } },
};

static void
flood_fill (Rec *r)
{
  while (r->hook_n < FLOOD_N && pp_transport_get_buffered_amount (r->t) <= FLOOD_HIGH)
    {
      send_id (r->t, r->hook_n, 4 + r->hook_n % 97);
      r->hook_n++;
    }
}

static gboolean
flood_done (gpointer data)
{
  Pair *p = data;

  return p->ra.ids->len >= FLOOD_N && p->rb.ids->len >= FLOOD_N;
}

static void
assert_exactly_once (Rec *r)
{
  g_autofree guint8 *seen = g_new0 (guint8, FLOOD_N);
  guint64 sum = 0;

  g_assert_cmpuint (r->ids->len, ==, FLOOD_N);
  g_assert_false (r->corrupt);
  for (guint i = 0; i < r->ids->len; i++)
    {
      guint32 id = rec_id (r, i);

      g_assert_cmpuint (id, <, FLOOD_N);
      g_assert_cmpuint (seen[id], ==, 0);
      seen[id] = 1;
      sum += id;
    }
  g_assert_cmpuint (sum, ==, (guint64) FLOOD_N * (FLOOD_N - 1) / 2);
}

static void
test_exactly_once (gconstpointer data)
{
  const FloodCase *c = data;
  Pair p;
  PpTransportStats st;

  open_auto (&p, &c->cfg);
  for (guint s = 0; s < 2; s++)
    {
      Rec *r = s == 0 ? &p.ra : &p.rb;

      pp_transport_set_low_water (r->t, FLOOD_LOW);
      r->on_low = flood_fill;   /* re-entrant sends from the low-water callback */
      flood_fill (r);
    }
  g_assert_true (pp_test_wait_until (p.ctx, flood_done, &p, WAIT_MS));
  assert_exactly_once (&p.ra);
  assert_exactly_once (&p.rb);
  g_assert_cmpuint (p.ra.low, >, 0);
  pp_transport_get_stats (p.a, &st);
  g_assert_cmpuint (st.messages_sent, ==, FLOOD_N);
  g_assert_cmpuint (st.messages_received, ==, FLOOD_N);
  g_assert_cmpuint (st.buffered_amount, ==, 0);
  g_assert_false (g_main_context_iteration (p.ctx, FALSE));   /* idle when drained */
  pair_teardown (&p);
}

/* ---- buffered amount and low water ---- */

static void
low_sends_three (Rec *r)
{
  if (r->hook_n > 0)
    return;
  r->hook_n = 1;
  for (guint32 i = 100; i < 103; i++)
    send_id (r->t, i, 50);
}

static void
test_low_water (void)
{
  PpMemConfig cfg;
  Pair p;
  guint lows[5];

  manual_config (&cfg);
  open_manual (&p, &cfg);
  pp_transport_set_low_water (p.a, 100);
  for (guint32 i = 0; i < 5; i++)
    send_id (p.a, i, 50);
  g_assert_cmpuint (pp_transport_get_buffered_amount (p.a), ==, 250);
  g_assert_cmpuint (pp_transport_get_buffered_amount (p.b), ==, 0);
  for (guint i = 0; i < 5; i++)
    {
      g_assert_true (pp_mem_transport_step (p.a));
      lows[i] = p.ra.low;
    }
  /* 200, 150, 100 (crossing), 50, 0: once, not on every delivery. */
  g_assert_cmpuint (lows[0], ==, 0);
  g_assert_cmpuint (lows[1], ==, 0);
  g_assert_cmpuint (lows[2], ==, 1);
  g_assert_cmpuint (lows[3], ==, 1);
  g_assert_cmpuint (lows[4], ==, 1);
  g_assert_cmpuint (p.rb.low, ==, 0);
  g_assert_cmpuint (pp_transport_get_buffered_amount (p.a), ==, 0);

  /* Sending from inside the callback: 5 more, the crossing sends 3 more. */
  p.ra.on_low = low_sends_three;
  for (guint32 i = 10; i < 15; i++)
    send_id (p.a, i, 50);
  while (pp_mem_transport_step (p.a))
    ;
  g_assert_cmpuint (p.ra.hook_n, ==, 1);
  g_assert_cmpuint (p.ra.low, ==, 3);   /* 250 -> 100, and 100+150 -> 100 again */
  g_assert_cmpuint (p.rb.ids->len, ==, 13);
  g_assert_cmpuint (rec_id (&p.rb, 12), ==, 102);
  g_assert_cmpuint (pp_transport_get_buffered_amount (p.a), ==, 0);
  pair_teardown (&p);
}

/* The receiver's message_cb refills the sender before the low-water
 * callback would run: the amount is back above the mark, so no callback. */
static void
refill_sender_on_first (Rec *r, guint32 id)
{
  PpTransport *sender = r->hook;

  if (id != 0)
    return;
  for (guint32 i = 10; i < 13; i++)
    send_id (sender, i, 50);
}

static void
test_low_water_recheck (void)
{
  PpMemConfig cfg;
  Pair p;
  PpTransportStats st;

  manual_config (&cfg);
  open_manual (&p, &cfg);
  pp_transport_set_low_water (p.a, 100);
  p.rb.on_message = refill_sender_on_first;
  p.rb.hook = p.a;
  for (guint32 i = 0; i < 3; i++)
    send_id (p.a, i, 50);
  g_assert_true (pp_mem_transport_step (p.a));   /* 150 -> 100, then 250 */
  g_assert_cmpuint (p.ra.low, ==, 0);
  g_assert_cmpuint (pp_transport_get_buffered_amount (p.a), ==, 250);
  while (pp_mem_transport_step (p.a))
    ;
  g_assert_cmpuint (p.ra.low, ==, 1);
  pp_transport_get_stats (p.a, &st);
  g_assert_cmpuint (st.messages_sent, ==, 6);
  g_assert_cmpuint (st.messages_received, ==, 0);
  g_assert_cmpuint (st.bytes_sent, ==, 300);
  pp_transport_get_stats (p.b, &st);
  g_assert_cmpuint (st.messages_sent, ==, 0);
  g_assert_cmpuint (st.messages_received, ==, 6);
  g_assert_cmpuint (st.bytes_received, ==, 300);
  pair_teardown (&p);
}

/* ---- size cap ---- */

static void
test_size_cap (void)
{
  PpMemConfig cfg;
  Pair p, q;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) big = make_msg (1, 1001);
  g_autoptr (GBytes) huge = make_msg (2, PP_MEM_DEFAULT_MAX_MESSAGE_SIZE + 1);

  manual_config (&cfg);
  cfg.max_message_size = 1000;
  open_manual (&p, &cfg);
  g_assert_cmpuint (pp_transport_get_max_message_size (p.a), ==, 1000);
  send_id (p.a, 0, 1000);
  g_assert_false (pp_transport_send (p.a, big, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_cmpuint (pp_mem_transport_pending (p.a), ==, 1);
  pair_teardown (&p);

  manual_config (&cfg);
  open_manual (&q, &cfg);
  g_assert_cmpuint (pp_transport_get_max_message_size (q.b), ==, 262144);
  send_id (q.b, 0, 262144);
  g_assert_false (pp_transport_send (q.b, huge, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_TOO_LARGE);
  pair_teardown (&q);
}

/* ---- observers ---- */

typedef struct
{
  GString *log;
  Rec *rec;
} ObsLog;

static void
obs_cb (PpTransport *t, PpTransportDirection dir, GBytes *msg, gpointer data)
{
  ObsLog *o = data;
  gboolean ok;

  g_string_append_printf (o->log, "%s%u(seen %u) ", dir == PP_TRANSPORT_DIR_IN ? "in" : "out",
                          msg_id (msg, &ok), o->rec->ids->len);
}

static void
test_observers (void)
{
  PpMemConfig cfg;
  Pair p;
  ObsLog oa, ob;
  guint ida, idb;

  manual_config (&cfg);
  open_manual (&p, &cfg);
  oa = (ObsLog) { g_string_new (NULL), &p.ra };
  ob = (ObsLog) { g_string_new (NULL), &p.rb };
  ida = pp_transport_add_observer (p.a, obs_cb, &oa);
  idb = pp_transport_add_observer (p.b, obs_cb, &ob);
  send_id (p.a, 1, 8);
  send_id (p.b, 2, 8);
  pp_mem_transport_step (p.a);
  pp_mem_transport_step (p.b);
  /* IN observers run before message_cb: the recorder has not seen it yet. */
  g_assert_cmpstr (oa.log->str, ==, "out1(seen 0) in2(seen 0) ");
  g_assert_cmpstr (ob.log->str, ==, "out2(seen 0) in1(seen 0) ");

  pp_transport_remove_observer (p.a, ida);
  send_id (p.a, 3, 8);
  pp_mem_transport_step (p.a);
  g_assert_cmpstr (oa.log->str, ==, "out1(seen 0) in2(seen 0) ");
  g_assert_cmpstr (ob.log->str, ==, "out2(seen 0) in1(seen 0) in3(seen 1) ");
  pp_transport_remove_observer (p.b, idb);
  send_id (p.a, 4, 8);
  pp_mem_transport_step (p.a);
  g_assert_cmpstr (ob.log->str, ==, "out2(seen 0) in1(seen 0) in3(seen 1) ");
  g_assert_cmpuint (p.rb.ids->len, ==, 3);
  pair_teardown (&p);
  g_string_free (oa.log, TRUE);
  g_string_free (ob.log, TRUE);
}

/* ---- close and sever ---- */

static void
test_close_manual (void)
{
  PpMemConfig cfg;
  Pair p;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) msg = make_msg (9, 4);

  manual_config (&cfg);
  open_manual (&p, &cfg);
  send_id (p.a, 1, 8);
  send_id (p.a, 2, 8);
  send_id (p.b, 3, 8);
  pp_transport_close (p.a, "bye");
  /* The closer stops sending at once; what it queued still goes first. */
  g_assert_false (pp_transport_send (p.a, msg, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_CLOSED);
  g_clear_error (&error);
  g_assert_cmpuint (p.ra.closed + p.rb.closed, ==, 0);
  g_assert_true (pp_mem_transport_step (p.a));
  g_assert_cmpuint (p.ra.closed, ==, 0);
  g_assert_true (pp_mem_transport_step (p.a));
  g_assert_cmpuint (p.rb.ids->len, ==, 2);
  g_assert_cmpuint (p.ra.closed, ==, 1);
  g_assert_cmpuint (p.rb.closed, ==, 1);
  g_assert_cmpstr (p.ra.reason, ==, "bye");
  g_assert_cmpstr (p.rb.reason, ==, "peer closed: bye");
  /* The peer's queue went with the link. */
  g_assert_cmpuint (pp_mem_transport_pending (p.b), ==, 0);
  g_assert_false (pp_mem_transport_step (p.b));
  g_assert_cmpuint (p.ra.ids->len, ==, 0);
  g_assert_false (pp_transport_send (p.b, msg, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_CLOSED);
  g_assert_cmpint (pp_transport_get_state (p.a), ==, PP_TRANSPORT_CLOSED);
  g_assert_cmpint (pp_transport_get_state (p.b), ==, PP_TRANSPORT_CLOSED);
  pp_transport_close (p.b, "late");   /* no second closed_cb */
  pp_mem_transport_sever (p.b, "late");
  g_assert_cmpuint (p.ra.closed + p.rb.closed, ==, 2);
  pair_teardown (&p);
}

static void
test_close_manual_empty (void)
{
  PpMemConfig cfg;
  Pair p;

  manual_config (&cfg);
  open_manual (&p, &cfg);
  pp_transport_close (p.b, "done");
  g_assert_cmpuint (p.ra.closed, ==, 1);
  g_assert_cmpuint (p.rb.closed, ==, 1);
  g_assert_cmpstr (p.ra.reason, ==, "peer closed: done");
  g_assert_cmpstr (p.rb.reason, ==, "done");
  pair_teardown (&p);
}

static void
test_close_auto (void)
{
  Pair p;

  open_auto (&p, NULL);
  send_id (p.a, 1, 8);
  pp_transport_close (p.a, "bye");
  g_assert_cmpuint (p.ra.closed + p.rb.closed, ==, 0);   /* from the source */
  g_assert_true (pp_test_wait_until (p.ctx, both_closed, &p, WAIT_MS));
  g_assert_cmpuint (p.rb.ids->len, ==, 1);
  g_assert_cmpstr (p.ra.reason, ==, "bye");
  g_assert_cmpstr (p.rb.reason, ==, "peer closed: bye");
  g_assert_false (g_main_context_iteration (p.ctx, FALSE));
  g_assert_cmpuint (p.ra.closed + p.rb.closed, ==, 2);
  pair_teardown (&p);
}

static void
test_close_both (void)
{
  PpMemConfig cfg;
  Pair p;

  manual_config (&cfg);
  open_manual (&p, &cfg);
  send_id (p.a, 1, 8);
  pp_transport_close (p.a, "a quits");
  pp_transport_close (p.b, "b quits");
  g_assert_true (pp_mem_transport_step (p.a));
  g_assert_cmpstr (p.ra.reason, ==, "a quits");
  g_assert_cmpstr (p.rb.reason, ==, "b quits");
  pair_teardown (&p);
}

static void
test_close_before_open (void)
{
  Pair p;

  pair_setup (&p, NULL);
  pp_transport_close (p.b, "never mind");
  g_assert_true (pp_test_wait_until (p.ctx, both_closed, &p, WAIT_MS));
  g_assert_cmpuint (p.ra.opened + p.rb.opened, ==, 0);
  g_assert_cmpstr (p.ra.reason, ==, "peer closed: never mind");
  pair_teardown (&p);
}

static void
test_sever (gconstpointer data)
{
  gboolean manual = GPOINTER_TO_INT (data);
  PpMemConfig cfg;
  Pair p;

  pp_mem_config_init (&cfg);
  cfg.manual = manual;
  cfg.delay_us = G_GINT64_CONSTANT (60) * G_USEC_PER_SEC;   /* auto: nothing is delivered first */
  if (manual)
    open_manual (&p, &cfg);
  else
    open_auto (&p, &cfg);
  send_id (p.a, 1, 8);
  send_id (p.b, 2, 8);
  pp_mem_transport_sever (p.b, "cable cut");
  g_assert_cmpuint (pp_mem_transport_pending (p.a), ==, 0);
  g_assert_cmpuint (pp_mem_transport_pending (p.b), ==, 0);
  g_assert_cmpuint (pp_transport_get_buffered_amount (p.a), ==, 0);
  if (!manual)
    g_assert_true (pp_test_wait_until (p.ctx, both_closed, &p, WAIT_MS));
  g_assert_cmpuint (p.ra.closed, ==, 1);
  g_assert_cmpuint (p.rb.closed, ==, 1);
  g_assert_cmpstr (p.ra.reason, ==, "cable cut");
  g_assert_cmpstr (p.rb.reason, ==, "cable cut");
  g_assert_cmpuint (p.ra.ids->len + p.rb.ids->len, ==, 0);
  pair_teardown (&p);
}

/* ---- freeing ends, re-entrancy ---- */

static void
test_unref_peer_went_away (gconstpointer data)
{
  gboolean manual = GPOINTER_TO_INT (data);
  PpMemConfig cfg;
  Pair p;

  pp_mem_config_init (&cfg);
  cfg.manual = manual;
  if (manual)
    open_manual (&p, &cfg);
  else
    open_auto (&p, &cfg);
  send_id (p.b, 1, 8);
  g_clear_pointer (&p.a, pp_transport_unref);
  if (!manual)
    g_assert_true (pp_test_wait_until (p.ctx, b_closed, &p, WAIT_MS));
  g_assert_cmpuint (p.rb.closed, ==, 1);
  g_assert_cmpuint (p.ra.closed, ==, 0);
  g_assert_cmpstr (p.rb.reason, ==, "peer went away");
  g_assert_cmpuint (pp_mem_transport_pending (p.b), ==, 0);
  pair_teardown (&p);
}

/* The closer sends a last word and drops its reference at once (the mux's
 * GOAWAY-then-quit): the peer still gets the word, then the reason. */
static void
test_unref_while_closing (void)
{
  Pair p;

  open_auto (&p, NULL);
  send_id (p.a, 1, 8);
  send_id (p.a, 2, 8);
  pp_transport_close (p.a, "quit");
  g_clear_pointer (&p.a, pp_transport_unref);
  g_assert_true (pp_test_wait_until (p.ctx, b_closed, &p, WAIT_MS));
  g_assert_cmpuint (p.rb.ids->len, ==, 2);
  g_assert_cmpstr (p.rb.reason, ==, "peer closed: quit");
  g_assert_cmpuint (p.ra.closed, ==, 0);
  pair_teardown (&p);
}

/* B's message_cb frees A (whose messages are being dispatched). */
static void
unref_other_on_message (Rec *r, guint32 id)
{
  PpTransport **other = r->hook;

  g_clear_pointer (other, pp_transport_unref);
}

static void
test_unref_other_mid_dispatch (void)
{
  Pair p;

  open_auto (&p, NULL);
  p.rb.on_message = unref_other_on_message;
  p.rb.hook = &p.a;
  for (guint32 i = 0; i < 10; i++)
    {
      send_id (p.a, i, 8);
      send_id (p.b, 100 + i, 8);
    }
  g_assert_true (pp_test_wait_until (p.ctx, b_closed, &p, WAIT_MS));
  g_assert_null (p.a);
  g_assert_cmpuint (p.rb.ids->len, ==, 1);
  g_assert_cmpstr (p.rb.reason, ==, "peer went away");
  g_assert_cmpuint (p.ra.closed, ==, 0);
  pair_teardown (&p);
}

/* B's message_cb frees B itself while both directions carry traffic. */
static void
test_unref_self_mid_dispatch (void)
{
  Pair p;

  open_auto (&p, NULL);
  p.rb.on_message = unref_other_on_message;
  p.rb.hook = &p.b;
  for (guint32 i = 0; i < 10; i++)
    {
      send_id (p.a, i, 8);
      send_id (p.b, 100 + i, 8);
    }
  g_assert_true (pp_test_wait_until (p.ctx, a_closed, &p, WAIT_MS));
  g_assert_null (p.b);
  g_assert_cmpuint (p.rb.ids->len, ==, 1);
  g_assert_cmpstr (p.ra.reason, ==, "peer went away");
  g_assert_cmpuint (p.ra.ids->len, ==, 0);   /* B's queue died with B */
  pair_teardown (&p);
}

/* closed_cb drops the last reference to its own transport. */
static void
unref_self_on_closed (Rec *r)
{
  g_clear_pointer ((PpTransport **) r->hook, pp_transport_unref);
}

static void
test_unref_in_closed (void)
{
  PpMemConfig cfg;
  Pair p;

  manual_config (&cfg);
  open_manual (&p, &cfg);
  p.ra.on_closed = unref_self_on_closed;
  p.ra.hook = &p.a;
  p.rb.on_closed = unref_self_on_closed;
  p.rb.hook = &p.b;
  send_id (p.b, 1, 8);
  pp_transport_close (p.a, "x");
  g_assert_null (p.a);
  g_assert_null (p.b);
  g_assert_cmpstr (p.rb.reason, ==, "peer closed: x");
  pair_teardown (&p);
}

/* B's message_cb closes A and replies; manual and re-entrant step. */
static void
close_other_on_message (Rec *r, guint32 id)
{
  PpTransport *other = r->hook;
  g_autoptr (GBytes) reply = make_msg (1000 + id, 4);

  pp_transport_send (r->t, reply, NULL);
  if (id == 2)
    pp_transport_close (other, "enough");
}

static void
test_close_from_message (void)
{
  PpMemConfig cfg;
  Pair p;

  manual_config (&cfg);
  open_manual (&p, &cfg);
  p.rb.on_message = close_other_on_message;
  p.rb.hook = p.a;
  for (guint32 i = 0; i < 5; i++)
    send_id (p.a, i, 8);
  g_assert_true (pp_mem_transport_step (p.a));
  g_assert_true (pp_mem_transport_step (p.b));
  g_assert_cmpuint (p.ra.ids->len, ==, 1);
  while (pp_mem_transport_step (p.a))
    ;
  /* A's queue (0..4) drains after its close; then both close. */
  g_assert_cmpuint (p.rb.ids->len, ==, 5);
  g_assert_cmpstr (p.ra.reason, ==, "enough");
  g_assert_cmpstr (p.rb.reason, ==, "peer closed: enough");
  g_assert_cmpuint (p.ra.ids->len, ==, 1);   /* B's later replies were dropped */
  pair_teardown (&p);
}

/* Ping-pong: each message_cb answers at once, 1,000 rounds in auto mode. */
static void
echo_on_message (Rec *r, guint32 id)
{
  if (id < 1000)
    send_id (r->t, id + 1, 16);
}

static gboolean
pingpong_done (gpointer data)
{
  Pair *p = data;

  return p->ra.ids->len + p->rb.ids->len >= 1000;
}

static void
test_pingpong (void)
{
  Pair p;
  PpTransportStats st;

  open_auto (&p, NULL);
  p.ra.on_message = echo_on_message;
  p.rb.on_message = echo_on_message;
  send_id (p.a, 1, 16);
  g_assert_true (pp_test_wait_until (p.ctx, pingpong_done, &p, WAIT_MS));
  g_assert_cmpuint (p.ra.ids->len, ==, 500);
  g_assert_cmpuint (p.rb.ids->len, ==, 500);
  pp_transport_get_stats (p.b, &st);
  g_assert_cmpuint (st.messages_received, ==, 500);
  g_assert_cmpuint (st.messages_sent, ==, 500);
  g_assert_cmpuint (st.bytes_received, ==, 500 * 16);
  g_assert_cmpint (st.rtt_us, ==, -1);
  g_assert_cmpstr (st.path, ==, "memory");
  pair_teardown (&p);
}

/* ---- delay ---- */

typedef struct
{
  PpTransport *sender;
  gint64 sent_at[2];
  gint64 delay;
  gboolean early;
} DelayCheck;

static void
delay_on_message (Rec *r, guint32 id)
{
  DelayCheck *d = r->hook;

  /* A lower bound on a monotonic clock: cannot be flaky. */
  g_assert_cmpuint (id, <, 2);
  if (g_get_monotonic_time () < d->sent_at[id] + d->delay)
    d->early = TRUE;
}

static gboolean
send_second_cb (gpointer data)
{
  DelayCheck *d = data;

  d->sent_at[1] = g_get_monotonic_time ();
  send_id (d->sender, 1, 8);
  return G_SOURCE_REMOVE;
}

static gboolean
b_got_two (gpointer data)
{
  return ((Pair *) data)->rb.ids->len >= 2;
}

static void
test_delay (void)
{
  PpMemConfig cfg;
  Pair p, q;
  DelayCheck d = { 0 };
  GSource *timer;

  /* A long delay: the source stays idle and the message stays queued. */
  pp_mem_config_init (&cfg);
  cfg.delay_us = G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC;
  open_auto (&p, &cfg);
  send_id (p.a, 1, 8);
  for (guint i = 0; i < 10; i++)
    g_assert_false (g_main_context_iteration (p.ctx, FALSE));
  g_assert_cmpuint (pp_mem_transport_pending (p.a), ==, 1);
  g_assert_cmpuint (p.rb.ids->len, ==, 0);
  /* step() ignores the delay. */
  g_assert_true (pp_mem_transport_step (p.a));
  g_assert_cmpuint (p.rb.ids->len, ==, 1);
  pair_teardown (&p);

  /* Another event wakes the source (B closes): A's message is still not
   * deliverable, so it goes with the link instead of arriving early. */
  open_auto (&p, &cfg);
  send_id (p.a, 1, 8);
  pp_transport_close (p.b, "bored");
  g_assert_true (pp_test_wait_until (p.ctx, both_closed, &p, WAIT_MS));
  g_assert_cmpuint (p.rb.ids->len, ==, 0);
  g_assert_cmpstr (p.ra.reason, ==, "peer closed: bored");
  pair_teardown (&p);

  /* Short ones, the second sent halfway: each arrives, and never before it
   * was deliverable (the first one's dispatch must not take the second). */
  cfg.delay_us = 40000;
  open_auto (&q, &cfg);
  d.delay = cfg.delay_us;
  d.sender = q.a;
  q.rb.on_message = delay_on_message;
  q.rb.hook = &d;
  timer = g_timeout_source_new (20);
  g_source_set_callback (timer, send_second_cb, &d, NULL);
  g_source_attach (timer, q.ctx);
  g_source_unref (timer);
  d.sent_at[0] = g_get_monotonic_time ();
  send_id (q.a, 0, 8);
  g_assert_true (pp_test_wait_until (q.ctx, b_got_two, &q, WAIT_MS));
  g_assert_false (d.early);
  g_assert_cmpuint (pp_mem_transport_pending (q.a), ==, 0);
  pair_teardown (&q);
}

/* ---- test utils ---- */

static gboolean
never (gpointer data)
{
  (*(guint *) data)++;
  return FALSE;
}

static void
test_utils (void)
{
  uint8_t x[64], y[64], z[64];
  guint calls = 0;
  GMainContext *ctx = g_main_context_new ();

  pp_test_fill_random (x, sizeof x, 5);
  pp_test_fill_random (y, sizeof y, 5);
  pp_test_fill_random (z, sizeof z, 6);
  g_assert_cmpmem (x, sizeof x, y, sizeof y);
  g_assert_true (memcmp (x, z, sizeof x) != 0);
  g_assert_false (pp_test_wait_until (ctx, never, &calls, 10));
  g_assert_cmpuint (calls, >=, 2);
  g_main_context_unref (ctx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mem-transport/unit/open-auto", test_open_auto);
  g_test_add_func ("/mem-transport/unit/open-manual", test_open_manual);
  for (guint i = 0; i < G_N_ELEMENTS (order_cases); i++)
    g_test_add_data_func (order_cases[i].path, &order_cases[i], test_order);
  g_test_add_func ("/mem-transport/unit/order/random-reproducible", test_random_reproducible);
  g_test_add_func ("/mem-transport/unit/order/random-window", test_random_window);
  for (guint i = 0; i < G_N_ELEMENTS (flood_cases); i++)
    g_test_add_data_func (flood_cases[i].path, &flood_cases[i], test_exactly_once);
  g_test_add_func ("/mem-transport/unit/low-water", test_low_water);
  g_test_add_func ("/mem-transport/unit/low-water-recheck", test_low_water_recheck);
  g_test_add_func ("/mem-transport/unit/size-cap", test_size_cap);
  g_test_add_func ("/mem-transport/unit/observers", test_observers);
  g_test_add_func ("/mem-transport/unit/close/manual", test_close_manual);
  g_test_add_func ("/mem-transport/unit/close/manual-empty", test_close_manual_empty);
  g_test_add_func ("/mem-transport/unit/close/auto", test_close_auto);
  g_test_add_func ("/mem-transport/unit/close/both", test_close_both);
  g_test_add_func ("/mem-transport/unit/close/before-open", test_close_before_open);
  g_test_add_data_func ("/mem-transport/unit/sever/manual", GINT_TO_POINTER (TRUE), test_sever);
  g_test_add_data_func ("/mem-transport/unit/sever/auto", GINT_TO_POINTER (FALSE), test_sever);
  g_test_add_data_func ("/mem-transport/unit/unref/peer-went-away-manual",
                        GINT_TO_POINTER (TRUE), test_unref_peer_went_away);
  g_test_add_data_func ("/mem-transport/unit/unref/peer-went-away-auto",
                        GINT_TO_POINTER (FALSE), test_unref_peer_went_away);
  g_test_add_func ("/mem-transport/unit/unref/while-closing", test_unref_while_closing);
  g_test_add_func ("/mem-transport/unit/unref/other-mid-dispatch", test_unref_other_mid_dispatch);
  g_test_add_func ("/mem-transport/unit/unref/self-mid-dispatch", test_unref_self_mid_dispatch);
  g_test_add_func ("/mem-transport/unit/unref/in-closed", test_unref_in_closed);
  g_test_add_func ("/mem-transport/unit/reentrant/close-from-message", test_close_from_message);
  g_test_add_func ("/mem-transport/unit/reentrant/pingpong", test_pingpong);
  g_test_add_func ("/mem-transport/unit/delay", test_delay);
  g_test_add_func ("/mem-transport/unit/test-utils", test_utils);
  return g_test_run ();
}
