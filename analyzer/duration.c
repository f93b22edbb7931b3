/*
 * duration.c - durations on the command line: "500ms", "2s", "1.5m"
 *
 * Parsed by hand rather than with strtod: the result must be exact in nanoseconds ("0.1s" is
 * 100000000 ns, not 99999999) and the locale must not change what a dot means.
 */
#include <ctype.h>
#include <stddef.h>
#include <string.h>

#include "duration.h"

#define YEAR_NS (366ull * 24 * 3600 * 1000000000ull)

static const struct {
	const char *name;
	uint64_t ns;
} units[] = {
	{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000ull },
	{ "m", 60000000000ull }, { "h", 3600000000000ull },
};

int hg_parse_duration(const char *text, uint64_t *ns)
{
	uint64_t whole = 0, frac = 0, frac_scale = 1, unit = 0;
	const char *p = text;

	if (!p || !isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (whole > YEAR_NS)
			return -1;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (frac_scale >= 1000000000ull)
				return -1; /* finer than a nanosecond of any unit */
			frac = frac * 10 + (uint64_t)(*p - '0');
			frac_scale *= 10;
		}
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(p, units[i].name))
			unit = units[i].ns;
	if (!unit || whole > YEAR_NS / unit)
		return -1;
	*ns = whole * unit + frac * unit / frac_scale;
	return *ns > YEAR_NS ? -1 : 0;
}
