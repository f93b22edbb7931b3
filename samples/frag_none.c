/*
 * frag_none.c - a program that never calls malloc, and ends within a millisecond
 *
 * main() writes one line with write(2) and returns. Nothing the program does allocates, so
 * malloc's only memory is the heap glibc set up for the tracer's own first allocations (the
 * loader's, when the shim opens libunwind), and the process ends long before the collector's
 * first resident-set sample that can see it, 10 ms or more after recording began (the one
 * taken at once comes before the program has started).
 *
 * stdout: "frag_none: no allocation".
 *
 * Expect (`heapgraph frag`): live 0 B in 0 blocks at the exit snapshot; no resident-set sample,
 * said as "the process ran D, less than the 10 ms sampling interval" (D well under 10 ms);
 * with `record --rss-interval 0`, "sampling was off for this recording". All of malloc's
 * memory is free (the heap span, glibc's arena bytes), and of it glibc's top chunk (its
 * releasable bytes) is untouched heap top, which malloc never handed out: the free pages are
 * all untouched but those of the tracer's blocks, and the diagnosis is "no fragmentation".
 */
#include <unistd.h>

int main(void)
{
	static const char line[] = "frag_none: no allocation\n";

	return write(1, line, sizeof(line) - 1) != (ssize_t)(sizeof(line) - 1);
}
