/*
 * fixtures.h - helpers shared by the unit tests: scratch files, record builders, reading a
 * trace back, and a collector with the test's own mapping of its ring
 *
 * Every helper fails the current test (ck_assert) rather than returning an error, so tests read
 * as a list of steps. Nothing here keeps state between tests except through its arguments.
 */
#ifndef HG_TEST_FIXTURES_H
#define HG_TEST_FIXTURES_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "hg_format.h"

struct hg_replay;
struct hg_trace_writer;

#define FX_PATH_BYTES 256

/*
 * An assertion for hot loops. Check's ck_assert_* records a mark point on every call that
 * passes (a write to the runner in fork mode), which would dominate a test of a million
 * operations; this calls into Check only when the condition fails.
 */
#define FX_REQUIRE(cond, ...)                                                              \
	do {                                                                               \
		if (!(cond))                                                               \
			ck_abort_msg(__VA_ARGS__);                                         \
	} while (0)

/* A fresh directory under $TMPDIR (or /tmp) for one test; fx_scratch_remove deletes it. */
struct fx_scratch {
	char dir[FX_PATH_BYTES];
};

void fx_scratch_make(struct fx_scratch *s);
void fx_scratch_remove(struct fx_scratch *s);
/* dir/name into out (FX_PATH_BYTES). */
void fx_scratch_file(const struct fx_scratch *s, const char *name, char *out);

/* The trace suite's checked fixture: a scratch directory, fx_trace_dir, and the path of t.hgt
 * in it, fx_trace_path; stderr restored and the directory removed after. */
extern struct fx_scratch fx_trace_dir;
extern char fx_trace_path[FX_PATH_BYTES];
void fx_trace_setup(void);
void fx_trace_teardown(void);

/*
 * Send stderr to /dev/null (for tests that provoke error messages on purpose) until
 * fx_restore_stderr, which the fixtures' teardowns call (it matters with CK_FORK=no only).
 */
void fx_quiet_stderr(void);
void fx_restore_stderr(void);
/* The same into the file at path (created or truncated), to compare what was said. */
void fx_stderr_to(const char *path);

/* A growing byte buffer of whole records. */
struct fx_buf {
	uint8_t *p;
	size_t len, cap;
};

void fx_buf_release(struct fx_buf *b);
/* Append n bytes; returns where they start in b->p. */
size_t fx_buf_put(struct fx_buf *b, const void *bytes, size_t n);

/*
 * Record builders: append one record exactly as the shim lays it out (zero padding, sizes a
 * multiple of 8) and return its offset in b. cmdline holds cmdline_bytes bytes (NUL-separated
 * argv); exe and path are NUL-terminated strings.
 */
size_t fx_alloc(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t size_bytes,
		uint32_t stack_id, uint8_t fn);
size_t fx_free(struct fx_buf *b, uint64_t t_ns, uint64_t addr);
size_t fx_stack(struct fx_buf *b, uint32_t stack_id, uint32_t n_frames, const uint64_t *ip);
size_t fx_module(struct fx_buf *b, uint16_t flags, uint64_t t_ns, uint64_t load_bias,
		 uint32_t n_segments, const struct hg_segment *seg, const uint8_t *build_id,
		 uint16_t build_id_bytes, const char *path);
size_t fx_unmodule(struct fx_buf *b, uint64_t t_ns, uint64_t load_bias);
size_t fx_process(struct fx_buf *b, uint16_t flags, uint64_t t_ns, uint32_t pid, uint32_t ppid,
		  const char *cmdline, uint32_t cmdline_bytes, const char *exe,
		  uint32_t max_frames);
size_t fx_exit(struct fx_buf *b, uint64_t t_ns, uint32_t pid, int32_t status, uint32_t source);
/* The same, as reaper_pid's wait saw it. */
size_t fx_exit_reaped(struct fx_buf *b, uint64_t t_ns, uint32_t pid, int32_t status,
		      uint32_t source, uint32_t reaper_pid);
size_t fx_loss(struct fx_buf *b, uint64_t t_ns, uint32_t pid, uint32_t reason,
	       uint64_t n_events, uint64_t n_bytes);
size_t fx_origin(struct fx_buf *b, uint32_t pid, uint32_t tid);
size_t fx_tracer(struct fx_buf *b, uint64_t t_ns, uint64_t tables_bytes, uint64_t ring_bytes);
size_t fx_mmap(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t length_bytes,
	       uint32_t stack_id);
size_t fx_munmap(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t length_bytes);
/* A PROT_NONE anonymous mapping (reserved address space), and an mprotect. */
size_t fx_mmap_none(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t length_bytes,
		    uint32_t stack_id);
size_t fx_mprotect(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t length_bytes,
		   uint32_t prot);
size_t fx_mremap(struct fx_buf *b, uint64_t t_ns, uint64_t old_addr, uint64_t old_bytes,
		 uint64_t new_addr, uint64_t new_bytes, uint32_t stack_id, uint32_t flags);
size_t fx_end(struct fx_buf *b, uint16_t flags, uint64_t t_ns);

/* A trace read back with hg_trace_reader: a copy of every record it handed out. */
struct fx_rec {
	struct hg_rec *rec; /* copy of rec->size_bytes bytes */
	uint32_t pid, tid;
	uint64_t offset;    /* file offset of the block that held it */
};

struct fx_trace {
	struct fx_rec *r;       /* every record but the collector's HG_REC_HORIZONs */
	size_t n, cap;
	size_t n_horizons;      /* those are counted here */
	uint64_t last_horizon_ns;
	int rc;                 /* last hg_trace_reader_next result: 0 clean end, -1 damage */
	char damage[512];       /* the reader's description when rc is -1 */
	uint64_t damage_offset;
};

/* Read every record of path; fails the test when the file does not open. */
void fx_read(const char *path, struct fx_trace *t);
void fx_trace_release(struct fx_trace *t);
/* Records of this type. */
size_t fx_count(const struct fx_trace *t, uint16_t type);

/* Whole file into memory (malloc'd; *n set); fails the test on error. */
uint8_t *fx_slurp(const char *path, size_t *n);
/* The file's first 64 bytes, as its header; fails the test on error, a shorter file or a
 * header whose CRC does not match. */
void fx_read_file_header(const char *path, struct hg_trace_header *fh);
/* Replace path's contents. */
void fx_spit(const char *path, const void *bytes, size_t n);

/*
 * A collector as `heapgraph record` makes it (hg_collector_create: a fresh /dev/shm ring) with a
 * trace file in a scratch directory, plus the test's own MAP_SHARED mapping of the ring, which
 * is what a traced process maps. The ring file is unlinked at once, so a failing test leaves
 * nothing in /dev/shm; the mappings keep it alive.
 */
struct fx_rig {
	struct hg_collector *c;
	struct hg_ring_header *ring; /* the producer's view */
	size_t ring_bytes;
	struct fx_scratch scratch;
	char trace[FX_PATH_BYTES];
};

void fx_rig_open(struct fx_rig *g, uint32_t n_slots, uint32_t slot_bytes, int zstd_level);
/* hg_collector_finish, then read the trace into t. */
void fx_rig_finish(struct fx_rig *g, struct fx_trace *t);
void fx_rig_close(struct fx_rig *g);

struct hg_ring_slot *fx_slot(struct hg_ring_header *r, uint32_t i);
uint8_t *fx_slot_data(struct hg_ring_header *r, uint32_t i);

/*
 * A synthetic trace for the replay's tests: records built by hand into b, written as blocks
 * with the real writer to a file in a scratch directory, then replayed into r.
 */
struct fx_replay_rig {
	struct fx_scratch scratch;
	char path[FX_PATH_BYTES];
	struct hg_trace_writer *w; /* NULL once closed */
	struct fx_buf b;           /* records of the next block */
	struct hg_replay *r;       /* NULL until replayed */
};

/* Scratch directory, trace file `name` in it, open writer, empty buffer. */
void fx_replay_rig_open(struct fx_replay_rig *g, const char *name);
/* Write what b holds as one block of thread (pid, tid), and empty b. */
void fx_replay_rig_block(struct fx_replay_rig *g, uint32_t pid, uint32_t tid);
/* Close the trace and replay it (hg_replay_file_at with flags and at_ns); fails the test on
 * error. */
struct hg_replay *fx_replay_rig_run(struct fx_replay_rig *g, unsigned flags, uint64_t at_ns);
/* Everything released and removed; the rig can be opened again. */
void fx_replay_rig_close(struct fx_replay_rig *g);

/* Kernel thread id of the caller. */
uint32_t fx_gettid(void);

/*
 * Checks and builders that the trace suite's files (check_trace*.c) share.
 */
/* Records from index `from` of t are b's records, byte for byte, from (pid, tid). Returns the
 * index after them. */
size_t fx_expect_records(const struct fx_trace *t, size_t from, const struct fx_buf *b,
			 uint32_t pid, uint32_t tid);
/* Record i of t is an END record with these flags, from the collector's pid 0, tid 0. */
void fx_expect_end(const struct fx_trace *t, size_t i, uint16_t flags);
/* Append a block made by hand: codec as given, CRCs computed here, zero padding to 8 bytes. */
void fx_put_block(struct fx_buf *file, uint32_t codec, const void *stored,
		  uint32_t stored_bytes, uint32_t raw_bytes, uint32_t pid, uint32_t tid);
/* Append a file header of header_bytes (its struct and at most 256 bytes more): magic and
 * version set, all else zero. */
void fx_put_file_header(struct fx_buf *file, uint32_t header_bytes);

/*
 * What the ring suite's files (check_ring*.c) share: this thread as a producer of a collector's
 * ring, and the records it writes. fx_ring_open sets hg_self_pid, check_ring.c's test double
 * of lifecycle.c's.
 */
#define FX_SLOT_64K HG_RING_MIN_SLOT_BYTES

/* A collector with a ring of this shape (fx_rig_open, zstd level 0), and this thread attached
 * to it as a producer of pid getpid(). */
void fx_ring_open(struct fx_rig *g, uint32_t n_slots, uint32_t slot_bytes);
/* This thread detached from the ring and its slot forgotten; t released, g closed. The ring
 * suite's teardown: fine on the zeroed g and t of a test that opened nothing. */
void fx_ring_close(struct fx_rig *g, struct fx_trace *t);
/* The ring suite's checked fixture: fx_ring_rig and fx_ring_tr zeroed before a test, and
 * fx_ring_close'd after. */
extern struct fx_rig fx_ring_rig;
extern struct fx_trace fx_ring_tr;
void fx_ring_setup(void);
void fx_ring_teardown(void);
/* Record `seq` of producer `who`: every field derived from both, so any mix-up shows. */
struct hg_rec_alloc fx_rec_of(uint32_t who, uint32_t seq);
/* The ALLOC records of t from (pid, tid) are exactly fx_rec_of(who, 0 .. m-1), in order. */
void fx_expect_sequence(const struct fx_trace *t, uint32_t pid, uint32_t tid, uint32_t who,
			uint32_t m);
/* Index of slot s in ring r. */
uint32_t fx_slot_index(struct hg_ring_header *r, const struct hg_ring_slot *s);
/* The window a slot of r has when claimed (HG_RING_FIRST_WINDOW, or the slot if smaller): what
 * a producer writes through before it waits for the collector, unless it widens. */
uint32_t fx_first_window(const struct hg_ring_header *r);
void fx_sleep_us(long us);
/* A pid (and main-thread tid) that no longer exists: a child that exited and was reaped. */
uint32_t fx_dead_pid(void);

/*
 * Run fn in a child process whose main thread has called pthread_exit: fn runs on a second
 * thread once the main thread is a zombie (or after 10 s of waiting for it), writes what it
 * found to fd, and the child exits 0. fn must not call Check (it is not the test's process).
 * Reads up to n bytes of what fn wrote into out and returns how many; fails the test when
 * the child does not exit 0.
 */
size_t fx_after_main_exit(void (*fn)(int fd), void *out, size_t n);

/*
 * Test cases of the replay and collector suites that live in files of their own
 * (check_replay_<theme>.c, check_collector_<theme>.c). Each returns a new TCase, fixture and
 * tests added, for replay_suite or collector_suite to add to its suite.
 */
TCase *replay_merge_tcase(void);      /* "merge": threads' blocks merged by time, horizons */
TCase *replay_procs_tcase(void);      /* "processes": fork, exec, exit, snapshots, modules */
TCase *collector_records_tcase(void); /* "own_records": exits, losses, horizons */
TCase *collector_attach_tcase(void);  /* "attach": bare mode's rings */

/*
 * Test cases of the trace and ring suites that live in files of their own
 * (check_trace_<theme>.c, check_ring_<theme>.c). Each returns a new TCase, fixture and tests
 * added, for trace_suite or ring_suite to add to its suite.
 */
TCase *trace_writer_tcase(void);       /* "writer": block layout, file header, mode */
TCase *trace_truncation_tcase(void);   /* "truncation": a trace cut at every offset */
TCase *trace_damage_tcase(void);       /* "damage": flipped bytes, bad headers and records */
TCase *write_behind_tcase(void);       /* "write_behind": the collector's writing thread */
TCase *ring_back_pressure_tcase(void); /* "back_pressure": full slots, holds, collector gone */
TCase *ring_threads_tcase(void);       /* "threads": many producers, overflow slot, sync */
TCase *ring_processes_tcase(void);     /* "processes": dead producers, exec, dead lock holder */

#endif /* HG_TEST_FIXTURES_H */
