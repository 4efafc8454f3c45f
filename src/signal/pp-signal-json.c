/* SPDX-License-Identifier: MIT
 *
 * pp-signal-json: parse and print signaling JSON with json-glib.  Input is
 * bounded before json-glib sees it (size by the caller, depth here), then
 * every field is checked for type and content; the first problem found is
 * the reason returned.  Output is built with JsonBuilder so strings from the
 * network are always escaped.
 */
#include "signal/pp-signal-json.h"

#include <json-glib/json-glib.h>
#include <string.h>

gboolean
pp_signal_json_depth_ok (const char *data, size_t len)
{
  gboolean in_string = FALSE, escaped = FALSE;
  int depth = 0;

  for (size_t i = 0; i < len; i++)
    {
      char c = data[i];

      if (in_string)
        {
          if (escaped)
            escaped = FALSE;
          else if (c == '\\')
            escaped = TRUE;
          else if (c == '"')
            in_string = FALSE;
          continue;
        }
      if (c == '"')
        in_string = TRUE;
      else if ((c == '[' || c == '{') && ++depth > PP_SIGNAL_JSON_DEPTH_MAX)
        return FALSE;
      else if (c == ']' || c == '}')
        depth--;
    }
  return TRUE;
}

/* Parses @data into an object; NULL with *why set otherwise. */
static JsonObject *
parse_object (JsonParser *p, const char *data, size_t len, const char **why)
{
  JsonNode *root;

  if (len == 0)
    {
      *why = "the request body is empty; a JSON object was expected";
      return NULL;
    }
  if (len > PP_SIGNAL_BODY_MAX)
    {
      *why = "the request body is larger than 64 KiB";
      return NULL;
    }
  if (!pp_signal_json_depth_ok (data, len))
    {
      *why = "the JSON nests too deeply";
      return NULL;
    }
  if (memchr (data, '\0', len) != NULL || !json_parser_load_from_data (p, data, (gssize) len, NULL))
    {
      *why = "the request body is not valid JSON";
      return NULL;
    }
  root = json_parser_get_root (p);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      *why = "the request body must be a JSON object";
      return NULL;
    }
  return json_node_get_object (root);
}

/* A string member, or NULL (member missing or not a string). */
static const char *
get_str (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static gboolean
get_hex (JsonObject *o, const char *name, uint8_t *out, size_t len)
{
  return pp_signal_hex_decode (get_str (o, name), out, len);
}

#define FAIL(msg) do { *why = (msg); return PP_SIGNAL_BAD_REQUEST; } while (0)

PpSignalVerdict
pp_signal_parse_create (const char *data, size_t len, char **host, uint8_t fp[PP_SIGNAL_FP_LEN],
                        const char **why)
{
  g_autoptr (JsonParser) p = json_parser_new_immutable ();
  JsonObject *o = parse_object (p, data, len, why);
  const char *name;

  if (o == NULL)
    return PP_SIGNAL_BAD_REQUEST;
  name = get_str (o, "host");
  if (!pp_signal_name_valid (name))
    FAIL ("\"host\" must be 1 to 64 bytes of printable ASCII");
  if (!get_hex (o, "fingerprint", fp, PP_SIGNAL_FP_LEN))
    FAIL ("\"fingerprint\" must be 64 hex digits (SHA-256 of the DER certificate)");
  *host = g_strdup (name);
  return PP_SIGNAL_OK;
}

PpSignalVerdict
pp_signal_parse_join (const char *data, size_t len, char **client, uint8_t commit[32],
                      const char **why)
{
  g_autoptr (JsonParser) p = json_parser_new_immutable ();
  JsonObject *o = parse_object (p, data, len, why);
  const char *name;

  if (o == NULL)
    return PP_SIGNAL_BAD_REQUEST;
  name = get_str (o, "client");
  if (!pp_signal_name_valid (name))
    FAIL ("\"client\" must be 1 to 64 bytes of printable ASCII");
  if (!get_hex (o, "commit", commit, 32))
    FAIL ("\"commit\" must be 64 hex digits");
  *client = g_strdup (name);
  return PP_SIGNAL_OK;
}

static GPtrArray *
parse_candidates (JsonObject *o, const char **why)
{
  JsonNode *n = json_object_get_member (o, "candidate");
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);
  JsonArray *a;

  if (n == NULL)
    return out;  /* the SDP may hold them */
  if (!JSON_NODE_HOLDS_ARRAY (n)
      || json_array_get_length (a = json_node_get_array (n)) > PP_SIGNAL_MAX_CANDIDATES)
    goto bad;
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      const char *c;

      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_STRING)
        goto bad;
      c = json_node_get_string (e);
      if (!g_str_has_prefix (c, "candidate:") || strlen (c) > PP_SIGNAL_CANDIDATE_MAX)
        goto bad;
      g_ptr_array_add (out, g_strdup (c));
    }
  return out;
bad:
  *why = "\"candidate\" must be a list of at most 64 \"candidate:…\" strings";
  g_ptr_array_unref (out);
  return NULL;
}

static PpSignalVerdict
parse_sdp (JsonObject *o, PpSignalSdp *sdp, const char **why)
{
  const char *text = get_str (o, "sdp");

  if (text == NULL || *text == '\0')
    FAIL ("\"sdp\" must be a non-empty string");
  sdp->candidates = parse_candidates (o, why);
  if (sdp->candidates == NULL)
    return PP_SIGNAL_BAD_REQUEST;
  sdp->sdp = g_strdup (text);
  return PP_SIGNAL_OK;
}

static gboolean
parse_type (const char *type, PpSignalMsgType *t)
{
  static const PpSignalMsgType all[] = { PP_SIGNAL_MSG_NONCE, PP_SIGNAL_MSG_REVEAL,
                                         PP_SIGNAL_MSG_OFFER, PP_SIGNAL_MSG_ANSWER };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    if (type != NULL && strcmp (type, pp_signal_msg_type_name (all[i])) == 0)
      {
        *t = all[i];
        return TRUE;
      }
  return FALSE;
}

PpSignalVerdict
pp_signal_parse_msg (const char *data, size_t len, PpSignalMsg *m, const char **why)
{
  g_autoptr (JsonParser) p = json_parser_new_immutable ();
  JsonObject *o = parse_object (p, data, len, why);

  memset (m, 0, sizeof *m);
  if (o == NULL)
    return PP_SIGNAL_BAD_REQUEST;
  if (!parse_type (get_str (o, "type"), &m->type))
    FAIL ("\"type\" must be one of nonce, reveal, offer, answer");
  switch (m->type)
    {
    case PP_SIGNAL_MSG_NONCE:
      if (!get_hex (o, "nonce", m->nonce, PP_SIGNAL_NONCE_LEN))
        FAIL ("\"nonce\" must be 64 hex digits");
      return PP_SIGNAL_OK;
    case PP_SIGNAL_MSG_REVEAL:
      if (!get_hex (o, "fingerprint", m->fingerprint, PP_SIGNAL_FP_LEN))
        FAIL ("\"fingerprint\" must be 64 hex digits");
      if (!get_hex (o, "nonce", m->nonce, PP_SIGNAL_NONCE_LEN))
        FAIL ("\"nonce\" must be 64 hex digits");
      return PP_SIGNAL_OK;
    case PP_SIGNAL_MSG_OFFER:
    case PP_SIGNAL_MSG_ANSWER:
      return parse_sdp (o, &m->sdp, why);
    }
  FAIL ("unknown signal type");
}

/* ---- output ---------------------------------------------------------------- */

static void
add_hex (JsonBuilder *b, const char *name, const uint8_t *bytes, size_t len)
{
  char hex[2 * 64 + 1];

  pp_signal_hex_encode (bytes, len, hex);
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, hex);
}

static void
add_str (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
add_time (JsonBuilder *b, const char *name, int64_t ms)
{
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_utc (ms / 1000);
  g_autofree char *base = g_date_time_format (t, "%Y-%m-%dT%H:%M:%S");
  g_autofree char *iso = g_strdup_printf ("%s.%03dZ", base, (int) (ms % 1000));

  add_str (b, name, iso);
}

static void
add_sdp (JsonBuilder *b, const char *name, const PpSignalSdp *sdp)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_object (b);
  add_str (b, "sdp", sdp->sdp);
  json_builder_set_member_name (b, "candidate");
  json_builder_begin_array (b);
  for (guint i = 0; i < sdp->candidates->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (sdp->candidates, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
}

/* The members every view shares; the client never sees a commit it did not
 * need, nor anything of an earlier, declined client (already forgotten). */
static void
add_view (JsonBuilder *b, const PpSignalSession *s, PpSignalRole role)
{
  add_str (b, "id", s->id);
  add_str (b, "status", pp_signal_status_name (s->status));
  add_str (b, "host", s->host);
  add_hex (b, "hostFingerprint", s->host_fp, PP_SIGNAL_FP_LEN);
  if (s->client != NULL)
    add_str (b, "client", s->client);
  if (s->client != NULL && role != PP_SIGNAL_ROLE_CLIENT)
    add_hex (b, "commit", s->commit, 32);
  if (s->status >= PP_SIGNAL_NONCE)
    add_hex (b, "hostNonce", s->host_nonce, PP_SIGNAL_NONCE_LEN);
  if (s->status >= PP_SIGNAL_REVEALED)
    {
      add_hex (b, "clientFingerprint", s->client_fp, PP_SIGNAL_FP_LEN);
      add_hex (b, "clientNonce", s->client_nonce, PP_SIGNAL_NONCE_LEN);
    }
  json_builder_set_member_name (b, "signal");
  json_builder_begin_object (b);
  if (s->status >= PP_SIGNAL_OFFERED)
    add_sdp (b, "offer", &s->offer);
  if (s->status >= PP_SIGNAL_ANSWERED)
    add_sdp (b, "answer", &s->answer);
  json_builder_end_object (b);
  add_time (b, "createdAt", s->created_ms);
  add_time (b, "expiresAt", s->expires_ms);
}

static char *
finish (JsonBuilder *b, size_t *len)
{
  g_autoptr (JsonGenerator) g = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  gsize n = 0;
  char *out;

  json_generator_set_root (g, root);
  out = json_generator_to_data (g, &n);
  if (len != NULL)
    *len = n;
  return out;
}

char *
pp_signal_session_to_view (const PpSignalSession *s, PpSignalRole role, size_t *len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_view (b, s, role);
  json_builder_end_object (b);
  return finish (b, len);
}

GBytes *
pp_signal_session_to_store (const PpSignalSession *s)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  size_t len = 0;
  char *data;

  json_builder_begin_object (b);
  add_view (b, s, PP_SIGNAL_ROLE_HOST);
  add_str (b, "hostToken", s->host_token);
  if (s->client != NULL)
    add_str (b, "clientToken", s->client_token);
  json_builder_set_member_name (b, "createdMs");
  json_builder_add_int_value (b, s->created_ms);
  json_builder_set_member_name (b, "expiresMs");
  json_builder_add_int_value (b, s->expires_ms);
  json_builder_set_member_name (b, "rejected");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->rejected->len; i++)
    json_builder_add_string_value (b, g_ptr_array_index (s->rejected, i));
  json_builder_end_array (b);
  json_builder_end_object (b);
  data = finish (b, &len);
  return g_bytes_new_take (data, len);
}

/* ---- input of whole sessions -------------------------------------------------- */

static int64_t
get_time (JsonObject *o, const char *ms_name, const char *iso_name)
{
  JsonNode *n = json_object_get_member (o, ms_name);
  g_autoptr (GDateTime) t = NULL;

  if (n != NULL && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64)
    return json_node_get_int (n);
  if (get_str (o, iso_name) == NULL)
    return 0;
  t = g_date_time_new_from_iso8601 (get_str (o, iso_name), NULL);
  return t == NULL ? 0 : g_date_time_to_unix (t) * 1000 + g_date_time_get_microsecond (t) / 1000;
}

static gboolean
read_sdp (JsonObject *signal, const char *name, PpSignalSdp *sdp)
{
  JsonNode *n = json_object_get_member (signal, name);
  const char *why = NULL;

  if (n == NULL || !JSON_NODE_HOLDS_OBJECT (n))
    return FALSE;
  return parse_sdp (json_node_get_object (n), sdp, &why) == PP_SIGNAL_OK;
}

static gboolean
read_reveal_and_signals (JsonObject *o, PpSignalSession *s)
{
  JsonNode *sig = json_object_get_member (o, "signal");
  JsonObject *so;

  if (s->status >= PP_SIGNAL_NONCE && !get_hex (o, "hostNonce", s->host_nonce, 32))
    return FALSE;
  if (s->status >= PP_SIGNAL_REVEALED
      && (!get_hex (o, "clientFingerprint", s->client_fp, 32)
          || !get_hex (o, "clientNonce", s->client_nonce, 32)))
    return FALSE;
  if (s->status < PP_SIGNAL_OFFERED)
    return TRUE;
  if (sig == NULL || !JSON_NODE_HOLDS_OBJECT (sig))
    return FALSE;
  so = json_node_get_object (sig);
  if (!read_sdp (so, "offer", &s->offer))
    return FALSE;
  return s->status < PP_SIGNAL_ANSWERED || read_sdp (so, "answer", &s->answer);
}

static gboolean
read_private (JsonObject *o, PpSignalSession *s)
{
  JsonNode *n = json_object_get_member (o, "rejected");
  const char *ht = get_str (o, "hostToken"), *ct = get_str (o, "clientToken");
  JsonArray *a;

  if (ht == NULL || strlen (ht) != PP_SIGNAL_HASH_HEX_LEN)
    return FALSE;
  g_strlcpy (s->host_token, ht, sizeof s->host_token);
  if (s->client != NULL && (ct == NULL || strlen (ct) != PP_SIGNAL_HASH_HEX_LEN))
    return FALSE;
  if (ct != NULL)
    g_strlcpy (s->client_token, ct, sizeof s->client_token);
  if (n == NULL || !JSON_NODE_HOLDS_ARRAY (n))
    return FALSE;
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      const char *h = json_array_get_string_element (a, i);

      if (h == NULL || strlen (h) != PP_SIGNAL_HASH_HEX_LEN)
        return FALSE;
      g_ptr_array_add (s->rejected, g_strdup (h));
    }
  s->rejects = s->rejected->len;
  return TRUE;
}

static PpSignalSession *
read_session (const char *data, size_t len, gboolean private, const char **why)
{
  g_autoptr (JsonParser) p = json_parser_new_immutable ();
  JsonObject *o = parse_object (p, data, len, why);
  g_autoptr (PpSignalSession) s = g_new0 (PpSignalSession, 1);
  const char *id, *client;

  s->rejected = g_ptr_array_new_with_free_func (g_free);
  if (o == NULL)
    return NULL;
  *why = "the session JSON is incomplete or malformed";
  id = get_str (o, "id");
  if (!pp_signal_id_valid (id) || !pp_signal_status_parse (get_str (o, "status"), &s->status)
      || !pp_signal_name_valid (get_str (o, "host"))
      || !get_hex (o, "hostFingerprint", s->host_fp, 32))
    return NULL;
  g_strlcpy (s->id, id, sizeof s->id);
  s->host = g_strdup (get_str (o, "host"));
  client = get_str (o, "client");
  if (client != NULL && !pp_signal_name_valid (client))
    return NULL;
  s->client = g_strdup (client);
  if (s->status >= PP_SIGNAL_JOINED && s->client == NULL)
    return NULL;
  /* The store always has the commit; a host's view has it too (the client's
   * does not), and the host keeps the one it saw first. */
  if (s->client != NULL && !get_hex (o, "commit", s->commit, 32) && private)
    return NULL;
  if (!read_reveal_and_signals (o, s) || (private && !read_private (o, s)))
    return NULL;
  s->created_ms = get_time (o, "createdMs", "createdAt");
  s->expires_ms = get_time (o, "expiresMs", "expiresAt");
  return g_steal_pointer (&s);
}

PpSignalSession *
pp_signal_session_from_view (const char *data, size_t len, const char **why)
{
  return read_session (data, len, FALSE, why);
}

PpSignalSession *
pp_signal_session_from_store (const char *data, size_t len, const char **why)
{
  return read_session (data, len, TRUE, why);
}

char *
pp_signal_error_json (const char *why, size_t *len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_str (b, "error", why);
  json_builder_end_object (b);
  return finish (b, len);
}

char *
pp_signal_msg_to_json (const PpSignalMsg *m, size_t *len)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  add_str (b, "type", pp_signal_msg_type_name (m->type));
  switch (m->type)
    {
    case PP_SIGNAL_MSG_REVEAL:
      add_hex (b, "fingerprint", m->fingerprint, PP_SIGNAL_FP_LEN);
      /* fall through */
    case PP_SIGNAL_MSG_NONCE:
      add_hex (b, "nonce", m->nonce, PP_SIGNAL_NONCE_LEN);
      break;
    case PP_SIGNAL_MSG_OFFER:
    case PP_SIGNAL_MSG_ANSWER:
      json_builder_set_member_name (b, "sdp");
      json_builder_add_string_value (b, m->sdp.sdp);
      json_builder_set_member_name (b, "candidate");
      json_builder_begin_array (b);
      for (guint i = 0; m->sdp.candidates != NULL && i < m->sdp.candidates->len; i++)
        json_builder_add_string_value (b, g_ptr_array_index (m->sdp.candidates, i));
      json_builder_end_array (b);
      break;
    }
  json_builder_end_object (b);
  return finish (b, len);
}
