/*
 * stats_cache.c - a cache that grows between two snapshots: statistics and diffs
 *
 * make_config keeps 4 blocks of 256 bytes to the end. scratch_fill takes 5 blocks of 512
 * bytes, freed again before the second snapshot. cache_add adds one 1000-byte entry per call:
 * 10 before heapgraph_snapshot("before"), 30 more before heapgraph_snapshot("after"); then
 * cache_clear frees every entry. No stdio (write(2) only), so nothing else allocates.
 *
 * Expect (report --group-by function; every block is allocated in this file):
 *   snapshot "before": cache_add 10000 B in 10 blocks, scratch_fill 2560 B in 5,
 *                      make_config 1024 B in 4 (13584 B in 19 blocks)
 *   snapshot "after":  cache_add 40000 B in 40 blocks, make_config 1024 B in 4 (41024 B)
 *   peak:              the same as "after": 41024 B (cache_add 40000, make_config 1024)
 *   end:               make_config 1024 B in 4 blocks
 *   diff --from before --to after: cache_add size=40000 (+30000) count=40 (+30);
 *                      scratch_fill size=0 (-2560) count=0 (-5); make_config unchanged
 * stdout: "stats_cache: done".
 */
#include <heapgraph.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENTRY_BYTES 1000
#define MAX_ENTRIES 40

static void *config[4];
static void *scratch[5];
static void *cache[MAX_ENTRIES];
static int n_cache;

static __attribute__((noinline)) void make_config(void)
{
	for (int i = 0; i < 4; i++) {
		config[i] = malloc(256); /* site: make_config */
		memset(config[i], 0, 256);
	}
}

static __attribute__((noinline)) void scratch_fill(void)
{
	for (int i = 0; i < 5; i++) {
		scratch[i] = malloc(512); /* site: scratch_fill */
		memset(scratch[i], 1, 512);
	}
}

static __attribute__((noinline)) void cache_add(int key)
{
	cache[n_cache] = malloc(ENTRY_BYTES); /* site: cache_add */
	memset(cache[n_cache], key & 0xff, ENTRY_BYTES);
	n_cache++;
}

static __attribute__((noinline)) void cache_clear(void)
{
	while (n_cache > 0)
		free(cache[--n_cache]);
}

static void snapshot(const char *label)
{
	if (heapgraph_snapshot)
		heapgraph_snapshot(label);
}

int main(void)
{
	static const char done[] = "stats_cache: done\n";

	make_config();
	scratch_fill();
	for (int i = 0; i < 10; i++)
		cache_add(i);
	snapshot("before");
	for (int i = 0; i < 5; i++)
		free(scratch[i]);
	for (int i = 10; i < MAX_ENTRIES; i++)
		cache_add(i);
	snapshot("after");
	cache_clear();
	if (write(1, done, sizeof(done) - 1) < 0)
		return 1;
	return 0;
}
