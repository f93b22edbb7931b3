/*
 * spawn.c - bare mode: make a ring and start a collector when no launcher did
 *
 * `LD_PRELOAD=libheapgraph.so prog` has no `heapgraph record` around it, so the first process
 * creates the ring itself and starts `heapgraph collect` on it. The collector must not be our
 * child: a program that waits for all its children (a shell, a test harness) would wait for it
 * forever. So the shim forks twice with the raw system call (no atfork handlers of the program
 * run), the middle process starts a new session, writes the collector's pid into the ring
 * header and exits at once, and we reap it.
 *
 * The heapgraph binary is found next to the shim (build tree: both in build/) or in ../bin
 * (installed tree), unless HEAPGRAPH_BIN names it. Nothing here allocates from the heap except
 * setenv, which runs under the guard.
 *
 * When bare mode cannot trace at all (the trace file cannot be written, no heapgraph binary, no
 * ring, no collector), the program says so in one line on stderr (the only line the shim ever
 * writes there without HEAPGRAPH_DEBUG) and runs untraced; HEAPGRAPH_RING=off then keeps its
 * descendants untraced and quiet. A process that reaps orphans is the exception: only it
 * cannot have a collector, and its children still start their own.
 *
 * Runs in: first allocation (hg_init).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "digits.h"
#include "lifecycle.h"
#include "rawlog.h"
#include "spawn.h"
#include "sysmap.h"

#define PATH_BYTES 4096
#define MAX_ENV 1024

extern char **environ;

static char *env_copy[MAX_ENV];

/* Append src to dst (capacity cap, always NUL-terminated); returns dst. */
static char *append(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(dst, cap);

	while (*src && n + 1 < cap)
		dst[n++] = *src++;
	dst[n] = '\0';
	return dst;
}

static char *append_u64(char *dst, size_t cap, uint64_t v)
{
	char out[24];

	out[hg_put_decimal(out, v)] = '\0';
	return append(dst, cap, out);
}

static int find_collector(char *out)
{
	const char *env = getenv(HG_ENV_BIN);
	Dl_info info;
	char *slash;

	if (env && *env) {
		out[0] = '\0';
		append(out, PATH_BYTES, env);
		return access(out, X_OK);
	}
	if (!dladdr((const void *)&hg_spawn_collector, &info) || !info.dli_fname)
		return -1;
	out[0] = '\0';
	append(out, PATH_BYTES, info.dli_fname);
	slash = strrchr(out, '/');
	if (!slash)
		strcpy(out, ".");
	else
		*slash = '\0';
	slash = out + strlen(out);
	append(out, PATH_BYTES, "/heapgraph");
	if (access(out, X_OK) == 0)
		return 0;
	*slash = '\0';
	append(out, PATH_BYTES, "/../bin/heapgraph");
	return access(out, X_OK);
}

static struct hg_ring_header *make_ring(char *path, uint32_t pid)
{
	uint64_t bytes = hg_ring_file_bytes(HG_RING_DEFAULT_SLOTS, HG_RING_DEFAULT_SLOT_BYTES);
	const char *clock_env = getenv(HG_ENV_CLOCK);
	int fd, use_tsc = hg_clock_env_parse(clock_env);
	struct hg_ring_clock clock;
	void *p;

	if (use_tsc < 0)
		hg_rawlog("%s='%s' is neither 'tsc' nor 'monotonic': CLOCK_MONOTONIC", HG_ENV_CLOCK,
			  clock_env);
	hg_clock_calibrate(&clock, use_tsc > 0);
	path[0] = '\0';
	append(path, PATH_BYTES, HG_RING_DIR "/" HG_RING_NAME_PREFIX);
	append_u64(path, PATH_BYTES, pid);
	append(path, PATH_BYTES, ".");
	append_u64(path, PATH_BYTES, hg_clock_monotonic_ns());
	append(path, PATH_BYTES, HG_RING_NAME_SUFFIX);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)bytes) < 0 ||
	    (p = hg_sys_mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		close(fd);
		unlink(path);
		return NULL;
	}
	close(fd);
	hg_ring_header_init(p, HG_RING_DEFAULT_SLOTS, HG_RING_DEFAULT_SLOT_BYTES, 0, 0, &clock);
	return p;
}

/* In the grandchild: the environment minus LD_PRELOAD, so the collector is not traced. */
static char **collector_env(void)
{
	size_t n = 0;

	for (char **e = environ; e && *e && n + 1 < MAX_ENV; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) != 0)
			env_copy[n++] = *e;
	env_copy[n] = NULL;
	return env_copy;
}

static void run_middle(struct hg_ring_header *r, char *const argv[])
{
	long grandchild;

	setsid();
	grandchild = syscall(SYS_fork);
	if (grandchild == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		syscall(SYS_close_range, 3u, ~0u, 0u); /* hold none of the program's files or pipes */
		/* The system call itself: the collector is never traced, whatever exec.c's execve
		 * would do with the environment (nothing yet while the shim starts, LD_PRELOAD
		 * put back once it traces). */
		syscall(SYS_execve, argv[0], argv, collector_env());
		_exit(127);
	}
	if (grandchild > 0)
		__atomic_store_n(&r->collector_pid, (uint32_t)grandchild, __ATOMIC_RELEASE);
	_exit(0);
}

/*
 * Whether the collector will be able to write the trace: the file if it exists, else its
 * directory, so that a wrong HEAPGRAPH_OUTPUT is said here, where the user sees it. Nothing is
 * created: a file that appeared before the collector writes it would read as an empty trace.
 */
static int output_writable(const char *out)
{
	char dir[PATH_BYTES];
	const char *slash = strrchr(out, '/');
	int ok;

	if (access(out, F_OK) == 0) {
		ok = access(out, W_OK) == 0;
	} else if (errno != ENOENT) {
		ok = 0;
	} else {
		size_t n = slash ? (size_t)(slash - out) : 0;
		if (n >= sizeof(dir))
			n = sizeof(dir) - 1;
		memcpy(dir, out, n);
		dir[n] = '\0';
		ok = access(slash ? (n ? dir : "/") : ".", W_OK | X_OK) == 0;
	}
	if (!ok)
		hg_rawlog_error("cannot write trace '%s': %s; running untraced", out,
				strerror(errno));
	return ok;
}

/* Bare mode failed, and said why: descendants run untraced without saying it again. */
static struct hg_ring_header *give_up(void)
{
	setenv(HG_ENV_RING, HG_RING_OFF, 1);
	return NULL;
}

struct hg_ring_header *hg_spawn_collector(void)
{
	static char ring_path[PATH_BYTES], bin[PATH_BYTES], out[PATH_BYTES], root[24];
	const char *env_out = getenv(HG_ENV_OUTPUT);
	char *argv[] = { bin, (char *)"collect", (char *)"--ring", ring_path, (char *)"-o", out,
			 (char *)"--root", root, NULL };
	struct hg_ring_header *r;
	long middle;
	int status, reaper = 0;

	if (hg_self_pid == 1 || (prctl(PR_GET_CHILD_SUBREAPER, &reaper) == 0 && reaper)) {
		/* The collector would be re-parented to us; a program that waits for all its
		 * children would then wait for it, while it waits for the program to exit. */
		hg_rawlog_error("bare mode: this process reaps orphans, so its collector would "
				"never end; use 'heapgraph record'; running untraced");
		return NULL; /* its children are no reapers: they trace themselves */
	}
	if (find_collector(bin) < 0) {
		hg_rawlog_error("bare mode: cannot find the heapgraph binary next to the shim "
				"(set %s); running untraced", HG_ENV_BIN);
		return give_up();
	}
	out[0] = root[0] = '\0';
	if (env_out && *env_out) {
		append(out, PATH_BYTES, env_out);
	} else {
		append(out, PATH_BYTES, "heapgraph.");
		append_u64(out, PATH_BYTES, hg_self_pid);
		append(out, PATH_BYTES, ".hgt");
	}
	if (!output_writable(out))
		return give_up();
	if (!(r = make_ring(ring_path, hg_self_pid))) {
		hg_rawlog_error("bare mode: cannot create a ring in /dev/shm: %s; running untraced",
				strerror(errno));
		return give_up();
	}
	append_u64(root, sizeof(root), hg_self_pid);
	middle = syscall(SYS_fork);
	if (middle == 0)
		run_middle(r, argv);
	while (middle > 0 && waitpid((pid_t)middle, &status, 0) < 0 && errno == EINTR)
		;
	if (middle < 0 || __atomic_load_n(&r->collector_pid, __ATOMIC_ACQUIRE) == 0) {
		hg_rawlog_error("bare mode: cannot start '%s'; running untraced", bin);
		unlink(ring_path);
		return give_up();
	}
	setenv(HG_ENV_RING, ring_path, 1);
	return r;
}
