/*
 * check_exec_env.c - unit tests for the environment of exec'd images (preload/exec_env.c)
 *
 * The shim starts with environ holding LD_PRELOAD and two HEAPGRAPH_ variables. An
 * environment that lacks them gets them after its own entries, in order; one that has them
 * (the shim in LD_PRELOAD by path or by file name) is left alone; another LD_PRELOAD (the last
 * one, which the loader reads) gets the shim after the caller's libraries; a HEAPGRAPH_ variable
 * the caller set keeps the caller's value; NULL is an empty environment. Nothing is added once
 * the saved state is forgotten or with no path. The static buffer for large environments is
 * held by one exec at a time, and free again in a fork child.
 */
#include <check.h>
#include <string.h>
#include <unistd.h>

#include "exec_env.h"

#define SELF "/opt/hg/lib/libheapgraph.so"
#define S(literal) ((char *)(literal)) /* environ's strings are not const */

static char *start_env[] = { S("PATH=/bin"), S("LD_PRELOAD=" SELF),
			     S("HEAPGRAPH_RING=/dev/shm/r"), S("HEAPGRAPH_DEPTH=12"),
			     S("HOME=/root"), NULL };

static void save(void)
{
	char **was = environ;

	environ = start_env;
	hg_exec_env_save(SELF);
	environ = was;
}

/* envp completed into out (room for 16); how many entries. */
static size_t fix(char *const envp[], char **out, char *preload, size_t preload_room)
{
	size_t n_slots, preload_bytes, n = 0;

	ck_assert_int_eq(hg_exec_env_needs(envp, &n_slots, &preload_bytes), 1);
	ck_assert_uint_le(n_slots, 16);
	ck_assert_uint_le(preload_bytes, preload_room);
	hg_exec_env_fix(envp, out, n_slots, preload, preload_bytes);
	while (out[n])
		n++;
	ck_assert_uint_eq(n + 1, n_slots); /* the room asked for is exactly what is used */
	return n;
}

START_TEST(test_exec_env_empty_gets_everything)
{
	char *empty[] = { S("A=1"), NULL }, *out[16], preload[256];

	save();
	ck_assert_uint_eq(fix(empty, out, preload, sizeof(preload)), 4);
	ck_assert_str_eq(out[0], "A=1");
	ck_assert_str_eq(out[1], "LD_PRELOAD=" SELF);
	ck_assert_str_eq(out[2], "HEAPGRAPH_RING=/dev/shm/r");
	ck_assert_str_eq(out[3], "HEAPGRAPH_DEPTH=12");
	/* NULL is an empty environment. */
	ck_assert_uint_eq(fix(NULL, out, preload, sizeof(preload)), 3);
	ck_assert_str_eq(out[0], "LD_PRELOAD=" SELF);
}
END_TEST

START_TEST(test_exec_env_complete_is_left_alone)
{
	char *by_path[] = { S("LD_PRELOAD=/x/liba.so:" SELF), S("HEAPGRAPH_RING=/dev/shm/r"),
			    S("HEAPGRAPH_DEPTH=3"), NULL };
	char *by_name[] = { S("HEAPGRAPH_DEPTH=12"), S("LD_PRELOAD=libheapgraph.so"),
			    S("HEAPGRAPH_RING=off"), NULL };
	size_t n_slots = 9, preload_bytes = 9;

	save();
	ck_assert_int_eq(hg_exec_env_needs(by_path, &n_slots, &preload_bytes), 0);
	ck_assert_uint_eq(n_slots, 0);
	ck_assert_uint_eq(preload_bytes, 0);
	ck_assert_int_eq(hg_exec_env_needs(by_name, &n_slots, &preload_bytes), 0);
}
END_TEST

START_TEST(test_exec_env_other_preload_gets_the_shim_after)
{
	char *env[] = { S("LD_PRELOAD=/x/liba.so /x/libheapgraph.so.old"),
			S("HEAPGRAPH_DEPTH=3"), S("B=2"), NULL };
	/* The loader takes the last LD_PRELOAD: that one is completed, the first left as it is. */
	char *twice[] = { S("LD_PRELOAD=" SELF), S("LD_PRELOAD="), S("HEAPGRAPH_DEPTH=3"),
			  S("HEAPGRAPH_RING=/dev/shm/r"), NULL };
	char *out[16], preload[256];

	save();
	ck_assert_uint_eq(fix(env, out, preload, sizeof(preload)), 4);
	ck_assert_str_eq(out[0], "LD_PRELOAD=/x/liba.so /x/libheapgraph.so.old:" SELF);
	ck_assert_ptr_eq(out[0], preload);
	ck_assert_str_eq(out[1], "HEAPGRAPH_DEPTH=3"); /* the caller's value stays */
	ck_assert_str_eq(out[2], "B=2");
	ck_assert_str_eq(out[3], "HEAPGRAPH_RING=/dev/shm/r");
	ck_assert_uint_eq(fix(twice, out, preload, sizeof(preload)), 4);
	ck_assert_str_eq(out[0], "LD_PRELOAD=" SELF);
	ck_assert_ptr_ne(out[0], preload);
	ck_assert_str_eq(out[1], "LD_PRELOAD=" SELF); /* the empty one, completed */
	ck_assert_ptr_eq(out[1], preload);
}
END_TEST

START_TEST(test_exec_env_static_buffer_is_claimed_once)
{
	char **slots, **again, *preload, *preload2;

	ck_assert_int_eq(hg_exec_env_claim(HG_EXEC_ENV_MAX_ENTRIES + 1, HG_EXEC_ENV_MAX_PRELOAD,
					   &slots, &preload), 0);
	ck_assert_ptr_nonnull(slots);
	ck_assert_ptr_nonnull(preload);
	/* Taken: a second exec passes its environment on as it is. */
	ck_assert_int_eq(hg_exec_env_claim(8, 8, &again, &preload2), -1);
	hg_exec_env_release();
	ck_assert_int_eq(hg_exec_env_claim(8, 8, &again, &preload2), 0);
	ck_assert_ptr_eq(again, slots);
	/* A fork child's copy is free even if a thread of the parent held it. */
	hg_exec_env_release();
	ck_assert_int_eq(hg_exec_env_claim(8, 8, &again, &preload2), 0);
	hg_exec_env_release();
	/* Larger than the buffer: refused. */
	ck_assert_int_eq(hg_exec_env_claim(8, HG_EXEC_ENV_MAX_PRELOAD + 1, &again, &preload2), -1);
	ck_assert_int_eq(hg_exec_env_claim(8, 8, &again, &preload2), 0);
	hg_exec_env_release();
}
END_TEST

START_TEST(test_exec_env_nothing_saved_adds_nothing)
{
	char *empty[] = { NULL };
	size_t n_slots, preload_bytes;

	save();
	hg_exec_env_forget();
	ck_assert_int_eq(hg_exec_env_needs(empty, &n_slots, &preload_bytes), 0);
	hg_exec_env_save(NULL);
	ck_assert_int_eq(hg_exec_env_needs(empty, &n_slots, &preload_bytes), 0);
}
END_TEST

Suite *exec_env_suite(void);

Suite *exec_env_suite(void)
{
	Suite *s = suite_create("exec_env");
	TCase *tc = tcase_create("environment");

	tcase_add_test(tc, test_exec_env_empty_gets_everything);
	tcase_add_test(tc, test_exec_env_complete_is_left_alone);
	tcase_add_test(tc, test_exec_env_other_preload_gets_the_shim_after);
	tcase_add_test(tc, test_exec_env_static_buffer_is_claimed_once);
	tcase_add_test(tc, test_exec_env_nothing_saved_adds_nothing);
	suite_add_tcase(s, tc);
	return s;
}
