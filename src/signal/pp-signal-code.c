/* SPDX-License-Identifier: MIT
 *
 * pp-signal-code: commitment, SAS, pin, ids and tokens (DESIGN §5; the test
 * vector is in docs/signaling.md).  SHA-256 comes from GChecksum, random
 * bytes from getrandom(2).  Nothing here allocates on the heap except the
 * checksum object, and nothing depends on a clock.
 */
#include "signal/pp-signal-code.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static const char pp_b64url[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
sha256_parts (const uint8_t *const *parts, const size_t *lens, size_t n, uint8_t out[32])
{
  GChecksum *c = g_checksum_new (G_CHECKSUM_SHA256);
  gsize out_len = 32;

  for (size_t i = 0; i < n; i++)
    g_checksum_update (c, parts[i], lens[i]);
  g_checksum_get_digest (c, out, &out_len);
  g_checksum_free (c);
}

void
pp_signal_commit (const uint8_t fp_c[PP_SIGNAL_FP_LEN], const uint8_t n_c[PP_SIGNAL_NONCE_LEN],
                  uint8_t out[32])
{
  static const char label[] = "peerport commit v1";
  const uint8_t *parts[] = { (const uint8_t *) label, fp_c, n_c };
  const size_t lens[] = { sizeof label - 1, PP_SIGNAL_FP_LEN, PP_SIGNAL_NONCE_LEN };

  sha256_parts (parts, lens, 3, out);
}

uint32_t
pp_signal_sas (const uint8_t fp_h[PP_SIGNAL_FP_LEN], const uint8_t fp_c[PP_SIGNAL_FP_LEN],
               const uint8_t n_h[PP_SIGNAL_NONCE_LEN], const uint8_t n_c[PP_SIGNAL_NONCE_LEN])
{
  static const char label[] = "peerport sas v1";
  const uint8_t *parts[] = { (const uint8_t *) label, fp_h, fp_c, n_h, n_c };
  const size_t lens[] = { sizeof label - 1, PP_SIGNAL_FP_LEN, PP_SIGNAL_FP_LEN,
                          PP_SIGNAL_NONCE_LEN, PP_SIGNAL_NONCE_LEN };
  uint8_t d[32];
  uint32_t be;

  sha256_parts (parts, lens, 5, d);
  be = ((uint32_t) d[0] << 24) | ((uint32_t) d[1] << 16) | ((uint32_t) d[2] << 8) | d[3];
  return be % 1000000u;
}

void
pp_signal_sas_format (uint32_t code, char out[8])
{
  code %= 1000000u;
  g_snprintf (out, 8, "%03u %03u", code / 1000u, code % 1000u);
}

/* Unpadded base64url of @len bytes; @out holds ceil(4 * len / 3) + 1. */
static void
b64url_encode (const uint8_t *in, size_t len, char *out)
{
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;

  for (size_t i = 0; i < len; i++)
    {
      acc = (acc << 8) | in[i];
      bits += 8;
      while (bits >= 6)
        {
          bits -= 6;
          out[o++] = pp_b64url[(acc >> bits) & 0x3f];
        }
    }
  if (bits > 0)
    out[o++] = pp_b64url[(acc << (6 - bits)) & 0x3f];
  out[o] = '\0';
}

void
pp_signal_pin (const uint8_t fp_h[PP_SIGNAL_FP_LEN], char out[PP_SIGNAL_PIN_LEN + 1])
{
  b64url_encode (fp_h, 16, out);
}

gboolean
pp_signal_pin_matches (const char *pin, const uint8_t fp_h[PP_SIGNAL_FP_LEN])
{
  char want[PP_SIGNAL_PIN_LEN + 1];

  if (pin == NULL || strlen (pin) != PP_SIGNAL_PIN_LEN)
    return FALSE;
  pp_signal_pin (fp_h, want);
  return pp_signal_memeq (pin, want, PP_SIGNAL_PIN_LEN);
}

gboolean
pp_signal_memeq (const void *a, const void *b, size_t n)
{
  const volatile uint8_t *x = a, *y = b;
  uint8_t diff = 0;

  for (size_t i = 0; i < n; i++)
    diff |= x[i] ^ y[i];
  return diff == 0;
}

void
pp_signal_hex_encode (const uint8_t *in, size_t len, char *out)
{
  static const char digits[] = "0123456789abcdef";

  for (size_t i = 0; i < len; i++)
    {
      out[2 * i] = digits[in[i] >> 4];
      out[2 * i + 1] = digits[in[i] & 0xf];
    }
  out[2 * len] = '\0';
}

gboolean
pp_signal_hex_decode (const char *hex, uint8_t *out, size_t len)
{
  if (hex == NULL || strlen (hex) != 2 * len)
    return FALSE;
  for (size_t i = 0; i < len; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]);
      int lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return FALSE;
      out[i] = (uint8_t) (hi << 4 | lo);
    }
  return TRUE;
}

void
pp_signal_random (uint8_t *buf, size_t len)
{
  size_t got = 0;

  while (got < len)
    {
      ssize_t n = getrandom (buf + got, len - got, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        g_error ("getrandom: %s", g_strerror (errno)); /* no safe fallback for secrets */
      got += (size_t) n;
    }
}

void
pp_signal_new_id (char out[PP_SIGNAL_ID_LEN + 1])
{
  uint8_t r[PP_SIGNAL_ID_LEN];

  /* 64 symbols: the low 6 bits of each byte are uniform. */
  pp_signal_random (r, sizeof r);
  for (size_t i = 0; i < PP_SIGNAL_ID_LEN; i++)
    out[i] = pp_b64url[r[i] & 0x3f];
  out[PP_SIGNAL_ID_LEN] = '\0';
}

void
pp_signal_new_token (char out[PP_SIGNAL_TOKEN_LEN + 1])
{
  uint8_t r[32];

  pp_signal_random (r, sizeof r);
  b64url_encode (r, sizeof r, out);
}

void
pp_signal_token_hash (const char *token, char out[PP_SIGNAL_HASH_HEX_LEN + 1])
{
  const uint8_t *parts[] = { (const uint8_t *) token };
  const size_t lens[] = { strlen (token) };
  uint8_t d[32];

  sha256_parts (parts, lens, 1, d);
  pp_signal_hex_encode (d, sizeof d, out);
}

gboolean
pp_signal_id_valid (const char *id)
{
  if (id == NULL || strlen (id) != PP_SIGNAL_ID_LEN)
    return FALSE;
  for (size_t i = 0; i < PP_SIGNAL_ID_LEN; i++)
    if (!g_ascii_isalnum (id[i]) && id[i] != '-' && id[i] != '_')
      return FALSE;
  return TRUE;
}

gboolean
pp_signal_name_valid (const char *name)
{
  size_t n;

  if (name == NULL)
    return FALSE;
  n = strlen (name);
  if (n == 0 || n > PP_SIGNAL_NAME_MAX)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char) name[i] < 0x20 || (unsigned char) name[i] > 0x7e)
      return FALSE;
  return TRUE;
}
