/*
 * leak_lines.c - one function leaking at several source lines: one `check` site, every line named
 *
 * Usage: leak_lines MODE
 *
 *   two      two_lines leaks 1000 bytes at the "site: first" line and 577 bytes at the
 *            "site: second" line
 *   six      six_lines leaks 16, 32, 48, 64, 80 and 96 bytes at the lines marked "site: six1"
 *            to "site: six6" (336 bytes in 6 blocks)
 *   callers  main calls leak_here twice, at the "site: call1" and "site: call2" lines; it leaks
 *            200 bytes, then 300, at its one "site: here" line
 *   strdup   dup_lines leaks a strdup of 23 characters at the "site: dup1" line and one of 39
 *            at the "site: dup2" line (libc's strdup calls malloc)
 *   recurse  recurse(10) calls recurse(9) from the "site: rec_a" line and again from the
 *            "site: rec_b" line, and so on down: 1024 leaves, each leaking 24 bytes at the
 *            "site: rec_leaf" line, from 1024 stacks that differ only in lines
 *   sites    three sites of four lines or more: four_a leaks 4 x 100 bytes (lines "a1" to
 *            "a4"), six_lines as in `six`, four_b 4 x 50 bytes ("b1" to "b4")
 *   other    "leak_lines: unknown mode" on stderr, exits 2
 *
 * `check` groups leaks by the functions, files and modules of their stack, not by lines (so that
 * a baseline survives edits that move lines): each mode leaks from one site. `leaks` shows the
 * lines apart; `check` must name each of them. No stdio: write(2) only, so the process
 * allocates nothing else. The leaked pointers are dropped and main scrubs the stack below itself
 * before returning, so the conservative scan at exit finds no stale copy of one.
 *
 * stdout: "leak_lines: MODE" (one line); exit 0.
 *
 * Expect (heapgraph check, default --fail-on): one process, one direct leak site;
 *   two: 1577 bytes in 2 blocks, frames[0] two_lines, frames[1] main at "call_two"; at
 *     two_lines the lines "first" (1000 bytes, 1 block) and "second" (577 bytes, 1 block).
 *   six: 336 bytes in 6 blocks, frames[0] six_lines, frames[1] main at "call_six"; at six_lines
 *     the lines "six1" to "six6", 16 * N bytes in 1 block at "sixN".
 *   callers: 500 bytes in 2 blocks, frames[0] leak_here at the "here" line (both blocks),
 *     frames[1] main at the lines "call1" (200 bytes) and "call2" (300 bytes).
 *   strdup: 64 bytes in 2 blocks, frames[0] strdup in libc, frames[1] dup_lines at the lines
 *     "dup1" (24 bytes) and "dup2" (40 bytes), frames[2] main at "call_dup".
 *   recurse: 24576 bytes in 1024 blocks, frames[0] recurse at "rec_leaf", frames[1] to
 *     frames[10] recurse at "rec_a" and "rec_b" (12288 bytes each), frames[11] main at
 *     "call_rec".
 *   sites: three sites, four_a (400 bytes), six_lines (336), four_b (200).
 *   check exit status 23.
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

static void *fill(void *p, size_t n)
{
	if (!p)
		_exit(1);
	return memset(p, 0x5a, n);
}

static NOINLINE void two_lines(void)
{
	fill(malloc(1000), 1000); /* site: first */
	fill(malloc(577), 577); /* site: second */
}

static NOINLINE void six_lines(void)
{
	fill(malloc(16), 16); /* site: six1 */
	fill(malloc(32), 32); /* site: six2 */
	fill(malloc(48), 48); /* site: six3 */
	fill(malloc(64), 64); /* site: six4 */
	fill(malloc(80), 80); /* site: six5 */
	fill(malloc(96), 96); /* site: six6 */
}

static NOINLINE void leak_here(size_t n)
{
	fill(malloc(n), n); /* site: here */
}

static NOINLINE void dup_lines(void)
{
	char *volatile p;

	p = strdup("twenty-three characters"); /* site: dup1 */
	p = strdup("a string of thirty-nine characters, too"); /* site: dup2 */
	p = NULL;
	(void)p;
}

static NOINLINE void recurse(int depth)
{
	if (depth == 0) {
		fill(malloc(24), 24); /* site: rec_leaf */
		return;
	}
	recurse(depth - 1); /* site: rec_a */
	recurse(depth - 1); /* site: rec_b */
	__asm__ volatile("" ::: "memory"); /* not a tail call: each level keeps its frame */
}

static NOINLINE void four_a(void)
{
	fill(malloc(100), 100); /* site: a1 */
	fill(malloc(100), 100); /* site: a2 */
	fill(malloc(100), 100); /* site: a3 */
	fill(malloc(100), 100); /* site: a4 */
}

static NOINLINE void four_b(void)
{
	fill(malloc(50), 50); /* site: b1 */
	fill(malloc(50), 50); /* site: b2 */
	fill(malloc(50), 50); /* site: b3 */
	fill(malloc(50), 50); /* site: b4 */
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

int main(int argc, char **argv)
{
	const char *mode = argc >= 2 ? argv[1] : "two";

	say(1, "leak_lines: ", mode);
	if (!strcmp(mode, "two")) {
		two_lines(); /* site: call_two */
	} else if (!strcmp(mode, "six")) {
		six_lines(); /* site: call_six */
	} else if (!strcmp(mode, "strdup")) {
		dup_lines(); /* site: call_dup */
	} else if (!strcmp(mode, "recurse")) {
		recurse(10); /* site: call_rec */
	} else if (!strcmp(mode, "sites")) {
		four_a();
		six_lines();
		four_b();
	} else if (!strcmp(mode, "callers")) {
		leak_here(200); /* site: call1 */
		leak_here(300); /* site: call2 */
	} else {
		say(2, "leak_lines: unknown mode ", mode);
		return 2;
	}
	scrub_stack();
	return 0;
}
