/* SPDX-License-Identifier: MIT
 *
 * `peerport signal` as a program: the help documents every flag, bad flags
 * exit 64 with one `peerport: context: message` line, and two server
 * processes sharing one Redis (started by the test) serve the host of a
 * session on one and its client on the other, through the real client, until
 * SIGTERM stops them with status 0.
 */
#include <signal.h>
#include <string.h>

#include <glib.h>

#include "pp-signal-test-redis.h"
#include "pp-test-utils.h"
#include "signal/pp-signal-client.h"

typedef struct
{
  GSubprocess *proc;
  GDataInputStream *out;
  char *line;
  gboolean got_line;
  char *url;
} Server;

static char *
peerport_path (void)
{
  const char *root = g_getenv ("PEERPORT_BUILD_ROOT");

  return root != NULL ? g_build_filename (root, "src", "cli", "peerport", NULL) : NULL;
}

typedef struct
{
  gboolean done;
  char *out, *err;
  int status;
} Run;

static void
communicated_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  Run *r = data;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (src), res, &r->out, &r->err, NULL);
  r->done = TRUE;
}

static gboolean
run_done (gpointer data)
{
  return ((Run *) data)->done;
}

static void
run_peerport (Run *r, const char *const *args)
{
  g_autofree char *exe = peerport_path ();
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocess) p = NULL;
  g_autoptr (GError) error = NULL;

  g_ptr_array_add (argv, exe);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_newv ((const char *const *) argv->pdata,
                         G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (p, NULL, NULL, communicated_cb, r);
  g_assert_true (pp_test_wait_until (NULL, run_done, r, 20000));
  g_subprocess_wait (p, NULL, NULL);
  r->status = g_subprocess_get_exit_status (p);
}

static void
test_help (void)
{
  static const char *const flags[] = { "--listen", "--redis", "--ttl", "--stun-port",
                                       "--tls-cert", "--tls-key", "--trusted-proxy",
                                       "--poll-timeout", "--max-sessions", "--help" };
  const char *top[] = { "--help", NULL };
  const char *sig[] = { "signal", "--help", NULL };
  Run a = { 0 }, b = { 0 };

  run_peerport (&a, top);
  g_assert_cmpint (a.status, ==, 0);
  g_assert_nonnull (strstr (a.out, "signal"));
  run_peerport (&b, sig);
  g_assert_cmpint (b.status, ==, 0);
  for (guint i = 0; i < G_N_ELEMENTS (flags); i++)
    {
      g_test_message ("documents %s", flags[i]);
      g_assert_nonnull (strstr (b.out, flags[i]));
    }
  g_free (a.out); g_free (a.err); g_free (b.out); g_free (b.err);
}

static void
test_usage_errors (void)
{
  static const char *const cases[][4] = {
    { "signal", "--bogus", NULL },
    { "signal", "--listen", "localhost:80", NULL },
    { "signal", "--stun-port", "seventy", NULL },
    { "signal", "--tls-cert", "x.pem", NULL },
    { "signal", "--redis", "http://x", NULL },
    { "nonsense", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Run r = { 0 };

      run_peerport (&r, cases[i]);
      g_test_message ("%s", r.err);
      g_assert_cmpint (r.status, ==, 64);
      g_assert_true (g_str_has_prefix (r.err, "peerport: "));
      g_assert_nonnull (strchr (r.err, '\n'));
      g_assert_cmpstr (strchr (r.err, '\n') + 1, ==, "");
      g_free (r.out);
      g_free (r.err);
    }
}

static void
line_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  Server *s = data;

  s->line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM (src), res, NULL,
                                                      NULL);
  s->got_line = TRUE;
}

static gboolean
line_done (gpointer data)
{
  return ((Server *) data)->got_line;
}

static void
server_start (Server *s, const char *redis_url)
{
  g_autofree char *exe = peerport_path ();
  g_autoptr (GError) error = NULL;
  const char *at;

  s->proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error, exe, "signal",
                              "--listen", "127.0.0.1:0", "--stun-port", "off", "--redis",
                              redis_url, "--poll-timeout", "1", NULL);
  g_assert_no_error (error);
  s->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->proc));
  g_data_input_stream_read_line_async (s->out, G_PRIORITY_DEFAULT, NULL, line_cb, s);
  g_assert_true (pp_test_wait_until (NULL, line_done, s, 20000));
  g_assert_nonnull (s->line);
  g_test_message ("%s", s->line);
  at = strstr (s->line, "http://");
  g_assert_nonnull (at);
  s->url = g_strndup (at, strcspn (at, " "));
}

static void
server_stop (Server *s)
{
  if (s->proc == NULL)
    return;
  g_subprocess_send_signal (s->proc, SIGTERM);
  g_subprocess_wait (s->proc, NULL, NULL);
  g_assert_true (g_subprocess_get_if_exited (s->proc));
  g_assert_cmpint (g_subprocess_get_exit_status (s->proc), ==, 0);
  g_clear_object (&s->out);
  g_clear_object (&s->proc);
  g_free (s->line);
  g_free (s->url);
}

typedef struct
{
  GAsyncResult *res;
} Wait;

static void
done_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  ((Wait *) data)->res = g_object_ref (res);
}

static gboolean
has_res (gpointer data)
{
  return ((Wait *) data)->res != NULL;
}

#define AWAIT(w) g_assert_true (pp_test_wait_until (NULL, has_res, &(w), 20000))

typedef struct
{
  PpTestRedis *redis;
  Server a, b;
} Fixture;

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->redis = pp_test_redis_start ();
  if (f->redis == NULL)
    return;
  server_start (&f->a, pp_test_redis_url (f->redis));
  server_start (&f->b, pp_test_redis_url (f->redis));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  server_stop (&f->a);
  server_stop (&f->b);
  g_clear_pointer (&f->redis, pp_test_redis_stop);
}

/* Creating may race the servers' first Redis connection: the client's
 * retries on 503 cover that. */
static void
test_two_processes (Fixture *f, gconstpointer data)
{
  uint8_t fp_h[32], fp_c[32];
  g_autoptr (PpSignalClient) h = NULL, c = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (PpSignalSession) j = NULL, hs = NULL, cs = NULL, hr = NULL, co = NULL, ha = NULL;
  g_autofree char *url = NULL, *base = NULL, *id = NULL, *pin = NULL;
  Wait w[9] = { { NULL } };
  uint32_t code_h = 0, code_c = 1;

  if (f->redis == NULL)
    {
      g_test_skip ("redis-server is not installed");
      return;
    }
  memset (fp_h, 0x0f, 32);
  memset (fp_c, 0xf0, 32);
  h = pp_signal_client_new (f->a.url, &error);
  c = pp_signal_client_new (f->b.url, &error);
  pp_signal_client_set_retry (h, 50, 40);
  pp_signal_client_set_retry (c, 50, 40);
  pp_signal_client_create_async (h, "host-on-a", fp_h, NULL, done_cb, &w[0]);
  AWAIT (w[0]);
  g_assert_true (pp_signal_client_create_finish (h, w[0].res, &error));
  g_assert_no_error (error);
  /* The client uses server B with the link server A made. */
  url = pp_signal_join_url (f->a.url, pp_signal_client_get_id (h), fp_h);
  g_assert_true (pp_signal_parse_join_url (url, &base, &id, &pin, &error));
  pp_signal_client_join_async (c, id, "client-on-b", fp_c, pin, NULL, done_cb, &w[1]);
  AWAIT (w[1]);
  j = pp_signal_client_join_finish (c, w[1].res, &error);
  g_assert_no_error (error);
  pp_signal_client_poll_async (h, PP_SIGNAL_FOR_JOIN, NULL, done_cb, &w[2]);
  AWAIT (w[2]);
  hs = pp_signal_client_poll_finish (h, w[2].res, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (hs->client, ==, "client-on-b");
  /* The client waits on B for the nonce the host posts on A. */
  pp_signal_client_poll_async (c, PP_SIGNAL_FOR_NONCE, NULL, done_cb, &w[3]);
  pp_signal_client_nonce_async (h, NULL, done_cb, &w[4]);
  AWAIT (w[4]);
  g_assert_true (pp_signal_client_send_finish (h, w[4].res, &error));
  AWAIT (w[3]);
  cs = pp_signal_client_poll_finish (c, w[3].res, &error);
  g_assert_no_error (error);
  pp_signal_client_reveal_async (c, NULL, done_cb, &w[5]);
  AWAIT (w[5]);
  g_assert_true (pp_signal_client_send_finish (c, w[5].res, &error));
  pp_signal_client_poll_async (h, PP_SIGNAL_FOR_REVEAL, NULL, done_cb, &w[6]);
  AWAIT (w[6]);
  hr = pp_signal_client_poll_finish (h, w[6].res, &error);
  g_assert_no_error (error);
  g_assert_true (pp_signal_client_code (h, hr, &code_h, &error));
  pp_signal_client_sdp_async (h, "v=0\r\n", NULL, NULL, done_cb, &w[7]);
  AWAIT (w[7]);
  g_assert_true (pp_signal_client_send_finish (h, w[7].res, &error));
  pp_signal_client_poll_async (c, PP_SIGNAL_FOR_OFFER, NULL, done_cb, &w[8]);
  AWAIT (w[8]);
  co = pp_signal_client_poll_finish (c, w[8].res, &error);
  g_assert_no_error (error);
  g_assert_true (pp_signal_client_code (c, co, &code_c, &error));
  g_assert_cmpuint (code_h, ==, code_c);
  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    g_clear_object (&w[i].res);
  pp_signal_client_sdp_async (c, "v=0\r\n", NULL, NULL, done_cb, &w[0]);
  AWAIT (w[0]);
  g_assert_true (pp_signal_client_send_finish (c, w[0].res, &error));
  pp_signal_client_poll_async (h, PP_SIGNAL_FOR_ANSWER, NULL, done_cb, &w[1]);
  AWAIT (w[1]);
  ha = pp_signal_client_poll_finish (h, w[1].res, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ha->status, ==, PP_SIGNAL_ANSWERED);
  g_clear_object (&w[0].res);
  g_clear_object (&w[1].res);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("PEERPORT_BUILD_ROOT") == NULL)
    {
      g_test_skip ("PEERPORT_BUILD_ROOT is not set (run through meson test)");
      return g_test_run ();
    }
  g_test_add_func ("/signal/integration/cli/help", test_help);
  g_test_add_func ("/signal/integration/cli/usage-errors", test_usage_errors);
  g_test_add ("/signal/integration/cli/two-processes-one-redis", Fixture, NULL, fixture_setup,
              test_two_processes, fixture_teardown);
  return g_test_run ();
}
