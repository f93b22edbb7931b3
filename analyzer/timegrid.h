/*
 * timegrid.h - round event times to the trace's time resolution, never across a barrier
 *
 * Nanosecond timestamps are most of a compressed trace: two allocations a few hundred
 * nanoseconds apart differ in a byte or two that never repeats, while the rest of a program's
 * events (which stack, which size, which address malloc hands back) repeat and compress to
 * almost nothing. The collector therefore rounds the times of those events (ALLOC, FREE and the
 * program's own mmap family) down to a resolution (1 ms by default). Order within a thread is
 * kept by the file; across threads, events in the same tick sort frees first. The analyzer also
 * compares events with a few exact times, the barriers (an image's start, a fork, a heap
 * snapshot): an event stamped after a barrier gets at least the barrier's time plus one, so
 * that it stays after it.
 */
#ifndef HG_TIMEGRID_H
#define HG_TIMEGRID_H

#include <stddef.h>
#include <stdint.h>

#include "hg_format.h"

struct hg_timegrid {
	uint64_t res_ns;      /* resolution; 0 or 1: times stay exact */
	uint64_t seen_count;  /* the ring's barrier_count at the last read */
	uint64_t *barriers;   /* every barrier read, ascending, the newest HG_TIMEGRID_KEEP */
	size_t n, cap;
	uint64_t exact_until; /* times up to this stay exact: a barrier went unread */
};

#define HG_TIMEGRID_KEEP 4096u

/*
 * Read the ring's barriers: call after the load-acquire of a slot's head, before rounding the
 * records copied from it. When a barrier is in flight, or more were published since the last
 * read than the ring keeps, one may be missing: every time up to now (CLOCK_MONOTONIC, taken
 * after that was seen) then stays exact, and now becomes a barrier.
 */
void hg_timegrid_sync(struct hg_timegrid *g, const struct hg_ring_header *ring);

/* Add one barrier (tests; hg_timegrid_sync adds the ring's). */
void hg_timegrid_add(struct hg_timegrid *g, uint64_t t_ns);

/* t rounded down to the resolution, but above every barrier below t; t itself when it is not
 * after exact_until. */
uint64_t hg_timegrid_round(const struct hg_timegrid *g, uint64_t t);

/* Round the times of the events (ALLOC, FREE, MMAP, MUNMAP, MREMAP, MPROTECT) among n bytes
 * of whole records. */
void hg_timegrid_apply(const struct hg_timegrid *g, uint8_t *recs, size_t n);

void hg_timegrid_free(struct hg_timegrid *g);

#endif /* HG_TIMEGRID_H */
