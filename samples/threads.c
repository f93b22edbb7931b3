/*
 * threads.c - four threads allocate and free at the same time; each leaks a known amount
 *
 * Four thread functions (thread_alpha .. thread_delta) start together behind a barrier, so their
 * events really interleave. Each makes HG_T_ROUNDS allocations from one call site with sizes
 * cycling through 8 values, frees them as it goes, and keeps back a known number of blocks:
 *
 *   - "leak" blocks stay live until exit;
 *   - "handoff" blocks are freed later by the main thread after pthread_join, so a block
 *     allocated on one thread is freed on another.
 *
 * Thread i (i = 0..3) allocates size 16 * (i + 1) + 8 * (k % 8) on round k. It keeps the blocks
 * of the last (i + 1) rounds as leaks and the (i + 1) rounds before those as handoffs; it frees
 * every other block right away. No stdio: the program writes with write(2).
 *
 * stdout: "threads: done" (one line).
 *
 * Expect, one site per thread function (frames[0] = that function), live at exit:
 *   function      allocations  allocated_bytes  live_blocks  live_bytes
 *   thread_alpha  20000        880000           1            72     (72)
 *   thread_beta   20000        1200000          2            168    (80 + 88)
 *   thread_gamma  20000        1520000          3            288    (88 + 96 + 104)
 *   thread_delta  20000        1840000          4            432    (96 + 104 + 112 + 120)
 * Sum over these four sites: 80000 allocations, 5440000 bytes allocated, 10 blocks and 960
 * bytes live. Frees made by the program's own code: 79990 (10 of them on the main thread).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HG_T_THREADS 4
#define HG_T_ROUNDS 20000
#define HG_T_MAX_KEEP 4

struct hg_t_work {
	unsigned index;                       /* 0..3: selects sizes and how much is kept */
	void *leak[HG_T_MAX_KEEP];            /* live until exit */
	void *handoff[HG_T_MAX_KEEP];         /* freed by main after join */
};

static pthread_barrier_t hg_t_start;

static size_t block_size(unsigned index, unsigned k)
{
	return 16u * (index + 1) + 8u * (k % 8);
}

/*
 * The loop every thread runs. It is a macro rather than a function so that the malloc call sits
 * in each thread function itself, and frames[0] of each site names that function.
 */
#define HG_T_BODY(w)                                                                   \
	do {                                                                           \
		unsigned keep = (w)->index + 1, k;                                     \
		pthread_barrier_wait(&hg_t_start);                                     \
		for (k = 0; k < HG_T_ROUNDS; k++) {                                   \
			void *p = malloc(block_size((w)->index, k));                   \
			if (!p)                                                        \
				abort();                                               \
			memset(p, 0x5a, block_size((w)->index, k));                    \
			if (k >= HG_T_ROUNDS - keep)                                   \
				(w)->leak[k - (HG_T_ROUNDS - keep)] = p;               \
			else if (k >= HG_T_ROUNDS - 2 * keep)                          \
				(w)->handoff[k - (HG_T_ROUNDS - 2 * keep)] = p;        \
			else                                                           \
				free(p);                                               \
		}                                                                      \
	} while (0)

static void *thread_alpha(void *arg)
{
	HG_T_BODY((struct hg_t_work *)arg); /* site: thread_alpha */
	return NULL;
}

static void *thread_beta(void *arg)
{
	HG_T_BODY((struct hg_t_work *)arg); /* site: thread_beta */
	return NULL;
}

static void *thread_gamma(void *arg)
{
	HG_T_BODY((struct hg_t_work *)arg); /* site: thread_gamma */
	return NULL;
}

static void *thread_delta(void *arg)
{
	HG_T_BODY((struct hg_t_work *)arg); /* site: thread_delta */
	return NULL;
}

static void say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));
	(void)r;
}

int main(void)
{
	void *(*const fns[HG_T_THREADS])(void *) = {
		thread_alpha, thread_beta, thread_gamma, thread_delta,
	};
	static struct hg_t_work work[HG_T_THREADS];
	pthread_t tids[HG_T_THREADS];
	unsigned i, j;

	pthread_barrier_init(&hg_t_start, NULL, HG_T_THREADS);
	for (i = 0; i < HG_T_THREADS; i++) {
		work[i].index = i;
		if (pthread_create(&tids[i], NULL, fns[i], &work[i]) != 0) {
			say("threads: pthread_create failed\n");
			return 1;
		}
	}
	for (i = 0; i < HG_T_THREADS; i++)
		pthread_join(tids[i], NULL);
	for (i = 0; i < HG_T_THREADS; i++)
		for (j = 0; j <= i; j++)
			free(work[i].handoff[j]);
	say("threads: done\n");
	return 0;
}
