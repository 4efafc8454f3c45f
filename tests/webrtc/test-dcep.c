/* SPDX-License-Identifier: MIT
 *
 * test-dcep: DCEP parsing and the stream-0 rule of DESIGN §6, plus the
 * CRC32c used in the SCTP output path against known vectors.
 */
#include "pp-crc32c.h"
#include "pp-dcep.h"

#include <string.h>

typedef struct
{
  const char *name;
  const uint8_t *data;
  size_t len;
  uint16_t stream;
  PpDcepStatus status;
  PpDcepAction action;
} DcepCase;

static const uint8_t open_data[] = { 0x03, 0x80, 0x01, 0x00, 0, 0, 0, 0, 0, 4, 0, 0,
                                     'd', 'a', 't', 'a' };
static const uint8_t open_proto[] = { 0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0, 1, 0, 2,
                                      'x', 'p', 'q' };
static const uint8_t open_short[] = { 0x03, 0x80, 0x01, 0x00, 0, 0, 0, 0, 0, 9, 0, 0, 'd' };
static const uint8_t open_long[] = { 0x03, 0x80, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 'z' };
static const uint8_t open_hdr[] = { 0x03, 0x80, 0x01, 0x00, 0, 0, 0 };
static const uint8_t open_type[] = { 0x03, 0x7F, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t ack[] = { 0x02 };
static const uint8_t ack_long[] = { 0x02, 0x00 };
static const uint8_t unknown[] = { 0x01 };

static const DcepCase cases[] = {
  { "open-stream0", open_data, sizeof open_data, 0, PP_DCEP_OK, PP_DCEP_ACTION_ACCEPT },
  { "open-stream1", open_data, sizeof open_data, 1, PP_DCEP_OK, PP_DCEP_ACTION_ACK_AND_RESET },
  { "open-protocol", open_proto, sizeof open_proto, 2, PP_DCEP_OK,
    PP_DCEP_ACTION_ACK_AND_RESET },
  { "open-truncated-label", open_short, sizeof open_short, 0, PP_DCEP_ERR_TRUNCATED,
    PP_DCEP_ACTION_RESET },
  { "open-trailing", open_long, sizeof open_long, 0, PP_DCEP_ERR_TRAILING,
    PP_DCEP_ACTION_RESET },
  { "open-short-header", open_hdr, sizeof open_hdr, 0, PP_DCEP_ERR_TRUNCATED,
    PP_DCEP_ACTION_RESET },
  { "open-bad-type", open_type, sizeof open_type, 0, PP_DCEP_ERR_BAD_CHANNEL_TYPE,
    PP_DCEP_ACTION_RESET },
  { "ack", ack, sizeof ack, 0, PP_DCEP_OK, PP_DCEP_ACTION_IGNORE },
  { "ack-trailing", ack_long, sizeof ack_long, 0, PP_DCEP_ERR_TRAILING, PP_DCEP_ACTION_RESET },
  { "unknown", unknown, sizeof unknown, 0, PP_DCEP_ERR_UNKNOWN_TYPE, PP_DCEP_ACTION_RESET },
  { "empty", ack, 0, 0, PP_DCEP_ERR_EMPTY, PP_DCEP_ACTION_RESET },
};

static void
test_case (gconstpointer data)
{
  const DcepCase *c = data;
  PpDcepMessage m;
  PpDcepStatus st = pp_dcep_parse (c->data, c->len, &m);

  g_assert_cmpint (st, ==, c->status);
  g_assert_cmpint (pp_dcep_decide (c->stream, st, &m), ==, c->action);
  g_assert_nonnull (pp_dcep_status_to_string (st));
}

static void
test_open_fields (void)
{
  g_autoptr (GBytes) b = pp_dcep_build_open (0x80, "data", "proto");
  size_t len;
  const uint8_t *p = g_bytes_get_data (b, &len);
  PpDcepMessage m;

  g_assert_cmpint (pp_dcep_parse (p, len, &m), ==, PP_DCEP_OK);
  g_assert_cmpuint (m.type, ==, PP_DCEP_OPEN);
  g_assert_cmpuint (m.channel_type, ==, 0x80);
  g_assert_cmpuint (m.priority, ==, 256);
  g_assert_cmpmem (m.label, m.label_len, "data", 4);
  g_assert_cmpmem (m.protocol, m.protocol_len, "proto", 5);
}

static void
test_crc32c_vectors (void)
{
  uint8_t zeros[32] = { 0 }, ones[32], inc[32];
  g_autofree uint8_t *big = g_malloc (70001);

  memset (ones, 0xFF, sizeof ones);
  for (int i = 0; i < 32; i++)
    inc[i] = (uint8_t) i;
  /* RFC 3720 B.4 */
  g_assert_cmphex (pp_crc32c (zeros, 32), ==, 0x8A9136AA);
  g_assert_cmphex (pp_crc32c (ones, 32), ==, 0x62A8AB43);
  g_assert_cmphex (pp_crc32c (inc, 32), ==, 0x46DD794E);
  g_assert_cmphex (pp_crc32c ("123456789", 9), ==, 0xE3069283);
  for (size_t i = 0; i < 70001; i++)
    big[i] = (uint8_t) (i * 131 + 7);
  for (size_t len = 0; len < 70001; len = len * 3 + 1)
    g_assert_cmphex (pp_crc32c (big + 1, len), ==, pp_crc32c_sw (big + 1, len));
}

static void
test_crc32c_sctp (void)
{
  uint8_t pkt[16] = { 0x13, 0x88, 0x13, 0x88, 1, 2, 3, 4, 0xAA, 0xBB, 0xCC, 0xDD, 9, 9, 9, 9 };
  uint8_t copy[16];
  uint32_t want;

  memcpy (copy, pkt, sizeof pkt);
  memset (copy + 8, 0, 4);
  want = pp_crc32c_sw (copy, sizeof copy);
  pp_crc32c_sctp_fill (pkt, sizeof pkt);
  g_assert_cmphex (pkt[8] | pkt[9] << 8 | pkt[10] << 16 | (uint32_t) pkt[11] << 24, ==, want);
  pp_crc32c_sctp_fill (pkt, 11);   /* too short: untouched */
  g_assert_cmphex (pkt[8] | pkt[9] << 8 | pkt[10] << 16 | (uint32_t) pkt[11] << 24, ==, want);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/dcep/unit/%s", cases[i].name);
      g_test_add_data_func (p, &cases[i], test_case);
    }
  g_test_add_func ("/dcep/unit/open-fields", test_open_fields);
  g_test_add_func ("/crc32c/unit/vectors", test_crc32c_vectors);
  g_test_add_func ("/crc32c/unit/sctp-field", test_crc32c_sctp);
  return g_test_run ();
}
