/*
 * forkexec.c - three process images: a parent, its fork child, and the image the child execs
 *
 *   parent (argv: PROG)               leaks 1111 bytes from parent_leak and 500 bytes from
 *                                     make_shared_block, forks, waits for the child, exits 0 if
 *                                     the child exited 42 (1 otherwise).
 *   fork child (same pid as below)    frees the 500-byte block it inherited, leaks 2222 bytes from
 *                                     child_leak, then execs /proc/self/exe with "--exec-image".
 *   exec'd image (argv: PROG --exec-image)
 *                                     leaks 3333 bytes from exec_leak and exits 42.
 *
 * The child's free of an inherited block must not change the parent's accounting: the addresses
 * are the same in both processes, but they are different heaps. No stdio, so each image's totals
 * are exact.
 *
 * stdout: "forkexec: child exited 42" (one line, from the parent).
 *
 * Expect three process images, in this order (order of start):
 *   parent:  forked false, exec false, command "PROG", exit {"code":0};
 *            sites parent_leak 1111 (1 block), make_shared_block 500 (1 block);
 *            totals allocations 2, frees 0, allocated_bytes 1611, live_bytes 1611, live_blocks 2.
 *   child:   ppid = parent pid, forked true, exec false, command "PROG", exit {"exec":true};
 *            it starts with a copy of the parent's live blocks (docs/JSON.md), so:
 *            sites child_leak 2222 (1 block, 1 allocation) and parent_leak 1111 (1 block,
 *            0 allocations, 0 bytes allocated: inherited); no make_shared_block or exec_leak site;
 *            totals allocations 1, frees 1 (the inherited block), allocated_bytes 2222,
 *            live_bytes 3333, live_blocks 2, peak_bytes 3333.
 *   exec'd:  same pid as the child, ppid = parent pid, forked false, exec true,
 *            command "PROG --exec-image", exit {"code":42};
 *            site exec_leak 3333 (1 block), nothing else;
 *            totals allocations 1, frees 0, allocated_bytes 3333, live_bytes 3333, live_blocks 1.
 * `heapgraph record` exits 0.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define HG_F_EXEC_ARG "--exec-image"
#define HG_F_EXEC_CODE 42

static void *hg_f_kept[4];

static void say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));
	(void)r;
}

static void *must(void *p)
{
	if (!p)
		abort();
	return p;
}

static void parent_leak(void)
{
	hg_f_kept[0] = must(malloc(1111));
}

static void *make_shared_block(void)
{
	return must(malloc(500));
}

static void child_leak(void)
{
	hg_f_kept[1] = must(malloc(2222));
}

static int exec_leak(void)
{
	hg_f_kept[2] = must(malloc(3333));
	return HG_F_EXEC_CODE;
}

static void run_child(char *argv0, void *inherited)
{
	char *args[] = { argv0, (char *)HG_F_EXEC_ARG, NULL };

	free(inherited);
	child_leak();
	execv("/proc/self/exe", args);
	_exit(127);
}

int main(int argc, char **argv)
{
	void *shared;
	pid_t pid;
	int status = 0;

	if (argc >= 2 && strcmp(argv[1], HG_F_EXEC_ARG) == 0)
		return exec_leak();

	parent_leak();
	shared = make_shared_block();
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		run_child(argv[0], shared);
	if (waitpid(pid, &status, 0) != pid)
		return 1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != HG_F_EXEC_CODE) {
		say("forkexec: child did not exit 42\n");
		return 1;
	}
	say("forkexec: child exited 42\n");
	return 0;
}
