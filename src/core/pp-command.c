/* SPDX-License-Identifier: MIT
 *
 * pp-command: one table of commands, each with the roles that have it and
 * whether it takes an argument; the parser checks the line against it.
 * Input is untrusted (it may come from another user's terminal paste or a
 * script): it must be printable ASCII or UTF-8 text without control bytes,
 * at most PP_COMMAND_MAX_LINE bytes, and errors quote it escaped.
 */
#include "core/pp-command.h"

#include "core/pp-codec.h"

#include <string.h>

typedef enum
{
  ARG_NONE,
  ARG_REQUIRED,
} ArgKind;

typedef struct
{
  const char *name;
  PpCommandKind kind;
  guint roles;
  ArgKind arg;
  const char *usage;
  const char *summary;
} CommandInfo;

#define BOTH (PP_COMMAND_ROLE_HOST | PP_COMMAND_ROLE_CLIENT)

static const CommandInfo commands[] = {
  { "allow", PP_COMMAND_ALLOW, PP_COMMAND_ROLE_HOST, ARG_REQUIRED, "allow RULE",
    "let the peer reach RULE (e.g. allow 127.0.0.1:25565)" },
  { "deny", PP_COMMAND_DENY, PP_COMMAND_ROLE_HOST, ARG_REQUIRED, "deny RULE|#ID [--keep]",
    "remove a rule and close its connections (--keep spares them)" },
  { "rules", PP_COMMAND_RULES, PP_COMMAND_ROLE_HOST, ARG_NONE, "rules", "list the rules" },
  { "invite", PP_COMMAND_INVITE, PP_COMMAND_ROLE_HOST, ARG_NONE, "invite",
    "make a join link for one more peer" },
  { "map", PP_COMMAND_MAP, PP_COMMAND_ROLE_CLIENT, ARG_REQUIRED, "map MAPPING",
    "listen locally and forward (e.g. map 8080 => 127.0.0.1:80)" },
  { "unmap", PP_COMMAND_UNMAP, PP_COMMAND_ROLE_CLIENT, ARG_REQUIRED, "unmap MAPPING|#ID",
    "close a mapping's listener and its connections" },
  { "maps", PP_COMMAND_MAPS, PP_COMMAND_ROLE_CLIENT, ARG_NONE, "maps", "list the mappings" },
  { "status", PP_COMMAND_STATUS, BOTH, ARG_NONE, "status", "session state, path, rates" },
  { "conns", PP_COMMAND_CONNS, BOTH, ARG_NONE, "conns", "list the open connections" },
  { "help", PP_COMMAND_HELP, BOTH, ARG_NONE, "help", "this list" },
  { "quit", PP_COMMAND_QUIT, BOTH, ARG_NONE, "quit", "end the session and exit" },
};

const char *
pp_command_name (PpCommandKind kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (commands[i].kind == kind)
      return commands[i].name;
  return kind == PP_COMMAND_NONE ? "" : "unknown";
}

const char *
pp_command_help (PpCommandRole role)
{
  static char *help[4];
  GString *s;

  if (help[role & 3] != NULL)
    return help[role & 3];
  s = g_string_new ("commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (commands[i].roles & role)
      g_string_append_printf (s, "  %-24s %s\n", commands[i].usage, commands[i].summary);
  help[role & 3] = g_string_free (s, FALSE);
  return help[role & 3];
}

/* *error = "@what: "<the line, escaped and cut>"". */
static gboolean
fail (char **error, const char *line, size_t len, const char *what)
{
  g_autofree char *quoted = pp_escape ((const uint8_t *) line, MIN (len, 120));

  *error = g_strdup_printf ("%s: \"%s\"", what, quoted);
  return FALSE;
}

/* Text without control bytes (tabs count as spaces) and valid UTF-8. */
static gboolean
text_is_clean (const char *line, size_t len)
{
  for (size_t i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char) line[i];
      if ((c < 0x20 && c != '\t') || c == 0x7f)
        return FALSE;
    }
  return g_utf8_validate (line, (gssize) len, NULL);
}

static const CommandInfo *
lookup (const char *word)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_ascii_strcasecmp (commands[i].name, word) == 0)
      return &commands[i];
  return NULL;
}

/* Splits a trailing "--keep" off @arg (deny only). */
static gboolean
take_keep (char *arg)
{
  size_t n = strlen (arg);

  if (n >= 6 && strcmp (arg + n - 6, "--keep") == 0 && (n == 6 || g_ascii_isspace (arg[n - 7])))
    {
      arg[n - 6] = '\0';
      g_strchomp (arg);
      return TRUE;
    }
  return FALSE;
}

static gboolean
parse_clean (const char *line, size_t len, PpCommandRole role, PpCommand *out, char **error)
{
  g_autofree char *copy = g_strndup (line, len);
  char *text = g_strstrip (g_strdelimit (copy, "\t", ' '));
  char *space = strchr (text, ' ');
  const CommandInfo *info;
  char *arg = NULL;

  if (*text == '\0' || *text == '#')
    return TRUE;
  if (space != NULL)
    {
      *space = '\0';
      arg = g_strstrip (space + 1);
    }
  info = lookup (text);
  if (info == NULL)
    return fail (error, line, len, "unknown command (type help)");
  if (!(info->roles & role))
    return fail (error, line, len, role == PP_COMMAND_ROLE_HOST
                                     ? "that command is for the joining side"
                                     : "that command is for the host");
  if (info->arg == ARG_NONE && arg != NULL && *arg != '\0')
    {
      g_autofree char *what = g_strdup_printf ("\"%s\" takes no argument", info->name);
      return fail (error, line, len, what);
    }
  out->kind = info->kind;
  if (info->arg == ARG_NONE)
    return TRUE;
  if (info->kind == PP_COMMAND_DENY && arg != NULL)
    out->keep = take_keep (arg);
  if (arg == NULL || *arg == '\0')
    {
      g_autofree char *what = g_strdup_printf ("usage: %s", info->usage);

      out->kind = PP_COMMAND_NONE;
      out->keep = FALSE;
      return fail (error, line, len, what);
    }
  out->arg = g_strdup (arg);
  return TRUE;
}

gboolean
pp_command_parse (const char *line, size_t len, PpCommandRole role, PpCommand *out,
                  char **error)
{
  memset (out, 0, sizeof *out);
  *error = NULL;
  if (len > PP_COMMAND_MAX_LINE)
    return fail (error, line, len, "a command is at most 1024 bytes");
  if (!text_is_clean (line, len))
    return fail (error, line, len, "control characters or invalid UTF-8 in the command");
  return parse_clean (line, len, role, out, error);
}

void
pp_command_clear (PpCommand *cmd)
{
  g_clear_pointer (&cmd->arg, g_free);
}
