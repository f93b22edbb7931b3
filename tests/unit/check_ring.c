/*
 * check_ring.c - unit tests for the producer side of the shared-memory ring (preload/ring.c),
 * drained by the real collector (analyzer/collector.c)
 *
 * This is the pairing `heapgraph record` sets up: the collector creates the ring file in
 * /dev/shm, and the test maps that file again, as a traced process would, and writes through
 * hg_ring_put from its own threads and from forked children. What arrives in the trace file is
 * compared with what was written, byte for byte: across the wrap of a slot's data area, under
 * back-pressure, from many threads at once, through the shared overflow slot, and from a
 * producer that died half-way through a record.
 *
 * ring.c needs three symbols of lifecycle.c. lifecycle.o must not be linked in (its
 * constructor starts tracing), so this file defines test doubles for them; should the link
 * ever pull the real lifecycle.o in, the duplicate symbols make that a link error.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "fixtures.h"
#include "lifecycle.h"
#include "ring.h"

/* ---- test doubles for lifecycle.c ------------------------------------------------------- */

/* The pid ring.c writes into slot headers and ORIGIN records; tests set it to getpid(). */
uint32_t hg_self_pid;

/* The producer gave up (collector gone): tracing would stop. Nothing to do in a test. */
void hg_disable(const char *why)
{
	(void)why;
}

/* A thread claimed a slot: the shim would arrange to release it at thread exit. The tests
 * release slots explicitly with hg_ring_release_thread. */
void hg_thread_register_exit(void)
{
}

/* ---- fixture ---------------------------------------------------------------------------- */

#define SLOT_64K HG_RING_MIN_SLOT_BYTES

static struct fx_rig rig;
static struct fx_trace tr;

static void setup(void)
{
	memset(&rig, 0, sizeof(rig));
	memset(&tr, 0, sizeof(tr));
}

static void teardown(void)
{
	hg_ring_forget_thread();
	hg_ring_attach(NULL);
	fx_trace_release(&tr);
	fx_rig_close(&rig);
}

/* A collector with a ring of this shape, and this thread attached to it as a producer. */
static void open_ring(uint32_t n_slots, uint32_t slot_bytes)
{
	fx_rig_open(&rig, n_slots, slot_bytes, 0);
	hg_self_pid = (uint32_t)getpid();
	hg_ring_forget_thread();
	hg_ring_attach(rig.ring);
}

/* Record `seq` of producer `who`: every field derived from both, so any mix-up shows. */
static struct hg_rec_alloc rec_of(uint32_t who, uint32_t seq)
{
	struct hg_rec_alloc a;

	memset(&a, 0, sizeof(a));
	a.hdr = (struct hg_rec){ HG_REC_ALLOC, 0, sizeof(a) };
	a.t_ns = 1000000ull * who + seq;
	a.addr = ((uint64_t)(who + 1) << 32) | seq;
	a.size_bytes = seq % 1000 + who;
	a.stack_id = who + 1;
	a.fn = (uint8_t)(seq % HG_FN_MAX);
	return a;
}

/*
 * The ALLOC records of the trace from (pid, tid) are exactly rec_of(who, 0 .. m-1), in order.
 */
static void expect_sequence(const struct fx_trace *t, uint32_t pid, uint32_t tid, uint32_t who,
			    uint32_t m)
{
	uint32_t seq = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct hg_rec_alloc want;

		if (t->r[i].pid != pid || t->r[i].tid != tid)
			continue;
		FX_REQUIRE(t->r[i].rec->type == HG_REC_ALLOC, "record %zu of %u/%u has type %u",
			   i, pid, tid, t->r[i].rec->type);
		want = rec_of(who, seq);
		FX_REQUIRE(seq < m, "producer %u: more than %u records", who, m);
		FX_REQUIRE(memcmp(t->r[i].rec, &want, sizeof(want)) == 0,
			   "producer %u: record %zu is not record %u", who, i, seq);
		seq++;
	}
	ck_assert_msg(seq == m, "producer %u (tid %u): %u records arrived, %u written", who, tid,
		      seq, m);
}

static uint32_t slot_index(const struct hg_ring_slot *s)
{
	return (uint32_t)(s - fx_slot(rig.ring, 0));
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* ---- layout ----------------------------------------------------------------------------- */

static struct hg_ring_header *anon_ring(uint32_t n_slots, uint32_t slot_bytes, size_t *bytes)
{
	void *p;

	*bytes = hg_ring_file_bytes(n_slots, slot_bytes);
	p = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	hg_ring_header_init(p, n_slots, slot_bytes, 1234, 32, NULL);
	return p;
}

START_TEST(test_ring_header_init_layout)
{
	size_t bytes;
	struct hg_ring_header *r = anon_ring(3, SLOT_64K, &bytes);
	struct hg_ring_header saved = *r;

	ck_assert_uint_eq(bytes, 8192 + 3 * SLOT_64K); /* 4096 + 3 * 128, rounded to a page */
	ck_assert_uint_eq(r->magic, HG_RING_MAGIC);
	ck_assert_uint_eq(r->version, HG_RING_VERSION);
	ck_assert_uint_eq(r->n_slots, 3);
	ck_assert_uint_eq(r->slot_bytes, SLOT_64K);
	ck_assert_uint_eq(r->collector_pid, 1234);
	ck_assert_uint_eq(r->data_offset, 8192);
	ck_assert_uint_eq(r->max_frames, 32);
	ck_assert_uint_eq(r->flags, 0);
	ck_assert_uint_eq(hg_ring_data_offset(HG_RING_MAX_SLOTS), 4096 + 4096 * 128);
	ck_assert_int_eq(hg_ring_header_valid(r, bytes), 1);
	ck_assert_int_eq(hg_ring_header_valid(r, bytes + 4096), 1);
	ck_assert_int_eq(hg_ring_header_valid(r, bytes - 1), 0);
	ck_assert_int_eq(hg_ring_header_valid(r, 4095), 0);
	r->n_slots = 1;
	ck_assert_int_eq(hg_ring_header_valid(r, bytes), 0);
	*r = saved;
	r->slot_bytes = 3 * 16384; /* not a power of two */
	ck_assert_int_eq(hg_ring_header_valid(r, bytes), 0);
	r->slot_bytes = SLOT_64K / 2; /* below the minimum */
	ck_assert_int_eq(hg_ring_header_valid(r, bytes), 0);
	*r = saved;
	r->version = HG_RING_VERSION + 1;
	ck_assert_int_eq(hg_ring_header_valid(r, bytes), 0);
	*r = saved;
	r->data_offset += 4096;
	ck_assert_int_eq(hg_ring_header_valid(r, bytes), 0);
	*r = saved;
	r->magic ^= 1;
	ck_assert_int_eq(hg_ring_header_valid(r, bytes), 0);
	munmap(r, bytes);
}
END_TEST

/* The creator's clock is in the header before the magic, and a producer that attaches reads
 * its times from it; detached, CLOCK_MONOTONIC. */
START_TEST(test_ring_clock_travels_with_the_header)
{
	struct hg_ring_clock clock = { .tsc_base = 11, .ns_base = 22, .mult = 33 };
	size_t bytes = hg_ring_file_bytes(2, SLOT_64K);
	struct hg_ring_header *r = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(r, MAP_FAILED);
	hg_ring_header_init(r, 2, SLOT_64K, 1, 0, &clock);
	ck_assert_mem_eq(&r->clock, &clock, sizeof(clock));
	ck_assert_uint_eq(offsetof(struct hg_ring_header, clock), 360);
	hg_ring_attach(r);
	ck_assert_mem_eq(&hg_clock, &clock, sizeof(clock));
	hg_ring_attach(NULL);
	ck_assert_uint_eq(hg_clock.mult, 0);
	ck_assert_uint_eq(hg_clock.tsc_base, 0);
	munmap(r, bytes);
	r = anon_ring(2, SLOT_64K, &bytes); /* no clock given: zeros */
	ck_assert_uint_eq(r->clock.mult, 0);
	ck_assert_uint_eq(r->clock.ns_base, 0);
	munmap(r, bytes);
}
END_TEST

/* A ring in any shared mapping works: a forked child writes, the parent sees the slot. */
START_TEST(test_ring_anonymous_shared_mapping_across_fork)
{
	size_t bytes;
	struct hg_ring_header *r = anon_ring(2, SLOT_64K, &bytes);
	struct hg_rec_alloc a[3];
	struct hg_ring_slot *s = fx_slot(r, 0);
	int status;
	pid_t pid;

	for (uint32_t k = 0; k < 3; k++)
		a[k] = rec_of(5, k);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		hg_self_pid = (uint32_t)getpid();
		hg_tls.tid = fx_gettid();
		hg_ring_forget_thread();
		hg_ring_attach(r);
		hg_ring_put(&a[0], sizeof(a[0]));     /* claims: the slow path */
		hg_ring_put(&a[1], sizeof(a[1]));     /* the fast path */
		hg_ring_put_slow(&a[2], sizeof(a[2])); /* the slow path with a slot */
		_exit(hg_tls.slot == s ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(s->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(s->pid, (uint32_t)pid);
	ck_assert_uint_eq(s->tid, (uint32_t)pid);
	ck_assert_uint_eq(s->head, sizeof(a));
	ck_assert_mem_eq(fx_slot_data(r, 0), a, sizeof(a));
	ck_assert_uint_eq(fx_slot(r, 1)->head, 0);
	ck_assert_uint_eq(r->lost_events, 0);
	munmap(r, bytes);
}
END_TEST

/* ---- one producer ----------------------------------------------------------------------- */

START_TEST(test_ring_first_put_claims_slot)
{
	struct hg_rec_alloc a = rec_of(0, 0);
	const struct hg_collector_stats *st;
	struct hg_ring_slot *s;
	uint32_t i;

	open_ring(4, SLOT_64K);
	ck_assert_ptr_null(hg_tls.slot);
	hg_ring_put(&a, sizeof(a));
	s = hg_tls.slot;
	ck_assert_ptr_nonnull(s);
	i = slot_index(s);
	ck_assert_uint_lt(i, 3); /* never the overflow slot */
	ck_assert_uint_eq(s->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(s->pid, (uint32_t)getpid());
	ck_assert_uint_eq(s->tid, fx_gettid());
	ck_assert_uint_eq(s->head, sizeof(a));
	ck_assert_uint_eq(s->tail, 0);
	ck_assert_mem_eq(fx_slot_data(rig.ring, i), &a, sizeof(a));

	ck_assert_uint_eq(hg_collector_drain(rig.c), sizeof(a));
	ck_assert_uint_eq(s->tail, sizeof(a));
	ck_assert_uint_eq(s->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(hg_collector_drain(rig.c), 0);

	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 2);
	expect_sequence(&tr, (uint32_t)getpid(), fx_gettid(), 0, 1);
	ck_assert_uint_eq(tr.r[1].rec->type, HG_REC_END);
	st = hg_collector_stats(rig.c);
	ck_assert_uint_eq(st->n_records, 1);
	ck_assert_uint_eq(st->n_allocs, 1);
	ck_assert_uint_eq(st->raw_bytes, sizeof(a));
	ck_assert_uint_eq(st->lost_events, 0);
}
END_TEST

/*
 * Records of many sizes, ten slots' worth through one 64 KiB slot, drained whenever half the
 * slot is in use: many of them straddle the end of the data area. All arrive byte for byte.
 */
START_TEST(test_ring_wraparound_byte_exact)
{
	struct fx_buf all = { 0 };
	uint64_t ip[64], head = 0, drained = 0;
	uint32_t straddling = 0, n = 0;
	size_t off = 0;

	open_ring(4, SLOT_64K);
	while (head < 10ull * SLOT_64K) {
		uint32_t frames = (n * 7) % 41, size = 16 + 8 * frames;
		struct hg_rec_stack *rec;
		size_t at;

		for (uint32_t f = 0; f < frames; f++)
			ip[f] = ((uint64_t)n << 16) | f;
		at = fx_stack(&all, n + 1, frames, ip);
		rec = (struct hg_rec_stack *)(all.p + at);
		if (head + size - drained > SLOT_64K / 2) {
			drained += hg_collector_drain(rig.c);
			ck_assert_uint_eq(drained, head);
		}
		straddling += head % SLOT_64K + size > SLOT_64K;
		hg_ring_put(rec, size);
		head += size;
		n++;
	}
	ck_assert_uint_ge(straddling, 9);
	ck_assert_uint_eq(hg_tls.slot->head, head);

	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, n + 1);
	for (uint32_t i = 0; i < n; i++) {
		const struct hg_rec *want = (const struct hg_rec *)(all.p + off);

		FX_REQUIRE(tr.r[i].rec->size_bytes == want->size_bytes &&
				   memcmp(tr.r[i].rec, want, want->size_bytes) == 0,
			   "record %u differs", i);
		FX_REQUIRE(tr.r[i].pid == (uint32_t)getpid() && tr.r[i].tid == fx_gettid(),
			   "record %u from %u/%u", i, tr.r[i].pid, tr.r[i].tid);
		off += want->size_bytes;
	}
	fx_buf_release(&all);
}
END_TEST

/* A record that cannot fit a slot (with room for an ORIGIN) is counted, never written. */
START_TEST(test_ring_record_too_big_is_counted_lost)
{
	const uint32_t too_big = SLOT_64K - 8, just_fits = SLOT_64K - 16;
	uint8_t *rec = calloc(1, SLOT_64K);
	struct hg_rec *h = (struct hg_rec *)rec;
	const struct hg_rec_loss *loss = NULL;

	ck_assert_ptr_nonnull(rec);
	for (uint32_t i = 8; i < SLOT_64K; i++)
		rec[i] = (uint8_t)(i * 13);
	open_ring(4, SLOT_64K);
	*h = (struct hg_rec){ 200, 0, too_big }; /* a type nobody knows: the reader skips it */
	hg_ring_put(rec, too_big);
	ck_assert_ptr_null(hg_tls.slot);
	ck_assert_uint_eq(rig.ring->lost_events, 1);
	ck_assert_uint_eq(rig.ring->lost_bytes, too_big);

	h->size_bytes = just_fits;
	hg_ring_put(rec, just_fits);
	ck_assert_ptr_nonnull(hg_tls.slot);
	ck_assert_uint_eq(hg_tls.slot->head, just_fits);
	ck_assert_uint_eq(rig.ring->lost_events, 1);

	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 3);
	ck_assert_uint_eq(tr.r[0].rec->size_bytes, just_fits);
	ck_assert_mem_eq(tr.r[0].rec, rec, just_fits);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_LOSS), 1);
	for (size_t i = 0; i < tr.n; i++)
		if (tr.r[i].rec->type == HG_REC_LOSS)
			loss = (const struct hg_rec_loss *)tr.r[i].rec;
	ck_assert_uint_eq(loss->n_events, 1);
	ck_assert_uint_eq(loss->n_bytes, too_big);
	ck_assert_uint_eq(loss->pid, 0);
	ck_assert_uint_eq(hg_collector_stats(rig.c)->lost_events, 1);
	free(rec);
}
END_TEST

/* ---- threads ---------------------------------------------------------------------------- */

struct producer {
	pthread_t th;
	uint32_t who;                /* index, for rec_of */
	uint32_t m;                  /* records to write */
	uint32_t tid;                /* filled by the thread */
	struct hg_ring_slot *slot;   /* the slot it wrote through, NULL for the overflow slot */
	uint64_t full;               /* puts that found the slot full (back-pressure) */
	pthread_barrier_t *written;  /* all producers hold their slots until all have written */
	int done;                    /* atomic: finished */
};

static void *produce(void *arg)
{
	struct producer *p = arg;

	p->tid = fx_gettid();
	for (uint32_t k = 0; k < p->m; k++) {
		struct hg_rec_alloc a = rec_of(p->who, k);
		uint64_t used = hg_tls.head + sizeof(a) - hg_tls.tail_cache;

		if (hg_tls.slot && used > hg_ring->slot_bytes)
			p->full++;
		hg_ring_put(&a, sizeof(a));
	}
	p->slot = hg_tls.slot;
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
		if (hg_collector_drain(rig.c) == 0 && all_done)
			break;
		sleep_us(pause_us);
	}
	for (uint32_t i = 0; i < n; i++)
		ck_assert_int_eq(pthread_join(p[i].th, NULL), 0);
}

static void start(struct producer *p, uint32_t n, uint32_t m, pthread_barrier_t *written)
{
	for (uint32_t i = 0; i < n; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].who = i;
		p[i].m = m;
		p[i].written = written;
		ck_assert_int_eq(pthread_create(&p[i].th, NULL, produce, &p[i]), 0);
	}
}

/* One producer writes twelve slots' worth while the collector drains in slow passes: the
 * producer waits for room and nothing is lost or reordered. */
START_TEST(test_ring_back_pressure_slow_consumer)
{
	struct producer p;
	const uint32_t m = 20000; /* 800000 bytes through a 65536-byte slot */

	open_ring(4, SLOT_64K);
	start(&p, 1, m, NULL);
	consume(&p, 1, 2000);
	ck_assert_uint_gt(p.full, 0);
	ck_assert_uint_eq(rig.ring->lost_events, 0);
	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_ALLOC), m);
	expect_sequence(&tr, (uint32_t)getpid(), p.tid, 0, m);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_LOSS), 0);
}
END_TEST

#define N_PRODUCERS 8

/* Eight threads, fifteen slots: each thread writes through a slot of its own, every record
 * arrives exactly once and in its thread's order, and released slots go back to FREE. */
START_TEST(test_ring_threads_each_own_slot)
{
	struct producer p[N_PRODUCERS];
	pthread_barrier_t written;
	const uint32_t m = 4000;

	open_ring(16, SLOT_64K);
	pthread_barrier_init(&written, NULL, N_PRODUCERS);
	start(p, N_PRODUCERS, m, &written);
	consume(p, N_PRODUCERS, 200);
	pthread_barrier_destroy(&written);
	for (uint32_t i = 0; i < N_PRODUCERS; i++) {
		ck_assert_ptr_nonnull(p[i].slot);
		ck_assert_uint_lt(slot_index(p[i].slot), 15);
		for (uint32_t k = 0; k < i; k++) {
			ck_assert_ptr_ne(p[i].slot, p[k].slot);
			ck_assert_uint_ne(p[i].tid, p[k].tid);
		}
	}
	hg_collector_drain(rig.c);
	for (uint32_t i = 0; i < 15; i++) {
		ck_assert_uint_eq(fx_slot(rig.ring, i)->state, HG_SLOT_FREE);
		ck_assert_uint_eq(fx_slot(rig.ring, i)->head, 0);
		ck_assert_uint_eq(fx_slot(rig.ring, i)->tail, 0);
	}
	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_ALLOC), N_PRODUCERS * m);
	for (uint32_t i = 0; i < N_PRODUCERS; i++)
		expect_sequence(&tr, (uint32_t)getpid(), p[i].tid, i, m);
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

	open_ring(4, SLOT_64K);
	pthread_barrier_init(&written, NULL, N_PRODUCERS);
	start(p, N_PRODUCERS, m, &written);
	consume(p, N_PRODUCERS, 200);
	pthread_barrier_destroy(&written);
	for (uint32_t i = 0; i < N_PRODUCERS; i++)
		owners += p[i].slot != NULL;
	ck_assert_uint_eq(owners, 3);

	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_ALLOC), N_PRODUCERS * m);
	file = fx_slurp(rig.trace, &n);
	for (uint32_t i = 0; i < N_PRODUCERS; i++) {
		expect_sequence(&tr, (uint32_t)getpid(), p[i].tid, i, m);
		/* Overflow threads' records sit in pid-0 blocks, behind ORIGIN records. */
		for (size_t k = 0; k < tr.n && !p[i].slot; k++) {
			struct hg_block_header h;
			if (tr.r[k].tid != p[i].tid)
				continue;
			memcpy(&h, file + tr.r[k].offset, sizeof(h));
			FX_REQUIRE(h.pid == 0 && h.tid == 0, "overflow record in block of %u/%u",
				   h.pid, h.tid);
		}
	}
	free(file);
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
		struct hg_rec_alloc a = rec_of(3, k);
		hg_ring_put(&a, sizeof(a));
	}
	hg_ring_sync(10000);
	__atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(test_ring_sync_puts_records_on_disk)
{
	struct syncer s = { 0 };

	open_ring(4, SLOT_64K);
	ck_assert_int_eq(pthread_create(&s.th, NULL, write_and_sync, &s), 0);
	while (!__atomic_load_n(&s.done, __ATOMIC_ACQUIRE)) {
		hg_collector_drain(rig.c);
		sleep_us(200);
	}
	ck_assert_int_eq(pthread_join(s.th, NULL), 0);
	ck_assert_uint_eq(rig.ring->sync_done, 1);
	/* Read the file as it is now, before the collector finishes. */
	fx_read(rig.trace, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 11);
	expect_sequence(&tr, (uint32_t)getpid(), s.tid, 3, 10);
	ck_assert_uint_eq(tr.r[10].rec->type, HG_REC_END);
	ck_assert_uint_eq(tr.r[10].rec->flags, 0);
}
END_TEST

/* ---- processes -------------------------------------------------------------------------- */

#define K_DEAD 100

/* Child: write K_DEAD records, then half of one more without publishing it, and die. */
static void die_mid_record(void)
{
	struct hg_rec_alloc a;

	/* What the shim's atfork child handler does. */
	hg_self_pid = (uint32_t)getpid();
	hg_tls.tid = fx_gettid();
	hg_ring_forget_thread();
	for (uint32_t k = 0; k < K_DEAD; k++) {
		a = rec_of(9, k);
		hg_ring_put(&a, sizeof(a));
	}
	if (!hg_tls.slot || hg_tls.slot->head != K_DEAD * sizeof(a))
		_exit(3);
	/* The copy without the release store of head: what a kill between the two leaves. */
	a = rec_of(9, K_DEAD);
	hg_ring_copy_in(hg_tls.data, hg_ring->slot_bytes, hg_tls.head, &a, sizeof(a) / 2);
	_exit(0);
}

/*
 * _i = 0: the dead child has been reaped; _i = 1: it is a zombie (exited, not yet waited
 * for). Either way the collector sees that the slot's owner is gone, drains what it
 * published, frees the slot and does not wait for the half-written record.
 */
START_TEST(test_ring_dead_producer_slot_reclaimed)
{
	struct hg_ring_slot *s = NULL;
	siginfo_t si;
	int status;
	pid_t pid;

	open_ring(4, SLOT_64K);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		die_mid_record();
	if (_i == 0) {
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	} else {
		memset(&si, 0, sizeof(si));
		ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
		ck_assert_int_eq(si.si_status, 0);
	}
	for (uint32_t i = 0; i < 3; i++)
		if (fx_slot(rig.ring, i)->pid == (uint32_t)pid)
			s = fx_slot(rig.ring, i);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(s->head, K_DEAD * sizeof(struct hg_rec_alloc));

	/* The collector checks owners every 100 ms; give it up to 10 s. */
	for (int round = 0; round < 1000 && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) !=
						      HG_SLOT_FREE; round++) {
		hg_collector_drain(rig.c);
		sleep_us(10000);
	}
	ck_assert_uint_eq(s->state, HG_SLOT_FREE);
	ck_assert_uint_eq(s->head, 0);
	ck_assert_uint_eq(s->tail, 0);

	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, K_DEAD + 1);
	expect_sequence(&tr, (uint32_t)pid, (uint32_t)pid, 9, K_DEAD);
	if (_i == 1)
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

/* The collector stopped (HG_RING_F_SHUTDOWN): a producer facing a full slot gives up, counts
 * the record as lost, and does not wait forever. */
START_TEST(test_ring_full_slot_collector_gone_gives_up)
{
	struct hg_rec_alloc a = rec_of(0, 0);
	const uint32_t fit = SLOT_64K / sizeof(a); /* 1638 records, 16 bytes spare */

	open_ring(4, SLOT_64K);
	for (uint32_t k = 0; k < fit; k++) {
		a = rec_of(0, k);
		hg_ring_put(&a, sizeof(a));
	}
	ck_assert_uint_eq(hg_tls.slot->head, fit * sizeof(a));
	__atomic_or_fetch(&rig.ring->flags, HG_RING_F_SHUTDOWN, __ATOMIC_RELEASE);
	a = rec_of(0, fit);
	hg_ring_put(&a, sizeof(a));
	ck_assert_uint_eq(hg_tls.slot->head, fit * sizeof(a));
	ck_assert_uint_eq(rig.ring->lost_events, 1);
	ck_assert_uint_eq(rig.ring->lost_bytes, sizeof(a));

	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	expect_sequence(&tr, (uint32_t)getpid(), fx_gettid(), 0, fit);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_LOSS), 1);
}
END_TEST

/*
 * hg_ring_hold keeps the slot's stall_ns at the held time until hg_ring_hold_end, even across
 * a put that waits for room (which on its own marks the wait and clears it after). Without a
 * slot of its own a thread holds nothing.
 */
START_TEST(test_ring_hold_keeps_the_horizon_until_released)
{
	struct hg_rec_alloc a = rec_of(0, 0);
	const uint32_t fit = SLOT_64K / sizeof(a);

	open_ring(4, SLOT_64K);
	ck_assert_int_eq(hg_ring_hold(111), 0); /* no slot yet */
	ck_assert_int_eq(hg_tls.holding, 0);
	hg_ring_hold_end();
	/* What a thread that died holding left behind: the claim clears it. */
	for (uint32_t i = 0; i < 4; i++)
		fx_slot(rig.ring, i)->stall_ns = 999;
	for (uint32_t k = 0; k < fit; k++) {
		a = rec_of(0, k);
		hg_ring_put(&a, sizeof(a));
	}
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 0);
	ck_assert_int_eq(hg_ring_hold(222), 1);
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 222);
	ck_assert_int_eq(hg_ring_hold(333), 0); /* held already: the earlier time stands */
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 222);
	/* Full, and the collector stopped: the put waits, gives up, and leaves the hold. */
	__atomic_or_fetch(&rig.ring->flags, HG_RING_F_SHUTDOWN, __ATOMIC_RELEASE);
	a = rec_of(0, fit);
	hg_ring_put(&a, sizeof(a));
	ck_assert_uint_eq(rig.ring->lost_events, 1);
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 222);
	hg_ring_hold_end();
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 0);
	ck_assert_int_eq(hg_tls.holding, 0);
	hg_ring_hold_end(); /* nothing held: nothing changes */
	ck_assert_uint_eq(hg_tls.slot->stall_ns, 0);
	fx_rig_finish(&rig, &tr);
	ck_assert_uint_eq(fx_slot(rig.ring, 1)->stall_ns, 999); /* a slot nobody claimed */
	ck_assert_int_eq(tr.rc, 0);
	expect_sequence(&tr, (uint32_t)getpid(), fx_gettid(), 0, fit);
}
END_TEST

/* A thread that gives its slot back while holding (it exits, say): the collector frees the
 * slot with the hold cleared, and the thread holds nothing any more. */
START_TEST(test_ring_hold_released_with_the_slot)
{
	struct hg_rec_alloc a = rec_of(0, 0);
	struct hg_ring_slot *s;

	open_ring(4, SLOT_64K);
	hg_ring_put(&a, sizeof(a));
	s = hg_tls.slot;
	ck_assert_int_eq(hg_ring_hold(444), 1);
	hg_ring_release_thread(1);
	ck_assert_int_eq(hg_tls.holding, 0);
	hg_ring_hold_end(); /* no slot, nothing held: no effect */
	ck_assert_uint_eq(s->stall_ns, 444);
	hg_collector_drain(rig.c);
	ck_assert_uint_eq(__atomic_load_n(&s->state, __ATOMIC_ACQUIRE), HG_SLOT_FREE);
	ck_assert_uint_eq(s->stall_ns, 0);
	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	expect_sequence(&tr, (uint32_t)getpid(), fx_gettid(), 0, 1);
}
END_TEST

/* A pid (and main-thread tid) that no longer exists: a child that exited and was reaped. */
static uint32_t dead_pid(void)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return (uint32_t)pid;
}

/*
 * The collector process died (its pid is gone) while the slot is full: the producer gives up
 * after a bounded wait, counts the record as lost, and the program's errno is untouched by the
 * kill(2) that found the collector gone.
 */
START_TEST(test_ring_collector_died_producer_gives_up_keeps_errno)
{
	struct hg_rec_alloc a;
	const uint32_t fit = SLOT_64K / sizeof(a);

	open_ring(4, SLOT_64K);
	for (uint32_t k = 0; k < fit; k++) {
		a = rec_of(0, k);
		hg_ring_put(&a, sizeof(a));
	}
	rig.ring->collector_pid = dead_pid();
	a = rec_of(0, fit);
	errno = EDOM;
	hg_ring_put(&a, sizeof(a));
	ck_assert_int_eq(errno, EDOM);
	ck_assert_uint_eq(rig.ring->lost_events, 1);
	ck_assert_uint_eq(hg_tls.slot->head, fit * sizeof(a));
}
END_TEST

/*
 * The overflow slot's lock holds its holder's tid. A holder that died with the lock held (here:
 * a reaped child's tid left in the lock word) does not block the other writers for ever: a
 * waiter takes the lock over and writes.
 */
START_TEST(test_ring_overflow_lock_taken_over_from_dead_holder)
{
	struct hg_ring_slot *over, *only;
	struct hg_rec_alloc a = rec_of(6, 0);

	open_ring(2, SLOT_64K);
	only = fx_slot(rig.ring, 0);
	over = fx_slot(rig.ring, 1);
	/* The one ordinary slot is taken by a live thread (this one, as far as the ring knows). */
	only->pid = (uint32_t)getpid();
	only->tid = fx_gettid();
	__atomic_store_n(&only->state, HG_SLOT_OWNED, __ATOMIC_RELEASE);
	__atomic_store_n(&over->lock, dead_pid(), __ATOMIC_RELEASE);
	hg_ring_put(&a, sizeof(a));
	ck_assert_ptr_null(hg_tls.slot);
	ck_assert_uint_eq(over->lock, 0);
	ck_assert_uint_eq(over->head, sizeof(struct hg_rec_origin) + sizeof(a));
	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	expect_sequence(&tr, (uint32_t)getpid(), fx_gettid(), 6, 1);
}
END_TEST

/*
 * exec: the slot this thread (exec keeps its tid) owned under the old image is its own again,
 * the new image's records going on after the old one's; the pid's other slots (threads exec
 * ended) go back to the collector; other pids' stay.
 */
START_TEST(test_ring_adopt_pid_keeps_own_slot)
{
	struct hg_ring_slot *s0, *s1, *s2;
	struct hg_rec_free f = { { HG_REC_FREE, 0, sizeof(f) }, 7, 0x1000 };
	uint32_t tid = hg_tls.tid;

	open_ring(4, SLOT_64K);
	s0 = fx_slot(rig.ring, 0);
	s1 = fx_slot(rig.ring, 1);
	s2 = fx_slot(rig.ring, 2);
	*s0 = (struct hg_ring_slot){ .state = HG_SLOT_OWNED, .pid = 4242, .tid = 1 };
	*s1 = (struct hg_ring_slot){ .state = HG_SLOT_OWNED, .pid = 4243, .tid = 2 };
	*s2 = (struct hg_ring_slot){ .state = HG_SLOT_OWNED, .pid = 4242, .tid = 3, .head = 128,
				     .tail = 64 };
	hg_tls.tid = 3;
	hg_ring_adopt_pid(4242);
	ck_assert_uint_eq(s0->state, HG_SLOT_RELEASED);
	ck_assert_uint_eq(s1->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(s2->state, HG_SLOT_OWNED);
	ck_assert_ptr_eq(hg_tls.slot, s2);
	hg_ring_put(&f, sizeof(f));
	ck_assert_uint_eq(s2->head, 128 + sizeof(f));
	ck_assert_uint_eq(s0->head, 0);
	hg_ring_forget_thread();
	hg_tls.tid = tid;
}
END_TEST

Suite *ring_suite(void);

Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *layout = tcase_create("layout");
	TCase *one = tcase_create("single_producer");
	TCase *pressure = tcase_create("back_pressure");
	TCase *threads = tcase_create("threads");
	TCase *procs = tcase_create("processes");
	TCase *all[] = { layout, one, pressure, threads, procs };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		/* A hang guard only: every test finishes in well under a second. */
		tcase_set_timeout(all[i], 30);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(layout, test_ring_header_init_layout);
	tcase_add_test(layout, test_ring_anonymous_shared_mapping_across_fork);
	tcase_add_test(layout, test_ring_clock_travels_with_the_header);
	tcase_add_test(one, test_ring_first_put_claims_slot);
	tcase_add_test(one, test_ring_wraparound_byte_exact);
	tcase_add_test(one, test_ring_record_too_big_is_counted_lost);
	tcase_add_test(pressure, test_ring_back_pressure_slow_consumer);
	tcase_add_test(pressure, test_ring_full_slot_collector_gone_gives_up);
	tcase_add_test(pressure, test_ring_hold_keeps_the_horizon_until_released);
	tcase_add_test(pressure, test_ring_hold_released_with_the_slot);
	tcase_add_test(pressure, test_ring_collector_died_producer_gives_up_keeps_errno);
	tcase_add_test(threads, test_ring_threads_each_own_slot);
	tcase_add_test(threads, test_ring_overflow_slot_keeps_origin);
	tcase_add_test(threads, test_ring_sync_puts_records_on_disk);
	tcase_add_loop_test(procs, test_ring_dead_producer_slot_reclaimed, 0, 2);
	tcase_add_test(procs, test_ring_adopt_pid_keeps_own_slot);
	tcase_add_test(procs, test_ring_overflow_lock_taken_over_from_dead_holder);
	return s;
}
