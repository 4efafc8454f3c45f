/* SPDX-License-Identifier: MIT
 *
 * pp-status: a one-second timer that samples every followed tunnel — mux
 * payload counters for rates (bytes the apps moved, not protocol overhead),
 * the transport's selected pair, the tunnel's last PING round trip — and
 * turns the sample into the status line or `stats`/`path` events.  The pair
 * text comes from the transport ("direct udp A:P <-> B:Q (host/srflx)"); it
 * is escaped before it is shown, as anything from the network.  With --json
 * it also turns each tunnel's connection observer into `socket-opened`,
 * `socket-closed` and (host) `refused` events; a peer's CONNECTs that never
 * opened are rate-limited, as a peer alone decides how many it sends.  It must
 * not call anything that changes a tunnel.
 */
#include "app/pp-status.h"

#include <string.h>

typedef struct
{
  PpTunnel *tun;
  char *peer;                  /* escaped, or NULL */
  uint64_t last_in, last_out;  /* mux payload totals at the last sample */
  int64_t last_time;           /* monotonic µs; 0 before the first sample */
  double rate_in, rate_out;    /* bytes/s over the last interval */
  char *path;                  /* escaped pair text, or NULL before it is known */
  PpStatusTicker *st;
  int64_t limit_start;         /* monotonic µs: the current one-second window */
  guint limit_count;           /* unopened connections reported in it */
  guint64 suppressed;          /* left out since the last `suppressed` event */
} PpStatusTunnel;

struct _PpStatusTicker
{
  PpConsole *console;
  PpSession *s;
  char *state;
  GPtrArray *tunnels;          /* of PpStatusTunnel */
  guint timer;
};

static void
pp_status_tunnel_free (gpointer data)
{
  PpStatusTunnel *t = data;

  pp_tunnel_set_conn_func (t->tun, NULL, NULL);
  g_free (t->peer);
  g_free (t->path);
  g_free (t);
}

static gboolean
pp_status_is_open (PpTunnel *tun)
{
  PpMux *mux = pp_tunnel_get_mux (tun);

  return pp_mux_is_ready (mux) && !pp_mux_is_closed (mux);
}

/* --- the `path` event --- */

/* "direct udp 192.0.2.1:5000 <-> 192.0.2.7:6000 (host/srflx)": the kind
 * is "relay" when either end is, else the more telling of the two. */
static const char *
pp_status_path_kind (const char *pair)
{
  const char *types = strrchr (pair, '(');

  if (types == NULL)
    return "unknown";
  if (strstr (types, "relay") != NULL)
    return "relay";
  if (strstr (types, "srflx") != NULL)
    return "srflx";
  if (strstr (types, "prflx") != NULL)
    return "prflx";
  return strstr (types, "host") != NULL ? "host" : "unknown";
}

static void
pp_status_emit_path (PpStatusTicker *st, PpStatusTunnel *t, const char *pair)
{
  g_auto (GStrv) words = g_strsplit (pair, " ", -1);
  PpJsonEvent *ev = pp_event_new ("path", g_get_real_time ());
  gboolean parsed = g_strv_length (words) >= 5 && g_str_equal (words[3], "<->");

  pp_event_add_string (ev, "kind", pp_status_path_kind (pair));
  pp_event_add_bool (ev, "relayed", g_str_has_prefix (pair, "relayed "));
  pp_event_add_string (ev, "local", parsed ? words[2] : "");
  pp_event_add_string (ev, "remote", parsed ? words[4] : "");
  pp_event_add_string (ev, "protocol", parsed ? words[1] : "");
  pp_event_add_string (ev, "pair", pair);
  if (t->peer != NULL)
    pp_event_add_string (ev, "peer_name", t->peer);
  pp_session_emit (st->s, ev);
}

static void
pp_status_check_path (PpStatusTicker *st, PpStatusTunnel *t)
{
  PpTransportStats ts;
  g_autofree char *path = NULL;

  pp_transport_get_stats (pp_tunnel_get_transport (t->tun), &ts);
  if (ts.path[0] == '\0' || g_str_equal (ts.path, "not connected"))
    return;
  path = pp_session_escape (ts.path);
  if (t->path != NULL && g_str_equal (t->path, path))
    return;
  g_free (t->path);
  t->path = g_steal_pointer (&path);
  pp_status_emit_path (st, t, t->path);
}

/* --- connections --- */

static void
pp_status_add_peer (PpJsonEvent *ev, PpStatusTunnel *t)
{
  if (t->peer != NULL)
    pp_event_add_string (ev, "peer_name", t->peer);
}

static void
pp_status_emit_opened (PpStatusTunnel *t, const PpTcpConnEvent *ce)
{
  PpJsonEvent *ev = pp_event_new ("socket-opened", g_get_real_time ());
  g_autofree char *tuple = pp_tuple_to_string (ce->tuple);
  g_autofree char *via = ce->via ? g_strdup_printf ("#%u", ce->via) : NULL;

  pp_event_add_int (ev, "id", (int64_t) ce->id);
  pp_event_add_string (ev, "tuple", tuple);
  if (ce->name != NULL)
    pp_event_add_bytes (ev, "name", (const uint8_t *) ce->name, strlen (ce->name));
  else
    pp_event_add_null (ev, "name");
  if (via != NULL)
    pp_event_add_string (ev, "via", via);
  else
    pp_event_add_null (ev, "via");
  pp_status_add_peer (ev, t);
  pp_session_emit (t->st->s, ev);
}

static void
pp_status_emit_closed (PpStatusTunnel *t, const PpTcpConnEvent *ce)
{
  PpJsonEvent *ev = pp_event_new ("socket-closed", g_get_real_time ());
  g_autofree char *tuple = pp_tuple_to_string (ce->tuple);

  pp_event_add_int (ev, "id", (int64_t) ce->id);
  pp_event_add_int (ev, "reason", ce->reason);
  pp_event_add_string (ev, "reason_name", pp_close_reason_name (ce->reason));
  pp_event_add_bytes (ev, "detail", (const uint8_t *) ce->detail, strlen (ce->detail));
  pp_event_add_int (ev, "bytes_in", (int64_t) ce->bytes_in);
  pp_event_add_int (ev, "bytes_out", (int64_t) ce->bytes_out);
  pp_event_add_bool (ev, "opened", ce->opened);
  pp_event_add_string (ev, "tuple", tuple);
  pp_status_add_peer (ev, t);
  pp_session_emit (t->st->s, ev);
}

static void
pp_status_emit_refused (PpStatusTunnel *t, const PpTcpConnEvent *ce)
{
  PpJsonEvent *ev = pp_event_new ("refused", g_get_real_time ());
  g_autofree char *tuple = pp_tuple_to_string (ce->tuple);

  pp_event_add_string (ev, "tuple", tuple);
  if (ce->name != NULL)
    pp_event_add_bytes (ev, "name", (const uint8_t *) ce->name, strlen (ce->name));
  else
    pp_event_add_null (ev, "name");
  pp_event_add_bytes (ev, "why", (const uint8_t *) ce->detail, strlen (ce->detail));
  pp_status_add_peer (ev, t);
  pp_session_emit (t->st->s, ev);
}

/* After a window in which lines were left out: how many. */
static void
pp_status_flush_suppressed (PpStatusTunnel *t, int64_t now)
{
  PpJsonEvent *ev;

  if (t->suppressed == 0 || now - t->limit_start < PP_STATUS_LIMIT_WINDOW_US)
    return;
  ev = pp_event_new ("suppressed", g_get_real_time ());
  pp_event_add_int (ev, "count", (int64_t) t->suppressed);
  pp_status_add_peer (ev, t);
  pp_session_emit (t->st->s, ev);
  t->suppressed = 0;
}

/* Host: the peer alone decides how many CONNECTs fail; at most
 * PP_STATUS_LIMIT_PER_WINDOW lines a second about them. */
static gboolean
pp_status_limit (PpStatusTunnel *t)
{
  int64_t now = g_get_monotonic_time ();

  pp_status_flush_suppressed (t, now);
  if (now - t->limit_start >= PP_STATUS_LIMIT_WINDOW_US)
    {
      t->limit_start = now;
      t->limit_count = 0;
    }
  if (t->limit_count < PP_STATUS_LIMIT_PER_WINDOW)
    {
      t->limit_count++;
      return TRUE;
    }
  t->suppressed++;
  return FALSE;
}

static void
pp_status_conn_cb (PpTunnel *tun, const PpTcpConnEvent *ce, gpointer user_data)
{
  PpStatusTunnel *t = user_data;
  gboolean host = pp_tunnel_get_host (tun) != NULL;

  if (!t->st->s->json)
    return;
  switch (ce->type)
    {
    case PP_TCP_CONN_OPENED:
      pp_status_emit_opened (t, ce);
      return;
    case PP_TCP_CONN_CLOSED:
      if (host && !ce->opened && !pp_status_limit (t))
        return;
      if (host && !ce->opened && ce->reason == PP_CLOSE_REFUSED)
        pp_status_emit_refused (t, ce);
      else
        pp_status_emit_closed (t, ce);
      return;
    }
}

/* --- sampling --- */

static void
pp_status_sample (PpStatusTunnel *t, const PpMuxStats *ms, int64_t now)
{
  double dt = (now - t->last_time) / 1e6;

  if (t->last_time != 0 && dt > 0)
    {
      t->rate_in = (double) (ms->bytes_in - t->last_in) / dt;
      t->rate_out = (double) (ms->bytes_out - t->last_out) / dt;
    }
  t->last_in = ms->bytes_in;
  t->last_out = ms->bytes_out;
  t->last_time = now;
}

static void
pp_status_emit_stats (PpStatusTicker *st, PpStatusTunnel *t, const PpMuxStats *ms)
{
  PpJsonEvent *ev = pp_event_new ("stats", g_get_real_time ());
  int64_t rtt = pp_tunnel_get_rtt (t->tun);

  if (rtt >= 0)
    pp_event_add_double (ev, "rtt_ms", rtt / 1000.0);
  else
    pp_event_add_null (ev, "rtt_ms");
  pp_event_add_double (ev, "rate_in", t->rate_in);
  pp_event_add_double (ev, "rate_out", t->rate_out);
  pp_event_add_int (ev, "bytes_in", (int64_t) ms->bytes_in);
  pp_event_add_int (ev, "bytes_out", (int64_t) ms->bytes_out);
  pp_event_add_int (ev, "sockets", ms->sockets);
  pp_event_add_int (ev, "tuples", ms->tuples);
  pp_event_add_int (ev, "buffered",
                    (int64_t) pp_transport_get_buffered_amount (pp_tunnel_get_transport (t->tun)));
  if (t->peer != NULL)
    pp_event_add_string (ev, "peer_name", t->peer);
  pp_session_emit (st->s, ev);
}

/* The line: one open tunnel shows its pair and RTT; several show a count. */
static void
pp_status_show_line (PpStatusTicker *st)
{
  PpStatus line = { .state = st->state, .rtt_us = -1 };
  g_autofree char *peers = NULL;
  g_autofree char *text = NULL;
  guint n_open = 0;

  for (guint i = 0; i < st->tunnels->len; i++)
    {
      PpStatusTunnel *t = st->tunnels->pdata[i];
      PpMuxStats ms;

      if (!pp_status_is_open (t->tun))
        continue;
      pp_mux_get_stats (pp_tunnel_get_mux (t->tun), &ms);
      n_open++;
      line.state = "open";
      line.path = t->path;
      line.rtt_us = pp_tunnel_get_rtt (t->tun);
      line.rate_in += t->rate_in;
      line.rate_out += t->rate_out;
      line.sockets += ms.sockets;
    }
  if (n_open > 1)
    {
      line.path = peers = g_strdup_printf ("%u peers", n_open);
      line.rtt_us = -1;
    }
  text = pp_status_format (&line);
  pp_console_set_status (st->console, text);
}

void
pp_status_ticker_update (PpStatusTicker *st)
{
  int64_t now = g_get_monotonic_time ();

  if (st->s->ending)
    {
      if (st->console != NULL)
        pp_console_set_status (st->console, NULL);
      return;
    }
  for (guint i = 0; i < st->tunnels->len; i++)
    {
      PpStatusTunnel *t = st->tunnels->pdata[i];
      PpMuxStats ms;

      if (st->s->json)
        pp_status_flush_suppressed (t, now);
      if (!pp_status_is_open (t->tun))
        continue;
      pp_mux_get_stats (pp_tunnel_get_mux (t->tun), &ms);
      pp_status_sample (t, &ms, now);
      pp_status_check_path (st, t);
      if (st->s->json)
        pp_status_emit_stats (st, t, &ms);
    }
  if (st->console != NULL && !st->s->json)
    pp_status_show_line (st);
}

static gboolean
pp_status_tick_cb (gpointer user_data)
{
  pp_status_ticker_update (user_data);
  return G_SOURCE_CONTINUE;
}

/* --- the `status` command --- */

static void
pp_status_describe_one (PpStatusTunnel *t, GString *out)
{
  PpMuxStats ms;
  int64_t rtt = pp_tunnel_get_rtt (t->tun);
  g_autofree char *rin = pp_format_bytes (t->rate_in);
  g_autofree char *rout = pp_format_bytes (t->rate_out);
  g_autofree char *tin = NULL;
  g_autofree char *tout = NULL;

  pp_mux_get_stats (pp_tunnel_get_mux (t->tun), &ms);
  tin = pp_format_bytes ((double) ms.bytes_in);
  tout = pp_format_bytes ((double) ms.bytes_out);
  if (t->peer != NULL)
    g_string_append_printf (out, "peer: %s\n", t->peer);
  g_string_append_printf (out, "state: %s\n", pp_status_is_open (t->tun) ? "open"
                          : pp_mux_is_closed (pp_tunnel_get_mux (t->tun)) ? "closed"
                          : "connecting");
  g_string_append_printf (out, "path: %s\n", t->path != NULL ? t->path : "not connected");
  if (rtt >= 0)
    g_string_append_printf (out, "rtt: %.1f ms\n", rtt / 1000.0);
  else
    g_string_append (out, "rtt: unknown\n");
  g_string_append_printf (out, "in: %s/s (%s in all)\nout: %s/s (%s in all)\n", rin, tin, rout,
                          tout);
  g_string_append_printf (out, "sockets: %u\n", ms.sockets);
}

void
pp_status_ticker_describe (PpStatusTicker *st, GString *out)
{
  guint n_open = 0;

  for (guint i = 0; i < st->tunnels->len; i++)
    n_open += pp_status_is_open (((PpStatusTunnel *) st->tunnels->pdata[i])->tun);
  if (n_open == 0)
    {
      g_string_append_printf (out, "state: %s\n", st->state);
      return;
    }
  for (guint i = 0; i < st->tunnels->len; i++)
    pp_status_describe_one (st->tunnels->pdata[i], out);
}

/* --- life --- */

PpStatusTicker *
pp_status_ticker_new (PpConsole *console, PpSession *s)
{
  PpStatusTicker *st = g_new0 (PpStatusTicker, 1);

  st->console = console;
  st->s = s;
  st->state = g_strdup ("starting");
  st->tunnels = g_ptr_array_new_with_free_func (pp_status_tunnel_free);
  st->timer = g_timeout_add (PP_STATUS_INTERVAL_MS, pp_status_tick_cb, st);
  return st;
}

void
pp_status_ticker_free (PpStatusTicker *st)
{
  if (st == NULL)
    return;
  g_source_remove (st->timer);
  if (st->console != NULL)
    pp_console_set_status (st->console, NULL);
  g_ptr_array_unref (st->tunnels);
  g_free (st->state);
  g_free (st);
}

void
pp_status_ticker_set_state (PpStatusTicker *st, const char *state)
{
  g_free (st->state);
  st->state = g_strdup (state);
  pp_status_ticker_update (st);
}

void
pp_status_ticker_add_tunnel (PpStatusTicker *st, PpTunnel *tun, const char *peer)
{
  PpStatusTunnel *t = g_new0 (PpStatusTunnel, 1);

  t->tun = tun;
  t->st = st;
  t->peer = g_strdup (peer);
  g_ptr_array_add (st->tunnels, t);
  pp_tunnel_set_conn_func (tun, pp_status_conn_cb, t);
}

void
pp_status_ticker_remove_tunnel (PpStatusTicker *st, PpTunnel *tun)
{
  for (guint i = 0; i < st->tunnels->len; i++)
    if (((PpStatusTunnel *) st->tunnels->pdata[i])->tun == tun)
      {
        g_ptr_array_remove_index (st->tunnels, i);
        return;
      }
}
