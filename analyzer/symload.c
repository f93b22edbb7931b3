/*
 * symload.c - open the modules a replay reads, with their debug information, in a second
 * thread while the replay goes on
 *
 * Opening a module's DWARF is a fixed cost of every report: Debian's libc6-dbg keeps libc's
 * sections zlib-compressed, and inflating them took 36 ms of the 50 ms that reporting a
 * 141-record trace took, and a third of a report of `git log -p`. During the replay one core
 * runs it and the other decodes the trace, but the decoder waits for the replay most of that
 * time. So the framer watches the modules the replay reads, and a thread opens each in the
 * framer's symbolizer; the framer takes its symbolizer back before its first lookup, waiting
 * for the module being opened at most. A module no stack needs costs that thread's time only.
 * Since the debug cache (debug_cache.h) keeps libc's debug file inflated, only a report that
 * finds the cache without it inflates; opening modules still overlaps the replay.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "replay.h"
#include "symbolize.h"
#include "symload.h"

struct item {
	char *path;
	uint8_t build_id[sizeof(((struct hg_module *)0)->build_id)];
	uint32_t build_id_len;
};

struct hg_symload {
	struct hg_symbolizer *sym;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct item *q;      /* every module queued, in the order read (under lock) */
	size_t n, cap;
	size_t next;         /* the first the thread has not taken (under lock) */
	int stop;            /* finishing: the thread takes no more (under lock) */
	int thread_state;    /* 0 none yet, 1 running, -1 could not be made */
	pthread_t thread;
};

static struct hg_symload *watching; /* the one hg_replay_watch_modules calls, or NULL */

static void *load_main(void *arg)
{
	struct hg_symload *l = arg;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		struct item it;

		while (l->next == l->n && !l->stop)
			pthread_cond_wait(&l->more, &l->lock);
		if (l->stop)
			break;
		it = l->q[l->next++]; /* the array may move; the strings do not */
		pthread_mutex_unlock(&l->lock);
		hg_symbolizer_preload(l->sym, it.path, it.build_id_len ? it.build_id : NULL,
				      it.build_id_len);
		pthread_mutex_lock(&l->lock);
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

static int queued(const struct hg_symload *l, const struct hg_module *m)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->q[i].build_id_len == m->build_id_len && !strcmp(l->q[i].path, m->path) &&
		    !memcmp(l->q[i].build_id, m->build_id, m->build_id_len))
			return 1;
	return 0;
}

/* The replay read module m (in the replay's thread). */
static void on_module(void *arg, const struct hg_module *m)
{
	struct hg_symload *l = arg;
	struct item *it;

	if (!m->path || !m->path[0] || m->build_id_len > sizeof(it->build_id))
		return;
	pthread_mutex_lock(&l->lock);
	if (l->thread_state >= 0 && l->n < HG_SYMLOAD_MAX && !queued(l, m)) {
		HG_GROW(l->q, l->cap, l->n + 1);
		it = &l->q[l->n++];
		it->path = hg_xstrdup(m->path);
		it->build_id_len = m->build_id_len;
		memcpy(it->build_id, m->build_id, m->build_id_len);
		if (l->thread_state == 0)
			l->thread_state = pthread_create(&l->thread, NULL, load_main, l) == 0 ? 1 : -1;
		pthread_cond_signal(&l->more);
	}
	pthread_mutex_unlock(&l->lock);
}

struct hg_symload *hg_symload_start(struct hg_symbolizer *sym)
{
	const char *urls = getenv("DEBUGINFOD_URLS");
	struct hg_symload *l;

	/* Opening a module looks its debug file up on the servers when none is on disk: ahead of
	 * need, that would download one for every module, used or not, and the first lookup
	 * would wait for the transfer in hand. */
	if (urls && *urls)
		return NULL;
	l = hg_xcalloc(1, sizeof(*l));

	l->sym = sym;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->more, NULL);
	watching = l;
	hg_replay_watch_modules(on_module, l);
	return l;
}

size_t hg_symload_taken(struct hg_symload *l)
{
	size_t n;

	pthread_mutex_lock(&l->lock);
	n = l->next;
	pthread_mutex_unlock(&l->lock);
	return n;
}

size_t hg_symload_finish(struct hg_symload *l, size_t *queued)
{
	size_t opened;

	if (queued)
		*queued = 0;
	if (!l)
		return 0;
	if (watching == l) {
		hg_replay_watch_modules(NULL, NULL);
		watching = NULL;
	}
	pthread_mutex_lock(&l->lock);
	l->stop = 1;
	pthread_cond_signal(&l->more);
	pthread_mutex_unlock(&l->lock);
	if (l->thread_state == 1)
		pthread_join(l->thread, NULL);
	opened = l->next;
	if (queued)
		*queued = l->n;
	for (size_t i = 0; i < l->n; i++)
		free(l->q[i].path);
	free(l->q);
	pthread_cond_destroy(&l->more);
	pthread_mutex_destroy(&l->lock);
	free(l);
	return opened;
}
