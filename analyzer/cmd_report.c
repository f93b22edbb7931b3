/*
 * cmd_report.c - `heapgraph report`: totals and live sites of every process in a trace
 *
 * Without statistics options the report lists the sites (stacks) live at the end, as it
 * always did. Any of --group-by, --cumulative, --at, --snapshot, --include, --exclude,
 * --all-frames, --plumbing, --sort or --histogram turns it into statistics (stats.h): groups
 * at a chosen moment, filtered, in an aligned table (JSON: a "statistics" object per process).
 *
 * Exit status: 0, 2 for usage errors (also a --snapshot label no process has), 3 when the
 * trace cannot be read or is damaged (the report of everything before the damage is printed
 * first).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "names.h"
#include "report.h"
#include "stats_cli.h"

static const char *const text_json[] = { "text", "json", NULL };

static const char help[] =
	"usage: heapgraph report [options] TRACE\n"
	"\n"
	"For each process image in TRACE (forked children and exec'd programs each have their\n"
	"own): allocations, frees, bytes, the peak of live bytes and when it happened, what was\n"
	"still live at the end, and the sites (call stacks) holding it, largest first; then the\n"
	"anonymous mappings the program made itself with mmap, outside malloc (an interpreter's\n"
	"arenas), with their own peak and sites.\n"
	"\n"
	"options:\n"
	"  -f, --format FMT   text (default) or json (contract: docs/JSON.md)\n"
	"  -n, --top N        sites (groups) per process, 0 for all (default 10)\n"
	"      --frames N     frames per site in text output; with statistics, frames of a\n"
	"                     stack that count (traceback keys, cumulative credit) (default 12)\n"
	"      --full-names   C++ names in full (default: a template argument list of more\n"
	"                     than 20 characters reads <...>; JSON always has them in full)\n"
	"  -h, --help         this text\n"
	"\n"
	"statistics (as Python's tracemalloc; any of these turns them on):\n"
	"  -g, --group-by KEY traceback (default), function, line, file or module\n"
	"      --cumulative   credit every frame of a stack, not only the innermost\n"
	"                     (not with traceback; a frame repeated by recursion counts once)\n"
	"      --at POINT     end (default), peak, or a time after the process started:\n"
	"                     500ms, 2s, 1.5m (the state after every event up to then)\n"
	"  -s, --snapshot L   the latest snapshot labelled L, or #ID (see heapgraph snapshots)\n"
	"      --include PAT  keep only stacks that match (repeatable; any one is enough)\n"
	"      --exclude PAT  drop stacks that match (repeatable)\n"
	"                     PAT is an fnmatch pattern on a frame's function, source file or\n"
	"                     module, or on one of them: function:PAT, file:PAT, module:PAT\n"
	"      --all-frames   patterns look at every frame (default: the innermost only)\n"
	"      --plumbing     keep the allocator's own frames (libc, libstdc++, ld.so, the\n"
	"                     shim); by default they are dropped so the first frame is the caller\n"
	"                     (and --cumulative credits no libc frame, nor _start)\n"
	"      --sort ORDER   size (default), count (live blocks), allocations (hot spots over\n"
	"                     the whole run, by count), allocated (the same by bytes) or\n"
	"                     temporary (allocations freed before their thread allocated\n"
	"                     anything else); the last three only at the end\n"
	"      --histogram    the allocation size histogram (powers of two) of each process\n"
	"\n"
	"exit status: 0 ok, 2 usage error or unknown snapshot, 3 unreadable or damaged trace\n"
	"(the report of the records before the damage is printed first)\n";

struct report_args {
	struct hg_report_opts o;
	struct hg_stats_report sr;
	struct hg_filters filters;
	const char *format;
	int stats, have_at, have_snapshot;
};

enum { OPT_FRAMES = 256, OPT_AT, OPT_SORT, OPT_HISTOGRAM };

static int stats_option(struct report_args *a, int ch)
{
	int v;

	a->stats = 1;
	if ((v = hg_stats_option("report", ch, optarg, &a->sr.stats, &a->filters)) >= 0)
		return v;
	switch (ch) {
	case OPT_SORT:
		if ((v = hg_stats_order_parse(optarg)) < 0)
			return hg_usage_error("report", "unknown --sort '%s' (size, count, allocations, "
					      "allocated or temporary)", optarg);
		a->sr.order = v;
		return 0;
	case OPT_AT:
		a->have_at = 1;
		return hg_point_parse("report", "--at", optarg, 1, &a->sr.point);
	case 's':
		a->have_snapshot = 1;
		if (optarg[0] == '#')
			return hg_point_parse("report", "--snapshot", optarg, 0, &a->sr.point);
		if (!*optarg)
			return hg_usage_error("report", "empty snapshot label for --snapshot");
		a->sr.point = hg_point_snapshot(optarg);
		return 0;
	default: a->sr.histogram = 1; return 0;
	}
}

/* Combinations that mean nothing. */
static int check_stats(const struct report_args *a)
{
	int rc = hg_stats_check("report", &a->sr.stats);

	if (rc)
		return rc;
	if (a->have_at && a->have_snapshot)
		return hg_usage_error("report", "--at and --snapshot both choose the moment; "
				      "give one");
	if (a->sr.order >= HG_ORDER_ALLOCATIONS && (a->have_at || a->have_snapshot))
		return hg_usage_error("report", "--sort %s counts the whole run; it takes no --at "
				      "or --snapshot", hg_stats_order_name(a->sr.order));
	return 0;
}

static int parse(struct report_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "top", required_argument, NULL, 'n' },
		{ "frames", required_argument, NULL, OPT_FRAMES },
		HG_FULL_NAMES_LONGOPT,
		HG_STATS_LONGOPTS,
		{ "at", required_argument, NULL, OPT_AT },
		{ "snapshot", required_argument, NULL, 's' },
		{ "sort", required_argument, NULL, OPT_SORT },
		{ "histogram", no_argument, NULL, OPT_HISTOGRAM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t v;
	int ch, rc;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":f:n:g:s:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': a->format = optarg; break;
		case 'n':
			if ((rc = hg_parse_u64("report", "--top", optarg, 0, UINT32_MAX, 0, &v)))
				return rc;
			a->o.top = v;
			break;
		case OPT_FRAMES:
			if ((rc = hg_parse_u64("report", "--frames", optarg, 1, 256, 0, &v)))
				return rc;
			a->o.max_frames = v;
			break;
		case HG_OPT_FULL_NAMES: hg_names_set_full(1); break;
		case 'h': return -1;
		case 's': case OPT_AT: case OPT_SORT: case OPT_HISTOGRAM: case HG_OPT_GROUP_BY:
		case HG_OPT_CUMULATIVE: case HG_OPT_INCLUDE: case HG_OPT_EXCLUDE:
		case HG_OPT_ALL_FRAMES: case HG_OPT_PLUMBING:
			if ((rc = stats_option(a, ch)))
				return rc;
			break;
		default: return hg_bad_option("report", ch, argv);
		}
	}
	if ((rc = hg_check_trace_args("report", a->format, text_json, "text or json", argc)))
		return rc;
	return a->stats ? check_stats(a) : 0;
}

int hg_cmd_report(int argc, char **argv)
{
	struct report_args a;
	struct hg_replay *r;
	struct hg_framer *f;
	int rc;

	memset(&a, 0, sizeof(a));
	a.o.top = 10;
	a.o.max_frames = 12;
	a.format = "text";
	if ((rc = parse(&a, argc, argv))) {
		hg_filters_release(&a.filters);
		return rc < 0 ? hg_print_help(help) : rc;
	}
	a.sr.stats.max_frames = a.o.max_frames;
	a.sr.stats.filters = &a.filters;
	a.o.stats = a.stats ? &a.sr : NULL;
	f = hg_framer_new(); /* first: it opens modules as the replay reads them */
	if (!(r = hg_point_replay(argv[optind], &a.sr.point, 1))) {
		hg_framer_free(f);
		hg_filters_release(&a.filters);
		return HG_EXIT_INPUT;
	}
	if (!hg_point_exists(r, &a.sr.point)) {
		char pt[96];
		rc = hg_error("no %s in trace '%s' (heapgraph snapshots lists them)",
			      hg_point_text(&a.sr.point, pt, sizeof(pt)), r->path);
		hg_report_done(r, f, 0);
		hg_filters_release(&a.filters);
		return HG_EXIT_USAGE;
	}
	rc = strcmp(a.format, "json") ? hg_report_text(r, f, &a.o, stdout)
				      : hg_report_json(r, f, &a.o, stdout);
	rc = hg_report_done(r, f, rc);
	hg_filters_release(&a.filters);
	return rc;
}
