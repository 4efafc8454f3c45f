/* SPDX-License-Identifier: MIT
 *
 * pp-signal-client: libsoup requests wrapped in GTasks.  One helper sends a
 * request and retries it (network errors only for GETs, whose repetition is
 * harmless; 503 for everything, as the server did nothing); the calls above
 * it build bodies and map status codes to PpSignalClientError.  The secrets
 * (token, nonces) live only in this object.
 */
#include "signal/pp-signal-client.h"

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <string.h>

#include "signal/pp-signal-json.h"

G_DEFINE_QUARK (pp-signal-client-error-quark, pp_signal_client_error)

struct _PpSignalClient
{
  SoupSession *http;
  char *base;
  char id[PP_SIGNAL_ID_LEN + 1];
  char token[PP_SIGNAL_TOKEN_LEN + 1];
  PpSignalRole role;
  uint8_t host_fp[PP_SIGNAL_FP_LEN];
  uint8_t my_fp[PP_SIGNAL_FP_LEN];
  uint8_t my_nonce[PP_SIGNAL_NONCE_LEN];
  uint8_t commit[32];     /* the client's own, or the one the host saw at the join */
  gboolean have_commit;
  guint retry_ms, attempts;
};

/* ---- one request, with retries ----------------------------------------------- */

typedef struct
{
  PpSignalClient *c;
  char *method, *path;
  GBytes *body;
  guint attempt;
  guint delay_ms;
  SoupMessage *msg;
  GSource *timer;
} Request;

typedef struct
{
  guint status;
  GBytes *body;
} Response;

static void
request_free (gpointer p)
{
  Request *r = p;

  g_free (r->method);
  g_free (r->path);
  g_clear_pointer (&r->body, g_bytes_unref);
  g_clear_object (&r->msg);
  if (r->timer != NULL)
    {
      g_source_destroy (r->timer);
      g_source_unref (r->timer);
    }
  g_free (r);
}

static void
response_free (gpointer p)
{
  Response *resp = p;

  g_clear_pointer (&resp->body, g_bytes_unref);
  g_free (resp);
}

static void request_send (GTask *task);

static gboolean
retry_cb (gpointer data)
{
  GTask *task = data;
  Request *r = g_task_get_task_data (task);

  g_clear_pointer (&r->timer, g_source_unref);
  request_send (task);
  return G_SOURCE_REMOVE;
}

/* TRUE when another attempt was scheduled. */
static gboolean
maybe_retry (GTask *task, gboolean network_error, guint status)
{
  Request *r = g_task_get_task_data (task);
  gboolean idempotent = strcmp (r->method, "GET") == 0;

  if (g_task_return_error_if_cancelled (task))
    return TRUE;
  if (!(status == SOUP_STATUS_SERVICE_UNAVAILABLE || (network_error && idempotent)))
    return FALSE;
  if (++r->attempt >= r->c->attempts)
    return FALSE;
  r->delay_ms = r->delay_ms == 0 ? r->c->retry_ms : MIN (r->delay_ms * 2, 8000u);
  r->timer = g_timeout_source_new (r->delay_ms);
  g_source_set_callback (r->timer, retry_cb, g_object_ref (task), g_object_unref);
  g_source_attach (r->timer, g_main_context_get_thread_default ());
  return TRUE;
}

static void
sent_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  Request *r = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (src), res, &error);
  guint status = error == NULL ? soup_message_get_status (r->msg) : 0;
  Response *resp;

  if (error != NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (maybe_retry (task, error != NULL, status))
    return;
  if (error != NULL)
    {
      g_task_return_new_error (task, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_UNAVAILABLE,
                               "the signaling server is unreachable: %s", error->message);
      return;
    }
  resp = g_new0 (Response, 1);
  resp->status = status;
  resp->body = g_steal_pointer (&body);
  g_task_return_pointer (task, resp, response_free);
}

static void
request_send (GTask *task)
{
  Request *r = g_task_get_task_data (task);
  g_autofree char *url = g_strconcat (r->c->base, r->path, NULL);

  g_clear_object (&r->msg);
  r->msg = soup_message_new (r->method, url);
  if (r->c->token[0] != '\0')
    {
      g_autofree char *auth = g_strdup_printf ("Bearer %s", r->c->token);

      soup_message_headers_replace (soup_message_get_request_headers (r->msg), "Authorization",
                                    auth);
    }
  if (r->body != NULL)
    soup_message_set_request_body_from_bytes (r->msg, "application/json", r->body);
  soup_session_send_and_read_async (r->c->http, r->msg, G_PRIORITY_DEFAULT,
                                    g_task_get_cancellable (task), sent_cb, g_object_ref (task));
}

/* Starts a request; the task's result is a Response (any HTTP status). */
static void
request_async (PpSignalClient *c, const char *method, const char *path, char *body_take,
               size_t len, GCancellable *cancel, GAsyncReadyCallback cb, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancel, cb, user_data);
  Request *r = g_new0 (Request, 1);

  r->c = c;
  r->method = g_strdup (method);
  r->path = g_strdup (path);
  if (body_take != NULL)
    r->body = g_bytes_new_take (body_take, len);
  g_task_set_task_data (task, r, request_free);
  request_send (task);
  g_object_unref (task);
}

/* ---- results ------------------------------------------------------------------ */

static char *
server_reason (Response *resp)
{
  gsize len = 0;
  const char *data = resp->body != NULL ? g_bytes_get_data (resp->body, &len) : NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonNode *root;

  if (data == NULL || !pp_signal_json_depth_ok (data, len)
      || !json_parser_load_from_data (p, data, (gssize) len, NULL))
    return g_strdup_printf ("HTTP %u", resp->status);
  root = json_parser_get_root (p);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)
      || json_object_get_string_member_with_default (json_node_get_object (root), "error",
                                                     NULL) == NULL)
    return g_strdup_printf ("HTTP %u", resp->status);
  return g_strescape (json_object_get_string_member (json_node_get_object (root), "error"),
                      NULL);
}

/* Maps a refusal to an error; @joining: a 409 means the seat is taken. */
static GError *
refusal (Response *resp, gboolean joining)
{
  g_autofree char *why = server_reason (resp);

  switch (resp->status)
    {
    case SOUP_STATUS_NOT_FOUND:
      return g_error_new (PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_EXPIRED,
                          "the session expired or does not exist");
    case SOUP_STATUS_GONE:
      return g_error_new (PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_DECLINED,
                          "the host declined");
    case SOUP_STATUS_CONFLICT:
      if (joining)
        return g_error_new (PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_TAKEN,
                            "someone else already joined this session");
      break;
    default:
      break;
    }
  if (resp->status >= 500)
    return g_error_new (PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_UNAVAILABLE,
                        "the signaling server is unavailable (%s)", why);
  return g_error_new (PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_REFUSED,
                      "the signaling server refused: %s", why);
}

static Response *
response_finish (GAsyncResult *res, GError **error)
{
  return g_task_propagate_pointer (G_TASK (res), error);
}

static char *
json_member (Response *resp, const char *name)
{
  gsize len = 0;
  const char *data = g_bytes_get_data (resp->body, &len);
  g_autoptr (JsonParser) p = json_parser_new ();
  JsonNode *root;

  if (data == NULL || !pp_signal_json_depth_ok (data, len)
      || !json_parser_load_from_data (p, data, (gssize) len, NULL))
    return NULL;
  root = json_parser_get_root (p);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return g_strdup (json_object_get_string_member_with_default (json_node_get_object (root), name,
                                                               NULL));
}

static PpSignalSession *
parse_view (Response *resp, GError **error)
{
  gsize len = 0;
  const char *data = resp->body != NULL ? g_bytes_get_data (resp->body, &len) : "";
  const char *why = NULL;
  PpSignalSession *s = pp_signal_session_from_view (data, len, &why);

  if (s == NULL)
    g_set_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_REFUSED,
                 "the signaling server sent a malformed session: %s", why);
  return s;
}

/* ---- object -------------------------------------------------------------------- */

PpSignalClient *
pp_signal_client_new (const char *base_url, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (base_url, G_URI_FLAGS_NONE, NULL);
  PpSignalClient *c;

  if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0
                      && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0)
      || g_uri_get_host (uri) == NULL)
    {
      g_set_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_BAD_URL,
                   "\"%s\" is not an http(s)://HOST:PORT URL", base_url);
      return NULL;
    }
  c = g_new0 (PpSignalClient, 1);
  c->base = g_strdup (base_url);
  if (g_str_has_suffix (c->base, "/"))
    c->base[strlen (c->base) - 1] = '\0';
  c->http = soup_session_new_with_options ("timeout", 60, "idle-timeout", 60,
                                           "user-agent", "peerport ", NULL);
  c->retry_ms = 250;
  c->attempts = 6;
  return c;
}

void
pp_signal_client_free (PpSignalClient *c)
{
  if (c == NULL)
    return;
  soup_session_abort (c->http);
  g_object_unref (c->http);
  g_free (c->base);
  memset (c->token, 0, sizeof c->token);
  g_free (c);
}

void
pp_signal_client_set_retry (PpSignalClient *c, guint first_delay_ms, guint attempts)
{
  c->retry_ms = MAX (first_delay_ms, 1);
  c->attempts = MAX (attempts, 1);
}

const char *
pp_signal_client_get_id (PpSignalClient *c)
{
  return c->id;
}

void
pp_signal_client_adopt (PpSignalClient *c, const char *id, const char *token,
                        const uint8_t host_fp[PP_SIGNAL_FP_LEN])
{
  g_strlcpy (c->id, id, sizeof c->id);
  g_strlcpy (c->token, token, sizeof c->token);
  memcpy (c->host_fp, host_fp, PP_SIGNAL_FP_LEN);
  memcpy (c->my_fp, host_fp, PP_SIGNAL_FP_LEN);
  c->role = PP_SIGNAL_ROLE_HOST;
}

gboolean
pp_signal_parse_join_url (const char *url, char **base, char **id, char **pin, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *path, *frag;

  if (uri == NULL || !g_str_has_prefix (g_uri_get_path (uri), "/session/")
      || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0
          && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
    goto bad;
  path = g_uri_get_path (uri) + strlen ("/session/");
  if (!pp_signal_id_valid (path))
    goto bad;
  frag = g_uri_get_fragment (uri);
  *pin = frag != NULL && g_str_has_prefix (frag, "h=") ? g_strdup (frag + 2) : NULL;
  *id = g_strdup (path);
  *base = g_uri_join (G_URI_FLAGS_NONE, g_uri_get_scheme (uri), NULL, g_uri_get_host (uri),
                      g_uri_get_port (uri), "", NULL, NULL);
  return TRUE;
bad:
  g_set_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_BAD_URL,
               "\"%s\" is not a join link (http://HOST:PORT/session/ID#h=PIN)", url);
  return FALSE;
}

char *
pp_signal_join_url (const char *base, const char *id, const uint8_t host_fp[PP_SIGNAL_FP_LEN])
{
  char pin[PP_SIGNAL_PIN_LEN + 1];

  pp_signal_pin (host_fp, pin);
  return g_strdup_printf ("%s/session/%s#h=%s", base, id, pin);
}

/* ---- create ------------------------------------------------------------------- */

static void
created_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  PpSignalClient *c = g_task_get_task_data (task);
  GError *error = NULL;
  Response *resp = response_finish (res, &error);
  g_autofree char *id = NULL, *token = NULL;

  if (resp == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (resp->status != SOUP_STATUS_CREATED)
    g_task_return_error (task, refusal (resp, FALSE));
  else if (!pp_signal_id_valid (id = json_member (resp, "id"))
           || (token = json_member (resp, "token")) == NULL
           || strlen (token) != PP_SIGNAL_TOKEN_LEN)
    g_task_return_new_error (task, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_REFUSED,
                             "the signaling server sent no usable session id or token");
  else
    {
      g_strlcpy (c->id, id, sizeof c->id);
      g_strlcpy (c->token, token, sizeof c->token);
      c->role = PP_SIGNAL_ROLE_HOST;
      g_task_return_boolean (task, TRUE);
    }
  response_free (resp);
}

void
pp_signal_client_create_async (PpSignalClient *c, const char *host,
                               const uint8_t fp[PP_SIGNAL_FP_LEN], GCancellable *cancel,
                               GAsyncReadyCallback cb, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancel, cb, user_data);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) g = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  char hex[2 * PP_SIGNAL_FP_LEN + 1];
  gsize len = 0;
  char *body;

  g_task_set_task_data (task, c, NULL);
  memcpy (c->host_fp, fp, PP_SIGNAL_FP_LEN);
  memcpy (c->my_fp, fp, PP_SIGNAL_FP_LEN);
  pp_signal_hex_encode (fp, PP_SIGNAL_FP_LEN, hex);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "host");
  json_builder_add_string_value (b, host);
  json_builder_set_member_name (b, "fingerprint");
  json_builder_add_string_value (b, hex);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (g, root);
  body = json_generator_to_data (g, &len);
  request_async (c, "POST", "/session", body, len, cancel, created_cb, task);
}

gboolean
pp_signal_client_create_finish (PpSignalClient *c, GAsyncResult *res, GError **error)
{
  return g_task_propagate_boolean (G_TASK (res), error);
}

/* ---- join --------------------------------------------------------------------- */

typedef struct
{
  PpSignalClient *c;
  char *pin;
} JoinData;

static void
join_data_free (gpointer p)
{
  JoinData *j = p;

  g_free (j->pin);
  g_free (j);
}

static void
joined_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  JoinData *j = g_task_get_task_data (task);
  GError *error = NULL;
  Response *resp = response_finish (res, &error);
  g_autofree char *token = NULL;
  PpSignalSession *s;

  if (resp == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (resp->status != SOUP_STATUS_OK)
    {
      g_task_return_error (task, refusal (resp, TRUE));
      response_free (resp);
      return;
    }
  token = json_member (resp, "token");
  s = parse_view (resp, &error);
  response_free (resp);
  if (s == NULL || token == NULL || strlen (token) != PP_SIGNAL_TOKEN_LEN)
    {
      g_clear_pointer (&s, pp_signal_session_free);
      g_task_return_error (task, error != NULL ? error
                           : g_error_new (PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_REFUSED,
                                          "the signaling server sent no token"));
      return;
    }
  if (j->pin != NULL && !pp_signal_pin_matches (j->pin, s->host_fp))
    {
      pp_signal_session_free (s);
      g_task_return_new_error (task, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_PIN_MISMATCH,
                               "this link was made for a different host (the host's "
                               "fingerprint does not match the link)");
      return;
    }
  g_strlcpy (j->c->token, token, sizeof j->c->token);
  memcpy (j->c->host_fp, s->host_fp, PP_SIGNAL_FP_LEN);
  g_task_return_pointer (task, s, (GDestroyNotify) pp_signal_session_free);
}

void
pp_signal_client_join_async (PpSignalClient *c, const char *id, const char *name,
                             const uint8_t fp[PP_SIGNAL_FP_LEN], const char *pin,
                             GCancellable *cancel, GAsyncReadyCallback cb, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancel, cb, user_data);
  JoinData *j = g_new0 (JoinData, 1);
  g_autofree char *path = g_strdup_printf ("/session/%s", id);
  g_autofree char *esc = g_strescape (name, NULL);
  char hex[65];
  char *body;

  j->c = c;
  j->pin = g_strdup (pin);
  g_task_set_task_data (task, j, join_data_free);
  g_strlcpy (c->id, id, sizeof c->id);
  c->role = PP_SIGNAL_ROLE_CLIENT;
  memcpy (c->my_fp, fp, PP_SIGNAL_FP_LEN);
  pp_signal_random (c->my_nonce, sizeof c->my_nonce);
  pp_signal_commit (c->my_fp, c->my_nonce, c->commit);
  c->have_commit = TRUE;
  pp_signal_hex_encode (c->commit, 32, hex);
  body = g_strdup_printf ("{\"client\":\"%s\",\"commit\":\"%s\"}", esc, hex);
  request_async (c, "POST", path, body, strlen (body), cancel, joined_cb, task);
}

PpSignalSession *
pp_signal_client_join_finish (PpSignalClient *c, GAsyncResult *res, GError **error)
{
  return g_task_propagate_pointer (G_TASK (res), error);
}

/* ---- signals ------------------------------------------------------------------ */

static void
sent_signal_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  GError *error = NULL;
  Response *resp = response_finish (res, &error);

  if (resp == NULL)
    g_task_return_error (task, error);
  else if (resp->status != SOUP_STATUS_NO_CONTENT)
    g_task_return_error (task, refusal (resp, FALSE));
  else
    g_task_return_boolean (task, TRUE);
  g_clear_pointer (&resp, response_free);
}

static void
send_msg (PpSignalClient *c, const PpSignalMsg *m, GCancellable *cancel, GAsyncReadyCallback cb,
          gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancel, cb, user_data);
  g_autofree char *path = g_strdup_printf ("/session/%s/signal", c->id);
  size_t len = 0;
  char *body = pp_signal_msg_to_json (m, &len);

  request_async (c, "PUT", path, body, len, cancel, sent_signal_cb, task);
}

void
pp_signal_client_nonce_async (PpSignalClient *c, GCancellable *cancel, GAsyncReadyCallback cb,
                              gpointer user_data)
{
  PpSignalMsg m = { .type = PP_SIGNAL_MSG_NONCE };

  pp_signal_random (c->my_nonce, sizeof c->my_nonce);
  memcpy (m.nonce, c->my_nonce, sizeof m.nonce);
  send_msg (c, &m, cancel, cb, user_data);
}

void
pp_signal_client_reveal_async (PpSignalClient *c, GCancellable *cancel, GAsyncReadyCallback cb,
                               gpointer user_data)
{
  PpSignalMsg m = { .type = PP_SIGNAL_MSG_REVEAL };

  memcpy (m.nonce, c->my_nonce, sizeof m.nonce);
  memcpy (m.fingerprint, c->my_fp, sizeof m.fingerprint);
  send_msg (c, &m, cancel, cb, user_data);
}

void
pp_signal_client_sdp_async (PpSignalClient *c, const char *sdp, const char *const *candidates,
                            GCancellable *cancel, GAsyncReadyCallback cb, gpointer user_data)
{
  PpSignalMsg m = { .type = c->role == PP_SIGNAL_ROLE_HOST ? PP_SIGNAL_MSG_OFFER
                                                           : PP_SIGNAL_MSG_ANSWER };

  m.sdp.sdp = (char *) sdp;
  m.sdp.candidates = g_ptr_array_new ();
  for (guint i = 0; candidates != NULL && candidates[i] != NULL; i++)
    g_ptr_array_add (m.sdp.candidates, (gpointer) candidates[i]);
  send_msg (c, &m, cancel, cb, user_data);
  g_ptr_array_unref (m.sdp.candidates);
}

void
pp_signal_client_reject_async (PpSignalClient *c, GCancellable *cancel, GAsyncReadyCallback cb,
                               gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancel, cb, user_data);
  g_autofree char *path = g_strdup_printf ("/session/%s", c->id);

  c->have_commit = FALSE; /* the next client commits anew */
  request_async (c, "DELETE", path, NULL, 0, cancel, sent_signal_cb, task);
}

gboolean
pp_signal_client_send_finish (PpSignalClient *c, GAsyncResult *res, GError **error)
{
  return g_task_propagate_boolean (G_TASK (res), error);
}

/* ---- long polls ---------------------------------------------------------------- */

typedef struct
{
  PpSignalClient *c;
  PpSignalFor f;
} PollData;

static void poll_once (GTask *task);

static void
polled_cb (GObject *src, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  PollData *p = g_task_get_task_data (task);
  GError *error = NULL;
  Response *resp = response_finish (res, &error);
  PpSignalSession *s;

  if (resp == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (resp->status != SOUP_STATUS_OK)
    {
      g_task_return_error (task, refusal (resp, FALSE));
      response_free (resp);
      return;
    }
  s = parse_view (resp, &error);
  response_free (resp);
  if (s == NULL)
    g_task_return_error (task, error);
  else if (!pp_signal_session_ready (s, p->f))
    {
      pp_signal_session_free (s);
      poll_once (g_steal_pointer (&task)); /* the server's timeout: ask again */
    }
  else
    {
      if (p->f == PP_SIGNAL_FOR_JOIN && p->c->role == PP_SIGNAL_ROLE_HOST)
        {
          memcpy (p->c->commit, s->commit, 32); /* before our nonce: what we check later */
          p->c->have_commit = TRUE;
        }
      g_task_return_pointer (task, s, (GDestroyNotify) pp_signal_session_free);
    }
}

static void
poll_once (GTask *task)
{
  PollData *p = g_task_get_task_data (task);
  g_autofree char *path = g_strdup_printf ("/session/%s?for=%s", p->c->id,
                                           pp_signal_for_name (p->f));

  if (g_task_return_error_if_cancelled (task))
    {
      g_object_unref (task);
      return;
    }
  request_async (p->c, "GET", path, NULL, 0, g_task_get_cancellable (task), polled_cb, task);
}

void
pp_signal_client_poll_async (PpSignalClient *c, PpSignalFor f, GCancellable *cancel,
                             GAsyncReadyCallback cb, gpointer user_data)
{
  GTask *task = g_task_new (NULL, cancel, cb, user_data);
  PollData *p = g_new0 (PollData, 1);

  p->c = c;
  p->f = f;
  g_task_set_task_data (task, p, g_free);
  poll_once (task);
}

PpSignalSession *
pp_signal_client_poll_finish (PpSignalClient *c, GAsyncResult *res, GError **error)
{
  return g_task_propagate_pointer (G_TASK (res), error);
}

gboolean
pp_signal_client_code (PpSignalClient *c, const PpSignalSession *s, uint32_t *code,
                       GError **error)
{
  uint8_t check[32];

  if (s->status < PP_SIGNAL_REVEALED)
    {
      g_set_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_BAD_REVEAL,
                   "the client has not revealed its fingerprint yet");
      return FALSE;
    }
  pp_signal_commit (s->client_fp, s->client_nonce, check);
  if (!c->have_commit || !pp_signal_memeq (check, c->commit, sizeof check))
    {
      g_set_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_BAD_REVEAL,
                   "the client's reveal does not match its commitment: someone is tampering "
                   "with the signaling");
      return FALSE;
    }
  if (!pp_signal_memeq (s->host_fp, c->host_fp, PP_SIGNAL_FP_LEN))
    {
      g_set_error (error, PP_SIGNAL_CLIENT_ERROR, PP_SIGNAL_CLIENT_ERROR_PIN_MISMATCH,
                   "the host's fingerprint changed during the session");
      return FALSE;
    }
  *code = pp_signal_sas (s->host_fp, s->client_fp, s->host_nonce, s->client_nonce);
  return TRUE;
}
