/*
 * leak_main_exit.c - the main thread calls pthread_exit; the process lives on in a worker
 *
 * main starts run_worker and calls pthread_exit(NULL). Until the process ends, the main thread
 * is a zombie that /proc/self still names: its maps read as empty and process_vm_readv of the
 * pid fails, which once made the exit snapshot see no memory at all (every live block a
 * direct leak) after waiting a second for the zombie to answer its stop signal. The worker
 * first waits until the main thread is a zombie (its State in /proc/self/task/PID/stat), then:
 *
 *   keep_in_global: 1500 bytes held by a global.
 *   run_worker: 2500 bytes held by a local of its own, whose frame is live while exit() runs
 *     the snapshot.
 *   make_leak: a 700-byte block whose first word points at a 90-byte block, both dropped.
 * then scrubs the stack below itself and calls exit(0). No stdio (write(2) only).
 *
 * stdout: "leak_main_exit: done" (one line); exit 0.
 *
 * Expect at the exit snapshot: 1 thread, stopped (the exited main thread is not one); direct
 *   700 bytes in 1 block at make_leak, indirect 90 bytes in 1 block at make_leak, cycle 0; the
 *   1500 bytes at keep_in_global and the 2500 at run_worker reachable, not leaks.
 *   memcheck: definitely lost 700 bytes in 1 block, indirectly lost 90 bytes in 1 block.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static void *g_kept;

static void say(const char *msg)
{
	ssize_t r = write(1, msg, strlen(msg));

	(void)r;
}

static NOINLINE void die(const char *msg)
{
	ssize_t r = write(2, msg, strlen(msg));

	(void)r;
	_exit(2);
}

/* The State letter of the main thread (tid = pid), from the field after "(comm) ". */
static char main_thread_state(void)
{
	char path[64] = "/proc/self/task/", digits[16], buf[512], *close_paren;
	int pid = getpid(), n = 0, fd;
	size_t at = strlen(path);
	ssize_t got;

	do
		digits[n++] = (char)('0' + pid % 10);
	while ((pid /= 10) > 0);
	while (n > 0)
		path[at++] = digits[--n];
	memcpy(path + at, "/stat", 6);
	if ((fd = open(path, O_RDONLY)) < 0)
		return '?';
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[got > 0 ? got : 0] = '\0';
	close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' ? close_paren[2] : '?';
}

static void wait_for_main_to_exit(void)
{
	for (int i = 0; i < 10000; i++) {
		if (main_thread_state() == 'Z')
			return;
		usleep(1000);
	}
	die("leak_main_exit: the main thread did not exit\n");
}

static NOINLINE void keep_in_global(void)
{
	if (!(g_kept = malloc(1500)))
		die("leak_main_exit: out of memory\n");
	memset(g_kept, 'g', 1500);
}

static NOINLINE void make_leak(void)
{
	void **head = malloc(700);

	if (!head || !(head[0] = malloc(90)))
		die("leak_main_exit: out of memory\n");
	memset(head + 1, 'h', 700 - sizeof(void *));
	memset(head[0], 'c', 90);
}

static NOINLINE void scrub_stack(void)
{
	volatile char buf[64 << 10];

	memset((char *)buf, 0, sizeof(buf));
}

static void *run_worker(void *arg)
{
	char *volatile held;

	(void)arg;
	wait_for_main_to_exit();
	keep_in_global();
	if (!(held = malloc(2500)))
		die("leak_main_exit: out of memory\n");
	memset(held, 's', 2500);
	make_leak();
	say("leak_main_exit: done\n");
	scrub_stack();
	exit(0);
}

int main(void)
{
	pthread_t worker;

	if (pthread_create(&worker, NULL, run_worker, NULL) != 0)
		return 2;
	pthread_exit(NULL);
}
