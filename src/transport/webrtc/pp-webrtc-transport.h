/* SPDX-License-Identifier: MIT
 *
 * pp-webrtc-transport: the PpTransport over a WebRTC DataChannel (DESIGN
 * §6): libnice → DTLS 1.2 → SCTP stream 0, all on the creator's main
 * context.  The offerer gathers at once and reports its offer through
 * description_cb; the answerer does so after its offer is applied.
 * pp_transport_close is orderly: accepted data is acknowledged first (at
 * most 2 s).  No libnice, OpenSSL or usrsctp type appears here.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "transport/pp-transport.h"

G_BEGIN_DECLS

typedef enum
{
  PP_WEBRTC_OFFERER = 0,
  PP_WEBRTC_ANSWERER,
} PpWebrtcRole;

typedef struct
{
  const char *host;             /* numeric address (resolve names before) */
  guint port;
  const char *username;
  const char *password;
  gboolean tcp;
} PpWebrtcTurn;

typedef struct
{
  PpWebrtcRole role;
  const char *stun_host;        /* numeric; NULL: no STUN */
  guint stun_port;
  const PpWebrtcTurn *turn;
  guint n_turn;
  const char *const *local_addresses;  /* NULL: every interface */
  guint gather_timeout_ms;      /* default 2000 */
  guint liveness_timeout_ms;    /* no DTLS record for this long = dead; default 15000 */
  guint sctp_mtu;               /* 0: 16384 on a loopback pair, else 1200 */
  uint64_t max_message_size;    /* what we advertise; default 262144 */
} PpWebrtcConfig;

/* The local description, once gathering is over. */
typedef void (*PpWebrtcDescriptionFunc) (PpTransport *t, const char *sdp, gpointer user_data);

void pp_webrtc_config_init (PpWebrtcConfig *cfg);

PpTransport *pp_webrtc_transport_new (const PpWebrtcConfig *cfg,
                                      PpWebrtcDescriptionFunc description_cb,
                                      gpointer user_data, GError **error);
/* The offer (answerer) or the answer (offerer).  Hostile or mismatched SDP
 * fails with a clear message and leaves the transport as it was. */
gboolean pp_webrtc_transport_set_remote_description (PpTransport *t, const char *sdp,
                                                     GError **error);
/* Adds one out-of-band candidate ("candidate:…" as in browser JSON). */
gboolean pp_webrtc_transport_add_remote_candidate (PpTransport *t, const char *candidate);
/* The SCTP path MTU in use (0 before the association starts). */
guint pp_webrtc_transport_get_sctp_mtu (PpTransport *t);
/* One line on the SCTP association's queues and windows, for logs. */
char *pp_webrtc_transport_describe (PpTransport *t);
const uint8_t *pp_webrtc_transport_get_local_fingerprint (PpTransport *t);

/* Tests: drop every datagram in and out, as if the peer vanished. */
void pp__webrtc_transport_set_muted (PpTransport *t, gboolean muted);

G_END_DECLS
