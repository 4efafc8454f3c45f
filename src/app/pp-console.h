/* SPDX-License-Identifier: MIT
 *
 * pp-console: where a person or a script talks to a running `peerport host`
 * or `join` (DESIGN §7) — lines typed on stdin when it is a terminal, and
 * the control socket that `peerport ctl` uses.  It parses each line
 * (pp-command), answers `help` and bad lines itself, and hands the rest to
 * the owner's callback; it also keeps a live status line at the bottom of
 * the terminal out of the way of messages.  It never decides what a command
 * does.
 */
#pragma once

#include <glib.h>

#include "core/pp-command.h"

G_BEGIN_DECLS

typedef struct _PpConsole PpConsole;

/* Runs @cmd (never NONE or HELP): append the answer to @reply (lines ending
 * in '\n') and return TRUE for OK, FALSE for an error.  It must not free the
 * console. */
typedef gboolean (*PpConsoleFunc) (const PpCommand *cmd, GString *reply, gpointer user_data);
typedef void (*PpConsoleAnswerFunc) (gboolean yes, gpointer user_data);

/* Control socket named @name ("host-PID"/"join-PID", pp-control.h) always;
 * the stdin console too when stdin is a terminal. */
PpConsole *pp_console_new (const char *name, PpCommandRole role, PpConsoleFunc func,
                           gpointer user_data, GError **error);
void pp_console_free (PpConsole *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpConsole, pp_console_free)

gboolean pp_console_is_interactive (PpConsole *c);   /* stdin is a terminal */
/* The next line typed answers @question ("accept? [y/N]") instead of being a
 * command; FALSE when not interactive.  "y" or "yes" is yes; anything else,
 * or the end of stdin, is no.  A second ask replaces the first (which is
 * not answered). */
gboolean pp_console_ask (PpConsole *c, const char *question, PpConsoleAnswerFunc func,
                         gpointer user_data);
void pp_console_cancel_ask (PpConsole *c);

/* A line for a person, printed above the status line without garbling it. */
void pp_console_print (PpConsole *c, const char *line);
/* Shown only when stdout is a terminal; NULL hides it. */
void pp_console_set_status (PpConsole *c, const char *status_line);

/* One line as if typed (without the terminal): what the control socket
 * does.  Returns TRUE for OK; @reply gets the answer. */
gboolean pp_console_run_line (PpConsole *c, const char *line, GString *reply);
/* The control socket's name ("join-1234"). */
const char *pp_console_get_name (PpConsole *c);

G_END_DECLS
