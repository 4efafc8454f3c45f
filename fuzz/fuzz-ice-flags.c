/* SPDX-License-Identifier: MIT
 *
 * fuzz-ice-flags: arbitrary bytes as `--stun`, `--turn` and `--window` values
 * (three lines).  Parsing must either fail with an error or give servers whose
 * fields are clean; nothing is resolved here (no network in a fuzz target).
 */
#include "cli/pp-ice-flags.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_flags (char *stun, char *turn)
{
  char *stuns[] = { stun, NULL };
  char *turns[] = { turn, NULL };
  GError *error = NULL;
  PpIceFlags *f = pp_ice_flags_new (stuns, turns, &error);
  PpWebrtcConfig cfg;
  char *text;

  if (f == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (g_str_has_prefix (error->message, "bad --")
                     || g_str_has_prefix (error->message, "--stun none"));
      g_error_free (error);
      return;
    }
  g_assert_null (error);
  pp_webrtc_config_init (&cfg);
  pp_ice_flags_apply (f, &cfg);
  /* Unresolved servers are never handed to libnice. */
  g_assert_null (cfg.stun_host);
  g_assert_cmpuint (cfg.n_turn, ==, 0);
  text = pp_ice_flags_describe (f);
  g_assert_true (g_utf8_validate (text, -1, NULL));
  g_free (text);
  pp_ice_flags_free (f);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *copy = g_strndup ((const char *) data, MIN (size, 4096));
  char **lines = g_strsplit (copy, "\n", 3);
  uint32_t window = 0;
  GError *error = NULL;

  if (lines[0] != NULL && lines[1] != NULL)
    check_flags (lines[0], lines[1]);
  if (lines[0] != NULL && lines[1] != NULL && lines[2] != NULL)
    {
      if (pp_parse_window (lines[2], &window, &error))
        g_assert_true (window >= PP_WINDOW_MIN && window <= PP_WINDOW_MAX);
      else
        g_clear_error (&error);
    }
  g_strfreev (lines);
  g_free (copy);
  return 0;
}
