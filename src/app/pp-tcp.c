/* SPDX-License-Identifier: MIT
 *
 * pp-tcp: one app socket ↔ one mux connection.  App → mux: read at most the
 * send budget into the shared buffer, pause EPOLLIN at budget 0 until the mux
 * says WRITABLE.  Mux → app: write peek/consume until EAGAIN, then EPOLLOUT;
 * shutdown(SHUT_WR) at the peer's EOF.  When both directions ended: close()
 * and detach.  Any abnormal end is an RST and no byte is written after it.
 *
 * Mux calls may re-enter (a RESET for this very connection while we are in
 * pp_mux_conn_send), so every entry point holds a reference and checks
 * `dead` after each call into the mux.
 */
#include "app/pp-tcp.h"

#include "app/pp-sys.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct _PpTcpConn
{
  int ref_count;
  PpEpoll *ep;
  PpEpollWatch *watch;
  int fd;
  PpMuxConn *mc;
  gboolean read_eof;       /* the app's EOF was read and FIN queued */
  gboolean wr_shut;        /* shutdown(SHUT_WR) done after the peer's FIN */
  gboolean read_paused;    /* budget 0: waiting for PP_MUX_CONN_EV_WRITABLE */
  gboolean want_out;       /* a write hit EAGAIN: waiting for EPOLLOUT */
  gboolean dead;
  uint64_t from_app;
  uint64_t to_app;
  PpTcpConnFreeFunc free_func;
  gpointer owner_data;
  PpTcpObserver *obs;      /* the owner's, or NULL */
  uint64_t id;
  guint via;
  gboolean opened;
  PpTuple tuple;           /* kept for CLOSED: the mux handle is gone by then */
  char *name;
};

/* One buffer for every socket: a read is handed to the mux (which copies it)
 * before the next read happens, and we are single-threaded. */
static uint8_t pp_tcp_read_buffer[PP_TCP_READ_BUFFER];

PpTcpConn *
pp_tcp_conn_ref (PpTcpConn *c)
{
  c->ref_count++;
  return c;
}

gboolean
pp_tcp_conn_is_dead (PpTcpConn *c)
{
  return c->dead;
}

void
pp_tcp_conn_unref (PpTcpConn *c)
{
  if (--c->ref_count > 0)
    return;
  g_free (c->name);
  g_free (c);
}

PpTcpConn *
pp_tcp_conn_new (PpEpoll *ep, PpTcpConnFreeFunc free_func, gpointer owner_data)
{
  PpTcpConn *c = g_new0 (PpTcpConn, 1);

  c->ref_count = 1;
  c->ep = ep;
  c->fd = -1;
  c->free_func = free_func;
  c->owner_data = owner_data;
  return c;
}

void
pp_tcp_conn_bind (PpTcpConn *c, PpMuxConn *mc)
{
  c->mc = mc;
  pp_mux_conn_set_user_data (mc, c);
}

void
pp_tcp_conn_observe (PpTcpConn *c, PpTcpObserver *obs, guint via)
{
  g_return_if_fail (c->mc != NULL);
  c->obs = obs;
  c->via = via;
  c->id = ++obs->next_id;
  c->tuple = *pp_mux_conn_get_tuple (c->mc);
  c->name = g_strdup (pp_mux_conn_get_name (c->mc));
}

static void
pp_tcp_conn_notify (PpTcpConn *c, PpTcpConnEventType type, uint8_t reason, const char *detail)
{
  PpTcpConnEvent ev = {
    .type = type, .id = c->id, .tuple = &c->tuple, .name = c->name, .via = c->via,
    .opened = c->opened, .reason = reason, .detail = detail ? detail : "",
    .bytes_in = c->to_app, .bytes_out = c->from_app,
  };

  if (c->obs && c->obs->func)
    c->obs->func (&ev, c->obs->user_data);
}

void
pp_tcp_conn_opened (PpTcpConn *c)
{
  if (c->dead || c->opened)
    return;
  c->opened = TRUE;
  pp_tcp_conn_notify (c, PP_TCP_CONN_OPENED, PP_CLOSE_NORMAL, "");
}

PpMuxConn *
pp_tcp_conn_get_mux_conn (PpTcpConn *c)
{
  return c->mc;
}

int
pp_tcp_conn_get_fd (PpTcpConn *c)
{
  return c->fd;
}

gpointer
pp_tcp_conn_get_owner_data (PpTcpConn *c)
{
  return c->owner_data;
}

void
pp_tcp_conn_get_counts (PpTcpConn *c, uint64_t *from_app, uint64_t *to_app)
{
  *from_app = c->from_app;
  *to_app = c->to_app;
}

/* Forgets the mux handle without telling the mux anything more. */
static PpMuxConn *
pp_tcp_conn_steal_mc (PpTcpConn *c)
{
  PpMuxConn *mc = c->mc;

  c->mc = NULL;
  if (mc)
    pp_mux_conn_set_user_data (mc, NULL);
  return mc;
}

/* The end: drops the socket (RST unless @reason is 0), tells the observer
 * and the owner, and releases the reference that kept @c alive. */
static void
pp_tcp_conn_finish (PpTcpConn *c, uint8_t reason, const char *detail)
{
  gboolean graceful = reason == PP_CLOSE_NORMAL;

  if (c->dead)
    return;
  c->dead = TRUE;
  if (c->watch)
    pp_epoll_unwatch (c->watch);
  c->watch = NULL;
  if (c->fd >= 0 && graceful)
    close (c->fd);
  else if (c->fd >= 0)
    pp_sys_close_rst (c->fd);
  c->fd = -1;
  pp_tcp_conn_notify (c, PP_TCP_CONN_CLOSED, reason, detail);
  if (c->free_func)
    c->free_func (c, c->owner_data);
  pp_tcp_conn_unref (c);
}

static void
pp_tcp_conn_log_reset (PpTcpConn *c, PpMuxConn *mc, uint8_t reason, const char *detail)
{
  g_autofree char *tuple = mc ? pp_tuple_to_string (pp_mux_conn_get_tuple (mc)) : NULL;
  g_autofree char *safe = pp_escape ((const uint8_t *) detail, strlen (detail));

  g_message ("connection %s reset: %s%s%s", tuple ? tuple : "(unbound)",
             pp_close_reason_name (reason), *safe ? ": " : "", safe);
}

void
pp_tcp_conn_abort (PpTcpConn *c, PpCloseReason reason, const char *detail)
{
  /* @detail may belong to the owner, which finish() frees. */
  g_autofree char *why = g_strdup (detail ? detail : "");
  PpMuxConn *mc;

  if (c->dead)
    return;
  pp_tcp_conn_ref (c);
  mc = pp_tcp_conn_steal_mc (c);
  pp_tcp_conn_log_reset (c, mc, reason, why);
  /* RST first: no byte may reach the app after the decision. */
  pp_tcp_conn_finish (c, reason == PP_CLOSE_NORMAL ? PP_CLOSE_RESET : reason, why);
  if (mc)
    pp_mux_conn_abort (mc, reason, why);
  pp_tcp_conn_unref (c);
}

static void
pp_tcp_conn_update_events (PpTcpConn *c)
{
  uint32_t ev = 0;

  if (c->dead || !c->watch)
    return;
  if (!c->read_eof && !c->read_paused)
    ev |= EPOLLIN;
  if (c->want_out)
    ev |= EPOLLOUT;
  pp_epoll_watch_set_events (c->watch, ev);
}

/* Both directions ended: a normal close, and the mux sends CLOSE(0). */
static void
pp_tcp_conn_maybe_done (PpTcpConn *c)
{
  PpMuxConn *mc;

  if (c->dead || !c->read_eof || !c->wr_shut)
    return;
  mc = pp_tcp_conn_steal_mc (c);
  pp_tcp_conn_finish (c, PP_CLOSE_NORMAL, "");
  if (mc)
    pp_mux_conn_detach (mc);
}

static void
pp_tcp_conn_io_failed (PpTcpConn *c, const char *what, int errsv)
{
  g_autofree char *detail = g_strdup_printf ("%s: %s", what, g_strerror (errsv));

  pp_tcp_conn_abort (c, PP_CLOSE_RESET, detail);
}

/* App → mux.  Stops at budget 0, EAGAIN, EOF, an error, or the fairness cap. */
static void
pp_tcp_conn_pump_in (PpTcpConn *c)
{
  size_t done = 0;

  for (int i = 0; i < PP_TCP_READS_PER_DISPATCH && done < PP_TCP_BYTES_PER_DISPATCH && !c->dead;
       i++)
    {
      size_t budget = pp_mux_conn_send_budget (c->mc);
      ssize_t n;

      if (budget == 0)
        {
          c->read_paused = TRUE;
          break;
        }
      n = recv (c->fd, pp_tcp_read_buffer, MIN (budget, sizeof pp_tcp_read_buffer), 0);
      if (n > 0)
        {
          c->from_app += (uint64_t) n;
          done += (size_t) n;
          pp_mux_conn_send (c->mc, pp_tcp_read_buffer, (size_t) n);
          continue;
        }
      if (n == 0)
        {
          c->read_eof = TRUE;
          pp_mux_conn_shutdown (c->mc);
          pp_tcp_conn_maybe_done (c);
          break;
        }
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        pp_tcp_conn_io_failed (c, "read from the app", errno);
      break;
    }
  pp_tcp_conn_update_events (c);
}

/* Mux → app: everything queued, then SHUT_WR at the peer's EOF. */
static void
pp_tcp_conn_pump_out (PpTcpConn *c)
{
  const uint8_t *data;
  size_t len;

  c->want_out = FALSE;
  while (!c->dead && (len = pp_mux_conn_peek (c->mc, &data)) > 0)
    {
      ssize_t n = send (c->fd, data, len, MSG_NOSIGNAL);

      if (n > 0)
        {
          c->to_app += (uint64_t) n;
          pp_mux_conn_consume (c->mc, (size_t) n);
          continue;
        }
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        {
          c->want_out = TRUE;
          pp_tcp_conn_update_events (c);
          return;
        }
      pp_tcp_conn_io_failed (c, "write to the app", n < 0 ? errno : EIO);
      return;
    }
  if (c->dead)
    return;
  if (!c->wr_shut && pp_mux_conn_at_eof (c->mc))
    {
      c->wr_shut = TRUE;
      if (shutdown (c->fd, SHUT_WR) < 0 && errno != ENOTCONN)
        {
          pp_tcp_conn_io_failed (c, "shutdown", errno);
          return;
        }
      pp_tcp_conn_maybe_done (c);
    }
  pp_tcp_conn_update_events (c);
}

static void
pp_tcp_conn_epoll_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  PpTcpConn *c = user_data;
  /* Several reads and consumes leave as fewer messages; the mux outlives @c. */
  PpMux *mux = c->mc ? pp_mux_conn_get_mux (c->mc) : NULL;

  pp_tcp_conn_ref (c);
  if (mux)
    pp_mux_cork (mux);
  if (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP) && c->want_out)
    pp_tcp_conn_pump_out (c);
  if (!c->dead && revents & (EPOLLIN | EPOLLERR | EPOLLHUP) && !c->read_eof && !c->read_paused)
    pp_tcp_conn_pump_in (c);
  if (!c->dead && revents & EPOLLERR && !(revents & (EPOLLIN | EPOLLOUT)))
    {
      int err = pp_sys_socket_error (fd);

      if (err)
        pp_tcp_conn_io_failed (c, "socket", err);
    }
  if (mux)
    pp_mux_uncork (mux);
  pp_tcp_conn_unref (c);
}

gboolean
pp_tcp_conn_attach_fd (PpTcpConn *c, int fd)
{
  g_autoptr (GError) error = NULL;

  c->fd = fd;
  c->watch = pp_epoll_watch (c->ep, fd, EPOLLIN, pp_tcp_conn_epoll_cb, c, &error);
  if (!c->watch)
    {
      pp_tcp_conn_abort (c, PP_CLOSE_RESET, error->message);
      return FALSE;
    }
  /* The mux may already hold bytes (or a FIN) that arrived while connecting. */
  pp_tcp_conn_ref (c);
  pp_tcp_conn_pump_out (c);
  pp_tcp_conn_unref (c);
  return TRUE;
}

static void
pp_tcp_conn_handle_reset (PpTcpConn *c, PpMuxConn *mc)
{
  const char *detail = pp_mux_conn_get_close_detail (mc);
  uint8_t reason = pp_mux_conn_get_close_reason (mc);

  pp_tcp_conn_steal_mc (c);
  pp_tcp_conn_log_reset (c, mc, reason, detail ? detail : "");
  /* A RESET is never graceful, whatever reason the mux recorded. */
  pp_tcp_conn_finish (c, reason == PP_CLOSE_NORMAL ? PP_CLOSE_RESET : reason, detail);
}

void
pp_tcp_conn_dispatch (PpMuxConn *mc, PpMuxConnEvent ev)
{
  PpTcpConn *c = pp_mux_conn_get_user_data (mc);

  if (!c || c->dead)
    return;
  pp_tcp_conn_ref (c);
  switch (ev)
    {
    case PP_MUX_CONN_EV_CONNECTED:
      pp_tcp_conn_opened (c);
      break;
    case PP_MUX_CONN_EV_READABLE:
      if (c->fd >= 0 && !c->want_out)
        pp_tcp_conn_pump_out (c);
      break;
    case PP_MUX_CONN_EV_WRITABLE:
      c->read_paused = FALSE;
      pp_tcp_conn_update_events (c);
      break;
    case PP_MUX_CONN_EV_RESET:
      pp_tcp_conn_handle_reset (c, mc);
      break;
    }
  pp_tcp_conn_unref (c);
}
