/*
 * unwind.h - libunwind, loaded privately so that it cannot interpose the program's unwinder
 *
 * Runs in: first allocation (hg_unwind_load), inside malloc (the rest).
 */
#ifndef HG_UNWIND_H
#define HG_UNWIND_H

/*
 * dlopen libunwind.so.8 with RTLD_LOCAL and look up what the shim uses. 0 on success, -1 (with
 * a debug log line) when it is missing; stacks are then not captured.
 */
int hg_unwind_load(void);

/* Return addresses of the calling thread, innermost first; 0 when libunwind is not loaded. */
int hg_unwind_backtrace(void **ip, int max);

/* Forget cached unwind information (after dlclose: code may be gone or replaced). */
void hg_unwind_flush(void);

/*
 * Move the n descriptors in fd (libunwind's own, just made) to numbers no program reaches by
 * opening files one after another: from a little below the descriptor limit, or 4,064 when
 * that is higher; under a limit of 96 or less, its last n numbers. fd[] gets the new numbers;
 * where a move fails the old number stays.
 */
void hg_unwind_move_fds(int *fd, int n, int cloexec);

#endif /* HG_UNWIND_H */
