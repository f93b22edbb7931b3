/*
 * libctormalloc.c - a library whose constructor allocates (see own_malloc.c)
 *
 * Linked by own_malloc, it is initialised before the preloaded shim, so its malloc (the
 * executable's own) is the first in the process and runs before the shim has started.
 */
#include <stdlib.h>

void *ctormalloc_block;

__attribute__((constructor)) static void ctormalloc_init(void)
{
	ctormalloc_block = malloc(100);
}
