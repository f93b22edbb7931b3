/*
 * world.h - stop every other thread of the process, read their registers, let them go
 *
 * Runs in: the snapshotting thread (exit path, heapgraph_snapshot, the snapshot signal).
 */
#ifndef HG_WORLD_H
#define HG_WORLD_H

#include <stdint.h>

#define HG_WORLD_MAX_THREADS 4096
#define HG_WORLD_NREGS 23 /* general registers of x86-64 ucontext (gregs) */

struct hg_world_thread {
	uint32_t tid;
	int stopped;                    /* parked in our handler: sp and regs are valid */
	int blocks_stop;                /* at both looks (see hg_world_stop) its mask blocked the
					   stop signal, or it slept in a call the signal would cut
					   short: not sent it, not stopped */
	uint64_t sigblk;                /* its SigBlk when listed (bit N-1: signal N blocked) */
	int in_wait;                    /* when listed, asleep in a call the signal cuts short */
	uint64_t sp;                    /* its stack pointer when it stopped */
	uint64_t tcb;                   /* its thread descriptor (%fs:0) when it stopped */
	uint64_t regs[HG_WORLD_NREGS];  /* its general registers when it stopped */
};

struct hg_world {
	struct hg_world_thread *thread; /* HG_WORLD_MAX_THREADS entries (arena), self excluded */
	uint32_t n;                     /* other threads found */
	int complete;                   /* the list is all of them: the task directory was read
					   to its end, and they fitted */
	uint32_t n_stopped;             /* of which parked */
};

/*
 * Stop every other thread: each gets a real-time signal whose handler records its registers
 * and waits. Threads whose mask blocks the signal (read from their status before sending, and
 * again after waiting for the others) are not sent it and are marked not stopped without
 * being waited for; those that do not answer within a second are left running, marked not
 * stopped.
 * Threads that exited are not listed. Needs w->thread allocated by the caller. Returns 0, or
 * -1 when the handler cannot be installed, the program handling every real-time signal from
 * SIGRTMAX-2 down to SIGRTMIN+2 itself (nothing is stopped then; w->n still lists the threads).
 */
int hg_world_stop(struct hg_world *w);

/*
 * Let the stopped threads go and wait until they left the handler. The handler stays installed
 * (a thread that blocked the signal after its mask was read gets it later and must not die of
 * it).
 */
void hg_world_resume(struct hg_world *w);

#endif /* HG_WORLD_H */
