/*
 * collector.c - consumer side of the shared-memory ring: drain slots into a trace file
 *
 * One pass visits every slot: load-acquire its head, copy [tail, head) into that slot's staging
 * buffer, store-release the new tail (which frees the room for the producer). Slots whose owner
 * released them, or whose owning process is dead, are drained one last time and returned to
 * FREE. A producer that died half-way through a record never published it, so its slot simply
 * holds nothing more: no producer can stall the collector.
 *
 * Staging: records are batched per slot and all staging buffers are flushed together, at most
 * every 50 ms or once 1 MiB is staged. Flushing them together keeps the file ordered by time to
 * within one flush interval, which is what lets the analyzer merge threads with a short window.
 * A flush hands the buffers to a second thread that packs, compresses and writes them
 * (write_behind.c), so that draining never stops for it.
 *
 * The collector's own records (a process's exit status from waitpid, lost-event counts) go
 * into blocks with pid 0.
 *
 * Periodic snapshots (record --snapshot-every) are asked for with the snapshot signal, sent
 * with sigqueue to every traced process (each pid owning a slot) that has a handler for it:
 * its /proc/PID/status says the signal is caught, so a process whose shim has not installed
 * the handler yet (just exec'd) is skipped rather than killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "collector.h"
#include "diag.h"
#include "hg_format.h"
#include "hg_futex.h"
#include "live_count.h"
#include "procfs.h"
#include "ring_sweep.h"
#include "timegrid.h"
#include "trace_writer.h"
#include "write_behind.h"

#define FLUSH_NS (50u * 1000000u)
#define FLUSH_BYTES (1u << 20)

/*
 * After a pass that found little in every slot: let the producers run ahead for LAG_NS before
 * the next. A collector on the producer's heels reads each cache line of the slot while it
 * is still being written, and the slot's head after every record: each such read takes the
 * line away from the producer's core, whose next store then waits to get it back. That cost
 * the traced sqlite3 of bench/ 8% of its time. Half a millisecond is a sixth of what a
 * 1 MiB slot holds at sqlite3's rate. Past an eighth of a slot, or past half the slot's
 * window (the producer would fill the rest during the nap), or with a producer waiting for
 * room, the collector goes straight on, and a producer that begins to wait wakes it. The
 * window's half keeps up with a burst through a small window: cc1 writing 150 MB/s for a few
 * milliseconds into 128 KiB waited five times in a row and doubled its window (and its
 * resident ring) in about one run of two.
 *
 * A producer that has to wait while the collector naps (a burst the nap is too long for: cc1
 * writing 150 MB/s into a 64 KiB window fills it in 0.4 ms) wakes it, and the collector then
 * halves its nap, down to LAG_MIN_NS; each nap that ends undisturbed lengthens it by a
 * LAG_GROWTH-th, back up to LAG_NS. Four such waits in a short while double a window (ring.c).
 * With this and the short idle naps after a wake (idle()), cc1's window ended at 128 KiB in 8
 * runs of 8, where it had ended at 256 KiB in 7 of 8 (its ring 140 KiB against 268, 9.5% of
 * its heap's peak with the shim's tables against 13%), in the same time.
 */
#define LAG_NS 500000
#define LAG_MIN_NS 50000
#define LAG_GROWTH 16
#define LAG_SLOT_SHARE 8
#define LAG_WINDOW_SHARE 2

#define OWNER_CHECK_NS (100u * 1000000u)
/* ... or this often while fewer than a quarter of the slots are free (a loop starting
 * processes faster than their slots come back: each check reads /proc once per slot) */
#define OWNER_CHECK_SCARCE_NS (2u * 1000000u)

struct stage {
	uint32_t pid, tid; /* producer of the staged bytes */
	uint8_t *buf;
	size_t len, cap;
	size_t copied;     /* bytes past len copied from the slot, not checked yet */
};

struct hg_collector {
	struct hg_ring_header *ring;
	size_t ring_bytes;
	char *ring_path;
	struct hg_trace_writer *w; /* until writing starts, and once it stopped */
	struct hg_write_behind *wb; /* writes the flushed stages, in its own thread */
	struct stage *stages;      /* one per slot, plus one for the collector's own records */
	size_t staged;             /* bytes staged across all stages */
	uint64_t last_flush_ns;
	uint64_t last_owner_check_ns;
	uint64_t lost_reported;    /* ring lost_events already written as LOSS */
	uint64_t lost_bytes_reported; /* and their lost_bytes */
	uint64_t rss_interval_ns;  /* 0: no RSS sampling */
	uint64_t last_rss_ns;
	uint64_t snapshot_every_ns; /* 0: no periodic snapshots */
	uint64_t orphans_ns;       /* hg_collector_opts.orphans_ns */
	uint64_t forks_announced;  /* HG_REC_FORK records: a parent is about to fork */
	uint64_t forks_started;    /* PROCESS records of fork children */
	uint64_t spawn_scan_ns;    /* when spawns_pending last looked; 0: not yet */
	int spawns_seen;           /* what it found then */
	int snapshot_signal;
	uint64_t t0_ns;            /* when recording began: periodic labels count from here */
	uint64_t snapshots_asked;  /* periodic requests made so far */
	uint32_t *pids;            /* n_slots entries: scratch for traced_pids */
	uint64_t garbage_bytes;    /* ring bytes that were not well-formed records */
	uint64_t garbage_reported; /* of which written as LOSS (HG_LOSS_DEAD_WRITER) */
	uint64_t horizon_ns;       /* what the last complete pass vouches for (HG_REC_HORIZON) */
	uint64_t horizon_written;
	uint64_t ov_free_since;    /* since when the overflow slot's lock has been seen free while
				      its stall_ns was set (overflow_hold) */
	uint64_t busy_wall_ns, busy_cpu_ns; /* where the last look at the collector's load began */
	uint64_t idle_ticks, all_ticks;     /* and the machine's, from /proc/stat */
	enum hg_pack_mode mode;    /* how blocks are written now (watch_load) */
	uint32_t free_slots;       /* slots the last drain pass found free */
	int pass_crowded;          /* the last drain pass found a slot filling up (crowded) */
	int pass_stalled;          /* the last drain pass found a producer waiting for room */
	uint32_t wake_seen;        /* the ring's wake_seq as the last pass began */
	uint64_t lag_ns;           /* the nap after a pass (lag()): LAG_MIN_NS to LAG_NS */
	uint64_t woken_ns;         /* when a producer last cut a nap short; 0: never */
	struct hg_timegrid grid;   /* rounds event times (record --time-resolution) */
	struct hg_live_count live; /* blocks live per process: the header's hint */
	struct hg_collector_stats st;
};

static struct hg_ring_slot *slot(struct hg_collector *c, uint32_t i)
{
	return (struct hg_ring_slot *)((uint8_t *)c->ring + HG_RING_HEADER_BYTES) + i;
}

static uint8_t *slot_data(struct hg_collector *c, uint32_t i)
{
	return (uint8_t *)c->ring + c->ring->data_offset + (uint64_t)i * c->ring->slot_bytes;
}

static struct hg_collector *collector_new(struct hg_ring_header *ring, size_t bytes,
					  const char *ring_path)
{
	struct hg_collector *c = hg_xcalloc(1, sizeof(*c));

	hg_trace_clock_use(&ring->clock);
	c->ring = ring;
	c->ring_bytes = bytes;
	c->ring_path = hg_xstrdup(ring_path);
	c->stages = hg_xcalloc(ring->n_slots + 1, sizeof(*c->stages));
	c->pids = hg_xcalloc(ring->n_slots, sizeof(*c->pids));
	c->last_flush_ns = c->last_owner_check_ns = c->t0_ns = hg_trace_ns();
	c->lag_ns = LAG_NS;
	c->rss_interval_ns = 10ull * 1000000ull;
	c->grid.res_ns = HG_DEFAULT_TIME_RESOLUTION_NS;
	c->orphans_ns = UINT64_MAX; /* bare mode: nobody waits for the collector */
	return c;
}

void hg_collector_set_rss_interval(struct hg_collector *c, uint32_t interval_ms)
{
	c->rss_interval_ns = (uint64_t)interval_ms * 1000000ull;
}

void hg_collector_set_time_resolution(struct hg_collector *c, uint32_t ns)
{
	c->grid.res_ns = ns;
}

int hg_collector_open_trace(struct hg_collector *c, const char *trace_path, int zstd_level)
{
	c->w = hg_trace_writer_open(trace_path, zstd_level);
	if (c->w && (hg_trace_writer_time_resolution(c->w, (uint32_t)c->grid.res_ns) < 0 ||
		     hg_trace_writer_rss_interval(c->w,
						  (uint32_t)(c->rss_interval_ns / 1000000u)) < 0)) {
		hg_trace_writer_close(c->w);
		c->w = NULL;
	}
	if (!c->w)
		return -1;
	c->wb = hg_write_behind_start(c->w);
	c->w = NULL;
	return 0;
}

struct hg_collector *hg_collector_create(const struct hg_collector_opts *o)
{
	struct hg_collector *c;
	char path[256];
	uint64_t bytes = hg_ring_file_bytes(o->n_slots, o->slot_bytes), now;
	const char *clock_env = getenv(HG_ENV_CLOCK);
	int fd, use_tsc = hg_clock_env_parse(clock_env);
	struct hg_ring_clock clock;
	void *p;

	if (use_tsc < 0) {
		hg_error("%s='%s': expected 'tsc' or 'monotonic'", HG_ENV_CLOCK, clock_env);
		return NULL;
	}
	hg_clock_calibrate(&clock, use_tsc);
	/* The name's time is CLOCK_MONOTONIC's: only its order against others' matters. */
	now = hg_clock_monotonic_ns();
	hg_ring_sweep(HG_RING_DIR, now);
	snprintf(path, sizeof(path), HG_RING_DIR "/" HG_RING_NAME_PREFIX "%d.%llu" HG_RING_NAME_SUFFIX,
		 (int)getpid(), (unsigned long long)now);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		hg_error("cannot create ring '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (ftruncate(fd, (off_t)bytes) < 0 ||
	    (p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		int e = errno;

		/* /dev/shm full, or an address-space limit (ulimit -v): a smaller ring may fit
		 * (not a file size limit, ulimit -f, which the ring itself is over). */
		hg_error("cannot size ring '%s' to %llu bytes: %s%s", path,
			 (unsigned long long)bytes, strerror(e),
			 e == ENOMEM || e == ENOSPC ?
				 " (a smaller ring needs less: record --slots 8 --slot-size 256K, "
				 "and --compression 3 for the trace)" : "");
		close(fd);
		unlink(path);
		return NULL;
	}
	close(fd);
	hg_ring_header_init(p, o->n_slots, o->slot_bytes, (uint32_t)getpid(), o->max_frames,
			    &clock);
	c = collector_new(p, bytes, path);
	hg_collector_set_rss_interval(c, o->rss_interval_ms);
	hg_collector_set_time_resolution(c, o->time_resolution_ns);
	c->snapshot_every_ns = o->snapshot_every_ns;
	c->orphans_ns = o->orphans_ns;
	c->snapshot_signal = o->snapshot_signal;
	return c;
}

struct hg_collector *hg_collector_attach(const char *ring_path)
{
	int fd;
	struct stat sb;
	struct hg_ring_header *r;
	void *p = MAP_FAILED;

	hg_ring_sweep(HG_RING_DIR, hg_clock_monotonic_ns());
	if ((fd = open(ring_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		hg_error("cannot open ring '%s': %s", ring_path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) == 0 && (size_t)sb.st_size >= HG_RING_HEADER_BYTES)
		p = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		hg_error("cannot map ring '%s'", ring_path);
		return NULL;
	}
	r = p;
	if (!hg_ring_header_valid(r, (uint64_t)sb.st_size)) {
		hg_error("ring '%s' is not a heapgraph ring of version %d", ring_path,
			 HG_RING_VERSION);
		munmap(p, (size_t)sb.st_size);
		return NULL;
	}
	__atomic_store_n(&r->collector_pid, (uint32_t)getpid(), __ATOMIC_RELEASE);
	return collector_new(r, (size_t)sb.st_size, ring_path);
}

const char *hg_collector_ring_path(const struct hg_collector *c)
{
	return c->ring_path;
}

const struct hg_collector_stats *hg_collector_stats(const struct hg_collector *c)
{
	return &c->st;
}

/* A process whose malloc is its own: counted, and the first one's executable kept, for the
 * summary's warning. */
static void note_foreign_malloc(struct hg_collector *c, const struct hg_rec_process *p)
{
	const char *tail = (const char *)(p + 1);
	uint64_t room = p->hdr.size_bytes - sizeof(*p);

	if (!c->st.n_foreign_malloc++ && p->cmdline_bytes < room && p->exe_bytes &&
	    p->exe_bytes <= room - p->cmdline_bytes)
		snprintf(c->st.foreign_exe, sizeof(c->st.foreign_exe), "%.*s",
			 (int)p->exe_bytes, tail + p->cmdline_bytes);
}

/*
 * Count what the records are, for the summary, and return how many leading bytes are well
 * formed records. Producers write whole records, but the ring is writable by every traced
 * process, so a size is never trusted: a zero or overlong one ends the walk there.
 */
static size_t tally(struct hg_collector *c, const uint8_t *p, size_t n)
{
	size_t ok = 0;
	/* Counted in locals: the compiler keeps them in registers, not in c across the loop. */
	uint64_t records = 0, allocs = 0, frees = 0, processes = 0, forks = 0, fork_starts = 0;

	while (n - ok >= sizeof(struct hg_rec)) {
		const struct hg_rec *r = (const struct hg_rec *)(p + ok);
		if (r->size_bytes < sizeof(*r) || r->size_bytes % 8 || r->size_bytes > n - ok)
			break;
		records++;
		allocs += r->type == HG_REC_ALLOC;
		frees += r->type == HG_REC_FREE;
		processes += r->type == HG_REC_PROCESS;
		forks += r->type == HG_REC_FORK;
		fork_starts += r->type == HG_REC_PROCESS && (r->flags & HG_PROCESS_FORK);
		if (HG_UNLIKELY(r->type == HG_REC_PROCESS && (r->flags & HG_PROCESS_FOREIGN_MALLOC)))
			note_foreign_malloc(c, (const struct hg_rec_process *)(const void *)r);
		ok += r->size_bytes;
	}
	c->st.n_records += records;
	c->st.n_allocs += allocs;
	c->st.n_frees += frees;
	c->st.n_processes += processes;
	c->forks_announced += forks;
	c->forks_started += fork_starts;
	return ok;
}

/* Hand the stage to the writing thread; it goes on with an empty buffer. In the overflow
 * slot's stream a record belongs to the ORIGIN before it. */
static void flush_stage(struct hg_collector *c, struct stage *s)
{
	int overflow = s == &c->stages[c->ring->n_slots - 1];

	hg_write_behind_stage(c->wb, s->pid, s->tid, overflow, &s->buf, &s->cap, s->len);
	/* Counted as written: a stage is flushed early too, when its slot changes hands. */
	if (c->mode != HG_PACK_FULL)
		c->st.busy_bytes += s->len;
	if (c->mode == HG_PACK_QUICK)
		c->st.quick_bytes += s->len;
	c->staged -= s->len;
	s->len = 0;
}

static const uint8_t *append_own(struct hg_collector *c, const void *rec, uint32_t n);

/*
 * Every BUSY_WINDOW_NS, how busy the collector and the machine were. When the collector works
 * most of the time and the machine has no idle CPU left (a program allocating on every core of
 * a small machine), the collector competes with the program: it steps down one mode of the
 * writer (hg_pack_mode): first to a faster zstd level (60% of the work, a trace 3-20% larger),
 * then, when even that keeps it busy three quarters of the time, to packing events on their
 * own (a quarter of the work, a trace two to three times larger); back to the busy mode when
 * the quick one keeps it busy less than 30% of the time, to the full one once the machine has
 * room again. A collector with a core to itself keeps writing the small trace however busy it
 * is. On the bench's 2-thread churn on 2 CPUs the first step is where it stays: 3.40 s and
 * 42 MB, where stepping down at once to packing on their own (as the collector did before it
 * had the busy mode) took 3.06 s and 95 MB, the full mode 3.82 s and 40 MB.
 */
#define BUSY_WINDOW_NS (200u * 1000000u)
#define BUSY_HIGH 0.5  /* CPU seconds of both the collector's threads per second of wall
			  time, to leave the full mode */
#define BUSY_QUICK 0.75 /* the same, to leave the busy mode */
#define BUSY_BACK 0.3  /* the same, under which the quick mode steps back to the busy one (it
			  is a quarter to half the busy mode's work) */
#define IDLE_LOW 0.06  /* the machine's idle share */
#define IDLE_HIGH 0.25

static void watch_load(struct hg_collector *c)
{
	/* The collector's work: its draining thread's and its writing thread's, the only two
	 * threads of the process while it records. */
	uint64_t wall = hg_trace_ns(), cpu = hg_clock_ns(CLOCK_PROCESS_CPUTIME_ID), idle = 0, all = 0;
	double busy, idle_share = 1.0;

	if (wall - c->busy_wall_ns < BUSY_WINDOW_NS)
		return;
	busy = (double)(cpu - c->busy_cpu_ns) / (double)(wall - c->busy_wall_ns);
	if (hg_proc_cpu_ticks(&idle, &all) && all > c->all_ticks)
		idle_share = (double)(idle - c->idle_ticks) / (double)(all - c->all_ticks);
	if (c->busy_wall_ns && idle_share < IDLE_LOW && c->mode == HG_PACK_FULL && busy > BUSY_HIGH)
		c->mode = HG_PACK_BUSY;
	else if (c->busy_wall_ns && idle_share < IDLE_LOW && busy > BUSY_QUICK)
		c->mode = HG_PACK_QUICK;
	else if (idle_share > IDLE_HIGH)
		c->mode = HG_PACK_FULL;
	else if (c->mode == HG_PACK_QUICK && busy < BUSY_BACK)
		c->mode = HG_PACK_BUSY;
	/* A trace written without compression has one way only. */
	if (!hg_write_behind_mode(c->wb, c->mode))
		c->mode = HG_PACK_FULL;
	c->busy_wall_ns = wall;
	c->busy_cpu_ns = cpu;
	c->idle_ticks = idle;
	c->all_ticks = all;
}

static void flush_all(struct hg_collector *c)
{
	watch_load(c);
	if (c->horizon_ns > c->horizon_written) {
		struct hg_rec_horizon rec = { { HG_REC_HORIZON, 0, sizeof(rec) }, c->horizon_ns };
		/* The collector's own stage is flushed last: the record follows what it vouches for.
		 * Bookkeeping, not counted in the stats. */
		append_own(c, &rec, sizeof(rec));
		c->horizon_written = c->horizon_ns;
	}
	for (uint32_t i = 0; i <= c->ring->n_slots; i++)
		if (c->stages[i].len)
			flush_stage(c, &c->stages[i]);
	c->last_flush_ns = hg_trace_ns();
}

/*
 * Copy the bytes [from, to) of slot i, whose data area is used as a ring of size bytes, to the
 * end of its stage, unchecked: the producer waits for the slot's tail until the copy is done,
 * and stage_check can wait until it has its room back.
 */
static void stage_copy(struct hg_collector *c, uint32_t i, uint32_t pid, uint32_t tid,
		       const uint8_t *data, uint32_t size, uint64_t from, uint64_t to)
{
	struct stage *s = &c->stages[i];
	size_t n = (size_t)(to - from), pos = (size_t)(from & (size - 1));
	size_t first = n < size - pos ? n : size - pos;

	if (s->len && (s->pid != pid || s->tid != tid))
		flush_stage(c, s);
	s->pid = pid;
	s->tid = tid;
	HG_GROW(s->buf, s->cap, s->len + n);
	memcpy(s->buf + s->len, data + pos, first);
	memcpy(s->buf + s->len + first, data, n - first);
	s->copied = n;
}

/* Keep what stage_copy copied to stage i: its well-formed records, counted, times rounded. */
static void stage_check(struct hg_collector *c, uint32_t i)
{
	struct stage *s = &c->stages[i];
	uint64_t allocs = c->st.n_allocs, frees = c->st.n_frees, processes = c->st.n_processes;
	size_t n = s->copied, good = tally(c, s->buf + s->len, n);

	/* The overflow slot's records are of whichever process an ORIGIN before them says: not
	 * counted, and the hint is then not written (a thread there freeing what one with a
	 * slot allocated would leave that one's count growing for ever). */
	if (s->pid && i + 1 < c->ring->n_slots)
		hg_live_count_note(&c->live, s->pid, c->st.n_processes != processes,
				   c->st.n_allocs - allocs, c->st.n_frees - frees);
	else if (c->st.n_allocs != allocs || c->st.n_frees != frees)
		c->live.unsure = 1;

	if (good < n) {
		/* Garbage from a misbehaving writer: keep what precedes it, count the rest. */
		c->garbage_bytes += n - good;
		n = good;
	}
	hg_timegrid_apply(&c->grid, s->buf + s->len, n);
	s->len += n;
	s->copied = 0;
	c->staged += n;
	c->st.raw_bytes += n;
}

/* Append a record to the collector's own stage (pid 0 block); returns where it landed. */
static const uint8_t *append_own(struct hg_collector *c, const void *rec, uint32_t n)
{
	struct stage *s = &c->stages[c->ring->n_slots];

	HG_GROW(s->buf, s->cap, s->len + n);
	memcpy(s->buf + s->len, rec, n);
	s->len += n;
	c->staged += n;
	return s->buf + s->len - n;
}

/* Stage the collector's own record, counted in the stats like a producer's. */
static void stage_own(struct hg_collector *c, const void *rec, uint32_t n)
{
	tally(c, append_own(c, rec, n), n);
}

/* Return a drained slot to FREE. head and tail are zeroed before the release store. */
static void free_slot(struct hg_ring_slot *s)
{
	s->pid = 0;
	s->tid = 0;
	/* A thread that died waiting or holding (hg_ring_hold) must not hold the horizon back. */
	__atomic_store_n(&s->stall_ns, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->window, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->head, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->tail, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->state, HG_SLOT_FREE, __ATOMIC_RELEASE);
}

static int crowded(const struct hg_collector *c, uint64_t taken, uint32_t window)
{
	return taken >= c->ring->slot_bytes / LAG_SLOT_SHARE || taken >= window / LAG_WINDOW_SHARE;
}

/*
 * What the overflow slot holds the horizon below: its stall_ns, the earliest time of a writer
 * that waited for its lock with a stamped record in hand or of a snapshot that holds the lock
 * through its records (ring.c, hold_overflow_below). Producers only lower it; the collector
 * clears it once the lock has been seen free for OV_SETTLE_NS (longer than a waiting writer's
 * longest nap, 500 us), when every writer that waited has published. A holder that died (its
 * tid gone) holds nothing: its lock is freed, and its time goes as the lock stays free.
 */
#define OV_SETTLE_NS 2000000u

static uint64_t overflow_hold(struct hg_collector *c, struct hg_ring_slot *s, uint64_t now,
			      uint64_t stall)
{
	uint32_t holder = __atomic_load_n(&s->lock, __ATOMIC_ACQUIRE);

	if (!stall) {
		c->ov_free_since = 0;
		return 0;
	}
	if (holder && syscall(SYS_tkill, holder, 0) < 0 && errno == ESRCH)
		__atomic_compare_exchange_n(&s->lock, &holder, 0, 0, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED);
	if (holder) {
		c->ov_free_since = 0;
	} else if (!c->ov_free_since) {
		c->ov_free_since = now;
	} else if (now - c->ov_free_since > OV_SETTLE_NS &&
		   __atomic_compare_exchange_n(&s->stall_ns, &stall, 0, 0, __ATOMIC_SEQ_CST,
					       __ATOMIC_RELAXED)) {
		c->ov_free_since = 0;
		return 0;
	}
	return stall;
}

uint64_t hg_collector_drain(struct hg_collector *c)
{
	/* Acquire: every record published before the request is visible to the pass below. */
	uint64_t sync = __atomic_load_n(&c->ring->sync_request, __ATOMIC_ACQUIRE);
	uint64_t moved = 0, now = hg_trace_ns(), seen = now, margin;
	int check_owners = now - c->last_owner_check_ns >=
			   (c->free_slots * 4 < c->ring->n_slots ? OWNER_CHECK_SCARCE_NS : OWNER_CHECK_NS);
	uint32_t free_slots = 0;
	uint32_t last = c->ring->n_slots - 1;

	c->pass_crowded = 0;
	c->pass_stalled = 0;
	/* Before any slot is read: a producer that begins to wait after this cuts the nap after
	 * the pass short. */
	c->wake_seen = __atomic_load_n(&c->ring->wake_seq, __ATOMIC_SEQ_CST);

	for (uint32_t i = 0; i < c->ring->n_slots; i++) {
		struct hg_ring_slot *s = slot(c, i);
		/* Acquire state before head: a RELEASED owner published its last head first. */
		uint32_t state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
		uint64_t head, stall, tail = __atomic_load_n(&s->tail, __ATOMIC_RELAXED);
		int dead;

		if ((state == HG_SLOT_FREE || state == HG_SLOT_CLAIMING) && i != last) {
			free_slots += state == HG_SLOT_FREE;
			continue;
		}
		dead = i != last && state == HG_SLOT_OWNED && check_owners &&
		       !hg_proc_thread_alive(s->pid, s->tid);
		stall = __atomic_load_n(&s->stall_ns, __ATOMIC_RELAXED);
		if (i == last)
			stall = overflow_hold(c, s, now, stall);
		if (stall && stall < seen)
			seen = stall;
		c->pass_stalled |= stall != 0;
		head = __atomic_load_n(&s->head, __ATOMIC_ACQUIRE);
		if (head > tail) {
			/* After the acquire: every barrier these records were stamped after, and
			 * the window they were written under (hg_format.h). */
			uint32_t window = hg_ring_window(c->ring, __atomic_load_n(&s->window,
										 __ATOMIC_RELAXED));
			hg_timegrid_sync(&c->grid, c->ring);
			if (head - tail <= window)
				stage_copy(c, i, i == last ? 0 : s->pid, i == last ? 0 : s->tid,
					   slot_data(c, i), window, tail, head);
			else /* more than the window holds: no producer following the protocol */
				c->garbage_bytes += head - tail;
			/* Release: our copy is complete before the producer may overwrite it. Then
			 * wake a producer sleeping on the tail (hg_format.h, "Wake-ups"). */
			__atomic_store_n(&s->tail, head, __ATOMIC_SEQ_CST);
			if (i == last || __atomic_load_n(&s->stall_ns, __ATOMIC_SEQ_CST))
				hg_futex(hg_ring_tail_word(s), FUTEX_WAKE, INT32_MAX, NULL);
			stage_check(c, i);
			moved += head - tail;
			c->pass_crowded |= crowded(c, head - tail, window);
		}
		if (i != last && (state == HG_SLOT_RELEASED || dead)) {
			free_slot(s);
			free_slots++;
		}
	}
	c->free_slots = free_slots;
	if (check_owners)
		c->last_owner_check_ns = now;
	/* A rounded time is at most one resolution below the true one. */
	margin = HG_HORIZON_MARGIN_NS + c->grid.res_ns;
	if (seen > margin && seen - margin > c->horizon_ns)
		c->horizon_ns = seen - margin;
	__atomic_store_n(&c->ring->collector_heartbeat_ns, now, __ATOMIC_RELAXED);
	if (sync != __atomic_load_n(&c->ring->sync_done, __ATOMIC_RELAXED)) {
		flush_all(c);
		hg_write_behind_end(c->wb, 0);
	} else if (c->staged >= FLUSH_BYTES || now - c->last_flush_ns >= FLUSH_NS) {
		flush_all(c);
	}
	__atomic_store_n(&c->ring->sync_done, sync, __ATOMIC_RELEASE);
	return moved;
}

/* The traced processes into c->pids: each pid that owns a slot, once. Returns how many. */
static uint32_t traced_pids(struct hg_collector *c)
{
	uint32_t *pids = c->pids, n = 0;

	for (uint32_t i = 0; i + 1 < c->ring->n_slots; i++) {
		struct hg_ring_slot *s = slot(c, i);
		uint32_t pid, k;

		if (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) != HG_SLOT_OWNED)
			continue;
		pid = s->pid;
		for (k = 0; k < n && pids[k] != pid; k++)
			;
		if (k == n && pid)
			pids[n++] = pid;
	}
	return n;
}

/* One RSS record per traced process, at most every interval. */
static void sample_rss(struct hg_collector *c, uint64_t now)
{
	uint32_t n;

	if (!c->rss_interval_ns || now - c->last_rss_ns < c->rss_interval_ns)
		return;
	c->last_rss_ns = now;
	n = traced_pids(c);
	for (uint32_t i = 0; i < n; i++) {
		struct hg_rec_rss rec = { { HG_REC_RSS, 0, sizeof(rec) }, now, c->pids[i], 0, 0 };
		if ((rec.rss_bytes = hg_proc_rss(c->pids[i])))
			stage_own(c, &rec, sizeof(rec));
	}
}

/* Periodic snapshots: once per interval, the snapshot signal to every traced process. */
static void request_snapshots(struct hg_collector *c, uint64_t now)
{
	uint64_t due = (c->snapshots_asked + 1) * c->snapshot_every_ns;
	union sigval v;
	uint32_t n;

	if (!c->snapshot_every_ns || now - c->t0_ns < due)
		return;
	c->snapshots_asked = (now - c->t0_ns) / c->snapshot_every_ns; /* skip missed ones */
	due = c->snapshots_asked * c->snapshot_every_ns;
	v.sival_ptr = (void *)(uintptr_t)((uint64_t)HG_SNAPSHOT_EVERY_TAG << 32 |
					  (due / 1000000u & 0xffffffffu));
	n = traced_pids(c);
	for (uint32_t i = 0; i < n; i++)
		if (hg_proc_catches(c->pids[i], c->snapshot_signal))
			sigqueue((pid_t)c->pids[i], c->snapshot_signal, v);
}

static int any_owned(struct hg_collector *c)
{
	for (uint32_t i = 0; i + 1 < c->ring->n_slots; i++)
		if (__atomic_load_n(&slot(c, i)->state, __ATOMIC_ACQUIRE) != HG_SLOT_FREE)
			return 1;
	return 0;
}

static void note_garbage(struct hg_collector *c)
{
	struct hg_rec_loss rec = { { HG_REC_LOSS, 0, sizeof(rec) }, hg_trace_ns(), 0,
				   HG_LOSS_DEAD_WRITER, 0, c->garbage_bytes - c->garbage_reported };

	if (c->garbage_bytes == c->garbage_reported)
		return;
	/* The number of events in unreadable bytes is unknown: at least one was spoiled. */
	rec.n_events = 1;
	c->garbage_reported = c->garbage_bytes;
	c->st.lost_events += 1;
	stage_own(c, &rec, sizeof(rec));
}

static void note_loss(struct hg_collector *c)
{
	note_garbage(c);
	uint64_t lost = __atomic_load_n(&c->ring->lost_events, __ATOMIC_RELAXED);
	struct hg_rec_loss rec = { { HG_REC_LOSS, 0, sizeof(rec) }, hg_trace_ns(), 0,
				   HG_LOSS_COLLECTOR_GONE, 0, 0 };

	if (lost == c->lost_reported)
		return;
	rec.n_events = lost - c->lost_reported;
	rec.n_bytes = __atomic_load_n(&c->ring->lost_bytes, __ATOMIC_RELAXED);
	rec.n_bytes -= c->lost_bytes_reported;
	c->lost_bytes_reported += rec.n_bytes;
	c->lost_reported = lost;
	c->st.lost_events += rec.n_events;
	stage_own(c, &rec, sizeof(rec));
}

static void note_exit(struct hg_collector *c, pid_t pid, int status)
{
	struct hg_rec_exit rec = { { HG_REC_EXIT, 0, sizeof(rec) }, hg_trace_ns(), (uint32_t)pid, 0,
				   0, 0 };

	if (WIFSIGNALED(status)) {
		rec.status = WTERMSIG(status);
		rec.source = HG_EXIT_SIGNAL;
	} else {
		rec.status = WEXITSTATUS(status);
		rec.source = HG_EXIT_WAIT;
	}
	stage_own(c, &rec, sizeof(rec));
}

/*
 * Sleep for ns, or until a producer begins to wait for room (hg_format.h, "Wake-ups"): 1 when
 * one cut the sleep short. A producer that began to wait during the pass before (the futex
 * returns at once: the pass was long, not the nap) or one that asks for a sync (it wakes the
 * collector the same way) does not count.
 */
static int nap(struct hg_collector *c, long ns)
{
	struct timespec ts = { 0, ns };
	int woken;

	__atomic_store_n(&c->ring->collector_napping, 1, __ATOMIC_SEQ_CST);
	woken = hg_futex(&c->ring->wake_seq, FUTEX_WAIT, c->wake_seen, &ts) == 0;
	__atomic_store_n(&c->ring->collector_napping, 0, __ATOMIC_RELAXED);
	woken = woken && __atomic_load_n(&c->ring->wake_seq, __ATOMIC_RELAXED) != c->wake_seen &&
		__atomic_load_n(&c->ring->sync_request, __ATOMIC_ACQUIRE) ==
			__atomic_load_n(&c->ring->sync_done, __ATOMIC_RELAXED);
	if (woken)
		c->woken_ns = hg_trace_ns();
	return woken;
}

/*
 * After a pass that found nothing: IDLE_SHORT_NS for the first IDLE_SHORT_ROUNDS, then
 * IDLE_LONG_NS, unless a producer had to wake the collector in the last BURSTY_NS: a program
 * that allocates in bursts after quiet spells (cc1 writing 150 MB/s after 2 ms of none) then
 * fills a 64 KiB window in 0.4 ms and waits for the collector to wake, and four such waits in
 * a while double its window (ring.c; what this saves is under LAG_NS). A collector that has
 * not been woken for a while naps long, which costs a program that writes little nothing; one
 * that a program wakes about once a second takes some 5,000 passes a second while idle where
 * it took 500 (a pass that finds nothing reads each slot's header: microseconds).
 */
#define IDLE_SHORT_NS 200000
#define IDLE_LONG_NS 2000000
#define IDLE_SHORT_ROUNDS 10
#define BURSTY_NS 1000000000ull

static void idle(struct hg_collector *c, unsigned rounds, uint64_t now)
{
	int bursty = c->woken_ns && now - c->woken_ns < BURSTY_NS;

	nap(c, rounds < IDLE_SHORT_ROUNDS || bursty ? IDLE_SHORT_NS : IDLE_LONG_NS);
}

/* After a pass: the nap described above crowded(), when nothing is filling up. */
static void lag(struct hg_collector *c)
{
	if (c->pass_crowded || c->pass_stalled)
		return;
	if (nap(c, (long)c->lag_ns)) {
		c->lag_ns /= 2;
		if (c->lag_ns < LAG_MIN_NS)
			c->lag_ns = LAG_MIN_NS;
	} else {
		c->lag_ns += c->lag_ns / LAG_GROWTH;
		if (c->lag_ns > LAG_NS)
			c->lag_ns = LAG_NS;
	}
}

int hg_collector_finish(struct hg_collector *c)
{
	int failed;

	/* Producers still alive now (orphans we stopped waiting for) must not wait for us. */
	__atomic_or_fetch(&c->ring->flags, HG_RING_F_SHUTDOWN, __ATOMIC_RELEASE);
	hg_collector_drain(c);
	note_loss(c);
	flush_all(c);
	hg_write_behind_end(c->wb, 1);
	c->w = hg_write_behind_stop(c->wb, &failed);
	c->wb = NULL;
	c->st.write_failed |= failed;
	if (hg_trace_writer_live_hint(c->w, c->live.unsure ? 0 : c->live.max, c->live.max_pid) < 0)
		c->st.write_failed = 1;
	c->st.file_bytes = hg_trace_writer_bytes(c->w);
	if (hg_trace_writer_close(c->w) < 0)
		c->st.write_failed = 1;
	c->w = NULL;
	return c->st.write_failed ? -1 : 0;
}

static int root_gone(struct hg_collector *c, pid_t root, int is_child, int *status)
{
	int st;
	pid_t r;

	if (!is_child)
		return !hg_proc_alive((uint32_t)root);
	r = waitpid(root, &st, WNOHANG);
	if (r == root) {
		*status = st;
		note_exit(c, root, st);
		return 1;
	}
	return r < 0 && errno == ECHILD;
}

/* How long a fork or spawned child may take to write its first record, once nothing else is
 * traced (a fork that failed is announced and never starts; a spawned program may be one the
 * shim cannot trace, statically linked or set-user-ID). */
#define FORK_START_WAIT_NS (2ull * 1000000000ull)

/* How often spawns_pending looks through /proc while it finds processes on their way. */
#define SPAWN_SCAN_NS (10ull * 1000000ull)

/*
 * Whether a process with this ring in its environment is alive though nothing owns a slot: a
 * posix_spawn or vfork child the program started just before it ended, between its exec and
 * its first record (procfs.h). Looked for once nothing else keeps the collector going, then
 * every SPAWN_SCAN_NS while one is found.
 */
static int spawns_pending(struct hg_collector *c, uint64_t now)
{
	char entry[4200];

	if (c->spawn_scan_ns && now - c->spawn_scan_ns < SPAWN_SCAN_NS)
		return c->spawns_seen;
	c->spawn_scan_ns = now;
	snprintf(entry, sizeof(entry), "%s=%s", HG_ENV_RING, c->ring_path);
	c->spawns_seen = hg_proc_count_with_env(entry, getpid()) > 0;
	return c->spawns_seen;
}

/* Recording stops with traced processes still running: say which. */
static void orphans_note(struct hg_collector *c)
{
	char list[128] = "";
	size_t len = 0;
	uint32_t n = traced_pids(c);

	for (uint32_t i = 0; i < n && len + 16 < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%u", i ? ", " : "",
					c->pids[i]);
	if (n)
		hg_note("stopped recording %u process%s still running after the program ended "
			"(pid %s%s): %s trace%s end%s here", n, n == 1 ? "" : "es", list,
			len + 16 >= sizeof(list) ? ", ..." : "", n == 1 ? "its" : "their",
			n == 1 ? "" : "s", n == 1 ? "s" : "");
}

int hg_collector_run(struct hg_collector *c, pid_t root, int root_is_child,
		     volatile sig_atomic_t *stop, int *root_status)
{
	int gone = 0;
	unsigned idle_rounds = 0;
	uint64_t gone_ns = 0, owned_ns = hg_trace_ns();

	for (;;) {
		uint64_t moved = hg_collector_drain(c), now = hg_trace_ns();

		sample_rss(c, now);
		request_snapshots(c, now);
		note_loss(c);
		if (!gone && (gone = root_gone(c, root, root_is_child, root_status)))
			gone_ns = now;
		if (any_owned(c))
			owned_ns = now;
		/* Nothing owns a slot, but a parent announced a fork whose child has not written
		 * yet (it may not have run, and its parent may have ended), or a spawned child is
		 * on its way: a little longer. */
		else if (gone && moved == 0 &&
			 ((c->forks_started >= c->forks_announced && !spawns_pending(c, now)) ||
			  now - owned_ns >= FORK_START_WAIT_NS))
			break;
		/* Told to stop (record got a signal): once a pass has looked for dead owners since
		 * the root ended, not to take a process the same signal killed, whose slot nobody
		 * gave back, for one still running. */
		if (gone && moved == 0 &&
		    ((stop && *stop && c->last_owner_check_ns > gone_ns) ||
		     now - gone_ns >= c->orphans_ns)) {
			orphans_note(c);
			break;
		}
		if (moved) {
			idle_rounds = 0;
			lag(c);
			continue;
		}
		idle(c, idle_rounds++, now);
		if (gone)
			c->last_owner_check_ns = 0; /* root gone: look for dead owners every pass */
	}
	return hg_collector_finish(c);
}

void hg_collector_free(struct hg_collector *c)
{
	if (!c)
		return;
	if (c->wb) {
		int failed;
		c->w = hg_write_behind_stop(c->wb, &failed);
	}
	if (c->w)
		hg_trace_writer_close(c->w);
	for (uint32_t i = 0; c->stages && i <= c->ring->n_slots; i++)
		free(c->stages[i].buf);
	unlink(c->ring_path);
	munmap(c->ring, c->ring_bytes);
	free(c->stages);
	free(c->pids);
	free(c->ring_path);
	hg_timegrid_free(&c->grid);
	free(c);
}
