/*
 * main.c - the heapgraph command: argv and the subcommand table
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"

struct hg_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* NULL: internal, not listed */
};

static const struct hg_cmd cmds[] = {
	{ "record", hg_cmd_record, "run a program under the tracer and write a trace" },
	{ "report", hg_cmd_report, "summarise a trace: totals and what is still live, by stack" },
	{ "peak", hg_cmd_peak, "the high-water mark: when, what held it, the heap over time" },
	{ "frag", hg_cmd_frag, "why memory stays resident: free bytes malloc keeps, pinned pages" },
	{ "snapshots", hg_cmd_snapshots, "the heap snapshots of each process: label, time, live" },
	{ "diff", hg_cmd_diff, "what grew between two snapshots, or between two traces" },
	{ "leaks", hg_cmd_leaks, "what each process could no longer reach: leaks and leaked cycles" },
	{ "check", hg_cmd_check, "the CI leak gate: fail on leaks, with JUnit, SARIF, baselines" },
	{ "collect", hg_cmd_collect, NULL },
};

static int usage(FILE *out)
{
	fprintf(out, "usage: heapgraph <command> [options] [args]\n\n"
		     "heapgraph traces every allocation of any dynamically linked Linux program\n"
		     "(no recompile) and explains where its memory goes.\n\ncommands:\n");
	for (size_t i = 0; i < HG_ARRAY_SIZE(cmds); i++)
		if (cmds[i].summary)
			fprintf(out, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(out, "\n'heapgraph <command> --help' describes a command; 'heapgraph --version'\n"
		     "prints the version. Bare use without the launcher:\n"
		     "  LD_PRELOAD=/path/to/libheapgraph.so PROG   (writes heapgraph.<pid>.hgt)\n");
	return out == stdout ? HG_EXIT_OK : HG_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : NULL;

	if (!name)
		return usage(stderr);
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("heapgraph %s (trace format %d)\n", HG_VERSION, 1);
		return HG_EXIT_OK;
	}
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		if (argc > 2 && strcmp(name, "help") == 0) {
			char *help_argv[] = { argv[2], (char *)"--help", NULL };
			for (size_t i = 0; i < HG_ARRAY_SIZE(cmds); i++)
				if (!strcmp(cmds[i].name, argv[2]))
					return cmds[i].run(2, help_argv);
		}
		return usage(stdout);
	}
	for (size_t i = 0; i < HG_ARRAY_SIZE(cmds); i++)
		if (!strcmp(cmds[i].name, name))
			return cmds[i].run(argc - 1, argv + 1);
	hg_error("unknown command '%s' (see 'heapgraph --help')", name);
	return HG_EXIT_USAGE;
}
