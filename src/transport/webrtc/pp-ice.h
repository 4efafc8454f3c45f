/* SPDX-License-Identifier: MIT
 *
 * pp-ice: one libnice agent with one stream of one component, on the
 * caller's main context: vanilla ICE (gather, then hand over every
 * candidate at once) with our own gathering deadline, ICE-TCP and UPnP
 * off, consent freshness off and keepalive connectivity checks on, UDP
 * socket buffers raised to 4 MiB.  Candidates cross this API as
 * "a=candidate:" strings; no libnice type leaks out.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

#define PP_ICE_SOCKET_BUFFER (4 * 1024 * 1024)

typedef struct _PpIce PpIce;

typedef struct
{
  const char *host;             /* numeric address */
  guint port;
  const char *username;
  const char *password;
  gboolean tcp;
} PpIceTurnServer;

typedef struct
{
  const char *stun_host;        /* numeric address, NULL: none */
  guint stun_port;
  const PpIceTurnServer *turn;
  guint n_turn;
  const char *const *local_addresses;   /* NULL: every interface */
  guint gather_timeout_ms;
} PpIceConfig;

typedef struct
{
  void (*gathered_cb) (gpointer user_data);          /* done, or the deadline passed */
  void (*connected_cb) (gpointer user_data);         /* first usable pair */
  void (*receive_cb) (const uint8_t *data, size_t len, gpointer user_data);
  void (*failed_cb) (const char *reason, gpointer user_data);
} PpIceCallbacks;

PpIce *pp_ice_new (GMainContext *context, const PpIceConfig *config, gboolean controlling,
                   const PpIceCallbacks *callbacks, gpointer user_data, GError **error);
/* Safe from inside any callback: the agent is torn down from an idle. */
void pp_ice_free (PpIce *ice);
gboolean pp_ice_gather (PpIce *ice, GError **error);
void pp_ice_get_local_credentials (PpIce *ice, char **ufrag, char **pwd);
/* "a=candidate:…" strings, NULL-terminated. */
char **pp_ice_get_local_candidates (PpIce *ice);
/* Unparsable candidates are skipped; an empty list is fine (peer-reflexive). */
gboolean pp_ice_set_remote (PpIce *ice, const char *ufrag, const char *pwd,
                            const char *const *candidates, guint *n_added, GError **error);
gboolean pp_ice_send (PpIce *ice, const uint8_t *data, size_t len);
/* The selected pair as text; *@loopback when both ends are loopback.  FALSE
 * before a pair is selected. */
gboolean pp_ice_get_selected_pair (PpIce *ice, char *out, size_t out_len, gboolean *loopback);

G_END_DECLS
