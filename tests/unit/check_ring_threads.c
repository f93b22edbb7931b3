/*
 * check_ring_threads.c - ring producers on threads: back-pressure, holds, many at once, sync
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"
#include "fixtures.h"
#include "ring.h"


/* ---- producer threads ------------------------------------------------------------------- */

struct producer {
	pthread_t th;
	uint32_t who;                /* index, for fx_rec_of */
	uint32_t m;                  /* records to write */
	uint32_t tid;                /* filled by the thread */
	struct hg_ring_slot *slot;   /* the slot it wrote through, NULL for the overflow slot */
	uint64_t full;               /* puts that found the slot full (back-pressure) */
	uint32_t window;             /* its slot's window when it was done */
	pthread_barrier_t *written;  /* all producers hold their slots until all have written */
	int hold;                    /* write all but the first record under hg_ring_hold */
	int done;                    /* atomic: finished */
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	p->tid = fx_gettid();
	for (uint32_t k = 0; k < p->m; k++) {
		struct hg_rec_alloc a = fx_rec_of(p->who, k);
		uint64_t used = hg_tls.head + sizeof(a) - hg_tls.tail_cache;

		if (hg_tls.slot && used > hg_tls.window)
			p->full++;
		hg_ring_put(&a, sizeof(a));
		if (k == 0 && p->hold)
			ck_assert_int_eq(hg_ring_hold(a.t_ns), 1);
	}
	if (p->hold)
		hg_ring_hold_end();
	p->slot = hg_tls.slot;
	p->window = hg_tls.window;
	if (p->written)
		pthread_barrier_wait(p->written);
	hg_ring_release_thread(0);
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Drain, pausing `pause_us` after each pass, until every producer is done and a pass after
 * that moved nothing. */
static void consume(struct producer *p, uint32_t n, long pause_us)
{
	for (;;) {
		int all_done = 1;

		for (uint32_t i = 0; i < n; i++)
			all_done &= __atomic_load_n(&p[i].done, __ATOMIC_ACQUIRE);
		/* all_done is read before the pass: the pass sees everything they published. */
		if (hg_collector_drain(fx_ring_rig.c) == 0 && all_done)
			break;
		fx_sleep_us(pause_us);
	}
	for (uint32_t i = 0; i < n; i++)
		ck_assert_int_eq(pthread_join(p[i].th, NULL), 0);
}

static void start_held(struct producer *p, uint32_t n, uint32_t m, pthread_barrier_t *written,
		       int hold)
{
	for (uint32_t i = 0; i < n; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].who = i;
		p[i].m = m;
		p[i].written = written;
		p[i].hold = hold;
		ck_assert_int_eq(pthread_create(&p[i].th, NULL, produce, &p[i]), 0);
	}
}

static void start(struct producer *p, uint32_t n, uint32_t m, pthread_barrier_t *written)
{
	start_held(p, n, m, written, 0);
}

/* ---- back-pressure ---------------------------------------------------------------------- */

/* One producer writes twelve slots' worth while the collector drains in slow passes: the
 * producer waits for room and nothing is lost or reordered. */
START_TEST(test_ring_back_pressure_slow_consumer)
{
	struct producer p;
	const uint32_t m = 20000; /* 800000 bytes through a 65536-byte slot */

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	start(&p, 1, m, NULL);
	consume(&p, 1, 2000);
	ck_assert_uint_gt(p.full, 0);
	ck_assert_uint_eq(fx_ring_rig.ring->lost_events, 0);
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	ck_assert_uint_eq(fx_count(&fx_ring_tr, HG_REC_ALLOC), m);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), p.tid, 0, m);
	ck_assert_uint_eq(fx_count(&fx_ring_tr, HG_REC_LOSS), 0);
}
END_TEST

/* ---- windows ---------------------------------------------------------------------------- */

#define SLOT_1M (1u << 20)

/* A producer the collector keeps up with writes through the first window of its slot only:
 * 40 rounds of 15/16 of that window, each drained before the next, leave the rest of the
 * 1 MiB untouched. */
START_TEST(test_ring_window_stays_small_when_drained)
{
	const uint32_t per_round = HG_RING_FIRST_WINDOW / 16 * 15 / sizeof(struct hg_rec_alloc);
	const uint32_t rounds = 40;
	struct hg_ring_slot *s;
	const uint8_t *data;
	uint32_t k = 0;

	fx_ring_open(&fx_ring_rig, 4, SLOT_1M);
	for (uint32_t r = 0; r < rounds; r++) {
		for (uint32_t j = 0; j < per_round; j++, k++) {
			struct hg_rec_alloc a = fx_rec_of(0, k);
			hg_ring_put(&a, sizeof(a));
		}
		hg_collector_drain(fx_ring_rig.c);
	}
	s = hg_tls.slot;
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(hg_tls.window, HG_RING_FIRST_WINDOW);
	ck_assert_uint_eq(s->window, HG_RING_FIRST_WINDOW);
	ck_assert_uint_eq(s->head, (uint64_t)k * sizeof(struct hg_rec_alloc));
	data = fx_slot_data(fx_ring_rig.ring, fx_slot_index(fx_ring_rig.ring, s));
	for (uint32_t i = HG_RING_FIRST_WINDOW; i < SLOT_1M; i++)
		ck_assert_uint_eq(data[i], 0);
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), fx_gettid(), 0, k);
}
END_TEST

/* A record of HG_RING_FIRST_WINDOW + 8 bytes, of a type nobody knows (the reader keeps it),
 * for the tests below: one that no first window holds. Free it. */
static struct hg_rec *record_past_first_window(void)
{
	const uint32_t big = HG_RING_FIRST_WINDOW + 8;
	uint8_t *rec = calloc(1, big);

	ck_assert_ptr_nonnull(rec);
	for (uint32_t i = 8; i < big; i++)
		rec[i] = (uint8_t)(i * 13);
	*(struct hg_rec *)rec = (struct hg_rec){ 200, 0, big };
	return (struct hg_rec *)rec;
}

/*
 * A claimed slot's window is HG_RING_FIRST_WINDOW, below even the smallest slot. A record larger
 * than the window doubles it at once (in an empty slot, as widening needs), and the collector
 * reads the record, which wraps nowhere, under the new window.
 */
START_TEST(test_ring_window_first_then_doubled_for_a_large_record)
{
	struct hg_rec_alloc a = fx_rec_of(0, 0);
	struct hg_rec *big = record_past_first_window();
	struct fx_buf want = { 0 };
	struct hg_ring_slot *s;

	ck_assert_uint_lt(HG_RING_FIRST_WINDOW, HG_RING_MIN_SLOT_BYTES);
	fx_ring_open(&fx_ring_rig, 4, SLOT_1M);
	hg_ring_put(&a, sizeof(a));
	s = hg_tls.slot;
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(hg_tls.window, HG_RING_FIRST_WINDOW);
	ck_assert_uint_eq(s->window, HG_RING_FIRST_WINDOW);
	ck_assert_uint_eq(hg_collector_drain(fx_ring_rig.c), sizeof(a));
	hg_ring_put(big, big->size_bytes);
	ck_assert_uint_eq(hg_tls.window, 2 * HG_RING_FIRST_WINDOW);
	ck_assert_uint_eq(s->window, 2 * HG_RING_FIRST_WINDOW);
	ck_assert_uint_eq(s->head, sizeof(a) + big->size_bytes);
	ck_assert_uint_eq(fx_ring_rig.ring->lost_events, 0);

	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	fx_buf_put(&want, &a, sizeof(a));
	fx_buf_put(&want, big, big->size_bytes);
	ck_assert_uint_eq(fx_expect_records(&fx_ring_tr, 0, &want, (uint32_t)getpid(), fx_gettid()),
			  2);
	fx_expect_end(&fx_ring_tr, 2, HG_END_FINAL);
	fx_buf_release(&want);
	free(big);
}
END_TEST

/* A widened slot given back and freed has no window; the next claim starts again from the
 * first one. */
START_TEST(test_ring_window_first_again_on_the_next_claim)
{
	struct hg_rec *big = record_past_first_window();
	struct hg_rec_alloc a = fx_rec_of(0, 0);
	struct hg_ring_slot *s;

	fx_ring_open(&fx_ring_rig, 4, SLOT_1M);
	hg_ring_put(big, big->size_bytes);
	s = hg_tls.slot;
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->window, 2 * HG_RING_FIRST_WINDOW);
	hg_ring_release_thread(1);
	ck_assert_uint_eq(hg_collector_drain(fx_ring_rig.c), big->size_bytes);
	ck_assert_uint_eq(__atomic_load_n(&s->state, __ATOMIC_ACQUIRE), HG_SLOT_FREE);
	ck_assert_uint_eq(s->window, 0);
	hg_ring_put(&a, sizeof(a));
	ck_assert_ptr_nonnull(hg_tls.slot);
	ck_assert_uint_eq(hg_tls.window, HG_RING_FIRST_WINDOW);
	ck_assert_uint_eq(hg_tls.slot->window, HG_RING_FIRST_WINDOW);
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	ck_assert_uint_eq(fx_count(&fx_ring_tr, 200), 1);
	ck_assert_uint_eq(fx_count(&fx_ring_tr, HG_REC_ALLOC), 1);
	free(big);
}
END_TEST

/* A producer that keeps waiting for a slow collector gets a wider window, doubled from the
 * first, and nothing is lost or reordered across the changes. */
START_TEST(test_ring_window_widens_for_a_slow_consumer)
{
	struct producer p;
	const uint32_t m = 100000; /* 4 MB through a 1 MiB slot, drained every 2 ms */
	uint32_t w;

	fx_ring_open(&fx_ring_rig, 4, SLOT_1M);
	start(&p, 1, m, NULL);
	consume(&p, 1, 2000);
	ck_assert_uint_gt(p.full, 0);
	w = p.window;
	ck_assert_uint_gt(w, HG_RING_FIRST_WINDOW);
	ck_assert_uint_le(w, SLOT_1M);
	ck_assert_uint_eq(w & (w - 1), 0);
	ck_assert_uint_eq(fx_ring_rig.ring->lost_events, 0);
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), p.tid, 0, m);
	ck_assert_uint_eq(fx_count(&fx_ring_tr, HG_REC_LOSS), 0);
}
END_TEST

/* The same under hg_ring_hold (a snapshot writing the heap's words): the producer waits as
 * often, but a burst no window keeps up with does not widen its window. */
START_TEST(test_ring_window_stays_for_a_held_burst)
{
	struct producer p;
	const uint32_t m = 100000;

	fx_ring_open(&fx_ring_rig, 4, SLOT_1M);
	start_held(&p, 1, m, NULL, 1);
	consume(&p, 1, 2000);
	ck_assert_uint_gt(p.full, 0);
	ck_assert_uint_eq(p.window, HG_RING_FIRST_WINDOW);
	ck_assert_uint_eq(fx_ring_rig.ring->lost_events, 0);
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), p.tid, 0, m);
}
END_TEST

/* The collector stopped (HG_RING_F_SHUTDOWN): a producer facing a full window gives up, counts
 * the record as lost, and does not wait forever. */
START_TEST(test_ring_full_slot_collector_gone_gives_up)
{
	struct hg_rec_alloc a = fx_rec_of(0, 0);
	uint32_t fit;

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	fit = fx_first_window(fx_ring_rig.ring) / sizeof(a); /* 16 KiB: 409, 24 bytes spare */
	for (uint32_t k = 0; k < fit; k++) {
		a = fx_rec_of(0, k);
		hg_ring_put(&a, sizeof(a));
	}
	ck_assert_uint_eq(hg_tls.slot->head, fit * sizeof(a));
	__atomic_or_fetch(&fx_ring_rig.ring->flags, HG_RING_F_SHUTDOWN, __ATOMIC_RELEASE);
	a = fx_rec_of(0, fit);
	hg_ring_put(&a, sizeof(a));
	ck_assert_uint_eq(hg_tls.slot->head, fit * sizeof(a));
	ck_assert_uint_eq(fx_ring_rig.ring->lost_events, 1);
	ck_assert_uint_eq(fx_ring_rig.ring->lost_bytes, sizeof(a));

	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), fx_gettid(), 0, fit);
	ck_assert_uint_eq(fx_count(&fx_ring_tr, HG_REC_LOSS), 1);
}
END_TEST

/*
 * hg_ring_hold keeps the slot's stall_ns at the held time until hg_ring_hold_end, even across
 * a put that waits for room (which on its own marks the wait and clears it after). Without a
 * slot of its own a thread holds nothing.
 */
START_TEST(test_ring_hold_keeps_the_horizon_until_released)
{
	struct hg_rec_alloc a = fx_rec_of(0, 0);
	uint32_t fit;

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	fit = fx_first_window(fx_ring_rig.ring) / sizeof(a);
	ck_assert_int_eq(hg_ring_hold(111), 0); /* no slot yet */
	ck_assert_int_eq(hg_tls.holding, 0);
	hg_ring_hold_end();
	/* What a thread that died holding left behind: the claim clears it. */
	for (uint32_t i = 0; i < 4; i++)
		fx_slot(fx_ring_rig.ring, i)->stall_ns = 999;
	for (uint32_t k = 0; k < fit; k++) {
		a = fx_rec_of(0, k);
		hg_ring_put(&a, sizeof(a));
	}
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 0);
	ck_assert_int_eq(hg_ring_hold(222), 1);
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 222);
	ck_assert_int_eq(hg_ring_hold(333), 0); /* held already: the earlier time stands */
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 222);
	/* Full, and the collector stopped: the put waits, gives up, and leaves the hold. */
	__atomic_or_fetch(&fx_ring_rig.ring->flags, HG_RING_F_SHUTDOWN, __ATOMIC_RELEASE);
	a = fx_rec_of(0, fit);
	hg_ring_put(&a, sizeof(a));
	ck_assert_uint_eq(fx_ring_rig.ring->lost_events, 1);
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 222);
	hg_ring_hold_end();
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 0);
	ck_assert_int_eq(hg_tls.holding, 0);
	hg_ring_hold_end(); /* nothing held: nothing changes */
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 0);
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_uint_eq(fx_slot(fx_ring_rig.ring, 1)->stall_ns, 999); /* a slot nobody claimed */
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), fx_gettid(), 0, fit);
}
END_TEST

/* A thread that gives its slot back while holding (it exits, say): the collector frees the
 * slot with the hold cleared, and the thread holds nothing any more. */
START_TEST(test_ring_hold_released_with_the_slot)
{
	struct hg_rec_alloc a = fx_rec_of(0, 0);
	struct hg_ring_slot *s;

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	hg_ring_put(&a, sizeof(a));
	s = hg_tls.slot;
	ck_assert_int_eq(hg_ring_hold(444), 1);
	hg_ring_release_thread(1);
	ck_assert_int_eq(hg_tls.holding, 0);
	hg_ring_hold_end(); /* no slot, nothing held: no effect */
	ck_assert_uint_eq(s->stall_ns, 444);
	hg_collector_drain(fx_ring_rig.c);
	ck_assert_uint_eq(__atomic_load_n(&s->state, __ATOMIC_ACQUIRE), HG_SLOT_FREE);
	ck_assert_uint_eq(s->stall_ns, 0);
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), fx_gettid(), 0, 1);
}
END_TEST

/*
 * The collector process died (its pid is gone) while its window is full: the producer gives up
 * after a bounded wait, counts the record as lost, and the program's errno is untouched by the
 * kill(2) that found the collector gone.
 */
START_TEST(test_ring_collector_died_producer_gives_up_keeps_errno)
{
	struct hg_rec_alloc a;
	uint32_t fit;

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	fit = fx_first_window(fx_ring_rig.ring) / sizeof(a);
	for (uint32_t k = 0; k < fit; k++) {
		a = fx_rec_of(0, k);
		hg_ring_put(&a, sizeof(a));
	}
	fx_ring_rig.ring->collector_pid = fx_dead_pid();
	a = fx_rec_of(0, fit);
	errno = EDOM;
	hg_ring_put(&a, sizeof(a));
	ck_assert_int_eq(errno, EDOM);
	ck_assert_uint_eq(fx_ring_rig.ring->lost_events, 1);
	ck_assert_uint_eq(hg_tls.slot->head, fit * sizeof(a));
}
END_TEST

/* ---- threads ---------------------------------------------------------------------------- */

#define N_PRODUCERS 8

/* Eight threads, fifteen slots: each thread writes through a slot of its own, every record
 * arrives exactly once and in its thread's order, and released slots go back to FREE. */
START_TEST(test_ring_threads_each_own_slot)
{
	struct producer p[N_PRODUCERS];
	pthread_barrier_t written;
	const uint32_t m = 4000;

	fx_ring_open(&fx_ring_rig, 16, FX_SLOT_64K);
	pthread_barrier_init(&written, NULL, N_PRODUCERS);
	start(p, N_PRODUCERS, m, &written);
	consume(p, N_PRODUCERS, 200);
	pthread_barrier_destroy(&written);
	for (uint32_t i = 0; i < N_PRODUCERS; i++) {
		ck_assert_ptr_nonnull(p[i].slot);
		ck_assert_uint_lt(fx_slot_index(fx_ring_rig.ring, p[i].slot), 15);
		for (uint32_t k = 0; k < i; k++) {
			ck_assert_ptr_ne(p[i].slot, p[k].slot);
			ck_assert_uint_ne(p[i].tid, p[k].tid);
		}
	}
	hg_collector_drain(fx_ring_rig.c);
	for (uint32_t i = 0; i < 15; i++) {
		ck_assert_uint_eq(fx_slot(fx_ring_rig.ring, i)->state, HG_SLOT_FREE);
		ck_assert_uint_eq(fx_slot(fx_ring_rig.ring, i)->head, 0);
		ck_assert_uint_eq(fx_slot(fx_ring_rig.ring, i)->tail, 0);
	}
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	ck_assert_uint_eq(fx_count(&fx_ring_tr, HG_REC_ALLOC), N_PRODUCERS * m);
	for (uint32_t i = 0; i < N_PRODUCERS; i++)
		fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), p[i].tid, i, m);
}
END_TEST

/*
 * Eight threads, three slots of their own: the five threads that find no free slot write
 * through the shared overflow slot, whose block carries pid 0, and every record still arrives
 * attributed to the thread that wrote it.
 */
START_TEST(test_ring_overflow_slot_keeps_origin)
{
	struct producer p[N_PRODUCERS];
	pthread_barrier_t written;
	const uint32_t m = 2000;
	uint32_t owners = 0;
	uint8_t *file;
	size_t n;

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	pthread_barrier_init(&written, NULL, N_PRODUCERS);
	start(p, N_PRODUCERS, m, &written);
	consume(p, N_PRODUCERS, 200);
	pthread_barrier_destroy(&written);
	for (uint32_t i = 0; i < N_PRODUCERS; i++)
		owners += p[i].slot != NULL;
	ck_assert_uint_eq(owners, 3);

	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	ck_assert_uint_eq(fx_count(&fx_ring_tr, HG_REC_ALLOC), N_PRODUCERS * m);
	file = fx_slurp(fx_ring_rig.trace, &n);
	for (uint32_t i = 0; i < N_PRODUCERS; i++) {
		fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), p[i].tid, i, m);
		/* Overflow threads' records sit in pid-0 blocks, behind ORIGIN records. */
		for (size_t k = 0; k < fx_ring_tr.n && !p[i].slot; k++) {
			struct hg_block_header h;
			if (fx_ring_tr.r[k].tid != p[i].tid)
				continue;
			memcpy(&h, file + fx_ring_tr.r[k].offset, sizeof(h));
			FX_REQUIRE(h.pid == 0 && h.tid == 0, "overflow record in block of %u/%u",
				   h.pid, h.tid);
		}
	}
	free(file);
}
END_TEST

/* Drain as the collector would, every 200 us, until the producer thread says it is done. */
static void drain_until(const int *done)
{
	while (!__atomic_load_n(done, __ATOMIC_ACQUIRE)) {
		hg_collector_drain(fx_ring_rig.c);
		fx_sleep_us(200);
	}
}

/*
 * A snapshot's stream when every slot is taken (slot 0 by another live thread, here ours):
 * hg_ring_hold_stream takes the overflow slot's lock and holds the horizon through its
 * stall_ns, and the stream goes there; after hg_ring_hold_end the collector clears the time
 * once it has seen the lock stay free. Once a slot is free again, the
 * next hold claims it; the records in the overflow slot are in the file before the ones in the
 * slot (the collector writes slot 0's before the overflow slot's), so they stay in order.
 */
#define STREAM_RECORDS 100

struct streamer {
	pthread_t th;
	uint32_t tid;
	struct hg_ring_slot *taken; /* the slot every other thread holds, freed half-way */
	int done;
};

static void put_run(uint32_t from)
{
	for (uint32_t k = from; k < from + STREAM_RECORDS; k++) {
		struct hg_rec_alloc a = fx_rec_of(5, k);
		hg_ring_put(&a, sizeof(a));
	}
}

static void *stream(void *arg)
{
	struct streamer *st = arg;
	struct hg_ring_slot *ov = fx_slot(fx_ring_rig.ring, 1);

	st->tid = fx_gettid();
	put_run(0); /* no slot free: the overflow slot */
	ck_assert_ptr_null(hg_tls.slot);
	ck_assert_int_eq(hg_ring_hold_stream(555), 1);
	ck_assert_int_eq(hg_tls.holding, HG_HOLD_OVERFLOW);
	ck_assert_uint_eq(__atomic_load_n(&ov->lock, __ATOMIC_ACQUIRE), st->tid);
	ck_assert_uint_eq(__atomic_load_n(&ov->stall_ns, __ATOMIC_ACQUIRE), 555);
	ck_assert_int_eq(hg_ring_hold_stream(666), 0); /* held already */
	put_run(STREAM_RECORDS);
	ck_assert_uint_eq(__atomic_load_n(&ov->lock, __ATOMIC_ACQUIRE), st->tid);
	hg_ring_hold_end();
	ck_assert_int_eq(hg_tls.holding, HG_HOLD_NONE);
	ck_assert_uint_eq(__atomic_load_n(&ov->lock, __ATOMIC_ACQUIRE), 0);
	/* The time stays until the collector has seen the lock free for a while (writers that
	 * queued behind the snapshot publish then): it clears it, in 2 ms or a little more. */
	for (int ms = 0; ms < 5000 && __atomic_load_n(&ov->stall_ns, __ATOMIC_ACQUIRE); ms++)
		fx_sleep_us(1000);
	ck_assert_uint_eq(__atomic_load_n(&ov->stall_ns, __ATOMIC_ACQUIRE), 0);
	/* The other thread gives its slot back, unused. */
	st->taken->pid = st->taken->tid = 0;
	__atomic_store_n(&st->taken->state, HG_SLOT_FREE, __ATOMIC_RELEASE);
	ck_assert_int_eq(hg_ring_hold_stream(777), 1);
	ck_assert_ptr_eq(hg_tls.slot, st->taken);
	ck_assert_int_eq(hg_tls.holding, HG_HOLD_SLOT);
	ck_assert_uint_eq(st->taken->stall_ns, 777);
	put_run(2 * STREAM_RECORDS);
	hg_ring_hold_end();
	ck_assert_uint_eq(st->taken->stall_ns, 0);
	hg_ring_release_thread(1);
	__atomic_store_n(&st->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(test_ring_snapshot_stream_without_a_slot)
{
	struct streamer st = { 0 };

	fx_ring_open(&fx_ring_rig, 2, FX_SLOT_64K);
	st.taken = fx_slot(fx_ring_rig.ring, 0);
	st.taken->pid = (uint32_t)getpid();
	st.taken->tid = fx_gettid(); /* alive: the collector leaves the slot be */
	__atomic_store_n(&st.taken->state, HG_SLOT_OWNED, __ATOMIC_RELEASE);
	ck_assert_int_eq(pthread_create(&st.th, NULL, stream, &st), 0);
	drain_until(&st.done);
	ck_assert_int_eq(pthread_join(st.th, NULL), 0);
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), st.tid, 5, 3 * STREAM_RECORDS);
}
END_TEST

/* hg_ring_sync from a producer: once it returns, the trace file holds everything the thread
 * published, followed by an END block, while the collector is still running. */
struct syncer {
	pthread_t th;
	int done;
	uint32_t tid;
};

static void *write_and_sync(void *arg)
{
	struct syncer *s = arg;

	s->tid = fx_gettid();
	for (uint32_t k = 0; k < 10; k++) {
		struct hg_rec_alloc a = fx_rec_of(3, k);
		hg_ring_put(&a, sizeof(a));
	}
	hg_ring_sync(10000);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(test_ring_sync_puts_records_on_disk)
{
	struct syncer s = { 0 };

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	ck_assert_int_eq(pthread_create(&s.th, NULL, write_and_sync, &s), 0);
	drain_until(&s.done);
	ck_assert_int_eq(pthread_join(s.th, NULL), 0);
	ck_assert_uint_eq(fx_ring_rig.ring->sync_done, 1);
	/* Read the file as it is now, before the collector finishes. */
	fx_read(fx_ring_rig.trace, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	ck_assert_uint_eq(fx_ring_tr.n, 11);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), s.tid, 3, 10);
	ck_assert_uint_eq(fx_ring_tr.r[10].rec->type, HG_REC_END);
	ck_assert_uint_eq(fx_ring_tr.r[10].rec->flags, 0);
}
END_TEST

TCase *ring_back_pressure_tcase(void)
{
	TCase *pressure = tcase_create("back_pressure");

	tcase_add_checked_fixture(pressure, fx_ring_setup, fx_ring_teardown);
	/* A hang guard only: every test finishes in well under a second. */
	tcase_set_timeout(pressure, 30);
	tcase_add_test(pressure, test_ring_back_pressure_slow_consumer);
	tcase_add_test(pressure, test_ring_full_slot_collector_gone_gives_up);
	tcase_add_test(pressure, test_ring_window_stays_small_when_drained);
	tcase_add_test(pressure, test_ring_window_first_then_doubled_for_a_large_record);
	tcase_add_test(pressure, test_ring_window_first_again_on_the_next_claim);
	tcase_add_test(pressure, test_ring_window_widens_for_a_slow_consumer);
	tcase_add_test(pressure, test_ring_window_stays_for_a_held_burst);
	tcase_add_test(pressure, test_ring_hold_keeps_the_horizon_until_released);
	tcase_add_test(pressure, test_ring_hold_released_with_the_slot);
	tcase_add_test(pressure, test_ring_collector_died_producer_gives_up_keeps_errno);
	return pressure;
}

TCase *ring_threads_tcase(void)
{
	TCase *threads = tcase_create("threads");

	tcase_add_checked_fixture(threads, fx_ring_setup, fx_ring_teardown);
	/* A hang guard only: every test finishes in well under a second. */
	tcase_set_timeout(threads, 30);
	tcase_add_test(threads, test_ring_threads_each_own_slot);
	tcase_add_test(threads, test_ring_overflow_slot_keeps_origin);
	tcase_add_test(threads, test_ring_sync_puts_records_on_disk);
	tcase_add_test(threads, test_ring_snapshot_stream_without_a_slot);
	return threads;
}
