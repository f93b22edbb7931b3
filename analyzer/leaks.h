/*
 * leaks.h - `heapgraph leaks`: classify a snapshot and print the leaks
 */
#ifndef HG_LEAKS_H
#define HG_LEAKS_H

#include <stddef.h>
#include <stdio.h>

#include "frames.h"
#include "graph.h"
#include "replay.h"
#include "report.h"

struct hg_json;

struct hg_leaks_opts {
	size_t top;        /* leak groups per process; 0 = all */
	size_t max_frames; /* frames per group in text output */
};

void hg_leaks_text(FILE *out, struct hg_framer *f, const struct hg_image *im,
		   const struct hg_graph *g, const struct hg_leaks_opts *o);
void hg_leaks_json(struct hg_json *j, struct hg_framer *f, const struct hg_replay *r,
		   const struct hg_image *im, const struct hg_graph *g,
		   const struct hg_leaks_opts *o);
/* Graphviz: one cluster per leaked cycle (inside a digraph the caller opens and closes). */
void hg_leaks_dot(FILE *out, struct hg_framer *f, const struct hg_image *im,
		  const struct hg_graph *g);

#endif /* HG_LEAKS_H */
