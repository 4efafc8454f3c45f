/* SPDX-License-Identifier: MIT
 *
 * pp-codec: the byte layout of DESIGN.md §3 (the 45-byte header, coalesced
 * messages and the control payloads), plus small helpers on the wire tuple.
 * It is pure: no sockets, no clock, no sequencing or credit (pp-mux owns
 * those), and decoders never allocate nor read outside the given buffer.
 * Every failure returns a status and a static reason string.
 */
#include "pp-codec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

/* ---- big-endian helpers ---------------------------------------------- */

static inline uint16_t
rd16 (const uint8_t *p)
{
  return (uint16_t) ((p[0] << 8) | p[1]);
}

static inline uint32_t
rd32 (const uint8_t *p)
{
  return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static inline uint64_t
rd64 (const uint8_t *p)
{
  return ((uint64_t) rd32 (p) << 32) | rd32 (p + 4);
}

static inline void
wr16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}

static inline void
wr32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t) (v >> 24);
  p[1] = (uint8_t) (v >> 16);
  p[2] = (uint8_t) (v >> 8);
  p[3] = (uint8_t) v;
}

static inline void
wr64 (uint8_t *p, uint64_t v)
{
  wr32 (p, (uint32_t) (v >> 32));
  wr32 (p + 4, (uint32_t) v);
}

static PpCodecStatus
fail (PpCodecStatus status, const char **why, const char *reason)
{
  if (why != NULL)
    *why = reason;
  return status;
}

/* ---- tuples ------------------------------------------------------------ */

gboolean
pp_tuple_is_zero (const PpTuple *t)
{
  static const uint8_t zero[16];

  g_return_val_if_fail (t != NULL, FALSE);
  return t->src_port == 0 && t->dst_port == 0
         && memcmp (t->src_addr, zero, 16) == 0 && memcmp (t->dst_addr, zero, 16) == 0;
}

gboolean
pp_tuple_equal (const PpTuple *a, const PpTuple *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);
  return a->src_port == b->src_port && a->dst_port == b->dst_port
         && memcmp (a->src_addr, b->src_addr, 16) == 0
         && memcmp (a->dst_addr, b->dst_addr, 16) == 0;
}

static inline uint64_t
load64 (const uint8_t *p)
{
  uint64_t v;

  memcpy (&v, p, sizeof v);
  return v;
}

static inline uint64_t
hash_round (uint64_t h, uint64_t w)
{
  w *= G_GUINT64_CONSTANT (0x87c37b91114253d5);
  w = (w << 31) | (w >> 33);
  h ^= w * G_GUINT64_CONSTANT (0x4cf5ad432745937f);
  return ((h << 27) | (h >> 37)) * 5 + 0x52dce729;
}

/* Murmur3-style rounds over the five 64-bit words of the tuple and the
 * splitmix64 finaliser: every input bit reaches the low bits GHashTable
 * uses as its bucket index, so sequential ports spread evenly. */
guint
pp_tuple_hash (const PpTuple *t)
{
  uint64_t h = G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);

  g_return_val_if_fail (t != NULL, 0);
  h = hash_round (h, load64 (t->src_addr));
  h = hash_round (h, load64 (t->src_addr + 8));
  h = hash_round (h, load64 (t->dst_addr));
  h = hash_round (h, load64 (t->dst_addr + 8));
  h = hash_round (h, ((uint64_t) t->src_port << 16) | t->dst_port);
  h ^= h >> 30;
  h *= G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  h ^= h >> 27;
  h *= G_GUINT64_CONSTANT (0x94d049bb133111eb);
  h ^= h >> 31;
  return (guint) (h ^ (h >> 32));
}

static gboolean
addr_is_v4_mapped (const uint8_t a[16])
{
  static const uint8_t prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

  return memcmp (a, prefix, sizeof prefix) == 0;
}

/* Appends "a.b.c.d:p" or "[v6]:p" to @s. */
static void
append_endpoint (GString *s, const uint8_t addr[16], uint16_t port)
{
  char text[INET6_ADDRSTRLEN];

  if (addr_is_v4_mapped (addr))
    {
      inet_ntop (AF_INET, addr + 12, text, sizeof text);
      g_string_append_printf (s, "%s:%u", text, (unsigned) port);
      return;
    }
  inet_ntop (AF_INET6, addr, text, sizeof text);
  g_string_append_printf (s, "[%s]:%u", text, (unsigned) port);
}

/**
 * pp_tuple_to_string:
 * @t: a tuple
 *
 * Formats @t as "127.0.0.1:54321 => 127.0.0.1:25565" or
 * "[::1]:50000 => [fe80::1]:5173"; a CONNECT by name shows "[::]:443".
 *
 * Returns: (transfer full): a newly allocated string
 */
char *
pp_tuple_to_string (const PpTuple *t)
{
  GString *s;

  g_return_val_if_fail (t != NULL, NULL);
  s = g_string_sized_new (64);
  append_endpoint (s, t->src_addr, t->src_port);
  g_string_append (s, " => ");
  append_endpoint (s, t->dst_addr, t->dst_port);
  return g_string_free (s, FALSE);
}

/* ---- names of events and reasons -------------------------------------- */

gboolean
pp_event_is_known (uint8_t event)
{
  return event <= PP_EV_GOAWAY;
}

const char *
pp_event_name (uint8_t event)
{
  static const char *const names[] = {
    "DATA", "CLOSE", "CONNECT", "HELLO", "CONNECTED",
    "FIN", "CREDIT", "PING", "PONG", "GOAWAY",
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (names) == PP_EV_GOAWAY + 1);
  return event < G_N_ELEMENTS (names) ? names[event] : "unknown";
}

const char *
pp_close_reason_name (uint8_t reason)
{
  static const char *const names[] = {
    "normal", "refused by rules", "connect failed", "timed out", "reset",
    "protocol error", "name not resolved", "too many sockets", "revoked",
    "session ended",
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (names) == PP_CLOSE_REASON_MAX + 1);
  return reason < G_N_ELEMENTS (names) ? names[reason] : "unknown";
}

const char *
pp_goaway_reason_name (uint8_t reason)
{
  static const char *const names[] = {
    "normal", "protocol error", "incompatible", "resources",
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (names) == PP_GOAWAY_REASON_MAX + 1);
  return reason < G_N_ELEMENTS (names) ? names[reason] : "unknown";
}

const char *
pp_codec_status_name (PpCodecStatus status)
{
  switch (status)
    {
    case PP_CODEC_OK:
      return "ok";
    case PP_CODEC_TRUNCATED:
      return "truncated";
    case PP_CODEC_TRAILING:
      return "trailing bytes";
    case PP_CODEC_MALFORMED:
      return "malformed";
    case PP_CODEC_TOO_LARGE:
      return "too large";
    default:
      return "unknown";
    }
}

/* ---- packets ------------------------------------------------------------ */

void
pp_packet_encode_header (const PpPacket *p, uint8_t out[PP_HEADER_SIZE])
{
  g_return_if_fail (p != NULL && out != NULL);
  out[0] = p->event;
  memcpy (out + 1, p->tuple.src_addr, 16);
  wr16 (out + 17, p->tuple.src_port);
  memcpy (out + 19, p->tuple.dst_addr, 16);
  wr16 (out + 35, p->tuple.dst_port);
  wr16 (out + 37, p->chunk_id);
  wr16 (out + 39, p->chunk_index);
  wr16 (out + 41, p->total_chunks);
  wr16 (out + 43, p->payload_size);
}

/**
 * pp_packet_encode:
 * @p: the packet; @p->payload may be %NULL only when payload_size is 0
 * @out: (out caller-allocates): where to write
 * @cap: bytes available at @out
 *
 * Writes the header and payload as they are: the chunk fields are not
 * checked, so tests can forge malformed packets.
 *
 * Returns: the bytes written, or 0 if @cap is too small or the payload is
 *   above %PP_MAX_PAYLOAD
 */
size_t
pp_packet_encode (const PpPacket *p, uint8_t *out, size_t cap)
{
  size_t total;

  g_return_val_if_fail (p != NULL, 0);
  g_return_val_if_fail (p->payload_size == 0 || p->payload != NULL, 0);
  if (p->payload_size > PP_MAX_PAYLOAD)
    return 0;
  total = PP_HEADER_SIZE + (size_t) p->payload_size;
  if (out == NULL || cap < total)
    return 0;
  pp_packet_encode_header (p, out);
  if (p->payload_size > 0)
    memcpy (out + PP_HEADER_SIZE, p->payload, p->payload_size);
  return total;
}

static void
decode_header (const uint8_t *h, PpPacket *out)
{
  out->event = h[0];
  memcpy (out->tuple.src_addr, h + 1, 16);
  out->tuple.src_port = rd16 (h + 17);
  memcpy (out->tuple.dst_addr, h + 19, 16);
  out->tuple.dst_port = rd16 (h + 35);
  out->chunk_id = rd16 (h + 37);
  out->chunk_index = rd16 (h + 39);
  out->total_chunks = rd16 (h + 41);
  out->payload_size = rd16 (h + 43);
  out->payload = NULL;
}

/* The checks the header alone decides, in a fixed order so that a status
 * is reproducible: size cap, then chunk fields. */
static PpCodecStatus
check_header (const PpPacket *p, const char **why)
{
  if (p->payload_size > PP_MAX_PAYLOAD)
    return fail (PP_CODEC_TOO_LARGE, why, "payload_size above 65490");
  if (p->total_chunks == 0)
    return fail (PP_CODEC_MALFORMED, why, "total_chunks is 0");
  if (p->chunk_index >= p->total_chunks)
    return fail (PP_CODEC_MALFORMED, why, "chunk_index >= total_chunks");
  return PP_CODEC_OK;
}

/**
 * pp_message_next:
 * @buf: the whole DataChannel message
 * @len: its length
 * @offset: (inout): where the next packet starts; advanced on success only
 * @coalesce: whether several packets may share the message
 * @out: (out): the packet; its payload points into @buf
 * @why: (out) (optional): a static reason on failure
 *
 * Decodes one packet.  Checks run in this order: header present
 * (TRUNCATED), payload_size ≤ 65490 (TOO_LARGE), total_chunks ≥ 1 and
 * chunk_index < total_chunks (MALFORMED), payload present (TRUNCATED), and
 * without @coalesce nothing after it (TRAILING).  Whenever the 45 header
 * bytes are present, @out holds the decoded header even on failure (with
 * payload %NULL unless the status is OK or TRAILING), so the caller can
 * name the tuple and the numbers in its report.  The event is not checked.
 *
 * Returns: %PP_CODEC_OK, or why the packet was refused
 */
PpCodecStatus
pp_message_next (const uint8_t *buf,
                 size_t len,
                 size_t *offset,
                 gboolean coalesce,
                 PpPacket *out,
                 const char **why)
{
  PpCodecStatus status;
  size_t left;

  g_return_val_if_fail (offset != NULL && out != NULL, PP_CODEC_TRUNCATED);
  g_return_val_if_fail (buf != NULL || len == 0, PP_CODEC_TRUNCATED);
  g_return_val_if_fail (*offset <= len, PP_CODEC_TRUNCATED);
  memset (out, 0, sizeof *out);
  left = len - *offset;
  if (left < PP_HEADER_SIZE)
    return fail (PP_CODEC_TRUNCATED, why, "fewer than 45 bytes for the header");
  decode_header (buf + *offset, out);
  status = check_header (out, why);
  if (status != PP_CODEC_OK)
    return status;
  if (left - PP_HEADER_SIZE < out->payload_size)
    return fail (PP_CODEC_TRUNCATED, why, "payload_size beyond the end of the message");
  out->payload = buf + *offset + PP_HEADER_SIZE;
  if (!coalesce && left > PP_HEADER_SIZE + (size_t) out->payload_size)
    return fail (PP_CODEC_TRAILING, why, "bytes after the packet without coalescing");
  *offset += PP_HEADER_SIZE + (size_t) out->payload_size;
  return PP_CODEC_OK;
}

/* ---- HELLO -------------------------------------------------------------- */

/**
 * pp_hello_encode:
 * @h: the HELLO; its first @h->name_len bytes of @h->name are sent raw
 *
 * Returns: the payload bytes written, or 0 if @cap is too small or
 *   name_len is above %PP_HELLO_MAX_NAME
 */
size_t
pp_hello_encode (const PpHello *h, uint8_t *out, size_t cap)
{
  size_t total;

  g_return_val_if_fail (h != NULL, 0);
  if (h->name_len > PP_HELLO_MAX_NAME)
    return 0;
  total = PP_HELLO_FIXED_SIZE + h->name_len;
  if (out == NULL || cap < total)
    return 0;
  out[0] = h->version;
  wr32 (out + 1, h->caps);
  wr32 (out + 5, h->socket_window);
  wr32 (out + 9, h->session_window);
  wr32 (out + 13, h->max_tuples);
  wr32 (out + 17, h->max_sockets);
  memcpy (out + PP_HELLO_FIXED_SIZE, h->name, h->name_len);
  return total;
}

/**
 * pp_hello_decode:
 *
 * Decodes a HELLO payload.  Shorter than 21 bytes is TRUNCATED; a payload
 * above 256 bytes or a name above 64 is TOO_LARGE; a NUL inside the name
 * is MALFORMED.  Values (version, windows) are the mux's to judge.
 */
PpCodecStatus
pp_hello_decode (const uint8_t *p, size_t len, PpHello *out, const char **why)
{
  size_t name_len;

  g_return_val_if_fail (out != NULL, PP_CODEC_MALFORMED);
  g_return_val_if_fail (p != NULL || len == 0, PP_CODEC_MALFORMED);
  memset (out, 0, sizeof *out);
  if (len < PP_HELLO_FIXED_SIZE)
    return fail (PP_CODEC_TRUNCATED, why, "HELLO shorter than 21 bytes");
  if (len > PP_HELLO_MAX_PAYLOAD)
    return fail (PP_CODEC_TOO_LARGE, why, "HELLO above 256 bytes");
  name_len = len - PP_HELLO_FIXED_SIZE;
  if (name_len > PP_HELLO_MAX_NAME)
    return fail (PP_CODEC_TOO_LARGE, why, "HELLO name above 64 bytes");
  if (name_len > 0 && memchr (p + PP_HELLO_FIXED_SIZE, 0, name_len) != NULL)
    return fail (PP_CODEC_MALFORMED, why, "NUL byte in the HELLO name");
  out->version = p[0];
  out->caps = rd32 (p + 1);
  out->socket_window = rd32 (p + 5);
  out->session_window = rd32 (p + 9);
  out->max_tuples = rd32 (p + 13);
  out->max_sockets = rd32 (p + 17);
  out->name_len = name_len;
  memcpy (out->name, p + PP_HELLO_FIXED_SIZE, name_len);
  out->name[name_len] = '\0';
  return PP_CODEC_OK;
}

/* ---- CLOSE and GOAWAY ----------------------------------------------------- */

/* How many bytes of @s to keep so that at most @max remain and a UTF-8
 * sequence is not split.  Backs up over at most 3 continuation bytes: past
 * that the text is not UTF-8 and a plain cut is as good as any. */
static size_t
utf8_cut (const char *s, size_t len, size_t max)
{
  size_t back;

  if (len <= max)
    return len;
  for (back = 0; back < 4 && back < max; back++)
    {
      if (((uint8_t) s[max - back] & 0xC0) != 0x80)
        return max - back;
    }
  return max;
}

/**
 * pp_close_encode:
 * @reason: a #PpCloseReason or #PpGoawayReason (not checked)
 * @detail: (nullable): UTF-8 text, cut to 200 bytes on a character boundary
 *
 * Encodes a CLOSE or GOAWAY payload.
 *
 * Returns: the bytes written, or 0 if @cap is too small
 */
size_t
pp_close_encode (uint8_t reason, const char *detail, uint8_t *out, size_t cap)
{
  size_t detail_len = 0;

  if (detail != NULL)
    detail_len = utf8_cut (detail, strlen (detail), PP_CLOSE_MAX_DETAIL);
  if (out == NULL || cap < 1 + detail_len)
    return 0;
  out[0] = reason;
  if (detail_len > 0)
    memcpy (out + 1, detail, detail_len);
  return 1 + detail_len;
}

/**
 * pp_close_decode:
 * @out: (out): reason and detail; detail borrows from @p
 *
 * Decodes a CLOSE or GOAWAY payload: empty is TRUNCATED, a detail above
 * 200 bytes TOO_LARGE.  Neither the reason's range nor the detail's UTF-8
 * is checked: the mux judges the reason, and logs escape the detail.
 */
PpCodecStatus
pp_close_decode (const uint8_t *p, size_t len, PpCloseInfo *out, const char **why)
{
  g_return_val_if_fail (out != NULL, PP_CODEC_MALFORMED);
  g_return_val_if_fail (p != NULL || len == 0, PP_CODEC_MALFORMED);
  memset (out, 0, sizeof *out);
  if (len == 0)
    return fail (PP_CODEC_TRUNCATED, why, "empty CLOSE/GOAWAY payload");
  if (len - 1 > PP_CLOSE_MAX_DETAIL)
    return fail (PP_CODEC_TOO_LARGE, why, "CLOSE/GOAWAY detail above 200 bytes");
  out->reason = p[0];
  out->detail_len = len - 1;
  out->detail = p + 1;
  return PP_CODEC_OK;
}

/* ---- fixed-size payloads ------------------------------------------------- */

/* Shorter than expected is TRUNCATED, longer MALFORMED, as for the other
 * payloads: a short payload lacks a field, a long one carries garbage. */
static PpCodecStatus
check_exact (size_t len, size_t want, const char **why, const char *short_why,
             const char *long_why)
{
  if (len < want)
    return fail (PP_CODEC_TRUNCATED, why, short_why);
  if (len > want)
    return fail (PP_CODEC_MALFORMED, why, long_why);
  return PP_CODEC_OK;
}

void
pp_credit_encode (uint32_t units, uint16_t next_expected, uint8_t out[PP_CREDIT_PAYLOAD])
{
  g_return_if_fail (out != NULL);
  wr32 (out, units);
  wr16 (out + 4, next_expected);
}

PpCodecStatus
pp_credit_decode (const uint8_t *p, size_t len, uint32_t *units, uint16_t *next_expected,
                  const char **why)
{
  PpCodecStatus status;

  g_return_val_if_fail (units != NULL && next_expected != NULL, PP_CODEC_MALFORMED);
  g_return_val_if_fail (p != NULL || len == 0, PP_CODEC_MALFORMED);
  status = check_exact (len, PP_CREDIT_PAYLOAD, why, "CREDIT shorter than 6 bytes",
                        "CREDIT longer than 6 bytes");
  if (status != PP_CODEC_OK)
    return status;
  *units = rd32 (p);
  *next_expected = rd16 (p + 4);
  return PP_CODEC_OK;
}

void
pp_session_credit_encode (uint32_t units, uint8_t out[PP_SESSION_CREDIT_PAYLOAD])
{
  g_return_if_fail (out != NULL);
  wr32 (out, units);
}

PpCodecStatus
pp_session_credit_decode (const uint8_t *p, size_t len, uint32_t *units, const char **why)
{
  PpCodecStatus status;

  g_return_val_if_fail (units != NULL, PP_CODEC_MALFORMED);
  g_return_val_if_fail (p != NULL || len == 0, PP_CODEC_MALFORMED);
  status = check_exact (len, PP_SESSION_CREDIT_PAYLOAD, why,
                        "session CREDIT shorter than 4 bytes",
                        "session CREDIT longer than 4 bytes");
  if (status != PP_CODEC_OK)
    return status;
  *units = rd32 (p);
  return PP_CODEC_OK;
}

void
pp_ping_encode (uint64_t token, uint8_t out[PP_PING_PAYLOAD])
{
  g_return_if_fail (out != NULL);
  wr64 (out, token);
}

PpCodecStatus
pp_ping_decode (const uint8_t *p, size_t len, uint64_t *token, const char **why)
{
  PpCodecStatus status;

  g_return_val_if_fail (token != NULL, PP_CODEC_MALFORMED);
  g_return_val_if_fail (p != NULL || len == 0, PP_CODEC_MALFORMED);
  status = check_exact (len, PP_PING_PAYLOAD, why, "PING/PONG shorter than 8 bytes",
                        "PING/PONG longer than 8 bytes");
  if (status != PP_CODEC_OK)
    return status;
  *token = rd64 (p);
  return PP_CODEC_OK;
}

/* ---- CONNECT names -------------------------------------------------------- */

static gboolean
refuse (const char **why, const char *reason)
{
  if (why != NULL)
    *why = reason;
  return FALSE;
}

static gboolean
is_ldh (uint8_t c)
{
  return g_ascii_isalnum (c) || c == '-';
}

/* A label a resolver could read as a number: all digits, or 0x + hex. */
static gboolean
label_is_numeric (const uint8_t *l, size_t n, gboolean *all_digits)
{
  size_t i;

  *all_digits = TRUE;
  for (i = 0; i < n; i++)
    *all_digits = *all_digits && g_ascii_isdigit (l[i]);
  if (n < 2 || l[0] != '0' || (l[1] != 'x' && l[1] != 'X'))
    return FALSE;
  for (i = 2; i < n; i++)
    {
      if (!g_ascii_isxdigit (l[i]))
        return FALSE;
    }
  return TRUE;
}

static gboolean
check_label (const uint8_t *l, size_t n, const char **why)
{
  size_t i;

  if (n == 0)
    return refuse (why, "empty label");
  if (n > 63)
    return refuse (why, "label longer than 63 bytes");
  if (l[0] == '-' || l[n - 1] == '-')
    return refuse (why, "label starts or ends with '-'");
  for (i = 0; i < n; i++)
    {
      if (!is_ldh (l[i]))
        return refuse (why, "byte other than letter, digit, '-' or '.'");
    }
  return TRUE;
}

/**
 * pp_name_is_valid:
 * @name: the bytes of a CONNECT payload
 * @why: (out) (optional): a static reason when invalid
 *
 * Accepts 1–253 bytes of LDH labels (1–63 bytes, no '-' at either end)
 * separated by single dots, with one optional trailing dot.  Refuses what
 * getaddrinfo could take for an address: an all-digit last label ("127.1",
 * "2130706433") or any label of 0x and hex digits ("0x7f.1").
 */
gboolean
pp_name_is_valid (const uint8_t *name, size_t len, const char **why)
{
  size_t start = 0, end, i;
  gboolean all_digits = FALSE;

  if (name == NULL || len == 0)
    return refuse (why, "empty name");
  if (len > PP_NAME_MAX)
    return refuse (why, "name longer than 253 bytes");
  end = name[len - 1] == '.' ? len - 1 : len;
  for (i = 0; i <= end; i++)
    {
      if (i < end && name[i] != '.')
        continue;
      if (!check_label (name + start, i - start, why))
        return FALSE;
      if (label_is_numeric (name + start, i - start, &all_digits))
        return refuse (why, "label looks like a hex number");
      start = i + 1;
    }
  if (all_digits)
    return refuse (why, "numeric last label (looks like an address)");
  return TRUE;
}

/* ---- escaping ---------------------------------------------------------------- */

/**
 * pp_escape:
 * @bytes: (nullable): bytes from the peer
 *
 * Keeps printable ASCII but the backslash (written "\\\\"); every other byte
 * becomes "\\xNN" with lowercase hex, so peer text cannot drive a terminal.
 *
 * Returns: (transfer full): a newly allocated string
 */
char *
pp_escape (const uint8_t *bytes, size_t len)
{
  GString *s;
  size_t i;

  g_return_val_if_fail (bytes != NULL || len == 0, NULL);
  s = g_string_sized_new (len + 1);
  for (i = 0; i < len; i++)
    {
      uint8_t c = bytes[i];

      if (c == '\\')
        g_string_append (s, "\\\\");
      else if (c >= 0x20 && c <= 0x7E)
        g_string_append_c (s, (char) c);
      else
        g_string_append_printf (s, "\\x%02x", (unsigned) c);
    }
  return g_string_free (s, FALSE);
}
