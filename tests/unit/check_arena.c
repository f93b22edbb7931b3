/*
 * check_arena.c - unit tests for the shim's mmap-backed arena (preload/arena.c)
 *
 * The arena's state is process-global and never shrinks, so the tests make no assumption about
 * what earlier code took from it: each one first brings the arena to a known point (a fresh
 * chunk with a known amount used) and then asserts exact addresses and exact changes of
 * hg_arena_mapped_bytes(). Sizes follow arena.c: 1 MiB chunks, requests of 256 KiB and more
 * map pages of their own, small requests are rounded up to 16.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define CHUNK (1u << 20)
#define LARGE (256u << 10)
#define BIGGEST_SMALL (LARGE - 16u) /* largest request served from a chunk */

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

static int all_equal(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

/*
 * Bring the arena to the start of a fresh chunk: allocate the largest small size until a new
 * chunk gets mapped. Returns that allocation, the chunk's first byte.
 */
static uint8_t *start_fresh_chunk(void)
{
	for (int i = 0; i < 8; i++) {
		size_t before = hg_arena_mapped_bytes();
		uint8_t *p = hg_arena_alloc(BIGGEST_SMALL);

		ck_assert_ptr_nonnull(p);
		if (hg_arena_mapped_bytes() != before) {
			ck_assert_uint_eq(hg_arena_mapped_bytes() - before, CHUNK);
			return p;
		}
	}
	ck_abort_msg("no new chunk after 8 allocations of %u bytes", BIGGEST_SMALL);
	return NULL;
}

START_TEST(test_arena_small_allocations_bump_within_chunk)
{
	uint8_t *first = start_fresh_chunk();
	size_t mapped = hg_arena_mapped_bytes();
	uint8_t *p = first;

	/* A 1 MiB chunk holds four of them, with 64 bytes to spare. */
	for (int i = 1; i < 4; i++) {
		uint8_t *q = hg_arena_alloc(BIGGEST_SMALL);
		ck_assert_ptr_eq(q, p + BIGGEST_SMALL);
		p = q;
	}
	ck_assert_uint_eq(hg_arena_mapped_bytes(), mapped);
	/* 33 bytes round up to 48: fits in the 64 left. */
	ck_assert_ptr_eq(hg_arena_alloc(33), p + BIGGEST_SMALL);
	ck_assert_uint_eq(hg_arena_mapped_bytes(), mapped);
	/* 16 left: a 17-byte request (32 rounded) needs a new chunk. */
	p = hg_arena_alloc(17);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(hg_arena_mapped_bytes(), mapped + CHUNK);
	ck_assert(p < first || p >= first + CHUNK);
}
END_TEST

START_TEST(test_arena_sizes_round_to_16)
{
	uint8_t *p = start_fresh_chunk();
	uint8_t *a = hg_arena_alloc(1), *b = hg_arena_alloc(16), *c = hg_arena_alloc(17);
	uint8_t *d = hg_arena_alloc(1);

	ck_assert_ptr_eq(a, p + BIGGEST_SMALL);
	ck_assert_ptr_eq(b, a + 16);
	ck_assert_ptr_eq(c, b + 16);
	ck_assert_ptr_eq(d, c + 32);
}
END_TEST

START_TEST(test_arena_small_memory_is_zeroed_and_aligned)
{
	uint8_t *prev = NULL;

	for (size_t n = 1; n <= 5000; n += 7) {
		uint8_t *p = hg_arena_alloc(n);

		ck_assert_ptr_nonnull(p);
		ck_assert_uint_eq((uintptr_t)p % 16, 0);
		ck_assert_msg(all_zero(p, n), "allocation of %zu bytes is not zeroed", n);
		/* Dirty it: the next allocation must not see these bytes. */
		memset(p, 0xa5, n);
		ck_assert(prev == NULL || p != prev);
		prev = p;
	}
}
END_TEST

START_TEST(test_arena_large_request_own_mapping)
{
	size_t before = hg_arena_mapped_bytes();
	/* 300000 bytes are 73.2 pages: 74 pages are mapped. */
	uint8_t *p = hg_arena_alloc(300000);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq((uintptr_t)p % 4096, 0);
	ck_assert_uint_eq(hg_arena_mapped_bytes() - before, 74u * 4096u);
	ck_assert(all_zero(p, 74u * 4096u));
	memset(p, 0x5a, 300000);
	hg_arena_free(p, 300000);
	ck_assert_uint_eq(hg_arena_mapped_bytes(), before);
}
END_TEST

START_TEST(test_arena_threshold_is_large)
{
	size_t before = hg_arena_mapped_bytes();
	uint8_t *p = hg_arena_alloc(LARGE);

	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(hg_arena_mapped_bytes() - before, LARGE);
	hg_arena_free(p, LARGE);
	ck_assert_uint_eq(hg_arena_mapped_bytes(), before);
}
END_TEST

START_TEST(test_arena_large_does_not_disturb_chunk)
{
	uint8_t *p = start_fresh_chunk();
	size_t mapped = hg_arena_mapped_bytes();
	uint8_t *big = hg_arena_alloc(1u << 20);

	ck_assert_uint_eq(hg_arena_mapped_bytes(), mapped + (1u << 20));
	/* The bump pointer carries on where it was. */
	ck_assert_ptr_eq(hg_arena_alloc(16), p + BIGGEST_SMALL);
	hg_arena_free(big, 1u << 20);
	ck_assert_uint_eq(hg_arena_mapped_bytes(), mapped);
}
END_TEST

START_TEST(test_arena_free_small_keeps_memory)
{
	uint8_t *p = hg_arena_alloc(100);
	size_t mapped = hg_arena_mapped_bytes();

	hg_arena_free(p, 100);
	hg_arena_free(NULL, 1u << 20);
	ck_assert_uint_eq(hg_arena_mapped_bytes(), mapped);
	/* Still usable: small pieces are never returned to the kernel. */
	memset(p, 1, 100);
}
END_TEST

START_TEST(test_arena_owns_its_memory_only)
{
	uint8_t *small = hg_arena_alloc(100), *big = hg_arena_alloc(300000);
	int local = 0;
	void *heap = malloc(64);

	ck_assert_ptr_nonnull(small);
	ck_assert_ptr_nonnull(big);
	ck_assert_int_eq(hg_arena_owns((uint64_t)(uintptr_t)small), 1);
	ck_assert_int_eq(hg_arena_owns((uint64_t)(uintptr_t)(small + 99)), 1);
	ck_assert_int_eq(hg_arena_owns((uint64_t)(uintptr_t)big), 1);
	ck_assert_int_eq(hg_arena_owns((uint64_t)(uintptr_t)(big + 299999)), 1);
	ck_assert_int_eq(hg_arena_owns((uint64_t)(uintptr_t)&local), 0);
	ck_assert_int_eq(hg_arena_owns((uint64_t)(uintptr_t)heap), 0);
	ck_assert_int_eq(hg_arena_owns(0), 0);
	/* A large block given back is no longer the arena's. */
	hg_arena_free(big, 300000);
	ck_assert_int_eq(hg_arena_owns((uint64_t)(uintptr_t)big), 0);
	free(heap);
}
END_TEST

/* ---- threads ---------------------------------------------------------------------------- */

#define N_THREADS 8
#define PER_THREAD 1500

struct piece {
	uint8_t *p;
	size_t n;
	uint8_t tag;
};

struct worker {
	pthread_t th;
	int index;
	pthread_barrier_t *go;
	struct piece pieces[PER_THREAD];
};

static void *arena_worker(void *arg)
{
	struct worker *w = arg;
	uint32_t x = 0x9e3779b9u * (uint32_t)(w->index + 1);

	pthread_barrier_wait(w->go);
	for (int i = 0; i < PER_THREAD; i++) {
		struct piece *pc = &w->pieces[i];

		x = x * 1103515245u + 12345u;
		pc->n = 1 + (x >> 16) % 2000;
		pc->tag = (uint8_t)(w->index * 31 + i);
		pc->p = hg_arena_alloc(pc->n);
		if (!pc->p || !all_zero(pc->p, pc->n) || (uintptr_t)pc->p % 16)
			return (void *)1;
		memset(pc->p, pc->tag, pc->n);
	}
	return NULL;
}

static int by_address(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	return x->p < y->p ? -1 : x->p > y->p;
}

START_TEST(test_arena_threads_never_overlap)
{
	static struct worker w[N_THREADS];
	static struct piece all[N_THREADS * PER_THREAD];
	pthread_barrier_t go;
	size_t n = 0;

	pthread_barrier_init(&go, NULL, N_THREADS);
	for (int i = 0; i < N_THREADS; i++) {
		w[i].index = i;
		w[i].go = &go;
		ck_assert_int_eq(pthread_create(&w[i].th, NULL, arena_worker, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		void *rc;
		ck_assert_int_eq(pthread_join(w[i].th, &rc), 0);
		ck_assert_msg(rc == NULL, "thread %d got a bad allocation", i);
	}
	pthread_barrier_destroy(&go);
	/* Every piece still holds its own tag: nobody else was handed its bytes. */
	for (int i = 0; i < N_THREADS; i++) {
		for (int k = 0; k < PER_THREAD; k++) {
			const struct piece *pc = &w[i].pieces[k];
			ck_assert_msg(all_equal(pc->p, pc->n, pc->tag),
				      "piece %d of thread %d was overwritten", k, i);
			all[n++] = *pc;
		}
	}
	qsort(all, n, sizeof(all[0]), by_address);
	for (size_t i = 1; i < n; i++)
		ck_assert_msg(all[i - 1].p + all[i - 1].n <= all[i].p,
			      "pieces at %p (%zu bytes) and %p overlap", (void *)all[i - 1].p,
			      all[i - 1].n, (void *)all[i].p);
}
END_TEST

Suite *arena_suite(void);

Suite *arena_suite(void)
{
	Suite *s = suite_create("arena");
	TCase *small = tcase_create("small_requests");
	TCase *large = tcase_create("large_requests");
	TCase *threads = tcase_create("threads");

	tcase_add_test(small, test_arena_small_allocations_bump_within_chunk);
	tcase_add_test(small, test_arena_sizes_round_to_16);
	tcase_add_test(small, test_arena_small_memory_is_zeroed_and_aligned);
	tcase_add_test(small, test_arena_free_small_keeps_memory);
	tcase_add_test(large, test_arena_large_request_own_mapping);
	tcase_add_test(large, test_arena_threshold_is_large);
	tcase_add_test(large, test_arena_large_does_not_disturb_chunk);
	tcase_add_test(large, test_arena_owns_its_memory_only);
	tcase_add_test(threads, test_arena_threads_never_overlap);
	suite_add_tcase(s, small);
	suite_add_tcase(s, large);
	suite_add_tcase(s, threads);
	return s;
}
