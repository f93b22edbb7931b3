/*
 * shim.c - the interposed entry points: the malloc family, the mmap family, _exit, _Exit, the
 * wait family, dlclose, pipe2
 *
 * Every entry point has the same shape: take the guard (enter), call the real function, record,
 * drop the guard (leave). When the guard cannot be taken (already inside the shim, tracing off,
 * or not started), the call goes straight to the real function, or to the bootstrap buffer when
 * even that is not known yet.
 *
 * Timestamps: an allocation is stamped after the real call returned and a free before the real
 * free runs, so that an address freed by one thread and handed to another is always seen freed
 * first (see hg_format.h, "Ordering"). A realloc's free and a munmap are stamped before a call
 * that may copy or unmap for longer than the collector's horizon margin when the block is large:
 * the thread then holds the horizon below its stamp until the record is out (hg_ring_hold).
 *
 * errno: recording never changes what the program sees; it is saved after the real call and
 * restored before returning.
 *
 * mmap, mmap64, munmap, mremap and mprotect: the program's own anonymous mappings (hg_format.h,
 * "The program's own anonymous mappings"). glibc's malloc, the loader and pthread_create call
 * the kernel through the C library's internal aliases, never through these symbols, so what
 * arrives here is the program's and its libraries' own. An mmap of a file passes straight
 * through. Before the real functions are resolved, the system call is made directly.
 *
 * Runs in: inside malloc (this is malloc).
 */
#include <dlfcn.h>
#include <link.h>
#include <fcntl.h>
#include <malloc.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "heapgraph.h"

#include "boot.h"
#include "guard.h"
#include "hg_compiler.h"
#include "lifecycle.h"
#include "modules.h"
#include "progmaps.h"
#include "ring.h"
#include "snapshot.h"
#include "stack.h"
#include "unwind.h"
#include "walk.h"

/* A realloc to, or a munmap of, this much may outlast the horizon margin (glibc copies a 32 MiB
 * block in about 5 ms); below it a hold costs more than it could save. */
#define HOLD_MIN_BYTES ((size_t)1 << 20)

static HG_NOINLINE HG_COLD int enter_slow(void)
{
	if (hg_tls.busy && !hg_tls.internal &&
	    __atomic_load_n(&hg_state, __ATOMIC_RELAXED) == HG_ACTIVE)
		hg_ring_count_lost(1, 0); /* a signal handler interrupted the shim */
	if (__atomic_load_n(&hg_state, __ATOMIC_ACQUIRE) == HG_UNINIT && !hg_tls.busy)
		hg_init();
	if (__atomic_load_n(&hg_state, __ATOMIC_ACQUIRE) != HG_ACTIVE || hg_tls.busy)
		return 0;
	hg_tls.busy = 1;
	return 1;
}

/* 1: the guard is held and the call must be recorded; 0: pass straight through. */
static inline int enter(void)
{
	if (HG_LIKELY(__atomic_load_n(&hg_state, __ATOMIC_RELAXED) == HG_ACTIVE && !hg_tls.busy)) {
		hg_tls.busy = 1;
		return 1;
	}
	return enter_slow();
}

/*
 * The mmap family's guard. A nested call (the thread is already inside the shim) passes
 * through silently: it is the real allocator getting memory for a block we are recording
 * (jemalloc, tcmalloc or mimalloc behind our malloc map their arenas themselves), or libunwind;
 * that memory is malloc's, not the program's own, and nothing of the program's was lost.
 */
static inline int enter_map(void)
{
	/* No start-up from inside a mapping call: it can come from a malloc of the program's own
	 * (rustc's jemalloc) in the middle of its first initialisation, under its lock, from a
	 * library constructor that runs before ours; start-up dlopens libunwind, and the loader
	 * calls that malloc: a deadlock. Our constructor, or the first allocation, starts us. */
	if (HG_UNLIKELY(__atomic_load_n(&hg_state, __ATOMIC_ACQUIRE) == HG_UNINIT))
		return 0;
	return HG_LIKELY(!hg_tls.busy) && enter();
}

static inline void leave(void)
{
	hg_tls.busy = 0;
	/* A snapshot signal that found this or another thread inside the shim. */
	if (HG_UNLIKELY(__atomic_load_n(&hg_snapshot_pending, __ATOMIC_RELAXED)))
		hg_snapshot_run_pending();
}

/*
 * The time is taken once the stack is captured, just before the record is stored field by
 * field into the ring (hg_ring_room): from then to publishing is a few instructions, which the
 * collector's horizon margin covers (a first walk through a library reads its unwind tables,
 * and must not count against the margin).
 */
static void record_alloc(void *p, size_t n, uint8_t fn, const struct hg_frame *from)
{
	int saved = errno;
	uint32_t stack_id = hg_stack_capture(from);
	uint64_t t_ns = hg_now_ns();
	struct hg_rec_alloc rec, *r = hg_ring_room(&rec, sizeof(rec));

	/* Before the record is published, so that no snapshot sees the block without the flag.
	 * Read first: a store with every allocation would bounce the line between threads. */
	if (HG_UNLIKELY(!__atomic_load_n(&hg_snapshot_blocks_recorded, __ATOMIC_RELAXED)))
		__atomic_store_n(&hg_snapshot_blocks_recorded, 1, __ATOMIC_RELAXED);

	r->hdr = (struct hg_rec){ HG_REC_ALLOC, 0, sizeof(*r) };
	r->t_ns = t_ns;
	r->addr = (uint64_t)(uintptr_t)p;
	r->size_bytes = n;
	r->stack_id = stack_id;
	r->fn = fn;
	memset(r->pad, 0, sizeof(r->pad));
	hg_ring_publish(r, &rec, sizeof(rec));
	errno = saved;
}

static void record_free(void *p, uint64_t t_ns)
{
	struct hg_rec_free rec, *r = hg_ring_room(&rec, sizeof(rec));

	r->hdr = (struct hg_rec){ HG_REC_FREE, 0, sizeof(*r) };
	r->t_ns = t_ns;
	r->addr = (uint64_t)(uintptr_t)p;
	hg_ring_publish(r, &rec, sizeof(rec));
}

HG_EXPORT void *malloc(size_t n)
{
	struct hg_frame from;
	void *p;

	if (HG_UNLIKELY(!enter()))
		return HG_LIKELY(hg_real.malloc != NULL) ? hg_real.malloc(n) : hg_boot_alloc(n, 16);
	p = hg_real.malloc(n);
	if (HG_LIKELY(p != NULL)) {
		HG_CALLER_FRAME(&from);
		record_alloc(p, n, HG_FN_MALLOC, &from);
	}
	leave();
	return p;
}

/*
 * The "malloc" the program's lookup order finds is defined in another object than this one.
 * A non-PIE executable that calls malloc (Debian's python3) has a "malloc" of its own in its
 * dynamic symbols, undefined (section 0) with the address of its PLT stub, which leads to
 * ours: that one is not foreign.
 */
int hg_malloc_is_foreign(void)
{
	void *found = dlsym(RTLD_DEFAULT, "malloc");
	const ElfW(Sym) *sym = NULL;
	Dl_info theirs, ours;

	return found && dladdr1(found, &theirs, (void **)&sym, RTLD_DL_SYMENT) && sym &&
	       sym->st_shndx != SHN_UNDEF && dladdr((void *)hg_malloc_is_foreign, &ours) &&
	       theirs.dli_fbase != ours.dli_fbase;
}

HG_EXPORT void free(void *p)
{
	if (HG_UNLIKELY(p == NULL || hg_boot_owns(p)))
		return;
	if (HG_UNLIKELY(!enter())) {
		if (hg_real.free)
			hg_real.free(p);
		return;
	}
	record_free(p, hg_now_ns());
	hg_real.free(p);
	leave();
}

HG_EXPORT void *calloc(size_t n, size_t size)
{
	struct hg_frame from;
	void *p;
	size_t total;

	if (HG_UNLIKELY(!enter())) {
		if (HG_LIKELY(hg_real.calloc != NULL))
			return hg_real.calloc(n, size);
		return __builtin_mul_overflow(n, size, &total) ? NULL : hg_boot_alloc(total, 16);
	}
	p = hg_real.calloc(n, size);
	if (HG_LIKELY(p != NULL)) {
		HG_CALLER_FRAME(&from);
		record_alloc(p, n * size, HG_FN_CALLOC, &from);
	}
	leave();
	return p;
}

/* realloc of a block from the bootstrap buffer: move it to the real heap, untracked before. */
static HG_NOINLINE HG_COLD void *realloc_boot(void *old, size_t n)
{
	size_t have = hg_boot_size(old);
	void *p = malloc(n);

	if (p)
		memcpy(p, old, have < n ? have : n);
	return p;
}

static void *realloc_common(void *old, size_t n, uint8_t fn, const struct hg_frame *from)
{
	uint64_t t_before;
	int held;
	void *p;

	if (old && HG_UNLIKELY(hg_boot_owns(old)))
		return realloc_boot(old, n);
	if (HG_UNLIKELY(!enter()))
		return hg_real.realloc ? hg_real.realloc(old, n) : hg_boot_alloc(n, 16);
	t_before = hg_now_ns();
	/* A large block copied, or a huge one shrunk by mremap or munmap. */
	held = old && (n >= HOLD_MIN_BYTES || (hg_real.malloc_usable_size &&
					       hg_real.malloc_usable_size(old) >= HOLD_MIN_BYTES)) &&
	       hg_ring_hold(t_before);
	p = hg_real.realloc(old, n);
	if (old && (p || n == 0))
		record_free(old, t_before);
	if (held)
		hg_ring_hold_end();
	if (p)
		record_alloc(p, n, fn, from);
	leave();
	return p;
}

HG_EXPORT void *realloc(void *old, size_t n)
{
	struct hg_frame from;

	HG_CALLER_FRAME(&from);
	return realloc_common(old, n, HG_FN_REALLOC, &from);
}

HG_EXPORT void *reallocarray(void *old, size_t n, size_t size)
{
	struct hg_frame from;
	size_t total;

	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	HG_CALLER_FRAME(&from);
	return realloc_common(old, total, HG_FN_REALLOCARRAY, &from);
}

HG_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	struct hg_frame from;
	int rc;

	if (HG_UNLIKELY(!enter())) {
		if (hg_real.posix_memalign)
			return hg_real.posix_memalign(out, align, n);
		*out = hg_boot_alloc(n, align);
		return *out ? 0 : ENOMEM;
	}
	rc = hg_real.posix_memalign(out, align, n);
	if (rc == 0 && *out) {
		HG_CALLER_FRAME(&from);
		record_alloc(*out, n, HG_FN_POSIX_MEMALIGN, &from);
	}
	leave();
	return rc;
}

/* aligned_alloc, memalign: (align, n). */
static void *aligned_common(void *(*real)(size_t, size_t), size_t align, size_t n, uint8_t fn,
			    const struct hg_frame *from)
{
	void *p;

	if (HG_UNLIKELY(!enter()))
		return real ? real(align, n) : hg_boot_alloc(n, align);
	p = real(align, n);
	if (p)
		record_alloc(p, n, fn, from);
	leave();
	return p;
}

HG_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	struct hg_frame from;

	HG_CALLER_FRAME(&from);
	return aligned_common(hg_real.aligned_alloc, align, n, HG_FN_ALIGNED_ALLOC, &from);
}

HG_EXPORT void *memalign(size_t align, size_t n)
{
	struct hg_frame from;

	HG_CALLER_FRAME(&from);
	return aligned_common(hg_real.memalign, align, n, HG_FN_MEMALIGN, &from);
}

/* valloc, pvalloc: page-aligned; the requested size is what gets recorded. */
static void *page_common(void *(*real)(size_t), size_t n, uint8_t fn, const struct hg_frame *from)
{
	void *p;

	if (HG_UNLIKELY(!enter()))
		return real ? real(n) : hg_boot_alloc(n, 4096);
	p = real(n);
	if (p)
		record_alloc(p, n, fn, from);
	leave();
	return p;
}

HG_EXPORT void *valloc(size_t n)
{
	struct hg_frame from;

	HG_CALLER_FRAME(&from);
	return page_common(hg_real.valloc, n, HG_FN_VALLOC, &from);
}

HG_EXPORT void *pvalloc(size_t n)
{
	struct hg_frame from;

	HG_CALLER_FRAME(&from);
	return page_common(hg_real.pvalloc, n, HG_FN_PVALLOC, &from);
}

/* ---- the program's own mappings ---------------------------------------------------------- */

static void *real_mmap(void *(*real)(void *, size_t, int, int, int, off_t), void *addr,
		       size_t len, int prot, int flags, int fd, off_t off)
{
	if (HG_LIKELY(real != NULL))
		return real(addr, len, prot, flags, fd, off);
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

static void record_mmap(void *p, size_t len, int prot, int flags, const struct hg_frame *from)
{
	int saved = errno;
	uint32_t stack_id = hg_stack_capture(from); /* before the time, as in record_alloc */
	struct hg_rec_mmap rec = {
		.hdr = { HG_REC_MMAP, 0, sizeof(rec) }, .t_ns = hg_now_ns(),
		.addr = (uint64_t)(uintptr_t)p, .length_bytes = len,
		.stack_id = stack_id, .prot = (uint32_t)prot, .map_flags = (uint32_t)flags
	};

	hg_ring_put(&rec, sizeof(rec));
	errno = saved;
}

static void *mmap_common(void *(*real)(void *, size_t, int, int, int, off_t), void *addr,
			 size_t len, int prot, int flags, int fd, off_t off,
			 const struct hg_frame *from)
{
	void *p;

	/* What it maps over is the program's no longer, even if the call then fails. */
	if (flags & MAP_FIXED)
		hg_progmaps_remove((uint64_t)(uintptr_t)addr, len);
	if (!(flags & MAP_ANONYMOUS) || HG_UNLIKELY(!enter_map()))
		return real_mmap(real, addr, len, prot, flags, fd, off);
	p = real_mmap(real, addr, len, prot, flags, fd, off);
	if (p != MAP_FAILED) {
		record_mmap(p, len, prot, flags, from);
		/* Huge pages of any size unmap in their own units: left out of the table. */
		if (!(flags & MAP_HUGETLB))
			hg_progmaps_add((uint64_t)(uintptr_t)p, len);
	}
	leave();
	return p;
}

HG_EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct hg_frame from;

	HG_CALLER_FRAME(&from);
	return mmap_common(hg_real.mmap, addr, len, prot, flags, fd, off, &from);
}

HG_EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct hg_frame from;

	HG_CALLER_FRAME(&from);
	return mmap_common(hg_real.mmap64, addr, len, prot, flags, fd, off, &from);
}

static int real_munmap(void *addr, size_t len)
{
	if (HG_LIKELY(hg_real.munmap != NULL))
		return hg_real.munmap(addr, len);
	return (int)syscall(SYS_munmap, addr, len);
}

HG_EXPORT int munmap(void *addr, size_t len)
{
	struct hg_rec_munmap rec = { { HG_REC_MUNMAP, 0, sizeof(rec) }, 0,
				     (uint64_t)(uintptr_t)addr, len };
	int rc, held;

	/* Out of the table first, whether recorded or not: see progmaps.h. */
	hg_progmaps_remove((uint64_t)(uintptr_t)addr, len);
	if (HG_UNLIKELY(!enter_map()))
		return real_munmap(addr, len);
	rec.t_ns = hg_now_ns(); /* before the call, like a free */
	held = len >= HOLD_MIN_BYTES && hg_ring_hold(rec.t_ns);
	rc = real_munmap(addr, len);
	if (rc == 0)
		hg_ring_put(&rec, sizeof(rec));
	if (held)
		hg_ring_hold_end();
	leave();
	return rc;
}

static void record_mremap(void *old, size_t old_len, void *p, size_t new_len, int flags,
			  const struct hg_frame *from)
{
	int saved = errno;
	uint32_t stack_id = hg_stack_capture(from); /* before the time, as in record_alloc */
	struct hg_rec_mremap rec = {
		.hdr = { HG_REC_MREMAP, 0, sizeof(rec) }, .t_ns = hg_now_ns(),
		.old_addr = (uint64_t)(uintptr_t)old, .old_bytes = old_len,
		.new_addr = (uint64_t)(uintptr_t)p, .new_bytes = new_len,
		.stack_id = stack_id, .mremap_flags = (uint32_t)flags
	};

	hg_ring_put(&rec, sizeof(rec));
	errno = saved;
}

static void *real_mremap(void *old, size_t old_len, size_t new_len, int flags, void *want)
{
	if (HG_LIKELY(hg_real.mremap != NULL))
		return hg_real.mremap(old, old_len, new_len, flags, want);
	return (void *)syscall(SYS_mremap, old, old_len, new_len, flags, want);
}

/* The fifth argument exists only with MREMAP_FIXED; passing it always is harmless. */
HG_EXPORT void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
	struct hg_frame from;
	void *want = NULL, *p;
	va_list ap;

	if (flags & MREMAP_FIXED) {
		va_start(ap, flags);
		want = va_arg(ap, void *);
		va_end(ap);
	}
	/* Out of the table, moved or not (it then counts as malloc's memory), and so is what a
	 * fixed move maps over: see progmaps.h. */
	hg_progmaps_remove((uint64_t)(uintptr_t)old, old_len);
	if (flags & MREMAP_FIXED)
		hg_progmaps_remove((uint64_t)(uintptr_t)want, new_len);
	if (HG_UNLIKELY(!enter_map()))
		return real_mremap(old, old_len, new_len, flags, want);
	p = real_mremap(old, old_len, new_len, flags, want);
	if (p != MAP_FAILED) {
		HG_CALLER_FRAME(&from);
		record_mremap(old, old_len, p, new_len, flags, &from);
	}
	leave();
	return p;
}

static int real_mprotect(void *addr, size_t len, int prot)
{
	if (HG_LIKELY(hg_real.mprotect != NULL))
		return hg_real.mprotect(addr, len, prot);
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

/* Recorded for the accessible/reserved (PROT_NONE) state of the program's own mappings. */
HG_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	int rc;

	if (HG_UNLIKELY(!enter_map()))
		return real_mprotect(addr, len, prot);
	rc = real_mprotect(addr, len, prot);
	if (rc == 0) {
		struct hg_rec_mprotect rec = { { HG_REC_MPROTECT, 0, sizeof(rec) }, hg_now_ns(),
					       (uint64_t)(uintptr_t)addr, len, (uint32_t)prot, 0 };
		hg_ring_put(&rec, sizeof(rec));
	}
	leave();
	return rc;
}

HG_EXPORT size_t malloc_usable_size(void *p)
{
	if (p && hg_boot_owns(p))
		return hg_boot_size(p);
	if (!hg_real.malloc_usable_size)
		hg_init();
	return hg_real.malloc_usable_size ? hg_real.malloc_usable_size(p) : 0;
}

/*
 * exit() and a return from main are seen by the on_exit handler in lifecycle.c (glibc calls
 * exit internally, past any interposition); _exit and _Exit skip exit handlers, so they are
 * interposed here.
 */
static void note_exit(int code, const struct hg_caller *c)
{
	if (hg_in_vfork_child()) /* its exit is not ours to record */
		return;
	if (enter()) {
		hg_exit_snapshot(c);
		hg_record_exit(code, 1);
		leave();
	}
}

HG_EXPORT void _exit(int code)
{
	struct hg_caller c;

	HG_CALLER_CAPTURE(&c);
	note_exit(code, &c);
	if (hg_real._exit)
		hg_real._exit(code);
	syscall(SYS_exit_group, code);
	__builtin_unreachable();
}

HG_EXPORT void _Exit(int code)
{
	struct hg_caller c;

	HG_CALLER_CAPTURE(&c);
	note_exit(code, &c);
	if (hg_real._Exit)
		hg_real._Exit(code);
	syscall(SYS_exit_group, code);
	__builtin_unreachable();
}

/*
 * quick_exit(code) runs the at_quick_exit handlers and then glibc's own _exit, past ours. The
 * code is kept here, and hg_at_quick_exit, which lifecycle.c registers at start-up before any
 * handler of the program's and so runs after them all, ends the process's trace as _exit
 * would: the exit snapshot and the EXIT record.
 */
static struct {
	int pending; /* atomic: our quick_exit was called */
	int code;
} quick;

void hg_at_quick_exit(void)
{
	struct hg_caller c;

	if (!__atomic_load_n(&quick.pending, __ATOMIC_ACQUIRE))
		return;
	HG_CALLER_CAPTURE(&c);
	note_exit(quick.code, &c);
}

HG_EXPORT void quick_exit(int code)
{
	static void *next;
	void (*real)(int);

	quick.code = code;
	__atomic_store_n(&quick.pending, 1, __ATOMIC_RELEASE);
	if ((real = HG_BOOT_REAL(quick_exit, next)))
		real(code);
	hg_at_quick_exit(); /* no C library's quick_exit: no handlers to run either */
	syscall(SYS_exit_group, code);
	__builtin_unreachable();
}

/*
 * The wait family: a traced parent that reaps a child learns how it ended. A child killed by a
 * signal (multiprocessing's terminate(), a shell's kill) cannot say so itself, and the collector
 * can wait only for the process it started; so the parent writes the child's end, naming itself
 * its reaper (hg_format.h, HG_REC_EXIT). Stopped and continued children have not ended. The
 * real call runs exactly as asked (a NULL status pointer is lent a local word); the record is
 * skipped when the guard is held, as in a SIGCHLD handler that interrupted the shim. glibc's own
 * waits (system, pclose) call the kernel past these symbols and are not seen.
 */
static void note_reaped(pid_t pid, int status)
{
	int saved = errno;

	/* Only once tracing runs: a SIGCHLD handler must not be where the shim starts. */
	if (pid > 0 && (WIFEXITED(status) || WIFSIGNALED(status)) &&
	    __atomic_load_n(&hg_state, __ATOMIC_ACQUIRE) == HG_ACTIVE && enter_map()) {
		hg_record_reaped(pid, WIFSIGNALED(status),
				 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		leave();
	}
	errno = saved;
}

HG_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *usage)
{
	static void *next;
	pid_t (*real)(pid_t, int *, int, struct rusage *);
	int local;
	pid_t rc;

	if (!(real = HG_BOOT_NEXT(&next, "wait4", real)))
		return (pid_t)syscall(SYS_wait4, pid, status, options, usage);
	if (!status)
		status = &local;
	rc = real(pid, status, options, usage);
	note_reaped(rc, rc > 0 ? *status : 0);
	return rc;
}

HG_EXPORT pid_t waitpid(pid_t pid, int *status, int options)
{
	static void *next;
	pid_t (*real)(pid_t, int *, int);
	int local;
	pid_t rc;

	if (!(real = HG_BOOT_NEXT(&next, "waitpid", real)))
		return (pid_t)syscall(SYS_wait4, pid, status, options, NULL);
	if (!status)
		status = &local;
	rc = real(pid, status, options);
	note_reaped(rc, rc > 0 ? *status : 0);
	return rc;
}

HG_EXPORT pid_t wait(int *status)
{
	return waitpid(-1, status, 0);
}

HG_EXPORT pid_t wait3(int *status, int options, struct rusage *usage)
{
	return wait4(-1, status, options, usage);
}

HG_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options)
{
	static void *next;
	int (*real)(idtype_t, id_t, siginfo_t *, int);
	int rc;

	if (!(real = HG_BOOT_NEXT(&next, "waitid", real)))
		return (int)syscall(SYS_waitid, idtype, id, info, options, NULL);
	rc = real(idtype, id, info, options);
	if (rc != 0 || !info || info->si_pid <= 0)
		return rc;
	if (info->si_code == CLD_EXITED)
		note_reaped(info->si_pid, W_EXITCODE(info->si_status, 0));
	else if (info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED)
		note_reaped(info->si_pid, info->si_status & 0x7f);
	return rc;
}

/*
 * dlclose: code may be mapped at the unloaded object's addresses next, and a stack walked with
 * the old object's cached unwind rules would come out wrong. hg_modules_check sees whether the
 * call really unloaded something (the loader's unload count moved; a dlclose that only drops a
 * reference does not): then both walkers forget their rules and the UNMODULE record is written
 * now, before any stack through what is mapped there next. (dlopen is not interposed: see
 * modules.c. An unload inside libc that bypasses dlclose, such as an NSS module's, is caught
 * by the same check at the next new stack.)
 */
HG_EXPORT int dlclose(void *handle)
{
	static void *real_dlclose;
	int (*real)(void *);
	int rc;

	if (!(real = HG_BOOT_NEXT(&real_dlclose, "dlclose", real)))
		return -1; /* dlerror() says why */
	rc = real(handle);
	if (enter_map()) {
		HG_INTERNAL(hg_modules_check());
		leave();
	}
	return rc;
}

/*
 * pipe2: libunwind opens a pipe on first use and keeps it, to test whether memory is readable by
 * writing a byte of it there. At the lowest free numbers (3 and 4 in most programs), a program
 * that closes every descriptor it did not open and then opens its own files gets them at those
 * numbers, and libunwind reads from and writes to the program's files. A pipe made from inside
 * the shim (libunwind's) is moved to high numbers; everyone else's passes untouched.
 */
HG_EXPORT int pipe2(int fd[2], int flags)
{
	int rc = (int)syscall(SYS_pipe2, fd, flags);

	if (rc == 0 && hg_tls.internal)
		hg_unwind_move_fds(fd, 2, flags & O_CLOEXEC);
	return rc;
}

HG_EXPORT void heapgraph_snapshot(const char *label)
{
	struct hg_caller c;

	HG_CALLER_CAPTURE(&c);
	if (enter()) {
		hg_snapshot_take(HG_SNAP_CALL, label && *label ? label : "snapshot", &c);
		leave();
	}
}
