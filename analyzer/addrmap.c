/*
 * addrmap.c - address -> one 64-bit word, open addressing (the replay's live blocks)
 *
 * Linear probing over 16-byte entries (key and value together: on a table of millions of
 * blocks every operation is a cache miss, and this makes it one), kept at most three quarters
 * full (half, while small). Deletion shifts later entries of the same cluster back instead of
 * leaving tombstones, so a long replay of malloc/free churn never degrades; the shift hashes
 * each entry it looks at again (a multiply, cheaper than the memory a stored home slot
 * takes). Replaying millions of events is dominated by this table, which is why it is not a
 * generic hash map (replay.c says what 16 bytes instead of 32 gained).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "addrmap.h"
#include "diag.h"

/*
 * Blocks of one 2 KiB span land in one run of 256 slots, in address order (a slot per 8
 * bytes of the span); spans are spread by a multiplicative hash. A program allocates and frees
 * neighbours together (a bump through fresh memory, a teardown in allocation order), so most
 * operations then touch a cache line the previous one touched, instead of a random one of a
 * table of hundreds of megabytes.
 * Measured on the report of a CPython trace (3.7M blocks): spans of 4 KiB 1.13 s, 2 KiB
 * 0.85 s, 1 KiB 0.92 s, 512 B 1.12 s; git, sqlite3, perl and churn traces are the same for
 * 1-4 KiB. Larger spans put many blocks in one run and make long clusters; smaller ones
 * lose the locality. A slot per 8 bytes rather than 16 leaves a span's blocks (at least 32
 * bytes apart) a quarter of its run or less, so that the spans sharing a run rarely collide:
 * replaying CPython's 7.4M live-map operations took 11 probes per insertion, now 1.5
 * (0.294 -> 0.255 s); sqlite3 0.087 -> 0.079 s; a synthetic 3M blocks of 32 bytes 0.435 ->
 * 0.413 s, 8 arenas 64 MiB apart 0.355 -> 0.341 s.
 */
#define SPAN_SHIFT 11
#define SLOT_SHIFT 3 /* bytes of a span per slot of its run: 8 */
#define RUN_SLOTS (1u << (SPAN_SHIFT - SLOT_SHIFT))

/*
 * Tables up to this many entries (16 MiB) are kept at most half full, larger ones three quarters:
 * a small table is in cache and the probes are what costs; in a large one every extra byte
 * is memory traffic. Replaying the live-map operations of real reports: churn (a few thousand
 * live blocks) 0.24 -> 0.13 s, sqlite3 0.107 -> 0.091 s; CPython (3M live) unchanged.
 */
#define SPARSE_MAX ((size_t)1 << 20)
#define FIRST_CAP 1024 /* entries of a map's first table */

static size_t slot_of(uint64_t addr, size_t cap)
{
	uint64_t span = (addr >> SPAN_SHIFT) * 0x9e3779b97f4a7c15ull;
	/* Within its run a block's slot is its offset in the span, turned by the span's hash:
	 * blocks at the same offset of many spans (page-aligned ones) do not share a slot. */
	uint64_t in_run = ((addr >> SLOT_SHIFT) + (span >> 56)) & (RUN_SLOTS - 1);

	return (size_t)((span >> 20) * RUN_SLOTS + in_run) & (cap - 1);
}

void hg_addrmap_init(struct hg_addrmap *m)
{
	memset(m, 0, sizeof(*m));
}

/*
 * Tables of at least this many entries (2 MiB) are mapped with their pages already in place.
 * Fresh zeroed memory is otherwise mapped to the shared zero page by the first probe (a read)
 * and copied on the first store, a second fault that also flushes the other CPUs' TLBs:
 * faults were 18% of the report of a CPython trace.
 */
#define POPULATE_MIN ((size_t)1 << 17)

static struct hg_addrmap_entry *table_new(size_t cap)
{
	if (cap < POPULATE_MIN)
		return hg_xcalloc(cap, sizeof(struct hg_addrmap_entry));
	return hg_xmap_zeroed(cap * sizeof(struct hg_addrmap_entry));
}

static void table_free(struct hg_addrmap_entry *e, size_t cap)
{
	if (cap < POPULATE_MIN)
		free(e);
	else
		hg_xunmap(e, cap * sizeof(*e));
}

void hg_addrmap_release(struct hg_addrmap *m)
{
	table_free(m->e, m->cap);
	hg_addrmap_init(m);
}

/*
 * Doubling a table of millions of entries copies them all and maps and clears the new table,
 * each time: a CPython trace's live map went through 2^18..2^22 entries, and its last doubling
 * moved 1.5 million. With a hint, a table that outgrows HINT_FROM entries grows once more
 * than it would, to hold the hint, and skips the doubling after: that report 5% faster
 * (median of 16 alternating runs). The hint is the trace's (hg_format.h), for one pid, and can
 * be wrong: another image of that pid (an exec'd one) may be far smaller, and a damaged or
 * crafted header can say anything. So only a table already this large takes it, and one
 * growth takes it at most to HINT_JUMP times the table's size: a table twice as large as
 * doubling would have made, at worst.
 */
#define HINT_FROM ((size_t)1 << 20)
#define HINT_JUMP 4

/* Whether a table of cap entries holds n without growing (the test of hg_addrmap_put). */
static int holds(size_t cap, size_t n)
{
	return (n + 1) * 4 <= cap * (cap <= SPARSE_MAX ? 2 : 3);
}

static size_t grown_cap(const struct hg_addrmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : FIRST_CAP;

	if (m->cap >= HINT_FROM)
		while (cap < m->cap * HINT_JUMP && !holds(cap, m->hint))
			cap *= 2;
	return cap;
}

static void grow(struct hg_addrmap *m)
{
	struct hg_addrmap big;

	big.cap = grown_cap(m);
	big.hint = m->hint;
	big.n = 0;
	big.e = table_new(big.cap);
	for (size_t i = 0; i < m->cap; i++)
		if (m->e[i].addr)
			hg_addrmap_put(&big, m->e[i].addr, m->e[i].value, NULL);
	table_free(m->e, m->cap);
	*m = big;
}

void hg_addrmap_copy(struct hg_addrmap *dst, const struct hg_addrmap *src)
{
	*dst = *src;
	if (src->cap) {
		dst->e = table_new(src->cap);
		memcpy(dst->e, src->e, src->cap * sizeof(*src->e));
	}
}

int hg_addrmap_put(struct hg_addrmap *m, uint64_t addr, uint64_t value, uint64_t *old)
{
	size_t i;

	if (!holds(m->cap, m->n))
		grow(m);
	for (i = slot_of(addr, m->cap); m->e[i].addr; i = (i + 1) & (m->cap - 1)) {
		if (m->e[i].addr == addr) {
			if (old)
				*old = m->e[i].value;
			m->e[i].value = value;
			return 1;
		}
	}
	m->e[i].addr = addr;
	m->e[i].value = value;
	m->n++;
	return 0;
}

/* The slot holding addr, or -1. */
static ptrdiff_t find(const struct hg_addrmap *m, uint64_t addr)
{
	if (!m->cap)
		return -1;
	for (size_t i = slot_of(addr, m->cap); m->e[i].addr; i = (i + 1) & (m->cap - 1))
		if (m->e[i].addr == addr)
			return (ptrdiff_t)i;
	return -1;
}

void hg_addrmap_prefetch(const struct hg_addrmap *m, uint64_t addr)
{
	/* The slot's cache line and the next: a removal shifts the rest of the cluster back.
	 * Report of a CPython trace (3.1M blocks live), 14 alternating runs: median 0.40 ->
	 * 0.37 s. */
	if (m->cap) {
		size_t i = slot_of(addr, m->cap);

		__builtin_prefetch(&m->e[i], 1);
		__builtin_prefetch(&m->e[(i + 4) & (m->cap - 1)], 1);
	}
}

uint64_t *hg_addrmap_get(const struct hg_addrmap *m, uint64_t addr)
{
	ptrdiff_t i = find(m, addr);

	return i < 0 ? NULL : &m->e[i].value;
}

/* Backward-shift deletion: move later members of the cluster into the hole when allowed. */
static void remove_at(struct hg_addrmap *m, size_t hole)
{
	size_t mask = m->cap - 1;

	for (size_t j = (hole + 1) & mask; m->e[j].addr; j = (j + 1) & mask) {
		size_t home = slot_of(m->e[j].addr, m->cap);
		/* j may move to hole only if its home is not in (hole, j], cyclically. */
		if (((j - home) & mask) >= ((j - hole) & mask)) {
			m->e[hole] = m->e[j];
			hole = j;
		}
	}
	m->e[hole].addr = 0;
	m->n--;
}

int hg_addrmap_take(struct hg_addrmap *m, uint64_t addr, uint64_t *out)
{
	ptrdiff_t i = find(m, addr);

	if (i < 0)
		return 0;
	if (out)
		*out = m->e[i].value;
	remove_at(m, (size_t)i);
	return 1;
}

int hg_addrmap_take_if(struct hg_addrmap *m, uint64_t addr, uint64_t value, uint64_t mask)
{
	ptrdiff_t i = find(m, addr);

	if (i < 0 || (m->e[i].value & mask) != (value & mask))
		return 0;
	remove_at(m, (size_t)i);
	return 1;
}

int hg_addrmap_next(const struct hg_addrmap *m, size_t *pos, uint64_t *addr, uint64_t *value)
{
	for (; *pos < m->cap; (*pos)++) {
		if (m->e[*pos].addr) {
			*addr = m->e[*pos].addr;
			*value = m->e[*pos].value;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
