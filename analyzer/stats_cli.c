/*
 * stats_cli.c - the statistics options `report` and `diff` share: grouping and filters
 */
#include "diag.h"
#include "stats_cli.h"

int hg_stats_option(const char *cmd, int ch, const char *arg, struct hg_stats_opts *o,
		    struct hg_filters *fs)
{
	int g;

	switch (ch) {
	case HG_OPT_GROUP_BY:
		if ((g = hg_group_by_parse(arg)) < 0)
			return hg_usage_error(cmd, "unknown --group-by '%s' (traceback, function, "
					      "line, file or module)", arg);
		o->group_by = g;
		return 0;
	case HG_OPT_CUMULATIVE: o->cumulative = 1; return 0;
	case HG_OPT_INCLUDE:
	case HG_OPT_EXCLUDE:
		return hg_filters_add(fs, cmd, ch == HG_OPT_INCLUDE, arg) ? HG_EXIT_USAGE : 0;
	case HG_OPT_ALL_FRAMES: fs->all_frames = 1; return 0;
	case HG_OPT_PLUMBING: fs->keep_plumbing = 1; return 0;
	default: return -1;
	}
}

int hg_stats_check(const char *cmd, const struct hg_stats_opts *o)
{
	if (o->cumulative && o->group_by == HG_GROUP_TRACEBACK)
		return hg_usage_error(cmd, "--cumulative needs --group-by function, line, file or "
				      "module");
	return 0;
}
