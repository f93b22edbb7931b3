/*
 * stats_cli.h - the statistics options `report` and `diff` share: grouping and filters
 *
 * --group-by KEY, --cumulative, --include PAT, --exclude PAT, --all-frames, --plumbing. A
 * command puts HG_STATS_LONGOPTS in its getopt_long table and hands every option character
 * to hg_stats_option first.
 */
#ifndef HG_STATS_CLI_H
#define HG_STATS_CLI_H

#include <getopt.h>

#include "filter.h"
#include "stats.h"

enum hg_stats_optch {
	HG_OPT_GROUP_BY = 'g',
	HG_OPT_CUMULATIVE = 0x300,
	HG_OPT_INCLUDE,
	HG_OPT_EXCLUDE,
	HG_OPT_ALL_FRAMES,
	HG_OPT_PLUMBING
};

#define HG_STATS_LONGOPTS                                                                   \
	{ "group-by", required_argument, NULL, HG_OPT_GROUP_BY },                           \
	{ "cumulative", no_argument, NULL, HG_OPT_CUMULATIVE },                             \
	{ "include", required_argument, NULL, HG_OPT_INCLUDE },                             \
	{ "exclude", required_argument, NULL, HG_OPT_EXCLUDE },                             \
	{ "all-frames", no_argument, NULL, HG_OPT_ALL_FRAMES },                             \
	{ "plumbing", no_argument, NULL, HG_OPT_PLUMBING }

/*
 * Apply option ch (with its argument arg) of subcommand cmd to o and fs. Returns 0 when it
 * was one of the shared options, -1 when it is not (the command handles it), or the usage
 * exit code after a one-line error.
 */
int hg_stats_option(const char *cmd, int ch, const char *arg, struct hg_stats_opts *o,
		    struct hg_filters *fs);

/* After parsing: 0, or the usage exit code when the options contradict each other. */
int hg_stats_check(const char *cmd, const struct hg_stats_opts *o);

#endif /* HG_STATS_CLI_H */
