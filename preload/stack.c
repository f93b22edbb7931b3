/*
 * stack.c - capture the caller's stack and give each distinct stack a small id
 *
 * Stacks are walked by walk.c, which caches each code address's CFI rule and re-walks only the
 * frames that changed since the thread's previous capture; a stack it cannot follow goes to
 * libunwind's unw_backtrace (see unwind.c). Both give the same return addresses. walk.c also
 * remembers the walks it made with the ids they got here: a capture it can vouch for as a
 * walk already made (most of them, in a program that allocates from the same places over and
 * over) takes that id without walking, hashing or looking up.
 *
 * Each stack is hashed (64 bits over its return addresses) and looked up in one open-addressing
 * table shared by all threads. An entry is one 64-bit word: the hash's top 40 bits (its tag)
 * over a 24-bit id; the hash's low bits pick the slot. The table is lock-free: an empty entry
 * is claimed with one CAS that writes the tag with id 0, the id is drawn from a counter and
 * published with a release store of the whole word; a reader that finds the tag but not yet the
 * id spins for the few instructions until it appears. Only the thread that won the CAS writes
 * the HG_REC_STACK record, so each stack is written once per process. Two stacks share an id
 * only if a new one meets the other's tag on its way to an empty slot: one chance in 2^40
 * per entry it passes (about eight per tier at 3/4 full), some 2 in 10^7 over ten thousand
 * distinct stacks and 1 in 10^4 over a million; the analyzer treats such a collision as one
 * site. Entries of 8 bytes instead of a full hash and a 32-bit id of 16
 * halve the table: cc1 compiling a 5,000-line file (8,574 stacks) kept 672 KiB of it.
 *
 * The table grows in tiers, so that a program with a thousand stacks pays 16 KiB, not the
 * megabytes a table for millions would hold resident (its entries are hashed all over it; a
 * first tier of 2^15 entries was half a megabyte, most of the tracer's memory in an sqlite3 or
 * an `as`). Tier 0 has 2^11 entries and each next one twice as many, so that the newest tier,
 * resident whole once a few hundred stacks are in it, is never more than about twice what the
 * stacks need (with four times as many, cc1's third tier of 512 KiB held 900 stacks). A stack is
 * looked up in every tier, oldest first (hot stacks are found early), and inserted into the
 * newest; the first thread to find the newest 3/4 full maps the next. Two threads inserting
 * the same new stack just as a tier is added may give it two ids: two sites with the same
 * frames, which the analyzer shows as such. When the last tier is 7/8 full, or ids outgrow 24
 * bits, new stacks are still recorded, each under a fresh id, so the trace stays correct and
 * only deduplication of the overflow is lost.
 *
 * A fork child inherits the table and the counter, so the ids it reuses refer to stacks its
 * parent defined before the fork; the analyzer resolves them through the parent.
 *
 * Runs in: inside malloc.
 */
#include <stddef.h>
#include <string.h>

#include "arena.h"
#include "guard.h"
#include "hg_compiler.h"
#include "hg_format.h"
#include "modules.h"
#include "rawlog.h"
#include "ring.h"
#include "stack.h"
#include "unwind.h"
#include "walk.h"

#define TIER0_BITS 11
#define TIERS 13 /* 2^11 .. 2^23 entries: 12 million stacks at 3/4 */
#define SHIM_FRAMES_MAX 8

/* An entry: tag << ID_BITS | id, atomic; 0 = empty, id 0 = claimed, id not published yet. */
#define ID_BITS 24
#define ID_MASK ((1u << ID_BITS) - 1)
#define ID_OVERFLOW ID_MASK /* published when the counter outgrew ID_BITS: not deduplicated */

struct tier {
	uint64_t *e;      /* atomic pointer: 2^(TIER0_BITS + k) entries, arena-mapped */
	uint32_t mask;
	uint32_t used;   /* atomic: entries claimed */
	uint32_t adding; /* atomic: 1 once a thread took on mapping the next tier */
};

static struct {
	struct tier tier[TIERS];
	uint32_t n_tiers;    /* atomic: tiers published */
	uint32_t next_id;    /* atomic: last id handed out */
	uint32_t max_frames; /* program frames to keep */
	int walker;          /* walk.c first, libunwind when it declines */
	int checked;         /* atomic: the walker's first answer was compared with libunwind's */
	void *check_ip[HG_MAX_FRAMES + SHIM_FRAMES_MAX]; /* for that comparison, used once */
	uintptr_t self_lo;   /* shim's mapped range: frames in it are skipped */
	uintptr_t self_hi;
} st;

/* Map tier k; 0, or -1 when the arena has no memory for it. */
static int add_tier(uint32_t k)
{
	uint32_t n = 1u << (TIER0_BITS + k);
	uint64_t *e = hg_arena_alloc(sizeof(uint64_t) * n);

	if (!e)
		return -1;
	st.tier[k].mask = n - 1;
	/* Release: a thread that sees the count sees the tier's table and mask. */
	__atomic_store_n(&st.tier[k].e, e, __ATOMIC_RELEASE);
	__atomic_store_n(&st.n_tiers, k + 1, __ATOMIC_RELEASE);
	return 0;
}

int hg_stack_init(uint32_t max_frames, int use_walker)
{
	st.max_frames = max_frames;
	if (!st.n_tiers && add_tier(0) < 0)
		return -1;
	hg_unwind_load();
	st.walker = use_walker && hg_walk_init() == 0;
	return 0;
}

void hg_stack_set_self(uintptr_t lo, uintptr_t hi)
{
	st.self_lo = lo;
	st.self_hi = hi;
}

int hg_stack_is_self(uint64_t addr)
{
	return addr >= st.self_lo && addr < st.self_hi;
}

uint32_t hg_stack_count(void)
{
	return __atomic_load_n(&st.next_id, __ATOMIC_RELAXED);
}

void hg_stack_set_count(uint32_t n)
{
	__atomic_store_n(&st.next_id, n, __ATOMIC_RELAXED);
}

static uint64_t mix(uint64_t h)
{
	h *= 0xff51afd7ed558ccdull;
	return h ^ h >> 32;
}

/*
 * A stack's identity (the table keeps no frames, only part of this: see the top of the file).
 * Frame i goes into lane i % 4, so one frame's multiply need not wait for the
 * previous frame's: with one chain the hash was most of hg_stack_intern, 3-5% of a traced
 * program's time for stacks of 15-20 frames.
 */
static uint64_t hash_ips(void *const *ip, int n)
{
	uint64_t h[4] = { 0x9e3779b97f4a7c15ull ^ (uint64_t)n, 0x6a09e667f3bcc909ull,
			  0xbb67ae8584caa73bull, 0x3c6ef372fe94f82bull };
	int i = 0;

	for (; i + 4 <= n; i += 4) {
		h[0] = mix(h[0] ^ (uint64_t)(uintptr_t)ip[i]);
		h[1] = mix(h[1] ^ (uint64_t)(uintptr_t)ip[i + 1]);
		h[2] = mix(h[2] ^ (uint64_t)(uintptr_t)ip[i + 2]);
		h[3] = mix(h[3] ^ (uint64_t)(uintptr_t)ip[i + 3]);
	}
	for (; i < n; i++)
		h[i & 3] = mix(h[i & 3] ^ (uint64_t)(uintptr_t)ip[i]);
	h[0] = mix(mix(mix(h[0] ^ h[1]) ^ h[2]) ^ h[3]);
	h[0] ^= h[0] >> 29;
	h[0] *= 0xc4ceb9fe1a85ec53ull;
	h[0] ^= h[0] >> 32;
	return h[0] ? h[0] : 1;
}

/*
 * Write the STACK record in place: the frames are already in buf right after two free words,
 * which take the record header, so no second copy of up to 2 KiB lands on a thread's stack.
 */
static void emit_stack(uint64_t *buf, uint32_t id, int n)
{
	struct hg_rec_stack *rec = (struct hg_rec_stack *)buf;
	uint32_t bytes = (uint32_t)(sizeof(*rec) + 8u * (uint32_t)n);

	rec->hdr.type = HG_REC_STACK;
	rec->hdr.flags = 0;
	rec->hdr.size_bytes = bytes;
	rec->stack_id = id;
	rec->n_frames = (uint32_t)n;
	hg_ring_put(rec, bytes);
}

static uint32_t new_id(void)
{
	return __atomic_add_fetch(&st.next_id, 1, __ATOMIC_RELAXED);
}

/* A stack's tag: the hash's top bits, never 0 (an entry of tag 0 and id 0 would read empty).
 * Slots are picked by its low bits, at most TIER0_BITS + TIERS - 1 = 23 of them. */
static uint64_t tag_of(uint64_t h)
{
	uint64_t tag = h >> ID_BITS;

	return tag ? tag : 1;
}

/* The id published in e, whose tag matched: its claimer publishes it a few instructions after
 * its CAS. */
static uint32_t wait_id(uint64_t *e, int *inserted)
{
	uint32_t id;

	/* It can only fail to when it vanished in between (a fork child, which has just the
	 * forking thread): then this stack gets an id of its own instead of waiting forever. */
	for (unsigned spin = 0;; spin++) {
		if ((id = (uint32_t)__atomic_load_n(e, __ATOMIC_ACQUIRE) & ID_MASK) != 0)
			break;
		if (spin > (1u << 20)) {
			*inserted = 1;
			return new_id();
		}
		__builtin_ia32_pause();
	}
	if (id == ID_OVERFLOW) {
		*inserted = 1;
		return new_id();
	}
	return id;
}

/*
 * Probe tier t for the stack of hash h and tag `tag`. Returns its id when present; 0 when
 * absent, with the empty entry that ends the run in *hole (there is one: tiers are kept below
 * 7/8 full).
 */
static uint32_t probe(struct tier *t, uint64_t h, uint64_t tag, uint64_t **hole, int *inserted)
{
	uint64_t *tab = __atomic_load_n(&t->e, __ATOMIC_ACQUIRE);

	for (uint32_t i = (uint32_t)h & t->mask;; i = (i + 1) & t->mask) {
		uint64_t cur = __atomic_load_n(&tab[i], __ATOMIC_ACQUIRE);

		if (cur >> ID_BITS == tag)
			return wait_id(&tab[i], inserted);
		if (cur == 0) {
			*hole = &tab[i];
			return 0;
		}
	}
}

/* Find or insert; returns the id and whether this call inserted it. */
static uint32_t lookup(uint64_t h, int *inserted)
{
	uint32_t n = __atomic_load_n(&st.n_tiers, __ATOMIC_ACQUIRE), k, id;
	struct tier *last = &st.tier[n - 1];
	uint64_t tag = tag_of(h);
	uint64_t *e = NULL;

	*inserted = 0;
	for (k = 0; k < n; k++)
		if ((id = probe(&st.tier[k], h, tag, &e, inserted)))
			return id;
	if (__atomic_load_n(&last->used, __ATOMIC_RELAXED) > last->mask / 4 * 3 && n < TIERS &&
	    !__atomic_exchange_n(&last->adding, 1, __ATOMIC_ACQ_REL))
		add_tier(n); /* this stack still goes into the tier it probed */
	if (__atomic_load_n(&last->used, __ATOMIC_RELAXED) > last->mask / 8 * 7) {
		*inserted = 1;
		return new_id();
	}
	/* e is the hole ending the run in the last tier; claim it, or whatever follows. */
	for (;;) {
		uint64_t cur = 0;

		if (__atomic_compare_exchange_n(e, &cur, tag << ID_BITS, 0, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE)) {
			__atomic_add_fetch(&last->used, 1, __ATOMIC_RELAXED);
			id = new_id();
			/* Release: a reader that sees the id also sees the tag it belongs to. A
			 * counter past ID_BITS marks the entry taken for nobody: whoever finds it
			 * gets a fresh id, as this thread does. */
			__atomic_store_n(e, tag << ID_BITS | (id < ID_OVERFLOW ? id : ID_OVERFLOW),
					 __ATOMIC_RELEASE);
			*inserted = 1;
			return id;
		}
		if (cur >> ID_BITS == tag)
			return wait_id(e, inserted);
		/* Another stack took the hole: go on along the run. */
		if ((id = probe(last, h, tag, &e, inserted)))
			return id;
	}
}

uint32_t hg_stack_intern(void *const *ip, int n, int *inserted)
{
	return lookup(hash_ips(ip, n), inserted);
}

uint32_t hg_stack_tiers(void)
{
	return __atomic_load_n(&st.n_tiers, __ATOMIC_ACQUIRE);
}

/*
 * The walker's first answer in this process, compared with libunwind's for the same stack
 * (from the first frame outside the shim on). They must agree, or the same stack would get
 * two ids depending on which one ran: a libunwind before 1.6 reports each return address
 * minus one, for one. If they do not, libunwind takes every stack from now on, and its answer
 * replaces this one. Returns the frame count in ip.
 */
static HG_NOINLINE int check_walker(void **ip, int n, int max)
{
	void **u = st.check_ip;
	int nu, iw = 0, iu = 0, kw, ku;

	if (__atomic_exchange_n(&st.checked, 1, __ATOMIC_ACQ_REL))
		return n; /* another thread's capture is the one compared */
	HG_INTERNAL(nu = hg_unwind_backtrace(u, max));
	if (nu <= 0)
		return n;
	while (iw < n && hg_stack_is_self((uint64_t)(uintptr_t)ip[iw]))
		iw++;
	while (iu < nu && hg_stack_is_self((uint64_t)(uintptr_t)u[iu]))
		iu++;
	/* Both as many frames as are kept: the walker may have been asked for fewer. */
	kw = n - iw < (int)st.max_frames ? n - iw : (int)st.max_frames;
	ku = nu - iu < (int)st.max_frames ? nu - iu : (int)st.max_frames;
	if (kw == ku && !memcmp(ip + iw, u + iu, (size_t)kw * sizeof(*ip)))
		return n;
	hg_rawlog("the stack walker and libunwind disagree: stacks go through libunwind");
	__atomic_store_n(&st.walker, 0, __ATOMIC_RELAXED);
	memcpy(ip, u, (size_t)nu * sizeof(*ip));
	return nu;
}

uint32_t hg_stack_capture(const struct hg_frame *from)
{
	/* buf[0..1] is room for a record header before the first frame kept (see emit_stack). */
	uint64_t buf[2 + HG_MAX_FRAMES + SHIM_FRAMES_MAX];
	void **ip = (void **)(buf + 2);
	int n = -1, max = (int)st.max_frames + SHIM_FRAMES_MAX, walked = 0;
	int first = 0, inserted;
	uint32_t id;

	if (__atomic_load_n(&st.walker, __ATOMIC_RELAXED)) {
		if (hg_walk_recall(from->ret, from->sp, from->bp, &id))
			return id;
		n = hg_walk_from(from->ret, from->sp, from->bp, ip, (int)st.max_frames);
		walked = n > 0;
	}
	if (HG_UNLIKELY(n > 0 && !__atomic_load_n(&st.checked, __ATOMIC_RELAXED)))
		n = check_walker(ip, n, max);
	if (n < 0)
		HG_INTERNAL(n = hg_unwind_backtrace(ip, max));

	while (first < n && (uintptr_t)ip[first] >= st.self_lo && (uintptr_t)ip[first] < st.self_hi)
		first++;
	n -= first;
	if (n <= 0)
		return 0;
	if (n > (int)st.max_frames)
		n = (int)st.max_frames;
	id = hg_stack_intern(ip + first, n, &inserted);
	if (inserted) {
		emit_stack(buf + first, id, n);
		HG_INTERNAL(hg_modules_check());
	}
	/* Only this capture's own walk: hg_walk_from can decline without touching the thread's
	 * last walk (a flush under way), and check_walker may just have given the stack to
	 * libunwind. */
	if (walked && __atomic_load_n(&st.walker, __ATOMIC_RELAXED))
		hg_walk_remember(id);
	return id;
}
