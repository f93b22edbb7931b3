/*
 * check_event_model.c - codecs 3 to 5: events written as references to the stream's model
 *
 * The writer's and the reader's models must stay the same block after block, whatever the
 * events: a long random stream of several processes (allocations, frees, stacks that share
 * outer frames or not; blocks of their own and blocks that switch process with ORIGIN records;
 * processes that exec and exit; frees of addresses never allocated; addresses reused at once
 * and much later; blocks packed without references in between) comes back byte for byte,
 * read with either reader's model. A program that repeats itself packs to a few bytes an
 * event, and a reference to what the model does not hold is damage, not a wrong record.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "block_codec.h"
#include "event_model.h"
#include "fixtures.h"
#include "hg_format.h"

/* Deterministic pseudo-random numbers (xorshift). */
static uint64_t rnd_state;

static uint64_t rnd(uint64_t n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state % n;
}

#define N_PIDS 3
#define N_COLUMNS_5 7 /* tags, times, pairs, addresses, the rest, far addresses, ages */
#define LIVE_MAX 4096

struct sim {
	uint64_t live[LIVE_MAX];
	uint32_t n_live;
	uint64_t next;      /* fresh addresses come from here */
	uint64_t t;
	uint32_t stack_id;
};

/* One event of a process: an allocation (often at an address freed just before) or a free
 * (of a recent block, an old one, or an address never allocated). */
static void one_event(struct sim *s, struct fx_buf *b)
{
	uint64_t r = rnd(100);

	s->t += rnd(3) * 1000000;
	if (r < 5) {
		/* A new stack: some outer frames of a common root, then its own. */
		uint64_t ip[HG_MAX_FRAMES];
		uint32_t n = (uint32_t)rnd(HG_MAX_FRAMES + 1), own = n ? (uint32_t)rnd(n + 1) : 0;
		for (uint32_t i = 0; i < n; i++)
			ip[i] = i < own ? 0x400000 + rnd(1 << 30) : 0x7f0000001000ull + 16 * (n - i);
		fx_stack(b, ++s->stack_id, n, ip);
		return;
	}
	if (s->n_live && (r < 45 || s->n_live == LIVE_MAX)) {
		uint32_t i = r < 30 ? s->n_live - 1 - (uint32_t)rnd(s->n_live < 8 ? s->n_live : 8)
				    : (uint32_t)rnd(s->n_live);
		fx_free(b, s->t, s->live[i]);
		s->live[i] = s->live[--s->n_live];
	} else if (r < 48) {
		fx_free(b, s->t, 0x900000000ull + rnd(1 << 20) * 16); /* never allocated */
	} else {
		uint64_t size = rnd(4) ? 16 * (1 + rnd(8)) : 1 + rnd(100000);
		uint64_t addr = rnd(2) ? s->next : 0x500000000ull + rnd(4096) * 48;
		s->next += (size + 31) & ~(uint64_t)15;
		fx_alloc(b, s->t, addr, size, 1 + (uint32_t)rnd(40), (uint8_t)rnd(HG_FN_MAX));
		s->live[s->n_live++] = addr;
	}
}

/* Unpacking n bytes of packed for pid with r as that codec gives b's records back. */
static void expect_unpacks(struct hg_event_model *r, uint32_t pid, unsigned codec,
			   const uint8_t *packed, size_t n, const struct fx_buf *b)
{
	uint8_t *back = malloc(b->len + 1);

	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(hg_unpack_stream(r, pid, codec, packed, n, back, b->len, 0), 0);
	ck_assert_mem_eq(back, b->p, b->len);
	free(back);
}

static void round_trip(struct hg_event_model *w, struct hg_event_model *r, uint32_t pid,
		       int refer, unsigned codec, const struct fx_buf *b)
{
	uint8_t *packed = malloc(hg_pack_bound(b->len));
	size_t n;

	ck_assert_ptr_nonnull(packed);
	n = hg_pack_stream(w, pid, refer, codec, b->p, b->len, packed);
	ck_assert_uint_le(n, hg_pack_bound(b->len));
	expect_unpacks(r, pid, codec, packed, n, b);
	free(packed);
}

/*
 * Loops 0-3 mix codecs 3 to 5 in one stream, read with the model that reads them all; loops
 * 4-6 are codec 5 alone, read with the reader's model that keeps no map of addresses and has
 * to learn from the codes which recent block each free freed. Loop 6 is long and its
 * processes never start afresh: over 65,536 allocations each, so that both FIFOs of recent
 * blocks and frees wrap many times.
 */
START_TEST(test_model_random_stream_round_trip)
{
	int only5 = _i >= 4, long_run = _i == 6;
	struct hg_event_model *w = hg_event_model_new();
	struct hg_event_model *r = only5 ? hg_event_model_new_reader() : hg_event_model_new();
	struct sim sims[N_PIDS];

	rnd_state = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
	memset(sims, 0, sizeof(sims));
	for (int p = 0; p < N_PIDS; p++)
		sims[p].next = 0x10000000ull * (uint64_t)(p + 1);
	for (int block = 0; block < (long_run ? 3000 : 300); block++) {
		struct fx_buf b = { 0 };
		uint32_t pid = 100 + (uint32_t)rnd(N_PIDS);
		int mixed = rnd(4) == 0; /* as the overflow slot writes: ORIGIN before each run */

		for (int k = 0, n = (int)rnd(400); k < n; k++) {
			if (mixed && rnd(20) == 0) {
				pid = 100 + (uint32_t)rnd(N_PIDS);
				fx_origin(&b, pid, pid);
			}
			if (!long_run && rnd(500) == 0) {
				/* exec or exit: the process starts again with nothing live */
				if (rnd(2))
					fx_process(&b, 0, 1, pid, 1, "prog", 5, "/bin/prog", 0);
				else
					fx_exit(&b, 1, pid, 0, HG_EXIT_CALL);
				sims[pid - 100].n_live = 0;
			}
			one_event(&sims[pid - 100], &b);
		}
		/* Now and then a block packed without references, as a busy collector does; in
		 * one stream (codec 3), in columns (codec 4), or in more columns with more
		 * address codes (codec 5), which may share a file. */
		round_trip(w, r, mixed ? 0 : pid, rnd(5) != 0,
			   only5 ? HG_CODEC_EVENT_COLUMNS : HG_CODEC_PACKED_STREAM + (unsigned)rnd(3),
			   &b);
		fx_buf_release(&b);
	}
	hg_event_model_free(w);
	hg_event_model_free(r);
}
END_TEST

/* The same small allocations and frees, over and over: a few bytes an event before zstd. */
START_TEST(test_model_repetition_packs_small)
{
	struct hg_event_model *w = hg_event_model_new(), *w2 = hg_event_model_new();
	struct hg_event_model *r = hg_event_model_new();
	struct fx_buf b = { 0 };
	uint8_t *packed;
	size_t n, events = 0;

	for (int round = 0; round < 1000; round++) {
		for (int k = 0; k < 4; k++, events++)
			fx_alloc(&b, 5000000, 0x1000 + 64 * (uint64_t)k, 40, 7 + (uint32_t)k,
				 HG_FN_MALLOC);
		for (int k = 3; k >= 0; k--, events++)
			fx_free(&b, 5000000, 0x1000 + 64 * (uint64_t)k);
	}
	packed = malloc(hg_pack_bound(b.len));
	ck_assert_ptr_nonnull(packed);
	n = hg_pack_stream(w, 1, 1, HG_CODEC_PACKED_STREAM, b.p, b.len, packed);
	/* A tag, a zero time delta, a pair or pair and rank, an address code: 3 or 4 bytes. */
	ck_assert_uint_le(n, 4 * events + 32);
	round_trip(w2, r, 1, 1, HG_CODEC_EVENT_COLUMNS, &b); /* a fresh writer model: same bytes
								  back */
	free(packed);
	fx_buf_release(&b);
	hg_event_model_free(w);
	hg_event_model_free(w2);
	hg_event_model_free(r);
}
END_TEST

/*
 * Codec 4's columns: a block of one ALLOC (new pair) and its FREE unpacks from its columns;
 * a column length past the end, or a byte left over in any column, makes it bad.
 */
START_TEST(test_model_columns_must_add_up)
{
	/* lengths of tags, times, pairs, addresses; then tags 4 6, times 0 0, pair 0 (the
	 * FREE's), address code 4114 + zigzag(0x1000) (the ALLOC's) and rank 0, the rest:
	 * size 40, stack 7, function 1 */
	static const uint8_t good[] = { 2, 2, 1, 3, 4, 6, 0, 0, 0, 0x92, 0x60, 0, 40, 7, 1 };
	uint8_t bad[sizeof(good) + 1], out[sizeof(struct hg_rec_alloc) + sizeof(struct hg_rec_free)];
	const struct hg_rec_alloc *a = (const void *)out;
	struct hg_event_model *m = hg_event_model_new();

	ck_assert_int_eq(hg_unpack_stream(m, 1, HG_CODEC_COLUMN_STREAM, good, sizeof(good), out,
					  sizeof(out), 0), 0);
	ck_assert_uint_eq(a->addr, 0x1000);
	ck_assert_uint_eq(a->size_bytes, 40);
	ck_assert_uint_eq(a->stack_id, 7);
	hg_event_model_free(m);
	for (size_t col = 0; col < 5; col++) {
		/* one byte more in column col: a length one larger, a zero byte inserted */
		size_t at = 4;
		for (size_t c = 0; c < col; c++)
			at += c < 4 ? good[c] : 0;
		memcpy(bad, good, at);
		bad[at] = 0;
		memcpy(bad + at + 1, good + at, sizeof(good) - at);
		if (col < 4)
			bad[col]++;
		m = hg_event_model_new();
		ck_assert_int_eq(hg_unpack_stream(m, 1, HG_CODEC_COLUMN_STREAM, bad, sizeof(bad),
						  out, sizeof(out), 0), -1);
		hg_event_model_free(m);
	}
	memcpy(bad, good, sizeof(good));
	bad[3] = 20; /* the address column runs past the end */
	m = hg_event_model_new();
	ck_assert_int_eq(hg_unpack_stream(m, 1, HG_CODEC_COLUMN_STREAM, bad, sizeof(good), out,
					  sizeof(out), 0), -1);
	hg_event_model_free(m);
}
END_TEST

/*
 * Records the columns must make room for however many there are: header-only records (8
 * bytes, a type no reader knows: a tag byte each), mixed with events; and allocations at
 * addresses no program gets (bit 63 or 62 set), whose literal code would not fit in 64 bits:
 * packed without references, and the model unchanged. Both layouts give the bytes back.
 */
START_TEST(test_model_small_records_and_far_addresses)
{
	static const uint64_t far[] = { 0xc000000000000000ull, 0x4000000000000010ull, 0x10,
					0x7ffffffff000ull, 0xfffffffffffffff0ull };
	struct fx_buf b = { 0 };
	struct hg_rec bare = { 22, 0, sizeof(struct hg_rec) };

	for (int k = 0; k < 4; k++)
		fx_alloc(&b, 1000 + (uint64_t)k, 0x1000 + 64 * (uint64_t)k, 40, 3, HG_FN_MALLOC);
	for (int k = 0; k < 4000; k++)
		fx_buf_put(&b, &bare, sizeof(bare));
	for (size_t k = 0; k < sizeof(far) / sizeof(far[0]); k++)
		fx_alloc(&b, 2000 + k, far[k], 24, 5, HG_FN_MALLOC);
	for (int k = 0; k < 4; k++)
		fx_free(&b, 3000 + (uint64_t)k, 0x1000 + 64 * (uint64_t)k);
	for (size_t k = 0; k < sizeof(far) / sizeof(far[0]); k++)
		fx_free(&b, 4000 + k, far[k]);
	for (unsigned codec = HG_CODEC_PACKED_STREAM; codec <= HG_CODEC_EVENT_COLUMNS; codec++) {
		struct hg_event_model *w = hg_event_model_new(), *r = hg_event_model_new();

		round_trip(w, r, 7, 1, codec, &b);
		round_trip(w, r, 7, 1, codec, &b); /* again, against the model the first left */
		hg_event_model_free(w);
		hg_event_model_free(r);
	}
	fx_buf_release(&b);
}
END_TEST

/* A varint at *p, which moves on. */
static uint64_t take_varint(const uint8_t **p)
{
	uint64_t v = 0;

	for (unsigned shift = 0;; shift += 7) {
		uint8_t b = *(*p)++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
}

/*
 * Codec 5's address codes and columns, byte for byte: a block allocated at the end of one
 * allocated two before (an end code), blocks taken from a run of frees in the order they were
 * freed (next-free codes after the first), the literals in the far column behind an escape,
 * and the ages of frees in a column of their own.
 */
START_TEST(test_model_codec5_codes_and_columns)
{
	struct hg_event_model *w = hg_event_model_new(), *r = hg_event_model_new();
	struct fx_buf b = { 0 };
	uint8_t *packed;
	const uint8_t *p, *col[N_COLUMNS_5];
	size_t len[N_COLUMNS_5], n, used = 0;
	const uint64_t esc = HG_MODEL_NEAR_CODES, end0 = HG_MODEL_FREED + 2;
	const uint64_t next_freed = end0 + HG_MODEL_ENDS, literal = HG_MODEL_ANY_FREED;
	/* address codes: three literals (escaped), an end, three ends of the last block (17),
	 * then a free taken 3 back, and the next three in the order they were freed */
	const uint64_t want_addr[] = { esc, esc, end0, esc, 17, 17, 17,
				       next_freed + 2, next_freed + 4, next_freed + 4, next_freed + 4 };
	const uint64_t want_far[] = { literal + 2 * 0x10000, literal + 2 * 0x80000,
				      literal + 2 * (0x20000 - 0x10030) };
	const uint64_t want_age[] = { 3, 2, 1, 0 };

	fx_alloc(&b, 0, 0x10000, 40, 1, HG_FN_MALLOC);    /* 48-byte chunk */
	fx_alloc(&b, 0, 0x90000, 1000, 2, HG_FN_MALLOC);  /* from elsewhere */
	fx_alloc(&b, 0, 0x10030, 40, 1, HG_FN_MALLOC);    /* after the first */
	for (uint64_t i = 0; i < 4; i++)                  /* 208-byte chunks, one after another */
		fx_alloc(&b, 0, 0x20000 + i * 208, 200, 3, HG_FN_MALLOC);
	for (uint64_t i = 0; i < 4; i++)
		fx_free(&b, 0, 0x20000 + i * 208);
	for (uint64_t i = 0; i < 4; i++)                  /* another size, where those were */
		fx_alloc(&b, 0, 0x20000 + i * 208, 500, 4, HG_FN_MALLOC);
	ck_assert_ptr_nonnull(packed = malloc(hg_pack_bound(b.len)));
	n = hg_pack_stream(w, 1, 1, HG_CODEC_EVENT_COLUMNS, b.p, b.len, packed);
	p = packed;
	for (int c = 0; c + 1 < N_COLUMNS_5; c++)
		used += len[c] = take_varint(&p);
	len[N_COLUMNS_5 - 1] = n - (size_t)(p - packed) - used;
	for (int c = 0; c < N_COLUMNS_5; c++) {
		col[c] = p;
		p += len[c];
	}
	p = col[3];
	for (size_t i = 0; i < sizeof(want_addr) / sizeof(want_addr[0]); i++)
		ck_assert_uint_eq(take_varint(&p), want_addr[i]);
	ck_assert_ptr_eq(p, col[3] + len[3]);
	p = col[5];
	for (size_t i = 0; i < sizeof(want_far) / sizeof(want_far[0]); i++)
		ck_assert_uint_eq(take_varint(&p), want_far[i]);
	ck_assert_ptr_eq(p, col[5] + len[5]);
	p = col[6];
	for (size_t i = 0; i < sizeof(want_age) / sizeof(want_age[0]); i++)
		ck_assert_uint_eq(take_varint(&p), want_age[i]);
	ck_assert_ptr_eq(p, col[6] + len[6]);
	expect_unpacks(r, 1, HG_CODEC_EVENT_COLUMNS, packed, n, &b);
	free(packed);
	fx_buf_release(&b);
	hg_event_model_free(w);
	hg_event_model_free(r);
}
END_TEST

/* A WORDS record of n pairs (where, value) into b, the values from seed. */
static void put_words(struct fx_buf *b, uint32_t snapshot_id, uint32_t n, uint64_t seed)
{
	struct hg_rec_words w = { { HG_REC_WORDS, 0, (uint32_t)(16u + 16u * n) }, snapshot_id, n };

	fx_buf_put(b, &w, sizeof(w));
	for (uint32_t i = 0; i < n; i++) {
		/* values of every length of varint, from one byte to ten, as deltas */
		uint64_t pair[2] = { 0x7ffd0000ull + 8 * i * (seed % 7 + 1),
				     (seed * 0x9e3779b97f4a7c15ull * (i + 1)) >> (i % 64) };
		fx_buf_put(b, pair, sizeof(pair));
	}
}

/*
 * HG_UNPACK_SKIP_WORDS: each WORDS record comes out where it was, at its size, with n 0 (its
 * pairs stepped over, not written); every other record comes out as without the flag, events
 * after the words included, in every codec that has columns or a stream.
 */
START_TEST(test_model_unpack_skipping_words)
{
	static const unsigned codecs[] = { HG_CODEC_PACKED_STREAM, HG_CODEC_COLUMN_STREAM,
					   HG_CODEC_EVENT_COLUMNS };
	unsigned codec = codecs[_i];
	struct hg_event_model *w = hg_event_model_new();
	struct hg_event_model *r = codec == HG_CODEC_EVENT_COLUMNS ? hg_event_model_new_reader()
								    : hg_event_model_new();
	struct fx_buf b = { 0 };
	uint8_t *packed, *back;
	size_t n, at = 0, words = 0;

	fx_alloc(&b, 10, 0x10000, 40, 1, HG_FN_MALLOC);
	put_words(&b, 1, 3, 11);
	fx_free(&b, 20, 0x10000);
	put_words(&b, 1, 200, 12);
	fx_alloc(&b, 30, 0x20000, 500, 2, HG_FN_MALLOC);
	put_words(&b, 2, 1, 13);
	fx_alloc(&b, 40, 0x20300, 500, 2, HG_FN_MALLOC);
	ck_assert_ptr_nonnull(packed = malloc(hg_pack_bound(b.len)));
	ck_assert_ptr_nonnull(back = malloc(b.len));
	n = hg_pack_stream(w, 1, 1, codec, b.p, b.len, packed);
	memset(back, 0xee, b.len);
	ck_assert_int_eq(hg_unpack_stream(r, 1, codec, packed, n, back, b.len,
					  HG_UNPACK_SKIP_WORDS), 0);
	while (at < b.len) {
		const struct hg_rec *h = (const struct hg_rec *)(const void *)(b.p + at);
		if (h->type == HG_REC_WORDS) {
			const struct hg_rec_words *got = (const void *)(back + at);
			ck_assert_uint_eq(got->hdr.type, HG_REC_WORDS);
			ck_assert_uint_eq(got->hdr.size_bytes, h->size_bytes);
			ck_assert_uint_eq(got->snapshot_id,
					  ((const struct hg_rec_words *)(const void *)h)->snapshot_id);
			ck_assert_uint_eq(got->n, 0);
			words++;
		} else {
			ck_assert_mem_eq(back + at, b.p + at, h->size_bytes);
		}
		at += h->size_bytes;
	}
	ck_assert_uint_eq(words, 3);
	free(back);
	free(packed);
	fx_buf_release(&b);
	hg_event_model_free(w);
	hg_event_model_free(r);
}
END_TEST

/*
 * A free of a block 130 allocations old, no longer among the 64 recent ones of its pair: codec
 * 5 writes its pair with its address (tag 10), so that the reader without a map knows it was
 * a recent block of that pair, whose address the next allocation of the same size then takes
 * (position 0 among the chunk size's frees). Both readers get the records back.
 */
START_TEST(test_model_codec5_free_of_an_old_block)
{
	struct hg_event_model *w = hg_event_model_new();
	struct hg_event_model *r[2] = { hg_event_model_new(), hg_event_model_new_reader() };
	struct fx_buf b = { 0 };
	uint8_t *packed;
	size_t n;

	fx_alloc(&b, 0, 0x10000, 40, 1, HG_FN_MALLOC);
	for (uint64_t i = 1; i <= 130; i++)
		fx_alloc(&b, 0, 0x10000 + 48 * i, 40, 1, HG_FN_MALLOC);
	fx_free(&b, 0, 0x10000);
	fx_alloc(&b, 0, 0x10000, 40, 1, HG_FN_MALLOC);
	ck_assert_ptr_nonnull(packed = malloc(hg_pack_bound(b.len)));
	n = hg_pack_stream(w, 1, 1, HG_CODEC_EVENT_COLUMNS, b.p, b.len, packed);
	for (int k = 0; k < 2; k++) {
		expect_unpacks(r[k], 1, HG_CODEC_EVENT_COLUMNS, packed, n, &b);
		hg_event_model_free(r[k]);
	}
	free(packed);
	fx_buf_release(&b);
	hg_event_model_free(w);
}
END_TEST

/* Rank of addr among its pair's recent blocks (0: the newest), as the writer would code it. */
static uint32_t rank_of(const struct hg_pid_model *pm, uint64_t addr)
{
	uint64_t age;
	uint32_t pair, rank;

	ck_assert_int_eq(hg_model_free_ref(pm, addr, &age, &pair, &rank), 1);
	return rank;
}

/* A pair keeps its last HG_MODEL_PAIR_RECENT live blocks in a ring: the oldest goes with each
 * allocation past that, a freed one leaves the others' order, and ranks count from the newest
 * through the ring's wrap. */
START_TEST(test_model_pair_recent_ranks)
{
	struct hg_event_model *w = hg_event_model_new();
	struct hg_pid_model *pm = hg_model_of(w, 1);
	int is_new;
	uint32_t pair = hg_model_pair(pm, 40, 1, HG_FN_MALLOC, &is_new);
	uint64_t a[102], got;

	for (int i = 0; i < 102; i++)
		a[i] = 0x100000 + 64 * (uint64_t)i;
	for (int i = 0; i < 100; i++)
		hg_model_note_alloc(pm, a[i], pair, HG_MODEL_NOT_FREED);
	ck_assert_uint_eq(rank_of(pm, a[99]), 0);
	ck_assert_uint_eq(rank_of(pm, a[50]), 49);
	ck_assert_uint_eq(rank_of(pm, a[36]), 63);
	ck_assert_uint_eq(rank_of(pm, a[35]), UINT32_MAX); /* recent, but pushed out of the pair's */

	hg_model_note_free(pm, a[50], HG_MODEL_NO_PAIR); /* the writer's map knows its pair */
	ck_assert_uint_eq(rank_of(pm, a[51]), 48);
	ck_assert_uint_eq(rank_of(pm, a[49]), 49);
	ck_assert_uint_eq(rank_of(pm, a[36]), 62);
	ck_assert_int_eq(hg_model_free_deref(pm, pair, 0, &got), 0);
	ck_assert_uint_eq(got, a[99]);
	ck_assert_int_eq(hg_model_free_deref(pm, pair, 62, &got), 0);
	ck_assert_uint_eq(got, a[36]);
	ck_assert_int_eq(hg_model_free_deref(pm, pair, 63, &got), -1);

	hg_model_note_alloc(pm, a[100], pair, HG_MODEL_NOT_FREED); /* 64 again: nothing goes */
	ck_assert_uint_eq(rank_of(pm, a[36]), 63);
	hg_model_note_alloc(pm, a[101], pair, HG_MODEL_NOT_FREED); /* the oldest goes */
	ck_assert_uint_eq(rank_of(pm, a[36]), UINT32_MAX);
	ck_assert_uint_eq(rank_of(pm, a[37]), 63);
	ck_assert_uint_eq(rank_of(pm, a[101]), 0);
	ck_assert_int_eq(hg_model_free_deref(pm, pair, 63, &got), 0);
	ck_assert_uint_eq(got, a[37]);
	hg_event_model_free(w);
}
END_TEST

/* A reader's model for codec 5 keeps no map, which a codec-4 or codec-3 block would need (a
 * literal free there may be of a recent block): it refuses them as damage, and goes on with
 * codec 5. */
START_TEST(test_model_reader_of_codec5_refuses_older_blocks)
{
	struct hg_event_model *w = hg_event_model_new(), *r = hg_event_model_new_reader();
	struct fx_buf b = { 0 };
	uint8_t *packed, *back;
	size_t n;

	fx_alloc(&b, 0, 0x10000, 40, 1, HG_FN_MALLOC);
	fx_free(&b, 0, 0x10000);
	ck_assert_ptr_nonnull(packed = malloc(hg_pack_bound(b.len)));
	ck_assert_ptr_nonnull(back = malloc(b.len));
	ck_assert(!hg_event_model_reads(r, HG_CODEC_COLUMN_STREAM));
	ck_assert(hg_event_model_reads(w, HG_CODEC_COLUMN_STREAM));
	for (unsigned codec = HG_CODEC_PACKED_STREAM; codec < HG_CODEC_EVENT_COLUMNS; codec++) {
		struct hg_event_model *w0 = hg_event_model_new();
		n = hg_pack_stream(w0, 1, 1, codec, b.p, b.len, packed);
		ck_assert_int_eq(hg_unpack_stream(r, 1, codec, packed, n, back, b.len, 0), -1);
		hg_event_model_free(w0);
	}
	n = hg_pack_stream(w, 1, 1, HG_CODEC_EVENT_COLUMNS, b.p, b.len, packed);
	expect_unpacks(r, 1, HG_CODEC_EVENT_COLUMNS, packed, n, &b);
	free(packed);
	free(back);
	fx_buf_release(&b);
	hg_event_model_free(w);
	hg_event_model_free(r);
}
END_TEST

/*
 * Codec 5 address codes the writer never makes: a far code in the near column without the
 * escape, and a far part that wraps the code round to a near one. Both are damage; the
 * block they were edited from unpacks.
 */
START_TEST(test_model_codec5_noncanonical_codes_are_damage)
{
	/* lengths of six columns; tags 4 (new pair); time 0; no pairs; address code: 50 (the
	 * escape); the rest: size 40, stack 7, function 1; far: 4,096 + zigzag(0x1000); no ages */
	static const uint8_t good[] = { 1, 1, 0, 1, 3, 2, 4, 0, 50, 40, 7, 1, 0x80, 0x60 };
	/* code 4,146 + zigzag(0x1000) in the near column */
	static const uint8_t unescaped[] = { 1, 1, 0, 2, 3, 0, 4, 0, 0xb2, 0x60, 40, 7, 1 };
	/* far part 2^64 - 33: 50 + it wraps to 17, the end of the last block */
	static const uint8_t wraps[] = { 1, 1, 0, 1, 3, 10, 4, 0, 50, 40, 7, 1,
					 0xdf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	uint8_t out[sizeof(struct hg_rec_alloc)];
	const struct hg_rec_alloc *a = (const void *)out;
	struct hg_event_model *m = hg_event_model_new_reader();

	ck_assert_int_eq(hg_unpack_stream(m, 1, HG_CODEC_EVENT_COLUMNS, good, sizeof(good), out,
					  sizeof(out), 0), 0);
	ck_assert_uint_eq(a->addr, 0x1000);
	ck_assert_uint_eq(a->size_bytes, 40);
	hg_event_model_free(m);
	m = hg_event_model_new_reader();
	ck_assert_int_eq(hg_unpack_stream(m, 1, HG_CODEC_EVENT_COLUMNS, unescaped,
					  sizeof(unescaped), out, sizeof(out), 0), -1);
	hg_event_model_free(m);
	m = hg_event_model_new_reader();
	ck_assert_int_eq(hg_unpack_stream(m, 1, HG_CODEC_EVENT_COLUMNS, wraps, sizeof(wraps), out,
					  sizeof(out), 0), -1);
	hg_event_model_free(m);
}
END_TEST

/* References to pairs, ranks or freed addresses the model does not have: the block is bad. */
START_TEST(test_model_bad_references_are_damage)
{
	static const uint8_t cases[][8] = {
		{ 5, 0, 0, 0 },       /* ALLOC of pair 0, never defined */
		{ 6, 0, 3, 0 },       /* FREE of pair 3, rank 0 */
		{ 4, 0, 40, 1, 0, 2 } /* new pair (40 B, stack 1), address code 2: no freed 48 B */
	};
	static const size_t lens[] = { 4, 4, 6 };
	uint8_t out[64];

	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		struct hg_event_model *m = hg_event_model_new();
		ck_assert_int_eq(hg_unpack_stream(m, 1, HG_CODEC_PACKED_STREAM, cases[i], lens[i], out,
						  i == 1 ? sizeof(struct hg_rec_free) :
							   sizeof(struct hg_rec_alloc), 0),
				 -1);
		hg_event_model_free(m);
	}
}
END_TEST

Suite *event_model_suite(void);

Suite *event_model_suite(void)
{
	Suite *s = suite_create("event_model");
	TCase *tc = tcase_create("pack");

	tcase_add_loop_test(tc, test_model_random_stream_round_trip, 0, 7);
	tcase_add_test(tc, test_model_reader_of_codec5_refuses_older_blocks);
	tcase_add_test(tc, test_model_codec5_free_of_an_old_block);
	tcase_add_test(tc, test_model_codec5_noncanonical_codes_are_damage);
	tcase_add_test(tc, test_model_repetition_packs_small);
	tcase_add_test(tc, test_model_bad_references_are_damage);
	tcase_add_test(tc, test_model_columns_must_add_up);
	tcase_add_test(tc, test_model_small_records_and_far_addresses);
	tcase_add_test(tc, test_model_codec5_codes_and_columns);
	tcase_add_test(tc, test_model_pair_recent_ranks);
	tcase_add_loop_test(tc, test_model_unpack_skipping_words, 0, 3);
	suite_add_tcase(s, tc);
	return s;
}
