/* SPDX-License-Identifier: MIT
 *
 * bench-mux: throughput of two muxes joined by the in-memory transport
 * (PpMemTransport in manual mode: no sockets, FIFO delivery), beside a
 * plain memcpy loop measured in the same run.
 * It shows what the protocol logic itself costs per byte and per message:
 * one stream, 100 streams, and 1-byte messages.  Each figure is the median
 * of several runs.  Usage: bench-mux [RUNS] [MIB]
 */
#include "core/pp-mux.h"
#include "transport/pp-mem-transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Side Side;

typedef struct
{
  Side *side;
  PpMuxConn *conn;
  uint64_t to_send;            /* bytes the client app still writes */
  size_t write_size;           /* bytes per send */
  uint64_t received;
} App;

struct Side
{
  PpMux *mux;
  PpTransport *t;
  Side *peer;
  GPtrArray *apps;
};

static uint8_t payload[65536];
static int64_t fake_clock;

static void
transmit_cb (PpMux *mux, GBytes *msg, gpointer user_data)
{
  Side *s = user_data;
  GError *error = NULL;

  if (!pp_transport_send (s->t, msg, &error))
    g_error ("send: %s", error->message);
  g_bytes_unref (msg);
}

static size_t
buffered_cb (PpMux *mux, gpointer user_data)
{
  return pp_transport_get_buffered_amount (((Side *) user_data)->t);
}

static void
message_cb (PpTransport *t, GBytes *msg, gpointer user_data)
{
  pp_mux_receive (((Side *) user_data)->mux, msg);
}

static void
buffered_low_cb (PpTransport *t, gpointer user_data)
{
  pp_mux_flush (((Side *) user_data)->mux);
}

static const PpTransportCallbacks transport_callbacks = {
  NULL, message_cb, buffered_low_cb, NULL,
};

static int64_t
now_cb (PpMux *mux, gpointer user_data)
{
  return fake_clock;
}

static void
session_cb (PpMux *mux, const PpMuxSessionEvent *ev, gpointer user_data)
{
}

static void
app_pump (App *app)
{
  while (app->conn != NULL && app->to_send > 0)
    {
      size_t n = MIN (pp_mux_conn_send_budget (app->conn), app->write_size);

      n = MIN (n, app->to_send);
      if (n == 0)
        return;
      pp_mux_conn_send (app->conn, payload, n);
      app->to_send -= n;
    }
}

static void
app_drain (App *app)
{
  const uint8_t *d;
  size_t n;

  while ((n = pp_mux_conn_peek (app->conn, &d)) > 0)
    {
      app->received += n;
      pp_mux_conn_consume (app->conn, n);
    }
}

static void
conn_request_cb (PpMux *mux, PpMuxConn *conn, gpointer user_data)
{
  Side *s = user_data;
  App *app = g_new0 (App, 1);

  app->side = s;
  app->conn = conn;
  pp_mux_conn_set_user_data (conn, app);
  g_ptr_array_add (s->apps, app);
  pp_mux_conn_accept (conn);
}

static void
conn_event_cb (PpMux *mux, PpMuxConn *conn, PpMuxConnEvent ev, gpointer user_data)
{
  App *app = pp_mux_conn_get_user_data (conn);

  switch (ev)
    {
    case PP_MUX_CONN_EV_READABLE:
      app_drain (app);
      break;
    case PP_MUX_CONN_EV_WRITABLE:
      app_pump (app);
      break;
    case PP_MUX_CONN_EV_CONNECTED:
      break;
    case PP_MUX_CONN_EV_RESET:
      app->conn = NULL;
      break;
    }
}

static const PpMuxCallbacks callbacks = {
  transmit_cb, buffered_cb, now_cb, session_cb, conn_request_cb, conn_event_cb,
};

static gboolean
deliver_all (Side *from)
{
  gboolean any = FALSE;

  while (pp_mem_transport_step (from->t))
    any = TRUE;
  return any;
}

static void
side_init (Side *s, Side *peer, PpMuxRole role, PpTransport *t)
{
  PpMuxConfig cfg;

  pp_mux_config_init (&cfg);
  cfg.max_message_size = pp_transport_get_max_message_size (t);
  memset (s, 0, sizeof *s);
  s->peer = peer;
  s->t = t;
  s->apps = g_ptr_array_new_with_free_func (g_free);
  s->mux = pp_mux_new (role, &cfg, &callbacks, s);
  pp_transport_set_low_water (t, 64 * 1024);
  pp_transport_set_callbacks (t, &transport_callbacks, s);
}

static void
side_clear (Side *s)
{
  pp_transport_close (s->t, "done");
  pp_mux_free (s->mux);
  pp_transport_unref (s->t);
  g_ptr_array_unref (s->apps);
}

/* Sends @bytes from each of @streams client apps to the host; returns
 * seconds and the messages the client sent. */
static double
run_transfer (guint streams, uint64_t bytes, size_t write_size, uint64_t *messages)
{
  Side c, h;
  gint64 t0, t1;
  uint64_t got = 0;
  PpMuxStats st;
  PpMemConfig mc;
  PpTransport *tc, *th;

  pp_mem_config_init (&mc);
  mc.manual = TRUE;
  mc.max_message_size = 65536;
  pp_mem_transport_pair_new (&mc, &tc, &th);
  side_init (&c, &h, PP_MUX_ROLE_CLIENT, tc);
  side_init (&h, &c, PP_MUX_ROLE_HOST, th);
  pp_mem_transport_open (tc);
  pp_mux_start (c.mux);
  while (deliver_all (&c) | deliver_all (&h))
    ;
  for (guint i = 0; i < streams; i++)
    {
      App *app = g_new0 (App, 1);
      PpTuple t = { { 0 } };
      const char *why;

      t.src_addr[15] = t.dst_addr[15] = 1;
      t.src_port = (uint16_t) (20000 + i);
      t.dst_port = 80;
      app->side = &c;
      app->to_send = bytes;
      app->write_size = write_size;
      app->conn = pp_mux_open (c.mux, &t, NULL, app, &why);
      g_assert_nonnull (app->conn);
      g_ptr_array_add (c.apps, app);
    }
  t0 = g_get_monotonic_time ();
  for (;;)
    {
      for (guint i = 0; i < c.apps->len; i++)
        app_pump (g_ptr_array_index (c.apps, i));
      if (!(deliver_all (&c) | deliver_all (&h)))
        break;
    }
  t1 = g_get_monotonic_time ();
  for (guint i = 0; i < h.apps->len; i++)
    got += ((App *) g_ptr_array_index (h.apps, i))->received;
  g_assert_cmpuint (got, ==, bytes * streams);
  pp_mux_get_stats (c.mux, &st);
  *messages = st.messages_out;
  side_clear (&c);
  side_clear (&h);
  return (double) (t1 - t0) / 1e6;
}

static double
run_memcpy (uint64_t bytes)
{
  static uint8_t a[65536], b[65536];
  gint64 t0 = g_get_monotonic_time ();
  volatile uint8_t sink = 0;

  /* One copy per byte, as the mux makes (app bytes into the packet); on
   * the receiving side the app reads straight from the message. */
  for (uint64_t done = 0; done < bytes; done += sizeof a)
    {
      memcpy ((done / sizeof a) % 2 ? a : b, (done / sizeof a) % 2 ? b : a, sizeof a);
      sink ^= a[done % sizeof a];
    }
  (void) sink;
  return (double) (g_get_monotonic_time () - t0) / 1e6;
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

static double
median (double *v, guint n)
{
  qsort (v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int
main (int argc, char **argv)
{
  guint64 runs = 5, mib = 1024;
  uint64_t bytes, msgs = 0;
  double t_one[32], t_many[32], t_tiny[32], t_copy[32];
  uint64_t tiny = 1000000;
  double m_copy, m_one, m_many, m_tiny;

  if ((argc > 1 && !g_ascii_string_to_unsigned (argv[1], 10, 1, 32, &runs, NULL))
      || (argc > 2 && !g_ascii_string_to_unsigned (argv[2], 10, 100, 1 << 20, &mib, NULL)))
    {
      fprintf (stderr, "usage: bench-mux [RUNS 1-32] [MIB >= 100]\n");
      return 64;
    }
  bytes = mib << 20;
  for (guint r = 0; r < (guint) runs; r++)
    {
      t_copy[r] = run_memcpy (bytes);
      t_one[r] = run_transfer (1, bytes, 65536, &msgs);
      t_many[r] = run_transfer (100, bytes / 100, 65536, &msgs);
      t_tiny[r] = run_transfer (1, tiny, 1, &msgs);
    }
  m_copy = median (t_copy, (guint) runs);
  m_one = median (t_one, (guint) runs);
  m_many = median (t_many, (guint) runs);
  m_tiny = median (t_tiny, (guint) runs);
  printf ("bench-mux: %" G_GUINT64_FORMAT " runs, medians; %" G_GUINT64_FORMAT
          " MiB per transfer\n", runs, mib);
  printf ("%-34s %12s %14s\n", "case", "MB/s", "messages/s");
  printf ("%-34s %12.0f %14s\n", "memcpy, 64 KiB blocks (baseline)", bytes / 1e6 / m_copy, "-");
  printf ("%-34s %12.0f %14.0f\n", "mux, 1 stream, 64 KiB writes", bytes / 1e6 / m_one,
          (bytes / 65490.0) / m_one);
  printf ("%-34s %12.0f %14.0f\n", "mux, 100 streams, 64 KiB writes", bytes / 1e6 / m_many,
          (bytes / 65490.0) / m_many);
  printf ("%-34s %12.2f %14.0f\n", "mux, 1 stream, 1-byte writes", tiny / 1e6 / m_tiny,
          tiny / m_tiny);
  printf ("ratio mux(1 stream) / memcpy: %.2f\n", m_copy / m_one);
  return 0;
}
