/*
 * spawn.h - bare mode: make a ring and start a collector when no launcher did
 *
 * Runs in: first allocation (hg_init).
 */
#ifndef HG_SPAWN_H
#define HG_SPAWN_H

#include "hg_format.h"

/*
 * Create a ring file in /dev/shm (0600, O_EXCL, no symlinks), start `heapgraph collect` on it
 * detached from this process (its own session, not our child), and export HEAPGRAPH_RING so
 * that exec'd images join the same ring. The trace goes to $HEAPGRAPH_OUTPUT, or
 * heapgraph.<pid>.hgt in the current directory. Returns the mapped ring, or NULL (with a debug
 * log line) when any step fails; tracing is then off.
 */
struct hg_ring_header *hg_spawn_collector(void);

#endif /* HG_SPAWN_H */
