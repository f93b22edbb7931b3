/*
 * check_procfs.c - what /proc says about processes: state, start, environment entries
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"

/* A child that execs sleep (from PATH) with env as its whole environment; its pid. */
static pid_t start_sleeper(char *const env[])
{
	char sleep[] = "sleep", thirty[] = "30";
	char *argv[] = { sleep, thirty, NULL };
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execvpe("sleep", argv, env);
		_exit(127);
	}
	return pid;
}

/* Wait (up to 5 s) until count processes have entry; what was counted last. */
static int wait_count(const char *entry, int count)
{
	struct timespec ms = { 0, 1000000 };
	int n = -1;

	for (int i = 0; i < 5000 && (n = hg_proc_count_with_env(entry, getpid())) != count; i++)
		nanosleep(&ms, NULL);
	return n;
}

START_TEST(test_procfs_counts_live_processes_with_the_entry)
{
	char entry[64], other[64], prefix[64];
	pid_t a, b, c;
	int status;

	snprintf(entry, sizeof(entry), "HG_CHECK_PROC_ENV=%d", (int)getpid());
	snprintf(other, sizeof(other), "HG_CHECK_PROC_ENV=%d1", (int)getpid());
	snprintf(prefix, sizeof(prefix), "HG_CHECK_PROC_ENV=%d", (int)getpid() / 10);
	char a1[] = "A=1";
	char *env_a[] = { a1, entry, NULL }, *env_b[] = { entry, NULL },
	     *env_c[] = { other, NULL };

	ck_assert_int_eq(hg_proc_count_with_env(entry, getpid()), 0);
	a = start_sleeper(env_a);
	b = start_sleeper(env_b);
	nanosleep(&(struct timespec){ 0, 50000000 }, NULL); /* c starts 5 clock ticks later */
	c = start_sleeper(env_c);
	/* The entry matches whole: not one that only starts with it, nor its prefix. */
	ck_assert_int_eq(wait_count(entry, 2), 2);
	ck_assert_int_eq(wait_count(other, 1), 1);
	ck_assert_int_eq(hg_proc_count_with_env(prefix, getpid()), 0);
	/* A process that ended no longer counts, even before it is reaped (a zombie). */
	kill(b, SIGKILL);
	ck_assert_int_eq(wait_count(entry, 1), 1);
	ck_assert_int_eq(waitpid(b, &status, 0), b);
	/* Nor one named as self, nor one that started before self. */
	ck_assert_int_eq(hg_proc_count_with_env(entry, a), 0);
	ck_assert_int_eq(hg_proc_count_with_env(entry, c), 0);
	kill(a, SIGKILL);
	kill(c, SIGKILL);
	ck_assert_int_eq(waitpid(a, &status, 0), a);
	ck_assert_int_eq(waitpid(c, &status, 0), c);
	ck_assert_int_eq(hg_proc_count_with_env(entry, getpid()), 0);
}
END_TEST

/* A task's state and start: this process runs; a child that ended and is not reaped is a
 * zombie, and it started no earlier than its parent; a task that is gone reads as -1. */
START_TEST(test_procfs_stat_state_and_start)
{
	char path[64], state = 0;
	unsigned long long self_start = 0, child_start = 0;
	char *env[] = { NULL };
	pid_t child;
	int status;

	ck_assert_int_eq(hg_proc_stat("/proc/self/stat", &state, &self_start), 0);
	ck_assert_int_eq(state, 'R');
	ck_assert_uint_gt(self_start, 0);
	child = start_sleeper(env);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)child);
	kill(child, SIGKILL);
	for (int i = 0; i < 5000 && (hg_proc_stat(path, &state, &child_start) < 0 ||
				    state != 'Z'); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	ck_assert_int_eq(state, 'Z');
	ck_assert_uint_ge(child_start, self_start);
	state = 0;
	ck_assert_int_eq(hg_proc_stat(path, &state, NULL), 0); /* the start is optional */
	ck_assert_int_eq(state, 'Z');
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_int_eq(hg_proc_stat(path, &state, NULL), -1);
}
END_TEST

static void on_signal(int sig)
{
	(void)sig;
}

/* A child's liveness, resident set and signal handlers, as the collector reads them. */
START_TEST(test_procfs_alive_rss_and_handlers)
{
	uint64_t idle = 0, all = 0;
	int status;
	pid_t child;

	ck_assert(hg_proc_alive((uint32_t)getpid()));
	ck_assert(hg_proc_thread_alive((uint32_t)getpid(), (uint32_t)getpid()));
	ck_assert(!hg_proc_alive(0));
	ck_assert_uint_gt(hg_proc_rss((uint32_t)getpid()), 0);
	signal(SIGUSR2, SIG_IGN);
	ck_assert_int_eq(hg_proc_catches((uint32_t)getpid(), SIGUSR2), 0); /* ignored: not caught */
	signal(SIGUSR2, on_signal);
	ck_assert_int_eq(hg_proc_catches((uint32_t)getpid(), SIGUSR2), 1);
	signal(SIGUSR2, SIG_DFL);
	ck_assert_int_eq(hg_proc_catches((uint32_t)getpid(), SIGUSR2), 0);
	ck_assert_int_eq(hg_proc_catches((uint32_t)getpid(), 0), 0);
	ck_assert_int_eq(hg_proc_cpu_ticks(&idle, &all), 1);
	ck_assert_uint_ge(all, idle);

	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(0);
	/* Exited, not reaped: a zombie is not alive. */
	for (int i = 0; i < 5000 && hg_proc_alive((uint32_t)child); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	ck_assert(!hg_proc_alive((uint32_t)child));
	ck_assert_uint_eq(hg_proc_rss((uint32_t)child), 0); /* a zombie has no memory */
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert(!hg_proc_alive((uint32_t)child));
	ck_assert(!hg_proc_thread_alive((uint32_t)child, (uint32_t)child));
}
END_TEST

#define HELD_BYTES ((size_t)24 << 20)

/* The worker of a child whose main thread has exited: it makes HELD_BYTES resident, says so
 * on the pipe and waits to be killed. */
static void *hold_memory(void *arg)
{
	int fd = *(int *)arg;
	char *p = malloc(HELD_BYTES);

	if (!p)
		_exit(1);
	memset(p, 1, HELD_BYTES);
	if (write(fd, p, 1) != 1)
		_exit(1);
	for (;;)
		pause();
	return p;
}

/* After the main thread's pthread_exit, /proc/PID/statm reads zeros (the main thread has no
 * memory any more) while the process lives on: the resident set is a live thread's. */
START_TEST(test_procfs_rss_after_the_main_thread_exited)
{
	int fds[2], status;
	char byte, path[64], state = 0;
	pthread_t t;
	pid_t child;

	ck_assert_int_eq(pipe(fds), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		if (pthread_create(&t, NULL, hold_memory, &fds[1]) != 0)
			_exit(1);
		pthread_exit(NULL);
	}
	ck_assert_int_eq(read(fds[0], &byte, 1), 1);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)child);
	for (int i = 0; i < 5000 && (hg_proc_stat(path, &state, NULL) < 0 || state != 'Z'); i++)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	ck_assert_int_eq(state, 'Z'); /* the main thread; the process is alive */
	ck_assert_uint_ge(hg_proc_rss((uint32_t)child), HELD_BYTES);
	kill(child, SIGKILL);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_uint_eq(hg_proc_rss((uint32_t)child), 0);
	close(fds[0]);
	close(fds[1]);
}
END_TEST

Suite *procfs_suite(void);

Suite *procfs_suite(void)
{
	Suite *s = suite_create("procfs");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_procfs_stat_state_and_start);
	tcase_add_test(tc, test_procfs_counts_live_processes_with_the_entry);
	tcase_add_test(tc, test_procfs_alive_rss_and_handlers);
	tcase_add_test(tc, test_procfs_rss_after_the_main_thread_exited);
	suite_add_tcase(s, tc);
	return s;
}
