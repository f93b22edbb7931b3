/*
 * frag.h - why the resident set stays high: live bytes, free bytes malloc keeps, page occupancy
 */
#ifndef HG_FRAG_H
#define HG_FRAG_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"

#define HG_PAGE_BYTES 4096u
#define HG_SPARSE_PAGE_LIVE (HG_PAGE_BYTES / 4) /* a page with less live data is "pinned" */

/* The blocks of one allocation stack that keep otherwise empty pages in use. */
struct hg_frag_pinner {
	uint32_t stack_id;
	uint64_t blocks;       /* blocks on sparse pages */
	uint64_t live_bytes;   /* their bytes */
	uint64_t pinned_bytes; /* whole sparse pages they hold */
};

struct hg_frag {
	uint64_t live_bytes;           /* requested bytes of the live blocks in malloc's memory */
	uint64_t live_blocks;
	uint64_t heap_span_bytes;      /* malloc's memory: the brk heap and its anonymous heaps */
	uint64_t allocator_free_bytes; /* span minus live bytes minus chunk headers */
	uint64_t untouched_top_bytes;  /* of those, the top of each heap above every block the
					  program was ever given there: what glibc took from the
					  system ahead of use, never handed out, not resident (and
					  not fragmentation) */
	uint64_t rss_bytes;            /* last resident-set sample at or before the snapshot; 0 */
	uint64_t pages_with_live_data;
	uint64_t pages_free;           /* pages of the span with no live byte */
	uint64_t pages_untouched;      /* of those, whole pages of the untouched top */
	uint64_t trim_estimate_bytes;  /* what malloc_trim(0) could hand back: the free pages but
					  the untouched ones, at most what is resident beyond the
					  live pages */
	struct hg_frag_pinner *pinners;/* largest pinned_bytes first */
	size_t n_pinners;
	long top_block;                /* index of the highest block of the brk heap, or -1 */
	uint64_t above_top_bytes;      /* brk heap bytes above it */
	uint64_t mmap_bytes;           /* the program's own anonymous mappings then (mmap domain) */
	uint64_t mmap_mappings;
	uint64_t gap_bytes;            /* RSS minus live bytes minus mmap_bytes (0 without RSS):
					  what is resident but neither live data nor the
					  program's own mappings */
	uint64_t other_bytes;          /* RSS minus heap span minus mmap_bytes, at least 0: what is
					  resident outside both (code, stacks, libraries' data) */
};

/* Analyse im at snapshot sn (its live blocks and regions). Out-of-memory exits (diag.h). */
void hg_frag_build(struct hg_frag *fr, const struct hg_image *im, const struct hg_snapshot *sn);
void hg_frag_release(struct hg_frag *fr);

/*
 * glibc's own count taken for sn (the shim samples it just before a snapshot), or NULL: one
 * from before an earlier snapshot would describe another moment.
 */
const struct hg_mallinfo *hg_frag_mallinfo(const struct hg_image *im,
					   const struct hg_snapshot *sn);

/* RSS minus the parts, at least 0. */
uint64_t hg_frag_rest(uint64_t rss, uint64_t a, uint64_t b);

/*
 * Why an image has no resident-set sample, as one line (no newline) in buf, cut to cap: from
 * the trace's rss_interval_ms (struct hg_replay: 0 when the trace does not say,
 * HG_RSS_INTERVAL_OFF when sampling was off), how long the process ran (UINT64_MAX: the trace
 * does not say) and its pid. Returns buf.
 */
char *hg_frag_no_rss(char *buf, size_t cap, uint32_t interval_ms, uint64_t ran_ns, uint32_t pid);

#endif /* HG_FRAG_H */
