/*
 * units.c - human-readable sizes, counts and durations for text reports
 */
#include <stdio.h>

#include "units.h"

char *hg_format_bytes(char *buf, size_t cap, uint64_t bytes)
{
	static const char *unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(buf, cap, "%llu B", (unsigned long long)bytes);
		return buf;
	}
	while (v >= 1024.0 && u < 3) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, cap, v < 10.0 ? "%.2f %s" : v < 100.0 ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

char *hg_format_count(char *buf, size_t cap, uint64_t n)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)n), o = 0;

	for (int i = 0; i < len && (size_t)o + 2 < cap; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

char *hg_format_since_start(char *buf, size_t cap, uint64_t ns, uint64_t res_ns)
{
	char d[32];

	if (res_ns > 1 && ns < res_ns)
		snprintf(buf, cap, "in its first %s", hg_format_duration(d, sizeof(d), res_ns));
	else
		snprintf(buf, cap, "%s after start", hg_format_duration(d, sizeof(d), ns));
	return buf;
}

char *hg_format_duration(char *buf, size_t cap, uint64_t ns)
{
	if (ns < 1000)
		snprintf(buf, cap, "%llu ns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, cap, "%.1f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, cap, "%.1f ms", (double)ns / 1e6);
	else if (ns < 60000000000ull)
		snprintf(buf, cap, "%.2f s", (double)ns / 1e9);
	else if (ns < 3600000000000ull)
		snprintf(buf, cap, "%llu min %.1f s", (unsigned long long)(ns / 60000000000ull),
			 (double)(ns % 60000000000ull) / 1e9);
	else
		snprintf(buf, cap, "%llu h %llu min %llu s",
			 (unsigned long long)(ns / 3600000000000ull),
			 (unsigned long long)(ns / 60000000000ull % 60),
			 (unsigned long long)(ns / 1000000000ull % 60));
	return buf;
}
