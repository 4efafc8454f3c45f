/* SPDX-License-Identifier: MIT
 *
 * Fuzz target for pp_message_next: walks arbitrary bytes as one DataChannel
 * message, with and without coalescing, re-encodes every decoded packet and
 * checks it equals the input slice it came from.  It also checks that the
 * two modes agree and that a failure leaves the offset alone.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp-codec.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_reencode (const PpPacket *p, const uint8_t *slice, size_t len)
{
  uint8_t *buf = g_malloc (len);
  char *text;

  g_assert (pp_packet_encode (p, buf, len) == len);
  g_assert (memcmp (buf, slice, len) == 0);
  g_assert (pp_packet_encode (p, buf, len - 1) == 0);
  text = pp_tuple_to_string (&p->tuple);
  g_assert (strstr (text, " => ") != NULL);
  g_assert (pp_event_name (p->event) != NULL);
  g_free (text);
  g_free (buf);
}

/* Returns the status of the first packet, for the single-mode cross-check. */
static PpCodecStatus
walk_coalesced (const uint8_t *data, size_t size, size_t *first_end)
{
  PpCodecStatus first = PP_CODEC_OK, status = PP_CODEC_OK;
  size_t offset = 0;

  *first_end = 0;
  while (offset < size && status == PP_CODEC_OK)
    {
      size_t start = offset;
      const char *why = NULL;
      PpPacket p;

      status = pp_message_next (data, size, &offset, TRUE, &p, &why);
      g_assert (status != PP_CODEC_TRAILING);
      if (start == 0)
        {
          first = status;
          *first_end = offset;
        }
      if (status != PP_CODEC_OK)
        {
          g_assert (why != NULL && offset == start);
          break;
        }
      g_assert (why == NULL && offset == start + PP_HEADER_SIZE + p.payload_size);
      g_assert (p.total_chunks > 0 && p.chunk_index < p.total_chunks);
      check_reencode (&p, data + start, offset - start);
    }
  return first;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  PpCodecStatus first, single;
  size_t first_end, offset = 0;
  const char *why = NULL;
  PpPacket p;

  first = walk_coalesced (data, size, &first_end);
  single = pp_message_next (data, size, &offset, FALSE, &p, &why);
  if (size == 0)
    return 0;
  if (first != PP_CODEC_OK)
    {
      g_assert (single == first && offset == 0);
      return 0;
    }
  if (first_end == size)
    {
      g_assert (single == PP_CODEC_OK && offset == size);
      return 0;
    }
  g_assert (single == PP_CODEC_TRAILING && offset == 0 && why != NULL);
  g_assert (p.payload == data + PP_HEADER_SIZE);
  return 0;
}
