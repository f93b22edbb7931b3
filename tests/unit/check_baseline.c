/*
 * check_baseline.c - unit tests for the leak baseline (analyzer/baseline.c)
 *
 * Keys are built from hand-made frames, files are written to and read from memory, and every
 * expected text is compared whole.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baseline.h"
#include "fixtures.h"

static struct hg_baseline b;

static void setup(void)
{
	hg_baseline_init(&b);
}

static void teardown(void)
{
	fx_restore_stderr();
	hg_baseline_release(&b);
}

static int read_text(const char *text)
{
	FILE *in = fmemopen((void *)text, strlen(text), "r");
	int rc;

	ck_assert_ptr_nonnull(in);
	fx_quiet_stderr();
	rc = hg_baseline_read(&b, in, "base.txt");
	fx_restore_stderr();
	fclose(in);
	return rc;
}

static char *write_text(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(out);
	ck_assert_int_eq(hg_baseline_write(&b, out), 0);
	fclose(out);
	return text;
}

static const char header[] = "# heapgraph baseline 1\n# site KIND BYTES BLOCKS PROGRAM, then one "
			     "line per frame: <tab>FUNCTION<tab>FILE<tab>MODULE\n";

START_TEST(test_baseline_key_uses_basenames_and_no_addresses)
{
	struct hg_frame fr[3] = {
		{ "leak_once", "/home/ci/src/gate.c", 78, "/home/ci/build/gate", 0x401136, 0x1136 },
		{ NULL, NULL, 0, "/lib/x86_64-linux-gnu/libc.so.6", 0x7f0000001234, 0x1234 },
		{ "odd\tname", "x.c", 1, NULL, 0x10, 0 },
	};
	char *key = hg_baseline_stack_key(fr, 3);

	ck_assert_str_eq(key, "leak_once\tgate.c\tgate\n?\t?\tlibc.so.6\nodd name\tx.c\t?\n");
	fr[0].line = 99;
	fr[0].address = 0x555555555136;
	fr[0].file = "/other/checkout/gate.c";
	free(key);
	key = hg_baseline_stack_key(fr, 3);
	ck_assert_str_eq(key, "leak_once\tgate.c\tgate\n?\t?\tlibc.so.6\nodd name\tx.c\t?\n");
	free(key);
}
END_TEST

START_TEST(test_baseline_add_keeps_the_largest)
{
	hg_baseline_add(&b, "gate", "direct", "f\ta.c\tgate\n", 100, 1);
	hg_baseline_add(&b, "gate", "direct", "f\ta.c\tgate\n", 50, 3);
	hg_baseline_add(&b, "gate", "cycle", "f\ta.c\tgate\n", 10, 2);
	ck_assert_uint_eq(b.n, 2);
	ck_assert_uint_eq(hg_baseline_find(&b, "gate", "direct", "f\ta.c\tgate\n")->bytes, 100);
	ck_assert_uint_eq(hg_baseline_find(&b, "gate", "direct", "f\ta.c\tgate\n")->blocks, 3);
	ck_assert_ptr_null(hg_baseline_find(&b, "other", "direct", "f\ta.c\tgate\n"));
}
END_TEST

START_TEST(test_baseline_write_sorted_then_read_back)
{
	char *text, *again;
	struct hg_baseline copy;
	FILE *in;

	hg_baseline_add(&b, "zprog", "direct", "z\tz.c\tzprog\n", 7, 1);
	hg_baseline_add(&b, "aprog", "indirect", "g\tg.c\taprog\nmain\tm.c\taprog\n", 640, 2);
	text = write_text();
	ck_assert_str_eq(text, "# heapgraph baseline 1\n# site KIND BYTES BLOCKS PROGRAM, then one "
			 "line per frame: <tab>FUNCTION<tab>FILE<tab>MODULE\n"
			 "site indirect 640 2 aprog\n\tg\tg.c\taprog\n\tmain\tm.c\taprog\n"
			 "site direct 7 1 zprog\n\tz\tz.c\tzprog\n");
	hg_baseline_init(&copy);
	in = fmemopen(text, strlen(text), "r");
	ck_assert_int_eq(hg_baseline_read(&copy, in, "mem"), 0);
	fclose(in);
	ck_assert_uint_eq(copy.n, 2);
	ck_assert_str_eq(copy.v[0].stack, "g\tg.c\taprog\nmain\tm.c\taprog\n");
	ck_assert_uint_eq(copy.v[0].bytes, 640);
	ck_assert_uint_eq(copy.v[0].blocks, 2);
	again = NULL;
	hg_baseline_release(&b);
	b = copy;
	again = write_text();
	ck_assert_str_eq(again, text);
	free(text);
	free(again);
}
END_TEST

START_TEST(test_baseline_empty_has_only_the_header)
{
	char *text = write_text();

	ck_assert_str_eq(text, header);
	free(text);
	ck_assert_int_eq(read_text(header), 0);
	ck_assert_uint_eq(b.n, 0);
}
END_TEST

START_TEST(test_baseline_rejects_bad_files)
{
	ck_assert_int_eq(read_text(""), -1);
	ck_assert_int_eq(read_text("# heapgraph baseline 2\n"), -1);
	ck_assert_int_eq(read_text("# heapgraph baseline 1\nsite direct 10 1\n"), -1);
	ck_assert_int_eq(read_text("# heapgraph baseline 1\nsite sideways 10 1 prog\n"), -1);
	ck_assert_int_eq(read_text("# heapgraph baseline 1\nsite direct ten 1 prog\n"), -1);
	ck_assert_int_eq(read_text("# heapgraph baseline 1\n\tf\ta.c\tprog\n"), -1);
	ck_assert_int_eq(read_text("# heapgraph baseline 1\nsite direct 1 1 p\n\tf\ta.c\n"), -1);
	ck_assert_int_eq(read_text("# heapgraph baseline 1\nsite direct 1 1 p\n\tf\ta.c\tp\n"), 0);
}
END_TEST

Suite *baseline_suite(void);

Suite *baseline_suite(void)
{
	Suite *s = suite_create("baseline");
	TCase *keys = tcase_create("keys");
	TCase *files = tcase_create("files");
	TCase *all[] = { keys, files };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(keys, test_baseline_key_uses_basenames_and_no_addresses);
	tcase_add_test(keys, test_baseline_add_keeps_the_largest);
	tcase_add_test(files, test_baseline_write_sorted_then_read_back);
	tcase_add_test(files, test_baseline_empty_has_only_the_header);
	tcase_add_test(files, test_baseline_rejects_bad_files);
	return s;
}
