/*
 * exit_while_polling.c - a worker ends the program while the main thread waits in poll()
 *
 * The worker waits until the main thread sleeps in poll (its /proc/self/task/TID/syscall),
 * then calls exit(4). The exit snapshot used to send the main thread the stop signal, and
 * poll is never restarted after a handler: it returned EINTR, and main said so and exited 9
 * while exit(4) ran. A thread asleep in such a call is now left alone (scanned whole).
 *
 * stdout, stderr: nothing; exit 4, traced or not. Output through write(2) only.
 *
 * Expect at the exit snapshot: 2 threads, 1 stopped (the worker taking it).
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static pid_t main_tid;

static void say(const char *msg)
{
	ssize_t r = write(2, msg, strlen(msg));

	(void)r;
}

/* Whether thread tid sleeps in poll now. */
static int in_poll(pid_t tid)
{
	char path[64], buf[32];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return atol(buf) == SYS_poll && strchr(buf, ' ');
}

static void *worker(void *arg)
{
	struct timespec ms = { 0, 1000000 };

	(void)arg;
	for (int i = 0; i < 5000 && !in_poll(main_tid); i++)
		nanosleep(&ms, NULL);
	exit(4);
}

int main(void)
{
	pthread_t t;

	main_tid = (pid_t)syscall(SYS_gettid);
	if (pthread_create(&t, NULL, worker, NULL) != 0) {
		say("exit_while_polling: pthread_create failed\n");
		return 2;
	}
	if (poll(NULL, 0, -1) < 0) {
		say("exit_while_polling: poll was interrupted\n");
		return 9;
	}
	return 0;
}
