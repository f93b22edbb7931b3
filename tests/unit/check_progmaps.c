/*
 * check_progmaps.c - unit tests for the table of the program's own mappings (preload/progmaps.c)
 *
 * The table is process-global; Check runs each test in a child of its own, which starts from
 * the empty table of a process that never changed it, and the fixture turns it on (the shim
 * does when the real malloc is glibc's). Addresses are multiples of 2 MiB where a test
 * removes, since removals are rounded outwards to 2 MiB.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>

#include "guard.h"
#include "progmaps.h"

#define MIB (1ull << 20)

/* The table as "[lo,hi) ..." in MiB, for exact comparisons. */
static const char *table(void)
{
	static char buf[4096];
	const struct hg_progmap *v;
	uint32_t n = 0;
	size_t at = 0;

	buf[0] = '\0';
	if (!(v = hg_progmaps_view(&n)))
		return "unusable";
	for (uint32_t i = 0; i < n && at + 64 < sizeof(buf); i++)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%s[%llu,%llu)", i ? " " : "",
				       (unsigned long long)(v[i].lo / MIB),
				       (unsigned long long)(v[i].hi / MIB));
	return buf;
}

START_TEST(test_progmaps_add_keeps_order)
{
	ck_assert_str_eq(table(), "");
	hg_progmaps_add(40 * MIB, 4 * MIB);
	hg_progmaps_add(10 * MIB, 2 * MIB);
	hg_progmaps_add(20 * MIB, 6 * MIB);
	ck_assert_str_eq(table(), "[10,12) [20,26) [40,44)");
}
END_TEST

/* An added range shrinks to whole pages inside it; less than a page adds nothing. */
START_TEST(test_progmaps_add_rounds_inwards)
{
	const struct hg_progmap *v;
	uint32_t n;

	hg_progmaps_add(8 * MIB + 1, 3 * 4096);
	hg_progmaps_add(16 * MIB + 8, 4000);
	v = hg_progmaps_view(&n);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(v[0].lo, 8 * MIB + 4096);
	ck_assert_uint_eq(v[0].hi, 8 * MIB + 3 * 4096);
}
END_TEST

/* A removal widened to 2 MiB each way: one page out of the middle of a range splits it. */
START_TEST(test_progmaps_remove_splits_and_rounds_outwards)
{
	hg_progmaps_add(4 * MIB, 10 * MIB); /* [4,14) */
	hg_progmaps_remove(8 * MIB + 4096, 4096); /* taken as [8,10) */
	ck_assert_str_eq(table(), "[4,8) [10,14)");
	hg_progmaps_remove(13 * MIB, 1); /* [12,14): the tail */
	ck_assert_str_eq(table(), "[4,8) [10,12)");
	hg_progmaps_remove(3 * MIB, 2 * MIB); /* [2,6): the head */
	ck_assert_str_eq(table(), "[6,8) [10,12)");
}
END_TEST

/* A removal across several ranges takes the ones inside and cuts the ones across its ends. */
START_TEST(test_progmaps_remove_across_ranges)
{
	hg_progmaps_add(2 * MIB, 4 * MIB);  /* [2,6) */
	hg_progmaps_add(8 * MIB, 2 * MIB);  /* [8,10) */
	hg_progmaps_add(12 * MIB, 2 * MIB); /* [12,14) */
	hg_progmaps_add(16 * MIB, 6 * MIB); /* [16,22) */
	hg_progmaps_remove(4 * MIB, 14 * MIB); /* [4,18) */
	ck_assert_str_eq(table(), "[2,4) [18,22)");
	hg_progmaps_remove(0, 64 * MIB);
	ck_assert_str_eq(table(), "");
}
END_TEST

/* MAP_FIXED over ranges already there: the new one replaces what it covers. */
START_TEST(test_progmaps_add_over_existing)
{
	hg_progmaps_add(4 * MIB, 6 * MIB); /* [4,10) */
	hg_progmaps_add(6 * MIB, 2 * MIB); /* [6,8) */
	ck_assert_str_eq(table(), "[4,6) [6,8) [8,10)");
	hg_progmaps_add(2 * MIB, 10 * MIB); /* [2,12) */
	ck_assert_str_eq(table(), "[2,12)");
}
END_TEST

START_TEST(test_progmaps_grows)
{
	const struct hg_progmap *v;
	uint32_t n;

	for (uint64_t i = 1000; i > 0; i--)
		hg_progmaps_add(i * 4 * MIB, MIB);
	v = hg_progmaps_view(&n);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(n, 1000);
	for (uint32_t i = 0; i < n; i++) {
		ck_assert_uint_eq(v[i].lo, (i + 1) * 4 * MIB);
		ck_assert_uint_eq(v[i].hi, (i + 1) * 4 * MIB + MIB);
	}
}
END_TEST

/* Held by a thread (here: around a fork) the table is not to be read; free again, it is. */
START_TEST(test_progmaps_not_read_while_held)
{
	hg_progmaps_add(4 * MIB, 2 * MIB);
	hg_progmaps_fork_prepare();
	ck_assert_str_eq(table(), "unusable");
	hg_progmaps_fork_done();
	ck_assert_str_eq(table(), "[4,6)");
}
END_TEST

/* A change from a signal handler that interrupted a change cannot wait for the lock its own
 * thread holds: the table is given up for good, never read half-changed. */
START_TEST(test_progmaps_reentry_gives_up)
{
	hg_progmaps_add(4 * MIB, 2 * MIB);
	hg_tls.in_progmaps = 1; /* as inside a change */
	hg_progmaps_remove(4 * MIB, 2 * MIB);
	hg_tls.in_progmaps = 0;
	ck_assert_str_eq(table(), "unusable");
	hg_progmaps_add(8 * MIB, 2 * MIB);
	ck_assert_str_eq(table(), "unusable");
}
END_TEST

/* Off (another malloc behind the shim) it is never read and adds nothing. */
START_TEST(test_progmaps_off_until_enabled)
{
	uint32_t n = 7;

	hg_progmaps_add(4 * MIB, 2 * MIB);
	ck_assert_ptr_null(hg_progmaps_view(&n));
	hg_progmaps_enable();
	ck_assert_str_eq(table(), "");
}
END_TEST

/* A removal never grows the table (it runs outside the shim's guard): with the array full, a
 * hole in the middle of a range takes the whole range out instead of splitting it. */
START_TEST(test_progmaps_full_remove_drops_whole_range)
{
	const struct hg_progmap *v;
	uint32_t n;

	for (uint64_t i = 0; i < 64; i++) /* the array's first size */
		hg_progmaps_add((4 + 8 * i) * MIB, 6 * MIB);
	hg_progmaps_remove((12 + 2) * MIB, 1); /* inside [12,18) */
	v = hg_progmaps_view(&n);
	ck_assert_ptr_nonnull(v);
	ck_assert_uint_eq(n, 63);
	ck_assert_uint_eq(v[0].lo, 4 * MIB);
	ck_assert_uint_eq(v[1].lo, 20 * MIB);
	/* With room again (the array doubled by an add), a hole splits a range. */
	hg_progmaps_add(1000 * MIB, MIB);
	hg_progmaps_add(1002 * MIB, MIB);
	hg_progmaps_remove((20 + 2) * MIB, 1);
	v = hg_progmaps_view(&n);
	ck_assert_uint_eq(n, 66);
	ck_assert_uint_eq(v[1].hi, 22 * MIB);
	ck_assert_uint_eq(v[2].lo, 24 * MIB);
}
END_TEST

static void enable(void)
{
	hg_progmaps_enable();
}

Suite *progmaps_suite(void);

Suite *progmaps_suite(void)
{
	Suite *s = suite_create("progmaps");
	TCase *tc = tcase_create("table"), *off = tcase_create("off");

	tcase_add_checked_fixture(tc, enable, NULL);
	tcase_add_test(tc, test_progmaps_add_keeps_order);
	tcase_add_test(tc, test_progmaps_add_rounds_inwards);
	tcase_add_test(tc, test_progmaps_remove_splits_and_rounds_outwards);
	tcase_add_test(tc, test_progmaps_remove_across_ranges);
	tcase_add_test(tc, test_progmaps_add_over_existing);
	tcase_add_test(tc, test_progmaps_grows);
	tcase_add_test(tc, test_progmaps_not_read_while_held);
	tcase_add_test(tc, test_progmaps_reentry_gives_up);
	tcase_add_test(tc, test_progmaps_full_remove_drops_whole_range);
	tcase_add_test(off, test_progmaps_off_until_enabled);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, off);
	return s;
}
