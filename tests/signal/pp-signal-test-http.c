/* SPDX-License-Identifier: MIT
 *
 * pp-signal-test-http: see the header.  Requests run on the thread-default
 * main context; waiting never sleeps.
 */
#include "pp-signal-test-http.h"

#include "pp-test-utils.h"

SoupSession *
pp_http_session_new (void)
{
  return soup_session_new_with_options ("max-conns", 512, "max-conns-per-host", 256,
                                        "timeout", 30, NULL);
}

static void
sent_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  PpHttpReply *r = data;
  g_autoptr (GError) error = NULL;
  GBytes *b = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &error);

  r->status = error != NULL ? 0 : soup_message_get_status (r->msg);
  if (b != NULL)
    {
      r->body = g_strndup (g_bytes_get_data (b, NULL), g_bytes_get_size (b));
      r->len = g_bytes_get_size (b);
      g_bytes_unref (b);
    }
  if (error != NULL)
    g_test_message ("HTTP error: %s", error->message);
  r->done = TRUE;
}

PpHttpReply *
pp_http_start (SoupSession *s, const char *method, const char *url, const char *token,
               const char *body)
{
  PpHttpReply *r = g_new0 (PpHttpReply, 1);

  r->msg = soup_message_new (method, url);
  g_assert_nonnull (r->msg);
  if (token != NULL)
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", token);

      soup_message_headers_replace (soup_message_get_request_headers (r->msg), "Authorization",
                                    auth);
    }
  if (body != NULL)
    {
      g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (r->msg, "application/json", b);
    }
  soup_session_send_and_read_async (s, r->msg, G_PRIORITY_DEFAULT, NULL, sent_cb, r);
  return r;
}

static gboolean
is_done (gpointer data)
{
  return ((PpHttpReply *) data)->done;
}

gboolean
pp_http_wait (PpHttpReply *r, guint timeout_ms)
{
  return pp_test_wait_until (NULL, is_done, r, timeout_ms);
}

PpHttpReply *
pp_http (SoupSession *s, const char *method, const char *url, const char *token,
         const char *body)
{
  PpHttpReply *r = pp_http_start (s, method, url, token, body);

  g_assert_true (pp_http_wait (r, 20000));
  return r;
}

void
pp_http_reply_free (PpHttpReply *r)
{
  if (r == NULL)
    return;
  g_assert_true (r->done); /* the callback still points at it otherwise */
  g_clear_object (&r->msg);
  g_free (r->body);
  g_free (r);
}

char *
pp_http_json_str (PpHttpReply *r, const char *member)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonNode *root;
  JsonObject *o;

  if (r->body == NULL || !json_parser_load_from_data (p, r->body, (gssize) r->len, NULL))
    return NULL;
  root = json_parser_get_root (p);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  o = json_node_get_object (root);
  if (!json_object_has_member (o, member))
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (o, member, NULL));
}

typedef struct
{
  PpHttpReply **r;
  guint n;
} All;

static gboolean
all_done (gpointer data)
{
  All *a = data;

  for (guint i = 0; i < a->n; i++)
    if (!a->r[i]->done)
      return FALSE;
  return TRUE;
}

gboolean
pp_http_wait_all (PpHttpReply **replies, guint n, guint timeout_ms)
{
  All a = { replies, n };

  return pp_test_wait_until (NULL, all_done, &a, timeout_ms);
}

typedef struct
{
  GSocket *sock;
  GString *got;
  gboolean closed;
} Raw;

static gboolean
raw_read (gpointer data)
{
  Raw *r = data;
  char buf[4096];
  gssize n;

  while ((n = g_socket_receive (r->sock, buf, sizeof buf, NULL, NULL)) > 0)
    g_string_append_len (r->got, buf, n);
  if (n == 0)
    r->closed = TRUE;
  else if (n < 0 && g_socket_get_fd (r->sock) >= 0)
    {
      /* EAGAIN: nothing yet; any other error (a reset) counts as closed. */
      GIOCondition c = g_socket_condition_check (r->sock, G_IO_IN | G_IO_HUP | G_IO_ERR);

      r->closed = (c & (G_IO_HUP | G_IO_ERR)) != 0;
    }
  return r->closed;
}

static gboolean
raw_tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

char *
pp_raw_exchange (guint16 port, const char *request, guint timeout_ms, gboolean *closed)
{
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new_from_string ("127.0.0.1", port);
  Raw r = { 0 };
  guint tick;

  r.sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_assert_true (g_socket_connect (r.sock, addr, NULL, NULL));
  g_socket_set_blocking (r.sock, FALSE);
  g_assert_cmpint (g_socket_send (r.sock, request, strlen (request), NULL, NULL), ==,
                   (gssize) strlen (request));
  r.got = g_string_new (NULL);
  tick = g_timeout_add (5, raw_tick_cb, NULL);
  pp_test_wait_until (NULL, raw_read, &r, timeout_ms);
  g_source_remove (tick);
  *closed = r.closed;
  g_object_unref (r.sock);
  return g_string_free (r.got, FALSE);
}
