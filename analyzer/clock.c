/*
 * clock.c - which clock the analyzer's times are on
 */
#include "clock.h"

struct hg_ring_clock hg_trace_clock;

void hg_trace_clock_use(const struct hg_ring_clock *c)
{
	hg_trace_clock = *c;
}
