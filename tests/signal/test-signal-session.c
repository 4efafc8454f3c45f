/* SPDX-License-Identifier: MIT
 *
 * Unit tests for pp-signal-session and pp-signal-json: the whole state
 * machine with a manual clock (accept, reject and rejoin, the reject limit,
 * expiry, wrong roles, out-of-order and replayed signals, a tampered reveal),
 * request parsing with its reasons, and the store/view round trips.
 */
#include <string.h>

#include <glib.h>

#include "signal/pp-signal-json.h"

#define T0 1700000000000LL

typedef struct
{
  PpSignalSession *s;
  char host_hash[65], client_hash[65];
  uint8_t fp_c[32], n_c[32];
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  uint8_t fp_h[32];

  memset (fp_h, 0x11, 32);
  pp_signal_token_hash ("host-token", f->host_hash);
  pp_signal_token_hash ("client-token", f->client_hash);
  f->s = pp_signal_session_new ("AAAAAAAAAAAAAAAAAAAAA", "laptop", fp_h, f->host_hash, T0,
                                &pp_signal_ttl_default);
  memset (f->fp_c, 0x22, 32);
  memset (f->n_c, 0x33, 32);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  pp_signal_session_free (f->s);
}

static PpSignalVerdict
join (Fixture *f, const char *token_hash)
{
  uint8_t commit[32];
  const char *why = NULL;

  pp_signal_commit (f->fp_c, f->n_c, commit);
  return pp_signal_session_join (f->s, "phone", commit, token_hash, T0 + 1000,
                                 &pp_signal_ttl_default, &why);
}

static PpSignalVerdict
send (Fixture *f, PpSignalRole role, PpSignalMsgType type)
{
  PpSignalMsg m = { .type = type };
  const char *why = NULL;
  PpSignalVerdict v;

  memset (m.nonce, 0x44, 32);
  if (type == PP_SIGNAL_MSG_REVEAL)
    {
      memcpy (m.fingerprint, f->fp_c, 32);
      memcpy (m.nonce, f->n_c, 32);
    }
  if (type == PP_SIGNAL_MSG_OFFER || type == PP_SIGNAL_MSG_ANSWER)
    {
      m.sdp.sdp = g_strdup ("v=0\r\n");
      m.sdp.candidates = g_ptr_array_new_with_free_func (g_free);
    }
  v = pp_signal_session_apply (f->s, role, &m, T0 + 2000, &pp_signal_ttl_default, &why);
  if (v != PP_SIGNAL_OK)
    g_assert_nonnull (why);
  pp_signal_msg_clear (&m);
  return v;
}

static void
test_accept_flow (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (pp_signal_session_role (f->s, f->host_hash), ==, PP_SIGNAL_ROLE_HOST);
  g_assert_cmpint (pp_signal_session_role (f->s, f->client_hash), ==, PP_SIGNAL_ROLE_NONE);
  g_assert_false (pp_signal_session_ready (f->s, PP_SIGNAL_FOR_JOIN));
  g_assert_cmpint (join (f, f->client_hash), ==, PP_SIGNAL_OK);
  g_assert_cmpint (pp_signal_session_role (f->s, f->client_hash), ==, PP_SIGNAL_ROLE_CLIENT);
  g_assert_true (pp_signal_session_ready (f->s, PP_SIGNAL_FOR_JOIN));
  g_assert_cmpint (f->s->expires_ms, ==, T0 + 1000 + 60000);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_NONCE), ==, PP_SIGNAL_OK);
  g_assert_true (pp_signal_session_ready (f->s, PP_SIGNAL_FOR_NONCE));
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_REVEAL), ==, PP_SIGNAL_OK);
  g_assert_true (pp_signal_session_ready (f->s, PP_SIGNAL_FOR_REVEAL));
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_OFFER), ==, PP_SIGNAL_OK);
  g_assert_cmpint (f->s->expires_ms, ==, T0 + 2000 + 30000);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_ANSWER), ==, PP_SIGNAL_OK);
  g_assert_cmpint (f->s->status, ==, PP_SIGNAL_ANSWERED);
  /* Consumed: replays and a second join are refused. */
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_ANSWER), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_OFFER), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (join (f, f->client_hash), ==, PP_SIGNAL_CONFLICT);
}

static void
test_wrong_role_and_order (Fixture *f, gconstpointer data)
{
  /* Before a join nothing but the join is possible. */
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_NONCE), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_OFFER), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_NONE, PP_SIGNAL_MSG_ANSWER), ==,
                   PP_SIGNAL_UNAUTHORIZED);
  g_assert_cmpint (join (f, f->client_hash), ==, PP_SIGNAL_OK);
  g_assert_cmpint (join (f, f->host_hash), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_NONCE), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_REVEAL), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_OFFER), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_NONCE), ==, PP_SIGNAL_OK);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_NONCE), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_REVEAL), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_ANSWER), ==, PP_SIGNAL_CONFLICT);
}

static void
test_tampered_reveal (Fixture *f, gconstpointer data)
{
  g_assert_cmpint (join (f, f->client_hash), ==, PP_SIGNAL_OK);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_NONCE), ==, PP_SIGNAL_OK);
  f->fp_c[7] ^= 1;
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_REVEAL), ==, PP_SIGNAL_CONFLICT);
  g_assert_cmpint (f->s->status, ==, PP_SIGNAL_NONCE);
  f->fp_c[7] ^= 1;
  f->n_c[0] ^= 0x80;
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_REVEAL), ==, PP_SIGNAL_CONFLICT);
  f->n_c[0] ^= 0x80;
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_REVEAL), ==, PP_SIGNAL_OK);
}

static void
test_reject_limit (Fixture *f, gconstpointer data)
{
  char hashes[4][65];
  gboolean cancelled = TRUE;
  const char *why = NULL;

  for (guint i = 0; i < PP_SIGNAL_MAX_REJECTS; i++)
    {
      g_autofree char *tok = g_strdup_printf ("client-%u", i);

      pp_signal_token_hash (tok, hashes[i]);
      g_assert_cmpint (join (f, hashes[i]), ==, PP_SIGNAL_OK);
      g_assert_cmpint (pp_signal_session_reject (f->s, PP_SIGNAL_ROLE_CLIENT, T0,
                                                 &pp_signal_ttl_default, &cancelled, &why),
                       ==, PP_SIGNAL_CONFLICT);
      g_assert_cmpint (pp_signal_session_reject (f->s, PP_SIGNAL_ROLE_HOST, T0 + 5000,
                                                 &pp_signal_ttl_default, &cancelled, &why),
                       ==, PP_SIGNAL_OK);
      g_assert_false (cancelled);
      g_assert_cmpint (f->s->status, ==, PP_SIGNAL_WAITING);
      g_assert_null (f->s->client);
      g_assert_cmpint (pp_signal_session_role (f->s, hashes[i]), ==, PP_SIGNAL_ROLE_REJECTED);
      g_assert_cmpint (pp_signal_session_may_poll (PP_SIGNAL_ROLE_REJECTED, PP_SIGNAL_FOR_OFFER,
                                                   &why), ==, PP_SIGNAL_GONE);
    }
  pp_signal_token_hash ("client-last", hashes[3]);
  g_assert_cmpint (join (f, hashes[3]), ==, PP_SIGNAL_OK);
  g_assert_cmpint (pp_signal_session_reject (f->s, PP_SIGNAL_ROLE_HOST, T0, &pp_signal_ttl_default,
                                             &cancelled, &why), ==, PP_SIGNAL_OK);
  g_assert_true (cancelled);
}

static void
test_cancel_waiting (Fixture *f, gconstpointer data)
{
  gboolean cancelled = FALSE;
  const char *why = NULL;

  g_assert_cmpint (pp_signal_session_reject (f->s, PP_SIGNAL_ROLE_NONE, T0, &pp_signal_ttl_default,
                                             &cancelled, &why), ==, PP_SIGNAL_UNAUTHORIZED);
  g_assert_cmpint (pp_signal_session_reject (f->s, PP_SIGNAL_ROLE_HOST, T0, &pp_signal_ttl_default,
                                             &cancelled, &why), ==, PP_SIGNAL_OK);
  g_assert_true (cancelled);
}

static void
test_expiry (Fixture *f, gconstpointer data)
{
  g_assert_false (pp_signal_session_expired (f->s, T0 + 119999));
  g_assert_true (pp_signal_session_expired (f->s, T0 + 120000));
  g_assert_cmpint (join (f, f->client_hash), ==, PP_SIGNAL_OK);
  g_assert_false (pp_signal_session_expired (f->s, T0 + 1000 + 59999));
  g_assert_true (pp_signal_session_expired (f->s, T0 + 1000 + 60000));
}

static void
test_poll_roles (void)
{
  static const struct { PpSignalRole role; PpSignalFor f; PpSignalVerdict v; } cases[] = {
    { PP_SIGNAL_ROLE_HOST, PP_SIGNAL_FOR_JOIN, PP_SIGNAL_OK },
    { PP_SIGNAL_ROLE_HOST, PP_SIGNAL_FOR_REVEAL, PP_SIGNAL_OK },
    { PP_SIGNAL_ROLE_HOST, PP_SIGNAL_FOR_ANSWER, PP_SIGNAL_OK },
    { PP_SIGNAL_ROLE_HOST, PP_SIGNAL_FOR_OFFER, PP_SIGNAL_CONFLICT },
    { PP_SIGNAL_ROLE_HOST, PP_SIGNAL_FOR_NONCE, PP_SIGNAL_CONFLICT },
    { PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_FOR_NONCE, PP_SIGNAL_OK },
    { PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_FOR_OFFER, PP_SIGNAL_OK },
    { PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_FOR_JOIN, PP_SIGNAL_CONFLICT },
    { PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_FOR_ANSWER, PP_SIGNAL_CONFLICT },
    { PP_SIGNAL_ROLE_NONE, PP_SIGNAL_FOR_JOIN, PP_SIGNAL_UNAUTHORIZED },
    { PP_SIGNAL_ROLE_REJECTED, PP_SIGNAL_FOR_NONCE, PP_SIGNAL_GONE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *why = NULL;

      g_assert_cmpint (pp_signal_session_may_poll (cases[i].role, cases[i].f, &why), ==,
                       cases[i].v);
      if (cases[i].v != PP_SIGNAL_OK)
        g_assert_nonnull (why);
    }
}

typedef struct
{
  const char *body;
  PpSignalVerdict verdict;
  const char *why_part; /* NULL when OK */
} ParseCase;

static void
test_parse_msg (void)
{
  static const ParseCase cases[] = {
    { "", PP_SIGNAL_BAD_REQUEST, "empty" },
    { "{", PP_SIGNAL_BAD_REQUEST, "not valid JSON" },
    { "[]", PP_SIGNAL_BAD_REQUEST, "JSON object" },
    { "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
      PP_SIGNAL_BAD_REQUEST, "nests" },
    { "{\"type\":\"hello\"}", PP_SIGNAL_BAD_REQUEST, "\"type\"" },
    { "{\"type\":5}", PP_SIGNAL_BAD_REQUEST, "\"type\"" },
    { "{\"type\":\"nonce\"}", PP_SIGNAL_BAD_REQUEST, "\"nonce\"" },
    { "{\"type\":\"nonce\",\"nonce\":\"zz\"}", PP_SIGNAL_BAD_REQUEST, "\"nonce\"" },
    { "{\"type\":\"nonce\",\"nonce\":"
      "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
      PP_SIGNAL_OK, NULL },
    { "{\"type\":\"reveal\",\"nonce\":"
      "\"0000000000000000000000000000000000000000000000000000000000000000\"}",
      PP_SIGNAL_BAD_REQUEST, "\"fingerprint\"" },
    { "{\"type\":\"offer\"}", PP_SIGNAL_BAD_REQUEST, "\"sdp\"" },
    { "{\"type\":\"offer\",\"sdp\":\"\"}", PP_SIGNAL_BAD_REQUEST, "\"sdp\"" },
    { "{\"type\":\"offer\",\"sdp\":\"v=0\",\"candidate\":\"x\"}", PP_SIGNAL_BAD_REQUEST,
      "\"candidate\"" },
    { "{\"type\":\"offer\",\"sdp\":\"v=0\",\"candidate\":[\"x\"]}", PP_SIGNAL_BAD_REQUEST,
      "\"candidate\"" },
    { "{\"type\":\"answer\",\"sdp\":\"v=0\",\"candidate\":[\"candidate:1 1 udp 1 1.2.3.4 5 typ "
      "host\"]}", PP_SIGNAL_OK, NULL },
    { "{\"type\":\"answer\",\"sdp\":\"v=0\"}", PP_SIGNAL_OK, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      PpSignalMsg m;
      const char *why = NULL;
      PpSignalVerdict v = pp_signal_parse_msg (cases[i].body, strlen (cases[i].body), &m, &why);

      g_test_message ("case %u: %s -> %s", i, cases[i].body, why ? why : "ok");
      g_assert_cmpint (v, ==, cases[i].verdict);
      if (cases[i].why_part != NULL)
        g_assert_nonnull (strstr (why, cases[i].why_part));
      pp_signal_msg_clear (&m);
    }
}

static void
test_parse_create_join (void)
{
  static const char fp[] = "\"fingerprint\":"
                           "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"";
  uint8_t out[32];
  char *name = NULL;
  const char *why = NULL;
  g_autofree char *ok = g_strdup_printf ("{\"host\":\"laptop\",%s}", fp);
  g_autofree char *bad_name = g_strdup_printf ("{\"host\":\"bad\\u001b\",%s}", fp);

  g_assert_cmpint (pp_signal_parse_create (ok, strlen (ok), &name, out, &why), ==, PP_SIGNAL_OK);
  g_assert_cmpstr (name, ==, "laptop");
  g_clear_pointer (&name, g_free);
  g_assert_cmpint (pp_signal_parse_create (bad_name, strlen (bad_name), &name, out, &why), ==,
                   PP_SIGNAL_BAD_REQUEST);
  g_assert_nonnull (strstr (why, "printable"));
  g_assert_cmpint (pp_signal_parse_create ("{\"host\":\"x\"}", 12, &name, out, &why), ==,
                   PP_SIGNAL_BAD_REQUEST);
  g_assert_nonnull (strstr (why, "fingerprint"));
  g_assert_cmpint (pp_signal_parse_join ("{\"client\":\"x\"}", 14, &name, out, &why), ==,
                   PP_SIGNAL_BAD_REQUEST);
  g_assert_nonnull (strstr (why, "commit"));
  g_assert_null (name);
}

static void
test_store_roundtrip (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) blob = NULL, again = NULL;
  g_autoptr (PpSignalSession) back = NULL;
  g_autofree char *view = NULL;
  const char *why = NULL;
  gboolean cancelled;

  g_assert_cmpint (join (f, f->client_hash), ==, PP_SIGNAL_OK);
  g_assert_cmpint (pp_signal_session_reject (f->s, PP_SIGNAL_ROLE_HOST, T0 + 1500,
                                             &pp_signal_ttl_default, &cancelled, &why), ==,
                   PP_SIGNAL_OK);
  g_assert_cmpint (join (f, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
                   ==, PP_SIGNAL_OK);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_NONCE), ==, PP_SIGNAL_OK);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_MSG_REVEAL), ==, PP_SIGNAL_OK);
  g_assert_cmpint (send (f, PP_SIGNAL_ROLE_HOST, PP_SIGNAL_MSG_OFFER), ==, PP_SIGNAL_OK);
  blob = pp_signal_session_to_store (f->s);
  back = pp_signal_session_from_store (g_bytes_get_data (blob, NULL), g_bytes_get_size (blob),
                                       &why);
  g_assert_nonnull (back);
  again = pp_signal_session_to_store (back);
  g_assert_true (g_bytes_equal (blob, again));
  g_assert_cmpint (pp_signal_session_role (back, f->client_hash), ==, PP_SIGNAL_ROLE_REJECTED);
  g_assert_cmpuint (back->rejects, ==, 1);
  /* Views never carry tokens or the list of declined clients. */
  view = pp_signal_session_to_view (f->s, PP_SIGNAL_ROLE_CLIENT, NULL);
  g_assert_null (strstr (view, f->host_hash));
  g_assert_null (strstr (view, f->client_hash));
  g_assert_null (strstr (view, "Token"));
  g_assert_nonnull (strstr (view, "\"status\":\"offered\""));
  g_assert_nonnull (strstr (view, "\"offer\""));
  {
    g_autoptr (PpSignalSession) v = pp_signal_session_from_view (view, strlen (view), &why);

    g_assert_nonnull (v);
    g_assert_cmpint (v->status, ==, PP_SIGNAL_OFFERED);
    g_assert_cmpmem (v->client_fp, 32, f->fp_c, 32);
    g_assert_cmpint (v->expires_ms, ==, f->s->expires_ms);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/signal/unit/session/" path, Fixture, NULL, fixture_setup, fn, \
                                  fixture_teardown)
  ADD ("accept-flow", test_accept_flow);
  ADD ("wrong-role-and-order", test_wrong_role_and_order);
  ADD ("tampered-reveal", test_tampered_reveal);
  ADD ("reject-limit", test_reject_limit);
  ADD ("cancel-waiting", test_cancel_waiting);
  ADD ("expiry", test_expiry);
  ADD ("store-roundtrip", test_store_roundtrip);
  g_test_add_func ("/signal/unit/session/poll-roles", test_poll_roles);
  g_test_add_func ("/signal/unit/json/parse-msg", test_parse_msg);
  g_test_add_func ("/signal/unit/json/parse-create-join", test_parse_create_join);
  return g_test_run ();
}
