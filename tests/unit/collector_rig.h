/*
 * collector_rig.h - the ring and trace that the collector's tests (check_collector*.c) share
 *
 * The producer is the test itself: cr_own and cr_publish_buf write slot headers and data by
 * hand exactly as include/hg_format.h lays them out. cr_setup and cr_teardown are the checked
 * fixture; a test opens cr_rig itself (fx_rig_open) with the ring it needs.
 */
#ifndef HG_TEST_COLLECTOR_RIG_H
#define HG_TEST_COLLECTOR_RIG_H

#include <stddef.h>
#include <stdint.h>

#include "fixtures.h"

/* The current test's collector and ring (zeroed until opened), and its trace read back. */
extern struct fx_rig cr_rig;
extern struct fx_trace cr_tr;

/* The checked fixture: both zeroed before a test; stderr, the trace and the rig released after. */
void cr_setup(void);
void cr_teardown(void);

/*
 * Claim slot i for (pid, tid) as a producer does: pid and tid first, then a release store of
 * OWNED. The owner check asks whether that thread is alive, so tests that keep a slot OWNED
 * name a real thread (this one).
 */
void cr_own(uint32_t i, uint32_t pid, uint32_t tid);
/* Publish b's bytes in slot i: copy (wrapping at the end of the data area), then store head. */
void cr_publish_buf(uint32_t i, const struct fx_buf *b);

/* Records of a type with (pid, tid). */
size_t cr_count_from(const struct fx_trace *t, uint16_t type, uint32_t pid, uint32_t tid);

#endif /* HG_TEST_COLLECTOR_RIG_H */
