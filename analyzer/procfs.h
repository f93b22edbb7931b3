/*
 * procfs.h - what /proc says about processes: a task's state and start, whether it is alive,
 * its resident set and signal handlers, the machine's CPU time, and the live processes started
 * with a given environment entry
 *
 * A process the traced program started can be on its way to being traced without having
 * written anything yet: a posix_spawn or vfork child between its exec and the shim's first
 * record. posix_spawn and vfork run no fork handlers, so no FORK record announces it, and it
 * owns no ring slot yet; if the program ends in that moment, nothing tells the collector the
 * child exists. Its environment does: /proc/PID/environ keeps the environment the process was
 * exec'd with, and a traced one has HEAPGRAPH_RING naming the collector's ring.
 */
#ifndef HG_PROCFS_H
#define HG_PROCFS_H

#include <stdint.h>
#include <sys/types.h>

/*
 * What the stat file at path (/proc/PID/stat or /proc/PID/task/TID/stat) says: the task's
 * state letter ('R', 'S', 'Z' for a zombie...) in *state and, when start_ticks is not NULL,
 * when it started (clock ticks since boot) in *start_ticks. -1 when it cannot be read (the
 * task is gone) or parsed.
 */
int hg_proc_stat(const char *path, char *state, unsigned long long *start_ticks);

/*
 * How many processes other than self, alive and not zombies, started no earlier than self, have
 * `entry` ("NAME=value", matched whole) among the environment they were exec'd with. Processes
 * whose environment cannot be read (another user's) do not count. -1 when /proc cannot be
 * listed.
 */
int hg_proc_count_with_env(const char *entry, pid_t self);

/* Whether process pid exists and is not a zombie. */
int hg_proc_alive(uint32_t pid);

/*
 * Whether thread tid of pid exists and is not a zombie. A ring slot belongs to a thread, not a
 * process: a process whose main thread called pthread_exit shows as a zombie while its other
 * threads keep writing, so the thread itself is asked.
 */
int hg_proc_thread_alive(uint32_t pid, uint32_t tid);

/* The resident set of pid in bytes (/proc/PID/statm, or a live thread's when the main thread
 * has exited); 0 when it cannot be read. */
uint64_t hg_proc_rss(uint32_t pid);

/* 1 when pid has a handler for signal sig (the SigCgt mask of /proc/PID/status), else 0. */
int hg_proc_catches(uint32_t pid, int sig);

/* The machine's idle (idle + iowait) and total CPU ticks so far (/proc/stat): 1, or 0 when it
 * cannot be read. */
int hg_proc_cpu_ticks(uint64_t *idle, uint64_t *all);

#endif /* HG_PROCFS_H */
