/* SPDX-License-Identifier: MIT
 *
 * pp-sdp: the data-channel-only SDP we emit and a tolerant parser for what
 * browsers send (Chromium and Firefox shapes, session- or media-level ICE
 * and DTLS attributes, "\r\n" or "\n").  Pure: strings in, structs out; no
 * libnice, no sockets.  Candidates are kept one by one as "a=candidate:"
 * lines that libnice can parse; unusable ones (mDNS ".local", TCP, other
 * components) are counted and skipped, never fatal.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

#define PP_SDP_FINGERPRINT_LEN 32       /* SHA-256 */
#define PP_SDP_DEFAULT_MAX_MESSAGE 65536
#define PP_SDP_MAX_TEXT (256 * 1024)    /* longer SDP is refused */
#define PP_SDP_MAX_CANDIDATES 64

typedef enum
{
  PP_SDP_SETUP_NONE = 0,
  PP_SDP_SETUP_ACTPASS,
  PP_SDP_SETUP_ACTIVE,
  PP_SDP_SETUP_PASSIVE,
} PpSdpSetup;

typedef enum
{
  PP_SDP_OK = 0,
  PP_SDP_ERR_SYNTAX,            /* not SDP at all, or too long */
  PP_SDP_ERR_NO_DATA_SECTION,   /* no usable m=application … DTLS/SCTP */
  PP_SDP_ERR_NO_ICE,            /* ice-ufrag or ice-pwd missing or malformed */
  PP_SDP_ERR_NO_FINGERPRINT,    /* no sha-256 fingerprint of 32 bytes */
  PP_SDP_ERR_BAD_SETUP,         /* a=setup missing or unknown */
} PpSdpStatus;

typedef struct
{
  char *ufrag;
  char *pwd;
  uint8_t fingerprint[PP_SDP_FINGERPRINT_LEN];
  PpSdpSetup setup;
  char *mid;
  char *proto;                  /* e.g. "UDP/DTLS/SCTP", copied into an answer */
  char *fmt;                    /* e.g. "webrtc-datachannel" */
  uint16_t sctp_port;           /* 5000 when absent */
  uint64_t max_message_size;    /* 65536 when absent; 0 = no limit (RFC 8841) */
  gboolean ice_lite;
  GPtrArray *candidates;        /* of char *, "a=candidate:…", usable only */
  guint candidates_skipped;
} PpSdp;

typedef struct
{
  gboolean offer;               /* offer: setup actpass; answer: setup as given */
  uint64_t session_id;          /* < 2^62 */
  const char *ufrag;
  const char *pwd;
  const uint8_t *fingerprint;   /* PP_SDP_FINGERPRINT_LEN bytes */
  PpSdpSetup setup;             /* ignored for an offer */
  const char *mid;              /* NULL: "0" */
  const char *proto;            /* NULL: "UDP/DTLS/SCTP" */
  const char *fmt;              /* NULL: "webrtc-datachannel" */
  uint16_t sctp_port;           /* 0: 5000 */
  uint64_t max_message_size;    /* what we accept */
  const char *const *candidates; /* NULL-terminated, "candidate:…" or "a=candidate:…" */
} PpSdpLocal;

/* Parses @text (@len bytes, need not be NUL-terminated).  On success @out
 * owns its strings (pp_sdp_clear); on failure @out is zeroed and *@reason
 * (when non-NULL) points at a static English explanation. */
PpSdpStatus pp_sdp_parse (const char *text, size_t len, PpSdp *out, const char **reason);
void pp_sdp_clear (PpSdp *sdp);

/* A new string with "\r\n" line ends. */
char *pp_sdp_generate (const PpSdpLocal *local);

/* Normalises one candidate ("candidate:…", "a=candidate:…", with or
 * without a line end) to "a=candidate:…" if it is a UDP candidate of
 * component 1 with a numeric address; NULL otherwise. */
char *pp_sdp_candidate_normalize (const char *line, size_t len);

/* "AB:CD:…" upper case into @out (3 * 32 bytes incl. NUL). */
void pp_sdp_fingerprint_format (const uint8_t fp[PP_SDP_FINGERPRINT_LEN],
                                char out[3 * PP_SDP_FINGERPRINT_LEN]);
gboolean pp_sdp_fingerprint_parse (const char *hex, uint8_t out[PP_SDP_FINGERPRINT_LEN]);

const char *pp_sdp_setup_to_string (PpSdpSetup setup);
const char *pp_sdp_status_to_string (PpSdpStatus status);

G_END_DECLS
