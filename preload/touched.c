/*
 * touched.c - which pages of the process's private memory a heap snapshot needs to read
 *
 * See touched.h. Pagemap entries are read in batches on the stack.
 */
#include <unistd.h>

#include "procself.h"
#include "touched.h"

#define PAGE 4096u
#define BATCH 256u /* pagemap entries per read: 2 KiB on the stack */
#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)

static int fd = -1;
static uint64_t skipped;

void hg_touched_open(void)
{
	skipped = 0;
	fd = hg_procself_open("pagemap");
}

void hg_touched_close(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
}

uint64_t hg_touched_skipped(void)
{
	return skipped;
}

/* Where the run of pages from lo's page whose touched state is `touched` ends, at most hi; hi
 * when the pagemap cannot be read (all touched, as without one). */
static uint64_t run_end(uint64_t lo, uint64_t hi, int touched)
{
	uint64_t e[BATCH];
	uint64_t page = lo / PAGE, last = (hi + PAGE - 1) / PAGE;

	while (page < last) {
		uint64_t want = last - page < BATCH ? last - page : BATCH;
		ssize_t got = pread(fd, e, want * sizeof(e[0]), (off_t)(page * sizeof(e[0])));

		if (got < (ssize_t)sizeof(e[0]))
			return touched ? hi : lo;
		for (size_t i = 0; i < (size_t)got / sizeof(e[0]); i++) {
			if (((e[i] & (PM_PRESENT | PM_SWAPPED)) != 0) != touched) {
				uint64_t at = (page + i) * PAGE;
				return at > lo ? (at < hi ? at : hi) : lo;
			}
		}
		page += (uint64_t)got / sizeof(e[0]);
	}
	return hi;
}

uint64_t hg_touched_next(uint64_t lo, uint64_t hi, uint64_t *end)
{
	uint64_t at;

	if (fd < 0) {
		*end = hi;
		return lo;
	}
	at = run_end(lo, hi, 0);
	skipped += at - lo;
	*end = at < hi ? run_end(at, hi, 1) : hi;
	return at;
}
