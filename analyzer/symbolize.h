/*
 * symbolize.h - turn (module file, ELF virtual address) into function, file and line
 *
 * The analyzer knows each stack frame as a module path, the module's GNU build id recorded at
 * trace time, and an ELF virtual address inside that module (runtime address minus load bias).
 * A symbolizer opens each module once with elfutils libdwfl, finds separate debug info the
 * standard way (/usr/lib/debug/.build-id, .gnu_debuglink, debuginfod when DEBUGINFOD_URLS is
 * set), and resolves addresses from DWARF, falling back to the ELF symbol tables.
 *
 * Every answer is cached: a (module, build id, address) triple is resolved once, and a module
 * that cannot be opened is remembered as such. All strings handed out are interned and owned by
 * the symbolizer, so equal names are equal pointers and stay valid until hg_symbolizer_free().
 *
 * A symbolizer is not thread-safe; use one per thread or lock around it.
 */
#ifndef HG_SYMBOLIZE_H
#define HG_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>

/* One resolved location. Strings are owned by the symbolizer and live until hg_symbolizer_free. */
struct hg_symbol {
	const char *function;  /* demangled C++ name or C name; innermost inlined function when
				  the address is inside an inline instance; NULL when unknown */
	const char *file;      /* source path from the DWARF line table, absolute when the compile
				  directory is known; NULL when unknown */
	uint32_t line;         /* 1-based source line; 0 when unknown */
	int build_id_mismatch; /* 1 when the file on disk is missing or has a build id different
				  from the recorded one (results then come from the debug file
				  of the recorded build id if there is one) */
	const struct hg_symbol *inlined_into; /* function is an inline instance: the function
				  it was inlined into, with the line of that call in it (file and
				  line of the call site), itself perhaps inlined further; NULL
				  for a function that was not inlined, or when unknown */
};

struct hg_symbolizer;

/*
 * Create an empty symbolizer. Nothing is opened until the first hg_symbolize().
 * Returns NULL only on out-of-memory.
 */
struct hg_symbolizer *hg_symbolizer_new(void);

/* Close every module and free every string handed out. NULL is a no-op. */
void hg_symbolizer_free(struct hg_symbolizer *s);

/*
 * Resolve `vaddr`, an ELF virtual address inside the module file at `path` (runtime address
 * minus the module's load bias; pass return address - 1 for return addresses so that the
 * call instruction, not the next statement, is looked up).
 *
 * `build_id`/`build_id_len` is the GNU build id recorded at trace time (may be NULL/0). When the
 * file on disk has another build id, or is gone, the debug file of the recorded id is used
 * instead if there is one (the debug cache's copy, else /usr/lib/debug/.build-id/xx/rest.debug),
 * and out->build_id_mismatch is set. The cache's copy of a build id's debug file also answers
 * for a module whose debug file has since gone (debug_cache.h).
 *
 * Returns 0 and fills *out; any field may be NULL/0 when unknown (no symbol covers vaddr, no
 * line info, or memory ran out). Returns -1, with *out all NULL/0, only when neither the module
 * file nor a debug file for its recorded build id can be opened and read; that failure is
 * cached per (path, build id). Never prints, never exits.
 */
int hg_symbolize(struct hg_symbolizer *s, const char *path, const uint8_t *build_id,
		 size_t build_id_len, uint64_t vaddr, struct hg_symbol *out);

/*
 * Open the module now, with its DWARF (whose sections a distribution compresses: libc's take
 * tens of milliseconds to inflate, unless debug_cache.h has them inflated already), so that
 * the first hg_symbolize() of it does not wait. The same cache as hg_symbolize(): a module
 * opened here is not opened again. Never prints.
 */
void hg_symbolizer_preload(struct hg_symbolizer *s, const char *path, const uint8_t *build_id,
			   size_t build_id_len);

/*
 * Demangle an Itanium C++ ABI symbol name ("_ZN3foo3barEi" gives "foo::bar(int)"). Names that
 * are not mangled, or that __cxa_demangle rejects, come back unchanged. The result is interned
 * in `s` and cached: the same `name` always gives the same pointer. Returns NULL when `name` is
 * NULL or memory ran out.
 */
const char *hg_demangle(struct hg_symbolizer *s, const char *name);

#endif /* HG_SYMBOLIZE_H */
