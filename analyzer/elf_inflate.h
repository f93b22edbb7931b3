/*
 * elf_inflate.h - a copy of an ELF file with its compressed sections inflated
 */
#ifndef HG_ELF_INFLATE_H
#define HG_ELF_INFLATE_H

#include <gelf.h>
#include <stdint.h>

/* What hg_elf_write_inflated would write for a file. */
struct hg_elf_inflate_plan {
	uint64_t inflated_bytes; /* the compressed sections' size once inflated; 0: none */
	uint64_t copy_bytes;     /* an upper bound of the copy's size, in bytes */
};

/*
 * Plan the copy of e, a file of file_bytes bytes. Returns 0, or -1 when it cannot be copied:
 * a section or its compression header unreadable, compressed otherwise than with zlib (what
 * this libelf inflates: Debian 12's elfutils 0.188 has no zstd), or a section name table whose
 * index needs the extended numbering.
 */
int hg_elf_inflate_plan(Elf *e, uint64_t file_bytes, struct hg_elf_inflate_plan *p);

/*
 * Write src to the empty file out: each SHF_COMPRESSED section inflated, every other section,
 * the program headers and the ELF header as they were, libelf choosing the file offsets.
 * Inflating changes src in memory (its compressed sections read inflated from then on).
 * Returns 0, or -1 with out partly written.
 */
int hg_elf_write_inflated(Elf *src, int out);

#endif
