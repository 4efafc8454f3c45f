/* SPDX-License-Identifier: MIT
 *
 * pp-signal-store: where sessions live between requests.  A store keeps
 * opaque blobs (pp_signal_session_to_store) under session ids with a TTL,
 * replaces them only by compare-and-set, and tells its owner when an id
 * changed so long polls wake — also when another server instance changed it.
 * Callbacks may run before the call returns (memory) or later (Redis).
 */
#pragma once

#include <gio/gio.h>

#include "signal/pp-signal-session.h"

G_BEGIN_DECLS

typedef struct _PpSignalStore PpSignalStore;

/* @value NULL and @error NULL: no such id.  @error: the store is unavailable. */
typedef void (*PpSignalStoreGetCb) (GBytes *value, const GError *error, gpointer user_data);
/* @swapped FALSE: someone changed or created it first (retry from a get). */
typedef void (*PpSignalStorePutCb) (gboolean swapped, const GError *error, gpointer user_data);
typedef void (*PpSignalStoreNotifyFunc) (const char *id, gpointer user_data);

typedef struct
{
  void (*get) (PpSignalStore *st, const char *id, PpSignalStoreGetCb cb, gpointer user_data);
  void (*put) (PpSignalStore *st, const char *id, GBytes *expect, GBytes *value, int64_t ttl_ms,
               PpSignalStorePutCb cb, gpointer user_data);
  /* Sessions by status known to this store (-1: unknown). */
  gboolean (*count) (PpSignalStore *st, int64_t out[PP_SIGNAL_N_STATUS]);
  gboolean (*available) (PpSignalStore *st);
  void (*free) (PpSignalStore *st);
} PpSignalStoreVTable;

struct _PpSignalStore
{
  const PpSignalStoreVTable *vt;
  PpSignalStoreNotifyFunc notify;
  gpointer notify_data;
  guint64 errors; /* operations that failed because the store was unavailable */
};

#define PP_SIGNAL_STORE_ERROR (pp_signal_store_error_quark ())
GQuark pp_signal_store_error_quark (void);

void pp_signal_store_get (PpSignalStore *st, const char *id, PpSignalStoreGetCb cb,
                          gpointer user_data);
/* @expect NULL: create, only if @id is absent.  @value NULL: delete.  The
 * change is announced through the notify function on success. */
void pp_signal_store_put (PpSignalStore *st, const char *id, GBytes *expect, GBytes *value,
                          int64_t ttl_ms, PpSignalStorePutCb cb, gpointer user_data);
gboolean pp_signal_store_count (PpSignalStore *st, int64_t out[PP_SIGNAL_N_STATUS]);
gboolean pp_signal_store_available (PpSignalStore *st);
void pp_signal_store_set_notify (PpSignalStore *st, PpSignalStoreNotifyFunc fn,
                                 gpointer user_data);
void pp_signal_store_free (PpSignalStore *st);
/* For implementations. */
void pp_signal_store_emit (PpSignalStore *st, const char *id);

PpSignalStore *pp_signal_store_memory_new (void);

/* redis://HOST:PORT[/DB]; connects in the background and reconnects when the
 * server comes back.  NULL with @error only when @url is malformed. */
PpSignalStore *pp_signal_store_redis_new (const char *url, GError **error);

G_END_DECLS
