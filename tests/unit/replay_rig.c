/*
 * replay_rig.c - the trace under construction that the replay's tests share (replay_rig.h)
 */
#include <check.h>
#include <stdint.h>

#include "fixtures.h"
#include "replay.h"
#include "replay_rig.h"

struct fx_replay_rig rr_rig;

void rr_setup(void)
{
	fx_replay_rig_open(&rr_rig, "r.hgt");
}

void rr_teardown(void)
{
	fx_replay_rig_close(&rr_rig);
}

void rr_block(uint32_t pid, uint32_t tid)
{
	fx_replay_rig_block(&rr_rig, pid, tid);
}

struct hg_replay *rr_replay(void)
{
	return fx_replay_rig_run(&rr_rig, 0, 0);
}

void rr_process(uint16_t flags, uint64_t t, uint32_t pid, uint32_t ppid, const char *cmd,
		uint32_t cmd_bytes, const char *exe)
{
	fx_process(&rr_rig.b, flags, t, pid, ppid, cmd, cmd_bytes, exe, 64);
}

void rr_alloc(uint64_t t, uint64_t addr, uint64_t size, uint32_t stack)
{
	fx_alloc(&rr_rig.b, t, addr, size, stack, HG_FN_MALLOC);
}

void rr_horizon(uint64_t t)
{
	struct hg_rec_horizon h = { { HG_REC_HORIZON, 0, sizeof(h) }, t };

	fx_buf_put(&rr_rig.b, &h, sizeof(h));
	rr_block(0, 0);
}

void rr_expect_site(const struct hg_image *im, uint32_t id, uint64_t live_bytes,
		    uint64_t live_blocks, uint64_t allocations, uint64_t allocated_bytes)
{
	ck_assert_uint_lt(id, im->n_sites);
	ck_assert_uint_eq(im->sites[id].live_bytes, live_bytes);
	ck_assert_uint_eq(im->sites[id].live_blocks, live_blocks);
	ck_assert_uint_eq(im->sites[id].allocations, allocations);
	ck_assert_uint_eq(im->sites[id].allocated_bytes, allocated_bytes);
}

void rr_expect_live(const struct hg_image *im, uint64_t addr, uint64_t size, uint32_t stack)
{
	struct hg_live v;

	ck_assert_msg(hg_image_live_get(im, addr, &v), "block %#llx not live in pid %u",
		      (unsigned long long)addr, im->pid);
	ck_assert_uint_eq(v.size_bytes, size);
	ck_assert_uint_eq(v.stack_id, stack);
}

int rr_is_live(const struct hg_image *im, uint64_t addr)
{
	struct hg_live v;

	return hg_image_live_get(im, addr, &v);
}
