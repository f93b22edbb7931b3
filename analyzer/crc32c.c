/*
 * crc32c.c - CRC-32C (Castagnoli) of trace blocks
 *
 * The polynomial with a hardware instruction on x86-64 (SSE4.2 crc32), so checking a large
 * trace costs little; a byte-wise table serves CPUs without it. Both give identical results.
 */
#include <stdint.h>
#include <string.h>

#include "crc32c.h"

static uint32_t table[256];

static void make_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
		table[i] = c;
	}
}

static uint32_t crc_table(uint32_t c, const uint8_t *p, size_t n)
{
	if (!table[1])
		make_table();
	while (n--)
		c = table[(c ^ *p++) & 0xffu] ^ (c >> 8);
	return c;
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;

	for (; n >= 8; n -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c64 = __builtin_ia32_crc32di(c64, v);
	}
	c = (uint32_t)c64;
	while (n--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}

uint32_t hg_crc32c(uint32_t crc, const void *data, size_t n)
{
	static int hw = -1;
	uint32_t c = ~crc;

	if (hw < 0)
		hw = __builtin_cpu_supports("sse4.2");
	c = hw ? crc_hw(c, data, n) : crc_table(c, data, n);
	return ~c;
}
