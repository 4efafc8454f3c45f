/* SPDX-License-Identifier: MIT
 *
 * pp-sctp: usrsctp in no-threads mode, tuned as libdatachannel plus
 * sack_freq 4 and CRC32c offload (research/webrtc-c.md §4, design-review
 * §D).  usrsctp is entered only from pp_sctp_* calls and from the timer
 * source; its upcall only sets a flag, and reading and flushing happen
 * after usrsctp has returned.  conn_output finds its association through
 * an id registry, because usrsctp may still call it after close (#405).
 */
#include "pp-sctp.h"

#include <errno.h>
#include <string.h>
#include <usrsctp.h>

#include "pp-crc32c.h"
#include "pp-dcep.h"
#include "transport/pp-transport.h"

/* Not in usrsctp.h, but handled by its getsockopt (netinet/sctp.h). */
#ifndef SCTP_GET_SNDBUF_USE
#define SCTP_GET_SNDBUF_USE 0x00001101
struct sctp_sockstat
{
  sctp_assoc_t ss_assoc_id;
  uint32_t ss_total_sndbuf;
  uint32_t ss_total_recv_buf;
};
#endif

#define PPID_STRING 51
#define PPID_STRING_PARTIAL 52
#define PPID_BINARY 53
#define PPID_BINARY_PARTIAL 54
#define PPID_STRING_EMPTY 56
#define PPID_BINARY_EMPTY 57
#define TICK_MS 10
#define RECV_BUF (256 * 1024)
#define MAX_MESSAGE (16 * 1024 * 1024)
#define BUFFER_SPACE (4 * 1024 * 1024)
/* Packets usrsctp may hold beyond its congestion window (see in_flight_limit()). */
#define RESERVE_PACKETS 2
/* The stall watchdog (check_stall()): no acknowledgement for this long with
 * data outstanding and at least OPEN_RWND in the peer's window; each kick
 * lowers the path MTU by KICK_STEP, never below KICK_FLOOR. */
#define STALL_US (3 * G_USEC_PER_SEC)
#define KICK_STEP 8
#define KICK_FLOOR 1100
#define OPEN_RWND (64 * 1024)

struct _PpSctp
{
  guint id;                     /* registry key, passed to usrsctp as the address */
  GMainContext *context;
  PpSctpCallbacks cb;
  gpointer user_data;
  struct socket *sock;
  gboolean started;
  gboolean open;
  gboolean closed;
  gboolean want_read;
  guint depth;                  /* nested process() calls */
  gboolean free_pending;        /* pp_sctp_free from inside a callback */
  GQueue queue;                 /* GBytes for stream 0 */
  size_t queued_bytes;
  size_t in_usrsctp;            /* last SCTP_GET_SNDBUF_USE */
  GByteArray *msg;              /* data being reassembled (until MSG_EOR) */
  uint32_t msg_ppid;
  uint16_t msg_sid;
  GByteArray *notif;            /* notification being reassembled */
  uint8_t *rbuf;
  guint dcep_acks;
  guint dcep_refused;
  guint peer_resets;
  uint16_t remote_port;         /* for SCTP_PEER_ADDR_PARAMS after the start */
  guint heartbeat_ms;
  size_t mtu;                   /* the path MTU we set last */
  gint64 progress_us;           /* when usrsctp's send buffer last shrank */
  guint kicks;
};

static struct
{
  gboolean initialized;
  GHashTable *live;             /* id → PpSctp */
  guint next_id;
  guint associations;           /* started and not closed */
  GSource *timer;
  gint64 last_tick_us;
} G;

static void process (PpSctp *s);
static void reset_stream (PpSctp *s, uint16_t sid);

/* ---- global state ---- */

static PpSctp *
lookup (void *addr)
{
  return G.live ? g_hash_table_lookup (G.live, addr) : NULL;
}

static int
conn_output (void *addr, void *buffer, size_t length, uint8_t tos, uint8_t set_df)
{
  PpSctp *s = lookup (addr);

  if (s == NULL || s->cb.output_cb == NULL)
    return 0;   /* while closing we still send: the ABORT leaves here */
  pp_crc32c_sctp_fill (buffer, length);
  s->cb.output_cb (buffer, length, s->user_data);
  return 0;
}

static void
apply_sysctls (void)
{
  usrsctp_sysctl_set_sctp_sendspace (BUFFER_SPACE);
  usrsctp_sysctl_set_sctp_recvspace (BUFFER_SPACE);
  usrsctp_sysctl_set_sctp_max_chunks_on_queue (10 * 1024);
  usrsctp_sysctl_set_sctp_initial_cwnd (10);
  usrsctp_sysctl_set_sctp_max_burst_default (10);
  usrsctp_sysctl_set_sctp_default_cc_module (0);
  usrsctp_sysctl_set_sctp_delayed_sack_time_default (20);
  usrsctp_sysctl_set_sctp_sack_freq_default (4);
  usrsctp_sysctl_set_sctp_rto_min_default (200);
  usrsctp_sysctl_set_sctp_rto_max_default (10000);
  usrsctp_sysctl_set_sctp_rto_initial_default (1000);
  usrsctp_sysctl_set_sctp_init_rto_max_default (10000);
  usrsctp_sysctl_set_sctp_init_rtx_max_default (5);
  usrsctp_sysctl_set_sctp_assoc_rtx_max_default (5);
  usrsctp_sysctl_set_sctp_path_rtx_max_default (5);
  usrsctp_sysctl_set_sctp_heartbeat_interval_default (10000);
  usrsctp_sysctl_set_sctp_nrsack_enable (0);
  usrsctp_sysctl_set_sctp_ecn_enable (0);
  usrsctp_sysctl_set_sctp_pr_enable (1);
  usrsctp_sysctl_set_sctp_asconf_enable (0);
  usrsctp_sysctl_set_sctp_auto_asconf (0);
  usrsctp_sysctl_set_sctp_blackhole (2);
}

static void
global_init (void)
{
  if (G.initialized)
    return;
  usrsctp_init_nothreads (0, conn_output, NULL);
  usrsctp_enable_crc32c_offload ();
  apply_sysctls ();
  G.live = g_hash_table_new (NULL, NULL);
  G.initialized = TRUE;
}

static gboolean
tick_cb (gpointer data)
{
  gint64 now = g_get_monotonic_time ();
  gint64 ms = (now - G.last_tick_us) / 1000;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (guint));
  GHashTableIter it;
  gpointer key;

  if (ms <= 0)
    return G_SOURCE_CONTINUE;
  G.last_tick_us += ms * 1000;
  usrsctp_handle_timers ((uint32_t) MIN (ms, 10000));
  /* Timers may have queued SACKs, data or notifications: let each catch up. */
  g_hash_table_iter_init (&it, G.live);
  while (g_hash_table_iter_next (&it, &key, NULL))
    {
      guint id = GPOINTER_TO_UINT (key);
      g_array_append_val (ids, id);
    }
  for (guint i = 0; i < ids->len; i++)
    {
      PpSctp *s = lookup (GUINT_TO_POINTER (g_array_index (ids, guint, i)));
      if (s != NULL)
        process (s);   /* a callback may have freed others: look each up again */
    }
  return G_SOURCE_CONTINUE;
}

static void
associations_changed (GMainContext *context)
{
  if (G.associations > 0 && G.timer == NULL)
    {
      G.last_tick_us = g_get_monotonic_time ();
      G.timer = g_timeout_source_new (TICK_MS);
      g_source_set_callback (G.timer, tick_cb, NULL, NULL);
      g_source_set_static_name (G.timer, "pp-sctp-timers");
      g_source_attach (G.timer, context);
    }
  else if (G.associations == 0 && G.timer != NULL)
    {
      g_source_destroy (G.timer);
      g_clear_pointer (&G.timer, g_source_unref);
    }
}

/* ---- socket ---- */

static void
upcall (struct socket *sock, void *arg, int flags)
{
  PpSctp *s = lookup (arg);

  if (s != NULL)
    s->want_read = TRUE;   /* work happens in process(), after usrsctp returns */
}

static void
setopt (PpSctp *s, int level, int name, const void *val, socklen_t len, const char *what)
{
  if (usrsctp_setsockopt (s->sock, level, name, val, len) < 0)
    g_warning ("SCTP: cannot set %s: %s", what, g_strerror (errno));
}

static void
configure_socket (PpSctp *s)
{
  struct linger lin = { 1, 0 };   /* close = ABORT: SCTP must not outlive DTLS */
  struct sctp_assoc_value av = { .assoc_id = SCTP_ALL_ASSOC,
                                 .assoc_value = SCTP_ENABLE_RESET_STREAM_REQ };
  struct sctp_initmsg init = { .sinit_num_ostreams = 1024, .sinit_max_instreams = 1024 };
  static const uint16_t events[] = { SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT,
                                     SCTP_SHUTDOWN_EVENT, SCTP_REMOTE_ERROR };
  int one = 1, zero = 0;

  usrsctp_set_non_blocking (s->sock, 1);
  setopt (s, SOL_SOCKET, SO_LINGER, &lin, sizeof lin, "SO_LINGER");
  setopt (s, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &av, sizeof av, "stream reset");
  setopt (s, IPPROTO_SCTP, SCTP_NODELAY, &one, sizeof one, "NODELAY");
  setopt (s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &one, sizeof one, "RECVRCVINFO");
  setopt (s, IPPROTO_SCTP, SCTP_FRAGMENT_INTERLEAVE, &zero, sizeof zero, "interleave");
  setopt (s, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init, "INITMSG");
  for (size_t i = 0; i < G_N_ELEMENTS (events); i++)
    {
      struct sctp_event ev = { .se_assoc_id = SCTP_ALL_ASSOC, .se_type = events[i], .se_on = 1 };
      setopt (s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev, "SCTP_EVENT");
    }
}

static struct sockaddr_conn
conn_addr (PpSctp *s, uint16_t port)
{
  struct sockaddr_conn a;

  memset (&a, 0, sizeof a);
  a.sconn_family = AF_CONN;
  a.sconn_port = g_htons (port);
  a.sconn_addr = GUINT_TO_POINTER (s->id);
  return a;
}

/* @demand sends a heartbeat at once, which also runs usrsctp's output path. */
static void
set_path (PpSctp *s, gboolean demand)
{
  struct sctp_paddrparams spp;
  struct sockaddr_conn remote = conn_addr (s, s->remote_port);

  memset (&spp, 0, sizeof spp);
  memcpy (&spp.spp_address, &remote, sizeof remote);
  spp.spp_flags = SPP_PMTUD_DISABLE | SPP_HB_ENABLE | (demand ? SPP_HB_DEMAND : 0);
  /* usrsctp 0.9.5 adds the 12-byte common header on top of the AF_CONN path MTU. */
  spp.spp_pathmtu = (uint32_t) s->mtu - 12;
  spp.spp_hbinterval = s->heartbeat_ms;
  setopt (s, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &spp, sizeof spp, "path MTU");
}

/* ---- lifecycle ---- */

PpSctp *
pp_sctp_new (GMainContext *context, const PpSctpCallbacks *callbacks, gpointer user_data)
{
  PpSctp *s = g_new0 (PpSctp, 1);

  global_init ();
  s->id = ++G.next_id == 0 ? ++G.next_id : G.next_id;
  s->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  s->cb = *callbacks;
  s->user_data = user_data;
  g_queue_init (&s->queue);
  s->msg = g_byte_array_new ();
  s->notif = g_byte_array_new ();
  s->rbuf = g_malloc (RECV_BUF);
  g_hash_table_insert (G.live, GUINT_TO_POINTER (s->id), s);
  usrsctp_register_address (GUINT_TO_POINTER (s->id));
  return s;
}

static void
shut_down (PpSctp *s)
{
  if (s->sock != NULL)
    {
      usrsctp_set_upcall (s->sock, NULL, NULL);
      usrsctp_close (s->sock);   /* SO_LINGER 0: sends ABORT through conn_output */
      s->sock = NULL;
    }
  if (s->started)
    {
      s->started = FALSE;
      G.associations--;
      associations_changed (s->context);
    }
  g_queue_clear_full (&s->queue, (GDestroyNotify) g_bytes_unref);
  s->queued_bytes = 0;
  s->in_usrsctp = 0;
}

static void really_free (PpSctp *s);

/* From inside one of our callbacks the object is only closed and muted;
 * the outermost process() frees it on its way out. */
void
pp_sctp_free (PpSctp *s)
{
  if (s == NULL)
    return;
  s->closed = TRUE;
  s->open = FALSE;
  shut_down (s);
  if (s->depth > 0)
    {
      memset (&s->cb, 0, sizeof s->cb);
      s->free_pending = TRUE;
      return;
    }
  really_free (s);
}

static void
really_free (PpSctp *s)
{
  usrsctp_deregister_address (GUINT_TO_POINTER (s->id));
  g_hash_table_remove (G.live, GUINT_TO_POINTER (s->id));
  g_byte_array_unref (s->msg);
  g_byte_array_unref (s->notif);
  g_free (s->rbuf);
  g_main_context_unref (s->context);
  g_free (s);
}

static void
fail (PpSctp *s, gboolean error, const char *reason)
{
  if (s->closed)
    return;
  s->closed = TRUE;
  s->open = FALSE;
  shut_down (s);
  if (s->cb.closed_cb != NULL)
    s->cb.closed_cb (error, reason, s->user_data);
}

gboolean
pp_sctp_start (PpSctp *s, uint16_t local_port, uint16_t remote_port, size_t mtu,
               guint heartbeat_ms, GError **error)
{
  struct sockaddr_conn local = conn_addr (s, local_port), remote = conn_addr (s, remote_port);

  g_return_val_if_fail (!s->started && !s->closed, FALSE);
  s->sock = usrsctp_socket (AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
  if (s->sock == NULL)
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED,
                   "SCTP: cannot create a socket: %s", g_strerror (errno));
      return FALSE;
    }
  configure_socket (s);
  usrsctp_set_upcall (s->sock, upcall, GUINT_TO_POINTER (s->id));
  s->started = TRUE;
  G.associations++;
  associations_changed (s->context);
  if (usrsctp_bind (s->sock, (struct sockaddr *) &local, sizeof local) < 0
      || (usrsctp_connect (s->sock, (struct sockaddr *) &remote, sizeof remote) < 0
          && errno != EINPROGRESS))
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED,
                   "SCTP: cannot connect: %s", g_strerror (errno));
      shut_down (s);
      return FALSE;
    }
  s->remote_port = remote_port;
  s->mtu = mtu;
  s->heartbeat_ms = heartbeat_ms;
  set_path (s, FALSE);
  process (s);
  return TRUE;
}

void
pp_sctp_reset_channel (PpSctp *s)
{
  if (s->open && !s->closed && s->sock != NULL)
    reset_stream (s, 0);
}

void
pp_sctp_close (PpSctp *s)
{
  s->closed = TRUE;
  s->open = FALSE;
  shut_down (s);
}

gboolean
pp_sctp_is_open (PpSctp *s)
{
  return s->open && !s->closed;
}

/* ---- sending ---- */

static gboolean
sendv (PpSctp *s, uint16_t sid, uint32_t ppid, gboolean unordered, const void *data, size_t len)
{
  struct sctp_sndinfo info = { .snd_sid = sid, .snd_ppid = g_htonl (ppid),
                               .snd_flags = SCTP_EOR | (unordered ? SCTP_UNORDERED : 0) };

  return usrsctp_sendv (s->sock, data, len, NULL, 0, &info, sizeof info, SCTP_SENDV_SNDINFO,
                        0) >= 0;
}

static void
refresh_in_usrsctp (PpSctp *s)
{
  struct sctp_sockstat st = { .ss_assoc_id = SCTP_FUTURE_ASSOC };
  socklen_t len = sizeof st;

  if (s->sock == NULL
      || usrsctp_getsockopt (s->sock, IPPROTO_SCTP, SCTP_GET_SNDBUF_USE, &st, &len) != 0)
    return;
  if (st.ss_total_sndbuf < s->in_usrsctp)
    s->progress_us = g_get_monotonic_time ();
  s->in_usrsctp = st.ss_total_sndbuf;
}

/* What usrsctp may hold: its congestion window (the bytes in flight) plus a
 * few packets ready for the next SACK.  Anything more only queues inside
 * usrsctp's FIFO, where every newer message, from any socket of the tunnel,
 * waits behind it.  A small reserve keeps the pipe full because process()
 * refills usrsctp right after each SACK, before the main loop moves on. */
static size_t
in_flight_limit (PpSctp *s)
{
  PpSctpInfo info;
  size_t mtu;

  pp_sctp_get_info (s, &info);
  mtu = info.mtu > 0 ? info.mtu : s->mtu;
  return (size_t) info.cwnd + RESERVE_PACKETS * MAX (mtu, (size_t) PP_SCTP_MTU_DEFAULT);
}

/* Keeps at most in_flight_limit() inside usrsctp (one message may cross it);
 * the rest stays countable in our queue. */
static void
flush (PpSctp *s)
{
  size_t limit;

  if (!s->open || g_queue_is_empty (&s->queue))
    return;
  refresh_in_usrsctp (s);
  limit = in_flight_limit (s);
  while (!g_queue_is_empty (&s->queue) && s->in_usrsctp < limit && !s->closed)
    {
      GBytes *b = g_queue_peek_head (&s->queue);
      size_t len;
      const void *p = g_bytes_get_data (b, &len);
      static const uint8_t zero = 0;
      gboolean ok = len == 0 ? sendv (s, 0, PPID_BINARY_EMPTY, TRUE, &zero, 1)
                             : sendv (s, 0, PPID_BINARY, TRUE, p, len);
      if (!ok)
        {
          if (errno != EWOULDBLOCK && errno != EAGAIN)
            fail (s, TRUE, "SCTP: send failed");
          break;
        }
      g_queue_pop_head (&s->queue);
      s->queued_bytes -= len;
      if (s->in_usrsctp == 0)
        s->progress_us = g_get_monotonic_time ();   /* the wait for an ack starts now */
      s->in_usrsctp += MAX (len, 1);
      g_bytes_unref (b);
    }
}

gboolean
pp_sctp_send (PpSctp *s, GBytes *msg)
{
  gboolean ok;

  if (s->closed)
    return FALSE;
  g_queue_push_tail (&s->queue, g_bytes_ref (msg));
  s->queued_bytes += g_bytes_get_size (msg);
  s->depth++;
  flush (s);
  ok = !s->closed;
  if (--s->depth == 0 && s->free_pending)
    really_free (s);
  return ok;
}

gboolean
pp__sctp_send_raw (PpSctp *s, uint16_t sid, uint32_t ppid, const void *data, size_t len)
{
  return s->open && !s->closed && sendv (s, sid, ppid, FALSE, data, len);
}

size_t
pp_sctp_get_buffered_amount (PpSctp *s)
{
  return s->queued_bytes + s->in_usrsctp;
}

size_t
pp_sctp_get_send_window (PpSctp *s)
{
  if (!s->open || s->closed || s->sock == NULL)
    return 0;
  return in_flight_limit (s);
}

void
pp_sctp_get_info (PpSctp *s, PpSctpInfo *out)
{
  struct sctp_status st;
  socklen_t len = sizeof st;

  memset (out, 0, sizeof *out);
  memset (&st, 0, sizeof st);
  out->in_usrsctp = s->in_usrsctp;
  out->queued = s->queued_bytes;
  out->stall_kicks = s->kicks;
  out->dcep_acks_received = s->dcep_acks;
  out->dcep_opens_refused = s->dcep_refused;
  out->streams_reset_by_peer = s->peer_resets;
  if (s->sock == NULL || usrsctp_getsockopt (s->sock, IPPROTO_SCTP, SCTP_STATUS, &st, &len) < 0)
    return;
  out->cwnd = st.sstat_primary.spinfo_cwnd;
  out->srtt_ms = st.sstat_primary.spinfo_srtt;
  out->mtu = st.sstat_primary.spinfo_mtu;
  out->peer_rwnd = st.sstat_rwnd;
  out->unacked = st.sstat_unackdata;
  out->pending = st.sstat_penddata;
  out->state = st.sstat_state;
  out->valid = TRUE;
}

/* ---- receiving ---- */

static void
reset_stream (PpSctp *s, uint16_t sid)
{
  size_t len = sizeof (struct sctp_reset_streams) + sizeof (uint16_t);
  g_autofree struct sctp_reset_streams *rs = g_malloc0 (len);

  rs->srs_assoc_id = SCTP_ALL_ASSOC;
  rs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
  rs->srs_number_streams = 1;
  rs->srs_stream_list[0] = sid;
  /* EINVAL: already reset, or a reset is in progress; both are fine. */
  usrsctp_setsockopt (s->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, rs, (socklen_t) len);
}

static void
handle_dcep (PpSctp *s, uint16_t sid, const uint8_t *data, size_t len)
{
  PpDcepMessage m;
  PpDcepStatus st = pp_dcep_parse (data, len, &m);
  static const uint8_t ack = PP_DCEP_ACK;

  switch (pp_dcep_decide (sid, st, &m))
    {
    case PP_DCEP_ACTION_IGNORE:
      s->dcep_acks++;
      return;
    case PP_DCEP_ACTION_ACCEPT:
      sendv (s, sid, PP_DCEP_PPID, FALSE, &ack, 1);
      return;
    case PP_DCEP_ACTION_ACK_AND_RESET:
      s->dcep_refused++;
      sendv (s, sid, PP_DCEP_PPID, FALSE, &ack, 1);
      reset_stream (s, sid);
      return;
    case PP_DCEP_ACTION_RESET:
    default:
      g_debug ("SCTP: stream %u: %s", sid, pp_dcep_status_to_string (st));
      reset_stream (s, sid);
      return;
    }
}

static void
deliver (PpSctp *s, GBytes *msg)
{
  if (s->cb.message_cb != NULL && !s->closed)
    s->cb.message_cb (msg, s->user_data);
}

static void
handle_message (PpSctp *s, uint16_t sid, uint32_t ppid, const uint8_t *data, size_t len)
{
  g_autoptr (GBytes) msg = NULL;

  if (ppid == PP_DCEP_PPID)
    {
      handle_dcep (s, sid, data, len);
      return;
    }
  if (sid != 0)
    return;   /* not our channel: its OPEN was answered with a reset */
  switch (ppid)
    {
    case PPID_STRING_EMPTY:
    case PPID_BINARY_EMPTY:
      msg = g_bytes_new (NULL, 0);
      break;
    case PPID_STRING:
    case PPID_STRING_PARTIAL:
    case PPID_BINARY:
    case PPID_BINARY_PARTIAL:
      msg = g_bytes_new (data, len);
      break;
    default:
      return;
    }
  deliver (s, msg);
}

static void
handle_assoc_change (PpSctp *s, const struct sctp_assoc_change *ac)
{
  switch (ac->sac_state)
    {
    case SCTP_COMM_UP:
      if (s->open)
        return;
      s->open = TRUE;
      if (s->cb.open_cb != NULL)
        s->cb.open_cb (s->user_data);
      return;
    case SCTP_COMM_LOST:
      fail (s, TRUE, "SCTP association lost (peer aborted or stopped answering)");
      return;
    case SCTP_SHUTDOWN_COMP:
      fail (s, FALSE, "peer shut the SCTP association down");
      return;
    case SCTP_CANT_STR_ASSOC:
      fail (s, TRUE, "SCTP association could not be set up");
      return;
    case SCTP_RESTART:
    default:
      return;
    }
}

static void
handle_notification (PpSctp *s, const uint8_t *data, size_t len)
{
  const union sctp_notification *n = (const void *) data;

  if (len < sizeof n->sn_header || n->sn_header.sn_length > len)
    return;
  switch (n->sn_header.sn_type)
    {
    case SCTP_ASSOC_CHANGE:
      if (len >= sizeof n->sn_assoc_change)
        handle_assoc_change (s, &n->sn_assoc_change);
      return;
    case SCTP_SHUTDOWN_EVENT:
      fail (s, FALSE, "peer shut the SCTP association down");
      return;
    case SCTP_STREAM_RESET_EVENT:
      {
        const struct sctp_stream_reset_event *ev = &n->sn_strreset_event;
        size_t count = (len - sizeof *ev) / sizeof (uint16_t);
        if (!(ev->strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN))
          return;
        for (size_t i = 0; i < count; i++)
          {
            if (ev->strreset_stream_list[i] != 0)
              {
                s->peer_resets++;
                continue;
              }
            fail (s, FALSE, "peer closed the data channel");
            return;
          }
        return;
      }
    default:
      return;
    }
}

static void
read_all (PpSctp *s)
{
  while (!s->closed && s->sock != NULL)
    {
      struct sctp_rcvinfo rcv;
      struct sockaddr_conn from;
      socklen_t fromlen = sizeof from, infolen = sizeof rcv;
      unsigned int infotype = 0;
      int flags = 0;
      ssize_t n = usrsctp_recvv (s->sock, s->rbuf, RECV_BUF, (struct sockaddr *) &from, &fromlen,
                                 &rcv, &infolen, &infotype, &flags);
      if (n < 0)
        {
          if (errno != EWOULDBLOCK && errno != EAGAIN)
            fail (s, TRUE, "SCTP: receive failed");
          return;
        }
      if (n == 0)
        {
          fail (s, FALSE, "peer shut the SCTP association down");
          return;
        }
      if (flags & MSG_NOTIFICATION)
        {
          g_byte_array_append (s->notif, s->rbuf, (guint) n);
          if (flags & MSG_EOR)
            {
              handle_notification (s, s->notif->data, s->notif->len);
              g_byte_array_set_size (s->notif, 0);
            }
          continue;
        }
      if (s->msg->len == 0 && infotype == SCTP_RECVV_RCVINFO)
        {
          s->msg_sid = rcv.rcv_sid;
          s->msg_ppid = g_ntohl (rcv.rcv_ppid);
        }
      if (s->msg->len == 0 && (flags & MSG_EOR))
        {
          handle_message (s, s->msg_sid, s->msg_ppid, s->rbuf, (size_t) n);
          continue;
        }
      if (s->msg->len + (size_t) n > MAX_MESSAGE)
        {
          fail (s, TRUE, "SCTP: peer sent a message larger than 16 MiB");
          return;
        }
      g_byte_array_append (s->msg, s->rbuf, (guint) n);
      if (flags & MSG_EOR)
        {
          handle_message (s, s->msg_sid, s->msg_ppid, s->msg->data, s->msg->len);
          g_byte_array_set_size (s->msg, 0);
        }
    }
}

/* usrsctp can stop retransmitting for good: chunks outstanding, flight above
 * cwnd, no T3-rtx timer armed, while heartbeats keep the association alive
 * (sctplab/usrsctp#750; seen here against Chromium under CPU load).  No
 * socket option re-arms T3, but lowering the path MTU marks every full-size
 * outstanding chunk for retransmission and takes it out of the flight, and a
 * demanded heartbeat runs the output path that resends them and arms T3.  A
 * spurious kick costs one window of retransmissions. */
static void
check_stall (PpSctp *s)
{
  PpSctpInfo info;

  if (!s->open || s->closed || s->in_usrsctp == 0
      || g_get_monotonic_time () - s->progress_us < STALL_US)
    return;
  s->progress_us = g_get_monotonic_time ();
  pp_sctp_get_info (s, &info);
  if (!info.valid || info.peer_rwnd < OPEN_RWND || s->mtu < KICK_FLOOR + KICK_STEP)
    return;   /* the peer's window is shut (not our stall), or we gave all we can */
  s->mtu -= KICK_STEP;
  s->kicks++;
  g_debug ("SCTP: no acknowledgement for %d s with %zu bytes outstanding: resending "
           "(path MTU now %zu)", (int) (STALL_US / G_USEC_PER_SEC), s->in_usrsctp, s->mtu);
  set_path (s, TRUE);
}

static void
process (PpSctp *s)
{
  s->depth++;
  if (s->want_read)
    {
      s->want_read = FALSE;
      read_all (s);
    }
  if (s->in_usrsctp > 0 && g_queue_is_empty (&s->queue))
    refresh_in_usrsctp (s);   /* SACKs shrink it; flush() refreshes it otherwise */
  flush (s);
  check_stall (s);
  if (!s->closed && s->cb.drained_cb != NULL)
    s->cb.drained_cb (s->user_data);
  if (--s->depth == 0 && s->free_pending)
    really_free (s);
}

void
pp_sctp_input (PpSctp *s, const uint8_t *packet, size_t len)
{
  if (!s->started || s->closed || s->sock == NULL)
    return;
  usrsctp_conninput (GUINT_TO_POINTER (s->id), packet, len, 0);
  process (s);   /* may free s */
}
