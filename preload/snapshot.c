/*
 * snapshot.c - record the roots and the pointers between live blocks: a heap snapshot
 *
 * The shim does not know which blocks are live (that would cost a table update on every malloc
 * and free); the analyzer does, from the events. So the shim, with every other thread stopped,
 * reads the process's maps (through its own thread: procself.h), takes every writable private
 * mapping, and writes each aligned word whose value falls inside an anonymous or brk mapping
 * (where malloc's blocks live) but not in one the program mapped itself (progmaps.h) as a
 * (where, value) pair, plus the list of regions with their kinds. The analyzer then sorts the
 * pairs into edges between live blocks, roots, and noise in free memory.
 *
 * What is not scanned: the shim's own memory (the arena, its library's data), the dead part of
 * each stopped thread's stack below its stack pointer (minus the 128-byte red zone), and the
 * snapshotting thread's own frames inside the shim. Memory is read with process_vm_readv so that
 * a mapping a running thread removes under us makes a short read, not a crash. It is addressed
 * to the snapshotting thread: once the main thread has called pthread_exit, the pid names a
 * zombie without memory (ESRCH).
 *
 * Nothing here allocates while other threads are stopped: the buffers come from the arena
 * before the world stops (a stopped thread may hold the arena's lock or malloc's).
 *
 * One snapshot at a time per process (snap_lock): the buffers and the stopped world are single,
 * and two threads stopping the world at once park in each other's stop handler for ever.
 *
 * Requests by signal come through snapshot_signal.c.
 *
 * Runs in: the exit path (destructor, _exit), heapgraph_snapshot(), the snapshot signal, and
 * the exit of any interposed call after a snapshot signal found its thread inside the shim.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arena.h"
#include "digits.h"
#include "hg_futex.h"
#include "guard.h"
#include "lifecycle.h"
#include "mallinfo.h"
#include "ownmem.h"
#include "procself.h"
#include "progmaps.h"
#include "rawlog.h"
#include "ring.h"
#include "snapshot.h"
#include "stack.h"
#include "touched.h"
#include "world.h"

#define MAPS_BYTES (4u << 20)
#define MAX_REGIONS 16384
#define CHUNK_BYTES (64u << 10)
#define RED_ZONE 128

struct region {
	uint64_t lo, hi, live_lo;
	uint32_t kind; /* enum hg_region_kind, plus HG_REGION_GUARD_BELOW */
	uint32_t tid;
};

static struct {
	struct hg_world world;
	char *maps;                /* MAPS_BYTES: the process's maps */
	struct region *regions;    /* MAX_REGIONS */
	uint32_t n_regions;
	struct region *targets;    /* ANON and BRK regions, sorted: where blocks can live */
	uint32_t n_targets;
	uint64_t *regs;            /* saved registers, scanned as one REGS region */
	uint8_t *chunk;            /* CHUNK_BYTES read buffer */
	struct hg_rec_words *words;/* record being filled */
	uint64_t *pairs;           /* its pairs */
	uint32_t id;               /* last snapshot id of this image */
	pid_t self_tid;            /* process_vm_readv's target, this thread (not the pid: see
				      the top of the file) */
	uint64_t scanned, written;
	int ready;
} snap;

/*
 * Held from before prepare() until the buffers are given back: a futex word, 0 free, 1 held,
 * 2 held with waiters. Not a pthread mutex: a waiter must stay a thread the holder can stop.
 * FUTEX_WAIT runs signal handlers, so the holder's stop signal parks the waiter in the middle
 * of its wait (it holds nothing the holder needs), and the wait goes on once released. A thread
 * never waits for itself: every caller holds the guard, so a snapshot signal that interrupts a
 * holder or a waiter is left pending (on_signal). A fork child has only the forking thread: the
 * lock is reset there (hg_snapshot_fork_child), as a holder that was another thread of the
 * parent is not in it.
 */
static uint32_t snap_lock;

static void lock(void)
{
	uint32_t c = 0;

	/* Acquire: the previous holder's writes to snap and the buffers are seen. */
	if (__atomic_compare_exchange_n(&snap_lock, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	while (__atomic_exchange_n(&snap_lock, 2, __ATOMIC_ACQUIRE) != 0)
		hg_futex(&snap_lock, FUTEX_WAIT_PRIVATE, 2, NULL);
}

static void unlock(void)
{
	/* Release: this snapshot's writes are done before the next holder starts. */
	if (__atomic_exchange_n(&snap_lock, 0, __ATOMIC_RELEASE) == 2)
		hg_futex(&snap_lock, FUTEX_WAKE_PRIVATE, 1, NULL);
}

void hg_snapshot_fork_child(void)
{
	snap_lock = 0;
	/* The pagemap a parent's snapshot had open describes the parent's pages: the child's own
	 * snapshots open their own (closed here, before the program can reuse the number). */
	hg_touched_close();
}

/*
 * The buffers a snapshot needs, mapped once, in one mapping of the arena's: its pages are given
 * back to the kernel after each snapshot (give_back), so that between snapshots they are not
 * part of the tracer's resident memory (the read buffer and the record being filled alone are
 * 80 KiB, a tenth of a small program's heap). The next snapshot touches them afresh, zeroed.
 */
static struct {
	uint8_t *base;
	size_t bytes;
} bufs;

static size_t carve(size_t *at, size_t bytes)
{
	size_t here = *at;

	*at += (bytes + 63u) & ~(size_t)63u;
	return here;
}

static int prepare(void)
{
	size_t at = 0, thread, maps, regions, targets, regs, chunk, words;

	if (snap.ready)
		return 0;
	thread = carve(&at, sizeof(struct hg_world_thread) * HG_WORLD_MAX_THREADS);
	maps = carve(&at, MAPS_BYTES);
	regions = carve(&at, sizeof(struct region) * MAX_REGIONS);
	targets = carve(&at, sizeof(struct region) * MAX_REGIONS);
	regs = carve(&at, sizeof(uint64_t) * HG_WORLD_NREGS * (HG_WORLD_MAX_THREADS + 1));
	chunk = carve(&at, CHUNK_BYTES);
	words = carve(&at, sizeof(struct hg_rec_words) + 16u * HG_WORDS_MAX);
	if (!(bufs.base = hg_arena_alloc(at)))
		return -1;
	bufs.bytes = at;
	snap.world.thread = (struct hg_world_thread *)(bufs.base + thread);
	snap.maps = (char *)(bufs.base + maps);
	snap.regions = (struct region *)(bufs.base + regions);
	snap.targets = (struct region *)(bufs.base + targets);
	snap.regs = (uint64_t *)(bufs.base + regs);
	snap.chunk = bufs.base + chunk;
	snap.words = (struct hg_rec_words *)(bufs.base + words);
	snap.pairs = (uint64_t *)(snap.words + 1);
	snap.ready = 1;
	return 0;
}

/* After a snapshot: nothing in the buffers is needed again (prepare's mapping stays). */
static void give_back(void)
{
	madvise(bufs.base, bufs.bytes, MADV_DONTNEED);
}

/* ---- output ----------------------------------------------------------------------------- */

static void flush_words(void)
{
	uint32_t n = snap.words->n;

	if (!n)
		return;
	snap.words->hdr.type = HG_REC_WORDS;
	snap.words->hdr.flags = 0;
	snap.words->hdr.size_bytes = (uint32_t)sizeof(*snap.words) + 16u * n;
	snap.words->snapshot_id = snap.id;
	hg_ring_put(snap.words, snap.words->hdr.size_bytes);
	snap.written += n;
	snap.words->n = 0;
}

static void add_pair(uint64_t where, uint64_t value)
{
	uint32_t n = snap.words->n;

	snap.pairs[2 * n] = where;
	snap.pairs[2 * n + 1] = value;
	if (++snap.words->n == HG_WORDS_MAX)
		flush_words();
}

static void emit_region(const struct region *r)
{
	struct hg_rec_region rec = { { HG_REC_REGION, (uint16_t)r->kind, sizeof(rec) }, snap.id,
				     r->tid, r->lo, r->hi, r->live_lo };

	hg_ring_put(&rec, sizeof(rec));
}

/* ---- scanning --------------------------------------------------------------------------- */

/* Whether what the scan finds still goes anywhere: a collector that died during the snapshot
 * disables tracing (hg_ring_put), and the threads it keeps stopped would wait for nothing. */
static int recording(void)
{
	return __atomic_load_n(&hg_state, __ATOMIC_RELAXED) == HG_ACTIVE;
}

/* Whether v, inside the span of the targets (scan_words bounds it), is inside one of them. */
static int in_targets(uint64_t v)
{
	uint32_t lo = 0, hi = snap.n_targets;

	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;
		if (v < snap.targets[mid].lo)
			hi = mid;
		else if (v >= snap.targets[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/* The n words at w, which are our memory's at base. Most words of a heap are not addresses (zero,
 * small numbers, text): one subtraction against the span of all targets turns them away. */
static void scan_words(uint64_t base, const uint64_t *w, size_t n)
{
	uint64_t first, span;

	if (!snap.n_targets)
		return; /* nothing to look for: nothing read */
	snap.scanned += n;
	first = snap.targets[0].lo;
	span = snap.targets[snap.n_targets - 1].hi - first;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = w[i];

		if (v - first < span && in_targets(v))
			add_pair(base + 8 * i, v);
	}
}

/*
 * Up to want bytes of our own memory from lo: *got bytes (0 when the page is gone) at the
 * returned address, snap.chunk or lo itself. Memory is read with process_vm_readv, so that a
 * mapping a running thread removes under us makes a short read, not a crash; where a sandbox
 * forbids it (seccomp: EPERM or ENOSYS), in place: every thread we could stop is stopped, so
 * only an unstopped one could unmap memory under us.
 */
static const uint64_t *read_words(uint64_t lo, size_t want, size_t *got)
{
	static int direct;

	if (!direct) {
		struct iovec local = { snap.chunk, want }, remote = { (void *)(uintptr_t)lo, want };
		ssize_t n = process_vm_readv(snap.self_tid, &local, 1, &remote, 1, 0);
		if (n >= 0 || (errno != EPERM && errno != ENOSYS)) {
			*got = n > 0 ? (size_t)n : 0;
			return (const uint64_t *)snap.chunk;
		}
		direct = 1;
	}
	*got = want;
	return (const uint64_t *)(uintptr_t)lo;
}

/* Scan [lo, hi) in chunks, the pages that were ever written only (touched.h); a vanished
 * page just ends the region early. */
static void scan_range(uint64_t lo, uint64_t hi)
{
	uint64_t touched = lo; /* [lo, touched): pages known touched */

	if (!snap.n_targets)
		return; /* nothing to look for: nothing read */
	lo = (lo + 7u) & ~7ull;
	while (lo + 8 <= hi && recording()) {
		size_t want, got;
		const uint64_t *w;

		if (lo >= touched && (lo = hg_touched_next(lo, hi, &touched)) + 8 > hi)
			return;
		want = touched - lo < CHUNK_BYTES ? (size_t)(touched - lo) & ~(size_t)7 : CHUNK_BYTES;
		w = read_words(lo, want, &got);

		if (got < 8)
			return;
		scan_words(lo, w, got / 8);
		lo += (uint64_t)got & ~7ull;
	}
}

/*
 * The brk heap: glibc's main arena, a run of chunks from its first byte to the top chunk. Each
 * chunk's size word (8 bytes in) holds its size with the low three bits as flags; the next
 * chunk's bit 0 (PREV_INUSE) says whether this one is handed out. Only chunks in use can hold
 * live blocks (a block in a thread cache or a fast bin still counts as in use: a superset,
 * which is all the analyzer needs), so only their words are scanned: after a program freed
 * most of a large heap, that skips the stale pointers of everything it freed (half of a
 * CPython trace, before). A size that does not fit (a program that moved the break itself, a
 * heap that is not glibc's) falls back to scanning the rest of the region word by word.
 *
 * In a process with no other thread (its task list read whole), nothing can move the break or
 * unmap the heap under us, and the walk reads only inside [lo, hi): the heap is then read in
 * place, not copied through process_vm_readv (a seventh of a 1 GiB heap's exit snapshot,
 * before). Not with other threads, even all stopped: one may be created while the world
 * stops, and more than HG_WORLD_MAX_THREADS are not all listed; nor in a vfork child, whose
 * parent's threads share its memory. What reading in place gives up: pages the program made
 * unreadable to this thread without splitting the mapping (a protection key, a guard region
 * of MADV_GUARD_INSTALL) fault, where process_vm_readv made a short read; and a task that
 * shares the memory without being a thread of the process (clone with CLONE_VM alone) is not
 * seen.
 */
#define CHUNK_MIN 32u

struct window {
	uint64_t lo, hi;       /* [lo, hi) of the region is at words */
	const uint64_t *words;
	uint64_t end;          /* end of the region */
	int in_place;          /* read the region where it is, not through read_words */
};

/* Moves the window to hold the word at a (8-aligned, inside the region); -1 when unreadable. */
static int window_at(struct window *w, uint64_t a)
{
	if (w->in_place) {
		w->lo = a;
		w->hi = w->end;
		w->words = (const uint64_t *)(uintptr_t)a;
	} else if (a < w->lo || a + 8 > w->hi) {
		size_t want = w->end - a < CHUNK_BYTES ? (size_t)(w->end - a) : CHUNK_BYTES;
		size_t got;

		w->words = read_words(a, want & ~(size_t)7, &got);
		if (got < 8)
			return -1;
		w->lo = a;
		w->hi = a + ((uint64_t)got & ~7ull);
	}
	return 0;
}

/* The word at a through the window; -1 when unreadable. */
static int word_at(struct window *w, uint64_t a, uint64_t *out)
{
	if (window_at(w, a) < 0)
		return -1;
	*out = w->words[(a - w->lo) / 8];
	return 0;
}

/* Scans the words of [a, end) through the window, a piece of it at a time; -1 when unreadable. */
static int scan_window(struct window *w, uint64_t a, uint64_t end)
{
	while (a < end) {
		uint64_t stop;

		if (window_at(w, a) < 0)
			return -1;
		stop = end < w->hi ? end : w->hi;
		scan_words(a, w->words + (a - w->lo) / 8, (size_t)(stop - a) / 8);
		a = stop;
	}
	return 0;
}

static void scan_brk(uint64_t lo, uint64_t hi, int in_place)
{
	struct window w = { 0, 0, NULL, hi, in_place };
	uint64_t p = (lo + 15u) & ~15ull, size, next_size;

	if (!snap.n_targets)
		return; /* nothing to look for: nothing read */
	while (p + 8 + CHUNK_MIN <= hi && recording()) {
		if (word_at(&w, p + 8, &size) < 0)
			return;
		size &= ~7ull;
		if (size < CHUNK_MIN || size & 15 || size > hi - p) {
			scan_range(p, hi);
			return;
		}
		if (p + size + 8 + CHUNK_MIN > hi)
			return; /* the top chunk: free */
		if (word_at(&w, p + size + 8, &next_size) < 0)
			return;
		/* In use: its data runs from after its size word to the next chunk's size word. */
		if (next_size & 1 && scan_window(&w, p + 16, p + size + 8) < 0)
			return;
		p += size;
	}
}

/* ---- regions from the process's maps ---------------------------------------------------- */

/* The hex number at *p, which moves past it (the maps text ends in a NUL). */
static uint64_t hex(const char **p)
{
	size_t used;
	uint64_t v = hg_hex_prefix(*p, SIZE_MAX, &used);

	*p += used;
	return v;
}

/* Through this thread's /proc directory: the main thread's reads as empty once it has exited. */
static size_t read_maps(void)
{
	int fd = hg_procself_open("maps");
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while (len + 1 < MAPS_BYTES && (n = read(fd, snap.maps + len, MAPS_BYTES - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	snap.maps[len] = '\0';
	return len;
}

/* The thread whose stack pointer lies in [lo, hi), or NULL. */
static const struct hg_world_thread *stack_owner(uint64_t lo, uint64_t hi)
{
	for (uint32_t i = 0; i < snap.world.n; i++) {
		const struct hg_world_thread *t = &snap.world.thread[i];
		if (t->stopped && t->sp >= lo && t->sp < hi)
			return t;
	}
	return NULL;
}

/*
 * Where the thread descriptor is when [lo, hi) is a stack glibc keeps from a thread that ended,
 * else 0: the region sits on a guard page, its top holds a descriptor (whose first word and
 * whose `self` two words on point at the descriptor itself), and that is no living thread's.
 * The frames such a thread left behind are not roots (no thread runs there; they still point
 * at blocks it leaked, and memcheck does not scan them either); the descriptor is, as it keeps
 * the thread's dtv and pthread_setspecific arrays for the next thread. Only said when every
 * other thread stopped and told us its descriptor; a coroutine's stack has none.
 */
#define TCB_SEARCH_BYTES (16u << 10)

static uint64_t dead_thread_stack(uint64_t lo, uint64_t hi)
{
	uint64_t self, from = hi - lo > TCB_SEARCH_BYTES ? hi - TCB_SEARCH_BYTES : lo;
	const uint64_t *w;
	size_t got;

	if (snap.world.n_stopped != snap.world.n)
		return 0;
	w = read_words(from, (size_t)(hi - from), &got);
	__asm__("mov %%fs:0, %0" : "=r"(self));
	for (size_t i = 0; i + 2 < got / 8; i++) {
		uint64_t at = from + 8 * i;
		if (w[i] != at || w[i + 2] != at)
			continue;
		if (at == self)
			return 0;
		for (uint32_t k = 0; k < snap.world.n; k++)
			if (snap.world.thread[k].tcb == at)
				return 0;
		return at;
	}
	return 0;
}

static void classify(struct region *r, const char *path, const struct hg_caller *c)
{
	const struct hg_world_thread *t = stack_owner(r->lo, r->hi);
	uint32_t guard = r->kind & HG_REGION_GUARD_BELOW;
	uint64_t tcb;

	r->live_lo = r->lo;
	r->tid = 0;
	if (c->sp >= r->lo && c->sp < r->hi) {
		r->kind = HG_REGION_STACK;
		r->tid = hg_tls.tid;
		r->live_lo = c->sp;
	} else if (t) {
		r->kind = HG_REGION_STACK;
		r->tid = t->tid;
		r->live_lo = t->sp - RED_ZONE > r->lo ? t->sp - RED_ZONE : r->lo;
	} else if (!strncmp(path, "[heap]", 6)) {
		r->kind = HG_REGION_BRK;
	} else if (!strncmp(path, "[stack]", 7)) {
		r->kind = HG_REGION_STACK; /* main thread not stopped: its whole stack is a root */
	} else if (guard && !*path && (tcb = dead_thread_stack(r->lo, r->hi))) {
		r->kind = HG_REGION_STACK; /* of no thread: its live part is the descriptor */
		r->live_lo = tcb;
	} else {
		r->kind = *path ? HG_REGION_DATA : HG_REGION_ANON;
	}
	r->kind |= guard;
}

/*
 * Parse one maps line into a region; 0 when it is not one to scan. *guard tracks where the last
 * inaccessible mapping ended, to flag regions that sit right on top of a guard page (thread
 * stacks, live or cached by glibc after their thread died).
 */
static int parse_line(const char *p, struct region *r, const char **path, uint64_t *guard)
{
	const char *perms;
	int guarded;

	r->lo = hex(&p);
	if (*p++ != '-')
		return 0;
	r->hi = hex(&p);
	perms = ++p;
	guarded = *guard == r->lo;
	if (perms[0] == '-' && perms[1] == '-' && perms[2] == '-')
		*guard = r->hi;
	if (perms[0] != 'r' || perms[1] != 'w' || perms[3] != 'p')
		return 0;
	r->kind = guarded ? HG_REGION_GUARD_BELOW : 0;
	for (int field = 0; field < 4 && *p; field++) { /* perms, offset, dev, inode */
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	*path = p;
	if (!strncmp(p, "[vvar]", 6) || !strncmp(p, "[vsyscall]", 10) || !strncmp(p, "[vdso]", 6))
		return 0;
	return !hg_stack_is_self(r->lo) && !hg_arena_owns(r->lo);
}

/* Append [lo, hi) to the targets; -1 when there is no room. */
static int add_target(uint64_t lo, uint64_t hi)
{
	if (snap.n_targets == MAX_REGIONS)
		return -1;
	snap.targets[snap.n_targets].lo = lo;
	snap.targets[snap.n_targets].hi = hi;
	snap.n_targets++;
	return 0;
}

/*
 * Where blocks can live, in address order: the brk heap and anonymous memory, less (with
 * `less_own`) the program's own mappings (progmaps.h), whose pointers to one another are not
 * written. -1 when the pieces do not fit: the caller then takes the regions whole, a superset.
 */
static int collect_targets(int less_own)
{
	uint32_t n_own = 0, k = 0;
	const struct hg_progmap *own = less_own ? hg_progmaps_view(&n_own) : NULL;

	snap.n_targets = 0;
	for (uint32_t i = 0; i < snap.n_regions; i++) {
		const struct region *r = &snap.regions[i];
		uint64_t lo = r->lo;

		if ((r->kind & 0xff) == HG_REGION_BRK && add_target(r->lo, r->hi) < 0)
			return -1;
		if ((r->kind & 0xff) != HG_REGION_ANON)
			continue;
		while (k < n_own && own[k].hi <= lo)
			k++;
		/* A mapping of the program's may run on into the next region: k stays on it. */
		for (uint32_t j = k; j < n_own && own[j].lo < r->hi; j++) {
			if (own[j].lo > lo && add_target(lo, own[j].lo) < 0)
				return -1;
			if (own[j].hi > lo)
				lo = own[j].hi;
			if (lo >= r->hi)
				break;
		}
		if (lo < r->hi && add_target(lo, r->hi) < 0)
			return -1;
	}
	return 0;
}

static void collect_regions(const struct hg_caller *c, int less_own)
{
	size_t len = read_maps();
	const char *line = snap.maps, *end = snap.maps + len;
	uint64_t guard = 0;

	snap.n_regions = snap.n_targets = 0;
	while (line < end && snap.n_regions < MAX_REGIONS) {
		const char *nl = memchr(line, '\n', (size_t)(end - line)), *path = "";
		struct region *r = &snap.regions[snap.n_regions];
		char saved;

		if (!nl)
			nl = end;
		saved = *nl;
		*(char *)nl = '\0';
		if (parse_line(line, r, &path, &guard)) {
			classify(r, path, c);
			snap.n_regions++;
		}
		*(char *)nl = saved;
		line = nl + 1;
	}
	if (collect_targets(less_own) < 0)
		collect_targets(0);
}

/* Saved registers of the stopped threads and of the caller, as one REGS region. */
static void scan_registers(const struct hg_caller *c)
{
	uint32_t n = 0;
	struct region r;

	for (uint32_t i = 0; i < snap.world.n; i++) {
		if (!snap.world.thread[i].stopped)
			continue;
		memcpy(snap.regs + n, snap.world.thread[i].regs, sizeof(uint64_t) * HG_WORLD_NREGS);
		n += HG_WORLD_NREGS;
	}
	memcpy(snap.regs + n, c->regs, sizeof(uint64_t) * c->n_regs);
	n += c->n_regs;
	r.lo = r.live_lo = (uint64_t)(uintptr_t)snap.regs;
	r.hi = r.lo + 8ull * n;
	r.kind = HG_REGION_REGS;
	r.tid = 0;
	emit_region(&r);
	scan_words(r.lo, snap.regs, n);
}

static void emit_begin(enum hg_snapshot_reason why, const char *label)
{
	uint64_t buf[(sizeof(struct hg_rec_snapshot) + 256) / 8];
	struct hg_rec_snapshot *rec = (struct hg_rec_snapshot *)buf;
	uint32_t len = (uint32_t)strnlen(label, 200);
	uint32_t size = hg_rec_align((uint32_t)sizeof(*rec) + len + 1);

	memset(buf, 0, sizeof(buf));
	rec->hdr.type = HG_REC_SNAPSHOT;
	rec->hdr.flags = (uint16_t)why;
	rec->hdr.size_bytes = size;
	rec->t_ns = hg_ring_barrier_now();
	rec->snapshot_id = ++snap.id;
	rec->label_bytes = len + 1;
	rec->threads = snap.world.n + 1;
	rec->threads_stopped = snap.world.n_stopped + 1;
	memcpy(rec + 1, label, len);
	hg_ring_put(rec, size);
}

static void emit_end(void)
{
	struct hg_rec_snapshot_end rec = { { HG_REC_SNAPSHOT_END, 0, sizeof(rec) }, snap.id,
					   snap.n_regions + 1, snap.scanned, snap.written };

	hg_ring_put(&rec, sizeof(rec));
}

int hg_snapshot_blocks_recorded;

/* Caller holds snap_lock. */
static void take(enum hg_snapshot_reason why, const char *label, const struct hg_caller *c)
{
	int held, stopped, alone, blocks;

	if (prepare() < 0)
		return;
	/* Before the world stops: mallinfo2 takes malloc's locks, which a stopped thread may hold. */
	hg_mallinfo_sample(hg_now_ns());
	hg_ownmem_sample(hg_now_ns());
	/* A thread stopped between stamping a record and publishing it publishes it after the
	 * snapshot, which may take longer than the horizon margin: hold the horizon below now. */
	held = hg_ring_hold_stream(hg_now_ns());
	hg_touched_open(); /* before the world stops, as anything that opens a file */
	stopped = hg_world_stop(&snap.world) == 0;
	if (!stopped)
		snap.world.n_stopped = 0;
	snap.scanned = snap.written = 0;
	snap.words->n = 0;
	snap.self_tid = (pid_t)syscall(SYS_gettid);
	emit_begin(why, label);
	/* The table of the program's mappings only with every thread stopped: a running one
	 * could be changing it. */
	collect_regions(c, stopped && snap.world.n_stopped == snap.world.n);
	alone = snap.world.complete && !snap.world.n && !hg_in_vfork_child();
	blocks = __atomic_load_n(&hg_snapshot_blocks_recorded, __ATOMIC_RELAXED);
	if (!blocks)
		snap.n_targets = 0; /* regions written, none read (the registers' neither) */
	for (uint32_t i = 0; i < snap.n_regions && recording(); i++) {
		emit_region(&snap.regions[i]);
		if ((snap.regions[i].kind & 0xff) == HG_REGION_BRK)
			scan_brk(snap.regions[i].live_lo, snap.regions[i].hi, alone);
		else
			scan_range(snap.regions[i].live_lo, snap.regions[i].hi);
	}
	scan_registers(c);
	flush_words();
	emit_end();
	hg_world_resume(&snap.world);
	hg_touched_close();
	if (held)
		hg_ring_hold_end();
	give_back();
	hg_rawlog("snapshot %u of pid %u: %u regions, %lu words, %lu pairs, %lu KiB untouched "
		  "skipped%s", snap.id, hg_self_pid, snap.n_regions, (unsigned long)snap.scanned,
		  (unsigned long)snap.written, (unsigned long)(hg_touched_skipped() >> 10),
		  blocks ? "" : " (no block recorded: nothing scanned)");
}

/* atomic: the process is ending (hg_snapshot_close_requests); set once, for good. */
static int requests_closed;

void hg_snapshot_close_requests(void)
{
	__atomic_store_n(&requests_closed, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&hg_snapshot_pending, 0, __ATOMIC_RELEASE);
}

void hg_snapshot_take(enum hg_snapshot_reason why, const char *label, const struct hg_caller *c)
{
	int saved = errno; /* FUTEX_WAIT fails with EAGAIN or EINTR as a matter of course */

	if (!recording())
		return;
	lock();
	/* Checked under the lock: a request that waited for the exit snapshot to finish would
	 * otherwise follow it, and the process's EXIT record. */
	if ((why != HG_SNAP_SIGNAL && why != HG_SNAP_PERIODIC) ||
	    !__atomic_load_n(&requests_closed, __ATOMIC_ACQUIRE))
		take(why, label, c);
	unlock();
	errno = saved;
}
