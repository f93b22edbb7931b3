/*
 * world.c - stop every other thread of the process, read their registers, let them go
 *
 * A snapshot must see a heap nobody changes, the way a tracing collector stops the mutator.
 * Threads are found in /proc/self/task (read with getdents64: opendir would allocate), less
 * those whose status file says they exited (a main thread that called pthread_exit stays listed,
 * a zombie, until the process ends). Each is sent the stop signal with tgkill (SIGRTMAX-2, or
 * the first real-time signal below it that the program does not handle), and the handler saves
 * the thread's registers from its ucontext, announces itself and waits on a futex until
 * released. A thread whose status file says it blocks that signal, or that sleeps in a call the
 * signal would cut short (sleeps_unrestartable), is not sent it (send_unless_blocked,
 * send_to_unblocked). The stopper never allocates or takes a lock while others are stopped: a
 * parked thread may hold malloc's locks or ours.
 *
 * Runs in: the snapshotting thread (exit path, heapgraph_snapshot, the snapshot signal), and
 * the signal handler of every other thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "digits.h"
#include "hg_futex.h"
#include "world.h"

#define STOP_TIMEOUT_MS 1000

static struct {
	struct hg_world *w;   /* the world being stopped */
	uint32_t parked;      /* atomic: threads inside the handler */
	uint32_t release;     /* atomic futex word: 1 lets them go */
	int sig;              /* the stop signal, once installed (see install); 0 before */
} stop;

static int stop_signal(void)
{
	return stop.sig;
}

static void on_stop(int sig, siginfo_t *info, void *ctx)
{
	uint32_t self = (uint32_t)syscall(SYS_gettid);
	const ucontext_t *uc = ctx;
	int saved = errno;

	(void)sig;
	(void)info;
	for (uint32_t i = 0; stop.w && i < stop.w->n; i++) {
		struct hg_world_thread *t = &stop.w->thread[i];
		if (t->tid != self || t->stopped)
			continue;
		memcpy(t->regs, uc->uc_mcontext.gregs, sizeof(t->regs));
		t->sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
		__asm__("mov %%fs:0, %0" : "=r"(t->tcb));
		/* Release: the registers are written before the stopper counts us. */
		__atomic_store_n(&t->stopped, 1, __ATOMIC_RELEASE);
		break;
	}
	__atomic_add_fetch(&stop.parked, 1, __ATOMIC_ACQ_REL);
	while (!__atomic_load_n(&stop.release, __ATOMIC_ACQUIRE))
		hg_futex(&stop.release, FUTEX_WAIT_PRIVATE, 0, NULL);
	__atomic_sub_fetch(&stop.parked, 1, __ATOMIC_ACQ_REL);
	errno = saved;
}

/* What a thread's status file says of it, as far as stopping it goes. */
struct thread_status {
	char state;        /* its State letter: R, S, D, T, t, Z (zombie), X (dead); 0: unread */
	uint64_t blocked;  /* its SigBlk: bit N-1 set when signal N is blocked; 0: unread */
	int in_wait;       /* asleep in a call a handler would cut short (sleeps_unrestartable) */
};

/* The first bytes of the status line being read: enough for every line we parse. */
#define HEAD_BYTES 32

struct line_head {
	char text[HEAD_BYTES];
	uint32_t len;      /* bytes of the line kept so far, at most HEAD_BYTES */
};

static void parse_line(const struct line_head *h, struct thread_status *st)
{
	size_t used;

	if (h->len > 7 && !memcmp(h->text, "State:\t", 7))
		st->state = h->text[7];
	else if (h->len > 8 && !memcmp(h->text, "SigBlk:\t", 8))
		st->blocked = hg_hex_prefix(h->text + 8, h->len - 8, &used);
}

/* One byte of the file: a line's head is kept, the rest of a long line (Groups:) skipped. */
static void feed(struct line_head *h, char c, struct thread_status *st)
{
	if (c == '\n') {
		parse_line(h, st);
		h->len = 0;
	} else if (h->len < HEAD_BYTES) {
		h->text[h->len++] = c;
	}
}

/* "/proc/self/task/TID/" + file in buf (48 bytes; file at most 8). Not /proc/thread-self:
 * it has no task/. */
static const char *task_path(char *buf, uint32_t tid, const char *file)
{
	static const char dir[] = "/proc/self/task/";
	size_t at = sizeof(dir) - 1;

	memcpy(buf, dir, at);
	at += hg_put_decimal(buf + at, tid);
	buf[at++] = '/';
	memcpy(buf + at, file, strlen(file) + 1);
	return buf;
}

/*
 * Whether a sleeping thread sleeps in a call that a signal handler cuts short whatever
 * SA_RESTART says (signal(7)): its syscall file starts with that call's number. Sent the stop
 * signal, it would return EINTR to the program once resumed: a main thread in poll() while a
 * worker calls exit() printed an error and exited with its own status instead of the
 * worker's. rt_sigtimedwait is worse: while it waits, the kernel unblocks the signals it
 * awaits, so SigBlk does not show them, and a thread awaiting every signal (a daemon's signal
 * thread, sigfillset then sigwait) would take the stop signal as its own.
 */
static int unrestartable(long nr)
{
	switch (nr) {
	case SYS_rt_sigtimedwait: case SYS_poll: case SYS_ppoll: case SYS_select:
	case SYS_pselect6: case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2:
	case SYS_nanosleep: case SYS_clock_nanosleep: case SYS_pause: case SYS_rt_sigsuspend:
	case SYS_io_getevents: case SYS_io_pgetevents: case SYS_semtimedop:
		return 1;
	default:
		return 0;
	}
}

static int sleeps_unrestartable(uint32_t tid)
{
	char path[48], buf[24];
	int fd = open(task_path(path, tid, "syscall"), O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	size_t used;
	uint64_t nr;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return 0;
	nr = hg_dec_prefix(buf, (size_t)n, &used);
	return used > 0 && used < (size_t)n && buf[used] == ' ' && unrestartable((long)nr);
}

/* Read tid's status file (streamed through a small buffer: opendir and stdio allocate). */
static void read_status(uint32_t tid, struct thread_status *st)
{
	char path[48], buf[512];
	struct line_head h = { .len = 0 };
	int fd = open(task_path(path, tid, "status"), O_RDONLY | O_CLOEXEC);
	ssize_t n;

	memset(st, 0, sizeof(*st));
	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			feed(&h, buf[i], st);
	close(fd);
	if (st->state == 'S')
		st->in_wait = sleeps_unrestartable(tid);
}

/*
 * A thread that has exited is not one to stop: the main thread stays listed as a zombie after
 * its pthread_exit, for as long as the process lives on in its other threads, and a signal
 * sent to it is never handled (the stopper waited its full second for it, and counted a
 * thread that no longer runs as one it could not stop).
 */
static int has_exited(const struct thread_status *st)
{
	return st->state == 'Z' || st->state == 'X';
}

/* Whether a thread is not to be sent the stop signal: its mask (SigBlk) blocks it, or it
 * sleeps in a call the signal would cut short (in_wait: sleeps_unrestartable). */
static int blocks_stop(uint64_t blocked, int in_wait)
{
	return !stop_signal() || (int)(blocked >> (stop_signal() - 1) & 1) || in_wait;
}

/* Fill w->thread with the tids of /proc/self/task other than ours that still run, each with
 * its signal mask and whether it sleeps unrestartably, as its status says now. */
static void list_threads(struct hg_world *w)
{
	char buf[4096];
	uint32_t self = (uint32_t)syscall(SYS_gettid);
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct thread_status st;
	long n;

	w->n = 0;
	w->complete = 0;
	if (fd < 0)
		return;
	w->complete = 1;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			size_t used;
			uint32_t tid = (uint32_t)hg_dec_prefix(d->d_name, sizeof(d->d_name), &used);
			int other = tid && tid != self;

			if (other && w->n == HG_WORLD_MAX_THREADS)
				w->complete = 0;
			else if (other && (read_status(tid, &st), !has_exited(&st))) {
				memset(&w->thread[w->n], 0, sizeof(w->thread[0]));
				w->thread[w->n].tid = tid;
				w->thread[w->n].sigblk = st.blocked;
				w->thread[w->n++].in_wait = st.in_wait;
			}
			off += d->d_reclen;
		}
	}
	if (n < 0)
		w->complete = 0;
	close(fd);
}

static void sleep_ms(void)
{
	struct timespec ts = { 0, 1000000 };

	nanosleep(&ts, NULL);
}

/* Wait until `sent` threads are parked, or *ms_used reaches STOP_TIMEOUT_MS (one budget for
 * every wait of a stop). */
static void wait_parked(uint32_t sent, unsigned *ms_used)
{
	for (; *ms_used < STOP_TIMEOUT_MS; ++*ms_used) {
		if (__atomic_load_n(&stop.parked, __ATOMIC_ACQUIRE) >= sent)
			return;
		sleep_ms();
	}
}

/*
 * A thread whose mask blocks the signal is not sent it: it would not answer until it
 * unblocks, if ever (xz's worker threads never do), and the wait lasted its full second at
 * every snapshot; the signal then stayed pending in the program's thread. It counts as not
 * stopped at once. Returns the number sent.
 */
static uint32_t send_unless_blocked(struct hg_world *w, pid_t pid)
{
	uint32_t sent = 0;

	for (uint32_t i = 0; i < w->n; i++)
		if (!w->thread[i].blocks_stop)
			sent += syscall(SYS_tgkill, pid, w->thread[i].tid, stop_signal()) == 0;
	return sent;
}

/*
 * A second look, after the wait for the others, at the threads not sent the signal: one that
 * blocked it only for a moment (a thread glibc is starting, its creator inside
 * pthread_create, a critical section), or slept in poll and has woken, is sent it now. One
 * that still blocks it (or still sleeps) stays running: telling a brief block from a lasting
 * one would take waiting, which is what not sending avoids. (A thread that blocks the signal
 * just after its mask was read gets it when it unblocks, within the wait, as before.)
 * Returns the number sent.
 */
static uint32_t send_to_unblocked(struct hg_world *w, pid_t pid)
{
	uint32_t sent = 0;

	for (uint32_t i = 0; i < w->n; i++) {
		struct hg_world_thread *t = &w->thread[i];
		struct thread_status st;

		if (!t->blocks_stop)
			continue;
		read_status(t->tid, &st);
		if (has_exited(&st) || blocks_stop(st.blocked, st.in_wait))
			continue;
		t->blocks_stop = 0;
		sent += syscall(SYS_tgkill, pid, t->tid, stop_signal()) == 0;
	}
	return sent;
}

/* Whether a disposition is on_stop. */
static int is_ours(const struct sigaction *a)
{
	return (a->sa_flags & SA_SIGINFO) && a->sa_sigaction == on_stop;
}

/* Whether the program has a handler of its own in a disposition (not ours, not the default,
 * not ignored). */
static int programs_own(const struct sigaction *a)
{
	return !is_ours(a) && ((a->sa_flags & SA_SIGINFO) ||
			       (a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN));
}

/* Our handler on sig, unless the program has one there: 0, or -1 and sig left alone. */
static int try_install(int sig)
{
	struct sigaction sa, old;

	if (sigaction(sig, NULL, &old) < 0 || programs_own(&old))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_stop;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) < 0)
		return -1;
	/* The program may have installed one since the look above. */
	if (programs_own(&old)) {
		sigaction(sig, &old, NULL);
		return -1;
	}
	stop.sig = sig;
	return 0;
}

/*
 * Install on_stop for the stop signal: SIGRTMAX-2, or, when the program handles that one itself
 * (the JDK's NIO does), the next real-time signal below it that it does not handle (the
 * snapshot request signal has our other handler), down to SIGRTMIN+2 (the lowest ones are the
 * most used: timers, and what libraries take from SIGRTMIN). The handler stays installed: a
 * thread that blocked the signal after it was sent receives it whenever it unblocks, possibly
 * long after the snapshot, and must then find a handler that returns at once, not the default
 * action (which would kill the process). Should the program put its own handler, or the
 * default action, there later, the next snapshot chooses again.
 */
static int install(void)
{
	struct sigaction cur;

	if (stop.sig && sigaction(stop.sig, NULL, &cur) == 0 && is_ours(&cur))
		return 0;
	stop.sig = 0;
	for (int sig = SIGRTMAX - 2; sig >= SIGRTMIN + 2; sig--)
		if (try_install(sig) == 0)
			return 0;
	return -1;
}

/*
 * The signal is installed only once there is another thread to stop: a single-threaded
 * process (the common case, and every snapshot of it) never takes a real-time signal's
 * disposition. The masks were read while listing; which signal they are tested for is known
 * only now.
 */
int hg_world_stop(struct hg_world *w)
{
	uint32_t sent, more;
	unsigned ms_used = 0;
	pid_t pid = getpid();

	list_threads(w);
	w->n_stopped = 0;
	if (w->n == 0)
		return 0;
	if (install() < 0)
		return -1;
	for (uint32_t i = 0; i < w->n; i++)
		w->thread[i].blocks_stop = blocks_stop(w->thread[i].sigblk, w->thread[i].in_wait);
	stop.w = w;
	__atomic_store_n(&stop.release, 0, __ATOMIC_RELEASE);
	sent = send_unless_blocked(w, pid);
	wait_parked(sent, &ms_used);
	if ((more = send_to_unblocked(w, pid)))
		wait_parked(sent += more, &ms_used);
	for (uint32_t i = 0; i < w->n; i++)
		w->n_stopped += __atomic_load_n(&w->thread[i].stopped, __ATOMIC_ACQUIRE) != 0;
	return 0;
}

void hg_world_resume(struct hg_world *w)
{
	if (w->n == 0)
		return;
	__atomic_store_n(&stop.release, 1, __ATOMIC_RELEASE);
	hg_futex(&stop.release, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL);
	/* A thread that answers late still finds release set and leaves at once. */
	for (unsigned ms = 0; ms < STOP_TIMEOUT_MS && __atomic_load_n(&stop.parked, __ATOMIC_ACQUIRE);
	     ms++)
		sleep_ms();
	stop.w = NULL;
}
