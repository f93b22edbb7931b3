/*
 * entrypoints.c - every allocation entry point the shim interposes, each leaking a distinct size
 *
 * Each leak_* function calls one entry point and leaks what it gets, so each leak is its own site
 * with frames[0] naming the function and its size telling which entry point it came from. The
 * sizes are odd on purpose: no allocator rounds to them, so a report that shows the usable size
 * instead of the requested one is caught. pvalloc in particular hands out a whole page for 1011
 * bytes; the requested 1011 is what must be recorded.
 *
 * edge_cases runs first and leaves nothing live: free(NULL) (not an event), realloc(p, 0) (a free),
 * a realloc that fails (no event; the old block stays and is freed later), and a malloc and a
 * calloc that fail (no events).
 *
 * The program uses no stdio (write(2) only), and glibc allocates nothing else in it, so the process
 * totals are exact too.
 *
 * stdout: "entrypoints: 10 leaks" (one line).
 *
 * Expect, sites (frames[0] = function, one live block each):
 *   leak_malloc          101   malloc(101)
 *   leak_calloc          203   calloc(7, 29)
 *   leak_realloc_grow    305   malloc(40) (freed by the realloc), then realloc(p, 305)
 *   leak_realloc_null    407   realloc(NULL, 407)
 *   leak_reallocarray    506   reallocarray(NULL, 5, 10) (freed by the next call), then
 *                              reallocarray(p, 11, 46)
 *   leak_posix_memalign  608   posix_memalign(&p, 64, 608)
 *   leak_aligned_alloc   768   aligned_alloc(128, 768)
 *   leak_memalign        809   memalign(256, 809)
 *   leak_valloc          910   valloc(910)
 *   leak_pvalloc         1011  pvalloc(1011)
 * Each of those sites: allocations 1, allocated_bytes = live_bytes. No other site in the process.
 * Process totals: allocations 14, frees 4, allocated_bytes 5839, live_bytes 5628, live_blocks 10,
 * peak_bytes 5628, lost_events 0, unknown_frees 0.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HG_E_N_LEAKS 10

static void *hg_e_leaks[HG_E_N_LEAKS];
static unsigned hg_e_n;

/* A size no allocator can satisfy, hidden from the compiler's alloc-size warnings. */
static volatile size_t hg_e_huge = SIZE_MAX / 2;

static void keep(void *p)
{
	if (!p)
		abort();
	hg_e_leaks[hg_e_n++] = p;
}

static void edge_cases(void)
{
	void *p, *q, *r;

	free(NULL);
	p = malloc(55);
	p = realloc(p, 0);          /* frees: glibc returns NULL here */
	if (p)
		abort();
	q = malloc(66);
	r = realloc(q, hg_e_huge);  /* fails: q is untouched */
	if (r || !q)
		abort();
	free(q);
	if (malloc(hg_e_huge) || calloc(hg_e_huge, 4))
		abort();
}

static void leak_malloc(void)
{
	keep(malloc(101)); /* site: leak_malloc */
}

static void leak_calloc(void)
{
	keep(calloc(7, 29)); /* site: leak_calloc */
}

static void leak_realloc_grow(void)
{
	char *p = malloc(40);

	if (!p)
		abort();
	memset(p, 1, 40);
	keep(realloc(p, 305)); /* site: leak_realloc_grow */
}

static void leak_realloc_null(void)
{
	keep(realloc(NULL, 407)); /* site: leak_realloc_null */
}

static void leak_reallocarray(void)
{
	void *p = reallocarray(NULL, 5, 10);

	if (!p)
		abort();
	keep(reallocarray(p, 11, 46)); /* site: leak_reallocarray */
}

static void leak_posix_memalign(void)
{
	void *p = NULL;

	if (posix_memalign(&p, 64, 608) != 0) /* site: leak_posix_memalign */
		abort();
	keep(p);
}

static void leak_aligned_alloc(void)
{
	keep(aligned_alloc(128, 768)); /* site: leak_aligned_alloc */
}

static void leak_memalign(void)
{
	keep(memalign(256, 809)); /* site: leak_memalign */
}

static void leak_valloc(void)
{
	keep(valloc(910)); /* site: leak_valloc */
}

static void leak_pvalloc(void)
{
	keep(pvalloc(1011)); /* site: leak_pvalloc */
}

int main(void)
{
	static const char msg[] = "entrypoints: 10 leaks\n";
	ssize_t r;

	edge_cases();
	leak_realloc_grow();
	leak_reallocarray();
	leak_malloc();
	leak_calloc();
	leak_realloc_null();
	leak_posix_memalign();
	leak_aligned_alloc();
	leak_memalign();
	leak_valloc();
	leak_pvalloc();
	r = write(1, msg, sizeof(msg) - 1);
	return r == (ssize_t)sizeof(msg) - 1 ? 0 : 1;
}
