/* SPDX-License-Identifier: MIT
 *
 * pp-mappings: the client's port mappings (DESIGN §4, user text in docs/rules.md):
 * "listen here, forward to that target on the host", in the seed's form
 * `[LISTEN:]PORT => TARGET:PORT` and ssh's `[bind:]port:host:hostport`, plus a
 * list with stable ids.  Sans-IO: it never binds, resolves or checks that a port
 * is free; the listener does that and reports its own errors.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "pp-addr.h"

G_BEGIN_DECLS

#define PP_MAPPINGS_ERROR (pp_mappings_error_quark ())
GQuark pp_mappings_error_quark (void);

typedef enum
{
  PP_MAPPINGS_ERROR_PARSE,     /* "bad mapping \"TEXT\": reason" */
  PP_MAPPINGS_ERROR_NOT_FOUND, /* remove: no such id or mapping */
  PP_MAPPINGS_ERROR_DUPLICATE, /* add: a listen address and port already in the list */
} PpMappingsError;

typedef struct
{
  guint id;                /* stable #N, assigned by PpMappings; 0 outside a list */
  char *listen_host;       /* "127.0.0.1", "::1", "localhost", "*", "0.0.0.0", "::" … */
  PpAddr listen_addrs[2];  /* localhost: 127.0.0.1 and ::1; "*": 0.0.0.0 and :: */
  guint n_listen_addrs;    /* 1 or 2 */
  uint16_t listen_port;    /* 0 = pick a free port */
  char *target_host;       /* canonical address text, or lower-case name without trailing dot */
  gboolean target_is_name;
  PpAddr target_addr;      /* valid when !target_is_name */
  uint16_t target_port;    /* 1-65535 */
} PpMapping;

/* Fills all but id; on failure @out is left zeroed.  LISTEN defaults to 127.0.0.1.
 * With two listen addresses the listener binds both on one port (the IPv6 one with
 * IPV6_V6ONLY, and picking the port on the first when it is 0); a failure of the
 * second alone (no IPv6) should be a warning. */
gboolean pp_mapping_parse (const char *text, PpMapping *out, GError **error);
void pp_mapping_clear (PpMapping *m);
void pp_mapping_copy (const PpMapping *src, PpMapping *dst);
/* Canonical "127.0.0.1:8080 => example.com:80", IPv6 in brackets; parses back to
 * the same mapping. */
char *pp_mapping_to_string (const PpMapping *m);
/* The listen port is below 1024: binding needs CAP_NET_BIND_SERVICE. */
gboolean pp_mapping_needs_privilege (const PpMapping *m);

typedef struct _PpMappings PpMappings;

PpMappings *pp_mappings_new (void);
void pp_mappings_free (PpMappings *ms);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpMappings, pp_mappings_free)

/* Parses and appends; returns the new id (> 0, never reused) or 0 with @error.
 * A listen address and non-zero port already used by another mapping is
 * PP_MAPPINGS_ERROR_DUPLICATE. */
guint pp_mappings_add (PpMappings *ms, const char *text, GError **error);
/* Same for a parsed mapping: on success its contents move into the list and @m is
 * zeroed; on failure @m is untouched. */
guint pp_mappings_take (PpMappings *ms, PpMapping *m, GError **error);
/* @what is "#2" or a mapping in either form (matched on its canonical form). */
guint pp_mappings_remove (PpMappings *ms, const char *what, GError **error);
guint pp_mappings_count (const PpMappings *ms);
/* Borrowed; valid until that mapping is removed.  NULL when out of range/unknown. */
const PpMapping *pp_mappings_nth (const PpMappings *ms, guint i);
const PpMapping *pp_mappings_lookup (const PpMappings *ms, guint id);
/* Records the port the system picked for a port-0 listener (shown by `maps`). */
gboolean pp_mappings_set_listen_port (PpMappings *ms, guint id, uint16_t port);

G_END_DECLS
