/* SPDX-License-Identifier: MIT
 *
 * pp-webrtc-transport: wires pp-ice, pp-dtls and pp-sctp into a PpTransport
 * and owns their order: DTLS starts once the roles are known (a server at
 * once, so early ClientHellos are kept; a client once ICE connects), SCTP
 * once DTLS is up, with the path MTU picked from the selected pair.
 * Teardown runs the other way: SCTP, then DTLS (close_notify), then ICE.
 * Every entry from a GLib source holds a reference, and the pieces defer
 * their own frees, so a callback may drop the last reference anywhere.
 */
#include "pp-webrtc-transport.h"

#include <string.h>

#include "pp-dtls.h"
#include "pp-ice.h"
#include "pp-sctp.h"
#include "pp-sdp.h"

#define MAX_SEND_MESSAGE (1024 * 1024)   /* usrsctp refuses messages above SO_SNDBUF */
#define DRAIN_TIMEOUT_MS 2000            /* an orderly close waits this long for acks */

typedef struct
{
  PpTransport base;
  PpWebrtcConfig cfg;
  char **local_addresses;
  PpWebrtcTurn *turn;
  char *stun_host;
  GMainContext *context;
  PpWebrtcDescriptionFunc description_cb;
  gpointer description_data;

  PpDtlsCert *cert;
  PpIce *ice;
  PpDtls *dtls;
  PpSctp *sctp;

  PpSdp remote;
  gboolean have_remote;
  gboolean dtls_client;
  gboolean described;
  gboolean ice_connected;
  gboolean dtls_started;
  guint sctp_mtu;
  gboolean was_above_low;
  gboolean muted;
  gboolean closing;
  gboolean draining;            /* close asked; waiting for sent data to be acked */
  GSource *drain_timer;
  char *close_reason;
  GSource *close_idle;
  GSource *describe_idle;
  GSource *liveness;
  gint64 dtls_start_us;

  uint64_t messages_sent, messages_received, bytes_sent, bytes_received;
} PpWebrtcTransport;

static void wt_finalize (PpTransport *t);
static gboolean wt_send (PpTransport *t, GBytes *msg, GError **error);
static size_t wt_get_buffered_amount (PpTransport *t);
static size_t wt_get_max_message_size (PpTransport *t);
static size_t wt_get_send_window (PpTransport *t);
static void wt_get_stats (PpTransport *t, PpTransportStats *out);
static void wt_close (PpTransport *t, const char *reason);

static const PpTransportClass wt_class = {
  .send = wt_send,
  .get_buffered_amount = wt_get_buffered_amount,
  .get_max_message_size = wt_get_max_message_size,
  .get_send_window = wt_get_send_window,
  .get_stats = wt_get_stats,
  .close = wt_close,
  .finalize = wt_finalize,
};

static PpWebrtcTransport *
wt_cast (PpTransport *t)
{
  g_return_val_if_fail (t != NULL && t->klass == &wt_class, NULL);
  return (PpWebrtcTransport *) t;
}

void
pp_webrtc_config_init (PpWebrtcConfig *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->gather_timeout_ms = 2000;
  cfg->liveness_timeout_ms = 15000;
  cfg->max_message_size = 262144;
}

/* ---- closing ---- */

static void
stop_source (GSource **src)
{
  if (*src != NULL)
    {
      g_source_destroy (*src);
      g_clear_pointer (src, g_source_unref);
    }
}

/* Stops the stack in order; the base reports closed_cb from an idle so
 * that a close from inside a callback does not re-enter the user. */
static gboolean
close_idle_cb (gpointer data)
{
  PpWebrtcTransport *w = data;
  g_autofree char *reason = g_steal_pointer (&w->close_reason);

  g_clear_pointer (&w->close_idle, g_source_unref);
  pp_transport_ref (&w->base);
  pp__transport_emit_closed (&w->base, reason ? reason : "closed");
  pp_transport_unref (&w->base);
  return G_SOURCE_REMOVE;
}

static void
shut_stack (PpWebrtcTransport *w)
{
  stop_source (&w->liveness);
  if (w->sctp != NULL)
    pp_sctp_reset_channel (w->sctp);   /* a browser sees the channel close */
  if (w->dtls != NULL)
    pp_dtls_close (w->dtls);      /* then close_notify: the ABORT below is dropped */
  if (w->sctp != NULL)
    pp_sctp_close (w->sctp);
}

static void
fail (PpWebrtcTransport *w, const char *reason)
{
  if (w->closing)
    return;
  w->closing = TRUE;
  w->draining = FALSE;
  stop_source (&w->drain_timer);
  if (w->close_reason == NULL)
    w->close_reason = g_strdup (reason);
  shut_stack (w);
  w->close_idle = g_idle_source_new ();
  g_source_set_callback (w->close_idle, close_idle_cb, w, NULL);
  g_source_set_static_name (w->close_idle, "pp-webrtc-closed");
  g_source_attach (w->close_idle, w->context);
}

static gboolean
drain_timeout_cb (gpointer data)
{
  PpWebrtcTransport *w = data;

  g_clear_pointer (&w->drain_timer, g_source_unref);
  pp_transport_ref (&w->base);
  fail (w, w->close_reason);
  pp_transport_unref (&w->base);
  return G_SOURCE_REMOVE;
}

/* Orderly: what was accepted is sent and acknowledged first (a GOAWAY
 * right before the close must arrive), bounded by DRAIN_TIMEOUT_MS. */
static void
wt_close (PpTransport *t, const char *reason)
{
  PpWebrtcTransport *w = wt_cast (t);

  if (w->closing || w->draining)
    return;
  w->close_reason = g_strdup (reason ? reason : "closed by us");
  if (w->sctp == NULL || !pp_sctp_is_open (w->sctp) || pp_sctp_get_buffered_amount (w->sctp) == 0)
    {
      fail (w, w->close_reason);
      return;
    }
  w->draining = TRUE;
  w->drain_timer = g_timeout_source_new (DRAIN_TIMEOUT_MS);
  g_source_set_callback (w->drain_timer, drain_timeout_cb, w, NULL);
  g_source_set_static_name (w->drain_timer, "pp-webrtc-drain");
  g_source_attach (w->drain_timer, w->context);
}

/* ---- SCTP ---- */

static void
sctp_output_cb (const uint8_t *packet, size_t len, gpointer data)
{
  PpWebrtcTransport *w = data;

  if (w->dtls != NULL)
    pp_dtls_send (w->dtls, packet, len);
}

static void
sctp_open_cb (gpointer data)
{
  PpWebrtcTransport *w = data;

  w->was_above_low = FALSE;
  pp__transport_emit_opened (&w->base);
}

static void
sctp_message_cb (GBytes *msg, gpointer data)
{
  PpWebrtcTransport *w = data;

  w->messages_received++;
  w->bytes_received += g_bytes_get_size (msg);
  pp__transport_emit_message (&w->base, msg);
}

static void
sctp_drained_cb (gpointer data)
{
  PpWebrtcTransport *w = data;
  size_t buffered = pp_sctp_get_buffered_amount (w->sctp);

  if (w->draining)
    {
      if (buffered == 0)
        fail (w, w->close_reason);
      return;
    }
  if (buffered > w->base.low_water)
    {
      w->was_above_low = TRUE;
      return;
    }
  if (!w->was_above_low)
    return;
  w->was_above_low = FALSE;
  pp__transport_emit_buffered_low (&w->base);
}

static void
sctp_closed_cb (gboolean error, const char *reason, gpointer data)
{
  fail (data, reason);
}

static const PpSctpCallbacks sctp_callbacks = { sctp_output_cb, sctp_open_cb, sctp_message_cb,
                                                sctp_drained_cb, sctp_closed_cb };

/* ---- DTLS ---- */

static void
dtls_send_cb (const uint8_t *data, size_t len, gpointer user_data)
{
  PpWebrtcTransport *w = user_data;

  if (!w->muted && w->ice != NULL)
    pp_ice_send (w->ice, data, len);
}

static void
dtls_connected_cb (gpointer data)
{
  PpWebrtcTransport *w = data;
  g_autoptr (GError) error = NULL;
  gboolean loopback = FALSE;
  char pair[160];
  guint hb = MIN (5000u, MAX (w->cfg.liveness_timeout_ms / 3, 100u));

  if (pp_ice_get_selected_pair (w->ice, pair, sizeof pair, &loopback))
    g_debug ("selected pair: %s", pair);
  /* Only a pair of loopback addresses: Chromium never gathers those, and it
   * drops SCTP packets above ~1200 bytes even between two addresses of one
   * machine (tried: the association stalls at once). */
  w->sctp_mtu = w->cfg.sctp_mtu ? w->cfg.sctp_mtu
                                : loopback ? PP_SCTP_MTU_LOOPBACK : PP_SCTP_MTU_DEFAULT;
  if (!pp_sctp_start (w->sctp, PP_SCTP_PORT, w->remote.sctp_port, w->sctp_mtu, hb, &error))
    fail (w, error->message);
}

static void
dtls_data_cb (const uint8_t *data, size_t len, gpointer user_data)
{
  pp_sctp_input (((PpWebrtcTransport *) user_data)->sctp, data, len);
}

static void
dtls_closed_cb (gboolean error, const char *reason, gpointer data)
{
  PpWebrtcTransport *w = data;

  if (!error)
    fail (w, "peer closed the connection (DTLS close_notify)");
  else
    fail (w, reason);
}

static const PpDtlsCallbacks dtls_callbacks = { dtls_send_cb, dtls_connected_cb, dtls_data_cb,
                                                dtls_closed_cb };

static void arm_liveness (PpWebrtcTransport *w, gint64 deadline_us);

/* Fires exactly at last record + timeout, re-arming itself while records
 * keep coming, so a vanished peer is reported on time and a live one costs
 * one wake-up per timeout period. */
static gboolean
liveness_cb (gpointer data)
{
  PpWebrtcTransport *w = data;
  gint64 last = MAX (pp_dtls_get_last_receive_us (w->dtls), w->dtls_start_us);
  gint64 deadline = last + (gint64) w->cfg.liveness_timeout_ms * 1000;
  g_autofree char *why = NULL;

  if (g_get_monotonic_time () < deadline)
    {
      arm_liveness (w, deadline);
      return G_SOURCE_REMOVE;
    }
  why = g_strdup_printf ("peer vanished (no DTLS record for %g s)",
                         w->cfg.liveness_timeout_ms / 1000.0);
  pp_transport_ref (&w->base);
  fail (w, why);
  pp_transport_unref (&w->base);
  return G_SOURCE_REMOVE;
}

static void
arm_liveness (PpWebrtcTransport *w, gint64 deadline_us)
{
  gint64 ms = (deadline_us - g_get_monotonic_time () + 999) / 1000;

  stop_source (&w->liveness);
  w->liveness = g_timeout_source_new ((guint) CLAMP (ms, 1, G_MAXINT));
  g_source_set_callback (w->liveness, liveness_cb, w, NULL);
  g_source_set_static_name (w->liveness, "pp-webrtc-liveness");
  g_source_attach (w->liveness, w->context);
}

static void
maybe_start_dtls (PpWebrtcTransport *w)
{
  if (w->dtls_started || !w->have_remote || w->closing)
    return;
  if (w->dtls_client && !w->ice_connected)
    return;
  w->dtls_started = TRUE;
  w->dtls_start_us = g_get_monotonic_time ();
  arm_liveness (w, w->dtls_start_us + (gint64) w->cfg.liveness_timeout_ms * 1000);
  pp_dtls_set_remote_fingerprint (w->dtls, w->remote.fingerprint);
  pp_dtls_start (w->dtls, w->dtls_client);
}

/* ---- ICE ---- */

static void
emit_description (PpWebrtcTransport *w)
{
  g_autofree char *ufrag = NULL, *pwd = NULL, *sdp = NULL;
  g_auto (GStrv) cands = pp_ice_get_local_candidates (w->ice);
  gboolean offer = w->cfg.role == PP_WEBRTC_OFFERER;
  PpSdpLocal l = { .offer = offer, .session_id = g_random_int () | (uint64_t) g_random_int () << 29,
                   .fingerprint = pp_dtls_cert_get_fingerprint (w->cert),
                   .setup = w->dtls_client ? PP_SDP_SETUP_ACTIVE : PP_SDP_SETUP_PASSIVE,
                   .max_message_size = w->cfg.max_message_size,
                   .candidates = (const char *const *) cands };

  pp_ice_get_local_credentials (w->ice, &ufrag, &pwd);
  l.ufrag = ufrag;
  l.pwd = pwd;
  if (!offer)
    {
      l.mid = w->remote.mid;
      l.proto = w->remote.proto;
      l.fmt = w->remote.fmt;
    }
  sdp = pp_sdp_generate (&l);
  w->described = TRUE;
  if (w->description_cb != NULL)
    w->description_cb (&w->base, sdp, w->description_data);
}

static gboolean
apply_remote_to_ice (PpWebrtcTransport *w, GError **error)
{
  g_ptr_array_add (w->remote.candidates, NULL);
  gboolean ok = pp_ice_set_remote (w->ice, w->remote.ufrag, w->remote.pwd,
                                   (const char *const *) w->remote.candidates->pdata, NULL, error);
  g_ptr_array_remove_index (w->remote.candidates, w->remote.candidates->len - 1);
  return ok;
}

static gboolean
describe_idle_cb (gpointer data)
{
  PpWebrtcTransport *w = data;

  g_clear_pointer (&w->describe_idle, g_source_unref);
  pp_transport_ref (&w->base);
  if (!w->closing)
    emit_description (w);
  pp_transport_unref (&w->base);
  return G_SOURCE_REMOVE;
}

/* libnice may finish gathering inside gather_candidates(): report from an
 * idle so description_cb never runs before new() or set_remote returned. */
static void
ice_gathered_cb (gpointer data)
{
  PpWebrtcTransport *w = data;

  if (w->describe_idle != NULL || w->described)
    return;
  w->describe_idle = g_idle_source_new ();
  g_source_set_callback (w->describe_idle, describe_idle_cb, w, NULL);
  g_source_set_static_name (w->describe_idle, "pp-webrtc-describe");
  g_source_attach (w->describe_idle, w->context);
}

static void
ice_connected_cb (gpointer data)
{
  PpWebrtcTransport *w = data;

  pp_transport_ref (&w->base);
  w->ice_connected = TRUE;
  maybe_start_dtls (w);
  pp_transport_unref (&w->base);
}

static void
ice_receive_cb (const uint8_t *data, size_t len, gpointer user_data)
{
  PpWebrtcTransport *w = user_data;

  /* RFC 7983: 20–63 is DTLS; STUN never reaches us, anything else is dropped. */
  if (w->muted || len == 0 || data[0] < 20 || data[0] > 63 || w->dtls == NULL)
    return;
  pp_transport_ref (&w->base);
  pp_dtls_receive (w->dtls, data, len);
  pp_transport_unref (&w->base);
}

static void
ice_failed_cb (const char *reason, gpointer data)
{
  PpWebrtcTransport *w = data;

  pp_transport_ref (&w->base);
  fail (w, reason);
  pp_transport_unref (&w->base);
}

static const PpIceCallbacks ice_callbacks = { ice_gathered_cb, ice_connected_cb, ice_receive_cb,
                                              ice_failed_cb };

/* ---- public ---- */

static void
copy_config (PpWebrtcTransport *w, const PpWebrtcConfig *cfg)
{
  w->cfg = *cfg;
  if (w->cfg.gather_timeout_ms == 0)
    w->cfg.gather_timeout_ms = 2000;
  if (w->cfg.liveness_timeout_ms == 0)
    w->cfg.liveness_timeout_ms = 15000;
  if (w->cfg.max_message_size == 0)
    w->cfg.max_message_size = 262144;
  w->local_addresses = g_strdupv ((char **) cfg->local_addresses);
  w->cfg.local_addresses = (const char *const *) w->local_addresses;
  w->stun_host = g_strdup (cfg->stun_host);
  w->cfg.stun_host = w->stun_host;
  w->turn = g_new0 (PpWebrtcTurn, cfg->n_turn + 1);
  for (guint i = 0; i < cfg->n_turn; i++)
    {
      w->turn[i].host = g_strdup (cfg->turn[i].host);
      w->turn[i].port = cfg->turn[i].port;
      w->turn[i].username = g_strdup (cfg->turn[i].username);
      w->turn[i].password = g_strdup (cfg->turn[i].password);
      w->turn[i].tcp = cfg->turn[i].tcp;
    }
  w->cfg.turn = w->turn;
}

static PpIce *
make_ice (PpWebrtcTransport *w, GError **error)
{
  g_autofree PpIceTurnServer *turn = g_new0 (PpIceTurnServer, w->cfg.n_turn + 1);
  PpIceConfig ic = { .stun_host = w->cfg.stun_host, .stun_port = w->cfg.stun_port,
                     .turn = turn, .n_turn = w->cfg.n_turn,
                     .local_addresses = w->cfg.local_addresses,
                     .gather_timeout_ms = w->cfg.gather_timeout_ms };

  for (guint i = 0; i < w->cfg.n_turn; i++)
    turn[i] = (PpIceTurnServer) { w->turn[i].host, w->turn[i].port, w->turn[i].username,
                                  w->turn[i].password, w->turn[i].tcp };
  return pp_ice_new (w->context, &ic, w->cfg.role == PP_WEBRTC_OFFERER, &ice_callbacks, w,
                     error);
}

PpTransport *
pp_webrtc_transport_new (const PpWebrtcConfig *cfg, PpWebrtcDescriptionFunc description_cb,
                         gpointer user_data, GError **error)
{
  PpWebrtcTransport *w = g_new0 (PpWebrtcTransport, 1);

  pp__transport_init (&w->base, &wt_class);
  copy_config (w, cfg);
  w->context = g_main_context_ref_thread_default ();
  w->description_cb = description_cb;
  w->description_data = user_data;
  w->cert = pp_dtls_cert_get_default (error);
  if (w->cert == NULL)
    goto fail;
  w->ice = make_ice (w, error);
  if (w->ice == NULL)
    goto fail;
  w->dtls = pp_dtls_new (w->cert, w->context, &dtls_callbacks, w);
  w->sctp = pp_sctp_new (w->context, &sctp_callbacks, w);
  if (cfg->role == PP_WEBRTC_OFFERER && !pp_ice_gather (w->ice, error))
    goto fail;
  return &w->base;
fail:
  pp_transport_unref (&w->base);
  return NULL;
}

static gboolean
check_roles (PpWebrtcTransport *w, const PpSdp *sdp, GError **error)
{
  gboolean offerer = w->cfg.role == PP_WEBRTC_OFFERER;

  switch (sdp->setup)
    {
    case PP_SDP_SETUP_ACTPASS:
      if (offerer)
        break;   /* an answer must choose (RFC 5763) */
      w->dtls_client = TRUE;
      return TRUE;
    case PP_SDP_SETUP_ACTIVE:
      w->dtls_client = FALSE;
      return TRUE;
    case PP_SDP_SETUP_PASSIVE:
      w->dtls_client = TRUE;
      return TRUE;
    case PP_SDP_SETUP_NONE:
    default:
      /* RFC 4145: absent means active for an answer, actpass for an offer. */
      w->dtls_client = !offerer;
      return TRUE;
    }
  g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED,
               "SDP: the answer says a=setup:actpass; it must pick active or passive");
  return FALSE;
}

gboolean
pp_webrtc_transport_set_remote_description (PpTransport *t, const char *text, GError **error)
{
  PpWebrtcTransport *w = wt_cast (t);
  const char *reason = NULL;
  PpSdp sdp;

  if (w->have_remote || w->closing)
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED,
                   w->closing ? "SDP: the transport is closed" : "SDP: already applied");
      return FALSE;
    }
  if (pp_sdp_parse (text, strlen (text), &sdp, &reason) != PP_SDP_OK)
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED, "SDP: %s", reason);
      return FALSE;
    }
  if (!check_roles (w, &sdp, error))
    {
      pp_sdp_clear (&sdp);
      return FALSE;
    }
  w->remote = sdp;
  w->have_remote = TRUE;
  if (w->cfg.role == PP_WEBRTC_ANSWERER && !pp_ice_gather (w->ice, error))
    return FALSE;
  if (!apply_remote_to_ice (w, error))
    return FALSE;
  maybe_start_dtls (w);
  return TRUE;
}

gboolean
pp_webrtc_transport_add_remote_candidate (PpTransport *t, const char *candidate)
{
  PpWebrtcTransport *w = wt_cast (t);
  g_autofree char *c = pp_sdp_candidate_normalize (candidate, strlen (candidate));
  const char *one[] = { c, NULL };

  if (c == NULL || !w->have_remote)
    return FALSE;
  return pp_ice_set_remote (w->ice, w->remote.ufrag, w->remote.pwd, one, NULL, NULL);
}

guint
pp_webrtc_transport_get_sctp_mtu (PpTransport *t)
{
  return wt_cast (t)->sctp_mtu;
}

const uint8_t *
pp_webrtc_transport_get_local_fingerprint (PpTransport *t)
{
  return pp_dtls_cert_get_fingerprint (wt_cast (t)->cert);
}

char *
pp_webrtc_transport_describe (PpTransport *t)
{
  PpWebrtcTransport *w = wt_cast (t);
  PpSctpInfo info;

  if (w->sctp == NULL)
    return g_strdup ("SCTP not started");
  pp_sctp_get_info (w->sctp, &info);
  if (!info.valid)
    return g_strdup_printf ("SCTP: no association (queued %zu)", info.queued);
  return g_strdup_printf ("SCTP state %d: queued %zu, in usrsctp %zu, cwnd %u, peer rwnd %u, "
                          "%u chunks unacked, %u pending, srtt %u ms, mtu %u, %u stall kicks; "
                          "%" G_GUINT64_FORMAT " messages sent, %" G_GUINT64_FORMAT
                          " received", info.state, info.queued, info.in_usrsctp, info.cwnd,
                          info.peer_rwnd, info.unacked, info.pending, info.srtt_ms, info.mtu,
                          info.stall_kicks,
                          w->messages_sent, w->messages_received);
}

void
pp__webrtc_transport_set_muted (PpTransport *t, gboolean muted)
{
  wt_cast (t)->muted = muted;
}

/* ---- class ---- */

static gboolean
wt_send (PpTransport *t, GBytes *msg, GError **error)
{
  PpWebrtcTransport *w = wt_cast (t);

  if (w->closing || w->draining || w->sctp == NULL || !pp_sctp_is_open (w->sctp))
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_CLOSED,
                   "the data channel is not open");
      return FALSE;
    }
  if (!pp_sctp_send (w->sctp, msg))
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_CLOSED,
                   "the data channel closed");
      return FALSE;
    }
  w->messages_sent++;
  w->bytes_sent += g_bytes_get_size (msg);
  if (pp_sctp_get_buffered_amount (w->sctp) > w->base.low_water)
    w->was_above_low = TRUE;
  return TRUE;
}

static size_t
wt_get_buffered_amount (PpTransport *t)
{
  PpWebrtcTransport *w = wt_cast (t);

  return w->sctp != NULL ? pp_sctp_get_buffered_amount (w->sctp) : 0;
}

static size_t
wt_get_max_message_size (PpTransport *t)
{
  PpWebrtcTransport *w = wt_cast (t);
  uint64_t remote = w->have_remote ? w->remote.max_message_size : PP_SDP_DEFAULT_MAX_MESSAGE;

  if (remote == 0 || remote > MAX_SEND_MESSAGE)
    return MAX_SEND_MESSAGE;   /* 0: the peer sets no limit (RFC 8841) */
  return (size_t) remote;
}

/* SCTP's in-flight limit: with the mux's high water near it, bulk waits in
 * the mux's per-socket queues (round-robin), not in our FIFO. */
static size_t
wt_get_send_window (PpTransport *t)
{
  PpWebrtcTransport *w = wt_cast (t);

  if (w->closing || w->draining || w->sctp == NULL)
    return 0;
  return pp_sctp_get_send_window (w->sctp);
}

static void
wt_get_stats (PpTransport *t, PpTransportStats *out)
{
  PpWebrtcTransport *w = wt_cast (t);
  PpSctpInfo info = { 0 };
  char pair[128] = "not connected";

  memset (out, 0, sizeof *out);
  out->messages_sent = w->messages_sent;
  out->messages_received = w->messages_received;
  out->bytes_sent = w->bytes_sent;
  out->bytes_received = w->bytes_received;
  out->buffered_amount = wt_get_buffered_amount (t);
  out->rtt_us = -1;
  if (w->sctp != NULL)
    pp_sctp_get_info (w->sctp, &info);
  if (info.valid && info.srtt_ms > 0)
    out->rtt_us = (int64_t) info.srtt_ms * 1000;
  if (w->ice != NULL)
    pp_ice_get_selected_pair (w->ice, pair, sizeof pair, NULL);
  g_strlcpy (out->path, pair, sizeof out->path);
}

static void
wt_finalize (PpTransport *t)
{
  PpWebrtcTransport *w = (PpWebrtcTransport *) t;

  stop_source (&w->liveness);
  stop_source (&w->close_idle);
  stop_source (&w->describe_idle);
  stop_source (&w->drain_timer);
  /* SCTP first (its ABORT may still pass through DTLS), then DTLS, then ICE. */
  g_clear_pointer (&w->sctp, pp_sctp_free);
  g_clear_pointer (&w->dtls, pp_dtls_free);
  g_clear_pointer (&w->ice, pp_ice_free);
  g_clear_pointer (&w->cert, pp_dtls_cert_unref);
  if (w->have_remote)
    pp_sdp_clear (&w->remote);
  for (guint i = 0; i < w->cfg.n_turn; i++)
    {
      g_free ((char *) w->turn[i].host);
      g_free ((char *) w->turn[i].username);
      g_free ((char *) w->turn[i].password);
    }
  g_free (w->turn);
  g_free (w->stun_host);
  g_strfreev (w->local_addresses);
  g_free (w->close_reason);
  g_main_context_unref (w->context);
  g_free (w);
}
