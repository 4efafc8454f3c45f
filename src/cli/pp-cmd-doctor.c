/* SPDX-License-Identifier: MIT
 *
 * pp-cmd-doctor: `peerport doctor`, a network check before a session — does
 * the signaling server answer over HTTP, does its STUN answer over UDP, and
 * how does this machine's NAT map one socket towards two STUN destinations
 * (same public port: endpoint-independent; different: symmetric).  It then
 * says whether a direct connection is likely and what to configure if not.
 * It only asks and reports: no session is created, nothing is changed.
 */
#include <ifaddrs.h>
#include <json-glib/json-glib.h>
#include <netinet/in.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/pp-cli.h"
#include "cli/pp-doctor-stun.h"

#define HTTP_TIMEOUT_S 5
#define STUN_DEADLINE_MS 3000
#define STUN_DEFAULT_PORT 3478

static const char doctor_help[] =
  "Usage: peerport doctor [--signal URL] [--stun stun:HOST[:PORT]]... [--json]\n"
  "\n"
  "Check the network before a session: whether the signaling server answers,\n"
  "whether its STUN responder answers over UDP, and how this machine's NAT\n"
  "maps one UDP socket towards two STUN destinations.  Then say whether a\n"
  "direct connection to a peer is likely, and what to configure when it is not.\n"
  "\n"
  "Options:\n"
  "  --signal URL       the signaling server, http(s)://HOST:PORT (default\n"
  "                     $PEERPORT_SIGNAL); its /healthz is fetched and its STUN\n"
  "                     (same host, the ports it advertises, else the HTTP port\n"
  "                     number) is asked\n"
  "  --stun URI         also ask this STUN server, stun:HOST[:PORT] (default port\n"
  "                     3478; repeatable)\n"
  "  --json             one JSON object on stdout instead of text\n"
  "  -h, --help         show this help\n"
  "\n"
  "Mapping: every STUN request leaves from the same local UDP port.  When two\n"
  "destinations see the same public address and port the NAT is\n"
  "endpoint-independent and hole punching works; when they differ it is\n"
  "symmetric, and a peer behind a NAT as well is likely reachable only through a\n"
  "TURN relay (--turn on host and join).  Two destinations are needed: run the\n"
  "signaling server with --stun-alt-port, or give a second --stun.\n"
  "\n"
  "Exit status: 0 when the checks ran (whatever they found), 64 usage, 69 the\n"
  "signaling server does not answer.\n";

typedef struct
{
  char *signal;
  char **stun;
  gboolean json, help;
} Flags;

typedef struct
{
  char *label;            /* where the destination came from */
  char *host;
  guint16 port;
  GSocketAddress *addr;   /* NULL: not resolved (see error) */
  char *error;
  uint8_t txid[PP_DOCTOR_STUN_TXID_LEN];
  gboolean answered;
  PpStunMapped mapped;
  gint64 sent_us;
  guint rtt_ms;
} Probe;

typedef struct
{
  gboolean asked, ok;
  guint status, ms;
  char *error;
  char *stun_ports;       /* the X-Peerport-Stun header */
} Http;

typedef enum
{
  MAPPING_UNKNOWN = 0,    /* no answer */
  MAPPING_SINGLE,         /* one answer: nothing to compare */
  MAPPING_INDEPENDENT,
  MAPPING_DEPENDENT,
} Mapping;

typedef struct
{
  Flags *f;
  Http http;
  GPtrArray *probes;      /* of Probe * */
  GSocket *sock4, *sock6;
  guint16 local_port4;
  Mapping mapping;
  gboolean nat_seen;      /* the mapped address is not one of ours */
} Doctor;

static void
probe_free (Probe *p)
{
  g_free (p->label);
  g_free (p->host);
  g_clear_object (&p->addr);
  g_free (p->error);
  g_free (p);
}

static void
flags_clear (Flags *f)
{
  g_free (f->signal);
  g_strfreev (f->stun);
}

static gboolean
parse_flags (int argc, char **argv, Flags *f, GError **error)
{
  GOptionEntry entries[] = {
    { "signal", 0, 0, G_OPTION_ARG_STRING, &f->signal, NULL, NULL },
    { "stun", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f->stun, NULL, NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &f->json, NULL, NULL },
    { "help", 'h', 0, G_OPTION_ARG_NONE, &f->help, NULL, NULL },
    { NULL },
  };
  if (!pp_cli_parse_options (&argc, &argv, entries, error))
    return FALSE;
  if (argc > 1)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "unexpected argument '%s'", argv[1]), FALSE;
  if (f->signal == NULL && g_getenv ("PEERPORT_SIGNAL") != NULL)
    f->signal = g_strdup (g_getenv ("PEERPORT_SIGNAL"));
  if (f->signal == NULL && f->stun == NULL && !f->help)
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                        "nothing to check: give --signal URL (or $PEERPORT_SIGNAL) or "
                        "--stun URI"), FALSE;
  return TRUE;
}

/* ---- destinations ------------------------------------------------------------------ */

/* "HOST[:PORT]" or "[V6][:PORT]" into @host and @port (@port untouched if absent). */
static gboolean
split_host_port (const char *text, char **host, guint16 *port)
{
  const char *colon;
  char *end = NULL;
  long v;

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || close == text + 1 || (close[1] != '\0' && close[1] != ':'))
        return FALSE;
      *host = g_strndup (text + 1, (gsize) (close - text - 1));
      colon = close[1] == ':' ? close + 1 : NULL;
    }
  else
    {
      colon = strrchr (text, ':');
      if (colon != NULL && strchr (text, ':') != colon)
        colon = NULL; /* a bare IPv6 address: no port */
      *host = colon != NULL ? g_strndup (text, (gsize) (colon - text)) : g_strdup (text);
    }
  if (colon == NULL)
    return **host != '\0';
  v = strtol (colon + 1, &end, 10);
  if (**host == '\0' || colon[1] == '\0' || *end != '\0' || v < 1 || v > 65535)
    return FALSE;
  *port = (guint16) v;
  return TRUE;
}

static Probe *
probe_new (const char *label, const char *host, guint16 port)
{
  Probe *p = g_new0 (Probe, 1);

  p->label = g_strdup (label);
  p->host = g_strdup (host);
  p->port = port;
  return p;
}

static gboolean
add_stun_uri (GPtrArray *probes, const char *uri, GError **error)
{
  g_autofree char *host = NULL;
  guint16 port = STUN_DEFAULT_PORT;

  if (!g_str_has_prefix (uri, "stun:") || !split_host_port (uri + 5, &host, &port))
    return g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "--stun wants stun:HOST[:PORT], not '%s'", uri), FALSE;
  g_ptr_array_add (probes, probe_new ("--stun", host, port));
  return TRUE;
}

/* The signaling server's STUN: its advertised ports, else the HTTP port number. */
static void
add_signal_stun (Doctor *d, GUri *uri)
{
  guint16 port = (guint16) g_uri_get_port (uri);
  g_auto (GStrv) ports = NULL;
  guint n = 0;

  if (g_uri_get_port (uri) <= 0)
    port = g_strcmp0 (g_uri_get_scheme (uri), "https") == 0 ? 443 : 80;
  if (d->http.stun_ports != NULL)
    ports = g_strsplit (d->http.stun_ports, " ", 3);
  for (guint i = 0; ports != NULL && ports[i] != NULL && i < 2; i++)
    {
      long v = strtol (ports[i], NULL, 10);

      if (v < 1 || v > 65535)
        continue;
      g_ptr_array_add (d->probes, probe_new (n == 0 ? "signaling server" : "signaling server (alt)",
                                             g_uri_get_host (uri), (guint16) v));
      n++;
    }
  if (n == 0)
    g_ptr_array_add (d->probes, probe_new ("signaling server", g_uri_get_host (uri), port));
}

/* Names to addresses, IPv4 first: libnice and most NATs are IPv4 stories. */
static void
resolve (Probe *p)
{
  g_autoptr (GResolver) r = g_resolver_get_default ();
  g_autoptr (GError) error = NULL;
  GList *list = g_resolver_lookup_by_name (r, p->host, NULL, &error);
  GInetAddress *pick = NULL;

  if (list == NULL)
    {
      p->error = g_strdup_printf ("cannot resolve %s: %s", p->host, error->message);
      return;
    }
  for (GList *l = list; l != NULL && pick == NULL; l = l->next)
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      pick = l->data;
  p->addr = g_inet_socket_address_new (pick != NULL ? pick : list->data, p->port);
  g_resolver_free_addresses (list);
}

/* ---- HTTP -------------------------------------------------------------------------- */

static void
check_http (Doctor *d, const char *base)
{
  g_autoptr (SoupSession) s = soup_session_new_with_options ("timeout", HTTP_TIMEOUT_S,
                                                             "idle-timeout", HTTP_TIMEOUT_S,
                                                             NULL);
  g_autofree char *url = g_strconcat (base, g_str_has_suffix (base, "/") ? "" : "/",
                                      "healthz", NULL);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();

  d->http.asked = TRUE;
  if (msg == NULL)
    {
      d->http.error = g_strdup ("not a valid URL");
      return;
    }
  body = soup_session_send_and_read (s, msg, NULL, &error);
  d->http.ms = (guint) ((g_get_monotonic_time () - t0) / 1000);
  if (body == NULL)
    {
      d->http.error = g_strdup (error->message);
      return;
    }
  d->http.status = soup_message_get_status (msg);
  d->http.ok = d->http.status == SOUP_STATUS_OK;
  if (!d->http.ok)
    d->http.error = g_strdup_printf ("/healthz answered %u %s", d->http.status,
                                     soup_message_get_reason_phrase (msg));
  d->http.stun_ports = g_strdup (soup_message_headers_get_one (
                                   soup_message_get_response_headers (msg), "X-Peerport-Stun"));
}

/* ---- STUN -------------------------------------------------------------------------- */

static GSocket *
socket_for (Doctor *d, GSocketFamily family)
{
  GSocket **slot = family == G_SOCKET_FAMILY_IPV4 ? &d->sock4 : &d->sock6;
  g_autoptr (GInetAddress) any = NULL;
  g_autoptr (GSocketAddress) bind_to = NULL;

  if (*slot != NULL)
    return *slot;
  *slot = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  if (*slot == NULL)
    return NULL;
  any = g_inet_address_new_any (family);
  bind_to = g_inet_socket_address_new (any, 0);
  if (!g_socket_bind (*slot, bind_to, FALSE, NULL))
    {
      g_clear_object (slot);
      return NULL;
    }
  g_socket_set_blocking (*slot, FALSE);
  return *slot;
}

static void
send_requests (Doctor *d)
{
  for (guint i = 0; i < d->probes->len; i++)
    {
      Probe *p = d->probes->pdata[i];
      uint8_t req[PP_DOCTOR_STUN_REQUEST_LEN];
      GSocket *sock;

      if (p->addr == NULL || p->answered)
        continue;
      sock = socket_for (d, g_socket_address_get_family (p->addr));
      if (sock == NULL)
        continue;
      if (p->sent_us == 0)
        {
          for (guint k = 0; k < sizeof p->txid; k++)
            p->txid[k] = (uint8_t) g_random_int_range (0, 256);
          p->sent_us = g_get_monotonic_time ();
        }
      pp_doctor_stun_request (p->txid, req);
      g_socket_send_to (sock, p->addr, (const char *) req, sizeof req, NULL, NULL);
    }
}

/* An answer counts only from the address asked and with its transaction id. */
static void
take_answer (Doctor *d, const uint8_t *buf, gsize len, GSocketAddress *from)
{
  for (guint i = 0; i < d->probes->len; i++)
    {
      Probe *p = d->probes->pdata[i];
      PpStunMapped m;

      if (p->addr == NULL || p->answered || !g_inet_address_equal (
            g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (p->addr)),
            g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)))
          || g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from)) != p->port)
        continue;
      if (pp_doctor_stun_parse (buf, len, p->txid, &m) != PP_DOCTOR_STUN_OK)
        continue;
      p->answered = TRUE;
      p->mapped = m;
      p->rtt_ms = (guint) ((g_get_monotonic_time () - p->sent_us) / 1000);
      return;
    }
}

static void
drain (Doctor *d, GSocket *sock)
{
  for (;;)
    {
      uint8_t buf[1500];
      g_autoptr (GSocketAddress) from = NULL;
      gssize n = g_socket_receive_from (sock, &from, (char *) buf, sizeof buf, NULL, NULL);

      if (n < 0)
        return;
      if (from != NULL && G_IS_INET_SOCKET_ADDRESS (from))
        take_answer (d, buf, (gsize) n, from);
    }
}

static gboolean
all_answered (Doctor *d)
{
  for (guint i = 0; i < d->probes->len; i++)
    {
      Probe *p = d->probes->pdata[i];

      if (p->addr != NULL && !p->answered)
        return FALSE;
    }
  return TRUE;
}

/* Retransmits at 0, 250, 750, 1750 ms (RFC 5389 style, shortened); gives up at the deadline. */
static void
run_probes (Doctor *d)
{
  static const guint resend_ms[] = { 250, 750, 1750 };
  gint64 t0 = g_get_monotonic_time ();
  guint next = 0;

  send_requests (d);
  while (!all_answered (d))
    {
      gint64 elapsed_ms = (g_get_monotonic_time () - t0) / 1000;
      gint64 wake_ms = next < G_N_ELEMENTS (resend_ms) ? resend_ms[next] : STUN_DEADLINE_MS;
      GPollFD fds[2];
      guint n = 0;

      if (elapsed_ms >= STUN_DEADLINE_MS)
        break;
      if (elapsed_ms >= wake_ms)
        {
          send_requests (d);
          next++;
          continue;
        }
      if (d->sock4 != NULL)
        fds[n++] = (GPollFD) { g_socket_get_fd (d->sock4), G_IO_IN, 0 };
      if (d->sock6 != NULL)
        fds[n++] = (GPollFD) { g_socket_get_fd (d->sock6), G_IO_IN, 0 };
      if (n == 0)
        break;
      g_poll (fds, n, (gint) (wake_ms - elapsed_ms));
      if (d->sock4 != NULL)
        drain (d, d->sock4);
      if (d->sock6 != NULL)
        drain (d, d->sock6);
    }
}

/* ---- conclusions ------------------------------------------------------------------- */

static gboolean
is_local_address (const PpStunMapped *m)
{
  struct ifaddrs *all = NULL;
  gboolean found = FALSE;

  if (getifaddrs (&all) != 0)
    return FALSE;
  for (struct ifaddrs *i = all; i != NULL && !found; i = i->ifa_next)
    {
      g_autoptr (GSocketAddress) sa = NULL;
      GInetAddress *ia;

      if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET
                                  && i->ifa_addr->sa_family != AF_INET6))
        continue;
      sa = g_socket_address_new_from_native (i->ifa_addr, i->ifa_addr->sa_family == AF_INET
                                                            ? sizeof (struct sockaddr_in)
                                                            : sizeof (struct sockaddr_in6));
      if (sa == NULL)
        continue;
      ia = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa));
      found = g_inet_address_get_native_size (ia) == m->ip_len
              && memcmp (g_inet_address_to_bytes (ia), m->ip, m->ip_len) == 0;
    }
  freeifaddrs (all);
  return found;
}

static char *
mapped_to_string (const PpStunMapped *m)
{
  g_autoptr (GInetAddress) a = g_inet_address_new_from_bytes (
    m->ip, m->ip_len == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6);
  g_autofree char *ip = g_inet_address_to_string (a);

  return m->ip_len == 4 ? g_strdup_printf ("%s:%u", ip, m->port)
                        : g_strdup_printf ("[%s]:%u", ip, m->port);
}

static guint16
local_port (GSocket *sock)
{
  g_autoptr (GSocketAddress) a = sock != NULL ? g_socket_get_local_address (sock, NULL) : NULL;

  return a != NULL ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (a)) : 0;
}

/* Compares what the IPv4 destinations saw of our one IPv4 socket. */
static void
conclude (Doctor *d)
{
  const PpStunMapped *first = NULL;
  guint answers = 0;
  gboolean differ = FALSE;

  d->local_port4 = local_port (d->sock4);
  for (guint i = 0; i < d->probes->len; i++)
    {
      Probe *p = d->probes->pdata[i];

      if (!p->answered || p->mapped.ip_len != 4)
        continue;
      answers++;
      if (first == NULL)
        first = &p->mapped;
      else if (first->port != p->mapped.port || memcmp (first->ip, p->mapped.ip, 4) != 0)
        differ = TRUE;
    }
  d->mapping = answers == 0 ? MAPPING_UNKNOWN
               : answers == 1 ? MAPPING_SINGLE
               : differ ? MAPPING_DEPENDENT : MAPPING_INDEPENDENT;
  d->nat_seen = first != NULL && (first->port != d->local_port4 || !is_local_address (first));
}

static const char *
mapping_name (Mapping m)
{
  switch (m)
    {
    case MAPPING_UNKNOWN:
      return "unknown";
    case MAPPING_SINGLE:
      return "not compared";
    case MAPPING_INDEPENDENT:
      return "endpoint-independent";
    case MAPPING_DEPENDENT:
      return "address/port-dependent (symmetric)";
    }
  return "unknown";
}

static gboolean
direct_likely (Doctor *d)
{
  return d->mapping == MAPPING_INDEPENDENT || (d->mapping != MAPPING_UNKNOWN && !d->nat_seen);
}

/* What to do next, in one paragraph. */
static const char *
advice (Doctor *d)
{
  if (d->http.asked && !d->http.ok)
    return "The signaling server does not answer: check the URL (and any proxy), or run "
           "one on a machine both peers reach: 'peerport signal --listen 0.0.0.0:8080 "
           "--stun-alt-port 8081' (self-host it on any small server with a public "
           "address), then use --signal http://THAT-HOST:8080.";
  switch (d->mapping)
    {
    case MAPPING_UNKNOWN:
      return "No STUN server answered over UDP: UDP may be blocked here, or the server runs "
             "without STUN.  Peers then connect directly only on a shared network; "
             "elsewhere configure a TURN relay on host and join, over TCP if UDP is "
             "blocked: --turn 'turn:USER:PASS@HOST:443?transport=tcp'.";
    case MAPPING_SINGLE:
      return d->nat_seen
               ? "Only one STUN destination answered, so the NAT's mapping cannot be "
                 "compared: run the signaling server with --stun-alt-port PORT, or add a "
                 "second --stun server.  Direct connections work if this NAT is "
                 "endpoint-independent; if they fail, add --turn."
               : "No NAT between this machine and the STUN server: peers can reach "
                 "this machine at its own address.  A direct connection is likely.";
    case MAPPING_INDEPENDENT:
      return d->nat_seen
               ? "Your NAT keeps one public port per local socket (endpoint-independent): "
                 "hole punching works, so a direct connection is likely unless the peer's "
                 "NAT is symmetric.  If it is, give both sides --turn "
                 "turn:USER:PASS@HOST:PORT."
               : "No NAT between this machine and the STUN server: peers can reach "
                 "this machine at its own address.  A direct connection is likely.";
    case MAPPING_DEPENDENT:
      return "Your NAT picks a new public port for each destination (symmetric): a "
             "direct connection is unlikely when the peer is behind a NAT too (it works "
             "when the peer has a public address).  Configure a TURN relay on host and "
             "join: --turn turn:USER:PASS@HOST:PORT (coturn, for example).";
    }
  return "";
}

/* ---- output ------------------------------------------------------------------------ */

static void
print_text (Doctor *d)
{
  if (d->http.asked && d->http.ok)
    printf ("signaling server %s: answers (/healthz ok in %u ms)\n", d->f->signal, d->http.ms);
  else if (d->http.asked)
    printf ("signaling server %s: does not answer: %s\n", d->f->signal, d->http.error);
  for (guint i = 0; i < d->probes->len; i++)
    {
      Probe *p = d->probes->pdata[i];
      g_autofree char *seen = p->answered ? mapped_to_string (&p->mapped) : NULL;

      if (p->addr == NULL)
        printf ("STUN %s:%u (%s): %s\n", p->host, p->port, p->label, p->error);
      else if (p->answered)
        printf ("STUN %s:%u (%s): answers in %u ms; it sees this machine as %s\n", p->host,
                p->port, p->label, p->rtt_ms, seen);
      else
        printf ("STUN %s:%u (%s): no answer over UDP within %d s\n", p->host, p->port,
                p->label, STUN_DEADLINE_MS / 1000);
    }
  if (d->mapping != MAPPING_UNKNOWN)
    printf ("NAT: %s; mapping: %s (local UDP port %u)\n",
            d->nat_seen ? "yes" : "none seen (the address is this machine's own)",
            mapping_name (d->mapping), d->local_port4);
  printf ("direct connection: %s\n", direct_likely (d) ? "likely" : "unlikely or unknown");
  printf ("%s\n", advice (d));
}

static void
json_probe (JsonBuilder *b, Probe *p)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "from");
  json_builder_add_string_value (b, p->label);
  json_builder_set_member_name (b, "server");
  json_builder_add_string_value (b, p->host);
  json_builder_set_member_name (b, "port");
  json_builder_add_int_value (b, p->port);
  json_builder_set_member_name (b, "answered");
  json_builder_add_boolean_value (b, p->answered);
  if (p->answered)
    {
      g_autofree char *seen = mapped_to_string (&p->mapped);

      json_builder_set_member_name (b, "mapped");
      json_builder_add_string_value (b, seen);
      json_builder_set_member_name (b, "rttMs");
      json_builder_add_int_value (b, p->rtt_ms);
    }
  if (p->error != NULL)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, p->error);
    }
  json_builder_end_object (b);
}

static void
json_http (JsonBuilder *b, Doctor *d)
{
  json_builder_set_member_name (b, "signal");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, d->f->signal);
  json_builder_set_member_name (b, "reachable");
  json_builder_add_boolean_value (b, d->http.ok);
  if (d->http.ok)
    {
      json_builder_set_member_name (b, "ms");
      json_builder_add_int_value (b, d->http.ms);
    }
  if (d->http.error != NULL)
    {
      json_builder_set_member_name (b, "error");
      json_builder_add_string_value (b, d->http.error);
    }
  json_builder_end_object (b);
}

static void
print_json (Doctor *d)
{
  static const char *const keys[] = {
    [MAPPING_UNKNOWN] = "unknown", [MAPPING_SINGLE] = "not-compared",
    [MAPPING_INDEPENDENT] = "endpoint-independent", [MAPPING_DEPENDENT] = "dependent",
  };
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  if (d->http.asked)
    json_http (b, d);
  json_builder_set_member_name (b, "stun");
  json_builder_begin_array (b);
  for (guint i = 0; i < d->probes->len; i++)
    json_probe (b, d->probes->pdata[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "nat");
  json_builder_add_boolean_value (b, d->nat_seen);
  json_builder_set_member_name (b, "mapping");
  json_builder_add_string_value (b, keys[d->mapping]);
  json_builder_set_member_name (b, "directLikely");
  json_builder_add_boolean_value (b, direct_likely (d));
  json_builder_set_member_name (b, "advice");
  json_builder_add_string_value (b, advice (d));
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
}

/* ---- the command ------------------------------------------------------------------- */

static int
run (Doctor *d)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GPtrArray) extra = g_ptr_array_new_with_free_func ((GDestroyNotify) probe_free);

  if (d->f->signal != NULL)
    {
      uri = g_uri_parse (d->f->signal, G_URI_FLAGS_NONE, NULL);
      if (uri == NULL || g_uri_get_host (uri) == NULL
          || (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0
              && g_strcmp0 (g_uri_get_scheme (uri), "https") != 0))
        {
          pp_cli_error ("usage", "--signal wants http(s)://HOST[:PORT], not '%s'", d->f->signal);
          return PP_EXIT_USAGE;
        }
    }
  for (guint i = 0; d->f->stun != NULL && d->f->stun[i] != NULL; i++)
    if (!add_stun_uri (extra, d->f->stun[i], &error))
      {
        pp_cli_error ("usage", "%s", error->message);
        return PP_EXIT_USAGE;
      }
  if (uri != NULL)
    {
      check_http (d, d->f->signal);
      add_signal_stun (d, uri); /* first: the STUN host and join use by default */
    }
  g_ptr_array_set_free_func (extra, NULL);
  g_ptr_array_extend_and_steal (d->probes, g_steal_pointer (&extra));
  for (guint i = 0; i < d->probes->len; i++)
    resolve (d->probes->pdata[i]);
  run_probes (d);
  conclude (d);
  if (d->f->json)
    print_json (d);
  else
    print_text (d);
  fflush (stdout);
  return d->http.asked && !d->http.ok ? PP_EXIT_UNAVAILABLE : PP_EXIT_OK;
}

int
pp_cmd_doctor (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  Flags f = { 0 };
  Doctor d = { 0 };
  int rc;

  if (!parse_flags (argc, argv, &f, &error))
    {
      flags_clear (&f);
      return pp_cli_usage_error ("doctor", error);
    }
  if (f.help)
    {
      fputs (doctor_help, stdout);
      flags_clear (&f);
      return PP_EXIT_OK;
    }
  d.f = &f;
  d.probes = g_ptr_array_new_with_free_func ((GDestroyNotify) probe_free);
  rc = run (&d);
  g_ptr_array_unref (d.probes);
  g_clear_object (&d.sock4);
  g_clear_object (&d.sock6);
  g_free (d.http.error);
  g_free (d.http.stun_ports);
  flags_clear (&f);
  return rc;
}
