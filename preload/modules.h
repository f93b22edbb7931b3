/*
 * modules.h - record which ELF objects are mapped where
 *
 * Runs in: constructor/first allocation, inside malloc when a new stack appears.
 */
#ifndef HG_MODULES_H
#define HG_MODULES_H

#include <stdint.h>

/*
 * Write an HG_REC_MODULE for every loaded object not written yet, and an HG_REC_UNMODULE for
 * every written one that is gone. Call at start and after each dlopen/dlclose. Serialised by
 * the loader's own lock (dl_iterate_phdr) plus a flag of ours; never allocates from the heap.
 */
void hg_modules_sync(void);

/*
 * Cheap check for dlopen/dlclose since the last sync (the loader's dlpi_adds and dlpi_subs
 * counters), and a sync when they moved. Called when a new stack appears (code in a newly
 * loaded module always shows up as new stacks first) and after each dlclose. After an unload
 * both stack walkers also forget what they cached, since a new object may be mapped where the
 * old one was.
 */
void hg_modules_check(void);

/* Fork: hold the module-list lock across fork() (see hg_arena_fork_prepare). */
void hg_modules_fork_prepare(void);
void hg_modules_fork_done(void);

/* Find the address range [lo, hi) of the object that contains `addr`; 0 on success. */
int hg_modules_range_of(const void *addr, uintptr_t *lo, uintptr_t *hi);

/* Path of the main executable (readlink of /proc/self/exe), cached; "" when unknown. */
const char *hg_modules_exe_path(void);

#endif /* HG_MODULES_H */
