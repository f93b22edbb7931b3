/*
 * progmaps.c - the program's own anonymous mappings, as a sorted array of disjoint ranges
 *
 * Changes take a spinlock that is held for a few hundred instructions and across no call
 * outside the shim but the arena's (which never takes this lock). The array lives in the
 * arena and doubles when full; mmap and munmap are rare next to malloc, so insertion by moving
 * the tail is cheap enough. Ranges added are rounded inwards to pages, ranges removed outwards
 * to 2 MiB (a huge-page mapping's unit): either way the table can only hold less than the
 * program's mappings, never memory that is not theirs.
 */
#include <string.h>

#include "arena.h"
#include "guard.h"
#include "progmaps.h"
#include "rawlog.h"

#define PAGE 4096ull
#define REMOVE_ROUND (2ull << 20)
#define FIRST_CAP 64u

static struct {
	struct hg_progmap *v;
	uint32_t n, cap;
	int lock;   /* 0 free, 1 held */
	int enabled; /* the real malloc is glibc's (hg_progmaps_enable) */
	int broken;  /* a change could not be recorded: the table is not used again */
	int forking; /* fork_prepare took the lock */
} pm;

/* The table is not used again: every value in anonymous memory is written from now on. */
static void give_up(const char *why)
{
	if (!__atomic_exchange_n(&pm.broken, 1, __ATOMIC_RELAXED))
		hg_rawlog("table of the program's mappings given up (%s): snapshots write every "
			  "value in anonymous memory", why);
}

/*
 * Take the lock; -1 when this thread is in here already (a signal handler's munmap that
 * interrupted a change): waiting would never end, so the table is given up instead. The
 * thread's flag goes up before the lock is taken, so a signal in between gives up too.
 */
static int lock(void)
{
	if (hg_tls.in_progmaps) {
		give_up("changed from a signal handler in the middle of a change");
		return -1;
	}
	hg_tls.in_progmaps = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	while (__atomic_exchange_n(&pm.lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&pm.lock, __ATOMIC_RELAXED))
			__builtin_ia32_pause();
	return 0;
}

static void unlock(void)
{
	__atomic_store_n(&pm.lock, 0, __ATOMIC_RELEASE);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	hg_tls.in_progmaps = 0;
}

/* Room for `more` ranges; 0, or -1 (the table is then broken). Under the lock. */
static int reserve(uint32_t more)
{
	uint32_t cap = pm.cap ? pm.cap : FIRST_CAP;
	struct hg_progmap *v;

	if (pm.n + more <= pm.cap)
		return 0;
	while (cap < pm.n + more)
		cap *= 2;
	if (!(v = hg_arena_alloc(sizeof(*v) * cap))) {
		give_up("out of memory");
		return -1;
	}
	if (pm.n)
		memcpy(v, pm.v, sizeof(*v) * pm.n);
	if (pm.v)
		hg_arena_free(pm.v, sizeof(*pm.v) * pm.cap);
	pm.v = v;
	pm.cap = cap;
	return 0;
}

/* The first range whose end is past lo. Under the lock. */
static uint32_t first_ending_after(uint64_t lo)
{
	uint32_t a = 0, b = pm.n;

	while (a < b) {
		uint32_t mid = (a + b) / 2;
		if (pm.v[mid].hi <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a;
}

/*
 * Take [lo, hi) out: ranges inside it go, ranges across its ends are cut. A range around it
 * becomes two, which may need the array to grow: with may_grow (under the shim's guard) it
 * does; otherwise (a munmap from anywhere, even a signal handler that interrupted the arena)
 * the whole range goes instead, which only keeps more values. Under the lock.
 */
static void cut(uint64_t lo, uint64_t hi, int may_grow)
{
	uint32_t i = first_ending_after(lo), j = i;

	if (pm.broken)
		return;
	if (i < pm.n && pm.v[i].lo < lo && pm.v[i].hi > hi &&
	    (pm.n < pm.cap || (may_grow && reserve(1) == 0))) {
		memmove(pm.v + i + 1, pm.v + i, sizeof(*pm.v) * (pm.n - i));
		pm.n++;
		pm.v[i].hi = lo;
		pm.v[i + 1].lo = hi;
		return;
	}
	if (i < pm.n && pm.v[i].lo < lo && pm.v[i].hi <= hi) {
		pm.v[i].hi = lo; /* it ends inside the hole */
		i++;
		j = i;
	}
	while (j < pm.n && pm.v[j].lo < hi && pm.v[j].hi <= hi)
		j++; /* inside the hole (or, with no room to split it, around it) */
	if (j < pm.n && pm.v[j].lo < lo)
		j++; /* around the hole, with no room to split it: it goes whole */
	else if (j < pm.n && pm.v[j].lo < hi)
		pm.v[j].lo = hi; /* it starts inside the hole */
	memmove(pm.v + i, pm.v + j, sizeof(*pm.v) * (pm.n - j));
	pm.n -= j - i;
}

void hg_progmaps_add(uint64_t addr, uint64_t len)
{
	uint64_t lo = (addr + PAGE - 1) & ~(PAGE - 1), hi = (addr + len) & ~(PAGE - 1);
	uint32_t i;

	if (!__atomic_load_n(&pm.enabled, __ATOMIC_RELAXED) || hi <= lo || addr + len < addr ||
	    lock() < 0)
		return;
	if (!pm.broken) {
		cut(lo, hi, 1); /* MAP_FIXED may map over ranges already there */
		if (!pm.broken && reserve(1) == 0) {
			i = first_ending_after(lo);
			memmove(pm.v + i + 1, pm.v + i, sizeof(*pm.v) * (pm.n - i));
			pm.v[i] = (struct hg_progmap){ lo, hi };
			pm.n++;
		}
	}
	unlock();
}

void hg_progmaps_remove(uint64_t addr, uint64_t len)
{
	uint64_t lo = addr & ~(REMOVE_ROUND - 1), end = addr + len;
	uint64_t hi = end < addr || end > UINT64_MAX - REMOVE_ROUND
			      ? UINT64_MAX
			      : (end + REMOVE_ROUND - 1) & ~(REMOVE_ROUND - 1);
	/* Off (another malloc behind the shim, which may unmap often): nothing was ever added. */
	if (!__atomic_load_n(&pm.enabled, __ATOMIC_RELAXED) || lock() < 0)
		return;
	if (pm.n)
		cut(lo, hi, 0);
	unlock();
}

const struct hg_progmap *hg_progmaps_view(uint32_t *n)
{
	static const struct hg_progmap none;

	if (!pm.enabled || __atomic_load_n(&pm.lock, __ATOMIC_ACQUIRE) || pm.broken)
		return NULL;
	*n = pm.n;
	return pm.v ? pm.v : &none;
}

void hg_progmaps_enable(void)
{
	__atomic_store_n(&pm.enabled, 1, __ATOMIC_RELAXED);
}

void hg_progmaps_fork_prepare(void)
{
	pm.forking = lock() == 0;
}

void hg_progmaps_fork_done(void)
{
	if (pm.forking)
		unlock();
}
