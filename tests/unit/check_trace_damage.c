/*
 * check_trace_damage.c - reading a damaged trace: cut short, flipped bytes, malformed parts
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "fixtures.h"
#include "trace_reader.h"
#include "trace_writer.h"

/*
 * The trace cut at every offset: five blocks written by the real writer, uncompressed so that
 * every offset is known in advance.
 *
 *   BLOCK  PID/TID  RECORDS                      BYTES  ENDS AT
 *   file header                                     64       64
 *   1      100/100  PROCESS(48) ALLOC(40)          120      184
 *   2      100/101  FREE(24)                        56      240
 *   3      0/0      END (not final)                 48      288
 *   4      100/100  EXIT(32)                        64      352
 *   5      0/0      END (final, by close)           48      400
 */
#define CUT_BLOCKS 5
static const uint32_t cut_end[CUT_BLOCKS + 1] = { 64, 184, 240, 288, 352, 400 };
static const uint32_t cut_records[CUT_BLOCKS + 1] = { 0, 2, 1, 1, 1, 1 };
#define CUT_FILE_BYTES 400

static void write_cut_fixture(const char *to)
{
	struct fx_buf b = { 0 };
	struct hg_trace_writer *w = hg_trace_writer_open(to, 0);

	ck_assert_ptr_nonnull(w);
	fx_process(&b, 0, 100, 100, 1, "p", 1, "/p", 64);
	fx_alloc(&b, 110, 0x1000, 10, 1, HG_FN_MALLOC);
	ck_assert_int_eq(hg_trace_writer_block(w, 100, 100, b.p, (uint32_t)b.len), 0);
	b.len = 0;
	fx_free(&b, 130, 0x1000);
	ck_assert_int_eq(hg_trace_writer_block(w, 100, 101, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_end(w, 0), 0);
	b.len = 0;
	fx_exit(&b, 150, 100, 0, HG_EXIT_CALL);
	ck_assert_int_eq(hg_trace_writer_block(w, 100, 100, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	fx_buf_release(&b);
}

START_TEST(test_trace_truncated_at_every_offset)
{
	char full[FX_PATH_BYTES], want[128];
	struct fx_trace all, t;
	uint32_t cut = (uint32_t)_i, k = 0, n_records = 0;
	struct hg_trace_reader *rd;
	uint8_t *bytes;
	size_t n;

	fx_quiet_stderr();
	fx_scratch_file(&fx_trace_dir, "full.hgt", full);
	write_cut_fixture(full);
	bytes = fx_slurp(full, &n);
	ck_assert_uint_eq(n, CUT_FILE_BYTES);
	fx_spit(fx_trace_path, bytes, cut);
	free(bytes);

	if (cut < HG_TRACE_HEADER_BYTES) {
		/* Not even a whole file header: not a trace. */
		rd = hg_trace_reader_open(fx_trace_path);
		ck_assert_ptr_null(rd);
		return;
	}
	fx_read(full, &all);
	ck_assert_int_eq(all.rc, 0);
	ck_assert_uint_eq(all.n, 6);
	/* k: whole blocks before the cut. */
	while (k < CUT_BLOCKS && cut_end[k + 1] <= cut) {
		k++;
		n_records += cut_records[k];
	}
	fx_read(fx_trace_path, &t);
	ck_assert_uint_eq(t.n, n_records);
	for (size_t i = 0; i < t.n; i++) {
		ck_assert_uint_eq(t.r[i].rec->size_bytes, all.r[i].rec->size_bytes);
		ck_assert_mem_eq(t.r[i].rec, all.r[i].rec, all.r[i].rec->size_bytes);
		ck_assert_uint_eq(t.r[i].pid, all.r[i].pid);
		ck_assert_uint_eq(t.r[i].tid, all.r[i].tid);
		ck_assert_uint_eq(t.r[i].offset, all.r[i].offset);
	}
	if (cut == cut_end[k] && (k == 3 || k == 5)) {
		/* Cut right after an END block: a clean end. */
		ck_assert_int_eq(t.rc, 0);
		ck_assert_str_eq(t.damage, "");
	} else if (cut == cut_end[k]) {
		/* Cut at a block boundary without an END before it: the writer did not finish. */
		ck_assert_int_eq(t.rc, -1);
		snprintf(want, sizeof(want), "' ends early at byte %u (", cut);
		ck_assert_msg(strstr(t.damage, want), "damage '%s' lacks '%s'", t.damage, want);
		ck_assert_uint_eq(t.damage_offset, cut);
	} else {
		/* Cut inside block k + 1: truncated where that block starts. */
		ck_assert_int_eq(t.rc, -1);
		snprintf(want, sizeof(want), "' truncated at byte %u (block %u: ", cut_end[k], k);
		ck_assert_msg(strstr(t.damage, want), "damage '%s' lacks '%s'", t.damage, want);
		ck_assert_uint_eq(t.damage_offset, cut_end[k]);
	}
	fx_trace_release(&t);
	fx_trace_release(&all);
}
END_TEST

/* Read the cut fixture after changing one byte at `at` to `value`. */
static void read_patched(size_t at, uint8_t value, struct fx_trace *t)
{
	char full[FX_PATH_BYTES];
	uint8_t *bytes;
	size_t n;

	fx_scratch_file(&fx_trace_dir, "full.hgt", full);
	write_cut_fixture(full);
	bytes = fx_slurp(full, &n);
	ck_assert_uint_lt(at, n);
	ck_assert_uint_ne(bytes[at], value);
	bytes[at] = value;
	fx_spit(fx_trace_path, bytes, n);
	free(bytes);
	fx_read(fx_trace_path, t);
}

START_TEST(test_trace_flipped_payload_byte_checksum_mismatch)
{
	struct fx_trace t;

	/* Byte 5 of block 2's payload (its first record's header size field). */
	read_patched(cut_end[1] + 32 + 5, 0x77, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_uint_eq(t.damage_offset, cut_end[1]);
	ck_assert_msg(strstr(t.damage, "' is corrupt at byte 184 (block 1: checksum mismatch)"),
		      "damage: %s", t.damage);
	fx_trace_release(&t);
}
END_TEST

START_TEST(test_trace_flipped_header_byte_bad_block_header)
{
	struct fx_trace t;

	/* Block 4's pid field. */
	read_patched(cut_end[3] + 16, 0x65, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_uint_eq(t.n, 4);
	ck_assert_uint_eq(t.damage_offset, cut_end[3]);
	ck_assert_msg(strstr(t.damage, "' is corrupt at byte 288 (block 3: bad block header)"),
		      "damage: %s", t.damage);
	fx_trace_release(&t);
}
END_TEST

START_TEST(test_trace_bad_magic_fails_open)
{
	char full[FX_PATH_BYTES];
	uint8_t *bytes;
	size_t n;

	fx_quiet_stderr();
	fx_scratch_file(&fx_trace_dir, "full.hgt", full);
	write_cut_fixture(full);
	bytes = fx_slurp(full, &n);
	bytes[0] = 'X';
	fx_spit(fx_trace_path, bytes, n);
	ck_assert_ptr_null(hg_trace_reader_open(fx_trace_path));
	/* The magic includes its NUL. */
	bytes[0] = 'H';
	bytes[7] = 'X';
	fx_spit(fx_trace_path, bytes, n);
	ck_assert_ptr_null(hg_trace_reader_open(fx_trace_path));
	free(bytes);
	fx_spit(fx_trace_path, "", 0);
	ck_assert_ptr_null(hg_trace_reader_open(fx_trace_path));
	fx_scratch_file(&fx_trace_dir, "missing.hgt", full);
	ck_assert_ptr_null(hg_trace_reader_open(full));
}
END_TEST

START_TEST(test_trace_wrong_version_fails_open)
{
	char full[FX_PATH_BYTES];
	struct hg_trace_reader *rd;
	uint8_t *bytes;
	size_t n;
	uint32_t v;

	fx_quiet_stderr();
	fx_scratch_file(&fx_trace_dir, "full.hgt", full);
	write_cut_fixture(full);
	bytes = fx_slurp(full, &n);
	for (v = 0; v <= 3; v++) {
		memcpy(bytes + 8, &v, 4);
		fx_spit(fx_trace_path, bytes, n);
		rd = hg_trace_reader_open(fx_trace_path);
		if (v == HG_FORMAT_VERSION) {
			ck_assert_ptr_nonnull(rd);
			hg_trace_reader_close(rd);
		} else {
			ck_assert_ptr_null(rd);
		}
	}
	/* A header shorter than 64 bytes is refused as well (its CRC made to match). */
	v = HG_FORMAT_VERSION;
	memcpy(bytes + 8, &v, 4);
	v = 32;
	memcpy(bytes + 12, &v, 4);
	v = hg_crc32c(0, bytes, 60);
	memcpy(bytes + 60, &v, 4);
	fx_spit(fx_trace_path, bytes, n);
	ck_assert_ptr_null(hg_trace_reader_open(fx_trace_path));
	free(bytes);
}
END_TEST

/*
 * The cut fixture (written to fx_trace_path) with a file header of known contents, as a
 * collector of pid 4242 would have made it: its CRC was computed apart from hg_crc32c (Python,
 * bit by bit, over bytes 0..59), so this pins what the CRC covers. Returns the file's bytes.
 */
#define FIXED_HEADER_CRC 0x57316221u

static uint8_t *fixed_header_fixture(size_t *n)
{
	struct hg_trace_header fh;
	uint8_t *bytes;

	write_cut_fixture(fx_trace_path);
	bytes = fx_slurp(fx_trace_path, n);
	memcpy(&fh, bytes, sizeof(fh));
	fh.created_unix_ns = 1700000000123456789ull;
	fh.created_mono_ns = 1000;
	fh.writer_pid = 4242;
	fh.time_resolution_ns = 1000000;
	fh.header_crc = hg_crc32c(0, &fh, 60);
	ck_assert_uint_eq(fh.header_crc, FIXED_HEADER_CRC);
	memcpy(bytes, &fh, sizeof(fh));
	fx_spit(fx_trace_path, bytes, *n);
	return bytes;
}

/* Everything the test's code wrote to stderr since fx_stderr_to(err) is exactly want. */
static void expect_said(const char *err, const char *want)
{
	uint8_t *said;
	size_t n;

	fx_restore_stderr();
	said = fx_slurp(err, &n);
	ck_assert_msg(n == strlen(want) && memcmp(said, want, n) == 0, "stderr '%.*s', not '%s'",
		      (int)n, (const char *)said, want);
	free(said);
}

/* header_crc itself, the header size, the times, the resolution, the padding. */
static const size_t header_flips[] = { 12, 16, 36, 40, 59, 60 };
#define N_HEADER_FLIPS (sizeof(header_flips) / sizeof(header_flips[0]))

START_TEST(test_trace_flipped_file_header_byte_refused)
{
	char err[FX_PATH_BYTES], want[512];
	size_t n;
	uint8_t *bytes = fixed_header_fixture(&n);

	fx_scratch_file(&fx_trace_dir, "stderr.txt", err);
	bytes[header_flips[_i]] ^= 0xff;
	fx_spit(fx_trace_path, bytes, n);
	free(bytes);
	fx_stderr_to(err);
	ck_assert_ptr_null(hg_trace_reader_open(fx_trace_path));
	snprintf(want, sizeof(want), "heapgraph: error: trace '%s' is corrupt at byte 0 (file "
		 "header: checksum mismatch)\n", fx_trace_path);
	expect_said(err, want);
}
END_TEST

/* The same header with the CRC right: every record, and nothing said. */
START_TEST(test_trace_file_header_crc_verifies)
{
	char err[FX_PATH_BYTES];
	struct fx_trace t;
	size_t n;

	free(fixed_header_fixture(&n));
	ck_assert_uint_eq(n, CUT_FILE_BYTES);
	fx_scratch_file(&fx_trace_dir, "stderr.txt", err);
	fx_stderr_to(err);
	fx_read(fx_trace_path, &t);
	expect_said(err, "");
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(t.n, 6);
	fx_trace_release(&t);
}
END_TEST

/*
 * A trace from before the CRC: bytes 40..63 zero. It reads as it always did, header values as
 * they are (unchecked: a byte flipped in such a header is not seen) and nothing said.
 */
START_TEST(test_trace_file_header_without_crc_reads_as_before)
{
	char err[FX_PATH_BYTES];
	struct hg_trace_header fh;
	const struct hg_trace_header *h;
	struct hg_trace_reader *rd;
	struct fx_trace t;
	size_t n;
	uint8_t *bytes = fixed_header_fixture(&n);

	memcpy(&fh, bytes, sizeof(fh));
	fh.header_crc = 0;
	fh.time_resolution_ns = 1000001; /* the CRC would not match this */
	memcpy(bytes, &fh, sizeof(fh));
	fx_spit(fx_trace_path, bytes, n);
	free(bytes);
	fx_scratch_file(&fx_trace_dir, "stderr.txt", err);
	fx_stderr_to(err);
	rd = hg_trace_reader_open(fx_trace_path);
	ck_assert_ptr_nonnull(rd);
	h = hg_trace_reader_header(rd);
	ck_assert_uint_eq(h->created_unix_ns, 1700000000123456789ull);
	ck_assert_uint_eq(h->created_mono_ns, 1000);
	ck_assert_uint_eq(h->writer_pid, 4242);
	ck_assert_uint_eq(h->time_resolution_ns, 1000001);
	ck_assert_uint_eq(h->header_crc, 0);
	hg_trace_reader_close(rd);
	fx_read(fx_trace_path, &t);
	expect_said(err, "");
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(t.n, 6);
	fx_trace_release(&t);
}
END_TEST

/* Records that no writer may produce; each must stop the reader with "malformed record". */
static size_t bad_record(int which, struct fx_buf *b)
{
	static const uint64_t ip[1] = { 1 };
	struct hg_rec *r;
	size_t at;

	switch (which) {
	case 0: /* size not a multiple of 8 */
		at = fx_free(b, 1, 0x10);
		((struct hg_rec *)(b->p + at))->size_bytes = 20;
		fx_buf_put(b, "\0\0\0\0", 4);
		return at;
	case 1: /* shorter than its type's minimum */
		at = fx_free(b, 1, 0x10);
		((struct hg_rec *)(b->p + at))->type = HG_REC_ALLOC;
		return at;
	case 2: /* more frames than its size holds */
		at = fx_stack(b, 1, 1, ip);
		((struct hg_rec_stack *)(b->p + at))->n_frames = 2;
		return at;
	case 3: /* more frames than HG_MAX_FRAMES */
		at = fx_stack(b, 1, 1, ip);
		((struct hg_rec_stack *)(b->p + at))->n_frames = HG_MAX_FRAMES + 1;
		return at;
	case 4: /* module without a fx_trace_path */
		at = fx_module(b, 0, 1, 0, 0, NULL, NULL, 0, "/x");
		((struct hg_rec_module *)(b->p + at))->path_bytes = 0;
		return at;
	case 5: /* process whose strings overrun it */
		at = fx_process(b, 0, 1, 1, 0, "a", 1, "/b", 0);
		((struct hg_rec_process *)(b->p + at))->exe_bytes = 100;
		return at;
	default: /* size larger than the block */
		at = fx_free(b, 1, 0x10);
		r = (struct hg_rec *)(b->p + at);
		r->size_bytes = 32;
		return at;
	}
}
#define N_BAD_RECORDS 7

START_TEST(test_trace_malformed_record_stops_reader)
{
	struct fx_buf b = { 0 }, good = { 0 };
	struct fx_trace t;
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 0);

	ck_assert_ptr_nonnull(w);
	fx_alloc(&good, 1, 0x10, 8, 1, 0);
	ck_assert_int_eq(hg_trace_writer_block(w, 1, 1, good.p, (uint32_t)good.len), 0);
	/* The bad record follows a good one in the same block: the good one is still read. */
	fx_alloc(&b, 2, 0x20, 8, 1, 0);
	bad_record(_i, &b);
	ck_assert_int_eq(hg_trace_writer_block(w, 1, 1, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_block(w, 1, 1, good.p, (uint32_t)good.len), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_uint_eq(t.n, 2);
	ck_assert_uint_eq(t.damage_offset, HG_TRACE_HEADER_BYTES + 32 + 40);
	/* Not the block number: this message counts blocks 1-based, the others 0-based. */
	ck_assert_msg(strstr(t.damage, "' is corrupt at byte 136 (block "), "damage: %s", t.damage);
	ck_assert_msg(strstr(t.damage, ": malformed record)"), "damage: %s", t.damage);
	fx_trace_release(&t);
	fx_buf_release(&b);
	fx_buf_release(&good);
}
END_TEST

START_TEST(test_trace_no_end_block_ends_early)
{
	struct fx_buf file = { 0 }, b = { 0 };
	struct fx_trace t;

	fx_put_file_header(&file, HG_TRACE_HEADER_BYTES);
	fx_alloc(&b, 1, 0x10, 8, 1, 0);
	fx_put_block(&file, HG_CODEC_NONE, b.p, (uint32_t)b.len, (uint32_t)b.len, 3, 4);
	fx_spit(fx_trace_path, file.p, file.len);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_uint_eq(t.n, 1);
	ck_assert_uint_eq(t.damage_offset, 136);
	ck_assert_msg(strstr(t.damage, "' ends early at byte 136 (block 1: no end record"),
		      "damage: %s", t.damage);
	fx_trace_release(&t);
	fx_buf_release(&file);
	fx_buf_release(&b);
}
END_TEST

START_TEST(test_trace_impossible_block_sizes)
{
	struct fx_buf file = { 0 }, b = { 0 };
	struct fx_trace t;

	/* A stored block whose stored and raw sizes disagree (CRCs are right). */
	fx_put_file_header(&file, HG_TRACE_HEADER_BYTES);
	fx_alloc(&b, 1, 0x10, 8, 1, 0);
	fx_put_block(&file, HG_CODEC_NONE, b.p, (uint32_t)b.len, 32, 3, 4);
	fx_spit(fx_trace_path, file.p, file.len);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_msg(strstr(t.damage, "' is corrupt at byte 64 (block 0: sizes disagree)"),
		      "damage: %s", t.damage);
	fx_trace_release(&t);

	/* An unknown codec. */
	file.len = 0;
	fx_put_file_header(&file, HG_TRACE_HEADER_BYTES);
	fx_put_block(&file, 9, b.p, (uint32_t)b.len, (uint32_t)b.len, 3, 4);
	fx_spit(fx_trace_path, file.p, file.len);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_msg(strstr(t.damage, "(block 0: unknown codec)"), "damage: %s", t.damage);
	fx_trace_release(&t);

	/* raw_bytes over HG_BLOCK_MAX_RAW. */
	file.len = 0;
	fx_put_file_header(&file, HG_TRACE_HEADER_BYTES);
	fx_put_block(&file, HG_CODEC_NONE, b.p, (uint32_t)b.len, HG_BLOCK_MAX_RAW + 8, 3, 4);
	fx_spit(fx_trace_path, file.p, file.len);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_msg(strstr(t.damage, "(block 0: impossible size)"), "damage: %s", t.damage);
	fx_trace_release(&t);
	fx_buf_release(&file);
	fx_buf_release(&b);
}
END_TEST

TCase *trace_truncation_tcase(void)
{
	TCase *cut = tcase_create("truncation");

	tcase_add_checked_fixture(cut, fx_trace_setup, fx_trace_teardown);
	tcase_add_loop_test(cut, test_trace_truncated_at_every_offset, 0, CUT_FILE_BYTES + 1);
	return cut;
}

TCase *trace_damage_tcase(void)
{
	TCase *damage = tcase_create("damage");

	tcase_add_checked_fixture(damage, fx_trace_setup, fx_trace_teardown);
	tcase_add_test(damage, test_trace_flipped_payload_byte_checksum_mismatch);
	tcase_add_test(damage, test_trace_flipped_header_byte_bad_block_header);
	tcase_add_test(damage, test_trace_bad_magic_fails_open);
	tcase_add_test(damage, test_trace_wrong_version_fails_open);
	tcase_add_loop_test(damage, test_trace_flipped_file_header_byte_refused, 0, N_HEADER_FLIPS);
	tcase_add_test(damage, test_trace_file_header_crc_verifies);
	tcase_add_test(damage, test_trace_file_header_without_crc_reads_as_before);
	tcase_add_loop_test(damage, test_trace_malformed_record_stops_reader, 0, N_BAD_RECORDS);
	tcase_add_test(damage, test_trace_no_end_block_ends_early);
	tcase_add_test(damage, test_trace_impossible_block_sizes);
	return damage;
}
