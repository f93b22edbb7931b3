/*
 * report_text.c - `heapgraph report` for people: per process, totals and the largest sites
 */
#include <stdlib.h>
#include <string.h>

#include "hg_format.h"
#include "names.h"
#include "peak.h"
#include "report.h"
#include "units.h"

void hg_text_frame(FILE *out, const struct hg_frame *fr, int first, const char *indent)
{
	char name[HG_NAME_TEXT_MAX];
	const char *fn = hg_name_text(fr->function, name, sizeof(name));

	fprintf(out, "%s%s %s", indent, first ? "at" : "by", fn ? fn : "???");
	if (fr->file && fr->line)
		fprintf(out, " (%s:%u)", hg_basename(fr->file), fr->line);
	if (fr->module)
		fprintf(out, " in %s", hg_basename(fr->module));
	else
		fprintf(out, " [0x%llx]", (unsigned long long)fr->address);
	fputc('\n', out);
}

static void text_frames(FILE *out, struct hg_framer *f, const struct hg_image *im,
			uint32_t stack_id, size_t max_frames, int through_user, const char *indent)
{
	struct hg_frame fr[HG_MAX_FRAMES];
	size_t n = hg_framer_resolve(f, im, stack_id, fr, HG_MAX_FRAMES);

	if (through_user)
		max_frames = hg_frames_through_user(fr, n, max_frames);
	if (n == 0)
		fprintf(out, "%s(no stack recorded)\n", indent);
	for (size_t i = 0; i < n && i < max_frames; i++)
		hg_text_frame(out, &fr[i], i == 0, indent);
	if (n > max_frames)
		fprintf(out, "%s... %zu more frame%s\n", indent, n - max_frames,
			hg_plural(n - max_frames));
}

void hg_text_frames(FILE *out, struct hg_framer *f, const struct hg_image *im, uint32_t stack_id,
		    size_t max_frames, const char *indent)
{
	text_frames(out, f, im, stack_id, max_frames, 0, indent);
}

void hg_text_frames_short(FILE *out, struct hg_framer *f, const struct hg_image *im,
			  uint32_t stack_id, const char *indent)
{
	text_frames(out, f, im, stack_id, HG_SHORT_FRAMES, 1, indent);
}

/* What a site's live blocks or mappings came from: its calls ("3 allocations, 96 B in all"),
 * or, in a fork child, the parent's, copied at the fork. */
static const char *site_how(char *how, size_t cap, const struct hg_image *im,
			    const struct hg_site *s, const char *call, const char *in_all)
{
	char calls[32], all[32];

	if (!s->allocations && im->forked)
		snprintf(how, cap, "inherited at the fork");
	else
		snprintf(how, cap, "%s %s%s, %s %s",
			 hg_format_count(calls, sizeof(calls), s->allocations), call,
			 hg_plural(s->allocations), hg_format_bytes(all, sizeof(all), s->allocated_bytes),
			 in_all);
	return how;
}

static void site_text(FILE *out, struct hg_framer *f, const struct hg_image *im, uint32_t id,
		      size_t rank, size_t max_frames)
{
	const struct hg_site *s = &im->sites[id];
	char live[32], blocks[32], how[96];

	fprintf(out, "  #%zu %s in %s block%s (%s)\n", rank,
		hg_format_bytes(live, sizeof(live), s->live_bytes),
		hg_format_count(blocks, sizeof(blocks), s->live_blocks), hg_plural(s->live_blocks),
		site_how(how, sizeof(how), im, s, "allocation", "in all"));
	hg_text_frames(out, f, im, id, max_frames, "      ");
}

void hg_text_mmap(FILE *out, struct hg_framer *f, const struct hg_image *im, size_t top,
		  size_t max_frames)
{
	const struct hg_mmap_domain *d = &im->mmap;
	char a[32], b[32], c[32], e[32], how[96];
	size_t n, shown;
	uint32_t *ids;

	if (!d->maps && !d->remaps && !d->live_mappings)
		return;
	fprintf(out, "\n  anonymous mappings outside malloc: %s in %s mapping%s at the end; "
		"peak %s, %s\n", hg_format_bytes(a, sizeof(a), d->live_bytes),
		hg_format_count(b, sizeof(b), d->live_mappings), hg_plural(d->live_mappings),
		hg_format_bytes(c, sizeof(c), d->peak_bytes),
		hg_format_since_start(e, sizeof(e), d->peak_time_ns, im->time_resolution_ns));
	if (d->reserved_bytes)
		fprintf(out, "  and %s of address space reserved (PROT_NONE: no memory behind it)\n",
			hg_format_bytes(a, sizeof(a), d->reserved_bytes));
	fprintf(out, "  %s mapped in all; calls: %s mmap, %s mremap, %s munmap\n",
		hg_format_bytes(a, sizeof(a), d->mapped_bytes), hg_format_count(b, sizeof(b), d->maps),
		hg_format_count(c, sizeof(c), d->remaps), hg_format_count(e, sizeof(e), d->unmaps));
	ids = hg_mmap_sites_by_live(im, &n);
	shown = top && top < n ? top : n;
	if (n)
		fprintf(out, "\n  mapping sites by bytes mapped at the end (%zu of %zu site%s):\n",
			shown, n, hg_plural(n));
	for (size_t i = 0; i < shown; i++) {
		const struct hg_site *s = &d->sites[ids[i]];
		fprintf(out, "  #%zu %s in %s mapping%s (%s)\n", i + 1,
			hg_format_bytes(a, sizeof(a), s->live_bytes),
			hg_format_count(b, sizeof(b), s->live_blocks), hg_plural(s->live_blocks),
			site_how(how, sizeof(how), im, s, "call", "mapped in all"));
		hg_text_frames(out, f, im, ids[i], max_frames, "      ");
	}
	free(ids);
}

/* "tracer's own memory: 1.20 MiB resident (tables 200 KiB, ring 1.00 MiB), 2.7% of the heap's
 * peak" */
static void tracer_text(FILE *out, const struct hg_image *im)
{
	const struct hg_tracer_mem *m = &im->tracer;
	uint64_t own = hg_tracer_bytes(m), peak = im->totals.peak_bytes;
	char a[32], b[32], c[32], share[48] = "";

	if (peak && own > peak)
		snprintf(share, sizeof(share), ", %.1fx the heap's peak", (double)own / (double)peak);
	else if (peak)
		snprintf(share, sizeof(share), ", %.1f%% of the heap's peak",
			 100.0 * (double)own / (double)peak);
	if (m->ring_bytes == HG_TRACER_UNKNOWN)
		fprintf(out, "  tracer's own memory: %s resident in its tables (ring: not known)%s\n",
			hg_format_bytes(a, sizeof(a), own), share);
	else
		fprintf(out, "  tracer's own memory: %s resident (tables %s, ring %s)%s\n",
			hg_format_bytes(a, sizeof(a), own),
			hg_format_bytes(b, sizeof(b), m->tables_bytes),
			hg_format_bytes(c, sizeof(c), m->ring_bytes), share);
}

static void totals_text(FILE *out, const struct hg_image *im)
{
	const struct hg_totals *t = &im->totals;
	char a[32], b[32], c[32], d[32], e[32], g[32];

	fprintf(out, "  %s allocation%s (%s), %s free%s\n",
		hg_format_count(a, sizeof(a), t->allocations), hg_plural(t->allocations),
		hg_format_bytes(b, sizeof(b), t->allocated_bytes),
		hg_format_count(c, sizeof(c), t->frees), hg_plural(t->frees));
	fprintf(out, "  peak %s live, %s\n", hg_format_bytes(d, sizeof(d), t->peak_bytes),
		hg_format_since_start(e, sizeof(e), t->peak_time_ns, im->time_resolution_ns));
	fprintf(out, "  live at the end: %s in %s block%s\n",
		hg_format_bytes(g, sizeof(g), t->live_bytes),
		hg_format_count(a, sizeof(a), t->live_blocks), hg_plural(t->live_blocks));
	if (im->n_tracer)
		tracer_text(out, im);
	if (im->foreign_malloc)
		fprintf(out, "  its malloc is its own, linked in ahead of the tracer's: its heap "
			"allocations are not traced\n");
	if (t->lost_events)
		fprintf(out, "  LOST %s events: the numbers above miss them\n",
			hg_format_count(a, sizeof(a), t->lost_events));
	if (t->unknown_frees)
		fprintf(out, "  %s free%s of blocks allocated before tracing began\n",
			hg_format_count(a, sizeof(a), t->unknown_frees), hg_plural(t->unknown_frees));
}

static void image_text(FILE *out, struct hg_framer *f, const struct hg_image *im,
		       const struct hg_report_opts *o)
{
	char end[64];
	size_t n;
	uint32_t *ids;

	fprintf(out, "\nprocess %u%s%s (parent %u): %s\n", im->pid, im->forked ? ", forked" : "",
		im->exec ? ", exec'd" : "", im->ppid, im->title);
	fprintf(out, "  %s\n", hg_image_end_text(im, end, sizeof(end)));
	totals_text(out, im);
	if (im->end_kind == HG_END_EXEC) {
		fprintf(out, "  (its heap was discarded by exec: nothing here is a leak)\n");
		return;
	}
	if (o->stats) {
		hg_stats_text(out, f, im, o);
		return;
	}
	ids = hg_sites_by_live(im, &n);
	if (n) {
		size_t shown = o->top && o->top < n ? o->top : n;
		fprintf(out, "\n  %s by bytes live at the end (%zu of %zu site%s):\n",
			shown < n ? "largest sites" : "sites", shown, n, hg_plural(n));
		for (size_t i = 0; i < shown; i++)
			site_text(out, f, im, ids[i], i + 1, o->max_frames);
	}
	free(ids);
	hg_text_mmap(out, f, im, o->top, o->max_frames);
}

int hg_report_text(const struct hg_replay *r, struct hg_framer *f,
		   const struct hg_report_opts *o, FILE *out)
{
	char n[32];

	fprintf(out, "heapgraph report of '%s': %u process image%s, %s records\n", r->path,
		r->n_images, hg_plural(r->n_images), hg_format_count(n, sizeof(n), r->n_records));
	if (r->lost_events)
		fprintf(out, "LOST %s events: the shim could not record them (see docs/FORMAT.md)\n",
			hg_format_count(n, sizeof(n), r->lost_events));
	if (r->damage)
		fprintf(out, "DAMAGED: %s; this report covers the records before it\n", r->damage);
	for (uint32_t i = 0; i < r->n_images; i++)
		image_text(out, f, r->images[i], o);
	return ferror(out) ? -1 : 0;
}
