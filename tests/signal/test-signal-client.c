/* SPDX-License-Identifier: MIT
 *
 * The asynchronous client against a real in-process server (memory store):
 * host and client run the whole handshake through PpSignalClient and show the
 * same code; then the errors a person sees — a pin for another host, a seat
 * already taken, a declined join, an expired session, a tampered reveal, an
 * unreachable server (after retries) — and cancellation of a long poll.
 */
#include <string.h>

#include <glib.h>

#include <glib/gstdio.h>

#include "pp-signal-test-http.h"
#include "pp-test-utils.h"
#include "signal/pp-signal-client.h"
#include "signal/pp-signal-server.h"

#define FP_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

typedef struct
{
  PpSignalServer *srv;
  char *base;
  int64_t now;
  uint8_t fp_h[32], fp_c[32];
} Fixture;

typedef struct
{
  GAsyncResult *res;
} Wait;

static int64_t
clock_cb (gpointer data)
{
  return ((Fixture *) data)->now;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  PpSignalServerOptions o;
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GError) error = NULL;

  f->now = 1700000000000LL;
  pp_signal_server_options_init (&o);
  o.poll_timeout_ms = 200;
  o.create_per_s = 0;
  o.join_per_s = 0;
  o.clock = clock_cb;
  o.clock_data = f;
  f->srv = pp_signal_server_new (&o, pp_signal_store_memory_new ());
  pp_signal_server_options_clear (&o);
  g_assert_true (pp_signal_server_listen (f->srv, addr, NULL, &error));
  f->base = g_strdup_printf ("http://127.0.0.1:%u", pp_signal_server_get_port (f->srv));
  memset (f->fp_h, 0xa1, 32);
  memset (f->fp_c, 0xc1, 32);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  pp_signal_server_free (f->srv);
  g_free (f->base);
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
done_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  ((Wait *) data)->res = g_object_ref (res);
}

static gboolean
has_result (gpointer data)
{
  return ((Wait *) data)->res != NULL;
}

static GAsyncResult *
wait_result (Wait *w)
{
  g_assert_true (pp_test_wait_until (NULL, has_result, w, 20000));
  return w->res;
}

#define RUN(call_with_cb, finish_expr) \
  do { Wait w_ = { NULL }; Wait *wp_ = &w_; call_with_cb; GAsyncResult *res = wait_result (wp_); \
       finish_expr; g_object_unref (res); } while (0)

static PpSignalClient *
host_create (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  PpSignalClient *h = pp_signal_client_new (f->base, &error);
  gboolean ok = FALSE;

  g_assert_no_error (error);
  RUN (pp_signal_client_create_async (h, "laptop", f->fp_h, NULL, done_cb, wp_),
       ok = pp_signal_client_create_finish (h, res, &error));
  g_assert_no_error (error);
  g_assert_true (ok);
  return h;
}

static PpSignalSession *
client_join (Fixture *f, PpSignalClient *c, const char *id, const char *pin, GError **error)
{
  PpSignalSession *s = NULL;

  RUN (pp_signal_client_join_async (c, id, "phone", f->fp_c, pin, NULL, done_cb, wp_),
       s = pp_signal_client_join_finish (c, res, error));
  return s;
}

static gboolean
send_done (PpSignalClient *c, GAsyncResult *res, GError **error)
{
  return pp_signal_client_send_finish (c, res, error);
}

static PpSignalSession *
poll_for (PpSignalClient *c, PpSignalFor what, GError **error)
{
  PpSignalSession *s = NULL;

  RUN (pp_signal_client_poll_async (c, what, NULL, done_cb, wp_),
       s = pp_signal_client_poll_finish (c, res, error));
  return s;
}

static void
test_handshake (Fixture *f, gconstpointer data)
{
  g_autoptr (PpSignalClient) h = host_create (f);
  g_autoptr (PpSignalClient) c = pp_signal_client_new (f->base, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *url = pp_signal_join_url (f->base, pp_signal_client_get_id (h), f->fp_h);
  g_autofree char *base = NULL, *id = NULL, *pin = NULL;
  g_autoptr (PpSignalSession) joined = NULL, hs = NULL, cs = NULL, hr = NULL, offer = NULL;
  g_autoptr (PpSignalSession) answer = NULL;
  const char *cands[] = { "candidate:1 1 udp 2122260223 127.0.0.1 9 typ host", NULL };
  uint32_t code_h = 0, code_c = 0;
  gboolean ok = FALSE;

  g_assert_true (pp_signal_parse_join_url (url, &base, &id, &pin, &error));
  g_assert_cmpstr (base, ==, f->base);
  g_assert_cmpstr (id, ==, pp_signal_client_get_id (h));
  joined = client_join (f, c, id, pin, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (joined->host, ==, "laptop");
  hs = poll_for (h, PP_SIGNAL_FOR_JOIN, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (hs->client, ==, "phone");
  RUN (pp_signal_client_nonce_async (h, NULL, done_cb, wp_), ok = send_done (h, res, &error));
  g_assert_true (ok);
  cs = poll_for (c, PP_SIGNAL_FOR_NONCE, &error);
  g_assert_no_error (error);
  RUN (pp_signal_client_reveal_async (c, NULL, done_cb, wp_), ok = send_done (c, res, &error));
  g_assert_true (ok);
  hr = poll_for (h, PP_SIGNAL_FOR_REVEAL, &error);
  g_assert_no_error (error);
  g_assert_true (pp_signal_client_code (h, hr, &code_h, &error));
  /* The client computes its code from the same values (after the offer). */
  RUN (pp_signal_client_sdp_async (h, "v=0\r\n", cands, NULL, done_cb, wp_),
       ok = send_done (h, res, &error));
  g_assert_true (ok);
  offer = poll_for (c, PP_SIGNAL_FOR_OFFER, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (offer->offer.sdp, ==, "v=0\r\n");
  g_assert_cmpuint (offer->offer.candidates->len, ==, 1);
  g_assert_true (pp_signal_client_code (c, offer, &code_c, &error));
  g_assert_cmpuint (code_h, ==, code_c);
  RUN (pp_signal_client_sdp_async (c, "v=0\r\nanswer\r\n", NULL, NULL, done_cb, wp_),
       ok = send_done (c, res, &error));
  g_assert_true (ok);
  answer = poll_for (h, PP_SIGNAL_FOR_ANSWER, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (answer->answer.sdp, ==, "v=0\r\nanswer\r\n");
  /* A tampered reveal (a server lying about the client's fingerprint) is caught. */
  hr->client_fp[0] ^= 1;
  g_assert_false (pp_signal_client_code (h, hr, &code_h, &error));
  g_assert_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_BAD_REVEAL);
}

static void
test_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (PpSignalClient) h = host_create (f);
  g_autoptr (PpSignalClient) c1 = pp_signal_client_new (f->base, NULL);
  g_autoptr (PpSignalClient) c2 = pp_signal_client_new (f->base, NULL);
  g_autoptr (PpSignalClient) c3 = pp_signal_client_new (f->base, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PpSignalSession) s = NULL;
  char wrong_pin[PP_SIGNAL_PIN_LEN + 1];
  uint8_t other[32];
  gboolean ok = TRUE;

  memset (other, 0x77, 32);
  pp_signal_pin (other, wrong_pin);
  s = client_join (f, c1, pp_signal_client_get_id (h), wrong_pin, &error);
  g_assert_null (s);
  g_assert_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_PIN_MISMATCH);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "different host"));
  g_clear_error (&error);
  /* The mismatching join did take the seat (the pin is checked after); the
   * next join finds it taken. */
  s = client_join (f, c2, pp_signal_client_get_id (h), NULL, &error);
  g_assert_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_TAKEN);
  g_assert_nonnull (strstr (error->message, "someone else already joined"));
  g_clear_error (&error);
  RUN (pp_signal_client_reject_async (h, NULL, done_cb, wp_), ok = send_done (h, res, &error));
  g_assert_no_error (error);
  g_assert_true (ok);
  s = client_join (f, c2, pp_signal_client_get_id (h), NULL, &error);
  g_assert_no_error (error);
  g_clear_pointer (&s, pp_signal_session_free);
  RUN (pp_signal_client_reject_async (h, NULL, done_cb, wp_), ok = send_done (h, res, &error));
  g_assert_true (ok);
  g_assert_null (poll_for (c2, PP_SIGNAL_FOR_NONCE, &error));
  g_assert_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_DECLINED);
  g_assert_nonnull (strstr (error->message, "declined"));
  g_clear_error (&error);
  f->now += 121000;
  s = client_join (f, c3, pp_signal_client_get_id (h), NULL, &error);
  g_assert_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_EXPIRED);
  g_assert_nonnull (strstr (error->message, "expired"));
}

static void
test_cancel_poll (Fixture *f, gconstpointer data)
{
  g_autoptr (PpSignalClient) h = host_create (f);
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  Wait w = { NULL };

  pp_signal_client_poll_async (h, PP_SIGNAL_FOR_JOIN, cancel, done_cb, &w);
  g_cancellable_cancel (cancel);
  g_assert_null (pp_signal_client_poll_finish (h, wait_result (&w), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_object_unref (w.res);
}

static void
test_unreachable (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *url = NULL;
  g_autoptr (PpSignalClient) c = NULL;
  g_autoptr (PpSignalSession) got = NULL;

  /* A bound socket that never listens: connections are refused. */
  g_assert_true (g_socket_bind (s, any, FALSE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  url = g_strdup_printf ("http://127.0.0.1:%u",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  c = pp_signal_client_new (url, NULL);
  pp_signal_client_set_retry (c, 5, 3);
  pp_signal_client_adopt (c, "AAAAAAAAAAAAAAAAAAAAA", "t", f->fp_h);
  got = poll_for (c, PP_SIGNAL_FOR_JOIN, &error);
  g_assert_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_UNAVAILABLE);
  g_assert_nonnull (strstr (error->message, "unreachable"));
}

static void
test_bad_urls (void)
{
  static const char *const bad[] = {
    "ftp://a/session/AAAAAAAAAAAAAAAAAAAAA", "http://a/other/AAAAAAAAAAAAAAAAAAAAA",
    "http://a/session/short", "not a url",
  };
  char *base = NULL, *id = NULL, *pin = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (pp_signal_parse_join_url (bad[i], &base, &id, &pin, &error));
      g_assert_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_BAD_URL);
    }
  g_assert_true (pp_signal_parse_join_url ("http://10.0.0.1:8080/session/AAAAAAAAAAAAAAAAAAAAA",
                                           &base, &id, &pin, NULL));
  g_assert_cmpstr (base, ==, "http://10.0.0.1:8080");
  g_assert_null (pin);
  g_free (base);
  g_free (id);
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
not_listening (gpointer data)
{
  return !pp_signal_server_is_listening (data);
}

/* Embedded mode: no network creates, no /metrics, listening only while a
 * session is pending; a peer joins over HTTP as with a standalone server. */
static void
test_embedded (void)
{
  PpSignalServerOptions o;
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (PpSignalServer) srv = NULL;
  g_autoptr (PpSignalClient) h = NULL, c = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PpSignalSession) j = NULL, hs = NULL, ha = NULL;
  g_autofree char *base = NULL, *create_url = NULL, *metrics_url = NULL;
  char id[PP_SIGNAL_ID_LEN + 1], token[PP_SIGNAL_TOKEN_LEN + 1];
  uint8_t fp_h[32], fp_c[32];
  gboolean ok = FALSE;
  guint tick;
  Fixture f = { 0 };

  memset (fp_h, 0x3c, 32);
  memset (fp_c, 0xc3, 32);
  pp_signal_server_options_init (&o);
  o.embedded = TRUE;
  o.poll_timeout_ms = 200;
  srv = pp_signal_server_new (&o, pp_signal_store_memory_new ());
  pp_signal_server_options_clear (&o);
  pp_signal_server_set_embedded_address (srv, addr);
  g_assert_false (pp_signal_server_is_listening (srv));
  g_assert_true (pp_signal_server_create_session (srv, "embedded", fp_h, id, token, &error));
  g_assert_no_error (error);
  g_assert_true (pp_signal_server_is_listening (srv));
  base = g_strdup_printf ("http://127.0.0.1:%u", pp_signal_server_get_port (srv));
  {
    g_autoptr (SoupSession) http = pp_http_session_new ();
    g_autoptr (PpHttpReply) r1 = pp_http (http, "POST", create_url = g_strconcat (base,
                                          "/session", NULL), NULL, "{}");
    g_autoptr (PpHttpReply) r2 = pp_http (http, "GET", metrics_url = g_strconcat (base,
                                          "/metrics", NULL), NULL, NULL);

    g_assert_cmpuint (r1->status, ==, 403);
    g_assert_nonnull (strstr (r1->body, "embedded"));
    g_assert_cmpuint (r2->status, ==, 404);
  }
  h = pp_signal_client_new (base, NULL);
  pp_signal_client_adopt (h, id, token, fp_h);
  c = pp_signal_client_new (base, NULL);
  memcpy (f.fp_c, fp_c, 32);
  j = client_join (&f, c, id, NULL, &error);
  g_assert_no_error (error);
  hs = poll_for (h, PP_SIGNAL_FOR_JOIN, &error);
  g_assert_no_error (error);
  RUN (pp_signal_client_nonce_async (h, NULL, done_cb, wp_), ok = send_done (h, res, &error));
  RUN (pp_signal_client_reveal_async (c, NULL, done_cb, wp_), ok = send_done (c, res, &error));
  RUN (pp_signal_client_sdp_async (h, "v=0\r\n", NULL, NULL, done_cb, wp_),
       ok = send_done (h, res, &error));
  RUN (pp_signal_client_sdp_async (c, "v=0\r\n", NULL, NULL, done_cb, wp_),
       ok = send_done (c, res, &error));
  g_assert_no_error (error);
  g_assert_true (ok);
  ha = poll_for (h, PP_SIGNAL_FOR_ANSWER, &error);
  g_assert_no_error (error);
  /* Answered: nothing is pending, the server stops listening. */
  tick = g_timeout_add (20, tick_cb, NULL);
  g_assert_true (pp_test_wait_until (NULL, not_listening, srv, 10000));
  g_source_remove (tick);
}

static gboolean
accept_any_cb (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
               gpointer data)
{
  return TRUE; /* the test's own self-signed certificate */
}

typedef struct
{
  gboolean done;
  guint status;
  char *body;
} TlsReply;

static void
tls_sent_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  TlsReply *r = data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (src), res);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) b = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &error);

  g_assert_no_error (error);
  r->status = soup_message_get_status (msg);
  r->body = g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
  r->done = TRUE;
}

static gboolean
tls_done (gpointer data)
{
  return ((TlsReply *) data)->done;
}

/* --tls-cert/--tls-key: the same API over HTTPS (a throw-away self-signed
 * certificate made with the openssl tool; skipped without it). */
static void
test_https (void)
{
  g_autofree char *openssl = g_find_program_in_path ("openssl");
  g_autofree char *dir = NULL, *cert = NULL, *key = NULL, *url = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsCertificate) tls = NULL;
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (PpSignalServer) srv = NULL;
  g_autoptr (SoupSession) http = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GBytes) body = NULL;
  PpSignalServerOptions o;
  TlsReply r = { 0 };
  int status = -1;

#if defined(__SANITIZE_ADDRESS__)
  /* GnuTLS's threads, still alive at exit, crash LeakSanitizer's tracer
   * ("Tracer caught signal 11"); the gcc run covers this test. */
  g_test_skip ("HTTPS is not tested under ASan (LeakSanitizer vs GnuTLS threads)");
  return;
#endif
  if (openssl == NULL || !g_tls_backend_supports_tls (g_tls_backend_get_default ()))
    {
      g_test_skip ("needs the openssl tool and a GIO TLS backend (glib-networking)");
      return;
    }
  dir = g_dir_make_tmp ("pp-signal-tls-XXXXXX", &error);
  g_assert_no_error (error);
  cert = g_build_filename (dir, "cert.pem", NULL);
  key = g_build_filename (dir, "key.pem", NULL);
  {
    const char *argv[] = { openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt",
                           "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
                           "-days", "1", "-keyout", key, "-out", cert, NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL
                                 | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status,
                                 &error));
    g_assert_no_error (error);
    g_assert_cmpint (status, ==, 0);
  }
  tls = g_tls_certificate_new_from_files (cert, key, &error);
  g_assert_no_error (error);
  pp_signal_server_options_init (&o);
  srv = pp_signal_server_new (&o, pp_signal_store_memory_new ());
  pp_signal_server_options_clear (&o);
  g_assert_true (pp_signal_server_listen (srv, addr, tls, &error));
  url = g_strdup_printf ("https://127.0.0.1:%u/session", pp_signal_server_get_port (srv));
  http = soup_session_new ();
  msg = soup_message_new ("POST", url);
  body = g_bytes_new_static ("{\"host\":\"tls\",\"fingerprint\":\"" FP_HEX "\"}",
                             strlen ("{\"host\":\"tls\",\"fingerprint\":\"" FP_HEX "\"}"));
  soup_message_set_request_body_from_bytes (msg, "application/json", body);
  g_signal_connect (msg, "accept-certificate", G_CALLBACK (accept_any_cb), NULL);
  soup_session_send_and_read_async (http, msg, G_PRIORITY_DEFAULT, NULL, tls_sent_cb, &r);
  g_assert_true (pp_test_wait_until (NULL, tls_done, &r, 20000));
  g_assert_cmpuint (r.status, ==, 201);
  g_assert_nonnull (strstr (r.body, "\"status\":\"waiting\""));
  g_free (r.body);
  g_unlink (cert);
  g_unlink (key);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/signal/integration/client/handshake", Fixture, NULL, fixture_setup,
              test_handshake, fixture_teardown);
  g_test_add ("/signal/integration/client/errors", Fixture, NULL, fixture_setup, test_errors,
              fixture_teardown);
  g_test_add ("/signal/integration/client/cancel-poll", Fixture, NULL, fixture_setup,
              test_cancel_poll, fixture_teardown);
  g_test_add ("/signal/integration/client/unreachable", Fixture, NULL, fixture_setup,
              test_unreachable, fixture_teardown);
  g_test_add_func ("/signal/unit/client/bad-urls", test_bad_urls);
  g_test_add_func ("/signal/integration/client/embedded", test_embedded);
  g_test_add_func ("/signal/integration/client/https", test_https);
  return g_test_run ();
}
