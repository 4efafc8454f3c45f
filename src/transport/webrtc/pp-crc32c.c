/* SPDX-License-Identifier: MIT
 *
 * pp-crc32c: the hot path is the SSE4.2 crc32 instruction, 8 bytes a step,
 * picked at run time; the table fallback keeps other CPUs correct.
 */
#include "pp-crc32c.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define PP_HAVE_SSE42_PATH 1
#endif

static uint32_t table[256];
static int table_ready;

static void
build_table (void)
{
  for (uint32_t i = 0; i < 256; i++)
    {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      table[i] = c;
    }
  table_ready = 1;
}

uint32_t
pp_crc32c_sw (const void *data, size_t len)
{
  const uint8_t *p = data;
  uint32_t c = 0xFFFFFFFFu;

  if (!table_ready)
    build_table ();
  while (len-- > 0)
    c = table[(c ^ *p++) & 0xFF] ^ (c >> 8);
  return ~c;
}

#ifdef PP_HAVE_SSE42_PATH
__attribute__ ((target ("sse4.2"))) static uint32_t
crc32c_sse42 (const void *data, size_t len)
{
  const uint8_t *p = data;
  uint64_t c = 0xFFFFFFFFu;

  while (len >= 8)
    {
      uint64_t v;
      memcpy (&v, p, 8);
      c = _mm_crc32_u64 (c, v);
      p += 8;
      len -= 8;
    }
  while (len-- > 0)
    c = _mm_crc32_u8 ((uint32_t) c, *p++);
  return ~(uint32_t) c;
}
#endif

uint32_t
pp_crc32c (const void *data, size_t len)
{
#ifdef PP_HAVE_SSE42_PATH
  static int have = -1;
  if (have < 0)
    have = __builtin_cpu_supports ("sse4.2") ? 1 : 0;
  if (have)
    return crc32c_sse42 (data, len);
#endif
  return pp_crc32c_sw (data, len);
}

void
pp_crc32c_sctp_fill (uint8_t *packet, size_t len)
{
  uint32_t crc;

  if (len < 12)
    return;
  memset (packet + 8, 0, 4);
  crc = pp_crc32c (packet, len);
  /* RFC 9260 appendix B: the reflected CRC goes out least significant byte first. */
  packet[8] = (uint8_t) crc;
  packet[9] = (uint8_t) (crc >> 8);
  packet[10] = (uint8_t) (crc >> 16);
  packet[11] = (uint8_t) (crc >> 24);
}
