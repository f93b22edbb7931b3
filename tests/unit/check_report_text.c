/*
 * check_report_text.c - the words the text reports use for how a process or a snapshot ended
 */
#include <check.h>
#include <signal.h>
#include <string.h>

#include "replay.h"
#include "report.h"

START_TEST(test_report_text_end_and_cut_snapshot)
{
	struct hg_replay r = { 0 };
	struct hg_image im = { 0 };
	char buf[128], damage[] = "truncated at byte 64";

	im.end_kind = HG_END_SIGNAL;
	im.exit_status = SIGTERM;
	ck_assert_str_eq(hg_image_end_text(&im, buf, sizeof(buf)), "killed by signal 15 (SIGTERM)");
	ck_assert_str_eq(hg_snapshot_cut_text(&r, &im, buf, sizeof(buf)),
			 "cut off: the process was killed by signal 15 (SIGTERM) while it was "
			 "taken");
	r.damage = damage; /* damage explains it first, whatever the end */
	ck_assert_str_eq(hg_snapshot_cut_text(&r, &im, buf, sizeof(buf)), "cut off by the damage");
	r.damage = NULL;
	im.end_kind = HG_END_UNKNOWN;
	ck_assert_str_eq(hg_image_end_text(&im, buf, sizeof(buf)), "end not recorded");
	ck_assert_str_eq(hg_snapshot_cut_text(&r, &im, buf, sizeof(buf)),
			 "cut off: the trace ends before the snapshot does");
	im.end_kind = HG_END_CODE;
	im.exit_status = 3;
	ck_assert_str_eq(hg_image_end_text(&im, buf, sizeof(buf)), "exited with code 3");
}
END_TEST

Suite *report_text_suite(void);

Suite *report_text_suite(void)
{
	Suite *s = suite_create("report_text");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_report_text_end_and_cut_snapshot);
	suite_add_tcase(s, tc);
	return s;
}
