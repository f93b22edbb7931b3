/*
 * mmap_arena.c - a program with its own small-object allocator on mmap, outside malloc
 *
 * Interpreters and runtimes (CPython's obmalloc, a JIT, a GC) take memory from the kernel with
 * mmap themselves, so a tracer of malloc alone sees none of it. This program maps 64 arenas of
 * 1 MiB (arena_new), fills them with small objects, then gives memory back the ways the kernel
 * allows: whole arenas (16 of them), the tail of one (256 KiB), a hole in the middle of another
 * (64 KiB, which splits it in two), and it grows one arena to 4 MiB with mremap (arena_grow).
 * Last, it reserves 16 MiB of address space with PROT_NONE (arena_reserve), as runtimes do, and
 * makes its first 2 MiB accessible with mprotect: only those 2 MiB are memory.
 * Beside it, glibc serves a 1 MiB malloc with an mmap of its own and the program maps a file:
 * neither is the program's anonymous memory. The only pointer to one malloc'd block is kept
 * inside an arena, which is a root for leak classification. No stdio (write(2) only).
 *
 * Once all 64 arenas are mapped and filled, it holds them for 300 ms: the resident set is then
 * at its largest, and the collector (sampling it every 10 ms) sees it there.
 *
 * Expect, mmap domain (bytes are whole pages mapped):
 *   peak 67108864 bytes (64 MiB), when the 64th arena is mapped
 *   end 55246848 bytes (53 MiB - 320 KiB) in 51 mappings, and 14680064 bytes (14 MiB) reserved:
 *     arena_new: 48911360 bytes (47 MiB - 320 KiB) in 48 mappings, 64 calls, 64 MiB mapped
 *     arena_grow: 4194304 bytes (4 MiB) in 1 mapping, 1 call, 4 MiB mapped
 *     arena_reserve: 2097152 bytes (2 MiB) in 2 mappings (the committed part and the rest),
 *       1 call, 16 MiB mapped
 *   calls: 65 mmap, 1 mremap, 18 munmap (16 arenas, the tail, the hole); 84 MiB mapped in all
 * Expect, heap: the 1 MiB block from big_block freed (its glibc mmap is not in the mmap domain);
 *   live at the end: 100 bytes from kept_block, reachable through the arena (no leak).
 * Expect, at the largest RSS sample (frag's peak_rss): 67108864 bytes in 64 mappings of the
 *   mmap domain, 0 bytes live in the heap, RSS >= 64 MiB.
 * stdout: "mmap_arena: 55246848 bytes in 51 mappings".
 */
#define _GNU_SOURCE /* mremap */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define KIB 1024u
#define MIB (1024u * KIB)
#define ARENAS 64
#define OBJECT 64u

static char *arena[ARENAS];
static size_t arena_bytes[ARENAS];

#define ANON (MAP_PRIVATE | MAP_ANONYMOUS)

static NOINLINE char *arena_new(void)
{
	char *p = mmap(NULL, MIB, PROT_READ | PROT_WRITE, ANON, -1, 0); /* site: arena_new */

	return p == MAP_FAILED ? NULL : p;
}

static NOINLINE char *arena_grow(char *p, size_t old, size_t bytes)
{
	char *q = mremap(p, old, bytes, MREMAP_MAYMOVE); /* site: arena_grow */

	return q == MAP_FAILED ? NULL : q;
}

/* Address space for later, then its first part made usable. */
static NOINLINE char *arena_reserve(size_t bytes, size_t commit)
{
	char *p = mmap(NULL, bytes, PROT_NONE, ANON, -1, 0); /* site: arena_reserve */

	if (p == MAP_FAILED || mprotect(p, commit, PROT_READ | PROT_WRITE) != 0)
		return NULL;
	return p;
}

/* Small objects, each stamped with its index. */
static void fill(char *p, size_t bytes)
{
	for (size_t off = 0; off + OBJECT <= bytes; off += OBJECT)
		memcpy(p + off, &off, sizeof(off));
}

static NOINLINE void *kept_block(void)
{
	return malloc(100); /* site: kept_block */
}

static NOINLINE void big_block(void)
{
	char *p = malloc(MIB); /* site: big_block */

	if (p)
		memset(p, 3, MIB);
	free(p);
}

/* A file mapping, mapped and unmapped: not anonymous, not the domain's. */
static void map_a_file(void)
{
	int fd = open("/proc/self/exe", O_RDONLY);
	void *p = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);

	if (p != MAP_FAILED)
		munmap(p, 4096);
	if (fd >= 0)
		close(fd);
}

static void say_number(uint64_t v)
{
	char buf[24];
	int n = sizeof(buf);

	do
		buf[--n] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	if (write(1, buf + n, sizeof(buf) - (size_t)n) < 0)
		exit(1);
}

static void say(const char *s)
{
	if (write(1, s, strlen(s)) < 0)
		exit(1);
}

int main(void)
{
	uint64_t live = 0, mappings = 0;
	char *reserved;
	void **slot;

	for (int i = 0; i < ARENAS; i++) {
		if (!(arena[i] = arena_new()))
			return 1;
		arena_bytes[i] = MIB;
		fill(arena[i], MIB);
	}
	nanosleep(&(struct timespec){ 0, 300 * 1000 * 1000 }, NULL);
	for (int i = 0; i < 16; i++) { /* every fourth arena goes back whole */
		munmap(arena[4 * i + 3], MIB);
		arena[4 * i + 3] = NULL;
	}
	if (!(arena[0] = arena_grow(arena[0], MIB, 4 * MIB)))
		return 1;
	fill(arena[0], 4 * MIB);
	munmap(arena[1] + 768 * KIB, 256 * KIB);   /* the tail */
	munmap(arena[2] + 512 * KIB, 64 * KIB);    /* a hole: two mappings now */
	big_block();
	map_a_file();
	slot = (void **)(arena[4] + 8 * OBJECT);
	*slot = kept_block();                       /* only this arena points at it */
	if (!(reserved = arena_reserve(16 * MIB, 2 * MIB)))
		return 1;
	fill(reserved, 2 * MIB);
	live = 47ull * MIB + 4 * MIB - 320 * KIB + 2 * MIB;
	mappings = 47 + 1 + 1 + 2;
	say("mmap_arena: ");
	say_number(live);
	say(" bytes in ");
	say_number(mappings);
	say(" mappings\n");
	return 0;
}
