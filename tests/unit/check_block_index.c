/*
 * check_block_index.c - unit tests for a snapshot's blocks in address order
 * (analyzer/block_index.c)
 *
 * Sorting is checked against qsort() by (address, position before sorting), which is the
 * stable order: every block kept, sizes and stacks moved with their addresses, equal addresses
 * in their first order. Finding is checked against a linear search, at every block's edges and
 * at random addresses, on heaps of different shapes.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "block_index.h"
#include "replay.h"

Suite *block_index_suite(void);

static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int by_addr_then_place(const void *a, const void *b)
{
	const struct hg_block *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

/* Addresses of one shape, by kind. */
static uint64_t addr_of(int kind, size_t i)
{
	switch (kind) {
	case 0: /* a heap: 16-byte aligned in 1 GiB */
		return 0x555555550000ull + (rnd() % (1ull << 30) & ~15ull);
	case 1: /* heap and mmap()ed blocks, 2^47 apart */
		return (i & 1 ? 0x7f0000000000ull : 0x560000000000ull) + (rnd() % (1ull << 28));
	case 2: /* many equal: stability */
		return 0x1000 + 16 * (rnd() % 7);
	case 3: /* anything at all, both ends of the range */
		return i == 0 ? 0 : i == 1 ? UINT64_MAX : rnd();
	default: /* one address */
		return 0x4000;
	}
}

static void check_sorts(int kind, size_t n)
{
	struct hg_block *v = malloc((n ? n : 1) * sizeof(*v)), *want;

	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < n; i++)
		v[i] = (struct hg_block){ addr_of(kind, i), rnd() % 4096, (uint32_t)i };
	want = malloc((n ? n : 1) * sizeof(*want));
	ck_assert_ptr_nonnull(want);
	memcpy(want, v, n * sizeof(*v));
	qsort(want, n, sizeof(*want), by_addr_then_place);
	hg_blocks_sort_by_addr(v, n);
	for (size_t i = 0; i < n; i++)
		if (v[i].addr != want[i].addr || v[i].size_bytes != want[i].size_bytes ||
		    v[i].stack_id != want[i].stack_id)
			ck_abort_msg("kind %d, %zu blocks: position %zu holds %#llx (#%u), not %#llx "
				     "(#%u)", kind, n, i, (unsigned long long)v[i].addr,
				     v[i].stack_id, (unsigned long long)want[i].addr,
				     want[i].stack_id);
	free(want);
	free(v);
}

START_TEST(test_block_index_sort_matches_a_stable_sort)
{
	static const size_t sizes[] = { 0, 1, 2, 63, 64, 65, 1000, 4096, 100000 };

	rng_state = 0x9e3779b97f4a7c15ull;
	for (int kind = 0; kind < 5; kind++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			check_sorts(kind, sizes[i]);
}
END_TEST

START_TEST(test_block_index_sort_already_sorted_and_reversed)
{
	enum { N = 5000 };
	struct hg_block *v = malloc(N * sizeof(*v));

	ck_assert_ptr_nonnull(v);
	for (int reversed = 0; reversed < 2; reversed++) {
		for (uint32_t i = 0; i < N; i++)
			v[i] = (struct hg_block){ 0x10000 + 48ull * (reversed ? N - i : i), 40, i };
		hg_blocks_sort_by_addr(v, N);
		for (uint32_t i = 0; i < N; i++) {
			ck_assert_uint_eq(v[i].addr, 0x10000 + 48ull * (reversed ? i + 1 : i));
			ck_assert_uint_eq(v[i].stack_id, reversed ? N - 1 - i : i);
		}
	}
	free(v);
}
END_TEST

/* The index of the last block of v[0..n) starting at or before addr, if it holds addr. */
static long linear_find(const struct hg_block *v, size_t n, uint64_t addr)
{
	long at = -1;

	for (size_t i = 0; i < n && v[i].addr <= addr; i++)
		at = (long)i;
	if (at < 0)
		return -1;
	return addr == v[at].addr || addr - v[at].addr < v[at].size_bytes ? at : -1;
}

/* The most blocks that start in one bucket of f. */
static uint32_t busiest_bucket(const struct hg_block_finder *f)
{
	uint32_t most = 0;

	for (size_t k = 0; k + 1 < f->n_first; k++)
		if (f->first[k + 1] > f->first[k] && f->first[k + 1] - f->first[k] > most)
			most = f->first[k + 1] - f->first[k];
	return most;
}

/* Every lookup of v[0..n) as a linear search answers; no bucket holds more than
 * max_in_bucket blocks. */
static void check_finds(struct hg_block *v, size_t n, uint32_t max_in_bucket)
{
	struct hg_block_finder f;
	uint64_t probes[6];

	hg_blocks_sort_by_addr(v, n);
	hg_block_finder_init(&f, v, n);
	ck_assert_uint_le(f.n_first, 2 * n + 2 * f.n_seg);
	ck_assert_uint_le(busiest_bucket(&f), max_in_bucket);
	for (size_t i = 0; i < n; i++) {
		probes[0] = v[i].addr - 1;
		probes[1] = v[i].addr;
		probes[2] = v[i].addr + v[i].size_bytes / 2;
		probes[3] = v[i].addr + v[i].size_bytes - 1;
		probes[4] = v[i].addr + v[i].size_bytes;
		probes[5] = rnd() % (v[n - 1].addr + 8192);
		for (int p = 0; p < 6; p++) {
			long got = hg_block_finder_find(&f, probes[p]);
			long want = linear_find(v, n, probes[p]);

			if (got != want)
				ck_abort_msg("%zu blocks: %#llx found in %ld, not %ld", n,
					     (unsigned long long)probes[p], got, want);
		}
	}
	hg_block_finder_release(&f);
	ck_assert_ptr_null(f.first);
}

START_TEST(test_block_index_find_matches_a_linear_search)
{
	enum { N = 3000 };
	struct hg_block *v = malloc(N * sizeof(*v));
	uint64_t at = 0x555555554000ull;
	struct hg_block_finder f;

	ck_assert_ptr_nonnull(v);
	rng_state = 0x2545f4914f6cdd1dull;
	/* Packed blocks with gaps, some empty, each 16-aligned: a brk heap. */
	for (uint32_t i = 0; i < N; i++) {
		uint64_t size = rnd() % 5 == 0 ? 0 : 16 + rnd() % 2000;

		v[i] = (struct hg_block){ at, size, i };
		at += ((size ? size : 16) + 15 + (rnd() % 3 == 0 ? 4096 : 0)) & ~15ull;
	}
	check_finds(v, N, 16);
	/* Small blocks in a heap, large ones mapped 2^45 away, each in a segment of its own:
	 * buckets over the whole span once held the heap's 2,700 blocks in one. */
	for (uint32_t i = 0; i < N; i++)
		v[i] = (struct hg_block){ i % 10 ? 0x560000000000ull + 64ull * i :
						   0x7f0000000000ull + (1ull << 20) * i,
					  i % 10 ? 48 : 200000, i };
	check_finds(v, N, 2);
	/* One block; blocks ending at the top of the address space. */
	v[0] = (struct hg_block){ 0x1000, 32, 0 };
	check_finds(v, 1, 1);
	v[0] = (struct hg_block){ UINT64_MAX - 100, 1000, 0 }; /* damaged: runs past the top */
	v[1] = (struct hg_block){ 0x2000, 16, 1 };
	check_finds(v, 2, 1);
	/* None: nothing found anywhere. */
	hg_block_finder_init(&f, v, 0);
	ck_assert_int_eq(hg_block_finder_find(&f, 0x2000), -1);
	hg_block_finder_release(&f);
	free(v);
}
END_TEST

Suite *block_index_suite(void)
{
	Suite *s = suite_create("block_index");
	TCase *tc = tcase_create("block_index");

	tcase_add_test(tc, test_block_index_sort_matches_a_stable_sort);
	tcase_add_test(tc, test_block_index_sort_already_sorted_and_reversed);
	tcase_add_test(tc, test_block_index_find_matches_a_linear_search);
	suite_add_tcase(s, tc);
	return s;
}
