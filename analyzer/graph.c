/*
 * graph.c - classify a snapshot's blocks: reachable, direct leak, indirect leak, leaked cycle
 *
 * The shim recorded words that might be pointers; here each one is resolved against the live
 * blocks at the snapshot:
 *   - inside a live block: an edge from that block (heap memory is never a root);
 *   - inside malloc's own memory (the brk heap, glibc's heaps, large blocks' own mappings) but
 *     outside any live block: free memory, ignored;
 *   - anywhere else (module data, the live part of stacks, saved registers, TLS, the
 *     program's own mappings, the thread descriptor on a stack glibc keeps from a thread that
 *     ended, whose frames the shim does not scan): a root.
 * A pointer into a block's last 8 bytes that is exactly where the next chunk's header starts is
 * malloc's, not the program's (see is_next_chunk_alias).
 *
 * Marking runs twice from the roots: through start pointers only, then through any pointer.
 * Blocks only the second reaches are "possibly" reachable (memcheck's "possibly lost"): flagged,
 * not leaks. What neither reaches is garbage. Its strongly connected components (Tarjan,
 * iterative) are formed; a component nothing else unreachable points into is a leak root:
 * a leaked cycle if it has two or more blocks or a self-edge, a direct leak otherwise.
 * Everything reachable from a leak root is indirect, owned by the first root that reaches it.
 */
#include <stdlib.h>
#include <string.h>

#include "block_index.h"
#include "diag.h"
#include "graph.h"
#include "hg_format.h"

struct adj {
	uint32_t *start; /* n_blocks + 1 offsets into edge indexes */
	uint32_t *edge;  /* edge indexes grouped by `from` */
};

struct work {
	struct hg_edge *edges;
	size_t n_edges, cap;
	uint8_t *root;   /* per block: 1 root by start pointer, 2 root by interior pointer only */
	struct adj out;
};

/*
 * Where malloc's own memory is, inside anonymous mappings. The kernel merges neighbouring
 * anonymous mappings into one line of /proc/self/maps, so a mapping that holds blocks may also
 * hold memory the program mapped itself (CPython's object arenas, say), whose words are roots.
 * glibc keeps small blocks in heaps aligned to HEAP_WINDOW, and maps each large block on its
 * own: those ranges are malloc's, and words in them outside live blocks are free memory.
 */
#define HEAP_WINDOW (64ull << 20)
#define MMAP_CHUNK_MIN (128ull << 10)


static int by_lo(const void *a, const void *b)
{
	const struct hg_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}


/* The pages a chunk mapped for block b alone spans: its 16-byte header, then the block. */
static struct hg_range own_mapping(const struct hg_block *b)
{
	return (struct hg_range){ b->addr - 16, (b->addr + b->size_bytes + 4095) & ~4095ull };
}

int hg_graph_mmapped_chunk(const struct hg_block *b, const struct hg_region *r,
			   struct hg_range *pages)
{
	if (!r || r->kind != HG_REGION_ANON || b->size_bytes < MMAP_CHUNK_MIN ||
	    (b->addr & 4095) != 16)
		return 0;
	*pages = own_mapping(b);
	return 1;
}

int hg_graph_heap_of(const struct hg_block *b, const struct hg_region *r, struct hg_range *heap)
{
	uint64_t w = b->addr & ~(HEAP_WINDOW - 1);

	if (r && r->kind == HG_REGION_BRK) {
		*heap = (struct hg_range){ r->lo, r->hi };
		return 1;
	}
	if (!r || r->kind != HG_REGION_ANON || b->size_bytes >= MMAP_CHUNK_MIN)
		return 0;
	*heap = (struct hg_range){ w > r->lo ? w : r->lo,
				   w + HEAP_WINDOW < r->hi ? w + HEAP_WINDOW : r->hi };
	return 1;
}

struct hg_range *hg_graph_malloc_ranges(const struct hg_snapshot *sn, size_t *n)
{
	struct hg_range *v = hg_xmalloc(sizeof(*v) * (sn->n_blocks ? sn->n_blocks : 1));
	size_t m = 0, out = 0;

	for (size_t i = 0; i < sn->n_blocks; i++) {
		const struct hg_block *b = &sn->blocks[i];
		const struct hg_region *r = hg_graph_region_of(sn, b->addr);
		if (!r || r->kind != HG_REGION_ANON)
			continue;
		if (b->size_bytes >= MMAP_CHUNK_MIN)
			v[m++] = own_mapping(b);
		else
			v[m++] = (struct hg_range){ b->addr & ~(HEAP_WINDOW - 1),
						 (b->addr & ~(HEAP_WINDOW - 1)) + HEAP_WINDOW };
	}
	qsort(v, m, sizeof(*v), by_lo);
	for (size_t i = 0; i < m; i++) {
		if (out && v[i].lo <= v[out - 1].hi) {
			if (v[i].hi > v[out - 1].hi)
				v[out - 1].hi = v[i].hi;
		} else {
			v[out++] = v[i];
		}
	}
	*n = out;
	return v;
}

int hg_graph_in_ranges(const struct hg_range *v, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (addr < v[mid].lo)
			hi = mid;
		else if (addr >= v[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

/* Regions come from /proc/self/maps, sorted and disjoint: binary search. */
const struct hg_region *hg_graph_region_of(const struct hg_snapshot *sn, uint64_t addr)
{
	size_t lo = 0, hi = sn->n_regions;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (addr < sn->regions[mid].lo)
			hi = mid;
		else if (addr >= sn->regions[mid].hi)
			lo = mid + 1;
		else
			return &sn->regions[mid];
	}
	return NULL;
}

/*
 * glibc lends the first 8 bytes of the next chunk's header to a block whose size leaves it
 * short (a malloc(40) ends 8 bytes into the next chunk). malloc's own pointers to that next
 * chunk (free lists, the top chunk) then point into the block's tail. Such a pointer is not the
 * program's: it is recognised by its exact offset.
 */
static int is_next_chunk_alias(const struct hg_block *b, uint64_t value)
{
	uint64_t chunk = (b->size_bytes + 8 + 15) & ~15ull;

	if (chunk < 32)
		chunk = 32;
	return b->size_bytes < MMAP_CHUNK_MIN && value == b->addr + chunk - 16 &&
	       value > b->addr;
}

static void resolve_pairs(struct hg_graph *g, struct work *w)
{
	const struct hg_snapshot *sn = g->sn;
	size_t n_ranges;
	struct hg_range *ranges = hg_graph_malloc_ranges(sn, &n_ranges);
	struct hg_block_finder f;

	hg_block_finder_init(&f, sn->blocks, sn->n_blocks);
	for (size_t i = 0; i < sn->n_pairs; i++) {
		uint64_t where = sn->pairs[2 * i], value = sn->pairs[2 * i + 1];
		long to = hg_block_finder_find(&f, value), from;
		const struct hg_region *r;
		int interior;

		if (to < 0 || is_next_chunk_alias(&sn->blocks[to], value))
			continue;
		interior = value != sn->blocks[to].addr;
		if ((from = hg_block_finder_find(&f, where)) >= 0) {
			HG_GROW(w->edges, w->cap, w->n_edges + 1);
			w->edges[w->n_edges++] = (struct hg_edge){ (uint32_t)from, (uint32_t)to,
				(uint32_t)(where - sn->blocks[from].addr), (uint32_t)interior };
			continue;
		}
		r = hg_graph_region_of(sn, where);
		if (!r || r->kind == HG_REGION_BRK ||
		    (r->kind == HG_REGION_ANON && hg_graph_in_ranges(ranges, n_ranges, where)))
			continue; /* free memory inside malloc's own regions */
		if (!w->root[to] || (interior ? 2 : 1) < w->root[to])
			w->root[to] = interior ? 2 : 1;
		g->n_roots++;
	}
	g->n_edges = w->n_edges;
	hg_block_finder_release(&f);
	free(ranges);
}

static void build_adj(struct adj *a, const struct hg_edge *e, size_t n_edges, size_t n_blocks)
{
	a->start = hg_xcalloc(n_blocks + 1, sizeof(uint32_t));
	a->edge = hg_xmalloc(sizeof(uint32_t) * (n_edges ? n_edges : 1));
	for (size_t i = 0; i < n_edges; i++)
		a->start[e[i].from + 1]++;
	for (size_t i = 0; i < n_blocks; i++)
		a->start[i + 1] += a->start[i];
	for (size_t i = 0; i < n_edges; i++)
		a->edge[a->start[e[i].from]++] = (uint32_t)i;
	for (size_t i = n_blocks; i > 0; i--)
		a->start[i] = a->start[i - 1];
	a->start[0] = 0;
}

/* Mark from the roots; with starts_only, roots and edges that are interior do not count. */
static void mark(const struct work *w, size_t n, uint8_t *seen, uint32_t *stack, int starts_only)
{
	size_t top = 0;

	for (size_t i = 0; i < n; i++) {
		if (w->root[i] && (!starts_only || w->root[i] == 1) && !seen[i]) {
			seen[i] = 1;
			stack[top++] = (uint32_t)i;
		}
		while (top) {
			uint32_t b = stack[--top];
			for (uint32_t k = w->out.start[b]; k < w->out.start[b + 1]; k++) {
				const struct hg_edge *e = &w->edges[w->out.edge[k]];
				if (seen[e->to] || (starts_only && e->interior))
					continue;
				seen[e->to] = 1;
				stack[top++] = e->to;
			}
		}
	}
}

#define UNSET UINT32_MAX

struct tarjan {
	uint32_t *index, *low, *comp;
	uint8_t *on_stack;
	uint32_t *stack, top;       /* Tarjan's node stack */
	uint32_t *frame_v, *frame_k, depth; /* explicit recursion: node and next edge */
	uint32_t counter, n_comps;
};

static void tarjan_visit(struct tarjan *t, const struct work *w, const uint8_t *reach, uint32_t v)
{
	t->depth = 0;
	t->frame_v[0] = v;
	t->frame_k[0] = w->out.start[v];
	t->index[v] = t->low[v] = t->counter++;
	t->stack[t->top++] = v;
	t->on_stack[v] = 1;
	while (t->depth != UNSET) {
		uint32_t u = t->frame_v[t->depth], k = t->frame_k[t->depth];
		if (k < w->out.start[u + 1]) {
			uint32_t x = w->edges[w->out.edge[k]].to;
			t->frame_k[t->depth]++;
			if (reach[x])
				continue;
			if (t->index[x] == UNSET) {
				t->index[x] = t->low[x] = t->counter++;
				t->stack[t->top++] = x;
				t->on_stack[x] = 1;
				t->depth++;
				t->frame_v[t->depth] = x;
				t->frame_k[t->depth] = w->out.start[x];
			} else if (t->on_stack[x] && t->index[x] < t->low[u]) {
				t->low[u] = t->index[x];
			}
			continue;
		}
		if (t->low[u] == t->index[u]) {
			uint32_t x;
			do {
				x = t->stack[--t->top];
				t->on_stack[x] = 0;
				t->comp[x] = t->n_comps;
			} while (x != u);
			t->n_comps++;
		}
		if (t->depth == 0)
			break;
		t->depth--;
		if (t->low[u] < t->low[t->frame_v[t->depth]])
			t->low[t->frame_v[t->depth]] = t->low[u];
	}
}

static void tarjan_all(struct tarjan *t, const struct work *w, const uint8_t *reach, size_t n)
{
	t->index = hg_xmalloc(sizeof(uint32_t) * n);
	t->low = hg_xmalloc(sizeof(uint32_t) * n);
	t->comp = hg_xmalloc(sizeof(uint32_t) * n);
	t->on_stack = hg_xcalloc(n, 1);
	t->stack = hg_xmalloc(sizeof(uint32_t) * n);
	t->frame_v = hg_xmalloc(sizeof(uint32_t) * n);
	t->frame_k = hg_xmalloc(sizeof(uint32_t) * n);
	t->top = t->counter = t->n_comps = 0;
	for (size_t i = 0; i < n; i++)
		t->index[i] = t->comp[i] = UNSET;
	for (size_t i = 0; i < n; i++)
		if (!reach[i] && t->index[i] == UNSET)
			tarjan_visit(t, w, reach, (uint32_t)i);
}

static void tarjan_release(struct tarjan *t)
{
	free(t->index);
	free(t->low);
	free(t->on_stack);
	free(t->stack);
	free(t->frame_v);
	free(t->frame_k);
	free(t->comp);
}

/* The blocks of each component, in address order: comp c's are block[start[c] .. start[c+1]). */
struct members {
	uint32_t *start;
	uint32_t *block;
};

static void members_build(struct members *m, const struct tarjan *t, size_t n)
{
	size_t nc = t->n_comps;

	m->start = hg_xcalloc(nc + 2, sizeof(uint32_t));
	for (size_t i = 0; i < n; i++)
		if (t->comp[i] != UNSET)
			m->start[t->comp[i] + 2]++;
	for (size_t c = 2; c < nc + 2; c++)
		m->start[c] += m->start[c - 1];
	m->block = hg_xmalloc(sizeof(uint32_t) * (m->start[nc + 1] + 1));
	for (size_t i = 0; i < n; i++)
		if (t->comp[i] != UNSET)
			m->block[m->start[t->comp[i] + 1]++] = (uint32_t)i;
}

static void add_cycle(struct hg_graph *g, const struct work *w, const struct tarjan *t,
		      const struct members *m, uint32_t c, size_t *cap)
{
	const struct hg_snapshot *sn = g->sn;
	struct hg_cycle cy = { 0 };
	size_t ecap = 0;

	cy.n_blocks = m->start[c + 1] - m->start[c];
	cy.blocks = hg_xmalloc(sizeof(uint32_t) * cy.n_blocks);
	for (size_t k = 0; k < cy.n_blocks; k++) {
		uint32_t b = m->block[m->start[c] + k];
		cy.blocks[k] = b;
		cy.bytes += sn->blocks[b].size_bytes;
		for (uint32_t x = w->out.start[b]; x < w->out.start[b + 1]; x++) {
			const struct hg_edge *e = &w->edges[w->out.edge[x]];
			if (t->comp[e->to] != c)
				continue;
			HG_GROW(cy.edges, ecap, cy.n_edges + 1);
			cy.edges[cy.n_edges++] = *e;
		}
	}
	HG_GROW(g->cycles, *cap, g->n_cycles + 1);
	g->cycles[g->n_cycles++] = cy;
}

/* Everything unreachable that leak root component c reaches, not yet owned, is indirect. */
static void own_from(struct hg_graph *g, const struct work *w, const struct tarjan *t,
		     const struct members *m, uint32_t c, uint32_t owner, uint32_t *stack)
{
	size_t top = 0;

	for (uint32_t k = m->start[c]; k < m->start[c + 1]; k++)
		stack[top++] = m->block[k];
	while (top) {
		uint32_t b = stack[--top];
		for (uint32_t k = w->out.start[b]; k < w->out.start[b + 1]; k++) {
			uint32_t x = w->edges[w->out.edge[k]].to;
			if (t->comp[x] == UNSET || t->comp[x] == c || g->owner[x] != UNSET)
				continue;
			g->owner[x] = owner;
			g->kind[x] = HG_INDIRECT;
			stack[top++] = x;
		}
	}
}

static void classify_garbage(struct hg_graph *g, const struct work *w, const struct tarjan *t,
			     uint32_t *stack)
{
	size_t n = g->sn->n_blocks, cap = 0;
	uint32_t *indeg = hg_xcalloc(t->n_comps ? t->n_comps : 1, sizeof(uint32_t));
	uint8_t *self = hg_xcalloc(t->n_comps ? t->n_comps : 1, 1);
	uint8_t *done = hg_xcalloc(t->n_comps ? t->n_comps : 1, 1);
	struct members m;

	for (size_t i = 0; i < w->n_edges; i++) {
		const struct hg_edge *e = &w->edges[i];
		uint32_t a = t->comp[e->from], b = t->comp[e->to];
		if (a == UNSET || b == UNSET)
			continue;
		if (a != b)
			indeg[b]++;
		else if (e->from == e->to)
			self[a] = 1;
	}
	members_build(&m, t, n);
	/* Leak roots in address order of their first block, so ownership is deterministic. */
	for (size_t i = 0; i < n; i++) {
		uint32_t c = t->comp[i];
		int is_cycle;
		if (c == UNSET || indeg[c] || done[c])
			continue;
		done[c] = 1;
		is_cycle = m.start[c + 1] - m.start[c] > 1 || self[c];
		for (uint32_t k = m.start[c]; k < m.start[c + 1]; k++)
			g->kind[m.block[k]] = is_cycle ? HG_CYCLE : HG_DIRECT;
		if (is_cycle)
			add_cycle(g, w, t, &m, c, &cap);
		own_from(g, w, t, &m, c, (uint32_t)i, stack);
	}
	free(m.start);
	free(m.block);
	free(indeg);
	free(self);
	free(done);
}

int hg_graph_build(struct hg_graph *g, const struct hg_snapshot *sn)
{
	size_t n = sn->n_blocks;
	struct work w = { 0 };
	struct tarjan t;
	uint8_t *strong, *any;
	uint32_t *stack;

	memset(g, 0, sizeof(*g));
	g->sn = sn;
	if (!sn->have_blocks)
		return -1;
	w.root = hg_xcalloc(n ? n : 1, 1);
	resolve_pairs(g, &w);
	build_adj(&w.out, w.edges, w.n_edges, n);
	strong = hg_xcalloc(n ? n : 1, 1);
	any = hg_xcalloc(n ? n : 1, 1);
	stack = hg_xmalloc(sizeof(uint32_t) * (n + w.n_edges + 1));
	mark(&w, n, strong, stack, 1);
	mark(&w, n, any, stack, 0);
	g->kind = hg_xcalloc(n ? n : 1, 1);
	g->owner = hg_xmalloc(sizeof(uint32_t) * (n ? n : 1));
	for (size_t i = 0; i < n; i++) {
		g->owner[i] = UNSET;
		g->kind[i] = strong[i] ? HG_REACHABLE : any[i] ? HG_POSSIBLY : HG_DIRECT;
	}
	tarjan_all(&t, &w, any, n);
	classify_garbage(g, &w, &t, stack);
	for (size_t i = 0; i < n; i++) {
		g->bytes[g->kind[i]] += sn->blocks[i].size_bytes;
		g->blocks[g->kind[i]]++;
	}
	tarjan_release(&t);
	free(strong);
	free(any);
	free(stack);
	free(w.root);
	free(w.edges);
	free(w.out.start);
	free(w.out.edge);
	return 0;
}

void hg_graph_release(struct hg_graph *g)
{
	for (size_t i = 0; i < g->n_cycles; i++) {
		free(g->cycles[i].blocks);
		free(g->cycles[i].edges);
	}
	free(g->cycles);
	free(g->kind);
	free(g->owner);
	memset(g, 0, sizeof(*g));
}
