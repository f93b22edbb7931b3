/*
 * symbolize_intern.c - arena, string interning and small hash maps for the symbolizer
 *
 * Strings are interned in an arena owned by the symbolizer, so equal names are equal pointers
 * and stay valid until hg_symbolizer_free(). The arena is a list of 64 KiB chunks filled front
 * to back; a request larger than a chunk gets a chunk of its own. Nothing is freed before the
 * symbolizer is.
 *
 * Hash tables are small open-addressing maps keyed by a 64-bit value (an address, or a string
 * hash plus an equality callback), with linear probing and at most half of the slots used.
 * They are local rather than uthash because uthash exits on out-of-memory, and the symbolizer
 * must neither print nor exit: when memory runs out, the answer degrades to "unknown" instead.
 */
#include "symbolize_int.h"

#include "hg_compiler.h"

#include <stdlib.h>
#include <string.h>

#define HG_SYM_CHUNK_BYTES (64 * 1024)	/* arena chunk size; larger requests get their own */

struct hg_sym_chunk {
	struct hg_sym_chunk *next;
	size_t used;		/* bytes of data handed out */
	size_t cap;		/* bytes of data */
	uint64_t data[];	/* 8-byte aligned storage */
};

static uint64_t hg_sym_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

uint64_t hg_sym_fnv(const void *p, size_t len, uint64_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * The slot holding key, or the empty slot that ends its probe. eq and ctx are as for
 * hg_sym_map_get().
 */
static struct hg_sym_slot *hg_sym_map_probe(const struct hg_sym_map *m, uint64_t key,
					    int (*eq)(const void *val, const void *ctx),
					    const void *ctx)
{
	size_t i = hg_sym_mix(key) & m->mask;

	for (;; i = (i + 1) & m->mask) {
		struct hg_sym_slot *sl = &m->slots[i];

		if (!sl->val || (sl->key == key && (!eq || eq(sl->val, ctx))))
			return sl;
	}
}

void *hg_sym_map_get(const struct hg_sym_map *m, uint64_t key,
		     int (*eq)(const void *val, const void *ctx), const void *ctx)
{
	return m->slots ? hg_sym_map_probe(m, key, eq, ctx)->val : NULL;
}

static int hg_sym_map_grow(struct hg_sym_map *m)
{
	size_t old_cap = m->slots ? m->mask + 1 : 0;
	size_t cap = old_cap ? old_cap * 2 : 64;
	struct hg_sym_slot *old = m->slots;
	struct hg_sym_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j = hg_sym_mix(old[i].key) & (cap - 1);

		if (!old[i].val)
			continue;
		while (slots[j].val)
			j = (j + 1) & (cap - 1);
		slots[j] = old[i];
	}
	free(old);
	m->slots = slots;
	m->mask = cap - 1;
	return 0;
}

int hg_sym_map_put(struct hg_sym_map *m, uint64_t key, void *val)
{
	size_t i;

	if ((m->n + 1) * 2 > (m->slots ? m->mask + 1 : 0) && hg_sym_map_grow(m) != 0)
		return -1;
	i = hg_sym_mix(key) & m->mask;
	while (m->slots[i].val)
		i = (i + 1) & m->mask;
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->n++;
	return 0;
}

static HG_NOINLINE HG_COLD void *hg_sym_alloc_slow(struct hg_symbolizer *s, size_t size)
{
	size_t cap = size > HG_SYM_CHUNK_BYTES ? size : HG_SYM_CHUNK_BYTES;
	struct hg_sym_chunk *c = malloc(sizeof(*c) + cap);

	if (!c)
		return NULL;
	c->next = s->chunks;
	c->cap = cap;
	c->used = size;
	s->chunks = c;
	return c->data;
}

void *hg_sym_alloc(struct hg_symbolizer *s, size_t size)
{
	struct hg_sym_chunk *c = s->chunks;
	size_t off;

	size = (size + 7) & ~(size_t)7;
	if (!c || c->cap - c->used < size)
		return hg_sym_alloc_slow(s, size);
	off = c->used;
	c->used += size;
	return (char *)c->data + off;
}

static int hg_sym_str_eq(const void *val, const void *ctx)
{
	return strcmp(val, ctx) == 0;
}

const char *hg_sym_intern(struct hg_symbolizer *s, const char *text)
{
	size_t len;
	uint64_t h;
	char *copy;

	if (!text)
		return NULL;
	len = strlen(text);
	h = hg_sym_fnv(text, len, HG_SYM_FNV_SEED);
	copy = hg_sym_map_get(&s->strings, h, hg_sym_str_eq, text);
	if (copy)
		return copy;
	copy = hg_sym_alloc(s, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, text, len + 1);
	return hg_sym_map_put(&s->strings, h, copy) == 0 ? copy : NULL;
}

void hg_sym_intern_release(struct hg_symbolizer *s)
{
	while (s->chunks) {
		struct hg_sym_chunk *next = s->chunks->next;

		free(s->chunks);
		s->chunks = next;
	}
	free(s->strings.slots);
}
