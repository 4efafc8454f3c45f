/* SPDX-License-Identifier: MIT
 *
 * pp-signal-server: SoupServer glue for the signaling API.  A request is
 * checked (method, path, size, token shape) before anything is read from the
 * store; a change is read → pure transition → compare-and-set, retried when
 * another request (or instance) won the race, which is what makes exactly one
 * concurrent join succeed.  Long polls park their message and wake on the
 * store's change notification or their timer.  Every refusal is a 4xx with
 * {"error": why}; a store outage is a 503.
 */
#include "signal/pp-signal-server.h"

#include <libsoup/soup.h>
#include <string.h>

#include "signal/pp-signal-json.h"

#define MAX_CAS_ATTEMPTS 8
#define MAX_TOKEN_LEN 256
#define RATE_TABLE_MAX 65536
#define STATUS_TOO_MANY_REQUESTS 429

typedef struct
{
  double tokens;
  gint64 last_us;
} Bucket;

typedef struct
{
  double per_s;
  double burst;
  GHashTable *buckets; /* address string → Bucket */
} RateLimit;

struct _PpSignalServer
{
  PpSignalServerOptions opt;
  PpSignalStore *store;
  SoupServer *soup;
  GHashTable *polls; /* id → GPtrArray of Poll * */
  guint n_polls;
  RateLimit create_limit, join_limit;
  GHashTable *by_code; /* GINT_TO_POINTER (status) → count */
  GQueue created;      /* int64_t expiry (ms) of sessions created here, oldest first */
  guint64 polls_total, polls_woken, polls_timed_out, rate_limited;
  gboolean closing;
  GSocketAddress *embedded_addr; /* where to listen while sessions are pending */
  GSource *embedded_check;
  gboolean embedded_idle;       /* the last check found nothing pending */
  gboolean listening;
  char *stun_ports;    /* "PORT [ALT]" for /healthz's X-Peerport-Stun (doctor), or NULL */
};

typedef enum
{
  OP_CREATE,
  OP_JOIN,
  OP_SIGNAL,
  OP_POLL,
  OP_DELETE,
} Op;

typedef struct
{
  PpSignalServer *srv;
  SoupServerMessage *msg;
  gulong finished_id, disconnected_id;
  gboolean paused, done;
  Op op;
  char id[PP_SIGNAL_ID_LEN + 1];
  char token_hash[PP_SIGNAL_HASH_HEX_LEN + 1];
  PpSignalFor poll_for;
  GBytes *old;     /* what the store held when we read it */
  GBytes *update;  /* what we want it to hold (NULL: delete) */
  int64_t ttl_ms;
  guint attempts;
  /* create / join results */
  char token[PP_SIGNAL_TOKEN_LEN + 1];
  PpSignalSession *result;
  /* parsed bodies */
  char *name;
  uint8_t bytes[32];
  PpSignalMsg sig;
  GSource *poll_timer;
  /* Long polls keep at most one store read in flight (Redis answers later):
   * a wake-up or the timer during a read only marks what to do after it. */
  gboolean reading, recheck, timed_out;
} Req;

static void store_notify_cb (const char *id, gpointer user_data);

typedef struct
{
  PpSignalServer *srv;
  SoupServerMessage *msg; /* not a reference: the guard dies with the message */
  GSource *timer;
  goffset body_len;
  gboolean answered; /* refused at the headers: the handler must not answer again */
} Guard;

static gpointer
copy_str (gconstpointer src, gpointer unused)
{
  return g_strdup (src);
}

static gpointer
copy_ref (gconstpointer src, gpointer unused)
{
  return g_object_ref ((gpointer) src);
}

/* ---- options -------------------------------------------------------------- */

void
pp_signal_server_options_init (PpSignalServerOptions *o)
{
  memset (o, 0, sizeof *o);
  o->ttl = pp_signal_ttl_default;
  o->poll_timeout_ms = 5000;
  o->max_sessions = 100000;
  o->max_polls = 10000;
  o->max_polls_per_session = 4;
  o->create_per_s = 0.5;
  o->create_burst = 20;
  o->join_per_s = 1.0;
  o->join_burst = 30;
  o->request_timeout_ms = 10000;
  o->idle_timeout_s = 60;
  o->trusted_proxies = g_ptr_array_new_with_free_func (g_object_unref);
}

void
pp_signal_server_options_clear (PpSignalServerOptions *o)
{
  g_clear_pointer (&o->trusted_proxies, g_ptr_array_unref);
}

gboolean
pp_signal_server_options_add_proxy (PpSignalServerOptions *o, const char *cidr, GError **error)
{
  GInetAddressMask *m = g_inet_address_mask_new_from_string (cidr, error);

  if (m == NULL)
    return FALSE;
  g_ptr_array_add (o->trusted_proxies, m);
  return TRUE;
}

static int64_t
now_ms (PpSignalServer *srv)
{
  if (srv->opt.clock != NULL)
    return srv->opt.clock (srv->opt.clock_data);
  return g_get_real_time () / 1000;
}

/* ---- rate limits (token buckets per client address) ---------------------------- */

static void
rate_init (RateLimit *r, double per_s, guint burst)
{
  r->per_s = per_s;
  r->burst = MAX (burst, 1);
  r->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static gboolean
rate_take (RateLimit *r, const char *addr)
{
  gint64 now = g_get_monotonic_time ();
  Bucket *b;

  if (r->per_s <= 0)
    return TRUE;
  b = g_hash_table_lookup (r->buckets, addr);
  if (b == NULL)
    {
      /* Bounded: an address flood forgets everyone (limits restart full),
       * which costs a burst, never memory. */
      if (g_hash_table_size (r->buckets) >= RATE_TABLE_MAX)
        g_hash_table_remove_all (r->buckets);
      b = g_new0 (Bucket, 1);
      b->tokens = r->burst;
      b->last_us = now;
      g_hash_table_insert (r->buckets, g_strdup (addr), b);
    }
  b->tokens = MIN (r->burst, b->tokens + (double) (now - b->last_us) / 1e6 * r->per_s);
  b->last_us = now;
  if (b->tokens < 1.0)
    return FALSE;
  b->tokens -= 1.0;
  return TRUE;
}

static gboolean
trusted_proxy (PpSignalServer *srv, GInetAddress *a)
{
  for (guint i = 0; i < srv->opt.trusted_proxies->len; i++)
    if (g_inet_address_mask_matches (g_ptr_array_index (srv->opt.trusted_proxies, i), a))
      return TRUE;
  return FALSE;
}

/* The client's address: the peer, or — only when the peer is a trusted
 * proxy — the rightmost X-Forwarded-For entry that is not one. */
static char *
client_address (PpSignalServer *srv, SoupServerMessage *msg)
{
  GSocketAddress *sa = soup_server_message_get_remote_address (msg);
  GInetAddress *peer;
  const char *xff;
  g_auto (GStrv) parts = NULL;

  if (sa == NULL || !G_IS_INET_SOCKET_ADDRESS (sa))
    return g_strdup ("unknown");
  peer = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
  xff = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                       "X-Forwarded-For");
  if (xff == NULL || !trusted_proxy (srv, peer))
    return g_inet_address_to_string (peer);
  parts = g_strsplit (xff, ",", 32);
  for (int i = (int) g_strv_length (parts) - 1; i >= 0; i--)
    {
      g_autoptr (GInetAddress) a = g_inet_address_new_from_string (g_strstrip (parts[i]));

      if (a == NULL)
        break;
      if (!trusted_proxy (srv, a))
        return g_inet_address_to_string (a);
    }
  return g_inet_address_to_string (peer);
}

/* ---- responses ------------------------------------------------------------------ */

static void
count_code (PpSignalServer *srv, guint code)
{
  gpointer key = GUINT_TO_POINTER (code);

  g_hash_table_insert (srv->by_code, key,
                       GSIZE_TO_POINTER (GPOINTER_TO_SIZE (g_hash_table_lookup (srv->by_code,
                                                                                key)) + 1));
}

static void
add_common_headers (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace (h, "Access-Control-Allow-Methods",
                                "GET, POST, PUT, DELETE, OPTIONS");
  soup_message_headers_replace (h, "Access-Control-Allow-Headers",
                                "Authorization, Content-Type");
  soup_message_headers_replace (h, "Access-Control-Max-Age", "600");
  soup_message_headers_replace (h, "Cache-Control", "no-store");
}

/* Note: libsoup 3.2 closes the connection after a 204 (it strips the
 * length and then sees an EOF-delimited body), so every 204 of the API costs
 * the client a reconnect; answering 200 instead would break DESIGN §5. */
static void
send_raw (PpSignalServer *srv, SoupServerMessage *msg, guint code, const char *type, char *body,
          size_t len)
{
  add_common_headers (msg);
  soup_server_message_set_status (msg, code, NULL);
  if (body != NULL)
    soup_server_message_set_response (msg, type, SOUP_MEMORY_TAKE, body, len);

  count_code (srv, code);
}

static void
send_error (PpSignalServer *srv, SoupServerMessage *msg, guint code, const char *why)
{
  size_t len = 0;
  char *body = pp_signal_error_json (why, &len);

  send_raw (srv, msg, code, "application/json", body, len);
}

static void req_free (Req *r);

/* Ends a request: sends, unpauses when parked, frees. */
static void
req_finish (Req *r, guint code, char *json, size_t len)
{
  if (!r->done && !r->srv->closing) /* closing: the connections are gone */
    {
      send_raw (r->srv, r->msg, code, "application/json", json, len);
      if (r->paused)
        soup_server_message_unpause (r->msg);
    }
  else
    g_free (json);
  req_free (r);
}

static void
req_error (Req *r, guint code, const char *why)
{
  size_t len = 0;
  char *body = pp_signal_error_json (why, &len);

  req_finish (r, code, body, len);
}

static void
req_verdict (Req *r, PpSignalVerdict v, const char *why)
{
  req_error (r, (guint) pp_signal_verdict_http (v), why);
}

static void
req_store_error (Req *r, const GError *error)
{
  g_autofree char *why = g_strdup_printf ("the session store is unavailable (%s); try again "
                                          "shortly", error->message);

  r->srv->store->errors++;
  req_error (r, SOUP_STATUS_SERVICE_UNAVAILABLE, why);
}

/* ---- request lifetime ---------------------------------------------------------- */

static void
msg_gone_cb (SoupServerMessage *msg, gpointer data)
{
  Req *r = data;

  r->done = TRUE; /* the connection is gone: the store op may finish, nobody answers */
}

static Req *
req_new (PpSignalServer *srv, SoupServerMessage *msg, Op op)
{
  Req *r = g_new0 (Req, 1);

  r->srv = srv;
  r->msg = g_object_ref (msg);
  r->op = op;
  r->finished_id = g_signal_connect (msg, "finished", G_CALLBACK (msg_gone_cb), r);
  r->disconnected_id = g_signal_connect (msg, "disconnected", G_CALLBACK (msg_gone_cb), r);
  return r;
}

static void
req_free (Req *r)
{
  g_clear_signal_handler (&r->finished_id, r->msg);
  g_clear_signal_handler (&r->disconnected_id, r->msg);
  if (r->poll_timer != NULL)
    {
      g_source_destroy (r->poll_timer);
      g_source_unref (r->poll_timer);
    }
  g_object_unref (r->msg);
  g_clear_pointer (&r->old, g_bytes_unref);
  g_clear_pointer (&r->update, g_bytes_unref);
  g_clear_pointer (&r->result, pp_signal_session_free);
  g_free (r->name);
  pp_signal_msg_clear (&r->sig);
  g_free (r);
}

static void
req_park (Req *r)
{
  if (!r->paused && !r->done)
    {
      soup_server_message_pause (r->msg);
      r->paused = TRUE;
    }
}

/* ---- the read → transition → compare-and-set loop ------------------------------ */

static void req_read (Req *r);

static void
req_succeed (Req *r)
{
  size_t len = 0;
  char *body = NULL;
  g_autoptr (GString) s = NULL;

  switch (r->op)
    {
    case OP_CREATE:
    case OP_JOIN:
      {
        g_autofree char *view = pp_signal_session_to_view (r->result, r->op == OP_CREATE
                                                           ? PP_SIGNAL_ROLE_HOST
                                                           : PP_SIGNAL_ROLE_CLIENT, &len);

        /* The view plus the caller's token: insert it after the opening brace. */
        s = g_string_new ("{\"token\":\"");
        g_string_append (s, r->token);
        g_string_append (s, "\",");
        g_string_append (s, view + 1);
        len = s->len;
        body = g_string_free (g_steal_pointer (&s), FALSE);
        req_finish (r, r->op == OP_CREATE ? SOUP_STATUS_CREATED : SOUP_STATUS_OK, body, len);
        return;
      }
    case OP_SIGNAL:
    case OP_DELETE:
      req_finish (r, SOUP_STATUS_NO_CONTENT, NULL, 0);
      return;
    case OP_POLL:
      break;
    }
  req_error (r, SOUP_STATUS_INTERNAL_SERVER_ERROR, "internal error");
}

static void
put_cb (gboolean swapped, const GError *error, gpointer data)
{
  Req *r = data;

  if (error != NULL)
    {
      req_store_error (r, error);
      return;
    }
  if (swapped)
    {
      req_succeed (r);
      return;
    }
  if (++r->attempts >= MAX_CAS_ATTEMPTS)
    {
      req_error (r, SOUP_STATUS_SERVICE_UNAVAILABLE, "the session is too busy; try again");
      return;
    }
  if (r->op == OP_CREATE)
    pp_signal_new_id (r->id);  /* an id collision: pick another */
  req_read (r);
}

static void
req_write (Req *r, PpSignalSession *s, gboolean delete)
{
  int64_t now = now_ms (r->srv);

  g_clear_pointer (&r->update, g_bytes_unref);
  if (!delete)
    r->update = pp_signal_session_to_store (s);
  r->ttl_ms = MAX (s->expires_ms - now, 1);
  req_park (r);
  pp_signal_store_put (r->srv->store, r->id, r->old, r->update, r->ttl_ms, put_cb, r);
}

static PpSignalSession *
load (Req *r, GBytes *value, PpSignalVerdict *v, const char **why)
{
  PpSignalSession *s;

  *v = PP_SIGNAL_NOT_FOUND;
  *why = "no such session (it never existed, expired or was cancelled)";
  if (value == NULL)
    return NULL;
  s = pp_signal_session_from_store (g_bytes_get_data (value, NULL), g_bytes_get_size (value),
                                    why);
  if (s == NULL)
    {
      g_warning ("session %s: the store holds something unreadable: %s", r->id, *why);
      *why = "no such session (unreadable)";
      return NULL;
    }
  if (pp_signal_session_expired (s, now_ms (r->srv)))
    {
      *why = "the session expired";
      pp_signal_session_free (s);
      return NULL;
    }
  return s;
}

static void
apply_create (Req *r)
{
  char hash[PP_SIGNAL_HASH_HEX_LEN + 1];

  pp_signal_token_hash (r->token, hash);
  g_clear_pointer (&r->result, pp_signal_session_free);
  r->result = pp_signal_session_new (r->id, r->name, r->bytes, hash, now_ms (r->srv),
                                     &r->srv->opt.ttl);
  g_clear_pointer (&r->old, g_bytes_unref);
  req_write (r, r->result, FALSE);
}

static PpSignalVerdict
transition (Req *r, PpSignalSession *s, gboolean *delete, const char **why)
{
  int64_t now = now_ms (r->srv);
  char hash[PP_SIGNAL_HASH_HEX_LEN + 1];
  PpSignalRole role = pp_signal_session_role (s, r->token_hash);

  *delete = FALSE;
  switch (r->op)
    {
    case OP_JOIN:
      pp_signal_token_hash (r->token, hash);
      return pp_signal_session_join (s, r->name, r->bytes, hash, now, &r->srv->opt.ttl, why);
    case OP_SIGNAL:
      {
        /* apply() takes the strings: give it a copy so a retry still has them. */
        PpSignalMsg m = r->sig;

        m.sdp.sdp = g_strdup (r->sig.sdp.sdp);
        m.sdp.candidates = r->sig.sdp.candidates != NULL
                           ? g_ptr_array_copy (r->sig.sdp.candidates, copy_str, NULL)
                           : NULL;
        if (m.sdp.candidates != NULL)
          g_ptr_array_set_free_func (m.sdp.candidates, g_free);
        PpSignalVerdict v = pp_signal_session_apply (s, role, &m, now, &r->srv->opt.ttl, why);
        pp_signal_msg_clear (&m);
        return v;
      }
    case OP_DELETE:
      return pp_signal_session_reject (s, role, now, &r->srv->opt.ttl, delete, why);
    case OP_CREATE:
    case OP_POLL:
      break;
    }
  *why = "internal error";
  return PP_SIGNAL_BAD_REQUEST;
}

static void
change_got_cb (GBytes *value, const GError *error, gpointer data)
{
  Req *r = data;
  PpSignalVerdict v;
  const char *why = NULL;
  gboolean delete = FALSE;
  g_autoptr (PpSignalSession) s = NULL;

  if (error != NULL)
    {
      req_store_error (r, error);
      return;
    }
  s = load (r, value, &v, &why);
  if (s == NULL)
    {
      req_verdict (r, v, why);
      return;
    }
  v = transition (r, s, &delete, &why);
  if (v != PP_SIGNAL_OK)
    {
      req_verdict (r, v, why);
      return;
    }
  g_clear_pointer (&r->old, g_bytes_unref);
  r->old = g_bytes_ref (value);
  if (r->op == OP_JOIN)
    r->result = g_steal_pointer (&s);
  req_write (r, r->op == OP_JOIN ? r->result : s, delete);
}

static void
req_read (Req *r)
{
  if (r->op == OP_CREATE)
    {
      apply_create (r);
      return;
    }
  req_park (r);
  pp_signal_store_get (r->srv->store, r->id, change_got_cb, r);
}

/* ---- long polls ----------------------------------------------------------------- */

static void poll_check (Req *r, GBytes *value, gboolean timed_out);

static void
poll_unregister (Req *r)
{
  GPtrArray *list = g_hash_table_lookup (r->srv->polls, r->id);

  if (list == NULL || !g_ptr_array_remove_fast (list, r))
    return;
  r->srv->n_polls--;
  if (list->len == 0)
    g_hash_table_remove (r->srv->polls, r->id);
}

static void
poll_end_error (Req *r, guint code, const char *why)
{
  poll_unregister (r);
  req_error (r, code, why);
}

static void poll_got_cb (GBytes *value, const GError *error, gpointer data);

static void
poll_fetch (Req *r)
{
  r->reading = TRUE;
  r->recheck = FALSE;
  pp_signal_store_get (r->srv->store, r->id, poll_got_cb, r);
}

static void
poll_got_cb (GBytes *value, const GError *error, gpointer data)
{
  Req *r = data;

  r->reading = FALSE;
  if (error != NULL)
    {
      poll_unregister (r);
      req_store_error (r, error);
      return;
    }
  poll_check (r, value, r->timed_out);
}

static gboolean
poll_timer_cb (gpointer data)
{
  Req *r = data;

  g_clear_pointer (&r->poll_timer, g_source_unref);
  r->srv->polls_timed_out++;
  r->timed_out = TRUE;
  if (!r->reading)
    poll_fetch (r);
  return G_SOURCE_REMOVE;
}

static gboolean
poll_register (Req *r)
{
  PpSignalServer *srv = r->srv;
  GPtrArray *list = g_hash_table_lookup (srv->polls, r->id);

  if (list != NULL && g_ptr_array_find (list, r, NULL))
    return TRUE;  /* already parked: a wake-up that found nothing new */
  if (srv->n_polls >= srv->opt.max_polls)
    {
      req_error (r, SOUP_STATUS_SERVICE_UNAVAILABLE, "too many long polls on this server");
      return FALSE;
    }
  if (list != NULL && list->len >= srv->opt.max_polls_per_session)
    {
      req_error (r, STATUS_TOO_MANY_REQUESTS, "too many long polls on this session");
      return FALSE;
    }
  if (list == NULL)
    {
      list = g_ptr_array_new ();
      g_hash_table_insert (srv->polls, g_strdup (r->id), list);
    }
  g_ptr_array_add (list, r);
  srv->n_polls++;
  srv->polls_total++;
  r->poll_timer = g_timeout_source_new (srv->opt.poll_timeout_ms);
  g_source_set_callback (r->poll_timer, poll_timer_cb, r, NULL);
  g_source_attach (r->poll_timer, g_main_context_get_thread_default ());
  req_park (r);
  return TRUE;
}

static void
poll_check (Req *r, GBytes *value, gboolean timed_out)
{
  PpSignalVerdict v;
  const char *why = NULL;
  g_autoptr (PpSignalSession) s = NULL;
  size_t len = 0;
  char *body;
  PpSignalRole role;

  if (r->done)
    {
      poll_unregister (r);
      req_free (r);
      return;
    }
  s = load (r, value, &v, &why);
  if (s == NULL)
    {
      poll_end_error (r, (guint) pp_signal_verdict_http (v), why);
      return;
    }
  role = pp_signal_session_role (s, r->token_hash);
  v = pp_signal_session_may_poll (role, r->poll_for, &why);
  if (v != PP_SIGNAL_OK)
    {
      poll_end_error (r, (guint) pp_signal_verdict_http (v), why);
      return;
    }
  if (!timed_out && !pp_signal_session_ready (s, r->poll_for))
    {
      if (poll_register (r) && r->recheck)
        poll_fetch (r); /* it changed again while we were reading */
      return;
    }
  if (!timed_out)
    r->srv->polls_woken++;
  poll_unregister (r);
  body = pp_signal_session_to_view (s, role, &len);
  req_finish (r, SOUP_STATUS_OK, body, len);
}

/* After a store outage: every parked poll looks again. */
static void
notify_all (PpSignalServer *srv)
{
  GHashTableIter it;
  gpointer k;
  g_autoptr (GPtrArray) ids = g_ptr_array_new_with_free_func (g_free);

  g_hash_table_iter_init (&it, srv->polls);
  while (g_hash_table_iter_next (&it, &k, NULL))
    g_ptr_array_add (ids, g_strdup (k));
  for (guint i = 0; i < ids->len; i++)
    store_notify_cb (g_ptr_array_index (ids, i), srv);
}

/* The store says @id changed (NULL: anything may have): every poll parked on
 * it looks again. */
static void
store_notify_cb (const char *id, gpointer user_data)
{
  PpSignalServer *srv = user_data;
  GPtrArray *list;
  g_autoptr (GPtrArray) copy = NULL;

  if (srv->closing)
    return;
  if (id == NULL)
    {
      notify_all (srv);
      return;
    }
  list = g_hash_table_lookup (srv->polls, id);
  if (list == NULL)
    return;
  copy = g_ptr_array_copy (list, NULL, NULL);
  for (guint i = 0; i < copy->len; i++)
    {
      Req *r = g_ptr_array_index (copy, i);

      if (r->reading)
        r->recheck = TRUE;
      else
        poll_fetch (r);
    }
}

/* ---- routing -------------------------------------------------------------------- */

static gboolean
read_token (Req *r, SoupServerMessage *msg)
{
  const char *auth = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                   "Authorization");
  const char *tok;

  if (auth == NULL || g_ascii_strncasecmp (auth, "Bearer ", 7) != 0)
    {
      req_error (r, SOUP_STATUS_UNAUTHORIZED, "missing \"Authorization: Bearer <token>\"");
      return FALSE;
    }
  tok = auth + 7;
  if (*tok == '\0' || strlen (tok) > MAX_TOKEN_LEN)
    {
      req_error (r, SOUP_STATUS_UNAUTHORIZED, "the bearer token is malformed");
      return FALSE;
    }
  pp_signal_token_hash (tok, r->token_hash);
  return TRUE;
}

static GBytes *
request_body (SoupServerMessage *msg)
{
  return soup_message_body_flatten (soup_server_message_get_request_body (msg));
}

static gboolean
check_rate (Req *r, RateLimit *limit, const char *what)
{
  g_autofree char *addr = client_address (r->srv, r->msg);
  g_autofree char *why = NULL;

  if (rate_take (limit, addr))
    return TRUE;
  r->srv->rate_limited++;
  why = g_strdup_printf ("too many %s requests from %s; slow down", what, addr);
  req_error (r, STATUS_TOO_MANY_REQUESTS, why);
  return FALSE;
}

/* The longest a session can live: waiting, deciding, connecting, linger. */
static int64_t
session_lifetime_ms (PpSignalServer *srv)
{
  const PpSignalTtl *t = &srv->opt.ttl;

  return t->waiting_ms + t->decide_ms + t->connect_ms + t->linger_ms;
}

/* Sessions created here that may still live.  A store that cannot count
 * cheaply (Redis, shared by several instances) is capped per instance by
 * this upper bound instead. */
static guint
created_recently (PpSignalServer *srv)
{
  int64_t now = now_ms (srv);
  int64_t *expiry;

  while ((expiry = g_queue_peek_head (&srv->created)) != NULL && *expiry <= now)
    g_free (g_queue_pop_head (&srv->created));
  return srv->created.length;
}

static gboolean
under_session_cap (PpSignalServer *srv)
{
  int64_t counts[PP_SIGNAL_N_STATUS];
  int64_t total = 0;

  if (!pp_signal_store_count (srv->store, counts))
    return created_recently (srv) < srv->opt.max_sessions;
  for (guint i = 0; i < PP_SIGNAL_N_STATUS; i++)
    total += counts[i];
  return total < (int64_t) srv->opt.max_sessions;
}

static void
note_created (PpSignalServer *srv)
{
  int64_t *expiry = g_new (int64_t, 1);

  *expiry = now_ms (srv) + session_lifetime_ms (srv);
  g_queue_push_tail (&srv->created, expiry);
}

static void
handle_create (PpSignalServer *srv, SoupServerMessage *msg)
{
  Req *r = req_new (srv, msg, OP_CREATE);
  g_autoptr (GBytes) body = request_body (msg);
  const char *why = NULL;
  PpSignalVerdict v;

  if (srv->opt.embedded)
    {
      req_error (r, SOUP_STATUS_FORBIDDEN, "this server is embedded in a host; sessions are "
                                           "created by the host only");
      return;
    }
  if (!check_rate (r, &srv->create_limit, "create"))
    return;
  v = pp_signal_parse_create (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &r->name,
                              r->bytes, &why);
  if (v != PP_SIGNAL_OK)
    {
      req_verdict (r, v, why);
      return;
    }
  if (!under_session_cap (srv))
    {
      req_error (r, SOUP_STATUS_SERVICE_UNAVAILABLE, "too many sessions on this server");
      return;
    }
  note_created (srv);
  pp_signal_new_id (r->id);
  pp_signal_new_token (r->token);
  req_read (r);
}

static void
handle_join (PpSignalServer *srv, SoupServerMessage *msg, const char *id)
{
  Req *r = req_new (srv, msg, OP_JOIN);
  g_autoptr (GBytes) body = request_body (msg);
  const char *why = NULL;
  PpSignalVerdict v;

  g_strlcpy (r->id, id, sizeof r->id);
  if (!check_rate (r, &srv->join_limit, "join"))
    return;
  v = pp_signal_parse_join (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &r->name,
                            r->bytes, &why);
  if (v != PP_SIGNAL_OK)
    {
      req_verdict (r, v, why);
      return;
    }
  pp_signal_new_token (r->token);
  req_read (r);
}

static void
handle_signal (PpSignalServer *srv, SoupServerMessage *msg, const char *id)
{
  Req *r = req_new (srv, msg, OP_SIGNAL);
  g_autoptr (GBytes) body = request_body (msg);
  const char *why = NULL;
  PpSignalVerdict v;

  g_strlcpy (r->id, id, sizeof r->id);
  if (!read_token (r, msg))
    return;
  v = pp_signal_parse_msg (g_bytes_get_data (body, NULL), g_bytes_get_size (body), &r->sig, &why);
  if (v != PP_SIGNAL_OK)
    {
      req_verdict (r, v, why);
      return;
    }
  req_read (r);
}

static void
handle_delete (PpSignalServer *srv, SoupServerMessage *msg, const char *id)
{
  Req *r = req_new (srv, msg, OP_DELETE);

  g_strlcpy (r->id, id, sizeof r->id);
  if (read_token (r, msg))
    req_read (r);
}

static void
handle_poll (PpSignalServer *srv, SoupServerMessage *msg, const char *id, GHashTable *query)
{
  Req *r = req_new (srv, msg, OP_POLL);
  const char *f = query != NULL ? g_hash_table_lookup (query, "for") : NULL;

  g_strlcpy (r->id, id, sizeof r->id);
  if (!read_token (r, msg))
    return;
  if (!pp_signal_for_parse (f, &r->poll_for))
    {
      req_error (r, SOUP_STATUS_BAD_REQUEST,
                 "\"for\" must be one of join, nonce, reveal, offer, answer");
      return;
    }
  req_park (r);
  poll_fetch (r);
}

static void
handle_metrics (PpSignalServer *srv, SoupServerMessage *msg)
{
  char *text = pp_signal_server_metrics (srv);

  send_raw (srv, msg, SOUP_STATUS_OK, "text/plain; version=0.0.4", text, strlen (text));
}

static void
handle_healthz (PpSignalServer *srv, SoupServerMessage *msg)
{
  if (!pp_signal_store_available (srv->store))
    {
      send_error (srv, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "the session store is unavailable");
      return;
    }
  if (srv->stun_ports != NULL)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
                                  "X-Peerport-Stun", srv->stun_ports);
  send_raw (srv, msg, SOUP_STATUS_OK, "text/plain", g_strdup ("ok\n"), 3);
}

static void
method_not_allowed (PpSignalServer *srv, SoupServerMessage *msg, const char *allow)
{
  g_autofree char *why = g_strdup_printf ("method not allowed here; use %s", allow);

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", allow);
  send_error (srv, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, why);
}

static void
route_session (PpSignalServer *srv, SoupServerMessage *msg, const char *method, const char *rest,
               GHashTable *query)
{
  char id[PP_SIGNAL_ID_LEN + 1];
  const char *tail;

  g_strlcpy (id, rest, sizeof id);
  tail = strlen (rest) > PP_SIGNAL_ID_LEN ? rest + PP_SIGNAL_ID_LEN : "";
  if (!pp_signal_id_valid (id) || (*tail != '\0' && strcmp (tail, "/signal") != 0))
    {
      send_error (srv, msg, SOUP_STATUS_NOT_FOUND,
                  "unknown path; a session id is 21 characters of A-Za-z0-9_-");
      return;
    }
  if (*tail != '\0')
    {
      if (strcmp (method, "PUT") == 0 || strcmp (method, "POST") == 0)
        handle_signal (srv, msg, id);
      else
        method_not_allowed (srv, msg, "PUT, POST");
      return;
    }
  if (strcmp (method, "POST") == 0)
    handle_join (srv, msg, id);
  else if (strcmp (method, "GET") == 0)
    handle_poll (srv, msg, id, query);
  else if (strcmp (method, "DELETE") == 0)
    handle_delete (srv, msg, id);
  else
    method_not_allowed (srv, msg, "GET, POST, DELETE");
}

static void
handler_cb (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer user_data)
{
  PpSignalServer *srv = user_data;
  const char *method = soup_server_message_get_method (msg);
  Guard *g = g_object_get_data (G_OBJECT (msg), "pp-guard");

  if (g != NULL && g->answered)
    return;
  if (strcmp (method, "OPTIONS") == 0)
    send_raw (srv, msg, SOUP_STATUS_NO_CONTENT, NULL, NULL, 0);
  else if (strcmp (path, "/healthz") == 0)
    handle_healthz (srv, msg);
  else if (strcmp (path, "/metrics") == 0 && !srv->opt.embedded)
    handle_metrics (srv, msg);
  else if (strcmp (path, "/session") == 0 && strcmp (method, "POST") == 0)
    handle_create (srv, msg);
  else if (strcmp (path, "/session") == 0)
    method_not_allowed (srv, msg, "POST");
  else if (g_str_has_prefix (path, "/session/"))
    route_session (srv, msg, method, path + strlen ("/session/"), query);
  else
    send_error (srv, msg, SOUP_STATUS_NOT_FOUND, "unknown path");
}

/* ---- connection hygiene: body size, slowloris, idle ------------------------------ */


static void
guard_stop (Guard *g)
{
  if (g->timer != NULL)
    {
      g_source_destroy (g->timer);
      g_clear_pointer (&g->timer, g_source_unref);
    }
}

static void
guard_free (gpointer data)
{
  guard_stop (data);
  g_free (data);
}

static void
kill_connection (SoupServerMessage *msg)
{
  GSocket *sock = soup_server_message_get_socket (msg);

  if (sock != NULL)
    g_socket_shutdown (sock, TRUE, TRUE, NULL);
}

static gboolean
guard_timeout_cb (gpointer data)
{
  Guard *g = data;

  g_clear_pointer (&g->timer, g_source_unref);
  kill_connection (g->msg); /* too slow to send its request: slowloris or dead */
  return G_SOURCE_REMOVE;
}

/* libsoup would read a declared body whatever status we set, so an
 * oversized one is answered on the socket directly and the connection
 * closed: none of the body is ever read. */
static void
refuse_too_large (Guard *g, SoupServerMessage *msg)
{
  GSocket *sock = soup_server_message_get_socket (msg);
  size_t len = 0;
  g_autofree char *body = pp_signal_error_json ("the request body is larger than 64 KiB", &len);
  g_autofree char *resp = g_strdup_printf ("HTTP/1.1 413 Payload Too Large\r\n"
                                           "Content-Type: application/json\r\n"
                                           "Content-Length: %zu\r\n"
                                           "Access-Control-Allow-Origin: *\r\n"
                                           "Connection: close\r\n\r\n%s", len, body);

  g->answered = TRUE;
  count_code (g->srv, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE);
  guard_stop (g);
  if (sock != NULL)
    g_socket_send (sock, resp, strlen (resp), NULL, NULL);
  kill_connection (msg);
}

static void
got_headers_cb (SoupServerMessage *msg, gpointer data)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);

  if (soup_message_headers_get_encoding (h) == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (h) > PP_SIGNAL_BODY_MAX)
    refuse_too_large (data, msg);
}

static void
got_chunk_cb (SoupServerMessage *msg, GBytes *chunk, gpointer data)
{
  Guard *g = data;

  g->body_len += (goffset) g_bytes_get_size (chunk);
  if (g->body_len > PP_SIGNAL_BODY_MAX)
    kill_connection (msg); /* chunked past the limit: no polite answer is possible */
}

static void
got_body_cb (SoupServerMessage *msg, gpointer data)
{
  guard_stop (data);
}

static void
request_started_cb (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  PpSignalServer *srv = user_data;
  Guard *g = g_new0 (Guard, 1);
  GSocket *sock = soup_server_message_get_socket (msg);

  if (sock != NULL)
    g_socket_set_timeout (sock, srv->opt.idle_timeout_s);
  g->srv = srv;
  g->msg = msg;
  g->timer = g_timeout_source_new (srv->opt.request_timeout_ms);
  g_source_set_callback (g->timer, guard_timeout_cb, g, NULL);
  g_source_attach (g->timer, g_main_context_get_thread_default ());
  g_object_set_data_full (G_OBJECT (msg), "pp-guard", g, guard_free);
  g_signal_connect (msg, "got-headers", G_CALLBACK (got_headers_cb), g);
  g_signal_connect (msg, "got-chunk", G_CALLBACK (got_chunk_cb), g);
  g_signal_connect (msg, "got-body", G_CALLBACK (got_body_cb), g);
}

/* ---- life --------------------------------------------------------------------- */

PpSignalServer *
pp_signal_server_new (const PpSignalServerOptions *o, PpSignalStore *store)
{
  PpSignalServer *srv = g_new0 (PpSignalServer, 1);

  srv->opt = *o;
  srv->opt.trusted_proxies = g_ptr_array_copy (o->trusted_proxies, copy_ref,
                                               NULL);
  g_ptr_array_set_free_func (srv->opt.trusted_proxies, g_object_unref);
  if (srv->opt.poll_timeout_ms == 0)
    srv->opt.poll_timeout_ms = 1;
  srv->store = store;
  pp_signal_store_set_notify (store, store_notify_cb, srv);
  srv->polls = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify) g_ptr_array_unref);
  srv->by_code = g_hash_table_new (NULL, NULL);
  rate_init (&srv->create_limit, o->create_per_s, o->create_burst);
  rate_init (&srv->join_limit, o->join_per_s, o->join_burst);
  srv->soup = soup_server_new ("server-header", "peerport-signal ", NULL);
  soup_server_add_handler (srv->soup, NULL, handler_cb, srv, NULL);
  g_signal_connect (srv->soup, "request-started", G_CALLBACK (request_started_cb), srv);
  return srv;
}

/* Our own listening socket: GSocket's default backlog of 10 drops (and
 * resets) connections as soon as a few dozen clients arrive at once. */
static GSocket *
listening_socket (GSocketAddress *addr, GError **error)
{
  g_autoptr (GSocket) sock = g_socket_new (g_socket_address_get_family (addr),
                                           G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);

  if (sock == NULL)
    return NULL;
  g_socket_set_listen_backlog (sock, 1024);
  g_socket_set_blocking (sock, FALSE);
  if (!g_socket_bind (sock, addr, TRUE, error) || !g_socket_listen (sock, error))
    return NULL;
  return g_steal_pointer (&sock);
}

gboolean
pp_signal_server_listen (PpSignalServer *srv, GSocketAddress *addr, GTlsCertificate *tls,
                         GError **error)
{
  SoupServerListenOptions flags = 0;
  g_autoptr (GSocket) sock = listening_socket (addr, error);

  if (sock == NULL)
    return FALSE;
  if (tls != NULL)
    {
      g_object_set (srv->soup, "tls-certificate", tls, NULL);
      flags |= SOUP_SERVER_LISTEN_HTTPS;
    }
  if (!soup_server_listen_socket (srv->soup, sock, flags, error))
    return FALSE;
  srv->listening = TRUE;
  srv->embedded_idle = FALSE;
  return TRUE;
}

gboolean
pp_signal_server_is_listening (PpSignalServer *srv)
{
  return srv->listening;
}

/* Embedded mode: stop listening once nothing is pending (the next
 * create_session() listens again, on the same port).  Not at the first
 * check that finds nothing pending: the answer that consumed the last session
 * may still be on its way out, to the client (its 204) and to the host's long
 * poll, and disconnecting would cut both.  So nothing pending, no long poll
 * parked, twice in a row. */
static gboolean
embedded_check_cb (gpointer data)
{
  PpSignalServer *srv = data;
  gboolean idle = srv->listening && srv->n_polls == 0
                  && pp_signal_server_pending_sessions (srv) == 0;

  if (idle && srv->embedded_idle)
    {
      soup_server_disconnect (srv->soup);
      srv->listening = FALSE;
      idle = FALSE;
    }
  srv->embedded_idle = idle;
  return G_SOURCE_CONTINUE;
}

void
pp_signal_server_set_embedded_address (PpSignalServer *srv, GSocketAddress *addr)
{
  g_set_object (&srv->embedded_addr, addr);
  if (srv->embedded_check == NULL)
    {
      srv->embedded_check = g_timeout_source_new_seconds (1);
      g_source_set_callback (srv->embedded_check, embedded_check_cb, srv, NULL);
      g_source_attach (srv->embedded_check, g_main_context_get_thread_default ());
    }
}

static gboolean
embedded_listen (PpSignalServer *srv, GError **error)
{
  GSocketAddress *bound;
  guint16 port;

  if (srv->embedded_addr == NULL || srv->listening)
    return TRUE;
  if (!pp_signal_server_listen (srv, srv->embedded_addr, NULL, error))
    return FALSE;
  /* Keep the port a system-chosen one got, so printed URLs stay valid. */
  port = pp_signal_server_get_port (srv);
  bound = g_inet_socket_address_new (
    g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (srv->embedded_addr)), port);
  g_object_unref (srv->embedded_addr);
  srv->embedded_addr = bound;
  return TRUE;
}

void
pp_signal_server_set_stun_ports (PpSignalServer *srv, guint16 port, guint16 alt)
{
  g_free (srv->stun_ports);
  srv->stun_ports = port == 0 ? NULL
                    : alt == 0 ? g_strdup_printf ("%u", port)
                               : g_strdup_printf ("%u %u", port, alt);
}

guint16
pp_signal_server_get_port (PpSignalServer *srv)
{
  GSList *l = soup_server_get_listeners (srv->soup);
  g_autoptr (GSocketAddress) a = NULL;
  guint16 port = 0;

  if (l != NULL)
    a = g_socket_get_local_address (l->data, NULL);
  if (a != NULL && G_IS_INET_SOCKET_ADDRESS (a))
    port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a));
  g_slist_free (l);
  return port;
}

void
pp_signal_server_disconnect (PpSignalServer *srv)
{
  soup_server_disconnect (srv->soup);
  srv->listening = FALSE;
}

static void
free_all_polls (PpSignalServer *srv)
{
  GHashTableIter it;
  gpointer v;
  g_autoptr (GPtrArray) all = g_ptr_array_new ();

  g_hash_table_iter_init (&it, srv->polls);
  while (g_hash_table_iter_next (&it, NULL, &v))
    g_ptr_array_extend (all, v, NULL, NULL);
  g_hash_table_remove_all (srv->polls);
  srv->n_polls = 0;
  for (guint i = 0; i < all->len; i++)
    {
      Req *r = g_ptr_array_index (all, i);

      if (!r->reading) /* else the store's failing callback frees it */
        req_error (r, SOUP_STATUS_SERVICE_UNAVAILABLE, "the server is shutting down");
    }
}

void
pp_signal_server_free (PpSignalServer *srv)
{
  if (srv == NULL)
    return;
  if (srv->embedded_check != NULL)
    {
      g_source_destroy (srv->embedded_check);
      g_source_unref (srv->embedded_check);
    }
  g_clear_object (&srv->embedded_addr);
  free_all_polls (srv);
  srv->closing = TRUE;
  soup_server_disconnect (srv->soup);
  /* Pending store operations call back with an error and free their requests. */
  pp_signal_store_free (srv->store);
  g_object_unref (srv->soup);
  g_hash_table_unref (srv->polls);
  g_hash_table_unref (srv->by_code);
  g_queue_clear_full (&srv->created, g_free);
  g_hash_table_unref (srv->create_limit.buckets);
  g_hash_table_unref (srv->join_limit.buckets);
  g_ptr_array_unref (srv->opt.trusted_proxies);
  g_free (srv->stun_ports);
  g_free (srv);
}

static void
create_done_cb (gboolean swapped, const GError *error, gpointer data)
{
  int *state = data;

  *state = error != NULL ? -1 : swapped ? 1 : 0;
}

gboolean
pp_signal_server_create_session (PpSignalServer *srv, const char *host,
                                 const uint8_t fp[PP_SIGNAL_FP_LEN],
                                 char id[PP_SIGNAL_ID_LEN + 1],
                                 char token[PP_SIGNAL_TOKEN_LEN + 1], GError **error)
{
  char hash[PP_SIGNAL_HASH_HEX_LEN + 1];
  g_autoptr (PpSignalSession) s = NULL;
  g_autoptr (GBytes) blob = NULL;
  int state = -2;

  if (!pp_signal_name_valid (host))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "the host name must be 1 to 64 bytes of printable ASCII");
      return FALSE;
    }
  pp_signal_new_id (id);
  pp_signal_new_token (token);
  pp_signal_token_hash (token, hash);
  s = pp_signal_session_new (id, host, fp, hash, now_ms (srv), &srv->opt.ttl);
  blob = pp_signal_session_to_store (s);
  pp_signal_store_put (srv->store, id, NULL, blob, srv->opt.ttl.waiting_ms, create_done_cb,
                       &state);
  if (state != 1)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "the session could not be stored (the embedded server needs the memory "
                   "store)");
      return FALSE;
    }
  return embedded_listen (srv, error);
}

gboolean
pp_signal_server_ready (PpSignalServer *srv)
{
  return pp_signal_store_available (srv->store);
}

gint64
pp_signal_server_pending_sessions (PpSignalServer *srv)
{
  int64_t counts[PP_SIGNAL_N_STATUS];
  gint64 n = 0;

  if (!pp_signal_store_count (srv->store, counts))
    return -1;
  for (guint i = 0; i < PP_SIGNAL_ANSWERED; i++)
    n += counts[i];
  return n;
}

char *
pp_signal_server_metrics (PpSignalServer *srv)
{
  GString *s = g_string_new (NULL);
  int64_t counts[PP_SIGNAL_N_STATUS];
  GHashTableIter it;
  gpointer k, v;

  g_string_append (s, "# HELP peerport_signal_sessions Sessions in the store by status.\n"
                      "# TYPE peerport_signal_sessions gauge\n");
  if (pp_signal_store_count (srv->store, counts))
    for (guint i = 0; i < PP_SIGNAL_N_STATUS; i++)
      g_string_append_printf (s, "peerport_signal_sessions{status=\"%s\"} %" G_GINT64_FORMAT "\n",
                              pp_signal_status_name ((PpSignalStatus) i), (gint64) counts[i]);
  g_string_append (s, "# HELP peerport_signal_requests_total HTTP responses by status code.\n"
                      "# TYPE peerport_signal_requests_total counter\n");
  g_hash_table_iter_init (&it, srv->by_code);
  while (g_hash_table_iter_next (&it, &k, &v))
    g_string_append_printf (s, "peerport_signal_requests_total{code=\"%u\"} %" G_GSIZE_FORMAT "\n",
                            GPOINTER_TO_UINT (k), GPOINTER_TO_SIZE (v));
  g_string_append_printf (s, "# TYPE peerport_signal_long_polls gauge\n"
                             "peerport_signal_long_polls %u\n"
                             "# TYPE peerport_signal_long_polls_total counter\n"
                             "peerport_signal_long_polls_total %" G_GUINT64_FORMAT "\n"
                             "peerport_signal_long_polls_woken_total %" G_GUINT64_FORMAT "\n"
                             "peerport_signal_long_polls_timed_out_total %" G_GUINT64_FORMAT "\n"
                             "# TYPE peerport_signal_store_errors_total counter\n"
                             "peerport_signal_store_errors_total %" G_GUINT64_FORMAT "\n"
                             "# TYPE peerport_signal_rate_limited_total counter\n"
                             "peerport_signal_rate_limited_total %" G_GUINT64_FORMAT "\n",
                          srv->n_polls, srv->polls_total, srv->polls_woken, srv->polls_timed_out,
                          srv->store->errors, srv->rate_limited);
  return g_string_free (s, FALSE);
}
