/*
 * leak_sigwait.c - a daemon's signal thread: every signal blocked, all of them awaited
 *
 * main blocks every signal around pthread_create, so wait_signals starts with all of them
 * blocked. It allocates 1600 bytes into a local, says it is ready, and calls sigwait on the
 * full set until SIGUSR1 comes, counting any other signal it is handed. While a thread sleeps
 * in sigwait the kernel unblocks what it awaits, so its mask does not show the snapshot's
 * stop signal blocked: the shim once sent it that signal, which sigwait then handed to the
 * program as its own (a "signal 62") while the snapshot waited a second for the thread.
 *
 * main waits until the thread sleeps in rt_sigtimedwait (its /proc/self/task/TID/syscall),
 * keeps 1200 bytes in a global (keep_in_global), drops a 560-byte block whose first word
 * points at a 48-byte block (make_leak), scrubs the stack below itself and takes
 * heapgraph_snapshot("waiting") when traced. Then it sends the thread SIGUSR1, joins it,
 * prints what the thread was handed and exits with status 3. Output through write(2) only.
 *
 * stdout: "leak_sigwait: the signal thread got SIGUSR1 only" (one line); exit 3, traced or
 *   not.
 *
 * Expect at snapshot "waiting": 2 threads, 1 stopped (the one taking it); direct 560 bytes in
 *   1 block at make_leak, indirect 48 bytes in 1 block at make_leak, cycle 0; the 1200 bytes
 *   at keep_in_global and the 1600 at wait_signals reachable, not leaks.
 */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "heapgraph.h"

#define NOINLINE __attribute__((noinline))

static void *g_kept;
static int ready[2];            /* thread -> main: its tid, once it holds its block */
static volatile int g_others;   /* signals other than SIGUSR1 that sigwait handed over */

static NOINLINE void die(const char *msg)
{
	ssize_t r = write(2, msg, strlen(msg));

	(void)r;
	_exit(2);
}

static void *wait_signals(void *arg)
{
	char *volatile held = malloc(1600);
	pid_t tid = (pid_t)syscall(SYS_gettid);
	sigset_t all;
	int sig = 0;

	(void)arg;
	if (!held)
		die("leak_sigwait: out of memory\n");
	memset(held, 'w', 1600);
	sigfillset(&all);
	if (write(ready[1], &tid, sizeof(tid)) != (ssize_t)sizeof(tid))
		die("leak_sigwait: cannot say ready\n");
	while (sigwait(&all, &sig) == 0 && sig != SIGUSR1)
		g_others++;
	free(held);
	return NULL;
}

/* Wait (up to 5 s) until thread tid sleeps in rt_sigtimedwait. */
static void wait_until_in_sigwait(pid_t tid)
{
	char path[64], buf[32];
	struct timespec ms = { 0, 1000000 };

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	for (int i = 0; i < 5000; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
		if (fd >= 0)
			close(fd);
		if (n > 0) {
			buf[n] = '\0';
			if (atol(buf) == SYS_rt_sigtimedwait && strchr(buf, ' '))
				return;
		}
		nanosleep(&ms, NULL);
	}
	die("leak_sigwait: the thread never reached sigwait\n");
}

static NOINLINE void keep_in_global(void)
{
	if (!(g_kept = malloc(1200)))
		die("leak_sigwait: out of memory\n");
	memset(g_kept, 'g', 1200);
}

static NOINLINE void make_leak(void)
{
	void **head = malloc(560);

	if (!head || !(head[0] = malloc(48)))
		die("leak_sigwait: out of memory\n");
	memset(head + 1, 'h', 560 - sizeof(void *));
	memset(head[0], 'c', 48);
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

int main(void)
{
	static const char only[] = "leak_sigwait: the signal thread got SIGUSR1 only\n";
	static const char more[] = "leak_sigwait: the signal thread got other signals too\n";
	sigset_t all, old;
	pthread_t t;
	pid_t tid;
	ssize_t r;

	sigfillset(&all);
	if (pipe(ready) != 0)
		die("leak_sigwait: pipe failed\n");
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&t, NULL, wait_signals, NULL) != 0)
		die("leak_sigwait: pthread_create failed\n");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (read(ready[0], &tid, sizeof(tid)) != (ssize_t)sizeof(tid))
		die("leak_sigwait: the thread did not start\n");
	wait_until_in_sigwait(tid);
	keep_in_global();
	make_leak();
	scrub_stack();
	if (heapgraph_snapshot)
		heapgraph_snapshot("waiting");
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	if (g_others == 0)
		r = write(1, only, sizeof(only) - 1);
	else
		r = write(1, more, sizeof(more) - 1);
	(void)r;
	return 3;
}
