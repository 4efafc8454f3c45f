/* SPDX-License-Identifier: MIT
 *
 * pp-rules: parses `ADDR:PORTS` rules into ranges, names or wildcards and answers
 * "may the peer connect here?" (DESIGN §4; docs/rules.md is the user's version).
 * Address checks come first and are final for never-allowed and zone-less
 * link-local addresses; names get an anti-rebinding check after resolution.  It
 * must stay pure: no resolver, no sockets, no knowledge of live connections.
 */
#include "pp-rules.h"

#include <string.h>

#define RULE_TEXT_MAX 512
#define WHY_MAX 512
#define QUOTE_MAX 120

G_DEFINE_QUARK (pp-rules-error-quark, pp_rules_error)

typedef enum
{
  RULE_ANY,       /* "*": every address except link-local */
  RULE_RANGE,     /* an address, a CIDR block or an IPv4 star pattern */
  RULE_LOCALHOST, /* 127.0.0.0/8 and ::1 */
  RULE_NAME,      /* example.com */
  RULE_SUFFIX,    /* *.example.com: one or more labels before the suffix */
} RuleKind;

typedef enum
{
  STYLE_PLAIN, /* 10.0.0.1, [::1] */
  STYLE_STAR,  /* 10.0.*.* */
  STYLE_CIDR,  /* 10.0.0.0/8, [fd00::/8] */
} RangeStyle;

typedef struct
{
  guint id;
  RuleKind kind;
  PpAddr net;        /* RULE_RANGE */
  guint plen;        /* RULE_RANGE, bits of the 16-byte form: IPv4 /8 is 104 */
  RangeStyle style;  /* RULE_RANGE: how to print it */
  gboolean names_ll; /* RULE_RANGE overlapping 169.254.0.0/16 and narrower than IPv4 */
  char *name;        /* RULE_NAME, RULE_SUFFIX (without "*.") */
  uint16_t lo, hi;
  char *canonical;
} Rule;

struct _PpRules
{
  GPtrArray *rules; /* Rule *, in order */
  guint next_id;
};

typedef struct
{
  gboolean v4;
  uint8_t o[4]; /* the network's first bytes */
  guint len;    /* prefix length in its family */
  const char *what;
} Range;

/* Ranges no rule may consist of: pp_addr_is_never_allowed() plus zone-less fe80::/10. */
static const Range refused_ranges[] = {
  { TRUE, { 0 }, 8, "0.0.0.0/8 is never allowed (Linux connects it to the host itself)" },
  { TRUE, { 224 }, 4, "multicast 224.0.0.0/4 is never allowed" },
  { TRUE, { 255, 255, 255, 255 }, 32, "broadcast 255.255.255.255 is never allowed" },
  { FALSE, { 0 }, 128, ":: is never allowed (Linux connects it to the host itself)" },
  { FALSE, { 0xff }, 8, "multicast ff00::/8 is never allowed" },
  { FALSE, { 0xfe, 0x80 }, 10,
    "link-local IPv6 (fe80::/10) can't be reached: the wire carries no zone" },
};

static _Thread_local char why_buf[WHY_MAX];

static void
rule_free (gpointer p)
{
  Rule *rule = p;

  g_free (rule->name);
  g_free (rule->canonical);
  g_free (rule);
}

/* Printable ASCII as is, anything else (and '"', '\\') as \xNN, cut after QUOTE_MAX. */
static char *
quote (const char *text)
{
  GString *s = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      if (s->len >= QUOTE_MAX)
        {
          g_string_append (s, "...");
          break;
        }
      if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
        g_string_append_c (s, *p);
      else
        g_string_append_printf (s, "\\x%02x", (guint) (guchar) *p);
    }
  return g_string_free (s, FALSE);
}

/* The network of @rg in the 16-byte form; returns its prefix length there. */
static guint
range_net (const Range *rg, PpAddr *out)
{
  memset (out, 0, sizeof *out);
  if (rg->v4)
    {
      pp_addr_from_v4 (rg->o, out);
      return 96 + rg->len;
    }
  memcpy (out->b, rg->o, sizeof rg->o);
  return rg->len;
}

/* ---- parsing ---------------------------------------------------------------- */

static gboolean
parse_uint (const char *s, size_t len, guint max, guint *out)
{
  guint v = 0;

  if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
    return FALSE;
  for (size_t i = 0; i < len; i++)
    {
      if (!g_ascii_isdigit (s[i]))
        return FALSE;
      v = v * 10 + (guint) (s[i] - '0');
    }
  if (v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

static char *
parse_port (const char *s, size_t len, guint *out)
{
  g_autofree char *t = g_strndup (s, len);
  g_autofree char *q = quote (t);
  guint v;

  if (len == 0)
    return g_strdup ("empty port");
  if (parse_uint (s, len, 65535, &v) && v > 0)
    {
      *out = v;
      return NULL;
    }
  if (len > 1 && s[0] == '0' && strspn (t, "0123456789") == len)
    return g_strdup_printf ("port \"%s\" has a leading zero", q);
  if (strspn (t, "0123456789") == len)
    return g_strdup_printf ("port %s is out of range (1-65535)", q);
  return g_strdup_printf ("port \"%s\" is not a number", q);
}

static char *
parse_ports (const char *s, Rule *rule)
{
  const char *dash = strchr (s, '-');
  guint lo, hi;
  char *err;

  if (*s == '\0')
    return g_strdup ("missing port after \":\" (write *, N or N-M)");
  if (strcmp (s, "*") == 0)
    {
      rule->lo = 1, rule->hi = 65535;
      return NULL;
    }
  if (dash == NULL)
    {
      if ((err = parse_port (s, strlen (s), &lo)) != NULL)
        return err;
      rule->lo = rule->hi = (uint16_t) lo;
      return NULL;
    }
  if ((err = parse_port (s, (size_t) (dash - s), &lo)) != NULL
      || (err = parse_port (dash + 1, strlen (dash + 1), &hi)) != NULL)
    return err;
  if (lo > hi)
    return g_strdup_printf ("port range %u-%u is backwards (write %u-%u)", lo, hi, hi, lo);
  rule->lo = (uint16_t) lo, rule->hi = (uint16_t) hi;
  return NULL;
}

/* IPv4 octets "10.0.*" into @v4; returns how many are numbers, or -1 with @err. */
static int
parse_octets (const char *s, gboolean star_ok, uint8_t v4[4], char **err)
{
  g_auto (GStrv) parts = g_strsplit (s, ".", 0);
  guint n = g_strv_length (parts);
  int numeric = 0;
  gboolean star = FALSE;

  if (n > 4)
    return *err = g_strdup ("an IPv4 address has four octets, this has more"), -1;
  if (n == 1 && strchr (s, '*') == NULL)
    return *err = g_strdup_printf ("\"%s\" is not an address; write four octets (\"10.0.0.1\"), "
                                   "a pattern (\"10.*\") or a CIDR block (\"10.0.0.0/8\")",
                                   s), -1;
  if (n < 4 && !(star_ok && strchr (s, '*') != NULL))
    return *err = g_strdup_printf ("an IPv4 address has four octets; write them all, or end "
                                   "with \"*\" (\"%s.*\")", s), -1;
  memset (v4, 0, 4);
  for (guint i = 0; i < n; i++)
    {
      const char *p = parts[i];
      g_autofree char *q = quote (p);
      guint v;

      if (strcmp (p, "*") == 0 && star_ok)
        {
          star = TRUE;
          continue;
        }
      if (star)
        return *err = g_strdup ("a \"*\" octet can only be followed by \"*\""), -1;
      if (*p == '\0')
        return *err = g_strdup ("empty octet (two dots in a row?)"), -1;
      if (strspn (p, "0123456789") != strlen (p))
        return *err = g_strdup_printf ("octet \"%s\" is not a number from 0 to 255", q), -1;
      if (p[0] == '0' && p[1] != '\0')
        return *err = g_strdup_printf ("octet \"%s\" has a leading zero (octal isn't accepted)",
                                       q), -1;
      if (!parse_uint (p, strlen (p), 255, &v))
        return *err = g_strdup_printf ("octet %s is out of range", q), -1;
      v4[numeric++] = (uint8_t) v;
    }
  return numeric;
}

static char *
check_host_bits (const PpAddr *net, guint plen, gboolean v4)
{
  PpAddr fixed = *net;
  char buf[PP_ADDR_STRLEN];

  for (guint bit = plen; bit < 128; bit++)
    fixed.b[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
  if (pp_addr_equal (&fixed, net))
    return NULL;
  pp_addr_format (&fixed, buf);
  if (v4)
    return g_strdup_printf ("host bits are set after /%u; did you mean \"%s/%u\"?", plen - 96,
                            buf, plen - 96);
  return g_strdup_printf ("host bits are set after /%u; did you mean \"[%s/%u]\"?", plen, buf,
                          plen);
}

static char *
parse_v4_pattern (const char *s, Rule *rule)
{
  const char *slash = strchr (s, '/');
  uint8_t v4[4];
  char *err = NULL;
  guint len;
  int numeric;

  rule->kind = RULE_RANGE;
  if (slash == NULL)
    {
      if ((numeric = parse_octets (s, TRUE, v4, &err)) < 0)
        return err;
      pp_addr_from_v4 (v4, &rule->net);
      rule->plen = 96 + 8 * (guint) numeric;
      rule->style = numeric == 4 ? STYLE_PLAIN : STYLE_STAR;
      return NULL;
    }
  if (strchr (s, '*') != NULL)
    return g_strdup ("a \"*\" pattern has no prefix length (write \"10.0.*\" or "
                     "\"10.0.0.0/16\")");
  g_autofree char *addr = g_strndup (s, (size_t) (slash - s));
  if ((numeric = parse_octets (addr, FALSE, v4, &err)) < 0)
    return err;
  if (!parse_uint (slash + 1, strlen (slash + 1), 32, &len))
    return g_strdup ("a CIDR prefix length is a number from 0 to 32");
  pp_addr_from_v4 (v4, &rule->net);
  rule->plen = 96 + len;
  rule->style = STYLE_CIDR;
  return check_host_bits (&rule->net, rule->plen, TRUE);
}

/* Inside brackets: "::1", "fd00::/8", or "fd00::" followed by @outer_len ("/8"). */
static char *
parse_v6 (const char *inner, const char *outer_len, Rule *rule)
{
  const char *slash = strchr (inner, '/');
  g_autofree char *addr = g_strndup (inner, slash ? (size_t) (slash - inner) : strlen (inner));
  const char *len_text = slash ? slash + 1 : outer_len;
  gboolean dotted = strchr (addr, ':') == NULL;
  guint len = 0, max = dotted ? 32 : 128;

  if (strchr (inner, '%') != NULL)
    return g_strdup ("zones (%eth0) aren't supported: link-local IPv6 can't be reached "
                     "through peerport");
  if (slash != NULL && outer_len != NULL)
    return g_strdup ("two prefix lengths");
  if (!pp_addr_parse (addr, &rule->net))
    {
      g_autofree char *q = quote (addr);
      return g_strdup_printf ("\"%s\" is not an IPv6 address", q);
    }
  if (len_text != NULL && !parse_uint (len_text, strlen (len_text), max, &len))
    return g_strdup_printf ("a prefix length is a number from 0 to %u", max);
  rule->kind = RULE_RANGE;
  rule->plen = len_text == NULL ? 128 : (dotted ? 96 + len : len);
  rule->style = len_text == NULL ? STYLE_PLAIN : STYLE_CIDR;
  return check_host_bits (&rule->net, rule->plen, dotted);
}

static char *
parse_name (const char *s, Rule *rule)
{
  char name[PP_HOSTNAME_MAX + 1];
  const char *why = NULL;
  gboolean suffix = g_str_has_prefix (s, "*.");
  const char *body = suffix ? s + 2 : s;

  if (strchr (body, '*') != NULL)
    return g_strdup ("a \"*\" in a name can only be the whole first label, as in "
                     "\"*.example.com\"");
  if (!pp_hostname_normalize (body, -1, name, &why))
    return g_strdup (why);
  if (pp_hostname_is_numeric (name))
    return g_strdup ("this looks like a number but is not a dotted-quad address; write the "
                     "address in full (\"10.0.0.1\") or a CIDR block (\"10.0.0.0/8\")");
  rule->kind = suffix ? RULE_SUFFIX : RULE_NAME;
  rule->name = g_strdup (name);
  return NULL;
}

static char *
parse_addr (const char *s, Rule *rule)
{
  if (strcmp (s, "*") == 0)
    {
      rule->kind = RULE_ANY;
      return NULL;
    }
  if (strcmp (s, "localhost") == 0 || strcmp (s, "localhost.") == 0)
    {
      rule->kind = RULE_LOCALHOST;
      return NULL;
    }
  if (*s == '\0')
    return g_strdup ("missing address before \":\" (write *, an address or a name)");
  if (strspn (s, "0123456789.*/") == strlen (s))
    return parse_v4_pattern (s, rule);
  if (strchr (s, '/') != NULL && strspn (s, "0123456789./") != strlen (s))
    return g_strdup ("a CIDR block needs a numeric address (\"10.0.0.0/8\", \"[fd00::/8]\")");
  return parse_name (s, rule);
}

/* "::1:80" and "fd00::/8:22": say where the brackets go. */
static char *
unbracketed_v6_error (const char *text)
{
  const char *colon = strrchr (text, ':');
  g_autofree char *head = g_strndup (text, (size_t) (colon - text));
  g_autofree char *addr = g_strndup (head, strcspn (head, "/"));
  g_autofree char *whole = g_strndup (text, strcspn (text, "/"));
  g_autofree char *qh = quote (head), *qt = quote (text), *qp = quote (colon + 1);
  PpAddr a;

  if (pp_addr_parse (addr, &a))
    return g_strdup_printf ("an IPv6 address needs brackets, write \"[%s]:%s\"", qh, qp);
  if (pp_addr_parse (whole, &a))
    return g_strdup_printf ("an IPv6 address needs brackets and a port, write \"[%s]:*\" for "
                            "every port", qt);
  return g_strdup ("an IPv6 address needs brackets, as in \"[::1]:80\"");
}

static char *
split_rule (const char *text, Rule *rule)
{
  char *err;

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');
      const char *after = close ? close + 1 : NULL;
      g_autofree char *outer_len = NULL;

      if (close == NULL)
        return g_strdup ("missing \"]\" after an IPv6 address");
      if (*after == '/')
        {
          size_t n = strcspn (after + 1, ":");
          outer_len = g_strndup (after + 1, n);
          after += 1 + n;
        }
      if (*after != ':')
        return g_strdup ("missing \":PORTS\" after \"]\" (use \":*\" for every port)");
      if ((err = parse_ports (after + 1, rule)) != NULL)
        return err;
      g_autofree char *inner = g_strndup (text + 1, (size_t) (close - text - 1));
      return parse_v6 (inner, outer_len, rule);
    }
  const char *colon = strrchr (text, ':');
  if (colon == NULL)
    {
      g_autofree char *q = quote (text);
      return g_strdup_printf ("missing \":PORTS\"; write \"%s:PORT\", or \"%s:*\" for every "
                              "port", q, q);
    }
  if (memchr (text, ':', (size_t) (colon - text)) != NULL)
    return unbracketed_v6_error (text);
  if ((err = parse_ports (colon + 1, rule)) != NULL)
    return err;
  g_autofree char *addr = g_strndup (text, (size_t) (colon - text));
  return parse_addr (addr, rule);
}

/* Refuses ranges that could never allow anything; records whether it names link-local. */
/* Refuses ranges that could never allow anything; records whether it names link-local. */
static char *
check_range (Rule *rule)
{
  static const Range v4_ll = { TRUE, { 169, 254 }, 16, NULL };
  PpAddr net;
  guint plen;

  for (size_t i = 0; i < G_N_ELEMENTS (refused_ranges); i++)
    {
      plen = range_net (&refused_ranges[i], &net);
      if (rule->plen >= plen && pp_addr_in_prefix (&rule->net, &net, plen))
        return g_strdup (refused_ranges[i].what);
    }
  plen = range_net (&v4_ll, &net);
  rule->names_ll = rule->plen > 96 && pp_addr_in_prefix (&rule->net, &net, MIN (rule->plen, plen));
  return NULL;
}

static void
append_range (GString *s, const Rule *rule)
{
  char buf[PP_ADDR_STRLEN];
  gboolean v4 = pp_addr_is_v4 (&rule->net) && rule->plen >= 96;
  const uint8_t *o = rule->net.b + 12;

  pp_addr_format (&rule->net, buf);
  switch (rule->style)
    {
    case STYLE_PLAIN:
      g_string_append_printf (s, v4 ? "%s" : "[%s]", buf);
      return;
    case STYLE_CIDR:
      if (v4)
        g_string_append_printf (s, "%s/%u", buf, rule->plen - 96);
      else
        g_string_append_printf (s, "[%s/%u]", buf, rule->plen);
      return;
    case STYLE_STAR:
      for (guint i = 0; i < 4; i++)
        {
          if (i > 0)
            g_string_append_c (s, '.');
          if (96 + 8 * i < rule->plen)
            g_string_append_printf (s, "%u", o[i]);
          else
            g_string_append_c (s, '*');
        }
      return;
    default:
      g_assert_not_reached ();
    }
}

static char *
canonical_text (const Rule *rule)
{
  GString *s = g_string_new (NULL);

  switch (rule->kind)
    {
    case RULE_ANY:
      g_string_append_c (s, '*');
      break;
    case RULE_LOCALHOST:
      g_string_append (s, "localhost");
      break;
    case RULE_NAME:
      g_string_append (s, rule->name);
      break;
    case RULE_SUFFIX:
      g_string_append_printf (s, "*.%s", rule->name);
      break;
    case RULE_RANGE:
      append_range (s, rule);
      break;
    default:
      g_assert_not_reached ();
    }
  if (rule->lo == 1 && rule->hi == 65535)
    g_string_append (s, ":*");
  else if (rule->lo == rule->hi)
    g_string_append_printf (s, ":%u", rule->lo);
  else
    g_string_append_printf (s, ":%u-%u", rule->lo, rule->hi);
  return g_string_free (s, FALSE);
}

static Rule *
rule_parse (const char *text, GError **error)
{
  g_autofree char *stripped = g_strstrip (g_ascii_strdown (text, -1));
  g_autofree char *q = quote (text);
  Rule *rule = g_new0 (Rule, 1);
  char *err = NULL;

  if (strlen (text) > RULE_TEXT_MAX)
    err = g_strdup ("too long");
  else if (*stripped == '\0')
    err = g_strdup ("empty; write ADDR:PORTS, as in \"127.0.0.1:8080\"");
  else if (strpbrk (stripped, " \t\r\n\v\f") != NULL)
    err = g_strdup ("no spaces inside a rule");
  else
    err = split_rule (stripped, rule);
  if (err == NULL && rule->kind == RULE_RANGE)
    err = check_range (rule);
  if (err != NULL)
    {
      g_set_error (error, PP_RULES_ERROR, PP_RULES_ERROR_PARSE, "bad rule \"%s\": %s", q, err);
      g_free (err);
      rule_free (rule);
      return NULL;
    }
  rule->canonical = canonical_text (rule);
  return rule;
}

static gboolean
rule_same (const Rule *a, const Rule *b)
{
  if (a->kind != b->kind || a->lo != b->lo || a->hi != b->hi)
    return FALSE;
  switch (a->kind)
    {
    case RULE_ANY:
    case RULE_LOCALHOST:
      return TRUE;
    case RULE_RANGE:
      return a->plen == b->plen && pp_addr_equal (&a->net, &b->net);
    case RULE_NAME:
    case RULE_SUFFIX:
      return strcmp (a->name, b->name) == 0;
    default:
      g_assert_not_reached ();
    }
}

/* ---- the list --------------------------------------------------------------- */

PpRules *
pp_rules_new (void)
{
  PpRules *r = g_new0 (PpRules, 1);

  r->rules = g_ptr_array_new_with_free_func (rule_free);
  r->next_id = 1;
  return r;
}

void
pp_rules_free (PpRules *r)
{
  if (r == NULL)
    return;
  g_ptr_array_unref (r->rules);
  g_free (r);
}

static gboolean
range_contains_v4 (const Rule *rule, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
  uint8_t v4[4] = { a, b, c, d };
  PpAddr addr;

  pp_addr_from_v4 (v4, &addr);
  return pp_addr_in_prefix (&addr, &rule->net, rule->plen);
}

static char *
rule_warning (const Rule *rule)
{
  gboolean wide = rule->kind == RULE_ANY
                  || (rule->kind == RULE_RANGE && range_contains_v4 (rule, 127, 0, 0, 1)
                      && range_contains_v4 (rule, 192, 168, 0, 1));

  if (wide)
    return g_strdup_printf ("\"%s\": the host's loopback and LAN become reachable by the peer",
                            rule->canonical);
  if (rule->kind == RULE_RANGE && rule->names_ll)
    return g_strdup_printf ("\"%s\" names link-local addresses: 169.254.169.254 is the cloud "
                            "metadata service, which hands out credentials", rule->canonical);
  return NULL;
}

char *
pp_rule_canonicalize (const char *text, GError **error)
{
  Rule *rule;
  char *out;

  g_return_val_if_fail (text != NULL, NULL);
  if ((rule = rule_parse (text, error)) == NULL)
    return NULL;
  out = g_steal_pointer (&rule->canonical);
  rule_free (rule);
  return out;
}

guint
pp_rules_add (PpRules *r, const char *text, char **warning, GError **error)
{
  Rule *rule;

  g_return_val_if_fail (r != NULL && text != NULL, 0);
  if (warning != NULL)
    *warning = NULL;
  if ((rule = rule_parse (text, error)) == NULL)
    return 0;
  for (guint i = 0; i < r->rules->len; i++)
    {
      const Rule *old = g_ptr_array_index (r->rules, i);
      if (rule_same (old, rule))
        {
          g_set_error (error, PP_RULES_ERROR, PP_RULES_ERROR_DUPLICATE,
                       "rule \"%s\" is already #%u (\"%s\")", rule->canonical, old->id,
                       old->canonical);
          rule_free (rule);
          return 0;
        }
    }
  rule->id = r->next_id++;
  if (warning != NULL)
    *warning = rule_warning (rule);
  g_ptr_array_add (r->rules, rule);
  return rule->id;
}

static gint
find_by_id_text (const PpRules *r, const char *what, GError **error)
{
  const char *digits = what + 1;
  size_t n = strlen (digits);
  guint id;

  if (n == 0 || n > 9 || digits[0] == '0' || strspn (digits, "0123456789") != n)
    {
      g_autofree char *q = quote (what);
      g_set_error (error, PP_RULES_ERROR, PP_RULES_ERROR_PARSE,
                   "bad rule id \"%s\": write \"#\" and a number, as in \"#3\"", q);
      return -1;
    }
  id = (guint) g_ascii_strtoull (digits, NULL, 10);
  for (guint i = 0; i < r->rules->len; i++)
    if (((const Rule *) g_ptr_array_index (r->rules, i))->id == id)
      return (gint) i;
  g_set_error (error, PP_RULES_ERROR, PP_RULES_ERROR_NOT_FOUND,
               "no rule #%u (list them with \"rules\")", id);
  return -1;
}

static gint
find_by_rule_text (const PpRules *r, const char *what, GError **error)
{
  Rule *rule = rule_parse (what, error);
  gint found = -1;

  if (rule == NULL)
    return -1;
  for (guint i = 0; i < r->rules->len && found < 0; i++)
    if (rule_same (g_ptr_array_index (r->rules, i), rule))
      found = (gint) i;
  if (found < 0)
    g_set_error (error, PP_RULES_ERROR, PP_RULES_ERROR_NOT_FOUND,
                 "no rule is \"%s\" (list them with \"rules\")", rule->canonical);
  rule_free (rule);
  return found;
}

guint
pp_rules_remove_full (PpRules *r, const char *what, char **canonical, GError **error)
{
  g_autofree char *t = NULL;
  gint i;
  Rule *rule;

  g_return_val_if_fail (r != NULL && what != NULL, 0);
  t = g_strstrip (g_strdup (what));
  if (*t != '\0' && strspn (t, "0123456789") == strlen (t))
    {
      g_autofree char *q = quote (t);
      g_set_error (error, PP_RULES_ERROR, PP_RULES_ERROR_PARSE,
                   "\"%s\" is not a rule; write \"#%s\" to remove rule #%s", q, q, q);
      return 0;
    }
  i = t[0] == '#' ? find_by_id_text (r, t, error) : find_by_rule_text (r, t, error);
  if (i < 0)
    return 0;
  rule = g_ptr_array_steal_index (r->rules, (guint) i);
  guint id = rule->id;
  if (canonical != NULL)
    *canonical = g_steal_pointer (&rule->canonical);
  rule_free (rule);
  return id;
}

guint
pp_rules_remove (PpRules *r, const char *what, GError **error)
{
  return pp_rules_remove_full (r, what, NULL, error);
}

guint
pp_rules_count (const PpRules *r)
{
  return r->rules->len;
}

gboolean
pp_rules_nth (const PpRules *r, guint i, guint *id, const char **canonical)
{
  const Rule *rule;

  if (i >= r->rules->len)
    return FALSE;
  rule = g_ptr_array_index (r->rules, i);
  if (id != NULL)
    *id = rule->id;
  if (canonical != NULL)
    *canonical = rule->canonical;
  return TRUE;
}

/* ---- checking --------------------------------------------------------------- */

static gboolean
is_v4_link_local (const PpAddr *a)
{
  return pp_addr_is_v4 (a) && (pp_addr_classify (a) & PP_ADDR_LINK_LOCAL) != 0;
}

static gboolean
addr_rule_matches (const Rule *rule, const PpAddr *a, gboolean ignore_ll)
{
  gboolean ll = !ignore_ll && is_v4_link_local (a);

  switch (rule->kind)
    {
    case RULE_ANY:
      return !ll;
    case RULE_RANGE:
      return pp_addr_in_prefix (a, &rule->net, rule->plen) && (!ll || rule->names_ll);
    case RULE_LOCALHOST:
      return (pp_addr_classify (a) & PP_ADDR_LOOPBACK) != 0;
    case RULE_NAME:
    case RULE_SUFFIX:
      return FALSE;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
name_rule_matches (const Rule *rule, const char *name)
{
  size_t n = strlen (name), k;

  switch (rule->kind)
    {
    case RULE_NAME:
      return strcmp (rule->name, name) == 0;
    case RULE_SUFFIX:
      k = strlen (rule->name);
      return n > k + 1 && name[n - k - 1] == '.' && strcmp (name + n - k, rule->name) == 0;
    case RULE_ANY:
    case RULE_RANGE:
    case RULE_LOCALHOST:
      return FALSE;
    default:
      g_assert_not_reached ();
    }
}

static gboolean
port_ok (const Rule *rule, uint16_t port)
{
  return port >= rule->lo && port <= rule->hi;
}

static gboolean
any_addr_rule (const PpRules *r, const PpAddr *a, uint16_t port, gboolean ignore_ll)
{
  for (guint i = 0; i < r->rules->len; i++)
    {
      const Rule *rule = g_ptr_array_index (r->rules, i);
      if (port_ok (rule, port) && addr_rule_matches (rule, a, ignore_ll))
        return TRUE;
    }
  return FALSE;
}

static PpRulesVerdict
deny (const char **why, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static PpRulesVerdict
deny (const char **why, const char *fmt, ...)
{
  va_list ap;

  if (why == NULL)
    return PP_RULES_DENY;
  va_start (ap, fmt);
  g_vsnprintf (why_buf, sizeof why_buf, fmt, ap);
  va_end (ap);
  *why = why_buf;
  return PP_RULES_DENY;
}

static const char *
addr_port (const PpAddr *a, uint16_t port, char buf[PP_ADDR_STRLEN + 8])
{
  char ab[PP_ADDR_STRLEN];

  pp_addr_format (a, ab);
  g_snprintf (buf, PP_ADDR_STRLEN + 8, pp_addr_is_v4 (a) ? "%s:%u" : "[%s]:%u", ab, port);
  return buf;
}

/* Never-allowed and zone-less link-local: no rule can change these. */
static gboolean
refused_always (const PpAddr *a, uint16_t port, const char **why)
{
  char buf[PP_ADDR_STRLEN + 8];
  const char *reason;

  if (pp_addr_is_never_allowed (a, &reason))
    return deny (why, "%s: %s", addr_port (a, port, buf), reason), TRUE;
  if (!pp_addr_is_v4 (a) && (pp_addr_classify (a) & PP_ADDR_LINK_LOCAL))
    return deny (why, "%s: link-local IPv6 can't be reached, the wire carries no zone",
                 addr_port (a, port, buf)), TRUE;
  return FALSE;
}

/* 169.254/16 that a wider rule would allow but doesn't name: say how to name it. */
static gboolean
link_local_hint (const PpRules *r, const PpAddr *addr, uint16_t port, const char **why)
{
  char ab[PP_ADDR_STRLEN];

  if (!is_v4_link_local (addr) || !any_addr_rule (r, addr, port, TRUE))
    return FALSE;
  deny (why, "link-local %s needs a rule that names it (\"*\" doesn't cover it; \"%s:%u\" "
        "would)", pp_addr_format (addr, ab), ab, port);
  return TRUE;
}

PpRulesVerdict
pp_rules_check_addr (const PpRules *r, const PpAddr *addr, uint16_t port, const char **why)
{
  char buf[PP_ADDR_STRLEN + 8];

  g_return_val_if_fail (r != NULL && addr != NULL, PP_RULES_DENY);
  if (refused_always (addr, port, why))
    return PP_RULES_DENY;
  if (any_addr_rule (r, addr, port, FALSE))
    return PP_RULES_ALLOW;
  if (link_local_hint (r, addr, port, why))
    return PP_RULES_DENY;
  return deny (why, "no rule allows %s", addr_port (addr, port, buf));
}

static gboolean
any_port_rule (const PpRules *r, uint16_t port)
{
  for (guint i = 0; i < r->rules->len; i++)
    if (port_ok (g_ptr_array_index (r->rules, i), port))
      return TRUE;
  return FALSE;
}

static gboolean
any_name_rule (const PpRules *r, const char *name, uint16_t port)
{
  for (guint i = 0; i < r->rules->len; i++)
    {
      const Rule *rule = g_ptr_array_index (r->rules, i);
      if (port_ok (rule, port) && name_rule_matches (rule, name))
        return TRUE;
    }
  return FALSE;
}

/* Lower-cased, dot-less @name into @out, or a DENY reason. */
static gboolean
valid_name (const char *name, char out[PP_HOSTNAME_MAX + 1], const char **why)
{
  const char *reason = NULL;

  if (!pp_hostname_normalize (name, -1, out, &reason))
    {
      g_autofree char *q = quote (name);
      return deny (why, "\"%s\" is not a valid host name: %s", q, reason), FALSE;
    }
  if (pp_hostname_is_numeric (out))
    {
      g_autofree char *q = quote (name);
      return deny (why, "\"%s\" looks like a number, not a name; refused", q), FALSE;
    }
  return TRUE;
}

PpRulesVerdict
pp_rules_check_name (const PpRules *r, const char *name, uint16_t port, const char **why)
{
  char norm[PP_HOSTNAME_MAX + 1];

  g_return_val_if_fail (r != NULL && name != NULL, PP_RULES_DENY);
  if (!any_port_rule (r, port))
    return deny (why, "no rule allows port %u", port);
  if (!valid_name (name, norm, why))
    return PP_RULES_DENY;
  if (any_name_rule (r, norm, port))
    return PP_RULES_ALLOW;
  for (guint i = 0; i < r->rules->len; i++)
    {
      const Rule *rule = g_ptr_array_index (r->rules, i);
      if (port_ok (rule, port) && rule->kind != RULE_NAME && rule->kind != RULE_SUFFIX)
        return PP_RULES_ALLOW;
    }
  return deny (why, "no rule allows %s:%u", norm, port);
}

static const char *
sensitive_kind (const PpAddr *a, gboolean is_own)
{
  PpAddrFlags f = pp_addr_classify (a);

  if (f & PP_ADDR_LOOPBACK)
    return "a loopback address";
  if (f & PP_ADDR_LINK_LOCAL)
    return "a link-local address";
  if (f & PP_ADDR_PRIVATE)
    return "a private address";
  if (is_own)
    return "one of the host's own addresses";
  return NULL;
}

PpRulesVerdict
pp_rules_check_resolved (const PpRules *r, const char *name, const PpAddr *addr, uint16_t port,
                         gboolean is_own, const char **why)
{
  char norm[PP_HOSTNAME_MAX + 1], buf[PP_ADDR_STRLEN + 8];
  const char *kind;

  g_return_val_if_fail (r != NULL && name != NULL && addr != NULL, PP_RULES_DENY);
  if (refused_always (addr, port, why))
    return PP_RULES_DENY;
  if (any_addr_rule (r, addr, port, FALSE))
    return PP_RULES_ALLOW;
  if (!valid_name (name, norm, why))
    return PP_RULES_DENY;
  if (!any_name_rule (r, norm, port) && link_local_hint (r, addr, port, why))
    return PP_RULES_DENY;
  if (!any_name_rule (r, norm, port))
    return deny (why, "no rule allows %s (%s)", addr_port (addr, port, buf), norm);
  if ((kind = sensitive_kind (addr, is_own)) != NULL)
    return deny (why, "%s resolves to %s, %s: only an address rule can allow it (no DNS "
                 "rebinding)", norm, addr_port (addr, port, buf), kind);
  return PP_RULES_ALLOW;
}
