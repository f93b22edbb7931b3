/*
 * dtor_cache.c - a library frees its cache in its destructor, after the program's exit
 *
 * main has libdtorcache fill its 777-byte cache and returns 0. The library's destructor frees
 * it, after the preloaded shim's destructor has run (the shim is initialised after the
 * program's libraries, so it is finalised before them): an exit snapshot taken there saw the
 * cache still live. gfortran's runtime frees its units the same way.
 *
 * stdout: nothing; exit 0.
 *
 * Expect at the exit snapshot: no live block of dtorcache_use (none of the program's), nothing
 *   leaked; report: live at the end as at the snapshot.
 */
void dtorcache_use(void);

int main(void)
{
	dtorcache_use();
	return 0;
}
