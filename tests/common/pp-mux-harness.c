/* SPDX-License-Identifier: MIT
 *
 * pp-mux-harness: see the header.  Delivery is single-threaded and fully
 * determined by the seed, so a failing schedule replays exactly.
 */
#include "pp-mux-harness.h"

#include <string.h>

static PpHarnessSide *
peer_of (PpHarnessSide *side)
{
  return side == &side->h->client ? &side->h->host : &side->h->client;
}

static void
app_free (gpointer data)
{
  PpHarnessApp *app = data;

  g_byte_array_unref (app->rx);
  g_byte_array_unref (app->tx);
  g_free (app->reset_detail);
  g_free (app);
}

static PpHarnessApp *
app_new (PpHarnessSide *side, PpMuxConn *conn)
{
  PpHarnessApp *app = g_new0 (PpHarnessApp, 1);

  app->side = side;
  app->conn = conn;
  app->rx = g_byte_array_new ();
  app->tx = g_byte_array_new ();
  app->index = side->apps->len;
  g_ptr_array_add (side->apps, app);
  return app;
}

static void
app_maybe_detach (PpHarnessApp *app)
{
  if (app->conn == NULL || !app->shut || !app->eof || app->detached)
    return;
  app->detached = TRUE;
  pp_mux_conn_detach (g_steal_pointer (&app->conn));
}

static gboolean
app_can_read (PpHarnessApp *app)
{
  if (app->conn == NULL || app->read_limit == G_MAXSIZE)
    return FALSE;
  /* A host app exists only once its connect succeeded. */
  return app->side->role == PP_MUX_ROLE_CLIENT || app->conn->established;
}

static void app_write (PpHarnessApp *app);

static void
app_take (PpHarnessApp *app, const uint8_t *d, size_t n)
{
  if (app->verify)
    {
      for (size_t i = 0; i < n && app->rx_bad == 0; i++)
        if (d[i] != pp_harness_stream_byte (app->verify_seed, app->rx_count + i))
          app->rx_bad = app->rx_count + i + 1;
    }
  else
    g_byte_array_append (app->rx, d, (guint) n);
  app->rx_count += n;
  if (app->echo)
    g_byte_array_append (app->tx, d, (guint) n);
}

static void
app_read (PpHarnessApp *app)
{
  size_t left = app->read_limit == 0 ? G_MAXSIZE : app->read_limit;

  while (app_can_read (app) && left > 0)
    {
      const uint8_t *d;
      size_t n = pp_mux_conn_peek (app->conn, &d);

      if (n == 0)
        break;
      n = MIN (n, left);
      app_take (app, d, n);
      left -= n;
      pp_mux_conn_consume (app->conn, n);
    }
  if (app->reset_after > 0 && app->rx_count >= app->reset_after && app->conn != NULL)
    {
      app->aborted = TRUE;
      pp_mux_conn_abort (g_steal_pointer (&app->conn), PP_CLOSE_RESET, "harness reset");
      return;
    }
  if (app_can_read (app) && !app->eof && pp_mux_conn_at_eof (app->conn))
    {
      app->eof = TRUE;
      if (app->echo)
        app->shutdown_when_sent = TRUE;
    }
  app_write (app);
}

static size_t
app_pending (PpHarnessApp *app)
{
  return (size_t) MIN ((uint64_t) G_MAXSIZE / 2, app->tx->len - app->tx_off + app->gen_left);
}

/* Sends @n bytes: from tx first, then from the generated stream. */
static void
app_send_some (PpHarnessApp *app, size_t n)
{
  size_t from_tx = MIN (n, app->tx->len - app->tx_off);

  if (from_tx > 0)
    {
      pp_mux_conn_send (app->conn, app->tx->data + app->tx_off, from_tx);
      app->tx_off += from_tx;
      return;
    }
  {
    uint8_t buf[PP_MAX_PAYLOAD];

    n = MIN (n, sizeof buf);
    for (size_t i = 0; i < n; i++)
      buf[i] = pp_harness_stream_byte (app->gen_seed, app->gen_off + i);
    pp_mux_conn_send (app->conn, buf, n);
    app->gen_off += n;
    app->gen_left -= n;
  }
}

static void
app_write (PpHarnessApp *app)
{
  while (app->conn != NULL && app_pending (app) > 0 && app_can_read (app))
    {
      size_t budget = pp_mux_conn_send_budget (app->conn);
      size_t n = MIN (budget, app_pending (app));

      if (app->n_write_sizes > 0)
        n = MIN (n, app->write_sizes[app->write_pos % app->n_write_sizes]);
      else if (app->write_chunk > 0)
        n = MIN (n, app->write_chunk);
      if (app->tx_off < app->tx->len)
        n = MIN (n, app->tx->len - app->tx_off);
      if (n == 0)
        return;
      app->write_pos++;
      app_send_some (app, n);
    }
  if (app->conn != NULL && app_pending (app) == 0 && app->shutdown_when_sent
      && !app->shut && app_can_read (app))
    {
      app->shut = TRUE;
      pp_mux_conn_shutdown (app->conn);
    }
  app_maybe_detach (app);
}

/* ------------------------------------------------------------ callbacks */

/* Counts what a side transmits, packet by packet. */
static void
tap (PpHarnessSide *side, GBytes *msg)
{
  size_t len, off = 0;
  const uint8_t *data = g_bytes_get_data (msg, &len);
  PpPacket p;
  const char *why;

  while (off < len && pp_message_next (data, len, &off, TRUE, &p, &why) == PP_CODEC_OK)
    {
      side->sent_events[p.event]++;
      if (!pp_tuple_is_zero (&p.tuple) && p.chunk_id == 0xffff)
        side->wraps++;
      if (p.event == PP_EV_CLOSE && p.payload_size > 0)
        side->last_close_reason = p.payload[0];
      if (p.event == PP_EV_GOAWAY && p.payload_size > 0)
        side->last_goaway_reason = p.payload[0];
    }
}

static void
transmit_cb (PpMux *mux, GBytes *msg, gpointer user_data)
{
  PpHarnessSide *side = user_data;

  tap (side, msg);
  side->buffered += (int64_t) g_bytes_get_size (msg);
  side->sent_count++;
  g_ptr_array_add (side->out, msg);
}

static size_t
buffered_amount_cb (PpMux *mux, gpointer user_data)
{
  PpHarnessSide *side = user_data;

  return (size_t) side->buffered;
}

static int64_t
now_cb (PpMux *mux, gpointer user_data)
{
  PpHarnessSide *side = user_data;

  return side->h->clock;
}

static void
session_cb (PpMux *mux, const PpMuxSessionEvent *ev, gpointer user_data)
{
  PpHarnessSide *side = user_data;

  switch (ev->type)
    {
    case PP_MUX_SESSION_READY:
      side->ready = TRUE;
      break;
    case PP_MUX_SESSION_GOAWAY:
      side->goaway = TRUE;
      side->end_reason = ev->reason;
      g_free (side->end_detail);
      side->end_detail = g_strdup (ev->detail);
      break;
    case PP_MUX_SESSION_FAILED:
      side->failed = TRUE;
      side->end_reason = ev->reason;
      g_free (side->end_detail);
      side->end_detail = g_strdup (ev->detail);
      break;
    case PP_MUX_SESSION_PONG:
      side->last_rtt = ev->rtt_us;
      break;
    }
}

static void
conn_request_cb (PpMux *mux, PpMuxConn *conn, gpointer user_data)
{
  PpHarnessSide *side = user_data;
  PpHarness *h = side->h;
  PpHarnessApp *app = app_new (side, conn);

  pp_mux_conn_set_user_data (conn, app);
  app->echo = h->host_echo;
  app->read_limit = h->host_read_limit;
  app->write_chunk = h->host_write_chunk;
  app->reset_after = h->host_reset_after;
  app->write_sizes = h->host_write_sizes;
  app->n_write_sizes = h->host_n_write_sizes;
  switch (h->host_app_cb != NULL ? h->host_app_cb (h, app, h->host_app_data) : h->policy)
    {
    case PP_HARNESS_ACCEPT:
      pp_mux_conn_accept (conn);
      break;
    case PP_HARNESS_REFUSE:
      app->conn = NULL;
      app->detached = TRUE;
      pp_mux_conn_abort (conn, h->refuse_reason, "refused by the harness");
      break;
    case PP_HARNESS_DEFER:
      break;
    }
}

static void
conn_event_cb (PpMux *mux, PpMuxConn *conn, PpMuxConnEvent ev, gpointer user_data)
{
  PpHarnessApp *app = pp_mux_conn_get_user_data (conn);

  g_assert_nonnull (app);
  switch (ev)
    {
    case PP_MUX_CONN_EV_CONNECTED:
      app->connected = TRUE;
      break;
    case PP_MUX_CONN_EV_READABLE:
      app_read (app);
      break;
    case PP_MUX_CONN_EV_WRITABLE:
      app_write (app);
      break;
    case PP_MUX_CONN_EV_RESET:
      g_assert_false (app->reset);
      app->reset = TRUE;
      app->reset_reason = pp_mux_conn_get_close_reason (conn);
      app->reset_detail = g_strdup (pp_mux_conn_get_close_detail (conn));
      app->conn = NULL;
      break;
    }
}

static const PpMuxCallbacks harness_callbacks = {
  transmit_cb, buffered_amount_cb, now_cb, session_cb, conn_request_cb, conn_event_cb,
};

/* ------------------------------------------------------------- harness */

static void
side_init (PpHarness *h, PpHarnessSide *side, PpMuxRole role, const PpMuxConfig *cfg)
{
  PpMuxConfig def;

  if (cfg == NULL)
    {
      pp_mux_config_init (&def);
      cfg = &def;
    }
  side->h = h;
  side->role = role;
  side->out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  side->apps = g_ptr_array_new_with_free_func (app_free);
  side->last_rtt = -1;
  side->mux = pp_mux_new (role, cfg, &harness_callbacks, side);
}

static void
side_clear (PpHarnessSide *side)
{
  pp_mux_free (side->mux);
  g_ptr_array_unref (side->out);
  g_ptr_array_unref (side->apps);
  g_clear_pointer (&side->record, g_ptr_array_unref);
  g_free (side->end_detail);
}

PpHarness *
pp_harness_new (const PpMuxConfig *client_cfg, const PpMuxConfig *host_cfg,
                PpHarnessOrder order, guint32 seed)
{
  PpHarness *h = g_new0 (PpHarness, 1);

  h->rand = g_rand_new_with_seed (seed);
  h->order = order;
  h->window = 8;
  h->hold_every = 5;
  h->hold_for = 50;
  h->clock = 1000000;
  side_init (h, &h->client, PP_MUX_ROLE_CLIENT, client_cfg);
  side_init (h, &h->host, PP_MUX_ROLE_HOST, host_cfg);
  return h;
}

void
pp_harness_free (PpHarness *h)
{
  side_clear (&h->client);
  side_clear (&h->host);
  g_clear_pointer (&h->held, g_bytes_unref);
  g_rand_free (h->rand);
  g_free (h);
}

void
pp_harness_connect (PpHarness *h)
{
  pp_mux_start (h->client.mux);
  pp_mux_start (h->host.mux);
  pp_harness_run (h, 1000);
  g_assert_true (h->client.ready);
  g_assert_true (h->host.ready);
}

static guint
pick_index (PpHarness *h, GPtrArray *q)
{
  guint w = h->window == 0 ? q->len : MIN (h->window, q->len);

  switch (h->order)
    {
    case PP_HARNESS_FIFO:
    case PP_HARNESS_HOLD:
      return 0;
    case PP_HARNESS_RANDOM:
      return (guint) g_rand_int_range (h->rand, 0, (gint32) w);
    case PP_HARNESS_REVERSE:
      return w - 1;
    }
  return 0;
}

static void
deliver (PpHarness *h, PpHarnessSide *to, GBytes *msg)
{
  PpHarnessSide *from = peer_of (to);

  from->buffered -= (int64_t) g_bytes_get_size (msg);
  h->delivered++;
  if (to->record != NULL)
    g_ptr_array_add (to->record, g_bytes_ref (msg));
  pp_mux_receive (to->mux, msg);
  g_bytes_unref (msg);
  if (from->buffered < (int64_t) from->mux->cfg.high_water / 2)
    pp_mux_flush (from->mux);
}

gboolean
pp_harness_deliver_one (PpHarness *h)
{
  PpHarnessSide *from;
  GBytes *msg;
  guint i;
  gboolean c = h->client.out->len > 0 && !h->client.paused;
  gboolean s = h->host.out->len > 0 && !h->host.paused;
  gboolean held_ok = h->held != NULL && !peer_of (h->held_to)->paused;

  if (!c && !s)
    {
      if (!held_ok)
        return FALSE;
      msg = g_steal_pointer (&h->held);
      deliver (h, h->held_to, msg);
      return TRUE;
    }
  if (held_ok && h->held_left-- == 0)
    {
      msg = g_steal_pointer (&h->held);
      deliver (h, h->held_to, msg);
      return TRUE;
    }
  from = c && s ? (g_rand_boolean (h->rand) ? &h->client : &h->host)
                : (c ? &h->client : &h->host);
  i = pick_index (h, from->out);
  msg = g_ptr_array_steal_index (from->out, i);
  if (h->order == PP_HARNESS_HOLD && h->held == NULL
      && (h->delivered % h->hold_every) == h->hold_every - 1)
    {
      h->held = msg;
      h->held_to = peer_of (from);
      h->held_left = h->hold_for;
      return TRUE;
    }
  deliver (h, peer_of (from), msg);
  return TRUE;
}

void
pp_harness_pump_apps (PpHarness *h)
{
  PpHarnessSide *sides[] = { &h->client, &h->host };

  for (guint s = 0; s < 2; s++)
    for (guint i = 0; i < sides[s]->apps->len; i++)
      {
        PpHarnessApp *app = g_ptr_array_index (sides[s]->apps, i);
        app_read (app);
      }
}

static gboolean
deliverable (PpHarness *h)
{
  return (h->client.out->len > 0 && !h->client.paused)
         || (h->host.out->len > 0 && !h->host.paused)
         || (h->held != NULL && !peer_of (h->held_to)->paused);
}

guint64
pp_harness_run (PpHarness *h, guint64 max_steps)
{
  guint64 steps = 0;

  for (;;)
    {
      if (!h->event_driven)
        pp_harness_pump_apps (h);
      if (!pp_harness_deliver_one (h))
        {
          pp_harness_pump_apps (h);
          if (!deliverable (h))
            break;
          continue;
        }
      steps++;
      if (steps > max_steps)
        g_error ("harness: no quiescence after %" G_GUINT64_FORMAT " deliveries", steps);
    }
  return steps;
}

void
pp_harness_tuple (PpTuple *t, uint16_t src_port, uint16_t dst_port)
{
  memset (t, 0, sizeof *t);
  t->src_addr[10] = t->src_addr[11] = 0xff;
  t->src_addr[12] = 127;
  t->src_addr[15] = 1;
  memcpy (t->dst_addr, t->src_addr, 16);
  t->src_port = src_port;
  t->dst_port = dst_port;
}

PpHarnessApp *
pp_harness_open (PpHarness *h, uint16_t src_port, uint16_t dst_port, const uint8_t *tx,
                 size_t tx_len, gboolean fin)
{
  PpHarnessApp *app = app_new (&h->client, NULL);
  const char *why = NULL;
  PpTuple t;

  pp_harness_tuple (&t, src_port, dst_port);
  app->conn = pp_mux_open (h->client.mux, &t, NULL, app, &why);
  if (app->conn == NULL)
    {
      app->reset = TRUE;
      app->reset_detail = g_strdup (why);
      return app;
    }
  pp_harness_app_send (app, tx, tx_len, fin);
  return app;
}

void
pp_harness_app_send (PpHarnessApp *app, const uint8_t *data, size_t len, gboolean fin)
{
  if (len > 0)
    g_byte_array_append (app->tx, data, (guint) len);
  app->shutdown_when_sent |= fin;
  app_write (app);
}

PpHarnessApp *
pp_harness_host_app (PpHarness *h, guint n)
{
  g_assert_cmpuint (n, <, h->host.apps->len);
  return g_ptr_array_index (h->host.apps, n);
}

void
pp_harness_inject (PpHarness *h, PpHarnessSide *to, const uint8_t *msg, size_t len)
{
  g_autoptr (GBytes) b = g_bytes_new (msg, len);

  if (to->record != NULL)
    g_ptr_array_add (to->record, g_bytes_ref (b));
  pp_mux_receive (to->mux, b);
}

void
pp_harness_advance (PpHarness *h, int64_t us)
{
  h->clock += us;
  pp_mux_handle_timeout (h->client.mux);
  pp_mux_handle_timeout (h->host.mux);
}

static void
assert_session_conserved (PpHarnessSide *sender, PpHarnessSide *receiver)
{
  PpMux *s = sender->mux, *r = receiver->mux;

  if (s->closed || r->closed || r->stats.rx_queued > 0)
    return;
  g_assert_cmpint (s->sess_tx_allow + (int64_t) r->sess_rx_freed, ==,
                   (int64_t) r->cfg.session_window);
}

void
pp_harness_assert_quiescent (PpHarness *h)
{
  GHashTableIter it;
  gpointer value;

  g_assert_cmpuint (h->client.out->len + h->host.out->len, ==, 0);
  assert_session_conserved (&h->client, &h->host);
  assert_session_conserved (&h->host, &h->client);
  g_assert_cmpuint (h->client.mux->stats.pending_messages, ==, 0);
  g_assert_cmpuint (h->host.mux->stats.pending_messages, ==, 0);

  g_hash_table_iter_init (&it, h->client.mux->tuples);
  while (g_hash_table_iter_next (&it, NULL, &value))
    {
      PpTupleState *c = value;
      PpTupleState *s = g_hash_table_lookup (h->host.mux->tuples, &c->key);

      if (c->dead || s == NULL)
        continue;
      g_assert_cmpuint (c->tx_next, ==, s->rx_next);
      g_assert_cmpuint (c->rx_next, ==, s->tx_next);
    }
}

/* ------------------------------------------- additions for the scenarios */

static gboolean
first_packet (GBytes *msg, PpPacket *p)
{
  size_t len, off = 0;
  const uint8_t *data = g_bytes_get_data (msg, &len);
  const char *why;

  return pp_message_next (data, len, &off, TRUE, p, &why) == PP_CODEC_OK;
}

static gboolean
matches (PpHarnessSide *from, GBytes *msg, PpHarnessFilter filter, gpointer user_data)
{
  PpPacket p;

  if (filter == NULL)
    return TRUE;
  if (!first_packet (msg, &p))
    return FALSE;
  return filter (from, &p, user_data);
}

guint
pp_harness_deliver_matching (PpHarness *h, PpHarnessSide *from, PpHarnessFilter filter,
                             gpointer user_data)
{
  guint n = 0;

  for (guint i = 0; i < from->out->len;)
    {
      GBytes *msg = g_ptr_array_index (from->out, i);

      if (!matches (from, msg, filter, user_data))
        {
          i++;
          continue;
        }
      msg = g_ptr_array_steal_index (from->out, i);
      deliver (h, peer_of (from), msg);
      n++;
    }
  return n;
}

guint
pp_harness_drop_matching (PpHarness *h, PpHarnessSide *from, PpHarnessFilter filter,
                          gpointer user_data)
{
  guint n = 0;

  for (guint i = 0; i < from->out->len;)
    {
      GBytes *msg = g_ptr_array_index (from->out, i);

      if (!matches (from, msg, filter, user_data))
        {
          i++;
          continue;
        }
      from->buffered -= (int64_t) g_bytes_get_size (msg);
      g_ptr_array_remove_index (from->out, i);
      n++;
    }
  return n;
}

void
pp_harness_push (PpHarness *h, PpHarnessSide *from, const uint8_t *msg, size_t len)
{
  from->buffered += (int64_t) len;
  g_ptr_array_add (from->out, g_bytes_new (msg, len));
}

/* A cheap hash of (seed, offset): no period an app's write sizes could hit. */
uint8_t
pp_harness_stream_byte (guint32 seed, uint64_t off)
{
  uint64_t x = off * 0x9e3779b97f4a7c15ull + seed;

  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 32;
  return (uint8_t) x;
}

void
pp_harness_app_stream (PpHarnessApp *app, uint64_t len, guint32 seed, gboolean fin)
{
  app->gen_seed = seed;
  app->gen_left += len;
  pp_harness_app_send (app, NULL, 0, fin);
}

void
pp_harness_app_verify (PpHarnessApp *app, guint32 seed)
{
  app->verify = TRUE;
  app->verify_seed = seed;
}

guint
pp_harness_unacked (PpHarnessSide *side, uint16_t src_port, uint16_t dst_port)
{
  PpTuple t;
  PpTupleState *ts;

  pp_harness_tuple (&t, src_port, dst_port);
  ts = g_hash_table_lookup (side->mux->tuples, &t);
  g_assert_nonnull (ts);
  return pp__tuple_unacked (ts);
}
