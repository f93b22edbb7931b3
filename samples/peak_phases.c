/*
 * peak_phases.c - a transient phase on top of memory kept to the end: the high-water mark
 *
 * keep_block allocates 16 blocks of 1 MiB that stay to the end; then transient_block allocates
 * 48 blocks of 1 MiB, which are all freed again. No stdio before the end.
 *
 * Expect (sites in this file; stdio adds its buffer only after the peak):
 *   peak: 67108864 bytes (64 MiB) = 48 MiB from transient_block (48 blocks)
 *                                 + 16 MiB from keep_block (16 blocks)
 *   end:  16777216 bytes live from keep_block (16 blocks); transient_block holds nothing
 * The program then sleeps 200 ms holding the 16 MiB, so that the collector, which samples the
 * resident set every 10 ms, takes samples that include it (RSS >= 16 MiB).
 * stdout: "peak_phases: done".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIB (1u << 20)

static void *kept[16];

static __attribute__((noinline)) void *transient_block(void)
{
	void *p = malloc(MIB); /* site: transient_block */

	memset(p, 1, MIB);
	return p;
}

static __attribute__((noinline)) void keep_block(int i)
{
	kept[i] = malloc(MIB); /* site: keep_block */
	memset(kept[i], 2, MIB);
}

int main(void)
{
	void *t[48];

	for (int i = 0; i < 16; i++)
		keep_block(i);
	for (int i = 0; i < 48; i++)
		t[i] = transient_block();
	for (int i = 0; i < 48; i++)
		free(t[i]);
	nanosleep(&(struct timespec){ 0, 200000000 }, NULL);
	puts("peak_phases: done");
	return kept[0] == NULL;
}
