/*
 * rawlog.h - allocation-free diagnostics from inside the shim
 *
 * Runs in: anywhere, including inside malloc and signal handlers.
 */
#ifndef HG_RAWLOG_H
#define HG_RAWLOG_H

#include "hg_compiler.h"

/* Set once at start-up from HEAPGRAPH_DEBUG; 0 keeps hg_rawlog silent. */
extern int hg_rawlog_enabled;

/*
 * Format into a stack buffer and write(2) it to fd 2 with a "heapgraph: " prefix and a newline.
 * Supports %s %d %u %ld %lu %x %lx %p %zu only. Silent unless hg_rawlog_enabled. Preserves errno.
 */
void hg_rawlog(const char *fmt, ...) HG_PRINTF(1, 2);

/* The same as "heapgraph: error: ...", whatever hg_rawlog_enabled: for the one failure a user
 * must hear of, bare mode that cannot trace at all. */
void hg_rawlog_error(const char *fmt, ...) HG_PRINTF(1, 2);

#endif /* HG_RAWLOG_H */
