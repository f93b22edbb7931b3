/*
 * stats.c - statistics of a live set, as tracemalloc's Snapshot.statistics: group, filter, sort
 *
 * Keys are built from the symbolized text of frames, fields separated by \x1f and frames by
 * \x1e (bytes no name contains), so equal stacks of two traces get equal keys whatever their
 * addresses were.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "hg_format.h"
#include "names.h"
#include "stats.h"

static const char *const group_names[] = { "traceback", "function", "line", "file", "module" };
static const char *const order_names[] = { "size", "count", "allocations", "temporary",
					   "allocated" };

static int name_index(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; name && i < n; i++)
		if (!strcmp(names[i], name))
			return (int)i;
	return -1;
}

int hg_group_by_parse(const char *name)
{
	return name_index(group_names, HG_ARRAY_SIZE(group_names), name);
}

const char *hg_group_by_name(int group_by)
{
	return group_names[group_by];
}

int hg_stats_order_parse(const char *name)
{
	return name_index(order_names, HG_ARRAY_SIZE(order_names), name);
}

const char *hg_stats_order_name(int order)
{
	return order_names[order];
}

/* ---- keys ----------------------------------------------------------------------------- */

struct keybuf {
	char *s;
	size_t len, cap;
};

static void key_add(struct keybuf *k, const char *text)
{
	size_t n = strlen(text);

	HG_GROW(k->s, k->cap, k->len + n + 2);
	memcpy(k->s + k->len, text, n);
	k->len += n;
	k->s[k->len++] = '\x1f';
	k->s[k->len] = '\0';
}

/* Where an unsymbolized frame is: its offset in its module (the same in every run), else
 * its address. */
static uint64_t frame_offset(const struct hg_frame *fr)
{
	return fr->module ? fr->offset : fr->address;
}

static void key_frame(struct keybuf *k, const struct hg_frame *fr, int group_by)
{
	char num[40];

	if (group_by == HG_GROUP_TRACEBACK || group_by == HG_GROUP_FUNCTION) {
		if (!fr->function) /* no symbol: one group per place */
			snprintf(num, sizeof(num), "???+0x%llx",
				 (unsigned long long)frame_offset(fr));
		key_add(k, fr->function ? fr->function : num);
	}
	if (group_by != HG_GROUP_MODULE)
		key_add(k, fr->file ? fr->file : "");
	snprintf(num, sizeof(num), "%u", fr->line);
	if (group_by == HG_GROUP_TRACEBACK || group_by == HG_GROUP_LINE)
		key_add(k, num);
	if (group_by != HG_GROUP_FILE || !fr->file)
		key_add(k, fr->module ? fr->module : "");
	if (group_by == HG_GROUP_LINE && !fr->file) { /* unknown line: one group per place */
		snprintf(num, sizeof(num), "0x%llx", (unsigned long long)frame_offset(fr));
		key_add(k, num);
	}
}

/* ---- building ------------------------------------------------------------------------- */

static struct hg_stat *group(struct hg_stats *st, const char *key, const struct hg_frame *fr,
			     size_t n)
{
	struct hg_stat *g;

	HASH_FIND_STR(st->table, key, g);
	if (g)
		return g;
	g = hg_xcalloc(1, sizeof(*g));
	g->key = hg_xstrdup(key);
	g->frames = hg_xmalloc(sizeof(*fr) * (n ? n : 1));
	memcpy(g->frames, fr, sizeof(*fr) * n);
	g->n_frames = n;
	g->offset = frame_offset(fr);
	HASH_ADD_KEYPTR(hh, st->table, g->key, strlen(g->key), g);
	return g;
}

static void credit(struct hg_stat *g, const struct hg_site *live, const struct hg_site *run)
{
	g->bytes += live->live_bytes;
	g->blocks += live->live_blocks;
	g->allocations += run->allocations;
	g->allocated_bytes += run->allocated_bytes;
	g->temporary += run->temporary;
	g->temporary_bytes += run->temporary_bytes;
}

/* One stack: credited to its innermost frame's group, or to every frame's group once. */
static void add_stack(struct hg_stats *st, const struct hg_frame *fr, size_t n,
		      const struct hg_site *live, const struct hg_site *run,
		      const struct hg_stats_opts *o)
{
	struct hg_stat *seen[HG_MAX_FRAMES];
	size_t n_seen = 0;
	int keep_plumbing = o->filters && o->filters->keep_plumbing;
	struct keybuf k = { 0 };

	if (o->group_by == HG_GROUP_TRACEBACK) {
		for (size_t i = 0; i < n; i++) {
			key_frame(&k, &fr[i], o->group_by);
			k.s[k.len - 1] = '\x1e';
		}
		credit(group(st, k.len ? k.s : "", fr, n), live, run);
		free(k.s);
		return;
	}
	for (size_t i = 0; i < (o->cumulative ? n : 1); i++) {
		struct hg_stat *g;
		size_t j = 0;
		if (i > 0 && !keep_plumbing && hg_frame_is_plumbing(&fr[i]))
			continue; /* the C library's start-up frames, a qsort calling back... */
		k.len = 0;
		key_frame(&k, &fr[i], o->group_by);
		g = group(st, k.s, &fr[i], 1);
		while (j < n_seen && seen[j] != g)
			j++;
		if (j == n_seen) {
			seen[n_seen++] = g;
			credit(g, live, run);
		}
	}
	free(k.s);
}

void hg_stats_build(struct hg_stats *st, struct hg_framer *f, const struct hg_image *im,
		    const struct hg_site *live, uint32_t n_live, const struct hg_stats_opts *o)
{
	static const struct hg_site none;
	struct hg_frame fr[HG_MAX_FRAMES];
	uint32_t n_ids = n_live > im->n_sites ? n_live : im->n_sites;

	memset(st, 0, sizeof(*st));
	for (uint32_t id = 0; id < n_ids; id++) {
		const struct hg_site *lv = id < n_live ? &live[id] : &none;
		const struct hg_site *run = id < im->n_sites ? &im->sites[id] : &none;
		size_t n, first;

		if (!lv->live_blocks && !run->allocations)
			continue;
		n = hg_framer_resolve(f, im, id, fr, HG_MAX_FRAMES);
		first = hg_filters_first_frame(o->filters, fr, n);
		n = n - first < o->max_frames ? n - first : o->max_frames;
		if (!hg_filters_keep(o->filters, fr + first, n))
			continue;
		if (n == 0) { /* no stack recorded: one group of its own */
			memset(fr, 0, sizeof(fr[0]));
			first = 0;
			n = 1;
		}
		add_stack(st, fr + first, n, lv, run, o);
		st->bytes += lv->live_bytes;
		st->blocks += lv->live_blocks;
		st->allocations += run->allocations;
		st->allocated_bytes += run->allocated_bytes;
		st->temporary += run->temporary;
		st->temporary_bytes += run->temporary_bytes;
	}
}

int hg_stats_build_at(struct hg_stats *st, struct hg_framer *f, const struct hg_image *im,
		      const struct hg_point_spec *p, const struct hg_stats_opts *o, int order)
{
	const struct hg_site *sites;
	uint32_t n;

	memset(st, 0, sizeof(*st));
	if (!im)
		return 0;
	if (hg_point_sites(im, p, &sites, &n) < 0)
		return -1;
	hg_stats_build(st, f, im, sites, n, o);
	hg_stats_sort(st, order);
	return 0;
}

/* ---- order ---------------------------------------------------------------------------- */

static int sort_order; /* qsort has no context argument */

static uint64_t primary(const struct hg_stat *s)
{
	switch (sort_order) {
	case HG_ORDER_COUNT: return s->blocks;
	case HG_ORDER_ALLOCATIONS: return s->allocations;
	case HG_ORDER_TEMPORARY: return s->temporary;
	case HG_ORDER_ALLOCATED: return s->allocated_bytes;
	default: return s->bytes;
	}
}

static uint64_t secondary(const struct hg_stat *s)
{
	switch (sort_order) {
	case HG_ORDER_COUNT: return s->bytes;
	case HG_ORDER_ALLOCATIONS: return s->allocated_bytes;
	case HG_ORDER_TEMPORARY: return s->temporary_bytes;
	case HG_ORDER_ALLOCATED: return s->allocations;
	default: return s->blocks;
	}
}

static int by_order(const void *a, const void *b)
{
	const struct hg_stat *x = *(struct hg_stat *const *)a, *y = *(struct hg_stat *const *)b;

	if (primary(x) != primary(y))
		return primary(x) > primary(y) ? -1 : 1;
	if (secondary(x) != secondary(y))
		return secondary(x) > secondary(y) ? -1 : 1;
	return strcmp(x->key, y->key);
}

void hg_stats_sort(struct hg_stats *st, int order)
{
	struct hg_stat *g, *tmp;

	free(st->v);
	st->v = hg_xmalloc(sizeof(*st->v) * (HASH_COUNT(st->table) + 1));
	st->n = 0;
	sort_order = order;
	HASH_ITER(hh, st->table, g, tmp)
		if (primary(g))
			st->v[st->n++] = g;
	qsort(st->v, st->n, sizeof(*st->v), by_order);
}

struct hg_stat *hg_stats_find(const struct hg_stats *st, const char *key)
{
	struct hg_stat *g;

	HASH_FIND_STR(st->table, key, g);
	return g;
}

void hg_stats_release(struct hg_stats *st)
{
	struct hg_stat *g, *tmp;

	HASH_ITER(hh, st->table, g, tmp) {
		HASH_DEL(st->table, g);
		free(g->key);
		free(g->frames);
		free(g);
	}
	free(st->v);
	memset(st, 0, sizeof(*st));
}

char *hg_stat_name(const struct hg_stat *s, int group_by, int text, char *buf, size_t cap)
{
	const struct hg_frame *fr = &s->frames[0];
	char name[HG_NAME_TEXT_MAX];
	const char *fn = text ? hg_name_text(fr->function, name, sizeof(name)) : fr->function;
	const char *file = fr->file ? hg_basename(fr->file) : NULL;
	const char *mod = fr->module ? hg_basename(fr->module) : "?";

	fn = fn ? fn : "???";
	switch (group_by) {
	case HG_GROUP_LINE:
		if (file)
			snprintf(buf, cap, "%s:%u (%s)", file, fr->line, fn);
		else
			snprintf(buf, cap, "%s+0x%llx (%s)", mod, (unsigned long long)s->offset, fn);
		break;
	case HG_GROUP_FILE:
		snprintf(buf, cap, "%s", file ? file : mod);
		break;
	case HG_GROUP_MODULE:
		snprintf(buf, cap, "%s", mod);
		break;
	default:
		if (file)
			snprintf(buf, cap, "%s (%s)", fn, file);
		else if (fr->function)
			snprintf(buf, cap, "%s in %s", fn, mod);
		else /* grouped by place: say which */
			snprintf(buf, cap, "??? (%s+0x%llx)", mod, (unsigned long long)s->offset);
	}
	return buf;
}
