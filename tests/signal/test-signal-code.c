/* SPDX-License-Identifier: MIT
 *
 * Unit tests for pp-signal-code: the published test vector
 * (tests/data/signal/sas-vector.txt, also in docs/signaling.md), the code
 * changing when any input is swapped, the pin, hex, ids, tokens and names.
 */
#include <string.h>

#include <glib.h>

#include "signal/pp-signal-code.h"

typedef struct
{
  uint8_t fp_h[32], fp_c[32], n_h[32], n_c[32], commit[32];
  char code[8];
  char pin[32];
} Vector;

static void
load_vector (Vector *v)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "signal", "sas-vector.txt",
                                                 NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) kv = g_strsplit (lines[i], " ", 2);

      if (kv[0] == NULL || kv[1] == NULL || kv[0][0] == '#')
        continue;
      if (strcmp (kv[0], "fp_h") == 0) g_assert_true (pp_signal_hex_decode (kv[1], v->fp_h, 32));
      if (strcmp (kv[0], "fp_c") == 0) g_assert_true (pp_signal_hex_decode (kv[1], v->fp_c, 32));
      if (strcmp (kv[0], "n_h") == 0) g_assert_true (pp_signal_hex_decode (kv[1], v->n_h, 32));
      if (strcmp (kv[0], "n_c") == 0) g_assert_true (pp_signal_hex_decode (kv[1], v->n_c, 32));
      if (strcmp (kv[0], "commit") == 0)
        g_assert_true (pp_signal_hex_decode (kv[1], v->commit, 32));
      if (strcmp (kv[0], "code") == 0) g_strlcpy (v->code, kv[1], sizeof v->code);
      if (strcmp (kv[0], "pin") == 0) g_strlcpy (v->pin, kv[1], sizeof v->pin);
    }
  g_assert_cmpuint (strlen (v->code), ==, 6);
}

static void
test_vector (void)
{
  Vector v = { 0 };
  uint8_t commit[32];
  char shown[8], pin[PP_SIGNAL_PIN_LEN + 1], want[8];

  load_vector (&v);
  pp_signal_commit (v.fp_c, v.n_c, commit);
  g_assert_cmpmem (commit, 32, v.commit, 32);
  pp_signal_sas_format (pp_signal_sas (v.fp_h, v.fp_c, v.n_h, v.n_c), shown);
  g_snprintf (want, sizeof want, "%.3s %.3s", v.code, v.code + 3);
  g_assert_cmpstr (shown, ==, want);
  pp_signal_pin (v.fp_h, pin);
  g_assert_cmpstr (pin, ==, v.pin);
  g_assert_true (pp_signal_pin_matches (v.pin, v.fp_h));
  g_assert_false (pp_signal_pin_matches (v.pin, v.fp_c));
  g_assert_false (pp_signal_pin_matches ("short", v.fp_h));
}

static void
test_swaps_change_code (void)
{
  Vector v = { 0 };
  uint8_t *inputs[4];
  uint32_t base;

  load_vector (&v);
  inputs[0] = v.fp_h; inputs[1] = v.fp_c; inputs[2] = v.n_h; inputs[3] = v.n_c;
  base = pp_signal_sas (v.fp_h, v.fp_c, v.n_h, v.n_c);
  /* Same inputs on both sides: same code. */
  g_assert_cmpuint (pp_signal_sas (v.fp_h, v.fp_c, v.n_h, v.n_c), ==, base);
  for (guint i = 0; i < 4; i++)
    for (guint bit = 0; bit < 256; bit += 37)
      {
        inputs[i][bit / 8] ^= (uint8_t) (1u << (bit % 8));
        g_assert_cmpuint (pp_signal_sas (v.fp_h, v.fp_c, v.n_h, v.n_c), !=, base);
        inputs[i][bit / 8] ^= (uint8_t) (1u << (bit % 8));
      }
  /* Swapping the two fingerprints or the two nonces changes it too. */
  g_assert_cmpuint (pp_signal_sas (v.fp_c, v.fp_h, v.n_h, v.n_c), !=, base);
  g_assert_cmpuint (pp_signal_sas (v.fp_h, v.fp_c, v.n_c, v.n_h), !=, base);
}

static void
test_format (void)
{
  char out[8];

  pp_signal_sas_format (0, out);
  g_assert_cmpstr (out, ==, "000 000");
  pp_signal_sas_format (123456, out);
  g_assert_cmpstr (out, ==, "123 456");
  pp_signal_sas_format (999999, out);
  g_assert_cmpstr (out, ==, "999 999");
}

static void
test_hex (void)
{
  uint8_t b[3] = { 0 }, in[3] = { 0x00, 0xab, 0xff };
  char out[7];

  pp_signal_hex_encode (in, 3, out);
  g_assert_cmpstr (out, ==, "00abff");
  g_assert_true (pp_signal_hex_decode ("00ABff", b, 3));
  g_assert_cmpmem (b, 3, in, 3);
  g_assert_false (pp_signal_hex_decode ("00abf", b, 3));
  g_assert_false (pp_signal_hex_decode ("00abfg", b, 3));
  g_assert_false (pp_signal_hex_decode (NULL, b, 3));
  g_assert_true (pp_signal_memeq ("abc", "abc", 3));
  g_assert_false (pp_signal_memeq ("abc", "abd", 3));
}

static void
test_ids_tokens (void)
{
  char id[PP_SIGNAL_ID_LEN + 1], id2[PP_SIGNAL_ID_LEN + 1], tok[PP_SIGNAL_TOKEN_LEN + 1];
  char h1[65], h2[65];

  pp_signal_new_id (id);
  pp_signal_new_id (id2);
  g_assert_true (pp_signal_id_valid (id));
  g_assert_cmpstr (id, !=, id2);
  g_assert_false (pp_signal_id_valid ("short"));
  g_assert_false (pp_signal_id_valid ("abcdefghijklmnopqrst!"));
  g_assert_false (pp_signal_id_valid (NULL));
  pp_signal_new_token (tok);
  g_assert_cmpuint (strlen (tok), ==, PP_SIGNAL_TOKEN_LEN);
  pp_signal_token_hash (tok, h1);
  pp_signal_token_hash (tok, h2);
  g_assert_cmpstr (h1, ==, h2);
  g_assert_cmpuint (strlen (h1), ==, 64);
  pp_signal_token_hash ("other", h2);
  g_assert_cmpstr (h1, !=, h2);
}

static void
test_names (void)
{
  char long_name[66];

  memset (long_name, 'a', 65);
  long_name[65] = '\0';
  g_assert_true (pp_signal_name_valid ("laptop"));
  g_assert_true (pp_signal_name_valid ("a b~"));
  g_assert_false (pp_signal_name_valid (""));
  g_assert_false (pp_signal_name_valid (NULL));
  g_assert_false (pp_signal_name_valid ("bell\a"));
  g_assert_false (pp_signal_name_valid ("esc\x1b[2J"));
  g_assert_false (pp_signal_name_valid ("caf\xc3\xa9"));
  g_assert_false (pp_signal_name_valid (long_name));
  long_name[64] = '\0';
  g_assert_true (pp_signal_name_valid (long_name));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/signal/unit/code/vector", test_vector);
  g_test_add_func ("/signal/unit/code/swaps-change-code", test_swaps_change_code);
  g_test_add_func ("/signal/unit/code/format", test_format);
  g_test_add_func ("/signal/unit/code/hex", test_hex);
  g_test_add_func ("/signal/unit/code/ids-tokens", test_ids_tokens);
  g_test_add_func ("/signal/unit/code/names", test_names);
  return g_test_run ();
}
