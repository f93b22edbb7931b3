/*
 * collector_rig.c - the ring and trace that the collector's tests share (collector_rig.h)
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "collector_rig.h"
#include "fixtures.h"

struct fx_rig cr_rig;
struct fx_trace cr_tr;

void cr_setup(void)
{
	memset(&cr_rig, 0, sizeof(cr_rig));
	memset(&cr_tr, 0, sizeof(cr_tr));
}

void cr_teardown(void)
{
	fx_restore_stderr();
	fx_trace_release(&cr_tr);
	fx_rig_close(&cr_rig);
}

void cr_own(uint32_t i, uint32_t pid, uint32_t tid)
{
	struct hg_ring_slot *s = fx_slot(cr_rig.ring, i);

	s->pid = pid;
	s->tid = tid;
	__atomic_store_n(&s->state, HG_SLOT_OWNED, __ATOMIC_RELEASE);
}

/* Publish n bytes in slot i: copy (wrapping at the end of the data area), then store head. */
static void publish(uint32_t i, const void *bytes, size_t n)
{
	struct hg_ring_slot *s = fx_slot(cr_rig.ring, i);
	uint8_t *data = fx_slot_data(cr_rig.ring, i);
	uint32_t size = cr_rig.ring->slot_bytes;
	uint64_t head = s->head;
	size_t pos = head & (size - 1), first = n < size - pos ? n : size - pos;

	memcpy(data + pos, bytes, first);
	memcpy(data, (const uint8_t *)bytes + first, n - first);
	__atomic_store_n(&s->head, head + n, __ATOMIC_RELEASE);
}

void cr_publish_buf(uint32_t i, const struct fx_buf *b)
{
	publish(i, b->p, b->len);
}

size_t cr_count_from(const struct fx_trace *t, uint16_t type, uint32_t pid, uint32_t tid)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->r[i].rec->type == type && t->r[i].pid == pid && t->r[i].tid == tid;
	return n;
}
