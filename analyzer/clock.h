/*
 * clock.h - the clocks the analyzer reads, in nanoseconds (hg_clock_ns in hg_clock.h for any
 * clock of the system's)
 */
#ifndef HG_CLOCK_H
#define HG_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "hg_clock.h"

/* The clock of the ring this process collects from (hg_clock.h); zeros, CLOCK_MONOTONIC
 * itself, until hg_trace_clock_use is called. */
extern struct hg_ring_clock hg_trace_clock;

/* From now on read clock c: the collector calls it with its ring's. */
void hg_trace_clock_use(const struct hg_ring_clock *c);

/* Now on the clock every time in a trace is on: the ring's. */
static inline uint64_t hg_trace_ns(void)
{
	return hg_clock_now(&hg_trace_clock);
}

#endif /* HG_CLOCK_H */
