/*
 * check_trace_writer.c - the file the trace writer makes: blocks, file header and its CRC, mode
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "crc32c.h"
#include "fixtures.h"
#include "trace_reader.h"
#include "trace_writer.h"

START_TEST(test_trace_stored_block_layout)
{
	struct fx_buf b = { 0 };
	struct hg_trace_writer *w;
	struct hg_trace_header fh;
	struct hg_block_header h;
	static const uint8_t zero[28];
	uint64_t before = hg_trace_ns(), after;
	uint8_t *file;
	size_t n;

	w = hg_trace_writer_open(fx_trace_path, 0);
	after = hg_trace_ns();
	ck_assert_ptr_nonnull(w);
	ck_assert_uint_eq(hg_trace_writer_bytes(w), HG_TRACE_HEADER_BYTES);
	fx_alloc(&b, 5, 0x1000, 10, 1, HG_FN_MALLOC);
	fx_free(&b, 6, 0x1000);
	ck_assert_int_eq(hg_trace_writer_block(w, 42, 43, b.p, (uint32_t)b.len), 0);
	ck_assert_uint_eq(hg_trace_writer_bytes(w), HG_TRACE_HEADER_BYTES + 32 + 64);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);

	file = fx_slurp(fx_trace_path, &n);
	ck_assert_uint_eq(n, HG_TRACE_HEADER_BYTES + 32 + 64 + 32 + 16);
	memcpy(&fh, file, sizeof(fh));
	ck_assert_mem_eq(fh.magic, "HGTRACE\0", 8);
	ck_assert_uint_eq(fh.version, HG_FORMAT_VERSION);
	ck_assert_uint_eq(fh.header_bytes, HG_TRACE_HEADER_BYTES);
	ck_assert_uint_eq(fh.writer_pid, (uint32_t)getpid());
	ck_assert_uint_ge(fh.created_mono_ns, before);
	ck_assert_uint_le(fh.created_mono_ns, after);
	ck_assert_uint_ne(fh.created_unix_ns, 0);
	ck_assert_uint_eq(fh.rss_interval_ms, 0); /* not said: no collector set it */
	ck_assert_mem_eq(fh.pad, zero, sizeof(fh.pad));
	ck_assert_uint_eq(fh.header_crc, hg_crc32c(0, file, 60));

	memcpy(&h, file + HG_TRACE_HEADER_BYTES, sizeof(h));
	ck_assert_uint_eq(h.magic, HG_BLOCK_MAGIC);
	ck_assert_uint_eq(h.codec, HG_CODEC_NONE);
	ck_assert_uint_eq(h.stored_bytes, 64);
	ck_assert_uint_eq(h.raw_bytes, 64);
	ck_assert_uint_eq(h.pid, 42);
	ck_assert_uint_eq(h.tid, 43);
	ck_assert_uint_eq(h.payload_crc, hg_crc32c(0, b.p, 64));
	ck_assert_uint_eq(h.header_crc, hg_crc32c(0, &h, 28));
	ck_assert_mem_eq(file + HG_TRACE_HEADER_BYTES + 32, b.p, 64);

	memcpy(&h, file + HG_TRACE_HEADER_BYTES + 96, sizeof(h));
	ck_assert_uint_eq(h.pid, 0);
	ck_assert_uint_eq(h.raw_bytes, 16);
	ck_assert_uint_eq(((const struct hg_rec *)(file + n - 16))->type, HG_REC_END);
	ck_assert_uint_eq(((const struct hg_rec *)(file + n - 16))->flags, HG_END_FINAL);
	free(file);
	fx_buf_release(&b);
}
END_TEST

/*
 * The time resolution, set after the header was written (and here after a block), rewrites the
 * header with a CRC that covers it, and leaves the blocks where they were.
 */
START_TEST(test_trace_writer_header_crc_follows_time_resolution)
{
	struct fx_buf b = { 0 };
	struct hg_trace_header fh;
	struct hg_trace_reader *rd;
	struct fx_trace t;
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 0);
	uint8_t *file;
	size_t n;

	ck_assert_ptr_nonnull(w);
	fx_alloc(&b, 5, 0x1000, 10, 1, HG_FN_MALLOC);
	fx_free(&b, 6, 0x1000);
	ck_assert_int_eq(hg_trace_writer_block(w, 42, 43, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_time_resolution(w, 1000000), 0);
	ck_assert_uint_eq(hg_trace_writer_bytes(w), HG_TRACE_HEADER_BYTES + 32 + 64);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);

	file = fx_slurp(fx_trace_path, &n);
	ck_assert_uint_eq(n, HG_TRACE_HEADER_BYTES + 32 + 64 + 32 + 16);
	memcpy(&fh, file, sizeof(fh));
	ck_assert_uint_eq(fh.time_resolution_ns, 1000000);
	ck_assert_uint_eq(fh.header_crc, hg_crc32c(0, file, 60));
	free(file);
	rd = hg_trace_reader_open(fx_trace_path);
	ck_assert_ptr_nonnull(rd);
	ck_assert_uint_eq(hg_trace_reader_header(rd)->time_resolution_ns, 1000000);
	hg_trace_reader_close(rd);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(t.n, 3);
	ck_assert_uint_eq(fx_expect_records(&t, 0, &b, 42, 43), 2);
	fx_expect_end(&t, 2, HG_END_FINAL);
	fx_trace_release(&t);
	fx_buf_release(&b);
}
END_TEST

/*
 * The RSS interval goes into the file header the same way, with 0 (no sampling) written as
 * HG_RSS_INTERVAL_OFF: 0 there means a trace from before the field, which does not say.
 */
START_TEST(test_trace_writer_header_notes_rss_interval)
{
	struct hg_trace_header fh;
	struct hg_trace_reader *rd;
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 0);
	static const uint8_t zero[16];
	uint8_t *file;
	size_t n;

	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(hg_trace_writer_rss_interval(w, 25), 0);
	ck_assert_int_eq(hg_trace_writer_time_resolution(w, 1000), 0);
	file = fx_slurp(fx_trace_path, &n);
	ck_assert_uint_eq(n, HG_TRACE_HEADER_BYTES);
	memcpy(&fh, file, sizeof(fh));
	ck_assert_uint_eq(fh.rss_interval_ms, 25);
	ck_assert_uint_eq(fh.time_resolution_ns, 1000);
	ck_assert_mem_eq(fh.pad, zero, sizeof(fh.pad));
	ck_assert_uint_eq(fh.header_crc, hg_crc32c(0, file, 60));
	free(file);
	ck_assert_int_eq(hg_trace_writer_rss_interval(w, 0), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	fx_read_file_header(fx_trace_path, &fh);
	ck_assert_uint_eq(fh.rss_interval_ms, HG_RSS_INTERVAL_OFF);
	rd = hg_trace_reader_open(fx_trace_path);
	ck_assert_ptr_nonnull(rd);
	ck_assert_uint_eq(hg_trace_reader_header(rd)->rss_interval_ms, HG_RSS_INTERVAL_OFF);
	hg_trace_reader_close(rd);
}
END_TEST

/* The live-blocks hint goes into the header with its pid (bytes 44..51), under the CRC;
 * more than 2^32-1 blocks is written as 2^32-1, and no blocks as no pid. */
START_TEST(test_trace_writer_header_notes_live_hint)
{
	struct hg_trace_header fh;
	struct hg_trace_reader *rd;
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 0);
	static const uint8_t zero[8];
	const uint8_t *file = (const uint8_t *)&fh;

	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(hg_trace_writer_live_hint(w, 3095496, 4242), 0);
	fx_read_file_header(fx_trace_path, &fh);
	ck_assert_uint_eq(fh.live_blocks_max, 3095496);
	ck_assert_uint_eq(fh.live_blocks_pid, 4242);
	ck_assert_uint_eq(file[44] | file[45] << 8 | file[46] << 16 | (uint32_t)file[47] << 24,
			  3095496);
	ck_assert_mem_eq(fh.pad, zero, sizeof(fh.pad));
	ck_assert_int_eq(hg_trace_writer_live_hint(w, 1ull << 40, 7), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	rd = hg_trace_reader_open(fx_trace_path);
	ck_assert_ptr_nonnull(rd);
	ck_assert_uint_eq(hg_trace_reader_header(rd)->live_blocks_max, UINT32_MAX);
	ck_assert_uint_eq(hg_trace_reader_header(rd)->live_blocks_pid, 7);
	hg_trace_reader_close(rd);
	w = hg_trace_writer_open(fx_trace_path, 0);
	ck_assert_int_eq(hg_trace_writer_live_hint(w, 0, 7), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	fx_read_file_header(fx_trace_path, &fh);
	ck_assert_uint_eq(fh.live_blocks_max, 0);
	ck_assert_uint_eq(fh.live_blocks_pid, 0);
}
END_TEST

START_TEST(test_trace_writer_refuses_symlink)
{
	char target[FX_PATH_BYTES];

	fx_quiet_stderr();
	fx_scratch_file(&fx_trace_dir, "target", target);
	fx_spit(target, "keep", 4);
	ck_assert_int_eq(symlink(target, fx_trace_path), 0);
	ck_assert_ptr_null(hg_trace_writer_open(fx_trace_path, 0));
	/* The file behind the link is untouched. */
	{
		size_t n;
		uint8_t *p = fx_slurp(target, &n);
		ck_assert_uint_eq(n, 4);
		ck_assert_mem_eq(p, "keep", 4);
		free(p);
	}
}
END_TEST

START_TEST(test_trace_writer_mode_0600_and_truncates)
{
	struct stat sb;
	struct hg_trace_writer *w;
	uint8_t old[200];

	memset(old, 'x', sizeof(old));
	fx_spit(fx_trace_path, old, sizeof(old));
	ck_assert_int_eq(chmod(fx_trace_path, 0644), 0);
	w = hg_trace_writer_open(fx_trace_path, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	ck_assert_int_eq(stat(fx_trace_path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	ck_assert_uint_eq(sb.st_size, HG_TRACE_HEADER_BYTES + 32 + 16);
}
END_TEST

TCase *trace_writer_tcase(void)
{
	TCase *writer = tcase_create("writer");

	tcase_add_checked_fixture(writer, fx_trace_setup, fx_trace_teardown);
	tcase_add_test(writer, test_trace_stored_block_layout);
	tcase_add_test(writer, test_trace_writer_refuses_symlink);
	tcase_add_test(writer, test_trace_writer_mode_0600_and_truncates);
	tcase_add_test(writer, test_trace_writer_header_crc_follows_time_resolution);
	tcase_add_test(writer, test_trace_writer_header_notes_live_hint);
	tcase_add_test(writer, test_trace_writer_header_notes_rss_interval);
	return writer;
}
