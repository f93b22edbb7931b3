/*
 * check_replay.c - unit tests for the heap replay (analyzer/replay.c)
 *
 * Every test writes a synthetic trace with the real writer, from records built by hand, and
 * checks hg_replay_file's result field by field. Times are offsets from T, an arbitrary
 * CLOCK_MONOTONIC value; peak times are relative to the image's PROCESS record. Blocks are
 * written in the order a collector could produce them, which is not always time order.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "replay.h"
#include "trace_reader.h"
#include "trace_writer.h"

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

static struct fx_replay_rig g;

static void setup(void)
{
	fx_replay_rig_open(&g, "r.hgt");
}

static void teardown(void)
{
	fx_replay_rig_close(&g);
}

/* Write the records built so far as one block of (pid, tid). */
static void block(uint32_t pid, uint32_t tid)
{
	fx_replay_rig_block(&g, pid, tid);
}

/* Close the trace and replay it. */
static struct hg_replay *replay(void)
{
	return fx_replay_rig_run(&g, 0, 0);
}

static void process(uint16_t flags, uint64_t t, uint32_t pid, uint32_t ppid, const char *cmd,
		    uint32_t cmd_bytes, const char *exe)
{
	fx_process(&g.b, flags, t, pid, ppid, cmd, cmd_bytes, exe, 64);
}

static void alloc(uint64_t t, uint64_t addr, uint64_t size, uint32_t stack)
{
	fx_alloc(&g.b, t, addr, size, stack, HG_FN_MALLOC);
}

static void expect_site(const struct hg_image *im, uint32_t id, uint64_t live_bytes,
			uint64_t live_blocks, uint64_t allocations, uint64_t allocated_bytes)
{
	ck_assert_uint_lt(id, im->n_sites);
	ck_assert_uint_eq(im->sites[id].live_bytes, live_bytes);
	ck_assert_uint_eq(im->sites[id].live_blocks, live_blocks);
	ck_assert_uint_eq(im->sites[id].allocations, allocations);
	ck_assert_uint_eq(im->sites[id].allocated_bytes, allocated_bytes);
}

static void expect_live(const struct hg_image *im, uint64_t addr, uint64_t size, uint32_t stack)
{
	struct hg_live v;

	ck_assert_msg(hg_image_live_get(im, addr, &v), "block %#llx not live in pid %u",
		      (unsigned long long)addr, im->pid);
	ck_assert_uint_eq(v.size_bytes, size);
	ck_assert_uint_eq(v.stack_id, stack);
}

static int is_live(const struct hg_image *im, uint64_t addr)
{
	struct hg_live v;

	return hg_image_live_get(im, addr, &v);
}

/* ---- totals, sites, stacks -------------------------------------------------------------- */

/* _i: 0 stored blocks, 1 zstd-packed blocks; the replay must not care. */
START_TEST(test_replay_totals_sites_and_stacks)
{
	static const uint64_t ip1[2] = { 0x1000, 0x2000 }, ip2[1] = { 0x3000 };
	const struct hg_trace_header *h;
	struct hg_trace_reader *rd;
	const struct hg_stack *st;
	struct hg_image *im;

	if (_i) {
		hg_trace_writer_close(g.w);
		g.w = hg_trace_writer_open(g.path, 3);
		ck_assert_ptr_nonnull(g.w);
	}
	process(0, T, 100, 1, "prog\0-x\0", 8, "/usr/bin/prog");
	fx_stack(&g.b, 1, 2, ip1);
	fx_stack(&g.b, 2, 1, ip2);
	alloc(T + 10, A, 100, 1);
	alloc(T + 20, B, 200, 2);
	fx_free(&g.b, T + 30, A);
	alloc(T + 40, C, 50, 1);
	fx_free(&g.b, T + 50, X); /* never allocated */
	alloc(T + 60, D, 10, 2);
	block(100, 100);
	replay();

	ck_assert_uint_eq(g.r->n_images, 1);
	ck_assert_uint_eq(g.r->n_records, 9 + 1); /* and the END record */
	ck_assert_ptr_null(g.r->damage);
	ck_assert_uint_eq(g.r->lost_events, 0);
	ck_assert_str_eq(g.r->path, g.path);
	rd = hg_trace_reader_open(g.path);
	ck_assert_ptr_nonnull(rd);
	h = hg_trace_reader_header(rd);
	ck_assert_uint_eq(g.r->t0_ns, h->created_mono_ns);
	hg_trace_reader_close(rd);

	im = g.r->images[0];
	ck_assert_uint_eq(im->pid, 100);
	ck_assert_uint_eq(im->ppid, 1);
	ck_assert_int_eq(im->forked, 0);
	ck_assert_int_eq(im->exec, 0);
	ck_assert_int_eq(im->bare, 0);
	ck_assert_str_eq(im->command, "prog -x");
	ck_assert_str_eq(im->exe, "/usr/bin/prog");
	ck_assert_uint_eq(im->max_frames, 64);
	ck_assert_uint_eq(im->t_start_ns, T);
	ck_assert_ptr_null(im->parent);
	ck_assert_int_eq(im->end_kind, HG_END_UNKNOWN);

	ck_assert_uint_eq(im->totals.allocations, 4);
	ck_assert_uint_eq(im->totals.frees, 1);
	ck_assert_uint_eq(im->totals.allocated_bytes, 360);
	ck_assert_uint_eq(im->totals.peak_bytes, 300);
	ck_assert_uint_eq(im->totals.peak_time_ns, 20);
	ck_assert_uint_eq(im->totals.live_bytes, 260);
	ck_assert_uint_eq(im->totals.live_blocks, 3);
	ck_assert_uint_eq(im->totals.lost_events, 0);
	ck_assert_uint_eq(im->totals.unknown_frees, 1);

	expect_site(im, 0, 0, 0, 0, 0);
	expect_site(im, 1, 50, 1, 2, 150);
	expect_site(im, 2, 210, 2, 2, 210);
	ck_assert_uint_eq(im->live.n, 3);
	expect_live(im, B, 200, 2);
	expect_live(im, C, 50, 1);
	expect_live(im, D, 10, 2);
	ck_assert(!is_live(im, A));

	st = hg_image_stack(im, 1);
	ck_assert_ptr_nonnull(st);
	ck_assert_uint_eq(st->n_frames, 2);
	ck_assert_mem_eq(st->ip, ip1, sizeof(ip1));
	st = hg_image_stack(im, 2);
	ck_assert_ptr_nonnull(st);
	ck_assert_uint_eq(st->n_frames, 1);
	ck_assert_uint_eq(st->ip[0], 0x3000);
	ck_assert_ptr_null(hg_image_stack(im, 0));
	ck_assert_ptr_null(hg_image_stack(im, 3));
	ck_assert_ptr_null(hg_image_stack(im, 1000));
}
END_TEST

START_TEST(test_replay_bare_flag_and_empty_cmdline)
{
	struct hg_image *im;

	process(HG_PROCESS_BARE, T, 7, 6, "", 0, "/bin/true");
	block(7, 7);
	replay();
	ck_assert_uint_eq(g.r->n_images, 1);
	im = g.r->images[0];
	ck_assert_int_eq(im->bare, 1);
	ck_assert_str_eq(im->command, "");
	ck_assert_str_eq(im->exe, "/bin/true");
	ck_assert_uint_eq(im->totals.peak_bytes, 0);
}
END_TEST

/* An allocation at an address already live: its free was never seen. */
START_TEST(test_replay_alloc_over_live_block)
{
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	alloc(T + 10, A, 100, 1);
	alloc(T + 20, A, 30, 2);
	block(100, 100);
	replay();
	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 2);
	ck_assert_uint_eq(im->totals.allocated_bytes, 130);
	ck_assert_uint_eq(im->totals.frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 1);
	ck_assert_uint_eq(im->totals.live_bytes, 30);
	ck_assert_uint_eq(im->totals.peak_bytes, 100);
	ck_assert_uint_eq(im->totals.peak_time_ns, 10);
	expect_site(im, 1, 0, 0, 1, 100);
	expect_site(im, 2, 30, 1, 1, 30);
	expect_live(im, A, 30, 2);
}
END_TEST

/*
 * The live map keeps a block's size in 32 bits and a larger one apart: sizes of 4 GiB and more
 * (and 2^32 - 1, where the two meet) come back whole, through an overwrite, a free and a fork.
 */
START_TEST(test_replay_blocks_of_4_gib_and_more)
{
	const uint64_t G = 1ull << 30, edge = 0xffffffffull;
	struct hg_image *im, *child;

	process(0, T, 100, 1, "p", 1, "/p");
	alloc(T + 10, A, 5 * G, 1);
	alloc(T + 20, B, edge, 2);
	alloc(T + 30, A, 100, 3); /* over the live 5 GiB: its free was never seen */
	alloc(T + 40, C, 6 * G, 1);
	alloc(T + 50, D, 7 * G, 2);
	alloc(T + 60, D, 8 * G, 2); /* a large one over a large one */
	fx_free(&g.b, T + 70, B);
	block(100, 100);
	process(HG_PROCESS_FORK, T + 80, 101, 100, "p", 1, "/p");
	block(101, 101);
	replay();
	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.allocated_bytes, 26 * G + edge + 100);
	ck_assert_uint_eq(im->totals.live_bytes, 14 * G + 100);
	ck_assert_uint_eq(im->totals.peak_bytes, 18 * G + 99); /* before the free of B */
	ck_assert_uint_eq(im->totals.live_blocks, 3);
	expect_live(im, A, 100, 3);
	expect_live(im, C, 6 * G, 1);
	expect_live(im, D, 8 * G, 2);
	ck_assert(!is_live(im, B));
	ck_assert_uint_eq(im->big_sizes.n, 2); /* C and D; A's and B's went with them */
	child = g.r->images[1];
	ck_assert_ptr_eq(child->parent, im);
	ck_assert_uint_eq(child->totals.live_bytes, 14 * G + 100);
	expect_live(child, C, 6 * G, 1);
	expect_live(child, D, 8 * G, 2);
}
END_TEST

START_TEST(test_replay_unknown_and_double_frees)
{
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	fx_free(&g.b, T + 5, X);
	alloc(T + 10, A, 8, 1);
	fx_free(&g.b, T + 20, A);
	fx_free(&g.b, T + 30, A);
	block(100, 100);
	replay();
	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 1);
	ck_assert_uint_eq(im->totals.frees, 1);
	ck_assert_uint_eq(im->totals.unknown_frees, 2);
	ck_assert_uint_eq(im->totals.live_blocks, 0);
	ck_assert_uint_eq(im->totals.live_bytes, 0);
	ck_assert_uint_eq(im->live.n, 0);
}
END_TEST

/* Records of a pid that never wrote a PROCESS record go to an image made up for it. */
START_TEST(test_replay_implicit_image)
{
	struct hg_image *im;

	alloc(T + 10, A, 5, 3);
	block(300, 301);
	replay();
	ck_assert_uint_eq(g.r->n_images, 1);
	im = g.r->images[0];
	ck_assert_uint_eq(im->pid, 300);
	ck_assert_uint_eq(im->t_start_ns, 0);
	ck_assert_str_eq(im->command, "");
	ck_assert_str_eq(im->exe, "");
	ck_assert_uint_eq(im->totals.allocations, 1);
	ck_assert_uint_eq(im->totals.peak_time_ns, T + 10);
}
END_TEST

/* ---- merging threads -------------------------------------------------------------------- */

/*
 * Thread 101 frees X and Y; thread 102 is then handed the same addresses. The collector wrote
 * thread 102's block first. Merged by time (frees first at equal times), the end state has
 * thread 102's blocks live.
 */
START_TEST(test_replay_cross_thread_free_then_reuse)
{
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	alloc(T + 10, X, 100, 1);
	alloc(T + 15, Y, 7, 1);
	block(100, 101);
	alloc(T + 60, X, 200, 2);
	alloc(T + 70, Y, 9, 2); /* same time as Y's free below */
	block(100, 102);
	fx_free(&g.b, T + 50, X);
	fx_free(&g.b, T + 70, Y);
	block(100, 101);
	replay();

	ck_assert_uint_eq(g.r->n_images, 1);
	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 4);
	ck_assert_uint_eq(im->totals.frees, 2);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 2);
	ck_assert_uint_eq(im->totals.live_bytes, 209);
	ck_assert_uint_eq(im->totals.peak_bytes, 209);
	ck_assert_uint_eq(im->totals.peak_time_ns, 70);
	expect_live(im, X, 200, 2);
	expect_live(im, Y, 9, 2);
	expect_site(im, 1, 0, 0, 2, 107);
	expect_site(im, 2, 209, 2, 2, 209);
}
END_TEST

static void horizon(uint64_t t)
{
	struct hg_rec_horizon h = { { HG_REC_HORIZON, 0, sizeof(h) }, t };

	fx_buf_put(&g.b, &h, sizeof(h));
	block(0, 0);
}

/*
 * Past a horizon events apply at once: thread 102's allocation of X at T+40, read after a
 * horizon of T+100 that thread 101's free of X at T+50 already passed, is late. The free left
 * an orphan note, so X counts as allocated and freed, not as live, and not as an unknown free.
 */
START_TEST(test_replay_horizon_late_allocation_repaired)
{
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	alloc(T + 10, A, 5, 1);
	fx_free(&g.b, T + 50, X);
	block(100, 101);
	horizon(T + 100);
	alloc(T + 40, X, 100, 2);
	alloc(T + 120, Y, 7, 2);
	block(100, 102);
	replay();

	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 3);
	ck_assert_uint_eq(im->totals.frees, 1);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 2);
	ck_assert_uint_eq(im->totals.live_bytes, 12);
	ck_assert(!is_live(im, X));
	expect_site(im, 2, 7, 1, 2, 107);
}
END_TEST

/*
 * One tick of rounded time: thread 101 allocates X twice (thread 102 freed it in between) and
 * Y once; thread 102 frees X twice and Y once, all at the same time. Frees sort first, so
 * 102's free of X comes up while X is not live: 101's events of that time that fit are taken
 * first, and every free finds its block. Nothing is unknown, nothing stays live.
 */
START_TEST(test_replay_same_tick_handovers)
{
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	alloc(T + 1000, X, 16, 2);
	alloc(T + 1000, X, 16, 2);
	alloc(T + 1000, Y, 32, 2);
	block(100, 101);
	fx_free(&g.b, T + 1000, X);
	fx_free(&g.b, T + 1000, X);
	fx_free(&g.b, T + 1000, Y);
	block(100, 102);
	replay();

	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 3);
	ck_assert_uint_eq(im->totals.frees, 3);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 0);
}
END_TEST

/*
 * A free of a block allocated before tracing began stays an unknown free when the address is
 * handed out again later: the orphan note is older than the new allocation.
 */
START_TEST(test_replay_orphan_free_then_real_reuse)
{
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	fx_free(&g.b, T + 50, X);
	block(100, 101);
	horizon(T + 100);
	alloc(T + 60, X, 100, 2);
	block(100, 102);
	replay();

	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.frees, 0);
	ck_assert_uint_eq(im->totals.unknown_frees, 1);
	ck_assert_uint_eq(im->totals.live_bytes, 100);
	expect_live(im, X, 100, 2);
}
END_TEST

/*
 * A horizon applies what it covers in time order across threads, before the window would:
 * the two threads' events interleave by time, so the peak is the true one (A and B live
 * together, 30 bytes, at T+20), not the sum of one thread's blocks read first.
 */
START_TEST(test_replay_horizon_merges_threads_in_time_order)
{
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	alloc(T + 10, A, 10, 1);
	fx_free(&g.b, T + 30, A);
	alloc(T + 40, C, 25, 1);
	block(100, 101);
	alloc(T + 20, B, 20, 2);
	fx_free(&g.b, T + 35, B);
	block(100, 102);
	horizon(T + 50);
	replay();

	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.peak_bytes, 30);
	ck_assert_uint_eq(im->totals.peak_time_ns, 20);
	ck_assert_uint_eq(im->totals.live_bytes, 25);
}
END_TEST

/*
 * A collector kept off the CPU for longer than the window drains it all in one pass, and one
 * thread's block of it comes before another's: thread 101 hands X over 300 times, one every
 * millisecond from T+10 ms, and thread 102 frees each a millisecond after it was allocated,
 * but 101's block is read first. Once the trace has a horizon the window does not apply
 * 101's events before 102's earlier ones are read: every free finds its block.
 */
START_TEST(test_replay_long_block_waits_for_horizon)
{
	const uint64_t ms = 1000000;
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	block(100, 100);
	horizon(T + 5 * ms);
	for (uint64_t i = 0; i < 300; i++)
		alloc(T + (10 + 2 * i) * ms, X, 16, 1);
	block(100, 101);
	for (uint64_t i = 0; i < 300; i++)
		fx_free(&g.b, T + (11 + 2 * i) * ms, X);
	block(100, 102);
	horizon(T + 700 * ms);
	replay();

	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, 300);
	ck_assert_uint_eq(im->totals.frees, 300);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 0);
	ck_assert_uint_eq(im->totals.peak_bytes, 16);
}
END_TEST

/*
 * One horizon, then 30 s of events and no other (a producer stopped while it waited for room
 * pins the collector's horizon): once the events are 10 s past it, the window applies again,
 * so no more than about 10 s of them ever wait, not the whole trace.
 */
START_TEST(test_replay_stale_horizon_bounds_waiting)
{
	const uint64_t ms = 1000000, n = 30000;
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	block(100, 100);
	horizon(T + 5 * ms);
	for (uint64_t i = 0; i < n; i++) {
		alloc(T + (10 + i) * ms, X + 16 * (i % 64), 16, 1);
		if (i >= 63)
			fx_free(&g.b, T + (10 + i) * ms, X + 16 * ((i - 63) % 64));
	}
	block(100, 101);
	replay();

	im = g.r->images[0];
	ck_assert_uint_eq(im->totals.allocations, n);
	ck_assert_uint_eq(im->totals.frees, n - 63);
	ck_assert_uint_eq(im->totals.unknown_frees, 0);
	ck_assert_uint_eq(im->totals.live_blocks, 63);
	/* 10 s of events wait at most: two a millisecond; the whole trace would be 59,937. */
	ck_assert_uint_le(g.r->max_waiting, 2 * 10000 + 2 * 300);
	ck_assert_uint_ge(g.r->max_waiting, 2 * 10000 - 2 * 300);
}
END_TEST

/* ---- processes: fork, exec, exit -------------------------------------------------------- */

/*
 * Parent 100 forks child 200 at T+30. The child starts with the parent's blocks live at that
 * moment: A and B; not F (freed at T+30: frees sort before the fork), not E (allocated at
 * T+30: allocations sort after it), not C (allocated later). The parent's free of A after the
 * fork does not touch the child's copy.
 */
START_TEST(test_replay_fork_child_inherits_live_blocks)
{
	static const uint64_t ip[1] = { 0xaaa };
	struct hg_image *parent, *child;
	const struct hg_stack *st;

	process(0, T, 100, 1, "parent", 6, "/bin/parent");
	fx_stack(&g.b, 1, 1, ip);
	alloc(T + 10, A, 100, 1);
	alloc(T + 20, B, 200, 1);
	alloc(T + 25, F, 1, 1);
	block(100, 100);
	process(HG_PROCESS_FORK, T + 30, 200, 100, "parent", 6, "/bin/parent");
	fx_free(&g.b, T + 45, B);
	alloc(T + 60, D, 400, 1);
	block(200, 200);
	fx_free(&g.b, T + 30, F);
	alloc(T + 30, E, 5, 1);
	fx_free(&g.b, T + 40, A);
	alloc(T + 50, C, 300, 1);
	block(100, 100);
	replay();

	ck_assert_uint_eq(g.r->n_images, 2);
	parent = g.r->images[0];
	child = g.r->images[1];
	ck_assert_uint_eq(parent->pid, 100);
	ck_assert_uint_eq(child->pid, 200);
	ck_assert_uint_eq(child->ppid, 100);
	ck_assert_int_eq(child->forked, 1);
	ck_assert_int_eq(child->exec, 0);
	ck_assert_ptr_eq(child->parent, parent);
	ck_assert_uint_eq(child->t_start_ns, T + 30);

	ck_assert_uint_eq(parent->totals.allocations, 5);
	ck_assert_uint_eq(parent->totals.allocated_bytes, 606);
	ck_assert_uint_eq(parent->totals.frees, 2);
	ck_assert_uint_eq(parent->totals.live_blocks, 3);
	ck_assert_uint_eq(parent->totals.live_bytes, 505);
	ck_assert_uint_eq(parent->totals.peak_bytes, 505);
	ck_assert_uint_eq(parent->totals.peak_time_ns, 50);

	ck_assert_uint_eq(child->totals.allocations, 1);
	ck_assert_uint_eq(child->totals.allocated_bytes, 400);
	ck_assert_uint_eq(child->totals.frees, 1);
	ck_assert_uint_eq(child->totals.unknown_frees, 0);
	ck_assert_uint_eq(child->totals.live_blocks, 2);
	ck_assert_uint_eq(child->totals.live_bytes, 500);
	ck_assert_uint_eq(child->totals.peak_bytes, 500);
	ck_assert_uint_eq(child->totals.peak_time_ns, 30);
	expect_live(child, A, 100, 1);
	expect_live(child, D, 400, 1);
	ck_assert(!is_live(child, B));
	ck_assert(!is_live(child, C));
	ck_assert(!is_live(child, E));
	ck_assert(!is_live(child, F));
	expect_site(child, 1, 500, 2, 1, 400);

	/* The child uses the parent's stack ids. */
	st = hg_image_stack(child, 1);
	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_eq(st, hg_image_stack(parent, 1));
	ck_assert_uint_eq(st->ip[0], 0xaaa);
}
END_TEST

/*
 * pid 100 runs /bin/sh, which execs /usr/bin/prog at T+100: a second image of the same pid
 * with the exec flag, its own stacks and an empty heap; the first image ends with HG_END_EXEC.
 */
START_TEST(test_replay_exec_starts_new_image)
{
	static const uint64_t ip_sh[1] = { 0x111 }, ip_prog[2] = { 0x222, 0x333 };
	struct hg_image *sh, *prog;

	process(0, T, 100, 1, "sh\0-c\0x\0", 8, "/bin/sh");
	fx_stack(&g.b, 1, 1, ip_sh);
	alloc(T + 10, A, 100, 1);
	process(0, T + 100, 100, 1, "prog\0", 5, "/usr/bin/prog");
	fx_stack(&g.b, 1, 2, ip_prog);
	alloc(T + 110, B, 50, 1);
	fx_free(&g.b, T + 120, A); /* the old image's block: unknown here */
	fx_exit(&g.b, T + 200, 100, 0, HG_EXIT_CALL);
	block(100, 100);
	replay();

	ck_assert_uint_eq(g.r->n_images, 2);
	sh = g.r->images[0];
	prog = g.r->images[1];
	ck_assert_str_eq(sh->command, "sh -c x");
	ck_assert_int_eq(sh->exec, 0);
	ck_assert_int_eq(sh->end_kind, HG_END_EXEC);
	ck_assert_uint_eq(sh->totals.allocations, 1);
	ck_assert_uint_eq(sh->totals.live_bytes, 100);
	ck_assert_uint_eq(hg_image_stack(sh, 1)->ip[0], 0x111);

	ck_assert_uint_eq(prog->pid, 100);
	ck_assert_int_eq(prog->exec, 1);
	ck_assert_int_eq(prog->forked, 0);
	ck_assert_ptr_null(prog->parent);
	ck_assert_str_eq(prog->command, "prog");
	ck_assert_str_eq(prog->exe, "/usr/bin/prog");
	ck_assert_uint_eq(prog->t_start_ns, T + 100);
	ck_assert_int_eq(prog->end_kind, HG_END_CODE);
	ck_assert_int_eq(prog->exit_status, 0);
	ck_assert_uint_eq(prog->totals.allocations, 1);
	ck_assert_uint_eq(prog->totals.frees, 0);
	ck_assert_uint_eq(prog->totals.unknown_frees, 1);
	ck_assert_uint_eq(prog->totals.live_bytes, 50);
	ck_assert_uint_eq(prog->totals.peak_time_ns, 10);
	ck_assert_uint_eq(hg_image_stack(prog, 1)->n_frames, 2);
	ck_assert_mem_eq(hg_image_stack(prog, 1)->ip, ip_prog, sizeof(ip_prog));
}
END_TEST

/*
 * The fork child's block reaches the file before any of its parent's (the collector drained
 * the child's ring slot first): the child still starts with the parent's blocks as they were
 * at the fork, and its free of one of them is no unknown free.
 */
START_TEST(test_replay_fork_child_written_before_its_parent)
{
	static const uint64_t ip[1] = { 0xbbb };
	struct hg_image *parent, *child;

	process(HG_PROCESS_FORK, T + 30, 200, 100, "sh\0", 3, "/bin/sh");
	fx_free(&g.b, T + 40, A);
	alloc(T + 50, C, 300, 1);
	block(200, 200);
	process(0, T, 100, 1, "sh\0", 3, "/bin/sh");
	fx_stack(&g.b, 1, 1, ip);
	alloc(T + 10, A, 100, 1);
	alloc(T + 20, B, 200, 1);
	alloc(T + 35, D, 400, 1); /* after the fork: the parent's alone */
	block(100, 100);
	replay();

	ck_assert_uint_eq(g.r->n_images, 2);
	parent = g.r->images[0]; /* listed by start, though the child was read first */
	child = g.r->images[1];
	ck_assert_uint_eq(child->pid, 200);
	ck_assert_uint_eq(child->file_order, 0);
	ck_assert_uint_eq(parent->file_order, 1);
	ck_assert_ptr_eq(child->parent, parent);
	ck_assert_uint_eq(child->totals.unknown_frees, 0);
	ck_assert_uint_eq(child->totals.frees, 1);
	ck_assert_uint_eq(child->totals.live_blocks, 2);
	ck_assert_uint_eq(child->totals.live_bytes, 500);
	expect_live(child, B, 200, 1);
	expect_live(child, C, 300, 1);
	ck_assert(!is_live(child, A));
	ck_assert(!is_live(child, D));
	ck_assert_uint_eq(parent->totals.live_blocks, 3);
	/* Its stack ids resolve through the parent found late. */
	ck_assert_ptr_nonnull(hg_image_stack(child, 1));
}
END_TEST

#define M_FORK 0x7f0000000000ull /* a mapping of the parent's in the fork tests */

static void fork_side(uint64_t t)
{
	struct hg_rec_fork f = { { HG_REC_FORK, 0, sizeof(f) }, t };

	fx_buf_put(&g.b, &f, sizeof(f));
}

/*
 * The child's PROCESS record comes after a horizon past the fork (the child was not scheduled
 * for that long), and the parent freed B after the fork: the parent's side of the fork
 * (HG_REC_FORK at T+30, in its own block in time) kept the heap as it was then, so the child
 * still has B, and frees it as its own. Without that side (older traces) the child copies
 * the parent late, lacks B, and its free is unknown.
 */
START_TEST(test_replay_fork_child_late_gets_the_heap_at_the_fork)
{
	static const uint64_t ip[1] = { 0xccc };
	struct hg_image *parent, *child;

	process(0, T, 100, 1, "sh\0", 3, "/bin/sh");
	fx_stack(&g.b, 1, 1, ip);
	alloc(T + 10, A, 100, 1);
	fx_mmap(&g.b, T + 15, M_FORK, 1u << 20, 1);
	alloc(T + 20, B, 200, 1);
	if (_i)
		fork_side(T + 30);
	fx_free(&g.b, T + 35, B);
	fx_munmap(&g.b, T + 35, M_FORK, 1u << 20); /* the parent's: the child keeps its copy */
	alloc(T + 36, C, 300, 1); /* after the fork: not the child's */
	fx_mmap(&g.b, T + 37, M_FORK + (4u << 20), 1u << 20, 1); /* nor this */
	block(100, 100);
	horizon(T + 40);
	process(HG_PROCESS_FORK, T + 30, 200, 100, "sh\0", 3, "/bin/sh");
	fx_free(&g.b, T + 50, B);
	fx_munmap(&g.b, T + 50, M_FORK, 1u << 20);
	block(200, 200);
	replay();

	ck_assert_uint_eq(g.r->n_images, 2);
	parent = g.r->images[0];
	child = g.r->images[1];
	ck_assert_ptr_eq(child->parent, parent);
	ck_assert_uint_eq(parent->totals.live_blocks, 2);
	ck_assert_uint_eq(parent->mmap.ranges.n, 1);
	if (_i) {
		ck_assert_uint_eq(child->totals.unknown_frees, 0);
		ck_assert_uint_eq(child->totals.frees, 1);
		ck_assert_uint_eq(child->totals.live_blocks, 1);
		expect_live(child, A, 100, 1);
		ck_assert(!is_live(child, C));
		/* Its copy of the mapping, unmapped as its own; not the parent's later one. */
		ck_assert_uint_eq(child->mmap.unmaps, 1);
		ck_assert_uint_eq(child->mmap.ranges.n, 0);
	} else {
		ck_assert_uint_eq(child->totals.unknown_frees, 1);
		ck_assert(is_live(child, C)); /* the parent as it stood when the copy was made */
		ck_assert_uint_eq(child->mmap.ranges.n, 1);
		ck_assert_uint_eq(child->mmap.ranges.v[0].lo, M_FORK + (4u << 20));
	}
	ck_assert(!is_live(child, B));
	/* How high the blocks reached: the child's from the parent's at the same moment as its
	 * heap; the parent's mark stays at C although B, below it, was freed. */
	ck_assert_uint_eq(hg_heaptop_high(&child->heaptop, 0, 1ull << 26), _i ? B + 200 : C + 300);
	ck_assert_uint_eq(hg_heaptop_high(&parent->heaptop, 0, 1ull << 26), C + 300);
}
END_TEST

/*
 * Both sides of a fork on time, the child's read first: it copies the parent at the fork,
 * and the parent's side, applied after it at the same time, copies nothing more.
 */
START_TEST(test_replay_fork_child_side_first)
{
	static const uint64_t ip[1] = { 0xddd };
	struct hg_image *child;

	process(HG_PROCESS_FORK, T + 30, 200, 100, "sh\0", 3, "/bin/sh");
	fx_free(&g.b, T + 50, A);
	block(200, 200);
	process(0, T, 100, 1, "sh\0", 3, "/bin/sh");
	fx_stack(&g.b, 1, 1, ip);
	alloc(T + 10, A, 100, 1);
	fork_side(T + 30);
	alloc(T + 40, B, 200, 1);
	block(100, 100);
	replay();

	child = g.r->images[1];
	ck_assert_uint_eq(child->pid, 200);
	ck_assert_uint_eq(child->totals.unknown_frees, 0);
	ck_assert_uint_eq(child->totals.frees, 1);
	ck_assert_uint_eq(child->totals.live_blocks, 0);
	ck_assert_uint_eq(g.r->images[0]->totals.live_blocks, 2);
	/* A, freed by the child, still marks how high its blocks reached; B came after the fork */
	ck_assert_uint_eq(hg_heaptop_high(&child->heaptop, 0, 1ull << 26), A + 100);
	ck_assert_uint_eq(hg_heaptop_high(&g.r->images[0]->heaptop, 0, 1ull << 26), B + 200);
}
END_TEST

static void snapshot(uint64_t t, uint32_t id, const char *label)
{
	uint32_t label_bytes = (uint32_t)strlen(label) + 1;
	struct hg_rec_snapshot r = { { HG_REC_SNAPSHOT, HG_SNAP_CALL,
				       hg_rec_align(sizeof(r) + label_bytes) }, t, id, label_bytes,
				     1, 1 };
	static const uint8_t zero[8];

	fx_buf_put(&g.b, &r, sizeof(r));
	fx_buf_put(&g.b, label, label_bytes);
	fx_buf_put(&g.b, zero, r.hdr.size_bytes - sizeof(r) - label_bytes);
}

/*
 * A snapshot keeps how high the blocks had reached at its moment: C, freed before it, still
 * counts; D, allocated after it, does not (the image's own mark goes on to D).
 */
START_TEST(test_replay_snapshot_keeps_heaptop_of_its_moment)
{
	const struct hg_snapshot *sn;
	struct hg_image *im;

	process(0, T, 100, 1, "p", 1, "/p");
	alloc(T + 10, A, 100, 0);
	alloc(T + 20, C, 300, 0);
	fx_free(&g.b, T + 25, C);
	snapshot(T + 30, 1, "mid");
	alloc(T + 40, D, 400, 0);
	block(100, 100);
	replay();

	im = g.r->images[0];
	ck_assert_uint_eq(im->n_snapshots, 1);
	sn = im->snapshots[0];
	ck_assert_str_eq(sn->label, "mid");
	ck_assert_int_eq(sn->have_blocks, 1);
	ck_assert_uint_eq(sn->n_blocks, 1);
	ck_assert_uint_eq(sn->blocks[0].addr, A);
	ck_assert_uint_eq(hg_heaptop_high(&sn->heaptop, 0, 1ull << 26), C + 300);
	ck_assert_uint_eq(hg_heaptop_high(&im->heaptop, 0, 1ull << 26), D + 400);
}
END_TEST

/*
 * pid 200 is a fork child of pid 100 (T+10) that execs /usr/bin/prog at T+50. The exec'd
 * image writes to another ring slot than the fork child, and here its block reaches the file
 * first: the images still follow start times. prog is the exec'd one and has its allocations,
 * the fork child ends with HG_END_EXEC and keeps its own.
 */
START_TEST(test_replay_exec_written_before_its_fork)
{
	static const uint64_t ip[1] = { 0x111 };
	struct hg_image *parent, *child, *prog;

	process(0, T, 100, 1, "sh\0", 3, "/bin/sh");
	fx_stack(&g.b, 1, 1, ip);
	block(100, 100);
	process(0, T + 50, 200, 100, "prog\0", 5, "/usr/bin/prog"); /* the exec'd image, first */
	fx_stack(&g.b, 1, 1, ip);
	alloc(T + 60, B, 50, 1);
	alloc(T + 70, C, 60, 1);
	block(200, 201);
	process(HG_PROCESS_FORK, T + 10, 200, 100, "sh\0", 3, "/bin/sh"); /* its fork, later */
	alloc(T + 20, A, 100, 1);
	block(200, 200);
	replay();

	ck_assert_uint_eq(g.r->n_images, 3);
	parent = g.r->images[0];
	child = g.r->images[1]; /* by start: the fork child before the image it exec'd */
	prog = g.r->images[2];
	ck_assert_uint_eq(parent->pid, 100);
	ck_assert_str_eq(prog->command, "prog");
	ck_assert_int_eq(prog->exec, 1);
	ck_assert_int_eq(prog->forked, 0);
	ck_assert_uint_eq(prog->totals.allocations, 2);
	ck_assert_uint_eq(prog->totals.live_bytes, 110);
	ck_assert_int_eq(child->forked, 1);
	ck_assert_int_eq(child->exec, 0);
	ck_assert_ptr_eq(child->parent, parent);
	ck_assert_int_eq(child->end_kind, HG_END_EXEC);
	ck_assert_uint_eq(child->t_replaced_ns, prog->t_start_ns); /* read before it */
	ck_assert_uint_eq(prog->t_replaced_ns, 0);
	ck_assert_uint_eq(child->totals.allocations, 1);
	ck_assert_uint_eq(child->totals.live_bytes, 100);
}
END_TEST

/*
 * pid 100 runs a, which exits at T+50; the pid is reused by b at T+100, a process of its own.
 * b's PROCESS record is read before a's EXIT: b looks like an exec of a until the EXIT says
 * a ended by itself. a ends with its code, b is not an exec.
 */
START_TEST(test_replay_reused_pid_is_not_an_exec)
{
	struct hg_image *a, *b;

	process(0, T, 100, 1, "a\0", 2, "/bin/a");
	block(100, 100);
	process(0, T + 100, 100, 1, "b\0", 2, "/bin/b");
	block(100, 101);
	fx_exit(&g.b, T + 50, 100, 3, HG_EXIT_CALL);
	block(100, 100);
	replay();

	ck_assert_uint_eq(g.r->n_images, 2);
	a = g.r->images[0];
	b = g.r->images[1];
	ck_assert_str_eq(a->command, "a");
	ck_assert_int_eq(a->end_kind, HG_END_CODE);
	ck_assert_int_eq(a->exit_status, 3);
	ck_assert_str_eq(b->command, "b");
	ck_assert_int_eq(b->exec, 0);
}
END_TEST

/*
 * How each image ended, from EXIT records: exit() written by the shim, waitpid's result by the
 * collector (pid 0 blocks). waitpid's word is final whichever record the file holds first.
 */
START_TEST(test_replay_exit_codes)
{
	/* t_exit: the earliest EXIT record's time, whichever the file holds first */
	static const struct {
		int kind, status;
		uint64_t t_exit;
	} want[] = {
		{ HG_END_CODE, 5, T + 50 },    /* 100: exit(3), then waitpid says 5 */
		{ HG_END_CODE, 5, T + 55 },    /* 101: waitpid says 5, then exit(3) arrives */
		{ HG_END_SIGNAL, 9, T + 60 },  /* 102: killed */
		{ HG_END_CODE, 42, T + 55 },   /* 103: exit(42) only */
		{ HG_END_UNKNOWN, 0, 0 },      /* 104: nothing */
		{ HG_END_UNKNOWN, 0, T + 60 }, /* 105: gone */
		{ HG_END_SIGNAL, 11, T + 55 }, /* 106: exit(1), then killed */
	};

	for (uint32_t pid = 100; pid <= 106; pid++) {
		process(0, T, pid, 1, "p", 1, "/p");
		block(pid, pid);
	}
	fx_exit(&g.b, T + 50, 100, 3, HG_EXIT_CALL);
	block(100, 100);
	fx_exit(&g.b, T + 60, 100, 5, HG_EXIT_WAIT);
	fx_exit(&g.b, T + 60, 101, 5, HG_EXIT_WAIT);
	fx_exit(&g.b, T + 60, 102, 9, HG_EXIT_SIGNAL);
	fx_exit(&g.b, T + 60, 105, 0, HG_EXIT_GONE);
	fx_exit(&g.b, T + 60, 999, 1, HG_EXIT_WAIT); /* no such process: ignored */
	block(0, 0);
	fx_exit(&g.b, T + 55, 101, 3, HG_EXIT_CALL);
	block(101, 101);
	fx_exit(&g.b, T + 55, 103, 42, HG_EXIT_CALL);
	block(103, 103);
	fx_exit(&g.b, T + 55, 106, 1, HG_EXIT_CALL);
	block(106, 106);
	fx_exit(&g.b, T + 60, 106, 11, HG_EXIT_SIGNAL);
	block(0, 0);
	replay();

	ck_assert_uint_eq(g.r->n_images, 7);
	for (uint32_t i = 0; i < 7; i++) {
		ck_assert_uint_eq(g.r->images[i]->pid, 100 + i);
		ck_assert_msg(g.r->images[i]->end_kind == want[i].kind, "pid %u: end kind %d",
			      100 + i, g.r->images[i]->end_kind);
		ck_assert_msg(g.r->images[i]->exit_status == want[i].status, "pid %u: status %d",
			      100 + i, g.r->images[i]->exit_status);
		ck_assert_uint_eq(g.r->images[i]->t_exit_ns, want[i].t_exit);
	}
}
END_TEST

/*
 * Ends a traced parent saw in its wait (reaper_pid set): taken for its own child, as final as the
 * collector's waitpid; ignored for an image of the pid whose parent is another process (the
 * reaped child was untraced and got the pid of an earlier image).
 */
START_TEST(test_replay_exit_reaped)
{
	/* The parent's slot is drained first: its records come before its children's PROCESS. */
	fx_exit_reaped(&g.b, T + 50, 200, 15, HG_EXIT_SIGNAL, 50);
	fx_exit_reaped(&g.b, T + 50, 201, 9, HG_EXIT_SIGNAL, 50);
	fx_exit_reaped(&g.b, T + 50, 202, 3, HG_EXIT_WAIT, 50);
	block(50, 50);
	process(0, T, 200, 50, "p", 1, "/p");
	process(0, T, 201, 60, "p", 1, "/p");
	process(0, T, 202, 50, "p", 1, "/p");
	fx_exit(&g.b, T + 40, 202, 3, HG_EXIT_CALL);
	block(200, 200);
	replay();

	ck_assert_uint_eq(g.r->n_images, 3);
	ck_assert_uint_eq(g.r->images[0]->pid, 200);
	ck_assert_int_eq(g.r->images[0]->end_kind, HG_END_SIGNAL);
	ck_assert_int_eq(g.r->images[0]->exit_status, 15);
	ck_assert_uint_eq(g.r->images[0]->t_exit_ns, T + 50);
	ck_assert_int_eq(g.r->images[1]->end_kind, HG_END_UNKNOWN);
	ck_assert_uint_eq(g.r->images[1]->t_exit_ns, 0);
	ck_assert_int_eq(g.r->images[2]->end_kind, HG_END_CODE);
	ck_assert_int_eq(g.r->images[2]->exit_status, 3);
	ck_assert_uint_eq(g.r->images[2]->t_exit_ns, T + 40);
}
END_TEST

/*
 * The file header's RSS interval: _i 0, a trace that does not write it (as before the field);
 * 1, sampling every 25 ms; 2, sampling off (record --rss-interval 0).
 */
START_TEST(test_replay_rss_interval_from_header)
{
	static const uint32_t want[] = { 0, 25, HG_RSS_INTERVAL_OFF };

	process(0, T, 100, 1, "p", 1, "/p");
	block(100, 100);
	if (_i)
		ck_assert_int_eq(hg_trace_writer_rss_interval(g.w, _i == 1 ? 25 : 0), 0);
	replay();
	ck_assert_uint_eq(g.r->rss_interval_ms, want[_i]);
	ck_assert_uint_eq(g.r->n_images, 1);
}
END_TEST

START_TEST(test_replay_loss_records)
{
	process(0, T, 100, 1, "p", 1, "/p");
	fx_loss(&g.b, T + 10, 100, HG_LOSS_TOO_BIG, 3, 300);
	block(100, 100);
	fx_loss(&g.b, T + 20, 0, HG_LOSS_COLLECTOR_GONE, 5, 0);
	fx_loss(&g.b, T + 30, 999, HG_LOSS_DEAD_WRITER, 7, 0); /* no such process */
	block(0, 0);
	replay();
	ck_assert_uint_eq(g.r->n_images, 1);
	ck_assert_uint_eq(g.r->images[0]->totals.lost_events, 3);
	ck_assert_uint_eq(g.r->lost_events, 12);
}
END_TEST

START_TEST(test_replay_modules)
{
	static const struct hg_segment seg[2] = { { 0, 0x1000, 4, 0 }, { 0x1000, 0x2000, 5, 0 } };
	static const struct hg_segment lib_seg[1] = { { 0, 0x5000, 5, 0 } };
	static const uint8_t bid[20] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6,
					 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	const struct hg_module *m;
	struct hg_image *im, *child;

	process(0, T, 100, 1, "p", 1, "/usr/bin/prog");
	static const uint64_t in_lib[2] = { 0x7f0000001234, 0x555555555800 };
	static const uint64_t in_main[1] = { 0x555555555800 };
	fx_module(&g.b, HG_MODULE_MAIN, T + 1, 0x555555554000, 2, seg, bid, 20, "/usr/bin/prog");
	fx_stack(&g.b, 3, 1, in_main); /* before any library */
	fx_module(&g.b, 0, T + 2, 0x7f0000000000, 1, lib_seg, NULL, 0, "/lib/libx.so");
	fx_stack(&g.b, 1, 2, in_lib);  /* through libx */
	fx_unmodule(&g.b, T + 100, 0x7f0000000000);
	fx_stack(&g.b, 4, 2, in_lib);  /* at libx's address with nothing mapped there */
	/* Another library where libx was: stacks through it are its, the earlier ones libx's. */
	fx_module(&g.b, 0, T + 150, 0x7f0000000000, 1, lib_seg, NULL, 0, "/lib/liby.so");
	fx_stack(&g.b, 2, 2, in_lib);
	block(100, 100);
	process(HG_PROCESS_FORK, T + 200, 200, 100, "p", 1, "/usr/bin/prog");
	block(200, 200);
	replay();

	ck_assert_uint_eq(g.r->n_images, 2);
	im = g.r->images[0];
	child = g.r->images[1];
	ck_assert_uint_eq(im->n_modules, 3);
	m = &im->modules[0];
	ck_assert_str_eq(m->path, "/usr/bin/prog");
	ck_assert_int_eq(m->is_main, 1);
	ck_assert_uint_eq(m->load_bias, 0x555555554000);
	ck_assert_uint_eq(m->lo, 0x555555554000);
	ck_assert_uint_eq(m->hi, 0x555555557000);
	ck_assert_uint_eq(m->build_id_len, 20);
	ck_assert_mem_eq(m->build_id, bid, 20);
	ck_assert_uint_eq(m->t_load_ns, T + 1);
	ck_assert_uint_eq(m->t_unload_ns, UINT64_MAX);
	m = &im->modules[1];
	ck_assert_str_eq(m->path, "/lib/libx.so");
	ck_assert_int_eq(m->is_main, 0);
	ck_assert_uint_eq(m->build_id_len, 0);
	ck_assert_uint_eq(m->lo, 0x7f0000000000);
	ck_assert_uint_eq(m->hi, 0x7f0000005000);
	ck_assert_uint_eq(m->t_unload_ns, T + 100);

	ck_assert_str_eq(im->modules[2].path, "/lib/liby.so");
	ck_assert_uint_eq(im->modules[2].t_unload_ns, UINT64_MAX);

	ck_assert_ptr_eq(hg_stack_module(im, 1, 0x555555555800), &im->modules[0]);
	ck_assert_ptr_eq(hg_stack_module(im, 3, 0x555555555800), &im->modules[0]);
	ck_assert_ptr_eq(hg_stack_module(im, 1, 0x7f0000004fff), &im->modules[1]);
	ck_assert_ptr_eq(hg_stack_module(im, 2, 0x7f0000001234), &im->modules[2]);
	ck_assert_ptr_null(hg_stack_module(im, 1, 0x555555557000));
	ck_assert_ptr_null(hg_stack_module(im, 1, 0x1));
	/* No module mapped the address when the stack was recorded (or its library's record
	 * came later): the latest loaded that maps it. A stack not defined at all: the same. */
	ck_assert_ptr_eq(hg_stack_module(im, 4, 0x7f0000001234), &im->modules[2]);
	ck_assert_ptr_eq(hg_stack_module(im, 3, 0x7f0000001234), &im->modules[2]);
	ck_assert_ptr_eq(hg_stack_module(im, 99, 0x7f0000001234), &im->modules[2]);
	/* A fork child finds its parent's modules as they were at the fork, for the parent's
	 * stacks and its own. */
	ck_assert_uint_eq(child->n_modules, 0);
	ck_assert_ptr_eq(hg_stack_module(child, 1, 0x555555554000), &im->modules[0]);
	ck_assert_ptr_eq(hg_stack_module(child, 1, 0x7f0000000010), &im->modules[1]);
	ck_assert_ptr_eq(hg_stack_module(child, 2, 0x7f0000000010), &im->modules[2]);
}
END_TEST

/* ---- damage ----------------------------------------------------------------------------- */

/* Three blocks, one allocation each; returns the file offset of each block in at[]. */
static void three_blocks(uint64_t at[3])
{
	process(0, T, 100, 1, "p", 1, "/p");
	alloc(T + 10, A, 10, 1);
	at[0] = hg_trace_writer_bytes(g.w);
	block(100, 100);
	alloc(T + 20, B, 20, 1);
	at[1] = hg_trace_writer_bytes(g.w);
	block(100, 100);
	alloc(T + 30, C, 30, 1);
	at[2] = hg_trace_writer_bytes(g.w);
	block(100, 100);
	ck_assert_int_eq(hg_trace_writer_close(g.w), 0);
	g.w = NULL;
}

START_TEST(test_replay_corrupt_block_partial_result)
{
	uint64_t at[3];
	uint8_t *bytes;
	size_t n;

	three_blocks(at);
	bytes = fx_slurp(g.path, &n);
	bytes[at[2] + 32 + 9] ^= 0x40; /* inside block 3's ALLOC */
	fx_spit(g.path, bytes, n);
	free(bytes);
	g.r = hg_replay_file(g.path);
	ck_assert_ptr_nonnull(g.r);
	ck_assert_ptr_nonnull(g.r->damage);
	ck_assert_msg(strstr(g.r->damage, "checksum mismatch"), "damage: %s", g.r->damage);
	ck_assert_uint_eq(g.r->damage_offset, at[2]);
	ck_assert_uint_eq(g.r->n_records, 3);
	ck_assert_uint_eq(g.r->n_images, 1);
	ck_assert_uint_eq(g.r->images[0]->totals.allocations, 2);
	ck_assert_uint_eq(g.r->images[0]->totals.live_bytes, 30);
}
END_TEST

START_TEST(test_replay_truncated_partial_result)
{
	uint64_t at[3];

	three_blocks(at);
	ck_assert_int_eq(truncate(g.path, (off_t)at[1] + 40), 0);
	g.r = hg_replay_file(g.path);
	ck_assert_ptr_nonnull(g.r);
	ck_assert_ptr_nonnull(g.r->damage);
	ck_assert_msg(strstr(g.r->damage, "truncated"), "damage: %s", g.r->damage);
	ck_assert_uint_eq(g.r->damage_offset, at[1]);
	ck_assert_uint_eq(g.r->n_records, 2);
	ck_assert_uint_eq(g.r->images[0]->totals.allocations, 1);
}
END_TEST

START_TEST(test_replay_not_a_trace)
{
	static const char text[] = "#!/bin/sh\necho this is not a trace, not even close to one\n";

	fx_quiet_stderr();
	hg_trace_writer_close(g.w);
	g.w = NULL;
	fx_spit(g.path, text, sizeof(text) - 1);
	ck_assert_ptr_null(hg_replay_file(g.path));
}
END_TEST

Suite *replay_suite(void);

Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *totals = tcase_create("totals");
	TCase *merge = tcase_create("merge");
	TCase *procs = tcase_create("processes");
	TCase *damage = tcase_create("damage");
	TCase *all[] = { totals, merge, procs, damage };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_loop_test(totals, test_replay_totals_sites_and_stacks, 0, 2);
	tcase_add_test(totals, test_replay_bare_flag_and_empty_cmdline);
	tcase_add_test(totals, test_replay_alloc_over_live_block);
	tcase_add_test(totals, test_replay_blocks_of_4_gib_and_more);
	tcase_add_test(totals, test_replay_unknown_and_double_frees);
	tcase_add_test(totals, test_replay_implicit_image);
	tcase_add_test(totals, test_replay_loss_records);
	tcase_add_test(merge, test_replay_cross_thread_free_then_reuse);
	tcase_add_test(merge, test_replay_horizon_late_allocation_repaired);
	tcase_add_test(merge, test_replay_orphan_free_then_real_reuse);
	tcase_add_test(merge, test_replay_same_tick_handovers);
	tcase_add_test(merge, test_replay_horizon_merges_threads_in_time_order);
	tcase_add_test(merge, test_replay_long_block_waits_for_horizon);
	tcase_add_test(merge, test_replay_stale_horizon_bounds_waiting);
	tcase_add_test(procs, test_replay_fork_child_inherits_live_blocks);
	tcase_add_test(procs, test_replay_exec_starts_new_image);
	tcase_add_test(procs, test_replay_fork_child_written_before_its_parent);
	tcase_add_loop_test(procs, test_replay_fork_child_late_gets_the_heap_at_the_fork, 0, 2);
	tcase_add_test(procs, test_replay_fork_child_side_first);
	tcase_add_test(procs, test_replay_snapshot_keeps_heaptop_of_its_moment);
	tcase_add_test(procs, test_replay_exec_written_before_its_fork);
	tcase_add_test(procs, test_replay_reused_pid_is_not_an_exec);
	tcase_add_test(procs, test_replay_exit_codes);
	tcase_add_test(procs, test_replay_exit_reaped);
	tcase_add_loop_test(procs, test_replay_rss_interval_from_header, 0, 3);
	tcase_add_test(procs, test_replay_modules);
	tcase_add_test(damage, test_replay_corrupt_block_partial_result);
	tcase_add_test(damage, test_replay_truncated_partial_result);
	tcase_add_test(damage, test_replay_not_a_trace);
	return s;
}
