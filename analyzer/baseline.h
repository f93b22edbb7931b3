/*
 * baseline.h - leak sites known today, so that `check --baseline` fails only on new or grown ones
 *
 * A site is keyed by the program (basename of the process's executable), the kind of leak and
 * the symbolized allocation stack: per frame the function, the source file's basename and the
 * module's basename; no addresses and no line numbers, so the key survives rebuilds, address-
 * space randomisation and edits elsewhere in a file. The file format (docs in README.md):
 *
 *   # heapgraph baseline 1
 *   site KIND BYTES BLOCKS PROGRAM
 *   <TAB>FUNCTION<TAB>FILE<TAB>MODULE      one line per frame, innermost first; "?" = unknown
 *
 * Sites are written sorted, so the file diffs well. When several processes of one program leak
 * from the same site, the baseline keeps the largest bytes and the largest block count.
 */
#ifndef HG_BASELINE_H
#define HG_BASELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "frames.h"

struct hg_baseline_site {
	char *program; /* owned */
	char *kind;    /* "direct", "indirect", "cycle", "reachable" or "possibly"; owned */
	char *stack;   /* hg_baseline_stack_key; owned */
	uint64_t bytes, blocks;
};

struct hg_baseline {
	struct hg_baseline_site *v;
	size_t n, cap;
};

void hg_baseline_init(struct hg_baseline *b);
void hg_baseline_release(struct hg_baseline *b);

/*
 * The key of n frames: "FUNCTION\tFILE\tMODULE\n" per frame (basenames; "?" for unknown, and
 * tabs or newlines inside a name become spaces). The caller frees it.
 */
char *hg_baseline_stack_key(const struct hg_frame *frames, size_t n);

/* Record a site, or raise an existing one's bytes and blocks to these if larger. */
void hg_baseline_add(struct hg_baseline *b, const char *program, const char *kind,
		     const char *stack, uint64_t bytes, uint64_t blocks);

/* The site with this key, or NULL. */
const struct hg_baseline_site *hg_baseline_find(const struct hg_baseline *b, const char *program,
						const char *kind, const char *stack);

/* Write b (sorted) to out. Returns 0, or -1 on a write error (not reported). */
int hg_baseline_write(struct hg_baseline *b, FILE *out);

/* hg_baseline_write to a new file at path. Returns 0, or -1 after one error line. */
int hg_baseline_save(struct hg_baseline *b, const char *path);

/*
 * Read the sites of a baseline file from `in`, named `path` in messages. Returns 0, or -1 after
 * one line "baseline 'PATH' line N: ..." for the first problem.
 */
int hg_baseline_read(struct hg_baseline *b, FILE *in, const char *path);

/* hg_baseline_read on the file at path; an unreadable file is one error line too. */
int hg_baseline_load(struct hg_baseline *b, const char *path);

#endif /* HG_BASELINE_H */
