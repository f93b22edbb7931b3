/*
 * collector.h - consumer side of the shared-memory ring: drain slots into a trace file
 */
#ifndef HG_COLLECTOR_H
#define HG_COLLECTOR_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

struct hg_collector_opts {
	uint32_t n_slots;    /* ring slots, including the shared overflow slot */
	uint32_t slot_bytes; /* bytes per slot, power of two */
	uint32_t max_frames; /* stack depth the shim captures (0: its default) */
	int zstd_level;      /* block compression, 0 = none */
	uint32_t rss_interval_ms; /* sample each traced process's RSS this often; 0 = never */
	uint64_t snapshot_every_ns; /* ask each traced process for a snapshot this often; 0 =
				       never (record --snapshot-every) */
	int snapshot_signal;      /* the signal the shim snapshots on (HEAPGRAPH_SNAPSHOT_SIGNAL) */
	uint32_t time_resolution_ns; /* round ALLOC and FREE times to this (record
					 --time-resolution); 0 or 1: exact */
	uint64_t orphans_ns; /* once the root ended, how long to go on recording the processes
				it left running (record --orphans); UINT64_MAX: until they end */
};

/* A daemon the program starts would otherwise keep `record` waiting for ever. */
#define HG_DEFAULT_ORPHANS_NS (10ull * 1000000000ull)

/*
 * How far HG_REC_HORIZON stays below what a pass has seen: room for a producer that took its
 * timestamp just before the pass and published just after. The shim stamps an allocation once
 * its stack is captured, and holds the horizon itself (hg_ring_hold) where more may come
 * between a time and its record (a large realloc or munmap, a snapshot, a wait for the file),
 * so what remains is a copy into the ring (or the overflow slot's lock, for threads beyond the
 * slots), and a preemption in the middle of it. The replay keeps every event back until a
 * horizon passes it: at 20 ms its queues held 4-13 MB, and the report of a CPython trace took
 * 0.54 s; at 5 ms, 0.47 s (2 ms: no faster).
 */
#define HG_HORIZON_MARGIN_NS (5u * 1000000u)

/* The zstd level of a trace written without --compression (and in bare mode): level 6 costs
 * the collector no more time than 3 on traces, and makes them 3-7% smaller. */
#define HG_DEFAULT_ZSTD_LEVEL 6

/* The resolution of a trace written without --time-resolution (and in bare mode). */
#define HG_DEFAULT_TIME_RESOLUTION_NS 1000000u

struct hg_collector_stats {
	uint64_t n_records;   /* records moved to the trace */
	uint64_t n_allocs;    /* of which allocations */
	uint64_t n_frees;     /* of which frees */
	uint64_t n_processes; /* process images that started */
	uint64_t raw_bytes;   /* record bytes moved */
	uint64_t busy_bytes;  /* of which compressed the faster way: the machine was busy */
	uint64_t quick_bytes; /* of those, also packed without references: busier still */
	uint64_t file_bytes;  /* trace file size */
	uint64_t lost_events; /* events the shim could not record */
	uint64_t n_foreign_malloc; /* process images whose malloc is their own (untraced) */
	char foreign_exe[256]; /* the first of those's executable */
	int write_failed;     /* the trace could not be written completely */
};

struct hg_collector;

/*
 * Record mode: create a fresh ring file in /dev/shm (0600, never through a symlink).
 * Returns NULL after printing an error.
 */
struct hg_collector *hg_collector_create(const struct hg_collector_opts *opts);

/* Bare mode: map the ring that the shim created at ring_path and claim it. */
struct hg_collector *hg_collector_attach(const char *ring_path);

/* Sample RSS every interval_ms (0: never); before hg_collector_open_trace, which notes it in
 * the file header. hg_collector_create takes opts->rss_interval_ms; hg_collector_attach (bare
 * mode) starts at 10 ms. */
void hg_collector_set_rss_interval(struct hg_collector *c, uint32_t interval_ms);

/* Round ALLOC and FREE times to ns (0 or 1: exact); before hg_collector_open_trace.
 * hg_collector_create takes opts->time_resolution_ns; hg_collector_attach starts at
 * HG_DEFAULT_TIME_RESOLUTION_NS. */
void hg_collector_set_time_resolution(struct hg_collector *c, uint32_t ns);

/* Create the trace file (before hg_collector_run). Returns 0, or -1 after printing an error. */
int hg_collector_open_trace(struct hg_collector *c, const char *trace_path, int zstd_level);

/* Path of the ring file, for HEAPGRAPH_RING. */
const char *hg_collector_ring_path(const struct hg_collector *c);

/*
 * Drain until the traced processes are gone, then finish the trace. `root` is the first traced
 * process; when root_is_child, the collector reaps it and records its exit status in the trace
 * and in *root_status (a waitpid status). It keeps draining while any process still owns a
 * slot, for at most the orphans time of its options; *stop (set by a signal handler) ends
 * that wait early once the root is gone. Processes still running then are named in a note on
 * stderr; their images end unrecorded.
 * Returns 0, or -1 when the trace could not be written completely (already reported).
 */
int hg_collector_run(struct hg_collector *c, pid_t root, int root_is_child,
		     volatile sig_atomic_t *stop, int *root_status);

/* Totals for the summary line; valid after hg_collector_run. */
const struct hg_collector_stats *hg_collector_stats(const struct hg_collector *c);

/* Unmap and delete the ring, free c. The trace file is already closed by run. */
void hg_collector_free(struct hg_collector *c);

/* One drain pass over every slot; returns bytes moved. Exposed for tests. */
uint64_t hg_collector_drain(struct hg_collector *c);

/* Flush staged records to the file; close it. Exposed for tests. */
int hg_collector_finish(struct hg_collector *c);

#endif /* HG_COLLECTOR_H */
