/*
 * graph.h - classify a snapshot's blocks: reachable, direct leak, indirect leak, leaked cycle
 */
#ifndef HG_GRAPH_H
#define HG_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"

enum hg_leak_kind {
	HG_REACHABLE = 0,  /* reachable from a root through pointers to block starts */
	HG_POSSIBLY = 1,   /* reachable, but only through some interior pointer */
	HG_DIRECT = 2,     /* unreachable; no unreachable block points to it; not in a cycle */
	HG_INDIRECT = 3,   /* unreachable; reached from a direct leak or a leaked cycle */
	HG_CYCLE = 4       /* unreachable; in a leaked cycle */
};

/* A pointer from one block to another: blocks[from] + offset holds an address in blocks[to]. */
struct hg_edge {
	uint32_t from;
	uint32_t to;
	uint32_t offset;   /* bytes from the start of `from` */
	uint32_t interior; /* 1: points inside `to`, not at its start */
};

/* A leaked cycle: a strongly connected set of unreachable blocks that nothing else leaked
 * points into. */
struct hg_cycle {
	uint32_t *blocks;  /* indexes into the snapshot's blocks */
	size_t n_blocks;
	struct hg_edge *edges; /* the edges among them: what closes the cycle */
	size_t n_edges;
	uint64_t bytes;
};

struct hg_graph {
	const struct hg_snapshot *sn;
	uint8_t *kind;       /* per block: enum hg_leak_kind */
	uint32_t *owner;     /* per indirect block: the direct block or first block of the cycle
				that reaches it; UINT32_MAX otherwise */
	struct hg_cycle *cycles;
	size_t n_cycles;
	uint64_t bytes[5];   /* per enum hg_leak_kind */
	uint64_t blocks[5];
	uint64_t n_edges;    /* heap edges found */
	uint64_t n_roots;    /* root words pointing at a block */
};

/*
 * Classify sn (its live blocks, regions and pairs). Returns 0, or -1 when the snapshot is not
 * usable (its live set was never taken: a damaged trace). Out-of-memory exits (diag.h).
 */
int hg_graph_build(struct hg_graph *g, const struct hg_snapshot *sn);
void hg_graph_release(struct hg_graph *g);

/* An address range [lo, hi). */
struct hg_range {
	uint64_t lo, hi;
};

/*
 * malloc's own memory among sn's regions, sorted and merged: the brk heap is not included
 * (all of it is malloc's); for anonymous regions, glibc's heaps around small blocks and each
 * large block's own mapping. The caller frees the array.
 */
struct hg_range *hg_graph_malloc_ranges(const struct hg_snapshot *sn, size_t *n);

/*
 * Whether b, in region r, is a chunk glibc mapped for it alone (a large block: malloc's
 * mmap threshold is 128 KiB at first), and if so the pages of that mapping in *pages. Such a
 * chunk starts 16 bytes into its first page; a large block inside an arena rarely does.
 */
int hg_graph_mmapped_chunk(const struct hg_block *b, const struct hg_region *r,
			   struct hg_range *pages);

/*
 * The heap of malloc's that holds block b, in region r: the whole brk heap, or for a small
 * block in an anonymous region, glibc's heap around it (its HEAP_WINDOW, within r), as
 * hg_graph_malloc_ranges counts them. Returns 0 (and leaves *heap alone) for a block glibc
 * mapped on its own, or one outside malloc's memory.
 */
int hg_graph_heap_of(const struct hg_block *b, const struct hg_region *r, struct hg_range *heap);

/* Whether addr lies in one of the sorted ranges. */
int hg_graph_in_ranges(const struct hg_range *v, size_t n, uint64_t addr);

/* The region of sn holding addr, or NULL. */
const struct hg_region *hg_graph_region_of(const struct hg_snapshot *sn, uint64_t addr);

#endif /* HG_GRAPH_H */
