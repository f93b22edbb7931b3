/*
 * ring.h - producer side of the shared-memory ring
 *
 * Runs in: inside malloc, fork child, thread-exit destructor, constructor.
 */
#ifndef HG_RING_H
#define HG_RING_H

#include <stdint.h>
#include <string.h>

#include "guard.h"
#include "hg_format.h"

/* The mapped ring, or NULL when tracing is off. */
extern struct hg_ring_header *hg_ring;

/*
 * Attach to a mapped ring. ring must stay mapped for the life of the process (it is never
 * unmapped: records may be written until the very last free of the last destructor).
 */
void hg_ring_attach(struct hg_ring_header *ring);

/*
 * Write one record (rec->size_bytes bytes) into the calling thread's slot. Never fails loudly:
 * when the record cannot be written it is counted as lost, and the count reaches the trace.
 * Waits (back-pressure) while the slot is full and the collector is alive, or widens the
 * slot's window instead (hg_format.h). Caller holds the re-entrancy guard.
 */
void hg_ring_put_slow(const void *rec, uint32_t n);

static inline void hg_ring_copy_in(uint8_t *data, uint32_t size, uint64_t at, const void *src,
				   uint32_t n)
{
	uint32_t pos = (uint32_t)at & (size - 1);
	uint32_t first = size - pos;

	if (HG_LIKELY(n <= first)) {
		memcpy(data + pos, src, n);
		return;
	}
	memcpy(data + pos, src, first);
	memcpy(data, (const uint8_t *)src + first, n - first);
}

/* Whether the thread's slot has room for n more bytes below the tail it last saw. */
static inline int hg_ring_fits(const struct hg_thread *t, uint32_t n)
{
	return t->head + n - t->tail_cache <= t->window;
}

/* Publish the n bytes written at the thread's head: the release store orders the record's
 * bytes before the new head for the collector's acquire load. */
static inline void hg_ring_advance(struct hg_thread *t, uint32_t n)
{
	t->head += n;
	__atomic_store_n(&t->slot->head, t->head, __ATOMIC_RELEASE);
}

/* Fast path: the thread owns a slot with room. One copy and one release store of head. */
static inline void hg_ring_put(const void *rec, uint32_t n)
{
	struct hg_thread *t = &hg_tls;

	if (HG_UNLIKELY(!t->slot) || HG_UNLIKELY(!hg_ring_fits(t, n)))
		return hg_ring_put_slow(rec, n);
	hg_ring_copy_in(t->data, t->window, t->head, rec, n);
	hg_ring_advance(t, n);
}

/*
 * The fast path for a fixed-size record whose fields the caller stores straight into the
 * slot: where the next n bytes go, or `local` (the caller's own record) when hg_ring_put must
 * take it (no slot yet, no room, or the record would wrap round the slot's end). Built on the
 * stack and copied, a record is read back in 16-byte loads right after its fields' 8-byte
 * stores, a load the CPU cannot forward from the store buffer: it waits until the stores
 * have reached the cache, which was most of the shim's time in free(). hg_ring_publish then
 * publishes the record, wherever it was written.
 */
static inline void *hg_ring_room(void *local, uint32_t n)
{
	struct hg_thread *t = &hg_tls;
	uint32_t pos;

	if (HG_UNLIKELY(!t->slot) || HG_UNLIKELY(!hg_ring_fits(t, n)))
		return local;
	pos = (uint32_t)t->head & (t->window - 1);
	if (HG_UNLIKELY(t->window - pos < n))
		return local;
	return t->data + pos;
}

static inline void hg_ring_publish(const void *rec, const void *local, uint32_t n)
{
	if (HG_UNLIKELY(rec == local))
		return hg_ring_put_slow(local, n);
	hg_ring_advance(&hg_tls, n);
}

/*
 * Hold for a heap snapshot, which writes a stream of records with the rest of the process
 * stopped: as hg_ring_hold, in the thread's own slot, claimed now if it has none yet. When no
 * slot is free (more live threads in all traced processes than slots), the stream goes to the
 * shared overflow slot instead, whose lock it takes here and keeps until hg_ring_hold_end: a
 * thread the snapshot stops could otherwise be stopped holding that lock, and other writers of
 * the overflow slot wait meanwhile. Returns 1 when the caller is to end the hold, 0 when there
 * is no ring or the thread holds already.
 */
int hg_ring_hold_stream(uint64_t t_ns);

/*
 * Give the calling thread's slot back to the collector (thread exit, process exit). last: the
 * process is done, and a record written after this (stdio's cleanup) need not wait for the
 * earlier ones to be in the file; otherwise the next record does (see ring.c, keep_order).
 */
void hg_ring_release_thread(int last);

/* Fork child: the slot this thread held belongs to the parent; forget it without touching it. */
void hg_ring_forget_thread(void);

/*
 * New image (exec): the slot the old image's thread (this thread: exec keeps the tid) owned
 * becomes this thread's, so that the new image's records follow the old one's in the same
 * place; other slots still marked as owned by this pid (threads exec ended) are handed back.
 */
void hg_ring_adopt_pid(uint32_t pid);

/*
 * Ask the collector to write every record published so far to the trace file, and wait up to
 * timeout_ms for it. Used by a bare-mode root process on its way out, so that the trace is
 * complete when the program returns to its caller.
 */
void hg_ring_sync(unsigned timeout_ms);

/*
 * The time now, published as a barrier (see the ring header in hg_format.h): events stamped
 * after it stay after it once the collector rounds their times. An image's start (its PROCESS
 * record's time), a fork (the parent's time before fork()), a snapshot's time.
 */
uint64_t hg_ring_barrier_now(void);

/*
 * A record stamped at t_ns is still to come, after a call that may take longer than the
 * collector's horizon margin (the free of a large realloc, a large munmap: both are stamped
 * before the real call, which may copy or unmap for milliseconds). Until hg_ring_hold_end the
 * collector keeps its HG_REC_HORIZON below t_ns, through the slot's stall_ns. Returns 1 when
 * it took the hold, which the caller then ends; 0 when the thread holds already (the earlier
 * time stands) or has no slot of its own (none yet, or the overflow slot's: the margin alone
 * covers it).
 */
int hg_ring_hold(uint64_t t_ns);
void hg_ring_hold_end(void);

/* Whether a thread of this process has written through slot i (the overflow slot too); a fork
 * child starts with none (hg_ring_forget_used), as it starts with none of the ring's pages in
 * its page tables. */
int hg_ring_used_slot(uint32_t i);
void hg_ring_forget_used(void);

/* Events lost with no slot to record them in; reported by the collector. */
void hg_ring_count_lost(uint64_t n_events, uint64_t n_bytes);

#endif /* HG_RING_H */
