/*
 * ci_output.c - `heapgraph check` results for CI systems: JUnit XML, SARIF 2.1.0, GitHub
 *
 * JUnit: one test case per listed process (classname heapgraph.PROGRAM, name "pid N: COMMAND"),
 * one <failure> per leak site that counts against the gate (type = kind, message = the site,
 * text = its stack) and one of type "peak" for a peak over the limit; processes that could not
 * be checked are <skipped>. SARIF: a result per counted site of a failing process, located at
 * the first frame in the user's code (gate.c: not the C or C++ runtime, the loader or our
 * shim), with the whole allocation stack in `stacks` and a fingerprint of the symbolized stack
 * so that code-scanning services track a leak across runs. GitHub: an annotation per counted
 * site at that frame. Paths under the current directory are written relative to it (what
 * GitHub's code scanning and annotations expect).
 *
 * A site may hold blocks allocated through several lines of its frames (its key has none), and
 * each format names them all, as far as it can carry them: JUnit, text only, gives every frame
 * with its lines; a SARIF result has a location at each line of the user frame, with that
 * line's share, and a stack per distinct stack; GitHub takes one file:line an annotation, so
 * the site gets one at each of its first HG_CHECK_MAX_LINES lines, each naming the others.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "diag.h"
#include "json.h"
#include "leaks.h"
#include "units.h"

static int counts(const struct hg_check_proc *p, const struct hg_check_site *s)
{
	return p->leak_fail && s->state <= HG_SITE_GREW;
}

/* A source path as written in the outputs: relative to the current directory when under it. */
static const char *rel_path(const char *file, const char *cwd)
{
	size_t n = strlen(cwd);

	if (n > 1 && !strncmp(file, cwd, n) && file[n] == '/')
		return file + n + 1;
	return file;
}

/* ---- JUnit ------------------------------------------------------------------------------ */

/* XML text or attribute value: the five entities; control characters XML 1.0 cannot carry
 * (even as references) become '?'. */
static void xml(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		switch (c) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&apos;", out); break;
		default:
			if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
				fputc('?', out);
			else if (c == '\n' || c == '\r' || c == '\t')
				fprintf(out, "&#%u;", c);
			else
				fputc(c, out);
		}
	}
}

/* Frame i of s: "two_lines (fk.c:9, fk.c:13) in fk", with every line of the site there. */
static void frame_text(char *buf, size_t cap, const struct hg_check_site *s, size_t i)
{
	const struct hg_frame *fr = &s->frames[i];
	const struct hg_check_lines *l = &s->lines[i];
	char lines[2048];
	int n = snprintf(buf, cap, "%s", fr->function ? fr->function : "???");

	if (n >= 0 && (size_t)n < cap && l->n)
		n += snprintf(buf + n, cap - n, " (%s)",
			      hg_check_lines_text(l, HG_CHECK_MAX_LINES, lines, sizeof(lines)));
	if (n >= 0 && (size_t)n < cap)
		snprintf(buf + n, cap - n, " in %s", fr->module ? hg_basename(fr->module) : "?");
}

static void junit_failure(FILE *out, const struct hg_check_site *s)
{
	char msg[4096], fr[3072];

	hg_check_site_text(s, msg, sizeof(msg));
	if (s->n_frames) {
		size_t n = strlen(msg);
		frame_text(fr, sizeof(fr), s, s->user ? (size_t)(s->user - s->frames) : 0);
		snprintf(msg + n, sizeof(msg) - n, " at %s", fr);
	}
	fprintf(out, "      <failure type=\"%s\" message=\"", hg_leak_kind_name[s->kind]);
	xml(out, msg);
	fprintf(out, "\">");
	for (size_t i = 0; i < s->n_frames; i++) {
		frame_text(fr, sizeof(fr), s, i);
		fputs(i ? "\nby " : "at ", out);
		xml(out, fr);
	}
	fprintf(out, "</failure>\n");
}

static void junit_case(FILE *out, const struct hg_check_proc *p, uint64_t max_peak)
{
	char name[512];

	fprintf(out, "    <testcase classname=\"heapgraph.");
	xml(out, p->program);
	fprintf(out, "\" name=\"");
	xml(out, hg_check_proc_name(p, name, sizeof(name)));
	fprintf(out, "\">\n");
	if (!p->checked && !p->peak_fail) {
		fprintf(out, "      <skipped message=\"");
		xml(out, p->why_unchecked);
		fprintf(out, "\"/>\n");
	}
	if (p->peak_fail)
		fprintf(out, "      <failure type=\"peak\" message=\"peak heap of %" PRIu64
			" bytes is over the limit of %" PRIu64 " bytes\"/>\n",
			p->im->totals.peak_bytes, max_peak);
	for (size_t i = 0; i < p->n_sites; i++)
		if (counts(p, &p->sites[i]))
			junit_failure(out, &p->sites[i]);
	fprintf(out, "    </testcase>\n");
}

int hg_check_junit(const char *path, const struct hg_check_result *res, uint64_t max_peak)
{
	FILE *out = fopen(path, "w");
	size_t skipped = 0;

	if (!out)
		return hg_error("cannot create JUnit file '%s': %s", path, strerror(errno));
	for (size_t i = 0; i < res->n_procs; i++)
		skipped += res->procs[i].listed && !res->procs[i].checked && !res->procs[i].peak_fail;
	fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<testsuites name=\"heapgraph check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
		"skipped=\"%zu\">\n"
		"  <testsuite name=\"heapgraph check\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
		"skipped=\"%zu\">\n", res->n_listed, res->n_failed, skipped, res->n_listed,
		res->n_failed, skipped);
	for (size_t i = 0; i < res->n_procs; i++)
		if (res->procs[i].listed)
			junit_case(out, &res->procs[i], max_peak);
	fprintf(out, "  </testsuite>\n</testsuites>\n");
	if (ferror(out) | (fclose(out) != 0))
		return hg_error("cannot write JUnit file '%s': %s", path, strerror(errno));
	return 0;
}

/* ---- SARIF ------------------------------------------------------------------------------ */

static const char *const rule_text[5] = {
	"memory still reachable at exit (--fail-on reachable)",
	"memory reachable only through pointers into its middle at exit",
	"memory no pointer reaches any more at exit (a direct leak)",
	"memory reachable only from leaked memory at exit (an indirect leak)",
	"blocks that point at each other and nothing else reaches (a leaked cycle)",
};

/* A file URI for paths outside the current directory; relative paths as they are. */
static void uri(char *buf, size_t cap, const char *file, const char *cwd)
{
	const char *rel = rel_path(file, cwd);
	size_t n = 0;

	if (*rel == '/')
		n = (size_t)snprintf(buf, cap, "file://");
	for (; *rel && n + 4 < cap; rel++) {
		unsigned char c = (unsigned char)*rel;
		if (c <= ' ' || c == '%' || c == '#' || c == '?' || c >= 0x7f)
			n += (size_t)snprintf(buf + n, cap - n, "%%%02X", c);
		else
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
}

/* The end of a SARIF location object: the function if known, a message if not NULL. */
static void location_end(struct hg_json *j, const char *function, const char *msg)
{
	if (function) {
		hg_json_array(j, "logicalLocations");
		hg_json_object(j, NULL);
		hg_json_str(j, "fullyQualifiedName", function);
		hg_json_str(j, "kind", "function");
		hg_json_end(j);
		hg_json_end(j);
	}
	if (msg) {
		hg_json_object(j, "message");
		hg_json_str(j, "text", msg);
		hg_json_end(j);
	}
	hg_json_end(j);
}

/* A SARIF location object (under key, or in an array when NULL): file:line if known, the
 * function if known, and a message if not NULL. */
static void location(struct hg_json *j, const char *key, const char *file, uint32_t line,
		     const char *function, const char *msg, const char *cwd)
{
	char u[PATH_MAX * 3];

	hg_json_object(j, key);
	if (file && line) {
		uri(u, sizeof(u), file, cwd);
		hg_json_object(j, "physicalLocation");
		hg_json_object(j, "artifactLocation");
		hg_json_str(j, "uri", u);
		hg_json_end(j);
		hg_json_object(j, "region");
		hg_json_u64(j, "startLine", line);
		hg_json_end(j);
		hg_json_end(j);
	}
	location_end(j, function, msg);
}

/*
 * A SARIF location at a whole file, for a result with no source line: a leak whose frames
 * have no line information (no debug information), a peak over --max-peak. GitHub's code
 * scanning rejects the whole file, every result in it, when one result has no location or
 * one without a physical artifact ("locationFromSarifResult: expected at least one
 * location"), so such a result points at the module or program it is about.
 */
static void file_location(struct hg_json *j, const char *file, const char *function,
			  const char *msg, const char *cwd)
{
	char u[PATH_MAX * 3];

	uri(u, sizeof(u), file && *file ? file : "unknown", cwd);
	hg_json_object(j, NULL);
	hg_json_object(j, "physicalLocation");
	hg_json_object(j, "artifactLocation");
	hg_json_str(j, "uri", u);
	hg_json_end(j);
	hg_json_end(j);
	location_end(j, function, msg);
}

/* "1000 bytes in 1 block from this line": a line's share of a site with several. */
static const char *line_share(char *buf, size_t cap, const struct hg_check_line *l)
{
	snprintf(buf, cap, "%" PRIu64 " bytes in %" PRIu64 " block%s from this line", l->bytes,
		 l->blocks, hg_plural(l->blocks));
	return buf;
}

/* A result's stacks and locations at most: a recursive function reached from two lines at each
 * level makes 2^depth stacks of one site, and GitHub refuses a file with a result of more than
 * 1000 locations (and shows 100). The message names every line's count all the same. */
#define SARIF_MAX_STACKS 10
#define SARIF_MAX_LOCATIONS 100

/* One SARIF stack per stack of the site, the largest SARIF_MAX_STACKS: each is the stack of
 * some of its blocks, with the lines of those blocks (one stack would show one line where the
 * site has several). */
static void sarif_stacks(struct hg_json *j, const struct hg_check_site *s, const char *cwd)
{
	char msg[128];

	hg_json_array(j, "stacks");
	for (size_t k = 0; k < s->n_stacks && k < SARIF_MAX_STACKS; k++) {
		const struct hg_check_stack *st = &s->stacks[k];
		if (s->n_stacks == 1)
			snprintf(msg, sizeof(msg), "allocation stack");
		else
			snprintf(msg, sizeof(msg), "allocation stack of %" PRIu64 " bytes in %"
				 PRIu64 " block%s", st->bytes, st->blocks,
				 hg_plural(st->blocks));
		hg_json_object(j, NULL);
		hg_json_object(j, "message");
		hg_json_str(j, "text", msg);
		hg_json_end(j);
		hg_json_array(j, "frames");
		for (size_t i = 0; i < s->n_frames; i++) {
			const struct hg_frame *fr = &st->frames[i];
			hg_json_object(j, NULL);
			location(j, "location", fr->file, fr->line, fr->function, NULL, cwd);
			hg_json_str(j, "module", fr->module);
			hg_json_end(j);
		}
		hg_json_end(j);
		hg_json_end(j);
	}
	hg_json_end(j);
}

/* FNV-1a of the site's identity: the same leak gets the same fingerprint in every run. */
static uint64_t fingerprint(const struct hg_check_proc *p, const struct hg_check_site *s)
{
	const char *parts[3] = { p->program, hg_leak_kind_name[s->kind], s->key };
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t k = 0; k < 3; k++)
		for (const char *c = parts[k]; ; c++) {
			h = (h ^ (unsigned char)*c) * 0x100000001b3ull;
			if (!*c)
				break;
		}
	return h;
}

/*
 * The message of a counted site in SARIF and annotations: "direct leak of 100 bytes in 1 block
 * in pid N: COMMAND, allocated by F", then ", called from G" when the user frame G is not the
 * allocating one (strdup in libc, a std::vector method inlined from a header); when the user
 * frame has several lines, they follow: " at 2 lines: a.c:9, a.c:13". Returns buf.
 */
static const char *site_message(char *buf, size_t cap, const struct hg_check_proc *p,
				const struct hg_check_site *s)
{
	const char *alloc = s->n_frames && s->frames[0].function ? s->frames[0].function : "???";
	char name[512], lines[2048];
	size_t n;

	hg_check_site_text(s, buf, cap);
	n = strlen(buf);
	n += (size_t)snprintf(buf + n, cap - n, " in %s, allocated by %s",
			      hg_check_proc_name(p, name, sizeof(name)), alloc);
	if (!s->user || n >= cap)
		return buf;
	if (s->user != s->frames)
		n += (size_t)snprintf(buf + n, cap - n, ", called from %s",
				      s->user->function ? s->user->function : "???");
	if (s->user_lines->n >= 2 && n < cap)
		snprintf(buf + n, cap - n, " at %zu lines: %s", s->user_lines->n,
			 hg_check_lines_text(s->user_lines, HG_CHECK_MAX_LINES, lines,
					     sizeof(lines)));
	return buf;
}

/* The result's locations: each line of the user frame. SARIF allows several locations when
 * the result is fixed only by a change at each, as a site leaves the gate only when every one
 * of its lines stops leaking; viewers that show one (GitHub's) take the first, and the message
 * names them all. */
static void sarif_locations(struct hg_json *j, const struct hg_check_proc *p,
			    const struct hg_check_site *s, const char *cwd)
{
	const struct hg_frame *where = s->user ? s->user : hg_frames_own_module(s->frames,
									       s->n_frames);
	char share[128];

	hg_json_array(j, "locations");
	if (!s->user_lines || !s->user_lines->n)
		file_location(j, where && where->module ? where->module : p->im->exe,
			      where ? where->function : NULL, "no line information", cwd);
	for (size_t k = 0; s->user_lines && k < s->user_lines->n && k < SARIF_MAX_LOCATIONS;
	     k++) {
		const struct hg_check_line *l = &s->user_lines->v[k];
		const char *msg = s->user_lines->n > 1 ? line_share(share, sizeof(share), l) : NULL;
		location(j, NULL, l->file, l->line, s->user->function, msg, cwd);
	}
	hg_json_end(j);
}

static void sarif_result(struct hg_json *j, const struct hg_check_proc *p,
			 const struct hg_check_site *s, const char *cwd)
{
	char msg[4096], fp[20];

	site_message(msg, sizeof(msg), p, s);
	hg_json_object(j, NULL);
	hg_json_str(j, "ruleId", hg_leak_kind_name[s->kind]);
	hg_json_u64(j, "ruleIndex", s->kind);
	hg_json_str(j, "level", "error");
	hg_json_object(j, "message");
	hg_json_str(j, "text", msg);
	hg_json_end(j);
	sarif_locations(j, p, s, cwd);
	sarif_stacks(j, s, cwd);
	hg_json_object(j, "partialFingerprints");
	snprintf(fp, sizeof(fp), "%016" PRIx64, fingerprint(p, s));
	hg_json_str(j, "heapgraphStack/v1", fp);
	hg_json_end(j);
	hg_json_object(j, "properties");
	hg_json_u64(j, "pid", p->im->pid);
	hg_json_str(j, "program", p->program);
	hg_json_u64(j, "bytes", s->bytes);
	hg_json_u64(j, "blocks", s->blocks);
	hg_json_str(j, "state", s->state == HG_SITE_GREW ? "grew" : "new");
	hg_json_end(j);
	hg_json_end(j);
}

static void sarif_peak(struct hg_json *j, const struct hg_check_proc *p, uint64_t max_peak,
		       const char *cwd)
{
	char msg[1024], name[512];

	snprintf(msg, sizeof(msg), "peak heap of %" PRIu64 " bytes in %s is over the limit of %"
		 PRIu64 " bytes", p->im->totals.peak_bytes, hg_check_proc_name(p, name, sizeof(name)),
		 max_peak);
	hg_json_object(j, NULL);
	hg_json_str(j, "ruleId", "peak");
	hg_json_u64(j, "ruleIndex", 5);
	hg_json_str(j, "level", "error");
	hg_json_object(j, "message");
	hg_json_str(j, "text", msg);
	hg_json_end(j);
	hg_json_array(j, "locations");
	file_location(j, p->im->exe, NULL, "the program", cwd);
	hg_json_end(j);
	hg_json_object(j, "properties");
	hg_json_u64(j, "pid", p->im->pid);
	hg_json_str(j, "program", p->program);
	hg_json_u64(j, "peak_bytes", p->im->totals.peak_bytes);
	hg_json_end(j);
	hg_json_end(j);
}

static void sarif_rules(struct hg_json *j)
{
	hg_json_array(j, "rules");
	for (int k = 0; k <= 5; k++) {
		hg_json_object(j, NULL);
		hg_json_str(j, "id", k < 5 ? hg_leak_kind_name[k] : "peak");
		hg_json_object(j, "shortDescription");
		hg_json_str(j, "text", k < 5 ? rule_text[k] : "peak heap over --max-peak");
		hg_json_end(j);
		hg_json_end(j);
	}
	hg_json_end(j);
}

int hg_check_sarif(const char *path, const struct hg_check_result *res, uint64_t max_peak)
{
	FILE *out = fopen(path, "w");
	char cwd[PATH_MAX];
	struct hg_json j;

	if (!out)
		return hg_error("cannot create SARIF file '%s': %s", path, strerror(errno));
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	hg_json_init(&j, out);
	hg_json_object(&j, NULL);
	hg_json_str(&j, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
	hg_json_str(&j, "version", "2.1.0");
	hg_json_array(&j, "runs");
	hg_json_object(&j, NULL);
	hg_json_object(&j, "tool");
	hg_json_object(&j, "driver");
	hg_json_str(&j, "name", "heapgraph");
	hg_json_str(&j, "version", HG_VERSION);
	sarif_rules(&j);
	hg_json_end(&j);
	hg_json_end(&j);
	hg_json_array(&j, "results");
	for (size_t i = 0; i < res->n_procs; i++) {
		const struct hg_check_proc *p = &res->procs[i];
		if (p->peak_fail)
			sarif_peak(&j, p, max_peak, cwd);
		for (size_t k = 0; k < p->n_sites; k++)
			if (counts(p, &p->sites[k]))
				sarif_result(&j, p, &p->sites[k], cwd);
	}
	hg_json_end(&j);
	hg_json_end(&j);
	hg_json_end(&j);
	hg_json_end(&j);
	hg_json_finish(&j);
	if (ferror(out) | (fclose(out) != 0))
		return hg_error("cannot write SARIF file '%s': %s", path, strerror(errno));
	return 0;
}

/* ---- GitHub Actions --------------------------------------------------------------------- */

/* A workflow command's message (`prop` 0) or property value (`prop` 1), escaped. */
static void gh_escape(FILE *out, const char *s, int prop)
{
	for (; s && *s; s++) {
		if (*s == '%')
			fputs("%25", out);
		else if (*s == '\r')
			fputs("%0D", out);
		else if (*s == '\n')
			fputs("%0A", out);
		else if (prop && *s == ':')
			fputs("%3A", out);
		else if (prop && *s == ',')
			fputs("%2C", out);
		else
			fputc(*s, out);
	}
}

/* One annotation: at file:line when file is not NULL, else where GitHub puts file-less ones. */
static void gh_annotation(FILE *out, const struct hg_check_site *s, const char *file,
			  uint32_t line, const char *msg, const char *cwd)
{
	char title[64];

	fputs("::error ", out);
	if (file) {
		fputs("file=", out);
		gh_escape(out, rel_path(file, cwd), 1);
		fprintf(out, ",line=%u,", line);
	}
	snprintf(title, sizeof(title), "heapgraph: %s leak", hg_leak_kind_name[s->kind]);
	fputs("title=", out);
	gh_escape(out, title, 1);
	fputs("::", out);
	gh_escape(out, msg, 0);
	fputc('\n', out);
}

/* GitHub shows this many error annotations a step; the rest are dropped. */
#define GH_ANNOTATIONS_SHOWN 10

/*
 * A counted site's annotations: with extra 0, the one at its first user line (or without a
 * file); with extra > 0, those at its next user lines up to HG_CHECK_MAX_LINES, at most *extra
 * of them. Each names that line's share when the site has several.
 */
static void gh_site(FILE *out, const struct hg_check_proc *p, const struct hg_check_site *s,
		    const char *cwd, size_t *extra)
{
	char msg[4096], share[128];
	size_t n = s->user_lines ? s->user_lines->n : 0, len;
	size_t from = extra ? 1 : 0, to = extra ? HG_CHECK_MAX_LINES : 1;

	site_message(msg, sizeof(msg), p, s);
	if (n == 0 && !extra)
		gh_annotation(out, s, NULL, 0, msg, cwd);
	len = strlen(msg);
	for (size_t k = from; k < n && k < to && (!extra || *extra > 0); k++) {
		const struct hg_check_line *l = &s->user_lines->v[k];
		if (n > 1)
			snprintf(msg + len, sizeof(msg) - len, "; %s",
				 line_share(share, sizeof(share), l));
		gh_annotation(out, s, l->file, l->line, msg, cwd);
		if (extra)
			--*extra;
	}
}

void hg_check_github(FILE *out, const struct hg_check_result *res, uint64_t max_peak)
{
	char cwd[PATH_MAX], msg[1024], name[512];
	size_t shown = 0, extra;

	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	for (size_t i = 0; i < res->n_procs; i++) {
		const struct hg_check_proc *p = &res->procs[i];
		hg_check_proc_name(p, name, sizeof(name));
		if (p->peak_fail) {
			fprintf(out, "::error title=heapgraph%%3A peak over the limit::");
			snprintf(msg, sizeof(msg), "peak heap of %" PRIu64 " bytes in %s is over the "
				 "limit of %" PRIu64 " bytes", p->im->totals.peak_bytes, name,
				 max_peak);
			gh_escape(out, msg, 0);
			fputc('\n', out);
		}
		shown += p->peak_fail;
		for (size_t k = 0; k < p->n_sites; k++) {
			if (counts(p, &p->sites[k])) {
				gh_site(out, p, &p->sites[k], cwd, NULL);
				shown++;
			}
		}
	}
	/* Then the other lines of sites with several, while GitHub would still show them: every
	 * site gets its first annotation before any gets a second. */
	extra = shown < GH_ANNOTATIONS_SHOWN ? GH_ANNOTATIONS_SHOWN - shown : 0;
	for (size_t i = 0; i < res->n_procs && extra > 0; i++)
		for (size_t k = 0; k < res->procs[i].n_sites && extra > 0; k++)
			if (counts(&res->procs[i], &res->procs[i].sites[k]))
				gh_site(out, &res->procs[i], &res->procs[i].sites[k], cwd, &extra);
}
