/*
 * check_stack.c - unit tests for the shim's stack table (preload/stack.c)
 *
 * Stacks here are made-up return addresses interned directly, so the tests can use more
 * distinct stacks than any real program unwinds in a test's time, and know each one's frames.
 * The table's tiers hold 2^11, 2^12, ... entries and the next tier is mapped when the newest is
 * 3/4 full.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hg_format.h"
#include "stack.h"

#define TIER0 (1u << 11)

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

/* A fresh table: n new stacks get ids in order and fill `tiers` tiers; interned again, each is
 * found with its id and nothing is added. */
static void intern_twice(uint32_t n, uint32_t tiers)
{
	int inserted;
	uint32_t first;

	ck_assert_int_eq(hg_stack_init(HG_MAX_FRAMES, 1), 0);
	first = hg_stack_count();
	for (uint32_t k = 0; k < n; k++) {
		ck_assert_uint_eq(intern(k, &inserted), first + k + 1);
		ck_assert_int_eq(inserted, 1);
	}
	ck_assert_uint_eq(hg_stack_tiers(), tiers);
	for (uint32_t k = 0; k < n; k++) {
		ck_assert_uint_eq(intern(k, &inserted), first + k + 1);
		ck_assert_int_eq(inserted, 0);
	}
	ck_assert_uint_eq(hg_stack_count(), first + n);
}

/*
 * Past 3/4 of the first tier a second one is mapped: new stacks go there, stacks of the first
 * tier keep their ids, and nothing gets two ids (one thread: no race to add a tier).
 */
START_TEST(test_stack_table_grows_in_tiers)
{
	intern_twice(TIER0 + TIER0 / 2, 2); /* 3,072: past the first tier's capacity */
}
END_TEST

/*
 * Each tier twice the one before: 12,000 stacks fill three (1,535 + 3,071 + 6,143: each takes
 * one more than its 3/4) and spill into a fourth, and every stack keeps its id wherever it
 * went.
 */
START_TEST(test_stack_tiers_double)
{
	intern_twice(12000, 4);
}
END_TEST

/*
 * A table entry holds 24 bits of id. Ids beyond are still handed out, each once, but a stack
 * that got one is not found again: its entry says so (ID_OVERFLOW, which is also the last id
 * that fits), and whoever meets it takes a fresh id, as a stack never seen would. The stack
 * with the last id below that is found as ever.
 */
START_TEST(test_stack_ids_past_24_bits)
{
	const uint32_t top = (1u << 24) - 1; /* ID_OVERFLOW */
	int inserted;

	ck_assert_int_eq(hg_stack_init(HG_MAX_FRAMES, 1), 0);
	hg_stack_set_count(top - 2);
	for (uint32_t k = 0; k < 4; k++) { /* ids top - 1 .. top + 2 */
		ck_assert_uint_eq(intern(900000 + k, &inserted), top - 1 + k);
		ck_assert_int_eq(inserted, 1);
	}
	ck_assert_uint_eq(intern(900000, &inserted), top - 1);
	ck_assert_int_eq(inserted, 0);
	/* Not top, top + 1 or top + 2 again, nor those cut to 24 bits (0 and 1: a wrong stack's) */
	for (uint32_t k = 1; k < 4; k++) {
		ck_assert_uint_eq(intern(900000 + k, &inserted), top + 2 + k);
		ck_assert_int_eq(inserted, 1);
	}
	ck_assert_uint_eq(hg_stack_count(), top + 5);
}
END_TEST

/*
 * A stack's id depends on every frame and on their order: one frame changed anywhere, two
 * neighbours swapped, two frames four apart swapped (the hash's lanes take every fourth frame)
 * and each shorter prefix all give new stacks, and each is found again as itself.
 */
#define DEEP 24

START_TEST(test_stack_identity_is_every_frame_in_order)
{
	void *base[DEEP], *v[3 * DEEP + DEEP][DEEP];
	int len[3 * DEEP + DEEP], n = 0, inserted;
	uint32_t ids[3 * DEEP + DEEP];

	ck_assert_int_eq(hg_stack_init(HG_MAX_FRAMES, 1), 0);
	for (int i = 0; i < DEEP; i++)
		base[i] = (void *)(uintptr_t)(0x7f0000001000ull + 0x40 * (uint64_t)i);
	hg_stack_intern(base, DEEP, &inserted);
	ck_assert_int_eq(inserted, 1);
	for (int i = 0; i < DEEP; i++) { /* frame i changed by one byte */
		memcpy(v[n], base, sizeof(base));
		v[n][i] = (char *)v[n][i] + 1;
		len[n++] = DEEP;
	}
	for (int d = 1; d <= 4; d += 3) /* neighbours, and frames in the same lane */
		for (int i = 0; i + d < DEEP; i++) {
			memcpy(v[n], base, sizeof(base));
			v[n][i] = base[i + d];
			v[n][i + d] = base[i];
			len[n++] = DEEP;
		}
	for (int k = 1; k < DEEP; k++) { /* each shorter prefix */
		memcpy(v[n], base, sizeof(base));
		len[n++] = k;
	}
	for (int i = 0; i < n; i++) {
		ids[i] = hg_stack_intern(v[i], len[i], &inserted);
		ck_assert_msg(inserted, "variant %d (of %d frames) taken for an earlier stack", i,
			      len[i]);
	}
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(hg_stack_intern(v[i], len[i], &inserted), ids[i]);
		ck_assert_int_eq(inserted, 0);
	}
}
END_TEST

Suite *stack_suite(void);

Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tc = tcase_create("table");

	tcase_add_test(tc, test_stack_ids_stable_and_dense);
	tcase_add_test(tc, test_stack_table_grows_in_tiers);
	tcase_add_test(tc, test_stack_tiers_double);
	tcase_add_test(tc, test_stack_ids_past_24_bits);
	tcase_add_test(tc, test_stack_identity_is_every_frame_in_order);
	suite_add_tcase(s, tc);
	return s;
}
