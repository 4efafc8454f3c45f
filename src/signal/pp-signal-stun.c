/* SPDX-License-Identifier: MIT
 *
 * pp-signal-stun: binding responses only.  The parser walks the attribute
 * list just to prove it is well formed (every length inside the message) and
 * answers with XOR-MAPPED-ADDRESS and FINGERPRINT (RFC 5389), or
 * MAPPED-ADDRESS for an RFC 3489 client (no magic cookie).  Nothing else:
 * no SOFTWARE, no error responses — a malformed datagram gets silence.
 */
#include "signal/pp-signal-stun.h"

#include <string.h>

#define STUN_BINDING_REQUEST 0x0001
#define STUN_BINDING_RESPONSE 0x0101
#define ATTR_MAPPED_ADDRESS 0x0001
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_FINGERPRINT 0x8028
#define FINGERPRINT_XOR 0x5354554eu
#define RATE_TABLE_MAX 65536

uint32_t
pp_signal_stun_crc32 (const uint8_t *data, size_t len)
{
  uint32_t crc = 0xffffffffu;

  for (size_t i = 0; i < len; i++)
    {
      crc ^= data[i];
      for (int k = 0; k < 8; k++)
        crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
  return crc ^ 0xffffffffu;
}

static uint16_t
rd16 (const uint8_t *p)
{
  return (uint16_t) (p[0] << 8 | p[1]);
}

static void
wr16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}

static void
wr32 (uint8_t *p, uint32_t v)
{
  wr16 (p, (uint16_t) (v >> 16));
  wr16 (p + 2, (uint16_t) v);
}

static gboolean
attributes_ok (const uint8_t *a, size_t len)
{
  size_t off = 0;

  while (off < len)
    {
      size_t alen;

      if (len - off < 4)
        return FALSE;
      alen = rd16 (a + off + 2);
      off += 4;
      if (alen > len - off)
        return FALSE;
      off += (alen + 3) & ~(size_t) 3;
    }
  return off == len;
}

/* One address attribute: family, port and address, XORed for RFC 5389. */
static size_t
put_address (uint8_t *p, gboolean xor, const uint8_t *txid, const uint8_t *ip, size_t ip_len,
             uint16_t port)
{
  uint8_t mask[16];

  wr32 (mask, PP_STUN_MAGIC);
  memcpy (mask + 4, txid, 12);
  wr16 (p, xor ? ATTR_XOR_MAPPED_ADDRESS : ATTR_MAPPED_ADDRESS);
  wr16 (p + 2, (uint16_t) (4 + ip_len));
  p[4] = 0;
  p[5] = ip_len == 4 ? 0x01 : 0x02;
  wr16 (p + 6, xor ? (uint16_t) (port ^ (PP_STUN_MAGIC >> 16)) : port);
  for (size_t i = 0; i < ip_len; i++)
    p[8 + i] = xor ? ip[i] ^ mask[i] : ip[i];
  return 8 + ip_len;
}

size_t
pp_signal_stun_answer (const uint8_t *req, size_t len, const uint8_t *src_ip, size_t ip_len,
                       uint16_t src_port, uint8_t out[PP_STUN_MAX_RESPONSE])
{
  gboolean rfc5389;
  size_t n = 20;

  if (len < 20 || (req[0] & 0xc0) != 0 || rd16 (req) != STUN_BINDING_REQUEST
      || rd16 (req + 2) != len - 20 || (len & 3) != 0 || (ip_len != 4 && ip_len != 16)
      || !attributes_ok (req + 20, len - 20))
    return 0;
  rfc5389 = ((uint32_t) rd16 (req + 4) << 16 | rd16 (req + 6)) == PP_STUN_MAGIC;
  if (!rfc5389 && ip_len != 4)
    return 0; /* RFC 3489 knows IPv4 only */
  wr16 (out, STUN_BINDING_RESPONSE);
  memcpy (out + 4, req + 4, 16); /* cookie + transaction id (or RFC 3489's 16-byte id) */
  n += put_address (out + n, rfc5389, req + 8, src_ip, ip_len, src_port);
  if (rfc5389)
    {
      wr16 (out + 2, (uint16_t) (n - 20 + 8)); /* length covers the fingerprint */
      wr16 (out + n, ATTR_FINGERPRINT);
      wr16 (out + n + 2, 4);
      wr32 (out + n + 4, pp_signal_stun_crc32 (out, n) ^ FINGERPRINT_XOR);
      n += 8;
    }
  wr16 (out + 2, (uint16_t) (n - 20));
  return n;
}

/* ---- the responder -------------------------------------------------------------- */

typedef struct
{
  double tokens;
  gint64 last_us;
} Bucket;

struct _PpSignalStun
{
  GSocket *sock;
  GSource *source;
  double per_s, burst;
  GHashTable *buckets; /* address string → Bucket */
  guint64 answered, dropped;
};

static gboolean
allow (PpSignalStun *s, GInetAddress *a)
{
  g_autofree char *key = NULL;
  gint64 now = g_get_monotonic_time ();
  Bucket *b;

  if (s->per_s <= 0)
    return TRUE;
  key = g_inet_address_to_string (a);
  b = g_hash_table_lookup (s->buckets, key);
  if (b == NULL)
    {
      if (g_hash_table_size (s->buckets) >= RATE_TABLE_MAX)
        g_hash_table_remove_all (s->buckets);
      b = g_new0 (Bucket, 1);
      b->tokens = s->burst;
      b->last_us = now;
      g_hash_table_insert (s->buckets, g_steal_pointer (&key), b);
    }
  b->tokens = MIN (s->burst, b->tokens + (double) (now - b->last_us) / 1e6 * s->per_s);
  b->last_us = now;
  if (b->tokens < 1.0)
    return FALSE;
  b->tokens -= 1.0;
  return TRUE;
}

static void
answer_one (PpSignalStun *s, const uint8_t *buf, size_t len, GSocketAddress *from)
{
  GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS (from);
  GInetAddress *ia = g_inet_socket_address_get_address (isa);
  uint8_t out[PP_STUN_MAX_RESPONSE];
  size_t n;

  if (!allow (s, ia))
    {
      s->dropped++;
      return;
    }
  n = pp_signal_stun_answer (buf, len, g_inet_address_to_bytes (ia),
                             g_inet_address_get_native_size (ia),
                             g_inet_socket_address_get_port (isa), out);
  if (n == 0)
    {
      s->dropped++;
      return;
    }
  if (g_socket_send_to (s->sock, from, (const char *) out, n, NULL, NULL) > 0)
    s->answered++;
}

static gboolean
readable_cb (GSocket *sock, GIOCondition cond, gpointer data)
{
  PpSignalStun *s = data;

  for (int i = 0; i < 64; i++) /* a bounded batch, then let others run */
    {
      uint8_t buf[576];
      GSocketAddress *from = NULL;
      gssize n = g_socket_receive_from (sock, &from, (char *) buf, sizeof buf, NULL, NULL);

      if (n < 0)
        break;
      if (from != NULL && G_IS_INET_SOCKET_ADDRESS (from))
        answer_one (s, buf, (size_t) n, from);
      g_clear_object (&from);
    }
  return G_SOURCE_CONTINUE;
}

PpSignalStun *
pp_signal_stun_new (GSocketAddress *addr, double per_s, guint burst, GError **error)
{
  g_autoptr (GSocket) sock = g_socket_new (g_socket_address_get_family (addr),
                                           G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                                           error);
  PpSignalStun *s;

  if (sock == NULL || !g_socket_bind (sock, addr, TRUE, error))
    return NULL;
  g_socket_set_blocking (sock, FALSE);
  s = g_new0 (PpSignalStun, 1);
  s->sock = g_steal_pointer (&sock);
  s->per_s = per_s;
  s->burst = MAX (burst, 1);
  s->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->source = g_socket_create_source (s->sock, G_IO_IN, NULL);
  g_source_set_callback (s->source, G_SOURCE_FUNC (readable_cb), s, NULL);
  g_source_attach (s->source, g_main_context_get_thread_default ());
  return s;
}

guint16
pp_signal_stun_get_port (PpSignalStun *s)
{
  g_autoptr (GSocketAddress) a = g_socket_get_local_address (s->sock, NULL);

  return a != NULL ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a)) : 0;
}

guint64
pp_signal_stun_answered (PpSignalStun *s)
{
  return s->answered;
}

guint64
pp_signal_stun_dropped (PpSignalStun *s)
{
  return s->dropped;
}

void
pp_signal_stun_free (PpSignalStun *s)
{
  if (s == NULL)
    return;
  g_source_destroy (s->source);
  g_source_unref (s->source);
  g_socket_close (s->sock, NULL);
  g_object_unref (s->sock);
  g_hash_table_unref (s->buckets);
  g_free (s);
}
