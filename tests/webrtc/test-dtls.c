/* SPDX-License-Identifier: MIT
 *
 * test-dtls: two PpDtls endpoints joined by an in-memory datagram pipe
 * (delivered from an idle source, never re-entrantly): handshake, records
 * both ways, close_notify, a tampered fingerprint refused on both sides,
 * the handshake MTU, and a ClientHello that arrives before the server
 * knows its role.
 */
#include "pp-dtls.h"
#include "pp-sdp.h"
#include "pp-test-utils.h"

#include <string.h>

typedef struct _Pipe Pipe;

typedef struct
{
  Pipe *pipe;
  guint side;
  PpDtls *dtls;
  gboolean connected;
  gboolean closed;
  gboolean closed_error;
  char *reason;
  GByteArray *rx;
  guint records;
  guint sent;                   /* datagrams sent */
  size_t max_datagram_hs;       /* largest datagram before connected */
  guint peer_sent_at_first_send;
} End;

struct _Pipe
{
  End end[2];
  GQueue q[2];                  /* GBytes from end[s] to end[1 - s] */
  GSource *idle;
  gboolean drop;
};

static gboolean
deliver_cb (gpointer data)
{
  Pipe *p = data;

  g_clear_pointer (&p->idle, g_source_unref);
  for (guint s = 0; s < 2; s++)
    while (!g_queue_is_empty (&p->q[s]))
      {
        g_autoptr (GBytes) b = g_queue_pop_head (&p->q[s]);
        size_t len;
        const uint8_t *d = g_bytes_get_data (b, &len);
        if (!p->drop)
          pp_dtls_receive (p->end[1 - s].dtls, d, len);
      }
  return G_SOURCE_REMOVE;
}

static void
send_cb (const uint8_t *data, size_t len, gpointer user_data)
{
  End *e = user_data;
  Pipe *p = e->pipe;

  if (e->sent == 0)
    e->peer_sent_at_first_send = p->end[1 - e->side].sent;
  e->sent++;
  if (!e->connected)
    e->max_datagram_hs = MAX (e->max_datagram_hs, len);
  g_queue_push_tail (&p->q[e->side], g_bytes_new (data, len));
  if (p->idle == NULL)
    {
      p->idle = g_idle_source_new ();
      g_source_set_callback (p->idle, deliver_cb, p, NULL);
      g_source_attach (p->idle, NULL);
    }
}

static void
connected_cb (gpointer user_data)
{
  ((End *) user_data)->connected = TRUE;
}

static void
data_cb (const uint8_t *data, size_t len, gpointer user_data)
{
  End *e = user_data;

  g_byte_array_append (e->rx, data, (guint) len);
  e->records++;
}

static void
closed_cb (gboolean error, const char *reason, gpointer user_data)
{
  End *e = user_data;

  e->closed = TRUE;
  e->closed_error = error;
  e->reason = g_strdup (reason);
}

static const PpDtlsCallbacks callbacks = { send_cb, connected_cb, data_cb, closed_cb };

static Pipe *
pipe_new (PpDtlsCert *c0, PpDtlsCert *c1)
{
  Pipe *p = g_new0 (Pipe, 1);
  PpDtlsCert *certs[2] = { c0, c1 };

  for (guint s = 0; s < 2; s++)
    {
      p->end[s].pipe = p;
      p->end[s].side = s;
      p->end[s].rx = g_byte_array_new ();
      p->end[s].dtls = pp_dtls_new (certs[s], NULL, &callbacks, &p->end[s]);
      g_queue_init (&p->q[s]);
    }
  pp_dtls_set_remote_fingerprint (p->end[0].dtls, pp_dtls_cert_get_fingerprint (c1));
  pp_dtls_set_remote_fingerprint (p->end[1].dtls, pp_dtls_cert_get_fingerprint (c0));
  return p;
}

static void
pipe_free (Pipe *p)
{
  if (p->idle != NULL)
    {
      g_source_destroy (p->idle);
      g_source_unref (p->idle);
    }
  for (guint s = 0; s < 2; s++)
    {
      pp_dtls_free (p->end[s].dtls);
      g_byte_array_unref (p->end[s].rx);
      g_free (p->end[s].reason);
      g_queue_clear_full (&p->q[s], (GDestroyNotify) g_bytes_unref);
    }
  g_free (p);
}

static gboolean
both_connected (gpointer data)
{
  Pipe *p = data;
  return p->end[0].connected && p->end[1].connected;
}

static gboolean
both_closed (gpointer data)
{
  Pipe *p = data;
  return p->end[0].closed && p->end[1].closed;
}

static gboolean
end_closed (gpointer data)
{
  return ((End *) data)->closed;
}

static gboolean
got_bytes (gpointer data)
{
  Pipe *p = data;
  return p->end[0].rx->len == 16384 + 1 && p->end[1].rx->len == 16384 + 1;
}

static PpDtlsCert *
cert (void)
{
  g_autoptr (GError) error = NULL;
  PpDtlsCert *c = pp_dtls_cert_new (&error);

  g_assert_no_error (error);
  g_assert_nonnull (c);
  return c;
}

static void
test_handshake_and_records (void)
{
  PpDtlsCert *c0 = cert (), *c1 = cert ();
  Pipe *p = pipe_new (c0, c1);
  uint8_t big[16384];

  pp_dtls_start (p->end[1].dtls, FALSE);
  pp_dtls_start (p->end[0].dtls, TRUE);
  g_assert_true (pp_test_wait_until (NULL, both_connected, p, 10000));
  g_assert_cmpuint (p->end[0].max_datagram_hs, <=, PP_DTLS_HANDSHAKE_MTU);
  g_assert_cmpuint (p->end[1].max_datagram_hs, <=, PP_DTLS_HANDSHAKE_MTU);
  g_assert_cmpstr (pp_dtls_get_cipher (p->end[0].dtls), ==, "ECDHE-ECDSA-AES128-GCM-SHA256");

  pp_test_fill_random (big, sizeof big, 7);
  for (guint s = 0; s < 2; s++)
    {
      g_assert_true (pp_dtls_send (p->end[s].dtls, big, sizeof big));
      g_assert_true (pp_dtls_send (p->end[s].dtls, (const uint8_t *) "x", 1));
      g_assert_false (pp_dtls_send (p->end[s].dtls, big, 0));
    }
  g_assert_true (pp_test_wait_until (NULL, got_bytes, p, 10000));
  g_assert_cmpuint (p->end[0].records, ==, 2);
  g_assert_cmpmem (p->end[1].rx->data, 16384, big, 16384);
  g_assert_cmpint (p->end[1].rx->data[16384], ==, 'x');
  g_assert_cmpint (pp_dtls_get_last_receive_us (p->end[0].dtls), >, 0);

  pp_dtls_close (p->end[0].dtls);
  g_assert_false (pp_dtls_send (p->end[0].dtls, big, 1));
  g_assert_true (pp_test_wait_until (NULL, end_closed, &p->end[1], 10000));
  g_assert_false (p->end[1].closed_error);
  g_assert_nonnull (strstr (p->end[1].reason, "close_notify"));
  g_assert_false (p->end[0].closed);   /* our own close is not reported */
  pipe_free (p);
  pp_dtls_cert_unref (c0);
  pp_dtls_cert_unref (c1);
}

static void
test_fingerprint_mismatch (gconstpointer data)
{
  guint tampered = GPOINTER_TO_UINT (data);   /* whose expectation is wrong */
  PpDtlsCert *c0 = cert (), *c1 = cert ();
  Pipe *p = pipe_new (c0, c1);
  uint8_t fp[32];

  memcpy (fp, pp_dtls_cert_get_fingerprint (tampered == 0 ? c1 : c0), 32);
  fp[5] ^= 0x01;
  pp_dtls_set_remote_fingerprint (p->end[tampered].dtls, fp);
  pp_dtls_start (p->end[1].dtls, FALSE);
  pp_dtls_start (p->end[0].dtls, TRUE);
  g_assert_true (pp_test_wait_until (NULL, both_closed, p, 10000));
  g_assert_false (p->end[tampered].connected);
  g_assert_true (p->end[tampered].closed_error);
  g_assert_nonnull (strstr (p->end[tampered].reason, "fingerprint mismatch"));
  g_assert_true (p->end[1 - tampered].closed_error);
  g_assert_false (pp_dtls_send (p->end[tampered].dtls, fp, 1));
  pipe_free (p);
  pp_dtls_cert_unref (c0);
  pp_dtls_cert_unref (c1);
}

/* The client starts first; the server learns its role only later (the
 * answer has not been applied yet).  The kept ClientHello must be answered
 * at once, so the client has sent exactly one datagram when the server's
 * first one leaves — a dropped hello would need a retransmission first. */
static void
test_early_client_hello (void)
{
  PpDtlsCert *c0 = cert (), *c1 = cert ();
  Pipe *p = pipe_new (c0, c1);

  pp_dtls_start (p->end[0].dtls, TRUE);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (p->end[0].sent, ==, 1);
  g_assert_cmpuint (p->end[1].sent, ==, 0);
  pp_dtls_start (p->end[1].dtls, FALSE);
  g_assert_true (pp_test_wait_until (NULL, both_connected, p, 10000));
  g_assert_cmpuint (p->end[1].peer_sent_at_first_send, ==, 1);
  pipe_free (p);
  pp_dtls_cert_unref (c0);
  pp_dtls_cert_unref (c1);
}

static void
test_default_cert (void)
{
  g_autoptr (GError) error = NULL;
  PpDtlsCert *a = pp_dtls_cert_get_default (&error);
  PpDtlsCert *b = pp_dtls_cert_get_default (&error);

  g_assert_no_error (error);
  g_assert_true (a == b);
  pp_dtls_cert_unref (a);
  pp_dtls_cert_unref (b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/dtls/unit/handshake-records-close", test_handshake_and_records);
  g_test_add_data_func ("/dtls/unit/fingerprint-mismatch/client-checks", GUINT_TO_POINTER (0),
                        test_fingerprint_mismatch);
  g_test_add_data_func ("/dtls/unit/fingerprint-mismatch/server-checks", GUINT_TO_POINTER (1),
                        test_fingerprint_mismatch);
  g_test_add_func ("/dtls/unit/early-client-hello", test_early_client_hello);
  g_test_add_func ("/dtls/unit/default-cert", test_default_cert);
  return g_test_run ();
}
