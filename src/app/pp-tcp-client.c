/* SPDX-License-Identifier: MIT
 *
 * pp-tcp-client: mappings → listeners → CONNECTs.  A mapping owns its
 * listening fds and the set of pumps it accepted, so `unmap` can reset
 * exactly its sockets.  Listeners are watched for EPOLLIN only while the
 * session accepts; until then the kernel keeps the apps in the listen queue.
 * It must not decide anything about the remote side: the host checks rules.
 */
#include "app/pp-tcp-client.h"

#include "app/pp-sys.h"
#include "app/pp-tcp.h"
#include "core/pp-mappings.h"

#include <errno.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#define PP_TCP_LISTEN_BACKLOG 511
#define PP_TCP_ACCEPTS_PER_DISPATCH 16
#define PP_TCP_MAX_LISTEN 2

typedef struct
{
  PpTcpClient *cl;
  guint id;
  PpMapping m;
  char *requested;        /* canonical text as asked (port 0 stays 0) */
  char *display;          /* canonical text with the real port */
  uint16_t port;
  int fds[PP_TCP_MAX_LISTEN];
  PpEpollWatch *watches[PP_TCP_MAX_LISTEN];
  guint n_fds;
  GHashTable *conns;      /* set of PpTcpConn */
} PpClientMapping;

struct _PpTcpClient
{
  PpEpoll *ep;
  PpMux *mux;
  gboolean accepting;
  GPtrArray *mappings;    /* of PpClientMapping, in creation order */
  guint next_id;
  PpTcpObserver obs;
};

PpTcpClient *
pp_tcp_client_new (PpEpoll *ep, PpMux *mux)
{
  PpTcpClient *cl = g_new0 (PpTcpClient, 1);

  cl->ep = ep;
  cl->mux = mux;
  cl->mappings = g_ptr_array_new ();
  cl->next_id = 1;
  return cl;
}

/* Resets every socket of @cm; returns how many. */
static guint
pp_client_mapping_reset_all (PpClientMapping *cm, PpCloseReason reason, const char *why)
{
  g_autofree gpointer *conns = NULL;
  guint n = 0;

  conns = g_hash_table_get_keys_as_array (cm->conns, &n);
  for (guint i = 0; i < n; i++)
    pp_tcp_conn_abort (conns[i], reason, why);
  return n;
}

static void
pp_client_mapping_free (PpClientMapping *cm, PpCloseReason reason, const char *why)
{
  pp_client_mapping_reset_all (cm, reason, why);
  for (guint i = 0; i < cm->n_fds; i++)
    {
      if (cm->watches[i])
        pp_epoll_unwatch (cm->watches[i]);
      close (cm->fds[i]);
    }
  g_hash_table_unref (cm->conns);
  pp_mapping_clear (&cm->m);
  g_free (cm->requested);
  g_free (cm->display);
  g_free (cm);
}

void
pp_tcp_client_free (PpTcpClient *cl)
{
  if (!cl)
    return;
  for (guint i = 0; i < cl->mappings->len; i++)
    pp_client_mapping_free (cl->mappings->pdata[i], PP_CLOSE_SESSION_ENDED, "session ended");
  g_ptr_array_unref (cl->mappings);
  g_free (cl);
}

static void
pp_client_mapping_set_watching (PpClientMapping *cm, gboolean on)
{
  for (guint i = 0; i < cm->n_fds; i++)
    if (cm->watches[i])
      pp_epoll_watch_set_events (cm->watches[i], on ? EPOLLIN : 0);
}

void
pp_tcp_client_set_accepting (PpTcpClient *cl, gboolean accepting)
{
  cl->accepting = accepting;
  for (guint i = 0; i < cl->mappings->len; i++)
    pp_client_mapping_set_watching (cl->mappings->pdata[i], accepting);
}

static void
pp_client_conn_free_cb (PpTcpConn *c, gpointer owner_data)
{
  PpClientMapping *cm = owner_data;

  g_hash_table_remove (cm->conns, c);
}

static void
pp_addr_from_sockaddr (const struct sockaddr_storage *ss, PpAddr *addr, uint16_t *port)
{
  memset (addr, 0, sizeof *addr);
  *port = 0;
  if (ss->ss_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;

      pp_addr_from_v4 ((const uint8_t *) &sin->sin_addr, addr);
      *port = ntohs (sin->sin_port);
    }
  else if (ss->ss_family == AF_INET6)
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;

      memcpy (addr->b, &sin6->sin6_addr, 16);
      *port = ntohs (sin6->sin6_port);
    }
}

/* One accepted app socket: CONNECT, or an RST with the reason logged. */
static void
pp_client_mapping_take (PpClientMapping *cm, int fd, const struct sockaddr_storage *peer)
{
  PpTuple want = { 0 };
  PpAddr src;
  const char *why = NULL;
  PpTcpConn *c;
  PpMuxConn *mc;

  pp_addr_from_sockaddr (peer, &src, &want.src_port);
  memcpy (want.src_addr, src.b, 16);
  if (!cm->m.target_is_name)
    memcpy (want.dst_addr, cm->m.target_addr.b, 16);
  want.dst_port = cm->m.target_port;
  /* No event can reach the connection before it is bound below. */
  mc = pp_mux_open (cm->cl->mux, &want, cm->m.target_is_name ? cm->m.target_host : NULL, NULL,
                    &why);
  if (!mc)
    {
      char buf[PP_ADDR_STRLEN];

      g_message ("mapping #%u: app %s port %u reset: %s", cm->id, pp_addr_format (&src, buf),
                 want.src_port, why ? why : "the session cannot take connections");
      pp_sys_close_rst (fd);
      return;
    }
  c = pp_tcp_conn_new (cm->cl->ep, pp_client_conn_free_cb, cm);
  g_hash_table_add (cm->conns, c);
  pp_tcp_conn_bind (c, mc);
  pp_tcp_conn_observe (c, &cm->cl->obs, cm->id);
  pp_tcp_conn_attach_fd (c, fd);
}

static void
pp_client_listen_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  PpClientMapping *cm = user_data;

  for (int i = 0; i < PP_TCP_ACCEPTS_PER_DISPATCH; i++)
    {
      struct sockaddr_storage peer;
      socklen_t len = sizeof peer;
      int afd = pp_sys_accept (fd, &peer, &len);

      if (afd < 0)
        {
          if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
              && errno != ECONNABORTED)
            g_message ("mapping #%u: accept: %s", cm->id, g_strerror (errno));
          return;
        }
      pp_client_mapping_take (cm, afd, &peer);
    }
}

static socklen_t
pp_sockaddr_from_addr (const PpAddr *a, uint16_t port, struct sockaddr_storage *ss)
{
  memset (ss, 0, sizeof *ss);
  if (pp_addr_is_v4 (a))
    {
      struct sockaddr_in *sin = (struct sockaddr_in *) ss;

      sin->sin_family = AF_INET;
      sin->sin_port = htons (port);
      memcpy (&sin->sin_addr, a->b + 12, 4);
      return sizeof *sin;
    }
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;

  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons (port);
  memcpy (&sin6->sin6_addr, a->b, 16);
  return sizeof *sin6;
}

/* Binds every listen address; port 0 picks a port on the first and reuses it. */
static gboolean
pp_client_mapping_listen (PpClientMapping *cm, GError **error)
{
  uint16_t port = cm->m.listen_port;

  for (guint i = 0; i < cm->m.n_listen_addrs && i < PP_TCP_MAX_LISTEN; i++)
    {
      struct sockaddr_storage ss;
      socklen_t len = pp_sockaddr_from_addr (&cm->m.listen_addrs[i], port, &ss);
      GError *err = NULL;
      int fd = pp_sys_listen_tcp ((struct sockaddr *) &ss, len, PP_TCP_LISTEN_BACKLOG, &err);

      if (fd < 0 && i > 0 && !g_error_matches (err, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE))
        {
          /* localhost without IPv6: the first address is enough. */
          g_message ("mapping: %s; listening on the other address only", err->message);
          g_error_free (err);
          continue;
        }
      if (fd < 0)
        {
          g_propagate_error (error, err);
          return FALSE;
        }
      cm->fds[cm->n_fds++] = fd;
      if (port == 0)
        port = pp_sys_local_port (fd);
    }
  cm->port = port;
  for (guint i = 0; i < cm->n_fds; i++)
    {
      cm->watches[i] = pp_epoll_watch (cm->cl->ep, cm->fds[i], cm->cl->accepting ? EPOLLIN : 0,
                                       pp_client_listen_cb, cm, error);
      if (!cm->watches[i])
        return FALSE;
    }
  return TRUE;
}

guint
pp_tcp_client_add_mapping (PpTcpClient *cl, const char *text, GError **error)
{
  PpClientMapping *cm = g_new0 (PpClientMapping, 1);

  cm->cl = cl;
  cm->conns = g_hash_table_new (NULL, NULL);
  if (!pp_mapping_parse (text, &cm->m, error))
    {
      g_hash_table_unref (cm->conns);
      g_free (cm);
      return 0;
    }
  cm->requested = pp_mapping_to_string (&cm->m);
  if (!pp_client_mapping_listen (cm, error))
    {
      pp_client_mapping_free (cm, PP_CLOSE_REVOKED, "mapping failed");
      return 0;
    }
  cm->m.listen_port = cm->port;
  cm->display = pp_mapping_to_string (&cm->m);
  cm->id = cm->m.id = cl->next_id++;
  g_ptr_array_add (cl->mappings, cm);
  return cm->id;
}

static PpClientMapping *
pp_tcp_client_find (PpTcpClient *cl, const char *what, guint *index, GError **error)
{
  g_autofree char *canonical = NULL;
  guint64 id = 0;

  if (what[0] == '#' && !g_ascii_string_to_unsigned (what + 1, 10, 1, G_MAXUINT, &id, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "bad mapping id \"%s\": expected #NUMBER", what);
      return NULL;
    }
  if (id == 0)
    {
      PpMapping m = { 0 };

      if (!pp_mapping_parse (what, &m, error))
        return NULL;
      canonical = pp_mapping_to_string (&m);
      pp_mapping_clear (&m);
    }
  for (guint i = 0; i < cl->mappings->len; i++)
    {
      PpClientMapping *cm = cl->mappings->pdata[i];
      gboolean same_text = canonical && (!strcmp (canonical, cm->requested)
                                         || !strcmp (canonical, cm->display));

      if ((id && cm->id == id) || same_text)
        {
          *index = i;
          return cm;
        }
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no mapping %s", what);
  return NULL;
}

gboolean
pp_tcp_client_remove_mapping (PpTcpClient *cl, const char *what, guint *n_closed, GError **error)
{
  guint index = 0;
  PpClientMapping *cm = pp_tcp_client_find (cl, what, &index, error);
  guint n;

  if (!cm)
    return FALSE;
  g_ptr_array_remove_index (cl->mappings, index);
  n = g_hash_table_size (cm->conns);
  pp_client_mapping_free (cm, PP_CLOSE_REVOKED, "mapping removed");
  if (n_closed)
    *n_closed = n;
  return TRUE;
}

guint
pp_tcp_client_count_mappings (PpTcpClient *cl)
{
  return cl->mappings->len;
}

gboolean
pp_tcp_client_nth_mapping (PpTcpClient *cl, guint i, guint *id, const char **display)
{
  PpClientMapping *cm;

  if (i >= cl->mappings->len)
    return FALSE;
  cm = cl->mappings->pdata[i];
  if (id)
    *id = cm->id;
  if (display)
    *display = cm->display;
  return TRUE;
}

uint16_t
pp_tcp_client_get_port (PpTcpClient *cl, guint id)
{
  for (guint i = 0; i < cl->mappings->len; i++)
    {
      PpClientMapping *cm = cl->mappings->pdata[i];

      if (cm->id == id)
        return cm->port;
    }
  return 0;
}

guint
pp_tcp_client_count_sockets (PpTcpClient *cl)
{
  guint n = 0;

  for (guint i = 0; i < cl->mappings->len; i++)
    n += g_hash_table_size (((PpClientMapping *) cl->mappings->pdata[i])->conns);
  return n;
}

void
pp_tcp_client_set_observer (PpTcpClient *cl, PpTcpConnEventFunc func, gpointer user_data)
{
  cl->obs.func = func;
  cl->obs.user_data = user_data;
}
