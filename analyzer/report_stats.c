/*
 * report_stats.c - `heapgraph report` with statistics: an image's groups at a point, text/JSON
 *
 * Text is one aligned table per process (table.h), at most 100 columns: the numbers the order
 * is about first, then the group's name, cut with "..." when long. A traceback group lists its
 * further frames under its name. JSON carries the same numbers, never cut (docs/JSON.md).
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "names.h"
#include "report.h"
#include "table.h"
#include "units.h"

#define N_COLS 5

static const int widths[N_COLS] = { 3, 10, 9, 10, 10 };

static const char *const headers[][N_COLS] = {
	[HG_ORDER_SIZE] = { "#", "size", "count", "average", NULL },
	[HG_ORDER_COUNT] = { "#", "size", "count", "average", NULL },
	[HG_ORDER_ALLOCATIONS] = { "#", "allocs", "allocated", "average", "temporary" },
	[HG_ORDER_TEMPORARY] = { "#", "temporary", "temp size", "average", "allocs" },
	[HG_ORDER_ALLOCATED] = { "#", "allocated", "allocs", "average", "temporary" },
};

/* A frame on one line; text: the function as text output shortens it (names.h). */
static void frame_text(const struct hg_frame *fr, int text, char *buf, size_t cap)
{
	char name[HG_NAME_TEXT_MAX];
	const char *fn = text ? hg_name_text(fr->function, name, sizeof(name)) : fr->function;

	fn = fn ? fn : "???";

	if (fr->file && fr->line)
		snprintf(buf, cap, "%s (%s:%u)", fn, hg_basename(fr->file), fr->line);
	else if (fr->module)
		snprintf(buf, cap, "%s in %s", fn, hg_basename(fr->module));
	else
		snprintf(buf, cap, "%s [0x%llx]", fn, (unsigned long long)fr->address);
}

void hg_stats_text_more_frames(FILE *out, const struct hg_stat *g, const int *w, size_t n)
{
	static const char *const blank[N_COLS];
	char name[512], line[520];

	for (size_t i = 1; i < g->n_frames; i++) {
		frame_text(&g->frames[i], 1, name, sizeof(name));
		snprintf(line, sizeof(line), "  by %s", name);
		hg_table_row(out, "  ", w, n, blank, line);
	}
}

void hg_stats_group_name(const struct hg_stat *g, int group_by, int text, char *buf, size_t cap)
{
	if (group_by == HG_GROUP_TRACEBACK)
		frame_text(&g->frames[0], text, buf, cap);
	else
		hg_stat_name(g, group_by, text, buf, cap);
}

static void average(char *buf, size_t cap, uint64_t bytes, uint64_t n)
{
	hg_format_bytes(buf, cap, n ? (bytes + n / 2) / n : 0);
}

static void row(FILE *out, const struct hg_stat *g, size_t rank, const struct hg_report_opts *o)
{
	const struct hg_stats_report *sr = o->stats;
	char c[N_COLS][32], name[512];
	const char *cells[N_COLS] = { c[0], c[1], c[2], c[3], NULL };

	snprintf(c[0], sizeof(c[0]), "%zu", rank);
	switch (sr->order) {
	case HG_ORDER_ALLOCATIONS:
	case HG_ORDER_ALLOCATED: { /* the same columns, the order's own first */
		int by_bytes = sr->order == HG_ORDER_ALLOCATED;
		hg_format_count(c[1 + by_bytes], sizeof(c[0]), g->allocations);
		hg_format_bytes(c[2 - by_bytes], sizeof(c[0]), g->allocated_bytes);
		average(c[3], sizeof(c[3]), g->allocated_bytes, g->allocations);
		cells[4] = hg_format_count(c[4], sizeof(c[4]), g->temporary);
		break;
	}
	case HG_ORDER_TEMPORARY:
		hg_format_count(c[1], sizeof(c[1]), g->temporary);
		hg_format_bytes(c[2], sizeof(c[2]), g->temporary_bytes);
		average(c[3], sizeof(c[3]), g->temporary_bytes, g->temporary);
		cells[4] = hg_format_count(c[4], sizeof(c[4]), g->allocations);
		break;
	default:
		hg_format_bytes(c[1], sizeof(c[1]), g->bytes);
		hg_format_count(c[2], sizeof(c[2]), g->blocks);
		average(c[3], sizeof(c[3]), g->bytes, g->blocks);
	}
	hg_stats_group_name(g, sr->stats.group_by, 1, name, sizeof(name));
	hg_table_row(out, "  ", widths, cells[4] ? N_COLS : N_COLS - 1, cells, name);
	if (sr->stats.group_by == HG_GROUP_TRACEBACK)
		hg_stats_text_more_frames(out, g, widths, cells[4] ? N_COLS : N_COLS - 1);
}

static void histogram_text(FILE *out, const struct hg_image *im)
{
	static const int w[3] = { 27, 12, 10 };
	static const char *const head[3] = { "size", "allocations", "temporary" };
	uint64_t max = 0;
	char lo[32], hi[32], range[48], a[32], t[32], bar[40];

	for (unsigned k = 0; k < HG_SIZE_BUCKETS; k++)
		max = im->size_hist[k] > max ? im->size_hist[k] : max;
	fprintf(out, "\n  allocation sizes (%s temporary):\n",
		hg_format_count(a, sizeof(a), im->temporary));
	hg_table_row(out, "  ", w, 3, head, "");
	for (unsigned k = 0; k < HG_SIZE_BUCKETS; k++) {
		const char *cells[3] = { range, a, t };
		if (!im->size_hist[k])
			continue;
		if (k == 0)
			snprintf(range, sizeof(range), "0 B");
		else if (k == 1)
			snprintf(range, sizeof(range), "1 B");
		else if (k < 64) /* [2^(k-1), 2^k): bounds exact, whatever the rounding of units */
			snprintf(range, sizeof(range), "%s to under %s",
				 hg_format_bytes(lo, sizeof(lo), 1ull << (k - 1)),
				 hg_format_bytes(hi, sizeof(hi), 1ull << k));
		else
			snprintf(range, sizeof(range), "%s or more",
				 hg_format_bytes(lo, sizeof(lo), 1ull << (k - 1)));
		hg_format_count(a, sizeof(a), im->size_hist[k]);
		hg_format_count(t, sizeof(t), im->temp_hist[k]);
		hg_table_row(out, "  ", w, 3, cells,
			     hg_table_bar(bar, sizeof(bar), im->size_hist[k], max, 30));
	}
}

/* "live at the end by function: 1.2 MiB in 530 blocks, 4 groups (largest 10 shown)" */
static void header(FILE *out, const struct hg_image *im, const struct hg_stats *st,
		   const struct hg_stats_report *sr, size_t shown)
{
	const char *by = hg_group_by_name(sr->stats.group_by);
	const char *cum = sr->stats.cumulative ? "cumulative " : "";
	char pt[96], a[32], b[32], more[48] = "";

	if (shown < st->n)
		snprintf(more, sizeof(more), " (largest %zu shown)", shown);
	if (sr->order == HG_ORDER_ALLOCATIONS)
		fprintf(out, "\n  allocations over the whole run by %s%s: %s (%s)", cum, by,
			hg_format_count(a, sizeof(a), st->allocations),
			hg_format_bytes(b, sizeof(b), st->allocated_bytes));
	else if (sr->order == HG_ORDER_ALLOCATED)
		fprintf(out, "\n  bytes allocated over the whole run by %s%s: %s (%s allocations)",
			cum, by, hg_format_bytes(b, sizeof(b), st->allocated_bytes),
			hg_format_count(a, sizeof(a), st->allocations));
	else if (sr->order == HG_ORDER_TEMPORARY)
		fprintf(out, "\n  temporary allocations by %s%s: %s (%s)", cum, by,
			hg_format_count(a, sizeof(a), st->temporary),
			hg_format_bytes(b, sizeof(b), st->temporary_bytes));
	else
		fprintf(out, "\n  live at %s%s by %s%s: %s in %s block%s",
			hg_point_text(&sr->point, pt, sizeof(pt)),
			sr->point.kind == HG_POINT_TIME && im->at_after_end ?
				" (after its last event: as at its end)" : "", cum, by,
			hg_format_bytes(a, sizeof(a), st->bytes),
			hg_format_count(b, sizeof(b), st->blocks), hg_plural(st->blocks));
	fprintf(out, ", %zu group%s%s\n", st->n, hg_plural(st->n), more);
}

void hg_stats_text(FILE *out, struct hg_framer *f, const struct hg_image *im,
		   const struct hg_report_opts *o)
{
	const struct hg_stats_report *sr = o->stats;
	struct hg_stats st;
	char pt[96];
	size_t shown;

	if (hg_stats_build_at(&st, f, im, &sr->point, &sr->stats, sr->order) < 0) {
		fprintf(out, "\n  no %s in this process\n", hg_point_text(&sr->point, pt, sizeof(pt)));
		return;
	}
	shown = o->top && o->top < st.n ? o->top : st.n;
	header(out, im, &st, sr, shown);
	if (st.n) {
		const char *const *h = headers[sr->order];
		hg_table_row(out, "  ", widths, h[4] ? N_COLS : N_COLS - 1, h,
			     hg_group_by_name(sr->stats.group_by));
	}
	for (size_t i = 0; i < shown; i++)
		row(out, st.v[i], i + 1, o);
	if (sr->histogram)
		histogram_text(out, im);
	hg_stats_release(&st);
}

/* ---- JSON ----------------------------------------------------------------------------- */

static void json_frame_fields(struct hg_json *j, const struct hg_frame *fr, int function,
			      int file, int line, int module)
{
	if (function)
		hg_json_str(j, "function", fr->function);
	if (file)
		hg_json_str(j, "file", fr->file);
	if (line && fr->line)
		hg_json_u64(j, "line", fr->line);
	else if (line)
		hg_json_null(j, "line");
	if (module)
		hg_json_str(j, "module", fr->module);
}

void hg_stats_json_group(struct hg_json *j, const struct hg_stat *g, int group_by)
{
	char name[512];

	hg_stats_group_name(g, group_by, 0, name, sizeof(name));
	hg_json_str(j, "name", name);
	switch (group_by) {
	case HG_GROUP_TRACEBACK:
		hg_json_array(j, "frames");
		for (size_t i = 0; i < g->n_frames; i++) {
			hg_json_object(j, NULL);
			json_frame_fields(j, &g->frames[i], 1, 1, 1, 1);
			hg_json_u64(j, "address", g->frames[i].address);
			hg_json_end(j);
		}
		hg_json_end(j);
		break;
	case HG_GROUP_FUNCTION: json_frame_fields(j, &g->frames[0], 1, 1, 0, 1); break;
	case HG_GROUP_LINE: json_frame_fields(j, &g->frames[0], 1, 1, 1, 1); break;
	case HG_GROUP_FILE: json_frame_fields(j, &g->frames[0], 0, 1, 0, !g->frames[0].file); break;
	default: json_frame_fields(j, &g->frames[0], 0, 0, 0, 1);
	}
}

void hg_json_point(struct hg_json *j, const char *key, const struct hg_point_spec *p)
{
	hg_json_object(j, key);
	hg_json_str(j, "kind", hg_point_kind_name(p->kind));
	if (p->kind == HG_POINT_TIME)
		hg_json_u64(j, "time_ns", p->t_ns);
	if (p->kind == HG_POINT_SNAPSHOT && p->label)
		hg_json_str(j, "label", p->label);
	else if (p->kind == HG_POINT_SNAPSHOT)
		hg_json_u64(j, "snapshot_id", p->id);
	hg_json_end(j);
}

static void json_histogram(struct hg_json *j, const struct hg_image *im)
{
	hg_json_array(j, "size_histogram");
	for (unsigned k = 0; k < HG_SIZE_BUCKETS; k++) {
		if (!im->size_hist[k])
			continue;
		hg_json_object(j, NULL);
		hg_json_u64(j, "min_bytes", k ? 1ull << (k - 1) : 0);
		hg_json_u64(j, "max_bytes", k == 0 ? 0 : k < 64 ? (1ull << k) - 1 : UINT64_MAX);
		hg_json_u64(j, "allocations", im->size_hist[k]);
		hg_json_u64(j, "temporary", im->temp_hist[k]);
		hg_json_end(j);
	}
	hg_json_end(j);
}

static void json_stat_numbers(struct hg_json *j, const struct hg_stat *g)
{
	hg_json_u64(j, "size_bytes", g->bytes);
	hg_json_u64(j, "count", g->blocks);
	hg_json_u64(j, "average_bytes", g->blocks ? (g->bytes + g->blocks / 2) / g->blocks : 0);
	hg_json_u64(j, "allocations", g->allocations);
	hg_json_u64(j, "allocated_bytes", g->allocated_bytes);
	hg_json_u64(j, "temporary", g->temporary);
	hg_json_u64(j, "temporary_bytes", g->temporary_bytes);
}

void hg_stats_json(struct hg_json *j, struct hg_framer *f, const struct hg_image *im,
		   const struct hg_report_opts *o)
{
	const struct hg_stats_report *sr = o->stats;
	struct hg_stats st;

	if (hg_stats_build_at(&st, f, im, &sr->point, &sr->stats, sr->order) < 0) {
		hg_json_null(j, "statistics");
		return;
	}
	hg_json_object(j, "statistics");
	hg_json_point(j, "point", &sr->point);
	hg_json_str(j, "group_by", hg_group_by_name(sr->stats.group_by));
	hg_json_bool(j, "cumulative", sr->stats.cumulative);
	hg_json_str(j, "order", hg_stats_order_name(sr->order));
	hg_json_u64(j, "size_bytes", st.bytes);
	hg_json_u64(j, "count", st.blocks);
	hg_json_u64(j, "allocations", st.allocations);
	hg_json_u64(j, "allocated_bytes", st.allocated_bytes);
	hg_json_u64(j, "temporary", st.temporary);
	hg_json_u64(j, "temporary_bytes", st.temporary_bytes);
	hg_json_u64(j, "groups_total", st.n);
	hg_json_array(j, "groups");
	for (size_t i = 0; i < st.n && (!o->top || i < o->top); i++) {
		hg_json_object(j, NULL);
		hg_stats_json_group(j, st.v[i], sr->stats.group_by);
		json_stat_numbers(j, st.v[i]);
		hg_json_end(j);
	}
	hg_json_end(j);
	json_histogram(j, im);
	hg_json_end(j);
	hg_stats_release(&st);
}
