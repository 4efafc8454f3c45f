/* SPDX-License-Identifier: MIT
 *
 * pp-session: what `peerport host` and `join` share once signaling is under
 * way — the main loop, SIGINT/SIGTERM, messages for a person or `--json`
 * events (docs/events.md), and the end of a tunnel: GOAWAY, an orderly
 * transport close, the exit code.  It knows nothing of signaling or WebRTC;
 * the commands do those and hand over a PpTunnel.
 */
#pragma once

#include <gio/gio.h>

#include "app/pp-tunnel.h"
#include "app/pp-events.h"

G_BEGIN_DECLS

/* Exit codes of DESIGN §7 (the same values as src/cli/pp-cli.h). */
#define PP_SESSION_EXIT_OK 0
#define PP_SESSION_EXIT_UNAVAILABLE 69
#define PP_SESSION_EXIT_PROTOCOL 76

/* How long an ending session waits for the transport's orderly close. */
#define PP_SESSION_CLOSE_GRACE_MS 3000

typedef struct
{
  const char *context;   /* "host" or "join": the prefix of messages */
  gboolean json;
  GMainLoop *loop;
  GCancellable *cancel;  /* cancelled by SIGINT/SIGTERM before the tunnel runs */
  PpTunnel *tun;         /* owned once attached */
  int exit_code;
  gboolean ending;
  gboolean interrupted;
  gboolean have_turn;    /* a TURN relay was configured (for the no-path message) */
  gboolean opened;       /* the tunnel was open once */
  guint sigint, sigterm, grace;
} PpSession;

void pp_session_init (PpSession *s, const char *context, gboolean json);
void pp_session_clear (PpSession *s);

/* A line for a person (stdout; nothing with --json). */
void pp_session_say (PpSession *s, const char *fmt, ...) G_GNUC_PRINTF (2, 3);
/* Prints @ev's line with --json, else drops it; takes @ev. */
void pp_session_emit (PpSession *s, PpJsonEvent *ev);
/* `peerport: CONTEXT: message` on stderr and an "error" event with @exit_code,
 * without ending the session (a host with other peers goes on). */
void pp_session_warn (PpSession *s, int exit_code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
/* "state" event plus, for a person, nothing (callers say it their way). */
void pp_session_state (PpSession *s, const char *state, const char *detail);
/* `peerport: CONTEXT: message` on stderr (and an "error" event), then the
 * loop ends with @exit_code once the tunnel, if any, has closed. */
void pp_session_fail (PpSession *s, int exit_code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Takes @tun; its events decide the end from now on. */
void pp_session_attach (PpSession *s, PpTunnel *tun);
/* Ends the session with @exit_code: GOAWAY if a tunnel runs, then close. */
void pp_session_end (PpSession *s, int exit_code);
int pp_session_run (PpSession *s);

/* The name the other side sees: @flag (--name) must be 1 to 64 bytes of
 * printable ASCII (what signaling servers accept); without it, this
 * machine's name made to fit. */
char *pp_session_name (const char *flag, GError **error);

/* @text with every byte outside printable ASCII as \xNN (for terminals). */
char *pp_session_escape (const char *text);

/* Why a transport closed, for a person: @detail as the transport said it,
 * turned into advice when ICE found no path (naming --turn, or the TURN
 * server when @have_turn).  @was_open: the tunnel had opened. */
char *pp_session_describe_close (const char *detail, gboolean have_turn, gboolean was_open);

/* A live status line (pp-console) gets out of the way of messages: @func
 * runs with TRUE before pp-session prints a line (stdout or stderr) and with
 * FALSE after.  Process-wide (one terminal); NULL removes it. */
typedef void (*PpSessionOutputFunc) (gboolean before, gpointer user_data);
void pp_session_set_output_func (PpSessionOutputFunc func, gpointer user_data);

G_END_DECLS
