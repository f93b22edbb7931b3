/*
 * gate_text.c - `heapgraph check` for people: what failed, where, and what was set aside
 *
 * Failing processes come first with every site that counts against the gate and its stack,
 * each frame naming every line the site's blocks passed through there; passing and unchecked
 * processes get one line each; then the suppressions that matched, with their counts, so that
 * a reviewer sees what the gate was told to ignore.
 */
#include <inttypes.h>
#include <string.h>

#include "gate.h"
#include "leaks.h"
#include "names.h"
#include "units.h"

/* Frame i of s as `leaks` prints a frame, with every line of the site's stacks there:
 * "at two_lines (fk.c:9, fk.c:13) in fk". */
static void frame_text(FILE *out, const struct hg_check_site *s, size_t i)
{
	const struct hg_frame *fr = &s->frames[i];
	const struct hg_check_lines *l = &s->lines[i];
	char lines[2048], name[HG_NAME_TEXT_MAX];
	const char *fn = hg_name_text(fr->function, name, sizeof(name));

	fprintf(out, "      %s %s", i ? "by" : "at", fn ? fn : "???");
	if (l->n)
		fprintf(out, " (%s)",
			hg_check_lines_text(l, HG_CHECK_MAX_LINES, lines, sizeof(lines)));
	if (fr->module)
		fprintf(out, " in %s\n", hg_basename(fr->module));
	else
		fprintf(out, " [0x%llx]\n", (unsigned long long)fr->address);
}

static void site_text(FILE *out, const struct hg_check_site *s, size_t max_frames)
{
	char line[512];

	fprintf(out, "  %s\n", hg_check_site_text(s, line, sizeof(line)));
	for (size_t i = 0; i < s->n_frames && i < max_frames; i++)
		frame_text(out, s, i);
	if (s->n_frames > max_frames)
		fprintf(out, "      ... %zu more frame%s\n", s->n_frames - max_frames,
			hg_plural(s->n_frames - max_frames));
	if (!s->n_frames)
		fprintf(out, "      (no stack recorded)\n");
}

static void failed_text(FILE *out, const struct hg_check_proc *p,
			const struct hg_check_rules *rules, size_t max_frames)
{
	char name[512];
	size_t known = 0;

	fprintf(out, "\nFAIL %s\n", hg_check_proc_name(p, name, sizeof(name)));
	if (p->peak_fail)
		fprintf(out, "  peak heap of %" PRIu64 " bytes is over the limit of %" PRIu64
			" bytes\n", p->im->totals.peak_bytes, rules->max_peak_bytes);
	if (!p->leak_fail)
		return;
	fprintf(out, "  %zu leak site%s: %" PRIu64 " bytes in %" PRIu64 " block%s", p->n_counted,
		hg_plural(p->n_counted), p->counted_bytes, p->counted_blocks,
		hg_plural(p->counted_blocks));
	if (rules->max_leaked_bytes)
		fprintf(out, " (over the limit of %" PRIu64 " bytes)", rules->max_leaked_bytes);
	fputc('\n', out);
	for (size_t i = 0; i < p->n_sites; i++) {
		if (p->sites[i].state <= HG_SITE_GREW)
			site_text(out, &p->sites[i], max_frames);
		else if (p->sites[i].state == HG_SITE_KNOWN)
			known++;
	}
	if (known)
		fprintf(out, "  (and %zu site%s in the baseline, not grown)\n", known,
			hg_plural(known));
}

static void other_text(FILE *out, const struct hg_check_proc *p)
{
	char name[512];

	hg_check_proc_name(p, name, sizeof(name));
	if (!p->checked)
		fprintf(out, "skip %s: %s\n", name, p->why_unchecked);
	else if (p->n_counted)
		fprintf(out, "ok   %s: %zu leak site%s, %" PRIu64 " bytes, within the limit\n", name,
			p->n_counted, hg_plural(p->n_counted), p->counted_bytes);
	else
		fprintf(out, "ok   %s\n", name);
}

static void suppressions_text(FILE *out, const struct hg_suppressions *s)
{
	int any = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct hg_suppression *x = &s->v[i];
		if (!x->sites)
			continue;
		if (!any++)
			fprintf(out, "\nsuppressions used:\n");
		fprintf(out, "  %" PRIu64 " site%s, %" PRIu64 " block%s, %" PRIu64 " bytes: leak:%s ",
			x->sites, hg_plural(x->sites), x->blocks, hg_plural(x->blocks),
			x->bytes, x->pattern);
		if (x->line)
			fprintf(out, "(%s:%u)\n", x->source, x->line);
		else
			fprintf(out, "(%s)\n", x->source);
	}
}

void hg_check_text(FILE *out, const struct hg_check_result *res,
		   const struct hg_check_rules *rules, size_t max_frames, int quiet)
{
	for (size_t i = 0; i < res->n_procs; i++)
		if (res->procs[i].leak_fail || res->procs[i].peak_fail)
			failed_text(out, &res->procs[i], rules, max_frames);
	if (res->n_failed)
		fputc('\n', out);
	for (size_t i = 0; i < res->n_procs && !quiet; i++)
		if (res->procs[i].listed && !res->procs[i].leak_fail && !res->procs[i].peak_fail)
			other_text(out, &res->procs[i]);
	suppressions_text(out, rules->supp);
}
