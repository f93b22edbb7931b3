/*
 * procfs.c - what /proc says about processes: a task's state and start, whether it is alive,
 * its resident set and signal handlers, the machine's CPU time, and the live processes started
 * with a given environment entry (see procfs.h)
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "diag.h"
#include "procfs.h"

/* Whether the NUL-separated entries in env[0..n) include entry, whole. */
static int env_has(const char *env, size_t n, const char *entry, size_t len)
{
	for (size_t at = 0; at < n;) {
		const char *e = env + at;
		size_t k = strnlen(e, n - at);

		if (k == len && !memcmp(e, entry, len))
			return 1;
		at += k + 1;
	}
	return 0;
}

/* Read a small /proc file into buf as a string; its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Read all of a /proc file into *buf (grown as needed); its length, or -1. */
static ssize_t read_all(const char *path, char **buf, size_t *cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t k;

		if (n == *cap)
			HG_GROW(*buf, *cap, n + 4096);
		k = read(fd, *buf + n, *cap - n);
		if (k < 0) {
			close(fd);
			return -1;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	return (ssize_t)n;
}

int hg_proc_stat(const char *path, char *state, unsigned long long *start_ticks)
{
	char buf[1024], *paren;

	if (read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	/* The command, in parentheses, may hold anything: the fields follow its last ")". */
	paren = strrchr(buf, ')');
	if (!paren || paren[1] != ' ' || !paren[2])
		return -1;
	*state = paren[2];
	/* Then 18 fields after the state, then the start time (field 22). */
	if (start_ticks && sscanf(paren + 3, " %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
				  "%*s %*s %*s %*s %*s %*s %llu", start_ticks) != 1)
		return -1;
	return 0;
}

/* Whether the process is alive (not a zombie, nor gone), and when it started. */
static int running(const char *pid, unsigned long long *start)
{
	char path[300], state;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	return hg_proc_stat(path, &state, start) == 0 && state != 'Z' && state != 'X';
}

int hg_proc_count_with_env(const char *entry, pid_t self)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	char *buf = NULL, path[300], self_pid[24];
	size_t cap = 0, len = strlen(entry);
	unsigned long long self_start = 0, start;
	int count = 0;

	if (!d)
		return -1;
	snprintf(self_pid, sizeof(self_pid), "%ld", (long)self);
	if (!running(self_pid, &self_start))
		self_start = 0;
	while ((de = readdir(d))) {
		ssize_t n;

		if (!isdigit((unsigned char)de->d_name[0]) || atol(de->d_name) == (long)self)
			continue;
		/* Only what started after self (the process that made the ring): reading another
		 * process's environment takes its memory map's lock, which an unrelated process
		 * stuck in the kernel can hold for long. */
		if (!running(de->d_name, &start) || start < self_start)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/environ", de->d_name);
		if ((n = read_all(path, &buf, &cap)) <= 0 || !env_has(buf, (size_t)n, entry, len))
			continue;
		count++;
	}
	closedir(d);
	free(buf);
	return count;
}

/* Whether /proc/PID[/task/TID]/stat says the task is a zombie. */
static int is_zombie(const char *path)
{
	char state;

	return hg_proc_stat(path, &state, NULL) == 0 && state == 'Z';
}

int hg_proc_alive(uint32_t pid)
{
	char path[64];

	if (pid == 0 || pid > INT32_MAX || (kill((pid_t)pid, 0) < 0 && errno == ESRCH))
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	return !is_zombie(path);
}

int hg_proc_thread_alive(uint32_t pid, uint32_t tid)
{
	char path[96];

	if (pid == 0 || tid == 0 || (syscall(SYS_tgkill, pid, tid, 0) < 0 && errno == ESRCH))
		return 0;
	snprintf(path, sizeof(path), "/proc/%u/task/%u/stat", pid, tid);
	return !is_zombie(path);
}

/* Pages resident per a statm file: 1 and *pages when it reads, else 0. A task without memory
 * (an exited main thread, whose mm is gone while the others run on) reads as all zeros. */
static int statm_resident(const char *path, unsigned long long *pages)
{
	char buf[128];
	unsigned long long size;

	return read_small(path, buf, sizeof(buf)) > 0 &&
	       sscanf(buf, "%llu %llu", &size, pages) == 2 && size > 0;
}

uint64_t hg_proc_rss(uint32_t pid)
{
	char path[64];
	unsigned long long resident = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%u/statm", pid);
	if (!statm_resident(path, &resident)) {
		/* /proc/PID is the main thread's view: after its pthread_exit, ask a live one. */
		snprintf(path, sizeof(path), "/proc/%u/task", pid);
		if (!(d = opendir(path)))
			return 0;
		while ((e = readdir(d)))
			if (e->d_name[0] != '.' &&
			    snprintf(path, sizeof(path), "/proc/%u/task/%.20s/statm", pid,
				     e->d_name) < (int)sizeof(path) &&
			    statm_resident(path, &resident))
				break;
		closedir(d);
		if (!e)
			return 0;
	}
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

int hg_proc_catches(uint32_t pid, int sig)
{
	char path[64], buf[4096];
	const char *p;
	unsigned long long mask;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (read_small(path, buf, sizeof(buf)) <= 0 || !(p = strstr(buf, "\nSigCgt:")) ||
	    sscanf(p + 8, "%llx", &mask) != 1)
		return 0;
	return sig >= 1 && sig <= 64 && (mask >> (sig - 1) & 1);
}

int hg_proc_cpu_ticks(uint64_t *idle, uint64_t *all)
{
	char buf[512];
	unsigned long long v[8] = { 0 };
	int n;

	if (read_small("/proc/stat", buf, sizeof(buf)) <= 0 ||
	    (n = sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			&v[3], &v[4], &v[5], &v[6], &v[7])) < 4)
		return 0;
	*idle = v[3] + v[4];
	*all = 0;
	for (int i = 0; i < n; i++)
		*all += v[i];
	return 1;
}
