/*
 * symload.h - open the modules a replay reads, with their debug information, in a second
 * thread while the replay goes on
 */
#ifndef HG_SYMLOAD_H
#define HG_SYMLOAD_H

#include <stddef.h>

struct hg_symbolizer;
struct hg_symload;

/*
 * From now on, each module a replay reads is opened in sym by a second thread (made at the
 * first module), each (path, build id) once, at most HG_SYMLOAD_MAX of them. The caller must
 * not use sym until hg_symload_finish(). Out-of-memory exits (diag.h). NULL, and nothing is
 * opened ahead, when DEBUGINFOD_URLS is set: a debug file missing on disk would be downloaded
 * for every module, needed or not.
 */
struct hg_symload *hg_symload_start(struct hg_symbolizer *sym);

/* Stop: wait for the module being opened, if any, and free l; sym is the caller's again.
 * Returns how many modules the thread opened; *queued (if not NULL), how many distinct ones
 * the replay read. NULL is a no-op. */
size_t hg_symload_finish(struct hg_symload *l, size_t *queued);

/* How many queued modules the thread has taken so far, the one it is opening included (a test
 * waits on it to know the thread ran). */
size_t hg_symload_taken(struct hg_symload *l);

#define HG_SYMLOAD_MAX 256

#endif /* HG_SYMLOAD_H */
