/*
 * replay_image.c - what a replayed image is asked afterwards (a stack, the module of an
 * address), and freeing it all
 */
#include <stdlib.h>

#include "heaptop.h"
#include "replay.h"
#include "replay_int.h"

const struct hg_stack *hg_image_stack(const struct hg_image *im, uint32_t stack_id)
{
	for (; im; im = im->parent)
		if (stack_id < im->n_stacks && im->stacks[stack_id].n_frames)
			return &im->stacks[stack_id];
	return NULL;
}

/* The module of im or its fork ancestors mapping addr: of those mapped at seq (im's
 * module_seq; each parent's as of the fork) if any, else the latest loaded. */
static const struct hg_module *module_at(const struct hg_image *im, uint64_t addr, uint32_t seq)
{
	const struct hg_module *latest = NULL;

	for (; im; seq = im->parent_module_seq, im = im->parent) {
		for (uint32_t i = im->n_modules; i-- > 0;) {
			const struct hg_module *m = &im->modules[i];
			if (addr < m->lo || addr >= m->hi)
				continue;
			if (m->seq_load <= seq && seq < m->seq_unload)
				return m;
			if (!latest)
				latest = m;
		}
	}
	return latest;
}

const struct hg_module *hg_stack_module(const struct hg_image *im, uint32_t stack_id,
					uint64_t addr)
{
	const struct hg_image *owner = im;

	/* The stack's recording time is in the module_seq of the image that defines it. */
	while (owner && !(stack_id < owner->n_stacks && owner->stacks[stack_id].n_frames))
		owner = owner->parent;
	if (!owner)
		return module_at(im, addr, UINT32_MAX);
	return module_at(owner, addr, owner->stacks[stack_id].module_seq);
}

static void image_free(struct hg_image *im)
{
	for (uint32_t i = 0; i < im->n_snapshots; i++)
		hg_replay_snapshot_free(im->snapshots[i]);
	free(im->snapshots);
	for (uint32_t i = 0; i < im->n_stacks; i++)
		free(im->stacks[i].ip);
	for (uint32_t i = 0; i < im->n_modules; i++)
		free(im->modules[i].path);
	free(im->stacks);
	free(im->modules);
	free(im->sites);
	free(im->peak_sites);
	free(im->at_sites);
	free(im->timeline);
	free(im->rss);
	free(im->mallinfo);
	hg_mmap_domain_release(&im->mmap);
	free(im->command);
	free(im->exe);
	free(im->title);
	hg_addrmap_release(&im->live);
	hg_addrmap_release(&im->big_sizes);
	hg_heaptop_release(&im->heaptop);
	hg_replay_orphans_release(im);
	free(im);
}

void hg_replay_free(struct hg_replay *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n_images; i++)
		image_free(r->images[i]);
	free(r->images);
	free(r->damage);
	free(r->path);
	free(r);
}
