/*
 * point.c - a moment of a process image's life, and what was live at it per stack id
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "duration.h"
#include "point.h"
#include "units.h"

int hg_point_parse(const char *cmd, const char *option, const char *text, int times,
		   struct hg_point_spec *out)
{
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (!strcmp(text, "end"))
		return 0;
	if (!strcmp(text, "peak")) {
		out->kind = HG_POINT_PEAK;
		return 0;
	}
	if (times) {
		out->kind = HG_POINT_TIME;
		if (hg_parse_duration(text, &out->t_ns) == 0)
			return 0;
		return hg_usage_error(cmd, "invalid value '%s' for %s (expected peak, end or a "
				      "duration such as 500ms, 2s, 1.5m)", text, option);
	}
	out->kind = HG_POINT_SNAPSHOT;
	if (text[0] == '#') {
		if (hg_u64_of(text + 1, 1, UINT32_MAX, 0, &v) < 0)
			return hg_usage_error(cmd, "invalid snapshot id '%s' for %s: each process's "
					      "snapshots are #1, #2, ... in the order taken "
					      "(heapgraph snapshots lists them)", text, option);
		out->id = (uint32_t)v;
		return 0;
	}
	if (!*text)
		return hg_usage_error(cmd, "empty snapshot label for %s", option);
	out->label = text;
	return 0;
}

struct hg_point_spec hg_point_snapshot(const char *label)
{
	struct hg_point_spec p = { HG_POINT_SNAPSHOT, 0, label, 0 };

	return p;
}

unsigned hg_point_flags(const struct hg_point_spec *p)
{
	unsigned flags = HG_REPLAY_SKIP_WORDS | HG_REPLAY_SNAPSHOT_SUMS;

	if (p->kind == HG_POINT_PEAK)
		flags |= HG_REPLAY_PEAK;
	if (p->kind == HG_POINT_TIME)
		flags |= HG_REPLAY_AT;
	return flags;
}

struct hg_replay *hg_point_replay(const char *path, const struct hg_point_spec *p, size_t n)
{
	unsigned flags = 0;
	uint64_t at = 0;

	for (size_t i = 0; i < n; i++) {
		flags |= hg_point_flags(&p[i]);
		if (p[i].kind == HG_POINT_TIME)
			at = p[i].t_ns; /* callers pass at most one time */
	}
	return hg_replay_file_at(path, flags, at);
}

int hg_point_names(const struct hg_point_spec *p, const struct hg_snapshot *sn)
{
	return p->label ? !strcmp(sn->label, p->label) : sn->id == p->id;
}

const struct hg_snapshot *hg_point_find_snapshot(const struct hg_image *im,
						 const struct hg_point_spec *p)
{
	for (uint32_t i = im->n_snapshots; i-- > 0;) {
		const struct hg_snapshot *sn = im->snapshots[i];
		if (!sn->have_blocks)
			continue;
		if (hg_point_names(p, sn))
			return sn;
	}
	return NULL;
}

int hg_point_exists(const struct hg_replay *r, const struct hg_point_spec *p)
{
	if (p->kind != HG_POINT_SNAPSHOT)
		return 1;
	for (uint32_t i = 0; i < r->n_images; i++)
		if (hg_point_find_snapshot(r->images[i], p))
			return 1;
	return 0;
}

int hg_point_sites(const struct hg_image *im, const struct hg_point_spec *p,
		   const struct hg_site **sites, uint32_t *n)
{
	const struct hg_snapshot *sn;

	switch (p->kind) {
	case HG_POINT_PEAK:
		*sites = im->peak_sites;
		*n = im->n_peak_sites;
		return 0;
	case HG_POINT_TIME:
		*sites = im->at_sites;
		*n = im->n_at_sites;
		return 0;
	case HG_POINT_SNAPSHOT:
		if (!(sn = hg_point_find_snapshot(im, p)))
			return -1;
		*sites = sn->sites;
		*n = sn->n_sites;
		return 0;
	default:
		*sites = im->sites;
		*n = im->n_sites;
		return 0;
	}
}

char *hg_point_text(const struct hg_point_spec *p, char *buf, size_t cap)
{
	char d[32];

	switch (p->kind) {
	case HG_POINT_PEAK: snprintf(buf, cap, "the peak"); break;
	case HG_POINT_TIME:
		snprintf(buf, cap, "%s after start", hg_format_duration(d, sizeof(d), p->t_ns));
		break;
	case HG_POINT_SNAPSHOT:
		if (p->label)
			snprintf(buf, cap, "snapshot '%s'", p->label);
		else
			snprintf(buf, cap, "snapshot #%u", p->id);
		break;
	default: snprintf(buf, cap, "the end");
	}
	return buf;
}

const char *hg_point_kind_name(int kind)
{
	static const char *const names[] = { "end", "peak", "time", "snapshot" };

	return names[kind];
}
