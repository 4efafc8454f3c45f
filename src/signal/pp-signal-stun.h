/* SPDX-License-Identifier: MIT
 *
 * pp-signal-stun: a STUN binding responder (RFC 5389, with RFC 3489 clients
 * answered too) so peers can learn their server-reflexive address from the
 * signaling host.  pp_signal_stun_answer() is pure: request bytes and the
 * source address in, response bytes out; the responder around it owns a UDP
 * socket on the main context and rate-limits per source address.  A response
 * is never larger than the request plus a constant (no amplification).
 */
#pragma once

#include <gio/gio.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

#define PP_STUN_MAGIC 0x2112A442u
#define PP_STUN_MAX_RESPONSE 64

/* Writes the binding response for @req (from @src_ip, 4 or 16 bytes, and
 * @src_port) into @out; returns its length, or 0 when @req is not a
 * well-formed binding request (drop it silently). */
size_t pp_signal_stun_answer (const uint8_t *req, size_t len, const uint8_t *src_ip,
                              size_t ip_len, uint16_t src_port, uint8_t out[PP_STUN_MAX_RESPONSE]);

/* CRC-32 (IEEE) as STUN's FINGERPRINT uses it. */
uint32_t pp_signal_stun_crc32 (const uint8_t *data, size_t len);

typedef struct _PpSignalStun PpSignalStun;

/* Binds UDP @addr (port 0: any) and answers on the thread-default context.
 * @per_s / @burst: per-source rate limit (0: none). */
PpSignalStun *pp_signal_stun_new (GSocketAddress *addr, double per_s, guint burst,
                                  GError **error);
guint16 pp_signal_stun_get_port (PpSignalStun *s);
guint64 pp_signal_stun_answered (PpSignalStun *s);
guint64 pp_signal_stun_dropped (PpSignalStun *s);
void pp_signal_stun_free (PpSignalStun *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PpSignalStun, pp_signal_stun_free)

G_END_DECLS
