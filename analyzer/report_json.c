/*
 * report_json.c - `heapgraph report --format json`: the stable machine contract
 *
 * The shape is documented in docs/JSON.md. Fields are only ever added; a field that changes
 * meaning gets a new name and format_version goes up.
 */
#include <stdlib.h>

#include "hg_format.h"
#include "json.h"
#include "report.h"

#define JSON_FORMAT_VERSION 1

void hg_json_frames(struct hg_json *j, struct hg_framer *f, const struct hg_image *im,
			uint32_t stack_id)
{
	struct hg_frame fr[HG_MAX_FRAMES];
	size_t n = hg_framer_resolve(f, im, stack_id, fr, HG_MAX_FRAMES);

	hg_json_array(j, "frames");
	for (size_t i = 0; i < n; i++) {
		hg_json_object(j, NULL);
		hg_json_str(j, "function", fr[i].function);
		hg_json_str(j, "file", fr[i].file);
		if (fr[i].line)
			hg_json_u64(j, "line", fr[i].line);
		else
			hg_json_null(j, "line");
		hg_json_str(j, "module", fr[i].module);
		hg_json_u64(j, "address", fr[i].address);
		hg_json_end(j);
	}
	hg_json_end(j);
}

/* The four counts of a site, named for its domain. */
static const char *const heap_site_keys[4] = { "live_bytes", "live_blocks", "allocations",
					       "allocated_bytes" };
static const char *const mmap_site_keys[4] = { "live_bytes", "live_mappings", "calls",
					       "mapped_bytes" };

/* "sites": the first top (0: all) of ids, each site's counts and frames. */
static void json_sites(struct hg_json *j, struct hg_framer *f, const struct hg_image *im,
		       const struct hg_site *sites, const uint32_t *ids, size_t n, size_t top,
		       const char *const keys[4])
{
	hg_json_array(j, "sites");
	for (size_t i = 0; i < n && (top == 0 || i < top); i++) {
		const struct hg_site *s = &sites[ids[i]];
		hg_json_object(j, NULL);
		hg_json_u64(j, keys[0], s->live_bytes);
		hg_json_u64(j, keys[1], s->live_blocks);
		hg_json_u64(j, keys[2], s->allocations);
		hg_json_u64(j, keys[3], s->allocated_bytes);
		hg_json_frames(j, f, im, ids[i]);
		hg_json_end(j);
	}
	hg_json_end(j);
}

void hg_json_mmap(struct hg_json *j, struct hg_framer *f, const struct hg_image *im, size_t top)
{
	const struct hg_mmap_domain *d = &im->mmap;
	size_t n;
	uint32_t *ids = hg_mmap_sites_by_live(im, &n);

	hg_json_object(j, "mmap");
	hg_json_u64(j, "live_bytes", d->live_bytes);
	hg_json_u64(j, "live_mappings", d->live_mappings);
	hg_json_u64(j, "reserved_bytes", d->reserved_bytes);
	hg_json_u64(j, "peak_bytes", d->peak_bytes);
	hg_json_u64(j, "peak_time_ns", d->peak_time_ns);
	hg_json_u64(j, "mapped_bytes", d->mapped_bytes);
	hg_json_u64(j, "mmap_calls", d->maps);
	hg_json_u64(j, "munmap_calls", d->unmaps);
	hg_json_u64(j, "mremap_calls", d->remaps);
	json_sites(j, f, im, d->sites, ids, n, top, mmap_site_keys);
	hg_json_end(j);
	free(ids);
}

void hg_json_exit(struct hg_json *j, const struct hg_image *im)
{
	hg_json_object(j, "exit");
	if (im->end_kind == HG_END_CODE)
		hg_json_i64(j, "code", im->exit_status);
	else if (im->end_kind == HG_END_SIGNAL)
		hg_json_i64(j, "signal", im->exit_status);
	else if (im->end_kind == HG_END_EXEC)
		hg_json_bool(j, "exec", 1);
	hg_json_end(j);
}

void hg_json_totals_fields(struct hg_json *j, const struct hg_totals *t)
{
	hg_json_u64(j, "allocations", t->allocations);
	hg_json_u64(j, "frees", t->frees);
	hg_json_u64(j, "allocated_bytes", t->allocated_bytes);
	hg_json_u64(j, "peak_bytes", t->peak_bytes);
	hg_json_u64(j, "peak_time_ns", t->peak_time_ns);
	hg_json_u64(j, "live_bytes", t->live_bytes);
	hg_json_u64(j, "live_blocks", t->live_blocks);
	hg_json_u64(j, "lost_events", t->lost_events);
	hg_json_u64(j, "unknown_frees", t->unknown_frees);
}

void hg_json_image_fields(struct hg_json *j, const struct hg_replay *r, const struct hg_image *im)
{
	hg_json_u64(j, "pid", im->pid);
	hg_json_u64(j, "ppid", im->ppid);
	hg_json_str(j, "command", im->command);
	hg_json_str(j, "exe", im->exe);
	hg_json_bool(j, "forked", im->forked);
	hg_json_bool(j, "exec", im->exec);
	hg_json_bool(j, "foreign_malloc", im->foreign_malloc);
	hg_json_u64(j, "start_ns", im->t_start_ns >= r->t0_ns ? im->t_start_ns - r->t0_ns : 0);
	hg_json_exit(j, im);
}

void hg_json_trace_fields(struct hg_json *j, const struct hg_replay *r)
{
	hg_json_u64(j, "format_version", JSON_FORMAT_VERSION);
	hg_json_str(j, "trace", r->path);
	hg_json_u64(j, "time_resolution_ns", r->time_resolution_ns > 1 ? r->time_resolution_ns : 1);
	if (!r->rss_interval_ms)
		hg_json_null(j, "rss_interval_ms");
	else
		hg_json_u64(j, "rss_interval_ms",
			    r->rss_interval_ms == HG_RSS_INTERVAL_OFF ? 0 : r->rss_interval_ms);
	hg_json_u64(j, "lost_events", r->lost_events);
	if (r->damage) {
		hg_json_object(j, "damage");
		hg_json_u64(j, "offset", r->damage_offset);
		hg_json_str(j, "message", r->damage);
		hg_json_end(j);
	} else {
		hg_json_null(j, "damage");
	}
}

void hg_json_begin_processes(struct hg_json *j, const struct hg_replay *r)
{
	hg_json_object(j, NULL);
	hg_json_trace_fields(j, r);
	hg_json_array(j, "processes");
}

void hg_json_end_processes(struct hg_json *j)
{
	hg_json_end(j);
	hg_json_end(j);
	hg_json_finish(j);
}

/* The largest sample of the tracer's own memory in the process, or null. */
static void tracer_json(struct hg_json *j, const struct hg_image *im)
{
	if (!im->n_tracer) {
		hg_json_null(j, "tracer");
		return;
	}
	hg_json_object(j, "tracer");
	hg_json_u64(j, "time_ns", im->tracer.t_ns);
	hg_json_u64(j, "tables_bytes", im->tracer.tables_bytes);
	if (im->tracer.ring_bytes == HG_TRACER_UNKNOWN)
		hg_json_null(j, "ring_bytes");
	else
		hg_json_u64(j, "ring_bytes", im->tracer.ring_bytes);
	hg_json_end(j);
}

static void image_json(struct hg_json *j, struct hg_framer *f, const struct hg_replay *r,
		       const struct hg_image *im, const struct hg_report_opts *o)
{
	size_t n;
	uint32_t *ids = hg_sites_by_live(im, &n);

	hg_json_object(j, NULL);
	hg_json_image_fields(j, r, im);
	hg_json_object(j, "totals");
	hg_json_totals_fields(j, &im->totals);
	hg_json_end(j);
	tracer_json(j, im);
	json_sites(j, f, im, im->sites, ids, n, o->top, heap_site_keys);
	hg_json_mmap(j, f, im, o->top);
	if (o->stats)
		hg_stats_json(j, f, im, o);
	hg_json_end(j);
	free(ids);
}

int hg_report_json(const struct hg_replay *r, struct hg_framer *f,
		   const struct hg_report_opts *o, FILE *out)
{
	struct hg_json j;

	hg_json_init(&j, out);
	hg_json_begin_processes(&j, r);
	for (uint32_t i = 0; i < r->n_images; i++)
		image_json(&j, f, r, r->images[i], o);
	hg_json_end_processes(&j);
	return ferror(out) ? -1 : 0;
}
