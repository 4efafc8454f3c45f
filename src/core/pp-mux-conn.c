/* SPDX-License-Identifier: MIT
 *
 * pp-mux-conn: one logical connection's life inside the mux
 * (docs/protocol.md §5–§6) — creation, the in-order handlers of CONNECT,
 * CONNECTED, DATA, FIN, CREDIT and CLOSE, the release handshake and
 * tombstones, CLOSE(5), the timers, and the pp_mux_conn_* API the app layer
 * drives.  The session side (HELLO, the receive path, violations) is in
 * pp-mux.c; what leaves, and in which order, in pp-mux-out.c.
 */
#include "core/pp-mux-private.h"

#include <string.h>

static void
set_close_detail (PpMuxConn *conn, uint8_t reason, const uint8_t *detail, size_t len)
{
  if (conn->close_detail != NULL)
    return;  /* the first end is the one reported */
  conn->close_reason = reason;
  conn->close_detail = pp_escape (detail, len);
}

/* Tuple-level rule: CREDIT after W/4 freed or after credit_messages
 * sequenced messages; on a tombstone the debt waits for the next
 * connection on the tuple. */
static void
maybe_owe_credit (PpMux *mux, PpTupleState *ts)
{
  PpMuxConn *conn = ts->conn;
  gboolean owed;

  if (conn == NULL || conn->close_queued || conn->credit_pending)
    return;
  owed = ts->rx_unacked >= mux->cfg.credit_messages
         || conn->rx_freed >= mux->cfg.socket_window / 4;
  if (!owed)
    return;
  conn->credit_pending = TRUE;
  pp__conn_schedule (conn);
}

void
pp__mux_fill_credit (PpMuxConn *conn, uint8_t payload[PP_CREDIT_PAYLOAD])
{
  uint32_t grant = (uint32_t) MIN (conn->rx_freed, G_MAXUINT32);

  conn->rx_granted += grant;
  conn->rx_freed -= grant;
  conn->ts->rx_unacked = 0;
  pp_credit_encode (grant, conn->ts->rx_next, payload);
}

void
pp__mux_wake_starved (PpMux *mux, PpMuxConn *only)
{
  GList *l = only != NULL ? &only->starved_link : mux->starved.head;

  while (l != NULL)
    {
      PpMuxConn *conn = l->data;
      GList *next = only != NULL ? NULL : l->next;

      if (conn->starved && pp_mux_conn_send_budget (conn) > 0)
        {
          conn->starved = FALSE;
          g_queue_unlink (&mux->starved, &conn->starved_link);
          mux->cb.conn_event_cb (mux, conn, PP_MUX_CONN_EV_WRITABLE, mux->user_data);
        }
      l = next;
    }
}

static void
timer_stop (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;

  switch (conn->timer)
    {
    case PP_TIMER_CONNECT:
      g_queue_unlink (&mux->connect_timers, &conn->timer_link);
      break;
    case PP_TIMER_LINGER:
      g_queue_unlink (&mux->linger_timers, &conn->timer_link);
      break;
    case PP_TIMER_NONE:
      break;
    }
  conn->timer = PP_TIMER_NONE;
}

/* Both timeouts have a fixed length, so appending keeps each queue sorted. */
static void
timer_start (PpMuxConn *conn, PpTimerKind kind)
{
  PpMux *mux = conn->mux;

  timer_stop (conn);
  conn->timer = kind;
  if (kind == PP_TIMER_CONNECT)
    {
      conn->deadline = pp__mux_now (mux) + mux->cfg.connect_timeout_us;
      g_queue_push_tail_link (&mux->connect_timers, &conn->timer_link);
    }
  else
    {
      conn->deadline = pp__mux_now (mux) + mux->cfg.linger_us;
      g_queue_push_tail_link (&mux->linger_timers, &conn->timer_link);
    }
}

static PpMuxConn *
conn_new (PpMux *mux, PpTupleState *ts, const char *name, gpointer user_data)
{
  PpMuxConn *conn = g_new0 (PpMuxConn, 1);

  conn->mux = mux;
  conn->ts = ts;
  conn->tuple = ts->key;
  conn->name = g_strdup (name);
  conn->user_data = user_data;
  conn->tx_allow = mux->peer_hello.socket_window;
  conn->sched_link.data = conn;
  conn->timer_link.data = conn;
  conn->starved_link.data = conn;
  conn->all_link.data = conn;
  g_queue_init (&conn->rxq);
  g_queue_push_tail_link (&mux->conns, &conn->all_link);
  ts->conn = conn;
  if (ts->released_link.data != NULL)
    {
      g_queue_unlink (&mux->released, &ts->released_link);
      ts->released_link.data = NULL;
    }
  mux->stats.sockets++;
  return conn;
}

void
pp__conn_free (PpMuxConn *conn)
{
  PpRxItem *item;

  while ((item = g_queue_pop_head (&conn->rxq)) != NULL)
    {
      g_bytes_unref (item->bytes);
      g_free (item);
    }
  pp__out_free_all (conn->outq_head);
  g_free (conn->name);
  g_free (conn->close_detail);
  g_free (conn);
}

/* Frees @conn once the wire and the app are both done with it; the memory
 * goes when the outermost call returns, as callers may still hold it. */
static void
conn_maybe_bury (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;

  if (conn->ts != NULL || !conn->app_gone || conn->buried)
    return;
  conn->buried = TRUE;
  timer_stop (conn);
  pp__conn_unschedule (conn);
  if (conn->starved)
    g_queue_unlink (&mux->starved, &conn->starved_link);
  conn->starved = FALSE;
  g_queue_unlink (&mux->conns, &conn->all_link);
  g_ptr_array_add (mux->graveyard, conn);
}

static void
drop_rxq (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;
  PpRxItem *item;

  while ((item = g_queue_pop_head (&conn->rxq)) != NULL)
    {
      pp__mux_free_units (mux, NULL, item->units);
      g_bytes_unref (item->bytes);
      g_free (item);
    }
  mux->stats.rx_queued -= conn->rx_queued;
  conn->rx_queued = 0;
  conn->rx_off = 0;
}

/* Unsent DATA and FIN never reach the peer: the allowance they took comes
 * back to the session. */
static void
drop_unsent (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;
  PpOut **p = &conn->outq_head;

  conn->outq_tail = NULL;
  while (*p != NULL)
    {
      PpOut *out = *p;

      if (out->event == PP_EV_DATA || out->event == PP_EV_FIN)
        {
          *p = out->next;
          if (out->event == PP_EV_DATA)
            {
              mux->sess_tx_allow += out->units;
              conn->tx_queued -= out->len;
              mux->stats.tx_queued -= out->len;
            }
          g_free (out);
          continue;
        }
      conn->outq_tail = out;
      p = &out->next;
    }
}

static void
connecting_done (PpMuxConn *conn)
{
  if (conn->counted_connecting)
    {
      conn->counted_connecting = FALSE;
      conn->mux->stats.connecting--;
    }
  if (conn->timer == PP_TIMER_CONNECT)
    timer_stop (conn);
}

/* Tells the app to reset its socket; after this the app forgets @conn. */
static void
conn_reset_app (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;

  drop_rxq (conn);
  connecting_done (conn);
  if (conn->app_gone)
    return;
  conn->app_gone = TRUE;
  mux->cb.conn_event_cb (mux, conn, PP_MUX_CONN_EV_RESET, mux->user_data);
  conn_maybe_bury (conn);
}

/* Queues this side's CLOSE, its last message on the tuple. */
static void
queue_close (PpMuxConn *conn, uint8_t reason, const char *detail)
{
  uint8_t payload[1 + PP_CLOSE_MAX_DETAIL];
  size_t len;

  if (conn->close_queued || conn->ts == NULL)
    return;
  set_close_detail (conn, reason, (const uint8_t *) detail, detail ? strlen (detail) : 0);
  conn->close_queued = TRUE;
  conn->credit_pending = FALSE;
  if (reason != PP_CLOSE_NORMAL)
    drop_unsent (conn);
  len = pp_close_encode (reason, detail, payload, sizeof payload);
  pp__conn_push_out (conn, pp__out_new (PP_EV_CLOSE, payload + 1 - 1, len));
}

void
pp__conn_release (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;
  PpTupleState *ts = conn->ts;

  g_assert (ts != NULL);
  pp__conn_unschedule (conn);
  pp__out_free_all (conn->outq_head);
  conn->outq_head = conn->outq_tail = NULL;
  mux->stats.tx_queued -= conn->tx_queued;
  conn->tx_queued = 0;
  connecting_done (conn);
  ts->conn = NULL;
  conn->ts = NULL;
  mux->stats.sockets--;
  if (mux->role == PP_MUX_ROLE_CLIENT && !ts->dead)
    {
      ts->released_link.data = ts;
      g_queue_push_tail_link (&mux->released, &ts->released_link);
    }
  if (!conn->app_gone && conn->close_reason == PP_CLOSE_NORMAL)
    timer_start (conn, PP_TIMER_LINGER);
  conn_maybe_bury (conn);
}

void
pp__conn_sent_fin (PpMuxConn *conn)
{
  conn->fin_sent = TRUE;
  if (conn->fin_received)
    queue_close (conn, PP_CLOSE_NORMAL, NULL);
}

/* CLOSE(5): both sides release at once and the tuple is never used again.
 * It is sent even when the tuple carries no connection (a CONNECT that was
 * refused as malformed), so the peer's app is not left waiting; never in
 * answer to a CLOSE, and never twice. */
void
pp__tuple_kill (PpMux *mux, PpTupleState *ts, gboolean send_close, const char *why)
{
  PpMuxConn *conn = ts->conn;
  uint8_t payload[1 + PP_CLOSE_MAX_DETAIL];
  size_t len;

  ts->dead = TRUE;
  if (ts->released_link.data != NULL)
    {
      g_queue_unlink (&mux->released, &ts->released_link);
      ts->released_link.data = NULL;
    }
  if (ts->reasm != NULL)
    {
      mux->stats.pending_messages -= pp_reasm_count (ts->reasm);
      pp__mux_free_units (mux, NULL, pp_reasm_clear (ts->reasm));
    }
  if (send_close && (conn == NULL || !conn->close_sent))
    {
      len = pp_close_encode (PP_CLOSE_PROTOCOL, why, payload, sizeof payload);
      pp__tuple_send_loose (mux, ts, PP_EV_CLOSE, payload, len);
    }
  if (conn == NULL)
    return;
  set_close_detail (conn, PP_CLOSE_PROTOCOL, (const uint8_t *) why, strlen (why));
  drop_unsent (conn);
  conn->close_queued = conn->close_sent = conn->close_received = TRUE;
  pp__conn_release (conn);
  conn_reset_app (conn);
}

void
pp__mux_reset_all (PpMux *mux, uint8_t reason, const char *detail)
{
  GList *l = mux->conns.head;

  while (l != NULL)
    {
      PpMuxConn *conn = l->data;

      l = l->next;
      set_close_detail (conn, reason, (const uint8_t *) detail, strlen (detail));
      if (conn->ts != NULL)
        {
          drop_unsent (conn);
          pp__conn_release (conn);
        }
      timer_stop (conn);
      conn_reset_app (conn);
    }
}

PpTupleState *
pp__tuple_new (PpMux *mux, const PpTuple *key)
{
  PpTupleState *ts = g_new0 (PpTupleState, 1);

  ts->key = *key;
  g_hash_table_insert (mux->tuples, &ts->key, ts);
  mux->stats.tuples++;
  return ts;
}

static PpMuxConn *
conn_for (PpMux *mux, PpTupleState *ts, const char *what)
{
  if (ts->conn == NULL)
    {
      g_autofree char *why = g_strdup_printf ("%s for no connection", what);
      /* Never answer a CLOSE for an unknown connection (protocol.md §6.3). */
      pp__mux_violation_full (mux, ts, why, strcmp (what, "CLOSE") != 0);
    }
  return ts->conn;
}

static void
on_connect (PpMux *mux, PpTupleState *ts, GBytes *payload)
{
  size_t len = payload ? g_bytes_get_size (payload) : 0;
  const uint8_t *name = payload ? g_bytes_get_data (payload, NULL) : NULL;
  gboolean by_name = memcmp (ts->key.dst_addr, (uint8_t[16]){ 0 }, 16) == 0;
  g_autofree char *name_str = NULL;
  const char *why = NULL;
  PpMuxConn *conn;

  if (mux->role != PP_MUX_ROLE_HOST)
    return pp__mux_violation (mux, ts, "CONNECT sent to the client");
  if (ts->conn != NULL)
    return pp__mux_violation (mux, ts, "a duplicate CONNECT");
  if (by_name != (len > 0))
    return pp__mux_violation (mux, ts, by_name ? "CONNECT to :: without a name"
                                       : "CONNECT with a name but an address");
  if (by_name && !pp_name_is_valid (name, len, &why))
    return pp__mux_violation (mux, ts, why);
  if (by_name)
    name_str = g_ascii_strdown ((const char *) name, (gssize) len);
  /* A client that respects our HELLO never gets here; one that ignores our
   * CLOSE(7)s would otherwise pile up refused connections. */
  if (mux->stats.sockets >= mux->cfg.max_sockets + mux->cfg.max_connecting)
    return pp__mux_violation (mux, NULL, "connections far beyond HELLO's max sockets");

  conn = conn_new (mux, ts, name_str, NULL);
  maybe_owe_credit (mux, ts);  /* a debt left in the tombstone */
  if (mux->stats.sockets > mux->cfg.max_sockets
      || mux->stats.connecting >= mux->cfg.max_connecting)
    {
      conn->app_gone = TRUE;
      queue_close (conn, PP_CLOSE_TOO_MANY, mux->stats.sockets > mux->cfg.max_sockets
                                              ? "too many sockets"
                                              : "too many connects in flight");
      return;
    }
  conn->counted_connecting = TRUE;
  mux->stats.connecting++;
  timer_start (conn, PP_TIMER_CONNECT);
  mux->cb.conn_request_cb (mux, conn, mux->user_data);
}

static void
on_connected (PpMux *mux, PpTupleState *ts)
{
  PpMuxConn *conn = conn_for (mux, ts, "CONNECTED");

  if (conn == NULL)
    return;
  if (mux->role != PP_MUX_ROLE_CLIENT || conn->established || conn->close_received)
    return pp__mux_violation (mux, ts, "an unexpected CONNECTED");
  conn->established = TRUE;
  if (!conn->app_gone && !conn->close_queued)
    mux->cb.conn_event_cb (mux, conn, PP_MUX_CONN_EV_CONNECTED, mux->user_data);
}

static void
on_data (PpMux *mux, PpTupleState *ts, GBytes *payload, uint32_t units)
{
  PpMuxConn *conn = conn_for (mux, ts, "DATA");
  PpRxItem *item;

  if (conn == NULL)
    return pp__mux_free_units (mux, NULL, units);
  if (conn->fin_received || conn->close_received)
    {
      pp__mux_free_units (mux, NULL, units);
      return pp__mux_violation (mux, ts, "DATA after FIN or CLOSE");
    }
  if (conn->rx_consumed + units > mux->cfg.socket_window + conn->rx_granted)
    {
      pp__mux_free_units (mux, NULL, units);
      return pp__mux_violation (mux, ts, "DATA beyond the socket window");
    }
  conn->rx_consumed += units;
  if (conn->app_gone || conn->close_queued)
    return pp__mux_free_units (mux, conn, units);  /* aborted here: discard (F1) */

  item = g_new (PpRxItem, 1);
  item->bytes = g_bytes_ref (payload);
  item->units = units;
  g_queue_push_tail (&conn->rxq, item);
  conn->rx_queued += g_bytes_get_size (payload);
  mux->stats.rx_queued += g_bytes_get_size (payload);
  mux->stats.bytes_in += g_bytes_get_size (payload);
  mux->cb.conn_event_cb (mux, conn, PP_MUX_CONN_EV_READABLE, mux->user_data);
}

static void
on_fin (PpMux *mux, PpTupleState *ts)
{
  PpMuxConn *conn = conn_for (mux, ts, "FIN");

  if (conn == NULL)
    return;
  if (conn->fin_received || conn->close_received)
    return pp__mux_violation (mux, ts, "a second FIN, or FIN after CLOSE");
  conn->fin_received = TRUE;
  if (conn->fin_sent)
    queue_close (conn, PP_CLOSE_NORMAL, NULL);
  /* The CLOSE(0) just queued is no reason to hide the EOF from the app. */
  if (!conn->app_gone)
    mux->cb.conn_event_cb (mux, conn, PP_MUX_CONN_EV_READABLE, mux->user_data);
}

static void
on_credit (PpMux *mux, PpTupleState *ts, GBytes *payload)
{
  size_t len = payload ? g_bytes_get_size (payload) : 0;
  const uint8_t *d = payload ? g_bytes_get_data (payload, NULL) : NULL;
  PpMuxConn *conn = ts->conn;
  uint32_t units;
  uint16_t next;
  const char *why;

  if (pp_credit_decode (d, len, &units, &next, &why) != PP_CODEC_OK)
    return pp__mux_violation (mux, ts, why);
  if ((uint16_t) (next - ts->tx_acked) > pp__tuple_unacked (ts))
    return pp__mux_violation (mux, ts, "CREDIT acknowledges messages never sent");
  ts->tx_acked = next;
  if (conn == NULL)
    return;
  if (conn->tx_allow + units > (int64_t) G_MAXUINT32 * 4)
    return pp__mux_violation (mux, ts, "CREDIT beyond any window");
  conn->tx_allow += units;
  if (conn->sched == PP_SCHED_PARKED)
    pp__conn_schedule (conn);
  if (conn->starved)
    pp__mux_wake_starved (mux, conn);
}

static void
on_close (PpMux *mux, PpTupleState *ts, GBytes *payload)
{
  size_t len = payload ? g_bytes_get_size (payload) : 0;
  const uint8_t *d = payload ? g_bytes_get_data (payload, NULL) : NULL;
  PpMuxConn *conn = conn_for (mux, ts, "CLOSE");
  PpCloseInfo info;
  const char *why;

  if (conn == NULL)
    return;
  if (pp_close_decode (d, len, &info, &why) != PP_CODEC_OK)
    return pp__mux_violation (mux, ts, why);
  if (info.reason > PP_CLOSE_REASON_MAX)
    return pp__mux_violation (mux, ts, "an unknown CLOSE reason");
  if (conn->close_received)
    return pp__mux_violation (mux, ts, "a second CLOSE");
  if (info.reason == PP_CLOSE_PROTOCOL)
    {
      set_close_detail (conn, info.reason, info.detail, info.detail_len);
      pp__tuple_kill (mux, ts, FALSE, "the peer reported a protocol error");
      return;
    }
  set_close_detail (conn, info.reason, info.detail, info.detail_len);
  conn->close_received = TRUE;
  connecting_done (conn);
  /* An answered CLOSE carries the reason it answers; unsent data is lost,
   * so the app must see a reset unless its stream had ended. */
  if (!conn->close_queued)
    {
      gboolean lost = conn->outq_head != NULL || !conn->fin_queued;
      queue_close (conn, info.reason, NULL);
      if (lost && conn->close_reason == PP_CLOSE_NORMAL)
        conn->close_reason = PP_CLOSE_RESET;
    }
  if (info.reason != PP_CLOSE_NORMAL || conn->close_reason != PP_CLOSE_NORMAL)
    conn_reset_app (conn);
  if (conn->close_sent)
    pp__conn_release (conn);
}

void
pp__tuple_process (PpMux *mux, PpTupleState *ts, uint8_t event, GBytes *payload,
                 uint32_t units)
{
  ts->rx_next++;
  ts->rx_unacked++;
  if (event >= 0x80)
    {
      maybe_owe_credit (mux, ts);
      return;
    }
  switch ((PpEvent) event)
    {
    case PP_EV_CONNECT:
      on_connect (mux, ts, payload);
      break;
    case PP_EV_CONNECTED:
      on_connected (mux, ts);
      break;
    case PP_EV_DATA:
      on_data (mux, ts, payload, units);
      break;
    case PP_EV_FIN:
      on_fin (mux, ts);
      break;
    case PP_EV_CREDIT:
      on_credit (mux, ts, payload);
      break;
    case PP_EV_CLOSE:
      on_close (mux, ts, payload);
      break;
    case PP_EV_HELLO:
    case PP_EV_PING:
    case PP_EV_PONG:
    case PP_EV_GOAWAY:
      pp__mux_violation (mux, ts, "a session packet on a connection tuple");
      break;
    }
  if (!ts->dead)
    maybe_owe_credit (mux, ts);
}

/* Checks what one packet alone decides (docs/protocol.md §7). */
const char *
pp__packet_check (const PpPacket *p)
{
  gboolean control = p->event != PP_EV_DATA;

  if (p->event >= 0x80)
    return p->total_chunks == 1 ? NULL : "an extension event split in chunks";
  if (!pp_event_is_known (p->event))
    return "an unknown event";
  if (control && p->total_chunks != 1)
    return "a control packet split in chunks";
  if (p->event == PP_EV_DATA && p->payload_size == 0)
    return "an empty DATA packet";
  switch ((PpEvent) p->event)
    {
    case PP_EV_CONNECT:
      return p->payload_size <= PP_NAME_MAX ? NULL : "a CONNECT name above 253 bytes";
    case PP_EV_CLOSE:
      return p->payload_size <= 1 + PP_CLOSE_MAX_DETAIL ? NULL : "a CLOSE detail above 200 bytes";
    case PP_EV_CONNECTED:
    case PP_EV_FIN:
      return p->payload_size == 0 ? NULL : "a payload on CONNECTED or FIN";
    case PP_EV_CREDIT:
      return p->payload_size == PP_CREDIT_PAYLOAD ? NULL : "a CREDIT of the wrong size";
    case PP_EV_DATA:
    case PP_EV_HELLO:
    case PP_EV_PING:
    case PP_EV_PONG:
    case PP_EV_GOAWAY:
      break;
    }
  return NULL;
}

static gboolean
tuple_reusable (const PpTupleState *ts)
{
  return ts->conn == NULL && !ts->dead && pp__tuple_unacked (ts) < PP_U_LIMIT_DATA;
}

static uint32_t
tuple_cap (PpMux *mux)
{
  return MIN (mux->cfg.max_tuples, mux->peer_hello.max_tuples);
}

/* docs/protocol.md §6.1: never two connections on one wire tuple. */
static PpTupleState *
choose_tuple (PpMux *mux, const PpTuple *want)
{
  PpTuple t = *want;

  for (guint attempt = 0; attempt < 64; attempt++)
    {
      PpTupleState *ts = g_hash_table_lookup (mux->tuples, &t);

      if (ts == NULL)
        {
          if (mux->stats.tuples < tuple_cap (mux))
            return pp__tuple_new (mux, &t);
          break;
        }
      if (tuple_reusable (ts))
        return ts;
      t.src_port = (uint16_t) (want->src_port + 1 + attempt * 7919u);
      if (t.src_port == 0)
        t.src_port = 1;
    }
  for (GList *l = mux->released.head; l != NULL; l = l->next)
    {
      PpTupleState *ts = l->data;

      if (memcmp (ts->key.dst_addr, want->dst_addr, 16) == 0
          && ts->key.dst_port == want->dst_port && tuple_reusable (ts))
        return ts;
    }
  return NULL;
}

PpMuxConn *
pp_mux_open (PpMux *mux, const PpTuple *want, const char *name, gpointer user_data,
             const char **why)
{
  PpTupleState *ts;
  PpMuxConn *conn = NULL;
  size_t name_len = name != NULL ? strlen (name) : 0;
  gboolean by_name = memcmp (want->dst_addr, (uint8_t[16]){ 0 }, 16) == 0;

  g_return_val_if_fail (mux->role == PP_MUX_ROLE_CLIENT, NULL);
  if (!mux->ready || mux->closed)
    return (*why = "the session is not open", NULL);
  if (by_name != (name_len > 0))
    return (*why = "a name goes with the :: destination and only with it", NULL);
  if (by_name && !pp_name_is_valid ((const uint8_t *) name, name_len, why))
    return NULL;
  if (mux->stats.sockets >= MIN (mux->cfg.max_sockets, mux->peer_hello.max_sockets))
    return (*why = "too many sockets", NULL);

  pp__mux_enter (mux);
  ts = choose_tuple (mux, want);
  if (ts == NULL)
    *why = "too many tuples in use";
  else
    {
      conn = conn_new (mux, ts, name, user_data);
      pp__conn_push_out (conn, pp__out_new (PP_EV_CONNECT, name, name_len));
      maybe_owe_credit (mux, ts);
    }
  pp__mux_leave (mux);
  return conn;
}

void
pp_mux_conn_accept (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;

  g_return_if_fail (mux->role == PP_MUX_ROLE_HOST);
  pp__mux_enter (mux);
  if (!conn->established && !conn->close_queued && conn->ts != NULL)
    {
      conn->established = TRUE;
      connecting_done (conn);
      pp__conn_push_out (conn, pp__out_new (PP_EV_CONNECTED, NULL, 0));
      if (conn->rx_queued > 0 || conn->fin_received)
        mux->cb.conn_event_cb (mux, conn, PP_MUX_CONN_EV_READABLE, mux->user_data);
    }
  pp__mux_leave (mux);
}

void
pp_mux_conn_abort (PpMuxConn *conn, PpCloseReason reason, const char *detail)
{
  PpMux *mux = conn->mux;

  pp__mux_enter (mux);
  if (reason == PP_CLOSE_NORMAL || reason == PP_CLOSE_PROTOCOL)
    reason = PP_CLOSE_RESET;
  queue_close (conn, reason, detail);
  drop_rxq (conn);
  connecting_done (conn);
  conn->app_gone = TRUE;
  conn_maybe_bury (conn);
  pp__mux_leave (mux);
}

void
pp_mux_conn_detach (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;
  gboolean finished = conn->fin_queued && conn->fin_received && conn->rxq.length == 0
                      && conn->close_reason == PP_CLOSE_NORMAL;

  if (!finished && conn->ts != NULL)
    {
      pp_mux_conn_abort (conn, PP_CLOSE_RESET, "the app closed the connection early");
      return;
    }
  pp__mux_enter (mux);
  drop_rxq (conn);
  conn->app_gone = TRUE;
  conn_maybe_bury (conn);
  pp__mux_leave (mux);
}

size_t
pp_mux_conn_send_budget (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;
  int64_t allow;
  size_t cap;

  if (!mux->ready || mux->closed || conn->ts == NULL || conn->fin_queued
      || conn->close_queued || conn->app_gone)
    return 0;
  allow = MIN (conn->tx_allow, mux->sess_tx_allow) - PP_UNITS_PER_PACKET;
  if (allow <= 0)
    {
      if (!conn->starved)
        {
          conn->starved = TRUE;
          g_queue_push_tail_link (&mux->starved, &conn->starved_link);
        }
      return 0;
    }
  cap = MIN ((size_t) PP_MAX_PAYLOAD, mux->cfg.max_message_size - PP_HEADER_SIZE);
  cap = MIN (cap, pp__mux_message_cap (mux));   /* small on slow paths */
  return MIN (cap, (size_t) allow);
}

void
pp_mux_conn_send (PpMuxConn *conn, const uint8_t *data, size_t len)
{
  PpMux *mux = conn->mux;
  PpOut *out;

  g_return_if_fail (len > 0 && len <= pp_mux_conn_send_budget (conn));
  pp__mux_enter (mux);
  out = pp__out_new (PP_EV_DATA, data, len);
  conn->tx_allow -= out->units;
  mux->sess_tx_allow -= out->units;
  pp__conn_push_out (conn, out);
  pp__mux_leave (mux);
}

void
pp_mux_conn_shutdown (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;

  pp__mux_enter (mux);
  if (!conn->fin_queued && !conn->close_queued && conn->ts != NULL)
    {
      conn->fin_queued = TRUE;
      pp__conn_push_out (conn, pp__out_new (PP_EV_FIN, NULL, 0));
    }
  pp__mux_leave (mux);
}

size_t
pp_mux_conn_peek (PpMuxConn *conn, const uint8_t **data)
{
  PpRxItem *item = g_queue_peek_head (&conn->rxq);
  size_t len;
  const uint8_t *d;

  if (item == NULL)
    return 0;
  d = g_bytes_get_data (item->bytes, &len);
  *data = d + conn->rx_off;
  return len - conn->rx_off;
}

void
pp_mux_conn_consume (PpMuxConn *conn, size_t n)
{
  PpMux *mux = conn->mux;

  pp__mux_enter (mux);
  while (n > 0)
    {
      PpRxItem *item = g_queue_peek_head (&conn->rxq);
      size_t left;

      g_return_if_fail (item != NULL);
      left = g_bytes_get_size (item->bytes) - conn->rx_off;
      if (n < left)
        {
          conn->rx_off += n;
          conn->rx_queued -= n;
          mux->stats.rx_queued -= n;
          break;
        }
      n -= left;
      conn->rx_queued -= left;
      mux->stats.rx_queued -= left;
      conn->rx_off = 0;
      g_queue_pop_head (&conn->rxq);
      pp__mux_free_units (mux, conn, item->units);
      g_bytes_unref (item->bytes);
      g_free (item);
    }
  if (conn->ts != NULL)
    maybe_owe_credit (mux, conn->ts);
  pp__mux_leave (mux);
}

gboolean
pp_mux_conn_at_eof (PpMuxConn *conn)
{
  return conn->fin_received && conn->rxq.length == 0;
}

const PpTuple *
pp_mux_conn_get_tuple (PpMuxConn *conn)
{
  return &conn->tuple;
}

const char *
pp_mux_conn_get_name (PpMuxConn *conn)
{
  return conn->name;
}

PpMuxConnState
pp_mux_conn_get_state (PpMuxConn *conn)
{
  if (conn->ts == NULL)
    return PP_MUX_CONN_RELEASED;
  if (conn->close_queued || conn->close_received)
    return PP_MUX_CONN_CLOSING;
  if (!conn->established)
    return PP_MUX_CONN_CONNECTING;
  if (conn->fin_queued && conn->fin_received)
    return PP_MUX_CONN_CLOSING;
  if (conn->fin_queued)
    return PP_MUX_CONN_HALF_CLOSED_LOCAL;
  if (conn->fin_received)
    return PP_MUX_CONN_HALF_CLOSED_REMOTE;
  return PP_MUX_CONN_OPEN;
}

const char *
pp_mux_conn_state_name (PpMuxConnState state)
{
  switch (state)
    {
    case PP_MUX_CONN_CONNECTING:
      return "connecting";
    case PP_MUX_CONN_OPEN:
      return "open";
    case PP_MUX_CONN_HALF_CLOSED_LOCAL:
      return "half-closed (local)";
    case PP_MUX_CONN_HALF_CLOSED_REMOTE:
      return "half-closed (remote)";
    case PP_MUX_CONN_CLOSING:
      return "closing";
    case PP_MUX_CONN_RELEASED:
      return "released";
    }
  return "unknown";
}

uint8_t
pp_mux_conn_get_close_reason (PpMuxConn *conn)
{
  return conn->close_reason;
}

const char *
pp_mux_conn_get_close_detail (PpMuxConn *conn)
{
  return conn->close_detail != NULL ? conn->close_detail : "";
}

gpointer
pp_mux_conn_get_user_data (PpMuxConn *conn)
{
  return conn->user_data;
}

void
pp_mux_conn_set_user_data (PpMuxConn *conn, gpointer user_data)
{
  conn->user_data = user_data;
}

PpMux *
pp_mux_conn_get_mux (PpMuxConn *conn)
{
  return conn->mux;
}

/* Connect timeouts (CLOSE 3) and lingering queues nobody read (reset). */
void
pp__mux_expire_timers (PpMux *mux, int64_t t)
{
  PpMuxConn *c;

  while ((c = g_queue_peek_head (&mux->connect_timers)) != NULL && c->deadline <= t)
    {
      timer_stop (c);
      queue_close (c, PP_CLOSE_TIMED_OUT, "the host could not connect within 10 s");
      conn_reset_app (c);
    }
  while ((c = g_queue_peek_head (&mux->linger_timers)) != NULL && c->deadline <= t)
    {
      timer_stop (c);
      set_close_detail (c, PP_CLOSE_RESET, (const uint8_t *) "unread data", 11);
      c->close_reason = PP_CLOSE_RESET;
      conn_reset_app (c);
    }
}
