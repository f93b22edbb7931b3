/*
 * zigzag.h - signed deltas as small unsigned numbers (0, -1, 1, -2, ... -> 0, 1, 2, 3, ...)
 */
#ifndef HG_ZIGZAG_H
#define HG_ZIGZAG_H

#include <stdint.h>

/* now - before, zigzag-coded. */
static inline uint64_t hg_zigzag(uint64_t now, uint64_t before)
{
	int64_t d = (int64_t)(now - before);

	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

/* The value whose delta from before hg_zigzag coded as z. */
static inline uint64_t hg_unzigzag(uint64_t z, uint64_t before)
{
	return before + (uint64_t)((int64_t)(z >> 1) ^ -(int64_t)(z & 1));
}

#endif /* HG_ZIGZAG_H */
