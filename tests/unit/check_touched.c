/*
 * check_touched.c - unit tests for the snapshot's page filter (preload/touched.c)
 *
 * A fresh private mapping of 32 pages with pages 3, 10 and 11 written: the filter gives those
 * runs and nothing else, skips the rest, and counts what it skipped. A page given back with
 * MADV_DONTNEED is untouched again. Without a pagemap, every page is touched.
 */
#include <check.h>
#include <stdint.h>
#include <sys/mman.h>

#include "touched.h"

#define PAGE 4096u
#define PAGES 32u

static uint8_t *map_pages(void)
{
	void *p = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		       0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

START_TEST(test_touched_runs_of_written_pages)
{
	uint8_t *m = map_pages();
	uint64_t lo = (uint64_t)(uintptr_t)m, hi = lo + PAGES * PAGE, end;

	m[3 * PAGE + 100] = 1;
	m[10 * PAGE] = 1;
	m[12 * PAGE - 1] = 1;
	hg_touched_open();
	ck_assert_uint_eq(hg_touched_next(lo, hi, &end), lo + 3 * PAGE);
	ck_assert_uint_eq(end, lo + 4 * PAGE);
	/* From inside a touched page: there, to the run's end. */
	ck_assert_uint_eq(hg_touched_next(lo + 3 * PAGE + 8, hi, &end), lo + 3 * PAGE + 8);
	ck_assert_uint_eq(end, lo + 4 * PAGE);
	ck_assert_uint_eq(hg_touched_next(lo + 4 * PAGE, hi, &end), lo + 10 * PAGE);
	ck_assert_uint_eq(end, lo + 12 * PAGE);
	/* A run's end is capped at hi, which need not be a page boundary. */
	ck_assert_uint_eq(hg_touched_next(lo + 10 * PAGE, lo + 11 * PAGE + 24, &end),
			  lo + 10 * PAGE);
	ck_assert_uint_eq(end, lo + 11 * PAGE + 24);
	ck_assert_uint_eq(hg_touched_next(lo + 12 * PAGE, hi, &end), hi);
	ck_assert_uint_eq(end, hi);
	ck_assert_uint_eq(hg_touched_skipped(), (3 + 6 + 20) * PAGE);
	/* Given back: untouched again. */
	ck_assert_int_eq(madvise(m + 3 * PAGE, PAGE, MADV_DONTNEED), 0);
	ck_assert_uint_eq(hg_touched_next(lo, hi, &end), lo + 10 * PAGE);
	hg_touched_close();
	/* No pagemap open: everything is read. */
	ck_assert_uint_eq(hg_touched_next(lo, hi, &end), lo);
	ck_assert_uint_eq(end, hi);
	munmap(m, PAGES * PAGE);
}
END_TEST

Suite *touched_suite(void);

Suite *touched_suite(void)
{
	Suite *s = suite_create("touched");
	TCase *tc = tcase_create("pages");

	tcase_add_test(tc, test_touched_runs_of_written_pages);
	suite_add_tcase(s, tc);
	return s;
}
