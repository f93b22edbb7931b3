/*
 * suppress.c - leak suppressions: parse `leak:PATTERN` files, match patterns against frames
 *
 * Matching is a glob with `*` only, searched anywhere in the text unless anchored by `^`/`$`:
 * backtracking is bounded by the pattern's stars, and patterns and names are short.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "suppress.h"

/*
 * One-time allocations of the C runtime and loader that no program can free: they are made
 * for the program (by the loader at start-up, or by glibc on first use of a facility) and kept
 * in glibc's private state until the process ends, with no function to release them. They are
 * reachable, so they matter only to `--fail-on reachable`, which would otherwise fail every
 * program. Everything the program can free itself (its FILE buffers after fclose, iconv_open's
 * descriptors, getaddrinfo's results) is not here.
 */
static const char *const builtin[] = {
	/* ld.so: link maps, search paths, scope and TLS slot tables of every loaded library. */
	"^_dl_",
	/* ld.so's calloc/malloc wrappers used for the same tables while relocating. */
	"^__rtld_",
	/* glibc's stdio buffers of stdin/stdout/stderr: allocated on first use, never freed
	   (exit flushes them but keeps the memory). */
	"^_IO_file_doallocate$",
	/* setlocale/newlocale: loaded locale data and the names of the global locale. */
	"^_nl_",
	/* NSS (getpwnam, getaddrinfo...): the module list and the nsswitch.conf database. */
	"^__nss_",
	"^nss_",
	/* libstdc++: the emergency pool for exceptions under memory pressure (one block). */
	"^__gnu_cxx::__freeres",
	"(anonymous namespace)::pool::pool",
};

void hg_suppressions_init(struct hg_suppressions *s)
{
	memset(s, 0, sizeof(*s));
}

void hg_suppressions_release(struct hg_suppressions *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].pattern);
		free(s->v[i].glob);
	}
	free(s->v);
	hg_suppressions_init(s);
}

static char *to_glob(const char *pattern);

static void add(struct hg_suppressions *s, const char *pattern, size_t len, const char *source,
		unsigned line)
{
	struct hg_suppression *x;

	HG_GROW(s->v, s->cap, s->n + 1);
	x = &s->v[s->n++];
	memset(x, 0, sizeof(*x));
	x->pattern = hg_xmalloc(len + 1);
	memcpy(x->pattern, pattern, len);
	x->pattern[len] = '\0';
	x->glob = to_glob(x->pattern);
	x->source = source;
	x->line = line;
}

void hg_suppressions_add_builtin(struct hg_suppressions *s)
{
	for (size_t i = 0; i < HG_ARRAY_SIZE(builtin); i++) {
		add(s, builtin[i], strlen(builtin[i]), "built-in", 0);
		s->v[s->n - 1].top_only = 1;
	}
}

/* One line without its newline: 0 (added or nothing to add) or -1 (reported). */
static int parse_line(struct hg_suppressions *s, char *text, const char *path, unsigned no)
{
	char *end, *colon;

	while (*text == ' ' || *text == '\t')
		text++;
	end = text + strlen(text);
	while (end > text && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	if (!*text || *text == '#')
		return 0;
	colon = strchr(text, ':');
	if (!colon)
		return hg_error("suppressions '%s' line %u: expected 'leak:PATTERN', got '%s'", path,
				no, text);
	*colon = '\0';
	if (strcmp(text, "leak"))
		return hg_error("suppressions '%s' line %u: unsupported type '%s' (heapgraph reads "
				"only 'leak:PATTERN')", path, no, text);
	if (!colon[1])
		return hg_error("suppressions '%s' line %u: empty pattern after 'leak:'", path, no);
	add(s, colon + 1, strlen(colon + 1), path, no);
	return 0;
}

int hg_suppressions_read(struct hg_suppressions *s, FILE *in, const char *path)
{
	size_t first = s->n, cap = 0;
	char *line = NULL;
	unsigned no = 0;
	ssize_t len;
	int rc = 0;

	while (rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
		no++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (strlen(line) != (size_t)len)
			rc = hg_error("suppressions '%s' line %u: contains a NUL byte", path, no);
		else
			rc = parse_line(s, line, path, no);
	}
	if (rc == 0 && ferror(in))
		rc = hg_error("cannot read suppressions '%s': %s", path, strerror(errno));
	free(line);
	if (rc < 0) {
		while (s->n > first) {
			s->n--;
			free(s->v[s->n].pattern);
			free(s->v[s->n].glob);
		}
	}
	return rc;
}

int hg_suppressions_load(struct hg_suppressions *s, const char *path)
{
	FILE *in = fopen(path, "r");
	int rc;

	if (!in)
		return hg_error("cannot open suppressions '%s': %s", path, strerror(errno));
	rc = hg_suppressions_read(s, in, path);
	fclose(in);
	return rc;
}

/* Glob p (`*` only) against all of t. */
static int glob(const char *p, const char *t)
{
	for (; *p && *p != '*'; p++, t++)
		if (*p != *t)
			return 0;
	if (!*p)
		return !*t;
	while (*p == '*')
		p++;
	if (!*p)
		return 1;
	for (; *t; t++)
		if (glob(p, t))
			return 1;
	return 0;
}

/* The pattern as a whole-text glob: unanchored ends become stars ("foo" is "*foo*"). */
static char *to_glob(const char *pattern)
{
	size_t len = strlen(pattern);
	int head = *pattern == '^', tail = len > (size_t)head && pattern[len - 1] == '$';
	char *g = hg_xmalloc(len + 3), *w = g;

	if (!head)
		*w++ = '*';
	memcpy(w, pattern + head, len - head - tail);
	w += len - head - tail;
	if (!tail)
		*w++ = '*';
	*w = '\0';
	return g;
}

int hg_suppress_pattern_match(const char *pattern, const char *text)
{
	char *g;
	int m;

	if (!text)
		return 0;
	g = to_glob(pattern);
	m = glob(g, text);
	free(g);
	return m;
}

static int frame_matches(const char *g, const struct hg_frame *fr)
{
	return (fr->function && glob(g, fr->function)) || (fr->file && glob(g, fr->file)) ||
	       (fr->module && glob(g, fr->module));
}

struct hg_suppression *hg_suppressions_match(struct hg_suppressions *s,
					     const struct hg_frame *frames, size_t n)
{
	for (size_t k = 0; k < s->n; k++) {
		size_t upto = s->v[k].top_only && n > 1 ? 1 : n;
		for (size_t i = 0; i < upto; i++)
			if (frame_matches(s->v[k].glob, &frames[i]))
				return &s->v[k];
	}
	return NULL;
}
