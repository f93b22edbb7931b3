/*
 * check_maprange.c - unit tests for the program's mappings: the range set (analyzer/maprange.c)
 * and the mmap domain the replay builds from MMAP, MUNMAP and MREMAP records (replay_mmap.c)
 *
 * The range set is checked call by call (a munmap inside a mapping splits it, one across
 * several trims the ends and drops the middle, an mprotect of part of a range splits it) and
 * against a page-by-page reference under a random workload. The domain is checked through a
 * real trace: partial munmaps, mremap growing in place, moving, shrinking, MREMAP_DONTUNMAP,
 * MAP_FIXED over a mapping, records that touch no mapping of the program, PROT_NONE
 * reservations committed by mprotect, a fork child's copy and a snapshot's figures.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "maprange.h"
#include "replay.h"
#include "trace_writer.h"

#define PG 4096ull
#define T 1000000000000ull

static struct hg_mapset set;

struct cut_log {
	uint32_t stack[16];
	uint64_t bytes[16];
	int delta[16];
	int n;
};

static void log_cut(void *ctx, const struct hg_maprange *r, uint64_t bytes, int ranges_delta)
{
	struct cut_log *l = ctx;

	ck_assert_int_lt(l->n, 16);
	l->stack[l->n] = r->stack_id;
	l->bytes[l->n] = bytes;
	l->delta[l->n++] = ranges_delta;
}

static void expect_flagged(size_t i, uint64_t lo, uint64_t hi, uint32_t stack, uint32_t flags)
{
	ck_assert_uint_lt(i, set.n);
	ck_assert_uint_eq(set.v[i].lo, lo);
	ck_assert_uint_eq(set.v[i].hi, hi);
	ck_assert_uint_eq(set.v[i].stack_id, stack);
	ck_assert_uint_eq(set.v[i].flags, flags);
}

static void expect_range(size_t i, uint64_t lo, uint64_t hi, uint32_t stack)
{
	expect_flagged(i, lo, hi, stack, 0);
}

static void set_teardown(void)
{
	hg_mapset_release(&set);
}

START_TEST(test_maprange_munmap_inside_splits)
{
	struct cut_log l = { 0 };

	hg_mapset_add(&set, 16 * PG, 32 * PG, 7, 0);
	ck_assert_uint_eq(hg_mapset_remove(&set, 20 * PG, 21 * PG, log_cut, &l), PG);
	ck_assert_uint_eq(set.n, 2);
	expect_range(0, 16 * PG, 20 * PG, 7);
	expect_range(1, 21 * PG, 32 * PG, 7);
	ck_assert_int_eq(l.n, 1);
	ck_assert_uint_eq(l.stack[0], 7);
	ck_assert_uint_eq(l.bytes[0], PG);
	ck_assert_int_eq(l.delta[0], 1);
}
END_TEST

START_TEST(test_maprange_munmap_across_trims_and_drops)
{
	struct cut_log l = { 0 };

	hg_mapset_add(&set, 32 * PG, 33 * PG, 4, 0); /* added out of order: kept sorted */
	hg_mapset_add(&set, 16 * PG, 18 * PG, 1, 0);
	hg_mapset_add(&set, 18 * PG, 19 * PG, 2, 0); /* adjacent ranges stay apart */
	hg_mapset_add(&set, 19 * PG, 22 * PG, 3, 0);
	ck_assert_uint_eq(hg_mapset_remove(&set, 17 * PG, 20 * PG, log_cut, &l), 3 * PG);
	ck_assert_uint_eq(set.n, 3);
	expect_range(0, 16 * PG, 17 * PG, 1);
	expect_range(1, 20 * PG, 22 * PG, 3);
	expect_range(2, 32 * PG, 33 * PG, 4);
	ck_assert_int_eq(l.n, 3);
	ck_assert_uint_eq(l.stack[0], 1);
	ck_assert_int_eq(l.delta[0], 0);
	ck_assert_uint_eq(l.stack[1], 2);
	ck_assert_int_eq(l.delta[1], -1);
	ck_assert_uint_eq(l.stack[2], 3);
	ck_assert_int_eq(l.delta[2], 0);
	ck_assert_uint_eq(l.bytes[0] + l.bytes[1] + l.bytes[2], 3 * PG);
}
END_TEST

START_TEST(test_maprange_remove_exact_and_nothing)
{
	struct cut_log l = { 0 };

	hg_mapset_add(&set, 16 * PG, 18 * PG, 1, 0);
	ck_assert_uint_eq(hg_mapset_remove(&set, 8 * PG, 16 * PG, log_cut, &l), 0);
	ck_assert_uint_eq(hg_mapset_remove(&set, 18 * PG, 40 * PG, log_cut, &l), 0);
	ck_assert_int_eq(l.n, 0);
	ck_assert_ptr_null(hg_mapset_find(&set, 16 * PG - 1));
	ck_assert_uint_eq(hg_mapset_find(&set, 16 * PG)->stack_id, 1);
	ck_assert_uint_eq(hg_mapset_find(&set, 18 * PG - 1)->stack_id, 1);
	ck_assert_ptr_null(hg_mapset_find(&set, 18 * PG));
	ck_assert_uint_eq(hg_mapset_remove(&set, 16 * PG, 18 * PG, NULL, NULL), 2 * PG);
	ck_assert_uint_eq(set.n, 0);
}
END_TEST

struct flip_log {
	uint32_t stack[8], new_flags[8];
	uint64_t bytes[8];
	int delta[8];
	int n;
};

static void log_flip(void *ctx, const struct hg_maprange *was, uint64_t bytes, uint32_t new_flags,
		     int ranges_delta)
{
	struct flip_log *l = ctx;

	ck_assert_int_lt(l->n, 8);
	ck_assert_uint_ne(was->flags, new_flags);
	l->stack[l->n] = was->stack_id;
	l->new_flags[l->n] = new_flags;
	l->bytes[l->n] = bytes;
	l->delta[l->n++] = ranges_delta;
}

/* A reservation committed in the middle, then a part of it and a neighbour released again. */
START_TEST(test_maprange_set_flags_splits)
{
	struct flip_log l = { 0 };

	hg_mapset_add(&set, 16 * PG, 32 * PG, 1, HG_MAPRANGE_RESERVED);
	hg_mapset_add(&set, 32 * PG, 34 * PG, 2, 0);
	ck_assert_uint_eq(hg_mapset_set_flags(&set, 20 * PG, 24 * PG, 0, log_flip, &l), 4 * PG);
	ck_assert_uint_eq(set.n, 4);
	expect_flagged(0, 16 * PG, 20 * PG, 1, HG_MAPRANGE_RESERVED);
	expect_flagged(1, 20 * PG, 24 * PG, 1, 0);
	expect_flagged(2, 24 * PG, 32 * PG, 1, HG_MAPRANGE_RESERVED);
	expect_flagged(3, 32 * PG, 34 * PG, 2, 0);
	ck_assert_int_eq(l.n, 1);
	ck_assert_int_eq(l.delta[0], 2);
	ck_assert_uint_eq(l.new_flags[0], 0);
	/* Across three ranges: only the accessible ones change, each trimmed or whole. */
	ck_assert_uint_eq(hg_mapset_set_flags(&set, 22 * PG, 33 * PG, HG_MAPRANGE_RESERVED,
					      log_flip, &l), 3 * PG);
	ck_assert_uint_eq(set.n, 6);
	expect_flagged(1, 20 * PG, 22 * PG, 1, 0);
	expect_flagged(2, 22 * PG, 24 * PG, 1, HG_MAPRANGE_RESERVED);
	expect_flagged(3, 24 * PG, 32 * PG, 1, HG_MAPRANGE_RESERVED);
	expect_flagged(4, 32 * PG, 33 * PG, 2, HG_MAPRANGE_RESERVED);
	expect_flagged(5, 33 * PG, 34 * PG, 2, 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_uint_eq(l.stack[1], 1);
	ck_assert_uint_eq(l.bytes[1], 2 * PG);
	ck_assert_int_eq(l.delta[1], 1);
	ck_assert_uint_eq(l.stack[2], 2);
	ck_assert_uint_eq(l.bytes[2], PG);
	ck_assert_int_eq(l.delta[2], 1);
	/* Nothing to change: no call, no split. */
	ck_assert_uint_eq(hg_mapset_set_flags(&set, 24 * PG, 32 * PG, HG_MAPRANGE_RESERVED,
					      log_flip, &l), 0);
	ck_assert_int_eq(l.n, 3);
	ck_assert_uint_eq(set.n, 6);
}
END_TEST

/* A deterministic 64-bit generator (splitmix64), so failures reproduce. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#define REF_PAGES 512

struct ref_acc {
	uint64_t bytes[8][2]; /* per stack: accessible, reserved */
	int64_t ranges;
};

static void ref_cut(void *ctx, const struct hg_maprange *r, uint64_t bytes, int ranges_delta)
{
	struct ref_acc *a = ctx;

	a->bytes[r->stack_id][r->flags] -= bytes;
	a->ranges += ranges_delta;
}

static void ref_flip(void *ctx, const struct hg_maprange *was, uint64_t bytes, uint32_t new_flags,
		     int ranges_delta)
{
	struct ref_acc *a = ctx;

	a->bytes[was->stack_id][was->flags] -= bytes;
	a->bytes[was->stack_id][new_flags] += bytes;
	a->ranges += ranges_delta;
}

/* One random step on [lo, hi): unmap, map (replacing what it covers) or change flags. */
static void random_step(uint8_t *owner, uint8_t *flag, struct ref_acc *acc, uint64_t *rnd,
			int step)
{
	uint64_t lo = next_random(rnd) % REF_PAGES, len = 1 + next_random(rnd) % 24;
	uint64_t hi = lo + len > REF_PAGES ? REF_PAGES : lo + len, want = 0;
	uint32_t stack = 1 + (uint32_t)(next_random(rnd) % 7), f = next_random(rnd) % 2;
	int op = (int)(next_random(rnd) % 3);

	if (op == 2) {
		for (uint64_t p = lo; p < hi; p++)
			want += owner[p] && flag[p] != f ? PG : 0;
		FX_REQUIRE(hg_mapset_set_flags(&set, lo * PG, hi * PG, f, ref_flip, acc) == want,
			   "step %d: bytes whose flags changed", step);
		for (uint64_t p = lo; p < hi; p++)
			flag[p] = owner[p] ? (uint8_t)f : 0;
		return;
	}
	for (uint64_t p = lo; p < hi; p++)
		want += owner[p] ? PG : 0;
	FX_REQUIRE(hg_mapset_remove(&set, lo * PG, hi * PG, ref_cut, acc) == want,
		   "step %d: bytes removed", step);
	memset(owner + lo, op ? (int)stack : 0, hi - lo);
	memset(flag + lo, op ? (int)f : 0, hi - lo);
	if (op) {
		hg_mapset_add(&set, lo * PG, hi * PG, stack, f);
		acc->bytes[stack][f] += (hi - lo) * PG;
		acc->ranges++;
	}
}

/* Random maps, unmaps and flag changes against an owner and a flag per page. */
START_TEST(test_maprange_random_against_pages)
{
	uint8_t owner[REF_PAGES] = { 0 }, flag[REF_PAGES] = { 0 }; /* owner 0: unmapped */
	struct ref_acc acc = { { { 0 } }, 0 };
	uint64_t rnd = 42;

	for (int step = 0; step < 30000; step++) {
		random_step(owner, flag, &acc, &rnd, step);
		FX_REQUIRE((int64_t)set.n == acc.ranges, "step %d: %zu ranges, deltas say %lld",
			   step, set.n, (long long)acc.ranges);
	}
	for (uint32_t stack = 1; stack < 8; stack++) {
		for (uint32_t f = 0; f < 2; f++) {
			uint64_t pages = 0, bytes = 0;
			for (int p = 0; p < REF_PAGES; p++)
				pages += owner[p] == stack && flag[p] == f;
			for (size_t i = 0; i < set.n; i++)
				if (set.v[i].stack_id == stack && set.v[i].flags == f)
					bytes += set.v[i].hi - set.v[i].lo;
			ck_assert_uint_eq(bytes, pages * PG);
			ck_assert_uint_eq(acc.bytes[stack][f], pages * PG);
		}
	}
	for (size_t i = 0; i + 1 < set.n; i++)
		ck_assert_uint_le(set.v[i].hi, set.v[i + 1].lo);
}
END_TEST

/* ---- the mmap domain of a replay --------------------------------------------------------- */

static struct fx_replay_rig g;

static void trace_setup(void)
{
	fx_replay_rig_open(&g, "m.hgt");
	fx_process(&g.b, 0, T, 100, 1, "prog", 5, "/bin/prog", 64);
}

static void trace_teardown(void)
{
	fx_replay_rig_close(&g);
}

/* Write what was built as one block of thread (pid, pid), close and replay the trace. */
static struct hg_replay *flush_and_replay(uint32_t pid)
{
	fx_replay_rig_block(&g, pid, pid);
	return fx_replay_rig_run(&g, 0, 0);
}

static void expect_msite(const struct hg_mmap_domain *d, uint32_t id, uint64_t live_bytes,
			 uint64_t ranges, uint64_t calls, uint64_t mapped_bytes)
{
	ck_assert_uint_lt(id, d->n_sites);
	ck_assert_uint_eq(d->sites[id].live_bytes, live_bytes);
	ck_assert_uint_eq(d->sites[id].live_blocks, ranges);
	ck_assert_uint_eq(d->sites[id].allocations, calls);
	ck_assert_uint_eq(d->sites[id].allocated_bytes, mapped_bytes);
}

#define M 0x7f0000000000ull
#define MIB (1ull << 20)

START_TEST(test_maprange_domain_munmap_and_mremap)
{
	const struct hg_mmap_domain *d;

	fx_mmap(&g.b, T + 10, M, 4 * MIB, 1);
	fx_mmap(&g.b, T + 20, M + 8 * MIB, 1 * MIB - 100, 2); /* rounded up to whole pages */
	fx_munmap(&g.b, T + 30, M + MIB, PG);                  /* split the first */
	fx_munmap(&g.b, T + 40, M + 3 * MIB, MIB);             /* trim its end */
	fx_mremap(&g.b, T + 50, M + 8 * MIB, MIB, M + 8 * MIB, 2 * MIB, 3, 0);    /* grow */
	fx_mremap(&g.b, T + 60, M + 8 * MIB, 2 * MIB, M + 16 * MIB, 2 * MIB, 4, 1); /* move */
	fx_mremap(&g.b, T + 70, M + 16 * MIB, 2 * MIB, M + 16 * MIB, MIB, 5, 0);   /* shrink */
	fx_munmap(&g.b, T + 80, M + 32 * MIB, MIB);            /* none of ours: nothing */
	fx_mremap(&g.b, T + 90, M + 40 * MIB, MIB, M + 48 * MIB, 2 * MIB, 6, 1); /* a file's */
	flush_and_replay(100);
	d = &g.r->images[0]->mmap;
	ck_assert_uint_eq(d->live_bytes, 3 * MIB - PG + MIB);
	ck_assert_uint_eq(d->live_mappings, 3);
	ck_assert_uint_eq(d->peak_bytes, 5 * MIB); /* both first mappings whole */
	ck_assert_uint_eq(d->peak_time_ns, 20);
	ck_assert_uint_eq(d->maps, 2);
	ck_assert_uint_eq(d->unmaps, 2);
	ck_assert_uint_eq(d->remaps, 3);
	ck_assert_uint_eq(d->mapped_bytes, 4 * MIB + MIB + 2 * MIB + 2 * MIB + MIB);
	expect_msite(d, 1, 3 * MIB - PG, 2, 1, 4 * MIB);
	expect_msite(d, 2, 0, 0, 1, MIB);
	expect_msite(d, 3, 0, 0, 1, 2 * MIB);
	expect_msite(d, 4, 0, 0, 1, 2 * MIB);
	expect_msite(d, 5, MIB, 1, 1, MIB);
	ck_assert_uint_eq(d->ranges.v[2].lo, M + 16 * MIB);
	ck_assert_uint_eq(d->ranges.v[2].hi, M + 17 * MIB);
	/* The heap domain saw none of it. */
	ck_assert_uint_eq(g.r->images[0]->totals.peak_bytes, 0);
	ck_assert_uint_eq(g.r->images[0]->totals.allocations, 0);
}
END_TEST

START_TEST(test_maprange_domain_fixed_and_dontunmap)
{
	const struct hg_mmap_domain *d;

	fx_mmap(&g.b, T + 10, M, 4 * MIB, 1);
	fx_mmap(&g.b, T + 20, M + MIB, MIB, 2);                /* MAP_FIXED over the middle */
	fx_mremap(&g.b, T + 30, M + MIB, MIB, M + 8 * MIB, MIB, 3, 1 | 2 | 4); /* DONTUNMAP */
	flush_and_replay(100);
	d = &g.r->images[0]->mmap;
	ck_assert_uint_eq(d->live_bytes, 5 * MIB);
	ck_assert_uint_eq(d->live_mappings, 4);
	expect_msite(d, 1, 3 * MIB, 2, 1, 4 * MIB);
	expect_msite(d, 2, MIB, 1, 1, MIB);
	expect_msite(d, 3, MIB, 1, 1, MIB);
}
END_TEST

/* A runtime's way: reserve 64 MiB, commit 2 MiB by mprotect, then more by MAP_FIXED, release. */
START_TEST(test_maprange_domain_reserved_then_committed)
{
	const struct hg_mmap_domain *d;

	fx_mmap_none(&g.b, T + 10, M, 64 * MIB, 1);
	fx_mprotect(&g.b, T + 20, M, 2 * MIB, 3);
	fx_mmap(&g.b, T + 30, M + 8 * MIB, MIB, 2);           /* MAP_FIXED, read-write */
	fx_mprotect(&g.b, T + 40, M + MIB, MIB, 0);           /* decommit half again */
	fx_mremap(&g.b, T + 50, M + 8 * MIB, MIB, M + 80 * MIB, 2 * MIB, 3, 1);
	fx_mprotect(&g.b, T + 60, M + 200 * MIB, MIB, 3);     /* not ours: nothing */
	flush_and_replay(100);
	d = &g.r->images[0]->mmap;
	ck_assert_uint_eq(d->live_bytes, MIB + 2 * MIB);
	ck_assert_uint_eq(d->reserved_bytes, 64 * MIB - 2 * MIB - MIB + MIB);
	ck_assert_uint_eq(d->peak_bytes, 3 * MIB);
	/* MiB [0,1) rw, [1,2) and [2,8) and [9,64) reserved, [80,82) rw (moved) */
	ck_assert_uint_eq(d->live_mappings, 5);
	expect_msite(d, 1, MIB, 4, 1, 64 * MIB);
	expect_msite(d, 2, 0, 0, 1, MIB);
	expect_msite(d, 3, 2 * MIB, 1, 1, 2 * MIB);
}
END_TEST

START_TEST(test_maprange_domain_fork_copy_and_snapshot)
{
	const struct hg_image *parent, *child;
	uint64_t snap[4] = { 0 };

	fx_mmap(&g.b, T + 10, M, 2 * MIB, 1);
	fx_process(&g.b, HG_PROCESS_FORK, T + 20, 101, 100, "prog", 5, "/bin/prog", 64);
	fx_replay_rig_block(&g, 100, 100);
	fx_munmap(&g.b, T + 30, M, MIB);
	/* A snapshot of the child after its munmap: the domain's figures at that moment. */
	{
		struct hg_rec_snapshot sn = { { HG_REC_SNAPSHOT, HG_SNAP_CALL, 40 }, T + 40, 1, 2,
					      1, 1 };
		fx_buf_put(&g.b, &sn, sizeof(sn));
		fx_buf_put(&g.b, "s", 2);
		fx_buf_put(&g.b, snap, 6);
	}
	fx_mmap(&g.b, T + 50, M + 4 * MIB, MIB, 2);
	flush_and_replay(101);
	ck_assert_uint_eq(g.r->n_images, 2);
	parent = g.r->images[0];
	child = g.r->images[1];
	ck_assert_uint_eq(parent->mmap.live_bytes, 2 * MIB);
	ck_assert_uint_eq(child->mmap.live_bytes, 2 * MIB);
	ck_assert_uint_eq(child->mmap.live_mappings, 2);
	ck_assert_uint_eq(child->mmap.maps, 1); /* its own call; the copy is not one */
	expect_msite(&child->mmap, 1, MIB, 1, 0, 0);
	ck_assert_uint_eq(child->n_snapshots, 1);
	ck_assert_uint_eq(child->snapshots[0]->mmap_bytes, MIB);
	ck_assert_uint_eq(child->snapshots[0]->mmap_mappings, 1);
}
END_TEST

Suite *maprange_suite(void);

Suite *maprange_suite(void)
{
	Suite *s = suite_create("maprange");
	TCase *ranges = tcase_create("ranges");
	TCase *domain = tcase_create("domain");

	tcase_add_checked_fixture(ranges, NULL, set_teardown);
	tcase_add_checked_fixture(domain, trace_setup, trace_teardown);
	suite_add_tcase(s, ranges);
	suite_add_tcase(s, domain);
	tcase_add_test(ranges, test_maprange_munmap_inside_splits);
	tcase_add_test(ranges, test_maprange_munmap_across_trims_and_drops);
	tcase_add_test(ranges, test_maprange_remove_exact_and_nothing);
	tcase_add_test(ranges, test_maprange_set_flags_splits);
	tcase_add_test(ranges, test_maprange_random_against_pages);
	tcase_add_test(domain, test_maprange_domain_munmap_and_mremap);
	tcase_add_test(domain, test_maprange_domain_fixed_and_dontunmap);
	tcase_add_test(domain, test_maprange_domain_reserved_then_committed);
	tcase_add_test(domain, test_maprange_domain_fork_copy_and_snapshot);
	return s;
}
