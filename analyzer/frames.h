/*
 * frames.h - a stack id of a process image, as symbolized frames a person can read
 */
#ifndef HG_FRAMES_H
#define HG_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "replay.h"

struct hg_frame {
	const char *function; /* NULL when unknown */
	const char *file;     /* NULL when unknown */
	uint32_t line;        /* 0 when unknown */
	const char *module;   /* path of the ELF object, NULL when no module maps the address */
	uint64_t address;     /* runtime return address */
	uint64_t offset;      /* address in the module's own terms (minus its load bias) */
};

struct hg_framer;

/* Create a framer (owns a symbolizer). Made before a replay, it opens the modules the replay
 * reads in a second thread meanwhile (symload.h). Out-of-memory exits (diag.h). */
struct hg_framer *hg_framer_new(void);
void hg_framer_free(struct hg_framer *f);

/*
 * Symbolize stack_id of image im into out (at most max frames), innermost first, starting at
 * the caller of the allocation function: frames of C++ operator new/new[] (which allocate
 * through malloc) are dropped. Returns the number of frames; 0 for an unknown id. Strings live
 * as long as both the framer and the replay.
 */
size_t hg_framer_resolve(struct hg_framer *f, const struct hg_image *im, uint32_t stack_id,
			 struct hg_frame *out, size_t max);

/*
 * The user frame of a stack: the first frame with a source line that is the program's own code,
 * not the C or C++ runtime, the loader or our shim (by module), nor a system header inlined into
 * the program (std::vector's, under /usr/include and the compilers' include directories).
 * Failing that, the first with a source line outside those modules; NULL when none has one.
 * SARIF and CI annotations point at it; a short stack shows at least through it.
 */
const struct hg_frame *hg_frames_user(const struct hg_frame *fr, size_t n);

/* The first frame in a module that is not the C or C++ runtime, the loader or our shim, with
 * a source line or not (the program's own code built without debug information); NULL when
 * there is none. */
const struct hg_frame *hg_frames_own_module(const struct hg_frame *fr, size_t n);

/* How many of n frames to show for "at least min, and the user frame": no more than n. */
size_t hg_frames_through_user(const struct hg_frame *fr, size_t n, size_t min);

/* The last path component of a path ("" for NULL). */
const char *hg_basename(const char *path);

#endif /* HG_FRAMES_H */
