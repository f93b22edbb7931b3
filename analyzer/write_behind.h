/*
 * write_behind.h - pack, compress and write the collector's staged records in a second thread
 *
 * Writing a flush (the event model's packing, then zstd) takes the collector 2-3 ms per MiB.
 * Done in the draining thread, no slot is drained meanwhile, and a fast producer fills its
 * window and waits, which widens its window (ring.c): sqlite3's grew to the whole 1 MiB slot.
 * The collector therefore hands each stage's buffer to this thread and goes on draining into
 * an empty one. Work is done in the order it was queued, so the file is what the collector
 * would have written itself.
 */
#ifndef HG_WRITE_BEHIND_H
#define HG_WRITE_BEHIND_H

#include <stddef.h>
#include <stdint.h>

#include "trace_writer.h"

struct hg_write_behind;

/*
 * Start the thread that writes to w (which it owns from now on, until hg_write_behind_stop).
 * Falls back to writing in the caller's thread when no thread can be made. Never NULL.
 */
struct hg_write_behind *hg_write_behind_start(struct hg_trace_writer *w);

/*
 * Queue len bytes of whole records from (pid, tid), staged in *buf (capacity *cap), to be cut
 * into blocks and written; `origins` when records belong to the HG_REC_ORIGIN before them
 * (the overflow slot's stream: no block may start without its origin). Takes the buffer and
 * gives back an empty one in *buf and *cap (possibly NULL and 0). Waits while more than a few
 * MiB are queued: the ring then fills, and the producers wait for room, as for a slow disk.
 */
void hg_write_behind_stage(struct hg_write_behind *b, uint32_t pid, uint32_t tid, int origins,
			   uint8_t **buf, size_t *cap, size_t len);

/* How the blocks queued from now on are written (hg_trace_writer_mode). Returns 0 when the
 * writer ignores modes (no compression), else 1. */
int hg_write_behind_mode(struct hg_write_behind *b, enum hg_pack_mode mode);

/* Queue an END block (hg_trace_writer_end), and wait until it and everything before it are
 * in the file. */
void hg_write_behind_end(struct hg_write_behind *b, int final);

/*
 * Write what is queued, end the thread, and hand back the writer; *failed is set when a write
 * failed (the writer printed why). NULL b: NULL.
 */
struct hg_trace_writer *hg_write_behind_stop(struct hg_write_behind *b, int *failed);

#endif /* HG_WRITE_BEHIND_H */
