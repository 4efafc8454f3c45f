/* SPDX-License-Identifier: MIT
 *
 * Whole signaling flows over real HTTP on 127.0.0.1: accept, reject then a
 * new join, the reject limit, expiry at each stage (manual clock), concurrent
 * joins (exactly one 200), wrong tokens and roles, out-of-order and replayed
 * signals, a tampered reveal, long polls that wake and time out, and the
 * refusals of bad input.  Each case runs against the memory store, and
 * against Redis shared by two server instances (host on one, client on the
 * other) when redis-server is installed; the test starts and stops Redis.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <hiredis/hiredis.h>

#include "pp-signal-test-http.h"
#include "pp-signal-test-redis.h"
#include "pp-test-utils.h"
#include "signal/pp-signal-json.h"
#include "signal/pp-signal-server.h"

#define FP_H "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

typedef struct
{
  gboolean redis;
} Config;

typedef struct
{
  const Config *cfg;
  PpTestRedis *redis;
  PpSignalServer *a, *b;  /* host talks to a, client to b (the same in memory mode) */
  char *url_a, *url_b;
  SoupSession *http;
  int64_t now;
  /* the session under test */
  char *id, *host_token, *client_token;
  uint8_t fp_c[32], n_c[32];
} Fixture;

static int64_t
manual_clock (gpointer data)
{
  return ((Fixture *) data)->now;
}

static PpSignalServer *
start_server (Fixture *f, char **url, const PpSignalServerOptions *o)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  PpSignalStore *st = f->redis != NULL ? pp_signal_store_redis_new (pp_test_redis_url (f->redis),
                                                                     &error)
                                       : pp_signal_store_memory_new ();
  PpSignalServer *srv;

  g_assert_no_error (error);
  srv = pp_signal_server_new (o, st);
  g_assert_true (pp_signal_server_listen (srv, addr, NULL, &error));
  g_assert_no_error (error);
  *url = g_strdup_printf ("http://127.0.0.1:%u", pp_signal_server_get_port (srv));
  return srv;
}

static gboolean
servers_ready (gpointer data)
{
  Fixture *f = data;

  return pp_signal_server_ready (f->a) && (f->b == NULL || pp_signal_server_ready (f->b));
}

static gboolean
servers_down (gpointer data)
{
  Fixture *f = data;

  return !pp_signal_server_ready (f->a) && !pp_signal_server_ready (f->b);
}

static void
setup_with (Fixture *f, const Config *cfg, void (*tweak) (PpSignalServerOptions *o))
{
  PpSignalServerOptions o;

  f->cfg = cfg;
  f->now = 1700000000000LL;
  if (cfg->redis)
    {
      f->redis = pp_test_redis_start ();
      if (f->redis == NULL)
        {
          g_test_skip ("redis-server is not installed");
          return;
        }
    }
  pp_signal_server_options_init (&o);
  o.clock = manual_clock;
  o.clock_data = f;
  o.poll_timeout_ms = 300;
  o.create_per_s = 0;
  o.join_per_s = 0;
  if (tweak != NULL)
    tweak (&o);
  f->a = start_server (f, &f->url_a, &o);
  if (cfg->redis)
    f->b = start_server (f, &f->url_b, &o);
  else
    f->url_b = g_strdup (f->url_a);
  pp_signal_server_options_clear (&o);
  f->http = pp_http_session_new ();
  memset (f->fp_c, 0x5c, 32);
  memset (f->n_c, 0xc5, 32);
  if (f->redis != NULL)
    {
      g_assert_true (pp_test_wait_until (NULL, servers_ready, f, 10000));
    }
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  setup_with (f, data, NULL);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->http);
  g_clear_pointer (&f->a, pp_signal_server_free);
  g_clear_pointer (&f->b, pp_signal_server_free);
  g_clear_pointer (&f->redis, pp_test_redis_stop);
  g_free (f->url_a);
  g_free (f->url_b);
  g_free (f->id);
  g_free (f->host_token);
  g_free (f->client_token);
  /* Let sources freed above run their destroy notifies. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

#define SKIP_IF_NO_SERVER(f) do { if ((f)->a == NULL) return; } while (0)

/* ---- helpers ----------------------------------------------------------------- */

static char *
url (Fixture *f, gboolean host_side, const char *path)
{
  return g_strdup_printf ("%s%s", host_side ? f->url_a : f->url_b, path);
}

static PpHttpReply *
call (Fixture *f, gboolean host_side, const char *method, const char *path, const char *token,
      const char *body)
{
  g_autofree char *u = url (f, host_side, path);

  return pp_http (f->http, method, u, token, body);
}

static void
assert_error (PpHttpReply *r, guint status, const char *part)
{
  g_autofree char *why = pp_http_json_str (r, "error");

  g_test_message ("%u %s", r->status, r->body ? r->body : "(no body)");
  g_assert_cmpuint (r->status, ==, status);
  g_assert_nonnull (why);
  if (part != NULL)
    g_assert_nonnull (strstr (why, part));
}

static void
create (Fixture *f)
{
  g_clear_pointer (&f->id, g_free);
  g_clear_pointer (&f->host_token, g_free);
  g_autoptr (PpHttpReply) r = call (f, TRUE, "POST", "/session", NULL,
                                    "{\"host\":\"laptop\",\"fingerprint\":\"" FP_H "\"}");
  g_autofree char *status = pp_http_json_str (r, "status");

  g_assert_cmpuint (r->status, ==, 201);
  g_assert_cmpstr (status, ==, "waiting");
  f->id = pp_http_json_str (r, "id");
  f->host_token = pp_http_json_str (r, "token");
  g_assert_true (pp_signal_id_valid (f->id));
  g_assert_nonnull (f->host_token);
}

static char *
join_body (Fixture *f)
{
  uint8_t commit[32];
  char hex[65];

  pp_signal_commit (f->fp_c, f->n_c, commit);
  pp_signal_hex_encode (commit, 32, hex);
  return g_strdup_printf ("{\"client\":\"phone\",\"commit\":\"%s\"}", hex);
}

static guint
join (Fixture *f)
{
  g_autofree char *path = g_strdup_printf ("/session/%s", f->id);
  g_autofree char *body = join_body (f);
  g_autoptr (PpHttpReply) r = call (f, FALSE, "POST", path, NULL, body);

  if (r->status == 200)
    {
      g_autofree char *fp = pp_http_json_str (r, "hostFingerprint");

      g_assert_cmpstr (fp, ==, FP_H);
      g_free (f->client_token);
      f->client_token = pp_http_json_str (r, "token");
    }
  return r->status;
}

static char *
signal_body (Fixture *f, const char *type)
{
  char fp[65], n[65];

  pp_signal_hex_encode (f->fp_c, 32, fp);
  pp_signal_hex_encode (f->n_c, 32, n);
  if (strcmp (type, "nonce") == 0)
    return g_strdup_printf ("{\"type\":\"nonce\",\"nonce\":\"%s\"}", FP_H);
  if (strcmp (type, "reveal") == 0)
    return g_strdup_printf ("{\"type\":\"reveal\",\"fingerprint\":\"%s\",\"nonce\":\"%s\"}", fp,
                            n);
  return g_strdup_printf ("{\"type\":\"%s\",\"sdp\":\"v=0\\r\\n\",\"candidate\":"
                          "[\"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host\"]}", type);
}

static guint
send_as (Fixture *f, gboolean host_side, const char *token, const char *type)
{
  g_autofree char *path = g_strdup_printf ("/session/%s/signal", f->id);
  g_autofree char *body = signal_body (f, type);
  g_autoptr (PpHttpReply) r = call (f, host_side, "PUT", path, token, body);

  if (r->status != 204)
    assert_error (r, r->status, NULL);
  return r->status;
}

static PpHttpReply *
poll (Fixture *f, gboolean host_side, const char *token, const char *what)
{
  g_autofree char *path = g_strdup_printf ("/session/%s?for=%s", f->id, what);

  return call (f, host_side, "GET", path, token, NULL);
}

static PpHttpReply *
poll_start (Fixture *f, gboolean host_side, const char *token, const char *what)
{
  g_autofree char *path = g_strdup_printf ("/session/%s?for=%s", f->id, what);
  g_autofree char *u = url (f, host_side, path);

  return pp_http_start (f->http, "GET", u, token, NULL);
}

static void
assert_status (PpHttpReply *r, const char *status)
{
  g_autofree char *s = pp_http_json_str (r, "status");

  g_assert_cmpuint (r->status, ==, 200);
  g_assert_cmpstr (s, ==, status);
}

/* ---- flows ------------------------------------------------------------------- */

static void
test_accept (Fixture *f, gconstpointer data)
{
  g_autoptr (PpHttpReply) p1 = NULL, p2 = NULL, p3 = NULL, p4 = NULL, p5 = NULL;

  SKIP_IF_NO_SERVER (f);
  create (f);
  g_assert_cmpuint (join (f), ==, 200);
  p1 = poll (f, TRUE, f->host_token, "join");
  assert_status (p1, "joined");
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "nonce"), ==, 204);
  p2 = poll (f, FALSE, f->client_token, "nonce");
  assert_status (p2, "nonce");
  g_assert_cmpuint (send_as (f, FALSE, f->client_token, "reveal"), ==, 204);
  p3 = poll (f, TRUE, f->host_token, "reveal");
  assert_status (p3, "revealed");
  g_assert_nonnull (strstr (p3->body, "\"clientFingerprint\""));
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "offer"), ==, 204);
  p4 = poll (f, FALSE, f->client_token, "offer");
  assert_status (p4, "offered");
  g_assert_nonnull (strstr (p4->body, "candidate:1 1 udp"));
  g_assert_cmpuint (send_as (f, FALSE, f->client_token, "answer"), ==, 204);
  p5 = poll (f, TRUE, f->host_token, "answer");
  assert_status (p5, "answered");
  /* Consumed: replays and late joins are refused. */
  g_assert_cmpuint (send_as (f, FALSE, f->client_token, "answer"), ==, 409);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "offer"), ==, 409);
  g_assert_cmpuint (join (f), ==, 409);
}

static void
test_long_poll_wakes (Fixture *f, gconstpointer data)
{
  g_autoptr (PpHttpReply) p = NULL, q = NULL;

  SKIP_IF_NO_SERVER (f);
  create (f);
  p = poll_start (f, TRUE, f->host_token, "join");
  /* It must still be waiting: nothing happened yet (the 300 ms timer may not
   * have fired; an unready poll that answered at once would show status). */
  g_assert_cmpuint (join (f), ==, 200);
  g_assert_true (pp_http_wait (p, 10000));
  assert_status (p, "joined");
  q = poll (f, TRUE, f->host_token, "reveal"); /* times out: answers unchanged */
  assert_status (q, "joined");
}

static void
test_reject_then_new_join (Fixture *f, gconstpointer data)
{
  g_autofree char *first = NULL;
  g_autofree char *path = NULL;
  g_autoptr (PpHttpReply) waiting = NULL, gone = NULL, del = NULL, p = NULL;

  SKIP_IF_NO_SERVER (f);
  create (f);
  path = g_strdup_printf ("/session/%s", f->id);
  g_assert_cmpuint (join (f), ==, 200);
  first = g_strdup (f->client_token);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "nonce"), ==, 204);
  g_assert_cmpuint (send_as (f, FALSE, first, "reveal"), ==, 204);
  waiting = poll_start (f, FALSE, first, "offer");
  del = call (f, TRUE, "DELETE", path, f->host_token, NULL);
  g_assert_cmpuint (del->status, ==, 204);
  g_assert_true (pp_http_wait (waiting, 10000));
  assert_error (waiting, 410, "declined");
  gone = poll (f, FALSE, first, "offer");
  assert_error (gone, 410, "declined");
  g_assert_cmpuint (send_as (f, FALSE, first, "answer"), ==, 410);
  /* Back to waiting: a new client joins and is accepted. */
  p = poll (f, TRUE, f->host_token, "reveal");
  assert_status (p, "waiting");
  g_assert_null (strstr (p->body, "\"client\""));
  f->n_c[0] ^= 1;
  g_assert_cmpuint (join (f), ==, 200);
  g_assert_cmpstr (f->client_token, !=, first);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "nonce"), ==, 204);
  g_assert_cmpuint (send_as (f, FALSE, f->client_token, "reveal"), ==, 204);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "offer"), ==, 204);
  g_assert_cmpuint (send_as (f, FALSE, f->client_token, "answer"), ==, 204);
}

static void
test_reject_limit (Fixture *f, gconstpointer data)
{
  g_autofree char *path = NULL;

  SKIP_IF_NO_SERVER (f);
  create (f);
  path = g_strdup_printf ("/session/%s", f->id);
  for (guint i = 0; i <= PP_SIGNAL_MAX_REJECTS; i++)
    {
      g_autoptr (PpHttpReply) del = NULL;

      g_assert_cmpuint (join (f), ==, 200);
      del = call (f, TRUE, "DELETE", path, f->host_token, NULL);
      g_assert_cmpuint (del->status, ==, 204);
    }
  /* The fourth decline ended the session. */
  g_assert_cmpuint (join (f), ==, 404);
}

static void
test_cancel (Fixture *f, gconstpointer data)
{
  g_autofree char *path = NULL;
  g_autoptr (PpHttpReply) bad = NULL, del = NULL, p = NULL;

  SKIP_IF_NO_SERVER (f);
  create (f);
  path = g_strdup_printf ("/session/%s", f->id);
  bad = call (f, TRUE, "DELETE", path, "not-the-token", NULL);
  assert_error (bad, 401, "token");
  del = call (f, TRUE, "DELETE", path, f->host_token, NULL);
  g_assert_cmpuint (del->status, ==, 204);
  p = poll (f, TRUE, f->host_token, "join");
  assert_error (p, 404, "no such session");
}

/* Expiry: the manual clock passes each stage's TTL. */
static void
test_expiry (Fixture *f, gconstpointer data)
{
  static const char *const stages[] = { "waiting", "joined", "nonce", "revealed", "offered" };

  SKIP_IF_NO_SERVER (f);
  for (guint stage = 0; stage < G_N_ELEMENTS (stages); stage++)
    {
      g_autoptr (PpHttpReply) p = NULL;
      int64_t ttl = stage == 0 ? 120000 : stage < 4 ? 60000 : 30000;

      g_clear_pointer (&f->id, g_free);
      g_clear_pointer (&f->host_token, g_free);
      create (f);
      if (stage >= 1)
        g_assert_cmpuint (join (f), ==, 200);
      if (stage >= 2)
        g_assert_cmpuint (send_as (f, TRUE, f->host_token, "nonce"), ==, 204);
      if (stage >= 3)
        g_assert_cmpuint (send_as (f, FALSE, f->client_token, "reveal"), ==, 204);
      if (stage >= 4)
        g_assert_cmpuint (send_as (f, TRUE, f->host_token, "offer"), ==, 204);
      f->now += ttl - 1;
      p = poll (f, TRUE, f->host_token, "answer");
      assert_status (p, stages[stage]);
      f->now += 1;
      g_clear_pointer (&p, pp_http_reply_free);
      p = poll (f, TRUE, f->host_token, "answer");
      assert_error (p, 404, "expired");
      g_test_message ("stage %s expires after %" G_GINT64_FORMAT " ms", stages[stage], ttl);
    }
}

static void
test_concurrent_joins (Fixture *f, gconstpointer data)
{
  enum { N = 16 };
  PpHttpReply *r[N];
  g_autofree char *path = NULL;
  g_autofree char *body = NULL;
  guint ok = 0, conflict = 0;

  SKIP_IF_NO_SERVER (f);
  create (f);
  path = g_strdup_printf ("/session/%s", f->id);
  body = join_body (f);
  for (guint i = 0; i < N; i++)
    {
      g_autofree char *u = url (f, i % 2 == 0, path); /* both instances in Redis mode */

      r[i] = pp_http_start (f->http, "POST", u, NULL, body);
    }
  g_assert_true (pp_http_wait_all (r, N, 20000));
  for (guint i = 0; i < N; i++)
    {
      ok += r[i]->status == 200;
      conflict += r[i]->status == 409;
      pp_http_reply_free (r[i]);
    }
  g_assert_cmpuint (ok, ==, 1);
  g_assert_cmpuint (conflict, ==, N - 1);
}

static void
test_tokens_and_roles (Fixture *f, gconstpointer data)
{
  g_autoptr (PpHttpReply) p1 = NULL, p2 = NULL, p3 = NULL, p4 = NULL;

  SKIP_IF_NO_SERVER (f);
  create (f);
  p1 = poll (f, TRUE, NULL, "join");
  assert_error (p1, 401, "Authorization");
  p2 = poll (f, TRUE, "guess", "join");
  assert_error (p2, 401, "token");
  g_assert_cmpuint (join (f), ==, 200);
  /* Wrong role: each may send only its own signals and poll its own events. */
  g_assert_cmpuint (send_as (f, FALSE, f->client_token, "nonce"), ==, 409);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "reveal"), ==, 409);
  p3 = poll (f, TRUE, f->host_token, "offer");
  assert_error (p3, 409, "client");
  p4 = poll (f, FALSE, f->client_token, "join");
  assert_error (p4, 409, "host");
  /* Out of order. */
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "offer"), ==, 409);
  g_assert_cmpuint (send_as (f, FALSE, f->client_token, "answer"), ==, 409);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "nonce"), ==, 204);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "nonce"), ==, 409);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "offer"), ==, 409);
}

static void
test_tampered_reveal (Fixture *f, gconstpointer data)
{
  SKIP_IF_NO_SERVER (f);
  create (f);
  g_assert_cmpuint (join (f), ==, 200);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "nonce"), ==, 204);
  f->fp_c[31] ^= 0x01; /* reveal a different fingerprint than committed */
  g_assert_cmpuint (send_as (f, FALSE, f->client_token, "reveal"), ==, 409);
  g_assert_cmpuint (send_as (f, TRUE, f->host_token, "offer"), ==, 409);
  f->fp_c[31] ^= 0x01;
  g_assert_cmpuint (send_as (f, FALSE, f->client_token, "reveal"), ==, 204);
}

typedef struct
{
  const char *method, *path, *token, *body;
  guint status;
  const char *part;
} BadCase;

static void
test_bad_input (Fixture *f, gconstpointer data)
{
  g_autofree char *big = NULL;
  g_autofree char *sig = NULL, *sess = NULL;
  BadCase cases[] = {
    { "POST", "/session", NULL, "", 400, "empty" },
    { "POST", "/session", NULL, "{\"host\":", 400, "not valid JSON" },
    { "POST", "/session", NULL, "[]", 400, "object" },
    { "POST", "/session", NULL, "{\"host\":\"a\\u0007b\",\"fingerprint\":\"" FP_H "\"}", 400,
      "printable" },
    { "POST", "/session", NULL, "{\"host\":\"a\",\"fingerprint\":\"00\"}", 400, "fingerprint" },
    { "GET", "/session", NULL, NULL, 405, "POST" },
    { "GET", "/nope", NULL, NULL, 404, "unknown path" },
    { "GET", "/session/short", "x", NULL, 404, "21 characters" },
    { "GET", "/session/AAAAAAAAAAAAAAAAAAAAA/other", "x", NULL, 404, "unknown path" },
    { "POST", "/session/AAAAAAAAAAAAAAAAAAAAA", NULL, "{}", 400, "client" },
    { "GET", "/session/AAAAAAAAAAAAAAAAAAAAA?for=join", "x", NULL, 404, "no such session" },
    { "PATCH", "/session/AAAAAAAAAAAAAAAAAAAAA", "x", NULL, 405, "GET" },
    { "GET", NULL, NULL, NULL, 400, "\"for\"" },
    { "PUT", NULL, NULL, "{\"type\":\"offer\"}", 400, "sdp" },
    { "PUT", NULL, NULL, "{\"type\":\"nonsense\"}", 400, "type" },
  };

  SKIP_IF_NO_SERVER (f);
  create (f);
  big = g_strnfill (PP_SIGNAL_BODY_MAX + 1, 'x');
  sess = g_strdup_printf ("/session/%s?for=", f->id);
  sig = g_strdup_printf ("/session/%s/signal", f->id);
  cases[12].path = sess;
  cases[12].token = f->host_token;
  for (guint i = 13; i < G_N_ELEMENTS (cases); i++)
    {
      cases[i].path = sig;
      cases[i].token = f->host_token;
    }
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (PpHttpReply) r = call (f, TRUE, cases[i].method, cases[i].path, cases[i].token,
                                        cases[i].body);

      g_test_message ("case %u: %s %s", i, cases[i].method, cases[i].path);
      assert_error (r, cases[i].status, cases[i].part);
    }
  /* None of it disturbed the session. */
  g_assert_cmpuint (join (f), ==, 200);
}

/* A declared body over 64 KiB is refused from its headers, before any of it
 * is read; a request that dribbles in is cut off at the request timeout. */
static void
test_oversize_and_slowloris (Fixture *f, gconstpointer data)
{
  g_autofree char *resp = NULL, *slow = NULL;
  gboolean closed = FALSE;

  SKIP_IF_NO_SERVER (f);
  resp = pp_raw_exchange (pp_signal_server_get_port (f->a),
                          "POST /session HTTP/1.1\r\nHost: x\r\nContent-Length: 70000\r\n"
                          "Content-Type: application/json\r\n\r\n{", 10000, &closed);
  g_test_message ("%s", resp);
  g_assert_true (g_str_has_prefix (resp, "HTTP/1.1 413"));
  g_assert_nonnull (strstr (resp, "64 KiB"));
  slow = pp_raw_exchange (pp_signal_server_get_port (f->a),
                          "POST /session HTTP/1.1\r\nHost: x\r\nX-Slow: 1", 10000, &closed);
  g_assert_true (closed);
  g_assert_cmpstr (slow, ==, "");
  /* The server still serves everyone else. */
  create (f);
}

static void
tweak_timeouts (PpSignalServerOptions *o)
{
  o->request_timeout_ms = 200;
}

static void
timeouts_setup (Fixture *f, gconstpointer data)
{
  setup_with (f, data, tweak_timeouts);
}

static void
tweak_proxy (PpSignalServerOptions *o)
{
  o->create_per_s = 0.001;
  o->create_burst = 1;
  g_assert_true (pp_signal_server_options_add_proxy (o, "127.0.0.0/8", NULL));
}

static void
proxy_setup (Fixture *f, gconstpointer data)
{
  setup_with (f, data, tweak_proxy);
}

static void
tweak_no_proxy (PpSignalServerOptions *o)
{
  o->create_per_s = 0.001;
  o->create_burst = 1;
}

static void
no_proxy_setup (Fixture *f, gconstpointer data)
{
  setup_with (f, data, tweak_no_proxy);
}

static guint
create_via (Fixture *f, const char *xff)
{
  static const char body[] = "{\"host\":\"laptop\",\"fingerprint\":\"" FP_H "\"}";
  g_autofree char *req = g_strdup_printf ("POST /session HTTP/1.1\r\nHost: x\r\n"
                                          "X-Forwarded-For: %s\r\nConnection: close\r\n"
                                          "Content-Length: %zu\r\n\r\n%s", xff,
                                          strlen (body), body);
  gboolean closed = FALSE;
  g_autofree char *resp = pp_raw_exchange (pp_signal_server_get_port (f->a), req, 10000,
                                           &closed);
  guint status = 0;

  sscanf (resp, "HTTP/1.1 %u", &status);
  return status;
}

/* X-Forwarded-For counts only from a trusted proxy (here: loopback). */
static void
test_trusted_proxy (Fixture *f, gconstpointer data)
{
  SKIP_IF_NO_SERVER (f);
  g_assert_cmpuint (create_via (f, "192.0.2.1"), ==, 201);
  g_assert_cmpuint (create_via (f, "198.51.100.7, 192.0.2.2"), ==, 201);
  g_assert_cmpuint (create_via (f, "192.0.2.1"), ==, 429);
}

/* Without --trusted-proxy the header is ignored: everyone is 127.0.0.1. */
static void
test_untrusted_proxy (Fixture *f, gconstpointer data)
{
  SKIP_IF_NO_SERVER (f);
  g_assert_cmpuint (create_via (f, "192.0.2.1"), ==, 201);
  g_assert_cmpuint (create_via (f, "192.0.2.2"), ==, 429);
}

static void
tweak_limits (PpSignalServerOptions *o)
{
  o->create_per_s = 0.001;
  o->create_burst = 3;
  o->max_polls_per_session = 2;
}

static void
limits_setup (Fixture *f, gconstpointer data)
{
  setup_with (f, data, tweak_limits);
}

static void
test_limits (Fixture *f, gconstpointer data)
{
  g_autoptr (PpHttpReply) over = NULL;
  PpHttpReply *polls[3];
  guint refused = 0;

  SKIP_IF_NO_SERVER (f);
  create (f);
  create (f);
  create (f);
  over = call (f, TRUE, "POST", "/session", NULL,
               "{\"host\":\"laptop\",\"fingerprint\":\"" FP_H "\"}");
  assert_error (over, 429, "too many create");
  /* Three polls on one session, two allowed: whichever arrives last is refused. */
  for (guint i = 0; i < 3; i++)
    polls[i] = poll_start (f, TRUE, f->host_token, "join");
  g_assert_true (pp_http_wait_all (polls, 3, 10000));
  for (guint i = 0; i < 3; i++)
    {
      if (polls[i]->status == 429)
        {
          assert_error (polls[i], 429, "long polls");
          refused++;
        }
      else
        assert_status (polls[i], "waiting");
      pp_http_reply_free (polls[i]);
    }
  g_assert_cmpuint (refused, ==, 1);
}

static void
tweak_session_cap (PpSignalServerOptions *o)
{
  o->max_sessions = 2;
}

static void
session_cap_setup (Fixture *f, gconstpointer data)
{
  setup_with (f, data, tweak_session_cap);
}

/* The cap holds with either store (with Redis: per instance). */
static void
test_session_cap (Fixture *f, gconstpointer data)
{
  g_autoptr (PpHttpReply) over = NULL;

  SKIP_IF_NO_SERVER (f);
  create (f);
  create (f);
  over = call (f, TRUE, "POST", "/session", NULL,
               "{\"host\":\"laptop\",\"fingerprint\":\"" FP_H "\"}");
  assert_error (over, 503, "too many sessions");
}

static void
test_cors_health_metrics (Fixture *f, gconstpointer data)
{
  g_autoptr (PpHttpReply) opt = NULL, h = NULL, m = NULL;

  SKIP_IF_NO_SERVER (f);
  opt = call (f, TRUE, "OPTIONS", "/session", NULL, NULL);
  g_assert_cmpuint (opt->status, ==, 204);
  g_assert_cmpstr (soup_message_headers_get_one (soup_message_get_response_headers (opt->msg),
                                                 "Access-Control-Allow-Origin"), ==, "*");
  g_assert_nonnull (strstr (soup_message_headers_get_one (
                              soup_message_get_response_headers (opt->msg),
                              "Access-Control-Allow-Headers"), "Authorization"));
  h = call (f, TRUE, "GET", "/healthz", NULL, NULL);
  g_assert_cmpuint (h->status, ==, 200);
  create (f);
  m = call (f, TRUE, "GET", "/metrics", NULL, NULL);
  g_assert_cmpuint (m->status, ==, 200);
  g_assert_nonnull (strstr (m->body, "peerport_signal_requests_total{code=\"201\"} 1"));
  g_assert_nonnull (strstr (m->body, "peerport_signal_long_polls "));
  g_assert_nonnull (strstr (m->body, "peerport_signal_store_errors_total 0"));
  if (!f->cfg->redis)
    g_assert_nonnull (strstr (m->body, "peerport_signal_sessions{status=\"waiting\"} 1"));
}

/* Redis goes away: every call is a 503 that says so, nobody crashes, and the
 * servers recover on their own when Redis returns (empty: it kept nothing). */
static void
test_redis_outage (Fixture *f, gconstpointer data)
{
  g_autoptr (PpHttpReply) down = NULL, health = NULL, poll_down = NULL, up = NULL;
  g_autofree char *path = NULL;

  SKIP_IF_NO_SERVER (f);
  create (f);
  pp_test_redis_kill (f->redis);
  g_assert_true (pp_test_wait_until (NULL, servers_down, f, 10000));
  down = call (f, TRUE, "POST", "/session", NULL,
               "{\"host\":\"laptop\",\"fingerprint\":\"" FP_H "\"}");
  assert_error (down, 503, "unavailable");
  poll_down = poll (f, FALSE, f->host_token, "join");
  assert_error (poll_down, 503, "Redis");
  health = call (f, FALSE, "GET", "/healthz", NULL, NULL);
  g_assert_cmpuint (health->status, ==, 503);
  g_assert_true (pp_test_redis_restart (f->redis));
  g_assert_true (pp_test_wait_until (NULL, servers_ready, f, 20000));
  create (f);
  g_assert_cmpuint (join (f), ==, 200);
  path = g_strdup_printf ("/session/%s?for=join", f->id);
  up = call (f, TRUE, "GET", path, f->host_token, NULL);
  assert_status (up, "joined");
}

/* What Redis holds: one key per session with a TTL, token hashes but never
 * the tokens themselves. */
static void
test_redis_keys (Fixture *f, gconstpointer data)
{
  g_autoptr (GUri) uri = NULL;
  redisContext *rc;
  redisReply *value, *ttl;
  g_autofree char *key = NULL;
  char hash[65];

  SKIP_IF_NO_SERVER (f);
  create (f);
  g_assert_cmpuint (join (f), ==, 200);
  uri = g_uri_parse (pp_test_redis_url (f->redis), G_URI_FLAGS_NONE, NULL);
  rc = redisConnect ("127.0.0.1", g_uri_get_port (uri));
  g_assert_true (rc != NULL && rc->err == 0);
  key = g_strdup_printf ("pp:s:%s", f->id);
  value = redisCommand (rc, "GET %s", key);
  ttl = redisCommand (rc, "PTTL %s", key);
  g_assert_cmpint (value->type, ==, REDIS_REPLY_STRING);
  g_assert_cmpint (ttl->type, ==, REDIS_REPLY_INTEGER);
  g_assert_cmpint (ttl->integer, >, 0);
  g_assert_cmpint (ttl->integer, <=, 60000); /* joined: 60 s to decide */
  g_assert_null (strstr (value->str, f->host_token));
  g_assert_null (strstr (value->str, f->client_token));
  pp_signal_token_hash (f->host_token, hash);
  g_assert_nonnull (strstr (value->str, hash));
  freeReplyObject (value);
  freeReplyObject (ttl);
  redisFree (rc);
}

int
main (int argc, char **argv)
{
  static const Config memory = { FALSE }, redis = { TRUE };
  static const struct { const char *name; const Config *cfg; } modes[] = {
    { "memory", &memory }, { "redis", &redis },
  };
  static const struct { const char *name; void (*fn) (Fixture *, gconstpointer); } flows[] = {
    { "accept", test_accept },
    { "long-poll-wakes", test_long_poll_wakes },
    { "reject-then-new-join", test_reject_then_new_join },
    { "reject-limit", test_reject_limit },
    { "cancel", test_cancel },
    { "expiry", test_expiry },
    { "concurrent-joins", test_concurrent_joins },
    { "tokens-and-roles", test_tokens_and_roles },
    { "tampered-reveal", test_tampered_reveal },
    { "bad-input", test_bad_input },
    { "cors-health-metrics", test_cors_health_metrics },
  };

  g_test_init (&argc, &argv, NULL);
  for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
    {
      g_autofree char *lp = g_strdup_printf ("/signal/integration/%s/limits", modes[m].name);

      for (guint i = 0; i < G_N_ELEMENTS (flows); i++)
        {
          g_autofree char *p = g_strdup_printf ("/signal/integration/%s/%s", modes[m].name,
                                                flows[i].name);

          g_test_add (p, Fixture, modes[m].cfg, fixture_setup, flows[i].fn, fixture_teardown);
        }
      g_test_add (lp, Fixture, modes[m].cfg, limits_setup, test_limits, fixture_teardown);
      g_free (lp);
      lp = g_strdup_printf ("/signal/integration/%s/session-cap", modes[m].name);
      g_test_add (lp, Fixture, modes[m].cfg, session_cap_setup, test_session_cap,
                  fixture_teardown);
      g_free (lp);
      lp = g_strdup_printf ("/signal/integration/%s/oversize-and-slowloris", modes[m].name);
      g_test_add (lp, Fixture, modes[m].cfg, timeouts_setup, test_oversize_and_slowloris,
                  fixture_teardown);
    }
  g_test_add ("/signal/integration/redis/outage", Fixture, &redis, fixture_setup,
              test_redis_outage, fixture_teardown);
  g_test_add ("/signal/integration/redis/keys", Fixture, &redis, fixture_setup, test_redis_keys,
              fixture_teardown);
  g_test_add ("/signal/integration/memory/trusted-proxy", Fixture, &memory, proxy_setup,
              test_trusted_proxy, fixture_teardown);
  g_test_add ("/signal/integration/memory/untrusted-proxy", Fixture, &memory, no_proxy_setup,
              test_untrusted_proxy, fixture_teardown);
  return g_test_run ();
}
