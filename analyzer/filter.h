/*
 * filter.h - which traces a statistic counts: include/exclude patterns, allocator plumbing
 *
 * As tracemalloc's Filter: a pattern (fnmatch) on a frame's function, source file or module.
 * A trace (a stack with its live blocks) is kept when at least one include filter matches it
 * (or there is none) and no exclude filter does. A filter looks at the innermost frame only,
 * or at every frame with all_frames.
 *
 * Before any filter, the innermost frames that belong to the allocator's plumbing are
 * dropped, so that the first frame is the code that asked for memory: the C library (strdup,
 * fopen's buffer), the C++ runtime (operator new), the dynamic loader, and heapgraph's shim.
 * Cumulative statistics do not credit such frames further out either (the C library's
 * start-up code and _start, which every stack shares).
 */
#ifndef HG_FILTER_H
#define HG_FILTER_H

#include <stddef.h>

#include "frames.h"

enum hg_filter_field {
	HG_FILTER_ANY = 0,      /* function, file or module */
	HG_FILTER_FUNCTION = 1,
	HG_FILTER_FILE = 2,     /* the source path or its last component */
	HG_FILTER_MODULE = 3    /* the ELF object's path or its last component */
};

struct hg_filter {
	int include;            /* 1: --include, 0: --exclude */
	int field;              /* enum hg_filter_field */
	const char *pattern;    /* fnmatch pattern, borrowed from argv */
};

struct hg_filters {
	struct hg_filter *v;    /* in command-line order */
	size_t n, cap;
	int all_frames;         /* match any frame, not only the innermost */
	int keep_plumbing;      /* do not drop the allocator's own frames */
};

/*
 * Add "PATTERN", "function:PATTERN", "file:PATTERN" or "module:PATTERN" (text stays owned by
 * the caller). Returns 0, or -1 after printing a usage error for subcommand cmd (empty
 * pattern, unknown field).
 */
int hg_filters_add(struct hg_filters *fs, const char *cmd, int include, const char *text);

void hg_filters_release(struct hg_filters *fs);

/* 1 when a frame is the allocator's plumbing (see above). */
int hg_frame_is_plumbing(const struct hg_frame *fr);

/*
 * The frames a statistic sees of a resolved stack: returns the index of the first frame that
 * is not plumbing (0 with keep_plumbing; n - 1 when all are plumbing, so a stack keeps one).
 */
size_t hg_filters_first_frame(const struct hg_filters *fs, const struct hg_frame *fr, size_t n);

/* 1 when the trace with these frames (after plumbing) is kept. */
int hg_filters_keep(const struct hg_filters *fs, const struct hg_frame *fr, size_t n);

#endif /* HG_FILTER_H */
