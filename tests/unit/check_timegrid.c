/*
 * check_timegrid.c - rounding event times to the trace's resolution, never across a barrier;
 * and the collector doing it to the records it drains
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "collector.h"
#include "fixtures.h"
#include "hg_format.h"
#include "timegrid.h"

#define MS 1000000ull

static struct hg_timegrid grid;

static void setup(void)
{
	memset(&grid, 0, sizeof(grid));
	grid.res_ns = MS;
}

static void teardown(void)
{
	hg_timegrid_free(&grid);
}

START_TEST(test_round_down_to_resolution)
{
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS + 300000), 5 * MS);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS), 5 * MS);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS - 1), 4 * MS);
	grid.res_ns = 1;
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS + 300001), 5 * MS + 300001);
	grid.res_ns = 0;
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS + 300001), 5 * MS + 300001);
}
END_TEST

/* An event after a barrier stays after it; one before it or at it stays at or before it. */
START_TEST(test_never_across_a_barrier)
{
	hg_timegrid_add(&grid, 5 * MS + 200000);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS + 300000), 5 * MS + 200001);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS + 200001), 5 * MS + 200001);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS + 200000), 5 * MS);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS + 100000), 5 * MS);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 6 * MS + 100000), 6 * MS);
	/* Two barriers in one tick: the newest one below the event counts. */
	hg_timegrid_add(&grid, 5 * MS + 100000);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS + 150000), 5 * MS + 100001);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 5 * MS + 250000), 5 * MS + 200001);
	/* Rounding keeps the order of any two times. */
	for (uint64_t a = 4 * MS; a < 7 * MS; a += 37111)
		for (uint64_t b = a; b < 7 * MS; b += 41017)
			ck_assert_uint_le(hg_timegrid_round(&grid, a), hg_timegrid_round(&grid, b));
}
END_TEST

START_TEST(test_barriers_kept_sorted_and_bounded)
{
	hg_timegrid_add(&grid, 30);
	hg_timegrid_add(&grid, 10);
	hg_timegrid_add(&grid, 20);
	hg_timegrid_add(&grid, 20);
	ck_assert_uint_eq(grid.n, 3);
	ck_assert_uint_eq(grid.barriers[0], 10);
	ck_assert_uint_eq(grid.barriers[2], 30);
	for (uint64_t t = 100; grid.n < HG_TIMEGRID_KEEP; t++)
		hg_timegrid_add(&grid, t);
	hg_timegrid_add(&grid, 1);          /* older than all kept: dropped */
	hg_timegrid_add(&grid, 1000000000); /* the oldest makes room */
	ck_assert_uint_eq(grid.n, HG_TIMEGRID_KEEP);
	ck_assert_uint_eq(grid.barriers[0], 20);
	ck_assert_uint_eq(grid.barriers[grid.n - 1], 1000000000);
}
END_TEST

/* The ring's barriers are read whole each time. */
START_TEST(test_sync_reads_the_ring)
{
	struct hg_ring_header *r = calloc(1, sizeof(*r));

	r->barrier_ns[0] = 7 * MS + 5;
	r->barrier_ns[1] = 8 * MS + 5;
	r->barrier_count = 2;
	hg_timegrid_sync(&grid, r);
	ck_assert_uint_eq(grid.n, 2);
	ck_assert_uint_eq(grid.exact_until, 0);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 7 * MS + 9), 7 * MS + 6);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 8 * MS + 9), 8 * MS + 6);
	ck_assert_uint_eq(hg_timegrid_round(&grid, 9 * MS + 9), 9 * MS);
	free(r);
}
END_TEST

/*
 * A barrier in flight (announced, its time maybe not stored), or more barriers since the last
 * read than the ring keeps: every time up to the moment the collector noticed stays exact, and
 * later ones stay after that moment.
 */
START_TEST(test_sync_missing_barrier_keeps_times_exact)
{
	struct hg_ring_header *r = calloc(1, sizeof(*r));
	uint64_t before, after;

	r->barrier_count = 1;
	r->barriers_in_flight = 1; /* counted, not stored yet */
	before = hg_trace_ns();
	hg_timegrid_sync(&grid, r);
	after = hg_trace_ns();
	ck_assert_uint_ge(grid.exact_until, before);
	ck_assert_uint_le(grid.exact_until, after);
	ck_assert_uint_eq(hg_timegrid_round(&grid, before - 12345), before - 12345);
	ck_assert_uint_eq(hg_timegrid_round(&grid, grid.exact_until), grid.exact_until);
	ck_assert_uint_ge(hg_timegrid_round(&grid, grid.exact_until + 1), grid.exact_until + 1);
	ck_assert_uint_eq(hg_timegrid_round(&grid, after + 5 * MS) % MS, 0);

	/* Overwritten before this read: 40 more barriers than the ring holds. */
	r->barriers_in_flight = 0;
	r->barrier_count += HG_RING_BARRIERS + 40;
	before = hg_trace_ns();
	hg_timegrid_sync(&grid, r);
	ck_assert_uint_ge(grid.exact_until, before);
	ck_assert_uint_eq(hg_timegrid_round(&grid, before - 7), before - 7);
	free(r);
}
END_TEST

/* Only ALLOC and FREE times are rounded; every other record is left as it is. */
START_TEST(test_apply_to_records)
{
	struct fx_buf b = { 0 };
	const struct hg_rec_alloc *a;
	const struct hg_rec_free *f;
	const struct hg_rec_exit *x;
	size_t at_free, at_exit;

	fx_alloc(&b, 3 * MS + 77, 0x1000, 8, 1, 0);
	at_free = fx_free(&b, 3 * MS + 99, 0x1000);
	at_exit = fx_exit(&b, 3 * MS + 123, 1, 0, 0);
	hg_timegrid_apply(&grid, b.p, b.len);
	a = (const void *)b.p;
	f = (const void *)(b.p + at_free);
	x = (const void *)(b.p + at_exit);
	ck_assert_uint_eq(a->t_ns, 3 * MS);
	ck_assert_uint_eq(a->addr, 0x1000);
	ck_assert_uint_eq(f->t_ns, 3 * MS);
	ck_assert_uint_eq(x->t_ns, 3 * MS + 123);
	fx_buf_release(&b);
}
END_TEST

/* The collector rounds what it drains, and a barrier published before the records holds. */
START_TEST(test_collector_rounds_drained_records)
{
	struct fx_rig rig;
	struct fx_trace tr = { 0 };
	struct fx_buf b = { 0 };
	struct hg_ring_slot *s;
	uint64_t t = 40000 * MS; /* any time: the collector does not compare it with its clock */

	fx_rig_open(&rig, 4, HG_RING_MIN_SLOT_BYTES, 0);
	hg_collector_set_time_resolution(rig.c, MS);
	rig.ring->barrier_ns[0] = t + 500;
	rig.ring->barrier_count = 1;
	s = fx_slot(rig.ring, 1);
	s->pid = 500;
	s->tid = 501;
	__atomic_store_n(&s->state, HG_SLOT_OWNED, __ATOMIC_RELEASE);
	fx_alloc(&b, t + 100, 0x10, 8, 1, 0);
	fx_free(&b, t + 700, 0x10);
	fx_alloc(&b, t + MS + 3, 0x20, 8, 1, 0);
	memcpy(fx_slot_data(rig.ring, 1), b.p, b.len);
	__atomic_store_n(&s->head, b.len, __ATOMIC_RELEASE);
	fx_rig_finish(&rig, &tr);
	ck_assert_uint_eq(tr.n, 4); /* three events and the END */
	ck_assert_uint_eq(((const struct hg_rec_alloc *)tr.r[0].rec)->t_ns, t);
	ck_assert_uint_eq(((const struct hg_rec_free *)tr.r[1].rec)->t_ns, t + 501);
	ck_assert_uint_eq(((const struct hg_rec_alloc *)tr.r[2].rec)->t_ns, t + MS);
	fx_trace_release(&tr);
	fx_buf_release(&b);
	fx_rig_close(&rig);
}
END_TEST

Suite *timegrid_suite(void);

Suite *timegrid_suite(void)
{
	Suite *s = suite_create("timegrid");
	TCase *round = tcase_create("round");
	TCase *collector = tcase_create("collector");

	tcase_add_checked_fixture(round, setup, teardown);
	tcase_add_test(round, test_round_down_to_resolution);
	tcase_add_test(round, test_never_across_a_barrier);
	tcase_add_test(round, test_barriers_kept_sorted_and_bounded);
	tcase_add_test(round, test_sync_reads_the_ring);
	tcase_add_test(round, test_sync_missing_barrier_keeps_times_exact);
	tcase_add_test(round, test_apply_to_records);
	tcase_add_test(collector, test_collector_rounds_drained_records);
	suite_add_tcase(s, round);
	suite_add_tcase(s, collector);
	return s;
}
