/* SPDX-License-Identifier: MIT
 *
 * pp-signal-json: the JSON of DESIGN §5 — request bodies in, the session as
 * a role may see it out, and the private form the stores keep (token hashes,
 * rejects).  Every parser takes untrusted bytes and answers with a verdict
 * and a reason a person can act on; none of them trusts a field's presence,
 * type, length or nesting depth.
 */
#pragma once

#include <glib.h>
#include <stddef.h>

#include "signal/pp-signal-session.h"

G_BEGIN_DECLS

#define PP_SIGNAL_BODY_MAX (64 * 1024)
#define PP_SIGNAL_JSON_DEPTH_MAX 8
#define PP_SIGNAL_CANDIDATE_MAX 1024

/* FALSE when @data nests arrays/objects deeper than PP_SIGNAL_JSON_DEPTH_MAX
 * (json-glib recurses per level; a 64 KiB "[[[[…" must not reach it). */
gboolean pp_signal_json_depth_ok (const char *data, size_t len);

PpSignalVerdict pp_signal_parse_create (const char *data, size_t len, char **host,
                                        uint8_t fp[PP_SIGNAL_FP_LEN], const char **why);
PpSignalVerdict pp_signal_parse_join (const char *data, size_t len, char **client,
                                      uint8_t commit[32], const char **why);
PpSignalVerdict pp_signal_parse_msg (const char *data, size_t len, PpSignalMsg *m,
                                     const char **why);

/* The session as @role sees it (tokens and rejects never appear). */
char *pp_signal_session_to_view (const PpSignalSession *s, PpSignalRole role, size_t *len);
/* Back from a view, for the client; private fields stay empty. */
PpSignalSession *pp_signal_session_from_view (const char *data, size_t len, const char **why);

/* The stores' form: the view plus token hashes, rejects and times in ms. */
GBytes *pp_signal_session_to_store (const PpSignalSession *s);
PpSignalSession *pp_signal_session_from_store (const char *data, size_t len, const char **why);

/* {"error": why} */
char *pp_signal_error_json (const char *why, size_t *len);
/* Request bodies, for the client. */
char *pp_signal_msg_to_json (const PpSignalMsg *m, size_t *len);

G_END_DECLS
