/* SPDX-License-Identifier: MIT
 *
 * pp-addr: strict address parsing and printing, classification by range, and the
 * host-name syntax of DESIGN §4.  Everything here is a pure function of its
 * arguments; it must not resolve names, touch sockets or read system state.
 */
#include "pp-addr.h"

#include <arpa/inet.h>
#include <string.h>

static const uint8_t mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

gboolean
pp_addr_parse (const char *text, PpAddr *out)
{
  uint8_t v4[4];
  PpAddr tmp;

  g_return_val_if_fail (out != NULL, FALSE);
  if (text == NULL)
    return FALSE;
  /* glibc's inet_pton refuses 127.1, leading zeros and anything but a dotted quad. */
  if (inet_pton (AF_INET, text, v4) == 1)
    {
      pp_addr_from_v4 (v4, out);
      return TRUE;
    }
  if (inet_pton (AF_INET6, text, tmp.b) != 1)
    return FALSE;
  *out = tmp;
  return TRUE;
}

gboolean
pp_addr_is_v4 (const PpAddr *a)
{
  return memcmp (a->b, mapped_prefix, sizeof mapped_prefix) == 0;
}

void
pp_addr_from_v4 (const uint8_t v4[4], PpAddr *out)
{
  memcpy (out->b, mapped_prefix, sizeof mapped_prefix);
  memcpy (out->b + 12, v4, 4);
}

gboolean
pp_addr_equal (const PpAddr *a, const PpAddr *b)
{
  return memcmp (a->b, b->b, sizeof a->b) == 0;
}

guint
pp_addr_hash (const PpAddr *a)
{
  guint h = 5381;

  for (size_t i = 0; i < sizeof a->b; i++)
    h = h * 33 + a->b[i];
  return h;
}

gboolean
pp_addr_in_prefix (const PpAddr *a, const PpAddr *net, guint prefix_len)
{
  guint full = MIN (prefix_len, 128u) / 8;
  guint rest = MIN (prefix_len, 128u) % 8;

  if (memcmp (a->b, net->b, full) != 0)
    return FALSE;
  if (rest == 0)
    return TRUE;
  uint8_t mask = (uint8_t) (0xff << (8 - rest));
  return (a->b[full] & mask) == (net->b[full] & mask);
}

/* RFC 5952: the longest run of two or more zero groups (the first on a tie) is "::". */
static void
format_v6 (const PpAddr *a, char *buf)
{
  uint16_t w[8];
  int best = -1, best_len = 0;
  char *p = buf;

  for (int i = 0; i < 8; i++)
    w[i] = (uint16_t) (a->b[2 * i] << 8 | a->b[2 * i + 1]);
  for (int i = 0; i < 8;)
    {
      int j = i;
      while (j < 8 && w[j] == 0)
        j++;
      if (j - i > best_len && j - i >= 2)
        best = i, best_len = j - i;
      i = j > i ? j : i + 1;
    }
  for (int i = 0; i < 8; i++)
    {
      if (i == best)
        {
          p += g_snprintf (p, 3, "::");
          i += best_len - 1;
          continue;
        }
      if (i > 0 && i != best + best_len)
        *p++ = ':';
      p += g_snprintf (p, 5, "%x", w[i]);
    }
  *p = '\0';
}

const char *
pp_addr_format (const PpAddr *a, char buf[PP_ADDR_STRLEN])
{
  if (pp_addr_is_v4 (a))
    g_snprintf (buf, PP_ADDR_STRLEN, "%u.%u.%u.%u", a->b[12], a->b[13], a->b[14], a->b[15]);
  else
    format_v6 (a, buf);
  return buf;
}

char *
pp_addr_to_string (const PpAddr *a)
{
  char buf[PP_ADDR_STRLEN];

  return g_strdup (pp_addr_format (a, buf));
}

static gboolean
v4_in (const PpAddr *a, uint8_t b0, uint8_t b1, guint len)
{
  uint8_t v4[4] = { b0, b1, 0, 0 };
  PpAddr net;

  pp_addr_from_v4 (v4, &net);
  return pp_addr_in_prefix (a, &net, 96 + len);
}

static gboolean
v6_in (const PpAddr *a, uint8_t b0, uint8_t b1, guint len)
{
  PpAddr net = { { b0, b1 } };

  return pp_addr_in_prefix (a, &net, len);
}

static PpAddrFlags
classify_v4 (const PpAddr *a)
{
  static const uint8_t bcast[4] = { 255, 255, 255, 255 };
  PpAddrFlags f = 0;

  if (v4_in (a, 127, 0, 8))
    f |= PP_ADDR_LOOPBACK;
  if (v4_in (a, 10, 0, 8) || v4_in (a, 172, 16, 12) || v4_in (a, 192, 168, 16)
      || v4_in (a, 100, 64, 10))
    f |= PP_ADDR_PRIVATE;
  if (v4_in (a, 169, 254, 16))
    f |= PP_ADDR_LINK_LOCAL;
  if (v4_in (a, 224, 0, 4))
    f |= PP_ADDR_MULTICAST;
  if (v4_in (a, 0, 0, 8))
    f |= PP_ADDR_UNSPECIFIED;
  if (memcmp (a->b + 12, bcast, 4) == 0)
    f |= PP_ADDR_BROADCAST;
  return f;
}

PpAddrFlags
pp_addr_classify (const PpAddr *a)
{
  static const PpAddr any6, loop6 = { { [15] = 1 } };
  PpAddrFlags f = 0;

  if (pp_addr_is_v4 (a))
    return classify_v4 (a);
  if (pp_addr_equal (a, &loop6))
    f |= PP_ADDR_LOOPBACK;
  if (v6_in (a, 0xfc, 0, 7))
    f |= PP_ADDR_PRIVATE;
  if (v6_in (a, 0xfe, 0x80, 10))
    f |= PP_ADDR_LINK_LOCAL;
  if (v6_in (a, 0xff, 0, 8))
    f |= PP_ADDR_MULTICAST;
  if (pp_addr_equal (a, &any6))
    f |= PP_ADDR_UNSPECIFIED;
  return f;
}

gboolean
pp_addr_is_never_allowed (const PpAddr *a, const char **why)
{
  PpAddrFlags f = pp_addr_classify (a);
  gboolean v4 = pp_addr_is_v4 (a);
  const char *reason = NULL;

  if (f & PP_ADDR_UNSPECIFIED)
    reason = v4 ? "0.0.0.0/8 is never allowed (Linux connects it to the host itself)"
                : ":: is never allowed (Linux connects it to the host itself)";
  else if (f & PP_ADDR_MULTICAST)
    reason = v4 ? "multicast 224.0.0.0/4 is never allowed (TCP can't connect to it)"
                : "multicast ff00::/8 is never allowed (TCP can't connect to it)";
  else if (f & PP_ADDR_BROADCAST)
    reason = "broadcast 255.255.255.255 is never allowed";
  if (why != NULL && reason != NULL)
    *why = reason;
  return reason != NULL;
}

static gboolean
is_ldh (char c)
{
  return g_ascii_isalnum (c) || c == '-';
}

/* One label of @len bytes at @p; NULL when it is fine. */
static const char *
check_label (const char *p, size_t len)
{
  if (len == 0)
    return "empty label (two dots in a row, or a leading dot)";
  if (len > 63)
    return "a label is longer than 63 bytes";
  for (size_t i = 0; i < len; i++)
    if (!is_ldh (p[i]))
      return "only letters, digits, '-' and '.' may appear in a host name";
  if (p[0] == '-' || p[len - 1] == '-')
    return "a label can't start or end with '-'";
  return NULL;
}

gboolean
pp_hostname_normalize (const char *text, gssize len, char out[PP_HOSTNAME_MAX + 1],
                       const char **why)
{
  size_t n = len < 0 ? strlen (text) : (size_t) len;
  const char *reason = NULL;

  if (n > 0 && text[n - 1] == '.')
    n--;
  if (n == 0)
    reason = "empty host name";
  else if (n > PP_HOSTNAME_MAX)
    reason = "a host name is at most 253 bytes";
  for (size_t start = 0; reason == NULL && start <= n;)
    {
      const char *dot = memchr (text + start, '.', n - start);
      size_t end = dot != NULL ? (size_t) (dot - text) : n;

      reason = check_label (text + start, end - start);
      start = end + 1;
    }
  if (reason != NULL)
    {
      if (why != NULL)
        *why = reason;
      return FALSE;
    }
  for (size_t i = 0; i < n; i++)
    out[i] = g_ascii_tolower (text[i]);
  out[n] = '\0';
  return TRUE;
}

gboolean
pp_hostname_is_numeric (const char *name)
{
  size_t n = strlen (name);
  const char *last;

  if (n > 0 && name[n - 1] == '.')
    n--;
  if (n == 0)
    return FALSE;
  last = g_strrstr_len (name, (gssize) n, ".");
  last = last != NULL ? last + 1 : name;
  size_t ln = n - (size_t) (last - name);
  if (ln == 0)
    return FALSE;
  if (ln >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X'))
    {
      for (size_t i = 2; i < ln; i++)
        if (!g_ascii_isxdigit (last[i]))
          return FALSE;
      return TRUE;
    }
  for (size_t i = 0; i < ln; i++)
    if (!g_ascii_isdigit (last[i]))
      return FALSE;
  return TRUE;
}
