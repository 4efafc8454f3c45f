/* SPDX-License-Identifier: MIT
 *
 * pp-host-peer: one peer of `peerport host` — its signaling session (a
 * remote server's, or one made in-process by the embedded server), the join
 * request with its verification code, the offer that is the approval, and
 * its tunnel with the shared rules.  Every asynchronous step holds a
 * reference, so a peer that ends while a request is in flight is freed only
 * after the request's callback.  It decides nothing about the host's end:
 * it reports its own with pp_host_peer_ended().
 */
#include <stdarg.h>
#include <string.h>

#include "app/pp-tunnel.h"
#include "cli/pp-cli.h"
#include "cli/pp-host.h"
#include "transport/webrtc/pp-webrtc-transport.h"

typedef enum
{
  PEER_WAITING,            /* the link is out; nobody joined yet */
  PEER_JOINING,            /* nonce posted, waiting for the reveal */
  PEER_ASKING,             /* the person decides */
  PEER_OFFERING,           /* accepted: offer when gathered, then the answer */
  PEER_CONNECTING,         /* answered: ICE, DTLS, SCTP, HELLO */
  PEER_OPEN,
  PEER_ENDED,
} PeerState;

static const char *const peer_state_names[] = {
  "waiting for a peer", "joining", "waiting for your answer", "accepted, offering",
  "connecting", "open", "ended",
};

struct _PpHostPeer
{
  int refs;
  PpHost *h;
  guint id;
  PeerState state;
  PpSignalClient *client;
  GCancellable *cancel;
  PpTransport *t;
  PpTunnel *tun;
  char *offer;             /* our description once gathered */
  gboolean approved;       /* the offer goes out when both hold */
  gboolean answered;       /* the session is consumed on the server */
  char *peer;              /* escaped name of the peer */
  char *code;              /* "123 456" */
  GStrv urls;
  int64_t rtt_us;
};

typedef void (*PeerStep) (PpHostPeer *p, GAsyncResult *res);

typedef struct
{
  PpHostPeer *p;
  PeerStep step;
} PeerOp;

static void peer_wait_join (PpHostPeer *p);

static PpHostPeer *
peer_ref (PpHostPeer *p)
{
  p->refs++;
  return p;
}

static void
peer_unref (PpHostPeer *p)
{
  if (--p->refs > 0)
    return;
  g_clear_object (&p->cancel);
  pp_signal_client_free (p->client);
  if (p->t != NULL)
    pp_transport_unref (p->t);
  g_free (p->offer);
  g_free (p->peer);
  g_free (p->code);
  g_strfreev (p->urls);
  g_free (p);
}

static void
peer_op_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  PeerOp *op = user_data;

  op->step (op->p, res);
  peer_unref (op->p);
  g_free (op);
}

/* The callback and user data of an asynchronous step that keeps @p alive. */
static gpointer
peer_op (PpHostPeer *p, PeerStep step)
{
  PeerOp *op = g_new (PeerOp, 1);

  op->p = peer_ref (p);
  op->step = step;
  return op;
}

guint
pp_host_peer_get_id (PpHostPeer *p)
{
  return p->id;
}

const char *const *
pp_host_peer_get_urls (PpHostPeer *p)
{
  return (const char *const *) p->urls;
}

gboolean
pp_host_peer_is_open (PpHostPeer *p)
{
  return p->state == PEER_OPEN;
}

static void
peer_event (PpHostPeer *p, PpJsonEvent *ev)
{
  pp_event_add_int (ev, "peer", p->id);
  pp_session_emit (&p->h->s, ev);
}

static void
peer_state (PpHostPeer *p, PeerState state, const char *detail)
{
  static const char *const names[] = {
    "waiting", "joining", "approving", "offering", "connecting", "open", "closed",
  };
  PpJsonEvent *ev = pp_event_new ("state", g_get_real_time ());

  p->state = state;
  if (p->h->ticker != NULL && state != PEER_ENDED)
    pp_status_ticker_set_state (p->h->ticker, names[state]);
  pp_event_add_string (ev, "state", names[state]);
  pp_event_add_string (ev, "detail", detail != NULL ? detail : "");
  peer_event (p, ev);
}

/* "peer \"NAME\"" once known, else "link #N". */
static char *
peer_label (PpHostPeer *p)
{
  if (p->peer != NULL)
    return g_strdup_printf ("peer \"%s\" (#%u)", p->peer, p->id);
  return g_strdup_printf ("link #%u", p->id);
}

/* The peer is over: it stops at once, the host drops it soon after. */
static void
peer_end (PpHostPeer *p, int exit_code)
{
  if (p->state == PEER_ENDED)
    return;
  peer_state (p, PEER_ENDED, "");
  g_cancellable_cancel (p->cancel);
  pp_host_peer_ended (p->h, p, exit_code);
}

static void
peer_fail (PpHostPeer *p, int exit_code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static void
peer_fail (PpHostPeer *p, int exit_code, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *msg = NULL, *label = peer_label (p);

  if (p->state == PEER_ENDED)
    return;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  pp_session_warn (&p->h->s, exit_code, "%s: %s", label, msg);
  peer_end (p, exit_code);
}

/* FALSE when the step failed or the peer is over; takes @error. */
static gboolean
peer_check (PpHostPeer *p, GError *error, const char *what)
{
  g_autoptr (GError) e = error;

  if (p->state == PEER_ENDED)
    return FALSE;
  if (e == NULL)
    return TRUE;
  if (g_error_matches (e, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return FALSE;
  if (p->state == PEER_WAITING && g_error_matches (e, PP_SIGNAL_CLIENT_ERROR,
                                                   PP_SIGNAL_CLIENT_ERROR_EXPIRED))
    peer_fail (p, PP_EXIT_EXPIRED, "the join link expired (nobody joined in time)");
  else
    peer_fail (p, pp_cli_signal_exit_code (e), "%s: %s", what, e->message);
  return FALSE;
}

/* ---- tunnel ---- */

static void
peer_closed (PpHostPeer *p, const char *detail)
{
  g_autofree char *why = NULL;

  if (p->h->shutting_down || p->state == PEER_ENDED)
    return;
  why = pp_session_describe_close (detail, pp_ice_flags_has_turn (p->h->ice),
                                   p->state == PEER_OPEN);
  peer_fail (p, PP_EXIT_UNAVAILABLE, "%s", why);
}

static void
peer_ready (PpHostPeer *p)
{
  PpTransportStats st;
  PpJsonEvent *ev = pp_event_new ("path", g_get_real_time ());

  pp_transport_get_stats (p->t, &st);
  peer_state (p, PEER_OPEN, st.path);
  if (p->h->ticker != NULL)
    pp_status_ticker_add_tunnel (p->h->ticker, p->tun, p->peer);
  pp_event_add_string (ev, "path", st.path);
  peer_event (p, ev);
  pp_host_say (p->h, "peerport: host: tunnel open with \"%s\" (#%u, %s)", p->peer, p->id,
               st.path);
}

static void
peer_goaway (PpHostPeer *p, const PpTunnelEvent *ev)
{
  PpJsonEvent *e = pp_event_new ("goaway", g_get_real_time ());
  g_autofree char *label = peer_label (p);

  pp_event_add_string (e, "detail", ev->detail);
  peer_event (p, e);
  pp_host_say (p->h, "peerport: host: the peer ended the session (%s%s%s)", label,
               ev->detail[0] != '\0' ? ": " : "", ev->detail);
  peer_end (p, PP_EXIT_UNAVAILABLE);
}

static void
peer_tunnel_cb (PpTunnel *tun, const PpTunnelEvent *ev, gpointer user_data)
{
  PpHostPeer *p = user_data;

  if (p->state == PEER_ENDED)
    return;
  switch (ev->type)
    {
    case PP_TUNNEL_EV_READY:
      peer_ready (p);
      return;
    case PP_TUNNEL_EV_GOAWAY:
      peer_goaway (p, ev);
      return;
    case PP_TUNNEL_EV_FAILED:
      peer_fail (p, PP_EXIT_PROTOCOL, "session failed: %s", ev->detail);
      return;
    case PP_TUNNEL_EV_PONG:
      p->rtt_us = ev->rtt_us;
      return;
    case PP_TUNNEL_EV_CLOSED:
      peer_closed (p, ev->detail);
      return;
    }
}

/* ---- signaling ---- */

static void
peer_answer_step (PpHostPeer *p, GAsyncResult *res)
{
  GError *error = NULL;
  g_autoptr (PpSignalSession) ss = pp_signal_client_poll_finish (p->client, res, &error);

  if (!peer_check (p, error, "waiting for the answer"))
    return;
  p->answered = TRUE;
  if (!pp_webrtc_transport_set_remote_description (p->t, ss->answer.sdp, &error))
    {
      peer_fail (p, PP_EXIT_PROTOCOL, "the peer's answer: %s", error->message);
      g_error_free (error);
      return;
    }
  for (guint i = 0; ss->answer.candidates != NULL && i < ss->answer.candidates->len; i++)
    pp_webrtc_transport_add_remote_candidate (p->t, g_ptr_array_index (ss->answer.candidates, i));
  peer_state (p, PEER_CONNECTING, p->peer);
  pp_host_say (p->h, "peerport: host: connecting to %s…", p->peer);
}

static void
peer_offer_sent_step (PpHostPeer *p, GAsyncResult *res)
{
  GError *error = NULL;

  pp_signal_client_send_finish (p->client, res, &error);
  if (!peer_check (p, error, "sending the offer"))
    return;
  pp_signal_client_poll_async (p->client, PP_SIGNAL_FOR_ANSWER, p->cancel, peer_op_cb,
                               peer_op (p, peer_answer_step));
}

/* The offer is the approval: it goes once the person said yes and
 * gathering is over, whichever comes last. */
static void
peer_maybe_offer (PpHostPeer *p)
{
  if (!p->approved || p->offer == NULL || p->state != PEER_OFFERING)
    return;
  pp_signal_client_sdp_async (p->client, p->offer, NULL, p->cancel, peer_op_cb,
                              peer_op (p, peer_offer_sent_step));
}

static void
peer_description_cb (PpTransport *t, const char *sdp, gpointer user_data)
{
  PpHostPeer *p = user_data;

  g_free (p->offer);
  p->offer = g_strdup (sdp);
  peer_maybe_offer (p);
}

static void
peer_rejected_step (PpHostPeer *p, GAsyncResult *res)
{
  GError *error = NULL;

  pp_signal_client_send_finish (p->client, res, &error);
  if (!peer_check (p, error, "declining the peer"))
    return;
  pp_host_say (p->h, "peerport: host: declined \"%s\"; link #%u works again for another peer",
               p->peer, p->id);
  g_clear_pointer (&p->peer, g_free);
  peer_wait_join (p);
}

void
pp_host_peer_answer (PpHostPeer *p, gboolean yes)
{
  if (p->state != PEER_ASKING)
    return;
  if (!yes)
    {
      peer_state (p, PEER_JOINING, "declined");
      pp_signal_client_reject_async (p->client, p->cancel, peer_op_cb,
                                     peer_op (p, peer_rejected_step));
      return;
    }
  p->approved = TRUE;
  peer_state (p, PEER_OFFERING, p->peer);
  peer_maybe_offer (p);
}

static void
peer_ask (PpHostPeer *p)
{
  PpHost *h = p->h;
  PpJsonEvent *ev = pp_event_new ("join-request", g_get_real_time ());

  pp_event_add_string (ev, "peer_name", p->peer);
  pp_event_add_string (ev, "code", p->code);
  pp_event_add_string (ev, "session", pp_signal_client_get_id (p->client));
  peer_event (p, ev);
  peer_state (p, PEER_ASKING, p->peer);
  if (h->f->yes)
    {
      pp_host_say (h, "peerport: host: peer \"%s\" joined — code %s — accepted (--yes: "
                   "trusting the signaling server)", p->peer, p->code);
      pp_host_peer_answer (p, TRUE);
      return;
    }
  if (h->console == NULL || !pp_console_is_interactive (h->console))
    {
      pp_session_warn (&h->s, PP_EXIT_DECLINED, "peer \"%s\" wants to join — code %s — "
                       "declined: cannot ask without a terminal (use --yes to accept the "
                       "first peer)", p->peer, p->code);
      pp_host_peer_answer (p, FALSE);
      return;
    }
  g_queue_push_tail (&h->asks, p);
  pp_host_ask_next (h);
}

char *
pp_host_peer_question (PpHostPeer *p)
{
  return g_strdup_printf ("peer \"%s\" wants to join — code %s — accept? [y/N] ", p->peer,
                          p->code);
}

static void
peer_reveal_step (PpHostPeer *p, GAsyncResult *res)
{
  GError *error = NULL;
  g_autoptr (PpSignalSession) ss = pp_signal_client_poll_finish (p->client, res, &error);
  uint32_t code = 0;

  if (!peer_check (p, error, "waiting for the peer's reveal"))
    return;
  if (!pp_signal_client_code (p->client, ss, &code, &error))
    {
      peer_fail (p, PP_EXIT_PROTOCOL, "%s", error->message);
      g_error_free (error);
      return;
    }
  g_free (p->code);
  p->code = g_strdup_printf ("%03u %03u", code / 1000, code % 1000);
  peer_ask (p);
}

static void
peer_nonce_step (PpHostPeer *p, GAsyncResult *res)
{
  GError *error = NULL;

  pp_signal_client_send_finish (p->client, res, &error);
  if (!peer_check (p, error, "posting the nonce"))
    return;
  pp_signal_client_poll_async (p->client, PP_SIGNAL_FOR_REVEAL, p->cancel, peer_op_cb,
                               peer_op (p, peer_reveal_step));
}

static void
peer_join_step (PpHostPeer *p, GAsyncResult *res)
{
  GError *error = NULL;
  g_autoptr (PpSignalSession) ss = pp_signal_client_poll_finish (p->client, res, &error);

  if (!peer_check (p, error, "waiting for a peer"))
    return;
  g_free (p->peer);
  p->peer = pp_session_escape (ss->client != NULL ? ss->client : "");
  peer_state (p, PEER_JOINING, p->peer);
  pp_signal_client_nonce_async (p->client, p->cancel, peer_op_cb, peer_op (p, peer_nonce_step));
}

static void
peer_wait_join (PpHostPeer *p)
{
  peer_state (p, PEER_WAITING, pp_signal_client_get_id (p->client));
  pp_signal_client_poll_async (p->client, PP_SIGNAL_FOR_JOIN, p->cancel, peer_op_cb,
                               peer_op (p, peer_join_step));
}

static void
peer_print_urls (PpHostPeer *p)
{
  PpHost *h = p->h;

  for (guint i = 0; p->urls[i] != NULL; i++)
    {
      PpJsonEvent *ev = pp_event_new ("join-url", g_get_real_time ());
      gboolean local = strstr (p->urls[i], "://127.") != NULL
                       || strstr (p->urls[i], "://[::1]") != NULL;

      pp_event_add_string (ev, "url", p->urls[i]);
      pp_event_add_string (ev, "reachable", h->server == NULL
                           ? "whoever can reach the signaling server"
                           : local ? "this machine only"
                                   : "peers that can reach this address (LAN, public IP)");
      peer_event (p, ev);
      pp_host_say (h, "peerport: host: join URL: %s%s", p->urls[i],
                   local && h->server != NULL ? "  (this machine only)" : "");
    }
  if (h->server != NULL && p->id == 1)
    pp_host_say (h, "These links work only for peers that can reach this machine at that "
                 "address (the same LAN,\nor a public IP).  For peers behind other NATs, "
                 "run 'peerport signal' on a server both\ncan reach and use --signal URL "
                 "(README: \"Self-hosting the signaling server\").");
  pp_host_say (h, "On the other machine run:\n  peerport join '%s' -L PORT=>HOST:PORT\n"
               "The link works once, for 120 s.  Waiting for a peer…", p->urls[0]);
}

static void
peer_created_step (PpHostPeer *p, GAsyncResult *res)
{
  GError *error = NULL;
  char *url;

  pp_signal_client_create_finish (p->client, res, &error);
  if (!peer_check (p, error, "creating the session"))
    return;
  url = pp_signal_join_url (p->h->base, pp_signal_client_get_id (p->client),
                            pp_webrtc_transport_get_local_fingerprint (p->t));
  p->urls = g_new0 (char *, 2);
  p->urls[0] = url;
  peer_print_urls (p);
  peer_wait_join (p);
}

static gboolean
peer_create_embedded (PpHostPeer *p, GError **error)
{
  const uint8_t *fp = pp_webrtc_transport_get_local_fingerprint (p->t);
  g_autofree char *id = NULL, *token = NULL;

  if (!pp_host_embed_create (p->h, fp, &id, &token, error))
    return FALSE;
  p->client = pp_signal_client_new (p->h->base, error);
  if (p->client == NULL)
    return FALSE;
  pp_signal_client_adopt (p->client, id, token, fp);
  p->urls = pp_host_embed_urls (p->h, id, fp);
  peer_print_urls (p);
  peer_wait_join (p);
  return TRUE;
}

static gboolean
peer_start (PpHostPeer *p, GError **error)
{
  PpHost *h = p->h;
  PpWebrtcConfig cfg;
  PpMuxConfig mux;

  pp_webrtc_config_init (&cfg);
  cfg.role = PP_WEBRTC_OFFERER;
  pp_ice_flags_apply (h->ice, &cfg);
  p->t = pp_webrtc_transport_new (&cfg, peer_description_cb, p, error);
  if (p->t == NULL)
    return FALSE;
  pp_mux_config_init (&mux);
  mux.name = h->name;
  if (h->window != 0)
    {
      mux.socket_window = h->window;
      mux.session_window = 16 * h->window;
    }
  p->tun = pp_tunnel_new (p->t, PP_MUX_ROLE_HOST, &mux, h->ep);
  pp_tunnel_set_rules (p->tun, h->rules);
  pp_tunnel_set_event_func (p->tun, peer_tunnel_cb, p);
  if (h->server != NULL)
    return peer_create_embedded (p, error);
  p->client = pp_signal_client_new (h->base, error);
  if (p->client == NULL)
    return FALSE;
  pp_signal_client_create_async (p->client, h->name,
                                 pp_webrtc_transport_get_local_fingerprint (p->t), p->cancel,
                                 peer_op_cb, peer_op (p, peer_created_step));
  return TRUE;
}

PpHostPeer *
pp_host_peer_new (PpHost *h, GError **error)
{
  PpHostPeer *p = g_new0 (PpHostPeer, 1);

  p->refs = 1;
  p->h = h;
  p->id = ++h->next_id;
  p->cancel = g_cancellable_new ();
  p->rtt_us = -1;
  if (!peer_start (p, error))
    {
      p->state = PEER_ENDED;
      pp_host_peer_free (p);
      return NULL;
    }
  return p;
}

/* Stops everything of @p that runs (the host's list drops its reference). */
void
pp_host_peer_free (PpHostPeer *p)
{
  p->state = PEER_ENDED;
  g_cancellable_cancel (p->cancel);
  if (p->tun != NULL && p->h->ticker != NULL)
    pp_status_ticker_remove_tunnel (p->h->ticker, p->tun);
  g_clear_pointer (&p->tun, pp_tunnel_free);
  if (p->t != NULL && pp_transport_get_state (p->t) != PP_TRANSPORT_CLOSED)
    pp_transport_close (p->t, "session ended");
  peer_unref (p);
}

/* ---- the console's view ---- */

void
pp_host_peer_describe (PpHostPeer *p, GString *out)
{
  PpMuxStats ms = { 0 };
  PpTransportStats ts;

  g_string_append_printf (out, "#%u %s%s%s: %s", p->id, p->peer != NULL ? "\"" : "",
                          p->peer != NULL ? p->peer : "(nobody yet)",
                          p->peer != NULL ? "\"" : "", peer_state_names[p->state]);
  if (p->state != PEER_OPEN || p->tun == NULL)
    {
      if (p->state == PEER_WAITING && p->urls != NULL)
        g_string_append_printf (out, " — %s", p->urls[0]);
      g_string_append_c (out, '\n');
      return;
    }
  pp_mux_get_stats (pp_tunnel_get_mux (p->tun), &ms);
  pp_transport_get_stats (p->t, &ts);
  g_string_append_printf (out, " — %s — %u sockets, %" G_GUINT64_FORMAT " bytes in, %"
                          G_GUINT64_FORMAT " out", ts.path, ms.sockets, ms.bytes_in,
                          ms.bytes_out);
  if (p->rtt_us >= 0)
    g_string_append_printf (out, ", RTT %.1f ms", (double) p->rtt_us / 1000.0);
  g_string_append_c (out, '\n');
}

typedef struct
{
  PpHostPeer *p;
  GString *out;
} ConnsCtx;

static void
peer_conn_line_cb (PpMuxConn *mc, gpointer user_data)
{
  ConnsCtx *c = user_data;
  const PpTuple *t = pp_mux_conn_get_tuple (mc);
  const char *name = pp_mux_conn_get_name (mc);
  char src[PP_ADDR_STRLEN], dst[PP_ADDR_STRLEN];
  g_autofree char *shown = NULL;

  pp_addr_format ((const PpAddr *) t->src_addr, src);
  pp_addr_format ((const PpAddr *) t->dst_addr, dst);
  if (name != NULL)
    shown = pp_session_escape (name);
  g_string_append_printf (c->out, "#%u %s:%u -> %s:%u %s\n", c->p->id, src, t->src_port,
                          shown != NULL ? shown : dst, t->dst_port,
                          pp_mux_conn_state_name (pp_mux_conn_get_state (mc)));
}

void
pp_host_peer_conns (PpHostPeer *p, GString *out)
{
  ConnsCtx c = { p, out };

  if (p->tun != NULL && p->state == PEER_OPEN)
    pp_mux_foreach_conn (pp_tunnel_get_mux (p->tun), peer_conn_line_cb, &c);
}

guint
pp_host_peer_revoke (PpHostPeer *p)
{
  if (p->tun == NULL || p->state != PEER_OPEN)
    return 0;
  return pp_tcp_host_revoke (pp_tunnel_get_host (p->tun));
}

guint
pp_host_peer_count_sockets (PpHostPeer *p)
{
  if (p->tun == NULL || p->state != PEER_OPEN)
    return 0;
  return pp_tcp_host_count_sockets (pp_tunnel_get_host (p->tun));
}

/* ---- the host's end ---- */

typedef struct
{
  GMainLoop *loop;
  GCancellable *cancel;
  PpSignalClient *client;
} Withdraw;

static void
peer_withdrawn_cb (GObject *src, GAsyncResult *res, gpointer user_data)
{
  Withdraw *w = user_data;

  pp_signal_client_send_finish (w->client, res, NULL);
  g_main_loop_quit (w->loop);
}

static gboolean
peer_withdraw_timeout_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_REMOVE;
}

/* One DELETE, at most 2 s; the request is then cancelled and its callback
 * still awaited. */
static void
peer_delete_once (PpHostPeer *p)
{
  Withdraw w = { g_main_loop_new (NULL, FALSE), g_cancellable_new (), p->client };
  guint timeout = g_timeout_add (2000, peer_withdraw_timeout_cb, w.cancel);

  pp_signal_client_reject_async (p->client, w.cancel, peer_withdrawn_cb, &w);
  g_main_loop_run (w.loop);
  if (!g_cancellable_is_cancelled (w.cancel))
    g_source_remove (timeout);
  g_object_unref (w.cancel);
  g_main_loop_unref (w.loop);
}

gboolean
pp_host_peer_shutdown (PpHostPeer *p)
{
  g_cancellable_cancel (p->cancel);
  /* Withdraw a link nobody answered so it stops working at once.  A DELETE
   * with a peer joined only declines it and reopens the session; the second
   * one ends it (or finds it gone). */
  if (!p->answered && p->client != NULL && pp_signal_client_get_id (p->client) != NULL)
    {
      peer_delete_once (p);
      peer_delete_once (p);
    }
  if (p->tun != NULL && p->state == PEER_OPEN)
    pp_tunnel_goaway (p->tun, PP_GOAWAY_NORMAL, "quit");
  p->state = PEER_ENDED;
  if (p->t == NULL || pp_transport_get_state (p->t) == PP_TRANSPORT_CLOSED)
    return FALSE;
  pp_transport_close (p->t, "session ended");
  return pp_transport_get_state (p->t) != PP_TRANSPORT_CLOSED;
}

gboolean
pp_host_peer_closing (PpHostPeer *p)
{
  return p->t != NULL && pp_transport_get_state (p->t) != PP_TRANSPORT_CLOSED;
}
