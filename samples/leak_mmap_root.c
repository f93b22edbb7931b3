/*
 * leak_mmap_root.c - a block held only from the program's own anonymous mapping, which the
 * kernel has merged with a large malloc block's mapping
 *
 * Programs with their own allocators (CPython's obmalloc arenas, JITs, GCs) keep pointers to
 * malloc'd blocks in anonymous memory they mmap themselves; that memory is a root. glibc serves
 * large requests (>= 128 KiB) with mmap too, and the kernel merges adjacent anonymous mappings
 * with the same protection into one, so one line of /proc/self/maps can hold both.
 *
 * make_neighbours mallocs 48 bytes, then 1 MiB (an mmap'd chunk), maps 64 KiB of its own right
 * below that chunk (MAP_FIXED_NOREPLACE; right above it if below is taken), and stores there the
 * only pointer to the 48-byte block; globals hold the 1 MiB block and the mapping. When the chunk
 * has no free page on either side, it is freed, its place blocked with a PROT_NONE mapping, and
 * the whole tried again (up to 8 times; the blocking mappings are removed afterwards). Nothing
 * is leaked. If no attempt works the program says so and exits 77.
 * No stdio (write(2) only); main scrubs the stack below itself before returning.
 *
 * stdout: "leak_mmap_root: merged" when the two mappings share one line of /proc/self/maps,
 * "leak_mmap_root: separate" otherwise (then the test means less); one line.
 *
 * Expect, snapshot "exit": nothing leaked (direct, indirect, cycle 0); reachable 1048624
 *   bytes in 2 blocks (the 1 MiB block through g_big, the 48-byte block through the mapping);
 *   possibly 0.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define BIG (1u << 20)
#define OWN (64u << 10)

static char *g_big;
static void **g_own;

static void say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));

	(void)r;
}

static void *map_at(uintptr_t at)
{
	void *p = mmap((void *)at, OWN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	return p == MAP_FAILED || (uintptr_t)p != at ? NULL : p;
}

static NOINLINE int make_neighbours(void)
{
	struct { void *at; size_t len; } blocked[8];
	unsigned n_blocked = 0, i;
	void *held = malloc(48);

	if (!held)
		return -1;
	memset(held, 0, 48);
	/* When the chunk lands in a hole with no room on either side, block that hole and try
	 * again; the blocking mappings go away once done. */
	for (g_own = NULL; !g_own && n_blocked < 8;) {
		uintptr_t chunk, len;

		if (!(g_big = malloc(BIG)))
			return -1;
		chunk = (uintptr_t)g_big - 16; /* glibc's mmap'd chunk: page-aligned header */
		len = (BIG + 16 + 4095) & ~(uintptr_t)4095;
		if ((g_own = map_at(chunk - OWN)) || (g_own = map_at(chunk + len)))
			break;
		free(g_big);
		g_big = NULL;
		blocked[n_blocked].at = mmap((void *)chunk, len, PROT_NONE,
					     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
					     -1, 0);
		blocked[n_blocked].len = len;
		if (blocked[n_blocked].at == MAP_FAILED)
			return -1;
		n_blocked++;
	}
	for (i = 0; i < n_blocked; i++)
		munmap(blocked[i].at, blocked[i].len);
	if (!g_own)
		return -1;
	memset(g_big, 0, BIG);
	g_own[5] = held;
	return 0;
}

/* Whether one line of /proc/self/maps covers both the chunk and our mapping. */
static NOINLINE int merged(void)
{
	static char maps[1 << 16];
	uintptr_t a = (uintptr_t)g_own, b = (uintptr_t)g_big;
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n, len = 0;
	char *p;

	if (fd < 0)
		return 0;
	while (len < (ssize_t)sizeof(maps) - 1 &&
	       (n = read(fd, maps + len, sizeof(maps) - 1 - (size_t)len)) > 0)
		len += n;
	close(fd);
	maps[len] = '\0';
	for (p = maps; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p)) {
		char *q;
		uintptr_t lo = strtoul(p, &q, 16), hi = strtoul(q + 1, NULL, 16);
		if (lo <= a && a < hi && lo <= b && b < hi)
			return 1;
	}
	return 0;
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

int main(void)
{
	if (make_neighbours() < 0) {
		say("leak_mmap_root: no room for the mapping\n");
		return 77;
	}
	say(merged() ? "leak_mmap_root: merged\n" : "leak_mmap_root: separate\n");
	scrub_stack();
	return 0;
}
