/*
 * frag.c - why the resident set stays high: live bytes, free bytes malloc keeps, page occupancy
 *
 * At a snapshot the analyzer knows every live block and, from the regions the shim scanned,
 * where malloc's memory is (graph.c). A page of that memory either holds some live byte (with
 * the block's 16-byte chunk header) or none. Pages with none are free memory malloc keeps:
 * malloc_trim(0) can give them back (it releases whole free pages inside free chunks and the
 * top of the heap). Pages with only a little live data (less than a quarter) are what keeps a
 * heap from shrinking after most of it was freed; each is charged to the allocation stack of
 * the block holding most of its live bytes. The highest block of the brk heap bounds how far
 * the heap itself can shrink.
 *
 * Not all free memory was ever used: glibc takes memory from the system ahead of need (132 KiB
 * at its first sbrk), and the top of each heap above every block the program was ever given
 * (heaptop.h) was never handed out. It is free, but not resident and not fragmentation: it is
 * counted apart, and left out of what malloc_trim(0) would gain.
 *
 * Where the resident set goes: malloc's memory (its span), the program's own anonymous
 * mappings (the mmap domain, which is not malloc's), and the rest (code, stacks, libraries'
 * data, the tracer's own tables); without a resident-set sample, why there is none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "frag.h"
#include "graph.h"
#include "heaptop.h"
#include "hg_format.h"
#include "peak.h"
#include "units.h"

#define CHUNK_HEADER 16u

struct page_acc {
	uint64_t page;     /* page number being accumulated, UINT64_MAX before the first */
	uint64_t live;     /* live bytes on it */
	long best;         /* block with most bytes on it */
	uint64_t best_bytes;
};

struct pin_acc {
	uint64_t blocks, live_bytes, pinned_bytes;
	long last_block;   /* a block pinning several pages counts once */
};

static uint64_t span_of(const struct hg_snapshot *sn, const struct hg_range *mr, size_t n_mr)
{
	uint64_t span = 0;

	for (size_t i = 0; i < sn->n_regions; i++) {
		const struct hg_region *r = &sn->regions[i];
		if (r->kind == HG_REGION_BRK)
			span += r->hi - r->lo;
		if (r->kind != HG_REGION_ANON)
			continue;
		for (size_t k = 0; k < n_mr; k++) {
			uint64_t lo = mr[k].lo > r->lo ? mr[k].lo : r->lo;
			uint64_t hi = mr[k].hi < r->hi ? mr[k].hi : r->hi;
			span += hi > lo ? hi - lo : 0;
		}
	}
	return span;
}

static void close_page(struct hg_frag *fr, struct page_acc *pa, struct pin_acc *pins,
		       const struct hg_snapshot *sn)
{
	struct pin_acc *p;

	if (pa->page == UINT64_MAX)
		return;
	fr->pages_with_live_data++;
	if (pa->live >= HG_SPARSE_PAGE_LIVE || pa->best < 0)
		return;
	p = &pins[sn->blocks[pa->best].stack_id];
	p->pinned_bytes += HG_PAGE_BYTES;
	if (p->last_block != pa->best) {
		p->blocks++;
		p->live_bytes += sn->blocks[pa->best].size_bytes;
		p->last_block = pa->best;
	}
}

/*
 * Add [lo, hi) of block b to the page accounting: its first page and its last may be shared
 * with other blocks; the pages between are full of it, so each is a page of live data that
 * pins nothing, counted all at once (a block of gigabytes is as quick as one of bytes).
 */
static void add_bytes(struct hg_frag *fr, struct page_acc *pa, struct pin_acc *pins,
		      const struct hg_snapshot *sn, long b, uint64_t lo, uint64_t hi)
{
	while (lo < hi) {
		uint64_t page = lo / HG_PAGE_BYTES, end = (page + 1) * HG_PAGE_BYTES;
		uint64_t n = (hi < end ? hi : end) - lo;
		if (page != pa->page) {
			close_page(fr, pa, pins, sn);
			*pa = (struct page_acc){ page, 0, -1, 0 };
		}
		pa->live += n;
		if (n > pa->best_bytes) {
			pa->best = b;
			pa->best_bytes = n;
		}
		lo += n;
		if (hi - lo > HG_PAGE_BYTES) { /* whole pages follow, then the last */
			uint64_t full = (hi - lo - 1) / HG_PAGE_BYTES;
			close_page(fr, pa, pins, sn);
			*pa = (struct page_acc){ UINT64_MAX, 0, -1, 0 };
			fr->pages_with_live_data += full;
			lo += full * HG_PAGE_BYTES;
		}
	}
}

static int by_pinned(const void *a, const void *b)
{
	const struct hg_frag_pinner *x = a, *y = b;

	if (x->pinned_bytes != y->pinned_bytes)
		return x->pinned_bytes > y->pinned_bytes ? -1 : 1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

/* [high, h.hi), the untouched top of heap h, into fr. */
static void add_untouched(struct hg_frag *fr, struct hg_range h, uint64_t high)
{
	uint64_t first_page = (high + HG_PAGE_BYTES - 1) / HG_PAGE_BYTES;

	fr->untouched_top_bytes += h.hi - high;
	if (h.hi / HG_PAGE_BYTES > first_page)
		fr->pages_untouched += h.hi / HG_PAGE_BYTES - first_page;
}

const struct hg_mallinfo *hg_frag_mallinfo(const struct hg_image *im,
					   const struct hg_snapshot *sn)
{
	uint64_t t = hg_image_time(im, sn->t_ns);
	const struct hg_mallinfo *mi = hg_mallinfo_at(im, t);

	for (uint32_t i = 0; mi && i < im->n_snapshots; i++) {
		uint64_t ti = im->snapshots[i]->t_ns - im->t_start_ns;
		if (im->snapshots[i] != sn && ti > mi->t_ns && ti < t)
			return NULL;
	}
	return mi;
}

/*
 * The top of each of malloc's heaps above the highest block the program was ever given there
 * (sn->heaptop): the brk heap, blocks or not, and glibc's heaps that hold live blocks (the
 * others are not in the span; blocks are sorted, so one heap's come together). The tracer's
 * own first blocks, made before the program's and unrecorded, may lie above all the program's
 * in the brk heap (a program that never allocates there): glibc's top chunk, as its count
 * gives it, bounds that top.
 */
static void untouched_tops(struct hg_frag *fr, const struct hg_image *im,
			   const struct hg_snapshot *sn)
{
	const struct hg_mallinfo *mi = hg_frag_mallinfo(im, sn);
	struct hg_range last = { 0, 0 }, h;

	for (size_t i = 0; i < sn->n_regions; i++) {
		uint64_t high;
		if (sn->regions[i].kind != HG_REGION_BRK)
			continue;
		h = (struct hg_range){ sn->regions[i].lo, sn->regions[i].hi };
		high = hg_heaptop_high(&sn->heaptop, h.lo, h.hi);
		if (mi && h.hi - high > mi->releasable_bytes)
			high = h.hi - mi->releasable_bytes;
		add_untouched(fr, h, high);
	}
	for (size_t i = 0; i < sn->n_blocks; i++) {
		const struct hg_region *r = hg_graph_region_of(sn, sn->blocks[i].addr);
		if (!r || r->kind != HG_REGION_ANON || !hg_graph_heap_of(&sn->blocks[i], r, &h) ||
		    h.lo == last.lo)
			continue;
		last = h;
		add_untouched(fr, h, hg_heaptop_high(&sn->heaptop, h.lo, h.hi));
	}
	if (fr->untouched_top_bytes > fr->allocator_free_bytes) /* chunk headers, estimated */
		fr->untouched_top_bytes = fr->allocator_free_bytes;
	if (fr->pages_untouched > fr->pages_free)
		fr->pages_untouched = fr->pages_free;
}

static void collect_pinners(struct hg_frag *fr, const struct pin_acc *pins, size_t n)
{
	fr->pinners = hg_xmalloc(sizeof(*fr->pinners) * (n ? n : 1));
	for (size_t i = 0; i < n; i++)
		if (pins[i].pinned_bytes)
			fr->pinners[fr->n_pinners++] = (struct hg_frag_pinner){ (uint32_t)i,
				pins[i].blocks, pins[i].live_bytes, pins[i].pinned_bytes };
	qsort(fr->pinners, fr->n_pinners, sizeof(*fr->pinners), by_pinned);
}

void hg_frag_build(struct hg_frag *fr, const struct hg_image *im, const struct hg_snapshot *sn)
{
	size_t n_mr, n_stacks = 1;
	struct hg_range *mr = hg_graph_malloc_ranges(sn, &n_mr);
	struct page_acc pa = { UINT64_MAX, 0, -1, 0 };
	struct pin_acc *pins;
	uint64_t brk_hi = 0;

	memset(fr, 0, sizeof(*fr));
	fr->top_block = -1;
	for (size_t i = 0; i < sn->n_blocks; i++)
		if (sn->blocks[i].stack_id >= n_stacks)
			n_stacks = (size_t)sn->blocks[i].stack_id + 1;
	pins = hg_xcalloc(n_stacks, sizeof(*pins));
	for (size_t i = 0; i < n_stacks; i++)
		pins[i].last_block = -1;
	for (size_t i = 0; i < sn->n_blocks; i++) {
		const struct hg_block *b = &sn->blocks[i];
		const struct hg_region *r = hg_graph_region_of(sn, b->addr);
		struct hg_range own;

		if (!r || (r->kind != HG_REGION_BRK && !(r->kind == HG_REGION_ANON &&
							  hg_graph_in_ranges(mr, n_mr, b->addr))))
			continue; /* not in malloc's memory (a bootstrap or foreign block) */
		fr->live_bytes += b->size_bytes;
		fr->live_blocks++;
		if (hg_graph_mmapped_chunk(b, r, &own)) {
			/* Its pages are its alone, the slack of the last one too, and its free
			 * unmaps them all: none is free memory malloc keeps, none pinned. */
			fr->pages_with_live_data += (own.hi - own.lo) / HG_PAGE_BYTES;
			continue;
		}
		/* Within its region: a size past it (a damaged trace's) would count pages that
		 * are not malloc's. */
		add_bytes(fr, &pa, pins, sn, (long)i, b->addr - CHUNK_HEADER,
			  b->size_bytes < r->hi - b->addr ? b->addr + b->size_bytes : r->hi);
		if (r->kind == HG_REGION_BRK) {
			fr->top_block = (long)i;
			brk_hi = r->hi;
		}
	}
	close_page(fr, &pa, pins, sn);
	fr->heap_span_bytes = span_of(sn, mr, n_mr);
	fr->allocator_free_bytes = fr->heap_span_bytes > fr->live_bytes + CHUNK_HEADER * fr->live_blocks
		? fr->heap_span_bytes - fr->live_bytes - CHUNK_HEADER * fr->live_blocks : 0;
	fr->pages_free = fr->heap_span_bytes / HG_PAGE_BYTES > fr->pages_with_live_data
		? fr->heap_span_bytes / HG_PAGE_BYTES - fr->pages_with_live_data : 0;
	untouched_tops(fr, im, sn);
	/* An untouched page is not resident: giving it back gains nothing. */
	fr->trim_estimate_bytes = (fr->pages_free - fr->pages_untouched) * HG_PAGE_BYTES;
	if (fr->top_block >= 0) {
		const struct hg_block *t = &sn->blocks[fr->top_block];
		fr->above_top_bytes = brk_hi > t->addr + t->size_bytes ? brk_hi - t->addr - t->size_bytes : 0;
	}
	fr->rss_bytes = hg_rss_at(im, hg_image_time(im, sn->t_ns));
	if (fr->rss_bytes) {
		/* Free pages already given back (an earlier malloc_trim) are not resident. */
		uint64_t live_pages = fr->pages_with_live_data * HG_PAGE_BYTES;
		uint64_t resident_free = fr->rss_bytes > live_pages ? fr->rss_bytes - live_pages : 0;
		if (fr->trim_estimate_bytes > resident_free)
			fr->trim_estimate_bytes = resident_free;
	}
	fr->mmap_bytes = sn->mmap_bytes;
	fr->mmap_mappings = sn->mmap_mappings;
	fr->gap_bytes = hg_frag_rest(fr->rss_bytes, fr->live_bytes, fr->mmap_bytes);
	fr->other_bytes = hg_frag_rest(fr->rss_bytes, fr->heap_span_bytes, fr->mmap_bytes);
	collect_pinners(fr, pins, n_stacks);
	free(pins);
	free(mr);
}

uint64_t hg_frag_rest(uint64_t rss, uint64_t a, uint64_t b)
{
	return rss > a + b ? rss - a - b : 0;
}

/* ns cut to the digits hg_format_duration shows: a run 50 us short of the interval must not
 * read "ran 10.0 ms, less than the 10 ms interval". */
static uint64_t as_shown(uint64_t ns)
{
	uint64_t unit = ns < 1000 ? 1 : ns < 1000000 ? 100 : ns < 1000000000 ? 100000 : 10000000;

	return ns - ns % unit;
}

/*
 * The collector samples every traced process at once, each pass that comes an interval or
 * more after the last, so samples are an interval apart or a little more (up to one pass of
 * its loop, a few ms when idle), in a phase unrelated to when a process starts. A process
 * that ran less than an interval may fall between two; one that ran two or more was passed by
 * a sample the collector failed to take: /proc/PID/statm unreadable (/proc mounted with
 * hidepid), or no ring slot of the process's own (a process that writes through the shared
 * overflow slot is not sampled). In between, either may be true.
 */
char *hg_frag_no_rss(char *buf, size_t cap, uint32_t interval_ms, uint64_t ran_ns, uint32_t pid)
{
	static const char more[] = "(record --rss-interval MS to sample more often)";
	uint64_t interval_ns = (uint64_t)interval_ms * 1000000u;
	char ran[32], which[48] = "";

	hg_format_duration(ran, sizeof(ran), as_shown(ran_ns));
	if (ran_ns != UINT64_MAX)
		snprintf(which, sizeof(which), " (which ran %s)", ran);
	if (interval_ms == HG_RSS_INTERVAL_OFF)
		snprintf(buf, cap, "no resident-set sample: sampling was off for this recording "
			 "(record --rss-interval MS turns it on)");
	else if (!interval_ms)
		snprintf(buf, cap, "no resident-set sample: sampling was off, or the process%s ended "
			 "before the first sample; this trace does not record which "
			 "(record --rss-interval MS)", which);
	else if (ran_ns == UINT64_MAX)
		snprintf(buf, cap, "no resident-set sample, with sampling every %u ms: the trace does "
			 "not say how long the process ran %s", interval_ms, more);
	else if (ran_ns < interval_ns)
		snprintf(buf, cap, "no resident-set sample: the process ran %s, less than the %u ms "
			 "sampling interval %s", ran, interval_ms, more);
	else if (ran_ns < 2 * interval_ns)
		snprintf(buf, cap, "no resident-set sample: the process ran %s, and samples come "
			 "every %u ms or a little more, none while it ran %s", ran, interval_ms, more);
	else
		snprintf(buf, cap, "no resident-set sample, though the process ran %s with sampling "
			 "every %u ms: the collector could not read /proc/%u/statm, or the process "
			 "had no ring slot of its own (record --slots)", ran, interval_ms, pid);
	return buf;
}

void hg_frag_release(struct hg_frag *fr)
{
	free(fr->pinners);
	memset(fr, 0, sizeof(*fr));
}
