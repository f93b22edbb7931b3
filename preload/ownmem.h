/*
 * ownmem.h - what tracing itself adds to the process's resident set, sampled into the trace
 *
 * Runs in: the snapshot path (before the world stops), the exit path.
 */
#ifndef HG_OWNMEM_H
#define HG_OWNMEM_H

#include <stdint.h>

/* Write an HG_REC_TRACER stamped t_ns: the resident bytes of the shim's tables and of the ring
 * in this process. Guard held; leaves errno as it found it. */
void hg_ownmem_sample(uint64_t t_ns);

#endif /* HG_OWNMEM_H */
