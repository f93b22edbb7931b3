/*
 * symbolize.c - resolve module-relative addresses to function, file and line with libdwfl
 *
 * Each (path, recorded build id) gets one Dwfl holding one module, reported with
 * dwfl_report_elf(base 0, add_p_vaddr): an ET_DYN file then sits at its own link-time
 * addresses instead of wherever dwfl_report_offline would have packed it, and the bias that
 * dwfl_module_getelf() reports (0 in practice) still converts ELF vaddr to Dwfl address, so the
 * conversion stays right if libdwfl ever places the module elsewhere. One Dwfl per module also
 * means modules never overlap, whatever their link addresses.
 *
 * Lookups are answered from lazily built indexes, because the obvious libdw calls do not scale
 * to 100k addresses (see symbolize_dwarf.c):
 *
 *   - addrs (here): per module, vaddr -> struct hg_symbol. Each address is resolved once.
 *   - CU index and ELF symbols (symbolize_dwarf.c): the innermost function at an address, from
 *     DWARF, else from the symbol table.
 *
 * Strings are interned and maps are the small open-addressing ones of symbolize_intern.c, which
 * never print or exit: when memory runs out, the answer degrades to "unknown" instead.
 */
#include "symbolize_int.h"

#include "debug_cache.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* From libstdc++ (Itanium C++ ABI); declared here so that this file stays plain C. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define HG_SYM_DEBUG_DIR "/usr/lib/debug"
/* Bytes of HG_SYM_DEBUG_DIR/.build-id/xx/rest.debug, with room to spare */
#define HG_SYM_BUILD_ID_FILE_BYTES (sizeof(HG_SYM_DEBUG_DIR) + 32 + 2 * HG_DEBUG_CACHE_MAX_ID)
#define HG_SYM_MAX_INLINE 32		/* callers of an inline instance kept, outward */

struct hg_sym_demangled {
	const char *mangled;	/* interned input */
	const char *name;	/* interned result (== mangled when it did not demangle) */
};

struct hg_sym_modkey {
	const char *path;
	const uint8_t *build_id;
	size_t build_id_len;
};

/* ------------------------------------------------------------------------------------------ */
/* Finding separate debug information                                                         */
/* ------------------------------------------------------------------------------------------ */

/* Whether dir/sub/name exists; dir NULL is the current directory, sub NULL none. */
static bool hg_sym_exists(const char *dir, const char *sub, const char *name)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s%s%s", dir ? dir : ".", sub ? sub : "",
			 sub ? "/" : "", name);

	return n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) == 0;
}

/*
 * Whether a debug file of main file `file` may be where libdwfl's search by name looks (its
 * find_debuginfo_in_path over the default path ":.debug:/usr/lib/debug"): the debuglink's name,
 * or without one file's name with .debug added or as it is, beside file (the debuglink's name
 * only), in .debug/ beside it, and under /usr/lib/debug at file's directory and each of its
 * tails (/usr/lib/debug/usr/bin, /usr/lib/debug/bin, /usr/lib/debug). It checks places and
 * names more loosely than libdwfl, never less: false means that search would find nothing.
 */
static bool hg_sym_named_debug_file(const char *file, const char *debuglink)
{
	char dir[PATH_MAX], made[NAME_MAX + 1];
	const char *slash = strrchr(file, '/');
	const char *base = slash ? slash + 1 : file;
	const char *names[2] = { debuglink, debuglink ? NULL : base };
	size_t n = slash ? (size_t)(slash - file) : 0;
	const char *here = slash ? dir : NULL; /* file's directory; NULL: the current one */

	if (n >= sizeof(dir))
		return true; /* cannot tell: let libdwfl search */
	memcpy(dir, file, n);
	dir[n] = '\0';
	if (!debuglink) {
		if ((size_t)snprintf(made, sizeof(made), "%s.debug", base) >= sizeof(made))
			return true;
		names[0] = made;
	}
	if (hg_sym_exists(here, NULL, names[0]))
		return true;
	for (size_t i = 0; i < 2 && names[i]; i++) {
		if (hg_sym_exists(here, ".debug", names[i]))
			return true;
		for (const char *tail = dir[0] == '/' ? dir : NULL; tail;
		     tail = strchr(tail + 1, '/'))
			if (hg_sym_exists(HG_SYM_DEBUG_DIR, tail + 1, names[i]))
				return true;
		if (dir[0] == '/' && hg_sym_exists(HG_SYM_DEBUG_DIR, NULL, names[i]))
			return true;
	}
	return false;
}

/*
 * libdwfl's standard search, less its last resort when nothing is installed: it then asks
 * debuginfod, which means dlopen()ing libdebuginfod with libcurl, gnutls, Kerberos and LDAP
 * behind it (5.5 ms of CPU, in every report of a program with a module lacking debug
 * information) to learn that no server is configured. So without DEBUGINFOD_URLS a module
 * whose debug file is neither under /usr/lib/debug/.build-id nor anywhere the search by name
 * looks is given up at once; when a file is there, the standard search runs (and should that
 * file not match the module, still goes on to debuginfod). A dwz alternate file (a debuglink
 * without a CRC: the second call, from the debug file) is looked for by build id, then by
 * the standard search. With DEBUGINFOD_URLS set the standard search runs whole, servers
 * included.
 */
static int hg_sym_find_debuginfo_uncached(Dwfl_Module *mod, void **userdata,
					  const char *modname, GElf_Addr base, const char *file,
					  const char *debuglink, GElf_Word crc,
					  char **debuginfo_file)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	bool named = true;
	char *canon;
	int fd;

	if (urls && *urls)
		return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file, debuglink,
						    crc, debuginfo_file);
	fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file, debuglink, crc,
					  debuginfo_file);
	if (fd >= 0)
		return fd;
	if (file && !(debuglink && !crc)) {
		canon = realpath(file, NULL);
		named = hg_sym_named_debug_file(file, debuglink) ||
			(canon && hg_sym_named_debug_file(canon, debuglink));
		free(canon);
	}
	return named ? dwfl_standard_find_debuginfo(mod, userdata, modname, base, file, debuglink,
						    crc, debuginfo_file) : -1;
}

/* HG_SYM_DEBUG_DIR/.build-id/xx/rest.debug for build id id[0..n) into file (size bytes).
 * Returns -1 when it does not fit or n is out of range. */
static int hg_sym_build_id_file(char *file, size_t size, const uint8_t *id, size_t n)
{
	char hex[2 * HG_DEBUG_CACHE_MAX_ID + 1];
	int len;

	if (n < 2 || n > HG_DEBUG_CACHE_MAX_ID)
		return -1;
	hg_build_id_hex(hex, id, n);
	len = snprintf(file, size, "%s/.build-id/%.2s/%s.debug", HG_SYM_DEBUG_DIR, hex, hex + 2);
	return len > 0 && (size_t)len < size ? 0 : -1;
}

/*
 * The cache's inflated copy (debug_cache.h) of the debug file of build id id[0..n), made now
 * from HG_SYM_DEBUG_DIR/.build-id when the cache has none: a descriptor, with its path in
 * *name. Returns -1 when there is none: no such file, one too small to be worth a copy, the
 * cache off; *offered then says whether the .build-id file was there and offered to the
 * cache (it needs not be again). The copy's build id is checked, as libdwfl would check the
 * file's.
 */
static int hg_sym_debug_cached(const uint8_t *id, size_t n, char **name, bool *offered)
{
	char file[HG_SYM_BUILD_ID_FILE_BYTES];
	int fd = hg_debug_cache_open(id, n, name), orig;

	*offered = false;
	if (fd >= 0 || hg_sym_build_id_file(file, sizeof(file), id, n) != 0 ||
	    (orig = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return fd;
	*offered = true;
	if (hg_debug_cache_add(orig) == 1)
		fd = hg_debug_cache_open(id, n, name);
	close(orig);
	return fd;
}

/*
 * The debug file of a module: its inflated copy in the cache (debug_cache.h), made now if the
 * file is under HG_SYM_DEBUG_DIR/.build-id, else what the search finds, of which a copy is
 * then made for the reports to come. That report still reads the original: libdwfl's searches
 * keep the Elf they opened to check the build id and ignore the descriptor returned, so
 * libdw would inflate it a second time. dwz alternate files are not cached.
 */
static int hg_sym_find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
				 GElf_Addr base, const char *file, const char *debuglink,
				 GElf_Word crc, char **debuginfo_file)
{
	bool alternate = debuglink && !crc, offered = false;
	const unsigned char *id;
	GElf_Addr at;
	int n, fd;

	n = alternate ? 0 : dwfl_module_build_id(mod, &id, &at);
	if (n > 0 && (fd = hg_sym_debug_cached(id, (size_t)n, debuginfo_file, &offered)) >= 0)
		return fd;
	fd = hg_sym_find_debuginfo_uncached(mod, userdata, modname, base, file, debuglink, crc,
					    debuginfo_file);
	/* Found by name (.gnu_debuglink), or through debuginfod: offered now. */
	if (fd >= 0 && !alternate && !offered)
		hg_debug_cache_add(fd);
	return fd;
}

static const Dwfl_Callbacks hg_sym_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = hg_sym_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = NULL,	/* libdwfl default: ":.debug:/usr/lib/debug" */
};

/* ------------------------------------------------------------------------------------------ */
/* Demangling                                                                                 */
/* ------------------------------------------------------------------------------------------ */

static int hg_sym_demangled_eq(const void *val, const void *ctx)
{
	const struct hg_sym_demangled *d = val;

	return strcmp(d->mangled, ctx) == 0;
}

static const char *hg_sym_demangle_slow(struct hg_symbolizer *s, const char *name, uint64_t h)
{
	struct hg_sym_demangled *d = hg_sym_alloc(s, sizeof(*d));
	int status = -1;
	char *plain = __cxa_demangle(name, NULL, NULL, &status);
	const char *result = hg_sym_intern(s, plain && status == 0 ? plain : name);

	free(plain);
	if (!d || !result)
		return result;
	d->mangled = hg_sym_intern(s, name);
	d->name = result;
	if (d->mangled)
		hg_sym_map_put(&s->demangled, h, d); /* on failure: correct, just not cached */
	return result;
}

const char *hg_demangle(struct hg_symbolizer *s, const char *name)
{
	const struct hg_sym_demangled *d;
	uint64_t h;

	if (!name)
		return NULL;
	/* Only "_Z" names are mangled; __cxa_demangle would also "demangle" "i" into "int". */
	if (name[0] != '_' || name[1] != 'Z')
		return hg_sym_intern(s, name);
	h = hg_sym_fnv(name, strlen(name), HG_SYM_FNV_SEED);
	d = hg_sym_map_get(&s->demangled, h, hg_sym_demangled_eq, name);
	return d ? d->name : hg_sym_demangle_slow(s, name, h);
}

/* ------------------------------------------------------------------------------------------ */
/* Modules                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/*
 * Open `file` as m's single module, from fd when it is not -1 (fd is closed either way).
 * Returns -1, leaving m untouched, when it is not ELF.
 */
static int hg_sym_module_report(struct hg_sym_module *m, const char *file, int fd)
{
	Dwfl *dwfl = dwfl_begin(&hg_sym_callbacks);
	Dwfl_Module *mod;
	GElf_Addr bias;

	if (!dwfl) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	dwfl_report_begin(dwfl);
	/* base 0 + add_p_vaddr: an ET_DYN keeps its link-time addresses (see the top comment). */
	mod = dwfl_report_elf(dwfl, m->path, file, fd, 0, true);
	if (!mod && fd >= 0)
		close(fd); /* consumed only by a module reported */
	if (dwfl_report_end(dwfl, NULL, NULL) != 0 || !mod || !dwfl_module_getelf(mod, &bias)) {
		dwfl_end(dwfl);
		return -1;
	}
	m->dwfl = dwfl;
	m->mod = mod;
	m->bias = bias;
	return 0;
}

/* 1 when a build id was recorded and the opened file's differs (or it has none). */
static int hg_sym_module_id_differs(const struct hg_sym_module *m)
{
	const unsigned char *bits;
	GElf_Addr at;
	int n;

	if (!m->build_id_len)
		return 0;
	n = dwfl_module_build_id(m->mod, &bits, &at);
	return n != (int)m->build_id_len || memcmp(bits, m->build_id, m->build_id_len) != 0;
}

/*
 * Replace m's module by the debug file of the recorded build id, the cache's copy or else
 * HG_SYM_DEBUG_DIR/.build-id/xx/rest.debug: a debug file has the symbol table, the DWARF and
 * the program headers of the binary it was split from. Returns -1, leaving m untouched, when
 * there is no such file or it does not match.
 */
static int hg_sym_module_report_debug(struct hg_sym_module *m)
{
	struct hg_sym_module old = *m;
	char file[HG_SYM_BUILD_ID_FILE_BYTES], *name = NULL;
	bool offered;
	int rc, fd;

	if (hg_sym_build_id_file(file, sizeof(file), m->build_id, m->build_id_len) != 0)
		return -1;
	/* A debug file as the module: its compressed sections are inflated once, in the cache. */
	fd = hg_sym_debug_cached(m->build_id, m->build_id_len, &name, &offered);
	rc = hg_sym_module_report(m, name ? name : file, fd);
	free(name);
	if (rc != 0)
		return -1;
	if (hg_sym_module_id_differs(m)) {
		dwfl_end(m->dwfl);
		*m = old;
		return -1;
	}
	if (old.dwfl)
		dwfl_end(old.dwfl);
	return 0;
}

/* Open m from its path, or from the debug file of its build id when the path is gone or stale. */
static void hg_sym_module_open(struct hg_sym_module *m)
{
	if (hg_sym_module_report(m, m->path, -1) != 0) {
		m->mismatch = m->build_id_len > 0;
		hg_sym_module_report_debug(m);
		return;
	}
	if (hg_sym_module_id_differs(m)) {
		m->mismatch = 1;
		hg_sym_module_report_debug(m); /* on failure, keep answering from the file */
	}
}

static uint64_t hg_sym_modkey_hash(const struct hg_sym_modkey *k)
{
	uint64_t h = hg_sym_fnv(k->path, strlen(k->path), HG_SYM_FNV_SEED);

	return k->build_id_len ? hg_sym_fnv(k->build_id, k->build_id_len, h) : h;
}

static int hg_sym_module_eq(const void *val, const void *ctx)
{
	const struct hg_sym_module *m = val;
	const struct hg_sym_modkey *k = ctx;

	return m->build_id_len == k->build_id_len && strcmp(m->path, k->path) == 0 &&
	       (!k->build_id_len || memcmp(m->build_id, k->build_id, k->build_id_len) == 0);
}

/* The module for (path, build id), opened on first use; NULL on OOM. */
static struct hg_sym_module *hg_sym_module_get(struct hg_symbolizer *s,
					       const struct hg_sym_modkey *k)
{
	uint64_t h = hg_sym_modkey_hash(k);
	struct hg_sym_module *m = hg_sym_map_get(&s->modules, h, hg_sym_module_eq, k);
	uint8_t *id = NULL;

	if (m)
		return m;
	if (k->build_id_len && (id = hg_sym_alloc(s, k->build_id_len)))
		memcpy(id, k->build_id, k->build_id_len);
	m = calloc(1, sizeof(*m));
	if (!m || !(m->path = hg_sym_intern(s, k->path)) || (k->build_id_len && !id) ||
	    hg_sym_map_put(&s->modules, h, m) != 0) {
		free(m);
		return NULL;
	}
	m->build_id = id;
	m->build_id_len = k->build_id_len;
	m->next = s->all;
	s->all = m;
	hg_sym_module_open(m);
	return m;
}

static void hg_sym_module_free(struct hg_sym_module *m)
{
	hg_sym_index_release(m);
	free(m->addrs.slots);
	if (m->dwfl)
		dwfl_end(m->dwfl);
	free(m);
}

/* ------------------------------------------------------------------------------------------ */
/* Public API                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * The interned source path of a line-table row. DWARF 4 line tables often record paths relative
 * to the compile directory ("Objects/obj.c", "./Include/object.h"); those are joined to
 * DW_AT_comp_dir so that the same file has one name whichever CU mentions it.
 */
const char *hg_sym_path_join(struct hg_symbolizer *s, const char *file, const char *dir)
{
	char path[4096];
	int len;

	if (!file || file[0] == '/' || !dir || !dir[0])
		return hg_sym_intern(s, file);
	while (file[0] == '.' && file[1] == '/')
		file += 2;
	len = snprintf(path, sizeof(path), "%s/%s", dir, file);
	return hg_sym_intern(s, len > 0 && (size_t)len < sizeof(path) ? path : file);
}

static const char *hg_sym_source_path(struct hg_symbolizer *s, Dwfl_Line *line, int *lineno)
{
	const char *file = dwfl_lineinfo(line, NULL, lineno, NULL, NULL, NULL);

	return hg_sym_path_join(s, file, dwfl_line_comp_dir(line));
}

/*
 * The n functions an inline instance sits in (calls, outward), as a chain of symbols from the
 * arena (see struct hg_symbol); NULL when there are none, or when memory runs out (then the
 * chain is left out whole rather than with a caller missing).
 */
static const struct hg_symbol *hg_sym_inline_chain(struct hg_symbolizer *s,
						   const struct hg_sym_module *m,
						   const struct hg_symbol *calls, size_t n)
{
	const struct hg_symbol *next = NULL;

	for (size_t i = n; i-- > 0;) {
		struct hg_symbol *node = hg_sym_alloc(s, sizeof(*node));
		if (!node)
			return NULL;
		*node = calls[i];
		node->build_id_mismatch = m->mismatch;
		node->inlined_into = next;
		next = node;
	}
	return next;
}

static void hg_sym_resolve(struct hg_symbolizer *s, struct hg_sym_module *m, uint64_t addr,
			   struct hg_symbol *out)
{
	struct hg_symbol calls[HG_SYM_MAX_INLINE];
	Dwfl_Line *line;
	int lineno = 0;
	size_t n_calls = hg_sym_dwarf_function(s, m, addr, &out->function, calls,
					       HG_SYM_MAX_INLINE);

	if (!out->function)
		out->function = hg_demangle(s, hg_sym_elfsym_find(m, addr));
	line = dwfl_module_getsrc(m->mod, addr);
	if (line) {
		out->file = hg_sym_source_path(s, line, &lineno);
		out->line = lineno > 0 ? (uint32_t)lineno : 0;
	}
	out->inlined_into = hg_sym_inline_chain(s, m, calls, n_calls);
}

struct hg_symbolizer *hg_symbolizer_new(void)
{
	return calloc(1, sizeof(struct hg_symbolizer));
}

void hg_symbolizer_free(struct hg_symbolizer *s)
{
	if (!s)
		return;
	while (s->all) {
		struct hg_sym_module *next = s->all->next;

		hg_sym_module_free(s->all);
		s->all = next;
	}
	hg_sym_intern_release(s);
	free(s->modules.slots);
	free(s->demangled.slots);
	free(s);
}

void hg_symbolizer_preload(struct hg_symbolizer *s, const char *path, const uint8_t *build_id,
			   size_t build_id_len)
{
	struct hg_sym_modkey key = { path, build_id, build_id ? build_id_len : 0 };
	struct hg_sym_module *m = path ? hg_sym_module_get(s, &key) : NULL;
	Dwarf_Addr bias;

	if (m && m->dwfl)
		(void)dwfl_module_getdwarf(m->mod, &bias);
}

int hg_symbolize(struct hg_symbolizer *s, const char *path, const uint8_t *build_id,
		 size_t build_id_len, uint64_t vaddr, struct hg_symbol *out)
{
	struct hg_sym_modkey key = { path, build_id, build_id ? build_id_len : 0 };
	struct hg_sym_module *m;
	struct hg_symbol *sym;

	memset(out, 0, sizeof(*out));
	if (!path)
		return -1;
	m = hg_sym_module_get(s, &key);
	if (!m)
		return 0; /* out of memory: unknown */
	if (!m->dwfl)
		return -1;
	sym = hg_sym_map_get(&m->addrs, vaddr, NULL, NULL);
	if (sym) {
		*out = *sym;
		return 0;
	}
	out->build_id_mismatch = m->mismatch;
	hg_sym_resolve(s, m, vaddr + m->bias, out);
	sym = hg_sym_alloc(s, sizeof(*sym));
	if (sym) {
		*sym = *out;
		hg_sym_map_put(&m->addrs, vaddr, sym); /* on failure: correct, just not cached */
	}
	return 0;
}
