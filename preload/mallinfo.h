/*
 * mallinfo.h - sample glibc's own account of its heap (mallinfo2) into the trace
 *
 * Runs in: the snapshot path.
 */
#ifndef HG_MALLINFO_H
#define HG_MALLINFO_H

#include <stdint.h>

#include "hg_compiler.h"

/*
 * Write an HG_REC_MALLINFO stamped t_ns. Guard held; no malloc lock may be held by a stopped
 * thread (call it before stopping the world).
 */
void hg_mallinfo_sample(uint64_t t_ns);

#endif /* HG_MALLINFO_H */
