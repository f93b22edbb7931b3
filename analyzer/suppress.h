/*
 * suppress.h - leak suppressions: `leak:PATTERN` lines matched against a leak's stack
 *
 * The syntax is LeakSanitizer's, so one file can serve both tools: one `leak:PATTERN` a line,
 * `#` comments and blank lines ignored. A pattern matches a frame when it occurs in the frame's
 * function, source file or module path; `*` stands for any run of characters, a leading `^`
 * anchors it at the start and a trailing `$` at the end. A leak is suppressed when any frame of
 * its allocation stack matches any pattern (built-ins look only at the frame that called the
 * allocator unless they name a glibc function that never calls back into the program, so that
 * the runtime calling user code cannot hide a leak); the first matching suppression (built-ins
 * first, then the files', in order) gets the count.
 */
#ifndef HG_SUPPRESS_H
#define HG_SUPPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "frames.h"

struct hg_suppression {
	char *pattern;       /* after "leak:", owned */
	char *glob;          /* the pattern as a whole-text glob, owned */
	int top_only;        /* built-ins: match only the allocating frame (frames[0]) */
	char *caller;        /* built-ins: NULL, or a glob frames[1] must match too; owned */
	const char *source;  /* the file it came from, or "built-in" (not owned) */
	unsigned line;       /* 1-based line in source; 0 for built-ins */
	uint64_t sites;      /* leak sites it suppressed (one per process and stack) */
	uint64_t blocks;     /* their blocks */
	uint64_t bytes;      /* their bytes */
};

struct hg_suppressions {
	struct hg_suppression *v;
	size_t n, cap;
};

void hg_suppressions_init(struct hg_suppressions *s);
void hg_suppressions_release(struct hg_suppressions *s);

/* Add the built-in suppressions (one-time allocations of the C runtime; see suppress.c). */
void hg_suppressions_add_builtin(struct hg_suppressions *s);

/*
 * Read suppressions from the open file `in`, named `path` in messages. Returns 0, or -1 after
 * one line "suppressions 'PATH' line N: ..." for the first bad line (nothing of it is kept).
 */
int hg_suppressions_read(struct hg_suppressions *s, FILE *in, const char *path);

/* hg_suppressions_read on the file at path; an unreadable file is one error line too. */
int hg_suppressions_load(struct hg_suppressions *s, const char *path);

/* The first suppression matching any of the n frames, or NULL. */
struct hg_suppression *hg_suppressions_match(struct hg_suppressions *s,
					     const struct hg_frame *frames, size_t n);

/* Whether pattern (the syntax above) matches text; a NULL text never matches. */
int hg_suppress_pattern_match(const char *pattern, const char *text);

#endif /* HG_SUPPRESS_H */
