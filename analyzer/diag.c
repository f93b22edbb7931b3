/*
 * diag.c - error messages and checked allocation for the CLI
 *
 * The countdown in hg_xalloc_fail_after lets tests exercise the out-of-memory path of any
 * command without exhausting the machine (SQLite's test_malloc.c does the same).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "diag.h"

static unsigned long fail_countdown;

static void vsay(const char *prefix, const char *fmt, va_list ap)
{
	char line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "heapgraph: %s%s\n", prefix, line);
}

int hg_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("error: ", fmt, ap);
	va_end(ap);
	return -1;
}

void hg_warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("warning: ", fmt, ap);
	va_end(ap);
}

void hg_note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", fmt, ap);
	va_end(ap);
}

int hg_usage_error(const char *cmd, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "heapgraph: error: %s (see 'heapgraph %s --help')\n", line, cmd);
	return HG_EXIT_USAGE;
}

void hg_xalloc_fail_after(unsigned long n)
{
	fail_countdown = n;
}

/* Whether this allocation is the one hg_xalloc_fail_after asked to fail. */
static int fail_now(void)
{
	return fail_countdown && --fail_countdown == 0;
}

static HG_NORETURN void out_of_memory(size_t n)
{
	hg_error("out of memory allocating %zu bytes", n);
	exit(HG_EXIT_INPUT);
}

static void *checked(void *p, size_t n)
{
	if (fail_now()) {
		free(p);
		p = NULL;
	}
	if (!p && n)
		out_of_memory(n);
	return p;
}

void *hg_xmalloc(size_t n)
{
	return checked(malloc(n ? n : 1), n ? n : 1);
}

void *hg_xcalloc(size_t n, size_t size)
{
	return checked(calloc(n ? n : 1, size ? size : 1), (n ? n : 1) * (size ? size : 1));
}

void *hg_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (fail_now()) {
		/* realloc succeeded: hand the block back as if it had failed, keeping p's contents. */
		free(q);
		q = NULL;
	}
	if (!q)
		out_of_memory(n);
	return q;
}

/*
 * Not in huge pages, which a table looked up at random would seem to want: with transparent
 * huge pages on madvise (Debian's default), MADV_HUGEPAGE made the report of a CPython trace
 * 14% faster on a quiet machine but slower right after the traced run, the usual order, as the
 * kernel then compacts memory to find 2 MiB pages: record then report, 8 rounds each way,
 * median 0.52 s against 0.46 s without.
 */
void *hg_xmap_zeroed(size_t n)
{
	void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		out_of_memory(n);
	if (fail_now()) {
		munmap(p, n ? n : 1);
		out_of_memory(n);
	}
	return p;
}

void hg_xunmap(void *p, size_t n)
{
	if (p)
		munmap(p, n ? n : 1);
}

char *hg_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(hg_xmalloc(n), s, n);
}

void hg_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;

	if (need <= *cap)
		return;
	while (n < need)
		n *= 2;
	*arr = hg_xrealloc(*arr, n * elem);
	memset((char *)*arr + *cap * elem, 0, (n - *cap) * elem);
	*cap = n;
}
