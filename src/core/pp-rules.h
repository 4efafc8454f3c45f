/* SPDX-License-Identifier: MIT
 *
 * pp-rules: the host's allow-list (DESIGN §4, user-facing text in docs/rules.md).
 * An ordered list of `ADDR:PORTS` rules with stable ids; a CONNECT is allowed when
 * any rule matches.  Sans-IO: it never resolves names and never looks up the host's
 * own addresses; the caller resolves and says whether an address is the host's own.
 * It must not close sockets either: after a removal the caller re-checks them.
 */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "pp-addr.h"

G_BEGIN_DECLS

#define PP_RULES_ERROR (pp_rules_error_quark ())
GQuark pp_rules_error_quark (void);

typedef enum
{
  PP_RULES_ERROR_PARSE,     /* "bad rule \"TEXT\": reason" */
  PP_RULES_ERROR_NOT_FOUND, /* remove: no such id or rule */
  PP_RULES_ERROR_DUPLICATE, /* add: the same rule (in any spelling) exists */
} PpRulesError;

typedef struct _PpRules PpRules;

PpRules *pp_rules_new (void);
void pp_rules_free (PpRules *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpRules, pp_rules_free)

/* Parses @text and appends it.  Returns the new rule's id (> 0; ids are never
 * reused) or 0 with @error.  @warning (nullable) gets a newly allocated sentence,
 * or NULL, when the rule is risky: `*` reaching loopback and LAN, a rule naming
 * link-local (cloud metadata).  Free it with g_free(). */
guint pp_rules_add (PpRules *r, const char *text, char **warning, GError **error);
/* @what is "#3" or a rule in any spelling of the same rule ("192.168.*" removes
 * "192.168.0.0/16:…" with the same ports).  Returns the removed id or 0 with @error. */
guint pp_rules_remove (PpRules *r, const char *what, GError **error);
/* Same; @canonical (nullable) gets the removed rule's canonical text (g_free). */
guint pp_rules_remove_full (PpRules *r, const char *what, char **canonical, GError **error);
guint pp_rules_count (const PpRules *r);
/* Rule at 0-based position @i: its id and canonical text (owned by @r, valid until
 * the rule is removed).  FALSE when @i is out of range. */
gboolean pp_rules_nth (const PpRules *r, guint i, guint *id, const char **canonical);

/* Canonical text of one rule without adding it (for validating --allow early). */
char *pp_rule_canonicalize (const char *text, GError **error);

typedef enum
{
  PP_RULES_ALLOW,
  PP_RULES_DENY,
} PpRulesVerdict;

/* The @why strings below (nullable out) are set on DENY only.  They point into a
 * thread-local buffer that stays valid until the next pp_rules_check_*() call on
 * the same thread (any PpRules): copy them to keep them. */

/* A CONNECT to an address. */
PpRulesVerdict pp_rules_check_addr (const PpRules *r, const PpAddr *addr, uint16_t port,
                                    const char **why);
/* A CONNECT by name, before resolving: the port is checked first; ALLOW when some
 * rule could allow name:port (a matching name rule, or any address rule covering
 * the port).  Invalid and numeric-looking names are refused. */
PpRulesVerdict pp_rules_check_name (const PpRules *r, const char *name, uint16_t port,
                                    const char **why);
/* One resolved address of @name.  @is_own: the address belongs to the host.  An
 * address rule allowing addr:port allows it; otherwise a name rule allows it unless
 * the address is loopback, private, link-local or own (no DNS rebinding). */
PpRulesVerdict pp_rules_check_resolved (const PpRules *r, const char *name, const PpAddr *addr,
                                        uint16_t port, gboolean is_own, const char **why);

G_END_DECLS
