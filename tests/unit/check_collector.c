/*
 * check_collector.c - unit tests for the consumer side of the ring (analyzer/collector.c)
 *
 * The producer here is the test itself, writing slot headers and data by hand exactly as
 * include/hg_format.h lays them out (claim: state OWNED with pid and tid; publish: bytes, then
 * a release store of head). That keeps these tests independent of preload/ring.c, which
 * check_ring.c covers against this collector. What the collector writes is read back with the
 * trace reader. This file holds the suite and its slots cases; the collector's own records and
 * bare mode's attach are in check_collector_records.c and check_collector_attach.c, and the rig
 * they share in collector_rig.c.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector.h"
#include "collector_rig.h"
#include "fixtures.h"
#include "live_count.h"

/* ---- slots ------------------------------------------------------------------------------ */

/* A released slot is drained one last time and returned to FREE with head and tail zeroed. */
START_TEST(test_collector_released_slot_drained_and_freed)
{
	struct fx_buf b = { 0 };
	struct hg_ring_slot *s;

	fx_rig_open(&cr_rig, 4, HG_RING_MIN_SLOT_BYTES, 0);
	s = fx_slot(cr_rig.ring, 1);
	cr_own(1, 500, 501);
	fx_alloc(&b, 1, 0x10, 1, 1, 0);
	fx_free(&b, 2, 0x10);
	cr_publish_buf(1, &b);
	__atomic_store_n(&s->state, HG_SLOT_RELEASED, __ATOMIC_RELEASE);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), b.len);
	ck_assert_uint_eq(s->state, HG_SLOT_FREE);
	ck_assert_uint_eq(s->head, 0);
	ck_assert_uint_eq(s->tail, 0);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), 0);

	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_tr.n, 3);
	ck_assert_mem_eq(cr_tr.r[0].rec, b.p, 40);
	ck_assert_mem_eq(cr_tr.r[1].rec, b.p + 40, 24);
	ck_assert_uint_eq(cr_tr.r[0].pid, 500);
	ck_assert_uint_eq(cr_tr.r[1].tid, 501);
	ck_assert_uint_eq(cr_tr.r[2].rec->type, HG_REC_END);
	ck_assert_uint_eq(cr_tr.r[2].rec->flags, HG_END_FINAL);
	/* finish told producers that nobody drains any more. */
	ck_assert_uint_eq(cr_rig.ring->flags & HG_RING_F_SHUTDOWN, HG_RING_F_SHUTDOWN);
	fx_buf_release(&b);
}
END_TEST

/* A slot owned by a live process stays OWNED across owner checks. */
START_TEST(test_collector_live_owner_keeps_slot)
{
	struct fx_buf b = { 0 };

	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	cr_own(0, (uint32_t)getpid(), fx_gettid());
	fx_free(&b, 1, 0x10);
	cr_publish_buf(0, &b);
	fx_sleep_us(120000); /* past the 100 ms between owner checks */
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), 24);
	ck_assert_uint_eq(fx_slot(cr_rig.ring, 0)->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(fx_slot(cr_rig.ring, 0)->tail, 24);
	fx_buf_release(&b);
}
END_TEST

/*
 * A producer claims a slot with a CAS of state FREE -> CLAIMING, stores its pid and tid, and
 * only then publishes OWNED (preload/ring.c, claim). An owner check while the slot is CLAIMING
 * must leave it alone: the producer is alive and about to write through it, and the pid and
 * tid fields do not name it yet. _i = 0: the slot was last owned by a thread that is gone;
 * _i = 1: the slot was never used (pid and tid 0).
 */
START_TEST(test_collector_claim_in_progress_not_freed)
{
	struct hg_ring_slot *s;
	uint32_t expect = HG_SLOT_FREE;
	struct fx_buf b = { 0 };

	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	s = fx_slot(cr_rig.ring, 0);
	if (_i == 0) {
		/* A previous owner that released the slot and died; the collector freed it. */
		uint32_t gone = fx_dead_pid();
		cr_own(0, gone, gone);
		__atomic_store_n(&s->state, HG_SLOT_RELEASED, __ATOMIC_RELEASE);
		hg_collector_drain(cr_rig.c);
		ck_assert_uint_eq(s->state, HG_SLOT_FREE);
	}
	/* The new producer's CAS; its pid and tid are not written yet. */
	ck_assert(__atomic_compare_exchange_n(&s->state, &expect, HG_SLOT_CLAIMING, 0,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	fx_sleep_us(120000); /* past the 100 ms between owner checks */
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), 0);
	ck_assert_uint_eq(s->state, HG_SLOT_CLAIMING);
	/* The producer carries on: its records reach the trace. */
	cr_own(0, (uint32_t)getpid(), fx_gettid());
	fx_free(&b, 1, 0x10);
	cr_publish_buf(0, &b);
	fx_sleep_us(120000);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), 24);
	ck_assert_uint_eq(s->state, HG_SLOT_OWNED);
	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_FREE, (uint32_t)getpid(), fx_gettid()), 1);
	fx_buf_release(&b);
}
END_TEST

/* A thread of this (live) process that owned a slot and exited without releasing it. */
static void *note_tid(void *arg)
{
	*(uint32_t *)arg = fx_gettid();
	return NULL;
}

START_TEST(test_collector_dead_thread_of_live_process_freed)
{
	struct fx_buf b = { 0 };
	uint32_t tid = 0;
	pthread_t th;

	ck_assert_int_eq(pthread_create(&th, NULL, note_tid, &tid), 0);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	cr_own(0, (uint32_t)getpid(), tid);
	fx_free(&b, 1, 0x10);
	cr_publish_buf(0, &b);
	fx_sleep_us(120000);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), 24);
	ck_assert_uint_eq(fx_slot(cr_rig.ring, 0)->state, HG_SLOT_FREE);
	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_FREE, (uint32_t)getpid(), tid), 1);
	fx_buf_release(&b);
}
END_TEST

/*
 * The other way round: a process whose main thread called pthread_exit shows as a zombie in
 * /proc/PID/stat while its other threads run. A slot of such a live thread stays OWNED.
 */
struct zombie_leader {
	uint32_t tid;       /* the writer thread */
	int ready, stop, done;
};

static void *leaderless_writer(void *arg)
{
	struct zombie_leader *z = arg;
	struct fx_buf b = { 0 };

	z->tid = fx_gettid();
	cr_own(0, (uint32_t)getpid(), z->tid);
	fx_free(&b, 1, 0x10);
	cr_publish_buf(0, &b);
	__atomic_store_n(&z->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&z->stop, __ATOMIC_ACQUIRE))
		fx_sleep_us(1000);
	b.len = 0;
	fx_free(&b, 2, 0x20);
	cr_publish_buf(0, &b);
	__atomic_store_n(&fx_slot(cr_rig.ring, 0)->state, HG_SLOT_RELEASED, __ATOMIC_RELEASE);
	__atomic_store_n(&z->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int leader_is_zombie(pid_t pid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "r")))
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && paren[2] == 'Z';
}

START_TEST(test_collector_thread_of_zombie_leader_keeps_slot)
{
	struct zombie_leader *z;
	int status, round;
	pid_t pid;

	z = mmap(NULL, sizeof(*z), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(z, MAP_FAILED);
	memset(z, 0, sizeof(*z));
	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pthread_t th;
		if (pthread_create(&th, NULL, leaderless_writer, z) != 0)
			_exit(2);
		pthread_exit(NULL);
	}
	for (round = 0; round < 5000 && !(__atomic_load_n(&z->ready, __ATOMIC_ACQUIRE) &&
					   leader_is_zombie(pid)); round++)
		fx_sleep_us(1000);
	ck_assert_msg(round < 5000, "the child's main thread did not exit");
	fx_sleep_us(120000); /* past the 100 ms between owner checks */
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), 24);
	ck_assert_uint_eq(fx_slot(cr_rig.ring, 0)->state, HG_SLOT_OWNED);
	__atomic_store_n(&z->stop, 1, __ATOMIC_RELEASE);
	for (round = 0; round < 5000 && !__atomic_load_n(&z->done, __ATOMIC_ACQUIRE); round++)
		fx_sleep_us(1000);
	ck_assert_int_eq(z->done, 1);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), 24);
	ck_assert_uint_eq(fx_slot(cr_rig.ring, 0)->state, HG_SLOT_FREE);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_FREE, (uint32_t)pid, z->tid), 2);
	munmap(z, sizeof(*z));
}
END_TEST

/*
 * A slot drained for one thread, released, then claimed by another: the staged bytes of the
 * two owners go into blocks of their own.
 */
START_TEST(test_collector_slot_reuse_new_owner)
{
	struct fx_buf b1 = { 0 }, b2 = { 0 };

	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	cr_own(0, 600, 601);
	fx_alloc(&b1, 1, 0x10, 1, 1, 0);
	cr_publish_buf(0, &b1);
	__atomic_store_n(&fx_slot(cr_rig.ring, 0)->state, HG_SLOT_RELEASED, __ATOMIC_RELEASE);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), 40);
	ck_assert_uint_eq(fx_slot(cr_rig.ring, 0)->state, HG_SLOT_FREE);
	cr_own(0, (uint32_t)getpid(), fx_gettid());
	fx_free(&b2, 2, 0x10);
	cr_publish_buf(0, &b2);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), 24);

	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_tr.n, 3);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_ALLOC, 600, 601), 1);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_FREE, (uint32_t)getpid(), fx_gettid()), 1);
	ck_assert_uint_ne(cr_tr.r[0].offset, cr_tr.r[1].offset);
	fx_buf_release(&b1);
	fx_buf_release(&b2);
}
END_TEST

/* Records that wrap around the end of a slot's data area come out whole. */
START_TEST(test_collector_wrapped_bytes_staged_in_order)
{
	struct fx_buf b = { 0 };
	const uint32_t size = HG_RING_MIN_SLOT_BYTES;
	struct hg_ring_slot *s;
	uint64_t start = size - 20; /* the first record straddles the end */

	fx_rig_open(&cr_rig, 2, size, 0);
	s = fx_slot(cr_rig.ring, 0);
	s->head = s->tail = start;
	cr_own(0, (uint32_t)getpid(), fx_gettid());
	for (uint32_t k = 0; k < 3; k++)
		fx_alloc(&b, k, 0x1000 + k, k, k, 0);
	cr_publish_buf(0, &b);
	ck_assert_mem_eq(fx_slot_data(cr_rig.ring, 0) + start, b.p, 20);
	ck_assert_mem_eq(fx_slot_data(cr_rig.ring, 0), b.p + 20, b.len - 20);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), b.len);
	ck_assert_uint_eq(s->tail, start + b.len);
	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_tr.n, 4);
	for (uint32_t k = 0; k < 3; k++)
		ck_assert_mem_eq(cr_tr.r[k].rec, b.p + 40 * k, 40);
	fx_buf_release(&b);
}
END_TEST

/* The overflow slot's block carries pid 0; its ORIGIN records name each writer. */
START_TEST(test_collector_overflow_slot_origins)
{
	struct fx_buf b = { 0 };

	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	fx_origin(&b, 11, 12);
	fx_alloc(&b, 1, 0x10, 1, 1, 0);
	fx_origin(&b, 13, 14);
	fx_free(&b, 2, 0x20);
	cr_publish_buf(1, &b);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), b.len);
	/* The overflow slot is never handed to anyone. */
	ck_assert_uint_eq(fx_slot(cr_rig.ring, 1)->state, HG_SLOT_FREE);
	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_ALLOC, 11, 12), 1);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_FREE, 13, 14), 1);
	fx_buf_release(&b);
}
END_TEST

/*
 * The overflow slot holds more than HG_BLOCK_MAX_RAW when one pass drains it (possible with
 * --slot-size 8M), so its staged bytes are cut into several blocks. Every record must still be
 * attributed to the writer its ORIGIN record names. 80000 ORIGIN+ALLOC pairs of 56 bytes put
 * the 4 MiB cut between the ORIGIN and the ALLOC of pair 74898.
 */
START_TEST(test_collector_overflow_origin_survives_block_cut)
{
	const uint32_t pairs = 80000;
	struct fx_buf b = { 0 };

	fx_rig_open(&cr_rig, 2, 8u << 20, 0);
	for (uint32_t k = 0; k < pairs; k++) {
		fx_origin(&b, 4242, 4243);
		fx_alloc(&b, k, 0x10000 + 16ull * k, k, 1, 0);
	}
	ck_assert_uint_gt(b.len, HG_BLOCK_MAX_RAW);
	cr_publish_buf(1, &b);
	ck_assert_uint_eq(hg_collector_drain(cr_rig.c), b.len);
	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(fx_count(&cr_tr, HG_REC_ALLOC), pairs);
	for (size_t i = 0; i < cr_tr.n; i++) {
		const struct hg_rec_alloc *a = (const struct hg_rec_alloc *)cr_tr.r[i].rec;

		if (a->hdr.type == HG_REC_ALLOC)
			FX_REQUIRE(cr_tr.r[i].pid == 4242 && cr_tr.r[i].tid == 4243,
				   "ALLOC %zu (t_ns %llu) attributed to %u/%u", i,
				   (unsigned long long)a->t_ns, cr_tr.r[i].pid, cr_tr.r[i].tid);
	}
	fx_buf_release(&b);
}
END_TEST

/* A producer's sync request: everything published is written, then an END block (not
 * final), and sync_done catches up. A pass without a new request writes no END. */
START_TEST(test_collector_sync_request_writes_end)
{
	struct fx_buf b = { 0 };

	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	cr_own(0, (uint32_t)getpid(), fx_gettid());
	fx_alloc(&b, 1, 0x10, 1, 1, 0);
	cr_publish_buf(0, &b);
	__atomic_add_fetch(&cr_rig.ring->sync_request, 1, __ATOMIC_RELEASE);
	hg_collector_drain(cr_rig.c);
	ck_assert_uint_eq(cr_rig.ring->sync_done, 1);
	hg_collector_drain(cr_rig.c);
	fx_read(cr_rig.trace, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_tr.n, 2);
	ck_assert_mem_eq(cr_tr.r[0].rec, b.p, 40);
	ck_assert_uint_eq(cr_tr.r[1].rec->type, HG_REC_END);
	ck_assert_uint_eq(cr_tr.r[1].rec->flags, 0);
	fx_trace_release(&cr_tr);

	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_tr.n, 3);
	ck_assert_uint_eq(cr_tr.r[2].rec->flags, HG_END_FINAL);
	fx_buf_release(&b);
}
END_TEST

START_TEST(test_collector_stats)
{
	static const uint64_t ip[2] = { 1, 2 };
	const struct hg_collector_stats *st;
	struct fx_buf b = { 0 };
	struct stat sb;

	fx_rig_open(&cr_rig, 3, HG_RING_MIN_SLOT_BYTES, 3);
	cr_own(0, (uint32_t)getpid(), fx_gettid());
	fx_process(&b, 0, 1, 10, 1, "a", 1, "/a", 64);
	fx_stack(&b, 1, 2, ip);
	for (uint32_t k = 0; k < 3; k++)
		fx_alloc(&b, 2 + k, 0x10 + 16 * k, 8, 1, 0);
	fx_free(&b, 9, 0x10);
	fx_free(&b, 9, 0x20);
	cr_publish_buf(0, &b);
	hg_collector_drain(cr_rig.c);
	fx_rig_finish(&cr_rig, &cr_tr);
	st = hg_collector_stats(cr_rig.c);
	ck_assert_uint_eq(st->n_records, 7);
	ck_assert_uint_eq(st->n_allocs, 3);
	ck_assert_uint_eq(st->n_frees, 2);
	ck_assert_uint_eq(st->n_processes, 1);
	ck_assert_uint_eq(st->raw_bytes, b.len);
	ck_assert_uint_eq(st->lost_events, 0);
	ck_assert_int_eq(st->write_failed, 0);
	ck_assert_int_eq(stat(cr_rig.trace, &sb), 0);
	ck_assert_uint_eq(st->file_bytes, (uint64_t)sb.st_size);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_tr.n, 8);
	fx_buf_release(&b);
}
END_TEST

/*
 * The header's live-blocks hint is counted a drain at a time, at its end: 5 allocations of
 * this pid (live 5); 2 frees and 4 allocations (7); 6 frees (1). The most is 7, with this
 * pid. Within a drain it is not looked at: 9 allocations and 9 frees at once would add 0.
 */
START_TEST(test_collector_trace_header_notes_live_hint)
{
	static const uint64_t ip[2] = { 1, 2 };
	struct fx_buf b = { 0 };
	struct hg_trace_header fh;
	uint32_t pid = (uint32_t)getpid();

	fx_rig_open(&cr_rig, 3, HG_RING_MIN_SLOT_BYTES, 3);
	cr_own(0, pid, fx_gettid());
	fx_process(&b, 0, 1, 10, 1, "a", 1, "/a", 64);
	fx_stack(&b, 1, 2, ip);
	for (uint32_t k = 0; k < 5; k++)
		fx_alloc(&b, 2 + k, 0x10 + 16 * k, 8, 1, 0);
	cr_publish_buf(0, &b);
	hg_collector_drain(cr_rig.c);
	b.len = 0;
	fx_free(&b, 9, 0x10);
	fx_free(&b, 9, 0x20);
	for (uint32_t k = 0; k < 4; k++)
		fx_alloc(&b, 10 + k, 0x100 + 16 * k, 8, 1, 0);
	cr_publish_buf(0, &b);
	hg_collector_drain(cr_rig.c);
	b.len = 0;
	for (uint32_t k = 0; k < 6; k++)
		fx_free(&b, 20, k < 3 ? 0x30 + 16 * k : 0x100 + 16 * (k - 3));
	cr_publish_buf(0, &b);
	hg_collector_drain(cr_rig.c);
	fx_rig_finish(&cr_rig, &cr_tr);
	fx_read_file_header(cr_rig.trace, &fh);
	ck_assert_uint_eq(fh.live_blocks_max, 7);
	ck_assert_uint_eq(fh.live_blocks_pid, pid);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_ALLOC, pid, fx_gettid()), 9);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_FREE, pid, fx_gettid()), 8);
	fx_buf_release(&b);
}
END_TEST

/* Events in the overflow slot are not counted (their process is an ORIGIN's): with any
 * there, the header says nothing rather than a count that may have missed its frees. */
START_TEST(test_collector_live_hint_not_written_after_overflow)
{
	struct fx_buf b = { 0 };
	struct hg_trace_header fh;
	uint32_t pid = (uint32_t)getpid();

	fx_rig_open(&cr_rig, 3, HG_RING_MIN_SLOT_BYTES, 0);
	cr_own(0, pid, fx_gettid());
	for (uint32_t k = 0; k < 5; k++)
		fx_alloc(&b, 2 + k, 0x10 + 16 * k, 8, 1, 0);
	cr_publish_buf(0, &b);
	b.len = 0;
	fx_origin(&b, pid, 99);
	fx_free(&b, 9, 0x10);
	cr_publish_buf(2, &b);
	hg_collector_drain(cr_rig.c);
	fx_rig_finish(&cr_rig, &cr_tr);
	fx_read_file_header(cr_rig.trace, &fh);
	ck_assert_uint_eq(fh.live_blocks_max, 0);
	ck_assert_uint_eq(fh.live_blocks_pid, 0);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_FREE, pid, 99), 1);
	fx_buf_release(&b);
}
END_TEST

/* The counter alone: per pid, from 0 at each new image, the most over all with its pid. */
START_TEST(test_live_count_per_process)
{
	static struct hg_live_count lc;

	memset(&lc, 0, sizeof(lc));
	hg_live_count_note(&lc, 100, 1, 10, 0);
	hg_live_count_note(&lc, 100, 0, 0, 4);
	ck_assert_uint_eq(lc.max, 10);
	ck_assert_uint_eq(lc.max_pid, 100);
	hg_live_count_note(&lc, 200, 1, 20, 5); /* 15 */
	ck_assert_uint_eq(lc.max, 15);
	ck_assert_uint_eq(lc.max_pid, 200);
	hg_live_count_note(&lc, 100, 0, 8, 0); /* 6 + 8 */
	ck_assert_uint_eq(lc.max, 15);
	hg_live_count_note(&lc, 100, 0, 2, 0); /* 16 */
	ck_assert_uint_eq(lc.max, 16);
	ck_assert_uint_eq(lc.max_pid, 100);
	hg_live_count_note(&lc, 100, 1, 3, 0); /* exec'd: 3, not 19 */
	hg_live_count_note(&lc, 100, 0, 10, 0); /* 13 */
	ck_assert_uint_eq(lc.max, 16);
	/* A fork child freeing what it inherited goes below 0 and never raises the most. */
	hg_live_count_note(&lc, 300, 1, 0, 50);
	hg_live_count_note(&lc, 300, 0, 40, 0);
	ck_assert_uint_eq(lc.max, 16);
	ck_assert_uint_eq(lc.max_pid, 100);
}
END_TEST

/*
 * The file header says how often the collector sampled resident sets: every 250 ms here, and
 * never for the rig (its options say 0), which the header writes as HG_RSS_INTERVAL_OFF.
 */
START_TEST(test_collector_trace_header_notes_rss_interval)
{
	struct hg_collector_opts o = { 2, HG_RING_MIN_SLOT_BYTES, 0, 0, 250, 0, 0, 0,
					HG_DEFAULT_ORPHANS_NS };
	struct hg_trace_header fh;
	struct fx_scratch sc;
	char p[FX_PATH_BYTES];
	struct hg_collector *c;

	fx_scratch_make(&sc);
	fx_scratch_file(&sc, "t.hgt", p);
	c = hg_collector_create(&o);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hg_collector_open_trace(c, p, 0), 0);
	ck_assert_int_eq(hg_collector_finish(c), 0);
	hg_collector_free(c);
	fx_read_file_header(p, &fh);
	ck_assert_uint_eq(fh.rss_interval_ms, 250);
	fx_scratch_remove(&sc);

	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	fx_rig_finish(&cr_rig, &cr_tr);
	fx_read_file_header(cr_rig.trace, &fh);
	ck_assert_uint_eq(fh.rss_interval_ms, HG_RSS_INTERVAL_OFF);
}
END_TEST

Suite *collector_suite(void);

Suite *collector_suite(void)
{
	Suite *s = suite_create("collector");
	TCase *slots = tcase_create("slots");

	tcase_add_checked_fixture(slots, cr_setup, cr_teardown);
	tcase_set_timeout(slots, 30); /* a hang guard only */
	suite_add_tcase(s, slots);
	suite_add_tcase(s, collector_records_tcase());
	suite_add_tcase(s, collector_attach_tcase());
	tcase_add_test(slots, test_collector_released_slot_drained_and_freed);
	tcase_add_test(slots, test_collector_live_owner_keeps_slot);
	tcase_add_loop_test(slots, test_collector_claim_in_progress_not_freed, 0, 2);
	tcase_add_test(slots, test_collector_dead_thread_of_live_process_freed);
	tcase_add_test(slots, test_collector_thread_of_zombie_leader_keeps_slot);
	tcase_add_test(slots, test_collector_slot_reuse_new_owner);
	tcase_add_test(slots, test_collector_wrapped_bytes_staged_in_order);
	tcase_add_test(slots, test_collector_overflow_slot_origins);
	tcase_add_test(slots, test_collector_overflow_origin_survives_block_cut);
	tcase_add_test(slots, test_collector_sync_request_writes_end);
	tcase_add_test(slots, test_collector_stats);
	tcase_add_test(slots, test_collector_trace_header_notes_rss_interval);
	tcase_add_test(slots, test_collector_trace_header_notes_live_hint);
	tcase_add_test(slots, test_collector_live_hint_not_written_after_overflow);
	tcase_add_test(slots, test_live_count_per_process);
	return s;
}
