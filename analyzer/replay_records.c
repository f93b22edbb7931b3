/*
 * replay_records.c - the records of a trace, one by one in file order
 *
 * Allocations, frees and the other timed events go to the merge (hg_replay_push_timed), which
 * applies them in time order. The rest is applied at once, in file order: a PROCESS record
 * creates its image (so that the STACK and MODULE records after it in the same thread find
 * it), a STACK record goes to the image its thread was running at its last timed record, an
 * EXIT record ends the image that was running then.
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "diag.h"
#include "peak.h"
#include "replay.h"
#include "replay_int.h"
#include "trace_reader.h"

/* argv as /proc/PID/cmdline has it (NUL-separated) joined with spaces. */
char *hg_replay_join(const char *p, uint32_t n)
{
	char *s = hg_xmalloc((size_t)n + 1);

	memcpy(s, p, n);
	s[n] = '\0';
	while (n > 0 && s[n - 1] == '\0')
		n--;
	for (uint32_t i = 0; i < n; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	return s;
}

/* text on one line: newline, tab and carriage return as \n, \t and \r, other control
 * characters as \xNN; the caller frees it. */
static char *title_of(const char *text)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	char *t;

	for (const char *p = text; *p; p++)
		n += (unsigned char)*p < 0x20 || *p == 0x7f ? 4 : 1;
	t = hg_xmalloc(n + 1);
	n = 0;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		const char *named = *p == '\n' ? "\\n" : *p == '\t' ? "\\t" : *p == '\r' ? "\\r" : NULL;
		if (named) {
			memcpy(t + n, named, 2);
			n += 2;
		} else if (*p < 0x20 || *p == 0x7f) {
			t[n++] = '\\';
			t[n++] = 'x';
			t[n++] = hex[*p >> 4];
			t[n++] = hex[*p & 15];
		} else {
			t[n++] = (char)*p;
		}
	}
	t[n] = '\0';
	return t;
}

static void on_process(struct hg_replay_state *s, const struct hg_rec_process *p, uint32_t tid)
{
	const char *tail = (const char *)(p + 1);
	struct hg_image *im = hg_replay_new_image(s, p->pid, p->t_ns), *prev = NULL, *next = NULL;
	struct hg_pid_images *e = hg_replay_pid_entry(s, p->pid);
	struct hg_pending fork = { 0 };

	for (size_t i = 0; i < e->n; i++)
		if (e->im[i] == im) {
			prev = i > 0 ? e->im[i - 1] : NULL;
			next = i + 1 < e->n ? e->im[i + 1] : NULL;
		}

	im->ppid = im->ppid_read = p->ppid;
	im->forked = (p->hdr.flags & HG_PROCESS_FORK) != 0;
	im->bare = (p->hdr.flags & HG_PROCESS_BARE) != 0;
	im->foreign_malloc = (p->hdr.flags & HG_PROCESS_FOREIGN_MALLOC) != 0;
	im->max_frames = p->max_frames;
	free(im->command);
	free(im->exe);
	free(im->title);
	im->command = hg_replay_join(tail, p->cmdline_bytes);
	im->exe = hg_replay_join(tail + p->cmdline_bytes, p->exe_bytes);
	im->title = title_of(*im->command ? im->command : im->exe);
	/* An exec, as far as can be told yet: an exit of the earlier image says otherwise (the
	 * pid was reused by another process; see on_exit_record). */
	if (prev && !im->forked) {
		im->exec = 1;
		im->ppid = prev->ppid;
		prev->t_replaced_ns = p->t_ns;
		if (prev->end_kind == HG_END_UNKNOWN) {
			prev->end_kind = HG_END_EXEC;
			prev->end_inferred = 1;
		}
	}
	if (next && !next->forked) { /* the image that replaced this one came first in the file */
		next->exec = 1;
		next->ppid = im->ppid;
		im->t_replaced_ns = next->t_start_ns;
		if (im->end_kind == HG_END_UNKNOWN) {
			im->end_kind = HG_END_EXEC;
			im->end_inferred = 1;
		}
	}
	/* Whichever came first in the file, the earlier image gets no event after the later
	 * one started. */
	if (prev)
		hg_replay_replaced(s, prev, p->t_ns);
	if (next)
		hg_replay_replaced(s, im, next->t_start_ns);
	hg_replay_stream_of(s, p->pid, tid)->last_t = p->t_ns;
	if (im->forked) {
		/* The parent's own PROCESS record may come later in the file (it wrote to a ring
		 * slot the collector drains after the child's): then it is found when the copy
		 * is made, in time order, by which point everything before the fork is read. */
		if ((im->parent = hg_replay_find_image(s, p->ppid, p->t_ns)))
			im->parent_module_seq = im->parent->module_seq;
		fork.t_ns = p->t_ns;
		fork.kind = P_FORK;
		fork.im = im;
		hg_replay_push_timed(s, &fork, p->pid, tid);
	}
}

static void on_stack(struct hg_replay_state *s, const struct hg_rec_stack *st, uint32_t pid,
		     uint32_t tid)
{
	struct hg_image *im = hg_replay_image_at(s, pid, hg_replay_stream_of(s, pid, tid)->last_t);
	struct hg_stack *dst;

	if (st->stack_id >= im->n_stacks) {
		size_t cap = im->n_stacks;
		HG_GROW(im->stacks, cap, (size_t)st->stack_id + 1);
		im->n_stacks = (uint32_t)cap;
	}
	dst = &im->stacks[st->stack_id];
	free(dst->ip);
	dst->n_frames = st->n_frames;
	dst->module_seq = im->module_seq;
	dst->ip = hg_xmalloc(sizeof(uint64_t) * (st->n_frames ? st->n_frames : 1));
	memcpy(dst->ip, st + 1, sizeof(uint64_t) * st->n_frames);
}

static void (*module_watcher)(void *arg, const struct hg_module *m);
static void *module_watcher_arg;

void hg_replay_watch_modules(void (*fn)(void *arg, const struct hg_module *m), void *arg)
{
	module_watcher = fn;
	module_watcher_arg = arg;
}

static void on_module(struct hg_replay_state *s, const struct hg_rec_module *m, uint32_t pid)
{
	struct hg_image *im = hg_replay_image_at(s, pid, m->t_ns);
	const struct hg_segment *seg = (const struct hg_segment *)(m + 1);
	const uint8_t *bid = (const uint8_t *)(seg + m->n_segments);
	struct hg_module *mod;
	size_t cap = im->n_modules;

	HG_GROW(im->modules, cap, (size_t)im->n_modules + 1);
	mod = &im->modules[im->n_modules++];
	memset(mod, 0, sizeof(*mod));
	mod->path = hg_replay_join((const char *)bid + m->build_id_bytes, m->path_bytes);
	mod->build_id_len = m->build_id_bytes <= sizeof(mod->build_id) ? m->build_id_bytes : 0;
	memcpy(mod->build_id, bid, mod->build_id_len);
	mod->is_main = (m->hdr.flags & HG_MODULE_MAIN) != 0;
	mod->load_bias = m->load_bias;
	mod->t_load_ns = m->t_ns;
	mod->t_unload_ns = UINT64_MAX;
	mod->seq_load = ++im->module_seq;
	mod->seq_unload = UINT32_MAX;
	mod->lo = UINT64_MAX;
	for (uint32_t i = 0; i < m->n_segments; i++) {
		if (m->load_bias + seg[i].vaddr < mod->lo)
			mod->lo = m->load_bias + seg[i].vaddr;
		if (m->load_bias + seg[i].vaddr + seg[i].memsz > mod->hi)
			mod->hi = m->load_bias + seg[i].vaddr + seg[i].memsz;
	}
	if (module_watcher)
		module_watcher(module_watcher_arg, mod);
}

static void on_unmodule(struct hg_replay_state *s, const struct hg_rec_unmodule *u, uint32_t pid)
{
	struct hg_image *im = hg_replay_image_at(s, pid, u->t_ns);

	for (uint32_t i = im->n_modules; i-- > 0;) {
		struct hg_module *m = &im->modules[i];
		if (m->load_bias == u->load_bias && m->t_unload_ns == UINT64_MAX) {
			m->t_unload_ns = u->t_ns;
			m->seq_unload = ++im->module_seq;
			return;
		}
	}
}

/* im exited by itself after all: the next image of its pid is another process, not an exec. */
static void not_an_exec(struct hg_replay_state *s, struct hg_image *im)
{
	struct hg_pid_images *e = hg_replay_pid_entry(s, im->pid);

	im->end_kind = HG_END_UNKNOWN;
	im->end_inferred = 0;
	for (size_t i = 0; i + 1 < e->n; i++)
		if (e->im[i] == im) {
			e->im[i + 1]->exec = 0;
			e->im[i + 1]->ppid = e->im[i + 1]->ppid_read;
		}
}

static void on_exit_record(struct hg_replay_state *s, const struct hg_rec_exit *x)
{
	struct hg_image *im = hg_replay_find_image(s, x->pid, x->t_ns);

	/* A reaper's word is about its own child: an image of the pid whose parent is another
	 * process (the child was untraced and its pid an earlier image's) is not that child. */
	if (!im || (x->reaper_pid && im->ppid != x->reaper_pid))
		return;
	if (im->end_inferred)
		not_an_exec(s, im);
	if (!im->t_exit_ns || x->t_ns < im->t_exit_ns)
		im->t_exit_ns = x->t_ns;
	if (x->source == HG_EXIT_SIGNAL) {
		im->end_kind = HG_END_SIGNAL;
		im->exit_status = x->status;
	} else if (x->source == HG_EXIT_WAIT || x->source == HG_EXIT_CALL) {
		im->said_exit |= x->source == HG_EXIT_CALL;
		/* waitpid's word is final; exit()'s stands until then. */
		if (x->source == HG_EXIT_WAIT || im->end_kind == HG_END_UNKNOWN) {
			im->end_kind = HG_END_CODE;
			im->exit_status = x->status;
		}
	}
}

void hg_replay_reaped_apply(struct hg_replay_state *s)
{
	for (size_t i = 0; i < s->n_reaped; i++)
		on_exit_record(s, &s->reaped[i]);
	free(s->reaped);
	s->reaped = NULL;
	s->n_reaped = s->reaped_cap = 0;
}

static void on_loss(struct hg_replay_state *s, const struct hg_rec_loss *l)
{
	struct hg_image *im = l->pid ? hg_replay_find_image(s, l->pid, l->t_ns) : NULL;

	if (im)
		im->totals.lost_events += l->n_events;
	else
		s->r->lost_events += l->n_events;
}

void hg_replay_dispatch(struct hg_replay_state *s, const struct hg_record *rec)
{
	const struct hg_rec *h = rec->rec;
	struct hg_pending p = { 0 };

	switch (h->type) {
	case HG_REC_PROCESS: on_process(s, (const void *)h, rec->tid); break;
	case HG_REC_STACK: on_stack(s, (const void *)h, rec->pid, rec->tid); break;
	case HG_REC_MODULE: on_module(s, (const void *)h, rec->pid); break;
	case HG_REC_UNMODULE: on_unmodule(s, (const void *)h, rec->pid); break;
	case HG_REC_EXIT:
		hg_replay_dead(s, (const void *)h);
		if (((const struct hg_rec_exit *)(const void *)h)->reaper_pid) {
			HG_GROW(s->reaped, s->reaped_cap, s->n_reaped + 1);
			memcpy(&s->reaped[s->n_reaped++], h, sizeof(*s->reaped));
		} else {
			on_exit_record(s, (const void *)h);
		}
		break;
	case HG_REC_LOSS: on_loss(s, (const void *)h); break;
	case HG_REC_MALLINFO: {
		const struct hg_rec_mallinfo *x = (const void *)h;
		struct hg_mallinfo mi = { 0, x->arena_bytes, x->mmap_bytes, x->free_bytes,
					  x->releasable_bytes };
		hg_mallinfo_note(hg_replay_image_at(s, rec->pid, x->t_ns), x->t_ns, &mi);
		break;
	}
	case HG_REC_TRACER: {
		const struct hg_rec_tracer *x = (const void *)h;
		hg_tracer_note(hg_replay_image_at(s, rec->pid, x->t_ns), x->t_ns, x->tables_bytes,
			       x->ring_bytes);
		break;
	}
	case HG_REC_RSS: {
		const struct hg_rec_rss *x = (const void *)h;
		struct hg_image *im = hg_replay_find_image(s, x->pid, x->t_ns);
		if (!im)
			break;
		hg_rss_note(im, x->t_ns, x->rss_bytes);
		/* Also a timed event: the merge captures the image at the largest sample. */
		p = (struct hg_pending){ .t_ns = x->t_ns, .size = x->rss_bytes, .kind = P_RSS };
		hg_replay_push_timed(s, &p, x->pid, 0);
		break;
	}
	case HG_REC_FORK: {
		const struct hg_rec_fork *x = (const void *)h;
		p = (struct hg_pending){ .t_ns = x->t_ns, .kind = P_FORK, .im = NULL };
		hg_replay_push_timed(s, &p, rec->pid, rec->tid);
		break;
	}
	case HG_REC_HORIZON: {
		hg_replay_horizon(s, ((const struct hg_rec_horizon *)(const void *)h)->horizon_ns);
		break;
	}
	case HG_REC_MMAP:
	case HG_REC_MUNMAP:
	case HG_REC_MREMAP:
	case HG_REC_MPROTECT: hg_replay_on_map(s, h, rec->pid, rec->tid); break;
	case HG_REC_SNAPSHOT: hg_replay_on_snapshot(s, (const void *)h, rec->pid, rec->tid); break;
	case HG_REC_REGION:
	case HG_REC_WORDS:
	case HG_REC_SNAPSHOT_END: hg_replay_on_snapshot_part(s, h, rec->pid, rec->tid); break;
	default: break; /* a newer writer's record type: skipped by the version policy */
	}
}
