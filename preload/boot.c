/*
 * boot.c - the real allocator behind the shim, and the buffer that stands in before it is known
 *
 * The shim finds the real malloc with dlsym(RTLD_NEXT, ...), but dlsym itself calls calloc (for
 * its error buffer) and so does the loader when the first thread starts. Those calls arrive
 * before any real allocator is known, so they are served from a static buffer with a bump
 * pointer. Blocks from it are never freed: free() recognises them by address range and ignores
 * them, and realloc() copies them out. Each block carries its size in the 16 bytes before it.
 *
 * Runs in: inside malloc, constructor.
 */
#include <dlfcn.h>
#include <gnu/libc-version.h>
#include <stdint.h>
#include <string.h>

#include "boot.h"
#include "hg_compiler.h"
#include "progmaps.h"
#include "rawlog.h"

#define BOOT_BYTES (64u << 10)

struct hg_real hg_real;

static uint8_t boot_buf[BOOT_BYTES] HG_ALIGNED(64);
static size_t boot_used; /* atomic: bytes handed out */

void *hg_boot_alloc(size_t bytes, size_t align)
{
	size_t start, end, old;

	if (align < 16)
		align = 16;
	do {
		old = __atomic_load_n(&boot_used, __ATOMIC_RELAXED);
		start = (old + 16 + align - 1) & ~(align - 1);
		end = start + ((bytes + 15u) & ~(size_t)15u);
		if (end > BOOT_BYTES || bytes > BOOT_BYTES)
			return NULL;
	} while (!__atomic_compare_exchange_n(&boot_used, &old, end, 0, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	memcpy(boot_buf + start - sizeof(size_t), &bytes, sizeof(size_t));
	return boot_buf + start; /* static storage is zeroed: calloc needs nothing more */
}

int hg_boot_owns(const void *p)
{
	return (const uint8_t *)p >= boot_buf && (const uint8_t *)p < boot_buf + BOOT_BYTES;
}

size_t hg_boot_size(const void *p)
{
	size_t n;

	memcpy(&n, (const uint8_t *)p - sizeof(size_t), sizeof(size_t));
	return n;
}

#define RESOLVE(name)                                                                      \
	do {                                                                               \
		void *sym_ = dlsym(RTLD_NEXT, #name);                                      \
		memcpy(&r.name, &sym_, sizeof(sym_));                                      \
	} while (0)

void *hg_boot_next(void **cache, const char *name)
{
	void *sym = __atomic_load_n(cache, __ATOMIC_RELAXED);

	if (HG_UNLIKELY(!sym)) {
		sym = dlsym(RTLD_NEXT, name);
		__atomic_store_n(cache, sym, __ATOMIC_RELAXED);
	}
	return sym;
}

/* Whether fn is in the same object as the C library's own gnu_get_libc_version. */
static int is_glibc(void *fn)
{
	Dl_info f, c;

	return dladdr(fn, &f) && dladdr((void *)gnu_get_libc_version, &c) &&
	       f.dli_fbase == c.dli_fbase;
}

int hg_boot_resolve(void)
{
	/* Resolved into a local copy and published at once, so that no entry point ever sees a
	 * real malloc without the matching real free. */
	struct hg_real r = { 0 };

	RESOLVE(malloc);
	RESOLVE(free);
	RESOLVE(calloc);
	RESOLVE(realloc);
	RESOLVE(reallocarray);
	RESOLVE(posix_memalign);
	RESOLVE(aligned_alloc);
	RESOLVE(memalign);
	RESOLVE(valloc);
	RESOLVE(pvalloc);
	RESOLVE(malloc_usable_size);
	RESOLVE(_exit);
	RESOLVE(_Exit);
	RESOLVE(quick_exit); /* here, not at the exit: quick_exit may come from a signal handler */
	RESOLVE(mmap);
	RESOLVE(mmap64);
	RESOLVE(munmap);
	RESOLVE(mremap);
	RESOLVE(mprotect);
	RESOLVE(execve);
	RESOLVE(execvpe);
	RESOLVE(fexecve);
	RESOLVE(execveat);
	RESOLVE(posix_spawn);
	RESOLVE(posix_spawnp);
	if (!r.malloc || !r.free || !r.calloc || !r.realloc) {
		hg_rawlog("cannot find the real allocator with dlsym; tracing is off");
		return -1;
	}
	hg_real = r;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	if (is_glibc(r.malloc))
		hg_progmaps_enable();
	return 0;
}
