/* SPDX-License-Identifier: MIT
 *
 * pp-signal-test-http: a tiny HTTP helper for signaling tests — start a
 * request, wait for its reply by iterating the main context under a
 * deadline, read status and JSON members.  Test code only.
 */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

typedef struct
{
  guint status;
  char *body;
  gsize len;
  gboolean done;
  SoupMessage *msg;
} PpHttpReply;

SoupSession *pp_http_session_new (void);
PpHttpReply *pp_http_start (SoupSession *s, const char *method, const char *url,
                            const char *token, const char *body);
gboolean pp_http_wait (PpHttpReply *r, guint timeout_ms);
PpHttpReply *pp_http (SoupSession *s, const char *method, const char *url, const char *token,
                      const char *body);
void pp_http_reply_free (PpHttpReply *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpHttpReply, pp_http_reply_free)

/* A string member of the reply's JSON object, or NULL; owned by the caller. */
char *pp_http_json_str (PpHttpReply *r, const char *member);
/* Waits until @n replies in @replies are done. */
gboolean pp_http_wait_all (PpHttpReply **replies, guint n, guint timeout_ms);

/* Raw TCP: sends @request to 127.0.0.1:@port, collects what comes back until
 * the server closes or @timeout_ms pass; *closed tells which. */
char *pp_raw_exchange (guint16 port, const char *request, guint timeout_ms, gboolean *closed);
