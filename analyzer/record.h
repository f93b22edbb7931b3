/*
 * record.h - run a program under the shim and collect its trace (shared by `record` and `check`)
 */
#ifndef HG_RECORD_H
#define HG_RECORD_H

#include "collector.h"
#include "hg_format.h"

/* The collector's defaults: 64 slots of 1 MiB, the shim's depth, zstd 3, RSS every 10 ms. */
#define HG_RECORD_DEFAULT_RING                                                               \
	{ HG_RING_DEFAULT_SLOTS, HG_RING_DEFAULT_SLOT_BYTES, 0, HG_DEFAULT_ZSTD_LEVEL, 10, 0, 0, \
	  HG_DEFAULT_TIME_RESOLUTION_NS, HG_DEFAULT_ORPHANS_NS }

/*
 * Run argv[0] (searched in PATH) with the shim preloaded and write the trace of it and of every
 * process it starts to trace_path; NULL means heapgraph.<pid>.hgt, pid of the program, in the
 * current directory. SIGINT/SIGQUIT/SIGTERM/SIGHUP are handled as `record` documents. On
 * return *path holds the trace path used (cap bytes; trace_path may be path itself) and
 * *wait_status the program's waitpid status. Returns 0; 1 when the program could not be
 * executed (reported; no trace is left, and *wait_status holds exit 127 or 126, as a shell
 * gives); -1 when it could not be started or the trace could not be created (reported;
 * nothing ran, or the program was reaped). A trace that could not be written completely is
 * reported and still returns 0: what was written is readable up to the damage.
 */
int hg_record_run(const struct hg_collector_opts *ring, const char *trace_path, char **argv,
		  int quiet, char *path, size_t cap, int *wait_status);

/*
 * untraced.c: 1 when the file execvp would run for prog (through "#!" interpreters) is a
 * statically linked executable, which LD_PRELOAD cannot reach; that file in file (cap bytes).
 * 0 otherwise, or when it cannot be told.
 */
int hg_untraced_static(const char *prog, char *file, size_t cap);

/* A waitpid status as a shell would show it: the exit code, or 128+N when signal N killed it. */
int hg_record_exit_code(int wait_status);

/* --time-resolution DURATION of `cmd`: 1ns to 100ms into *ns; 0, or a usage error's status. */
int hg_parse_time_resolution(const char *cmd, const char *arg, uint32_t *ns);

#endif /* HG_RECORD_H */
