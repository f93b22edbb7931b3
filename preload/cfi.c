/*
 * cfi.c - how to step from a frame to its caller, read from the module's .eh_frame (x86-64)
 *
 * The module holding the address is found with dl_iterate_phdr; its PT_GNU_EH_FRAME segment
 * (.eh_frame_hdr) has a table of FDEs sorted by start address, searched by bisection. The FDE's
 * CIE and then the FDE's own call-frame instructions run up to the address, tracking the three
 * things a walk needs: the CFA, where rbp was saved and where the return address was. Anything
 * outside that shape (DWARF expressions, a CFA on another register, signal frames) is refused
 * and the capture goes to libunwind, so the rule is never a guess.
 *
 * Only encodings the GNU and LLVM toolchains emit for x86-64 are read; another one is refused
 * the same way.
 *
 * Runs in: inside malloc, the first time a code address is seen.
 */
#include <link.h>
#include <stddef.h>
#include <string.h>

#include "cfi.h"

/* DWARF register numbers of x86-64. */
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

/* Pointer encodings (DW_EH_PE_*). */
#define PE_OMIT 0xff
#define PE_ABSPTR 0x00
#define PE_ULEB 0x01
#define PE_UDATA2 0x02
#define PE_UDATA4 0x03
#define PE_UDATA8 0x04
#define PE_SLEB 0x09
#define PE_SDATA2 0x0a
#define PE_SDATA4 0x0b
#define PE_SDATA8 0x0c
#define PE_PCREL 0x10
#define PE_DATAREL 0x30
#define PE_INDIRECT 0x80

/* How a register is recovered, as far as the walk cares. */
enum how { SAME, SAVED, UNDEF, OTHER };

struct regrule {
	uint8_t how;
	int64_t off; /* SAVED: at cfa + off */
};

struct cfa_state {
	int cfa_reg;         /* -1: an expression */
	int64_t cfa_off;
	struct regrule rbp, ra;
};

#define STATE_STACK 8

struct reader {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t uleb(struct reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (r->p < r->end) {
		uint8_t b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static int64_t sleb(struct reader *r)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b = 0;

	while (r->p < r->end) {
		b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			return (int64_t)v;
		}
	}
	r->bad = 1;
	return 0;
}

static uint64_t fixed(struct reader *r, unsigned n)
{
	uint64_t v = 0;

	if ((size_t)(r->end - r->p) < n) {
		r->bad = 1;
		return 0;
	}
	memcpy(&v, r->p, n); /* little-endian */
	r->p += n;
	return v;
}

/* A pointer in encoding enc; datarel is relative to data_base. */
static uint64_t pointer(struct reader *r, uint8_t enc, uint64_t data_base)
{
	uint64_t at = (uint64_t)(uintptr_t)r->p, v;

	if (enc == PE_OMIT)
		return 0;
	switch (enc & 0x0f) {
	case PE_ABSPTR:
	case PE_UDATA8:
	case PE_SDATA8: v = fixed(r, 8); break;
	case PE_ULEB: v = uleb(r); break;
	case PE_SLEB: v = (uint64_t)sleb(r); break;
	case PE_UDATA2: v = fixed(r, 2); break;
	case PE_SDATA2: v = (uint64_t)(int64_t)(int16_t)fixed(r, 2); break;
	case PE_UDATA4: v = fixed(r, 4); break;
	case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)fixed(r, 4); break;
	default: r->bad = 1; return 0;
	}
	switch (enc & 0x70) {
	case 0: break;
	case PE_PCREL: v += at; break;
	case PE_DATAREL: v += data_base; break;
	default: r->bad = 1; return 0;
	}
	if (enc & PE_INDIRECT) {
		if (!v) {
			r->bad = 1;
			return 0;
		}
		memcpy(&v, (const void *)(uintptr_t)v, sizeof(v));
	}
	return v;
}

/* The module that maps pc: its .eh_frame_hdr. */
struct module_query {
	uint64_t pc;
	const uint8_t *hdr;
};

static int find_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct module_query *q = arg;
	const ElfW(Phdr) *eh = NULL;
	int inside = 0;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uint64_t lo = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && q->pc >= lo && q->pc < lo + ph->p_memsz)
			inside = 1;
		else if (ph->p_type == PT_GNU_EH_FRAME)
			eh = ph;
	}
	if (!inside)
		return 0;
	if (eh)
		q->hdr = (const uint8_t *)(uintptr_t)(info->dlpi_addr + eh->p_vaddr);
	return 1;
}

/* The FDE covering pc, found through the sorted table of .eh_frame_hdr; NULL if none. */
static const uint8_t *find_fde(const uint8_t *hdr, uint64_t pc)
{
	struct reader r = { hdr + 4, hdr + 64, 0 };
	uint64_t base = (uint64_t)(uintptr_t)hdr, count;
	const int32_t *table;
	size_t lo = 0, hi;

	/* version 1; the table must be pairs of 4-byte offsets from the header (datarel sdata4) */
	if (hdr[0] != 1 || hdr[3] != (PE_DATAREL | PE_SDATA4))
		return NULL;
	pointer(&r, hdr[1], base); /* eh_frame_ptr, not needed */
	count = pointer(&r, hdr[2], base);
	if (r.bad || !count)
		return NULL;
	table = (const int32_t *)(const void *)r.p;
	hi = (size_t)count;
	/* the last entry whose start is <= pc */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (base + (uint64_t)(int64_t)table[2 * mid] <= pc)
			lo = mid;
		else
			hi = mid;
	}
	if (base + (uint64_t)(int64_t)table[2 * lo] > pc)
		return NULL;
	return (const uint8_t *)(uintptr_t)(base + (uint64_t)(int64_t)table[2 * lo + 1]);
}

/* A CIE or FDE: its length word and where its contents end; NULL for a 64-bit or empty one. */
static const uint8_t *entry_body(const uint8_t *at, const uint8_t **end)
{
	uint32_t len;

	memcpy(&len, at, 4);
	if (len == 0 || len == 0xffffffffu)
		return NULL;
	*end = at + 4 + len;
	return at + 4;
}

struct cie {
	uint64_t code_align;
	int64_t data_align;
	uint8_t fde_enc;
	int has_aug_len; /* 'z' */
	const uint8_t *insns, *insns_end;
};

static int parse_cie(const uint8_t *at, struct cie *c)
{
	const uint8_t *end, *body = entry_body(at, &end);
	struct reader r;
	const char *aug;
	uint32_t id;
	uint8_t version;

	if (!body)
		return -1;
	r.p = body;
	r.end = end;
	r.bad = 0;
	id = (uint32_t)fixed(&r, 4);
	version = (uint8_t)fixed(&r, 1);
	if (id != 0 || (version != 1 && version != 3))
		return -1;
	aug = (const char *)r.p;
	while (r.p < r.end && *r.p)
		r.p++;
	r.p++;
	c->code_align = uleb(&r);
	c->data_align = sleb(&r);
	if ((version == 1 ? fixed(&r, 1) : uleb(&r)) != REG_RA)
		return -1;
	c->fde_enc = PE_ABSPTR;
	c->has_aug_len = aug[0] == 'z';
	if (c->has_aug_len) {
		uint64_t n = uleb(&r);
		const uint8_t *aug_end = r.p + n;

		for (const char *a = aug + 1; *a && !r.bad; a++) {
			switch (*a) {
			case 'R': c->fde_enc = (uint8_t)fixed(&r, 1); break;
			case 'L': fixed(&r, 1); break;
			case 'P': {
				uint8_t enc = (uint8_t)fixed(&r, 1);
				pointer(&r, (uint8_t)(enc & ~PE_INDIRECT), 0);
				break;
			}
			default: return -1; /* 'S' (a signal frame) and anything unknown */
			}
		}
		r.p = aug_end;
	} else if (aug[0]) {
		return -1;
	}
	if (r.bad || r.p > r.end)
		return -1;
	c->insns = r.p;
	c->insns_end = end;
	return 0;
}

/* The rule a register gets from one instruction, if it is one of ours. */
static struct regrule *reg_of(struct cfa_state *s, uint64_t reg)
{
	return reg == REG_RBP ? &s->rbp : reg == REG_RA ? &s->ra : NULL;
}

/* reg is saved at cfa + off. */
static void saved_at(struct cfa_state *s, uint64_t reg, int64_t off)
{
	struct regrule *rr = reg_of(s, reg);

	if (rr) {
		rr->how = SAVED;
		rr->off = off;
	}
}

/*
 * Run instructions [p, end) from location loc up to pc. init is the state after the CIE's
 * instructions (for DW_CFA_restore); NULL while running them. Returns -1 on anything the rule
 * cannot follow.
 */
static int run(const uint8_t *p, const uint8_t *end, const struct cie *c, uint64_t loc,
	       uint64_t pc, struct cfa_state *s, const struct cfa_state *init)
{
	struct cfa_state saved[STATE_STACK];
	int depth = 0;
	struct reader r = { p, end, 0 };

	while (r.p < r.end && !r.bad) {
		uint8_t op = *r.p++;
		uint64_t reg, delta = 0;
		struct regrule *rr;

		switch (op >> 6) {
		case 1: delta = op & 0x3f; goto advance;
		case 2: saved_at(s, op & 0x3f, (int64_t)uleb(&r) * c->data_align); continue;
		case 3:
			if (!init)
				return -1;
			if ((rr = reg_of(s, op & 0x3f)))
				*rr = *reg_of((struct cfa_state *)init, op & 0x3f);
			continue;
		}
		switch (op) {
		case 0x00: continue; /* nop */
		case 0x01: return -1; /* set_loc: not emitted for x86-64 */
		case 0x02: delta = fixed(&r, 1); goto advance;
		case 0x03: delta = fixed(&r, 2); goto advance;
		case 0x04: delta = fixed(&r, 4); goto advance;
		case 0x05: /* offset_extended */
			reg = uleb(&r);
			saved_at(s, reg, (int64_t)uleb(&r) * c->data_align);
			continue;
		case 0x06: /* restore_extended */
			reg = uleb(&r);
			if (!init)
				return -1;
			if ((rr = reg_of(s, reg)))
				*rr = *reg_of((struct cfa_state *)init, reg);
			continue;
		case 0x07: /* undefined */
		case 0x08: /* same_value */
			if ((rr = reg_of(s, uleb(&r))))
				rr->how = op == 0x07 ? UNDEF : SAME;
			continue;
		case 0x09: /* register */
		case 0x14: /* val_offset */
		case 0x15: /* val_offset_sf: its operand is signed, which skips the same bytes */
			if ((rr = reg_of(s, uleb(&r))))
				rr->how = OTHER;
			uleb(&r);
			continue;
		case 0x0a:
			if (depth == STATE_STACK)
				return -1;
			saved[depth++] = *s;
			continue;
		case 0x0b: /* restore_state: the whole row, CFA included, as libgcc reads it */
			if (!depth)
				return -1;
			*s = saved[--depth];
			continue;
		case 0x0c: /* def_cfa */
			s->cfa_reg = (int)uleb(&r);
			s->cfa_off = (int64_t)uleb(&r);
			continue;
		case 0x0d: s->cfa_reg = (int)uleb(&r); continue;
		case 0x0e: s->cfa_off = (int64_t)uleb(&r); continue;
		case 0x0f: /* def_cfa_expression */
			s->cfa_reg = -1;
			r.p += uleb(&r);
			continue;
		case 0x10: /* expression */
		case 0x16: /* val_expression */
			if ((rr = reg_of(s, uleb(&r))))
				rr->how = OTHER;
			r.p += uleb(&r);
			continue;
		case 0x11: /* offset_extended_sf */
			reg = uleb(&r);
			saved_at(s, reg, sleb(&r) * c->data_align);
			continue;
		case 0x12: /* def_cfa_sf */
			s->cfa_reg = (int)uleb(&r);
			s->cfa_off = sleb(&r) * c->data_align;
			continue;
		case 0x13: s->cfa_off = sleb(&r) * c->data_align; continue;
		case 0x2e: uleb(&r); continue; /* GNU_args_size */
		case 0x2f: /* GNU_negative_offset_extended */
			reg = uleb(&r);
			saved_at(s, reg, -(int64_t)uleb(&r) * c->data_align);
			continue;
		default: return -1;
		}
advance:
		loc += delta * c->code_align;
		if (loc > pc)
			return 0;
	}
	return r.bad ? -1 : 0;
}

int hg_cfi_rule(uint64_t pc, struct hg_cfi_rule *out)
{
	struct module_query q = { pc, NULL };
	const uint8_t *fde, *body, *end, *cie_at;
	struct cie c;
	struct cfa_state s = { REG_RSP, 8, { SAME, 0 }, { SAVED, -8 } }, init;
	struct reader r;
	uint32_t cie_ptr;
	uint64_t start, range;

	if (!dl_iterate_phdr(find_module, &q) || !q.hdr || !(fde = find_fde(q.hdr, pc)))
		return -1;
	if (!(body = entry_body(fde, &end)))
		return -1;
	memcpy(&cie_ptr, body, 4);
	if (!cie_ptr)
		return -1; /* a CIE where an FDE should be */
	cie_at = body - cie_ptr;
	if (parse_cie(cie_at, &c) < 0)
		return -1;
	r.p = body + 4;
	r.end = end;
	r.bad = 0;
	start = pointer(&r, c.fde_enc, 0);
	range = pointer(&r, (uint8_t)(c.fde_enc & 0x0f), 0);
	if (c.has_aug_len)
		r.p += uleb(&r);
	if (r.bad || r.p > r.end || pc < start || pc - start >= range)
		return -1;
	if (run(c.insns, c.insns_end, &c, start, pc, &s, NULL) < 0)
		return -1;
	init = s;
	if (run(r.p, r.end, &c, start, pc, &s, &init) < 0)
		return -1;
	if (s.ra.how == UNDEF) {
		memset(out, 0, sizeof(*out));
		out->kind = HG_CFI_LAST;
		return 0;
	}
	if ((s.cfa_reg != REG_RSP && s.cfa_reg != REG_RBP) || s.ra.how != SAVED ||
	    s.ra.off != -8 || (s.rbp.how != SAME && s.rbp.how != SAVED) ||
	    s.cfa_off <= 0 || s.cfa_off > INT32_MAX || (s.rbp.how == SAVED && s.rbp.off >= 0) ||
	    (s.rbp.how == SAVED && s.rbp.off < INT32_MIN))
		return -1;
	out->kind = HG_CFI_STEP;
	out->cfa_rbp = s.cfa_reg == REG_RBP;
	out->cfa_off = (int32_t)s.cfa_off;
	out->rbp_off = s.rbp.how == SAVED ? (int32_t)s.rbp.off : 0;
	return 0;
}
