/*
 * symbolize_int.h - internal types and cross-file calls of the symbolizer
 *
 * Only symbolize.c, symbolize_dwarf.c and symbolize_intern.c include this header; everyone else
 * uses symbolize.h. symbolize.c owns the symbolizer and its modules (one Dwfl each) and answers
 * hg_symbolize() from a per-module address cache. symbolize_dwarf.c builds the lazy per-module
 * indexes that name the function at an address (DWARF compile units, then the ELF symbol
 * table). symbolize_intern.c holds the arena, the string interning and the small hash maps they
 * all use.
 *
 * Nothing in here prints or exits: when memory runs out, answers degrade to "unknown".
 */
#ifndef HG_SYMBOLIZE_INT_H
#define HG_SYMBOLIZE_INT_H

#include <elfutils/libdwfl.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolize.h"

#define HG_SYM_FNV_SEED 0xcbf29ce484222325ULL	/* FNV-1a 64-bit offset basis */

struct hg_sym_slot {
	uint64_t key;	/* the full key, or a string hash */
	void *val;	/* NULL: empty slot */
};

struct hg_sym_map {
	struct hg_sym_slot *slots; /* mask + 1 slots (a power of two), or NULL while empty */
	size_t mask;
	size_t n;		   /* used slots; kept at most half of the capacity */
};

struct hg_sym_chunk;		/* arena chunk (symbolize_intern.c) */
struct hg_sym_elfsym;		/* ELF symbol table entry (symbolize_dwarf.c) */

struct hg_sym_module {
	const char *path;	  /* interned */
	const uint8_t *build_id;  /* recorded build id (arena copy), NULL when none */
	size_t build_id_len;
	Dwfl *dwfl;		  /* NULL: neither the file nor a debug file could be opened */
	Dwfl_Module *mod;
	uint64_t bias;		  /* Dwfl address = ELF vaddr + bias */
	int mismatch;		  /* file on disk missing or of another build id */
	struct hg_sym_map addrs;  /* vaddr -> struct hg_symbol (arena) */
	struct hg_sym_map cus;	  /* CU DIE address -> struct hg_sym_cu (malloc) */
	struct hg_sym_elfsym *syms; /* sorted by addr, one per address */
	size_t n_syms;
	int syms_loaded;	  /* 1 once syms was built (possibly empty) */
	struct hg_sym_module *next; /* every module, for hg_symbolizer_free */
};

struct hg_symbolizer {
	struct hg_sym_map modules;   /* hash(path, build id) -> struct hg_sym_module */
	struct hg_sym_module *all;   /* the same modules as a list */
	struct hg_sym_map strings;   /* hash(text) -> interned text */
	struct hg_sym_map demangled; /* hash(mangled) -> struct hg_sym_demangled */
	struct hg_sym_chunk *chunks; /* arena; the head is the one being filled */
};

/* symbolize_intern.c: hashing, maps, arena, interning */

/* FNV-1a of len bytes at p, continuing from h (HG_SYM_FNV_SEED to start). */
uint64_t hg_sym_fnv(const void *p, size_t len, uint64_t h);

/*
 * The val stored under key, or NULL. Maps keyed by a hash pass eq, which returns non-zero when
 * a stored val is the one ctx describes; exact keys pass NULL.
 */
void *hg_sym_map_get(const struct hg_sym_map *m, uint64_t key,
		     int (*eq)(const void *val, const void *ctx), const void *ctx);

/* Add key -> val; the caller has checked that no equal entry exists. Returns -1 on OOM. */
int hg_sym_map_put(struct hg_sym_map *m, uint64_t key, void *val);

/* size bytes from the arena, 8-byte aligned; NULL on OOM. Freed with the symbolizer. */
void *hg_sym_alloc(struct hg_symbolizer *s, size_t size);

/* The interned copy of text; NULL on OOM or when text is NULL. */
const char *hg_sym_intern(struct hg_symbolizer *s, const char *text);

/* Free the arena and the string table; every pointer they handed out becomes invalid. */
void hg_sym_intern_release(struct hg_symbolizer *s);

/* symbolize_dwarf.c: function names by address */

/*
 * The innermost DWARF function containing Dwfl address addr in *function (interned), or NULL.
 * When it is an inline instance, also the functions it sits in, from the one it was inlined
 * into outward, each with the file and line of the call it holds (function, file, line of
 * out; the rest zero), up to max. Returns how many of those.
 */
size_t hg_sym_dwarf_function(struct hg_symbolizer *s, struct hg_sym_module *m, uint64_t addr,
			     const char **function, struct hg_symbol *out, size_t max);

/* Source path file, joined to the compile directory dir when relative (interned). */
const char *hg_sym_path_join(struct hg_symbolizer *s, const char *file, const char *dir);

/* The raw (possibly mangled) name of the ELF symbol covering Dwfl address addr, or NULL. */
const char *hg_sym_elfsym_find(struct hg_sym_module *m, uint64_t addr);

/* Free m's CU indexes and symbol table (m->cus, m->syms); m itself stays. */
void hg_sym_index_release(struct hg_sym_module *m);

#endif /* HG_SYMBOLIZE_INT_H */
