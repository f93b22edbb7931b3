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
 * The new array and the new LD_PRELOAD string live on the caller's stack, or for a large
 * environment in a static buffer: exec may be called in a vfork child, where a mapping made
 * would outlive the exec in the parent, and after a fork of a threaded program, where malloc
 * may deadlock.
 *
 * Runs in: start-up (hg_exec_env_save), the exec family and posix_spawn (the rest).
 */
#ifndef HG_EXEC_ENV_H
#define HG_EXEC_ENV_H

#include <stddef.h>

/* A completed environment of up to this many entries, with an LD_PRELOAD up to this long, is
 * built on the caller's stack (2.5 KiB at most: a thread's stack may be 16 KiB, a signal's
 * alternate stack less, and glibc's own exec uses some of it). */
#define HG_EXEC_ENV_STACK_SLOTS 256
#define HG_EXEC_ENV_STACK_PRELOAD 512

/* A larger one, up to these, in the one static buffer (hg_exec_env_claim); beyond them, or
 * with the buffer taken, the environment is passed on unchanged. */
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
 * caller's LD_PRELOAD (the last one: the loader reads that) replaced by one with the shim
 * after the caller's libraries (written into preload, of preload_bytes bytes: a sanitizer's
 * runtime must stay first), then the missing entries, then NULL. The strings are envp's, the
 * saved ones, or preload; nothing is allocated. Returns slots.
 */
char **hg_exec_env_fix(char *const envp[], char **slots, size_t n_slots, char *preload,
		       size_t preload_bytes);

/*
 * The static buffer for an environment larger than the stack's share: 0 with *slots and
 * *preload pointing into it, until hg_exec_env_release; -1 when the sizes exceed it or
 * another thread's exec holds it. Not for a vfork child: its exec, when it works, would never
 * give the buffer back to the parent, whose memory it shares.
 */
int hg_exec_env_claim(size_t n_slots, size_t preload_bytes, char ***slots, char **preload);

/*
 * Give the buffer back. Also called in a fork child, which did not claim it: a buffer another
 * thread of the parent held at the fork is free here (that thread and its exec stayed behind).
 */
void hg_exec_env_release(void);

#endif /* HG_EXEC_ENV_H */
