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
 * Per-thread caching makes a repeated stack a short walk without DWARF parsing. unw_backtrace
 * keeps a second cache per thread, of frame shapes by code address, that nothing outside
 * libunwind can clear: unw_flush_cache does not reach it. Once code was unloaded, another
 * object mapped at its addresses would be walked with the old one's shapes (stacks cut short),
 * so from then on stacks are walked with unw_step, whose caches the flush does clear.
 *
 * Runs in: first allocation (hg_unwind_load), inside malloc (the rest).
 */
#define UNW_LOCAL_ONLY
#include <dlfcn.h>
#include <fcntl.h>
#include <libunwind.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hg_compiler.h"
#include "rawlog.h"
#include "unwind.h"

static struct {
	int (*backtrace)(void **, int);
	int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t);
	void (*flush_cache)(unw_addr_space_t, unw_word_t, unw_word_t);
	int (*getcontext)(unw_context_t *);
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
	unw_addr_space_t *local_as; /* libunwind's own variable */
	int stepping;               /* atomic: code was unloaded, walk with unw_step */
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
	void *lib, *bt, *cp, *fc, *gc, *il, *st, *gr;

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
	gc = lookup(lib, "_Ux86_64_getcontext");
	il = lookup(lib, "_ULx86_64_init_local");
	st = lookup(lib, "_ULx86_64_step");
	gr = lookup(lib, "_ULx86_64_get_reg");
	uw.local_as = lookup(lib, "_ULx86_64_local_addr_space");
	if (!bt || !cp || !fc || !gc || !il || !st || !gr || !uw.local_as)
		return -1;
	memcpy(&uw.set_caching_policy, &cp, sizeof(cp));
	memcpy(&uw.flush_cache, &fc, sizeof(fc));
	memcpy(&uw.getcontext, &gc, sizeof(gc));
	memcpy(&uw.init_local, &il, sizeof(il));
	memcpy(&uw.step, &st, sizeof(st));
	memcpy(&uw.get_reg, &gr, sizeof(gr));
	uw.set_caching_policy(*uw.local_as, UNW_CACHE_PER_THREAD);
	memcpy(&uw.backtrace, &bt, sizeof(bt));
	return 0;
}

/* What unw_backtrace reports, one unw_step at a time: frame 0 is this function's. */
static HG_NOINLINE int step_backtrace(void **ip, int max)
{
	unw_context_t ctx;
	unw_cursor_t cur;
	unw_word_t pc;
	int n = 0;

	if (uw.getcontext(&ctx) < 0 || uw.init_local(&cur, &ctx) < 0)
		return 0;
	while (n < max && uw.get_reg(&cur, UNW_REG_IP, &pc) >= 0) {
		ip[n++] = (void *)(uintptr_t)pc;
		if (uw.step(&cur) <= 0)
			break;
	}
	return n;
}

int hg_unwind_backtrace(void **ip, int max)
{
	if (!uw.backtrace)
		return 0;
	if (HG_UNLIKELY(__atomic_load_n(&uw.stepping, __ATOMIC_RELAXED)))
		return step_backtrace(ip, max);
	return uw.backtrace(ip, max);
}

#define MOVED_FD_MAX 4096 /* the kernel grows a process's descriptor table up to this */
#define MOVED_FD_ROOM 32

/*
 * Move them up to MOVED_FD_ROOM below the limit, out of the way of the program's next
 * descriptors (which get the lowest free numbers) and of a program that raises the limit by a
 * few. Under a limit too low for that room (ulimit -n 64), to the very top: the program still
 * gets 3, 4, ... as without the shim; only its last n possible descriptors are taken.
 */
void hg_unwind_move_fds(int *fd, int n, int cloexec)
{
	struct rlimit rl;
	rlim_t top = MOVED_FD_MAX, from;
	int moved;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < top)
		top = rl.rlim_cur;
	if (top <= (rlim_t)n + 3)
		return; /* nowhere to go but where they are */
	from = top > 3 * MOVED_FD_ROOM ? top - MOVED_FD_ROOM : top - (rlim_t)n;
	for (int i = 0; i < n; i++) {
		if (from <= (rlim_t)fd[i])
			continue; /* already as high as it can go */
		moved = fcntl(fd[i], cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, (int)from);
		if (moved >= 0) {
			close(fd[i]);
			fd[i] = moved;
		}
	}
}

void hg_unwind_flush(void)
{
	if (!uw.flush_cache)
		return;
	__atomic_store_n(&uw.stepping, 1, __ATOMIC_RELAXED);
	uw.flush_cache(*uw.local_as, 0, 0);
}
