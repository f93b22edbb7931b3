/*
 * progmaps.h - the anonymous mappings the program made itself, which hold no malloc block
 *
 * A heap snapshot writes every word whose value falls in anonymous memory, where malloc's
 * blocks live; but a program's own mappings (a compiler's garbage-collected pages, an
 * interpreter's arenas) are anonymous memory too, and the pointers between their objects made
 * most of a snapshot: 1.5 of 2 million words of a cc1 compile, 4.4 of its trace's 5.4 MB. The
 * interposed mmap, munmap and mremap keep this table of them so that a snapshot can leave
 * those values out. The table only ever errs towards keeping a value: a range goes in after
 * its mapping exists and comes out (rounded outwards) before it is unmapped or moved, and a
 * table that could not be kept up to date (out of memory, or caught mid-change by a stopped
 * world) is not used at all.
 *
 * Runs in: the interposed mmap, munmap and mremap; a heap snapshot (the world stopped); fork.
 */
#ifndef HG_PROGMAPS_H
#define HG_PROGMAPS_H

#include <stdint.h>

struct hg_progmap {
	uint64_t lo, hi; /* [lo, hi), page-aligned, disjoint, in address order */
};

/*
 * Start keeping the table: the real malloc is glibc's, whose blocks live only in memory it
 * maps itself, through calls the shim does not see. Another allocator behind the shim
 * (jemalloc, tcmalloc) maps its memory with mmap calls the shim may see as the program's,
 * and hands out blocks there: with it the table stays off and every value is written.
 */
void hg_progmaps_enable(void);

/* The program mapped [addr, addr + len) anonymous memory (after the call succeeded). */
void hg_progmaps_add(uint64_t addr, uint64_t len);

/* The program is about to unmap, move or map over [addr, addr + len) (before the call).
 * Never allocates, so it may run anywhere. */
void hg_progmaps_remove(uint64_t addr, uint64_t len);

/* With every other thread stopped: the table, or NULL when it is not to be trusted. */
const struct hg_progmap *hg_progmaps_view(uint32_t *n);

/* Fork: the lock is taken before fork() and dropped on both sides after. */
void hg_progmaps_fork_prepare(void);
void hg_progmaps_fork_done(void);

#endif /* HG_PROGMAPS_H */
