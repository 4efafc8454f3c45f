/* SPDX-License-Identifier: MIT
 *
 * pp-signal-session: the signaling state machine.  Every transition checks,
 * in this order, the role (who may send this), the status (is it this step's
 * turn), then the content (the reveal must open the commit).  Expiry is
 * checked by the caller first, so a stale session is 404 before anything
 * else.  Tokens are only ever seen as hashes and compared in constant time.
 */
#include "signal/pp-signal-session.h"

#include <string.h>

const PpSignalTtl pp_signal_ttl_default = {
  .waiting_ms = 120000,
  .decide_ms = 60000,
  .connect_ms = 30000,
  .linger_ms = 10000,
};

static const char *const status_names[PP_SIGNAL_N_STATUS] = {
  "waiting", "joined", "nonce", "revealed", "offered", "answered",
};

static const char *const for_names[] = { "join", "nonce", "reveal", "offer", "answer" };

const char *
pp_signal_status_name (PpSignalStatus s)
{
  return (unsigned) s < PP_SIGNAL_N_STATUS ? status_names[s] : "invalid";
}

gboolean
pp_signal_status_parse (const char *name, PpSignalStatus *out)
{
  for (unsigned i = 0; i < PP_SIGNAL_N_STATUS; i++)
    if (name != NULL && strcmp (name, status_names[i]) == 0)
      {
        *out = (PpSignalStatus) i;
        return TRUE;
      }
  return FALSE;
}

const char *
pp_signal_for_name (PpSignalFor f)
{
  return (unsigned) f < G_N_ELEMENTS (for_names) ? for_names[f] : "invalid";
}

gboolean
pp_signal_for_parse (const char *name, PpSignalFor *out)
{
  for (unsigned i = 0; i < G_N_ELEMENTS (for_names); i++)
    if (name != NULL && strcmp (name, for_names[i]) == 0)
      {
        *out = (PpSignalFor) i;
        return TRUE;
      }
  return FALSE;
}

const char *
pp_signal_msg_type_name (PpSignalMsgType t)
{
  switch (t)
    {
    case PP_SIGNAL_MSG_NONCE: return "nonce";
    case PP_SIGNAL_MSG_REVEAL: return "reveal";
    case PP_SIGNAL_MSG_OFFER: return "offer";
    case PP_SIGNAL_MSG_ANSWER: return "answer";
    }
  return "invalid";
}

int
pp_signal_verdict_http (PpSignalVerdict v)
{
  switch (v)
    {
    case PP_SIGNAL_OK: return 200;
    case PP_SIGNAL_BAD_REQUEST: return 400;
    case PP_SIGNAL_UNAUTHORIZED: return 401;
    case PP_SIGNAL_FORBIDDEN: return 403;
    case PP_SIGNAL_NOT_FOUND: return 404;
    case PP_SIGNAL_CONFLICT: return 409;
    case PP_SIGNAL_GONE: return 410;
    }
  return 500;
}

PpSignalSession *
pp_signal_session_new (const char *id, const char *host, const uint8_t host_fp[PP_SIGNAL_FP_LEN],
                       const char *host_token_hash, int64_t now_ms, const PpSignalTtl *ttl)
{
  PpSignalSession *s = g_new0 (PpSignalSession, 1);

  g_strlcpy (s->id, id, sizeof s->id);
  s->status = PP_SIGNAL_WAITING;
  s->host = g_strdup (host);
  memcpy (s->host_fp, host_fp, PP_SIGNAL_FP_LEN);
  g_strlcpy (s->host_token, host_token_hash, sizeof s->host_token);
  s->created_ms = now_ms;
  s->expires_ms = now_ms + ttl->waiting_ms;
  s->rejected = g_ptr_array_new_with_free_func (g_free);
  return s;
}

void
pp_signal_sdp_clear (PpSignalSdp *sdp)
{
  g_clear_pointer (&sdp->sdp, g_free);
  g_clear_pointer (&sdp->candidates, g_ptr_array_unref);
}

void
pp_signal_msg_clear (PpSignalMsg *m)
{
  pp_signal_sdp_clear (&m->sdp);
}

static void
forget_client (PpSignalSession *s)
{
  g_clear_pointer (&s->client, g_free);
  memset (s->commit, 0, sizeof s->commit);
  memset (s->client_token, 0, sizeof s->client_token);
  memset (s->host_nonce, 0, sizeof s->host_nonce);
  memset (s->client_fp, 0, sizeof s->client_fp);
  memset (s->client_nonce, 0, sizeof s->client_nonce);
  pp_signal_sdp_clear (&s->offer);
  pp_signal_sdp_clear (&s->answer);
}

void
pp_signal_session_free (PpSignalSession *s)
{
  if (s == NULL)
    return;
  forget_client (s);
  g_free (s->host);
  g_ptr_array_unref (s->rejected);
  g_free (s);
}

gboolean
pp_signal_session_expired (const PpSignalSession *s, int64_t now_ms)
{
  return now_ms >= s->expires_ms;
}

static gboolean
hash_eq (const char *stored, const char *presented)
{
  return stored[0] != '\0'
         && pp_signal_memeq (stored, presented, PP_SIGNAL_HASH_HEX_LEN);
}

PpSignalRole
pp_signal_session_role (const PpSignalSession *s, const char *token_hash)
{
  gboolean rejected = FALSE;

  if (token_hash == NULL || strlen (token_hash) != PP_SIGNAL_HASH_HEX_LEN)
    return PP_SIGNAL_ROLE_NONE;
  if (hash_eq (s->host_token, token_hash))
    return PP_SIGNAL_ROLE_HOST;
  if (s->client != NULL && hash_eq (s->client_token, token_hash))
    return PP_SIGNAL_ROLE_CLIENT;
  for (guint i = 0; i < s->rejected->len; i++)
    rejected |= hash_eq (g_ptr_array_index (s->rejected, i), token_hash);
  return rejected ? PP_SIGNAL_ROLE_REJECTED : PP_SIGNAL_ROLE_NONE;
}

PpSignalVerdict
pp_signal_session_join (PpSignalSession *s, const char *client, const uint8_t commit[32],
                        const char *client_token_hash, int64_t now_ms, const PpSignalTtl *ttl,
                        const char **why)
{
  if (s->status != PP_SIGNAL_WAITING)
    {
      *why = "someone else already joined this session";
      return PP_SIGNAL_CONFLICT;
    }
  s->client = g_strdup (client);
  memcpy (s->commit, commit, 32);
  g_strlcpy (s->client_token, client_token_hash, sizeof s->client_token);
  s->status = PP_SIGNAL_JOINED;
  s->expires_ms = now_ms + ttl->decide_ms;
  return PP_SIGNAL_OK;
}

/* Who sends each message, and the status it needs. */
static PpSignalVerdict
check_turn (const PpSignalSession *s, PpSignalRole role, PpSignalMsgType t, const char **why)
{
  static const struct { PpSignalRole role; PpSignalStatus after; const char *why; } turn[] = {
    [PP_SIGNAL_MSG_NONCE] = { PP_SIGNAL_ROLE_HOST, PP_SIGNAL_JOINED,
                              "a nonce is sent once, after a join" },
    [PP_SIGNAL_MSG_REVEAL] = { PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_NONCE,
                               "a reveal is sent once, after the host's nonce" },
    [PP_SIGNAL_MSG_OFFER] = { PP_SIGNAL_ROLE_HOST, PP_SIGNAL_REVEALED,
                              "an offer is sent once, after the client's reveal" },
    [PP_SIGNAL_MSG_ANSWER] = { PP_SIGNAL_ROLE_CLIENT, PP_SIGNAL_OFFERED,
                               "an answer is sent once, after the host's offer" },
  };

  if (role == PP_SIGNAL_ROLE_REJECTED)
    {
      *why = "the host declined this join";
      return PP_SIGNAL_GONE;
    }
  if (role == PP_SIGNAL_ROLE_NONE)
    {
      *why = "the bearer token is not valid for this session";
      return PP_SIGNAL_UNAUTHORIZED;
    }
  if (role != turn[t].role)
    {
      *why = turn[t].role == PP_SIGNAL_ROLE_HOST ? "only the host may send this signal"
                                                 : "only the client may send this signal";
      return PP_SIGNAL_CONFLICT;
    }
  if (s->status != turn[t].after)
    {
      *why = turn[t].why;
      return PP_SIGNAL_CONFLICT;
    }
  return PP_SIGNAL_OK;
}

static PpSignalVerdict
apply_reveal (PpSignalSession *s, const PpSignalMsg *m, const char **why)
{
  uint8_t c[32];

  pp_signal_commit (m->fingerprint, m->nonce, c);
  if (!pp_signal_memeq (c, s->commit, sizeof c))
    {
      *why = "the revealed fingerprint and nonce do not match the join's commit";
      return PP_SIGNAL_CONFLICT;
    }
  memcpy (s->client_fp, m->fingerprint, PP_SIGNAL_FP_LEN);
  memcpy (s->client_nonce, m->nonce, PP_SIGNAL_NONCE_LEN);
  s->status = PP_SIGNAL_REVEALED;
  return PP_SIGNAL_OK;
}

static void
take_sdp (PpSignalSdp *dst, PpSignalSdp *src)
{
  pp_signal_sdp_clear (dst);
  *dst = *src;
  src->sdp = NULL;
  src->candidates = NULL;
  if (dst->candidates == NULL)
    dst->candidates = g_ptr_array_new_with_free_func (g_free);
}

PpSignalVerdict
pp_signal_session_apply (PpSignalSession *s, PpSignalRole role, PpSignalMsg *m, int64_t now_ms,
                         const PpSignalTtl *ttl, const char **why)
{
  PpSignalVerdict v = check_turn (s, role, m->type, why);

  if (v != PP_SIGNAL_OK)
    return v;
  switch (m->type)
    {
    case PP_SIGNAL_MSG_NONCE:
      memcpy (s->host_nonce, m->nonce, PP_SIGNAL_NONCE_LEN);
      s->status = PP_SIGNAL_NONCE;
      return PP_SIGNAL_OK;
    case PP_SIGNAL_MSG_REVEAL:
      return apply_reveal (s, m, why);
    case PP_SIGNAL_MSG_OFFER:
      take_sdp (&s->offer, &m->sdp);
      s->status = PP_SIGNAL_OFFERED;
      s->expires_ms = now_ms + ttl->connect_ms;
      return PP_SIGNAL_OK;
    case PP_SIGNAL_MSG_ANSWER:
      take_sdp (&s->answer, &m->sdp);
      s->status = PP_SIGNAL_ANSWERED;
      s->expires_ms = now_ms + ttl->linger_ms;
      return PP_SIGNAL_OK;
    }
  *why = "unknown signal type";
  return PP_SIGNAL_BAD_REQUEST;
}

PpSignalVerdict
pp_signal_session_reject (PpSignalSession *s, PpSignalRole role, int64_t now_ms,
                          const PpSignalTtl *ttl, gboolean *cancelled, const char **why)
{
  if (role != PP_SIGNAL_ROLE_HOST)
    {
      *why = role == PP_SIGNAL_ROLE_NONE ? "the bearer token is not valid for this session"
                                         : "only the host may reject or cancel";
      return role == PP_SIGNAL_ROLE_NONE ? PP_SIGNAL_UNAUTHORIZED : PP_SIGNAL_CONFLICT;
    }
  *cancelled = s->client == NULL || s->status >= PP_SIGNAL_OFFERED
               || s->rejects >= PP_SIGNAL_MAX_REJECTS;
  if (*cancelled)
    return PP_SIGNAL_OK;
  g_ptr_array_add (s->rejected, g_strdup (s->client_token));
  s->rejects++;
  forget_client (s);
  s->status = PP_SIGNAL_WAITING;
  s->expires_ms = now_ms + ttl->waiting_ms;
  return PP_SIGNAL_OK;
}

PpSignalVerdict
pp_signal_session_may_poll (PpSignalRole role, PpSignalFor f, const char **why)
{
  gboolean host_poll = f == PP_SIGNAL_FOR_JOIN || f == PP_SIGNAL_FOR_REVEAL
                       || f == PP_SIGNAL_FOR_ANSWER;

  switch (role)
    {
    case PP_SIGNAL_ROLE_NONE:
      *why = "the bearer token is not valid for this session";
      return PP_SIGNAL_UNAUTHORIZED;
    case PP_SIGNAL_ROLE_REJECTED:
      *why = "the host declined this join";
      return PP_SIGNAL_GONE;
    case PP_SIGNAL_ROLE_HOST:
      *why = "for=nonce and for=offer are the client's long polls";
      return host_poll ? PP_SIGNAL_OK : PP_SIGNAL_CONFLICT;
    case PP_SIGNAL_ROLE_CLIENT:
      *why = "for=join, for=reveal and for=answer are the host's long polls";
      return host_poll ? PP_SIGNAL_CONFLICT : PP_SIGNAL_OK;
    }
  return PP_SIGNAL_UNAUTHORIZED;
}

gboolean
pp_signal_session_ready (const PpSignalSession *s, PpSignalFor f)
{
  switch (f)
    {
    case PP_SIGNAL_FOR_JOIN: return s->status >= PP_SIGNAL_JOINED;
    case PP_SIGNAL_FOR_NONCE: return s->status >= PP_SIGNAL_NONCE;
    case PP_SIGNAL_FOR_REVEAL: return s->status >= PP_SIGNAL_REVEALED;
    case PP_SIGNAL_FOR_OFFER: return s->status >= PP_SIGNAL_OFFERED;
    case PP_SIGNAL_FOR_ANSWER: return s->status >= PP_SIGNAL_ANSWERED;
    }
  return FALSE;
}
