/*
 * procself.h - open this process's /proc files through a thread that is still alive
 *
 * Runs in: anywhere the caller may call open(2): the snapshot path, the exit path.
 */
#ifndef HG_PROCSELF_H
#define HG_PROCSELF_H

/*
 * Open /proc/thread-self/NAME read-only (close-on-exec), or /proc/self/NAME where the former
 * cannot be opened (kernels before 3.17). Returns the descriptor, or -1 with errno set. NAME
 * is a per-process file such as "maps" or "pagemap", at most 32 bytes; nothing is allocated.
 */
int hg_procself_open(const char *name);

#endif /* HG_PROCSELF_H */
