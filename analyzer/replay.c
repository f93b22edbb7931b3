/*
 * replay.c - rebuild each process image's heap from a trace: totals, sites, live blocks
 *
 * Records arrive in file order, which is program order within a thread but only roughly time
 * order across threads (the collector flushes all threads together every 50 ms). Allocations
 * and frees therefore wait in one FIFO per thread (already in time order) and a k-way merge
 * over the threads' heads, keyed by (t_ns, frees first, file order), applies each once the
 * collector's latest HG_REC_HORIZON vouches that nothing earlier is still to come, or (traces
 * without horizons) once it is older than the newest time seen by WINDOW_NS, or when
 * MAX_PENDING events wait (with horizons, checked at each horizon only). That restores the
 * true order of an address freed by one thread and reused by another, keeps memory bounded on
 * traces of any length, and costs a heap of threads, not of events. The horizon keeps the
 * queues to about one flush of the collector (a window of 250 ms held a quarter second of
 * events: tens of megabytes). Once a trace has shown a horizon, the window no longer applies:
 * a collector kept off the CPU for longer than the window drains that long in one pass and
 * writes one thread's block of it before another's, and the window would apply the first
 * block's events before the second, earlier, ones are read.
 *
 * A late event (a producer preempted past the horizon's margin) is applied late. The one
 * ordering that would then corrupt the live set, another thread's free of its block applied
 * before it, is repaired: a free of an unknown address leaves an orphan note, and an
 * allocation of that address timestamped no later than the free (from another thread: up to
 * FREE_AHEAD_NS later) is applied as allocated and freed. Notes count: with times rounded to a
 * tick, one address can pass between threads several times within a tick, and all those frees
 * sort before all those allocations. FREE_AHEAD_NS is for exact times: the shim reads a free's
 * clock without a fence (a fence on every free cost churn2 2-3%), and the reading may run
 * ahead of the load that handed the thread its block while that load waits for the allocating
 * thread's cache line. samples/handoff.c at 1 ns resolution on a 2-vCPU Xeon: 20-90 of 40,000
 * frees stamped 4-300 ns before their allocation. Not for the freeing thread's own next
 * allocation: glibc's tcache hands it the address back within nanoseconds, and that block is
 * new. Another thread given the address that soon is taken for the hand-over, as within a
 * tick.
 *
 * The records come in through replay_records.c, which hands the timed ones to the merge here;
 * a fork child's start from its parent's heap is replay_fork.c's, questions about a finished
 * image and freeing it replay_image.c's.
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "diag.h"
#include "peak.h"
#include "replay.h"
#include "replay_int.h"
#include "trace_reader.h"

#define WINDOW_NS (250ull * 1000000ull)
#define FREE_AHEAD_NS 2000ull
#define MAX_PENDING (1u << 20)
/* Horizons that stopped (a producer stopped while it waited for room pins them): past this
 * much event time beyond the last one, the window applies again, and past MAX_PENDING_ANY
 * waiting events the oldest go whatever comes: memory stays bounded, and the 32-bit sequence
 * of waiting events never wraps. */
#define HORIZON_STALE_NS (10ull * 1000000000ull)
#define MAX_PENDING_ANY (8u * MAX_PENDING)

/* ---- images --------------------------------------------------------------------------- */

struct hg_pid_images *hg_replay_pid_entry(struct hg_replay_state *s, uint32_t pid)
{
	struct hg_pid_images *e = s->last_pid;

	if (e && e->pid == pid)
		return e;
	HASH_FIND(hh, s->pids, &pid, sizeof(pid), e);
	s->last_pid = e;
	if (!e) {
		e = hg_xcalloc(1, sizeof(*e));
		e->pid = pid;
		HASH_ADD(hh, s->pids, pid, sizeof(e->pid), e);
		s->last_pid = e;
	}
	return e;
}

struct hg_image *hg_replay_new_image(struct hg_replay_state *s, uint32_t pid, uint64_t t)
{
	struct hg_image *im = hg_xcalloc(1, sizeof(*im));
	struct hg_pid_images *e = hg_replay_pid_entry(s, pid);

	s->image_epoch++;

	im->pid = pid;
	im->file_order = s->r->n_images;
	im->t_start_ns = t;
	im->time_resolution_ns = s->r->time_resolution_ns;
	if (pid == s->live_hint_pid)
		im->live.hint = s->live_hint;
	if (s->r->n_images < s->n_peak_targets)
		im->peak_target = s->peak_targets[s->r->n_images];
	im->command = hg_xstrdup("");
	im->exe = hg_xstrdup("");
	im->title = hg_xstrdup("");
	HG_GROW(s->r->images, s->images_cap, s->r->n_images + 1);
	s->r->images[s->r->n_images++] = im;
	/* By start time: an exec'd image's PROCESS record can reach the file before the one of
	 * the fork child it replaced (they are written to different ring slots). */
	HG_GROW(e->im, e->cap, e->n + 1);
	size_t at = e->n;
	while (at > 0 && e->im[at - 1]->t_start_ns > t)
		at--;
	memmove(e->im + at + 1, e->im + at, (e->n - at) * sizeof(*e->im));
	e->im[at] = im;
	e->n++;
	return im;
}

/* The image pid was running at time t; an implicit one if the trace never said. */
struct hg_image *hg_replay_image_at(struct hg_replay_state *s, uint32_t pid, uint64_t t)
{
	struct hg_pid_images *e = hg_replay_pid_entry(s, pid);

	for (size_t i = e->n; i-- > 0;)
		if (e->im[i]->t_start_ns <= t || i == 0)
			return e->im[i];
	return hg_replay_new_image(s, pid, 0);
}

struct hg_stream *hg_replay_stream_find(struct hg_replay_state *s, uint64_t key)
{
	struct hg_stream *st;

	HASH_FIND(hh, s->streams, &key, sizeof(key), st);
	if (!st) {
		st = hg_xcalloc(1, sizeof(*st));
		st->key = key;
		HASH_ADD(hh, s->streams, key, sizeof(st->key), st);
	}
	s->last_stream = st;
	return st;
}

_Static_assert(sizeof(struct hg_pending) == 32, "a waiting event is 32 bytes");

/* The process of a stream's events: its key is pid << 32 | tid. */
static uint32_t stream_pid(const struct hg_stream *st)
{
	return (uint32_t)(st->key >> 32);
}

/* ---- the merge: per-thread FIFOs and a heap of threads -------------------------------- */

static int before(const struct hg_pending *a, const struct hg_pending *b)
{
	if (a->t_ns != b->t_ns)
		return a->t_ns < b->t_ns;
	if (a->kind != b->kind)
		return a->kind < b->kind;
	return (int32_t)(a->seq - b->seq) < 0; /* a pass of the collector is far below 2^31 */
}

static const struct hg_pending *front(const struct hg_stream *st)
{
	return &st->q[st->head];
}

static int stream_before(const struct hg_stream *a, const struct hg_stream *b)
{
	return before(front(a), front(b));
}

static void sift_up(struct hg_replay_state *s, size_t i)
{
	struct hg_stream *st = s->heap[i];

	while (i > 0 && stream_before(st, s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = st;
}

static void sift_down(struct hg_replay_state *s, size_t i)
{
	struct hg_stream *st = s->heap[i];
	size_t n = s->n_heap;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && stream_before(s->heap[c + 1], s->heap[c]))
			c++;
		if (!stream_before(s->heap[c], st))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	s->heap[i] = st;
}

/* A full FIFO doubles, its events in order from the start. */
static HG_NOINLINE void fifo_grow(struct hg_stream *st)
{
	size_t cap = st->cap ? st->cap * 2 : 64;
	struct hg_pending *q = hg_xmalloc(sizeof(*q) * cap);

	for (size_t i = 0; i < st->n; i++)
		q[i] = st->q[(st->head + i) & (st->cap - 1)];
	free(st->q);
	st->q = q;
	st->head = 0;
	st->cap = cap;
}

/* A stream that had no event waiting joins the heap. */
static HG_NOINLINE void heap_add(struct hg_replay_state *s, struct hg_stream *st)
{
	HG_GROW(s->heap, s->heap_cap, s->n_heap + 1);
	s->heap[s->n_heap++] = st;
	sift_up(s, s->n_heap - 1);
}

/* Where stream st's next event goes, at the end of its FIFO: the caller writes it there
 * (written on the stack and copied, its fields were read back before they reached the cache,
 * which stalls), then calls queued(). */
static inline struct hg_pending *fifo_end(struct hg_stream *st)
{
	if (HG_UNLIKELY(st->n == st->cap))
		fifo_grow(st);
	return &st->q[(st->head + st->n) & (st->cap - 1)]; /* cap is a power of two */
}

/* Drop the next event of the stream at heap position i (0: the earliest), once applied. */
static void dequeue(struct hg_replay_state *s, size_t i)
{
	struct hg_stream *st = s->heap[i];

	st->head = (st->head + 1) & (st->cap - 1);
	s->n_pending--;
	if (--st->n == 0) {
		s->heap[i] = s->heap[--s->n_heap];
		if (i == s->n_heap)
			return;
	} else if (s->n_heap == 1) {
		return; /* one thread waiting: nothing to reorder */
	}
	sift_down(s, i);
	sift_up(s, i);
}

/* ---- applying events ------------------------------------------------------------------ */

static struct hg_site *site(struct hg_image *im, uint32_t stack_id)
{
	if (stack_id >= im->n_sites) {
		size_t cap = im->n_sites;
		HG_GROW(im->sites, cap, (size_t)stack_id + 1);
		im->n_sites = (uint32_t)cap;
	}
	return &im->sites[stack_id];
}

/*
 * A live block in its word of im->live: its stack id in the high half, its size in the low one.
 * A size that does not fit (SIZE_ELSEWHERE bytes or more) is kept whole in im->big_sizes.
 * Entries of 16 bytes instead of 32 (a time and a home slot went): on the bench's CPython trace
 * (2.4M blocks live at its peak) the report took 0.52 s and 137 MB instead of 0.61 s and 236 MB.
 */
#define SIZE_ELSEWHERE 0xffffffffu

static void word_live(const struct hg_addrmap *big_sizes, uint64_t addr, uint64_t w,
		      struct hg_live *v)
{
	const uint64_t *big;

	v->stack_id = (uint32_t)(w >> 32);
	v->size_bytes = (uint32_t)w;
	if (HG_UNLIKELY(v->size_bytes == SIZE_ELSEWHERE) &&
	    (big = hg_addrmap_get(big_sizes, addr)))
		v->size_bytes = *big;
}

static void live_of_word(const struct hg_image *im, uint64_t addr, uint64_t w,
			 struct hg_live *v)
{
	word_live(&im->big_sizes, addr, w, v);
}

/* Make addr live as v; 1 and the block it replaced in *old if it was live already. */
static int live_put(struct hg_image *im, uint64_t addr, const struct hg_live *v,
		    struct hg_live *old)
{
	uint32_t low = v->size_bytes < SIZE_ELSEWHERE ? (uint32_t)v->size_bytes : SIZE_ELSEWHERE;
	uint64_t w;
	int had = hg_addrmap_put(&im->live, addr, (uint64_t)v->stack_id << 32 | low, &w);

	if (had)
		live_of_word(im, addr, w, old); /* before its size elsewhere is overwritten */
	if (HG_UNLIKELY(low == SIZE_ELSEWHERE))
		hg_addrmap_put(&im->big_sizes, addr, v->size_bytes, NULL);
	else if (HG_UNLIKELY(had && old->size_bytes >= SIZE_ELSEWHERE))
		hg_addrmap_take(&im->big_sizes, addr, NULL);
	return had;
}

/* Addr is freed: 1 and the block in *out if it was live, else 0. */
static int live_take(struct hg_image *im, uint64_t addr, struct hg_live *out)
{
	uint64_t w;

	if (!hg_addrmap_take(&im->live, addr, &w))
		return 0;
	live_of_word(im, addr, w, out);
	if (HG_UNLIKELY(out->size_bytes >= SIZE_ELSEWHERE))
		hg_addrmap_take(&im->big_sizes, addr, NULL);
	return 1;
}

int hg_image_live_get(const struct hg_image *im, uint64_t addr, struct hg_live *v)
{
	const uint64_t *w = hg_addrmap_get(&im->live, addr);

	if (!w)
		return 0;
	live_of_word(im, addr, *w, v);
	return 1;
}

int hg_image_live_next(const struct hg_image *im, size_t *pos, uint64_t *addr,
		       struct hg_live *v)
{
	uint64_t w;

	if (!hg_addrmap_next(&im->live, pos, addr, &w))
		return 0;
	live_of_word(im, *addr, w, v);
	return 1;
}

struct hg_block *hg_image_live_blocks(const struct hg_image *im, size_t *n)
{
	struct hg_block *b = hg_xmalloc(sizeof(*b) * (im->live.n ? im->live.n : 1));
	size_t pos = 0;
	uint64_t addr;
	struct hg_live v;

	*n = 0;
	while (hg_image_live_next(im, &pos, &addr, &v))
		b[(*n)++] = (struct hg_block){ addr, v.size_bytes, v.stack_id };
	return b;
}

/*
 * The frees of an address that was not live, still waiting for their allocation: one tick of
 * rounded time can hold several hand-overs of one address between threads, all its frees
 * sorted first (see apply_free).
 */
struct hg_orphan {
	uint64_t addr;
	uint64_t frees; /* how many wait */
	uint64_t t_ns;  /* when the last of them came */
	const struct hg_stream *by; /* and from which thread */
	UT_hash_handle hh;
};

static struct hg_orphan *orphan_of(const struct hg_image *im, uint64_t addr)
{
	struct hg_orphan *o;

	HASH_FIND(hh, im->orphans, &addr, sizeof(addr), o);
	return o;
}

static void orphan_drop(struct hg_image *im, struct hg_orphan *o)
{
	HASH_DEL(im->orphans, o);
	free(o);
}

void hg_replay_orphans_release(struct hg_image *im)
{
	while (im->orphans)
		orphan_drop(im, im->orphans);
}

/* The live sums grew at t: a new high-water mark? */
static void note_growth(struct hg_image *im, uint64_t t)
{
	if (im->totals.live_bytes > im->totals.peak_bytes) {
		im->totals.peak_bytes = im->totals.live_bytes;
		im->totals.peak_time_ns = hg_image_time(im, t);
		if (HG_UNLIKELY(im->totals.peak_bytes == im->peak_target))
			hg_peak_capture(im);
	}
	hg_timeline_note(im, t);
}

/* Blocks of one stack id became live: its site's sums and the image's. */
static void sums_add(struct hg_image *im, uint32_t stack_id, uint64_t bytes, uint64_t blocks)
{
	struct hg_site *st = site(im, stack_id);

	st->live_bytes += bytes;
	st->live_blocks += blocks;
	im->totals.live_bytes += bytes;
	im->totals.live_blocks += blocks;
}

static void add_live(struct hg_image *im, const struct hg_live *v, uint64_t t)
{
	sums_add(im, v->stack_id, v->size_bytes, 1);
	note_growth(im, t);
}

static void drop_live(struct hg_image *im, const struct hg_live *v)
{
	struct hg_site *st = site(im, v->stack_id);

	st->live_bytes -= v->size_bytes;
	st->live_blocks--;
	im->totals.live_bytes -= v->size_bytes;
	im->totals.live_blocks--;
}

static void drop_live_at(struct hg_image *im, const struct hg_live *v, uint64_t t)
{
	drop_live(im, v);
	hg_timeline_note(im, t);
}

/* Make addr live as v at t, with its sums; a block live there already (its free was never
 * seen: allocated before the trace, or lost) leaves them first. */
static void live_add(struct hg_image *im, uint64_t addr, const struct hg_live *v, uint64_t t)
{
	struct hg_live old;

	if (live_put(im, addr, v, &old))
		drop_live(im, &old);
	add_live(im, v, t);
}

/*
 * A fork child's heap is its parent's: a copy of the parent's live map, whole, and of its sums
 * per stack id. The child takes the copy over as its own map, so that a fork costs a copy of
 * the table rather than putting each of the parent's blocks in again: the report of a shell
 * loop of 200 forks and execs (bash, about 2,000 blocks live) spent a fifth of its time there.
 */
void hg_replay_heap_copy(const struct hg_image *parent, struct hg_fork_copy *c)
{
	hg_addrmap_copy(&c->live, &parent->live);
	hg_addrmap_copy(&c->big_sizes, &parent->big_sizes);
	c->sites = hg_sites_live_copy(parent, &c->n_sites);
}

void hg_replay_heap_from(struct hg_image *child, struct hg_fork_copy *c, uint64_t t)
{
	size_t pos = 0, hint = child->live.hint;
	uint64_t addr, w;
	struct hg_live v;

	if (child->live.n || child->big_sizes.n) {
		/* Blocks of its own already (a trace whose child came first in an odd order):
		 * one by one, each replacing any of the child's at its address. */
		while (hg_addrmap_next(&c->live, &pos, &addr, &w)) {
			word_live(&c->big_sizes, addr, w, &v);
			live_add(child, addr, &v, t);
		}
		return;
	}
	hg_addrmap_release(&child->live);
	hg_addrmap_release(&child->big_sizes);
	child->live = c->live;
	child->live.hint = hint;
	child->big_sizes = c->big_sizes;
	hg_addrmap_init(&c->live);
	hg_addrmap_init(&c->big_sizes);
	for (uint32_t i = 0; i < c->n_sites; i++)
		if (c->sites[i].live_blocks)
			sums_add(child, i, c->sites[i].live_bytes, c->sites[i].live_blocks);
	if (child->live.n) /* as putting each block in would have */
		note_growth(child, t);
}

unsigned hg_size_bucket(uint64_t size_bytes)
{
	return size_bytes ? 64u - (unsigned)__builtin_clzll(size_bytes) : 0;
}

static void apply_alloc(struct hg_image *im, struct hg_stream *thread, const struct hg_pending *p)
{
	struct hg_live v = { p->size, p->stack_id };
	struct hg_orphan *o;
	struct hg_site *st = site(im, p->stack_id);

	st->allocations++;
	st->allocated_bytes += p->size;
	im->totals.allocations++;
	im->totals.allocated_bytes += p->size;
	im->size_hist[hg_size_bucket(p->size)]++;
	thread->last_alloc = p->addr;
	hg_heaptop_note(&im->heaptop, p->addr, p->size);
	if (HG_UNLIKELY(im->orphans != NULL) && (o = orphan_of(im, p->addr))) {
		if (o->t_ns >= p->t_ns || (o->by != thread && o->t_ns + FREE_AHEAD_NS >= p->t_ns)) {
			/* Its free, from another thread, was applied before it: it came late, or
			 * in the same tick of rounded time, where frees sort first. Even a free
			 * from this same thread: within a tick a thread's records can reach the
			 * file out of program order (seen at thread start-up in samples/threads.c:
			 * a new thread's free of an address, then its allocation of it, read in
			 * that order). A thread freeing a block allocated before tracing and
			 * getting the address back within the tick is taken for this too. */
			if (--o->frees == 0)
				orphan_drop(im, o);
			im->totals.unknown_frees--;
			im->totals.frees++;
			return;
		}
		orphan_drop(im, o); /* older than this allocation */
	}
	live_add(im, p->addr, &v, p->t_ns);
}

/* Freed by its own thread before that thread allocated anything else: a temporary. */
static void note_temporary(struct hg_image *im, const struct hg_live *v)
{
	struct hg_site *st = site(im, v->stack_id);

	st->temporary++;
	st->temporary_bytes += v->size_bytes;
	im->temporary++;
	im->temp_hist[hg_size_bucket(v->size_bytes)]++;
}

static void apply_free(struct hg_image *im, struct hg_stream *thread, const struct hg_pending *p)
{
	struct hg_live old;

	if (!live_take(im, p->addr, &old)) {
		/* An orphan note counts the frees of the address still waiting for their
		 * allocation: one tick of rounded time can hold several hand-overs of one address
		 * between threads, all its frees sorted first. A note older than the window is
		 * a free whose allocation was never traced: it starts the count afresh. */
		struct hg_orphan *o = orphan_of(im, p->addr);
		im->totals.unknown_frees++;
		if (!o) {
			o = hg_xcalloc(1, sizeof(*o));
			o->addr = p->addr;
			HASH_ADD(hh, im->orphans, addr, sizeof(o->addr), o);
		} else if (o->t_ns + WINDOW_NS < p->t_ns) {
			o->frees = 0;
		}
		o->frees++;
		o->t_ns = p->t_ns;
		o->by = thread;
		return;
	}
	im->totals.frees++;
	if (thread->last_alloc == p->addr) {
		note_temporary(im, &old);
		thread->last_alloc = 0;
	}
	drop_live_at(im, &old, p->t_ns);
}

/* The image of pid that had started by time t, or NULL (none is made). */
struct hg_image *hg_replay_find_image(struct hg_replay_state *s, uint32_t pid, uint64_t t)
{
	struct hg_pid_images *e;

	HASH_FIND(hh, s->pids, &pid, sizeof(pid), e);
	for (size_t i = e ? e->n : 0; i-- > 0;)
		if (e->im[i]->t_start_ns <= t)
			return e->im[i];
	return NULL;
}

/*
 * Each event of a large heap looks up a slot of the live map that is not in the cache (a
 * program's neighbouring allocations are a few slots apart, a cache line each). The events
 * of a thread wait in its queue until the collector's horizon passes them, so the slot of the
 * one PREFETCH_AHEAD places behind is known already: loading it while the events in between
 * are applied hides most of that wait. Report of a CPython trace (3.7M blocks) 0.71 -> 0.61 s;
 * a live map that fits in the cache (sqlite3's, churn's) is left alone, as there it only costs.
 */
#define PREFETCH_AHEAD 16
#define PREFETCH_MIN_SLOTS ((size_t)1 << 17) /* 2 MiB of table */

static void prefetch_ahead(const struct hg_image *im, const struct hg_stream *thread)
{
	const struct hg_pending *q;

	if (im->live.cap < PREFETCH_MIN_SLOTS || thread->n <= PREFETCH_AHEAD)
		return;
	q = &thread->q[(thread->head + PREFETCH_AHEAD) & (thread->cap - 1)];
	if (q->kind == P_ALLOC || q->kind == P_FREE)
		hg_addrmap_prefetch(&im->live, q->addr);
}

/*
 * hg_replay_image_at for a thread's event, remembered with the span of times its image covers
 * (an image runs until the pid's next one starts): nearly every event goes where the
 * thread's last one went, and is then spared a lookup of the pid and of its images.
 */
static struct hg_image *stream_image(struct hg_replay_state *s, struct hg_stream *st,
				     uint64_t t)
{
	struct hg_pid_images *e;
	struct hg_image *im;
	size_t i;

	if (st->im_epoch == s->image_epoch && st->im && t >= st->im_from && t < st->im_until)
		return st->im;
	im = hg_replay_image_at(s, stream_pid(st), t);
	e = hg_replay_pid_entry(s, stream_pid(st));
	for (i = 0; e->im[i] != im; i++)
		;
	st->im = im;
	st->im_from = i ? im->t_start_ns : 0;
	st->im_until = i + 1 < e->n ? e->im[i + 1]->t_start_ns : UINT64_MAX;
	st->im_epoch = s->image_epoch;
	return im;
}

/* The moment of im's snapshot at index i. Not once im has been handed over (finish): its
 * snapshots may have been sorted since (the index is stale) and shed, and the event broke the
 * horizon's promise. */
static void apply_snapshot(struct hg_replay_state *s, struct hg_image *im, uint32_t i)
{
	if (!im->finished)
		hg_replay_apply_snapshot(im, im->snapshots[i], s->flags);
}

/* Event p of thread `thread` (whose FIFO it came from). */
static void apply(struct hg_replay_state *s, struct hg_stream *thread, const struct hg_pending *p)
{
	struct hg_image *im = (p->kind == P_FORK && p->im) || p->kind == P_SNAP ?
				     p->im : stream_image(s, thread, p->t_ns);

	/* The first event past the capture time: the state now is the state at that time. */
	if (HG_UNLIKELY(s->flags & HG_REPLAY_AT) && p->t_ns > im->t_start_ns + s->at_ns)
		hg_at_capture(im);
	if (p->kind == P_ALLOC || p->kind == P_FREE)
		prefetch_ahead(im, thread);
	if (p->kind == P_ALLOC)
		apply_alloc(im, thread, p);
	else if (p->kind == P_FREE)
		apply_free(im, thread, p);
	else if (p->kind == P_FORK && p->im)
		hg_replay_apply_fork(s, im, p->t_ns);
	else if (p->kind == P_FORK)
		hg_replay_fork_point(s, im, p->t_ns);
	else if (p->kind == P_SNAP)
		apply_snapshot(s, im, p->stack_id);
	else if (p->kind == P_RSS)
		hg_replay_apply_rss(im, p);
	else
		hg_replay_apply_map(im, p);
}

/* Whether p contradicts the heap as it stands: a free of an address not live, an allocation of
 * one that is. */
static int contradicts(struct hg_replay_state *s, const struct hg_stream *st)
{
	const struct hg_pending *p = front(st);
	int live;

	if (p->kind != P_FREE && p->kind != P_ALLOC)
		return 0;
	live = hg_addrmap_get(&hg_replay_image_at(s, stream_pid(st), p->t_ns)->live, p->addr) != NULL;
	return p->kind == P_FREE ? !live : live;
}

/*
 * The heap position of the event to apply next. Threads' events at the same time (a tick of
 * rounded time holds many) come in no known order; when the earliest by (time, frees first,
 * file order) contradicts the heap (another thread's free of a block not allocated yet, say),
 * another thread's event of that time that does not is taken first. One address handed from
 * thread to thread several times within a tick is then replayed in an order that could have
 * happened; what still contradicts falls to the orphan repair.
 */
static size_t pick(struct hg_replay_state *s)
{
	const struct hg_pending *p = front(s->heap[0]);
	size_t best = 0;

	/* The next earliest are the root's children: no tie there, none anywhere. */
	if (!((s->n_heap > 1 && front(s->heap[1])->t_ns == p->t_ns) ||
	      (s->n_heap > 2 && front(s->heap[2])->t_ns == p->t_ns)) ||
	    !contradicts(s, s->heap[0]))
		return 0;
	for (size_t i = 1; i < s->n_heap; i++) {
		const struct hg_pending *q = front(s->heap[i]);
		if (q->t_ns == p->t_ns && (!best || before(q, front(s->heap[best]))) &&
		    !contradicts(s, s->heap[i]))
			best = i;
	}
	return best;
}

/*
 * Apply what may be applied. at: DRAIN_PUSH after an event was queued, DRAIN_HORIZON at a
 * HORIZON record, DRAIN_ALL at the end. With horizons, the cap on waiting events is checked
 * only at a horizon: between two of them comes one pass of the collector, at most the ring's
 * size, which may be more than the cap and must be read whole before any of it is applied.
 * Horizons that stopped coming fall back to the window, and to a cap eight times as large.
 */
enum { DRAIN_PUSH, DRAIN_HORIZON, DRAIN_ALL };

static void drain(struct hg_replay_state *s, int at)
{
	int cap_now = !s->horizons || at == DRAIN_HORIZON;
	int window = !s->horizons || s->max_t > s->horizon + HORIZON_STALE_NS;

	while (s->n_heap && (at == DRAIN_ALL || (cap_now && s->n_pending > MAX_PENDING) ||
			     s->n_pending > MAX_PENDING_ANY ||
			     front(s->heap[0])->t_ns <= s->horizon ||
			     (window && front(s->heap[0])->t_ns + WINDOW_NS <= s->max_t))) {
		size_t i = pick(s);
		struct hg_stream *thread = s->heap[i];

		/* Applied where it waits (applying queues nothing), then dropped. */
		apply(s, thread, front(thread));
		dequeue(s, i);
	}
}

/* The event p at the end of thread st's FIFO (fifo_end) is there: into the merge. */
static HG_ALWAYS_INLINE void queued(struct hg_replay_state *s, struct hg_stream *st,
				    struct hg_pending *p)
{
	p->seq = s->seq++;
	if (p->t_ns > s->max_t)
		s->max_t = p->t_ns;
	st->last_t = p->t_ns;
	if (st->n++ == 0)
		heap_add(s, st);
	if (++s->n_pending > s->r->max_waiting)
		s->r->max_waiting = s->n_pending;
	/* What drain would find, in short: with horizons coming, the earliest waiting event was
	 * past the horizon before this one came (drain left it so), and this one is too. */
	if (s->horizons && p->t_ns > s->horizon && s->n_pending <= MAX_PENDING_ANY &&
	    s->max_t <= s->horizon + HORIZON_STALE_NS)
		return;
	drain(s, DRAIN_PUSH);
}

void hg_replay_push_timed(struct hg_replay_state *s, const struct hg_pending *p, uint32_t pid,
			  uint32_t tid)
{
	struct hg_stream *st = hg_replay_stream_of(s, pid, tid);
	struct hg_pending *q = fifo_end(st);

	*q = *p;
	queued(s, st, q);
}

static void add_dead(struct hg_replay_state *s, struct hg_dead d)
{
	HG_GROW(s->dead, s->dead_cap, s->n_dead + 1);
	s->dead[s->n_dead++] = d;
}

void hg_replay_dead(struct hg_replay_state *s, const struct hg_rec_exit *x)
{
	if (x->source != HG_EXIT_CALL)
		add_dead(s, (struct hg_dead){ x->t_ns, NULL, x->pid, x->reaper_pid });
}

void hg_replay_replaced(struct hg_replay_state *s, struct hg_image *im, uint64_t t)
{
	add_dead(s, (struct hg_dead){ t, im, im->pid, 0 });
}

static int by_time(const void *a, const void *b)
{
	const struct hg_snapshot *x = *(struct hg_snapshot *const *)a;
	const struct hg_snapshot *y = *(struct hg_snapshot *const *)b;

	if (x->t_ns != y->t_ns)
		return x->t_ns < y->t_ns ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Snapshots come in the order their threads' slots were drained; readers take the last as the
 * latest. */
static void snapshots_in_time_order(struct hg_image *im)
{
	if (im->n_snapshots > 1)
		qsort(im->snapshots, im->n_snapshots, sizeof(*im->snapshots), by_time);
}

/* All of im has been read: hand it to hg_replay_file_each's done, once, then shed its
 * snapshots. */
static void finish(struct hg_replay_state *s, struct hg_image *im)
{
	if (!s->done || im->finished)
		return;
	im->finished = 1;
	snapshots_in_time_order(im);
	s->done(s->done_arg, im);
	for (uint32_t i = 0; i < im->n_snapshots; i++)
		hg_snapshot_shed(im->snapshots[i]);
}

/* The live tables of the images dead before the horizon (their events all applied). */
static void release_dead(struct hg_replay_state *s)
{
	size_t kept = 0;

	for (size_t i = 0; i < s->n_dead; i++) {
		const struct hg_dead *d = &s->dead[i];
		struct hg_image *im;
		if (d->t_ns > s->horizon) {
			s->dead[kept++] = *d;
			continue;
		}
		/* As on_exit_record takes a reaper's word: only for an image it is parent of. */
		im = d->im ? d->im : hg_replay_find_image(s, d->pid, d->t_ns);
		if (im && (!d->reaper_pid || im->ppid == d->reaper_pid)) {
			hg_addrmap_release(&im->live);
			hg_addrmap_release(&im->big_sizes);
			finish(s, im);
		}
	}
	s->n_dead = kept;
}

void hg_replay_horizon(struct hg_replay_state *s, uint64_t horizon_ns)
{
	s->horizons = 1;
	if (horizon_ns > s->horizon)
		s->horizon = horizon_ns;
	drain(s, DRAIN_HORIZON);
	if (s->n_dead)
		release_dead(s);
}

static void state_release(struct hg_replay_state *s)
{
	struct hg_pid_images *e, *etmp;
	struct hg_stream *st, *stmp;

	HASH_ITER(hh, s->pids, e, etmp) {
		HASH_DEL(s->pids, e);
		free(e->im);
		free(e);
	}
	HASH_ITER(hh, s->streams, st, stmp) {
		HASH_DEL(s->streams, st);
		free(st->q);
		free(st);
	}
	free(s->heap);
	free(s->dead);
	hg_replay_fork_meets_release(s);
}

struct hg_replay *hg_replay_file(const char *path)
{
	return hg_replay_file_flags(path, 0);
}

/* What one reading of the trace is for, besides its path and flags. */
struct pass {
	uint64_t at_ns;                 /* HG_REPLAY_AT */
	const uint64_t *targets;        /* HG_REPLAY_PEAK's second pass: peaks per image */
	size_t n_targets;
	void (*done)(void *arg, struct hg_image *im); /* hg_replay_file_each */
	void *done_arg;
};

static struct hg_replay *replay_pass(const char *path, unsigned flags, const struct pass *p);

/* The trace read once, or (HG_REPLAY_PEAK) twice: a first pass finds each image's peak, which
 * is known only at the end, and a second stops there. */
static struct hg_replay *passes(const char *path, unsigned flags, struct pass *p)
{
	struct hg_replay *first, *second;
	const struct pass once = { 0 };
	uint64_t *targets;

	if (!(flags & HG_REPLAY_PEAK))
		return replay_pass(path, flags, p);
	if (!(first = replay_pass(path, HG_REPLAY_SKIP_WORDS, &once)))
		return NULL;
	targets = hg_xmalloc(sizeof(*targets) * (first->n_images ? first->n_images : 1));
	for (uint32_t i = 0; i < first->n_images; i++) /* the second pass makes them in that order */
		targets[first->images[i]->file_order] = first->images[i]->totals.peak_bytes;
	p->targets = targets;
	p->n_targets = first->n_images;
	second = replay_pass(path, flags, p);
	p->targets = NULL;
	free(targets);
	hg_replay_free(first);
	return second;
}

struct hg_replay *hg_replay_file_flags(const char *path, unsigned flags)
{
	struct pass p = { 0 };

	return passes(path, flags & ~(unsigned)HG_REPLAY_AT, &p);
}

struct hg_replay *hg_replay_file_at(const char *path, unsigned flags, uint64_t at_ns)
{
	struct pass p = { .at_ns = at_ns };

	return passes(path, flags, &p);
}

struct hg_replay *hg_replay_file_each(const char *path, unsigned flags,
				      void (*done)(void *arg, struct hg_image *im), void *arg)
{
	struct pass p = { .done = done, .done_arg = arg };

	return passes(path, flags & ~(unsigned)HG_REPLAY_AT, &p);
}

static int by_start(const void *a, const void *b)
{
	const struct hg_image *x = *(struct hg_image *const *)a, *y = *(struct hg_image *const *)b;

	if (x->t_start_ns != y->t_start_ns)
		return x->t_start_ns < y->t_start_ns ? -1 : 1;
	return x->file_order < y->file_order ? -1 : x->file_order > y->file_order;
}

/* An ALLOC or FREE record, queued for the merge here, where the queue is (nearly every record
 * is one: a call less for each); 0 for any other record. */
static int push_heap_event(struct hg_replay_state *s, const struct hg_record *rec)
{
	const struct hg_rec *h = rec->rec;
	struct hg_stream *st;
	struct hg_pending *p;

	if (h->type != HG_REC_ALLOC && h->type != HG_REC_FREE)
		return 0;
	st = hg_replay_stream_of(s, rec->pid, rec->tid);
	p = fifo_end(st);
	if (h->type == HG_REC_ALLOC) {
		const struct hg_rec_alloc *a = (const void *)h;
		*p = (struct hg_pending){ .t_ns = a->t_ns, .addr = a->addr, .size = a->size_bytes,
					  .stack_id = a->stack_id, .kind = P_ALLOC };
	} else {
		const struct hg_rec_free *f = (const void *)h;
		*p = (struct hg_pending){ .t_ns = f->t_ns, .addr = f->addr, .kind = P_FREE };
	}
	queued(s, st, p);
	return 1;
}

static struct hg_replay *replay_pass(const char *path, unsigned flags, const struct pass *p)
{
	struct hg_trace_reader *rd = hg_trace_reader_open_flags(
		path, flags & HG_REPLAY_SKIP_WORDS ? HG_READ_SKIP_WORDS : 0);
	struct hg_replay_state s;
	struct hg_record rec;
	int k;

	if (!rd)
		return NULL;
	memset(&s, 0, sizeof(s));
	s.flags = flags;
	s.peak_targets = p->targets;
	s.n_peak_targets = p->n_targets;
	s.at_ns = p->at_ns;
	s.done = p->done;
	s.done_arg = p->done_arg;
	s.r = hg_xcalloc(1, sizeof(*s.r));
	s.r->path = hg_xstrdup(path);
	s.r->t0_ns = hg_trace_reader_header(rd)->created_mono_ns;
	s.r->time_resolution_ns = hg_trace_reader_header(rd)->time_resolution_ns;
	s.r->rss_interval_ms = hg_trace_reader_header(rd)->rss_interval_ms;
	s.live_hint = hg_trace_reader_header(rd)->live_blocks_max;
	s.live_hint_pid = hg_trace_reader_header(rd)->live_blocks_pid;
	while ((k = hg_trace_reader_next(rd, &rec)) == 1) {
		s.r->n_records++;
		if (!push_heap_event(&s, &rec))
			hg_replay_dispatch(&s, &rec);
	}
	if (k < 0)
		s.r->damage = hg_xstrdup(hg_trace_reader_damage(rd, &s.r->damage_offset));
	hg_replay_reaped_apply(&s);
	drain(&s, DRAIN_ALL);
	/* Images come in the file in the order their slots were drained; readers list them by start. */
	qsort(s.r->images, s.r->n_images, sizeof(*s.r->images), by_start);
	/* (The queue held the snapshots by position, and is empty now.) */
	for (uint32_t i = 0; i < s.r->n_images; i++)
		snapshots_in_time_order(s.r->images[i]);
	for (uint32_t i = 0; (flags & HG_REPLAY_AT) && i < s.r->n_images; i++) {
		struct hg_image *im = s.r->images[i];
		if (!im->at_sites) { /* nothing happened after the time: the end */
			im->at_after_end = 1;
			hg_at_capture(im);
		}
	}
	for (uint32_t i = 0; i < s.r->n_images; i++)
		finish(&s, s.r->images[i]);
	state_release(&s);
	hg_trace_reader_close(rd);
	return s.r;
}

