/*
 * trace_reader.c - read a trace file block by block, stopping cleanly at damage
 *
 * The reader trusts nothing: every block header carries its own CRC, every payload a CRC, every
 * decoded size is checked against the header, and every record's size against its type and the
 * bytes left in its block. The first failure ends the stream with a description of where and
 * what; the records before it have all been handed out, so a report covers everything up to
 * the damage (a traced program killed mid-write, a copy cut short, a flipped bit).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "block_codec.h"
#include "crc32c.h"
#include "diag.h"
#include "trace_reader.h"

struct hg_trace_reader {
	FILE *f;
	char *path;
	struct hg_trace_header hdr;
	uint64_t offset;       /* file offset of the next block */
	uint64_t block_offset; /* file offset of the current block */
	uint64_t n_blocks;     /* blocks read so far */
	uint8_t *stored;       /* current block payload as stored */
	size_t stored_cap;
	uint8_t *pack;         /* packed stream (HG_CODEC_PACKED_ZSTD) */
	size_t pack_cap;
	uint8_t *raw;          /* current block payload decoded */
	size_t raw_cap;
	uint32_t raw_len;      /* bytes in raw */
	uint32_t pos;          /* next record in raw */
	uint32_t pid, tid;     /* current origin within the block */
	ZSTD_DCtx *dctx;
	int at_end;            /* the last record read was an HG_REC_END */
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
	case HG_REC_MMAP: return sizeof(struct hg_rec_mmap);
	case HG_REC_MUNMAP: return sizeof(struct hg_rec_munmap);
	case HG_REC_MREMAP: return sizeof(struct hg_rec_mremap);
	case HG_REC_MPROTECT: return sizeof(struct hg_rec_mprotect);
	default: return 0;
	}
}

/* Record damage: "trace 'F' <kind> at byte N (block K: <detail>)". Returns -1. */
static int fail(struct hg_trace_reader *r, uint64_t offset, const char *kind, const char *detail)
{
	snprintf(r->damage, sizeof(r->damage), "trace '%s' %s at byte %llu (block %llu: %s)",
		 r->path, kind, (unsigned long long)offset, (unsigned long long)r->n_blocks,
		 detail);
	r->damage_offset = offset;
	r->failed = 1;
	return -1;
}

struct hg_trace_reader *hg_trace_reader_open(const char *path)
{
	struct hg_trace_reader *r;
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		hg_error("cannot open trace '%s': %s", path, strerror(errno));
		return NULL;
	}
	r = hg_xcalloc(1, sizeof(*r));
	r->f = f;
	r->path = hg_xstrdup(path);
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	n = fread(&r->hdr, 1, sizeof(r->hdr), f);
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
	if (r->hdr.header_bytes < HG_TRACE_HEADER_BYTES ||
	    fseek(f, (long)r->hdr.header_bytes, SEEK_SET) != 0) {
		hg_error("trace '%s' has a bad header size %u", path, r->hdr.header_bytes);
		goto bad;
	}
	r->offset = r->hdr.header_bytes;
	r->dctx = ZSTD_createDCtx();
	return r;
bad:
	hg_trace_reader_close(r);
	return NULL;
}

/* HG_CODEC_PACKED_ZSTD: zstd frame -> packed stream -> records. */
static int unpack(struct hg_trace_reader *r, const struct hg_block_header *h)
{
	unsigned long long packed = ZSTD_getFrameContentSize(r->stored, h->stored_bytes);
	size_t k;

	if (packed == ZSTD_CONTENTSIZE_UNKNOWN || packed == ZSTD_CONTENTSIZE_ERROR ||
	    packed > hg_pack_bound(h->raw_bytes))
		return -1;
	HG_GROW(r->pack, r->pack_cap, (size_t)packed);
	k = ZSTD_decompressDCtx(r->dctx, r->pack, (size_t)packed, r->stored, h->stored_bytes);
	if (ZSTD_isError(k) || k != packed)
		return -1;
	return hg_unpack_records(r->pack, k, r->raw, h->raw_bytes);
}

static int decode(struct hg_trace_reader *r, const struct hg_block_header *h)
{
	HG_GROW(r->raw, r->raw_cap, h->raw_bytes);
	if (h->codec == HG_CODEC_NONE) {
		if (h->stored_bytes != h->raw_bytes)
			return fail(r, r->block_offset, "is corrupt", "sizes disagree");
		memcpy(r->raw, r->stored, h->raw_bytes);
	} else if (h->codec == HG_CODEC_PACKED_ZSTD) {
		if (unpack(r, h) < 0)
			return fail(r, r->block_offset, "is corrupt", "does not decompress");
	} else if (h->codec == HG_CODEC_ZSTD) {
		size_t k = ZSTD_decompressDCtx(r->dctx, r->raw, h->raw_bytes, r->stored,
					       h->stored_bytes);
		if (ZSTD_isError(k) || k != h->raw_bytes)
			return fail(r, r->block_offset, "is corrupt", "does not decompress");
	} else {
		return fail(r, r->block_offset, "is corrupt", "unknown codec");
	}
	r->raw_len = h->raw_bytes;
	r->pos = 0;
	r->pid = h->pid;
	r->tid = h->tid;
	return 0;
}

/* Read the next block; 1 when one was loaded, 0 at clean EOF, -1 at damage. */
static int next_block(struct hg_trace_reader *r)
{
	struct hg_block_header h;
	size_t n = fread(&h, 1, sizeof(h), r->f), padded;

	r->block_offset = r->offset;
	if (n == 0 && feof(r->f)) {
		if (r->at_end)
			return 0;
		return fail(r, r->offset, "ends early", "no end record: the collector was killed or "
			    "is still writing");
	}
	if (n < sizeof(h))
		return fail(r, r->offset, "truncated", "cut off inside the block");
	if (h.magic != HG_BLOCK_MAGIC ||
	    h.header_crc != hg_crc32c(0, &h, offsetof(struct hg_block_header, header_crc)))
		return fail(r, r->offset, "is corrupt", "bad block header");
	if (h.raw_bytes > HG_BLOCK_MAX_RAW || h.stored_bytes > HG_BLOCK_MAX_RAW + 65536)
		return fail(r, r->offset, "is corrupt", "impossible size");
	padded = (h.stored_bytes + 7u) & ~7u;
	HG_GROW(r->stored, r->stored_cap, padded);
	if (fread(r->stored, 1, padded, r->f) != padded)
		return fail(r, r->offset, "truncated", "cut off inside the block");
	if (hg_crc32c(0, r->stored, h.stored_bytes) != h.payload_crc)
		return fail(r, r->offset, "is corrupt", "checksum mismatch");
	if (decode(r, &h) < 0)
		return -1;
	r->offset += sizeof(h) + padded;
	r->n_blocks++;
	return 1;
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

int hg_trace_reader_next(struct hg_trace_reader *r, struct hg_record *out)
{
	for (;;) {
		const struct hg_rec *rec;
		int k;

		if (r->failed)
			return -1;
		if (r->pos >= r->raw_len) {
			if ((k = next_block(r)) <= 0)
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
		out->rec = rec;
		out->pid = r->pid;
		out->tid = r->tid;
		out->offset = r->block_offset;
		return 1;
	}
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

const char *hg_trace_reader_path(const struct hg_trace_reader *r)
{
	return r->path;
}

void hg_trace_reader_close(struct hg_trace_reader *r)
{
	if (!r)
		return;
	if (r->f)
		fclose(r->f);
	ZSTD_freeDCtx(r->dctx);
	free(r->stored);
	free(r->pack);
	free(r->raw);
	free(r->path);
	free(r);
}
