/* SPDX-License-Identifier: MIT
 *
 * pp-dtls: DTLS 1.2 over datagrams we are handed (OpenSSL 3).  Input is
 * fed through a memory BIO; output leaves through a BIO that hands each
 * record flight to send_cb as one datagram.  The peer certificate must
 * match the SHA-256 fingerprint from its SDP, or the handshake fails closed.
 * Datagrams that arrive before the role is known are kept and replayed.
 * Callbacks run on the caller's thread and may call back into this object
 * except pp_dtls_free.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

#define PP_DTLS_HANDSHAKE_MTU 1200
#define PP_DTLS_MAX_RECORD 16384

typedef struct _PpDtlsCert PpDtlsCert;
typedef struct _PpDtls PpDtls;

typedef struct
{
  /* One datagram for the peer. */
  void (*send_cb) (const uint8_t *data, size_t len, gpointer user_data);
  void (*connected_cb) (gpointer user_data);
  /* One decrypted record (for WebRTC: one SCTP packet). */
  void (*data_cb) (const uint8_t *data, size_t len, gpointer user_data);
  /* After this nothing more is emitted.  @error: FALSE for close_notify. */
  void (*closed_cb) (gboolean error, const char *reason, gpointer user_data);
} PpDtlsCallbacks;

/* The process-wide ECDSA P-256 certificate, made at first use. */
PpDtlsCert *pp_dtls_cert_get_default (GError **error);
PpDtlsCert *pp_dtls_cert_new (GError **error);
PpDtlsCert *pp_dtls_cert_ref (PpDtlsCert *cert);
void pp_dtls_cert_unref (PpDtlsCert *cert);
const uint8_t *pp_dtls_cert_get_fingerprint (PpDtlsCert *cert);   /* 32 bytes */

PpDtls *pp_dtls_new (PpDtlsCert *cert, GMainContext *context,
                     const PpDtlsCallbacks *callbacks, gpointer user_data);
void pp_dtls_free (PpDtls *dtls);
void pp_dtls_set_remote_fingerprint (PpDtls *dtls, const uint8_t fp[32]);
/* Fixes the role (needs the remote fingerprint) and replays kept datagrams;
 * a client sends its ClientHello now. */
void pp_dtls_start (PpDtls *dtls, gboolean client);
void pp_dtls_receive (PpDtls *dtls, const uint8_t *data, size_t len);
/* Encrypts one record of ≤ PP_DTLS_MAX_RECORD bytes; FALSE when not open. */
gboolean pp_dtls_send (PpDtls *dtls, const uint8_t *data, size_t len);
/* Sends close_notify once; closed_cb is not called for our own close. */
void pp_dtls_close (PpDtls *dtls);
gboolean pp_dtls_is_connected (PpDtls *dtls);
gint64 pp_dtls_get_last_receive_us (PpDtls *dtls);   /* monotonic; 0 before any */
const char *pp_dtls_get_cipher (PpDtls *dtls);

G_END_DECLS
