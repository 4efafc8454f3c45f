/* SPDX-License-Identifier: MIT
 *
 * pp-status: what a running session shows about itself (DESIGN §7) — once a
 * second it samples each tunnel (state, the ICE pair, RTT from PING, rates
 * in/out, sockets) and shows a live status line on a terminal or, with
 * --json, a `stats` event (and a `path` event when the pair is known or
 * changes; docs/events.md).  It also answers the `status` command.  It only
 * reads the tunnels; it never ends or changes one.
 */
#pragma once

#include "app/pp-console.h"
#include "app/pp-session.h"

G_BEGIN_DECLS

#define PP_STATUS_INTERVAL_MS 1000
/* Host, --json: lines about a peer's CONNECTs that never opened (`refused`,
 * `socket-closed` with opened false), per peer per window; a `suppressed`
 * event counts the rest. */
#define PP_STATUS_LIMIT_PER_WINDOW 10
#define PP_STATUS_LIMIT_WINDOW_US G_USEC_PER_SEC

/* Not PpStatus: pp-events.h has that name for the line's facts. */
typedef struct _PpStatusTicker PpStatusTicker;

/* Ticks on the thread-default main context.  @console (nullable) gets the
 * status line unless @s is --json; @s (borrowed, must outlive the ticker)
 * decides --json and prints the events. */
PpStatusTicker *pp_status_ticker_new (PpConsole *console, PpSession *s);
/* Hides the status line. */
void pp_status_ticker_free (PpStatusTicker *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpStatusTicker, pp_status_ticker_free)

/* What the line says while no tunnel is open ("waiting", "joining",
 * "approving", "connecting"); the default is "starting". */
void pp_status_ticker_set_state (PpStatusTicker *st, const char *state);
/* Follows @tun (borrowed) until removed, as its connection observer too
 * (pp_tunnel_set_conn_func); @peer (nullable) names it in the host's line
 * and events (already escaped). */
void pp_status_ticker_add_tunnel (PpStatusTicker *st, PpTunnel *tun, const char *peer);
void pp_status_ticker_remove_tunnel (PpStatusTicker *st, PpTunnel *tun);
/* Samples now (as a tick does, without waiting for the next one). */
void pp_status_ticker_update (PpStatusTicker *st);

/* The answer to `status`: "state: open\npath: …\n…" per tunnel. */
void pp_status_ticker_describe (PpStatusTicker *st, GString *out);

G_END_DECLS
