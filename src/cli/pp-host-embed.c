/* SPDX-License-Identifier: MIT
 *
 * pp-host-embed: `peerport host` without --signal (DESIGN §5, embedded
 * mode).  It runs src/signal's server in-process on --listen-signal, makes
 * each session in-process, and lists the join URLs: one per non-loopback
 * address the server listens on, then the loopback one.  The server listens
 * only while a session is waiting or being joined (the server's own rule);
 * this file never serves STUN and never talks HTTP itself.
 */
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "cli/pp-host.h"

GSocketAddress *
pp_host_parse_listen (const char *text, GError **error)
{
  g_autofree char *host = NULL;
  const char *port_text = text, *colon = strrchr (text, ':');
  g_autoptr (GInetAddress) addr = NULL;
  guint64 port = 0;

  if (colon != NULL)
    {
      host = g_strndup (text, (gsize) (colon - text));
      port_text = colon + 1;
      if (host[0] == '[' && host[strlen (host) - 1] == ']')
        {
          char *inner = g_strndup (host + 1, strlen (host) - 2);

          g_free (host);
          host = inner;
        }
    }
  if (host == NULL || host[0] == '\0' || g_strcmp0 (host, "*") == 0)
    addr = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  else
    addr = g_inet_address_new_from_string (host);
  if (addr == NULL || !g_ascii_string_to_unsigned (port_text, 10, 0, 65535, &port, NULL))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "bad --listen-signal \"%s\": expected ADDR:PORT with a numeric address, "
                   "e.g. 0.0.0.0:%d, [::]:%d or 127.0.0.1:0 (0: any free port)", text,
                   PP_HOST_DEFAULT_SIGNAL_PORT, PP_HOST_DEFAULT_SIGNAL_PORT);
      return NULL;
    }
  return g_inet_socket_address_new (addr, (guint16) port);
}

/* The address our own clients use to reach the server. */
static char *
embed_base (GInetSocketAddress *sa)
{
  GInetAddress *a = g_inet_socket_address_get_address (sa);
  guint port = g_inet_socket_address_get_port (sa);
  g_autofree char *text = NULL;

  if (g_inet_address_get_is_any (a))
    return g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6
           ? g_strdup_printf ("http://[::1]:%u", port)
           : g_strdup_printf ("http://127.0.0.1:%u", port);
  text = g_inet_address_to_string (a);
  if (g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6)
    return g_strdup_printf ("http://[%s]:%u", text, port);
  return g_strdup_printf ("http://%s:%u", text, port);
}

gboolean
pp_host_embed_start (PpHost *h, GError **error)
{
  PpSignalServerOptions o;

  pp_signal_server_options_init (&o);
  o.embedded = TRUE;
  h->server = pp_signal_server_new (&o, pp_signal_store_memory_new ());
  pp_signal_server_options_clear (&o);
  pp_signal_server_set_embedded_address (h->server, h->listen);
  return TRUE;
}

gboolean
pp_host_embed_create (PpHost *h, const uint8_t *fp, char **id, char **token, GError **error)
{
  char sid[PP_SIGNAL_ID_LEN + 1], stoken[PP_SIGNAL_TOKEN_LEN + 1];
  g_autoptr (GSocketAddress) bound = NULL;
  GInetSocketAddress *sa = G_INET_SOCKET_ADDRESS (h->listen);

  if (!pp_signal_server_create_session (h->server, h->name, fp, sid, stoken, error))
    return FALSE;
  /* With port 0 the port is known once the server listens; it keeps it. */
  if (g_inet_socket_address_get_port (sa) == 0)
    {
      bound = g_inet_socket_address_new (g_inet_socket_address_get_address (sa),
                                         pp_signal_server_get_port (h->server));
      g_set_object (&h->listen, bound);
    }
  g_free (h->base);
  h->base = embed_base (G_INET_SOCKET_ADDRESS (h->listen));
  *id = g_strdup (sid);
  *token = g_strdup (stoken);
  return TRUE;
}

/* Interface addresses of @family (non-loopback, up, not link-local), as
 * URL hosts. */
static void
embed_interface_hosts (int family, GPtrArray *out)
{
  struct ifaddrs *all = NULL;

  if (getifaddrs (&all) != 0)
    return;
  for (struct ifaddrs *i = all; i != NULL; i = i->ifa_next)
    {
      g_autoptr (GInetAddress) a = NULL;
      g_autofree char *text = NULL;
      gsize len = family == AF_INET ? sizeof (struct sockaddr_in)
                                    : sizeof (struct sockaddr_in6);
      g_autoptr (GSocketAddress) sa = NULL;

      if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family || !(i->ifa_flags & IFF_UP)
          || (i->ifa_flags & IFF_LOOPBACK))
        continue;
      sa = g_socket_address_new_from_native (i->ifa_addr, len);
      if (sa == NULL || !G_IS_INET_SOCKET_ADDRESS (sa))
        continue;
      a = g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (sa)));
      if (g_inet_address_get_is_link_local (a) || g_inet_address_get_is_loopback (a))
        continue;
      text = g_inet_address_to_string (a);
      g_ptr_array_add (out, family == AF_INET6 ? g_strdup_printf ("[%s]", text)
                                               : g_steal_pointer (&text));
    }
  freeifaddrs (all);
}

GStrv
pp_host_embed_urls (PpHost *h, const char *id, const uint8_t *fp)
{
  GInetSocketAddress *sa = G_INET_SOCKET_ADDRESS (h->listen);
  GInetAddress *a = g_inet_socket_address_get_address (sa);
  gboolean v6 = g_inet_address_get_family (a) == G_SOCKET_FAMILY_IPV6;
  g_autoptr (GPtrArray) hosts = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *urls = g_ptr_array_new ();

  if (g_inet_address_get_is_any (a))
    {
      embed_interface_hosts (v6 ? AF_INET6 : AF_INET, hosts);
      g_ptr_array_add (hosts, g_strdup (v6 ? "[::1]" : "127.0.0.1"));
    }
  else
    {
      char *text = g_inet_address_to_string (a);

      g_ptr_array_add (hosts, v6 ? g_strdup_printf ("[%s]", text) : g_strdup (text));
      g_free (text);
    }
  for (guint i = 0; i < hosts->len; i++)
    {
      g_autofree char *base = g_strdup_printf ("http://%s:%u",
                                               (char *) g_ptr_array_index (hosts, i),
                                               g_inet_socket_address_get_port (sa));

      g_ptr_array_add (urls, pp_signal_join_url (base, id, fp));
    }
  g_ptr_array_add (urls, NULL);
  return (GStrv) g_ptr_array_free (urls, FALSE);
}
