/*
 * handoff.c - blocks allocated on one thread and freed on another, many times a millisecond
 *
 * Two producer threads (produce_small, produce_large) each allocate HANDOFFS blocks and pass
 * them one at a time, through a one-slot mailbox, to a consumer thread of their own, which
 * frees each block as soon as it has it: a queue between threads, as servers have. glibc hands
 * the same few addresses back again and again, so within one millisecond (the default time
 * resolution of a trace) one address goes from thread to thread many times; the trace must
 * still account for every block. Each consumer keeps its last block in its mailbox, reachable.
 * No stdio (write(2) only).
 *
 * stdout: "handoff: 40000 blocks handed over" (one line).
 *
 * Expect, at the default 1 ms resolution as with exact times: 40002 allocations from the two
 * producer sites (20001 each: 20000 handed over and freed, one kept), 40000 frees of them,
 * 0 unknown frees; live at exit from those sites exactly the two kept blocks, 48 bytes
 * (produce_small) and 208 bytes (produce_large), reachable; nothing leaked from them.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define HANDOFFS 20000

struct mailbox {
	_Atomic(void *) slot;
	size_t size;
	void *kept;
};

static struct mailbox small = { NULL, 48, NULL }, large = { NULL, 208, NULL };

static void *consume(void *arg)
{
	struct mailbox *m = arg;

	for (int i = 0; i <= HANDOFFS; i++) {
		void *p;
		while (!(p = atomic_exchange(&m->slot, NULL)))
			;
		if (i == HANDOFFS)
			m->kept = p; /* the last one stays, reachable from the mailbox */
		else
			free(p);
	}
	return NULL;
}

/* Each site's frames: produce, then the producer that called it. */
static NOINLINE void produce(struct mailbox *m)
{
	for (int i = 0; i <= HANDOFFS; i++) {
		char *p = malloc(m->size);
		if (!p)
			_exit(1);
		memset(p, i, m->size);
		while (atomic_load(&m->slot))
			;
		atomic_store(&m->slot, p);
	}
}

/* Not a tail call (it returns its mailbox): its frame stays under produce's. */
static NOINLINE void *produce_small(void *arg)
{
	(void)arg;
	produce(&small);
	return &small;
}

static NOINLINE void *produce_large(void *arg)
{
	(void)arg;
	produce(&large);
	return &large;
}

int main(void)
{
	static const char done[] = "handoff: 40000 blocks handed over\n";
	pthread_t t[4];

	pthread_create(&t[0], NULL, consume, &small);
	pthread_create(&t[1], NULL, consume, &large);
	pthread_create(&t[2], NULL, produce_small, NULL);
	pthread_create(&t[3], NULL, produce_large, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	return write(1, done, sizeof(done) - 1) == (ssize_t)sizeof(done) - 1 ? 0 : 1;
}
