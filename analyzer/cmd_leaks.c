/*
 * cmd_leaks.c - `heapgraph leaks`: what each process could no longer reach at its snapshot
 *
 * Exit status: 0; 2 for usage errors, a --pid or --snapshot that names nothing among them; 3
 * when the trace cannot be read or is damaged (the report of everything before the damage is
 * printed first).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "json.h"
#include "leaks.h"
#include "names.h"
#include "point.h"

static const char *const formats[] = { "text", "json", "dot", NULL };

static const char help[] =
	"usage: heapgraph leaks [options] TRACE\n"
	"\n"
	"Classify the blocks still allocated at a heap snapshot (taken at exit by default) the\n"
	"way a tracing collector would: reachable from the roots (globals, thread stacks and\n"
	"registers, thread-local storage), or garbage. Garbage is a direct leak (nothing leaked\n"
	"points to it), an indirect leak (reached from a direct leak or a leaked cycle), or part\n"
	"of a leaked cycle (blocks that point to each other, which reference counting never\n"
	"frees), shown with the edges that close it. Blocks reached only through pointers into\n"
	"their middle are reachable but flagged as possibly lost.\n"
	"\n"
	"options:\n"
	"  -f, --format FMT     text (default), json (docs/JSON.md) or dot (Graphviz, cycles)\n"
	"  -s, --snapshot LABEL the latest snapshot with this label, or #N the Nth of each\n"
	"                       process (default: each process's last)\n"
	"  -p, --pid N          only process N\n"
	"  -n, --top N          leak groups per process, 0 for all (default 20)\n"
	"      --frames N       frames per leak in text output (default 12)\n"
	"      --full-names     C++ names in full (default: a template argument list of\n"
	"                       more than 20 characters reads <...>)\n"
	"  -h, --help           this text\n"
	"\n"
	"exit status: 0 ok, 2 usage error or a --pid/--snapshot not in the trace, 3 unreadable or\n"
	"damaged trace\n"
	"\n"
	"environment of the traced program: HEAPGRAPH_SNAPSHOT=0 skips the exit snapshot;\n"
	"HEAPGRAPH_SNAPSHOT_SIGNAL=N takes one when signal N arrives; heapgraph_snapshot(label)\n"
	"(include/heapgraph.h) takes one from the program.\n";

struct leaks_args {
	const char *format;
	struct hg_point_spec snap; /* what --snapshot names: a label or #N (HG_POINT_SNAPSHOT),
				      or each process's last (HG_POINT_END, not given) */
	uint64_t pid;
	struct hg_leaks_opts o;
};

static int parse(int argc, char **argv, struct leaks_args *a)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "snapshot", required_argument, NULL, 's' },
		{ "pid", required_argument, NULL, 'p' },
		{ "top", required_argument, NULL, 'n' },
		{ "frames", required_argument, NULL, 'F' },
		HG_FULL_NAMES_LONGOPT,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t v;
	int ch, rc;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":f:s:p:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': a->format = optarg; break;
		case 's':
			if ((rc = hg_point_parse("leaks", "--snapshot", optarg, 0, &a->snap)))
				return rc;
			/* No points here but snapshots: "end" and "peak" are labels too. */
			if (a->snap.kind != HG_POINT_SNAPSHOT)
				a->snap = hg_point_snapshot(optarg);
			break;
		case 'p':
			if ((rc = hg_parse_u64("leaks", "--pid", optarg, 1, INT32_MAX, 0, &a->pid)))
				return rc;
			break;
		case 'n':
			if ((rc = hg_parse_u64("leaks", "--top", optarg, 0, UINT32_MAX, 0, &v)))
				return rc;
			a->o.top = v;
			break;
		case 'F':
			if ((rc = hg_parse_u64("leaks", "--frames", optarg, 1, 256, 0, &v)))
				return rc;
			a->o.max_frames = v;
			break;
		case HG_OPT_FULL_NAMES: hg_names_set_full(1); break;
		case 'h': return -1;
		default: return hg_bad_option("leaks", ch, argv);
		}
	}
	return hg_check_trace_args("leaks", a->format, formats, "text, json or dot", argc);
}

/* Whether --snapshot chose a snapshot (else each process's last). */
static int given(const struct leaks_args *a)
{
	return a->snap.kind == HG_POINT_SNAPSHOT;
}

/*
 * The latest complete snapshot with this label (any label without one). A snapshot whose end
 * a damaged trace cut off lacks regions and words: classifying with what remains would call
 * reachable blocks leaked. *cut is set when a later one was cut off.
 */
static const struct hg_snapshot *pick(const struct hg_image *im, const struct leaks_args *a,
				      const struct hg_snapshot **cut)
{
	*cut = NULL;
	for (uint32_t i = im->n_snapshots; i-- > 0;) {
		const struct hg_snapshot *sn = im->snapshots[i];

		if (given(a) && !hg_point_names(&a->snap, sn))
			continue;
		if (sn->complete)
			return sn;
		if (!*cut)
			*cut = sn;
	}
	return NULL;
}

#define ASKED_MAX 320 /* what asked() writes, a long label cut short */

/* "snapshot #N" or "snapshot labelled 'LABEL'": what --snapshot asked for. */
static const char *asked(const struct leaks_args *a, char *buf, size_t cap)
{
	if (!a->snap.label)
		snprintf(buf, cap, "snapshot #%u", a->snap.id);
	else
		snprintf(buf, cap, "snapshot labelled '%s'", a->snap.label);
	return buf;
}

static void no_snapshot(const struct leaks_args *a, struct hg_json *j, const struct hg_replay *r,
			const struct hg_image *im, const struct hg_snapshot *cut)
{
	char why[HG_SNAPSHOT_WHY_BYTES], what[ASKED_MAX];

	if (!strcmp(a->format, "json")) {
		hg_json_object(j, NULL);
		hg_json_image_fields(j, r, im);
		hg_json_null(j, "snapshot");
		hg_json_end(j);
	} else if (!strcmp(a->format, "text") && cut) {
		printf("\nprocess %u (parent %u): %s\n  snapshot '%s' %s: its blocks cannot be "
		       "classified\n", im->pid, im->ppid, im->title,
		       cut->label, hg_snapshot_cut_text(r, im, why, sizeof(why)));
	} else if (!strcmp(a->format, "text")) {
		printf("\nprocess %u (parent %u): %s\n", im->pid, im->ppid,
		       im->title);
		if (given(a))
			printf("  no %s\n", asked(a, what, sizeof(what)));
		else
			printf("  no snapshot: %s\n", hg_snapshot_missing_text(im, why, sizeof(why)));
	}
}

/*
 * The images' classified snapshots, by file_order: each image is classified once the replay
 * has read all of it, which then sheds its snapshots' live sets and pairs, so that a trace of
 * a program that forked many large children needs the memory of one of them at a time.
 */
struct found_all {
	const struct leaks_args *a;
	struct hg_leaks_found *by_order; /* sn NULL: not classified (not asked for, or no usable
					    snapshot) */
	size_t cap;
};

static void image_done(void *arg, struct hg_image *im)
{
	struct found_all *fa = arg;
	const struct hg_snapshot *cut, *sn;
	struct hg_graph g;

	if ((!fa->a->pid || im->pid == fa->a->pid) && (sn = pick(im, fa->a, &cut)) &&
	    hg_graph_build(&g, sn) == 0) {
		HG_GROW(fa->by_order, fa->cap, (size_t)im->file_order + 1); /* zeroed */
		hg_leaks_found_take(&fa->by_order[im->file_order], &g);
		hg_graph_release(&g);
	}
}

static void found_free(struct found_all *fa)
{
	for (size_t i = 0; i < fa->cap; i++)
		hg_leaks_found_release(&fa->by_order[i]);
	free(fa->by_order);
}

static void one_image(const struct leaks_args *a, struct hg_json *j, struct hg_framer *f,
		      const struct hg_replay *r, const struct hg_image *im,
		      const struct found_all *fa)
{
	const struct hg_leaks_found *lf = im->file_order < fa->cap &&
		fa->by_order[im->file_order].sn ? &fa->by_order[im->file_order] : NULL;
	const struct hg_snapshot *cut;

	if (!lf) {
		pick(im, a, &cut);
		no_snapshot(a, j, r, im, cut);
	} else if (!strcmp(a->format, "json")) {
		hg_leaks_json(j, f, r, im, lf, &a->o);
	} else if (!strcmp(a->format, "dot")) {
		hg_leaks_dot(stdout, f, im, lf);
	} else {
		hg_leaks_text(stdout, f, im, lf, &a->o);
	}
}

/* Whether the --pid and --snapshot asked for name something in r; else says what does not. */
static int selection_exists(const struct leaks_args *a, const struct hg_replay *r)
{
	const struct hg_snapshot *cut;
	char what[ASKED_MAX];
	int pid_seen = 0;

	for (uint32_t i = 0; i < r->n_images; i++) {
		if (a->pid && r->images[i]->pid != a->pid)
			continue;
		pid_seen = 1;
		/* A snapshot cut off exists: one_image says what became of it. */
		if (!given(a) || pick(r->images[i], a, &cut) || cut)
			return 1;
	}
	if (a->pid && !pid_seen)
		hg_error("no process %llu in trace '%s' (heapgraph report lists them)",
			 (unsigned long long)a->pid, r->path);
	else if (given(a))
		hg_error("no %s%s in trace '%s' (heapgraph snapshots lists them)",
			 asked(a, what, sizeof(what)), a->pid ? " of that process" : "", r->path);
	return given(a) || a->pid ? 0 : 1;
}

int hg_cmd_leaks(int argc, char **argv)
{
	struct leaks_args a = { "text", { 0 }, 0, { 20, 12 } };
	struct found_all fa = { &a, NULL, 0 };
	struct hg_replay *r;
	struct hg_framer *f;
	struct hg_json j;
	int rc = parse(argc, argv, &a);

	if (rc < 0)
		return hg_print_help(help);
	if (rc)
		return rc;
	f = hg_framer_new(); /* first: it opens modules as the replay reads them */
	if (!(r = hg_replay_file_each(argv[optind], 0, image_done, &fa))) {
		hg_framer_free(f);
		return HG_EXIT_INPUT;
	}
	if (r->n_images && !selection_exists(&a, r)) {
		found_free(&fa);
		hg_report_done(r, f, 0);
		return HG_EXIT_USAGE;
	}
	hg_json_init(&j, stdout);
	if (!strcmp(a.format, "json")) {
		hg_json_begin_processes(&j, r);
	} else if (!strcmp(a.format, "dot")) {
		printf("digraph leaks {\n  node [shape=box, fontname=monospace];\n");
	} else {
		hg_text_heading(stdout, "leaks", r, "report");
	}
	for (uint32_t i = 0; i < r->n_images; i++)
		if (!a.pid || r->images[i]->pid == a.pid)
			one_image(&a, &j, f, r, r->images[i], &fa);
	if (!strcmp(a.format, "json")) {
		hg_json_end_processes(&j);
	} else if (!strcmp(a.format, "dot")) {
		printf("}\n");
	}
	found_free(&fa);
	return hg_report_done(r, f, 0);
}
