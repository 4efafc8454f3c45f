/* SPDX-License-Identifier: MIT
 *
 * pp-signal-store-memory: the default store, a hash table in this process.
 * Entries die at their TTL (checked on every read, and swept once a second so
 * memory stays bounded when nobody reads); callbacks run before the call
 * returns, and the change notification after the callback.
 */
#include "signal/pp-signal-store.h"

#include <string.h>

typedef struct
{
  GBytes *blob;
  gint64 deadline_us; /* monotonic */
  PpSignalStatus status;
} Entry;

typedef struct
{
  PpSignalStore base;
  GHashTable *entries; /* char *id → Entry * */
  int64_t counts[PP_SIGNAL_N_STATUS];
  GSource *sweep;
} MemoryStore;

static void
entry_free (gpointer p)
{
  Entry *e = p;

  g_bytes_unref (e->blob);
  g_free (e);
}

/* The blob is ours (pp_signal_session_to_store), so the status is a plain
 * member near the start; a miss only skews /metrics. */
static PpSignalStatus
blob_status (GBytes *blob)
{
  gsize len;
  const char *data = g_bytes_get_data (blob, &len);
  const char *key = "\"status\":\"";
  const char *at = g_strstr_len (data, (gssize) MIN (len, 256), key);
  PpSignalStatus s = PP_SIGNAL_WAITING;
  char name[16] = { 0 };

  if (at == NULL)
    return s;
  at += strlen (key);
  for (guint i = 0; i + 1 < sizeof name && at + i < data + len && at[i] != '"'; i++)
    name[i] = at[i];
  pp_signal_status_parse (name, &s);
  return s;
}

static Entry *
lookup (MemoryStore *m, const char *id)
{
  Entry *e = g_hash_table_lookup (m->entries, id);

  if (e != NULL && e->deadline_us <= g_get_monotonic_time ())
    {
      m->counts[e->status]--;
      g_hash_table_remove (m->entries, id);
      return NULL;
    }
  return e;
}

static void
memory_get (PpSignalStore *st, const char *id, PpSignalStoreGetCb cb, gpointer user_data)
{
  Entry *e = lookup ((MemoryStore *) st, id);

  cb (e != NULL ? e->blob : NULL, NULL, user_data);
}

static void
memory_put (PpSignalStore *st, const char *id, GBytes *expect, GBytes *value, int64_t ttl_ms,
            PpSignalStorePutCb cb, gpointer user_data)
{
  MemoryStore *m = (MemoryStore *) st;
  Entry *e = lookup (m, id);
  gboolean swapped = expect == NULL ? e == NULL : (e != NULL && g_bytes_equal (e->blob, expect));

  if (swapped && e != NULL)
    m->counts[e->status]--;
  if (swapped && value == NULL)
    g_hash_table_remove (m->entries, id);
  else if (swapped)
    {
      Entry *n = g_new0 (Entry, 1);

      n->blob = g_bytes_ref (value);
      n->deadline_us = g_get_monotonic_time () + ttl_ms * 1000;
      n->status = blob_status (value);
      m->counts[n->status]++;
      g_hash_table_replace (m->entries, g_strdup (id), n);
    }
  /* @id may belong to the caller's request, which the callback can free. */
  g_autofree char *changed = swapped ? g_strdup (id) : NULL;

  cb (swapped, NULL, user_data);
  if (changed != NULL)
    pp_signal_store_emit (st, changed);
}

static gboolean
memory_count (PpSignalStore *st, int64_t out[PP_SIGNAL_N_STATUS])
{
  MemoryStore *m = (MemoryStore *) st;

  memcpy (out, m->counts, sizeof m->counts);
  return TRUE;
}

static gboolean
memory_available (PpSignalStore *st)
{
  return TRUE;
}

static gboolean
sweep_cb (gpointer data)
{
  MemoryStore *m = data;
  gint64 now = g_get_monotonic_time ();
  GHashTableIter it;
  gpointer v;

  g_hash_table_iter_init (&it, m->entries);
  while (g_hash_table_iter_next (&it, NULL, &v))
    if (((Entry *) v)->deadline_us <= now)
      {
        m->counts[((Entry *) v)->status]--;
        g_hash_table_iter_remove (&it);
      }
  return G_SOURCE_CONTINUE;
}

static void
memory_free (PpSignalStore *st)
{
  MemoryStore *m = (MemoryStore *) st;

  g_source_destroy (m->sweep);
  g_source_unref (m->sweep);
  g_hash_table_unref (m->entries);
  g_free (m);
}

static const PpSignalStoreVTable memory_vt = {
  .get = memory_get,
  .put = memory_put,
  .count = memory_count,
  .available = memory_available,
  .free = memory_free,
};

PpSignalStore *
pp_signal_store_memory_new (void)
{
  MemoryStore *m = g_new0 (MemoryStore, 1);

  m->base.vt = &memory_vt;
  m->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);
  m->sweep = g_timeout_source_new_seconds (1);
  g_source_set_callback (m->sweep, sweep_cb, m, NULL);
  g_source_attach (m->sweep, g_main_context_get_thread_default ());
  return &m->base;
}
