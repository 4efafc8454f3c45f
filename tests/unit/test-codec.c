/* SPDX-License-Identifier: MIT
 *
 * Tests for pp-codec: the golden vectors of tests/data/codec/ (decoded,
 * then re-encoded from the table below and compared byte for byte), random
 * round trips, every error status with its cause, and the helpers (names,
 * escaping, tuple hashing and formatting).  Pure: no sockets, no clock.
 */
#include "core/pp-codec.h"

#include <arpa/inet.h>
#include <string.h>

/* ---- helpers ----------------------------------------------------------- */

static void
parse_addr (const char *text, uint8_t out[16])
{
  uint8_t v4[4];

  if (inet_pton (AF_INET, text, v4) == 1)
    {
      memset (out, 0, 10);
      out[10] = 0xff;
      out[11] = 0xff;
      memcpy (out + 12, v4, 4);
      return;
    }
  g_assert_cmpint (inet_pton (AF_INET6, text, out), ==, 1);
}

static void
make_tuple (PpTuple *t, const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
  memset (t, 0, sizeof *t);
  parse_addr (src, t->src_addr);
  t->src_port = sport;
  parse_addr (dst, t->dst_addr);
  t->dst_port = dport;
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Hex text to bytes; whitespace is ignored and '#' starts a comment. */
static GByteArray *
hex_decode (const char *text)
{
  GByteArray *out = g_byte_array_new ();
  int high = -1;

  for (const char *p = text; *p != '\0'; p++)
    {
      uint8_t byte;
      int v;

      if (*p == '#')
        {
          while (*p != '\0' && *p != '\n')
            p++;
          if (*p == '\0')
            break;
          continue;
        }
      if (g_ascii_isspace (*p))
        continue;
      v = hex_value (*p);
      g_assert_cmpint (v, >=, 0);
      if (high < 0)
        {
          high = v;
          continue;
        }
      byte = (uint8_t) ((high << 4) | v);
      g_byte_array_append (out, &byte, 1);
      high = -1;
    }
  g_assert_cmpint (high, ==, -1);
  return out;
}

static GByteArray *
load_vector (const char *name)
{
  g_autofree char *file = g_strconcat (name, ".hex", NULL);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "codec", file, NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return hex_decode (text);
}

/* ---- the golden vectors ------------------------------------------------ */

typedef enum
{
  PL_RAW,      /* payload compared as bytes */
  PL_HELLO,
  PL_CLOSE,    /* CLOSE and GOAWAY */
  PL_CREDIT,
  PL_SCREDIT,
  PL_PING,     /* PING and PONG */
} PayloadKind;

typedef struct
{
  uint8_t event;
  const char *src;
  uint16_t sport;
  const char *dst;
  uint16_t dport;
  uint16_t chunk_id;
  uint16_t chunk_index;
  uint16_t total_chunks;
  PayloadKind kind;
  const char *text;            /* PL_RAW payload or PL_CLOSE detail */
  uint8_t reason;
  uint32_t units;
  uint16_t next_expected;
  uint64_t token;
} ExpectedPacket;

typedef struct
{
  const char *name;
  gboolean coalesce;
  size_t n_packets;
  ExpectedPacket packets[3];
} Vector;

#define V4_TUPLE "127.0.0.1", 54321, "127.0.0.1", 25565
#define ZERO_TUPLE "::", 0, "::", 0

static const PpHello golden_hello = {
  .version = 1,
  .caps = PP_CAP_COALESCE,
  .socket_window = 1u << 20,
  .session_window = 16u << 20,
  .max_tuples = 65536,
  .max_sockets = 10000,
  .name_len = 12,
  .name = "peerport/0.1",
};

static const Vector vectors[] = {
  { "connect-v4", FALSE, 1, { { PP_EV_CONNECT, V4_TUPLE, 0, 0, 1, PL_RAW, "" } } },
  { "data-hello", FALSE, 1, { { PP_EV_DATA, V4_TUPLE, 1, 0, 1, PL_RAW, "hello" } } },
  { "close-connect-failed", FALSE, 1,
    { { PP_EV_CLOSE, V4_TUPLE, 0, 0, 1, PL_CLOSE, "connection refused",
        .reason = PP_CLOSE_CONNECT_FAILED } } },
  { "hello", FALSE, 1, { { PP_EV_HELLO, ZERO_TUPLE, 0, 0, 1, PL_HELLO } } },
  { "credit", FALSE, 1,
    { { PP_EV_CREDIT, V4_TUPLE, 5, 0, 1, PL_CREDIT, .units = 262144,
        .next_expected = 300 } } },
  { "session-credit", FALSE, 1,
    { { PP_EV_CREDIT, ZERO_TUPLE, 0, 0, 1, PL_SCREDIT, .units = 4194304 } } },
  { "connect-v6", FALSE, 1,
    { { PP_EV_CONNECT, "::1", 50000, "fe80::1", 5173, 0, 0, 1, PL_RAW, "" } } },
  { "data-v6-chunk", FALSE, 1,
    { { PP_EV_DATA, "2001:db8:85a3:8d3:1319:8a2e:370:7348", 40000, "2001:db8::1", 443,
        65535, 2, 3, PL_RAW, "ab" } } },
  { "connect-name", FALSE, 1,
    { { PP_EV_CONNECT, "127.0.0.1", 41000, "::", 443, 0, 0, 1, PL_RAW, "example.com" } } },
  { "ping", FALSE, 1,
    { { PP_EV_PING, ZERO_TUPLE, 0, 0, 1, PL_PING,
        .token = G_GUINT64_CONSTANT (0x0123456789abcdef) } } },
  { "pong", FALSE, 1,
    { { PP_EV_PONG, ZERO_TUPLE, 0, 0, 1, PL_PING,
        .token = G_GUINT64_CONSTANT (0x0123456789abcdef) } } },
  { "goaway", FALSE, 1,
    { { PP_EV_GOAWAY, ZERO_TUPLE, 0, 0, 1, PL_CLOSE, "host quit",
        .reason = PP_GOAWAY_NORMAL } } },
  { "coalesced", TRUE, 3,
    { { PP_EV_CONNECTED, V4_TUPLE, 0, 0, 1, PL_RAW, "" },
      { PP_EV_DATA, V4_TUPLE, 1, 0, 1, PL_RAW, "HTTP/1.0 200 OK\r\n\r\n" },
      { PP_EV_FIN, V4_TUPLE, 2, 0, 1, PL_RAW, "" } } },
};

/* Builds the payload of @e with the codec's own encoders. */
static size_t
encode_payload (const ExpectedPacket *e, uint8_t *buf, size_t cap)
{
  size_t n = 0;

  switch (e->kind)
    {
    case PL_RAW:
      n = strlen (e->text);
      memcpy (buf, e->text, n);
      return n;
    case PL_HELLO:
      return pp_hello_encode (&golden_hello, buf, cap);
    case PL_CLOSE:
      return pp_close_encode (e->reason, e->text, buf, cap);
    case PL_CREDIT:
      pp_credit_encode (e->units, e->next_expected, buf);
      return PP_CREDIT_PAYLOAD;
    case PL_SCREDIT:
      pp_session_credit_encode (e->units, buf);
      return PP_SESSION_CREDIT_PAYLOAD;
    case PL_PING:
      pp_ping_encode (e->token, buf);
      return PP_PING_PAYLOAD;
    default:
      g_assert_not_reached ();
    }
  return n;
}

static void
assert_hello_equal (const PpHello *a, const PpHello *b)
{
  g_assert_cmpuint (a->version, ==, b->version);
  g_assert_cmpuint (a->caps, ==, b->caps);
  g_assert_cmpuint (a->socket_window, ==, b->socket_window);
  g_assert_cmpuint (a->session_window, ==, b->session_window);
  g_assert_cmpuint (a->max_tuples, ==, b->max_tuples);
  g_assert_cmpuint (a->max_sockets, ==, b->max_sockets);
  g_assert_cmpmem (a->name, a->name_len, b->name, b->name_len);
  g_assert_cmpint (a->name[a->name_len], ==, 0);
}

static void
check_payload (const ExpectedPacket *e, const PpPacket *p)
{
  PpHello hello;
  PpCloseInfo close;
  uint32_t units = 0;
  uint16_t next = 0;
  uint64_t token = 0;

  switch (e->kind)
    {
    case PL_RAW:
      g_assert_cmpmem (p->payload, p->payload_size, e->text, strlen (e->text));
      break;
    case PL_HELLO:
      g_assert_cmpint (pp_hello_decode (p->payload, p->payload_size, &hello, NULL), ==,
                       PP_CODEC_OK);
      assert_hello_equal (&hello, &golden_hello);
      break;
    case PL_CLOSE:
      g_assert_cmpint (pp_close_decode (p->payload, p->payload_size, &close, NULL), ==,
                       PP_CODEC_OK);
      g_assert_cmpuint (close.reason, ==, e->reason);
      g_assert_cmpmem (close.detail, close.detail_len, e->text, strlen (e->text));
      break;
    case PL_CREDIT:
      g_assert_cmpint (pp_credit_decode (p->payload, p->payload_size, &units, &next, NULL),
                       ==, PP_CODEC_OK);
      g_assert_cmpuint (units, ==, e->units);
      g_assert_cmpuint (next, ==, e->next_expected);
      break;
    case PL_SCREDIT:
      g_assert_cmpint (pp_session_credit_decode (p->payload, p->payload_size, &units, NULL),
                       ==, PP_CODEC_OK);
      g_assert_cmpuint (units, ==, e->units);
      break;
    case PL_PING:
      g_assert_cmpint (pp_ping_decode (p->payload, p->payload_size, &token, NULL), ==,
                       PP_CODEC_OK);
      g_assert_cmpuint (token, ==, e->token);
      break;
    default:
      g_assert_not_reached ();
    }
}

static void
check_header (const ExpectedPacket *e, const PpPacket *p)
{
  PpTuple t;

  make_tuple (&t, e->src, e->sport, e->dst, e->dport);
  g_assert_cmpuint (p->event, ==, e->event);
  g_assert_true (pp_tuple_equal (&p->tuple, &t));
  g_assert_cmpuint (p->chunk_id, ==, e->chunk_id);
  g_assert_cmpuint (p->chunk_index, ==, e->chunk_index);
  g_assert_cmpuint (p->total_chunks, ==, e->total_chunks);
}

static void
test_vector_decode (gconstpointer data)
{
  const Vector *v = data;
  g_autoptr (GByteArray) bytes = load_vector (v->name);
  size_t offset = 0;

  for (size_t i = 0; i < v->n_packets; i++)
    {
      PpPacket p;
      const char *why = NULL;

      g_assert_cmpint (pp_message_next (bytes->data, bytes->len, &offset, v->coalesce, &p,
                                        &why), ==, PP_CODEC_OK);
      g_assert_null (why);
      check_header (&v->packets[i], &p);
      check_payload (&v->packets[i], &p);
    }
  g_assert_cmpuint (offset, ==, bytes->len);
}

static void
test_vector_encode (gconstpointer data)
{
  const Vector *v = data;
  g_autoptr (GByteArray) bytes = load_vector (v->name);
  g_autoptr (GByteArray) built = g_byte_array_new ();

  for (size_t i = 0; i < v->n_packets; i++)
    {
      const ExpectedPacket *e = &v->packets[i];
      uint8_t payload[512], out[PP_HEADER_SIZE + 512];
      PpPacket p = { 0 };
      size_t n;

      p.event = e->event;
      make_tuple (&p.tuple, e->src, e->sport, e->dst, e->dport);
      p.chunk_id = e->chunk_id;
      p.chunk_index = e->chunk_index;
      p.total_chunks = e->total_chunks;
      p.payload_size = (uint16_t) encode_payload (e, payload, sizeof payload);
      p.payload = payload;
      n = pp_packet_encode (&p, out, sizeof out);
      g_assert_cmpuint (n, ==, PP_HEADER_SIZE + p.payload_size);
      g_byte_array_append (built, out, (guint) n);
    }
  g_assert_cmpmem (built->data, built->len, bytes->data, bytes->len);
}

/* The historical 45-byte vectors of research/original.md §1.12 item 12. */
static void
test_vector_original (void)
{
  g_autoptr (GByteArray) connect = load_vector ("connect-v4");
  g_autoptr (GByteArray) data = load_vector ("data-hello");
  g_autoptr (GByteArray) want_connect = hex_decode (
    "0200000000000000000000ffff7f000001d43100000000000000000000ffff7f00000163dd0000000000010000");
  g_autoptr (GByteArray) want_data = hex_decode (
    "0000000000000000000000ffff7f000001d43100000000000000000000ffff7f00000163dd0001000000010005"
    "68656c6c6f");

  g_assert_cmpmem (connect->data, connect->len, want_connect->data, want_connect->len);
  g_assert_cmpmem (data->data, data->len, want_data->data, want_data->len);
}

static void
test_vector_coalesced_needs_flag (void)
{
  g_autoptr (GByteArray) bytes = load_vector ("coalesced");
  size_t offset = 0;
  const char *why = NULL;
  PpPacket p;

  g_assert_cmpint (pp_message_next (bytes->data, bytes->len, &offset, FALSE, &p, &why), ==,
                   PP_CODEC_TRAILING);
  g_assert_nonnull (why);
  g_assert_cmpuint (offset, ==, 0);
  g_assert_cmpuint (p.event, ==, PP_EV_CONNECTED);
}

/* ---- round trips ---------------------------------------------------------- */

static void
random_packet (PpPacket *p, uint8_t *payload, size_t max)
{
  for (size_t i = 0; i < 16; i++)
    {
      p->tuple.src_addr[i] = (uint8_t) g_test_rand_int_range (0, 256);
      p->tuple.dst_addr[i] = (uint8_t) g_test_rand_int_range (0, 256);
    }
  p->event = (uint8_t) g_test_rand_int_range (0, 256);
  p->tuple.src_port = (uint16_t) g_test_rand_int_range (0, 65536);
  p->tuple.dst_port = (uint16_t) g_test_rand_int_range (0, 65536);
  p->chunk_id = (uint16_t) g_test_rand_int_range (0, 65536);
  p->total_chunks = (uint16_t) g_test_rand_int_range (1, 65536);
  p->chunk_index = (uint16_t) g_test_rand_int_range (0, p->total_chunks);
  p->payload_size = (uint16_t) g_test_rand_int_range (0, (int) max + 1);
  for (size_t i = 0; i < p->payload_size; i++)
    payload[i] = (uint8_t) g_test_rand_int_range (0, 256);
  p->payload = payload;
}

static void
assert_packet_equal (const PpPacket *a, const PpPacket *b)
{
  g_assert_cmpuint (a->event, ==, b->event);
  g_assert_true (pp_tuple_equal (&a->tuple, &b->tuple));
  g_assert_cmpuint (a->chunk_id, ==, b->chunk_id);
  g_assert_cmpuint (a->chunk_index, ==, b->chunk_index);
  g_assert_cmpuint (a->total_chunks, ==, b->total_chunks);
  g_assert_cmpmem (a->payload, a->payload_size, b->payload, b->payload_size);
}

static void
test_packet_round_trip (void)
{
  uint8_t payload[1024], buf[PP_HEADER_SIZE + 1024];

  for (int i = 0; i < 2000; i++)
    {
      PpPacket in = { 0 }, out;
      size_t n, offset = 0;

      random_packet (&in, payload, sizeof payload);
      n = pp_packet_encode (&in, buf, sizeof buf);
      g_assert_cmpuint (n, ==, PP_HEADER_SIZE + in.payload_size);
      g_assert_cmpint (pp_message_next (buf, n, &offset, FALSE, &out, NULL), ==, PP_CODEC_OK);
      g_assert_cmpuint (offset, ==, n);
      g_assert_true (out.payload == buf + PP_HEADER_SIZE);
      assert_packet_equal (&in, &out);
    }
}

static void
test_message_round_trip (void)
{
  enum { N = 8, MAX = 200 };
  uint8_t payloads[N][MAX], buf[N * (PP_HEADER_SIZE + MAX)];

  for (int round = 0; round < 300; round++)
    {
      PpPacket in[N];
      size_t n = (size_t) g_test_rand_int_range (1, N + 1), len = 0, offset = 0;

      for (size_t i = 0; i < n; i++)
        {
          memset (&in[i], 0, sizeof in[i]);
          random_packet (&in[i], payloads[i], MAX);
          len += pp_packet_encode (&in[i], buf + len, sizeof buf - len);
        }
      for (size_t i = 0; i < n; i++)
        {
          PpPacket out;

          g_assert_cmpint (pp_message_next (buf, len, &offset, TRUE, &out, NULL), ==,
                           PP_CODEC_OK);
          assert_packet_equal (&in[i], &out);
        }
      g_assert_cmpuint (offset, ==, len);
    }
}

/* ---- errors and boundaries ------------------------------------------------ */

typedef struct
{
  const char *what;
  size_t len;                  /* bytes of the message given to the decoder */
  uint8_t event;
  uint16_t chunk_index;
  uint16_t total_chunks;
  uint16_t payload_size;       /* as written in the header */
  gboolean coalesce;
  PpCodecStatus want;
  const char *why;             /* a substring of the reason */
} PacketCase;

static const PacketCase packet_cases[] = {
  { "empty", 0, 0, 0, 1, 0, FALSE, PP_CODEC_TRUNCATED, "45" },
  { "44 bytes", 44, 0, 0, 1, 0, FALSE, PP_CODEC_TRUNCATED, "header" },
  { "header only", 45, 0, 0, 1, 0, FALSE, PP_CODEC_OK, NULL },
  { "payload short by one", 49, 0, 0, 1, 5, FALSE, PP_CODEC_TRUNCATED, "payload_size" },
  { "payload missing", 45, 0, 0, 1, 1, TRUE, PP_CODEC_TRUNCATED, "payload_size" },
  { "total 0", 45, 0, 0, 0, 0, FALSE, PP_CODEC_MALFORMED, "total_chunks" },
  { "index equals total", 45, 0, 3, 3, 0, FALSE, PP_CODEC_MALFORMED, "chunk_index" },
  { "index above total", 45, 0, 9, 3, 0, FALSE, PP_CODEC_MALFORMED, "chunk_index" },
  { "index 65535 of 65535", 45, 0, 65535, 65535, 0, FALSE, PP_CODEC_MALFORMED, "chunk_index" },
  { "index 65534 of 65535", 45, 0, 65534, 65535, 0, FALSE, PP_CODEC_OK, NULL },
  { "payload 65491", 45, 0, 0, 1, 65491, FALSE, PP_CODEC_TOO_LARGE, "65490" },
  { "payload 65535", 45, 0, 0, 1, 65535, TRUE, PP_CODEC_TOO_LARGE, "65490" },
  { "too large before malformed", 45, 0, 5, 0, 65535, FALSE, PP_CODEC_TOO_LARGE, "65490" },
  { "malformed before truncated", 45, 0, 0, 0, 9, FALSE, PP_CODEC_MALFORMED, "total_chunks" },
  { "trailing byte", 46, 0, 0, 1, 0, FALSE, PP_CODEC_TRAILING, "coalescing" },
  { "trailing byte, coalescing", 46, 0, 0, 1, 0, TRUE, PP_CODEC_OK, NULL },
  { "trailing after payload", 50, 0, 0, 1, 4, FALSE, PP_CODEC_TRAILING, "coalescing" },
  { "unknown event 0x42", 45, 0x42, 0, 1, 0, FALSE, PP_CODEC_OK, NULL },
  { "extension event 0xff", 45, 0xff, 0, 1, 0, FALSE, PP_CODEC_OK, NULL },
};

static void
test_packet_errors (gconstpointer data)
{
  const PacketCase *c = data;
  uint8_t buf[PP_HEADER_SIZE + 16] = { 0 };
  PpPacket p = { .event = c->event, .chunk_index = c->chunk_index,
                 .total_chunks = c->total_chunks, .payload_size = c->payload_size };
  const char *why = NULL;
  size_t offset = 0;
  PpCodecStatus status;

  make_tuple (&p.tuple, "10.0.0.1", 1000, "10.0.0.2", 2000);
  pp_packet_encode_header (&p, buf);
  g_assert_cmpuint (c->len, <=, sizeof buf);
  status = pp_message_next (buf, c->len, &offset, c->coalesce, &p, &why);
  g_assert_cmpint (status, ==, c->want);
  if (c->want == PP_CODEC_OK)
    {
      g_assert_null (why);
      g_assert_cmpuint (offset, ==, PP_HEADER_SIZE + c->payload_size);
      g_assert_cmpuint (p.event, ==, c->event);
      return;
    }
  g_assert_cmpuint (offset, ==, 0);
  g_assert_nonnull (why);
  g_assert_nonnull (strstr (why, c->why));
  if (c->len >= PP_HEADER_SIZE)
    g_assert_cmpuint (p.chunk_index, ==, c->chunk_index);  /* header kept for the report */
}

static void
test_packet_max_payload (void)
{
  g_autofree uint8_t *payload = g_malloc (PP_MAX_PAYLOAD + 1);
  g_autofree uint8_t *buf = g_malloc (PP_HEADER_SIZE + PP_MAX_PAYLOAD + 1);
  PpPacket p = { .total_chunks = 1, .payload = payload }, out;
  size_t offset = 0;

  memset (payload, 0xa5, PP_MAX_PAYLOAD + 1);
  p.payload_size = PP_MAX_PAYLOAD;
  g_assert_cmpuint (pp_packet_encode (&p, buf, PP_HEADER_SIZE + PP_MAX_PAYLOAD), ==, 65535);
  g_assert_cmpint (pp_message_next (buf, 65535, &offset, FALSE, &out, NULL), ==, PP_CODEC_OK);
  g_assert_cmpuint (out.payload_size, ==, PP_MAX_PAYLOAD);
  g_assert_cmpuint (pp_packet_encode (&p, buf, 65534), ==, 0);
  p.payload_size = PP_MAX_PAYLOAD + 1;
  g_assert_cmpuint (pp_packet_encode (&p, buf, PP_HEADER_SIZE + PP_MAX_PAYLOAD + 1), ==, 0);
}

static void
test_packet_encode_cap (void)
{
  uint8_t buf[PP_HEADER_SIZE + 5];
  PpPacket p = { .total_chunks = 1, .payload_size = 5, .payload = (const uint8_t *) "hello" };

  g_assert_cmpuint (pp_packet_encode (&p, buf, sizeof buf - 1), ==, 0);
  g_assert_cmpuint (pp_packet_encode (&p, buf, sizeof buf), ==, sizeof buf);
  p.payload_size = 0;
  p.payload = NULL;
  g_assert_cmpuint (pp_packet_encode (&p, buf, PP_HEADER_SIZE), ==, PP_HEADER_SIZE);
  g_assert_cmpuint (pp_packet_encode (&p, buf, PP_HEADER_SIZE - 1), ==, 0);
}

/* A coalesced message whose last packet is cut: the complete ones decode,
 * the cut one is TRUNCATED and the offset stays at its start. */
static void
test_message_truncated_last (void)
{
  g_autoptr (GByteArray) bytes = load_vector ("coalesced");
  PpPacket p;
  size_t offset = 0, cut_at;
  const char *why = NULL;

  g_assert_cmpint (pp_message_next (bytes->data, bytes->len, &offset, TRUE, &p, NULL), ==,
                   PP_CODEC_OK);
  g_assert_cmpint (pp_message_next (bytes->data, bytes->len, &offset, TRUE, &p, NULL), ==,
                   PP_CODEC_OK);
  cut_at = offset;
  g_assert_cmpint (pp_message_next (bytes->data, bytes->len - 1, &offset, TRUE, &p, &why), ==,
                   PP_CODEC_TRUNCATED);
  g_assert_cmpuint (offset, ==, cut_at);
  g_assert_nonnull (strstr (why, "header"));

  /* Now a DATA whose payload is cut, behind a complete packet. */
  offset = 0;
  g_assert_cmpint (pp_message_next (bytes->data, 45 + 44, &offset, TRUE, &p, NULL), ==,
                   PP_CODEC_OK);
  g_assert_cmpint (pp_message_next (bytes->data, 45 + 45 + 18, &offset, TRUE, &p, &why), ==,
                   PP_CODEC_TRUNCATED);
  g_assert_cmpuint (offset, ==, 45);
  g_assert_nonnull (strstr (why, "payload_size"));
}

/* ---- HELLO ----------------------------------------------------------------- */

static void
test_hello_round_trip (void)
{
  uint8_t buf[PP_HELLO_MAX_PAYLOAD];

  for (size_t name_len = 0; name_len <= PP_HELLO_MAX_NAME; name_len++)
    {
      PpHello in = { 0 }, out;
      size_t n;

      in.version = (uint8_t) g_test_rand_int ();
      in.caps = g_test_rand_int ();
      in.socket_window = g_test_rand_int ();
      in.session_window = g_test_rand_int ();
      in.max_tuples = g_test_rand_int ();
      in.max_sockets = g_test_rand_int ();
      in.name_len = name_len;
      for (size_t i = 0; i < name_len; i++)
        in.name[i] = (char) g_test_rand_int_range (1, 256);
      n = pp_hello_encode (&in, buf, sizeof buf);
      g_assert_cmpuint (n, ==, PP_HELLO_FIXED_SIZE + name_len);
      g_assert_cmpint (pp_hello_decode (buf, n, &out, NULL), ==, PP_CODEC_OK);
      assert_hello_equal (&out, &in);
      g_assert_cmpuint (strlen (out.name), ==, name_len);
    }
}

static void
test_hello_errors (void)
{
  uint8_t buf[PP_HELLO_MAX_PAYLOAD + 8] = { 1 };
  PpHello h = { 0 };
  const char *why = NULL;

  g_assert_cmpint (pp_hello_decode (buf, 0, &h, &why), ==, PP_CODEC_TRUNCATED);
  g_assert_cmpint (pp_hello_decode (buf, 20, &h, &why), ==, PP_CODEC_TRUNCATED);
  g_assert_nonnull (strstr (why, "21"));
  memset (buf + PP_HELLO_FIXED_SIZE, 'n', sizeof buf - PP_HELLO_FIXED_SIZE);
  g_assert_cmpint (pp_hello_decode (buf, 21, &h, NULL), ==, PP_CODEC_OK);
  g_assert_cmpuint (h.name_len, ==, 0);
  g_assert_cmpstr (h.name, ==, "");
  g_assert_cmpint (pp_hello_decode (buf, 21 + 64, &h, NULL), ==, PP_CODEC_OK);
  g_assert_cmpuint (h.name_len, ==, 64);
  g_assert_cmpint (pp_hello_decode (buf, 21 + 65, &h, &why), ==, PP_CODEC_TOO_LARGE);
  g_assert_nonnull (strstr (why, "64"));
  g_assert_cmpint (pp_hello_decode (buf, 257, &h, &why), ==, PP_CODEC_TOO_LARGE);
  g_assert_nonnull (strstr (why, "256"));
  buf[PP_HELLO_FIXED_SIZE + 3] = 0;
  g_assert_cmpint (pp_hello_decode (buf, 30, &h, &why), ==, PP_CODEC_MALFORMED);
  g_assert_nonnull (strstr (why, "NUL"));

  h.name_len = PP_HELLO_MAX_NAME + 1;
  g_assert_cmpuint (pp_hello_encode (&h, buf, sizeof buf), ==, 0);
  h.name_len = 4;
  g_assert_cmpuint (pp_hello_encode (&h, buf, PP_HELLO_FIXED_SIZE + 3), ==, 0);
  g_assert_cmpuint (pp_hello_encode (&h, buf, PP_HELLO_FIXED_SIZE + 4), ==, 25);
}

/* ---- CLOSE and GOAWAY -------------------------------------------------------- */

static void
test_close_decode (void)
{
  uint8_t buf[1 + PP_CLOSE_MAX_DETAIL + 1];
  PpCloseInfo c;
  const char *why = NULL;

  memset (buf, 'x', sizeof buf);
  buf[0] = 200;  /* out of range: the mux's business */
  g_assert_cmpint (pp_close_decode (buf, 0, &c, &why), ==, PP_CODEC_TRUNCATED);
  g_assert_nonnull (strstr (why, "empty"));
  g_assert_cmpint (pp_close_decode (buf, 1, &c, NULL), ==, PP_CODEC_OK);
  g_assert_cmpuint (c.reason, ==, 200);
  g_assert_cmpuint (c.detail_len, ==, 0);
  g_assert_cmpint (pp_close_decode (buf, 201, &c, NULL), ==, PP_CODEC_OK);
  g_assert_cmpuint (c.detail_len, ==, 200);
  g_assert_true (c.detail == buf + 1);
  g_assert_cmpint (pp_close_decode (buf, 202, &c, &why), ==, PP_CODEC_TOO_LARGE);
  g_assert_nonnull (strstr (why, "200"));
}

typedef struct
{
  const char *what;
  const char *prefix;          /* repeated up to the cut */
  size_t prefix_len;
  const char *tail;            /* then this */
  size_t want_detail;
} CutCase;

static const CutCase cut_cases[] = {
  { "ascii 250", "a", 250, "", 200 },
  { "exactly 200", "a", 200, "", 200 },
  { "2-byte across the cut", "a", 199, "\xc3\xa9", 199 },
  { "2-byte before the cut", "a", 198, "\xc3\xa9z", 200 },
  { "3-byte across the cut", "a", 198, "\xe2\x82\xac", 198 },
  { "4-byte across the cut", "a", 197, "\xf0\x9f\x98\x80", 197 },
  { "4-byte, 1 byte in", "a", 199, "\xf0\x9f\x98\x80", 199 },
  { "4-byte ending at the cut", "a", 196, "\xf0\x9f\x98\x80z", 200 },
};

static void
test_close_encode_cut (gconstpointer data)
{
  const CutCase *c = data;
  g_autoptr (GString) s = g_string_new (NULL);
  uint8_t buf[1 + PP_CLOSE_MAX_DETAIL];
  size_t n;

  for (size_t i = 0; i < c->prefix_len; i++)
    g_string_append (s, c->prefix);
  g_string_append (s, c->tail);
  n = pp_close_encode (PP_CLOSE_RESET, s->str, buf, sizeof buf);
  g_assert_cmpuint (n, ==, 1 + c->want_detail);
  g_assert_cmpuint (buf[0], ==, PP_CLOSE_RESET);
  g_assert_cmpmem (buf + 1, n - 1, s->str, c->want_detail);
  g_assert_true (g_utf8_validate ((const char *) buf + 1, (gssize) n - 1, NULL));
}

static void
test_close_encode_misc (void)
{
  uint8_t buf[64];
  PpCloseInfo c;

  g_assert_cmpuint (pp_close_encode (PP_CLOSE_NORMAL, NULL, buf, sizeof buf), ==, 1);
  g_assert_cmpuint (buf[0], ==, 0);
  g_assert_cmpuint (pp_close_encode (PP_GOAWAY_RESOURCES, "", buf, 1), ==, 1);
  g_assert_cmpuint (pp_close_encode (PP_CLOSE_RESET, "reset", buf, 5), ==, 0);
  g_assert_cmpuint (pp_close_encode (PP_CLOSE_RESET, "reset", buf, 6), ==, 6);
  g_assert_cmpint (pp_close_decode (buf, 6, &c, NULL), ==, PP_CODEC_OK);
  g_assert_cmpuint (c.reason, ==, PP_CLOSE_RESET);
  g_assert_cmpmem (c.detail, c.detail_len, "reset", 5);
}

/* ---- fixed-size payloads ----------------------------------------------------- */

static void
test_credit (void)
{
  uint8_t buf[PP_CREDIT_PAYLOAD + 1] = { 0 };
  uint32_t units = 0;
  uint16_t next = 0;
  const char *why = NULL;

  pp_credit_encode (0xfedcba98, 0xabcd, buf);
  g_assert_cmpmem (buf, 6, "\xfe\xdc\xba\x98\xab\xcd", 6);
  g_assert_cmpint (pp_credit_decode (buf, 6, &units, &next, NULL), ==, PP_CODEC_OK);
  g_assert_cmpuint (units, ==, 0xfedcba98);
  g_assert_cmpuint (next, ==, 0xabcd);
  g_assert_cmpint (pp_credit_decode (buf, 5, &units, &next, &why), ==, PP_CODEC_TRUNCATED);
  g_assert_nonnull (strstr (why, "CREDIT"));
  g_assert_cmpint (pp_credit_decode (buf, 0, &units, &next, &why), ==, PP_CODEC_TRUNCATED);
  g_assert_cmpint (pp_credit_decode (buf, 7, &units, &next, &why), ==, PP_CODEC_MALFORMED);
  g_assert_nonnull (strstr (why, "longer"));
}

static void
test_session_credit (void)
{
  uint8_t buf[PP_SESSION_CREDIT_PAYLOAD + 1] = { 0 };
  uint32_t units = 0;
  const char *why = NULL;

  pp_session_credit_encode (0x01020304, buf);
  g_assert_cmpmem (buf, 4, "\x01\x02\x03\x04", 4);
  g_assert_cmpint (pp_session_credit_decode (buf, 4, &units, NULL), ==, PP_CODEC_OK);
  g_assert_cmpuint (units, ==, 0x01020304);
  g_assert_cmpint (pp_session_credit_decode (buf, 3, &units, &why), ==, PP_CODEC_TRUNCATED);
  g_assert_cmpint (pp_session_credit_decode (buf, 5, &units, &why), ==, PP_CODEC_MALFORMED);
  g_assert_cmpint (pp_session_credit_decode (buf, 6, &units, &why), ==, PP_CODEC_MALFORMED);
}

static void
test_ping (void)
{
  uint8_t buf[PP_PING_PAYLOAD + 1] = { 0 };
  uint64_t token = 0;
  const char *why = NULL;

  pp_ping_encode (G_GUINT64_CONSTANT (0x8877665544332211), buf);
  g_assert_cmpmem (buf, 8, "\x88\x77\x66\x55\x44\x33\x22\x11", 8);
  g_assert_cmpint (pp_ping_decode (buf, 8, &token, NULL), ==, PP_CODEC_OK);
  g_assert_cmpuint (token, ==, G_GUINT64_CONSTANT (0x8877665544332211));
  g_assert_cmpint (pp_ping_decode (buf, 7, &token, &why), ==, PP_CODEC_TRUNCATED);
  g_assert_nonnull (strstr (why, "PING"));
  g_assert_cmpint (pp_ping_decode (buf, 9, &token, &why), ==, PP_CODEC_MALFORMED);
}

/* ---- tuples ------------------------------------------------------------------ */

typedef struct
{
  const char *src;
  uint16_t sport;
  const char *dst;
  uint16_t dport;
  const char *want;
} TupleCase;

static const TupleCase tuple_cases[] = {
  { "127.0.0.1", 54321, "127.0.0.1", 25565, "127.0.0.1:54321 => 127.0.0.1:25565" },
  { "::1", 50000, "fe80::1", 5173, "[::1]:50000 => [fe80::1]:5173" },
  { "127.0.0.1", 41000, "::", 443, "127.0.0.1:41000 => [::]:443" },
  { "::", 0, "::", 0, "[::]:0 => [::]:0" },
  { "2001:db8:85a3:8d3:1319:8a2e:370:7348", 65535, "10.1.2.3", 1,
    "[2001:db8:85a3:8d3:1319:8a2e:370:7348]:65535 => 10.1.2.3:1" },
  { "::ffff:192.168.1.50", 3306, "0.0.0.0", 0, "192.168.1.50:3306 => 0.0.0.0:0" },
};

static void
test_tuple_to_string (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (tuple_cases); i++)
    {
      const TupleCase *c = &tuple_cases[i];
      g_autofree char *s = NULL;
      PpTuple t;

      make_tuple (&t, c->src, c->sport, c->dst, c->dport);
      s = pp_tuple_to_string (&t);
      g_assert_cmpstr (s, ==, c->want);
    }
}

static void
test_tuple_equal (void)
{
  PpTuple a, b;

  make_tuple (&a, "::", 0, "::", 0);
  g_assert_true (pp_tuple_is_zero (&a));
  make_tuple (&a, "127.0.0.1", 1, "127.0.0.1", 2);
  b = a;
  g_assert_false (pp_tuple_is_zero (&a));
  g_assert_true (pp_tuple_equal (&a, &b));
  g_assert_cmpuint (pp_tuple_hash (&a), ==, pp_tuple_hash (&b));
  b.dst_port = 3;
  g_assert_false (pp_tuple_equal (&a, &b));
  b = a;
  b.src_addr[15] ^= 1;
  g_assert_false (pp_tuple_equal (&a, &b));
  b = a;
  b.dst_addr[0] ^= 0x80;
  g_assert_false (pp_tuple_equal (&a, &b));
  make_tuple (&a, "::", 0, "::", 1);
  g_assert_false (pp_tuple_is_zero (&a));
}

/* 65,536 tuples that differ only in src_port (the client's common case),
 * and again only in the src address: the low 16 bits of the hash should
 * fill 65,536 buckets like random numbers (about 1/e empty, max load ~8). */
static void
check_spread (PpTuple *tuples, size_t n)
{
  g_autofree uint32_t *load = g_new0 (uint32_t, n);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  size_t empty = 0;
  uint32_t max = 0;

  for (size_t i = 0; i < n; i++)
    {
      guint h = pp_tuple_hash (&tuples[i]);

      load[h & (n - 1)]++;
      g_hash_table_add (seen, GUINT_TO_POINTER (h));
    }
  for (size_t i = 0; i < n; i++)
    {
      empty += load[i] == 0;
      max = MAX (max, load[i]);
    }
  g_test_message ("empty buckets %zu of %zu, max load %u, distinct %u", empty, n, max,
                  g_hash_table_size (seen));
  g_assert_cmpuint (empty, >, n * 35 / 100);
  g_assert_cmpuint (empty, <, n * 39 / 100);
  g_assert_cmpuint (max, <=, 14);
  g_assert_cmpuint (g_hash_table_size (seen), >=, n - 8);
}

static void
test_tuple_hash_spread (void)
{
  enum { N = 65536 };
  g_autofree PpTuple *tuples = g_new0 (PpTuple, N);

  for (size_t i = 0; i < N; i++)
    make_tuple (&tuples[i], "127.0.0.1", (uint16_t) i, "127.0.0.1", 25565);
  check_spread (tuples, N);
  for (size_t i = 0; i < N; i++)
    {
      make_tuple (&tuples[i], "10.0.0.0", 40000, "::1", 80);
      tuples[i].src_addr[14] = (uint8_t) (i >> 8);
      tuples[i].src_addr[15] = (uint8_t) i;
    }
  check_spread (tuples, N);
}

/* ---- names, escaping, labels --------------------------------------------------- */

typedef struct
{
  const char *name;
  gboolean valid;
} NameCase;

static const NameCase name_cases[] = {
  { "example.com", TRUE },
  { "example.com.", TRUE },
  { "a", TRUE },
  { "localhost", TRUE },
  { "xn--bcher-kva.example", TRUE },
  { "EXAMPLE.Com", TRUE },
  { "a-b.c-d.e", TRUE },
  { "1.example.com", TRUE },
  { "123abc", TRUE },
  { "example.c0m", TRUE },
  { "0xg.example", TRUE },
  { "", FALSE },
  { ".", FALSE },
  { "example..com", FALSE },
  { ".example.com", FALSE },
  { "example.com..", FALSE },
  { "-example.com", FALSE },
  { "example-.com", FALSE },
  { "exa_mple.com", FALSE },
  { "exa mple.com", FALSE },
  { "example.com/", FALSE },
  { "127.0.0.1", FALSE },
  { "127.1", FALSE },
  { "2130706433", FALSE },
  { "0x7f.1", FALSE },
  { "0x7f000001", FALSE },
  { "0X7F.0.0.1", FALSE },
  { "1.0x7f", FALSE },
  { "example.123", FALSE },
  { "example.123.", FALSE },
  { "::1", FALSE },
  { "[::1]", FALSE },
  { "caf\xc3\xa9.example", FALSE },
};

static void
test_names (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (name_cases); i++)
    {
      const NameCase *c = &name_cases[i];
      const char *why = NULL;
      gboolean valid = pp_name_is_valid ((const uint8_t *) c->name, strlen (c->name), &why);

      g_test_message ("name '%s': %s", c->name, valid ? "valid" : why);
      g_assert_cmpint (valid, ==, c->valid);
      g_assert_true (valid ? why == NULL : why != NULL);
    }
}

static void
test_names_lengths (void)
{
  g_autoptr (GString) s = g_string_new (NULL);
  const char *why = NULL;

  g_string_append (s, "a");
  g_string_append_len (s, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 62);
  g_assert_true (pp_name_is_valid ((const uint8_t *) s->str, s->len, NULL));  /* 63 */
  g_string_append (s, "c");
  g_assert_false (pp_name_is_valid ((const uint8_t *) s->str, s->len, &why));  /* 64 */
  g_assert_nonnull (strstr (why, "63"));

  g_string_truncate (s, 0);
  while (s->len < 253)
    g_string_append (s, s->len % 2 == 0 ? "a" : ".");
  g_assert_cmpuint (s->len, ==, 253);
  g_assert_true (pp_name_is_valid ((const uint8_t *) s->str, s->len, NULL));
  g_string_append (s, ".");
  g_assert_false (pp_name_is_valid ((const uint8_t *) s->str, s->len, &why));
  g_assert_nonnull (strstr (why, "253"));
  g_assert_false (pp_name_is_valid ((const uint8_t *) "a\0b", 3, NULL));
  g_assert_false (pp_name_is_valid (NULL, 0, NULL));
}

typedef struct
{
  const char *in;
  size_t len;
  const char *want;
} EscapeCase;

static const EscapeCase escape_cases[] = {
  { "", 0, "" },
  { "hello world ~", 13, "hello world ~" },
  { "a\\b", 3, "a\\\\b" },
  { "\x1b[31m", 5, "\\x1b[31m" },
  { "\0\n\r\t\x7f", 5, "\\x00\\x0a\\x0d\\x09\\x7f" },
  { "caf\xc3\xa9", 5, "caf\\xc3\\xa9" },
  { "\xff", 1, "\\xff" },
  { "\"'", 2, "\"'" },
};

static void
test_escape (void)
{
  for (size_t i = 0; i < G_N_ELEMENTS (escape_cases); i++)
    {
      g_autofree char *s = pp_escape ((const uint8_t *) escape_cases[i].in,
                                      escape_cases[i].len);

      g_assert_cmpstr (s, ==, escape_cases[i].want);
    }
}

static void
test_event_names (void)
{
  static const char *const events[] = {
    "DATA", "CLOSE", "CONNECT", "HELLO", "CONNECTED",
    "FIN", "CREDIT", "PING", "PONG", "GOAWAY",
  };
  static const char *const closes[] = {
    "normal", "refused by rules", "connect failed", "timed out", "reset",
    "protocol error", "name not resolved", "too many sockets", "revoked", "session ended",
  };
  static const char *const goaways[] = {
    "normal", "protocol error", "incompatible", "resources",
  };

  for (unsigned i = 0; i < 256; i++)
    {
      g_assert_cmpint (pp_event_is_known ((uint8_t) i), ==, i < G_N_ELEMENTS (events));
      g_assert_cmpstr (pp_event_name ((uint8_t) i), ==,
                       i < G_N_ELEMENTS (events) ? events[i] : "unknown");
      g_assert_cmpstr (pp_close_reason_name ((uint8_t) i), ==,
                       i < G_N_ELEMENTS (closes) ? closes[i] : "unknown");
      g_assert_cmpstr (pp_goaway_reason_name ((uint8_t) i), ==,
                       i < G_N_ELEMENTS (goaways) ? goaways[i] : "unknown");
    }
  g_assert_cmpstr (pp_codec_status_name (PP_CODEC_OK), ==, "ok");
  g_assert_cmpstr (pp_codec_status_name (PP_CODEC_TRUNCATED), ==, "truncated");
  g_assert_cmpstr (pp_codec_status_name (PP_CODEC_TRAILING), ==, "trailing bytes");
  g_assert_cmpstr (pp_codec_status_name (PP_CODEC_MALFORMED), ==, "malformed");
  g_assert_cmpstr (pp_codec_status_name (PP_CODEC_TOO_LARGE), ==, "too large");
  g_assert_cmpuint (G_N_ELEMENTS (closes), ==, PP_CLOSE_REASON_MAX + 1);
  g_assert_cmpuint (G_N_ELEMENTS (goaways), ==, PP_GOAWAY_REASON_MAX + 1);
}

/* ---- main ----------------------------------------------------------------------- */

static char *
case_path (const char *prefix, const char *what)
{
  g_autofree char *slug = g_strdup (what);

  g_strcanon (slug, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", '-');
  return g_strconcat (prefix, slug, NULL);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (size_t i = 0; i < G_N_ELEMENTS (vectors); i++)
    {
      g_autofree char *dec = case_path ("/codec/vector/decode/", vectors[i].name);
      g_autofree char *enc = case_path ("/codec/vector/encode/", vectors[i].name);

      g_test_add_data_func (dec, &vectors[i], test_vector_decode);
      g_test_add_data_func (enc, &vectors[i], test_vector_encode);
    }
  g_test_add_func ("/codec/vector/original-item-12", test_vector_original);
  g_test_add_func ("/codec/vector/coalesced-needs-flag", test_vector_coalesced_needs_flag);
  g_test_add_func ("/codec/packet/round-trip", test_packet_round_trip);
  g_test_add_func ("/codec/message/round-trip", test_message_round_trip);
  for (size_t i = 0; i < G_N_ELEMENTS (packet_cases); i++)
    {
      g_autofree char *path = case_path ("/codec/packet/status/", packet_cases[i].what);

      g_test_add_data_func (path, &packet_cases[i], test_packet_errors);
    }
  g_test_add_func ("/codec/packet/max-payload", test_packet_max_payload);
  g_test_add_func ("/codec/packet/encode-cap", test_packet_encode_cap);
  g_test_add_func ("/codec/message/truncated-last", test_message_truncated_last);
  g_test_add_func ("/codec/hello/round-trip", test_hello_round_trip);
  g_test_add_func ("/codec/hello/errors", test_hello_errors);
  g_test_add_func ("/codec/close/decode", test_close_decode);
  for (size_t i = 0; i < G_N_ELEMENTS (cut_cases); i++)
    {
      g_autofree char *path = case_path ("/codec/close/utf8-cut/", cut_cases[i].what);

      g_test_add_data_func (path, &cut_cases[i], test_close_encode_cut);
    }
  g_test_add_func ("/codec/close/encode", test_close_encode_misc);
  g_test_add_func ("/codec/credit/tuple", test_credit);
  g_test_add_func ("/codec/credit/session", test_session_credit);
  g_test_add_func ("/codec/ping/token", test_ping);
  g_test_add_func ("/codec/tuple/to-string", test_tuple_to_string);
  g_test_add_func ("/codec/tuple/equal", test_tuple_equal);
  g_test_add_func ("/codec/tuple/hash-spread", test_tuple_hash_spread);
  g_test_add_func ("/codec/name/table", test_names);
  g_test_add_func ("/codec/name/lengths", test_names_lengths);
  g_test_add_func ("/codec/escape/table", test_escape);
  g_test_add_func ("/codec/event/names", test_event_names);
  return g_test_run ();
}
