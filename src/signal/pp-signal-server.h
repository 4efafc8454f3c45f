/* SPDX-License-Identifier: MIT
 *
 * pp-signal-server: the HTTP API of DESIGN §5 on a SoupServer — the
 * standalone `peerport signal` and the host's embedded mode.  It owns no
 * session state itself: every request reads the store, runs the pure state
 * machine and writes back by compare-and-set, so several instances can share
 * one Redis.  It never blocks and never lets one client's requests delay
 * another's.
 */
#pragma once

#include <gio/gio.h>

#include "signal/pp-signal-store.h"

G_BEGIN_DECLS

typedef struct _PpSignalServer PpSignalServer;

typedef int64_t (*PpSignalClockFunc) (gpointer user_data); /* wall clock, ms */

typedef struct
{
  PpSignalTtl ttl;
  guint poll_timeout_ms;       /* 5000: a long poll answers after this at the latest */
  guint max_sessions;          /* 100000 (memory store) */
  guint max_polls;             /* 10000 long polls in all */
  guint max_polls_per_session; /* 4 */
  double create_per_s;         /* per address; 0: no limit */
  guint create_burst;
  double join_per_s;
  guint join_burst;
  guint request_timeout_ms;    /* headers and body must arrive within this (slowloris) */
  guint idle_timeout_s;        /* a connection silent this long is closed */
  gboolean embedded;           /* no POST /session, no /metrics */
  GPtrArray *trusted_proxies;  /* of GInetAddressMask *; X-Forwarded-For only from these */
  PpSignalClockFunc clock;     /* NULL: the real clock */
  gpointer clock_data;
} PpSignalServerOptions;

void pp_signal_server_options_init (PpSignalServerOptions *o);
void pp_signal_server_options_clear (PpSignalServerOptions *o);
/* Adds "ADDR/BITS" (or a bare address) to the trusted proxies. */
gboolean pp_signal_server_options_add_proxy (PpSignalServerOptions *o, const char *cidr,
                                             GError **error);

/* Takes @store.  The options are copied. */
PpSignalServer *pp_signal_server_new (const PpSignalServerOptions *o, PpSignalStore *store);
void pp_signal_server_free (PpSignalServer *srv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSignalServer, pp_signal_server_free)

/* HTTP (or HTTPS with @tls) on @addr; port 0 picks one (see get_port). */
gboolean pp_signal_server_listen (PpSignalServer *srv, GSocketAddress *addr, GTlsCertificate *tls,
                                  GError **error);
guint16 pp_signal_server_get_port (PpSignalServer *srv);
/* Advertises the STUN responder's UDP ports (0: none) in /healthz's
 * X-Peerport-Stun header, so `peerport doctor` finds the second one. */
void pp_signal_server_set_stun_ports (PpSignalServer *srv, guint16 port, guint16 alt);
void pp_signal_server_disconnect (PpSignalServer *srv);

/* Embedded mode (DESIGN §5): the server listens on @addr only while a
 * session waits or is being joined — from the first create_session() until
 * no session is short of "answered" (checked each second). */
void pp_signal_server_set_embedded_address (PpSignalServer *srv, GSocketAddress *addr);
gboolean pp_signal_server_is_listening (PpSignalServer *srv);

/* Embedded mode: a session made in-process (memory store only: completes
 * before returning); starts listening when needed. */
gboolean pp_signal_server_create_session (PpSignalServer *srv, const char *host,
                                          const uint8_t fp[PP_SIGNAL_FP_LEN],
                                          char id[PP_SIGNAL_ID_LEN + 1],
                                          char token[PP_SIGNAL_TOKEN_LEN + 1], GError **error);
/* The store is reachable (Redis connected and subscribed). */
gboolean pp_signal_server_ready (PpSignalServer *srv);
/* Sessions not yet answered (embedded mode listens only while this is > 0). */
gint64 pp_signal_server_pending_sessions (PpSignalServer *srv);

/* The Prometheus text /metrics serves. */
char *pp_signal_server_metrics (PpSignalServer *srv);

G_END_DECLS
