/* SPDX-License-Identifier: MIT
 *
 * pp-tunnel: one session = one PpMux bound to one PpTransport, plus the TCP
 * side of its role (pp-tcp-client listeners or pp-tcp-host connectors).  It
 * wires transport callbacks to the mux, follows the mux's deadlines with a
 * GLib source, pings every 5 s and routes each connection's events to its
 * pump.  It knows nothing of signaling, WebRTC or the console.
 */
#pragma once

#include "app/pp-epoll-source.h"
#include "app/pp-tcp-client.h"
#include "app/pp-tcp-host.h"
#include "core/pp-mux.h"
#include "core/pp-rules.h"
#include "transport/pp-transport.h"

G_BEGIN_DECLS

/* Marks while the transport knows no send window (and the ceiling after). */
#define PP_TUNNEL_HIGH_WATER (256 * 1024)
#define PP_TUNNEL_LOW_WATER (64 * 1024)
/* The floor of the high water that follows the transport's send window. */
#define PP_TUNNEL_MIN_HIGH_WATER (8 * 1024)
#define PP_TUNNEL_PING_INTERVAL_MS 5000

typedef struct _PpTunnel PpTunnel;

typedef enum
{
  PP_TUNNEL_EV_READY,      /* HELLOs exchanged */
  PP_TUNNEL_EV_GOAWAY,     /* the peer ended the session: reason, detail */
  PP_TUNNEL_EV_FAILED,     /* we ended it (protocol error, incompatible) */
  PP_TUNNEL_EV_PONG,       /* rtt_us */
  PP_TUNNEL_EV_CLOSED,     /* the transport closed: detail says why */
} PpTunnelEventType;

typedef struct
{
  PpTunnelEventType type;
  uint8_t reason;          /* PpGoawayReason for GOAWAY and FAILED */
  const char *detail;      /* escaped; may be "" */
  int64_t rtt_us;
} PpTunnelEvent;

typedef void (*PpTunnelEventFunc) (PpTunnel *tun, const PpTunnelEvent *ev, gpointer user_data);

/* Takes a reference to @t and becomes its callback user; @cfg may be NULL
 * (defaults).  If @t is already open the mux starts at once. */
PpTunnel *pp_tunnel_new (PpTransport *t, PpMuxRole role, const PpMuxConfig *cfg, PpEpoll *ep);
/* GOAWAY if the session lives, every app socket reset, listeners closed,
 * the transport's callbacks cleared and its reference dropped (not closed). */
void pp_tunnel_free (PpTunnel *tun);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTunnel, pp_tunnel_free)

void pp_tunnel_set_event_func (PpTunnel *tun, PpTunnelEventFunc func, gpointer user_data);

PpMux *pp_tunnel_get_mux (PpTunnel *tun);
PpTransport *pp_tunnel_get_transport (PpTunnel *tun);
/* NULL for the other role. */
PpTcpClient *pp_tunnel_get_client (PpTunnel *tun);
PpTcpHost *pp_tunnel_get_host (PpTunnel *tun);

/* Host: the rules (borrowed; must outlive the tunnel). */
void pp_tunnel_set_rules (PpTunnel *tun, PpRules *rules);
/* Client: pp_tcp_client_add_mapping on this tunnel's client. */
guint pp_tunnel_add_mapping (PpTunnel *tun, const char *text, GError **error);

/* The round trip of the last PING answered (µs), or -1 before the first. */
int64_t pp_tunnel_get_rtt (PpTunnel *tun);

/* Ends the session: GOAWAY(@reason, @detail); every app socket is reset. */
void pp_tunnel_goaway (PpTunnel *tun, PpGoawayReason reason, const char *detail);

/* Per-connection observer (docs/events.md, socket-opened/-closed): @func
 * hears each connection's OPENED and its CLOSED (PpTcpConnEvent) from the
 * client's or host's pumps; NULL stops it.  Not called from pp_tunnel_free
 * (pp_tunnel_goaway first reports every live one as closed). */
typedef void (*PpTunnelConnFunc) (PpTunnel *tun, const PpTcpConnEvent *ev, gpointer user_data);
void pp_tunnel_set_conn_func (PpTunnel *tun, PpTunnelConnFunc func, gpointer user_data);

G_END_DECLS
