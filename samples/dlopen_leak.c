/*
 * dlopen_leak.c - leaks memory from a library that is dlclose()d before the program exits
 *
 * The program dlopens libdlleak.so (argv[1], or libdlleak.so next to /proc/self/exe), calls
 * dlleak_make_garbage through call_library, keeps the 4321-byte block it returns, and dlcloses
 * the library. It then checks with RTLD_NOLOAD that the library really is unmapped, and says so:
 * a test that sees "still loaded" has not tested what it meant to.
 *
 * dlopen itself allocates (link maps, scope arrays); those sites have ld.so or libc frames first
 * and most of them are freed by dlclose. No expectation is placed on them.
 *
 * stdout: "dlopen_leak: leaked 4321 bytes, library unloaded" (one line). Exit 0; 1 if the
 * library cannot be loaded.
 *
 * Expect: one site whose frames[0] is dlleak_make_garbage, file libdlleak.c, line of the
 * "site: dlleak" marker, module ending in /libdlleak.so; frames[1] is call_library in
 * dlopen_leak.c; live_blocks 1, live_bytes 4321, allocations 1, allocated_bytes 4321.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *hg_d_kept;

static void say(const char *s)
{
	ssize_t r = write(1, s, strlen(s));
	(void)r;
}

/* Fill buf with the directory of /proc/self/exe followed by "/libdlleak.so". */
static int default_path(char *buf, size_t n)
{
	static const char name[] = "/libdlleak.so";
	ssize_t len = readlink("/proc/self/exe", buf, n - 1);
	char *slash;

	if (len <= 0)
		return -1;
	buf[len] = '\0';
	slash = strrchr(buf, '/');
	if (!slash || (size_t)(slash - buf) + sizeof(name) > n)
		return -1;
	memcpy(slash, name, sizeof(name));
	return 0;
}

static void *call_library(void *handle)
{
	void *(*make)(void) = (void *(*)(void))dlsym(handle, "dlleak_make_garbage");

	if (!make)
		return NULL;
	return make();
}

int main(int argc, char **argv)
{
	char path[PATH_MAX];
	void *handle, *again;

	if (argc >= 2) {
		strncpy(path, argv[1], sizeof(path) - 1);
		path[sizeof(path) - 1] = '\0';
	} else if (default_path(path, sizeof(path)) != 0) {
		say("dlopen_leak: cannot find libdlleak.so\n");
		return 1;
	}
	handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		say("dlopen_leak: cannot load libdlleak.so\n");
		return 1;
	}
	hg_d_kept = call_library(handle);
	dlclose(handle);
	if (!hg_d_kept)
		return 1;
	again = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (again) {
		dlclose(again);
		say("dlopen_leak: leaked 4321 bytes, library still loaded\n");
	} else {
		say("dlopen_leak: leaked 4321 bytes, library unloaded\n");
	}
	return 0;
}
