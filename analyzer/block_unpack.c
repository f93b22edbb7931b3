/*
 * block_unpack.c - unpack a block packed by block_codec.c back into its records, byte for byte
 *
 * Unpacking reads what packing wrote, column by column, and updates the stream's model with
 * every event exactly as packing did (event_model.h). Every length, index and reference is
 * checked against what the block and the model hold: a block that does not add up is damage,
 * and nothing is read or written out of bounds.
 */
#include <stddef.h>
#include <string.h>

#include "block_codec.h"
#include "block_codec_int.h"
#include "hg_compiler.h"
#include "zigzag.h"

/* The varint at *p, which is moved past what was read: 0, or -1 when it runs past end or
 * over 64 bits. */
static int varint_at(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/* A varint from column c; st->bad, and 0, when it overruns the column or is over-long. */
static HG_NOINLINE uint64_t get_long(struct pack_state *st, enum col c)
{
	uint64_t v;

	if (varint_at(&st->in[c]->p, st->in[c]->end, &v) == 0)
		return v;
	st->bad = 1;
	return 0;
}

/* Most varints are one or two bytes: those inline. */
static inline uint64_t get(struct pack_state *st, enum col c)
{
	struct unpack_in *in = st->in[c];
	const uint8_t *p = in->p;

	if (HG_LIKELY(in->end - p >= 2)) {
		if (p[0] < 0x80) {
			in->p = p + 1;
			return p[0];
		}
		if (p[1] < 0x80) {
			in->p = p + 2;
			return (uint64_t)(p[0] & 0x7f) | (uint64_t)p[1] << 7;
		}
	}
	return get_long(st, c);
}

/* Step over k varints of column c (st->bad when it has fewer): each ends in a byte below
 * 0x80, counted eight bytes at a time. */
static void skip_varints(struct pack_state *st, enum col c, uint64_t k)
{
	struct unpack_in *in = st->in[c];
	const uint8_t *p = in->p;

	/* While k >= 8, eight bytes hold at most k ends. */
	while (k >= 8 && in->end - p >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		k -= (uint64_t)__builtin_popcountll(~w & 0x8080808080808080ull);
		p += 8;
	}
	for (; k && p < in->end; p++)
		k -= *p < 0x80;
	in->p = p;
	st->bad |= k != 0;
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

/* An ALLOC's or FREE's time: every packing of them starts with its delta. */
static uint64_t event_time(struct pack_state *st)
{
	return st->t + get(st, COL_TIME);
}

/*
 * The finished record into the output, its header and then a field at a time: the unpackers
 * gather the fields in a struct (the model's lookups write some of them) whose header and pad
 * they leave unset. Not memcpy of the whole: a record just built by fields and read back in
 * 16-byte loads cannot be forwarded from the store buffer and waits for the cache, which was
 * most of the time of the unpacking of a FREE (reading a 2-thread churn trace, where decoding
 * is the slower half).
 */
static void put_alloc_rec(uint8_t *out, const struct hg_rec_alloc *a)
{
	const struct hg_rec hdr = { HG_REC_ALLOC, 0, sizeof(*a) };
	uint64_t key = (uint64_t)a->stack_id | (uint64_t)a->fn << 32; /* with the pad, zero */

	_Static_assert(offsetof(struct hg_rec_alloc, fn) == offsetof(struct hg_rec_alloc,
								     stack_id) + 4 &&
			       sizeof(*a) == offsetof(struct hg_rec_alloc, stack_id) + 8,
		       "stack id, entry point and pad end an ALLOC");
	memcpy(out, &hdr, sizeof(hdr));
	memcpy(out + offsetof(struct hg_rec_alloc, t_ns), &a->t_ns, 8);
	memcpy(out + offsetof(struct hg_rec_alloc, addr), &a->addr, 8);
	memcpy(out + offsetof(struct hg_rec_alloc, size_bytes), &a->size_bytes, 8);
	memcpy(out + offsetof(struct hg_rec_alloc, stack_id), &key, 8);
}

static void put_free_rec(uint8_t *out, const struct hg_rec_free *f)
{
	const struct hg_rec hdr = { HG_REC_FREE, 0, sizeof(*f) };

	memcpy(out, &hdr, sizeof(hdr));
	memcpy(out + offsetof(struct hg_rec_free, t_ns), &f->t_ns, 8);
	memcpy(out + offsetof(struct hg_rec_free, addr), &f->addr, 8);
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

	a.t_ns = event_time(st);
	a.addr = hg_unzigzag(get(st, COL_ADDR), st->addr);
	get_alloc_key(st, &a);
	st->t = a.t_ns;
	st->addr = a.addr;
	put_alloc_rec(out, &a);
	return sizeof(a);
}

static size_t unpack_free(struct pack_state *st, uint8_t *out)
{
	struct hg_rec_free f;

	f.t_ns = event_time(st);
	f.addr = hg_unzigzag(get(st, COL_ADDR), st->addr);
	st->t = f.t_ns;
	st->addr = f.addr;
	put_free_rec(out, &f);
	return sizeof(f);
}

/* An allocation's address code: in codec 5 a far one is the escape in the address column and
 * the rest in the far column. Only what a writer makes: st->bad for anything else. */
static uint64_t get_addr_code(struct pack_state *st)
{
	uint64_t code = get(st, COL_ADDR), far;

	if (st->columns <= COL_FAR || code < HG_MODEL_NEAR_CODES)
		return code;
	if (code > HG_MODEL_NEAR_CODES) {
		st->bad = 1; /* a far code belongs in its own column */
		return 0;
	}
	far = get(st, COL_FAR);
	st->bad |= far > UINT64_MAX - HG_MODEL_NEAR_CODES; /* would wrap to a near code */
	return code + far;
}

/*
 * In columns, the pair indices of the events to come are known ahead: ask for the model's
 * entry of the one PAIR_AHEAD reads further, as each is read (a program with tens of
 * thousands of pairs finds each entry out of the cache). Only a hint: a malformed varint
 * stops it, and the entries of another process's model (past an ORIGIN) go unused.
 */
#define PAIR_AHEAD 12

static void unpack_pair_ahead(struct pack_state *st)
{
	uint64_t v;

	if (varint_at(&st->pair_ahead, st->in[COL_PAIR]->end, &v) < 0)
		st->pair_ahead = NULL;
	else if (st->pm) /* not made here: that is the events' to do */
		hg_model_prefetch_pair_idx(st->pm, v);
}

/* A pair index from its column, the entry of one further ahead asked for. */
static uint64_t get_pair(struct pack_state *st)
{
	uint64_t idx = get(st, COL_PAIR);

	if (st->pair_ahead)
		unpack_pair_ahead(st);
	return idx;
}

/* TAG_ALLOC_NEW / TAG_ALLOC_PAIR. */
static size_t unpack_alloc_model(struct pack_state *st, int is_new, uint8_t *out)
{
	struct hg_pid_model *pm = pid_model(st);
	struct hg_rec_alloc a;
	uint32_t pair;
	uint64_t code;

	a.t_ns = event_time(st);
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
		uint64_t idx = get_pair(st);
		if (st->bad || idx > UINT32_MAX ||
		    hg_model_pair_get(pm, (uint32_t)idx, &a.size_bytes, &a.stack_id, &a.fn) < 0) {
			st->bad = 1;
			return 0;
		}
		pair = (uint32_t)idx;
	}
	code = get_addr_code(st);
	if (st->bad || hg_model_addr_decode(pm, code, pair, st->codec, &a.addr) < 0 || !a.addr) {
		st->bad = 1;
		return 0;
	}
	hg_model_note_alloc(pm, a.addr, pair, code);
	st->t = a.t_ns;
	put_alloc_rec(out, &a);
	return sizeof(a);
}

/* TAG_FREE_AGE, TAG_FREE_REF, TAG_FREE_OLD, TAG_FREE_LIT. */
static size_t unpack_free_model(struct pack_state *st, uint8_t tag, uint8_t *out)
{
	struct hg_pid_model *pm = pid_model(st);
	struct hg_rec_free f;
	uint32_t freed_pair = HG_MODEL_NO_PAIR; /* a recent live block's, as a reference says */

	f.t_ns = event_time(st);
	if (tag == TAG_FREE_AGE) {
		if (hg_model_free_unage(pm, get(st, COL_AGE), &f.addr, &freed_pair) < 0 || st->bad) {
			st->bad = 1;
			return 0;
		}
	} else if (tag == TAG_FREE_REF) {
		uint64_t pair = get_pair(st), rank = get(st, COL_ADDR);
		if (st->bad || pair > UINT32_MAX || rank > UINT32_MAX ||
		    hg_model_free_deref(pm, (uint32_t)pair, (uint32_t)rank, &f.addr) < 0) {
			st->bad = 1;
			return 0;
		}
		freed_pair = (uint32_t)pair;
	} else if (tag == TAG_FREE_OLD) {
		uint64_t pair = get_pair(st), size;
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
	put_free_rec(out, &f);
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
	if (st->skip_words) {
		/* The pairs are deltas from each other's: nothing after needs them decoded.
		 * (The next WORDS record's deltas start from garbage: it is skipped too.) */
		w.n = 0;
		memcpy(out, &w, sizeof(w));
		skip_varints(st, COL_REST, 2 * n);
		return w.hdr.size_bytes;
	}
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
	if (st.model && st.columns > COL_PAIR) {
		st.pair_ahead = st.in[COL_PAIR]->p;
		for (int k = 0; k < PAIR_AHEAD && st.pair_ahead; k++)
			unpack_pair_ahead(&st);
	}
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

int hg_unpack_records(const uint8_t *src, size_t n, uint8_t *out, size_t raw_bytes,
		      unsigned flags)
{
	struct pack_state st = { .skip_words = (flags & HG_UNPACK_SKIP_WORDS) != 0 };

	return unpack(st, src, n, out, raw_bytes);
}

int hg_unpack_stream(struct hg_event_model *m, uint32_t pid, unsigned codec, const uint8_t *src,
		     size_t n, uint8_t *out, size_t raw_bytes, unsigned flags)
{
	struct pack_state st = { .model = m, .pid = pid, .refer = 1, .codec = codec,
				 .skip_words = (flags & HG_UNPACK_SKIP_WORDS) != 0 };

	if (!hg_event_model_reads(m, codec))
		return -1;
	return unpack(st, src, n, out, raw_bytes);
}
