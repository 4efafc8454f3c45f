/* SPDX-License-Identifier: MIT
 *
 * pp-control: the control socket of a running `peerport host` or `join`
 * (DESIGN §7) and the client side that `peerport ctl` uses.  Sockets live
 * in $XDG_RUNTIME_DIR/peerport/NAME.sock (or ~/.cache/peerport when that is
 * unset) in a 0700 folder owned by the user; only the same uid may talk to
 * them.  One request is one command line; the answer is text lines and a
 * last line "OK" or "ERR".  This file knows nothing of what the commands
 * do: the owner's handler answers them.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _PpControl PpControl;

/* Answers one command line: append the text to @reply (lines ending in
 * '\n') and return TRUE for OK, FALSE for ERR. */
typedef gboolean (*PpControlHandler) (const char *line, GString *reply, gpointer user_data);

/* The folder for control sockets, created 0700 if missing; refused when it
 * is not a folder owned by us with mode 0700.  @error says why. */
char *pp_control_dir (GError **error);

/* Listens as @name ("host-1234") on the thread-default main context. */
PpControl *pp_control_new (const char *name, PpControlHandler handler, gpointer user_data,
                           GError **error);
/* Stops listening and removes the socket (and the folder when empty). */
void pp_control_free (PpControl *ctl);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpControl, pp_control_free)
const char *pp_control_get_path (PpControl *ctl);

/* Names of instances that answer (stale sockets are skipped, not removed). */
GStrv pp_control_list (GError **error);
/* Sends @line to @name and waits up to @timeout_ms for the answer.
 * Returns FALSE with @error when the instance cannot be reached; else
 * *ok tells OK/ERR and @reply gets the text. */
gboolean pp_control_call (const char *name, const char *line, guint timeout_ms,
                          GString *reply, gboolean *ok, GError **error);

G_END_DECLS
