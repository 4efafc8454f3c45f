/* SPDX-License-Identifier: MIT
 *
 * pp-mappings: parses both mapping forms into one PpMapping, prints the canonical
 * seed form, and keeps the client's list with stable ids.  `=` in the text marks
 * the seed's form; otherwise it is ssh's colon form, where brackets tell IPv6
 * apart.  It must not bind, resolve or decide policy for the host (only targets
 * no host would ever allow are refused early).
 */
#include "pp-mappings.h"

#include <string.h>

#define MAPPING_TEXT_MAX 1024
#define QUOTE_MAX 120
#define FORMS "write \"[LISTEN:]PORT => TARGET:PORT\" or \"[bind:]port:host:hostport\""

G_DEFINE_QUARK (pp-mappings-error-quark, pp_mappings_error)

struct _PpMappings
{
  GPtrArray *maps; /* PpMapping *, in order */
  guint next_id;
};

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

static char *
parse_port (const char *s, gboolean zero_ok, const char *which, uint16_t *out)
{
  size_t n = strlen (s);
  guint v = 0;
  g_autofree char *q = quote (s);

  if (n == 0)
    return g_strdup_printf ("missing %s port", which);
  if (strspn (s, "0123456789") != n)
    return g_strdup_printf ("%s port \"%s\" is not a number", which, q);
  if (n > 1 && s[0] == '0')
    return g_strdup_printf ("%s port \"%s\" has a leading zero", which, q);
  if (n <= 5)
    v = (guint) g_ascii_strtoull (s, NULL, 10);
  if (n > 5 || v > 65535 || (v == 0 && !zero_ok))
    return g_strdup_printf ("%s port %s is out of range (%s-65535)", which, q,
                            zero_ok ? "0" : "1");
  *out = (uint16_t) v;
  return NULL;
}

/* "[x]" → "x" with @bracketed; refuses zones and a missing "]". */
static char *
unbracket (const char *s, char **inner, gboolean *bracketed)
{
  size_t n = strlen (s);

  *bracketed = s[0] == '[';
  if (!*bracketed)
    {
      *inner = g_strdup (s);
      return NULL;
    }
  if (n < 2 || s[n - 1] != ']' || memchr (s + 1, ']', n - 2) != NULL)
    return g_strdup ("an IPv6 address in brackets is \"[ADDR]\"");
  if (memchr (s, '%', n) != NULL)
    return g_strdup ("zones (%eth0) aren't supported: link-local IPv6 can't be reached "
                     "through peerport");
  *inner = g_strndup (s + 1, n - 2);
  return NULL;
}

static char *
check_listen_addr (const PpAddr *a, const char *text)
{
  PpAddrFlags f = pp_addr_classify (a);
  g_autofree char *q = quote (text);
  static const uint8_t zero4[4];
  PpAddr any4, any6 = { { 0 } };

  pp_addr_from_v4 (zero4, &any4);
  if (pp_addr_equal (a, &any4) || pp_addr_equal (a, &any6))
    return NULL;
  if (f & (PP_ADDR_MULTICAST | PP_ADDR_BROADCAST | PP_ADDR_UNSPECIFIED))
    return g_strdup_printf ("can't listen on %s", q);
  if (!pp_addr_is_v4 (a) && (f & PP_ADDR_LINK_LOCAL))
    return g_strdup_printf ("can't listen on link-local %s without a zone", q);
  return NULL;
}

static char *
parse_listen (const char *s, PpMapping *m)
{
  g_autofree char *inner = NULL;
  gboolean br;
  char *err;
  PpAddr a;

  if (*s == '\0')
    return g_strdup ("empty listen address (leave it out for 127.0.0.1)");
  if (strcmp (s, "*") == 0 || strcmp (s, "localhost") == 0 || strcmp (s, "localhost.") == 0)
    {
      gboolean star = s[0] == '*';
      m->listen_host = g_strdup (star ? "*" : "localhost");
      pp_addr_parse (star ? "0.0.0.0" : "127.0.0.1", &m->listen_addrs[0]);
      pp_addr_parse (star ? "::" : "::1", &m->listen_addrs[1]);
      m->n_listen_addrs = 2;
      return NULL;
    }
  if ((err = unbracket (s, &inner, &br)) != NULL)
    return err;
  if (!pp_addr_parse (inner, &a) || (!br && !pp_addr_is_v4 (&a)))
    {
      g_autofree char *q = quote (s);
      return g_strdup_printf ("listen address \"%s\" must be an IP address, \"localhost\" or "
                              "\"*\"", q);
    }
  if ((err = check_listen_addr (&a, inner)) != NULL)
    return err;
  m->listen_addrs[0] = a;
  m->n_listen_addrs = 1;
  m->listen_host = pp_addr_to_string (&a);
  return NULL;
}

static char *
parse_target (const char *s, PpMapping *m)
{
  g_autofree char *inner = NULL;
  char name[PP_HOSTNAME_MAX + 1];
  const char *why = NULL;
  gboolean br;
  char *err;

  if (*s == '\0')
    return g_strdup ("missing target host");
  if ((err = unbracket (s, &inner, &br)) != NULL)
    return err;
  g_autofree char *q = quote (inner);
  if (pp_addr_parse (inner, &m->target_addr))
    {
      if (pp_addr_is_never_allowed (&m->target_addr, &why))
        return g_strdup_printf ("target %s: %s", q, why);
      if (pp_addr_classify (&m->target_addr) & PP_ADDR_LINK_LOCAL
          && !pp_addr_is_v4 (&m->target_addr))
        return g_strdup_printf ("target %s: link-local IPv6 can't be reached, the wire "
                                "carries no zone", q);
      m->target_host = pp_addr_to_string (&m->target_addr);
      return NULL;
    }
  if (br)
    return g_strdup_printf ("\"%s\" is not an IPv6 address", q);
  if (strcmp (inner, "*") == 0)
    return g_strdup ("the target must be an address or a name, not \"*\"");
  if (!pp_hostname_normalize (inner, -1, name, &why))
    return g_strdup_printf ("target \"%s\": %s", q, why);
  if (pp_hostname_is_numeric (name))
    return g_strdup_printf ("target \"%s\" looks like a number; write the address in full "
                            "(\"127.0.0.1\")", q);
  m->target_is_name = TRUE;
  m->target_host = g_strdup (name);
  return NULL;
}

/* "::1:5173": say where the brackets go. */
static char *
ambiguous_v6 (const char *s)
{
  const char *colon = strrchr (s, ':');
  g_autofree char *head = g_strndup (s, (size_t) (colon - s));
  g_autofree char *qs = quote (s), *qh = quote (head), *qp = quote (colon + 1);
  PpAddr a;

  if (pp_addr_parse (head, &a))
    return g_strdup_printf ("\"%s\" is ambiguous, write \"[%s]:%s\"", qs, qh, qp);
  return g_strdup_printf ("\"%s\" is ambiguous: an IPv6 address needs brackets, as in "
                          "\"[::1]:5173\"", qs);
}

/* Splits "HOST:PORT" or "[V6]:PORT"; @host_optional allows a bare "PORT". */
static char *
split_host_port (const char *s, gboolean host_optional, char **host, char **port)
{
  const char *colon;

  if (s[0] == '[')
    {
      const char *close = strchr (s, ']');
      if (close == NULL)
        return g_strdup ("missing \"]\" after an IPv6 address");
      if (close[1] != ':')
        return g_strdup ("missing \":PORT\" after \"]\"");
      colon = close + 1;
    }
  else
    {
      colon = strrchr (s, ':');
      if (colon != NULL && memchr (s, ':', (size_t) (colon - s)) != NULL)
        return ambiguous_v6 (s);
    }
  if (colon == NULL && !host_optional)
    {
      g_autofree char *q = quote (s);
      return g_strdup_printf ("missing \":PORT\" after the target \"%s\"", q);
    }
  *host = colon ? g_strndup (s, (size_t) (colon - s)) : NULL;
  *port = g_strdup (colon ? colon + 1 : s);
  return NULL;
}

static char *
fill (PpMapping *m, const char *listen, const char *lport, const char *target,
      const char *tport)
{
  char *err;

  if ((err = parse_port (lport, TRUE, "listen", &m->listen_port)) != NULL
      || (err = parse_port (tport, FALSE, "target", &m->target_port)) != NULL
      || (err = parse_listen (listen ? listen : "127.0.0.1", m)) != NULL)
    return err;
  return parse_target (target, m);
}

static char *
parse_seed_form (const char *text, PpMapping *m)
{
  const char *eq = strchr (text, '=');
  size_t sep = eq[1] == '>' ? 2 : 1;
  g_autofree char *left = g_strstrip (g_strndup (text, (size_t) (eq - text)));
  g_autofree char *right = g_strstrip (g_strdup (eq + sep));
  g_autofree char *lhost = NULL, *lport = NULL, *thost = NULL, *tport = NULL;
  char *err;

  if (strchr (right, '=') != NULL)
    return g_strdup ("more than one \"=>\"");
  if (*left == '\0')
    return g_strdup ("missing listen port before \"=>\"");
  if (*right == '\0')
    return g_strdup ("missing target after \"=>\"");
  if (strpbrk (left, " \t") != NULL || strpbrk (right, " \t") != NULL)
    return g_strdup ("spaces are only allowed around \"=>\"");
  if ((err = split_host_port (left, TRUE, &lhost, &lport)) != NULL
      || (err = split_host_port (right, FALSE, &thost, &tport)) != NULL)
    return err;
  return fill (m, lhost, lport, thost, tport);
}

/* Splits on ':' outside brackets. */
static GPtrArray *
split_colons (const char *s)
{
  GPtrArray *tokens = g_ptr_array_new_with_free_func (g_free);
  const char *start = s;
  int depth = 0;

  for (const char *p = s;; p++)
    {
      if (*p == '[')
        depth++;
      else if (*p == ']' && depth > 0)
        depth--;
      else if ((*p == ':' && depth == 0) || *p == '\0')
        {
          g_ptr_array_add (tokens, g_strndup (start, (size_t) (p - start)));
          start = p + 1;
        }
      if (*p == '\0')
        return tokens;
    }
}

static char *
ssh_form_error (const char *text, GPtrArray *t)
{
  g_autofree char *q = quote (text);

  if (t->len > 4)
    {
      g_autofree char *mid = NULL;
      PpAddr a;
      /* port:V6:hostport with the V6 unbracketed. */
      g_ptr_array_add (t, NULL);
      mid = g_strjoinv (":", (char **) t->pdata + 1);
      g_ptr_array_remove_index (t, t->len - 1);
      char *last = strrchr (mid, ':');
      if (last != NULL)
        *last = '\0';
      if (last != NULL && pp_addr_parse (mid, &a))
        {
          g_autofree char *qm = quote (mid);
          g_autofree char *qf = quote (t->pdata[0]), *ql = quote (t->pdata[t->len - 1]);
          return g_strdup_printf ("\"%s\" is ambiguous, write \"%s:[%s]:%s\"", q, qf, qm, ql);
        }
      return g_strdup_printf ("\"%s\" is ambiguous: an IPv6 address needs brackets, as in "
                              "\"8080:[::1]:80\"", q);
    }
  return g_strdup_printf ("\"%s\" is not a mapping; " FORMS, q);
}

static char *
parse_ssh_form (const char *text, PpMapping *m)
{
  g_autoptr (GPtrArray) t = split_colons (text);
  char **p = (char **) t->pdata;

  if (strpbrk (text, " \t") != NULL)
    return g_strdup ("no spaces in the colon form (the \"=>\" form allows them)");
  if (t->len == 3)
    return fill (m, NULL, p[0], p[1], p[2]);
  if (t->len == 4)
    return fill (m, p[0], p[1], p[2], p[3]);
  return ssh_form_error (text, t);
}

gboolean
pp_mapping_parse (const char *text, PpMapping *out, GError **error)
{
  g_autofree char *t = NULL;
  g_autofree char *q = NULL;
  char *err;

  g_return_val_if_fail (text != NULL && out != NULL, FALSE);
  memset (out, 0, sizeof *out);
  q = quote (text);
  t = g_strstrip (g_ascii_strdown (text, -1));
  if (strlen (text) > MAPPING_TEXT_MAX)
    err = g_strdup ("too long");
  else if (*t == '\0')
    err = g_strdup ("empty; " FORMS);
  else
    err = strchr (t, '=') ? parse_seed_form (t, out) : parse_ssh_form (t, out);
  if (err == NULL)
    return TRUE;
  g_set_error (error, PP_MAPPINGS_ERROR, PP_MAPPINGS_ERROR_PARSE, "bad mapping \"%s\": %s", q,
               err);
  g_free (err);
  pp_mapping_clear (out);
  return FALSE;
}

void
pp_mapping_clear (PpMapping *m)
{
  g_free (m->listen_host);
  g_free (m->target_host);
  memset (m, 0, sizeof *m);
}

void
pp_mapping_copy (const PpMapping *src, PpMapping *dst)
{
  *dst = *src;
  dst->listen_host = g_strdup (src->listen_host);
  dst->target_host = g_strdup (src->target_host);
}

char *
pp_mapping_to_string (const PpMapping *m)
{
  gboolean lv6 = strchr (m->listen_host, ':') != NULL;
  gboolean tv6 = !m->target_is_name && strchr (m->target_host, ':') != NULL;

  return g_strdup_printf ("%s%s%s:%u => %s%s%s:%u", lv6 ? "[" : "", m->listen_host,
                          lv6 ? "]" : "", m->listen_port, tv6 ? "[" : "", m->target_host,
                          tv6 ? "]" : "", m->target_port);
}

gboolean
pp_mapping_needs_privilege (const PpMapping *m)
{
  return m->listen_port > 0 && m->listen_port < 1024;
}

/* ---- the list --------------------------------------------------------------- */

static void
mapping_free (gpointer p)
{
  pp_mapping_clear (p);
  g_free (p);
}

PpMappings *
pp_mappings_new (void)
{
  PpMappings *ms = g_new0 (PpMappings, 1);

  ms->maps = g_ptr_array_new_with_free_func (mapping_free);
  ms->next_id = 1;
  return ms;
}

void
pp_mappings_free (PpMappings *ms)
{
  if (ms == NULL)
    return;
  g_ptr_array_unref (ms->maps);
  g_free (ms);
}

static gboolean
listens_overlap (const PpMapping *a, const PpMapping *b)
{
  if (a->listen_port == 0 || a->listen_port != b->listen_port)
    return FALSE;
  for (guint i = 0; i < a->n_listen_addrs; i++)
    for (guint j = 0; j < b->n_listen_addrs; j++)
      if (pp_addr_equal (&a->listen_addrs[i], &b->listen_addrs[j]))
        return TRUE;
  return FALSE;
}

guint
pp_mappings_take (PpMappings *ms, PpMapping *m, GError **error)
{
  PpMapping *copy;

  g_return_val_if_fail (ms != NULL && m != NULL && m->listen_host != NULL, 0);
  for (guint i = 0; i < ms->maps->len; i++)
    {
      const PpMapping *old = g_ptr_array_index (ms->maps, i);
      if (listens_overlap (old, m))
        {
          g_autofree char *s = pp_mapping_to_string (old);
          g_set_error (error, PP_MAPPINGS_ERROR, PP_MAPPINGS_ERROR_DUPLICATE,
                       "port %u on %s is already mapped by #%u (\"%s\")", m->listen_port,
                       m->listen_host, old->id, s);
          return 0;
        }
    }
  copy = g_new (PpMapping, 1);
  *copy = *m;
  memset (m, 0, sizeof *m);
  copy->id = ms->next_id++;
  g_ptr_array_add (ms->maps, copy);
  return copy->id;
}

guint
pp_mappings_add (PpMappings *ms, const char *text, GError **error)
{
  PpMapping m;
  guint id;

  g_return_val_if_fail (ms != NULL && text != NULL, 0);
  if (!pp_mapping_parse (text, &m, error))
    return 0;
  id = pp_mappings_take (ms, &m, error);
  pp_mapping_clear (&m);
  return id;
}

static gint
index_of_id (const PpMappings *ms, guint id)
{
  for (guint i = 0; i < ms->maps->len; i++)
    if (((const PpMapping *) g_ptr_array_index (ms->maps, i))->id == id)
      return (gint) i;
  return -1;
}

static gint
find_by_id_text (const PpMappings *ms, const char *what, GError **error)
{
  const char *digits = what + 1;
  size_t n = strlen (digits);
  guint id;
  gint i;

  if (n == 0 || n > 9 || digits[0] == '0' || strspn (digits, "0123456789") != n)
    {
      g_autofree char *q = quote (what);
      g_set_error (error, PP_MAPPINGS_ERROR, PP_MAPPINGS_ERROR_PARSE,
                   "bad mapping id \"%s\": write \"#\" and a number, as in \"#2\"", q);
      return -1;
    }
  id = (guint) g_ascii_strtoull (digits, NULL, 10);
  if ((i = index_of_id (ms, id)) < 0)
    g_set_error (error, PP_MAPPINGS_ERROR, PP_MAPPINGS_ERROR_NOT_FOUND,
                 "no mapping #%u (list them with \"maps\")", id);
  return i;
}

static gint
find_by_text (const PpMappings *ms, const char *what, GError **error)
{
  PpMapping m;
  g_autofree char *want = NULL;
  gint found = -1;

  if (!pp_mapping_parse (what, &m, error))
    return -1;
  want = pp_mapping_to_string (&m);
  pp_mapping_clear (&m);
  for (guint i = 0; i < ms->maps->len && found < 0; i++)
    {
      g_autofree char *have = pp_mapping_to_string (g_ptr_array_index (ms->maps, i));
      if (strcmp (have, want) == 0)
        found = (gint) i;
    }
  if (found < 0)
    g_set_error (error, PP_MAPPINGS_ERROR, PP_MAPPINGS_ERROR_NOT_FOUND,
                 "no mapping is \"%s\" (list them with \"maps\")", want);
  return found;
}

guint
pp_mappings_remove (PpMappings *ms, const char *what, GError **error)
{
  g_autofree char *t = NULL;
  PpMapping *m;
  guint id;
  gint i;

  g_return_val_if_fail (ms != NULL && what != NULL, 0);
  t = g_strstrip (g_strdup (what));
  i = t[0] == '#' ? find_by_id_text (ms, t, error) : find_by_text (ms, t, error);
  if (i < 0)
    return 0;
  m = g_ptr_array_index (ms->maps, (guint) i);
  id = m->id;
  g_ptr_array_remove_index (ms->maps, (guint) i);
  return id;
}

guint
pp_mappings_count (const PpMappings *ms)
{
  return ms->maps->len;
}

const PpMapping *
pp_mappings_nth (const PpMappings *ms, guint i)
{
  return i < ms->maps->len ? g_ptr_array_index (ms->maps, i) : NULL;
}

const PpMapping *
pp_mappings_lookup (const PpMappings *ms, guint id)
{
  gint i = index_of_id (ms, id);

  return i < 0 ? NULL : g_ptr_array_index (ms->maps, (guint) i);
}

gboolean
pp_mappings_set_listen_port (PpMappings *ms, guint id, uint16_t port)
{
  gint i = index_of_id (ms, id);

  if (i < 0)
    return FALSE;
  ((PpMapping *) g_ptr_array_index (ms->maps, (guint) i))->listen_port = port;
  return TRUE;
}
