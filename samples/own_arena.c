/*
 * own_arena.c - a program's own arena full of pointers into itself, and a hole it gave back
 *
 * A compiler's garbage-collected pages or an interpreter's arenas are anonymous memory the
 * program maps itself; their objects point at one another, and a heap snapshot must not write
 * those pointers (they can never lead to a malloc block), only the ones into malloc's memory.
 *
 * build_arena maps 4 MiB of its own and links its 524,288 words into one ring of pointers,
 * each to the next; word 7 holds the only pointer to a 64-byte malloc block instead. A global
 * holds the arena. reuse_hole maps 1 MiB + 8 KiB of its own, unmaps it, and mallocs 1 MiB:
 * glibc maps that large block itself, where the kernel puts a new mapping first, in the hole
 * just left, which must now count as malloc's memory again (a global holds the block; were
 * the hole still taken for the program's, the pointer to the block would not be written and
 * the block would look leaked). lose_one mallocs 32 bytes and drops the pointer.
 * No stdio (write(2) only); main scrubs the stack below itself before returning.
 *
 * stdout: "own_arena: reused" when the 1 MiB block lies where the unmapped hole was,
 * "own_arena: elsewhere" otherwise (then that part means less); one line.
 *
 * Expect, snapshot "exit": direct 32 bytes in 1 block (lose_one), indirect 0, cycles 0;
 *   reachable 1048640 bytes in 2 blocks (the 1 MiB block through g_big, the 64-byte block
 *   through the arena); possibly 0. Pointer words written: a few hundred (the C library's and
 *   the arena's one), not the arena's half a million.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define ARENA (4u << 20)
#define BIG (1u << 20)
#define HOLE (BIG + 8192u) /* not a multiple of 2 MiB, which the kernel would align */

static void **g_arena;
static char *g_big;

static void say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));

	(void)r;
}

static NOINLINE int build_arena(void)
{
	size_t n = ARENA / sizeof(void *);
	void *held = malloc(64);

	g_arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g_arena == MAP_FAILED || !held)
		return -1;
	memset(held, 0, 64);
	for (size_t i = 0; i < n; i++)
		g_arena[i] = &g_arena[(i + 1) % n];
	g_arena[7] = held;
	return 0;
}

/* 1 when the 1 MiB block landed in the 2 MiB the program had mapped and unmapped. */
static NOINLINE int reuse_hole(void)
{
	char *hole = mmap(NULL, HOLE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (hole == MAP_FAILED || munmap(hole, HOLE) != 0 || !(g_big = malloc(BIG)))
		return -1;
	memset(g_big, 0, BIG);
	return g_big >= hole && g_big < hole + HOLE;
}

static NOINLINE void lose_one(void)
{
	volatile char *p = malloc(32);

	if (p)
		p[0] = 1;
}

static NOINLINE void scrub_stack(void)
{
	volatile char pad[4096];

	memset((char *)pad, 0, sizeof(pad));
}

int main(void)
{
	int reused;

	if (build_arena() < 0 || (reused = reuse_hole()) < 0)
		return 1;
	lose_one();
	say(reused ? "own_arena: reused\n" : "own_arena: elsewhere\n");
	scrub_stack();
	return 0;
}
