/*
 * demo.c - a small word-indexing program with two leaks, for `make demo`
 *
 * It splits a built-in sentence into words, keeps each word in a cache entry, prints a greeting
 * and a count, and forgets to free two things: the greeting and the cache. Everything else it
 * allocates (scratch buffers while counting letters) is freed, so the report should point at
 * exactly two sites in this file.
 *
 * stdout: "hello, heapgraph" and "16 words cached, 57 letters counted" (two lines).
 * stdio allocates its own buffer; the expectations below are only on this file's sites.
 *
 * Expect (sites whose frames[0] is in demo.c, live at exit):
 *   build_cache   16 blocks, 16384 bytes live; 16 allocations, 16384 bytes allocated
 *   make_greeting  1 block,     64 bytes live;  1 allocation,     64 bytes allocated
 *   count_letters  no live site (16 allocations of 32 bytes, all freed)
 * build_cache is the largest site in the process (larger than stdio's buffer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEMO_ENTRY_BYTES 1024
#define DEMO_GREETING_BYTES 64
#define DEMO_SCRATCH_BYTES 32

static const char *const demo_words[] = {
	"every", "byte", "you", "allocate", "is", "a", "promise", "to", "give",
	"it", "back", "some", "day", "or", "leak", "it",
};
#define DEMO_N_WORDS (sizeof(demo_words) / sizeof(demo_words[0]))

static char *demo_cache[DEMO_N_WORDS];

/* Leaks: the caller prints the greeting and never frees it. */
static char *make_greeting(const char *name)
{
	char *s = malloc(DEMO_GREETING_BYTES); /* site: make_greeting */

	if (s)
		snprintf(s, DEMO_GREETING_BYTES, "hello, %s", name);
	return s;
}

/* Leaks: one 1 KiB entry per word, held in a global array that nobody frees. */
static size_t build_cache(void)
{
	size_t i;

	for (i = 0; i < DEMO_N_WORDS; i++) {
		demo_cache[i] = malloc(DEMO_ENTRY_BYTES); /* site: build_cache */
		if (!demo_cache[i])
			return i;
		strcpy(demo_cache[i], demo_words[i]);
	}
	return i;
}

/* Not a leak: each word is copied into a scratch buffer that is freed right away. */
static size_t count_letters(void)
{
	size_t i, n = 0;

	for (i = 0; i < DEMO_N_WORDS; i++) {
		char *scratch = malloc(DEMO_SCRATCH_BYTES);

		if (!scratch)
			continue;
		strcpy(scratch, demo_words[i]);
		n += strlen(scratch);
		free(scratch);
	}
	return n;
}

int main(void)
{
	char *greeting = make_greeting("heapgraph");
	size_t n_cached = build_cache();
	size_t n_letters = count_letters();

	printf("%s\n", greeting ? greeting : "hello");
	printf("%zu words cached, %zu letters counted\n", n_cached, n_letters);
	return 0;
}
