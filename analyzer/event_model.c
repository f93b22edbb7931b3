/*
 * event_model.c - what the trace stream has said so far, per process (see event_model.h)
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "addrmap.h"
#include "diag.h"
#include "event_model.h"
#include "hg_format.h"
#include "zigzag.h"

struct pair_key {
	uint64_t size;
	uint32_t stack_id;
	uint32_t fn;
};

/* A chunk size: the addresses freed most recently, oldest first. */
struct chunk_class {
	uint64_t chunk;
	uint64_t freed[HG_MODEL_FREED];
	uint32_t n_freed;
	UT_hash_handle hh;
};

/*
 * A pair: its key, and its most recent live blocks, oldest first: n_recent of them from
 * recent[recent_at], around a ring of cap_recent (a power of two, HG_GROW's doubling from
 * 16). A ring, since a pair allocated often keeps HG_MODEL_PAIR_RECENT and drops its oldest
 * with every allocation: shifting them all down was a tenth of decoding a trace. recent_at
 * moves only then, at the full size, so below it the blocks start at recent[0] and the array
 * grows as any other.
 */
struct pair {
	struct pair_key key;
	uint32_t idx;
	struct chunk_class *cls;  /* of its chunk size, once something of that size was freed */
	uint64_t *recent;
	uint32_t n_recent, recent_at;
	size_t cap_recent;
};

_Static_assert((HG_MODEL_PAIR_RECENT & (HG_MODEL_PAIR_RECENT - 1)) == 0 &&
		       HG_MODEL_PAIR_RECENT >= 16, "a ring of recent blocks grows 16, 32, ...");

/* The pair's recent block k places from the newest (0: the newest). */
static uint64_t *recent_back(const struct pair *p, uint32_t k)
{
	return &p->recent[(p->recent_at + p->n_recent - 1 - k) & (p->cap_recent - 1)];
}

/* Drop the recent block k places from the newest, keeping the order of the rest. */
static void recent_drop(struct pair *p, uint32_t k)
{
	for (; k > 0; k--)
		*recent_back(p, k) = *recent_back(p, k - 1);
	p->n_recent--;
}

/* Add addr as the newest recent block, the oldest going when there are as many as kept. */
static void recent_push(struct pair *p, uint64_t addr)
{
	if (p->n_recent == HG_MODEL_PAIR_RECENT) {
		p->recent_at = (p->recent_at + 1) & (p->cap_recent - 1);
		p->n_recent--;
	}
	HG_GROW(p->recent, p->cap_recent, (size_t)p->n_recent + 1); /* recent_at is 0 below */
	p->n_recent++;
	*recent_back(p, 0) = addr;
}

/* The writer's index of pairs by key: open addressing, at most half full, the key in the slot
 * (a lookup per allocation: one cache line, not two). */
struct key_slot {
	struct pair_key key;
	uint32_t idx1; /* pair index + 1; 0: empty */
	uint32_t pad;
};

/* Where the FIFO of recent blocks stands: the map keeps an entry only while its seq matches
 * (its low 32 bits: see word()). */
enum { LIVE = 1, FREED = 2 }; /* the kinds of entry in blocks */
struct recent_slot {
	uint64_t addr;
	uint32_t seq;
	uint32_t pair;  /* of an allocation (unused in freed_fifo) */
};

struct hg_pid_model {
	uint32_t pid;
	struct pair *pairs;        /* by index, in one array: one cache miss per lookup */
	size_t n_pairs, cap_pairs;
	struct key_slot *keys;     /* the writer's: pairs by key */
	size_t key_cap;
	struct chunk_class *classes;
	int mapless;               /* a codec-5 reader's: no blocks map (hg_event_model_new_reader) */
	/* addr -> a recent live block (LIVE, its pair and allocation seq) or a recent free
	 * (FREED, its free seq), one word each (see word()). One map for both: an address is one
	 * or the other, and an event then costs one lookup for itself and one for the FIFO it
	 * pushes an old entry out of. */
	struct hg_addrmap blocks;
	struct recent_slot *fifo;  /* HG_MODEL_RECENT slots, in order of allocation; fifo_cap
				      of them allocated so far (ring_reserve) */
	uint32_t fifo_cap;
	uint64_t seq;              /* allocations noted */
	uint64_t top;              /* end of the highest block */
	uint64_t prev_end;         /* end of the block allocated last */
	uint64_t ends[HG_MODEL_ENDS]; /* ends of the blocks allocated before it, a ring */
	uint32_t end_at;           /* where the next goes in ends */
	struct recent_slot *freed_fifo; /* HG_MODEL_ANY_FREED slots, in order of freeing;
					   freed_cap of them allocated so far */
	uint32_t freed_cap;
	uint64_t free_seq;         /* frees noted */
	uint64_t last_taken;       /* which free (its seq) an address code referred to last */
	uint64_t last_alloc, last_free;
	uint64_t *stack;           /* the previous STACK's frames */
	uint32_t n_stack, stack_id;
	UT_hash_handle hh;
};

struct hg_event_model {
	struct hg_pid_model *pids;
	int mapless;
};

struct hg_event_model *hg_event_model_new(void)
{
	return hg_xcalloc(1, sizeof(struct hg_event_model));
}

/*
 * Codec 5 makes the blocks map the writer's alone: a FREE of a recent live block always says
 * so and gives its pair (an age, a pair and rank, or a pair and its address), and a literal
 * FREE (tag 7) never is one, so a reader learns from the codes all the map would tell it.
 * The map cost the reader two or three hash lookups an event, a quarter of decoding a trace;
 * without it a reference the writer could not have made (an age or a position naming a block
 * or a free since reused) is no longer caught here, but a block's checksum still catches
 * damage, and every index is still checked against what the model holds.
 */
struct hg_event_model *hg_event_model_new_reader(void)
{
	struct hg_event_model *m = hg_event_model_new();

	m->mapless = 1;
	return m;
}

int hg_event_model_reads(const struct hg_event_model *m, unsigned codec)
{
	return !m->mapless || codec == HG_CODEC_EVENT_COLUMNS;
}

static void pid_free(struct hg_pid_model *pm)
{
	struct chunk_class *c, *ctmp;

	free(pm->keys);
	for (size_t i = 0; i < pm->n_pairs; i++) {
		free(pm->pairs[i].recent);
	}
	free(pm->pairs);
	HASH_ITER(hh, pm->classes, c, ctmp) {
		HASH_DEL(pm->classes, c);
		free(c);
	}
	hg_addrmap_release(&pm->blocks);
	free(pm->freed_fifo);
	free(pm->fifo);
	free(pm->stack);
	free(pm);
}

void hg_event_model_free(struct hg_event_model *m)
{
	struct hg_pid_model *pm, *tmp;

	if (!m)
		return;
	HASH_ITER(hh, m->pids, pm, tmp) {
		HASH_DEL(m->pids, pm);
		pid_free(pm);
	}
	free(m);
}

struct hg_pid_model *hg_model_of(struct hg_event_model *m, uint32_t pid)
{
	struct hg_pid_model *pm;

	HASH_FIND(hh, m->pids, &pid, sizeof(pid), pm);
	if (!pm) {
		pm = hg_xcalloc(1, sizeof(*pm));
		pm->pid = pid;
		pm->mapless = m->mapless;
		HASH_ADD(hh, m->pids, pid, sizeof(pm->pid), pm);
	}
	return pm;
}

void hg_model_forget(struct hg_event_model *m, uint32_t pid)
{
	struct hg_pid_model *pm;

	HASH_FIND(hh, m->pids, &pid, sizeof(pid), pm);
	if (pm) {
		HASH_DEL(m->pids, pm);
		pid_free(pm);
	}
}

/* glibc's chunk for a request: size + 8, rounded up to 16, at least 32. */
static uint64_t chunk_of(uint64_t size)
{
	uint64_t c = (size + 8 + 15) & ~(uint64_t)15;

	return c < 32 ? 32 : c;
}

static uint64_t key_hash(const struct pair_key *k)
{
	uint64_t h = (k->size * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)k->stack_id << 8 | k->fn);

	return (h * 0xbf58476d1ce4e5b9ull) >> 32;
}

/* The next pair; valid until the next one is made (the array may move). */
static struct pair *pair_new(struct hg_pid_model *pm, const struct pair_key *k)
{
	struct pair *p;

	HG_GROW(pm->pairs, pm->cap_pairs, pm->n_pairs + 1);
	p = &pm->pairs[pm->n_pairs];
	memset(p, 0, sizeof(*p));
	p->key = *k;
	p->idx = (uint32_t)pm->n_pairs++;
	return p;
}

/* The slot of key k in the writer's index: its own, or the empty one where it would go. */
static struct key_slot *key_slot(const struct hg_pid_model *pm, const struct pair_key *k)
{
	size_t mask = pm->key_cap - 1;

	for (size_t i = key_hash(k) & mask;; i = (i + 1) & mask) {
		struct key_slot *s = &pm->keys[i];
		if (!s->idx1 || (s->key.size == k->size && s->key.stack_id == k->stack_id &&
				 s->key.fn == k->fn))
			return s;
	}
}

static void keys_grow(struct hg_pid_model *pm)
{
	struct key_slot *old = pm->keys;
	size_t old_cap = pm->key_cap;

	pm->key_cap = old_cap ? old_cap * 2 : 1024;
	pm->keys = hg_xcalloc(pm->key_cap, sizeof(*pm->keys));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].idx1)
			*key_slot(pm, &old[i].key) = old[i];
	free(old);
}

uint32_t hg_model_pair(struct hg_pid_model *pm, uint64_t size, uint32_t stack_id, uint8_t fn,
		       int *is_new)
{
	struct pair_key k = { size, stack_id, fn };
	struct key_slot *s;

	if ((pm->n_pairs + 1) * 2 > pm->key_cap)
		keys_grow(pm);
	s = key_slot(pm, &k);
	*is_new = !s->idx1;
	if (s->idx1)
		return s->idx1 - 1;
	if (pm->n_pairs >= HG_MODEL_MAX_PAIRS)
		return HG_MODEL_NO_PAIR;
	s->key = k;
	s->idx1 = pair_new(pm, &k)->idx + 1;
	return s->idx1 - 1;
}

uint32_t hg_model_pair_add(struct hg_pid_model *pm, uint64_t size, uint32_t stack_id,
			   uint8_t fn)
{
	struct pair_key k = { size, stack_id, fn };

	if (pm->n_pairs >= HG_MODEL_MAX_PAIRS)
		return HG_MODEL_NO_PAIR;
	return pair_new(pm, &k)->idx;
}

int hg_model_pair_get(const struct hg_pid_model *pm, uint32_t idx, uint64_t *size,
		      uint32_t *stack_id, uint8_t *fn)
{
	if (idx >= pm->n_pairs)
		return -1;
	*size = pm->pairs[idx].key.size;
	*stack_id = pm->pairs[idx].key.stack_id;
	*fn = (uint8_t)pm->pairs[idx].key.fn;
	return 0;
}

/* The chunk size's freed addresses for pair p; NULL when none was freed yet, unless create. */
static struct chunk_class *class_of(const struct hg_pid_model *pm, struct pair *p, int create)
{
	uint64_t chunk;
	struct chunk_class *c;

	if (p->cls)
		return p->cls;
	chunk = chunk_of(p->key.size);
	HASH_FIND(hh, pm->classes, &chunk, sizeof(chunk), c);
	if (!c && create) {
		c = hg_xcalloc(1, sizeof(*c));
		c->chunk = chunk;
		HASH_ADD(hh, ((struct hg_pid_model *)pm)->classes, chunk, sizeof(c->chunk), c);
	}
	return p->cls = c;
}

/* Address codes after the positions among the freed addresses of the chunk size. */
enum {
	CODE_TOP = HG_MODEL_FREED,               /* the end of the highest block */
	CODE_PREV_END,                           /* the end of the block allocated last */
	/* codecs 3 and 4 */
	CODE_ANY_FREED,                          /* + position among all recent frees */
	CODE_LITERAL = CODE_ANY_FREED + HG_MODEL_ANY_FREED, /* + zigzag delta from the last
							       allocation */
	/* codec 5 */
	CODE5_END = CODE_PREV_END + 1,           /* + which end of ends (0: the newest) */
	CODE5_NEXT_FREED = CODE5_END + HG_MODEL_ENDS, /* + zigzag(seq of the free - (seq of the
							 one taken last - 1)) */
	CODE5_ANY_FREED = CODE5_NEXT_FREED + HG_MODEL_NEXT_FREED, /* far: + position */
	CODE5_LITERAL = CODE5_ANY_FREED + HG_MODEL_ANY_FREED /* far: + zigzag delta */
};

_Static_assert(CODE5_ANY_FREED == HG_MODEL_NEAR_CODES, "far codes start where near ones end");

/*
 * An entry of blocks in one word: its kind in the top two bits, a LIVE block's pair in the
 * bits below, and the low 32 bits of its sequence number (of allocation for LIVE, of free for
 * FREED). An entry stays in blocks only while its FIFO slot holds it (the last HG_MODEL_RECENT
 * allocations, HG_MODEL_ANY_FREED frees: far fewer than 2^32), so those 32 bits tell its slot's
 * seq from any other and give its distance from the newest.
 */
#define KIND_SHIFT 62
#define PAIR_SHIFT 32
#define SEQ_BITS 0xffffffffull
#define KIND_AND_SEQ (3ull << KIND_SHIFT | SEQ_BITS)

_Static_assert(HG_MODEL_MAX_PAIRS <= 1u << (KIND_SHIFT - PAIR_SHIFT), "a pair fits its bits");

static uint64_t word(uint32_t kind, uint32_t pair, uint64_t seq)
{
	return (uint64_t)kind << KIND_SHIFT | (uint64_t)pair << PAIR_SHIFT | (seq & SEQ_BITS);
}

static uint32_t word_pair(uint64_t w)
{
	return (uint32_t)((w & ~(3ull << KIND_SHIFT)) >> PAIR_SHIFT);
}

/* How many noted before the newest (seq - 1) the entry's was. */
static uint64_t word_age(uint64_t w, uint64_t seq)
{
	return (uint32_t)((seq - 1) - (w & SEQ_BITS));
}

/* addr's entry in blocks if it is of that kind, else NULL. */
static const uint64_t *entry(const struct hg_pid_model *pm, uint64_t addr, uint32_t kind)
{
	const uint64_t *w = hg_addrmap_get(&pm->blocks, addr);

	return w && *w >> KIND_SHIFT == kind ? w : NULL;
}

/* Whether the entry is the one made with the FIFO slot's seq. */
static int entry_of(const uint64_t *w, const struct recent_slot *slot)
{
	return w && (*w & SEQ_BITS) == (slot->seq & SEQ_BITS);
}

/* Push the oldest entry of a FIFO out of blocks, unless the address has moved on since. */
static void evict(struct hg_pid_model *pm, const struct recent_slot *slot, uint32_t kind)
{
	if (slot->addr)
		hg_addrmap_take_if(&pm->blocks, slot->addr, word(kind, 0, slot->seq),
				   KIND_AND_SEQ);
}

/* The end of the block allocated i + 2 allocations ago (0 while ends is not that full). */
static uint64_t end_back(const struct hg_pid_model *pm, uint64_t i)
{
	return pm->ends[(pm->end_at - 1 - i) % HG_MODEL_ENDS];
}

/* The code of the recent free at position `age` (0: the last free), which an allocation took. */
static uint64_t any_freed_code(struct hg_pid_model *pm, uint64_t age, unsigned codec)
{
	uint64_t taken = pm->free_seq - 1 - age, z = hg_zigzag(taken, pm->last_taken - 1);

	pm->last_taken = taken;
	if (codec != HG_CODEC_EVENT_COLUMNS)
		return CODE_ANY_FREED + age;
	return z < HG_MODEL_NEXT_FREED ? CODE5_NEXT_FREED + z : CODE5_ANY_FREED + age;
}

uint64_t hg_model_addr_code(struct hg_pid_model *pm, uint64_t addr, uint32_t pair,
			    unsigned codec)
{
	const struct chunk_class *c = class_of(pm, &pm->pairs[pair], 0);
	const uint64_t *f;

	for (uint32_t i = 0; c && i < c->n_freed; i++)
		if (c->freed[c->n_freed - 1 - i] == addr)
			return i;
	if (addr == pm->top)
		return CODE_TOP;
	if (addr == pm->prev_end)
		return CODE_PREV_END;
	if ((f = entry(pm, addr, FREED)))
		return any_freed_code(pm, word_age(*f, pm->free_seq), codec);
	if (codec != HG_CODEC_EVENT_COLUMNS)
		return CODE_LITERAL + hg_zigzag(addr, pm->last_alloc);
	for (uint32_t i = 0; i < HG_MODEL_ENDS; i++)
		if (end_back(pm, i) == addr)
			return CODE5_END + i;
	return CODE5_LITERAL + hg_zigzag(addr, pm->last_alloc);
}

/* The recent free at position z (0: the last free), which an allocation took; -1 if none. */
static int take_freed(struct hg_pid_model *pm, uint64_t z, uint64_t *addr)
{
	const struct recent_slot *slot;

	if (z >= pm->free_seq || z >= HG_MODEL_ANY_FREED)
		return -1;
	slot = &pm->freed_fifo[(pm->free_seq - 1 - z) % HG_MODEL_ANY_FREED];
	if (!slot->addr || (!pm->mapless && !entry_of(entry(pm, slot->addr, FREED), slot)))
		return -1; /* reused or evicted since: the writer never refers to it (a map tells) */
	pm->last_taken = pm->free_seq - 1 - z;
	*addr = slot->addr;
	return 0;
}

int hg_model_addr_decode(struct hg_pid_model *pm, uint64_t code, uint32_t pair, unsigned codec,
			 uint64_t *addr)
{
	const struct chunk_class *c;
	uint64_t taken;

	if (code < HG_MODEL_FREED) {
		c = pair < pm->n_pairs ? class_of(pm, &pm->pairs[pair], 0) : NULL;
		if (!c || code >= c->n_freed)
			return -1;
		*addr = c->freed[c->n_freed - 1 - code];
		return 0;
	}
	if (code == CODE_TOP || code == CODE_PREV_END) {
		*addr = code == CODE_TOP ? pm->top : pm->prev_end;
		return 0;
	}
	if (codec != HG_CODEC_EVENT_COLUMNS && code < CODE_LITERAL)
		return take_freed(pm, code - CODE_ANY_FREED, addr);
	if (codec != HG_CODEC_EVENT_COLUMNS) {
		*addr = hg_unzigzag(code - CODE_LITERAL, pm->last_alloc);
		return 0;
	}
	if (code < CODE5_NEXT_FREED) {
		*addr = end_back(pm, code - CODE5_END);
		return *addr ? 0 : -1;
	}
	if (code < CODE5_ANY_FREED) {
		taken = hg_unzigzag(code - CODE5_NEXT_FREED, pm->last_taken - 1);
		return taken < pm->free_seq ? take_freed(pm, pm->free_seq - 1 - taken, addr) : -1;
	}
	if (code < CODE5_LITERAL)
		return take_freed(pm, code - CODE5_ANY_FREED, addr);
	*addr = hg_unzigzag(code - CODE5_LITERAL, pm->last_alloc);
	return 0;
}

/* Drop entry i of a small array of n, keeping the order of the rest (a loop: a call to
 * memmove for a few words cost more than the move). */
static void drop_at(uint64_t *v, uint32_t *n, uint32_t i)
{
	for (; i + 1 < *n; i++)
		v[i] = v[i + 1];
	(*n)--;
}

/*
 * Make slot `seq` of a ring of `full` slots exist, the ring having *cap of them. A ring is
 * written in order, one slot per event, and wraps only once all `full` are written, so until
 * then only slots below seq were ever written and every slot above reads as zero: it grows
 * by doubling as seq reaches its end, each new slot zero, and answers exactly as the whole
 * zeroed ring would. A process image of a few allocations (each of the 200 in a shell loop)
 * then costs 4 KiB instead of 1 MiB, which glibc's calloc zeroed once its mmap threshold had
 * risen: a tenth of reporting a loop of 200 /bin/true.
 */
static void ring_reserve(struct recent_slot **v, uint32_t *cap, uint64_t seq, uint32_t full)
{
	uint32_t was = *cap, now = was ? was : 256;

	if (seq < was || was == full)
		return;
	while (now <= seq && now < full)
		now *= 2;
	*v = hg_xrealloc(*v, (size_t)now * sizeof(**v));
	memset(*v + was, 0, (size_t)(now - was) * sizeof(**v));
	*cap = now;
}

void hg_model_note_alloc(struct hg_pid_model *pm, uint64_t addr, uint32_t pair, uint64_t code)
{
	struct chunk_class *c;
	struct pair *p = &pm->pairs[pair];
	struct recent_slot *slot;
	uint64_t end;

	/* The address is no longer free in its chunk size (the code said where it was). */
	if (code < HG_MODEL_FREED && (c = class_of(pm, p, 0)) && code < c->n_freed)
		drop_at(c->freed, &c->n_freed, c->n_freed - 1 - (uint32_t)code);
	/* The FIFO is 1 MiB, walked one slot per allocation: ask for its slots ahead, and for
	 * the map's slots of the blocks they will push out; made to exist that far (zero, until
	 * written). */
	ring_reserve(&pm->fifo, &pm->fifo_cap, pm->seq + 32, HG_MODEL_RECENT);
	slot = &pm->fifo[pm->seq % HG_MODEL_RECENT];
	__builtin_prefetch(&pm->fifo[(pm->seq + 32) % HG_MODEL_RECENT], 1);
	if (!pm->mapless) {
		hg_addrmap_prefetch(&pm->blocks, pm->fifo[(pm->seq + 8) % HG_MODEL_RECENT].addr);
		/* The oldest recent block makes room, unless it was freed (or reused) since. */
		evict(pm, slot, LIVE);
		/* No longer a recent free, if it was. */
		hg_addrmap_put(&pm->blocks, addr, word(LIVE, pair, pm->seq), NULL);
	}
	slot->addr = addr;
	slot->seq = (uint32_t)pm->seq++;
	slot->pair = pair;
	recent_push(p, addr);
	end = addr + chunk_of(p->key.size);
	if (end > pm->top)
		pm->top = end;
	pm->ends[pm->end_at++ % HG_MODEL_ENDS] = pm->prev_end;
	pm->prev_end = end;
	pm->last_alloc = addr;
}

int hg_model_free_ref(const struct hg_pid_model *pm, uint64_t addr, uint64_t *age,
		      uint32_t *pair, uint32_t *rank)
{
	const uint64_t *w = entry(pm, addr, LIVE);
	const struct pair *p;

	if (!w)
		return 0;
	*age = word_age(*w, pm->seq);
	p = &pm->pairs[word_pair(*w)];
	*pair = p->idx;
	*rank = UINT32_MAX;
	for (uint32_t i = 0; i < p->n_recent; i++)
		if (*recent_back(p, i) == addr) {
			*rank = i;
			break;
		}
	return 1;
}

void hg_model_prefetch_free(const struct hg_pid_model *pm, uint64_t addr)
{
	hg_addrmap_prefetch(&pm->blocks, addr);
}

void hg_model_prefetch_pair_idx(const struct hg_pid_model *pm, uint64_t idx)
{
	if (idx < pm->n_pairs) {
		__builtin_prefetch(&pm->pairs[idx]);
		__builtin_prefetch((const char *)&pm->pairs[idx + 1] - 1);
	}
}

/* The pair's slot too: the bench's churn has tens of thousands of pairs (a 2 MiB index), and
 * asking for it ahead packs it 5% faster (0.53 -> 0.50 s). */
void hg_model_prefetch(const struct hg_pid_model *pm, const struct hg_rec_alloc *a)
{
	struct pair_key k = { a->size_bytes, a->stack_id, a->fn };

	hg_addrmap_prefetch(&pm->blocks, a->addr);
	if (pm->key_cap)
		__builtin_prefetch(&pm->keys[key_hash(&k) & (pm->key_cap - 1)]);
}

int hg_model_free_unage(const struct hg_pid_model *pm, uint64_t age, uint64_t *addr,
			uint32_t *pair)
{
	const struct recent_slot *slot;

	if (age >= pm->seq || age >= HG_MODEL_RECENT || !pm->fifo)
		return -1;
	slot = &pm->fifo[(pm->seq - 1 - age) % HG_MODEL_RECENT];
	if (!slot->addr || (!pm->mapless && !entry_of(entry(pm, slot->addr, LIVE), slot)))
		return -1; /* freed, or allocated again since: the writer never refers to it (a
			      map tells) */
	*addr = slot->addr;
	*pair = slot->pair;
	return 0;
}

int hg_model_free_deref(const struct hg_pid_model *pm, uint32_t pair, uint32_t rank,
			uint64_t *addr)
{
	const struct pair *p;

	if (pair >= pm->n_pairs || rank >= (p = &pm->pairs[pair])->n_recent)
		return -1;
	*addr = *recent_back(p, rank);
	return 0;
}

void hg_model_note_free(struct hg_pid_model *pm, uint64_t addr, uint32_t pair)
{
	uint64_t old;
	struct pair *p;
	struct chunk_class *c;
	struct recent_slot *slot;

	pm->last_free = addr;
	ring_reserve(&pm->freed_fifo, &pm->freed_cap, pm->free_seq, HG_MODEL_ANY_FREED);
	slot = &pm->freed_fifo[pm->free_seq % HG_MODEL_ANY_FREED];
	/* Any freed address, size known or not: malloc may hand it back for another size. */
	if (!pm->mapless)
		evict(pm, slot, FREED);
	slot->addr = addr;
	slot->seq = (uint32_t)pm->free_seq++;
	/* A recent free now, whatever it was; if it was a recent live block, its pair is known:
	 * from the map, or without one from the caller. */
	if (!pm->mapless) {
		int had = hg_addrmap_put(&pm->blocks, addr, word(FREED, 0, slot->seq), &old);
		pair = had && old >> KIND_SHIFT == LIVE ? word_pair(old) : HG_MODEL_NO_PAIR;
	}
	if (pair >= pm->n_pairs)
		return; /* not a recent block: its size is unknown */
	p = &pm->pairs[pair];
	for (uint32_t k = 0; k < p->n_recent; k++)
		if (*recent_back(p, k) == addr) {
			recent_drop(p, k);
			break;
		}
	c = class_of(pm, p, 1);
	if (c->n_freed == HG_MODEL_FREED)
		drop_at(c->freed, &c->n_freed, 0);
	c->freed[c->n_freed++] = addr;
}

uint64_t hg_model_last_free(const struct hg_pid_model *pm)
{
	return pm->last_free;
}

const uint64_t *hg_model_last_stack(const struct hg_pid_model *pm, uint32_t *n_frames,
				    uint32_t *stack_id)
{
	*n_frames = pm->n_stack;
	*stack_id = pm->stack_id;
	return pm->stack;
}

void hg_model_note_stack(struct hg_pid_model *pm, uint32_t stack_id, const uint64_t *ip,
			 uint32_t n_frames)
{
	if (!pm->stack)
		pm->stack = hg_xmalloc(HG_MAX_FRAMES * sizeof(*pm->stack));
	if (n_frames > HG_MAX_FRAMES)
		n_frames = HG_MAX_FRAMES;
	memcpy(pm->stack, ip, n_frames * sizeof(*ip));
	pm->n_stack = n_frames;
	pm->stack_id = stack_id;
}
