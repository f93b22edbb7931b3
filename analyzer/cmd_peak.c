/*
 * cmd_peak.c - `heapgraph peak`: the high-water mark, what held it, and the heap over time
 *
 * Exit status: 0, 2 for usage errors, 3 when the trace cannot be read or is damaged (the report
 * of everything before the damage is printed first).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "json.h"
#include "peak.h"
#include "report.h"
#include "units.h"

#define CHART_COLS 64
#define CHART_ROWS 10


static const char help[] =
	"usage: heapgraph peak [options] TRACE\n"
	"\n"
	"For each process image: the exact peak of live heap bytes (the maximum over every\n"
	"event, not a sample), when it happened, the sites (call stacks) that held the memory\n"
	"at that instant, largest first, and a chart of live heap bytes over time with the peak\n"
	"marked. The trace is read twice: once to find the peak, once to stop there. The\n"
	"program's own anonymous mappings (mmap outside malloc) have their own peak, and are\n"
	"stacked on the heap in the chart.\n"
	"\n"
	"options:\n"
	"  -f, --format FMT   text (default) or json (docs/JSON.md)\n"
	"  -n, --top N        sites per process, 0 for all (default 10)\n"
	"      --frames N     frames per site in text output (default 8)\n"
	"      --full-names   C++ names in full (default: a template argument list of more\n"
	"                     than 20 characters reads <...>; JSON always has them in full)\n"
	"  -h, --help         this text\n";

/* Stack ids of the sites live at the peak, most bytes first. */
static uint32_t *peak_order(const struct hg_image *im, size_t *n)
{
	struct hg_image view = *im;

	view.sites = im->peak_sites;
	view.n_sites = im->n_peak_sites;
	return hg_sites_by_live(&view, n);
}

/* The maximum of points in each of CHART_COLS equal time buckets of [0, span]. */
static void bucket(const struct hg_point *p, size_t n, uint64_t span, uint64_t *col)
{
	memset(col, 0, sizeof(uint64_t) * CHART_COLS);
	for (size_t i = 0; i < n; i++) {
		uint64_t t = p[i].t_ns < span ? p[i].t_ns : span;
		size_t c = (size_t)(t * (CHART_COLS - 1) / span);
		if (p[i].heap_bytes > col[c])
			col[c] = p[i].heap_bytes;
	}
	for (size_t c = 1; c < CHART_COLS; c++) /* a bucket with no point keeps the level */
		if (!col[c] && col[c - 1])
			col[c] = col[c - 1];
}

static char glyph(uint64_t heap, uint64_t maps, uint64_t rss, int row, uint64_t top)
{
	uint64_t level = (uint64_t)row * top / CHART_ROWS - top / CHART_ROWS / 2;

	if (heap && heap >= level)
		return '#';
	if (maps && heap + maps >= level)
		return '=';
	return rss && rss >= level ? '.' : ' ';
}

static void chart(FILE *out, const struct hg_image *im)
{
	uint64_t heap[CHART_COLS], maps[CHART_COLS], rss[CHART_COLS], span, top;
	size_t peak_col;
	char a[32], b[32];

	if (!im->n_timeline)
		return;
	span = im->timeline[im->n_timeline - 1].t_ns;
	if (im->n_rss && im->rss[im->n_rss - 1].t_ns > span)
		span = im->rss[im->n_rss - 1].t_ns;
	if (span < im->time_resolution_ns) { /* every point at time 0: nothing to draw */
		fprintf(out, "\n  (no chart: the whole run fits in the trace's first tick of %s)\n",
			hg_format_duration(a, sizeof(a), im->time_resolution_ns));
		return;
	}
	span = span ? span : 1;
	top = im->totals.peak_bytes + im->mmap.peak_bytes;
	top = top > im->rss_peak_bytes ? top : im->rss_peak_bytes;
	top = top ? top : 1;
	bucket(im->timeline, im->n_timeline, span, heap);
	bucket(im->mmap.timeline, im->mmap.n_timeline, span, maps);
	bucket(im->rss, im->n_rss, span, rss);
	peak_col = (size_t)(im->totals.peak_time_ns * (CHART_COLS - 1) / span);
	fprintf(out, "\n  live heap (#)%s and resident set (.) over time:\n",
		im->mmap.peak_bytes ? ", the program's own mappings on top of it (=)," : "");
	for (int row = CHART_ROWS; row >= 1; row--) {
		fprintf(out, "  %10s |", row == CHART_ROWS ? hg_format_bytes(a, sizeof(a), top) : "");
		for (size_t c = 0; c < CHART_COLS; c++)
			fputc(glyph(heap[c], maps[c], rss[c], row, top), out);
		fputc('\n', out);
	}
	fprintf(out, "  %10s +", "0");
	for (size_t c = 0; c < CHART_COLS; c++)
		fputc('-', out);
	fprintf(out, " %s\n  %10s  %*s^ peak at %s\n", hg_format_duration(b, sizeof(b), span), "",
		(int)peak_col, "", hg_format_duration(a, sizeof(a), im->totals.peak_time_ns));
}

static void image_text(FILE *out, struct hg_framer *f, const struct hg_image *im, size_t top,
		       size_t frames)
{
	char a[32], b[32], c[32], nb[32];
	size_t n;
	uint32_t *ids = peak_order(im, &n);

	fprintf(out, "\nprocess %u (parent %u): %s\n", im->pid, im->ppid,
		im->title);
	fprintf(out, "  peak %s live %s; %s live at the end\n",
		hg_format_bytes(a, sizeof(a), im->totals.peak_bytes),
		hg_format_since_start(b, sizeof(b), im->totals.peak_time_ns, im->time_resolution_ns),
		hg_format_bytes(c, sizeof(c), im->totals.live_bytes));
	if (im->n_rss)
		fprintf(out, "  resident set: peak %s at %s; %s at the last sample\n",
			hg_format_bytes(a, sizeof(a), im->rss_peak_bytes),
			hg_format_duration(b, sizeof(b), im->rss_peak_time_ns),
			hg_format_bytes(c, sizeof(c), im->rss[im->n_rss - 1].heap_bytes));
	if (im->mmap.peak_bytes)
		fprintf(out, "  anonymous mappings outside malloc: peak %s at %s; %s at the end\n",
			hg_format_bytes(a, sizeof(a), im->mmap.peak_bytes),
			hg_format_duration(b, sizeof(b), im->mmap.peak_time_ns),
			hg_format_bytes(c, sizeof(c), im->mmap.live_bytes));
	chart(out, im);
	if (n)
		fprintf(out, "\n  sites holding the peak (%zu of %zu):\n", top && top < n ? top : n, n);
	for (size_t i = 0; i < n && (!top || i < top); i++) {
		const struct hg_site *s = &im->peak_sites[ids[i]];
		fprintf(out, "  #%zu %s in %s block%s\n", i + 1,
			hg_format_bytes(a, sizeof(a), s->live_bytes),
			hg_format_count(nb, sizeof(nb), s->live_blocks), hg_plural(s->live_blocks));
		hg_text_frames(out, f, im, ids[i], frames, "      ");
	}
	free(ids);
}

/* The RSS sampled at or before t, or null before the first sample. */
static void json_rss(struct hg_json *j, const char *key, const struct hg_image *im, uint64_t t)
{
	uint64_t v = hg_rss_at(im, t);

	if (v)
		hg_json_u64(j, key, v);
	else
		hg_json_null(j, key);
}

static void image_json(struct hg_json *j, struct hg_framer *f, const struct hg_replay *r,
		       const struct hg_image *im, size_t top)
{
	size_t n;
	uint32_t *ids = peak_order(im, &n);

	hg_json_object(j, NULL);
	hg_json_image_fields(j, r, im);
	hg_json_object(j, "totals");
	hg_json_totals_fields(j, &im->totals);
	hg_json_end(j);
	hg_json_object(j, "peak");
	hg_json_u64(j, "bytes", im->totals.peak_bytes);
	hg_json_u64(j, "time_ns", im->totals.peak_time_ns);
	json_rss(j, "rss_bytes", im, im->totals.peak_time_ns);
	if (im->n_rss) {
		hg_json_u64(j, "rss_peak_bytes", im->rss_peak_bytes);
		hg_json_u64(j, "rss_peak_time_ns", im->rss_peak_time_ns);
	} else {
		hg_json_null(j, "rss_peak_bytes");
		hg_json_null(j, "rss_peak_time_ns");
	}
	hg_json_array(j, "sites");
	for (size_t i = 0; i < n && (!top || i < top); i++) {
		hg_json_object(j, NULL);
		hg_json_u64(j, "bytes", im->peak_sites[ids[i]].live_bytes);
		hg_json_u64(j, "blocks", im->peak_sites[ids[i]].live_blocks);
		hg_json_frames(j, f, im, ids[i]);
		hg_json_end(j);
	}
	hg_json_end(j);
	hg_json_end(j);
	hg_json_mmap(j, f, im, top);
	hg_json_array(j, "timeline");
	for (size_t i = 0; i < im->n_timeline; i++) {
		hg_json_object(j, NULL);
		hg_json_u64(j, "time_ns", im->timeline[i].t_ns);
		hg_json_u64(j, "heap_bytes", im->timeline[i].heap_bytes);
		hg_json_u64(j, "mmap_bytes", hg_mmap_bytes_at(im, im->timeline[i].t_ns));
		json_rss(j, "rss_bytes", im, im->timeline[i].t_ns);
		hg_json_end(j);
	}
	hg_json_end(j);
	hg_json_end(j);
	free(ids);
}

int hg_cmd_peak(int argc, char **argv)
{
	struct hg_view_args a = { "text", 10, 8, 0 };
	struct hg_replay *r;
	struct hg_framer *f;
	struct hg_json j;
	int rc = hg_view_args("peak", help, HG_VIEW_TOP | HG_VIEW_FRAMES, argc, argv, &a);

	if (rc >= 0)
		return rc;
	f = hg_framer_new(); /* first: it opens modules as the replay reads them */
	if (!(r = hg_replay_file_flags(argv[optind], HG_REPLAY_PEAK | HG_REPLAY_SKIP_WORDS))) {
		hg_framer_free(f);
		return HG_EXIT_INPUT;
	}
	hg_json_init(&j, stdout);
	if (a.json) {
		hg_json_begin_processes(&j, r);
		for (uint32_t i = 0; i < r->n_images; i++)
			image_json(&j, f, r, r->images[i], a.top);
		hg_json_end_processes(&j);
	} else {
		hg_text_heading(stdout, "peak", r, "report");
		for (uint32_t i = 0; i < r->n_images; i++)
			image_text(stdout, f, r->images[i], a.top, a.frames);
	}
	return hg_report_done(r, f, 0);
}
