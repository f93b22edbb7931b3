/*
 * addrmap.c - the live-block table: address -> (size, stack id), open addressing
 *
 * Linear probing over two parallel arrays (keys apart from values, so a probe touches one cache
 * line of keys), kept at most half full. Deletion shifts later entries of the same cluster back
 * instead of leaving tombstones, so a long replay of malloc/free churn never degrades. Replaying
 * millions of events is dominated by this table, which is why it is not a generic hash map.
 */
#include <stdlib.h>
#include <string.h>

#include "addrmap.h"
#include "diag.h"

static size_t slot_of(uint64_t addr, size_t cap)
{
	uint64_t h = addr * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 20) & (cap - 1);
}

void hg_addrmap_init(struct hg_addrmap *m)
{
	memset(m, 0, sizeof(*m));
}

void hg_addrmap_release(struct hg_addrmap *m)
{
	free(m->keys);
	free(m->vals);
	hg_addrmap_init(m);
}

static void grow(struct hg_addrmap *m)
{
	struct hg_addrmap big;

	big.cap = m->cap ? m->cap * 2 : 1024;
	big.n = 0;
	big.keys = hg_xcalloc(big.cap, sizeof(*big.keys));
	big.vals = hg_xmalloc(big.cap * sizeof(*big.vals));
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			hg_addrmap_put(&big, m->keys[i], &m->vals[i], NULL);
	free(m->keys);
	free(m->vals);
	*m = big;
}

int hg_addrmap_put(struct hg_addrmap *m, uint64_t addr, const struct hg_live *v,
		   struct hg_live *old)
{
	size_t i;

	if ((m->n + 1) * 2 > m->cap)
		grow(m);
	for (i = slot_of(addr, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == addr) {
			if (old)
				*old = m->vals[i];
			m->vals[i] = *v;
			return 1;
		}
	}
	m->keys[i] = addr;
	m->vals[i] = *v;
	m->n++;
	return 0;
}

struct hg_live *hg_addrmap_get(const struct hg_addrmap *m, uint64_t addr)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot_of(addr, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == addr)
			return &m->vals[i];
	return NULL;
}

/* Backward-shift deletion: move later members of the cluster into the hole when allowed. */
static void remove_at(struct hg_addrmap *m, size_t hole)
{
	size_t mask = m->cap - 1;

	for (size_t j = (hole + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
		size_t home = slot_of(m->keys[j], m->cap);
		/* j may move to hole only if its home is not in (hole, j], cyclically. */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			m->keys[hole] = m->keys[j];
			m->vals[hole] = m->vals[j];
			hole = j;
		}
	}
	m->keys[hole] = 0;
	m->n--;
}

int hg_addrmap_take(struct hg_addrmap *m, uint64_t addr, struct hg_live *out)
{
	if (!m->cap)
		return 0;
	for (size_t i = slot_of(addr, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == addr) {
			if (out)
				*out = m->vals[i];
			remove_at(m, i);
			return 1;
		}
	}
	return 0;
}

int hg_addrmap_next(const struct hg_addrmap *m, size_t *pos, uint64_t *addr,
		    const struct hg_live **v)
{
	for (; *pos < m->cap; (*pos)++) {
		if (m->keys[*pos]) {
			*addr = m->keys[*pos];
			*v = &m->vals[*pos];
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
