/* SPDX-License-Identifier: MIT
 *
 * pp-events: what `--json` prints — one JSON object per line, schema in
 * docs/events.md — and the live status line for terminals.  Both take
 * their facts from the caller; this file only formats.  Strings that came
 * from the peer or the network are escaped here, so a hostile name cannot
 * move the cursor or break a line.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* One event being built: pp_event_new ("socket-closed"), fields, then
 * pp_event_finish () for the line (with '\n'). */
typedef struct _PpJsonEvent PpJsonEvent;

PpJsonEvent *pp_event_new (const char *type, int64_t unix_time_us);
void pp_event_add_string (PpJsonEvent *ev, const char *key, const char *value);
/* Bytes that may be anything (a peer's name, a CLOSE detail). */
void pp_event_add_bytes (PpJsonEvent *ev, const char *key, const uint8_t *value, size_t len);
void pp_event_add_int (PpJsonEvent *ev, const char *key, int64_t value);
void pp_event_add_double (PpJsonEvent *ev, const char *key, double value);
void pp_event_add_bool (PpJsonEvent *ev, const char *key, gboolean value);
void pp_event_add_null (PpJsonEvent *ev, const char *key);
/* Returns the line (transfer full) and frees @ev. */
char *pp_event_finish (PpJsonEvent *ev);

/* JSON string body for @len bytes: UTF-8 kept, invalid bytes as U+FFFD,
 * controls as \uXXXX.  Appends to @out without quotes. */
void pp_json_escape_append (GString *out, const uint8_t *s, size_t len);

typedef struct
{
  const char *state;           /* "open", "connecting", … */
  const char *path;            /* "direct udp 192.0.2.1:5000 <-> 198.51.100.7:6000" or NULL */
  int64_t rtt_us;              /* -1 unknown */
  double rate_in;              /* bytes/s from the peer */
  double rate_out;             /* bytes/s to the peer */
  guint sockets;
} PpStatus;

/* "open | direct udp … | rtt 1.2 ms | in 12.3 MB/s out 1.0 kB/s | 3 sockets" */
char *pp_status_format (const PpStatus *st);
/* 1234567 → "1.2 MB", 999 → "999 B" (SI units, as rates are). */
char *pp_format_bytes (double bytes);

G_END_DECLS
