/*
 * cfi.h - how to step from a frame to its caller, read from the module's .eh_frame (x86-64)
 *
 * Runs in: inside malloc (a capture's first sight of a code address).
 */
#ifndef HG_CFI_H
#define HG_CFI_H

#include <stdint.h>

enum hg_cfi_kind {
	HG_CFI_STEP = 1, /* the caller's frame follows the rule below */
	HG_CFI_LAST,     /* the return address is undefined: the outermost frame (_start, clone) */
};

/*
 * The rule at one code address, in the only shape the walker follows: the canonical frame
 * address (the caller's stack pointer) is rsp or rbp plus cfa_off, the return address is
 * saved at cfa - 8, and the caller's rbp is either the same as this frame's or saved at
 * cfa + rbp_off (rbp_off < 0; 0 means unchanged).
 */
struct hg_cfi_rule {
	uint8_t kind;    /* enum hg_cfi_kind */
	uint8_t cfa_rbp; /* 1: cfa is rbp + cfa_off; 0: rsp + cfa_off */
	int32_t cfa_off;
	int32_t rbp_off;
};

/*
 * The rule for code address pc (for a return address, pass the address minus 1, the call
 * instruction). Returns 0 and fills *r; -1 when pc has no FDE, or its CFI uses what the rule
 * cannot say (a CFA expression or register other than rsp/rbp, a signal frame, an rbp or
 * return-address rule other than an offset from the CFA). The caller then asks libunwind.
 * Looks the module up with dl_iterate_phdr; never allocates.
 */
int hg_cfi_rule(uint64_t pc, struct hg_cfi_rule *r);

#endif /* HG_CFI_H */
