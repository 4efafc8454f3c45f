/* SPDX-License-Identifier: MIT
 *
 * Unit tests for pp-mappings: both forms (seed "=>" and ssh colons) to one
 * canonical text, the fields each fills, the errors a person can act on, and the
 * list's stable ids, duplicates and removal.  Pure: nothing binds or resolves.
 */
#include <string.h>

#include <glib.h>

#include "core/pp-mappings.h"

static void
assert_contains (const char *text, const char *part)
{
  if (strstr (text, part) == NULL)
    g_test_message ("\"%s\" lacks \"%s\"", text, part);
  g_assert_nonnull (strstr (text, part));
}

typedef struct
{
  const char *in;
  const char *out; /* canonical, or NULL */
  const char *error; /* substring when @out is NULL */
} ParseCase;

static const ParseCase parse_cases[] = {
  /* The seed's form. */
  { "25565 => 127.0.0.1:25565", "127.0.0.1:25565 => 127.0.0.1:25565" },
  { "localhost:8080 = example.com:80", "localhost:8080 => example.com:80" },
  { "0.0.0.0:443=>127.0.0.1:8443", "0.0.0.0:443 => 127.0.0.1:8443" },
  { "8080=>example.com:80", "127.0.0.1:8080 => example.com:80" },
  { "  8080   =>   Example.COM.:80  ", "127.0.0.1:8080 => example.com:80" },
  { "8080\t=\tx.test:80", "127.0.0.1:8080 => x.test:80" },
  { "[::1]:5173 => [::1]:5173", "[::1]:5173 => [::1]:5173" },
  { "[::]:80 => [2001:DB8::1]:80", "[::]:80 => [2001:db8::1]:80" },
  { "*:2222 => 10.0.0.5:22", "*:2222 => 10.0.0.5:22" },
  { "0 => 127.0.0.1:80", "127.0.0.1:0 => 127.0.0.1:80" },
  { "80 => localhost:80", "127.0.0.1:80 => localhost:80" },
  { "[::ffff:127.0.0.1]:80 => [::ffff:10.0.0.1]:80", "127.0.0.1:80 => 10.0.0.1:80" },
  { "65535 => a:65535", "127.0.0.1:65535 => a:65535" },
  { "192.168.1.2:8080 => 169.254.169.254:80", "192.168.1.2:8080 => 169.254.169.254:80" },
  /* ssh's form. */
  { "8080:localhost:80", "127.0.0.1:8080 => localhost:80" },
  { "[::1]:8080:[::1]:80", "[::1]:8080 => [::1]:80" },
  { "*:2222:10.0.0.5:22", "*:2222 => 10.0.0.5:22" },
  { "localhost:8080:example.com:443", "localhost:8080 => example.com:443" },
  { "0.0.0.0:80:[fd00::1]:8080", "0.0.0.0:80 => [fd00::1]:8080" },
  { "0:db.internal:5432", "127.0.0.1:0 => db.internal:5432" },
  { " 8080:x.test:80 ", "127.0.0.1:8080 => x.test:80" },
  /* Errors. */
  { "", NULL, "bad mapping \"\": empty" },
  { "   ", NULL, "empty" },
  { "8080 => ::1:5173", NULL, "\"::1:5173\" is ambiguous, write \"[::1]:5173\"" },
  { "::1:8080 => x.test:80", NULL, "\"::1:8080\" is ambiguous, write \"[::1]:8080\"" },
  { "8080 => fd00::/8:1", NULL, "an IPv6 address needs brackets" },
  { "8080:::1:80", NULL, "\"8080:::1:80\" is ambiguous, write \"8080:[::1]:80\"" },
  { "8080:fe80::1:2::80", NULL, "an IPv6 address needs brackets" },
  { "8080", NULL, "is not a mapping" },
  { "8080:80", NULL, "is not a mapping; write" },
  { "a:b:c:d:e", NULL, "ambiguous" },
  { "8080 =>", NULL, "missing target after \"=>\"" },
  { "=> x:80", NULL, "missing listen port" },
  { "8080 => x.test", NULL, "missing \":PORT\" after the target \"x.test\"" },
  { "8080 => x.test:", NULL, "missing target port" },
  { "8080 => :80", NULL, "missing target host" },
  { "8080 => x.test:0", NULL, "target port 0 is out of range (1-65535)" },
  { "8080 => x.test:65536", NULL, "target port 65536 is out of range" },
  { "65536 => x.test:80", NULL, "listen port 65536 is out of range (0-65535)" },
  { "+80 => x.test:80", NULL, "listen port \"+80\" is not a number" },
  { "080 => x.test:80", NULL, "listen port \"080\" has a leading zero" },
  { "8080 => x.test:8 0", NULL, "spaces are only allowed around \"=>\"" },
  { "8080 => x.test:http", NULL, "target port \"http\" is not a number" },
  { "8080 => a => b:1", NULL, "more than one \"=>\"" },
  { "8080 == x:1", NULL, "more than one" },
  { "8080 x.test 80", NULL, "no spaces in the colon form" },
  { "foo:8080 => x.test:80", NULL,
    "listen address \"foo\" must be an IP address, \"localhost\" or \"*\"" },
  { ":8080:x.test:80", NULL, "empty listen address" },
  { "::1:8080:x.test:80", NULL, "ambiguous" },
  { "[::1:8080 => x.test:80", NULL, "missing \"]\"" },
  { "[::1]8080 => x.test:80", NULL, "missing \":PORT\" after \"]\"" },
  { "[foo]:80 => x.test:80", NULL, "must be an IP address" },
  { "[fe80::1%eth0]:80 => x.test:80", NULL, "zones (%eth0) aren't supported" },
  { "[fe80::1]:80 => x.test:80", NULL, "can't listen on link-local fe80::1" },
  { "224.0.0.1:80 => x.test:80", NULL, "can't listen on 224.0.0.1" },
  { "255.255.255.255:80 => x.test:80", NULL, "can't listen on" },
  { "0.0.0.1:80 => x.test:80", NULL, "can't listen on" },
  { "8080 => 0.0.0.0:80", NULL, "target 0.0.0.0: 0.0.0.0/8 is never allowed" },
  { "8080 => [::]:80", NULL, ":: is never allowed" },
  { "8080 => 239.1.1.1:80", NULL, "multicast" },
  { "8080 => [fe80::1]:80", NULL, "target fe80::1: link-local IPv6 can't be reached" },
  { "8080 => [gggg::1]:80", NULL, "\"gggg::1\" is not an IPv6 address" },
  { "8080 => [example.com]:80", NULL, "is not an IPv6 address" },
  { "8080 => *:80", NULL, "not \"*\"" },
  { "8080 => 127.1:80", NULL, "target \"127.1\" looks like a number" },
  { "8080 => 2130706433:80", NULL, "looks like a number" },
  { "8080 => ex_ample.com:80", NULL, "target \"ex_ample.com\": only letters" },
  { "8080 => a..b:80", NULL, "empty label" },
  { "8080 => 10.0.0.256:80", NULL, "looks like a number" },
};

static void
test_parse (gconstpointer data)
{
  const ParseCase *c = data;
  g_autoptr (GError) error = NULL;
  PpMapping m, again;

  if (c->out == NULL)
    {
      g_assert_false (pp_mapping_parse (c->in, &m, &error));
      g_assert_error (error, PP_MAPPINGS_ERROR, PP_MAPPINGS_ERROR_PARSE);
      g_assert_true (g_str_has_prefix (error->message, "bad mapping \""));
      assert_contains (error->message, c->error);
      g_assert_null (m.listen_host);
      g_assert_null (m.target_host);
      return;
    }
  g_assert_true (pp_mapping_parse (c->in, &m, &error));
  g_assert_no_error (error);
  g_autofree char *s = pp_mapping_to_string (&m);
  g_assert_cmpstr (s, ==, c->out);
  /* The canonical form parses back to the same mapping. */
  g_assert_true (pp_mapping_parse (s, &again, &error));
  g_autofree char *s2 = pp_mapping_to_string (&again);
  g_assert_cmpstr (s2, ==, s);
  g_assert_cmpint (again.target_is_name, ==, m.target_is_name);
  g_assert_cmpuint (again.n_listen_addrs, ==, m.n_listen_addrs);
  g_assert_cmpmem (again.listen_addrs, sizeof again.listen_addrs, m.listen_addrs,
                   sizeof m.listen_addrs);
  pp_mapping_clear (&again);
  pp_mapping_clear (&m);
  g_assert_null (m.listen_host);
}

typedef struct
{
  const char *in;
  const char *listen_host;
  const char *listen0, *listen1; /* NULL when absent */
  uint16_t listen_port;
  const char *target_host;
  gboolean target_is_name;
  uint16_t target_port;
  gboolean privileged;
} FieldCase;

static const FieldCase field_cases[] = {
  { "25565 => 127.0.0.1:25565", "127.0.0.1", "127.0.0.1", NULL, 25565, "127.0.0.1", FALSE,
    25565, FALSE },
  { "localhost:8080 = example.com:80", "localhost", "127.0.0.1", "::1", 8080, "example.com",
    TRUE, 80, FALSE },
  { "*:443:db:5432", "*", "0.0.0.0", "::", 443, "db", TRUE, 5432, TRUE },
  { "0.0.0.0:1023 => [::1]:80", "0.0.0.0", "0.0.0.0", NULL, 1023, "::1", FALSE, 80, TRUE },
  { "[::]:1024 => 10.0.0.1:80", "::", "::", NULL, 1024, "10.0.0.1", FALSE, 80, FALSE },
  { "0 => localhost:1", "127.0.0.1", "127.0.0.1", NULL, 0, "localhost", TRUE, 1, FALSE },
};

static void
assert_addr (const PpAddr *a, const char *want)
{
  g_autofree char *s = pp_addr_to_string (a);
  g_assert_cmpstr (s, ==, want);
}

static void
test_fields (gconstpointer data)
{
  const FieldCase *c = data;
  g_autoptr (GError) error = NULL;
  PpMapping m;

  g_assert_true (pp_mapping_parse (c->in, &m, &error));
  g_assert_cmpuint (m.id, ==, 0);
  g_assert_cmpstr (m.listen_host, ==, c->listen_host);
  g_assert_cmpuint (m.n_listen_addrs, ==, c->listen1 ? 2 : 1);
  assert_addr (&m.listen_addrs[0], c->listen0);
  if (c->listen1 != NULL)
    assert_addr (&m.listen_addrs[1], c->listen1);
  g_assert_cmpuint (m.listen_port, ==, c->listen_port);
  g_assert_cmpstr (m.target_host, ==, c->target_host);
  g_assert_cmpint (m.target_is_name, ==, c->target_is_name);
  if (!c->target_is_name)
    assert_addr (&m.target_addr, c->target_host);
  g_assert_cmpuint (m.target_port, ==, c->target_port);
  g_assert_cmpint (pp_mapping_needs_privilege (&m), ==, c->privileged);

  PpMapping copy;
  pp_mapping_copy (&m, &copy);
  pp_mapping_clear (&m);
  g_assert_cmpstr (copy.listen_host, ==, c->listen_host);
  pp_mapping_clear (&copy);
}

static void
test_odd_bytes (void)
{
  static const char *const bad[] = { "80 => \x1b[2J:80", "80 => a\xff:80", "80\n=> a:80x",
                                     "80 => a\x01:80" };
  g_autoptr (GError) error = NULL;
  PpMapping m;

  for (size_t i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (pp_mapping_parse (bad[i], &m, &error));
      for (const char *p = error->message; *p; p++)
        g_assert_true (*p >= 0x20 && *p < 0x7f);
      g_clear_error (&error);
    }
  g_autofree char *huge = g_strnfill (2000, '1');
  g_assert_false (pp_mapping_parse (huge, &m, &error));
  assert_contains (error->message, "too long");
}

static void
assert_listing (const PpMappings *ms, const char *want)
{
  GString *s = g_string_new (NULL);
  const PpMapping *m;

  for (guint i = 0; (m = pp_mappings_nth (ms, i)) != NULL; i++)
    {
      g_autofree char *t = pp_mapping_to_string (m);
      g_string_append_printf (s, "%s#%u %s", i ? "; " : "", m->id, t);
    }
  g_assert_cmpstr (s->str, ==, want);
  g_string_free (s, TRUE);
}

static void
test_list (void)
{
  g_autoptr (PpMappings) ms = pp_mappings_new ();
  g_autoptr (GError) error = NULL;
  PpMapping m;

  g_assert_cmpuint (pp_mappings_add (ms, "8080 => example.com:80", &error), ==, 1);
  g_assert_cmpuint (pp_mappings_add (ms, "2222:10.0.0.5:22", &error), ==, 2);
  g_assert_cmpuint (pp_mappings_add (ms, "0 => x.test:1", &error), ==, 3);
  g_assert_cmpuint (pp_mappings_add (ms, "0 => x.test:1", &error), ==, 4);
  g_assert_no_error (error);
  g_assert_cmpuint (pp_mappings_count (ms), ==, 4);
  assert_listing (ms, "#1 127.0.0.1:8080 => example.com:80; #2 127.0.0.1:2222 => 10.0.0.5:22; "
                      "#3 127.0.0.1:0 => x.test:1; #4 127.0.0.1:0 => x.test:1");
  g_assert_true (pp_mappings_set_listen_port (ms, 3, 40001));
  g_assert_false (pp_mappings_set_listen_port (ms, 99, 1));
  g_assert_cmpuint (pp_mappings_lookup (ms, 3)->listen_port, ==, 40001);
  g_assert_null (pp_mappings_lookup (ms, 99));

  /* Same listen address and port: refused, the list unchanged. */
  g_assert_cmpuint (pp_mappings_add (ms, "localhost:8080 => other:80", &error), ==, 0);
  g_assert_error (error, PP_MAPPINGS_ERROR, PP_MAPPINGS_ERROR_DUPLICATE);
  assert_contains (error->message, "port 8080 on localhost is already mapped by #1");
  g_clear_error (&error);
  /* Another address on the same port is the listener's business. */
  g_assert_cmpuint (pp_mappings_add (ms, "[::1]:8080 => other:80", &error), ==, 5);

  /* Remove by id, by either form of the text; ids are never reused. */
  g_assert_cmpuint (pp_mappings_remove (ms, "#2", &error), ==, 2);
  g_assert_cmpuint (pp_mappings_remove (ms, "127.0.0.1:8080:EXAMPLE.com.:80", &error), ==, 1);
  g_assert_cmpuint (pp_mappings_remove (ms, " [::1]:8080 = other:80 ", &error), ==, 5);
  g_assert_no_error (error);
  assert_listing (ms, "#3 127.0.0.1:40001 => x.test:1; #4 127.0.0.1:0 => x.test:1");
  g_assert_cmpuint (pp_mappings_add (ms, "2222:10.0.0.5:22", &error), ==, 6);

  /* take() moves the contents in and leaves @m empty. */
  g_assert_true (pp_mapping_parse ("9000 => y.test:9", &m, &error));
  g_assert_cmpuint (pp_mappings_take (ms, &m, &error), ==, 7);
  g_assert_null (m.listen_host);
  g_assert_cmpstr (pp_mappings_lookup (ms, 7)->target_host, ==, "y.test");
  g_assert_nonnull (pp_mappings_nth (ms, 3));
  g_assert_null (pp_mappings_nth (ms, 4));
}

typedef struct
{
  const char *what;
  int code;
  const char *message;
} RemoveErrorCase;

static const RemoveErrorCase remove_errors[] = {
  { "#7", PP_MAPPINGS_ERROR_NOT_FOUND, "no mapping #7 (list them with \"maps\")" },
  { "#0", PP_MAPPINGS_ERROR_PARSE, "bad mapping id \"#0\"" },
  { "#x", PP_MAPPINGS_ERROR_PARSE, "bad mapping id" },
  { "#", PP_MAPPINGS_ERROR_PARSE, "bad mapping id" },
  { "8081 => x.test:80", PP_MAPPINGS_ERROR_NOT_FOUND,
    "no mapping is \"127.0.0.1:8081 => x.test:80\"" },
  { "8080 => ::1:80", PP_MAPPINGS_ERROR_PARSE, "ambiguous" },
};

static void
test_remove_errors (gconstpointer data)
{
  const RemoveErrorCase *c = data;
  g_autoptr (PpMappings) ms = pp_mappings_new ();
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (pp_mappings_add (ms, "8080 => x.test:80", &error), ==, 1);
  g_assert_cmpuint (pp_mappings_remove (ms, c->what, &error), ==, 0);
  g_assert_error (error, PP_MAPPINGS_ERROR, c->code);
  assert_contains (error->message, c->message);
  g_assert_cmpuint (pp_mappings_count (ms), ==, 1);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
#define ADD_TABLE(name, table, fn)                                                 \
  for (size_t i = 0; i < G_N_ELEMENTS (table); i++)                                \
    {                                                                              \
      g_autofree char *path = g_strdup_printf ("/mappings/" name "/%zu", i);       \
      g_test_add_data_func (path, &table[i], fn);                                  \
    }
  ADD_TABLE ("parse", parse_cases, test_parse);
  ADD_TABLE ("fields", field_cases, test_fields);
  ADD_TABLE ("remove-error", remove_errors, test_remove_errors);
  g_test_add_func ("/mappings/parse/odd-bytes", test_odd_bytes);
  g_test_add_func ("/mappings/list/ids-duplicates-remove", test_list);
  return g_test_run ();
}
