/* SPDX-License-Identifier: MIT
 *
 * pp-signal-store-redis: sessions in Redis, so several `peerport signal`
 * instances serve one session.  Two hiredis connections on the GLib main
 * context: one for commands, one PSUBSCRIBEd to change notifications.  Every
 * write is one Lua script (compare, SET with PX or DEL, PUBLISH), so a join
 * is atomic across instances.  When Redis goes away every call fails at once
 * with an error (the server answers 503) and both connections come back on
 * their own with backoff.  Keys hold token hashes only, never tokens.
 */
#include "signal/pp-signal-store.h"

#include <hiredis/adapters/glib.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PREFIX "pp:s:"
#define CHANNEL_PREFIX "pp:w:"
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000

static const char cas_script[] =
  "local cur = redis.call('GET', KEYS[1])\n"
  "if ARGV[1] == '0' then\n"
  "  if cur then return 0 end\n"
  "elseif cur ~= ARGV[2] then\n"
  "  return 0\n"
  "end\n"
  "if ARGV[3] == '' then redis.call('DEL', KEYS[1])\n"
  "else redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4]) end\n"
  "redis.call('PUBLISH', ARGV[5], '1')\n"
  "return 1\n";

typedef struct _RedisStore RedisStore;

typedef struct
{
  RedisStore *rs;
  redisAsyncContext *ac;
  GSource *source;
  GSource *stale;  /* a source whose context hiredis has yet to clean up */
  GSource *retry;
  guint backoff_ms;
  gboolean ready;
  gboolean is_sub;
} Conn;

struct _RedisStore
{
  PpSignalStore base;
  char *host;
  int port;
  int db;
  Conn cmd, sub;
  char *last_error;
  gboolean freeing;
};

static void conn_start (Conn *c);

static void
set_error (RedisStore *rs, const char *what)
{
  g_free (rs->last_error);
  rs->last_error = g_strdup_printf ("Redis at %s:%d: %s", rs->host, rs->port, what);
}

static gboolean
retry_cb (gpointer data)
{
  Conn *c = data;

  g_clear_pointer (&c->retry, g_source_unref);
  conn_start (c);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (Conn *c)
{
  if (c->rs->freeing || c->retry != NULL)
    return;
  c->backoff_ms = c->backoff_ms == 0 ? BACKOFF_MIN_MS : MIN (c->backoff_ms * 2, BACKOFF_MAX_MS);
  c->retry = g_timeout_source_new (c->backoff_ms);
  g_source_set_callback (c->retry, retry_cb, c, NULL);
  g_source_attach (c->retry, g_main_context_get_thread_default ());
}

static void
drop_source (GSource **s)
{
  if (*s != NULL)
    {
      g_source_destroy (*s);
      g_clear_pointer (s, g_source_unref);
    }
}

/* hiredis has freed (or is freeing) the context.  Its adapter cleanup runs
 * before the disconnect callback but after a failed connect's callback, so
 * in that case the source is only set aside until the retry. */
static void
conn_lost (Conn *c, gboolean cleaned_up)
{
  c->ac = NULL;
  c->ready = FALSE;
  if (cleaned_up)
    drop_source (&c->source);
  else
    {
      drop_source (&c->stale);
      c->stale = g_steal_pointer (&c->source);
    }
  schedule_retry (c);
}

static void
disconnect_cb (const redisAsyncContext *ac, int status)
{
  Conn *c = ac->data;

  if (status != REDIS_OK)
    set_error (c->rs, ac->errstr[0] != '\0' ? ac->errstr : "connection lost");
  conn_lost (c, TRUE);
}

static void
pmessage_cb (redisAsyncContext *ac, void *reply_, void *privdata)
{
  redisReply *reply = reply_;
  RedisStore *rs = privdata;
  const char *kind;

  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3)
    return;
  kind = reply->element[0]->str;
  if (kind != NULL && strcmp (kind, "psubscribe") == 0)
    {
      /* Subscribed again after an outage: changes may have been missed, so
       * every parked poll looks again. */
      rs->sub.ready = TRUE;
      pp_signal_store_emit (&rs->base, NULL);
      return;
    }
  if (kind != NULL && strcmp (kind, "pmessage") == 0 && reply->elements == 4
      && reply->element[2]->type == REDIS_REPLY_STRING
      && g_str_has_prefix (reply->element[2]->str, CHANNEL_PREFIX))
    pp_signal_store_emit (&rs->base, reply->element[2]->str + strlen (CHANNEL_PREFIX));
}

static void
connect_cb (const redisAsyncContext *ac, int status)
{
  Conn *c = ac->data;

  if (status != REDIS_OK)
    {
      set_error (c->rs, ac->errstr[0] != '\0' ? ac->errstr : "connection refused");
      conn_lost (c, FALSE); /* hiredis frees the context after this callback */
      return;
    }
  c->backoff_ms = 0;
  if (!c->is_sub)
    c->ready = TRUE;
}

static void
conn_start (Conn *c)
{
  RedisStore *rs = c->rs;
  redisAsyncContext *ac;

  drop_source (&c->stale);
  ac = redisAsyncConnect (rs->host, rs->port);

  if (ac == NULL || ac->err)
    {
      set_error (rs, ac != NULL ? ac->errstr : "out of memory");
      if (ac != NULL)
        redisAsyncFree (ac);
      schedule_retry (c);
      return;
    }
  c->ac = ac;
  ac->data = c;
  c->source = redis_source_new (ac);
  g_source_attach (c->source, g_main_context_get_thread_default ());
  redisAsyncSetConnectCallback (ac, connect_cb);
  redisAsyncSetDisconnectCallback (ac, disconnect_cb);
  if (rs->db != 0)
    redisAsyncCommand (ac, NULL, NULL, "SELECT %d", rs->db);
  if (c->is_sub)
    redisAsyncCommand (ac, pmessage_cb, rs, "PSUBSCRIBE " CHANNEL_PREFIX "*");
}

/* ---- operations -------------------------------------------------------------- */

typedef struct
{
  RedisStore *rs;
  PpSignalStoreGetCb get;
  PpSignalStorePutCb put;
  gpointer user_data;
} Op;

static GError *
unavailable (RedisStore *rs)
{
  return g_error_new (PP_SIGNAL_STORE_ERROR, 0, "%s",
                      rs->last_error != NULL ? rs->last_error : "Redis is not connected");
}

static GError *
reply_error (RedisStore *rs, redisReply *reply)
{
  if (reply == NULL)
    return unavailable (rs);
  return g_error_new (PP_SIGNAL_STORE_ERROR, 0, "Redis: %s",
                      reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
}

static void
get_reply_cb (redisAsyncContext *ac, void *reply_, void *privdata)
{
  redisReply *reply = reply_;
  Op *op = privdata;
  g_autoptr (GBytes) value = NULL;
  g_autoptr (GError) error = NULL;

  if (reply != NULL && reply->type == REDIS_REPLY_STRING)
    value = g_bytes_new (reply->str, reply->len);
  else if (reply == NULL || reply->type != REDIS_REPLY_NIL)
    error = reply_error (op->rs, reply);
  op->get (value, error, op->user_data);
  g_free (op);
}

static void
redis_get (PpSignalStore *st, const char *id, PpSignalStoreGetCb cb, gpointer user_data)
{
  RedisStore *rs = (RedisStore *) st;
  g_autofree char *key = g_strconcat (KEY_PREFIX, id, NULL);
  Op *op;

  if (!rs->cmd.ready)
    {
      g_autoptr (GError) error = unavailable (rs);

      cb (NULL, error, user_data);
      return;
    }
  op = g_new0 (Op, 1);
  op->rs = rs;
  op->get = cb;
  op->user_data = user_data;
  redisAsyncCommand (rs->cmd.ac, get_reply_cb, op, "GET %s", key);
}

static void
put_reply_cb (redisAsyncContext *ac, void *reply_, void *privdata)
{
  redisReply *reply = reply_;
  Op *op = privdata;
  g_autoptr (GError) error = NULL;
  gboolean swapped = FALSE;

  if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
    swapped = reply->integer == 1;
  else
    error = reply_error (op->rs, reply);
  op->put (swapped, error, op->user_data);
  g_free (op);
}

static void
redis_put (PpSignalStore *st, const char *id, GBytes *expect, GBytes *value, int64_t ttl_ms,
           PpSignalStorePutCb cb, gpointer user_data)
{
  RedisStore *rs = (RedisStore *) st;
  g_autofree char *key = g_strconcat (KEY_PREFIX, id, NULL);
  g_autofree char *chan = g_strconcat (CHANNEL_PREFIX, id, NULL);
  g_autofree char *ttl = g_strdup_printf ("%" G_GINT64_FORMAT, MAX (ttl_ms, 1));
  const char *argv[9];
  size_t lens[9];
  Op *op;

  if (!rs->cmd.ready)
    {
      g_autoptr (GError) error = unavailable (rs);

      cb (FALSE, error, user_data);
      return;
    }
  argv[0] = "EVAL";
  argv[1] = cas_script;
  argv[2] = "1";
  argv[3] = key;
  argv[4] = expect != NULL ? "1" : "0";
  argv[5] = expect != NULL ? g_bytes_get_data (expect, &lens[5]) : "";
  argv[6] = value != NULL ? g_bytes_get_data (value, &lens[6]) : "";
  argv[7] = ttl;
  argv[8] = chan;
  for (guint i = 0; i < 9; i++)
    if (!((i == 5 && expect != NULL) || (i == 6 && value != NULL)))
      lens[i] = strlen (argv[i]);
  op = g_new0 (Op, 1);
  op->rs = rs;
  op->put = cb;
  op->user_data = user_data;
  redisAsyncCommandArgv (rs->cmd.ac, put_reply_cb, op, 9, argv, lens);
}

static gboolean
redis_count (PpSignalStore *st, int64_t out[PP_SIGNAL_N_STATUS])
{
  return FALSE; /* shared with other instances: no cheap, honest count */
}

static gboolean
redis_available (PpSignalStore *st)
{
  RedisStore *rs = (RedisStore *) st;

  return rs->cmd.ready && rs->sub.ready;
}

static void
conn_stop (Conn *c)
{
  if (c->retry != NULL)
    {
      g_source_destroy (c->retry);
      g_clear_pointer (&c->retry, g_source_unref);
    }
  if (c->ac != NULL)
    redisAsyncFree (c->ac); /* fails pending callbacks, then disconnect_cb */
  c->ac = NULL;
  drop_source (&c->source);
  drop_source (&c->stale);
}

static void
redis_free (PpSignalStore *st)
{
  RedisStore *rs = (RedisStore *) st;

  rs->freeing = TRUE;
  rs->base.notify = NULL;
  conn_stop (&rs->cmd);
  conn_stop (&rs->sub);
  g_free (rs->host);
  g_free (rs->last_error);
  g_free (rs);
}

static const PpSignalStoreVTable redis_vt = {
  .get = redis_get,
  .put = redis_put,
  .count = redis_count,
  .available = redis_available,
  .free = redis_free,
};

static gboolean
parse_url (const char *url, char **host, int *port, int *db, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *path;
  char *end = NULL;

  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "redis") != 0
      || g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "\"%s\" is not a redis://HOST:PORT[/DB] URL", url);
      return FALSE;
    }
  path = g_uri_get_path (uri);
  *db = 0;
  if (path != NULL && path[0] == '/' && path[1] != '\0')
    {
      long v = strtol (path + 1, &end, 10);

      if (*end != '\0' || v < 0 || v > 1000)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "\"%s\": the database must be a number", url);
          return FALSE;
        }
      *db = (int) v;
    }
  *port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 6379;
  *host = g_strdup (g_uri_get_host (uri));
  return TRUE;
}

PpSignalStore *
pp_signal_store_redis_new (const char *url, GError **error)
{
  RedisStore *rs;
  char *host = NULL;
  int port = 0, db = 0;

  if (!parse_url (url, &host, &port, &db, error))
    return NULL;
  rs = g_new0 (RedisStore, 1);
  rs->base.vt = &redis_vt;
  rs->host = host;
  rs->port = port;
  rs->db = db;
  rs->cmd.rs = rs;
  rs->sub.rs = rs;
  rs->sub.is_sub = TRUE;
  conn_start (&rs->cmd);
  conn_start (&rs->sub);
  return &rs->base;
}
