/*
 * trace_writer.c - write a trace file: header, then checksummed, compressed blocks
 *
 * Each block is written with one write(2) of header + payload, so a reader of a file whose
 * writer was killed sees whole blocks followed by at most one torn one, which its CRC exposes.
 * Compression happens here, in the collector, never in the traced process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "block_codec.h"
#include "clock.h"
#include "crc32c.h"
#include "diag.h"
#include "event_model.h"
#include "hg_format.h"
#include "trace_writer.h"

struct hg_trace_writer {
	int fd;           /* -1 after an I/O error */
	char *path;       /* for messages */
	struct hg_trace_header hdr; /* as in the file, header_crc up to date */
	uint64_t bytes;   /* written so far */
	ZSTD_CCtx *cctx;  /* the frame running through the blocks (codec 5); NULL: store */
	int level;        /* zstd level asked for */
	int frame_fast;   /* the frame being written has the fast settings (FAST_LEVEL) */
	int frame_used;   /* a block went into it */
	struct hg_event_model *model; /* what the blocks so far said (codec 5 packing) */
	enum hg_pack_mode mode; /* how the next blocks are packed and compressed */
	uint8_t *out;     /* header + compressed payload */
	size_t out_cap;
	int ended;        /* the final END block is written */
	uint8_t *pack;    /* packed records before compression */
	size_t pack_cap;
};

static int write_all(struct hg_trace_writer *w, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t k = write(w->fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			hg_error("cannot write trace '%s': %s", w->path, strerror(k < 0 ? errno : EIO));
			close(w->fd);
			w->fd = -1;
			return -1;
		}
		p += k;
		n -= (size_t)k;
		w->bytes += (uint64_t)k;
	}
	return 0;
}

/*
 * The zstd level of HG_PACK_BUSY and HG_PACK_QUICK (hg_trace_writer_mode), without long-distance
 * matching: the collector writes so when the program keeps every CPU busy, where each of its
 * cycles is the program's. Measured on the bench's 2-thread churn packed without references
 * (93-97% of it), median of 5: level 6 with long-distance matching (what every level was,
 * before a level could change in a trace) 4.08 s and 90.6 MB, level 1 3.86 s and 100 MB,
 * level 1 without it 3.65 s and 99 MB; the whole run at level 3, 4.02 s and 94 MB. Compressing
 * the packed events of the 1-thread churn (44 MB of them): level 6 with long-distance matching
 * 0.51 s to 20.2 MB, level 1 0.18 s to 20.8 MB.
 */
#define FAST_LEVEL 1

/* zstd's switch for long-distance matching (ZSTD_paramSwitch_e, in its experimental API):
 * 0 would be "automatic". */
enum { LDM_ENABLE = 1, LDM_DISABLE = 2 };

/* Set the level and long-distance matching of the next frame: the asked-for level with long-
 * distance matching, or the fast settings. */
static int frame_settings(struct hg_trace_writer *w, int fast)
{
	int level = fast && w->level > FAST_LEVEL ? FAST_LEVEL : w->level;

	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_enableLongDistanceMatching,
						 fast ? LDM_DISABLE : LDM_ENABLE)))
		return -1;
	w->frame_fast = fast;
	return 0;
}

/* The file header's CRC of everything before it, after any change to the header. */
static void seal_header(struct hg_trace_header *h)
{
	h->header_crc = hg_crc32c(0, h, offsetof(struct hg_trace_header, header_crc));
}

/* What kind of file st is, for a message: "a pipe", "a terminal or other device"... */
static const char *file_kind(const struct stat *st)
{
	if (S_ISFIFO(st->st_mode) || S_ISSOCK(st->st_mode))
		return "a pipe";
	if (S_ISCHR(st->st_mode))
		return "a terminal or other device";
	if (S_ISDIR(st->st_mode))
		return "a directory";
	return "not a regular file";
}

/* /dev/null: written through like a file, and a way to record for the summary alone. */
static int is_dev_null(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 && minor(st->st_rdev) == 3;
}

/*
 * The trace file, created or truncated; -1 after saying why not. Not through a symbolic link
 * (a link planted where the trace goes would have us overwrite its target), and only a regular
 * file (or /dev/null): the header is rewritten in place as the recording goes. Opened without
 * blocking, so that a FIFO with no reader is refused rather than waited on.
 */
static int create_trace(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		      0600);
	struct stat st;
	char to[256];
	ssize_t n;

	if (fd < 0 && errno == ELOOP && (n = readlink(path, to, sizeof(to) - 1)) > 0) {
		to[n] = '\0';
		hg_error("cannot create trace '%s': it is a symbolic link (to '%s'), which heapgraph "
			 "does not write through; name a regular file", path, to);
		return -1;
	}
	if (fd < 0 && errno == ENXIO && stat(path, &st) == 0 && S_ISFIFO(st.st_mode)) {
		/* a FIFO nobody reads */
		hg_error("cannot create trace '%s': it is a pipe; a trace must be a regular file, "
			 "whose header heapgraph rewrites as it records", path);
		return -1;
	}
	if (fd < 0) {
		hg_error("cannot create trace '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && !is_dev_null(&st)) {
		hg_error("cannot create trace '%s': it is %s; a trace must be a regular file, whose "
			 "header heapgraph rewrites as it records", path, file_kind(&st));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

struct hg_trace_writer *hg_trace_writer_open(const char *path, int zstd_level)
{
	struct hg_trace_writer *w;
	struct hg_trace_header *h;
	int fd = create_trace(path);

	if (fd < 0)
		return NULL;
	fchmod(fd, 0600);
	w = hg_xcalloc(1, sizeof(*w));
	w->fd = fd;
	w->path = hg_xstrdup(path);
	w->level = zstd_level;
	if (zstd_level > 0 && (w->cctx = ZSTD_createCCtx()) &&
	    (frame_settings(w, 0) < 0 ||
	     ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_windowLog,
						  HG_STREAM_WINDOW_LOG)))) {
		ZSTD_freeCCtx(w->cctx);
		w->cctx = NULL;
	}
	if (w->cctx)
		w->model = hg_event_model_new();
	h = &w->hdr; /* zeroed by hg_xcalloc */
	memcpy(h->magic, HG_TRACE_MAGIC, sizeof(HG_TRACE_MAGIC));
	h->version = HG_FORMAT_VERSION;
	h->header_bytes = HG_TRACE_HEADER_BYTES;
	h->created_unix_ns = hg_clock_ns(CLOCK_REALTIME);
	h->created_mono_ns = hg_trace_ns();
	h->writer_pid = (uint32_t)getpid();
	seal_header(h);
	if (write_all(w, h, sizeof(*h)) < 0) {
		hg_trace_writer_close(w);
		return NULL;
	}
	return w;
}

int hg_trace_writer_mode(struct hg_trace_writer *w, enum hg_pack_mode mode)
{
	w->mode = mode;
	return w->cctx != NULL;
}

/* The mode's frames are compressed with the fast settings. */
static int mode_fast(enum hg_pack_mode mode)
{
	return mode != HG_PACK_FULL;
}

/*
 * zstd takes a new level only at the start of a frame (but with worker threads): the next
 * block after a change of mode first ends the frame (unless nothing went into it yet), then
 * starts another with the settings of the mode. A reader decoding the stream goes from one
 * frame to the next without noticing; the price is that the new frame cannot refer to what
 * came before it, once per change of mode.
 */
static int next_frame(struct hg_trace_writer *w, ZSTD_outBuffer *out)
{
	ZSTD_inBuffer none = { NULL, 0, 0 };
	size_t left = 0;

	if (w->frame_used)
		do
			left = ZSTD_compressStream2(w->cctx, out, &none, ZSTD_e_end);
		while (!ZSTD_isError(left) && left && out->pos < out->size);
	if (ZSTD_isError(left) || left || frame_settings(w, mode_fast(w->mode)) < 0)
		return -1;
	w->frame_used = 0;
	return 0;
}

/* The whole header again, not the field alone: its CRC changes with it. */
static int rewrite_header(struct hg_trace_writer *w)
{
	seal_header(&w->hdr);
	if (w->fd < 0) /* an earlier write failed, and said so */
		return -1;
	if (pwrite(w->fd, &w->hdr, sizeof(w->hdr), 0) != (ssize_t)sizeof(w->hdr)) {
		hg_error("cannot write trace '%s': %s", w->path, strerror(errno ? errno : EIO));
		return -1;
	}
	return 0;
}

int hg_trace_writer_time_resolution(struct hg_trace_writer *w, uint32_t ns)
{
	w->hdr.time_resolution_ns = ns;
	return rewrite_header(w);
}

int hg_trace_writer_rss_interval(struct hg_trace_writer *w, uint32_t ms)
{
	w->hdr.rss_interval_ms = ms ? ms : HG_RSS_INTERVAL_OFF;
	return rewrite_header(w);
}

int hg_trace_writer_live_hint(struct hg_trace_writer *w, uint64_t blocks, uint32_t pid)
{
	w->hdr.live_blocks_max = blocks < UINT32_MAX ? (uint32_t)blocks : UINT32_MAX;
	w->hdr.live_blocks_pid = blocks ? pid : 0;
	return rewrite_header(w);
}

/*
 * Pack raw against the stream's event model and compress it into w->out after the block
 * header, as the next flushed part of the zstd frame running through the file (codec 5): a
 * block may refer to anything in the HG_STREAM_WINDOW_LOG window before it in its frame, which
 * is where a program's repeated patterns of events are found.
 * Returns the stored size and sets codec, or -1 when zstd fails (the stream cannot go on).
 * Without compression the records are stored as they are.
 */
static ssize_t encode(struct hg_trace_writer *w, uint32_t pid, const void *raw, uint32_t n,
		      uint32_t *codec)
{
	size_t bound = ZSTD_compressBound(hg_pack_bound(n)) + ZSTD_CStreamOutSize();
	uint8_t *dst;

	HG_GROW(w->out, w->out_cap, sizeof(struct hg_block_header) + bound + 8);
	dst = w->out + sizeof(struct hg_block_header);
	if (w->cctx) {
		ZSTD_inBuffer in = { w->pack, 0, 0 };
		ZSTD_outBuffer out = { dst, bound, 0 };
		size_t left;

		HG_GROW(w->pack, w->pack_cap, hg_pack_bound(n));
		in.src = w->pack;
		in.size = hg_pack_stream(w->model, pid, w->mode != HG_PACK_QUICK,
					 HG_CODEC_EVENT_COLUMNS, raw, n, w->pack);
		if (w->frame_fast != mode_fast(w->mode) && next_frame(w, &out) < 0) {
			hg_error("cannot write trace '%s': zstd: cannot start a new frame", w->path);
			return -1;
		}
		do
			left = ZSTD_compressStream2(w->cctx, &out, &in, ZSTD_e_flush);
		while (!ZSTD_isError(left) && left && out.pos < out.size);
		w->frame_used = 1;
		if (ZSTD_isError(left) || left) {
			int nomem = ZSTD_isError(left) &&
				    ZSTD_getErrorCode(left) == ZSTD_error_memory_allocation;

			/* Levels from 4 on keep a window of 8 MiB and long-distance matching. */
			hg_error("cannot write trace '%s': zstd: %s%s", w->path,
				 ZSTD_isError(left) ? ZSTD_getErrorName(left) : "output too large",
				 nomem ? " (a lower level needs less memory: record --compression 3)"
				       : "");
			return -1;
		}
		*codec = HG_CODEC_EVENT_COLUMNS;
		return (ssize_t)out.pos;
	}
	memcpy(dst, raw, n);
	*codec = HG_CODEC_NONE;
	return n;
}

int hg_trace_writer_block(struct hg_trace_writer *w, uint32_t pid, uint32_t tid,
			  const void *raw, uint32_t raw_bytes)
{
	struct hg_block_header h;
	ssize_t k;
	size_t stored, padded;

	if (w->fd < 0)
		return -1;
	if ((k = encode(w, pid, raw, raw_bytes, &h.codec)) < 0) {
		close(w->fd);
		w->fd = -1;
		return -1;
	}
	stored = (size_t)k;
	padded = (stored + 7u) & ~(size_t)7u;
	memset(w->out + sizeof(h) + stored, 0, padded - stored);
	h.magic = HG_BLOCK_MAGIC;
	h.stored_bytes = (uint32_t)stored;
	h.raw_bytes = raw_bytes;
	h.pid = pid;
	h.tid = tid;
	h.payload_crc = hg_crc32c(0, w->out + sizeof(h), stored);
	h.header_crc = hg_crc32c(0, &h, offsetof(struct hg_block_header, header_crc));
	memcpy(w->out, &h, sizeof(h));
	return write_all(w, w->out, sizeof(h) + padded);
}

int hg_trace_writer_end(struct hg_trace_writer *w, int final)
{
	struct hg_rec_end rec = { { HG_REC_END, final ? HG_END_FINAL : 0, sizeof(rec) },
				  hg_trace_ns() };

	if (w->ended)
		return 0;
	w->ended = final;
	return hg_trace_writer_block(w, 0, 0, &rec, sizeof(rec));
}

uint64_t hg_trace_writer_bytes(const struct hg_trace_writer *w)
{
	return w->bytes;
}

int hg_trace_writer_close(struct hg_trace_writer *w)
{
	int rc = 0;

	if (!w)
		return 0;
	if (w->fd >= 0)
		hg_trace_writer_end(w, 1);
	if (w->fd >= 0 && close(w->fd) < 0)
		rc = hg_error("cannot close trace '%s': %s", w->path, strerror(errno));
	else if (w->fd < 0)
		rc = -1;
	ZSTD_freeCCtx(w->cctx);
	hg_event_model_free(w->model);
	free(w->out);
	free(w->pack);
	free(w->path);
	free(w);
	return rc;
}
