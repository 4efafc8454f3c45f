/* SPDX-License-Identifier: MIT
 *
 * Fuzz target for the control payload decoders of pp-codec: the input is
 * decoded as HELLO, CLOSE/GOAWAY, CREDIT, session CREDIT, PING and as a
 * CONNECT name, and whatever decodes is encoded again and must give the
 * same bytes.  It also drives the CLOSE detail cut and pp_escape.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pp-codec.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
fuzz_hello (const uint8_t *data, size_t size)
{
  uint8_t buf[PP_HELLO_MAX_PAYLOAD];
  PpHello h, again;

  if (pp_hello_decode (data, size, &h, NULL) != PP_CODEC_OK)
    return;
  g_assert (h.name_len <= PP_HELLO_MAX_NAME && strlen (h.name) == h.name_len);
  g_assert (pp_hello_encode (&h, buf, sizeof buf) == size);
  g_assert (memcmp (buf, data, size) == 0);
  g_assert (pp_hello_decode (buf, size, &again, NULL) == PP_CODEC_OK);
  g_assert (again.caps == h.caps && again.max_sockets == h.max_sockets);
}

static void
fuzz_close (const uint8_t *data, size_t size)
{
  uint8_t buf[1 + PP_CLOSE_MAX_DETAIL];
  char detail[PP_CLOSE_MAX_DETAIL + 1];
  PpCloseInfo c;

  if (pp_close_decode (data, size, &c, NULL) != PP_CODEC_OK)
    return;
  g_assert (c.detail_len <= PP_CLOSE_MAX_DETAIL && c.detail == data + 1);
  if (memchr (c.detail, 0, c.detail_len) != NULL)
    return;  /* the encoder takes a C string */
  memcpy (detail, c.detail, c.detail_len);
  detail[c.detail_len] = '\0';
  g_assert (pp_close_encode (c.reason, detail, buf, sizeof buf) == size);
  g_assert (memcmp (buf, data, size) == 0);
}

/* The cut keeps a prefix of at most 200 bytes, and keeps valid UTF-8 valid. */
static void
fuzz_close_cut (const uint8_t *data, size_t size)
{
  uint8_t buf[1 + PP_CLOSE_MAX_DETAIL];
  char *text = size > 0 ? g_strndup ((const char *) data, MIN (size, 600)) : g_strdup ("");
  size_t n = pp_close_encode (7, text, buf, sizeof buf);

  g_assert (n >= 1 && n <= 1 + PP_CLOSE_MAX_DETAIL);
  g_assert (memcmp (buf + 1, text, n - 1) == 0);
  if (strlen (text) <= PP_CLOSE_MAX_DETAIL)
    g_assert (n == 1 + strlen (text));
  if (g_utf8_validate (text, -1, NULL))
    g_assert (g_utf8_validate ((const char *) buf + 1, (gssize) n - 1, NULL));
  g_free (text);
}

static void
fuzz_fixed (const uint8_t *data, size_t size)
{
  uint8_t buf[PP_PING_PAYLOAD];
  uint32_t units;
  uint16_t next;
  uint64_t token;

  if (pp_credit_decode (data, size, &units, &next, NULL) == PP_CODEC_OK)
    {
      pp_credit_encode (units, next, buf);
      g_assert (size == PP_CREDIT_PAYLOAD && memcmp (buf, data, size) == 0);
    }
  if (pp_session_credit_decode (data, size, &units, NULL) == PP_CODEC_OK)
    {
      pp_session_credit_encode (units, buf);
      g_assert (size == PP_SESSION_CREDIT_PAYLOAD && memcmp (buf, data, size) == 0);
    }
  if (pp_ping_decode (data, size, &token, NULL) == PP_CODEC_OK)
    {
      pp_ping_encode (token, buf);
      g_assert (size == PP_PING_PAYLOAD && memcmp (buf, data, size) == 0);
    }
}

/* A valid name travels in a CONNECT to [::]:443 and comes back the same. */
static void
fuzz_name (const uint8_t *data, size_t size)
{
  uint8_t buf[PP_HEADER_SIZE + PP_NAME_MAX];
  PpPacket p = { .event = PP_EV_CONNECT, .total_chunks = 1 }, out;
  const char *why = NULL;
  size_t offset = 0;

  if (!pp_name_is_valid (data, size, &why))
    {
      g_assert (why != NULL);
      return;
    }
  g_assert (why == NULL && size >= 1 && size <= PP_NAME_MAX);
  for (size_t i = 0; i < size; i++)
    g_assert (g_ascii_isalnum (data[i]) || data[i] == '-' || data[i] == '.');
  p.tuple.dst_port = 443;
  p.payload = data;
  p.payload_size = (uint16_t) size;
  g_assert (pp_packet_encode (&p, buf, sizeof buf) == PP_HEADER_SIZE + size);
  g_assert (pp_message_next (buf, PP_HEADER_SIZE + size, &offset, FALSE, &out, NULL)
            == PP_CODEC_OK);
  g_assert (out.payload_size == size && memcmp (out.payload, data, size) == 0);
  g_assert (pp_name_is_valid (out.payload, out.payload_size, NULL));
}

static void
fuzz_escape (const uint8_t *data, size_t size)
{
  char *s = pp_escape (data, size);
  size_t n = strlen (s);

  g_assert (n >= size && n <= 4 * size);
  for (size_t i = 0; i < n; i++)
    g_assert (s[i] >= 0x20 && s[i] <= 0x7e);
  g_free (s);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_hello (data, size);
  fuzz_close (data, size);
  fuzz_close_cut (data, size);
  fuzz_fixed (data, size);
  fuzz_name (data, size);
  fuzz_escape (data, size);
  return 0;
}
