/*
 * check_units.c - unit tests for the text reports' units (analyzer/units.c)
 */
#include <check.h>

#include "units.h"

START_TEST(test_units_duration_and_since_start)
{
	char b[64];

	ck_assert_str_eq(hg_format_duration(b, sizeof(b), 850), "850 ns");
	ck_assert_str_eq(hg_format_duration(b, sizeof(b), 12500000), "12.5 ms");
	ck_assert_str_eq(hg_format_duration(b, sizeof(b), 3200000000ull), "3.20 s");
	ck_assert_str_eq(hg_format_duration(b, sizeof(b), 59990000000ull), "59.99 s");
	ck_assert_str_eq(hg_format_duration(b, sizeof(b), 125000000000ull), "2 min 5.0 s");
	ck_assert_str_eq(hg_format_duration(b, sizeof(b), 356400000000000ull), "99 h 0 min 0 s");
	ck_assert_str_eq(hg_format_duration(b, sizeof(b), 3725000000000ull), "1 h 2 min 5 s");
	/* exact times: what the trace says */
	ck_assert_str_eq(hg_format_since_start(b, sizeof(b), 1, 0), "1 ns after start");
	ck_assert_str_eq(hg_format_since_start(b, sizeof(b), 1, 1), "1 ns after start");
	/* rounded to 1 ms: inside the first tick there is nothing more precise to say */
	ck_assert_str_eq(hg_format_since_start(b, sizeof(b), 1, 1000000), "in its first 1.0 ms");
	ck_assert_str_eq(hg_format_since_start(b, sizeof(b), 999999, 1000000),
			 "in its first 1.0 ms");
	ck_assert_str_eq(hg_format_since_start(b, sizeof(b), 1000000, 1000000),
			 "1.0 ms after start");
	ck_assert_str_eq(hg_format_since_start(b, sizeof(b), 2500000000ull, 1000000),
			 "2.50 s after start");
}
END_TEST

Suite *units_suite(void);

Suite *units_suite(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("units");

	tcase_add_test(tc, test_units_duration_and_since_start);
	suite_add_tcase(s, tc);
	return s;
}
