/*
 * block_index.c - a snapshot's blocks in address order: sorting them, finding the block that
 * holds an address
 *
 * A snapshot's live set comes out of a hash table in no order, and the reference graph looks
 * every recorded word up in it, so each snapshot sorts it first: a million blocks at exit
 * took qsort() 110 ms, more than a third of `heapgraph leaks` on such a heap, its comparisons
 * going through a function pointer and its moves through memcpy. The sort here is a
 * least-significant-digit radix sort, stable, on the address relative to the lowest one,
 * shifted right by the low bits that are zero in every block (malloc aligns to 16): the heap
 * of a process spans far fewer bits than 64, so a GiB of 16-byte-aligned blocks takes three
 * passes of 11 bits. Each pass counts digits, then moves whole blocks to a second array, and
 * the two arrays swap roles.
 *
 * Then the lookups: a binary search of a million blocks is twenty dependent reads, most of
 * them cache misses, and took a quarter of `heapgraph leaks` on that heap. The finder cuts
 * the blocks' span into about as many buckets as there are blocks (at most 2n per run of
 * blocks), with the first block at or after each bucket's start, so a word takes one table
 * read and a search among the few blocks of its bucket. The span is cut first into segments
 * where two blocks' starts are SEG_GAP apart or more, each with buckets of its own width: a
 * heap's blocks lie in a few dense areas far apart (the brk heap, malloc's mmapped chunks
 * 2^45 bytes above it, thread arenas), and buckets over the whole span put every block of a
 * dense area in a handful of them (a CPython heap of 2 million blocks: 2 buckets, and its
 * leaks spent 40% of their time in the binary search inside).
 */
#include "block_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "replay.h"

#define DIGIT_BITS 11
#define BUCKETS (1u << DIGIT_BITS)
#define SMALL 64 /* fewer blocks than this: insertion sort */

static void insertion_sort(struct hg_block *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct hg_block b = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1].addr > b.addr; j--)
			v[j] = v[j - 1];
		v[j] = b;
	}
}

/* One pass: from `from` into `to` by digit (((addr - lo) >> shift) & (BUCKETS - 1)). */
static void pass(const struct hg_block *from, struct hg_block *to, size_t n, uint64_t lo,
		 unsigned shift, size_t *count)
{
	size_t sum = 0;

	memset(count, 0, BUCKETS * sizeof(*count));
	for (size_t i = 0; i < n; i++)
		count[((from[i].addr - lo) >> shift) & (BUCKETS - 1)]++;
	for (unsigned d = 0; d < BUCKETS; d++) {
		size_t c = count[d];

		count[d] = sum;
		sum += c;
	}
	for (size_t i = 0; i < n; i++)
		to[count[((from[i].addr - lo) >> shift) & (BUCKETS - 1)]++] = from[i];
}

void hg_blocks_sort_by_addr(struct hg_block *v, size_t n)
{
	uint64_t lo = UINT64_MAX, hi = 0, differ = 0;
	struct hg_block *tmp, *from = v, *to;
	size_t *count;
	unsigned shift, top;

	if (n < SMALL) {
		insertion_sort(v, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		lo = v[i].addr < lo ? v[i].addr : lo;
		hi = v[i].addr > hi ? v[i].addr : hi;
	}
	for (size_t i = 0; i < n; i++)
		differ |= v[i].addr - lo;
	if (!differ)
		return; /* one address: already in order */
	shift = (unsigned)__builtin_ctzll(differ);
	top = 64 - (unsigned)__builtin_clzll(hi - lo); /* bits above which all are equal */
	tmp = hg_xmalloc(n * sizeof(*tmp));
	count = hg_xmalloc(BUCKETS * sizeof(*count));
	to = tmp;
	for (; shift < top; shift += DIGIT_BITS) {
		struct hg_block *was = from;

		pass(from, to, n, lo, shift, count);
		from = to;
		to = was;
	}
	if (from != v)
		memcpy(v, from, n * sizeof(*v));
	free(count);
	free(tmp);
}

/* Where a gap between two blocks' starts ends a segment (hg_block_finder.seg). */
#define SEG_GAP (1ull << 20)

/* Whether sorted block j starts a segment: the first, or SEG_GAP or more past the one before. */
static int starts_segment(const struct hg_block *b, size_t j)
{
	return j == 0 || b[j].addr - b[j - 1].addr >= SEG_GAP;
}

/* Segment s, from block i to block j (exclusive), its buckets from f->first[at]; returns the
 * first entry after its own. */
static size_t segment(struct hg_block_finder *f, struct hg_finder_seg *s, size_t i, size_t j,
		      size_t at)
{
	uint64_t span = f->b[j - 1].addr - f->b[i].addr;
	size_t n = j - i;

	s->lo = f->b[i].addr;
	s->shift = 0;
	while (s->shift < 63 && (span >> s->shift) >= 2 * (uint64_t)n)
		s->shift++;
	s->n_buckets = (uint32_t)((span >> s->shift) + 1);
	s->base = at;
	for (size_t k = 0; k < s->n_buckets; k++) {
		while (i < j && ((f->b[i].addr - s->lo) >> s->shift) < k)
			i++;
		f->first[at++] = (uint32_t)i;
	}
	f->first[at++] = (uint32_t)j;
	return at;
}

void hg_block_finder_init(struct hg_block_finder *f, const struct hg_block *b, size_t n)
{
	size_t at = 0, from = 0;

	memset(f, 0, sizeof(*f));
	f->b = b;
	if (!n)
		return;
	f->lo = b[0].addr;
	for (size_t j = 0; j < n; j++) {
		uint64_t e = b[j].addr + (b[j].size_bytes ? b[j].size_bytes : 1);

		if (e < b[j].addr)
			e = UINT64_MAX; /* a damaged trace's block at the top of the address space */
		f->end = e > f->end ? e : f->end;
		f->n_seg += starts_segment(b, j);
	}
	/* A segment of m blocks has at most 2m buckets, and one entry more. */
	f->n_first = 2 * n + 2 * f->n_seg;
	f->seg = hg_xmalloc(f->n_seg * sizeof(*f->seg));
	f->first = hg_xmalloc(f->n_first * sizeof(*f->first));
	for (size_t j = 1, k = 0; j <= n; j++)
		if (j == n || starts_segment(b, j)) {
			at = segment(f, &f->seg[k++], from, j, at);
			from = j;
		}
	f->n_first = at;
}

void hg_block_finder_release(struct hg_block_finder *f)
{
	free(f->seg);
	free(f->first);
	memset(f, 0, sizeof(*f));
}

long hg_block_finder_find(const struct hg_block_finder *f, uint64_t addr)
{
	const struct hg_finder_seg *s;
	size_t k, lo = 0, hi = f->n_seg;

	if (addr < f->lo || addr >= f->end)
		return -1;
	/* The last segment starting at or before addr (the first one does). */
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (f->seg[mid].lo <= addr)
			lo = mid;
		else
			hi = mid;
	}
	s = &f->seg[lo];
	k = (size_t)((addr - s->lo) >> s->shift);
	if (k >= s->n_buckets)
		k = s->n_buckets - 1;
	/* The last block starting at or before addr: in bucket k, else the last one before
	 * (that bucket's first block is never the segment's first unless addr is before it). */
	lo = f->first[s->base + k];
	hi = f->first[s->base + k + 1];
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (f->b[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	lo--;
	return addr == f->b[lo].addr || addr - f->b[lo].addr < f->b[lo].size_bytes ? (long)lo : -1;
}
