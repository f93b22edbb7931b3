/*
 * check_clock.c - the ring's clock: the TSC scaled from one moment of CLOCK_MONOTONIC, or
 * CLOCK_MONOTONIC itself
 */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "hg_clock.h"
#include "hg_format.h"

#define NS_PER_S 1000000000ull

START_TEST(test_clock_of_tsc_scales_from_the_base)
{
	/* Half a nanosecond a tick: 2 GHz. */
	struct hg_ring_clock c = { .tsc_base = 1000, .ns_base = 5 * NS_PER_S, .mult = 1ull << 31 };

	ck_assert_uint_eq(hg_clock_of_tsc(&c, 1000), 5 * NS_PER_S);
	ck_assert_uint_eq(hg_clock_of_tsc(&c, 1002), 5 * NS_PER_S + 1);
	ck_assert_uint_eq(hg_clock_of_tsc(&c, 1003), 5 * NS_PER_S + 1); /* rounded down */
	/* A reading a few ticks behind the base (another CPU's): just before, not 2^63 after. */
	ck_assert_uint_eq(hg_clock_of_tsc(&c, 996), 5 * NS_PER_S - 2);
	ck_assert_uint_eq(hg_clock_of_tsc(&c, 999), 5 * NS_PER_S - 1);

	/* An hour of a 2.6 GHz TSC: 9.36e12 ticks times a multiplier of 1.65e9 is past 2^64. */
	c = (struct hg_ring_clock){ .tsc_base = 7, .ns_base = 0,
				    .mult = (uint64_t)((10ull << 32) / 26) };
	/* The multiplier is rounded down, by under one part in 10^9: a microsecond an hour. */
	ck_assert_uint_le(hg_clock_of_tsc(&c, 7 + 3600ull * 2600000000ull), 3600ull * NS_PER_S);
	ck_assert_uint_ge(hg_clock_of_tsc(&c, 7 + 3600ull * 2600000000ull),
			  3600ull * NS_PER_S - 3600);
}
END_TEST

/* Asked not to, or where it cannot, the clock is CLOCK_MONOTONIC itself. */
START_TEST(test_clock_monotonic_when_asked)
{
	struct hg_ring_clock c;
	uint64_t before, now, after;

	memset(&c, 0xa5, sizeof(c));
	ck_assert_int_eq(hg_clock_calibrate(&c, 0), 0);
	ck_assert_uint_eq(c.tsc_base, 0);
	ck_assert_uint_eq(c.ns_base, 0);
	ck_assert_uint_eq(c.mult, 0);
	before = hg_clock_monotonic_ns();
	now = hg_clock_now(&c);
	after = hg_clock_monotonic_ns();
	ck_assert_uint_ge(now, before);
	ck_assert_uint_le(now, after);
}
END_TEST

/*
 * Calibrated, the clock reads what CLOCK_MONOTONIC reads around it, to within the
 * calibration's error (a few parts per million of the 80 ms this spans: well under the 50 us
 * allowed), and never goes back. Where the kernel does not keep time with the TSC, there is no
 * rate and the same holds trivially.
 */
START_TEST(test_clock_calibrated_tracks_clock_monotonic)
{
	struct hg_ring_clock c;
	uint64_t last = 0, slack = 50000;
	int tsc = hg_clock_calibrate(&c, 1);

#if defined(__x86_64__)
	ck_assert_int_eq(tsc, hg_clock_kernel_uses_tsc());
#else
	ck_assert_int_eq(tsc, 0);
#endif
	ck_assert_int_eq(tsc, c.mult != 0);
	for (int i = 0; i < 40; i++) {
		struct timespec pause = { 0, 2000000 };
		uint64_t before = hg_clock_monotonic_ns(), now = hg_clock_now(&c);
		uint64_t after = hg_clock_monotonic_ns();

		ck_assert_uint_ge(now + slack, before);
		ck_assert_uint_le(now, after + slack);
		ck_assert_uint_ge(now, last);
		last = now;
		nanosleep(&pause, NULL);
	}
}
END_TEST

/* The analyzer reads the clock it was given, like the shim. */
START_TEST(test_clock_trace_clock_follows_the_ring)
{
	struct hg_ring_clock c = { .tsc_base = UINT64_MAX / 2, .ns_base = 12345, .mult = 0 };
	uint64_t before, now, after;

	hg_clock_calibrate(&c, 1);
	hg_trace_clock_use(&c);
	ck_assert_mem_eq(&hg_trace_clock, &c, sizeof(c));
	before = hg_clock_monotonic_ns();
	now = hg_trace_ns();
	after = hg_clock_monotonic_ns();
	ck_assert_uint_ge(now + 50000, before);
	ck_assert_uint_le(now, after + 50000);
	memset(&c, 0, sizeof(c));
	hg_trace_clock_use(&c);
	ck_assert_uint_eq(hg_trace_clock.mult, 0);
}
END_TEST

START_TEST(test_clock_env_values)
{
	ck_assert_int_eq(hg_clock_env_parse(NULL), 1);
	ck_assert_int_eq(hg_clock_env_parse(""), 1);
	ck_assert_int_eq(hg_clock_env_parse("tsc"), 1);
	ck_assert_int_eq(hg_clock_env_parse("monotonic"), 0);
	ck_assert_int_eq(hg_clock_env_parse("MONOTONIC"), -1);
	ck_assert_int_eq(hg_clock_env_parse("tsc "), -1);
	ck_assert_int_eq(hg_clock_env_parse("realtime"), -1);
}
END_TEST

Suite *clock_suite(void);

Suite *clock_suite(void)
{
	Suite *s = suite_create("clock");
	TCase *tc = tcase_create("clock");

	tcase_add_test(tc, test_clock_of_tsc_scales_from_the_base);
	tcase_add_test(tc, test_clock_monotonic_when_asked);
	tcase_add_test(tc, test_clock_calibrated_tracks_clock_monotonic);
	tcase_add_test(tc, test_clock_trace_clock_follows_the_ring);
	tcase_add_test(tc, test_clock_env_values);
	suite_add_tcase(s, tc);
	return s;
}
