/* SPDX-License-Identifier: MIT
 *
 * The STUN responder: pure answers (RFC 5389 XOR-MAPPED-ADDRESS and a valid
 * FINGERPRINT for IPv4 and IPv6, RFC 3489 MAPPED-ADDRESS, silence for
 * malformed input, no amplification), then the UDP responder on 127.0.0.1
 * with its per-source rate limit, and a real STUN client (Debian's `stun`
 * from stun-client) learning its address from it when installed.
 */
#include <string.h>

#include <glib.h>

#include "pp-test-utils.h"
#include "signal/pp-signal-stun.h"

static void
make_request (uint8_t req[20], gboolean rfc5389)
{
  memset (req, 0, 20);
  req[1] = 0x01; /* binding request, length 0 */
  if (rfc5389)
    {
      req[4] = 0x21; req[5] = 0x12; req[6] = 0xa4; req[7] = 0x42;
    }
  for (int i = 8; i < 20; i++)
    req[i] = (uint8_t) (i * 7);
}

static void
check_fingerprint (const uint8_t *resp, size_t n)
{
  uint32_t want = pp_signal_stun_crc32 (resp, n - 8) ^ 0x5354554eu;
  uint32_t got = (uint32_t) resp[n - 4] << 24 | (uint32_t) resp[n - 3] << 16
                 | (uint32_t) resp[n - 2] << 8 | resp[n - 1];

  g_assert_cmpuint (resp[n - 8], ==, 0x80);
  g_assert_cmpuint (resp[n - 7], ==, 0x28);
  g_assert_cmphex (got, ==, want);
}

static void
test_crc32 (void)
{
  g_assert_cmphex (pp_signal_stun_crc32 ((const uint8_t *) "123456789", 9), ==, 0xcbf43926u);
}

static void
test_answer_v4 (void)
{
  uint8_t req[20], out[PP_STUN_MAX_RESPONSE];
  const uint8_t ip[4] = { 192, 0, 2, 1 };
  size_t n;

  make_request (req, TRUE);
  n = pp_signal_stun_answer (req, sizeof req, ip, 4, 32853, out);
  g_assert_cmpuint (n, ==, 20 + 12 + 8);
  g_assert_cmpuint (out[0], ==, 0x01);
  g_assert_cmpuint (out[1], ==, 0x01);
  g_assert_cmpuint (out[3], ==, n - 20);
  g_assert_cmpmem (out + 4, 16, req + 4, 16);
  g_assert_cmpuint (out[20], ==, 0x00);
  g_assert_cmpuint (out[21], ==, 0x20);   /* XOR-MAPPED-ADDRESS */
  g_assert_cmpuint (out[25], ==, 0x01);   /* IPv4 */
  g_assert_cmpuint ((out[26] << 8 | out[27]) ^ 0x2112, ==, 32853);
  g_assert_cmpuint (out[28] ^ 0x21, ==, 192);
  g_assert_cmpuint (out[29] ^ 0x12, ==, 0);
  g_assert_cmpuint (out[30] ^ 0xa4, ==, 2);
  g_assert_cmpuint (out[31] ^ 0x42, ==, 1);
  check_fingerprint (out, n);
}

static void
test_answer_v6_and_3489 (void)
{
  uint8_t req[20], out[PP_STUN_MAX_RESPONSE];
  uint8_t ip6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
  const uint8_t ip4[4] = { 10, 1, 2, 3 };
  size_t n;

  make_request (req, TRUE);
  n = pp_signal_stun_answer (req, sizeof req, ip6, 16, 443, out);
  g_assert_cmpuint (n, ==, 20 + 24 + 8);
  g_assert_cmpuint (out[25], ==, 0x02);
  g_assert_cmpuint (out[28] ^ 0x21, ==, 0x20);
  g_assert_cmpuint (out[32 + 4] ^ req[8 + 4], ==, 0); /* bytes 8..15 XOR the txid */
  check_fingerprint (out, n);
  make_request (req, FALSE);
  n = pp_signal_stun_answer (req, sizeof req, ip4, 4, 1234, out);
  g_assert_cmpuint (n, ==, 20 + 12);
  g_assert_cmpuint (out[21], ==, 0x01);   /* MAPPED-ADDRESS, not XORed */
  g_assert_cmpuint (out[26] << 8 | out[27], ==, 1234);
  g_assert_cmpmem (out + 28, 4, ip4, 4);
  g_assert_cmpuint (pp_signal_stun_answer (req, sizeof req, ip6, 16, 1, out), ==, 0);
}

static void
test_malformed (void)
{
  uint8_t req[64], out[PP_STUN_MAX_RESPONSE];
  const uint8_t ip[4] = { 127, 0, 0, 1 };

  make_request (req, TRUE);
  g_assert_cmpuint (pp_signal_stun_answer (req, 19, ip, 4, 1, out), ==, 0);
  req[0] = 0x01; /* a response, not a request */
  g_assert_cmpuint (pp_signal_stun_answer (req, 20, ip, 4, 1, out), ==, 0);
  make_request (req, TRUE);
  req[3] = 8;    /* claims 8 bytes of attributes that are not there */
  g_assert_cmpuint (pp_signal_stun_answer (req, 20, ip, 4, 1, out), ==, 0);
  /* An attribute whose length runs past the end. */
  memset (req + 20, 0, 8);
  req[20 + 3] = 200;
  g_assert_cmpuint (pp_signal_stun_answer (req, 28, ip, 4, 1, out), ==, 0);
  req[20 + 3] = 4; /* now well formed: an unknown 4-byte attribute */
  g_assert_cmpuint (pp_signal_stun_answer (req, 28, ip, 4, 1, out), >, 0);
  req[1] = 0x11; /* a binding indication */
  g_assert_cmpuint (pp_signal_stun_answer (req, 28, ip, 4, 1, out), ==, 0);
}

/* ---- over UDP ----------------------------------------------------------------- */

typedef struct
{
  GSocket *sock;
  guint got;
} Receiver;

static gboolean
received (gpointer data)
{
  Receiver *r = data;
  uint8_t buf[128];

  while (g_socket_receive (r->sock, (char *) buf, sizeof buf, NULL, NULL) > 0)
    r->got++;
  return r->got > 0;
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
all_judged (gpointer data)
{
  return pp_signal_stun_answered (data) + pp_signal_stun_dropped (data) >= 10;
}

static void
test_udp_and_rate_limit (void)
{
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (PpSignalStun) stun = pp_signal_stun_new (any, 0.001, 3, NULL);
  g_autoptr (GSocketAddress) dst = NULL;
  Receiver r = { 0 };
  uint8_t req[20];
  guint tick = g_timeout_add (5, tick_cb, NULL);

  g_assert_nonnull (stun);
  dst = g_inet_socket_address_new_from_string ("127.0.0.1", pp_signal_stun_get_port (stun));
  r.sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                         NULL);
  g_assert_true (g_socket_bind (r.sock, any, FALSE, NULL));
  g_socket_set_blocking (r.sock, FALSE);
  make_request (req, TRUE);
  for (int i = 0; i < 10; i++)
    g_assert_cmpint (g_socket_send_to (r.sock, dst, (const char *) req, sizeof req, NULL, NULL),
                     ==, 20);
  g_assert_true (pp_test_wait_until (NULL, received, &r, 5000));
  /* All ten arrive and are judged; the burst of three is answered. */
  g_assert_true (pp_test_wait_until (NULL, all_judged, stun, 5000));
  received (&r);
  g_assert_cmpuint (pp_signal_stun_answered (stun), ==, 3);
  g_assert_cmpuint (pp_signal_stun_dropped (stun), ==, 7);
  g_source_remove (tick);
  g_object_unref (r.sock);
}

typedef struct
{
  gboolean done;
  char *out;
} Proc;

static void
communicated_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  Proc *p = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (src), res, &p->out, NULL, NULL);
  p->done = TRUE;
}

static gboolean
proc_done (gpointer data)
{
  return ((Proc *) data)->done;
}

static void
test_real_client (void)
{
  g_autofree char *exe = g_find_program_in_path ("stun");
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (PpSignalStun) stun = NULL;
  g_autoptr (GSubprocess) proc = NULL;
  g_autofree char *server = NULL;
  g_autoptr (GError) error = NULL;
  Proc p = { 0 };

  if (exe == NULL)
    {
      g_test_skip ("the stun client (Debian package stun-client) is not installed");
      return;
    }
  stun = pp_signal_stun_new (any, 0, 0, NULL);
  server = g_strdup_printf ("127.0.0.1:%u", pp_signal_stun_get_port (stun));
  /* Test 1 of RFC 3489: one binding request, the mapped address printed. */
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_MERGE,
                           &error, exe, server, "1", "-v", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (proc, NULL, NULL, communicated_cb, &p);
  g_assert_true (pp_test_wait_until (NULL, proc_done, &p, 20000));
  g_test_message ("%s", p.out);
  g_assert_cmpuint (pp_signal_stun_answered (stun), >=, 1);
  g_assert_nonnull (strstr (p.out, "MappedAddress = 127.0.0.1:"));
  g_free (p.out);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/signal/unit/stun/crc32", test_crc32);
  g_test_add_func ("/signal/unit/stun/answer-v4", test_answer_v4);
  g_test_add_func ("/signal/unit/stun/answer-v6-and-3489", test_answer_v6_and_3489);
  g_test_add_func ("/signal/unit/stun/malformed", test_malformed);
  g_test_add_func ("/signal/integration/stun/udp-and-rate-limit", test_udp_and_rate_limit);
  g_test_add_func ("/signal/integration/stun/real-client", test_real_client);
  return g_test_run ();
}
