/*
 * point.h - a moment of a process image's life, and what was live at it per stack id
 *
 * Statistics and diffs look at one moment: the end of the trace, the exact peak, a time after
 * the image started, or a heap snapshot. Each reduces to "live bytes and blocks per stack id"
 * (an array of struct hg_site indexed by stack id, live fields only).
 */
#ifndef HG_POINT_H
#define HG_POINT_H

#include <stdint.h>

#include "replay.h"

enum hg_point_kind {
	HG_POINT_END = 0,
	HG_POINT_PEAK = 1,
	HG_POINT_TIME = 2,     /* t_ns after the image started */
	HG_POINT_SNAPSHOT = 3  /* the latest snapshot labelled `label`, or id `id` */
};

struct hg_point_spec {
	int kind;              /* enum hg_point_kind */
	uint64_t t_ns;         /* HG_POINT_TIME */
	const char *label;     /* HG_POINT_SNAPSHOT by label (borrowed), or NULL */
	uint32_t id;           /* HG_POINT_SNAPSHOT by id ("#3"), when label is NULL */
};

/*
 * Parse `text` given to option `option` of subcommand cmd. With `times`: "end", "peak" or a
 * duration ("1.5s", duration.h). Without: "end", "peak", "#ID" or a snapshot label. Returns
 * 0, or the usage exit code after a one-line error.
 */
int hg_point_parse(const char *cmd, const char *option, const char *text, int times,
		   struct hg_point_spec *out);

/* A snapshot point with this label. */
struct hg_point_spec hg_point_snapshot(const char *label);

/* The replay flags (HG_REPLAY_*) the spec needs; replay with hg_point_replay. */
unsigned hg_point_flags(const struct hg_point_spec *p);

/* Replay path so that every point in p[0..n) can be read. NULL when unreadable (printed). */
struct hg_replay *hg_point_replay(const char *path, const struct hg_point_spec *p, size_t n);

/* Whether snapshot sn is the one p (HG_POINT_SNAPSHOT) names: by label, or by #id. */
int hg_point_names(const struct hg_point_spec *p, const struct hg_snapshot *sn);

/* The snapshot of im the spec names (the latest with that label), or NULL. */
const struct hg_snapshot *hg_point_find_snapshot(const struct hg_image *im,
						 const struct hg_point_spec *p);

/* 1 when some image of r has the snapshot the spec names (always 1 for other kinds). */
int hg_point_exists(const struct hg_replay *r, const struct hg_point_spec *p);

/* What im had live at the point: *sites, n entries by stack id, im's own. Returns 0, or -1
 * when im has no such snapshot. */
int hg_point_sites(const struct hg_image *im, const struct hg_point_spec *p,
		   const struct hg_site **sites, uint32_t *n);

/* "the end", "the peak", "1.500 s", "snapshot 'after'" for text headers. Returns buf. */
char *hg_point_text(const struct hg_point_spec *p, char *buf, size_t cap);

/* "end", "peak", "time", "snapshot". */
const char *hg_point_kind_name(int kind);

#endif /* HG_POINT_H */
