/*
 * heaptop.h - how far up each part of the address space the program was ever given blocks
 */
#ifndef HG_HEAPTOP_H
#define HG_HEAPTOP_H

#include <stddef.h>
#include <stdint.h>

#include "hg_compiler.h"

/* The address space in windows of 2^HG_HEAPTOP_SHIFT bytes: glibc's heaps (HEAP_MAX_SIZE,
 * 64 MiB, aligned) fill one each, and the brk heap a few. */
#define HG_HEAPTOP_SHIFT 26

struct hg_heaptop_mark {
	uint64_t window; /* addr >> HG_HEAPTOP_SHIFT of the blocks it covers */
	uint64_t end;    /* the highest addr + size of a block that started in the window */
};

/* High-water marks of one process's blocks: they never go down, whatever is freed. */
struct hg_heaptop {
	struct hg_heaptop_mark *v; /* sorted by window, one mark per window that had a block */
	size_t n, cap;
	size_t last;               /* index of the mark the last note went to */
};

/* Out of line: a block in another window than the last one's. */
void hg_heaptop_note_slow(struct hg_heaptop *h, uint64_t addr, uint64_t end);

/* The program was given [addr, addr + size). Allocations come in runs within one heap: a
 * compare and a store. Out-of-memory exits (diag.h). */
static inline void hg_heaptop_note(struct hg_heaptop *h, uint64_t addr, uint64_t size)
{
	if (HG_LIKELY(h->n) && h->v[h->last].window == addr >> HG_HEAPTOP_SHIFT) {
		if (addr + size > h->v[h->last].end)
			h->v[h->last].end = addr + size;
		return;
	}
	hg_heaptop_note_slow(h, addr, addr + size);
}

/*
 * How high in [lo, hi) the program's blocks ever reached: the highest end of a block that
 * started in a window [lo, hi) touches, held within [lo, hi]; lo when no block started there.
 * A block of another mapping in the same window as hi, above it, makes this hi: its top then
 * counts as used, never as untouched.
 */
uint64_t hg_heaptop_high(const struct hg_heaptop *h, uint64_t lo, uint64_t hi);

/* dst becomes a copy of src (dst's own marks are released first). */
void hg_heaptop_copy(struct hg_heaptop *dst, const struct hg_heaptop *src);

/* Zero-initialised is empty; release frees the marks and leaves it so. */
void hg_heaptop_release(struct hg_heaptop *h);

#endif /* HG_HEAPTOP_H */
