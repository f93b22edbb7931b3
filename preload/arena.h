/*
 * arena.h - the shim's own memory, taken from mmap and never from the traced heap
 *
 * Runs in: inside malloc (slow paths only), fork child.
 */
#ifndef HG_ARENA_H
#define HG_ARENA_H

#include <stddef.h>
#include <stdint.h>

/*
 * Return `bytes` of zeroed memory aligned to 16, or NULL when mmap fails. Memory comes from
 * 1 MiB chunks carved by a bump pointer; requests over 256 KiB get a mapping of their own.
 * Thread-safe (a spinlock that is never held across a call outside this file).
 */
void *hg_arena_alloc(size_t bytes);

/*
 * Give memory back. Only whole mappings from large requests are returned to the kernel;
 * small pieces stay with the arena (the shim's tables only grow, so this loses little).
 */
void hg_arena_free(void *p, size_t bytes);

/*
 * Fork: the parent takes the arena lock before fork() and both sides drop it afterwards, so
 * the child never inherits it held by a thread that does not exist there.
 */
void hg_arena_fork_prepare(void);
void hg_arena_fork_done(void);

/* Whether addr lies in memory the arena mapped (heap snapshots do not scan it). */
int hg_arena_owns(uint64_t addr);

/* Bytes the arena holds from the kernel right now. */
size_t hg_arena_mapped_bytes(void);

/* Call fn on each mapping the arena holds, [lo, hi), at most the first 512 it made. */
void hg_arena_each(void (*fn)(uint64_t lo, uint64_t hi, void *arg), void *arg);

#endif /* HG_ARENA_H */
