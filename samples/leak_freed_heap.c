/*
 * leak_freed_heap.c - a heap that was large and is now mostly free, full of stale pointers
 *
 * build_and_drop links 262,144 blocks of 120 bytes (a 128-byte chunk each: 32 MiB of the brk
 * heap) into a list, each block's 15 words pointing at blocks, then frees them all but keeps a
 * 64-byte block allocated after them, so the freed 32 MiB stay inside the heap (one free
 * chunk below the kept block, not trimmed away). What the program freed still holds its old
 * pointers. keep_some then holds 10 blocks of 48 bytes in a list from a global and leaks one
 * block of 4096 bytes that points at nothing.
 *
 * The exit snapshot reads only the chunks malloc has handed out, not the freed 32 MiB
 * (4,194,304 words), so it reads fewer than 1,000,000 words; and stale pointers in free memory
 * never count as edges or roots.
 *
 * stdout: "leak_freed_heap: done" (one line).
 *
 * Expect, snapshot "exit": direct 4096 bytes in 1 block (keep_some); indirect 0; cycle 0;
 *   reachable 544 bytes in 11 blocks (10 x 48 on the list, the 64-byte pin); 262,156
 *   allocations, 262,144 frees.
 *   memcheck: definitely lost 4096 bytes in 1 block, indirectly lost 0.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define N_BLOCKS 262144
#define WORDS 15

static void *g_pin;
static void **g_list;

static void die(void)
{
	static const char msg[] = "leak_freed_heap: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
	_exit(1);
}

static NOINLINE void build_and_drop(void)
{
	void **head = NULL;

	for (unsigned i = 0; i < N_BLOCKS; i++) {
		void **b = malloc(WORDS * sizeof(void *));
		if (!b)
			die();
		for (unsigned k = 0; k < WORDS; k++)
			b[k] = k == 0 ? (void *)head : (void *)b;
		head = b;
	}
	g_pin = malloc(64);
	if (!g_pin)
		die();
	memset(g_pin, 0, 64);
	while (head) {
		void **next = head[0];
		free(head);
		head = next;
	}
}

static NOINLINE void keep_some(void)
{
	char *leak = malloc(4096);

	if (!leak)
		die();
	memset(leak, 0x5a, 4096);
	for (unsigned i = 0; i < 10; i++) {
		void **b = malloc(48);
		if (!b)
			die();
		memset(b, 0, 48);
		b[0] = g_list;
		g_list = b;
	}
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

int main(void)
{
	static const char msg[] = "leak_freed_heap: done\n";
	ssize_t r;

	build_and_drop();
	keep_some();
	r = write(1, msg, sizeof(msg) - 1);
	(void)r;
	scrub_stack();
	return 0;
}
