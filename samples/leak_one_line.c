/*
 * leak_one_line.c - two allocations on one source line, leaked together: one leak group
 *
 * make_pair allocates two 32-byte nodes with two calloc calls on one line, points each at the
 * other and drops both: a leaked cycle of two blocks. The two calls return to two addresses,
 * which symbolize to the same frames, so `leaks` lists one group of 64 bytes in 2 blocks (as
 * `check` counts one site), not two identical-looking groups of 32.
 *
 * stdout: "leak_one_line: done" (one line); exit 0.
 *
 * Expect at the exit snapshot: one cycle of 2 blocks, 64 bytes; one leak group, kind cycle,
 * 64 bytes in 2 blocks at make_pair.
 */
#include <stdio.h>
#include <stdlib.h>

struct node {
	struct node *other;
	char pad[24];
};

static __attribute__((noinline)) void make_pair(void)
{
	struct node *volatile a = calloc(1, sizeof(*a)), *volatile b = calloc(1, sizeof(*b));

	a->other = b;
	b->other = a;
}

int main(void)
{
	make_pair();
	printf("leak_one_line: done\n");
	return 0;
}
