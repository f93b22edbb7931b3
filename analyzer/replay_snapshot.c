/*
 * replay_snapshot.c - heap snapshots during a replay: their records and their live sets
 *
 * A SNAPSHOT record creates the snapshot in its image and queues a timed event at its t_ns, so
 * that the live set is copied when the merge reaches that moment: every allocation and free
 * before it applied, none after. REGION, WORDS and SNAPSHOT_END records that follow in the same
 * thread attach to it in file order.
 */
#include <stdlib.h>
#include <string.h>

#include "block_index.h"
#include "diag.h"
#include "peak.h"
#include "replay_int.h"

/* The snapshot's moment: copy the live sums, and (unless only they are wanted) the live set,
 * sorted by address. */
void hg_replay_apply_snapshot(struct hg_image *im, struct hg_snapshot *sn, unsigned flags)
{
	size_t n;

	if (!(flags & HG_REPLAY_SNAPSHOT_SUMS)) {
		sn->blocks = hg_image_live_blocks(im, &n);
		hg_blocks_sort_by_addr(sn->blocks, n);
		sn->n_blocks = n;
	}
	sn->sites = hg_sites_live_copy(im, &sn->n_sites);
	sn->live_bytes = im->totals.live_bytes;
	sn->live_blocks = im->totals.live_blocks;
	sn->have_blocks = 1;
	sn->mmap_bytes = im->mmap.live_bytes;
	sn->mmap_mappings = im->mmap.live_mappings;
	hg_heaptop_copy(&sn->heaptop, &im->heaptop);
}

void hg_replay_on_snapshot(struct hg_replay_state *s, const struct hg_rec_snapshot *r, uint32_t pid,
			uint32_t tid)
{
	struct hg_image *im = hg_replay_image_at(s, pid, r->t_ns);
	struct hg_snapshot *sn = hg_xcalloc(1, sizeof(*sn));
	struct hg_pending p = { 0 };
	size_t cap = im->n_snapshots;

	sn->id = r->snapshot_id;
	sn->reason = r->hdr.flags;
	sn->label = hg_replay_join((const char *)(r + 1), r->label_bytes);
	sn->t_ns = r->t_ns;
	sn->threads = r->threads;
	sn->threads_stopped = r->threads_stopped;
	HG_GROW(im->snapshots, cap, (size_t)im->n_snapshots + 1);
	im->snapshots[im->n_snapshots++] = sn;
	p.t_ns = r->t_ns;
	p.kind = P_SNAP;
	p.im = im;
	p.stack_id = im->n_snapshots - 1;
	hg_replay_push_timed(s, &p, pid, tid);
}

static struct hg_snapshot *snapshot_of(struct hg_image *im, uint32_t id)
{
	for (uint32_t i = im->n_snapshots; i-- > 0;)
		if (im->snapshots[i]->id == id)
			return im->snapshots[i];
	return NULL;
}

/* REGION, WORDS and SNAPSHOT_END belong to the snapshot their thread just began. */
void hg_replay_on_snapshot_part(struct hg_replay_state *s, const struct hg_rec *h, uint32_t pid,
			     uint32_t tid)
{
	struct hg_image *im = hg_replay_image_at(s, pid, hg_replay_stream_of(s, pid, tid)->last_t);
	const struct hg_rec_words *w = (const void *)h;
	struct hg_snapshot *sn = snapshot_of(im, w->snapshot_id); /* id at offset 8 in all three */

	if (!sn)
		return;
	if (h->type == HG_REC_REGION) {
		const struct hg_rec_region *r = (const void *)h;
		size_t at = sn->n_regions;

		/* Kept in address order: the shim writes the mappings in order, then its register
		 * buffer (in its own arena, anywhere), which must not break a binary search. */
		HG_GROW(sn->regions, sn->regions_cap, sn->n_regions + 1);
		while (at > 0 && sn->regions[at - 1].lo > r->lo)
			at--;
		memmove(sn->regions + at + 1, sn->regions + at,
			(sn->n_regions - at) * sizeof(*sn->regions));
		sn->regions[at] = (struct hg_region){ r->lo, r->hi, r->live_lo,
			r->hdr.flags & 0xffu, r->tid, (r->hdr.flags & HG_REGION_GUARD_BELOW) != 0 };
		sn->n_regions++;
	} else if (h->type == HG_REC_WORDS) {
		if (s->flags & HG_REPLAY_SKIP_WORDS)
			return;
		HG_GROW(sn->pairs, sn->pairs_cap, 2 * (sn->n_pairs + w->n));
		memcpy(sn->pairs + 2 * sn->n_pairs, w + 1, 16u * w->n);
		sn->n_pairs += w->n;
	} else {
		const struct hg_rec_snapshot_end *e = (const void *)h;
		sn->complete = 1;
		sn->words_scanned = e->words_scanned;
		sn->pairs_written = e->pairs;
	}
}

void hg_snapshot_shed(struct hg_snapshot *sn)
{
	free(sn->blocks);
	free(sn->regions);
	free(sn->pairs);
	sn->blocks = NULL;
	sn->regions = NULL;
	sn->pairs = NULL;
	sn->n_blocks = sn->n_regions = sn->regions_cap = sn->n_pairs = sn->pairs_cap = 0;
	sn->have_blocks = 0;
}

void hg_replay_snapshot_free(struct hg_snapshot *sn)
{
	hg_snapshot_shed(sn);
	free(sn->label);
	free(sn->sites);
	hg_heaptop_release(&sn->heaptop);
	free(sn);
}

