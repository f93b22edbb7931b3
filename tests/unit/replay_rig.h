/*
 * replay_rig.h - the trace under construction that the replay's tests (check_replay*.c) share
 *
 * One fx_replay_rig, opened and closed around each test by the checked fixture rr_setup and
 * rr_teardown, and the short builders and checks the tests are written with. Times are offsets
 * from T, an arbitrary CLOCK_MONOTONIC value; A to Y are the addresses of the tests' blocks.
 * Include this header last: its one-letter macros would rename anything declared after them.
 */
#ifndef HG_TEST_REPLAY_RIG_H
#define HG_TEST_REPLAY_RIG_H

#include <stdint.h>

#include "fixtures.h"

struct hg_image;
struct hg_replay;

#define T 1000000000000ull

/* Addresses of the blocks in the tests. */
#define A 0x10000ull
#define B 0x20000ull
#define C 0x30000ull
#define D 0x40000ull
#define E 0x50000ull
#define F 0x60000ull
#define X 0x70000ull
#define Y 0x80000ull

/* The current test's trace: rr_rig.b collects records, rr_rig.r holds the replay once run. */
extern struct fx_replay_rig rr_rig;

/* The checked fixture: a fresh rig with trace file r.hgt, and everything released after. */
void rr_setup(void);
void rr_teardown(void);

/* Write the records built so far as one block of (pid, tid). */
void rr_block(uint32_t pid, uint32_t tid);
/* Close the trace and replay it; fails the test on error. */
struct hg_replay *rr_replay(void);

/* A PROCESS record (64 frames at most) and a malloc's ALLOC, appended to rr_rig.b. */
void rr_process(uint16_t flags, uint64_t t, uint32_t pid, uint32_t ppid, const char *cmd,
		uint32_t cmd_bytes, const char *exe);
void rr_alloc(uint64_t t, uint64_t addr, uint64_t size, uint32_t stack);
/* A collector's HORIZON at t, written at once as a block of its own (pid 0). */
void rr_horizon(uint64_t t);

/* Fail the test unless site id of im has these counts. */
void rr_expect_site(const struct hg_image *im, uint32_t id, uint64_t live_bytes,
		    uint64_t live_blocks, uint64_t allocations, uint64_t allocated_bytes);
/* Fail the test unless the block at addr is live in im with this size and stack. */
void rr_expect_live(const struct hg_image *im, uint64_t addr, uint64_t size, uint32_t stack);
/* Whether a block at addr is live in im. */
int rr_is_live(const struct hg_image *im, uint64_t addr);

#endif /* HG_TEST_REPLAY_RIG_H */
