/*
 * unwind.c - libunwind, loaded privately so that it cannot interpose the program's unwinder
 *
 * Linking libunwind.so into the shim would put it in the program's global symbol scope, where
 * its exported _Unwind_* functions (and a weak `backtrace`) could win over libgcc_s and glibc
 * for every later lookup: C++ exceptions would then run through a different unwinder than the
 * one the program was built for. Debian ships no PIC archive to link it statically, so the
 * shim dlopens it with RTLD_LOCAL and calls it through pointers: nothing it defines is visible
 * to anyone else.
 *
 * Per-thread caching makes a repeated stack a short walk without DWARF parsing.
 *
 * Runs in: first allocation (hg_unwind_load), inside malloc (the rest).
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <libunwind.h>
#include <string.h>

#include "rawlog.h"
#include "unwind.h"

static struct {
	int (*backtrace)(void **, int);
	int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t);
	void (*flush_cache)(unw_addr_space_t, unw_word_t, unw_word_t);
	unw_addr_space_t *local_as; /* libunwind's own variable */
} uw;

static void *lookup(void *lib, const char *name)
{
	void *sym = dlsym(lib, name);

	if (!sym)
		hg_rawlog("libunwind lacks '%s'", name);
	return sym;
}

int hg_unwind_load(void)
{
	void *lib, *bt, *cp, *fc;

	if (uw.backtrace)
		return 0;
	lib = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		hg_rawlog("cannot load libunwind.so.8: stacks are not captured");
		return -1;
	}
	bt = lookup(lib, "unw_backtrace");
	cp = lookup(lib, "_ULx86_64_set_caching_policy");
	fc = lookup(lib, "_Ux86_64_flush_cache");
	uw.local_as = lookup(lib, "_ULx86_64_local_addr_space");
	if (!bt || !cp || !fc || !uw.local_as)
		return -1;
	memcpy(&uw.set_caching_policy, &cp, sizeof(cp));
	memcpy(&uw.flush_cache, &fc, sizeof(fc));
	uw.set_caching_policy(*uw.local_as, UNW_CACHE_PER_THREAD);
	memcpy(&uw.backtrace, &bt, sizeof(bt));
	return 0;
}

int hg_unwind_backtrace(void **ip, int max)
{
	return uw.backtrace ? uw.backtrace(ip, max) : 0;
}

void hg_unwind_flush(void)
{
	if (uw.flush_cache)
		uw.flush_cache(*uw.local_as, 0, 0);
}
