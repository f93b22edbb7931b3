/*
 * cli.h - the subcommand table and the small parsers every subcommand shares
 */
#ifndef HG_CLI_H
#define HG_CLI_H

#include <stdint.h>

/* Subcommand entry points: argv[0] is the subcommand name. Return an enum hg_exit code. */
int hg_cmd_record(int argc, char **argv);
int hg_cmd_report(int argc, char **argv);
int hg_cmd_collect(int argc, char **argv);
int hg_cmd_leaks(int argc, char **argv);
int hg_cmd_peak(int argc, char **argv);
int hg_cmd_frag(int argc, char **argv);
int hg_cmd_check(int argc, char **argv);
int hg_cmd_snapshots(int argc, char **argv);
int hg_cmd_diff(int argc, char **argv);

/*
 * Parse a whole unsigned number in [min, max] with an optional K, M or G suffix (powers of
 * 1024) when allow_suffix. Both return 0 on success and leave *out alone otherwise: then
 * hg_u64_of returns -1 and prints nothing, hg_parse_u64 prints "invalid value 'X' for OPTION"
 * for subcommand cmd and returns an enum hg_exit usage code.
 */
int hg_u64_of(const char *text, uint64_t min, uint64_t max, int allow_suffix, uint64_t *out);
int hg_parse_u64(const char *cmd, const char *option, const char *text, uint64_t min,
		 uint64_t max, int allow_suffix, uint64_t *out);

/*
 * getopt_long (with ':' leading its option string) returned '?' or ':' for argv[optind - 1]:
 * report "unknown option" or "option needs a value" for subcommand cmd. Returns the usage code.
 */
int hg_bad_option(const char *cmd, int ch, char **argv);

/*
 * After option parsing of a command that reads one trace: `format` must be one of the
 * NULL-terminated `formats` (`hint` lists them for the message, e.g. "text or json") and
 * exactly one argument must remain at argv[optind]. Returns 0, or the usage code after one
 * line naming the problem.
 */
int hg_check_trace_args(const char *cmd, const char *format, const char *const *formats,
			const char *hint, int argc);

/*
 * The options of a command that shows one trace as text or JSON: --format (-f), and where
 * opts asks for them --top (-n, 0 to 2^32-1), --frames (1 to 256) and --full-names, then
 * exactly one trace.
 * The caller sets the defaults in *a first. Returns -1 to go on (a->json set), else the exit
 * code: HG_EXIT_OK after --help printed `help`, a usage code after one line naming the problem.
 */
enum { HG_VIEW_TOP = 1, HG_VIEW_FRAMES = 2, HG_VIEW_NAMES = 4 }; /* FRAMES: --full-names too */
struct hg_view_args {
	const char *format;
	uint64_t top, frames;
	int json;
};
int hg_view_args(const char *cmd, const char *help, unsigned opts, int argc, char **argv,
		 struct hg_view_args *a);

/* Print `text` (a subcommand's help) to stdout. Returns HG_EXIT_OK. */
int hg_print_help(const char *text);

#endif /* HG_CLI_H */
