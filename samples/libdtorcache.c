/*
 * libdtorcache.c - a library that frees its cache in its destructor (see dtor_cache.c)
 */
#include <stdlib.h>
#include <string.h>

static void *cache;

void dtorcache_use(void)
{
	if (!cache && (cache = malloc(777)))
		memset(cache, 'c', 777);
}

__attribute__((destructor)) static void dtorcache_fini(void)
{
	free(cache);
	cache = NULL;
}
