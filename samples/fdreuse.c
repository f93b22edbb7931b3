/*
 * fdreuse.c - closes every descriptor it did not open, then opens its own files at 3 and 4
 *
 * Usage: fdreuse IN OUT
 *
 * A daemon's start-up: close descriptors 3 to 1023, whoever opened them, then open IN (which
 * gets 3) and OUT (which gets 4). Allocating from stacks of varying depth in between, it copies
 * IN to OUT with read(2) and write(2) and prints "fdreuse: IN at fd 3, OUT at fd 4, N bytes
 * copied". A tracer that keeps a descriptor of its own open across the closing, and goes on
 * using the number, reads from or writes to the program's files: the copy comes out short or
 * with bytes of the tracer's in it.
 *
 * Expect: the same line as untraced, exit 0, and OUT identical to IN.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Allocate and free through depth nested calls. */
static __attribute__((noinline)) size_t churn(int depth)
{
	size_t n;
	char *p;

	if (depth > 0)
		return churn(depth - 1) + 1;
	p = malloc(64);
	n = p ? 64 : 0;
	free(p);
	return n;
}

int main(int argc, char **argv)
{
	char buf[4096];
	ssize_t got, total = 0;
	int in, out;

	if (argc != 3) {
		fprintf(stderr, "usage: fdreuse IN OUT\n");
		return 2;
	}
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	in = open(argv[1], O_RDONLY);
	out = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0) {
		perror("fdreuse: open");
		return 2;
	}
	for (int i = 0; i < 2000; i++)
		churn(i % 40);
	while ((got = read(in, buf, sizeof(buf))) > 0) {
		for (int i = 0; i < 50; i++)
			churn(i);
		if (write(out, buf, (size_t)got) != got) {
			perror("fdreuse: write");
			return 2;
		}
		total += got;
	}
	printf("fdreuse: IN at fd %d, OUT at fd %d, %zd bytes copied\n", in, out, total);
	return 0;
}
