/*
 * libdlleak.c - a shared library that leaks, loaded and unloaded at run time by dlopen_leak.c
 *
 * dlleak_make_garbage allocates 4321 bytes and hands them to its caller, which keeps them past
 * dlclose(). By the time the report is made the library is no longer mapped, so the leak site
 * can only be named if the trace kept this module's mapping from before the dlclose.
 *
 * Expect: see dlopen_leak.c. The leak site's frames[0] is dlleak_make_garbage in libdlleak.c at
 * the line marked "site: dlleak", in module .../libdlleak.so.
 */
#include <stdlib.h>
#include <string.h>

#define DLLEAK_BYTES 4321

void *dlleak_make_garbage(void);

void *dlleak_make_garbage(void)
{
	char *p = malloc(DLLEAK_BYTES); /* site: dlleak */

	if (p)
		memset(p, 0x6c, DLLEAK_BYTES);
	return p;
}
