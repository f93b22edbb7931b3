/*
 * leak_quick_exit.c - the program ends with quick_exit, after a handler that frees its cache
 *
 * quick_exit runs the at_quick_exit handlers and then the C library's own _exit, which the
 * shim's _exit never sees: the process used to leave no exit snapshot and no EXIT record, so
 * check could not check it. main keeps a 100-byte cache in a global, registers a handler
 * that frees it, drops a 300-byte block (leak_block) and calls quick_exit(5).
 *
 * stdout: "leak_quick_exit: handler ran" (from the handler, write(2)); exit 5.
 *
 * Expect at the exit snapshot: the 300-byte block leaked directly (leak_block), the cache
 *   freed (the snapshot comes after the program's handlers); the process exited with code 5.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static char *cache;
static void *volatile sink;

static void free_cache(void)
{
	static const char msg[] = "leak_quick_exit: handler ran\n";
	ssize_t r;

	free(cache);
	cache = NULL;
	r = write(1, msg, sizeof(msg) - 1);
	(void)r;
}

/* A block only this frame held. */
static NOINLINE void leak_block(void)
{
	char *p = malloc(300);

	memset(p, 3, 300);
	sink = p;
	sink = NULL;
}

int main(void)
{
	cache = malloc(100);
	memset(cache, 1, 100);
	if (at_quick_exit(free_cache) != 0)
		return 1;
	leak_block();
	quick_exit(5);
}
