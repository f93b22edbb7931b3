/*
 * boot.h - the real allocator behind the shim, and the buffer that stands in before it is known
 *
 * Runs in: inside malloc, constructor.
 */
#ifndef HG_BOOT_H
#define HG_BOOT_H

#include <stddef.h>
#include <sys/types.h>

struct hg_real {
	void *(*malloc)(size_t);
	void (*free)(void *);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void *(*reallocarray)(void *, size_t, size_t);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*malloc_usable_size)(void *);
	void (*_exit)(int) __attribute__((noreturn));
	void (*_Exit)(int) __attribute__((noreturn));
	void (*quick_exit)(int) __attribute__((noreturn));
	/* NULL until resolved: the mmap entry points then make the system call themselves. */
	void *(*mmap)(void *, size_t, int, int, int, off_t);
	void *(*mmap64)(void *, size_t, int, int, int, off_t);
	int (*munmap)(void *, size_t);
	void *(*mremap)(void *, size_t, size_t, int, ...);
	int (*mprotect)(void *, size_t, int);
};

/* Filled by hg_boot_resolve(); every allocator pointer is non-NULL afterwards or resolution
 * failed. */
extern struct hg_real hg_real;

/*
 * Look up every real function with dlsym(RTLD_NEXT). dlsym may allocate; those calls land in
 * the bootstrap buffer. Returns 0, or -1 when the allocator itself cannot be found (the shim
 * then cannot work at all).
 */
int hg_boot_resolve(void);

/* Serve an allocation from the static bootstrap buffer; NULL once it is exhausted. */
void *hg_boot_alloc(size_t bytes, size_t align);

/* Whether p points into the bootstrap buffer (such blocks are never passed to the real free). */
int hg_boot_owns(const void *p);

/* Usable size of a bootstrap block. */
size_t hg_boot_size(const void *p);

#endif /* HG_BOOT_H */
