/*
 * measure.c - run a command and report wall time, CPU time and peak RSS of its process tree
 *
 * A tracer is more than the traced process: heaptrack runs the program, an interpreter and a
 * compressor side by side, and a recorder may drain its ring from a parent process. So the
 * numbers here cover every descendant. The wrapper makes itself a child subreaper, so helpers
 * that outlive their parent are reparented to it, and it waits until every descendant has
 * exited, not only the direct child.
 *
 * CPU time and the largest single process come from getrusage(RUSAGE_CHILDREN), which adds up
 * every descendant that was waited for (the kernel folds grandchildren into their parent when
 * the parent waits). The peak of the whole tree - processes alive at the same time, summed - has
 * no kernel counter, so it is sampled: every INTERVAL_MS the wrapper scans /proc, keeps the
 * processes whose parent chain leads to it and sums their resident set. Pages shared between
 * processes (libc, say) count once per process, the way top and ps would show them. The sampled
 * peak can miss a spike shorter than the interval, so the reported tree peak is never below the
 * exact single-process peak.
 *
 * Wall time runs from the fork to the reaping of the last descendant. Between samples the
 * wrapper waits for SIGCHLD (kept blocked, taken with sigtimedwait), not for the interval to end:
 * a wrapper that slept the interval out rounded every wall time up to the next sample, so a
 * 26 ms report read 43 ms and `heapgraph --version` 22 ms.
 *
 * Usage: measure [-i INTERVAL_MS] -o RESULT_FILE -- COMMAND [ARG]...
 * Writes one line to RESULT_FILE: wall_s user_s sys_s max_proc_rss_kb tree_peak_rss_kb status
 * and exits with the command's status (128+N if signal N killed it).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 8192
#define LINGER_LIMIT_S 120.0   /* how long to wait for descendants after the command exits */

struct proc {
	int pid;
	int ppid;
	long rss_pages;            /* resident pages, field 24 of /proc/PID/stat */
	int mine;                  /* 1 when the parent chain reaches this wrapper */
};

static struct proc procs[MAX_PROCS];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Reads ppid and rss of one process; returns 0, or -1 if it vanished meanwhile. */
static int proc_read(int pid, struct proc *p)
{
	char path[64], buf[1024], *s;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	s = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!s)
		return -1;
	p->pid = pid;
	/* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
	 * stime cutime cstime priority nice num_threads itrealvalue starttime vsize rss */
	if (sscanf(s + 1, " %*c %d %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
		   "%*s %*s %*s %ld", &p->ppid, &p->rss_pages) != 2)
		return -1;
	p->mine = 0;
	return 0;
}

/* Sums the resident set of every descendant of this process, in KiB. */
static long tree_rss_kb(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0, changed = 1, self = getpid();
	long pages = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < MAX_PROCS)
		if (isdigit((unsigned char)e->d_name[0]) && proc_read(atoi(e->d_name), &procs[n]) == 0)
			n++;
	closedir(d);
	while (changed) { /* a few passes: the tree is shallow */
		changed = 0;
		for (int i = 0; i < n; i++) {
			if (procs[i].mine)
				continue;
			if (procs[i].ppid == self)
				procs[i].mine = changed = 1;
			for (int j = 0; j < n && !procs[i].mine; j++)
				if (procs[j].mine && procs[j].pid == procs[i].ppid)
					procs[i].mine = changed = 1;
		}
	}
	for (int i = 0; i < n; i++)
		if (procs[i].mine)
			pages += procs[i].rss_pages;
	return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static int exit_code(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Samples and reaps until no descendant is left; returns the command's exit code. SIGCHLD is
 * blocked (main), so each exit is pending when it is waited for. */
static int supervise(pid_t child, long interval_ms, long *tree_peak_kb)
{
	struct timespec pause = { interval_ms / 1000, (interval_ms % 1000) * 1000000L };
	sigset_t chld;
	double child_done = 0;
	int code = 127, status;
	pid_t pid;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	for (;;) {
		long kb;

		/* Reaped before the sample: the wake at the last exit returns at once, without a
		 * scan of /proc inside the wall time. */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			if (pid == child) {
				code = exit_code(status);
				child_done = now_s();
			}
		if (pid < 0 && errno == ECHILD)
			return code;
		if (child_done && now_s() - child_done > LINGER_LIMIT_S) {
			fprintf(stderr, "measure: warning: descendants still running %.0f s after the "
				"command exited; not counted\n", LINGER_LIMIT_S);
			return code;
		}
		if ((kb = tree_rss_kb()) > *tree_peak_kb)
			*tree_peak_kb = kb;
		sigtimedwait(&chld, NULL, &pause); /* a child's exit, the interval, or EINTR */
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: measure [-i INTERVAL_MS] -o RESULT_FILE -- COMMAND [ARG]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *out_path = NULL;
	long interval_ms = 20, tree_peak_kb = 0;
	struct rusage ru;
	sigset_t mask, old_mask;
	double t0, wall;
	FILE *out;
	pid_t child;
	int c, code;

	while ((c = getopt(argc, argv, "+i:o:")) != -1) {
		switch (c) {
		case 'i': interval_ms = atol(optarg); break;
		case 'o': out_path = optarg; break;
		default: usage();
		}
	}
	if (!out_path || optind >= argc || interval_ms <= 0)
		usage();
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, &old_mask);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		fprintf(stderr, "measure: warning: cannot become a subreaper: %s\n", strerror(errno));
	t0 = now_s();
	child = fork();
	if (child < 0) {
		fprintf(stderr, "measure: error: cannot fork: %s\n", strerror(errno));
		return 3;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &old_mask, NULL); /* the command gets the mask we got */
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "measure: error: cannot run '%s': %s\n", argv[optind], strerror(errno));
		_exit(127);
	}
	code = supervise(child, interval_ms, &tree_peak_kb);
	wall = now_s() - t0;
	getrusage(RUSAGE_CHILDREN, &ru);
	if (ru.ru_maxrss > tree_peak_kb)
		tree_peak_kb = ru.ru_maxrss;
	out = fopen(out_path, "w");
	if (!out) {
		fprintf(stderr, "measure: error: cannot write '%s': %s\n", out_path, strerror(errno));
		return 3;
	}
	fprintf(out, "%.4f %.4f %.4f %ld %ld %d\n", wall,
		ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss, tree_peak_kb, code);
	fclose(out);
	return code;
}
