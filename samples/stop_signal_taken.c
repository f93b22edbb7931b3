/*
 * stop_signal_taken.c - a program that handles SIGRTMAX-2 itself, as the JDK's NIO does
 *
 * main installs a counting handler for SIGRTMAX-2 (SA_SIGINFO) and starts a worker that
 * allocates 900 bytes into a local and then sleeps reading a pipe (a call SA_RESTART restarts,
 * so a signal handler does not cut it short). main keeps 1200 bytes in a global
 * (keep_in_global), drops a 560-byte block (make_leak), scrubs its stack and takes
 * heapgraph_snapshot("taken") when traced. Then it wakes the worker, joins it, says how often
 * its handler ran and exits with status 3. The tracer must stop both threads with another
 * signal and never call the program's handler: the snapshot once gave up on stopping threads
 * here and scanned their stacks whole, registers unread.
 *
 * stdout: "stop_signal_taken: handler ran 0 times" (one line); exit 3, traced or not.
 *
 * Expect at snapshot "taken": 2 threads, 2 stopped; direct 560 bytes in 1 block at make_leak;
 *   the 1200 bytes at keep_in_global and the 900 at work reachable.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapgraph.h"

#define NOINLINE __attribute__((noinline))

static void *g_kept;
static int ready[2], wake[2];
static volatile sig_atomic_t g_handled;

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
	(void)sig;
	(void)info;
	(void)ctx;
	g_handled++;
}

static NOINLINE void die(const char *msg)
{
	fputs(msg, stderr);
	_exit(2);
}

static void *work(void *arg)
{
	char *volatile held = malloc(900);
	char c = 0;

	(void)arg;
	if (!held)
		die("stop_signal_taken: out of memory\n");
	memset(held, 'w', 900);
	if (write(ready[1], "r", 1) != 1 || read(wake[0], &c, 1) != 1)
		die("stop_signal_taken: pipe failed\n");
	free(held);
	return NULL;
}

static NOINLINE void keep_in_global(void)
{
	if (!(g_kept = malloc(1200)))
		die("stop_signal_taken: out of memory\n");
	memset(g_kept, 'g', 1200);
}

static NOINLINE void make_leak(void)
{
	char *volatile p = malloc(560);

	if (!p)
		die("stop_signal_taken: out of memory\n");
	memset(p, 'l', 560);
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

int main(void)
{
	struct sigaction sa;
	pthread_t t;
	char c;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	if (sigaction(SIGRTMAX - 2, &sa, NULL) != 0 || pipe(ready) != 0 || pipe(wake) != 0)
		die("stop_signal_taken: set-up failed\n");
	if (pthread_create(&t, NULL, work, NULL) != 0 || read(ready[0], &c, 1) != 1)
		die("stop_signal_taken: the thread did not start\n");
	keep_in_global();
	make_leak();
	scrub_stack();
	if (heapgraph_snapshot)
		heapgraph_snapshot("taken");
	if (write(wake[1], "w", 1) != 1 || pthread_join(t, NULL) != 0)
		die("stop_signal_taken: the thread did not end\n");
	printf("stop_signal_taken: handler ran %d times\n", (int)g_handled);
	return 3;
}
