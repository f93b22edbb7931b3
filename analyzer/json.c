/*
 * json.c - a streaming JSON writer: objects, arrays and scalars, escaped, no allocation
 *
 * Output is compact (one line): reports can hold millions of frames and a machine reads them.
 * Pipe through `python3 -m json.tool` or `jq` to read by eye.
 */
#include <inttypes.h>

#include "json.h"

void hg_json_init(struct hg_json *j, FILE *out)
{
	j->out = out;
	j->depth = 0;
	j->overflow = 0;
	j->count[0] = 0;
}

static void escaped(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

static void member(struct hg_json *j, const char *key)
{
	if (j->count[j->depth]++)
		fputc(',', j->out);
	if (key) {
		escaped(j->out, key);
		fputc(':', j->out);
	}
}

/*
 * Past HG_JSON_MAX_DEPTH the innermost level's bookkeeping is shared by every deeper one (they
 * are counted in `overflow`), so the output stays well formed; commas may be missing there.
 * heapgraph's own documents nest fewer than ten levels.
 */
static void open_container(struct hg_json *j, const char *key, char c)
{
	member(j, key);
	fputc(c, j->out);
	if (j->depth + 1 >= HG_JSON_MAX_DEPTH) {
		j->overflow++;
		return;
	}
	j->depth++;
	j->count[j->depth] = 0;
	j->close[j->depth] = c == '{' ? '}' : ']';
}

void hg_json_object(struct hg_json *j, const char *key)
{
	open_container(j, key, '{');
}

void hg_json_array(struct hg_json *j, const char *key)
{
	open_container(j, key, '[');
}

void hg_json_end(struct hg_json *j)
{
	if (j->overflow) {
		fputc(j->close[j->depth] == '}' ? '}' : ']', j->out);
		j->overflow--;
		return;
	}
	if (j->depth == 0)
		return;
	fputc(j->close[j->depth], j->out);
	j->depth--;
}

void hg_json_str(struct hg_json *j, const char *key, const char *v)
{
	member(j, key);
	if (v)
		escaped(j->out, v);
	else
		fputs("null", j->out);
}

void hg_json_u64(struct hg_json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->out, "%" PRIu64, v);
}

void hg_json_i64(struct hg_json *j, const char *key, int64_t v)
{
	member(j, key);
	fprintf(j->out, "%" PRId64, v);
}

void hg_json_bool(struct hg_json *j, const char *key, int v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->out);
}

void hg_json_null(struct hg_json *j, const char *key)
{
	member(j, key);
	fputs("null", j->out);
}

void hg_json_finish(struct hg_json *j)
{
	fputc('\n', j->out);
}
