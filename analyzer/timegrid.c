/*
 * timegrid.c - round event times to the trace's time resolution, never across a barrier
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "diag.h"
#include "timegrid.h"

/* Index of the first barrier >= t. */
static size_t lower_bound(const struct hg_timegrid *g, uint64_t t)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (g->barriers[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void hg_timegrid_add(struct hg_timegrid *g, uint64_t t_ns)
{
	size_t i = lower_bound(g, t_ns);

	if (i < g->n && g->barriers[i] == t_ns)
		return;
	if (g->n == HG_TIMEGRID_KEEP) {
		if (i == 0)
			return; /* older than all kept: no event can still be before it */
		memmove(g->barriers, g->barriers + 1, --i * sizeof(*g->barriers));
		g->n--;
	}
	HG_GROW(g->barriers, g->cap, g->n + 1);
	memmove(g->barriers + i + 1, g->barriers + i, (g->n - i) * sizeof(*g->barriers));
	g->barriers[i] = t_ns;
	g->n++;
}

void hg_timegrid_sync(struct hg_timegrid *g, const struct hg_ring_header *ring)
{
	uint64_t count = __atomic_load_n(&ring->barrier_count, __ATOMIC_SEQ_CST);
	uint64_t in_flight = __atomic_load_n(&ring->barriers_in_flight, __ATOMIC_SEQ_CST);

	if (!count && !in_flight)
		return;
	/* Every entry, not only the new ones: cheap, and an entry is never read half made. */
	for (uint32_t k = 0; k < HG_RING_BARRIERS && k < count; k++) {
		uint64_t t = __atomic_load_n(&ring->barrier_ns[k], __ATOMIC_SEQ_CST);
		if (t)
			hg_timegrid_add(g, t);
	}
	if (in_flight || count - g->seen_count > HG_RING_BARRIERS) {
		/* A barrier may be missing, stamped before now: nothing up to now is rounded, and
		 * what comes after stays after now. */
		uint64_t now = hg_clock_now_ordered(&hg_trace_clock);
		if (now > g->exact_until)
			g->exact_until = now;
		hg_timegrid_add(g, now);
	}
	g->seen_count = count;
}

uint64_t hg_timegrid_round(const struct hg_timegrid *g, uint64_t t)
{
	uint64_t r;
	size_t i;

	if (g->res_ns <= 1 || t <= g->exact_until)
		return t;
	r = t - t % g->res_ns;
	if (!g->n || g->barriers[g->n - 1] < r)
		return r;
	/* The newest barrier in [r, t) is the one the event must stay after. */
	i = lower_bound(g, t);
	if (i > 0 && g->barriers[i - 1] >= r)
		r = g->barriers[i - 1] + 1;
	return r;
}

void hg_timegrid_apply(const struct hg_timegrid *g, uint8_t *recs, size_t n)
{
	size_t off = 0;

	if (g->res_ns <= 1)
		return;
	while (off < n) {
		struct hg_rec *r = (struct hg_rec *)(recs + off);
		/* Each of these has its time right after the header (pinned in hg_format.h); a
		 * record too short to hold it is left for the reader to report. */
		if (r->size_bytes >= 16 &&
		    (r->type == HG_REC_ALLOC || r->type == HG_REC_FREE || r->type == HG_REC_MMAP ||
		     r->type == HG_REC_MUNMAP || r->type == HG_REC_MREMAP ||
		     r->type == HG_REC_MPROTECT)) {
			uint64_t *t = (uint64_t *)(r + 1);
			*t = hg_timegrid_round(g, *t);
		}
		off += r->size_bytes;
	}
}

void hg_timegrid_free(struct hg_timegrid *g)
{
	free(g->barriers);
	memset(g, 0, sizeof(*g));
}
