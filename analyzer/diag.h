/*
 * diag.h - exit codes, error messages and checked allocation for the CLI
 *
 * Messages follow one shape: "heapgraph: error: <problem> '<subject>'[: strerror]", one line,
 * lowercase, no final period. Helpers print where they detect the problem and return -1 or
 * NULL; only main.c and cmd_*.c pick exit codes.
 */
#ifndef HG_DIAG_H
#define HG_DIAG_H

#include <stddef.h>

#include "hg_compiler.h"

enum hg_exit {
	HG_EXIT_OK = 0,      /* success */
	HG_EXIT_USAGE = 2,   /* bad command line */
	HG_EXIT_INPUT = 3,   /* bad input, I/O or resource error (partial report printed first) */
	HG_EXIT_GATE = 23    /* `check`: the leak gate failed (its --error-exitcode default, the
				code LeakSanitizer uses, so CI scripts recognise it) */
};

/* "heapgraph: error: ..." on stderr. Always returns -1 so callers can `return hg_error(...)`. */
int hg_error(const char *fmt, ...) HG_PRINTF(1, 2);

/* "heapgraph: warning: ..." on stderr. */
void hg_warning(const char *fmt, ...) HG_PRINTF(1, 2);

/* "heapgraph: ..." on stderr (progress and summaries). */
void hg_note(const char *fmt, ...) HG_PRINTF(1, 2);

/* A usage error for subcommand `cmd`: prints the message and a hint, returns HG_EXIT_USAGE. */
int hg_usage_error(const char *cmd, const char *fmt, ...) HG_PRINTF(2, 3);

/*
 * Allocation that cannot fail: on out-of-memory it reports and exits with HG_EXIT_INPUT.
 * hg_xalloc_fail_after(n) makes the n-th next allocation fail (tests); 0 turns that off.
 */
void *hg_xmalloc(size_t n);
void *hg_xcalloc(size_t n, size_t size);
void *hg_xrealloc(void *p, size_t n);
char *hg_xstrdup(const char *s);
void hg_xalloc_fail_after(unsigned long n);

/*
 * n zeroed bytes whose pages are in place before the first access (a large table probed before
 * it is written: otherwise each page faults twice, once mapping the zero page, once copying
 * it). Release with hg_xunmap(p, n). Out-of-memory as above.
 */
void *hg_xmap_zeroed(size_t n);
void hg_xunmap(void *p, size_t n);

/* Grow *arr (element size elem) so that it holds at least `need` elements; doubles capacity.
 * HG_GROW calls it only when the array is full: it runs once per element in hot loops. */
void hg_grow(void **arr, size_t *cap, size_t need, size_t elem);
#define HG_GROW(arr, cap, need)                                                          \
	do {                                                                              \
		if ((size_t)(need) > (cap))                                               \
			hg_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)));         \
	} while (0)

#endif /* HG_DIAG_H */
