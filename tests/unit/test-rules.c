/* SPDX-License-Identifier: MIT
 *
 * Unit tests for pp-rules: parsing vectors from tests/data/rules/parse.txt
 * (canonical forms and error messages), address matching at range boundaries,
 * link-local and never-allowed handling, name checks with anti-rebinding, and
 * stable ids across removals.  Pure: no sockets, no resolver.
 */
#include <string.h>

#include <glib.h>

#include "core/pp-rules.h"

static void
assert_contains (const char *text, const char *part)
{
  if (strstr (text, part) == NULL)
    g_test_message ("\"%s\" lacks \"%s\"", text, part);
  g_assert_nonnull (strstr (text, part));
}

/* ---- parsing vectors -------------------------------------------------------- */

typedef struct
{
  char *input;
  char *canonical; /* NULL: an error containing @error */
  char *error;
} ParseCase;

static void
parse_case_free (gpointer p)
{
  ParseCase *c = p;

  g_free (c->input);
  g_free (c->canonical);
  g_free (c->error);
  g_free (c);
}

static void
test_parse (gconstpointer data)
{
  const ParseCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (PpRules) r = pp_rules_new ();
  g_autofree char *canon = pp_rule_canonicalize (c->input, &error);
  guint id;

  if (c->canonical == NULL)
    {
      g_assert_null (canon);
      g_assert_error (error, PP_RULES_ERROR, PP_RULES_ERROR_PARSE);
      g_assert_true (g_str_has_prefix (error->message, "bad rule \""));
      assert_contains (error->message, c->error);
      g_clear_error (&error);
      g_assert_cmpuint (pp_rules_add (r, c->input, NULL, &error), ==, 0);
      g_assert_error (error, PP_RULES_ERROR, PP_RULES_ERROR_PARSE);
      g_assert_cmpuint (pp_rules_count (r), ==, 0);
      return;
    }
  g_assert_no_error (error);
  g_assert_cmpstr (canon, ==, c->canonical);
  /* The canonical form is a fixed point and is what the list shows. */
  g_autofree char *again = pp_rule_canonicalize (canon, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again, ==, canon);
  id = pp_rules_add (r, c->input, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (id, ==, 1);
  const char *listed = NULL;
  g_assert_true (pp_rules_nth (r, 0, &id, &listed));
  g_assert_cmpstr (listed, ==, c->canonical);
  /* Removing by the canonical text finds it. */
  g_assert_cmpuint (pp_rules_remove (r, canon, &error), ==, 1);
  g_assert_no_error (error);
}

static GPtrArray *
load_parse_cases (void)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "rules", "parse.txt",
                                                 NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  GPtrArray *cases = g_ptr_array_new_with_free_func (parse_case_free);

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *tab = strchr (lines[i], '\t');
      ParseCase *c;

      if (lines[i][0] == '#' || lines[i][0] == '\0')
        continue;
      g_assert_nonnull (tab);
      g_assert_true (tab[1] == '=' || tab[1] == '!');
      g_assert_true (tab[2] == ' ');
      c = g_new0 (ParseCase, 1);
      c->input = g_strndup (lines[i], (size_t) (tab - lines[i]));
      if (tab[1] == '=')
        c->canonical = g_strdup (tab + 3);
      else
        c->error = g_strdup (tab + 3);
      g_ptr_array_add (cases, c);
    }
  g_assert_cmpuint (cases->len, >, 50);
  return cases;
}

/* Inputs the text file can't hold. */
static void
test_parse_odd_bytes (void)
{
  static const char *const bad[] = { "*:\t80", "a\x01.com:80", "\xff:80", "*:80\n*:81",
                                     "\x1b[31m:80" };
  g_autoptr (GError) error = NULL;

  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *c = pp_rule_canonicalize (bad[i], &error);
      g_assert_null (c);
      g_assert_error (error, PP_RULES_ERROR, PP_RULES_ERROR_PARSE);
      /* The quoted input is escaped: no control bytes reach a terminal. */
      for (const char *p = error->message; *p; p++)
        g_assert_true (*p >= 0x20 && *p < 0x7f);
      g_clear_error (&error);
    }
  g_autofree char *huge = g_strnfill (600, 'a');
  g_autofree char *c = pp_rule_canonicalize (huge, &error);
  g_assert_null (c);
  g_assert_nonnull (strstr (error->message, "too long"));
}

/* ---- address matching ------------------------------------------------------- */

typedef struct
{
  const char *rules; /* ';'-separated */
  const char *addr;
  uint16_t port;
  PpRulesVerdict verdict;
  const char *why; /* substring of the DENY reason */
} AddrCase;

#define ALLOW PP_RULES_ALLOW, NULL
#define DENY PP_RULES_DENY

static const AddrCase addr_cases[] = {
  { "", "127.0.0.1", 80, DENY, "no rule allows 127.0.0.1:80" },
  { "127.0.0.1:8080", "127.0.0.1", 8080, ALLOW },
  { "127.0.0.1:8080", "127.0.0.1", 8081, DENY, "no rule allows 127.0.0.1:8081" },
  { "127.0.0.1:8080", "127.0.0.2", 8080, DENY, "no rule allows" },
  { "127.0.0.1:8080", "::ffff:127.0.0.1", 8080, ALLOW },
  { "[::ffff:127.0.0.1]:8080", "127.0.0.1", 8080, ALLOW },
  { "localhost:80", "127.0.0.1", 80, ALLOW },
  { "localhost:80", "127.255.0.9", 80, ALLOW },
  { "localhost:80", "::1", 80, ALLOW },
  { "localhost:80", "128.0.0.1", 80, DENY, "no rule allows 128.0.0.1:80" },
  { "localhost:80", "::2", 80, DENY, "no rule allows [::2]:80" },
  { "172.16.0.0/12:*", "172.15.255.255", 1, DENY, "no rule allows 172.15.255.255:1" },
  { "172.16.0.0/12:*", "172.16.0.0", 1, ALLOW },
  { "172.16.0.0/12:*", "172.31.255.255", 65535, ALLOW },
  { "172.16.0.0/12:*", "172.32.0.0", 1, DENY, "no rule" },
  { "192.168.*:*", "192.168.0.1", 22, ALLOW },
  { "192.168.*:*", "192.169.0.1", 22, DENY, "no rule" },
  { "192.168.1.*:22", "192.168.1.255", 22, ALLOW },
  { "192.168.1.*:22", "192.168.2.0", 22, DENY, "no rule" },
  { "10.0.0.0/8:22", "10.0.0.5", 22, ALLOW },
  { "10.0.0.0/8:22", "10.0.0.5", 23, DENY, "no rule allows 10.0.0.5:23" },
  { "10.0.0.0/8:20-22", "10.0.0.5", 20, ALLOW },
  { "10.0.0.0/8:20-22", "10.0.0.5", 19, DENY, "no rule" },
  { "10.0.0.0/8:20-22", "10.0.0.5", 23, DENY, "no rule" },
  { "*:1-65535", "8.8.8.8", 65535, ALLOW },
  { "*:*", "8.8.8.8", 1, ALLOW },
  { "*:*", "2001:db8::1", 443, ALLOW },
  { "*:*", "127.0.0.1", 22, ALLOW },
  { "*:*", "192.168.1.1", 22, ALLOW },
  /* Never allowed, whatever the rules say. */
  { "*:*", "0.0.0.0", 80, DENY, "0.0.0.0:80: 0.0.0.0/8 is never allowed" },
  { "*:*", "0.1.2.3", 80, DENY, "0.0.0.0/8 is never allowed" },
  { "0.0.0.0/0:*", "0.0.0.0", 80, DENY, "never allowed" },
  { "*:*", "::", 80, DENY, "[::]:80: :: is never allowed" },
  { "[::/0]:*", "::", 80, DENY, ":: is never allowed" },
  { "*:*", "::ffff:0.0.0.0", 80, DENY, "0.0.0.0/8" },
  { "*:*", "224.0.0.1", 80, DENY, "224.0.0.0/4" },
  { "*:*", "239.255.255.255", 80, DENY, "224.0.0.0/4" },
  { "*:*", "240.0.0.1", 80, ALLOW },
  { "*:*", "ff02::1", 80, DENY, "ff00::/8" },
  { "*:*", "255.255.255.255", 80, DENY, "broadcast" },
  /* Link-local: "*" doesn't reach it, a rule naming it does; fe80:: never. */
  { "*:*", "169.254.169.254", 80, DENY,
    "link-local 169.254.169.254 needs a rule that names it (\"*\" doesn't cover it; "
    "\"169.254.169.254:80\" would)" },
  { "*.*.*.*:*", "169.254.169.254", 80, DENY, "needs a rule that names it" },
  { "0.0.0.0/0:*", "169.254.0.1", 80, DENY, "needs a rule that names it" },
  { "[::/0]:*", "169.254.0.1", 80, DENY, "needs a rule that names it" },
  { "*:*", "::ffff:169.254.169.254", 80, DENY, "link-local 169.254.169.254" },
  { "*:*", "169.253.255.255", 80, ALLOW },
  { "*:*", "169.255.0.0", 80, ALLOW },
  { "*:*;169.254.169.254:80", "169.254.169.254", 80, ALLOW },
  { "169.254.169.254:80", "169.254.169.254", 81, DENY, "no rule allows 169.254.169.254:81" },
  { "169.254.*:*", "169.254.1.1", 80, ALLOW },
  { "169.0.0.0/8:*", "169.254.1.1", 80, ALLOW },
  { "128.0.0.0/1:*", "169.254.1.1", 80, ALLOW },
  { "*:*", "fe80::1", 22, DENY, "[fe80::1]:22: link-local IPv6 can't be reached" },
  { "[fe00::/7]:*", "fe80::1", 22, DENY, "link-local IPv6" },
  /* Name rules never match an address. */
  { "example.com:*;*.example.com:*", "93.184.216.34", 80, DENY, "no rule" },
  { "[2001:db8::/32]:443", "2001:db8:ffff::1", 443, ALLOW },
  { "[2001:db8::/32]:443", "2001:db9::1", 443, DENY, "no rule allows [2001:db9::1]:443" },
  { "[::1]:80", "::1", 80, ALLOW },
  { "[::1]:80", "127.0.0.1", 80, DENY, "no rule" },
  { "[fd00::/8]:*", "fd12:3456::1", 9, ALLOW },
  { "[fd00::/8]:*", "fc00::1", 9, DENY, "no rule" },
};

static PpRules *
rules_from (const char *spec)
{
  PpRules *r = pp_rules_new ();
  g_auto (GStrv) parts = g_strsplit (spec, ";", -1);

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      if (parts[i][0] == '\0')
        continue;
      g_assert_cmpuint (pp_rules_add (r, parts[i], NULL, &error), >, 0);
      g_assert_no_error (error);
    }
  return r;
}

static void
check_why (PpRulesVerdict got, PpRulesVerdict want, const char *why, const char *want_why)
{
  g_assert_cmpint (got, ==, want);
  if (want == PP_RULES_ALLOW)
    return;
  g_assert_nonnull (why);
  assert_contains (why, want_why);
}

static void
test_addr (gconstpointer data)
{
  const AddrCase *c = data;
  g_autoptr (PpRules) r = rules_from (c->rules);
  const char *why = NULL;
  PpRulesVerdict v;
  PpAddr a;

  g_assert_true (pp_addr_parse (c->addr, &a));
  v = pp_rules_check_addr (r, &a, c->port, &why);
  check_why (v, c->verdict, why, c->why);
  /* A NULL @why is fine too. */
  g_assert_cmpint (pp_rules_check_addr (r, &a, c->port, NULL), ==, c->verdict);
}

/* ---- names ------------------------------------------------------------------ */

typedef struct
{
  const char *rules;
  const char *name;
  uint16_t port;
  PpRulesVerdict verdict;
  const char *why;
} NameCase;

static const NameCase name_cases[] = {
  { "", "example.com", 80, DENY, "no rule allows port 80" },
  { "example.com:443", "example.com", 443, ALLOW },
  { "example.com:443", "EXAMPLE.com.", 443, ALLOW },
  { "example.com:443", "example.com", 80, DENY, "no rule allows port 80" },
  { "example.com:443", "www.example.com", 443, DENY, "no rule allows www.example.com:443" },
  { "example.com:443", "example.org", 443, DENY, "no rule allows example.org:443" },
  { "*.example.com:443", "a.example.com", 443, ALLOW },
  { "*.example.com:443", "a.b.example.com", 443, ALLOW },
  { "*.example.com:443", "example.com", 443, DENY, "no rule allows example.com:443" },
  { "*.example.com:443", "badexample.com", 443, DENY, "no rule" },
  { "*.example.com:443", "example.com.evil", 443, DENY, "no rule" },
  /* Any address rule covering the port lets the name resolve; its addresses are checked. */
  { "10.0.0.0/8:22", "anything.test", 22, ALLOW },
  { "10.0.0.0/8:22", "anything.test", 23, DENY, "no rule allows port 23" },
  { "localhost:80", "localhost", 80, ALLOW },
  { "*:*", "example.com", 80, ALLOW },
  /* Numeric-looking and invalid names are refused. */
  { "*:*", "127.1", 80, DENY, "\"127.1\" looks like a number" },
  { "*:*", "2130706433", 80, DENY, "looks like a number" },
  { "*:*", "0x7f.1", 80, DENY, "looks like a number" },
  { "*:*", "10.0.0.1", 80, DENY, "looks like a number" },
  { "*:*", "a..b", 80, DENY, "is not a valid host name" },
  { "*:*", "", 80, DENY, "is not a valid host name" },
  { "*:*", "evil\x1b[2J.com", 80, DENY, "\"evil\\x1b[2J.com\" is not a valid host name" },
  { "*:*", "::1", 80, DENY, "not a valid host name" },
};

static void
test_name (gconstpointer data)
{
  const NameCase *c = data;
  g_autoptr (PpRules) r = rules_from (c->rules);
  const char *why = NULL;

  PpRulesVerdict v = pp_rules_check_name (r, c->name, c->port, &why);

  check_why (v, c->verdict, why, c->why);
}

typedef struct
{
  const char *rules;
  const char *name;
  const char *addr;
  uint16_t port;
  gboolean is_own;
  PpRulesVerdict verdict;
  const char *why;
} ResolvedCase;

static const ResolvedCase resolved_cases[] = {
  { "example.com:443", "example.com", "93.184.216.34", 443, FALSE, ALLOW },
  { "example.com:443", "example.com", "2606:2800::1", 443, FALSE, ALLOW },
  { "example.com:443", "example.com", "93.184.216.34", 80, FALSE, DENY,
    "no rule allows 93.184.216.34:80 (example.com)" },
  { "example.com:443", "other.com", "93.184.216.34", 443, FALSE, DENY, "no rule" },
  /* Anti-rebinding: a name rule alone never reaches loopback, private, link-local, own. */
  { "*.example.com:443", "evil.example.com", "127.0.0.1", 443, FALSE, DENY,
    "evil.example.com resolves to 127.0.0.1:443, a loopback address: only an address rule "
    "can allow it" },
  { "*.example.com:443", "evil.example.com", "::1", 443, FALSE, DENY, "loopback" },
  { "*.example.com:443", "evil.example.com", "::ffff:127.0.0.1", 443, FALSE, DENY,
    "loopback" },
  { "*.example.com:443", "evil.example.com", "10.1.1.1", 443, FALSE, DENY, "a private address" },
  { "*.example.com:443", "evil.example.com", "172.16.0.1", 443, FALSE, DENY, "private" },
  { "*.example.com:443", "evil.example.com", "172.15.255.255", 443, FALSE, ALLOW },
  { "*.example.com:443", "evil.example.com", "192.168.0.1", 443, FALSE, DENY, "private" },
  { "*.example.com:443", "evil.example.com", "100.64.0.1", 443, FALSE, DENY, "private" },
  { "*.example.com:443", "evil.example.com", "fd00::1", 443, FALSE, DENY, "private" },
  { "*.example.com:443", "evil.example.com", "169.254.169.254", 443, FALSE, DENY,
    "a link-local address" },
  { "*.example.com:443", "evil.example.com", "203.0.113.9", 443, TRUE, DENY,
    "one of the host's own addresses" },
  { "*.example.com:443", "evil.example.com", "203.0.113.9", 443, FALSE, ALLOW },
  /* ...unless an address rule also allows that address and port. */
  { "*.example.com:443;127.0.0.1:443", "evil.example.com", "127.0.0.1", 443, FALSE, ALLOW },
  { "*.example.com:443;127.0.0.1:80", "evil.example.com", "127.0.0.1", 443, FALSE, DENY,
    "loopback" },
  { "*.example.com:443;localhost:*", "evil.example.com", "::1", 443, FALSE, ALLOW },
  { "example.com:*;10.0.0.0/8:*", "example.com", "10.2.3.4", 22, FALSE, ALLOW },
  { "example.com:*;203.0.113.0/24:*", "example.com", "203.0.113.9", 22, TRUE, ALLOW },
  { "nas.lan:445;192.168.*:445", "nas.lan", "192.168.1.10", 445, FALSE, ALLOW },
  /* Address rules alone: the name doesn't matter. */
  { "10.0.0.0/8:22", "whatever.test", "10.0.0.5", 22, FALSE, ALLOW },
  { "10.0.0.0/8:22", "whatever.test", "11.0.0.5", 22, FALSE, DENY,
    "no rule allows 11.0.0.5:22 (whatever.test)" },
  { "*:*", "meta.example", "169.254.169.254", 80, FALSE, DENY, "needs a rule that names it" },
  { "*:*", "x.example", "127.0.0.1", 80, FALSE, ALLOW },
  /* Never-allowed and fe80 beat every rule. */
  { "*:*;x.example:*", "x.example", "0.0.0.0", 80, FALSE, DENY, "never allowed" },
  { "*:*;x.example:*", "x.example", "::", 80, FALSE, DENY, "never allowed" },
  { "*:*;x.example:*", "x.example", "224.0.0.1", 80, FALSE, DENY, "never allowed" },
  { "x.example:*", "x.example", "fe80::1", 80, FALSE, DENY, "link-local IPv6" },
  { "x.example:*", "127.1", "8.8.8.8", 80, FALSE, DENY, "looks like a number" },
};

static void
test_resolved (gconstpointer data)
{
  const ResolvedCase *c = data;
  g_autoptr (PpRules) r = rules_from (c->rules);
  const char *why = NULL;
  PpRulesVerdict v;
  PpAddr a;

  g_assert_true (pp_addr_parse (c->addr, &a));
  v = pp_rules_check_resolved (r, c->name, &a, c->port, c->is_own, &why);
  check_why (v, c->verdict, why, c->why);
}

/* ---- the list --------------------------------------------------------------- */

static void
assert_listing (const PpRules *r, const char *want)
{
  GString *s = g_string_new (NULL);
  guint id;
  const char *text;

  for (guint i = 0; pp_rules_nth (r, i, &id, &text); i++)
    g_string_append_printf (s, "%s#%u %s", i ? "; " : "", id, text);
  g_assert_cmpstr (s->str, ==, want);
  g_string_free (s, TRUE);
}

static void
test_stable_ids (void)
{
  g_autoptr (PpRules) r = pp_rules_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *canon = NULL;

  g_assert_cmpuint (pp_rules_add (r, "127.0.0.1:8080", NULL, &error), ==, 1);
  g_assert_cmpuint (pp_rules_add (r, "192.168.*:22", NULL, &error), ==, 2);
  g_assert_cmpuint (pp_rules_add (r, "example.com:443", NULL, &error), ==, 3);
  g_assert_no_error (error);
  assert_listing (r, "#1 127.0.0.1:8080; #2 192.168.*.*:22; #3 example.com:443");
  g_assert_cmpuint (pp_rules_remove (r, "#2", &error), ==, 2);
  g_assert_no_error (error);
  assert_listing (r, "#1 127.0.0.1:8080; #3 example.com:443");
  /* Ids are never reused, even for the same rule. */
  g_assert_cmpuint (pp_rules_add (r, "192.168.*:22", NULL, &error), ==, 4);
  assert_listing (r, "#1 127.0.0.1:8080; #3 example.com:443; #4 192.168.*.*:22");
  /* Any spelling of the same rule removes it. */
  g_assert_cmpuint (pp_rules_remove_full (r, " 192.168.0.0/16:22 ", &canon, &error), ==, 4);
  g_assert_no_error (error);
  g_assert_cmpstr (canon, ==, "192.168.*.*:22");
  g_assert_cmpuint (pp_rules_remove (r, "EXAMPLE.COM.:443", &error), ==, 3);
  g_assert_cmpuint (pp_rules_remove (r, "#1", &error), ==, 1);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_rules_count (r), ==, 0);
  g_assert_false (pp_rules_nth (r, 0, NULL, NULL));
  g_assert_cmpuint (pp_rules_add (r, "*:*", NULL, &error), ==, 5);
}

typedef struct
{
  const char *what;
  int code;
  const char *message;
} RemoveErrorCase;

static const RemoveErrorCase remove_errors[] = {
  { "#9", PP_RULES_ERROR_NOT_FOUND, "no rule #9 (list them with \"rules\")" },
  { "#0", PP_RULES_ERROR_PARSE, "bad rule id \"#0\"" },
  { "#", PP_RULES_ERROR_PARSE, "bad rule id" },
  { "#-1", PP_RULES_ERROR_PARSE, "bad rule id" },
  { "#1x", PP_RULES_ERROR_PARSE, "bad rule id" },
  { "#99999999999", PP_RULES_ERROR_PARSE, "bad rule id" },
  { "3", PP_RULES_ERROR_PARSE, "\"3\" is not a rule; write \"#3\" to remove rule #3" },
  { "10.0.0.1:23", PP_RULES_ERROR_NOT_FOUND, "no rule is \"10.0.0.1:23\"" },
  { "10.0.0.1:22-23", PP_RULES_ERROR_NOT_FOUND, "no rule is" },
  { "10.0.0.1", PP_RULES_ERROR_PARSE, "bad rule \"10.0.0.1\": missing \":PORTS\"" },
};

static void
test_remove_errors (gconstpointer data)
{
  const RemoveErrorCase *c = data;
  g_autoptr (PpRules) r = rules_from ("10.0.0.1:22");
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (pp_rules_remove (r, c->what, &error), ==, 0);
  g_assert_error (error, PP_RULES_ERROR, c->code);
  assert_contains (error->message, c->message);
  g_assert_cmpuint (pp_rules_count (r), ==, 1);
}

static void
test_duplicates (void)
{
  g_autoptr (PpRules) r = rules_from ("192.168.*:22;example.com:*");
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (pp_rules_add (r, "192.168.0.0/16:22", NULL, &error), ==, 0);
  g_assert_error (error, PP_RULES_ERROR, PP_RULES_ERROR_DUPLICATE);
  g_assert_cmpstr (error->message, ==,
                   "rule \"192.168.0.0/16:22\" is already #1 (\"192.168.*.*:22\")");
  g_clear_error (&error);
  g_assert_cmpuint (pp_rules_add (r, "Example.com.:1-65535", NULL, &error), ==, 0);
  g_assert_error (error, PP_RULES_ERROR, PP_RULES_ERROR_DUPLICATE);
  g_clear_error (&error);
  /* Different ports or a different kind are not duplicates. */
  g_assert_cmpuint (pp_rules_add (r, "192.168.0.0/16:23", NULL, &error), ==, 3);
  g_assert_cmpuint (pp_rules_add (r, "*.example.com:*", NULL, &error), ==, 4);
  g_assert_cmpuint (pp_rules_add (r, "192.168.0.0/24:22", NULL, &error), ==, 5);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_rules_count (r), ==, 5);
}

typedef struct
{
  const char *rule;
  const char *warning; /* substring; NULL: no warning */
} WarnCase;

static const WarnCase warn_cases[] = {
  { "*:*", "\"*:*\": the host's loopback and LAN become reachable by the peer" },
  { "*:22", "loopback and LAN" },
  { "*.*.*.*:*", "loopback and LAN" },
  { "0.0.0.0/0:*", "loopback and LAN" },
  { "[::/0]:*", "loopback and LAN" },
  { "169.254.169.254:80", "cloud metadata" },
  { "169.254.*:*", "cloud metadata" },
  { "127.0.0.1:*", NULL },
  { "localhost:*", NULL },
  { "192.168.*:*", NULL },
  { "example.com:*", NULL },
  { "[::1]:80", NULL },
};

static void
test_warning (gconstpointer data)
{
  const WarnCase *c = data;
  g_autoptr (PpRules) r = pp_rules_new ();
  g_autoptr (GError) error = NULL;
  static char stale[] = "stale";
  char *out = stale;

  /* @warning is always written, NULL when there is nothing to say. */
  g_assert_cmpuint (pp_rules_add (r, c->rule, &out, &error), ==, 1);
  g_autofree char *warning = out;
  g_assert_no_error (error);
  if (c->warning == NULL)
    {
      g_assert_null (warning);
      return;
    }
  g_assert_nonnull (warning);
  assert_contains (warning, c->warning);
}

/* A rule removed at runtime stops allowing (the caller then closes live sockets). */
static void
test_remove_revokes (void)
{
  g_autoptr (PpRules) r = rules_from ("10.0.0.0/8:22;10.0.0.5:22");
  g_autoptr (GError) error = NULL;
  PpAddr a;

  g_assert_true (pp_addr_parse ("10.0.0.5", &a));
  g_assert_cmpint (pp_rules_check_addr (r, &a, 22, NULL), ==, PP_RULES_ALLOW);
  pp_rules_remove (r, "#1", &error);
  g_assert_cmpint (pp_rules_check_addr (r, &a, 22, NULL), ==, PP_RULES_ALLOW);
  pp_rules_remove (r, "10.0.0.5:22", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pp_rules_check_addr (r, &a, 22, NULL), ==, PP_RULES_DENY);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GPtrArray) parse_cases = NULL;

  g_test_init (&argc, &argv, NULL);
  parse_cases = load_parse_cases ();
  for (guint i = 0; i < parse_cases->len; i++)
    {
      g_autofree char *path = g_strdup_printf ("/rules/parse/%u", i);
      g_test_add_data_func (path, parse_cases->pdata[i], test_parse);
    }
#define ADD_TABLE(name, table, fn)                                                 \
  for (size_t i = 0; i < G_N_ELEMENTS (table); i++)                                \
    {                                                                              \
      g_autofree char *path = g_strdup_printf ("/rules/" name "/%zu", i);          \
      g_test_add_data_func (path, &table[i], fn);                                  \
    }
  ADD_TABLE ("check-addr", addr_cases, test_addr);
  ADD_TABLE ("check-name", name_cases, test_name);
  ADD_TABLE ("check-resolved", resolved_cases, test_resolved);
  ADD_TABLE ("remove-error", remove_errors, test_remove_errors);
  ADD_TABLE ("warning", warn_cases, test_warning);
  g_test_add_func ("/rules/parse/odd-bytes", test_parse_odd_bytes);
  g_test_add_func ("/rules/list/stable-ids", test_stable_ids);
  g_test_add_func ("/rules/list/duplicates", test_duplicates);
  g_test_add_func ("/rules/list/remove-revokes", test_remove_revokes);
  return g_test_run ();
}
