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

static struct fx_scratch scratch;
static char path[FX_PATH_BYTES];
static struct hg_trace_writer *w;
static struct fx_buf b;
static struct hg_replay *r;

static void setup(void)
{
	fx_scratch_make(&scratch);
	fx_scratch_file(&scratch, "s.hgt", path);
	w = hg_trace_writer_open(path, 0);
	ck_assert_ptr_nonnull(w);
	memset(&b, 0, sizeof(b));
	r = NULL;
	fx_process(&b, 0, T, PID, 1, "p", 2, "/bin/p", 64);
}

static void teardown(void)
{
	if (w)
		hg_trace_writer_close(w);
	hg_replay_free(r);
	fx_buf_release(&b);
	fx_scratch_remove(&scratch);
}

static void flush_thread(uint32_t tid)
{
	ck_assert_int_eq(hg_trace_writer_block(w, PID, tid, b.p, (uint32_t)b.len), 0);
	b.len = 0;
}

static struct hg_image *replay_at(unsigned flags, uint64_t at_ns)
{
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	w = NULL;
	r = hg_replay_file_at(path, flags, at_ns);
	ck_assert_ptr_nonnull(r);
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

	fx_alloc(&b, T + 10, 0xa000, 40, 1, HG_FN_MALLOC);
	fx_alloc(&b, T + 20, 0xb000, 24, 2, HG_FN_MALLOC);
	fx_free(&b, T + 40, 0xa000);
	fx_free(&b, T + 50, 0xb000);
	fx_alloc(&b, T + 60, 0xd000, 100, 1, HG_FN_MALLOC);
	fx_free(&b, T + 70, 0xd000);
	fx_alloc(&b, T + 71, 0xe000, 200, 1, HG_FN_REALLOC);
	flush_thread(7);
	fx_alloc(&b, T + 30, 0xc000, 64, 3, HG_FN_MALLOC);
	fx_free(&b, T + 55, 0xc000);
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
		fx_alloc(&b, T + 10 + i, 0x1000 * (i + 1), sizes[i], 1, HG_FN_MALLOC);
	fx_free(&b, T + 100, 0x1000 * 9); /* the 1 TiB block: freed at once, temporary */
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
	fx_alloc(&b, T + 10, 0xa000, 100, 1, HG_FN_MALLOC);
	fx_alloc(&b, T + 25, 0xb000, 50, 2, HG_FN_MALLOC);
	fx_free(&b, T + 30, 0xb000);
	fx_alloc(&b, T + 40, 0xc000, 7, 2, HG_FN_MALLOC);
	flush_thread(7);
	fx_alloc(&b, T + 25, 0xd000, 1000, 3, HG_FN_MALLOC);
	fx_free(&b, T + 35, 0xa000);
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
