/* SPDX-License-Identifier: MIT
 *
 * test-webrtc-native: two PpWebrtcTransport peers in one process over
 * 127.0.0.1 (real libnice sockets, DTLS, usrsctp), SDP handed over
 * directly: messages of 0 B to 64 KiB, a checksummed bulk transfer each
 * way, teardown from either side, a tampered fingerprint, hostile SDP,
 * and a peer that vanishes (short and real liveness timeouts).
 */
#include "pp-webrtc-transport.h"
#include "pp-test-utils.h"

#include <gio/gio.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define PP_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PP_UNDER_ASAN 1
#endif
#endif

#define CHUNK 65536

typedef struct _Duo Duo;

typedef struct
{
  Duo *duo;
  guint side;
  PpTransport *t;
  char *sdp;
  gboolean opened;
  gboolean closed;
  char *reason;
  GPtrArray *rx;
  gboolean bulk;
  uint64_t tx_total;
  uint64_t tx_seq;              /* next chunk to send */
  uint64_t tx_hash;
  uint64_t rx_bytes;
  uint64_t rx_hash;
  uint8_t *seen;                /* one byte per expected chunk */
  uint64_t rx_dups;
  uint8_t *chunk;
} Side;

struct _Duo
{
  Side s[2];
  gboolean tamper;
};

static const char *const loopback[] = { "127.0.0.1", NULL };

/* FNV-1a, summed over messages: the channel is unordered, so the check
 * must not depend on arrival order. */
static uint64_t
fnv (const uint8_t *p, size_t n)
{
  uint64_t h = 0xcbf29ce484222325u;

  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3u;
  return h;
}

static void
fill_chunk (uint8_t *buf, size_t n, uint64_t seq, guint side)
{
  uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15u ^ ((uint64_t) side << 63);

  for (size_t i = 0; i + 8 <= n; i += 8)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      memcpy (buf + i, &x, 8);
    }
  memcpy (buf, &seq, 8);
}

static void description_cb (PpTransport *t, const char *sdp, gpointer user_data);

static void
opened_cb (PpTransport *t, gpointer user_data)
{
  ((Side *) user_data)->opened = TRUE;
}

static void
pump (Side *s)
{
  uint64_t chunks = s->tx_total / CHUNK;

  while (s->tx_seq < chunks && pp_transport_get_buffered_amount (s->t) < 2 * 1024 * 1024)
    {
      g_autoptr (GBytes) b = NULL;
      g_autoptr (GError) error = NULL;
      fill_chunk (s->chunk, CHUNK, s->tx_seq, s->side);
      s->tx_hash += fnv (s->chunk, CHUNK);
      b = g_bytes_new (s->chunk, CHUNK);
      g_assert_true (pp_transport_send (s->t, b, &error));
      g_assert_no_error (error);
      s->tx_seq++;
    }
}

static void
message_cb (PpTransport *t, GBytes *msg, gpointer user_data)
{
  Side *s = user_data;
  size_t len;
  const uint8_t *d = g_bytes_get_data (msg, &len);
  uint64_t seq;

  if (!s->bulk)
    {
      g_ptr_array_add (s->rx, g_bytes_ref (msg));
      return;
    }
  g_assert_cmpuint (len, ==, CHUNK);
  memcpy (&seq, d, 8);
  g_assert_cmpuint (seq, <, s->duo->s[1 - s->side].tx_total / CHUNK);
  if (s->seen[seq]++)
    s->rx_dups++;
  s->rx_bytes += len;
  s->rx_hash += fnv (d, len);
}

static void
buffered_low_cb (PpTransport *t, gpointer user_data)
{
  Side *s = user_data;

  if (s->bulk)
    pump (s);
}

static void
closed_cb (PpTransport *t, const char *reason, gpointer user_data)
{
  Side *s = user_data;

  g_assert_false (s->closed);
  s->closed = TRUE;
  s->reason = g_strdup (reason);
}

static const PpTransportCallbacks callbacks = { opened_cb, message_cb, buffered_low_cb,
                                                closed_cb };

static void
tamper (char *sdp)
{
  char *fp = strstr (sdp, "a=fingerprint:sha-256 ");

  g_assert_nonnull (fp);
  fp += strlen ("a=fingerprint:sha-256 ");
  fp[4] = fp[4] == '0' ? '1' : '0';
}

static void
description_cb (PpTransport *t, const char *sdp, gpointer user_data)
{
  Side *s = user_data;
  Side *peer = &s->duo->s[1 - s->side];
  g_autoptr (GError) error = NULL;
  g_autofree char *copy = g_strdup (sdp);

  g_assert_null (s->sdp);
  s->sdp = g_strdup (sdp);
  if (s->side == 0 && s->duo->tamper)
    tamper (copy);
  g_assert_true (pp_webrtc_transport_set_remote_description (peer->t, copy, &error));
  g_assert_no_error (error);
}

static Duo *
duo_new (guint liveness_ms, guint mtu, gboolean tampered)
{
  Duo *d = g_new0 (Duo, 1);

  d->tamper = tampered;
  for (guint i = 0; i < 2; i++)
    {
      Side *s = &d->s[i];
      PpWebrtcConfig cfg;
      g_autoptr (GError) error = NULL;

      pp_webrtc_config_init (&cfg);
      cfg.role = i == 0 ? PP_WEBRTC_OFFERER : PP_WEBRTC_ANSWERER;
      cfg.local_addresses = loopback;
      cfg.sctp_mtu = mtu;
      if (liveness_ms)
        cfg.liveness_timeout_ms = liveness_ms;
      s->duo = d;
      s->side = i;
      s->rx = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      s->chunk = g_malloc (CHUNK);
      s->t = pp_webrtc_transport_new (&cfg, description_cb, s, &error);
      g_assert_no_error (error);
      pp_transport_set_callbacks (s->t, &callbacks, s);
      pp_transport_set_low_water (s->t, 512 * 1024);
    }
  return d;
}

static gboolean
no_pending (gpointer data)
{
  return !g_main_context_pending (NULL);
}

static void
duo_free (Duo *d)
{
  for (guint i = 0; i < 2; i++)
    {
      Side *s = &d->s[i];
      g_clear_pointer (&s->t, pp_transport_unref);
      g_ptr_array_unref (s->rx);
      g_free (s->sdp);
      g_free (s->reason);
      g_free (s->seen);
      g_free (s->chunk);
    }
  g_free (d);
  /* Let the deferred ICE teardown run, so nothing is left for the next test. */
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  pp_test_wait_until (NULL, no_pending, NULL, 200);
}

static gboolean
both_opened (gpointer data)
{
  Duo *d = data;
  return (d->s[0].opened && d->s[1].opened) || d->s[0].closed || d->s[1].closed;
}

static gboolean
both_closed (gpointer data)
{
  Duo *d = data;
  return d->s[0].closed && d->s[1].closed;
}

static void
open_duo (Duo *d)
{
  g_assert_true (pp_test_wait_until (NULL, both_opened, d, 20000));
  g_assert_true (d->s[0].opened && d->s[1].opened);
  g_assert_false (d->s[0].closed || d->s[1].closed);
}

static const size_t sizes[] = { 0, 1, 16384, 65536 };

static gboolean
small_done (gpointer data)
{
  Duo *d = data;
  return d->s[0].rx->len >= G_N_ELEMENTS (sizes) && d->s[1].rx->len >= G_N_ELEMENTS (sizes);
}

static void
test_messages (void)
{
  Duo *d = duo_new (0, 0, FALSE);
  PpTransportStats st;

  open_duo (d);
  g_assert_true (strstr (d->s[0].sdp, "a=setup:actpass") != NULL);
  g_assert_true (strstr (d->s[1].sdp, "a=setup:active") != NULL);
  g_assert_cmpuint (pp_webrtc_transport_get_sctp_mtu (d->s[0].t), ==, 16384);
  g_assert_cmpuint (pp_transport_get_max_message_size (d->s[0].t), ==, 262144);
  for (guint i = 0; i < 2; i++)
    for (size_t k = 0; k < G_N_ELEMENTS (sizes); k++)
      {
        g_autofree uint8_t *buf = g_malloc (sizes[k] + 1);
        g_autoptr (GBytes) b = NULL;
        g_autoptr (GError) error = NULL;
        pp_test_fill_random (buf, sizes[k], (guint32) (k + 10 * i));
        b = g_bytes_new (buf, sizes[k]);
        g_assert_true (pp_transport_send (d->s[i].t, b, &error));
        g_assert_no_error (error);
      }
  g_assert_true (pp_test_wait_until (NULL, small_done, d, 20000));
  for (guint i = 0; i < 2; i++)
    {
      g_assert_cmpuint (d->s[i].rx->len, ==, G_N_ELEMENTS (sizes));
      for (size_t k = 0; k < G_N_ELEMENTS (sizes); k++)
        {
          g_autofree uint8_t *want = g_malloc (sizes[k] + 1);
          gboolean found = FALSE;
          pp_test_fill_random (want, sizes[k], (guint32) (k + 10 * (1 - i)));
          for (guint m = 0; m < d->s[i].rx->len && !found; m++)
            {
              size_t len;
              const uint8_t *p = g_bytes_get_data (d->s[i].rx->pdata[m], &len);
              found = len == sizes[k] && (len == 0 || memcmp (p, want, len) == 0);
            }
          g_assert_true (found);
        }
    }
  pp_transport_get_stats (d->s[0].t, &st);
  g_assert_cmpuint (st.messages_sent, ==, G_N_ELEMENTS (sizes));
  g_assert_cmpuint (st.messages_received, ==, G_N_ELEMENTS (sizes));
  g_assert_nonnull (strstr (st.path, "direct udp 127.0.0.1:"));
  duo_free (d);
}

static gboolean
bulk_done (gpointer data)
{
  Duo *d = data;
  return (d->s[0].rx_bytes >= d->s[1].tx_total && d->s[1].rx_bytes >= d->s[0].tx_total)
         || d->s[0].closed || d->s[1].closed;
}

static void
test_bulk (gconstpointer data)
{
  guint mtu = GPOINTER_TO_UINT (data);
#ifdef PP_UNDER_ASAN
  uint64_t total = 32u << 20;
#else
  uint64_t total = 256u << 20;
#endif
  Duo *d = duo_new (0, mtu, FALSE);

  open_duo (d);
  if (mtu != 0)
    g_assert_cmpuint (pp_webrtc_transport_get_sctp_mtu (d->s[0].t), ==, mtu);
  for (guint i = 0; i < 2; i++)
    {
      d->s[i].bulk = TRUE;
      d->s[i].tx_total = total;
      d->s[i].seen = g_malloc0 (total / CHUNK);
    }
  pump (&d->s[0]);
  pump (&d->s[1]);
  g_assert_true (pp_test_wait_until (NULL, bulk_done, d, 400000));
  for (guint i = 0; i < 2; i++)
    {
      Side *s = &d->s[i];
      g_assert_false (s->closed);
      g_assert_cmpuint (s->rx_bytes, ==, total);
      g_assert_cmpuint (s->rx_dups, ==, 0);
      g_assert_cmphex (s->rx_hash, ==, d->s[1 - i].tx_hash);
    }
  duo_free (d);
}

static void
test_close_from (gconstpointer data)
{
  guint closer = GPOINTER_TO_UINT (data);
  Duo *d = duo_new (0, 0, FALSE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) x = g_bytes_new_static ("x", 1);

  open_duo (d);
  /* Data accepted right before an orderly close still arrives. */
  for (guint i = 0; i < 64; i++)
    {
      g_autoptr (GBytes) m = g_bytes_new_take (g_malloc0 (16384), 16384);
      g_assert_true (pp_transport_send (d->s[closer].t, m, NULL));
    }
  g_assert_cmpuint (pp_transport_get_buffered_amount (d->s[closer].t), >, 0);
  pp_transport_close (d->s[closer].t, "test is done");
  g_assert_true (pp_test_wait_until (NULL, both_closed, d, 20000));
  g_assert_cmpuint (d->s[1 - closer].rx->len, ==, 64);
  g_assert_cmpstr (d->s[closer].reason, ==, "test is done");
  /* The stream reset arrives first, close_notify right after it. */
  g_assert_cmpstr (d->s[1 - closer].reason, ==, "peer closed the data channel");
  g_assert_false (pp_transport_send (d->s[closer].t, x, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_CLOSED);
  duo_free (d);
}

static void
test_tampered_fingerprint (void)
{
  Duo *d = duo_new (0, 0, TRUE);

  g_assert_true (pp_test_wait_until (NULL, both_closed, d, 30000));
  g_assert_false (d->s[0].opened || d->s[1].opened);
  /* The answerer is the DTLS client and checks the offerer's (tampered) fingerprint. */
  g_assert_nonnull (strstr (d->s[1].reason, "fingerprint mismatch"));
  g_assert_nonnull (strstr (d->s[0].reason, "DTLS"));
  duo_free (d);
}

static void
test_vanished (gconstpointer data)
{
  guint liveness_ms = GPOINTER_TO_UINT (data);
  Duo *d = duo_new (liveness_ms, 0, FALSE);
  g_autofree char *want = g_strdup_printf ("peer vanished (no DTLS record for %g s)",
                                           liveness_ms / 1000.0);

  open_duo (d);
  pp__webrtc_transport_set_muted (d->s[1].t, TRUE);
  g_assert_true (pp_test_wait_until (NULL, both_closed, d, liveness_ms * 3 + 10000));
  g_assert_cmpstr (d->s[0].reason, ==, want);
  duo_free (d);
}

typedef struct
{
  const char *name;
  const char *sdp;
  const char *message;
} BadSdp;

static const BadSdp bad_sdps[] = {
  { "garbage", "hello", "SDP: not an SDP session description" },
  { "no-fingerprint", "v=0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
    "a=ice-ufrag:abcd\na=ice-pwd:0123456789abcdefghijklmn\n",
    "SDP: no a=fingerprint:sha-256 with 32 bytes" },
  { "answer-actpass", "v=0\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\n"
    "a=ice-ufrag:abcd\na=ice-pwd:0123456789abcdefghijklmn\na=setup:actpass\n"
    "a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:"
    "66:77:88:99:AA:BB:CC:DD:EE:FF\n",
    "SDP: the answer says a=setup:actpass; it must pick active or passive" },
};

static void
ignore_description (PpTransport *t, const char *sdp, gpointer user_data)
{
}

static void
test_bad_sdp (gconstpointer data)
{
  const BadSdp *c = data;
  PpWebrtcConfig cfg;
  g_autoptr (GError) error = NULL;
  PpTransport *t;

  pp_webrtc_config_init (&cfg);
  cfg.local_addresses = loopback;
  t = pp_webrtc_transport_new (&cfg, ignore_description, NULL, &error);
  g_assert_no_error (error);
  g_assert_false (pp_webrtc_transport_set_remote_description (t, c->sdp, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, c->message);
  g_assert_cmpint (pp_transport_get_state (t), ==, PP_TRANSPORT_NEW);
  pp_transport_unref (t);
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

typedef struct
{
  GSocket *sock;
  guint16 first_type;           /* STUN message type of the first datagram */
  gboolean got;
} FakeServer;

static gboolean
fake_read_cb (GSocket *sock, GIOCondition cond, gpointer data)
{
  FakeServer *f = data;
  uint8_t buf[2048];
  gssize n = g_socket_receive (sock, (gchar *) buf, sizeof buf, NULL, NULL);

  if (n >= 20 && !f->got)
    {
      f->first_type = (guint16) (buf[0] << 8 | buf[1]);
      f->got = TRUE;
    }
  return G_SOURCE_CONTINUE;
}

static guint
fake_server_start (FakeServer *f, GSource **src)
{
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;

  f->sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                          &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (f->sock, any, FALSE, &error));
  bound = g_socket_get_local_address (f->sock, &error);
  *src = g_socket_create_source (f->sock, G_IO_IN, NULL);
  g_source_set_callback (*src, (GSourceFunc) (void (*) (void)) fake_read_cb, f, NULL);
  g_source_attach (*src, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

typedef struct
{
  FakeServer stun, turn;
  gboolean want_stun, want_turn;
  char *sdp;
} ServersSeen;

static void
keep_description (PpTransport *t, const char *sdp, gpointer user_data)
{
  ((ServersSeen *) user_data)->sdp = g_strdup (sdp);
}

typedef struct
{
  gboolean stun, turn;          /* which servers the options name */
} ServersCase;

static const ServersCase servers_cases[] = {
  { TRUE, FALSE },
  { FALSE, TRUE },
  { TRUE, TRUE },
};

/* Done once the offer left and every server the case expects was asked. */
static gboolean
servers_asked (gpointer data)
{
  ServersSeen *s = data;
  return s->sdp != NULL && s->want_stun <= s->stun.got && s->want_turn <= s->turn.got;
}

/* STUN and TURN come from the options: each server gets its request (a
 * Binding, an Allocate), and the offer still leaves when neither answers,
 * thanks to our own gathering deadline.  With a UDP TURN server the STUN
 * server is left out (libnice 0.1.21 then rejects its answers, pp-ice.c):
 * the TURN allocation reports the server-reflexive address. */
static void
test_stun_turn_options (gconstpointer data)
{
  const ServersCase *c = data;
  ServersSeen seen = { 0 };
  GSource *s1, *s2;
  guint stun_port = fake_server_start (&seen.stun, &s1);
  guint turn_port = fake_server_start (&seen.turn, &s2);
  PpWebrtcTurn turn = { "127.0.0.1", turn_port, "user", "secret", FALSE };
  PpWebrtcConfig cfg;
  g_autoptr (GError) error = NULL;
  PpTransport *t;

  pp_webrtc_config_init (&cfg);
  cfg.local_addresses = loopback;
  if (c->stun)
    {
      cfg.stun_host = "127.0.0.1";
      cfg.stun_port = stun_port;
    }
  if (c->turn)
    {
      cfg.turn = &turn;
      cfg.n_turn = 1;
    }
  cfg.gather_timeout_ms = 300;
  seen.want_stun = c->stun && !c->turn;
  seen.want_turn = c->turn;
  t = pp_webrtc_transport_new (&cfg, keep_description, &seen, &error);
  g_assert_no_error (error);
  g_assert_true (pp_test_wait_until (NULL, servers_asked, &seen, 20000));
  if (seen.want_stun)
    g_assert_cmphex (seen.stun.first_type, ==, 0x0001);   /* Binding request */
  if (seen.want_turn)
    g_assert_cmphex (seen.turn.first_type, ==, 0x0003);   /* Allocate request */
  g_assert_true (seen.want_stun || !seen.stun.got);
  g_assert_nonnull (strstr (seen.sdp, "typ host"));
  pp_transport_unref (t);
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_source_destroy (s1);
  g_source_destroy (s2);
  g_source_unref (s1);
  g_source_unref (s2);
  g_object_unref (seen.stun.sock);
  g_object_unref (seen.turn.sock);
  g_free (seen.sdp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/webrtc/integration/messages", test_messages);
  g_test_add_data_func ("/webrtc/integration/bulk/path-mtu", GUINT_TO_POINTER (0), test_bulk);
  g_test_add_data_func ("/webrtc/integration/bulk/mtu-1200", GUINT_TO_POINTER (1200),
                        test_bulk);
  g_test_add_data_func ("/webrtc/integration/close/offerer", GUINT_TO_POINTER (0),
                        test_close_from);
  g_test_add_data_func ("/webrtc/integration/close/answerer", GUINT_TO_POINTER (1),
                        test_close_from);
  g_test_add_func ("/webrtc/integration/tampered-fingerprint", test_tampered_fingerprint);
  g_test_add_data_func ("/webrtc/integration/servers/stun", &servers_cases[0],
                        test_stun_turn_options);
  g_test_add_data_func ("/webrtc/integration/servers/turn", &servers_cases[1],
                        test_stun_turn_options);
  g_test_add_data_func ("/webrtc/integration/servers/stun-and-udp-turn", &servers_cases[2],
                        test_stun_turn_options);
  g_test_add_data_func ("/webrtc/integration/vanished/short", GUINT_TO_POINTER (1000),
                        test_vanished);
  g_test_add_data_func ("/webrtc/integration/vanished/real-15s", GUINT_TO_POINTER (15000),
                        test_vanished);
  for (size_t i = 0; i < G_N_ELEMENTS (bad_sdps); i++)
    {
      g_autofree char *p = g_strdup_printf ("/webrtc/integration/bad-sdp/%s", bad_sdps[i].name);
      g_test_add_data_func (p, &bad_sdps[i], test_bad_sdp);
    }
  return g_test_run ();
}
