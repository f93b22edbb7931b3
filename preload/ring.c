/*
 * ring.c - producer side of the shared-memory ring
 *
 * Each thread claims a slot of its own on its first record, so the fast path (ring.h) is a copy
 * and one release store, with no lock and no contended cache line. This file holds the slow
 * paths: claiming a slot, waiting for room, the shared overflow slot for threads beyond
 * n_slots - 1, and giving slots back.
 *
 * Back-pressure: when a slot is full the producer wakes the collector if it naps, and sleeps on
 * its slot's tail until the collector moves it (hg_format.h, "Wake-ups"). It stops waiting only
 * when the collector is gone (its pid no longer exists, or it set HG_RING_F_SHUTDOWN); then
 * tracing turns itself off and every later event is counted as lost, so the trace never
 * misrepresents what it holds.
 *
 * Runs in: inside malloc, fork child, thread-exit destructor, constructor.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "digits.h"
#include "hg_futex.h"
#include "lifecycle.h"
#include "rawlog.h"
#include "ring.h"

struct hg_ring_header *hg_ring;
struct hg_ring_clock hg_clock;
__thread struct hg_thread hg_tls __attribute__((tls_model("initial-exec")));

/* The slots this process's threads have written through, for hg_ring_used_slot. */
static uint64_t used[HG_RING_MAX_SLOTS / 64];

static void mark_used(uint32_t i)
{
	__atomic_or_fetch(&used[i / 64], 1ull << (i % 64), __ATOMIC_RELAXED);
}

int hg_ring_used_slot(uint32_t i)
{
	return i < HG_RING_MAX_SLOTS &&
	       (__atomic_load_n(&used[i / 64], __ATOMIC_RELAXED) >> (i % 64) & 1);
}

void hg_ring_forget_used(void)
{
	memset(used, 0, sizeof(used));
}

static struct hg_ring_slot *slots(void)
{
	return (struct hg_ring_slot *)((uint8_t *)hg_ring + HG_RING_HEADER_BYTES);
}

static uint8_t *slot_data(uint32_t i)
{
	return (uint8_t *)hg_ring + hg_ring->data_offset + (uint64_t)i * hg_ring->slot_bytes;
}

void hg_ring_attach(struct hg_ring_header *ring)
{
	static const struct hg_ring_clock none;

	hg_clock = ring ? ring->clock : none;
	hg_ring = ring;
}

void hg_ring_count_lost(uint64_t n_events, uint64_t n_bytes)
{
	if (!hg_ring)
		return;
	__atomic_add_fetch(&hg_ring->lost_events, n_events, __ATOMIC_RELAXED);
	__atomic_add_fetch(&hg_ring->lost_bytes, n_bytes, __ATOMIC_RELAXED);
}

uint64_t hg_ring_barrier_now(void)
{
	uint64_t k, t;

	if (!hg_ring)
		return hg_now_ns();
	/* Announced before the time is taken: a collector that sees an event stamped after it
	 * either sees the stored time or the announcement (see the ring header). */
	__atomic_add_fetch(&hg_ring->barriers_in_flight, 1, __ATOMIC_SEQ_CST);
	t = hg_clock_now_ordered(&hg_clock);
	k = __atomic_fetch_add(&hg_ring->barrier_count, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&hg_ring->barrier_ns[k % HG_RING_BARRIERS], t, __ATOMIC_SEQ_CST);
	__atomic_sub_fetch(&hg_ring->barriers_in_flight, 1, __ATOMIC_SEQ_CST);
	return t;
}

/*
 * Whether pid is dead but not yet reaped, which kill(pid, 0) does not tell: a collector killed
 * while its parent does not wait for it yet (a script reading the program's output first) is a
 * zombie, and a producer waiting for it would wait for good, holding up the very output its
 * parent waits for. Its /proc/PID/stat says Z (or X); 0 when that cannot be read.
 */
static int zombie(uint32_t pid)
{
	char path[40] = "/proc/", buf[512];
	size_t n = 6 + hg_put_decimal(path + 6, pid);
	ssize_t got, at;
	int fd;

	memcpy(path + n, "/stat", sizeof("/stat"));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	got = read(fd, buf, sizeof(buf));
	close(fd);
	/* "PID (COMM) S ...": the state follows the last ')' (a command may contain one). */
	for (at = got; at > 0 && buf[at - 1] != ')'; at--)
		;
	return at > 0 && at + 1 < got && (buf[at + 1] == 'Z' || buf[at + 1] == 'X');
}

static int collector_gone(void)
{
	int saved = errno, gone;

	if (__atomic_load_n(&hg_ring->flags, __ATOMIC_ACQUIRE) & HG_RING_F_SHUTDOWN)
		return 1;
	gone = (kill((pid_t)hg_ring->collector_pid, 0) < 0 && errno == ESRCH) ||
	       zombie(hg_ring->collector_pid);
	errno = saved;
	return gone;
}

/*
 * Make slot idx, OWNED by this thread, the one it writes through, from where its head stands
 * and under the window its header holds: the one place a thread takes a slot (claim, exec), so
 * a thread with a slot always has its window.
 */
static void take_slot(struct hg_thread *t, uint32_t idx)
{
	struct hg_ring_slot *s = &slots()[idx];

	t->slot = s;
	t->data = slot_data(idx);
	t->window = hg_ring_window(hg_ring, __atomic_load_n(&s->window, __ATOMIC_RELAXED));
	t->wait_since_ns = 0;
	t->head = __atomic_load_n(&s->head, __ATOMIC_RELAXED);
	t->tail_cache = __atomic_load_n(&s->tail, __ATOMIC_ACQUIRE);
	mark_used(idx);
	HG_INTERNAL(hg_thread_register_exit());
}

/* Claim a free slot (not the overflow slot) for this thread; 0 on success. */
static int claim(struct hg_thread *t)
{
	uint32_t n = hg_ring->n_slots - 1;
	uint32_t start = (uint32_t)__atomic_fetch_add(&hg_ring->next_hint, 1, __ATOMIC_RELAXED);

	if (!t->tid)
		t->tid = (uint32_t)syscall(SYS_gettid);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = (start + i) % n;
		struct hg_ring_slot *s = &slots()[idx];
		uint32_t expect = HG_SLOT_FREE;

		if (__atomic_load_n(&s->state, __ATOMIC_RELAXED) != HG_SLOT_FREE)
			continue;
		/* Acquire: the collector zeroed head and tail before its release store of FREE. */
		if (!__atomic_compare_exchange_n(&s->state, &expect, HG_SLOT_CLAIMING, 0,
						 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		s->pid = hg_self_pid;
		s->tid = t->tid;
		/* The slot is empty: its window may change (read by the collector after head). */
		__atomic_store_n(&s->window, hg_ring_window(hg_ring, HG_RING_FIRST_WINDOW),
				 __ATOMIC_RELAXED);
		/* A thread that died holding left its time here. */
		__atomic_store_n(&s->stall_ns, 0, __ATOMIC_RELAXED);
		/* Release: whoever sees OWNED sees the owner it belongs to. */
		__atomic_store_n(&s->state, HG_SLOT_OWNED, __ATOMIC_RELEASE);
		take_slot(t, idx);
		return 0;
	}
	return -1;
}

static void pause_briefly(unsigned round)
{
	struct timespec ts = { 0, round < 10 ? 20000 : 500000 };

	if (round < 4) {
		sched_yield();
		return;
	}
	nanosleep(&ts, NULL);
}

/* A producer begins to wait for room: cut the collector's nap short. */
static void wake_collector(void)
{
	__atomic_add_fetch(&hg_ring->wake_seq, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&hg_ring->collector_napping, __ATOMIC_SEQ_CST))
		hg_futex(&hg_ring->wake_seq, FUTEX_WAKE, 1, NULL);
}

/* Sleep until the collector moves slot s's tail from `seen` (it wakes the futex on the tail's
 * low half), for at most a short while: a collector busy elsewhere (waiting for its writing
 * thread, say) moves no tail for a while, and one that is gone never does, which the callers
 * check for now and then. Where futexes are refused (a seccomp filter), plain short sleeps. */
static void wait_for_tail(struct hg_ring_slot *s, uint64_t seen, unsigned round)
{
	struct timespec ts = { 0, round < 8 ? 50000 : 500000 };

	if (hg_futex(hg_ring_tail_word(s), FUTEX_WAIT, (uint32_t)seen, &ts) < 0 && errno != EAGAIN &&
	    errno != ETIMEDOUT && errno != EINTR)
		pause_briefly(round);
}

/*
 * Wait until slot s's tail lets the bytes up to `end` fit in size bytes; 0 when they do, -1
 * when the collector is gone; *tail is the last tail seen. With `stall` (a slot of one's own
 * and no hold, whose earlier time is there already) stall_ns says, while it waits, that a
 * record timestamped about now is still to come, so that the collector keeps its
 * HG_REC_HORIZON below it; and stall_ns, or the overflow slot, has the collector wake the tail.
 */
static int wait_tail(struct hg_ring_slot *s, uint64_t end, uint64_t size, int stall,
		     uint64_t *tail)
{
	unsigned round;
	int rc = 0;

	for (round = 0;; round++) {
		/* Sequentially consistent with the store of stall_ns below: the collector stores
		 * tail, then reads stall_ns; either it sees ours and wakes us, or we see its tail. */
		*tail = __atomic_load_n(&s->tail, __ATOMIC_SEQ_CST);
		if (end - *tail <= size)
			break;
		if (round == 0) {
			if (stall)
				__atomic_store_n(&s->stall_ns, hg_now_ns(), __ATOMIC_SEQ_CST);
			wake_collector();
			continue;
		}
		if (round % 64 == 63 && collector_gone()) {
			rc = -1;
			break;
		}
		wait_for_tail(s, *tail, round);
	}
	if (round > 0 && stall)
		__atomic_store_n(&s->stall_ns, 0, __ATOMIC_RELAXED);
	return rc;
}

/* Room for n bytes in the thread's own slot, used as a ring of size bytes (wait_tail). */
static int wait_for_room(struct hg_thread *t, uint64_t size, uint32_t n)
{
	return wait_tail(t->slot, t->head + n, size, !t->holding, &t->tail_cache);
}

/*
 * Room for n bytes in the thread's own slot: 0, or -1 when the collector is gone. Usually a
 * wait for the collector. Below the full slot, when the thread has waited WIDEN_WAITS times
 * since its first recent wait and those waits took more than 1/WIDEN_SHARE of the time since
 * (or the record is larger than the window), it instead waits until the slot is empty and
 * doubles the window: a producer the collector cannot keep up with at this window gets a
 * larger one, and a wait now and then (the collector off the CPU for a moment) does not widen
 * it. Waits more than WIDEN_SPAN windows of output apart are not compared. What a window must
 * hold is what the program writes between two passes of the collector, which sleeps half a
 * millisecond after a light pass (less while producers keep waking it: collector.c, LAG_NS)
 * and is woken by a producer that begins to wait: the traced sqlite3 of bench/ (340 MB/s of
 * records) ends at 512 KiB (256 KiB in some runs), cc1 at 128 KiB, churn (130 MB/s) at 64 KiB
 * (128 in some runs), git at 32 KiB, gcc's driver and a program that writes little at
 * HG_RING_FIRST_WINDOW, 16 KiB. That first window was 64 KiB, which the driver never needed
 * (its ring 68 KiB, now 28); the others get from 16 KiB to where they end in two to five
 * widenings within their first quarter second (sqlite3 at 512 KiB after some 40 ms, as from
 * 64 KiB). Before the collector wrote in a thread of its own and was woken, sqlite3 and churn
 * ended at 1 MiB (a window had to hold what the program wrote while the collector compressed),
 * and widened on the second wait, where now it takes the fifth.
 */
#define WIDEN_SHARE 128
#define WIDEN_SPAN 16
#define WIDEN_WAITS 4

static int make_room(struct hg_thread *t, uint32_t n)
{
	uint32_t w = t->window, full = hg_ring->slot_bytes;
	uint64_t now;
	int rc;

	/* The tail the fast path knew may be old: the collector may have made room since. */
	t->tail_cache = __atomic_load_n(&t->slot->tail, __ATOMIC_ACQUIRE);
	if (hg_ring_fits(t, n))
		return 0;
	/* A hold is a burst (a snapshot writing the heap's words as fast as it reads them, a
	 * large realloc): no window keeps up with it, and widening would only cost memory. */
	if (w >= full || (t->holding && n <= w))
		return wait_for_room(t, w, n);
	now = hg_now_ns();
	if (t->wait_since_ns && t->head - t->wait_head > (uint64_t)w * WIDEN_SPAN)
		t->wait_since_ns = 0;
	if (n > w || (t->wait_since_ns && t->waits >= WIDEN_WAITS &&
		      t->wait_ns * WIDEN_SHARE > now - t->wait_since_ns)) {
		if (wait_for_room(t, w, w) < 0)
			return -1;
		t->wait_since_ns = 0;
		do
			w *= 2;
		while (w < n && w < full);
		t->window = w;
		__atomic_store_n(&t->slot->window, w, __ATOMIC_RELAXED);
		return 0;
	}
	if (!t->wait_since_ns) {
		t->wait_since_ns = now;
		t->wait_head = t->head;
		t->wait_ns = 0;
		t->waits = 0;
	}
	t->waits++;
	rc = wait_for_room(t, w, n);
	t->wait_ns += hg_now_ns() - now;
	return rc;
}

int hg_ring_hold(uint64_t t_ns)
{
	struct hg_thread *t = &hg_tls;

	if (!t->slot || t->holding)
		return 0;
	t->holding = HG_HOLD_SLOT;
	/* Sequentially consistent: a wait under the hold relies on this store, as wait_for_room's
	 * own store, against the collector's store of tail (hg_format.h, "Wake-ups"). */
	__atomic_store_n(&t->slot->stall_ns, t_ns, __ATOMIC_SEQ_CST);
	return 1;
}

/*
 * Lower the overflow slot's stall_ns to t unless it is lower already (0 is none): a writer
 * that waits for the lock with a stamped record in hand, or a snapshot that takes it, keeps
 * the collector's horizon below its time. The collector clears it once the lock has stayed
 * free for a while (collector.c, overflow_hold): a holder that cleared it would drop the times
 * of the writers queued behind it.
 */
static void hold_overflow_below(struct hg_ring_slot *s, uint64_t t)
{
	uint64_t cur = __atomic_load_n(&s->stall_ns, __ATOMIC_SEQ_CST);

	while ((cur == 0 || t < cur) &&
	       !__atomic_compare_exchange_n(&s->stall_ns, &cur, t, 0, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST))
		;
}

/*
 * The lock word holds the holder's tid. It lives in shared memory, so a holder killed in the
 * middle of its copy (SIGKILL, another thread's exit_group, exec) would hold it for ever; a
 * waiter that finds the holder gone takes the lock over. That is safe: the holder publishes
 * head only after its copy, so its half-written bytes are simply overwritten. Returns 0 with
 * the lock held, -1 when the collector is gone (no holder will ever be drained).
 */
static int lock_overflow(struct hg_ring_slot *s, uint32_t tid)
{
	uint64_t since = 0;

	for (unsigned round = 0;; round++) {
		uint32_t holder = 0;
		if (__atomic_compare_exchange_n(&s->lock, &holder, tid, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return 0;
		if (!since) { /* about when the caller stamped its record */
			since = hg_now_ns();
			hold_overflow_below(s, since);
		}
		if (round % 256 == 255 && syscall(SYS_tkill, holder, 0) < 0 && errno == ESRCH &&
		    __atomic_compare_exchange_n(&s->lock, &holder, tid, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return 0;
		if (round % 256 == 255 && collector_gone())
			return -1;
		pause_briefly(round < 4 ? round : 4);
	}
}

static struct hg_ring_slot *overflow_slot(void)
{
	return &slots()[hg_ring->n_slots - 1];
}

/*
 * The overflow slot is shared: its head is advanced under s->lock, and every record is preceded
 * by an HG_REC_ORIGIN naming the writer. The lock is held only for the copy.
 */
static void put_overflow(struct hg_thread *t, const void *rec, uint32_t n)
{
	uint32_t last = hg_ring->n_slots - 1;
	struct hg_ring_slot *s = overflow_slot();
	uint64_t size = hg_ring->slot_bytes, head, tail;
	struct hg_rec_origin o = { { HG_REC_ORIGIN, 0, sizeof(o) }, hg_self_pid, t->tid };
	int held = t->holding == HG_HOLD_OVERFLOW; /* the lock is ours already */

	if (!held && lock_overflow(s, t->tid) < 0) {
		hg_ring_count_lost(1, n);
		hg_disable("collector gone");
		return;
	}
	mark_used(last);
	head = __atomic_load_n(&s->head, __ATOMIC_RELAXED);
	if (wait_tail(s, head + n + sizeof(o), size, 0, &tail) < 0) {
		if (!held)
			__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
		hg_ring_count_lost(1, n);
		hg_disable("collector gone");
		return;
	}
	hg_ring_copy_in(slot_data(last), (uint32_t)size, head, &o, sizeof(o));
	hg_ring_copy_in(slot_data(last), (uint32_t)size, head + sizeof(o), rec, n);
	__atomic_store_n(&s->head, head + sizeof(o) + n, __ATOMIC_RELEASE);
	if (!held)
		__atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

static void put_slow(const void *rec, uint32_t n);

/*
 * The collector drains the slots in index order and writes what it drained slot by slot, so a
 * thread's records must stay in one place for the file to hold them in the order they were
 * made: records that went to the overflow slot (no slot was free) and then to a slot claimed
 * later, or to a slot given back and then to another, could reach the file the wrong way
 * round (an exec'd image's exit before its start). When a thread's records change place, it
 * first has the collector write out everything published so far. That is rare: only when
 * every slot was taken, or after a thread gave its slot back.
 */
#define KEEP_ORDER_TIMEOUT_MS 2000

static void keep_order(struct hg_thread *t)
{
	if (HG_UNLIKELY(t->moved != HG_MOVED_NOT)) {
		/* The record in hand waits for the whole file: hold the horizon below it. */
		int hold = hg_ring_hold(hg_now_ns());

		t->moved = HG_MOVED_NOT;
		hg_ring_sync(KEEP_ORDER_TIMEOUT_MS);
		if (hold)
			hg_ring_hold_end();
	}
}

/* A thread with no slot of its own is about to write through the overflow slot: what it put in
 * a slot it gave back is written out first (keep_order), and its records are there from now. */
static void to_overflow(struct hg_thread *t)
{
	if (!t->tid)
		t->tid = (uint32_t)syscall(SYS_gettid);
	if (t->moved == HG_MOVED_GAVE_BACK)
		keep_order(t);
	t->moved = HG_MOVED_OVERFLOW;
}

int hg_ring_hold_stream(uint64_t t_ns)
{
	struct hg_thread *t = &hg_tls;
	struct hg_ring_slot *s;

	if (!hg_ring || t->holding)
		return 0;
	if (t->slot || claim(t) == 0) {
		/* Claimed now, after records in the overflow slot or in a slot given back: the
		 * fast path the stream then takes would not keep them in order. */
		keep_order(t);
		return hg_ring_hold(t_ns);
	}
	to_overflow(t);
	s = overflow_slot();
	hold_overflow_below(s, t_ns);
	if (lock_overflow(s, t->tid) < 0) {
		hg_disable("collector gone");
		return 0;
	}
	t->holding = HG_HOLD_OVERFLOW;
	return 1;
}

void hg_ring_hold_end(void)
{
	struct hg_thread *t = &hg_tls;

	if (t->holding == HG_HOLD_OVERFLOW) {
		/* stall_ns stays: the collector clears it once the writers behind us are through. */
		t->holding = HG_HOLD_NONE;
		__atomic_store_n(&overflow_slot()->lock, 0, __ATOMIC_RELEASE);
		return;
	}
	if (!t->holding)
		return;
	t->holding = HG_HOLD_NONE;
	/* The slot is the same: a thread gives its slot up only when it exits or forks. */
	__atomic_store_n(&t->slot->stall_ns, 0, __ATOMIC_RELEASE);
}

/* The slow path waits and sleeps, which can set errno (EINTR); the program must not see it. */
void hg_ring_put_slow(const void *rec, uint32_t n)
{
	int saved = errno;

	put_slow(rec, n);
	errno = saved;
}

static void put_slow(const void *rec, uint32_t n)
{
	struct hg_thread *t = &hg_tls;
	uint64_t size;

	if (!hg_ring)
		return;
	size = hg_ring->slot_bytes;
	/* Tracing stopped (the collector is gone): a snapshot or exit path still writing would
	 * wait out each record before it noticed; count it lost at once. */
	if (HG_UNLIKELY(__atomic_load_n(&hg_state, __ATOMIC_RELAXED) == HG_DISABLED)) {
		hg_ring_count_lost(1, n);
		return;
	}
	if (n + sizeof(struct hg_rec_origin) > size) {
		hg_ring_count_lost(1, n);
		return;
	}
	if (t->holding == HG_HOLD_OVERFLOW) {
		put_overflow(t, rec, n);
		return;
	}
	if (!t->slot && claim(t) < 0) {
		to_overflow(t);
		put_overflow(t, rec, n);
		return;
	}
	keep_order(t);
	if (!hg_ring_fits(t, n) && make_room(t, n) < 0) {
		hg_ring_count_lost(1, n);
		hg_disable("collector gone");
		return;
	}
	hg_ring_copy_in(t->data, t->window, t->head, rec, n);
	hg_ring_advance(t, n);
}

void hg_ring_release_thread(int last)
{
	struct hg_thread *t = &hg_tls;

	if (!t->slot)
		return;
	/* Release: every byte published before this store is drained before the slot is reused. */
	__atomic_store_n(&t->slot->state, HG_SLOT_RELEASED, __ATOMIC_RELEASE);
	hg_ring_forget_thread();
	t->moved = last ? HG_MOVED_NOT : HG_MOVED_GAVE_BACK;
}

void hg_ring_forget_thread(void)
{
	struct hg_thread *t = &hg_tls;

	t->slot = NULL;
	t->data = NULL;
	t->head = 0;
	t->tail_cache = 0;
	t->window = 0;
	t->wait_since_ns = 0;
	t->moved = HG_MOVED_NOT; /* a fork child's records are its own process's */
	t->holding = 0;          /* a hold stays with the slot, which the collector clears */
}

void hg_ring_adopt_pid(uint32_t pid)
{
	struct hg_thread *t = &hg_tls;

	if (!hg_ring)
		return;
	if (!t->tid)
		t->tid = (uint32_t)syscall(SYS_gettid);
	for (uint32_t i = 0; i + 1 < hg_ring->n_slots; i++) {
		struct hg_ring_slot *s = &slots()[i];
		uint32_t expect = HG_SLOT_OWNED;

		/* Acquire: an OWNED slot's pid is the one its claimer published. */
		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != HG_SLOT_OWNED || s->pid != pid)
			continue;
		if (!t->slot && s->tid == t->tid) {
			/* The old image's last records are in this slot: the new image's go on
			 * after them, in order, whatever the collector has drained so far. */
			take_slot(t, i);
			continue;
		}
		__atomic_compare_exchange_n(&s->state, &expect, HG_SLOT_RELEASED, 0,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	}
}

void hg_ring_sync(unsigned timeout_ms)
{
	uint64_t want;
	struct timespec ts = { 0, 1000000 };

	if (!hg_ring)
		return;
	/* Release: the records this thread published are ordered before the request. */
	want = __atomic_add_fetch(&hg_ring->sync_request, 1, __ATOMIC_RELEASE);
	wake_collector(); /* rather than wait out its nap */
	for (unsigned ms = 0; ms < timeout_ms; ms++) {
		if (__atomic_load_n(&hg_ring->sync_done, __ATOMIC_ACQUIRE) >= want)
			return;
		if (ms % 64 == 63 && collector_gone())
			return;
		nanosleep(&ts, NULL);
	}
}
