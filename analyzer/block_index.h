/*
 * block_index.h - a snapshot's blocks in address order: sorting them, finding the block that
 * holds an address
 */
#ifndef HG_BLOCK_INDEX_H
#define HG_BLOCK_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct hg_block;

/*
 * Sort v[0..n) by address, ascending; blocks of equal address keep their order. The order
 * qsort() by address would give, several times faster on a million blocks (a radix sort on
 * the bits in which the addresses differ). Out-of-memory exits (diag.h).
 */
void hg_blocks_sort_by_addr(struct hg_block *v, size_t n);

/* Which of n blocks sorted by address holds an address: see hg_block_finder_find. */
struct hg_block_finder {
	const struct hg_block *b; /* the blocks, sorted by address (not owned) */
	uint64_t lo, end;         /* the first block's address; past the end of every block */
	struct hg_finder_seg {    /* a run of blocks with no gap of SEG_GAP between starts */
		uint64_t lo;      /* its first block's address */
		unsigned shift;   /* its bucket k holds addresses lo + (k << shift) and on */
		uint32_t n_buckets;
		size_t base;      /* its buckets' first entry in first[] */
	} *seg;
	size_t n_seg;
	uint32_t *first;          /* per bucket, the first block at or after its start; after
				     each segment's buckets, the block after that segment */
	size_t n_first;
};

/* Index b[0..n), sorted by address and left in place until release. Out-of-memory exits. */
void hg_block_finder_init(struct hg_block_finder *f, const struct hg_block *b, size_t n);
void hg_block_finder_release(struct hg_block_finder *f);

/*
 * The index of the block holding addr, at its start or inside it (a block of size 0 holds
 * its own address only), or -1. Blocks do not overlap in a live set; when they do (a damaged
 * trace), the answer is the last block starting at or before addr, if it holds addr.
 */
long hg_block_finder_find(const struct hg_block_finder *f, uint64_t addr);

#endif
