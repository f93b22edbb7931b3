/*
 * check_replay.c - unit tests for the heap replay (analyzer/replay.c)
 *
 * Every test writes a synthetic trace with the real writer, from records built by hand, and
 * checks hg_replay_file's result field by field. Times are offsets from T, an arbitrary
 * CLOCK_MONOTONIC value; peak times are relative to the image's PROCESS record. Blocks are
 * written in the order a collector could produce them, which is not always time order. This
 * file holds the suite and its totals and damage cases; the merge and processes cases are in
 * check_replay_merge.c and check_replay_procs.c, and the rig they share in replay_rig.c.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "hg_format.h"
#include "peak.h"
#include "replay.h"
#include "trace_reader.h"
#include "trace_writer.h"
#include "replay_rig.h"

/* ---- totals, sites, stacks -------------------------------------------------------------- */

/* _i: 0 stored blocks, 1 zstd-packed blocks; the replay must not care. */
START_TEST(test_replay_totals_sites_and_stacks)
{
	static const uint64_t ip1[2] = { 0x1000, 0x2000 }, ip2[1] = { 0x3000 };
	const struct hg_trace_header *h;
	struct hg_trace_reader *rd;
	const struct hg_stack *st;
	struct hg_image *im;

	if (_i) {
		hg_trace_writer_close(rr_rig.w);
		rr_rig.w = hg_trace_writer_open(rr_rig.path, 3);
		ck_assert_ptr_nonnull(rr_rig.w);
	}
	rr_process(0, T, 100, 1, "prog\0-x\0", 8, "/usr/bin/prog");
	fx_stack(&rr_rig.b, 1, 2, ip1);
	fx_stack(&rr_rig.b, 2, 1, ip2);
	rr_alloc(T + 10, A, 100, 1);
	rr_alloc(T + 20, B, 200, 2);
	fx_free(&rr_rig.b, T + 30, A);
	rr_alloc(T + 40, C, 50, 1);
	fx_free(&rr_rig.b, T + 50, X); /* never allocated */
	rr_alloc(T + 60, D, 10, 2);
	rr_block(100, 100);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 1);
	ck_assert_uint_eq(rr_rig.r->n_records, 9 + 1); /* and the END record */
	ck_assert_ptr_null(rr_rig.r->damage);
	ck_assert_uint_eq(rr_rig.r->lost_events, 0);
	ck_assert_str_eq(rr_rig.r->path, rr_rig.path);
	rd = hg_trace_reader_open(rr_rig.path);
	ck_assert_ptr_nonnull(rd);
	h = hg_trace_reader_header(rd);
	ck_assert_uint_eq(rr_rig.r->t0_ns, h->created_mono_ns);
	hg_trace_reader_close(rd);

	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->pid, 100);
	ck_assert_uint_eq(im->ppid, 1);
	ck_assert_int_eq(im->forked, 0);
	ck_assert_int_eq(im->exec, 0);
	ck_assert_int_eq(im->bare, 0);
	ck_assert_str_eq(im->command, "prog -x");
	ck_assert_str_eq(im->exe, "/usr/bin/prog");
	ck_assert_uint_eq(im->max_frames, 64);
	ck_assert_uint_eq(im->t_start_ns, T);
	ck_assert_ptr_null(im->parent);
	ck_assert_int_eq(im->end_kind, HG_END_UNKNOWN);

	ck_assert_uint_eq(im->totals.allocations, 4);
	ck_assert_uint_eq(im->totals.frees, 1);
	ck_assert_uint_eq(im->totals.allocated_bytes, 360);
	ck_assert_uint_eq(im->totals.peak_bytes, 300);
	ck_assert_uint_eq(im->totals.peak_time_ns, 20);
	ck_assert_uint_eq(im->totals.live_bytes, 260);
	ck_assert_uint_eq(im->totals.live_blocks, 3);
	ck_assert_uint_eq(im->totals.lost_events, 0);
	ck_assert_uint_eq(im->totals.unknown_frees, 1);

	rr_expect_site(im, 0, 0, 0, 0, 0);
	rr_expect_site(im, 1, 50, 1, 2, 150);
	rr_expect_site(im, 2, 210, 2, 2, 210);
	ck_assert_uint_eq(im->live.n, 3);
	rr_expect_live(im, B, 200, 2);
	rr_expect_live(im, C, 50, 1);
	rr_expect_live(im, D, 10, 2);
	ck_assert(!rr_is_live(im, A));

	st = hg_image_stack(im, 1);
	ck_assert_ptr_nonnull(st);
	ck_assert_uint_eq(st->n_frames, 2);
	ck_assert_mem_eq(st->ip, ip1, sizeof(ip1));
	st = hg_image_stack(im, 2);
	ck_assert_ptr_nonnull(st);
	ck_assert_uint_eq(st->n_frames, 1);
	ck_assert_uint_eq(st->ip[0], 0x3000);
	ck_assert_ptr_null(hg_image_stack(im, 0));
	ck_assert_ptr_null(hg_image_stack(im, 3));
	ck_assert_ptr_null(hg_image_stack(im, 1000));
}
END_TEST

START_TEST(test_replay_bare_flag_and_empty_cmdline)
{
	struct hg_image *im;

	rr_process(HG_PROCESS_BARE, T, 7, 6, "", 0, "/bin/true");
	rr_block(7, 7);
	rr_replay();
	ck_assert_uint_eq(rr_rig.r->n_images, 1);
	im = rr_rig.r->images[0];
	ck_assert_int_eq(im->bare, 1);
	ck_assert_str_eq(im->command, "");
	ck_assert_str_eq(im->exe, "/bin/true");
	ck_assert_uint_eq(im->totals.peak_bytes, 0);
}
END_TEST

/* An allocation at an address already live: its free was never seen. */
START_TEST(test_replay_alloc_over_live_block)
{
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_alloc(T + 10, A, 100, 1);
	rr_alloc(T + 20, A, 30, 2);
	rr_block(100, 100);
	rr_replay();
	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 2);
	ck_assert_uint_eq(im->totals.allocated_bytes, 130);
	ck_assert_uint_eq(im->totals.frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 1);
	ck_assert_uint_eq(im->totals.live_bytes, 30);
	ck_assert_uint_eq(im->totals.peak_bytes, 100);
	ck_assert_uint_eq(im->totals.peak_time_ns, 10);
	rr_expect_site(im, 1, 0, 0, 1, 100);
	rr_expect_site(im, 2, 30, 1, 1, 30);
	rr_expect_live(im, A, 30, 2);
}
END_TEST

/*
 * The live map keeps a block's size in 32 bits and a larger one apart: sizes of 4 GiB and more
 * (and 2^32 - 1, where the two meet) come back whole, through an overwrite, a free and a fork.
 */
START_TEST(test_replay_blocks_of_4_gib_and_more)
{
	const uint64_t G = 1ull << 30, edge = 0xffffffffull;
	struct hg_image *im, *child;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_alloc(T + 10, A, 5 * G, 1);
	rr_alloc(T + 20, B, edge, 2);
	rr_alloc(T + 30, A, 100, 3); /* over the live 5 GiB: its free was never seen */
	rr_alloc(T + 40, C, 6 * G, 1);
	rr_alloc(T + 50, D, 7 * G, 2);
	rr_alloc(T + 60, D, 8 * G, 2); /* a large one over a large one */
	fx_free(&rr_rig.b, T + 70, B);
	rr_block(100, 100);
	rr_process(HG_PROCESS_FORK, T + 80, 101, 100, "p", 1, "/p");
	rr_block(101, 101);
	rr_replay();
	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.allocated_bytes, 26 * G + edge + 100);
	ck_assert_uint_eq(im->totals.live_bytes, 14 * G + 100);
	ck_assert_uint_eq(im->totals.peak_bytes, 18 * G + 99); /* before the free of B */
	ck_assert_uint_eq(im->totals.live_blocks, 3);
	rr_expect_live(im, A, 100, 3);
	rr_expect_live(im, C, 6 * G, 1);
	rr_expect_live(im, D, 8 * G, 2);
	ck_assert(!rr_is_live(im, B));
	ck_assert_uint_eq(im->big_sizes.n, 2); /* C and D; A's and B's went with them */
	child = rr_rig.r->images[1];
	ck_assert_ptr_eq(child->parent, im);
	ck_assert_uint_eq(child->totals.live_bytes, 14 * G + 100);
	rr_expect_live(child, C, 6 * G, 1);
	rr_expect_live(child, D, 8 * G, 2);
}
END_TEST

START_TEST(test_replay_unknown_and_double_frees)
{
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	fx_free(&rr_rig.b, T + 5, X);
	rr_alloc(T + 10, A, 8, 1);
	fx_free(&rr_rig.b, T + 20, A);
	fx_free(&rr_rig.b, T + 30, A);
	rr_block(100, 100);
	rr_replay();
	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 1);
	ck_assert_uint_eq(im->totals.frees, 1);
	ck_assert_uint_eq(im->totals.unknown_frees, 2);
	ck_assert_uint_eq(im->totals.live_blocks, 0);
	ck_assert_uint_eq(im->totals.live_bytes, 0);
	ck_assert_uint_eq(im->live.n, 0);
}
END_TEST

/* Records of a pid that never wrote a PROCESS record go to an image made up for it. */
START_TEST(test_replay_implicit_image)
{
	struct hg_image *im;

	rr_alloc(T + 10, A, 5, 3);
	rr_block(300, 301);
	rr_replay();
	ck_assert_uint_eq(rr_rig.r->n_images, 1);
	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->pid, 300);
	ck_assert_uint_eq(im->t_start_ns, 0);
	ck_assert_str_eq(im->command, "");
	ck_assert_str_eq(im->exe, "");
	ck_assert_uint_eq(im->totals.allocations, 1);
	ck_assert_uint_eq(im->totals.peak_time_ns, T + 10);
}
END_TEST

START_TEST(test_replay_loss_records)
{
	rr_process(0, T, 100, 1, "p", 1, "/p");
	fx_loss(&rr_rig.b, T + 10, 100, HG_LOSS_TOO_BIG, 3, 300);
	rr_block(100, 100);
	fx_loss(&rr_rig.b, T + 20, 0, HG_LOSS_COLLECTOR_GONE, 5, 0);
	fx_loss(&rr_rig.b, T + 30, 999, HG_LOSS_DEAD_WRITER, 7, 0); /* no such process */
	rr_block(0, 0);
	rr_replay();
	ck_assert_uint_eq(rr_rig.r->n_images, 1);
	ck_assert_uint_eq(rr_rig.r->images[0]->totals.lost_events, 3);
	ck_assert_uint_eq(rr_rig.r->lost_events, 12);
}
END_TEST

/* The tracer's own memory: the largest sample of each image is kept, a ring of unknown size
 * counting as none; an image without a sample has none. */
START_TEST(test_replay_tracer_samples)
{
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	fx_tracer(&rr_rig.b, T + 10, 8192, 65536);
	fx_tracer(&rr_rig.b, T + 20, 12288, 65536);  /* the largest */
	fx_tracer(&rr_rig.b, T + 30, 73728, HG_TRACER_UNKNOWN); /* 72 KiB, less than 76 */
	rr_block(100, 100);
	rr_process(0, T + 40, 200, 1, "q", 1, "/q");
	rr_block(200, 200);
	rr_replay();
	ck_assert_uint_eq(rr_rig.r->n_images, 2);
	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->n_tracer, 3);
	ck_assert_uint_eq(im->tracer.t_ns, 20);
	ck_assert_uint_eq(im->tracer.tables_bytes, 12288);
	ck_assert_uint_eq(im->tracer.ring_bytes, 65536);
	ck_assert_uint_eq(hg_tracer_bytes(&im->tracer), 77824);
	ck_assert_uint_eq(rr_rig.r->images[1]->n_tracer, 0);
}
END_TEST

/* ---- damage ----------------------------------------------------------------------------- */

/* Three blocks, one allocation each; returns the file offset of each block in at[]. */
static void three_blocks(uint64_t at[3])
{
	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_alloc(T + 10, A, 10, 1);
	at[0] = hg_trace_writer_bytes(rr_rig.w);
	rr_block(100, 100);
	rr_alloc(T + 20, B, 20, 1);
	at[1] = hg_trace_writer_bytes(rr_rig.w);
	rr_block(100, 100);
	rr_alloc(T + 30, C, 30, 1);
	at[2] = hg_trace_writer_bytes(rr_rig.w);
	rr_block(100, 100);
	ck_assert_int_eq(hg_trace_writer_close(rr_rig.w), 0);
	rr_rig.w = NULL;
}

START_TEST(test_replay_corrupt_block_partial_result)
{
	uint64_t at[3];
	uint8_t *bytes;
	size_t n;

	three_blocks(at);
	bytes = fx_slurp(rr_rig.path, &n);
	bytes[at[2] + 32 + 9] ^= 0x40; /* inside block 3's ALLOC */
	fx_spit(rr_rig.path, bytes, n);
	free(bytes);
	rr_rig.r = hg_replay_file(rr_rig.path);
	ck_assert_ptr_nonnull(rr_rig.r);
	ck_assert_ptr_nonnull(rr_rig.r->damage);
	ck_assert_msg(strstr(rr_rig.r->damage, "checksum mismatch"), "damage: %s",
		      rr_rig.r->damage);
	ck_assert_uint_eq(rr_rig.r->damage_offset, at[2]);
	ck_assert_uint_eq(rr_rig.r->n_records, 3);
	ck_assert_uint_eq(rr_rig.r->n_images, 1);
	ck_assert_uint_eq(rr_rig.r->images[0]->totals.allocations, 2);
	ck_assert_uint_eq(rr_rig.r->images[0]->totals.live_bytes, 30);
}
END_TEST

START_TEST(test_replay_truncated_partial_result)
{
	uint64_t at[3];

	three_blocks(at);
	ck_assert_int_eq(truncate(rr_rig.path, (off_t)at[1] + 40), 0);
	rr_rig.r = hg_replay_file(rr_rig.path);
	ck_assert_ptr_nonnull(rr_rig.r);
	ck_assert_ptr_nonnull(rr_rig.r->damage);
	ck_assert_msg(strstr(rr_rig.r->damage, "truncated"), "damage: %s", rr_rig.r->damage);
	ck_assert_uint_eq(rr_rig.r->damage_offset, at[1]);
	ck_assert_uint_eq(rr_rig.r->n_records, 2);
	ck_assert_uint_eq(rr_rig.r->images[0]->totals.allocations, 1);
}
END_TEST

START_TEST(test_replay_not_a_trace)
{
	static const char text[] = "#!/bin/sh\necho this is not a trace, not even close to one\n";

	fx_quiet_stderr();
	hg_trace_writer_close(rr_rig.w);
	rr_rig.w = NULL;
	fx_spit(rr_rig.path, text, sizeof(text) - 1);
	ck_assert_ptr_null(hg_replay_file(rr_rig.path));
}
END_TEST

Suite *replay_suite(void);

Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *totals = tcase_create("totals");
	TCase *damage = tcase_create("damage");

	tcase_add_checked_fixture(totals, rr_setup, rr_teardown);
	tcase_add_checked_fixture(damage, rr_setup, rr_teardown);
	suite_add_tcase(s, totals);
	suite_add_tcase(s, replay_merge_tcase());
	suite_add_tcase(s, replay_procs_tcase());
	suite_add_tcase(s, damage);
	tcase_add_loop_test(totals, test_replay_totals_sites_and_stacks, 0, 2);
	tcase_add_test(totals, test_replay_bare_flag_and_empty_cmdline);
	tcase_add_test(totals, test_replay_alloc_over_live_block);
	tcase_add_test(totals, test_replay_blocks_of_4_gib_and_more);
	tcase_add_test(totals, test_replay_unknown_and_double_frees);
	tcase_add_test(totals, test_replay_implicit_image);
	tcase_add_test(totals, test_replay_loss_records);
	tcase_add_test(totals, test_replay_tracer_samples);
	tcase_add_test(damage, test_replay_corrupt_block_partial_result);
	tcase_add_test(damage, test_replay_truncated_partial_result);
	tcase_add_test(damage, test_replay_not_a_trace);
	return s;
}
