/*
 * cmd_snapshots.c - `heapgraph snapshots`: the heap snapshots of each process in a trace
 *
 * A snapshot is named by its label (heapgraph_snapshot("label"), "signal", "every@1.000s"
 * from record --snapshot-every, "exit") and by its id within its process image; `report
 * --snapshot` and `diff --from/--to` take either. The live bytes and blocks listed are those
 * of the replayed events at the snapshot's moment.
 *
 * Exit status: 0, 2 for usage errors, 3 when the trace cannot be read or is damaged (the list
 * up to the damage is printed first).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "diag.h"
#include "json.h"
#include "report.h"
#include "table.h"
#include "units.h"


static const char help[] =
	"usage: heapgraph snapshots [options] TRACE\n"
	"\n"
	"List the heap snapshots of each process image in TRACE: id, label, why it was taken\n"
	"(exit, signal, call, periodic), when (after the process started) and what was live\n"
	"then. Use a label or #ID with 'report --snapshot' and 'diff --from/--to'.\n"
	"\n"
	"options:\n"
	"  -f, --format FMT   text (default) or json (docs/JSON.md)\n"
	"  -h, --help         this text\n"
	"\n"
	"exit status: 0 ok, 2 usage error, 3 unreadable or damaged trace\n";

static void image_text(const struct hg_replay *r, const struct hg_image *im)
{
	static const int w[5] = { 4, 8, 10, 10, 9 };
	static const char *const head[5] = { "id", "reason", "time", "live", "blocks" };
	char id[16], t[32], b[32], n[32], why[128];

	printf("\nprocess %u (parent %u): %s\n", im->pid, im->ppid,
	       im->title);
	if (!im->n_snapshots) {
		printf("  no snapshots\n");
		return;
	}
	hg_table_row(stdout, "  ", w, 5, head, "label");
	for (uint32_t i = 0; i < im->n_snapshots; i++) {
		const struct hg_snapshot *sn = im->snapshots[i];
		const char *cells[5] = { id, hg_snapshot_reason_name(sn->reason), t, b, n };
		snprintf(id, sizeof(id), "#%u", sn->id);
		hg_format_duration(t, sizeof(t), hg_image_time(im, sn->t_ns));
		hg_format_bytes(b, sizeof(b), sn->live_bytes);
		hg_format_count(n, sizeof(n), sn->live_blocks);
		hg_table_row(stdout, "  ", w, 5, cells, sn->label);
		if (!sn->complete)
			printf("         %s %s\n", id, hg_snapshot_cut_text(r, im, why, sizeof(why)));
	}
}

static void image_json(struct hg_json *j, const struct hg_replay *r, const struct hg_image *im)
{
	hg_json_object(j, NULL);
	hg_json_image_fields(j, r, im);
	hg_json_array(j, "snapshots");
	for (uint32_t i = 0; i < im->n_snapshots; i++) {
		const struct hg_snapshot *sn = im->snapshots[i];
		hg_json_object(j, NULL);
		hg_json_u64(j, "id", sn->id);
		hg_json_str(j, "label", sn->label);
		hg_json_str(j, "reason", hg_snapshot_reason_name(sn->reason));
		hg_json_u64(j, "time_ns", hg_image_time(im, sn->t_ns));
		hg_json_u64(j, "live_bytes", sn->live_bytes);
		hg_json_u64(j, "live_blocks", sn->live_blocks);
		hg_json_bool(j, "complete", sn->complete);
		hg_json_end(j);
	}
	hg_json_end(j);
	hg_json_end(j);
}

int hg_cmd_snapshots(int argc, char **argv)
{
	struct hg_view_args a = { "text", 0, 0, 0 };
	struct hg_replay *r;
	struct hg_json j;
	int rc = hg_view_args("snapshots", help, 0, argc, argv, &a);

	if (rc >= 0)
		return rc;
	if (!(r = hg_replay_file_flags(argv[optind], HG_REPLAY_SKIP_WORDS | HG_REPLAY_SNAPSHOT_SUMS)))
		return HG_EXIT_INPUT;
	if (a.json) {
		hg_json_init(&j, stdout);
		hg_json_begin_processes(&j, r);
		for (uint32_t i = 0; i < r->n_images; i++)
			image_json(&j, r, r->images[i]);
		hg_json_end_processes(&j);
	} else {
		hg_text_heading(stdout, "snapshots", r, "list");
		for (uint32_t i = 0; i < r->n_images; i++)
			image_text(r, r->images[i]);
	}
	return hg_report_done(r, NULL, 0);
}
