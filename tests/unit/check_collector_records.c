/*
 * check_collector_records.c - unit tests for the collector's own records: exits, losses, horizons
 */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "collector.h"
#include "collector_rig.h"
#include "fixtures.h"

static const struct hg_rec *nth_of_type(const struct fx_trace *t, uint16_t type, size_t nth)
{
	for (size_t i = 0, seen = 0; i < t->n; i++)
		if (t->r[i].rec->type == type && seen++ == nth)
			return t->r[i].rec;
	ck_abort_msg("no record %zu of type %u", nth, type);
	return NULL;
}

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

	fx_rig_open(&cr_rig, 4, HG_RING_MIN_SLOT_BYTES, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fx_buf b = { 0 };
		cr_own(2, (uint32_t)getpid(), (uint32_t)getpid());
		for (uint32_t k = 0; k < 3; k++)
			fx_alloc(&b, k, 0x10 + 16 * k, 8, 1, 0);
		cr_publish_buf(2, &b);
		if (_i)
			raise(SIGKILL);
		_exit(7);
	}
	ck_assert_int_eq(hg_collector_run(cr_rig.c, pid, 1, NULL, &status), 0);
	if (_i) {
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	} else {
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	}
	ck_assert_uint_eq(fx_slot(cr_rig.ring, 2)->state, HG_SLOT_FREE);
	fx_read(cr_rig.trace, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_ALLOC, (uint32_t)pid, (uint32_t)pid), 3);
	ck_assert_uint_eq(fx_count(&cr_tr, HG_REC_EXIT), 1);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_EXIT, 0, 0), 1);
	x = (const struct hg_rec_exit *)nth_of_type(&cr_tr, HG_REC_EXIT, 0);
	ck_assert_uint_eq(x->pid, (uint32_t)pid);
	ck_assert_int_eq(x->status, _i ? SIGKILL : 7);
	ck_assert_uint_eq(x->source, _i ? HG_EXIT_SIGNAL : HG_EXIT_WAIT);
	ck_assert_uint_eq(hg_collector_stats(cr_rig.c)->n_allocs, 3);
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
	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	cr_own(0, (uint32_t)getpid(), fx_gettid()); /* alive for as long as the test runs */
	fx_free(&b, 1, 0x10);
	cr_publish_buf(0, &b);
	ck_assert_int_eq(hg_collector_run(cr_rig.c, pid, 1, &stop, &status), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(fx_slot(cr_rig.ring, 0)->state, HG_SLOT_OWNED);
	fx_read(cr_rig.trace, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_count_from(&cr_tr, HG_REC_FREE, (uint32_t)getpid(), fx_gettid()), 1);
	fx_buf_release(&b);
}
END_TEST

START_TEST(test_collector_losses_become_one_record)
{
	const struct hg_rec_loss *l;

	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	__atomic_add_fetch(&cr_rig.ring->lost_events, 5, __ATOMIC_RELAXED);
	__atomic_add_fetch(&cr_rig.ring->lost_bytes, 200, __ATOMIC_RELAXED);
	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_tr.n, 2);
	ck_assert_uint_eq(fx_count(&cr_tr, HG_REC_LOSS), 1);
	ck_assert_uint_eq(cr_tr.r[0].pid, 0);
	l = (const struct hg_rec_loss *)nth_of_type(&cr_tr, HG_REC_LOSS, 0);
	ck_assert_uint_eq(l->n_events, 5);
	ck_assert_uint_eq(l->n_bytes, 200);
	ck_assert_uint_eq(l->pid, 0);
	ck_assert_uint_eq(hg_collector_stats(cr_rig.c)->lost_events, 5);
}
END_TEST

/* Each flush ends with a horizon the margin below the start of the pass that staged its records. */
START_TEST(test_collector_horizon_follows_flush)
{
	struct fx_buf b = { 0 };
	uint64_t before, after;

	fx_rig_open(&cr_rig, 4, HG_RING_MIN_SLOT_BYTES, 0);
	cr_own(1, 500, 501);
	fx_alloc(&b, 1, 0x10, 1, 1, 0);
	cr_publish_buf(1, &b);
	before = hg_trace_ns();
	fx_rig_finish(&cr_rig, &cr_tr);
	after = hg_trace_ns();
	ck_assert_uint_eq(cr_tr.n, 2);
	ck_assert_uint_eq(cr_tr.n_horizons, 1);
	ck_assert_uint_ge(cr_tr.last_horizon_ns, before - HG_HORIZON_MARGIN_NS);
	ck_assert_uint_le(cr_tr.last_horizon_ns, after - HG_HORIZON_MARGIN_NS);
	fx_buf_release(&b);
}
END_TEST

/* A producer waiting for room with a record in hand holds the horizon below its wait. */
START_TEST(test_collector_horizon_held_by_stalled_producer)
{
	uint64_t stalled = hg_trace_ns() - 3000000000ull;

	fx_rig_open(&cr_rig, 4, HG_RING_MIN_SLOT_BYTES, 0);
	cr_own(2, 500, 502);
	__atomic_store_n(&fx_slot(cr_rig.ring, 2)->stall_ns, stalled, __ATOMIC_RELAXED);
	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_uint_eq(cr_tr.n_horizons, 1);
	ck_assert_uint_eq(cr_tr.last_horizon_ns, stalled - HG_HORIZON_MARGIN_NS);
}
END_TEST

START_TEST(test_collector_no_loss_no_record)
{
	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	fx_rig_finish(&cr_rig, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(cr_tr.n, 1);
	ck_assert_uint_eq(cr_tr.r[0].rec->type, HG_REC_END);
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

	fx_rig_open(&cr_rig, 2, HG_RING_MIN_SLOT_BYTES, 0);
	__atomic_add_fetch(&cr_rig.ring->lost_events, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&cr_rig.ring->lost_bytes, 1000, __ATOMIC_RELAXED);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint64_t *beat = &cr_rig.ring->collector_heartbeat_ns;
		uint64_t seen = __atomic_load_n(beat, __ATOMIC_ACQUIRE);
		int moves = 0;
		for (int i = 0; i < 100000 && moves < 2; i++) {
			uint64_t now = __atomic_load_n(beat, __ATOMIC_ACQUIRE);
			if (now != seen) {
				moves++;
				seen = now;
			}
			fx_sleep_us(50);
		}
		if (moves < 2)
			_exit(2);
		__atomic_add_fetch(&cr_rig.ring->lost_events, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&cr_rig.ring->lost_bytes, 500, __ATOMIC_RELAXED);
		_exit(0);
	}
	ck_assert_int_eq(hg_collector_run(cr_rig.c, pid, 1, NULL, &status), 0);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fx_read(cr_rig.trace, &cr_tr);
	ck_assert_int_eq(cr_tr.rc, 0);
	ck_assert_uint_eq(fx_count(&cr_tr, HG_REC_LOSS), 2);
	l1 = (const struct hg_rec_loss *)nth_of_type(&cr_tr, HG_REC_LOSS, 0);
	l2 = (const struct hg_rec_loss *)nth_of_type(&cr_tr, HG_REC_LOSS, 1);
	ck_assert_uint_eq(l1->n_events, 1);
	ck_assert_uint_eq(l1->n_bytes, 1000);
	ck_assert_uint_eq(l2->n_events, 1);
	ck_assert_uint_eq(l2->n_bytes, 500);
	ck_assert_uint_eq(hg_collector_stats(cr_rig.c)->lost_events, 2);
}
END_TEST

TCase *collector_records_tcase(void)
{
	TCase *own_records = tcase_create("own_records");

	tcase_add_checked_fixture(own_records, cr_setup, cr_teardown);
	tcase_set_timeout(own_records, 30); /* a hang guard only */
	tcase_add_loop_test(own_records, test_collector_run_records_root_exit, 0, 2);
	tcase_add_test(own_records, test_collector_run_stop_flag_ends_wait);
	tcase_add_test(own_records, test_collector_losses_become_one_record);
	tcase_add_test(own_records, test_collector_no_loss_no_record);
	tcase_add_test(own_records, test_collector_horizon_follows_flush);
	tcase_add_test(own_records, test_collector_horizon_held_by_stalled_producer);
	tcase_add_test(own_records, test_collector_second_loss_record_counts_its_own_bytes);
	return own_records;
}
