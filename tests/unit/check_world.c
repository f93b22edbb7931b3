/*
 * check_world.c - unit tests for stopping every other thread (preload/world.c)
 *
 * Each test runs in a child of its own (fork mode), so the stop handler world.c installs and
 * leaves installed dies with it. Threads under test wait on a pipe that is never written
 * until the test lets them go: stopped or not, they change nothing meanwhile.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "fixtures.h"
#include "world.h"

#define N_WAITERS 3

static struct hg_world world;
static int gate[2];        /* waiters read a byte from gate[0] to leave */
static pthread_barrier_t started;

static void setup(void)
{
	world.thread = calloc(HG_WORLD_MAX_THREADS, sizeof(world.thread[0]));
	ck_assert_ptr_nonnull(world.thread);
	ck_assert_int_eq(pipe(gate), 0);
}

static void teardown(void)
{
	free(world.thread);
	close(gate[0]);
	close(gate[1]);
}

static void *wait_at_gate(void *arg)
{
	char c;

	(void)arg;
	pthread_barrier_wait(&started);
	while (read(gate[0], &c, 1) < 0)
		;
	return NULL;
}

/* Start n threads that wait at the gate, and return once each has reached it. */
static void start_waiters(pthread_t *t, int n)
{
	ck_assert_int_eq(pthread_barrier_init(&started, NULL, (unsigned)n + 1), 0);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, wait_at_gate, NULL), 0);
	pthread_barrier_wait(&started);
}

static void release_waiters(pthread_t *t, int n)
{
	ck_assert_int_eq(write(gate[1], "gogogogo", (size_t)n), n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&started);
}

/* Every other thread is listed, answers the signal and leaves its stack pointer. */
START_TEST(test_world_stops_every_thread)
{
	pthread_t t[N_WAITERS];

	start_waiters(t, N_WAITERS);
	ck_assert_int_eq(hg_world_stop(&world), 0);
	ck_assert_uint_eq(world.n, N_WAITERS);
	ck_assert_uint_eq(world.n_stopped, N_WAITERS);
	for (uint32_t i = 0; i < world.n; i++) {
		ck_assert_int_eq(world.thread[i].stopped, 1);
		ck_assert_uint_ne(world.thread[i].sp, 0);
	}
	hg_world_resume(&world);
	release_waiters(t, N_WAITERS);
}
END_TEST

static void stop_after_main_exit(int fd)
{
	uint32_t got[3];

	got[0] = (uint32_t)hg_world_stop(&world);
	got[1] = world.n;
	got[2] = world.n_stopped;
	hg_world_resume(&world);
	if (write(fd, got, sizeof(got)) != (ssize_t)sizeof(got))
		_exit(1);
}

/*
 * After the main thread's pthread_exit, /proc/self/task still lists it, a zombie that never
 * handles a signal: it is no thread to stop (it was waited for a second, then counted as one
 * that would not stop).
 */
START_TEST(test_world_skips_exited_main_thread)
{
	uint32_t got[3];

	ck_assert_uint_eq(fx_after_main_exit(stop_after_main_exit, got, sizeof(got)),
			  sizeof(got));
	ck_assert_uint_eq(got[0], 0); /* hg_world_stop's result */
	ck_assert_uint_eq(got[1], 0); /* threads listed */
	ck_assert_uint_eq(got[2], 0); /* of which stopped */
}
END_TEST

Suite *world_suite(void);

Suite *world_suite(void)
{
	Suite *s = suite_create("world");
	TCase *tc = tcase_create("stop");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_world_stops_every_thread);
	tcase_add_test(tc, test_world_skips_exited_main_thread);
	suite_add_tcase(s, tc);
	return s;
}
