/*
 * units.h - human-readable sizes, counts and durations for text reports
 */
#ifndef HG_UNITS_H
#define HG_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "512 B", "1.5 KiB", "12.3 MiB", "4.0 GiB". Returns buf. */
char *hg_format_bytes(char *buf, size_t cap, uint64_t bytes);

/* "1,234,567". Returns buf. */
char *hg_format_count(char *buf, size_t cap, uint64_t n);

/* "s" unless n is 1: "%s block%s", count, hg_plural(n). */
static inline const char *hg_plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

/* "850 ns", "12.5 ms", "3.20 s", "2 min 5.0 s", "99 h 0 min 0 s". Returns buf. */
char *hg_format_duration(char *buf, size_t cap, uint64_t ns);

/*
 * A moment of a process: "12.5 ms after start", or "in its first 1.0 ms" when the trace's
 * times were rounded to res_ns (0 or 1: exact) and the moment lies within the first tick,
 * where rounding leaves no more than that to say. Returns buf.
 */
char *hg_format_since_start(char *buf, size_t cap, uint64_t ns, uint64_t res_ns);

#endif /* HG_UNITS_H */
