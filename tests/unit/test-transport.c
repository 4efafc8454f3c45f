/* SPDX-License-Identifier: MIT
 *
 * Tests of the transport base (pp-transport.c) through a fake implementation
 * defined here: reference counting, callback and observer order, the guards
 * of pp_transport_send and the defaults for missing class methods.  They do
 * not test any real transport; pp-mem-transport has its own tests.
 */
#include "transport/pp-transport.h"

#include <string.h>

typedef struct
{
  PpTransport base;
  gboolean *finalized;
  gboolean fail_send;
  guint sends;
  size_t max;
  guint closes;
  char *close_reason;
} Fake;

static gboolean
fake_send (PpTransport *t, GBytes *msg, GError **error)
{
  Fake *f = (Fake *) t;

  f->sends++;
  if (!f->fail_send)
    return TRUE;
  g_set_error_literal (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED, "fake failure");
  return FALSE;
}

static size_t
fake_buffered (PpTransport *t)
{
  return 1234;
}

static size_t
fake_max (PpTransport *t)
{
  return ((Fake *) t)->max;
}

static void
fake_stats (PpTransport *t, PpTransportStats *out)
{
  out->messages_sent = ((Fake *) t)->sends;
  g_strlcpy (out->path, "fake", sizeof out->path);
}

static void
fake_close (PpTransport *t, const char *reason)
{
  Fake *f = (Fake *) t;

  f->closes++;
  g_free (f->close_reason);
  f->close_reason = g_strdup (reason);
}

static void
fake_finalize (PpTransport *t)
{
  Fake *f = (Fake *) t;

  g_assert_null (t->observers);
  if (f->finalized != NULL)
    *f->finalized = TRUE;
  g_free (f->close_reason);
  g_free (f);
}

static const PpTransportClass fake_class = {
  .send = fake_send,
  .get_buffered_amount = fake_buffered,
  .get_max_message_size = fake_max,
  .get_stats = fake_stats,
  .close = fake_close,
  .finalize = fake_finalize,
};

static const PpTransportClass bare_class = {
  .finalize = fake_finalize,
};

static Fake *
fake_new (const PpTransportClass *klass, gboolean *finalized)
{
  Fake *f = g_new0 (Fake, 1);

  pp__transport_init (&f->base, klass);
  f->finalized = finalized;
  f->max = 100;
  return f;
}

/* A log of everything that happened, in order: "obs-in:3 msg:3 low open …". */
typedef struct
{
  GString *log;
  PpTransport *drop_in_message;   /* unref this from message_cb */
  gboolean *finalized;
  gboolean finalized_seen_in_cb;
} Log;

static void
log_opened (PpTransport *t, gpointer data)
{
  g_string_append (((Log *) data)->log, "open ");
}

static void
log_message (PpTransport *t, GBytes *msg, gpointer data)
{
  Log *l = data;

  g_string_append_printf (l->log, "msg:%" G_GSIZE_FORMAT " ", g_bytes_get_size (msg));
  if (l->drop_in_message == NULL)
    return;
  pp_transport_unref (g_steal_pointer (&l->drop_in_message));
  l->finalized_seen_in_cb = *l->finalized;
}

static void
log_low (PpTransport *t, gpointer data)
{
  g_string_append (((Log *) data)->log, "low ");
}

static void
log_closed (PpTransport *t, const char *reason, gpointer data)
{
  g_string_append_printf (((Log *) data)->log, "closed(%s) ", reason);
}

static const PpTransportCallbacks log_callbacks = {
  .opened_cb = log_opened,
  .message_cb = log_message,
  .buffered_low_cb = log_low,
  .closed_cb = log_closed,
};

static void
log_observer (PpTransport *t, PpTransportDirection dir, GBytes *msg, gpointer data)
{
  g_string_append_printf (((Log *) data)->log, "obs-%s:%" G_GSIZE_FORMAT " ",
                          dir == PP_TRANSPORT_DIR_IN ? "in" : "out", g_bytes_get_size (msg));
}

static GBytes *
bytes_of_size (size_t n)
{
  return g_bytes_new_take (g_malloc0 (n), n);
}

static void
test_ref_finalize (void)
{
  gboolean finalized = FALSE;
  Fake *f = fake_new (&fake_class, &finalized);
  PpTransport *t = &f->base;

  g_assert_cmpint (pp_transport_get_state (t), ==, PP_TRANSPORT_NEW);
  g_assert_true (pp_transport_ref (t) == t);
  pp_transport_unref (t);
  g_assert_false (finalized);
  pp_transport_unref (t);
  g_assert_true (finalized);
  pp_transport_unref (NULL);
}

static void
test_autoptr (void)
{
  gboolean finalized = FALSE;

  {
    g_autoptr (PpTransport) t = &fake_new (&fake_class, &finalized)->base;
    g_assert_nonnull (t);
  }
  g_assert_true (finalized);
}

static void
test_null_callbacks (void)
{
  Fake *f = fake_new (&fake_class, NULL);
  PpTransport *t = &f->base;
  g_autoptr (GBytes) msg = bytes_of_size (3);

  pp__transport_emit_opened (t);
  g_assert_cmpint (pp_transport_get_state (t), ==, PP_TRANSPORT_OPEN);
  pp__transport_emit_message (t, msg);
  pp__transport_emit_buffered_low (t);
  pp_transport_set_callbacks (t, NULL, NULL);
  pp__transport_emit_closed (t, "x");
  g_assert_cmpint (pp_transport_get_state (t), ==, PP_TRANSPORT_CLOSED);
  pp_transport_unref (t);
}

static void
test_emit_order (void)
{
  Log l = { g_string_new (NULL) };
  Fake *f = fake_new (&fake_class, NULL);
  PpTransport *t = &f->base;
  g_autoptr (GBytes) msg = bytes_of_size (3);

  pp_transport_set_callbacks (t, &log_callbacks, &l);
  pp_transport_add_observer (t, log_observer, &l);
  pp__transport_emit_opened (t);
  pp__transport_emit_opened (t);   /* only from NEW */
  pp__transport_emit_message (t, msg);
  pp__transport_emit_buffered_low (t);
  pp__transport_emit_closed (t, "done");
  pp__transport_emit_closed (t, "again");   /* closed is final */
  pp__transport_emit_message (t, msg);
  pp__transport_emit_buffered_low (t);
  pp__transport_emit_opened (t);
  g_assert_cmpstr (l.log->str, ==, "open obs-in:3 msg:3 low closed(done) ");
  pp_transport_unref (t);
  g_string_free (l.log, TRUE);
}

static void
test_send_guards (void)
{
  Log l = { g_string_new (NULL) };
  Fake *f = fake_new (&fake_class, NULL);
  PpTransport *t = &f->base;
  g_autoptr (GBytes) ok = bytes_of_size (100);
  g_autoptr (GBytes) big = bytes_of_size (101);
  g_autoptr (GError) error = NULL;

  pp_transport_add_observer (t, log_observer, &l);
  pp__transport_emit_opened (t);
  g_assert_true (pp_transport_send (t, ok, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (l.log->str, ==, "obs-out:100 ");

  g_assert_false (pp_transport_send (t, big, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_cmpuint (f->sends, ==, 1);   /* the size check comes first */

  f->fail_send = TRUE;
  g_assert_false (pp_transport_send (t, ok, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED);
  g_clear_error (&error);
  g_assert_cmpstr (l.log->str, ==, "obs-out:100 ");   /* no OUT for a failure */

  f->fail_send = FALSE;
  pp__transport_emit_closed (t, "x");
  g_assert_false (pp_transport_send (t, ok, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_CLOSED);
  g_assert_cmpuint (f->sends, ==, 2);
  g_assert_false (pp_transport_send (t, ok, NULL));
  pp_transport_unref (t);
  g_string_free (l.log, TRUE);
}

typedef struct
{
  PpTransport *t;
  guint self_id;
  guint other_id;
  guint self_calls;
  guint other_calls;
} RemoveCtx;

static void
remove_self_observer (PpTransport *t, PpTransportDirection dir, GBytes *msg, gpointer data)
{
  RemoveCtx *c = data;

  c->self_calls++;
  pp_transport_remove_observer (t, c->self_id);
  pp_transport_remove_observer (t, c->other_id);
}

static void
other_observer (PpTransport *t, PpTransportDirection dir, GBytes *msg, gpointer data)
{
  ((RemoveCtx *) data)->other_calls++;
}

static void
test_observer_remove (void)
{
  Log l = { g_string_new (NULL) };
  RemoveCtx c = { 0 };
  Fake *f = fake_new (&fake_class, NULL);
  PpTransport *t = &f->base;
  g_autoptr (GBytes) msg = bytes_of_size (2);
  guint id;

  pp__transport_emit_opened (t);
  id = pp_transport_add_observer (t, log_observer, &l);
  c.self_id = pp_transport_add_observer (t, remove_self_observer, &c);
  c.other_id = pp_transport_add_observer (t, other_observer, &c);
  g_assert_cmpuint (id, !=, 0);
  g_assert_cmpuint (c.self_id, !=, id);
  g_assert_cmpuint (c.other_id, !=, c.self_id);

  pp__transport_emit_message (t, msg);
  g_assert_cmpuint (c.self_calls, ==, 1);
  g_assert_cmpuint (c.other_calls, ==, 0);   /* removed before its turn */
  pp_transport_send (t, msg, NULL);
  g_assert_cmpuint (c.self_calls, ==, 1);
  g_assert_cmpstr (l.log->str, ==, "obs-in:2 obs-out:2 ");

  pp_transport_remove_observer (t, id);
  pp_transport_remove_observer (t, 9999);   /* unknown: ignored */
  pp__transport_emit_message (t, msg);
  g_assert_cmpstr (l.log->str, ==, "obs-in:2 obs-out:2 ");
  pp_transport_unref (t);
  g_string_free (l.log, TRUE);
}

static void
count_observer (PpTransport *t, PpTransportDirection dir, GBytes *msg, gpointer data)
{
  (*(guint *) data)++;
}

/* More observers than the stack snapshot holds. */
static void
test_many_observers (void)
{
  Fake *f = fake_new (&fake_class, NULL);
  PpTransport *t = &f->base;
  g_autoptr (GBytes) msg = bytes_of_size (1);
  guint calls = 0;

  pp__transport_emit_opened (t);
  for (guint i = 0; i < 20; i++)
    pp_transport_add_observer (t, count_observer, &calls);
  pp__transport_emit_message (t, msg);
  g_assert_cmpuint (calls, ==, 20);
  pp_transport_unref (t);
}

static void
test_unref_in_callback (void)
{
  gboolean finalized = FALSE;
  Log l = { g_string_new (NULL) };
  Fake *f = fake_new (&fake_class, &finalized);
  PpTransport *t = &f->base;
  g_autoptr (GBytes) msg = bytes_of_size (5);

  pp_transport_set_callbacks (t, &log_callbacks, &l);
  pp__transport_emit_opened (t);
  l.drop_in_message = t;
  l.finalized = &finalized;
  pp__transport_emit_message (t, msg);
  g_assert_false (l.finalized_seen_in_cb);   /* the emitter's ref kept it */
  g_assert_true (finalized);
  g_string_free (l.log, TRUE);
}

static void
test_close_calls_class (void)
{
  Fake *f = fake_new (&fake_class, NULL);
  PpTransport *t = &f->base;

  pp_transport_close (t, "bye");
  g_assert_cmpuint (f->closes, ==, 1);
  g_assert_cmpstr (f->close_reason, ==, "bye");
  pp_transport_close (t, NULL);
  g_assert_cmpstr (f->close_reason, ==, "closed");
  pp__transport_emit_closed (t, "bye");
  pp_transport_close (t, "again");   /* closed: the class is not asked */
  g_assert_cmpuint (f->closes, ==, 2);
  pp_transport_unref (t);
}

static void
test_defaults (void)
{
  Log l = { g_string_new (NULL) };
  Fake *f = fake_new (&bare_class, NULL);
  PpTransport *t = &f->base;
  g_autoptr (GBytes) msg = bytes_of_size (1);
  g_autoptr (GError) error = NULL;
  PpTransportStats st;

  pp_transport_set_callbacks (t, &log_callbacks, &l);
  g_assert_cmpuint (pp_transport_get_buffered_amount (t), ==, 0);
  g_assert_cmpuint (pp_transport_get_max_message_size (t), ==, G_MAXSIZE);
  g_assert_cmpuint (pp_transport_get_send_window (t), ==, 0);   /* unknown */
  memset (&st, 0xff, sizeof st);
  pp_transport_get_stats (t, &st);
  g_assert_cmpint (st.rtt_us, ==, -1);
  g_assert_cmpuint (st.messages_sent, ==, 0);
  g_assert_cmpstr (st.path, ==, "");
  g_assert_false (pp_transport_send (t, msg, &error));
  g_assert_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED);
  pp_transport_close (t, NULL);
  g_assert_cmpstr (l.log->str, ==, "closed(closed) ");
  pp_transport_unref (t);
  g_string_free (l.log, TRUE);
}

static void
test_stats_and_low_water (void)
{
  Fake *f = fake_new (&fake_class, NULL);
  PpTransport *t = &f->base;
  PpTransportStats st;

  g_assert_cmpuint (pp_transport_get_low_water (t), ==, 0);
  pp_transport_set_low_water (t, 65536);
  g_assert_cmpuint (pp_transport_get_low_water (t), ==, 65536);
  g_assert_cmpuint (pp_transport_get_buffered_amount (t), ==, 1234);
  pp_transport_get_stats (t, &st);
  g_assert_cmpstr (st.path, ==, "fake");
  g_assert_cmpint (st.rtt_us, ==, -1);
  g_assert_cmpuint (PP_TRANSPORT_ERROR, !=, 0);
  pp_transport_unref (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/transport/unit/ref-finalize", test_ref_finalize);
  g_test_add_func ("/transport/unit/autoptr", test_autoptr);
  g_test_add_func ("/transport/unit/null-callbacks", test_null_callbacks);
  g_test_add_func ("/transport/unit/emit-order", test_emit_order);
  g_test_add_func ("/transport/unit/send-guards", test_send_guards);
  g_test_add_func ("/transport/unit/observer-remove", test_observer_remove);
  g_test_add_func ("/transport/unit/many-observers", test_many_observers);
  g_test_add_func ("/transport/unit/unref-in-callback", test_unref_in_callback);
  g_test_add_func ("/transport/unit/close-calls-class", test_close_calls_class);
  g_test_add_func ("/transport/unit/defaults", test_defaults);
  g_test_add_func ("/transport/unit/stats-low-water", test_stats_and_low_water);
  return g_test_run ();
}
