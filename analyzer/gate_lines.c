/*
 * gate_lines.c - the source lines a leak site's frames pass through, kept apart and named
 *
 * A `check` site is keyed by functions, files and modules, never lines (baseline.h), so one
 * site may hold blocks allocated at several lines of a function, or reached from several lines
 * of a caller. Naming one of them would send the reader to fix that line and leave the others
 * failing the gate; so each frame keeps the set of its lines, with the bytes and blocks through
 * each, and every output names them all (or the first few and how many more). Lines are sorted
 * by file, then number, so that the text does not depend on the order the snapshot listed the
 * blocks in.
 */
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "diag.h"

/* Order of (file, line): by full path, then line. */
static int line_cmp(const char *file_a, uint32_t line_a, const struct hg_check_line *b)
{
	int c = strcmp(file_a, b->file);

	if (c)
		return c;
	return line_a < b->line ? -1 : line_a > b->line;
}

void hg_check_lines_add(struct hg_check_lines *l, const char *file, uint32_t line,
			uint64_t bytes, uint64_t blocks)
{
	size_t i = 0;
	int c = 1;

	if (!file || !line)
		return;
	while (i < l->n && (c = line_cmp(file, line, &l->v[i])) > 0)
		i++;
	if (i < l->n && c == 0) {
		l->v[i].bytes += bytes;
		l->v[i].blocks += blocks;
		return;
	}
	HG_GROW(l->v, l->cap, l->n + 1);
	memmove(&l->v[i + 1], &l->v[i], sizeof(*l->v) * (l->n - i));
	l->v[i] = (struct hg_check_line){ file, line, bytes, blocks };
	l->n++;
}

void hg_check_lines_release(struct hg_check_lines *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

const char *hg_check_lines_text(const struct hg_check_lines *l, size_t max, char *buf,
				size_t cap)
{
	size_t len = 0;
	int n;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n && i < max && len < cap; i++) {
		n = snprintf(buf + len, cap - len, "%s%s:%u", i ? ", " : "",
			     hg_basename(l->v[i].file), l->v[i].line);
		len += n < 0 ? cap : (size_t)n;
	}
	if (l->n > max && len < cap)
		snprintf(buf + len, cap - len, " and %zu more", l->n - max);
	return buf;
}
