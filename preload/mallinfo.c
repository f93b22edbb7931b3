/*
 * mallinfo.c - sample glibc's own account of its heap (mallinfo2) into the trace
 *
 * mallinfo2 takes every arena's lock and walks its bins, so it runs at most once per period
 * (10 ms), from whichever thread allocates or frees first after the period ends, right after
 * the real call returned (no malloc lock is held then), and once more for each heap snapshot
 * before the other threads are stopped. `heapgraph frag` shows the sample nearest before a
 * snapshot beside its own page-level analysis.
 *
 * Runs in: inside malloc and free (after the real call), the snapshot path.
 */
#include <malloc.h>

#include "guard.h"
#include "hg_format.h"
#include "mallinfo.h"
#include "ring.h"

uint64_t hg_mallinfo_last_ns;

void hg_mallinfo_sample(uint64_t t_ns, uint64_t last)
{
	struct hg_rec_mallinfo rec;
	struct mallinfo2 mi;

	/* One thread per period: the others see the new time and go on. */
	if (!__atomic_compare_exchange_n(&hg_mallinfo_last_ns, &last, t_ns, 0, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	HG_INTERNAL(mi = mallinfo2());
	rec.hdr.type = HG_REC_MALLINFO;
	rec.hdr.flags = 0;
	rec.hdr.size_bytes = sizeof(rec);
	rec.t_ns = t_ns;
	rec.arena_bytes = mi.arena;
	rec.mmap_bytes = mi.hblkhd;
	rec.free_bytes = mi.fordblks;
	rec.releasable_bytes = mi.keepcost;
	hg_ring_put(&rec, sizeof(rec));
}
