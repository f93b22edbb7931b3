/*
 * table.c - aligned text tables that fit in 100 columns: numbers on the right, a name last
 */
#include <string.h>

#include "table.h"

/* Columns a UTF-8 string takes (every non-continuation byte is one column). */
static size_t columns(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void put_cut(FILE *out, const char *name, size_t room)
{
	size_t col = 0;
	const char *p = name;

	if (columns(name) <= room) {
		fputs(name, out);
		return;
	}
	if (room <= 3) {
		fputs("...", out);
		return;
	}
	for (; *p; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80 && col++ == room - 3)
			break;
		fputc(*p, out);
	}
	fputs("...", out);
}

void hg_table_row(FILE *out, const char *indent, const int *widths, size_t n,
		  const char *const *cells, const char *name)
{
	size_t used = columns(indent);

	fputs(indent, out);
	for (size_t i = 0; i < n; i++) {
		const char *c = cells[i] ? cells[i] : "";
		size_t w = columns(c), want = (size_t)widths[i];
		if (i)
			fputc(' ', out), used++;
		for (; w < want; w++, used++)
			fputc(' ', out);
		fputs(c, out);
		used += columns(c);
	}
	fputs("  ", out);
	used += 2;
	put_cut(out, name, used < HG_TABLE_WIDTH ? HG_TABLE_WIDTH - used : 0);
	fputc('\n', out);
}

char *hg_table_bar(char *buf, size_t cap, unsigned long long value, unsigned long long max,
		   size_t width)
{
	size_t n = max ? (size_t)((value * width + max - 1) / max) : 0;

	if (n >= cap)
		n = cap - 1;
	memset(buf, '#', n);
	buf[n] = '\0';
	return buf;
}
