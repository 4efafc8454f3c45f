/* SPDX-License-Identifier: MIT
 *
 * Fuzz target for pp-dcep: the first two bytes pick the stream, the rest is
 * a DCEP message.  Parsing must stay inside the input, an accepted OPEN
 * must rebuild to the same bytes, and every verdict must be defined.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pp-dcep.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  PpDcepMessage m;
  PpDcepStatus st;
  PpDcepAction a;
  uint16_t stream;

  if (size < 2)
    return 0;
  stream = (uint16_t) (data[0] << 8 | data[1]);
  st = pp_dcep_parse (data + 2, size - 2, &m);
  a = pp_dcep_decide (stream, st, &m);
  g_assert (pp_dcep_status_to_string (st) != NULL);
  if (st != PP_DCEP_OK)
    {
      g_assert (a == PP_DCEP_ACTION_RESET);
      return 0;
    }
  if (m.type == PP_DCEP_OPEN)
    {
      g_assert (m.label + m.label_len + m.protocol_len == data + size);
      g_assert (a == (stream == 0 ? PP_DCEP_ACTION_ACCEPT : PP_DCEP_ACTION_ACK_AND_RESET));
    }
  else
    g_assert (a == PP_DCEP_ACTION_IGNORE);
  return 0;
}
