/*
 * leak_thread.c - a block leaked by a thread that ended, blocks held on live stacks
 *
 * leak_in_worker runs on a thread that allocates 333 bytes, fills them and returns without
 * freeing them: the only pointers left are in its frames, on a stack glibc keeps for the next
 * thread. That stack is no root (no thread runs on it), so the block is a direct leak, as
 * memcheck says. hold_in_waiter runs on a thread that allocates 444 bytes, keeps the pointer
 * in a local and waits on a pipe until the program exits: its stack is live, so the block is
 * reachable. The main thread allocates 555 bytes into a local of its own, joins the first
 * thread and leaves with exit(0), the second still waiting: main's frame is live while exit
 * runs the snapshot, so those 555 bytes are reachable too (memcheck: still reachable).
 *
 * stdout: "leak_thread: one thread ended, one waiting" (one line); exit 0.
 *
 * Expect at the exit snapshot: 2 threads, both stopped (the exiting main thread counts itself;
 * the ended thread is gone); one direct leak of 333 bytes in 1 block at leak_in_worker; the
 * 444 bytes at hold_in_waiter and the 555 at main reachable, not leaks.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int wake[2];

static __attribute__((noinline)) void *leak_in_worker(void *arg)
{
	char *volatile p = malloc(333);

	memset(p, 'w', 333);
	(void)arg;
	return NULL;
}

static __attribute__((noinline)) void *hold_in_waiter(void *arg)
{
	char *volatile p = malloc(444);
	char c;

	memset(p, 'h', 444);
	(void)arg;
	while (read(wake[0], &c, 1) < 0) /* until the program is gone */
		;
	return p;
}

int main(void)
{
	pthread_t worker, waiter;
	char *volatile held = malloc(555);

	memset(held, 'm', 555);
	if (pipe(wake) != 0 || pthread_create(&worker, NULL, leak_in_worker, NULL) != 0 ||
	    pthread_create(&waiter, NULL, hold_in_waiter, NULL) != 0)
		return 2;
	pthread_join(worker, NULL);
	usleep(20000); /* let the waiter reach its read */
	printf("leak_thread: one thread ended, one waiting\n");
	fflush(stdout);
	exit(0);
}
