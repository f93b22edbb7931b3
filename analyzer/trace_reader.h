/*
 * trace_reader.h - read a trace file block by block, stopping cleanly at damage
 */
#ifndef HG_TRACE_READER_H
#define HG_TRACE_READER_H

#include <stdint.h>

#include "hg_format.h"

struct hg_trace_reader;

/* One record as the reader hands it out: valid until the next call to hg_trace_reader_next. */
struct hg_record {
	const struct hg_rec *rec; /* header; rec->size_bytes bytes, 8-aligned, type-checked size */
	uint32_t pid;             /* producing process (0: the collector) */
	uint32_t tid;             /* producing thread */
	uint64_t offset;          /* file offset of the block holding it */
};

/*
 * Open `path` and check its header. Returns NULL after printing an error naming the file
 * (missing, unreadable, not a heapgraph trace, unsupported version, a header whose CRC does
 * not match or whose size is impossible). A header CRC of 0 (a trace from before the field)
 * is not checked and says nothing.
 */
struct hg_trace_reader *hg_trace_reader_open(const char *path);

/* Reading flags. */
#define HG_READ_SKIP_WORDS 0x1 /* WORDS records come out with no pairs (n 0): for a reader
				  that needs no snapshot words */

/* hg_trace_reader_open with flags (HG_READ_*). */
struct hg_trace_reader *hg_trace_reader_open_flags(const char *path, unsigned flags);

/*
 * Next record. Returns 1 with *out filled, 0 at a clean end of file (the last record read was
 * an HG_REC_END), or -1 at damage (a torn, corrupt or truncated block, a malformed record, or a
 * file that stops without an END block: cut short, or its writer still running). After -1,
 * hg_trace_reader_damage() describes it; every record before the damage has been returned.
 * Records of unknown type are returned too (callers skip them); their sizes are still checked.
 */
int hg_trace_reader_next(struct hg_trace_reader *r, struct hg_record *out);

/* After -1: a one-line description, and the file offset where the damage starts. */
const char *hg_trace_reader_damage(const struct hg_trace_reader *r, uint64_t *offset);

/* The file header, valid while r is open. */
const struct hg_trace_header *hg_trace_reader_header(const struct hg_trace_reader *r);

void hg_trace_reader_close(struct hg_trace_reader *r);

/* Minimum size in bytes of a record of this type, or 0 for unknown types. */
uint32_t hg_rec_min_size(uint16_t type);

#endif /* HG_TRACE_READER_H */
