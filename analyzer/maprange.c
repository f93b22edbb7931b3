/*
 * maprange.c - a set of disjoint address ranges, each charged to a stack: the program's mappings
 *
 * A sorted array: lookups are a binary search, an insertion or a split moves the tail. A
 * program keeps at most some thousands of mappings of its own (the kernel's default limit is
 * 65530 for the whole process), so the moves stay short.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "maprange.h"

void hg_mapset_release(struct hg_mapset *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Index of the first range whose hi is above addr (n when none). */
static size_t first_above(const struct hg_mapset *s, uint64_t addr)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->v[mid].hi <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void insert_at(struct hg_mapset *s, size_t i, const struct hg_maprange *r)
{
	HG_GROW(s->v, s->cap, s->n + 1);
	memmove(&s->v[i + 1], &s->v[i], sizeof(*s->v) * (s->n - i));
	s->v[i] = *r;
	s->n++;
}

static void erase(struct hg_mapset *s, size_t i, size_t count)
{
	memmove(&s->v[i], &s->v[i + count], sizeof(*s->v) * (s->n - i - count));
	s->n -= count;
}

uint64_t hg_mapset_remove(struct hg_mapset *s, uint64_t lo, uint64_t hi, hg_mapset_cut_fn *cut,
			  void *ctx)
{
	size_t i = first_above(s, lo), gone_from = SIZE_MAX, gone = 0;
	uint64_t total = 0;

	for (; i < s->n && s->v[i].lo < hi; i++) {
		struct hg_maprange *r = &s->v[i];
		uint64_t a = r->lo > lo ? r->lo : lo, b = r->hi < hi ? r->hi : hi;
		int delta;

		total += b - a;
		if (a == r->lo && b == r->hi) {
			delta = -1;
			if (gone_from == SIZE_MAX)
				gone_from = i;
			gone++;
		} else if (a > r->lo && b < r->hi) {
			struct hg_maprange upper = { b, r->hi, r->stack_id, r->flags };
			delta = 1;
			r->hi = a;
			if (cut)
				cut(ctx, r, b - a, delta);
			insert_at(s, i + 1, &upper);
			return total; /* [lo, hi) lay inside this one range */
		} else {
			delta = 0;
			if (a == r->lo)
				r->lo = b;
			else
				r->hi = a;
		}
		if (cut)
			cut(ctx, r, b - a, delta);
	}
	if (gone)
		erase(s, gone_from, gone); /* ranges removed whole are contiguous */
	return total;
}

void hg_mapset_add(struct hg_mapset *s, uint64_t lo, uint64_t hi, uint32_t stack_id,
		   uint32_t flags)
{
	size_t i = first_above(s, lo);
	struct hg_maprange r = { lo, hi, stack_id, flags };

	assert(lo < hi && (i == s->n || s->v[i].lo >= hi));
	insert_at(s, i, &r);
}

uint64_t hg_mapset_set_flags(struct hg_mapset *s, uint64_t lo, uint64_t hi, uint32_t flags,
			     hg_mapset_flip_fn *flip, void *ctx)
{
	uint64_t total = 0;

	for (size_t i = first_above(s, lo); i < s->n && s->v[i].lo < hi; i++) {
		struct hg_maprange was = s->v[i], part;
		uint64_t a = was.lo > lo ? was.lo : lo, b = was.hi < hi ? was.hi : hi;
		int extra = 0;

		if (was.flags == flags)
			continue;
		part = was;
		if (was.lo < a) { /* the part below keeps its flags: a range of its own */
			part.hi = a;
			insert_at(s, i++, &part);
			extra++;
		}
		if (b < was.hi) { /* and so does the part above */
			part.lo = b;
			part.hi = was.hi;
			insert_at(s, i + 1, &part);
			extra++;
		}
		s->v[i] = (struct hg_maprange){ a, b, was.stack_id, flags };
		total += b - a;
		if (flip)
			flip(ctx, &was, b - a, flags, extra);
		if (b < was.hi)
			i++; /* past the part above: nothing more there is in [lo, hi) */
	}
	return total;
}

const struct hg_maprange *hg_mapset_find(const struct hg_mapset *s, uint64_t addr)
{
	size_t i = first_above(s, addr);

	return i < s->n && s->v[i].lo <= addr ? &s->v[i] : NULL;
}
