/* SPDX-License-Identifier: MIT
 *
 * pp-test-utils: helpers shared by the tests (see the header).  They must
 * stay free of project logic so that any test can link them; a timer source
 * bounds every wait so that a broken test fails instead of hanging.
 */
#include "pp-test-utils.h"

static gboolean
deadline_cb (gpointer data)
{
  gboolean *expired = data;

  *expired = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
pp_test_wait_until (GMainContext *ctx, gboolean (*cond) (gpointer),
                    gpointer data, guint timeout_ms)
{
  gboolean expired = FALSE;
  GSource *timer;

  g_return_val_if_fail (cond != NULL, FALSE);
  if (ctx == NULL)
    ctx = g_main_context_get_thread_default ();
  if (ctx == NULL)
    ctx = g_main_context_default ();

  timer = g_timeout_source_new (timeout_ms);
  g_source_set_callback (timer, deadline_cb, &expired, NULL);
  g_source_attach (timer, ctx);
  while (!cond (data) && !expired)
    g_main_context_iteration (ctx, TRUE);
  g_source_destroy (timer);
  g_source_unref (timer);
  return cond (data);
}

/* xorshift32, with 0 (its fixed point) mapped to another seed. */
void
pp_test_fill_random (uint8_t *buf, size_t len, guint32 seed)
{
  guint32 x = seed != 0 ? seed : 0x9e3779b9u;

  for (size_t i = 0; i < len; i++)
    {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      buf[i] = (uint8_t) (x >> 24);
    }
}
