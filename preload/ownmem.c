/*
 * ownmem.c - what tracing itself adds to the process's resident set, sampled into the trace
 *
 * Two parts, both counted as the pages present in this process's page tables, read from its
 * pagemap (bit 63 of each page's entry; an unprivileged reader gets that bit, only the frame
 * numbers are hidden), opened through the calling thread (procself.h): /proc/self/pagemap
 * fails to open (ESRCH) once the main thread has called pthread_exit.
 *
 * - the shim's tables: every mapping of its arena (arena.c). Most are mapped large and touched
 *   sparsely (the stack table's later tiers, the rule cache), so their mapped size overstates.
 * - the ring: one shared mapping for the whole recording. Its RSS in this process is the pages
 *   this process touched, the slots its threads wrote through and the header, however many
 *   other processes share them; the page cache's residency (mincore) would count theirs too.
 *   Only the header and the slots this process used are read (ring.c keeps which).
 *
 * Where /proc is not mounted (a chroot, a sandbox), the tables are counted with mincore, which
 * is exact for private anonymous memory, and the ring is left unknown.
 *
 * Runs in: the snapshot path (before the world stops), the exit path.
 */
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include "arena.h"
#include "hg_format.h"
#include "ownmem.h"
#include "procself.h"
#include "ring.h"

#define PAGE 4096u
#define BATCH 512u /* pagemap entries per read: 4 KiB on the stack */

struct count {
	int fd;          /* the process's pagemap, or -1: mincore */
	uint64_t pages;  /* present pages counted so far */
	int failed;      /* a read or mincore call failed: the figure is unknown */
};

static void count_pagemap(struct count *c, uint64_t lo, uint64_t hi)
{
	uint64_t e[BATCH];

	for (uint64_t page = lo / PAGE; page < hi / PAGE && !c->failed;) {
		uint64_t want = hi / PAGE - page < BATCH ? hi / PAGE - page : BATCH;
		ssize_t got = pread(c->fd, e, want * sizeof(e[0]), (off_t)(page * sizeof(e[0])));

		if (got <= 0) {
			c->failed = 1;
			return;
		}
		for (size_t i = 0; i < (size_t)got / sizeof(e[0]); i++)
			c->pages += e[i] >> 63;
		page += (uint64_t)got / sizeof(e[0]);
	}
}

static void count_mincore(struct count *c, uint64_t lo, uint64_t hi)
{
	unsigned char v[BATCH];

	for (uint64_t at = lo; at < hi && !c->failed; at += (uint64_t)BATCH * PAGE) {
		uint64_t len = hi - at < (uint64_t)BATCH * PAGE ? hi - at : (uint64_t)BATCH * PAGE;
		if (mincore((void *)(uintptr_t)at, len, v) < 0) {
			c->failed = 1;
			return;
		}
		for (uint64_t i = 0; i < (len + PAGE - 1) / PAGE; i++)
			c->pages += v[i] & 1;
	}
}

static void count_range(uint64_t lo, uint64_t hi, void *arg)
{
	struct count *c = arg;

	lo &= ~(uint64_t)(PAGE - 1);
	if (c->fd >= 0)
		count_pagemap(c, lo, hi);
	else
		count_mincore(c, lo, hi);
}

static uint64_t counted_bytes(const struct count *c)
{
	return c->failed ? HG_TRACER_UNKNOWN : c->pages * PAGE;
}

/* Present bytes of the arena's mappings (fd -1: by mincore). */
static uint64_t tables_resident(int fd)
{
	struct count c = { fd, 0, 0 };

	hg_arena_each(count_range, &c);
	return counted_bytes(&c);
}

/* Present bytes of the ring's header and of the slots this process used. */
static uint64_t ring_resident(int fd)
{
	struct count c = { fd, 0, 0 };
	uint64_t base = (uint64_t)(uintptr_t)hg_ring, data = base + hg_ring->data_offset;

	count_range(base, data, &c);
	for (uint32_t i = 0; i < hg_ring->n_slots; i++)
		if (hg_ring_used_slot(i))
			count_range(data + (uint64_t)i * hg_ring->slot_bytes,
				    data + (uint64_t)(i + 1) * hg_ring->slot_bytes, &c);
	return counted_bytes(&c);
}

void hg_ownmem_sample(uint64_t t_ns)
{
	struct hg_rec_tracer rec = { { HG_REC_TRACER, 0, sizeof(rec) }, t_ns, 0,
				     HG_TRACER_UNKNOWN };
	int saved = errno, fd;

	if (!hg_ring)
		return;
	fd = hg_procself_open("pagemap");
	rec.tables_bytes = tables_resident(fd);
	if (fd >= 0) {
		rec.ring_bytes = ring_resident(fd);
		close(fd);
	}
	if (rec.tables_bytes == HG_TRACER_UNKNOWN && fd >= 0)
		rec.tables_bytes = tables_resident(-1); /* pagemap refused a read: mincore */
	errno = saved;
	if (rec.tables_bytes != HG_TRACER_UNKNOWN)
		hg_ring_put(&rec, sizeof(rec));
}
