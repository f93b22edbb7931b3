/*
 * names.h - C++ function names short enough to read in a text stack
 *
 * A demangled C++ frame spells out every template argument: an allocation through
 * std::make_shared names its allocator four times over, in lines of hundreds of characters.
 * Text output shows each template argument list of more than HG_NAME_ARGS_MAX characters as
 * "<...>" (after shortening the lists inside it), so that
 *   std::__shared_count<(__gnu_cxx::_Lock_policy)2>::__shared_count<OutC*>(OutC*)
 * reads
 *   std::__shared_count<...>::__shared_count<OutC*>(OutC*)
 * JSON, SARIF and suppression matching always use the full name; `--full-names` keeps it in
 * text too.
 */
#ifndef HG_NAMES_H
#define HG_NAMES_H

#include <stddef.h>

#define HG_NAME_ARGS_MAX 20
#define HG_NAME_TEXT_MAX 4096 /* a buffer for hg_name_text: longer names stay whole */

/* The option every command that prints text stacks takes. */
#define HG_OPT_FULL_NAMES 0x4e00
#define HG_FULL_NAMES_LONGOPT { "full-names", no_argument, NULL, HG_OPT_FULL_NAMES }

/* Whether text output prints full names (0: shortened, the default). */
void hg_names_set_full(int full);

/*
 * name as text output prints it: shortened into buf (cap bytes), or name itself when nothing
 * is to be shortened, full names were asked for, the result would not fit, or name is not
 * one whose brackets balance (left as it is rather than cut wrong). NULL stays NULL.
 */
const char *hg_name_text(const char *name, char *buf, size_t cap);

#endif /* HG_NAMES_H */
