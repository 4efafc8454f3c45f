/* SPDX-License-Identifier: MIT
 *
 * pp-mux: the session side of docs/protocol.md — HELLO, session packets,
 * session credit, violations, and the receive path that checks each packet
 * and hands messages to their tuple in chunk_id order.  Connections live in
 * pp-mux-conn.c; what leaves is ordered by pp-mux-out.c.  Sans-IO: no
 * sockets, no clock (time comes from now_cb), no threads.  Every entry
 * point may be called from inside a callback; output is flushed and dead
 * connections are freed when the outermost call returns.
 */
#include "core/pp-mux-private.h"

#include <string.h>

static void fail_session (PpMux *mux, PpGoawayReason reason, const char *why);

/* ---------------------------------------------------------------- helpers */

void
pp_mux_config_init (PpMuxConfig *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->socket_window = 1u << 20;
  cfg->session_window = 16u << 20;
  cfg->max_tuples = 65536;
  cfg->max_sockets = 10000;
  cfg->max_connecting = 256;
  cfg->caps = PP_CAPS_SUPPORTED;
  cfg->max_message_size = 65536;
  cfg->high_water = 256 * 1024;
  cfg->connect_timeout_us = 10 * G_USEC_PER_SEC;
  cfg->linger_us = 30 * G_USEC_PER_SEC;
  cfg->credit_messages = 256;
}

int64_t
pp__mux_now (PpMux *mux)
{
  return mux->cb.now_cb (mux, mux->user_data);
}

void
pp__mux_enter (PpMux *mux)
{
  mux->depth++;
}

void
pp__mux_leave (PpMux *mux)
{
  g_assert (mux->depth > 0);
  if (mux->depth > 1)
    {
      mux->depth--;
      return;
    }
  if (mux->flush_wanted && mux->cork == 0)
    pp__mux_flush_now (mux);
  if (mux->cork == 0)
    pp__mux_emit_coalesced (mux);
  g_ptr_array_set_size (mux->graveyard, 0);
  mux->depth--;
}

/* --------------------------------------------------------------- credit */

/* A DATA packet (or message) of @units is done with: written or discarded.
 * The session always gets it back (F1); the connection only while it can
 * still send CREDIT. */
void
pp__mux_free_units (PpMux *mux, PpMuxConn *conn, uint64_t units)
{
  uint8_t payload[PP_SESSION_CREDIT_PAYLOAD];

  if (units == 0)
    return;
  if (conn != NULL && conn->ts != NULL && !conn->close_queued)
    conn->rx_freed += units;
  mux->sess_rx_freed += units;
  if (mux->closed || mux->sess_rx_freed < mux->cfg.session_window / 4)
    return;
  while (mux->sess_rx_freed > 0)
    {
      uint32_t grant = (uint32_t) MIN (mux->sess_rx_freed, G_MAXUINT32);

      pp_session_credit_encode (grant, payload);
      pp__mux_send_session (mux, PP_EV_CREDIT, payload, sizeof payload);
      mux->sess_rx_granted += grant;
      mux->sess_rx_freed -= grant;
    }
}

/* ----------------------------------------------------------- violations */

void
pp__mux_violation_full (PpMux *mux, PpTupleState *ts, const char *why, gboolean send_close)
{
  g_autofree char *tuple = ts != NULL ? pp_tuple_to_string (&ts->key) : NULL;

  mux->stats.violations++;
  g_info ("protocol violation on %s: %s", tuple ? tuple : "the session", why);
  if (ts == NULL || mux->stats.violations >= PP_MAX_VIOLATIONS)
    {
      fail_session (mux, PP_GOAWAY_PROTOCOL, why);
      return;
    }
  if (!ts->dead)
    pp__tuple_kill (mux, ts, send_close, why);
}

void
pp__mux_violation (PpMux *mux, PpTupleState *ts, const char *why)
{
  pp__mux_violation_full (mux, ts, why, TRUE);
}

static void
close_session (PpMux *mux, const char *detail)
{
  if (mux->closed)
    return;
  mux->closed = TRUE;
  pp__mux_reset_all (mux, PP_CLOSE_SESSION_ENDED, detail);
}

static void
fail_session (PpMux *mux, PpGoawayReason reason, const char *why)
{
  PpMuxSessionEvent ev = { PP_MUX_SESSION_FAILED, reason, why, -1 };
  uint8_t payload[1 + PP_CLOSE_MAX_DETAIL];
  size_t len;

  if (mux->closed)
    return;
  len = pp_close_encode (reason, why, payload, sizeof payload);
  pp__mux_send_session (mux, PP_EV_GOAWAY, payload, len);
  pp__mux_emit_coalesced (mux);
  close_session (mux, why);
  mux->cb.session_cb (mux, &ev, mux->user_data);
}

/* --------------------------------------------------------------- session */

PpMux *
pp_mux_new (PpMuxRole role, const PpMuxConfig *cfg, const PpMuxCallbacks *callbacks,
            gpointer user_data)
{
  PpMux *mux = g_new0 (PpMux, 1);

  mux->role = role;
  mux->cfg = *cfg;
  mux->cfg.credit_messages = MAX (cfg->credit_messages, 2);
  mux->cfg.max_message_size = CLAMP (cfg->max_message_size, PP_HEADER_SIZE + 1,
                                     PP_HEADER_SIZE + PP_MAX_PAYLOAD);
  mux->name = g_strndup (cfg->name ? cfg->name : "", PP_HELLO_MAX_NAME);
  mux->cfg.name = mux->name;
  mux->cb = *callbacks;
  mux->user_data = user_data;
  mux->tuples = g_hash_table_new_full ((GHashFunc) pp_tuple_hash,
                                       (GEqualFunc) pp_tuple_equal, NULL, NULL);
  mux->graveyard = g_ptr_array_new_with_free_func ((GDestroyNotify) pp__conn_free);
  mux->early = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  return mux;
}

static void
tuple_state_free (gpointer data)
{
  PpTupleState *ts = data;

  pp_reasm_free (ts->reasm);
  g_free (ts);
}

void
pp_mux_free (PpMux *mux)
{
  GHashTableIter it;
  gpointer value;
  GList *link;

  if (mux == NULL)
    return;

  while ((link = g_queue_pop_head_link (&mux->conns)) != NULL)
    pp__conn_free (link->data);  /* the link is embedded in the conn */
  g_hash_table_iter_init (&it, mux->tuples);
  while (g_hash_table_iter_next (&it, NULL, &value))
    tuple_state_free (value);
  g_hash_table_unref (mux->tuples);
  g_ptr_array_unref (mux->graveyard);
  g_ptr_array_unref (mux->early);
  g_free (mux->coal);
  g_free (mux->name);
  g_free (mux);
}

static void
send_hello (PpMux *mux)
{
  PpHello h = { 0 };
  uint8_t payload[PP_HELLO_MAX_PAYLOAD];
  size_t len;

  h.version = PP_PROTOCOL_VERSION;
  h.caps = mux->cfg.caps;
  h.socket_window = mux->cfg.socket_window;
  h.session_window = mux->cfg.session_window;
  h.max_tuples = mux->cfg.max_tuples;
  h.max_sockets = mux->cfg.max_sockets;
  h.name_len = strlen (mux->name);
  memcpy (h.name, mux->name, h.name_len);
  len = pp_hello_encode (&h, payload, sizeof payload);
  g_assert (len > 0);
  pp__mux_send_session (mux, PP_EV_HELLO, payload, len);
  mux->hello_sent = TRUE;
}

void
pp_mux_start (PpMux *mux)
{
  pp__mux_enter (mux);
  if (mux->role == PP_MUX_ROLE_CLIENT && !mux->hello_sent && !mux->closed)
    send_hello (mux);
  pp__mux_leave (mux);
}

gboolean
pp_mux_is_ready (PpMux *mux)
{
  return mux->ready && !mux->closed;
}

gboolean
pp_mux_is_closed (PpMux *mux)
{
  return mux->closed;
}

const PpHello *
pp_mux_get_peer_hello (PpMux *mux)
{
  return mux->ready ? &mux->peer_hello : NULL;
}

static const char *
check_hello (const PpHello *h)
{
  if (h->version < 1)
    return "the peer speaks no protocol version we know";
  if (h->socket_window < 4096)
    return "the peer's socket window is below 4 KiB";
  if ((uint64_t) h->session_window < 8 * (uint64_t) h->socket_window)
    return "the peer's session window is below 8 times its socket window";
  if (h->max_tuples == 0 || h->max_sockets == 0)
    return "the peer allows no connections";
  return NULL;
}

static void handle_session_packet (PpMux *mux, uint8_t event, const uint8_t *payload,
                                   size_t len);

static void
handle_hello (PpMux *mux, const uint8_t *payload, size_t len)
{
  PpMuxSessionEvent ev = { PP_MUX_SESSION_READY, 0, "", -1 };
  const char *why = NULL;

  if (mux->ready || (mux->role == PP_MUX_ROLE_CLIENT && !mux->hello_sent))
    {
      pp__mux_violation (mux, NULL, "an unexpected HELLO");
      return;
    }
  if (pp_hello_decode (payload, len, &mux->peer_hello, &why) != PP_CODEC_OK)
    {
      pp__mux_violation (mux, NULL, why);
      return;
    }
  why = check_hello (&mux->peer_hello);
  if (why != NULL)
    {
      fail_session (mux, PP_GOAWAY_INCOMPATIBLE, why);
      return;
    }
  if (mux->role == PP_MUX_ROLE_HOST)
    send_hello (mux);
  mux->ready = TRUE;
  mux->coalesce_tx = (mux->cfg.caps & mux->peer_hello.caps & PP_CAP_COALESCE) != 0;
  mux->sess_tx_allow = mux->peer_hello.session_window;
  mux->cb.session_cb (mux, &ev, mux->user_data);

  /* Session packets that overtook the HELLO (protocol.md §3.1). */
  for (guint i = 0; i < mux->early->len && !mux->closed; i++)
    {
      GBytes *b = g_ptr_array_index (mux->early, i);
      size_t n;
      const uint8_t *d = g_bytes_get_data (b, &n);

      handle_session_packet (mux, d[0], d + 1, n - 1);
    }
  g_ptr_array_set_size (mux->early, 0);
}

static void
keep_early (PpMux *mux, uint8_t event, const uint8_t *payload, size_t len)
{
  uint8_t *copy;

  if (mux->early->len >= PP_MAX_EARLY_SESSION_PACKETS)
    {
      pp__mux_violation (mux, NULL, "too many session packets before the host's HELLO");
      return;
    }
  copy = g_malloc (len + 1);
  copy[0] = event;
  memcpy (copy + 1, payload, len);
  g_ptr_array_add (mux->early, g_bytes_new_take (copy, len + 1));
}

static void
handle_session_credit (PpMux *mux, const uint8_t *payload, size_t len)
{
  uint32_t units;
  const char *why;

  if (pp_session_credit_decode (payload, len, &units, &why) != PP_CODEC_OK)
    {
      pp__mux_violation (mux, NULL, why);
      return;
    }
  if (mux->sess_tx_allow + units > (int64_t) G_MAXUINT32 * 4)
    {
      pp__mux_violation (mux, NULL, "session credit beyond any window");
      return;
    }
  mux->sess_tx_allow += units;
  pp__mux_wake_starved (mux, NULL);
}

static void
handle_ping (PpMux *mux, uint8_t event, const uint8_t *payload, size_t len)
{
  PpMuxSessionEvent ev = { PP_MUX_SESSION_PONG, 0, "", -1 };
  uint64_t token;
  const char *why;

  if (pp_ping_decode (payload, len, &token, &why) != PP_CODEC_OK)
    {
      pp__mux_violation (mux, NULL, why);
      return;
    }
  if (event == PP_EV_PING)
    {
      pp__mux_send_session (mux, PP_EV_PONG, payload, len);
      return;
    }
  ev.rtt_us = pp__mux_now (mux) - (int64_t) token;
  if (ev.rtt_us >= 0)
    mux->cb.session_cb (mux, &ev, mux->user_data);
}

static void
handle_goaway (PpMux *mux, const uint8_t *payload, size_t len)
{
  PpMuxSessionEvent ev = { PP_MUX_SESSION_GOAWAY, 0, "", -1 };
  PpCloseInfo info;
  const char *why;
  g_autofree char *detail = NULL;
  g_autofree char *reset_detail = NULL;

  if (pp_close_decode (payload, len, &info, &why) != PP_CODEC_OK)
    {
      pp__mux_violation (mux, NULL, why);
      return;
    }
  detail = pp_escape (info.detail, info.detail_len);
  ev.reason = info.reason;
  ev.detail = detail;
  reset_detail = g_strdup_printf ("the peer ended the session (%s%s%s)",
                                  pp_goaway_reason_name (info.reason),
                                  *detail ? ": " : "", detail);
  close_session (mux, reset_detail);
  mux->cb.session_cb (mux, &ev, mux->user_data);
}

static void
handle_session_packet (PpMux *mux, uint8_t event, const uint8_t *payload, size_t len)
{
  gboolean early = mux->role == PP_MUX_ROLE_CLIENT && !mux->ready;

  if (event >= 0x80)
    return;
  switch ((PpEvent) event)
    {
    case PP_EV_HELLO:
      handle_hello (mux, payload, len);
      return;
    case PP_EV_CREDIT:
    case PP_EV_PING:
    case PP_EV_PONG:
    case PP_EV_GOAWAY:
      /* A GOAWAY before the HELLO is the host refusing ours. */
      if (early && event != PP_EV_GOAWAY)
        {
          keep_early (mux, event, payload, len);
          return;
        }
      if (!mux->ready && !early)
        {
          pp__mux_violation (mux, NULL, "a session packet before HELLO");
          return;
        }
      if (event == PP_EV_CREDIT)
        handle_session_credit (mux, payload, len);
      else if (event == PP_EV_GOAWAY)
        handle_goaway (mux, payload, len);
      else
        handle_ping (mux, event, payload, len);
      return;
    case PP_EV_DATA:
    case PP_EV_CLOSE:
    case PP_EV_CONNECT:
    case PP_EV_CONNECTED:
    case PP_EV_FIN:
      break;
    }
  pp__mux_violation (mux, NULL, "a connection packet on the all-zero tuple");
}

/* ------------------------------------------------------- receive: tuples */

static GBytes *
payload_bytes (GBytes *msg, const uint8_t *base, const PpPacket *p)
{
  size_t msg_len = g_bytes_get_size (msg);

  if (p->payload_size == 0)
    return NULL;
  /* A slice pins the whole message: only worth it for a large share. */
  if ((size_t) p->payload_size * 2 >= msg_len)
    return g_bytes_new_from_bytes (msg, (size_t) (p->payload - base), p->payload_size);
  return g_bytes_new (p->payload, p->payload_size);
}

static PpTupleState *
lookup_tuple (PpMux *mux, const PpPacket *p)
{
  PpTupleState *ts = g_hash_table_lookup (mux->tuples, &p->tuple);

  if (ts != NULL)
    return ts;
  if (mux->role == PP_MUX_ROLE_CLIENT)
    {
      pp__mux_violation (mux, NULL, "a packet for a tuple the client never opened");
      return NULL;
    }
  if (p->chunk_id >= PP_RX_WINDOW)
    {
      /* No state to send CLOSE(5) on: count it, drop it. */
      if (++mux->stats.violations >= PP_MAX_VIOLATIONS)
        fail_session (mux, PP_GOAWAY_PROTOCOL, "a chunk_id outside the window");
      return NULL;
    }
  if (mux->stats.tuples >= mux->cfg.max_tuples)
    {
      pp__mux_violation (mux, NULL, "more tuples than HELLO allows");
      return NULL;
    }
  return pp__tuple_new (mux, &p->tuple);
}

/* Session credit is charged on arrival, whatever becomes of the packet. */
static gboolean
charge_session (PpMux *mux, const PpPacket *p, uint32_t *units)
{
  *units = 0;
  if (p->event != PP_EV_DATA)
    return TRUE;
  *units = p->payload_size + PP_UNITS_PER_PACKET;
  if (mux->sess_rx_arrived + *units > mux->cfg.session_window + mux->sess_rx_granted)
    {
      pp__mux_violation (mux, NULL, "DATA beyond the session window");
      return FALSE;
    }
  mux->sess_rx_arrived += *units;
  return TRUE;
}

static void
handle_tuple_packet (PpMux *mux, GBytes *msg, const uint8_t *base, const PpPacket *p)
{
  PpTupleState *ts;
  const char *why;
  uint32_t units;
  GBytes *payload;
  uint8_t event;

  if (!mux->ready)
    return pp__mux_violation (mux, NULL, "a connection packet before HELLO");
  ts = lookup_tuple (mux, p);
  if (ts == NULL || !charge_session (mux, p, &units))
    return;
  if (ts->dead)
    return pp__mux_free_units (mux, NULL, units);
  why = pp__packet_check (p);
  if (why == NULL && (uint16_t) (p->chunk_id - ts->rx_next) >= PP_RX_WINDOW)
    why = "a chunk_id outside the window";
  if (why != NULL)
    {
      pp__mux_free_units (mux, NULL, units);
      return pp__mux_violation (mux, ts, why);
    }

  payload = payload_bytes (msg, base, p);
  if (p->chunk_id == ts->rx_next && p->total_chunks == 1
      && (ts->reasm == NULL || pp_reasm_is_empty (ts->reasm)))
    {
      pp__tuple_process (mux, ts, p->event, payload, units);
      g_clear_pointer (&payload, g_bytes_unref);
      return;
    }
  if (ts->reasm == NULL)
    ts->reasm = pp_reasm_new ();
  if (mux->stats.pending_messages >= PP_MAX_PENDING_MESSAGES)
    {
      g_clear_pointer (&payload, g_bytes_unref);
      pp__mux_free_units (mux, NULL, units);
      return fail_session (mux, PP_GOAWAY_RESOURCES, "too many messages out of order");
    }
  if (pp_reasm_add (ts->reasm, ts->rx_next, p, payload, units, &why) != PP_REASM_OK)
    {
      g_clear_pointer (&payload, g_bytes_unref);
      pp__mux_free_units (mux, NULL, units);
      return pp__mux_violation (mux, ts, why);
    }
  mux->stats.pending_messages = mux->stats.pending_messages + 1;
  while (!ts->dead && !mux->closed
         && pp_reasm_pop (ts->reasm, ts->rx_next, &event, &payload, &units))
    {
      mux->stats.pending_messages--;
      pp__tuple_process (mux, ts, event, payload, units);
      g_clear_pointer (&payload, g_bytes_unref);
    }
}

void
pp_mux_receive (PpMux *mux, GBytes *msg)
{
  size_t len, off = 0;
  const uint8_t *data = g_bytes_get_data (msg, &len);
  gboolean coalesce = (mux->cfg.caps & PP_CAP_COALESCE) != 0;

  pp__mux_enter (mux);
  if (len == 0 && !mux->closed)
    pp__mux_violation (mux, NULL, "an empty message");
  while (off < len && !mux->closed)
    {
      PpPacket p;
      const char *why;

      if (pp_message_next (data, len, &off, coalesce, &p, &why) != PP_CODEC_OK)
        {
          pp__mux_violation (mux, NULL, why);
          break;
        }
      if (pp_tuple_is_zero (&p.tuple))
        {
          if (p.chunk_id != 0 || p.total_chunks != 1)
            pp__mux_violation (mux, NULL, "a session packet with a chunk_id or chunks");
          else
            handle_session_packet (mux, p.event, p.payload, p.payload_size);
        }
      else
        handle_tuple_packet (mux, msg, data, &p);
    }
  pp__mux_leave (mux);
}

void
pp_mux_flush (PpMux *mux)
{
  pp__mux_enter (mux);
  mux->flush_wanted = TRUE;
  pp__mux_leave (mux);
}

void
pp_mux_cork (PpMux *mux)
{
  mux->cork++;
}

void
pp_mux_uncork (PpMux *mux)
{
  g_return_if_fail (mux->cork > 0);
  mux->cork--;
  pp__mux_enter (mux);
  mux->flush_wanted = TRUE;
  pp__mux_leave (mux);
}

void
pp_mux_set_high_water (PpMux *mux, size_t bytes)
{
  mux->cfg.high_water = MAX (bytes, 1);
}

void
pp_mux_set_max_message_size (PpMux *mux, size_t bytes)
{
  pp__mux_enter (mux);
  pp__mux_emit_coalesced (mux);
  g_clear_pointer (&mux->coal, g_free);
  mux->cfg.max_message_size = CLAMP (bytes, PP_HEADER_SIZE + 1, PP_HEADER_SIZE + PP_MAX_PAYLOAD);
  pp__mux_leave (mux);
}

int64_t
pp_mux_next_deadline (PpMux *mux)
{
  int64_t d = G_MAXINT64;
  PpMuxConn *c;

  c = g_queue_peek_head (&mux->connect_timers);
  if (c != NULL)
    d = MIN (d, c->deadline);
  c = g_queue_peek_head (&mux->linger_timers);
  if (c != NULL)
    d = MIN (d, c->deadline);
  return d;
}

void
pp_mux_handle_timeout (PpMux *mux)
{
  pp__mux_enter (mux);
  pp__mux_expire_timers (mux, pp__mux_now (mux));
  pp__mux_leave (mux);
}

void
pp_mux_ping (PpMux *mux)
{
  uint8_t payload[PP_PING_PAYLOAD];

  pp__mux_enter (mux);
  if (mux->ready && !mux->closed)
    {
      pp_ping_encode ((uint64_t) pp__mux_now (mux), payload);
      pp__mux_send_session (mux, PP_EV_PING, payload, sizeof payload);
    }
  pp__mux_leave (mux);
}

void
pp_mux_goaway (PpMux *mux, PpGoawayReason reason, const char *detail)
{
  uint8_t payload[1 + PP_CLOSE_MAX_DETAIL];
  size_t len;

  pp__mux_enter (mux);
  if (!mux->closed)
    {
      len = pp_close_encode (reason, detail, payload, sizeof payload);
      pp__mux_send_session (mux, PP_EV_GOAWAY, payload, len);
      pp__mux_emit_coalesced (mux);
      close_session (mux, detail != NULL && *detail ? detail : "this side ended the session");
    }
  pp__mux_leave (mux);
}

void
pp_mux_transport_closed (PpMux *mux, const char *reason)
{
  pp__mux_enter (mux);
  mux->coal_len = 0;
  close_session (mux, reason);
  pp__mux_leave (mux);
}

void
pp_mux_get_stats (PpMux *mux, PpMuxStats *out)
{
  *out = mux->stats;
}

void
pp_mux_foreach_conn (PpMux *mux, PpMuxConnFunc func, gpointer user_data)
{
  GList *l;

  pp__mux_enter (mux);
  l = mux->conns.head;
  while (l != NULL)
    {
      PpMuxConn *conn = l->data;

      l = l->next;
      if (conn->ts != NULL && !conn->app_gone)
        func (conn, user_data);
    }
  pp__mux_leave (mux);
}
