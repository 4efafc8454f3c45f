/* SPDX-License-Identifier: MIT
 *
 * Fuzz target for pp-rules: each input line is parsed as a rule and added; an
 * accepted rule's canonical form must be a fixed point and must remove it again.
 * Every line is also checked as a CONNECT name, and the first 16 bytes as an
 * address, against the rules built so far: no crash, no leak, a reason on DENY.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/pp-rules.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_canonical (const char *line, guint id, PpRules *r)
{
  const char *listed = NULL;
  guint got = 0;
  char *again, *direct;

  g_assert (pp_rules_nth (r, pp_rules_count (r) - 1, &got, &listed));
  g_assert (got == id);
  again = pp_rule_canonicalize (listed, NULL);
  direct = pp_rule_canonicalize (line, NULL);
  g_assert (again != NULL && strcmp (again, listed) == 0);
  g_assert (direct != NULL && strcmp (direct, listed) == 0);
  g_free (again);
  g_free (direct);
}

static void
check_all (const PpRules *r, const char *line, const PpAddr *addr, uint16_t port)
{
  const char *why = NULL;

  if (pp_rules_check_addr (r, addr, port, &why) == PP_RULES_DENY)
    g_assert (why != NULL && *why != '\0');
  why = NULL;
  if (pp_rules_check_name (r, line, port, &why) == PP_RULES_DENY)
    g_assert (why != NULL && *why != '\0');
  why = NULL;
  if (pp_rules_check_resolved (r, line, addr, port, port & 1, &why) == PP_RULES_DENY)
    g_assert (why != NULL && *why != '\0');
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = g_strndup ((const char *) data, size);
  char **lines = g_strsplit (text, "\n", 16);
  PpRules *r = pp_rules_new ();
  PpAddr addr = { { 0 } };
  uint16_t port = size >= 2 ? (uint16_t) (data[0] << 8 | data[1]) : 80;

  memcpy (addr.b, data, MIN (size, sizeof addr.b));
  for (guint i = 0; lines[i] != NULL; i++)
    {
      GError *error = NULL;
      char *warning = NULL;
      guint id = pp_rules_add (r, lines[i], &warning, &error);

      g_assert ((id == 0) == (error != NULL));
      if (id != 0)
        check_canonical (lines[i], id, r);
      g_clear_error (&error);
      g_free (warning);
      check_all (r, lines[i], &addr, port);
    }
  /* Remove every other rule by its text, the rest by id. */
  while (pp_rules_count (r) > 0)
    {
      const char *canonical = NULL;
      guint id = 0, removed;
      char *by_id;

      g_assert (pp_rules_nth (r, 0, &id, &canonical));
      by_id = g_strdup_printf ("#%u", id);
      removed = pp_rules_remove (r, id % 2 ? canonical : by_id, NULL);
      g_assert (removed == id);
      g_free (by_id);
    }
  g_assert (pp_rules_remove (r, text, NULL) == 0);
  pp_rules_free (r);
  g_strfreev (lines);
  g_free (text);
  return 0;
}
