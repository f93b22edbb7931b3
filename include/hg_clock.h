/*
 * hg_clock.h - the clock every time in a ring and a trace is on
 *
 * Every record carries a time, so the shim reads a clock once per allocation and per free.
 * CLOCK_MONOTONIC through the vDSO costs 17 ns on the bench machine (a fenced TSC read, a
 * sequence lock, a multiply); it was a tenth of a traced sqlite3's time. A bare rdtsc costs 8.
 *
 * Where the kernel's clocksource is the TSC (it has then checked that the TSC runs at a
 * constant rate and in step on every CPU), the ring's creator measures the TSC's rate against
 * CLOCK_MONOTONIC over 2 ms and stores that, with one moment of both clocks, in the ring
 * header. Every process on the ring, and the collector, then turn TSC readings into
 * nanoseconds with the same three numbers: one clock for all of them, the same order as
 * CLOCK_MONOTONIC, and within about ten parts per million of its rate (the calibration's
 * error; an NTP slew of CLOCK_MONOTONIC during the 2 ms adds to it). Nothing compares a
 * trace's times with a clock of its own, so only a duration shown to the user carries that
 * error. Elsewhere, or with HEAPGRAPH_CLOCK=monotonic, the ring holds zeros and everyone reads
 * CLOCK_MONOTONIC.
 *
 * An event's TSC is read without a fence: the reading may move by a few instructions within
 * the call it stamps, and the order the format relies on (a free stamped before the real free,
 * the allocation that reuses its address after the real malloc returned) is separated by the
 * real allocator's own work. A barrier's time, which must follow its announcement in the ring
 * header, is read after a fence (hg_clock_now_ordered).
 */
#ifndef HG_CLOCK_SHARED_H
#define HG_CLOCK_SHARED_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hg_compiler.h"
#include "hg_format.h"

#define HG_CLOCK_CALIBRATE_NS 2000000u /* how long the TSC's rate is measured over */
#define HG_CLOCK_MULT_SHIFT 32

/* Clock clk (a clockid_t) in nanoseconds. */
static inline uint64_t hg_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t hg_clock_monotonic_ns(void)
{
	return hg_clock_ns(CLOCK_MONOTONIC);
}

/* TSC reading tsc on clock c (which has a rate). Signed: another CPU's reading may be a few
 * ticks behind the base; 128 bits: an hour is 10^13 ticks, times a multiplier of 2^30. */
static inline uint64_t hg_clock_of_tsc(const struct hg_ring_clock *c, uint64_t tsc)
{
	int64_t ticks = (int64_t)(tsc - c->tsc_base);

	return c->ns_base + (uint64_t)(int64_t)(((__int128)ticks * c->mult) >> HG_CLOCK_MULT_SHIFT);
}

/* Now on clock c: its scaled TSC, or CLOCK_MONOTONIC when it has no rate. */
static inline uint64_t hg_clock_now(const struct hg_ring_clock *c)
{
#if defined(__x86_64__)
	if (HG_LIKELY(c->mult))
		return hg_clock_of_tsc(c, __builtin_ia32_rdtsc());
#endif
	return hg_clock_monotonic_ns();
}

/*
 * Now on clock c, read after every load and store before it is done: for a barrier, whose
 * time must follow its announcement, and for the collector's reading after it found a barrier
 * missing (a bare rdtsc may run ahead of the memory accesses before it; CLOCK_MONOTONIC's is
 * fenced already).
 */
static inline uint64_t hg_clock_now_ordered(const struct hg_ring_clock *c)
{
#if defined(__x86_64__)
	if (c->mult) {
		__builtin_ia32_mfence();
		__builtin_ia32_lfence();
	}
#endif
	return hg_clock_now(c);
}

#if defined(__x86_64__)
/* Whether the kernel keeps time with the TSC itself (the file reads "tsc\n"). */
static inline int hg_clock_kernel_uses_tsc(void)
{
	char buf[16];
	ssize_t n;
	int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		      O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n == 4 && memcmp(buf, "tsc\n", 4) == 0;
}

/* One moment on both clocks: of a few tries, the one whose TSC readings bracket the
 * CLOCK_MONOTONIC reading most closely, taken at their midpoint. */
static inline void hg_clock_pair(uint64_t *tsc, uint64_t *ns)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 8; i++) {
		uint64_t a = __builtin_ia32_rdtsc(), n = hg_clock_monotonic_ns();
		uint64_t b = __builtin_ia32_rdtsc();

		if (b - a < best) {
			best = b - a;
			*tsc = a + (b - a) / 2;
			*ns = n;
		}
	}
}
#endif

/*
 * Fill c for a new ring: the TSC's rate when the kernel's clocksource is the TSC and use_tsc
 * is set, else zeros (CLOCK_MONOTONIC). Takes HG_CLOCK_CALIBRATE_NS (asleep) when it measures.
 * Returns whether c scales the TSC.
 */
static inline int hg_clock_calibrate(struct hg_ring_clock *c, int use_tsc)
{
	memset(c, 0, sizeof(*c));
#if defined(__x86_64__)
	uint64_t t0 = 0, n0 = 0, t1 = 0, n1 = 0, mult;

	if (!use_tsc || !hg_clock_kernel_uses_tsc())
		return 0;
	hg_clock_pair(&t0, &n0);
	for (;;) {
		uint64_t left = n0 + HG_CLOCK_CALIBRATE_NS - hg_clock_monotonic_ns();
		struct timespec ts = { 0, (long)left };

		if ((int64_t)left <= 0 || (nanosleep(&ts, NULL) < 0 && errno != EINTR))
			break;
	}
	hg_clock_pair(&t1, &n1);
	/* At most seconds apart, so the shifted difference fits in 64 bits. */
	if (t1 <= t0 || n1 <= n0 || n1 - n0 >= 1000000000u)
		return 0;
	mult = ((n1 - n0) << HG_CLOCK_MULT_SHIFT) / (t1 - t0);
	/* A TSC slower than 50 MHz or faster than 20 GHz is not one to believe. */
	if (mult > (20ull << HG_CLOCK_MULT_SHIFT) || mult < (1ull << HG_CLOCK_MULT_SHIFT) / 20)
		return 0;
	c->tsc_base = t1;
	c->ns_base = n1;
	c->mult = mult;
	return 1;
#else
	(void)use_tsc;
	return 0;
#endif
}

/* HEAPGRAPH_CLOCK: 1 for "tsc" (or unset, or empty), 0 for "monotonic", -1 for anything else. */
static inline int hg_clock_env_parse(const char *value)
{
	if (!value || !*value || strcmp(value, "tsc") == 0)
		return 1;
	return strcmp(value, "monotonic") == 0 ? 0 : -1;
}

#endif /* HG_CLOCK_SHARED_H */
