/* SPDX-License-Identifier: MIT
 *
 * Adversarial mux scenarios over the hand-scheduled harness: the findings
 * F1–F8 of research/protocol-model.md (each test here fails on the broken
 * reading its finding describes), tuple reuse under reordering, scale
 * (200,000 messages, 10,000 gapped sockets against a memory ceiling) and a
 * table of hostile packets injected raw.  Every schedule is seeded, so a
 * failure replays exactly; nothing sleeps or looks at the wall clock.
 */
#include "pp-mux-harness.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define PP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PP_TEST_ASAN 1
#endif
#endif
#ifndef PP_TEST_ASAN
#define PP_TEST_ASAN 0
#endif

static const PpHarnessOrder orders[] = {
  PP_HARNESS_FIFO, PP_HARNESS_RANDOM, PP_HARNESS_REVERSE, PP_HARNESS_HOLD,
};

/* ------------------------------------------------------------- helpers */

static GByteArray *
pattern (size_t len, guint32 seed)
{
  GByteArray *a = g_byte_array_sized_new ((guint) len);

  g_byte_array_set_size (a, (guint) len);
  for (size_t i = 0; i < len; i++)
    a->data[i] = pp_harness_stream_byte (seed, i);
  return a;
}

static void
assert_bytes (GByteArray *got, GByteArray *want)
{
  g_assert_cmpuint (got->len, ==, want->len);
  g_assert_true (memcmp (got->data, want->data, want->len) == 0);
}

/* Seeds fuzz/corpus/mux/ from what a test delivered to the host: with
 * PP_MUX_CORPUS_DIR set, writes @record (less the client's HELLO, which
 * fuzz-mux.c builds itself) in fuzz-mux.c's input format, up to about
 * 16 KiB. */
static void
record_host (PpHarness *h)
{
  if (g_getenv ("PP_MUX_CORPUS_DIR") != NULL)
    h->host.record = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

static void
dump_corpus (PpHarness *h, const char *name, uint8_t flags, guint max_messages)
{
  const char *dir = g_getenv ("PP_MUX_CORPUS_DIR");
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autofree char *file = NULL;
  g_autofree char *path = NULL;
  GError *error = NULL;

  if (dir == NULL || h->host.record == NULL)
    return;
  g_byte_array_append (out, &flags, 1);
  for (guint i = 1; i < h->host.record->len && i <= max_messages && out->len < 16384; i++)
    {
      size_t len;
      const uint8_t *d = g_bytes_get_data (g_ptr_array_index (h->host.record, i), &len);
      uint8_t prefix[2] = { (uint8_t) (MIN (len, 0xffff) >> 8), (uint8_t) MIN (len, 0xffff) };

      g_byte_array_append (out, prefix, 2);
      g_byte_array_append (out, d, (guint) MIN (len, 0xffff));
    }
  file = g_strdup_printf ("%s.bin", name);
  path = g_build_filename (dir, file, NULL);
  g_file_set_contents (path, (const char *) out->data, out->len, &error);
  g_assert_no_error (error);
}

static void
config_windows (PpMuxConfig *cfg, uint32_t socket_window)
{
  pp_mux_config_init (cfg);
  cfg->socket_window = socket_window;
  cfg->session_window = 8 * socket_window;
}

static void
assert_no_violations (PpHarness *h)
{
  g_assert_cmpuint (h->client.mux->stats.violations, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.violations, ==, 0);
  g_assert_false (h->client.failed || h->host.failed);
  g_assert_false (h->client.goaway || h->host.goaway);
}

static void
assert_no_violations_but_goaway (PpHarness *h)
{
  g_assert_cmpuint (h->client.mux->stats.violations, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.violations, ==, 0);
  g_assert_false (h->client.failed || h->host.failed);
}

static void
assert_all_released (PpHarness *h)
{
  g_assert_cmpuint (h->client.mux->stats.sockets, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.sockets, ==, 0);
}

static PpHarnessApp *
last_host_app (PpHarness *h)
{
  g_assert_cmpuint (h->host.apps->len, >, 0);
  return g_ptr_array_index (h->host.apps, h->host.apps->len - 1);
}

/* A clean echo of @len bytes on a new connection: the session still works. */
static void
assert_echo_works (PpHarness *h, uint16_t src_port, size_t len, guint32 seed)
{
  g_autoptr (GByteArray) d = pattern (len, seed);
  PpHarnessPolicy policy = h->policy;
  gboolean echo = h->host_echo;
  PpHarnessApp *c;

  h->policy = PP_HARNESS_ACCEPT;
  h->host_echo = TRUE;
  c = pp_harness_open (h, src_port, 80, d->data, d->len, TRUE);
  g_assert_false (c->reset);
  pp_harness_run (h, 10000000);
  assert_bytes (c->rx, d);
  g_assert_true (c->eof);
  g_assert_false (c->reset);
  g_assert_true (c->detached);
  h->policy = policy;
  h->host_echo = echo;
}

/* ------------------------------------------------------------------ F1 */

/* F1: DATA the host discards (refused connect, failed or timed-out connect
 * after early data, the host app's reset mid-stream) must return session
 * credit.
 * Thirty such connections each burn about half a session window of 8 W;
 * if discards leaked, the final transfer (several S) would stall. */
static void
run_f1 (PpHarnessOrder order, guint32 seed)
{
  PpMuxConfig cfg;
  PpHarness *h;
  g_autoptr (GByteArray) early = pattern (20000, seed);

  config_windows (&cfg, 4096);
  h = pp_harness_new (&cfg, &cfg, order, seed);
  if (order == PP_HARNESS_FIFO && seed == 1)
    record_host (h);
  pp_harness_connect (h);
  for (guint i = 0; i < 32; i++)
    {
      guint kind = i % 4;
      uint8_t want[] = { PP_CLOSE_REFUSED, PP_CLOSE_CONNECT_FAILED, PP_CLOSE_RESET,
                         PP_CLOSE_TIMED_OUT };
      PpHarnessApp *c;

      h->policy = kind == 0 ? PP_HARNESS_REFUSE
                  : kind == 2 ? PP_HARNESS_ACCEPT : PP_HARNESS_DEFER;
      h->refuse_reason = PP_CLOSE_REFUSED;
      h->host_reset_after = kind == 2 ? 1000 : 0;
      c = pp_harness_open (h, (uint16_t) (20000 + i), 80, early->data,
                           kind == 2 ? early->len : 4000, FALSE);
      g_assert_nonnull (c->conn);
      pp_harness_run (h, 100000);
      if (kind == 1 || kind == 3)
        {
          PpHarnessApp *s = last_host_app (h);

          /* The early DATA sits in the host's queue until the connect ends:
           * it fails, or the host gives up after 10 s. */
          g_assert_cmpuint (h->host.mux->stats.rx_queued, ==, 4000);
          if (kind == 1)
            pp_mux_conn_abort (g_steal_pointer (&s->conn), PP_CLOSE_CONNECT_FAILED, "no route");
          else
            pp_harness_advance (h, h->host.mux->cfg.connect_timeout_us);
          pp_harness_run (h, 100000);
        }
      g_assert_true (c->reset);
      g_assert_cmpuint (c->reset_reason, ==, want[kind]);
      g_assert_false (c->eof);
    }
  h->host_reset_after = 0;
  g_assert_cmpuint (h->host.mux->stats.rx_queued, ==, 0);
  pp_harness_assert_quiescent (h);
  /* 256 KiB each way is 8 session windows. */
  assert_echo_works (h, 30000, 256 * 1024, seed);
  assert_no_violations (h);
  assert_all_released (h);
  pp_harness_assert_quiescent (h);
  dump_corpus (h, "scenario-f1-refused-early-data", 0x20, 300);
  pp_harness_free (h);
}

static void
test_f1_discard_returns_session_credit (void)
{
  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    for (guint32 seed = 1; seed <= 2; seed++)
      run_f1 (orders[o], seed);
}

/* ------------------------------------------------------------------ F2 */

/* F2: the side that must answer a CLOSE has U = 1023 (768 DATA + 255
 * CREDIT) and none of its messages will be acknowledged before it answers.
 * With one limit for every message the answer could never be sent.  The
 * bursting side (B) has its output withheld while the other side (A) sends
 * it 1-byte DATA it must acknowledge every 2 messages; then A aborts. */
static void
run_f2 (PpHarnessOrder order, guint32 seed, gboolean host_is_b)
{
  PpMuxConfig cfg_b, cfg_a;
  PpHarness *h;
  g_autoptr (GByteArray) d = pattern (2000, seed);
  PpHarnessApp *c, *s, *a, *b;
  PpHarnessSide *side_b;

  pp_mux_config_init (&cfg_a);
  pp_mux_config_init (&cfg_b);
  /* One packet per message, so B owes a CREDIT every 2 deliveries. */
  cfg_a.caps = cfg_b.caps = 0;
  cfg_b.credit_messages = 2;
  h = host_is_b ? pp_harness_new (&cfg_a, &cfg_b, order, seed)
                : pp_harness_new (&cfg_b, &cfg_a, order, seed);
  side_b = host_is_b ? &h->host : &h->client;
  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, NULL, 0, FALSE);
  pp_harness_run (h, 1000);
  s = pp_harness_host_app (h, 0);
  a = host_is_b ? c : s;
  b = host_is_b ? s : c;

  side_b->paused = TRUE;
  b->write_chunk = 1;
  pp_harness_app_send (b, d->data, d->len, FALSE);
  g_assert_cmpuint (pp_harness_unacked (side_b, 40000, 80), ==, PP_U_LIMIT_DATA);
  a->write_chunk = 1;
  pp_harness_app_send (a, d->data, d->len, FALSE);
  /* In order, one at a time: B owes (and sends) a CREDIT per 2 of them. */
  pp_harness_deliver_matching (h, host_is_b ? &h->client : &h->host, NULL, NULL);
  pp_harness_run (h, 100000);
  g_assert_cmpuint (pp_harness_unacked (side_b, 40000, 80), ==, PP_U_LIMIT_CREDIT);

  pp_mux_conn_abort (g_steal_pointer (&a->conn), PP_CLOSE_RESET, "A resets");
  pp_harness_run (h, 100000);
  /* B answered from U = 1023 and released without any acknowledgement. */
  g_assert_cmpuint (side_b->mux->stats.sockets, ==, 0);
  g_assert_true (b->reset);
  g_assert_cmpuint (b->reset_reason, ==, PP_CLOSE_RESET);

  side_b->paused = FALSE;
  pp_harness_run (h, 100000);
  assert_all_released (h);
  assert_no_violations (h);
  pp_harness_assert_quiescent (h);
  assert_echo_works (h, 40001, 1000, seed);
  pp_harness_free (h);
}

static void
test_f2_close_at_u_1023 (void)
{
  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    {
      run_f2 (orders[o], 1 + o, TRUE);
      run_f2 (orders[o], 1 + o, FALSE);
    }
}

/* ------------------------------------------------------------------ F3 */

/* F3: thousands of 1-byte sends both ways at once.  With CREDIT under the
 * same bound as DATA both sides stop at U = 1024 owing a CREDIT. */
static void
run_f3 (PpHarnessOrder order, guint32 seed, gboolean coalesce)
{
  PpMuxConfig cfg;
  PpHarness *h;
  g_autoptr (GByteArray) up = pattern (5000, seed);
  g_autoptr (GByteArray) down = pattern (5000, seed + 100);
  PpHarnessApp *c, *s;

  /* 4000 1-byte DATA fit the window: U, not credit, is what binds. */
  config_windows (&cfg, 256 * 1024);
  if (!coalesce)
    cfg.caps = 0;
  h = pp_harness_new (&cfg, &cfg, order, seed);
  if (order == PP_HARNESS_RANDOM && !coalesce)
    record_host (h);
  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, NULL, 0, FALSE);
  pp_harness_run (h, 1000);
  s = pp_harness_host_app (h, 0);
  c->write_chunk = s->write_chunk = 1;
  pp_harness_app_send (c, up->data, up->len, TRUE);
  pp_harness_app_send (s, down->data, down->len, TRUE);
  pp_harness_run (h, 1000000);
  assert_bytes (s->rx, up);
  assert_bytes (c->rx, down);
  g_assert_true (c->eof && s->eof);
  g_assert_false (c->reset || s->reset);
  g_assert_cmpuint (h->client.sent_events[PP_EV_DATA], >=, 5000);
  g_assert_cmpuint (h->host.sent_events[PP_EV_DATA], >=, 5000);
  assert_no_violations (h);
  assert_all_released (h);
  pp_harness_assert_quiescent (h);
  dump_corpus (h, "scenario-f3-one-byte", 0x08, 300);
  pp_harness_free (h);
}

static void
test_f3_one_byte_both_ways (void)
{
  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    {
      run_f3 (orders[o], 1, TRUE);
      run_f3 (orders[o], 2, FALSE);
    }
}

/* ------------------------------------------------------------------ F4 */

/* F4: one tuple (max tuples 1), reused by connection after connection,
 * each reset by the host in the middle of a 1-byte burst, so the client's
 * unacknowledged tail survives in the tombstone.  Every connection ends
 * (reset or complete) and the clean ones after it still work.  When the
 * host resets after the first byte, the client's tail is ≥ 768: that tuple
 * must not be reused (its CONNECT could never be sent), so with one tuple
 * allowed later opens are refused locally, and with more they substitute
 * src_port. */
static void
run_f4 (PpHarnessOrder order, guint32 seed, size_t burst, size_t reset_after,
        uint32_t max_tuples)
{
  PpMuxConfig ccfg;
  PpHarness *h;
  guint completed = 0, reset = 0, refused = 0;

  pp_mux_config_init (&ccfg);
  ccfg.max_tuples = max_tuples;
  h = pp_harness_new (&ccfg, NULL, order, seed);
  h->host_echo = TRUE;
  pp_harness_connect (h);
  for (guint i = 0; i < 60; i++)
    {
      g_autoptr (GByteArray) d = pattern (burst, seed * 1000 + i);
      gboolean abort_it = i % 3 != 2;
      PpHarnessApp *c;

      h->host_reset_after = abort_it ? reset_after : 0;
      c = pp_harness_open (h, 40000, 80, NULL, 0, FALSE);
      if (c->conn == NULL)
        {
          /* Only allowed when the tail left ≥ 768 unacknowledged. */
          g_assert_cmpuint (pp_harness_unacked (&h->client, 40000, 80), >=, PP_U_LIMIT_DATA);
          refused++;
          continue;
        }
      c->write_chunk = 1;
      pp_harness_app_send (c, d->data, d->len, TRUE);
      pp_harness_run (h, 1000000);
      if (c->reset)
        {
          g_assert_cmpuint (c->reset_reason, ==, PP_CLOSE_RESET);
          g_assert_true (abort_it);
          reset++;
        }
      else
        {
          assert_bytes (c->rx, d);
          g_assert_true (c->eof && c->detached);
          completed++;
        }
      assert_all_released (h);
    }
  g_assert_cmpuint (h->client.mux->stats.tuples, <=, max_tuples);
  g_assert_cmpuint (completed + refused, >=, 20);
  g_assert_cmpuint (reset, >, 0);
  g_test_message ("F4 %u: burst %zu, %u completed, %u reset, %u refused, %u tuples", order,
                  burst, completed, reset, refused, h->client.mux->stats.tuples);
  if (burst < PP_U_LIMIT_DATA || max_tuples > 1)
    g_assert_cmpuint (refused, ==, 0);
  assert_no_violations (h);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

/* The host bursts 1-byte DATA and the client resets before reading any:
 * the client processes ~768 messages after its CLOSE and owes a CREDIT it
 * cannot send.  The debt stays in the tombstone and goes out right after
 * the next CONNECT on the tuple, or the host (U ≥ 768) could never send
 * CONNECTED. */
static void
run_f4_owed_credit (PpHarnessOrder order, guint32 seed)
{
  PpMuxConfig ccfg;
  PpHarness *h;
  g_autoptr (GByteArray) d = pattern (2000, seed);

  pp_mux_config_init (&ccfg);
  ccfg.max_tuples = 1;
  h = pp_harness_new (&ccfg, NULL, order, seed);
  h->host_write_chunk = 1;
  pp_harness_connect (h);
  for (guint i = 0; i < 30; i++)
    {
      PpHarnessApp *c = pp_harness_open (h, 40000, 80, NULL, 0, FALSE);
      PpHarnessApp *s;

      g_assert_nonnull (c->conn);
      pp_harness_run (h, 1000000);
      g_assert_true (c->connected);
      s = last_host_app (h);
      c->read_limit = G_MAXSIZE;
      pp_harness_app_send (s, d->data, d->len, FALSE);
      pp_mux_conn_abort (g_steal_pointer (&c->conn), PP_CLOSE_RESET, "client reset");
      pp_harness_run (h, 1000000);
      g_assert_true (s->reset);
      assert_all_released (h);
    }
  g_assert_cmpuint (h->client.mux->stats.tuples, ==, 1);
  assert_no_violations (h);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

static void
test_f4_tuple_reuse_after_reset (void)
{
  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    {
      run_f4 (orders[o], 1 + o, 600, 200, 1);
      run_f4 (orders[o], 11 + o, 200, 66, 1);
      run_f4 (orders[o], 21 + o, 2000, 1, 1);
      run_f4 (orders[o], 31 + o, 2000, 1, 65536);
      run_f4_owed_credit (orders[o], 41 + o);
    }
}

/* ------------------------------------------------------------------ F5/F7 */

/* F5/F7: windows at the 4 KiB minimum and odd write sizes.  Credit counted
 * in TCP bytes, or reads that wait for credit, deadlock here. */
static void
test_f5_f7_small_windows_odd_writes (void)
{
  static const size_t p0[] = { 1, 1, 500 };
  static const size_t p1[] = { 1 };
  static const size_t p2[] = { 4031, 4032, 4033 };
  static const size_t p3[] = { 63, 64, 65, 3000, 7 };
  static const size_t p4[] = { 2048, 1, 1023, 1025 };
  static const struct { const size_t *sizes; guint n; } pats[] = {
    { p0, G_N_ELEMENTS (p0) }, { p1, G_N_ELEMENTS (p1) }, { p2, G_N_ELEMENTS (p2) },
    { p3, G_N_ELEMENTS (p3) }, { p4, G_N_ELEMENTS (p4) },
  };

  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    for (guint i = 0; i < G_N_ELEMENTS (pats); i++)
      {
        PpMuxConfig cfg;
        PpHarness *h;
        g_autoptr (GByteArray) d = pattern (pats[i].sizes[0] == 1 && pats[i].n == 1 ? 6000 : 40000,
                                            i);
        PpHarnessApp *c;

        config_windows (&cfg, 4096);
        h = pp_harness_new (&cfg, &cfg, orders[o], 17 + i);
        h->host_echo = TRUE;
        h->host_write_sizes = pats[i].sizes;
        h->host_n_write_sizes = pats[i].n;
        pp_harness_connect (h);
        c = pp_harness_open (h, 40000, 80, NULL, 0, FALSE);
        c->write_sizes = pats[i].sizes;
        c->n_write_sizes = pats[i].n;
        pp_harness_app_send (c, d->data, d->len, TRUE);
        pp_harness_run (h, 1000000);
        assert_bytes (c->rx, d);
        assert_bytes (pp_harness_host_app (h, 0)->rx, d);
        g_assert_true (c->eof && c->detached);
        assert_no_violations (h);
        assert_all_released (h);
        pp_harness_assert_quiescent (h);
        pp_harness_free (h);
      }
}

/* ------------------------------------------------------------------ F6 */

/* F6: a one-way download.  The client sends nothing but CREDITs, which the
 * host must acknowledge too (every sequenced message counts toward the
 * 256-message rule), or the client's CREDITs reach the bound and the
 * transfer stops.  chunk_ids wrap on the way. */
static void
run_f6 (PpHarnessOrder order, uint64_t total, size_t max_message,
        uint32_t client_credit_messages,
        guint64 min_host_wraps, guint64 min_client_wraps)
{
  PpMuxConfig ccfg, hcfg;
  PpHarness *h;
  PpHarnessApp *c, *s;
  guint64 client_credit_before;

  config_windows (&ccfg, 16 * 1024);
  config_windows (&hcfg, 16 * 1024);
  ccfg.credit_messages = client_credit_messages;
  hcfg.max_message_size = max_message;
  h = pp_harness_new (&ccfg, &hcfg, order, 6);
  h->event_driven = TRUE;
  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, NULL, 0, TRUE);
  pp_harness_app_verify (c, 6);
  pp_harness_run (h, 1000);
  s = pp_harness_host_app (h, 0);
  g_assert_true (s->eof);
  client_credit_before = h->client.sent_events[PP_EV_CREDIT];
  g_assert_cmpuint (h->client.sent_events[PP_EV_DATA], ==, 0);
  pp_harness_app_stream (s, total, 6, TRUE);
  pp_harness_run (h, G_MAXUINT64);
  g_assert_cmpuint (c->rx_count, ==, total);
  g_assert_cmpuint (c->rx_bad, ==, 0);
  g_assert_true (c->eof && c->detached && s->detached);
  /* Nothing but CREDITs (and the final CLOSE) went up. */
  g_assert_cmpuint (h->client.sent_events[PP_EV_DATA], ==, 0);
  g_assert_cmpuint (h->client.sent_events[PP_EV_CREDIT] - client_credit_before, >,
                    3 * PP_RX_WINDOW);
  g_test_message ("F6: %" G_GUINT64_FORMAT " DATA down, %" G_GUINT64_FORMAT
                  " CREDIT up, wraps host %" G_GUINT64_FORMAT " client %" G_GUINT64_FORMAT,
                  h->host.sent_events[PP_EV_DATA], h->client.sent_events[PP_EV_CREDIT],
                  h->host.wraps, h->client.wraps);
  g_assert_cmpuint (h->host.wraps, >=, min_host_wraps);
  g_assert_cmpuint (h->client.wraps, >=, min_client_wraps);
  assert_no_violations (h);
  assert_all_released (h);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

static void
test_f6_credit_only_upstream (void)
{
  /* 64 MiB in ~1000-byte DATA: 16 KiB windows, one credit per ~4 DATA. */
  run_f6 (PP_HARNESS_RANDOM, 64u << 20, 1045, 256, 1, 0);
  /* Tiny DATA, one per message, delivered one at a time, and a CREDIT
   * every 2 of them: both directions wrap at least twice. */
  run_f6 (PP_HARNESS_FIFO, 20u << 20, 45 + 64, 2, 2, 2);
}

/* ------------------------------------------------------------------ F8 */

static void
push_session (PpHarness *h, PpHarnessSide *from, uint8_t event, const uint8_t *payload,
              size_t len)
{
  PpPacket p = { 0 };
  uint8_t buf[PP_HEADER_SIZE + 256];
  size_t n;

  p.event = event;
  p.total_chunks = 1;
  p.payload_size = (uint16_t) len;
  p.payload = payload;
  n = pp_packet_encode (&p, buf, sizeof buf);
  g_assert_cmpuint (n, ==, PP_HEADER_SIZE + len);
  pp_harness_push (h, from, buf, n);
}

/* F8: the host's PING, session CREDIT and an extension sent right after its
 * HELLO reach the client first (newest first over the whole queue).  They
 * are kept and handled after the HELLO, not treated as violations. */
static void
test_f8_session_packets_overtake_hello (void)
{
  for (guint32 seed = 1; seed <= 4; seed++)
    {
      PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_REVERSE, seed);
      uint8_t credit[PP_SESSION_CREDIT_PAYLOAD];
      const uint8_t ext[] = { 1, 2, 3 };

      h->window = 0;
      pp_mux_start (h->client.mux);
      pp_mux_start (h->host.mux);
      g_assert_true (pp_harness_deliver_one (h));
      g_assert_true (h->host.ready);
      g_assert_false (h->client.ready);
      pp_mux_ping (h->host.mux);
      pp_session_credit_encode (1000 * seed, credit);
      push_session (h, &h->host, PP_EV_CREDIT, credit, sizeof credit);
      push_session (h, &h->host, 0x90, ext, sizeof ext);
      h->clock += 777;
      pp_harness_run (h, 1000);
      g_assert_true (h->client.ready);
      g_assert_cmpint (h->host.last_rtt, ==, 777);
      g_assert_cmpint (h->client.mux->sess_tx_allow, ==,
                       (int64_t) h->host.mux->cfg.session_window + 1000 * seed);
      assert_no_violations (h);
      pp_harness_free (h);
    }
}

/* ---------------------------------------------------------------- scale */

/* 200,000 1-byte DATA on one socket, one packet per message, delivered in
 * random order over a window of 64 messages. */
static void
test_scale_200k_one_byte_random (void)
{
  PpMuxConfig ccfg;
  PpHarness *h;
  g_autoptr (GByteArray) d = pattern (200000, 8);
  PpHarnessApp *c, *s;

  pp_mux_config_init (&ccfg);
  ccfg.caps = 0;
  h = pp_harness_new (&ccfg, NULL, PP_HARNESS_RANDOM, 8);
  h->window = 64;
  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, NULL, 0, FALSE);
  pp_harness_run (h, 1000);
  s = pp_harness_host_app (h, 0);
  c->write_chunk = 1;
  pp_harness_app_send (c, d->data, d->len, TRUE);
  pp_harness_app_send (s, NULL, 0, TRUE);
  pp_harness_run (h, 10000000);
  g_assert_cmpuint (h->client.sent_events[PP_EV_DATA], ==, d->len);
  assert_bytes (s->rx, d);
  g_assert_true (s->eof && c->eof && c->detached && s->detached);
  assert_no_violations (h);
  assert_all_released (h);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

static GByteArray *
tagged_content (guint32 id, size_t len, guint32 seed)
{
  GByteArray *a = pattern (MAX (len, 4), seed * 100003u + id);

  a->data[0] = (uint8_t) (id >> 24);
  a->data[1] = (uint8_t) (id >> 16);
  a->data[2] = (uint8_t) (id >> 8);
  a->data[3] = (uint8_t) id;
  return a;
}

/* 500 connections from the same src port, opened one after another, often
 * before the previous one was released (which forces src_port
 * substitution), each with its own content, echoed.  Every app on either
 * side receives exactly its own bytes: nothing spliced across reuse. */
static void
run_reuse_same_port (PpHarnessOrder order, guint32 seed)
{
  PpHarness *h = pp_harness_new (NULL, NULL, order, seed);
  if (order == PP_HARNESS_RANDOM)
    record_host (h);
  g_autoptr (GPtrArray) want = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  g_autoptr (GPtrArray) apps = g_ptr_array_new ();
  g_autofree gboolean *seen = g_new0 (gboolean, 500);
  GRand *r = g_rand_new_with_seed (seed);

  h->host_echo = TRUE;
  h->event_driven = TRUE;
  h->window = 16;
  pp_harness_connect (h);
  for (guint32 i = 0; i < 500; i++)
    {
      GByteArray *d = tagged_content (i, (size_t) g_rand_int_range (r, 4, 3000), seed);
      PpHarnessApp *c = pp_harness_open (h, 40000, 80, d->data, d->len, TRUE);
      guint steps = (guint) g_rand_int_range (r, 0, 40);

      g_assert_nonnull (c->conn);
      g_ptr_array_add (want, d);
      g_ptr_array_add (apps, c);
      if (i % 10 == 9)
        pp_harness_run (h, 1000000);
      else
        for (guint k = 0; k < steps && pp_harness_deliver_one (h); k++)
          ;
    }
  pp_harness_run (h, 1000000);
  g_rand_free (r);

  for (guint i = 0; i < 500; i++)
    {
      PpHarnessApp *c = g_ptr_array_index (apps, i);
      assert_bytes (c->rx, g_ptr_array_index (want, i));
      g_assert_true (c->eof && c->detached);
      g_assert_false (c->reset);
    }
  g_assert_cmpuint (h->host.apps->len, ==, 500);
  for (guint i = 0; i < 500; i++)
    {
      PpHarnessApp *s = pp_harness_host_app (h, i);
      guint32 id;

      g_assert_cmpuint (s->rx->len, >=, 4);
      id = (guint32) s->rx->data[0] << 24 | (guint32) s->rx->data[1] << 16
           | (guint32) s->rx->data[2] << 8 | s->rx->data[3];
      g_assert_cmpuint (id, <, 500);
      g_assert_false (seen[id]);
      seen[id] = TRUE;
      assert_bytes (s->rx, g_ptr_array_index (want, id));
    }
  /* Overlap forced substitution, yet tuples were reused far more often. */
  g_assert_cmpuint (h->client.mux->stats.tuples, >, 1);
  g_assert_cmpuint (h->client.mux->stats.tuples, <, 100);
  g_assert_cmpuint (h->host.mux->stats.tuples, ==, h->client.mux->stats.tuples);
  assert_no_violations (h);
  assert_all_released (h);
  pp_harness_assert_quiescent (h);
  dump_corpus (h, "scenario-reuse-same-port", 0x04, 300);
  pp_harness_free (h);
}

static void
test_scenario_reuse_same_port (void)
{
  run_reuse_same_port (PP_HARNESS_RANDOM, 9);
  run_reuse_same_port (PP_HARNESS_HOLD, 10);
  run_reuse_same_port (PP_HARNESS_REVERSE, 11);
}

/* DATA and FIN overtake their CONNECT (newest first over the whole queue):
 * the host holds them out of order, then delivers them once the connect is
 * accepted, and applies the FIN after them. */
static void
test_scenario_data_fin_before_connect (void)
{
  PpMuxConfig ccfg;
  PpHarness *h;
  g_autoptr (GByteArray) d = pattern (200000, 10);
  PpHarnessApp *c, *s;
  guint n;

  pp_mux_config_init (&ccfg);
  ccfg.caps = 0;
  h = pp_harness_new (&ccfg, NULL, PP_HARNESS_REVERSE, 10);
  if (TRUE)
    record_host (h);
  h->window = 0;
  h->policy = PP_HARNESS_DEFER;
  h->host_echo = TRUE;
  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, d->data, d->len, TRUE);
  n = h->client.out->len;
  g_assert_cmpuint (n, >=, 6);  /* CONNECT, DATA …, FIN */
  while (h->client.out->len > 1)
    g_assert_true (pp_harness_deliver_one (h));
  g_assert_cmpuint (h->host.out->len, ==, 0);
  g_assert_cmpuint (h->host.apps->len, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.pending_messages, ==, n - 1);
  g_assert_cmpuint (h->host.mux->stats.rx_queued, ==, 0);

  g_assert_true (pp_harness_deliver_one (h));  /* the CONNECT */
  g_assert_cmpuint (h->host.mux->stats.pending_messages, ==, 0);
  s = pp_harness_host_app (h, 0);
  g_assert_cmpuint (h->host.mux->stats.rx_queued, ==, d->len);
  g_assert_cmpuint (s->rx->len, ==, 0);
  g_assert_false (s->eof);
  pp_mux_conn_accept (s->conn);
  pp_harness_run (h, 100000);
  assert_bytes (s->rx, d);
  assert_bytes (c->rx, d);
  g_assert_true (s->eof && c->eof && c->connected);
  assert_no_violations (h);
  assert_all_released (h);
  pp_harness_assert_quiescent (h);
  dump_corpus (h, "scenario-data-fin-before-connect", 0x01, 300);
  pp_harness_free (h);
}

typedef struct
{
  GHashTable *seen;            /* tuples whose first DATA was withheld */
} GapFilter;

static gboolean
skip_first_data_cb (PpHarnessSide *from, const PpPacket *p, gpointer user_data)
{
  GapFilter *f = user_data;

  if (p->event != PP_EV_DATA || g_hash_table_contains (f->seen, &p->tuple))
    return TRUE;
  g_hash_table_add (f->seen, g_memdup2 (&p->tuple, sizeof p->tuple));
  return FALSE;
}

static size_t
heap_in_use (void)
{
  struct mallinfo2 m = mallinfo2 ();

  return m.uordblks + m.hblkhd;
}

/* 10,000 live sockets, each with a gap: its first DATA withheld, its
 * second held out of order by the host.  Everything both muxes, the fake
 * apps and the messages in flight hold must stay within 4 KiB a socket. */
static void
test_scale_10k_gapped_sockets (void)
{
  enum { N = 10000 };
  PpMuxConfig ccfg;
  PpHarness *h;
  GapFilter f = { g_hash_table_new_full ((GHashFunc) pp_tuple_hash,
                                         (GEqualFunc) pp_tuple_equal, g_free, NULL) };
  size_t before, after;
  guint delivered;

  pp_mux_config_init (&ccfg);
  ccfg.caps = 0;
  ccfg.high_water = 64u << 20;  /* every DATA in flight at once */
  h = pp_harness_new (&ccfg, NULL, PP_HARNESS_FIFO, 11);
  h->event_driven = TRUE;
  h->host_read_limit = G_MAXSIZE;  /* the host apps do not read yet */
  pp_harness_connect (h);
  malloc_trim (0);
  before = heap_in_use ();
  for (guint i = 0; i < N; i++)
    pp_harness_open (h, (uint16_t) (20000 + i), 80, NULL, 0, FALSE);
  pp_harness_run (h, 1000000);
  g_assert_cmpuint (h->client.mux->stats.sockets, ==, N);
  g_assert_cmpuint (h->host.mux->stats.sockets, ==, N);

  for (guint i = 0; i < N; i++)
    {
      PpHarnessApp *c = g_ptr_array_index (h->client.apps, i);
      c->write_chunk = 10;
      pp_harness_app_send (c, (const uint8_t *) "0123456789abcdefghij", 20, FALSE);
    }
  g_assert_cmpuint (h->client.out->len, ==, 2 * N);
  delivered = pp_harness_deliver_matching (h, &h->client, skip_first_data_cb, &f);
  g_assert_cmpuint (delivered, ==, N);
  g_assert_cmpuint (h->host.mux->stats.pending_messages, ==, N);
  g_assert_cmpuint (h->host.mux->stats.rx_queued, ==, 0);
  after = heap_in_use ();
  g_test_message ("10k gapped sockets: %zu bytes per socket (both muxes, apps, in flight)",
                  (after - before) / N);
  if (PP_TEST_ASAN)
    g_test_message ("AddressSanitizer: memory ceiling not checked");
  else
    g_assert_cmpuint ((after - before) / N, <=, 4096);

  pp_harness_run (h, 1000000);
  g_assert_cmpuint (h->host.mux->stats.pending_messages, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.rx_queued, ==, 20 * N);
  for (guint i = 0; i < N; i++)
    {
      PpHarnessApp *s = pp_harness_host_app (h, i);
      s->read_limit = 0;
      pp_harness_app_send (s, NULL, 0, TRUE);
      pp_harness_app_send (g_ptr_array_index (h->client.apps, i), NULL, 0, TRUE);
    }
  pp_harness_run (h, 1000000);
  for (guint i = 0; i < N; i++)
    {
      PpHarnessApp *s = pp_harness_host_app (h, i);
      g_assert_cmpmem (s->rx->data, s->rx->len, "0123456789abcdefghij", 20);
      g_assert_true (s->detached);
    }
  g_assert_cmpuint (h->host.mux->stats.rx_queued, ==, 0);
  assert_no_violations (h);
  assert_all_released (h);
  pp_harness_assert_quiescent (h);
  g_hash_table_unref (f.seen);
  pp_harness_free (h);
}

/* -------------------------------------------------------------- hostile */

/* A session with two legitimate connections, A (src 40000) and C (src
 * 40001), that have exchanged data; hostile packets are then injected raw
 * into the host as if the client had sent them.  One packet per message
 * (no coalescing), so the host's answers can be read one by one. */
typedef struct
{
  PpHarness *h;
  PpHarnessApp *a, *c;
  PpTupleState *ts_a;          /* the host's state for A */
} Hostile;

typedef enum
{
  ANSWER_NONE,                 /* the host sends nothing at all */
  ANSWER_CLOSE5,               /* the host sends CLOSE(5) */
  ANSWER_GOAWAY,               /* the host ends the session: GOAWAY(protocol) */
  ANSWER_CONNECTED,            /* legitimate after all: the host connects */
} HostileAnswer;

typedef struct
{
  const char *name;
  void (*build) (Hostile *x, GPtrArray *msgs);
  HostileAnswer answer;
  guint violations;            /* the host's count afterwards */
  gboolean kills_a;            /* A ends (reason 5, or 9 with GOAWAY) */
} HostileCase;

static void
hostile_tuple (PpTuple *t, guint which)
{
  pp_harness_tuple (t, (uint16_t) (50000 + which), 80);
}

static void
add_packet (GPtrArray *msgs, uint8_t event, const PpTuple *t, uint16_t id, uint16_t index,
            uint16_t total, const void *payload, size_t len)
{
  PpPacket p = { 0 };
  GByteArray *m = g_byte_array_sized_new ((guint) (PP_HEADER_SIZE + len));

  p.event = event;
  if (t != NULL)
    p.tuple = *t;
  p.chunk_id = id;
  p.chunk_index = index;
  p.total_chunks = total;
  p.payload_size = (uint16_t) len;
  p.payload = payload;
  g_byte_array_set_size (m, (guint) (PP_HEADER_SIZE + len));
  g_assert_cmpuint (pp_packet_encode (&p, m->data, m->len), ==, m->len);
  g_ptr_array_add (msgs, m);
}

static GByteArray *
last_msg (GPtrArray *msgs)
{
  return g_ptr_array_index (msgs, msgs->len - 1);
}

static void
build_truncated (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, x->ts_a->rx_next, 0, 1, "0123456789", 10);
  g_byte_array_set_size (last_msg (msgs), 30);
}

static void
build_size_beyond_message (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, x->ts_a->rx_next, 0, 1, "0123456789", 10);
  last_msg (msgs)->data[43] = 0;
  last_msg (msgs)->data[44] = 100;
}

static void
build_payload_too_large (Hostile *x, GPtrArray *msgs)
{
  GByteArray *m = g_byte_array_new ();
  PpPacket p = { 0 };

  p.event = PP_EV_DATA;
  p.tuple = x->ts_a->key;
  p.chunk_id = x->ts_a->rx_next;
  p.total_chunks = 1;
  p.payload_size = PP_MAX_PAYLOAD + 1;
  g_byte_array_set_size (m, PP_HEADER_SIZE + PP_MAX_PAYLOAD + 1);
  memset (m->data, 'x', m->len);
  pp_packet_encode_header (&p, m->data);
  g_ptr_array_add (msgs, m);
}

static void
build_trailing (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, x->ts_a->rx_next, 0, 1, "abc", 3);
  g_byte_array_append (last_msg (msgs), (const uint8_t *) "xyz", 3);
}

static void
build_empty_message (Hostile *x, GPtrArray *msgs)
{
  g_ptr_array_add (msgs, g_byte_array_new ());
}

static void
build_index_ge_total (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, x->ts_a->rx_next, 2, 2, "abc", 3);
}

static void
build_total_zero (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, x->ts_a->rx_next, 0, 0, "abc", 3);
}

/* One chunk of a message that claims 65535: held, never allocated for. */
static void
build_total_65535 (Hostile *x, GPtrArray *msgs)
{
  PpTuple t;
  uint8_t payload[100] = { 0 };

  hostile_tuple (&t, 1);
  add_packet (msgs, PP_EV_DATA, &t, 0, 0, 65535, payload, sizeof payload);
}

static void
build_unknown_event (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, 0x42, &x->ts_a->key, x->ts_a->rx_next, 0, 1, NULL, 0);
}

static void
build_extension_session (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, 0x90, NULL, 0, 0, 1, "ext", 3);
}

static void
build_extension_tuple (Hostile *x, GPtrArray *msgs)
{
  PpTuple t;

  hostile_tuple (&t, 2);
  add_packet (msgs, 0xfe, &t, 0, 0, 1, "ext", 3);
}

static void
build_extension_chunked (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, 0x90, &x->ts_a->key, x->ts_a->rx_next, 0, 2, "ext", 3);
}

static void
build_empty_data (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, x->ts_a->rx_next, 0, 1, NULL, 0);
}

static void
build_id_jump (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, (uint16_t) (x->ts_a->rx_next + PP_RX_WINDOW),
              0, 1, "abc", 3);
}

static void
build_id_below_window_edge (Hostile *x, GPtrArray *msgs)
{
  /* 1023 ahead is legal: held for reassembly, nothing happens. */
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key,
              (uint16_t) (x->ts_a->rx_next + PP_RX_WINDOW - 1), 0, 1, "abc", 3);
}

static void
build_id_behind (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, (uint16_t) (x->ts_a->rx_next - 1), 0, 1,
              "abc", 3);
}

static void
build_unknown_tuple_high_id (Hostile *x, GPtrArray *msgs)
{
  PpTuple t;

  hostile_tuple (&t, 3);
  add_packet (msgs, PP_EV_DATA, &t, PP_RX_WINDOW, 0, 1, "abc", 3);
}

static void
build_beyond_socket_window (Hostile *x, GPtrArray *msgs)
{
  static uint8_t big[8000];

  /* The host's W is 16 KiB and its app stops reading, so it grants
   * nothing: the third packet of 8064 units overdraws the window. */
  pp_harness_host_app (x->h, 0)->read_limit = G_MAXSIZE;
  for (guint i = 0; i < 3; i++)
    add_packet (msgs, PP_EV_DATA, &x->ts_a->key, (uint16_t) (x->ts_a->rx_next + i), 0, 1,
                big, sizeof big);
}

static void
build_chunks_disagree (Hostile *x, GPtrArray *msgs)
{
  static uint8_t d[200];
  uint16_t id = (uint16_t) (x->ts_a->rx_next + 1);

  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, id, 0, 2, d, 100);
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, id, 1, 2, d, 200);
}

static void
build_chunk_twice (Hostile *x, GPtrArray *msgs)
{
  static uint8_t d[100];
  uint16_t id = (uint16_t) (x->ts_a->rx_next + 1);

  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, id, 0, 3, d, 100);
  add_packet (msgs, PP_EV_DATA, &x->ts_a->key, id, 0, 3, d, 100);
}

static void
build_credit_never_sent (Hostile *x, GPtrArray *msgs)
{
  uint8_t payload[PP_CREDIT_PAYLOAD];

  pp_credit_encode (0, (uint16_t) (x->ts_a->tx_next + 5), payload);
  add_packet (msgs, PP_EV_CREDIT, &x->ts_a->key, x->ts_a->rx_next, 0, 1, payload,
              sizeof payload);
}

static void
build_credit_wrong_size (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_CREDIT, &x->ts_a->key, x->ts_a->rx_next, 0, 1, "abc", 3);
}

static void
build_duplicate_connect (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_CONNECT, &x->ts_a->key, x->ts_a->rx_next, 0, 1, NULL, 0);
}

static void
build_data_zero_tuple (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_DATA, NULL, 0, 0, 1, "abc", 3);
}

static void
build_session_with_id (Hostile *x, GPtrArray *msgs)
{
  uint8_t payload[PP_PING_PAYLOAD] = { 0 };

  add_packet (msgs, PP_EV_PING, NULL, 7, 0, 1, payload, sizeof payload);
}

static void
build_ping_wrong_size (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_PING, NULL, 0, 0, 1, "abc", 3);
}

static void
build_session_credit_wrong_size (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_CREDIT, NULL, 0, 0, 1, "ab", 2);
}

static void
build_connected_to_host (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_CONNECTED, &x->ts_a->key, x->ts_a->rx_next, 0, 1, NULL, 0);
}

static void
build_fin_with_payload (Hostile *x, GPtrArray *msgs)
{
  add_packet (msgs, PP_EV_FIN, &x->ts_a->key, x->ts_a->rx_next, 0, 1, "x", 1);
}

static void
build_second_hello (Hostile *x, GPtrArray *msgs)
{
  PpHello hello = { 0 };
  uint8_t payload[PP_HELLO_MAX_PAYLOAD];
  size_t len;

  hello.version = 1;
  hello.socket_window = 1 << 20;
  hello.session_window = 16 << 20;
  hello.max_tuples = hello.max_sockets = 100;
  len = pp_hello_encode (&hello, payload, sizeof payload);
  add_packet (msgs, PP_EV_HELLO, NULL, 0, 0, 1, payload, len);
}

static void
build_close_no_connection (Hostile *x, GPtrArray *msgs)
{
  PpTuple t;
  const uint8_t payload[] = { PP_CLOSE_RESET };

  hostile_tuple (&t, 4);
  add_packet (msgs, PP_EV_CLOSE, &t, 0, 0, 1, payload, sizeof payload);
}

static void
build_close_detail_201 (Hostile *x, GPtrArray *msgs)
{
  uint8_t payload[1 + 201];

  memset (payload, 'x', sizeof payload);
  payload[0] = PP_CLOSE_RESET;
  add_packet (msgs, PP_EV_CLOSE, &x->ts_a->key, x->ts_a->rx_next, 0, 1, payload,
              sizeof payload);
}

static void
build_close_unknown_reason (Hostile *x, GPtrArray *msgs)
{
  const uint8_t payload[] = { PP_CLOSE_REASON_MAX + 1 };

  add_packet (msgs, PP_EV_CLOSE, &x->ts_a->key, x->ts_a->rx_next, 0, 1, payload,
              sizeof payload);
}

static void
connect_by_name (GPtrArray *msgs, guint which, const char *name, size_t len)
{
  PpTuple t;

  hostile_tuple (&t, which);
  memset (t.dst_addr, 0, sizeof t.dst_addr);
  add_packet (msgs, PP_EV_CONNECT, &t, 0, 0, 1, name, len);
}

static void
build_connect_numeric_name (Hostile *x, GPtrArray *msgs)
{
  connect_by_name (msgs, 5, "127.1", 5);
}

static void
build_connect_name_254 (Hostile *x, GPtrArray *msgs)
{
  char name[254];

  memset (name, 'a', sizeof name);
  for (size_t i = 60; i < sizeof name; i += 61)
    name[i] = '.';
  connect_by_name (msgs, 6, name, sizeof name);
}

static void
build_connect_name_253 (Hostile *x, GPtrArray *msgs)
{
  char name[253];

  memset (name, 'a', sizeof name);
  for (size_t i = 60; i < sizeof name; i += 61)
    name[i] = '.';
  connect_by_name (msgs, 7, name, sizeof name);
}

static void
build_connect_addr_with_name (Hostile *x, GPtrArray *msgs)
{
  PpTuple t;

  hostile_tuple (&t, 8);
  add_packet (msgs, PP_EV_CONNECT, &t, 0, 0, 1, "example.com", 11);
}

static const HostileCase hostile_cases[] = {
  { "truncated-message", build_truncated, ANSWER_GOAWAY, 1, TRUE },
  { "payload-size-beyond-message", build_size_beyond_message, ANSWER_GOAWAY, 1, TRUE },
  { "payload-size-above-65490", build_payload_too_large, ANSWER_GOAWAY, 1, TRUE },
  { "trailing-bytes", build_trailing, ANSWER_GOAWAY, 1, TRUE },
  { "empty-message", build_empty_message, ANSWER_GOAWAY, 1, TRUE },
  { "chunk-index-ge-total", build_index_ge_total, ANSWER_GOAWAY, 1, TRUE },
  { "total-chunks-zero", build_total_zero, ANSWER_GOAWAY, 1, TRUE },
  { "total-chunks-65535-one-chunk", build_total_65535, ANSWER_NONE, 0, FALSE },
  { "unknown-event-0x42", build_unknown_event, ANSWER_CLOSE5, 1, TRUE },
  { "extension-session", build_extension_session, ANSWER_NONE, 0, FALSE },
  { "extension-tuple", build_extension_tuple, ANSWER_NONE, 0, FALSE },
  { "extension-in-chunks", build_extension_chunked, ANSWER_CLOSE5, 1, TRUE },
  { "empty-data", build_empty_data, ANSWER_CLOSE5, 1, TRUE },
  { "chunk-id-jump-1024", build_id_jump, ANSWER_CLOSE5, 1, TRUE },
  { "chunk-id-jump-1023", build_id_below_window_edge, ANSWER_NONE, 0, FALSE },
  { "chunk-id-behind", build_id_behind, ANSWER_CLOSE5, 1, TRUE },
  { "unknown-tuple-id-1024", build_unknown_tuple_high_id, ANSWER_NONE, 1, FALSE },
  { "data-beyond-socket-window", build_beyond_socket_window, ANSWER_CLOSE5, 1, TRUE },
  { "chunks-disagree-in-size", build_chunks_disagree, ANSWER_CLOSE5, 1, TRUE },
  { "chunk-twice", build_chunk_twice, ANSWER_CLOSE5, 1, TRUE },
  { "credit-acks-unsent", build_credit_never_sent, ANSWER_CLOSE5, 1, TRUE },
  { "credit-wrong-size", build_credit_wrong_size, ANSWER_CLOSE5, 1, TRUE },
  { "duplicate-connect", build_duplicate_connect, ANSWER_CLOSE5, 1, TRUE },
  { "data-on-zero-tuple", build_data_zero_tuple, ANSWER_GOAWAY, 1, TRUE },
  { "session-packet-with-id", build_session_with_id, ANSWER_GOAWAY, 1, TRUE },
  { "ping-wrong-size", build_ping_wrong_size, ANSWER_GOAWAY, 1, TRUE },
  { "session-credit-wrong-size", build_session_credit_wrong_size, ANSWER_GOAWAY, 1, TRUE },
  { "connected-to-host", build_connected_to_host, ANSWER_CLOSE5, 1, TRUE },
  { "fin-with-payload", build_fin_with_payload, ANSWER_CLOSE5, 1, TRUE },
  { "second-hello", build_second_hello, ANSWER_GOAWAY, 1, TRUE },
  { "close-no-connection", build_close_no_connection, ANSWER_NONE, 1, FALSE },
  { "close-detail-201", build_close_detail_201, ANSWER_CLOSE5, 1, TRUE },
  { "close-unknown-reason", build_close_unknown_reason, ANSWER_CLOSE5, 1, TRUE },
  /* A CONNECT the host rejects ends the client's connection with CLOSE(5)
   * (protocol.md §6.3: "the side that detects the violation sends
   * CLOSE(5)"); silence would leave the client's app waiting forever. */
  { "connect-numeric-name", build_connect_numeric_name, ANSWER_CLOSE5, 1, FALSE },
  { "connect-name-254", build_connect_name_254, ANSWER_CLOSE5, 1, FALSE },
  { "connect-name-253", build_connect_name_253, ANSWER_CONNECTED, 0, FALSE },
  { "connect-address-and-name", build_connect_addr_with_name, ANSWER_CLOSE5, 1, FALSE },
};

static void
hostile_setup (Hostile *x)
{
  PpMuxConfig ccfg, hcfg;
  PpTuple t;

  pp_mux_config_init (&ccfg);
  ccfg.caps = 0;
  config_windows (&hcfg, 16 * 1024);
  hcfg.caps = 0;
  x->h = pp_harness_new (&ccfg, &hcfg, PP_HARNESS_FIFO, 12);
  x->h->host_echo = TRUE;
  record_host (x->h);
  pp_harness_connect (x->h);
  x->a = pp_harness_open (x->h, 40000, 80, (const uint8_t *) "hello A", 7, FALSE);
  x->c = pp_harness_open (x->h, 40001, 80, (const uint8_t *) "hello C", 7, FALSE);
  pp_harness_run (x->h, 1000);
  g_assert_cmpmem (x->a->rx->data, x->a->rx->len, "hello A", 7);
  g_assert_cmpmem (x->c->rx->data, x->c->rx->len, "hello C", 7);
  pp_harness_tuple (&t, 40000, 80);
  x->ts_a = g_hash_table_lookup (x->h->host.mux->tuples, &t);
  g_assert_nonnull (x->ts_a);
}

/* Host answers for tuples the client never opened would be violations
 * there; they were checked already and are not delivered. */
static gboolean
unknown_to_client_cb (PpHarnessSide *from, const PpPacket *p, gpointer user_data)
{
  PpHarness *h = user_data;

  return !pp_tuple_is_zero (&p->tuple)
         && g_hash_table_lookup (h->client.mux->tuples, &p->tuple) == NULL;
}

static void
assert_app_works (PpHarness *h, PpHarnessApp *app, const char *more)
{
  size_t had = app->rx->len;

  pp_harness_app_send (app, (const uint8_t *) more, strlen (more), FALSE);
  pp_harness_run (h, 1000);
  g_assert_false (app->reset);
  g_assert_cmpmem (app->rx->data + had, app->rx->len - had, more, strlen (more));
}

static void
test_hostile_packet (gconstpointer data)
{
  const HostileCase *hc = data;
  g_autoptr (GPtrArray) msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  Hostile x;
  PpHarness *h;
  guint64 sent_before, close_before, goaway_before;
  size_t heap_before;

  hostile_setup (&x);
  h = x.h;
  hc->build (&x, msgs);
  if (h->host.record != NULL)
    {
      g_autofree char *name = g_strdup_printf ("hostile-%s", hc->name);
      guint had = h->host.record->len;

      for (guint i = 0; i < msgs->len; i++)
        {
          GByteArray *m = g_ptr_array_index (msgs, i);
          g_ptr_array_add (h->host.record, g_bytes_new (m->data, m->len));
        }
      dump_corpus (h, name, 0, G_MAXUINT);
      g_ptr_array_set_size (h->host.record, had);
    }
  sent_before = h->host.sent_count;
  close_before = h->host.sent_events[PP_EV_CLOSE];
  goaway_before = h->host.sent_events[PP_EV_GOAWAY];
  heap_before = heap_in_use ();
  for (guint i = 0; i < msgs->len; i++)
    {
      GByteArray *m = g_ptr_array_index (msgs, i);
      pp_harness_inject (h, &h->host, m->data, m->len);
    }
  if (hc->build == build_total_65535)
    {
      /* Slots come as chunks arrive, never from total_chunks. */
      g_assert_cmpuint (h->host.mux->stats.pending_messages, ==, 1);
      if (!PP_TEST_ASAN)
        g_assert_cmpuint (heap_in_use () - MIN (heap_in_use (), heap_before), <, 16 * 1024);
    }

  g_assert_cmpuint (h->host.mux->stats.violations, ==, hc->violations);
  switch (hc->answer)
    {
    case ANSWER_NONE:
      g_assert_cmpuint (h->host.sent_count, ==, sent_before);
      break;
    case ANSWER_CLOSE5:
      g_assert_cmpuint (h->host.sent_events[PP_EV_CLOSE], ==, close_before + 1);
      g_assert_cmpuint (h->host.last_close_reason, ==, PP_CLOSE_PROTOCOL);
      g_assert_cmpuint (h->host.sent_events[PP_EV_GOAWAY], ==, goaway_before);
      break;
    case ANSWER_GOAWAY:
      g_assert_cmpuint (h->host.sent_events[PP_EV_GOAWAY], ==, goaway_before + 1);
      g_assert_cmpuint (h->host.last_goaway_reason, ==, PP_GOAWAY_PROTOCOL);
      g_assert_true (h->host.failed);
      break;
    case ANSWER_CONNECTED:
      g_assert_cmpuint (h->host.sent_events[PP_EV_CONNECTED], ==, 3);
      g_assert_cmpuint (h->host.sent_events[PP_EV_CLOSE], ==, close_before);
      g_assert_cmpuint (h->host.mux->stats.sockets, ==, 3);
      g_assert_cmpstr (pp_mux_conn_get_name (pp_harness_host_app (h, 2)->conn), !=, NULL);
      break;
    }

  pp_harness_drop_matching (h, &h->host, unknown_to_client_cb, h);
  pp_harness_run (h, 10000);
  g_assert_cmpuint (h->client.mux->stats.violations, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.violations, ==, hc->violations);
  if (hc->answer == ANSWER_GOAWAY)
    {
      g_assert_true (h->client.goaway);
      g_assert_true (x.a->reset && x.c->reset);
      g_assert_cmpuint (x.a->reset_reason, ==, PP_CLOSE_SESSION_ENDED);
      g_assert_cmpuint (x.c->reset_reason, ==, PP_CLOSE_SESSION_ENDED);
      g_assert_cmpuint (h->client.mux->stats.sockets + h->host.mux->stats.sockets, ==, 0);
    }
  else if (hc->kills_a)
    {
      g_assert_true (x.a->reset);
      g_assert_cmpuint (x.a->reset_reason, ==, PP_CLOSE_PROTOCOL);
      g_assert_true (pp_harness_host_app (h, 0)->reset);
      g_assert_cmpuint (pp_harness_host_app (h, 0)->reset_reason, ==, PP_CLOSE_PROTOCOL);
      g_assert_cmpuint (h->client.mux->stats.sockets, ==, 1);
      assert_app_works (h, x.c, " and more");
      assert_echo_works (h, 40000, 3000, 12);  /* a new connection, src substituted */
    }
  else
    {
      g_assert_false (x.a->reset);
      assert_app_works (h, x.a, " and more");
      assert_app_works (h, x.c, " and more");
    }
  pp_harness_free (h);
}

/* HELLOs a fresh host must refuse, and packets before any HELLO. */
typedef struct
{
  const char *name;
  uint8_t version;
  uint32_t socket_window, session_window, max_tuples;
  size_t cut;                  /* payload bytes kept; 0 = all */
  uint8_t event;               /* PP_EV_HELLO, or what is sent instead */
  uint8_t goaway_reason;
} HelloCase;

static const HelloCase hello_cases[] = {
  { "socket-window-4095", 1, 4095, 1 << 20, 100, 0, PP_EV_HELLO, PP_GOAWAY_INCOMPATIBLE },
  { "session-window-below-8w", 1, 65536, 8 * 65536 - 1, 100, 0, PP_EV_HELLO,
    PP_GOAWAY_INCOMPATIBLE },
  { "version-0", 0, 65536, 1 << 20, 100, 0, PP_EV_HELLO, PP_GOAWAY_INCOMPATIBLE },
  { "max-tuples-0", 1, 65536, 1 << 20, 0, 0, PP_EV_HELLO, PP_GOAWAY_INCOMPATIBLE },
  { "hello-truncated", 1, 65536, 1 << 20, 100, 20, PP_EV_HELLO, PP_GOAWAY_PROTOCOL },
  { "ping-before-hello", 1, 0, 0, 0, 0, PP_EV_PING, PP_GOAWAY_PROTOCOL },
  { "data-before-hello", 1, 0, 0, 0, 0, PP_EV_DATA, PP_GOAWAY_PROTOCOL },
};

static void
test_hostile_hello (gconstpointer data)
{
  const HelloCase *hc = data;
  g_autoptr (GPtrArray) msgs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_FIFO, 1);
  PpHello hello = { 0 };
  uint8_t payload[PP_HELLO_MAX_PAYLOAD] = { 0 };
  size_t len;
  PpTuple t;
  GByteArray *m;

  hello.version = hc->version;
  hello.socket_window = hc->socket_window;
  hello.session_window = hc->session_window;
  hello.max_tuples = hc->max_tuples;
  hello.max_sockets = 100;
  len = pp_hello_encode (&hello, payload, sizeof payload);
  if (hc->cut > 0)
    len = hc->cut;
  pp_harness_tuple (&t, 40000, 80);
  if (hc->event == PP_EV_HELLO)
    add_packet (msgs, PP_EV_HELLO, NULL, 0, 0, 1, payload, len);
  else if (hc->event == PP_EV_PING)
    add_packet (msgs, PP_EV_PING, NULL, 0, 0, 1, payload, PP_PING_PAYLOAD);
  else
    add_packet (msgs, hc->event, &t, 0, 0, 1, "abc", 3);
  pp_mux_start (h->host.mux);
  m = g_ptr_array_index (msgs, 0);
  pp_harness_inject (h, &h->host, m->data, m->len);
  g_assert_true (h->host.failed);
  g_assert_false (h->host.ready);
  g_assert_cmpuint (h->host.sent_events[PP_EV_GOAWAY], ==, 1);
  g_assert_cmpuint (h->host.sent_events[PP_EV_HELLO], ==, 0);
  g_assert_cmpuint (h->host.last_goaway_reason, ==, hc->goaway_reason);
  g_assert_true (pp_mux_is_closed (h->host.mux));
  pp_harness_free (h);
}

/* Two violations cost two tuples; the third ends the session. */
static void
run_third_violation (void (*build) (Hostile *x, GPtrArray *msgs, guint i))
{
  Hostile x;
  PpHarness *h;

  hostile_setup (&x);
  h = x.h;
  for (guint i = 0; i < 3; i++)
    {
      g_autoptr (GPtrArray) msgs = g_ptr_array_new_with_free_func (
        (GDestroyNotify) g_byte_array_unref);
      GByteArray *m;

      build (&x, msgs, i);
      m = g_ptr_array_index (msgs, 0);
      pp_harness_inject (h, &h->host, m->data, m->len);
      g_assert_cmpuint (h->host.mux->stats.violations, ==, i + 1);
      g_assert_cmpuint (h->host.sent_events[PP_EV_GOAWAY], ==, i == 2 ? 1 : 0);
      g_assert_cmpint (h->host.failed, ==, i == 2);
    }
  g_assert_cmpuint (h->host.last_goaway_reason, ==, PP_GOAWAY_PROTOCOL);
  pp_harness_drop_matching (h, &h->host, unknown_to_client_cb, h);
  pp_harness_run (h, 10000);
  g_assert_true (h->client.goaway);
  g_assert_true (x.a->reset && x.c->reset);
  g_assert_cmpuint (h->client.mux->stats.sockets + h->host.mux->stats.sockets, ==, 0);
  pp_harness_free (h);
}

static void
third_close_no_conn (Hostile *x, GPtrArray *msgs, guint i)
{
  PpTuple t;
  const uint8_t payload[] = { PP_CLOSE_RESET };

  hostile_tuple (&t, 10 + i);
  add_packet (msgs, PP_EV_CLOSE, &t, 0, 0, 1, payload, sizeof payload);
}

static void
third_unknown_high_id (Hostile *x, GPtrArray *msgs, guint i)
{
  PpTuple t;

  hostile_tuple (&t, 10 + i);
  add_packet (msgs, PP_EV_DATA, &t, (uint16_t) (PP_RX_WINDOW + i), 0, 1, "abc", 3);
}

static void
third_mixed (Hostile *x, GPtrArray *msgs, guint i)
{
  PpTuple t;

  if (i == 0)
    return build_empty_data (x, msgs);
  if (i == 1)
    {
      pp_harness_tuple (&t, 40001, 80);
      add_packet (msgs, PP_EV_CONNECTED, &t,
                  ((PpTupleState *) g_hash_table_lookup (x->h->host.mux->tuples, &t))->rx_next,
                  0, 1, NULL, 0);
      return;
    }
  third_close_no_conn (x, msgs, i);
}

static void
test_hostile_third_violation (void)
{
  run_third_violation (third_close_no_conn);
  run_third_violation (third_mixed);
}

static void
test_hostile_third_violation_unknown_tuples (void)
{
  run_third_violation (third_unknown_high_id);
}

/* ------------------------------------------------------- session ends */

/* PING while bulk DATA crowds the queues in reverse order: PONG comes back
 * with the RTT of the manual clock; a PONG from the future is ignored. */
static void
test_session_pong_rtt (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_REVERSE, 13);
  g_autoptr (GByteArray) d = pattern (2 << 20, 13);
  uint8_t token[PP_PING_PAYLOAD];
  PpHarnessApp *c;

  h->host_echo = TRUE;
  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, d->data, d->len, TRUE);
  for (guint i = 0; i < 50; i++)
    pp_harness_deliver_one (h);
  pp_mux_ping (h->host.mux);
  pp_mux_ping (h->client.mux);
  h->clock += 4321;
  pp_harness_run (h, 1000000);
  g_assert_cmpint (h->host.last_rtt, ==, 4321);
  g_assert_cmpint (h->client.last_rtt, ==, 4321);
  assert_bytes (c->rx, d);

  pp_ping_encode ((uint64_t) h->clock + 1000, token);
  push_session (h, &h->host, PP_EV_PONG, token, sizeof token);
  pp_harness_run (h, 10);
  g_assert_cmpint (h->client.last_rtt, ==, 4321);
  assert_no_violations (h);
  pp_harness_free (h);
}

/* GOAWAY lands in the middle of five transfers: every app on both sides is
 * reset with reason 9, none sees EOF, and nothing is left queued. */
static void
run_goaway_mid_transfer (gboolean from_host, PpHarnessOrder order)
{
  PpHarness *h = pp_harness_new (NULL, NULL, order, 14);
  g_autoptr (GByteArray) d = pattern (4 << 20, 14);
  PpHarnessSide *ender, *receiver;

  h->host_echo = TRUE;
  pp_harness_connect (h);
  for (guint i = 0; i < 5; i++)
    pp_harness_open (h, (uint16_t) (40000 + i), 80, NULL, 0, FALSE);
  pp_harness_run (h, 10000);
  g_assert_cmpuint (h->host.apps->len, ==, 5);
  for (guint i = 0; i < 5; i++)
    pp_harness_app_send (g_ptr_array_index (h->client.apps, i), d->data, d->len, TRUE);
  for (guint i = 0; i < 100; i++)
    pp_harness_deliver_one (h);
  for (guint i = 0; i < 5; i++)
    g_assert_false (((PpHarnessApp *) g_ptr_array_index (h->client.apps, i))->eof);
  ender = from_host ? &h->host : &h->client;
  receiver = from_host ? &h->client : &h->host;
  pp_mux_goaway (ender->mux, PP_GOAWAY_NORMAL, "quit");
  pp_harness_run (h, 1000000);
  g_assert_true (receiver->goaway);
  g_assert_cmpuint (receiver->end_reason, ==, PP_GOAWAY_NORMAL);
  g_assert_cmpstr (receiver->end_detail, ==, "quit");
  for (guint s = 0; s < 2; s++)
    {
      PpHarnessSide *side = s == 0 ? &h->client : &h->host;

      g_assert_true (pp_mux_is_closed (side->mux));
      g_assert_cmpuint (side->mux->stats.sockets, ==, 0);
      g_assert_cmpuint (side->mux->stats.rx_queued, ==, 0);
      g_assert_cmpuint (side->mux->stats.tx_queued, ==, 0);
      for (guint i = 0; i < side->apps->len; i++)
        {
          PpHarnessApp *app = g_ptr_array_index (side->apps, i);

          g_assert_true (app->reset);
          g_assert_false (app->eof);
          g_assert_cmpuint (app->reset_reason, ==, PP_CLOSE_SESSION_ENDED);
          g_assert_cmpuint (app->rx->len, <, d->len);
        }
    }
  assert_no_violations_but_goaway (h);
  pp_harness_free (h);
}

static void
test_session_goaway_mid_transfer (void)
{
  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    {
      run_goaway_mid_transfer (TRUE, orders[o]);
      run_goaway_mid_transfer (FALSE, orders[o]);
    }
}

/* The host caps CONNECTs in flight (256 by default): the ones beyond get
 * CLOSE(7) without reaching the app, the others connect once accepted. */
static void
test_scenario_connect_cap (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_RANDOM, 15);
  guint refused = 0;

  h->policy = PP_HARNESS_DEFER;
  h->host_echo = TRUE;
  pp_harness_connect (h);
  for (guint i = 0; i < 300; i++)
    pp_harness_open (h, (uint16_t) (20000 + i), 80, (const uint8_t *) "ping", 4, TRUE);
  pp_harness_run (h, 100000);
  g_assert_cmpuint (h->host.apps->len, ==, 256);
  g_assert_cmpuint (h->host.mux->stats.connecting, ==, 256);
  for (guint i = 0; i < 300; i++)
    {
      PpHarnessApp *c = g_ptr_array_index (h->client.apps, i);

      if (!c->reset)
        continue;
      g_assert_cmpuint (c->reset_reason, ==, PP_CLOSE_TOO_MANY);
      refused++;
    }
  g_assert_cmpuint (refused, ==, 44);
  for (guint i = 0; i < 256; i++)
    pp_mux_conn_accept (pp_harness_host_app (h, i)->conn);
  pp_harness_run (h, 100000);
  for (guint i = 0; i < 300; i++)
    {
      PpHarnessApp *c = g_ptr_array_index (h->client.apps, i);

      if (!c->reset)
        g_assert_cmpmem (c->rx->data, c->rx->len, "ping", 4);
      g_assert_true (c->reset || (c->eof && c->detached));
    }
  g_assert_cmpuint (h->host.mux->stats.connecting, ==, 0);
  assert_no_violations (h);
  assert_all_released (h);
  pp_harness_assert_quiescent (h);
  assert_echo_works (h, 30000, 1000, 15);
  pp_harness_free (h);
}

/* ------------------------------------------------------------ campaign */

/* The model's randomised campaign, against the real mux: per seed, small
 * windows, a tuple cap of 1–6 or none, one to three src ports, and a dozen
 * connections whose apps write in 1-byte or larger sends, read slowly or
 * not, reset at either end, or are refused.  Whatever happens, every app
 * ends, nothing is spliced or truncated-yet-complete, and the session
 * balances. */
typedef struct
{
  GRand *r;
  guint32 seed;
  uint32_t window;
  GHashTable *host_by_tuple;   /* PpTuple → GQueue of PpHarnessApp, in CONNECT order */
  guint next_stream;
  uint8_t refused[4096];       /* host app index → refusal reason, or 0 */
} Campaign;

/* Up to 3 windows, and at most 6000 bytes (1-byte sends cost a message each). */
static size_t
campaign_length (Campaign *k)
{
  return (size_t) g_rand_int_range (k->r, 0, (gint32) MIN (3 * k->window, 6000));
}

static PpHarnessPolicy
campaign_host_cb (PpHarness *h, PpHarnessApp *app, gpointer user_data)
{
  Campaign *k = user_data;
  const PpTuple *t = pp_mux_conn_get_tuple (app->conn);
  GQueue *q = g_hash_table_lookup (k->host_by_tuple, t);
  guint roll = (guint) g_rand_int_range (k->r, 0, 100);
  static const uint8_t reasons[] = { PP_CLOSE_REFUSED, PP_CLOSE_CONNECT_FAILED,
                                     PP_CLOSE_NAME_NOT_RESOLVED };

  if (q == NULL)
    {
      q = g_queue_new ();
      g_hash_table_insert (k->host_by_tuple, g_memdup2 (t, sizeof *t), q);
    }
  g_queue_push_tail (q, app);
  app->read_limit = g_rand_int_range (k->r, 0, 4) == 0 ? 37 : 0;
  app->write_chunk = g_rand_boolean (k->r) ? 1 : 0;
  if (roll < 10)
    {
      h->refuse_reason = reasons[g_rand_int_range (k->r, 0, 3)];
      g_assert_cmpuint (app->index, <, sizeof k->refused);
      k->refused[app->index] = h->refuse_reason;
      return PP_HARNESS_REFUSE;
    }
  if (roll < 60)
    app->echo = TRUE;
  else
    {
      g_autoptr (GByteArray) d = pattern (campaign_length (k), k->seed * 7919u + k->next_stream++);
      g_byte_array_append (app->tx, d->data, d->len);
      app->shutdown_when_sent = TRUE;
    }
  if (roll >= 85)
    app->reset_after = (size_t) g_rand_int_range (k->r, 1, 2000);
  return PP_HARNESS_ACCEPT;
}

/* Runs until neither deliveries nor slow readers make progress. */
static void
settle (PpHarness *h)
{
  for (;;)
    {
      guint64 before = h->delivered, read = 0, read_after = 0;
      PpHarnessSide *sides[] = { &h->client, &h->host };

      for (guint s = 0; s < 2; s++)
        for (guint i = 0; i < sides[s]->apps->len; i++)
          read += ((PpHarnessApp *) g_ptr_array_index (sides[s]->apps, i))->rx_count;
      pp_harness_run (h, 10000000);
      pp_harness_pump_apps (h);
      for (guint s = 0; s < 2; s++)
        for (guint i = 0; i < sides[s]->apps->len; i++)
          read_after += ((PpHarnessApp *) g_ptr_array_index (sides[s]->apps, i))->rx_count;
      if (h->delivered == before && read == read_after && h->client.out->len == 0
          && h->host.out->len == 0 && h->held == NULL)
        return;
    }
}

static gboolean
is_prefix (GByteArray *got, GByteArray *of)
{
  /* memcmp must not see the NULL data of an empty array, even for 0 bytes. */
  return got->len == 0 || (got->len <= of->len && memcmp (got->data, of->data, got->len) == 0);
}

static void
campaign_check_pair (Campaign *k, PpHarnessApp *c, PpHarnessApp *s)
{
  /* Nothing spliced, nothing corrupted: each read a prefix of what the
   * other side's app wrote (echo apps write what they read). */
  g_assert_true (is_prefix (c->rx, s->tx));
  g_assert_true (is_prefix (s->rx, c->tx));
  /* EOF only after everything: an abnormal end never looks complete. */
  if (c->eof)
    g_assert_cmpuint (c->rx->len, ==, s->tx->len);
  if (s->eof)
    g_assert_cmpuint (s->rx->len, ==, c->tx->len);
  if (k->refused[s->index] != 0)
    {
      g_assert_true (c->reset || c->aborted);
      if (c->reset)
        g_assert_cmpuint (c->reset_reason, ==, k->refused[s->index]);
      g_assert_cmpuint (s->rx->len, ==, 0);
    }
  g_assert_true (s->reset || s->aborted || s->detached);
}

static void
run_campaign (guint32 seed)
{
  Campaign k = { 0 };
  PpMuxConfig ccfg, hcfg;
  PpHarness *h;
  /* Small windows bind credit; 256 KiB lets 1-byte sends reach the U limits. */
  static const uint32_t windows[] = { 4096, 8192, 16384, 262144 };
  static const uint32_t caps_tuples[] = { 1, 2, 3, 6, 65536 };
  static const uint32_t credit_every[] = { 2, 8, 256 };
  g_autoptr (GHashTable) client_seq = g_hash_table_new_full ((GHashFunc) pp_tuple_hash,
                                                             (GEqualFunc) pp_tuple_equal,
                                                             g_free, NULL);
  guint n_conns, n_ports;

  k.r = g_rand_new_with_seed (seed);
  k.seed = seed;
  k.window = windows[g_rand_int_range (k.r, 0, 4)];
  k.host_by_tuple = g_hash_table_new_full ((GHashFunc) pp_tuple_hash,
                                           (GEqualFunc) pp_tuple_equal, g_free,
                                           (GDestroyNotify) g_queue_free);
  config_windows (&ccfg, k.window);
  config_windows (&hcfg, k.window * (guint) g_rand_int_range (k.r, 1, 3));
  ccfg.session_window = k.window * (guint) g_rand_int_range (k.r, 8, 17);
  ccfg.max_tuples = caps_tuples[g_rand_int_range (k.r, 0, 5)];
  ccfg.credit_messages = credit_every[g_rand_int_range (k.r, 0, 3)];
  hcfg.credit_messages = credit_every[g_rand_int_range (k.r, 0, 3)];
  if (g_rand_boolean (k.r))
    ccfg.caps = 0;
  h = pp_harness_new (&ccfg, &hcfg, orders[g_rand_int_range (k.r, 0, 4)], seed);
  h->window = (guint) g_rand_int_range (k.r, 2, 65);
  h->host_app_cb = campaign_host_cb;
  h->host_app_data = &k;
  pp_harness_connect (h);

  n_conns = (guint) g_rand_int_range (k.r, 1, 25);
  n_ports = (guint) g_rand_int_range (k.r, 1, 4);
  for (guint i = 0; i < n_conns; i++)
    {
      g_autoptr (GByteArray) d = pattern (campaign_length (&k), seed * 104729u + i);
      uint16_t dst = g_rand_boolean (k.r) ? 80 : 443;
      uint16_t src = (uint16_t) (40000 + g_rand_int_range (k.r, 0, (gint32) n_ports));
      PpHarnessApp *c = pp_harness_open (h, src, dst, NULL, 0, FALSE);
      guint steps = (guint) g_rand_int_range (k.r, 0, 60);

      if (c->conn == NULL)
        {
          /* Only at the tuple cap. */
          g_assert_cmpuint (h->client.mux->stats.tuples, >=, MIN (ccfg.max_tuples, 6));
          continue;
        }
      {
        const PpTuple *t = pp_mux_conn_get_tuple (c->conn);
        GQueue *q = g_hash_table_lookup (client_seq, t);

        if (q == NULL)
          {
            q = g_queue_new ();
            g_hash_table_insert (client_seq, g_memdup2 (t, sizeof *t), q);
          }
        g_queue_push_tail (q, c);
      }
      c->write_chunk = g_rand_int_range (k.r, 0, 3) == 0 ? 1 : 0;
      c->read_limit = g_rand_int_range (k.r, 0, 4) == 0 ? 53 : 0;
      if (g_rand_int_range (k.r, 0, 7) == 0)
        c->reset_after = (size_t) g_rand_int_range (k.r, 1, 3000);
      pp_harness_app_send (c, d->data, d->len, TRUE);
      if (c->conn != NULL && g_rand_int_range (k.r, 0, 20) == 0)
        {
          c->aborted = TRUE;
          pp_mux_conn_abort (g_steal_pointer (&c->conn), PP_CLOSE_RESET, "campaign abort");
        }
      for (guint s = 0; s < steps; s++)
        {
          pp_harness_pump_apps (h);
          if (!pp_harness_deliver_one (h))
            break;
        }
    }
  settle (h);

  {
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init (&it, client_seq);
    while (g_hash_table_iter_next (&it, &key, &value))
      {
        GQueue *cq = value, *sq = g_hash_table_lookup (k.host_by_tuple, key);

        g_assert_nonnull (sq);
        g_assert_cmpuint (g_queue_get_length (cq), ==, g_queue_get_length (sq));
        for (GList *a = cq->head, *b = sq->head; a != NULL; a = a->next, b = b->next)
          {
            PpHarnessApp *c = a->data;

            /* Every client app ended: reset, aborted, or complete. */
            g_assert_true (c->reset || c->aborted || (c->eof && c->detached));
            campaign_check_pair (&k, c, b->data);
          }
        g_queue_free (cq);
      }
  }
  assert_no_violations (h);
  assert_all_released (h);
  pp_harness_assert_quiescent (h);
  g_hash_table_unref (k.host_by_tuple);
  g_rand_free (k.r);
  pp_harness_free (h);
}

static void
test_scenario_random_campaign (void)
{
  guint32 first = 1, n = 600;
  const char *env = g_getenv ("PP_MUX_CAMPAIGN_SEEDS");  /* "FIRST:COUNT" to explore */

  if (env != NULL)
    sscanf (env, "%u:%u", &first, &n);
  for (guint32 seed = first; seed < first + n; seed++)
    {
      g_test_message ("campaign seed %u", seed);
      run_campaign (seed);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mux/scenario/f1-discard-returns-session-credit",
                   test_f1_discard_returns_session_credit);
  g_test_add_func ("/mux/scenario/f2-close-at-u-1023", test_f2_close_at_u_1023);
  g_test_add_func ("/mux/scenario/f3-one-byte-both-ways", test_f3_one_byte_both_ways);
  g_test_add_func ("/mux/scenario/f4-tuple-reuse-after-reset", test_f4_tuple_reuse_after_reset);
  g_test_add_func ("/mux/scenario/f5-f7-small-windows-odd-writes",
                   test_f5_f7_small_windows_odd_writes);
  g_test_add_func ("/mux/scenario/f6-credit-only-upstream", test_f6_credit_only_upstream);
  g_test_add_func ("/mux/scenario/f8-session-packets-overtake-hello",
                   test_f8_session_packets_overtake_hello);
  g_test_add_func ("/mux/scenario/reuse-same-port", test_scenario_reuse_same_port);
  g_test_add_func ("/mux/scenario/data-fin-before-connect", test_scenario_data_fin_before_connect);
  g_test_add_func ("/mux/scale/200k-one-byte-random", test_scale_200k_one_byte_random);
  g_test_add_func ("/mux/scale/10k-gapped-sockets", test_scale_10k_gapped_sockets);
  for (guint i = 0; i < G_N_ELEMENTS (hostile_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/mux/hostile/%s", hostile_cases[i].name);
      g_test_add_data_func (path, &hostile_cases[i], test_hostile_packet);
    }
  for (guint i = 0; i < G_N_ELEMENTS (hello_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/mux/hostile/hello/%s", hello_cases[i].name);
      g_test_add_data_func (path, &hello_cases[i], test_hostile_hello);
    }
  g_test_add_func ("/mux/hostile/third-violation-ends-session", test_hostile_third_violation);
  g_test_add_func ("/mux/hostile/third-violation-unknown-tuples",
                   test_hostile_third_violation_unknown_tuples);
  g_test_add_func ("/mux/scenario/connect-cap", test_scenario_connect_cap);
  g_test_add_func ("/mux/scenario/random-campaign", test_scenario_random_campaign);
  g_test_add_func ("/mux/scenario/pong-rtt", test_session_pong_rtt);
  g_test_add_func ("/mux/scenario/goaway-mid-transfer", test_session_goaway_mid_transfer);
  return g_test_run ();
}
