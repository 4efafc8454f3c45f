/* SPDX-License-Identifier: MIT
 *
 * pp-signal-code: the small pieces of cryptography signaling needs — the
 * join commitment, the short authentication string (DESIGN §5), the host pin
 * carried in the join URL fragment, ids, bearer tokens and their hashes.
 * Pure except pp_signal_random(), which reads getrandom(2); it never logs or
 * keeps a secret.
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

#define PP_SIGNAL_FP_LEN 32      /* SHA-256 of the DER certificate */
#define PP_SIGNAL_NONCE_LEN 32
#define PP_SIGNAL_ID_LEN 21      /* A-Za-z0-9_- */
#define PP_SIGNAL_TOKEN_LEN 43   /* base64url of 32 random bytes */
#define PP_SIGNAL_HASH_HEX_LEN 64
#define PP_SIGNAL_PIN_LEN 22     /* base64url of fp_H[0..15], unpadded */
#define PP_SIGNAL_NAME_MAX 64

/* commit = SHA-256("peerport commit v1" ‖ fp_C ‖ n_C) */
void pp_signal_commit (const uint8_t fp_c[PP_SIGNAL_FP_LEN],
                       const uint8_t n_c[PP_SIGNAL_NONCE_LEN], uint8_t out[32]);

/* be32(SHA-256("peerport sas v1" ‖ fp_H ‖ fp_C ‖ n_H ‖ n_C)[0..3]) mod 10^6 */
uint32_t pp_signal_sas (const uint8_t fp_h[PP_SIGNAL_FP_LEN], const uint8_t fp_c[PP_SIGNAL_FP_LEN],
                        const uint8_t n_h[PP_SIGNAL_NONCE_LEN],
                        const uint8_t n_c[PP_SIGNAL_NONCE_LEN]);

/* "123 456" into @out (8 bytes with the NUL). */
void pp_signal_sas_format (uint32_t code, char out[8]);

/* The URL pin: base64url(fp_H[0..15]) without padding, 22 characters. */
void pp_signal_pin (const uint8_t fp_h[PP_SIGNAL_FP_LEN], char out[PP_SIGNAL_PIN_LEN + 1]);
gboolean pp_signal_pin_matches (const char *pin, const uint8_t fp_h[PP_SIGNAL_FP_LEN]);

/* Constant time in @n: no early exit on the first difference. */
gboolean pp_signal_memeq (const void *a, const void *b, size_t n);

/* Lower-case hex.  decode wants exactly 2 * @len hex digits (either case). */
void pp_signal_hex_encode (const uint8_t *in, size_t len, char *out /* 2 * len + 1 */);
gboolean pp_signal_hex_decode (const char *hex, uint8_t *out, size_t len);

void pp_signal_random (uint8_t *buf, size_t len);
void pp_signal_new_id (char out[PP_SIGNAL_ID_LEN + 1]);
void pp_signal_new_token (char out[PP_SIGNAL_TOKEN_LEN + 1]);
/* Hex SHA-256 of a token: what the stores keep instead of the token. */
void pp_signal_token_hash (const char *token, char out[PP_SIGNAL_HASH_HEX_LEN + 1]);

gboolean pp_signal_id_valid (const char *id);
/* 1..64 bytes of printable ASCII (0x20..0x7e). */
gboolean pp_signal_name_valid (const char *name);

G_END_DECLS
