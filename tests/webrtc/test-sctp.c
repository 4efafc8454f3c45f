/* SPDX-License-Identifier: MIT
 *
 * test-sctp: two PpSctp associations over two PpDtls endpoints joined by
 * an in-memory datagram pipe: opening, messages of every size class in
 * both directions (the channel is unordered, so arrivals are matched as a
 * set), a checksummed bulk transfer under backpressure at both path MTUs,
 * and an abort seen by the peer.
 */
#include "pp-dcep.h"
#include "pp-dtls.h"
#include "pp-sctp.h"
#include "pp-test-utils.h"

#include <string.h>

typedef struct _Pair Pair;

typedef struct
{
  Pair *pair;
  guint side;
  PpDtls *dtls;
  PpSctp *sctp;
  gboolean open;
  gboolean closed;
  char *reason;
  GPtrArray *rx;                /* GBytes, small tests */
  uint64_t rx_bytes;
  GChecksum *rx_sum;
  uint64_t tx_left;             /* bulk bytes still to queue */
  uint64_t tx_off;
  GChecksum *tx_sum;
  uint8_t *chunk;
  size_t max_in_usrsctp;
  gboolean over_limit;
} Peer;

struct _Pair
{
  Peer p[2];
  GQueue q[2];
  GSource *idle;
  size_t mtu;
  gboolean bulk;
};

static gboolean
deliver_cb (gpointer data)
{
  Pair *pr = data;

  g_clear_pointer (&pr->idle, g_source_unref);
  for (guint s = 0; s < 2; s++)
    while (!g_queue_is_empty (&pr->q[s]))
      {
        g_autoptr (GBytes) b = g_queue_pop_head (&pr->q[s]);
        size_t len;
        const uint8_t *d = g_bytes_get_data (b, &len);
        pp_dtls_receive (pr->p[1 - s].dtls, d, len);
      }
  return G_SOURCE_REMOVE;
}

static void
dtls_send_cb (const uint8_t *data, size_t len, gpointer user_data)
{
  Peer *p = user_data;
  Pair *pr = p->pair;

  g_queue_push_tail (&pr->q[p->side], g_bytes_new (data, len));
  if (pr->idle == NULL)
    {
      pr->idle = g_idle_source_new ();
      g_source_set_callback (pr->idle, deliver_cb, pr, NULL);
      g_source_attach (pr->idle, NULL);
    }
}

static void
dtls_connected_cb (gpointer user_data)
{
  Peer *p = user_data;
  g_autoptr (GError) error = NULL;

  g_assert_true (pp_sctp_start (p->sctp, 5000, 5000, p->pair->mtu, 0, &error));
  g_assert_no_error (error);
}

static void
dtls_data_cb (const uint8_t *data, size_t len, gpointer user_data)
{
  pp_sctp_input (((Peer *) user_data)->sctp, data, len);
}

static void
dtls_closed_cb (gboolean error, const char *reason, gpointer user_data)
{
  Peer *p = user_data;

  p->closed = TRUE;
  g_free (p->reason);
  p->reason = g_strdup (reason);
}

static const PpDtlsCallbacks dtls_cb = { dtls_send_cb, dtls_connected_cb, dtls_data_cb,
                                         dtls_closed_cb };

static void
sctp_output_cb (const uint8_t *packet, size_t len, gpointer user_data)
{
  Peer *p = user_data;

  g_assert_cmpuint (len, <=, p->pair->mtu);
  g_assert_true (pp_dtls_send (p->dtls, packet, len));
}

static void
sctp_open_cb (gpointer user_data)
{
  ((Peer *) user_data)->open = TRUE;
}

static void
sctp_message_cb (GBytes *msg, gpointer user_data)
{
  Peer *p = user_data;
  size_t len;
  const uint8_t *d = g_bytes_get_data (msg, &len);

  p->rx_bytes += len;
  if (p->pair->bulk)
    g_checksum_update (p->rx_sum, d, len);   /* bulk chunks are one size: order is free */
  else
    g_ptr_array_add (p->rx, g_bytes_ref (msg));
}

/* A send never pushes usrsctp past cwnd + 2 packets (plus the message that
 * crosses it), also the send window reported; data already inside may exceed
 * a cwnd that shrank since, which is why the bound is checked around each
 * send. */
static void
check_in_flight (Peer *p, const PpSctpInfo *before)
{
  PpSctpInfo after;
  size_t window = (size_t) before->cwnd + 2 * MAX ((size_t) before->mtu, 1200);
  size_t allowed = window + 65536;

  pp_sctp_get_info (p->sctp, &after);
  g_assert_cmpuint (pp_sctp_get_send_window (p->sctp), ==,
                    (size_t) after.cwnd + 2 * MAX ((size_t) after.mtu, 1200));
  p->max_in_usrsctp = MAX (p->max_in_usrsctp, after.in_usrsctp);
  if (after.in_usrsctp > MAX (before->in_usrsctp, allowed))
    p->over_limit = TRUE;
}

static void
pump (Peer *p)
{
  while (p->tx_left > 0 && pp_sctp_get_buffered_amount (p->sctp) < 1024 * 1024)
    {
      size_t n = (size_t) MIN (p->tx_left, 65536);
      g_autoptr (GBytes) b = NULL;
      PpSctpInfo before;
      pp_test_fill_random (p->chunk, n, (guint32) (p->tx_off / 65536) + 1000 * p->side);
      b = g_bytes_new (p->chunk, n);
      pp_sctp_get_info (p->sctp, &before);
      g_assert_true (pp_sctp_send (p->sctp, b));
      check_in_flight (p, &before);
      p->tx_left -= n;
      p->tx_off += n;
    }
}

static void
sctp_drained_cb (gpointer user_data)
{
  Peer *p = user_data;

  if (p->pair->bulk && p->open)
    pump (p);
}

static void
sctp_closed_cb (gboolean error, const char *reason, gpointer user_data)
{
  Peer *p = user_data;

  p->closed = TRUE;
  g_free (p->reason);
  p->reason = g_strdup (reason);
}

static const PpSctpCallbacks sctp_cb = { sctp_output_cb, sctp_open_cb, sctp_message_cb,
                                         sctp_drained_cb, sctp_closed_cb };

static Pair *
pair_new (size_t mtu)
{
  Pair *pr = g_new0 (Pair, 1);
  PpDtlsCert *cert = pp_dtls_cert_get_default (NULL);

  pr->mtu = mtu;
  for (guint s = 0; s < 2; s++)
    {
      Peer *p = &pr->p[s];
      p->pair = pr;
      p->side = s;
      p->rx = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      p->rx_sum = g_checksum_new (G_CHECKSUM_SHA256);
      p->tx_sum = g_checksum_new (G_CHECKSUM_SHA256);
      p->chunk = g_malloc (65536);
      p->dtls = pp_dtls_new (cert, NULL, &dtls_cb, p);
      p->sctp = pp_sctp_new (NULL, &sctp_cb, p);
      pp_dtls_set_remote_fingerprint (p->dtls, pp_dtls_cert_get_fingerprint (cert));
      g_queue_init (&pr->q[s]);
    }
  pp_dtls_start (pr->p[1].dtls, FALSE);
  pp_dtls_start (pr->p[0].dtls, TRUE);
  pp_dtls_cert_unref (cert);
  return pr;
}

static void
pair_free (Pair *pr)
{
  if (pr->idle != NULL)
    {
      g_source_destroy (pr->idle);
      g_source_unref (pr->idle);
    }
  for (guint s = 0; s < 2; s++)
    {
      Peer *p = &pr->p[s];
      pp_sctp_free (p->sctp);   /* SCTP first: its ABORT still goes through DTLS */
      pp_dtls_free (p->dtls);
      g_ptr_array_unref (p->rx);
      g_checksum_free (p->rx_sum);
      g_checksum_free (p->tx_sum);
      g_free (p->chunk);
      g_free (p->reason);
      g_queue_clear_full (&pr->q[s], (GDestroyNotify) g_bytes_unref);
    }
  g_free (pr);
}

static gboolean
both_open (gpointer data)
{
  Pair *pr = data;
  return pr->p[0].open && pr->p[1].open;
}

static const size_t sizes[] = { 0, 1, 1200, 16384, 65536, 262144 };

static gboolean
all_small_received (gpointer data)
{
  Pair *pr = data;
  return pr->p[0].rx->len == G_N_ELEMENTS (sizes) && pr->p[1].rx->len == G_N_ELEMENTS (sizes);
}

static void
test_messages (gconstpointer data)
{
  Pair *pr = pair_new (GPOINTER_TO_SIZE (data));

  g_assert_true (pp_test_wait_until (NULL, both_open, pr, 10000));
  for (guint s = 0; s < 2; s++)
    for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
      {
        g_autofree uint8_t *buf = g_malloc (sizes[i] + 1);
        g_autoptr (GBytes) b = NULL;
        pp_test_fill_random (buf, sizes[i], (guint32) (i + 10 * s));
        b = g_bytes_new (buf, sizes[i]);
        g_assert_true (pp_sctp_send (pr->p[s].sctp, b));
      }
  g_assert_true (pp_test_wait_until (NULL, all_small_received, pr, 20000));
  for (guint s = 0; s < 2; s++)
    for (size_t i = 0; i < G_N_ELEMENTS (sizes); i++)
      {
        gboolean found = FALSE;
        g_autofree uint8_t *want = g_malloc (sizes[i] + 1);
        pp_test_fill_random (want, sizes[i], (guint32) (i + 10 * (1 - s)));
        for (guint k = 0; k < pr->p[s].rx->len && !found; k++)
          {
            size_t len;
            const uint8_t *d = g_bytes_get_data (pr->p[s].rx->pdata[k], &len);
            found = len == sizes[i] && (len == 0 || memcmp (d, want, len) == 0);
          }
        g_assert_true (found);
      }
  pair_free (pr);
}

static gboolean
bulk_done (gpointer data)
{
  Pair *pr = data;
  return pr->p[0].rx_bytes >= pr->p[1].tx_off && pr->p[1].rx_bytes >= pr->p[0].tx_off
         && pr->p[0].tx_left == 0 && pr->p[1].tx_left == 0;
}

static void
expected_sum (uint64_t total, guint side, char out[65])
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree uint8_t *chunk = g_malloc (65536);

  for (uint64_t off = 0; off < total; off += 65536)
    {
      size_t n = (size_t) MIN (total - off, 65536);
      pp_test_fill_random (chunk, n, (guint32) (off / 65536) + 1000 * side);
      g_checksum_update (sum, chunk, n);
    }
  g_strlcpy (out, g_checksum_get_string (sum), 65);
}

static void
test_bulk (gconstpointer data)
{
  Pair *pr = pair_new (GPOINTER_TO_SIZE (data));
  uint64_t total = 16u << 20;
  char want[2][65];

  pr->bulk = TRUE;
  g_assert_true (pp_test_wait_until (NULL, both_open, pr, 10000));
  for (guint s = 0; s < 2; s++)
    {
      pr->p[s].tx_left = total;
      pump (&pr->p[s]);
      g_assert_cmpuint (pp_sctp_get_buffered_amount (pr->p[s].sctp), >, 0);
    }
  g_assert_true (pp_test_wait_until (NULL, bulk_done, pr, 120000));
  for (guint s = 0; s < 2; s++)
    {
      /* Chunks are all 64 KiB but may arrive in any order; the checksum is
       * over arrival order, so compare it only when it matches send order or
       * fall back to the byte count.  Unordered delivery reorders only under
       * loss, which the memory pipe never causes. */
      expected_sum (total, 1 - s, want[s]);
      g_assert_cmpuint (pr->p[s].rx_bytes, ==, total);
      g_assert_cmpuint (pr->p[s].max_in_usrsctp, >, 0);
      g_assert_false (pr->p[s].over_limit);
      g_assert_cmpstr (g_checksum_get_string (pr->p[s].rx_sum), ==, want[s]);
    }
  pair_free (pr);
}

static gboolean
peer1_closed (gpointer data)
{
  return ((Pair *) data)->p[1].closed;
}

static void
test_abort (void)
{
  Pair *pr = pair_new (PP_SCTP_MTU_DEFAULT);
  g_autoptr (GBytes) x = g_bytes_new_static ("x", 1);

  g_assert_true (pp_test_wait_until (NULL, both_open, pr, 10000));
  pp_sctp_close (pr->p[0].sctp);
  g_assert_false (pp_sctp_send (pr->p[0].sctp, x));
  g_assert_true (pp_test_wait_until (NULL, peer1_closed, pr, 10000));
  g_assert_nonnull (strstr (pr->p[1].reason, "SCTP"));
  g_assert_false (pp_sctp_is_open (pr->p[1].sctp));
  pair_free (pr);
}

static gboolean
dcep_settled (gpointer data)
{
  Pair *pr = data;
  PpSctpInfo a, b;

  pp_sctp_get_info (pr->p[0].sctp, &a);
  pp_sctp_get_info (pr->p[1].sctp, &b);
  return a.dcep_acks_received == 2 && b.dcep_opens_refused == 1 && a.streams_reset_by_peer >= 2
         && pr->p[0].rx->len == 1;
}

/* DESIGN §6: an OPEN on stream 0 is the tunnel (ACK); an OPEN on another
 * stream is acknowledged, then reset; garbage resets the stream.  The
 * tunnel keeps working throughout. */
static void
test_dcep (void)
{
  Pair *pr = pair_new (PP_SCTP_MTU_DEFAULT);
  g_autoptr (GBytes) open0 = pp_dcep_build_open (0x80, "data", "");
  g_autoptr (GBytes) open2 = pp_dcep_build_open (0x00, "chat", "x");
  g_autoptr (GBytes) hello = g_bytes_new_static ("hello", 5);
  static const uint8_t junk[] = { 0x7F, 1, 2 };
  PpSctpInfo info;

  g_assert_true (pp_test_wait_until (NULL, both_open, pr, 10000));
  g_assert_true (pp__sctp_send_raw (pr->p[0].sctp, 0, PP_DCEP_PPID,
                                    g_bytes_get_data (open0, NULL), g_bytes_get_size (open0)));
  g_assert_true (pp__sctp_send_raw (pr->p[0].sctp, 2, PP_DCEP_PPID,
                                    g_bytes_get_data (open2, NULL), g_bytes_get_size (open2)));
  g_assert_true (pp__sctp_send_raw (pr->p[0].sctp, 4, PP_DCEP_PPID, junk, sizeof junk));
  g_assert_true (pp__sctp_send_raw (pr->p[0].sctp, 6, 53, "ignored", 7));
  g_assert_true (pp_sctp_send (pr->p[1].sctp, hello));
  g_assert_true (pp_test_wait_until (NULL, dcep_settled, pr, 10000));
  pp_sctp_get_info (pr->p[0].sctp, &info);
  g_assert_cmpuint (info.dcep_acks_received, ==, 2);
  g_assert_cmpuint (pr->p[1].rx->len, ==, 0);   /* stream 6 data is not the tunnel's */
  g_assert_true (pp_sctp_is_open (pr->p[0].sctp) && pp_sctp_is_open (pr->p[1].sctp));
  pair_free (pr);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/sctp/integration/messages/mtu-1200",
                        GSIZE_TO_POINTER (PP_SCTP_MTU_DEFAULT), test_messages);
  g_test_add_data_func ("/sctp/integration/messages/mtu-16384",
                        GSIZE_TO_POINTER (PP_SCTP_MTU_LOOPBACK), test_messages);
  g_test_add_data_func ("/sctp/integration/bulk-16MiB/mtu-1200",
                        GSIZE_TO_POINTER (PP_SCTP_MTU_DEFAULT), test_bulk);
  g_test_add_data_func ("/sctp/integration/bulk-16MiB/mtu-16384",
                        GSIZE_TO_POINTER (PP_SCTP_MTU_LOOPBACK), test_bulk);
  g_test_add_func ("/sctp/integration/abort-seen-by-peer", test_abort);
  g_test_add_func ("/sctp/integration/dcep-stream-rule", test_dcep);
  return g_test_run ();
}
