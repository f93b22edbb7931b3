/*
 * check_replay_procs.c - unit tests for the replay's process images: fork, exec, exit, modules
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "gate.h"
#include "leaks.h"
#include "replay.h"
#include "symbolize.h"
#include "symload.h"
#include "trace_writer.h"
#include "replay_rig.h"

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

	rr_process(0, T, 100, 1, "parent", 6, "/bin/parent");
	fx_stack(&rr_rig.b, 1, 1, ip);
	rr_alloc(T + 10, A, 100, 1);
	rr_alloc(T + 20, B, 200, 1);
	rr_alloc(T + 25, F, 1, 1);
	rr_block(100, 100);
	rr_process(HG_PROCESS_FORK, T + 30, 200, 100, "parent", 6, "/bin/parent");
	fx_free(&rr_rig.b, T + 45, B);
	rr_alloc(T + 60, D, 400, 1);
	rr_block(200, 200);
	fx_free(&rr_rig.b, T + 30, F);
	rr_alloc(T + 30, E, 5, 1);
	fx_free(&rr_rig.b, T + 40, A);
	rr_alloc(T + 50, C, 300, 1);
	rr_block(100, 100);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 2);
	parent = rr_rig.r->images[0];
	child = rr_rig.r->images[1];
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
	rr_expect_live(child, A, 100, 1);
	rr_expect_live(child, D, 400, 1);
	ck_assert(!rr_is_live(child, B));
	ck_assert(!rr_is_live(child, C));
	ck_assert(!rr_is_live(child, E));
	ck_assert(!rr_is_live(child, F));
	rr_expect_site(child, 1, 500, 2, 1, 400);

	/* The child uses the parent's stack ids. */
	st = hg_image_stack(child, 1);
	ck_assert_ptr_nonnull(st);
	ck_assert_ptr_eq(st, hg_image_stack(parent, 1));
	ck_assert_uint_eq(st->ip[0], 0xaaa);
}
END_TEST

/*
 * A child that has blocks of its own when the fork's copy reaches it (a thread of it stamped
 * them before the fork: a contradictory trace) takes the parent's blocks one by one, each
 * replacing its own at the same address (A), instead of taking the copy over whole.
 */
START_TEST(test_replay_fork_child_with_blocks_adds_the_copy)
{
	static const uint64_t ip[1] = { 0xaaa };
	struct hg_image *child;

	rr_process(0, T, 100, 1, "parent", 6, "/bin/parent");
	fx_stack(&rr_rig.b, 1, 1, ip);
	rr_alloc(T + 10, A, 100, 1);
	rr_alloc(T + 20, B, 200, 1);
	rr_block(100, 100);
	rr_process(HG_PROCESS_FORK, T + 30, 200, 100, "parent", 6, "/bin/parent");
	rr_block(200, 200);
	rr_alloc(T + 5, X, 7, 1);
	rr_alloc(T + 6, A, 9, 1);
	rr_block(200, 201);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 2);
	child = rr_rig.r->images[1];
	ck_assert_uint_eq(child->pid, 200);
	ck_assert_uint_eq(child->totals.live_blocks, 3);
	ck_assert_uint_eq(child->totals.live_bytes, 307);
	ck_assert_uint_eq(child->totals.peak_bytes, 307);
	rr_expect_live(child, X, 7, 1);
	rr_expect_live(child, A, 100, 1);
	rr_expect_live(child, B, 200, 1);
	rr_expect_site(child, 1, 307, 3, 2, 16);
}
END_TEST

/*
 * A fork child's heap is a copy of its parent's table (hg_addrmap_copy): with many blocks,
 * some of them 4 GiB or more (kept apart), every one is there with its size, the sums per
 * site agree with them, and the parent's later changes do not reach the child's copy.
 */
START_TEST(test_replay_fork_child_copies_a_large_heap)
{
	static const uint64_t ip[2] = { 0xaaa, 0xbbb };
	enum { N = 5000 };
	struct hg_image *parent, *child;
	uint64_t bytes = 0;
	size_t pos = 0;
	uint64_t addr;
	struct hg_live v;

	rr_process(0, T, 100, 1, "parent", 6, "/bin/parent");
	fx_stack(&rr_rig.b, 1, 1, ip);
	fx_stack(&rr_rig.b, 2, 1, ip + 1);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t size = i % 1000 == 0 ? (5ull << 30) + i : 16 + i % 64;
		rr_alloc(T + 10 + i, 0x100000 + 128 * i, size, 1 + (uint32_t)(i % 2));
		bytes += size;
	}
	rr_block(100, 100);
	rr_process(HG_PROCESS_FORK, T + 10 + N, 200, 100, "parent", 6, "/bin/parent");
	rr_block(200, 200);
	fx_free(&rr_rig.b, T + 20 + N, 0x100000);
	rr_block(100, 100);
	rr_replay();

	parent = rr_rig.r->images[0];
	child = rr_rig.r->images[1];
	ck_assert_uint_eq(parent->totals.live_blocks, N - 1);
	ck_assert_uint_eq(child->totals.live_blocks, N);
	ck_assert_uint_eq(child->totals.live_bytes, bytes);
	ck_assert_uint_eq(child->totals.peak_bytes, bytes);
	ck_assert_uint_eq(child->totals.peak_time_ns, 0);
	ck_assert_uint_eq(child->sites[1].live_blocks + child->sites[2].live_blocks, N);
	ck_assert_uint_eq(child->sites[1].live_bytes + child->sites[2].live_bytes, bytes);
	ck_assert_uint_eq(child->sites[1].allocations, 0);
	for (uint64_t i = 0; i < N; i++)
		rr_expect_live(child, 0x100000 + 128 * i,
			       i % 1000 == 0 ? (5ull << 30) + i : 16 + i % 64, 1 + (uint32_t)(i % 2));
	ck_assert(!rr_is_live(parent, 0x100000));
	bytes = 0;
	while (hg_image_live_next(child, &pos, &addr, &v))
		bytes += v.size_bytes;
	ck_assert_uint_eq(bytes, child->totals.live_bytes);
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

	rr_process(0, T, 100, 1, "sh\0-c\0x\0", 8, "/bin/sh");
	fx_stack(&rr_rig.b, 1, 1, ip_sh);
	rr_alloc(T + 10, A, 100, 1);
	rr_process(0, T + 100, 100, 1, "prog\0", 5, "/usr/bin/prog");
	fx_stack(&rr_rig.b, 1, 2, ip_prog);
	rr_alloc(T + 110, B, 50, 1);
	fx_free(&rr_rig.b, T + 120, A); /* the old image's block: unknown here */
	fx_exit(&rr_rig.b, T + 200, 100, 0, HG_EXIT_CALL);
	rr_block(100, 100);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 2);
	sh = rr_rig.r->images[0];
	prog = rr_rig.r->images[1];
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

	rr_process(HG_PROCESS_FORK, T + 30, 200, 100, "sh\0", 3, "/bin/sh");
	fx_free(&rr_rig.b, T + 40, A);
	rr_alloc(T + 50, C, 300, 1);
	rr_block(200, 200);
	rr_process(0, T, 100, 1, "sh\0", 3, "/bin/sh");
	fx_stack(&rr_rig.b, 1, 1, ip);
	rr_alloc(T + 10, A, 100, 1);
	rr_alloc(T + 20, B, 200, 1);
	rr_alloc(T + 35, D, 400, 1); /* after the fork: the parent's alone */
	rr_block(100, 100);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 2);
	parent = rr_rig.r->images[0]; /* listed by start, though the child was read first */
	child = rr_rig.r->images[1];
	ck_assert_uint_eq(child->pid, 200);
	ck_assert_uint_eq(child->file_order, 0);
	ck_assert_uint_eq(parent->file_order, 1);
	ck_assert_ptr_eq(child->parent, parent);
	ck_assert_uint_eq(child->totals.unknown_frees, 0);
	ck_assert_uint_eq(child->totals.frees, 1);
	ck_assert_uint_eq(child->totals.live_blocks, 2);
	ck_assert_uint_eq(child->totals.live_bytes, 500);
	rr_expect_live(child, B, 200, 1);
	rr_expect_live(child, C, 300, 1);
	ck_assert(!rr_is_live(child, A));
	ck_assert(!rr_is_live(child, D));
	ck_assert_uint_eq(parent->totals.live_blocks, 3);
	/* Its stack ids resolve through the parent found late. */
	ck_assert_ptr_nonnull(hg_image_stack(child, 1));
}
END_TEST

#define M_FORK 0x7f0000000000ull /* a mapping of the parent's in the fork tests */

static void fork_side(uint64_t t)
{
	struct hg_rec_fork f = { { HG_REC_FORK, 0, sizeof(f) }, t };

	fx_buf_put(&rr_rig.b, &f, sizeof(f));
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

	rr_process(0, T, 100, 1, "sh\0", 3, "/bin/sh");
	fx_stack(&rr_rig.b, 1, 1, ip);
	rr_alloc(T + 10, A, 100, 1);
	fx_mmap(&rr_rig.b, T + 15, M_FORK, 1u << 20, 1);
	rr_alloc(T + 20, B, 200, 1);
	if (_i)
		fork_side(T + 30);
	fx_free(&rr_rig.b, T + 35, B);
	fx_munmap(&rr_rig.b, T + 35, M_FORK, 1u << 20); /* the parent's: the child keeps its copy */
	rr_alloc(T + 36, C, 300, 1); /* after the fork: not the child's */
	fx_mmap(&rr_rig.b, T + 37, M_FORK + (4u << 20), 1u << 20, 1); /* nor this */
	rr_block(100, 100);
	rr_horizon(T + 40);
	rr_process(HG_PROCESS_FORK, T + 30, 200, 100, "sh\0", 3, "/bin/sh");
	fx_free(&rr_rig.b, T + 50, B);
	fx_munmap(&rr_rig.b, T + 50, M_FORK, 1u << 20);
	rr_block(200, 200);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 2);
	parent = rr_rig.r->images[0];
	child = rr_rig.r->images[1];
	ck_assert_ptr_eq(child->parent, parent);
	ck_assert_uint_eq(parent->totals.live_blocks, 2);
	ck_assert_uint_eq(parent->mmap.ranges.n, 1);
	if (_i) {
		ck_assert_uint_eq(child->totals.unknown_frees, 0);
		ck_assert_uint_eq(child->totals.frees, 1);
		ck_assert_uint_eq(child->totals.live_blocks, 1);
		rr_expect_live(child, A, 100, 1);
		ck_assert(!rr_is_live(child, C));
		/* Its copy of the mapping, unmapped as its own; not the parent's later one. */
		ck_assert_uint_eq(child->mmap.unmaps, 1);
		ck_assert_uint_eq(child->mmap.ranges.n, 0);
	} else {
		ck_assert_uint_eq(child->totals.unknown_frees, 1);
		ck_assert(rr_is_live(child, C)); /* the parent as it stood when the copy was made */
		ck_assert_uint_eq(child->mmap.ranges.n, 1);
		ck_assert_uint_eq(child->mmap.ranges.v[0].lo, M_FORK + (4u << 20));
	}
	ck_assert(!rr_is_live(child, B));
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

	rr_process(HG_PROCESS_FORK, T + 30, 200, 100, "sh\0", 3, "/bin/sh");
	fx_free(&rr_rig.b, T + 50, A);
	rr_block(200, 200);
	rr_process(0, T, 100, 1, "sh\0", 3, "/bin/sh");
	fx_stack(&rr_rig.b, 1, 1, ip);
	rr_alloc(T + 10, A, 100, 1);
	fork_side(T + 30);
	rr_alloc(T + 40, B, 200, 1);
	rr_block(100, 100);
	rr_replay();

	child = rr_rig.r->images[1];
	ck_assert_uint_eq(child->pid, 200);
	ck_assert_uint_eq(child->totals.unknown_frees, 0);
	ck_assert_uint_eq(child->totals.frees, 1);
	ck_assert_uint_eq(child->totals.live_blocks, 0);
	ck_assert_uint_eq(rr_rig.r->images[0]->totals.live_blocks, 2);
	/* A, freed by the child, still marks how high its blocks reached; B came after the fork */
	ck_assert_uint_eq(hg_heaptop_high(&child->heaptop, 0, 1ull << 26), A + 100);
	ck_assert_uint_eq(hg_heaptop_high(&rr_rig.r->images[0]->heaptop, 0, 1ull << 26), B + 200);
}
END_TEST

static void snapshot(uint64_t t, uint32_t id, const char *label)
{
	uint32_t label_bytes = (uint32_t)strlen(label) + 1;
	struct hg_rec_snapshot r = { { HG_REC_SNAPSHOT, HG_SNAP_CALL,
				       hg_rec_align(sizeof(r) + label_bytes) }, t, id, label_bytes,
				     1, 1 };
	static const uint8_t zero[8];

	fx_buf_put(&rr_rig.b, &r, sizeof(r));
	fx_buf_put(&rr_rig.b, label, label_bytes);
	fx_buf_put(&rr_rig.b, zero, r.hdr.size_bytes - sizeof(r) - label_bytes);
}

/*
 * A snapshot keeps how high the blocks had reached at its moment: C, freed before it, still
 * counts; D, allocated after it, does not (the image's own mark goes on to D). Its sums per
 * site are the blocks' (A and B); with HG_REPLAY_SNAPSHOT_SUMS (loop 1) they are all it keeps.
 */
START_TEST(test_replay_snapshot_keeps_heaptop_of_its_moment)
{
	const struct hg_snapshot *sn;
	struct hg_image *im;

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_alloc(T + 10, A, 100, 0);
	rr_alloc(T + 15, B, 20, 2);
	rr_alloc(T + 20, C, 300, 0);
	fx_free(&rr_rig.b, T + 25, C);
	snapshot(T + 30, 1, "mid");
	rr_alloc(T + 40, D, 400, 0);
	rr_block(100, 100);
	fx_replay_rig_run(&rr_rig, _i ? HG_REPLAY_SNAPSHOT_SUMS : 0, 0);

	im = rr_rig.r->images[0];
	ck_assert_uint_eq(im->n_snapshots, 1);
	sn = im->snapshots[0];
	ck_assert_str_eq(sn->label, "mid");
	ck_assert_int_eq(sn->have_blocks, 1);
	ck_assert_uint_eq(sn->live_blocks, 2);
	ck_assert_uint_eq(sn->live_bytes, 120);
	ck_assert_uint_ge(sn->n_sites, 3);
	ck_assert_uint_eq(sn->sites[0].live_bytes, 100);
	ck_assert_uint_eq(sn->sites[0].live_blocks, 1);
	ck_assert_uint_eq(sn->sites[0].allocations, 0);
	ck_assert_uint_eq(sn->sites[2].live_bytes, 20);
	ck_assert_uint_eq(sn->sites[2].live_blocks, 1);
	if (_i) {
		ck_assert_uint_eq(sn->n_blocks, 0);
		ck_assert_ptr_null(sn->blocks);
	} else {
		ck_assert_uint_eq(sn->n_blocks, 2);
		ck_assert_uint_eq(sn->blocks[0].addr, A);
		ck_assert_uint_eq(sn->blocks[1].addr, B);
	}
	ck_assert_uint_eq(hg_heaptop_high(&sn->heaptop, 0, 1ull << 26), C + 300);
	ck_assert_uint_eq(hg_heaptop_high(&im->heaptop, 0, 1ull << 26), D + 400);
}
END_TEST

/*
 * pid 200 is a fork child of pid 100 (T+10) that execs /usr/bin/prog at T+50. The exec'd
 * image writes to another ring slot than the fork child, and here its block reaches the file
 * first: the images still follow start times. prog is the exec'd one and has its allocations,
 * the fork child ends with HG_END_EXEC and keeps its own. pid 100 had ended when prog started,
 * so prog's getppid() read 1: its parent is still 100, the fork child's.
 */
START_TEST(test_replay_exec_written_before_its_fork)
{
	static const uint64_t ip[1] = { 0x111 };
	struct hg_image *parent, *child, *prog;

	rr_process(0, T, 100, 1, "sh\0", 3, "/bin/sh");
	fx_stack(&rr_rig.b, 1, 1, ip);
	rr_block(100, 100);
	rr_process(0, T + 50, 200, 1, "prog\0", 5, "/usr/bin/prog"); /* the exec'd image, first */
	fx_stack(&rr_rig.b, 1, 1, ip);
	rr_alloc(T + 60, B, 50, 1);
	rr_alloc(T + 70, C, 60, 1);
	rr_block(200, 201);
	rr_process(HG_PROCESS_FORK, T + 10, 200, 100, "sh\0", 3, "/bin/sh"); /* its fork, later */
	rr_alloc(T + 20, A, 100, 1);
	rr_block(200, 200);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 3);
	parent = rr_rig.r->images[0];
	child = rr_rig.r->images[1]; /* by start: the fork child before the image it exec'd */
	prog = rr_rig.r->images[2];
	ck_assert_uint_eq(parent->pid, 100);
	ck_assert_str_eq(prog->command, "prog");
	ck_assert_int_eq(prog->exec, 1);
	ck_assert_int_eq(prog->forked, 0);
	ck_assert_uint_eq(prog->ppid, 100);
	ck_assert_uint_eq(prog->ppid_read, 1);
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
 * a ended by itself. a ends with its code, b is not an exec, and its parent is its own.
 */
START_TEST(test_replay_reused_pid_is_not_an_exec)
{
	struct hg_image *a, *b;

	rr_process(0, T, 100, 1, "a\0", 2, "/bin/a");
	rr_block(100, 100);
	rr_process(0, T + 100, 100, 7, "b\0", 2, "/bin/b");
	rr_block(100, 101);
	fx_exit(&rr_rig.b, T + 50, 100, 3, HG_EXIT_CALL);
	rr_block(100, 100);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 2);
	a = rr_rig.r->images[0];
	b = rr_rig.r->images[1];
	ck_assert_str_eq(a->command, "a");
	ck_assert_int_eq(a->end_kind, HG_END_CODE);
	ck_assert_int_eq(a->exit_status, 3);
	ck_assert_str_eq(b->command, "b");
	ck_assert_int_eq(b->exec, 0);
	ck_assert_uint_eq(b->ppid, 7);
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
		rr_process(0, T, pid, 1, "p", 1, "/p");
		rr_block(pid, pid);
	}
	fx_exit(&rr_rig.b, T + 50, 100, 3, HG_EXIT_CALL);
	rr_block(100, 100);
	fx_exit(&rr_rig.b, T + 60, 100, 5, HG_EXIT_WAIT);
	fx_exit(&rr_rig.b, T + 60, 101, 5, HG_EXIT_WAIT);
	fx_exit(&rr_rig.b, T + 60, 102, 9, HG_EXIT_SIGNAL);
	fx_exit(&rr_rig.b, T + 60, 105, 0, HG_EXIT_GONE);
	fx_exit(&rr_rig.b, T + 60, 999, 1, HG_EXIT_WAIT); /* no such process: ignored */
	rr_block(0, 0);
	fx_exit(&rr_rig.b, T + 55, 101, 3, HG_EXIT_CALL);
	rr_block(101, 101);
	fx_exit(&rr_rig.b, T + 55, 103, 42, HG_EXIT_CALL);
	rr_block(103, 103);
	fx_exit(&rr_rig.b, T + 55, 106, 1, HG_EXIT_CALL);
	rr_block(106, 106);
	fx_exit(&rr_rig.b, T + 60, 106, 11, HG_EXIT_SIGNAL);
	rr_block(0, 0);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 7);
	for (uint32_t i = 0; i < 7; i++) {
		ck_assert_uint_eq(rr_rig.r->images[i]->pid, 100 + i);
		ck_assert_msg(rr_rig.r->images[i]->end_kind == want[i].kind, "pid %u: end kind %d",
			      100 + i, rr_rig.r->images[i]->end_kind);
		ck_assert_msg(rr_rig.r->images[i]->exit_status == want[i].status,
			      "pid %u: status %d", 100 + i, rr_rig.r->images[i]->exit_status);
		ck_assert_uint_eq(rr_rig.r->images[i]->t_exit_ns, want[i].t_exit);
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
	fx_exit_reaped(&rr_rig.b, T + 50, 200, 15, HG_EXIT_SIGNAL, 50);
	fx_exit_reaped(&rr_rig.b, T + 50, 201, 9, HG_EXIT_SIGNAL, 50);
	fx_exit_reaped(&rr_rig.b, T + 50, 202, 3, HG_EXIT_WAIT, 50);
	rr_block(50, 50);
	rr_process(0, T, 200, 50, "p", 1, "/p");
	rr_process(0, T, 201, 60, "p", 1, "/p");
	rr_process(0, T, 202, 50, "p", 1, "/p");
	fx_exit(&rr_rig.b, T + 40, 202, 3, HG_EXIT_CALL);
	rr_block(200, 200);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 3);
	ck_assert_uint_eq(rr_rig.r->images[0]->pid, 200);
	ck_assert_int_eq(rr_rig.r->images[0]->end_kind, HG_END_SIGNAL);
	ck_assert_int_eq(rr_rig.r->images[0]->exit_status, 15);
	ck_assert_uint_eq(rr_rig.r->images[0]->t_exit_ns, T + 50);
	ck_assert_int_eq(rr_rig.r->images[1]->end_kind, HG_END_UNKNOWN);
	ck_assert_uint_eq(rr_rig.r->images[1]->t_exit_ns, 0);
	ck_assert_int_eq(rr_rig.r->images[2]->end_kind, HG_END_CODE);
	ck_assert_int_eq(rr_rig.r->images[2]->exit_status, 3);
	ck_assert_uint_eq(rr_rig.r->images[2]->t_exit_ns, T + 40);
}
END_TEST

/* pid 500: sh allocates X (700 bytes), is exec'd over by true at T + 50, which allocates Y. */
static void sh_exec_true(void)
{
	rr_process(0, T, 500, 1, "sh", 2, "/bin/sh");
	rr_alloc(T + 5, X, 700, 1);
	rr_block(500, 500);
	rr_process(0, T + 50, 500, 1, "true", 4, "/bin/true");
	rr_alloc(T + 55, Y, 800, 1);
	rr_block(500, 500);
}

/*
 * A wait's word that a process died (the collector's waitpid, a traced parent's, a process
 * gone) frees its image's live table once a horizon passes its death: a fork child of a large
 * heap held its copy to the end of the replay. So does an image exec'd over, once the horizon
 * passes its successor's start. Its sums stay. An image that only called exit()
 * (its other threads may run on), or whose death the horizon has not passed, keeps its table.
 * A free that still comes for a freed table (a writer that broke the horizon's promise) finds
 * nothing there: it counts as a free of an unknown address.
 */
START_TEST(test_replay_dead_image_table_freed)
{
	struct hg_image *parent, *child, *other, *quitter, *shell, *replacement;

	rr_process(0, T, 100, 1, "parent", 6, "/bin/parent");
	rr_alloc(T + 10, A, 100, 1);
	rr_alloc(T + 20, B, 200, 1);
	fx_exit_reaped(&rr_rig.b, T + 70, 200, 0, HG_EXIT_WAIT, 100);
	rr_block(100, 100);
	rr_process(HG_PROCESS_FORK, T + 30, 200, 100, "parent", 6, "/bin/parent");
	rr_alloc(T + 40, D, 400, 1);
	rr_block(200, 200);
	rr_process(0, T, 300, 1, "other", 5, "/bin/other");
	rr_alloc(T + 15, E, 500, 1);
	rr_block(300, 300);
	rr_process(0, T, 400, 1, "quitter", 7, "/bin/quitter");
	rr_alloc(T + 15, F, 600, 1);
	fx_exit(&rr_rig.b, T + 50, 400, 0, HG_EXIT_CALL);
	rr_block(400, 400);
	fx_exit(&rr_rig.b, T + 200, 300, 0, HG_EXIT_WAIT);
	rr_block(0, 0);
	sh_exec_true();
	rr_horizon(T + 100);
	fx_free(&rr_rig.b, T + 60, D); /* late: after the horizon that freed the table */
	rr_block(200, 200);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 6);
	parent = rr_rig.r->images[0];
	other = rr_rig.r->images[1];
	quitter = rr_rig.r->images[2];
	shell = rr_rig.r->images[3];
	child = rr_rig.r->images[4];
	replacement = rr_rig.r->images[5];
	ck_assert_uint_eq(shell->pid, 500);
	ck_assert_int_eq(shell->end_kind, HG_END_EXEC);
	ck_assert_uint_eq(shell->live.n, 0);
	rr_expect_site(shell, 1, 700, 1, 1, 700);
	ck_assert_int_eq(replacement->exec, 1);
	rr_expect_live(replacement, Y, 800, 1);
	ck_assert_uint_eq(child->pid, 200);
	ck_assert_int_eq(child->end_kind, HG_END_CODE);
	ck_assert_uint_eq(child->live.n, 0);
	ck_assert(!rr_is_live(child, A));
	ck_assert(!rr_is_live(child, D));
	ck_assert_uint_eq(child->totals.live_blocks, 3);
	ck_assert_uint_eq(child->totals.live_bytes, 700);
	ck_assert_uint_eq(child->totals.unknown_frees, 1);
	rr_expect_site(child, 1, 700, 3, 1, 400);
	rr_expect_live(parent, A, 100, 1);
	rr_expect_live(parent, B, 200, 1);
	ck_assert_uint_eq(other->pid, 300);
	rr_expect_live(other, E, 500, 1);
	ck_assert_uint_eq(quitter->pid, 400);
	rr_expect_live(quitter, F, 600, 1);
}
END_TEST

/* What hg_replay_file_each's done saw: per call, the image's pid and state then. */
struct finished {
	int calls;
	struct {
		uint32_t pid;
		size_t live;          /* blocks in its live table */
		uint32_t snapshots;
		uint64_t first_blocks;/* blocks of its first snapshot (in time order) */
		uint32_t first_id;
	} at[8];
};

static void on_done(void *arg, struct hg_image *im)
{
	struct finished *f = arg;
	int k = f->calls++;

	ck_assert_int_lt(k, 8);
	f->at[k].pid = im->pid;
	f->at[k].live = im->live.n;
	f->at[k].snapshots = im->n_snapshots;
	f->at[k].first_blocks = im->n_snapshots ? im->snapshots[0]->n_blocks : 0;
	f->at[k].first_id = im->n_snapshots ? im->snapshots[0]->id : 0;
}

/* A snapshot's parts after snapshot(): a region of kind `kind` [lo, hi), and n (where, value)
 * pairs. */
static void snapshot_region(uint32_t id, uint32_t kind, uint64_t lo, uint64_t hi)
{
	struct hg_rec_region r = { { HG_REC_REGION, (uint16_t)kind, sizeof(r) }, id, 0, lo, hi, lo };

	fx_buf_put(&rr_rig.b, &r, sizeof(r));
}

static void snapshot_words(uint32_t id, const uint64_t *pairs, uint32_t n)
{
	struct hg_rec_words w = { { HG_REC_WORDS, 0, (uint32_t)(sizeof(w) + 16u * n) }, id, n };

	fx_buf_put(&rr_rig.b, &w, sizeof(w));
	fx_buf_put(&rr_rig.b, pairs, 16u * n);
}

static void snapshot_end(uint32_t id, uint32_t regions, uint64_t scanned, uint64_t pairs)
{
	struct hg_rec_snapshot_end e = { { HG_REC_SNAPSHOT_END, 0, sizeof(e) }, id, regions,
					 scanned, pairs };

	fx_buf_put(&rr_rig.b, &e, sizeof(e));
}

/*
 * check's finder classifies each image as the replay hands it over. Image 0 (pid 100): A is
 * held by nothing (direct), B only by A (indirect, via A), C by a module's data (reachable,
 * which the rules do not fail on). Image 1 (pid 500) allocated nothing: its snapshot has no
 * words (as the shim writes it), and it is classified, with no group, rather than left out.
 */
START_TEST(test_check_image_done_classifies_each_image)
{
	static const uint64_t words[] = { A + 8, B, 0x600010, C };
	struct hg_check_rules rules = { HG_LEAK_KINDS, 0, UINT64_MAX, NULL, NULL };
	struct hg_check_finder fi = { &rules, NULL, 0 };
	const struct hg_check_found *fd;

	rr_process(0, T, 100, 1, "prog", 5, "/bin/prog");
	rr_alloc(T + 10, A, 100, 1);
	rr_alloc(T + 11, B, 200, 2);
	rr_alloc(T + 12, C, 300, 3);
	snapshot(T + 20, 1, "exit");
	snapshot_region(1, HG_REGION_DATA, 0x600000, 0x601000);
	snapshot_region(1, HG_REGION_BRK, A, D);
	snapshot_words(1, words, 2);
	snapshot_end(1, 2, 1000, 2);
	rr_block(100, 100);
	rr_process(0, T + 30, 500, 1, "true", 5, "/bin/true");
	snapshot(T + 40, 1, "exit");
	snapshot_region(1, HG_REGION_DATA, 0x600000, 0x601000);
	snapshot_end(1, 1, 0, 0);
	rr_block(500, 500);
	ck_assert_int_eq(hg_trace_writer_close(rr_rig.w), 0);
	rr_rig.w = NULL;
	rr_rig.r = hg_replay_file_each(rr_rig.path, 0, hg_check_image_done, &fi);
	ck_assert_ptr_nonnull(rr_rig.r);

	ck_assert_uint_eq(fi.cap >= 2, 1);
	fd = &fi.by_order[0];
	ck_assert_ptr_nonnull(fd->groups);
	ck_assert_uint_eq(fd->n_groups, 2);
	/* Largest first: B, held by the direct leak A. */
	ck_assert_uint_eq(fd->groups[0].kind, HG_INDIRECT);
	ck_assert_uint_eq(fd->groups[0].stack_id, 2);
	ck_assert_uint_eq(fd->groups[0].bytes, 200);
	ck_assert_uint_eq(fd->groups[0].via_kind, HG_DIRECT);
	ck_assert_uint_eq(fd->groups[0].via_addr, A);
	ck_assert_uint_eq(fd->groups[1].kind, HG_DIRECT);
	ck_assert_uint_eq(fd->groups[1].stack_id, 1);
	ck_assert_uint_eq(fd->groups[1].bytes, 100);
	ck_assert_uint_eq(fd->groups[1].blocks, 1);
	fd = &fi.by_order[1];
	ck_assert_ptr_nonnull(fd->groups);
	ck_assert_uint_eq(fd->n_groups, 0);
	hg_check_finder_release(&fi);
}
END_TEST

/*
 * hg_replay_file_each hands over each image once: a child a wait saw die, and an image exec'd
 * over, as soon as a horizon passes their end (before the images still running, and with
 * their live tables already freed), the others at the end of the trace. Snapshots are in
 * time order by then (the child's two came in the file the other way round), with their live
 * sets; once done returns, the replay sheds them: their blocks are gone, their sums stay.
 */
START_TEST(test_replay_each_image_done_once)
{
	struct finished f = { 0 };
	const struct hg_image *child;

	rr_process(0, T, 100, 1, "parent", 6, "/bin/parent");
	rr_alloc(T + 10, A, 100, 1);
	fx_exit_reaped(&rr_rig.b, T + 70, 200, 0, HG_EXIT_WAIT, 100);
	rr_block(100, 100);
	rr_process(HG_PROCESS_FORK, T + 30, 200, 100, "parent", 6, "/bin/parent");
	rr_alloc(T + 40, D, 400, 1);
	rr_block(200, 200);
	/* Another thread of the child: its later snapshot is drained first. */
	snapshot(T + 60, 2, "late");
	rr_block(200, 201);
	snapshot(T + 50, 1, "early");
	rr_block(200, 200);
	sh_exec_true();
	rr_horizon(T + 100);
	rr_alloc(T + 150, B, 200, 1);
	rr_block(100, 100);
	ck_assert_int_eq(hg_trace_writer_close(rr_rig.w), 0);
	rr_rig.w = NULL;
	rr_rig.r = hg_replay_file_each(rr_rig.path, 0, on_done, &f);
	ck_assert_ptr_nonnull(rr_rig.r);

	ck_assert_uint_eq(rr_rig.r->n_images, 4);
	ck_assert_int_eq(f.calls, 4);
	/* The two that ended, in the order of the dead list: the child's wait came first. */
	ck_assert_uint_eq(f.at[0].pid, 200);
	ck_assert_uint_eq(f.at[0].live, 0);
	ck_assert_uint_eq(f.at[0].snapshots, 2);
	ck_assert_uint_eq(f.at[0].first_id, 1);
	ck_assert_uint_eq(f.at[0].first_blocks, 2); /* A, inherited, and D */
	ck_assert_uint_eq(f.at[1].pid, 500);
	ck_assert_uint_eq(f.at[1].live, 0);
	/* Then, at the end, the running ones in the order of their start: parent, true. */
	ck_assert_uint_eq(f.at[2].pid, 100);
	ck_assert_uint_eq(f.at[2].live, 2);
	ck_assert_uint_eq(f.at[3].pid, 500);
	ck_assert_uint_eq(f.at[3].live, 1);
	child = rr_rig.r->images[2]; /* parent and sh started at T, the child at T + 30 */
	ck_assert_uint_eq(child->pid, 200);
	ck_assert_str_eq(child->snapshots[1]->label, "late");
	ck_assert_int_eq(child->snapshots[0]->have_blocks, 0);
	ck_assert_ptr_null(child->snapshots[0]->blocks);
	ck_assert_uint_eq(child->snapshots[0]->n_blocks, 0);
	ck_assert_uint_eq(child->snapshots[0]->live_blocks, 2); /* the sums stay */
}
END_TEST

/*
 * The file header's RSS interval: _i 0, a trace that does not write it (as before the field);
 * 1, sampling every 25 ms; 2, sampling off (record --rss-interval 0).
 */
START_TEST(test_replay_rss_interval_from_header)
{
	static const uint32_t want[] = { 0, 25, HG_RSS_INTERVAL_OFF };

	rr_process(0, T, 100, 1, "p", 1, "/p");
	rr_block(100, 100);
	if (_i)
		ck_assert_int_eq(hg_trace_writer_rss_interval(rr_rig.w, _i == 1 ? 25 : 0), 0);
	rr_replay();
	ck_assert_uint_eq(rr_rig.r->rss_interval_ms, want[_i]);
	ck_assert_uint_eq(rr_rig.r->n_images, 1);
}
END_TEST

/* Modules as a watcher sees them: each MODULE record read, in file order. */
struct watched {
	int calls;
	char path[4][32];
};

static void watch(void *arg, const struct hg_module *m)
{
	struct watched *w = arg;

	snprintf(w->path[w->calls++ & 3], sizeof(w->path[0]), "%s", m->path);
}

/* A main program and a library, and the library again in a fork child (by another path). */
static void modules_trace(const char *exe, const char *lib)
{
	static const struct hg_segment seg[1] = { { 0, 0x1000, 5, 0 } };

	rr_process(0, T, 100, 1, "p", 1, "/usr/bin/prog");
	fx_module(&rr_rig.b, HG_MODULE_MAIN, T + 1, 0x555555554000, 1, seg, NULL, 0, exe);
	fx_module(&rr_rig.b, 0, T + 2, 0x7f0000000000, 1, seg, NULL, 0, lib);
	rr_block(100, 100);
	rr_process(HG_PROCESS_FORK, T + 200, 200, 100, "p", 1, "/usr/bin/prog");
	fx_module(&rr_rig.b, 0, T + 201, 0x7f0000000000, 1, seg, NULL, 0, lib);
	rr_block(200, 200);
}

START_TEST(test_replay_modules_watched)
{
	struct watched w = { 0 };
	struct hg_replay *again;

	modules_trace("/usr/bin/prog", "/lib/libx.so");
	hg_replay_watch_modules(watch, &w);
	rr_replay();
	hg_replay_watch_modules(NULL, NULL);
	ck_assert_int_eq(w.calls, 3);
	ck_assert_str_eq(w.path[0], "/usr/bin/prog");
	ck_assert_str_eq(w.path[1], "/lib/libx.so");
	ck_assert_str_eq(w.path[2], "/lib/libx.so");
	/* Not watched any more: a second replay tells no one. */
	again = hg_replay_file(rr_rig.path);
	ck_assert_ptr_nonnull(again);
	hg_replay_free(again);
	ck_assert_int_eq(w.calls, 3);
}
END_TEST

/* The symbols of a replay's modules are opened ahead, each distinct one once; the symbolizer
 * answers as usual after. How many the thread got to before it was stopped varies. */
START_TEST(test_replay_modules_loaded_ahead)
{
	struct hg_symbolizer *sym = hg_symbolizer_new();
	struct hg_symload *load;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct hg_symbol out;
	size_t queued, opened;

	/* With debuginfod servers to ask, nothing is opened ahead. */
	setenv("DEBUGINFOD_URLS", "http://127.0.0.1:9", 1);
	ck_assert_ptr_null(hg_symload_start(sym));
	unsetenv("DEBUGINFOD_URLS");
	load = hg_symload_start(sym);
	ck_assert_ptr_nonnull(load);
	ck_assert_int_gt(n, 0);
	exe[n] = 0;
	modules_trace(exe, "/nonexistent/libx.so");
	rr_replay();
	/* The thread takes both (the replay does not wait for it: give it up to 3 s). */
	for (int ms = 0; ms < 3000 && hg_symload_taken(load) < 2; ms++)
		usleep(1000);
	ck_assert_uint_eq(hg_symload_taken(load), 2);
	opened = hg_symload_finish(load, &queued);
	ck_assert_uint_eq(queued, 2);
	ck_assert_uint_eq(opened, 2);
	/* After finishing, modules no longer go to it. */
	hg_replay_free(hg_replay_file(rr_rig.path));
	ck_assert_int_eq(hg_symbolize(sym, "/nonexistent/libx.so", NULL, 0, 0x10, &out), -1);
	ck_assert_int_eq(hg_symbolize(sym, exe, NULL, 0, 0x10, &out), 0);
	hg_symbolizer_free(sym);
	ck_assert_uint_eq(hg_symload_finish(NULL, &queued), 0);
	ck_assert_uint_eq(queued, 0);
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

	rr_process(0, T, 100, 1, "p", 1, "/usr/bin/prog");
	static const uint64_t in_lib[2] = { 0x7f0000001234, 0x555555555800 };
	static const uint64_t in_main[1] = { 0x555555555800 };
	fx_module(&rr_rig.b, HG_MODULE_MAIN, T + 1, 0x555555554000, 2, seg, bid, 20,
		  "/usr/bin/prog");
	fx_stack(&rr_rig.b, 3, 1, in_main); /* before any library */
	fx_module(&rr_rig.b, 0, T + 2, 0x7f0000000000, 1, lib_seg, NULL, 0, "/lib/libx.so");
	fx_stack(&rr_rig.b, 1, 2, in_lib);  /* through libx */
	fx_unmodule(&rr_rig.b, T + 100, 0x7f0000000000);
	fx_stack(&rr_rig.b, 4, 2, in_lib);  /* at libx's address with nothing mapped there */
	/* Another library where libx was: stacks through it are its, the earlier ones libx's. */
	fx_module(&rr_rig.b, 0, T + 150, 0x7f0000000000, 1, lib_seg, NULL, 0, "/lib/liby.so");
	fx_stack(&rr_rig.b, 2, 2, in_lib);
	rr_block(100, 100);
	rr_process(HG_PROCESS_FORK, T + 200, 200, 100, "p", 1, "/usr/bin/prog");
	rr_block(200, 200);
	rr_replay();

	ck_assert_uint_eq(rr_rig.r->n_images, 2);
	im = rr_rig.r->images[0];
	child = rr_rig.r->images[1];
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

TCase *replay_procs_tcase(void)
{
	TCase *procs = tcase_create("processes");

	tcase_add_checked_fixture(procs, rr_setup, rr_teardown);
	tcase_add_test(procs, test_replay_fork_child_inherits_live_blocks);
	tcase_add_test(procs, test_replay_exec_starts_new_image);
	tcase_add_test(procs, test_replay_fork_child_written_before_its_parent);
	tcase_add_loop_test(procs, test_replay_fork_child_late_gets_the_heap_at_the_fork, 0, 2);
	tcase_add_test(procs, test_replay_fork_child_side_first);
	tcase_add_loop_test(procs, test_replay_snapshot_keeps_heaptop_of_its_moment, 0, 2);
	tcase_add_test(procs, test_replay_fork_child_with_blocks_adds_the_copy);
	tcase_add_test(procs, test_replay_fork_child_copies_a_large_heap);
	tcase_add_test(procs, test_replay_exec_written_before_its_fork);
	tcase_add_test(procs, test_replay_reused_pid_is_not_an_exec);
	tcase_add_test(procs, test_replay_exit_codes);
	tcase_add_test(procs, test_replay_exit_reaped);
	tcase_add_test(procs, test_replay_dead_image_table_freed);
	tcase_add_test(procs, test_replay_each_image_done_once);
	tcase_add_test(procs, test_check_image_done_classifies_each_image);
	tcase_add_loop_test(procs, test_replay_rss_interval_from_header, 0, 3);
	tcase_add_test(procs, test_replay_modules);
	tcase_add_test(procs, test_replay_modules_watched);
	tcase_add_test(procs, test_replay_modules_loaded_ahead);
	return procs;
}
