/*
 * check_frag.c - unit tests for frag's own wording and arithmetic (analyzer/frag.c)
 *
 * The snapshots here are built by hand, regions, blocks and marks, as the replay would leave
 * them: hg_frag_build reads nothing else.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "frag.h"
#include "heaptop.h"
#include "hg_format.h"

#define MS 1000000ull
#define KIB 1024ull
#define T0 1000000000ull        /* the image's start */
#define BRK 0x555555559000ull   /* the brk heap: 132 KiB, glibc's first sbrk */
#define BRK_BYTES (132 * KIB)
#define HEAP 0x7f0004000000ull  /* a thread's heap, at a 64 MiB boundary */

static char line[512];

static const char *no_rss(uint32_t interval_ms, uint64_t ran_ns)
{
	return hg_frag_no_rss(line, sizeof(line), interval_ms, ran_ns, 4242);
}

/* Sampling off: the trace says so, and how long the process ran does not matter. */
START_TEST(test_frag_no_rss_sampling_off)
{
	static const char want[] = "no resident-set sample: sampling was off for this recording "
				   "(record --rss-interval MS turns it on)";

	ck_assert_str_eq(no_rss(HG_RSS_INTERVAL_OFF, 3 * MS), want);
	ck_assert_str_eq(no_rss(HG_RSS_INTERVAL_OFF, 60000 * MS), want);
	ck_assert_str_eq(no_rss(HG_RSS_INTERVAL_OFF, UINT64_MAX), want);
}
END_TEST

/* A trace from before the header said: both causes named, neither claimed. */
START_TEST(test_frag_no_rss_interval_not_recorded)
{
	ck_assert_str_eq(no_rss(0, 3100 * 1000), "no resident-set sample: sampling was off, or the "
			 "process (which ran 3.1 ms) ended before the first sample; this trace "
			 "does not record which (record --rss-interval MS)");
	ck_assert_str_eq(no_rss(0, UINT64_MAX), "no resident-set sample: sampling was off, or the "
			 "process ended before the first sample; this trace does not record which "
			 "(record --rss-interval MS)");
}
END_TEST

/* Under one interval; at the boundary the duration shown never reaches the interval. */
START_TEST(test_frag_no_rss_shorter_than_the_interval)
{
	ck_assert_str_eq(no_rss(10, 220800), "no resident-set sample: the process ran 220.8 us, "
			 "less than the 10 ms sampling interval (record --rss-interval MS to sample "
			 "more often)");
	ck_assert_str_eq(no_rss(10, 10 * MS - 1), "no resident-set sample: the process ran "
			 "9.9 ms, less than the 10 ms sampling interval (record --rss-interval MS "
			 "to sample more often)");
	ck_assert_str_eq(no_rss(2000, 1500 * MS), "no resident-set sample: the process ran "
			 "1.50 s, less than the 2000 ms sampling interval (record --rss-interval MS "
			 "to sample more often)");
}
END_TEST

/* One to two intervals: samples are an interval apart or a little more, so none may fall in. */
START_TEST(test_frag_no_rss_within_two_intervals)
{
	ck_assert_str_eq(no_rss(10, 10 * MS), "no resident-set sample: the process ran 10.0 ms, "
			 "and samples come every 10 ms or a little more, none while it ran "
			 "(record --rss-interval MS to sample more often)");
	ck_assert_str_eq(no_rss(10, 20 * MS - 1), "no resident-set sample: the process ran "
			 "19.9 ms, and samples come every 10 ms or a little more, none while it ran "
			 "(record --rss-interval MS to sample more often)");
}
END_TEST

/* Two intervals or more: a sample passed the process and the collector could not take it. */
START_TEST(test_frag_no_rss_long_enough)
{
	ck_assert_str_eq(no_rss(10, 20 * MS), "no resident-set sample, though the process ran "
			 "20.0 ms with sampling every 10 ms: the collector could not read "
			 "/proc/4242/statm, or the process had no ring slot of its own "
			 "(record --slots)");
	ck_assert_str_eq(no_rss(10, UINT64_MAX), "no resident-set sample, with sampling every "
			 "10 ms: the trace does not say how long the process ran (record "
			 "--rss-interval MS to sample more often)");
}
END_TEST

/* The buffer bounds the line. */
START_TEST(test_frag_no_rss_cut_to_cap)
{
	char small[16];

	ck_assert_str_eq(hg_frag_no_rss(small, sizeof(small), 10, 3 * MS, 1), "no resident-set");
}
END_TEST

/* ---- the untouched top of the heaps --------------------------------------------------- */

static struct hg_image im;
static struct hg_snapshot sn, earlier;
static struct hg_snapshot *sns[2];
static struct hg_region regions[4];
static struct hg_block blocks[4];
static struct hg_mallinfo mi;
static struct hg_frag fr;

static void setup(void)
{
	memset(&im, 0, sizeof(im));
	memset(&sn, 0, sizeof(sn));
	memset(&earlier, 0, sizeof(earlier));
	memset(&fr, 0, sizeof(fr));
	memset(&mi, 0, sizeof(mi));
	im.t_start_ns = T0;
	sns[0] = &sn;
	im.snapshots = sns;
	im.n_snapshots = 1;
	sn.t_ns = T0 + 50 * MS;
	sn.have_blocks = sn.complete = 1;
	sn.regions = regions;
	sn.blocks = blocks;
}

static void teardown(void)
{
	hg_frag_release(&fr);
	hg_heaptop_release(&sn.heaptop);
}

static void region(uint32_t kind, uint64_t lo, uint64_t bytes)
{
	regions[sn.n_regions++] = (struct hg_region){ lo, lo + bytes, lo, kind, 0, 0 };
}

/* A block the program was given; live at the snapshot or not. */
static void block(uint64_t addr, uint64_t size, int live)
{
	hg_heaptop_note(&sn.heaptop, addr, size);
	if (live)
		blocks[sn.n_blocks++] = (struct hg_block){ addr, size, 1 };
}

/* glibc's count, sampled for the snapshot (1 ms before it) with this much top chunk. */
static void mallinfo(uint64_t releasable)
{
	mi = (struct hg_mallinfo){ 49 * MS, BRK_BYTES, 0, releasable, releasable };
	im.mallinfo = &mi;
	im.n_mallinfo = 1;
}

/*
 * A program that never allocates: the whole brk heap is free and untouched; no page of it is
 * resident, so malloc_trim(0) gains nothing.
 */
START_TEST(test_frag_untouched_brk_heap_of_no_allocation)
{
	region(HG_REGION_BRK, BRK, BRK_BYTES);
	hg_frag_build(&fr, &im, &sn);
	ck_assert_uint_eq(fr.heap_span_bytes, BRK_BYTES);
	ck_assert_uint_eq(fr.allocator_free_bytes, BRK_BYTES);
	ck_assert_uint_eq(fr.untouched_top_bytes, BRK_BYTES);
	ck_assert_uint_eq(fr.pages_free, 33);
	ck_assert_uint_eq(fr.pages_untouched, 33);
	ck_assert_uint_eq(fr.trim_estimate_bytes, 0);
}
END_TEST

/*
 * The same with glibc's count for the snapshot: its top chunk is 128,720 bytes, as the tracer's
 * own 6,448 bytes of blocks (unrecorded) sit below it, so that much is untouched; the two pages
 * they touch count as trimmable free pages (frag does not see those blocks).
 */
START_TEST(test_frag_untouched_brk_heap_bounded_by_top_chunk)
{
	region(HG_REGION_BRK, BRK, BRK_BYTES);
	mallinfo(128720);
	ck_assert_ptr_eq(hg_frag_mallinfo(&im, &sn), &mi);
	hg_frag_build(&fr, &im, &sn);
	ck_assert_uint_eq(fr.allocator_free_bytes, BRK_BYTES);
	ck_assert_uint_eq(fr.untouched_top_bytes, 128720);
	ck_assert_uint_eq(fr.pages_untouched, 31);
	ck_assert_uint_eq(fr.trim_estimate_bytes, 2 * 4096);
}
END_TEST

/* A count sampled before an earlier snapshot describes another moment: not used. */
START_TEST(test_frag_untouched_ignores_an_earlier_snapshots_count)
{
	region(HG_REGION_BRK, BRK, BRK_BYTES);
	mallinfo(128720);
	earlier.t_ns = T0 + 49 * MS + 500000;
	sns[0] = &earlier;
	sns[1] = &sn;
	im.n_snapshots = 2;
	hg_frag_build(&fr, &im, &sn);
	ck_assert_uint_eq(fr.untouched_top_bytes, BRK_BYTES);
	ck_assert_uint_eq(fr.pages_untouched, 33);
	/* the count frag shows for each snapshot: the earlier one's only */
	ck_assert_ptr_eq(hg_frag_mallinfo(&im, &earlier), &mi);
	ck_assert_ptr_null(hg_frag_mallinfo(&im, &sn));
}
END_TEST

/*
 * A live block A of 1,000 bytes and, right above it, B, freed: the untouched top starts where
 * B ended (A + 1,008 + 1,000), not where A does; the freed B is free memory the program used.
 */
START_TEST(test_frag_untouched_above_a_freed_block)
{
	const uint64_t a = BRK + 0x1010, b = a + 1008;

	region(HG_REGION_BRK, BRK, BRK_BYTES);
	block(a, 1000, 1);
	block(b, 1000, 0);
	hg_frag_build(&fr, &im, &sn);
	ck_assert_uint_eq(fr.live_bytes, 1000);
	ck_assert_uint_eq(fr.allocator_free_bytes, BRK_BYTES - 1000 - 16);
	ck_assert_uint_eq(fr.untouched_top_bytes, BRK + BRK_BYTES - (b + 1000));
	ck_assert_uint_eq(fr.untouched_top_bytes, 129048);
	ck_assert_uint_eq(fr.pages_with_live_data, 1);
	ck_assert_uint_eq(fr.pages_free, 32);
	ck_assert_uint_eq(fr.pages_untouched, 31);
	ck_assert_uint_eq(fr.trim_estimate_bytes, 4096);
	ck_assert_int_eq(fr.top_block, 0);
	ck_assert_uint_eq(fr.above_top_bytes, BRK + BRK_BYTES - (a + 1000));
}
END_TEST

/*
 * A thread's heap (anonymous, at a 64 MiB boundary) with one small block: its top above the
 * block is untouched. A block glibc mapped on its own, in another region, has no top; the
 * program's own mapping holds no heap.
 */
START_TEST(test_frag_untouched_top_of_a_thread_heap)
{
	const uint64_t big = 0x7f1000000010ull;

	region(HG_REGION_ANON, HEAP, BRK_BYTES);
	region(HG_REGION_ANON, 0x7f1000000000ull, 50 * 4096);
	region(HG_REGION_ANON, 0x7f2000000000ull, 64 * 4096);
	block(HEAP + 0x8b0, 100, 1);
	block(big, 200000, 1);
	hg_frag_build(&fr, &im, &sn);
	ck_assert_uint_eq(fr.live_blocks, 2);
	ck_assert_uint_eq(fr.heap_span_bytes, BRK_BYTES + 49 * 4096);
	ck_assert_uint_eq(fr.untouched_top_bytes, BRK_BYTES - 0x8b0 - 100);
	ck_assert_uint_eq(fr.pages_untouched, 32);
}
END_TEST

/*
 * Pages of live data: A's chunk covers pages 0-2 of the brk heap (the middle one whole). C's
 * size is a damaged trace's, 2^50 bytes: its pages are counted to the end of its region (page
 * 3, where its chunk header pins a page, to 32), at once rather than page by page, which
 * took hours.
 */
START_TEST(test_frag_pages_of_a_long_block_and_of_a_damaged_size)
{
	region(HG_REGION_BRK, BRK, BRK_BYTES);
	block(BRK + 0x10, 10000, 1);
	block(BRK + 0x4000, 1ull << 50, 1);
	hg_frag_build(&fr, &im, &sn);
	ck_assert_uint_eq(fr.live_blocks, 2);
	ck_assert_uint_eq(fr.pages_with_live_data, 33);
	ck_assert_uint_eq(fr.pages_free, 0);
	ck_assert_uint_eq(fr.n_pinners, 1);
	ck_assert_uint_eq(fr.pinners[0].pinned_bytes, 4096);
}
END_TEST

Suite *frag_suite(void);

Suite *frag_suite(void)
{
	Suite *s = suite_create("frag");
	TCase *no_rss_tc = tcase_create("no_rss");
	TCase *untouched = tcase_create("untouched_top");

	tcase_add_test(no_rss_tc, test_frag_no_rss_sampling_off);
	tcase_add_test(no_rss_tc, test_frag_no_rss_interval_not_recorded);
	tcase_add_test(no_rss_tc, test_frag_no_rss_shorter_than_the_interval);
	tcase_add_test(no_rss_tc, test_frag_no_rss_within_two_intervals);
	tcase_add_test(no_rss_tc, test_frag_no_rss_long_enough);
	tcase_add_test(no_rss_tc, test_frag_no_rss_cut_to_cap);
	suite_add_tcase(s, no_rss_tc);
	tcase_add_checked_fixture(untouched, setup, teardown);
	tcase_add_test(untouched, test_frag_untouched_brk_heap_of_no_allocation);
	tcase_add_test(untouched, test_frag_untouched_brk_heap_bounded_by_top_chunk);
	tcase_add_test(untouched, test_frag_untouched_ignores_an_earlier_snapshots_count);
	tcase_add_test(untouched, test_frag_untouched_above_a_freed_block);
	tcase_add_test(untouched, test_frag_untouched_top_of_a_thread_heap);
	tcase_add_test(untouched, test_frag_pages_of_a_long_block_and_of_a_damaged_size);
	suite_add_tcase(s, untouched);
	return s;
}
