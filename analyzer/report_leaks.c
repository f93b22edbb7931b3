/*
 * report_leaks.c - `heapgraph leaks` output: leaks by kind and stack, leaked cycles
 *
 * Leaks are grouped by (kind, allocation stack), stacks that symbolize alike counting as one,
 * largest first; each leaked cycle is shown as a unit with its blocks and the edges that close
 * it, so the reader sees which field to break.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "json.h"
#include "leaks.h"
#include "units.h"

const char *const hg_leak_kind_name[5] = { "reachable", "possibly", "direct", "indirect", "cycle" };

static int by_kind_stack(const void *a, const void *b)
{
	const struct hg_leak_group *x = a, *y = b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->stack_id != y->stack_id)
		return x->stack_id < y->stack_id ? -1 : 1;
	if (x->via_stack_id != y->via_stack_id)
		return x->via_stack_id < y->via_stack_id ? -1 : 1;
	return x->via_kind < y->via_kind ? -1 : x->via_kind > y->via_kind;
}

static int by_bytes(const void *a, const void *b)
{
	const struct hg_leak_group *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return by_kind_stack(a, b);
}

struct hg_leak_group *hg_leak_groups(const struct hg_graph *g, unsigned kinds, size_t *n)
{
	const struct hg_snapshot *sn = g->sn;
	struct hg_leak_group *v = hg_xmalloc(sizeof(*v) * (sn->n_blocks ? sn->n_blocks : 1));
	size_t m = 0, out = 0;

	for (size_t i = 0; i < sn->n_blocks; i++) {
		uint32_t o = g->owner[i];
		if (!(kinds & HG_KIND_BIT(g->kind[i])))
			continue;
		v[m++] = (struct hg_leak_group){ g->kind[i], 0, sn->blocks[i].stack_id, 0, 0,
						 sn->blocks[i].size_bytes, 1 };
		if (g->kind[i] == HG_INDIRECT && o != UINT32_MAX) {
			v[m - 1].via_kind = g->kind[o];
			v[m - 1].via_stack_id = sn->blocks[o].stack_id;
			v[m - 1].via_addr = sn->blocks[o].addr;
		}
	}
	qsort(v, m, sizeof(*v), by_kind_stack);
	for (size_t i = 0; i < m; i++) {
		if (out && !by_kind_stack(&v[out - 1], &v[i])) {
			v[out - 1].bytes += v[i].bytes;
			v[out - 1].blocks++;
		} else {
			v[out++] = v[i];
		}
	}
	qsort(v, out, sizeof(*v), by_bytes);
	*n = out;
	return hg_xrealloc(v, sizeof(*v) * (out ? out : 1)); /* kept while the replay goes on */
}

/*
 * Two calls on one source line allocate from two return addresses, which symbolize alike: a
 * reader would see the same stack listed twice. Groups of one kind and holder stack whose stacks
 * resolve to the same frames (function, file, line and module each, or the same module offset
 * where unsymbolized), compared by a 64-bit hash of them, are merged; the array is then in
 * order of bytes again. Returns the new count.
 */
struct alike {
	struct hg_leak_group g;
	uint64_t frames_hash;
};

static uint64_t mix_in(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ull; /* FNV-1a */
	return h;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	return mix_in(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static uint64_t frames_hash(struct hg_framer *f, const struct hg_image *im, uint32_t stack_id)
{
	struct hg_frame fr[64];
	size_t n = hg_framer_resolve(f, im, stack_id, fr, sizeof(fr) / sizeof(fr[0]));
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++) {
		h = mix_str(mix_str(h, fr[i].function), fr[i].module);
		if (fr[i].function)
			h = mix_in(mix_str(h, fr[i].file), &fr[i].line, sizeof(fr[i].line));
		else
			h = mix_in(h, &fr[i].offset, sizeof(fr[i].offset));
	}
	/* Deeper than 64 frames: the rest by address, as the stack id already tells them. */
	return n == sizeof(fr) / sizeof(fr[0]) ? mix_in(h, &stack_id, sizeof(stack_id)) : h;
}

static int by_alike(const void *a, const void *b)
{
	const struct alike *x = a, *y = b;

	if (x->g.kind != y->g.kind)
		return x->g.kind < y->g.kind ? -1 : 1;
	if (x->g.via_kind != y->g.via_kind)
		return x->g.via_kind < y->g.via_kind ? -1 : 1;
	if (x->g.via_stack_id != y->g.via_stack_id)
		return x->g.via_stack_id < y->g.via_stack_id ? -1 : 1;
	if (x->frames_hash != y->frames_hash)
		return x->frames_hash < y->frames_hash ? -1 : 1;
	return x->g.stack_id < y->g.stack_id ? -1 : x->g.stack_id > y->g.stack_id;
}

static size_t merge_alike(struct hg_leak_group *v, size_t n, struct hg_framer *f,
			  const struct hg_image *im)
{
	struct alike *a = hg_xmalloc(sizeof(*a) * (n ? n : 1));
	size_t out = 0;

	for (size_t i = 0; i < n; i++)
		a[i] = (struct alike){ v[i], frames_hash(f, im, v[i].stack_id) };
	qsort(a, n, sizeof(*a), by_alike);
	for (size_t i = 0; i < n; i++) {
		const struct alike *p = out ? &a[out - 1] : NULL;
		if (p && p->g.kind == a[i].g.kind && p->g.via_kind == a[i].g.via_kind &&
		    p->g.via_stack_id == a[i].g.via_stack_id && p->frames_hash == a[i].frames_hash) {
			a[out - 1].g.bytes += a[i].g.bytes; /* the lower stack id stays */
			a[out - 1].g.blocks += a[i].g.blocks;
		} else {
			a[out++] = a[i];
		}
	}
	for (size_t i = 0; i < out; i++)
		v[i] = a[i].g;
	free(a);
	qsort(v, out, sizeof(*v), by_bytes);
	return out;
}

/* ---- what is kept of a graph ------------------------------------------------------------ */

void hg_leaks_found_take(struct hg_leaks_found *lf, struct hg_graph *g)
{
	const struct hg_snapshot *sn = g->sn;
	uint32_t *at = NULL; /* a block's index in lf->blocks, for the blocks in cycles */
	size_t n = 0;

	memset(lf, 0, sizeof(*lf));
	lf->sn = sn;
	lf->live_blocks = sn->n_blocks;
	lf->groups = hg_leak_groups(g, HG_LEAK_KINDS, &lf->n_groups);
	memcpy(lf->kind_bytes, g->bytes, sizeof(lf->kind_bytes));
	memcpy(lf->kind_blocks, g->blocks, sizeof(lf->kind_blocks));
	lf->n_edges = g->n_edges;
	lf->cycles = g->cycles;
	lf->n_cycles = g->n_cycles;
	g->cycles = NULL;
	g->n_cycles = 0;
	for (size_t c = 0; c < lf->n_cycles; c++)
		n += lf->cycles[c].n_blocks;
	if (!n)
		return;
	lf->blocks = hg_xmalloc(sizeof(*lf->blocks) * n);
	at = hg_xmalloc(sizeof(*at) * sn->n_blocks);
	n = 0;
	for (size_t c = 0; c < lf->n_cycles; c++) {
		struct hg_cycle *cy = &lf->cycles[c];
		for (size_t i = 0; i < cy->n_blocks; i++) {
			lf->blocks[n] = sn->blocks[cy->blocks[i]];
			at[cy->blocks[i]] = (uint32_t)n;
			cy->blocks[i] = (uint32_t)n++;
		}
		/* A cycle's edges join its own blocks. */
		for (size_t i = 0; i < cy->n_edges; i++) {
			cy->edges[i].from = at[cy->edges[i].from];
			cy->edges[i].to = at[cy->edges[i].to];
		}
	}
	free(at);
}

void hg_leaks_found_release(struct hg_leaks_found *lf)
{
	struct hg_graph g = { .cycles = lf->cycles, .n_cycles = lf->n_cycles };

	hg_graph_release(&g); /* the cycles, as the graph would have */
	free(lf->groups);
	free(lf->blocks);
	memset(lf, 0, sizeof(*lf));
}

/* The groups to show, merged where their stacks read alike; the caller frees the array. */
static struct hg_leak_group *shown_groups(const struct hg_leaks_found *lf, struct hg_framer *f,
					  const struct hg_image *im, size_t *n)
{
	struct hg_leak_group *v = hg_xmalloc(sizeof(*v) * (lf->n_groups ? lf->n_groups : 1));

	memcpy(v, lf->groups, sizeof(*v) * lf->n_groups);
	*n = merge_alike(v, lf->n_groups, f, im);
	return v;
}

/* ---- text ------------------------------------------------------------------------------- */

static void cycle_text(FILE *out, struct hg_framer *f, const struct hg_image *im,
		       const struct hg_leaks_found *lf, const struct hg_cycle *cy, size_t no)
{
	char b[32], nb[32];

	fprintf(out, "\n  leaked cycle #%zu: %s block%s, %s\n", no,
		hg_format_count(nb, sizeof(nb), cy->n_blocks), hg_plural(cy->n_blocks),
		hg_format_bytes(b, sizeof(b), cy->bytes));
	for (size_t i = 0; i < cy->n_blocks; i++) {
		const struct hg_block *blk = &lf->blocks[cy->blocks[i]];
		fprintf(out, "    block 0x%" PRIx64 " (%s)\n", blk->addr,
			hg_format_bytes(b, sizeof(b), blk->size_bytes));
		hg_text_frames_short(out, f, im, blk->stack_id, "        ");
	}
	fprintf(out, "    edges:");
	for (size_t i = 0; i < cy->n_edges; i++)
		fprintf(out, "%s 0x%" PRIx64 "+%u -> 0x%" PRIx64, i ? "," : "",
			lf->blocks[cy->edges[i].from].addr, cy->edges[i].offset,
			lf->blocks[cy->edges[i].to].addr);
	fputc('\n', out);
}

/* Still reachable, possibly lost included: reachable_* in the JSON. */
static uint64_t reachable_bytes(const struct hg_leaks_found *lf)
{
	return lf->kind_bytes[HG_REACHABLE] + lf->kind_bytes[HG_POSSIBLY];
}

static uint64_t reachable_blocks(const struct hg_leaks_found *lf)
{
	return lf->kind_blocks[HG_REACHABLE] + lf->kind_blocks[HG_POSSIBLY];
}

static void totals_text(FILE *out, const struct hg_leaks_found *lf)
{
	char a[32], b[32], c[32], d[32], e[32], n1[32], n2[32];
	uint64_t reachable = reachable_blocks(lf);

	fprintf(out, "  leaked: %s direct, %s indirect, %s in %zu cycle%s\n",
		hg_format_bytes(a, sizeof(a), lf->kind_bytes[HG_DIRECT]),
		hg_format_bytes(b, sizeof(b), lf->kind_bytes[HG_INDIRECT]),
		hg_format_bytes(c, sizeof(c), lf->kind_bytes[HG_CYCLE]), lf->n_cycles,
		hg_plural(lf->n_cycles));
	/* The same sums as the JSON's reachable_* and possibly_*: the second part of the first. */
	fprintf(out, "  still reachable: %s in %s block%s, of which possibly lost (only "
		"interior pointers): %s in %s block%s\n",
		hg_format_bytes(d, sizeof(d), reachable_bytes(lf)),
		hg_format_count(n1, sizeof(n1), reachable), hg_plural(reachable),
		hg_format_bytes(e, sizeof(e), lf->kind_bytes[HG_POSSIBLY]),
		hg_format_count(n2, sizeof(n2), lf->kind_blocks[HG_POSSIBLY]),
		hg_plural(lf->kind_blocks[HG_POSSIBLY]));
}

void hg_leaks_text(FILE *out, struct hg_framer *f, const struct hg_image *im,
		   const struct hg_leaks_found *lf, const struct hg_leaks_opts *o)
{
	const struct hg_snapshot *sn = lf->sn;
	size_t n;
	struct hg_leak_group *v = shown_groups(lf, f, im, &n);
	char b[32], nb[32];

	fprintf(out, "\nprocess %u (parent %u): %s\n", im->pid, im->ppid,
		im->title);
	fprintf(out, "  snapshot '%s': %s live block%s, %u of %u threads stopped\n", sn->label,
		hg_format_count(b, sizeof(b), lf->live_blocks), hg_plural(lf->live_blocks),
		sn->threads_stopped, sn->threads);
	totals_text(out, lf);
	for (size_t i = 0; i < n && (o->top == 0 || i < o->top); i++) {
		fprintf(out, "\n  %s leak: %s in %s block%s", hg_leak_kind_name[v[i].kind],
			hg_format_bytes(b, sizeof(b), v[i].bytes),
			hg_format_count(nb, sizeof(nb), v[i].blocks), hg_plural(v[i].blocks));
		if (v[i].via_kind)
			fprintf(out, ", held by the %s leak at 0x%" PRIx64, v[i].via_kind == HG_CYCLE ?
				"cycle" : "direct", v[i].via_addr);
		fputc('\n', out);
		hg_text_frames(out, f, im, v[i].stack_id, o->max_frames, "      ");
		if (v[i].via_kind) {
			fprintf(out, "    held by a block allocated\n");
			hg_text_frames_short(out, f, im, v[i].via_stack_id, "      ");
		}
	}
	for (size_t i = 0; i < lf->n_cycles; i++)
		cycle_text(out, f, im, lf, &lf->cycles[i], i + 1);
	free(v);
}

/* ---- JSON ------------------------------------------------------------------------------- */

static void totals_json(struct hg_json *j, const struct hg_image *im,
			const struct hg_leaks_found *lf)
{
	hg_json_object(j, "totals");
	hg_json_totals_fields(j, &im->totals);
	hg_json_u64(j, "direct_bytes", lf->kind_bytes[HG_DIRECT]);
	hg_json_u64(j, "direct_blocks", lf->kind_blocks[HG_DIRECT]);
	hg_json_u64(j, "indirect_bytes", lf->kind_bytes[HG_INDIRECT]);
	hg_json_u64(j, "indirect_blocks", lf->kind_blocks[HG_INDIRECT]);
	hg_json_u64(j, "cycle_bytes", lf->kind_bytes[HG_CYCLE]);
	hg_json_u64(j, "cycle_blocks", lf->kind_blocks[HG_CYCLE]);
	hg_json_u64(j, "cycle_count", lf->n_cycles);
	hg_json_u64(j, "reachable_bytes", reachable_bytes(lf));
	hg_json_u64(j, "reachable_blocks", reachable_blocks(lf));
	hg_json_u64(j, "possibly_bytes", lf->kind_bytes[HG_POSSIBLY]);
	hg_json_u64(j, "possibly_blocks", lf->kind_blocks[HG_POSSIBLY]);
	hg_json_end(j);
}

static void cycles_json(struct hg_json *j, struct hg_framer *f, const struct hg_image *im,
			const struct hg_leaks_found *lf)
{
	hg_json_array(j, "cycles");
	for (size_t c = 0; c < lf->n_cycles; c++) {
		const struct hg_cycle *cy = &lf->cycles[c];
		hg_json_object(j, NULL);
		hg_json_u64(j, "bytes", cy->bytes);
		hg_json_array(j, "blocks");
		for (size_t i = 0; i < cy->n_blocks; i++) {
			const struct hg_block *blk = &lf->blocks[cy->blocks[i]];
			hg_json_object(j, NULL);
			hg_json_u64(j, "address", blk->addr);
			hg_json_u64(j, "size", blk->size_bytes);
			hg_json_frames(j, f, im, blk->stack_id);
			hg_json_end(j);
		}
		hg_json_end(j);
		hg_json_array(j, "edges");
		for (size_t i = 0; i < cy->n_edges; i++) {
			hg_json_object(j, NULL);
			hg_json_u64(j, "from", lf->blocks[cy->edges[i].from].addr);
			hg_json_u64(j, "offset", cy->edges[i].offset);
			hg_json_u64(j, "to", lf->blocks[cy->edges[i].to].addr);
			hg_json_end(j);
		}
		hg_json_end(j);
		hg_json_end(j);
	}
	hg_json_end(j);
}

void hg_leaks_json(struct hg_json *j, struct hg_framer *f, const struct hg_replay *r,
		   const struct hg_image *im, const struct hg_leaks_found *lf,
		   const struct hg_leaks_opts *o)
{
	const struct hg_snapshot *sn = lf->sn;
	size_t n;
	struct hg_leak_group *v = shown_groups(lf, f, im, &n);

	hg_json_object(j, NULL);
	hg_json_image_fields(j, r, im);
	hg_json_object(j, "snapshot");
	hg_json_str(j, "label", sn->label);
	hg_json_u64(j, "time_ns", hg_image_time(im, sn->t_ns));
	hg_json_u64(j, "threads", sn->threads);
	hg_json_u64(j, "threads_stopped", sn->threads_stopped);
	hg_json_u64(j, "live_blocks", lf->live_blocks);
	hg_json_u64(j, "edges", lf->n_edges);
	hg_json_u64(j, "words_scanned", sn->words_scanned);
	hg_json_u64(j, "pointer_words", sn->pairs_written);
	hg_json_end(j);
	totals_json(j, im, lf);
	hg_json_array(j, "leaks");
	for (size_t i = 0; i < n && (o->top == 0 || i < o->top); i++) {
		hg_json_object(j, NULL);
		hg_json_str(j, "kind", hg_leak_kind_name[v[i].kind]);
		hg_json_u64(j, "bytes", v[i].bytes);
		hg_json_u64(j, "blocks", v[i].blocks);
		hg_json_frames(j, f, im, v[i].stack_id);
		if (v[i].via_kind) {
			hg_json_object(j, "via");
			hg_json_str(j, "kind", hg_leak_kind_name[v[i].via_kind]);
			hg_json_u64(j, "address", v[i].via_addr);
			hg_json_frames(j, f, im, v[i].via_stack_id);
			hg_json_end(j);
		}
		hg_json_end(j);
	}
	hg_json_end(j);
	cycles_json(j, f, im, lf);
	hg_json_end(j);
	free(v);
}

/* ---- Graphviz --------------------------------------------------------------------------- */

void hg_leaks_dot(FILE *out, struct hg_framer *f, const struct hg_image *im,
		  const struct hg_leaks_found *lf)
{
	for (size_t c = 0; c < lf->n_cycles; c++) {
		const struct hg_cycle *cy = &lf->cycles[c];
		fprintf(out, "  subgraph cluster_%u_%zu {\n    label=\"pid %u: leaked cycle #%zu\";\n",
			im->pid, c + 1, im->pid, c + 1);
		for (size_t i = 0; i < cy->n_blocks; i++) {
			const struct hg_block *blk = &lf->blocks[cy->blocks[i]];
			struct hg_frame fr[1];
			size_t k = hg_framer_resolve(f, im, blk->stack_id, fr, 1);
			fprintf(out, "    p%u_%" PRIx64 " [label=\"%s\\n%" PRIu64 " B @0x%" PRIx64 "\"];\n",
				im->pid, blk->addr, k && fr[0].function ? fr[0].function : "???",
				blk->size_bytes, blk->addr);
		}
		for (size_t i = 0; i < cy->n_edges; i++)
			fprintf(out, "    p%u_%" PRIx64 " -> p%u_%" PRIx64 " [label=\"+%u\"];\n",
				im->pid, lf->blocks[cy->edges[i].from].addr, im->pid,
				lf->blocks[cy->edges[i].to].addr,
				cy->edges[i].offset);
		fprintf(out, "  }\n");
	}
}
