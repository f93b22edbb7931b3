/*
 * check_symbolize.c - unit tests for the symbolizer (analyzer/symbolize.c)
 *
 * The tests symbolize real code: functions of this test binary (a PIE, so an ET_DYN whose
 * vaddr is runtime address minus load bias), libc, libdw (stripped, .dynsym only) and, when
 * g++ is installed, a C++ shared object compiled by the test. Load bias, path and build id of
 * each module come from dl_iterate_phdr(), as the shim records them. Line numbers are captured
 * with __LINE__ next to the call whose return address is symbolized, so the assertions hold at
 * any optimisation level; the probe functions are noipa so that they keep their names and are
 * neither inlined, cloned nor tail-called. Outcomes that depend on installed debug files
 * (libc6-dbg) are checked both ways.
 */
#include <check.h>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize.h"

#define PROBE __attribute__((noipa))

/* Where a runtime address lives, as the shim would record it. */
struct module_info {
	uintptr_t addr;		/* input: runtime address */
	char path[4096];	/* module file; /proc/self/exe resolved for the executable */
	uint64_t bias;		/* load bias: vaddr = runtime address - bias */
	uint8_t build_id[64];
	size_t build_id_len;	/* 0 when the module has no build id note */
	int found;
};

static struct hg_symbolizer *sym;

static void setup(void)
{
	sym = hg_symbolizer_new();
	ck_assert_ptr_nonnull(sym);
}

static void teardown(void)
{
	hg_symbolizer_free(sym);
	sym = NULL;
}

/* Copy the NT_GNU_BUILD_ID note of a loaded object, if any. */
static void read_build_id(struct dl_phdr_info *info, struct module_info *mi)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;

		if (ph->p_type != PT_NOTE)
			continue;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *desc = p + sizeof(*nh) + ((nh->n_namesz + 3) & ~3u);

			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(p + sizeof(*nh), "GNU", 4) == 0 &&
			    nh->n_descsz <= sizeof(mi->build_id)) {
				memcpy(mi->build_id, desc, nh->n_descsz);
				mi->build_id_len = nh->n_descsz;
				return;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
}

static int find_module_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct module_info *mi = data;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type != PT_LOAD || mi->addr < lo || mi->addr - lo >= ph->p_memsz)
			continue;
		mi->bias = info->dlpi_addr;
		if (info->dlpi_name[0]) {
			snprintf(mi->path, sizeof(mi->path), "%s", info->dlpi_name);
		} else {
			ssize_t n = readlink("/proc/self/exe", mi->path, sizeof(mi->path) - 1);

			mi->path[n > 0 ? n : 0] = '\0';
		}
		read_build_id(info, mi);
		mi->found = 1;
		return 1;
	}
	return 0;
}

static void find_module(const void *addr, struct module_info *mi)
{
	memset(mi, 0, sizeof(*mi));
	mi->addr = (uintptr_t)addr;
	dl_iterate_phdr(find_module_cb, mi);
	ck_assert_int_eq(mi->found, 1);
	ck_assert_str_ne(mi->path, "");
}

/* 1 when /usr/lib/debug/.build-id holds the debug file of mi's build id. */
static int has_debug_file(const struct module_info *mi)
{
	char path[256];
	int len;

	if (mi->build_id_len < 2)
		return 0;
	len = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", mi->build_id[0]);
	for (size_t i = 1; i < mi->build_id_len; i++)
		len += snprintf(path + len, sizeof(path) - (size_t)len, "%02x", mi->build_id[i]);
	snprintf(path + len, sizeof(path) - (size_t)len, ".debug");
	return access(path, R_OK) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The address of libc's own `name`, even when a sanitizer or preload interposes it. */
static void *libc_function(const char *name)
{
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	void *fn;

	ck_assert_ptr_nonnull(libc);
	fn = dlsym(libc, name);
	ck_assert_ptr_nonnull(fn);
	dlclose(libc);
	return fn;
}

static PROBE void *probe_return_address(void)
{
	return __builtin_return_address(0);
}

/* Returns the return address of its call to probe_return_address(); *line is that call's line. */
static PROBE void *probe_caller(uint32_t *line)
{
	void *ra;

	*line = __LINE__ + 1;
	ra = probe_return_address();
	__asm__ volatile("" : : "r"(ra) : "memory"); /* keep the call a call, not a jump */
	return ra;
}

/* Like probe_caller, but the call sits in a function inlined into probe_outer. */
static inline __attribute__((always_inline)) void *inlined_probe(uint32_t *line)
{
	void *ra;

	*line = __LINE__ + 1;
	ra = probe_return_address();
	__asm__ volatile("" : : "r"(ra) : "memory");
	return ra;
}

static uint32_t probe_outer_line; /* the line of probe_outer's call of inlined_probe */

static PROBE void *probe_outer(uint32_t *line)
{
	probe_outer_line = __LINE__ + 1;
	void *ra = inlined_probe(line);

	__asm__ volatile("" : : "r"(ra) : "memory");
	return ra;
}

/* Symbolize a return address of this binary; the result is for the call instruction. */
static int symbolize_probe(struct hg_symbol *out, uint32_t *line, const uint8_t *build_id,
			   size_t build_id_len)
{
	struct module_info mi;
	uintptr_t ra = (uintptr_t)probe_caller(line);

	find_module((void *)ra, &mi);
	return hg_symbolize(sym, mi.path, build_id ? build_id : mi.build_id,
			    build_id ? build_id_len : mi.build_id_len, ra - 1 - mi.bias, out);
}

START_TEST(test_symbolize_own_function_line)
{
	struct hg_symbol out;
	uint32_t line = 0;

	ck_assert_int_eq(symbolize_probe(&out, &line, NULL, 0), 0);
	ck_assert_ptr_nonnull(out.function);
	ck_assert_str_eq(out.function, "probe_caller");
	ck_assert_ptr_nonnull(out.file);
	ck_assert_str_eq(base_name(out.file), "check_symbolize.c");
	ck_assert_uint_eq(out.line, line);
	ck_assert_int_eq(out.build_id_mismatch, 0);
	ck_assert_ptr_null(out.inlined_into); /* not inlined: no callers from this address */
}
END_TEST

START_TEST(test_symbolize_own_function_entry)
{
	struct module_info mi;
	struct hg_symbol out;

	find_module((void *)probe_return_address, &mi);
	ck_assert_int_eq(hg_symbolize(sym, mi.path, mi.build_id, mi.build_id_len,
				      (uintptr_t)probe_return_address - mi.bias, &out), 0);
	ck_assert_ptr_nonnull(out.function);
	ck_assert_str_eq(out.function, "probe_return_address");
	ck_assert_ptr_nonnull(out.file);
	ck_assert_str_eq(base_name(out.file), "check_symbolize.c");
	ck_assert_uint_gt(out.line, 0);
}
END_TEST

START_TEST(test_symbolize_inlined_function)
{
	struct module_info mi;
	struct hg_symbol out;
	uint32_t line = 0;
	uintptr_t ra = (uintptr_t)probe_outer(&line);

	find_module((void *)ra, &mi);
	ck_assert_int_eq(hg_symbolize(sym, mi.path, mi.build_id, mi.build_id_len,
				      ra - 1 - mi.bias, &out), 0);
	ck_assert_ptr_nonnull(out.function);
	ck_assert_str_eq(out.function, "inlined_probe");
	ck_assert_ptr_nonnull(out.file);
	ck_assert_str_eq(base_name(out.file), "check_symbolize.c");
	ck_assert_uint_eq(out.line, line);
	/* the function it was inlined into, at the line of that call, and no further */
	ck_assert_ptr_nonnull(out.inlined_into);
	ck_assert_str_eq(out.inlined_into->function, "probe_outer");
	ck_assert_ptr_nonnull(out.inlined_into->file);
	ck_assert_str_eq(base_name(out.inlined_into->file), "check_symbolize.c");
	ck_assert_uint_eq(out.inlined_into->line, probe_outer_line);
	ck_assert_ptr_null(out.inlined_into->inlined_into);
}
END_TEST

START_TEST(test_symbolize_libc_function)
{
	void *fn = libc_function("qsort");
	struct module_info mi;
	struct hg_symbol out;

	find_module(fn, &mi);
	ck_assert_str_eq(base_name(mi.path), "libc.so.6");
	/* +1: an address inside the function, not merely its first byte. */
	ck_assert_int_eq(hg_symbolize(sym, mi.path, mi.build_id, mi.build_id_len,
				      (uintptr_t)fn + 1 - mi.bias, &out), 0);
	ck_assert_ptr_nonnull(out.function);
	ck_assert_str_eq(out.function, "qsort");
	ck_assert_int_eq(out.build_id_mismatch, 0);
}
END_TEST

/* libdw is stripped to .dynsym; without its debug file only the exported name is known. */
START_TEST(test_symbolize_dynsym_only)
{
	void *fn = dlsym(RTLD_DEFAULT, "dwfl_begin");
	struct module_info mi;
	struct hg_symbol out;

	ck_assert_ptr_nonnull(fn);
	find_module(fn, &mi);
	ck_assert_int_eq(hg_symbolize(sym, mi.path, mi.build_id, mi.build_id_len,
				      (uintptr_t)fn + 1 - mi.bias, &out), 0);
	ck_assert_ptr_nonnull(out.function);
	ck_assert_str_eq(out.function, "dwfl_begin");
	ck_assert_int_eq(out.build_id_mismatch, 0);
	if (!has_debug_file(&mi)) {
		ck_assert_ptr_null(out.file);
		ck_assert_uint_eq(out.line, 0);
	}
}
END_TEST

START_TEST(test_symbolize_missing_file)
{
	static const char path[] = "/nonexistent/heapgraph/libmissing.so";
	struct hg_symbol out;

	memset(&out, 0xa5, sizeof(out));
	ck_assert_int_eq(hg_symbolize(sym, path, NULL, 0, 0x1234, &out), -1);
	ck_assert_ptr_null(out.function);
	ck_assert_ptr_null(out.file);
	ck_assert_uint_eq(out.line, 0);
	ck_assert_int_eq(out.build_id_mismatch, 0);
	/* The failure is cached, and every address of the module fails the same way. */
	ck_assert_int_eq(hg_symbolize(sym, path, NULL, 0, 0x5678, &out), -1);
	ck_assert_ptr_null(out.function);
}
END_TEST

START_TEST(test_symbolize_not_elf)
{
	char path[] = "/tmp/hg_check_symbolize_XXXXXX";
	int fd = mkstemp(path);
	struct hg_symbol out;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not an ELF file\n", 16), 16);
	close(fd);
	ck_assert_int_eq(hg_symbolize(sym, path, NULL, 0, 0x10, &out), -1);
	unlink(path);
	ck_assert_ptr_null(out.function);
}
END_TEST

START_TEST(test_symbolize_build_id_mismatch)
{
	static const uint8_t other_id[20] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	struct hg_symbol out;
	uint32_t line = 0;

	/* No debug file exists for that id, so the answer still comes from the file on disk. */
	ck_assert_int_eq(symbolize_probe(&out, &line, other_id, sizeof(other_id)), 0);
	ck_assert_int_eq(out.build_id_mismatch, 1);
	ck_assert_ptr_nonnull(out.function);
	ck_assert_str_eq(out.function, "probe_caller");
	ck_assert_uint_eq(out.line, line);
}
END_TEST

/* A deleted or replaced libc still resolves when the debug file of its build id is installed. */
START_TEST(test_symbolize_debug_file_by_build_id)
{
	void *fn = libc_function("qsort");
	struct module_info mi;
	struct hg_symbol out;
	int rc;

	find_module(fn, &mi);
	ck_assert_uint_eq(mi.build_id_len, 20);
	rc = hg_symbolize(sym, "/nonexistent/libc.so.6", mi.build_id, mi.build_id_len,
			  (uintptr_t)fn + 1 - mi.bias, &out);
	if (!has_debug_file(&mi)) {
		/* libc6-dbg is not installed: the module cannot be read at all. */
		ck_assert_int_eq(rc, -1);
		ck_assert_ptr_null(out.function);
		return;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(out.build_id_mismatch, 1);
	ck_assert_ptr_nonnull(out.function);
	ck_assert_str_eq(out.function, "qsort");
	ck_assert_ptr_nonnull(out.file);
	ck_assert_uint_gt(out.line, 0);
}
END_TEST

/*
 * A C++ shared object built now, when g++ is installed: a namespaced function is named by its
 * demangled linkage name; a template instantiated on a lambda has no linkage name, so its
 * DW_AT_name is qualified by the enclosing namespace.
 */
static const char cxx_source[] =
	"namespace hg { namespace test {\n"
	"__attribute__((noinline)) int twice(int x) { return 2 * x + __builtin_ffs(x); }\n"
	"template <typename F> __attribute__((noinline)) int apply(F f) { return f(3) + 1; }\n"
	"} }\n"
	"extern \"C\" void *hg_cxx_addr(int i) {\n"
	"	auto l = [](int x) { return x * x; };\n"
	"	return i == 0 ? (void *)&hg::test::twice : (void *)&hg::test::apply<decltype(l)>;\n"
	"}\n";

/* Build cxx_source into dir/libhgcxx.so and dlopen it; NULL when g++ is missing. */
static void *build_cxx_object(char *dir, char *so, size_t so_len)
{
	char src[4200], cmd[12800];
	FILE *f;
	void *handle;

	if (system("g++ --version >/dev/null 2>&1") != 0)
		return NULL;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(src, sizeof(src), "%s/hgcxx.cc", dir);
	snprintf(so, so_len, "%s/libhgcxx.so", dir);
	f = fopen(src, "w");
	ck_assert_ptr_nonnull(f);
	fputs(cxx_source, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "g++ -O2 -g -fPIC -shared -o '%s' '%s'", so, src);
	ck_assert_int_eq(system(cmd), 0);
	unlink(src);
	handle = dlopen(so, RTLD_NOW | RTLD_LOCAL);
	ck_assert_ptr_nonnull(handle);
	return handle;
}

static const char *symbolize_cxx(void *(*addr_of)(int), int i)
{
	struct module_info mi;
	struct hg_symbol out;
	uintptr_t fn = (uintptr_t)addr_of(i);

	find_module((void *)fn, &mi);
	ck_assert_int_eq(hg_symbolize(sym, mi.path, mi.build_id, mi.build_id_len, fn + 1 - mi.bias,
				      &out), 0);
	ck_assert_ptr_nonnull(out.function);
	return out.function;
}

START_TEST(test_symbolize_cxx_names)
{
	char dir[] = "/tmp/hg_check_symbolize_XXXXXX", so[4100];
	void *handle = build_cxx_object(dir, so, sizeof(so));
	void *(*addr_of)(int);

	if (!handle)
		return;
	*(void **)&addr_of = dlsym(handle, "hg_cxx_addr");
	ck_assert_ptr_nonnull(addr_of);
	ck_assert_str_eq(symbolize_cxx(addr_of, 0), "hg::test::twice(int)");
	ck_assert_int_eq(strncmp(symbolize_cxx(addr_of, 1), "hg::test::apply<", 16), 0);
	dlclose(handle);
	unlink(so);
	rmdir(dir);
}
END_TEST

START_TEST(test_symbolize_demangle)
{
	const char *a = hg_demangle(sym, "_ZN3foo3barEi");

	ck_assert_str_eq(a, "foo::bar(int)");
	ck_assert_ptr_eq(hg_demangle(sym, "_ZN3foo3barEi"), a);
	ck_assert_str_eq(hg_demangle(sym, "_ZNSt6vectorIiSaIiEE9push_backERKi"),
			 "std::vector<int, std::allocator<int> >::push_back(int const&)");
	/* Plain C names and names __cxa_demangle rejects come back unchanged. */
	ck_assert_str_eq(hg_demangle(sym, "main"), "main");
	ck_assert_str_eq(hg_demangle(sym, "i"), "i");
	ck_assert_str_eq(hg_demangle(sym, "_Z"), "_Z");
	ck_assert_str_eq(hg_demangle(sym, "_Znot a symbol"), "_Znot a symbol");
	ck_assert_ptr_null(hg_demangle(sym, NULL));
}
END_TEST

START_TEST(test_symbolize_cache_same_pointers)
{
	struct hg_symbol a, b, entry;
	struct module_info mi;
	uint32_t line = 0;

	ck_assert_int_eq(symbolize_probe(&a, &line, NULL, 0), 0);
	ck_assert_int_eq(symbolize_probe(&b, &line, NULL, 0), 0);
	ck_assert_ptr_nonnull(a.function);
	ck_assert_ptr_eq(a.function, b.function);
	ck_assert_ptr_eq(a.file, b.file);
	ck_assert_uint_eq(a.line, b.line);
	/* Another address in the same function and file: the interned strings are shared. */
	find_module((void *)probe_caller, &mi);
	ck_assert_int_eq(hg_symbolize(sym, mi.path, mi.build_id, mi.build_id_len,
				      (uintptr_t)probe_caller - mi.bias, &entry), 0);
	ck_assert_ptr_eq(entry.function, a.function);
	ck_assert_ptr_eq(entry.file, a.file);
}
END_TEST

Suite *symbolize_suite(void);

Suite *symbolize_suite(void)
{
	Suite *s = suite_create("symbolize");
	TCase *own = tcase_create("own_binary");
	TCase *libs = tcase_create("shared_objects");
	TCase *errors = tcase_create("errors");
	TCase *names = tcase_create("names_and_cache");
	TCase *all[] = { own, libs, errors, names };

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		tcase_add_checked_fixture(all[i], setup, teardown);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(own, test_symbolize_own_function_line);
	tcase_add_test(own, test_symbolize_own_function_entry);
	tcase_add_test(own, test_symbolize_inlined_function);
	tcase_add_test(libs, test_symbolize_libc_function);
	tcase_add_test(libs, test_symbolize_dynsym_only);
	tcase_add_test(libs, test_symbolize_debug_file_by_build_id);
	tcase_add_test(errors, test_symbolize_missing_file);
	tcase_add_test(errors, test_symbolize_not_elf);
	tcase_add_test(errors, test_symbolize_build_id_mismatch);
	tcase_add_test(names, test_symbolize_demangle);
	tcase_add_test(names, test_symbolize_cxx_names);
	tcase_add_test(names, test_symbolize_cache_same_pointers);
	return s;
}
