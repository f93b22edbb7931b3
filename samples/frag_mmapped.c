/*
 * frag_mmapped.c - large blocks that glibc maps one by one: no fragmentation
 *
 * glibc serves a request of 128 KiB or more (its first mmap threshold) with a mapping of its
 * own: a 16-byte chunk header, the block, and the rest of the last page. keep_large() keeps
 * three blocks of 200,788 bytes, so that each mapping is 50 pages and the last holds only 100
 * bytes of its block. That page is not memory malloc keeps free, and no other block can ever
 * use it: freeing the block unmaps all 50. Nothing else is live at exit, and there is no stdio
 * (write(2) only), so that no buffer of libc's shows up beside them.
 *
 * Expect, exit snapshot (`heapgraph frag`): live 602364 bytes in 3 blocks, all from
 * keep_large; 150 pages hold live data; no pinning site (the last pages are not "pinned");
 * the brk heap holds only the tracer's first blocks, so its top chunk (glibc's releasable
 * bytes) is untouched heap top, and the diagnosis is "no fragmentation".
 * stdout: "frag_mmapped: 3 blocks of 200788 bytes".
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_LARGE 3
#define LARGE_BYTES 200788 /* 16 + 200788 = 49 pages and 100 bytes */

static char *large[N_LARGE];

static __attribute__((noinline)) void keep_large(void)
{
	for (int i = 0; i < N_LARGE; i++) {
		large[i] = malloc(LARGE_BYTES); /* site: keep_large */
		if (!large[i])
			exit(1);
		memset(large[i], 'x', LARGE_BYTES);
	}
}

int main(void)
{
	static const char line[] = "frag_mmapped: 3 blocks of 200788 bytes\n";

	keep_large();
	if (write(1, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1))
		return 1;
	return 0;
}
