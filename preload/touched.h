/*
 * touched.h - which pages of the process's private memory a heap snapshot needs to read
 *
 * A private page that is neither present in the page tables nor swapped out was never written
 * (or was given back with madvise): it reads as zeros, or as its file's own bytes, and cannot
 * hold a pointer the program stored. A JVM reserves its whole Java heap up front, and reading
 * hundreds of MB of such pages made every snapshot of it slow. The page tables are read from
 * /proc/thread-self/pagemap (bits 63, present, and 62, swapped, which an unprivileged reader
 * gets); where it cannot be read, every page counts as touched.
 *
 * Runs in: the snapshot path, with the world stopped (no allocation, no lock).
 */
#ifndef HG_TOUCHED_H
#define HG_TOUCHED_H

#include <stdint.h>

/* Open the pagemap for the snapshot about to be taken; close it after (and in a fork child,
 * which must not read its parent's). */
void hg_touched_open(void);
void hg_touched_close(void);

/*
 * For a scan at lo, below hi: the first address at or after lo on a touched page (lo itself
 * when its page is, hi when none is), then *end gets where that run of touched pages ends
 * (at most hi). Without a pagemap: lo, and *end = hi.
 */
uint64_t hg_touched_next(uint64_t lo, uint64_t hi, uint64_t *end);

/* Bytes of untouched pages skipped since hg_touched_open. */
uint64_t hg_touched_skipped(void);

#endif /* HG_TOUCHED_H */
