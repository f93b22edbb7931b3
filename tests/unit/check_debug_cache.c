/*
 * check_debug_cache.c - unit tests for the cache of inflated debug files (analyzer/debug_cache.c)
 *
 * The debug file is a shared object compiled by the test with `gcc -g -gz=zlib`, whose DWARF
 * sections are SHF_COMPRESSED as a distribution's debug files are; a copy is checked section by
 * section against the original inflated by libelf. The size limit of the directory is checked
 * with sparse files, which are large without taking space.
 */
#include <check.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "debug_cache.h"
#include "fixtures.h"

static struct fx_scratch scratch;
static char cache_dir[FX_PATH_BYTES + 16]; /* scratch/c/debug: where entries go */

/* A C source with enough functions and types that its DWARF is some kilobytes. */
static void write_source(const char *path)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 200; i++)
		fprintf(f, "struct s%d { int a%d; long b%d; const char *c%d; };\n"
			   "long f%d(struct s%d *p) { return p->a%d + p->b%d; }\n",
			i, i, i, i, i, i, i, i);
	ck_assert_int_eq(fclose(f), 0);
}

/* Build scratch/name.so from the source, DWARF compressed when gz; returns its open fd. */
static int build_so(const char *name, int gz, char *path)
{
	char src[FX_PATH_BYTES], cmd[4 * FX_PATH_BYTES];
	int fd;

	fx_scratch_file(&scratch, "probe.c", src);
	write_source(src);
	fx_scratch_file(&scratch, name, path);
	snprintf(cmd, sizeof(cmd), "cc -O0 -g %s -fPIC -shared -Wl,--build-id -o '%s' '%s'",
		 gz ? "-gz=zlib" : "", path, src);
	ck_assert_int_eq(system(cmd), 0);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static size_t build_id_of(int fd, uint8_t *id)
{
	const void *bits;
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	ssize_t n;

	ck_assert_ptr_nonnull(e);
	n = dwelf_elf_gnu_build_id(e, &bits);
	ck_assert_int_gt(n, 0);
	ck_assert_int_le(n, HG_DEBUG_CACHE_MAX_ID);
	memcpy(id, bits, (size_t)n);
	elf_end(e);
	return (size_t)n;
}

static void entry_file(const uint8_t *id, size_t n, char *out, size_t size)
{
	int len = snprintf(out, size, "%s/", cache_dir);

	for (size_t i = 0; i < n; i++)
		len += snprintf(out + len, size - (size_t)len, "%02x", id[i]);
	snprintf(out + len, size - (size_t)len, ".debug");
}

/* Every section of copy is the original's, inflated; returns how many were compressed. */
static int assert_inflated_copy(const char *orig_path, int copy)
{
	int orig = open(orig_path, O_RDONLY), compressed = 0;
	Elf *a, *b;
	Elf_Scn *sa = NULL, *sb = NULL;
	size_t stra, strb;

	ck_assert_int_ge(orig, 0);
	a = elf_begin(orig, ELF_C_READ, NULL);
	b = elf_begin(copy, ELF_C_READ, NULL);
	ck_assert(a && b);
	ck_assert_int_eq(elf_getshdrstrndx(a, &stra), 0);
	ck_assert_int_eq(elf_getshdrstrndx(b, &strb), 0);
	while ((sa = elf_nextscn(a, sa))) {
		GElf_Shdr ha, hb;
		Elf_Data *da, *db;

		sb = elf_nextscn(b, sb);
		ck_assert_ptr_nonnull(sb);
		ck_assert(gelf_getshdr(sa, &ha) && gelf_getshdr(sb, &hb));
		ck_assert_str_eq(elf_strptr(a, stra, ha.sh_name), elf_strptr(b, strb, hb.sh_name));
		ck_assert_uint_eq(hb.sh_flags & SHF_COMPRESSED, 0);
		if (ha.sh_flags & SHF_COMPRESSED) {
			compressed++;
			ck_assert_int_eq(elf_compress(sa, 0, 0), 1);
			ck_assert(gelf_getshdr(sa, &ha));
		}
		ck_assert_uint_eq(ha.sh_type, hb.sh_type);
		ck_assert_uint_eq(ha.sh_flags, hb.sh_flags);
		ck_assert_uint_eq(ha.sh_addr, hb.sh_addr);
		ck_assert_uint_eq(ha.sh_size, hb.sh_size);
		ck_assert_uint_eq(ha.sh_link, hb.sh_link);
		ck_assert_uint_eq(ha.sh_info, hb.sh_info);
		if (ha.sh_type == SHT_NOBITS || !ha.sh_size)
			continue;
		da = elf_getdata(sa, NULL);
		db = elf_getdata(sb, NULL);
		ck_assert(da && db);
		ck_assert_uint_eq(da->d_size, db->d_size);
		ck_assert_int_eq(memcmp(da->d_buf, db->d_buf, da->d_size), 0);
	}
	ck_assert_ptr_null(elf_nextscn(b, sb));
	elf_end(a);
	elf_end(b);
	close(orig);
	return compressed;
}

static void setup(void)
{
	char base[FX_PATH_BYTES];

	elf_version(EV_CURRENT);
	fx_scratch_make(&scratch);
	fx_scratch_file(&scratch, "c", base);
	ck_assert_int_eq(setenv("HEAPGRAPH_CACHE", base, 1), 0);
	snprintf(cache_dir, sizeof(cache_dir), "%s/debug", base);
}

static void teardown(void)
{
	setenv("HEAPGRAPH_CACHE", "off", 1); /* as check_main.c leaves it for the other suites */
	fx_scratch_remove(&scratch);
}

START_TEST(test_debug_cache_copy_is_the_original_inflated)
{
	char so[FX_PATH_BYTES], entry[2 * FX_PATH_BYTES], *name = NULL;
	uint8_t id[HG_DEBUG_CACHE_MAX_ID];
	struct stat st;
	int fd = build_so("gz.so", 1, so), copy;
	size_t n = build_id_of(fd, id);

	/* Nothing cached yet: no copy to open, and the original's descriptor is left alone. */
	ck_assert_int_eq(hg_debug_cache_open(id, n, &name), -1);
	ck_assert_ptr_null(name);
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), 1);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	entry_file(id, n, entry, sizeof(entry));
	ck_assert_int_eq(stat(entry, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(stat(cache_dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	/* Present and whole: nothing more to do. */
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), 0);

	name = strdup("/the/old/name");
	copy = hg_debug_cache_open(id, n, &name);
	ck_assert_int_ge(copy, 0);
	ck_assert_str_eq(name, entry);
	ck_assert_int_gt(assert_inflated_copy(so, copy), 3);
	free(name);
	close(copy);
	close(fd);
}
END_TEST

START_TEST(test_debug_cache_damaged_entry_is_made_again)
{
	char so[FX_PATH_BYTES], entry[2 * FX_PATH_BYTES], other[2 * FX_PATH_BYTES];
	char *name = NULL;
	uint8_t id[HG_DEBUG_CACHE_MAX_ID];
	struct stat st;
	int fd = build_so("gz.so", 1, so), copy;
	size_t n = build_id_of(fd, id);
	off_t whole;

	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), 1);
	entry_file(id, n, entry, sizeof(entry));
	ck_assert_int_eq(stat(entry, &st), 0);
	whole = st.st_size;
	/* Cut short, as by a full disk: refused, then replaced by a whole copy. */
	ck_assert_int_eq(truncate(entry, whole - 4096), 0);
	ck_assert_int_eq(hg_debug_cache_open(id, n, &name), -1);
	ck_assert_ptr_null(name);
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), 1);
	ck_assert_int_eq(stat(entry, &st), 0);
	ck_assert_int_eq(st.st_size, whole);
	/* Another file's copy under this name (another build id): refused too. */
	id[0] ^= 0xff;
	entry_file(id, n, other, sizeof(other));
	ck_assert_int_eq(rename(entry, other), 0);
	ck_assert_int_eq(hg_debug_cache_open(id, n, &name), -1);
	/* The right name again opens. */
	ck_assert_int_eq(rename(other, entry), 0);
	id[0] ^= 0xff;
	copy = hg_debug_cache_open(id, n, &name);
	ck_assert_int_ge(copy, 0);
	free(name);
	close(copy);
	close(fd);
}
END_TEST

START_TEST(test_debug_cache_only_what_is_worth_it)
{
	char so[FX_PATH_BYTES], *name = NULL;
	uint8_t id[HG_DEBUG_CACHE_MAX_ID];
	struct stat st;
	int gz = build_so("gz.so", 1, so), plain, text;
	size_t n = build_id_of(gz, id);

	/* Less inflated than the minimum: left where it is. */
	ck_assert_int_eq(hg_debug_cache_add_min(gz, 1ull << 40), 0);
	ck_assert_int_eq(hg_debug_cache_add(gz), 0); /* kilobytes, under HG_DEBUG_CACHE_MIN_BYTES */
	ck_assert_int_eq(hg_debug_cache_open(id, n, &name), -1);
	/* Nothing compressed: nothing to gain. */
	plain = build_so("plain.so", 0, so);
	ck_assert_int_eq(hg_debug_cache_add_min(plain, 0), 0);
	ck_assert_int_ne(stat(cache_dir, &st), 0); /* not even the directory was made */
	/* Off: neither made nor read. */
	setenv("HEAPGRAPH_CACHE", "off", 1);
	ck_assert_int_eq(hg_debug_cache_add_min(gz, 0), -1);
	ck_assert_int_eq(hg_debug_cache_open(id, n, &name), -1);
	setenv("HEAPGRAPH_CACHE", "0", 1);
	ck_assert_int_eq(hg_debug_cache_add_min(gz, 0), -1);
	/* A place that cannot be made: the caller reads the original. */
	setenv("HEAPGRAPH_CACHE", "/dev/null/cache", 1);
	ck_assert_int_eq(hg_debug_cache_add_min(gz, 0), -1);
	ck_assert_ptr_null(name);
	/* Not ELF, or no descriptor. */
	setenv("HEAPGRAPH_CACHE", scratch.dir, 1);
	fx_scratch_file(&scratch, "probe.c", so);
	text = open(so, O_RDONLY);
	ck_assert_int_eq(hg_debug_cache_add_min(text, 0), 0);
	ck_assert_int_eq(hg_debug_cache_add_min(-1, 0), -1);
	close(text);
	close(gz);
	close(plain);
}
END_TEST

START_TEST(test_debug_cache_dir_from_the_environment)
{
	char buf[FX_PATH_BYTES];

	setenv("HEAPGRAPH_CACHE", "/x/y", 1);
	setenv("XDG_CACHE_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	ck_assert_int_eq(hg_debug_cache_dir(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/x/y/debug");
	unsetenv("HEAPGRAPH_CACHE");
	ck_assert_int_eq(hg_debug_cache_dir(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/xdg/heapgraph/debug");
	setenv("HEAPGRAPH_CACHE", "", 1); /* empty: as if unset */
	setenv("XDG_CACHE_HOME", "rel", 1); /* relative: ignored, as the XDG spec says */
	ck_assert_int_eq(hg_debug_cache_dir(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/home/u/.cache/heapgraph/debug");
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	ck_assert_int_eq(hg_debug_cache_dir(buf, sizeof(buf)), -1);
	setenv("HEAPGRAPH_CACHE", "off", 1);
	setenv("HOME", "/home/u", 1);
	ck_assert_int_eq(hg_debug_cache_dir(buf, sizeof(buf)), -1);
	ck_assert_int_eq(hg_debug_cache_dir(buf, 8), -1); /* does not fit */
}
END_TEST

/* A sparse file of `bytes` at dir/name, last used `age` seconds ago. */
static void make_old(const char *dir, const char *name, off_t bytes, time_t age)
{
	char path[2 * FX_PATH_BYTES];
	struct timespec t[2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, bytes), 0);
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= age;
	t[1] = t[0];
	ck_assert_int_eq(futimens(fd, t), 0);
	close(fd);
}

static int exists(const char *dir, const char *name)
{
	char path[2 * FX_PATH_BYTES];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

START_TEST(test_debug_cache_pruned_least_recently_used_first)
{
	const off_t big = (off_t)(HG_DEBUG_CACHE_MAX_BYTES / 5) * 3; /* one fits, two do not */
	char so[FX_PATH_BYTES], cmd[2 * FX_PATH_BYTES];
	int fd = build_so("gz.so", 1, so);

	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", cache_dir);
	ck_assert_int_eq(system(cmd), 0);
	make_old(cache_dir, "aa.debug", big, 300);	  /* least recently used */
	make_old(cache_dir, "bb.debug", big, 100);
	make_old(cache_dir, "cc.debug", big, 200);
	make_old(cache_dir, "notes.txt", big, 900);	  /* not an entry: never touched */
	make_old(cache_dir, ".dd.debug.Ab12Cd", 10, 7200); /* a copy a dead report left */
	make_old(cache_dir, ".ee.debug.Ab12Cd", 10, 60);   /* one being written now */
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), 1);
	/* Three entries of 3/5 each and the new one: the two oldest go, whatever their names. */
	ck_assert(!exists(cache_dir, "aa.debug"));
	ck_assert(!exists(cache_dir, "cc.debug"));
	ck_assert(exists(cache_dir, "bb.debug"));
	ck_assert(exists(cache_dir, "notes.txt"));
	ck_assert(!exists(cache_dir, ".dd.debug.Ab12Cd"));
	ck_assert(exists(cache_dir, ".ee.debug.Ab12Cd"));
	close(fd);
}
END_TEST

START_TEST(test_debug_cache_leaves_what_is_not_its_own)
{
	char so[FX_PATH_BYTES], entry[2 * FX_PATH_BYTES], *name = NULL;
	uint8_t id[HG_DEBUG_CACHE_MAX_ID];
	struct stat st;
	int fd = build_so("gz.so", 1, so);
	size_t n = build_id_of(fd, id);

	snprintf(entry, sizeof(entry), "mkdir -p '%s'", cache_dir);
	ck_assert_int_eq(system(entry), 0);
	/* Old files of other names in the directory: never removed. */
	make_old(cache_dir, ".gitignore", 10, 7200);
	make_old(cache_dir, ".notes.debug.txt", 10, 7200);
	make_old(cache_dir, "README.debug", 10, 7200);
	/* A symbolic link at the entry's place is not followed, a FIFO not waited on. */
	entry_file(id, n, entry, sizeof(entry));
	ck_assert_int_eq(symlink(so, entry), 0);
	ck_assert_int_eq(hg_debug_cache_open(id, n, &name), -1);
	ck_assert_int_eq(unlink(entry), 0);
	ck_assert_int_eq(mkfifo(entry, 0600), 0);
	ck_assert_int_eq(hg_debug_cache_open(id, n, &name), -1);
	/* Making the entry replaces the FIFO, and removes nothing else. */
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), 1);
	ck_assert_int_eq(lstat(entry, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert(exists(cache_dir, ".gitignore"));
	ck_assert(exists(cache_dir, ".notes.debug.txt"));
	ck_assert(exists(cache_dir, "README.debug"));
	/* A directory others may write to is not believed: anyone could have put entries in. */
	ck_assert_int_eq(chmod(cache_dir, 0777), 0);
	ck_assert_int_eq(hg_debug_cache_open(id, n, &name), -1);
	ck_assert_int_eq(unlink(entry), 0);
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), -1);
	ck_assert(!exists(cache_dir, strrchr(entry, '/') + 1));
	ck_assert_ptr_null(name);
	close(fd);
}
END_TEST

START_TEST(test_debug_cache_failure_is_remembered)
{
	char so[FX_PATH_BYTES], entry[2 * FX_PATH_BYTES], fail[2 * FX_PATH_BYTES];
	uint8_t id[HG_DEBUG_CACHE_MAX_ID];
	struct timespec t[2];
	struct rlimit lim, small;
	struct stat st;
	int fd = build_so("gz.so", 1, so);
	size_t n = build_id_of(fd, id);

	/* Past the file size limit nothing is written (write() would raise SIGXFSZ). */
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &lim), 0);
	small = lim;
	small.rlim_cur = 4096;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), -1);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	/* A directory in the entry's place: the copy fails, and says so in HEX.fail. */
	entry_file(id, n, entry, sizeof(entry));
	snprintf(fail, sizeof(fail), "%.*s.fail", (int)(strlen(entry) - 6), entry);
	ck_assert_int_eq(mkdir(entry, 0700), 0);
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), -1);
	ck_assert_int_eq(stat(fail, &st), 0);
	/* Not tried again for a day: the mark stays as it was. */
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= 3600;
	t[1] = t[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, fail, t, 0), 0);
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), -1);
	ck_assert_int_eq(stat(fail, &st), 0);
	ck_assert_int_eq(st.st_mtime, t[0].tv_sec);
	/* A day later it is, and once the way is clear the entry is made and the mark goes. */
	t[0].tv_sec -= 86400;
	t[1] = t[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, fail, t, 0), 0);
	ck_assert_int_eq(rmdir(entry), 0);
	ck_assert_int_eq(hg_debug_cache_add_min(fd, 0), 1);
	ck_assert_int_ne(stat(fail, &st), 0);
	close(fd);
}
END_TEST

Suite *debug_cache_suite(void);

Suite *debug_cache_suite(void)
{
	Suite *s = suite_create("debug_cache");
	TCase *tc = tcase_create("debug_cache");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_debug_cache_copy_is_the_original_inflated);
	tcase_add_test(tc, test_debug_cache_damaged_entry_is_made_again);
	tcase_add_test(tc, test_debug_cache_only_what_is_worth_it);
	tcase_add_test(tc, test_debug_cache_dir_from_the_environment);
	tcase_add_test(tc, test_debug_cache_pruned_least_recently_used_first);
	tcase_add_test(tc, test_debug_cache_leaves_what_is_not_its_own);
	tcase_add_test(tc, test_debug_cache_failure_is_remembered);
	suite_add_tcase(s, tc);
	return s;
}
