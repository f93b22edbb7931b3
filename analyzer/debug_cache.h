/*
 * debug_cache.h - separate debug files kept with their compressed sections inflated, by
 * build id
 *
 * Distributions ship debug files with zlib-compressed DWARF (Debian's libc6-dbg: 3.7 MB of
 * compressed sections, 10 MB inflated), and libdw inflates every section of a debug file it
 * opens, whether the caller reads it or not. For libc that took 30 of the 40 ms that reporting
 * a short trace took, in every report. The cache pays it once: the first report that opens
 * such a file writes an inflated copy, and later ones map the copy instead.
 *
 * Where: $HEAPGRAPH_CACHE/debug, else $XDG_CACHE_HOME/heapgraph/debug, else
 * $HOME/.cache/heapgraph/debug; HEAPGRAPH_CACHE=off (or 0, no, false) turns it off. Entries
 * are named by the file's GNU build id, so one never stands for another file, and an entry
 * answers for its build id even once the original is gone (a package removed, a program
 * rebuilt after it was traced), as debuginfod's cache does. A copy that does not check out
 * (another build id, a compressed section, a section past its end) is made again. Only files
 * whose compressed sections inflate to HG_DEBUG_CACHE_MIN_BYTES or more, and whose copy
 * takes at most HG_DEBUG_CACHE_MAX_ENTRY_BYTES, are kept, and the directory is held under
 * HG_DEBUG_CACHE_MAX_BYTES by removing the entries used least recently (the newest stays, so
 * it may go over by one entry). Nothing here prints: when the cache cannot be used, the
 * original file is read.
 */
#ifndef HG_DEBUG_CACHE_H
#define HG_DEBUG_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define HG_DEBUG_CACHE_MIN_BYTES (1u << 20)	       /* inflated bytes worth an entry */
#define HG_DEBUG_CACHE_MAX_BYTES (1ull << 30)       /* the entries together, in bytes */
#define HG_DEBUG_CACHE_MAX_ENTRY_BYTES (1ull << 28) /* the largest entry made */
#define HG_DEBUG_CACHE_MAX_ID 64		       /* bytes of build id; GNU's are 20 or 16 */

/* Build id id[0..n) in lowercase hexadecimal into out (2 * n + 1 bytes), as debug file
 * names spell it. */
void hg_build_id_hex(char *out, const uint8_t *id, size_t n);

/*
 * The cache directory for debug files, written into buf (size bytes). Returns 0, or -1 when
 * the cache is off (HEAPGRAPH_CACHE=off or 0, or no variable names a place) or the path does
 * not fit.
 */
int hg_debug_cache_dir(char *buf, size_t size);

/*
 * The cache's copy of the debug file with GNU build id id[0..n): a descriptor of it, with its
 * path in *name (malloc()ed; the old value freed). Returns -1, *name untouched, when there is
 * none, it does not check out, or the cache is off.
 */
int hg_debug_cache_open(const uint8_t *id, size_t n, char **name);

/*
 * Keep an inflated copy of the debug file open at fd (not closed, its offset not used) when it
 * has a build id and compressed sections that inflate to min_bytes or more, and the cache has
 * no copy of it yet. Returns 1 when a copy was made, 0 when none was needed (or none can be
 * made of such a file), -1 when the cache is off, not the user's own, short of room, or the
 * copy could not be made (then it is not tried again for a day). Thread-safe; reports
 * running at once share the directory safely (an entry appears whole, by rename()).
 */
int hg_debug_cache_add_min(int fd, uint64_t min_bytes);

/* hg_debug_cache_add_min with HG_DEBUG_CACHE_MIN_BYTES. */
int hg_debug_cache_add(int fd);

#endif
