/* SPDX-License-Identifier: MIT
 *
 * pp-sdp: a line-by-line SDP reader that keeps session-level values and
 * lets the chosen m=application section override them (RFC 8839/8122), and
 * a generator for the minimal offer and answer of research/webrtc-c.md §1.2.
 * It never trusts lengths or counts from the text and never calls libnice:
 * candidates are checked here so one bad line cannot abort the rest.
 */
#include "pp-sdp.h"

#include <string.h>

typedef enum
{
  SECTION_SESSION,
  SECTION_DATA,                 /* the m=application section we use */
  SECTION_OTHER,                /* any other m= section, or ours once over */
} Section;

typedef struct
{
  char *ufrag;
  char *pwd;
  gboolean have_fp;
  uint8_t fp[PP_SDP_FINGERPRINT_LEN];
  PpSdpSetup setup;
  gboolean setup_bad;
} Level;

typedef struct
{
  Level session;
  Level media;
  Section section;
  gboolean found;               /* a data section was chosen */
  gboolean data_done;           /* … and is already behind us */
  PpSdp *out;
} Parser;

static void
level_clear (Level *l)
{
  g_clear_pointer (&l->ufrag, g_free);
  g_clear_pointer (&l->pwd, g_free);
}

static gboolean
is_ice_chars (const char *s, size_t min, size_t max)
{
  size_t n = strlen (s);

  if (n < min || n > max)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum (s[i]) && s[i] != '+' && s[i] != '/')
      return FALSE;
  return TRUE;
}

void
pp_sdp_fingerprint_format (const uint8_t fp[PP_SDP_FINGERPRINT_LEN],
                           char out[3 * PP_SDP_FINGERPRINT_LEN])
{
  static const char hex[] = "0123456789ABCDEF";

  for (size_t i = 0; i < PP_SDP_FINGERPRINT_LEN; i++)
    {
      out[3 * i] = hex[fp[i] >> 4];
      out[3 * i + 1] = hex[fp[i] & 15];
      out[3 * i + 2] = i + 1 < PP_SDP_FINGERPRINT_LEN ? ':' : '\0';
    }
}

gboolean
pp_sdp_fingerprint_parse (const char *hex, uint8_t out[PP_SDP_FINGERPRINT_LEN])
{
  size_t n = 0;
  const char *p = hex;

  while (n < PP_SDP_FINGERPRINT_LEN)
    {
      int hi = g_ascii_xdigit_value (p[0]);
      int lo = hi < 0 ? -1 : g_ascii_xdigit_value (p[1]);
      if (lo < 0)
        return FALSE;
      out[n++] = (uint8_t) (hi << 4 | lo);
      p += 2;
      if (n < PP_SDP_FINGERPRINT_LEN && *p++ != ':')
        return FALSE;
    }
  return *p == '\0';
}

const char *
pp_sdp_setup_to_string (PpSdpSetup setup)
{
  switch (setup)
    {
    case PP_SDP_SETUP_ACTPASS:
      return "actpass";
    case PP_SDP_SETUP_ACTIVE:
      return "active";
    case PP_SDP_SETUP_PASSIVE:
      return "passive";
    case PP_SDP_SETUP_NONE:
    default:
      return "none";
    }
}

const char *
pp_sdp_status_to_string (PpSdpStatus status)
{
  switch (status)
    {
    case PP_SDP_OK:
      return "ok";
    case PP_SDP_ERR_SYNTAX:
      return "not an SDP session description";
    case PP_SDP_ERR_NO_DATA_SECTION:
      return "no m=application section with UDP/DTLS/SCTP";
    case PP_SDP_ERR_NO_ICE:
      return "a=ice-ufrag or a=ice-pwd missing or malformed";
    case PP_SDP_ERR_NO_FINGERPRINT:
      return "no a=fingerprint:sha-256 with 32 bytes";
    case PP_SDP_ERR_BAD_SETUP:
      return "a=setup is not actpass, active or passive";
    default:
      return "unknown SDP error";
    }
}

/* ---- candidates ---- */

char *
pp_sdp_candidate_normalize (const char *line, size_t len)
{
  g_autofree char *s = g_strndup (line, len);
  g_auto (GStrv) tok = NULL;
  char *c;

  g_strstrip (s);
  c = g_str_has_prefix (s, "a=") ? s + 2 : s;
  if (!g_str_has_prefix (c, "candidate:") || strlen (c) > 1024)
    return NULL;
  for (const char *p = c; *p != '\0'; p++)
    if (!g_ascii_isprint (*p))
      return NULL;
  tok = g_strsplit (c + strlen ("candidate:"), " ", 9);
  if (g_strv_length (tok) < 8 || strcmp (tok[6], "typ") != 0)
    return NULL;
  if (strcmp (tok[1], "1") != 0 || g_ascii_strcasecmp (tok[2], "udp") != 0)
    return NULL;   /* RTCP component, or ICE-TCP: we run UDP only */
  if (!g_hostname_is_ip_address (tok[4]))
    return NULL;   /* mDNS ".local" name: left to peer-reflexive discovery */
  return g_strconcat ("a=", c, NULL);
}

/* ---- parser ---- */

static Level *
current_level (Parser *p)
{
  return p->section == SECTION_SESSION ? &p->session : &p->media;
}

static void
parse_fingerprint (Level *l, const char *v)
{
  const char *sp = strchr (v, ' ');

  if (sp == NULL || (size_t) (sp - v) != 7 || g_ascii_strncasecmp (v, "sha-256", 7) != 0)
    return;   /* other hashes are allowed beside sha-256; we only check sha-256 */
  while (*sp == ' ')
    sp++;
  if (pp_sdp_fingerprint_parse (sp, l->fp))
    l->have_fp = TRUE;
}

static void
parse_setup (Level *l, const char *v)
{
  if (g_ascii_strcasecmp (v, "actpass") == 0)
    l->setup = PP_SDP_SETUP_ACTPASS;
  else if (g_ascii_strcasecmp (v, "active") == 0)
    l->setup = PP_SDP_SETUP_ACTIVE;
  else if (g_ascii_strcasecmp (v, "passive") == 0)
    l->setup = PP_SDP_SETUP_PASSIVE;
  else
    l->setup_bad = TRUE;
}

static gboolean
parse_u64 (const char *v, uint64_t max, uint64_t *out)
{
  guint64 n;

  if (!g_ascii_string_to_unsigned (v, 10, 0, max, &n, NULL))
    return FALSE;
  *out = n;
  return TRUE;
}

static void
parse_media_only (Parser *p, const char *name, const char *v)
{
  PpSdp *out = p->out;
  uint64_t n;

  if (strcmp (name, "mid") == 0 && out->mid == NULL && *v != '\0' && strlen (v) <= 64)
    out->mid = g_strdup (v);
  else if (strcmp (name, "sctp-port") == 0 && parse_u64 (v, 65535, &n) && n > 0)
    out->sctp_port = (uint16_t) n;
  else if (strcmp (name, "max-message-size") == 0 && parse_u64 (v, G_MAXUINT64, &n))
    out->max_message_size = n;
  else if (strcmp (name, "candidate") == 0)
    {
      g_autofree char *line = g_strconcat ("candidate:", v, NULL);
      char *c = pp_sdp_candidate_normalize (line, strlen (line));
      if (c != NULL && out->candidates->len < PP_SDP_MAX_CANDIDATES)
        g_ptr_array_add (out->candidates, c);
      else
        {
          g_free (c);
          out->candidates_skipped++;
        }
    }
}

static void
replace (char **slot, const char *v)
{
  g_free (*slot);
  *slot = g_strdup (v);
}

static void
parse_attribute (Parser *p, const char *a)
{
  const char *colon = strchr (a, ':');
  g_autofree char *name = colon ? g_strndup (a, (gsize) (colon - a)) : g_strdup (a);
  const char *v = colon ? colon + 1 : "";
  Level *l;

  if (p->section == SECTION_OTHER)
    return;
  l = current_level (p);
  if (strcmp (name, "ice-ufrag") == 0)
    replace (&l->ufrag, v);
  else if (strcmp (name, "ice-pwd") == 0)
    replace (&l->pwd, v);
  else if (strcmp (name, "fingerprint") == 0 && !l->have_fp)
    parse_fingerprint (l, v);
  else if (strcmp (name, "setup") == 0)
    parse_setup (l, v);
  else if (strcmp (name, "ice-lite") == 0 && p->section == SECTION_SESSION)
    p->out->ice_lite = TRUE;
  else if (p->section == SECTION_DATA)
    parse_media_only (p, name, v);
}

/* "m=application 9 UDP/DTLS/SCTP webrtc-datachannel" */
static void
parse_media_line (Parser *p, const char *m)
{
  g_auto (GStrv) tok = g_strsplit (m, " ", 4);
  guint64 port;

  if (p->found)
    {
      p->data_done = TRUE;
      p->section = SECTION_OTHER;
      return;
    }
  p->section = SECTION_OTHER;
  if (g_strv_length (tok) < 4 || strcmp (tok[0], "application") != 0)
    return;
  if (strstr (tok[2], "DTLS/SCTP") == NULL)
    return;
  if (!g_ascii_string_to_unsigned (tok[1], 10, 0, 65535, &port, NULL) || port == 0)
    return;   /* port 0: a rejected section */
  p->found = TRUE;
  p->section = SECTION_DATA;
  p->out->proto = g_strdup (tok[2]);
  p->out->fmt = g_strdup (g_strstrip (tok[3]));
}

static void
parse_line (Parser *p, const char *line)
{
  if (line[0] == '\0' || line[1] != '=')
    return;   /* tolerated: blank lines and junk are skipped, not fatal */
  switch (line[0])
    {
    case 'm':
      parse_media_line (p, line + 2);
      break;
    case 'a':
      parse_attribute (p, line + 2);
      break;
    default:
      break;
    }
}

static PpSdpStatus
finish (Parser *p)
{
  PpSdp *out = p->out;
  Level *m = &p->media, *s = &p->session;

  if (!p->found)
    return PP_SDP_ERR_NO_DATA_SECTION;
  out->ufrag = g_strdup (m->ufrag ? m->ufrag : s->ufrag);
  out->pwd = g_strdup (m->pwd ? m->pwd : s->pwd);
  if (out->ufrag == NULL || out->pwd == NULL || !is_ice_chars (out->ufrag, 4, 256)
      || !is_ice_chars (out->pwd, 22, 256))
    return PP_SDP_ERR_NO_ICE;
  if (!m->have_fp && !s->have_fp)
    return PP_SDP_ERR_NO_FINGERPRINT;
  memcpy (out->fingerprint, m->have_fp ? m->fp : s->fp, PP_SDP_FINGERPRINT_LEN);
  if (m->setup_bad || (m->setup == PP_SDP_SETUP_NONE && s->setup_bad))
    return PP_SDP_ERR_BAD_SETUP;
  out->setup = m->setup != PP_SDP_SETUP_NONE ? m->setup : s->setup;
  if (out->mid == NULL)
    out->mid = g_strdup ("0");
  return PP_SDP_OK;
}

PpSdpStatus
pp_sdp_parse (const char *text, size_t len, PpSdp *out, const char **reason)
{
  Parser p = { .out = out };
  PpSdpStatus st;
  size_t pos = 0;

  memset (out, 0, sizeof *out);
  out->sctp_port = 5000;
  out->max_message_size = PP_SDP_DEFAULT_MAX_MESSAGE;
  out->candidates = g_ptr_array_new_with_free_func (g_free);
  st = PP_SDP_ERR_SYNTAX;
  if (len < 3 || len > PP_SDP_MAX_TEXT || memchr (text, '\0', len) != NULL
      || strncmp (text, "v=0", 3) != 0)
    goto out;
  while (pos < len)
    {
      const char *nl = memchr (text + pos, '\n', len - pos);
      size_t end = nl ? (size_t) (nl - text) : len;
      g_autofree char *line = g_strndup (text + pos, end - pos);
      parse_line (&p, g_strchomp (line));
      pos = end + 1;
    }
  st = finish (&p);
out:
  level_clear (&p.session);
  level_clear (&p.media);
  if (st != PP_SDP_OK)
    {
      pp_sdp_clear (out);
      if (reason != NULL)
        *reason = pp_sdp_status_to_string (st);
    }
  return st;
}

void
pp_sdp_clear (PpSdp *sdp)
{
  g_free (sdp->ufrag);
  g_free (sdp->pwd);
  g_free (sdp->mid);
  g_free (sdp->proto);
  g_free (sdp->fmt);
  if (sdp->candidates != NULL)
    g_ptr_array_unref (sdp->candidates);
  memset (sdp, 0, sizeof *sdp);
}

/* ---- generator ---- */

char *
pp_sdp_generate (const PpSdpLocal *l)
{
  GString *s = g_string_sized_new (1024);
  const char *mid = l->mid ? l->mid : "0";
  char fp[3 * PP_SDP_FINGERPRINT_LEN];
  PpSdpSetup setup = l->offer ? PP_SDP_SETUP_ACTPASS : l->setup;

  pp_sdp_fingerprint_format (l->fingerprint, fp);
  g_string_append_printf (s, "v=0\r\no=- %" G_GUINT64_FORMAT " 2 IN IP4 127.0.0.1\r\n"
                          "s=-\r\nt=0 0\r\n", l->session_id & ((G_GUINT64_CONSTANT (1) << 62) - 1));
  g_string_append_printf (s, "a=group:BUNDLE %s\r\na=msid-semantic: WMS\r\n", mid);
  g_string_append_printf (s, "m=application 9 %s %s\r\nc=IN IP4 0.0.0.0\r\n",
                          l->proto ? l->proto : "UDP/DTLS/SCTP",
                          l->fmt ? l->fmt : "webrtc-datachannel");
  g_string_append_printf (s, "a=mid:%s\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\n",
                          mid, l->ufrag, l->pwd);
  g_string_append_printf (s, "a=fingerprint:sha-256 %s\r\na=setup:%s\r\n", fp,
                          pp_sdp_setup_to_string (setup));
  g_string_append_printf (s, "a=sctp-port:%u\r\na=max-message-size:%" G_GUINT64_FORMAT "\r\n",
                          l->sctp_port ? l->sctp_port : 5000u, l->max_message_size);
  for (const char *const *c = l->candidates; c != NULL && *c != NULL; c++)
    {
      const char *v = g_str_has_prefix (*c, "a=") ? *c + 2 : *c;
      g_string_append_printf (s, "a=%s\r\n", v);
    }
  g_string_append (s, "a=end-of-candidates\r\n");
  return g_string_free (s, FALSE);
}
