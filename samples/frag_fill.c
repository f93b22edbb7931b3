/*
 * frag_fill.c - a heap that stays resident after almost everything was freed
 *
 * fill() allocates 204,800 blocks of 512 bytes (100 MiB), then frees all but every 64th: 3,200
 * blocks, 1,638,400 bytes, stay live, scattered one per 8 pages or so across the heap. The
 * program then measures its resident set, takes a heap snapshot "before-trim" (through the
 * weak heapgraph_snapshot, so it runs the same untraced), calls malloc_trim(0), measures again
 * and prints, on one line:
 *   frag_fill: live 1638400 in 3200 blocks; rss before trim R1, after R2
 * No stdio runs before the snapshot (the line is printed after it).
 *
 * Expect, snapshot "before-trim": live_bytes 1638400, live_blocks 3200; the largest pinning
 * site is fill with 3200 blocks pinning at least 3200 pages; the trim estimate is close to
 * what malloc_trim really gave back (R1 - R2), and the resident set stays high (~100 MiB)
 * although live bytes are 1.6 MiB. Of the free bytes above the highest kept block, the 63
 * blocks fill allocated after it (528-byte chunks) were handed out; the rest is untouched heap
 * top. At "exit" (after malloc_trim(0), which gave the top back) no top is untouched.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapgraph.h"

#define N_BLOCKS 204800
#define BLOCK_BYTES 512
#define KEEP_EVERY 64

static char *blocks[N_BLOCKS];

static __attribute__((noinline)) void fill(void)
{
	for (int i = 0; i < N_BLOCKS; i++) {
		blocks[i] = malloc(BLOCK_BYTES); /* site: fill */
		memset(blocks[i], 1, BLOCK_BYTES);
	}
}

static void thin_out(void)
{
	for (int i = 0; i < N_BLOCKS; i++) {
		if (i % KEEP_EVERY == 0)
			continue;
		free(blocks[i]);
		blocks[i] = NULL;
	}
}

static long rss_bytes(void)
{
	char buf[128];
	long size = 0, resident = 0;
	FILE *f;

	/* fopen allocates: only after the snapshot, or untraced */
	f = fopen("/proc/self/statm", "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f))
		sscanf(buf, "%ld %ld", &size, &resident);
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

int main(void)
{
	long before, after;

	fill();
	thin_out();
	if (heapgraph_snapshot)
		heapgraph_snapshot("before-trim");
	before = rss_bytes();
	malloc_trim(0);
	after = rss_bytes();
	printf("frag_fill: live %d in %d blocks; rss before trim %ld, after %ld\n",
	       (N_BLOCKS / KEEP_EVERY) * BLOCK_BYTES, N_BLOCKS / KEEP_EVERY, before, after);
	return 0;
}
