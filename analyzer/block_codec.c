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
#include "event_model.h"
#include "hg_format.h"
#include "zigzag.h"

enum {
	TAG_RAW = 0, TAG_ALLOC = 1, TAG_FREE = 2, TAG_WORDS = 3,
	/* codecs 3 and 4: events as references to the stream's model (event_model.h) */
	TAG_ALLOC_NEW = 4, TAG_ALLOC_PAIR = 5, TAG_FREE_REF = 6, TAG_FREE_LIT = 7, TAG_STACK = 8,
	/* codecs 4 and 5: a FREE of one of the last FREE_AGE_MAX blocks allocated */
	TAG_FREE_AGE = 9,
	/* codec 5 only: a FREE of an older recent block, with its pair, as a literal address */
	TAG_FREE_OLD = 10
};

/*
 * Codec 4 writes each kind of field in a column of its own, one after the other in the block:
 * tags, time deltas, pair indices, address codes and ranks, and the rest (keys, literal
 * addresses, stacks, words, whole records). Each column is then much like itself, which zstd
 * finds: the time deltas are nearly all 0 at the default resolution, and a program's sequence
 * of tags and pairs repeats. Codec 5 adds two: the far address codes (event_model.h: a
 * position among all recent frees, or a literal; an escape code stays in the address column),
 * and the ages of FREE_AGE. Near codes are nearly all below 50 and repeat as the program does;
 * far ones are spread over thousands of values, and mixed in they broke the runs zstd matches
 * (git log -p: address column 608 KB, the three 500 KB; the trace 1,163 -> 988 KB with the
 * new codes). Codecs 2 and 3 write the same fields in one stream, record after record, in the
 * same order.
 */
enum col { COL_TAG, COL_TIME, COL_PAIR, COL_ADDR, COL_REST, COL_FAR, COL_AGE, N_COLS };

/* How many columns a block of each codec has (codec 2 and 3: one stream). */
static int n_columns(unsigned codec)
{
	return codec == HG_CODEC_EVENT_COLUMNS ? N_COLS : codec == HG_CODEC_COLUMN_STREAM ? 5 : 1;
}

/* Where column c's fields go in a block of that many columns: their own, the address column
 * (codec 4 has neither far codes nor ages apart), or the one stream. */
static int column_of(int columns, int c)
{
	if (columns == 1)
		return 0;
	return c < columns ? c : COL_ADDR;
}

/*
 * A FREE of a block allocated less than this many allocations ago is written as that number
 * (one byte) rather than as pair and rank. Above it, pair and rank compress better in the
 * traces measured: the ages of a run of frees all differ, where their pairs repeat.
 */
#define FREE_AGE_MAX 128

struct unpack_in {
	const uint8_t *p, *end;
};

struct pack_state {
	uint64_t t;     /* previous timestamp */
	uint64_t addr;  /* previous address (codec 2) */
	uint64_t where; /* previous WORDS pair */
	uint64_t value;
	struct hg_event_model *model; /* codecs 3 and 4; NULL for codec 2 */
	uint32_t pid;   /* whose model: the block's, then each ORIGIN's */
	struct hg_pid_model *pm; /* pid's, once looked up */
	int refer;      /* pack events as references to the model (else as codec 2 does) */
	/* Packing: where each column's next byte goes; one place for codecs 2 and 3. */
	uint8_t *at[N_COLS], **col[N_COLS];
	/* Unpacking: each column's bytes left; one stream for codecs 2 and 3. */
	struct unpack_in in_at[N_COLS], *in[N_COLS];
	int bad;        /* unpacking met an overrun or an over-long varint */
	unsigned codec; /* HG_CODEC_* of the block (0 for hg_pack_records' codec 2) */
	int columns;    /* n_columns(codec) */
};

static struct hg_pid_model *pid_model(struct pack_state *st)
{
	if (!st->pm)
		st->pm = hg_model_of(st->model, st->pid);
	return st->pm;
}

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

/* A record copied whole that tells the model something: whose events follow, or that a
 * process started or ended (its model is forgotten). Packing and unpacking both call it. */
static void model_control(struct pack_state *st, const struct hg_rec *r)
{
	if (!st->model)
		return;
	if (r->type == HG_REC_ORIGIN && r->size_bytes >= sizeof(struct hg_rec_origin)) {
		st->pid = ((const struct hg_rec_origin *)r)->pid;
		st->pm = NULL;
	} else if (r->type == HG_REC_PROCESS && r->size_bytes >= sizeof(struct hg_rec_process)) {
		hg_model_forget(st->model, ((const struct hg_rec_process *)r)->pid);
		st->pm = NULL;
	} else if (r->type == HG_REC_EXIT && r->size_bytes >= sizeof(struct hg_rec_exit)) {
		hg_model_forget(st->model, ((const struct hg_rec_exit *)r)->pid);
		st->pm = NULL;
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
	hg_model_note_alloc(pm, a->addr, pair);
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
		 * evenly where the ages do not (python's trace: 163 KB this way, 304 KB by age). */
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

/* A varint from column c; st->bad, and 0, when it overruns the column or is over-long. */
static uint64_t get(struct pack_state *st, enum col c)
{
	struct unpack_in *in = st->in[c];
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		uint8_t b;
		if (in->p >= in->end)
			break;
		b = *in->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	st->bad = 1;
	return 0;
}

/* One byte from column c; st->bad, and 0, past its end. */
static uint8_t get_byte(struct pack_state *st, enum col c)
{
	struct unpack_in *in = st->in[c];

	if (in->p >= in->end) {
		st->bad = 1;
		return 0;
	}
	return *in->p++;
}

/* An ALLOC or FREE record with its header and time, the rest zero: every packing of them starts
 * with the time delta. */
static void begin_alloc(struct hg_rec_alloc *a, struct pack_state *st)
{
	memset(a, 0, sizeof(*a));
	a->hdr.type = HG_REC_ALLOC;
	a->hdr.size_bytes = sizeof(*a);
	a->t_ns = st->t + get(st, COL_TIME);
}

static void begin_free(struct hg_rec_free *f, struct pack_state *st)
{
	memset(f, 0, sizeof(*f));
	f->hdr.type = HG_REC_FREE;
	f->hdr.size_bytes = sizeof(*f);
	f->t_ns = st->t + get(st, COL_TIME);
}

/* What put_alloc_key wrote; st->bad when it is cut short. */
static void get_alloc_key(struct pack_state *st, struct hg_rec_alloc *a)
{
	a->size_bytes = get(st, COL_REST);
	a->stack_id = (uint32_t)get(st, COL_REST);
	a->fn = get_byte(st, COL_REST);
}

static size_t unpack_alloc(struct pack_state *st, uint8_t *out)
{
	struct hg_rec_alloc a;

	begin_alloc(&a, st);
	a.addr = hg_unzigzag(get(st, COL_ADDR), st->addr);
	get_alloc_key(st, &a);
	st->t = a.t_ns;
	st->addr = a.addr;
	memcpy(out, &a, sizeof(a));
	return sizeof(a);
}

static size_t unpack_free(struct pack_state *st, uint8_t *out)
{
	struct hg_rec_free f;

	begin_free(&f, st);
	f.addr = hg_unzigzag(get(st, COL_ADDR), st->addr);
	st->t = f.t_ns;
	st->addr = f.addr;
	memcpy(out, &f, sizeof(f));
	return sizeof(f);
}

/* TAG_ALLOC_NEW / TAG_ALLOC_PAIR. */
static size_t unpack_alloc_model(struct pack_state *st, int is_new, uint8_t *out)
{
	struct hg_pid_model *pm = pid_model(st);
	struct hg_rec_alloc a;
	uint32_t pair;
	uint64_t code;

	begin_alloc(&a, st);
	if (is_new) {
		get_alloc_key(st, &a);
		if (st->bad)
			return 0;
		if ((pair = hg_model_pair_add(pm, a.size_bytes, a.stack_id, a.fn)) ==
		    HG_MODEL_NO_PAIR) {
			st->bad = 1;
			return 0;
		}
	} else {
		uint64_t idx = get(st, COL_PAIR);
		if (st->bad || idx > UINT32_MAX ||
		    hg_model_pair_get(pm, (uint32_t)idx, &a.size_bytes, &a.stack_id, &a.fn) < 0) {
			st->bad = 1;
			return 0;
		}
		pair = (uint32_t)idx;
	}
	code = get(st, COL_ADDR);
	if (st->columns > COL_FAR && code == HG_MODEL_NEAR_CODES)
		code += get(st, COL_FAR);
	if (st->bad || hg_model_addr_decode(pm, code, pair, st->codec, &a.addr) < 0 || !a.addr) {
		st->bad = 1;
		return 0;
	}
	hg_model_note_alloc(pm, a.addr, pair);
	st->t = a.t_ns;
	memcpy(out, &a, sizeof(a));
	return sizeof(a);
}

/* TAG_FREE_AGE, TAG_FREE_REF, TAG_FREE_OLD, TAG_FREE_LIT. */
static size_t unpack_free_model(struct pack_state *st, uint8_t tag, uint8_t *out)
{
	struct hg_pid_model *pm = pid_model(st);
	struct hg_rec_free f;
	uint32_t freed_pair = HG_MODEL_NO_PAIR; /* a recent live block's, as a reference says */

	begin_free(&f, st);
	if (tag == TAG_FREE_AGE) {
		if (hg_model_free_unage(pm, get(st, COL_AGE), &f.addr, &freed_pair) < 0 || st->bad) {
			st->bad = 1;
			return 0;
		}
	} else if (tag == TAG_FREE_REF) {
		uint64_t pair = get(st, COL_PAIR), rank = get(st, COL_ADDR);
		if (st->bad || pair > UINT32_MAX || rank > UINT32_MAX ||
		    hg_model_free_deref(pm, (uint32_t)pair, (uint32_t)rank, &f.addr) < 0) {
			st->bad = 1;
			return 0;
		}
		freed_pair = (uint32_t)pair;
	} else if (tag == TAG_FREE_OLD) {
		uint64_t pair = get(st, COL_PAIR), size;
		uint32_t stack_id;
		uint8_t fn;
		f.addr = hg_unzigzag(get(st, COL_REST), hg_model_last_free(pm));
		if (st->bad || !f.addr || pair > UINT32_MAX ||
		    hg_model_pair_get(pm, (uint32_t)pair, &size, &stack_id, &fn) < 0) {
			st->bad = 1;
			return 0;
		}
		freed_pair = (uint32_t)pair;
	} else {
		f.addr = hg_unzigzag(get(st, COL_REST), hg_model_last_free(pm));
		if (st->bad || !f.addr) {
			st->bad = 1; /* the shim never records a free of NULL */
			return 0;
		}
	}
	hg_model_note_free(pm, f.addr, freed_pair);
	st->t = f.t_ns;
	memcpy(out, &f, sizeof(f));
	return sizeof(f);
}

/* TAG_STACK. */
static size_t unpack_stack_model(struct pack_state *st, uint8_t *out, size_t room)
{
	struct hg_pid_model *pm = pid_model(st);
	uint32_t n_prev, prev_id;
	const uint64_t *prev = hg_model_last_stack(pm, &n_prev, &prev_id);
	uint64_t id = hg_unzigzag(get(st, COL_REST), (uint64_t)prev_id + 1);
	uint64_t n = get(st, COL_REST), shared = get(st, COL_REST), before;
	struct hg_rec_stack k;
	uint64_t *ip = (uint64_t *)(out + sizeof(k));

	if (st->bad || id > UINT32_MAX || n > HG_MAX_FRAMES || shared > n || shared > n_prev ||
	    sizeof(k) + 8u * n > room) {
		st->bad = 1;
		return 0;
	}
	memset(&k, 0, sizeof(k));
	k.hdr.type = HG_REC_STACK;
	k.hdr.size_bytes = (uint32_t)(sizeof(k) + 8u * n);
	k.stack_id = (uint32_t)id;
	k.n_frames = (uint32_t)n;
	memcpy(out, &k, sizeof(k));
	for (uint64_t j = 0; j < shared; j++)
		memcpy(&ip[n - 1 - j], &prev[n_prev - 1 - j], 8);
	before = shared ? prev[n_prev - shared] : 0;
	for (uint64_t i = n - shared; i-- > 0 && !st->bad;) {
		before = hg_unzigzag(get(st, COL_REST), before);
		memcpy(&ip[i], &before, 8);
	}
	if (st->bad)
		return 0;
	hg_model_note_stack(pm, k.stack_id, ip, k.n_frames);
	return k.hdr.size_bytes;
}

static size_t unpack_words(struct pack_state *st, uint8_t *out, size_t room)
{
	struct hg_rec_words w;
	uint64_t id = get(st, COL_REST), n = get(st, COL_REST);
	uint64_t *pair = (uint64_t *)(out + sizeof(w));

	if (st->bad || n > HG_WORDS_MAX || 16u + 16u * n > room) {
		st->bad = 1;
		return 0;
	}
	memset(&w, 0, sizeof(w));
	w.hdr.type = HG_REC_WORDS;
	w.hdr.size_bytes = (uint32_t)(16u + 16u * n);
	w.snapshot_id = (uint32_t)id;
	w.n = (uint32_t)n;
	memcpy(out, &w, sizeof(w));
	for (uint64_t i = 0; i < n && !st->bad; i++) {
		uint64_t where = hg_unzigzag(get(st, COL_REST), st->where >> 3) << 3;
		uint64_t value = hg_unzigzag(get(st, COL_REST), st->value);
		memcpy(&pair[2 * i], &where, 8);
		memcpy(&pair[2 * i + 1], &value, 8);
		st->where = where;
		st->value = value;
	}
	return w.hdr.size_bytes;
}

/* TAG_RAW: a record copied whole. -1 when it does not fit. */
static int unpack_raw(struct pack_state *st, uint8_t *out, size_t room)
{
	uint64_t len = get(st, COL_REST);
	struct unpack_in *in = st->in[COL_REST];

	if (st->bad || len > room || len > (size_t)(in->end - in->p))
		return -1;
	memcpy(out, in->p, len);
	in->p += len;
	/* Only a whole record (its own size is the length copied) can tell the model anything;
	 * anything else is left for the reader to report. */
	if (len >= sizeof(struct hg_rec) && len % 8 == 0 && (uintptr_t)out % 8 == 0 &&
	    ((const struct hg_rec *)out)->size_bytes == len)
		model_control(st, (const struct hg_rec *)out);
	return (int)len;
}

/* Point st's columns at src: one stream, or the columns behind their lengths. -1: malformed. */
static int open_columns(struct pack_state *st, const uint8_t *src, size_t n)
{
	int columns = st->columns = n_columns(st->codec);
	struct unpack_in all = { src, src + n };
	size_t len[N_COLS - 1];

	for (int c = 0; c < N_COLS; c++)
		st->in[c] = &st->in_at[column_of(columns, c)];
	if (columns == 1) {
		st->in_at[0] = all;
		return 0;
	}
	st->in[0] = &all; /* the lengths are varints ahead of the first column */
	for (int c = 0; c + 1 < columns; c++)
		len[c] = get(st, COL_TAG);
	if (st->bad)
		return -1;
	for (int c = 0; c < columns; c++) {
		size_t left = (size_t)(all.end - all.p), k = c + 1 < columns ? len[c] : left;

		if (k > left)
			return -1;
		st->in_at[c] = (struct unpack_in){ all.p, all.p + k };
		all.p += k;
	}
	st->in[0] = &st->in_at[0];
	return 0;
}

static int unpack(struct pack_state st, const uint8_t *src, size_t n, uint8_t *out,
		  size_t raw_bytes)
{
	size_t off = 0;

	if (open_columns(&st, src, n) < 0)
		return -1;
	while (st.in[COL_TAG]->p < st.in[COL_TAG]->end && !st.bad) {
		uint8_t tag = get_byte(&st, COL_TAG);
		int len;

		if (st.model && (tag == TAG_ALLOC_NEW || tag == TAG_ALLOC_PAIR) &&
		    raw_bytes - off >= sizeof(struct hg_rec_alloc)) {
			off += unpack_alloc_model(&st, tag == TAG_ALLOC_NEW, out + off);
		} else if (st.model &&
			   (tag == TAG_FREE_REF || tag == TAG_FREE_LIT ||
			    (tag == TAG_FREE_AGE && st.columns > 1) ||
			    (tag == TAG_FREE_OLD && st.codec == HG_CODEC_EVENT_COLUMNS)) &&
			   raw_bytes - off >= sizeof(struct hg_rec_free)) {
			off += unpack_free_model(&st, tag, out + off);
		} else if (st.model && tag == TAG_STACK) {
			off += unpack_stack_model(&st, out + off, raw_bytes - off);
		} else if (tag == TAG_ALLOC && raw_bytes - off >= sizeof(struct hg_rec_alloc)) {
			off += unpack_alloc(&st, out + off);
		} else if (tag == TAG_FREE && raw_bytes - off >= sizeof(struct hg_rec_free)) {
			off += unpack_free(&st, out + off);
		} else if (tag == TAG_WORDS) {
			off += unpack_words(&st, out + off, raw_bytes - off);
		} else if (tag == TAG_RAW && (len = unpack_raw(&st, out + off, raw_bytes - off)) >= 0) {
			off += (size_t)len;
		} else {
			return -1;
		}
	}
	if (st.bad || off != raw_bytes)
		return -1;
	/* Every column read to its end: bytes left over are not what the writer wrote. */
	for (int c = 0; c < N_COLS; c++)
		if (st.in[c]->p != st.in[c]->end)
			return -1;
	return 0;
}

int hg_unpack_records(const uint8_t *src, size_t n, uint8_t *out, size_t raw_bytes)
{
	struct pack_state st = { 0 };

	return unpack(st, src, n, out, raw_bytes);
}

int hg_unpack_stream(struct hg_event_model *m, uint32_t pid, unsigned codec, const uint8_t *src,
		     size_t n, uint8_t *out, size_t raw_bytes)
{
	struct pack_state st = { .model = m, .pid = pid, .refer = 1, .codec = codec };

	if (!hg_event_model_reads(m, codec))
		return -1;
	return unpack(st, src, n, out, raw_bytes);
}
