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
 * Lookups are answered from three lazily built indexes, because the obvious libdw calls do not
 * scale to 100k addresses: dwarf_getscopes() walks the CU's DIE tree from its root on every
 * call, and dwfl_module_addrinfo() scans the whole symbol table on every call (160 us per
 * lookup in libc, measured).
 *
 *   - addrs: per module, vaddr -> struct hg_symbol. Each address is resolved once.
 *   - CU index: the first lookup that lands in a compile unit walks its DIEs once, collects the
 *     address ranges of every subprogram and inlined subroutine, and flattens the nested ranges
 *     into sorted disjoint segments that each name the innermost function. A lookup is then a
 *     binary search. In C++ CUs the walk also records the enclosing namespaces and classes of
 *     each subprogram, to qualify the functions that GCC emits without a linkage name.
 *   - ELF symbols: the module's symbol table (libdwfl picks .symtab from the file or its debug
 *     file, else .dynsym) as an array sorted by address, one preferred name per address. Used
 *     only when DWARF has no function for the address.
 *
 * Strings are interned in an arena owned by the symbolizer, so equal names are equal pointers.
 * Hash tables are small open-addressing maps keyed by a 64-bit value (an address, or a string
 * hash plus an equality callback). They are local rather than uthash because uthash exits on
 * out-of-memory, and this module must neither print nor exit: when memory runs out, the answer
 * degrades to "unknown" instead.
 */
#include "symbolize.h"

#include "hg_compiler.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* From libstdc++ (Itanium C++ ABI); declared here so that this file stays plain C. */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

#define HG_SYM_DEBUG_DIR "/usr/lib/debug"
#define HG_SYM_MAX_BUILD_ID 64		/* bytes; GNU build ids are 20 (sha1) or 16 (md5) */
#define HG_SYM_CHUNK_BYTES (64 * 1024)	/* arena chunk size; larger requests get their own */
#define HG_SYM_NONE UINT32_MAX		/* no function / no scope index */
#define HG_SYM_FNV_SEED 0xcbf29ce484222325ULL	/* FNV-1a 64-bit offset basis */

/* ------------------------------------------------------------------------------------------ */
/* Types                                                                                      */
/* ------------------------------------------------------------------------------------------ */

struct hg_sym_slot {
	uint64_t key;	/* the full key, or a string hash */
	void *val;	/* NULL: empty slot */
};

struct hg_sym_map {
	struct hg_sym_slot *slots; /* mask + 1 slots (a power of two), or NULL while empty */
	size_t mask;
	size_t n;		   /* used slots; kept at most half of the capacity */
};

struct hg_sym_chunk {
	struct hg_sym_chunk *next;
	size_t used;		/* bytes of data handed out */
	size_t cap;		/* bytes of data */
	uint64_t data[];	/* 8-byte aligned storage */
};

struct hg_sym_demangled {
	const char *mangled;	/* interned input */
	const char *name;	/* interned result (== mangled when it did not demangle) */
};

/* A function DIE that owns at least one segment of a CU index. */
struct hg_sym_fn {
	Dwarf_Die die;		/* subprogram or inlined_subroutine; valid while the Dwfl lives */
	const char *name;	/* interned display name once resolved; NULL when it has none */
	int resolved;		/* 1 once name has been computed */
};

/* [lo, hi) in DWARF addresses, owned by fns[fn] and no deeper function. */
struct hg_sym_seg {
	uint64_t lo;
	uint64_t hi;
	uint32_t fn;
};

/* A namespace, class, struct, union or function that encloses other DIEs of a C++ CU. */
struct hg_sym_scope {
	const char *name;	/* DW_AT_name (owned by libdw) or a static placeholder */
	uint32_t parent;	/* index into scopes; HG_SYM_NONE at CU level */
};

/* Where a subprogram DIE of a C++ CU sits, to qualify names that have no linkage name. */
struct hg_sym_decl {
	Dwarf_Off off;		/* dwarf_dieoffset() */
	uint32_t scope;		/* innermost enclosing scope; HG_SYM_NONE at CU level */
};

/* Index of one compile unit. Arrays are malloc'd with cap_* elements allocated. */
struct hg_sym_cu {
	Dwarf_CU *unit;			/* identifies DIEs of this CU */
	int cplusplus;			/* C++: scopes and decls are filled in */
	struct hg_sym_seg *segs;	/* sorted by lo, disjoint */
	struct hg_sym_fn *fns;
	struct hg_sym_scope *scopes;
	struct hg_sym_decl *decls;	/* sorted by off: the walk visits DIEs in offset order */
	size_t n_segs, n_fns, n_scopes, n_decls;
	size_t cap_segs, cap_fns, cap_scopes, cap_decls;
};

/* One function address range seen while walking a CU, before flattening. */
struct hg_sym_range {
	uint64_t lo;
	uint64_t hi;
	uint32_t fn;
	uint32_t depth;		/* DIE nesting depth; breaks ties at equal lo, outer first */
};

struct hg_sym_cu_build {
	struct hg_sym_cu *cu;	/* being filled */
	struct hg_sym_range *ranges;
	size_t n_ranges, cap_ranges;
	int oom;		/* an append failed; the index is dropped */
};

struct hg_sym_elfsym {
	uint64_t addr;		/* Dwfl address */
	uint64_t size_bytes;	/* 0: unknown, extends to the next symbol */
	const char *name;	/* raw (possibly mangled) name, owned by libelf */
	unsigned rank;		/* lower wins among symbols at one address */
};

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

struct hg_sym_modkey {
	const char *path;
	const uint8_t *build_id;
	size_t build_id_len;
};

struct hg_symbolizer {
	struct hg_sym_map modules;   /* hash(path, build id) -> struct hg_sym_module */
	struct hg_sym_module *all;   /* the same modules as a list */
	struct hg_sym_map strings;   /* hash(text) -> interned text */
	struct hg_sym_map demangled; /* hash(mangled) -> struct hg_sym_demangled */
	struct hg_sym_chunk *chunks; /* arena; the head is the one being filled */
};

static const Dwfl_Callbacks hg_sym_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = NULL,	/* libdwfl default: ":.debug:/usr/lib/debug" */
};

/* ------------------------------------------------------------------------------------------ */
/* Hashing, maps and the arena                                                                */
/* ------------------------------------------------------------------------------------------ */

static uint64_t hg_sym_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static uint64_t hg_sym_fnv(const void *p, size_t len, uint64_t h)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * The slot holding key, or the empty slot that ends its probe. Maps keyed by a hash pass eq,
 * which returns non-zero when a stored val is the one ctx describes; exact keys pass NULL.
 */
static struct hg_sym_slot *hg_sym_map_probe(const struct hg_sym_map *m, uint64_t key,
					    int (*eq)(const void *val, const void *ctx),
					    const void *ctx)
{
	size_t i = hg_sym_mix(key) & m->mask;

	for (;; i = (i + 1) & m->mask) {
		struct hg_sym_slot *sl = &m->slots[i];

		if (!sl->val || (sl->key == key && (!eq || eq(sl->val, ctx))))
			return sl;
	}
}

static void *hg_sym_map_get(const struct hg_sym_map *m, uint64_t key,
			    int (*eq)(const void *val, const void *ctx), const void *ctx)
{
	return m->slots ? hg_sym_map_probe(m, key, eq, ctx)->val : NULL;
}

static int hg_sym_map_grow(struct hg_sym_map *m)
{
	size_t old_cap = m->slots ? m->mask + 1 : 0;
	size_t cap = old_cap ? old_cap * 2 : 64;
	struct hg_sym_slot *old = m->slots;
	struct hg_sym_slot *slots = calloc(cap, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < old_cap; i++) {
		size_t j = hg_sym_mix(old[i].key) & (cap - 1);

		if (!old[i].val)
			continue;
		while (slots[j].val)
			j = (j + 1) & (cap - 1);
		slots[j] = old[i];
	}
	free(old);
	m->slots = slots;
	m->mask = cap - 1;
	return 0;
}

/* Add key -> val; the caller has checked that no equal entry exists. Returns -1 on OOM. */
static int hg_sym_map_put(struct hg_sym_map *m, uint64_t key, void *val)
{
	size_t i;

	if ((m->n + 1) * 2 > (m->slots ? m->mask + 1 : 0) && hg_sym_map_grow(m) != 0)
		return -1;
	i = hg_sym_mix(key) & m->mask;
	while (m->slots[i].val)
		i = (i + 1) & m->mask;
	m->slots[i].key = key;
	m->slots[i].val = val;
	m->n++;
	return 0;
}

static HG_NOINLINE HG_COLD void *hg_sym_alloc_slow(struct hg_symbolizer *s, size_t size)
{
	size_t cap = size > HG_SYM_CHUNK_BYTES ? size : HG_SYM_CHUNK_BYTES;
	struct hg_sym_chunk *c = malloc(sizeof(*c) + cap);

	if (!c)
		return NULL;
	c->next = s->chunks;
	c->cap = cap;
	c->used = size;
	s->chunks = c;
	return c->data;
}

/* size bytes from the arena, 8-byte aligned; NULL on OOM. Freed with the symbolizer. */
static void *hg_sym_alloc(struct hg_symbolizer *s, size_t size)
{
	struct hg_sym_chunk *c = s->chunks;
	size_t off;

	size = (size + 7) & ~(size_t)7;
	if (!c || c->cap - c->used < size)
		return hg_sym_alloc_slow(s, size);
	off = c->used;
	c->used += size;
	return (char *)c->data + off;
}

static int hg_sym_str_eq(const void *val, const void *ctx)
{
	return strcmp(val, ctx) == 0;
}

/* The interned copy of text; NULL on OOM or when text is NULL. */
static const char *hg_sym_intern(struct hg_symbolizer *s, const char *text)
{
	size_t len;
	uint64_t h;
	char *copy;

	if (!text)
		return NULL;
	len = strlen(text);
	h = hg_sym_fnv(text, len, HG_SYM_FNV_SEED);
	copy = hg_sym_map_get(&s->strings, h, hg_sym_str_eq, text);
	if (copy)
		return copy;
	copy = hg_sym_alloc(s, len + 1);
	if (!copy)
		return NULL;
	memcpy(copy, text, len + 1);
	return hg_sym_map_put(&s->strings, h, copy) == 0 ? copy : NULL;
}

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
/* CU index: innermost function by address                                                    */
/* ------------------------------------------------------------------------------------------ */

static void *hg_sym_grow(void *arr, size_t *cap, size_t elem_bytes)
{
	size_t n = *cap ? *cap * 2 : 64;
	void *p = realloc(arr, n * elem_bytes);

	if (p)
		*cap = n;
	return p;
}

/* Append a zeroed element to arr (n used, cap allocated): its address, or NULL on OOM. */
#define HG_SYM_PUSH(arr, n, cap) __extension__({					\
	__typeof__(arr) p_ = (n) < (cap) ? (arr) : hg_sym_grow((arr), &(cap), sizeof(*(arr)));	\
	if (p_) {									\
		(arr) = p_;								\
		memset(&p_[(n)], 0, sizeof(*p_));					\
	}										\
	p_ ? &p_[(n)++] : NULL;								\
})

/* Record every code range of a function DIE (low/high pc or DW_AT_ranges). */
static void hg_sym_build_ranges(struct hg_sym_cu_build *b, Dwarf_Die *die, uint32_t depth)
{
	struct hg_sym_cu *cu = b->cu;
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	struct hg_sym_fn *fn = NULL;
	struct hg_sym_range *r;

	while (!b->oom && (off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (lo >= hi)
			continue;
		if (!fn && (cu->n_fns >= HG_SYM_NONE ||
			    !(fn = HG_SYM_PUSH(cu->fns, cu->n_fns, cu->cap_fns)))) {
			b->oom = 1;
			return;
		}
		fn->die = *die;
		r = HG_SYM_PUSH(b->ranges, b->n_ranges, b->cap_ranges);
		if (!r)
			b->oom = 1;
		else
			*r = (struct hg_sym_range){ lo, hi, (uint32_t)(fn - cu->fns), depth };
	}
}

/* In C++, remember where a subprogram sits and open a scope; returns the scope for children. */
static uint32_t hg_sym_build_scope(struct hg_sym_cu_build *b, Dwarf_Die *die, int tag,
				   uint32_t scope)
{
	struct hg_sym_cu *cu = b->cu;
	struct hg_sym_scope *sc;
	struct hg_sym_decl *decl;

	if (tag == DW_TAG_subprogram) {
		if (!(decl = HG_SYM_PUSH(cu->decls, cu->n_decls, cu->cap_decls))) {
			b->oom = 1;
			return scope;
		}
		*decl = (struct hg_sym_decl){ dwarf_dieoffset(die), scope };
	} else if (tag != DW_TAG_namespace && tag != DW_TAG_class_type &&
		   tag != DW_TAG_structure_type && tag != DW_TAG_union_type) {
		return scope;
	}
	if (cu->n_scopes >= HG_SYM_NONE ||
	    !(sc = HG_SYM_PUSH(cu->scopes, cu->n_scopes, cu->cap_scopes))) {
		b->oom = 1;
		return scope;
	}
	sc->name = dwarf_diename(die);
	if (!sc->name)
		sc->name = tag == DW_TAG_namespace ? "(anonymous namespace)" : "{unnamed}";
	sc->parent = scope;
	return (uint32_t)(cu->n_scopes - 1);
}

/*
 * Walk the whole tree below parent. Every subtree is visited, not just scopes, because C++
 * puts function definitions inside namespaces and classes; a CU is walked only once.
 */
static void hg_sym_build_walk(struct hg_sym_cu_build *b, Dwarf_Die *parent, uint32_t depth,
			      uint32_t scope)
{
	Dwarf_Die child, next;

	if (dwarf_child(parent, &child) != 0)
		return;
	for (;;) {
		int tag = dwarf_tag(&child);
		uint32_t inner = scope;

		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine)
			hg_sym_build_ranges(b, &child, depth);
		if (b->cu->cplusplus)
			inner = hg_sym_build_scope(b, &child, tag, scope);
		hg_sym_build_walk(b, &child, depth + 1, inner);
		if (b->oom || dwarf_siblingof(&child, &next) != 0)
			return;
		child = next;
	}
}

static int hg_sym_range_cmp(const void *pa, const void *pb)
{
	const struct hg_sym_range *a = pa, *b = pb;

	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	if (a->depth != b->depth)
		return a->depth < b->depth ? -1 : 1;
	if (a->hi != b->hi)
		return a->hi > b->hi ? -1 : 1;
	return 0;
}

/* Append [lo, hi) -> fn, merging with the previous segment when they touch. */
static int hg_sym_emit(struct hg_sym_cu *cu, uint64_t lo, uint64_t hi, uint32_t fn)
{
	struct hg_sym_seg *last = cu->n_segs ? &cu->segs[cu->n_segs - 1] : NULL;

	if (lo >= hi)
		return 0;
	if (last && last->fn == fn && last->hi == lo) {
		last->hi = hi;
		return 0;
	}
	last = HG_SYM_PUSH(cu->segs, cu->n_segs, cu->cap_segs);
	if (!last)
		return -1;
	*last = (struct hg_sym_seg){ lo, hi, fn };
	return 0;
}

/*
 * Flatten ranges (sorted by hg_sym_range_cmp) into disjoint segments naming the innermost
 * range. `stack` holds the open ranges, outermost first, each clipped to its parent so that
 * malformed overlaps still produce disjoint output; `cur` is where the next segment starts.
 */
static int hg_sym_flatten(struct hg_sym_cu *cu, struct hg_sym_range *r, size_t n,
			  struct hg_sym_range *stack)
{
	size_t sp = 0;
	uint64_t cur = 0;
	int err = 0;

	for (size_t i = 0; i <= n && !err; i++) {
		uint64_t until = i < n ? r[i].lo : UINT64_MAX;

		while (sp && stack[sp - 1].hi <= until && !err) {
			err = hg_sym_emit(cu, cur, stack[sp - 1].hi, stack[sp - 1].fn);
			cur = stack[--sp].hi;
		}
		if (i == n || err)
			break;
		if (sp)
			err = hg_sym_emit(cu, cur, r[i].lo, stack[sp - 1].fn);
		cur = r[i].lo;
		stack[sp] = r[i];
		if (sp && stack[sp].hi > stack[sp - 1].hi)
			stack[sp].hi = stack[sp - 1].hi;
		if (stack[sp].hi > cur)
			sp++;
	}
	return err;
}

static void hg_sym_cu_free(struct hg_sym_cu *cu)
{
	if (!cu)
		return;
	free(cu->segs);
	free(cu->fns);
	free(cu->scopes);
	free(cu->decls);
	free(cu);
}

static int hg_sym_is_cplusplus(Dwarf_Die *cudie)
{
	int lang = dwarf_srclang(cudie);

	return lang == DW_LANG_C_plus_plus || lang == DW_LANG_C_plus_plus_03 ||
	       lang == DW_LANG_C_plus_plus_11 || lang == DW_LANG_C_plus_plus_14;
}

/* Build the index of one CU; NULL on OOM. */
static struct hg_sym_cu *hg_sym_cu_build(Dwarf_Die *cudie)
{
	struct hg_sym_cu_build b = { .cu = calloc(1, sizeof(struct hg_sym_cu)) };
	struct hg_sym_range *stack = NULL;

	if (!b.cu)
		return NULL;
	b.cu->unit = cudie->cu;
	b.cu->cplusplus = hg_sym_is_cplusplus(cudie);
	hg_sym_build_walk(&b, cudie, 0, HG_SYM_NONE);
	if (!b.oom && b.n_ranges) {
		qsort(b.ranges, b.n_ranges, sizeof(*b.ranges), hg_sym_range_cmp);
		stack = malloc(b.n_ranges * sizeof(*stack));
		b.oom = !stack || hg_sym_flatten(b.cu, b.ranges, b.n_ranges, stack) != 0;
	}
	free(stack);
	free(b.ranges);
	if (b.oom) {
		hg_sym_cu_free(b.cu);
		return NULL;
	}
	return b.cu;
}

/* The index of the CU holding DIE cudie, built on first use; NULL on OOM. */
static struct hg_sym_cu *hg_sym_cu_get(struct hg_sym_module *m, Dwarf_Die *cudie)
{
	/* The DIE's address inside the mapped debug section identifies the CU, whatever file. */
	uint64_t key = (uint64_t)(uintptr_t)cudie->addr;
	struct hg_sym_cu *cu = hg_sym_map_get(&m->cus, key, NULL, NULL);

	if (cu)
		return cu;
	cu = hg_sym_cu_build(cudie);
	if (cu && hg_sym_map_put(&m->cus, key, cu) != 0) {
		hg_sym_cu_free(cu);
		return NULL;
	}
	return cu;
}

static const struct hg_sym_seg *hg_sym_seg_find(const struct hg_sym_cu *cu, uint64_t addr)
{
	size_t lo = 0, hi = cu->n_segs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cu->segs[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= cu->segs[lo - 1].hi)
		return NULL;
	return &cu->segs[lo - 1];
}

/* The scope enclosing the declaration of die (following origin and specification links). */
static uint32_t hg_sym_decl_scope(const struct hg_sym_cu *cu, Dwarf_Die *die)
{
	Dwarf_Die decl = *die, next;
	Dwarf_Attribute attr;
	Dwarf_Off off;
	size_t lo = 0, hi = cu->n_decls;

	for (int hops = 0; hops < 8; hops++) {
		if (!dwarf_attr(&decl, DW_AT_abstract_origin, &attr) &&
		    !dwarf_attr(&decl, DW_AT_specification, &attr))
			break;
		if (!dwarf_formref_die(&attr, &next))
			break;
		decl = next;
	}
	if (decl.cu != cu->unit)
		return HG_SYM_NONE;
	off = dwarf_dieoffset(&decl);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cu->decls[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < cu->n_decls && cu->decls[lo].off == off ? cu->decls[lo].scope : HG_SYM_NONE;
}

/* "ns::Class::name" built from the scopes that enclose die's declaration. */
static const char *hg_sym_qualify(struct hg_symbolizer *s, const struct hg_sym_cu *cu,
				  Dwarf_Die *die, const char *name)
{
	const char *parts[32];
	size_t n = 0, len = 0;
	char buf[2048];

	for (uint32_t sc = hg_sym_decl_scope(cu, die); sc != HG_SYM_NONE && n < 32;
	     sc = cu->scopes[sc].parent)
		parts[n++] = cu->scopes[sc].name;
	while (n > 0 && len < sizeof(buf))
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s::", parts[--n]);
	if (len < sizeof(buf))
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s", name);
	return hg_sym_intern(s, len < sizeof(buf) ? buf : name);
}

/*
 * C++ functions are named by their demangled linkage name, which carries the scope and the
 * parameters that DW_AT_name lacks. GCC omits the linkage name of functions without linkage
 * (templates instantiated on a lambda type, say); those get DW_AT_name qualified by the
 * enclosing scopes. A C linkage name is only an asm label (glibc's qsort is "__GI_qsort"), so
 * C functions are named by DW_AT_name, the name in the source.
 */
static const char *hg_sym_die_name(struct hg_symbolizer *s, const struct hg_sym_cu *cu,
				   Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *linkage = NULL, *name = NULL;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		linkage = dwarf_formstring(&attr);
	if (linkage && linkage[0] == '_' && linkage[1] == 'Z')
		return hg_demangle(s, linkage);
	if (dwarf_attr_integrate(die, DW_AT_name, &attr))
		name = dwarf_formstring(&attr);
	if (!name)
		return hg_sym_intern(s, linkage);
	return cu->cplusplus ? hg_sym_qualify(s, cu, die, name) : hg_sym_intern(s, name);
}

/* The innermost DWARF function containing Dwfl address addr, or NULL. */
static const char *hg_sym_dwarf_function(struct hg_symbolizer *s, struct hg_sym_module *m,
					 uint64_t addr)
{
	Dwarf_Addr dw_bias;
	Dwarf_Die *cudie = dwfl_module_addrdie(m->mod, addr, &dw_bias);
	const struct hg_sym_seg *seg;
	struct hg_sym_fn *fn;
	struct hg_sym_cu *cu;

	if (!cudie || !(cu = hg_sym_cu_get(m, cudie)))
		return NULL;
	seg = hg_sym_seg_find(cu, addr - dw_bias);
	if (!seg)
		return NULL;
	fn = &cu->fns[seg->fn];
	if (!fn->resolved) {
		fn->name = hg_sym_die_name(s, cu, &fn->die);
		fn->resolved = 1;
	}
	return fn->name;
}

/* ------------------------------------------------------------------------------------------ */
/* ELF symbol table fallback                                                                  */
/* ------------------------------------------------------------------------------------------ */

/* Among aliases, prefer global over weak over local, sized, then fewer leading underscores. */
static unsigned hg_sym_elfsym_rank(const GElf_Sym *sym, const char *name)
{
	unsigned bind = GELF_ST_BIND(sym->st_info);
	unsigned rank = bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2;
	unsigned underscores = 0;

	while (name[underscores] == '_' && underscores < 15)
		underscores++;
	return rank << 5 | (sym->st_size == 0) << 4 | underscores;
}

static int hg_sym_elfsym_cmp(const void *pa, const void *pb)
{
	const struct hg_sym_elfsym *a = pa, *b = pb;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return strcmp(a->name, b->name);
}

/* Collect defined function symbols; sorted, one per address. Empty on OOM or no symtab. */
static void hg_sym_elfsym_load(struct hg_sym_module *m)
{
	int n = dwfl_module_getsymtab(m->mod);
	size_t kept = 0;

	m->syms_loaded = 1;
	if (n <= 0 || !(m->syms = malloc((size_t)n * sizeof(*m->syms))))
		return;
	for (int i = 0; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &addr, &shndx, NULL,
							   NULL);

		if (!name || !*name || shndx == SHN_UNDEF ||
		    (GELF_ST_TYPE(sym.st_info) != STT_FUNC &&
		     GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC))
			continue;
		m->syms[m->n_syms++] = (struct hg_sym_elfsym){ addr, sym.st_size, name,
							       hg_sym_elfsym_rank(&sym, name) };
	}
	qsort(m->syms, m->n_syms, sizeof(*m->syms), hg_sym_elfsym_cmp);
	for (size_t i = 0; i < m->n_syms; i++)
		if (!kept || m->syms[kept - 1].addr != m->syms[i].addr)
			m->syms[kept++] = m->syms[i];
	m->n_syms = kept;
}

/* The raw name of the symbol covering Dwfl address addr, or NULL. */
static const char *hg_sym_elfsym_find(struct hg_sym_module *m, uint64_t addr)
{
	size_t lo = 0, hi;
	const struct hg_sym_elfsym *e;

	if (!m->syms_loaded)
		hg_sym_elfsym_load(m);
	hi = m->n_syms;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	e = &m->syms[lo - 1];
	return e->size_bytes == 0 || addr - e->addr < e->size_bytes ? e->name : NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* Modules                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Open `file` as m's single module. Returns -1, leaving m untouched, when it is not ELF. */
static int hg_sym_module_report(struct hg_sym_module *m, const char *file)
{
	Dwfl *dwfl = dwfl_begin(&hg_sym_callbacks);
	Dwfl_Module *mod;
	GElf_Addr bias;

	if (!dwfl)
		return -1;
	dwfl_report_begin(dwfl);
	/* base 0 + add_p_vaddr: an ET_DYN keeps its link-time addresses (see the top comment). */
	mod = dwfl_report_elf(dwfl, m->path, file, -1, 0, true);
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
 * Replace m's module by HG_SYM_DEBUG_DIR/.build-id/xx/rest.debug for the recorded build id: a
 * debug file has the symbol table, the DWARF and the program headers of the binary it was
 * split from. Returns -1, leaving m untouched, when there is no such file or it does not match.
 */
static int hg_sym_module_report_debug(struct hg_sym_module *m)
{
	struct hg_sym_module old = *m;
	char file[sizeof(HG_SYM_DEBUG_DIR) + 32 + 2 * HG_SYM_MAX_BUILD_ID];
	int len;

	if (m->build_id_len < 2 || m->build_id_len > HG_SYM_MAX_BUILD_ID)
		return -1;
	len = snprintf(file, sizeof(file), "%s/.build-id/%02x/", HG_SYM_DEBUG_DIR,
		       m->build_id[0]);
	for (size_t i = 1; i < m->build_id_len; i++)
		len += snprintf(file + len, sizeof(file) - (size_t)len, "%02x", m->build_id[i]);
	snprintf(file + len, sizeof(file) - (size_t)len, ".debug");
	if (hg_sym_module_report(m, file) != 0)
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
	if (hg_sym_module_report(m, m->path) != 0) {
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
	for (size_t i = 0; m->cus.slots && i <= m->cus.mask; i++)
		hg_sym_cu_free(m->cus.slots[i].val);
	free(m->cus.slots);
	free(m->addrs.slots);
	free(m->syms);
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
static const char *hg_sym_source_path(struct hg_symbolizer *s, Dwfl_Line *line, int *lineno)
{
	const char *file = dwfl_lineinfo(line, NULL, lineno, NULL, NULL, NULL);
	const char *dir = dwfl_line_comp_dir(line);
	char path[4096];
	int len;

	if (!file || file[0] == '/' || !dir || !dir[0])
		return hg_sym_intern(s, file);
	while (file[0] == '.' && file[1] == '/')
		file += 2;
	len = snprintf(path, sizeof(path), "%s/%s", dir, file);
	return hg_sym_intern(s, len > 0 && (size_t)len < sizeof(path) ? path : file);
}

static void hg_sym_resolve(struct hg_symbolizer *s, struct hg_sym_module *m, uint64_t addr,
			   struct hg_symbol *out)
{
	Dwfl_Line *line;
	int lineno = 0;

	out->function = hg_sym_dwarf_function(s, m, addr);
	if (!out->function)
		out->function = hg_demangle(s, hg_sym_elfsym_find(m, addr));
	line = dwfl_module_getsrc(m->mod, addr);
	if (line) {
		out->file = hg_sym_source_path(s, line, &lineno);
		out->line = lineno > 0 ? (uint32_t)lineno : 0;
	}
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
	while (s->chunks) {
		struct hg_sym_chunk *next = s->chunks->next;

		free(s->chunks);
		s->chunks = next;
	}
	free(s->modules.slots);
	free(s->strings.slots);
	free(s->demangled.slots);
	free(s);
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
