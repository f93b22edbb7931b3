/*
 * debug_cache.c - separate debug files kept with their compressed sections inflated, by
 * build id
 *
 * A copy is the same ELF file with each SHF_COMPRESSED section replaced by its inflated bytes
 * (libelf's elf_compress(scn, 0, 0), what libdw itself would do on opening), every other
 * section, the program headers and the ELF header as they were, and libelf choosing the new
 * file offsets. libdw reads only sections and the program headers' addresses from a debug
 * file, so it answers from the copy exactly as from the original.
 *
 * A copy is written to a temporary name beside its entry and renamed into place, so a reader
 * sees a whole entry or none, and two reports making the same entry at once both succeed.
 * The original's build id is the key: a file found by build id (/usr/lib/debug/.build-id),
 * by .gnu_debuglink or as a dwz alternate file has one, and a file without is not cached.
 * Using an entry sets its modification time, which is what pruning orders by.
 */
#include "debug_cache.h"

#include <dirent.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STALE_TEMP_S 3600 /* a temporary copy this old was left by a report that died */

int hg_debug_cache_dir(char *buf, size_t size)
{
	const char *own = getenv("HEAPGRAPH_CACHE");
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (own && *own) {
		if (strcmp(own, "off") == 0 || strcmp(own, "0") == 0)
			return -1;
		n = snprintf(buf, size, "%s/debug", own);
	} else if (xdg && xdg[0] == '/') { /* the XDG spec: a relative value is to be ignored */
		n = snprintf(buf, size, "%s/heapgraph/debug", xdg);
	} else if (home && home[0] == '/') {
		n = snprintf(buf, size, "%s/.cache/heapgraph/debug", home);
	} else {
		return -1;
	}
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* mkdir -p, new directories private to the user. Returns 0 when dir exists afterwards. */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	size_t n = strlen(dir);

	if (n >= sizeof(path))
		return -1;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* Bytes the compressed sections of e inflate to; 0 when it has none. Sets *bad when a
 * section header cannot be read (the file is then left alone). */
static uint64_t inflated_bytes(Elf *e, bool *bad)
{
	uint64_t sum = 0;

	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
		GElf_Shdr sh;
		GElf_Chdr ch;

		if (!gelf_getshdr(scn, &sh)) {
			*bad = true;
			return 0;
		}
		if (!(sh.sh_flags & SHF_COMPRESSED))
			continue;
		if (!gelf_getchdr(scn, &ch)) {
			*bad = true;
			return 0;
		}
		sum += ch.ch_size;
	}
	return sum;
}

/*
 * Whether e names its dwz alternate file by a relative path: libdwfl looks for that beside
 * the debug file, which would then be the cache directory, when a search by the alternate's
 * build id fails. Such a file is read where it is.
 */
static bool altlink_relative(Elf *e)
{
	size_t shstrndx;

	if (elf_getshdrstrndx(e, &shstrndx) != 0)
		return true;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(e, shstrndx, sh.sh_name)))
			return true;
		if (strcmp(name, ".gnu_debugaltlink") != 0)
			continue;
		d = elf_getdata(scn, NULL);
		return !d || !d->d_size || ((const char *)d->d_buf)[0] != '/';
	}
	return false;
}

/* dir/HEX.debug for build id `id`. Returns 0, or -1 when it does not fit. */
static int entry_path(char *buf, size_t size, const char *dir, const uint8_t *id, size_t n)
{
	int len = snprintf(buf, size, "%s/", dir);

	if (len < 0 || (size_t)len + 2 * n + sizeof(".debug") > size)
		return -1;
	for (size_t i = 0; i < n; i++)
		len += snprintf(buf + len, size - (size_t)len, "%02x", id[i]);
	memcpy(buf + len, ".debug", sizeof(".debug"));
	return 0;
}

/* Whether fd holds a whole copy made here of the file with build id `id`. */
static bool entry_ok(int fd, const uint8_t *id, size_t n)
{
	struct stat st;
	const void *bits;
	bool ok = false;
	size_t n_sh;
	GElf_Ehdr eh;
	Elf *e;

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    !(e = elf_begin(fd, ELF_C_READ_MMAP, NULL)))
		return false;
	/* A section header table cut short reads as no sections at all: check it is whole. */
	if (elf_kind(e) != ELF_K_ELF || !gelf_getehdr(e, &eh) || elf_getshdrnum(e, &n_sh) != 0 ||
	    !n_sh || eh.e_shoff > (uint64_t)st.st_size ||
	    (uint64_t)n_sh * eh.e_shentsize > (uint64_t)st.st_size - eh.e_shoff ||
	    dwelf_elf_gnu_build_id(e, &bits) != (ssize_t)n || memcmp(bits, id, n) != 0)
		goto out;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_flags & SHF_COMPRESSED) ||
		    (sh.sh_type != SHT_NOBITS && (sh.sh_offset > (uint64_t)st.st_size ||
						  sh.sh_size > (uint64_t)st.st_size - sh.sh_offset)))
			goto out;
	}
	ok = true;
out:
	elf_end(e);
	return ok;
}

/* Copy section `from` of the source into the new section `to`, inflated. */
static int copy_section(Elf_Scn *from, Elf_Scn *to)
{
	GElf_Shdr sh;

	if (!gelf_getshdr(from, &sh))
		return -1;
	/* Inflating updates the source's header in memory: size, alignment, no SHF_COMPRESSED. */
	if ((sh.sh_flags & SHF_COMPRESSED) && (elf_compress(from, 0, 0) < 0 ||
					       !gelf_getshdr(from, &sh)))
		return -1;
	for (Elf_Data *d = NULL; (d = elf_getdata(from, d));) {
		Elf_Data *copy = elf_newdata(to);

		if (!copy)
			return -1;
		*copy = *d; /* the bytes stay the source's until elf_update() writes them */
	}
	return gelf_update_shdr(to, &sh) ? 0 : -1;
}

/* Write src, inflated, to the empty file out. */
static int write_inflated(Elf *src, int out)
{
	size_t n_ph, shstrndx;
	GElf_Ehdr eh;
	int rc = -1;
	Elf *dst;

	/* An index of SHN_LORESERVE or more lives in section 0, which libelf makes afresh. */
	if (!gelf_getehdr(src, &eh) || elf_getphdrnum(src, &n_ph) != 0 ||
	    elf_getshdrstrndx(src, &shstrndx) != 0 || shstrndx >= SHN_LORESERVE ||
	    !(dst = elf_begin(out, ELF_C_WRITE, NULL)))
		return -1;
	if (!gelf_newehdr(dst, gelf_getclass(src)) || (n_ph && !gelf_newphdr(dst, n_ph)))
		goto out;
	for (size_t i = 0; i < n_ph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(src, (int)i, &ph) || !gelf_update_phdr(dst, (int)i, &ph))
			goto out;
	}
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(src, scn));) {
		Elf_Scn *to = elf_newscn(dst);

		if (!to || copy_section(scn, to) != 0)
			goto out;
	}
	if (gelf_update_ehdr(dst, &eh) && elf_update(dst, ELF_C_WRITE) >= 0)
		rc = 0;
out:
	elf_end(dst);
	return rc;
}

/* Remove temporary copies older than STALE_TEMP_S, then the entries used least recently
 * while the entries together take more than HG_DEBUG_CACHE_MAX_BYTES; never `keep`. */
static void prune(const char *dir, const char *keep)
{
	struct entry {
		char name[NAME_MAX + 1];
		time_t used;
		uint64_t bytes;
	} *all = NULL;
	struct stat kept;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	int dfd;

	if (!d)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		struct stat st;
		size_t len = strlen(de->d_name);
		struct entry *grown;

		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (de->d_name[0] == '.') {
			if (time(NULL) - st.st_mtime > STALE_TEMP_S)
				unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (len < sizeof(".debug") || strcmp(de->d_name + len - 6, ".debug") != 0 ||
		    strcmp(de->d_name, keep) == 0)
			continue;
		total += (uint64_t)st.st_size;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if (!(grown = realloc(all, cap * sizeof(*all))))
				break;
			all = grown;
		}
		memcpy(all[n].name, de->d_name, len + 1);
		all[n].used = st.st_mtime;
		all[n++].bytes = (uint64_t)st.st_size;
	}
	if (fstatat(dfd, keep, &kept, 0) == 0)
		total += (uint64_t)kept.st_size;
	while (total > HG_DEBUG_CACHE_MAX_BYTES && n) {
		size_t oldest = 0;

		for (size_t i = 1; i < n; i++)
			if (all[i].used < all[oldest].used)
				oldest = i;
		unlinkat(dfd, all[oldest].name, 0);
		total -= all[oldest].bytes;
		all[oldest] = all[--n];
	}
	free(all);
	closedir(d);
}

/* Write the inflated copy of src as `path` (in dir). Returns an open descriptor of it, or -1. */
static int make_entry(const char *dir, const char *path, Elf *src)
{
	const char *name = strrchr(path, '/') + 1;
	char tmp[PATH_MAX];
	int out, fd = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= sizeof(tmp) ||
	    (out = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -1;
	if (write_inflated(src, out) == 0 && rename(tmp, path) == 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	else
		unlink(tmp);
	close(out);
	if (fd >= 0)
		prune(dir, name);
	return fd;
}

int hg_debug_cache_open(const uint8_t *id, size_t n, char **name)
{
	char dir[PATH_MAX], path[PATH_MAX], *copy_name;
	int fd;

	if (!n || hg_debug_cache_dir(dir, sizeof(dir)) != 0 ||
	    entry_path(path, sizeof(path), dir, id, n) != 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	elf_version(EV_CURRENT);
	if (!entry_ok(fd, id, n) || !(copy_name = strdup(path))) {
		close(fd);
		return -1;
	}
	futimens(fd, NULL); /* used now: pruning removes it last */
	free(*name);
	*name = copy_name;
	return fd;
}

int hg_debug_cache_add_min(int fd, uint64_t min_bytes)
{
	char dir[PATH_MAX], path[PATH_MAX];
	uint8_t id[HG_DEBUG_CACHE_MAX_ID];
	const void *bits;
	bool bad = false;
	uint64_t bytes;
	int rc = 0, copy;
	ssize_t n;
	Elf *e;

	if (fd < 0 || hg_debug_cache_dir(dir, sizeof(dir)) != 0)
		return -1;
	elf_version(EV_CURRENT);
	if (!(e = elf_begin(fd, ELF_C_READ_MMAP, NULL)))
		return 0; /* not a file libelf reads: libdw will not read it either */
	n = dwelf_elf_gnu_build_id(e, &bits);
	if (elf_kind(e) != ELF_K_ELF || n <= 0 || (size_t)n > sizeof(id))
		goto out;
	memcpy(id, bits, (size_t)n); /* bits points into e, which inflating changes */
	bytes = inflated_bytes(e, &bad);
	if (bad || !bytes || bytes < min_bytes || altlink_relative(e))
		goto out;
	if (entry_path(path, sizeof(path), dir, id, (size_t)n) != 0 || make_dirs(dir) != 0) {
		rc = -1;
		goto out;
	}
	copy = open(path, O_RDONLY | O_CLOEXEC);
	if (copy >= 0 && entry_ok(copy, id, (size_t)n)) {
		close(copy); /* made meanwhile by another report */
		goto out;
	}
	if (copy >= 0)
		close(copy);
	copy = make_entry(dir, path, e);
	rc = copy >= 0 && entry_ok(copy, id, (size_t)n) ? 1 : -1;
	if (copy >= 0)
		close(copy);
	if (rc < 0)
		unlink(path);
out:
	elf_end(e);
	return rc;
}

int hg_debug_cache_add(int fd)
{
	return hg_debug_cache_add_min(fd, HG_DEBUG_CACHE_MIN_BYTES);
}
