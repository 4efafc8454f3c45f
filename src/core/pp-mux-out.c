/* SPDX-License-Identifier: MIT
 *
 * pp-mux-out: what leaves the mux, and in which order (docs/protocol.md
 * §5.2 and §8).  Control packets go first and ignore the high-water mark;
 * DATA of ready connections is served round-robin while the transport
 * buffers less than the high-water mark.  chunk_ids are assigned here, at
 * transmission, and every send respects the per-class limits on
 * unacknowledged messages, so a connection that reaches one waits
 * (parked) for the peer's CREDIT instead of blocking the others.
 */
#include "core/pp-mux-private.h"

#include <string.h>

/* pp__mux_message_cap(): from this high water up, messages are not capped;
 * below it, an eighth of the mark, never less than PP_MIN_MESSAGE_CAP. */
#define PP_FULL_HIGH_WATER (256 * 1024)
#define PP_MIN_MESSAGE_CAP 2048

PpOut *
pp__out_new (uint8_t event, const void *payload, size_t len)
{
  PpOut *out = g_malloc (sizeof (PpOut) + PP_HEADER_SIZE + len);

  out->next = NULL;
  out->event = event;
  out->units = event == PP_EV_DATA ? (uint32_t) len + PP_UNITS_PER_PACKET : 0;
  out->len = len;
  if (len > 0)
    memcpy (out->buf + PP_HEADER_SIZE, payload, len);
  return out;
}

void
pp__out_free_all (PpOut *head)
{
  while (head != NULL)
    {
      PpOut *next = head->next;
      g_free (head);
      head = next;
    }
}

uint16_t
pp__tuple_unacked (const PpTupleState *ts)
{
  return (uint16_t) (ts->tx_next - ts->tx_acked);
}

void
pp__mux_emit_coalesced (PpMux *mux)
{
  GBytes *msg;

  if (mux->coal_len == 0)
    return;
  msg = g_bytes_new (mux->coal, mux->coal_len);
  mux->coal_len = 0;
  mux->stats.messages_out++;
  mux->cb.transmit_cb (mux, msg, mux->user_data);
}

/* A low high water means a slow path (pp-tunnel sizes it from the transport's
 * send window).  There the last message handed over may cross the mark, and
 * the transport delivers a message whole, so a small packet coalesced into a
 * large one, or queued behind one, waits for all of it: both DATA payloads
 * (pp_mux_conn_send_budget) and coalesced messages stay within an eighth of
 * the mark.  At the default mark and above nothing is capped. */
size_t
pp__mux_message_cap (PpMux *mux)
{
  if (mux->cfg.high_water >= PP_FULL_HIGH_WATER)
    return G_MAXSIZE;
  return MAX (mux->cfg.high_water / 8, (size_t) PP_MIN_MESSAGE_CAP);
}

/* Hands @out (header written) to the transport, alone or coalesced with
 * others; small packets are copied into the coalescing buffer, large ones
 * leave as they are, without a copy. */
static void
emit_out (PpMux *mux, PpOut *out)
{
  size_t size = PP_HEADER_SIZE + out->len;
  size_t max = MIN (mux->cfg.max_message_size, pp__mux_message_cap (mux));
  GBytes *msg;

  if (mux->coalesce_tx)
    {
      if (mux->coal_len > 0 && mux->coal_len + size > max)
        pp__mux_emit_coalesced (mux);
      if (size * 2 <= max)
        {
          if (mux->coal == NULL)
            mux->coal = g_malloc (mux->cfg.max_message_size);   /* max follows the high water */
          memcpy (mux->coal + mux->coal_len, out->buf, size);
          mux->coal_len += size;
          g_free (out);
          return;
        }
    }
  msg = g_bytes_new_with_free_func (out->buf, size, g_free, out);
  mux->stats.messages_out++;
  mux->cb.transmit_cb (mux, msg, mux->user_data);
}

static void
write_header (PpOut *out, const PpTuple *tuple, uint16_t chunk_id)
{
  PpPacket p = { 0 };

  p.event = out->event;
  if (tuple != NULL)
    p.tuple = *tuple;
  p.chunk_id = chunk_id;
  p.chunk_index = 0;
  p.total_chunks = 1;
  p.payload_size = (uint16_t) out->len;
  pp_packet_encode_header (&p, out->buf);
}

static void
transmit (PpMux *mux, PpTupleState *ts, PpOut *out)
{
  write_header (out, &ts->key, ts->tx_next);
  ts->tx_next++;
  emit_out (mux, out);
}

void
pp__mux_send_session (PpMux *mux, uint8_t event, const void *payload, size_t len)
{
  PpOut *out = pp__out_new (event, payload, len);

  write_header (out, NULL, 0);
  emit_out (mux, out);
}

/* For CLOSE(5): sent whatever the limits, as the tuple dies with it. */
void
pp__tuple_send_loose (PpMux *mux, PpTupleState *ts, uint8_t event,
                      const void *payload, size_t len)
{
  transmit (mux, ts, pp__out_new (event, payload, len));
}

static void
sched_move (PpMuxConn *conn, PpSched where)
{
  PpMux *mux = conn->mux;
  GQueue *queues[] = { NULL, &mux->ctrlq, &mux->dataq, &mux->parked };

  if (conn->sched == where)
    return;
  if (conn->sched != PP_SCHED_NONE)
    g_queue_unlink (queues[conn->sched], &conn->sched_link);
  conn->sched = where;
  if (where != PP_SCHED_NONE)
    g_queue_push_tail_link (queues[where], &conn->sched_link);
}

void
pp__conn_unschedule (PpMuxConn *conn)
{
  sched_move (conn, PP_SCHED_NONE);
}

void
pp__conn_schedule (PpMuxConn *conn)
{
  PpOut *head = conn->outq_head;

  if (conn->ts == NULL)
    {
      sched_move (conn, PP_SCHED_NONE);
      return;
    }
  if (conn->credit_pending || (head != NULL && head->event != PP_EV_DATA))
    sched_move (conn, PP_SCHED_CTRL);
  else if (head == NULL)
    sched_move (conn, PP_SCHED_NONE);
  else if (conn->sched != PP_SCHED_DATA)
    sched_move (conn, PP_SCHED_CTRL);  /* service_ctrl() files it */
  conn->mux->flush_wanted = TRUE;
}

void
pp__conn_push_out (PpMuxConn *conn, PpOut *out)
{
  if (conn->outq_tail != NULL)
    conn->outq_tail->next = out;
  else
    conn->outq_head = out;
  conn->outq_tail = out;
  if (out->event == PP_EV_DATA)
    {
      conn->tx_queued += out->len;
      conn->mux->stats.tx_queued += out->len;
    }
  pp__conn_schedule (conn);
}

static void
send_head (PpMuxConn *conn)
{
  PpMux *mux = conn->mux;
  PpOut *out = conn->outq_head;
  uint8_t event = out->event;

  conn->outq_head = out->next;
  if (conn->outq_head == NULL)
    conn->outq_tail = NULL;
  if (event == PP_EV_DATA)
    {
      conn->tx_queued -= out->len;
      mux->stats.tx_queued -= out->len;
      mux->stats.bytes_out += out->len;
    }
  transmit (mux, conn->ts, out);

  switch ((PpEvent) event)
    {
    case PP_EV_CONNECT:
      conn->connect_sent = TRUE;
      break;
    case PP_EV_FIN:
      pp__conn_sent_fin (conn);
      break;
    case PP_EV_CLOSE:
      conn->close_sent = TRUE;
      if (conn->close_received)
        pp__conn_release (conn);
      break;
    case PP_EV_DATA:
    case PP_EV_CONNECTED:
    case PP_EV_HELLO:
    case PP_EV_CREDIT:
    case PP_EV_PING:
    case PP_EV_PONG:
    case PP_EV_GOAWAY:
      break;
    }
}

static void
send_credit (PpMuxConn *conn)
{
  uint8_t payload[PP_CREDIT_PAYLOAD];

  pp__mux_fill_credit (conn, payload);
  conn->credit_pending = FALSE;
  transmit (conn->mux, conn->ts, pp__out_new (PP_EV_CREDIT, payload, sizeof payload));
}

/* Sends what may go ahead of other connections' DATA: the CONNECT, an owed
 * CREDIT, then control packets up to the next DATA, each within its U
 * limit.  Leaves the connection in the queue that fits what is left. */
static void
service_ctrl (PpMuxConn *conn)
{
  for (;;)
    {
      PpTupleState *ts = conn->ts;
      PpOut *head = conn->outq_head;
      uint16_t u, limit;

      if (ts == NULL)
        return;
      u = pp__tuple_unacked (ts);
      if (head != NULL && head->event == PP_EV_CONNECT)
        {
          if (u >= PP_U_LIMIT_DATA)
            break;
          send_head (conn);
          continue;
        }
      if (conn->credit_pending)
        {
          if (u >= PP_U_LIMIT_CREDIT)
            break;
          send_credit (conn);
          continue;
        }
      if (head == NULL)
        {
          sched_move (conn, PP_SCHED_NONE);
          return;
        }
      if (head->event == PP_EV_DATA)
        {
          sched_move (conn, u < PP_U_LIMIT_DATA ? PP_SCHED_DATA : PP_SCHED_PARKED);
          return;
        }
      limit = head->event == PP_EV_CLOSE ? PP_U_LIMIT_CLOSE : PP_U_LIMIT_DATA;
      if (u >= limit)
        break;
      send_head (conn);
    }
  sched_move (conn, PP_SCHED_PARKED);
}

static void
service_data (PpMuxConn *conn)
{
  PpOut *head = conn->outq_head;

  if (conn->ts == NULL)
    return;
  if (conn->credit_pending || head == NULL || head->event != PP_EV_DATA)
    {
      service_ctrl (conn);
      return;
    }
  if (pp__tuple_unacked (conn->ts) >= PP_U_LIMIT_DATA)
    {
      sched_move (conn, PP_SCHED_PARKED);
      return;
    }
  send_head (conn);
  /* Round-robin: back to the tail, unless control follows its DATA. */
  service_ctrl (conn);
}

static size_t
buffered (PpMux *mux)
{
  return mux->cb.buffered_amount_cb (mux, mux->user_data) + mux->coal_len;
}

void
pp__mux_flush_now (PpMux *mux)
{
  mux->flush_wanted = FALSE;
  if (mux->closed || !mux->ready)
    return;
  for (;;)
    {
      GList *link;
      PpMuxConn *conn;

      while ((link = g_queue_peek_head_link (&mux->ctrlq)) != NULL)
        {
          conn = link->data;
          sched_move (conn, PP_SCHED_NONE);
          service_ctrl (conn);
        }
      if (buffered (mux) >= mux->cfg.high_water)
        break;
      link = g_queue_peek_head_link (&mux->dataq);
      if (link == NULL)
        break;
      conn = link->data;
      sched_move (conn, PP_SCHED_NONE);
      service_data (conn);
    }
}
