/*
 * churn.c - allocation-heavy synthetic workload for benchmarking heap tracers
 *
 * Every operation walks one of N_PATHS call paths, 5 to 30 frames deep, and its leaf allocates,
 * frees or reallocates a block. A path is a sequence of the eight frame functions below, chosen
 * by a PRNG seeded from -s, so the tracer sees hundreds of distinct stacks, each one needing a
 * real unwind: the program is built -O2 without frame pointers, and the frame functions are
 * kept out of line (noipa: no inlining, cloning or identical-code folding) and use the result of
 * their callee, so no call becomes a tail call that would flatten the stack.
 *
 * Block lifetimes follow a common shape: most blocks die within a few operations (a short
 * queue of SHORT_SLOTS), some live for thousands (a ring of RING_SLOTS live pointers), some are
 * resized with realloc, and a few (1 in KEEP_ONE_IN) are kept until the end.
 * Each path has a size class and a handful of sizes in it: thousands of distinct sizes in all,
 * mostly small, some of a few KiB, a handful large enough for mmap.
 *
 * Invariants: the output depends only on -t, -n, -s and -w. Each thread has its own PRNG,
 * queues and checksum; nothing is shared after setup except the read-only path table, and the
 * per-thread checksums are combined in thread order, so scheduling cannot change the result.
 * The checksum folds in bytes read back from every block before it is freed, so a tracer that
 * corrupted memory or changed the program's behaviour would change it.
 *
 * Usage: churn [-t THREADS] [-n OPS_PER_THREAD] [-s SEED] [-w]
 *   -w  wide sizes: each path asks for every size in its range (256 to 131072 sizes)
 * Prints "checksum HEX" on stdout; bench/run.sh compares it across bare and traced runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_PATHS 640          /* distinct call paths */
#define MIN_DEPTH 5          /* frame functions on the shortest path */
#define MAX_DEPTH 30         /* ... and on the longest */
#define N_FRAME_FNS 8        /* distinct frame functions a path is made of */
#define SHORT_SLOTS 8        /* a short-lived block is freed SHORT_SLOTS operations later */
#define RING_SLOTS 4096      /* a ring block lives for about RING_SLOTS ring operations */
#define KEEP_ONE_IN 2000     /* one block in KEEP_ONE_IN is kept until the end */
#define SIZES_PER_PATH 16    /* distinct sizes one path asks for, without -w */
#define MAX_THREADS 64
#define DEFAULT_OPS 5000000ULL

#if defined(__clang__)
#define OUT_OF_LINE __attribute__((noinline))
#else
#define OUT_OF_LINE __attribute__((noipa))
#endif
/* Makes the compiler forget what it knows about x, so the work around calls is not folded. */
#define BARRIER(x) __asm__ volatile("" : "+r"(x) : : "memory")

enum leaf_kind { LEAF_SHORT, LEAF_CALLOC, LEAF_RING, LEAF_REALLOC, N_LEAF_KINDS };

struct path {
	uint8_t depth;             /* frame functions on the path, MIN_DEPTH..MAX_DEPTH */
	uint8_t fn[MAX_DEPTH];     /* index into frame_fns for each level */
	uint8_t leaf;              /* enum leaf_kind: what the operation does with memory */
	uint32_t size_base;        /* smallest size this path asks for, bytes, >= 16 */
	uint32_t size_span;        /* number of distinct sizes the path asks for, >= 1 */
	uint32_t size_step;        /* sizes are size_base + k * size_step, k < size_span, bytes */
};

struct block {
	unsigned char *p;          /* NULL when the slot is empty */
	uint32_t size;             /* bytes requested for p; p[0..7] and p[size-1] hold the tag */
};

struct worker {
	uint64_t rng;              /* splitmix64 state, seeded from -s and the thread index */
	uint64_t r;                /* random word for the operation in progress */
	const struct path *path;   /* path of the operation in progress */
	uint64_t sum;              /* running checksum */
	uint64_t n_ops;            /* operations to run */
	uint64_t n_allocs;         /* blocks obtained from malloc, calloc or realloc */
	unsigned short_next;       /* next slot of shortq to reuse */
	unsigned ring_next;        /* next slot of ring to reuse */
	size_t n_kept;             /* used entries of kept */
	size_t kept_cap;           /* capacity of kept, fixed before the run */
	struct block shortq[SHORT_SLOTS];
	struct block ring[RING_SLOTS];
	struct block *kept;
};

typedef uint64_t (*frame_fn)(struct worker *w, unsigned level);

static struct path paths[N_PATHS];

static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static uint64_t mix(uint64_t sum, uint64_t v)
{
	return (sum ^ v) * 0x100000001B3ULL + (sum >> 29);
}

static void die(const char *msg)
{
	fprintf(stderr, "churn: error: %s\n", msg);
	exit(3);
}

/* ---- blocks: every block carries a tag so that freeing it checks its contents ---- */

static void block_fill(struct worker *w, struct block *b)
{
	uint64_t tag = w->r ^ b->size;

	memcpy(b->p, &tag, sizeof(tag));
	b->p[b->size - 1] = (unsigned char)tag;
	w->n_allocs++;
}

static void block_release(struct worker *w, struct block *b)
{
	uint64_t tag;

	if (!b->p)
		return;
	memcpy(&tag, b->p, sizeof(tag));
	w->sum = mix(w->sum, tag ^ ((uint64_t)b->p[b->size - 1] << 56) ^ b->size);
	free(b->p);
	b->p = NULL;
}

static uint32_t pick_size(const struct worker *w)
{
	const struct path *p = w->path;

	return p->size_base + (uint32_t)((w->r >> 32) % p->size_span) * p->size_step;
}

/* Takes the block the caller just filled when it is one of the few kept until the end. */
static int maybe_keep(struct worker *w, struct block *b)
{
	if ((w->r >> 8) % KEEP_ONE_IN != 0 || w->n_kept == w->kept_cap)
		return 0;
	w->kept[w->n_kept++] = *b;
	b->p = NULL;
	return 1;
}

static struct block *short_slot(struct worker *w)
{
	struct block *b = &w->shortq[w->short_next];

	w->short_next = (w->short_next + 1) % SHORT_SLOTS;
	block_release(w, b);
	return b;
}

/* ---- leaves: the four things an operation can do with memory ---- */

static OUT_OF_LINE uint64_t leaf_short(struct worker *w)
{
	struct block *b = short_slot(w);

	b->size = pick_size(w);
	b->p = malloc(b->size);
	if (!b->p)
		die("out of memory");
	memset(b->p, (int)(w->r & 0xff), b->size < 256 ? b->size : 256);
	block_fill(w, b);
	maybe_keep(w, b);
	return b->size;
}

static OUT_OF_LINE uint64_t leaf_calloc(struct worker *w)
{
	struct block *b = short_slot(w);
	uint32_t n = pick_size(w) / 8;

	b->size = n * 8;
	b->p = calloc(n, 8);
	if (!b->p)
		die("out of memory");
	w->sum = mix(w->sum, b->p[b->size / 2]); /* must be zero */
	block_fill(w, b);
	maybe_keep(w, b);
	return n;
}

static OUT_OF_LINE uint64_t leaf_ring(struct worker *w)
{
	struct block *b = &w->ring[w->ring_next];

	w->ring_next = (w->ring_next + 1) % RING_SLOTS;
	block_release(w, b);
	b->size = pick_size(w);
	b->p = malloc(b->size);
	if (!b->p)
		die("out of memory");
	block_fill(w, b);
	maybe_keep(w, b);
	return b->size;
}

/* Resizes a live ring block, or starts one; the tag in p[0..7] survives the move. */
static OUT_OF_LINE uint64_t leaf_realloc(struct worker *w)
{
	struct block *b = &w->ring[(w->r >> 16) % RING_SLOTS];
	uint32_t size = pick_size(w);
	unsigned char *p = realloc(b->p, size);

	if (!p)
		die("out of memory");
	if (!b->p) {
		b->p = p;
		b->size = size;
		block_fill(w, b);
		return size;
	}
	b->p = p;
	b->size = size;
	b->p[size - 1] = (unsigned char)w->r;
	w->n_allocs++;
	return size;
}

static uint64_t leaf(struct worker *w)
{
	switch (w->path->leaf) {
	case LEAF_SHORT: return leaf_short(w);
	case LEAF_CALLOC: return leaf_calloc(w);
	case LEAF_RING: return leaf_ring(w);
	default: return leaf_realloc(w);
	}
}

/* ---- frames: eight distinct functions that recurse along the current path ---- */

static const frame_fn frame_fns[N_FRAME_FNS];

static inline uint64_t descend(struct worker *w, unsigned level)
{
	if (level == w->path->depth)
		return leaf(w);
	return frame_fns[w->path->fn[level]](w, level + 1);
}

/*
 * Each frame does a little arithmetic of its own before and after the call: the constants
 * differ, so no two bodies are identical, and the result of the call is used, so the call is
 * not in tail position.
 */
#define FRAME_FN(name, k, rot)                                                 \
	static OUT_OF_LINE uint64_t name(struct worker *w, unsigned level)         \
	{                                                                          \
		uint64_t x = (w->r + level) * (k);                                     \
		BARRIER(x);                                                            \
		x = (x << (rot)) | (x >> (64 - (rot)));                                \
		x ^= descend(w, level);                                                \
		BARRIER(x);                                                            \
		return x + level;                                                      \
	}

FRAME_FN(frame_parse, 0x9E3779B97F4A7C15ULL, 7)
FRAME_FN(frame_lookup, 0xC2B2AE3D27D4EB4FULL, 11)
FRAME_FN(frame_insert, 0x165667B19E3779F9ULL, 13)
FRAME_FN(frame_visit, 0xD6E8FEB86659FD93ULL, 17)
FRAME_FN(frame_encode, 0xFF51AFD7ED558CCDULL, 19)
FRAME_FN(frame_decode, 0xC4CEB9FE1A85EC53ULL, 23)
FRAME_FN(frame_merge, 0x2545F4914F6CDD1DULL, 29)
FRAME_FN(frame_flush, 0x94D049BB133111EBULL, 31)

static const frame_fn frame_fns[N_FRAME_FNS] = {
	frame_parse, frame_lookup, frame_insert, frame_visit,
	frame_encode, frame_decode, frame_merge, frame_flush,
};

/* ---- setup and the per-thread loop ---- */

/*
 * Size classes: 70% of paths small (16..383 bytes), 25% medium (256..4223), 4% up to 66 KiB
 * and 1% up to 320 KiB, which glibc serves with mmap at first. Each path asks for SIZES_PER_PATH
 * sizes spread over its range, the way one call site allocates a struct plus a few string or
 * array lengths; across paths that makes thousands of distinct sizes.
 *
 * With wide set (-w), a path asks for every size in its range instead - up to 131072 sizes per
 * call site, hundreds of thousands of distinct (size, stack) pairs. heaptrack 1.4's interpreter
 * runs out of memory on that (its set of (size, trace) pairs degenerates), so it is an option,
 * not the default; see docs/PERFORMANCE.md.
 */
static void path_pick_sizes(struct path *p, uint64_t r, int wide)
{
	static const uint32_t base[4] = { 16, 256, 4096, 65536 };      /* smallest of the class */
	static const uint32_t spread[4] = { 128, 2048, 32768, 131072 }; /* range of size_base */
	static const uint32_t step[4] = { 16, 128, 2048, 8192 };       /* distance between sizes */
	unsigned pct = r % 100, cls = pct < 70 ? 0 : pct < 95 ? 1 : pct < 99 ? 2 : 3;

	p->size_base = base[cls] + (uint32_t)((r >> 8) % spread[cls]);
	p->size_span = wide ? step[cls] * SIZES_PER_PATH : SIZES_PER_PATH;
	p->size_step = wide ? 1 : step[cls];
}

static void paths_init(uint64_t seed, int wide)
{
	static const uint8_t leaf_weights[N_LEAF_KINDS] = { 70, 5, 21, 4 }; /* percent */
	uint64_t rng = seed;

	for (unsigned i = 0; i < N_PATHS; i++) {
		struct path *p = &paths[i];
		unsigned pct = splitmix64(&rng) % 100, k = 0;

		p->depth = MIN_DEPTH + splitmix64(&rng) % (MAX_DEPTH - MIN_DEPTH + 1);
		for (unsigned l = 0; l < p->depth; l++)
			p->fn[l] = splitmix64(&rng) % N_FRAME_FNS;
		while (pct >= leaf_weights[k]) /* weights sum to 100, so k stays in range */
			pct -= leaf_weights[k++];
		p->leaf = k;
		path_pick_sizes(p, splitmix64(&rng), wide);
	}
}

/* Low-numbered paths are hotter: the minimum of two uniform picks falls off linearly. */
static unsigned pick_path(uint64_t r)
{
	unsigned a = r % N_PATHS, b = (r >> 24) % N_PATHS;

	return a < b ? a : b;
}

static OUT_OF_LINE void worker_drain(struct worker *w)
{
	for (unsigned i = 0; i < SHORT_SLOTS; i++)
		block_release(w, &w->shortq[i]);
	for (unsigned i = 0; i < RING_SLOTS; i++)
		block_release(w, &w->ring[i]);
	for (size_t i = 0; i < w->n_kept; i++)
		block_release(w, &w->kept[i]);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	for (uint64_t i = 0; i < w->n_ops; i++) {
		w->r = splitmix64(&w->rng);
		w->path = &paths[pick_path(w->r)];
		w->sum = mix(w->sum, frame_fns[w->path->fn[0]](w, 1));
	}
	worker_drain(w);
	return NULL;
}

static struct worker *worker_new(uint64_t seed, unsigned idx, uint64_t n_ops)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		die("out of memory");
	w->rng = seed ^ (0xA0761D6478BD642FULL * (idx + 1));
	w->n_ops = n_ops;
	w->kept_cap = n_ops / KEEP_ONE_IN * 2 + 16;
	w->kept = calloc(w->kept_cap, sizeof(*w->kept));
	if (!w->kept)
		die("out of memory");
	return w;
}

static uint64_t parse_num(const char *s, const char *what, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "churn: error: bad %s '%s' (%" PRIu64 "..%" PRIu64 ")\n",
			what, s, min, max);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr, "usage: churn [-t THREADS] [-n OPS_PER_THREAD] [-s SEED] [-w]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned n_threads = 1;
	uint64_t n_ops = DEFAULT_OPS, seed = 1, sum = 0, n_allocs = 0;
	struct worker *w[MAX_THREADS] = { 0 };
	pthread_t tid[MAX_THREADS];
	int c, wide = 0;

	while ((c = getopt(argc, argv, "t:n:s:w")) != -1) {
		switch (c) {
		case 't': n_threads = parse_num(optarg, "thread count", 1, MAX_THREADS); break;
		case 'n': n_ops = parse_num(optarg, "operation count", 1, UINT64_MAX / 2); break;
		case 's': seed = parse_num(optarg, "seed", 0, UINT64_MAX); break;
		case 'w': wide = 1; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	paths_init(seed, wide);
	for (unsigned i = 0; i < n_threads; i++)
		w[i] = worker_new(seed, i, n_ops);
	for (unsigned i = 1; i < n_threads; i++)
		if ((errno = pthread_create(&tid[i], NULL, worker_run, w[i])))
			die(strerror(errno));
	worker_run(w[0]); /* the main thread is worker 0, so -t 1 runs without pthreads */
	for (unsigned i = 0; i < n_threads; i++) {
		if (i > 0)
			pthread_join(tid[i], NULL);
		sum = mix(sum, w[i]->sum);
		n_allocs += w[i]->n_allocs;
		free(w[i]->kept);
		free(w[i]);
	}
	printf("churn: threads %u, ops/thread %" PRIu64 ", seed %" PRIu64 ", sizes %s, "
	       "allocations %" PRIu64 "\n", n_threads, n_ops, seed, wide ? "wide" : "narrow",
	       n_allocs);
	printf("checksum %016" PRIx64 "\n", sum);
	return 0;
}
