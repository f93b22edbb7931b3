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
 * One-time allocations of the C runtime and loader that no program can free: made for the
 * program by the loader at start-up or by glibc on first use of a facility, then kept in
 * glibc's private state until the process ends, with no function to release them. Found by
 * running real programs (python3, bash, git, sqlite3, ls, id, date, C and C++ samples) under
 * `check --fail-on reachable --no-builtin-suppressions`. At the default --fail-on (direct,
 * indirect, cycle) none of those programs showed a runtime leak: these are reachable, and
 * matter to `--fail-on reachable`, which would otherwise fail every program.
 *
 * `top` entries look only at the frame that called malloc (frames[0]), `any` entries at every
 * frame; an `any` entry names a glibc function that never calls back into the program, so it
 * cannot hide an allocation the program made. `caller` (optional) must match frames[1] too.
 * Internal glibc names (static functions) are known only with glibc's debug symbols
 * (libc6-dbg); the exported ones match without them.
 */
struct builtin {
	const char *pattern;
	int any;            /* 1: any frame; 0: frames[0] only */
	const char *caller; /* NULL, or a pattern frames[1] must match as well */
};

static const struct builtin builtin[] = {
	/* The loader's own tables: link maps, search paths, scopes, TLS slots, its error strings
	   (malloc called by ld.so itself; user code never runs as frames[0] there). */
	{ "ld-linux-", 0, NULL },
	/* dlerror's result buffer, one per thread, reused by the next failing dl* call. */
	{ "^_dlerror_run$", 0, NULL },
	/* Locale files, alias tables and names loaded by setlocale/newlocale: cached for the
	   process's life (freelocale does not release them). */
	{ "^_nl_find_locale$", 1, NULL },
	{ "^setlocale$", 1, NULL },
	/* gettext: message catalogs found by textdomain/dgettext, the current domain's name,
	   bindtextdomain's bindings. */
	{ "^_nl_find_domain$", 1, NULL },
	{ "^set_binding_values$", 0, NULL },
	{ "textdomain$", 1, NULL },
	/* The multibyte conversion steps of the locale's character set (mbrtowc, printf %ls). */
	{ "^__wcsmbs_", 1, NULL },
	/* Time zone data and names read by tzset/localtime, kept for the next call. */
	{ "^tzset_internal$", 1, NULL },
	/* NSS (getpwnam, getaddrinfo...): the nsswitch.conf database and its loaded modules. */
	{ "nss_database.c$", 1, NULL },
	{ "^__nss_", 0, NULL },
	/* The static result buffers of getpwnam/getpwuid/getgrgid/getgrnam, reused per call. */
	{ "^getpw", 0, NULL },
	{ "^getgr", 0, NULL },
	/* The resolver's parsed resolv.conf and getaddrinfo's cache of interface addresses. */
	{ "^__res_vinit$", 1, NULL },
	{ "^__resolv_conf_get_current$", 1, NULL },
	{ "check_pf.c$", 1, NULL },
	/* stdio's buffer of a FILE, allocated on its first use: stdin/stdout/stderr are never
	   closed (a FILE the program leaks is still reported by its fopen). */
	{ "^_IO_file_doallocate$", 0, NULL },
	/* pthread_setspecific's second-level array for keys past the first 32: freed when the
	   thread exits, which the main thread never does before the snapshot. */
	{ "pthread_setspecific$", 0, NULL },
	/* setenv's copies of "NAME=value": glibc never frees them (getenv results may live on). */
	{ "^__add_to_environ$", 1, NULL },
	/* libstdc++: the emergency exception pool its constructor allocates at load time, and
	   the classic locale with its facets, built once. */
	{ "libstdc++.so", 0, "^call_init$" },
	{ "^std::locale::_S_initialize_once", 1, NULL },
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
		free(s->v[i].caller);
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
		const struct builtin *b = &builtin[i];
		add(s, b->pattern, strlen(b->pattern), "built-in", 0);
		s->v[s->n - 1].top_only = !b->any;
		s->v[s->n - 1].caller = b->caller ? to_glob(b->caller) : NULL;
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
			free(s->v[s->n].caller);
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
		const struct hg_suppression *x = &s->v[k];
		size_t upto = x->top_only && n > 1 ? 1 : n;
		if (x->caller && (n < 2 || !frame_matches(x->caller, &frames[1])))
			continue;
		for (size_t i = 0; i < upto; i++)
			if (frame_matches(x->glob, &frames[i]))
				return &s->v[k];
	}
	return NULL;
}
