/*
 * rawlog.c - allocation-free diagnostics from inside the shim
 *
 * stdio may allocate and takes locks that the interrupted code may hold, so the shim formats its
 * few messages itself into a fixed stack buffer and hands them to write(2) in one call. Messages
 * are for people debugging the shim (HEAPGRAPH_DEBUG=1); the traced program's stderr stays
 * untouched otherwise, except for one line when bare mode cannot trace at all (no trace file,
 * no collector): the user asked for a trace and would otherwise find none, without a word.
 *
 * Runs in: anywhere, including inside malloc and signal handlers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#include "rawlog.h"

int hg_rawlog_enabled;

struct hg_buf {
	char *p;   /* next free byte */
	char *end; /* one past the last usable byte */
};

static void put_char(struct hg_buf *b, char c)
{
	if (b->p < b->end)
		*b->p++ = c;
}

static void put_str(struct hg_buf *b, const char *s)
{
	if (!s)
		s = "(null)";
	while (*s)
		put_char(b, *s++);
}

static void put_num(struct hg_buf *b, uint64_t v, unsigned base, int negative)
{
	char tmp[24];
	int n = 0;

	if (negative)
		put_char(b, '-');
	do {
		tmp[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		put_char(b, tmp[--n]);
}

static void put_signed(struct hg_buf *b, int64_t v)
{
	put_num(b, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, 10, v < 0);
}

static void format(struct hg_buf *b, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put_char(b, *fmt);
			continue;
		}
		fmt++;
		int is_long = 0;
		while (*fmt == 'l' || *fmt == 'z') {
			is_long = 1;
			fmt++;
		}
		switch (*fmt) {
		case 's': put_str(b, va_arg(ap, const char *)); break;
		case 'd': put_signed(b, is_long ? va_arg(ap, long) : va_arg(ap, int)); break;
		case 'u': put_num(b, is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 10, 0); break;
		case 'x': put_num(b, is_long ? va_arg(ap, unsigned long) : va_arg(ap, unsigned), 16, 0); break;
		case 'p': put_str(b, "0x"); put_num(b, (uintptr_t)va_arg(ap, void *), 16, 0); break;
		case '%': put_char(b, '%'); break;
		case '\0': return;
		default: put_char(b, '?'); break;
		}
	}
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512];
	struct hg_buf b = { buf, buf + sizeof(buf) - 1 };
	int saved = errno;

	put_str(&b, prefix);
	format(&b, fmt, ap);
	*b.p++ = '\n';
	/* One write so lines from several threads do not interleave; a short write is not retried
	 * because this is a best-effort channel, not data. */
	if (write(2, buf, (size_t)(b.p - buf)) < 0)
		errno = saved;
	errno = saved;
}

void hg_rawlog(const char *fmt, ...)
{
	va_list ap;

	if (!hg_rawlog_enabled)
		return;
	va_start(ap, fmt);
	vlog("heapgraph: ", fmt, ap);
	va_end(ap);
}

void hg_rawlog_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("heapgraph: error: ", fmt, ap);
	va_end(ap);
}
