/* SPDX-License-Identifier: MIT
 *
 * bench-webrtc: DataChannel throughput and latency, native against native
 * (two processes: this one offers and sends, a forked child answers and
 * receives) on the loopback path (SCTP MTU 16384) and with the MTU forced
 * to 1200, with each process's CPU-seconds per GB; then, in the same run,
 * Chromium against Chromium (two RTCPeerConnections in one headless page)
 * as the baseline, and the ratios.  Usage: bench-webrtc [MIB] [CHROMIUM_MIB]
 * (defaults 1024 and 256; CHROMIUM_MIB 0 skips the baseline).
 */
#include "pp-webrtc-transport.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536
#define PINGS 2000

static const char *const loopback[] = { "127.0.0.1", NULL };

static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec
         + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- framed lines over a pipe (set-up and results only) ---- */

static void
put (int fd, const char *text)
{
  size_t len = strlen (text);
  g_autofree char *head = g_strdup_printf ("%zu\n", len);

  if (write (fd, head, strlen (head)) < 0 || write (fd, text, len) < 0)
    g_error ("pipe write: %s", g_strerror (errno));
}

static char *
get (int fd)
{
  char head[32];
  size_t n = 0, len, got = 0;
  char *buf;

  while (n + 1 < sizeof head && read (fd, head + n, 1) == 1 && head[n] != '\n')
    n++;
  head[n] = '\0';
  len = (size_t) g_ascii_strtoull (head, NULL, 10);
  buf = g_malloc (len + 1);
  while (got < len)
    {
      ssize_t r = read (fd, buf + got, len - got);
      if (r <= 0)
        g_error ("pipe read: %s", r == 0 ? "EOF" : g_strerror (errno));
      got += (size_t) r;
    }
  buf[len] = '\0';
  return buf;
}

/* ---- one native peer ---- */

typedef struct
{
  PpTransport *t;
  GMainLoop *loop;
  int in_fd, out_fd;
  gboolean sender;
  uint64_t total;
  uint64_t sent, received;
  double cpu0;
  gint64 t0, t1;
  uint8_t chunk[CHUNK];
  guint pings;
  gint64 ping_sent;
  GArray *rtts;
  gboolean done;
  double child_cpu;
} Peer;

static void
pump (Peer *p)
{
  while (p->sent < p->total && pp_transport_get_buffered_amount (p->t) < 2 * 1024 * 1024)
    {
      g_autoptr (GBytes) b = g_bytes_new_static (p->chunk, CHUNK);
      if (!pp_transport_send (p->t, b, NULL))
        return;
      p->sent += CHUNK;
    }
}

static void
send_ping (Peer *p)
{
  g_autoptr (GBytes) b = g_bytes_new_static ("p", 1);

  p->ping_sent = g_get_monotonic_time ();
  pp_transport_send (p->t, b, NULL);
}

static void
opened_cb (PpTransport *t, gpointer data)
{
  Peer *p = data;

  p->cpu0 = cpu_seconds ();
  p->t0 = g_get_monotonic_time ();
  if (p->sender)
    pump (p);
}

static void
message_cb (PpTransport *t, GBytes *msg, gpointer data)
{
  Peer *p = data;
  size_t len = g_bytes_get_size (msg);

  if (len == 1)
    {
      if (!p->sender)
        {
          pp_transport_send (t, msg, NULL);   /* echo */
          return;
        }
      gint64 rtt = g_get_monotonic_time () - p->ping_sent;
      g_array_append_val (p->rtts, rtt);
      if (++p->pings < PINGS)
        send_ping (p);
      else
        g_main_loop_quit (p->loop);
      return;
    }
  p->received += len;
  if (!p->sender && p->received >= p->total)
    {
      g_autofree char *res = g_strdup_printf ("%.6f", cpu_seconds () - p->cpu0);
      put (p->out_fd, res);
    }
}

static void
low_cb (PpTransport *t, gpointer data)
{
  Peer *p = data;

  if (p->sender)
    pump (p);
}

static void
closed_cb (PpTransport *t, const char *reason, gpointer data)
{
  Peer *p = data;

  p->done = TRUE;
  if (p->sender && p->pings < PINGS)
    g_printerr ("bench-webrtc: closed early: %s\n", reason);
  g_main_loop_quit (p->loop);
}

static const PpTransportCallbacks callbacks = { opened_cb, message_cb, low_cb, closed_cb };

static void
description_cb (PpTransport *t, const char *sdp, gpointer data)
{
  put (((Peer *) data)->out_fd, sdp);
}

static void
make_peer (Peer *p, PpWebrtcRole role, guint mtu)
{
  PpWebrtcConfig cfg;
  g_autoptr (GError) error = NULL;

  pp_webrtc_config_init (&cfg);
  cfg.role = role;
  cfg.local_addresses = loopback;
  cfg.sctp_mtu = mtu;
  p->loop = g_main_loop_new (NULL, FALSE);
  p->rtts = g_array_new (FALSE, FALSE, sizeof (gint64));
  p->t = pp_webrtc_transport_new (&cfg, description_cb, p, &error);
  if (p->t == NULL)
    g_error ("transport: %s", error->message);
  pp_transport_set_callbacks (p->t, &callbacks, p);
  pp_transport_set_low_water (p->t, 1024 * 1024);
}

static void
free_peer (Peer *p)
{
  g_clear_pointer (&p->t, pp_transport_unref);
  for (int i = 0; i < 100 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_main_loop_unref (p->loop);
  g_array_unref (p->rtts);
}

static G_NORETURN void
run_child (int in_fd, int out_fd, guint mtu, uint64_t total)
{
  Peer p = { .in_fd = in_fd, .out_fd = out_fd, .total = total };
  g_autofree char *offer = get (in_fd);
  g_autoptr (GError) error = NULL;

  make_peer (&p, PP_WEBRTC_ANSWERER, mtu);
  if (!pp_webrtc_transport_set_remote_description (p.t, offer, &error))
    g_error ("child: %s", error->message);
  g_main_loop_run (p.loop);
  free_peer (&p);
  _exit (0);
}

static gboolean
result_cb (gint fd, GIOCondition cond, gpointer data)
{
  Peer *p = data;
  g_autofree char *line = get (fd);
  double child_cpu = g_ascii_strtod (line, NULL);

  p->t1 = g_get_monotonic_time ();
  p->cpu0 = cpu_seconds () - p->cpu0;   /* from here on: the parent's CPU for the transfer */
  p->child_cpu = child_cpu;
  send_ping (p);
  return G_SOURCE_REMOVE;
}

static int
cmp_i64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* Returns Mbit/s. */
static double
run_native (guint mtu, uint64_t mib)
{
  int p2c[2], c2p[2];
  pid_t pid;
  Peer p = { .sender = TRUE, .total = mib << 20 };
  g_autofree char *answer = NULL;
  g_autoptr (GError) error = NULL;
  double secs, gb, mbit;
  guint real_mtu;

  if (pipe (p2c) < 0 || pipe (c2p) < 0)
    g_error ("pipe: %s", g_strerror (errno));
  pid = fork ();
  if (pid == 0)
    {
      close (p2c[1]);
      close (c2p[0]);
      run_child (p2c[0], c2p[1], mtu, mib << 20);
    }
  close (p2c[0]);
  close (c2p[1]);
  memset (p.chunk, 0xA5, sizeof p.chunk);
  p.out_fd = p2c[1];
  make_peer (&p, PP_WEBRTC_OFFERER, mtu);
  /* The offer leaves from description_cb; run the loop until the answer is there. */
  for (GPollFD pfd = { c2p[0], G_IO_IN, 0 }; g_poll (&pfd, 1, 0) == 0;)
    g_main_context_iteration (NULL, TRUE);
  answer = get (c2p[0]);
  if (!pp_webrtc_transport_set_remote_description (p.t, answer, &error))
    g_error ("answer: %s", error->message);
  g_unix_fd_add (c2p[0], G_IO_IN, result_cb, &p);
  g_main_loop_run (p.loop);
  real_mtu = pp_webrtc_transport_get_sctp_mtu (p.t);
  secs = (p.t1 - p.t0) / 1e6;
  gb = (double) p.total / 1e9;
  mbit = p.total * 8 / secs / 1e6;
  g_array_sort (p.rtts, cmp_i64);
  printf ("webrtc native sctp_mtu=%u path=%s mib=%" G_GUINT64_FORMAT " seconds=%.3f "
          "mbit_s=%.0f cpu_s_per_gb_sender=%.2f cpu_s_per_gb_receiver=%.2f "
          "rtt_us_median=%" G_GINT64_FORMAT " rtt_us_p99=%" G_GINT64_FORMAT "\n",
          real_mtu, mtu ? "loopback-forced" : "loopback", mib, secs, mbit, p.cpu0 / gb,
          p.child_cpu / gb,
          p.rtts->len ? g_array_index (p.rtts, gint64, p.rtts->len / 2) : -1,
          p.rtts->len ? g_array_index (p.rtts, gint64, p.rtts->len * 99 / 100) : -1);
  fflush (stdout);
  free_peer (&p);
  close (p2c[1]);
  close (c2p[0]);
  waitpid (pid, NULL, 0);
  return mbit;
}

/* ---- Chromium against Chromium ---- */

static const char chromium_page[] =
  "<!DOCTYPE html><html><body><script>\n"
  "(async () => {\n"
  "  const TOTAL = %" G_GUINT64_FORMAT " * 1048576, CH = 65536;\n"
  "  const a = new RTCPeerConnection(), b = new RTCPeerConnection();\n"
  "  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);\n"
  "  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);\n"
  "  const da = a.createDataChannel('data', {negotiated: true, id: 0, ordered: false});\n"
  "  const db = b.createDataChannel('data', {negotiated: true, id: 0, ordered: false});\n"
  "  da.binaryType = db.binaryType = 'arraybuffer';\n"
  "  await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);\n"
  "  await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);\n"
  "  await new Promise((r) => da.readyState === 'open' ? r() : (da.onopen = r));\n"
  "  const chunk = new ArrayBuffer(CH); let sent = 0, got = 0;\n"
  "  const t0 = performance.now();\n"
  "  const done = new Promise((r) => db.onmessage = (e) => {\n"
  "    got += e.data.byteLength; if (got >= TOTAL) r(); });\n"
  "  da.bufferedAmountLowThreshold = 1 << 20;\n"
  "  const pump = () => { while (sent < TOTAL && da.bufferedAmount < (4 << 20)) {\n"
  "    da.send(chunk); sent += CH; } };\n"
  "  da.onbufferedamountlow = pump; pump(); await done;\n"
  "  const ms = performance.now() - t0;\n"
  "  db.onmessage = (e) => db.send(e.data);\n"
  "  const rtts = []; const one = new Uint8Array(1);\n"
  "  for (let i = 0; i < %d; i++) {\n"
  "    const p = new Promise((r) => da.onmessage = r); const s = performance.now();\n"
  "    da.send(one); await p; rtts.push((performance.now() - s) * 1000); }\n"
  "  rtts.sort((x, y) => x - y);\n"
  "  console.log('PPBENCH ' + ms + ' ' + rtts[rtts.length >> 1]);\n"
  "})().catch((e) => console.log('PPBENCH error ' + e));\n"
  "</script></body></html>\n";

static void
child_setup (gpointer data)
{
  setpgid (0, 0);
  prctl (PR_SET_PDEATHSIG, SIGKILL);   /* a benchmark killed midway takes Chromium along */
}

/* Returns Mbit/s, or 0 when Chromium is missing or failed. */
static double
run_chromium (uint64_t mib)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("pp-bench-chromium-XXXXXX", &error);
  g_autofree char *page = NULL, *html = NULL, *url = NULL, *profile = NULL, *rm = NULL;
  const char *argv[16];
  GPid pid;
  int err_fd;
  g_autoptr (GString) out = g_string_new (NULL);
  gint64 deadline = g_get_monotonic_time () + 600 * G_USEC_PER_SEC;
  double ms = 0, rtt = 0;
  const char *hit = NULL;

  if (dir == NULL)
    return 0;
  page = g_build_filename (dir, "bench.html", NULL);
  html = g_strdup_printf (chromium_page, mib, PINGS);
  g_file_set_contents (page, html, -1, NULL);
  url = g_strconcat ("file://", page, NULL);
  profile = g_strdup_printf ("--user-data-dir=%s/profile", dir);
  argv[0] = "chromium"; argv[1] = "--headless=new"; argv[2] = "--no-sandbox";
  argv[3] = "--disable-gpu"; argv[4] = "--disable-background-networking";
  argv[5] = "--disable-component-update"; argv[6] = "--no-first-run";
  argv[7] = "--disable-dev-shm-usage"; argv[8] = "--enable-logging=stderr";
  argv[9] = profile; argv[10] = url; argv[11] = NULL;
  if (!g_spawn_async_with_pipes (NULL, (char **) argv, NULL,
                                 G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD
                                   | G_SPAWN_STDOUT_TO_DEV_NULL,
                                 child_setup, NULL, &pid, NULL, NULL, &err_fd, &error))
    {
      printf ("webrtc chromium skipped: %s\n", error->message);
      return 0;
    }
  while (g_get_monotonic_time () < deadline)
    {
      char buf[4096];
      GPollFD pfd = { err_fd, G_IO_IN | G_IO_HUP, 0 };
      ssize_t n;
      if (g_poll (&pfd, 1, 1000) <= 0)
        continue;
      n = read (err_fd, buf, sizeof buf);
      if (n <= 0)
        break;
      g_string_append_len (out, buf, n);
      hit = strstr (out->str, "PPBENCH ");
      if (hit != NULL && strchr (hit, '"') != NULL)
        break;
    }
  kill (-pid, SIGKILL);
  kill (pid, SIGKILL);
  waitpid (pid, NULL, 0);
  g_spawn_close_pid (pid);
  while (waitpid (-1, NULL, WNOHANG) > 0)
    ;
  close (err_fd);
  rm = g_strdup_printf ("rm -rf '%s'", dir);
  g_spawn_command_line_sync (rm, NULL, NULL, NULL, NULL);
  if (hit == NULL || sscanf (hit, "PPBENCH %lf %lf", &ms, &rtt) != 2 || ms <= 0)
    {
      printf ("webrtc chromium failed: %.200s\n", hit ? hit : "no result");
      return 0;
    }
  printf ("webrtc chromium two-peerconnections mib=%" G_GUINT64_FORMAT " seconds=%.3f "
          "mbit_s=%.0f rtt_us_median=%.0f\n", mib, ms / 1000, (mib << 20) * 8 / (ms / 1000) / 1e6,
          rtt);
  fflush (stdout);
  return (mib << 20) * 8 / (ms / 1000) / 1e6;
}

int
main (int argc, char **argv)
{
  uint64_t mib = argc > 1 ? g_ascii_strtoull (argv[1], NULL, 10) : 1024;
  uint64_t cmib = argc > 2 ? g_ascii_strtoull (argv[2], NULL, 10) : 256;
  double big, small, chrome;

  prctl (PR_SET_CHILD_SUBREAPER, 1);
  signal (SIGPIPE, SIG_IGN);
  big = run_native (0, mib);
  small = run_native (1200, mib);
  chrome = cmib > 0 ? run_chromium (cmib) : 0;
  if (chrome > 0)
    printf ("webrtc ratio native_mtu16384/chromium=%.2f native_mtu1200/chromium=%.2f\n",
            big / chrome, small / chrome);
  return 0;
}
