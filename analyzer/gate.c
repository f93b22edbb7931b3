/*
 * gate.c - the leak gate: classify each process's exit snapshot and decide what fails
 *
 * Per image: its last complete snapshot (the one taken at exit, unless the program took named
 * ones after it) goes through hg_graph_build as soon as the replay has read all of the image
 * (hg_check_image_done); hg_leak_groups groups the blocks of the kinds the rules fail on by
 * (kind, stack id, holder). After the replay, those groups are symbolized and merged by
 * their stack key, since two return addresses on one line give two stack ids but one site.
 * The key has functions but no lines, so stacks that differ only in lines (a function leaking
 * at two lines) are one site too: the site keeps each such stack with its bytes, and each
 * frame's distinct lines, so that the reports can name every line (gate_lines.c).
 * Each site is then suppressed, known to the baseline, grown, or new. A process fails when its
 * new and grown sites hold more than max_leaked_bytes, or its peak exceeds max_peak_bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "diag.h"
#include "graph.h"
#include "hg_format.h"
#include "leaks.h"
#include "units.h"

/* Whether im's exit snapshot was begun and cut off before its end. */
static int exit_snapshot_cut(const struct hg_image *im)
{
	for (uint32_t i = 0; i < im->n_snapshots; i++)
		if (!im->snapshots[i]->complete && im->snapshots[i]->reason == HG_SNAP_EXIT)
			return 1;
	return 0;
}

static const struct hg_snapshot *last_complete(const struct hg_image *im)
{
	for (uint32_t i = im->n_snapshots; i-- > 0;)
		if (im->snapshots[i]->complete && im->snapshots[i]->have_blocks)
			return im->snapshots[i];
	return NULL;
}

/* Order of two source files, either NULL (unknown, first). */
static int file_cmp(const char *a, const char *b)
{
	if (a == b || !a || !b)
		return a == b ? 0 : a ? 1 : -1;
	return strcmp(a, b);
}

/* Add g's blocks, allocated from the n frames fr, to s as a stack of their own; finish_site
 * merges the stacks with the same lines (2^depth of them for a recursion that calls itself
 * from two lines: merging as they come would compare each with all before it). */
static void add_stack(struct hg_check_site *s, const struct hg_frame *fr, size_t n,
		      const struct hg_leak_group *g)
{
	struct hg_check_stack *st;

	s->bytes += g->bytes;
	s->blocks += g->blocks;
	HG_GROW(s->stacks, s->cap_stacks, s->n_stacks + 1);
	st = &s->stacks[s->n_stacks++];
	st->bytes = g->bytes;
	st->blocks = g->blocks;
	st->frames = hg_xmalloc(sizeof(*fr) * (n ? n : 1));
	memcpy(st->frames, fr, sizeof(*fr) * n);
}

/* Add group g to p's sites: merged into the site of the same kind and stack key if any. */
static void add_group(struct hg_check_proc *p, struct hg_framer *f, size_t *cap,
		      const struct hg_leak_group *g)
{
	struct hg_frame fr[HG_MAX_FRAMES];
	size_t n = hg_framer_resolve(f, p->im, g->stack_id, fr, HG_MAX_FRAMES);
	char *key = hg_baseline_stack_key(fr, n);
	struct hg_check_site *s;

	for (size_t i = 0; i < p->n_sites; i++) {
		s = &p->sites[i];
		if (s->kind == g->kind && !strcmp(s->key, key)) {
			add_stack(s, fr, n, g);
			free(key);
			return;
		}
	}
	HG_GROW(p->sites, *cap, p->n_sites + 1);
	s = &p->sites[p->n_sites++];
	memset(s, 0, sizeof(*s));
	s->kind = g->kind;
	s->stack_id = g->stack_id;
	s->key = key;
	s->n_frames = n;
	add_stack(s, fr, n, g);
}

/* By the lines of the frames, innermost first. */
static int by_lines(const void *a, const void *b, void *n_frames)
{
	const struct hg_check_stack *x = a, *y = b;
	size_t n = *(const size_t *)n_frames;
	int c;

	for (size_t i = 0; i < n; i++) {
		if ((c = file_cmp(x->frames[i].file, y->frames[i].file)))
			return c;
		if (x->frames[i].line != y->frames[i].line)
			return x->frames[i].line < y->frames[i].line ? -1 : 1;
	}
	return 0;
}

/* Largest bytes first, then most blocks, then by lines. */
static int by_bytes_lines(const void *a, const void *b, void *n_frames)
{
	const struct hg_check_stack *x = a, *y = b;

	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->blocks != y->blocks)
		return x->blocks > y->blocks ? -1 : 1;
	return by_lines(a, b, n_frames);
}

/* Merge the stacks with the same lines in every frame into one. */
static void merge_stacks(struct hg_check_site *s)
{
	size_t out = 0;

	qsort_r(s->stacks, s->n_stacks, sizeof(*s->stacks), by_lines, &s->n_frames);
	for (size_t k = 0; k < s->n_stacks; k++) {
		if (out && !by_lines(&s->stacks[out - 1], &s->stacks[k], &s->n_frames)) {
			s->stacks[out - 1].bytes += s->stacks[k].bytes;
			s->stacks[out - 1].blocks += s->stacks[k].blocks;
			free(s->stacks[k].frames);
			continue;
		}
		s->stacks[out++] = s->stacks[k];
	}
	s->n_stacks = out;
}

/* Once every group is in: the stacks in order, the representative frames, each frame's lines
 * and the user frame. */
static void finish_site(struct hg_check_site *s)
{
	merge_stacks(s);
	qsort_r(s->stacks, s->n_stacks, sizeof(*s->stacks), by_bytes_lines, &s->n_frames);
	s->frames = s->stacks[0].frames;
	s->lines = hg_xcalloc(s->n_frames ? s->n_frames : 1, sizeof(*s->lines));
	for (size_t i = 0; i < s->n_frames; i++)
		for (size_t k = 0; k < s->n_stacks; k++)
			hg_check_lines_add(&s->lines[i], s->stacks[k].frames[i].file,
					   s->stacks[k].frames[i].line, s->stacks[k].bytes,
					   s->stacks[k].blocks);
	s->user = hg_frames_user(s->frames, s->n_frames);
	s->user_lines = s->user ? &s->lines[s->user - s->frames] : NULL;
}

static void judge_site(struct hg_check_proc *p, struct hg_check_site *s,
		       const struct hg_check_rules *rules)
{
	struct hg_suppression *sup = hg_suppressions_match(rules->supp, s->frames, s->n_frames);

	if (sup) {
		s->state = HG_SITE_SUPPRESSED;
		s->suppressed_by = sup;
		sup->sites++;
		sup->blocks += s->blocks;
		sup->bytes += s->bytes;
		return;
	}
	if (rules->baseline)
		s->known = hg_baseline_find(rules->baseline, p->program,
					    hg_leak_kind_name[s->kind], s->key);
	if (s->known)
		s->state = s->bytes > s->known->bytes || s->blocks > s->known->blocks ?
			   HG_SITE_GREW : HG_SITE_KNOWN;
	if (s->state <= HG_SITE_GREW) {
		p->counted_bytes += s->bytes;
		p->counted_blocks += s->blocks;
		p->n_counted++;
	}
}

static int by_state_bytes(const void *a, const void *b)
{
	const struct hg_check_site *x = a, *y = b;
	int cx = x->state <= HG_SITE_GREW, cy = y->state <= HG_SITE_GREW;

	if (cx != cy)
		return cy - cx;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind - y->kind;
	return strcmp(x->key, y->key);
}

void hg_check_image_done(void *finder, struct hg_image *im)
{
	struct hg_check_finder *fi = finder;
	const struct hg_snapshot *sn = last_complete(im);
	struct hg_graph g;

	/* eval_leaks checks neither an image exec'd over nor one whose heap was not seen. */
	if (sn && im->end_kind != HG_END_EXEC && !im->foreign_malloc &&
	    hg_graph_build(&g, sn) == 0) {
		struct hg_check_found *fd;

		HG_GROW(fi->by_order, fi->cap, (size_t)im->file_order + 1); /* zeroed: not found */
		fd = &fi->by_order[im->file_order];
		fd->groups = hg_leak_groups(&g, fi->rules->fail_on, &fd->n_groups);
		hg_graph_release(&g);
	}
}

void hg_check_finder_release(struct hg_check_finder *fi)
{
	for (size_t i = 0; i < fi->cap; i++)
		free(fi->by_order[i].groups);
	free(fi->by_order);
	fi->by_order = NULL;
	fi->cap = 0;
}

static void eval_leaks(struct hg_check_proc *p, struct hg_framer *f,
		       const struct hg_check_rules *rules, const struct hg_check_finder *fi)
{
	const struct hg_check_found *fd = p->im->file_order < fi->cap ?
		&fi->by_order[p->im->file_order] : NULL;
	size_t cap = 0;

	if (p->im->end_kind == HG_END_EXEC) {
		hg_snapshot_missing_text(p->im, p->why_unchecked, sizeof(p->why_unchecked));
		return;
	}
	if (p->im->foreign_malloc) { /* nothing of its heap was seen: a pass would mean nothing */
		snprintf(p->why_unchecked, sizeof(p->why_unchecked), "its malloc is its own, "
			 "linked in ahead of the tracer's: its heap was not traced");
		return;
	}
	if (!fd || !fd->groups) {
		char why[HG_SNAPSHOT_WHY_BYTES];

		if (p->im->end_kind == HG_END_SIGNAL && exit_snapshot_cut(p->im))
			snprintf(p->why_unchecked, sizeof(p->why_unchecked),
				 "%s while its exit snapshot was taken",
				 hg_image_end_text(p->im, why, sizeof(why)));
		else
			snprintf(p->why_unchecked, sizeof(p->why_unchecked), "no exit snapshot: %s",
				 hg_snapshot_missing_text(p->im, why, sizeof(why)));
		return;
	}
	p->checked = 1;
	for (size_t i = 0; i < fd->n_groups; i++)
		add_group(p, f, &cap, &fd->groups[i]);
	for (size_t i = 0; i < p->n_sites; i++) {
		finish_site(&p->sites[i]);
		judge_site(p, &p->sites[i], rules);
	}
	if (p->n_sites)
		qsort(p->sites, p->n_sites, sizeof(*p->sites), by_state_bytes);
	p->leak_fail = p->n_counted && p->counted_bytes > rules->max_leaked_bytes;
}

void hg_check_eval(struct hg_check_result *res, const struct hg_replay *r, struct hg_framer *f,
		   const struct hg_check_rules *rules, const struct hg_check_finder *fi)
{
	memset(res, 0, sizeof(*res));
	res->procs = hg_xcalloc(r->n_images ? r->n_images : 1, sizeof(*res->procs));
	res->n_procs = r->n_images;
	for (uint32_t i = 0; i < r->n_images; i++) {
		struct hg_check_proc *p = &res->procs[i];
		p->im = r->images[i];
		p->program = hg_basename(p->im->exe);
		eval_leaks(p, f, rules, fi);
		p->peak_fail = p->im->totals.peak_bytes > rules->max_peak_bytes;
		p->listed = p->im->end_kind != HG_END_EXEC || p->peak_fail;
		res->n_listed += p->listed;
		res->n_unchecked += p->listed && !p->checked;
		if (p->leak_fail || p->peak_fail) {
			res->n_failed++;
			res->counted_bytes += p->leak_fail ? p->counted_bytes : 0;
			res->n_counted += p->leak_fail ? p->n_counted : 0;
		}
	}
}

static void site_release(struct hg_check_site *s)
{
	for (size_t i = 0; i < s->n_stacks; i++)
		free(s->stacks[i].frames);
	for (size_t i = 0; i < s->n_frames && s->lines; i++)
		hg_check_lines_release(&s->lines[i]);
	free(s->stacks);
	free(s->lines);
	free(s->key);
}

void hg_check_release(struct hg_check_result *res)
{
	for (size_t i = 0; i < res->n_procs; i++) {
		for (size_t k = 0; k < res->procs[i].n_sites; k++)
			site_release(&res->procs[i].sites[k]);
		free(res->procs[i].sites);
	}
	free(res->procs);
	memset(res, 0, sizeof(*res));
}

void hg_check_to_baseline(const struct hg_check_result *res, struct hg_baseline *b)
{
	for (size_t i = 0; i < res->n_procs; i++) {
		const struct hg_check_proc *p = &res->procs[i];
		for (size_t k = 0; k < p->n_sites; k++)
			if (p->sites[k].state != HG_SITE_SUPPRESSED)
				hg_baseline_add(b, p->program, hg_leak_kind_name[p->sites[k].kind],
						p->sites[k].key, p->sites[k].bytes,
						p->sites[k].blocks);
	}
}

const char *hg_check_proc_name(const struct hg_check_proc *p, char *buf, size_t cap)
{
	snprintf(buf, cap, "pid %u: %s", p->im->pid,
		 p->im->title);
	return buf;
}

const char *hg_check_site_text(const struct hg_check_site *s, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "%s leak of %llu bytes in %llu block%s",
			 hg_leak_kind_name[s->kind], (unsigned long long)s->bytes,
			 (unsigned long long)s->blocks, hg_plural(s->blocks));

	if (n < 0 || (size_t)n >= cap)
		return buf;
	if (s->state == HG_SITE_GREW)
		snprintf(buf + n, cap - n, " (grew from %llu bytes in %llu block%s)",
			 (unsigned long long)s->known->bytes, (unsigned long long)s->known->blocks,
			 hg_plural(s->known->blocks));
	else if (s->state == HG_SITE_KNOWN)
		snprintf(buf + n, cap - n, " (in the baseline)");
	else if (s->state == HG_SITE_SUPPRESSED)
		snprintf(buf + n, cap - n, " (suppressed by leak:%s)", s->suppressed_by->pattern);
	return buf;
}
