/*
 * check_ring_processes.c - ring producers that die mid-record or holding a lock, and exec
 */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector.h"
#include "fixtures.h"
#include "lifecycle.h"
#include "ring.h"


#define K_DEAD 100

/* Child: write K_DEAD records, then half of one more without publishing it, and die. */
static void die_mid_record(void)
{
	struct hg_rec_alloc a;

	/* What the shim's atfork child handler does. */
	hg_self_pid = (uint32_t)getpid();
	hg_tls.tid = fx_gettid();
	hg_ring_forget_thread();
	for (uint32_t k = 0; k < K_DEAD; k++) {
		a = fx_rec_of(9, k);
		hg_ring_put(&a, sizeof(a));
	}
	if (!hg_tls.slot || hg_tls.slot->head != K_DEAD * sizeof(a))
		_exit(3);
	/* The copy without the release store of head: what a kill between the two leaves. */
	a = fx_rec_of(9, K_DEAD);
	hg_ring_copy_in(hg_tls.data, hg_ring->slot_bytes, hg_tls.head, &a, sizeof(a) / 2);
	_exit(0);
}

/*
 * _i = 0: the dead child has been reaped; _i = 1: it is a zombie (exited, not yet waited
 * for). Either way the collector sees that the slot's owner is gone, drains what it
 * published, frees the slot and does not wait for the half-written record.
 */
START_TEST(test_ring_dead_producer_slot_reclaimed)
{
	struct hg_ring_slot *s = NULL;
	siginfo_t si;
	int status;
	pid_t pid;

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		die_mid_record();
	if (_i == 0) {
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	} else {
		memset(&si, 0, sizeof(si));
		ck_assert_int_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
		ck_assert_int_eq(si.si_status, 0);
	}
	for (uint32_t i = 0; i < 3; i++)
		if (fx_slot(fx_ring_rig.ring, i)->pid == (uint32_t)pid)
			s = fx_slot(fx_ring_rig.ring, i);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(s->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(s->head, K_DEAD * sizeof(struct hg_rec_alloc));

	/* The collector checks owners every 100 ms; give it up to 10 s. */
	for (int round = 0; round < 1000 && __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) !=
						      HG_SLOT_FREE; round++) {
		hg_collector_drain(fx_ring_rig.c);
		fx_sleep_us(10000);
	}
	ck_assert_uint_eq(s->state, HG_SLOT_FREE);
	ck_assert_uint_eq(s->head, 0);
	ck_assert_uint_eq(s->tail, 0);

	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	ck_assert_uint_eq(fx_ring_tr.n, K_DEAD + 1);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)pid, (uint32_t)pid, 9, K_DEAD);
	if (_i == 1)
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

/*
 * The overflow slot's lock holds its holder's tid. A holder that died with the lock held (here:
 * a reaped child's tid left in the lock word) does not block the other writers for ever: a
 * waiter takes the lock over and writes.
 */
START_TEST(test_ring_overflow_lock_taken_over_from_dead_holder)
{
	struct hg_ring_slot *over, *only;
	struct hg_rec_alloc a = fx_rec_of(6, 0);

	fx_ring_open(&fx_ring_rig, 2, FX_SLOT_64K);
	only = fx_slot(fx_ring_rig.ring, 0);
	over = fx_slot(fx_ring_rig.ring, 1);
	/* The one ordinary slot is taken by a live thread (this one, as far as the ring knows). */
	only->pid = (uint32_t)getpid();
	only->tid = fx_gettid();
	__atomic_store_n(&only->state, HG_SLOT_OWNED, __ATOMIC_RELEASE);
	__atomic_store_n(&over->lock, fx_dead_pid(), __ATOMIC_RELEASE);
	hg_ring_put(&a, sizeof(a));
	ck_assert_ptr_null(hg_tls.slot);
	ck_assert_uint_eq(over->lock, 0);
	ck_assert_uint_eq(over->head, sizeof(struct hg_rec_origin) + sizeof(a));
	fx_rig_finish(&fx_ring_rig, &fx_ring_tr);
	ck_assert_int_eq(fx_ring_tr.rc, 0);
	fx_expect_sequence(&fx_ring_tr, (uint32_t)getpid(), fx_gettid(), 6, 1);
}
END_TEST

/*
 * exec: the slot this thread (exec keeps its tid) owned under the old image is its own again,
 * the new image's records going on after the old one's; the pid's other slots (threads exec
 * ended) go back to the collector; other pids' stay.
 */
START_TEST(test_ring_adopt_pid_keeps_own_slot)
{
	struct hg_ring_slot *s0, *s1, *s2;
	struct hg_rec_free f = { { HG_REC_FREE, 0, sizeof(f) }, 7, 0x1000 };
	uint32_t tid = hg_tls.tid;

	fx_ring_open(&fx_ring_rig, 4, FX_SLOT_64K);
	s0 = fx_slot(fx_ring_rig.ring, 0);
	s1 = fx_slot(fx_ring_rig.ring, 1);
	s2 = fx_slot(fx_ring_rig.ring, 2);
	*s0 = (struct hg_ring_slot){ .state = HG_SLOT_OWNED, .pid = 4242, .tid = 1 };
	*s1 = (struct hg_ring_slot){ .state = HG_SLOT_OWNED, .pid = 4243, .tid = 2 };
	*s2 = (struct hg_ring_slot){ .state = HG_SLOT_OWNED, .pid = 4242, .tid = 3, .head = 128,
				     .tail = 64 };
	hg_tls.tid = 3;
	hg_ring_adopt_pid(4242);
	ck_assert_uint_eq(s0->state, HG_SLOT_RELEASED);
	ck_assert_uint_eq(s1->state, HG_SLOT_OWNED);
	ck_assert_uint_eq(s2->state, HG_SLOT_OWNED);
	ck_assert_ptr_eq(hg_tls.slot, s2);
	hg_ring_put(&f, sizeof(f));
	ck_assert_uint_eq(s2->head, 128 + sizeof(f));
	ck_assert_uint_eq(s0->head, 0);
	hg_ring_forget_thread();
	hg_tls.tid = tid;
}
END_TEST

/* exec after the old image widened its window: the new image writes on under that window,
 * where the collector will look for the bytes (head modulo the window, not the slot). */
START_TEST(test_ring_adopt_pid_keeps_the_window)
{
	const uint32_t slot_bytes = 1u << 20, window = 4 * HG_RING_FIRST_WINDOW;
	const uint64_t head = 3 * (uint64_t)window + 4096; /* 4096 into the window, 3 times round */
	struct hg_rec_free f = { { HG_REC_FREE, 0, sizeof(f) }, 7, 0x1000 };
	struct hg_ring_slot *s;
	uint32_t tid = hg_tls.tid;
	const uint8_t *data;

	fx_ring_open(&fx_ring_rig, 4, slot_bytes);
	s = fx_slot(fx_ring_rig.ring, 1);
	*s = (struct hg_ring_slot){ .state = HG_SLOT_OWNED, .pid = 4242, .tid = 3, .head = head,
				    .tail = head, .window = window };
	hg_tls.tid = 3;
	hg_ring_adopt_pid(4242);
	ck_assert_ptr_eq(hg_tls.slot, s);
	ck_assert_uint_eq(hg_tls.window, window);
	hg_ring_put(&f, sizeof(f));
	ck_assert_uint_eq(s->head, head + sizeof(f));
	ck_assert_uint_eq(s->window, window);
	data = fx_slot_data(fx_ring_rig.ring, 1);
	ck_assert_mem_eq(data + 4096, &f, sizeof(f));
	ck_assert_uint_eq(data[head % slot_bytes], 0); /* not where a whole-slot ring puts it */
	hg_ring_forget_thread();
	hg_tls.tid = tid;
}
END_TEST

TCase *ring_processes_tcase(void)
{
	TCase *procs = tcase_create("processes");

	tcase_add_checked_fixture(procs, fx_ring_setup, fx_ring_teardown);
	/* A hang guard only: every test finishes in well under a second. */
	tcase_set_timeout(procs, 30);
	tcase_add_loop_test(procs, test_ring_dead_producer_slot_reclaimed, 0, 2);
	tcase_add_test(procs, test_ring_adopt_pid_keeps_own_slot);
	tcase_add_test(procs, test_ring_adopt_pid_keeps_the_window);
	tcase_add_test(procs, test_ring_overflow_lock_taken_over_from_dead_holder);
	return procs;
}
