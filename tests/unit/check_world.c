/*
 * check_world.c - unit tests for stopping every other thread (preload/world.c)
 *
 * Each test runs in a child of its own (fork mode), so the stop handler world.c installs and
 * leaves installed dies with it. Threads under test wait on a pipe that is never written
 * until the test lets them go: stopped or not, they change nothing meanwhile.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixtures.h"
#include "world.h"

#define N_WAITERS 3

static struct hg_world world;
static int gate[2];        /* waiters read a byte from gate[0] to leave */
static pthread_barrier_t started;
static uint32_t blocked_tid; /* the waiter that blocks every signal */

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

/* A waiter created with every signal blocked; it returns 1 if any was left pending for it. */
static void *wait_blocked(void *arg)
{
	sigset_t pending;

	blocked_tid = fx_gettid();
	wait_at_gate(arg);
	sigpending(&pending);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&pending, sig) == 1)
			return (void *)1;
	return NULL;
}

/* Start n threads that wait at the gate (the last with every signal blocked when
 * last_blocks), and return once each has reached it. */
static void start_waiters(pthread_t *t, int n, int last_blocks)
{
	sigset_t all, old;

	ck_assert_int_eq(pthread_barrier_init(&started, NULL, (unsigned)n + 1), 0);
	for (int i = 0; i < n - last_blocks; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, wait_at_gate, NULL), 0);
	if (last_blocks) {
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ck_assert_int_eq(pthread_create(&t[n - 1], NULL, wait_blocked, NULL), 0);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_barrier_wait(&started);
}

/* Let the n waiters go; the last one's result (wait_blocked's). */
static void *release_waiters(pthread_t *t, int n)
{
	void *last = NULL;

	ck_assert_int_eq(write(gate[1], "gogogogo", (size_t)n), n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(pthread_join(t[i], i == n - 1 ? &last : NULL), 0);
	pthread_barrier_destroy(&started);
	return last;
}

/* Every other thread is listed, answers the signal and leaves its stack pointer. */
START_TEST(test_world_stops_every_thread)
{
	pthread_t t[N_WAITERS];

	start_waiters(t, N_WAITERS, 0);
	ck_assert_int_eq(hg_world_stop(&world), 0);
	ck_assert_uint_eq(world.n, N_WAITERS);
	ck_assert_uint_eq(world.n_stopped, N_WAITERS);
	for (uint32_t i = 0; i < world.n; i++) {
		ck_assert_int_eq(world.thread[i].stopped, 1);
		ck_assert_int_eq(world.thread[i].blocks_stop, 0);
		ck_assert_uint_ne(world.thread[i].sp, 0);
	}
	hg_world_resume(&world);
	ck_assert_ptr_null(release_waiters(t, N_WAITERS));
}
END_TEST

/*
 * A thread whose mask blocks the stop signal is listed, marked as blocking it and not
 * stopped, and never sent the signal (nothing is pending for it afterwards); the others stop.
 * It once got the signal anyway, and the stopper waited its full second for an answer.
 */
START_TEST(test_world_leaves_blocking_thread_alone)
{
	pthread_t t[N_WAITERS];

	start_waiters(t, N_WAITERS, 1);
	ck_assert_int_eq(hg_world_stop(&world), 0);
	ck_assert_uint_eq(world.n, N_WAITERS);
	ck_assert_uint_eq(world.n_stopped, N_WAITERS - 1);
	for (uint32_t i = 0; i < world.n; i++) {
		int blocked = world.thread[i].tid == blocked_tid;

		ck_assert_int_eq(world.thread[i].blocks_stop, blocked);
		ck_assert_int_eq(world.thread[i].stopped, !blocked);
	}
	hg_world_resume(&world);
	ck_assert_ptr_null(release_waiters(t, N_WAITERS)); /* no signal pending in it */
}
END_TEST

static volatile sig_atomic_t program_handled; /* the program's own handler ran */

static void programs_handler(int sig)
{
	(void)sig;
	program_handled++;
}

/* Stop and resume the N_WAITERS waiters; every one must have stopped. */
static void stop_all(void)
{
	ck_assert_int_eq(hg_world_stop(&world), 0);
	ck_assert_uint_eq(world.n, N_WAITERS);
	ck_assert_uint_eq(world.n_stopped, N_WAITERS);
	hg_world_resume(&world);
}

/*
 * The stop signal follows the program: the first stop takes SIGRTMAX-2; once the program puts
 * its own handler there, the next stop takes another signal and the program's handler never
 * runs; once the program gives it back to the default action (which would kill the process
 * were it sent), the stop takes it again with our handler. The last once killed the process.
 */
START_TEST(test_world_stop_signal_follows_the_program)
{
	struct sigaction sa, cur;
	pthread_t t[N_WAITERS];

	start_waiters(t, N_WAITERS, 0);
	stop_all();
	ck_assert_int_eq(sigaction(SIGRTMAX - 2, NULL, &cur), 0);
	ck_assert(cur.sa_flags & SA_SIGINFO); /* ours */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = programs_handler;
	ck_assert_int_eq(sigaction(SIGRTMAX - 2, &sa, NULL), 0);
	stop_all();
	ck_assert_int_eq(program_handled, 0);
	ck_assert_int_eq(sigaction(SIGRTMAX - 3, NULL, &cur), 0);
	ck_assert(cur.sa_flags & SA_SIGINFO); /* ours, one below */
	signal(SIGRTMAX - 2, SIG_DFL);
	signal(SIGRTMAX - 3, SIG_DFL);
	stop_all();
	ck_assert_int_eq(sigaction(SIGRTMAX - 2, NULL, &cur), 0);
	ck_assert(cur.sa_flags & SA_SIGINFO);
	ck_assert_ptr_null(release_waiters(t, N_WAITERS));
}
END_TEST

/*
 * A process with no other thread has nothing to stop, and the stop leaves its signals alone:
 * every snapshot of a single-threaded program once took a real-time signal's disposition.
 */
START_TEST(test_world_alone_installs_nothing)
{
	struct sigaction cur;

	signal(SIGRTMAX - 2, SIG_DFL);
	ck_assert_int_eq(hg_world_stop(&world), 0);
	ck_assert_uint_eq(world.n, 0);
	ck_assert_int_eq(world.complete, 1);
	ck_assert_uint_eq(world.n_stopped, 0);
	hg_world_resume(&world);
	ck_assert_int_eq(sigaction(SIGRTMAX - 2, NULL, &cur), 0);
	ck_assert(!(cur.sa_flags & SA_SIGINFO));
	ck_assert_ptr_eq(cur.sa_handler, SIG_DFL);
}
END_TEST

/*
 * A task list that cannot be read (no file descriptor left) finds no other thread, but does
 * not claim to be whole: the snapshot then does not take the process for single-threaded.
 */
START_TEST(test_world_unread_list_is_not_complete)
{
	struct rlimit none = { 0, 0 };
	int fds[2], status;
	uint32_t got[3];
	pid_t child;

	ck_assert_int_eq(pipe(fds), 0);
	if ((child = fork()) == 0) { /* the limit stays in the child, whatever CK_FORK says */
		if (setrlimit(RLIMIT_NOFILE, &none) != 0)
			_exit(2);
		got[0] = (uint32_t)hg_world_stop(&world);
		got[1] = world.n;
		got[2] = (uint32_t)world.complete;
		hg_world_resume(&world);
		_exit(write(fds[1], got, sizeof(got)) == (ssize_t)sizeof(got) ? 0 : 1);
	}
	ck_assert_int_gt(child, 0);
	close(fds[1]);
	ck_assert_int_eq(read(fds[0], got, sizeof(got)), (ssize_t)sizeof(got));
	close(fds[0]);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(got[0], 0);
	ck_assert_uint_eq(got[1], 0);
	ck_assert_uint_eq(got[2], 0);
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
	tcase_add_test(tc, test_world_leaves_blocking_thread_alone);
	tcase_add_test(tc, test_world_skips_exited_main_thread);
	tcase_add_test(tc, test_world_stop_signal_follows_the_program);
	tcase_add_test(tc, test_world_alone_installs_nothing);
	tcase_add_test(tc, test_world_unread_list_is_not_complete);
	suite_add_tcase(s, tc);
	return s;
}
