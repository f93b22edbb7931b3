/*
 * mallinfo.h - sample glibc's own account of its heap (mallinfo2) into the trace
 *
 * Runs in: inside malloc and free (after the real call), the snapshot path.
 */
#ifndef HG_MALLINFO_H
#define HG_MALLINFO_H

#include <stdint.h>

#include "hg_compiler.h"

#define HG_MALLINFO_EVERY_NS (10ull * 1000000ull)

/* When mallinfo2 was last sampled (atomic; 0 before the first sample). */
extern uint64_t hg_mallinfo_last_ns;

/* Write an HG_REC_MALLINFO now, if no other thread took this period's. Guard held. */
void hg_mallinfo_sample(uint64_t t_ns, uint64_t last);

/* Sample when the last one is HG_MALLINFO_EVERY_NS old: one load on the fast path. */
static inline void hg_mallinfo_maybe(uint64_t t_ns)
{
	uint64_t last = __atomic_load_n(&hg_mallinfo_last_ns, __ATOMIC_RELAXED);

	if (HG_UNLIKELY(t_ns - last >= HG_MALLINFO_EVERY_NS))
		hg_mallinfo_sample(t_ns, last);
}

#endif /* HG_MALLINFO_H */
