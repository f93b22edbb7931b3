/*
 * ring_sweep.h - remove the rings of collectors that died without removing them
 */
#ifndef HG_RING_SWEEP_H
#define HG_RING_SWEEP_H

#include <stdint.h>

/* A ring younger than this is never removed: its collector may be starting. */
#define HG_SWEEP_MIN_AGE_NS (60ull * 1000000000ull)

/*
 * Remove from directory dir (/dev/shm) this user's rings whose collector is gone: created more
 * than HG_SWEEP_MIN_AGE_NS ago (now_ns, CLOCK_MONOTONIC, against the time in the name) and
 * naming a collector process that no longer exists, or naming none and made by a process
 * that no longer exists. Returns how many were removed. Quiet: this is housekeeping before
 * the caller makes its own ring, and nothing it finds is the caller's concern.
 */
int hg_ring_sweep(const char *dir, uint64_t now_ns);

#endif /* HG_RING_SWEEP_H */
