/*
 * write_behind.c - pack, compress and write the collector's staged records in a second thread
 *
 * One FIFO of jobs under a mutex: a stage to cut into blocks, a change of mode, an END block.
 * The collector queues and goes on; the thread takes the oldest job, does it without the lock,
 * and gives the stage's buffer back as a spare for the collector's next stage. Only the thread
 * touches the writer once it runs, so the writer needs no lock of its own.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "hg_format.h"
#include "write_behind.h"

/* Bytes of stages queued at most: four flushes of the collector. Past it the collector waits. */
#define MAX_QUEUED ((size_t)4 << 20)
/* Spare buffers kept for the collector's stages; the rest are freed. */
#define MAX_SPARES 16

enum job_kind { JOB_STAGE, JOB_MODE, JOB_END };

struct job {
	enum job_kind kind;
	uint32_t pid, tid;
	int arg;               /* JOB_STAGE: origins; JOB_MODE: the mode; JOB_END: final */
	uint8_t *buf;          /* JOB_STAGE: the records, len bytes of cap */
	size_t len, cap;
};

struct spare {
	uint8_t *buf;
	size_t cap;
};

struct hg_write_behind {
	struct hg_trace_writer *w;
	int can_mode;          /* the writer takes modes (it compresses) */
	pthread_mutex_t lock;
	pthread_cond_t work;   /* a job was queued, or stop */
	pthread_cond_t done;   /* a job was done */
	struct job *q;         /* FIFO: q[head .. n) (under lock) */
	size_t head, n, cap;
	size_t queued_bytes;   /* stage bytes in the FIFO or being written (under lock) */
	uint64_t n_queued;     /* jobs queued so far (under lock) */
	uint64_t n_done;       /* jobs done so far (under lock) */
	struct spare spares[MAX_SPARES]; /* (under lock) */
	size_t n_spares;
	int failed;            /* a write failed (under lock) */
	int stop;              /* no more jobs come: finish and return (under lock) */
	int threaded;
	pthread_t thread;
};

/*
 * Bytes from off that fit in one block: whole records, at most HG_BLOCK_MAX_RAW. Where a record
 * belongs to the ORIGIN before it (origins), a cut falls just before an ORIGIN: a block never
 * starts with records whose origin is in the previous one.
 */
static size_t block_cut(const uint8_t *buf, size_t len, size_t off, int origins)
{
	size_t n = 0, last_origin = 0;

	while (off + n < len) {
		const struct hg_rec *r = (const struct hg_rec *)(buf + off + n);
		if (n + r->size_bytes > HG_BLOCK_MAX_RAW && n > 0)
			return origins && last_origin ? last_origin : n;
		if (r->type == HG_REC_ORIGIN)
			last_origin = n;
		n += r->size_bytes;
	}
	return n;
}

/* Do one job; returns -1 when a write failed. Without the lock. */
static int run(struct hg_write_behind *b, const struct job *j)
{
	int rc = 0;

	if (j->kind == JOB_MODE)
		hg_trace_writer_mode(b->w, (enum hg_pack_mode)j->arg);
	else if (j->kind == JOB_END)
		rc = hg_trace_writer_end(b->w, j->arg);
	for (size_t off = 0; j->kind == JOB_STAGE && off < j->len;) {
		size_t n = block_cut(j->buf, j->len, off, j->arg);
		if (hg_trace_writer_block(b->w, j->pid, j->tid, j->buf + off, (uint32_t)n) < 0)
			rc = -1;
		off += n;
	}
	return rc;
}

/* A done job's buffer goes back to the spares, or is freed. Under lock. */
static void recycle(struct hg_write_behind *b, struct job *j)
{
	if (j->kind != JOB_STAGE)
		return;
	b->queued_bytes -= j->len;
	if (b->n_spares < MAX_SPARES)
		b->spares[b->n_spares++] = (struct spare){ j->buf, j->cap };
	else
		free(j->buf);
}

static void *thread_main(void *arg)
{
	struct hg_write_behind *b = arg;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct job j;
		int rc;

		while (b->head == b->n && !b->stop)
			pthread_cond_wait(&b->work, &b->lock);
		if (b->head == b->n)
			break; /* stopping, and nothing is left */
		j = b->q[b->head++]; /* the array may move while we work */
		pthread_mutex_unlock(&b->lock);
		rc = run(b, &j);
		pthread_mutex_lock(&b->lock);
		b->failed |= rc < 0;
		recycle(b, &j);
		b->n_done++;
		pthread_cond_broadcast(&b->done);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

struct hg_write_behind *hg_write_behind_start(struct hg_trace_writer *w)
{
	struct hg_write_behind *b = hg_xcalloc(1, sizeof(*b));
	sigset_t all, old;

	b->w = w;
	b->can_mode = hg_trace_writer_mode(w, HG_PACK_FULL);
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->work, NULL);
	pthread_cond_init(&b->done, NULL);
	/* Signals (record's SIGINT, SIGCHLD) are for the collector's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	b->threaded = pthread_create(&b->thread, NULL, thread_main, b) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return b;
}

/* Queue j, or do it now without a thread. Returns its number. Under lock. */
static uint64_t push(struct hg_write_behind *b, const struct job *j)
{
	if (!b->threaded) {
		b->failed |= run(b, j) < 0;
		b->n_queued++;
		b->n_done++;
		return b->n_queued;
	}
	if (b->head == b->n) {
		b->head = b->n = 0;
	} else if (b->head > b->cap / 2) {
		memmove(b->q, b->q + b->head, (b->n - b->head) * sizeof(*b->q));
		b->n -= b->head;
		b->head = 0;
	}
	HG_GROW(b->q, b->cap, b->n + 1);
	b->q[b->n++] = *j;
	pthread_cond_signal(&b->work);
	return ++b->n_queued;
}

void hg_write_behind_stage(struct hg_write_behind *b, uint32_t pid, uint32_t tid, int origins,
			   uint8_t **buf, size_t *cap, size_t len)
{
	struct job j = { JOB_STAGE, pid, tid, origins, *buf, len, *cap };

	if (!len)
		return;
	pthread_mutex_lock(&b->lock);
	while (b->threaded && b->queued_bytes && b->queued_bytes + len > MAX_QUEUED)
		pthread_cond_wait(&b->done, &b->lock);
	if (b->threaded) {
		b->queued_bytes += len;
		push(b, &j);
		*buf = NULL;
		*cap = 0;
		if (b->n_spares) {
			*buf = b->spares[--b->n_spares].buf;
			*cap = b->spares[b->n_spares].cap;
		}
	} else {
		push(b, &j); /* written already: the caller keeps its buffer */
	}
	pthread_mutex_unlock(&b->lock);
}

int hg_write_behind_mode(struct hg_write_behind *b, enum hg_pack_mode mode)
{
	struct job j = { JOB_MODE, 0, 0, (int)mode, NULL, 0, 0 };

	if (!b->can_mode)
		return 0;
	pthread_mutex_lock(&b->lock);
	push(b, &j);
	pthread_mutex_unlock(&b->lock);
	return 1;
}

void hg_write_behind_end(struct hg_write_behind *b, int final)
{
	struct job j = { JOB_END, 0, 0, final, NULL, 0, 0 };
	uint64_t mine;

	pthread_mutex_lock(&b->lock);
	mine = push(b, &j);
	while (b->n_done < mine)
		pthread_cond_wait(&b->done, &b->lock);
	pthread_mutex_unlock(&b->lock);
}

struct hg_trace_writer *hg_write_behind_stop(struct hg_write_behind *b, int *failed)
{
	struct hg_trace_writer *w;

	if (!b)
		return NULL;
	pthread_mutex_lock(&b->lock);
	b->stop = 1;
	pthread_cond_signal(&b->work);
	pthread_mutex_unlock(&b->lock);
	if (b->threaded)
		pthread_join(b->thread, NULL);
	*failed = b->failed;
	for (size_t i = 0; i < b->n_spares; i++)
		free(b->spares[i].buf);
	free(b->q);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->work);
	pthread_cond_destroy(&b->done);
	w = b->w;
	free(b);
	return w;
}
