/*
 * check_exec_env.c - unit tests for the environment of exec'd images (preload/exec_env.c)
 *
 * The shim starts with environ holding LD_PRELOAD and two HEAPGRAPH_ variables. An
 * environment that lacks them gets them after its own entries, in order; one that has them
 * (the shim in LD_PRELOAD by path or by file name) is left alone; another LD_PRELOAD gets the
 * shim put in front; a HEAPGRAPH_ variable the caller set keeps the caller's value; NULL is an
 * empty environment. Nothing is added once the saved state is forgotten or with no path.
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

START_TEST(test_exec_env_other_preload_gets_the_shim_in_front)
{
	char *env[] = { S("LD_PRELOAD=/x/liba.so /x/libheapgraph.so.old"),
			S("HEAPGRAPH_DEPTH=3"), S("B=2"), NULL };
	char *out[16], preload[256];

	save();
	ck_assert_uint_eq(fix(env, out, preload, sizeof(preload)), 4);
	ck_assert_str_eq(out[0], "LD_PRELOAD=" SELF " /x/liba.so /x/libheapgraph.so.old");
	ck_assert_ptr_eq(out[0], preload);
	ck_assert_str_eq(out[1], "HEAPGRAPH_DEPTH=3"); /* the caller's value stays */
	ck_assert_str_eq(out[2], "B=2");
	ck_assert_str_eq(out[3], "HEAPGRAPH_RING=/dev/shm/r");
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
	tcase_add_test(tc, test_exec_env_other_preload_gets_the_shim_in_front);
	tcase_add_test(tc, test_exec_env_nothing_saved_adds_nothing);
	suite_add_tcase(s, tc);
	return s;
}
