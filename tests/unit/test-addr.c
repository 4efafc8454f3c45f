/* SPDX-License-Identifier: MIT
 *
 * Unit tests for pp-addr: strict parsing, RFC 5952 printing, range classification
 * at the boundaries, never-allowed ranges and host-name syntax.  Table-driven; no
 * sockets, no resolver.
 */
#include <string.h>

#include <glib.h>

#include "core/pp-addr.h"

typedef struct
{
  const char *in;
  const char *out; /* NULL: must be refused */
} ParseCase;

static const ParseCase parse_cases[] = {
  { "127.0.0.1", "127.0.0.1" },
  { "0.0.0.0", "0.0.0.0" },
  { "255.255.255.255", "255.255.255.255" },
  { "::", "::" },
  { "::1", "::1" },
  { "::ffff:10.1.2.3", "10.1.2.3" },
  { "::FFFF:7F00:1", "127.0.0.1" },
  { "2001:DB8::1", "2001:db8::1" },
  { "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
  { "2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1" },
  { "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },
  { "1:0:0:2:0:0:0:3", "1:0:0:2::3" },
  { "fe80::1", "fe80::1" },
  { "::1.2.3.4", "::102:304" },
  { "1::", "1::" },
  { "ff02::1", "ff02::1" },
  { "127.1", NULL },
  { "010.0.0.1", NULL },
  { "0x7f.0.0.1", NULL },
  { "2130706433", NULL },
  { "1.2.3.4.5", NULL },
  { "256.0.0.1", NULL },
  { " 1.2.3.4", NULL },
  { "1.2.3.4 ", NULL },
  { "[::1]", NULL },
  { "fe80::1%eth0", NULL },
  { "gggg::1", NULL },
  { "::::::", NULL },
  { "999.999.999.999", NULL },
  { "", NULL },
  { "localhost", NULL },
  { "+1.2.3.4", NULL },
};

static void
test_parse (gconstpointer data)
{
  const ParseCase *c = data;
  PpAddr a;
  gboolean ok = pp_addr_parse (c->in, &a);

  g_assert_cmpint (ok, ==, c->out != NULL);
  if (c->out != NULL)
    {
      g_autofree char *s = pp_addr_to_string (&a);
      char buf[PP_ADDR_STRLEN];
      PpAddr back;
      g_assert_cmpstr (s, ==, c->out);
      g_assert_cmpstr (pp_addr_format (&a, buf), ==, c->out);
      g_assert_true (pp_addr_parse (s, &back));
      g_assert_true (pp_addr_equal (&a, &back));
    }
}

static void
test_v4_mapped (void)
{
  static const uint8_t v4[4] = { 192, 168, 1, 2 };
  static const uint8_t want[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 1, 2 };
  PpAddr a, b;

  pp_addr_from_v4 (v4, &a);
  g_assert_cmpmem (a.b, 16, want, 16);
  g_assert_true (pp_addr_is_v4 (&a));
  g_assert_true (pp_addr_parse ("::ffff:192.168.1.2", &b));
  g_assert_true (pp_addr_equal (&a, &b));
  g_assert_cmpuint (pp_addr_hash (&a), ==, pp_addr_hash (&b));
  g_assert_true (pp_addr_parse ("::1", &b));
  g_assert_false (pp_addr_is_v4 (&b));
  g_assert_false (pp_addr_equal (&a, &b));
}

static void
test_longest_string (void)
{
  PpAddr a;
  char buf[PP_ADDR_STRLEN];

  memset (a.b, 0xff, 16);
  a.b[0] = 0x12;
  g_assert_cmpstr (pp_addr_format (&a, buf), ==, "12ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  g_assert_cmpuint (strlen (buf), <, PP_ADDR_STRLEN);
}

typedef struct
{
  const char *addr;
  PpAddrFlags flags;
} ClassCase;

static const ClassCase class_cases[] = {
  { "127.0.0.1", PP_ADDR_LOOPBACK },
  { "127.255.255.255", PP_ADDR_LOOPBACK },
  { "126.255.255.255", 0 },
  { "128.0.0.0", 0 },
  { "::ffff:127.0.0.1", PP_ADDR_LOOPBACK },
  { "::1", PP_ADDR_LOOPBACK },
  { "::2", 0 },
  { "10.0.0.0", PP_ADDR_PRIVATE },
  { "10.255.255.255", PP_ADDR_PRIVATE },
  { "11.0.0.0", 0 },
  { "9.255.255.255", 0 },
  { "172.15.255.255", 0 },
  { "172.16.0.0", PP_ADDR_PRIVATE },
  { "172.31.255.255", PP_ADDR_PRIVATE },
  { "172.32.0.0", 0 },
  { "192.167.255.255", 0 },
  { "192.168.0.0", PP_ADDR_PRIVATE },
  { "192.168.255.255", PP_ADDR_PRIVATE },
  { "192.169.0.0", 0 },
  { "100.63.255.255", 0 },
  { "100.64.0.0", PP_ADDR_PRIVATE },
  { "100.127.255.255", PP_ADDR_PRIVATE },
  { "100.128.0.0", 0 },
  { "fc00::1", PP_ADDR_PRIVATE },
  { "fdff:ffff::1", PP_ADDR_PRIVATE },
  { "fbff::1", 0 },
  { "fe00::1", 0 },
  { "169.254.169.254", PP_ADDR_LINK_LOCAL },
  { "169.253.255.255", 0 },
  { "169.255.0.0", 0 },
  { "fe80::1", PP_ADDR_LINK_LOCAL },
  { "febf:ffff::1", PP_ADDR_LINK_LOCAL },
  { "fec0::1", 0 },
  { "224.0.0.1", PP_ADDR_MULTICAST },
  { "239.255.255.255", PP_ADDR_MULTICAST },
  { "223.255.255.255", 0 },
  { "240.0.0.0", 0 },
  { "ff02::1", PP_ADDR_MULTICAST },
  { "0.0.0.0", PP_ADDR_UNSPECIFIED },
  { "0.255.255.255", PP_ADDR_UNSPECIFIED },
  { "1.0.0.0", 0 },
  { "::", PP_ADDR_UNSPECIFIED },
  { "::ffff:0.0.0.0", PP_ADDR_UNSPECIFIED },
  { "255.255.255.255", PP_ADDR_BROADCAST },
  { "255.255.255.254", 0 },
  { "8.8.8.8", 0 },
  { "2001:db8::1", 0 },
};

static void
test_classify (gconstpointer data)
{
  const ClassCase *c = data;
  PpAddr a;

  g_assert_true (pp_addr_parse (c->addr, &a));
  g_assert_cmphex (pp_addr_classify (&a), ==, c->flags);
}

typedef struct
{
  const char *addr;
  const char *why; /* substring; NULL: allowed */
} NeverCase;

static const NeverCase never_cases[] = {
  { "0.0.0.0", "0.0.0.0/8 is never allowed" },
  { "0.1.2.3", "0.0.0.0/8" },
  { "::ffff:0.0.0.0", "0.0.0.0/8" },
  { "::", ":: is never allowed" },
  { "224.0.0.1", "224.0.0.0/4" },
  { "::ffff:239.1.1.1", "224.0.0.0/4" },
  { "ff02::1", "ff00::/8" },
  { "255.255.255.255", "255.255.255.255" },
  { "255.255.255.254", NULL },
  { "240.0.0.1", NULL },
  { "1.0.0.0", NULL },
  { "127.0.0.1", NULL },
  { "169.254.169.254", NULL },
  { "::1", NULL },
};

static void
test_never_allowed (gconstpointer data)
{
  const NeverCase *c = data;
  const char *why = NULL;
  PpAddr a;

  g_assert_true (pp_addr_parse (c->addr, &a));
  g_assert_cmpint (pp_addr_is_never_allowed (&a, &why), ==, c->why != NULL);
  if (c->why != NULL)
    g_assert_nonnull (strstr (why, c->why));
  else
    g_assert_null (why);
}

static void
test_prefix (void)
{
  PpAddr a, net;

  g_assert_true (pp_addr_parse ("10.1.2.3", &a));
  g_assert_true (pp_addr_parse ("10.0.0.0", &net));
  g_assert_true (pp_addr_in_prefix (&a, &net, 104));
  g_assert_false (pp_addr_in_prefix (&a, &net, 112));
  g_assert_true (pp_addr_in_prefix (&a, &net, 0));
  g_assert_true (pp_addr_parse ("fd12::1", &a));
  g_assert_true (pp_addr_parse ("fc00::", &net));
  g_assert_true (pp_addr_in_prefix (&a, &net, 7));
  g_assert_false (pp_addr_in_prefix (&a, &net, 8));
  g_assert_true (pp_addr_in_prefix (&a, &a, 128));
}

typedef struct
{
  const char *in;
  const char *out; /* NULL: refused */
  gboolean numeric;
} NameCase;

static const NameCase name_cases[] = {
  { "example.com", "example.com", FALSE },
  { "Example.COM.", "example.com", FALSE },
  { "a-b.c0.example", "a-b.c0.example", FALSE },
  { "localhost", "localhost", FALSE },
  { "1e100.net", "1e100.net", FALSE },
  { "127.1", "127.1", TRUE },
  { "2130706433", "2130706433", TRUE },
  { "0x7f.1", "0x7f.1", TRUE },
  { "example.0x1F", "example.0x1f", TRUE },
  { "example.0xg", "example.0xg", FALSE },
  { "1.2.3.4", "1.2.3.4", TRUE },
  { "", NULL, FALSE },
  { ".", NULL, FALSE },
  { "a..b", NULL, FALSE },
  { ".a", NULL, FALSE },
  { "a..", NULL, FALSE },
  { "-a.com", NULL, FALSE },
  { "a-.com", NULL, FALSE },
  { "a_b.com", NULL, FALSE },
  { "a b", NULL, FALSE },
  { "*.example.com", NULL, FALSE },
  { "ex\xc3\xa4mple.com", NULL, FALSE },
  { "::1", NULL, FALSE },
};

static void
test_hostname (gconstpointer data)
{
  const NameCase *c = data;
  char out[PP_HOSTNAME_MAX + 1];
  const char *why = NULL;
  gboolean ok = pp_hostname_normalize (c->in, -1, out, &why);

  g_assert_cmpint (ok, ==, c->out != NULL);
  if (!ok)
    {
      g_assert_nonnull (why);
      return;
    }
  g_assert_cmpstr (out, ==, c->out);
  g_assert_cmpint (pp_hostname_is_numeric (out), ==, c->numeric);
}

static void
test_hostname_lengths (void)
{
  char out[PP_HOSTNAME_MAX + 1];
  g_autofree char *label63 = g_strnfill (63, 'a');
  g_autofree char *label64 = g_strnfill (64, 'a');
  /* 4 × 63 + 3 dots = 255 > 253; 3 × 63 + 61 + 3 = 253. */
  g_autofree char *long255 = g_strjoin (".", label63, label63, label63, label63, NULL);
  g_autofree char *l61 = g_strnfill (61, 'b');
  g_autofree char *ok253 = g_strjoin (".", label63, label63, label63, l61, NULL);
  g_autofree char *ok253dot = g_strconcat (ok253, ".", NULL);

  g_assert_true (pp_hostname_normalize (label63, -1, out, NULL));
  g_assert_false (pp_hostname_normalize (label64, -1, out, NULL));
  g_assert_false (pp_hostname_normalize (long255, -1, out, NULL));
  g_assert_cmpuint (strlen (ok253), ==, 253);
  g_assert_true (pp_hostname_normalize (ok253, -1, out, NULL));
  g_assert_true (pp_hostname_normalize (ok253dot, -1, out, NULL));
  g_assert_cmpstr (out, ==, ok253);
  /* Explicit length: only the first 7 bytes. */
  g_assert_true (pp_hostname_normalize ("foo.com!junk", 7, out, NULL));
  g_assert_cmpstr (out, ==, "foo.com");
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  for (size_t i = 0; i < G_N_ELEMENTS (parse_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/addr/parse/%zu", i);
      g_test_add_data_func (path, &parse_cases[i], test_parse);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (class_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/addr/classify/%zu", i);
      g_test_add_data_func (path, &class_cases[i], test_classify);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (never_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/addr/never-allowed/%zu", i);
      g_test_add_data_func (path, &never_cases[i], test_never_allowed);
    }
  for (size_t i = 0; i < G_N_ELEMENTS (name_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/addr/hostname/%zu", i);
      g_test_add_data_func (path, &name_cases[i], test_hostname);
    }
  g_test_add_func ("/addr/unit/v4-mapped", test_v4_mapped);
  g_test_add_func ("/addr/unit/longest-string", test_longest_string);
  g_test_add_func ("/addr/unit/prefix", test_prefix);
  g_test_add_func ("/addr/unit/hostname-lengths", test_hostname_lengths);
  return g_test_run ();
}
