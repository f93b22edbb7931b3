/*
 * modules.c - record which ELF objects are mapped where
 *
 * The analyzer symbolizes after the fact, so the trace must say which file was mapped at which
 * load bias, with its build id and PT_LOAD segments. The list of objects already written is kept
 * in the arena (a flat array: programs map tens to a few hundred objects); each sync walks
 * dl_iterate_phdr, writes what is new and writes an unload for what disappeared. A module
 * unloaded by dlclose keeps its earlier record, so addresses inside it still symbolize.
 *
 * dlopen and dlclose are not interposed: glibc's dlopen resolves RUNPATH and $ORIGIN from the
 * address it was called from, which a wrapper would change to ours. Instead the loader's own
 * counters of loads and unloads are compared whenever a new stack shows up.
 *
 * The build id is read from the PT_NOTE segments as mapped in memory, so no file is opened.
 *
 * Runs in: constructor/first allocation, inside malloc when a new stack appears.
 */
#include <elf.h>
#include <sched.h>
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "hg_format.h"
#include "lifecycle.h"
#include "modules.h"
#include "ring.h"
#include "unwind.h"
#include "walk.h"

#define MAX_KNOWN 4096
#define PATH_MAX_BYTES 1024

struct known {
	uint64_t load_bias; /* dlpi_addr */
	uint64_t name_hash; /* of the path, to tell apart a new object at a reused bias */
	int seen;           /* mark for the current sync */
};

static struct {
	int lock;              /* spinlock: one sync at a time */
	struct known *list;    /* MAX_KNOWN entries in the arena */
	uint32_t n;            /* entries used */
	char exe[PATH_MAX_BYTES];
	int exe_done;
	uint64_t adds, subs;   /* the loader's counters at the last sync */
	uint64_t emit_buf[(sizeof(struct hg_rec_module) + HG_MAX_SEGMENTS * sizeof(struct hg_segment) +
			  HG_MAX_BUILD_ID + PATH_MAX_BYTES + 8) / 8]; /* under lock: off the stack */
} mods;

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return h;
}

const char *hg_modules_exe_path(void)
{
	if (!mods.exe_done) {
		ssize_t n = readlink("/proc/self/exe", mods.exe, sizeof(mods.exe) - 1);
		mods.exe[n > 0 ? n : 0] = '\0';
		mods.exe_done = 1;
	}
	return mods.exe;
}

/* Copy the GNU build id note of a mapped object into out; returns its length or 0. */
static uint32_t build_id(const struct dl_phdr_info *info, uint8_t *out)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p, *end;

		if (ph->p_type != PT_NOTE)
			continue;
		p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*nh);
			const uint8_t *desc = name + ((nh->n_namesz + 3u) & ~3u);

			if (desc + nh->n_descsz > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    memcmp(name, "GNU", 4) == 0 && nh->n_descsz <= HG_MAX_BUILD_ID) {
				memcpy(out, desc, nh->n_descsz);
				return nh->n_descsz;
			}
			p = desc + ((nh->n_descsz + 3u) & ~3u);
		}
	}
	return 0;
}

static const char *module_path(const struct dl_phdr_info *info, int *is_main)
{
	*is_main = info->dlpi_name == NULL || info->dlpi_name[0] == '\0';
	return *is_main ? hg_modules_exe_path() : info->dlpi_name;
}

static void emit_module(const struct dl_phdr_info *info, const char *path, int is_main)
{
	uint64_t *buf = mods.emit_buf;
	struct hg_rec_module *rec = (struct hg_rec_module *)buf;
	struct hg_segment *seg = (struct hg_segment *)(rec + 1);
	uint32_t n_seg = 0, path_len = (uint32_t)strnlen(path, PATH_MAX_BYTES - 1);
	uint8_t *tail;

	for (int i = 0; i < info->dlpi_phnum && n_seg < HG_MAX_SEGMENTS; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		seg[n_seg].vaddr = ph->p_vaddr;
		seg[n_seg].memsz = ph->p_memsz;
		seg[n_seg].flags = ph->p_flags;
		seg[n_seg].pad = 0;
		n_seg++;
	}
	tail = (uint8_t *)(seg + n_seg);
	rec->build_id_bytes = (uint16_t)build_id(info, tail);
	tail += rec->build_id_bytes;
	memcpy(tail, path, path_len);
	tail[path_len] = '\0';
	tail += path_len + 1;
	rec->hdr.type = HG_REC_MODULE;
	rec->hdr.flags = is_main ? HG_MODULE_MAIN : 0;
	rec->hdr.size_bytes = hg_rec_align((uint32_t)(tail - (uint8_t *)buf));
	memset(tail, 0, rec->hdr.size_bytes - (uint32_t)(tail - (uint8_t *)buf));
	rec->t_ns = hg_now_ns();
	rec->load_bias = info->dlpi_addr;
	rec->n_segments = n_seg;
	rec->path_bytes = (uint16_t)(path_len + 1);
	hg_ring_put(rec, rec->hdr.size_bytes);
}

static int sync_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	int is_main;
	const char *path = module_path(info, &is_main);
	uint64_t h = hash_str(path);

	(void)arg;
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		mods.adds = info->dlpi_adds;
		mods.subs = info->dlpi_subs;
	}
	if (strncmp(path, "linux-vdso", 10) == 0 || path[0] == '\0')
		return 0; /* no file behind it: nothing to symbolize with */
	for (uint32_t i = 0; i < mods.n; i++) {
		if (mods.list[i].load_bias == info->dlpi_addr && mods.list[i].name_hash == h) {
			mods.list[i].seen = 1;
			return 0;
		}
	}
	emit_module(info, path, is_main);
	if (mods.n < MAX_KNOWN)
		mods.list[mods.n++] = (struct known){ info->dlpi_addr, h, 1 };
	return 0;
}

static void emit_unmodule(uint64_t load_bias)
{
	struct hg_rec_unmodule rec = { { HG_REC_UNMODULE, 0, sizeof(rec) }, hg_now_ns(), load_bias };

	hg_ring_put(&rec, sizeof(rec));
}

static void lock_mods(void)
{
	while (__atomic_exchange_n(&mods.lock, 1, __ATOMIC_ACQUIRE))
		sched_yield();
}

void hg_modules_fork_prepare(void)
{
	lock_mods();
}

void hg_modules_fork_done(void)
{
	__atomic_store_n(&mods.lock, 0, __ATOMIC_RELEASE);
}

void hg_modules_sync(void)
{
	uint32_t kept = 0;

	if (!mods.list && !(mods.list = hg_arena_alloc(sizeof(struct known) * MAX_KNOWN)))
		return;
	lock_mods();
	for (uint32_t i = 0; i < mods.n; i++)
		mods.list[i].seen = 0;
	dl_iterate_phdr(sync_one, NULL);
	for (uint32_t i = 0; i < mods.n; i++) {
		if (mods.list[i].seen)
			mods.list[kept++] = mods.list[i];
		else
			emit_unmodule(mods.list[i].load_bias);
	}
	mods.n = kept;
	__atomic_store_n(&mods.lock, 0, __ATOMIC_RELEASE);
}

struct counters {
	uint64_t adds, subs;
};

static int read_counters(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct counters *c = arg;

	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof(info->dlpi_subs)) {
		c->adds = info->dlpi_adds;
		c->subs = info->dlpi_subs;
	}
	return 1; /* the counters are the same in every entry: one is enough */
}

void hg_modules_check(void)
{
	struct counters c = { 0, 0 };
	uint64_t subs_before = mods.subs;

	dl_iterate_phdr(read_counters, &c);
	if (c.adds == mods.adds && c.subs == mods.subs)
		return;
	if (c.subs != subs_before) {
		hg_unwind_flush();
		hg_walk_flush();
	}
	hg_modules_sync();
}

struct range_query {
	uintptr_t addr, lo, hi;
	int found;
};

static int range_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct range_query *q = arg;
	uintptr_t lo = UINTPTR_MAX, hi = 0;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (q->addr >= lo && q->addr < hi) {
		q->lo = lo;
		q->hi = hi;
		q->found = 1;
		return 1;
	}
	return 0;
}

int hg_modules_range_of(const void *addr, uintptr_t *lo, uintptr_t *hi)
{
	struct range_query q = { (uintptr_t)addr, 0, 0, 0 };

	dl_iterate_phdr(range_one, &q);
	*lo = q.lo;
	*hi = q.hi;
	return q.found ? 0 : -1;
}
