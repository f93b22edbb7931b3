/*
 * leak_cycles.c - leaked cycles, a leaked tree, cycles pointing into cycles, and what is not a
 * leak: a cycle held by a global, a block held only by a pointer into its middle
 *
 * Every structure is built by its own function (frames[0] of its blocks names it) from nodes of
 * one size that no other structure uses. A node's first word is a small tag, its second word
 * (offset 8) is `next`, its third word (offset 16) is `other`, its fourth (offset 24) `third`;
 * everything else is zero, so the only pointers in the heap are the ones listed here. Every
 * size is a multiple of 16, so no block's requested size reaches into the malloc header of the
 * chunk after it. No stdio (write(2) only) and no other allocation: the totals are exact.
 *
 * Pointers to leaked structures never sit in a global, and main scrubs the stack below itself
 * (and the caller-saved registers, by calling a function) before returning, so the conservative
 * scan at exit finds no stale copy of one.
 *
 * stdout: "leak_cycles: built" (one line).
 *
 * Expect (snapshot "exit"; one thread; 30 live blocks, all allocated here; 31 heap edges):
 *   structure          function             nodes x size   kind        edges inside
 *   ring of 2          make_ring2           2 x 48         cycle       a+8->b, b+8->a
 *   ring of 3          make_ring3           3 x 64         cycle       each +8 -> the next
 *   ring of 5          make_ring5           5 x 80         cycle       each +8 -> the next
 *   self-loop          make_self_loop       1 x 32         cycle       x+8->x
 *   ring of 3 held     make_kept_ring       3 x 96         reachable   (g_kept -> node 0)
 *     by a global
 *   binary tree        make_tree            root 1 x 112   direct      root+8, root+16 ->
 *                                           2 x 128 +                  children, each child
 *                                           4 x 144        indirect    +8, +16 -> grandchildren
 *   ring P pointing    make_chained_rings   P: 2 x 160     cycle       P0+8->P1, P1+8->P0
 *     into ring Q                           Q: 2 x 176     indirect    (P0+16->Q0; Q ring)
 *   rings R and S      make_mutual_rings    R: 2 x 192     one cycle   R0+8->R1, R1+8->R0,
 *     pointing at each                      S: 2 x 208     of 4 blocks S0+8->S1, S1+8->S0,
 *     other                                                            R0+16->S0, S0+16->R0
 *   interior pointer   make_interior        1 x 224        possibly    (g_interior = p + 64)
 *
 *   totals: direct 112 bytes in 1 block; indirect 1184 bytes in 8 blocks (tree 256 + 576,
 *   Q 352); cycle 1840 bytes in 17 blocks, 6 cycles
 *   (96 + 192 + 400 + 32 + 320 + 800); reachable 512 bytes in 4 blocks (288 ring + 224
 *   possibly), possibly 224 bytes in 1 block; live 3648 bytes in 30 blocks, 30 allocations,
 *   0 frees.
 *   memcheck: definitely + indirectly lost = 3136 bytes (112 + 1184 + 1840); possibly lost 224;
 *   still reachable 288.
 *   The indirect tree blocks are owned by the tree's root; Q's blocks by the first block of P
 *   (graph.c's owner; no output format shows it yet).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

struct node {
	uintptr_t tag;
	struct node *next;   /* offset 8 */
	struct node *other;  /* offset 16 */
	struct node *third;  /* offset 24 */
};

static struct node *g_kept;  /* the one ring that is not leaked */
static char *g_interior;     /* points 64 bytes into a 224-byte block */

static void die(void)
{
	static const char msg[] = "leak_cycles: out of memory\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
	_exit(1);
}

/* A zeroed node of `size` bytes with tag `tag`. Inlined by hand at each call site through the
 * macro, so that frames[0] of the block is the function building the structure. */
#define NODE(var, size, t)                                                             \
	do {                                                                           \
		(var) = malloc(size);                                                  \
		if (!(var))                                                            \
			die();                                                         \
		memset((var), 0, (size));                                              \
		(var)->tag = (t);                                                      \
	} while (0)

/* n nodes of `size` bytes linked into a ring through next; the nodes go to out[0..n-1]. */
#define RING(out, n, size, t0)                                                         \
	do {                                                                           \
		for (unsigned i_ = 0; i_ < (n); i_++)                                  \
			NODE((out)[i_], (size), (t0) + i_);                            \
		for (unsigned i_ = 0; i_ < (n); i_++)                                  \
			(out)[i_]->next = (out)[(i_ + 1) % (n)];                       \
	} while (0)

static NOINLINE void make_ring2(void)
{
	struct node *v[2];

	RING(v, 2, 48, 20);
}

static NOINLINE void make_ring3(void)
{
	struct node *v[3];

	RING(v, 3, 64, 30);
}

static NOINLINE void make_ring5(void)
{
	struct node *v[5];

	RING(v, 5, 80, 50);
}

static NOINLINE void make_self_loop(void)
{
	struct node *x;

	NODE(x, 32, 10);
	x->next = x;
}

static NOINLINE void make_kept_ring(void)
{
	struct node *v[3];

	RING(v, 3, 96, 90);
	g_kept = v[0];
}

static NOINLINE void make_tree(void)
{
	struct node *root, *kid[2], *grand[4];

	NODE(root, 112, 100);
	for (unsigned i = 0; i < 2; i++)
		NODE(kid[i], 128, 110 + i);
	for (unsigned i = 0; i < 4; i++)
		NODE(grand[i], 144, 120 + i);
	root->next = kid[0];
	root->other = kid[1];
	kid[0]->next = grand[0];
	kid[0]->other = grand[1];
	kid[1]->next = grand[2];
	kid[1]->other = grand[3];
}

static NOINLINE void make_chained_rings(void)
{
	struct node *p[2], *q[2];

	RING(p, 2, 160, 160);
	RING(q, 2, 176, 176);
	p[0]->other = q[0];
}

static NOINLINE void make_mutual_rings(void)
{
	struct node *r[2], *s[2];

	RING(r, 2, 192, 192);
	RING(s, 2, 208, 208);
	r[0]->other = s[0];
	s[0]->other = r[0];
}

static NOINLINE void make_interior(void)
{
	char *p = malloc(224);

	if (!p)
		die();
	memset(p, 0, 224);
	g_interior = p + 64;
}

/* Overwrite the dead stack below main, where the builders' locals were. */
static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

int main(void)
{
	static const char msg[] = "leak_cycles: built\n";
	ssize_t r;

	make_ring2();
	make_ring3();
	make_ring5();
	make_self_loop();
	make_kept_ring();
	make_tree();
	make_chained_rings();
	make_mutual_rings();
	make_interior();
	r = write(1, msg, sizeof(msg) - 1);
	(void)r;
	scrub_stack();
	return 0;
}
