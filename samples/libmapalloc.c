/*
 * libmapalloc.c - a malloc of its own that maps every block with mmap, as jemalloc, tcmalloc
 * and mimalloc map their arenas
 *
 * Preloaded after the shim (LD_PRELOAD=libheapgraph.so:libmapalloc.so), it is the real
 * allocator behind the shim's malloc: each allocation the program makes reaches the shim first,
 * which calls this malloc, which calls mmap. Those mappings are malloc's memory, not the
 * program's own, and the shim is inside its own malloc when they are made.
 *
 * Expect, for samples/demo run this way: the same heap report as without this library (its
 * totals and sites), an empty mmap domain (no mmap call counted although every block was
 * mapped), and no lost event.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#define HEADER 16u
#define PAGE 4096u

struct header {
	void *base;       /* start of the mapping */
	size_t map_bytes; /* its length */
};

void *malloc(size_t n);
void free(void *p);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t n);
void *reallocarray(void *p, size_t n, size_t size);
int posix_memalign(void **out, size_t align, size_t n);
void *aligned_alloc(size_t align, size_t n);
void *memalign(size_t align, size_t n);
void *valloc(size_t n);
void *pvalloc(size_t n);
size_t malloc_usable_size(void *p);

static struct header *header_of(void *p)
{
	return (struct header *)((char *)p - HEADER);
}

/* A block of n bytes at an align boundary (a power of two), with its header just before. */
static void *map_block(size_t align, size_t n)
{
	size_t bytes = (n + HEADER + align + PAGE - 1) & ~(size_t)(PAGE - 1);
	char *base, *p;

	if (n > SIZE_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	base = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	p = (char *)(((uintptr_t)base + HEADER + align - 1) & ~(uintptr_t)(align - 1));
	header_of(p)->base = base;
	header_of(p)->map_bytes = bytes;
	return p;
}

void *malloc(size_t n)
{
	return map_block(HEADER, n);
}

void free(void *p)
{
	if (p)
		munmap(header_of(p)->base, header_of(p)->map_bytes);
}

void *calloc(size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc(total); /* fresh mappings are zero */
}

size_t malloc_usable_size(void *p)
{
	struct header *h;

	if (!p)
		return 0;
	h = header_of(p);
	return h->map_bytes - (size_t)((char *)p - (char *)h->base);
}

void *realloc(void *p, size_t n)
{
	void *q;
	size_t have;

	if (!p)
		return malloc(n);
	if (!n) {
		free(p);
		return NULL;
	}
	if (!(q = malloc(n)))
		return NULL;
	have = malloc_usable_size(p);
	memcpy(q, p, have < n ? have : n);
	free(p);
	return q;
}

void *reallocarray(void *p, size_t n, size_t size)
{
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, total);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	if (!(p = map_block(align < HEADER ? HEADER : align, n)))
		return ENOMEM;
	*out = p;
	return 0;
}

void *memalign(size_t align, size_t n)
{
	void *p = NULL;
	int rc = posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, n);

	if (rc)
		errno = rc;
	return p;
}

void *aligned_alloc(size_t align, size_t n)
{
	return memalign(align, n);
}

void *valloc(size_t n)
{
	return memalign(PAGE, n);
}

void *pvalloc(size_t n)
{
	return memalign(PAGE, (n + PAGE - 1) & ~(size_t)(PAGE - 1));
}
