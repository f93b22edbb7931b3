/*
 * cmd_report.c - `heapgraph report`: totals and live sites of every process in a trace
 *
 * Exit status: 0, 2 for usage errors, 3 when the trace cannot be read or is damaged (the report
 * of everything before the damage is printed first).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "report.h"

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
	"  -n, --top N        sites per process, 0 for all (default 10)\n"
	"      --frames N     frames per site in text output (default 12)\n"
	"  -h, --help         this text\n"
	"\n"
	"exit status: 0 ok, 2 usage error, 3 unreadable or damaged trace (the report of the\n"
	"records before the damage is printed first)\n";

int hg_cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "top", required_argument, NULL, 'n' },
		{ "frames", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct hg_report_opts o = { 10, 12 };
	const char *format = "text";
	struct hg_replay *r;
	struct hg_framer *f;
	uint64_t v;
	int ch, rc;

	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, ":f:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': format = optarg; break;
		case 'n':
			if ((rc = hg_parse_u64("report", "--top", optarg, 0, UINT32_MAX, 0, &v)))
				return rc;
			o.top = v;
			break;
		case 'F':
			if ((rc = hg_parse_u64("report", "--frames", optarg, 1, 256, 0, &v)))
				return rc;
			o.max_frames = v;
			break;
		case 'h': return hg_print_help(help);
		default: return hg_bad_option("report", ch, argv);
		}
	}
	if ((rc = hg_check_trace_args("report", format, text_json, "text or json", argc)))
		return rc;
	if (!(r = hg_replay_file_flags(argv[optind], HG_REPLAY_SKIP_WORDS)))
		return HG_EXIT_INPUT;
	f = hg_framer_new();
	rc = strcmp(format, "json") ? hg_report_text(r, f, &o, stdout)
				    : hg_report_json(r, f, &o, stdout);
	return hg_report_done(r, f, rc);
}
