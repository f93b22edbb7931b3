/*
 * lifecycle.h - when the shim starts, stops, forks, execs and sees threads end
 *
 * Runs in: constructor, first allocation, fork child, thread exit, exit().
 */
#ifndef HG_LIFECYCLE_H
#define HG_LIFECYCLE_H

#include <stdint.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "hg_clock.h"

enum hg_state {
	HG_UNINIT = 0,       /* nothing resolved yet */
	HG_INITIALIZING = 1, /* one thread is inside hg_init; others pass through */
	HG_ACTIVE = 2,       /* recording */
	HG_DISABLED = 3      /* pass-through for good (no ring, collector gone, or init failed) */
};

extern int hg_state;         /* enum hg_state; read relaxed on the fast path */
extern uint32_t hg_self_pid; /* getpid() of this process, refreshed in the fork child */

/* Whether this is a vfork child: another process running in our memory (hg_self_pid is still
 * the parent's) until it execs or exits. What it does is not ours to record, and what it
 * takes from our memory the parent never gets back. */
static inline int hg_in_vfork_child(void)
{
	return (uint32_t)syscall(SYS_getpid) != hg_self_pid;
}

/* The ring's clock (hg_clock.h), copied from its header when the shim attaches. */
extern struct hg_ring_clock hg_clock;

/* Now on the ring's clock: every record's time. CLOCK_MONOTONIC before a ring is attached. */
static inline uint64_t hg_now_ns(void)
{
	return hg_clock_now(&hg_clock);
}

/*
 * Bring the shim up: resolve the real allocator, attach to the ring (or create one and a
 * collector in bare mode), write the PROCESS and MODULE records. Safe to call from any entry
 * point; only the first caller works, the others return at once. Before the C library has set
 * up the environment it only resolves the real functions and returns, leaving hg_state at
 * HG_UNINIT so that a later call finishes the job.
 */
void hg_init(void);

struct hg_caller;

/* The process is ending: take the exit snapshot unless HEAPGRAPH_SNAPSHOT=0. Guard held. */
void hg_exit_snapshot(const struct hg_caller *c);

/* Stop recording for good; later calls pass straight through. `why` goes to the debug log. */
void hg_disable(const char *why);

/* Make sure this thread's slot is handed back when the thread exits. */
void hg_thread_register_exit(void);

/*
 * Write an HG_REC_EXIT for exit()/_exit() with this code. With sync, in the process that
 * started a bare-mode collector, also wait for the trace to be on disk (the process is about
 * to end with no destructors run). Then give the thread's ring slot back. Caller holds the
 * guard.
 */
void hg_record_exit(int code, int sync);

/* Whether the program's malloc is another than ours (shim.c): one the executable, or a library
 * ahead of us in the lookup order, defines is called in our place, and we see none of its
 * blocks. */
int hg_malloc_is_foreign(void);

/* The at_quick_exit handler (shim.c): after quick_exit(code), the exit snapshot and the EXIT
 * record with that code. Registered at start-up, so that it runs after the program's. */
void hg_at_quick_exit(void);

/* Write an HG_REC_EXIT for child `pid`, which this process reaped: it exited with `status`, or
 * a signal numbered `status` killed it (`killed`). Caller holds the guard. */
void hg_record_reaped(pid_t pid, int killed, int status);

#endif /* HG_LIFECYCLE_H */
