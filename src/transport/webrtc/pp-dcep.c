/* SPDX-License-Identifier: MIT
 *
 * pp-dcep: RFC 8832 parsing with every length checked against the input
 * (unlike the parsers in research/webrtc-c.md §5, which read 32-bit fields
 * with ntohs or stop one byte short).  Nothing here allocates on failure.
 */
#include "pp-dcep.h"

#include <string.h>

static uint16_t
rd16 (const uint8_t *p)
{
  return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
rd32 (const uint8_t *p)
{
  return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static gboolean
channel_type_known (uint8_t t)
{
  switch (t)
    {
    case 0x00: case 0x01: case 0x02:
    case 0x80: case 0x81: case 0x82:
      return TRUE;
    default:
      return FALSE;
    }
}

PpDcepStatus
pp_dcep_parse (const uint8_t *data, size_t len, PpDcepMessage *out)
{
  size_t need;

  memset (out, 0, sizeof *out);
  if (len == 0)
    return PP_DCEP_ERR_EMPTY;
  out->type = data[0];
  if (out->type == PP_DCEP_ACK)
    return len == 1 ? PP_DCEP_OK : PP_DCEP_ERR_TRAILING;
  if (out->type != PP_DCEP_OPEN)
    return PP_DCEP_ERR_UNKNOWN_TYPE;
  if (len < PP_DCEP_OPEN_HEADER)
    return PP_DCEP_ERR_TRUNCATED;
  out->channel_type = data[1];
  out->priority = rd16 (data + 2);
  out->reliability = rd32 (data + 4);
  out->label_len = rd16 (data + 8);
  out->protocol_len = rd16 (data + 10);
  need = PP_DCEP_OPEN_HEADER + (size_t) out->label_len + out->protocol_len;
  if (len < need)
    return PP_DCEP_ERR_TRUNCATED;
  if (len > need)
    return PP_DCEP_ERR_TRAILING;
  if (!channel_type_known (out->channel_type))
    return PP_DCEP_ERR_BAD_CHANNEL_TYPE;
  out->label = data + PP_DCEP_OPEN_HEADER;
  out->protocol = out->label + out->label_len;
  return PP_DCEP_OK;
}

PpDcepAction
pp_dcep_decide (uint16_t stream, PpDcepStatus status, const PpDcepMessage *msg)
{
  switch (status)
    {
    case PP_DCEP_OK:
      break;
    case PP_DCEP_ERR_EMPTY:
    case PP_DCEP_ERR_UNKNOWN_TYPE:
    case PP_DCEP_ERR_TRUNCATED:
    case PP_DCEP_ERR_TRAILING:
    case PP_DCEP_ERR_BAD_CHANNEL_TYPE:
    default:
      return PP_DCEP_ACTION_RESET;
    }
  if (msg->type == PP_DCEP_ACK)
    return PP_DCEP_ACTION_IGNORE;
  return stream == 0 ? PP_DCEP_ACTION_ACCEPT : PP_DCEP_ACTION_ACK_AND_RESET;
}

const char *
pp_dcep_status_to_string (PpDcepStatus status)
{
  switch (status)
    {
    case PP_DCEP_OK:
      return "ok";
    case PP_DCEP_ERR_EMPTY:
      return "empty DCEP message";
    case PP_DCEP_ERR_UNKNOWN_TYPE:
      return "unknown DCEP message type";
    case PP_DCEP_ERR_TRUNCATED:
      return "DCEP message shorter than its lengths";
    case PP_DCEP_ERR_TRAILING:
      return "bytes after the end of the DCEP message";
    case PP_DCEP_ERR_BAD_CHANNEL_TYPE:
      return "unknown DCEP channel type";
    default:
      return "unknown DCEP error";
    }
}

GBytes *
pp_dcep_build_open (uint8_t channel_type, const char *label, const char *protocol)
{
  size_t ll = strlen (label), pl = strlen (protocol);
  uint8_t *b;

  g_return_val_if_fail (ll <= G_MAXUINT16 && pl <= G_MAXUINT16, NULL);
  b = g_malloc0 (PP_DCEP_OPEN_HEADER + ll + pl);
  b[0] = PP_DCEP_OPEN;
  b[1] = channel_type;
  b[2] = 0x01;   /* priority 256: normal */
  b[8] = (uint8_t) (ll >> 8);
  b[9] = (uint8_t) ll;
  b[10] = (uint8_t) (pl >> 8);
  b[11] = (uint8_t) pl;
  memcpy (b + PP_DCEP_OPEN_HEADER, label, ll);
  memcpy (b + PP_DCEP_OPEN_HEADER + ll, protocol, pl);
  return g_bytes_new_take (b, PP_DCEP_OPEN_HEADER + ll + pl);
}
