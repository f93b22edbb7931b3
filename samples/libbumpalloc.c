/*
 * libbumpalloc.c - a malloc of its own, preloaded behind the shim: blocks carved from one pool
 * that its constructor maps with mmap
 *
 * Allocators that replace glibc's (jemalloc, tcmalloc, mimalloc) map their memory with mmap
 * themselves, sometimes through calls the shim sees. Their blocks then live in anonymous
 * memory the shim could take for the program's own, and a heap snapshot must still write the
 * pointers into it. This one keeps it small: a 64 MiB pool, a bump pointer, each block's size
 * in the 8 bytes before it, free() a no-op. Not thread-safe; for single-threaded samples.
 *
 * Use: LD_PRELOAD=libbumpalloc.so PROG under `heapgraph record` (which puts the shim first).
 * Expect: the same leaks as without it (tests/e2e/test_leaks.py, test_leaks_behind_own_malloc).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define POOL (64u << 20)

static char *pool_cur, *pool_end;

__attribute__((constructor)) static void pool_init(void)
{
	char *p;

	if (pool_cur)
		return;
	p = mmap(NULL, POOL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	pool_cur = p;
	pool_end = p + POOL;
}

/* A block of n bytes aligned to align (at least 16), or NULL with errno ENOMEM. */
static void *carve(size_t align, size_t n)
{
	uintptr_t at;

	pool_init();
	if (align < 16)
		align = 16;
	if (!pool_cur || (align & (align - 1)))
		return errno = ENOMEM, NULL;
	at = ((uintptr_t)pool_cur + 8 + align - 1) & ~(uintptr_t)(align - 1);
	if (n > (size_t)(pool_end - (char *)at)) {
		errno = ENOMEM;
		return NULL;
	}
	((size_t *)at)[-1] = n;
	pool_cur = (char *)at + n;
	return (void *)at;
}

static size_t size_of(const void *p)
{
	return p ? ((const size_t *)p)[-1] : 0;
}

void *malloc(size_t n)
{
	return carve(16, n);
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t n, size_t size)
{
	void *p = n && size > SIZE_MAX / n ? NULL : carve(16, n * size);

	return p ? memset(p, 0, n * size) : NULL;
}

void *realloc(void *old, size_t n)
{
	void *p = carve(16, n);

	if (p && old)
		memcpy(p, old, size_of(old) < n ? size_of(old) : n);
	return p;
}

void *reallocarray(void *old, size_t n, size_t size)
{
	return n && size > SIZE_MAX / n ? NULL : realloc(old, n * size);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	*out = carve(align, n);
	return *out ? 0 : ENOMEM;
}

void *aligned_alloc(size_t align, size_t n)
{
	return carve(align, n);
}

void *memalign(size_t align, size_t n)
{
	return carve(align, n);
}

void *valloc(size_t n)
{
	return carve(4096, n);
}

void *pvalloc(size_t n)
{
	return carve(4096, (n + 4095) & ~(size_t)4095);
}

size_t malloc_usable_size(void *p)
{
	return size_of(p);
}
