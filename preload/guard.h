/*
 * guard.h - per-thread shim state and the re-entrancy guard
 *
 * Every interposed entry point checks `hg_tls.busy` before doing any work of its own. While it is
 * set, the thread is already inside the shim (unwinding, writing the ring, initialising, or a
 * signal handler that interrupted us), and a nested allocation goes straight to the real
 * allocator, unrecorded: recording it could recurse without end or corrupt a half-written record.
 * Nested calls made by code the shim itself called (libunwind, the loader) are expected; any
 * other nested call comes from a signal handler that interrupted the shim, and is counted as a
 * lost event so the trace says so.
 * The variable uses the initial-exec TLS model so that reading it never calls __tls_get_addr,
 * which may itself allocate.
 *
 * Runs in: any interposed call, fork child handler, thread-exit destructor.
 */
#ifndef HG_GUARD_H
#define HG_GUARD_H

#include <stdint.h>

#include "hg_compiler.h"
#include "hg_format.h"

enum hg_moved {
	HG_MOVED_NOT = 0,      /* in its own slot, or nowhere that matters */
	HG_MOVED_OVERFLOW = 1, /* in the shared overflow slot */
	HG_MOVED_GAVE_BACK = 2 /* in a slot it has given back */
};

enum hg_holding {
	HG_HOLD_NONE = 0,
	HG_HOLD_SLOT = 1,    /* through its own slot's stall_ns */
	HG_HOLD_OVERFLOW = 2 /* through the overflow slot's, whose lock it keeps meanwhile */
};

struct hg_thread {
	int busy;                  /* 1 while this thread runs shim code */
	int internal;              /* > 0 while shim code calls out to code that may allocate
				      (libunwind, the loader, pthread keys): nested calls then
				      are ours; any other nested call is a signal handler's */
	uint32_t tid;              /* kernel thread id, 0 until first needed */
	struct hg_ring_slot *slot; /* owned ring slot, NULL before the first record */
	uint8_t *data;             /* slot's data area */
	uint64_t head;             /* bytes this thread has published in its slot */
	uint64_t tail_cache;       /* last tail seen; the slot has room up to tail_cache + window */
	uint32_t window;           /* the slot's window (hg_format.h): bytes of it in use */
	uint64_t wait_since_ns;    /* when the thread first waited for room lately, 0: not */
	uint64_t wait_head;        /* its head then */
	uint64_t wait_ns;          /* how long it has waited since */
	uint32_t waits;            /* and how many times */
	uint64_t lost_events;      /* events given up on, not yet added to the slot */
	int moved;                 /* enum hg_moved: where this thread's last records are, when
				      the next ones, elsewhere, must wait for them to be in the
				      file (ring.c, keep_order) */
	struct walk_state *walk;   /* the stack walker's state (walk.c), NULL before the first */
	int holding;               /* enum hg_holding: hg_ring_hold(_stream) is keeping the
				      horizon below a record to come */
	int in_progmaps;           /* changing the table of the program's mappings (progmaps.c) */
};

extern __thread struct hg_thread hg_tls __attribute__((tls_model("initial-exec")));

/* Bracket a call from shim code into code that may allocate (see hg_thread.internal). */
#define HG_INTERNAL(call)                                                                     \
	do {                                                                                  \
		hg_tls.internal++;                                                            \
		call;                                                                         \
		hg_tls.internal--;                                                            \
	} while (0)

#endif /* HG_GUARD_H */
