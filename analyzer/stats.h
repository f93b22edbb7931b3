/*
 * stats.h - statistics of a live set, as tracemalloc's Snapshot.statistics: group, filter, sort
 *
 * The input is "live bytes and blocks per stack id" of one process image at one moment (the
 * end, the peak, a time, a snapshot: see point.h), plus the whole run's per-site allocation
 * and temporary counts. Each stack is symbolized, stripped of the allocator's plumbing and
 * filtered (filter.h); what remains is credited to one group (its innermost frame's function,
 * line, file or module, or its whole traceback), or with cumulative to every group that any
 * of its frames belongs to (once per stack, even when recursion repeats a frame).
 *
 * A group's key identifies it across traces (symbolized names, never addresses), so two
 * statistics built the same way can be compared (hg_stats_find).
 */
#ifndef HG_STATS_H
#define HG_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "filter.h"
#include "frames.h"
#include "point.h"
#include "replay.h"

enum hg_group_by {
	HG_GROUP_TRACEBACK = 0, /* the whole (stripped, truncated) stack */
	HG_GROUP_FUNCTION = 1,  /* function, with its file and module */
	HG_GROUP_LINE = 2,      /* source file and line */
	HG_GROUP_FILE = 3,      /* source file */
	HG_GROUP_MODULE = 4     /* ELF object */
};

/* "traceback", "function", ... -> enum hg_group_by, or -1. */
int hg_group_by_parse(const char *name);
const char *hg_group_by_name(int group_by);

enum hg_stats_order {
	HG_ORDER_SIZE = 0,        /* live bytes, then live blocks */
	HG_ORDER_COUNT = 1,       /* live blocks, then live bytes */
	HG_ORDER_ALLOCATIONS = 2, /* allocations over the whole run (hot spots) */
	HG_ORDER_TEMPORARY = 3,   /* temporary allocations over the whole run */
	HG_ORDER_ALLOCATED = 4    /* bytes allocated over the whole run (churn by volume) */
};

/* "size", "count", ... -> enum hg_stats_order, or -1. */
int hg_stats_order_parse(const char *name);
const char *hg_stats_order_name(int order);

struct hg_stats_opts {
	int group_by;                     /* enum hg_group_by */
	int cumulative;                   /* credit every frame (not with HG_GROUP_TRACEBACK) */
	size_t max_frames;                /* frames a traceback keeps (key and display), >= 1 */
	const struct hg_filters *filters; /* NULL: keep everything, drop plumbing */
};

struct hg_stat {
	char *key;                 /* identity across traces: symbolized names joined */
	struct hg_frame *frames;   /* traceback: its frames; else the one frame naming the group */
	size_t n_frames;
	uint64_t offset;           /* frames[0]'s offset in its module (its address if none) */
	uint64_t bytes, blocks;    /* live at the chosen moment */
	uint64_t allocations;      /* whole run: allocations made by the group's stacks */
	uint64_t allocated_bytes;
	uint64_t temporary;        /* whole run: of those, temporary (replay.h) */
	uint64_t temporary_bytes;
	UT_hash_handle hh;
};

struct hg_stats {
	struct hg_stat *table;     /* all groups, by key */
	struct hg_stat **v;        /* after hg_stats_sort: the groups the order lists */
	size_t n;
	uint64_t bytes, blocks;    /* live in the traces kept (each counted once) */
	uint64_t allocations, allocated_bytes, temporary, temporary_bytes;
};

/*
 * Build the statistics of image im from live (per stack id live_bytes/live_blocks, n_live
 * entries; NULL for none) and im->sites (whole-run counts). Frame strings are borrowed from
 * f and the replay: they live as long as both. Out-of-memory exits.
 */
void hg_stats_build(struct hg_stats *st, struct hg_framer *f, const struct hg_image *im,
		    const struct hg_site *live, uint32_t n_live, const struct hg_stats_opts *o);

/*
 * hg_stats_build of what im had live at moment p, then hg_stats_sort by order. Returns 0, or
 * -1 (st empty) when im has no such moment (a snapshot it did not take). im NULL: empty.
 */
int hg_stats_build_at(struct hg_stats *st, struct hg_framer *f, const struct hg_image *im,
		      const struct hg_point_spec *p, const struct hg_stats_opts *o, int order);

/* List the groups that have something in `order` (bytes, allocations...), largest first. */
void hg_stats_sort(struct hg_stats *st, int order);

/* The group with this key, or NULL. */
struct hg_stat *hg_stats_find(const struct hg_stats *st, const char *key);

void hg_stats_release(struct hg_stats *st);

/* A group's one-line name for people: "f (file.c)", "file.c:12 (f)", "file.c", "libx.so";
 * text: with f as text output shortens it (names.h). */
char *hg_stat_name(const struct hg_stat *s, int group_by, int text, char *buf, size_t cap);

#endif /* HG_STATS_H */
