/*
 * check_replay_stats.c - unit tests for what the replay keeps for statistics: temporary
 * allocations per thread, the size histogram, and site counts captured at a time
 * (analyzer/replay.c with HG_REPLAY_AT)
 *
 * Each test writes a synthetic trace with the real writer: one process, pid 7, whose threads
 * 7 and 8 write their own blocks. Times are offsets from T; the process starts at T.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "fixtures.h"
#include "replay.h"
#include "trace_writer.h"

#define T 5000000000000ull
#define PID 7

static struct fx_replay_rig g;

static void setup(void)
{
	fx_replay_rig_open(&g, "s.hgt");
	fx_process(&g.b, 0, T, PID, 1, "p", 2, "/bin/p", 64);
}

static void teardown(void)
{
	fx_replay_rig_close(&g);
}

static void flush_thread(uint32_t tid)
{
	fx_replay_rig_block(&g, PID, tid);
}

static struct hg_image *replay_at(unsigned flags, uint64_t at_ns)
{
	struct hg_replay *r = fx_replay_rig_run(&g, flags, at_ns);

	ck_assert_uint_eq(r->n_images, 1);
	return r->images[0];
}

/*
 * Thread 7: A (stack 1) then B (stack 2) allocated, A freed, B freed: B is temporary (A's free
 * is not an allocation), A is not (B came between). Thread 8, interleaved in time: C (stack 3)
 * allocated and freed with thread 7's events between: still temporary, per thread. D (stack 1)
 * is reallocated: the realloc's FREE of D follows D's ALLOC directly, so D is temporary.
 */
START_TEST(test_replay_stats_temporary_per_thread)
{
	struct hg_image *im;

	fx_alloc(&g.b, T + 10, 0xa000, 40, 1, HG_FN_MALLOC);
	fx_alloc(&g.b, T + 20, 0xb000, 24, 2, HG_FN_MALLOC);
	fx_free(&g.b, T + 40, 0xa000);
	fx_free(&g.b, T + 50, 0xb000);
	fx_alloc(&g.b, T + 60, 0xd000, 100, 1, HG_FN_MALLOC);
	fx_free(&g.b, T + 70, 0xd000);
	fx_alloc(&g.b, T + 71, 0xe000, 200, 1, HG_FN_REALLOC);
	flush_thread(7);
	fx_alloc(&g.b, T + 30, 0xc000, 64, 3, HG_FN_MALLOC);
	fx_free(&g.b, T + 55, 0xc000);
	flush_thread(8);
	im = replay_at(0, 0);
	ck_assert_uint_eq(im->temporary, 3);
	ck_assert_uint_eq(im->sites[1].allocations, 3);
	ck_assert_uint_eq(im->sites[1].temporary, 1);
	ck_assert_uint_eq(im->sites[1].temporary_bytes, 100);
	ck_assert_uint_eq(im->sites[2].temporary, 1);
	ck_assert_uint_eq(im->sites[2].temporary_bytes, 24);
	ck_assert_uint_eq(im->sites[3].temporary, 1);
	ck_assert_uint_eq(im->sites[3].temporary_bytes, 64);
	ck_assert_ptr_null(im->at_sites);
}
END_TEST

START_TEST(test_replay_stats_size_histogram)
{
	static const uint64_t sizes[] = { 0, 1, 2, 3, 4, 1023, 1024, 1025, 1ull << 40 };
	struct hg_image *im;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		fx_alloc(&g.b, T + 10 + i, 0x1000 * (i + 1), sizes[i], 1, HG_FN_MALLOC);
	fx_free(&g.b, T + 100, 0x1000 * 9); /* the 1 TiB block: freed at once, temporary */
	flush_thread(7);
	im = replay_at(0, 0);
	ck_assert_uint_eq(hg_size_bucket(0), 0);
	ck_assert_uint_eq(hg_size_bucket(1), 1);
	ck_assert_uint_eq(hg_size_bucket(3), 2);
	ck_assert_uint_eq(hg_size_bucket(UINT64_MAX), 64);
	ck_assert_uint_eq(im->size_hist[0], 1);
	ck_assert_uint_eq(im->size_hist[1], 1);
	ck_assert_uint_eq(im->size_hist[2], 2);  /* 2, 3 */
	ck_assert_uint_eq(im->size_hist[3], 1);  /* 4 */
	ck_assert_uint_eq(im->size_hist[10], 1); /* 1023 */
	ck_assert_uint_eq(im->size_hist[11], 2); /* 1024, 1025 */
	ck_assert_uint_eq(im->size_hist[41], 1);
	ck_assert_uint_eq(im->temp_hist[41], 1);
	ck_assert_uint_eq(im->temporary, 1);
}
END_TEST

/*
 * Capture at T + 25: A and B applied (at or before), B's free at T + 30 not. Events of both
 * threads at the exact time count as before it.
 */
static void two_threads(void)
{
	fx_alloc(&g.b, T + 10, 0xa000, 100, 1, HG_FN_MALLOC);
	fx_alloc(&g.b, T + 25, 0xb000, 50, 2, HG_FN_MALLOC);
	fx_free(&g.b, T + 30, 0xb000);
	fx_alloc(&g.b, T + 40, 0xc000, 7, 2, HG_FN_MALLOC);
	flush_thread(7);
	fx_alloc(&g.b, T + 25, 0xd000, 1000, 3, HG_FN_MALLOC);
	fx_free(&g.b, T + 35, 0xa000);
	flush_thread(8);
}

START_TEST(test_replay_stats_at_time)
{
	struct hg_image *im;

	two_threads();
	im = replay_at(HG_REPLAY_AT, 25);
	ck_assert_ptr_nonnull(im->at_sites);
	ck_assert_uint_ge(im->n_at_sites, 4);
	ck_assert_uint_eq(im->at_sites[1].live_bytes, 100);
	ck_assert_uint_eq(im->at_sites[2].live_bytes, 50);
	ck_assert_uint_eq(im->at_sites[2].live_blocks, 1);
	ck_assert_uint_eq(im->at_sites[3].live_bytes, 1000);
	/* the end is untouched by the capture */
	ck_assert_uint_eq(im->sites[1].live_bytes, 0);
	ck_assert_uint_eq(im->sites[2].live_bytes, 7);
}
END_TEST

/* _i 0: before anything happened (no site had been seen: n_at_sites may be 0); 1: past the end. */
START_TEST(test_replay_stats_at_before_and_after)
{
	struct hg_image *im;

	two_threads();
	im = replay_at(HG_REPLAY_AT, _i ? 1000000 : 9);
	ck_assert_ptr_nonnull(im->at_sites);
	for (uint32_t id = 1; id < 4; id++) {
		uint64_t at = id < im->n_at_sites ? im->at_sites[id].live_bytes : 0;
		ck_assert_uint_eq(at, _i ? im->sites[id].live_bytes : 0);
	}
}
END_TEST

START_TEST(test_replay_stats_at_with_peak)
{
	struct hg_image *im;

	two_threads();
	im = replay_at(HG_REPLAY_AT | HG_REPLAY_PEAK, 30);
	ck_assert_uint_eq(im->totals.peak_bytes, 1150);
	ck_assert_uint_eq(im->peak_sites[2].live_bytes, 50);
	ck_assert_uint_eq(im->at_sites[2].live_bytes, 0); /* B freed at T + 30 */
	ck_assert_uint_eq(im->at_sites[3].live_bytes, 1000);
}
END_TEST

Suite *replay_stats_suite(void);

Suite *replay_stats_suite(void)
{
	Suite *s = suite_create("replay_stats");
	TCase *tc = tcase_create("statistics");

	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	tcase_add_test(tc, test_replay_stats_temporary_per_thread);
	tcase_add_test(tc, test_replay_stats_size_histogram);
	tcase_add_test(tc, test_replay_stats_at_time);
	tcase_add_loop_test(tc, test_replay_stats_at_before_and_after, 0, 2);
	tcase_add_test(tc, test_replay_stats_at_with_peak);
	return s;
}
