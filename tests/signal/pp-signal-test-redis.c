/* SPDX-License-Identifier: MIT
 *
 * pp-signal-test-redis: see the header.  Readiness is polled by connecting,
 * with a main-context deadline loop (a 10 ms tick keeps it turning), never by
 * sleeping.
 */
#include "pp-signal-test-redis.h"

#include <gio/gio.h>

#include "pp-test-utils.h"

struct _PpTestRedis
{
  char *exe;
  guint16 port;
  char *url;
  GSubprocess *proc;
};

static guint16
free_port (void)
{
  g_autoptr (GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new_from_string ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) got = NULL;

  g_assert_true (g_socket_bind (s, any, FALSE, NULL));
  got = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (got));
}

static gboolean
spawn (PpTestRedis *r)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *port = g_strdup_printf ("%u", r->port);

  r->proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, r->exe, "--port", port,
                              "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                              "--protected-mode", "yes", NULL);
  g_assert_no_error (error);
  return r->proc != NULL;
}

PpTestRedis *
pp_test_redis_start (void)
{
  char *exe = g_find_program_in_path ("redis-server");
  PpTestRedis *r;

  if (exe == NULL)
    return NULL;
  r = g_new0 (PpTestRedis, 1);
  r->exe = exe;
  r->port = free_port ();
  r->url = g_strdup_printf ("redis://127.0.0.1:%u", r->port);
  spawn (r);
  g_assert_true (pp_test_redis_wait_ready (r));
  return r;
}

const char *
pp_test_redis_url (PpTestRedis *r)
{
  return r->url;
}

static gboolean
accepts (gpointer data)
{
  PpTestRedis *r = data;
  g_autoptr (GSocketClient) c = g_socket_client_new ();
  g_autoptr (GSocketConnection) conn = g_socket_client_connect_to_host (c, "127.0.0.1", r->port,
                                                                        NULL, NULL);

  return conn != NULL;
}

static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

gboolean
pp_test_redis_wait_ready (PpTestRedis *r)
{
  guint tick = g_timeout_add (10, tick_cb, NULL);
  gboolean ok = pp_test_wait_until (NULL, accepts, r, 10000);

  g_source_remove (tick);
  return ok;
}

void
pp_test_redis_kill (PpTestRedis *r)
{
  if (r->proc == NULL)
    return;
  g_subprocess_force_exit (r->proc);
  g_subprocess_wait (r->proc, NULL, NULL);
  g_clear_object (&r->proc);
}

gboolean
pp_test_redis_restart (PpTestRedis *r)
{
  pp_test_redis_kill (r);
  spawn (r);
  return pp_test_redis_wait_ready (r);
}

void
pp_test_redis_stop (PpTestRedis *r)
{
  if (r == NULL)
    return;
  pp_test_redis_kill (r);
  g_free (r->exe);
  g_free (r->url);
  g_free (r);
}
