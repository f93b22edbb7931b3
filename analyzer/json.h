/*
 * json.h - a streaming JSON writer: objects, arrays and scalars, escaped, no allocation
 */
#ifndef HG_JSON_H
#define HG_JSON_H

#include <stdint.h>
#include <stdio.h>

#define HG_JSON_MAX_DEPTH 32

struct hg_json {
	FILE *out;
	int depth;                          /* open containers */
	int overflow;                       /* containers open beyond HG_JSON_MAX_DEPTH */
	int count[HG_JSON_MAX_DEPTH];       /* members written in each open container */
	char close[HG_JSON_MAX_DEPTH];      /* '}' or ']' for each open container */
};

/* Start writing to out. */
void hg_json_init(struct hg_json *j, FILE *out);

/*
 * Members: `key` names the member inside an object and must be NULL inside an array or at the
 * top level. Strings are escaped per RFC 8259; a NULL string is written as null.
 */
void hg_json_object(struct hg_json *j, const char *key);
void hg_json_array(struct hg_json *j, const char *key);
void hg_json_end(struct hg_json *j); /* closes the innermost object or array */
void hg_json_str(struct hg_json *j, const char *key, const char *v);
void hg_json_u64(struct hg_json *j, const char *key, uint64_t v);
void hg_json_i64(struct hg_json *j, const char *key, int64_t v);
void hg_json_bool(struct hg_json *j, const char *key, int v);
void hg_json_null(struct hg_json *j, const char *key);

/* Finish: a newline after the top-level value. */
void hg_json_finish(struct hg_json *j);

#endif /* HG_JSON_H */
