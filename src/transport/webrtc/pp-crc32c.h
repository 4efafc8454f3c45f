/* SPDX-License-Identifier: MIT
 *
 * pp-crc32c: CRC32c (Castagnoli) for the SCTP common header.  With
 * usrsctp's CRC offload on, outgoing packets carry no checksum; we fill it
 * in here (SSE4.2 when the CPU has it, a table otherwise) so browsers still
 * see valid packets.  Pure; no state besides a lazily built table.
 */
#pragma once

#include <stdint.h>
#include <stddef.h>

/* The standard CRC32c of @len bytes (init and final xor 0xFFFFFFFF). */
uint32_t pp_crc32c (const void *data, size_t len);
/* Same, through the portable table only (for tests). */
uint32_t pp_crc32c_sw (const void *data, size_t len);
/* Zeroes the checksum field of an SCTP packet (offset 8) and stores the
 * CRC32c there in the byte order usrsctp uses; no-op below 12 bytes. */
void pp_crc32c_sctp_fill (uint8_t *packet, size_t len);
