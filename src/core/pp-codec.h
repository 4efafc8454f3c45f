/* SPDX-License-Identifier: MIT
 *
 * pp-codec: the wire format of docs/protocol.md §2–§4, sans-IO.
 *
 * Encodes and decodes the 45-byte packet header, walks the packets of one
 * DataChannel message (several when coalescing is on), and encodes/decodes
 * the small payloads of the control events.  It knows nothing of sockets,
 * sequencing or credit: that is pp-mux's job.  Decoding never allocates and
 * never reads past the buffer it is given; every failure names its reason.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

#define PP_HEADER_SIZE 45
#define PP_MAX_PAYLOAD 65490         /* 65535 - 45 */
#define PP_PROTOCOL_VERSION 1
#define PP_CAP_COALESCE (1u << 0)
#define PP_CAPS_SUPPORTED (PP_CAP_COALESCE)

#define PP_HELLO_FIXED_SIZE 21       /* u8 + 5 × u32 */
#define PP_HELLO_MAX_NAME 64
#define PP_HELLO_MAX_PAYLOAD 256
#define PP_CREDIT_PAYLOAD 6          /* u32 units, u16 next expected */
#define PP_SESSION_CREDIT_PAYLOAD 4  /* u32 units */
#define PP_PING_PAYLOAD 8            /* u64 token */
#define PP_CLOSE_MAX_DETAIL 200
#define PP_NAME_MAX 253              /* CONNECT by name */

typedef enum
{
  PP_EV_DATA = 0,
  PP_EV_CLOSE = 1,
  PP_EV_CONNECT = 2,
  PP_EV_HELLO = 3,
  PP_EV_CONNECTED = 4,
  PP_EV_FIN = 5,
  PP_EV_CREDIT = 6,
  PP_EV_PING = 7,
  PP_EV_PONG = 8,
  PP_EV_GOAWAY = 9,
} PpEvent;

/* CLOSE reasons (docs/protocol.md §6). */
typedef enum
{
  PP_CLOSE_NORMAL = 0,
  PP_CLOSE_REFUSED = 1,
  PP_CLOSE_CONNECT_FAILED = 2,
  PP_CLOSE_TIMED_OUT = 3,
  PP_CLOSE_RESET = 4,
  PP_CLOSE_PROTOCOL = 5,
  PP_CLOSE_NAME_NOT_RESOLVED = 6,
  PP_CLOSE_TOO_MANY = 7,
  PP_CLOSE_REVOKED = 8,
  PP_CLOSE_SESSION_ENDED = 9,
} PpCloseReason;
#define PP_CLOSE_REASON_MAX PP_CLOSE_SESSION_ENDED

/* GOAWAY reasons (docs/protocol.md §3.4). */
typedef enum
{
  PP_GOAWAY_NORMAL = 0,        /* quit, Ctrl-C, SIGTERM */
  PP_GOAWAY_PROTOCOL = 1,      /* a violation on the session, or the third one */
  PP_GOAWAY_INCOMPATIBLE = 2,  /* HELLO refused: version or windows */
  PP_GOAWAY_RESOURCES = 3,     /* a local cap was exceeded */
} PpGoawayReason;
#define PP_GOAWAY_REASON_MAX PP_GOAWAY_RESOURCES

typedef enum
{
  PP_CODEC_OK = 0,
  PP_CODEC_TRUNCATED,          /* fewer bytes than the header or payload_size says */
  PP_CODEC_TRAILING,           /* bytes after the packet without coalescing */
  PP_CODEC_MALFORMED,          /* a field out of range */
  PP_CODEC_TOO_LARGE,          /* a payload above its cap */
} PpCodecStatus;

/* The wire 4-tuple: addresses are 16 bytes, IPv4 as ::ffff:a.b.c.d. */
typedef struct
{
  uint8_t src_addr[16];
  uint16_t src_port;
  uint8_t dst_addr[16];
  uint16_t dst_port;
} PpTuple;

typedef struct
{
  uint8_t event;               /* a PpEvent, or 0x80–0xFF */
  PpTuple tuple;
  uint16_t chunk_id;
  uint16_t chunk_index;
  uint16_t total_chunks;
  uint16_t payload_size;
  const uint8_t *payload;      /* borrowed from the decoded message */
} PpPacket;

typedef struct
{
  uint8_t version;
  uint32_t caps;
  uint32_t socket_window;      /* units (payload + 64 per DATA) */
  uint32_t session_window;
  uint32_t max_tuples;
  uint32_t max_sockets;
  size_t name_len;
  char name[PP_HELLO_MAX_NAME + 1];  /* NUL-terminated, raw bytes */
} PpHello;

typedef struct
{
  uint8_t reason;
  size_t detail_len;
  const uint8_t *detail;       /* borrowed; not NUL-terminated */
} PpCloseInfo;

gboolean pp_tuple_is_zero (const PpTuple *t);
gboolean pp_tuple_equal (const PpTuple *a, const PpTuple *b);
guint pp_tuple_hash (const PpTuple *t);
/* "a:p => b:q" with IPv6 in brackets and IPv4-mapped shown as IPv4. */
char *pp_tuple_to_string (const PpTuple *t);

gboolean pp_event_is_known (uint8_t event);
const char *pp_event_name (uint8_t event);
const char *pp_close_reason_name (uint8_t reason);
const char *pp_goaway_reason_name (uint8_t reason);

/* Writes the 45-byte header of @p (payload excluded). */
void pp_packet_encode_header (const PpPacket *p, uint8_t out[PP_HEADER_SIZE]);

/* Encodes header and payload into @out; returns the bytes written, or 0
 * if @cap is too small or the payload is above PP_MAX_PAYLOAD. */
size_t pp_packet_encode (const PpPacket *p, uint8_t *out, size_t cap);

/* Decodes the packet at @buf[*offset]; on success advances *offset.
 * Checks only what the header alone decides: size, chunk_index <
 * total_chunks, total_chunks ≥ 1.  With @coalesce FALSE the packet must
 * end the message (PP_CODEC_TRAILING otherwise). */
/* (Added by the codec:) on failure *offset is unchanged, *why is a static
 * string without numbers, and if the 45 header bytes were there @out holds
 * the decoded header (payload NULL unless TRAILING), so the caller can name
 * the tuple and the numbers. */
PpCodecStatus pp_message_next (const uint8_t *buf,
                               size_t len,
                               size_t *offset,
                               gboolean coalesce,
                               PpPacket *out,
                               const char **why);

/* "ok", "truncated", "trailing bytes", "malformed", "too large". */
const char *pp_codec_status_name (PpCodecStatus status);

size_t pp_hello_encode (const PpHello *h, uint8_t *out, size_t cap);
PpCodecStatus pp_hello_decode (const uint8_t *p, size_t len, PpHello *out,
                               const char **why);

size_t pp_close_encode (uint8_t reason, const char *detail, uint8_t *out,
                        size_t cap);  /* detail truncated to 200 bytes on a UTF-8 boundary */
PpCodecStatus pp_close_decode (const uint8_t *p, size_t len, PpCloseInfo *out,
                               const char **why);  /* also for GOAWAY */

void pp_credit_encode (uint32_t units, uint16_t next_expected,
                       uint8_t out[PP_CREDIT_PAYLOAD]);
PpCodecStatus pp_credit_decode (const uint8_t *p, size_t len, uint32_t *units,
                                uint16_t *next_expected, const char **why);
void pp_session_credit_encode (uint32_t units,
                               uint8_t out[PP_SESSION_CREDIT_PAYLOAD]);
PpCodecStatus pp_session_credit_decode (const uint8_t *p, size_t len,
                                        uint32_t *units, const char **why);
void pp_ping_encode (uint64_t token, uint8_t out[PP_PING_PAYLOAD]);
PpCodecStatus pp_ping_decode (const uint8_t *p, size_t len, uint64_t *token,
                              const char **why);

/* A CONNECT name: 1–253 bytes, LDH labels of 1–63 separated by dots,
 * case-insensitive, one trailing dot allowed; a name that would parse as
 * a number (all-numeric last label, 0x…) is refused. */
gboolean pp_name_is_valid (const uint8_t *name, size_t len, const char **why);

/* Escapes anything but printable ASCII as \xNN (for terminals and logs). */
char *pp_escape (const uint8_t *bytes, size_t len);

G_END_DECLS
