/*
 * check_walk.c - unit tests for the shim's stack walker (preload/walk.c, preload/cfi.c)
 *
 * The walker must give exactly what libunwind gives for the same stack, or decline. Each test
 * captures with both from one place and compares everything outside the capture helper: the
 * helper's own frame differs (two call sites), the frames beyond it must be identical. The
 * stacks are built to hit each path: recursion of every depth up to 60, frames whose CFA is rbp
 * (alloca), the same stack again (copied from the previous walk), a function called from two
 * callers with identical frames at the same depth (the copy must notice the changed return
 * address), threads, and a signal handler (declines: the signal frame is libunwind's).
 * Remembered walks (hg_walk_recall) must be found again only where the walk would read the same;
 * a walk is remembered the second time its first frame is walked, and a set keeps four.
 */
#include <alloca.h>
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hg_format.h"
#include "stack.h"
#include "unwind.h"
#include "walk.h"

#define MAX 280

struct both {
	void *w[MAX], *u[MAX];
	int nw, nu;
};

/* Capture with both, the walker from this function's caller as the shim's entry points do
 * (HG_CALLER_FRAME); the frames from the caller of this function's caller on are compared. */
static __attribute__((noinline)) void capture(struct both *b)
{
	struct hg_frame from;

	HG_CALLER_FRAME(&from);
	b->nw = hg_walk_from(from.ret, from.sp, from.bp, b->w, MAX);
	b->nu = hg_unwind_backtrace(b->u, MAX);
	__asm__ volatile("" ::: "memory"); /* no tail call: this frame stays */
}

/* Index of the first frame equal to ra (the return address into the capture's caller). */
static int index_of(void *const *ip, int n, void *ra)
{
	for (int i = 0; i < n; i++)
		if (ip[i] == ra)
			return i;
	return -1;
}

/* The walker answered and agrees with libunwind from the capture's caller outwards. */
static void assert_same(const struct both *b, void *ra, int may_decline)
{
	int iw, iu;

	if (may_decline && b->nw < 0)
		return;
	ck_assert_int_gt(b->nw, 0);
	ck_assert_int_gt(b->nu, 0);
	iw = index_of(b->w, b->nw, ra);
	iu = index_of(b->u, b->nu, ra);
	ck_assert_int_ge(iw, 0);
	ck_assert_int_ge(iu, 0);
	ck_assert_int_eq(b->nw - iw, b->nu - iu);
	ck_assert_mem_eq(b->w + iw, b->u + iu, (size_t)(b->nw - iw) * sizeof(void *));
}

static volatile int sink;

/* Capture, and say where this function returns to: the frame compared from. */
static __attribute__((noinline)) void leaf_capture(struct both *b, void **ra)
{
	capture(b);
	*ra = __builtin_return_address(0);
	sink++;
}

static __attribute__((noinline)) void rec2(int d, struct both *b, void **ra)
{
	if (d == 0) {
		leaf_capture(b, ra);
		sink++;
		return;
	}
	if (d % 3 == 0) {
		volatile char *pad = alloca((size_t)(16 + d * 8));
		pad[0] = (char)d;
		rec2(d - 1, b, ra);
		sink += pad[0];
	} else {
		rec2(d - 1, b, ra);
		sink++;
	}
}

static void init(void)
{
	ck_assert_int_eq(hg_stack_init(HG_MAX_FRAMES, 1), 0);
	ck_assert_int_eq(hg_unwind_load(), 0);
}

START_TEST(test_walk_matches_libunwind_at_every_depth)
{
	struct both b;
	void *ra;

	init();
	for (int round = 0; round < 2; round++) /* the second round copies from the first */
		for (int d = 0; d <= 60; d++) {
			rec2(d, &b, &ra);
			assert_same(&b, ra, 0);
			rec2(d, &b, &ra); /* the same stack again: copied */
			assert_same(&b, ra, 0);
		}
	for (int d = 60; d >= 0; d--) { /* shallower each time: copies from deeper walks */
		rec2(d, &b, &ra);
		assert_same(&b, ra, 0);
	}
}
END_TEST

/* Two callers with the same frame size at the same depth, calling one function. */
static __attribute__((noinline)) void shared_callee(struct both *b, void **ra)
{
	leaf_capture(b, ra);
	sink++;
}

static __attribute__((noinline)) void caller_a(struct both *b, void **ra)
{
	shared_callee(b, ra);
	sink += 1;
}

static __attribute__((noinline)) void caller_b(struct both *b, void **ra)
{
	shared_callee(b, ra);
	sink += 2;
}

START_TEST(test_walk_notices_a_changed_caller)
{
	struct both b;
	void *ra;
	void (*f[2])(struct both *, void **) = { caller_a, caller_b };

	init();
	for (int i = 0; i < 40; i++) {
		f[(i / 3 + i) % 2](&b, &ra); /* one call site, callers alternating irregularly */
		assert_same(&b, ra, 0);
	}
}
END_TEST

static void *thread_main(void *arg)
{
	struct both b;
	void *ra;

	(void)arg;
	for (int d = 0; d < 30; d += 7) {
		rec2(d, &b, &ra);
		assert_same(&b, ra, 0);
	}
	hg_walk_release_thread();
	return NULL;
}

START_TEST(test_walk_in_threads)
{
	pthread_t t[3];

	init();
	for (int round = 0; round < 2; round++) { /* the second round reuses released states */
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, thread_main, NULL), 0);
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	}
}
END_TEST

static struct both sig_b;
static void *sig_ra;

static void on_signal(int sig)
{
	(void)sig;
	leaf_capture(&sig_b, &sig_ra);
}

START_TEST(test_walk_through_a_signal_frame)
{
	struct both b;
	void *ra;

	init();
	signal(SIGUSR1, on_signal);
	rec2(5, &b, &ra); /* a previous walk of this thread to copy from */
	raise(SIGUSR1);
	/* Through __restore_rt the walker declines (its CIE is a signal frame): never a guess. */
	assert_same(&sig_b, sig_ra, 1);
	ck_assert_int_lt(sig_b.nw, 0);
	signal(SIGUSR1, SIG_DFL);
	rec2(5, &b, &ra); /* and it is back on its feet after declining */
	assert_same(&b, ra, 0);
}
END_TEST

/* After a flush (code unloaded) the rules are read again and the result is the same. */
START_TEST(test_walk_after_flush)
{
	struct both b;
	void *ra;

	init();
	rec2(12, &b, &ra);
	assert_same(&b, ra, 0);
	hg_walk_flush();
	rec2(12, &b, &ra);
	assert_same(&b, ra, 0);
}
END_TEST

/* Walks from n code addresses from base on, each from a zeroed stack: each ends at its first
 * return address, 0, or declines, and each looks up a rule for another address. */
static __attribute__((noinline)) void walk_from_code(uint64_t base, int n)
{
	uint64_t zeros[1100] = { 0 }; /* past the largest frame a rule describes (8,184 bytes) */
	uint64_t sp = (uint64_t)(uintptr_t)zeros;
	void *ip[4];

	for (int i = 0; i < n; i++)
		hg_walk_from(base + (uint64_t)i, sp, sp, ip, 4);
	__asm__ volatile("" ::: "memory");
}

/* The rule cache grows in place once it has missed 4,096 times (walks from 6,000 addresses of
 * libc, each a miss; earlier tests in the same process, with CK_FORK=no, missed fewer than
 * 3,000 times): the rules then land all over its 2^13 words, a flush clears every one of
 * them, and real walks before and after the flush still agree with libunwind. */
START_TEST(test_walk_rules_grow)
{
	struct both b;
	void *ra;

	init();
	if (hg_walk_rule_bits() == 11) {
		walk_from_code((uint64_t)(uintptr_t)&qsort, 1000);
		ck_assert_uint_eq(hg_walk_rule_bits(), 11);
		ck_assert_uint_eq(hg_walk_rules_held(1u << 11), 0);
		walk_from_code((uint64_t)(uintptr_t)&qsort + 1000, 5000);
	}
	ck_assert_uint_eq(hg_walk_rule_bits(), 13);
	/* 2,000 or more rules read since: about three quarters hash past the first 2^11 words. */
	ck_assert_uint_gt(hg_walk_rules_held(1u << 11), 1000);
	rec2(12, &b, &ra);
	assert_same(&b, ra, 0);
	hg_walk_flush();
	ck_assert_uint_eq(hg_walk_rules_held(0), 0);
	rec2(12, &b, &ra);
	assert_same(&b, ra, 0);
	ck_assert_uint_gt(hg_walk_rules_held(0), 0);
}
END_TEST

/* Capture as the shim does, m->remember times: look the walk up, else walk and offer the walk
 * to be remembered under m->id; or only look it up (remember 0), with what it found in m. From
 * the frame of this function's caller: memo_leaf, whichever way it was reached. */
struct memo_try {
	int remember, found; /* remember -1: only note where the capture would start */
	uint32_t id;
};

static struct hg_frame memo_at; /* where, at remember -1 */

static __attribute__((noinline)) void memo_capture(struct memo_try *m)
{
	struct hg_frame from;
	void *ip[MAX];

	HG_CALLER_FRAME(&from);
	if (m->remember < 0) {
		memo_at = from;
	} else if (m->remember) {
		for (int i = 0; i < m->remember; i++) {
			uint32_t id;

			if (hg_walk_recall(from.ret, from.sp, from.bp, &id))
				continue;
			ck_assert_int_gt(hg_walk_from(from.ret, from.sp, from.bp, ip, MAX), 0);
			hg_walk_remember(m->id);
		}
	} else {
		m->found = hg_walk_recall(from.ret, from.sp, from.bp, &m->id);
	}
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void memo_leaf(struct memo_try *m)
{
	memo_capture(m);
	sink++;
}

/* Two callers of memo_leaf at the same depth: the same first frame, another return address. */
static __attribute__((noinline)) void memo_via_a(struct memo_try *m)
{
	memo_leaf(m);
	sink += 1;
}

static __attribute__((noinline)) void memo_via_b(struct memo_try *m)
{
	memo_leaf(m);
	sink += 2;
}

/*
 * A script of remembers and recalls, each made from the one call site in run_script, so that
 * the stacks differ only where a step says. via NULL: a flush (code unloaded).
 */
struct memo_step {
	void (*via)(struct memo_try *);
	int remember; /* walks offered (R: enough to be kept), 0 to recall, -1 to note where */
	uint32_t id; /* remember: the id to keep; recall: the id expected, 0 for not found */
	int depth;   /* memo_at_depth's */
};

static int memo_depth;

#define R 2

static void run_script(const struct memo_step *step, int n)
{
	for (int i = 0; i < n; i++) {
		struct memo_try m = { step[i].remember, 0, step[i].remember > 0 ? step[i].id : 0 };

		if (!step[i].via) {
			hg_walk_flush();
			continue;
		}
		memo_depth = step[i].depth;
		step[i].via(&m);
		if (step[i].remember == 0)
			ck_assert_msg((m.found ? m.id : 0) == step[i].id,
				      "step %d: recalled %u, expected %u", i, m.found ? m.id : 0,
				      step[i].id);
	}
}

START_TEST(test_walk_recall_only_the_same_stack)
{
	static const struct memo_step script[] = {
		{ NULL, 0, 0, 0 }, /* nothing remembered by other tests counts */
		{ memo_via_a, 0, 0, 0 },
		{ memo_via_a, R, 7, 0 },
		{ memo_via_a, 0, 7, 0 },
		{ memo_via_a, 0, 7, 0 },
		/* The same first frame, reached from elsewhere: the walk would read another word. */
		{ memo_via_b, 0, 0, 0 },
		{ memo_via_b, R, 8, 0 },
		{ memo_via_b, 0, 8, 0 },
		{ memo_via_a, 0, 7, 0 }, /* both walks are kept, each found by its own path */
		{ memo_via_b, 0, 8, 0 },
		/* Code unloaded: what was remembered may be another code's now. */
		{ NULL, 0, 0, 0 },
		{ memo_via_a, 0, 0, 0 },
	};

	init();
	run_script(script, (int)(sizeof(script) / sizeof(script[0])));
}
END_TEST

/* memo_via_a from two outer callers: the walks differ only past their first word. */
static __attribute__((noinline)) void memo_outer_x(struct memo_try *m)
{
	memo_via_a(m);
	sink += 4;
}

static __attribute__((noinline)) void memo_outer_y(struct memo_try *m)
{
	memo_via_a(m);
	sink += 5;
}

START_TEST(test_walk_recall_checks_every_word)
{
	static const struct memo_step script[] = {
		{ NULL, 0, 0, 0 },
		{ memo_outer_x, R, 11, 0 },
		{ memo_outer_x, 0, 11, 0 },
		/* Same first frame and first word; a later word differs: */
		{ memo_outer_y, 0, 0, 0 },
		{ memo_outer_y, R, 12, 0 },
		{ memo_outer_y, 0, 12, 0 },
		{ memo_outer_x, 0, 11, 0 },
	};

	init();
	run_script(script, (int)(sizeof(script) / sizeof(script[0])));
}
END_TEST

/* One more frame in between: the first frame is the same code at another stack pointer. */
static __attribute__((noinline)) void memo_deeper(struct memo_try *m)
{
	memo_via_a(m);
	sink += 3;
}

START_TEST(test_walk_recall_at_another_depth)
{
	static const struct memo_step script[] = {
		{ NULL, 0, 0, 0 },
		{ memo_via_a, R, 9, 0 },
		{ memo_deeper, 0, 0, 0 },
		{ memo_deeper, R, 10, 0 },
		{ memo_deeper, 0, 10, 0 },
		{ memo_via_a, 0, 9, 0 },
	};

	init();
	run_script(script, (int)(sizeof(script) / sizeof(script[0])));
}
END_TEST

/* Three more paths to the first frame of memo_outer_x's and memo_outer_y's walks. */
static __attribute__((noinline)) void memo_outer_z(struct memo_try *m)
{
	memo_via_b(m);
	sink += 6;
}

static __attribute__((noinline)) void memo_outer_w(struct memo_try *m)
{
	memo_via_b(m);
	sink += 7;
}

static __attribute__((noinline)) void memo_outer_v(struct memo_try *m)
{
	memo_via_a(m);
	sink += 8;
}

START_TEST(test_walk_remembered_the_second_time)
{
	static const struct memo_step script[] = {
		{ NULL, 0, 0, 0 },
		{ memo_outer_x, 1, 11, 0 }, /* a first frame walked once: not kept */
		{ memo_outer_x, 0, 0, 0 },
		{ memo_outer_x, 1, 11, 0 }, /* and again: kept */
		{ memo_outer_x, 0, 11, 0 },
		/* Walked from that frame before: another path through it is kept at once. */
		{ memo_outer_y, 1, 12, 0 },
		{ memo_outer_y, 0, 12, 0 },
		{ memo_outer_x, 0, 11, 0 },
		{ memo_via_a, 1, 9, 0 }, /* another first frame, not walked since the flush */
		{ memo_via_a, 0, 0, 0 },
		/* Code unloaded: the frames walked from may be another code's now. */
		{ NULL, 0, 0, 0 },
		{ memo_via_a, 1, 9, 0 },
		{ memo_via_a, 0, 0, 0 },
	};

	init();
	run_script(script, (int)(sizeof(script) / sizeof(script[0])));
}
END_TEST

START_TEST(test_walk_recall_keeps_the_four_last_used)
{
	static const struct memo_step script[] = {
		{ NULL, 0, 0, 0 },
		{ memo_outer_x, R, 11, 0 },
		{ memo_outer_y, R, 12, 0 },
		{ memo_outer_z, R, 13, 0 },
		{ memo_outer_w, R, 14, 0 },
		{ memo_outer_w, 0, 14, 0 },
		{ memo_outer_z, 0, 13, 0 },
		{ memo_outer_x, 0, 11, 0 },
		{ memo_outer_y, 0, 12, 0 },
		/* A fifth path from the same frame takes the way least recently used: w's. */
		{ memo_outer_v, R, 15, 0 },
		{ memo_outer_v, 0, 15, 0 },
		{ memo_outer_w, 0, 0, 0 },
		{ memo_outer_x, 0, 11, 0 },
		{ memo_outer_y, 0, 12, 0 },
		{ memo_outer_z, 0, 13, 0 },
	};

	init();
	run_script(script, (int)(sizeof(script) / sizeof(script[0])));
}
END_TEST

/* memo_leaf memo_depth more frames down: the same code at another stack pointer each time. */
static __attribute__((noinline)) void memo_at_depth(struct memo_try *m)
{
	if (memo_depth-- > 0)
		memo_at_depth(m);
	else
		memo_leaf(m);
	sink++;
}

#define DEPTHS 65 /* more first frames than the memo has sets: two of them share one */

/*
 * Two first frames of one set, walked in turn: each walk's frame is not the one the set saw
 * last, yet both are remembered within a few turns (a set declines only so many in a row).
 */
START_TEST(test_walk_remembered_when_frames_take_turns)
{
	size_t set[DEPTHS];
	int d1 = -1, d2 = -1;

	init();
	for (int d = 0; d < DEPTHS && d2 < 0; d++) {
		const struct memo_step where = { memo_at_depth, -1, 0, d };

		run_script(&where, 1);
		set[d] = hg_walk_memo_set(memo_at.ret, memo_at.sp);
		for (int e = 0; e < d && d2 < 0; e++)
			if (set[e] == set[d]) {
				d1 = e;
				d2 = d;
			}
	}
	ck_assert_int_ge(d1, 0);
	{
		const struct memo_step script[] = {
			{ NULL, 0, 0, 0 },
			{ memo_at_depth, 1, 101, d1 }, { memo_at_depth, 1, 102, d2 },
			{ memo_at_depth, 1, 101, d1 }, { memo_at_depth, 1, 102, d2 },
			{ memo_at_depth, 1, 101, d1 }, { memo_at_depth, 1, 102, d2 },
			{ memo_at_depth, 0, 101, d1 }, { memo_at_depth, 0, 102, d2 },
		};

		run_script(script, (int)(sizeof(script) / sizeof(script[0])));
	}
}
END_TEST

Suite *walk_suite(void);

Suite *walk_suite(void)
{
	Suite *s = suite_create("walk");
	TCase *tc = tcase_create("walk");

	tcase_add_test(tc, test_walk_matches_libunwind_at_every_depth);
	tcase_add_test(tc, test_walk_notices_a_changed_caller);
	tcase_add_test(tc, test_walk_in_threads);
	tcase_add_test(tc, test_walk_through_a_signal_frame);
	tcase_add_test(tc, test_walk_after_flush);
	tcase_add_test(tc, test_walk_rules_grow);
	tcase_add_test(tc, test_walk_recall_only_the_same_stack);
	tcase_add_test(tc, test_walk_recall_at_another_depth);
	tcase_add_test(tc, test_walk_recall_checks_every_word);
	tcase_add_test(tc, test_walk_remembered_the_second_time);
	tcase_add_test(tc, test_walk_recall_keeps_the_four_last_used);
	tcase_add_test(tc, test_walk_remembered_when_frames_take_turns);
	suite_add_tcase(s, tc);
	return s;
}
