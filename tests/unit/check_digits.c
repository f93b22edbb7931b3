/*
 * check_digits.c - unit tests for the shim's number text helpers (preload/digits.h)
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "digits.h"

START_TEST(test_put_decimal)
{
	char buf[24];
	size_t n;

	memset(buf, 'x', sizeof(buf));
	ck_assert_uint_eq(hg_put_decimal(buf, 0), 1);
	ck_assert(!memcmp(buf, "0x", 2)); /* no NUL written */
	n = hg_put_decimal(buf, 4194303);
	ck_assert_uint_eq(n, 7);
	ck_assert(!memcmp(buf, "4194303", 7));
	n = hg_put_decimal(buf, UINT64_MAX);
	ck_assert_uint_eq(n, 20);
	ck_assert(!memcmp(buf, "18446744073709551615", 20));
}
END_TEST

START_TEST(test_hex_prefix)
{
	size_t used = 99;

	/* A maps line's start, and a status line's mask. */
	ck_assert_uint_eq(hg_hex_prefix("7f12ab000-7f12ac000 rw-p", SIZE_MAX, &used), 0x7f12ab000);
	ck_assert_uint_eq(used, 9);
	ck_assert_uint_eq(hg_hex_prefix("fffffffe7ffbfeff\n", 16, &used), 0xfffffffe7ffbfeffull);
	ck_assert_uint_eq(used, 16);
	/* The length bounds it; a NUL, an upper-case digit or anything else ends it. */
	ck_assert_uint_eq(hg_hex_prefix("abcdef", 3, &used), 0xabc);
	ck_assert_uint_eq(used, 3);
	ck_assert_uint_eq(hg_hex_prefix("12\0" "34", SIZE_MAX, &used), 0x12);
	ck_assert_uint_eq(used, 2);
	ck_assert_uint_eq(hg_hex_prefix("1F", SIZE_MAX, &used), 1);
	ck_assert_uint_eq(used, 1);
	ck_assert_uint_eq(hg_hex_prefix("-1", SIZE_MAX, &used), 0);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_dec_prefix)
{
	size_t used = 99;

	/* A syscall file's number, and a task directory's name. */
	ck_assert_uint_eq(hg_dec_prefix("7 0x0 0x0 0xffffffff", SIZE_MAX, &used), 7);
	ck_assert_uint_eq(used, 1);
	ck_assert_uint_eq(hg_dec_prefix("4194303", SIZE_MAX, &used), 4194303);
	ck_assert_uint_eq(used, 7);
	/* The length bounds it; a NUL or anything else ends it. */
	ck_assert_uint_eq(hg_dec_prefix("12345", 2, &used), 12);
	ck_assert_uint_eq(used, 2);
	ck_assert_uint_eq(hg_dec_prefix("12\0" "34", SIZE_MAX, &used), 12);
	ck_assert_uint_eq(used, 2);
	ck_assert_uint_eq(hg_dec_prefix("running", SIZE_MAX, &used), 0);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(hg_dec_prefix("-1 0x0", SIZE_MAX, &used), 0);
	ck_assert_uint_eq(used, 0);
}
END_TEST

Suite *digits_suite(void);

Suite *digits_suite(void)
{
	Suite *s = suite_create("digits");
	TCase *tc = tcase_create("text");

	tcase_add_test(tc, test_put_decimal);
	tcase_add_test(tc, test_hex_prefix);
	tcase_add_test(tc, test_dec_prefix);
	suite_add_tcase(s, tc);
	return s;
}
