/*
 * check_lineage.c - unit tests for the process trees of traces and their pairing
 * (analyzer/lineage.c)
 *
 * Images are made by hand with only what lineage reads (pid, ppid, forked, exec, start time,
 * command, executable). The two traces of samples/fork_siblings.c are the main fixture: a
 * parent, two fork children A and B, and the worker each execs; only A's worker leaks, and
 * which worker reaches the file first depends on scheduling.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "lineage.h"

#define PROG "/build/samples/fork_siblings"
#define MAX_IMAGES 8

enum { ROOT, A, B, A_WORKER, B_WORKER, N_SIBLINGS };

struct trace {
	struct hg_image im[MAX_IMAGES];
	struct hg_image *order[MAX_IMAGES]; /* as the file has them */
	uint32_t n;
};

static struct trace old, now;

static void setup(void)
{
	memset(&old, 0, sizeof(old));
	memset(&now, 0, sizeof(now));
}

static void teardown(void)
{
}

/* Image k of t: started t_ms after the trace began. */
static struct hg_image *image(struct trace *t, uint32_t k, uint32_t pid, uint32_t ppid,
			      int forked, int exec, uint64_t t_ms, const char *command)
{
	struct hg_image *im = &t->im[k];

	im->pid = pid;
	im->ppid = ppid;
	im->forked = forked;
	im->exec = exec;
	im->t_start_ns = 1000000000ull + t_ms * 1000000ull;
	im->command = (char *)command;
	im->exe = (char *)PROG;
	if (k >= t->n)
		t->n = k + 1;
	return im;
}

/* fork_siblings LEAKS as recorded: parent pid, then A = pid + 1 and B = pid + 2 by default. */
static void fork_siblings(struct trace *t, uint32_t pid, uint32_t a, uint32_t b,
			  const char *command)
{
	image(t, ROOT, pid, pid - 1, 0, 0, 1, command);
	image(t, A, a, pid, 1, 0, 2, command);
	image(t, B, b, pid, 1, 0, 3, command);
	image(t, A_WORKER, a, pid, 0, 1, 10, PROG " --worker");
	image(t, B_WORKER, b, pid, 0, 1, 20, PROG " --worker");
}

static void file_order(struct trace *t, const int *k)
{
	for (uint32_t i = 0; i < t->n; i++)
		t->order[i] = &t->im[k[i]];
}

/* The pairing, as (old image, new image) indices; -1 for no image. */
static size_t pairs(int (*got)[2])
{
	size_t n;
	struct hg_image_pair *p = hg_lineage_pair(old.order, old.n, now.order, now.n, &n);

	for (size_t i = 0; i < n; i++) {
		got[i][0] = p[i].old ? (int)(p[i].old - old.im) : -1;
		got[i][1] = p[i].now ? (int)(p[i].now - now.im) : -1;
	}
	free(p);
	return n;
}

static void check_pairs(const int (*want)[2], size_t n_want)
{
	int got[2 * MAX_IMAGES][2];
	size_t n = pairs(got);

	ck_assert_uint_eq(n, n_want);
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(got[i][0], want[i][0]);
		ck_assert_int_eq(got[i][1], want[i][1]);
	}
}

static const int by_lineage[][2] = {
	{ ROOT, ROOT }, { A, A }, { A_WORKER, A_WORKER }, { B, B }, { B_WORKER, B_WORKER }
};

/* ---- pairing -------------------------------------------------------------------------- */

START_TEST(test_lineage_workers_pair_by_their_fork_parents_not_file_order)
{
	/* what diff saw: old forward, new reverse, B's fork child even ahead of A's */
	static const int old_file[] = { ROOT, A, A_WORKER, B, B_WORKER };
	static const int new_file[] = { ROOT, B, B_WORKER, A, A_WORKER };

	fork_siblings(&old, 5238, 5239, 5240, PROG " 1");
	fork_siblings(&now, 5242, 5243, 5244, PROG " 3");
	image(&now, B_WORKER, 5244, 5242, 0, 1, 5, PROG " --worker"); /* B's worker ran first */
	file_order(&old, old_file);
	file_order(&now, new_file);
	check_pairs(by_lineage, N_SIBLINGS);
}
END_TEST

/* Every order of the new trace's file gives the same pairing, in the same order. */
START_TEST(test_lineage_pairing_ignores_file_order)
{
	int k[N_SIBLINGS], pool[N_SIBLINGS] = { ROOT, A, B, A_WORKER, B_WORKER };
	int rest = _i;

	fork_siblings(&old, 100, 101, 102, PROG " 1");
	fork_siblings(&now, 200, 201, 202, PROG " 3");
	for (int i = 0, left = N_SIBLINGS; i < N_SIBLINGS; i++, left--) { /* permutation _i */
		int f = 1, pick;
		for (int j = 2; j < left; j++)
			f *= j;
		pick = rest / f;
		rest %= f;
		k[i] = pool[pick];
		memmove(pool + pick, pool + pick + 1, sizeof(*pool) * (size_t)(left - pick - 1));
	}
	file_order(&old, (const int[]){ ROOT, A, B, A_WORKER, B_WORKER });
	file_order(&now, k);
	check_pairs(by_lineage, N_SIBLINGS);
}
END_TEST

/* Siblings go by start time: after a pid wrap the first-born has the larger pid. */
START_TEST(test_lineage_siblings_by_birth_not_pid)
{
	static const int in_order[] = { ROOT, A, B, A_WORKER, B_WORKER };

	fork_siblings(&old, 100, 101, 102, PROG " 1");
	fork_siblings(&now, 32766, 32767, 301, PROG " 1");
	file_order(&old, in_order);
	file_order(&now, (const int[]){ ROOT, B, B_WORKER, A, A_WORKER });
	check_pairs(by_lineage, N_SIBLINGS);
}
END_TEST

/* A third child in the new trace, and its worker, have no counterpart; so has an old worker
 * whose command line the new trace does not repeat. */
START_TEST(test_lineage_lone_images_keep_their_place)
{
	enum { C = N_SIBLINGS, C_WORKER };
	static const int want[][2] = {
		{ ROOT, ROOT }, { A, A }, { A_WORKER, A_WORKER }, { B, B }, { -1, B_WORKER },
		{ B_WORKER, -1 }, { -1, C }, { -1, C_WORKER }
	};
	static const int old_file[] = { ROOT, A, B, A_WORKER, B_WORKER };
	static const int new_file[] = { ROOT, A, B, C, A_WORKER, B_WORKER, C_WORKER };

	fork_siblings(&old, 100, 101, 102, PROG " 1");
	fork_siblings(&now, 200, 201, 202, PROG " 1");
	image(&now, C, 203, 200, 1, 0, 4, PROG " 1");
	image(&now, C_WORKER, 203, 200, 0, 1, 30, PROG " --worker");
	now.im[B_WORKER].command = (char *)PROG " --worker --quiet";
	file_order(&old, old_file);
	file_order(&now, new_file);
	check_pairs(want, sizeof(want) / sizeof(want[0]));
}
END_TEST

/* The roots pair whatever their commands; children pair by how they began and command line,
 * where a command repeating the parent's matches one repeating its own parent's. */
START_TEST(test_lineage_children_need_the_same_place)
{
	static const int want[][2] = {
		{ 0, 0 }, { 1, 1 }, { -1, 2 }, { 3, 3 }, { 4, 4 }, { 2, -1 }
	};
	static const int file[] = { 0, 1, 2, 3, 4 };

	image(&old, 0, 10, 1, 0, 0, 0, "/bin/sh -c make");
	image(&old, 1, 11, 10, 1, 0, 1, "/bin/sh -c make");   /* fork: inherited */
	image(&old, 2, 12, 10, 0, 0, 2, "cc -c a.c");         /* spawn */
	image(&old, 3, 13, 10, 1, 0, 3, "/bin/sh -c make");   /* fork: inherited */
	image(&old, 4, 13, 10, 0, 1, 4, "cc -c b.c");         /* exec over 3 */
	image(&now, 0, 20, 1, 0, 0, 0, "/bin/bash -c make");  /* another root command */
	image(&now, 1, 21, 20, 1, 0, 1, "/bin/bash -c make");
	image(&now, 2, 22, 20, 1, 0, 2, "cc -c a.c");          /* a fork, not a spawn */
	image(&now, 3, 23, 20, 1, 0, 3, "/bin/bash -c make");
	image(&now, 4, 23, 20, 0, 1, 4, "cc -c b.c");
	file_order(&old, file);
	file_order(&now, file);
	check_pairs(want, sizeof(want) / sizeof(want[0]));
}
END_TEST

/*
 * A compiler driver's children write to temporary files named afresh each run: the cc1s of
 * two runs, and their as, whose commands differ only in the names right after /tmp/ (their
 * extensions kept), pair. A file under some other tmp directory is not a temporary name, nor
 * is a name with another extension: those children stay apart (the new trace's lone images
 * listed first, then the old one's).
 */
START_TEST(test_lineage_temporary_names_do_not_keep_children_apart)
{
	static const int want[][2] = {
		{ 0, 0 }, { 1, 1 }, { 2, 2 }, { -1, 3 }, { -1, 4 }, { 3, -1 }, { 4, -1 }
	};
	static const int file[] = { 0, 1, 2, 3, 4 };

	image(&old, 0, 10, 1, 0, 0, 0, "gcc -O2 -c x.c");
	image(&old, 1, 11, 10, 0, 0, 1, "cc1 -quiet x.c -o /tmp/ccAbC123.s");
	image(&old, 2, 12, 10, 0, 0, 2, "as -o x.o /tmp/ccAbC123.s --64 -I/tmp/tmp.Qw3Er5Ty7U");
	image(&old, 3, 13, 10, 0, 0, 3, "tool /home/u/tmp/ab12 --out=/tmp/k9.json");
	image(&old, 4, 14, 10, 0, 0, 4, "tool -o/tmp/k9.json");
	image(&now, 0, 20, 1, 0, 0, 0, "gcc -O2 -c x.c");
	image(&now, 1, 21, 20, 0, 0, 1, "cc1 -quiet x.c -o /tmp/ccZz9876.s");
	image(&now, 2, 22, 20, 0, 0, 2, "as -o x.o /tmp/ccZz9876.s --64 -I/tmp/tmp.Zx0Cv8Bn6M");
	image(&now, 3, 23, 20, 0, 0, 3, "tool /home/u/tmp/cd34 --out=/tmp/m2.json");
	image(&now, 4, 24, 20, 0, 0, 4, "tool -o/tmp/m2.txt");
	file_order(&old, file);
	file_order(&now, file);
	check_pairs(want, sizeof(want) / sizeof(want[0]));
}
END_TEST

START_TEST(test_lineage_empty_traces)
{
	static const int want[][2] = { { -1, ROOT }, { -1, A }, { -1, A_WORKER }, { -1, B },
				       { -1, B_WORKER } };
	static const int in_order[] = { ROOT, A, B, A_WORKER, B_WORKER };
	int got[1][2];

	ck_assert_uint_eq(pairs(got), 0);
	fork_siblings(&now, 200, 201, 202, PROG " 1");
	file_order(&now, in_order);
	check_pairs(want, N_SIBLINGS);
}
END_TEST

/* A damaged trace whose images name each other as parents at one instant: no endless walk. */
START_TEST(test_lineage_parent_cycle_cannot_form)
{
	static const int want[][2] = { { 0, 0 }, { 1, 1 } };
	static const int file[] = { 0, 1 };

	image(&old, 0, 7, 8, 1, 0, 5, "x");
	image(&old, 1, 8, 7, 1, 0, 5, "x");
	image(&now, 0, 7, 8, 1, 0, 5, "x");
	image(&now, 1, 8, 7, 1, 0, 5, "x");
	file_order(&old, file);
	file_order(&now, file);
	check_pairs(want, 2);
}
END_TEST

/* ---- roots and programs --------------------------------------------------------------- */

START_TEST(test_lineage_root_is_not_the_first_in_the_file)
{
	fork_siblings(&now, 200, 201, 202, PROG " 1");
	file_order(&now, (const int[]){ A, B, ROOT, B_WORKER, A_WORKER });
	ck_assert_ptr_eq(hg_lineage_root(now.order, now.n), &now.im[ROOT]);
	ck_assert_ptr_null(hg_lineage_root(now.order, 0));
}
END_TEST

START_TEST(test_lineage_program_is_the_executable_name)
{
	struct hg_image *im = image(&now, 0, 1, 0, 0, 0, 0, "./build/prog --fast");
	const char *p;
	size_t len;

	p = hg_lineage_program(im, &len);
	ck_assert_uint_eq(len, strlen("fork_siblings"));
	ck_assert_mem_eq(p, "fork_siblings", len);
	im->exe = (char *)"";
	p = hg_lineage_program(im, &len);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(p, "prog", 4);
	im->command = (char *)"";
	hg_lineage_program(im, &len);
	ck_assert_uint_eq(len, 0);
}
END_TEST

Suite *lineage_suite(void);

Suite *lineage_suite(void)
{
	Suite *s = suite_create("lineage");
	TCase *pairing = tcase_create("pairing");
	TCase *roots = tcase_create("roots");

	tcase_add_checked_fixture(pairing, setup, teardown);
	tcase_add_checked_fixture(roots, setup, teardown);
	tcase_add_test(pairing, test_lineage_workers_pair_by_their_fork_parents_not_file_order);
	tcase_add_loop_test(pairing, test_lineage_pairing_ignores_file_order, 0, 120);
	tcase_add_test(pairing, test_lineage_siblings_by_birth_not_pid);
	tcase_add_test(pairing, test_lineage_lone_images_keep_their_place);
	tcase_add_test(pairing, test_lineage_children_need_the_same_place);
	tcase_add_test(pairing, test_lineage_empty_traces);
	tcase_add_test(pairing, test_lineage_parent_cycle_cannot_form);
	tcase_add_test(pairing, test_lineage_temporary_names_do_not_keep_children_apart);
	tcase_add_test(roots, test_lineage_root_is_not_the_first_in_the_file);
	tcase_add_test(roots, test_lineage_program_is_the_executable_name);
	suite_add_tcase(s, pairing);
	suite_add_tcase(s, roots);
	return s;
}
