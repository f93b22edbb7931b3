/*
 * snapshot_signal.c - heap snapshots asked for by signal: HEAPGRAPH_SNAPSHOT_SIGNAL, and the
 * collector's periodic requests (record --snapshot-every) that come as that signal
 *
 * The handler takes the snapshot at once, on the interrupted thread's registers, unless the
 * signal interrupted the shim itself (its guard held: it may hold the ring or be inside
 * malloc); then the request waits in hg_snapshot_pending for the first thread to leave the
 * shim. A periodic request carries its nominal time in the signal's value (hg_format.h,
 * HG_SNAPSHOT_EVERY_TAG) and is labelled "every@S.mmms".
 *
 * Runs in: the snapshot signal's handler, and the exit of any interposed call.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "digits.h"
#include "guard.h"
#include "hg_format.h"
#include "rawlog.h"
#include "snapshot.h"
#include "world.h"

/* hg_snapshot_pending values: a plain signal, or PERIODIC | ms of a periodic request. */
#define PENDING_SIGNAL 1ull
#define PENDING_PERIODIC (1ull << 63)

uint64_t hg_snapshot_pending;

/* "every@" S "." mmm "s" for ms milliseconds, without stdio. */
static void periodic_label(char *buf, uint64_t ms)
{
	size_t o = 6;

	memcpy(buf, "every@", 6);
	o += hg_put_decimal(buf + o, ms / 1000);
	buf[o++] = '.';
	buf[o++] = (char)('0' + ms / 100 % 10);
	buf[o++] = (char)('0' + ms / 10 % 10);
	buf[o++] = (char)('0' + ms % 10);
	buf[o++] = 's';
	buf[o] = '\0';
}

/* Caller holds the guard. */
static void take_requested(uint64_t what, const struct hg_caller *c)
{
	char label[48];

	if (what & PENDING_PERIODIC) {
		periodic_label(label, what & ~PENDING_PERIODIC);
		hg_snapshot_take(HG_SNAP_PERIODIC, label, c);
	} else {
		hg_snapshot_take(HG_SNAP_SIGNAL, "signal", c);
	}
}

void hg_snapshot_run_pending(void)
{
	uint64_t what = __atomic_exchange_n(&hg_snapshot_pending, 0, __ATOMIC_ACQ_REL);
	struct hg_caller c;
	int saved = errno;

	if (!what || hg_tls.busy)
		return;
	hg_tls.busy = 1;
	HG_CALLER_CAPTURE(&c);
	take_requested(what, &c);
	hg_tls.busy = 0;
	errno = saved;
}

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
	const ucontext_t *uc = ctx;
	uint64_t v = (uint64_t)(uintptr_t)info->si_value.sival_ptr, what = PENDING_SIGNAL;
	struct hg_caller c;
	int saved = errno;

	(void)sig;
	if (info->si_code == SI_QUEUE && v >> 32 == HG_SNAPSHOT_EVERY_TAG)
		what = PENDING_PERIODIC | (v & 0xffffffffu);
	if (hg_tls.busy) {
		/* Interrupted the shim itself: its state is not ours to read. Leave it for later. */
		__atomic_store_n(&hg_snapshot_pending, what, __ATOMIC_RELEASE);
		return;
	}
	hg_tls.busy = 1;
	memcpy(c.regs, uc->uc_mcontext.gregs, sizeof(uint64_t) * HG_WORLD_NREGS);
	c.n_regs = HG_WORLD_NREGS;
	c.sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
	take_requested(what, &c);
	hg_tls.busy = 0;
	errno = saved;
}

void hg_snapshot_signal_init(void)
{
	const char *s = getenv(HG_ENV_SNAPSHOT_SIGNAL);
	int sig = s ? atoi(s) : 0;
	struct sigaction sa;

	if (sig <= 0 || sig >= NSIG)
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) < 0)
		hg_rawlog("cannot install the snapshot signal %d", sig);
}
