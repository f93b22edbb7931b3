/*
 * check_heaptop.c - unit tests for the blocks' high-water marks (analyzer/heaptop.c)
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "heaptop.h"

#define WIN (1ull << HG_HEAPTOP_SHIFT)

static struct hg_heaptop h;

static void setup(void)
{
	memset(&h, 0, sizeof(h));
}

static void teardown(void)
{
	hg_heaptop_release(&h);
}

START_TEST(test_heaptop_empty_is_lo)
{
	ck_assert_uint_eq(hg_heaptop_high(&h, 0x1000, 0x9000), 0x1000);
	ck_assert_uint_eq(hg_heaptop_high(&h, 0x9000, 0x9000), 0x9000); /* an empty range */
	ck_assert_uint_eq(h.n, 0);
}
END_TEST

/* A mark only grows: a lower block after a higher one, or a free, leaves it. */
START_TEST(test_heaptop_marks_only_grow)
{
	hg_heaptop_note(&h, 0x2000, 0x100);
	hg_heaptop_note(&h, 0x5000, 0x300);
	hg_heaptop_note(&h, 0x3000, 0x10);
	ck_assert_uint_eq(h.n, 1);
	ck_assert_uint_eq(h.v[0].window, 0);
	ck_assert_uint_eq(h.v[0].end, 0x5300);
	ck_assert_uint_eq(hg_heaptop_high(&h, 0x1000, 0x9000), 0x5300);
	ck_assert_uint_eq(hg_heaptop_high(&h, 0x1000, 0x5200), 0x5200); /* held within [lo, hi] */
}
END_TEST

/* Marks stay sorted by window whatever order the blocks come in; the last one noted is
 * cached. */
START_TEST(test_heaptop_windows_sorted)
{
	hg_heaptop_note(&h, 5 * WIN + 0x10, 0x20);
	hg_heaptop_note(&h, 1 * WIN + 0x40, 0x20);
	hg_heaptop_note(&h, 3 * WIN, 0x8);
	hg_heaptop_note(&h, 1 * WIN + 0x80, 0x20);
	ck_assert_uint_eq(h.n, 3);
	ck_assert_uint_eq(h.v[0].window, 1);
	ck_assert_uint_eq(h.v[0].end, WIN + 0xa0);
	ck_assert_uint_eq(h.v[1].window, 3);
	ck_assert_uint_eq(h.v[1].end, 3 * WIN + 0x8);
	ck_assert_uint_eq(h.v[2].window, 5);
	ck_assert_uint_eq(h.v[2].end, 5 * WIN + 0x30);
	ck_assert_uint_eq(h.last, 0);
}
END_TEST

/*
 * A range over several windows (a brk heap of more than 64 MiB) takes the highest mark among
 * them; windows wholly below lo or at or above hi do not count.
 */
START_TEST(test_heaptop_range_over_windows)
{
	hg_heaptop_note(&h, 0x100, 0x10);              /* window 0, below the range */
	hg_heaptop_note(&h, 2 * WIN + 0x1000, 0x100);  /* window 2 */
	hg_heaptop_note(&h, 3 * WIN + 0x2000, 0x200);  /* window 3 */
	hg_heaptop_note(&h, 5 * WIN + 0x10, 0x10);     /* window 5, above the range */
	ck_assert_uint_eq(hg_heaptop_high(&h, WIN + 0x500, 4 * WIN), 3 * WIN + 0x2200);
	ck_assert_uint_eq(hg_heaptop_high(&h, WIN + 0x500, 3 * WIN), 2 * WIN + 0x1100);
	ck_assert_uint_eq(hg_heaptop_high(&h, WIN, 2 * WIN), WIN); /* no block in window 1 */
}
END_TEST

/* In the window of the range's end, a block of another mapping above it makes the whole
 * range count as used, never as untouched; one below its start counts for nothing. */
START_TEST(test_heaptop_other_mapping_in_the_window)
{
	hg_heaptop_note(&h, 0x100000, 0x40);
	hg_heaptop_note(&h, 0x10, 0x20);
	ck_assert_uint_eq(hg_heaptop_high(&h, 0x1000, 0x21000), 0x21000);
	hg_heaptop_release(&h);
	hg_heaptop_note(&h, 0x10, 0x20);
	ck_assert_uint_eq(hg_heaptop_high(&h, 0x1000, 0x21000), 0x1000);
}
END_TEST

START_TEST(test_heaptop_copy_is_independent)
{
	struct hg_heaptop c = { 0 };

	hg_heaptop_note(&h, 0x1000, 0x10);
	hg_heaptop_note(&h, WIN + 0x1000, 0x10);
	hg_heaptop_copy(&c, &h);
	hg_heaptop_note(&h, 0x8000, 0x10);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_uint_eq(c.last, 1);
	ck_assert_uint_eq(hg_heaptop_high(&c, 0, WIN), 0x1010);
	ck_assert_uint_eq(hg_heaptop_high(&h, 0, WIN), 0x8010);
	hg_heaptop_release(&h);
	hg_heaptop_copy(&c, &h); /* an empty source empties the copy */
	ck_assert_uint_eq(c.n, 0);
	ck_assert_ptr_null(c.v);
	hg_heaptop_release(&c);
}
END_TEST

Suite *heaptop_suite(void);

Suite *heaptop_suite(void)
{
	Suite *s = suite_create("heaptop");
	TCase *tc = tcase_create("marks");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_heaptop_empty_is_lo);
	tcase_add_test(tc, test_heaptop_marks_only_grow);
	tcase_add_test(tc, test_heaptop_windows_sorted);
	tcase_add_test(tc, test_heaptop_range_over_windows);
	tcase_add_test(tc, test_heaptop_other_mapping_in_the_window);
	tcase_add_test(tc, test_heaptop_copy_is_independent);
	suite_add_tcase(s, tc);
	return s;
}
