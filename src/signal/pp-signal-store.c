/* SPDX-License-Identifier: MIT
 *
 * pp-signal-store: the dispatch half of the store interface.  It adds
 * nothing but the notify plumbing, so a server is written once for every
 * store.
 */
#include "signal/pp-signal-store.h"

G_DEFINE_QUARK (pp-signal-store-error-quark, pp_signal_store_error)

void
pp_signal_store_get (PpSignalStore *st, const char *id, PpSignalStoreGetCb cb, gpointer user_data)
{
  st->vt->get (st, id, cb, user_data);
}

void
pp_signal_store_put (PpSignalStore *st, const char *id, GBytes *expect, GBytes *value,
                     int64_t ttl_ms, PpSignalStorePutCb cb, gpointer user_data)
{
  st->vt->put (st, id, expect, value, ttl_ms, cb, user_data);
}

gboolean
pp_signal_store_count (PpSignalStore *st, int64_t out[PP_SIGNAL_N_STATUS])
{
  return st->vt->count (st, out);
}

gboolean
pp_signal_store_available (PpSignalStore *st)
{
  return st->vt->available (st);
}

void
pp_signal_store_set_notify (PpSignalStore *st, PpSignalStoreNotifyFunc fn, gpointer user_data)
{
  st->notify = fn;
  st->notify_data = user_data;
}

void
pp_signal_store_emit (PpSignalStore *st, const char *id)
{
  if (st->notify != NULL)
    st->notify (id, st->notify_data);
}

void
pp_signal_store_free (PpSignalStore *st)
{
  if (st != NULL)
    st->vt->free (st);
}
