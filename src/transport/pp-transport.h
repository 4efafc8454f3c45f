/* SPDX-License-Identifier: MIT
 *
 * pp-transport: the message transport under the mux (DESIGN §2).
 *
 * A transport carries whole binary messages, reliably but in any order
 * (the DataChannel is unordered).  It reports how many bytes it has
 * accepted but not yet sent (the buffered amount), how much it can usefully
 * hold (the send window), and calls back when the buffered amount falls to
 * the low-water mark.  Implementations: pp-mem-transport (tests,
 * fault injection) and the WebRTC DataChannel.  Callbacks run on the
 * thread-default main context of the creator; nothing here takes locks.
 *
 * Message observers are taps on every message in and out (traffic
 * monitors, logs, the --json stream); they must not re-enter the transport.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct _PpTransport PpTransport;

typedef enum
{
  PP_TRANSPORT_NEW = 0,
  PP_TRANSPORT_OPEN,
  PP_TRANSPORT_CLOSED,
} PpTransportState;

typedef enum
{
  PP_TRANSPORT_DIR_IN = 0,
  PP_TRANSPORT_DIR_OUT,
} PpTransportDirection;

typedef struct
{
  uint64_t messages_sent;
  uint64_t messages_received;
  uint64_t bytes_sent;
  uint64_t bytes_received;
  uint64_t buffered_amount;    /* bytes accepted, not yet sent */
  int64_t rtt_us;              /* -1 when unknown */
  char path[128];              /* e.g. "memory", "direct udp 192.0.2.1:5000 <-> …" */
} PpTransportStats;

typedef struct
{
  void (*opened_cb) (PpTransport *t, gpointer user_data);
  /* @msg is borrowed for the call; ref it to keep it. */
  void (*message_cb) (PpTransport *t, GBytes *msg, gpointer user_data);
  void (*buffered_low_cb) (PpTransport *t, gpointer user_data);
  /* @reason is human-readable: "peer vanished (no DTLS record for 15 s)". */
  void (*closed_cb) (PpTransport *t, const char *reason, gpointer user_data);
} PpTransportCallbacks;

typedef void (*PpTransportObserverFunc) (PpTransport *t,
                                         PpTransportDirection dir,
                                         GBytes *msg,
                                         gpointer user_data);

typedef struct
{
  /* Takes a reference to @msg.  FALSE (with @error) once closed or when
   * @msg is larger than the max message size. */
  gboolean (*send) (PpTransport *t, GBytes *msg, GError **error);
  size_t (*get_buffered_amount) (PpTransport *t);
  size_t (*get_max_message_size) (PpTransport *t);
  void (*get_stats) (PpTransport *t, PpTransportStats *out);
  /* Optional: bytes worth holding below the user right now (what the path
   * can carry plus a little), 0 when unknown; see pp_transport_get_send_window. */
  size_t (*get_send_window) (PpTransport *t);
  /* Starts an orderly close; closed_cb follows (maybe from an idle). */
  void (*close) (PpTransport *t, const char *reason);
  void (*finalize) (PpTransport *t);
} PpTransportClass;

/* Embedded at the start of every implementation's struct. */
struct _PpTransport
{
  const PpTransportClass *klass;
  int ref_count;
  PpTransportState state;
  size_t low_water;              /* bytes; buffered_low_cb fires at or below */
  PpTransportCallbacks callbacks;
  gpointer user_data;
  GArray *observers;             /* of PpTransportObserver (private) */
  guint next_observer_id;
};

GQuark pp_transport_error_quark (void);
#define PP_TRANSPORT_ERROR (pp_transport_error_quark ())
typedef enum
{
  PP_TRANSPORT_ERROR_CLOSED,
  PP_TRANSPORT_ERROR_TOO_LARGE,
  PP_TRANSPORT_ERROR_FAILED,
} PpTransportError;

PpTransport *pp_transport_ref (PpTransport *t);
void pp_transport_unref (PpTransport *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpTransport, pp_transport_unref)

void pp_transport_set_callbacks (PpTransport *t,
                                 const PpTransportCallbacks *callbacks,
                                 gpointer user_data);
void pp_transport_set_low_water (PpTransport *t, size_t bytes);
size_t pp_transport_get_low_water (PpTransport *t);
PpTransportState pp_transport_get_state (PpTransport *t);

gboolean pp_transport_send (PpTransport *t, GBytes *msg, GError **error);
size_t pp_transport_get_buffered_amount (PpTransport *t);
size_t pp_transport_get_max_message_size (PpTransport *t);
/* How many buffered bytes the transport can usefully hold now: past it a new
 * message only waits behind older ones (head-of-line latency for every
 * socket).  Users size their high/low-water marks from it; 0 = unknown
 * (keep static marks).  May change with every acknowledgement. */
size_t pp_transport_get_send_window (PpTransport *t);
void pp_transport_get_stats (PpTransport *t, PpTransportStats *out);
void pp_transport_close (PpTransport *t, const char *reason);

guint pp_transport_add_observer (PpTransport *t, PpTransportObserverFunc func,
                                 gpointer user_data);
void pp_transport_remove_observer (PpTransport *t, guint id);

/* For implementations: initialise the base, and report events (these call
 * the observers and the callbacks in that order). */
void pp__transport_init (PpTransport *t, const PpTransportClass *klass);
void pp__transport_emit_opened (PpTransport *t);
void pp__transport_emit_message (PpTransport *t, GBytes *msg);
void pp__transport_emit_buffered_low (PpTransport *t);
void pp__transport_emit_closed (PpTransport *t, const char *reason);

/* Guarantees of the base (pp-transport.c), for users and implementations:
 * - a NULL callback is never called; every emitter holds a reference on @t
 *   for the duration of the call, so a callback may drop the last user ref;
 * - emit_opened acts only from NEW and sets OPEN; emit_closed acts once and
 *   sets CLOSED; after it nothing more is emitted (messages are dropped);
 * - pp_transport_send fails with CLOSED once closed_cb has run and with
 *   TOO_LARGE above get_max_message_size before calling klass->send; the
 *   OUT observers run after klass->send succeeded;
 * - an observer may remove itself (or another) from inside its call;
 * - at the last unref the base releases its own fields, then calls
 *   klass->finalize, which must free the implementation's struct.
 * A missing optional class method means: buffered 0, no size limit, stats
 * zero (rtt -1), send window 0 (unknown), close = emit closed_cb at once. */

G_END_DECLS
