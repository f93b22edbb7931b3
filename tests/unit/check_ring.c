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
 * The layout of the ring and a single producer are tested here; back-pressure and many threads
 * in check_ring_threads.c, producers in other processes in check_ring_processes.c.
 *
 * ring.c needs three symbols of lifecycle.c. lifecycle.o must not be linked in (its
 * constructor starts tracing), so this file defines test doubles for them; should the link
 * ever pull the real lifecycle.o in, the duplicate symbols make that a link error.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector.h"
#include "fixtures.h"
#include "lifecycle.h"
#include "ring.h"

/* ---- test doubles for lifecycle.c ------------------------------------------------------- */

/* The pid ring.c writes into slot headers and ORIGIN records; tests set it to getpid(). */
uint32_t hg_self_pid;

/* Tracing runs (ring.c drops records at once once it is HG_DISABLED). */
int hg_state = HG_ACTIVE;

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
	struct hg_ring_header *r = anon_ring(3, FX_SLOT_64K, &bytes);
	struct hg_ring_header saved = *r;

	ck_assert_uint_eq(bytes, 8192 + 3 * FX_SLOT_64K); /* 4096 + 3 * 128, rounded to a page */
	ck_assert_uint_eq(r->magic, HG_RING_MAGIC);
	ck_assert_uint_eq(r->version, HG_RING_VERSION);
	ck_assert_uint_eq(r->n_slots, 3);
	ck_assert_uint_eq(r->slot_bytes, FX_SLOT_64K);
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
	r->slot_bytes = FX_SLOT_64K / 2; /* below the minimum */
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
	size_t bytes = hg_ring_file_bytes(2, FX_SLOT_64K);
	struct hg_ring_header *r = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
					MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(r, MAP_FAILED);
	hg_ring_header_init(r, 2, FX_SLOT_64K, 1, 0, &clock);
	ck_assert_mem_eq(&r->clock, &clock, sizeof(clock));
	ck_assert_uint_eq(offsetof(struct hg_ring_header, clock), 360);
	hg_ring_attach(r);
	ck_assert_mem_eq(&hg_clock, &clock, sizeof(clock));
	hg_ring_attach(NULL);
	ck_assert_uint_eq(hg_clock.mult, 0);
	ck_assert_uint_eq(hg_clock.tsc_base, 0);
	munmap(r, bytes);
	r = anon_ring(2, FX_SLOT_64K, &bytes); /* no clock given: zeros */
	ck_assert_uint_eq(r->clock.mult, 0);
	ck_assert_uint_eq(r->clock.ns_base, 0);
	munmap(r, bytes);
}
END_TEST

/* A ring in any shared mapping works: a forked child writes, the parent sees the slot. */
START_TEST(test_ring_anonymous_shared_mapping_across_fork)
{
	size_t bytes;
	struct hg_ring_header *r = anon_ring(2, FX_SLOT_64K, &bytes);
	struct hg_rec_alloc a[3];
	struct hg_ring_slot *s = fx_slot(r, 0);
	int status;
	pid_t pid;

	for (uint32_t k = 0; k < 3; k++)
		a[k] = fx_rec_of(5, k);
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
	struct hg_rec_alloc a = fx_rec_of(0, 0);
	const struct hg_collector_stats *st;
	struct hg_ring_slot *s;
	uint32_t i;

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	ck_assert_ptr_null(hg_tls.slot);
	hg_ring_put(&a, sizeof(a));
	s = hg_tls.slot;
	ck_assert_ptr_nonnull(s);
	i = fx_slot_index(fx_ring_rig.ring, s);
	ck_assert_uint_lt(i, 3); /* never the overflow slot */
	ck_assert_uint_eq(s->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(s->pid, (uint32_t)getpid());
	ck_assert_uint_eq(s->tid, fx_gettid());
	ck_assert_uint_eq(s->head, sizeof(a));
	ck_assert_uint_eq(s->tail, 0);
	ck_assert_mem_eq(fx_slot_data(fx_ring_rig.ring, i), &a, sizeof(a));

	ck_assert_uint_eq(hg_collector_drain(fx_ring_rig.c), sizeof(a));
	ck_assert_uint_eq(s->tail, sizeof(a));
	ck_assert_uint_eq(s->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(hg_collector_drain(fx_ring_rig.c), 0);

	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	ck_assert_uint_eq(fx_ring_tr.n, 2);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), fx_gettid(), 0, 1);
	ck_assert_uint_eq(fx_ring_tr.r[1].rec->type, HG_REC_END);
	st = hg_collector_stats(fx_ring_rig.c);
	ck_assert_uint_eq(st->n_records, 1);
	ck_assert_uint_eq(st->n_allocs, 1);
	ck_assert_uint_eq(st->raw_bytes, sizeof(a));
	ck_assert_uint_eq(st->lost_events, 0);
}
END_TEST

/*
 * Records of many sizes, ten windows' worth through the first window of a slot, drained
 * whenever half the window is in use: many of them straddle the end of the window, past which
 * the producer writes at the window's start and the collector reads there. All arrive byte
 * for byte, and the window stays as it was: a producer that never waits does not widen it.
 */
START_TEST(test_ring_wraparound_byte_exact)
{
	struct fx_buf all = { 0 };
	uint64_t ip[64], head = 0, drained = 0;
	uint32_t straddling = 0, n = 0;
	size_t off = 0;
	uint32_t w;

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	w = fx_first_window(fx_ring_rig.ring);
	while (head < 10ull * w) {
		uint32_t frames = (n * 7) % 41, size = 16 + 8 * frames;
		struct hg_rec_stack *rec;
		size_t at;

		for (uint32_t f = 0; f < frames; f++)
			ip[f] = ((uint64_t)n << 16) | f;
		at = fx_stack(&all, n + 1, frames, ip);
		rec = (struct hg_rec_stack *)(all.p + at);
		if (head + size - drained > w / 2) {
			drained += hg_collector_drain(fx_ring_rig.c);
			ck_assert_uint_eq(drained, head);
		}
		straddling += head % w + size > w;
		hg_ring_put(rec, size);
		head += size;
		n++;
	}
	ck_assert_uint_ge(straddling, 9);
	ck_assert_uint_eq(hg_tls.slot->head, head);
	ck_assert_uint_eq(hg_tls.window, w);
	ck_assert_uint_eq(hg_tls.slot->window, w);

	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	ck_assert_uint_eq(fx_ring_tr.n, n + 1);
	for (uint32_t i = 0; i < n; i++) {
		const struct hg_rec *want = (const struct hg_rec *)(all.p + off);

		FX_REQUIRE(fx_ring_tr.r[i].rec->size_bytes == want->size_bytes &&
				   memcmp(fx_ring_tr.r[i].rec, want, want->size_bytes) == 0,
			   "record %u differs", i);
		FX_REQUIRE(fx_ring_tr.r[i].pid == (uint32_t)getpid() &&
				   fx_ring_tr.r[i].tid == fx_gettid(),
			   "record %u from %u/%u", i, fx_ring_tr.r[i].pid, fx_ring_tr.r[i].tid);
		off += want->size_bytes;
	}
	fx_buf_release(&all);
}
END_TEST

/* A record that cannot fit a slot (with room for an ORIGIN) is counted, never written. */
START_TEST(test_ring_record_too_big_is_counted_lost)
{
	const uint32_t too_big = FX_SLOT_64K - 8, just_fits = FX_SLOT_64K - 16;
	uint8_t *rec = calloc(1, FX_SLOT_64K);
	struct hg_rec *h = (struct hg_rec *)rec;
	const struct hg_rec_loss *loss = NULL;

	ck_assert_ptr_nonnull(rec);
	for (uint32_t i = 8; i < FX_SLOT_64K; i++)
		rec[i] = (uint8_t)(i * 13);
	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	*h = (struct hg_rec){ 200, 0, too_big }; /* a type nobody knows: the reader skips it */
	hg_ring_put(rec, too_big);
	ck_assert_ptr_null(hg_tls.slot);
	ck_assert_uint_eq(fx_ring_rig.ring->lost_events, 1);
	ck_assert_uint_eq(fx_ring_rig.ring->lost_bytes, too_big);

	h->size_bytes = just_fits;
	hg_ring_put(rec, just_fits);
	ck_assert_ptr_nonnull(hg_tls.slot);
	ck_assert_uint_eq(hg_tls.slot->head, just_fits);
	ck_assert_uint_eq(fx_ring_rig.ring->lost_events, 1);

	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	ck_assert_uint_eq(fx_ring_tr.n, 3);
	ck_assert_uint_eq(fx_ring_tr.r[0].rec->size_bytes, just_fits);
	ck_assert_mem_eq(fx_ring_tr.r[0].rec, rec, just_fits);
	ck_assert_uint_eq(fx_count(&fx_ring_tr, HG_REC_LOSS), 1);
	for (size_t i = 0; i < fx_ring_tr.n; i++)
		if (fx_ring_tr.r[i].rec->type == HG_REC_LOSS)
			loss = (const struct hg_rec_loss *)fx_ring_tr.r[i].rec;
	ck_assert_uint_eq(loss->n_events, 1);
	ck_assert_uint_eq(loss->n_bytes, too_big);
	ck_assert_uint_eq(loss->pid, 0);
	ck_assert_uint_eq(hg_collector_stats(fx_ring_rig.c)->lost_events, 1);
	free(rec);
}
END_TEST

Suite *ring_suite(void);

Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *layout = tcase_create("layout");
	TCase *one = tcase_create("single_producer");
	TCase *all[] = { layout, one };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], fx_ring_setup, fx_ring_teardown);
		/* A hang guard only: every test finishes in well under a second. */
		tcase_set_timeout(all[i], 30);
		suite_add_tcase(s, all[i]);
	}
	suite_add_tcase(s, ring_back_pressure_tcase());
	suite_add_tcase(s, ring_threads_tcase());
	suite_add_tcase(s, ring_processes_tcase());
	tcase_add_test(layout, test_ring_header_init_layout);
	tcase_add_test(layout, test_ring_anonymous_shared_mapping_across_fork);
	tcase_add_test(layout, test_ring_clock_travels_with_the_header);
	tcase_add_test(one, test_ring_first_put_claims_slot);
	tcase_add_test(one, test_ring_wraparound_byte_exact);
	tcase_add_test(one, test_ring_record_too_big_is_counted_lost);
	return s;
}
