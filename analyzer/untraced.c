/*
 * untraced.c - why a program record started left no trace: the file execvp would run is a
 * statically linked executable, which never runs the dynamic loader that LD_PRELOAD asks to
 * load the shim
 */
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

/* Scripts whose interpreter is a script, and so on: the kernel stops at 4 levels too. */
#define MAX_INTERPRETERS 4

/* The file execvp would run for name, in out; 0, or -1 when there is none. */
static int resolve(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH"), *dir, *end;

	if (strchr(name, '/'))
		return (size_t)snprintf(out, cap, "%s", name) < cap ? 0 : -1;
	for (dir = path && *path ? path : "/bin:/usr/bin"; dir; dir = *end ? end + 1 : NULL) {
		int n;

		end = strchrnul(dir, ':');
		n = snprintf(out, cap, "%.*s%s%s", (int)(end - dir), dir, end > dir ? "/" : "",
			     name);
		if (n > 0 && (size_t)n < cap && access(out, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* For a "#!" script, its interpreter's path in out: 1; 0 for anything else. */
static int interpreter(int fd, char *out, size_t cap)
{
	char line[PATH_MAX + 3];
	ssize_t n = pread(fd, line, sizeof(line) - 1, 0);
	char *p, *q;

	if (n < 3 || line[0] != '#' || line[1] != '!')
		return 0;
	line[n] = '\0';
	for (p = line + 2; *p == ' ' || *p == '\t'; p++)
		;
	q = p + strcspn(p, " \t\n");
	if (q == p || (size_t)(q - p) >= cap)
		return 0;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return 1;
}

/* 1 when the open file is an ELF executable without a PT_INTERP (the loader never runs). */
static int static_elf(int fd)
{
	Elf *elf;
	GElf_Ehdr eh;
	GElf_Phdr ph;
	size_t n = 0;
	int interp = 0, ok;

	if (elf_version(EV_CURRENT) == EV_NONE || !(elf = elf_begin(fd, ELF_C_READ, NULL)))
		return 0;
	ok = elf_kind(elf) == ELF_K_ELF && gelf_getehdr(elf, &eh) &&
	     (eh.e_type == ET_EXEC || eh.e_type == ET_DYN) && elf_getphdrnum(elf, &n) == 0;
	for (size_t i = 0; ok && i < n; i++)
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_INTERP)
			interp = 1;
	elf_end(elf);
	return ok && !interp;
}

int hg_untraced_static(const char *prog, char *file, size_t cap)
{
	char next[PATH_MAX];
	int fd, hops = 0, found = 0;

	if (resolve(prog, file, cap) < 0)
		return 0;
	while ((fd = open(file, O_RDONLY | O_CLOEXEC)) >= 0) {
		int script = interpreter(fd, next, sizeof(next));
		if (!script)
			found = static_elf(fd);
		close(fd);
		if (!script || ++hops > MAX_INTERPRETERS ||
		    (size_t)snprintf(file, cap, "%s", next) >= cap)
			break;
	}
	return found;
}
