/*
 * replay.h - rebuild each process image's heap from a trace: totals, sites, live blocks
 *
 * A replay reads a whole trace once. Its result is a list of process images (a fork child and
 * an exec'd program are images of their own), each with:
 *   - totals: allocations, frees, bytes, the exact peak of live bytes and when it happened,
 *   - one site per distinct allocation stack: live and cumulative counts and bytes,
 *   - the blocks still live at the end of the trace,
 *   - the stacks and modules needed to symbolize its sites later.
 */
#ifndef HG_REPLAY_H
#define HG_REPLAY_H

#include <stdint.h>

#include "addrmap.h"
#include "heaptop.h"
#include "maprange.h"

struct hg_site {
	uint64_t live_bytes;      /* bytes allocated here and not freed */
	uint64_t live_blocks;
	uint64_t allocations;     /* all allocations made here */
	uint64_t allocated_bytes; /* their requested sizes */
	uint64_t temporary;       /* of those, freed before their thread allocated again */
	uint64_t temporary_bytes; /* their requested sizes */
};

/* A block live in an image: what hg_image_live_get and hg_image_live_next give. */
struct hg_live {
	uint64_t size_bytes; /* requested size */
	uint32_t stack_id;   /* allocation stack */
};

/* A free of an address not live, waiting for its allocation (replay.c). */
struct hg_orphan;

/* Allocation sizes in power-of-two buckets: 0 holds size 0, k >= 1 holds [2^(k-1), 2^k). */
#define HG_SIZE_BUCKETS 65

struct hg_module {
	char *path;
	uint8_t build_id[64];
	uint32_t build_id_len;
	int is_main;
	uint64_t load_bias;
	uint64_t lo, hi;      /* runtime address range of its PT_LOAD segments */
	uint64_t t_load_ns;
	uint64_t t_unload_ns; /* UINT64_MAX while mapped */
	uint32_t seq_load;    /* the image's module_seq once its MODULE record was read */
	uint32_t seq_unload;  /* ... once its UNMODULE record was read; UINT32_MAX while mapped */
};

struct hg_stack {
	uint32_t n_frames;   /* 0: not defined in this image */
	uint32_t module_seq; /* the image's module_seq when its STACK record was read */
	uint64_t *ip;        /* innermost first */
};

/* A memory region a snapshot scanned (hg_format.h, HG_REC_REGION). */
struct hg_region {
	uint64_t lo, hi;
	uint64_t live_lo;  /* words below it were not scanned (dead stack frames) */
	uint32_t kind;     /* enum hg_region_kind */
	uint32_t tid;
	int guard_below;   /* HG_REGION_GUARD_BELOW */
};

/* A block live at a snapshot. */
struct hg_block {
	uint64_t addr;
	uint64_t size_bytes;
	uint32_t stack_id;
};

/* A heap snapshot as recorded; classified by graph.c. */
struct hg_snapshot {
	uint32_t id;             /* 1, 2, ... within the image */
	int reason;              /* enum hg_snapshot_reason */
	char *label;
	uint64_t t_ns;
	uint32_t threads, threads_stopped;
	int have_blocks;         /* the live set below was taken at t_ns */
	uint64_t mmap_bytes;     /* the image's mmap domain at t_ns: bytes and ranges mapped */
	uint64_t mmap_mappings;
	struct hg_block *blocks; /* live at t_ns, sorted by address (none with
				    HG_REPLAY_SNAPSHOT_SUMS) */
	size_t n_blocks;
	struct hg_site *sites;   /* live_bytes and live_blocks at t_ns per stack id (n_sites) */
	uint32_t n_sites;
	uint64_t live_bytes;     /* in all */
	uint64_t live_blocks;
	struct hg_region *regions;  /* sorted by lo (they do not overlap) */
	size_t n_regions, regions_cap;
	uint64_t *pairs;         /* (where, value) pairs, two words each */
	size_t n_pairs, pairs_cap;
	int complete;            /* its SNAPSHOT_END was read */
	uint64_t words_scanned;  /* from SNAPSHOT_END: words the shim read */
	uint64_t pairs_written;  /* and words it wrote as pointer candidates */
	struct hg_heaptop heaptop; /* how high the image's blocks ever reached, at t_ns (with
				      blocks, from have_blocks on) */
};

struct hg_totals {
	uint64_t allocations;
	uint64_t frees;           /* frees of blocks this image allocated (or inherited) */
	uint64_t allocated_bytes;
	uint64_t peak_bytes;      /* maximum of live_bytes over the whole replay */
	uint64_t peak_time_ns;    /* when, relative to the image's start */
	uint64_t live_bytes;      /* at the end */
	uint64_t live_blocks;
	uint64_t lost_events;     /* events of this process that could not be recorded */
	uint64_t unknown_frees;   /* frees of blocks allocated before tracing began */
};

/* A point of the live-heap timeline. */
struct hg_point {
	uint64_t t_ns;       /* since the image started */
	uint64_t heap_bytes; /* live bytes then */
};

/* glibc's own account of its heap (HG_REC_MALLINFO). */
struct hg_mallinfo {
	uint64_t t_ns; /* since the image started */
	uint64_t arena_bytes, mmap_bytes, free_bytes, releasable_bytes;
};

/* What tracing itself added to the process's resident set (HG_REC_TRACER). */
struct hg_tracer_mem {
	uint64_t t_ns;         /* since the image started */
	uint64_t tables_bytes; /* the shim's tables */
	uint64_t ring_bytes;   /* the ring's pages it touched; HG_TRACER_UNKNOWN: not known */
};

/*
 * The program's own anonymous mappings, outside malloc (HG_REC_MMAP, MUNMAP, MREMAP,
 * MPROTECT): the "mmap" domain of an image, kept apart from the heap's totals and sites. Bytes
 * are whole pages mapped and accessible (virtual size; pages never touched are not resident);
 * PROT_NONE ranges are reserved address space, counted apart.
 */
struct hg_mmap_domain {
	struct hg_mapset ranges;  /* what is mapped now */
	struct hg_site *sites;    /* by stack id: live_bytes, live_blocks (ranges), allocations
				     (mmap and mremap calls that mapped here), allocated_bytes */
	uint32_t n_sites;
	uint64_t live_bytes;      /* mapped now, accessible */
	uint64_t reserved_bytes;  /* mapped now with PROT_NONE */
	uint64_t live_mappings;   /* ranges now, either kind (a mapping split by a munmap or a
				     partial mprotect counts twice) */
	uint64_t peak_bytes;      /* maximum of live_bytes */
	uint64_t peak_time_ns;    /* when, relative to the image's start */
	uint64_t maps, unmaps, remaps; /* calls applied: mmap, munmap, mremap */
	uint64_t mapped_bytes;    /* bytes mapped by mmap, and by mremap (its new size), in all */
	struct hg_point *timeline;/* live bytes over time, like the heap's */
	size_t n_timeline, timeline_cap;
	uint64_t timeline_step_ns;
	int remap_old_ours;       /* between an mremap's two halves: the old range was ours */
	uint32_t remap_old_flags; /* and its flags, which the new range keeps */
};

/* An image's state at one instant, captured by the merge at an event (hg_moment_capture). */
struct hg_moment {
	int taken;                /* 0: never reached */
	uint64_t t_ns;            /* since the image started */
	uint64_t rss_bytes;       /* the RSS sample that made the moment (0 when not one) */
	uint64_t heap_live_bytes, heap_live_blocks;
	uint64_t mmap_bytes, mmap_mappings;
};

enum hg_exit_kind {
	HG_END_UNKNOWN = 0, /* the trace does not say */
	HG_END_CODE = 1,    /* exited with exit_status */
	HG_END_SIGNAL = 2,  /* killed by signal exit_status */
	HG_END_EXEC = 3     /* replaced by exec (the next image of the same pid) */
};

struct hg_image {
	uint32_t pid;
	uint32_t ppid;            /* the process that started the pid: for an exec'd image, the
				     earlier image's (this one's own reads init or a subreaper once
				     that parent has ended) */
	uint32_t ppid_read;       /* getppid() when this image started (its PROCESS record) */
	uint32_t file_order;      /* its place among the images as the trace's records made them */
	int forked;               /* started by fork: inherits the parent's stacks and modules */
	int exec;                 /* started by exec over an earlier traced image of this pid */
	int bare;                 /* recorded without the launcher */
	int foreign_malloc;       /* its malloc is its own, not the tracer's: no blocks seen */
	char *command;            /* argv joined with spaces */
	char *exe;                /* executable path */
	char *title;              /* command, else exe, on one line (control characters as
				     escapes): what the text headers show */
	uint32_t max_frames;
	uint64_t t_start_ns;      /* CLOCK_MONOTONIC of the PROCESS record */
	uint32_t time_resolution_ns; /* the trace's (struct hg_replay): for showing its times */
	struct hg_image *parent;  /* fork parent image, or NULL */
	uint32_t module_seq;      /* MODULE and UNMODULE records read so far */
	uint32_t parent_module_seq; /* the parent's module_seq at the fork */
	int end_kind;             /* enum hg_exit_kind */
	int end_inferred;         /* HG_END_EXEC only because a later image of the pid started */
	int exit_status;          /* code or signal, see end_kind */
	int said_exit;            /* the image's own tracer wrote that it exits */
	uint64_t t_exit_ns;       /* CLOCK_MONOTONIC of its earliest EXIT record (the shim's, when
				     it exited by itself: its ring slot goes back then; else the
				     collector's waitpid), 0: none */
	uint64_t t_replaced_ns;   /* start of the image that exec replaced it with (when end_kind
				     is HG_END_EXEC), 0: none */
	struct hg_totals totals;
	struct hg_site *sites;    /* indexed by stack id; n_sites entries */
	uint32_t n_sites;
	struct hg_stack *stacks;  /* indexed by stack id; n_stacks entries */
	uint32_t n_stacks;
	struct hg_module *modules;
	uint32_t n_modules;
	struct hg_addrmap live;   /* blocks live at the end, one word each: read them with
				     hg_image_live_get and hg_image_live_next (n: how many) */
	struct hg_addrmap big_sizes; /* replay's own: the sizes of those of 4 GiB or more */
	struct hg_heaptop heaptop; /* how high its blocks ever reached (a fork child's from its
				      parent's at the fork); snapshots keep a copy */
	struct hg_orphan *orphans;/* replay's own: frees of unknown addresses, in case their
				     allocations arrive late */
	struct hg_snapshot **snapshots; /* in order taken (time, then id) */
	uint32_t n_snapshots;
	int finished;             /* replay's own: hg_replay_file_each's done() ran for it */
	uint64_t peak_target;     /* second pass of HG_REPLAY_PEAK: the peak to capture */
	struct hg_site *peak_sites; /* live_bytes/live_blocks per stack id at the peak, or NULL */
	uint32_t n_peak_sites;
	struct hg_site *at_sites; /* HG_REPLAY_AT: live_bytes/live_blocks per stack id at the
				     target time (after every event at or before it), or NULL */
	uint32_t n_at_sites;
	int at_after_end;         /* HG_REPLAY_AT: no event came after the time: at_sites is the
				     state at the image's end */
	uint64_t size_hist[HG_SIZE_BUCKETS]; /* allocations by requested size */
	uint64_t temp_hist[HG_SIZE_BUCKETS]; /* temporary allocations by requested size */
	uint64_t temporary;       /* allocations freed before their thread allocated again */
	struct hg_point *timeline; /* live bytes over time, at least one point per step_ns */
	size_t n_timeline, timeline_cap;
	uint64_t timeline_step_ns;
	uint64_t timeline_until_ns; /* trace time before which an event only moves the last
				       point (0: none yet), see peak.h */
	struct hg_point *rss;      /* resident set samples (heap_bytes holds the RSS) */
	size_t n_rss, rss_cap;
	uint64_t rss_peak_bytes;   /* largest RSS sample, 0 when none was taken */
	uint64_t rss_peak_time_ns; /* since the image started */
	struct hg_mallinfo *mallinfo; /* samples, in time order */
	size_t n_mallinfo, mallinfo_cap;
	struct hg_tracer_mem tracer; /* the largest sample of the tracer's own memory; n_tracer 0:
					none was taken (a process killed by a signal, a trace
					from before they were) */
	uint32_t n_tracer;
	struct hg_mmap_domain mmap;   /* the program's own anonymous mappings */
	struct hg_moment at_rss_peak; /* live heap and mappings at the largest RSS sample */
};

/* A trace time t_ns as time since im started: 0 for a time before its start (a fork child's
 * copy, a rounded time). */
static inline uint64_t hg_image_time(const struct hg_image *im, uint64_t t_ns)
{
	return t_ns >= im->t_start_ns ? t_ns - im->t_start_ns : 0;
}

struct hg_replay {
	char *path;
	struct hg_image **images; /* in order of start (then of the file, for one time) */
	uint32_t n_images;
	uint64_t t0_ns;           /* CLOCK_MONOTONIC when recording began */
	uint32_t time_resolution_ns; /* ALLOC and FREE times rounded to this; 0: exact */
	uint32_t rss_interval_ms; /* RSS sampled about this often; HG_RSS_INTERVAL_OFF: never;
				     0: the trace does not say (hg_format.h, the file header) */
	uint64_t lost_events;     /* losses not attributable to one process */
	uint64_t n_records;       /* records read */
	uint64_t max_waiting;     /* the most allocations and frees that waited at once for the
				     merge of threads (its memory: 32 bytes each) */
	char *damage;             /* NULL, or the reader's description of where the file breaks */
	uint64_t damage_offset;
};

/*
 * Replay the trace at path. Returns NULL when the file cannot be opened or is not a trace
 * (error printed). Otherwise returns the replay, complete up to any damage; replay->damage is
 * then set (not printed).
 */
struct hg_replay *hg_replay_file(const char *path);

/* Replay flags. */
#define HG_REPLAY_SKIP_WORDS 0x1 /* keep snapshots' labels and live sets, not their words
				    (a report that does not classify leaks needs none) */

#define HG_REPLAY_PEAK 0x2       /* read the trace twice: the second pass records which sites
				    held the memory at each image's peak (peak_sites) */

#define HG_REPLAY_AT 0x4         /* capture each image's sites at a time (hg_replay_file_at) */

#define HG_REPLAY_SNAPSHOT_SUMS 0x8 /* keep snapshots' live sums (sites, live_bytes,
				       live_blocks), not their blocks: for a report, a diff or a
				       list; a child forked from a large heap that exits (with a
				       snapshot) does not then copy every block it inherited */

/* hg_replay_file with flags (HG_REPLAY_*). */
struct hg_replay *hg_replay_file_flags(const char *path, unsigned flags);

/*
 * hg_replay_file_flags plus HG_REPLAY_AT: each image's at_sites holds what it had live at_ns
 * after it started (every event up to that time applied, none after); an image that ended
 * earlier holds its state at its end.
 */
struct hg_replay *hg_replay_file_at(const char *path, unsigned flags, uint64_t at_ns);

/*
 * hg_replay_file_flags that hands over each image as soon as all of it has been read: done(arg,
 * im) runs once per image, when the horizon passes its end (a wait saw it die, a later image of
 * its pid started), else at the end of the trace, before this returns. Its snapshots are in
 * time order then. Once done returns, they are shed: their live sets, regions and pairs are
 * freed (have_blocks is 0; label, times, sites and sums stay), so that a trace of a program
 * that forks many large children is classified one child at a time.
 */
struct hg_replay *hg_replay_file_each(const char *path, unsigned flags,
				      void (*done)(void *arg, struct hg_image *im), void *arg);

/* The bucket of hg_image.size_hist that holds allocations of size_bytes. */
unsigned hg_size_bucket(uint64_t size_bytes);

void hg_replay_free(struct hg_replay *r);

/*
 * From now on, fn(arg, m) for each module a replay reads (its MODULE record), in the replay's
 * thread; fn NULL stops it. One watcher at a time: the framer's, which loads the symbols of
 * modules while the replay goes on (symload.h).
 */
void hg_replay_watch_modules(void (*fn)(void *arg, const struct hg_module *m), void *arg);

/* Block addr if it is live in im (at the end of the replay): 1 and *v, else 0. */
int hg_image_live_get(const struct hg_image *im, uint64_t addr, struct hg_live *v);

/* Iterate over im's live blocks, in no order: start with *pos = 0; returns 0 when done. */
int hg_image_live_next(const struct hg_image *im, size_t *pos, uint64_t *addr,
		       struct hg_live *v);

/*
 * The stack with this id as seen by image im: its own definition, else its fork parent's.
 * Returns NULL when no image in the chain defines it.
 */
const struct hg_stack *hg_image_stack(const struct hg_image *im, uint32_t stack_id);

/*
 * The module that mapped addr when stack stack_id of image im was recorded: a library unloaded
 * since and another mapped at its address do not trade names. When the records of two threads
 * came in another order than their events (a stack read before the MODULE record of the
 * library it runs in), the latest loaded module of im or its fork ancestors that maps addr.
 * NULL when none does.
 */
const struct hg_module *hg_stack_module(const struct hg_image *im, uint32_t stack_id,
					uint64_t addr);

#endif /* HG_REPLAY_H */
