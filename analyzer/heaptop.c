/*
 * heaptop.c - how far up each part of the address space the program was ever given blocks
 *
 * glibc takes memory from the system ahead of need: its first sbrk is the request plus a
 * 128 KiB pad, a thread's heap grows by the same pad, and what is not yet handed out sits at
 * the top of the heap, in its top chunk, untouched. A snapshot sees which blocks are live, not
 * which were handed out and freed: the top above the highest live block may be memory the
 * program used (and freed, still resident) or memory it never had (not resident). The replay
 * notes here every block it applies, so that at a snapshot frag can tell the two apart.
 *
 * A mark per window of the address space holds the highest end of a block that started in it.
 * Marks only grow: a free, or glibc giving the top back, does not lower them, as it does not
 * make the memory one that was never handed out (a top given back is not resident either, but
 * counting it as used only understates what is untouched).
 */
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "heaptop.h"

/* Index of the first mark whose window is >= w. */
static size_t lower_bound(const struct hg_heaptop *h, uint64_t w)
{
	size_t lo = 0, hi = h->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (h->v[mid].window < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void hg_heaptop_note_slow(struct hg_heaptop *h, uint64_t addr, uint64_t end)
{
	uint64_t w = addr >> HG_HEAPTOP_SHIFT;
	size_t i = lower_bound(h, w);

	if (i == h->n || h->v[i].window != w) {
		HG_GROW(h->v, h->cap, h->n + 1);
		memmove(h->v + i + 1, h->v + i, (h->n - i) * sizeof(*h->v));
		h->v[i] = (struct hg_heaptop_mark){ w, end };
		h->n++;
	} else if (end > h->v[i].end) {
		h->v[i].end = end;
	}
	h->last = i;
}

uint64_t hg_heaptop_high(const struct hg_heaptop *h, uint64_t lo, uint64_t hi)
{
	uint64_t high = lo;

	if (hi <= lo)
		return lo;
	for (size_t i = lower_bound(h, lo >> HG_HEAPTOP_SHIFT);
	     i < h->n && h->v[i].window <= (hi - 1) >> HG_HEAPTOP_SHIFT; i++)
		if (h->v[i].end > high)
			high = h->v[i].end;
	return high < hi ? high : hi;
}

void hg_heaptop_copy(struct hg_heaptop *dst, const struct hg_heaptop *src)
{
	hg_heaptop_release(dst);
	if (!src->n)
		return;
	dst->v = hg_xmalloc(src->n * sizeof(*dst->v));
	memcpy(dst->v, src->v, src->n * sizeof(*dst->v));
	dst->n = dst->cap = src->n;
	dst->last = src->last;
}

void hg_heaptop_release(struct hg_heaptop *h)
{
	free(h->v);
	memset(h, 0, sizeof(*h));
}
