/*
 * maprange.h - a set of disjoint address ranges, each charged to a stack: the program's mappings
 *
 * The mmap domain of an image (replay_mmap.c) keeps here the anonymous mappings the program
 * made itself. The kernel lets a program unmap any page-aligned part of a mapping and move,
 * grow or shrink one with mremap, so the set is not a table of whole mappings: removing
 * [lo, hi) trims the ranges it overlaps at either end, splits one it falls inside, and drops
 * those it covers. Ranges are kept sorted by address; neighbouring ranges are never merged
 * (each stays charged to the stack that mapped it). A range may also be flagged reserved
 * (PROT_NONE: address space set aside, holding no memory until mprotect makes it accessible);
 * changing a part's flags splits the range the same way.
 */
#ifndef HG_MAPRANGE_H
#define HG_MAPRANGE_H

#include <stddef.h>
#include <stdint.h>

struct hg_maprange {
	uint64_t lo, hi;   /* [lo, hi), page-aligned, lo < hi */
	uint32_t stack_id; /* the stack that mapped it */
	uint32_t flags;    /* HG_MAPRANGE_* */
};

#define HG_MAPRANGE_RESERVED 0x1 /* PROT_NONE: no access, no memory behind it */

struct hg_mapset {
	struct hg_maprange *v; /* n ranges sorted by lo, disjoint */
	size_t n, cap;
};

/*
 * What a removal took from one range r (its stack and flags): the bytes gone, and how the count
 * of ranges changed (-1: the range went whole; 0: trimmed at one end; +1: split in two).
 */
typedef void hg_mapset_cut_fn(void *ctx, const struct hg_maprange *r, uint64_t bytes,
			      int ranges_delta);

/*
 * What a change of flags did to one range `was` (as it was before): bytes of it now have
 * new_flags, and the count of ranges grew by ranges_delta (0, 1 or 2: the parts outside the
 * change keep the old flags as ranges of their own).
 */
typedef void hg_mapset_flip_fn(void *ctx, const struct hg_maprange *was, uint64_t bytes,
			       uint32_t new_flags, int ranges_delta);

/* Zero-initialised is an empty set. */
void hg_mapset_release(struct hg_mapset *s);

/*
 * Remove [lo, hi) from every range it overlaps, calling cut (if non-NULL) once per range
 * touched. Returns the bytes removed (0 when nothing in [lo, hi) was in the set).
 */
uint64_t hg_mapset_remove(struct hg_mapset *s, uint64_t lo, uint64_t hi, hg_mapset_cut_fn *cut,
			  void *ctx);

/*
 * Add [lo, hi) charged to stack_id. The caller removes any overlap first (an mmap over mapped
 * addresses replaces them): adding over a range in the set is a bug, caught by an assertion.
 * Out-of-memory exits (diag.h).
 */
void hg_mapset_add(struct hg_mapset *s, uint64_t lo, uint64_t hi, uint32_t stack_id,
		   uint32_t flags);

/*
 * Give the parts of ranges inside [lo, hi) these flags, splitting ranges that the change
 * covers only in part; flip (if non-NULL) is called once per range whose flags changed.
 * Returns the bytes whose flags changed. Out-of-memory exits (diag.h).
 */
uint64_t hg_mapset_set_flags(struct hg_mapset *s, uint64_t lo, uint64_t hi, uint32_t flags,
			     hg_mapset_flip_fn *flip, void *ctx);

/* The range holding addr, or NULL. Valid until the set changes. */
const struct hg_maprange *hg_mapset_find(const struct hg_mapset *s, uint64_t addr);

/* Round a length up to whole pages, and an address down to its page. */
#define HG_MAP_PAGE 4096ull
static inline uint64_t hg_map_page_up(uint64_t n)
{
	return (n + HG_MAP_PAGE - 1) & ~(HG_MAP_PAGE - 1);
}

#endif /* HG_MAPRANGE_H */
