/* SPDX-License-Identifier: MIT
 *
 * pp-host: what the files of `peerport host` share.  PpHost is the whole
 * host (flags, the rules every peer shares, the console, the embedded
 * signaling server when there is no --signal); PpHostPeer is one peer or
 * one pending invite, with its own signaling session, transport, tunnel and
 * sockets.  pp-cmd-host.c runs the command and the console commands,
 * pp-host-peer.c one peer's signaling and tunnel, pp-host-embed.c the
 * embedded server.  Private to src/cli.
 */
#pragma once

#include "app/pp-console.h"
#include "app/pp-session.h"
#include "app/pp-status.h"
#include "cli/pp-ice-flags.h"
#include "core/pp-rules.h"
#include "signal/pp-signal-client.h"
#include "signal/pp-signal-server.h"

G_BEGIN_DECLS

#define PP_HOST_DEFAULT_SIGNAL_PORT 7080

typedef struct
{
  char *signal;
  char *listen_signal;
  char **allow;
  char **stun;
  char **turn;
  char *name;
  char *window;
  gboolean yes, json, help;
} PpHostFlags;

typedef struct _PpHostPeer PpHostPeer;

typedef struct
{
  PpSession s;
  PpHostFlags *f;
  char *name;              /* ours, as peers see it */
  PpRules *rules;          /* shared by every peer */
  PpEpoll *ep;
  PpIceFlags *ice;
  uint32_t window;         /* --window, 0: the mux's default */
  char *base;              /* the signaling server our clients talk to */
  PpSignalServer *server;  /* embedded mode, else NULL */
  GSocketAddress *listen;  /* embedded mode: where the server listens */
  GPtrArray *peers;        /* of PpHostPeer *: connected peers and pending invites */
  PpConsole *console;
  GQueue asks;             /* peers waiting for the person's y/N (borrowed) */
  gboolean asking;         /* the first of asks is being asked */
  guint next_id;
  int last_exit;           /* the exit code of the last peer that ended */
  GPtrArray *dead;         /* ended peers, freed from an idle */
  guint reap;
  gboolean shutting_down;
  PpStatusTicker *ticker;  /* the status line, `stats` events, `status` */
} PpHost;

/* pp-host-peer.c */
/* A new session for one more peer: prints its join URL(s) and waits.  NULL
 * with @error when the session cannot be made. */
PpHostPeer *pp_host_peer_new (PpHost *h, GError **error);
void pp_host_peer_free (PpHostPeer *p);
guint pp_host_peer_get_id (PpHostPeer *p);
/* One line for `status`, one per socket for `conns`. */
void pp_host_peer_describe (PpHostPeer *p, GString *out);
void pp_host_peer_conns (PpHostPeer *p, GString *out);
/* Connections closed because the rules no longer allow them. */
guint pp_host_peer_revoke (PpHostPeer *p);
guint pp_host_peer_count_sockets (PpHostPeer *p);
gboolean pp_host_peer_is_open (PpHostPeer *p);
/* Host ending: withdraw the session if not answered yet, GOAWAY and close the
 * transport.  TRUE while the transport still has to close. */
gboolean pp_host_peer_shutdown (PpHostPeer *p);
/* TRUE while its transport has yet to close (after shutdown). */
gboolean pp_host_peer_closing (PpHostPeer *p);
/* `peer "NAME" wants to join — code 123 456 — accept? [y/N] ` */
char *pp_host_peer_question (PpHostPeer *p);
/* The console's answer for the peer first in h->asks. */
void pp_host_peer_answer (PpHostPeer *p, gboolean yes);
/* The join URLs printed for this peer (for `invite`'s reply). */
const char *const *pp_host_peer_get_urls (PpHostPeer *p);

/* pp-cmd-host.c: a peer ended (declined for good, expired, left, failed);
 * the host drops it and ends when nothing is left.  Deferred: safe from any
 * callback of the peer. */
void pp_host_peer_ended (PpHost *h, PpHostPeer *p, int exit_code);
/* Asks the person about the peer first in h->asks, if any. */
void pp_host_ask_next (PpHost *h);
/* Prints a line for a person above the status line (nothing with --json). */
void pp_host_say (PpHost *h, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* pp-host-embed.c */
/* "ADDR:PORT", "[V6]:PORT" or "PORT" (on 0.0.0.0) → a socket address. */
GSocketAddress *pp_host_parse_listen (const char *text, GError **error);
/* Starts the in-process server (not listening until a session exists). */
gboolean pp_host_embed_start (PpHost *h, GError **error);
/* A session made in-process: @id and @token out. */
gboolean pp_host_embed_create (PpHost *h, const uint8_t *fp, char **id, char **token,
                               GError **error);
/* The join URLs of @id: one per non-loopback address the server listens on,
 * then the loopback one. */
GStrv pp_host_embed_urls (PpHost *h, const char *id, const uint8_t *fp);

G_END_DECLS
