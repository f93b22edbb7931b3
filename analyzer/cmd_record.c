/*
 * cmd_record.c - `heapgraph record`: run a program under the shim and collect its trace
 *
 * The launcher creates the ring, starts PROG with LD_PRELOAD and HEAPGRAPH_RING set, and drains
 * the ring into the trace until PROG and every traced process it started have ended, or once
 * PROG has, for --orphans at most (a daemon PROG starts would keep it waiting). PROG's
 * stdin, stdout and stderr are left alone; our own lines go to stderr after PROG is done.
 *
 * Signals: those sent to the process group PROG shares with the launcher (the terminal's,
 * kill -PGID, timeout's) reach PROG by themselves; the launcher survives them to finish the
 * trace, and SIGINT, SIGQUIT, SIGTERM and SIGHUP make it stop waiting for orphans. Sent to
 * the launcher alone, a signal is passed on to PROG, once (with its value, if queued):
 * group_signal.c tells the two apart. This holds for every signal a program may be sent
 * except those about the launcher itself (its faults, its own limits: SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS, SIGXCPU, SIGXFSZ), SIGCHLD (of its own child), the
 * stop signals (Ctrl-Z must stop the launcher, the shell's job, with PROG) and SIGKILL and
 * SIGSTOP, which cannot be caught. One the launcher was started ignoring (nohup, a trap '' in
 * the shell) stays ignored, for PROG too, as it would be without the launcher.
 *
 * Exit status: PROG's own, or 128+N when signal N killed it; 127/126 when it cannot be run;
 * 2 for a usage error; 3 when the trace cannot be created.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "collector.h"
#include "diag.h"
#include "duration.h"
#include "group_signal.h"
#include "hg_compiler.h"
#include "hg_format.h"
#include "record.h"
#include "units.h"

static const char help[] =
	"usage: heapgraph record [options] -- PROG [ARGS...]\n"
	"\n"
	"Run PROG with the heapgraph shim preloaded and write every allocation, free and call\n"
	"stack of PROG and of the processes it forks or execs into one trace file.\n"
	"Exits with PROG's status (128+N if signal N killed it).\n"
	"\n"
	"options:\n"
	"  -o, --output FILE     trace file (default: heapgraph.<pid>.hgt, pid of PROG)\n"
	"  -d, --depth N         call-stack frames to keep, 1-256 (default 64)\n"
	"      --slots N         ring slots, one per live thread, 2-4096 (default 64)\n"
	"      --slot-size SIZE  bytes per slot, power of two, e.g. 1M (default 1M)\n"
	"      --compression N   zstd level for the trace, 0 (none) to 19 (default 6)\n"
	"      --rss-interval MS sample each process's resident set every MS ms, 0 = off\n"
	"                        (default 10)\n"
	"      --snapshot-every DURATION\n"
	"                        a heap snapshot of every traced process this often (500ms,\n"
	"                        2s, 1m; at least 10ms), labelled every@1.000s, every@2.000s...\n"
	"                        (time since recording began); sent as the snapshot signal:\n"
	"                        HEAPGRAPH_SNAPSHOT_SIGNAL if set, else SIGURG (ignored by\n"
	"                        default, so a process not yet ready loses nothing)\n"
	"      --time-resolution DURATION\n"
	"                        round allocation and free times down to this (default 1ms;\n"
	"                        1ns keeps them exact, at several times the trace size);\n"
	"                        up to 100ms. Never rounded across a process start, a fork or\n"
	"                        a snapshot; within one tick, threads' frees sort first\n"
	"      --orphans DURATION|wait\n"
	"                        once PROG has ended, go on recording the processes it left\n"
	"                        running (a background job, a daemon) this long, or until\n"
	"                        they end with 'wait' (default 10s); a note names those\n"
	"                        still running then, whose traces end there\n"
	"  -q, --quiet           no summary on stderr\n"
	"  -h, --help            this text\n"
	"\n"
	"environment: HEAPGRAPH_LIB overrides the shim to preload.\n"
	"Signals interrupt blocking calls that do not restart (sleep, nanosleep, poll, select):\n"
	"with --snapshot-every they return early with EINTR, as on any signal.\n";

/* Each snapshot stops the program and scans its memory: more often than this is a mistake. */
#define MIN_SNAPSHOT_EVERY_NS (10ull * 1000000ull)

/* Rounded times must stay well inside the analyzer's 250 ms fallback window (replay.c). */
#define MAX_TIME_RESOLUTION_NS 100000000ull

static volatile sig_atomic_t stop_flag;
static volatile pid_t child_pid;

/* The signals that ask the launcher to stop: it no longer waits for orphans. */
static const int stopping[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP };
/* The others it passes on, and the real-time ones (SIGRTMIN to SIGRTMAX). */
static const int passed[] = { SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGVTALRM, SIGPROF, SIGIO,
			      SIGPWR, SIGSTKFLT, SIGWINCH, SIGURG, SIGCONT };
#define MAX_CAUGHT 64

/* The signals the launcher catches (all of the above it was not started ignoring), and what
 * they were before (restored once PROG has ended: check's analysis then stops as any program
 * would). */
static int caught[MAX_CAUGHT];
static struct sigaction caught_old[MAX_CAUGHT];
static size_t n_caught;

/* After the group got a signal, another of the same this soon is taken for the same sending
 * (timeout(1) signals the launcher, then the whole group; the kernel may merge or not). */
#define GROUP_ECHO_NS 100000000ll

static struct timespec group_got[MAX_CAUGHT]; /* when the group last got each */

static int64_t ns_since(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000000ll + (b->tv_nsec - a->tv_nsec);
}

/* Whether PROG needs a copy of sig, which the launcher got. */
static int aimed_at_launcher(int sig, const siginfo_t *si, size_t k)
{
	struct timespec now;

	/* No sentinel: from the terminal (SI_KERNEL) the group had INT or QUIT already. */
	if (!hg_group_signal_watching())
		return sig == SIGTERM || sig == SIGHUP || si->si_code == SI_USER ||
		       si->si_code == SI_QUEUE;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (hg_group_signal_reached(sig)) {
		group_got[k] = now;
		return 0;
	}
	return !group_got[k].tv_sec || ns_since(&group_got[k], &now) > GROUP_ECHO_NS;
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	size_t k = 0;
	pid_t child = child_pid;
	int saved = errno;

	(void)ctx;
	for (size_t i = 0; i < HG_ARRAY_SIZE(stopping); i++)
		if (stopping[i] == sig)
			stop_flag = 1;
	/* The launcher's own (the kernel's SIGPIPE for a write of its to a closed pipe: then
	 * EPIPE, reported, rather than the launcher killed with the trace unfinished), or one
	 * PROG sent its parent (a readiness signal to the script it thinks started it): neither
	 * is for PROG. */
	if ((si->si_code == SI_USER || si->si_code == SI_QUEUE) &&
	    (si->si_pid == getpid() || (child > 0 && si->si_pid == child)))
		return;
	while (k + 1 < n_caught && caught[k] != sig)
		k++;
	if (child > 0 && aimed_at_launcher(sig, si, k)) {
		if (si->si_code == SI_QUEUE)
			sigqueue(child, sig, si->si_value);
		else
			kill(child, sig);
	}
	errno = saved;
}

struct record_opts {
	const char *output;
	struct hg_collector_opts ring;
	int quiet;
};

static int parse(int argc, char **argv, struct record_opts *o)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "depth", required_argument, NULL, 'd' },
		{ "slots", required_argument, NULL, 's' },
		{ "slot-size", required_argument, NULL, 'S' },
		{ "compression", required_argument, NULL, 'c' },
		{ "rss-interval", required_argument, NULL, 'R' },
		{ "snapshot-every", required_argument, NULL, 'E' },
		{ "time-resolution", required_argument, NULL, 'T' },
		{ "orphans", required_argument, NULL, 'O' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t v;
	int ch, rc;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+:o:d:qh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'o': o->output = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': return -1;
		case 'd':
			if ((rc = hg_parse_u64("record", "--depth", optarg, 1, HG_MAX_FRAMES, 0, &v)))
				return rc;
			o->ring.max_frames = (uint32_t)v;
			break;
		case 's':
			if ((rc = hg_parse_u64("record", "--slots", optarg, 2, HG_RING_MAX_SLOTS, 0, &v)))
				return rc;
			o->ring.n_slots = (uint32_t)v;
			break;
		case 'S':
			if ((rc = hg_parse_u64("record", "--slot-size", optarg, HG_RING_MIN_SLOT_BYTES,
					       1u << 30, 1, &v)))
				return rc;
			if (v & (v - 1))
				return hg_usage_error("record", "--slot-size must be a power of two, "
						      "not '%s'", optarg);
			o->ring.slot_bytes = (uint32_t)v;
			break;
		case 'c':
			if ((rc = hg_parse_u64("record", "--compression", optarg, 0, 19, 0, &v)))
				return rc;
			o->ring.zstd_level = (int)v;
			break;
		case 'R':
			if ((rc = hg_parse_u64("record", "--rss-interval", optarg, 0, 60000, 0, &v)))
				return rc;
			o->ring.rss_interval_ms = (uint32_t)v;
			break;
		case 'E':
			if (hg_parse_duration(optarg, &v) < 0 || v < MIN_SNAPSHOT_EVERY_NS)
				return hg_usage_error("record", "invalid value '%s' for --snapshot-every "
						      "(a duration of at least 10ms, such as 500ms, "
						      "2s, 1m)", optarg);
			o->ring.snapshot_every_ns = v;
			break;
		case 'T':
			if ((rc = hg_parse_time_resolution("record", optarg,
							   &o->ring.time_resolution_ns)))
				return rc;
			break;
		case 'O':
			if (!strcmp(optarg, "wait"))
				o->ring.orphans_ns = UINT64_MAX;
			else if (!strcmp(optarg, "0"))
				o->ring.orphans_ns = 0;
			else if (hg_parse_duration(optarg, &o->ring.orphans_ns) < 0)
				return hg_usage_error("record", "invalid value '%s' for --orphans (a "
						      "duration such as 0, 500ms, 10s, 1m, or "
						      "'wait')", optarg);
			break;
		default:
			return hg_bad_option("record", ch, argv);
		}
	}
	if (optind >= argc)
		return hg_usage_error("record", "no program given (usage: heapgraph record "
				      "[options] -- PROG [ARGS...])");
	return 0;
}

/* The shim: $HEAPGRAPH_LIB, next to this binary, ../lib from it, or the configured LIBDIR. */
static int find_shim(char *out, size_t cap)
{
	const char *env = getenv(HG_ENV_LIB);
	char self[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (env && *env) {
		snprintf(out, cap, "%s", env);
		return access(out, R_OK) == 0 ? 0 : hg_error("cannot read shim '%s' (from %s): %s",
							     out, HG_ENV_LIB, strerror(errno));
	}
	if (n > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')))
			*slash = '\0';
		snprintf(out, cap, "%s/libheapgraph.so", self);
		if (access(out, R_OK) == 0)
			return 0;
		snprintf(out, cap, "%s/../lib/libheapgraph.so", self);
		if (access(out, R_OK) == 0)
			return 0;
	}
	snprintf(out, cap, "%s/libheapgraph.so", HG_LIBDIR);
	if (access(out, R_OK) == 0)
		return 0;
	return hg_error("cannot find libheapgraph.so next to heapgraph or in '%s' (set %s)",
			HG_LIBDIR, HG_ENV_LIB);
}

/*
 * The signal periodic snapshots are sent with: the user's HEAPGRAPH_SNAPSHOT_SIGNAL (then
 * both their own and our requests use it), else SIGURG, which the child is told to use.
 * Returns it, or 0 after an error.
 */
static int snapshot_signal(void)
{
	const char *s = getenv(HG_ENV_SNAPSHOT_SIGNAL);
	char num[16];
	int sig;

	if (!s || !*s) {
		snprintf(num, sizeof(num), "%d", SIGURG);
		setenv(HG_ENV_SNAPSHOT_SIGNAL, num, 1);
		return SIGURG;
	}
	sig = atoi(s);
	if (sig <= 0 || sig >= NSIG) {
		hg_usage_error("record", "--snapshot-every: %s='%s' is not a signal number",
			       HG_ENV_SNAPSHOT_SIGNAL, s);
		return 0;
	}
	return sig;
}

static void set_child_env(const char *shim, const char *ring)
{
	const char *old = getenv("LD_PRELOAD");
	size_t n = strlen(shim) + (old ? strlen(old) : 0) + 2;
	char *v = hg_xmalloc(n);

	snprintf(v, n, "%s%s%s", shim, old && *old ? ":" : "", old ? old : "");
	setenv("LD_PRELOAD", v, 1);
	setenv(HG_ENV_RING, ring, 1);
	unsetenv(HG_ENV_OUTPUT);
	free(v);
}

/* Child: wait for the go byte (the trace exists), then become PROG; when that fails, say why
 * on err_fd (closed on exec: the parent reads nothing when it worked) and exit as a shell does. */
static void HG_NORETURN run_child(int go_fd, int err_fd, char **argv)
{
	char c;
	ssize_t r;
	int e;

	while ((r = read(go_fd, &c, 1)) < 0 && errno == EINTR)
		;
	if (r != 1)
		_exit(127);
	execvp(argv[0], argv);
	e = errno;
	hg_error("cannot run '%s': %s", argv[0], strerror(e));
	while (write(err_fd, &e, sizeof(e)) < 0 && errno == EINTR)
		;
	_exit(e == ENOENT ? 127 : 126);
}

/* Catch the signals not ignored, each handler keeping the others out (one question to the
 * sentinel at a time), and start the sentinel watching those. */
static void catch_unless_ignored(int sig)
{
	struct sigaction old;

	if (n_caught < MAX_CAUGHT && sigaction(sig, NULL, &old) == 0 && old.sa_handler != SIG_IGN) {
		caught_old[n_caught] = old;
		caught[n_caught++] = sig;
	}
}

static void restore_handlers(void)
{
	for (size_t k = 0; k < n_caught; k++)
		sigaction(caught[k], &caught_old[k], NULL);
	n_caught = 0;
}

static void install_handlers(void)
{
	struct sigaction sa;

	n_caught = 0;
	for (size_t k = 0; k < HG_ARRAY_SIZE(stopping); k++)
		catch_unless_ignored(stopping[k]);
	for (size_t k = 0; k < HG_ARRAY_SIZE(passed); k++)
		catch_unless_ignored(passed[k]);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		catch_unless_ignored(sig);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO; /* no SA_RESTART: a signal cuts the collector's nap short */
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < n_caught; k++)
		sigaddset(&sa.sa_mask, caught[k]);
	if (n_caught)
		hg_group_signal_start(caught, (int)n_caught);
	for (size_t k = 0; k < n_caught; k++)
		sigaction(caught[k], &sa, NULL);
}

/* How much of the trace the collector wrote the busy ways (collector.c, watch_load): "95% of
 * the records were compressed the faster way and 5% also packed the quick way; the trace is
 * larger" (the quick way is compressed the faster way too). */
static const char *busy_text(const struct hg_collector_stats *st, char *buf, size_t cap)
{
	double all = (double)(st->raw_bytes ? st->raw_bytes : 1);
	double busy = st->busy_bytes > st->raw_bytes ? all : (double)st->busy_bytes;
	int n = snprintf(buf, cap, "%.0f%% of the records were compressed the faster way",
			 100.0 * busy / all);

	if (st->quick_bytes && n >= 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, " and %.0f%% also packed the quick way",
			      100.0 * (double)st->quick_bytes / all);
	if (n >= 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, "; the trace is larger");
	return buf;
}

static void summary(const struct hg_collector_stats *st, const char *path)
{
	char raw[32], file[32], text[160];

	hg_format_bytes(raw, sizeof(raw), st->raw_bytes);
	hg_format_bytes(file, sizeof(file), st->file_bytes);
	hg_note("recorded %llu process image%s: %llu allocations, %llu frees, %llu events lost",
		(unsigned long long)st->n_processes, hg_plural(st->n_processes),
		(unsigned long long)st->n_allocs, (unsigned long long)st->n_frees,
		(unsigned long long)st->lost_events);
	if (st->write_failed)
		hg_note("trace '%s' is incomplete: %s written before the error above; 'heapgraph "
			"report %s' reads it up to there", path, file, path);
	else
		hg_note("trace '%s' (%s, %s of records); see 'heapgraph report %s'", path, file,
			raw, path);
	if (st->busy_bytes)
		hg_note("the program kept every CPU busy and the collector gave way: %s",
			busy_text(st, text, sizeof(text)));
}

/* The program ran, and no process of it loaded the shim: say why, as far as can be told. */
static void nothing_traced(const char *prog)
{
	char file[PATH_MAX];

	if (hg_untraced_static(prog, file, sizeof(file)))
		hg_warning("nothing was traced: '%s' is statically linked; heapgraph reaches a "
			   "program through the dynamic loader (LD_PRELOAD), which a static one "
			   "never runs", file);
	else
		hg_warning("nothing was traced: no process of '%s' loaded the tracer (a program "
			   "that is set-user-ID, or that another started with the execve system "
			   "call rather than through the C library, runs untraced)", prog);
}

/* Some process called a malloc of its own, not the C library's (rustc's jemalloc): say so. */
static void foreign_malloc(const struct hg_collector_stats *st)
{
	char more[64] = "";

	if (st->n_foreign_malloc > 1)
		snprintf(more, sizeof(more), " (and %llu other process image%s)",
			 (unsigned long long)st->n_foreign_malloc - 1,
			 hg_plural(st->n_foreign_malloc - 1));
	hg_warning("'%s'%s calls a malloc of its own, linked in ahead of the tracer's: its "
		   "heap allocations are not traced, only its mappings", st->foreign_exe, more);
}

int hg_parse_time_resolution(const char *cmd, const char *arg, uint32_t *ns)
{
	uint64_t v;

	if (hg_parse_duration(arg, &v) < 0 || v < 1 || v > MAX_TIME_RESOLUTION_NS)
		return hg_usage_error(cmd, "invalid value '%s' for --time-resolution (a duration "
				      "from 1ns to 100ms, such as 1ms, 10us)", arg);
	*ns = (uint32_t)v;
	return 0;
}

int hg_record_exit_code(int wait_status)
{
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : HG_EXIT_INPUT;
}

int hg_record_run(const struct hg_collector_opts *ring, const char *trace_path, char **argv,
		  int quiet, char *path, size_t cap, int *wait_status)
{
	char shim[PATH_MAX];
	int go[2], err[2], exec_errno = 0;
	struct hg_collector *c;
	pid_t pid;
	/* A file size limit (ulimit -f) below the ring's or the trace's size makes a write fail
	 * with EFBIG, reported, rather than kill record with SIGXFSZ; the program gets the
	 * disposition record was started with. */
	void (*xfsz)(int) = signal(SIGXFSZ, SIG_IGN);

	if (find_shim(shim, sizeof(shim)) < 0 || !(c = hg_collector_create(ring)))
		return -1;
	if (pipe2(go, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		hg_collector_free(c);
		return hg_error("cannot create a pipe: %s", strerror(errno));
	}
	install_handlers();
	if ((pid = fork()) == 0) {
		signal(SIGXFSZ, xfsz);
		close(go[1]);
		close(err[0]);
		set_child_env(shim, hg_collector_ring_path(c));
		run_child(go[0], err[1], argv);
	}
	close(go[0]);
	close(err[1]);
	child_pid = pid;
	if (!trace_path)
		snprintf(path, cap, "heapgraph.%d.hgt", (int)pid);
	else if (trace_path != path)
		snprintf(path, cap, "%s", trace_path);
	if (pid < 0 || hg_collector_open_trace(c, path, ring->zstd_level) < 0) {
		if (pid < 0)
			hg_error("cannot fork: %s", strerror(errno));
		close(go[1]);
		close(err[0]);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		hg_group_signal_stop();
		restore_handlers();
		hg_collector_free(c);
		return -1;
	}
	if (write(go[1], "g", 1) != 1)
		hg_warning("cannot start '%s': %s", argv[0], strerror(errno));
	close(go[1]);
	*wait_status = 0;
	hg_collector_run(c, pid, 1, &stop_flag, wait_status);
	child_pid = 0; /* reaped: its pid may be another's from now on */
	hg_group_signal_stop();
	restore_handlers();
	if (read(err[0], &exec_errno, sizeof(exec_errno)) != (ssize_t)sizeof(exec_errno))
		exec_errno = 0;
	close(err[0]);
	if (exec_errno) /* said by the child: nothing ran, and the trace holds nothing */
		unlink(path);
	else if (!quiet)
		summary(hg_collector_stats(c), path);
	if (!exec_errno && !hg_collector_stats(c)->n_processes)
		nothing_traced(argv[0]);
	else if (!exec_errno && hg_collector_stats(c)->n_foreign_malloc)
		foreign_malloc(hg_collector_stats(c));
	hg_collector_free(c);
	return exec_errno ? 1 : 0;
}

int hg_cmd_record(int argc, char **argv)
{
	struct record_opts o = { NULL, HG_RECORD_DEFAULT_RING, 0 };
	char out[PATH_MAX];
	int rc = parse(argc, argv, &o), status = 0;

	if (rc < 0)
		return hg_print_help(help);
	if (rc)
		return rc;
	if (o.ring.snapshot_every_ns && !(o.ring.snapshot_signal = snapshot_signal()))
		return HG_EXIT_USAGE;
	if ((rc = hg_record_run(&o.ring, o.output, argv + optind, o.quiet, out, sizeof(out),
				&status)) < 0)
		return HG_EXIT_INPUT;
	return hg_record_exit_code(status); /* 126 or 127 when the program could not be run */
}
