/*
 * heapgraph.h - the API a traced program may call
 *
 * Everything here works with or without the shim loaded. Declare the functions weak so that
 * the program links and runs normally when it is not traced:
 *
 *     #include <heapgraph.h>
 *     ...
 *     if (heapgraph_snapshot)
 *             heapgraph_snapshot("after-load");
 */
#ifndef HEAPGRAPH_H
#define HEAPGRAPH_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Record a heap snapshot now, named `label` (NULL or "" names it "snapshot"): every other
 * thread is stopped while the shim records the roots and the pointers between live blocks.
 * `heapgraph leaks --snapshot LABEL` classifies what was unreachable at that moment;
 * `heapgraph report --snapshot LABEL` gives its statistics and `heapgraph diff --from A --to B`
 * what changed between two of them (`heapgraph snapshots` lists them).
 */
void heapgraph_snapshot(const char *label) __attribute__((weak));

#ifdef __cplusplus
}
#endif

#endif /* HEAPGRAPH_H */
