/*
 * symbolize_dwarf.c - name the function at an address: DWARF compile-unit index, ELF symbols
 *
 * The obvious libdw calls do not scale to 100k addresses: dwarf_getscopes() walks the CU's DIE
 * tree from its root on every call, and dwfl_module_addrinfo() scans the whole symbol table on
 * every call (160 us per lookup in libc, measured). So each module gets two lazily built
 * indexes (symbolize.c caches the answers per address on top of them):
 *
 *   - CU index: the first lookup that lands in a compile unit walks its DIEs once, collects the
 *     address ranges of every subprogram and inlined subroutine, and flattens the nested ranges
 *     into sorted disjoint segments that each name the innermost function. A lookup is then a
 *     binary search. An inlined subroutine also keeps the function it sits in, so that the
 *     functions an address was inlined into, and the lines of those calls, are named too. In
 *     C++ CUs the walk also records the enclosing namespaces and classes of each subprogram,
 *     to qualify the functions that GCC emits without a linkage name.
 *   - ELF symbols: the module's symbol table (libdwfl picks .symtab from the file or its debug
 *     file, else .dynsym) as an array sorted by address, one preferred name per address. Used
 *     only when DWARF has no function for the address.
 *
 * Index arrays are malloc'd; when memory runs out, an index is dropped (or left empty) and the
 * lookup answers "unknown" instead of failing.
 */
#include "symbolize_int.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HG_SYM_NONE UINT32_MAX		/* no function / no scope index */

/* A function DIE that owns at least one segment of a CU index. */
struct hg_sym_fn {
	Dwarf_Die die;		/* subprogram or inlined_subroutine; valid while the Dwfl lives */
	const char *name;	/* interned display name once resolved; NULL when it has none */
	int resolved;		/* 1 once name has been computed */
	uint32_t caller;	/* an inlined subroutine: the function it sits in (an index into
				   fns); HG_SYM_NONE for a subprogram, or when that is not known */
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

/* Record every code range of a function DIE (low/high pc or DW_AT_ranges); caller as in
 * struct hg_sym_fn. Returns its index in fns, HG_SYM_NONE when it has no code. */
static uint32_t hg_sym_build_ranges(struct hg_sym_cu_build *b, Dwarf_Die *die, uint32_t depth,
				    uint32_t caller)
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
			return HG_SYM_NONE;
		}
		fn->die = *die;
		fn->caller = caller;
		r = HG_SYM_PUSH(b->ranges, b->n_ranges, b->cap_ranges);
		if (!r)
			b->oom = 1;
		else
			*r = (struct hg_sym_range){ lo, hi, (uint32_t)(fn - cu->fns), depth };
	}
	return fn ? (uint32_t)(fn - cu->fns) : HG_SYM_NONE;
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
 * puts function definitions inside namespaces and classes; a CU is walked only once. fn is the
 * function with code that parent is in (HG_SYM_NONE outside any).
 */
static void hg_sym_build_walk(struct hg_sym_cu_build *b, Dwarf_Die *parent, uint32_t depth,
			      uint32_t scope, uint32_t fn)
{
	Dwarf_Die child, next;

	if (dwarf_child(parent, &child) != 0)
		return;
	for (;;) {
		int tag = dwarf_tag(&child);
		uint32_t inner = scope, in_fn = fn, k;

		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
			k = hg_sym_build_ranges(b, &child, depth,
						tag == DW_TAG_inlined_subroutine ? fn : HG_SYM_NONE);
			if (k != HG_SYM_NONE)
				in_fn = k;
		}
		if (b->cu->cplusplus)
			inner = hg_sym_build_scope(b, &child, tag, scope);
		hg_sym_build_walk(b, &child, depth + 1, inner, in_fn);
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
	hg_sym_build_walk(&b, cudie, 0, HG_SYM_NONE, HG_SYM_NONE);
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

static const char *hg_sym_fn_name(struct hg_symbolizer *s, const struct hg_sym_cu *cu,
				  struct hg_sym_fn *fn)
{
	if (!fn->resolved) {
		fn->name = hg_sym_die_name(s, cu, &fn->die);
		fn->resolved = 1;
	}
	return fn->name;
}

/* The innermost function at Dwfl address addr, with its CU (*cudie, *cu); NULL when none. */
static struct hg_sym_fn *hg_sym_fn_at(struct hg_sym_module *m, uint64_t addr, Dwarf_Die **cudie,
				      struct hg_sym_cu **cu)
{
	Dwarf_Addr dw_bias;
	const struct hg_sym_seg *seg;

	*cudie = dwfl_module_addrdie(m->mod, addr, &dw_bias);
	if (!*cudie || !(*cu = hg_sym_cu_get(m, *cudie)))
		return NULL;
	seg = hg_sym_seg_find(*cu, addr - dw_bias);
	return seg ? &(*cu)->fns[seg->fn] : NULL;
}

/* Where the inline instance die was called from: the file (interned) and *line. */
static const char *hg_sym_call_site(struct hg_symbolizer *s, Dwarf_Die *cudie, Dwarf_Die *die,
				    uint32_t *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word idx, n;
	Dwarf_Files *files;
	size_t n_files;
	const char *dir = NULL;

	*line = 0;
	if (dwarf_attr(die, DW_AT_call_line, &attr) && dwarf_formudata(&attr, &n) == 0 &&
	    n <= UINT32_MAX)
		*line = (uint32_t)n;
	if (!dwarf_attr(die, DW_AT_call_file, &attr) || dwarf_formudata(&attr, &idx) != 0 ||
	    dwarf_getsrcfiles(cudie, &files, &n_files) != 0 || idx >= n_files)
		return NULL;
	if (dwarf_attr(cudie, DW_AT_comp_dir, &attr))
		dir = dwarf_formstring(&attr);
	return hg_sym_path_join(s, dwarf_filesrc(files, idx, NULL, NULL), dir);
}

size_t hg_sym_dwarf_function(struct hg_symbolizer *s, struct hg_sym_module *m, uint64_t addr,
			     const char **function, struct hg_symbol *out, size_t max)
{
	Dwarf_Die *cudie;
	struct hg_sym_cu *cu;
	struct hg_sym_fn *fn = hg_sym_fn_at(m, addr, &cudie, &cu);
	size_t n = 0;

	*function = fn ? hg_sym_fn_name(s, cu, fn) : NULL;
	/* n <= n_fns also ends a malformed chain that loops */
	while (fn && fn->caller != HG_SYM_NONE && n < max && n <= cu->n_fns) {
		struct hg_sym_fn *outer = &cu->fns[fn->caller];

		memset(&out[n], 0, sizeof(out[n]));
		out[n].function = hg_sym_fn_name(s, cu, outer);
		out[n].file = hg_sym_call_site(s, cudie, &fn->die, &out[n].line);
		n++;
		fn = outer;
	}
	return n;
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

const char *hg_sym_elfsym_find(struct hg_sym_module *m, uint64_t addr)
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

void hg_sym_index_release(struct hg_sym_module *m)
{
	for (size_t i = 0; m->cus.slots && i <= m->cus.mask; i++)
		hg_sym_cu_free(m->cus.slots[i].val);
	free(m->cus.slots);
	free(m->syms);
}
