/*
 * hg_compiler.h - attribute macros shared by the shim and the analyzer
 *
 * Only compiler attributes live here: branch hints, inlining control and symbol visibility.
 * Anything with behaviour belongs in a module of its own.
 */
#ifndef HG_COMPILER_H
#define HG_COMPILER_H

#define HG_LIKELY(x) __builtin_expect(!!(x), 1)
#define HG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HG_NOINLINE __attribute__((noinline))
#define HG_ALWAYS_INLINE inline __attribute__((always_inline))
#define HG_COLD __attribute__((cold))
#define HG_EXPORT __attribute__((visibility("default")))
#define HG_UNUSED __attribute__((unused))
#define HG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define HG_NORETURN __attribute__((noreturn))
#define HG_ALIGNED(n) __attribute__((aligned(n)))

#define HG_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* HG_COMPILER_H */
