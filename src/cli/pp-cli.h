/* SPDX-License-Identifier: MIT
 *
 * pp-cli: what every `peerport` subcommand shares — the dispatch table entry,
 * sysexits-style exit codes (DESIGN §7) and the one-line error format
 * `peerport: context: message`.  Subcommands live in pp-cmd-<name>.c.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

enum
{
  PP_EXIT_OK = 0,
  PP_EXIT_USAGE = 64,
  PP_EXIT_NOINPUT = 66,      /* a file named on the command line cannot be read */
  PP_EXIT_EXPIRED = 68,      /* unknown or expired session */
  PP_EXIT_UNAVAILABLE = 69,  /* peer, path or listening address unavailable */
  PP_EXIT_TEMPFAIL = 75,
  PP_EXIT_PROTOCOL = 76,
  PP_EXIT_DECLINED = 77,
};

typedef struct
{
  const char *name;
  const char *summary;
  int (*run) (int argc, char **argv); /* argv[0] is the subcommand's name */
} PpCliCommand;   /* not PpCommand: core/pp-command.h has that name */

/* Prints "peerport: @context: message" to stderr. */
void pp_cli_error (const char *context, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* Parses @entries out of @argc/@argv in place (no GOption --help: every
 * subcommand prints its own); afterwards argv[0] is the subcommand and
 * argv[1..] its operands. */
gboolean pp_cli_parse_options (int *argc, char ***argv, GOptionEntry *entries, GError **error);

/* The exit code of DESIGN §7 for a failed signaling step (host and join). */
int pp_cli_signal_exit_code (const GError *error);

/* "peerport: usage: MESSAGE; see 'peerport @name --help'", then PP_EXIT_USAGE. */
int pp_cli_usage_error (const char *name, const GError *error);

int pp_cmd_signal (int argc, char **argv);
int pp_cmd_host (int argc, char **argv);
int pp_cmd_join (int argc, char **argv);
int pp_cmd_ctl (int argc, char **argv);
int pp_cmd_doctor (int argc, char **argv);

G_END_DECLS
