/*
 * walk.h - the stack walker of the hot path: cached CFI rules, and only the frames that changed
 *
 * Runs in: inside malloc (capture), thread-exit destructor, after a dlclose (flush).
 */
#ifndef HG_WALK_H
#define HG_WALK_H

#include <stddef.h>
#include <stdint.h>

/* Map the shared rule cache and set up the memo's weights (before any walk is remembered); 0,
 * or -1 when the arena has no memory (the walker then declines). */
int hg_walk_init(void);

/*
 * Return addresses of the calling thread, innermost first, like unw_backtrace, but from a frame
 * further out than the walker's own: ret is the return address into it, sp and bp the stack
 * pointer and rbp it will have when that call returns (the shim's entry points give their
 * caller's, so that the shim's own frames are not walked at all). Up to max of them in ip,
 * ret first. Returns the count, or -1 when a frame is beyond the walker (no FDE, a CFI shape
 * it does not follow, a signal frame, an implausible frame size): the caller then asks
 * libunwind for the whole stack.
 */
int hg_walk_from(uint64_t ret, uint64_t sp, uint64_t bp, void **ip, int max);

/*
 * The stack id of a walk from (ret, sp, bp) that this thread made and remembered before, when
 * the words that walk read still hold what they did (it would end the same; all but the first
 * are compared as one weighted sum, see walk.c): 1 with *id set, else 0 and the caller walks.
 */
int hg_walk_recall(uint64_t ret, uint64_t sp, uint64_t bp, uint32_t *id);

/* Remember the thread's last walk, which succeeded, and the stack id its frames were given,
 * or decline to: the first walk from its frame, a thread whose walks are seldom found again,
 * a walk that read too many words (see walk.c). A recall stands for a walk with the same max:
 * every walk of a process must ask for the same (hg_stack_capture asks for the frames it
 * keeps). */
void hg_walk_remember(uint32_t id);

/* The set of the thread's memo a walk from (ret, sp) is remembered in (for tests). */
size_t hg_walk_memo_set(uint64_t ret, uint64_t sp);

/* log2 of the words of the shared rule cache in use: 11, then 13 once it grew (for tests). */
unsigned hg_walk_rule_bits(void);

/* How many words of the rule cache hold a rule, from word `from` to its end (for tests). */
size_t hg_walk_rules_held(size_t from);

/* Forget every cached rule: code was unloaded, and other code may be mapped at its addresses. */
void hg_walk_flush(void);

/* The calling thread is exiting: its walk state goes back to a pool for the next thread. */
void hg_walk_release_thread(void);

/* Fork child: the pool's lock may have been held by a thread that is not in the child. */
void hg_walk_fork_child(void);

#endif /* HG_WALK_H */
