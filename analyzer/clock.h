/*
 * clock.h - the clocks the analyzer reads, in nanoseconds
 */
#ifndef HG_CLOCK_H
#define HG_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t hg_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC: the clock every time in a trace is on. */
static inline uint64_t hg_mono_ns(void)
{
	return hg_clock_ns(CLOCK_MONOTONIC);
}

#endif /* HG_CLOCK_H */
