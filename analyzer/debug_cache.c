/*
 * debug_cache.c - separate debug files kept with their compressed sections inflated, by
 * build id
 *
 * An entry is HEX.debug, HEX the original's GNU build id, holding the original as
 * elf_inflate.c copies it. It is written to a temporary name beside it (.HEX.debug.XXXXXX),
 * synced, and renamed into place, so a reader sees a whole entry or none, and two reports
 * making the same entry at once both succeed. A file found by build id
 * (/usr/lib/debug/.build-id), by .gnu_debuglink or as a dwz alternate file has a build id; a
 * file without is not cached. Using an entry sets its modification time, which is what
 * pruning orders by.
 *
 * The cache must never cost a report more than it saves, nor touch what is not its own:
 *   - an entry is made only for a file that inflates to min_bytes or more, and whose copy
 *     would take at most HG_DEBUG_CACHE_MAX_ENTRY_BYTES, fit the free space of the file
 *     system and the process's file size limit (RLIMIT_FSIZE: past it, write() raises
 *     SIGXFSZ, which kills the report);
 *   - a copy that could not be made leaves HEX.fail, and is not tried again for
 *     FAIL_RETRY_S, so that a full disk or a file libelf cannot write is not inflated in
 *     vain by every report;
 *   - the directory is used only when it is the user's own and no one else may write to it:
 *     an entry is believed on its build id;
 *   - entries are opened without following a symbolic link or waiting on a FIFO;
 *   - pruning removes only names of those three forms.
 */
#include "debug_cache.h"

#include <ctype.h>
#include <dirent.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "elf_inflate.h"

#define STALE_TEMP_S 3600    /* a temporary copy this old was left by a report that died */
#define FAIL_RETRY_S 86400   /* a copy that failed is tried again after this long */
#define FREE_SPACE_KEEP (64ull << 20) /* never fill a file system closer than this */
#define ENTRY_OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)

int hg_debug_cache_dir(char *buf, size_t size)
{
	static const char *const off[] = { "off", "0", "no", "false" };
	const char *own = getenv("HEAPGRAPH_CACHE");
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (own && *own) {
		for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
			if (strcasecmp(own, off[i]) == 0)
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

/* Whether dir is a directory of this user that no one else may write to. */
static bool dir_trusted(const char *dir)
{
	struct stat st;

	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
	       !(st.st_mode & (S_IWGRP | S_IWOTH));
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

void hg_build_id_hex(char *out, const uint8_t *id, size_t n)
{
	static const char digit[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digit[id[i] >> 4];
		out[2 * i + 1] = digit[id[i] & 15];
	}
	out[2 * n] = '\0';
}

/* dir/HEX`suffix` for build id `id`. Returns 0, or -1 when it does not fit. */
static int entry_path(char *buf, size_t size, const char *dir, const uint8_t *id, size_t n,
		      const char *suffix)
{
	char hex[2 * HG_DEBUG_CACHE_MAX_ID + 1];
	int len;

	if (n > HG_DEBUG_CACHE_MAX_ID)
		return -1;
	hg_build_id_hex(hex, id, n);
	len = snprintf(buf, size, "%s/%s%s", dir, hex, suffix);
	return len > 0 && (size_t)len < size ? 0 : -1;
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

/* A descriptor of the entry at path if it checks out (entry_ok), else -1. */
static int entry_open(const char *path, const uint8_t *id, size_t n)
{
	int fd = open(path, ENTRY_OPEN_FLAGS);

	if (fd >= 0 && !entry_ok(fd, id, n)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Whether s is `prefix` HEX `suffix`, HEX two or more lowercase hexadecimal digits. */
static bool named_like(const char *s, const char *prefix, const char *suffix)
{
	size_t np = strlen(prefix), ns = strlen(suffix), n = strlen(s), digits = 0;

	if (n < np + 2 + ns || strncmp(s, prefix, np) != 0)
		return false;
	for (s += np; isxdigit((unsigned char)*s) && !isupper((unsigned char)*s); s++)
		digits++;
	return digits >= 2 && strncmp(s, suffix, ns) == 0 &&
	       (suffix[ns - 1] == '.' ? strlen(s) == ns + 6 : s[ns] == '\0');
}

struct entry {
	char name[NAME_MAX + 1];
	time_t used;
	uint64_t bytes;
};

/* The entries of d (HEX.debug) but `keep`, into *all; removes the leftovers of dead reports
 * and failure marks that are out of date. Returns how many, *total their bytes. */
static size_t list_entries(DIR *d, const char *keep, struct entry **all, uint64_t *total)
{
	size_t n = 0, cap = 0;
	int dfd = dirfd(d);
	time_t now = time(NULL);
	struct dirent *de;

	while ((de = readdir(d))) {
		struct stat st;
		struct entry *grown;

		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if ((named_like(de->d_name, ".", ".debug.") && now - st.st_mtime > STALE_TEMP_S) ||
		    (named_like(de->d_name, "", ".fail") && now - st.st_mtime > FAIL_RETRY_S)) {
			unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (!named_like(de->d_name, "", ".debug"))
			continue;
		*total += (uint64_t)st.st_size;
		if (strcmp(de->d_name, keep) == 0)
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			if (!(grown = realloc(*all, cap * sizeof(**all))))
				break;
			*all = grown;
		}
		snprintf((*all)[n].name, sizeof((*all)[n].name), "%s", de->d_name);
		(*all)[n].used = st.st_mtime;
		(*all)[n++].bytes = (uint64_t)st.st_size;
	}
	return n;
}

/* Remove the entries used least recently while they take more than
 * HG_DEBUG_CACHE_MAX_BYTES together; never `keep`, the one just made. */
static void prune(const char *dir, const char *keep)
{
	struct entry *all = NULL;
	uint64_t total = 0;
	DIR *d = opendir(dir);
	size_t n;

	if (!d)
		return;
	n = list_entries(d, keep, &all, &total);
	while (total > HG_DEBUG_CACHE_MAX_BYTES && n) {
		size_t oldest = 0;

		for (size_t i = 1; i < n; i++)
			if (all[i].used < all[oldest].used)
				oldest = i;
		unlinkat(dirfd(d), all[oldest].name, 0);
		total -= all[oldest].bytes;
		all[oldest] = all[--n];
	}
	free(all);
	closedir(d);
}

/* Whether a copy of `bytes` may be written in dir: its file system keeps FREE_SPACE_KEEP
 * free after it, and the process may write a file that large. */
static bool room_for(const char *dir, uint64_t bytes)
{
	struct statvfs fs;
	struct rlimit lim;

	if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
	    bytes > (uint64_t)lim.rlim_cur)
		return false;
	return statvfs(dir, &fs) != 0 ||
	       (uint64_t)fs.f_bavail * fs.f_frsize >= bytes + FREE_SPACE_KEEP;
}

/* Whether the copy failed less than FAIL_RETRY_S ago (its mark is `fail`). */
static bool failed_lately(const char *fail)
{
	struct stat st;

	return lstat(fail, &st) == 0 && time(NULL) - st.st_mtime <= FAIL_RETRY_S;
}

/* Write the inflated copy of src as `path` (in dir). Returns 0, or -1 with `fail` marked. */
static int make_entry(const char *dir, const char *path, const char *fail, Elf *src)
{
	const char *name = strrchr(path, '/') + 1;
	char tmp[PATH_MAX];
	int out, rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= sizeof(tmp) ||
	    (out = mkostemp(tmp, O_CLOEXEC)) < 0)
		return -1; /* the directory cannot be written: nothing to mark either */
	/* Synced before the rename: after a crash, an entry is whole or absent. */
	if (hg_elf_write_inflated(src, out) == 0 && fsync(out) == 0 && rename(tmp, path) == 0)
		rc = 0;
	else
		unlink(tmp);
	close(out);
	if (rc == 0) {
		unlink(fail);
		prune(dir, name);
	} else {
		close(open(fail, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
	}
	return rc;
}

int hg_debug_cache_open(const uint8_t *id, size_t n, char **name)
{
	char dir[PATH_MAX], path[PATH_MAX], *copy_name;
	int fd;

	if (!n || hg_debug_cache_dir(dir, sizeof(dir)) != 0 ||
	    entry_path(path, sizeof(path), dir, id, n, ".debug") != 0 || !dir_trusted(dir))
		return -1;
	elf_version(EV_CURRENT);
	if ((fd = entry_open(path, id, n)) < 0)
		return -1;
	if (!(copy_name = strdup(path))) {
		close(fd);
		return -1;
	}
	futimens(fd, NULL); /* used now: pruning removes it last */
	free(*name);
	*name = copy_name;
	return fd;
}

/* Whether src, file_bytes long, deserves an entry; *copy_bytes, what the copy may take. */
static bool worth_a_copy(Elf *src, uint64_t file_bytes, uint64_t min_bytes,
			 uint64_t *copy_bytes)
{
	struct hg_elf_inflate_plan plan;

	if (hg_elf_inflate_plan(src, file_bytes, &plan) != 0 || !plan.inflated_bytes ||
	    plan.inflated_bytes < min_bytes || plan.copy_bytes > HG_DEBUG_CACHE_MAX_ENTRY_BYTES)
		return false;
	*copy_bytes = plan.copy_bytes;
	return !altlink_relative(src);
}

int hg_debug_cache_add_min(int fd, uint64_t min_bytes)
{
	char dir[PATH_MAX], path[PATH_MAX], fail[PATH_MAX];
	uint8_t id[HG_DEBUG_CACHE_MAX_ID];
	const void *bits;
	struct stat st;
	uint64_t bytes;
	int rc = 0, copy;
	ssize_t n;
	Elf *e;

	if (fd < 0 || hg_debug_cache_dir(dir, sizeof(dir)) != 0)
		return -1;
	elf_version(EV_CURRENT);
	if (fstat(fd, &st) != 0 || !(e = elf_begin(fd, ELF_C_READ_MMAP, NULL)))
		return 0; /* not a file libelf reads: libdw will not read it either */
	n = dwelf_elf_gnu_build_id(e, &bits);
	if (elf_kind(e) != ELF_K_ELF || n <= 0 || (size_t)n > sizeof(id))
		goto out;
	memcpy(id, bits, (size_t)n); /* bits points into e, which inflating changes */
	if (entry_path(path, sizeof(path), dir, id, (size_t)n, ".debug") != 0 ||
	    entry_path(fail, sizeof(fail), dir, id, (size_t)n, ".fail") != 0) {
		rc = -1;
		goto out;
	}
	if (!worth_a_copy(e, (uint64_t)st.st_size, min_bytes, &bytes))
		goto out;
	if (make_dirs(dir) != 0 || !dir_trusted(dir) || failed_lately(fail) ||
	    !room_for(dir, bytes)) {
		rc = -1;
		goto out;
	}
	if ((copy = entry_open(path, id, (size_t)n)) >= 0) {
		close(copy); /* made meanwhile by another report */
		goto out;
	}
	rc = make_entry(dir, path, fail, e) == 0 ? 1 : -1;
out:
	elf_end(e);
	return rc;
}

int hg_debug_cache_add(int fd)
{
	return hg_debug_cache_add_min(fd, HG_DEBUG_CACHE_MIN_BYTES);
}
