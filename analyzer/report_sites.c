/*
 * report_sites.c - what the report commands share: site order, how a process ended, the end
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "hg_format.h"
#include "report.h"

static const struct hg_image *sort_image; /* qsort has no context argument */

static int by_live(const void *a, const void *b)
{
	const struct hg_site *x = &sort_image->sites[*(const uint32_t *)a];
	const struct hg_site *y = &sort_image->sites[*(const uint32_t *)b];

	if (x->live_bytes != y->live_bytes)
		return x->live_bytes > y->live_bytes ? -1 : 1;
	if (x->live_blocks != y->live_blocks)
		return x->live_blocks > y->live_blocks ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

uint32_t *hg_sites_by_live(const struct hg_image *im, size_t *n)
{
	uint32_t *ids = hg_xmalloc(sizeof(uint32_t) * (im->n_sites ? im->n_sites : 1));

	*n = 0;
	for (uint32_t i = 0; i < im->n_sites; i++)
		if (im->sites[i].live_blocks)
			ids[(*n)++] = i;
	sort_image = im;
	qsort(ids, *n, sizeof(*ids), by_live);
	return ids;
}

uint32_t *hg_mmap_sites_by_live(const struct hg_image *im, size_t *n)
{
	struct hg_image view = *im;

	view.sites = im->mmap.sites;
	view.n_sites = im->mmap.n_sites;
	return hg_sites_by_live(&view, n);
}

const char *hg_image_end_text(const struct hg_image *im, char *buf, size_t cap)
{
	switch (im->end_kind) {
	case HG_END_CODE:
		snprintf(buf, cap, "exited with code %d", im->exit_status);
		break;
	case HG_END_SIGNAL:
		snprintf(buf, cap, "killed by signal %d (SIG%s)", im->exit_status,
			 sigabbrev_np(im->exit_status) ? sigabbrev_np(im->exit_status) : "?");
		break;
	case HG_END_EXEC:
		snprintf(buf, cap, "replaced by exec");
		break;
	default:
		snprintf(buf, cap, "end not recorded");
	}
	return buf;
}

const char *hg_snapshot_cut_text(const struct hg_replay *r, const struct hg_image *im, char *buf,
				 size_t cap)
{
	char end[64];

	if (r->damage)
		snprintf(buf, cap, "cut off by the damage");
	else if (im->end_kind == HG_END_SIGNAL)
		snprintf(buf, cap, "cut off: the process was %s while it was taken",
			 hg_image_end_text(im, end, sizeof(end)));
	else
		snprintf(buf, cap, "cut off: the trace ends before the snapshot does");
	return buf;
}

const char *hg_snapshot_missing_text(const struct hg_image *im, char *buf, size_t cap)
{
	char end[64];

	switch (im->end_kind) {
	case HG_END_EXEC:
		snprintf(buf, cap, "replaced by exec: its heap was discarded");
		break;
	case HG_END_SIGNAL:
		snprintf(buf, cap, "%s before exit", hg_image_end_text(im, end, sizeof(end)));
		break;
	case HG_END_CODE:
		if (im->said_exit)
			snprintf(buf, cap, "none was taken at its exit: HEAPGRAPH_SNAPSHOT=0, or "
				 "the tracer could not map its snapshot buffers (ulimit -v)");
		else
			snprintf(buf, cap, "its tracer never saw it exit: it exec'd a program not "
				 "traced (static, set-user-ID, or run without LD_PRELOAD), or its "
				 "tracing stopped");
		break;
	default:
		snprintf(buf, cap, "its end is not in the trace");
	}
	return buf;
}

const char *hg_snapshot_reason_name(int reason)
{
	switch (reason) {
	case HG_SNAP_EXIT: return "exit";
	case HG_SNAP_SIGNAL: return "signal";
	case HG_SNAP_CALL: return "call";
	case HG_SNAP_PERIODIC: return "periodic";
	default: return "unknown";
	}
}

void hg_text_heading(FILE *out, const char *cmd, const struct hg_replay *r, const char *what)
{
	fprintf(out, "heapgraph %s of '%s'\n", cmd, r->path);
	if (r->damage)
		fprintf(out, "DAMAGED: %s; this %s covers the records before it\n", r->damage, what);
}

int hg_report_done(struct hg_replay *r, struct hg_framer *f, int rc)
{
	if (fflush(stdout) != 0 || rc < 0)
		rc = hg_error("cannot write the report to standard output");
	if (r->damage)
		hg_error("%s; report covers the records before it", r->damage);
	rc = rc < 0 || r->damage ? HG_EXIT_INPUT : HG_EXIT_OK;
	hg_framer_free(f);
	hg_replay_free(r);
	return rc;
}
