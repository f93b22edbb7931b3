/*
 * block_codec.c - pack a block's records into a compact byte stream before compression
 *
 * ALLOC and FREE records are nine in ten of a trace and their fields are predictable from the
 * record before them in the same thread: timestamps grow by tens of nanoseconds, addresses
 * cluster, sizes and stack ids are small. The packed form writes one tag byte, then each field
 * as a LEB128 varint: time as the delta from the previous timed record of the block, address as
 * a zigzag delta from the previous address. Every other record is copied whole behind a tag.
 * zstd then works on a stream a third of the size, which is both smaller and faster to
 * compress. Unpacking rebuilds the records byte for byte, so nothing above the codec knows.
 * Codecs 3 and 4 add tags 4 to 8 (references to the stream's model), codec 4 tag 9 and
 * columns, codec 5 tag 10, more address codes and two more columns, all described where they
 * are defined below and in docs/FORMAT.md.
 *
 *   tag 0x01  ALLOC: dt, zigzag(daddr), size, stack_id, fn (1 byte)
 *   tag 0x02  FREE:  dt, zigzag(daddr)
 *   tag 0x03  WORDS: snapshot_id, n, then per pair zigzag(dwhere / 8), zigzag(dvalue), each
 *                    against the previous pair of the block (a snapshot's pairs ascend by
 *                    address and point at neighbouring blocks, so the deltas are small)
 *   tag 0x00  other: varint length, then the record's bytes unchanged
 */
#include <string.h>

#include "block_codec.h"
#include "block_codec_int.h"
#include "zigzag.h"

/*
 * A FREE of a block allocated less than this many allocations ago is written as that number
 * (one byte) rather than as pair and rank. Above it, pair and rank compress better in the
 * traces measured: the ages of a run of frees all differ, where their pairs repeat.
 */
#define FREE_AGE_MAX 128

/* Room a column may need for raw_bytes of records: tags one byte per record (at least 8
 * bytes each: a header alone is a record too); times up to 10 bytes and pair indices 5 per
 * event (at least 24 bytes each); address codes and ranks up to 10 per event; the rest as
 * much as a single stream. */
static size_t col_room(enum col c, size_t raw_bytes)
{
	switch (c) {
	case COL_TAG:
		return raw_bytes / 8 + 1;
	case COL_TIME:
	case COL_ADDR:
	case COL_FAR:
	case COL_AGE:
		return raw_bytes / 24 * 10 + 10;
	case COL_PAIR:
		return raw_bytes / 24 * 5 + 5;
	default:
		/* Worst case: every record raw, 8 bytes, plus a tag and a one-byte length; or a
		 * WORDS pair of 16 bytes as two 10-byte varints. */
		return raw_bytes + raw_bytes / 4 + 16;
	}
}

#define COL_HEADER_MAX (10 * (N_COLS - 1)) /* the columns' lengths, as varints */

size_t hg_pack_bound(size_t raw_bytes)
{
	size_t n = COL_HEADER_MAX;

	for (int c = 0; c < N_COLS; c++)
		n += col_room((enum col)c, raw_bytes);
	return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* A varint, a byte, or bytes at the end of column c. */
static void put(struct pack_state *st, enum col c, uint64_t v)
{
	*st->col[c] = put_varint(*st->col[c], v);
}

static void put_byte(struct pack_state *st, enum col c, uint8_t b)
{
	*(*st->col[c])++ = b;
}

static void put_bytes(struct pack_state *st, enum col c, const void *src, size_t n)
{
	memcpy(*st->col[c], src, n);
	*st->col[c] += n;
}

/* Pairs' addresses are 8-aligned words: packing divides their deltas by 8. */
static int words_aligned(const struct hg_rec_words *w)
{
	const uint64_t *pair = (const uint64_t *)(w + 1);

	for (uint32_t i = 0; i < w->n; i++)
		if (pair[2 * i] & 7)
			return 0;
	return 1;
}

static void pack_words(struct pack_state *st, const struct hg_rec_words *w)
{
	const uint64_t *pair = (const uint64_t *)(w + 1);

	put_byte(st, COL_TAG, TAG_WORDS);
	put(st, COL_REST, w->snapshot_id);
	put(st, COL_REST, w->n);
	for (uint32_t i = 0; i < w->n; i++) {
		put(st, COL_REST, hg_zigzag(pair[2 * i] >> 3, st->where >> 3));
		put(st, COL_REST, hg_zigzag(pair[2 * i + 1], st->value));
		st->where = pair[2 * i];
		st->value = pair[2 * i + 1];
	}
}

/* An allocation's size, stack id and entry point, as both ALLOC packings write them in full. */
static void put_alloc_key(struct pack_state *st, const struct hg_rec_alloc *a)
{
	put(st, COL_REST, a->size_bytes);
	put(st, COL_REST, a->stack_id);
	put_byte(st, COL_REST, a->fn);
}

/* 0, or -1 when the process has as many pairs as a model holds or the address is not one a
 * program gets (the caller packs it without references). */
static int pack_alloc_model(struct pack_state *st, const struct hg_rec_alloc *a)
{
	struct hg_pid_model *pm = pid_model(st);
	int is_new;
	uint32_t pair;
	uint64_t code;

	/* A literal address code is at most 4,146 + a zigzag delta: one that far from the last
	 * allocation would not fit in 64 bits. Such an address is no program's (user space ends
	 * below 2^57); decided before the pair is made, which would change the model. */
	if (a->addr >> 62)
		return -1;
	pair = hg_model_pair(pm, a->size_bytes, a->stack_id, a->fn, &is_new);
	if (pair == HG_MODEL_NO_PAIR)
		return -1;
	put_byte(st, COL_TAG, is_new ? TAG_ALLOC_NEW : TAG_ALLOC_PAIR);
	put(st, COL_TIME, a->t_ns - st->t);
	if (is_new)
		put_alloc_key(st, a);
	else
		put(st, COL_PAIR, pair);
	code = hg_model_addr_code(pm, a->addr, pair, st->codec);
	if (st->columns > COL_FAR && code >= HG_MODEL_NEAR_CODES) {
		put(st, COL_ADDR, HG_MODEL_NEAR_CODES);
		put(st, COL_FAR, code - HG_MODEL_NEAR_CODES);
	} else {
		put(st, COL_ADDR, code);
	}
	hg_model_note_alloc(pm, a->addr, pair, code);
	st->t = a->t_ns;
	return 0;
}

static void pack_free_model(struct pack_state *st, const struct hg_rec_free *f)
{
	struct hg_pid_model *pm = pid_model(st);
	uint32_t pair, rank;
	uint64_t age;
	int known = hg_model_free_ref(pm, f->addr, &age, &pair, &rank);

	if (known && st->columns > 1 && age < FREE_AGE_MAX) {
		put_byte(st, COL_TAG, TAG_FREE_AGE);
		put(st, COL_TIME, f->t_ns - st->t);
		put(st, COL_AGE, age);
	} else if (known && rank != UINT32_MAX) {
		put_byte(st, COL_TAG, TAG_FREE_REF);
		put(st, COL_TIME, f->t_ns - st->t);
		put(st, COL_PAIR, pair);
		put(st, COL_ADDR, rank);
	} else if (known && st->codec == HG_CODEC_EVENT_COLUMNS) {
		/* Codec 5 says of every recent live block freed which pair's it was, so that a
		 * reader needs no map of addresses (event_model.c). Its age would do, but a program
		 * tearing down what it built frees its blocks in order, whose addresses step
		 * evenly where the ages do not (python's trace: 161 KB this way, 304 KB by age). */
		put_byte(st, COL_TAG, TAG_FREE_OLD);
		put(st, COL_TIME, f->t_ns - st->t);
		put(st, COL_PAIR, pair);
		put(st, COL_REST, hg_zigzag(f->addr, hg_model_last_free(pm)));
	} else {
		put_byte(st, COL_TAG, TAG_FREE_LIT);
		put(st, COL_TIME, f->t_ns - st->t);
		put(st, COL_REST, hg_zigzag(f->addr, hg_model_last_free(pm)));
	}
	hg_model_note_free(pm, f->addr, HG_MODEL_NO_PAIR);
	st->t = f->t_ns;
}

/*
 * TAG_STACK: zigzag(id - previous id - 1), frame count, how many outermost frames equal the
 * previous STACK's outermost ones, then the others from the outside in, each a zigzag delta
 * from the frame written before it (the innermost shared one to start with).
 */
static void pack_stack_model(struct pack_state *st, const struct hg_rec_stack *k)
{
	struct hg_pid_model *pm = pid_model(st);
	uint32_t n_prev, prev_id, shared = 0;
	const uint64_t *prev = hg_model_last_stack(pm, &n_prev, &prev_id);
	uint64_t before;

	while (shared < k->n_frames && shared < n_prev &&
	       k->ip[k->n_frames - 1 - shared] == prev[n_prev - 1 - shared])
		shared++;
	put_byte(st, COL_TAG, TAG_STACK);
	put(st, COL_REST, hg_zigzag(k->stack_id, (uint64_t)prev_id + 1));
	put(st, COL_REST, k->n_frames);
	put(st, COL_REST, shared);
	before = shared ? k->ip[k->n_frames - shared] : 0;
	for (uint32_t i = k->n_frames - shared; i-- > 0;) {
		put(st, COL_REST, hg_zigzag(k->ip[i], before));
		before = k->ip[i];
	}
	hg_model_note_stack(pm, k->stack_id, k->ip, k->n_frames);
}

static int stack_packable(const struct hg_rec *r)
{
	const struct hg_rec_stack *k = (const void *)r;

	return r->type == HG_REC_STACK && !r->flags && r->size_bytes >= sizeof(*k) &&
	       k->n_frames <= HG_MAX_FRAMES && r->size_bytes == sizeof(*k) + 8u * k->n_frames;
}

static void pack_one(struct pack_state *st, const struct hg_rec *r)
{
	/* The ALLOC and FREE records either packing can write; anything else of theirs is raw. */
	int plain = !r->flags;
	const struct hg_rec_alloc *a =
		plain && r->type == HG_REC_ALLOC && r->size_bytes == sizeof(*a) ? (const void *)r : NULL;
	const struct hg_rec_free *f =
		plain && r->type == HG_REC_FREE && r->size_bytes == sizeof(*f) ? (const void *)r : NULL;

	if (st->refer && a && a->addr && pack_alloc_model(st, a) == 0)
		return;
	if (st->refer && f && f->addr) {
		pack_free_model(st, f);
	} else if (st->refer && stack_packable(r)) {
		pack_stack_model(st, (const struct hg_rec_stack *)r);
	} else if (a) {
		put_byte(st, COL_TAG, TAG_ALLOC);
		put(st, COL_TIME, a->t_ns - st->t);
		put(st, COL_ADDR, hg_zigzag(a->addr, st->addr));
		put_alloc_key(st, a);
		st->t = a->t_ns;
		st->addr = a->addr;
	} else if (f) {
		put_byte(st, COL_TAG, TAG_FREE);
		put(st, COL_TIME, f->t_ns - st->t);
		put(st, COL_ADDR, hg_zigzag(f->addr, st->addr));
		st->t = f->t_ns;
		st->addr = f->addr;
	} else if (r->type == HG_REC_WORDS && !r->flags &&
		   ((const struct hg_rec_words *)r)->n <= HG_WORDS_MAX &&
		   r->size_bytes == 16u + 16u * ((const struct hg_rec_words *)r)->n &&
		   words_aligned((const struct hg_rec_words *)r)) {
		pack_words(st, (const struct hg_rec_words *)r);
	} else {
		put_byte(st, COL_TAG, TAG_RAW);
		put(st, COL_REST, r->size_bytes);
		put_bytes(st, COL_REST, r, r->size_bytes);
		model_control(st, r);
	}
}

/*
 * The record at raw + at, PREFETCH_LEAD records ahead of the one being packed: when it is an
 * event, ask for the model's hash slots of its address (and of an allocation's pair) now, so
 * that its lookups do not wait for memory. Returns the offset of the record after it.
 */
#define PREFETCH_LEAD 8
static size_t prefetch_at(struct pack_state *st, const uint8_t *raw, size_t raw_bytes, size_t at)
{
	const struct hg_rec *r = (const struct hg_rec *)(raw + at);

	if (at + sizeof(struct hg_rec_free) > raw_bytes || r->size_bytes < sizeof(struct hg_rec))
		return raw_bytes;
	if (st->refer && r->type == HG_REC_ALLOC)
		hg_model_prefetch(pid_model(st), (const struct hg_rec_alloc *)r);
	else if (st->refer && r->type == HG_REC_FREE)
		hg_model_prefetch_free(pid_model(st), ((const struct hg_rec_free *)r)->addr);
	return at + r->size_bytes;
}

/*
 * Pack into out (hg_pack_bound bytes). In columns, each column is written at its own place in
 * out, then moved down behind the lengths of all but the last.
 */
static size_t pack(struct pack_state st, const uint8_t *raw, size_t raw_bytes, uint8_t *out)
{
	int columns = st.columns = n_columns(st.codec);
	uint8_t *base[N_COLS], *p = out + (columns > 1 ? COL_HEADER_MAX : 0);
	size_t off = 0, ahead = 0;

	for (int c = 0; c < N_COLS; c++) {
		st.at[c] = base[c] = p;
		st.col[c] = &st.at[column_of(columns, c)];
		if (c < columns)
			p += col_room((enum col)c, raw_bytes);
	}
	for (int k = 0; k < PREFETCH_LEAD && st.model; k++)
		ahead = prefetch_at(&st, raw, raw_bytes, ahead);
	while (off + sizeof(struct hg_rec) <= raw_bytes) {
		const struct hg_rec *r = (const struct hg_rec *)(raw + off);
		pack_one(&st, r);
		off += r->size_bytes;
		if (st.model && ahead < raw_bytes)
			ahead = prefetch_at(&st, raw, raw_bytes, ahead);
	}
	if (columns == 1)
		return (size_t)(st.at[0] - out);
	p = out;
	for (int c = 0; c + 1 < columns; c++)
		p = put_varint(p, (uint64_t)(st.at[c] - base[c]));
	for (int c = 0; c < columns; c++) {
		memmove(p, base[c], (size_t)(st.at[c] - base[c]));
		p += st.at[c] - base[c];
	}
	return (size_t)(p - out);
}

size_t hg_pack_records(const uint8_t *raw, size_t raw_bytes, uint8_t *out)
{
	struct pack_state st = { 0 };

	return pack(st, raw, raw_bytes, out);
}

size_t hg_pack_stream(struct hg_event_model *m, uint32_t pid, int refer, unsigned codec,
		      const uint8_t *raw, size_t raw_bytes, uint8_t *out)
{
	struct pack_state st = { .model = m, .pid = pid, .refer = refer, .codec = codec };

	return pack(st, raw, raw_bytes, out);
}
