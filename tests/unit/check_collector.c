/*
 * check_collector.c - unit tests for the consumer side of the ring (analyzer/collector.c)
 *
 * The producer here is the test itself, writing slot headers and data by hand exactly as
 * include/hg_format.h lays them out (claim: state OWNED with pid and tid; publish: bytes, then
 * a release store of head). That keeps these tests independent of preload/ring.c, which
 * check_ring.c covers against this collector. What the collector writes is read back with the
 * trace reader.
 */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "collector.h"
#include "fixtures.h"

static struct fx_rig rig;
static struct fx_trace tr;

static void setup(void)
{
	memset(&rig, 0, sizeof(rig));
	memset(&tr, 0, sizeof(tr));
}

static void teardown(void)
{
	fx_restore_stderr();
	fx_trace_release(&tr);
	fx_rig_close(&rig);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

/* Claim slot i for (pid, tid) as a producer does: pid and tid first, then a release store of
 * OWNED. The owner check asks whether that thread is alive, so tests that keep a slot OWNED
 * name a real thread (this one). */
static void own(uint32_t i, uint32_t pid, uint32_t tid)
{
	struct hg_ring_slot *s = fx_slot(rig.ring, i);

	s->pid = pid;
	s->tid = tid;
	__atomic_store_n(&s->state, HG_SLOT_OWNED, __ATOMIC_RELEASE);
}

/* Publish n bytes in slot i: copy (wrapping at the end of the data area), then store head. */
static void publish(uint32_t i, const void *bytes, size_t n)
{
	struct hg_ring_slot *s = fx_slot(rig.ring, i);
	uint8_t *data = fx_slot_data(rig.ring, i);
	uint32_t size = rig.ring->slot_bytes;
	uint64_t head = s->head;
	size_t pos = head & (size - 1), first = n < size - pos ? n : size - pos;

	memcpy(data + pos, bytes, first);
	memcpy(data, (const uint8_t *)bytes + first, n - first);
	__atomic_store_n(&s->head, head + n, __ATOMIC_RELEASE);
}

static void publish_buf(uint32_t i, const struct fx_buf *b)
{
	publish(i, b->p, b->len);
}

/* Records of a type with (pid, tid). */
static size_t count_from(const struct fx_trace *t, uint16_t type, uint32_t pid, uint32_t tid)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->r[i].rec->type == type && t->r[i].pid == pid && t->r[i].tid == tid;
	return n;
}

static const struct hg_rec *nth_of_type(const struct fx_trace *t, uint16_t type, size_t nth)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->r[i].rec->type == type && nth-- == 0)
			return t->r[i].rec;
	ck_abort_msg("no record %zu of type %u", nth, type);
	return NULL;
}

/* ---- slots ------------------------------------------------------------------------------ */

/* A released slot is drained one last time and returned to FREE with head and tail zeroed. */
START_TEST(test_collector_released_slot_drained_and_freed)
{
	struct fx_buf b = { 0 };
	struct hg_ring_slot *s;

	fx_rig_open(&rig, 4, HG_RING_MIN_SLOT_BYTES, 0);
	s = fx_slot(rig.ring, 1);
	own(1, 500, 501);
	fx_alloc(&b, 1, 0x10, 1, 1, 0);
	fx_free(&b, 2, 0x10);
	publish_buf(1, &b);
	__atomic_store_n(&s->state, HG_SLOT_RELEASED, __ATOMIC_RELEASE);
	ck_assert_uint_eq(hg_collector_drain(rig.c), b.len);
	ck_assert_uint_eq(s->state, HG_SLOT_FREE);
	ck_assert_uint_eq(s->head, 0);
	ck_assert_uint_eq(s->tail, 0);
	ck_assert_uint_eq(hg_collector_drain(rig.c), 0);

	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 3);
	ck_assert_mem_eq(tr.r[0].rec, b.p, 40);
	ck_assert_mem_eq(tr.r[1].rec, b.p + 40, 24);
	ck_assert_uint_eq(tr.r[0].pid, 500);
	ck_assert_uint_eq(tr.r[1].tid, 501);
	ck_assert_uint_eq(tr.r[2].rec->type, HG_REC_END);
	ck_assert_uint_eq(tr.r[2].rec->flags, HG_END_FINAL);
	/* finish told producers that nobody drains any more. */
	ck_assert_uint_eq(rig.ring->flags & HG_RING_F_SHUTDOWN, HG_RING_F_SHUTDOWN);
	fx_buf_release(&b);
}
END_TEST

/* A slot owned by a live process stays OWNED across owner checks. */
START_TEST(test_collector_live_owner_keeps_slot)
{
	struct fx_buf b = { 0 };

	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	own(0, (uint32_t)getpid(), fx_gettid());
	fx_free(&b, 1, 0x10);
	publish_buf(0, &b);
	sleep_us(120000); /* past the 100 ms between owner checks */
	ck_assert_uint_eq(hg_collector_drain(rig.c), 24);
	ck_assert_uint_eq(fx_slot(rig.ring, 0)->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(fx_slot(rig.ring, 0)->tail, 24);
	fx_buf_release(&b);
}
END_TEST

/* A pid that no longer exists: a child that has exited and been reaped. */
static uint32_t dead_pid(void)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return (uint32_t)pid;
}

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

	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	s = fx_slot(rig.ring, 0);
	if (_i == 0) {
		/* A previous owner that released the slot and died; the collector freed it. */
		uint32_t gone = dead_pid();
		own(0, gone, gone);
		__atomic_store_n(&s->state, HG_SLOT_RELEASED, __ATOMIC_RELEASE);
		hg_collector_drain(rig.c);
		ck_assert_uint_eq(s->state, HG_SLOT_FREE);
	}
	/* The new producer's CAS; its pid and tid are not written yet. */
	ck_assert(__atomic_compare_exchange_n(&s->state, &expect, HG_SLOT_CLAIMING, 0,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	sleep_us(120000); /* past the 100 ms between owner checks */
	ck_assert_uint_eq(hg_collector_drain(rig.c), 0);
	ck_assert_uint_eq(s->state, HG_SLOT_CLAIMING);
	/* The producer carries on: its records reach the trace. */
	own(0, (uint32_t)getpid(), fx_gettid());
	fx_free(&b, 1, 0x10);
	publish_buf(0, &b);
	sleep_us(120000);
	ck_assert_uint_eq(hg_collector_drain(rig.c), 24);
	ck_assert_uint_eq(s->state, HG_SLOT_OWNED);
	fx_rig_finish(&rig, &tr);
	ck_assert_uint_eq(count_from(&tr, HG_REC_FREE, (uint32_t)getpid(), fx_gettid()), 1);
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
	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	own(0, (uint32_t)getpid(), tid);
	fx_free(&b, 1, 0x10);
	publish_buf(0, &b);
	sleep_us(120000);
	ck_assert_uint_eq(hg_collector_drain(rig.c), 24);
	ck_assert_uint_eq(fx_slot(rig.ring, 0)->state, HG_SLOT_FREE);
	fx_rig_finish(&rig, &tr);
	ck_assert_uint_eq(count_from(&tr, HG_REC_FREE, (uint32_t)getpid(), tid), 1);
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
	own(0, (uint32_t)getpid(), z->tid);
	fx_free(&b, 1, 0x10);
	publish_buf(0, &b);
	__atomic_store_n(&z->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&z->stop, __ATOMIC_ACQUIRE))
		sleep_us(1000);
	b.len = 0;
	fx_free(&b, 2, 0x20);
	publish_buf(0, &b);
	__atomic_store_n(&fx_slot(rig.ring, 0)->state, HG_SLOT_RELEASED, __ATOMIC_RELEASE);
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
	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
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
		sleep_us(1000);
	ck_assert_msg(round < 5000, "the child's main thread did not exit");
	sleep_us(120000); /* past the 100 ms between owner checks */
	ck_assert_uint_eq(hg_collector_drain(rig.c), 24);
	ck_assert_uint_eq(fx_slot(rig.ring, 0)->state, HG_SLOT_OWNED);
	__atomic_store_n(&z->stop, 1, __ATOMIC_RELEASE);
	for (round = 0; round < 5000 && !__atomic_load_n(&z->done, __ATOMIC_ACQUIRE); round++)
		sleep_us(1000);
	ck_assert_int_eq(z->done, 1);
	ck_assert_uint_eq(hg_collector_drain(rig.c), 24);
	ck_assert_uint_eq(fx_slot(rig.ring, 0)->state, HG_SLOT_FREE);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fx_rig_finish(&rig, &tr);
	ck_assert_uint_eq(count_from(&tr, HG_REC_FREE, (uint32_t)pid, z->tid), 2);
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

	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	own(0, 600, 601);
	fx_alloc(&b1, 1, 0x10, 1, 1, 0);
	publish_buf(0, &b1);
	__atomic_store_n(&fx_slot(rig.ring, 0)->state, HG_SLOT_RELEASED, __ATOMIC_RELEASE);
	ck_assert_uint_eq(hg_collector_drain(rig.c), 40);
	ck_assert_uint_eq(fx_slot(rig.ring, 0)->state, HG_SLOT_FREE);
	own(0, (uint32_t)getpid(), fx_gettid());
	fx_free(&b2, 2, 0x10);
	publish_buf(0, &b2);
	ck_assert_uint_eq(hg_collector_drain(rig.c), 24);

	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 3);
	ck_assert_uint_eq(count_from(&tr, HG_REC_ALLOC, 600, 601), 1);
	ck_assert_uint_eq(count_from(&tr, HG_REC_FREE, (uint32_t)getpid(), fx_gettid()), 1);
	ck_assert_uint_ne(tr.r[0].offset, tr.r[1].offset);
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

	fx_rig_open(&rig, 2, size, 0);
	s = fx_slot(rig.ring, 0);
	s->head = s->tail = start;
	own(0, (uint32_t)getpid(), fx_gettid());
	for (uint32_t k = 0; k < 3; k++)
		fx_alloc(&b, k, 0x1000 + k, k, k, 0);
	publish_buf(0, &b);
	ck_assert_mem_eq(fx_slot_data(rig.ring, 0) + start, b.p, 20);
	ck_assert_mem_eq(fx_slot_data(rig.ring, 0), b.p + 20, b.len - 20);
	ck_assert_uint_eq(hg_collector_drain(rig.c), b.len);
	ck_assert_uint_eq(s->tail, start + b.len);
	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 4);
	for (uint32_t k = 0; k < 3; k++)
		ck_assert_mem_eq(tr.r[k].rec, b.p + 40 * k, 40);
	fx_buf_release(&b);
}
END_TEST

/* The overflow slot's block carries pid 0; its ORIGIN records name each writer. */
START_TEST(test_collector_overflow_slot_origins)
{
	struct fx_buf b = { 0 };

	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	fx_origin(&b, 11, 12);
	fx_alloc(&b, 1, 0x10, 1, 1, 0);
	fx_origin(&b, 13, 14);
	fx_free(&b, 2, 0x20);
	publish_buf(1, &b);
	ck_assert_uint_eq(hg_collector_drain(rig.c), b.len);
	/* The overflow slot is never handed to anyone. */
	ck_assert_uint_eq(fx_slot(rig.ring, 1)->state, HG_SLOT_FREE);
	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(count_from(&tr, HG_REC_ALLOC, 11, 12), 1);
	ck_assert_uint_eq(count_from(&tr, HG_REC_FREE, 13, 14), 1);
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

	fx_rig_open(&rig, 2, 8u << 20, 0);
	for (uint32_t k = 0; k < pairs; k++) {
		fx_origin(&b, 4242, 4243);
		fx_alloc(&b, k, 0x10000 + 16ull * k, k, 1, 0);
	}
	ck_assert_uint_gt(b.len, HG_BLOCK_MAX_RAW);
	publish_buf(1, &b);
	ck_assert_uint_eq(hg_collector_drain(rig.c), b.len);
	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_ALLOC), pairs);
	for (size_t i = 0; i < tr.n; i++) {
		const struct hg_rec_alloc *a = (const struct hg_rec_alloc *)tr.r[i].rec;

		if (a->hdr.type == HG_REC_ALLOC)
			FX_REQUIRE(tr.r[i].pid == 4242 && tr.r[i].tid == 4243,
				   "ALLOC %zu (t_ns %llu) attributed to %u/%u", i,
				   (unsigned long long)a->t_ns, tr.r[i].pid, tr.r[i].tid);
	}
	fx_buf_release(&b);
}
END_TEST

/* A producer's sync request: everything published is written, then an END block (not
 * final), and sync_done catches up. A pass without a new request writes no END. */
START_TEST(test_collector_sync_request_writes_end)
{
	struct fx_buf b = { 0 };

	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	own(0, (uint32_t)getpid(), fx_gettid());
	fx_alloc(&b, 1, 0x10, 1, 1, 0);
	publish_buf(0, &b);
	__atomic_add_fetch(&rig.ring->sync_request, 1, __ATOMIC_RELEASE);
	hg_collector_drain(rig.c);
	ck_assert_uint_eq(rig.ring->sync_done, 1);
	hg_collector_drain(rig.c);
	fx_read(rig.trace, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 2);
	ck_assert_mem_eq(tr.r[0].rec, b.p, 40);
	ck_assert_uint_eq(tr.r[1].rec->type, HG_REC_END);
	ck_assert_uint_eq(tr.r[1].rec->flags, 0);
	fx_trace_release(&tr);

	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 3);
	ck_assert_uint_eq(tr.r[2].rec->flags, HG_END_FINAL);
	fx_buf_release(&b);
}
END_TEST

START_TEST(test_collector_stats)
{
	static const uint64_t ip[2] = { 1, 2 };
	const struct hg_collector_stats *st;
	struct fx_buf b = { 0 };
	struct stat sb;

	fx_rig_open(&rig, 3, HG_RING_MIN_SLOT_BYTES, 3);
	own(0, (uint32_t)getpid(), fx_gettid());
	fx_process(&b, 0, 1, 10, 1, "a", 1, "/a", 64);
	fx_stack(&b, 1, 2, ip);
	for (uint32_t k = 0; k < 3; k++)
		fx_alloc(&b, 2 + k, 0x10 + 16 * k, 8, 1, 0);
	fx_free(&b, 9, 0x10);
	fx_free(&b, 9, 0x20);
	publish_buf(0, &b);
	hg_collector_drain(rig.c);
	fx_rig_finish(&rig, &tr);
	st = hg_collector_stats(rig.c);
	ck_assert_uint_eq(st->n_records, 7);
	ck_assert_uint_eq(st->n_allocs, 3);
	ck_assert_uint_eq(st->n_frees, 2);
	ck_assert_uint_eq(st->n_processes, 1);
	ck_assert_uint_eq(st->raw_bytes, b.len);
	ck_assert_uint_eq(st->lost_events, 0);
	ck_assert_int_eq(st->write_failed, 0);
	ck_assert_int_eq(stat(rig.trace, &sb), 0);
	ck_assert_uint_eq(st->file_bytes, (uint64_t)sb.st_size);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 8);
	fx_buf_release(&b);
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
	uint8_t *file;
	size_t n;

	fx_scratch_make(&sc);
	fx_scratch_file(&sc, "t.hgt", p);
	c = hg_collector_create(&o);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(hg_collector_open_trace(c, p, 0), 0);
	ck_assert_int_eq(hg_collector_finish(c), 0);
	hg_collector_free(c);
	file = fx_slurp(p, &n);
	memcpy(&fh, file, sizeof(fh));
	free(file);
	ck_assert_uint_eq(fh.rss_interval_ms, 250);
	fx_scratch_remove(&sc);

	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	fx_rig_finish(&rig, &tr);
	file = fx_slurp(rig.trace, &n);
	memcpy(&fh, file, sizeof(fh));
	free(file);
	ck_assert_uint_eq(fh.rss_interval_ms, HG_RSS_INTERVAL_OFF);
}
END_TEST

/* ---- the collector's own records: exit status and losses ------------------------------- */

/*
 * The root child claims a slot, publishes three records and ends (_i = 0: exit code 7;
 * _i = 1: killed by SIGKILL). hg_collector_run reaps it, drains its slot, frees it (its owner
 * is dead), and records the status in a pid-0 block.
 */
START_TEST(test_collector_run_records_root_exit)
{
	int status = -1;
	const struct hg_rec_exit *x;
	pid_t pid;

	fx_rig_open(&rig, 4, HG_RING_MIN_SLOT_BYTES, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fx_buf b = { 0 };
		own(2, (uint32_t)getpid(), (uint32_t)getpid());
		for (uint32_t k = 0; k < 3; k++)
			fx_alloc(&b, k, 0x10 + 16 * k, 8, 1, 0);
		publish_buf(2, &b);
		if (_i)
			raise(SIGKILL);
		_exit(7);
	}
	ck_assert_int_eq(hg_collector_run(rig.c, pid, 1, NULL, &status), 0);
	if (_i) {
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	} else {
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	}
	ck_assert_uint_eq(fx_slot(rig.ring, 2)->state, HG_SLOT_FREE);
	fx_read(rig.trace, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(count_from(&tr, HG_REC_ALLOC, (uint32_t)pid, (uint32_t)pid), 3);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_EXIT), 1);
	ck_assert_uint_eq(count_from(&tr, HG_REC_EXIT, 0, 0), 1);
	x = (const struct hg_rec_exit *)nth_of_type(&tr, HG_REC_EXIT, 0);
	ck_assert_uint_eq(x->pid, (uint32_t)pid);
	ck_assert_int_eq(x->status, _i ? SIGKILL : 7);
	ck_assert_uint_eq(x->source, _i ? HG_EXIT_SIGNAL : HG_EXIT_WAIT);
	ck_assert_uint_eq(hg_collector_stats(rig.c)->n_allocs, 3);
}
END_TEST

/* Once the root is gone, *stop ends the wait for a process that still owns a slot. */
START_TEST(test_collector_run_stop_flag_ends_wait)
{
	volatile sig_atomic_t stop = 1;
	struct fx_buf b = { 0 };
	int status = -1;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	own(0, (uint32_t)getpid(), fx_gettid()); /* alive for as long as the test runs */
	fx_free(&b, 1, 0x10);
	publish_buf(0, &b);
	ck_assert_int_eq(hg_collector_run(rig.c, pid, 1, &stop, &status), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(fx_slot(rig.ring, 0)->state, HG_SLOT_OWNED);
	fx_read(rig.trace, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(count_from(&tr, HG_REC_FREE, (uint32_t)getpid(), fx_gettid()), 1);
	fx_buf_release(&b);
}
END_TEST

START_TEST(test_collector_losses_become_one_record)
{
	const struct hg_rec_loss *l;

	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	__atomic_add_fetch(&rig.ring->lost_events, 5, __ATOMIC_RELAXED);
	__atomic_add_fetch(&rig.ring->lost_bytes, 200, __ATOMIC_RELAXED);
	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 2);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_LOSS), 1);
	ck_assert_uint_eq(tr.r[0].pid, 0);
	l = (const struct hg_rec_loss *)nth_of_type(&tr, HG_REC_LOSS, 0);
	ck_assert_uint_eq(l->n_events, 5);
	ck_assert_uint_eq(l->n_bytes, 200);
	ck_assert_uint_eq(l->pid, 0);
	ck_assert_uint_eq(hg_collector_stats(rig.c)->lost_events, 5);
}
END_TEST

/* Each flush ends with a horizon the margin below the start of the pass that staged its records. */
START_TEST(test_collector_horizon_follows_flush)
{
	struct fx_buf b = { 0 };
	uint64_t before, after;

	fx_rig_open(&rig, 4, HG_RING_MIN_SLOT_BYTES, 0);
	own(1, 500, 501);
	fx_alloc(&b, 1, 0x10, 1, 1, 0);
	publish_buf(1, &b);
	before = hg_trace_ns();
	fx_rig_finish(&rig, &tr);
	after = hg_trace_ns();
	ck_assert_uint_eq(tr.n, 2);
	ck_assert_uint_eq(tr.n_horizons, 1);
	ck_assert_uint_ge(tr.last_horizon_ns, before - HG_HORIZON_MARGIN_NS);
	ck_assert_uint_le(tr.last_horizon_ns, after - HG_HORIZON_MARGIN_NS);
	fx_buf_release(&b);
}
END_TEST

/* A producer waiting for room with a record in hand holds the horizon below its wait. */
START_TEST(test_collector_horizon_held_by_stalled_producer)
{
	uint64_t stalled = hg_trace_ns() - 3000000000ull;

	fx_rig_open(&rig, 4, HG_RING_MIN_SLOT_BYTES, 0);
	own(2, 500, 502);
	__atomic_store_n(&fx_slot(rig.ring, 2)->stall_ns, stalled, __ATOMIC_RELAXED);
	fx_rig_finish(&rig, &tr);
	ck_assert_uint_eq(tr.n_horizons, 1);
	ck_assert_uint_eq(tr.last_horizon_ns, stalled - HG_HORIZON_MARGIN_NS);
}
END_TEST

START_TEST(test_collector_no_loss_no_record)
{
	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	fx_rig_finish(&rig, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(tr.n, 1);
	ck_assert_uint_eq(tr.r[0].rec->type, HG_REC_END);
}
END_TEST

/*
 * Losses reported in two LOSS records: each record's n_bytes must be the bytes of its own
 * n_events, not the running total. The child adds its loss only after the collector has
 * finished a pass (so that the first loss is already written): it waits for the heartbeat to
 * move twice.
 */
START_TEST(test_collector_second_loss_record_counts_its_own_bytes)
{
	const struct hg_rec_loss *l1, *l2;
	int status;
	pid_t pid;

	fx_rig_open(&rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	__atomic_add_fetch(&rig.ring->lost_events, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&rig.ring->lost_bytes, 1000, __ATOMIC_RELAXED);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint64_t *beat = &rig.ring->collector_heartbeat_ns;
		uint64_t seen = __atomic_load_n(beat, __ATOMIC_ACQUIRE);
		int moves = 0;
		for (int i = 0; i < 100000 && moves < 2; i++) {
			uint64_t now = __atomic_load_n(beat, __ATOMIC_ACQUIRE);
			if (now != seen) {
				moves++;
				seen = now;
			}
			sleep_us(50);
		}
		if (moves < 2)
			_exit(2);
		__atomic_add_fetch(&rig.ring->lost_events, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&rig.ring->lost_bytes, 500, __ATOMIC_RELAXED);
		_exit(0);
	}
	ck_assert_int_eq(hg_collector_run(rig.c, pid, 1, NULL, &status), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fx_read(rig.trace, &tr);
	ck_assert_int_eq(tr.rc, 0);
	ck_assert_uint_eq(fx_count(&tr, HG_REC_LOSS), 2);
	l1 = (const struct hg_rec_loss *)nth_of_type(&tr, HG_REC_LOSS, 0);
	l2 = (const struct hg_rec_loss *)nth_of_type(&tr, HG_REC_LOSS, 1);
	ck_assert_uint_eq(l1->n_events, 1);
	ck_assert_uint_eq(l1->n_bytes, 1000);
	ck_assert_uint_eq(l2->n_events, 1);
	ck_assert_uint_eq(l2->n_bytes, 500);
	ck_assert_uint_eq(hg_collector_stats(rig.c)->lost_events, 2);
}
END_TEST

/* ---- bare mode: attaching to a ring the shim made --------------------------------------- */

static void make_ring_file(const char *p, uint32_t version, uint64_t file_bytes)
{
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct hg_ring_header *r;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)file_bytes), 0);
	r = mmap(NULL, HG_RING_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(r, MAP_FAILED);
	hg_ring_header_init(r, 2, HG_RING_MIN_SLOT_BYTES, 1, 0, NULL);
	r->version = version;
	munmap(r, HG_RING_HEADER_BYTES);
	close(fd);
}

START_TEST(test_collector_attach_claims_valid_ring)
{
	struct fx_scratch sc;
	char p[FX_PATH_BYTES];
	struct hg_collector *c;
	struct hg_ring_header h;
	int fd;

	fx_scratch_make(&sc);
	fx_scratch_file(&sc, "ring", p);
	make_ring_file(p, HG_RING_VERSION, hg_ring_file_bytes(2, HG_RING_MIN_SLOT_BYTES));
	c = hg_collector_attach(p);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(hg_collector_ring_path(c), p);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, &h, sizeof(h)), sizeof(h));
	close(fd);
	ck_assert_uint_eq(h.collector_pid, (uint32_t)getpid());
	hg_collector_free(c);
	ck_assert_int_ne(access(p, F_OK), 0); /* the ring file goes with the collector */
	fx_scratch_remove(&sc);
}
END_TEST

START_TEST(test_collector_attach_rejects_bad_ring)
{
	struct fx_scratch sc;
	char p[FX_PATH_BYTES];
	const uint64_t bytes = hg_ring_file_bytes(2, HG_RING_MIN_SLOT_BYTES);

	fx_quiet_stderr();
	fx_scratch_make(&sc);
	fx_scratch_file(&sc, "ring", p);
	ck_assert_ptr_null(hg_collector_attach(p)); /* missing */
	make_ring_file(p, HG_RING_VERSION + 1, bytes);
	ck_assert_ptr_null(hg_collector_attach(p));
	make_ring_file(p, HG_RING_VERSION, bytes - 4096); /* too short for its slots */
	ck_assert_ptr_null(hg_collector_attach(p));
	fx_spit(p, "tiny", 4);
	ck_assert_ptr_null(hg_collector_attach(p));
	fx_scratch_remove(&sc);
}
END_TEST

Suite *collector_suite(void);

Suite *collector_suite(void)
{
	Suite *s = suite_create("collector");
	TCase *slots = tcase_create("slots");
	TCase *own_records = tcase_create("own_records");
	TCase *attach = tcase_create("attach");
	TCase *all[] = { slots, own_records, attach };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		tcase_set_timeout(all[i], 30); /* a hang guard only */
		suite_add_tcase(s, all[i]);
	}
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
	tcase_add_loop_test(own_records, test_collector_run_records_root_exit, 0, 2);
	tcase_add_test(own_records, test_collector_run_stop_flag_ends_wait);
	tcase_add_test(own_records, test_collector_losses_become_one_record);
	tcase_add_test(own_records, test_collector_no_loss_no_record);
	tcase_add_test(own_records, test_collector_horizon_follows_flush);
	tcase_add_test(own_records, test_collector_horizon_held_by_stalled_producer);
	tcase_add_test(own_records, test_collector_second_loss_record_counts_its_own_bytes);
	tcase_add_test(attach, test_collector_attach_claims_valid_ring);
	tcase_add_test(attach, test_collector_attach_rejects_bad_ring);
	return s;
}
