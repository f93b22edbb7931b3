/*
 * dlswap.c - a library unloaded and another mapped at its address: stacks through the second
 * are whole
 *
 * libswap_big.so and libswap_small.so (swapframe.S) have the same code at the same offsets;
 * their swap_alloc allocates from a frame of 8 KiB in one and 264 bytes in the other. Each
 * round loads big, allocates through it, unloads it, loads small (the loader puts it where big
 * was) and allocates through that. An unwinder that kept big's rule for that code would look
 * for small's caller 8 KiB too far up the stack, inside zeroed_caller's zeroed buffer, and end
 * the stack at swap_alloc. Every block stays live: 5 of big's (100..104 bytes) and 5 of
 * small's (200..204 bytes), all allocated by swap_alloc <- zeroed_caller <- main.
 *
 * Usage: dlswap DIR (where the two libraries are). Prints how many rounds mapped small where
 * big had been: the test means something only if all of them did.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#define ROUNDS 5

typedef void *(*alloc_fn)(size_t);

static alloc_fn load(const char *dir, const char *name, void **handle)
{
	char path[4096];
	void *sym;
	alloc_fn f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	*handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!*handle || !(sym = dlsym(*handle, "swap_alloc"))) {
		fprintf(stderr, "dlswap: %s\n", dlerror());
		exit(2);
	}
	*(void **)&f = sym;
	return f;
}

/* Calls f from under 16 KiB of zeros. */
static __attribute__((noinline)) void *zeroed_caller(alloc_fn f, size_t n)
{
	volatile char pad[16384];
	void *p;

	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = 0;
	p = f(n);
	pad[0] = 1;
	return p;
}

int main(int argc, char **argv)
{
	void *keep[2 * ROUNDS], *h;
	int same = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: dlswap DIR\n");
		return 2;
	}
	for (int r = 0; r < ROUNDS; r++) {
		alloc_fn big = load(argv[1], "libswap_big.so", &h), small;

		keep[2 * r] = zeroed_caller(big, 100 + (size_t)r);
		dlclose(h);
		small = load(argv[1], "libswap_small.so", &h);
		same += small == big;
		keep[2 * r + 1] = zeroed_caller(small, 200 + (size_t)r);
		dlclose(h);
	}
	printf("dlswap: %d of %d rounds mapped small where big was\n", same, ROUNDS);
	return keep[0] && keep[2 * ROUNDS - 1] ? 0 : 1;
}
