/*
 * report.h - `heapgraph report` output: text for people, JSON for programs
 */
#ifndef HG_REPORT_H
#define HG_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "frames.h"
#include "replay.h"

struct hg_report_opts {
	size_t top;        /* sites per process; 0 = all */
	size_t max_frames; /* frames per site in text output */
};

/*
 * Stack ids of im's sites that still hold live bytes, largest live_bytes first (then more
 * blocks, then lower id). *n gets the count; the caller frees the array.
 */
uint32_t *hg_sites_by_live(const struct hg_image *im, size_t *n);

/* "exited with code 3", "killed by signal 9 (SIGKILL)", "replaced by exec", "still running". */
const char *hg_image_end_text(const struct hg_image *im, char *buf, size_t cap);

/* Write the report; return 0, or -1 on an output error. */
int hg_report_text(const struct hg_replay *r, struct hg_framer *f,
		   const struct hg_report_opts *o, FILE *out);
int hg_report_json(const struct hg_replay *r, struct hg_framer *f,
		   const struct hg_report_opts *o, FILE *out);

#endif /* HG_REPORT_H */
