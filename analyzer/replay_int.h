/*
 * replay_int.h - what the replay*.c files share, and nobody else
 */
#ifndef HG_REPLAY_INT_H
#define HG_REPLAY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "hg_format.h"
#include "replay.h"

/* Order at equal t: frees, then a fork's copy, then allocations, then a snapshot's live set.
 * The kinds after P_SNAP touch nothing of the heap, so where they sort among those does not
 * change its figures. */
enum hg_pending_kind { P_FREE = 0, P_FORK = 1, P_ALLOC = 2, P_SNAP = 3,
	/* replay_mmap.c: the mmap domain; an mremap is its two halves, old then new */
	P_UNMAP = 4, P_MAP = 5, P_REMAP_OLD = 6, P_REMAP_NEW = 7,
	P_RSS = 8, /* an RSS sample of pid (size: its bytes), for the moment of the largest */
	P_PROTECT = 9, /* replay_mmap.c: an mprotect (stack_id holds the protection) */
	P_MAP_RESERVED = 10 /* replay_mmap.c: an mmap with PROT_NONE */
};

/*
 * An event waiting in its thread's FIFO: 32 bytes, the queues' whole memory (a busy program
 * keeps some 200,000 waiting for the collector's horizon; at 48 bytes they were a third of the
 * replay's memory traffic). Its pid is its stream's (see hg_replay_push_timed).
 */
struct hg_pending {
	uint64_t t_ns;
	union {
		uint64_t addr;           /* P_ALLOC, P_FREE, the mmap kinds */
		struct hg_image *im;     /* P_FORK: the child, or NULL for the parent's side
					    (HG_REC_FORK); P_SNAP: the snapshot's image */
	};
	/* P_ALLOC, the mmap kinds; P_RSS: the sample. No request of 2^56 bytes or more succeeds,
	 * and the address space holds no such mapping. */
	uint64_t size : 56;
	uint64_t kind : 8;           /* enum hg_pending_kind */
	uint32_t seq;                /* file order, for a stable merge; compared with wrap-around */
	uint32_t stack_id;           /* P_ALLOC, mmap kinds (P_PROTECT: the protection); P_SNAP:
					the snapshot's index in im->snapshots */
};

struct hg_pid_images {
	uint32_t pid;
	struct hg_image **im; /* by start time */
	size_t n, cap;
	UT_hash_handle hh;
};

struct hg_stream {
	uint64_t key;     /* pid << 32 | tid */
	uint64_t last_t;  /* t_ns of the thread's last timed record */
	uint64_t last_alloc; /* address of the thread's last applied allocation, 0 once it was
				freed or when none */
	struct hg_pending *q;/* FIFO of waiting events, ring buffer of cap entries */
	size_t head, n, cap;
	/* The image the thread's last applied event went to, and the times it covers
	 * [im_from, im_until); valid while no image was made since (image_epoch). */
	struct hg_image *im;
	uint64_t im_from, im_until, im_epoch;
	UT_hash_handle hh;
};

/* What a fork child starts from: its parent's state at the fork. */
struct hg_fork_copy {
	struct hg_addrmap live;      /* the live blocks, a copy of its live map (replay.c) */
	struct hg_addrmap big_sizes; /* and of the sizes kept apart */
	struct hg_site *sites;       /* by stack id: live_bytes and live_blocks, the rest 0 */
	uint32_t n_sites;
	struct hg_maprange *ranges; /* its own mappings (the mmap domain's) */
	size_t n_ranges;
	struct hg_heaptop heaptop;  /* how high its blocks had reached */
};

/*
 * A fork's two sides meet in the merge at the fork's time, in either order. The parent's side
 * (HG_REC_FORK) first: the parent's state is copied then, and waits here for the child. The
 * child's first: it copies the parent as it stands (the same state), and the note that it
 * did waits here for the parent's side, which then copies nothing.
 */
struct hg_fork_meet {
	struct hg_fork_key {
		uint64_t t_ns;  /* the fork's time */
		uint64_t ppid;
	} key;
	int kept;                 /* 1: copy holds the parent's side; 0: the child copied already */
	struct hg_fork_copy copy;
	UT_hash_handle hh;
};

struct hg_replay_state {
	struct hg_replay *r;
	struct hg_fork_meet *meets; /* forks one side of which has been applied, by key */
	size_t images_cap;
	struct hg_pid_images *pids;
	struct hg_stream *streams;
	struct hg_stream **heap;   /* streams with waiting events, min-heap by their first event */
	size_t n_heap, heap_cap;
	size_t n_pending;       /* events waiting in all streams */
	struct hg_stream *last_stream;   /* lookup caches: records come in runs of one thread */
	struct hg_pid_images *last_pid;
	uint64_t image_epoch;   /* images made so far: a stream's cached image is this old */
	uint32_t live_hint, live_hint_pid; /* the file header's live_blocks_max and its pid */
	uint64_t seq, max_t;
	uint64_t horizon;       /* latest HG_REC_HORIZON: events up to it are all read */
	int horizons;           /* a HORIZON record was seen: the window no longer applies */
	unsigned flags;         /* HG_REPLAY_* */
	const uint64_t *peak_targets; /* HG_REPLAY_PEAK second pass: per image index */
	size_t n_peak_targets;
	uint64_t at_ns;         /* HG_REPLAY_AT: the capture time, since each image's start */
	struct hg_rec_exit *reaped; /* ends a traced parent's wait saw, for the end of the pass:
				       the child's PROCESS record may come later in the file */
	size_t n_reaped, reaped_cap;
	void (*done)(void *arg, struct hg_image *im); /* hg_replay_file_each's */
	void *done_arg;
	struct hg_dead {            /* images that ended (a wait saw the process dead, a later
				       image of its pid started), whose live tables go once the
				       horizon passes their end (hg_replay_dead, _replaced) */
		uint64_t t_ns;
		struct hg_image *im; /* the image, or NULL: the one of pid running at t_ns */
		uint32_t pid;
		uint32_t reaper_pid; /* 0: the collector's word; else only for its child */
	} *dead;
	size_t n_dead, dead_cap;
};

/* The images of pid, made on first use. */
struct hg_pid_images *hg_replay_pid_entry(struct hg_replay_state *s, uint32_t pid);

/* A new image of pid, started at t, in its place among pid's by start time. */
struct hg_image *hg_replay_new_image(struct hg_replay_state *s, uint32_t pid, uint64_t t);

/* The image pid was running at time t; an implicit one if the trace never said. */
struct hg_image *hg_replay_image_at(struct hg_replay_state *s, uint32_t pid, uint64_t t);

/* The image of pid that had started by time t, or NULL (none is made). */
struct hg_image *hg_replay_find_image(struct hg_replay_state *s, uint32_t pid, uint64_t t);

/* The stream of key (pid << 32 | tid) from the table, made on first use; it becomes
 * s->last_stream. */
struct hg_stream *hg_replay_stream_find(struct hg_replay_state *s, uint64_t key);

/* The FIFO and last time of thread (pid, tid), created on first use. */
static inline struct hg_stream *hg_replay_stream_of(struct hg_replay_state *s, uint32_t pid,
						    uint32_t tid)
{
	uint64_t key = (uint64_t)pid << 32 | tid;

	if (s->last_stream && s->last_stream->key == key) /* records come in runs of a thread */
		return s->last_stream;
	return hg_replay_stream_find(s, key);
}

/* Queue a timed event from thread tid for the merge (and apply what is ripe). */
void hg_replay_push_timed(struct hg_replay_state *s, const struct hg_pending *p, uint32_t pid,
			  uint32_t tid);

/* A HORIZON record: every event up to horizon_ns has been read; apply what that frees. */
void hg_replay_horizon(struct hg_replay_state *s, uint64_t horizon_ns);

/*
 * A wait saw process x->pid dead by x->t_ns (an EXIT record not of exit()'s, whose process's
 * other threads may still run). Once the horizon passes that time, every event of its image
 * is in and applied, and nothing reads the image's live table after the replay (its sums
 * stay): the table is freed then. A fork child of a large heap that exits held its copy to the
 * end (a CPython that forked 20 workers: 1.4 GB). The image is looked up then, not now: a
 * parent's wait may be in the file before its child's PROCESS record. An event that still
 * comes for the image (a writer that broke the horizon's promise) finds the table empty: its
 * free waits as an orphan.
 */
void hg_replay_dead(struct hg_replay_state *s, const struct hg_rec_exit *x);

/* The same for im, over at t: an image of its pid started then (an exec, or the pid reused),
 * and every later event of the pid goes to that one. */
void hg_replay_replaced(struct hg_replay_state *s, struct hg_image *im, uint64_t t);

/* Free im's notes of frees still waiting for their allocation. */
void hg_replay_orphans_release(struct hg_image *im);

struct hg_record;

/* replay_records.c: one record of the file, in file order (not an ALLOC or FREE, which
 * replay.c queues itself). */
void hg_replay_dispatch(struct hg_replay_state *s, const struct hg_record *rec);

/* Once every record is read: the ends reapers saw (hg_replay_state.reaped), then free them. */
void hg_replay_reaped_apply(struct hg_replay_state *s);

/* NUL-separated strings (argv, a path) joined with spaces; the caller frees it. */
char *hg_replay_join(const char *p, uint32_t n);

/* replay_fork.c: the parent's side of a fork at t (HG_REC_FORK), the child's (its P_FORK),
 * and the forks one side of which never came, at the end. */
void hg_replay_fork_point(struct hg_replay_state *s, struct hg_image *parent, uint64_t t);
void hg_replay_apply_fork(struct hg_replay_state *s, struct hg_image *child, uint64_t t);
void hg_replay_fork_meets_release(struct hg_replay_state *s);

/* Im's live blocks now, in no order, in an array the caller frees; *n of them. */
struct hg_block *hg_image_live_blocks(const struct hg_image *im, size_t *n);

/* A fork's copy of the parent's heap: its live blocks and their sums per stack id, into c's
 * live, big_sizes and sites (empty); and the child's heap made from it at t, which takes c's
 * maps over when the child has no block yet (c's heap is then empty). */
void hg_replay_heap_copy(const struct hg_image *parent, struct hg_fork_copy *c);
void hg_replay_heap_from(struct hg_image *child, struct hg_fork_copy *c, uint64_t t);

/* replay_snapshot.c: SNAPSHOT records, their parts, the live set at their moment. */
void hg_replay_on_snapshot(struct hg_replay_state *s, const struct hg_rec_snapshot *r,
			   uint32_t pid, uint32_t tid);
void hg_replay_on_snapshot_part(struct hg_replay_state *s, const struct hg_rec *h, uint32_t pid,
				uint32_t tid);
void hg_replay_apply_snapshot(struct hg_image *im, struct hg_snapshot *sn, unsigned flags);
void hg_replay_snapshot_free(struct hg_snapshot *sn);

/* Free sn's live set, regions and pairs (hg_replay_file_each); what a report or a list reads
 * stays. It can no longer be classified: have_blocks is 0. */
void hg_snapshot_shed(struct hg_snapshot *sn);

/* replay_mmap.c: MMAP, MUNMAP, MREMAP and MPROTECT records, the mmap domain they build, and
 * the RSS samples' moment. */
void hg_replay_on_map(struct hg_replay_state *s, const struct hg_rec *h, uint32_t pid,
		      uint32_t tid);
void hg_replay_apply_map(struct hg_image *im, const struct hg_pending *p);
/* A copy of im's own mappings as they stand (malloc'd, *n of them; never NULL), and the fork
 * child's mmap domain started from such a copy of its parent's at the fork's time t. */
struct hg_maprange *hg_replay_maps_copy(const struct hg_image *im, size_t *n);
void hg_replay_fork_maps(struct hg_image *child, uint64_t t, const struct hg_maprange *r,
			 size_t n);
void hg_replay_apply_rss(struct hg_image *im, const struct hg_pending *p);
void hg_mmap_domain_release(struct hg_mmap_domain *d);

#endif /* HG_REPLAY_INT_H */
