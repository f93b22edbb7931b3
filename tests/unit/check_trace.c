/*
 * check_trace.c - unit tests for the trace file: writer (analyzer/trace_writer.c) and reader
 * (analyzer/trace_reader.c), and the bytes between them (include/hg_format.h, section 3)
 *
 * Round trips: every record type goes through the writer and comes back byte for byte, stored
 * and packed into the file's zstd stream; blocks made by hand with the earlier codecs (plain
 * zstd, packed zstd per block, the stream without columns) and a longer file header are read
 * too. Damage: a small real trace is cut at every byte offset (a loop test), and the
 * reader must return exactly the records of the whole blocks before the cut, then say where
 * the file breaks; flipped bytes, bad headers and malformed records are reported and stop the
 * stream. The file header's CRC: the writer's verifies (also after the time resolution changed
 * it), a flipped byte refuses the file with one exact line, and 0 (a trace from before the
 * field) reads as before, silently.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "block_codec.h"
#include "event_model.h"
#include "clock.h"
#include "crc32c.h"
#include "fixtures.h"
#include "trace_reader.h"
#include "trace_writer.h"

static struct fx_scratch scratch;
static char path[FX_PATH_BYTES];

static void setup(void)
{
	fx_scratch_make(&scratch);
	fx_scratch_file(&scratch, "t.hgt", path);
}

static void teardown(void)
{
	fx_restore_stderr();
	fx_scratch_remove(&scratch);
}

/* The records in b, one by one: rec_at(b, i) is the i-th. */
static size_t count_records(const struct fx_buf *b)
{
	size_t n = 0;

	for (size_t off = 0; off < b->len; n++)
		off += ((const struct hg_rec *)(b->p + off))->size_bytes;
	return n;
}

/* Check that records [from, from + count_records(b)) of t are b's records, byte for byte,
 * from (pid, tid). Returns the index after them. */
static size_t expect_records(const struct fx_trace *t, size_t from, const struct fx_buf *b,
			     uint32_t pid, uint32_t tid)
{
	size_t i = from;

	for (size_t off = 0; off < b->len; i++) {
		const struct hg_rec *want = (const struct hg_rec *)(b->p + off);

		ck_assert_uint_lt(i, t->n);
		ck_assert_uint_eq(t->r[i].rec->size_bytes, want->size_bytes);
		ck_assert_mem_eq(t->r[i].rec, want, want->size_bytes);
		ck_assert_uint_eq(t->r[i].pid, pid);
		ck_assert_uint_eq(t->r[i].tid, tid);
		off += want->size_bytes;
	}
	return i;
}

static void expect_end(const struct fx_trace *t, size_t i, uint16_t flags)
{
	ck_assert_uint_lt(i, t->n);
	ck_assert_uint_eq(t->r[i].rec->type, HG_REC_END);
	ck_assert_uint_eq(t->r[i].rec->flags, flags);
	ck_assert_uint_eq(t->r[i].rec->size_bytes, sizeof(struct hg_rec_end));
	ck_assert_uint_eq(t->r[i].pid, 0);
	ck_assert_uint_eq(t->r[i].tid, 0);
}

/* One record of every type the format defines (ORIGIN and END aside), plus an unknown type. */
static void every_type(struct fx_buf *b)
{
	static const uint64_t ip[3] = { 0x401234, 0x7f0000001000, 0x7f0000002000 };
	static const struct hg_segment seg[2] = { { 0, 0x1000, 4, 0 }, { 0x1000, 0x2345, 5, 0 } };
	static const uint8_t build_id[20] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
					      11, 12, 13, 14, 15, 16, 17, 18, 19, 20 };
	struct hg_rec unknown[3] = { { 99, 0x5a5a, 24 }, { 1, 2, 3 }, { 4, 5, 6 } };

	fx_process(b, HG_PROCESS_BARE, 1000, 100, 1, "prog\0-v\0x", 9, "/usr/bin/prog", 64);
	fx_module(b, HG_MODULE_MAIN, 1001, 0x555555554000, 2, seg, build_id, 20, "/usr/bin/prog");
	fx_module(b, 0, 1002, 0x7f0000000000, 0, NULL, NULL, 0, "/lib/libc.so.6");
	fx_stack(b, 1, 3, ip);
	fx_stack(b, 2, 0, NULL);
	for (uint8_t fn = 0; fn < HG_FN_MAX; fn++)
		fx_alloc(b, 2000 + fn, 0x5555000 + 64u * fn, 1u + 100u * fn, 1 + fn % 2, fn);
	fx_free(b, 3000, 0x5555000);
	fx_unmodule(b, 3001, 0x7f0000000000);
	fx_exit(b, 3002, 100, 3, HG_EXIT_CALL);
	fx_loss(b, 3003, 100, HG_LOSS_TOO_BIG, 2, 4096);
	fx_buf_put(b, unknown, sizeof(unknown));
}

/* _i: 0 stores blocks as they are, 1 packs and compresses them (zstd level 3). */
START_TEST(test_trace_round_trip_every_record_type)
{
	struct fx_buf b = { 0 };
	struct fx_trace t;
	struct hg_trace_writer *w = hg_trace_writer_open(path, _i ? 3 : 0);
	size_t i;

	ck_assert_ptr_nonnull(w);
	every_type(&b);
	ck_assert_int_eq(hg_trace_writer_block(w, 100, 101, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_str_eq(t.damage, "");
	i = expect_records(&t, 0, &b, 100, 101);
	ck_assert_uint_eq(i, count_records(&b));
	expect_end(&t, i, HG_END_FINAL);
	ck_assert_uint_eq(t.n, i + 1);
	fx_trace_release(&t);
	fx_buf_release(&b);
}
END_TEST

/* Many timed records: the writer packs them into its stream (codec 4), smaller than raw, and
 * they come back. */
START_TEST(test_trace_zstd_packs_alloc_free_byte_exact)
{
	struct fx_buf b = { 0 };
	struct fx_trace t;
	struct hg_trace_writer *w = hg_trace_writer_open(path, 3);
	struct hg_block_header h;
	uint8_t *file;
	size_t n;

	ck_assert_ptr_nonnull(w);
	for (uint64_t k = 0; k < 5000; k++) {
		/* Addresses jump up and down, times grow unevenly, sizes vary. */
		uint64_t addr = 0x7f0000000000ull + ((k * 7919) % 4093) * 48;
		fx_alloc(&b, 1000000 + k * k, addr, k % 300, (uint32_t)(k % 17), (uint8_t)(k % 9));
		if (k % 3 == 0)
			fx_free(&b, 1000000 + k * k + 1, addr);
	}
	ck_assert_int_eq(hg_trace_writer_block(w, 7, 8, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);

	file = fx_slurp(path, &n);
	memcpy(&h, file + HG_TRACE_HEADER_BYTES, sizeof(h));
	ck_assert_uint_eq(h.codec, HG_CODEC_COLUMN_STREAM);
	ck_assert_uint_eq(h.raw_bytes, b.len);
	ck_assert_uint_lt(h.stored_bytes, b.len / 2);
	/* Padding after the payload is zero and the next block starts 8-aligned. */
	for (uint32_t k = h.stored_bytes; k % 8; k++)
		ck_assert_uint_eq(file[HG_TRACE_HEADER_BYTES + sizeof(h) + k], 0);
	/* Then the END block, in the same stream, and nothing else. */
	{
		size_t at = HG_TRACE_HEADER_BYTES + sizeof(h) + ((h.stored_bytes + 7u) & ~7u);
		memcpy(&h, file + at, sizeof(h));
		ck_assert_uint_eq(h.raw_bytes, sizeof(struct hg_rec_end));
		ck_assert_uint_eq(n, at + sizeof(h) + ((h.stored_bytes + 7u) & ~7u));
	}
	free(file);

	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(expect_records(&t, 0, &b, 7, 8), count_records(&b));
	fx_trace_release(&t);
	fx_buf_release(&b);
}
END_TEST

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

	w = hg_trace_writer_open(path, 0);
	after = hg_trace_ns();
	ck_assert_ptr_nonnull(w);
	ck_assert_uint_eq(hg_trace_writer_bytes(w), HG_TRACE_HEADER_BYTES);
	fx_alloc(&b, 5, 0x1000, 10, 1, HG_FN_MALLOC);
	fx_free(&b, 6, 0x1000);
	ck_assert_int_eq(hg_trace_writer_block(w, 42, 43, b.p, (uint32_t)b.len), 0);
	ck_assert_uint_eq(hg_trace_writer_bytes(w), HG_TRACE_HEADER_BYTES + 32 + 64);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);

	file = fx_slurp(path, &n);
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
	struct hg_trace_writer *w = hg_trace_writer_open(path, 0);
	uint8_t *file;
	size_t n;

	ck_assert_ptr_nonnull(w);
	fx_alloc(&b, 5, 0x1000, 10, 1, HG_FN_MALLOC);
	fx_free(&b, 6, 0x1000);
	ck_assert_int_eq(hg_trace_writer_block(w, 42, 43, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_time_resolution(w, 1000000), 0);
	ck_assert_uint_eq(hg_trace_writer_bytes(w), HG_TRACE_HEADER_BYTES + 32 + 64);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);

	file = fx_slurp(path, &n);
	ck_assert_uint_eq(n, HG_TRACE_HEADER_BYTES + 32 + 64 + 32 + 16);
	memcpy(&fh, file, sizeof(fh));
	ck_assert_uint_eq(fh.time_resolution_ns, 1000000);
	ck_assert_uint_eq(fh.header_crc, hg_crc32c(0, file, 60));
	free(file);
	rd = hg_trace_reader_open(path);
	ck_assert_ptr_nonnull(rd);
	ck_assert_uint_eq(hg_trace_reader_header(rd)->time_resolution_ns, 1000000);
	hg_trace_reader_close(rd);
	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(t.n, 3);
	ck_assert_uint_eq(expect_records(&t, 0, &b, 42, 43), 2);
	expect_end(&t, 2, HG_END_FINAL);
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
	struct hg_trace_writer *w = hg_trace_writer_open(path, 0);
	static const uint8_t zero[16];
	uint8_t *file;
	size_t n;

	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(hg_trace_writer_rss_interval(w, 25), 0);
	ck_assert_int_eq(hg_trace_writer_time_resolution(w, 1000), 0);
	file = fx_slurp(path, &n);
	ck_assert_uint_eq(n, HG_TRACE_HEADER_BYTES);
	memcpy(&fh, file, sizeof(fh));
	ck_assert_uint_eq(fh.rss_interval_ms, 25);
	ck_assert_uint_eq(fh.time_resolution_ns, 1000);
	ck_assert_mem_eq(fh.pad, zero, sizeof(fh.pad));
	ck_assert_uint_eq(fh.header_crc, hg_crc32c(0, file, 60));
	free(file);
	ck_assert_int_eq(hg_trace_writer_rss_interval(w, 0), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	file = fx_slurp(path, &n);
	memcpy(&fh, file, sizeof(fh));
	ck_assert_uint_eq(fh.rss_interval_ms, HG_RSS_INTERVAL_OFF);
	ck_assert_uint_eq(fh.header_crc, hg_crc32c(0, file, 60));
	free(file);
	rd = hg_trace_reader_open(path);
	ck_assert_ptr_nonnull(rd);
	ck_assert_uint_eq(hg_trace_reader_header(rd)->rss_interval_ms, HG_RSS_INTERVAL_OFF);
	hg_trace_reader_close(rd);
}
END_TEST

START_TEST(test_trace_origin_sets_pid_and_tid)
{
	struct fx_buf b = { 0 }, a1 = { 0 }, a2 = { 0 };
	struct fx_trace t;
	struct hg_trace_writer *w = hg_trace_writer_open(path, 0);

	ck_assert_ptr_nonnull(w);
	fx_alloc(&a1, 10, 0x100, 1, 1, 0);
	fx_free(&a2, 20, 0x100);
	fx_origin(&b, 5, 6);
	fx_buf_put(&b, a1.p, a1.len);
	fx_origin(&b, 7, 8);
	fx_buf_put(&b, a2.p, a2.len);
	ck_assert_int_eq(hg_trace_writer_block(w, 0, 0, b.p, (uint32_t)b.len), 0);
	/* The next block starts again from its own header. */
	ck_assert_int_eq(hg_trace_writer_block(w, 9, 10, a1.p, (uint32_t)a1.len), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(t.n, 4); /* ORIGIN records are consumed, not handed out */
	expect_records(&t, 0, &a1, 5, 6);
	expect_records(&t, 1, &a2, 7, 8);
	expect_records(&t, 2, &a1, 9, 10);
	expect_end(&t, 3, HG_END_FINAL);
	fx_trace_release(&t);
	fx_buf_release(&b);
	fx_buf_release(&a1);
	fx_buf_release(&a2);
}
END_TEST

/* Append a block made by hand: codec as given, CRCs computed here. */
static void put_block(struct fx_buf *file, uint32_t codec, const void *stored,
		      uint32_t stored_bytes, uint32_t raw_bytes, uint32_t pid, uint32_t tid)
{
	static const uint8_t zero[8];
	struct hg_block_header h = { HG_BLOCK_MAGIC, codec, stored_bytes, raw_bytes, pid, tid,
				     hg_crc32c(0, stored, stored_bytes), 0 };

	h.header_crc = hg_crc32c(0, &h, 28);
	fx_buf_put(file, &h, sizeof(h));
	fx_buf_put(file, stored, stored_bytes);
	fx_buf_put(file, zero, ((stored_bytes + 7u) & ~7u) - stored_bytes);
}

static void put_file_header(struct fx_buf *file, uint32_t header_bytes)
{
	struct hg_trace_header fh;
	static const uint8_t zero[256];

	memset(&fh, 0, sizeof(fh));
	memcpy(fh.magic, HG_TRACE_MAGIC, 8);
	fh.version = HG_FORMAT_VERSION;
	fh.header_bytes = header_bytes;
	fx_buf_put(file, &fh, sizeof(fh));
	fx_buf_put(file, zero, header_bytes - sizeof(fh));
}

/* The reader decodes codec 1 (one plain zstd frame) and honours a longer file header. */
START_TEST(test_trace_reads_plain_zstd_and_long_header)
{
	struct fx_buf file = { 0 }, b = { 0 }, end = { 0 };
	struct fx_trace t;
	size_t bound, k;
	void *z;

	every_type(&b);
	fx_end(&end, HG_END_FINAL, 9999);
	bound = ZSTD_compressBound(b.len);
	z = malloc(bound);
	ck_assert_ptr_nonnull(z);
	k = ZSTD_compress(z, bound, b.p, b.len, 1);
	ck_assert(!ZSTD_isError(k));
	put_file_header(&file, 128);
	put_block(&file, HG_CODEC_ZSTD, z, (uint32_t)k, (uint32_t)b.len, 11, 12);
	put_block(&file, HG_CODEC_NONE, end.p, 16, 16, 0, 0);
	fx_spit(path, file.p, file.len);

	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(expect_records(&t, 0, &b, 11, 12), count_records(&b));
	ck_assert_uint_eq(t.r[0].offset, 128);
	expect_end(&t, t.n - 1, HG_END_FINAL);
	fx_trace_release(&t);
	free(z);
	fx_buf_release(&file);
	fx_buf_release(&b);
	fx_buf_release(&end);
}
END_TEST

/*
 * Codec 3 blocks continue one zstd frame and one event model: a block that repeats an earlier
 * one costs a few bytes, blocks of different producers interleave, and every block comes back.
 */
START_TEST(test_trace_stream_refers_to_earlier_blocks)
{
	struct fx_buf b = { 0 }, other = { 0 };
	struct fx_trace t;
	struct hg_trace_writer *w = hg_trace_writer_open(path, 3);
	struct hg_block_header h;
	uint32_t stored[6];
	uint8_t *file;
	size_t n, off = HG_TRACE_HEADER_BYTES, i = 0;

	ck_assert_ptr_nonnull(w);
	for (uint64_t k = 0; k < 3000; k++)
		fx_alloc(&b, 1000 + k * 977, 0x7f0000000000ull + ((k * 7919) % 4093) * 48,
			 k % 300 + 1, (uint32_t)(k % 17) + 1, (uint8_t)(k % 9));
	every_type(&other);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(hg_trace_writer_block(w, 7, 8, b.p, (uint32_t)b.len), 0);
		ck_assert_int_eq(hg_trace_writer_block(w, 9, 10, other.p, (uint32_t)other.len), 0);
	}
	ck_assert_int_eq(hg_trace_writer_close(w), 0);

	file = fx_slurp(path, &n);
	for (int k = 0; k < 6; k++) {
		memcpy(&h, file + off, sizeof(h));
		ck_assert_uint_eq(h.codec, HG_CODEC_COLUMN_STREAM);
		stored[k] = h.stored_bytes;
		off += sizeof(h) + ((h.stored_bytes + 7u) & ~7u);
	}
	free(file);
	/* The second copy packs differently (the model knows its pairs by then), the third
	 * repeats the second's packed bytes: a few bytes of zstd references. */
	ck_assert_uint_lt(stored[2], stored[0]);
	ck_assert_uint_lt(stored[4], stored[0] / 100);
	ck_assert_uint_lt(stored[5], stored[1] / 10);

	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	for (int k = 0; k < 3; k++) {
		i = expect_records(&t, i, &b, 7, 8);
		i = expect_records(&t, i, &other, 9, 10);
	}
	expect_end(&t, i, HG_END_FINAL);
	fx_trace_release(&t);
	fx_buf_release(&b);
	fx_buf_release(&other);
}
END_TEST

/* Where zstd's frame magic (0xFD2FB528, little-endian) first appears in p, or -1. */
static long frame_magic_at(const uint8_t *p, size_t n)
{
	static const uint8_t magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };

	for (size_t i = 0; i + 4 <= n; i++)
		if (!memcmp(p + i, magic, 4))
			return (long)i;
	return -1;
}

/*
 * Packing without references (the collector's cheap mode) takes a cheaper zstd level, which zstd
 * takes only in a new frame: the first block after each change ends the frame and starts
 * another inside its payload, the blocks between go on in theirs, and a reader reads through.
 */
START_TEST(test_trace_level_change_starts_a_new_frame)
{
	struct fx_buf b = { 0 };
	struct fx_trace t;
	struct hg_trace_writer *w = hg_trace_writer_open(path, 6);
	static const int refer[5] = { 1, 0, 0, 1, 1 };
	static const long magic_at[5] = { 0, 1, -1, 1, -1 }; /* 1: after the frame's end */
	struct hg_block_header h;
	uint8_t *file;
	size_t n, off = HG_TRACE_HEADER_BYTES, i = 0;

	ck_assert_ptr_nonnull(w);
	for (uint64_t k = 0; k < 2000; k++)
		fx_alloc(&b, 1000 + k * 977, 0x7f0000000000ull + ((k * 7919) % 4093) * 48,
			 k % 300 + 1, (uint32_t)(k % 17) + 1, HG_FN_MALLOC);
	for (int k = 0; k < 5; k++) {
		hg_trace_writer_refer(w, refer[k]);
		ck_assert_int_eq(hg_trace_writer_block(w, 7, 8, b.p, (uint32_t)b.len), 0);
	}
	ck_assert_int_eq(hg_trace_writer_close(w), 0);

	file = fx_slurp(path, &n);
	for (int k = 0; k < 5; k++) {
		long at;
		memcpy(&h, file + off, sizeof(h));
		ck_assert_uint_eq(h.codec, HG_CODEC_COLUMN_STREAM);
		at = frame_magic_at(file + off + sizeof(h), h.stored_bytes);
		if (magic_at[k] == 1)
			ck_assert_msg(at > 0, "block %d: no new frame after the old one's end", k);
		else
			ck_assert_msg(at == magic_at[k], "block %d: frame magic at %ld", k, at);
		off += sizeof(h) + ((h.stored_bytes + 7u) & ~7u);
	}
	free(file);
	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	for (int k = 0; k < 5; k++)
		i = expect_records(&t, i, &b, 7, 8);
	expect_end(&t, i, HG_END_FINAL);
	fx_trace_release(&t);

	/* At level 1 already, cheap mode still differs (no long-distance matching): a change still
	 * takes a new frame. One made before any block takes none: the first frame starts so. */
	w = hg_trace_writer_open(path, 1);
	ck_assert_ptr_nonnull(w);
	hg_trace_writer_refer(w, 0);
	ck_assert_int_eq(hg_trace_writer_block(w, 7, 8, b.p, (uint32_t)b.len), 0);
	hg_trace_writer_refer(w, 1);
	ck_assert_int_eq(hg_trace_writer_block(w, 7, 8, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	file = fx_slurp(path, &n);
	off = HG_TRACE_HEADER_BYTES;
	for (int k = 0; k < 2; k++) {
		long at;
		memcpy(&h, file + off, sizeof(h));
		at = frame_magic_at(file + off + sizeof(h), h.stored_bytes);
		if (k == 0)
			ck_assert_msg(at == 0 && frame_magic_at(file + off + sizeof(h) + 4,
								h.stored_bytes - 4) < 0,
				      "first block: one frame from its start, got magic at %ld", at);
		else
			ck_assert_msg(at > 0, "level 1: no new frame for cheap mode's end");
		off += sizeof(h) + ((h.stored_bytes + 7u) & ~7u);
	}
	free(file);
	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	i = expect_records(&t, 0, &b, 7, 8);
	i = expect_records(&t, i, &b, 7, 8);
	expect_end(&t, i, HG_END_FINAL);
	fx_trace_release(&t);
	fx_buf_release(&b);
}
END_TEST

/* Codec 3 (the stream, fields record after record), as earlier writers made it, and codec 4
 * after it in the same zstd frame and model, as a file appended to by a newer writer would be. */
START_TEST(test_trace_reads_stream_blocks_without_columns)
{
	struct fx_buf file = { 0 }, b = { 0 }, end = { 0 };
	struct hg_event_model *m = hg_event_model_new();
	ZSTD_CCtx *z = ZSTD_createCCtx();
	struct fx_trace t;
	size_t i = 0;

	ck_assert_ptr_nonnull(z);
	ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, HG_STREAM_WINDOW_LOG)));
	for (uint64_t j = 0; j < 500; j++) {
		fx_alloc(&b, 5000 + j * 31, 0x5555000 + j * 48, j % 7 + 1, 1, HG_FN_MALLOC);
		if (j % 2)
			fx_free(&b, 5000 + j * 31 + 5, 0x5555000 + (j - 1) * 48);
	}
	fx_end(&end, HG_END_FINAL, 9999);
	put_file_header(&file, HG_TRACE_HEADER_BYTES);
	for (int columns = 0; columns < 2; columns++) {
		uint8_t *pack = malloc(hg_pack_bound(b.len)), *out;
		size_t bound = ZSTD_compressBound(hg_pack_bound(b.len)), left;
		ZSTD_inBuffer in = { pack, 0, 0 };
		ZSTD_outBuffer o = { NULL, bound, 0 };

		ck_assert_ptr_nonnull(pack);
		ck_assert_ptr_nonnull(out = malloc(bound));
		o.dst = out;
		in.size = hg_pack_stream(m, 11, 1, columns, b.p, b.len, pack);
		left = ZSTD_compressStream2(z, &o, &in, ZSTD_e_flush);
		ck_assert(!ZSTD_isError(left) && left == 0);
		put_block(&file, columns ? HG_CODEC_COLUMN_STREAM : HG_CODEC_PACKED_STREAM, out,
			  (uint32_t)o.pos, (uint32_t)b.len, 11, 12);
		free(out);
		free(pack);
	}
	put_block(&file, HG_CODEC_NONE, end.p, 16, 16, 0, 0);
	fx_spit(path, file.p, file.len);

	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	i = expect_records(&t, i, &b, 11, 12);
	i = expect_records(&t, i, &b, 11, 12);
	expect_end(&t, i, HG_END_FINAL);
	fx_trace_release(&t);
	ZSTD_freeCCtx(z);
	hg_event_model_free(m);
	fx_buf_release(&file);
	fx_buf_release(&b);
	fx_buf_release(&end);
}
END_TEST

/* Codec 2 (a block's own zstd frame of its packed records), as earlier writers made it. */
START_TEST(test_trace_reads_packed_zstd_blocks)
{
	struct fx_buf file = { 0 }, b = { 0 }, end = { 0 };
	struct fx_trace t;
	size_t bound, k, packed;
	uint8_t *pack, *z;

	every_type(&b);
	for (uint64_t j = 0; j < 500; j++)
		fx_alloc(&b, 5000 + j * 31, 0x5555000 + j * 48, j + 1, 1, HG_FN_MALLOC);
	fx_end(&end, HG_END_FINAL, 9999);
	pack = malloc(hg_pack_bound(b.len));
	ck_assert_ptr_nonnull(pack);
	packed = hg_pack_records(b.p, b.len, pack);
	bound = ZSTD_compressBound(packed);
	z = malloc(bound);
	ck_assert_ptr_nonnull(z);
	k = ZSTD_compress(z, bound, pack, packed, 3);
	ck_assert(!ZSTD_isError(k));
	put_file_header(&file, HG_TRACE_HEADER_BYTES);
	put_block(&file, HG_CODEC_PACKED_ZSTD, z, (uint32_t)k, (uint32_t)b.len, 11, 12);
	put_block(&file, HG_CODEC_NONE, end.p, 16, 16, 0, 0);
	fx_spit(path, file.p, file.len);

	fx_read(path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(expect_records(&t, 0, &b, 11, 12), count_records(&b));
	expect_end(&t, t.n - 1, HG_END_FINAL);
	fx_trace_release(&t);
	free(z);
	free(pack);
	fx_buf_release(&file);
	fx_buf_release(&b);
	fx_buf_release(&end);
}
END_TEST

START_TEST(test_trace_writer_refuses_symlink)
{
	char target[FX_PATH_BYTES];

	fx_quiet_stderr();
	fx_scratch_file(&scratch, "target", target);
	fx_spit(target, "keep", 4);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_ptr_null(hg_trace_writer_open(path, 0));
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
	fx_spit(path, old, sizeof(old));
	ck_assert_int_eq(chmod(path, 0644), 0);
	w = hg_trace_writer_open(path, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	ck_assert_uint_eq(sb.st_size, HG_TRACE_HEADER_BYTES + 32 + 16);
}
END_TEST

/* ---- damage ----------------------------------------------------------------------------- */

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
	fx_scratch_file(&scratch, "full.hgt", full);
	write_cut_fixture(full);
	bytes = fx_slurp(full, &n);
	ck_assert_uint_eq(n, CUT_FILE_BYTES);
	fx_spit(path, bytes, cut);
	free(bytes);

	if (cut < HG_TRACE_HEADER_BYTES) {
		/* Not even a whole file header: not a trace. */
		rd = hg_trace_reader_open(path);
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
	fx_read(path, &t);
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

	fx_scratch_file(&scratch, "full.hgt", full);
	write_cut_fixture(full);
	bytes = fx_slurp(full, &n);
	ck_assert_uint_lt(at, n);
	ck_assert_uint_ne(bytes[at], value);
	bytes[at] = value;
	fx_spit(path, bytes, n);
	free(bytes);
	fx_read(path, t);
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
	fx_scratch_file(&scratch, "full.hgt", full);
	write_cut_fixture(full);
	bytes = fx_slurp(full, &n);
	bytes[0] = 'X';
	fx_spit(path, bytes, n);
	ck_assert_ptr_null(hg_trace_reader_open(path));
	/* The magic includes its NUL. */
	bytes[0] = 'H';
	bytes[7] = 'X';
	fx_spit(path, bytes, n);
	ck_assert_ptr_null(hg_trace_reader_open(path));
	free(bytes);
	fx_spit(path, "", 0);
	ck_assert_ptr_null(hg_trace_reader_open(path));
	fx_scratch_file(&scratch, "missing.hgt", full);
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
	fx_scratch_file(&scratch, "full.hgt", full);
	write_cut_fixture(full);
	bytes = fx_slurp(full, &n);
	for (v = 0; v <= 3; v++) {
		memcpy(bytes + 8, &v, 4);
		fx_spit(path, bytes, n);
		rd = hg_trace_reader_open(path);
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
	fx_spit(path, bytes, n);
	ck_assert_ptr_null(hg_trace_reader_open(path));
	free(bytes);
}
END_TEST

/*
 * The cut fixture (written to path) with a file header of known contents, as a collector of
 * pid 4242 would have made it: its CRC was computed apart from hg_crc32c (Python, bit by bit,
 * over bytes 0..59), so this pins what the CRC covers. Returns the file's bytes.
 */
#define FIXED_HEADER_CRC 0x57316221u

static uint8_t *fixed_header_fixture(size_t *n)
{
	struct hg_trace_header fh;
	uint8_t *bytes;

	write_cut_fixture(path);
	bytes = fx_slurp(path, n);
	memcpy(&fh, bytes, sizeof(fh));
	fh.created_unix_ns = 1700000000123456789ull;
	fh.created_mono_ns = 1000;
	fh.writer_pid = 4242;
	fh.time_resolution_ns = 1000000;
	fh.header_crc = hg_crc32c(0, &fh, 60);
	ck_assert_uint_eq(fh.header_crc, FIXED_HEADER_CRC);
	memcpy(bytes, &fh, sizeof(fh));
	fx_spit(path, bytes, *n);
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

	fx_scratch_file(&scratch, "stderr.txt", err);
	bytes[header_flips[_i]] ^= 0xff;
	fx_spit(path, bytes, n);
	free(bytes);
	fx_stderr_to(err);
	ck_assert_ptr_null(hg_trace_reader_open(path));
	snprintf(want, sizeof(want), "heapgraph: error: trace '%s' is corrupt at byte 0 (file "
		 "header: checksum mismatch)\n", path);
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
	fx_scratch_file(&scratch, "stderr.txt", err);
	fx_stderr_to(err);
	fx_read(path, &t);
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
	fx_spit(path, bytes, n);
	free(bytes);
	fx_scratch_file(&scratch, "stderr.txt", err);
	fx_stderr_to(err);
	rd = hg_trace_reader_open(path);
	ck_assert_ptr_nonnull(rd);
	h = hg_trace_reader_header(rd);
	ck_assert_uint_eq(h->created_unix_ns, 1700000000123456789ull);
	ck_assert_uint_eq(h->created_mono_ns, 1000);
	ck_assert_uint_eq(h->writer_pid, 4242);
	ck_assert_uint_eq(h->time_resolution_ns, 1000001);
	ck_assert_uint_eq(h->header_crc, 0);
	hg_trace_reader_close(rd);
	fx_read(path, &t);
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
	case 4: /* module without a path */
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
	struct hg_trace_writer *w = hg_trace_writer_open(path, 0);

	ck_assert_ptr_nonnull(w);
	fx_alloc(&good, 1, 0x10, 8, 1, 0);
	ck_assert_int_eq(hg_trace_writer_block(w, 1, 1, good.p, (uint32_t)good.len), 0);
	/* The bad record follows a good one in the same block: the good one is still read. */
	fx_alloc(&b, 2, 0x20, 8, 1, 0);
	bad_record(_i, &b);
	ck_assert_int_eq(hg_trace_writer_block(w, 1, 1, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_block(w, 1, 1, good.p, (uint32_t)good.len), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	fx_read(path, &t);
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

	put_file_header(&file, HG_TRACE_HEADER_BYTES);
	fx_alloc(&b, 1, 0x10, 8, 1, 0);
	put_block(&file, HG_CODEC_NONE, b.p, (uint32_t)b.len, (uint32_t)b.len, 3, 4);
	fx_spit(path, file.p, file.len);
	fx_read(path, &t);
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
	put_file_header(&file, HG_TRACE_HEADER_BYTES);
	fx_alloc(&b, 1, 0x10, 8, 1, 0);
	put_block(&file, HG_CODEC_NONE, b.p, (uint32_t)b.len, 32, 3, 4);
	fx_spit(path, file.p, file.len);
	fx_read(path, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_msg(strstr(t.damage, "' is corrupt at byte 64 (block 0: sizes disagree)"),
		      "damage: %s", t.damage);
	fx_trace_release(&t);

	/* An unknown codec. */
	file.len = 0;
	put_file_header(&file, HG_TRACE_HEADER_BYTES);
	put_block(&file, 9, b.p, (uint32_t)b.len, (uint32_t)b.len, 3, 4);
	fx_spit(path, file.p, file.len);
	fx_read(path, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_msg(strstr(t.damage, "(block 0: unknown codec)"), "damage: %s", t.damage);
	fx_trace_release(&t);

	/* raw_bytes over HG_BLOCK_MAX_RAW. */
	file.len = 0;
	put_file_header(&file, HG_TRACE_HEADER_BYTES);
	put_block(&file, HG_CODEC_NONE, b.p, (uint32_t)b.len, HG_BLOCK_MAX_RAW + 8, 3, 4);
	fx_spit(path, file.p, file.len);
	fx_read(path, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_msg(strstr(t.damage, "(block 0: impossible size)"), "damage: %s", t.damage);
	fx_trace_release(&t);
	fx_buf_release(&file);
	fx_buf_release(&b);
}
END_TEST

Suite *trace_suite(void);

Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *round = tcase_create("round_trip");
	TCase *writer = tcase_create("writer");
	TCase *cut = tcase_create("truncation");
	TCase *damage = tcase_create("damage");
	TCase *all[] = { round, writer, cut, damage };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_loop_test(round, test_trace_round_trip_every_record_type, 0, 2);
	tcase_add_test(round, test_trace_zstd_packs_alloc_free_byte_exact);
	tcase_add_test(round, test_trace_origin_sets_pid_and_tid);
	tcase_add_test(round, test_trace_reads_plain_zstd_and_long_header);
	tcase_add_test(round, test_trace_stream_refers_to_earlier_blocks);
	tcase_add_test(round, test_trace_level_change_starts_a_new_frame);
	tcase_add_test(round, test_trace_reads_packed_zstd_blocks);
	tcase_add_test(round, test_trace_reads_stream_blocks_without_columns);
	tcase_add_test(writer, test_trace_stored_block_layout);
	tcase_add_test(writer, test_trace_writer_refuses_symlink);
	tcase_add_test(writer, test_trace_writer_mode_0600_and_truncates);
	tcase_add_test(writer, test_trace_writer_header_crc_follows_time_resolution);
	tcase_add_test(writer, test_trace_writer_header_notes_rss_interval);
	tcase_add_loop_test(cut, test_trace_truncated_at_every_offset, 0, CUT_FILE_BYTES + 1);
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
	return s;
}
