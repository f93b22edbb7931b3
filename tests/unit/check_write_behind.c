/*
 * check_write_behind.c - the collector's writing thread: order, back-pressure, END, modes
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "diag.h"
#include "fixtures.h"
#include "trace_reader.h"
#include "write_behind.h"

#define STAGES 300
#define PER_STAGE 2000 /* ALLOCs: 80000 bytes a stage, 24 MB in all */

/* ALLOC records in the file as it stands; -1 unless it ends cleanly. */
static long count_allocs(void)
{
	struct hg_trace_reader *rd = hg_trace_reader_open(fx_trace_path);
	struct hg_record rec;
	long n = 0;
	int k;

	ck_assert_ptr_nonnull(rd);
	while ((k = hg_trace_reader_next(rd, &rec)) == 1)
		n += rec.rec->type == HG_REC_ALLOC;
	hg_trace_reader_close(rd);
	return k == 0 ? n : -1;
}

/* Fill *buf (capacity *cap, as the write-behind handed it back) with stage i's records: a
 * copy of tmpl with each record's time and address set (quicker than the queue drains). */
static size_t fill_stage(uint8_t **buf, size_t *cap, const struct fx_buf *tmpl, int i)
{
	HG_GROW(*buf, *cap, tmpl->len);
	memcpy(*buf, tmpl->p, tmpl->len);
	for (int k = 0; k < PER_STAGE; k++) {
		struct hg_rec_alloc *a = (struct hg_rec_alloc *)(*buf + (size_t)k * sizeof(*a));
		uint64_t n = (uint64_t)i * PER_STAGE + (uint64_t)k;
		a->t_ns = 1000 + n;
		a->addr = 0x10000 + 16 * n;
	}
	return tmpl->len;
}

/*
 * 24 MB of stages under three (pid, tid) pairs, far past what may wait in the queue, with a change
 * of mode every 40 stages and an END (not final) half-way, which returns once what came before it
 * is in the file: the file holds every record once, in the order queued, each block with the pid
 * and tid of its stage; a stage's buffer comes back to the caller as the next one to fill.
 */
START_TEST(test_write_behind_keeps_order_through_back_pressure)
{
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 1);
	struct hg_write_behind *b;
	struct hg_trace_reader *rd;
	struct hg_record rec;
	uint8_t *buf = NULL;
	size_t cap = 0;
	uint64_t n = 0, ends = 0;
	int failed = 1, k, reused = 0;
	struct fx_buf tmpl = { 0 };

	for (int j = 0; j < PER_STAGE; j++)
		fx_alloc(&tmpl, 0, 0, 16 + (uint64_t)j % 512, (uint32_t)(j % 7), HG_FN_MALLOC);
	ck_assert_uint_eq(tmpl.len, (size_t)PER_STAGE * sizeof(struct hg_rec_alloc));
	ck_assert_ptr_nonnull(w);
	b = hg_write_behind_start(w);
	for (int i = 0; i < STAGES; i++) {
		size_t len = fill_stage(&buf, &cap, &tmpl, i);
		uint8_t *given = buf;
		if (i % 40 == 39)
			ck_assert_int_eq(hg_write_behind_mode(b, (enum hg_pack_mode)(i / 40 % 3)), 1);
		if (i == STAGES / 2) { /* everything before it is in the file once it returns */
			struct stat before, after;
			hg_write_behind_end(b, 0);
			ck_assert_int_eq(stat(fx_trace_path, &before), 0);
			usleep(20000); /* nothing more is queued: the file stays as it is */
			ck_assert_int_eq(stat(fx_trace_path, &after), 0);
			ck_assert_int_eq(before.st_size, after.st_size);
			ck_assert_int_eq(count_allocs(), (long)i * PER_STAGE);
		}
		hg_write_behind_stage(b, 100 + (uint32_t)(i % 3), 200 + (uint32_t)(i % 3), 0, &buf,
				      &cap, len);
		ck_assert(buf != given); /* taken; what came back is another or none */
		reused += buf != NULL;
	}
	ck_assert_int_gt(reused, 0);
	hg_write_behind_end(b, 1);
	w = hg_write_behind_stop(b, &failed);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
	free(buf);
	fx_buf_release(&tmpl);

	rd = hg_trace_reader_open(fx_trace_path);
	ck_assert_ptr_nonnull(rd);
	while ((k = hg_trace_reader_next(rd, &rec)) == 1) {
		const struct hg_rec_alloc *a = (const void *)rec.rec;
		uint32_t stage = (uint32_t)(n / PER_STAGE);
		if (rec.rec->type == HG_REC_END) {
			ends++;
			continue;
		}
		ck_assert_uint_eq(rec.rec->type, HG_REC_ALLOC);
		ck_assert_uint_eq(a->addr, 0x10000 + 16 * n);
		ck_assert_uint_eq(a->t_ns, 1000 + n);
		ck_assert_uint_eq(rec.pid, 100 + stage % 3);
		ck_assert_uint_eq(rec.tid, 200 + stage % 3);
		n++;
	}
	ck_assert_int_eq(k, 0);
	ck_assert_uint_eq(n, (uint64_t)STAGES * PER_STAGE);
	ck_assert_uint_eq(ends, 2); /* the half-way one, and the final one */
	hg_trace_reader_close(rd);
}
END_TEST

/* A writer without compression takes no modes, and says so. */
START_TEST(test_write_behind_mode_without_compression)
{
	struct hg_trace_writer *w = hg_trace_writer_open(fx_trace_path, 0);
	struct hg_write_behind *b = hg_write_behind_start(w);
	int failed = 1;

	ck_assert_int_eq(hg_write_behind_mode(b, HG_PACK_QUICK), 0);
	w = hg_write_behind_stop(b, &failed);
	ck_assert_int_eq(failed, 0);
	ck_assert_int_eq(hg_trace_writer_close(w), 0);
}
END_TEST

TCase *write_behind_tcase(void)
{
	TCase *tc = tcase_create("write_behind");

	tcase_add_checked_fixture(tc, fx_trace_setup, fx_trace_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_write_behind_keeps_order_through_back_pressure);
	tcase_add_test(tc, test_write_behind_mode_without_compression);
	return tc;
}
