/* SPDX-License-Identifier: MIT
 *
 * pp-reasm: out-of-order messages of one (tuple, direction), kept in a
 * small array sorted by distance from the next expected chunk_id.  The
 * order stays valid as that id advances, because it only ever advances
 * onto the first entry.  Multi-chunk messages keep their chunks sorted by
 * index, so a duplicate is found by binary search and memory grows only
 * with what arrived.
 */
#include "core/pp-reasm.h"

#include <string.h>

typedef struct
{
  uint16_t index;
  GBytes *bytes;               /* owned; NULL for an empty chunk */
} PpChunk;

typedef struct
{
  uint16_t id;
  uint8_t event;
  uint16_t total;              /* total_chunks announced */
  int32_t chunk_size;          /* size of every chunk but the last; -1 unknown */
  int32_t last_size;           /* -1 unknown */
  uint32_t units;              /* credit charged by the chunks so far */
  GBytes *single;              /* total == 1: the payload (owned, nullable) */
  GArray *chunks;              /* total > 1: PpChunk sorted by index */
} PpPending;

struct _PpReasm
{
  GPtrArray *entries;          /* PpPending, sorted by (id - rx_next) mod 2^16 */
};

static void
pending_free (gpointer data)
{
  PpPending *e = data;

  g_clear_pointer (&e->single, g_bytes_unref);
  if (e->chunks != NULL)
    {
      for (guint i = 0; i < e->chunks->len; i++)
        g_clear_pointer (&g_array_index (e->chunks, PpChunk, i).bytes, g_bytes_unref);
      g_array_unref (e->chunks);
    }
  g_free (e);
}

PpReasm *
pp_reasm_new (void)
{
  PpReasm *r = g_new0 (PpReasm, 1);

  r->entries = g_ptr_array_new_with_free_func (pending_free);
  return r;
}

void
pp_reasm_free (PpReasm *r)
{
  if (r == NULL)
    return;
  g_ptr_array_unref (r->entries);
  g_free (r);
}

guint
pp_reasm_count (const PpReasm *r)
{
  return r->entries->len;
}

gboolean
pp_reasm_is_empty (const PpReasm *r)
{
  return r->entries->len == 0;
}

/* Index of the entry for @id, or where it would be inserted (*found FALSE). */
static guint
find_entry (const PpReasm *r, uint16_t rx_next, uint16_t id, gboolean *found)
{
  uint16_t want = (uint16_t) (id - rx_next);
  guint lo = 0, hi = r->entries->len;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      const PpPending *e = g_ptr_array_index (r->entries, mid);
      uint16_t off = (uint16_t) (e->id - rx_next);

      if (off == want)
        {
          *found = TRUE;
          return mid;
        }
      if (off < want)
        lo = mid + 1;
      else
        hi = mid;
    }
  *found = FALSE;
  return lo;
}

/* All chunks but the last have one size; the last is not larger. */
static gboolean
check_chunk_size (PpPending *e, const PpPacket *p, const char **why)
{
  gboolean last = p->chunk_index == p->total_chunks - 1;
  int32_t size = p->payload_size;

  if (!last && size == 0)
    return (*why = "an empty chunk before the last one", FALSE);
  if (last)
    {
      if (e->chunk_size >= 0 && size > e->chunk_size)
        return (*why = "the last chunk is larger than the others", FALSE);
      e->last_size = size;
      return TRUE;
    }
  if (e->chunk_size >= 0 && size != e->chunk_size)
    return (*why = "chunks of one message differ in size", FALSE);
  if (e->last_size > size)
    return (*why = "the last chunk is larger than the others", FALSE);
  e->chunk_size = size;
  return TRUE;
}

static gboolean
insert_chunk (PpPending *e, const PpPacket *p, GBytes *payload, const char **why)
{
  guint lo = 0, hi = e->chunks->len;
  PpChunk c = { p->chunk_index, payload };

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;
      uint16_t idx = g_array_index (e->chunks, PpChunk, mid).index;

      if (idx == p->chunk_index)
        return (*why = "a chunk arrived twice", FALSE);
      if (idx < p->chunk_index)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (!check_chunk_size (e, p, why))
    return FALSE;
  g_array_insert_val (e->chunks, lo, c);
  return TRUE;
}

static PpPending *
pending_new (const PpPacket *p)
{
  PpPending *e = g_new0 (PpPending, 1);

  e->id = p->chunk_id;
  e->event = p->event;
  e->total = p->total_chunks;
  e->chunk_size = -1;
  e->last_size = -1;
  if (p->total_chunks > 1)
    e->chunks = g_array_sized_new (FALSE, FALSE, sizeof (PpChunk), 2);
  return e;
}

PpReasmStatus
pp_reasm_add (PpReasm *r, uint16_t rx_next, const PpPacket *p, GBytes *payload,
              uint32_t units, const char **why)
{
  gboolean found;
  guint pos = find_entry (r, rx_next, p->chunk_id, &found);
  PpPending *e;

  if (!found)
    {
      e = pending_new (p);
      if (p->total_chunks == 1)
        e->single = payload;
      else if (!insert_chunk (e, p, payload, why))
        {
          pending_free (e);
          return PP_REASM_VIOLATION;
        }
      e->units = units;
      g_ptr_array_insert (r->entries, (int) pos, e);
      return PP_REASM_OK;
    }

  e = g_ptr_array_index (r->entries, pos);
  if (e->event != p->event)
    return (*why = "chunks of one message disagree on the event", PP_REASM_VIOLATION);
  if (e->total != p->total_chunks)
    return (*why = "chunks of one message disagree on total_chunks", PP_REASM_VIOLATION);
  if (e->total == 1)
    return (*why = "a message arrived twice", PP_REASM_VIOLATION);
  if (!insert_chunk (e, p, payload, why))
    return PP_REASM_VIOLATION;
  e->units += units;
  return PP_REASM_OK;
}

static GBytes *
concat_chunks (const PpPending *e)
{
  size_t total = 0, off = 0;
  uint8_t *buf;

  for (guint i = 0; i < e->chunks->len; i++)
    {
      GBytes *b = g_array_index (e->chunks, PpChunk, i).bytes;
      total += b != NULL ? g_bytes_get_size (b) : 0;
    }
  if (total == 0)
    return NULL;
  buf = g_malloc (total);
  for (guint i = 0; i < e->chunks->len; i++)
    {
      GBytes *b = g_array_index (e->chunks, PpChunk, i).bytes;
      size_t n;
      const uint8_t *d;

      if (b == NULL)
        continue;
      d = g_bytes_get_data (b, &n);
      memcpy (buf + off, d, n);
      off += n;
    }
  return g_bytes_new_take (buf, total);
}

gboolean
pp_reasm_pop (PpReasm *r, uint16_t rx_next, uint8_t *event, GBytes **payload,
              uint32_t *units)
{
  PpPending *e;

  if (r->entries->len == 0)
    return FALSE;
  e = g_ptr_array_index (r->entries, 0);
  if (e->id != rx_next)
    return FALSE;
  if (e->total > 1 && e->chunks->len != e->total)
    return FALSE;

  *event = e->event;
  *units = e->units;
  if (e->total == 1)
    *payload = g_steal_pointer (&e->single);
  else
    *payload = concat_chunks (e);
  g_ptr_array_remove_index (r->entries, 0);
  return TRUE;
}

uint64_t
pp_reasm_clear (PpReasm *r)
{
  uint64_t units = 0;

  for (guint i = 0; i < r->entries->len; i++)
    units += ((PpPending *) g_ptr_array_index (r->entries, i))->units;
  g_ptr_array_set_size (r->entries, 0);
  return units;
}
