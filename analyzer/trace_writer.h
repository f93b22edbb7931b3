/*
 * trace_writer.h - write a trace file: header, then checksummed, compressed blocks
 */
#ifndef HG_TRACE_WRITER_H
#define HG_TRACE_WRITER_H

#include <stdint.h>

struct hg_trace_writer;

/*
 * Create `path` (mode 0600, truncating a regular file, refusing a symlink) and write the file
 * header. zstd_level 0 stores blocks uncompressed. Returns NULL after printing an error.
 */
struct hg_trace_writer *hg_trace_writer_open(const char *path, int zstd_level);

/*
 * How the next blocks are written, from the smallest trace to the least work (the collector
 * steps down while the program keeps every CPU busy): HG_PACK_FULL, the default, packs events
 * as references to what the file said before and compresses them at the asked-for level with
 * long-distance matching; HG_PACK_BUSY packs them so but compresses at level 1 without it;
 * HG_PACK_QUICK also packs them on their own (codec 2's packing). Writing the bench's 1-thread
 * churn took 1.05 s, 0.63 s and 0.29 s, for 20.2, 20.8 and 50.4 MB; git's log 1.16, 1.41
 * and 2.59 MB. A writer without compression ignores it: then 0, else 1.
 */
enum hg_pack_mode { HG_PACK_FULL, HG_PACK_BUSY, HG_PACK_QUICK };
int hg_trace_writer_mode(struct hg_trace_writer *w, enum hg_pack_mode mode);

/* Note in the file header that ALLOC and FREE times are rounded to ns (0: exact). Returns 0,
 * or -1 after printing an error. */
int hg_trace_writer_time_resolution(struct hg_trace_writer *w, uint32_t ns);

/* Note in the file header that the collector samples each process's resident set every ms
 * milliseconds (0: never). Returns 0, or -1 after printing an error. */
int hg_trace_writer_rss_interval(struct hg_trace_writer *w, uint32_t ms);

/* The header's hint (hg_format.h): at most `blocks` live at once in the image of pid. */
int hg_trace_writer_live_hint(struct hg_trace_writer *w, uint64_t blocks, uint32_t pid);

/*
 * Append one block holding raw_bytes of whole records from (pid, tid). Blocks larger than
 * HG_BLOCK_MAX_RAW are the caller's bug. Returns 0, or -1 after printing an I/O error (the
 * writer then refuses further blocks).
 */
int hg_trace_writer_block(struct hg_trace_writer *w, uint32_t pid, uint32_t tid,
			  const void *raw, uint32_t raw_bytes);

/*
 * Append a block holding one HG_REC_END: the file is complete up to here. `final` marks the
 * last one; hg_trace_writer_close writes it unless it was written already, and nothing is
 * written after it. Returns 0, or -1 after printing an I/O error.
 */
int hg_trace_writer_end(struct hg_trace_writer *w, int final);

/* Bytes written so far, header included. */
uint64_t hg_trace_writer_bytes(const struct hg_trace_writer *w);

/* Write the final END block, close the file and free w. Returns 0, or -1 after printing an
 * error. */
int hg_trace_writer_close(struct hg_trace_writer *w);

#endif /* HG_TRACE_WRITER_H */
