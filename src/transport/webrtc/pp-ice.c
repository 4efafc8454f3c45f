/* SPDX-License-Identifier: MIT
 *
 * pp-ice: libnice 0.1.21 set up against its defaults (research/webrtc-c.md
 * §2): ICE-TCP and UPnP are on by default and turned off; the whole-SDP
 * helpers are not used (they abort on the first mDNS candidate).  libnice
 * calls us through a small shim whose owner pointer is cleared at free, so
 * a late callback is dropped; the agent itself goes away from an idle,
 * never from inside one of its own callbacks.
 */
#include "pp-ice.h"

#include <agent.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/socket.h>

#include "transport/pp-transport.h"

typedef struct
{
  PpIce *owner;                 /* NULL once pp_ice_free ran */
} Shim;

struct _PpIce
{
  GMainContext *context;
  NiceAgent *agent;
  guint stream;
  Shim *shim;
  PpIceCallbacks cb;
  gpointer user_data;
  guint gather_timeout_ms;
  GSource *gather_timer;
  gboolean gathered;
  gboolean connected;
  gboolean failed;
  gboolean have_pair;
  gboolean loopback;
  char pair[160];
};

static void
stop_gather_timer (PpIce *ice)
{
  if (ice->gather_timer != NULL)
    {
      g_source_destroy (ice->gather_timer);
      g_clear_pointer (&ice->gather_timer, g_source_unref);
    }
}

static void
gathered (PpIce *ice)
{
  if (ice->gathered)
    return;
  ice->gathered = TRUE;
  stop_gather_timer (ice);
  if (ice->cb.gathered_cb != NULL)
    ice->cb.gathered_cb (ice->user_data);
}

static gboolean
gather_timeout_cb (gpointer data)
{
  PpIce *ice = data;

  g_clear_pointer (&ice->gather_timer, g_source_unref);
  gathered (ice);   /* vanilla ICE: go with what we have (a dead STUN server holds the signal) */
  return G_SOURCE_REMOVE;
}

static void
gathering_done_cb (NiceAgent *agent, guint stream, gpointer data)
{
  Shim *shim = data;

  if (shim->owner != NULL && stream == shim->owner->stream)
    gathered (shim->owner);
}

static void
state_changed_cb (NiceAgent *agent, guint stream, guint component, guint state, gpointer data)
{
  Shim *shim = data;
  PpIce *ice = shim->owner;

  if (ice == NULL || stream != ice->stream)
    return;
  switch ((NiceComponentState) state)
    {
    case NICE_COMPONENT_STATE_CONNECTED:
    case NICE_COMPONENT_STATE_READY:
      if (ice->connected)
        return;
      ice->connected = TRUE;
      if (ice->cb.connected_cb != NULL)
        ice->cb.connected_cb (ice->user_data);
      return;
    case NICE_COMPONENT_STATE_FAILED:
      if (ice->failed)
        return;
      ice->failed = TRUE;
      if (ice->cb.failed_cb != NULL)
        ice->cb.failed_cb (ice->connected ? "ICE: the connection was lost"
                                          : "ICE: no candidate pair works (no route to the peer)",
                           ice->user_data);
      return;
    case NICE_COMPONENT_STATE_DISCONNECTED:
    case NICE_COMPONENT_STATE_GATHERING:
    case NICE_COMPONENT_STATE_CONNECTING:
    case NICE_COMPONENT_STATE_LAST:
    default:
      return;
    }
}

static gboolean
is_loopback (const NiceAddress *a)
{
  char s[NICE_ADDRESS_STRING_LEN];
  g_autoptr (GInetAddress) ia = NULL;

  nice_address_to_string (a, s);
  ia = g_inet_address_new_from_string (s);
  return ia != NULL && g_inet_address_get_is_loopback (ia);
}

static const char *
cand_type (const NiceCandidate *c)
{
  switch (c->type)
    {
    case NICE_CANDIDATE_TYPE_HOST:
      return "host";
    case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
      return "srflx";
    case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
      return "prflx";
    case NICE_CANDIDATE_TYPE_RELAYED:
      return "relay";
    default:
      return "?";
    }
}

static void
selected_pair_cb (NiceAgent *agent, guint stream, guint component, NiceCandidate *l,
                  NiceCandidate *r, gpointer data)
{
  Shim *shim = data;
  PpIce *ice = shim->owner;
  char ls[NICE_ADDRESS_STRING_LEN], rs[NICE_ADDRESS_STRING_LEN];
  gboolean relayed;

  if (ice == NULL || stream != ice->stream)
    return;
  nice_address_to_string (&l->addr, ls);
  nice_address_to_string (&r->addr, rs);
  relayed = l->type == NICE_CANDIDATE_TYPE_RELAYED || r->type == NICE_CANDIDATE_TYPE_RELAYED;
  g_snprintf (ice->pair, sizeof ice->pair, "%s udp %s:%u <-> %s:%u (%s/%s)",
              relayed ? "relayed" : "direct", ls, nice_address_get_port (&l->addr), rs,
              nice_address_get_port (&r->addr), cand_type (l), cand_type (r));
  ice->loopback = is_loopback (&l->addr) && is_loopback (&r->addr);
  ice->have_pair = TRUE;
}

static void
recv_cb (NiceAgent *agent, guint stream, guint component, guint len, gchar *buf, gpointer data)
{
  Shim *shim = data;
  PpIce *ice = shim->owner;

  if (ice != NULL && ice->cb.receive_cb != NULL)
    ice->cb.receive_cb ((const uint8_t *) buf, len, ice->user_data);
}

static gboolean
has_udp_turn (const PpIceConfig *cfg)
{
  for (guint i = 0; i < cfg->n_turn; i++)
    if (!cfg->turn[i].tcp)
      return TRUE;
  return FALSE;
}

static gboolean
configure (PpIce *ice, const PpIceConfig *cfg, gboolean controlling, GError **error)
{
  g_object_set (ice->agent, "ice-tcp", FALSE, "ice-udp", TRUE, "upnp", FALSE,
                "keepalive-conncheck", TRUE, "controlling-mode", controlling,
                "stun-initial-timeout", 500, "stun-max-retransmissions", 3, NULL);
  /* libnice 0.1.21 with a UDP TURN server too rejects the STUN server's
   * binding responses ("failed slow validation") and waits out our gathering
   * timeout; the TURN allocation reports the server-reflexive address anyway. */
  if (cfg->stun_host != NULL && !has_udp_turn (cfg))
    g_object_set (ice->agent, "stun-server", cfg->stun_host, "stun-server-port",
                  cfg->stun_port ? cfg->stun_port : 3478, NULL);
  for (const char *const *a = cfg->local_addresses; a != NULL && *a != NULL; a++)
    {
      NiceAddress na;
      nice_address_init (&na);
      if (!nice_address_set_from_string (&na, *a)
          || !nice_agent_add_local_address (ice->agent, &na))
        {
          g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED,
                       "ICE: bad local address \"%s\"", *a);
          return FALSE;
        }
    }
  ice->stream = nice_agent_add_stream (ice->agent, 1);
  if (ice->stream == 0)
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED, "ICE: no stream");
      return FALSE;
    }
  nice_agent_set_stream_name (ice->agent, ice->stream, "application");
  for (guint i = 0; i < cfg->n_turn; i++)
    {
      const PpIceTurnServer *t = &cfg->turn[i];
      nice_agent_set_relay_info (ice->agent, ice->stream, 1, t->host, t->port, t->username,
                                 t->password,
                                 t->tcp ? NICE_RELAY_TYPE_TURN_TCP : NICE_RELAY_TYPE_TURN_UDP);
    }
  return TRUE;
}

PpIce *
pp_ice_new (GMainContext *context, const PpIceConfig *cfg, gboolean controlling,
            const PpIceCallbacks *callbacks, gpointer user_data, GError **error)
{
  PpIce *ice = g_new0 (PpIce, 1);

  ice->context = context ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  ice->cb = *callbacks;
  ice->user_data = user_data;
  ice->gather_timeout_ms = cfg->gather_timeout_ms ? cfg->gather_timeout_ms : 2000;
  ice->shim = g_new0 (Shim, 1);
  ice->shim->owner = ice;
  ice->agent = nice_agent_new_full (ice->context, NICE_COMPATIBILITY_RFC5245,
                                    NICE_AGENT_OPTION_NONE);
  g_signal_connect (ice->agent, "candidate-gathering-done", G_CALLBACK (gathering_done_cb),
                    ice->shim);
  g_signal_connect (ice->agent, "component-state-changed", G_CALLBACK (state_changed_cb),
                    ice->shim);
  g_signal_connect (ice->agent, "new-selected-pair-full", G_CALLBACK (selected_pair_cb),
                    ice->shim);
  if (!configure (ice, cfg, controlling, error))
    {
      pp_ice_free (ice);
      return NULL;
    }
  nice_agent_attach_recv (ice->agent, ice->stream, 1, ice->context, recv_cb, ice->shim);
  return ice;
}

typedef struct
{
  NiceAgent *agent;
  guint stream;
  Shim *shim;
  GMainContext *context;
} Teardown;

static gboolean
teardown_cb (gpointer data)
{
  Teardown *t = data;

  if (t->stream != 0)
    {
      nice_agent_attach_recv (t->agent, t->stream, 1, t->context, NULL, NULL);
      nice_agent_remove_stream (t->agent, t->stream);
    }
  /* Frees TURN allocations; the task holds its own ref on the agent. */
  nice_agent_close_async (t->agent, NULL, NULL);
  g_object_unref (t->agent);
  g_free (t->shim);
  g_main_context_unref (t->context);
  g_free (t);
  return G_SOURCE_REMOVE;
}

void
pp_ice_free (PpIce *ice)
{
  Teardown *t;
  GSource *idle;

  if (ice == NULL)
    return;
  stop_gather_timer (ice);
  ice->shim->owner = NULL;
  g_signal_handlers_disconnect_by_data (ice->agent, ice->shim);
  t = g_new0 (Teardown, 1);
  t->agent = ice->agent;
  t->stream = ice->stream;
  t->shim = ice->shim;
  t->context = g_main_context_ref (ice->context);
  idle = g_idle_source_new ();
  g_source_set_callback (idle, teardown_cb, t, NULL);
  g_source_set_static_name (idle, "pp-ice-teardown");
  g_source_attach (idle, ice->context);
  g_source_unref (idle);
  g_main_context_unref (ice->context);
  g_free (ice);
}

static void
raise_buffers (PpIce *ice)
{
  g_autoptr (GPtrArray) socks = nice_agent_get_sockets (ice->agent, ice->stream, 1);
  int size = PP_ICE_SOCKET_BUFFER;

  for (guint i = 0; socks != NULL && i < socks->len; i++)
    {
      int fd = g_socket_get_fd (socks->pdata[i]);
      /* FORCE ignores net.core.[rw]mem_max when we may (root); else the capped value. */
      if (setsockopt (fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
        setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
      if (setsockopt (fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) < 0)
        setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
}

gboolean
pp_ice_gather (PpIce *ice, GError **error)
{
  ice->gather_timer = g_timeout_source_new (ice->gather_timeout_ms);
  g_source_set_callback (ice->gather_timer, gather_timeout_cb, ice, NULL);
  g_source_set_static_name (ice->gather_timer, "pp-ice-gather-deadline");
  g_source_attach (ice->gather_timer, ice->context);
  if (!nice_agent_gather_candidates (ice->agent, ice->stream))
    {
      stop_gather_timer (ice);
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED,
                   "ICE: cannot gather candidates (no usable local address)");
      return FALSE;
    }
  raise_buffers (ice);
  return TRUE;
}

void
pp_ice_get_local_credentials (PpIce *ice, char **ufrag, char **pwd)
{
  nice_agent_get_local_credentials (ice->agent, ice->stream, ufrag, pwd);
}

char **
pp_ice_get_local_candidates (PpIce *ice)
{
  GSList *list = nice_agent_get_local_candidates (ice->agent, ice->stream, 1);
  GPtrArray *out = g_ptr_array_new ();

  for (GSList *l = list; l != NULL; l = l->next)
    {
      NiceCandidate *c = l->data;
      if (c->transport == NICE_CANDIDATE_TRANSPORT_UDP)
        g_ptr_array_add (out, nice_agent_generate_local_candidate_sdp (ice->agent, c));
    }
  g_slist_free_full (list, (GDestroyNotify) nice_candidate_free);
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

gboolean
pp_ice_set_remote (PpIce *ice, const char *ufrag, const char *pwd,
                   const char *const *candidates, guint *n_added, GError **error)
{
  GSList *list = NULL;
  int added = 0;

  if (!nice_agent_set_remote_credentials (ice->agent, ice->stream, ufrag, pwd))
    {
      g_set_error (error, PP_TRANSPORT_ERROR, PP_TRANSPORT_ERROR_FAILED,
                   "ICE: the peer's credentials were refused");
      return FALSE;
    }
  for (const char *const *c = candidates; c != NULL && *c != NULL; c++)
    {
      NiceCandidate *nc = nice_agent_parse_remote_candidate_sdp (ice->agent, ice->stream, *c);
      if (nc != NULL)
        list = g_slist_prepend (list, nc);
    }
  if (list != NULL)
    added = nice_agent_set_remote_candidates (ice->agent, ice->stream, 1, list);
  g_slist_free_full (list, (GDestroyNotify) nice_candidate_free);
  if (n_added != NULL)
    *n_added = added > 0 ? (guint) added : 0;
  return TRUE;
}

gboolean
pp_ice_send (PpIce *ice, const uint8_t *data, size_t len)
{
  return nice_agent_send (ice->agent, ice->stream, 1, (guint) len, (const gchar *) data) >= 0;
}

gboolean
pp_ice_get_selected_pair (PpIce *ice, char *out, size_t out_len, gboolean *loopback)
{
  if (!ice->have_pair)
    return FALSE;
  g_strlcpy (out, ice->pair, out_len);
  if (loopback != NULL)
    *loopback = ice->loopback;
  return TRUE;
}
