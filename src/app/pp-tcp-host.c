/* SPDX-License-Identifier: MIT
 *
 * pp-tcp-host: CONNECT → rules → (resolve) → rules again → connect → pump.
 * One PpHostEntry lives as long as its pp-tcp pump and carries the request
 * through its phases: queued for a lookup, resolving, connecting (several
 * attempts, Happy Eyeballs), then pumping.  Whatever ends the pump (the mux's
 * 10 s timeout, a reset, a refusal) frees the entry, which cancels what is in
 * flight.  It must not connect to an address the rules did not check.
 */
#include "app/pp-tcp-host.h"

#include "app/pp-sys.h"
#include "app/pp-tcp.h"

#include <errno.h>
#include <gio/gio.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

/* How long the host's own interface addresses are trusted. */
#define PP_TCP_HOST_IFADDRS_TTL_US (30 * G_USEC_PER_SEC)

typedef struct _PpHostEntry PpHostEntry;

typedef struct
{
  PpHostEntry *e;          /* NULL once the entry went away */
  GCancellable *cancel;
  GSource *timeout;
  gboolean timed_out;
} PpLookup;

typedef struct
{
  PpHostEntry *e;
  int fd;
  PpEpollWatch *watch;
  PpAddr addr;
} PpAttempt;

struct _PpHostEntry
{
  PpTcpHost *host;
  PpTcpConn *c;
  char *name;              /* CONNECT by name, or NULL */
  PpAddr dst;
  uint16_t port;
  gboolean queued;         /* waiting for a lookup slot */
  PpLookup *lookup;
  GArray *addrs;           /* of PpAddr: checked, in the order to try */
  guint next_addr;
  GPtrArray *attempts;     /* of PpAttempt in flight */
  GSource *stagger;
  char *last_error;
  gboolean connected;
  PpAddr peer;             /* the address that won */
};

struct _PpTcpHost
{
  PpEpoll *ep;
  PpMux *mux;
  PpRules *rules;
  GMainContext *ctx;
  GResolver *resolver;
  GHashTable *entries;     /* set of PpHostEntry */
  GQueue lookup_queue;     /* of PpHostEntry */
  guint lookups;
  gboolean freeing;
  GArray *own;             /* of PpAddr */
  int64_t own_time;
  PpTcpObserver obs;
};

static void pp_host_entry_lookup_next (PpTcpHost *host);
static void pp_host_entry_try_next (PpHostEntry *e);

PpTcpHost *
pp_tcp_host_new (PpEpoll *ep, PpMux *mux, PpRules *rules)
{
  PpTcpHost *host = g_new0 (PpTcpHost, 1);

  host->ep = ep;
  host->mux = mux;
  host->rules = rules;
  host->ctx = g_main_context_ref_thread_default ();
  host->resolver = g_resolver_get_default ();
  host->entries = g_hash_table_new (NULL, NULL);
  g_queue_init (&host->lookup_queue);
  host->own = g_array_new (FALSE, FALSE, sizeof (PpAddr));
  return host;
}

void
pp_tcp_host_set_rules (PpTcpHost *host, PpRules *rules)
{
  host->rules = rules;
}

void
pp_tcp_host_free (PpTcpHost *host)
{
  g_autofree gpointer *entries = NULL;
  guint n = 0;

  if (!host)
    return;
  host->freeing = TRUE;
  entries = g_hash_table_get_keys_as_array (host->entries, &n);
  for (guint i = 0; i < n; i++)
    pp_tcp_conn_abort (((PpHostEntry *) entries[i])->c, PP_CLOSE_SESSION_ENDED, "session ended");
  g_hash_table_unref (host->entries);
  g_array_unref (host->own);
  g_object_unref (host->resolver);
  g_main_context_unref (host->ctx);
  g_free (host);
}

guint
pp_tcp_host_count_sockets (PpTcpHost *host)
{
  return g_hash_table_size (host->entries);
}

static GSource *
pp_host_timeout_new (PpTcpHost *host, guint ms, GSourceFunc func, gpointer data)
{
  GSource *src = g_timeout_source_new (ms);

  g_source_set_callback (src, func, data, NULL);
  g_source_attach (src, host->ctx);
  return src;
}

static void
pp_host_source_clear (GSource **src)
{
  if (!*src)
    return;
  g_source_destroy (*src);
  g_source_unref (*src);
  *src = NULL;
}

/* --- the host's own addresses (for the anti-rebinding check) --- */

static void
pp_host_refresh_own (PpTcpHost *host)
{
  struct ifaddrs *ifa = NULL;
  int64_t now = g_get_monotonic_time ();

  if (host->own_time && now - host->own_time < PP_TCP_HOST_IFADDRS_TTL_US)
    return;
  host->own_time = now;
  g_array_set_size (host->own, 0);
  if (getifaddrs (&ifa) < 0)
    return;
  for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
    {
      PpAddr a = { 0 };

      if (!i->ifa_addr)
        continue;
      if (i->ifa_addr->sa_family == AF_INET)
        pp_addr_from_v4 ((const uint8_t *) &((struct sockaddr_in *) i->ifa_addr)->sin_addr, &a);
      else if (i->ifa_addr->sa_family == AF_INET6)
        memcpy (a.b, &((struct sockaddr_in6 *) i->ifa_addr)->sin6_addr, 16);
      else
        continue;
      g_array_append_val (host->own, a);
    }
  freeifaddrs (ifa);
}

static gboolean
pp_host_is_own (PpTcpHost *host, const PpAddr *a)
{
  pp_host_refresh_own (host);
  for (guint i = 0; i < host->own->len; i++)
    if (pp_addr_equal (&g_array_index (host->own, PpAddr, i), a))
      return TRUE;
  return FALSE;
}

/* --- entries --- */

static void
pp_lookup_free (PpLookup *lk)
{
  pp_host_source_clear (&lk->timeout);
  g_object_unref (lk->cancel);
  g_free (lk);
}

static void
pp_attempt_free (PpAttempt *at)
{
  if (at->watch)
    pp_epoll_unwatch (at->watch);
  if (at->fd >= 0)
    pp_sys_close_rst (at->fd);
  g_free (at);
}

/* The pump is going away: cancel whatever the entry still has in flight. */
static void
pp_host_entry_free_cb (PpTcpConn *c, gpointer owner_data)
{
  PpHostEntry *e = owner_data;
  PpTcpHost *host = e->host;

  g_hash_table_remove (host->entries, e);
  if (e->queued)
    g_queue_remove (&host->lookup_queue, e);
  if (e->lookup)
    {
      e->lookup->e = NULL;
      pp_host_source_clear (&e->lookup->timeout);
      g_cancellable_cancel (e->lookup->cancel);
      host->lookups--;
    }
  pp_host_source_clear (&e->stagger);
  g_ptr_array_unref (e->attempts);
  if (e->addrs)
    g_array_unref (e->addrs);
  g_free (e->name);
  g_free (e->last_error);
  g_free (e);
  if (!host->freeing)
    pp_host_entry_lookup_next (host);
}

static void
pp_host_entry_fail (PpHostEntry *e, PpCloseReason reason, const char *detail)
{
  pp_tcp_conn_abort (e->c, reason, detail);
}

/* --- connecting --- */

static socklen_t
pp_host_sockaddr (const PpAddr *a, uint16_t port, struct sockaddr_storage *ss)
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

static void
pp_host_entry_note_error (PpHostEntry *e, const PpAddr *a, const char *msg)
{
  char buf[PP_ADDR_STRLEN];

  g_free (e->last_error);
  e->last_error = g_strdup_printf ("%s port %u: %s", pp_addr_format (a, buf), e->port, msg);
}

static void
pp_host_entry_won (PpHostEntry *e, PpAttempt *at)
{
  PpTcpConn *c = e->c;
  int fd = at->fd;

  at->fd = -1;
  e->connected = TRUE;
  e->peer = at->addr;
  /* Losers and the stagger timer go; the entry itself stays with the pump. */
  pp_host_source_clear (&e->stagger);
  g_ptr_array_set_size (e->attempts, 0);
  pp_tcp_conn_ref (c);
  pp_mux_conn_accept (pp_tcp_conn_get_mux_conn (c));
  if (pp_tcp_conn_is_dead (c))
    pp_sys_close_rst (fd);
  else
    {
      /* Opened before the fd: the first pump may already end it. */
      pp_tcp_conn_opened (c);
      pp_tcp_conn_attach_fd (c, fd);
    }
  pp_tcp_conn_unref (c);
}

static void
pp_host_attempt_cb (PpEpollWatch *w, int fd, uint32_t revents, gpointer user_data)
{
  PpAttempt *at = user_data;
  PpHostEntry *e = at->e;
  int err = pp_sys_socket_error (fd);

  if (err == 0 && (revents & (EPOLLERR | EPOLLHUP)))
    err = ECONNREFUSED;
  if (err == 0)
    {
      pp_host_entry_won (e, at);
      return;
    }
  pp_host_entry_note_error (e, &at->addr, g_strerror (err));
  g_ptr_array_remove_fast (e->attempts, at);
  if (e->attempts->len == 0)
    {
      pp_host_source_clear (&e->stagger);
      pp_host_entry_try_next (e);
    }
}

static gboolean
pp_host_stagger_cb (gpointer data)
{
  PpHostEntry *e = data;

  g_source_unref (e->stagger);
  e->stagger = NULL;
  pp_host_entry_try_next (e);
  return G_SOURCE_REMOVE;
}

/* Starts the next address (failures right away go on to the one after);
 * with no address left and nothing in flight the connect failed. */
static void
pp_host_entry_try_next (PpHostEntry *e)
{
  while (e->next_addr < e->addrs->len)
    {
      const PpAddr *a = &g_array_index (e->addrs, PpAddr, e->next_addr++);
      struct sockaddr_storage ss;
      socklen_t len = pp_host_sockaddr (a, e->port, &ss);
      g_autoptr (GError) error = NULL;
      PpAttempt *at;
      int fd = pp_sys_connect_tcp ((struct sockaddr *) &ss, len, &error);

      if (fd < 0)
        {
          pp_host_entry_note_error (e, a, error->message);
          continue;
        }
      at = g_new0 (PpAttempt, 1);
      at->e = e;
      at->fd = fd;
      at->addr = *a;
      at->watch = pp_epoll_watch (e->host->ep, fd, EPOLLOUT, pp_host_attempt_cb, at, &error);
      g_ptr_array_add (e->attempts, at);
      if (!at->watch)
        {
          pp_host_entry_note_error (e, a, error->message);
          g_ptr_array_remove_fast (e->attempts, at);
          continue;
        }
      if (e->next_addr < e->addrs->len && !e->stagger)
        e->stagger = pp_host_timeout_new (e->host, PP_TCP_HOST_STAGGER_MS, pp_host_stagger_cb, e);
      return;
    }
  if (e->attempts->len == 0)
    pp_host_entry_fail (e, PP_CLOSE_CONNECT_FAILED,
                        e->last_error ? e->last_error : "no address to connect to");
}

/* --- resolving --- */

static void
pp_host_entry_add_interleaved (PpHostEntry *e, GArray *v6, GArray *v4, gboolean v6_first)
{
  GArray *first = v6_first ? v6 : v4;
  GArray *second = v6_first ? v4 : v6;

  e->addrs = g_array_new (FALSE, FALSE, sizeof (PpAddr));
  for (guint i = 0; i < MAX (first->len, second->len); i++)
    {
      if (i < first->len)
        g_array_append_val (e->addrs, g_array_index (first, PpAddr, i));
      if (i < second->len)
        g_array_append_val (e->addrs, g_array_index (second, PpAddr, i));
    }
}

static gboolean
pp_host_addr_from_inet (GInetAddress *ia, PpAddr *a)
{
  const uint8_t *bytes = g_inet_address_to_bytes (ia);

  memset (a, 0, sizeof *a);
  if (g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV4)
    pp_addr_from_v4 (bytes, a);
  else if (g_inet_address_get_family (ia) == G_SOCKET_FAMILY_IPV6)
    memcpy (a->b, bytes, 16);
  else
    return FALSE;
  return TRUE;
}

/* Every resolved address is checked; only allowed ones are tried. */
static void
pp_host_entry_resolved (PpHostEntry *e, GList *list)
{
  g_autoptr (GArray) v6 = g_array_new (FALSE, FALSE, sizeof (PpAddr));
  g_autoptr (GArray) v4 = g_array_new (FALSE, FALSE, sizeof (PpAddr));
  g_autofree char *refusal = NULL;
  gboolean v6_first = TRUE;
  gboolean any = FALSE;

  for (GList *l = list; l; l = l->next)
    {
      PpAddr a;
      const char *why = NULL;

      if (!pp_host_addr_from_inet (l->data, &a))
        continue;
      if (!any)
        v6_first = !pp_addr_is_v4 (&a);
      any = TRUE;
      if (!e->host->rules
          || pp_rules_check_resolved (e->host->rules, e->name, &a, e->port,
                                      pp_host_is_own (e->host, &a), &why) != PP_RULES_ALLOW)
        {
          char buf[PP_ADDR_STRLEN];

          if (!refusal)
            refusal = g_strdup_printf ("%s resolves to %s: %s", e->name, pp_addr_format (&a, buf),
                                       why ? why : "no rule allows it");
          continue;
        }
      g_array_append_val (pp_addr_is_v4 (&a) ? v4 : v6, a);
    }
  if (!any)
    {
      pp_host_entry_fail (e, PP_CLOSE_NAME_NOT_RESOLVED, "no address");
      return;
    }
  if (v4->len + v6->len == 0)
    {
      pp_host_entry_fail (e, PP_CLOSE_REFUSED, refusal);
      return;
    }
  pp_host_entry_add_interleaved (e, v6, v4, v6_first);
  pp_host_entry_try_next (e);
}

static void
pp_host_lookup_done_cb (GObject *source, GAsyncResult *res, gpointer user_data)
{
  PpLookup *lk = user_data;
  PpHostEntry *e = lk->e;
  g_autoptr (GError) error = NULL;
  GList *list = g_resolver_lookup_by_name_finish (G_RESOLVER (source), res, &error);
  gboolean timed_out = lk->timed_out;

  pp_lookup_free (lk);
  if (!e)
    {
      g_resolver_free_addresses (list);
      return;
    }
  e->lookup = NULL;
  e->host->lookups--;
  if (!list)
    {
      g_autofree char *detail = g_strdup_printf ("%s: %s", e->name,
                                                 timed_out ? "lookup timed out"
                                                           : error->message);
      PpTcpHost *host = e->host;

      pp_host_entry_fail (e, PP_CLOSE_NAME_NOT_RESOLVED, detail);
      pp_host_entry_lookup_next (host);
      return;
    }
  pp_host_entry_resolved (e, list);
  g_resolver_free_addresses (list);
}

static gboolean
pp_host_lookup_timeout_cb (gpointer data)
{
  PpLookup *lk = data;

  lk->timed_out = TRUE;
  g_source_unref (lk->timeout);
  lk->timeout = NULL;
  g_cancellable_cancel (lk->cancel);
  return G_SOURCE_REMOVE;
}

static void
pp_host_entry_lookup_start (PpHostEntry *e)
{
  PpLookup *lk = g_new0 (PpLookup, 1);

  lk->e = e;
  lk->cancel = g_cancellable_new ();
  lk->timeout = pp_host_timeout_new (e->host, PP_TCP_HOST_LOOKUP_TIMEOUT_MS,
                                     pp_host_lookup_timeout_cb, lk);
  e->lookup = lk;
  e->host->lookups++;
  g_resolver_lookup_by_name_async (e->host->resolver, e->name, lk->cancel,
                                   pp_host_lookup_done_cb, lk);
}

static void
pp_host_entry_lookup_next (PpTcpHost *host)
{
  while (host->lookups < PP_TCP_HOST_MAX_LOOKUPS && !g_queue_is_empty (&host->lookup_queue))
    {
      PpHostEntry *e = g_queue_pop_head (&host->lookup_queue);

      e->queued = FALSE;
      pp_host_entry_lookup_start (e);
    }
}

/* --- requests --- */

static PpRulesVerdict
pp_host_entry_check (PpHostEntry *e, const char **why)
{
  PpRules *rules = e->host->rules;

  *why = "no rule allows it";
  if (!rules)
    return PP_RULES_DENY;
  if (!e->name)
    return pp_rules_check_addr (rules, &e->dst, e->port, why);
  if (pp_rules_check_name (rules, e->name, e->port, why) != PP_RULES_ALLOW)
    return PP_RULES_DENY;
  if (!e->connected)
    return PP_RULES_ALLOW;
  return pp_rules_check_resolved (rules, e->name, &e->peer, e->port,
                                  pp_host_is_own (e->host, &e->peer), why);
}

void
pp_tcp_host_handle_request (PpTcpHost *host, PpMuxConn *mc)
{
  const PpTuple *t = pp_mux_conn_get_tuple (mc);
  const char *name = pp_mux_conn_get_name (mc);
  PpHostEntry *e = g_new0 (PpHostEntry, 1);
  const char *why = NULL;

  e->host = host;
  e->name = g_strdup (name);
  memcpy (e->dst.b, t->dst_addr, 16);
  e->port = t->dst_port;
  e->attempts = g_ptr_array_new_with_free_func ((GDestroyNotify) pp_attempt_free);
  e->c = pp_tcp_conn_new (host->ep, pp_host_entry_free_cb, e);
  g_hash_table_add (host->entries, e);
  pp_tcp_conn_bind (e->c, mc);
  pp_tcp_conn_observe (e->c, &host->obs, 0);
  if (pp_host_entry_check (e, &why) != PP_RULES_ALLOW)
    {
      g_autofree char *detail = g_strdup (why);

      pp_host_entry_fail (e, PP_CLOSE_REFUSED, detail);
      return;
    }
  if (!e->name)
    {
      e->addrs = g_array_new (FALSE, FALSE, sizeof (PpAddr));
      g_array_append_val (e->addrs, e->dst);
      pp_host_entry_try_next (e);
      return;
    }
  e->queued = TRUE;
  g_queue_push_tail (&host->lookup_queue, e);
  pp_host_entry_lookup_next (host);
}

guint
pp_tcp_host_revoke (PpTcpHost *host)
{
  g_autofree gpointer *entries = NULL;
  guint n = 0;
  guint revoked = 0;

  entries = g_hash_table_get_keys_as_array (host->entries, &n);
  for (guint i = 0; i < n; i++)
    {
      PpHostEntry *e = entries[i];
      const char *why = NULL;

      if (pp_host_entry_check (e, &why) == PP_RULES_ALLOW)
        continue;
      g_autofree char *detail = g_strdup_printf ("no longer allowed: %s", why);

      revoked++;
      pp_host_entry_fail (e, PP_CLOSE_REVOKED, detail);
    }
  return revoked;
}

void
pp_tcp_host_set_observer (PpTcpHost *host, PpTcpConnEventFunc func, gpointer user_data)
{
  host->obs.func = func;
  host->obs.user_data = user_data;
}
