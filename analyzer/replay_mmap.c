/*
 * replay_mmap.c - the mmap domain during a replay: the program's own anonymous mappings
 *
 * MMAP, MUNMAP, MREMAP and MPROTECT records become timed events in their thread's FIFO, so that
 * they are
 * applied in time order with the heap's events (a snapshot sees exactly the mappings of its
 * moment, a fork child a copy of its parent's). Each event edits the image's range set
 * (maprange.c): an mmap first removes whatever it lands on (MAP_FIXED replaces mappings), a
 * munmap removes any part of any range, an mremap removes its old range and adds the new one
 * with the same protection, charged to the mremap's stack, and an mprotect moves bytes between
 * accessible and reserved (PROT_NONE). Records that touch no range of the domain (a file
 * mapping's munmap, mremap or mprotect) change nothing. The heap's totals and sites are never
 * touched here.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "diag.h"
#include "peak.h"
#include "replay_int.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif

/* PROT_NONE (whatever other bits): no access, so no memory behind the range. */
static uint32_t flags_of(uint32_t prot)
{
	return prot & (PROT_READ | PROT_WRITE | PROT_EXEC) ? 0 : HG_MAPRANGE_RESERVED;
}

static struct hg_pending map_event(uint64_t t_ns, uint64_t addr, uint64_t size,
				    uint32_t stack_id, int kind)
{
	return (struct hg_pending){ .t_ns = t_ns, .addr = addr, .size = size,
				    .stack_id = stack_id, .kind = (uint8_t)kind };
}

void hg_replay_on_map(struct hg_replay_state *s, const struct hg_rec *h, uint32_t pid,
		      uint32_t tid)
{
	struct hg_pending p;

	if (h->type == HG_REC_MMAP) {
		const struct hg_rec_mmap *m = (const void *)h;
		p = map_event(m->t_ns, m->addr, m->length_bytes, m->stack_id,
			      flags_of(m->prot) ? P_MAP_RESERVED : P_MAP);
	} else if (h->type == HG_REC_MUNMAP) {
		const struct hg_rec_munmap *u = (const void *)h;
		p = map_event(u->t_ns, u->addr, u->length_bytes, 0,
			      P_UNMAP);
	} else if (h->type == HG_REC_MPROTECT) {
		const struct hg_rec_mprotect *m = (const void *)h;
		p = map_event(m->t_ns, m->addr, m->length_bytes, m->prot,
			      P_PROTECT);
	} else {
		const struct hg_rec_mremap *m = (const void *)h;
		/* The old half carries the flags where a stack id would be. */
		p = map_event(m->t_ns, m->old_addr, m->old_bytes, m->mremap_flags,
			      P_REMAP_OLD);
		hg_replay_push_timed(s, &p, pid, tid);
		p = map_event(m->t_ns, m->new_addr, m->new_bytes, m->stack_id,
			      P_REMAP_NEW);
	}
	hg_replay_push_timed(s, &p, pid, tid);
}

static struct hg_site *dsite(struct hg_mmap_domain *d, uint32_t stack_id)
{
	if (stack_id >= d->n_sites) {
		size_t cap = d->n_sites;
		HG_GROW(d->sites, cap, (size_t)stack_id + 1);
		d->n_sites = (uint32_t)cap;
	}
	return &d->sites[stack_id];
}

/* Keep every other point and the peak, doubling the step (as the heap's timeline does). */
static void thin(struct hg_mmap_domain *d)
{
	size_t out = 0;

	for (size_t i = 0; i < d->n_timeline; i++)
		if (i % 2 == 0 || d->timeline[i].heap_bytes == d->peak_bytes)
			d->timeline[out++] = d->timeline[i];
	d->n_timeline = out;
	d->timeline_step_ns *= 2;
}

static void note(struct hg_mmap_domain *d, uint64_t t)
{
	struct hg_point *last = d->n_timeline ? &d->timeline[d->n_timeline - 1] : NULL;

	if (d->live_bytes > d->peak_bytes) {
		d->peak_bytes = d->live_bytes;
		d->peak_time_ns = t;
	}
	if (!d->timeline_step_ns)
		d->timeline_step_ns = 1000000;
	if (last && t < last->t_ns + d->timeline_step_ns) {
		if (d->live_bytes == d->peak_bytes || last->heap_bytes != d->peak_bytes)
			last->heap_bytes = d->live_bytes;
		return;
	}
	if (d->n_timeline >= HG_TIMELINE_MAX)
		thin(d);
	HG_GROW(d->timeline, d->timeline_cap, d->n_timeline + 1);
	d->timeline[d->n_timeline++] = (struct hg_point){ t, d->live_bytes };
}

/* bytes (negative: gone) of flags at stack_id, and ranges more or fewer. */
static void account(struct hg_mmap_domain *d, uint32_t stack_id, uint32_t flags, int64_t bytes,
		    int64_t ranges)
{
	struct hg_site *st = dsite(d, stack_id);

	if (flags & HG_MAPRANGE_RESERVED) {
		d->reserved_bytes += (uint64_t)bytes;
	} else {
		st->live_bytes += (uint64_t)bytes;
		d->live_bytes += (uint64_t)bytes;
	}
	st->live_blocks += (uint64_t)ranges;
	d->live_mappings += (uint64_t)ranges;
}

static void cut(void *ctx, const struct hg_maprange *r, uint64_t bytes, int ranges_delta)
{
	account(ctx, r->stack_id, r->flags, -(int64_t)bytes, ranges_delta);
}

static void flip(void *ctx, const struct hg_maprange *was, uint64_t bytes, uint32_t new_flags,
		 int ranges_delta)
{
	account(ctx, was->stack_id, was->flags, -(int64_t)bytes, 0);
	account(ctx, was->stack_id, new_flags, (int64_t)bytes, ranges_delta);
}

static uint64_t unmap(struct hg_mmap_domain *d, uint64_t addr, uint64_t len)
{
	uint64_t lo = addr & ~(HG_MAP_PAGE - 1);

	return len ? hg_mapset_remove(&d->ranges, lo, hg_map_page_up(addr + len), cut, d) : 0;
}

/* Map [addr, addr + len) for stack_id, replacing whatever of the domain was there. */
static void map(struct hg_mmap_domain *d, uint64_t addr, uint64_t len, uint32_t stack_id,
		uint32_t flags)
{
	uint64_t bytes = hg_map_page_up(len);

	if (!bytes)
		return;
	unmap(d, addr, bytes);
	hg_mapset_add(&d->ranges, addr, addr + bytes, stack_id, flags);
	account(d, stack_id, flags, (int64_t)bytes, 1);
}

/* A call that mapped memory: counted at its site and in the domain. */
static void count_call(struct hg_mmap_domain *d, uint32_t stack_id, uint64_t len)
{
	struct hg_site *st = dsite(d, stack_id);

	st->allocations++;
	st->allocated_bytes += hg_map_page_up(len);
	d->mapped_bytes += hg_map_page_up(len);
}

void hg_replay_apply_map(struct hg_image *im, const struct hg_pending *p)
{
	struct hg_mmap_domain *d = &im->mmap;
	uint64_t t = hg_image_time(im, p->t_ns);

	switch (p->kind) {
	case P_MAP:
	case P_MAP_RESERVED:
		map(d, p->addr, p->size, p->stack_id,
		    p->kind == P_MAP_RESERVED ? HG_MAPRANGE_RESERVED : 0);
		count_call(d, p->stack_id, p->size);
		d->maps++;
		break;
	case P_UNMAP:
		if (unmap(d, p->addr, p->size))
			d->unmaps++;
		break;
	case P_REMAP_OLD: {
		/* An old size of 0 makes a second mapping of shared pages: nothing goes. */
		const struct hg_maprange *old = hg_mapset_find(&d->ranges, p->addr);
		d->remap_old_ours = old != NULL;
		d->remap_old_flags = old ? old->flags : 0;
		if (old && !(p->stack_id & MREMAP_DONTUNMAP))
			unmap(d, p->addr, p->size);
		break;
	}
	case P_REMAP_NEW:
		if (!d->remap_old_ours)
			return; /* a file mapping moved: not ours */
		map(d, p->addr, p->size, p->stack_id, d->remap_old_flags);
		count_call(d, p->stack_id, p->size);
		d->remaps++;
		d->remap_old_ours = 0;
		break;
	case P_PROTECT:
		hg_mapset_set_flags(&d->ranges, p->addr & ~(HG_MAP_PAGE - 1),
				    hg_map_page_up(p->addr + p->size), flags_of(p->stack_id), flip, d);
		break;
	default:
		return;
	}
	note(d, t);
}

struct hg_maprange *hg_replay_maps_copy(const struct hg_image *im, size_t *n)
{
	const struct hg_mapset *set = &im->mmap.ranges;
	struct hg_maprange *r = hg_xmalloc(sizeof(*r) * (set->n ? set->n : 1));

	memcpy(r, set->v, sizeof(*r) * set->n);
	*n = set->n;
	return r;
}

void hg_replay_fork_maps(struct hg_image *child, uint64_t t, const struct hg_maprange *r,
			 size_t n)
{
	for (size_t i = 0; i < n; i++)
		map(&child->mmap, r[i].lo, r[i].hi - r[i].lo, r[i].stack_id, r[i].flags);
	if (n)
		note(&child->mmap, hg_image_time(child, t));
}

void hg_replay_apply_rss(struct hg_image *im, const struct hg_pending *p)
{
	if (p->size <= im->at_rss_peak.rss_bytes)
		return;
	hg_moment_capture(im, p->t_ns, &im->at_rss_peak);
	im->at_rss_peak.rss_bytes = p->size;
}

void hg_mmap_domain_release(struct hg_mmap_domain *d)
{
	hg_mapset_release(&d->ranges);
	free(d->sites);
	free(d->timeline);
	memset(d, 0, sizeof(*d));
}
