/* SPDX-License-Identifier: MIT
 *
 * pp-tunnel: the glue of one session.  Transport → mux: messages, the
 * low-water callback, open and close.  Mux → transport: transmit.  Mux →
 * TCP: connection requests to pp-tcp-host, connection events to the pump
 * named by the connection's user data.  Time: a GSource whose prepare()
 * asks the mux for its next deadline on every main-loop iteration, so no
 * call into the mux can leave a timer stale.  No protocol logic lives here.
 */
#include "app/pp-tunnel.h"

#include "app/pp-sys.h"
#include "app/pp-tcp.h"

struct _PpTunnel
{
  PpTransport *t;
  PpMux *mux;
  PpMuxRole role;
  PpEpoll *ep;
  PpTcpClient *client;
  PpTcpHost *host;
  GMainContext *ctx;
  GSource *deadline;
  GSource *ping;
  PpTunnelEventFunc func;
  gpointer func_data;
  gboolean freeing;
  int64_t rtt_us;          /* last PONG, -1 before */
  size_t high_water;       /* the mux's from the send window; 0: static marks */
  PpTunnelConnFunc conn_func;
  gpointer conn_func_data;
};

typedef struct
{
  GSource source;
  PpTunnel *tun;
} PpDeadlineSource;

/* --- time --- */

static gboolean
pp_deadline_prepare (GSource *source, gint *timeout)
{
  PpTunnel *tun = ((PpDeadlineSource *) source)->tun;
  int64_t deadline = pp_mux_next_deadline (tun->mux);
  int64_t now;

  *timeout = -1;
  if (deadline == G_MAXINT64)
    return FALSE;
  now = g_get_monotonic_time ();
  if (deadline <= now)
    {
      *timeout = 0;
      return TRUE;
    }
  *timeout = (gint) MIN ((deadline - now + 999) / 1000, (int64_t) G_MAXINT);
  return FALSE;
}

static gboolean
pp_deadline_check (GSource *source)
{
  PpTunnel *tun = ((PpDeadlineSource *) source)->tun;

  return pp_mux_next_deadline (tun->mux) <= g_get_monotonic_time ();
}

static gboolean
pp_deadline_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  PpTunnel *tun = ((PpDeadlineSource *) source)->tun;

  pp_mux_handle_timeout (tun->mux);
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs pp_deadline_funcs = {
  .prepare = pp_deadline_prepare,
  .check = pp_deadline_check,
  .dispatch = pp_deadline_dispatch,
};

/* Only about one send window waits below the mux; the rest waits in the
 * mux's per-socket queues, where the round-robin lets a small message of one
 * socket pass another's bulk (docs/architecture.md, "Where bytes wait").
 * The low water sits near the window, so the mux refills the transport as
 * soon as SCTP could send more.  Unknown window (0): the static marks. */
static void
pp_tunnel_sync_water (PpTunnel *tun)
{
  size_t window = pp_transport_get_send_window (tun->t);
  size_t high;

  if (window == 0)
    return;
  high = CLAMP (window + window / 8, (size_t) PP_TUNNEL_MIN_HIGH_WATER,
                (size_t) PP_TUNNEL_HIGH_WATER);
  if (high == tun->high_water)
    return;
  tun->high_water = high;
  pp_mux_set_high_water (tun->mux, high);
  pp_transport_set_low_water (tun->t, high - high / 8);
}

static gboolean
pp_tunnel_ping_cb (gpointer data)
{
  PpTunnel *tun = data;

  pp_tunnel_sync_water (tun);
  pp_mux_flush (tun->mux);   /* the high water may have risen */
  if (pp_mux_is_ready (tun->mux) && !pp_mux_is_closed (tun->mux))
    pp_mux_ping (tun->mux);
  return G_SOURCE_CONTINUE;
}

/* --- mux callbacks --- */

static void
pp_tunnel_transmit_cb (PpMux *mux, GBytes *msg, gpointer user_data)
{
  PpTunnel *tun = user_data;
  g_autoptr (GError) error = NULL;

  if (!pp_transport_send (tun->t, msg, &error))
    g_debug ("tunnel: message dropped: %s", error->message);
  g_bytes_unref (msg);
}

static size_t
pp_tunnel_buffered_amount_cb (PpMux *mux, gpointer user_data)
{
  PpTunnel *tun = user_data;

  return pp_transport_get_buffered_amount (tun->t);
}

static int64_t
pp_tunnel_now_cb (PpMux *mux, gpointer user_data)
{
  return g_get_monotonic_time ();
}

static void
pp_tunnel_emit (PpTunnel *tun, PpTunnelEventType type, uint8_t reason, const char *detail,
                int64_t rtt_us)
{
  PpTunnelEvent ev = { type, reason, detail ? detail : "", rtt_us };

  if (tun->func && !tun->freeing)
    tun->func (tun, &ev, tun->func_data);
}

static PpTunnelEventType
pp_tunnel_event_type (PpMuxSessionEventType type)
{
  switch (type)
    {
    case PP_MUX_SESSION_READY:
      return PP_TUNNEL_EV_READY;
    case PP_MUX_SESSION_GOAWAY:
      return PP_TUNNEL_EV_GOAWAY;
    case PP_MUX_SESSION_FAILED:
      return PP_TUNNEL_EV_FAILED;
    case PP_MUX_SESSION_PONG:
      return PP_TUNNEL_EV_PONG;
    }
  g_assert_not_reached ();
}

static void
pp_tunnel_session_cb (PpMux *mux, const PpMuxSessionEvent *ev, gpointer user_data)
{
  PpTunnel *tun = user_data;

  if (ev->type == PP_MUX_SESSION_PONG)
    tun->rtt_us = ev->rtt_us;
  /* Ready: accept.  Ended: accept too, so queued apps get a reset at once. */
  if (tun->client && ev->type != PP_MUX_SESSION_PONG)
    pp_tcp_client_set_accepting (tun->client, TRUE);
  pp_tunnel_emit (tun, pp_tunnel_event_type (ev->type), ev->reason, ev->detail, ev->rtt_us);
}

static void
pp_tunnel_conn_request_cb (PpMux *mux, PpMuxConn *conn, gpointer user_data)
{
  PpTunnel *tun = user_data;

  if (!tun->host)
    {
      pp_mux_conn_abort (conn, PP_CLOSE_REFUSED, "not a host");
      return;
    }
  pp_tcp_host_handle_request (tun->host, conn);
}

static void
pp_tunnel_conn_event_cb (PpMux *mux, PpMuxConn *conn, PpMuxConnEvent ev, gpointer user_data)
{
  pp_tcp_conn_dispatch (conn, ev);
}

static const PpMuxCallbacks pp_tunnel_mux_callbacks = {
  .transmit_cb = pp_tunnel_transmit_cb,
  .buffered_amount_cb = pp_tunnel_buffered_amount_cb,
  .now_cb = pp_tunnel_now_cb,
  .session_cb = pp_tunnel_session_cb,
  .conn_request_cb = pp_tunnel_conn_request_cb,
  .conn_event_cb = pp_tunnel_conn_event_cb,
};

/* --- transport callbacks --- */

static void
pp_tunnel_sync_message_size (PpTunnel *tun)
{
  size_t max = pp_transport_get_max_message_size (tun->t);

  if (max > 0)
    pp_mux_set_max_message_size (tun->mux, max);
}

static void
pp_tunnel_opened_cb (PpTransport *t, gpointer user_data)
{
  PpTunnel *tun = user_data;

  pp_tunnel_sync_message_size (tun);
  pp_tunnel_sync_water (tun);
  pp_mux_start (tun->mux);
}

static void
pp_tunnel_message_cb (PpTransport *t, GBytes *msg, gpointer user_data)
{
  PpTunnel *tun = user_data;

  pp_mux_receive (tun->mux, msg);
}

static void
pp_tunnel_buffered_low_cb (PpTransport *t, gpointer user_data)
{
  PpTunnel *tun = user_data;

  pp_tunnel_sync_water (tun);
  pp_mux_flush (tun->mux);
}

static void
pp_tunnel_closed_cb (PpTransport *t, const char *reason, gpointer user_data)
{
  PpTunnel *tun = user_data;

  pp_mux_transport_closed (tun->mux, reason);
  if (tun->client)
    pp_tcp_client_set_accepting (tun->client, TRUE);
  pp_tunnel_emit (tun, PP_TUNNEL_EV_CLOSED, 0, reason, 0);
}

static const PpTransportCallbacks pp_tunnel_transport_callbacks = {
  .opened_cb = pp_tunnel_opened_cb,
  .message_cb = pp_tunnel_message_cb,
  .buffered_low_cb = pp_tunnel_buffered_low_cb,
  .closed_cb = pp_tunnel_closed_cb,
};

/* --- life --- */

static GSource *
pp_tunnel_attach (PpTunnel *tun, GSource *src)
{
  g_source_attach (src, tun->ctx);
  return src;
}

PpTunnel *
pp_tunnel_new (PpTransport *t, PpMuxRole role, const PpMuxConfig *cfg, PpEpoll *ep)
{
  PpTunnel *tun = g_new0 (PpTunnel, 1);
  PpMuxConfig config;
  PpDeadlineSource *ds;

  pp_sys_raise_nofile_limit ();
  if (cfg)
    config = *cfg;
  else
    pp_mux_config_init (&config);
  config.high_water = PP_TUNNEL_HIGH_WATER;
  if (pp_transport_get_max_message_size (t) > 0)
    config.max_message_size = pp_transport_get_max_message_size (t);
  tun->t = pp_transport_ref (t);
  tun->rtt_us = -1;
  tun->role = role;
  tun->ep = ep;
  tun->ctx = g_main_context_ref_thread_default ();
  tun->mux = pp_mux_new (role, &config, &pp_tunnel_mux_callbacks, tun);
  if (role == PP_MUX_ROLE_CLIENT)
    tun->client = pp_tcp_client_new (ep, tun->mux);
  else
    tun->host = pp_tcp_host_new (ep, tun->mux, NULL);
  ds = (PpDeadlineSource *) g_source_new (&pp_deadline_funcs, sizeof (PpDeadlineSource));
  ds->tun = tun;
  tun->deadline = pp_tunnel_attach (tun, (GSource *) ds);
  tun->ping = pp_tunnel_attach (tun, g_timeout_source_new (PP_TUNNEL_PING_INTERVAL_MS));
  g_source_set_callback (tun->ping, pp_tunnel_ping_cb, tun, NULL);
  pp_transport_set_low_water (t, PP_TUNNEL_LOW_WATER);
  pp_transport_set_callbacks (t, &pp_tunnel_transport_callbacks, tun);
  if (pp_transport_get_state (t) == PP_TRANSPORT_OPEN)
    pp_tunnel_opened_cb (t, tun);
  return tun;
}

static void
pp_tunnel_source_clear (GSource **src)
{
  g_source_destroy (*src);
  g_source_unref (*src);
  *src = NULL;
}

void
pp_tunnel_free (PpTunnel *tun)
{
  if (!tun)
    return;
  tun->freeing = TRUE;
  if (!pp_mux_is_closed (tun->mux))
    pp_mux_goaway (tun->mux, PP_GOAWAY_NORMAL, "session ended");
  pp_tcp_client_free (tun->client);
  pp_tcp_host_free (tun->host);
  pp_tunnel_source_clear (&tun->deadline);
  pp_tunnel_source_clear (&tun->ping);
  pp_transport_set_callbacks (tun->t, NULL, NULL);
  pp_mux_free (tun->mux);
  pp_transport_unref (tun->t);
  g_main_context_unref (tun->ctx);
  g_free (tun);
}

void
pp_tunnel_set_event_func (PpTunnel *tun, PpTunnelEventFunc func, gpointer user_data)
{
  tun->func = func;
  tun->func_data = user_data;
}

PpMux *
pp_tunnel_get_mux (PpTunnel *tun)
{
  return tun->mux;
}

PpTransport *
pp_tunnel_get_transport (PpTunnel *tun)
{
  return tun->t;
}

PpTcpClient *
pp_tunnel_get_client (PpTunnel *tun)
{
  return tun->client;
}

PpTcpHost *
pp_tunnel_get_host (PpTunnel *tun)
{
  return tun->host;
}

void
pp_tunnel_set_rules (PpTunnel *tun, PpRules *rules)
{
  g_return_if_fail (tun->host != NULL);
  pp_tcp_host_set_rules (tun->host, rules);
}

guint
pp_tunnel_add_mapping (PpTunnel *tun, const char *text, GError **error)
{
  g_return_val_if_fail (tun->client != NULL, 0);
  return pp_tcp_client_add_mapping (tun->client, text, error);
}

int64_t
pp_tunnel_get_rtt (PpTunnel *tun)
{
  return tun->rtt_us;
}

void
pp_tunnel_goaway (PpTunnel *tun, PpGoawayReason reason, const char *detail)
{
  if (!pp_mux_is_closed (tun->mux))
    pp_mux_goaway (tun->mux, reason, detail);
}

/* --- per-connection observer --- */

static void
pp_tunnel_conn_observed_cb (const PpTcpConnEvent *ev, gpointer user_data)
{
  PpTunnel *tun = user_data;

  if (tun->conn_func && !tun->freeing)
    tun->conn_func (tun, ev, tun->conn_func_data);
}

void
pp_tunnel_set_conn_func (PpTunnel *tun, PpTunnelConnFunc func, gpointer user_data)
{
  tun->conn_func = func;
  tun->conn_func_data = user_data;
  if (tun->client)
    pp_tcp_client_set_observer (tun->client, func ? pp_tunnel_conn_observed_cb : NULL, tun);
  if (tun->host)
    pp_tcp_host_set_observer (tun->host, func ? pp_tunnel_conn_observed_cb : NULL, tun);
}
