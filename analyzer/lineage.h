/*
 * lineage.h - the process tree of a trace's images, and the pairing of two traces' trees
 *
 * An image's lineage parent is the image it began from:
 *   - exec: the image of the same pid it replaced (the last one of that pid to start before it);
 *   - fork: the image its parent pid ran when it was forked;
 *   - spawn: neither forked nor an exec over a traced image (posix_spawn, vfork then exec),
 *     whose parent pid ran a traced image then: that image;
 *   - root: none of these (the program `record` started, or a process whose parent was not
 *     traced).
 * "Ran then" is decided by start times, never by pid order or by where records sit in the file,
 * which depends on scheduling.
 *
 * Two traces pair as trees (hg_lineage_pair): the earliest root with the earliest root, then
 * under each pair of images the children of one with the children of the other that have the
 * same place: how they began and their command line (a command line that repeats its parent's,
 * as every fork child's does, matches another that repeats its own parent's, so that two runs
 * of one program with different arguments still pair their fork children). Children with the
 * same place pair in order of birth: the first-born with the first-born. Whatever has no
 * counterpart, and all its descendants, stays alone.
 */
#ifndef HG_LINEAGE_H
#define HG_LINEAGE_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"

/* One entry of a pairing: an image of the old trace and its counterpart in the new one. */
struct hg_image_pair {
	const struct hg_image *old; /* NULL: only in the new trace */
	const struct hg_image *now; /* NULL: only in the old trace */
};

/*
 * Pair the images of two traces (old[0..n_old), now[0..n_now), any order) by lineage. Every
 * image is in exactly one entry. Entries come in the order of the trees: each parent before its
 * children, then each child's subtree in turn; the children of a pair by birth in the new trace
 * (the pairs and the new trace's lone images), then the old trace's lone ones by birth. So the
 * result does not depend on the order of either array, except among images that started at the
 * same nanosecond. Returns a malloc'd array of *n entries (never NULL) for the caller to free.
 */
struct hg_image_pair *hg_lineage_pair(struct hg_image *const *old, uint32_t n_old,
				      struct hg_image *const *now, uint32_t n_now, size_t *n);

/* The earliest-born root image of im[0..n) (see above), or NULL when n is 0. */
const struct hg_image *hg_lineage_root(struct hg_image *const *im, uint32_t n);

/*
 * The program an image ran: the last component of its executable's path, or of its command
 * line's first word when the trace has no executable; *len gets its length (not terminated).
 */
const char *hg_lineage_program(const struct hg_image *im, size_t *len);

#endif /* HG_LINEAGE_H */
