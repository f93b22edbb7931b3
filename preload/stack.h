/*
 * stack.h - capture the caller's stack and give each distinct stack a small id
 *
 * Runs in: inside malloc.
 */
#ifndef HG_STACK_H
#define HG_STACK_H

#include <stdint.h>

/*
 * Set up the stack table (a lazily touched mmap in the arena) and the unwinders, capturing at
 * most max_frames frames of the program's own (the shim's frames never count); use_walker 0
 * sends every stack to libunwind instead of walk.c first. 0 on success, -1 when the table
 * cannot be mapped.
 */
int hg_stack_init(uint32_t max_frames, int use_walker);

/* A frame of the program's: the return address into it, its stack pointer and rbp there. */
struct hg_frame {
	uint64_t ret, sp, bp;
};

/*
 * The frame that called the function this is written in, where a stack is walked from: that
 * function has a frame pointer (__builtin_frame_address(0) makes it keep one; shim.c is built
 * with them anyway), so [rbp] is the caller's rbp and [rbp + 8] the return address into it.
 * The shim's entry points take it in the exported function itself, not in a helper (that would
 * give the exported function's frame): on the path that records, or before calling the helper.
 */
#define HG_CALLER_FRAME(f)                                                                    \
	do {                                                                                  \
		const uint64_t *fp_ = __builtin_frame_address(0);                             \
		(f)->bp = fp_[0];                                                             \
		(f)->ret = fp_[1];                                                            \
		(f)->sp = (uint64_t)(uintptr_t)(fp_ + 2);                                     \
	} while (0)

/*
 * Unwind the calling thread from the program's frame `from` (the caller of the shim's entry
 * point; libunwind's answer, when it is asked, drops the shim's frames before it), and return
 * the stack's id. The first time a stack is seen, an HG_REC_STACK defining it is written to
 * the ring before this returns, so the id is defined in this thread's stream before its first
 * use there. Returns 0 when nothing could be unwound. Caller holds the re-entrancy guard.
 */
uint32_t hg_stack_capture(const struct hg_frame *from);

/*
 * The id of the stack ip[0..n) (innermost first), found or given; *inserted says whether this
 * call gave it (the caller then writes its HG_REC_STACK). hg_stack_capture uses it.
 */
uint32_t hg_stack_intern(void *const *ip, int n, int *inserted);

/* Tiers of the stack table mapped so far (1 after hg_stack_init; see stack.c). */
uint32_t hg_stack_tiers(void);

/* The range of addresses that belong to the shim (its frames are skipped). */
void hg_stack_set_self(uintptr_t lo, uintptr_t hi);

/* Whether addr lies in the shim's own mapped range. */
int hg_stack_is_self(uint64_t addr);

/* Number of distinct stacks this process (and its fork ancestors) has defined. */
uint32_t hg_stack_count(void);

/* Tests: make the last id handed out n, as if n stacks had been defined (to reach the ids
 * past what a table entry holds without defining 16 million stacks). */
void hg_stack_set_count(uint32_t n);

#endif /* HG_STACK_H */
