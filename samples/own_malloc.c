/*
 * own_malloc.c - an executable with a malloc of its own, as rustc has jemalloc
 *
 * Its malloc takes a lock and, the first time, maps its arena with mmap under that lock. The
 * first call comes from libctormalloc's constructor, which runs before the preloaded shim's:
 * the shim's mmap then started the shim, whose start-up dlopens libunwind, and the loader's
 * strdup called this malloc again, waiting for the lock its own thread held (rustc and cargo
 * hung the same way under record). The executable's malloc is found before the shim's, so
 * nothing here is traced as an allocation; what counts is that the program runs.
 *
 * stdout: "own_malloc: 100-byte block from the constructor, 'hi' from main"; exit 0.
 */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_BYTES ((size_t)16 << 20)

extern void *ctormalloc_block;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *arena, *next;

void *malloc(size_t n)
{
	void *p = NULL;

	pthread_mutex_lock(&lock);
	if (!arena) {
		arena = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			     -1, 0);
		next = arena == MAP_FAILED ? NULL : arena;
	}
	n = (n + 15) & ~(size_t)15;
	if (next && (size_t)(next - arena) + n <= ARENA_BYTES) {
		p = next;
		next += n;
	}
	pthread_mutex_unlock(&lock);
	return p;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t n, size_t size)
{
	void *p = size && n > (size_t)-1 / size ? NULL : malloc(n * size);

	if (p)
		memset(p, 0, n * size);
	return p;
}

void *realloc(void *old, size_t n)
{
	void *p = malloc(n);

	if (p && old) /* a bump arena: the old block is below the new one, n bytes readable */
		memmove(p, old, n);
	return p;
}

int main(void)
{
	static const char yes[] = "own_malloc: 100-byte block from the constructor, 'hi' from main\n";
	static const char no[] = "own_malloc: the constructor's block is missing\n";
	char *s = malloc(3);
	ssize_t r;

	memcpy(s, "hi", 3);
	if (ctormalloc_block && !strcmp(s, "hi"))
		r = write(1, yes, sizeof(yes) - 1);
	else
		r = write(1, no, sizeof(no) - 1);
	(void)r;
	return 0;
}
