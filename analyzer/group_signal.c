/*
 * group_signal.c - whether a signal the launcher got went to its whole process group
 *
 * `heapgraph record` and PROG share a process group, so a signal sent to the group (Ctrl-C,
 * `kill -TERM -PGID`, timeout(1), which signals its child and then the group) reaches PROG by
 * itself, while one sent to the launcher's pid alone must be passed on. siginfo cannot tell
 * the two apart: both are SI_USER from the same sender. A sentinel can: a child of the
 * launcher in the same group, blocking the watched signals, which a group signal leaves
 * pending in it. On each watched signal the launcher asks it over a socket whether that
 * signal came (waiting up to SENTINEL_WAIT_MS, since the kernel signals a group's members one
 * by one); the sentinel takes it, so a later signal is judged afresh.
 *
 * The sentinel holds nothing else open, ignores the terminal's stop signals (a stopped
 * sentinel could not answer; the launcher gives up after REPLY_MS anyway), and exits when the
 * launcher's end of the socket closes (or is killed when the launcher is done with it).
 * Everything the launcher calls here from its signal handler is async-signal-safe.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "group_signal.h"
#include "hg_compiler.h"

#define SENTINEL_WAIT_MS 5 /* how long a group signal may take to reach the sentinel */
#define REPLY_MS 50        /* how long the launcher waits for an answer */

static int sock = -1;      /* the launcher's end */
static pid_t sentinel;
static uint8_t seq;        /* of the last question, to skip a late answer to an earlier one */

static void HG_NORETURN serve(int fd, const int *sigs, int n)
{
	sigset_t watched;
	uint8_t q[2], a[2];
	struct timespec wait = { 0, SENTINEL_WAIT_MS * 1000000L };

	sigemptyset(&watched);
	for (int i = 0; i < n; i++)
		sigaddset(&watched, sigs[i]);
	sigprocmask(SIG_BLOCK, &watched, NULL);
	/* Not a second "heapgraph" for pkill -x or killall, which would signal it too and make
	 * the launcher take the signal for the group's. */
	prctl(PR_SET_NAME, "hg-sentinel");
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	while (read(fd, q, sizeof(q)) == (ssize_t)sizeof(q)) {
		sigset_t one;

		sigemptyset(&one);
		sigaddset(&one, q[1]);
		a[0] = q[0];
		a[1] = sigtimedwait(&one, NULL, &wait) == q[1];
		if (write(fd, a, sizeof(a)) != (ssize_t)sizeof(a))
			break;
	}
	_exit(0);
}

int hg_group_signal_start(const int *sigs, int n)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* Nothing of the launcher's stays open here: not PROG's pipes, not the trace. */
		if (sv[1] > 0)
			close_range(0, (unsigned)sv[1] - 1, 0);
		close_range((unsigned)sv[1] + 1, ~0u, 0);
		serve(sv[1], sigs, n);
	}
	close(sv[1]);
	sock = sv[0];
	sentinel = pid;
	return 0;
}

int hg_group_signal_reached(int sig)
{
	int saved = errno, reached = 0;
	uint8_t q[2] = { ++seq, (uint8_t)sig }, a[2];
	struct pollfd p = { sock, POLLIN, 0 };

	if (sock < 0 || send(sock, q, sizeof(q), MSG_NOSIGNAL) != (ssize_t)sizeof(q)) {
		errno = saved;
		return 0;
	}
	while (poll(&p, 1, REPLY_MS) == 1 && recv(sock, a, sizeof(a), MSG_WAITALL) == 2) {
		if (a[0] == q[0]) {
			reached = a[1] == 1;
			break;
		}
	}
	errno = saved;
	return reached;
}

int hg_group_signal_watching(void)
{
	return sock >= 0;
}

void hg_group_signal_stop(void)
{
	int fd = sock;

	if (fd < 0)
		return;
	sock = -1; /* first: a handler running from here on asks nobody */
	close(fd);
	/* It has nothing to finish, and a stopped one (kill -STOP to the group) would not see
	 * its socket close. */
	kill(sentinel, SIGKILL);
	while (waitpid(sentinel, NULL, 0) < 0 && errno == EINTR)
		;
}
