/* SPDX-License-Identifier: MIT
 *
 * pp-doctor-stun: the pure half of `peerport doctor`'s STUN probe — build an
 * RFC 5389 binding request and parse the answer into the mapped address the
 * server saw.  Bytes in, bytes or an address out: no socket, clock or
 * allocation here, and every byte of a response is treated as hostile.
 */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

#define PP_DOCTOR_STUN_REQUEST_LEN 20
#define PP_DOCTOR_STUN_TXID_LEN 12

typedef struct
{
  uint8_t ip[16];
  size_t ip_len;  /* 4 or 16 */
  uint16_t port;
} PpStunMapped;

typedef enum
{
  PP_DOCTOR_STUN_OK = 0,
  PP_DOCTOR_STUN_NOT_STUN,      /* not a binding success response for this transaction */
  PP_DOCTOR_STUN_MALFORMED,     /* lengths, attributes or FINGERPRINT wrong */
  PP_DOCTOR_STUN_NO_ADDRESS,    /* well formed, but no (XOR-)MAPPED-ADDRESS */
} PpDoctorStunStatus;

/* A binding request without attributes for transaction @txid. */
void pp_doctor_stun_request (const uint8_t txid[PP_DOCTOR_STUN_TXID_LEN],
                             uint8_t out[PP_DOCTOR_STUN_REQUEST_LEN]);

/* Parses @buf as the answer to @txid: XOR-MAPPED-ADDRESS wins over
 * MAPPED-ADDRESS; a FINGERPRINT, when present, must be last and valid.
 * @out is written only on PP_DOCTOR_STUN_OK. */
PpDoctorStunStatus pp_doctor_stun_parse (const uint8_t *buf, size_t len,
                                         const uint8_t txid[PP_DOCTOR_STUN_TXID_LEN],
                                         PpStunMapped *out);

G_END_DECLS
