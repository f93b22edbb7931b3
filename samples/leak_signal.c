/*
 * leak_signal.c - a heap snapshot taken when a signal arrives (HEAPGRAPH_SNAPSHOT_SIGNAL)
 *
 * Run with HEAPGRAPH_SNAPSHOT_SIGNAL=12 (SIGUSR2). The program keeps a list of 10 blocks of
 * 96 bytes through a global, loses a list of 5 blocks of 112 bytes, then raises SIGUSR2 and
 * frees everything it still reaches before exiting.
 *
 * Expect, snapshot "signal": direct 112 bytes in 1 block (lose_list), indirect 448 bytes in 4
 * blocks (lose_list, held by the direct one), reachable includes the 10 kept blocks (960 bytes).
 * Expect, snapshot "exit": direct 112 B, indirect 448 B; the kept list is gone (freed).
 * stdout: "leak_signal: done".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	char pad[88];
};

struct lost {
	struct lost *next;
	char pad[104];
};

static struct node *kept;

static __attribute__((noinline)) void keep_list(void)
{
	for (int i = 0; i < 10; i++) {
		struct node *n = calloc(1, sizeof(*n)); /* site: keep_list */
		n->next = kept;
		kept = n;
	}
}

static __attribute__((noinline)) void lose_list(void)
{
	struct lost *head = NULL;

	for (int i = 0; i < 5; i++) {
		struct lost *l = calloc(1, sizeof(*l)); /* site: lose_list */
		l->next = head;
		head = l;
	}
}

/* Overwrite the dead stack below us, so no stale copy of a lost pointer survives there. */
static __attribute__((noinline)) void scrub(void)
{
	volatile char buf[16384];

	memset((char *)buf, 0, sizeof(buf));
}

int main(void)
{
	keep_list();
	lose_list();
	scrub();
	raise(SIGUSR2);
	while (kept) {
		struct node *n = kept->next;
		free(kept);
		kept = n;
	}
	scrub();
	puts("leak_signal: done");
	return 0;
}
