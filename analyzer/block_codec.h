/*
 * block_codec.h - pack a block's records into a compact byte stream before compression
 */
#ifndef HG_BLOCK_CODEC_H
#define HG_BLOCK_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Upper bound of hg_pack_records output for raw_bytes of records. */
size_t hg_pack_bound(size_t raw_bytes);

/*
 * Pack raw_bytes of whole records into out (at least hg_pack_bound(raw_bytes) bytes).
 * Returns the packed size. The records must be well formed (sizes in range).
 */
size_t hg_pack_records(const uint8_t *raw, size_t raw_bytes, uint8_t *out);

/* Unpacking flags. */
#define HG_UNPACK_SKIP_WORDS 0x1 /* a WORDS record comes out with n 0 and its pairs' bytes
				    unwritten (its size as packed): for a reader that needs no
				    snapshot words, which are most of the work of decoding a
				    process's exit snapshot */

/*
 * Unpack into out, which has room for exactly raw_bytes. Returns 0 when the stream decodes to
 * exactly raw_bytes of records, -1 when it is malformed (never reads or writes out of bounds).
 * flags: HG_UNPACK_*.
 */
int hg_unpack_records(const uint8_t *in, size_t n, uint8_t *out, size_t raw_bytes,
		      unsigned flags);

/*
 * Codecs 3 to 5 (enum hg_codec): the same, except that ALLOC, FREE and STACK records are
 * written as references to the model of the file's stream so far (event_model.h), which both
 * calls update. Blocks must be packed, and unpacked, in file order with one model per file;
 * pid is the block's. Without refer the events of this block are packed as codec 2 packs them
 * (cheaper to make, larger) and leave the model as it was; unpacking tells them apart by their
 * tags. Codec 3 writes record after record; codec 4 each kind of field in a column of its own;
 * codec 5 adds address codes and two columns.
 */
struct hg_event_model;
size_t hg_pack_stream(struct hg_event_model *m, uint32_t pid, int refer, unsigned codec,
		      const uint8_t *raw, size_t raw_bytes, uint8_t *out);
int hg_unpack_stream(struct hg_event_model *m, uint32_t pid, unsigned codec, const uint8_t *in,
		     size_t n, uint8_t *out, size_t raw_bytes, unsigned flags);

#endif /* HG_BLOCK_CODEC_H */
