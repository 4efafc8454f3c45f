/* SPDX-License-Identifier: MIT
 *
 * Console and ctl command parsing: every command in both roles, arguments,
 * deny --keep, and the errors a person sees for bad lines.
 */
#include "core/pp-command.h"
#include "core/pp-codec.h"

#include <string.h>

#define HOST PP_COMMAND_ROLE_HOST
#define CLIENT PP_COMMAND_ROLE_CLIENT

typedef struct
{
  const char *line;
  guint role;
  PpCommandKind kind;          /* expected on success */
  const char *arg;             /* expected argument, or NULL */
  gboolean keep;
  const char *error;           /* expected error substring; NULL = success */
} Case;

static const Case cases[] = {
  { "", HOST, PP_COMMAND_NONE, NULL, FALSE, NULL },
  { "   ", CLIENT, PP_COMMAND_NONE, NULL, FALSE, NULL },
  { "# a comment", HOST, PP_COMMAND_NONE, NULL, FALSE, NULL },
  { "allow 127.0.0.1:25565", HOST, PP_COMMAND_ALLOW, "127.0.0.1:25565", FALSE, NULL },
  { "  ALLOW\t*.example.com:443  ", HOST, PP_COMMAND_ALLOW, "*.example.com:443", FALSE, NULL },
  { "deny #3", HOST, PP_COMMAND_DENY, "#3", FALSE, NULL },
  { "deny 192.168.*:22 --keep", HOST, PP_COMMAND_DENY, "192.168.*:22", TRUE, NULL },
  { "deny --keep", HOST, PP_COMMAND_NONE, NULL, FALSE, "usage: deny RULE|#ID [--keep]" },
  { "deny a--keep", HOST, PP_COMMAND_DENY, "a--keep", FALSE, NULL },
  { "rules", HOST, PP_COMMAND_RULES, NULL, FALSE, NULL },
  { "invite", HOST, PP_COMMAND_INVITE, NULL, FALSE, NULL },
  { "map 8080 => 127.0.0.1:80", CLIENT, PP_COMMAND_MAP, "8080 => 127.0.0.1:80", FALSE, NULL },
  { "map 8080:localhost:80", CLIENT, PP_COMMAND_MAP, "8080:localhost:80", FALSE, NULL },
  { "unmap #1", CLIENT, PP_COMMAND_UNMAP, "#1", FALSE, NULL },
  { "maps", CLIENT, PP_COMMAND_MAPS, NULL, FALSE, NULL },
  { "status", HOST, PP_COMMAND_STATUS, NULL, FALSE, NULL },
  { "conns", CLIENT, PP_COMMAND_CONNS, NULL, FALSE, NULL },
  { "help", CLIENT, PP_COMMAND_HELP, NULL, FALSE, NULL },
  { "quit", HOST, PP_COMMAND_QUIT, NULL, FALSE, NULL },
  { "allow", HOST, PP_COMMAND_NONE, NULL, FALSE, "usage: allow RULE" },
  { "map", CLIENT, PP_COMMAND_NONE, NULL, FALSE, "usage: map MAPPING" },
  { "map 1 => 2:3", HOST, PP_COMMAND_NONE, NULL, FALSE, "for the joining side" },
  { "allow *:*", CLIENT, PP_COMMAND_NONE, NULL, FALSE, "for the host" },
  { "invite", CLIENT, PP_COMMAND_NONE, NULL, FALSE, "for the host" },
  { "status now", HOST, PP_COMMAND_NONE, NULL, FALSE, "\"status\" takes no argument" },
  { "frobnicate", HOST, PP_COMMAND_NONE, NULL, FALSE,
    "unknown command (type help): \"frobnicate\"" },
  { "allow \x1b[2J", HOST, PP_COMMAND_NONE, NULL, FALSE, "control characters" },
  { "allow \xff\xfe", HOST, PP_COMMAND_NONE, NULL, FALSE, "invalid UTF-8" },
};

static void
test_table (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const Case *c = &cases[i];
      PpCommand cmd;
      g_autofree char *error = NULL;
      g_autofree char *shown = pp_escape ((const uint8_t *) c->line, strlen (c->line));
      gboolean ok = pp_command_parse (c->line, strlen (c->line), c->role, &cmd, &error);

      g_test_message ("line %u: \"%s\"", i, shown);
      if (c->error != NULL)
        {
          g_assert_false (ok);
          g_assert_nonnull (error);
          g_assert_nonnull (strstr (error, c->error));
          g_assert_cmpint (cmd.kind, ==, PP_COMMAND_NONE);
          g_assert_null (cmd.arg);
          continue;
        }
      g_assert_true (ok);
      g_assert_null (error);
      g_assert_cmpint (cmd.kind, ==, c->kind);
      g_assert_cmpstr (cmd.arg, ==, c->arg);
      g_assert_cmpint (cmd.keep, ==, c->keep);
      pp_command_clear (&cmd);
    }
}

static void
test_too_long (void)
{
  g_autofree char *line = g_strnfill (PP_COMMAND_MAX_LINE + 1, 'a');
  g_autofree char *error = NULL;
  PpCommand cmd;

  g_assert_false (pp_command_parse (line, strlen (line), HOST, &cmd, &error));
  g_assert_nonnull (strstr (error, "at most 1024 bytes"));
  /* The quote in the error is cut, so a huge line makes a short message. */
  g_assert_cmpuint (strlen (error), <, 200);
}

static void
test_embedded_nul (void)
{
  g_autofree char *error = NULL;
  PpCommand cmd;

  g_assert_false (pp_command_parse ("quit\0rm", 7, HOST, &cmd, &error));
  g_assert_nonnull (strstr (error, "\\x00"));
}

static void
test_help (void)
{
  const char *host = pp_command_help (HOST);
  const char *client = pp_command_help (CLIENT);

  g_assert_nonnull (strstr (host, "allow RULE"));
  g_assert_null (strstr (host, "map MAPPING"));
  g_assert_nonnull (strstr (client, "unmap MAPPING|#ID"));
  g_assert_null (strstr (client, "invite"));
  g_assert_nonnull (strstr (client, "quit"));
  g_assert_cmpstr (pp_command_name (PP_COMMAND_DENY), ==, "deny");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/command/parse/table", test_table);
  g_test_add_func ("/command/parse/too-long", test_too_long);
  g_test_add_func ("/command/parse/embedded-nul", test_embedded_nul);
  g_test_add_func ("/command/help/by-role", test_help);
  return g_test_run ();
}
