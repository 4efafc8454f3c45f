/* SPDX-License-Identifier: MIT
 *
 * pp-test-utils: small helpers shared by every test binary.
 *
 * Waiting is done by iterating a main context until a condition holds or a
 * generous deadline passes — never by sleeping, and the deadline only bounds
 * a failing test; no test may assert how long something took.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

typedef gboolean (*PpTestCondFunc) (gpointer data);

/* Iterates @ctx (NULL: the thread-default context) until @cond (@data) is
 * TRUE or @timeout_ms have passed; returns the last value of @cond. */
gboolean pp_test_wait_until (GMainContext *ctx, gboolean (*cond) (gpointer),
                             gpointer data, guint timeout_ms);

/* Fills @buf with bytes from a fixed PRNG seeded by @seed: the same on every
 * platform and GLib version. */
void pp_test_fill_random (uint8_t *buf, size_t len, guint32 seed);

G_END_DECLS
