/* SPDX-License-Identifier: MIT
 *
 * pp-transport: the base every transport embeds (DESIGN §2).  It owns the
 * reference count, the user's callbacks and the message observers, and turns
 * an implementation's events into observer calls followed by callback calls.
 * It must not know how bytes move: sending, buffering and closing belong to
 * the implementation's class table.  After closed_cb nothing more is emitted.
 */
#include "pp-transport.h"

#include <string.h>

typedef struct
{
  guint id;
  PpTransportObserverFunc func;
  gpointer user_data;
} PpTransportObserver;

/* Observers are few; a snapshot on the stack covers the common case. */
#define PP_OBSERVER_STACK 8

G_DEFINE_QUARK (pp-transport-error-quark, pp_transport_error)

void
pp__transport_init (PpTransport *t, const PpTransportClass *klass)
{
  g_return_if_fail (t != NULL && klass != NULL);

  memset (t, 0, sizeof *t);
  t->klass = klass;
  t->ref_count = 1;
  t->state = PP_TRANSPORT_NEW;
  t->observers = g_array_new (FALSE, FALSE, sizeof (PpTransportObserver));
  t->next_observer_id = 1;
}

PpTransport *
pp_transport_ref (PpTransport *t)
{
  g_return_val_if_fail (t != NULL && t->ref_count > 0, NULL);

  t->ref_count++;
  return t;
}

void
pp_transport_unref (PpTransport *t)
{
  if (t == NULL)
    return;
  g_return_if_fail (t->ref_count > 0);

  if (--t->ref_count > 0)
    return;
  /* The base's fields go first: the class's finalize frees the struct. */
  g_clear_pointer (&t->observers, g_array_unref);
  memset (&t->callbacks, 0, sizeof t->callbacks);
  if (t->klass->finalize != NULL)
    t->klass->finalize (t);
}

void
pp_transport_set_callbacks (PpTransport *t,
                            const PpTransportCallbacks *callbacks,
                            gpointer user_data)
{
  g_return_if_fail (t != NULL);

  if (callbacks != NULL)
    t->callbacks = *callbacks;
  else
    memset (&t->callbacks, 0, sizeof t->callbacks);
  t->user_data = user_data;
}

void
pp_transport_set_low_water (PpTransport *t, size_t bytes)
{
  g_return_if_fail (t != NULL);
  t->low_water = bytes;
}

size_t
pp_transport_get_low_water (PpTransport *t)
{
  g_return_val_if_fail (t != NULL, 0);
  return t->low_water;
}

PpTransportState
pp_transport_get_state (PpTransport *t)
{
  g_return_val_if_fail (t != NULL, PP_TRANSPORT_CLOSED);
  return t->state;
}

static gboolean
observer_alive (PpTransport *t, guint id)
{
  if (t->observers == NULL)
    return FALSE;
  for (guint i = 0; i < t->observers->len; i++)
    if (g_array_index (t->observers, PpTransportObserver, i).id == id)
      return TRUE;
  return FALSE;
}

/* Iterates over a snapshot so that an observer may remove itself (or another)
 * while we walk; a removed observer is not called afterwards. */
static void
notify_observers (PpTransport *t, PpTransportDirection dir, GBytes *msg)
{
  PpTransportObserver stack[PP_OBSERVER_STACK];
  PpTransportObserver *snap = stack;
  guint n = t->observers != NULL ? t->observers->len : 0;

  if (n == 0)
    return;
  if (n > PP_OBSERVER_STACK)
    snap = g_new (PpTransportObserver, n);
  memcpy (snap, t->observers->data, n * sizeof *snap);

  for (guint i = 0; i < n; i++)
    if (observer_alive (t, snap[i].id))
      snap[i].func (t, dir, msg, snap[i].user_data);

  if (snap != stack)
    g_free (snap);
}

static size_t
max_message_size (PpTransport *t)
{
  if (t->klass->get_max_message_size == NULL)
    return G_MAXSIZE;
  return t->klass->get_max_message_size (t);
}

gboolean
pp_transport_send (PpTransport *t, GBytes *msg, GError **error)
{
  g_return_val_if_fail (t != NULL && msg != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (t->state == PP_TRANSPORT_CLOSED)
    {
      g_set_error_literal (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_CLOSED,
                           "transport is closed");
      return FALSE;
    }
  if (g_bytes_get_size (msg) > max_message_size (t))
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_TOO_LARGE,
                   "message of %" G_GSIZE_FORMAT " bytes exceeds the maximum of %"
                   G_GSIZE_FORMAT, g_bytes_get_size (msg), max_message_size (t));
      return FALSE;
    }
  if (t->klass->send == NULL)
    {
      g_set_error_literal (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED,
                           "transport cannot send");
      return FALSE;
    }
  if (!t->klass->send (t, msg, error))
    return FALSE;

  pp_transport_ref (t);
  notify_observers (t, PP_TRANSPORT_DIR_OUT, msg);
  pp_transport_unref (t);
  return TRUE;
}

size_t
pp_transport_get_buffered_amount (PpTransport *t)
{
  g_return_val_if_fail (t != NULL, 0);

  if (t->klass->get_buffered_amount == NULL)
    return 0;
  return t->klass->get_buffered_amount (t);
}

size_t
pp_transport_get_max_message_size (PpTransport *t)
{
  g_return_val_if_fail (t != NULL, 0);
  return max_message_size (t);
}

size_t
pp_transport_get_send_window (PpTransport *t)
{
  g_return_val_if_fail (t != NULL, 0);

  if (t->klass->get_send_window == NULL)
    return 0;
  return t->klass->get_send_window (t);
}

void
pp_transport_get_stats (PpTransport *t, PpTransportStats *out)
{
  g_return_if_fail (t != NULL && out != NULL);

  memset (out, 0, sizeof *out);
  out->rtt_us = -1;
  if (t->klass->get_stats != NULL)
    t->klass->get_stats (t, out);
  out->path[sizeof out->path - 1] = '\0';
}

void
pp_transport_close (PpTransport *t, const char *reason)
{
  g_return_if_fail (t != NULL);

  if (t->state == PP_TRANSPORT_CLOSED)
    return;
  if (reason == NULL)
    reason = "closed";
  if (t->klass->close == NULL)
    {
      pp__transport_emit_closed (t, reason);
      return;
    }
  t->klass->close (t, reason);
}

guint
pp_transport_add_observer (PpTransport *t, PpTransportObserverFunc func,
                           gpointer user_data)
{
  PpTransportObserver obs;

  g_return_val_if_fail (t != NULL && func != NULL, 0);

  obs.id = t->next_observer_id++;
  if (t->next_observer_id == 0)
    t->next_observer_id = 1;
  obs.func = func;
  obs.user_data = user_data;
  g_array_append_val (t->observers, obs);
  return obs.id;
}

void
pp_transport_remove_observer (PpTransport *t, guint id)
{
  g_return_if_fail (t != NULL);

  for (guint i = 0; i < t->observers->len; i++)
    {
      if (g_array_index (t->observers, PpTransportObserver, i).id != id)
        continue;
      g_array_remove_index (t->observers, i);
      return;
    }
}

/* Each emitter holds a reference for the duration of the call, so a callback
 * may drop the caller's last reference without pulling the struct away. */

void
pp__transport_emit_opened (PpTransport *t)
{
  g_return_if_fail (t != NULL && t->ref_count > 0);

  if (t->state != PP_TRANSPORT_NEW)
    return;
  t->state = PP_TRANSPORT_OPEN;
  if (t->callbacks.opened_cb == NULL)
    return;
  pp_transport_ref (t);
  t->callbacks.opened_cb (t, t->user_data);
  pp_transport_unref (t);
}

void
pp__transport_emit_message (PpTransport *t, GBytes *msg)
{
  g_return_if_fail (t != NULL && t->ref_count > 0 && msg != NULL);

  if (t->state == PP_TRANSPORT_CLOSED)
    return;
  pp_transport_ref (t);
  notify_observers (t, PP_TRANSPORT_DIR_IN, msg);
  /* An observer must not close us, but if one did, honour closed-is-final. */
  if (t->state != PP_TRANSPORT_CLOSED && t->callbacks.message_cb != NULL)
    t->callbacks.message_cb (t, msg, t->user_data);
  pp_transport_unref (t);
}

void
pp__transport_emit_buffered_low (PpTransport *t)
{
  g_return_if_fail (t != NULL && t->ref_count > 0);

  if (t->state == PP_TRANSPORT_CLOSED || t->callbacks.buffered_low_cb == NULL)
    return;
  pp_transport_ref (t);
  t->callbacks.buffered_low_cb (t, t->user_data);
  pp_transport_unref (t);
}

void
pp__transport_emit_closed (PpTransport *t, const char *reason)
{
  g_return_if_fail (t != NULL && t->ref_count > 0);

  if (t->state == PP_TRANSPORT_CLOSED)
    return;
  t->state = PP_TRANSPORT_CLOSED;
  if (t->callbacks.closed_cb == NULL)
    return;
  pp_transport_ref (t);
  t->callbacks.closed_cb (t, reason != NULL ? reason : "closed", t->user_data);
  pp_transport_unref (t);
}
