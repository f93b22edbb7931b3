/*
 * crc32c.h - CRC-32C (Castagnoli) of trace blocks
 */
#ifndef HG_CRC32C_H
#define HG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of n bytes, continuing from crc (start with 0). */
uint32_t hg_crc32c(uint32_t crc, const void *data, size_t n);

#endif /* HG_CRC32C_H */
