/*
 * check_addrmap.c - unit tests for the address table (analyzer/addrmap.c)
 *
 * Besides the contract of each call, the tests check the one thing an open-addressing table
 * with backward-shift deletion can get subtly wrong: after any sequence of inserts and deletes
 * every remaining key is still found. A random workload is checked against a plain reference
 * array, and a worst case is built on purpose: hundreds of keys with the same home slot, so
 * that they form one cluster that wraps around the end of the table, deleted in every order.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrmap.h"
#include "fixtures.h"

static struct hg_addrmap m;

static void setup(void)
{
	hg_addrmap_init(&m);
}

static void teardown(void)
{
	hg_addrmap_release(&m);
}

/* A value using all 64 bits: what the replay packs (a stack id over a size) looks like. */
static uint64_t live(uint64_t size, uint32_t stack)
{
	return (uint64_t)stack << 32 ^ size * 0x9e3779b97f4a7c15ull;
}

/* A deterministic 64-bit generator (splitmix64), so failures reproduce. */
static uint64_t next_random(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

START_TEST(test_addrmap_empty_map)
{
	size_t pos = 0;
	uint64_t addr, v;

	ck_assert_ptr_null(hg_addrmap_get(&m, 0x1000));
	ck_assert_int_eq(hg_addrmap_take(&m, 0x1000, NULL), 0);
	ck_assert_int_eq(hg_addrmap_next(&m, &pos, &addr, &v), 0);
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

START_TEST(test_addrmap_put_get_take)
{
	uint64_t a = live(10, 1), b = live(20, 2), out, *got;

	ck_assert_int_eq(hg_addrmap_put(&m, 0x1000, a, NULL), 0);
	ck_assert_int_eq(hg_addrmap_put(&m, 0x2000, b, NULL), 0);
	ck_assert_uint_eq(m.n, 2);
	got = hg_addrmap_get(&m, 0x1000);
	ck_assert_ptr_nonnull(got);
	ck_assert_uint_eq(*got, a);
	ck_assert_ptr_null(hg_addrmap_get(&m, 0x3000));

	out = 0;
	ck_assert_int_eq(hg_addrmap_take(&m, 0x2000, &out), 1);
	ck_assert_uint_eq(out, b);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_ptr_null(hg_addrmap_get(&m, 0x2000));
	ck_assert_int_eq(hg_addrmap_take(&m, 0x2000, &out), 0);
	ck_assert_int_eq(hg_addrmap_take(&m, 0x1000, NULL), 1);
	ck_assert_uint_eq(m.n, 0);
}
END_TEST

START_TEST(test_addrmap_overwrite_returns_old)
{
	uint64_t a = live(10, 1), b = live(99, 7), old;

	ck_assert_int_eq(hg_addrmap_put(&m, 0xabc0, a, &old), 0);
	old = 0;
	ck_assert_int_eq(hg_addrmap_put(&m, 0xabc0, b, &old), 1);
	ck_assert_uint_eq(old, a);
	ck_assert_uint_eq(*hg_addrmap_get(&m, 0xabc0), b);
	ck_assert_uint_eq(m.n, 1);
	/* Overwriting without asking for the old value. */
	ck_assert_int_eq(hg_addrmap_put(&m, 0xabc0, a, NULL), 1);
	ck_assert_uint_eq(*hg_addrmap_get(&m, 0xabc0), a);
}
END_TEST

START_TEST(test_addrmap_grows_at_half_load_while_small)
{
	uint64_t v = live(1, 1);

	for (uint64_t k = 1; k <= 512; k++)
		hg_addrmap_put(&m, k * 16, v, NULL);
	ck_assert_uint_eq(m.cap, 1024);
	hg_addrmap_put(&m, 513 * 16, v, NULL);
	ck_assert_uint_eq(m.cap, 2048);
	for (uint64_t k = 1; k <= 513; k++) {
		uint64_t *got = hg_addrmap_get(&m, k * 16);
		ck_assert_ptr_nonnull(got);
		ck_assert_uint_eq(*got, v);
	}
}
END_TEST

/* take_if removes an entry only when the bits of its value under the mask match, in one
 * probe; the bits outside the mask do not count. */
START_TEST(test_addrmap_take_if_matches_masked_bits)
{
	const uint64_t mask = 0xc0000000ffffffffull;

	hg_addrmap_put(&m, 0x1000, 0x4000012300000007ull, NULL);
	ck_assert_int_eq(hg_addrmap_take_if(&m, 0x1000, 0x4000000000000008ull, mask), 0);
	ck_assert_int_eq(hg_addrmap_take_if(&m, 0x1000, 0x8000000000000007ull, mask), 0);
	ck_assert_int_eq(hg_addrmap_take_if(&m, 0x2000, 0x4000000000000007ull, mask), 0);
	ck_assert_uint_eq(m.n, 1);
	ck_assert_int_eq(hg_addrmap_take_if(&m, 0x1000, 0x4000000000000007ull, mask), 1);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_ptr_null(hg_addrmap_get(&m, 0x1000));
}
END_TEST

/* Above 2^20 entries the table fills to three quarters: 2^21 slots take 1,572,864 keys. */
START_TEST(test_addrmap_large_table_grows_at_three_quarters_load)
{
	uint64_t v = live(1, 1);
	const uint64_t full = (1u << 21) / 4 * 3;

	for (uint64_t k = 1; k <= full; k++)
		hg_addrmap_put(&m, k * 32, v, NULL);
	ck_assert_uint_eq(m.cap, 1u << 21);
	hg_addrmap_put(&m, (full + 1) * 32, v, NULL);
	ck_assert_uint_eq(m.cap, 1u << 22);
	ck_assert_uint_eq(m.n, full + 1);
	ck_assert_ptr_nonnull(hg_addrmap_get(&m, 32));
	ck_assert_ptr_nonnull(hg_addrmap_get(&m, (full + 1) * 32));
}
END_TEST

/* With a hint, a table grows by doubling up to 2^20 slots; the growth from there goes
 * straight to the size for the hint (2^22 slots at three quarters for 3,000,000 keys), and no
 * further than 4 times the table: a hint of 2^40 keys makes 2^22 slots, not more. */
START_TEST(test_addrmap_hint_sizes_a_large_table_at_once)
{
	uint64_t v = live(1, 1);
	const uint64_t at_2_20 = (1u << 20) / 2; /* keys a table of 2^20 slots holds */

	m.hint = 3000000;
	for (uint64_t k = 1; k <= at_2_20; k++)
		hg_addrmap_put(&m, k * 32, v, NULL);
	ck_assert_uint_eq(m.cap, 1u << 20);
	hg_addrmap_put(&m, (at_2_20 + 1) * 32, v, NULL);
	ck_assert_uint_eq(m.cap, 1u << 22);
	ck_assert_uint_eq(m.hint, 3000000);
	for (uint64_t k = 1; k <= at_2_20 + 1; k += 997)
		ck_assert_ptr_nonnull(hg_addrmap_get(&m, k * 32));
	hg_addrmap_release(&m);

	m.hint = 1ull << 40; /* a damaged or crafted header */
	for (uint64_t k = 1; k <= at_2_20 + 1; k++)
		hg_addrmap_put(&m, k * 32, v, NULL);
	ck_assert_uint_eq(m.cap, 1u << 22);
	hg_addrmap_release(&m);

	m.hint = 3000000; /* small tables take no hint */
	for (uint64_t k = 1; k <= 40000; k++)
		hg_addrmap_put(&m, k * 32, v, NULL);
	ck_assert_uint_eq(m.cap, 1u << 17);
}
END_TEST

START_TEST(test_addrmap_many_keys_survive_growth)
{
	const uint64_t n = 200000;

	for (uint64_t k = 1; k <= n; k++) {
		FX_REQUIRE(hg_addrmap_put(&m, 0x7f0000000000ull + k * 48, live(k, (uint32_t)k),
					  NULL) == 0,
			"key %llu reported present", (unsigned long long)k);
	}
	ck_assert_uint_eq(m.n, n);
	ck_assert_uint_ge(m.cap, 2 * n);
	ck_assert_uint_eq(m.cap & (m.cap - 1), 0);
	for (uint64_t k = 1; k <= n; k++) {
		uint64_t *got = hg_addrmap_get(&m, 0x7f0000000000ull + k * 48);
		FX_REQUIRE(got && *got == live(k, (uint32_t)k), "key %llu lost",
			(unsigned long long)k);
	}
}
END_TEST

/*
 * 1e6 random operations on 3000 candidate addresses: insert, overwrite or delete, each checked
 * against a reference array, with a full lookup sweep every 50000 operations.
 */
#define CHURN_KEYS 3000
#define CHURN_OPS 1000000

START_TEST(test_addrmap_churn_matches_reference)
{
	static uint64_t keys[CHURN_KEYS];
	static uint64_t ref[CHURN_KEYS];
	static int present[CHURN_KEYS];
	uint64_t rng = 42;
	size_t n_present = 0;

	/* Distinct by construction: key i lies in its own window of 37 slots of 16 bytes. */
	for (int i = 0; i < CHURN_KEYS; i++)
		keys[i] = 0x555555550000ull + ((uint64_t)i * 37 + next_random(&rng) % 37) * 16;
	for (long op = 0; op < CHURN_OPS; op++) {
		uint64_t r = next_random(&rng);
		int i = (int)(r % CHURN_KEYS);

		if ((r >> 32) % 100 < 55) {
			uint64_t v = live(r >> 40, (uint32_t)op), old;
			int had = hg_addrmap_put(&m, keys[i], v, &old);
			FX_REQUIRE(had == present[i], "op %ld: put says %d, reference %d", op, had,
				present[i]);
			FX_REQUIRE(!had || old == ref[i],
				"op %ld: put returned a wrong old value", op);
			n_present += !present[i];
			present[i] = 1;
			ref[i] = v;
		} else {
			uint64_t out;
			int had = hg_addrmap_take(&m, keys[i], &out);
			FX_REQUIRE(had == present[i], "op %ld: take says %d, reference %d", op, had,
				present[i]);
			FX_REQUIRE(!had || out == ref[i],
				"op %ld: take returned a wrong value", op);
			n_present -= present[i];
			present[i] = 0;
		}
		FX_REQUIRE(m.n == n_present, "op %ld: %zu entries, reference %zu", op, m.n,
			n_present);
		if (op % 50000 == 0) {
			for (int k = 0; k < CHURN_KEYS; k++) {
				uint64_t *got = hg_addrmap_get(&m, keys[k]);
				FX_REQUIRE((got != NULL) == present[k], "op %ld: key %d found %d",
					   op, k, got != NULL);
				FX_REQUIRE(!got || *got == ref[k],
					"op %ld: key %d has a wrong value", op, k);
			}
		}
	}
}
END_TEST

/*
 * Keys whose home slot in a 1024-slot table is 1020. This mirrors the table's hash (the 2 KiB
 * span's number times the 64-bit golden ratio, bits 20 and up, selects a run of 256 slots; the
 * address within the span, in units of 8, turned by the top byte of that product, the slot in
 * it); should the hash change, the keys merely stop colliding, which the first assertion on the
 * cluster (it wraps to slot 0) catches.
 */
#define CLUSTER 400

static size_t home_1024(uint64_t addr)
{
	uint64_t span = (addr >> 11) * 0x9e3779b97f4a7c15ull;

	return (size_t)((span >> 20 << 8) + (((addr >> 3) + (span >> 56)) & 255)) & 1023u;
}

static void colliding_keys(uint64_t *keys, size_t n)
{
	size_t k = 0;

	for (uint64_t a = 16; k < n; a += 16)
		if (home_1024(a) == 1020)
			keys[k++] = a;
}

static void check_cluster(const uint64_t *keys, const int *present, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t *got = hg_addrmap_get(&m, keys[i]);

		FX_REQUIRE((got != NULL) == present[i], "key %zu: found %d, present %d", i,
			got != NULL, present[i]);
		FX_REQUIRE(!got || *got == live(i, (uint32_t)i), "key %zu has a wrong value", i);
	}
}

START_TEST(test_addrmap_wrapping_cluster_deletes)
{
	static uint64_t keys[CLUSTER];
	static int present[CLUSTER];
	uint64_t rng = 7;
	size_t left = CLUSTER;

	colliding_keys(keys, CLUSTER);
	for (size_t i = 0; i < CLUSTER; i++) {
		hg_addrmap_put(&m, keys[i], live(i, (uint32_t)i), NULL);
		present[i] = 1;
	}
	ck_assert_uint_eq(m.cap, 1024); /* 400 entries stay below three quarters load: no growth */
	/* The cluster starts at slot 1020 and wraps: the table's first slots are taken. */
	ck_assert_uint_ne(m.e[0].addr, 0);
	check_cluster(keys, present, CLUSTER);
	/* Delete in random order, checking all keys after each delete. */
	while (left) {
		size_t i = next_random(&rng) % CLUSTER;
		if (!present[i])
			continue;
		FX_REQUIRE(hg_addrmap_take(&m, keys[i], NULL) == 1, "key %zu not taken", i);
		present[i] = 0;
		left--;
		check_cluster(keys, present, CLUSTER);
	}
	ck_assert_uint_eq(m.n, 0);
	for (size_t i = 0; i < m.cap; i++)
		ck_assert_uint_eq(m.e[i].addr, 0);
}
END_TEST

START_TEST(test_addrmap_cluster_mixed_with_other_keys)
{
	static uint64_t keys[CLUSTER];
	static int present[CLUSTER];
	uint64_t rng = 99;

	colliding_keys(keys, CLUSTER / 2);
	/* The second half: ordinary keys (8 mod 16, so never one of the colliding ones) that land
	 * inside and around the cluster. */
	for (size_t i = CLUSTER / 2; i < CLUSTER; i++)
		keys[i] = 0x100000 + i * 4096 + 8;
	for (int round = 0; round < 20000; round++) {
		size_t i = next_random(&rng) % CLUSTER;
		if (present[i])
			FX_REQUIRE(hg_addrmap_take(&m, keys[i], NULL) == 1, "key %zu not taken", i);
		else
			FX_REQUIRE(hg_addrmap_put(&m, keys[i], live(i, (uint32_t)i), NULL) == 0,
				   "key %zu present", i);
		present[i] = !present[i];
		if (round % 97 == 0)
			check_cluster(keys, present, CLUSTER);
	}
	check_cluster(keys, present, CLUSTER);
}
END_TEST

START_TEST(test_addrmap_iteration_visits_each_once)
{
	enum { N = 5000 };
	static int seen[N];
	uint64_t addr, v;
	size_t pos = 0, visits = 0;

	for (uint64_t k = 0; k < N; k++)
		hg_addrmap_put(&m, 0x10000 + k * 32, live(k, (uint32_t)k), NULL);
	/* Delete every third key: iteration must skip the holes. */
	for (uint64_t k = 0; k < N; k += 3)
		ck_assert_int_eq(hg_addrmap_take(&m, 0x10000 + k * 32, NULL), 1);
	while (hg_addrmap_next(&m, &pos, &addr, &v)) {
		uint64_t k = (addr - 0x10000) / 32;

		ck_assert_uint_lt(k, N);
		ck_assert_uint_eq(addr, 0x10000 + k * 32);
		ck_assert_uint_ne(k % 3, 0);
		ck_assert_uint_eq(v, live(k, (uint32_t)k));
		ck_assert_int_eq(seen[k], 0);
		seen[k] = 1;
		visits++;
	}
	ck_assert_uint_eq(visits, m.n);
	ck_assert_uint_eq(visits, N - (N + 2) / 3);
	/* Done stays done. */
	ck_assert_int_eq(hg_addrmap_next(&m, &pos, &addr, &v), 0);
}
END_TEST

/*
 * A copy holds every entry of the original, in a table of its own: changes to either do not
 * reach the other. Small (calloc'd) and large (mapped) tables, and an empty map.
 */
START_TEST(test_addrmap_copy_is_independent)
{
	size_t n = _i == 0 ? 0 : _i == 1 ? 300 : 200000;
	struct hg_addrmap c;
	uint64_t old;

	for (uint64_t i = 0; i < n; i++)
		hg_addrmap_put(&m, 0x7f0000000000ull + 48 * i, live(i, 7), NULL);
	hg_addrmap_copy(&c, &m);
	ck_assert_uint_eq(c.n, n);
	ck_assert_uint_eq(c.cap, m.cap);
	for (uint64_t i = 0; i < n; i++)
		ck_assert_uint_eq(*hg_addrmap_get(&c, 0x7f0000000000ull + 48 * i), live(i, 7));
	if (n) {
		ck_assert_ptr_ne(c.e, m.e);
		ck_assert_int_eq(hg_addrmap_take(&m, 0x7f0000000000ull, &old), 1);
		ck_assert_ptr_nonnull(hg_addrmap_get(&c, 0x7f0000000000ull));
		hg_addrmap_put(&c, 0x7f0000000000ull, 1, NULL);
		ck_assert_ptr_null(hg_addrmap_get(&m, 0x7f0000000000ull));
		ck_assert_uint_eq(c.n, n);
		ck_assert_uint_eq(m.n, n - 1);
	}
	hg_addrmap_put(&c, 8, 9, NULL); /* a copy grows like any map */
	ck_assert_ptr_null(hg_addrmap_get(&m, 8));
	hg_addrmap_release(&c);
}
END_TEST

START_TEST(test_addrmap_release_leaves_empty_map)
{
	uint64_t v = live(1, 1);

	hg_addrmap_put(&m, 0x40, v, NULL);
	hg_addrmap_release(&m);
	ck_assert_uint_eq(m.n, 0);
	ck_assert_uint_eq(m.cap, 0);
	ck_assert_ptr_null(hg_addrmap_get(&m, 0x40));
	/* Usable again. */
	ck_assert_int_eq(hg_addrmap_put(&m, 0x40, v, NULL), 0);
	ck_assert_uint_eq(m.n, 1);
}
END_TEST

Suite *addrmap_suite(void);

Suite *addrmap_suite(void)
{
	Suite *s = suite_create("addrmap");
	TCase *basic = tcase_create("basic");
	TCase *churn = tcase_create("churn");
	TCase *iter = tcase_create("iteration");
	TCase *all[] = { basic, churn, iter };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	tcase_set_timeout(churn, 30);
	tcase_add_test(basic, test_addrmap_empty_map);
	tcase_add_test(basic, test_addrmap_put_get_take);
	tcase_add_test(basic, test_addrmap_overwrite_returns_old);
	tcase_add_test(basic, test_addrmap_grows_at_half_load_while_small);
	tcase_add_test(basic, test_addrmap_take_if_matches_masked_bits);
	tcase_add_loop_test(basic, test_addrmap_copy_is_independent, 0, 3);
	tcase_add_test(basic, test_addrmap_large_table_grows_at_three_quarters_load);
	tcase_add_test(basic, test_addrmap_hint_sizes_a_large_table_at_once);
	tcase_add_test(basic, test_addrmap_release_leaves_empty_map);
	tcase_add_test(churn, test_addrmap_many_keys_survive_growth);
	tcase_add_test(churn, test_addrmap_churn_matches_reference);
	tcase_add_test(churn, test_addrmap_wrapping_cluster_deletes);
	tcase_add_test(churn, test_addrmap_cluster_mixed_with_other_keys);
	tcase_add_test(iter, test_addrmap_iteration_visits_each_once);
	return s;
}
