/*
 * addrmap.h - address -> one 64-bit word, open addressing: the replay's live blocks (replay.c
 * packs a block's size and stack id in the word), the event model's recent blocks and frees
 */
#ifndef HG_ADDRMAP_H
#define HG_ADDRMAP_H

#include <stddef.h>
#include <stdint.h>

struct hg_addrmap_entry {
	uint64_t addr;  /* 0 = empty slot; addresses are never 0 */
	uint64_t value; /* the caller's word */
};

struct hg_addrmap {
	struct hg_addrmap_entry *e; /* cap entries */
	size_t cap;                 /* power of two, or 0 before the first insert */
	size_t n;                   /* live entries */
	size_t hint;                /* entries it may come to hold (0: not known): a table that
				       outgrows the caches grows to hold them at once */
};

/* Zero-initialised is a valid empty map; hg_addrmap_init does just that. */
void hg_addrmap_init(struct hg_addrmap *m);
void hg_addrmap_release(struct hg_addrmap *m);

/*
 * Insert or overwrite addr. Returns 1 when addr was already present (its old value is copied to
 * *old if old is non-NULL), 0 when it is new. Grows at 1/2 load up to 2^20 entries, 3/4 above;
 * out-of-memory exits (diag.h).
 */
int hg_addrmap_put(struct hg_addrmap *m, uint64_t addr, uint64_t value, uint64_t *old);

/* Make dst (uninitialised, or released) a copy of src: the same table, copied whole, which is
 * far cheaper than putting src's entries one by one (a fork child's copy of its parent's
 * heap). Out-of-memory exits (diag.h). */
void hg_addrmap_copy(struct hg_addrmap *dst, const struct hg_addrmap *src);

/* Remove addr; returns 1 and copies its value to *out when it was present, else 0. */
int hg_addrmap_take(struct hg_addrmap *m, uint64_t addr, uint64_t *out);

/* Remove addr only if the bits of its value under mask equal value's (one probe); 1 when it
 * did. */
int hg_addrmap_take_if(struct hg_addrmap *m, uint64_t addr, uint64_t value, uint64_t mask);

/* Pointer to addr's value, or NULL. Valid until the next put or take. */
uint64_t *hg_addrmap_get(const struct hg_addrmap *m, uint64_t addr);

/* Start loading addr's slot into the cache: a lookup due shortly after then does not wait. */
void hg_addrmap_prefetch(const struct hg_addrmap *m, uint64_t addr);

/* Iterate: start with *pos = 0; returns 0 when done. */
int hg_addrmap_next(const struct hg_addrmap *m, size_t *pos, uint64_t *addr, uint64_t *value);

#endif /* HG_ADDRMAP_H */
