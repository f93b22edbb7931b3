/*
 * exec_env.h - the environment a new image needs to be traced too
 *
 * A program that execs with an environment of its own choosing (`env -i prog`, Python's
 * subprocess with env={...}, a daemon that scrubs its children's environment) drops
 * LD_PRELOAD and the HEAPGRAPH_ variables, and the new image would run untraced. The exec
 * family's entry points (exec.c) pass the environment through here first: what the caller
 * gave, plus LD_PRELOAD naming this shim when it does not already, plus each HEAPGRAPH_
 * variable this process started with that the caller's environment does not define. A
 * variable the caller did set keeps the caller's value (HEAPGRAPH_RING=off still stops
 * tracing below it).
 *
 * The new array and the new LD_PRELOAD string live on the caller's stack: exec may be called
 * in a vfork child, where a mapping made would outlive the exec in the parent, and after a
 * fork of a threaded program, where malloc may deadlock.
 *
 * Runs in: start-up (hg_exec_env_save), the exec family and posix_spawn (the rest).
 */
#ifndef HG_EXEC_ENV_H
#define HG_EXEC_ENV_H

#include <stddef.h>

/* An environment with more entries than this, or an LD_PRELOAD longer than this, is passed on
 * unchanged: its copy would not fit on the stack of every thread. */
#define HG_EXEC_ENV_MAX_ENTRIES 4096
#define HG_EXEC_ENV_MAX_PRELOAD 8192

/*
 * Remember what a new image needs: the HEAPGRAPH_ variables of environ as they are now (after
 * bare mode added HEAPGRAPH_RING), and self_path, the shim's file, for LD_PRELOAD. Entries
 * that do not fit the saved space (4 KiB) are left out and logged. Called once the
 * environment is final at start-up; with self_path NULL nothing is added to any environment.
 */
void hg_exec_env_save(const char *self_path);

/* Forget what was saved: exec passes every environment on unchanged. */
void hg_exec_env_forget(void);

/*
 * The sizes hg_exec_env_fix needs for envp (NULL counts as empty): *n_slots pointers and
 * *preload_bytes bytes. Returns 0 when envp lacks nothing (or nothing was saved, or envp is
 * too large: see the limits above), 1 when it must be completed.
 */
int hg_exec_env_needs(char *const envp[], size_t *n_slots, size_t *preload_bytes);

/*
 * Fill slots (n_slots pointers, from hg_exec_env_needs) with envp's entries in order, the
 * caller's LD_PRELOAD replaced by one with the shim in front (written into preload, of
 * preload_bytes bytes), then the missing entries, then NULL. The strings are envp's, the
 * saved ones, or preload; nothing is allocated. Returns slots.
 */
char **hg_exec_env_fix(char *const envp[], char **slots, size_t n_slots, char *preload,
		       size_t preload_bytes);

#endif /* HG_EXEC_ENV_H */
