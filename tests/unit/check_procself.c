/*
 * check_procself.c - unit tests for opening the process's /proc files (preload/procself.c)
 *
 * The case that matters is a process whose main thread has called pthread_exit: /proc/self
 * then names a zombie with no memory map, so the files are read from a child process in that
 * state (fx_after_main_exit).
 */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixtures.h"
#include "procself.h"

static int a_static_variable;

struct found {
	int maps_has_static; /* a line of maps spans &a_static_variable */
	int pagemap_opened;
};

/* Whether one maps line "lo-hi perms ..." spans addr. */
static int line_spans(const char *line, uintptr_t addr)
{
	uintptr_t lo, hi;

	return sscanf(line, "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) == 2 && lo <= addr && addr < hi;
}

static int maps_spans(int fd, uintptr_t addr)
{
	static char text[1 << 20];
	size_t len = 0;
	ssize_t n;

	while (len + 1 < sizeof(text) && (n = read(fd, text + len, sizeof(text) - 1 - len)) > 0)
		len += (size_t)n;
	text[len] = '\0';
	for (char *line = text; *line;) {
		char *nl = strchr(line, '\n');

		if (line_spans(line, addr))
			return 1;
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

static void open_after_main_exit(int out)
{
	struct found f = { 0, 0 };
	int fd = hg_procself_open("maps");

	if (fd >= 0) {
		f.maps_has_static = maps_spans(fd, (uintptr_t)&a_static_variable);
		close(fd);
	}
	fd = hg_procself_open("pagemap");
	f.pagemap_opened = fd >= 0;
	if (fd >= 0)
		close(fd);
	if (write(out, &f, sizeof(f)) != (ssize_t)sizeof(f))
		_exit(1);
}

/*
 * With the main thread gone, /proc/self/maps reads as empty and /proc/self/pagemap does not
 * open (ESRCH); through the calling thread both are whole.
 */
START_TEST(test_procself_open_after_main_exit)
{
	struct found f;

	ck_assert_uint_eq(fx_after_main_exit(open_after_main_exit, &f, sizeof(f)), sizeof(f));
	ck_assert_int_eq(f.maps_has_static, 1);
	ck_assert_int_eq(f.pagemap_opened, 1);
}
END_TEST

/* The ordinary case: the same file as /proc/self's. */
START_TEST(test_procself_open_reads_maps)
{
	int fd = hg_procself_open("maps");

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(maps_spans(fd, (uintptr_t)&a_static_variable), 1);
	close(fd);
}
END_TEST

Suite *procself_suite(void);

Suite *procself_suite(void)
{
	Suite *s = suite_create("procself");
	TCase *tc = tcase_create("open");

	tcase_add_test(tc, test_procself_open_reads_maps);
	tcase_add_test(tc, test_procself_open_after_main_exit);
	suite_add_tcase(s, tc);
	return s;
}
