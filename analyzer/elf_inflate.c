/*
 * elf_inflate.c - a copy of an ELF file with its compressed sections inflated
 *
 * libelf's elf_compress(scn, 0, 0) inflates a section in memory, as libdw does on opening a
 * file; the copy is a new ELF file built from the original's headers and sections, of which
 * libelf lays out the offsets anew. libdw reads sections and the program headers' addresses
 * from a debug file, never their file offsets, so it answers from the copy as from the
 * original. A section name table at index SHN_LORESERVE or above is named in section 0,
 * which libelf makes afresh, so such a file is not copied.
 */
#include "elf_inflate.h"

#include <stddef.h>


#define LAYOUT_SLACK (64u << 10) /* alignment padding the new layout may add, at most */

int hg_elf_inflate_plan(Elf *e, uint64_t file_bytes, struct hg_elf_inflate_plan *p)
{
	uint64_t compressed = 0;
	size_t shstrndx;

	p->inflated_bytes = 0;
	p->copy_bytes = 0;
	if (elf_getshdrstrndx(e, &shstrndx) != 0 || shstrndx >= SHN_LORESERVE)
		return -1;
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
		GElf_Shdr sh;
		GElf_Chdr ch;

		if (!gelf_getshdr(scn, &sh))
			return -1;
		if (!(sh.sh_flags & SHF_COMPRESSED))
			continue;
		if (!gelf_getchdr(scn, &ch) || ch.ch_type != ELFCOMPRESS_ZLIB)
			return -1;
		compressed += sh.sh_size;
		p->inflated_bytes += ch.ch_size;
	}
	p->copy_bytes = file_bytes - (compressed < file_bytes ? compressed : file_bytes) +
			p->inflated_bytes + LAYOUT_SLACK;
	return 0;
}

/* Copy section `from` of the source into the new section `to`, inflated. */
static int copy_section(Elf_Scn *from, Elf_Scn *to)
{
	GElf_Shdr sh;

	if (!gelf_getshdr(from, &sh))
		return -1;
	/* Inflating updates the source's header in memory: size, alignment, no SHF_COMPRESSED. */
	if ((sh.sh_flags & SHF_COMPRESSED) && (elf_compress(from, 0, 0) < 0 ||
					       !gelf_getshdr(from, &sh)))
		return -1;
	for (Elf_Data *d = NULL; (d = elf_getdata(from, d));) {
		Elf_Data *copy = elf_newdata(to);

		if (!copy)
			return -1;
		*copy = *d; /* the bytes stay the source's until elf_update() writes them */
	}
	return gelf_update_shdr(to, &sh) ? 0 : -1;
}

int hg_elf_write_inflated(Elf *src, int out)
{
	size_t n_ph, shstrndx;
	GElf_Ehdr eh;
	int rc = -1;
	Elf *dst;

	if (!gelf_getehdr(src, &eh) || elf_getphdrnum(src, &n_ph) != 0 ||
	    elf_getshdrstrndx(src, &shstrndx) != 0 || shstrndx >= SHN_LORESERVE ||
	    !(dst = elf_begin(out, ELF_C_WRITE, NULL)))
		return -1;
	if (!gelf_newehdr(dst, gelf_getclass(src)) || (n_ph && !gelf_newphdr(dst, n_ph)))
		goto out;
	for (size_t i = 0; i < n_ph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(src, (int)i, &ph) || !gelf_update_phdr(dst, (int)i, &ph))
			goto out;
	}
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(src, scn));) {
		Elf_Scn *to = elf_newscn(dst);

		if (!to || copy_section(scn, to) != 0)
			goto out;
	}
	if (gelf_update_ehdr(dst, &eh) && elf_update(dst, ELF_C_WRITE) >= 0)
		rc = 0;
out:
	elf_end(dst);
	return rc;
}
