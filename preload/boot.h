/*
 * boot.h - the real allocator behind the shim, and the buffer that stands in before it is known
 *
 * Runs in: inside malloc, constructor.
 */
#ifndef HG_BOOT_H
#define HG_BOOT_H

#include <stddef.h>
#include <spawn.h>
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
	/* The exec family (exec.c): resolved here, as a fork or vfork child may not call dlsym. */
	int (*execve)(const char *, char *const[], char *const[]);
	int (*execvpe)(const char *, char *const[], char *const[]);
	int (*fexecve)(int, char *const[], char *const[]);
	int (*execveat)(int, const char *, char *const[], char *const[], int);
	int (*posix_spawn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[], char *const[]);
	int (*posix_spawnp)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			    const posix_spawnattr_t *, char *const[], char *const[]);
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

/*
 * The next definition of `name` after ours (libc's), looked up with dlsym once into *cache;
 * NULL if there is none. HG_BOOT_NEXT gives it the type of fn_var. For the entry points that
 * hg_real lacks, or that may be called before hg_boot_resolve.
 */
void *hg_boot_next(void **cache, const char *name);
#define HG_BOOT_NEXT(cache, name, fn_var) ((__typeof__(fn_var))hg_boot_next((cache), (name)))

/*
 * hg_real.name once hg_boot_resolve has filled it, else the lookup of hg_boot_next into the
 * static pointer cache: for entry points the program may reach before boot (a constructor's
 * exec, a quick_exit from a signal handler).
 */
#define HG_BOOT_REAL(name, cache) \
	(hg_real.name ? hg_real.name : HG_BOOT_NEXT(&(cache), #name, hg_real.name))

/* Serve an allocation from the static bootstrap buffer; NULL once it is exhausted. */
void *hg_boot_alloc(size_t bytes, size_t align);

/* Whether p points into the bootstrap buffer (such blocks are never passed to the real free). */
int hg_boot_owns(const void *p);

/* Usable size of a bootstrap block. */
size_t hg_boot_size(const void *p);

#endif /* HG_BOOT_H */
