/*
 * duration.h - durations on the command line: "500ms", "2s", "1.5m"
 */
#ifndef HG_DURATION_H
#define HG_DURATION_H

#include <stdint.h>

/*
 * Parse a duration: a decimal number (digits, optionally a fraction) followed by one unit,
 * ns, us, ms, s, m or h ("500ms", "2s", "1.5m"). Returns 0 and sets *ns, or -1 when the text
 * is not one (no number, no unit or an unknown one, trailing characters, more than a year).
 * Prints nothing.
 */
int hg_parse_duration(const char *text, uint64_t *ns);

#endif /* HG_DURATION_H */
