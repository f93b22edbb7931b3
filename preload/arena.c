/*
 * arena.c - the shim's own memory, taken from mmap and never from the traced heap
 *
 * Everything the shim keeps (the stack table, the module list, the command line) lives here, so
 * the traced program's heap, its fragmentation and its statistics are exactly what they would
 * be without us, and so the shim can never recurse into the allocator it is measuring.
 *
 * Small requests are carved from 1 MiB chunks with a bump pointer under a spinlock; the lock
 * protects three words and is never held across anything that can block or allocate. Large
 * requests map their own pages, which the kernel hands out zeroed and lazily: a 16 MiB table
 * that is one-tenth used costs one-tenth of 16 MiB of RSS.
 *
 * Runs in: inside malloc (slow paths only), fork child.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "arena.h"
#include "hg_compiler.h"
#include "sysmap.h"

#define CHUNK_BYTES (1u << 20)
#define LARGE_BYTES (256u << 10)
#define MAX_MAPS 512

static struct {
	int lock;          /* spinlock over the three fields below */
	uint8_t *cur;      /* next free byte in the current chunk */
	uint8_t *end;      /* end of the current chunk */
	size_t mapped;     /* bytes mapped so far (atomic) */
	struct { uint64_t lo, hi; } maps[MAX_MAPS]; /* our mappings, for hg_arena_owns */
	uint32_t n_maps;   /* atomic: entries claimed in maps */
} arena;

/*
 * MADV_DONTDUMP keeps the shim's tables out of core dumps and, as a different VMA flag, stops
 * the kernel from merging our mappings with malloc's neighbouring ones, so that a heap
 * snapshot can tell them apart in /proc/self/maps.
 */
static void *map_pages(size_t bytes)
{
	void *p = hg_sys_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
	uint32_t i;

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, bytes, MADV_DONTDUMP);
	__atomic_add_fetch(&arena.mapped, bytes, __ATOMIC_RELAXED);
	i = __atomic_fetch_add(&arena.n_maps, 1, __ATOMIC_RELAXED);
	if (i < MAX_MAPS) {
		arena.maps[i].lo = (uint64_t)(uintptr_t)p;
		__atomic_store_n(&arena.maps[i].hi, (uint64_t)(uintptr_t)p + bytes, __ATOMIC_RELEASE);
	}
	return p;
}

int hg_arena_owns(uint64_t addr)
{
	uint32_t n = __atomic_load_n(&arena.n_maps, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < n && i < MAX_MAPS; i++)
		if (addr >= arena.maps[i].lo && addr < __atomic_load_n(&arena.maps[i].hi,
								       __ATOMIC_ACQUIRE))
			return 1;
	return 0;
}

void hg_arena_each(void (*fn)(uint64_t lo, uint64_t hi, void *arg), void *arg)
{
	uint32_t n = __atomic_load_n(&arena.n_maps, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < n && i < MAX_MAPS; i++) {
		uint64_t hi = __atomic_load_n(&arena.maps[i].hi, __ATOMIC_ACQUIRE);
		/* hi is 0 while its maker is still filling the entry in, lo once it was freed */
		if (hi > arena.maps[i].lo)
			fn(arena.maps[i].lo, hi, arg);
	}
}

static size_t page_round(size_t bytes)
{
	return (bytes + 4095u) & ~(size_t)4095u;
}

static void lock(void)
{
	while (__atomic_exchange_n(&arena.lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&arena.lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
}

static void unlock(void)
{
	__atomic_store_n(&arena.lock, 0, __ATOMIC_RELEASE);
}

void *hg_arena_alloc(size_t bytes)
{
	uint8_t *p = NULL;

	if (bytes >= LARGE_BYTES)
		return map_pages(page_round(bytes));
	bytes = (bytes + 15u) & ~(size_t)15u;
	lock();
	if ((size_t)(arena.end - arena.cur) < bytes) {
		/* The rest of the old chunk is abandoned: at most LARGE_BYTES of a 1 MiB chunk. */
		uint8_t *chunk = map_pages(CHUNK_BYTES);
		if (chunk) {
			arena.cur = chunk;
			arena.end = chunk + CHUNK_BYTES;
		}
	}
	if ((size_t)(arena.end - arena.cur) >= bytes) {
		p = arena.cur;
		arena.cur += bytes;
	}
	unlock();
	return p;
}

void hg_arena_free(void *p, size_t bytes)
{
	if (!p || bytes < LARGE_BYTES)
		return;
	bytes = page_round(bytes);
	for (uint32_t i = 0; i < arena.n_maps && i < MAX_MAPS; i++)
		if (arena.maps[i].lo == (uint64_t)(uintptr_t)p)
			__atomic_store_n(&arena.maps[i].hi, arena.maps[i].lo, __ATOMIC_RELEASE);
	if (hg_sys_munmap(p, bytes) == 0)
		__atomic_sub_fetch(&arena.mapped, bytes, __ATOMIC_RELAXED);
}

size_t hg_arena_mapped_bytes(void)
{
	return __atomic_load_n(&arena.mapped, __ATOMIC_RELAXED);
}

void hg_arena_fork_prepare(void)
{
	lock();
}

void hg_arena_fork_done(void)
{
	unlock();
}
