/*
 * check_suppress.c - unit tests for leak suppressions (analyzer/suppress.c)
 *
 * Patterns are checked against exact strings; files are parsed from fmemopen'd text, and a bad
 * line's message is captured from stderr and compared whole.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "suppress.h"

static struct hg_suppressions s;
static struct fx_scratch scratch;
static char errpath[FX_PATH_BYTES];
static int saved_err = -1;

static void setup(void)
{
	hg_suppressions_init(&s);
	fx_scratch_make(&scratch);
	fx_scratch_file(&scratch, "stderr.txt", errpath);
}

static void teardown(void)
{
	if (saved_err >= 0) {
		dup2(saved_err, 2);
		close(saved_err);
		saved_err = -1;
	}
	hg_suppressions_release(&s);
	fx_scratch_remove(&scratch);
}

/* Parse text as the file `name`; stderr goes to errpath meanwhile. */
static int parse(const char *text, const char *name)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	FILE *err = fopen(errpath, "w");
	int rc;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(err);
	fflush(stderr);
	saved_err = dup(2);
	dup2(fileno(err), 2);
	fclose(err);
	rc = hg_suppressions_read(&s, in, name);
	fflush(stderr);
	dup2(saved_err, 2);
	close(saved_err);
	saved_err = -1;
	fclose(in);
	return rc;
}

static void expect_stderr(const char *want)
{
	size_t n;
	uint8_t *got = fx_slurp(errpath, &n);

	ck_assert_uint_eq(n, strlen(want));
	ck_assert_mem_eq(got, want, n);
	free(got);
}

static struct hg_frame frame(const char *fn, const char *file, const char *module)
{
	return (struct hg_frame){ fn, file, 12, module, 0x1000, 0x1000 };
}

START_TEST(test_suppress_pattern_substring_and_anchors)
{
	ck_assert_int_eq(hg_suppress_pattern_match("leak", "make_leak_now"), 1);
	ck_assert_int_eq(hg_suppress_pattern_match("^make", "make_leak_now"), 1);
	ck_assert_int_eq(hg_suppress_pattern_match("^leak", "make_leak_now"), 0);
	ck_assert_int_eq(hg_suppress_pattern_match("now$", "make_leak_now"), 1);
	ck_assert_int_eq(hg_suppress_pattern_match("leak$", "make_leak_now"), 0);
	ck_assert_int_eq(hg_suppress_pattern_match("^make_leak_now$", "make_leak_now"), 1);
	ck_assert_int_eq(hg_suppress_pattern_match("^make_leak$", "make_leak_now"), 0);
	ck_assert_int_eq(hg_suppress_pattern_match("leak", NULL), 0);
}
END_TEST

START_TEST(test_suppress_pattern_stars)
{
	ck_assert_int_eq(hg_suppress_pattern_match("^std::*::push_back",
						   "std::vector<int>::push_back(int)"), 1);
	ck_assert_int_eq(hg_suppress_pattern_match("^a*b*c$", "axxbyyc"), 1);
	ck_assert_int_eq(hg_suppress_pattern_match("^a*b*c$", "axxcyyb"), 0);
	ck_assert_int_eq(hg_suppress_pattern_match("^*$", ""), 1);
	ck_assert_int_eq(hg_suppress_pattern_match("a**c", "abc"), 1);
	ck_assert_int_eq(hg_suppress_pattern_match("libfoo*.so", "/usr/lib/libfoo-2.1.so.3"), 1);
}
END_TEST

START_TEST(test_suppress_file_lines)
{
	ck_assert_int_eq(parse("# comment\n\n  leak:first_fn  \nleak:^lib/*.c$\r\nleak:libz.so",
			       "s.supp"), 0);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_str_eq(s.v[0].pattern, "first_fn");
	ck_assert_uint_eq(s.v[0].line, 3);
	ck_assert_str_eq(s.v[0].source, "s.supp");
	ck_assert_str_eq(s.v[1].pattern, "^lib/*.c$");
	ck_assert_uint_eq(s.v[1].line, 4);
	ck_assert_str_eq(s.v[2].pattern, "libz.so");
	ck_assert_uint_eq(s.v[2].line, 5);
}
END_TEST

START_TEST(test_suppress_bad_type_names_file_and_line)
{
	ck_assert_int_eq(parse("leak:ok\nrace:foo\n", "ci.supp"), -1);
	expect_stderr("heapgraph: error: suppressions 'ci.supp' line 2: unsupported type 'race' "
		      "(heapgraph reads only 'leak:PATTERN')\n");
	ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(test_suppress_missing_colon_and_empty_pattern)
{
	ck_assert_int_eq(parse("\nleak_fn\n", "a.supp"), -1);
	expect_stderr("heapgraph: error: suppressions 'a.supp' line 2: expected 'leak:PATTERN', got "
		      "'leak_fn'\n");
	ck_assert_int_eq(parse("leak:\n", "b.supp"), -1);
	expect_stderr("heapgraph: error: suppressions 'b.supp' line 1: empty pattern after "
		      "'leak:'\n");
}
END_TEST

START_TEST(test_suppress_match_any_frame_field)
{
	struct hg_frame fr[3] = {
		frame("xmalloc", "/src/util/xmalloc.c", "/usr/bin/tool"),
		frame("parse_config", "/src/config.c", "/usr/lib/libcfg.so.1"),
		frame("main", "/src/main.c", "/usr/bin/tool"),
	};
	struct hg_suppression *m;

	ck_assert_int_eq(parse("leak:no_such\nleak:libcfg.so\nleak:main.c$\n", "x"), 0);
	m = hg_suppressions_match(&s, fr, 3);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->pattern, "libcfg.so");
	fr[1].module = "/usr/lib/libother.so";
	m = hg_suppressions_match(&s, fr, 3);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(m->pattern, "main.c$");
	ck_assert_ptr_null(hg_suppressions_match(&s, fr, 2));
}
END_TEST

START_TEST(test_suppress_builtin_looks_at_the_allocating_frame)
{
	struct hg_frame fr[2] = {
		frame("user_alloc", "/src/a.c", "/usr/bin/prog"),
		frame("_IO_file_doallocate", "filedoalloc.c", "/lib/x86_64-linux-gnu/libc.so.6"),
	};

	hg_suppressions_add_builtin(&s);
	/* stdio's buffer allocator in frames[1] does not hide the program's allocation */
	ck_assert_ptr_null(hg_suppressions_match(&s, fr, 2));
	fr[0] = fr[1];
	ck_assert_ptr_nonnull(hg_suppressions_match(&s, fr, 2));
	ck_assert_str_eq(hg_suppressions_match(&s, fr, 2)->pattern, "^_IO_file_doallocate$");
}
END_TEST

START_TEST(test_suppress_builtin_caller_and_any_frame)
{
	struct hg_frame pool[2] = {
		frame(NULL, NULL, "/lib/x86_64-linux-gnu/libstdc++.so.6"),
		frame("call_init", "dl-init.c", "/lib64/ld-linux-x86-64.so.2"),
	};
	struct hg_frame str[2] = {
		frame("std::string::_M_mutate", NULL, "/lib/x86_64-linux-gnu/libstdc++.so.6"),
		frame("main", "/src/main.cc", "/usr/bin/prog"),
	};
	struct hg_frame loc[3] = {
		frame("_nl_intern_locale_data", "loadlocale.c", "/lib/x86_64-linux-gnu/libc.so.6"),
		frame("_nl_find_locale", "findlocale.c", "/lib/x86_64-linux-gnu/libc.so.6"),
		frame("main", "/src/main.c", "/usr/bin/prog"),
	};

	hg_suppressions_add_builtin(&s);
	ck_assert_ptr_nonnull(hg_suppressions_match(&s, pool, 2));
	ck_assert_ptr_null(hg_suppressions_match(&s, str, 2));
	ck_assert_ptr_nonnull(hg_suppressions_match(&s, loc, 3));
	ck_assert_str_eq(hg_suppressions_match(&s, loc, 3)->source, "built-in");
}
END_TEST

Suite *suppress_suite(void);

Suite *suppress_suite(void)
{
	Suite *su = suite_create("suppress");
	TCase *patterns = tcase_create("patterns");
	TCase *files = tcase_create("files");
	TCase *matching = tcase_create("matching");
	TCase *all[] = { patterns, files, matching };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(su, all[i]);
	}
	tcase_add_test(patterns, test_suppress_pattern_substring_and_anchors);
	tcase_add_test(patterns, test_suppress_pattern_stars);
	tcase_add_test(files, test_suppress_file_lines);
	tcase_add_test(files, test_suppress_bad_type_names_file_and_line);
	tcase_add_test(files, test_suppress_missing_colon_and_empty_pattern);
	tcase_add_test(matching, test_suppress_match_any_frame_field);
	tcase_add_test(matching, test_suppress_builtin_looks_at_the_allocating_frame);
	tcase_add_test(matching, test_suppress_builtin_caller_and_any_frame);
	return su;
}
