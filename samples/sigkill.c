/*
 * sigkill.c - leaks five blocks, frees some others, then kills itself with SIGKILL
 *
 * SIGKILL cannot be caught, so nothing in the shim runs after it: every event must already be
 * where the collector can read it. `heapgraph record` must exit 128 + 9 = 137 and the report must
 * still show every block. No stdio, so the totals are exact.
 *
 * stdout: "sigkill: killing myself" (one line, before the kill).
 *
 * Expect: `heapgraph record` exits 137; the process has exit {"signal":9};
 *   one site, frames[0] = hoard: live_blocks 5, live_bytes 15015 (1001 + 2002 + 3003 + 4004 +
 *   5005), allocations 5, allocated_bytes 15015;
 *   scratch allocates 100 blocks of 77 bytes and frees them all (no live site);
 *   totals: allocations 105, frees 100, allocated_bytes 22715, live_bytes 15015, live_blocks 5,
 *   peak_bytes 15015, lost_events 0, unknown_frees 0.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HG_K_N_LEAKS 5
#define HG_K_N_SCRATCH 100

static void *hg_k_hoard[HG_K_N_LEAKS];

static void hoard(void)
{
	unsigned i;

	for (i = 0; i < HG_K_N_LEAKS; i++) {
		hg_k_hoard[i] = malloc(1001u * (i + 1)); /* site: hoard */
		if (!hg_k_hoard[i])
			abort();
	}
}

static void scratch(void)
{
	unsigned i;

	for (i = 0; i < HG_K_N_SCRATCH; i++) {
		void *p = malloc(77);

		if (!p)
			abort();
		memset(p, 0, 77);
		free(p);
	}
}

int main(void)
{
	static const char msg[] = "sigkill: killing myself\n";
	ssize_t r;

	scratch();
	hoard();
	r = write(1, msg, sizeof(msg) - 1);
	(void)r;
	kill(getpid(), SIGKILL);
	return 1; /* not reached */
}
