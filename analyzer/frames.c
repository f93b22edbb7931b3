/*
 * frames.c - a stack id of a process image, as symbolized frames a person can read
 *
 * Addresses in a stack are return addresses, so each is looked up at address - 1: the call
 * instruction itself, whose line is the one the user wrote (the next instruction may belong to
 * the following statement, or to another function when the call was the last thing in it).
 *
 * A return address inside code that was inlined is several frames, as the source has them:
 * the inline instance (its line from the line table), then each function it was inlined
 * into, at the line of that call, out to the function the code belongs to. All carry the
 * same address.
 */
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "frames.h"
#include "symbolize.h"
#include "symload.h"

struct hg_framer {
	struct hg_symbolizer *sym;
	struct hg_symload *load; /* modules being opened ahead, until the first lookup */
};

struct hg_framer *hg_framer_new(void)
{
	struct hg_framer *f = hg_xcalloc(1, sizeof(*f));

	f->sym = hg_symbolizer_new();
	if (!f->sym) {
		hg_error("out of memory creating a symbolizer");
		exit(HG_EXIT_INPUT);
	}
	f->load = hg_symload_start(f->sym);
	return f;
}

void hg_framer_free(struct hg_framer *f)
{
	if (!f)
		return;
	hg_symload_finish(f->load, NULL);
	hg_symbolizer_free(f->sym);
	free(f);
}

/* Modules that are not the user's code: the C runtime, the C++ runtime, the loader, our shim. */
static const char *const runtime_modules[] = {
	"libc.so", "libc-", "ld-linux", "libstdc++.so", "libgcc_s.so", "libm.so", "libpthread.so",
	"libdl.so", "libheapgraph.so",
};

/* Where compilers and the system keep headers, whose inline code is not the user's. */
static const char *const system_include_dirs[] = {
	"/usr/include/", "/usr/local/include/", "/usr/lib/gcc/", "/usr/lib/llvm",
};

static int has_prefix(const char *s, const char *const *prefixes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strncmp(s, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

/* Whether the frame is in a module of the program's own, not one of runtime_modules. */
static int own_module(const struct hg_frame *fr)
{
	return fr->module &&
	       !has_prefix(hg_basename(fr->module), runtime_modules, HG_ARRAY_SIZE(runtime_modules));
}

const struct hg_frame *hg_frames_user(const struct hg_frame *fr, size_t n)
{
	const struct hg_frame *fallback = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!fr[i].file || !fr[i].line || !own_module(&fr[i]))
			continue;
		if (!has_prefix(fr[i].file, system_include_dirs, HG_ARRAY_SIZE(system_include_dirs)))
			return &fr[i];
		if (!fallback)
			fallback = &fr[i];
	}
	return fallback;
}

const struct hg_frame *hg_frames_own_module(const struct hg_frame *fr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (own_module(&fr[i]))
			return &fr[i];
	return NULL;
}

size_t hg_frames_through_user(const struct hg_frame *fr, size_t n, size_t min)
{
	const struct hg_frame *user = hg_frames_user(fr, n);
	size_t want = user ? (size_t)(user - fr) + 1 : 0;

	if (want < min)
		want = min;
	return want < n ? want : n;
}

const char *hg_basename(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path ? path : "";
}

/* The frame of return address ip; *callers, the functions it was inlined into (or NULL). */
static void symbolize_one(struct hg_framer *f, const struct hg_image *im, uint32_t stack_id,
			  uint64_t ip, struct hg_frame *out, const struct hg_symbol **callers)
{
	const struct hg_module *m = hg_stack_module(im, stack_id, ip);
	struct hg_symbol sym;

	memset(out, 0, sizeof(*out));
	*callers = NULL;
	out->address = ip;
	if (!m)
		return;
	out->module = m->path;
	out->offset = ip - m->load_bias;
	if (hg_symbolize(f->sym, m->path, m->build_id, m->build_id_len, ip - m->load_bias - 1,
			 &sym) == 0) {
		out->function = sym.function;
		out->file = sym.file;
		out->line = sym.line;
		*callers = sym.inlined_into;
	}
}

/* Allocation functions that reach us through malloc: their frames are not the caller's. */
static int is_allocator_frame(const struct hg_frame *fr)
{
	return fr->function && (strncmp(fr->function, "operator new", 12) == 0 ||
				strncmp(fr->function, "operator new[]", 14) == 0);
}

size_t hg_framer_resolve(struct hg_framer *f, const struct hg_image *im, uint32_t stack_id,
			 struct hg_frame *out, size_t max)
{
	const struct hg_stack *st = hg_image_stack(im, stack_id);
	size_t n = 0;
	uint32_t i = 0;

	if (!st)
		return 0;
	if (f->load) {
		hg_symload_finish(f->load, NULL);
		f->load = NULL;
	}
	for (; i < st->n_frames && n < max; i++) {
		const struct hg_symbol *c;
		struct hg_frame fr;

		symbolize_one(f, im, stack_id, st->ip[i], &fr, &c);
		if (n == 0 && is_allocator_frame(&fr))
			continue;
		out[n++] = fr;
		for (; c && n < max; c = c->inlined_into) {
			out[n] = fr;
			out[n].function = c->function;
			out[n].file = c->file;
			out[n].line = c->line;
			n++;
		}
	}
	return n;
}
