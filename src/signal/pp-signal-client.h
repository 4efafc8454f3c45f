/* SPDX-License-Identifier: MIT
 *
 * pp-signal-client: the asynchronous client `peerport host` and `join` use
 * to talk to a signaling server (DESIGN §5).  One client object follows one
 * session in one role; it keeps the bearer token, makes the nonce, commit and
 * reveal, checks the host pin from the join URL, and turns HTTP refusals into
 * errors a person understands.  Network errors and 503s are retried with
 * backoff where a retry cannot do harm; everything is cancellable.
 */
#pragma once

#include <gio/gio.h>

#include "signal/pp-signal-session.h"

G_BEGIN_DECLS

#define PP_SIGNAL_CLIENT_ERROR (pp_signal_client_error_quark ())
GQuark pp_signal_client_error_quark (void);

typedef enum
{
  PP_SIGNAL_CLIENT_ERROR_EXPIRED,      /* 404: "the session expired" */
  PP_SIGNAL_CLIENT_ERROR_TAKEN,        /* 409 at join: "someone else already joined" */
  PP_SIGNAL_CLIENT_ERROR_DECLINED,     /* 410: "the host declined" */
  PP_SIGNAL_CLIENT_ERROR_PIN_MISMATCH, /* "this link was made for a different host" */
  PP_SIGNAL_CLIENT_ERROR_BAD_REVEAL,   /* the reveal does not open the commit */
  PP_SIGNAL_CLIENT_ERROR_REFUSED,      /* any other 4xx, with the server's reason */
  PP_SIGNAL_CLIENT_ERROR_UNAVAILABLE,  /* network or 5xx after the retries */
  PP_SIGNAL_CLIENT_ERROR_BAD_URL,
} PpSignalClientError;

typedef struct _PpSignalClient PpSignalClient;

/* @base_url: http(s)://HOST:PORT of the server. */
PpSignalClient *pp_signal_client_new (const char *base_url, GError **error);
void pp_signal_client_free (PpSignalClient *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSignalClient, pp_signal_client_free)

/* Test knobs: first retry delay (doubles each time) and number of attempts. */
void pp_signal_client_set_retry (PpSignalClient *c, guint first_delay_ms, guint attempts);

const char *pp_signal_client_get_id (PpSignalClient *c);
/* For a host created in-process (embedded mode). */
void pp_signal_client_adopt (PpSignalClient *c, const char *id, const char *token,
                             const uint8_t host_fp[PP_SIGNAL_FP_LEN]);

/* "http://A:P/session/ID#h=PIN" → base, id and pin (pin NULL when absent). */
gboolean pp_signal_parse_join_url (const char *url, char **base, char **id, char **pin,
                                   GError **error);
char *pp_signal_join_url (const char *base, const char *id,
                          const uint8_t host_fp[PP_SIGNAL_FP_LEN]);

/* Host: POST /session. */
void pp_signal_client_create_async (PpSignalClient *c, const char *host,
                                    const uint8_t fp[PP_SIGNAL_FP_LEN], GCancellable *cancel,
                                    GAsyncReadyCallback cb, gpointer user_data);
gboolean pp_signal_client_create_finish (PpSignalClient *c, GAsyncResult *res, GError **error);

/* Client: POST /session/{id} with a fresh commit to @fp; @pin (from the URL
 * fragment, may be NULL) must match the host's fingerprint. */
void pp_signal_client_join_async (PpSignalClient *c, const char *id, const char *name,
                                  const uint8_t fp[PP_SIGNAL_FP_LEN], const char *pin,
                                  GCancellable *cancel, GAsyncReadyCallback cb,
                                  gpointer user_data);
PpSignalSession *pp_signal_client_join_finish (PpSignalClient *c, GAsyncResult *res,
                                               GError **error);

/* Host: posts a fresh nonce.  Client: reveals its fingerprint and nonce. */
void pp_signal_client_nonce_async (PpSignalClient *c, GCancellable *cancel,
                                   GAsyncReadyCallback cb, gpointer user_data);
void pp_signal_client_reveal_async (PpSignalClient *c, GCancellable *cancel,
                                    GAsyncReadyCallback cb, gpointer user_data);
/* Offer (host) or answer (client). */
void pp_signal_client_sdp_async (PpSignalClient *c, const char *sdp, const char *const *candidates,
                                 GCancellable *cancel, GAsyncReadyCallback cb,
                                 gpointer user_data);
/* Host: decline the client (or cancel the session). */
void pp_signal_client_reject_async (PpSignalClient *c, GCancellable *cancel,
                                    GAsyncReadyCallback cb, gpointer user_data);
/* Finishes nonce, reveal, sdp and reject. */
gboolean pp_signal_client_send_finish (PpSignalClient *c, GAsyncResult *res, GError **error);

/* Long polls until @f holds (re-polling across server timeouts). */
void pp_signal_client_poll_async (PpSignalClient *c, PpSignalFor f, GCancellable *cancel,
                                  GAsyncReadyCallback cb, gpointer user_data);
PpSignalSession *pp_signal_client_poll_finish (PpSignalClient *c, GAsyncResult *res,
                                               GError **error);

/* The verification code from a session that reached "revealed".  The host
 * first checks that the reveal opens the commit it saw at the join. */
gboolean pp_signal_client_code (PpSignalClient *c, const PpSignalSession *s, uint32_t *code,
                                GError **error);

G_END_DECLS
