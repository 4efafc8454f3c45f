/* SPDX-License-Identifier: MIT
 *
 * pp-reasm: the messages of one (tuple, direction) that arrived ahead of
 * the next expected chunk_id, waiting to be delivered in order
 * (docs/protocol.md §5).  Slots are allocated as chunks arrive, never
 * from total_chunks, and every chunk is checked against its siblings.
 * It neither charges credit nor decides what a violation costs: it only
 * says which rule a chunk broke.
 */
#pragma once

#include "core/pp-codec.h"

G_BEGIN_DECLS

typedef struct _PpReasm PpReasm;

typedef enum
{
  PP_REASM_OK = 0,
  PP_REASM_VIOLATION,
} PpReasmStatus;

PpReasm *pp_reasm_new (void);
void pp_reasm_free (PpReasm *r);
/* Entries held (whole or partial messages). */
guint pp_reasm_count (const PpReasm *r);
gboolean pp_reasm_is_empty (const PpReasm *r);

/* Stores one chunk of message @p->chunk_id, which must lie within 1024
 * ids ahead of @rx_next (the caller checked).  @payload is a reference to
 * the chunk's bytes (NULL when empty) and is taken on success only.
 * @units is the credit the chunk was charged (0 for non-DATA). */
PpReasmStatus pp_reasm_add (PpReasm *r, uint16_t rx_next, const PpPacket *p,
                            GBytes *payload, uint32_t units, const char **why);

/* Pops the message with id @rx_next when every chunk is there.  Returns
 * FALSE otherwise.  *payload (transfer full, NULL when empty) is the
 * whole message; *units the sum of its chunks' units. */
gboolean pp_reasm_pop (PpReasm *r, uint16_t rx_next, uint8_t *event,
                       GBytes **payload, uint32_t *units);

/* Drops everything; returns the units the dropped chunks were charged. */
uint64_t pp_reasm_clear (PpReasm *r);

G_END_DECLS
