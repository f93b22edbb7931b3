/*
 * slots_full.c - more live processes than the ring has slots; two of them leak and exit
 *
 * Every traced thread writes through a ring slot of its own, and a thread that finds none free
 * shares the overflow slot. The exit snapshot of a process with no slot of its own used to be
 * left out, and `check` passed on its leak; and one that claimed a slot only at its snapshot,
 * its earlier records in the overflow slot, could reach the file in the wrong order (its exit
 * before its start: a second image of the same pid, "parent 0", with the leak on it).
 *
 * argv: N (default 70). The parent forks N idle children, each of which allocates and frees
 * once (taking a slot, or the overflow slot once none is left) and says so, then waits to be
 * let go. With every idle child ready it forks two leakers. Leaker A leaks 4096 bytes
 * (leak_now) and exits at once, while the idle children still hold their slots; leaker B
 * leaks 2048 bytes (leak_later), then waits until the idle children have been let go and
 * reaped, and exits. Recorded with fewer slots than N, A's exit snapshot finds none free; B's
 * may find one freed by then. No stdio: write(2) only.
 *
 * stdout: "slots_full: done" (one line, from the parent); exit 0.
 *
 * Expect N + 3 process images, all but the parent forked from it (ppid = its pid), each with
 * its exit snapshot; `check` fails (exit 23) with two direct leaks, of 4096 bytes in leak_now
 * and 2048 bytes in leak_later, in two processes.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define MAX_CHILDREN 1000

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

static void *volatile sink;

/* A block only the leaking child's stack held: gone once the caller returns. */
static NOINLINE void leak_now(void)
{
	char *p = malloc(4096);

	memset(p, 1, 4096);
	sink = p;
	sink = NULL;
}

static NOINLINE void leak_later(void)
{
	char *p = malloc(2048);

	memset(p, 2, 2048);
	sink = p;
	sink = NULL;
}

static void wait_for(int fd)
{
	char c;

	if (read(fd, &c, 1) < 0)
		fail("slots_full: read failed\n");
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 70, go[2], ready[2], later[2], st;
	pid_t a, b;

	if (n < 1 || n > MAX_CHILDREN)
		fail("slots_full: N must be 1-1000\n");
	if (pipe(go) < 0 || pipe(ready) < 0 || pipe(later) < 0)
		fail("slots_full: pipe failed\n");
	for (int i = 0; i < n; i++) {
		pid_t c = fork();

		if (c < 0)
			fail("slots_full: fork failed\n");
		if (c == 0) {
			close(go[1]);
			free(malloc(16));
			if (write(ready[1], "r", 1) != 1)
				_exit(1);
			wait_for(go[0]); /* end of file once the parent closes go[1] */
			_exit(0);
		}
	}
	for (int i = 0; i < n; i++)
		wait_for(ready[0]);
	if ((a = fork()) == 0) {
		leak_now();
		exit(0);
	}
	if ((b = fork()) == 0) {
		close(go[1]);
		close(later[1]);
		leak_later();
		wait_for(later[0]);
		exit(0);
	}
	if (a < 0 || b < 0 || waitpid(a, &st, 0) != a)
		fail("slots_full: fork or wait failed\n");
	close(go[1]);
	for (int i = 0; i < n; i++)
		if (wait(&st) < 0)
			fail("slots_full: wait failed\n");
	close(later[1]);
	if (waitpid(b, &st, 0) != b)
		fail("slots_full: wait failed\n");
	say("slots_full: done\n");
	return 0;
}
