/*
 * ring_sweep.c - remove the rings of collectors that died without removing them
 *
 * A collector unlinks its ring when it finishes. One that is killed (SIGKILL, the OOM killer, a
 * CI job's timeout) cannot, and its ring (64 MiB by default) stays in /dev/shm, which is memory,
 * until the machine restarts. The next collector removes such rings before making its own.
 *
 * Removed only when all of these hold, so that no live recording ever loses its ring:
 *   - the name is a ring's (HG_RING_NAME_PREFIX PID "." NS HG_RING_NAME_SUFFIX) and the file is a
 *     regular file of this user, with a valid ring header;
 *   - NS, the CLOCK_MONOTONIC time it was made, is more than HG_SWEEP_MIN_AGE_NS ago (a
 *     bare-mode ring has no collector for a moment after it is made);
 *   - the collector it names (or, while it names none, the process that made it, PID) does
 *     not exist, or is a zombie. A pid reused since by another process keeps the ring: left,
 *     not wrongly taken.
 * Processes that still map a removed ring keep their mapping (unlink takes away only the
 * name); with their collector gone they count their events as lost, as before.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hg_format.h"
#include "procfs.h"
#include "ring_sweep.h"

/* PID and NS of a ring's name; 0 when name is not a ring's. */
static int parse_name(const char *name, uint32_t *pid, uint64_t *ns)
{
	size_t n = strlen(name), np = strlen(HG_RING_NAME_PREFIX);
	size_t ns_len = strlen(HG_RING_NAME_SUFFIX);
	unsigned long long v;
	char *end;

	if (n <= np + ns_len || strncmp(name, HG_RING_NAME_PREFIX, np) != 0 ||
	    strcmp(name + n - ns_len, HG_RING_NAME_SUFFIX) != 0)
		return 0;
	errno = 0;
	v = strtoull(name + np, &end, 10);
	if (errno || end == name + np || *end != '.' || v == 0 || v > INT32_MAX)
		return 0;
	*pid = (uint32_t)v;
	*ns = strtoull(end + 1, &end, 10);
	return !errno && end == name + n - ns_len;
}

/* Whether the open ring file fd, made by `maker`, names a collector (or maker) that is gone. */
static int abandoned(int fd, uint32_t maker)
{
	struct hg_ring_header h;
	struct stat sb;

	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
	    pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    !hg_ring_header_valid(&h, (uint64_t)sb.st_size))
		return 0;
	return !hg_proc_alive(h.collector_pid ? h.collector_pid : maker);
}

int hg_ring_sweep(const char *dir, uint64_t now_ns)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int removed = 0;

	if (!d)
		return 0;
	while ((e = readdir(d))) {
		uint32_t pid;
		uint64_t ns;
		int fd;

		if (!parse_name(e->d_name, &pid, &ns) || ns > now_ns ||
		    now_ns - ns <= HG_SWEEP_MIN_AGE_NS)
			continue;
		fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (abandoned(fd, pid) && unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
		close(fd);
	}
	closedir(d);
	return removed;
}
