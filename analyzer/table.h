/*
 * table.h - aligned text tables that fit in 100 columns: numbers on the right, a name last
 */
#ifndef HG_TABLE_H
#define HG_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define HG_TABLE_WIDTH 100

/*
 * One row: after `indent`, cells[i] right-aligned in widths[i] columns (a cell wider than its
 * column pushes the rest right), two spaces, then `name` left-aligned, cut with "..." so that
 * the line stays within HG_TABLE_WIDTH columns (names are ASCII or UTF-8; a cut never splits a
 * UTF-8 sequence). NULL cells are blank.
 */
void hg_table_row(FILE *out, const char *indent, const int *widths, size_t n,
		  const char *const *cells, const char *name);

/* A bar of '#' of at most width columns for value out of max, into buf. Returns buf. */
char *hg_table_bar(char *buf, size_t cap, unsigned long long value, unsigned long long max,
		   size_t width);

#endif /* HG_TABLE_H */
