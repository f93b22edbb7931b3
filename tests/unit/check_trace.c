/*
 * check_trace.c - unit tests for the trace file: writer (analyzer/trace_writer.c) and reader
 * (analyzer/trace_reader.c), and the bytes between them (include/hg_format.h, section 3)
 *
 * Round trips (here): every record type goes through the writer and comes back byte for byte,
 * stored and packed into the file's zstd stream; blocks made by hand with the earlier codecs
 * (plain zstd, packed zstd per block, the stream without columns) and a longer file header are
 * read too. The writer's own layout (check_trace_writer.c): block and file header bytes, the
 * file header's CRC (also after the time resolution changed it), mode and symlinks. Damage
 * (check_trace_damage.c): a small real trace is cut at every byte offset (a loop test), and the
 * reader must return exactly the records of the whole blocks before the cut, then say where
 * the file breaks; flipped bytes, bad headers and malformed records are reported and stop the
 * stream; a flipped file header byte refuses the file with one exact line, and a header CRC of
 * 0 (a trace from before the field) reads as before, silently. trace_suite runs all three.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "block_codec.h"
#include "event_model.h"
#include "fixtures.h"
#include "trace_writer.h"

/* The records in b, one by one: rec_at(b, i) is the i-th. */
static size_t count_records(const struct fx_buf *b)
{
	size_t n = 0;

	for (size_t off = 0; off < b->len; n++)
		off += ((const struct hg_rec *)(b->p + off))->size_bytes;
	return n;
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
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, _i ? 3 : 0);
	size_t i;

	ck_assert_ptr_nonnull(w);
	every_type(&b);
	ck_assert_int_eq(hg_trace_writer_block(w, 100, 101, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_str_eq(t.damage, "");
	i = fx_expect_records(&t, 0, &b, 100, 101);
	ck_assert_uint_eq(i, count_records(&b));
	fx_expect_end(&t, i, HG_END_FINAL);
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
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 3);
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

	file = fx_slurp(fx_trace_path, &n);
	memcpy(&h, file + HG_TRACE_HEADER_BYTES, sizeof(h));
	ck_assert_uint_eq(h.codec, HG_CODEC_EVENT_COLUMNS);
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

	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(fx_expect_records(&t, 0, &b, 7, 8), count_records(&b));
	fx_trace_release(&t);
	fx_buf_release(&b);
}
END_TEST

START_TEST(test_trace_origin_sets_pid_and_tid)
{
	struct fx_buf b = { 0 }, a1 = { 0 }, a2 = { 0 };
	struct fx_trace t;
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 0);

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
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(t.n, 4); /* ORIGIN records are consumed, not handed out */
	fx_expect_records(&t, 0, &a1, 5, 6);
	fx_expect_records(&t, 1, &a2, 7, 8);
	fx_expect_records(&t, 2, &a1, 9, 10);
	fx_expect_end(&t, 3, HG_END_FINAL);
	fx_trace_release(&t);
	fx_buf_release(&b);
	fx_buf_release(&a1);
	fx_buf_release(&a2);
}
END_TEST

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
	fx_put_file_header(&file, 128);
	fx_put_block(&file, HG_CODEC_ZSTD, z, (uint32_t)k, (uint32_t)b.len, 11, 12);
	fx_put_block(&file, HG_CODEC_NONE, end.p, 16, 16, 0, 0);
	fx_spit(fx_trace_path, file.p, file.len);

	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(fx_expect_records(&t, 0, &b, 11, 12), count_records(&b));
	ck_assert_uint_eq(t.r[0].offset, 128);
	fx_expect_end(&t, t.n - 1, HG_END_FINAL);
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
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 3);
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

	file = fx_slurp(fx_trace_path, &n);
	for (int k = 0; k < 6; k++) {
		memcpy(&h, file + off, sizeof(h));
		ck_assert_uint_eq(h.codec, HG_CODEC_EVENT_COLUMNS);
		stored[k] = h.stored_bytes;
		off += sizeof(h) + ((h.stored_bytes + 7u) & ~7u);
	}
	free(file);
	/* The second copy packs differently (the model knows its pairs by then), the third
	 * repeats the second's packed bytes: a few bytes of zstd references. */
	ck_assert_uint_lt(stored[2], stored[0]);
	ck_assert_uint_lt(stored[4], stored[0] / 100);
	ck_assert_uint_lt(stored[5], stored[1] / 10);

	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	for (int k = 0; k < 3; k++) {
		i = fx_expect_records(&t, i, &b, 7, 8);
		i = fx_expect_records(&t, i, &other, 9, 10);
	}
	fx_expect_end(&t, i, HG_END_FINAL);
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
 * The collector's busy modes take a faster zstd level, which zstd takes only in a new frame: the
 * first block after a change of settings ends the frame and starts another inside its payload,
 * the blocks between go on in theirs (from the busy mode to the quick one the settings stay),
 * and a reader reads through.
 */
START_TEST(test_trace_level_change_starts_a_new_frame)
{
	struct fx_buf b = { 0 };
	struct fx_trace t;
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 6);
	static const enum hg_pack_mode mode[6] = { HG_PACK_FULL,  HG_PACK_BUSY, HG_PACK_QUICK,
						   HG_PACK_QUICK, HG_PACK_FULL, HG_PACK_FULL };
	static const long magic_at[6] = { 0, 1, -1, -1, 1, -1 }; /* 1: after the frame's end */
	uint32_t stored[6];
	struct hg_block_header h;
	uint8_t *file;
	size_t n, off = HG_TRACE_HEADER_BYTES, i = 0;

	ck_assert_ptr_nonnull(w);
	for (uint64_t k = 0; k < 2000; k++)
		fx_alloc(&b, 1000 + k * 977, 0x7f0000000000ull + ((k * 7919) % 4093) * 48,
			 k % 300 + 1, (uint32_t)(k % 17) + 1, HG_FN_MALLOC);
	for (int k = 0; k < 6; k++) {
		hg_trace_writer_mode(w, mode[k]);
		ck_assert_int_eq(hg_trace_writer_block(w, 7, 8, b.p, (uint32_t)b.len), 0);
	}
	ck_assert_int_eq(hg_trace_writer_close(w), 0);

	file = fx_slurp(fx_trace_path, &n);
	for (int k = 0; k < 6; k++) {
		long at;
		memcpy(&h, file + off, sizeof(h));
		ck_assert_uint_eq(h.codec, HG_CODEC_EVENT_COLUMNS);
		at = frame_magic_at(file + off + sizeof(h), h.stored_bytes);
		if (magic_at[k] == 1)
			ck_assert_msg(at > 0, "block %d: no new frame after the old one's end", k);
		else
			ck_assert_msg(at == magic_at[k], "block %d: frame magic at %ld", k, at);
		stored[k] = h.stored_bytes;
		off += sizeof(h) + ((h.stored_bytes + 7u) & ~7u);
	}
	/* The busy mode still packs events as references, the quick one does not. */
	ck_assert_uint_lt(stored[1], stored[2]);
	free(file);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	for (int k = 0; k < 6; k++)
		i = fx_expect_records(&t, i, &b, 7, 8);
	fx_expect_end(&t, i, HG_END_FINAL);
	fx_trace_release(&t);

	/* At level 1 already, the busy modes still differ (no long-distance matching): a change
	 * still takes a new frame. One made before any block takes none: the first frame starts
	 * so. */
	w = hg_trace_writer_open(fx_trace_path, 1);
	ck_assert_ptr_nonnull(w);
	hg_trace_writer_mode(w, HG_PACK_QUICK);
	ck_assert_int_eq(hg_trace_writer_block(w, 7, 8, b.p, (uint32_t)b.len), 0);
	hg_trace_writer_mode(w, HG_PACK_FULL);
	ck_assert_int_eq(hg_trace_writer_block(w, 7, 8, b.p, (uint32_t)b.len), 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	file = fx_slurp(fx_trace_path, &n);
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
			ck_assert_msg(at > 0, "level 1: no new frame for the quick mode's end");
		off += sizeof(h) + ((h.stored_bytes + 7u) & ~7u);
	}
	free(file);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	i = fx_expect_records(&t, 0, &b, 7, 8);
	i = fx_expect_records(&t, i, &b, 7, 8);
	fx_expect_end(&t, i, HG_END_FINAL);
	fx_trace_release(&t);
	fx_buf_release(&b);
}
END_TEST

/* Pack b for pid 11 against m in that codec, compress it as the next flushed part of z's
 * frame, and append it to file as a block of tid 12. */
static void put_stream_block(struct fx_buf *file, struct hg_event_model *m, ZSTD_CCtx *z,
			     unsigned codec, const struct fx_buf *b)
{
	uint8_t *pack = malloc(hg_pack_bound(b->len)), *out;
	size_t bound = ZSTD_compressBound(hg_pack_bound(b->len));
	ZSTD_inBuffer in = { pack, 0, 0 };
	ZSTD_outBuffer o = { NULL, bound, 0 };

	ck_assert_ptr_nonnull(pack);
	ck_assert_ptr_nonnull(out = malloc(bound));
	o.dst = out;
	in.size = hg_pack_stream(m, 11, 1, codec, b->p, b->len, pack);
	ck_assert_uint_eq(ZSTD_compressStream2(z, &o, &in, ZSTD_e_flush), 0);
	fx_put_block(file, codec, out, (uint32_t)o.pos, (uint32_t)b->len, 11, 12);
	free(out);
	free(pack);
}

/* Codec 3 (the stream, fields record after record), as earlier writers made it, then codecs 4
 * and 5 after it in the same zstd frame and model, as a file appended to by newer writers
 * would be. */
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
	fx_put_file_header(&file, HG_TRACE_HEADER_BYTES);
	for (unsigned codec = HG_CODEC_PACKED_STREAM; codec <= HG_CODEC_EVENT_COLUMNS; codec++)
		put_stream_block(&file, m, z, codec, &b);
	fx_put_block(&file, HG_CODEC_NONE, end.p, 16, 16, 0, 0);
	fx_spit(fx_trace_path, file.p, file.len);

	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	i = fx_expect_records(&t, i, &b, 11, 12);
	i = fx_expect_records(&t, i, &b, 11, 12);
	i = fx_expect_records(&t, i, &b, 11, 12);
	fx_expect_end(&t, i, HG_END_FINAL);
	fx_trace_release(&t);
	ZSTD_freeCCtx(z);
	hg_event_model_free(m);
	fx_buf_release(&file);
	fx_buf_release(&b);
	fx_buf_release(&end);
}
END_TEST

/* A file that starts in codec 5 is read without a map of addresses, which a codec-4 block
 * after it would need: the reader reports that block as damage, after the first block's
 * records. */
START_TEST(test_trace_older_codec_after_codec5_is_damage)
{
	struct fx_buf file = { 0 }, b = { 0 };
	struct hg_event_model *m = hg_event_model_new();
	ZSTD_CCtx *z = ZSTD_createCCtx();
	struct fx_trace t;

	ck_assert_ptr_nonnull(z);
	ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_windowLog, HG_STREAM_WINDOW_LOG)));
	for (uint64_t j = 0; j < 50; j++)
		fx_alloc(&b, 5000 + j, 0x5555000 + j * 48, 40, 1, HG_FN_MALLOC);
	fx_put_file_header(&file, HG_TRACE_HEADER_BYTES);
	put_stream_block(&file, m, z, HG_CODEC_EVENT_COLUMNS, &b);
	put_stream_block(&file, m, z, HG_CODEC_COLUMN_STREAM, &b);
	fx_spit(fx_trace_path, file.p, file.len);
	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, -1);
	ck_assert_ptr_nonnull(strstr(t.damage, "an older codec after codec-5 blocks"));
	fx_expect_records(&t, 0, &b, 11, 12);
	ck_assert_uint_eq(t.n, 50);
	fx_trace_release(&t);
	ZSTD_freeCCtx(z);
	hg_event_model_free(m);
	fx_buf_release(&file);
	fx_buf_release(&b);
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
	fx_put_file_header(&file, HG_TRACE_HEADER_BYTES);
	fx_put_block(&file, HG_CODEC_PACKED_ZSTD, z, (uint32_t)k, (uint32_t)b.len, 11, 12);
	fx_put_block(&file, HG_CODEC_NONE, end.p, 16, 16, 0, 0);
	fx_spit(fx_trace_path, file.p, file.len);

	fx_read(fx_trace_path, &t);
	ck_assert_int_eq(t.rc, 0);
	ck_assert_uint_eq(fx_expect_records(&t, 0, &b, 11, 12), count_records(&b));
	fx_expect_end(&t, t.n - 1, HG_END_FINAL);
	fx_trace_release(&t);
	free(z);
	free(pack);
	fx_buf_release(&file);
	fx_buf_release(&b);
	fx_buf_release(&end);
}
END_TEST

Suite *trace_suite(void);

Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *round = tcase_create("round_trip");

	tcase_add_checked_fixture(round, fx_trace_setup, fx_trace_teardown);
	suite_add_tcase(s, round);
	suite_add_tcase(s, trace_writer_tcase());
	suite_add_tcase(s, trace_truncation_tcase());
	suite_add_tcase(s, trace_damage_tcase());
	suite_add_tcase(s, write_behind_tcase());
	tcase_add_loop_test(round, test_trace_round_trip_every_record_type, 0, 2);
	tcase_add_test(round, test_trace_zstd_packs_alloc_free_byte_exact);
	tcase_add_test(round, test_trace_origin_sets_pid_and_tid);
	tcase_add_test(round, test_trace_reads_plain_zstd_and_long_header);
	tcase_add_test(round, test_trace_stream_refers_to_earlier_blocks);
	tcase_add_test(round, test_trace_level_change_starts_a_new_frame);
	tcase_add_test(round, test_trace_reads_packed_zstd_blocks);
	tcase_add_test(round, test_trace_reads_stream_blocks_without_columns);
	tcase_add_test(round, test_trace_older_codec_after_codec5_is_damage);
	return s;
}
