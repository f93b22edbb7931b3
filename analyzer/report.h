/*
 * report.h - `heapgraph report` output: text for people, JSON for programs
 */
#ifndef HG_REPORT_H
#define HG_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "frames.h"
#include "point.h"
#include "replay.h"
#include "stats.h"

/* `report` with statistics options: groups at a point instead of the sites at the end. */
struct hg_stats_report {
	struct hg_stats_opts stats;   /* grouping, filters */
	struct hg_point_spec point;   /* the moment */
	int order;                    /* enum hg_stats_order */
	int histogram;                /* text: the allocation size histogram too */
};

struct hg_report_opts {
	size_t top;        /* sites (groups) per process; 0 = all */
	size_t max_frames; /* frames per site in text output */
	const struct hg_stats_report *stats; /* NULL: the sites live at the end */
};

/*
 * Stack ids of im's sites that still hold live bytes, largest live_bytes first (then more
 * blocks, then lower id). *n gets the count; the caller frees the array.
 */
uint32_t *hg_sites_by_live(const struct hg_image *im, size_t *n);

/* "exit", "signal", "call", "periodic" for an enum hg_snapshot_reason. */
const char *hg_snapshot_reason_name(int reason);
/* Why a snapshot of im is incomplete (its end never came): "cut off by the damage", or by a
 * signal that killed the process while it was taken, or by the trace ending first. Returns
 * buf. */
const char *hg_snapshot_cut_text(const struct hg_replay *r, const struct hg_image *im, char *buf,
				 size_t cap);
/* Why im has no exit snapshot at all, from how it ended: "replaced by exec: its heap was
 * discarded", "killed by signal 9 (SIGKILL) before exit", ... Returns buf, which holds the
 * longest in HG_SNAPSHOT_WHY_BYTES (the cut text too). */
#define HG_SNAPSHOT_WHY_BYTES 192
const char *hg_snapshot_missing_text(const struct hg_image *im, char *buf, size_t cap);
/* The same for the sites of im's mmap domain (im->mmap.sites), most bytes mapped first. */
uint32_t *hg_mmap_sites_by_live(const struct hg_image *im, size_t *n);

/* "exited with code 3", "killed by signal 9 (SIGKILL)", "replaced by exec", "still running". */
const char *hg_image_end_text(const struct hg_image *im, char *buf, size_t cap);

struct hg_json;

/* JSON pieces shared by every command's output (contract: docs/JSON.md). */
void hg_json_trace_fields(struct hg_json *j, const struct hg_replay *r);
/* Open the document every command prints: {trace fields..., "processes": [ ; and close it. */
void hg_json_begin_processes(struct hg_json *j, const struct hg_replay *r);
void hg_json_end_processes(struct hg_json *j);
void hg_json_image_fields(struct hg_json *j, const struct hg_replay *r, const struct hg_image *im);
void hg_json_exit(struct hg_json *j, const struct hg_image *im);
void hg_json_totals_fields(struct hg_json *j, const struct hg_totals *t);
void hg_json_frames(struct hg_json *j, struct hg_framer *f, const struct hg_image *im,
		    uint32_t stack_id);
/* "mmap": {...}, the image's mmap domain with at most top sites (0: all). */
void hg_json_mmap(struct hg_json *j, struct hg_framer *f, const struct hg_image *im, size_t top);

/* Text pieces: one frame line ("at f (file:line) in module"), a site's frames. */
void hg_text_frame(FILE *out, const struct hg_frame *fr, int first, const char *indent);
void hg_text_frames(FILE *out, struct hg_framer *f, const struct hg_image *im, uint32_t stack_id,
		    size_t max_frames, const char *indent);
/* A stack in brief (a block holding a leak, a block of a cycle): HG_SHORT_FRAMES frames, or more
 * to reach the user frame (hg_frames_user) when inlined templates come first. */
#define HG_SHORT_FRAMES 3
void hg_text_frames_short(FILE *out, struct hg_framer *f, const struct hg_image *im,
			  uint32_t stack_id, const char *indent);
/* The "anonymous mappings outside malloc" section; nothing when the image made no mapping. */
void hg_text_mmap(FILE *out, struct hg_framer *f, const struct hg_image *im, size_t top,
		  size_t max_frames);

/* The first lines of a text report: "heapgraph CMD of 'PATH'", then the damage of the trace if
 * any ("this WHAT covers the records before it"). */
void hg_text_heading(FILE *out, const char *cmd, const struct hg_replay *r, const char *what);

/*
 * The end of every report command: flush stdout, name any damage of the trace on stderr, free
 * r and f. rc < 0 means the output already failed. Returns the exit code: HG_EXIT_OK, or
 * HG_EXIT_INPUT after an output error or for a damaged trace (whose partial report was
 * printed).
 */
int hg_report_done(struct hg_replay *r, struct hg_framer *f, int rc);

/* report_stats.c: one image's statistics, in text (instead of its sites) or in JSON. */
void hg_stats_text(FILE *out, struct hg_framer *f, const struct hg_image *im,
		   const struct hg_report_opts *o);
void hg_stats_json(struct hg_json *j, struct hg_framer *f, const struct hg_image *im,
		   const struct hg_report_opts *o);

/* {"kind": "end|peak|time|snapshot", "time_ns"?, "label"? or "snapshot_id"?} as member key. */
void hg_json_point(struct hg_json *j, const char *key, const struct hg_point_spec *p);

/* A group's name: a traceback's first frame "f (file.c:12)", else hg_stat_name; text: with
 * the function as text output shortens it (names.h), else in full (JSON). */
void hg_stats_group_name(const struct hg_stat *g, int group_by, int text, char *buf, size_t cap);

/* JSON of a group's identity: name, function, file, line, module (by grouping), frames. */
void hg_stats_json_group(struct hg_json *j, const struct hg_stat *g, int group_by);

/* Text of a traceback group's frames after its first, in a table's name column. */
void hg_stats_text_more_frames(FILE *out, const struct hg_stat *g, const int *widths, size_t n);

/* Write the report; return 0, or -1 on an output error. */
int hg_report_text(const struct hg_replay *r, struct hg_framer *f,
		   const struct hg_report_opts *o, FILE *out);
int hg_report_json(const struct hg_replay *r, struct hg_framer *f,
		   const struct hg_report_opts *o, FILE *out);

#endif /* HG_REPORT_H */
