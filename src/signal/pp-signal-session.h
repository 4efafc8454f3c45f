/* SPDX-License-Identifier: MIT
 *
 * pp-signal-session: one signaling session and its state machine (DESIGN §5)
 * waiting → joined → nonce → revealed → offered → answered, with reject back
 * to waiting (at most PP_SIGNAL_MAX_REJECTS times) and expiry at every stage.
 * Pure: time comes in as milliseconds, tokens arrive already hashed, and a
 * refusal is a verdict plus a static reason — no I/O, no allocation on failure.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "signal/pp-signal-code.h"

G_BEGIN_DECLS

#define PP_SIGNAL_MAX_REJECTS 3
#define PP_SIGNAL_MAX_CANDIDATES 64

typedef enum
{
  PP_SIGNAL_WAITING,
  PP_SIGNAL_JOINED,
  PP_SIGNAL_NONCE,
  PP_SIGNAL_REVEALED,
  PP_SIGNAL_OFFERED,
  PP_SIGNAL_ANSWERED,
} PpSignalStatus;
#define PP_SIGNAL_N_STATUS 6

typedef enum
{
  PP_SIGNAL_ROLE_NONE,     /* no token, or a token of nobody */
  PP_SIGNAL_ROLE_HOST,
  PP_SIGNAL_ROLE_CLIENT,
  PP_SIGNAL_ROLE_REJECTED, /* a client the host declined */
} PpSignalRole;

/* Verdicts map one-to-one onto HTTP status codes (pp_signal_verdict_http). */
typedef enum
{
  PP_SIGNAL_OK,
  PP_SIGNAL_BAD_REQUEST,  /* 400 */
  PP_SIGNAL_UNAUTHORIZED, /* 401 */
  PP_SIGNAL_FORBIDDEN,    /* 403 */
  PP_SIGNAL_NOT_FOUND,    /* 404: unknown or expired */
  PP_SIGNAL_CONFLICT,     /* 409: wrong role, order or state */
  PP_SIGNAL_GONE,         /* 410: this client was declined */
} PpSignalVerdict;

typedef enum
{
  PP_SIGNAL_FOR_JOIN,   /* host: someone joined */
  PP_SIGNAL_FOR_NONCE,  /* client: the host's nonce is there */
  PP_SIGNAL_FOR_REVEAL, /* host: the client revealed */
  PP_SIGNAL_FOR_OFFER,  /* client: the host approved and offered */
  PP_SIGNAL_FOR_ANSWER, /* host: the client answered */
} PpSignalFor;

typedef enum
{
  PP_SIGNAL_MSG_NONCE,
  PP_SIGNAL_MSG_REVEAL,
  PP_SIGNAL_MSG_OFFER,
  PP_SIGNAL_MSG_ANSWER,
} PpSignalMsgType;

typedef struct
{
  char *sdp;
  GPtrArray *candidates; /* of char *; never NULL once set */
} PpSignalSdp;

/* A parsed PUT /session/{id}/signal body.  Owned strings; see
 * pp_signal_msg_clear(). */
typedef struct
{
  PpSignalMsgType type;
  uint8_t nonce[PP_SIGNAL_NONCE_LEN];        /* nonce, reveal */
  uint8_t fingerprint[PP_SIGNAL_FP_LEN];     /* reveal */
  PpSignalSdp sdp;                           /* offer, answer */
} PpSignalMsg;

typedef struct
{
  int64_t waiting_ms;  /* 120 s */
  int64_t decide_ms;   /* 60 s from the join */
  int64_t connect_ms;  /* 30 s from the offer */
  int64_t linger_ms;   /* readable this long after the answer */
} PpSignalTtl;

typedef struct
{
  char id[PP_SIGNAL_ID_LEN + 1];
  PpSignalStatus status;
  char *host;
  uint8_t host_fp[PP_SIGNAL_FP_LEN];
  char host_token[PP_SIGNAL_HASH_HEX_LEN + 1];   /* hashes, never tokens */
  char *client;                                  /* NULL while waiting */
  uint8_t commit[32];
  char client_token[PP_SIGNAL_HASH_HEX_LEN + 1];
  uint8_t host_nonce[PP_SIGNAL_NONCE_LEN];       /* status >= nonce */
  uint8_t client_fp[PP_SIGNAL_FP_LEN];           /* status >= revealed */
  uint8_t client_nonce[PP_SIGNAL_NONCE_LEN];
  PpSignalSdp offer;                             /* status >= offered */
  PpSignalSdp answer;                            /* status == answered */
  int64_t created_ms;
  int64_t expires_ms;
  guint rejects;
  GPtrArray *rejected;                           /* token hashes (char *) */
} PpSignalSession;

extern const PpSignalTtl pp_signal_ttl_default;

const char *pp_signal_status_name (PpSignalStatus s);
gboolean pp_signal_status_parse (const char *name, PpSignalStatus *out);
const char *pp_signal_for_name (PpSignalFor f);
gboolean pp_signal_for_parse (const char *name, PpSignalFor *out);
const char *pp_signal_msg_type_name (PpSignalMsgType t);
int pp_signal_verdict_http (PpSignalVerdict v);

PpSignalSession *pp_signal_session_new (const char *id, const char *host,
                                        const uint8_t host_fp[PP_SIGNAL_FP_LEN],
                                        const char *host_token_hash, int64_t now_ms,
                                        const PpSignalTtl *ttl);
void pp_signal_session_free (PpSignalSession *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSignalSession, pp_signal_session_free)

void pp_signal_sdp_clear (PpSignalSdp *sdp);
void pp_signal_msg_clear (PpSignalMsg *m);

gboolean pp_signal_session_expired (const PpSignalSession *s, int64_t now_ms);
/* Which role a token hash belongs to, compared in constant time. */
PpSignalRole pp_signal_session_role (const PpSignalSession *s, const char *token_hash);

PpSignalVerdict pp_signal_session_join (PpSignalSession *s, const char *client,
                                        const uint8_t commit[32], const char *client_token_hash,
                                        int64_t now_ms, const PpSignalTtl *ttl,
                                        const char **why);
/* Applies one signal; takes @m's strings on success. */
PpSignalVerdict pp_signal_session_apply (PpSignalSession *s, PpSignalRole role, PpSignalMsg *m,
                                         int64_t now_ms, const PpSignalTtl *ttl,
                                         const char **why);
/* DELETE by the host: with a client not yet offered to, the join is declined
 * (*cancelled FALSE, back to waiting); otherwise, or after the last allowed
 * reject, the session ends (*cancelled TRUE: delete it). */
PpSignalVerdict pp_signal_session_reject (PpSignalSession *s, PpSignalRole role, int64_t now_ms,
                                          const PpSignalTtl *ttl, gboolean *cancelled,
                                          const char **why);

/* May @role poll @f at all?  And does the poll's condition already hold? */
PpSignalVerdict pp_signal_session_may_poll (PpSignalRole role, PpSignalFor f, const char **why);
gboolean pp_signal_session_ready (const PpSignalSession *s, PpSignalFor f);

G_END_DECLS
