/*
 * lost_in_handler.c - a profiling signal handler that allocates, often while the tracer runs
 *
 * An ITIMER_PROF timer fires every 100 us of CPU time for about 0.1 s while main does nothing
 * but malloc and free, so most ticks land inside the tracer. The handler mallocs and frees a
 * block; when it has interrupted the tracer, the tracer cannot record that pair (its guard is
 * held) and counts the two events lost. Nothing is leaked.
 *
 * stdout: "lost_in_handler: done"; exit 0.
 *
 * Expect: no leak; the trace's lost events are the handler's calls that interrupted the
 *   tracer (an even number, usually some hundreds), and check says they were lost.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void *volatile sink;

static void on_prof(int sig)
{
	(void)sig;
	sink = malloc(24);
	free(sink);
	sink = NULL;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
	struct sigaction sa;
	struct itimerval tick = { { 0, 100 }, { 0, 100 } }, off = { { 0, 0 }, { 0, 0 } };
	double until;
	ssize_t r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_prof;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPROF, &sa, NULL) < 0 || setitimer(ITIMER_PROF, &tick, NULL) < 0)
		return 1;
	until = cpu_seconds() + 0.1;
	while (cpu_seconds() < until)
		for (int i = 0; i < 1000; i++)
			free(malloc(16 + (size_t)i % 64));
	setitimer(ITIMER_PROF, &off, NULL);
	r = write(1, "lost_in_handler: done\n", 22);
	(void)r;
	return 0;
}
