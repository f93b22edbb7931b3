/*
 * check_gate_lines.c - unit tests for the lines of a leak site's frame (analyzer/gate_lines.c)
 *
 * A set is filled by hand, as gate.c fills one from the stacks of a merged site, and every
 * entry and every text is compared whole.
 */
#include <check.h>
#include <string.h>

#include "gate.h"

static struct hg_check_lines l;

static void setup(void)
{
	memset(&l, 0, sizeof(l));
}

static void teardown(void)
{
	hg_check_lines_release(&l);
}

/* Entry i of l is file:line with bytes in blocks. */
static void assert_entry(size_t i, const char *file, uint32_t line, uint64_t bytes,
			 uint64_t blocks)
{
	ck_assert_uint_lt(i, l.n);
	ck_assert_str_eq(l.v[i].file, file);
	ck_assert_uint_eq(l.v[i].line, line);
	ck_assert_uint_eq(l.v[i].bytes, bytes);
	ck_assert_uint_eq(l.v[i].blocks, blocks);
}

START_TEST(test_gate_lines_add_sorts_and_merges)
{
	hg_check_lines_add(&l, "/src/fk.c", 13, 577, 1);
	hg_check_lines_add(&l, "/src/fk.c", 9, 1000, 1);
	hg_check_lines_add(&l, "/src/b/fk.c", 40, 8, 1);
	hg_check_lines_add(&l, "/src/fk.c", 13, 100, 2);
	hg_check_lines_add(&l, "/src/fk.c", 10, 16, 1);
	ck_assert_uint_eq(l.n, 4);
	assert_entry(0, "/src/b/fk.c", 40, 8, 1);
	assert_entry(1, "/src/fk.c", 9, 1000, 1);
	assert_entry(2, "/src/fk.c", 10, 16, 1);
	assert_entry(3, "/src/fk.c", 13, 677, 3);
}
END_TEST

START_TEST(test_gate_lines_add_skips_unknown_lines)
{
	hg_check_lines_add(&l, NULL, 12, 10, 1);
	hg_check_lines_add(&l, "/src/fk.c", 0, 20, 1);
	ck_assert_uint_eq(l.n, 0);
	hg_check_lines_add(&l, "/src/fk.c", 12, 30, 1);
	ck_assert_uint_eq(l.n, 1);
	assert_entry(0, "/src/fk.c", 12, 30, 1);
}
END_TEST

START_TEST(test_gate_lines_text_names_each_line)
{
	char buf[256];

	ck_assert_str_eq(hg_check_lines_text(&l, 4, buf, sizeof(buf)), "");
	hg_check_lines_add(&l, "/src/fk.c", 13, 577, 1);
	ck_assert_str_eq(hg_check_lines_text(&l, 4, buf, sizeof(buf)), "fk.c:13");
	hg_check_lines_add(&l, "/src/fk.c", 9, 1000, 1);
	ck_assert_str_eq(hg_check_lines_text(&l, 4, buf, sizeof(buf)), "fk.c:9, fk.c:13");
	hg_check_lines_add(&l, "/src/a/util.h", 200, 8, 1);
	ck_assert_str_eq(hg_check_lines_text(&l, 4, buf, sizeof(buf)),
			 "util.h:200, fk.c:9, fk.c:13");
}
END_TEST

START_TEST(test_gate_lines_text_bounds_the_list)
{
	char buf[256];

	for (uint32_t line = 61; line <= 66; line++)
		hg_check_lines_add(&l, "/src/leak_lines.c", line, 16 * (line - 60), 1);
	ck_assert_str_eq(hg_check_lines_text(&l, 4, buf, sizeof(buf)),
			 "leak_lines.c:61, leak_lines.c:62, leak_lines.c:63, leak_lines.c:64 "
			 "and 2 more");
	ck_assert_str_eq(hg_check_lines_text(&l, 6, buf, sizeof(buf)),
			 "leak_lines.c:61, leak_lines.c:62, leak_lines.c:63, leak_lines.c:64, "
			 "leak_lines.c:65, leak_lines.c:66");
	ck_assert_str_eq(hg_check_lines_text(&l, 1, buf, sizeof(buf)),
			 "leak_lines.c:61 and 5 more");
}
END_TEST

START_TEST(test_gate_lines_text_truncates_to_the_buffer)
{
	char buf[32];

	memset(buf, 'x', sizeof(buf));
	hg_check_lines_add(&l, "/src/fk.c", 9, 1, 1);
	hg_check_lines_add(&l, "/src/fk.c", 13, 1, 1);
	hg_check_lines_add(&l, "/src/fk.c", 21, 1, 1);
	hg_check_lines_add(&l, "/src/fk.c", 34, 1, 1);
	hg_check_lines_add(&l, "/src/fk.c", 55, 1, 1);
	ck_assert_str_eq(hg_check_lines_text(&l, 4, buf, 20), "fk.c:9, fk.c:13, fk");
	ck_assert_int_eq(buf[20], 'x');
	ck_assert_str_eq(hg_check_lines_text(&l, 4, buf, 16), "fk.c:9, fk.c:13");
	ck_assert_str_eq(hg_check_lines_text(&l, 4, buf, sizeof(buf)),
			 "fk.c:9, fk.c:13, fk.c:21, fk.c:");
}
END_TEST

Suite *gate_lines_suite(void);

Suite *gate_lines_suite(void)
{
	Suite *s = suite_create("gate_lines");
	TCase *sets = tcase_create("sets");
	TCase *text = tcase_create("text");
	TCase *all[] = { sets, text };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(sets, test_gate_lines_add_sorts_and_merges);
	tcase_add_test(sets, test_gate_lines_add_skips_unknown_lines);
	tcase_add_test(text, test_gate_lines_text_names_each_line);
	tcase_add_test(text, test_gate_lines_text_bounds_the_list);
	tcase_add_test(text, test_gate_lines_text_truncates_to_the_buffer);
	return s;
}
