/* SPDX-License-Identifier: MIT
 *
 * Fuzz target for the STUN responder's parser: any datagram, answered for an
 * IPv4 and an IPv6 source.  A response is a binding success no larger than
 * PP_STUN_MAX_RESPONSE, echoes the transaction, and (RFC 5389) carries a
 * valid FINGERPRINT.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "signal/pp-signal-stun.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check (const uint8_t *req, size_t len, const uint8_t *ip, size_t ip_len)
{
  uint8_t out[PP_STUN_MAX_RESPONSE];
  size_t n = pp_signal_stun_answer (req, len, ip, ip_len, 40000, out);

  if (n == 0)
    return;
  g_assert (n <= PP_STUN_MAX_RESPONSE && n >= 20 && len >= 20);
  g_assert (out[0] == 0x01 && out[1] == 0x01);
  g_assert ((size_t) (out[2] << 8 | out[3]) == n - 20);
  g_assert (memcmp (out + 4, req + 4, 16) == 0);
  if (memcmp (req + 4, "\x21\x12\xa4\x42", 4) == 0)
    {
      uint32_t want = pp_signal_stun_crc32 (out, n - 8) ^ 0x5354554eu;
      uint32_t got = (uint32_t) out[n - 4] << 24 | (uint32_t) out[n - 3] << 16
                     | (uint32_t) out[n - 2] << 8 | out[n - 1];

      g_assert (want == got);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const uint8_t v4[4] = { 203, 0, 113, 7 };
  static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };

  check (data, size, v4, sizeof v4);
  check (data, size, v6, sizeof v6);
  return 0;
}
