/* SPDX-License-Identifier: MIT
 *
 * pp-addr: the 16-byte address of the wire (IPv4 as ::ffff:a.b.c.d), strict
 * parsing and printing, classification, and host-name checks shared by rules and
 * mappings.  Sans-IO: it never resolves a name, never opens a socket and never
 * asks the system what its own addresses are (callers pass that in).
 */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct
{
  uint8_t b[16];
} PpAddr;

/* Longest text pp_addr_format() writes, NUL included (same as INET6_ADDRSTRLEN). */
#define PP_ADDR_STRLEN 46
/* Longest host name, without the trailing dot, NUL not included. */
#define PP_HOSTNAME_MAX 253

/* Strict inet_pton: an IPv4 dotted quad (no 127.1, no octal) or an IPv6 address,
 * no brackets, no zone.  IPv4 and ::ffff:a.b.c.d give the same bytes. */
gboolean pp_addr_parse (const char *text, PpAddr *out);
/* Mapped IPv4 as a.b.c.d, IPv6 compact per RFC 5952 (lower case, longest zero run). */
char *pp_addr_to_string (const PpAddr *a);
/* Same without allocating; returns @buf. */
const char *pp_addr_format (const PpAddr *a, char buf[PP_ADDR_STRLEN]);
gboolean pp_addr_is_v4 (const PpAddr *a);
void pp_addr_from_v4 (const uint8_t v4[4], PpAddr *out);
gboolean pp_addr_equal (const PpAddr *a, const PpAddr *b);
guint pp_addr_hash (const PpAddr *a);
/* TRUE when the first @prefix_len bits (0–128) of @a and @net agree. */
gboolean pp_addr_in_prefix (const PpAddr *a, const PpAddr *net, guint prefix_len);

typedef enum
{
  PP_ADDR_LOOPBACK = 1 << 0,    /* 127.0.0.0/8, ::1 */
  PP_ADDR_PRIVATE = 1 << 1,     /* RFC 1918, fc00::/7, 100.64.0.0/10 */
  PP_ADDR_LINK_LOCAL = 1 << 2,  /* 169.254.0.0/16, fe80::/10 */
  PP_ADDR_MULTICAST = 1 << 3,   /* 224.0.0.0/4, ff00::/8 */
  PP_ADDR_UNSPECIFIED = 1 << 4, /* 0.0.0.0/8, :: */
  PP_ADDR_BROADCAST = 1 << 5,   /* 255.255.255.255 */
} PpAddrFlags;

PpAddrFlags pp_addr_classify (const PpAddr *a);
/* 0.0.0.0/8, ::, 224.0.0.0/4, ff00::/8, 255.255.255.255.  @why (nullable) gets a
 * static sentence naming the range and why, for instance
 * "0.0.0.0/8 is never allowed (Linux connects it to the host itself)". */
gboolean pp_addr_is_never_allowed (const PpAddr *a, const char **why);

/* Host names (DESIGN §4): LDH labels of 1–63 bytes, not starting or ending with
 * '-', ≤ 253 bytes in all; one trailing dot is dropped and the result is lower
 * case.  Reads @len bytes of @text (-1: NUL-terminated) and writes at most
 * PP_HOSTNAME_MAX + 1 bytes to @out.  On failure @why (nullable) gets a static
 * reason and @out is untouched.  A valid name may still be numeric-looking. */
gboolean pp_hostname_normalize (const char *text, gssize len,
                                char out[PP_HOSTNAME_MAX + 1], const char **why);
/* TRUE when a resolver could read @name as a number (127.1, 0x7f.1, 2130706433):
 * its last label is all digits, or 0x followed by hex digits (WHATWG "ends in a
 * number").  Such names are refused: resolvers disagree on what they mean. */
gboolean pp_hostname_is_numeric (const char *name);

G_END_DECLS
