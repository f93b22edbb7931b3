/*
 * stats_callers.c - one allocating helper called from three callers; temporary allocations
 *
 * make_buffer(size) is the only function here that keeps memory. main calls, in order:
 *   parse_header: 3 x make_buffer(100)   ->  300 B in 3 blocks
 *   parse_body:   5 x make_buffer(200)   -> 1000 B in 5 blocks
 *   parse_footer: 2 x make_buffer(300)   ->  600 B in 2 blocks
 * all kept to the end: 1900 B in 10 blocks, all through make_buffer's one malloc line.
 * Then, freed at once (temporary: freed before the thread allocates anything else):
 *   temp_scratch: 7 x malloc(64), each freed right away          -> 7 temporary
 *   pairs: 4 x { a = first_of_pair() (40 B); b = second_of_pair() (24 B); free(a); free(b) }
 *          -> b is temporary (4), a is not (b was allocated before a was freed)
 * No stdio (write(2) only), so nothing else allocates.
 *
 * Expect (report, blocks allocated in this file):
 *   --group-by function: make_buffer 1900 B, 10 blocks, average 190 B
 *   --group-by function --cumulative: make_buffer 1900/10, main 1900/10, parse_body 1000/5,
 *                      parse_footer 600/2, parse_header 300/3
 *   --group-by traceback: three groups, make_buffer by parse_body 1000/5, by parse_footer
 *                      600/2, by parse_header 300/3
 *   --sort allocations --group-by function: make_buffer 10, temp_scratch 7, first_of_pair 4,
 *                      second_of_pair 4 (25 allocations)
 *   --sort temporary: temp_scratch 7 (448 B), second_of_pair 4 (96 B); 11 in all
 *   size histogram: 16-31 B: 4 (4 temporary), 32-63 B: 4 (0), 64-127 B: 10 (7),
 *                   128-255 B: 5 (0), 256-511 B: 2 (0)
 * stdout: "stats_callers: done".
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *kept[10];
static int n_kept;

static __attribute__((noinline)) void make_buffer(size_t size)
{
	void *p = malloc(size); /* site: make_buffer */

	memset(p, 0, size);
	kept[n_kept++] = p;
}

static __attribute__((noinline)) void parse_header(void)
{
	for (int i = 0; i < 3; i++)
		make_buffer(100);
}

static __attribute__((noinline)) void parse_body(void)
{
	for (int i = 0; i < 5; i++)
		make_buffer(200);
}

static __attribute__((noinline)) void parse_footer(void)
{
	for (int i = 0; i < 2; i++)
		make_buffer(300);
}

static __attribute__((noinline)) void temp_scratch(void)
{
	for (int i = 0; i < 7; i++) {
		char *p = malloc(64); /* site: temp_scratch */
		memset(p, i, 64);
		free(p);
	}
}

static __attribute__((noinline)) void *first_of_pair(void)
{
	void *p = malloc(40); /* site: first_of_pair */

	memset(p, 1, 40);
	return p;
}

static __attribute__((noinline)) void *second_of_pair(void)
{
	void *p = malloc(24); /* site: second_of_pair */

	memset(p, 2, 24);
	return p;
}

static __attribute__((noinline)) void pairs(void)
{
	for (int i = 0; i < 4; i++) {
		void *a = first_of_pair();
		void *b = second_of_pair();
		free(a);
		free(b);
	}
}

int main(void)
{
	static const char done[] = "stats_callers: done\n";

	parse_header();
	parse_body();
	parse_footer();
	temp_scratch();
	pairs();
	if (write(1, done, sizeof(done) - 1) < 0)
		return 1;
	return 0;
}
