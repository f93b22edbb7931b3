/*
 * fork_siblings.c - two fork children run the same worker; only the first-born's leaks, and
 * which worker starts first is the scheduler's choice
 *
 * The parent (argv: PROG [LEAKS]) forks two children, first A, then B. Each child waits until
 * its pipe has something to read, makes that pipe its stdin and execs PROG --worker. The
 * parent writes LEAKS (default 1) into A's pipe and 0 into B's: the worker leaks that many
 * 1000-byte blocks (worker_leak), so both workers have one command line and differ only in
 * what they leak. By default the parent writes both pipes at once: which worker starts first,
 * and where each image's records land in the trace, is up to the scheduler and the collector.
 * FORK_SIBLINGS_ORDER=forward runs A's worker to its end, waits 200 ms (the collector writes
 * what it has at least every 50 ms) and then runs B's; reverse runs B's first. No stdio
 * (write(2) only), so every image's totals are exact.
 *
 * stdout: "fork_siblings: done" (one line, from the parent); exit 0.
 *
 * Expect five process images:
 *   parent:      command "PROG [LEAKS]", forked false, exec false, exit {"code":0};
 *                allocations 0.
 *   A, B:        fork children of the parent (ppid = its pid), A forked first (its start_ns is
 *                the smaller), command the parent's, exit {"exec":true}; allocations 0.
 *   A's worker:  A's pid, exec true, command "PROG --worker", exit {"code":0}; one site,
 *                worker_leak: LEAKS * 1000 bytes in LEAKS blocks; allocations LEAKS, frees 0.
 *   B's worker:  B's pid, exec true, command "PROG --worker", exit {"code":0};
 *                allocations 0, live_bytes 0.
 *   In the file, A's worker comes before B's with FORK_SIBLINGS_ORDER=forward and after it with
 *   reverse. `heapgraph diff` pairs A's worker with A's worker either way.
 */
#define _GNU_SOURCE /* pipe2 */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define WORKER_ARG "--worker"
#define BLOCK_BYTES 1000

static void say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));

	(void)r;
}

static void fail(const char *s)
{
	say(s);
	_exit(1);
}

/* A small decimal number: digits up to the first other byte. */
static unsigned parse_count(const char *s)
{
	unsigned n = 0;

	while (*s >= '0' && *s <= '9' && n < 1000)
		n = n * 10 + (unsigned)(*s++ - '0');
	return n;
}

static NOINLINE void worker_leak(void)
{
	char *p = malloc(BLOCK_BYTES); /* site: worker_leak */

	if (!p)
		fail("fork_siblings: out of memory\n");
	memset(p, 1, BLOCK_BYTES);
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

static int worker(void)
{
	char buf[16] = { 0 };
	unsigned n;

	if (read(0, buf, sizeof(buf) - 1) <= 0)
		fail("fork_siblings: worker has no count\n");
	n = parse_count(buf);
	for (unsigned i = 0; i < n; i++)
		worker_leak();
	scrub_stack();
	return 0;
}

/* Child: wait for the parent's word, then run the worker with it on stdin. */
static void run_child(char *argv0, int fd)
{
	char *args[] = { argv0, (char *)WORKER_ARG, NULL };
	struct pollfd p = { fd, POLLIN, 0 };

	while (poll(&p, 1, -1) < 0)
		;
	if (dup2(fd, 0) < 0)
		fail("fork_siblings: dup2 failed\n");
	execv("/proc/self/exe", args);
	_exit(127);
}

static pid_t start_child(char *argv0, int *wfd)
{
	int fds[2];
	pid_t pid;

	/* Close-on-exec: no worker keeps another's pipe open (dup2 clears it on stdin). */
	if (pipe2(fds, O_CLOEXEC) < 0)
		fail("fork_siblings: pipe failed\n");
	pid = fork();
	if (pid < 0)
		fail("fork_siblings: fork failed\n");
	if (pid == 0) {
		close(fds[1]);
		run_child(argv0, fds[0]);
	}
	close(fds[0]);
	*wfd = fds[1];
	return pid;
}

static void release(int fd, const char *count)
{
	if (write(fd, count, strlen(count)) < 0)
		fail("fork_siblings: write failed\n");
	close(fd);
}

static void reap(pid_t pid)
{
	int status = 0;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("fork_siblings: a worker failed\n");
}

/*
 * One worker, then the other once the first has exited and the collector, which writes what it
 * has at least every 50 ms, has had 200 ms to put the first one's records in the file.
 */
static void one_then_other(int f1, const char *c1, pid_t p1, int f2, const char *c2, pid_t p2)
{
	struct timespec pause = { 0, 200 * 1000 * 1000 };

	release(f1, c1);
	reap(p1);
	while (nanosleep(&pause, &pause) < 0)
		;
	release(f2, c2);
	reap(p2);
}

int main(int argc, char **argv)
{
	const char *order = getenv("FORK_SIBLINGS_ORDER");
	const char *leaks = argc >= 2 ? argv[1] : "1";
	int fa, fb;
	pid_t a, b;

	if (argc >= 2 && strcmp(argv[1], WORKER_ARG) == 0)
		return worker();
	a = start_child(argv[0], &fa);
	b = start_child(argv[0], &fb);
	if (order && strcmp(order, "forward") == 0) {
		one_then_other(fa, leaks, a, fb, "0", b);
	} else if (order && strcmp(order, "reverse") == 0) {
		one_then_other(fb, "0", b, fa, leaks, a);
	} else {
		release(fa, leaks);
		release(fb, "0");
		reap(a);
		reap(b);
	}
	say("fork_siblings: done\n");
	return 0;
}
