/*
 * lifecycle.c - when the shim starts, stops, forks, execs and sees threads end
 *
 * Start-up happens on the first interposed call or in our constructor, whichever comes first.
 * The dynamic loader can call malloc before the C library has set up `environ`; such early
 * calls only resolve the real allocator and pass through, because reading HEAPGRAPH_RING too
 * early would make the shim believe it runs bare and spawn a second collector.
 *
 * Process images: each one writes an HG_REC_PROCESS, then its module map. A fork child writes a
 * PROCESS record flagged HG_PROCESS_FORK from the atfork handler and inherits its parent's stack
 * ids and modules. An exec'd image is a fresh start that first hands back the slots the old
 * image of the same pid still held.
 *
 * Runs in: constructor, first allocation, fork child, thread exit, exit().
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arena.h"
#include "boot.h"
#include "exec_env.h"
#include "guard.h"
#include "lifecycle.h"
#include "modules.h"
#include "ownmem.h"
#include "progmaps.h"
#include "rawlog.h"
#include "ring.h"
#include "snapshot.h"
#include "spawn.h"
#include "stack.h"
#include "sysmap.h"
#include "walk.h"

#define CMDLINE_MAX (8u << 10)
#define PROCESS_BUF_BYTES (sizeof(struct hg_rec_process) + CMDLINE_MAX + 4096 + 8)

int hg_state;
uint32_t hg_self_pid;

extern char **environ;

static struct {
	pthread_key_t exit_key; /* destructor hands back the thread's slot */
	int key_ok;
	uint64_t *process_buf;  /* PROCESS record under construction (arena): only start() and
				   the single-threaded fork child build one, so small thread
				   stacks never carry 12 KiB of it. /proc/self/cmdline is read
				   into its place in it, after the header, and stays there. */
	uint32_t cmdline_bytes;
	uint32_t max_frames;
	int bare;               /* no launcher: HG_PROCESS_BARE on our records */
	uint64_t fork_t_ns;     /* stamped by the parent just before fork() */
	int spawned_collector;  /* this image started the bare-mode collector */
	int snapshot_at_exit;   /* HEAPGRAPH_SNAPSHOT is not "0" */
	int exit_after_fini;    /* started before main: at_exit runs after every destructor */
	int foreign_malloc;     /* hg_malloc_is_foreign: the PROCESS record says so */
} life;

void hg_disable(const char *why)
{
	if (__atomic_exchange_n(&hg_state, HG_DISABLED, __ATOMIC_RELAXED) != HG_DISABLED)
		hg_rawlog("tracing stopped in pid %u: %s", hg_self_pid, why);
}

/* Where the command line goes in the PROCESS record: right after its fixed part. */
static char *cmdline_in_record(void)
{
	return (char *)((struct hg_rec_process *)life.process_buf + 1);
}

static void read_cmdline(void)
{
	int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (!life.process_buf)
		life.process_buf = hg_arena_alloc(PROCESS_BUF_BYTES);
	life.cmdline_bytes = 0;
	if (fd < 0 || !life.process_buf)
		goto out;
	while (life.cmdline_bytes < CMDLINE_MAX &&
	       (n = read(fd, cmdline_in_record() + life.cmdline_bytes,
			 CMDLINE_MAX - life.cmdline_bytes)) > 0)
		life.cmdline_bytes += (uint32_t)n;
out:
	if (fd >= 0)
		close(fd);
}

static void emit_process(uint16_t flags, uint32_t ppid, uint64_t t_ns)
{
	const char *exe = hg_modules_exe_path();
	uint32_t exe_bytes = (uint32_t)strlen(exe) + 1;
	uint32_t body = (uint32_t)sizeof(struct hg_rec_process) + life.cmdline_bytes + exe_bytes;
	uint32_t size = hg_rec_align(body);
	struct hg_rec_process *rec = (struct hg_rec_process *)life.process_buf;
	uint8_t *tail = (uint8_t *)(rec + 1);

	if (!rec || size > PROCESS_BUF_BYTES)
		return;
	memset(rec, 0, sizeof(*rec));
	rec->hdr.type = HG_REC_PROCESS;
	rec->hdr.flags = (uint16_t)(flags | (life.bare ? HG_PROCESS_BARE : 0) |
				    (life.foreign_malloc ? HG_PROCESS_FOREIGN_MALLOC : 0));
	rec->hdr.size_bytes = size;
	rec->t_ns = t_ns;
	rec->pid = hg_self_pid;
	rec->ppid = ppid;
	rec->cmdline_bytes = life.cmdline_bytes;
	rec->exe_bytes = exe_bytes;
	rec->max_frames = life.max_frames;
	memcpy(tail + life.cmdline_bytes, exe, exe_bytes); /* the command line is in place */
	memset(tail + life.cmdline_bytes + exe_bytes, 0, size - body);
	hg_ring_put(rec, size);
}

static void thread_exit(void *arg)
{
	(void)arg;
	hg_tls.busy++;
	hg_ring_release_thread(0);
	hg_walk_release_thread();
	hg_tls.busy--;
}

void hg_thread_register_exit(void)
{
	if (life.key_ok)
		pthread_setspecific(life.exit_key, (void *)1);
}

/*
 * The parent, just before fork(): the child's PROCESS record carries this time, so that the
 * analyzer copies the parent's heap as it was at the fork, without the parent's allocations
 * made while the child was starting.
 */
static void at_fork_prepare(void)
{
	hg_tls.busy++;
	hg_modules_fork_prepare();
	hg_progmaps_fork_prepare();
	hg_arena_fork_prepare();
	life.fork_t_ns = hg_ring_barrier_now();
	/* The child publishes its record of this time only once it runs, which can be long after
	 * (fork() copies the page tables, then the child waits for a CPU): the parent says at
	 * once when its heap is to be copied. */
	if (__atomic_load_n(&hg_state, __ATOMIC_RELAXED) == HG_ACTIVE) {
		struct hg_rec_fork rec = { { HG_REC_FORK, 0, sizeof(rec) }, life.fork_t_ns };

		hg_ring_put(&rec, sizeof(rec));
	}
}

static void fork_done(void)
{
	hg_arena_fork_done();
	hg_progmaps_fork_done();
	hg_modules_fork_done();
	hg_tls.busy--;
}

/* The child of fork: same memory, new pid, one thread, and a slot that is the parent's. */
static void at_fork_child(void)
{
	uint32_t ppid = hg_self_pid;

	fork_done();
	hg_walk_fork_child();
	hg_snapshot_fork_child();
	hg_exec_env_release();
	if (__atomic_load_n(&hg_state, __ATOMIC_RELAXED) != HG_ACTIVE)
		return;
	hg_tls.busy++;
	hg_self_pid = (uint32_t)getpid();
	hg_tls.tid = (uint32_t)syscall(SYS_gettid);
	hg_ring_forget_thread();
	hg_ring_forget_used();
	life.spawned_collector = 0; /* the bare-mode root is our parent: its exit syncs, not ours */
	emit_process(HG_PROCESS_FORK, ppid, life.fork_t_ns);
	hg_tls.busy--;
}

void hg_exit_snapshot(const struct hg_caller *c)
{
	hg_snapshot_close_requests();
	if (life.snapshot_at_exit)
		hg_snapshot_take(HG_SNAP_EXIT, "exit", c);
}

static void sync_if_bare_root(void)
{
	if (life.bare && life.spawned_collector && hg_state == HG_ACTIVE)
		hg_ring_sync(5000);
}

void hg_record_exit(int code, int sync)
{
	struct hg_rec_exit rec = { { HG_REC_EXIT, 0, sizeof(rec) }, hg_now_ns(), hg_self_pid,
				   code, HG_EXIT_CALL, 0 };

	if (__atomic_load_n(&hg_state, __ATOMIC_RELAXED) != HG_ACTIVE)
		return;
	hg_snapshot_close_requests();
	hg_ownmem_sample(rec.t_ns);
	hg_ring_put(&rec, sizeof(rec));
	if (sync)
		sync_if_bare_root();
	/* The process is done: its slot goes back now rather than when the collector next looks
	 * for dead owners, or a loop starting short-lived processes runs out of slots (and their
	 * exit snapshots go through the shared overflow slot, one at a time). */
	hg_ring_release_thread(1);
}

void hg_record_reaped(pid_t pid, int killed, int status)
{
	struct hg_rec_exit rec = { { HG_REC_EXIT, 0, sizeof(rec) }, hg_now_ns(), (uint32_t)pid,
				   status, killed ? HG_EXIT_SIGNAL : HG_EXIT_WAIT, hg_self_pid };

	hg_ring_put(&rec, sizeof(rec));
}

/*
 * exit() and return from main: glibc hands the status to on_exit handlers. This one was
 * registered by our constructor, before __libc_start_main registered the loader's fini (which
 * runs the destructors, ours included): exit handlers run in reverse order, so this one runs
 * last of all, after our destructor's snapshot and sync. It syncs again, so that the EXIT
 * record too is in the trace when the caller gets control back.
 */
static void at_exit(int status, void *arg)
{
	struct hg_caller c;

	(void)arg;
	HG_CALLER_CAPTURE(&c);
	hg_tls.busy++;
	if (life.exit_after_fini)
		hg_exit_snapshot(&c);
	hg_record_exit(status, 1);
	hg_tls.busy--;
}

static struct hg_ring_header *attach_ring(const char *path)
{
	int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	struct stat sb;
	void *p = MAP_FAILED;
	struct hg_ring_header *r;

	if (fd < 0) {
		hg_rawlog("cannot open ring '%s' (errno %d)", path, errno);
		return NULL;
	}
	if (fstat(fd, &sb) == 0 && (size_t)sb.st_size >= HG_RING_HEADER_BYTES)
		p = hg_sys_mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	r = p;
	if (!hg_ring_header_valid(r, (uint64_t)sb.st_size)) {
		hg_rawlog("ring '%s' is not a heapgraph ring of version %d", path, HG_RING_VERSION);
		hg_sys_munmap(p, (size_t)sb.st_size);
		return NULL;
	}
	return r;
}

static uint32_t depth_from_env(const struct hg_ring_header *r)
{
	const char *s = getenv(HG_ENV_DEPTH);
	long v = s ? strtol(s, NULL, 10) : 0;

	if (v <= 0 && r && r->max_frames)
		v = r->max_frames;
	if (v <= 0)
		v = HG_DEFAULT_FRAMES;
	return v > HG_MAX_FRAMES ? HG_MAX_FRAMES : (uint32_t)v;
}

static void set_self_range(void)
{
	uintptr_t lo, hi;

	if (hg_modules_range_of((const void *)&hg_init, &lo, &hi) == 0)
		hg_stack_set_self(lo, hi);
}

/* Whether environment variable name is set to exactly value. */
static int env_is(const char *name, const char *value)
{
	const char *v = getenv(name);

	return v && !strcmp(v, value);
}

/* What exec.c adds to the environment of a new image: the shim's absolute path (a relative
 * LD_PRELOAD would not be found after a chdir) and the HEAPGRAPH_ variables as they are now. */
static void save_exec_env(void)
{
	char path[PATH_MAX];
	Dl_info info;

	if (!dladdr((const void *)&hg_init, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, path)) {
		hg_rawlog("exec: cannot tell the shim's own path; exec'd images keep their "
			  "environment as given");
		return;
	}
	hg_exec_env_save(path);
}

/* Everything after the real allocator is known and the environment is readable. */
static int start(void)
{
	const char *ring_path = getenv(HG_ENV_RING);
	struct hg_ring_header *r;

	hg_rawlog_enabled = getenv(HG_ENV_DEBUG) && *getenv(HG_ENV_DEBUG);
	hg_self_pid = (uint32_t)getpid();
	if (ring_path && !strcmp(ring_path, HG_RING_OFF)) {
		hg_rawlog("%s=%s: bare mode failed in an ancestor; not tracing", HG_ENV_RING,
			  HG_RING_OFF);
		return -1;
	}
	life.bare = !ring_path || !*ring_path;
	r = life.bare ? hg_spawn_collector() : attach_ring(ring_path);
	life.spawned_collector = life.bare && r;
	if (!r)
		return -1;
	life.max_frames = depth_from_env(r);
	life.snapshot_at_exit = !env_is(HG_ENV_SNAPSHOT, "0");
	if (hg_stack_init(life.max_frames, !env_is(HG_ENV_UNWIND, "libunwind")) < 0)
		return -1;
	set_self_range();
	life.key_ok = pthread_key_create(&life.exit_key, thread_exit) == 0;
	pthread_atfork(at_fork_prepare, fork_done, at_fork_child);
	on_exit(at_exit, NULL);
	at_quick_exit(hg_at_quick_exit);
	hg_ring_attach(r);
	hg_ring_adopt_pid(hg_self_pid);
	hg_snapshot_signal_init();
	read_cmdline();
	life.foreign_malloc = hg_malloc_is_foreign();
	emit_process(0, (uint32_t)getppid(), hg_ring_barrier_now());
	hg_modules_sync();
	save_exec_env();
	return 0;
}

void hg_init(void)
{
	int expect = HG_UNINIT;
	int saved = errno;

	if (!__atomic_compare_exchange_n(&hg_state, &expect, HG_INITIALIZING, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return;
	hg_tls.busy++;
	hg_tls.internal++;
	if (hg_boot_resolve() < 0) {
		hg_state = HG_DISABLED;
	} else if (environ == NULL) {
		__atomic_store_n(&hg_state, HG_UNINIT, __ATOMIC_RELEASE); /* too early: try later */
	} else if (start() < 0) {
		hg_disable("start-up failed");
	} else {
		__atomic_store_n(&hg_state, HG_ACTIVE, __ATOMIC_RELEASE);
	}
	hg_tls.internal--;
	hg_tls.busy--;
	errno = saved;
}

/*
 * Started by now (here, or by an allocation of a library constructor that ran before ours),
 * the shim registered at_exit before __libc_start_main registers the loader's destructor
 * pass: at_exit then runs after every library's destructor, and takes the exit snapshot
 * there, so that a library freeing its caches in a destructor (gfortran's runtime does) is
 * not seen holding them. Our own destructor runs before the destructors of the libraries
 * initialised before us, which are all the program's.
 */
__attribute__((constructor)) static void hg_constructor(void)
{
	hg_init();
	life.exit_after_fini = __atomic_load_n(&hg_state, __ATOMIC_ACQUIRE) == HG_ACTIVE;
}

/*
 * The exit snapshot, when at_exit runs before us (the shim started after main began: its
 * on_exit came after the loader's). Bare mode, in the process that started the collector: the
 * program is about to return to its caller (a shell, a test), which may read the trace at
 * once, so waiting here for the collector to write what we published makes the trace complete
 * up to this point when the caller gets control back; at_exit writes the EXIT record and waits
 * once more.
 */
__attribute__((destructor)) static void hg_destructor(void)
{
	struct hg_caller c;

	HG_CALLER_CAPTURE(&c);
	hg_tls.busy++;
	if (!life.exit_after_fini)
		hg_exit_snapshot(&c);
	sync_if_bare_root();
	hg_tls.busy--;
}
