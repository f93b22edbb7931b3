/*
 * mallinfo.c - sample glibc's own account of its heap (mallinfo2) into the trace
 *
 * mallinfo2 takes every arena's lock and walks every free chunk in every bin: on a heap with
 * millions of free chunks one call costs milliseconds, so sampling it periodically on the
 * allocation path made a program that frees millions of objects quadratically slow (a CPython
 * shutdown ran for minutes). It is therefore sampled once per heap snapshot, before the other
 * threads are stopped, where `heapgraph frag` shows it beside its own page-level analysis.
 *
 * Runs in: the snapshot path.
 */
#include <malloc.h>

#include "guard.h"
#include "hg_format.h"
#include "mallinfo.h"
#include "ring.h"

void hg_mallinfo_sample(uint64_t t_ns)
{
	struct hg_rec_mallinfo rec;
	struct mallinfo2 mi;

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
