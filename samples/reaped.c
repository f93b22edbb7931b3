/*
 * reaped.c - three children end three ways; the parent reaps each with another call of the wait
 * family
 *
 * A child killed by a signal cannot record its own end, and the collector waits only for the
 * process it started; the traced parent's wait sees it (shim.c, the wait family). Each child
 * allocates one block of its own and tells the parent through a pipe before it is ended:
 *   child 1: SIGTERM, reaped with waitpid(pid, NULL, 0) (no status word: the shim lends one);
 *   child 2: SIGKILL, reaped with waitid(P_PID, ...);
 *   child 3: exit(3), reaped with wait4(pid, &status, 0, &usage).
 *
 * stdout: "reaped: kill 9, exit 3" (one line; the parent does not see child 1's status).
 *
 * Expect: 4 process images in order of start: the parent {"code": 0}; child 1 {"signal": 15}
 *   with a live site at child_block of 1001 bytes; child 2 {"signal": 9} with 1002 bytes;
 *   child 3 {"code": 3} with 1003 bytes. Each child's ppid is the parent's pid.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void *hg_r_block;

static void child_block(size_t bytes)
{
	hg_r_block = malloc(bytes); /* site: child_block */
	if (!hg_r_block)
		abort();
}

/* A child that allocates, says so on fd, then waits to be killed or exits with `code`. */
static pid_t start_child(int n, int code)
{
	int fd[2];
	char c = 0;
	pid_t pid;

	if (pipe(fd) != 0 || (pid = fork()) < 0)
		abort();
	if (pid == 0) {
		close(fd[0]);
		child_block(1000u + (unsigned)n);
		if (write(fd[1], &c, 1) != 1)
			_exit(100);
		if (code >= 0)
			exit(code);
		for (;;)
			pause();
	}
	close(fd[1]);
	if (read(fd[0], &c, 1) != 1)
		abort();
	close(fd[0]);
	return pid;
}

int main(void)
{
	pid_t term = start_child(1, -1), kill9 = start_child(2, -1), three = start_child(3, 3);
	siginfo_t info = { 0 };
	struct rusage usage;
	int status = 0;

	if (kill(term, SIGTERM) != 0 || waitpid(term, NULL, 0) != term)
		abort();
	if (kill(kill9, SIGKILL) != 0 || waitid(P_PID, (id_t)kill9, &info, WEXITED) != 0 ||
	    info.si_code != CLD_KILLED)
		abort();
	if (wait4(three, &status, 0, &usage) != three || !WIFEXITED(status))
		abort();
	printf("reaped: kill %d, exit %d\n", info.si_status, WEXITSTATUS(status));
	return 0;
}
