/*
 * block_codec_int.h - what packing (block_codec.c) and unpacking (block_unpack.c) share: the
 * tags, the columns, and the state of a block being packed or unpacked
 */
#ifndef HG_BLOCK_CODEC_INT_H
#define HG_BLOCK_CODEC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "event_model.h"
#include "hg_format.h"

enum {
	TAG_RAW = 0, TAG_ALLOC = 1, TAG_FREE = 2, TAG_WORDS = 3,
	/* codecs 3 to 5: events as references to the stream's model (event_model.h) */
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
 * (git log -p: address column 608 KB, the three 419 KB; the trace 1,164 -> 1,011 KB with the
 * new codes). Codecs 2 and 3 write the same fields in one stream, record after record, in the
 * same order.
 */
enum col { COL_TAG, COL_TIME, COL_PAIR, COL_ADDR, COL_REST, COL_FAR, COL_AGE, N_COLS };

/* How many columns a block of each codec has (codecs 2 and 3: one stream). */
static inline int n_columns(unsigned codec)
{
	return codec == HG_CODEC_EVENT_COLUMNS ? N_COLS : codec == HG_CODEC_COLUMN_STREAM ? 5 : 1;
}

/* Where column c's fields go in a block of that many columns: their own, the address column
 * (codec 4 has neither far codes nor ages apart), or the one stream. */
static inline int column_of(int columns, int c)
{
	if (columns == 1)
		return 0;
	return c < columns ? c : COL_ADDR;
}

struct unpack_in {
	const uint8_t *p, *end;
};

struct pack_state {
	uint64_t t;     /* previous timestamp */
	uint64_t addr;  /* previous address (codec 2) */
	uint64_t where; /* previous WORDS pair */
	uint64_t value;
	struct hg_event_model *model; /* codecs 3 to 5; NULL for codec 2 */
	uint32_t pid;   /* whose model: the block's, then each ORIGIN's */
	struct hg_pid_model *pm; /* pid's, once looked up */
	int refer;      /* pack events as references to the model (else as codec 2 does) */
	/* Packing: where each column's next byte goes; one place for codecs 2 and 3. */
	uint8_t *at[N_COLS], **col[N_COLS];
	/* Unpacking: each column's bytes left; one stream for codecs 2 and 3. */
	struct unpack_in in_at[N_COLS], *in[N_COLS];
	const uint8_t *pair_ahead; /* unpacking in columns: the pair index PAIR_AHEAD past the
				      next one read, or NULL (unpack_pair_ahead) */
	int bad;        /* unpacking met an overrun or an over-long varint */
	int skip_words; /* unpacking: WORDS records' pairs are stepped over, not written
			   (HG_UNPACK_SKIP_WORDS) */
	unsigned codec; /* HG_CODEC_* of the block (0 for hg_pack_records' codec 2) */
	int columns;    /* n_columns(codec) */
};

static inline struct hg_pid_model *pid_model(struct pack_state *st)
{
	if (!st->pm)
		st->pm = hg_model_of(st->model, st->pid);
	return st->pm;
}

/* A record copied whole that tells the model something: whose events follow, or that a
 * process started or ended (its model is forgotten). Packing and unpacking both call it. */
static inline void model_control(struct pack_state *st, const struct hg_rec *r)
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

#endif /* HG_BLOCK_CODEC_INT_H */
