/*
 * gate.h - the leak gate of `heapgraph check`: what fails, per process, and why
 *
 * hg_check_eval classifies the exit snapshot of every process image of a replay, groups what it
 * finds by (kind, symbolized allocation stack), takes out what suppressions and the baseline
 * cover, and decides per process whether the gate fails. The text report and the CI outputs
 * (JUnit, SARIF, GitHub annotations) all read the same result.
 */
#ifndef HG_GATE_H
#define HG_GATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "baseline.h"
#include "frames.h"
#include "replay.h"
#include "report.h"
#include "suppress.h"

struct hg_check_rules {
	unsigned fail_on;          /* HG_KIND_BIT set (leaks.h) */
	uint64_t max_leaked_bytes; /* a process fails when its counted leaks exceed this */
	uint64_t max_peak_bytes;   /* a process fails when its peak exceeds this; UINT64_MAX: off */
	struct hg_suppressions *supp;
	const struct hg_baseline *baseline; /* NULL: every site counts */
};

enum hg_site_state {
	HG_SITE_NEW = 0,        /* counts against the gate (not in the baseline, or no baseline) */
	HG_SITE_GREW = 1,       /* counts: in the baseline with fewer bytes or blocks */
	HG_SITE_KNOWN = 2,      /* in the baseline, not grown: does not count */
	HG_SITE_SUPPRESSED = 3  /* matched a suppression: does not count */
};

/* Lines named per frame in the report, the JUnit file and the annotations, before "and N
 * more": enough for a function with a few leaking calls, short enough for one line. */
#define HG_CHECK_MAX_LINES 4

/* One source line of a site's frame, with the site's leaks whose stacks pass through it. */
struct hg_check_line {
	const char *file;       /* the framer's string; never NULL */
	uint32_t line;          /* never 0 */
	uint64_t bytes, blocks;
};

/* The distinct known lines of one frame over a site's stacks (gate_lines.c). */
struct hg_check_lines {
	struct hg_check_line *v; /* sorted by file, then line; owned */
	size_t n, cap;           /* entries used, allocated */
};

/* A site's blocks whose stacks have the same lines in every frame. */
struct hg_check_stack {
	struct hg_frame *frames; /* the site's n_frames; owned array, strings the framer's */
	uint64_t bytes, blocks;
};

/*
 * Leaked blocks of one kind from one symbolized stack in one process image. The key has no
 * lines (a baseline must survive edits that move them), so a function that leaks at two lines,
 * or a line reached from two lines of its caller, is one site with several stacks: every
 * report names each frame's distinct lines, and the CI outputs point at each line of the user
 * frame.
 */
struct hg_check_site {
	uint8_t kind;              /* enum hg_leak_kind */
	int state;                 /* enum hg_site_state */
	uint64_t bytes, blocks;    /* over all its stacks */
	uint32_t stack_id;         /* one of the image's stacks that symbolizes to `key` */
	char *key;                 /* hg_baseline_stack_key of frames; owned */
	struct hg_check_stack *stacks; /* at least one; largest bytes first; owned */
	size_t n_stacks, cap_stacks;
	struct hg_frame *frames;   /* stacks[0].frames: innermost first, for matching and keys */
	size_t n_frames;
	struct hg_check_lines *lines; /* n_frames: frame i's lines over all stacks; owned */
	const struct hg_frame *user; /* the first frame in the user's code (see below), or NULL */
	const struct hg_check_lines *user_lines; /* the user frame's (one line or more), or NULL */
	const struct hg_suppression *suppressed_by;
	const struct hg_baseline_site *known; /* the baseline's entry, or NULL */
};

struct hg_check_proc {
	const struct hg_image *im;
	const char *program;       /* basename of the executable */
	int checked;               /* 1: its exit snapshot was classified */
	char why_unchecked[HG_SNAPSHOT_WHY_BYTES + 64]; /* when not checked: a phrase ("killed
							   by signal 9 ...") */
	struct hg_check_site *sites; /* sorted: counted first, then by bytes */
	size_t n_sites;
	uint64_t counted_bytes, counted_blocks; /* of sites NEW or GREW */
	size_t n_counted;          /* sites NEW or GREW */
	int leak_fail;             /* counted_bytes > max_leaked_bytes */
	int peak_fail;             /* totals.peak_bytes > max_peak_bytes */
	int listed;                /* shown in reports (exec'd-away images only when they fail) */
};

struct hg_check_result {
	struct hg_check_proc *procs; /* in the replay's image order */
	size_t n_procs;
	size_t n_listed, n_failed, n_unchecked;
	uint64_t counted_bytes;      /* over failing processes */
	size_t n_counted;            /* sites counted in failing processes */
};

/*
 * The leaks of each image's last complete snapshot, of the kinds the rules fail on, grouped
 * as the replay finishes the image: pass hg_check_image_done and a finder to
 * hg_replay_file_each, which then sheds the image's snapshots, so that a trace of a program
 * that forked many large children is classified in the memory of one of them.
 */
struct hg_check_finder {
	const struct hg_check_rules *rules;
	struct hg_check_found {
		struct hg_leak_group *groups; /* hg_leak_groups; NULL: no snapshot classified */
		size_t n_groups;
	} *by_order;                          /* by hg_image.file_order */
	size_t cap;
};

/* hg_replay_file_each's done, with a struct hg_check_finder as arg. */
void hg_check_image_done(void *finder, struct hg_image *im);
void hg_check_finder_release(struct hg_check_finder *fi);

/*
 * Evaluate the gate over every image of r, with what fi found in their snapshots. Frames are
 * symbolized with f (which must outlive the result, as must r and rules->supp). Suppression
 * counts are added to rules->supp.
 */
void hg_check_eval(struct hg_check_result *res, const struct hg_replay *r, struct hg_framer *f,
		   const struct hg_check_rules *rules, const struct hg_check_finder *fi);
void hg_check_release(struct hg_check_result *res);

/* Add every site of res that is not suppressed to b (for --write-baseline). */
void hg_check_to_baseline(const struct hg_check_result *res, struct hg_baseline *b);

/* The text report (for people, on `out`): failing processes with their sites, the others in
 * one line each (not when quiet), the suppressions used. */
void hg_check_text(FILE *out, const struct hg_check_result *res,
		   const struct hg_check_rules *rules, size_t max_frames, int quiet);

/* "pid 123: COMMAND" (the test-case name of a process). Returns buf. */
const char *hg_check_proc_name(const struct hg_check_proc *p, char *buf, size_t cap);

/* "direct leak of 600 bytes in 3 blocks" (+ ", new" / ", grew from N bytes in M blocks"). */
const char *hg_check_site_text(const struct hg_check_site *s, char *buf, size_t cap);

/* ---- gate_lines.c: a site's lines -------------------------------------------------------- */

/* Count bytes and blocks at file:line in l: added to its entry, or a new entry in order. A
 * frame with no file or no line has nothing to name and is not added. Out-of-memory exits. */
void hg_check_lines_add(struct hg_check_lines *l, const char *file, uint32_t line,
			uint64_t bytes, uint64_t blocks);
void hg_check_lines_release(struct hg_check_lines *l);

/* "a.c:9, a.c:13 and 2 more": the first max lines of l (file basenames), then how many were
 * left out. "" when l is empty. Returns buf, truncated to cap (at least 1). */
const char *hg_check_lines_text(const struct hg_check_lines *l, size_t max, char *buf,
				size_t cap);

/* The CI outputs (ci_output.c). Each returns 0, or -1 after one error line. */
int hg_check_junit(const char *path, const struct hg_check_result *res, uint64_t max_peak);
int hg_check_sarif(const char *path, const struct hg_check_result *res, uint64_t max_peak);
/* "::error file=F,line=L,title=T::MESSAGE" lines for GitHub Actions: per counted site of a
 * failing process, one at each of its first HG_CHECK_MAX_LINES user lines (one without a file
 * when it has none); one per peak failure. */
void hg_check_github(FILE *out, const struct hg_check_result *res, uint64_t max_peak);

#endif /* HG_GATE_H */
