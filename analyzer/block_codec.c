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
	/* codec 3: events as references to the stream's model (event_model.h) */
	TAG_ALLOC_NEW = 4, TAG_ALLOC_PAIR = 5, TAG_FREE_REF = 6, TAG_FREE_LIT = 7, TAG_STACK = 8
};

struct pack_state {
	uint64_t t;     /* previous timestamp */
	uint64_t addr;  /* previous address (codec 2) */
	uint64_t where; /* previous WORDS pair */
	uint64_t value;
	struct hg_event_model *model; /* codec 3; NULL for codec 2 */
	uint32_t pid;   /* whose model: the block's, then each ORIGIN's */
	struct hg_pid_model *pm; /* pid's, once looked up */
	int refer;      /* pack events as references to the model (else as codec 2 does) */
};

static struct hg_pid_model *pid_model(struct pack_state *st)
{
	if (!st->pm)
		st->pm = hg_model_of(st->model, st->pid);
	return st->pm;
}

size_t hg_pack_bound(size_t raw_bytes)
{
	/* Worst case: every record raw, 8 bytes, plus a tag and a one-byte length; or a WORDS
	 * pair of 16 bytes as two 10-byte varints. */
	return raw_bytes + raw_bytes / 4 + 16;
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

/* Pairs' addresses are 8-aligned words: packing divides their deltas by 8. */
static int words_aligned(const struct hg_rec_words *w)
{
	const uint64_t *pair = (const uint64_t *)(w + 1);

	for (uint32_t i = 0; i < w->n; i++)
		if (pair[2 * i] & 7)
			return 0;
	return 1;
}

static uint8_t *pack_words(struct pack_state *st, const struct hg_rec_words *w, uint8_t *p)
{
	const uint64_t *pair = (const uint64_t *)(w + 1);

	*p++ = TAG_WORDS;
	p = put_varint(p, w->snapshot_id);
	p = put_varint(p, w->n);
	for (uint32_t i = 0; i < w->n; i++) {
		p = put_varint(p, hg_zigzag(pair[2 * i] >> 3, st->where >> 3));
		p = put_varint(p, hg_zigzag(pair[2 * i + 1], st->value));
		st->where = pair[2 * i];
		st->value = pair[2 * i + 1];
	}
	return p;
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
static uint8_t *put_alloc_key(uint8_t *p, const struct hg_rec_alloc *a)
{
	p = put_varint(p, a->size_bytes);
	p = put_varint(p, a->stack_id);
	*p++ = a->fn;
	return p;
}

static uint8_t *pack_alloc_model(struct pack_state *st, const struct hg_rec_alloc *a,
				 uint8_t *p)
{
	struct hg_pid_model *pm = pid_model(st);
	int is_new;
	uint32_t pair = hg_model_pair(pm, a->size_bytes, a->stack_id, a->fn, &is_new);

	if (pair == HG_MODEL_NO_PAIR)
		return NULL; /* the process has as many pairs as a model holds: written raw */
	*p++ = is_new ? TAG_ALLOC_NEW : TAG_ALLOC_PAIR;
	p = put_varint(p, a->t_ns - st->t);
	p = is_new ? put_alloc_key(p, a) : put_varint(p, pair);
	p = put_varint(p, hg_model_addr_code(pm, a->addr, pair));
	hg_model_note_alloc(pm, a->addr, pair);
	st->t = a->t_ns;
	return p;
}

static uint8_t *pack_free_model(struct pack_state *st, const struct hg_rec_free *f, uint8_t *p)
{
	struct hg_pid_model *pm = pid_model(st);
	uint32_t pair, rank;

	if (hg_model_free_ref(pm, f->addr, &pair, &rank)) {
		*p++ = TAG_FREE_REF;
		p = put_varint(p, f->t_ns - st->t);
		p = put_varint(p, pair);
		p = put_varint(p, rank);
	} else {
		*p++ = TAG_FREE_LIT;
		p = put_varint(p, f->t_ns - st->t);
		p = put_varint(p, hg_zigzag(f->addr, hg_model_last_free(pm)));
	}
	hg_model_note_free(pm, f->addr);
	st->t = f->t_ns;
	return p;
}

/*
 * TAG_STACK: zigzag(id - previous id - 1), frame count, how many outermost frames equal the
 * previous STACK's outermost ones, then the others from the outside in, each a zigzag delta
 * from the frame written before it (the innermost shared one to start with).
 */
static uint8_t *pack_stack_model(struct pack_state *st, const struct hg_rec_stack *k, uint8_t *p)
{
	struct hg_pid_model *pm = pid_model(st);
	uint32_t n_prev, prev_id, shared = 0;
	const uint64_t *prev = hg_model_last_stack(pm, &n_prev, &prev_id);
	uint64_t before;

	while (shared < k->n_frames && shared < n_prev &&
	       k->ip[k->n_frames - 1 - shared] == prev[n_prev - 1 - shared])
		shared++;
	*p++ = TAG_STACK;
	p = put_varint(p, hg_zigzag(k->stack_id, (uint64_t)prev_id + 1));
	p = put_varint(p, k->n_frames);
	p = put_varint(p, shared);
	before = shared ? k->ip[k->n_frames - shared] : 0;
	for (uint32_t i = k->n_frames - shared; i-- > 0;) {
		p = put_varint(p, hg_zigzag(k->ip[i], before));
		before = k->ip[i];
	}
	hg_model_note_stack(pm, k->stack_id, k->ip, k->n_frames);
	return p;
}

static int stack_packable(const struct hg_rec *r)
{
	const struct hg_rec_stack *k = (const void *)r;

	return r->type == HG_REC_STACK && !r->flags && r->size_bytes >= sizeof(*k) &&
	       k->n_frames <= HG_MAX_FRAMES && r->size_bytes == sizeof(*k) + 8u * k->n_frames;
}

static uint8_t *pack_one(struct pack_state *st, const struct hg_rec *r, uint8_t *p)
{
	/* The ALLOC and FREE records either packing can write; anything else of theirs is raw. */
	int plain = !r->flags;
	const struct hg_rec_alloc *a =
		plain && r->type == HG_REC_ALLOC && r->size_bytes == sizeof(*a) ? (const void *)r : NULL;
	const struct hg_rec_free *f =
		plain && r->type == HG_REC_FREE && r->size_bytes == sizeof(*f) ? (const void *)r : NULL;
	uint8_t *q;

	if (st->refer && a && a->addr && (q = pack_alloc_model(st, a, p))) {
		p = q;
	} else if (st->refer && f && f->addr) {
		p = pack_free_model(st, f, p);
	} else if (st->refer && stack_packable(r)) {
		p = pack_stack_model(st, (const struct hg_rec_stack *)r, p);
	} else if (a) {
		*p++ = TAG_ALLOC;
		p = put_varint(p, a->t_ns - st->t);
		p = put_varint(p, hg_zigzag(a->addr, st->addr));
		p = put_alloc_key(p, a);
		st->t = a->t_ns;
		st->addr = a->addr;
	} else if (f) {
		*p++ = TAG_FREE;
		p = put_varint(p, f->t_ns - st->t);
		p = put_varint(p, hg_zigzag(f->addr, st->addr));
		st->t = f->t_ns;
		st->addr = f->addr;
	} else if (r->type == HG_REC_WORDS && !r->flags &&
		   ((const struct hg_rec_words *)r)->n <= HG_WORDS_MAX &&
		   r->size_bytes == 16u + 16u * ((const struct hg_rec_words *)r)->n &&
		   words_aligned((const struct hg_rec_words *)r)) {
		p = pack_words(st, (const struct hg_rec_words *)r, p);
	} else {
		*p++ = TAG_RAW;
		p = put_varint(p, r->size_bytes);
		memcpy(p, r, r->size_bytes);
		p += r->size_bytes;
		model_control(st, r);
	}
	return p;
}

static size_t pack(struct pack_state st, const uint8_t *raw, size_t raw_bytes, uint8_t *out)
{
	uint8_t *p = out;
	size_t off = 0;

	while (off + sizeof(struct hg_rec) <= raw_bytes) {
		const struct hg_rec *r = (const struct hg_rec *)(raw + off);
		p = pack_one(&st, r, p);
		off += r->size_bytes;
	}
	return (size_t)(p - out);
}

size_t hg_pack_records(const uint8_t *raw, size_t raw_bytes, uint8_t *out)
{
	struct pack_state st = { 0, 0, 0, 0, NULL, 0, NULL, 0 };

	return pack(st, raw, raw_bytes, out);
}

size_t hg_pack_stream(struct hg_event_model *m, uint32_t pid, int refer, const uint8_t *raw,
		      size_t raw_bytes, uint8_t *out)
{
	struct pack_state st = { 0, 0, 0, 0, m, pid, NULL, refer };

	return pack(st, raw, raw_bytes, out);
}

struct unpack_in {
	const uint8_t *p, *end;
	int bad; /* set on overrun or an over-long varint */
};

static uint64_t get_varint(struct unpack_in *in)
{
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
	in->bad = 1;
	return 0;
}

/* An ALLOC or FREE record with its header and time, the rest zero: every packing of them starts
 * with the time delta. */
static void begin_alloc(struct hg_rec_alloc *a, struct unpack_in *in, const struct pack_state *st)
{
	memset(a, 0, sizeof(*a));
	a->hdr.type = HG_REC_ALLOC;
	a->hdr.size_bytes = sizeof(*a);
	a->t_ns = st->t + get_varint(in);
}

static void begin_free(struct hg_rec_free *f, struct unpack_in *in, const struct pack_state *st)
{
	memset(f, 0, sizeof(*f));
	f->hdr.type = HG_REC_FREE;
	f->hdr.size_bytes = sizeof(*f);
	f->t_ns = st->t + get_varint(in);
}

/* What put_alloc_key wrote; in->bad when it is cut short. */
static void get_alloc_key(struct unpack_in *in, struct hg_rec_alloc *a)
{
	a->size_bytes = get_varint(in);
	a->stack_id = (uint32_t)get_varint(in);
	if (in->p >= in->end)
		in->bad = 1;
	else
		a->fn = *in->p++;
}

static size_t unpack_alloc(struct unpack_in *in, struct pack_state *st, uint8_t *out)
{
	struct hg_rec_alloc a;

	begin_alloc(&a, in, st);
	a.addr = hg_unzigzag(get_varint(in), st->addr);
	get_alloc_key(in, &a);
	st->t = a.t_ns;
	st->addr = a.addr;
	memcpy(out, &a, sizeof(a));
	return sizeof(a);
}

static size_t unpack_free(struct unpack_in *in, struct pack_state *st, uint8_t *out)
{
	struct hg_rec_free f;

	begin_free(&f, in, st);
	f.addr = hg_unzigzag(get_varint(in), st->addr);
	st->t = f.t_ns;
	st->addr = f.addr;
	memcpy(out, &f, sizeof(f));
	return sizeof(f);
}

/* TAG_ALLOC_NEW / TAG_ALLOC_PAIR. */
static size_t unpack_alloc_model(struct unpack_in *in, struct pack_state *st, int is_new,
				 uint8_t *out)
{
	struct hg_pid_model *pm = pid_model(st);
	struct hg_rec_alloc a;
	uint32_t pair;

	begin_alloc(&a, in, st);
	if (is_new) {
		get_alloc_key(in, &a);
		if (in->bad)
			return 0;
		if ((pair = hg_model_pair_add(pm, a.size_bytes, a.stack_id, a.fn)) ==
		    HG_MODEL_NO_PAIR) {
			in->bad = 1;
			return 0;
		}
	} else {
		uint64_t idx = get_varint(in);
		if (in->bad || idx > UINT32_MAX ||
		    hg_model_pair_get(pm, (uint32_t)idx, &a.size_bytes, &a.stack_id, &a.fn) < 0) {
			in->bad = 1;
			return 0;
		}
		pair = (uint32_t)idx;
	}
	if (hg_model_addr_decode(pm, get_varint(in), pair, &a.addr) < 0 || in->bad || !a.addr) {
		in->bad = 1;
		return 0;
	}
	hg_model_note_alloc(pm, a.addr, pair);
	st->t = a.t_ns;
	memcpy(out, &a, sizeof(a));
	return sizeof(a);
}

/* TAG_FREE_REF / TAG_FREE_LIT. */
static size_t unpack_free_model(struct unpack_in *in, struct pack_state *st, int is_ref,
				uint8_t *out)
{
	struct hg_pid_model *pm = pid_model(st);
	struct hg_rec_free f;

	begin_free(&f, in, st);
	if (is_ref) {
		uint64_t pair = get_varint(in), rank = get_varint(in);
		if (in->bad || pair > UINT32_MAX || rank > UINT32_MAX ||
		    hg_model_free_deref(pm, (uint32_t)pair, (uint32_t)rank, &f.addr) < 0) {
			in->bad = 1;
			return 0;
		}
	} else {
		f.addr = hg_unzigzag(get_varint(in), hg_model_last_free(pm));
		if (in->bad || !f.addr) {
			in->bad = 1; /* the shim never records a free of NULL */
			return 0;
		}
	}
	hg_model_note_free(pm, f.addr);
	st->t = f.t_ns;
	memcpy(out, &f, sizeof(f));
	return sizeof(f);
}

/* TAG_STACK. */
static size_t unpack_stack_model(struct unpack_in *in, struct pack_state *st, uint8_t *out,
				 size_t room)
{
	struct hg_pid_model *pm = pid_model(st);
	uint32_t n_prev, prev_id;
	const uint64_t *prev = hg_model_last_stack(pm, &n_prev, &prev_id);
	uint64_t id = hg_unzigzag(get_varint(in), (uint64_t)prev_id + 1);
	uint64_t n = get_varint(in), shared = get_varint(in), before;
	struct hg_rec_stack k;
	uint64_t *ip = (uint64_t *)(out + sizeof(k));

	if (in->bad || id > UINT32_MAX || n > HG_MAX_FRAMES || shared > n || shared > n_prev ||
	    sizeof(k) + 8u * n > room) {
		in->bad = 1;
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
	for (uint64_t i = n - shared; i-- > 0 && !in->bad;) {
		before = hg_unzigzag(get_varint(in), before);
		memcpy(&ip[i], &before, 8);
	}
	if (in->bad)
		return 0;
	hg_model_note_stack(pm, k.stack_id, ip, k.n_frames);
	return k.hdr.size_bytes;
}

static size_t unpack_words(struct unpack_in *in, struct pack_state *st, uint8_t *out,
			   size_t room)
{
	struct hg_rec_words w;
	uint64_t id = get_varint(in), n = get_varint(in);
	uint64_t *pair = (uint64_t *)(out + sizeof(w));

	if (in->bad || n > HG_WORDS_MAX || 16u + 16u * n > room) {
		in->bad = 1;
		return 0;
	}
	memset(&w, 0, sizeof(w));
	w.hdr.type = HG_REC_WORDS;
	w.hdr.size_bytes = (uint32_t)(16u + 16u * n);
	w.snapshot_id = (uint32_t)id;
	w.n = (uint32_t)n;
	memcpy(out, &w, sizeof(w));
	for (uint64_t i = 0; i < n && !in->bad; i++) {
		uint64_t where = hg_unzigzag(get_varint(in), st->where >> 3) << 3;
		uint64_t value = hg_unzigzag(get_varint(in), st->value);
		memcpy(&pair[2 * i], &where, 8);
		memcpy(&pair[2 * i + 1], &value, 8);
		st->where = where;
		st->value = value;
	}
	return w.hdr.size_bytes;
}

static int unpack(struct pack_state st, const uint8_t *src, size_t n, uint8_t *out,
		  size_t raw_bytes)
{
	struct unpack_in in = { src, src + n, 0 };
	size_t off = 0;

	while (in.p < in.end && !in.bad) {
		uint8_t tag = *in.p++;
		uint64_t len;

		if (st.model && (tag == TAG_ALLOC_NEW || tag == TAG_ALLOC_PAIR) &&
		    raw_bytes - off >= sizeof(struct hg_rec_alloc)) {
			off += unpack_alloc_model(&in, &st, tag == TAG_ALLOC_NEW, out + off);
		} else if (st.model && (tag == TAG_FREE_REF || tag == TAG_FREE_LIT) &&
			   raw_bytes - off >= sizeof(struct hg_rec_free)) {
			off += unpack_free_model(&in, &st, tag == TAG_FREE_REF, out + off);
		} else if (st.model && tag == TAG_STACK) {
			off += unpack_stack_model(&in, &st, out + off, raw_bytes - off);
		} else if (tag == TAG_ALLOC && raw_bytes - off >= sizeof(struct hg_rec_alloc)) {
			off += unpack_alloc(&in, &st, out + off);
		} else if (tag == TAG_FREE && raw_bytes - off >= sizeof(struct hg_rec_free)) {
			off += unpack_free(&in, &st, out + off);
		} else if (tag == TAG_WORDS) {
			off += unpack_words(&in, &st, out + off, raw_bytes - off);
		} else if (tag == TAG_RAW) {
			len = get_varint(&in);
			if (in.bad || len > raw_bytes - off || len > (size_t)(in.end - in.p))
				return -1;
			memcpy(out + off, in.p, len);
			in.p += len;
			/* Only a whole record (its own size is the length copied) can tell the model
			 * anything; anything else is left for the reader to report. */
			if (len >= sizeof(struct hg_rec) && len % 8 == 0 &&
			    ((const struct hg_rec *)(out + off))->size_bytes == len)
				model_control(&st, (const struct hg_rec *)(out + off));
			off += len;
		} else {
			return -1;
		}
	}
	return in.bad || off != raw_bytes ? -1 : 0;
}

int hg_unpack_records(const uint8_t *src, size_t n, uint8_t *out, size_t raw_bytes)
{
	struct pack_state st = { 0, 0, 0, 0, NULL, 0, NULL, 0 };

	return unpack(st, src, n, out, raw_bytes);
}

int hg_unpack_stream(struct hg_event_model *m, uint32_t pid, const uint8_t *src, size_t n,
		     uint8_t *out, size_t raw_bytes)
{
	struct pack_state st = { 0, 0, 0, 0, m, pid, NULL, 1 };

	return unpack(st, src, n, out, raw_bytes);
}
