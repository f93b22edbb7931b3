/*
 * leak_sigblock.c - a thread that blocks every signal, as xz -T2's worker threads do
 *
 * main blocks every signal around pthread_create, so hold_blocked starts with all of them
 * blocked and never unblocks one. It allocates 1600 bytes into a local and waits on a pipe.
 * A snapshot's stop signal cannot reach such a thread: it is left running, counted as not
 * stopped, and its whole stack is scanned as a root, so its 1600 bytes are reachable. The
 * shim once sent it the signal anyway, waited a second for an answer at every snapshot, and
 * left the signal pending in the thread.
 *
 * main keeps 1200 bytes in a global (keep_in_global), drops a 560-byte block whose first word
 * points at a 48-byte block (make_leak), and takes heapgraph_snapshot("blocked") when traced.
 * Then it asks the thread, through a pipe, whether any signal is pending for it (sigpending),
 * prints the answer, scrubs the stack below itself and exits with status 3, the thread still
 * waiting. No stdio but the one line (write(2)).
 *
 * stdout: "leak_sigblock: no signal pending in the blocked thread" (one line); exit 3, traced
 *   or not.
 *
 * Expect at snapshots "blocked" and "exit": 2 threads, 1 stopped (the one taking it); direct
 *   560 bytes in 1 block at make_leak, indirect 48 bytes in 1 block at make_leak, cycle 0; the
 *   1200 bytes at keep_in_global and the 1600 at hold_blocked reachable, not leaks.
 *   memcheck: definitely lost 560 bytes in 1 block, indirectly lost 48 bytes in 1 block.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heapgraph.h"

#define NOINLINE __attribute__((noinline))

static void *g_kept;
static int ask[2], answer[2]; /* main -> thread: a question; thread -> main: its answer */

static NOINLINE void die(const char *msg)
{
	ssize_t r = write(2, msg, strlen(msg));

	(void)r;
	_exit(2);
}

/* '1' when a signal is pending for the calling thread (or the process), else '0'. */
static char any_pending(void)
{
	sigset_t pending;

	if (sigpending(&pending) != 0)
		die("leak_sigblock: sigpending failed\n");
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&pending, sig) == 1)
			return '1';
	return '0';
}

static void *hold_blocked(void *arg)
{
	char *volatile held = malloc(1600);
	char c;

	(void)arg;
	if (!held)
		die("leak_sigblock: out of memory\n");
	memset(held, 'b', 1600);
	for (;;) { /* answer each question; wait until the program ends */
		if (read(ask[0], &c, 1) != 1)
			continue;
		c = any_pending();
		if (write(answer[1], &c, 1) != 1)
			die("leak_sigblock: cannot answer\n");
	}
	return NULL;
}

static void start_blocked_thread(void)
{
	sigset_t all, old;
	pthread_t t;

	sigfillset(&all);
	if (pipe(ask) != 0 || pipe(answer) != 0)
		die("leak_sigblock: pipe failed\n");
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, hold_blocked, NULL) != 0)
		die("leak_sigblock: pthread_create failed\n");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static NOINLINE void keep_in_global(void)
{
	if (!(g_kept = malloc(1200)))
		die("leak_sigblock: out of memory\n");
	memset(g_kept, 'g', 1200);
}

static NOINLINE void make_leak(void)
{
	void **head = malloc(560);

	if (!head || !(head[0] = malloc(48)))
		die("leak_sigblock: out of memory\n");
	memset(head + 1, 'h', 560 - sizeof(void *));
	memset(head[0], 'c', 48);
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

/* The thread's answer: whether a signal is pending for it. */
static char ask_thread(void)
{
	char c = '?';

	if (write(ask[1], "?", 1) != 1 || read(answer[0], &c, 1) != 1)
		die("leak_sigblock: no answer from the thread\n");
	return c;
}

int main(void)
{
	static const char none[] = "leak_sigblock: no signal pending in the blocked thread\n";
	static const char some[] = "leak_sigblock: a signal is pending in the blocked thread\n";
	ssize_t r;

	start_blocked_thread();
	keep_in_global();
	make_leak();
	scrub_stack();
	if (heapgraph_snapshot)
		heapgraph_snapshot("blocked");
	if (ask_thread() == '0')
		r = write(1, none, sizeof(none) - 1);
	else
		r = write(1, some, sizeof(some) - 1);
	(void)r;
	scrub_stack();
	exit(3);
}
