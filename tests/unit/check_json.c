/*
 * check_json.c - unit tests for the streaming JSON writer (analyzer/json.c)
 *
 * Each test writes into an open_memstream buffer and compares the whole output, byte for byte,
 * with the expected text.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static FILE *out;
static char *text;
static size_t text_len;
static struct hg_json j;

static void setup(void)
{
	text = NULL;
	text_len = 0;
	out = open_memstream(&text, &text_len);
	ck_assert_ptr_nonnull(out);
	hg_json_init(&j, out);
}

static void teardown(void)
{
	if (out)
		fclose(out);
	out = NULL;
	free(text);
	text = NULL;
}

/* Everything written so far equals `want`. */
static void expect(const char *want)
{
	ck_assert_int_eq(fflush(out), 0);
	ck_assert_uint_eq(text_len, strlen(want));
	ck_assert_str_eq(text, want);
}

START_TEST(test_json_empty_containers)
{
	hg_json_object(&j, NULL);
	hg_json_object(&j, "o");
	hg_json_end(&j);
	hg_json_array(&j, "a");
	hg_json_end(&j);
	hg_json_end(&j);
	hg_json_finish(&j);
	expect("{\"o\":{},\"a\":[]}\n");
}
END_TEST

START_TEST(test_json_nesting_and_commas)
{
	hg_json_object(&j, NULL);
	hg_json_u64(&j, "n", 1);
	hg_json_array(&j, "list");
	hg_json_u64(&j, NULL, 1);
	hg_json_object(&j, NULL);
	hg_json_bool(&j, "yes", 1);
	hg_json_bool(&j, "no", 0);
	hg_json_end(&j);
	hg_json_array(&j, NULL);
	hg_json_array(&j, NULL);
	hg_json_end(&j);
	hg_json_null(&j, NULL);
	hg_json_end(&j);
	hg_json_str(&j, NULL, "x");
	hg_json_end(&j);
	hg_json_i64(&j, "last", -1);
	hg_json_end(&j);
	hg_json_finish(&j);
	expect("{\"n\":1,\"list\":[1,{\"yes\":true,\"no\":false},[[],null],\"x\"],\"last\":-1}\n");
}
END_TEST

START_TEST(test_json_integer_extremes)
{
	hg_json_array(&j, NULL);
	hg_json_u64(&j, NULL, 0);
	hg_json_u64(&j, NULL, UINT64_MAX);
	hg_json_i64(&j, NULL, INT64_MIN);
	hg_json_i64(&j, NULL, INT64_MAX);
	hg_json_end(&j);
	expect("[0,18446744073709551615,-9223372036854775808,9223372036854775807]");
}
END_TEST

START_TEST(test_json_escapes_quote_and_backslash)
{
	hg_json_object(&j, NULL);
	hg_json_str(&j, "s", "a\"b\\c");
	hg_json_end(&j);
	expect("{\"s\":\"a\\\"b\\\\c\"}");
}
END_TEST

START_TEST(test_json_escapes_control_characters)
{
	hg_json_array(&j, NULL);
	hg_json_str(&j, NULL, "\n\r\t");
	hg_json_str(&j, NULL, "\x01\x08\x0c\x1f");
	hg_json_str(&j, NULL, " \x7f~");
	hg_json_end(&j);
	expect("[\"\\n\\r\\t\",\"\\u0001\\u0008\\u000c\\u001f\",\" \x7f~\"]");
}
END_TEST

START_TEST(test_json_utf8_passes_through)
{
	hg_json_str(&j, NULL, "gr\xc3\xbc\xc3\x9f \xe2\x82\xac");
	expect("\"gr\xc3\xbc\xc3\x9f \xe2\x82\xac\"");
}
END_TEST

START_TEST(test_json_keys_are_escaped)
{
	hg_json_object(&j, NULL);
	hg_json_u64(&j, "we\"ird\n", 7);
	hg_json_end(&j);
	expect("{\"we\\\"ird\\n\":7}");
}
END_TEST

START_TEST(test_json_null_string_is_null)
{
	hg_json_object(&j, NULL);
	hg_json_str(&j, "a", NULL);
	hg_json_str(&j, "b", "");
	hg_json_null(&j, "c");
	hg_json_end(&j);
	expect("{\"a\":null,\"b\":\"\",\"c\":null}");
}
END_TEST

START_TEST(test_json_end_at_top_level_is_ignored)
{
	hg_json_end(&j);
	hg_json_u64(&j, NULL, 5);
	hg_json_end(&j);
	hg_json_finish(&j);
	expect("5\n");
}
END_TEST

START_TEST(test_json_deepest_supported_nesting)
{
	/* HG_JSON_MAX_DEPTH - 1 containers open at once, each with a member after its child. */
	char want[4 * HG_JSON_MAX_DEPTH + 16], *p = want;
	int n = HG_JSON_MAX_DEPTH - 1;

	for (int i = 0; i < n; i++)
		hg_json_array(&j, NULL);
	for (int i = 0; i < n; i++) {
		hg_json_end(&j);
		if (i + 1 < n)
			hg_json_u64(&j, NULL, (uint64_t)i % 10);
	}
	for (int i = 0; i < n; i++)
		*p++ = '[';
	for (int i = 0; i < n; i++) {
		*p++ = ']';
		if (i + 1 < n) {
			*p++ = ',';
			*p++ = (char)('0' + i % 10);
		}
	}
	*p = '\0';
	expect(want);
}
END_TEST

Suite *json_suite(void);

Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *structure = tcase_create("structure");
	TCase *scalars = tcase_create("scalars");
	TCase *escaping = tcase_create("escaping");
	TCase *all[] = { structure, scalars, escaping };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(structure, test_json_empty_containers);
	tcase_add_test(structure, test_json_nesting_and_commas);
	tcase_add_test(structure, test_json_end_at_top_level_is_ignored);
	tcase_add_test(structure, test_json_deepest_supported_nesting);
	tcase_add_test(scalars, test_json_integer_extremes);
	tcase_add_test(scalars, test_json_null_string_is_null);
	tcase_add_test(escaping, test_json_escapes_quote_and_backslash);
	tcase_add_test(escaping, test_json_escapes_control_characters);
	tcase_add_test(escaping, test_json_utf8_passes_through);
	tcase_add_test(escaping, test_json_keys_are_escaped);
	return s;
}
