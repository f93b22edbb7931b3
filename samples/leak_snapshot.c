/*
 * leak_snapshot.c - snapshots taken by the program itself: what leaked between two of them, and
 * blocks that only live threads' stacks point to
 *
 * Phases (no stdio: write(2) only; every size a multiple of 16):
 *   1. make_early_leak leaks 336 bytes; make_held allocates 1200 bytes held by a global.
 *      heapgraph_snapshot("before").
 *   2. make_between_leak leaks 2000 bytes; make_between_cycle leaks a ring of 2 x 96 bytes
 *      (each node's word at offset 8 points at the other); drop_held clears the global, so the
 *      1200-byte block leaks. heapgraph_snapshot("after").
 *   3. Four threads run `worker`: thread i allocates 400 + 16 * i bytes (400, 416, 432, 448),
 *      keeps the pointer in a local only, meets main at a barrier and waits on a condition
 *      variable. Main takes heapgraph_snapshot("threads") while all four are blocked, then
 *      releases them; each frees its block and returns; main joins them.
 *   Right before each snapshot, before calling run_threads and before returning, main scrubs
 *   the stack below itself so that no stale copy of a pointer is found there.
 * Without the shim (heapgraph_snapshot is a weak symbol) the program runs the same, without
 * snapshots.
 *
 * stdout: "leak_snapshot: done" (one line).
 *
 * Expect:
 *   snapshot "before" (1 thread, 1 stopped): direct 336 bytes in 1 block (make_early_leak);
 *     nothing else leaked: indirect 0, cycle 0 in 0 cycles; possibly 0; the 1200-byte block
 *     (make_held) is reachable.
 *   snapshot "after" (1 thread): direct 3536 bytes in 3 blocks (336 make_early_leak, 2000
 *     make_between_leak, 1200 make_held); cycle 192 bytes in 2 blocks, 1 cycle
 *     (make_between_cycle: a+8 -> b, b+8 -> a); indirect 0; possibly 0.
 *   snapshot "threads" (5 threads, 5 stopped): leaks exactly as at "after"; the four worker
 *     blocks (1696 bytes) are live and reachable, none leaked.
 *   snapshot "exit" (1 thread): leaks exactly as at "after" (the worker blocks are freed;
 *     glibc's per-thread bookkeeping of the joined threads is not a leak).
 *   memcheck: definitely + indirectly lost = 3728 bytes (3536 + 192).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <heapgraph.h>

#define NOINLINE __attribute__((noinline))
#define N_WORKERS 4

static void *g_held;

static pthread_barrier_t g_ready;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_release;

static void say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));

	(void)r;
}

/* malloc inline (not through a helper) so that frames[0] names the function building. */
#define ALLOC(var, n)                                                                  \
	do {                                                                           \
		(var) = malloc(n);                                                     \
		if (!(var)) {                                                          \
			say("leak_snapshot: out of memory\n");                         \
			_exit(1);                                                      \
		}                                                                      \
		memset((var), 0, (n));                                                 \
	} while (0)

static NOINLINE void make_early_leak(void)
{
	char *p;

	ALLOC(p, 336);
	p[0] = 1;
}

static NOINLINE void make_held(void)
{
	void *p;

	ALLOC(p, 1200);
	g_held = p;
}

static NOINLINE void make_between_leak(void)
{
	char *p;

	ALLOC(p, 2000);
	p[0] = 2;
}

static NOINLINE void make_between_cycle(void)
{
	uintptr_t *a, *b;

	ALLOC(a, 96);
	ALLOC(b, 96);
	a[0] = 1;
	a[1] = (uintptr_t)b;
	b[0] = 2;
	b[1] = (uintptr_t)a;
}

static NOINLINE void drop_held(void)
{
	g_held = NULL;
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

/*
 * Called right after scrub_stack() by the function whose frame the scan starts at: the shim scans
 * the caller's frame and everything above it, so a helper function wrapping both would leave its
 * own frame's padding (stale words of an earlier call at the same depth) in the scan.
 */
#define SNAPSHOT(label)                                                                \
	do {                                                                           \
		if (heapgraph_snapshot)                                                \
			heapgraph_snapshot(label);                                     \
	} while (0)

static void *worker(void *arg)
{
	uintptr_t i = (uintptr_t)arg;
	void *volatile mine;

	ALLOC(mine, 400 + 16 * i);
	pthread_barrier_wait(&g_ready);
	pthread_mutex_lock(&g_lock);
	while (!g_release)
		pthread_cond_wait(&g_cond, &g_lock);
	pthread_mutex_unlock(&g_lock);
	free(mine);
	return NULL;
}

static NOINLINE int run_threads(void)
{
	pthread_t tid[N_WORKERS];

	pthread_barrier_init(&g_ready, NULL, N_WORKERS + 1);
	for (uintptr_t i = 0; i < N_WORKERS; i++)
		if (pthread_create(&tid[i], NULL, worker, (void *)i) != 0)
			return -1;
	pthread_barrier_wait(&g_ready);
	scrub_stack();
	SNAPSHOT("threads");
	pthread_mutex_lock(&g_lock);
	g_release = 1;
	pthread_cond_broadcast(&g_cond);
	pthread_mutex_unlock(&g_lock);
	for (unsigned i = 0; i < N_WORKERS; i++)
		pthread_join(tid[i], NULL);
	pthread_barrier_destroy(&g_ready);
	return 0;
}

int main(void)
{
	make_early_leak();
	make_held();
	scrub_stack();
	SNAPSHOT("before");
	make_between_leak();
	make_between_cycle();
	drop_held();
	scrub_stack();
	SNAPSHOT("after");
	scrub_stack(); /* run_threads' frame reuses the builders' stack slots */
	if (run_threads() < 0) {
		say("leak_snapshot: pthread_create failed\n");
		return 1;
	}
	say("leak_snapshot: done\n");
	scrub_stack();
	return 0;
}
