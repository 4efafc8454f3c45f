/* SPDX-License-Identifier: MIT
 *
 * pp-command: the commands a person types at the console or sends with
 * `peerport ctl` (DESIGN §7), parsed from one line of untrusted text.  It
 * only splits and checks the line; the rule or mapping inside is parsed by
 * pp-rules / pp-mappings when the command runs.  Sans-IO.
 */
#pragma once

#include <glib.h>
#include <stddef.h>

G_BEGIN_DECLS

#define PP_COMMAND_MAX_LINE 1024

typedef enum
{
  PP_COMMAND_NONE,             /* an empty line or a # comment */
  PP_COMMAND_HELP,
  PP_COMMAND_ALLOW,            /* host: allow RULE */
  PP_COMMAND_DENY,             /* host: deny RULE|#ID [--keep] */
  PP_COMMAND_RULES,            /* host */
  PP_COMMAND_INVITE,           /* host */
  PP_COMMAND_MAP,              /* client: map MAPPING */
  PP_COMMAND_UNMAP,            /* client: unmap MAPPING|#ID */
  PP_COMMAND_MAPS,             /* client */
  PP_COMMAND_STATUS,
  PP_COMMAND_CONNS,
  PP_COMMAND_QUIT,
} PpCommandKind;

typedef enum
{
  PP_COMMAND_ROLE_HOST = 1 << 0,
  PP_COMMAND_ROLE_CLIENT = 1 << 1,
} PpCommandRole;

typedef struct
{
  PpCommandKind kind;
  char *arg;                   /* owned; the rule, mapping or #ID, trimmed; NULL if none */
  gboolean keep;               /* deny --keep: leave live connections alone */
} PpCommand;

/* Parses one line (without its newline) for a peer in @role.  FALSE with
 * *error (owned, one sentence a person can act on) for anything else. */
gboolean pp_command_parse (const char *line, size_t len, PpCommandRole role,
                           PpCommand *out, char **error);
void pp_command_clear (PpCommand *cmd);
const char *pp_command_name (PpCommandKind kind);
/* The command list for `help`, for @role. */
const char *pp_command_help (PpCommandRole role);

G_END_DECLS
