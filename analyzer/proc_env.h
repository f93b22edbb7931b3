/*
 * proc_env.h - the live processes that were started with a given environment entry
 *
 * A process the traced program started can be on its way to being traced without having
 * written anything yet: a posix_spawn or vfork child between its exec and the shim's first
 * record. posix_spawn and vfork run no fork handlers, so no FORK record announces it, and it
 * owns no ring slot yet; if the program ends in that moment, nothing tells the collector the
 * child exists. Its environment does: /proc/PID/environ keeps the environment the process was
 * exec'd with, and a traced one has HEAPGRAPH_RING naming the collector's ring.
 */
#ifndef HG_PROC_ENV_H
#define HG_PROC_ENV_H

#include <sys/types.h>

/*
 * How many processes other than self, alive and not zombies, started no earlier than self, have
 * `entry` ("NAME=value", matched whole) among the environment they were exec'd with. Processes
 * whose environment cannot be read (another user's) do not count. -1 when /proc cannot be
 * listed.
 */
int hg_proc_count_with_env(const char *entry, pid_t self);

#endif /* HG_PROC_ENV_H */
