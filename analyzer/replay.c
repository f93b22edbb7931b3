/*
 * replay.c - rebuild each process image's heap from a trace: totals, sites, live blocks
 *
 * Records arrive in file order, which is program order within a thread but only roughly time
 * order across threads (the collector flushes all threads together every 50 ms). Allocations
 * and frees therefore wait in one FIFO per thread (already in time order) and a k-way merge
 * over the threads' heads, keyed by (t_ns, frees first, file order), applies each once it is
 * older than the newest time seen by WINDOW_NS, or when MAX_PENDING events wait. That restores
 * the true order of an address freed by one thread and reused by another, keeps memory
 * bounded on traces of any length, and costs a heap of threads, not of events.
 *
 * Everything else is applied in file order: a PROCESS record creates its image at once (so the
 * STACK and MODULE records that follow it in the same thread find it), a STACK record goes to
 * the image its thread was running at its last timed record.
 *
 * A fork child starts with a copy of its parent's live blocks as they were at the fork (a
 * pending event at the fork's time makes the copy when the merge reaches it).
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "diag.h"
#include "peak.h"
#include "replay.h"
#include "trace_reader.h"

#define WINDOW_NS (250ull * 1000000ull)
#define MAX_PENDING (1u << 20)

/* Order at equal t: frees, then a fork's copy, then allocations, then a snapshot's live set. */
enum pending_kind { P_FREE = 0, P_FORK = 1, P_ALLOC = 2, P_SNAP = 3 };

struct pending {
	uint64_t t_ns;
	uint64_t seq;       /* file order, for a stable merge */
	uint64_t addr;      /* block (P_ALLOC, P_FREE) */
	uint64_t size;      /* P_ALLOC */
	struct hg_image *im;/* P_FORK: the child; P_SNAP: the image; others: NULL */
	struct hg_snapshot *snap; /* P_SNAP */
	uint32_t pid;
	uint32_t stack_id;  /* P_ALLOC */
	uint8_t kind;       /* enum pending_kind */
};

struct pid_images {
	uint32_t pid;
	struct hg_image **im; /* by start time */
	size_t n, cap;
	UT_hash_handle hh;
};

struct stream {
	uint64_t key;     /* pid << 32 | tid */
	uint64_t last_t;  /* t_ns of the thread's last timed record */
	struct pending *q;/* FIFO of waiting events, ring buffer of cap entries */
	size_t head, n, cap;
	UT_hash_handle hh;
};

struct replay_state {
	struct hg_replay *r;
	size_t images_cap;
	struct pid_images *pids;
	struct stream *streams;
	struct stream **heap;   /* streams with waiting events, min-heap by their first event */
	size_t n_heap, heap_cap;
	size_t n_pending;       /* events waiting in all streams */
	struct stream *last_stream;   /* lookup caches: records come in runs of one thread */
	struct pid_images *last_pid;
	uint64_t seq, max_t;
	unsigned flags;         /* HG_REPLAY_* */
	const uint64_t *peak_targets; /* HG_REPLAY_PEAK second pass: per image index */
	size_t n_peak_targets;
};

/* ---- images --------------------------------------------------------------------------- */

static struct pid_images *pid_entry(struct replay_state *s, uint32_t pid)
{
	struct pid_images *e = s->last_pid;

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

static struct hg_image *new_image(struct replay_state *s, uint32_t pid, uint64_t t)
{
	struct hg_image *im = hg_xcalloc(1, sizeof(*im));
	struct pid_images *e = pid_entry(s, pid);

	im->pid = pid;
	im->t_start_ns = t;
	if (s->r->n_images < s->n_peak_targets)
		im->peak_target = s->peak_targets[s->r->n_images];
	im->command = hg_xstrdup("");
	im->exe = hg_xstrdup("");
	HG_GROW(s->r->images, s->images_cap, s->r->n_images + 1);
	s->r->images[s->r->n_images++] = im;
	HG_GROW(e->im, e->cap, e->n + 1);
	e->im[e->n++] = im;
	return im;
}

/* The image pid was running at time t; an implicit one if the trace never said. */
static struct hg_image *image_at(struct replay_state *s, uint32_t pid, uint64_t t)
{
	struct pid_images *e = pid_entry(s, pid);

	for (size_t i = e->n; i-- > 0;)
		if (e->im[i]->t_start_ns <= t || i == 0)
			return e->im[i];
	return new_image(s, pid, 0);
}

static struct stream *stream_of(struct replay_state *s, uint32_t pid, uint32_t tid)
{
	uint64_t key = (uint64_t)pid << 32 | tid;
	struct stream *st = s->last_stream;

	if (st && st->key == key)
		return st;
	HASH_FIND(hh, s->streams, &key, sizeof(key), st);
	if (!st) {
		st = hg_xcalloc(1, sizeof(*st));
		st->key = key;
		HASH_ADD(hh, s->streams, key, sizeof(st->key), st);
	}
	s->last_stream = st;
	return st;
}

/* ---- the merge: per-thread FIFOs and a heap of threads -------------------------------- */

static int before(const struct pending *a, const struct pending *b)
{
	if (a->t_ns != b->t_ns)
		return a->t_ns < b->t_ns;
	if (a->kind != b->kind)
		return a->kind < b->kind;
	return a->seq < b->seq;
}

static const struct pending *front(const struct stream *st)
{
	return &st->q[st->head];
}

static int stream_before(const struct stream *a, const struct stream *b)
{
	return before(front(a), front(b));
}

static void sift_up(struct replay_state *s, size_t i)
{
	struct stream *st = s->heap[i];

	while (i > 0 && stream_before(st, s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = st;
}

static void sift_down(struct replay_state *s, size_t i)
{
	struct stream *st = s->heap[i];
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

static void enqueue(struct replay_state *s, struct stream *st, const struct pending *p)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		struct pending *q = hg_xmalloc(sizeof(*q) * cap);
		for (size_t i = 0; i < st->n; i++)
			q[i] = st->q[(st->head + i) & (st->cap - 1)];
		free(st->q);
		st->q = q;
		st->head = 0;
		st->cap = cap;
	}
	st->q[(st->head + st->n) & (st->cap - 1)] = *p; /* cap is a power of two */
	if (st->n++ == 0) {
		HG_GROW(s->heap, s->heap_cap, s->n_heap + 1);
		s->heap[s->n_heap++] = st;
		sift_up(s, s->n_heap - 1);
	}
	s->n_pending++;
}

/* Take the earliest waiting event. */
static struct pending dequeue(struct replay_state *s)
{
	struct stream *st = s->heap[0];
	struct pending p = *front(st);

	st->head = (st->head + 1) & (st->cap - 1);
	s->n_pending--;
	if (--st->n == 0) {
		s->heap[0] = s->heap[--s->n_heap];
		if (s->n_heap)
			sift_down(s, 0);
	} else {
		sift_down(s, 0);
	}
	return p;
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

static void add_live(struct hg_image *im, const struct hg_live *v, uint64_t t)
{
	struct hg_site *st = site(im, v->stack_id);

	st->live_bytes += v->size_bytes;
	st->live_blocks++;
	im->totals.live_bytes += v->size_bytes;
	im->totals.live_blocks++;
	if (im->totals.live_bytes > im->totals.peak_bytes) {
		im->totals.peak_bytes = im->totals.live_bytes;
		im->totals.peak_time_ns = t >= im->t_start_ns ? t - im->t_start_ns : 0;
		if (HG_UNLIKELY(im->totals.peak_bytes == im->peak_target))
			hg_peak_capture(im);
	}
	hg_timeline_note(im, t);
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

static void apply_alloc(struct hg_image *im, const struct pending *p)
{
	struct hg_live v = { p->size, p->t_ns, p->stack_id, 0 }, old;
	struct hg_site *st = site(im, p->stack_id);

	st->allocations++;
	st->allocated_bytes += p->size;
	im->totals.allocations++;
	im->totals.allocated_bytes += p->size;
	/* Present already: its free was never seen (allocated before the trace, or lost). */
	if (hg_addrmap_put(&im->live, p->addr, &v, &old))
		drop_live(im, &old);
	add_live(im, &v, p->t_ns);
}

static void apply_free(struct hg_image *im, const struct pending *p)
{
	struct hg_live old;

	if (!hg_addrmap_take(&im->live, p->addr, &old)) {
		im->totals.unknown_frees++;
		return;
	}
	im->totals.frees++;
	drop_live_at(im, &old, p->t_ns);
}

static void apply_fork(struct hg_image *child, uint64_t t)
{
	struct hg_image *parent = child->parent;
	size_t pos = 0;
	uint64_t addr;
	const struct hg_live *v;

	if (!parent)
		return;
	while (hg_addrmap_next(&parent->live, &pos, &addr, &v)) {
		hg_addrmap_put(&child->live, addr, v, NULL);
		add_live(child, v, t);
	}
}

static int by_addr(const void *a, const void *b)
{
	const struct hg_block *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The snapshot's moment: copy the live set, sorted by address. */
static void apply_snapshot(struct hg_image *im, struct hg_snapshot *sn)
{
	size_t pos = 0, n = 0;
	uint64_t addr;
	const struct hg_live *v;

	sn->blocks = hg_xmalloc(sizeof(*sn->blocks) * (im->live.n ? im->live.n : 1));
	while (hg_addrmap_next(&im->live, &pos, &addr, &v))
		sn->blocks[n++] = (struct hg_block){ addr, v->size_bytes, v->stack_id };
	qsort(sn->blocks, n, sizeof(*sn->blocks), by_addr);
	sn->n_blocks = n;
	sn->have_blocks = 1;
}

static void apply(struct replay_state *s, const struct pending *p)
{
	struct hg_image *im = p->im ? p->im : image_at(s, p->pid, p->t_ns);

	if (p->kind == P_ALLOC)
		apply_alloc(im, p);
	else if (p->kind == P_FREE)
		apply_free(im, p);
	else if (p->kind == P_FORK)
		apply_fork(im, p->t_ns);
	else
		apply_snapshot(im, p->snap);
}

static void drain(struct replay_state *s, int all)
{
	while (s->n_heap && (all || s->n_pending > MAX_PENDING ||
			     front(s->heap[0])->t_ns + WINDOW_NS <= s->max_t)) {
		struct pending p = dequeue(s);
		apply(s, &p);
	}
}

static void push_timed(struct replay_state *s, struct pending *p, uint32_t tid)
{
	struct stream *st = stream_of(s, p->pid, tid);

	p->seq = s->seq++;
	if (p->t_ns > s->max_t)
		s->max_t = p->t_ns;
	st->last_t = p->t_ns;
	enqueue(s, st, p);
	drain(s, 0);
}

/* ---- records applied in file order ---------------------------------------------------- */

static struct hg_image *find_image(struct replay_state *s, uint32_t pid, uint64_t t)
{
	struct pid_images *e;

	HASH_FIND(hh, s->pids, &pid, sizeof(pid), e);
	for (size_t i = e ? e->n : 0; i-- > 0;)
		if (e->im[i]->t_start_ns <= t)
			return e->im[i];
	return NULL;
}

/* argv as /proc/PID/cmdline has it (NUL-separated) joined with spaces. */
static char *join_cmdline(const char *p, uint32_t n)
{
	char *s = hg_xmalloc((size_t)n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	while (n > 0 && s[n - 1] == '\0')
		n--;
	for (uint32_t i = 0; i < n; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	return s;
}

static void on_process(struct replay_state *s, const struct hg_rec_process *p, uint32_t tid)
{
	const char *tail = (const char *)(p + 1);
	struct pid_images *e = pid_entry(s, p->pid);
	struct hg_image *prev = e->n ? e->im[e->n - 1] : NULL;
	struct hg_image *im = new_image(s, p->pid, p->t_ns);
	struct pending fork = { 0 };

	im->ppid = p->ppid;
	im->forked = (p->hdr.flags & HG_PROCESS_FORK) != 0;
	im->bare = (p->hdr.flags & HG_PROCESS_BARE) != 0;
	im->max_frames = p->max_frames;
	free(im->command);
	free(im->exe);
	im->command = join_cmdline(tail, p->cmdline_bytes);
	im->exe = join_cmdline(tail + p->cmdline_bytes, p->exe_bytes);
	if (prev && !im->forked) {
		im->exec = 1;
		if (prev->end_kind == HG_END_UNKNOWN)
			prev->end_kind = HG_END_EXEC;
	}
	stream_of(s, p->pid, tid)->last_t = p->t_ns;
	if (im->forked && (im->parent = find_image(s, p->ppid, p->t_ns))) {
		fork.t_ns = p->t_ns;
		fork.kind = P_FORK;
		fork.im = im;
		fork.pid = p->pid;
		push_timed(s, &fork, tid);
	}
}

static void on_stack(struct replay_state *s, const struct hg_rec_stack *st, uint32_t pid,
		     uint32_t tid)
{
	struct hg_image *im = image_at(s, pid, stream_of(s, pid, tid)->last_t);
	struct hg_stack *dst;

	if (st->stack_id >= im->n_stacks) {
		size_t cap = im->n_stacks;
		HG_GROW(im->stacks, cap, (size_t)st->stack_id + 1);
		im->n_stacks = (uint32_t)cap;
	}
	dst = &im->stacks[st->stack_id];
	free(dst->ip);
	dst->n_frames = st->n_frames;
	dst->ip = hg_xmalloc(sizeof(uint64_t) * (st->n_frames ? st->n_frames : 1));
	memcpy(dst->ip, st + 1, sizeof(uint64_t) * st->n_frames);
}

static void on_module(struct replay_state *s, const struct hg_rec_module *m, uint32_t pid)
{
	struct hg_image *im = image_at(s, pid, m->t_ns);
	const struct hg_segment *seg = (const struct hg_segment *)(m + 1);
	const uint8_t *bid = (const uint8_t *)(seg + m->n_segments);
	struct hg_module *mod;
	size_t cap = im->n_modules;

	HG_GROW(im->modules, cap, (size_t)im->n_modules + 1);
	mod = &im->modules[im->n_modules++];
	memset(mod, 0, sizeof(*mod));
	mod->path = join_cmdline((const char *)bid + m->build_id_bytes, m->path_bytes);
	mod->build_id_len = m->build_id_bytes <= sizeof(mod->build_id) ? m->build_id_bytes : 0;
	memcpy(mod->build_id, bid, mod->build_id_len);
	mod->is_main = (m->hdr.flags & HG_MODULE_MAIN) != 0;
	mod->load_bias = m->load_bias;
	mod->t_load_ns = m->t_ns;
	mod->t_unload_ns = UINT64_MAX;
	mod->lo = UINT64_MAX;
	for (uint32_t i = 0; i < m->n_segments; i++) {
		if (m->load_bias + seg[i].vaddr < mod->lo)
			mod->lo = m->load_bias + seg[i].vaddr;
		if (m->load_bias + seg[i].vaddr + seg[i].memsz > mod->hi)
			mod->hi = m->load_bias + seg[i].vaddr + seg[i].memsz;
	}
}

static void on_unmodule(struct replay_state *s, const struct hg_rec_unmodule *u, uint32_t pid)
{
	struct hg_image *im = image_at(s, pid, u->t_ns);

	for (uint32_t i = im->n_modules; i-- > 0;) {
		struct hg_module *m = &im->modules[i];
		if (m->load_bias == u->load_bias && m->t_unload_ns == UINT64_MAX) {
			m->t_unload_ns = u->t_ns;
			return;
		}
	}
}

static void on_exit_record(struct replay_state *s, const struct hg_rec_exit *x)
{
	struct hg_image *im = find_image(s, x->pid, x->t_ns);

	if (!im)
		return;
	if (x->source == HG_EXIT_SIGNAL) {
		im->end_kind = HG_END_SIGNAL;
		im->exit_status = x->status;
	} else if (x->source == HG_EXIT_WAIT || x->source == HG_EXIT_CALL) {
		/* waitpid's word is final; exit()'s stands until then. */
		if (x->source == HG_EXIT_WAIT || im->end_kind == HG_END_UNKNOWN) {
			im->end_kind = HG_END_CODE;
			im->exit_status = x->status;
		}
	}
}

static void on_loss(struct replay_state *s, const struct hg_rec_loss *l)
{
	struct hg_image *im = l->pid ? find_image(s, l->pid, l->t_ns) : NULL;

	if (im)
		im->totals.lost_events += l->n_events;
	else
		s->r->lost_events += l->n_events;
}

static void on_snapshot(struct replay_state *s, const struct hg_rec_snapshot *r, uint32_t pid,
			uint32_t tid)
{
	struct hg_image *im = image_at(s, pid, r->t_ns);
	struct hg_snapshot *sn = hg_xcalloc(1, sizeof(*sn));
	struct pending p = { 0 };
	size_t cap = im->n_snapshots;

	sn->id = r->snapshot_id;
	sn->reason = r->hdr.flags;
	sn->label = join_cmdline((const char *)(r + 1), r->label_bytes);
	sn->t_ns = r->t_ns;
	sn->threads = r->threads;
	sn->threads_stopped = r->threads_stopped;
	HG_GROW(im->snapshots, cap, (size_t)im->n_snapshots + 1);
	im->snapshots[im->n_snapshots++] = sn;
	p.t_ns = r->t_ns;
	p.kind = P_SNAP;
	p.im = im;
	p.snap = sn;
	p.pid = pid;
	push_timed(s, &p, tid);
}

static struct hg_snapshot *snapshot_of(struct hg_image *im, uint32_t id)
{
	for (uint32_t i = im->n_snapshots; i-- > 0;)
		if (im->snapshots[i]->id == id)
			return im->snapshots[i];
	return NULL;
}

/* REGION, WORDS and SNAPSHOT_END belong to the snapshot their thread just began. */
static void on_snapshot_part(struct replay_state *s, const struct hg_rec *h, uint32_t pid,
			     uint32_t tid)
{
	struct hg_image *im = image_at(s, pid, stream_of(s, pid, tid)->last_t);
	const struct hg_rec_words *w = (const void *)h;
	struct hg_snapshot *sn = snapshot_of(im, w->snapshot_id); /* id at offset 8 in all three */

	if (!sn)
		return;
	if (h->type == HG_REC_REGION) {
		const struct hg_rec_region *r = (const void *)h;
		HG_GROW(sn->regions, sn->regions_cap, sn->n_regions + 1);
		sn->regions[sn->n_regions++] = (struct hg_region){ r->lo, r->hi, r->live_lo,
			r->hdr.flags & 0xffu, r->tid, (r->hdr.flags & HG_REGION_GUARD_BELOW) != 0 };
	} else if (h->type == HG_REC_WORDS) {
		if (s->flags & HG_REPLAY_SKIP_WORDS)
			return;
		HG_GROW(sn->pairs, sn->pairs_cap, 2 * (sn->n_pairs + w->n));
		memcpy(sn->pairs + 2 * sn->n_pairs, w + 1, 16u * w->n);
		sn->n_pairs += w->n;
	} else {
		sn->complete = 1;
	}
}

static void dispatch(struct replay_state *s, const struct hg_record *rec)
{
	const struct hg_rec *h = rec->rec;
	struct pending p = { 0 };

	switch (h->type) {
	case HG_REC_ALLOC: {
		const struct hg_rec_alloc *a = (const void *)h;
		p = (struct pending){ a->t_ns, 0, a->addr, a->size_bytes, NULL, NULL, rec->pid,
				      a->stack_id, P_ALLOC };
		push_timed(s, &p, rec->tid);
		break;
	}
	case HG_REC_FREE: {
		const struct hg_rec_free *f = (const void *)h;
		p = (struct pending){ f->t_ns, 0, f->addr, 0, NULL, NULL, rec->pid, 0, P_FREE };
		push_timed(s, &p, rec->tid);
		break;
	}
	case HG_REC_PROCESS: on_process(s, (const void *)h, rec->tid); break;
	case HG_REC_STACK: on_stack(s, (const void *)h, rec->pid, rec->tid); break;
	case HG_REC_MODULE: on_module(s, (const void *)h, rec->pid); break;
	case HG_REC_UNMODULE: on_unmodule(s, (const void *)h, rec->pid); break;
	case HG_REC_EXIT: on_exit_record(s, (const void *)h); break;
	case HG_REC_LOSS: on_loss(s, (const void *)h); break;
	case HG_REC_RSS: {
		const struct hg_rec_rss *x = (const void *)h;
		struct hg_image *im = find_image(s, x->pid, x->t_ns);
		if (im)
			hg_rss_note(im, x->t_ns, x->rss_bytes);
		break;
	}
	case HG_REC_SNAPSHOT: on_snapshot(s, (const void *)h, rec->pid, rec->tid); break;
	case HG_REC_REGION:
	case HG_REC_WORDS:
	case HG_REC_SNAPSHOT_END: on_snapshot_part(s, h, rec->pid, rec->tid); break;
	default: break; /* a newer writer's record type: skipped by the version policy */
	}
}

static void state_release(struct replay_state *s)
{
	struct pid_images *e, *etmp;
	struct stream *st, *stmp;

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
}

struct hg_replay *hg_replay_file(const char *path)
{
	return hg_replay_file_flags(path, 0);
}

static struct hg_replay *replay_pass(const char *path, unsigned flags,
				     const uint64_t *targets, size_t n_targets);

struct hg_replay *hg_replay_file_flags(const char *path, unsigned flags)
{
	struct hg_replay *first, *second;
	uint64_t *targets;

	if (!(flags & HG_REPLAY_PEAK))
		return replay_pass(path, flags, NULL, 0);
	/* The peak is known only at the end: a first pass finds it, a second stops there. */
	if (!(first = replay_pass(path, flags | HG_REPLAY_SKIP_WORDS, NULL, 0)))
		return NULL;
	targets = hg_xmalloc(sizeof(*targets) * (first->n_images ? first->n_images : 1));
	for (uint32_t i = 0; i < first->n_images; i++)
		targets[i] = first->images[i]->totals.peak_bytes;
	second = replay_pass(path, flags, targets, first->n_images);
	free(targets);
	hg_replay_free(first);
	return second;
}

static struct hg_replay *replay_pass(const char *path, unsigned flags,
				     const uint64_t *targets, size_t n_targets)
{
	struct hg_trace_reader *rd = hg_trace_reader_open(path);
	struct replay_state s;
	struct hg_record rec;
	int k;

	if (!rd)
		return NULL;
	memset(&s, 0, sizeof(s));
	s.flags = flags;
	s.peak_targets = targets;
	s.n_peak_targets = n_targets;
	s.r = hg_xcalloc(1, sizeof(*s.r));
	s.r->path = hg_xstrdup(path);
	s.r->t0_ns = hg_trace_reader_header(rd)->created_mono_ns;
	while ((k = hg_trace_reader_next(rd, &rec)) == 1) {
		s.r->n_records++;
		dispatch(&s, &rec);
	}
	if (k < 0)
		s.r->damage = hg_xstrdup(hg_trace_reader_damage(rd, &s.r->damage_offset));
	drain(&s, 1);
	state_release(&s);
	hg_trace_reader_close(rd);
	return s.r;
}

/* ---- queries and cleanup -------------------------------------------------------------- */

const struct hg_stack *hg_image_stack(const struct hg_image *im, uint32_t stack_id)
{
	for (; im; im = im->parent)
		if (stack_id < im->n_stacks && im->stacks[stack_id].n_frames)
			return &im->stacks[stack_id];
	return NULL;
}

const struct hg_module *hg_image_module(const struct hg_image *im, uint64_t addr)
{
	for (; im; im = im->parent)
		for (uint32_t i = im->n_modules; i-- > 0;)
			if (addr >= im->modules[i].lo && addr < im->modules[i].hi)
				return &im->modules[i];
	return NULL;
}

static void snapshot_free(struct hg_snapshot *sn)
{
	free(sn->label);
	free(sn->blocks);
	free(sn->regions);
	free(sn->pairs);
	free(sn);
}

static void image_free(struct hg_image *im)
{
	for (uint32_t i = 0; i < im->n_snapshots; i++)
		snapshot_free(im->snapshots[i]);
	free(im->snapshots);
	for (uint32_t i = 0; i < im->n_stacks; i++)
		free(im->stacks[i].ip);
	for (uint32_t i = 0; i < im->n_modules; i++)
		free(im->modules[i].path);
	free(im->stacks);
	free(im->modules);
	free(im->sites);
	free(im->peak_sites);
	free(im->timeline);
	free(im->rss);
	free(im->command);
	free(im->exe);
	hg_addrmap_release(&im->live);
	free(im);
}

void hg_replay_free(struct hg_replay *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n_images; i++)
		image_free(r->images[i]);
	free(r->images);
	free(r->damage);
	free(r->path);
	free(r);
}
