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
 * the blocks' span into about as many buckets as there are blocks (at most 2n+1), with the
 * first block at or after each bucket's start, so a word takes one table read and a search
 * among the few blocks of its bucket.
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

void hg_block_finder_init(struct hg_block_finder *f, const struct hg_block *b, size_t n)
{
	size_t i = 0;
	uint64_t span;

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
	}
	span = b[n - 1].addr - f->lo;
	while (f->shift < 63 && (span >> f->shift) >= 2 * (uint64_t)n)
		f->shift++;
	f->n_buckets = (size_t)(span >> f->shift) + 1;
	f->first = hg_xmalloc((f->n_buckets + 1) * sizeof(*f->first));
	for (size_t k = 0; k < f->n_buckets; k++) {
		while (i < n && ((b[i].addr - f->lo) >> f->shift) < k)
			i++;
		f->first[k] = (uint32_t)i;
	}
	f->first[f->n_buckets] = (uint32_t)n;
}

void hg_block_finder_release(struct hg_block_finder *f)
{
	free(f->first);
	memset(f, 0, sizeof(*f));
}

long hg_block_finder_find(const struct hg_block_finder *f, uint64_t addr)
{
	size_t k, lo, hi;

	if (addr < f->lo || addr >= f->end)
		return -1;
	k = (size_t)((addr - f->lo) >> f->shift);
	if (k >= f->n_buckets)
		k = f->n_buckets - 1;
	/* The last block starting at or before addr: in bucket k, else the last one before. */
	lo = f->first[k];
	hi = f->first[k + 1];
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
