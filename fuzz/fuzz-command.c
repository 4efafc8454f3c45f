/* SPDX-License-Identifier: MIT
 *
 * fuzz-command: arbitrary bytes as a console/ctl line, in both roles; a
 * success must give a known command whose argument is clean text.
 */
#include "core/pp-command.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  PpCommandRole roles[] = { PP_COMMAND_ROLE_HOST, PP_COMMAND_ROLE_CLIENT };

  for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
    {
      PpCommand cmd;
      char *error = NULL;

      if (pp_command_parse ((const char *) data, size, roles[i], &cmd, &error))
        {
          g_assert_null (error);
          g_assert_cmpstr (pp_command_name (cmd.kind), !=, "unknown");
          if (cmd.arg != NULL)
            g_assert_true (g_utf8_validate (cmd.arg, -1, NULL) && *cmd.arg != '\0');
          pp_command_clear (&cmd);
        }
      else
        {
          g_assert_nonnull (error);
          g_assert_null (cmd.arg);
          g_free (error);
        }
    }
  return 0;
}
