/*
 * leak_sparse.c - a large reservation that is mostly never touched, as a JVM's Java heap is
 *
 * main maps 256 MiB of private anonymous memory and writes into two pages of it only: the
 * address of a 123-byte block (keep_block) 200 MiB in, and a marker in the first page. A
 * 77-byte block (drop_block) is kept nowhere. The exit snapshot reads the pages that were
 * written and skips the rest (a JVM's snapshot read its whole reserved heap); the block held
 * from deep in the reservation is still found.
 *
 * stdout: "leak_sparse: done"; exit 0.
 *
 * Expect at the exit snapshot: direct 77 bytes in 1 block (drop_block); the 123-byte block
 *   reachable; with HEAPGRAPH_DEBUG=1, the snapshot's log line counts at least 255 MiB of
 *   untouched pages skipped.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define RESERVE ((size_t)256 << 20)
#define DEEP ((size_t)200 << 20)

static char *reserve;
static void *volatile sink;

static NOINLINE void keep_block(void)
{
	void *p = malloc(123);

	memset(p, 1, 123);
	memcpy(reserve + DEEP + 64, &p, sizeof(p));
}

static NOINLINE void drop_block(void)
{
	void *p = malloc(77);

	memset(p, 2, 77);
	sink = p;
	sink = NULL;
}

int main(void)
{
	ssize_t r;

	reserve = mmap(NULL, RESERVE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (reserve == MAP_FAILED)
		return 1;
	reserve[0] = 'x';
	keep_block();
	drop_block();
	r = write(1, "leak_sparse: done\n", 18);
	(void)r;
	return 0;
}
