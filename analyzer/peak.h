/*
 * peak.h - what an image held at its peak, and its live heap over time
 */
#ifndef HG_PEAK_H
#define HG_PEAK_H

#include <stdint.h>

#include "replay.h"

/* A copy of im's live bytes and blocks per site, the other counts 0; *n (im's n_sites) of
 * them, in an array the caller frees. */
struct hg_site *hg_sites_live_copy(const struct hg_image *im, uint32_t *n);

/* Copy im's live bytes and blocks per site into im->peak_sites (once). */
void hg_peak_capture(struct hg_image *im);

/* Copy im's live bytes and blocks per site into im->at_sites (once). */
void hg_at_capture(struct hg_image *im);

/*
 * Note im's live bytes at time t in its timeline: a point per step (1 ms at first); when the
 * timeline reaches HG_TIMELINE_MAX points the step doubles and every other point goes, so a
 * trace of any length keeps a bounded, evenly spaced timeline. The peak is always a point.
 * Called for every allocation and free: within the last point's step (nearly always) it is a
 * compare and a store here; hg_timeline_add makes the next point.
 */
void hg_timeline_add(struct hg_image *im, uint64_t t_ns);

static inline void hg_timeline_note(struct hg_image *im, uint64_t t_ns)
{
	struct hg_point *last;

	if (t_ns >= im->timeline_until_ns) {
		hg_timeline_add(im, t_ns);
		return;
	}
	/* Within a step the point follows the heap, except that a peak is never lost. */
	last = &im->timeline[im->n_timeline - 1];
	if (im->totals.live_bytes == im->totals.peak_bytes ||
	    last->heap_bytes != im->totals.peak_bytes)
		last->heap_bytes = im->totals.live_bytes;
}

#define HG_TIMELINE_MAX 4096

/* Record an RSS sample of im taken at t_ns (bounded like the timeline). */
void hg_rss_note(struct hg_image *im, uint64_t t_ns, uint64_t rss_bytes);

/* Record a mallinfo2 sample (bounded like the timeline). */
void hg_mallinfo_note(struct hg_image *im, uint64_t t_ns, const struct hg_mallinfo *mi);

/* Record a sample of the tracer's own memory in im; the largest is kept. */
void hg_tracer_note(struct hg_image *im, uint64_t t_ns, uint64_t tables_bytes,
		    uint64_t ring_bytes);

/* The tracer's own memory of a sample: tables and ring (0 for the ring when not known). */
uint64_t hg_tracer_bytes(const struct hg_tracer_mem *m);

/* The last mallinfo2 sample at or before t (since the image started), or NULL. */
const struct hg_mallinfo *hg_mallinfo_at(const struct hg_image *im, uint64_t t);

/*
 * Capture into m what im holds now, the merge being at t_ns (absolute): live heap bytes and
 * blocks, the mmap domain's bytes and ranges. Called by the replay at the event that defines
 * the moment (the largest RSS sample), so the figures are exact for that instant.
 */
void hg_moment_capture(const struct hg_image *im, uint64_t t_ns, struct hg_moment *m);

/* The mmap domain's bytes at or before t (since the image started), from its timeline. */
uint64_t hg_mmap_bytes_at(const struct hg_image *im, uint64_t t);

/* The last RSS sample at or before t (since the image started), or 0 when none. */
uint64_t hg_rss_at(const struct hg_image *im, uint64_t t);

#endif /* HG_PEAK_H */
