/*
 * exitcode.c - leaves with a chosen exit code or signal, after leaking a known amount
 *
 * Usage: exitcode [exit|_exit|return|term]   (default: exit)
 *
 *   exit    exit(23): atexit handlers and destructors run
 *   _exit   _exit(24): nothing runs after it, so a tracer cannot rely on destructors
 *   return  return 25 from main
 *   term    kill(getpid(), SIGTERM) with the default action: killed by signal 15
 *   other   "exitcode: unknown mode" on stderr, exit 2 (after the same leaks)
 *
 * Before leaving, churn allocates ten 1000-byte blocks one at a time and frees each, then
 * leak_before_exit leaks 100 + 200 + 300 bytes from one call site. The peak (1000) is therefore
 * above the live size at exit (600). It writes "exitcode: MODE" to stdout and
 * "exitcode: leaving via MODE" to stderr with write(2); no stdio, so the totals are exact.
 *
 * Expect (every mode): one site, frames[0] = leak_before_exit: live_blocks 3, live_bytes 600,
 *   allocations 3, allocated_bytes 600;
 *   totals: allocations 13, frees 10, allocated_bytes 10600, live_bytes 600, live_blocks 3,
 *   peak_bytes 1000, lost_events 0, unknown_frees 0;
 *   exit: exit {"code":23}, _exit {"code":24}, return {"code":25}, term {"signal":15};
 *   `heapgraph record` exits 23, 24, 25 and 143 respectively.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *hg_x_kept[3];

static void put(int fd, const char *a, const char *b)
{
	ssize_t r = write(fd, a, strlen(a));

	r = write(fd, b, strlen(b));
	r = write(fd, "\n", 1);
	(void)r;
}

static void churn(void)
{
	unsigned i;

	for (i = 0; i < 10; i++) {
		char *p = malloc(1000);

		if (!p)
			abort();
		p[999] = 0;
		free(p);
	}
}

static void leak_before_exit(void)
{
	unsigned i;

	for (i = 0; i < 3; i++) {
		hg_x_kept[i] = malloc(100u * (i + 1)); /* site: leak_before_exit */
		if (!hg_x_kept[i])
			abort();
	}
}

int main(int argc, char **argv)
{
	const char *mode = argc >= 2 ? argv[1] : "exit";

	churn();
	leak_before_exit();
	put(1, "exitcode: ", mode);
	put(2, "exitcode: leaving via ", mode);
	if (strcmp(mode, "exit") == 0)
		exit(23);
	if (strcmp(mode, "_exit") == 0)
		_exit(24);
	if (strcmp(mode, "return") == 0)
		return 25;
	if (strcmp(mode, "term") == 0) {
		kill(getpid(), SIGTERM);
		pause();
	}
	put(2, "exitcode: unknown mode ", mode);
	return 2;
}
