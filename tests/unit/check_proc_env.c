/*
 * check_proc_env.c - finding the live processes started with an environment entry
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_env.h"

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

START_TEST(test_proc_env_counts_live_processes_with_the_entry)
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

Suite *proc_env_suite(void);

Suite *proc_env_suite(void)
{
	Suite *s = suite_create("proc_env");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_proc_env_counts_live_processes_with_the_entry);
	suite_add_tcase(s, tc);
	return s;
}
