/*
 * baseline.c - leak sites known today: the baseline file, read, written and looked up
 *
 * A baseline holds at most a few thousand sites; lookups are linear, which keeps the file's
 * order irrelevant to correctness and the code short.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "baseline.h"
#include "diag.h"

#define HEADER "# heapgraph baseline 1"

void hg_baseline_init(struct hg_baseline *b)
{
	memset(b, 0, sizeof(*b));
}

void hg_baseline_release(struct hg_baseline *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].program);
		free(b->v[i].kind);
		free(b->v[i].stack);
	}
	free(b->v);
	hg_baseline_init(b);
}

/* Append s (or "?" when NULL or empty) to buf at *len, tabs and newlines as spaces. */
static void put_name(char **buf, size_t *cap, size_t *len, const char *s, char sep)
{
	size_t n;

	if (!s || !*s)
		s = "?";
	n = strlen(s);
	HG_GROW(*buf, *cap, *len + n + 2);
	for (size_t i = 0; i < n; i++)
		(*buf)[(*len)++] = s[i] == '\t' || s[i] == '\n' ? ' ' : s[i];
	(*buf)[(*len)++] = sep;
	(*buf)[*len] = '\0';
}

char *hg_baseline_stack_key(const struct hg_frame *frames, size_t n)
{
	char *buf = NULL;
	size_t cap = 0, len = 0;

	HG_GROW(buf, cap, 1);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		put_name(&buf, &cap, &len, frames[i].function, '\t');
		put_name(&buf, &cap, &len, frames[i].file ? hg_basename(frames[i].file) : NULL, '\t');
		put_name(&buf, &cap, &len, frames[i].module ? hg_basename(frames[i].module) : NULL,
			 '\n');
	}
	return buf;
}

static struct hg_baseline_site *find(const struct hg_baseline *b, const char *program,
				     const char *kind, const char *stack)
{
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->v[i].stack, stack) && !strcmp(b->v[i].kind, kind) &&
		    !strcmp(b->v[i].program, program))
			return &b->v[i];
	return NULL;
}

const struct hg_baseline_site *hg_baseline_find(const struct hg_baseline *b, const char *program,
						const char *kind, const char *stack)
{
	return find(b, program, kind, stack);
}

void hg_baseline_add(struct hg_baseline *b, const char *program, const char *kind,
		     const char *stack, uint64_t bytes, uint64_t blocks)
{
	struct hg_baseline_site *s = find(b, program, kind, stack);

	if (!s) {
		HG_GROW(b->v, b->cap, b->n + 1);
		s = &b->v[b->n++];
		s->program = hg_xstrdup(program);
		s->kind = hg_xstrdup(kind);
		s->stack = hg_xstrdup(stack);
		s->bytes = s->blocks = 0;
	}
	if (bytes > s->bytes)
		s->bytes = bytes;
	if (blocks > s->blocks)
		s->blocks = blocks;
}

static int by_key(const void *a, const void *b)
{
	const struct hg_baseline_site *x = a, *y = b;
	int c = strcmp(x->program, y->program);

	if (!c)
		c = strcmp(x->kind, y->kind);
	return c ? c : strcmp(x->stack, y->stack);
}

int hg_baseline_write(struct hg_baseline *b, FILE *out)
{
	if (b->n)
		qsort(b->v, b->n, sizeof(*b->v), by_key);
	fprintf(out, HEADER "\n# site KIND BYTES BLOCKS PROGRAM, then one line per frame: "
		"<tab>FUNCTION<tab>FILE<tab>MODULE\n");
	for (size_t i = 0; i < b->n; i++) {
		const char *p = b->v[i].stack;
		fprintf(out, "site %s %" PRIu64 " %" PRIu64 " %s\n", b->v[i].kind, b->v[i].bytes,
			b->v[i].blocks, b->v[i].program);
		while (*p) {
			const char *nl = strchr(p, '\n');
			size_t len = nl ? (size_t)(nl - p) : strlen(p);
			fprintf(out, "\t%.*s\n", (int)len, p);
			p += len + (nl != NULL);
		}
	}
	return ferror(out) ? -1 : 0;
}

int hg_baseline_save(struct hg_baseline *b, const char *path)
{
	FILE *out = fopen(path, "w");
	int rc;

	if (!out)
		return hg_error("cannot create baseline '%s': %s", path, strerror(errno));
	rc = hg_baseline_write(b, out);
	if (fclose(out) != 0 || rc < 0)
		return hg_error("cannot write baseline '%s': %s", path, strerror(errno));
	return 0;
}

static const char *const kinds[] = { "direct", "indirect", "cycle", "reachable", "possibly" };

/* "site KIND BYTES BLOCKS PROGRAM": opens a new site in b. Returns 0 or -1 (not reported). */
static int parse_site(struct hg_baseline *b, char *line)
{
	char kind[16], *end;
	unsigned long long bytes, blocks;
	int n = 0;
	size_t k = 0;

	if (sscanf(line, "site %15s %llu %llu %n", kind, &bytes, &blocks, &n) != 3 || !n ||
	    !line[n])
		return -1;
	while (k < HG_ARRAY_SIZE(kinds) && strcmp(kinds[k], kind))
		k++;
	end = line + n;
	if (k == HG_ARRAY_SIZE(kinds) || strchr(end, '\t'))
		return -1;
	HG_GROW(b->v, b->cap, b->n + 1);
	b->v[b->n++] = (struct hg_baseline_site){ hg_xstrdup(end), hg_xstrdup(kind),
						  hg_xstrdup(""), bytes, blocks };
	return 0;
}

/* "<tab>FUNCTION<tab>FILE<tab>MODULE": a frame of the last site. Returns 0 or -1. */
static int parse_frame(struct hg_baseline *b, const char *line)
{
	struct hg_baseline_site *s = b->n ? &b->v[b->n - 1] : NULL;
	const char *t1 = strchr(line + 1, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
	size_t old, len = strlen(line + 1);

	if (!s || !t1 || !t2 || strchr(t2 + 1, '\t') || t1 == line + 1 || t2 == t1 + 1 || !t2[1])
		return -1;
	old = strlen(s->stack);
	s->stack = hg_xrealloc(s->stack, old + len + 2);
	memcpy(s->stack + old, line + 1, len);
	s->stack[old + len] = '\n';
	s->stack[old + len + 1] = '\0';
	return 0;
}

int hg_baseline_read(struct hg_baseline *b, FILE *in, const char *path)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned no = 0;
	int rc = 0;

	while (rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
		no++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (no == 1 && strcmp(line, HEADER))
			rc = hg_error("baseline '%s' line 1: not a heapgraph baseline (expected '%s')",
				      path, HEADER);
		else if (no == 1 || !*line || *line == '#')
			continue;
		else if (strlen(line) != (size_t)len)
			rc = hg_error("baseline '%s' line %u: contains a NUL byte", path, no);
		else if ((*line == '\t' ? parse_frame(b, line) : parse_site(b, line)) < 0)
			rc = hg_error("baseline '%s' line %u: expected 'site KIND BYTES BLOCKS "
				      "PROGRAM' or '<tab>FUNCTION<tab>FILE<tab>MODULE', got '%s'",
				      path, no, line);
	}
	if (rc == 0 && no == 0)
		rc = hg_error("baseline '%s' is empty (expected '%s' on line 1)", path, HEADER);
	if (rc == 0 && ferror(in))
		rc = hg_error("cannot read baseline '%s': %s", path, strerror(errno));
	free(line);
	return rc;
}

int hg_baseline_load(struct hg_baseline *b, const char *path)
{
	FILE *in = fopen(path, "r");
	int rc;

	if (!in)
		return hg_error("cannot open baseline '%s': %s", path, strerror(errno));
	rc = hg_baseline_read(b, in, path);
	fclose(in);
	return rc;
}
