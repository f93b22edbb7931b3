/*
 * check_replay_merge.c - unit tests for how the replay merges the blocks of a process's threads
 */
#include <check.h>
#include <stdint.h>

#include "fixtures.h"
#include "replay.h"
#include "replay_rig.h"

/*
 * Thread 101 frees X and Y; thread 102 is then handed the same addresses. The collector wrote
 * thread 102's block first. Merged by time (frees first at equal times), the end state has
 * thread 102's blocks live.
 */
START_TEST(test_replay_cross_thread_free_then_reuse)
{
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_alloc(T + 10, X, 100, 1);
	rr_alloc(T + 15, Y, 7, 1);
	rr_block(100, 101);
	rr_alloc(T + 60, X, 200, 2);
	rr_alloc(T + 70, Y, 9, 2); /* same time as Y's free below */
	rr_block(100, 102);
	fx_free(&rr_rig.b, T + 50, X);
	fx_free(&rr_rig.b, T + 70, Y);
	rr_block(100, 101);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 1);
	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 4);
	ck_assert_uint_eq(im->totals.frees, 2);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 2);
	ck_assert_uint_eq(im->totals.live_bytes, 209);
	ck_assert_uint_eq(im->totals.peak_bytes, 209);
	ck_assert_uint_eq(im->totals.peak_time_ns, 70);
	rr_expect_live(im, X, 200, 2);
	rr_expect_live(im, Y, 9, 2);
	rr_expect_site(im, 1, 0, 0, 2, 107);
	rr_expect_site(im, 2, 209, 2, 2, 209);
}
END_TEST


/*
 * Past a horizon events apply at once: thread 102's allocation of X at T+40, read after a
 * horizon of T+100 that thread 101's free of X at T+50 already passed, is late. The free left
 * an orphan note, so X counts as allocated and freed, not as live, and not as an unknown free.
 */
START_TEST(test_replay_horizon_late_allocation_repaired)
{
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_alloc(T + 10, A, 5, 1);
	fx_free(&rr_rig.b, T + 50, X);
	rr_block(100, 101);
	rr_horizon(T + 100);
	rr_alloc(T + 40, X, 100, 2);
	rr_alloc(T + 120, Y, 7, 2);
	rr_block(100, 102);
	rr_replay();

	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 3);
	ck_assert_uint_eq(im->totals.frees, 1);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 2);
	ck_assert_uint_eq(im->totals.live_bytes, 12);
	ck_assert(!rr_is_live(im, X));
	rr_expect_site(im, 2, 7, 1, 2, 107);
}
END_TEST

/*
 * One tick of rounded time: thread 101 allocates X twice (thread 102 freed it in between) and
 * Y once; thread 102 frees X twice and Y once, all at the same time. Frees sort first, so
 * 102's free of X comes up while X is not live: 101's events of that time that fit are taken
 * first, and every free finds its block. Nothing is unknown, nothing stays live.
 */
START_TEST(test_replay_same_tick_handovers)
{
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_alloc(T + 1000, X, 16, 2);
	rr_alloc(T + 1000, X, 16, 2);
	rr_alloc(T + 1000, Y, 32, 2);
	rr_block(100, 101);
	fx_free(&rr_rig.b, T + 1000, X);
	fx_free(&rr_rig.b, T + 1000, X);
	fx_free(&rr_rig.b, T + 1000, Y);
	rr_block(100, 102);
	rr_replay();

	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 3);
	ck_assert_uint_eq(im->totals.frees, 3);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 0);
}
END_TEST

/* X's free found nothing (its block was allocated before tracing) and X's allocation after it
 * is a new block of 100 bytes from stack 2, live. */
static void expect_orphan_then_new_block(const struct hg_image *im)
{
	ck_assert_uint_eq(im->totals.frees, 0);
	ck_assert_uint_eq(im->totals.unknown_frees, 1);
	ck_assert_uint_eq(im->totals.live_bytes, 100);
	rr_expect_live(im, X, 100, 2);
}

/*
 * A free of a block allocated before tracing began stays an unknown free when the address is
 * handed out again later: the orphan note is older than the new allocation, by more than a
 * free's clock may run ahead (replay.c's FREE_AHEAD_NS, 2 us).
 */
START_TEST(test_replay_orphan_free_then_real_reuse)
{
	rr_process(0, T, 100, 1, "p", 1, "/p");
	fx_free(&rr_rig.b, T + 50, X);
	rr_block(100, 101);
	rr_horizon(T + 100);
	rr_alloc(T + 2051, X, 100, 2);
	rr_block(100, 102);
	rr_replay();

	expect_orphan_then_new_block(rr_rig.r->images[0]);
}
END_TEST

/*
 * The freeing thread's own next allocation of the address, 10 ns after its free of a block
 * allocated before tracing (glibc's tcache gives it straight back), is a new block: live,
 * and the free stays unknown.
 */
START_TEST(test_replay_orphan_free_then_own_reuse)
{
	rr_process(0, T, 100, 1, "p", 1, "/p");
	fx_free(&rr_rig.b, T + 50, X);
	rr_alloc(T + 60, X, 100, 2);
	rr_block(100, 101);
	rr_replay();

	expect_orphan_then_new_block(rr_rig.r->images[0]);
}
END_TEST

/*
 * Exact times: thread 102 allocates X at T+1000 and hands it to thread 101, whose free of it
 * reads the clock 300 ns early (an unfenced rdtsc run ahead of the load that gave it X). The
 * free comes first and finds nothing; the allocation, within 2 us of it, is taken as its
 * block's: allocated and freed, nothing unknown, nothing live.
 */
START_TEST(test_replay_free_stamped_before_its_allocation)
{
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	fx_free(&rr_rig.b, T + 700, X);
	rr_block(100, 101);
	rr_alloc(T + 1000, X, 64, 2);
	rr_block(100, 102);
	rr_replay();

	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 1);
	ck_assert_uint_eq(im->totals.frees, 1);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 0);
	ck_assert(!rr_is_live(im, X));
}
END_TEST

/*
 * A horizon applies what it covers in time order across threads, before the window would:
 * the two threads' events interleave by time, so the peak is the true one (A and B live
 * together, 30 bytes, at T+20), not the sum of one thread's blocks read first.
 */
START_TEST(test_replay_horizon_merges_threads_in_time_order)
{
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_alloc(T + 10, A, 10, 1);
	fx_free(&rr_rig.b, T + 30, A);
	rr_alloc(T + 40, C, 25, 1);
	rr_block(100, 101);
	rr_alloc(T + 20, B, 20, 2);
	fx_free(&rr_rig.b, T + 35, B);
	rr_block(100, 102);
	rr_horizon(T + 50);
	rr_replay();

	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.peak_bytes, 30);
	ck_assert_uint_eq(im->totals.peak_time_ns, 20);
	ck_assert_uint_eq(im->totals.live_bytes, 25);
}
END_TEST

/*
 * A collector kept off the CPU for longer than the window drains it all in one pass, and one
 * thread's block of it comes before another's: thread 101 hands X over 300 times, one every
 * millisecond from T+10 ms, and thread 102 frees each a millisecond after it was allocated,
 * but 101's block is read first. Once the trace has a horizon the window does not apply
 * 101's events before 102's earlier ones are read: every free finds its block.
 */
START_TEST(test_replay_long_block_waits_for_horizon)
{
	const uint64_t ms = 1000000;
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_block(100, 100);
	rr_horizon(T + 5 * ms);
	for (uint64_t i = 0; i < 300; i++)
		rr_alloc(T + (10 + 2 * i) * ms, X, 16, 1);
	rr_block(100, 101);
	for (uint64_t i = 0; i < 300; i++)
		fx_free(&rr_rig.b, T + (11 + 2 * i) * ms, X);
	rr_block(100, 102);
	rr_horizon(T + 700 * ms);
	rr_replay();

	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 300);
	ck_assert_uint_eq(im->totals.frees, 300);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 0);
	ck_assert_uint_eq(im->totals.peak_bytes, 16);
}
END_TEST

/*
 * One horizon, then 30 s of events and no other (a producer stopped while it waited for room
 * pins the collector's horizon): once the events are 10 s past it, the window applies again,
 * so no more than about 10 s of them ever wait, not the whole trace.
 */
START_TEST(test_replay_stale_horizon_bounds_waiting)
{
	const uint64_t ms = 1000000, n = 30000;
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_block(100, 100);
	rr_horizon(T + 5 * ms);
	for (uint64_t i = 0; i < n; i++) {
		rr_alloc(T + (10 + i) * ms, X + 16 * (i % 64), 16, 1);
		if (i >= 63)
			fx_free(&rr_rig.b, T + (10 + i) * ms, X + 16 * ((i - 63) % 64));
	}
	rr_block(100, 101);
	rr_replay();

	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, n);
	ck_assert_uint_eq(im->totals.frees, n - 63);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 63);
	/* 10 s of events wait at most: two a millisecond; the whole trace would be 59,937. */
	ck_assert_uint_le(rr_rig.r->max_waiting, 2 * 10000 + 2 * 300);
	ck_assert_uint_ge(rr_rig.r->max_waiting, 2 * 10000 - 2 * 300);
}
END_TEST

TCase *replay_merge_tcase(void)
{
	TCase *merge = tcase_create("merge");

	tcase_add_checked_fixture(merge, rr_setup, rr_teardown);
	tcase_add_test(merge, test_replay_cross_thread_free_then_reuse);
	tcase_add_test(merge, test_replay_horizon_late_allocation_repaired);
	tcase_add_test(merge, test_replay_orphan_free_then_real_reuse);
	tcase_add_test(merge, test_replay_orphan_free_then_own_reuse);
	tcase_add_test(merge, test_replay_free_stamped_before_its_allocation);
	tcase_add_test(merge, test_replay_same_tick_handovers);
	tcase_add_test(merge, test_replay_horizon_merges_threads_in_time_order);
	tcase_add_test(merge, test_replay_long_block_waits_for_horizon);
	tcase_add_test(merge, test_replay_stale_horizon_bounds_waiting);
	return merge;
}
