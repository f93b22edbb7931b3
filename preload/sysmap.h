/*
 * sysmap.h - the shim's own mappings, made with the system call itself
 *
 * The shim interposes mmap, munmap and mremap to see the program's own mappings. Its own
 * mappings (the arena, the ring) must not go through those entry points: they would be seen
 * as nested calls of a busy thread, which the guard counts as a signal handler's lost event,
 * and before the real functions are resolved there is nothing to call. So the shim maps its
 * memory with the raw system call, which no library can interpose.
 *
 * Runs in: inside malloc (slow paths), constructor, fork child.
 */
#ifndef HG_SYSMAP_H
#define HG_SYSMAP_H

#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* mmap(2): the mapping, or MAP_FAILED with errno set. */
static inline void *hg_sys_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

/* munmap(2): 0, or -1 with errno set. */
static inline int hg_sys_munmap(void *addr, size_t len)
{
	return (int)syscall(SYS_munmap, addr, len);
}

#endif /* HG_SYSMAP_H */
