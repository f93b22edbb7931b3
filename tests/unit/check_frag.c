/*
 * check_frag.c - unit tests for frag's own wording and arithmetic (analyzer/frag.c)
 */
#include <check.h>
#include <stdint.h>

#include "frag.h"
#include "hg_format.h"

#define MS 1000000ull

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

Suite *frag_suite(void);

Suite *frag_suite(void)
{
	Suite *s = suite_create("frag");
	TCase *no_rss_tc = tcase_create("no_rss");

	tcase_add_test(no_rss_tc, test_frag_no_rss_sampling_off);
	tcase_add_test(no_rss_tc, test_frag_no_rss_interval_not_recorded);
	tcase_add_test(no_rss_tc, test_frag_no_rss_shorter_than_the_interval);
	tcase_add_test(no_rss_tc, test_frag_no_rss_within_two_intervals);
	tcase_add_test(no_rss_tc, test_frag_no_rss_long_enough);
	tcase_add_test(no_rss_tc, test_frag_no_rss_cut_to_cap);
	suite_add_tcase(s, no_rss_tc);
	return s;
}
