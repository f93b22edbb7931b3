/*
 * procfs.h - what /proc says about processes: a task's state and start, and the live processes
 * started with a given environment entry
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

#endif /* HG_PROCFS_H */
