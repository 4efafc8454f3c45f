/* SPDX-License-Identifier: MIT
 *
 * Fuzz target for signaling JSON: every request-body parser (create, join,
 * signal), the view parser the client uses and the store parser the server
 * trusts after Redis.  A session the store parser accepts must survive a
 * round trip byte for byte, and its views must parse again.  No crash, no
 * leak, a reason for every refusal.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "signal/pp-signal-json.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_session (const char *text, size_t len)
{
  const char *why = NULL;
  PpSignalSession *s = pp_signal_session_from_store (text, len, &why);
  GBytes *again;
  PpSignalSession *back;

  if (s == NULL)
    {
      g_assert (why != NULL);
      return;
    }
  again = pp_signal_session_to_store (s);
  back = pp_signal_session_from_store (g_bytes_get_data (again, NULL), g_bytes_get_size (again),
                                       &why);
  g_assert (back != NULL);
  for (int role = PP_SIGNAL_ROLE_HOST; role <= PP_SIGNAL_ROLE_CLIENT; role++)
    {
      size_t vlen = 0;
      char *view = pp_signal_session_to_view (back, (PpSignalRole) role, &vlen);
      PpSignalSession *v = pp_signal_session_from_view (view, vlen, &why);

      g_assert (v != NULL);
      g_assert (v->status == s->status);
      pp_signal_session_free (v);
      g_free (view);
    }
  pp_signal_session_free (back);
  g_bytes_unref (again);
  pp_signal_session_free (s);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  const char *why = NULL;
  char *name = NULL;
  uint8_t bytes[32];
  PpSignalMsg m;
  PpSignalSession *v;

  if (pp_signal_parse_create (text, size, &name, bytes, &why) != PP_SIGNAL_OK)
    g_assert (why != NULL);
  g_clear_pointer (&name, g_free);
  if (pp_signal_parse_join (text, size, &name, bytes, &why) != PP_SIGNAL_OK)
    g_assert (why != NULL);
  g_clear_pointer (&name, g_free);
  if (pp_signal_parse_msg (text, size, &m, &why) == PP_SIGNAL_OK)
    {
      size_t len = 0;
      char *json = pp_signal_msg_to_json (&m, &len);
      PpSignalMsg again;

      g_assert (pp_signal_parse_msg (json, len, &again, &why) == PP_SIGNAL_OK);
      g_assert (again.type == m.type);
      pp_signal_msg_clear (&again);
      g_free (json);
    }
  pp_signal_msg_clear (&m);
  v = pp_signal_session_from_view (text, size, &why);
  pp_signal_session_free (v);
  check_session (text, size);
  return 0;
}
