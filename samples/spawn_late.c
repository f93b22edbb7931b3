/*
 * spawn_late.c - a program that spawns a child and ends at once, before the child has written
 *
 *   parent (argv: PROG)          posix_spawn()s /proc/self/exe with "--child" and exits 0
 *                                without waiting: it allocates nothing itself.
 *   child  (argv: PROG --child)  leaks 4321 bytes from child_leak and exits 7.
 *
 * posix_spawn runs no fork handlers (no FORK record announces the child), and the parent
 * usually ends before the child's first record: only the child's environment tells the
 * collector that it is on its way.
 *
 * Expect two process images: the parent (command "PROG", exit code 0, no allocations) and the
 * child (command "PROG --child", forked false and exec false: no traced image of it ran before
 * its exec; exit code 7; one allocation, 4321 bytes from child_leak, live at the end).
 * stdout: nothing.
 */
#include <spawn.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static void *kept;

static __attribute__((noinline)) void child_leak(void)
{
	kept = malloc(4321); /* site: child_leak */
	if (kept)
		memset(kept, 1, 4321);
}

int main(int argc, char **argv)
{
	char *args[] = { argv[0], "--child", NULL };
	pid_t pid;

	if (argc > 1 && !strcmp(argv[1], "--child")) {
		child_leak();
		return 7;
	}
	return posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) ? 1 : 0;
}
