/* SPDX-License-Identifier: MIT
 *
 * pp-dcep: the Data Channel Establishment Protocol (RFC 8832) messages and
 * the one decision DESIGN §6 needs: an OPEN on stream 0 is our tunnel
 * channel (label ignored), an OPEN on any other stream is acknowledged and
 * then reset.  Pure: bytes in, a verdict out; no SCTP here.
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stddef.h>

G_BEGIN_DECLS

#define PP_DCEP_PPID 50
#define PP_DCEP_OPEN 0x03
#define PP_DCEP_ACK 0x02
#define PP_DCEP_OPEN_HEADER 12

typedef enum
{
  PP_DCEP_OK = 0,
  PP_DCEP_ERR_EMPTY,
  PP_DCEP_ERR_UNKNOWN_TYPE,
  PP_DCEP_ERR_TRUNCATED,        /* shorter than its header or its lengths */
  PP_DCEP_ERR_TRAILING,         /* bytes after label and protocol */
  PP_DCEP_ERR_BAD_CHANNEL_TYPE,
} PpDcepStatus;

typedef enum
{
  PP_DCEP_ACTION_IGNORE = 0,    /* an ACK: we never open channels with DCEP */
  PP_DCEP_ACTION_ACCEPT,        /* OPEN on stream 0: send ACK, it is the tunnel */
  PP_DCEP_ACTION_ACK_AND_RESET, /* OPEN elsewhere: send ACK, then reset the stream */
  PP_DCEP_ACTION_RESET,         /* malformed: reset the stream */
} PpDcepAction;

typedef struct
{
  uint8_t type;                 /* PP_DCEP_OPEN or PP_DCEP_ACK */
  uint8_t channel_type;
  uint16_t priority;
  uint32_t reliability;
  const uint8_t *label;         /* borrowed from the input */
  uint16_t label_len;
  const uint8_t *protocol;
  uint16_t protocol_len;
} PpDcepMessage;

PpDcepStatus pp_dcep_parse (const uint8_t *data, size_t len, PpDcepMessage *out);
PpDcepAction pp_dcep_decide (uint16_t stream, PpDcepStatus status, const PpDcepMessage *msg);
const char *pp_dcep_status_to_string (PpDcepStatus status);

/* An OPEN for a reliable, unordered channel (tests and fuzz seeds). */
GBytes *pp_dcep_build_open (uint8_t channel_type, const char *label, const char *protocol);

G_END_DECLS
