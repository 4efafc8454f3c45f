/* SPDX-License-Identifier: MIT
 *
 * Fuzz target for `peerport doctor`'s STUN response parser: any datagram,
 * checked against the transaction id it carries (so the deep paths are
 * reached) and against a fixed one.  An accepted answer holds a 4- or 16-byte
 * address; the parser must never read outside the input.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cli/pp-doctor-stun.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check (const uint8_t *data, size_t size, const uint8_t *txid)
{
  PpStunMapped m;

  memset (&m, 0xa5, sizeof m);
  if (pp_doctor_stun_parse (data, size, txid, &m) != PP_DOCTOR_STUN_OK)
    return;
  g_assert (size >= 20 && (size & 3) == 0);
  g_assert (m.ip_len == 4 || m.ip_len == 16);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const uint8_t fixed[PP_DOCTOR_STUN_TXID_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
  uint8_t txid[PP_DOCTOR_STUN_TXID_LEN] = { 0 };

  if (size >= 20)
    memcpy (txid, data + 8, sizeof txid);
  check (data, size, txid);
  check (data, size, fixed);
  return 0;
}
