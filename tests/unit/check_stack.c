/*
 * check_stack.c - unit tests for the shim's stack table (preload/stack.c)
 *
 * Stacks here are made-up return addresses interned directly, so the tests can use more
 * distinct stacks than any real program unwinds in a test's time, and know each one's frames.
 * The table's tiers hold 2^15, 2^17, ... entries and the next tier is mapped when the newest is
 * 3/4 full.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "hg_format.h"
#include "stack.h"

#define TIER0 (1u << 15)

/* Intern the 3-frame stack numbered k. */
static uint32_t intern(uint32_t k, int *inserted)
{
	void *ip[3] = { (void *)(uintptr_t)(0x400000u + k), (void *)(uintptr_t)0x500000u,
			(void *)(uintptr_t)(0x600000u + (k % 7)) };

	return hg_stack_intern(ip, 3, inserted);
}

/* One id per distinct stack, the same one each time it is seen, ids dense from 1. */
START_TEST(test_stack_ids_stable_and_dense)
{
	int inserted;
	uint32_t first;

	ck_assert_int_eq(hg_stack_init(HG_MAX_FRAMES, 1), 0);
	first = hg_stack_count();
	for (uint32_t k = 0; k < 1000; k++) {
		ck_assert_uint_eq(intern(k, &inserted), first + k + 1);
		ck_assert_int_eq(inserted, 1);
	}
	for (uint32_t k = 0; k < 1000; k++) {
		ck_assert_uint_eq(intern(k, &inserted), first + k + 1);
		ck_assert_int_eq(inserted, 0);
	}
	ck_assert_uint_eq(hg_stack_count(), first + 1000);
	ck_assert_uint_eq(hg_stack_tiers(), 1);
}
END_TEST

/*
 * Past 3/4 of the first tier a second one is mapped: new stacks go there, stacks of the first
 * tier keep their ids, and nothing gets two ids (one thread: no race to add a tier).
 */
START_TEST(test_stack_table_grows_in_tiers)
{
	const uint32_t n = TIER0 + TIER0 / 2; /* 49,152: past the first tier's capacity */
	int inserted;
	uint32_t first;

	ck_assert_int_eq(hg_stack_init(HG_MAX_FRAMES, 1), 0);
	first = hg_stack_count();
	for (uint32_t k = 0; k < n; k++) {
		ck_assert_uint_eq(intern(k, &inserted), first + k + 1);
		ck_assert_int_eq(inserted, 1);
	}
	ck_assert_uint_eq(hg_stack_tiers(), 2);
	for (uint32_t k = 0; k < n; k++) {
		ck_assert_uint_eq(intern(k, &inserted), first + k + 1);
		ck_assert_int_eq(inserted, 0);
	}
	ck_assert_uint_eq(hg_stack_count(), first + n);
}
END_TEST

Suite *stack_suite(void);

Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, test_stack_ids_stable_and_dense);
	tcase_add_test(tc, test_stack_table_grows_in_tiers);
	suite_add_tcase(s, tc);
	return s;
}
