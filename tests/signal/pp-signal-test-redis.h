/* SPDX-License-Identifier: MIT
 *
 * pp-signal-test-redis: a private redis-server for one test — on a free
 * loopback port, without persistence, stopped in the fixture teardown (also
 * when the test failed), and killable/restartable on the same port.
 */
#pragma once

#include <glib.h>

typedef struct _PpTestRedis PpTestRedis;

/* NULL when redis-server is not installed (the caller skips). */
PpTestRedis *pp_test_redis_start (void);
const char *pp_test_redis_url (PpTestRedis *r);
gboolean pp_test_redis_wait_ready (PpTestRedis *r);
void pp_test_redis_kill (PpTestRedis *r);
gboolean pp_test_redis_restart (PpTestRedis *r);
void pp_test_redis_stop (PpTestRedis *r);
