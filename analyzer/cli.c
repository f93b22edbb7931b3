/*
 * cli.c - parsers every subcommand shares
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "names.h"

int hg_u64_of(const char *text, uint64_t min, uint64_t max, int allow_suffix, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	if (!text || !isdigit((unsigned char)*text))
		return -1;
	v = strtoull(text, &end, 10);
	if (errno)
		return -1;
	if (allow_suffix && *end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': mult = 1ull << 10; break;
		case 'M': mult = 1ull << 20; break;
		case 'G': mult = 1ull << 30; break;
		default: return -1;
		}
		end++;
		if (toupper((unsigned char)*end) == 'I' && toupper((unsigned char)end[1]) == 'B')
			end += 2;
	}
	if (*end || v > max / mult || v * mult < min || v * mult > max)
		return -1;
	*out = v * mult;
	return 0;
}

int hg_parse_u64(const char *cmd, const char *option, const char *text, uint64_t min,
		 uint64_t max, int allow_suffix, uint64_t *out)
{
	if (hg_u64_of(text, min, max, allow_suffix, out) == 0)
		return 0;
	return hg_usage_error(cmd, "invalid value '%s' for %s (expected %llu to %llu%s)",
			      text ? text : "", option, (unsigned long long)min,
			      (unsigned long long)max,
			      allow_suffix ? "; a K, M or G suffix counts KiB, MiB or GiB, as in 64K" : "");
}

int hg_bad_option(const char *cmd, int ch, char **argv)
{
	if (ch == ':')
		return hg_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
	return hg_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

int hg_check_trace_args(const char *cmd, const char *format, const char *const *formats,
			const char *hint, int argc)
{
	size_t i = 0;

	while (formats[i] && strcmp(formats[i], format))
		i++;
	if (!formats[i])
		return hg_usage_error(cmd, "unknown format '%s' (%s)", format, hint);
	if (optind + 1 != argc)
		return hg_usage_error(cmd, optind == argc ? "no trace file given" :
				      "one trace file at a time");
	return 0;
}

int hg_view_args(const char *cmd, const char *help, unsigned opts, int argc, char **argv,
		 struct hg_view_args *a)
{
	static const char *const text_json[] = { "text", "json", NULL };
	/* format and help, then at most top, frames and full-names, and the terminator */
	struct option longopts[2 + 3 + 1] = {
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
	};
	int n = 2, ch, rc;

	/* Only this command's options: another's is unknown here, with its name in the error. */
	if (opts & HG_VIEW_TOP)
		longopts[n++] = (struct option){ "top", required_argument, NULL, 'n' };
	if (opts & HG_VIEW_FRAMES)
		longopts[n++] = (struct option){ "frames", required_argument, NULL, 'F' };
	if (opts & (HG_VIEW_FRAMES | HG_VIEW_NAMES))
		longopts[n++] = (struct option)HG_FULL_NAMES_LONGOPT;
	opterr = 0;
	optind = 1;
	while ((ch = getopt_long(argc, argv, opts & HG_VIEW_TOP ? ":f:n:h" : ":f:h", longopts,
				 NULL)) != -1) {
		switch (ch) {
		case 'f': a->format = optarg; break;
		case 'n':
			if ((rc = hg_parse_u64(cmd, "--top", optarg, 0, UINT32_MAX, 0, &a->top)))
				return rc;
			break;
		case 'F':
			if ((rc = hg_parse_u64(cmd, "--frames", optarg, 1, 256, 0, &a->frames)))
				return rc;
			break;
		case HG_OPT_FULL_NAMES: hg_names_set_full(1); break;
		case 'h': return hg_print_help(help);
		default: return hg_bad_option(cmd, ch, argv);
		}
	}
	if ((rc = hg_check_trace_args(cmd, a->format, text_json, "text or json", argc)))
		return rc;
	a->json = !strcmp(a->format, "json");
	return -1;
}

int hg_print_help(const char *text)
{
	fputs(text, stdout);
	return HG_EXIT_OK;
}
