/* SPDX-License-Identifier: MIT
 *
 * Fuzz target for pp-mappings: parses arbitrary text as a mapping; an accepted
 * mapping's canonical text must parse back to the same mapping (text and
 * fields), and a list must accept it and give it back by id and by text.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/pp-mappings.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_roundtrip (const PpMapping *m)
{
  char *s = pp_mapping_to_string (m), *s2;
  PpMapping again;

  g_assert (pp_mapping_parse (s, &again, NULL));
  s2 = pp_mapping_to_string (&again);
  g_assert (strcmp (s, s2) == 0);
  g_assert (strcmp (m->listen_host, again.listen_host) == 0);
  g_assert (strcmp (m->target_host, again.target_host) == 0);
  g_assert (m->n_listen_addrs == again.n_listen_addrs);
  g_assert (memcmp (m->listen_addrs, again.listen_addrs, sizeof m->listen_addrs) == 0);
  g_assert (m->listen_port == again.listen_port && m->target_port == again.target_port);
  g_assert (m->target_is_name == again.target_is_name);
  g_assert (m->target_is_name || pp_addr_equal (&m->target_addr, &again.target_addr));
  g_assert (m->target_port > 0 && m->n_listen_addrs >= 1 && m->n_listen_addrs <= 2);
  pp_mapping_clear (&again);
  g_free (s2);
  g_free (s);
}

static void
check_list (const char *text, const PpMapping *m)
{
  PpMappings *ms = pp_mappings_new ();
  char *s = pp_mapping_to_string (m);
  guint id1 = pp_mappings_add (ms, text, NULL);
  guint id2;

  g_assert (id1 == 1);
  /* A second copy conflicts unless the listen port is 0. */
  id2 = pp_mappings_add (ms, s, NULL);
  g_assert (m->listen_port == 0 ? id2 == 2 : id2 == 0);
  g_assert (pp_mappings_remove (ms, s, NULL) == 1);
  g_assert (pp_mappings_remove (ms, "#1", NULL) == 0);
  pp_mappings_free (ms);
  g_free (s);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char *text = g_strndup ((const char *) data, size);
  GError *error = NULL;
  PpMapping m;

  if (pp_mapping_parse (text, &m, &error))
    {
      g_assert (error == NULL);
      check_roundtrip (&m);
      check_list (text, &m);
      pp_mapping_clear (&m);
    }
  else
    {
      g_assert (error != NULL && m.listen_host == NULL && m.target_host == NULL);
      g_error_free (error);
    }
  g_free (text);
  return 0;
}
