/*
 * stats_periodic.c - one block per periodic snapshot: `record --snapshot-every`
 *
 * Five steps: allocate one 1000-byte block (kept), then sleep up to 2 s. A signal with a
 * handler cuts nanosleep short (EINTR), so under `record --snapshot-every 200ms` each
 * periodic snapshot ends one sleep: the program takes a step per snapshot and exits after the
 * fifth. Startup takes far less than the interval, so every request finds it asleep.
 *
 * Expect (heapgraph snapshots): exactly 5 snapshots with reason periodic, labels every@T.TTTs
 * at increasing multiples of the interval, the k-th holding k blocks (1000 * k bytes, all from
 * step), then the exit snapshot with 5 blocks (5000 bytes). No stdio before the end.
 * stdout: "stats_periodic: done" (also untraced, after 10 s of sleeping).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *kept[5];

static __attribute__((noinline)) void step(int i)
{
	kept[i] = malloc(1000); /* site: step */
	memset(kept[i], i, 1000);
}

int main(void)
{
	static const char done[] = "stats_periodic: done\n";

	for (int i = 0; i < 5; i++) {
		struct timespec ts = { 2, 0 };
		step(i);
		while (nanosleep(&ts, NULL) < 0 && errno != EINTR)
			;
	}
	if (write(1, done, sizeof(done) - 1) < 0)
		return 1;
	return 0;
}
