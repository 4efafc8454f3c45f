/* SPDX-License-Identifier: MIT
 *
 * test-webrtc-browser: interop with Debian's headless Chromium.  The test
 * serves tests/data/webrtc/peer.html on 127.0.0.1 with a minimal SDP
 * exchange (until the signaling server lands), starts Chromium in its own
 * process group with a fresh profile, and plays the other peer in both
 * roles: messages of several sizes and a 32 MiB transfer are echoed back
 * and checked, and a second, DCEP-opened channel is acknowledged then
 * reset.  Chromium is killed (the whole group) in teardown.
 */
#include "pp-webrtc-transport.h"
#include "pp-test-utils.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536
#define BULK (32u << 20)

typedef struct
{
  PpWebrtcRole role;            /* ours */
  gboolean mdns;                /* Chromium hides its addresses behind mDNS names */
  GSocketService *server;
  GCancellable *cancel;
  GList *conns;
  guint port;
  char *page;
  char *offer;
  char *answer;
  char *browser_sdp;
  PpTransport *t;
  GPid chromium;
  char *profile;
  gboolean opened;
  gboolean closed;
  gboolean extra_closed;        /* the browser's DCEP channel was refused */
  char *reason;
  GPtrArray *rx;
  gboolean bulk;
  uint64_t tx_seq;
  uint64_t tx_hash;
  uint64_t rx_bytes;
  uint64_t rx_hash;
  uint8_t *seen;
  uint64_t rx_dups;
  uint8_t *chunk;
  char *browser_state;          /* the page's last report of its echo queue */
} Browser;

static uint64_t
fnv (const uint8_t *p, size_t n)
{
  uint64_t h = 0xcbf29ce484222325u;

  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3u;
  return h;
}

static void
fill_chunk (uint8_t *buf, size_t n, uint64_t seq)
{
  uint64_t x = (seq + 1) * 0x9E3779B97F4A7C15u;

  for (size_t i = 0; i + 8 <= n; i += 8)
    {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      memcpy (buf + i, &x, 8);
    }
  memcpy (buf, &seq, 8);
}

/* ---- the transport ---- */

static void
opened_cb (PpTransport *t, gpointer data)
{
  ((Browser *) data)->opened = TRUE;
}

static void
pump (Browser *b)
{
  while (b->tx_seq < BULK / CHUNK && pp_transport_get_buffered_amount (b->t) < 2 * 1024 * 1024)
    {
      g_autoptr (GBytes) m = NULL;
      g_autoptr (GError) error = NULL;
      fill_chunk (b->chunk, CHUNK, b->tx_seq++);
      b->tx_hash += fnv (b->chunk, CHUNK);
      m = g_bytes_new (b->chunk, CHUNK);
      g_assert_true (pp_transport_send (b->t, m, &error));
    }
}

static void
message_cb (PpTransport *t, GBytes *msg, gpointer data)
{
  Browser *b = data;
  size_t len;
  const uint8_t *d = g_bytes_get_data (msg, &len);
  uint64_t seq;

  if (!b->bulk)
    {
      g_ptr_array_add (b->rx, g_bytes_ref (msg));
      return;
    }
  g_assert_cmpuint (len, ==, CHUNK);
  memcpy (&seq, d, 8);
  g_assert_cmpuint (seq, <, BULK / CHUNK);
  if (b->seen[seq]++)
    b->rx_dups++;
  b->rx_bytes += len;
  b->rx_hash += fnv (d, len);
}

static void
buffered_low_cb (PpTransport *t, gpointer data)
{
  Browser *b = data;

  if (b->bulk)
    pump (b);
}

static void
closed_cb (PpTransport *t, const char *reason, gpointer data)
{
  Browser *b = data;

  b->closed = TRUE;
  b->reason = g_strdup (reason);
  g_test_message ("transport closed: %s", reason);
}

static const PpTransportCallbacks callbacks = { opened_cb, message_cb, buffered_low_cb,
                                                closed_cb };

static void
description_cb (PpTransport *t, const char *sdp, gpointer data)
{
  Browser *b = data;

  if (b->role == PP_WEBRTC_OFFERER)
    b->offer = g_strdup (sdp);
  else
    b->answer = g_strdup (sdp);
}

static void
apply_browser_sdp (Browser *b, const char *sdp)
{
  g_autoptr (GError) error = NULL;

  g_free (b->browser_sdp);
  b->browser_sdp = g_strdup (sdp);
  g_test_message ("browser %s:\n%s", b->role == PP_WEBRTC_OFFERER ? "answer" : "offer", sdp);
  if (!pp_webrtc_transport_set_remote_description (b->t, sdp, &error))
    g_test_message ("refused the browser's SDP: %s", error->message);
}

/* ---- the HTTP side: a minimal async server, one request per connection ---- */

typedef struct
{
  Browser *b;
  GSocketConnection *conn;
  GByteArray *in;
  uint8_t rbuf[4096];
  GBytes *out;
} Conn;

static void
conn_free (Conn *c)
{
  c->b->conns = g_list_remove (c->b->conns, c);
  g_io_stream_close (G_IO_STREAM (c->conn), NULL, NULL);
  g_object_unref (c->conn);
  g_byte_array_unref (c->in);
  g_clear_pointer (&c->out, g_bytes_unref);
  g_free (c);
}

static void
written_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  g_output_stream_write_all_finish (G_OUTPUT_STREAM (src), res, NULL, NULL);
  conn_free (data);
}

static void
respond (Conn *c, const char *status, const char *type, const char *body)
{
  g_autofree char *text = g_strdup_printf ("HTTP/1.1 %s\r\nContent-Type: %s\r\n"
                                           "Content-Length: %zu\r\nConnection: close\r\n"
                                           "Cache-Control: no-store\r\n\r\n%s",
                                           status, type, strlen (body), body);
  size_t len = strlen (text);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (c->conn));

  c->out = g_bytes_new_take (g_steal_pointer (&text), len);
  g_output_stream_write_all_async (out, g_bytes_get_data (c->out, NULL), len, G_PRIORITY_DEFAULT,
                                   c->b->cancel, written_cb, c);
}

static void
handle (Conn *c, const char *method, const char *path, const char *body)
{
  Browser *b = c->b;
  const char *reply = NULL;

  if (strcmp (method, "GET") == 0 && (strcmp (path, "/") == 0 || g_str_has_prefix (path, "/?")))
    {
      respond (c, "200 OK", "text/html", b->page);
      return;
    }
  if (strcmp (method, "GET") == 0)
    {
      reply = strcmp (path, "/offer") == 0 ? b->offer : strcmp (path, "/answer") == 0 ? b->answer
                                                                                      : NULL;
      respond (c, reply ? "200 OK" : "204 No Content", "text/plain", reply ? reply : "");
      return;
    }
  if (strcmp (path, "/state") == 0)
    {
      g_free (b->browser_state);
      b->browser_state = g_strdup (body);
    }
  else if (strcmp (path, "/log") == 0)
    {
      g_test_message ("browser: %s", body);
      if (strcmp (body, "extra closed") == 0)
        b->extra_closed = TRUE;
    }
  else
    apply_browser_sdp (b, body);
  respond (c, "200 OK", "text/plain", "");
}

/* TRUE once a whole request was handled. */
static gboolean
try_parse (Conn *c)
{
  g_autofree char *head = NULL;
  g_auto (GStrv) lines = NULL, first = NULL;
  const char *end = g_strstr_len ((const char *) c->in->data, c->in->len, "\r\n\r\n");
  size_t hlen, clen = 0;
  g_autofree char *body = NULL;

  if (end == NULL)
    return FALSE;
  hlen = (size_t) (end - (const char *) c->in->data) + 4;
  head = g_strndup ((const char *) c->in->data, hlen - 4);
  lines = g_strsplit (head, "\r\n", -1);
  first = g_strsplit (lines[0], " ", 3);
  for (guint i = 1; lines[i] != NULL; i++)
    if (g_ascii_strncasecmp (lines[i], "content-length:", 15) == 0)
      clen = (size_t) g_ascii_strtoull (lines[i] + 15, NULL, 10);
  if (g_strv_length (first) < 2 || clen > (1u << 20))
    {
      respond (c, "400 Bad Request", "text/plain", "");
      return TRUE;
    }
  if (c->in->len < hlen + clen)
    return FALSE;
  body = g_strndup ((const char *) c->in->data + hlen, clen);
  handle (c, first[0], first[1], body);
  return TRUE;
}

static void
read_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  Conn *c = data;
  gssize n = g_input_stream_read_finish (G_INPUT_STREAM (src), res, NULL);

  if (n <= 0)
    {
      conn_free (c);
      return;
    }
  g_byte_array_append (c->in, c->rbuf, (guint) n);
  if (try_parse (c))
    return;
  g_input_stream_read_async (G_INPUT_STREAM (src), c->rbuf, sizeof c->rbuf, G_PRIORITY_DEFAULT,
                             c->b->cancel, read_cb, c);
}

static gboolean
incoming_cb (GSocketService *svc, GSocketConnection *conn, GObject *source, gpointer data)
{
  Browser *b = data;
  Conn *c = g_new0 (Conn, 1);

  c->b = b;
  c->conn = g_object_ref (conn);
  c->in = g_byte_array_new ();
  b->conns = g_list_prepend (b->conns, c);
  g_input_stream_read_async (g_io_stream_get_input_stream (G_IO_STREAM (conn)), c->rbuf,
                             sizeof c->rbuf, G_PRIORITY_DEFAULT, b->cancel, read_cb, c);
  return TRUE;
}

static void
start_server (Browser *b)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) got = NULL;

  b->cancel = g_cancellable_new ();
  b->server = g_socket_service_new ();
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (b->server), any,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                NULL, &got, &error));
  g_assert_no_error (error);
  b->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (got));
  g_signal_connect (b->server, "incoming", G_CALLBACK (incoming_cb), b);
  g_socket_service_start (b->server);
}

static gboolean
no_conns (gpointer data)
{
  return ((Browser *) data)->conns == NULL;
}

static void
stop_server (Browser *b)
{
  g_cancellable_cancel (b->cancel);
  pp_test_wait_until (NULL, no_conns, b, 5000);
  g_assert_null (b->conns);
  g_socket_service_stop (b->server);
  g_socket_listener_close (G_SOCKET_LISTENER (b->server));
  g_signal_handlers_disconnect_by_data (b->server, b);
  g_clear_object (&b->server);
  g_clear_object (&b->cancel);
}

/* ---- Chromium ---- */

/* Live (non-zombie) processes in group @pgid, from /proc. */
static guint
group_alive (GPid pgid)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc", 0, NULL);
  const char *name;
  guint n = 0;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_strdup_printf ("/proc/%s/stat", name);
      g_autofree char *stat = NULL;
      const char *rp;
      char state;
      int ppid, pgrp;

      if (!g_ascii_isdigit (name[0]) || !g_file_get_contents (path, &stat, NULL, NULL))
        continue;
      rp = strrchr (stat, ')');
      if (rp != NULL && sscanf (rp + 1, " %c %d %d", &state, &ppid, &pgrp) == 3
          && pgrp == pgid && state != 'Z')
        n++;
    }
  return n;
}

static void
child_setup (gpointer data)
{
  setpgid (0, 0);   /* its own group, so teardown can kill every helper process */
  prctl (PR_SET_PDEATHSIG, SIGKILL);   /* a test killed by its timeout takes Chromium along */
}

static void
start_chromium (Browser *b)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *url = g_strdup_printf ("http://127.0.0.1:%u/?role=%s", b->port,
                                          b->role == PP_WEBRTC_OFFERER ? "answer" : "offer");
  g_autofree char *dir_arg = NULL;
  g_autofree char *log = NULL;
  int log_fd;

  b->profile = g_dir_make_tmp ("pp-chromium-XXXXXX", &error);
  g_assert_no_error (error);
  dir_arg = g_strdup_printf ("--user-data-dir=%s", b->profile);
  log = g_build_filename (b->profile, "chromium.log", NULL);
  log_fd = g_open (log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  /* With mDNS hiding (Chromium's default) its host candidates are ".local"
   * names we skip, and the pair is found through peer-reflexive candidates. */
  const char *argv[] = { "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-background-networking", "--disable-component-update",
                         "--no-first-run", "--disable-dev-shm-usage",
                         "--allow-loopback-in-peer-connection", dir_arg, url,
                         b->mdns ? NULL : "--disable-features=WebRtcHideLocalIpsWithMdns",
                         NULL };
  g_spawn_async_with_pipes_and_fds (NULL, argv, NULL,
                                    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                    child_setup, NULL, -1, log_fd, log_fd, NULL, NULL, 0,
                                    &b->chromium, NULL, NULL, NULL, &error);
  close (log_fd);
  g_assert_no_error (error);
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static gboolean
group_gone (gpointer data)
{
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;   /* orphaned helpers were re-parented to us (subreaper): reap them */
  return group_alive (GPOINTER_TO_INT (data)) == 0;
}

static void
stop_chromium (Browser *b)
{
  GSource *tick;
  g_autofree char *log = NULL;
  g_autofree char *contents = NULL;

  if (b->chromium > 0)
    {
      kill (-b->chromium, SIGKILL);
      kill (b->chromium, SIGKILL);
      waitpid (b->chromium, NULL, 0);
      g_spawn_close_pid (b->chromium);
      /* A 10 ms tick keeps the loop turning while we wait for the group to die. */
      tick = g_timeout_source_new (10);
      g_source_set_callback (tick, tick_cb, NULL, NULL);
      g_source_attach (tick, NULL);
      pp_test_wait_until (NULL, group_gone, GINT_TO_POINTER (b->chromium), 5000);
      g_source_destroy (tick);
      g_source_unref (tick);
      g_assert_cmpuint (group_alive (b->chromium), ==, 0);
      b->chromium = 0;
    }
  if (b->profile != NULL)
    {
      g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", b->profile);
      log = g_build_filename (b->profile, "chromium.log", NULL);
      if (!b->opened && g_file_get_contents (log, &contents, NULL, NULL))
        g_test_message ("chromium log:\n%.4000s", contents);
      g_assert_true (g_spawn_command_line_sync (cmd, NULL, NULL, NULL, NULL));
      g_clear_pointer (&b->profile, g_free);
    }
}

/* ---- the test ---- */

typedef struct
{
  PpWebrtcRole role;
  gboolean mdns;
} Case;

static Browser *
browser_new (const Case *c)
{
  Browser *b = g_new0 (Browser, 1);
  PpWebrtcRole role = c->role;
  g_autoptr (GError) error = NULL;
  g_autofree char *page = g_test_build_filename (G_TEST_DIST, "data", "webrtc", "peer.html",
                                                 NULL);
  PpWebrtcConfig cfg;

  b->role = role;
  b->mdns = c->mdns;
  b->rx = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  b->chunk = g_malloc (CHUNK);
  b->seen = g_malloc0 (BULK / CHUNK);
  g_assert_true (g_file_get_contents (page, &b->page, NULL, &error));
  start_server (b);

  pp_webrtc_config_init (&cfg);
  cfg.role = role;
  b->t = pp_webrtc_transport_new (&cfg, description_cb, b, &error);
  g_assert_no_error (error);
  pp_transport_set_callbacks (b->t, &callbacks, b);
  pp_transport_set_low_water (b->t, 512 * 1024);
  return b;
}

static gboolean
settled (gpointer data)
{
  guint *quiet = data;

  /* Quiet for 20 consecutive checks: the server has seen every EOF. */
  *quiet = g_main_context_pending (NULL) ? 0 : *quiet + 1;
  return *quiet >= 20;
}

static void
browser_free (Browser *b)
{
  guint quiet = 0;

  g_clear_pointer (&b->t, pp_transport_unref);
  stop_chromium (b);
  pp_test_wait_until (NULL, settled, &quiet, 2000);
  stop_server (b);
  quiet = 0;
  pp_test_wait_until (NULL, settled, &quiet, 2000);
  g_ptr_array_unref (b->rx);
  g_free (b->page);
  g_free (b->offer);
  g_free (b->answer);
  g_free (b->browser_sdp);
  g_free (b->reason);
  g_free (b->browser_state);
  g_free (b->seen);
  g_free (b->chunk);
  g_free (b);
}

static gboolean
opened_or_closed (gpointer data)
{
  Browser *b = data;
  return b->opened || b->closed;
}

static const size_t sizes[] = { 0, 1, 1000, 16384, 65536 };

static gboolean
echoes_back (gpointer data)
{
  Browser *b = data;
  return b->rx->len >= G_N_ELEMENTS (sizes) || b->closed;
}

static gboolean
bulk_back (gpointer data)
{
  Browser *b = data;
  return b->rx_bytes >= BULK || b->closed;
}

/* Waits for the echo of the bulk transfer, saying every 10 s how far both
 * sides are; a stall prints both sides' state on stderr before failing. */
static void
wait_bulk (Browser *b)
{
  for (int waited = 0; waited < 300; waited += 10)
    {
      g_autofree char *sctp = NULL;
      if (pp_test_wait_until (NULL, bulk_back, b, 10000))
        return;
      sctp = pp_webrtc_transport_describe (b->t);
      g_test_message ("after %d s: sent %" G_GUINT64_FORMAT " of %u chunks, %" G_GUINT64_FORMAT
                      " bytes back, %zu buffered; %s; browser: %s", waited + 10, b->tx_seq,
                      BULK / CHUNK, b->rx_bytes, pp_transport_get_buffered_amount (b->t), sctp,
                      b->browser_state ? b->browser_state : "no report");
      if (waited + 10 >= 300)
        g_printerr ("bulk transfer stalled: sent %" G_GUINT64_FORMAT " of %u chunks, %"
                    G_GUINT64_FORMAT " bytes back, %zu buffered; %s; browser: %s\n",
                    b->tx_seq, BULK / CHUNK, b->rx_bytes,
                    pp_transport_get_buffered_amount (b->t), sctp,
                    b->browser_state ? b->browser_state : "no report");
    }
  g_assert_not_reached ();
}

static void
check_echoes (Browser *b)
{
  for (size_t k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      g_autofree uint8_t *buf = g_malloc (sizes[k] + 1);
      g_autoptr (GBytes) m = NULL;
      g_autoptr (GError) error = NULL;
      pp_test_fill_random (buf, sizes[k], (guint32) k + 1);
      m = g_bytes_new (buf, sizes[k]);
      g_assert_true (pp_transport_send (b->t, m, &error));
    }
  g_assert_true (pp_test_wait_until (NULL, echoes_back, b, 30000));
  g_assert_false (b->closed);
  for (size_t k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      g_autofree uint8_t *want = g_malloc (sizes[k] + 1);
      gboolean found = FALSE;
      pp_test_fill_random (want, sizes[k], (guint32) k + 1);
      for (guint m = 0; m < b->rx->len && !found; m++)
        {
          size_t len;
          const uint8_t *p = g_bytes_get_data (b->rx->pdata[m], &len);
          found = len == sizes[k] && (len == 0 || memcmp (p, want, len) == 0);
        }
      g_assert_true (found);
    }
}

static gboolean
extra_refused (gpointer data)
{
  Browser *b = data;
  return b->extra_closed || b->closed;
}

static void
test_interop (gconstpointer data)
{
  Browser *b = browser_new (data);
  PpTransportStats st;

  start_chromium (b);
  g_assert_true (pp_test_wait_until (NULL, opened_or_closed, b, 60000));
  g_assert_true (b->opened);
  g_assert_false (b->closed);
  pp_transport_get_stats (b->t, &st);
  g_test_message ("path: %s, SCTP MTU %u", st.path, pp_webrtc_transport_get_sctp_mtu (b->t));
  check_echoes (b);
  g_assert_true (pp_test_wait_until (NULL, extra_refused, b, 30000));
  g_assert_true (b->extra_closed);
  g_assert_false (b->closed);

  b->bulk = TRUE;
  pump (b);
  wait_bulk (b);
  g_assert_false (b->closed);
  g_assert_cmpuint (b->rx_bytes, ==, BULK);
  g_assert_cmpuint (b->rx_dups, ==, 0);
  g_assert_cmphex (b->rx_hash, ==, b->tx_hash);
  browser_free (b);
}

static const Case cases[] = {
  { PP_WEBRTC_OFFERER, FALSE },
  { PP_WEBRTC_ANSWERER, FALSE },
  { PP_WEBRTC_OFFERER, TRUE },
  { PP_WEBRTC_ANSWERER, TRUE },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Chromium's helpers outlive their parent for a moment; as subreaper we
   * inherit and reap them instead of leaving zombies to the container's init. */
  prctl (PR_SET_CHILD_SUBREAPER, 1);
  g_test_add_data_func ("/webrtc/browser/chromium-answers", &cases[0], test_interop);
  g_test_add_data_func ("/webrtc/browser/chromium-offers", &cases[1], test_interop);
  g_test_add_data_func ("/webrtc/browser/chromium-answers-mdns", &cases[2], test_interop);
  g_test_add_data_func ("/webrtc/browser/chromium-offers-mdns", &cases[3], test_interop);
  return g_test_run ();
}
