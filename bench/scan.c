/* scan.c - a large reachable heap at exit, for timing exit-time heap scans
 *
 * Allocates N blocks of 1 KiB (default 1,000,000, -n to change) linked into a list that a
 * global holds, plus N/100 blocks of the same size whose pointers it drops (leaks), then exits
 * without freeing anything. A leak checker that scans memory at exit (heapgraph's exit
 * snapshot, LeakSanitizer, memcheck --leak-check=full) has about 1 GiB of heap to walk; the
 * program itself does little else. Prints a checksum line that depends only on N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 1024

struct node {
	struct node *next;
	unsigned long id;
	char pad[BLOCK - sizeof(struct node *) - sizeof(unsigned long)];
};

struct node *list_head; /* the root that keeps the list reachable */

static struct node *new_node(unsigned long id)
{
	struct node *n = malloc(sizeof(*n));

	if (!n) {
		fprintf(stderr, "scan: out of memory\n");
		exit(1);
	}
	n->next = NULL;
	n->id = id;
	n->pad[0] = (char)id;
	return n;
}

int main(int argc, char **argv)
{
	unsigned long n = 1000000, sum = 0, leaked = 0;
	int c;

	while ((c = getopt(argc, argv, "n:")) != -1) {
		if (c != 'n') {
			fprintf(stderr, "usage: scan [-n BLOCKS]\n");
			return 2;
		}
		n = strtoul(optarg, NULL, 10);
	}
	for (unsigned long i = 0; i < n; i++) {
		struct node *b = new_node(i);

		b->next = list_head;
		list_head = b;
		if (i % 100 == 99) { /* one unreachable block per 100: its pointer is dropped */
			struct node *lost = new_node(~i);

			sum += lost->id & 0xff;
			leaked++;
		}
	}
	for (struct node *b = list_head; b; b = b->next)
		sum += b->id;
	printf("checksum %lu %lu %lu\n", n, leaked, sum);
	return 0;
}
