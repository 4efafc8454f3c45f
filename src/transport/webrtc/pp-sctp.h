/* SPDX-License-Identifier: MIT
 *
 * pp-sctp: one SCTP association over usrsctp's AF_CONN, carrying the
 * tunnel's DataChannel (negotiated stream 0, reliable, unordered, binary).
 * usrsctp runs without threads: its timers come from one GLib source on the
 * monotonic clock, alive only while an association exists, and every entry
 * into usrsctp happens from our own calls, never from its callbacks.
 * Packets leave through output_cb (to DTLS) with their CRC32c filled in.
 * An object must not be freed from inside its own callbacks.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

#define PP_SCTP_PORT 5000
#define PP_SCTP_MTU_LOOPBACK 16384
#define PP_SCTP_MTU_DEFAULT 1200

typedef struct _PpSctp PpSctp;

typedef struct
{
  void (*output_cb) (const uint8_t *packet, size_t len, gpointer user_data);
  void (*open_cb) (gpointer user_data);
  /* @msg is borrowed; empty messages arrive as 0-byte GBytes. */
  void (*message_cb) (GBytes *msg, gpointer user_data);
  /* Called after anything that may have lowered the buffered amount. */
  void (*drained_cb) (gpointer user_data);
  void (*closed_cb) (gboolean error, const char *reason, gpointer user_data);
} PpSctpCallbacks;

typedef struct
{
  uint32_t cwnd;
  uint32_t srtt_ms;
  uint32_t mtu;
  gboolean valid;
  size_t in_usrsctp;            /* bytes handed to usrsctp, not yet acknowledged */
  size_t queued;                /* bytes in our queue, not yet handed to usrsctp */
  uint32_t peer_rwnd;           /* the peer's advertised receive window */
  uint32_t unacked;             /* DATA chunks sent, not yet acknowledged */
  uint32_t pending;             /* DATA chunks waiting to be sent */
  int32_t state;                /* SCTP_ESTABLISHED etc. */
  guint stall_kicks;            /* times the stall watchdog resent (pp-sctp.c) */
  guint dcep_acks_received;     /* ACKs for OPENs we sent (tests only send them) */
  guint dcep_opens_refused;     /* OPENs on streams other than 0, answered with a reset */
  guint streams_reset_by_peer;  /* incoming streams other than 0 the peer reset */
} PpSctpInfo;

PpSctp *pp_sctp_new (GMainContext *context, const PpSctpCallbacks *callbacks,
                     gpointer user_data);
void pp_sctp_free (PpSctp *sctp);
/* Opens the association (both sides connect: RFC 8841 §9.3).  @mtu is the
 * whole SCTP packet; @heartbeat_ms 0 keeps usrsctp's default. */
gboolean pp_sctp_start (PpSctp *sctp, uint16_t local_port, uint16_t remote_port, size_t mtu,
                        guint heartbeat_ms, GError **error);
/* One decrypted DTLS record.  Dropped before start (our INIT goes first). */
void pp_sctp_input (PpSctp *sctp, const uint8_t *packet, size_t len);
/* Queues @msg for stream 0 (takes a ref); FALSE once closed. */
gboolean pp_sctp_send (PpSctp *sctp, GBytes *msg);
/* Bytes queued here plus bytes inside usrsctp not yet acknowledged. */
size_t pp_sctp_get_buffered_amount (PpSctp *sctp);
/* What usrsctp is allowed to hold now: the congestion window plus 2 packets
 * (0 unless open).  Bytes above it wait in our queue; users that keep their
 * own queues (the mux) should hand over little more than this. */
size_t pp_sctp_get_send_window (PpSctp *sctp);
void pp_sctp_get_info (PpSctp *sctp, PpSctpInfo *out);
/* Resets our outgoing stream 0 (the channel's close, RFC 8831 §6.7); data
 * queued in usrsctp goes first. */
void pp_sctp_reset_channel (PpSctp *sctp);
/* Aborts the association; closed_cb is not called for our own close. */
void pp_sctp_close (PpSctp *sctp);
gboolean pp_sctp_is_open (PpSctp *sctp);

/* Tests: one raw message on any stream and PPID, ordered. */
gboolean pp__sctp_send_raw (PpSctp *sctp, uint16_t sid, uint32_t ppid, const void *data,
                            size_t len);

G_END_DECLS
