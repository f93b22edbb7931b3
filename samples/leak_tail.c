/*
 * leak_tail.c - leaked blocks whose last 8 bytes hold the malloc header of the next chunk
 *
 * glibc malloc gives a request of n bytes a chunk of (n + 8 + 15) & ~15 bytes (at least 32) whose
 * user area starts 16 bytes in; when n % 16 == 8 the last 8 requested bytes are the first word
 * (prev_size) of the next chunk, so the next chunk's address lies inside the block. malloc's own
 * state in libc's data points at chunks: main_arena.top at the top chunk, the bins at free chunks.
 * Those words are malloc's bookkeeping, not the program's pointers; they must not keep a leaked
 * block alive (memcheck, which replaces malloc, never sees them).
 *
 *   make_binned_neighbour: leaks a 40-byte block; the 2000-byte block right after it is freed
 *     (too big for the tcache, so it goes to an arena bin that main_arena points to); a 64-byte
 *     block after that, held by a global, keeps the freed chunk from merging into the top.
 *   make_top_neighbour: then leaks a 3000-byte block, too big to be carved from the freed
 *     chunk, so it comes from the top chunk, and as the last allocation the top chunk starts
 *     inside its last 8 bytes.
 * No stdio (write(2) only); main scrubs the stack below itself before returning.
 *
 * stdout: "leak_tail: done" (one line).
 *
 * Expect, snapshot "exit": direct 3040 bytes in 2 blocks (40 make_binned_neighbour, 3000
 *   make_top_neighbour); indirect 0; cycle 0; possibly 0; reachable 64 bytes in 1 block (the
 *   guard); 3 live blocks, 4 allocations, 1 free.
 *   memcheck: definitely lost 3040 bytes in 2 blocks, indirectly lost 0.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void *g_guard;

static void die(void)
{
	static const char msg[] = "leak_tail: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
	_exit(1);
}

static NOINLINE void make_binned_neighbour(void)
{
	char *leak = malloc(40);
	char *freed = malloc(2000);

	g_guard = malloc(64);
	if (!leak || !freed || !g_guard)
		die();
	memset(leak, 0, 40);
	memset(freed, 0, 2000);
	memset(g_guard, 0, 64);
	free(freed);
}

static NOINLINE void make_top_neighbour(void)
{
	char *leak = malloc(3000);

	if (!leak)
		die();
	memset(leak, 0, 3000);
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

int main(void)
{
	static const char msg[] = "leak_tail: done\n";
	ssize_t r;

	make_binned_neighbour();
	make_top_neighbour();
	r = write(1, msg, sizeof(msg) - 1);
	(void)r;
	scrub_stack();
	return 0;
}
