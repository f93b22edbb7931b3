/*
 * leaks.h - `heapgraph leaks`: classify a snapshot and print the leaks
 */
#ifndef HG_LEAKS_H
#define HG_LEAKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "frames.h"
#include "graph.h"
#include "replay.h"
#include "report.h"

struct hg_json;

struct hg_leaks_opts {
	size_t top;        /* leak groups per process; 0 = all */
	size_t max_frames; /* frames per group in text output */
};

/* Names of enum hg_leak_kind: "reachable", "possibly", "direct", "indirect", "cycle". */
extern const char *const hg_leak_kind_name[5];

/* A set of kinds: HG_KIND_BIT(HG_DIRECT) | ...; HG_LEAK_KINDS is every kind of leak. */
#define HG_KIND_BIT(kind) (1u << (kind))
#define HG_LEAK_KINDS (HG_KIND_BIT(HG_DIRECT) | HG_KIND_BIT(HG_INDIRECT) | HG_KIND_BIT(HG_CYCLE))

/* Blocks of one kind from one allocation stack; indirect ones also by the leak holding them. */
struct hg_leak_group {
	uint8_t kind;          /* enum hg_leak_kind */
	uint8_t via_kind;      /* indirect: HG_DIRECT or HG_CYCLE; else 0 */
	uint32_t stack_id;
	uint32_t via_stack_id; /* indirect: allocation stack of the holding leak */
	uint64_t via_addr;     /* indirect: address of the holding block (a cycle's first) */
	uint64_t bytes, blocks;
};

/*
 * The blocks of g whose kind is in `kinds` (HG_KIND_BIT set), grouped by (kind, stack, via),
 * largest bytes first. *n gets the count; the caller frees the array. Out-of-memory exits.
 */
struct hg_leak_group *hg_leak_groups(const struct hg_graph *g, unsigned kinds, size_t *n);

/*
 * What `leaks` shows of a classified snapshot, kept after its graph, live set and pairs are
 * gone: a trace's images are classified one at a time as the replay finishes them, and printed
 * at the end.
 */
struct hg_leaks_found {
	const struct hg_snapshot *sn; /* label, time, threads, scan counts (its live set and
					 pairs may have been shed) */
	uint64_t live_blocks;         /* blocks in its live set */
	struct hg_leak_group *groups; /* hg_leak_groups of every leak kind */
	size_t n_groups;
	struct hg_cycle *cycles;      /* the graph's, their indexes into `blocks` */
	size_t n_cycles;
	struct hg_block *blocks;      /* the blocks in cycles */
	uint64_t kind_bytes[5];       /* per enum hg_leak_kind */
	uint64_t kind_blocks[5];
	uint64_t n_edges;             /* heap edges found */
};

/* Fill lf from g (its cycles move to lf). Out-of-memory exits. */
void hg_leaks_found_take(struct hg_leaks_found *lf, struct hg_graph *g);
void hg_leaks_found_release(struct hg_leaks_found *lf);

void hg_leaks_text(FILE *out, struct hg_framer *f, const struct hg_image *im,
		   const struct hg_leaks_found *lf, const struct hg_leaks_opts *o);
void hg_leaks_json(struct hg_json *j, struct hg_framer *f, const struct hg_replay *r,
		   const struct hg_image *im, const struct hg_leaks_found *lf,
		   const struct hg_leaks_opts *o);
/* Graphviz: one cluster per leaked cycle (inside a digraph the caller opens and closes). */
void hg_leaks_dot(FILE *out, struct hg_framer *f, const struct hg_image *im,
		  const struct hg_leaks_found *lf);

#endif /* HG_LEAKS_H */
