/*
 * names.c - C++ function names short enough to read in a text stack (see names.h)
 *
 * A template argument list is a '<' and the '>' that balances it, parentheses counted too (a
 * '>' in "(1>2)" closes nothing). Operators spelled with angle brackets ("operator<<",
 * "operator->", "operator<=>") are copied as they are: their brackets open or close nothing.
 */
#include <string.h>

#include "names.h"

static int full_names;

void hg_names_set_full(int full)
{
	full_names = full;
}

struct out {
	char *p;
	size_t n, cap;
	int bad; /* did not fit, or brackets that do not balance */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->n + n >= o->cap) {
		o->bad = 1;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static int ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* At s[i] (of n), the length of "operator" with an angle-bracket symbol after it ("operator<<",
 * "operator->*"), when a name starts there; else 0. */
static size_t operator_at(const char *s, size_t i, size_t n)
{
	static const char *const symbols[] = { "<<=", "<=>", ">>=", "->*", "<<", "<=",
					       ">>",  ">=",  "->",  "<",   ">" };
	static const char word[] = "operator";
	size_t w = sizeof(word) - 1;

	if (n - i <= w || memcmp(s + i, word, w) || (i > 0 && ident_char(s[i - 1])))
		return 0;
	for (size_t k = 0; k < sizeof(symbols) / sizeof(symbols[0]); k++) {
		size_t len = strlen(symbols[k]);
		if (n - i - w >= len && !memcmp(s + i + w, symbols[k], len))
			return w + len;
	}
	return 0;
}

/* The offset of the '>' that closes the list opened by s[0] == '<', of n; 0 when none does. */
static size_t closing(const char *s, size_t n)
{
	int angle = 0, paren = 0;

	for (size_t i = 0; i < n; i++) {
		size_t op = operator_at(s, i, n);
		if (op) {
			i += op - 1;
			continue;
		}
		if (s[i] == '(') {
			paren++;
		} else if (s[i] == ')' && --paren < 0) {
			return 0;
		} else if (s[i] == '<' && !paren) {
			angle++;
		} else if (s[i] == '>' && !paren && --angle == 0) {
			return i;
		}
	}
	return 0;
}

/*
 * s (n bytes) onto o, each template argument list shortened, those still too long elided.
 * in_list: s is a list's inside, where a '<' in parentheses is an expression's ("(a<b)"),
 * copied as it is; outside one, parentheses hold a function's parameters, whose types are
 * shortened.
 */
static void shorten(const char *s, size_t n, int in_list, struct out *o)
{
	int paren = 0;

	for (size_t i = 0; i < n && !o->bad;) {
		size_t op = operator_at(s, i, n), close, mark;

		if (op) {
			put(o, s + i, op);
			i += op;
		} else if (s[i] != '<' || (in_list && paren)) {
			paren += s[i] == '(' ? 1 : s[i] == ')' ? -1 : 0;
			put(o, s + i, 1);
			i++;
		} else if (!(close = closing(s + i, n - i))) {
			o->bad = 1;
		} else {
			mark = o->n;
			put(o, "<", 1);
			shorten(s + i + 1, close - 1, 1, o);
			if (o->n - mark - 1 > HG_NAME_ARGS_MAX) {
				o->n = mark;
				put(o, "<...>", 5);
			} else {
				put(o, ">", 1);
			}
			i += close + 1;
		}
	}
}

const char *hg_name_text(const char *name, char *buf, size_t cap)
{
	struct out o = { buf, 0, cap, 0 };
	size_t n;

	if (!name || full_names || !strchr(name, '<'))
		return name;
	n = strlen(name);
	shorten(name, n, 0, &o);
	if (o.bad || o.n == n)
		return name;
	buf[o.n] = 0;
	return buf;
}
