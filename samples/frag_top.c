/*
 * frag_top.c - a program that allocates almost nothing: its heap is free, but not fragmented
 *
 * use_a_little() keeps one block of 1000 bytes (A), takes a second (B) and frees it. B comes
 * from above A (glibc carves both from the top of its first heap, which holds only the
 * tracer's own first blocks below them), so the heap's free memory is B, freed, and above it
 * the rest of the 132 KiB glibc took from the system ahead of use, which no block ever
 * touched. No stdio (write(2) only): nothing else is allocated.
 *
 * stdout: "frag_top: B is A + D" (D: B's address minus A's; 1008, the 1000 bytes, their chunk
 * header and padding, when B follows A directly).
 *
 * Expect, exit snapshot (`heapgraph frag`): live 1000 bytes in 1 block (use_a_little); the
 * top block is A; the untouched top of the heap is the free bytes above A less D (B's own
 * 1000 bytes and what lies between A and B were handed out); diagnosis "no fragmentation".
 */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define BLOCK_BYTES 1000

static char *kept;

static __attribute__((noinline)) long use_a_little(void)
{
	char *b;

	kept = malloc(BLOCK_BYTES); /* site: use_a_little */
	b = malloc(BLOCK_BYTES);
	if (!kept || !b)
		exit(1);
	kept[0] = b[0] = 1;
	free(b);
	return (long)((intptr_t)b - (intptr_t)kept);
}

int main(void)
{
	char line[64] = "frag_top: B is A + ", digits[24];
	long d = use_a_little();
	size_t n = 19, k = 0;
	unsigned long u = d < 0 ? -(unsigned long)d : (unsigned long)d;

	if (d < 0)
		line[n - 2] = '-';
	do
		digits[k++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	while (k)
		line[n++] = digits[--k];
	line[n++] = '\n';
	return write(1, line, n) != (ssize_t)n;
}
