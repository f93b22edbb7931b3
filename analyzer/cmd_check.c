/*
 * cmd_check.c - `heapgraph check`: the CI leak gate, recording a program or reading a trace
 *
 * With `-- PROG ARGS...` it records exactly as `heapgraph record` does (hg_record_run, into a
 * temporary trace unless -o keeps one), then checks the trace; with `TRACE` it checks an
 * existing one. The gate's rules and report are in gate.c and gate_text.c, the CI files
 * in ci_output.c. The report goes to stderr, like a sanitizer's, so that the program's stdout
 * stays its own; GitHub annotations go to stdout, where the runner reads them.
 *
 * Exit status, first that applies: 2 usage error; the gate code (--error-exitcode, default 23)
 * when any process fails the gate; the program's own status when it failed (its exit code, or
 * 128+N when signal N killed it; in TRACE mode as the trace recorded it); 3 when the trace,
 * a suppression or baseline file, or an output file could not be read or written, or the
 * trace is damaged (checked up to the damage); 0.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "cli.h"
#include "diag.h"
#include "graph.h"
#include "hg_format.h"
#include "leaks.h"
#include "lineage.h"
#include "names.h"
#include "record.h"
#include "report.h"
#include "units.h"

static const char help[] =
	"usage: heapgraph check [options] -- PROG [ARGS...]\n"
	"       heapgraph check [options] TRACE\n"
	"\n"
	"Fail the build on a leak. Records PROG and everything it starts (as 'heapgraph record'\n"
	"does), or reads TRACE, and classifies what each process still held at exit. A process\n"
	"fails the gate when its leaks of the --fail-on kinds, less suppressions and baseline,\n"
	"exceed --max-leaked-bytes, or its peak heap exceeds --max-peak. The report goes to\n"
	"stderr: failing processes with each leak site and its stack, then the others, then the\n"
	"suppressions used with their counts.\n"
	"\n"
	"options:\n"
	"      --fail-on KINDS        comma-separated: direct, indirect, cycle, reachable\n"
	"                             (reachable includes possibly), possibly, all\n"
	"                             (default direct,indirect,cycle)\n"
	"      --max-leaked-bytes N   fail only when a process's leaks exceed N bytes (default 0)\n"
	"      --max-peak SIZE        fail a process whose heap peak exceeds SIZE (K, M, G)\n"
	"      --suppressions FILE    'leak:PATTERN' lines, LeakSanitizer's syntax (repeatable)\n"
	"      --no-builtin-suppressions  also report the C runtime's one-time allocations\n"
	"      --baseline FILE        fail only on leak sites that are not in FILE or grew\n"
	"      --write-baseline FILE  write today's leak sites to FILE\n"
	"      --junit FILE           JUnit XML: a test case per process, a failure per site\n"
	"      --sarif FILE           SARIF 2.1.0: a result per site, at the first user frame\n"
	"      --error-exitcode N     exit status when the gate fails, 0-255 (default 23)\n"
	"  -o, --output FILE          keep the trace of PROG in FILE (default: a temporary file)\n"
	"  -d, --depth N              call-stack frames to record, 1-256 (default 64)\n"
	"      --time-resolution D    round event times to D when recording (default: exact, so\n"
	"                             that blocks threads hand over within a tick are not\n"
	"                             miscounted; see 'record --help')\n"
	"      --frames N             frames per leak site in the report (default 12)\n"
	"      --full-names           C++ names in full in the report (default: a template\n"
	"                             argument list of more than 20 characters reads <...>)\n"
	"  -q, --quiet                report only failing processes and the verdict\n"
	"  -h, --help                 this text\n"
	"\n"
	"exit status: 0 clean; the --error-exitcode code (23) when the gate fails, whatever else\n"
	"happened; otherwise the program's own status when it failed (its exit code, 128+N when\n"
	"signal N killed it), reported on stderr as its failure, not a leak; 2 usage error; 3 an\n"
	"unreadable or damaged trace (checked up to the damage), a trace of no process (nothing\n"
	"was traced: a static program) or of none that could be checked, or a file that cannot\n"
	"be read or written.\n"
	"\n"
	"environment: GITHUB_ACTIONS=true adds '::error file=F,line=L::...' annotations on stdout.\n";

struct check_args {
	const char *output, *baseline, *write_baseline, *junit, *sarif;
	const char **supp_files;
	size_t n_supp;
	int builtin, program_mode, gate_code, quiet;
	uint32_t depth;
	uint32_t time_resolution_ns; /* 0: exact */
	size_t max_frames;
	struct hg_check_rules rules;
};

enum { O_FAIL_ON = 256, O_MAX_LEAKED, O_MAX_PEAK, O_SUPP, O_NO_BUILTIN, O_BASELINE, O_WRITE_BASE,
       O_JUNIT, O_SARIF, O_EXITCODE, O_FRAMES, O_TIME_RES };

/* "direct,cycle" -> kind bits. Returns 0, or the usage code. */
static int parse_kinds(const char *text, unsigned *out)
{
	static const struct { const char *name; unsigned bits; } names[] = {
		{ "direct", HG_KIND_BIT(HG_DIRECT) },
		{ "indirect", HG_KIND_BIT(HG_INDIRECT) },
		{ "cycle", HG_KIND_BIT(HG_CYCLE) },
		{ "reachable", HG_KIND_BIT(HG_REACHABLE) | HG_KIND_BIT(HG_POSSIBLY) },
		{ "possibly", HG_KIND_BIT(HG_POSSIBLY) },
		{ "all", HG_LEAK_KINDS | HG_KIND_BIT(HG_REACHABLE) | HG_KIND_BIT(HG_POSSIBLY) },
	};
	const char *p = text;

	*out = 0;
	while (*p) {
		size_t len = strcspn(p, ","), i = 0;
		while (i < HG_ARRAY_SIZE(names) &&
		       (strlen(names[i].name) != len || strncmp(names[i].name, p, len)))
			i++;
		if (i == HG_ARRAY_SIZE(names))
			return hg_usage_error("check", "unknown kind '%.*s' in --fail-on (direct, "
					      "indirect, cycle, reachable, possibly or all)",
					      (int)len, p);
		*out |= names[i].bits;
		p += len + (p[len] == ',');
	}
	return *out ? 0 : hg_usage_error("check", "--fail-on needs at least one kind");
}

static int parse_value(struct check_args *a, int ch, const char *arg)
{
	uint64_t v;
	int rc = 0;

	switch (ch) {
	case O_FAIL_ON: return parse_kinds(arg, &a->rules.fail_on);
	case O_MAX_LEAKED:
		return hg_parse_u64("check", "--max-leaked-bytes", arg, 0, UINT64_MAX, 1,
				    &a->rules.max_leaked_bytes);
	case O_MAX_PEAK:
		return hg_parse_u64("check", "--max-peak", arg, 0, UINT64_MAX - 1, 1,
				    &a->rules.max_peak_bytes);
	case O_EXITCODE:
		if (!(rc = hg_parse_u64("check", "--error-exitcode", arg, 0, 255, 0, &v)))
			a->gate_code = (int)v;
		return rc;
	case 'd':
		if (!(rc = hg_parse_u64("check", "--depth", arg, 1, HG_MAX_FRAMES, 0, &v)))
			a->depth = (uint32_t)v;
		return rc;
	case O_FRAMES:
		if (!(rc = hg_parse_u64("check", "--frames", arg, 1, 256, 0, &v)))
			a->max_frames = v;
		return rc;
	case O_TIME_RES: return hg_parse_time_resolution("check", arg, &a->time_resolution_ns);
	case O_SUPP:
		a->supp_files = hg_xrealloc(a->supp_files, sizeof(char *) * (a->n_supp + 1));
		a->supp_files[a->n_supp++] = arg;
		return 0;
	}
	return 0;
}

static int parse(int argc, char **argv, struct check_args *a)
{
	static const struct option longopts[] = {
		{ "fail-on", required_argument, NULL, O_FAIL_ON },
		{ "max-leaked-bytes", required_argument, NULL, O_MAX_LEAKED },
		{ "max-peak", required_argument, NULL, O_MAX_PEAK },
		{ "suppressions", required_argument, NULL, O_SUPP },
		{ "no-builtin-suppressions", no_argument, NULL, O_NO_BUILTIN },
		{ "baseline", required_argument, NULL, O_BASELINE },
		{ "write-baseline", required_argument, NULL, O_WRITE_BASE },
		{ "junit", required_argument, NULL, O_JUNIT },
		{ "sarif", required_argument, NULL, O_SARIF },
		{ "error-exitcode", required_argument, NULL, O_EXITCODE },
		{ "output", required_argument, NULL, 'o' },
		{ "depth", required_argument, NULL, 'd' },
		{ "frames", required_argument, NULL, O_FRAMES },
		HG_FULL_NAMES_LONGOPT,
		{ "time-resolution", required_argument, NULL, O_TIME_RES },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, rc, trace_at = 0;

	opterr = 0;
	optind = 1;
	/* Options stop at '--' (a program follows) but not at a trace: options may follow it. */
	while ((ch = getopt_long(argc, argv, "+:o:d:qh", longopts, NULL)) != -1 ||
	       (optind < argc && strcmp(argv[optind - 1], "--") && !trace_at &&
		(ch = 0, trace_at = optind++))) {
		switch (ch) {
		case 0: break; /* the trace, taken */
		case 'h': return -1;
		case 'o': a->output = optarg; break;
		case 'q': a->quiet = 1; break;
		case HG_OPT_FULL_NAMES: hg_names_set_full(1); break;
		case O_NO_BUILTIN: a->builtin = 0; break;
		case O_BASELINE: a->baseline = optarg; break;
		case O_WRITE_BASE: a->write_baseline = optarg; break;
		case O_JUNIT: a->junit = optarg; break;
		case O_SARIF: a->sarif = optarg; break;
		case '?': case ':': return hg_bad_option("check", ch, argv);
		default:
			if ((rc = parse_value(a, ch, optarg)))
				return rc;
		}
	}
	a->program_mode = optind > 1 && !strcmp(argv[optind - 1], "--");
	if (trace_at && (a->program_mode || optind < argc))
		return hg_usage_error("check", "one trace file at a time (put '--' before a "
				      "program and its arguments)");
	if (trace_at)
		optind = trace_at;
	if (optind >= argc)
		return hg_usage_error("check", a->program_mode ? "no program given after '--'" :
				      "no trace or program given (usage: heapgraph check [options] "
				      "-- PROG [ARGS...] or heapgraph check [options] TRACE)");
	if (!a->program_mode && (a->output || a->depth || a->time_resolution_ns))
		return hg_usage_error("check", "%s applies only to recording a program "
				      "('-- PROG ARGS...')", a->output ? "--output" :
				      a->depth ? "--depth" : "--time-resolution");
	return 0;
}

/* The suppressions and baseline the rules use. Returns 0, or -1 (reported). */
static int load_inputs(struct check_args *a, struct hg_suppressions *supp,
		       struct hg_baseline *base)
{
	if (a->builtin)
		hg_suppressions_add_builtin(supp);
	for (size_t i = 0; i < a->n_supp; i++)
		if (hg_suppressions_load(supp, a->supp_files[i]) < 0)
			return -1;
	if (a->baseline && hg_baseline_load(base, a->baseline) < 0)
		return -1;
	a->rules.supp = supp;
	a->rules.baseline = a->baseline ? base : NULL;
	return 0;
}

/*
 * Record PROG into a->output or a temporary file (its path in `path`; *temp set). Returns 0
 * with *status; 1 when PROG could not be executed (reported; *status holds 127 or 126, no
 * trace is left); -1 when nothing could be recorded (reported).
 */
static int record(struct check_args *a, char **prog, char *path, size_t cap, int *temp,
		  int *status)
{
	struct hg_collector_opts ring = HG_RECORD_DEFAULT_RING;
	const char *dir = getenv("TMPDIR");
	int fd;

	ring.max_frames = a->depth;
	/* Exact times unless asked: the gate's verdict must not depend on the order of
	 * hand-overs between threads within one tick. */
	ring.time_resolution_ns = a->time_resolution_ns ? a->time_resolution_ns : 1;
	*temp = !a->output;
	if (*temp) {
		snprintf(path, cap, "%s/heapgraph-check-XXXXXX.hgt", dir && *dir ? dir : "/tmp");
		if ((fd = mkstemps(path, 4)) < 0)
			return hg_error("cannot create a temporary trace '%s': %s", path,
					strerror(errno));
		close(fd);
	}
	switch (hg_record_run(&ring, a->output ? a->output : path, prog, *temp, path, cap,
			      status)) {
	case 0:
		return 0;
	case 1:
		return 1; /* the trace, even a temporary one, is gone already */
	default:
		if (*temp)
			unlink(path);
		return -1;
	}
}

/* The program's own process as it ended: the earliest-born root image (a child's records can
 * reach the file first), or the last image its pid exec'd. */
static const struct hg_image *root_image(const struct hg_replay *r)
{
	const struct hg_image *root = hg_lineage_root(r->images, r->n_images);

	for (uint32_t i = 0; root && i < r->n_images; i++)
		if (r->images[i]->pid == root->pid && r->images[i]->exec &&
		    r->images[i]->t_start_ns > root->t_start_ns)
			root = r->images[i];
	return root;
}

/* The traced program's status in TRACE mode, as its root image recorded it. Returns a wait
 * status, or -1 when the trace does not say. */
static int root_status(const struct hg_image *root)
{
	if (!root || (root->end_kind != HG_END_CODE && root->end_kind != HG_END_SIGNAL))
		return -1;
	return root->end_kind == HG_END_CODE ? (root->exit_status & 0xff) << 8 :
	       root->exit_status & 0x7f;
}

/* Say on stderr that the program failed on its own. Returns its exit code, or 0. */
static int program_failure(const char *what, int status)
{
	int code = status < 0 ? 0 : hg_record_exit_code(status);

	if (!code)
		return 0;
	if (code > 128 && code - 128 < NSIG && !(status & 0xff00))
		hg_note("'%s' was killed by signal %d (SIG%s): the program's own failure, not a "
			"leak", what, code - 128, sigabbrev_np(code - 128) ?
			sigabbrev_np(code - 128) : "?");
	else
		hg_note("'%s' exited with code %d: the program's own failure, not a leak", what,
			code);
	return code;
}

/* Write the requested output files. Returns 0, or -1 when one failed (reported). */
static int outputs(const struct check_args *a, const struct hg_check_result *res)
{
	const char *gh = getenv("GITHUB_ACTIONS");
	int rc = 0;

	if (a->junit && hg_check_junit(a->junit, res, a->rules.max_peak_bytes) < 0)
		rc = -1;
	if (a->sarif && hg_check_sarif(a->sarif, res, a->rules.max_peak_bytes) < 0)
		rc = -1;
	if (a->write_baseline) {
		struct hg_baseline b;
		hg_baseline_init(&b);
		hg_check_to_baseline(res, &b);
		if (hg_baseline_save(&b, a->write_baseline) < 0)
			rc = -1;
		hg_baseline_release(&b);
	}
	if (gh && !strcmp(gh, "true")) {
		hg_check_github(stdout, res, a->rules.max_peak_bytes);
		if (fflush(stdout) != 0)
			rc = hg_error("cannot write annotations to standard output");
	}
	return rc;
}

/* Whether a process went unchecked for a malloc of its own (its heap unseen). */
static int any_foreign(const struct hg_check_result *res)
{
	for (size_t i = 0; i < res->n_procs; i++)
		if (res->procs[i].listed && res->procs[i].im->foreign_malloc)
			return 1;
	return 0;
}

/* Events the tracer could not record: the trace's and each process's. */
static uint64_t lost_events(const struct hg_replay *r)
{
	uint64_t n = r->lost_events;

	for (uint32_t i = 0; i < r->n_images; i++)
		n += r->images[i]->totals.lost_events;
	return n;
}

/*
 * The last line. "passed" only when nothing stands in the way: a damaged trace checks what
 * came before the damage, and a program that failed by itself fails the step anyway.
 */
static void verdict(const struct check_args *a, const struct hg_check_result *res, int damaged,
		    int program_failed, int outputs_failed, uint64_t lost)
{
	size_t checked = res->n_listed - res->n_unchecked;
	char unchecked[128] = "";
	int n = 0;

	if (res->n_unchecked)
		n = snprintf(unchecked, sizeof(unchecked), ", %zu not checked", res->n_unchecked);
	if (lost && n >= 0 && (size_t)n < sizeof(unchecked))
		snprintf(unchecked + n, sizeof(unchecked) - (size_t)n, ", %llu event%s lost",
			 (unsigned long long)lost, hg_plural(lost));
	if (res->n_failed)
		hg_note("check failed: %zu of %zu process%s (%zu leak site%s, %llu bytes)%s; exit "
			"status %d", res->n_failed, res->n_listed, res->n_listed == 1 ? "" : "es",
			res->n_counted, hg_plural(res->n_counted),
			(unsigned long long)res->counted_bytes, unchecked, a->gate_code);
	else if (damaged)
		hg_note("check incomplete: no leak in the %zu process%s checked before the damage%s",
			checked, checked == 1 ? "" : "es", unchecked);
	else if (!res->n_listed)
		hg_note("check incomplete: no process was traced, so none was checked");
	else if (!checked)
		hg_note("check incomplete: no process could be checked (%zu traced, none with an "
			"exit snapshot%s)", res->n_listed,
			any_foreign(res) ? " of a heap the tracer saw" : "");
	else if (outputs_failed)
		hg_note("check incomplete: no leak in %zu process%s checked%s, but an output file "
			"could not be written (see above)", checked, checked == 1 ? "" : "es",
			unchecked);
	else if (program_failed)
		hg_note("no leak in %zu process%s checked%s, but the program failed (see above)",
			checked, checked == 1 ? "" : "es", unchecked);
	else
		hg_note("check passed: %zu process%s checked%s", checked, checked == 1 ? "" : "es",
			unchecked);
}

/*
 * Check the trace at path: report, outputs, the program's own failure (*code: its exit code,
 * or 0), the verdict. *gate gets whether the gate failed. Returns 0, or -1 for an input or
 * output problem (reported; the report up to any damage printed).
 */
static int check_trace(struct check_args *a, const char *path, const char *what, int status,
		       int *gate, int *code)
{
	struct hg_check_finder fi = { &a->rules, NULL, 0 };
	struct hg_framer *f = hg_framer_new(); /* first: it opens modules as the replay reads */
	struct hg_replay *r = hg_replay_file_each(path, 0, hg_check_image_done, &fi);
	struct hg_check_result res;
	int rc = 0, outputs_failed;
	uint64_t lost;

	if (!r) {
		hg_framer_free(f);
		*code = program_failure(what, status);
		return -1;
	}
	if (!a->program_mode) {
		const struct hg_image *root = root_image(r);

		status = root_status(root);
		if (root && *root->command)
			what = root->title;
	}
	hg_check_eval(&res, r, f, &a->rules, &fi);
	hg_check_finder_release(&fi);
	fflush(stdout);
	hg_check_text(stderr, &res, &a->rules, a->max_frames, a->quiet);
	*gate = res.n_failed > 0;
	if ((outputs_failed = outputs(a, &res) < 0))
		rc = -1;
	if (r->damage)
		rc = hg_error("%s; the check covers the records before it", r->damage);
	else if (!r->n_images) /* record said why, for a program */
		rc = a->program_mode ? -1 : hg_error("trace '%s' holds no process: nothing was "
						     "traced", path);
	else if (res.n_unchecked == res.n_listed) /* the verdict says so */
		rc = -1;
	*code = program_failure(what, status);
	if ((lost = lost_events(r)))
		hg_warning("%llu allocation or free event%s could not be recorded (made in a signal "
			   "handler that interrupted the tracer, say; 'heapgraph report' counts "
			   "them): a leak among them is not seen, and a block whose free was lost "
			   "may be reported leaked", (unsigned long long)lost, hg_plural(lost));
	verdict(a, &res, r->damage != NULL, *code != 0, outputs_failed, lost);
	hg_check_release(&res);
	hg_framer_free(f);
	hg_replay_free(r);
	return rc;
}

int hg_cmd_check(int argc, char **argv)
{
	struct check_args a = { .builtin = 1, .gate_code = HG_EXIT_GATE, .max_frames = 12,
				.rules = { HG_LEAK_KINDS, 0, UINT64_MAX, NULL, NULL } };
	struct hg_suppressions supp;
	struct hg_baseline base;
	char path[PATH_MAX];
	int rc = parse(argc, argv, &a), status = -1, temp = 0, gate = 0, failed, code = 0;

	if (rc < 0 || rc) {
		free(a.supp_files);
		return rc < 0 ? hg_print_help(help) : rc;
	}
	hg_suppressions_init(&supp);
	hg_baseline_init(&base);
	if (load_inputs(&a, &supp, &base) < 0) {
		rc = HG_EXIT_INPUT;
		goto out;
	}
	if (a.program_mode) {
		if ((rc = record(&a, argv + optind, path, sizeof(path), &temp, &status)) != 0) {
			/* a program that cannot be run: the shell's 127 or 126, as record gives */
			rc = rc > 0 ? hg_record_exit_code(status) : HG_EXIT_INPUT;
			goto out;
		}
	} else {
		snprintf(path, sizeof(path), "%s", argv[optind]);
	}
	failed = check_trace(&a, path, a.program_mode ? argv[optind] : "the traced program",
			     status, &gate, &code) < 0;
	rc = gate ? a.gate_code : code ? code : failed ? HG_EXIT_INPUT : HG_EXIT_OK;
	if (temp)
		unlink(path);
out:
	hg_suppressions_release(&supp);
	hg_baseline_release(&base);
	free(a.supp_files);
	return rc;
}
