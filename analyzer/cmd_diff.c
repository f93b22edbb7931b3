/*
 * cmd_diff.c - `heapgraph diff`: what grew between two moments, as tracemalloc's compare_to
 *
 * Two moments of one trace (--from A --to B: snapshots, the peak, the end), or the ends (or
 * chosen moments) of two traces of the same program. Both sides are grouped the same way
 * (stats.h) and groups are matched by key: symbolized function, file, line and module, never
 * addresses, so two runs with different address layouts compare. With one trace each process
 * image is compared with itself. Two traces pair their images by lineage (lineage.h): where a
 * fork child's records land in the file depends on scheduling, so the k-th image of one trace
 * can be another child than the k-th of the other. An image with no counterpart is compared
 * with nothing and said to be only in its trace; root images of different programs are
 * compared all the same, after a warning.
 *
 * Exit status: 0, 2 for usage errors (also a moment that no process has), 3 when a trace
 * cannot be read or is damaged (the diff up to the damage is printed first).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "json.h"
#include "lineage.h"
#include "names.h"
#include "report.h"
#include "stats_cli.h"
#include "table.h"
#include "units.h"

static const char *const text_json[] = { "text", "json", NULL };

static const char help[] =
	"usage: heapgraph diff [options] TRACE --from A [--to B]\n"
	"       heapgraph diff [options] OLD NEW\n"
	"\n"
	"Compare what was live at two moments of one trace, or in two traces of the same\n"
	"program. Stacks are matched by their symbolized frames, not by address. Each group\n"
	"shows its size and count at the later moment and how they changed, largest change\n"
	"first, like tracemalloc's compare_to.\n"
	"\n"
	"Two traces pair their processes by lineage, whatever order scheduling wrote them in:\n"
	"the root with the root, then the children of a pair by how they began (fork, exec),\n"
	"command line (a fork child's is its parent's) and order of birth. A process with no\n"
	"counterpart is compared with nothing and shown as only in the old or the new trace.\n"
	"Traces of different programs (root executables) are compared after a warning.\n"
	"\n"
	"options:\n"
	"      --from A       the earlier moment (of OLD); required with one trace\n"
	"      --to B         the later moment (of NEW) (default: end)\n"
	"                     a moment is a snapshot label, #ID (heapgraph snapshots), peak or end\n"
	"  -g, --group-by KEY traceback (default), function, line, file or module\n"
	"      --cumulative   credit every frame of a stack (not with traceback)\n"
	"      --include PAT, --exclude PAT, --all-frames, --plumbing\n"
	"                     filters, as in 'heapgraph report --help'\n"
	"      --frames N     frames of a stack that count (default 12)\n"
	"      --full-names   C++ names in full (default: a template argument list of more\n"
	"                     than 20 characters reads <...>; JSON always has them in full)\n"
	"  -n, --top N        groups per process, 0 for all (default 10)\n"
	"  -f, --format FMT   text (default) or json (docs/JSON.md)\n"
	"  -h, --help         this text\n"
	"\n"
	"exit status: 0 ok, 2 usage error or unknown moment, 3 unreadable or damaged trace\n";

struct diff_args {
	struct hg_point_spec from, to;
	int have_from;
	struct hg_stats_opts stats;
	struct hg_filters filters;
	uint64_t top;
	const char *format;
	int two;              /* two traces: images are paired, not each compared with itself */
};

/* One group's change: its statistics at each moment (NULL where it had none). */
struct change {
	const struct hg_stat *a, *b;
	int64_t size_diff, count_diff;
};

enum { OPT_FROM = 256, OPT_TO, OPT_FRAMES };

static int parse_option(struct diff_args *a, int ch, char **argv)
{
	uint64_t v;
	int rc;

	if ((rc = hg_stats_option("diff", ch, optarg, &a->stats, &a->filters)) >= 0)
		return rc;
	switch (ch) {
	case OPT_FROM:
		a->have_from = 1;
		return hg_point_parse("diff", "--from", optarg, 0, &a->from);
	case OPT_TO: return hg_point_parse("diff", "--to", optarg, 0, &a->to);
	case OPT_FRAMES:
		if (hg_parse_u64("diff", "--frames", optarg, 1, 256, 0, &v))
			return HG_EXIT_USAGE;
		a->stats.max_frames = v;
		return 0;
	case 'n': return hg_parse_u64("diff", "--top", optarg, 0, UINT32_MAX, 0, &a->top);
	case HG_OPT_FULL_NAMES: hg_names_set_full(1); return 0;
	case 'f': a->format = optarg; return 0;
	default: return hg_bad_option("diff", ch, argv);
	}
}

static int parse(struct diff_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		HG_STATS_LONGOPTS,
		{ "frames", required_argument, NULL, OPT_FRAMES },
		HG_FULL_NAMES_LONGOPT,
		{ "top", required_argument, NULL, 'n' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *const *fmt;
	int ch, rc, n_traces;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":g:n:f:h", longopts, NULL)) != -1) {
		if (ch == 'h')
			return -1;
		if ((rc = parse_option(a, ch, argv)))
			return rc;
	}
	for (fmt = text_json; *fmt && strcmp(*fmt, a->format); fmt++)
		;
	if (!*fmt)
		return hg_usage_error("diff", "unknown format '%s' (text or json)", a->format);
	n_traces = argc - optind;
	if (n_traces < 1 || n_traces > 2)
		return hg_usage_error("diff", n_traces ? "one or two trace files, not %d" :
				      "no trace file given", n_traces);
	if (n_traces == 1 && !a->have_from)
		return hg_usage_error("diff", "one trace needs --from (and --to, default end)");
	return hg_stats_check("diff", &a->stats);
}

/* ---- the comparison ------------------------------------------------------------------- */

static int64_t sdiff(uint64_t b, uint64_t a)
{
	return (int64_t)(b - a);
}

static uint64_t mag(int64_t v)
{
	return v < 0 ? (uint64_t)-v : (uint64_t)v;
}

static int by_change(const void *x, const void *y)
{
	const struct change *p = x, *q = y;
	uint64_t pb = p->b ? p->b->bytes : 0, qb = q->b ? q->b->bytes : 0;

	if (mag(p->size_diff) != mag(q->size_diff))
		return mag(p->size_diff) > mag(q->size_diff) ? -1 : 1;
	if (mag(p->count_diff) != mag(q->count_diff))
		return mag(p->count_diff) > mag(q->count_diff) ? -1 : 1;
	if (pb != qb)
		return pb > qb ? -1 : 1;
	return strcmp(p->b ? p->b->key : p->a->key, q->b ? q->b->key : q->a->key);
}

/* Every group live at either moment, largest change first. The caller frees the array. */
static struct change *compare(const struct hg_stats *a, const struct hg_stats *b, size_t *n)
{
	struct change *v = hg_xmalloc(sizeof(*v) * (a->n + b->n + 1));

	*n = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct hg_stat *old = hg_stats_find(a, b->v[i]->key);
		v[(*n)++] = (struct change){ old && old->blocks ? old : NULL, b->v[i], 0, 0 };
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct hg_stat *now = hg_stats_find(b, a->v[i]->key);
		if (!now || !now->blocks)
			v[(*n)++] = (struct change){ a->v[i], NULL, 0, 0 };
	}
	for (size_t i = 0; i < *n; i++) {
		v[i].size_diff = sdiff(v[i].b ? v[i].b->bytes : 0, v[i].a ? v[i].a->bytes : 0);
		v[i].count_diff = sdiff(v[i].b ? v[i].b->blocks : 0, v[i].a ? v[i].a->blocks : 0);
	}
	qsort(v, *n, sizeof(*v), by_change);
	return v;
}

/* ---- output --------------------------------------------------------------------------- */

static char *signed_bytes(char *buf, size_t cap, int64_t v)
{
	char b[32];

	snprintf(buf, cap, "%c%s", v < 0 ? '-' : '+', hg_format_bytes(b, sizeof(b), mag(v)));
	return buf;
}

static char *signed_count(char *buf, size_t cap, int64_t v)
{
	char b[32];

	snprintf(buf, cap, "%c%s", v < 0 ? '-' : '+', hg_format_count(b, sizeof(b), mag(v)));
	return buf;
}

static void text_row(const struct change *c, size_t rank, int group_by)
{
	static const int w[5] = { 3, 10, 11, 8, 8 };
	const struct hg_stat *g = c->b ? c->b : c->a;
	char r[24], s[32], sd[32], n[32], nd[32], name[512];
	const char *cells[5] = { r, s, sd, n, nd };

	snprintf(r, sizeof(r), "%zu", rank);
	hg_format_bytes(s, sizeof(s), c->b ? c->b->bytes : 0);
	signed_bytes(sd, sizeof(sd), c->size_diff);
	hg_format_count(n, sizeof(n), c->b ? c->b->blocks : 0);
	signed_count(nd, sizeof(nd), c->count_diff);
	hg_stats_group_name(g, group_by, 1, name, sizeof(name));
	hg_table_row(stdout, "  ", w, 5, cells, name);
	if (group_by == HG_GROUP_TRACEBACK)
		hg_stats_text_more_frames(stdout, g, w, 5);
}

/* The process line, then with two traces what the image is compared with. */
static void text_head(const struct diff_args *a, const struct hg_image *old,
		      const struct hg_image *now)
{
	const struct hg_image *im = now ? now : old;

	printf("\nprocess %u (parent %u): %s\n", im->pid, im->ppid,
	       im->title);
	if (!a->two)
		return;
	if (old && now)
		printf("  compared with process %u of the old trace\n", old->pid);
	else
		printf("  only in the %s trace: the %s trace has no process in its place\n",
		       now ? "new" : "old", now ? "old" : "new");
}

static void text_pair(const struct diff_args *a, const struct hg_image *old,
		      const struct hg_image *now, const struct hg_stats *sa,
		      const struct hg_stats *sb, const struct change *v, size_t n)
{
	static const int w[5] = { 3, 10, 11, 8, 8 };
	static const char *const head[5] = { "#", "size", "change", "count", "change" };
	char pf[96], pt[96], x[32], y[32], d[32], c[32], nx[32], ny[32];
	size_t shown = a->top && a->top < n ? a->top : n;

	text_head(a, old, now);
	printf("  %s -> %s, by %s%s:\n  %s -> %s (%s), %s -> %s blocks (%s)\n",
	       hg_point_text(&a->from, pf, sizeof(pf)), hg_point_text(&a->to, pt, sizeof(pt)),
	       a->stats.cumulative ? "cumulative " : "", hg_group_by_name(a->stats.group_by),
	       hg_format_bytes(x, sizeof(x), sa->bytes), hg_format_bytes(y, sizeof(y), sb->bytes),
	       signed_bytes(d, sizeof(d), sdiff(sb->bytes, sa->bytes)),
	       hg_format_count(nx, sizeof(nx), sa->blocks),
	       hg_format_count(ny, sizeof(ny), sb->blocks),
	       signed_count(c, sizeof(c), sdiff(sb->blocks, sa->blocks)));
	if (n)
		hg_table_row(stdout, "  ", w, 5, head, hg_group_by_name(a->stats.group_by));
	for (size_t i = 0; i < shown; i++)
		text_row(&v[i], i + 1, a->stats.group_by);
}

/* The process fields (of its own trace), then with two traces what it is compared with. */
static void json_head(struct hg_json *j, const struct diff_args *a, const struct hg_replay *ro,
		      const struct hg_replay *rn, const struct hg_image *old,
		      const struct hg_image *now)
{
	hg_json_image_fields(j, now ? rn : ro, now ? now : old);
	if (!a->two)
		return;
	if (old && now) {
		hg_json_object(j, "old");
		hg_json_u64(j, "pid", old->pid);
		hg_json_str(j, "command", old->command);
		hg_json_end(j);
		hg_json_null(j, "only_in");
	} else {
		hg_json_str(j, "only_in", now ? "new" : "old");
	}
}

static void json_pair(struct hg_json *j, const struct diff_args *a, const struct hg_replay *ro,
		      const struct hg_replay *rn, const struct hg_image *old,
		      const struct hg_image *now, const struct hg_stats *sa,
		      const struct hg_stats *sb, const struct change *v, size_t n)
{
	hg_json_object(j, NULL);
	json_head(j, a, ro, rn, old, now);
	hg_json_object(j, "diff");
	hg_json_point(j, "from", &a->from);
	hg_json_point(j, "to", &a->to);
	hg_json_str(j, "group_by", hg_group_by_name(a->stats.group_by));
	hg_json_bool(j, "cumulative", a->stats.cumulative);
	hg_json_u64(j, "size_bytes", sb->bytes);
	hg_json_i64(j, "size_diff", sdiff(sb->bytes, sa->bytes));
	hg_json_u64(j, "count", sb->blocks);
	hg_json_i64(j, "count_diff", sdiff(sb->blocks, sa->blocks));
	hg_json_u64(j, "groups_total", n);
	hg_json_array(j, "groups");
	for (size_t i = 0; i < n && (!a->top || i < a->top); i++) {
		hg_json_object(j, NULL);
		hg_stats_json_group(j, v[i].b ? v[i].b : v[i].a, a->stats.group_by);
		hg_json_u64(j, "size_bytes", v[i].b ? v[i].b->bytes : 0);
		hg_json_i64(j, "size_diff", v[i].size_diff);
		hg_json_u64(j, "count", v[i].b ? v[i].b->blocks : 0);
		hg_json_i64(j, "count_diff", v[i].count_diff);
		hg_json_end(j);
	}
	hg_json_end(j);
	hg_json_end(j);
	hg_json_end(j);
}

/* Compare one pair of images (either may be NULL in a two-trace diff: compared with nothing). */
static void pair(struct hg_json *j, struct hg_framer *f, const struct diff_args *a,
		 const struct hg_replay *ro, const struct hg_replay *rn,
		 const struct hg_image *old, const struct hg_image *now)
{
	struct hg_stats sa, sb;
	struct change *v = NULL;
	size_t n = 0;
	int missing = hg_stats_build_at(&sa, f, old, &a->from, &a->stats, HG_ORDER_SIZE) < 0;

	missing |= hg_stats_build_at(&sb, f, now, &a->to, &a->stats, HG_ORDER_SIZE) < 0;
	if (!missing)
		v = compare(&sa, &sb, &n);
	if (missing && j) {
		hg_json_object(j, NULL);
		json_head(j, a, ro, rn, old, now);
		hg_json_null(j, "diff");
		hg_json_end(j);
	} else if (missing) {
		text_head(a, old, now);
		printf("  no such snapshot in this process\n");
	} else if (j) {
		json_pair(j, a, ro, rn, old, now, &sa, &sb, v, n);
	} else {
		text_pair(a, old, now, &sa, &sb, v, n);
	}
	free(v);
	hg_stats_release(&sa);
	hg_stats_release(&sb);
}

/* Two traces whose roots ran different executables: not two runs of one program. */
static void warn_if_other_program(const struct hg_replay *ro, const struct hg_replay *rn)
{
	const struct hg_image *a = hg_lineage_root(ro->images, ro->n_images);
	const struct hg_image *b = hg_lineage_root(rn->images, rn->n_images);
	const char *pa, *pb;
	size_t la, lb;

	if (!a || !b)
		return;
	pa = hg_lineage_program(a, &la);
	pb = hg_lineage_program(b, &lb);
	if (la == lb && !memcmp(pa, pb, la))
		return;
	hg_warning("different programs: '%s' traced '%.*s', '%s' traced '%.*s' (their processes "
		   "are compared all the same)", ro->path, (int)la, pa, rn->path, (int)lb, pb);
}

static void run_diff(struct hg_framer *f, const struct diff_args *a, const struct hg_replay *ro,
		     const struct hg_replay *rn)
{
	int json = !strcmp(a->format, "json");
	struct hg_image_pair *p = NULL;
	size_t n = rn->n_images;
	struct hg_json j;

	if (a->two) {
		warn_if_other_program(ro, rn);
		p = hg_lineage_pair(ro->images, ro->n_images, rn->images, rn->n_images, &n);
	}
	hg_json_init(&j, stdout);
	if (json) {
		hg_json_object(&j, NULL);
		hg_json_trace_fields(&j, rn);
		if (ro != rn)
			hg_json_str(&j, "old_trace", ro->path);
		hg_json_array(&j, "processes");
	} else if (ro == rn) {
		printf("heapgraph diff of '%s'\n", rn->path);
	} else {
		printf("heapgraph diff of '%s' (old) and '%s' (new)\n", ro->path, rn->path);
	}
	for (size_t i = 0; i < n; i++)
		pair(json ? &j : NULL, f, a, ro, rn, p ? p[i].old : rn->images[i],
		     p ? p[i].now : rn->images[i]);
	if (json)
		hg_json_end_processes(&j);
	free(p);
}

static int missing_point(const struct hg_replay *r, const struct hg_point_spec *p)
{
	char pt[96];

	if (hg_point_exists(r, p))
		return 0;
	hg_error("no %s in trace '%s' (heapgraph snapshots lists them)",
		 hg_point_text(p, pt, sizeof(pt)), r->path);
	return 1;
}

int hg_cmd_diff(int argc, char **argv)
{
	struct diff_args a;
	struct hg_point_spec both[2];
	struct hg_replay *ro = NULL, *rn = NULL;
	struct hg_framer *f = NULL;
	int rc, two;

	memset(&a, 0, sizeof(a));
	a.top = 10;
	a.format = "text";
	a.stats.max_frames = 12;
	a.stats.filters = &a.filters;
	if ((rc = parse(&a, argc, argv)))
		goto out;
	two = a.two = argc - optind == 2;
	both[0] = a.from;
	both[1] = a.to;
	rc = HG_EXIT_INPUT;
	f = hg_framer_new(); /* first: it opens modules as the replays read them */
	if (!(ro = hg_point_replay(argv[optind], both, two ? 1 : 2)))
		goto out;
	if (two && !(rn = hg_point_replay(argv[optind + 1], both + 1, 1)))
		goto out;
	rn = two ? rn : ro;
	rc = HG_EXIT_USAGE;
	if (missing_point(ro, &a.from) || missing_point(rn, &a.to))
		goto out;
	run_diff(f, &a, ro, rn);
	rc = 0;
	if (two) {
		if (ro->damage)
			hg_error("%s; diff covers the records before it", ro->damage);
		rc = ro->damage ? HG_EXIT_INPUT : 0;
		hg_replay_free(ro);
	}
	ro = NULL;
	rc = hg_report_done(rn, f, 0) ? HG_EXIT_INPUT : rc;
	rn = NULL;
	f = NULL;
out:
	if (ro != rn)
		hg_replay_free(rn);
	hg_replay_free(ro);
	hg_framer_free(f);
	hg_filters_release(&a.filters);
	return rc < 0 ? hg_print_help(help) : rc;
}
