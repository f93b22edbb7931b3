/*
 * live_count.c - live blocks per traced process, counted a chunk at a time
 *
 * The collector checks what it copies from a slot in chunks (one process's records since the
 * last pass over that slot), so the count is right at the end of each chunk and the most seen
 * can fall short of the true peak by what one chunk allocated and freed again. A reader takes
 * it as a size to start its table at, which a few entries more make grow once, as without it.
 */
#include "live_count.h"

void hg_live_count_note(struct hg_live_count *lc, uint32_t pid, int fresh, uint64_t allocs,
			uint64_t frees)
{
	uint32_t i = (pid * 2654435761u) >> 22; /* 10 bits: HG_LIVE_COUNT_SLOTS */

	_Static_assert(HG_LIVE_COUNT_SLOTS == 1u << 10, "slot index is 10 bits");
	if (lc->slot[i].pid != pid || fresh) {
		lc->slot[i].pid = pid;
		lc->slot[i].live = 0;
	}
	lc->slot[i].live += (int64_t)allocs - (int64_t)frees;
	if (lc->slot[i].live > 0 && (uint64_t)lc->slot[i].live > lc->max) {
		lc->max = (uint64_t)lc->slot[i].live;
		lc->max_pid = pid;
	}
}
