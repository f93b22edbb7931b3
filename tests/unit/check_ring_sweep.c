/*
 * check_ring_sweep.c - which rings a starting collector removes: only abandoned ones
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hg_clock.h"
#include "fixtures.h"
#include "hg_format.h"
#include "ring_sweep.h"

#define SEC 1000000000ull
#define NOW (1000 * SEC)
#define OLD (NOW - HG_SWEEP_MIN_AGE_NS - SEC)

static char dir[64];

/* A ring file `name` naming collector; valid: with a ring's header, else zeros. */
static void make_ring(const char *name, unsigned collector, int valid)
{
	char path[256];
	uint64_t bytes = hg_ring_file_bytes(2, HG_RING_MIN_SLOT_BYTES);
	struct hg_ring_clock clock = { 0 };
	FILE *f;
	void *h = calloc(1, HG_RING_HEADER_BYTES);

	ck_assert_ptr_nonnull(h);
	if (valid)
		hg_ring_header_init(h, 2, HG_RING_MIN_SLOT_BYTES, collector, 0, &clock);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	ck_assert_uint_eq(fwrite(h, HG_RING_HEADER_BYTES, 1, f), 1);
	ck_assert_int_eq(ftruncate(fileno(f), (off_t)bytes), 0);
	fclose(f);
	free(h);
}

static int exists(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static const char *ring_name(char *buf, size_t cap, unsigned maker, unsigned long long ns)
{
	snprintf(buf, cap, HG_RING_NAME_PREFIX "%u.%llu" HG_RING_NAME_SUFFIX, maker, ns);
	return buf;
}

START_TEST(test_ring_sweep_removes_only_abandoned_rings)
{
	unsigned dead = fx_dead_pid(), me = (unsigned)getpid();
	char gone[64], maker_gone[64], alive[64], maker_alive[64], young[64], broken[64];
	char link[256], target[256];

	strcpy(dir, "/tmp/hg-sweep-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	make_ring(ring_name(gone, sizeof(gone), me, OLD), dead, 1); /* its collector is gone */
	make_ring(ring_name(maker_gone, sizeof(maker_gone), dead, OLD + 1), 0, 1); /* none; maker
										      gone */
	make_ring(ring_name(alive, sizeof(alive), dead, OLD + 2), me, 1);    /* collector alive */
	make_ring(ring_name(maker_alive, sizeof(maker_alive), me, OLD + 3), 0, 1); /* maker alive */
	make_ring(ring_name(young, sizeof(young), dead, NOW - SEC), dead, 1); /* too young */
	make_ring(ring_name(broken, sizeof(broken), dead, OLD + 4), dead, 0); /* not a ring */
	make_ring("heapgraph.trace.ring", dead, 1); /* not a ring's name */
	make_ring("other.1.2.ring", dead, 1);
	/* A link named like an abandoned ring: not followed, not removed. */
	snprintf(target, sizeof(target), "%s/%s", dir, gone);
	snprintf(link, sizeof(link), "%s/" HG_RING_NAME_PREFIX "%u.%llu" HG_RING_NAME_SUFFIX, dir,
		 dead, OLD + 5);
	ck_assert_int_eq(symlink(target, link), 0);

	ck_assert_int_eq(hg_ring_sweep(dir, NOW), 2);
	ck_assert(!exists(gone));
	ck_assert(!exists(maker_gone));
	ck_assert(exists(alive));
	ck_assert(exists(maker_alive));
	ck_assert(exists(young));
	ck_assert(exists(broken));
	ck_assert(exists("heapgraph.trace.ring"));
	ck_assert(exists("other.1.2.ring"));
	ck_assert_int_eq(unlink(link), 0); /* still there, dangling now */
	ck_assert_int_eq(hg_ring_sweep(dir, NOW), 0); /* nothing more to take */
	ck_assert_int_eq(hg_ring_sweep("/no/such/dir", NOW), 0);
	for (const char *const *n = (const char *const[]){ alive, maker_alive, young, broken,
							    "heapgraph.trace.ring",
							    "other.1.2.ring", NULL };
	     *n; n++) {
		snprintf(target, sizeof(target), "%s/%s", dir, *n);
		ck_assert_int_eq(unlink(target), 0);
	}
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

Suite *ring_sweep_suite(void);

Suite *ring_sweep_suite(void)
{
	Suite *s = suite_create("ring_sweep");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_ring_sweep_removes_only_abandoned_rings);
	suite_add_tcase(s, tc);
	return s;
}
