/*
 * check_stats.c - unit tests for the statistics' parsers and helpers: durations
 * (analyzer/duration.c), filters and allocator plumbing (filter.c), moments (point.c),
 * grouping names (stats.c) and table rows (table.c)
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "filter.h"
#include "fixtures.h"
#include "frames.h"
#include "point.h"
#include "stats.h"
#include "table.h"

static struct hg_filters fs;

static void setup(void)
{
	memset(&fs, 0, sizeof(fs));
}

static void teardown(void)
{
	fx_restore_stderr();
	hg_filters_release(&fs);
}

/* ---- durations -------------------------------------------------------------------------- */

static const struct {
	const char *text;
	uint64_t ns;
} good_durations[] = {
	{ "500ms", 500000000ull }, { "2s", 2000000000ull }, { "1.5m", 90000000000ull },
	{ "0.1s", 100000000ull }, { "250us", 250000ull }, { "3h", 10800000000000ull },
	{ "0ns", 0 }, { "7ns", 7 }, { "1.25s", 1250000000ull }, { "0.000000001s", 1 },
};

START_TEST(test_stats_duration_good)
{
	uint64_t ns = 12345;

	ck_assert_int_eq(hg_parse_duration(good_durations[_i].text, &ns), 0);
	ck_assert_uint_eq(ns, good_durations[_i].ns);
}
END_TEST

static const char *const bad_durations[] = {
	"", "5", "5x", "1.", ".5s", "-1s", "1.5 s", "1e3s", "s", "9999999h", "2sec", "1.0000000001s",
	"1..5s", " 1s",
};

START_TEST(test_stats_duration_bad)
{
	uint64_t ns = 12345;

	ck_assert_int_eq(hg_parse_duration(bad_durations[_i], &ns), -1);
	ck_assert_uint_eq(ns, 12345);
}
END_TEST

/* ---- moments ---------------------------------------------------------------------------- */

START_TEST(test_stats_point_parse)
{
	struct hg_point_spec p;

	ck_assert_int_eq(hg_point_parse("t", "--at", "peak", 1, &p), 0);
	ck_assert_int_eq(p.kind, HG_POINT_PEAK);
	ck_assert_int_eq(hg_point_parse("t", "--at", "end", 1, &p), 0);
	ck_assert_int_eq(p.kind, HG_POINT_END);
	ck_assert_int_eq(hg_point_parse("t", "--at", "1.5s", 1, &p), 0);
	ck_assert_int_eq(p.kind, HG_POINT_TIME);
	ck_assert_uint_eq(p.t_ns, 1500000000ull);
	ck_assert_int_eq(hg_point_parse("t", "--from", "after", 0, &p), 0);
	ck_assert_int_eq(p.kind, HG_POINT_SNAPSHOT);
	ck_assert_str_eq(p.label, "after");
	ck_assert_int_eq(hg_point_parse("t", "--from", "#3", 0, &p), 0);
	ck_assert_ptr_null(p.label);
	ck_assert_uint_eq(p.id, 3);
	ck_assert_uint_eq(hg_point_flags(&p), HG_REPLAY_SKIP_WORDS | HG_REPLAY_SNAPSHOT_SUMS);
	fx_quiet_stderr();
	ck_assert_int_eq(hg_point_parse("t", "--at", "soon", 1, &p), 2);
	ck_assert_int_eq(hg_point_parse("t", "--from", "#x", 0, &p), 2);
	ck_assert_int_eq(hg_point_parse("t", "--from", "#0", 0, &p), 2);
	ck_assert_int_eq(hg_point_parse("t", "--from", "", 0, &p), 2);
}
END_TEST

/* ---- filters ---------------------------------------------------------------------------- */

static const struct hg_frame libc_strdup = { "strdup", "strdup.c", 42,
					     "/lib/x86_64-linux-gnu/libc.so.6",
					     0x1000, 0x1000 };
static const struct hg_frame op_new = { "operator new(unsigned long)", NULL, 0,
					"/usr/lib/libstdc++.so.6", 0x2000, 0x2000 };
static const struct hg_frame helper = { "make_buffer", "/src/app/util.c", 10, "/usr/bin/app",
					0x3000, 0x3000 };
static const struct hg_frame start = { "_start", NULL, 0, "/usr/bin/app", 0x5000, 0x5000 };
static const struct hg_frame caller = { "parse_body", "/src/app/parse.c", 20, "/usr/bin/app",
					0x4000, 0x4000 };

START_TEST(test_stats_filter_fields)
{
	ck_assert_int_eq(hg_filters_add(&fs, "t", 1, "function:make_*"), 0);
	ck_assert_int_eq(hg_filters_add(&fs, "t", 0, "file:*.h"), 0);
	ck_assert_int_eq(hg_filters_add(&fs, "t", 1, "module:app"), 0);
	ck_assert_int_eq(hg_filters_add(&fs, "t", 1, "/src/*:x"), 0); /* not a field word */
	ck_assert_uint_eq(fs.n, 4);
	ck_assert_int_eq(fs.v[0].field, HG_FILTER_FUNCTION);
	ck_assert_str_eq(fs.v[0].pattern, "make_*");
	ck_assert_int_eq(fs.v[1].field, HG_FILTER_FILE);
	ck_assert_int_eq(fs.v[1].include, 0);
	ck_assert_int_eq(fs.v[2].field, HG_FILTER_MODULE);
	ck_assert_int_eq(fs.v[3].field, HG_FILTER_ANY);
	ck_assert_str_eq(fs.v[3].pattern, "/src/*:x");
	fx_quiet_stderr();
	ck_assert_int_eq(hg_filters_add(&fs, "t", 1, "func:x"), -1);
	ck_assert_int_eq(hg_filters_add(&fs, "t", 1, "file:"), -1);
	ck_assert_int_eq(hg_filters_add(&fs, "t", 0, ""), -1);
	ck_assert_uint_eq(fs.n, 4);
}
END_TEST

START_TEST(test_stats_filter_keep)
{
	const struct hg_frame stack[2] = { helper, caller };

	ck_assert_int_eq(hg_filters_keep(&fs, stack, 2), 1); /* no filter keeps all */
	ck_assert_int_eq(hg_filters_add(&fs, "t", 1, "parse_*"), 0);
	ck_assert_int_eq(hg_filters_keep(&fs, stack, 2), 0);  /* innermost only */
	fs.all_frames = 1;
	ck_assert_int_eq(hg_filters_keep(&fs, stack, 2), 1);
	ck_assert_int_eq(hg_filters_add(&fs, "t", 1, "nothing"), 0);
	ck_assert_int_eq(hg_filters_keep(&fs, stack, 2), 1);  /* one include is enough */
	ck_assert_int_eq(hg_filters_add(&fs, "t", 0, "file:parse.c"), 0);
	ck_assert_int_eq(hg_filters_keep(&fs, stack, 2), 0);  /* by basename; exclude wins */
	fs.all_frames = 0;
	ck_assert_int_eq(hg_filters_keep(&fs, stack, 2), 0);  /* no include matches frame 0 */
	hg_filters_release(&fs);
	ck_assert_int_eq(hg_filters_add(&fs, "t", 1, "module:/usr/bin/*"), 0);
	ck_assert_int_eq(hg_filters_keep(&fs, stack, 2), 1);  /* by whole path */
	ck_assert_int_eq(hg_filters_keep(&fs, &libc_strdup, 1), 0);
	ck_assert_int_eq(hg_filters_keep(&fs, stack, 0), 0);  /* an empty stack matches nothing */
}
END_TEST

START_TEST(test_stats_filter_plumbing)
{
	const struct hg_frame a[4] = { libc_strdup, op_new, helper, caller };
	const struct hg_frame all_libc[2] = { libc_strdup, libc_strdup };

	ck_assert_int_eq(hg_frame_is_plumbing(&libc_strdup), 1);
	ck_assert_int_eq(hg_frame_is_plumbing(&op_new), 1);
	ck_assert_int_eq(hg_frame_is_plumbing(&helper), 0);
	ck_assert_int_eq(hg_frame_is_plumbing(&start), 1);
	ck_assert_uint_eq(hg_filters_first_frame(&fs, a, 4), 2);
	ck_assert_uint_eq(hg_filters_first_frame(NULL, a, 4), 2);
	ck_assert_uint_eq(hg_filters_first_frame(&fs, all_libc, 2), 1); /* one frame stays */
	ck_assert_uint_eq(hg_filters_first_frame(&fs, a, 0), 0);
	fs.keep_plumbing = 1;
	ck_assert_uint_eq(hg_filters_first_frame(&fs, a, 4), 0);
}
END_TEST

/* ---- grouping --------------------------------------------------------------------------- */

/*
 * An image with no modules: frames stay unsymbolized (function, file and module NULL), so
 * line groups are one per address. Stacks: 1 = [0x10, 0x20, 0x30] (100 B in 1 block),
 * 2 = [0x10, 0x21, 0x30] (200 B in 2), 3 = [0x11, 0x20, 0x20] (50 B in 1, 0x20 recursing).
 */
static uint64_t ip1[3] = { 0x10, 0x20, 0x30 }, ip2[3] = { 0x10, 0x21, 0x30 },
		ip3[3] = { 0x11, 0x20, 0x20 };
static struct hg_stack stacks[4] = { { 0, 0, NULL }, { 3, 0, ip1 }, { 3, 0, ip2 },
				     { 3, 0, ip3 } };
static struct hg_site sites[4] = { { 0 }, { 100, 1, 3, 300, 2, 200 }, { 200, 2, 2, 200, 0, 0 },
				   { 50, 1, 1, 50, 1, 50 } };

static struct hg_image *toy_image(void)
{
	static struct hg_image im;

	memset(&im, 0, sizeof(im));
	im.sites = sites;
	im.n_sites = 4;
	im.stacks = stacks;
	im.n_stacks = 4;
	return &im;
}

/* The group whose innermost (or only) frame is at address ip. */
static const struct hg_stat *at_ip(const struct hg_stats *st, uint64_t ip)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i]->frames[0].address == ip)
			return st->v[i];
	ck_abort_msg("no group at %#llx", (unsigned long long)ip);
	return NULL;
}

static void expect_group(const struct hg_stats *st, uint64_t ip, uint64_t bytes, uint64_t blocks)
{
	const struct hg_stat *g = at_ip(st, ip);

	ck_assert_uint_eq(g->bytes, bytes);
	ck_assert_uint_eq(g->blocks, blocks);
}

START_TEST(test_stats_group_lines)
{
	struct hg_framer *f = hg_framer_new();
	struct hg_stats_opts o = { HG_GROUP_LINE, 0, 12, &fs };
	struct hg_image *im = toy_image();
	struct hg_stats st, again;

	hg_stats_build(&st, f, im, im->sites, im->n_sites, &o);
	hg_stats_sort(&st, HG_ORDER_SIZE);
	ck_assert_uint_eq(st.n, 2);
	ck_assert_uint_eq(st.bytes, 350);
	ck_assert_uint_eq(st.blocks, 4);
	ck_assert_uint_eq(st.allocations, 6);
	ck_assert_uint_eq(st.temporary, 3);
	expect_group(&st, 0x10, 300, 3);
	expect_group(&st, 0x11, 50, 1);
	ck_assert_uint_eq(at_ip(&st, 0x10)->allocations, 5);
	ck_assert_uint_eq(at_ip(&st, 0x10)->temporary_bytes, 200);
	ck_assert_ptr_eq(st.v[0], at_ip(&st, 0x10)); /* largest first */
	hg_stats_build(&again, f, im, im->sites, im->n_sites, &o); /* same keys: found */
	ck_assert_ptr_nonnull(hg_stats_find(&again, st.v[1]->key));
	ck_assert_ptr_null(hg_stats_find(&again, "nothing"));
	hg_stats_release(&again);
	hg_stats_release(&st);
	hg_framer_free(f);
}
END_TEST

START_TEST(test_stats_group_cumulative_once_per_stack)
{
	struct hg_framer *f = hg_framer_new();
	struct hg_stats_opts o = { HG_GROUP_LINE, 1, 12, &fs };
	struct hg_image *im = toy_image();
	struct hg_stats st;

	hg_stats_build(&st, f, im, im->sites, im->n_sites, &o);
	hg_stats_sort(&st, HG_ORDER_SIZE);
	ck_assert_uint_eq(st.n, 5);
	expect_group(&st, 0x10, 300, 3);
	expect_group(&st, 0x11, 50, 1);
	expect_group(&st, 0x20, 150, 2); /* stack 3 counts once despite two frames */
	expect_group(&st, 0x21, 200, 2);
	expect_group(&st, 0x30, 300, 3);
	ck_assert_uint_eq(st.bytes, 350); /* totals count each block once */
	hg_stats_release(&st);
	hg_framer_free(f);
}
END_TEST

START_TEST(test_stats_group_tracebacks)
{
	struct hg_framer *f = hg_framer_new();
	struct hg_stats_opts o = { HG_GROUP_TRACEBACK, 0, 12, &fs };
	struct hg_image *im = toy_image();
	struct hg_site at_peak[3] = { { 0 }, { 0 }, { 20, 1, 0, 0, 0, 0 } }; /* shorter array */
	struct hg_stats st;

	hg_stats_build(&st, f, im, im->sites, im->n_sites, &o);
	hg_stats_sort(&st, HG_ORDER_COUNT);
	ck_assert_uint_eq(st.n, 3);
	ck_assert_uint_eq(st.v[0]->blocks, 2);
	ck_assert_uint_eq(st.v[0]->n_frames, 3);
	ck_assert_uint_eq(st.v[0]->frames[1].address, 0x21);
	ck_assert_uint_eq(st.v[0]->offset, 0x10); /* no module: the address */
	hg_stats_release(&st);
	o.max_frames = 1; /* stacks 1 and 2 now share their one frame */
	hg_stats_build(&st, f, im, im->sites, im->n_sites, &o);
	hg_stats_sort(&st, HG_ORDER_SIZE);
	ck_assert_uint_eq(st.n, 2);
	expect_group(&st, 0x10, 300, 3);
	hg_stats_release(&st);
	hg_stats_build(&st, f, im, at_peak, 3, &o); /* live elsewhere, whole-run from im */
	hg_stats_sort(&st, HG_ORDER_SIZE);
	ck_assert_uint_eq(st.n, 1);
	expect_group(&st, 0x10, 20, 1);
	hg_stats_sort(&st, HG_ORDER_ALLOCATIONS);
	ck_assert_uint_eq(st.n, 2);
	ck_assert_uint_eq(st.v[0]->allocations, 5);
	hg_stats_release(&st);
	hg_framer_free(f);
}
END_TEST

/* ---- names and tables ------------------------------------------------------------------- */

START_TEST(test_stats_group_names)
{
	struct hg_frame fr = helper;
	struct hg_stat g = { 0 };
	char buf[128];

	g.frames = &fr;
	g.n_frames = 1;
	g.offset = 0x1000; /* fr.address 0x3000 in a module loaded at 0x2000 */
	ck_assert_str_eq(hg_stat_name(&g, HG_GROUP_FUNCTION, 1, buf, sizeof(buf)),
			 "make_buffer (util.c)");
	ck_assert_str_eq(hg_stat_name(&g, HG_GROUP_LINE, 1, buf, sizeof(buf)), "util.c:10 (make_buffer)");
	ck_assert_str_eq(hg_stat_name(&g, HG_GROUP_FILE, 1, buf, sizeof(buf)), "util.c");
	ck_assert_str_eq(hg_stat_name(&g, HG_GROUP_MODULE, 1, buf, sizeof(buf)), "app");
	fr.file = NULL;
	fr.function = NULL;
	ck_assert_str_eq(hg_stat_name(&g, HG_GROUP_FUNCTION, 1, buf, sizeof(buf)),
			 "\?\?\? (app+0x1000)");
	fr.function = "f";
	ck_assert_str_eq(hg_stat_name(&g, HG_GROUP_FUNCTION, 1, buf, sizeof(buf)), "f in app");
	fr.function = NULL;
	ck_assert_str_eq(hg_stat_name(&g, HG_GROUP_LINE, 1, buf, sizeof(buf)), "app+0x1000 (\?\?\?)");
	/* Text shortens a long template argument list in the function (names.h); JSON keeps it. */
	fr.file = "util.cc";
	fr.function = "std::vector<int, std::allocator<int> >::push_back(int const&)";
	ck_assert_str_eq(hg_stat_name(&g, HG_GROUP_FUNCTION, 1, buf, sizeof(buf)),
			 "std::vector<...>::push_back(int const&) (util.cc)");
	ck_assert_str_eq(hg_stat_name(&g, HG_GROUP_FUNCTION, 0, buf, sizeof(buf)),
			 "std::vector<int, std::allocator<int> >::push_back(int const&) (util.cc)");
	ck_assert_int_eq(hg_group_by_parse("line"), HG_GROUP_LINE);
	ck_assert_int_eq(hg_group_by_parse("lines"), -1);
	ck_assert_int_eq(hg_stats_order_parse("temporary"), HG_ORDER_TEMPORARY);
	ck_assert_int_eq(hg_stats_order_parse(NULL), -1);
}
END_TEST

/* The row hg_table_row writes, in a static buffer. */
static const char *row_of(const char *name)
{
	static const int w[2] = { 4, 6 };
	static const char *const cells[2] = { "1", "12 B" };
	static char text[512];
	FILE *f = fmemopen(text, sizeof(text), "w");

	ck_assert_ptr_nonnull(f);
	hg_table_row(f, "  ", w, 2, cells, name);
	fclose(f);
	return text;
}

START_TEST(test_stats_table_row)
{
	char name[200], want[128];

	ck_assert_str_eq(row_of("short"), "     1   12 B  short\n");
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	/* 2 + 4 + 1 + 6 + 2 = 15 columns before the name: 85 left, of which "..." takes 3. */
	snprintf(want, sizeof(want), "     1   12 B  %.82s...\n", name);
	ck_assert_str_eq(row_of(name), want);
	ck_assert_uint_eq(strlen(row_of(name)), 101);
	memset(name, 'y', 85);
	name[85] = '\0';
	ck_assert_uint_eq(strlen(row_of(name)), 101); /* fits exactly: not cut */
	ck_assert_ptr_null(strstr(row_of(name), "..."));
	strcpy(name + 81, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"); /* 86 columns: é x 5 */
	ck_assert_str_eq(row_of(name) + 15 + 81, "\xc3\xa9...\n"); /* no split é */
}
END_TEST

START_TEST(test_stats_table_bar)
{
	char bar[16];

	ck_assert_str_eq(hg_table_bar(bar, sizeof(bar), 5, 10, 10), "#####");
	ck_assert_str_eq(hg_table_bar(bar, sizeof(bar), 1, 10, 4), "#"); /* never rounds to 0 */
	ck_assert_str_eq(hg_table_bar(bar, sizeof(bar), 0, 0, 4), "");
	ck_assert_str_eq(hg_table_bar(bar, 4, 10, 10, 10), "###");
}
END_TEST

Suite *stats_suite(void);

Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *parse = tcase_create("parse");
	TCase *filter = tcase_create("filter");
	TCase *out = tcase_create("output");
	TCase *group = tcase_create("group");
	TCase *all[] = { parse, filter, out, group };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_loop_test(parse, test_stats_duration_good, 0,
			    sizeof(good_durations) / sizeof(good_durations[0]));
	tcase_add_loop_test(parse, test_stats_duration_bad, 0,
			    sizeof(bad_durations) / sizeof(bad_durations[0]));
	tcase_add_test(parse, test_stats_point_parse);
	tcase_add_test(filter, test_stats_filter_fields);
	tcase_add_test(filter, test_stats_filter_keep);
	tcase_add_test(filter, test_stats_filter_plumbing);
	tcase_add_test(group, test_stats_group_lines);
	tcase_add_test(group, test_stats_group_cumulative_once_per_stack);
	tcase_add_test(group, test_stats_group_tracebacks);
	tcase_add_test(out, test_stats_group_names);
	tcase_add_test(out, test_stats_table_row);
	tcase_add_test(out, test_stats_table_bar);
	return s;
}
