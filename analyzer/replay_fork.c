/*
 * replay_fork.c - a fork child's heap starts as its parent's: the two sides of a fork meet
 *
 * The parent's side of a fork (its HG_REC_FORK record) and the child's (the P_FORK event its
 * PROCESS record queues) reach the merge at the fork's time in either order. Whichever comes
 * first copies the parent's state as it stands then (live blocks, own mappings, high-water
 * marks); the child starts from that copy. A trace from before HG_REC_FORK has only the child's
 * side, which then copies the parent as it stands.
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "diag.h"
#include "heaptop.h"
#include "replay.h"
#include "replay_int.h"

/* The fork of ppid at t of which one side was applied, or NULL. */
static struct hg_fork_meet *fork_meet(struct hg_replay_state *s, uint32_t ppid, uint64_t t)
{
	struct hg_fork_key key = { t, ppid };
	struct hg_fork_meet *m;

	HASH_FIND(hh, s->meets, &key, sizeof(key), m);
	return m;
}

static struct hg_fork_meet *fork_meet_add(struct hg_replay_state *s, uint32_t ppid, uint64_t t)
{
	struct hg_fork_meet *m = hg_xcalloc(1, sizeof(*m));

	m->key = (struct hg_fork_key){ t, ppid };
	HASH_ADD(hh, s->meets, key, sizeof(m->key), m);
	return m;
}

/* The parent's state as it stands, for a fork child, into c (empty). */
static void fork_copy_take(struct hg_fork_copy *c, const struct hg_image *parent)
{
	hg_replay_heap_copy(parent, c);
	c->ranges = hg_replay_maps_copy(parent, &c->n_ranges);
	hg_heaptop_copy(&c->heaptop, &parent->heaptop);
}

static void fork_copy_release(struct hg_fork_copy *c)
{
	hg_addrmap_release(&c->live);
	hg_addrmap_release(&c->big_sizes);
	free(c->sites);
	free(c->ranges);
	hg_heaptop_release(&c->heaptop);
	memset(c, 0, sizeof(*c));
}

static void fork_meet_drop(struct hg_replay_state *s, struct hg_fork_meet *m)
{
	HASH_DEL(s->meets, m);
	fork_copy_release(&m->copy);
	free(m);
}

/* The parent's side of a fork (HG_REC_FORK): its state now, for the child. */
void hg_replay_fork_point(struct hg_replay_state *s, struct hg_image *parent, uint64_t t)
{
	struct hg_fork_meet *m = fork_meet(s, parent->pid, t);

	if (m) { /* the child was applied first, and copied the parent as it stood then */
		fork_meet_drop(s, m);
		return;
	}
	m = fork_meet_add(s, parent->pid, t);
	m->kept = 1;
	fork_copy_take(&m->copy, parent);
}

/*
 * The child's side: its heap, mappings and high-water marks start as the parent's at the fork,
 * as the parent's side kept them, or (that side not applied yet, or a trace from before
 * HG_REC_FORK) as the parent's stand.
 */
void hg_replay_apply_fork(struct hg_replay_state *s, struct hg_image *child, uint64_t t)
{
	struct hg_image *parent = child->parent;
	struct hg_fork_meet *m;
	struct hg_fork_copy c = { 0 };

	if (!parent && (parent = child->parent = hg_replay_find_image(s, child->ppid, t)))
		child->parent_module_seq = parent->module_seq;
	if (!parent)
		return;
	if ((m = fork_meet(s, child->ppid, t)) && m->kept) {
		c = m->copy;
		memset(&m->copy, 0, sizeof(m->copy));
		fork_meet_drop(s, m);
	} else {
		fork_copy_take(&c, parent);
		if (!m) /* for the parent's side, if the trace has one: nothing left to copy */
			fork_meet_add(s, child->ppid, t);
	}
	hg_replay_heap_from(child, &c, t);
	hg_replay_fork_maps(child, t, c.ranges, c.n_ranges);
	hg_heaptop_release(&child->heaptop);
	child->heaptop = c.heaptop; /* handed over: the release below leaves it alone */
	c.heaptop = (struct hg_heaptop){ 0 };
	fork_copy_release(&c);
}

void hg_replay_fork_meets_release(struct hg_replay_state *s)
{
	struct hg_fork_meet *m, *tmp;

	HASH_ITER(hh, s->meets, m, tmp) /* forks whose other side never came */
		fork_meet_drop(s, m);
}
