/*
 * trace_reader.c - read a trace file block by block, stopping cleanly at damage
 *
 * The reader trusts nothing: every block header carries its own CRC, every payload a CRC, every
 * decoded size is checked against the header, and every record's size against its type and the
 * bytes left in its block. The first failure ends the stream with a description of where and
 * what; the records before it have all been handed out, so a report covers everything up to
 * the damage (a traced program killed mid-write, a copy cut short, a flipped bit).
 *
 * Decoding (read, CRC, zstd, unpacking) is a fifth of a report's time, so a second thread does
 * it a few blocks ahead of the caller, through a ring of DEPTH decoded blocks. The decoder
 * stops at the first damaged block or at the end of the file and says which in that block's
 * slot; the caller meets it only after every record before it.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "block_codec.h"
#include "event_model.h"
#include "crc32c.h"
#include "diag.h"
#include "trace_reader.h"
#include "hg_compiler.h"

#define DEPTH 4

/* A decoded block, or how the file stopped. */
struct decoded {
	int status;            /* 1: a block; 0: end of file; -1: damage (the decoder's message) */
	uint8_t *raw;          /* payload decoded */
	size_t raw_cap;
	uint32_t raw_len;
	uint32_t pid, tid;     /* the block's origin */
	uint64_t offset;       /* file offset of the block (or of the end of the file) */
	uint64_t index;        /* blocks before it */
};

/* What only the decoding side touches. */
struct decoder {
	FILE *f;
	const char *path;
	uint64_t offset;       /* file offset of the next block */
	uint64_t n_blocks;     /* blocks decoded so far */
	uint8_t *stored;       /* current block payload as stored */
	size_t stored_cap;
	uint8_t *pack;         /* packed stream (HG_CODEC_PACKED_ZSTD) */
	size_t pack_cap;
	ZSTD_DCtx *dctx;
	ZSTD_DCtx *stream;     /* codecs 3 to 5: the frame through the file's blocks */
	struct hg_event_model *model; /* and what the blocks so far said */
	unsigned unpack_flags; /* HG_UNPACK_* */
	char damage[512];
	uint64_t damage_offset;
};

struct hg_trace_reader {
	char *path;
	struct hg_trace_header hdr;
	struct decoder d;
	struct decoded ring[DEPTH];
	uint64_t produced;     /* slots the decoder filled (under lock) */
	uint64_t consumed;     /* slots the caller gave back (under lock) */
	int stop;              /* closing: the decoder must return (under lock) */
	int threaded;          /* the decoder runs in its own thread */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t filled, emptied;
	struct decoded *cur;   /* the block the caller is reading, or NULL */
	const uint8_t *raw;
	uint32_t raw_len;      /* bytes in raw */
	uint32_t pos;          /* next record in raw */
	uint32_t pid, tid;     /* current origin within the block */
	uint64_t block_offset; /* file offset of the current block */
	uint64_t n_blocks;     /* blocks before the current one */
	int at_end;            /* the last record read was an HG_REC_END */
	int done;              /* the decoder's last slot was taken */
	char damage[512];
	uint64_t damage_offset;
	int failed;
};

uint32_t hg_rec_min_size(uint16_t type)
{
	switch (type) {
	case HG_REC_ALLOC: return sizeof(struct hg_rec_alloc);
	case HG_REC_FREE: return sizeof(struct hg_rec_free);
	case HG_REC_STACK: return sizeof(struct hg_rec_stack);
	case HG_REC_MODULE: return sizeof(struct hg_rec_module);
	case HG_REC_UNMODULE: return sizeof(struct hg_rec_unmodule);
	case HG_REC_PROCESS: return sizeof(struct hg_rec_process);
	case HG_REC_EXIT: return sizeof(struct hg_rec_exit);
	case HG_REC_LOSS: return sizeof(struct hg_rec_loss);
	case HG_REC_ORIGIN: return sizeof(struct hg_rec_origin);
	case HG_REC_END: return sizeof(struct hg_rec_end);
	case HG_REC_SNAPSHOT: return sizeof(struct hg_rec_snapshot);
	case HG_REC_REGION: return sizeof(struct hg_rec_region);
	case HG_REC_WORDS: return sizeof(struct hg_rec_words);
	case HG_REC_SNAPSHOT_END: return sizeof(struct hg_rec_snapshot_end);
	case HG_REC_RSS: return sizeof(struct hg_rec_rss);
	case HG_REC_MALLINFO: return sizeof(struct hg_rec_mallinfo);
	case HG_REC_TRACER: return sizeof(struct hg_rec_tracer);
	case HG_REC_HORIZON: return sizeof(struct hg_rec_horizon);
	case HG_REC_FORK: return sizeof(struct hg_rec_fork);
	case HG_REC_MMAP: return sizeof(struct hg_rec_mmap);
	case HG_REC_MUNMAP: return sizeof(struct hg_rec_munmap);
	case HG_REC_MREMAP: return sizeof(struct hg_rec_mremap);
	case HG_REC_MPROTECT: return sizeof(struct hg_rec_mprotect);
	default: return 0;
	}
}

/* "trace 'F' <kind> at byte N (block K: <detail>)" into buf. */
static void describe(char *buf, size_t cap, const char *path, uint64_t offset, uint64_t block,
		     const char *kind, const char *detail)
{
	snprintf(buf, cap, "trace '%s' %s at byte %llu (block %llu: %s)", path, kind,
		 (unsigned long long)offset, (unsigned long long)block, detail);
}

/* Damage found while decoding. Returns -1. */
static int dfail(struct decoder *d, uint64_t offset, const char *kind, const char *detail)
{
	describe(d->damage, sizeof(d->damage), d->path, offset, d->n_blocks, kind, detail);
	d->damage_offset = offset;
	return -1;
}

/* Damage found by the caller (in the block it reads). Returns -1. */
static int fail(struct hg_trace_reader *r, uint64_t offset, const char *kind, const char *detail)
{
	describe(r->damage, sizeof(r->damage), r->path, offset, r->n_blocks, kind, detail);
	r->damage_offset = offset;
	r->failed = 1;
	return -1;
}

/* HG_CODEC_PACKED_ZSTD: zstd frame -> packed stream -> records. */
static int unpack(struct decoder *d, const struct hg_block_header *h, uint8_t *raw)
{
	unsigned long long packed = ZSTD_getFrameContentSize(d->stored, h->stored_bytes);
	size_t k;

	if (packed == ZSTD_CONTENTSIZE_UNKNOWN || packed == ZSTD_CONTENTSIZE_ERROR ||
	    packed > hg_pack_bound(h->raw_bytes))
		return -1;
	HG_GROW(d->pack, d->pack_cap, (size_t)packed);
	k = ZSTD_decompressDCtx(d->dctx, d->pack, (size_t)packed, d->stored, h->stored_bytes);
	if (ZSTD_isError(k) || k != packed)
		return -1;
	return hg_unpack_records(d->pack, k, raw, h->raw_bytes, d->unpack_flags);
}

/*
 * HG_CODEC_PACKED_STREAM, _COLUMN_STREAM and _EVENT_COLUMNS: the block is the next part of
 * the file's zstd frame, which yields its packed stream in full once all of it is fed in.
 */
static int unpack_stream(struct decoder *d, const struct hg_block_header *h, uint8_t *raw)
{
	size_t cap = hg_pack_bound(h->raw_bytes);
	ZSTD_inBuffer in = { d->stored, h->stored_bytes, 0 };
	ZSTD_outBuffer out = { NULL, cap, 0 };

	if (!d->stream) {
		/* A frame asking for a larger window than writers use is not ours. */
		if (!(d->stream = ZSTD_createDCtx()) ||
		    ZSTD_isError(ZSTD_DCtx_setParameter(d->stream, ZSTD_d_windowLogMax,
							HG_STREAM_WINDOW_LOG)))
			return -1;
	}
	if (!d->model) /* a file that starts in codec 5 is all codec 5: one writer wrote it */
		d->model = h->codec == HG_CODEC_EVENT_COLUMNS ? hg_event_model_new_reader() :
								hg_event_model_new();
	HG_GROW(d->pack, d->pack_cap, cap);
	out.dst = d->pack;
	for (;;) {
		size_t in_before = in.pos, out_before = out.pos;
		size_t k = ZSTD_decompressStream(d->stream, &out, &in);
		if (ZSTD_isError(k) || out.pos == out.size)
			return -1; /* broken, or more than the records could pack to */
		if (out.pos == out_before && (in.pos == in.size || in.pos == in_before))
			break;
	}
	if (in.pos != in.size)
		return -1;
	return hg_unpack_stream(d->model, h->pid, h->codec, d->pack, out.pos, raw, h->raw_bytes,
				d->unpack_flags);
}

static int decode(struct decoder *d, const struct hg_block_header *h, struct decoded *out)
{
	HG_GROW(out->raw, out->raw_cap, h->raw_bytes);
	if (h->codec == HG_CODEC_NONE) {
		if (h->stored_bytes != h->raw_bytes)
			return dfail(d, out->offset, "is corrupt", "sizes disagree");
		memcpy(out->raw, d->stored, h->raw_bytes);
	} else if (h->codec == HG_CODEC_PACKED_ZSTD) {
		if (unpack(d, h, out->raw) < 0)
			return dfail(d, out->offset, "is corrupt", "does not decompress");
	} else if (h->codec == HG_CODEC_PACKED_STREAM || h->codec == HG_CODEC_COLUMN_STREAM ||
		   h->codec == HG_CODEC_EVENT_COLUMNS) {
		if (d->model && !hg_event_model_reads(d->model, h->codec))
			return dfail(d, out->offset, "is corrupt",
				     "an older codec after codec-5 blocks");
		if (unpack_stream(d, h, out->raw) < 0)
			return dfail(d, out->offset, "is corrupt", "does not decompress");
	} else if (h->codec == HG_CODEC_ZSTD) {
		size_t k = ZSTD_decompressDCtx(d->dctx, out->raw, h->raw_bytes, d->stored,
					       h->stored_bytes);
		if (ZSTD_isError(k) || k != h->raw_bytes)
			return dfail(d, out->offset, "is corrupt", "does not decompress");
	} else {
		return dfail(d, out->offset, "is corrupt", "unknown codec");
	}
	out->raw_len = h->raw_bytes;
	out->pid = h->pid;
	out->tid = h->tid;
	return 0;
}

/* Decode the next block into out; its status: 1, 0 at the end of the file, -1 at damage. */
static int read_block(struct decoder *d, struct decoded *out)
{
	struct hg_block_header h;
	size_t n = fread(&h, 1, sizeof(h), d->f), padded;

	out->offset = d->offset;
	out->index = d->n_blocks;
	if (n == 0 && feof(d->f))
		return 0;
	if (n < sizeof(h))
		return dfail(d, d->offset, "truncated", "cut off inside the block");
	if (h.magic != HG_BLOCK_MAGIC ||
	    h.header_crc != hg_crc32c(0, &h, offsetof(struct hg_block_header, header_crc)))
		return dfail(d, d->offset, "is corrupt", "bad block header");
	if (h.raw_bytes > HG_BLOCK_MAX_RAW ||
	    h.stored_bytes > ZSTD_compressBound(hg_pack_bound(HG_BLOCK_MAX_RAW)) + 65536)
		return dfail(d, d->offset, "is corrupt", "impossible size");
	padded = (h.stored_bytes + 7u) & ~7u;
	HG_GROW(d->stored, d->stored_cap, padded);
	if (fread(d->stored, 1, padded, d->f) != padded)
		return dfail(d, d->offset, "truncated", "cut off inside the block");
	if (hg_crc32c(0, d->stored, h.stored_bytes) != h.payload_crc)
		return dfail(d, d->offset, "is corrupt", "checksum mismatch");
	if (decode(d, &h, out) < 0)
		return -1;
	d->offset += sizeof(h) + padded;
	d->n_blocks++;
	return 1;
}

/* The decoding thread: fill slots until the file ends or breaks, or the reader closes. */
static void *decoder_main(void *arg)
{
	struct hg_trace_reader *r = arg;

	for (;;) {
		struct decoded *slot;

		pthread_mutex_lock(&r->lock);
		while (r->produced - r->consumed == DEPTH && !r->stop)
			pthread_cond_wait(&r->emptied, &r->lock);
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		slot = &r->ring[r->produced % DEPTH];
		pthread_mutex_unlock(&r->lock);

		slot->status = read_block(&r->d, slot);

		pthread_mutex_lock(&r->lock);
		r->produced++;
		pthread_cond_signal(&r->filled);
		pthread_mutex_unlock(&r->lock);
		if (slot->status <= 0)
			return NULL;
	}
}

/* Give back the block just read and take the next: 1, 0 at a clean end, -1 at damage. */
static int take_block(struct hg_trace_reader *r)
{
	struct decoded *b;

	if (r->done)
		return r->failed ? -1 : 0;
	if (!r->threaded) {
		b = &r->ring[0];
		b->status = read_block(&r->d, b);
	} else {
		pthread_mutex_lock(&r->lock);
		if (r->cur) {
			r->consumed++;
			pthread_cond_signal(&r->emptied);
		}
		while (r->produced == r->consumed)
			pthread_cond_wait(&r->filled, &r->lock);
		b = &r->ring[r->consumed % DEPTH];
		pthread_mutex_unlock(&r->lock);
	}
	r->cur = b;
	r->block_offset = b->offset;
	r->n_blocks = b->index;
	r->raw = b->raw;
	r->raw_len = b->status > 0 ? b->raw_len : 0;
	r->pos = 0;
	r->pid = b->pid;
	r->tid = b->tid;
	if (b->status > 0)
		return 1;
	r->done = 1;
	if (b->status < 0) {
		memcpy(r->damage, r->d.damage, sizeof(r->damage));
		r->damage_offset = r->d.damage_offset;
		r->failed = 1;
		return -1;
	}
	if (r->at_end)
		return 0;
	return fail(r, b->offset, "ends early",
		    "no end record: the collector was killed or is still writing");
}

/*
 * Whether the file header is as its writer wrote it. A header_crc of 0 is a trace from before
 * the field and passes unchecked, as it always did: a note on every report of every older
 * trace would say nothing about the trace at hand. A mismatch refuses the whole file, where a
 * damaged block keeps what came before it: the header holds the origin and resolution of
 * every time, so no part of a report could be trusted. Checked after the version: another
 * version need not keep its CRC where this one does.
 */
static int header_crc_ok(const struct hg_trace_header *h)
{
	return h->header_crc == 0 ||
	       h->header_crc == hg_crc32c(0, h, offsetof(struct hg_trace_header, header_crc));
}

struct hg_trace_reader *hg_trace_reader_open(const char *path)
{
	return hg_trace_reader_open_flags(path, 0);
}

struct hg_trace_reader *hg_trace_reader_open_flags(const char *path, unsigned flags)
{
	struct hg_trace_reader *r;
	FILE *f = fopen(path, "rb");
	struct stat st;
	size_t n;

	if (!f) {
		hg_error("cannot open trace '%s': %s", path, strerror(errno));
		return NULL;
	}
	/* Views read a trace more than once (peak: to find the peak, then to stop there). */
	if (fstat(fileno(f), &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) {
		hg_error("cannot read trace '%s': it is a pipe, and a trace is read from a file "
			 "(save it to one first)", path);
		fclose(f);
		return NULL;
	}
	r = hg_xcalloc(1, sizeof(*r));
	r->d.f = f;
	r->path = hg_xstrdup(path);
	r->d.path = r->path;
	r->d.unpack_flags = flags & HG_READ_SKIP_WORDS ? HG_UNPACK_SKIP_WORDS : 0;
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	n = fread(&r->hdr, 1, sizeof(r->hdr), f);
	if (n == 0) {
		/* fopen opens a directory for reading; the first read says what it is */
		if (ferror(f))
			hg_error("cannot read trace '%s': %s", path, strerror(errno));
		else
			hg_error("trace '%s' is empty", path);
		goto bad;
	}
	if (n < 8 || memcmp(r->hdr.magic, HG_TRACE_MAGIC, sizeof(HG_TRACE_MAGIC)) != 0) {
		hg_error("'%s' is not a heapgraph trace (bad magic)", path);
		goto bad;
	}
	if (n < sizeof(r->hdr)) {
		hg_error("trace '%s' truncated at byte %zu (inside the file header)", path, n);
		goto bad;
	}
	if (r->hdr.version != HG_FORMAT_VERSION) {
		hg_error("trace '%s' has format version %u; this heapgraph reads version %d", path,
			 r->hdr.version, HG_FORMAT_VERSION);
		goto bad;
	}
	if (!header_crc_ok(&r->hdr)) {
		hg_error("trace '%s' is corrupt at byte 0 (file header: checksum mismatch)", path);
		goto bad;
	}
	if (r->hdr.header_bytes < HG_TRACE_HEADER_BYTES ||
	    fseek(f, (long)r->hdr.header_bytes, SEEK_SET) != 0) {
		hg_error("trace '%s' has a bad header size %u", path, r->hdr.header_bytes);
		goto bad;
	}
	r->d.offset = r->hdr.header_bytes;
	r->d.dctx = ZSTD_createDCtx();
	if (!r->d.dctx) {
		hg_error("cannot read trace '%s': out of memory", path);
		goto bad;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->filled, NULL);
	pthread_cond_init(&r->emptied, NULL);
	/* Without a thread (none to be had) the caller decodes each block itself. */
	r->threaded = pthread_create(&r->thread, NULL, decoder_main, r) == 0;
	return r;
bad:
	fclose(f);
	free(r->path);
	free(r);
	return NULL;
}

static int record_ok(const struct hg_rec *rec, uint32_t left)
{
	uint32_t min = hg_rec_min_size(rec->type);

	if (rec->size_bytes < sizeof(*rec) || rec->size_bytes % 8 || rec->size_bytes > left)
		return 0;
	if (rec->size_bytes < min)
		return 0;
	if (rec->type == HG_REC_STACK) {
		const struct hg_rec_stack *s = (const void *)rec;
		return s->n_frames <= HG_MAX_FRAMES && 16u + 8u * s->n_frames <= rec->size_bytes;
	}
	if (rec->type == HG_REC_MODULE) {
		const struct hg_rec_module *m = (const void *)rec;
		uint64_t need = sizeof(*m) + (uint64_t)m->n_segments * sizeof(struct hg_segment) +
				m->build_id_bytes + m->path_bytes;
		return m->n_segments <= HG_MAX_SEGMENTS && m->path_bytes > 0 &&
		       need <= rec->size_bytes;
	}
	if (rec->type == HG_REC_WORDS) {
		const struct hg_rec_words *w = (const void *)rec;
		return w->n <= HG_WORDS_MAX && 16u + 16u * w->n <= rec->size_bytes;
	}
	if (rec->type == HG_REC_SNAPSHOT) {
		const struct hg_rec_snapshot *sn = (const void *)rec;
		return sn->label_bytes > 0 && 32u + (uint64_t)sn->label_bytes <= rec->size_bytes;
	}
	if (rec->type == HG_REC_PROCESS) {
		const struct hg_rec_process *p = (const void *)rec;
		return (uint64_t)sizeof(*p) + p->cmdline_bytes + p->exe_bytes <= rec->size_bytes;
	}
	return 1;
}

/* The record rec of the block being read, as the caller gets it. */
static inline void hand_out(const struct hg_trace_reader *r, const struct hg_rec *rec,
			    struct hg_record *out)
{
	out->rec = rec;
	out->pid = r->pid;
	out->tid = r->tid;
	out->offset = r->block_offset;
}

/* hg_trace_reader_next past its fast path: a new block, any record but an ALLOC or a FREE. */
static HG_NOINLINE int next_slow(struct hg_trace_reader *r, struct hg_record *out)
{
	for (;;) {
		const struct hg_rec *rec;
		int k;

		if (r->failed)
			return -1;
		if (r->pos >= r->raw_len) {
			if ((k = take_block(r)) <= 0)
				return k;
			continue;
		}
		rec = (const struct hg_rec *)(r->raw + r->pos);
		if (r->raw_len - r->pos < sizeof(*rec) || !record_ok(rec, r->raw_len - r->pos))
		{
			r->n_blocks--; /* the message names the block being read, as the others do */
			return fail(r, r->block_offset, "is corrupt", "malformed record");
		}
		r->pos += rec->size_bytes;
		r->at_end = rec->type == HG_REC_END;
		if (rec->type == HG_REC_ORIGIN) {
			const struct hg_rec_origin *o = (const void *)rec;
			r->pid = o->pid;
			r->tid = o->tid;
			continue;
		}
		hand_out(r, rec, out);
		return 1;
	}
}

int hg_trace_reader_next(struct hg_trace_reader *r, struct hg_record *out)
{
	const struct hg_rec *rec;

	/* Nearly every record is an ALLOC or a FREE of its exact size, well inside its block. */
	if (HG_LIKELY(!r->failed && r->pos + sizeof(struct hg_rec_alloc) <= r->raw_len)) {
		rec = (const struct hg_rec *)(r->raw + r->pos);
		if ((rec->type == HG_REC_ALLOC && rec->size_bytes == sizeof(struct hg_rec_alloc)) ||
		    (rec->type == HG_REC_FREE && rec->size_bytes == sizeof(struct hg_rec_free))) {
			r->pos += rec->size_bytes;
			r->at_end = 0;
			hand_out(r, rec, out);
			return 1;
		}
	}
	return next_slow(r, out);
}

const char *hg_trace_reader_damage(const struct hg_trace_reader *r, uint64_t *offset)
{
	if (offset)
		*offset = r->damage_offset;
	return r->failed ? r->damage : NULL;
}

const struct hg_trace_header *hg_trace_reader_header(const struct hg_trace_reader *r)
{
	return &r->hdr;
}

void hg_trace_reader_close(struct hg_trace_reader *r)
{
	if (!r)
		return;
	if (r->threaded) {
		pthread_mutex_lock(&r->lock);
		r->stop = 1;
		pthread_cond_signal(&r->emptied);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
	}
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->filled);
	pthread_cond_destroy(&r->emptied);
	fclose(r->d.f);
	ZSTD_freeDCtx(r->d.dctx);
	ZSTD_freeDCtx(r->d.stream);
	hg_event_model_free(r->d.model);
	for (size_t i = 0; i < DEPTH; i++)
		free(r->ring[i].raw);
	free(r->d.stored);
	free(r->d.pack);
	free(r->path);
	free(r);
}
