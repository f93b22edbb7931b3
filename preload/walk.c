/*
 * walk.c - the stack walker of the hot path: cached CFI rules, and only the frames that changed
 *
 * libunwind's fast path costs about 10 ns per frame, and a program allocates from deep stacks
 * whose outer part rarely changes between two allocations of one thread (an interpreter's eval
 * loop, a server's request handler). This walker does three things instead:
 *
 * - Rules are cached process-wide, one 64-bit word per code address (the address and the rule
 *   packed together, so a racing writer can never pair one address with another's rule), and
 *   read from .eh_frame by cfi.c on a miss.
 * - Each thread keeps its previous walk: for every frame the return address, the stack pointer
 *   and rbp there. Walking out from malloc's caller, once a frame has the same code address,
 *   stack pointer and rbp as a frame of the previous walk, everything further out is a function
 *   of the memory the previous walk read from there on: the saved return addresses and rbp
 *   values. If each of those words still holds what was read then, the walk would read the
 *   same and arrive at the same frames, so they are copied instead of walked. Checking a frame
 *   is one or two loads from the stack, which is in the cache anyway.
 * - Each thread also remembers its walks by the frame they started from, with the stack id the
 *   caller gave them (hg_walk_remember). A capture from a remembered frame whose words still
 *   hold what that walk read (the first compared, the rest as a weighted sum) gets the id
 *   without a walk (hg_walk_recall).
 *
 * A frame the rules cannot follow (no FDE, a signal frame, a DWARF expression, a frame over
 * 1 MiB, a frame past the top of the thread's stack) makes the walker decline, and the caller
 * asks libunwind for the whole stack; both produce the same return addresses for the same
 * stack, so stack ids do not depend on which one ran.
 *
 * Runs in: inside malloc (capture), thread-exit destructor, after a dlclose (flush).
 */
#include <stddef.h>
#include <string.h>

#include "arena.h"
#include "cfi.h"
#include "guard.h"
#include "hg_compiler.h"
#include "hg_format.h"
#include "walk.h"

/*
 * The shared rule cache is mapped at 2^13 words (64 KiB) but hashes into its first 2^11 (16
 * KiB, resident as used: its entries are hashed all over them) until it has missed twice as
 * many times as that has entries; then it uses all of them: a program with more code addresses
 * than fit (cc1) pays for the larger one, a small one does not (bench's git, sqlite3 and
 * CPython read 510-3,300 rules, the gcc driver and `as` 250). It grows in place, so the small
 * part is the large one's first quarter, not a table of its own left behind (16 KiB of cc1's
 * 256 KiB of tables when it was). The rules it held stay where the small hash put them: a
 * lookup checks the address, so one found in the wrong slot is only a miss, and is overwritten.
 * Misses are counted, not timed, so the size is a pure function of the program's walks. It
 * sits behind each thread's own NEAR_RULES and the memo of whole walks, and larger did not
 * pay: cc1 compiling a 5,000-line file read 43,000 rules into one of 2^15 words and 134,000
 * into 2^13, yet spent no less time in this file and cfi.c (3.1% against 2.8% of the run's
 * samples: the large table's own cache misses), and kept 192 KiB more resident.
 */
#define RULE_BITS_FIRST 11
#define RULE_BITS_LAST 13
#define RULE_GROW_MISSES (2u << RULE_BITS_FIRST)
#define NEAR_RULES 256 /* per thread: 2 KiB that stay in the L1 cache, before the shared table */
#define MAX_WALK (HG_MAX_FRAMES + 16)
#define FRAME_MAX_BYTES (1u << 20)
#define STACK_MAX_BYTES (1ull << 32) /* farther from its top than this: not that stack */

/*
 * A cached rule: bits 0-46 the code address looked up (+1, so that 0 is an empty slot),
 * 47-48 the kind, 49 cfa_rbp, 50-59 cfa_off / 8, 60-63 -rbp_off / 8. A rule that does not fit
 * is cached as REFUSED, like one cfi.c refused.
 */
#define PC_BITS 47
#define K_STEP 1ull
#define K_LAST 2ull
#define K_REFUSED 3ull
#define CFA_RBP_BIT 49
#define CFA_OFF_SHIFT 50
#define RBP_OFF_SHIFT 60
#define CFA_OFF_MAX (1023 * 8)
#define RBP_OFF_MIN (-15 * 8)

/* The fields of a K_STEP rule w: whether its CFA is rbp-based, the CFA's offset in bytes (one
 * shift and one mask: it is stored / 8), and where rbp was saved as 8-byte slots below the
 * CFA (0: it was not). */
static inline int rule_cfa_rbp(uint64_t w)
{
	return w >> CFA_RBP_BIT & 1;
}

static inline uint64_t rule_cfa_off(uint64_t w)
{
	return w >> (CFA_OFF_SHIFT - 3) & (1023u << 3);
}

static inline uint64_t rule_rbp_slots(uint64_t w)
{
	return w >> RBP_OFF_SHIFT;
}

struct frame {
	uint64_t ip;      /* code address of this frame: the return address into it */
	uint64_t sp;      /* stack pointer in this frame: the CFA of the frame inside it */
	uint64_t bp;      /* rbp in this frame */
	uint32_t rule;    /* this frame's rule: the high half of its cached word (0: none, the
			     outermost frame); read with frame_rule */
	uint32_t bp_used; /* the walk from here out reads bp: a CFA of this frame or one further
			     out is rbp-based, and no frame in between reloads rbp */
};

/* The frame's rule as it was cached (the code address bits are gone). */
static inline uint64_t frame_rule(const struct frame *f)
{
	return (uint64_t)f->rule << 32;
}

/* Where the frame saved its caller's rbp, from its CFA (0: it did not). */
static inline int32_t frame_rbp_off(const struct frame *f)
{
	return -(int32_t)rule_rbp_slots(frame_rule(f)) * 8;
}

enum end { END_LAST, END_ZERO, END_MAX };

/*
 * A walk remembered by the frame it started from, with the stack id it was given. A thread
 * allocates from a few hundred places over and over, each time at the same depth of its
 * stack: the traced sqlite3 of bench/ walks from under 256 distinct (code address, stack
 * pointer) pairs all run long. A walk from a given frame is a function of that frame, the
 * rules, and the words it read on the way out (return addresses, and saved rbp values where a
 * later CFA depends on them), so if each of those words still holds what it held, the walk
 * would end with the same frames and the same id. Checking that is a handful of independent
 * loads, where walking is a chain of dependent ones per frame (rule, CFA, return address).
 *
 * The keys, with the first word to check (the caller's return address, which is what differs
 * when a function is called from many places at one depth), are a table of their own that
 * stays in the cache; the rest of an entry is read only once those match. The other words
 * are kept as their places alone, and what they held as one sum of each word times a constant
 * of its own (memo_mul): a recall loads them all, independently, and compares the sum. All of
 * them lie between the frame's sp and the top of its stack, which the key holds, and were
 * read by the walk remembered; the recall reads them again where the walk copied from the
 * previous one does (changed_from), relying as it does on a stack with that sp and top being
 * still mapped from sp to top: a thread's own stack is, and a stack whose top is unknown is
 * never remembered. One word changed always changes the sum (the weights are odd); two or more
 * different sets of words agree on it by chance about once in 2^60 (return addresses differ
 * in their low bits, saved rbp values by multiples of 16). Bodies shrank from 484 bytes (each
 * word's value and place) to 80: 104 KiB less resident in cc1, 16-28 KiB in the gcc driver
 * and `as`.
 *
 * Walks are kept in sets of MEMO_WAYS, picked by the first frame, and a new one takes the way
 * least recently made or recalled: a function that allocates is often called at one depth from
 * two or more places further out, and the walk of each path must stay. With one walk per slot,
 * a quarter of the traced sqlite3 shell's captures missed, each because the other path's walk
 * from the same frame had just taken the slot (1,000,000 walks of 3.9 million captures; 900
 * with four ways, and 0.96 -> 0.84 s traced against 0.58 bare).
 *
 * Remembering costs more than walking (a pass over every word the walk read), so a walk is
 * remembered only when the walk before it that its set declined started from the same frame:
 * a frame allocated from once is not (cc1 on a 1,000-line file, with a quarter as the bar
 * below: 337 million instructions in this file, against 426 million remembering every walk
 * and 348 million with one way). Two frames of one set that take turns would never be, so a
 * set that declined MEMO_DECLINE_MAX walks in a row takes the next.
 *
 * A thread whose walks are found again for under half of its lookups (bench/churn's random
 * paths, cc1) remembers at most one walk in MEMO_SPARSE, so that it does not pay for
 * remembering what it will not use. Sets keep walks long enough that this loses few hits:
 * churn with 500,000 operations ran 1,684 million instructions (1,824 million with one way
 * and a quarter as the bar, 1,885 million with four ways and a quarter), cc1 on a 1,000-line
 * file 3,530 million (3,592 and 3,564).
 */
#define MEMO_WAYS 4    /* walks remembered per set, picked by first frame */
#define MEMO_SLOTS 256 /* per thread */
#define MEMO_SETS (MEMO_SLOTS / MEMO_WAYS)
#define MEMO_CHECKS 40 /* words a remembered walk may have read; deeper walks are not kept */
#define MEMO_WINDOW 1024 /* tries over which the hit rate is judged (halved, not reset) */
#define MEMO_EVIDENCE 64 /* tries before the hit rate is judged at all */
#define MEMO_SPARSE 16
#define MEMO_DECLINE_MAX 3 /* walks a set declines in a row before it takes one anyway */

/* Everything that decides whether the walk would go the same way, and its answer; one cache
 * line. */
struct memo_key {
	uint64_t ip, sp;  /* the first frame; ip 0: an empty entry */
	uint64_t top;     /* of the stack it was made on: the words checked lie below it */
	uint64_t bp;      /* rbp in the first frame, when bp_used */
	uint64_t val0;    /* the first word to check, when n > 0 */
	uint64_t sum;     /* of the other words' values, each times memo_mul[its index] */
	uint32_t gen;     /* rules generation it was made under */
	uint32_t id;      /* the stack id its frames were given */
	uint16_t n;       /* words to check */
	uint16_t bp_used; /* the walk read rbp from the first frame */
	uint16_t off0;    /* where the first word lies, in words from sp */
	uint16_t used;    /* its set's clock when it was made or last recalled */
};

_Static_assert(sizeof(struct memo_key) == 64, "a memo key is one cache line");

/* Where the words a walk read lie, in words from sp; word[0] is in the key too. */
struct memo {
	uint16_t word[MEMO_CHECKS];
};

/* One multiplier per word of a walk: odd, and otherwise unrelated to each other. */
static uint64_t memo_mul[MEMO_CHECKS];

/*
 * Bodies are handed out in the order slots are first used, not by slot, so that a program that
 * remembers a few dozen walks touches a page or two of them (the keys are 16 KiB, one line
 * each).
 */
struct memo_table {
	struct memo_key key[MEMO_SLOTS];
	uint16_t body_of[MEMO_SLOTS];           /* 1 + the slot's body; 0: none yet */
	uint32_t n_bodies;
	struct memo body[MEMO_SLOTS];
	uint32_t tries, hits;
	uint32_t misses; /* since the last walk remembered */
	/* Per set: */
	uint16_t clock[MEMO_SETS];  /* ticks at each walk it keeps or recalls: its ways' ages */
	uint64_t seen[MEMO_SETS];   /* memo_hash of the first frame of the last walk it declined
				       (not of those sparse skipped) */
	uint8_t declined[MEMO_SETS]; /* walks declined in a row */
};

struct walk_state {
	struct walk_state *next_free;
	uint32_t gen;               /* rules generation this walk was made under */
	uint64_t top;               /* top of the stack it was made on (stack_top) */
	int valid;                  /* prev holds a complete walk */
	int n;                      /* frames in prev */
	enum end end;               /* how it ended; END_ZERO keeps a sentinel at prev[n] */
	struct frame *prev, *cur;   /* the last walk, and the one being made */
	struct memo_table *memo;    /* remembered walks, arena; NULL until the first */
	uint64_t near[NEAR_RULES];  /* the rules this thread used last, by code address */
	struct frame buf[2][MAX_WALK + 1];
};

/* A rule cache: 2^RULE_BITS_LAST words, arena, of which the first 2^bits are used. */
struct rules {
	uint32_t bits;   /* atomic: RULE_BITS_FIRST, then RULE_BITS_LAST */
	uint32_t misses; /* atomic: lookups that found another address, or none */
	uint64_t w[];
};

static struct {
	struct rules *rules;    /* the cache, set once by hg_walk_init */
	uint32_t gen;           /* atomic: bumped twice by hg_walk_flush, odd while it clears */
	int pool_lock;          /* spinlock over pool */
	struct walk_state *pool; /* states of exited threads */
} wk;

int hg_walk_init(void)
{
	uint64_t x = 0x243f6a8885a308d3ull;

	for (int j = 0; j < MEMO_CHECKS; j++) { /* splitmix64 */
		uint64_t z = (x += 0x9e3779b97f4a7c15ull);
		z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ z >> 27) * 0x94d049bb133111ebull;
		memo_mul[j] = (z ^ z >> 31) | 1;
	}
	if (!wk.rules && (wk.rules = hg_arena_alloc(sizeof(*wk.rules) +
						    (sizeof(uint64_t) << RULE_BITS_LAST))))
		wk.rules->bits = RULE_BITS_FIRST;
	return wk.rules ? 0 : -1;
}

/* Sequentially consistent, as rule_of_slow's load of gen after it: a rule stored past the
 * first 2^RULE_BITS_FIRST words was looked up after the growth, so a flush that read the old
 * size (and cleared only those) had bumped gen before, and the rule's thread sees that. */
static size_t rule_slot(const struct rules *t, uint64_t pc)
{
	return (size_t)((pc * 0x9e3779b97f4a7c15ull) >> (64 - __atomic_load_n(&t->bits,
									  __ATOMIC_SEQ_CST)));
}

static uint64_t pack(uint64_t pc, const struct hg_cfi_rule *r, int ok)
{
	uint64_t w = pc + 1;

	if (!ok)
		return w | K_REFUSED << PC_BITS;
	if (r->kind == HG_CFI_LAST)
		return w | K_LAST << PC_BITS;
	if (r->cfa_off % 8 || r->cfa_off > CFA_OFF_MAX || r->rbp_off % 8 || r->rbp_off < RBP_OFF_MIN)
		return w | K_REFUSED << PC_BITS;
	return w | K_STEP << PC_BITS | (uint64_t)r->cfa_rbp << CFA_RBP_BIT |
	       (uint64_t)(r->cfa_off / 8) << CFA_OFF_SHIFT |
	       (uint64_t)(-r->rbp_off / 8) << RBP_OFF_SHIFT;
}

/* The packed rule for pc: from the shared cache, or read and cached. */
static HG_NOINLINE uint64_t rule_of_slow(uint64_t pc)
{
	struct rules *t = wk.rules;
	uint64_t *slot = &t->w[rule_slot(t, pc)], w = __atomic_load_n(slot, __ATOMIC_RELAXED);
	uint32_t gen = __atomic_load_n(&wk.gen, __ATOMIC_SEQ_CST);
	struct hg_cfi_rule r;
	int ok;

	if ((w & ((1ull << PC_BITS) - 1)) == pc + 1)
		return w;
	/* The one thread whose miss was the RULE_GROW_MISSES-th lets the cache use all of it. */
	if (__atomic_load_n(&t->bits, __ATOMIC_RELAXED) < RULE_BITS_LAST &&
	    __atomic_add_fetch(&t->misses, 1, __ATOMIC_RELAXED) == RULE_GROW_MISSES)
		__atomic_store_n(&t->bits, RULE_BITS_LAST, __ATOMIC_SEQ_CST);
	if (pc + 1 >= 1ull << PC_BITS || (gen & 1))
		return K_REFUSED << PC_BITS;
	HG_INTERNAL(ok = hg_cfi_rule(pc, &r) == 0);
	/* Code was unloaded meanwhile: the rule may be the old code's; neither keep nor use it. */
	if (__atomic_load_n(&wk.gen, __ATOMIC_ACQUIRE) != gen)
		return K_REFUSED << PC_BITS;
	w = pack(pc, &r, ok);
	__atomic_store_n(slot, w, __ATOMIC_SEQ_CST);
	/* A flush between the check and the store may have cleared the table before it: the
	 * flush bumps gen first, so seeing it unchanged after the store means the store was in
	 * before the flush's clearing. Otherwise take the rule back. */
	if (__atomic_load_n(&wk.gen, __ATOMIC_SEQ_CST) != gen) {
		__atomic_compare_exchange_n(slot, &w, 0, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		return K_REFUSED << PC_BITS;
	}
	return w;
}

/* The packed rule for pc: from the thread's own few, else from the shared cache. */
static inline uint64_t rule_of(struct walk_state *s, uint64_t pc)
{
	uint64_t *near = &s->near[(pc ^ pc >> 8) & (NEAR_RULES - 1)];

	if (HG_LIKELY((*near & ((1ull << PC_BITS) - 1)) == pc + 1))
		return *near;
	return *near = rule_of_slow(pc);
}

/* The pool's lock is held for a few instructions, never across a call. */
static void pool_lock(void)
{
	while (__atomic_exchange_n(&wk.pool_lock, 1, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

static void pool_unlock(void)
{
	__atomic_store_n(&wk.pool_lock, 0, __ATOMIC_RELEASE);
}

/*
 * What a thread's state knows that code unloaded since may have made wrong: its last walk, its
 * own few rules, and which frames its memo declined to remember. The remembered walks stay:
 * each carries the rules generation it was made under.
 */
static void forget_code(struct walk_state *s)
{
	s->valid = 0;
	memset(s->near, 0, sizeof(s->near));
	if (s->memo)
		memset(s->memo->seen, 0, sizeof(s->memo->seen));
}

static struct walk_state *state_new(void)
{
	struct walk_state *s;

	pool_lock();
	if ((s = wk.pool))
		wk.pool = s->next_free;
	pool_unlock();
	if (!s && !(s = hg_arena_alloc(sizeof(*s))))
		return NULL;
	/* A state from the pool keeps its remembered walks: they are checked before use. */
	forget_code(s);
	s->prev = s->buf[0];
	s->cur = s->buf[1];
	return s;
}

void hg_walk_release_thread(void)
{
	struct walk_state *s = hg_tls.walk;

	if (!s)
		return;
	hg_tls.walk = NULL;
	pool_lock();
	s->next_free = wk.pool;
	wk.pool = s;
	pool_unlock();
}

void hg_walk_fork_child(void)
{
	/* Held by a thread the child does not have, perhaps; the pool itself is consistent. */
	__atomic_store_n(&wk.pool_lock, 0, __ATOMIC_RELAXED);
}

void hg_walk_flush(void)
{
	/* Odd while clearing: a rule read before and stored after sees gen moved (rule_of_slow),
	 * and no walk starts on a half-cleared table. */
	uint32_t gen = __atomic_load_n(&wk.gen, __ATOMIC_RELAXED);

	/* One flush at a time (two threads may unload code at once): the second waits for the
	 * first's gen to be even again, or both bumps would make it even while one still clears. */
	for (;;) {
		if (gen & 1) {
			__builtin_ia32_pause();
			gen = __atomic_load_n(&wk.gen, __ATOMIC_RELAXED);
		} else if (__atomic_compare_exchange_n(&wk.gen, &gen, gen + 1, 0, __ATOMIC_SEQ_CST,
						       __ATOMIC_RELAXED)) {
			break;
		}
	}
	if (wk.rules) {
		uint32_t bits = __atomic_load_n(&wk.rules->bits, __ATOMIC_SEQ_CST);

		memset(wk.rules->w, 0, sizeof(uint64_t) << bits);
	}
	__atomic_add_fetch(&wk.gen, 1, __ATOMIC_RELEASE);
}

static uint64_t load(uint64_t addr)
{
	return *(const uint64_t *)(uintptr_t)addr;
}

/*
 * The words a walk read, which decide where it went: step m (from frame m out to frame m + 1,
 * for m below walk_steps) read the return address at f[m + 1].sp - 8, which is f[m + 1].ip,
 * and, at step_bp_at when that is not 0, the saved rbp f[m + 1].bp. An rbp counts only where
 * a later step used it (most code keeps no frame pointer, and the rbp it saves is whatever the
 * caller had in the register: checking that too would refuse identical stacks for nothing).
 * A walk that ended on a zero return address read that 0 too (the sentinel, f[n]).
 */
static inline int walk_steps(const struct walk_state *s)
{
	return s->end == END_ZERO ? s->n : s->n - 1;
}

static inline uint64_t step_bp_at(const struct frame *f, int m)
{
	return frame_rbp_off(&f[m]) && f[m + 1].bp_used ?
		       f[m + 1].sp + (uint64_t)(int64_t)frame_rbp_off(&f[m]) : 0;
}

/*
 * Whether the previous walk from its frame j on would read the same words again. Returns -1
 * when all are the same, else the first frame whose step read something else: no frame of the
 * previous walk up to that one can be reused either, since its check would read that word too.
 */
static int changed_from(const struct walk_state *s, int j)
{
	const struct frame *f = s->prev;
	const int steps = walk_steps(s);

	for (int m = j; m < steps; m++) {
		uint64_t bp_at = step_bp_at(f, m);

		if (load(f[m + 1].sp - 8) != f[m + 1].ip || (bp_at && load(bp_at) != f[m + 1].bp))
			return m;
	}
	return -1;
}

/*
 * The top of the stack sp is on, as far as it can be known without a system call: a thread's
 * stack ends where glibc put its thread descriptor (the fs base), the main thread's at
 * __libc_stack_end. A stack of neither (a coroutine's, a signal stack) has no known top.
 */
static uint64_t stack_top(uint64_t sp)
{
	extern void *__libc_stack_end;
	uint64_t fs, main_end = (uint64_t)(uintptr_t)__libc_stack_end;

	__asm__("mov %%fs:0, %0" : "=r"(fs));
	if (sp < fs && fs - sp < STACK_MAX_BYTES)
		return fs;
	if (sp < main_end && main_end - sp < STACK_MAX_BYTES)
		return main_end;
	return UINT64_MAX;
}

/*
 * Walk out from the frame at (ip, sp, bp), ip a return address into it.
 *
 * The loop per frame is what a capture costs on a deep stack (churn: 18 frames walked a capture,
 * each about 9 ns before this shape), so it keeps to registers: the previous walk's next frame
 * is looked at only once sp reaches its stack pointer, a frame is stored as four words with
 * its rule's high half as it was cached, and the bounds of a CFA are two compares.
 */
static int walk(struct walk_state *s, uint64_t ip, uint64_t sp, uint64_t bp, void **out, int max)
{
	uint64_t top = stack_top(sp);
	struct frame *cur = s->cur, *prev = s->prev;
	/* Reuse only a walk of this very stack, and of one whose top is known: the previous walk's
	 * words are read again, and a coroutine's stack may be gone since. */
	int reuse = s->valid && s->top == top && top != UINT64_MAX;
	const int prev_n = s->n;
	const enum end prev_end = s->end;
	int n = 0, p = reuse ? 0 : prev_n, walked;
	uint64_t prev_sp = p < prev_n ? prev[p].sp : UINT64_MAX; /* of prev[p] */
	uint64_t rules = 0; /* the rules of the frames walked, or-ed together */
	enum end end = END_MAX;

	if (max > MAX_WALK)
		max = MAX_WALK;
	while (n < max) {
		uint64_t w, cfa;

		/* A frame of the previous walk, with what lies beyond it unchanged? */
		if (prev_sp <= sp) {
			while (p < prev_n && prev[p].sp < sp)
				p++;
			prev_sp = p < prev_n ? prev[p].sp : UINT64_MAX;
			if (prev_sp == sp && prev[p].ip == ip &&
			    (prev[p].bp == bp || !prev[p].bp_used) &&
			    (prev_end != END_MAX || n + (prev_n - p) >= max)) {
				int rest = prev_n - p, take = n + rest > max ? max - n : rest;
				int changed = changed_from(s, p);

				if (changed >= 0) {
					p = changed + 1; /* each word is read once per walk at most */
					prev_sp = p < prev_n ? prev[p].sp : UINT64_MAX;
					goto step;
				}
				memcpy(cur + n, prev + p, (size_t)take * sizeof(*cur));
				/* From prev, not from the copy just stored: loads of parts of
				 * memcpy's wide stores wait for them to retire. */
				for (int i = 0; i < take; i++)
					out[n + i] = (void *)(uintptr_t)prev[p + i].ip;
				walked = n;
				n += take;
				end = take < rest ? END_MAX : prev_end;
				if (end == END_ZERO)
					cur[n] = prev[prev_n];
				goto done;
			}
		}
step:
		w = rule_of(s, ip - 1); /* the call instruction's rule: ip may start another one */
		if (HG_UNLIKELY((w >> PC_BITS & 3) != K_STEP)) {
			if ((w >> PC_BITS & 3) != K_LAST)
				return -1;
			cur[n] = (struct frame){ .ip = ip, .sp = sp, .bp = bp };
			out[n++] = (void *)(uintptr_t)ip;
			end = END_LAST;
			walked = n;
			goto done;
		}
		cfa = (rule_cfa_rbp(w) ? bp : sp) + rule_cfa_off(w);
		cur[n].ip = ip;
		cur[n].sp = sp;
		cur[n].bp = bp;
		cur[n].rule = (uint32_t)(w >> 32);
		cur[n].bp_used = 0;
		rules |= w;
		out[n++] = (void *)(uintptr_t)ip;
		/* A stale or wrong rule: never read outside the stack, let libunwind judge. The
		 * first compare is sp < cfa <= sp + FRAME_MAX_BYTES. */
		if (HG_UNLIKELY(cfa - sp - 1 >= FRAME_MAX_BYTES || cfa > top))
			return -1;
		ip = load(cfa - 8);
		if (rule_rbp_slots(w))
			bp = load(cfa - rule_rbp_slots(w) * 8);
		sp = cfa;
		if (!ip) {
			cur[n] = (struct frame){ .ip = 0, .sp = sp, .bp = bp };
			end = END_ZERO;
			walked = n;
			goto done;
		}
	}
	walked = n;
done:
	/* bp_used of the frames walked, from the outermost in (copied ones have theirs). They
	 * were stored 0, which is right unless a CFA is rbp-based: of one of them, or of a
	 * frame further out (the copied frames'). */
	if (rule_cfa_rbp(rules) || (walked < n && cur[walked].bp_used))
		for (int i = walked; i-- > 0;)
			cur[i].bp_used = rule_cfa_rbp(frame_rule(&cur[i])) ||
					 (!frame_rbp_off(&cur[i]) && i + 1 < n && cur[i + 1].bp_used);
	s->prev = cur;
	s->cur = prev;
	s->n = n;
	s->end = end;
	s->top = top;
	s->valid = 1;
	return n;
}

int hg_walk_from(uint64_t ret, uint64_t sp, uint64_t bp, void **ip, int max)
{
	struct walk_state *s = hg_tls.walk;
	uint32_t gen = __atomic_load_n(&wk.gen, __ATOMIC_ACQUIRE);
	int n;

	if (HG_UNLIKELY(gen & 1)) /* a flush is clearing the rules: let libunwind walk */
		return -1;
	if (HG_UNLIKELY(!s)) {
		if (!wk.rules || !(s = hg_tls.walk = state_new()))
			return -1;
		s->gen = gen;
	}
	if (HG_UNLIKELY(s->gen != gen)) { /* code was unloaded */
		forget_code(s);
		s->gen = gen;
	}
	if ((n = walk(s, ret, sp, bp, ip, max)) < 0)
		s->valid = 0;
	return n;
}

_Static_assert(MEMO_SLOTS < UINT16_MAX, "a slot's body index fits body_of");
_Static_assert(MEMO_SLOTS % MEMO_WAYS == 0 && (MEMO_SETS & (MEMO_SETS - 1)) == 0,
	       "sets are a power of two");

/* A hash of the first frame (ip, sp) of a walk: its set, and what a set declined (seen). */
static uint64_t memo_hash(uint64_t ip, uint64_t sp)
{
	return (ip ^ sp * 0x9e3779b97f4a7c15ull) * 0xff51afd7ed558ccdull;
}

/* The set for a walk whose first frame has memo_hash h: slots set * MEMO_WAYS on are its
 * ways. */
static size_t memo_set(uint64_t h)
{
	return (size_t)(h >> 40) & (MEMO_SETS - 1);
}

size_t hg_walk_memo_set(uint64_t ret, uint64_t sp)
{
	return memo_set(memo_hash(ret, sp));
}

unsigned hg_walk_rule_bits(void)
{
	return wk.rules ? __atomic_load_n(&wk.rules->bits, __ATOMIC_RELAXED) : 0;
}

size_t hg_walk_rules_held(size_t from)
{
	size_t n = 0;

	for (size_t i = from; wk.rules && i < (size_t)1 << RULE_BITS_LAST; i++)
		n += __atomic_load_n(&wk.rules->w[i], __ATOMIC_RELAXED) != 0;
	return n;
}

/* Whether the walk remembered in slot i, which started at (ret, sp), would go the same way
 * from a frame with this bp on the stack whose top is top. */
static inline int memo_holds(const struct memo_table *t, size_t i, uint64_t sp, uint64_t bp,
			     uint64_t top, uint32_t gen)
{
	const struct memo_key *k = &t->key[i];
	const struct memo *m;
	uint64_t sum = 0;

	if (k->top != top || (k->bp_used && k->bp != bp) || k->gen != gen ||
	    (k->n && load(sp + 8u * k->off0) != k->val0))
		return 0;
	m = &t->body[t->body_of[i] - 1]; /* a slot with a key has a body */
	for (uint32_t j = 1; j < k->n; j++)
		sum += load(sp + 8u * m->word[j]) * memo_mul[j];
	return sum == k->sum;
}

int hg_walk_recall(uint64_t ret, uint64_t sp, uint64_t bp, uint32_t *id)
{
	struct walk_state *s = hg_tls.walk;
	struct memo_table *t;
	size_t set, i;

	if (HG_UNLIKELY(!s || !(t = s->memo)))
		return 0;
	if (++t->tries == MEMO_WINDOW) {
		t->tries /= 2;
		t->hits /= 2;
	}
	set = memo_set(memo_hash(ret, sp));
	for (i = set * MEMO_WAYS; i < (set + 1) * MEMO_WAYS; i++) {
		struct memo_key *k = &t->key[i];

		if (k->ip != ret || k->sp != sp ||
		    !memo_holds(t, i, sp, bp, stack_top(sp),
				__atomic_load_n(&wk.gen, __ATOMIC_ACQUIRE)))
			continue;
		t->hits++;
		k->used = ++t->clock[set];
		*id = k->id;
		return 1;
	}
	return 0;
}

/* Add the word at addr to the checks of m and k; 0 when there is no room or it does not lie
 * within 512 KiB above sp, word-aligned. */
static int memo_check(struct memo *m, struct memo_key *k, uint32_t *n, uint64_t sp,
		      uint64_t addr, uint64_t val)
{
	uint64_t off = addr - sp;

	if (*n == MEMO_CHECKS || addr < sp || off % 8 || off / 8 > UINT16_MAX)
		return 0;
	m->word[*n] = (uint16_t)(off / 8);
	if (*n) {
		k->sum += val * memo_mul[*n];
	} else {
		k->off0 = m->word[0];
		k->val0 = val;
	}
	++*n;
	return 1;
}

/* The slot of the set a new walk takes: an empty one, one made under older rules, or the one
 * least recently made or recalled (ages are taken modulo 2^16: a way its set did not use for
 * that many of its uses may be taken for a young one). */
static size_t memo_victim(const struct memo_table *t, size_t set, uint32_t gen)
{
	const uint16_t now = t->clock[set];
	size_t oldest = set * MEMO_WAYS;
	uint16_t age = 0;

	for (size_t w = set * MEMO_WAYS; w < (set + 1) * MEMO_WAYS; w++) {
		const struct memo_key *k = &t->key[w];

		if (!k->ip || k->gen != gen)
			return w;
		if ((uint16_t)(now - k->used) >= age) {
			age = (uint16_t)(now - k->used);
			oldest = w;
		}
	}
	return oldest;
}

void hg_walk_remember(uint32_t id)
{
	struct walk_state *s = hg_tls.walk;
	struct memo_key key = { 0 };
	struct memo body;
	struct memo_table *t;
	const struct frame *f;
	uint64_t h;
	uint32_t n = 0;
	int steps;
	size_t set, i;

	if (!s || !s->valid || s->top == UINT64_MAX)
		return;
	if (!(t = s->memo) && !(t = s->memo = hg_arena_alloc(sizeof(*t))))
		return;
	if (t->tries >= MEMO_EVIDENCE && t->hits * 2 < t->tries && ++t->misses < MEMO_SPARSE)
		return;
	f = s->prev;
	h = memo_hash(f[0].ip, f[0].sp);
	set = memo_set(h);
	if (t->seen[set] != h && t->declined[set] < MEMO_DECLINE_MAX) {
		t->seen[set] = h;
		t->declined[set]++;
		return;
	}
	/* Every word the walk read, as changed_from checks them from the first frame on; made
	 * aside, so that a walk too deep to keep takes no way from another. */
	steps = walk_steps(s);
	for (int j = 0; j < steps; j++) {
		uint64_t bp_at = step_bp_at(f, j);

		if (!memo_check(&body, &key, &n, f[0].sp, f[j + 1].sp - 8, f[j + 1].ip) ||
		    (bp_at && !memo_check(&body, &key, &n, f[0].sp, bp_at, f[j + 1].bp)))
			return;
	}
	t->declined[set] = 0;
	t->misses = 0;
	i = memo_victim(t, set, s->gen);
	if (!t->body_of[i])
		t->body_of[i] = (uint16_t)++t->n_bodies;
	memcpy(&t->body[t->body_of[i] - 1], &body, sizeof(body.word[0]) * n);
	key.id = id;
	key.bp = f[0].bp;
	key.bp_used = (uint16_t)f[0].bp_used;
	key.gen = s->gen;
	key.n = (uint16_t)n;
	key.top = s->top;
	key.sp = f[0].sp;
	key.ip = f[0].ip;
	key.used = ++t->clock[set];
	t->key[i] = key;
}
