/* SPDX-License-Identifier: MIT
 *
 * Mux unit tests over the hand-scheduled harness: HELLO, data both ways
 * under every reordering, half-close, credit, timers and session ends.
 * The adversarial scenarios of research/protocol-model.md (F1–F8) and the
 * hostile-packet table live in test-mux-scenarios.c.
 */
#include "pp-mux-harness.h"

#include <string.h>

static const PpHarnessOrder orders[] = {
  PP_HARNESS_FIFO, PP_HARNESS_RANDOM, PP_HARNESS_REVERSE, PP_HARNESS_HOLD,
};

static GByteArray *
pattern (size_t len, guint32 seed)
{
  GByteArray *a = g_byte_array_sized_new ((guint) len);
  GRand *r = g_rand_new_with_seed (seed);

  g_byte_array_set_size (a, (guint) len);
  for (size_t i = 0; i < len; i++)
    a->data[i] = (uint8_t) g_rand_int (r);
  g_rand_free (r);
  return a;
}

static void
assert_bytes (GByteArray *got, GByteArray *want)
{
  g_assert_cmpuint (got->len, ==, want->len);
  g_assert_true (memcmp (got->data, want->data, want->len) == 0);
}

static void
test_hello_ready (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_FIFO, 1);
  const PpHello *peer;

  pp_harness_connect (h);
  peer = pp_mux_get_peer_hello (h->client.mux);
  g_assert_nonnull (peer);
  g_assert_cmpuint (peer->version, ==, 1);
  g_assert_cmpuint (peer->socket_window, ==, 1u << 20);
  g_assert_true (h->client.mux->coalesce_tx);
  g_assert_true (h->host.mux->coalesce_tx);
  pp_harness_free (h);
}

static void
test_hello_refused (void)
{
  PpMuxConfig cfg;
  PpHarness *h;

  pp_mux_config_init (&cfg);
  cfg.socket_window = 1024;  /* below 4 KiB */
  h = pp_harness_new (&cfg, NULL, PP_HARNESS_FIFO, 1);
  pp_mux_start (h->client.mux);
  pp_harness_run (h, 100);
  g_assert_true (h->host.failed);
  g_assert_cmpuint (h->host.end_reason, ==, PP_GOAWAY_INCOMPATIBLE);
  g_assert_true (h->client.goaway);
  g_assert_cmpuint (h->client.end_reason, ==, PP_GOAWAY_INCOMPATIBLE);
  g_assert_false (h->client.ready);
  pp_harness_free (h);
}

static void
test_hello_no_coalesce (void)
{
  PpMuxConfig cfg;
  PpHarness *h;
  g_autoptr (GByteArray) data = pattern (300000, 3);
  PpHarnessApp *c;

  pp_mux_config_init (&cfg);
  cfg.caps = 0;
  h = pp_harness_new (&cfg, NULL, PP_HARNESS_RANDOM, 3);
  h->host_echo = TRUE;
  pp_harness_connect (h);
  g_assert_false (h->host.mux->coalesce_tx);
  c = pp_harness_open (h, 40000, 80, data->data, data->len, TRUE);
  pp_harness_run (h, 100000);
  assert_bytes (c->rx, data);
  g_assert_true (c->eof);
  pp_harness_free (h);
}

/* @n connections, each echoing @len bytes, under @order. */
static void
run_echo (PpHarnessOrder order, guint n, size_t len, guint32 seed)
{
  PpHarness *h = pp_harness_new (NULL, NULL, order, seed);
  g_autoptr (GPtrArray) want = g_ptr_array_new_with_free_func ((GDestroyNotify) g_byte_array_unref);
  g_autoptr (GPtrArray) apps = g_ptr_array_new ();

  h->host_echo = TRUE;
  pp_harness_connect (h);
  for (guint i = 0; i < n; i++)
    {
      GByteArray *d = pattern (len + i, seed + i);
      g_ptr_array_add (want, d);
      g_ptr_array_add (apps,
                       pp_harness_open (h, (uint16_t) (30000 + i), 80, d->data, d->len, TRUE));
    }
  pp_harness_run (h, 10000000);
  for (guint i = 0; i < n; i++)
    {
      PpHarnessApp *c = g_ptr_array_index (apps, i);
      assert_bytes (c->rx, g_ptr_array_index (want, i));
      g_assert_true (c->eof);
      g_assert_false (c->reset);
      g_assert_true (c->detached);
    }
  g_assert_cmpuint (h->client.mux->stats.sockets, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.sockets, ==, 0);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

static void
test_echo_orders (void)
{
  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    for (guint32 seed = 1; seed <= 3; seed++)
      run_echo (orders[o], 10, 100000, seed);
}

static void
test_echo_many_small (void)
{
  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    run_echo (orders[o], 100, 1000, 7);
}

/* The app writes, shuts its write side, and the service answers only
 * after EOF: the answer must arrive, then EOF (original.md §2.3). */
static void
test_half_close (void)
{
  for (guint o = 0; o < G_N_ELEMENTS (orders); o++)
    {
      PpHarness *h = pp_harness_new (NULL, NULL, orders[o], 11);
      PpHarnessApp *c, *s;
      const char *answer = "answer after EOF";

      pp_harness_connect (h);
      c = pp_harness_open (h, 40000, 80, (const uint8_t *) "request", 7, TRUE);
      pp_harness_run (h, 10000);
      s = pp_harness_host_app (h, 0);
      g_assert_cmpuint (s->rx->len, ==, 7);
      g_assert_true (s->eof);
      g_assert_false (c->eof);
      pp_harness_app_send (s, (const uint8_t *) answer, strlen (answer), TRUE);
      pp_harness_run (h, 10000);
      g_assert_cmpuint (c->rx->len, ==, strlen (answer));
      g_assert_true (c->eof);
      g_assert_false (c->reset);
      g_assert_true (c->detached && s->detached);
      pp_harness_assert_quiescent (h);
      pp_harness_free (h);
    }
}

/* Below the default high water (a slow path, pp-tunnel) DATA payloads shrink
 * to an eighth of the mark, 2 KiB at least, so the message that crosses the
 * mark is small; a stream still arrives intact.  At the default, no cap. */
static void
test_small_high_water (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_RANDOM, 12);
  PpHarnessApp *c, *s;
  const uint64_t total = 300000;

  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, NULL, 0, FALSE);
  pp_harness_run (h, 10000);
  s = pp_harness_host_app (h, 0);
  g_assert_cmpuint (pp_mux_conn_send_budget (c->conn), ==, PP_MAX_PAYLOAD);
  pp_mux_set_high_water (h->client.mux, 16 * 1024);
  g_assert_cmpuint (pp_mux_conn_send_budget (c->conn), ==, 2048);
  pp_mux_set_high_water (h->client.mux, 1024);
  g_assert_cmpuint (pp_mux_conn_send_budget (c->conn), ==, 2048);
  pp_mux_set_high_water (h->client.mux, 64 * 1024);
  g_assert_cmpuint (pp_mux_conn_send_budget (c->conn), ==, 8192);
  pp_harness_app_verify (s, 12);
  pp_harness_app_stream (c, total, 12, TRUE);
  pp_harness_run (h, G_MAXUINT64);
  g_assert_cmpuint (s->rx_count, ==, total);
  g_assert_cmpuint (s->rx_bad, ==, 0);
  g_assert_true (s->eof);
  g_assert_cmpuint (h->client.sent_events[PP_EV_DATA], >=, total / 8192);
  pp_harness_free (h);
}

/* DATA and FIN that reach the host before it has connected are kept and
 * applied once it has. */
static void
test_data_before_connected (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_REVERSE, 5);
  g_autoptr (GByteArray) d = pattern (50000, 5);
  PpHarnessApp *c, *s;

  h->policy = PP_HARNESS_DEFER;
  h->host_echo = TRUE;
  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, d->data, d->len, TRUE);
  pp_harness_run (h, 10000);
  s = pp_harness_host_app (h, 0);
  g_assert_cmpuint (s->rx->len, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.rx_queued, ==, d->len);
  g_assert_false (c->connected);
  pp_mux_conn_accept (s->conn);
  pp_harness_run (h, 10000);
  g_assert_true (c->connected);
  assert_bytes (s->rx, d);
  assert_bytes (c->rx, d);
  g_assert_true (c->eof && s->eof);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

static void
test_refused (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_RANDOM, 9);
  g_autoptr (GByteArray) d = pattern (200000, 9);
  PpHarnessApp *c;

  h->policy = PP_HARNESS_REFUSE;
  h->refuse_reason = PP_CLOSE_REFUSED;
  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 22, d->data, d->len, TRUE);
  pp_harness_run (h, 10000);
  g_assert_true (c->reset);
  g_assert_false (c->eof);
  g_assert_cmpuint (c->reset_reason, ==, PP_CLOSE_REFUSED);
  g_assert_cmpuint (c->rx->len, ==, 0);
  g_assert_cmpuint (h->client.mux->stats.sockets, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.sockets, ==, 0);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

/* An abnormal end mid-transfer: the client app sees a reset, never EOF. */
static void
test_abort_mid_transfer (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_RANDOM, 13);
  g_autoptr (GByteArray) d = pattern (4 << 20, 13);
  PpHarnessApp *c, *s;

  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, NULL, 0, FALSE);
  pp_harness_run (h, 1000);
  s = pp_harness_host_app (h, 0);
  pp_harness_app_send (s, d->data, d->len, TRUE);
  for (int i = 0; i < 40; i++)
    pp_harness_deliver_one (h);
  pp_mux_conn_abort (g_steal_pointer (&s->conn), PP_CLOSE_RESET, "service reset");
  pp_harness_run (h, 100000);
  g_assert_true (c->reset);
  g_assert_false (c->eof);
  g_assert_cmpuint (c->reset_reason, ==, PP_CLOSE_RESET);
  g_assert_cmpstr (c->reset_detail, ==, "service reset");
  g_assert_cmpuint (c->rx->len, <, d->len);
  g_assert_cmpuint (h->client.mux->stats.sockets + h->host.mux->stats.sockets, ==, 0);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

static void
test_close_crossing (void)
{
  for (guint32 seed = 1; seed <= 20; seed++)
    {
      PpHarness *h = pp_harness_new (NULL, NULL, orders[seed % 4], seed);
      PpHarnessApp *c, *s;

      pp_harness_connect (h);
      c = pp_harness_open (h, 40000, 80, (const uint8_t *) "x", 1, FALSE);
      pp_harness_run (h, 1000);
      s = pp_harness_host_app (h, 0);
      pp_mux_conn_abort (g_steal_pointer (&c->conn), PP_CLOSE_RESET, "client reset");
      pp_mux_conn_abort (g_steal_pointer (&s->conn), PP_CLOSE_RESET, "host reset");
      pp_harness_run (h, 1000);
      g_assert_cmpuint (h->client.mux->stats.sockets + h->host.mux->stats.sockets, ==, 0);
      g_assert_cmpuint (h->client.mux->stats.violations + h->host.mux->stats.violations, ==, 0);
      pp_harness_assert_quiescent (h);
      pp_harness_free (h);
    }
}

/* The host never connects: after 10 s it sends CLOSE(3). */
static void
test_connect_timeout (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_FIFO, 1);
  PpHarnessApp *c, *s;

  h->policy = PP_HARNESS_DEFER;
  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, (const uint8_t *) "x", 1, FALSE);
  pp_harness_run (h, 1000);
  s = pp_harness_host_app (h, 0);
  g_assert_cmpint (pp_mux_next_deadline (h->host.mux), ==, h->clock + 10 * G_USEC_PER_SEC);
  pp_harness_advance (h, 10 * G_USEC_PER_SEC - 1);
  g_assert_false (s->reset);
  pp_harness_advance (h, 1);
  g_assert_true (s->reset);
  pp_harness_run (h, 1000);
  g_assert_true (c->reset);
  g_assert_cmpuint (c->reset_reason, ==, PP_CLOSE_TIMED_OUT);
  g_assert_cmpuint (h->host.mux->stats.connecting, ==, 0);
  pp_harness_free (h);
}

/* Released after CLOSE(0) with unread data: reset after 30 s, and the
 * session credit the data held comes back. */
static void
test_linger (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_FIFO, 1);
  g_autoptr (GByteArray) d = pattern (100000, 1);
  PpHarnessApp *c, *s;

  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, NULL, 0, TRUE);
  c->read_limit = G_MAXSIZE;  /* never reads */
  pp_harness_run (h, 1000);
  s = pp_harness_host_app (h, 0);
  pp_harness_app_send (s, d->data, d->len, TRUE);
  pp_harness_run (h, 10000);
  g_assert_cmpuint (h->client.mux->stats.sockets, ==, 0);  /* released */
  g_assert_cmpuint (h->client.mux->stats.rx_queued, ==, d->len);
  g_assert_false (c->reset);
  pp_harness_advance (h, 30 * G_USEC_PER_SEC);
  g_assert_true (c->reset);
  g_assert_cmpuint (h->client.mux->stats.rx_queued, ==, 0);
  pp_harness_run (h, 1000);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

static void
test_goaway (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_FIFO, 1);
  PpHarnessApp *c;

  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, (const uint8_t *) "x", 1, FALSE);
  pp_harness_run (h, 1000);
  pp_mux_goaway (h->host.mux, PP_GOAWAY_NORMAL, "quit");
  g_assert_true (pp_harness_host_app (h, 0)->reset);
  pp_harness_run (h, 1000);
  g_assert_true (h->client.goaway);
  g_assert_cmpstr (h->client.end_detail, ==, "quit");
  g_assert_true (c->reset);
  g_assert_cmpuint (c->reset_reason, ==, PP_CLOSE_SESSION_ENDED);
  g_assert_true (pp_mux_is_closed (h->client.mux));
  pp_harness_free (h);
}

static void
test_transport_lost (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_FIFO, 1);
  PpHarnessApp *c;

  pp_harness_connect (h);
  c = pp_harness_open (h, 40000, 80, (const uint8_t *) "x", 1, FALSE);
  pp_harness_run (h, 1000);
  pp_mux_transport_closed (h->client.mux, "no DTLS record for 15 s");
  g_assert_true (c->reset);
  g_assert_cmpuint (c->reset_reason, ==, PP_CLOSE_SESSION_ENDED);
  g_assert_cmpstr (c->reset_detail, ==, "no DTLS record for 15 s");
  g_assert_null (pp_mux_open (h->client.mux, pp_mux_conn_get_tuple (h->host.mux->conns.head->data),
                              NULL, NULL, &(const char *){ NULL }));
  pp_harness_free (h);
}

static void
test_ping (void)
{
  PpHarness *h = pp_harness_new (NULL, NULL, PP_HARNESS_FIFO, 1);

  pp_harness_connect (h);
  pp_mux_ping (h->client.mux);
  h->clock += 1234;
  pp_harness_run (h, 100);
  g_assert_cmpint (h->client.last_rtt, ==, 1234);
  pp_harness_free (h);
}

/* A reader that stops holds at most its window; another socket goes on. */
static void
test_slow_reader (void)
{
  PpMuxConfig cfg;
  PpHarness *h;
  g_autoptr (GByteArray) d = pattern (8 << 20, 2);
  PpHarnessApp *slow, *fast, *s0, *s1;

  pp_mux_config_init (&cfg);
  cfg.socket_window = 64 * 1024;
  cfg.session_window = 1 << 20;
  h = pp_harness_new (&cfg, &cfg, PP_HARNESS_RANDOM, 2);
  pp_harness_connect (h);
  slow = pp_harness_open (h, 40000, 80, NULL, 0, TRUE);
  fast = pp_harness_open (h, 40001, 80, NULL, 0, TRUE);
  slow->read_limit = G_MAXSIZE;
  pp_harness_run (h, 1000);
  s0 = pp_harness_host_app (h, 0);
  s1 = pp_harness_host_app (h, 1);
  pp_harness_app_send (s0, d->data, d->len, TRUE);
  pp_harness_app_send (s1, d->data, d->len, TRUE);
  pp_harness_run (h, 1000000);
  assert_bytes (fast->rx, d);
  g_assert_true (fast->eof);
  g_assert_cmpuint (slow->rx->len, ==, 0);
  /* Held on the client: at most the window (payload + 64 per packet). */
  g_assert_cmpuint (h->client.mux->stats.rx_queued, <=, cfg.socket_window);
  g_assert_cmpuint (h->client.mux->stats.rx_queued, >, cfg.socket_window / 2);
  slow->read_limit = 0;
  pp_harness_run (h, 1000000);
  assert_bytes (slow->rx, d);
  pp_harness_assert_quiescent (h);
  pp_harness_free (h);
}

/* A client that ignores HELLO's max sockets and never answers CLOSE(7)
 * cannot pile up refused connections on the host: the session ends. */
static void
test_unanswered_refusals (void)
{
  PpMuxConfig hcfg;
  PpHarness *h;
  uint8_t msg[PP_HEADER_SIZE];

  pp_mux_config_init (&hcfg);
  hcfg.max_sockets = 2;
  hcfg.max_connecting = 2;
  h = pp_harness_new (NULL, &hcfg, PP_HARNESS_FIFO, 1);
  h->policy = PP_HARNESS_DEFER;
  pp_harness_connect (h);
  for (uint16_t i = 0; i < 5; i++)
    {
      PpPacket p = { 0 };

      pp_harness_tuple (&p.tuple, (uint16_t) (50000 + i), 80);
      p.event = PP_EV_CONNECT;
      p.total_chunks = 1;
      g_assert_cmpuint (pp_packet_encode (&p, msg, sizeof msg), ==, sizeof msg);
      pp_harness_inject (h, &h->host, msg, sizeof msg);
      g_assert_cmpint (h->host.failed, ==, i == 4);
    }
  g_assert_cmpuint (h->host.end_reason, ==, PP_GOAWAY_PROTOCOL);
  g_assert_cmpuint (h->host.mux->stats.sockets, ==, 0);
  pp_harness_free (h);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mux/hello/ready", test_hello_ready);
  g_test_add_func ("/mux/hello/refused-window", test_hello_refused);
  g_test_add_func ("/mux/hello/no-coalescing", test_hello_no_coalesce);
  g_test_add_func ("/mux/small-high-water", test_small_high_water);
  g_test_add_func ("/mux/echo/every-order", test_echo_orders);
  g_test_add_func ("/mux/echo/many-small", test_echo_many_small);
  g_test_add_func ("/mux/stream/half-close", test_half_close);
  g_test_add_func ("/mux/stream/data-before-connected", test_data_before_connected);
  g_test_add_func ("/mux/stream/refused", test_refused);
  g_test_add_func ("/mux/stream/abort-mid-transfer", test_abort_mid_transfer);
  g_test_add_func ("/mux/stream/close-crossing", test_close_crossing);
  g_test_add_func ("/mux/timer/connect-timeout", test_connect_timeout);
  g_test_add_func ("/mux/timer/linger", test_linger);
  g_test_add_func ("/mux/session/goaway", test_goaway);
  g_test_add_func ("/mux/session/transport-lost", test_transport_lost);
  g_test_add_func ("/mux/session/ping", test_ping);
  g_test_add_func ("/mux/credit/slow-reader", test_slow_reader);
  g_test_add_func ("/mux/caps/unanswered-refusals", test_unanswered_refusals);
  return g_test_run ();
}
