/*
 * cmd_frag.c - `heapgraph frag`: live bytes, free bytes malloc keeps, RSS, and what pins pages
 *
 * Exit status: 0, 2 for usage errors, 3 when the trace cannot be read or is damaged (the report
 * of everything before the damage is printed first).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "frag.h"
#include "json.h"
#include "names.h"
#include "peak.h"
#include "report.h"
#include "units.h"


static const char help[] =
	"usage: heapgraph frag [options] TRACE\n"
	"\n"
	"Why a process holds more memory than it uses, at each heap snapshot (at exit by\n"
	"default; heapgraph_snapshot() and HEAPGRAPH_SNAPSHOT_SIGNAL add more): live bytes, the\n"
	"free bytes malloc keeps and how much of them is the untouched top of its heaps (taken\n"
	"ahead of use, never handed out), the resident set, how many pages of malloc's memory\n"
	"hold any live data, what malloc_trim(0) could give back, the allocation sites whose\n"
	"few live blocks keep otherwise empty pages in use, the block at the top of the brk\n"
	"heap, and where the resident set goes: malloc's memory, the program's own anonymous\n"
	"mappings (outside malloc), the rest. Also at the largest resident-set sample\n"
	"(peak_rss): the live bytes and mappings of that instant; what only a snapshot can tell\n"
	"is n/a there. A process with no resident-set sample is told why (sampling off, a run\n"
	"shorter than record --rss-interval, or one the collector could not read).\n"
	"\n"
	"options:\n"
	"  -f, --format FMT   text (default) or json (docs/JSON.md)\n"
	"  -n, --top N        pinning sites per snapshot, 0 for all (default 5)\n"
	"      --full-names   C++ names in full (default: a template argument list of more\n"
	"                     than 20 characters reads <...>; JSON always has them in full)\n"
	"  -h, --help         this text\n";

/* Where the resident set goes: malloc's memory, the program's own mappings, the rest. */
static void where_text(FILE *out, const struct hg_frag *fr)
{
	char a[32], b[32], c[32];

	if (fr->mmap_mappings)
		fprintf(out, "    the program's own anonymous mappings (outside malloc): %s in %"
			PRIu64 " mapping%s\n", hg_format_bytes(a, sizeof(a), fr->mmap_bytes),
			fr->mmap_mappings, hg_plural(fr->mmap_mappings));
	if (!fr->rss_bytes)
		return;
	fprintf(out, "    resident set %s: malloc's memory (at most its span, %s)%s + ",
		hg_format_bytes(a, sizeof(a), fr->rss_bytes),
		hg_format_bytes(b, sizeof(b), fr->heap_span_bytes),
		fr->mmap_mappings ? " + own mappings" : "");
	if (fr->other_bytes)
		fprintf(out, "at least %s of code, stacks, libraries' data\n",
			hg_format_bytes(c, sizeof(c), fr->other_bytes));
	else
		fprintf(out, "the rest (not all of malloc's span is resident: no lower bound)\n");
}

/*
 * Free memory of the heaps the program used, below their untouched tops: that is what can be
 * fragmentation. glibc keeps 128 KiB free at the top of a heap by design (M_TRIM_THRESHOLD,
 * M_TOP_PAD), and the tracer's own first blocks sit in the program's heap unrecorded, so less
 * free memory than this says nothing: a program that allocates almost nothing read as "98% of
 * malloc's memory is free".
 */
#define FRAG_NOTEWORTHY_FREE (128u << 10)

static void diagnosis_line(FILE *out, const struct hg_frag *fr)
{
	uint64_t used = fr->heap_span_bytes - fr->untouched_top_bytes;
	uint64_t used_free = fr->allocator_free_bytes - fr->untouched_top_bytes;
	double pct = used ? 100.0 * (double)used_free / (double)used : 0;

	if (used_free >= FRAG_NOTEWORTHY_FREE && fr->live_bytes * 4 < used) {
		if (fr->rss_bytes && fr->rss_bytes < used)
			fprintf(out, "    diagnosis: %.0f%% of the heap the program used is free, but "
				"the resident set is below it: most free pages were already given "
				"back\n", pct);
		else
			fprintf(out, "    diagnosis: %.0f%% of the heap the program used is free; it "
				"stays resident until malloc_trim(0) or until it is reused%s\n", pct,
				fr->n_pinners ? ", and the sites above keep sparse pages in use" : "");
	} else if (used_free < FRAG_NOTEWORTHY_FREE && fr->untouched_top_bytes > used_free) {
		fprintf(out, "    diagnosis: no fragmentation: the free memory is mostly untouched "
			"heap top, which glibc took ahead of use and which is not resident until it is "
			"handed out\n");
	}
}

/* Frames of a pinning site's stack on its line, innermost first, each called from the next
 * ("fill (a.c:36) < main (a.c:60)"): behind a wrapper (xmalloc, a JVM's os::malloc) the
 * innermost alone would read the same on every line. */
#define PIN_FRAMES 3

/* The function of frame fn (of k resolved, 0 or more) as text: shortened (names.h), "???"
 * unknown. */
static const char *frame_name(const struct hg_frame *fn, size_t k, char *buf, size_t cap)
{
	const char *s = k ? hg_name_text(fn[0].function, buf, cap) : NULL;

	return s ? s : "???";
}

static void diagnose(FILE *out, struct hg_framer *f, const struct hg_image *im,
		     const struct hg_snapshot *sn, const struct hg_frag *fr, size_t top)
{
	char a[32], b[32], c[32], d[32], nb[32], name[HG_NAME_TEXT_MAX];
	struct hg_frame fn[1], chain[PIN_FRAMES];
	const struct hg_mallinfo *mi;

	fprintf(out, "\n  at snapshot '%s':\n", sn->label);
	fprintf(out, "    live %s in %s block%s; malloc holds %s free",
		hg_format_bytes(a, sizeof(a), fr->live_bytes),
		hg_format_count(nb, sizeof(nb), fr->live_blocks), hg_plural(fr->live_blocks),
		hg_format_bytes(b, sizeof(b), fr->allocator_free_bytes));
	if (fr->untouched_top_bytes)
		fprintf(out, ", of which %s is untouched heap top, which malloc never handed out",
			hg_format_bytes(a, sizeof(a), fr->untouched_top_bytes));
	fprintf(out, "; heap span %s", hg_format_bytes(c, sizeof(c), fr->heap_span_bytes));
	if (fr->rss_bytes)
		fprintf(out, "; resident set %s", hg_format_bytes(d, sizeof(d), fr->rss_bytes));
	if ((mi = hg_frag_mallinfo(im, sn)))
		fprintf(out, "\n    malloc's own count (mallinfo2): %s obtained, %s in mmapped "
			"blocks, %s free, %s releasable at the top",
			hg_format_bytes(a, sizeof(a), mi->arena_bytes),
			hg_format_bytes(b, sizeof(b), mi->mmap_bytes),
			hg_format_bytes(c, sizeof(c), mi->free_bytes),
			hg_format_bytes(d, sizeof(d), mi->releasable_bytes));
	fprintf(out, "\n    pages: %" PRIu64 " hold live data, %" PRIu64 " hold none",
		fr->pages_with_live_data, fr->pages_free);
	if (fr->pages_untouched)
		fprintf(out, " (%" PRIu64 " of them untouched)", fr->pages_untouched);
	fprintf(out, "; malloc_trim(0) could give back about %s\n",
		hg_format_bytes(a, sizeof(a), fr->trim_estimate_bytes));
	where_text(out, fr);
	for (size_t i = 0; i < fr->n_pinners && (!top || i < top); i++) {
		const struct hg_frag_pinner *p = &fr->pinners[i];
		size_t k = hg_framer_resolve(f, im, p->stack_id, chain, PIN_FRAMES);

		fprintf(out, "    pins:");
		for (size_t j = 0; j < (k ? k : 1); j++) {
			fprintf(out, "%s%s", j ? " < " : " ",
				frame_name(chain + j, k, name, sizeof(name)));
			if (k && chain[j].file && chain[j].line)
				fprintf(out, " (%s:%u)", hg_basename(chain[j].file), chain[j].line);
		}
		fprintf(out, ": %s block%s, %s live, pin %s\n",
			hg_format_count(nb, sizeof(nb), p->blocks), hg_plural(p->blocks),
			hg_format_bytes(a, sizeof(a), p->live_bytes),
			hg_format_bytes(b, sizeof(b), p->pinned_bytes));
	}
	if (fr->top_block >= 0) {
		const struct hg_block *t = &sn->blocks[fr->top_block];
		size_t k = hg_framer_resolve(f, im, t->stack_id, fn, 1);
		fprintf(out, "    top of the brk heap: %s block from %s; %s free above it\n",
			hg_format_bytes(a, sizeof(a), t->size_bytes),
			frame_name(fn, k, name, sizeof(name)),
			hg_format_bytes(b, sizeof(b), fr->above_top_bytes));
	}
	diagnosis_line(out, fr);
}

static void json_mallinfo(struct hg_json *j, const struct hg_mallinfo *mi)
{
	if (!mi) {
		hg_json_null(j, "malloc");
		return;
	}
	hg_json_object(j, "malloc");
	hg_json_u64(j, "arena_bytes", mi->arena_bytes);
	hg_json_u64(j, "mmap_bytes", mi->mmap_bytes);
	hg_json_u64(j, "free_bytes", mi->free_bytes);
	hg_json_u64(j, "releasable_bytes", mi->releasable_bytes);
	hg_json_end(j);
}

/* A byte count that needs an RSS sample: null without one. */
static void json_rss_u64(struct hg_json *j, const char *key, uint64_t rss, uint64_t v)
{
	if (rss)
		hg_json_u64(j, key, v);
	else
		hg_json_null(j, key);
}

/* Where the resident set goes, the fields every entry has. */
static void json_where(struct hg_json *j, uint64_t rss, uint64_t mmap_bytes, uint64_t mappings,
		       uint64_t gap)
{
	hg_json_u64(j, "mmap_bytes", mmap_bytes);
	hg_json_u64(j, "mmap_mappings", mappings);
	json_rss_u64(j, "gap_bytes", rss, gap);
}

static void frag_json(struct hg_json *j, struct hg_framer *f, const struct hg_image *im,
		      const struct hg_snapshot *sn, const struct hg_frag *fr, size_t top)
{
	hg_json_object(j, NULL);
	hg_json_str(j, "at", sn->label);
	hg_json_u64(j, "time_ns", hg_image_time(im, sn->t_ns));
	hg_json_u64(j, "live_bytes", fr->live_bytes);
	hg_json_u64(j, "live_blocks", fr->live_blocks);
	hg_json_u64(j, "allocator_free_bytes", fr->allocator_free_bytes);
	hg_json_u64(j, "untouched_top_bytes", fr->untouched_top_bytes);
	json_rss_u64(j, "rss_bytes", fr->rss_bytes, fr->rss_bytes);
	hg_json_u64(j, "heap_span_bytes", fr->heap_span_bytes);
	hg_json_u64(j, "pages_with_live_data", fr->pages_with_live_data);
	hg_json_u64(j, "pages_free", fr->pages_free);
	hg_json_u64(j, "pages_untouched", fr->pages_untouched);
	hg_json_u64(j, "trim_estimate_bytes", fr->trim_estimate_bytes);
	json_mallinfo(j, hg_frag_mallinfo(im, sn));
	hg_json_array(j, "pinners");
	for (size_t i = 0; i < fr->n_pinners && (!top || i < top); i++) {
		hg_json_object(j, NULL);
		hg_json_u64(j, "blocks", fr->pinners[i].blocks);
		hg_json_u64(j, "live_bytes", fr->pinners[i].live_bytes);
		hg_json_u64(j, "pinned_bytes", fr->pinners[i].pinned_bytes);
		hg_json_frames(j, f, im, fr->pinners[i].stack_id);
		hg_json_end(j);
	}
	hg_json_end(j);
	if (fr->top_block >= 0) {
		hg_json_object(j, "top_block");
		hg_json_u64(j, "address", sn->blocks[fr->top_block].addr);
		hg_json_u64(j, "size", sn->blocks[fr->top_block].size_bytes);
		hg_json_u64(j, "free_above_bytes", fr->above_top_bytes);
		hg_json_frames(j, f, im, sn->blocks[fr->top_block].stack_id);
		hg_json_end(j);
	} else {
		hg_json_null(j, "top_block");
	}
	json_where(j, fr->rss_bytes, fr->mmap_bytes, fr->mmap_mappings, fr->gap_bytes);
	json_rss_u64(j, "other_bytes", fr->rss_bytes, fr->other_bytes);
	hg_json_end(j);
}

/* The moment of the largest RSS sample: what the replay captured there, the rest unknown. */
static void rss_peak_json(struct hg_json *j, const struct hg_image *im)
{
	const struct hg_moment *m = &im->at_rss_peak;
	static const char *const unknown[] = { "allocator_free_bytes", "untouched_top_bytes",
		"heap_span_bytes", "pages_with_live_data", "pages_free", "pages_untouched",
		"trim_estimate_bytes", "malloc", "pinners", "top_block", "other_bytes" };

	hg_json_object(j, NULL);
	hg_json_str(j, "at", "peak_rss");
	hg_json_u64(j, "time_ns", m->t_ns);
	hg_json_u64(j, "live_bytes", m->heap_live_bytes);
	hg_json_u64(j, "live_blocks", m->heap_live_blocks);
	hg_json_u64(j, "rss_bytes", m->rss_bytes);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		hg_json_null(j, unknown[i]);
	json_where(j, m->rss_bytes, m->mmap_bytes, m->mmap_mappings,
		   hg_frag_rest(m->rss_bytes, m->heap_live_bytes, m->mmap_bytes));
	hg_json_end(j);
}

static void rss_peak_text(FILE *out, const struct hg_image *im)
{
	const struct hg_moment *m = &im->at_rss_peak;
	char a[32], b[32], c[32], d[32];

	fprintf(out, "\n  at the peak of the resident set, %s:\n",
		hg_format_since_start(a, sizeof(a), m->t_ns, im->time_resolution_ns));
	fprintf(out, "    live %s in %s block%s; own mappings %s in %" PRIu64 " mapping%s; "
		"resident set %s\n", hg_format_bytes(a, sizeof(a), m->heap_live_bytes),
		hg_format_count(d, sizeof(d), m->heap_live_blocks), hg_plural(m->heap_live_blocks),
		hg_format_bytes(b, sizeof(b), m->mmap_bytes), m->mmap_mappings,
		hg_plural(m->mmap_mappings), hg_format_bytes(c, sizeof(c), m->rss_bytes));
	fprintf(out, "    %s resident beyond both: malloc's free memory, code, stacks, "
		"libraries' data\n", hg_format_bytes(d, sizeof(d),
		hg_frag_rest(m->rss_bytes, m->heap_live_bytes, m->mmap_bytes)));
	fprintf(out, "    malloc's free bytes, untouched heap top, heap span, pages, trim estimate, "
		"pinning sites: n/a (only a heap snapshot records malloc's regions)\n");
}

/* How long im ran: to its first EXIT record, or to the start of the image that replaced it;
 * UINT64_MAX when the trace does not say. */
static uint64_t ran_ns(const struct hg_image *im)
{
	uint64_t end = im->t_exit_ns ? im->t_exit_ns :
		       im->end_kind == HG_END_EXEC ? im->t_replaced_ns : 0;

	return end && end >= im->t_start_ns ? end - im->t_start_ns : UINT64_MAX;
}

static void image_out(int json, struct hg_json *j, struct hg_framer *f,
		      const struct hg_replay *r, const struct hg_image *im, size_t top)
{
	char line[320];

	if (json) {
		hg_json_object(j, NULL);
		hg_json_image_fields(j, r, im);
		hg_json_array(j, "fragmentation");
	} else {
		printf("\nprocess %u (parent %u): %s\n", im->pid, im->ppid,
		       im->title);
		if (!im->n_snapshots)
			printf("  no snapshot: %s\n", hg_snapshot_missing_text(im, line, sizeof(line)));
		if (!im->at_rss_peak.taken)
			printf("  %s\n", hg_frag_no_rss(line, sizeof(line), r->rss_interval_ms,
							 ran_ns(im), im->pid));
	}
	for (uint32_t i = 0; i < im->n_snapshots; i++) {
		struct hg_frag fr;
		if (!im->snapshots[i]->have_blocks)
			continue;
		if (!im->snapshots[i]->complete) { /* its regions were cut off */
			if (!json)
				printf("  snapshot '%s' %s: not analysed\n", im->snapshots[i]->label,
				       hg_snapshot_cut_text(r, im, line, sizeof(line)));
			continue;
		}
		hg_frag_build(&fr, im, im->snapshots[i]);
		if (json)
			frag_json(j, f, im, im->snapshots[i], &fr, top);
		else
			diagnose(stdout, f, im, im->snapshots[i], &fr, top);
		hg_frag_release(&fr);
	}
	if (im->at_rss_peak.taken) {
		if (json)
			rss_peak_json(j, im);
		else
			rss_peak_text(stdout, im);
	}
	if (json) {
		hg_json_end(j);
		hg_json_end(j);
	}
}

int hg_cmd_frag(int argc, char **argv)
{
	struct hg_view_args a = { "text", 5, 0, 0 };
	struct hg_replay *r;
	struct hg_framer *f;
	struct hg_json j;
	int rc = hg_view_args("frag", help, HG_VIEW_TOP | HG_VIEW_NAMES, argc, argv, &a);

	if (rc >= 0)
		return rc;
	f = hg_framer_new(); /* first: it opens modules as the replay reads them */
	if (!(r = hg_replay_file_flags(argv[optind], HG_REPLAY_SKIP_WORDS))) {
		hg_framer_free(f);
		return HG_EXIT_INPUT;
	}
	hg_json_init(&j, stdout);
	if (a.json)
		hg_json_begin_processes(&j, r);
	else
		hg_text_heading(stdout, "frag", r, "report");
	for (uint32_t i = 0; i < r->n_images; i++)
		image_out(a.json, &j, f, r, r->images[i], a.top);
	if (a.json)
		hg_json_end_processes(&j);
	return hg_report_done(r, f, 0);
}
