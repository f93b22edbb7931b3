/*
 * gate.c - known leaks, or none, and a chosen exit status: the cases `heapgraph check` decides
 *
 * Usage: gate MODE
 *
 *   clean     allocates and frees a 4096-byte buffer and ten 64-byte blocks; exits 0
 *   leak      leaks 100 bytes from leak_once; exits 0
 *   grow      leaks 100 bytes from leak_once twice (the same call site); exits 0
 *   more      leaks 100 bytes from leak_once and 48 bytes from leak_new; exits 0
 *   fail      leaks nothing, exits 5 (the program's own failure)
 *   failleak  leaks 100 bytes from leak_once, exits 5
 *   other     "gate: unknown mode" on stderr, exits 2
 *
 * Every mode first runs churn (the 4096-byte buffer, then the ten 64-byte blocks one at a time,
 * each freed), so the peak of every mode is exactly 4096 bytes. No stdio: write(2) only, so the
 * process allocates nothing else and the numbers are exact. The leaked pointers are dropped
 * and main scrubs the stack below itself before returning, so the conservative scan at exit
 * finds no stale copy of one.
 *
 * stdout: "gate: MODE" (one line).
 *
 * Expect (heapgraph check, default --fail-on): one process; peak_bytes 4096;
 *   clean, fail: no leak.
 *   leak, failleak: one direct leak site, 100 bytes in 1 block, frames[0] leak_once at the
 *     "site: leak_once" line, frames[1] main.
 *   grow: the same site, 200 bytes in 2 blocks.
 *   more: the leak_once site (100 bytes, 1 block) and a leak_new site at the "site: leak_new"
 *     line (48 bytes, 1 block).
 *   check exit status: clean 0, leak/grow/more/failleak 23, fail 5.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void say(int fd, const char *a, const char *b)
{
	ssize_t r = write(fd, a, strlen(a));

	r = write(fd, b, strlen(b));
	r = write(fd, "\n", 1);
	(void)r;
}

static NOINLINE void churn(void)
{
	char *big = malloc(4096);
	unsigned i;

	if (!big)
		_exit(1);
	big[0] = 1;
	free(big);
	for (i = 0; i < 10; i++) {
		char *p = malloc(64);
		if (!p)
			_exit(1);
		p[0] = (char)i;
		free(p);
	}
}

static NOINLINE void leak_once(void)
{
	char *p = malloc(100); /* site: leak_once */

	if (!p)
		_exit(1);
	memset(p, 0x5a, 100);
}

static NOINLINE void leak_new(void)
{
	char *p = malloc(48); /* site: leak_new */

	if (!p)
		_exit(1);
	memset(p, 0x3c, 48);
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

int main(int argc, char **argv)
{
	const char *mode = argc >= 2 ? argv[1] : "clean";
	int code = 0;

	churn();
	say(1, "gate: ", mode);
	if (!strcmp(mode, "leak") || !strcmp(mode, "failleak")) {
		leak_once();
	} else if (!strcmp(mode, "grow")) {
		leak_once();
		leak_once();
	} else if (!strcmp(mode, "more")) {
		leak_once();
		leak_new();
	} else if (strcmp(mode, "clean") && strcmp(mode, "fail")) {
		say(2, "gate: unknown mode ", mode);
		code = 2;
	}
	if (!strcmp(mode, "fail") || !strcmp(mode, "failleak"))
		code = 5;
	scrub_stack();
	return code;
}
