/* SPDX-License-Identifier: MIT
 *
 * pp-doctor-stun: binding requests out, mapped addresses in.  The parser
 * checks the header, the transaction, every attribute length and the
 * FINGERPRINT before it believes an address; it never reads past @len and
 * never trusts a length it has not bounded.
 */
#include "cli/pp-doctor-stun.h"

#include <string.h>

#include "signal/pp-signal-stun.h"

#define BINDING_REQUEST 0x0001
#define BINDING_SUCCESS 0x0101
#define ATTR_MAPPED_ADDRESS 0x0001
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_FINGERPRINT 0x8028
#define FINGERPRINT_XOR 0x5354554eu

static uint16_t
rd16 (const uint8_t *p)
{
  return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
rd32 (const uint8_t *p)
{
  return (uint32_t) rd16 (p) << 16 | rd16 (p + 2);
}

void
pp_doctor_stun_request (const uint8_t txid[PP_DOCTOR_STUN_TXID_LEN],
                        uint8_t out[PP_DOCTOR_STUN_REQUEST_LEN])
{
  out[0] = BINDING_REQUEST >> 8;
  out[1] = BINDING_REQUEST & 0xff;
  out[2] = out[3] = 0;
  out[4] = (uint8_t) (PP_STUN_MAGIC >> 24);
  out[5] = (uint8_t) (PP_STUN_MAGIC >> 16);
  out[6] = (uint8_t) (PP_STUN_MAGIC >> 8);
  out[7] = (uint8_t) PP_STUN_MAGIC;
  memcpy (out + 8, txid, PP_DOCTOR_STUN_TXID_LEN);
}

/* One (XOR-)MAPPED-ADDRESS value of @len bytes. */
static gboolean
read_address (const uint8_t *v, size_t len, gboolean xor, const uint8_t *hdr, PpStunMapped *m)
{
  size_t ip_len;

  if (len < 4)
    return FALSE;
  ip_len = v[1] == 0x01 ? 4 : v[1] == 0x02 ? 16 : 0;
  if (ip_len == 0 || len != 4 + ip_len)
    return FALSE;
  m->ip_len = ip_len;
  m->port = rd16 (v + 2);
  memcpy (m->ip, v + 4, ip_len);
  if (!xor)
    return TRUE;
  m->port ^= (uint16_t) (PP_STUN_MAGIC >> 16);
  for (size_t i = 0; i < ip_len; i++)
    m->ip[i] ^= hdr[4 + i]; /* cookie then transaction id, as RFC 5389 §15.2 */
  return TRUE;
}

/* Walks the attributes; the FINGERPRINT, if any, must close the message. */
static PpDoctorStunStatus
walk (const uint8_t *buf, size_t len, PpStunMapped *out)
{
  PpStunMapped plain = { 0 }, xored = { 0 };
  gboolean have_plain = FALSE, have_xor = FALSE;
  size_t off = 20;

  while (off < len)
    {
      uint16_t type, alen;

      if (len - off < 4)
        return PP_DOCTOR_STUN_MALFORMED;
      type = rd16 (buf + off);
      alen = rd16 (buf + off + 2);
      if (alen > len - off - 4)
        return PP_DOCTOR_STUN_MALFORMED;
      if (type == ATTR_FINGERPRINT)
        {
          if (alen != 4 || off + 8 != len
              || rd32 (buf + off + 4) != (pp_signal_stun_crc32 (buf, off) ^ FINGERPRINT_XOR))
            return PP_DOCTOR_STUN_MALFORMED;
        }
      else if (type == ATTR_XOR_MAPPED_ADDRESS && !have_xor)
        have_xor = read_address (buf + off + 4, alen, TRUE, buf, &xored);
      else if (type == ATTR_MAPPED_ADDRESS && !have_plain)
        have_plain = read_address (buf + off + 4, alen, FALSE, buf, &plain);
      off += 4 + (((size_t) alen + 3) & ~(size_t) 3);
    }
  if (off != len)
    return PP_DOCTOR_STUN_MALFORMED;
  if (!have_xor && !have_plain)
    return PP_DOCTOR_STUN_NO_ADDRESS;
  *out = have_xor ? xored : plain;
  return PP_DOCTOR_STUN_OK;
}

PpDoctorStunStatus
pp_doctor_stun_parse (const uint8_t *buf, size_t len, const uint8_t txid[PP_DOCTOR_STUN_TXID_LEN],
                      PpStunMapped *out)
{
  if (len < 20 || rd16 (buf) != BINDING_SUCCESS || rd32 (buf + 4) != PP_STUN_MAGIC
      || memcmp (buf + 8, txid, PP_DOCTOR_STUN_TXID_LEN) != 0)
    return PP_DOCTOR_STUN_NOT_STUN;
  if ((len & 3) != 0 || rd16 (buf + 2) != len - 20)
    return PP_DOCTOR_STUN_MALFORMED;
  return walk (buf, len, out);
}
