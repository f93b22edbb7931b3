/*
 * hg_futex.h - the futex system call, which glibc does not wrap
 *
 * The shim sleeps on futexes where it waits for another thread or process: a thread stopped
 * for a snapshot (world.c), a snapshot already running (snapshot.c), room in a ring slot and
 * the collector's nap (ring.c, hg_format.h "Wake-ups"); the collector naps on one and wakes
 * the producers' (collector.c). A system call takes no lock and never allocates, so it is safe
 * inside malloc and in signal handlers.
 *
 * Runs in: inside malloc (slow paths), signal handlers, the exit path; the collector.
 */
#ifndef HG_FUTEX_H
#define HG_FUTEX_H

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* FUTEX_WAIT (at most ts, NULL: no limit) or FUTEX_WAKE on word; -1 with errno on failure. */
static inline long hg_futex(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

#endif /* HG_FUTEX_H */
