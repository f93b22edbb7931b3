/*
 * stack.c - capture the caller's stack and give each distinct stack a small id
 *
 * Stacks are unwound with libunwind's unw_backtrace (see unwind.c), which caches each return address's frame
 * description per thread, so a stack seen before costs a short walk with no DWARF parsing.
 *
 * Each stack is hashed (64 bits over its return addresses) and looked up in one open-addressing
 * table shared by all threads. The table is lock-free: an empty entry is claimed with one CAS on
 * its hash word, the id is drawn from a counter and published with a release store; a reader
 * that finds the hash but not yet the id spins for the few instructions until it appears. Only
 * the thread that won the CAS writes the HG_REC_STACK record, so each stack is written once per
 * process. A 64-bit hash keeps the chance of two stacks sharing an id below 1 in 10^7 even with
 * a million distinct stacks; the analyzer treats such a collision as one site.
 *
 * The table never grows. When it is 3/4 full, new stacks are still recorded, each under a fresh
 * id, so the trace stays correct and only deduplication of the overflow is lost.
 *
 * A fork child inherits the table and the counter, so the ids it reuses refer to stacks its
 * parent defined before the fork; the analyzer resolves them through the parent.
 *
 * Runs in: inside malloc.
 */
#include <stddef.h>

#include "arena.h"
#include "guard.h"
#include "hg_format.h"
#include "modules.h"
#include "ring.h"
#include "stack.h"
#include "unwind.h"

#define TABLE_BITS 20
#define TABLE_SIZE (1u << TABLE_BITS)
#define SHIM_FRAMES_MAX 8

struct entry {
	uint64_t hash; /* atomic; 0 = empty */
	uint32_t id;   /* atomic; 0 until the claimer publishes it */
	uint32_t pad;
};

static struct {
	struct entry *table; /* TABLE_SIZE entries, arena-mapped */
	uint32_t next_id;    /* atomic: last id handed out */
	uint32_t used;       /* atomic: entries claimed */
	uint32_t max_frames; /* program frames to keep */
	uintptr_t self_lo;   /* shim's mapped range: frames in it are skipped */
	uintptr_t self_hi;
} st;

int hg_stack_init(uint32_t max_frames)
{
	st.max_frames = max_frames;
	if (!st.table)
		st.table = hg_arena_alloc(sizeof(struct entry) * TABLE_SIZE);
	hg_unwind_load();
	return st.table ? 0 : -1;
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

static uint64_t hash_ips(void *const *ip, int n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;

	for (int i = 0; i < n; i++) {
		h ^= (uint64_t)(uintptr_t)ip[i];
		h *= 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 32;
	return h ? h : 1;
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

/* Find or insert; returns the id and whether this call inserted it. */
static uint32_t lookup(uint64_t h, int *inserted)
{
	uint32_t i = (uint32_t)h & (TABLE_SIZE - 1);

	*inserted = 0;
	if (__atomic_load_n(&st.used, __ATOMIC_RELAXED) > TABLE_SIZE / 4 * 3) {
		*inserted = 1;
		return new_id();
	}
	for (;; i = (i + 1) & (TABLE_SIZE - 1)) {
		struct entry *e = &st.table[i];
		uint64_t cur = __atomic_load_n(&e->hash, __ATOMIC_ACQUIRE);
		uint32_t id;

		if (cur == 0) {
			if (!__atomic_compare_exchange_n(&e->hash, &cur, h, 0, __ATOMIC_ACQ_REL,
							 __ATOMIC_ACQUIRE))
				goto claimed_by_other;
			__atomic_add_fetch(&st.used, 1, __ATOMIC_RELAXED);
			id = new_id();
			/* Release: a reader that sees the id also sees the hash it belongs to. */
			__atomic_store_n(&e->id, id, __ATOMIC_RELEASE);
			*inserted = 1;
			return id;
		}
claimed_by_other:
		if (cur != h)
			continue;
		/* The claimer publishes its id a few instructions after its CAS. It can only fail
		 * to when it vanished in between (a fork child, which has just the forking
		 * thread): then this stack gets an id of its own instead of waiting forever. */
		for (unsigned spin = 0; (id = __atomic_load_n(&e->id, __ATOMIC_ACQUIRE)) == 0;
		     spin++) {
			if (spin > (1u << 20)) {
				*inserted = 1;
				return new_id();
			}
			__builtin_ia32_pause();
		}
		return id;
	}
}

uint32_t hg_stack_capture(void)
{
	/* buf[0..1] is room for a record header before the first frame kept (see emit_stack). */
	uint64_t buf[2 + HG_MAX_FRAMES + SHIM_FRAMES_MAX];
	void **ip = (void **)(buf + 2);
	int n;

	HG_INTERNAL(n = hg_unwind_backtrace(ip, (int)st.max_frames + SHIM_FRAMES_MAX));
	int first = 0, inserted;
	uint32_t id;

	while (first < n && (uintptr_t)ip[first] >= st.self_lo && (uintptr_t)ip[first] < st.self_hi)
		first++;
	n -= first;
	if (n <= 0)
		return 0;
	if (n > (int)st.max_frames)
		n = (int)st.max_frames;
	id = lookup(hash_ips(ip + first, n), &inserted);
	if (inserted) {
		emit_stack(buf + first, id, n);
		HG_INTERNAL(hg_modules_check());
	}
	return id;
}
