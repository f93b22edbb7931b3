/*
 * exec_env.c - the environment a new image needs to be traced too (see exec_env.h)
 *
 * What is saved at start-up: NUL-terminated "NAME=value" strings, one after the other, for
 * every HEAPGRAPH_ variable, and the shim's path. Everything after start-up only reads them,
 * so a fork child and a vfork child see them as they were, without a lock.
 *
 * Runs in: start-up (save), the exec family and posix_spawn (needs, fix).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec_env.h"
#include "rawlog.h"

#define PREFIX "HEAPGRAPH_"
#define PRELOAD "LD_PRELOAD="
#define PRELOAD_LEN (sizeof(PRELOAD) - 1)
#define SAVED_BYTES 4096
#define MAX_SAVED 32

static struct {
	char bytes[SAVED_BYTES];     /* the saved entries and the path, each NUL-terminated */
	const char *vars[MAX_SAVED]; /* "HEAPGRAPH_X=value" strings, into bytes */
	size_t n_vars;               /* entries of vars in use */
	const char *self;            /* the shim's path, into bytes; NULL: add nothing */
} saved;

static struct {
	char *slots[HG_EXEC_ENV_MAX_ENTRIES + MAX_SAVED + 2]; /* the completed array */
	char preload[HG_EXEC_ENV_MAX_PRELOAD];                /* its LD_PRELOAD entry */
	int taken;                                            /* atomic: 1 while an exec uses it */
} big;

static const char *keep(size_t *used, const char *s)
{
	size_t n = strlen(s) + 1;
	char *at = saved.bytes + *used;

	if (n > SAVED_BYTES - *used)
		return NULL;
	memcpy(at, s, n);
	*used += n;
	return at;
}

void hg_exec_env_save(const char *self_path)
{
	size_t used = 0;

	hg_exec_env_forget();
	if (!self_path || !(saved.self = keep(&used, self_path)))
		return;
	for (char **e = environ; e && *e; e++) {
		const char *at;

		if (strncmp(*e, PREFIX, sizeof(PREFIX) - 1) != 0)
			continue;
		if (saved.n_vars == MAX_SAVED || !(at = keep(&used, *e))) {
			hg_rawlog("exec: no room to pass on %s to exec'd images", *e);
			continue;
		}
		saved.vars[saved.n_vars++] = at;
	}
}

void hg_exec_env_forget(void)
{
	saved.self = NULL;
	saved.n_vars = 0;
}

/* The length of "NAME=" in entry (the whole entry when it has no '='). */
static size_t name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (size_t)(eq - entry) + 1 : strlen(entry);
}

/* Whether envp defines the variable of entry ("NAME=..."). */
static int defines(char *const envp[], const char *entry)
{
	size_t n = name_len(entry);

	for (char *const *e = envp; e && *e; e++)
		if (!strncmp(*e, entry, n))
			return 1;
	return 0;
}

static const char *base_name(const char *path, size_t len)
{
	const char *b = path;

	for (size_t i = 0; i < len; i++)
		if (path[i] == '/')
			b = path + i + 1;
	return b;
}

/* Whether an LD_PRELOAD value (names separated by spaces or colons) names the shim: its path,
 * or a file of the same name elsewhere (a copy of it, or a bare name the loader searched). */
static int names_self(const char *value)
{
	const char *self_base = base_name(saved.self, strlen(saved.self));
	size_t self_len = strlen(saved.self), base_len = strlen(self_base);

	while (*value) {
		size_t len = strcspn(value, " :");
		const char *b = base_name(value, len);
		size_t blen = len - (size_t)(b - value);

		if ((len == self_len && !memcmp(value, saved.self, len)) ||
		    (blen == base_len && !memcmp(b, self_base, blen)))
			return 1;
		value += len;
		value += strspn(value, " :");
	}
	return 0;
}

/* envp's last LD_PRELOAD entry (the one the loader takes), or NULL. */
static const char *preload_of(char *const envp[])
{
	const char *last = NULL;

	for (char *const *e = envp; e && *e; e++)
		if (!strncmp(*e, PRELOAD, PRELOAD_LEN))
			last = *e;
	return last;
}

int hg_exec_env_needs(char *const envp[], size_t *n_slots, size_t *preload_bytes)
{
	const char *lp;
	size_t n = 0, missing = 0;

	*n_slots = 0;
	*preload_bytes = 0;
	if (!saved.self)
		return 0;
	for (char *const *e = envp; e && *e; e++)
		if (++n > HG_EXEC_ENV_MAX_ENTRIES)
			return 0;
	for (size_t i = 0; i < saved.n_vars; i++)
		missing += !defines(envp, saved.vars[i]);
	lp = preload_of(envp);
	if (!lp) {
		missing++;
		*preload_bytes = PRELOAD_LEN + strlen(saved.self) + 1;
	} else if (!names_self(lp + PRELOAD_LEN)) {
		/* "LD_PRELOAD=" theirs ":" self */
		*preload_bytes = strlen(lp) + 1 + strlen(saved.self) + 1;
	}
	if (*preload_bytes > HG_EXEC_ENV_MAX_PRELOAD)
		return *preload_bytes = 0;
	if (!missing && !*preload_bytes)
		return 0;
	*n_slots = n + missing + 1;
	return 1;
}

/* s into dst at *at, no terminator. */
static void put(char *dst, size_t *at, const char *s)
{
	size_t n = strlen(s);

	memcpy(dst + *at, s, n);
	*at += n;
}

/* The LD_PRELOAD entry the new image gets, in preload: theirs if any, then the shim. */
static char *make_preload(const char *theirs, char *preload)
{
	size_t at = 0;

	put(preload, &at, PRELOAD);
	if (theirs && theirs[PRELOAD_LEN]) {
		put(preload, &at, theirs + PRELOAD_LEN);
		put(preload, &at, ":");
	}
	put(preload, &at, saved.self);
	preload[at] = '\0';
	return preload;
}

char **hg_exec_env_fix(char *const envp[], char **slots, size_t n_slots, char *preload,
		       size_t preload_bytes)
{
	const char *lp = preload_of(envp);
	size_t n = 0;

	for (char *const *e = envp; e && *e && n + 1 < n_slots; e++)
		slots[n++] = *e == lp && preload_bytes ? make_preload(lp, preload) : *e;
	if (!lp && preload_bytes && n + 1 < n_slots)
		slots[n++] = make_preload(NULL, preload);
	for (size_t i = 0; i < saved.n_vars && n + 1 < n_slots; i++)
		if (!defines(envp, saved.vars[i]))
			slots[n++] = (char *)saved.vars[i];
	slots[n] = NULL;
	return slots;
}

int hg_exec_env_claim(size_t n_slots, size_t preload_bytes, char ***slots, char **preload)
{
	int expect = 0;

	if (n_slots > sizeof(big.slots) / sizeof(big.slots[0]) ||
	    preload_bytes > sizeof(big.preload) ||
	    !__atomic_compare_exchange_n(&big.taken, &expect, 1, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return -1;
	*slots = big.slots;
	*preload = big.preload;
	return 0;
}

void hg_exec_env_release(void)
{
	__atomic_store_n(&big.taken, 0, __ATOMIC_RELEASE);
}
