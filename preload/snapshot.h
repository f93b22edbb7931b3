/*
 * snapshot.h - record the roots and the pointers between live blocks: a heap snapshot
 *
 * Runs in: the exit path (destructor, _exit), heapgraph_snapshot(), the snapshot signal.
 */
#ifndef HG_SNAPSHOT_H
#define HG_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "hg_format.h"

#define HG_WORLD_CALLER_REGS 23

/*
 * The calling thread's state at the moment the program handed control to the shim: its stack
 * pointer there (our own frames below it are not scanned: they hold nothing of the program's)
 * and the registers that may still hold the program's pointers.
 */
struct hg_caller {
	uint64_t sp;
	uint64_t regs[HG_WORLD_CALLER_REGS];
	uint32_t n_regs;
};

/*
 * Stop the other threads, write SNAPSHOT, REGION, WORDS and SNAPSHOT_END records (see
 * hg_format.h) for this process, and let the threads go. Caller holds the guard. Does nothing
 * when tracing is off or the thread cannot get a ring slot of its own. A call made while
 * another thread takes a snapshot waits for it to end, then takes its own.
 */
void hg_snapshot_take(enum hg_snapshot_reason why, const char *label, const struct hg_caller *c);

/* In the fork child: no snapshot is under way (its taker, if any, was another thread). */
void hg_snapshot_fork_child(void);

/* Fill c with the caller's stack pointer and callee-saved registers. Always inline. */
#define HG_CALLER_CAPTURE(c)                                                                  \
	do {                                                                                  \
		__asm__ volatile("movq %%rbx, 0(%0)\n\tmovq %%rbp, 8(%0)\n\t"                 \
				 "movq %%r12, 16(%0)\n\tmovq %%r13, 24(%0)\n\t"               \
				 "movq %%r14, 32(%0)\n\tmovq %%r15, 40(%0)"                   \
				 : : "r"((c)->regs) : "memory");                              \
		(c)->n_regs = 6;                                                              \
		(c)->sp = (uint64_t)(uintptr_t)__builtin_frame_address(0);                    \
	} while (0)

/*
 * Whether this process image has recorded an allocation, or inherited recorded blocks from its
 * parent through fork (the variable is copied with the rest of memory; an exec'd image starts
 * at 0). A snapshot of an image without one writes its regions but looks for no pointers: no
 * word can lead to a block the trace knows (a shell loop's 200 /bin/true wrote 142 pointer
 * words each, 93% of the loop's). The allocation path sets it once and only reads it after.
 */
extern int hg_snapshot_blocks_recorded;

/* Install the HEAPGRAPH_SNAPSHOT_SIGNAL handler when that variable names a signal. */
void hg_snapshot_signal_init(void);

/*
 * A snapshot signal that arrived while its thread was inside the shim (which cannot be
 * interrupted by a snapshot: it may hold the ring or be inside malloc) is remembered here and
 * taken by the first thread to leave the shim (hg_snapshot_run_pending). 0: none pending.
 */
extern uint64_t hg_snapshot_pending;

/* Take the pending snapshot, if any. Call with the guard released, from the shim's exit. */
void hg_snapshot_run_pending(void);

/*
 * The process is ending: from now on snapshot requests by signal (HEAPGRAPH_SNAPSHOT_SIGNAL,
 * periodic ones) are dropped, a pending one too. The exit snapshot is the last word; one
 * deferred until the exit path left the shim came after the EXIT record.
 */
void hg_snapshot_close_requests(void);

#endif /* HG_SNAPSHOT_H */
