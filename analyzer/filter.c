/*
 * filter.c - which traces a statistic counts: include/exclude patterns, allocator plumbing
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "filter.h"

static const char *const field_names[] = { NULL, "function", "file", "module" };

int hg_filters_add(struct hg_filters *fs, const char *cmd, int include, const char *text)
{
	const char *opt = include ? "--include" : "--exclude";
	const char *colon = strchr(text, ':');
	struct hg_filter f = { include, HG_FILTER_ANY, text };
	size_t len = colon ? (size_t)(colon - text) : 0;
	int word = len > 0;

	for (size_t i = 0; i < len; i++)
		word = word && isalpha((unsigned char)text[i]);
	if (word) {
		for (int k = HG_FILTER_FUNCTION; k <= HG_FILTER_MODULE; k++)
			if (strlen(field_names[k]) == len && !strncmp(text, field_names[k], len))
				f.field = k;
		if (f.field == HG_FILTER_ANY) {
			hg_usage_error(cmd, "unknown field '%.*s' in %s '%s' (function, file or module)",
				       (int)len, text, opt, text);
			return -1;
		}
		f.pattern = colon + 1;
	}
	if (!*f.pattern) {
		hg_usage_error(cmd, "empty pattern in %s '%s'", opt, text);
		return -1;
	}
	HG_GROW(fs->v, fs->cap, fs->n + 1);
	fs->v[fs->n++] = f;
	return 0;
}

void hg_filters_release(struct hg_filters *fs)
{
	free(fs->v);
	fs->v = NULL;
	fs->n = fs->cap = 0;
}

static int prefixed(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int hg_frame_is_plumbing(const struct hg_frame *fr)
{
	static const char *const modules[] = { "libc.so", "libc-", "libstdc++.so", "ld-linux",
					       "libgcc_s.so", "libheapgraph.so" };
	const char *base = fr->module ? hg_basename(fr->module) : NULL;

	if (fr->function && (prefixed(fr->function, "operator new") || !strcmp(fr->function, "_start")))
		return 1;
	for (size_t i = 0; base && i < HG_ARRAY_SIZE(modules); i++)
		if (prefixed(base, modules[i]))
			return 1;
	return 0;
}

size_t hg_filters_first_frame(const struct hg_filters *fs, const struct hg_frame *fr, size_t n)
{
	size_t i = 0;

	if (fs && fs->keep_plumbing)
		return 0;
	while (i + 1 < n && hg_frame_is_plumbing(&fr[i]))
		i++;
	return i;
}

/* A path matches by its whole text or by its last component. */
static int path_match(const char *pattern, const char *path)
{
	return path && (!fnmatch(pattern, path, 0) || !fnmatch(pattern, hg_basename(path), 0));
}

static int frame_match(const struct hg_filter *f, const struct hg_frame *fr)
{
	int any = f->field == HG_FILTER_ANY;

	if ((any || f->field == HG_FILTER_FUNCTION) && fr->function &&
	    !fnmatch(f->pattern, fr->function, 0))
		return 1;
	if ((any || f->field == HG_FILTER_FILE) && path_match(f->pattern, fr->file))
		return 1;
	return (any || f->field == HG_FILTER_MODULE) && path_match(f->pattern, fr->module);
}

static int trace_match(const struct hg_filters *fs, const struct hg_filter *f,
		       const struct hg_frame *fr, size_t n)
{
	for (size_t i = 0; i < n && (i == 0 || fs->all_frames); i++)
		if (frame_match(f, &fr[i]))
			return 1;
	return 0;
}

int hg_filters_keep(const struct hg_filters *fs, const struct hg_frame *fr, size_t n)
{
	int have_include = 0, included = 0;

	if (!fs)
		return 1;
	for (size_t i = 0; i < fs->n; i++) {
		const struct hg_filter *f = &fs->v[i];
		if (f->include) {
			have_include = 1;
			included = included || trace_match(fs, f, fr, n);
		} else if (trace_match(fs, f, fr, n)) {
			return 0;
		}
	}
	return !have_include || included;
}
