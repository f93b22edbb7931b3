/*
 * scale.c - millions of events from thousands of distinct call stacks, with a known live set
 *
 * Two phases, single-threaded, no stdio, so every number below is exact:
 *
 *   1. hold_many allocates 100000 blocks of 48 bytes, keeps them all live at once, then frees
 *      them in reverse order. This sets the peak: 4800000 bytes, higher than anything later.
 *   2. For each of 48 rounds, walk all 8192 leaf paths of a binary call tree 13 levels deep.
 *      descend() calls itself from one of two call sites depending on one bit of the path, so
 *      each path reaches leaf() through a distinct call stack: 8192 distinct stacks, each seeing
 *      up to 61 sizes (499712 distinct (size, stack) pairs). At each visit leaf()
 *      makes 4 allocations from one call site and frees them, except that in the last round it
 *      keeps the last one: one live block per stack at exit.
 *
 * Sizes: leaf allocation `op` (0..3) of round `r` (0..47) on path `p` (0..8191) asks for
 *   8 + 8 * ((7 * p + 13 * r + 5 * op) % 61) bytes
 * and the block kept for path p is the one with r = 47, op = 3.
 *
 * Events: 1672864 allocations and 1664672 frees, 3337536 in all.
 *
 * stdout: "scale: 8192 stacks, 1672864 allocations" (one line).
 *
 * Expect:
 *   8192 live sites with frames[0] = leaf, one per path, each: allocations 192, live_blocks 1,
 *   allocated_bytes and live_bytes as given by the formula above (a test recomputes them);
 *   over those sites: 1572864 allocations, 390069584 bytes allocated, 8192 blocks and 2031824
 *   bytes live. No live site with frames[0] = hold_many.
 *   Process totals: allocations 1672864, frees 1664672, allocated_bytes 394869584,
 *   live_bytes 2031824, live_blocks 8192, peak_bytes 4800000, lost_events 0, unknown_frees 0.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HG_S_DEPTH 13
#define HG_S_PATHS (1u << HG_S_DEPTH)
#define HG_S_ROUNDS 48
#define HG_S_OPS 4
#define HG_S_HOLD 100000
#define HG_S_HOLD_BYTES 48

static void *hg_s_held[HG_S_HOLD];
static void *hg_s_kept[HG_S_PATHS];

static size_t leaf_size(unsigned path, unsigned round, unsigned op)
{
	return 8u + 8u * ((7u * path + 13u * round + 5u * op) % 61u);
}

static void hold_many(void)
{
	unsigned i;

	for (i = 0; i < HG_S_HOLD; i++) {
		hg_s_held[i] = malloc(HG_S_HOLD_BYTES);
		if (!hg_s_held[i])
			abort();
	}
	for (i = HG_S_HOLD; i-- > 0;)
		free(hg_s_held[i]);
}

static void leaf(unsigned path, unsigned round)
{
	unsigned op;

	for (op = 0; op < HG_S_OPS; op++) {
		size_t n = leaf_size(path, round, op);
		char *p = malloc(n); /* site: leaf */

		if (!p)
			abort();
		p[0] = (char)op;
		p[n - 1] = (char)round;
		if (round == HG_S_ROUNDS - 1 && op == HG_S_OPS - 1)
			hg_s_kept[path] = p;
		else
			free(p);
	}
}

/* Two call sites, chosen by bit `level` of path: the return address encodes the bit. */
static void descend(unsigned level, unsigned path, unsigned round)
{
	if (level == HG_S_DEPTH) {
		leaf(path, round); /* site: call_leaf */
		return;
	}
	if ((path >> level) & 1u)
		descend(level + 1, path, round); /* site: bit1 */
	else
		descend(level + 1, path, round); /* site: bit0 */
}

int main(void)
{
	static const char msg[] = "scale: 8192 stacks, 1672864 allocations\n";
	unsigned round, path;
	ssize_t r;

	hold_many();
	for (round = 0; round < HG_S_ROUNDS; round++)
		for (path = 0; path < HG_S_PATHS; path++)
			descend(0, path, round);
	r = write(1, msg, sizeof(msg) - 1);
	return r == (ssize_t)sizeof(msg) - 1 ? 0 : 1;
}
