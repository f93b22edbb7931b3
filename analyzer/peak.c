/*
 * peak.c - what an image held at its peak, and its live heap over time
 *
 * The exact peak is the maximum of live bytes over every event; which sites held it can only
 * be known once the maximum is known, so HG_REPLAY_PEAK replays twice and the second pass
 * copies the sites' live counts at the moment live bytes first reach the first pass's maximum.
 * HG_REPLAY_AT copies them the same way at a chosen time.
 */
#include <string.h>

#include "diag.h"
#include "hg_format.h"
#include "peak.h"

struct hg_site *hg_sites_live_copy(const struct hg_image *im, uint32_t *n)
{
	struct hg_site *s = hg_xcalloc(im->n_sites ? im->n_sites : 1, sizeof(*s));

	for (uint32_t i = 0; i < im->n_sites; i++) {
		s[i].live_bytes = im->sites[i].live_bytes;
		s[i].live_blocks = im->sites[i].live_blocks;
	}
	*n = im->n_sites;
	return s;
}

/* A copy of im's live counts per site, for a moment other than the end. */
static void capture(const struct hg_image *im, struct hg_site **out, uint32_t *n)
{
	if (!*out)
		*out = hg_sites_live_copy(im, n);
}

void hg_peak_capture(struct hg_image *im)
{
	capture(im, &im->peak_sites, &im->n_peak_sites);
}

void hg_at_capture(struct hg_image *im)
{
	capture(im, &im->at_sites, &im->n_at_sites);
}

/* Keep every other point (and the peak), doubling the step. */
static void thin(struct hg_image *im)
{
	size_t out = 0;

	for (size_t i = 0; i < im->n_timeline; i++)
		if (i % 2 == 0 || im->timeline[i].heap_bytes == im->totals.peak_bytes)
			im->timeline[out++] = im->timeline[i];
	im->n_timeline = out;
	im->timeline_step_ns *= 2;
}

/*
 * The next point of the timeline, at t_ns: hg_timeline_note found t_ns past the last point's
 * step. Then the time from which it must call again, the new point's step's end in trace time
 * (an image time below it is a trace time below it, the start added: earlier times count as 0).
 */
void hg_timeline_add(struct hg_image *im, uint64_t t_ns)
{
	uint64_t t = hg_image_time(im, t_ns);

	if (!im->timeline_step_ns)
		im->timeline_step_ns = 1000000;
	if (im->n_timeline >= HG_TIMELINE_MAX)
		thin(im);
	HG_GROW(im->timeline, im->timeline_cap, im->n_timeline + 1);
	im->timeline[im->n_timeline++] = (struct hg_point){ t, im->totals.live_bytes };
	/* Saturated: a crafted trace's times near 2^64 would wrap it to a small one. */
	if (__builtin_add_overflow(im->t_start_ns + t, im->timeline_step_ns, &im->timeline_until_ns))
		im->timeline_until_ns = UINT64_MAX;
}

void hg_rss_note(struct hg_image *im, uint64_t t_ns, uint64_t rss_bytes)
{
	uint64_t t = hg_image_time(im, t_ns);

	if (rss_bytes > im->rss_peak_bytes) {
		im->rss_peak_bytes = rss_bytes;
		im->rss_peak_time_ns = t;
	}
	if (im->n_rss >= 2 * HG_TIMELINE_MAX) {
		size_t out = 0;
		for (size_t i = 0; i < im->n_rss; i++) /* every other sample, and the largest */
			if (i % 2 == 0 || im->rss[i].heap_bytes == im->rss_peak_bytes)
				im->rss[out++] = im->rss[i];
		im->n_rss = out;
	}
	HG_GROW(im->rss, im->rss_cap, im->n_rss + 1);
	im->rss[im->n_rss++] = (struct hg_point){ t, rss_bytes };
}

static const struct hg_point *point_at(const struct hg_point *v, size_t n, uint64_t t);

uint64_t hg_rss_at(const struct hg_image *im, uint64_t t)
{
	const struct hg_point *p = point_at(im->rss, im->n_rss, t);

	return p ? p->heap_bytes : 0;
}

void hg_mallinfo_note(struct hg_image *im, uint64_t t_ns, const struct hg_mallinfo *mi)
{
	struct hg_mallinfo v = *mi;

	v.t_ns = hg_image_time(im, t_ns);
	if (im->n_mallinfo >= 2 * HG_TIMELINE_MAX) {
		size_t out = 0;
		for (size_t i = 0; i < im->n_mallinfo; i += 2)
			im->mallinfo[out++] = im->mallinfo[i];
		im->n_mallinfo = out;
	}
	HG_GROW(im->mallinfo, im->mallinfo_cap, im->n_mallinfo + 1);
	im->mallinfo[im->n_mallinfo++] = v;
}

uint64_t hg_tracer_bytes(const struct hg_tracer_mem *m)
{
	return m->tables_bytes + (m->ring_bytes == HG_TRACER_UNKNOWN ? 0 : m->ring_bytes);
}

void hg_tracer_note(struct hg_image *im, uint64_t t_ns, uint64_t tables_bytes,
		    uint64_t ring_bytes)
{
	struct hg_tracer_mem v = { hg_image_time(im, t_ns), tables_bytes, ring_bytes };

	if (!im->n_tracer++ || hg_tracer_bytes(&v) >= hg_tracer_bytes(&im->tracer))
		im->tracer = v;
}

const struct hg_mallinfo *hg_mallinfo_at(const struct hg_image *im, uint64_t t)
{
	size_t lo = 0, hi = im->n_mallinfo;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (im->mallinfo[mid].t_ns <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &im->mallinfo[lo - 1] : NULL;
}

void hg_moment_capture(const struct hg_image *im, uint64_t t_ns, struct hg_moment *m)
{
	m->taken = 1;
	m->t_ns = hg_image_time(im, t_ns);
	m->heap_live_bytes = im->totals.live_bytes;
	m->heap_live_blocks = im->totals.live_blocks;
	m->mmap_bytes = im->mmap.live_bytes;
	m->mmap_mappings = im->mmap.live_mappings;
}

/* The last point of v (n points, in time order) at or before t, or NULL. */
static const struct hg_point *point_at(const struct hg_point *v, size_t n, uint64_t t)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v[mid].t_ns <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &v[lo - 1] : NULL;
}

uint64_t hg_mmap_bytes_at(const struct hg_image *im, uint64_t t)
{
	const struct hg_point *p = point_at(im->mmap.timeline, im->mmap.n_timeline, t);

	return p ? p->heap_bytes : 0;
}
