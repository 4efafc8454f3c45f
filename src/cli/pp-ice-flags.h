/* SPDX-License-Identifier: MIT
 *
 * pp-ice-flags: the `--stun`, `--turn` and `--window` flags that `host` and
 * `join` share (DESIGN §7), with their defaults from PEERPORT_STUN and
 * PEERPORT_TURN.  It parses the URIs, resolves server names to numeric
 * addresses (libnice wants addresses) and fills a PpWebrtcConfig; it never
 * creates a transport and never talks to a server.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "transport/webrtc/pp-webrtc-transport.h"

G_BEGIN_DECLS

#define PP_ICE_DEFAULT_PORT 3478
/* How long resolving all the server names may take. */
#define PP_ICE_RESOLVE_TIMEOUT_MS 5000

/* --window bounds: the protocol refuses W < 4 KiB (docs/protocol.md §3.1), and
 * the session window 16 × W must fit its u32 field. */
#define PP_WINDOW_MIN 4096u
#define PP_WINDOW_MAX (128u * 1024 * 1024)

typedef struct PpIceFlags PpIceFlags;

/* Parses the --stun (@stun) and --turn (@turn) values, NULL-terminated and
 * either may be NULL; when a list is empty its environment variable
 * (PEERPORT_STUN / PEERPORT_TURN, comma-separated) is read instead.
 * `--stun none` turns STUN off, default included.  NULL with @error
 * (G_OPTION_ERROR) naming the bad URI and the expected form. */
PpIceFlags *pp_ice_flags_new (char **stun, char **turn, GError **error);
void pp_ice_flags_free (PpIceFlags *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpIceFlags, pp_ice_flags_free)

/* Resolves every server name, synchronously, at most PP_ICE_RESOLVE_TIMEOUT_MS
 * in all (the lookups run on a private main context, so the caller's sources
 * do not run meanwhile).  @default_stun_host (NULL: none) is the STUN server
 * used when no --stun and no PEERPORT_STUN was given.  An unresolvable
 * --stun or --turn name is an error; an unresolvable default only drops it. */
gboolean pp_ice_flags_resolve (PpIceFlags *f, const char *default_stun_host,
                               guint default_stun_port, GError **error);

/* Fills @cfg's stun_* and turn fields; they point into @f, which must outlive
 * @cfg's use (pp_webrtc_transport_new copies them).  libnice uses one STUN
 * server: the first one that resolved. */
void pp_ice_flags_apply (PpIceFlags *f, PpWebrtcConfig *cfg);

/* A one-line summary for a person: "STUN 192.0.2.1:3478, TURN 192.0.2.2:3478/tcp"
 * or "no STUN or TURN server". */
char *pp_ice_flags_describe (PpIceFlags *f);
/* Some TURN server was given. */
gboolean pp_ice_flags_has_turn (PpIceFlags *f);

/* --window BYTES: a number with an optional K, M, KiB or MiB suffix (1024s),
 * within PP_WINDOW_MIN..PP_WINDOW_MAX. */
gboolean pp_parse_window (const char *text, uint32_t *out, GError **error);

G_END_DECLS
