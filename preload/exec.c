/*
 * exec.c - the exec family and posix_spawn: the new image is traced too, whatever environment
 * the program hands it
 *
 * Every entry point that starts a new image with an environment, explicit or environ, comes
 * through here: execve, execvpe, fexecve, execveat, posix_spawn and posix_spawnp take one; execv,
 * execvp, execl, execlp and execle are the C library's own shorthands for them, which call the
 * kernel past any symbol of ours, so they are redone here over the same real functions (glibc
 * does exactly this: execv is execve with environ, execvp execvpe with environ, the execl forms
 * gather their arguments into an array). The environment goes through exec_env.h, which adds
 * LD_PRELOAD and the HEAPGRAPH_ variables where they are missing; the call is otherwise the
 * caller's, and its result and errno are the real function's.
 *
 * Nothing is added unless this process is tracing (hg_state HG_ACTIVE): a process that could
 * not trace, or was told not to (HEAPGRAPH_RING=off), passes environments on as they are.
 *
 * Runs in: the program's exec calls, in any thread, in fork and vfork children.
 */
#include <alloca.h>
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include "boot.h"
#include "exec_env.h"
#include "hg_compiler.h"
#include "lifecycle.h"
#include "rawlog.h"

enum exec_kind { EXEC_PATH, EXEC_SEARCH, EXEC_FD, EXEC_AT, SPAWN_PATH, SPAWN_SEARCH };

/* One call of the family, with everything but its environment. */
struct exec_call {
	enum exec_kind kind;                       /* which entry point, and so which fields */
	const char *path;                          /* file name, searched in PATH for _SEARCH */
	char *const *argv;                         /* the new image's arguments, as given */
	int fd;                                    /* EXEC_FD: the file; EXEC_AT: the directory */
	int flags;                                 /* EXEC_AT */
	pid_t *pid;                                /* SPAWN_*: where the child's pid goes */
	const posix_spawn_file_actions_t *actions; /* SPAWN_* */
	const posix_spawnattr_t *attr;             /* SPAWN_* */
};

/* HG_BOOT_REAL's caches: an exec before boot (a constructor's) looks its function up itself. */
static void *next_execve, *next_execvpe, *next_fexecve, *next_execveat, *next_spawn,
	*next_spawnp;

/* The real function for c, with env; ENOSYS if the C library has none. */
static int call_real(const struct exec_call *c, char *const env[])
{
	__typeof__(hg_real.execve) ex;
	__typeof__(hg_real.fexecve) fex;
	__typeof__(hg_real.execveat) exat;
	__typeof__(hg_real.posix_spawn) sp;

	switch (c->kind) {
	case EXEC_PATH:
	case EXEC_SEARCH:
		ex = c->kind == EXEC_PATH ? HG_BOOT_REAL(execve, next_execve) :
					    HG_BOOT_REAL(execvpe, next_execvpe);
		if (ex)
			return ex(c->path, c->argv, env);
		break;
	case EXEC_FD:
		if ((fex = HG_BOOT_REAL(fexecve, next_fexecve)))
			return fex(c->fd, c->argv, env);
		break;
	case EXEC_AT:
		if ((exat = HG_BOOT_REAL(execveat, next_execveat)))
			return exat(c->fd, c->path, c->argv, env, c->flags);
		break;
	case SPAWN_PATH:
	case SPAWN_SEARCH:
		sp = c->kind == SPAWN_PATH ? HG_BOOT_REAL(posix_spawn, next_spawn) :
					     HG_BOOT_REAL(posix_spawnp, next_spawnp);
		return sp ? sp(c->pid, c->path, c->actions, c->attr, c->argv, env) : ENOSYS;
	}
	errno = ENOSYS;
	return -1;
}

/* c with env completed (exec_env.h): on this stack when small, else in the static buffer. */
static int call_with_env(const struct exec_call *c, char *const env[])
{
	size_t n_slots, preload_bytes;
	char **slots, *preload;
	int r, err;

	if (__atomic_load_n(&hg_state, __ATOMIC_ACQUIRE) != HG_ACTIVE ||
	    !hg_exec_env_needs(env, &n_slots, &preload_bytes))
		return call_real(c, env);
	if (n_slots <= HG_EXEC_ENV_STACK_SLOTS && preload_bytes <= HG_EXEC_ENV_STACK_PRELOAD) {
		slots = alloca(n_slots * sizeof(*slots));
		preload = alloca(preload_bytes ? preload_bytes : 1);
		return call_real(c, hg_exec_env_fix(env, slots, n_slots, preload, preload_bytes));
	}
	/* A vfork child must not take the buffer: see hg_exec_env_claim. */
	if (hg_in_vfork_child() ||
	    hg_exec_env_claim(n_slots, preload_bytes, &slots, &preload) < 0) {
		hg_rawlog("exec: an environment of %zu entries passed on as it is", n_slots);
		return call_real(c, env);
	}
	r = call_real(c, hg_exec_env_fix(env, slots, n_slots, preload, preload_bytes));
	err = errno;
	hg_exec_env_release();
	errno = err;
	return r;
}

/* kind EXEC_PATH or EXEC_SEARCH: execve or execvpe. */
static int exec_argv(enum exec_kind kind, const char *path, char *const argv[],
		     char *const envp[])
{
	struct exec_call c = { .kind = kind, .path = path, .argv = argv };

	return call_with_env(&c, envp);
}

HG_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	return exec_argv(EXEC_PATH, path, argv, envp);
}

HG_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	return exec_argv(EXEC_SEARCH, file, argv, envp);
}

HG_EXPORT int execv(const char *path, char *const argv[])
{
	return exec_argv(EXEC_PATH, path, argv, environ);
}

HG_EXPORT int execvp(const char *file, char *const argv[])
{
	return exec_argv(EXEC_SEARCH, file, argv, environ);
}

HG_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct exec_call c = { .kind = EXEC_FD, .fd = fd, .argv = argv };

	return call_with_env(&c, envp);
}

HG_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		       int flags)
{
	struct exec_call c = { .kind = EXEC_AT, .fd = dirfd, .path = path, .argv = argv,
			       .flags = flags };

	return call_with_env(&c, envp);
}

HG_EXPORT int posix_spawn(pid_t *pid, const char *path,
			  const posix_spawn_file_actions_t *actions, const posix_spawnattr_t *attr,
			  char *const argv[], char *const envp[])
{
	struct exec_call c = { .kind = SPAWN_PATH, .path = path, .argv = argv, .pid = pid,
			       .actions = actions, .attr = attr };

	return call_with_env(&c, envp);
}

HG_EXPORT int posix_spawnp(pid_t *pid, const char *file,
			   const posix_spawn_file_actions_t *actions,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	struct exec_call c = { .kind = SPAWN_SEARCH, .path = file, .argv = argv, .pid = pid,
			       .actions = actions, .attr = attr };

	return call_with_env(&c, envp);
}

/*
 * The execl forms: count the arguments (arg is argv[0], the list ends with a NULL), gather
 * them into an array on this stack, and for execle take the environment after the NULL.
 * E2BIG, as glibc says, for a list of INT_MAX arguments or more.
 */
#define EXECL_MAX_ARGS ((size_t)INT_MAX - 1)

static size_t count_args(const char *arg, va_list *ap)
{
	size_t n = 0;

	for (const char *a = arg; a && n <= EXECL_MAX_ARGS; a = va_arg(*ap, const char *))
		n++;
	return n;
}

/* argv[0..n] from arg and ap, past the terminating NULL; then *envp, if asked, after it. */
static void gather_args(char **argv, size_t n, const char *arg, va_list *ap, char *const **envp)
{
	for (size_t i = 0; i < n; i++)
		argv[i] = i ? va_arg(*ap, char *) : (char *)arg;
	argv[n] = NULL;
	if (n)
		(void)va_arg(*ap, char *);
	if (envp)
		*envp = va_arg(*ap, char *const *);
}

#define EXECL_BODY(kind, path, arg, want_envp)                                          \
	do {                                                                            \
		va_list ap_;                                                            \
		size_t n_;                                                              \
		char **argv_;                                                           \
		char *const *envp_ = environ;                                           \
		va_start(ap_, arg);                                                     \
		n_ = count_args(arg, &ap_);                                             \
		va_end(ap_);                                                            \
		if (n_ > EXECL_MAX_ARGS) {                                              \
			errno = E2BIG;                                                  \
			return -1;                                                      \
		}                                                                       \
		argv_ = alloca((n_ + 1) * sizeof(*argv_));                              \
		va_start(ap_, arg);                                                     \
		gather_args(argv_, n_, arg, &ap_, (want_envp) ? &envp_ : NULL);         \
		va_end(ap_);                                                            \
		return exec_argv((kind), (path), argv_, envp_);                         \
	} while (0)

HG_EXPORT int execl(const char *path, const char *arg, ...)
{
	EXECL_BODY(EXEC_PATH, path, arg, 0);
}

HG_EXPORT int execlp(const char *file, const char *arg, ...)
{
	EXECL_BODY(EXEC_SEARCH, file, arg, 0);
}

HG_EXPORT int execle(const char *path, const char *arg, ...)
{
	EXECL_BODY(EXEC_PATH, path, arg, 1);
}
