/*
 * digits.h - numbers to and from text without stdio, for paths and /proc files
 *
 * The shim writes and reads numbers where stdio would allocate or lock: /proc paths built on
 * the snapshot path, snapshot labels, the collector's command line, /proc/self/maps and status
 * lines.
 *
 * Runs in: anywhere (no allocation, no locks, no errno).
 */
#ifndef HG_DIGITS_H
#define HG_DIGITS_H

#include <stddef.h>
#include <stdint.h>

/* v in decimal at dst, without a terminating NUL; returns the digits written (at most 20). */
static inline size_t hg_put_decimal(char *dst, uint64_t v)
{
	char rev[20];
	size_t n = 0;

	do
		rev[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (size_t i = 0; i < n; i++)
		dst[i] = rev[n - 1 - i];
	return n;
}

/* The value of the decimal digits that start s, looking at len bytes at most (a NUL stops it
 * too); *used gets how many digits there were. */
static inline uint64_t hg_dec_prefix(const char *s, size_t len, size_t *used)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	*used = i;
	return v;
}

/* The value of the lower-case hex digits that start s, looking at len bytes at most (a NUL
 * stops it too); *used gets how many digits there were. */
static inline uint64_t hg_hex_prefix(const char *s, size_t len, size_t *used)
{
	uint64_t v = 0;
	size_t i = 0;

	for (; i < len; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9')
			v = v * 16 + (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uint64_t)(c - 'a' + 10);
		else
			break;
	}
	*used = i;
	return v;
}

#endif /* HG_DIGITS_H */
