/*
 * procself.c - open this process's /proc files through a thread that is still alive
 *
 * /proc/self names the thread group leader, the main thread. Once it has called pthread_exit
 * (the process living on in its other threads) it is a zombie without a memory map: its maps
 * and cmdline read as empty, its exe link and pagemap fail to open (ENOENT, ESRCH), while
 * /proc/thread-self, the calling thread's own directory, still shows all of them. The files
 * of the process's memory are the same through any of its threads, so the calling thread's
 * view is always right; /proc/self is kept as the fallback for kernels without thread-self.
 *
 * The task directory is the exception: /proc/thread-self/task does not exist, and world.c
 * lists threads through /proc/self/task, which still lists them all after the leader exited.
 *
 * Runs in: anywhere the caller may call open(2): the snapshot path, the exit path.
 */
#include <fcntl.h>
#include <string.h>

#include "procself.h"

#define NAME_MAX_BYTES 32
#define THREAD_SELF "/proc/thread-self/"
#define PATH_BYTES (sizeof(THREAD_SELF) + NAME_MAX_BYTES) /* the longer prefix, its NUL counted */

/* prefix followed by name in buf, which holds PATH_BYTES. */
static const char *join(char *buf, const char *prefix, const char *name, size_t name_bytes)
{
	size_t n = strlen(prefix);

	memcpy(buf, prefix, n);
	memcpy(buf + n, name, name_bytes);
	buf[n + name_bytes] = '\0';
	return buf;
}

int hg_procself_open(const char *name)
{
	char path[PATH_BYTES];
	size_t name_bytes = strnlen(name, NAME_MAX_BYTES);
	int fd;

	fd = open(join(path, THREAD_SELF, name, name_bytes), O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = open(join(path, "/proc/self/", name, name_bytes), O_RDONLY | O_CLOEXEC);
	return fd;
}
