/*
 * live_count.h - the blocks each traced process has live, as the collector's records show
 * them, and the most one image had: the trace header's hint for a reader's tables (hg_format.h)
 */
#ifndef HG_LIVE_COUNT_H
#define HG_LIVE_COUNT_H

#include <stdint.h>

#define HG_LIVE_COUNT_SLOTS 1024u

struct hg_live_count {
	struct {
		uint32_t pid; /* 0: free */
		int64_t live; /* allocations less frees since the image began */
	} slot[HG_LIVE_COUNT_SLOTS];
	uint64_t max;     /* the most any image had */
	uint32_t max_pid; /* which */
	int unsure;       /* some ALLOC or FREE went uncounted (the ring's overflow slot) */
};

/*
 * A chunk of pid's records held `allocs` ALLOCs and `frees` FREEs; `fresh`: it began a new
 * image of pid (a PROCESS record), which counts from 0. A fork child counts from 0 too, and
 * its frees of what it inherited take it below. Processes share the slots by pid: one that
 * takes a slot from another restarts that one's count, which only makes the hint smaller.
 */
void hg_live_count_note(struct hg_live_count *lc, uint32_t pid, int fresh, uint64_t allocs,
			uint64_t frees);

#endif /* HG_LIVE_COUNT_H */
