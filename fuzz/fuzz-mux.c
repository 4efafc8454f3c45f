/* SPDX-License-Identifier: MIT
 *
 * Fuzz target for the host side of pp-mux: a host that has received a
 * legitimate client HELLO (built here) is fed the input as a series of
 * DataChannel messages, while a fake app accepts (or defers) connections,
 * reads, echoes and half-closes.  It must never crash, wedge or leak, and
 * its counters must stay within the windows it advertised.  It does not
 * judge which answers the host sends: the unit tests do that.
 *
 * Input: byte 0 holds flags (below); then messages, each a big-endian u16
 * length and that many bytes (the last one may be cut short).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/pp-mux-private.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

enum
{
  FLAG_DEFER = 1 << 0,         /* leave CONNECTs pending; accept after each message */
  FLAG_NO_READ = 1 << 1,       /* the apps never read */
  FLAG_ECHO = 1 << 2,          /* the apps send back what they read */
  FLAG_NO_COALESCE = 1 << 3,   /* the host does not advertise coalescing */
  FLAG_CLOCK = 1 << 4,         /* 3 s pass after each message: connect timeouts, linger */
  FLAG_SMALL = 1 << 5,         /* 4 KiB windows, max tuples 8, 4 sockets, 2 connecting */
  FLAG_PING = 1 << 6,          /* the host pings after each message */
  FLAG_GOAWAY = 1 << 7,        /* the host ends the session at the end */
};

#define MAX_MESSAGES 4096

typedef struct
{
  PpMuxConn *conn;             /* NULL once the app is done with it */
  gboolean accepted;
} FuzzApp;

typedef struct
{
  uint8_t flags;
  int64_t clock;
  GPtrArray *apps;             /* FuzzApp, owned; never shrinks */
  guint64 transmitted;
} Fuzz;

static void
transmit_cb (PpMux *mux, GBytes *msg, gpointer user_data)
{
  Fuzz *f = user_data;

  f->transmitted += g_bytes_get_size (msg);
  g_bytes_unref (msg);
}

static size_t
buffered_amount_cb (PpMux *mux, gpointer user_data)
{
  return 0;
}

static int64_t
now_cb (PpMux *mux, gpointer user_data)
{
  return ((Fuzz *) user_data)->clock;
}

static void
session_cb (PpMux *mux, const PpMuxSessionEvent *ev, gpointer user_data)
{
  /* The detail reaches terminals: it must already be printable ASCII. */
  for (const char *p = ev->detail; p != NULL && *p != '\0'; p++)
    g_assert (*p >= 0x20 && *p < 0x7f);
}

static void
conn_request_cb (PpMux *mux, PpMuxConn *conn, gpointer user_data)
{
  Fuzz *f = user_data;
  FuzzApp *app = g_new0 (FuzzApp, 1);

  app->conn = conn;
  g_ptr_array_add (f->apps, app);
  pp_mux_conn_set_user_data (conn, app);
  if (f->flags & FLAG_DEFER)
    return;
  app->accepted = TRUE;
  pp_mux_conn_accept (conn);
}

static void
app_read (Fuzz *f, FuzzApp *app)
{
  const uint8_t *d;
  size_t n;

  while (app->conn != NULL && (n = pp_mux_conn_peek (app->conn, &d)) > 0)
    {
      if (f->flags & FLAG_ECHO)
        {
          size_t budget = pp_mux_conn_send_budget (app->conn);
          if (budget > 0)
            pp_mux_conn_send (app->conn, d, MIN (n, budget));
        }
      pp_mux_conn_consume (app->conn, n);
    }
  if (app->conn != NULL && pp_mux_conn_at_eof (app->conn))
    {
      PpMuxConn *conn = g_steal_pointer (&app->conn);

      pp_mux_conn_shutdown (conn);
      pp_mux_conn_detach (conn);
    }
}

static void
conn_event_cb (PpMux *mux, PpMuxConn *conn, PpMuxConnEvent ev, gpointer user_data)
{
  Fuzz *f = user_data;
  FuzzApp *app = pp_mux_conn_get_user_data (conn);

  g_assert (app != NULL && app->conn == conn);
  switch (ev)
    {
    case PP_MUX_CONN_EV_READABLE:
      if (app->accepted && !(f->flags & FLAG_NO_READ))
        app_read (f, app);
      break;
    case PP_MUX_CONN_EV_WRITABLE:
      break;
    case PP_MUX_CONN_EV_RESET:
      g_assert (pp_mux_conn_get_close_reason (conn) != PP_CLOSE_NORMAL);
      app->conn = NULL;
      break;
    case PP_MUX_CONN_EV_CONNECTED:
      g_assert_not_reached ();  /* host side */
      break;
    }
}

static const PpMuxCallbacks fuzz_callbacks = {
  transmit_cb, buffered_amount_cb, now_cb, session_cb, conn_request_cb, conn_event_cb,
};

static void
send_client_hello (PpMux *mux)
{
  PpHello hello = { 0 };
  PpPacket p = { 0 };
  uint8_t payload[PP_HELLO_MAX_PAYLOAD];
  uint8_t msg[PP_HEADER_SIZE + PP_HELLO_MAX_PAYLOAD];
  GBytes *b;

  hello.version = 1;
  hello.caps = PP_CAPS_SUPPORTED;
  hello.socket_window = 64 * 1024;
  hello.session_window = 1024 * 1024;
  hello.max_tuples = 65536;
  hello.max_sockets = 10000;
  memcpy (hello.name, "fuzz", 4);
  hello.name_len = 4;
  p.event = PP_EV_HELLO;
  p.total_chunks = 1;
  p.payload_size = (uint16_t) pp_hello_encode (&hello, payload, sizeof payload);
  p.payload = payload;
  b = g_bytes_new (msg, pp_packet_encode (&p, msg, sizeof msg));
  pp_mux_receive (mux, b);
  g_bytes_unref (b);
  g_assert (pp_mux_is_ready (mux));
}

/* Bounds that hold whatever the peer sends. */
static void
check_invariants (PpMux *mux)
{
  PpMuxStats st;

  pp_mux_get_stats (mux, &st);
  g_assert (st.rx_queued <= mux->cfg.session_window);
  g_assert (st.sockets <= st.tuples);
  g_assert (st.connecting <= mux->cfg.max_connecting);
  g_assert (st.pending_messages <= PP_MAX_PENDING_MESSAGES);
  g_assert (st.tuples <= mux->cfg.max_tuples);
}

static void
after_message (Fuzz *f, PpMux *mux)
{
  if (f->flags & FLAG_DEFER)
    for (guint i = 0; i < f->apps->len; i++)
      {
        FuzzApp *app = g_ptr_array_index (f->apps, i);

        if (app->conn != NULL && !app->accepted)
          {
            app->accepted = TRUE;
            pp_mux_conn_accept (app->conn);
          }
      }
  if (f->flags & FLAG_CLOCK)
    {
      f->clock += 3 * G_USEC_PER_SEC;
      pp_mux_handle_timeout (mux);
    }
  if (f->flags & FLAG_PING)
    pp_mux_ping (mux);
  check_invariants (mux);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  Fuzz f = { 0 };
  PpMuxConfig cfg;
  PpMux *mux;
  size_t off = 1;

  if (size < 1)
    return 0;
  f.flags = data[0];
  f.clock = G_USEC_PER_SEC;
  f.apps = g_ptr_array_new_with_free_func (g_free);
  pp_mux_config_init (&cfg);
  if (f.flags & FLAG_NO_COALESCE)
    cfg.caps = 0;
  if (f.flags & FLAG_SMALL)
    {
      cfg.socket_window = 4096;
      cfg.session_window = 8 * 4096;
      cfg.max_tuples = 8;
      cfg.max_sockets = 4;
      cfg.max_connecting = 2;
    }
  mux = pp_mux_new (PP_MUX_ROLE_HOST, &cfg, &fuzz_callbacks, &f);
  pp_mux_start (mux);
  send_client_hello (mux);

  for (guint n = 0; off + 2 <= size && n < MAX_MESSAGES && !pp_mux_is_closed (mux); n++)
    {
      size_t len = (size_t) data[off] << 8 | data[off + 1];
      GBytes *msg;

      off += 2;
      len = MIN (len, size - off);
      msg = g_bytes_new (data + off, len);
      off += len;
      pp_mux_receive (mux, msg);
      g_bytes_unref (msg);
      after_message (&f, mux);
    }

  if (f.flags & FLAG_GOAWAY)
    {
      pp_mux_goaway (mux, PP_GOAWAY_NORMAL, "fuzz");
      g_assert (pp_mux_is_closed (mux));
      g_assert (mux->stats.sockets == 0);
    }
  pp_mux_free (mux);
  g_ptr_array_unref (f.apps);
  return 0;
}
