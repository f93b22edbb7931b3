/*
 * exec_env_cleared.c - a program that runs itself again with an environment of its own making,
 * without LD_PRELOAD, as `env -i` and Python's subprocess with env={...} do
 *
 *   parent (argv: PROG WAY)        runs "PROG --child WAY" by WAY, with the environment
 *                                  {"HG_SAMPLE=kept"} only (WAY "off": {"HG_SAMPLE=kept",
 *                                  "HEAPGRAPH_RING=off"}):
 *                                  execve, execle, execvpe, fexecve, execveat, posix_spawn,
 *                                  posix_spawnp: that call; clearenv: clearenv(), setenv, then
 *                                  execl (environ-based); off: execve; bigenv: execve with
 *                                  1000 more entries "V<n>=x", from a thread with a 16 KiB
 *                                  stack (the completed environment must not go there).
 *                                  A spawning parent waits and exits with the child's status.
 *   child  (argv: PROG --child WAY) prints "child WAY: HG_SAMPLE=kept", leaks 777 bytes from
 *                                  child_leak and exits 5.
 *
 * Expect, traced: the child's image traced (one allocation of 777 bytes from child_leak, live
 * at the end, exit code 5), except with WAY "off", where only the parent is. The output and
 * exit status (5) are the same as untraced. A bad WAY: exit 2.
 */
#define _GNU_SOURCE /* execvpe, execveat, clearenv */
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *kept;

static __attribute__((noinline)) void child_leak(void)
{
	kept = malloc(777); /* site: child_leak */
	if (kept)
		memset(kept, 1, 777);
}

static int child(const char *way)
{
	const char *v = getenv("HG_SAMPLE");

	printf("child %s: HG_SAMPLE=%s\n", way, v ? v : "(unset)");
	child_leak();
	return 5;
}

/* The status of the child posix_spawn or posix_spawnp (search) started. */
static int spawned(int search, char *args[], char *env[])
{
	int status;
	pid_t pid;

	if ((search ? posix_spawnp : posix_spawn)(&pid, "/proc/self/exe", NULL, NULL, args, env) ||
	    waitpid(pid, &status, 0) != pid)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

#define BIG_ENV 1000

static char *big_env[BIG_ENV + 2];
static char big_names[BIG_ENV][16];

/* Thread body for "bigenv": exec with big_env; returns only if that failed. */
static void *exec_big(void *args)
{
	execve("/proc/self/exe", args, big_env);
	return NULL;
}

static void run_big(char **args)
{
	pthread_attr_t attr;
	pthread_t t;

	big_env[0] = "HG_SAMPLE=kept";
	for (int i = 0; i < BIG_ENV; i++) {
		snprintf(big_names[i], sizeof(big_names[i]), "V%d=x", i);
		big_env[i + 1] = big_names[i];
	}
	if (pthread_attr_init(&attr) == 0 && pthread_attr_setstacksize(&attr, 16384) == 0 &&
	    pthread_create(&t, &attr, exec_big, args) == 0)
		pthread_join(t, NULL);
}

int main(int argc, char **argv)
{
	char *args[] = { argv[0], "--child", argv[argc > 1 ? argc - 1 : 0], NULL };
	char *env[] = { "HG_SAMPLE=kept", NULL, NULL };
	const char *way = argc > 1 ? argv[argc - 1] : "";

	if (argc == 3 && !strcmp(argv[1], "--child"))
		return child(argv[2]);
	if (argc != 2)
		return 2;
	fflush(stdout);
	if (!strcmp(way, "execve"))
		execve("/proc/self/exe", args, env);
	else if (!strcmp(way, "execle"))
		execle("/proc/self/exe", argv[0], "--child", way, (char *)NULL, env);
	else if (!strcmp(way, "execvpe"))
		execvpe("/proc/self/exe", args, env);
	else if (!strcmp(way, "fexecve"))
		fexecve(open("/proc/self/exe", O_RDONLY | O_CLOEXEC), args, env);
	else if (!strcmp(way, "execveat"))
		execveat(AT_FDCWD, "/proc/self/exe", args, env, 0);
	else if (!strcmp(way, "posix_spawn"))
		return spawned(0, args, env);
	else if (!strcmp(way, "posix_spawnp"))
		return spawned(1, args, env);
	else if (!strcmp(way, "clearenv") && clearenv() == 0 && setenv("HG_SAMPLE", "kept", 1) == 0)
		execl("/proc/self/exe", argv[0], "--child", way, (char *)NULL);
	else if (!strcmp(way, "bigenv"))
		run_big(args);
	else if (!strcmp(way, "off") && (env[1] = "HEAPGRAPH_RING=off"))
		execve("/proc/self/exe", args, env);
	else
		return 2;
	perror(way);
	return 1;
}
