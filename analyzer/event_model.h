/*
 * event_model.h - what the trace stream has said so far, so that an event can be written as
 * a reference to it (codecs 3 to 5)
 *
 * A program repeats itself: the same (size, stack) pairs over and over, malloc handing back the
 * address freed last of the same size, frees of what was allocated a moment ago. Writer and
 * reader each keep this model of one file's stream, per process, and update it identically
 * with every ALLOC and FREE packed or unpacked, in file order:
 *
 *   - pairs: each distinct (size, stack id, allocation function) gets the next index;
 *   - per pair, the addresses of its most recent live blocks (HG_MODEL_PAIR_RECENT);
 *   - the most recent live blocks' addresses, each with its pair (HG_MODEL_RECENT of them);
 *   - per chunk size (glibc's: the request plus 8, rounded up to 16, at least 32), the
 *     addresses most recently freed (HG_MODEL_FREED); the last HG_MODEL_ANY_FREED freed
 *     addresses of any size; the end of the highest block and of the last one allocated,
 *     and of the HG_MODEL_ENDS allocated before it; which free the last allocation at a
 *     recent free of any size took.
 * A writer's model, and a reader's of codecs 3 and 4, also map addresses to those recent
 * blocks and frees; a codec-5 reader's needs no map (event_model.c).
 *
 * An ALLOC is then a pair index (or a new pair) and an address code: the position of the
 * address among the freed ones of its chunk size, the top of the heap, the end of the last
 * block, its position among all recent frees, or a literal. Codec 5 adds two near codes: the
 * end of one of the HG_MODEL_ENDS blocks allocated before the last (malloc carving a chunk
 * while other sizes come from elsewhere), and a free next to the one an allocation took last
 * (malloc walking a run of frees, in either direction: +-1 in the order they were freed).
 * A FREE of a recent block is how many allocations came after it (codecs 4 and 5, when under
 * 128), or its pair and its rank among the pair's recent blocks, or (codec 5) its pair and
 * a literal address; any other is a literal address. A STACK shares its outermost frames
 * with the previous STACK of its process. A PROCESS or EXIT record of a process forgets its
 * model.
 */
#ifndef HG_EVENT_MODEL_H
#define HG_EVENT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define HG_MODEL_RECENT (1u << 16)
#define HG_MODEL_PAIR_RECENT 64u
#define HG_MODEL_FREED 16u
#define HG_MODEL_ANY_FREED 4096u
#define HG_MODEL_MAX_PAIRS (1u << 22) /* a process's allocations of more pairs go raw */
#define HG_MODEL_ENDS 16u
#define HG_MODEL_NEXT_FREED 16u
/* Codec 5: address codes from this one on are far (a position among all recent frees, or a
 * literal), which the block codec writes in a column of their own, as this code (an escape)
 * in the near column and the code less this in the far one. */
#define HG_MODEL_NEAR_CODES (HG_MODEL_FREED + 2 + HG_MODEL_ENDS + HG_MODEL_NEXT_FREED)
#define HG_MODEL_NO_PAIR UINT32_MAX

struct hg_event_model;
struct hg_pid_model;

/* A writer's model, or a reader's of any codec. */
struct hg_event_model *hg_event_model_new(void);
/* A reader's of codec 5 alone, which keeps less (event_model.c says why). */
struct hg_event_model *hg_event_model_new_reader(void);
/* Whether m can unpack blocks of that codec. */
int hg_event_model_reads(const struct hg_event_model *m, unsigned codec);
void hg_event_model_free(struct hg_event_model *m);

/* The model of process pid, made on first use. */
struct hg_pid_model *hg_model_of(struct hg_event_model *m, uint32_t pid);

/* Forget pid's model (its process started afresh or ended). */
void hg_model_forget(struct hg_event_model *m, uint32_t pid);

/* ALLOC, writer side: the pair's index; *is_new when this call made it (write it in full);
 * HG_MODEL_NO_PAIR when it would be new and the process has HG_MODEL_MAX_PAIRS already. */
uint32_t hg_model_pair(struct hg_pid_model *pm, uint64_t size, uint32_t stack_id, uint8_t fn,
		       int *is_new);

/* ALLOC, reader side: a new pair gets the next index (HG_MODEL_NO_PAIR past
 * HG_MODEL_MAX_PAIRS); a known one is looked up (-1 for an index never given). */
uint32_t hg_model_pair_add(struct hg_pid_model *pm, uint64_t size, uint32_t stack_id,
			   uint8_t fn);
int hg_model_pair_get(const struct hg_pid_model *pm, uint32_t idx, uint64_t *size,
		      uint32_t *stack_id, uint8_t *fn);

/* ALLOC address code of a block of codec `codec` (3, 4 or 5): writer side, then reader side
 * (-1: a code that cannot be). Both note which free a reference to one was. */
uint64_t hg_model_addr_code(struct hg_pid_model *pm, uint64_t addr, uint32_t pair,
			    unsigned codec);
int hg_model_addr_decode(struct hg_pid_model *pm, uint64_t code, uint32_t pair, unsigned codec,
			 uint64_t *addr);

/*
 * After an ALLOC was packed or unpacked: update the model with it. code: its address code.
 * The code says whether the address is among its chunk size's recent frees, and where, since
 * the writer looks there first (a code below HG_MODEL_FREED is that position, any other says
 * it is not there): no search. HG_MODEL_NOT_FREED for an address known not to be there.
 */
#define HG_MODEL_NOT_FREED UINT64_MAX
void hg_model_note_alloc(struct hg_pid_model *pm, uint64_t addr, uint32_t pair, uint64_t code);

/*
 * FREE, writer side: 0 unless addr is one of the process's last HG_MODEL_RECENT allocations and
 * still live; then 1 with *age, how many of its allocations came after that one, its *pair,
 * and its *rank among the pair's recent blocks (UINT32_MAX when it is not one of them).
 * Reader side: the address at (pair, rank), or of that age (and its pair); -1 when there is
 * none.
 */
int hg_model_free_ref(const struct hg_pid_model *pm, uint64_t addr, uint64_t *age,
		      uint32_t *pair, uint32_t *rank);
int hg_model_free_deref(const struct hg_pid_model *pm, uint32_t pair, uint32_t rank,
			uint64_t *addr);
int hg_model_free_unage(const struct hg_pid_model *pm, uint64_t age, uint64_t *addr,
			uint32_t *pair);

/* The writer will soon pack this ALLOC, or a FREE of addr: ask for the memory it will read. */
struct hg_rec_alloc;
void hg_model_prefetch(const struct hg_pid_model *pm, const struct hg_rec_alloc *a);
void hg_model_prefetch_free(const struct hg_pid_model *pm, uint64_t addr);
/* Reader side: a pair index is coming; ask for its entry (an index not given yet is left). */
void hg_model_prefetch_pair_idx(const struct hg_pid_model *pm, uint64_t idx);

/* After a FREE was packed or unpacked: update the model with it. pair: a reader's without a
 * map says which pair's recent live block it freed (a reference to one), or HG_MODEL_NO_PAIR;
 * a model with the map finds out itself. */
void hg_model_note_free(struct hg_pid_model *pm, uint64_t addr, uint32_t pair);

/* STACK records: the previous one of the process (its frames stay valid until the next
 * hg_model_note_stack), to share its outermost frames; both sides note each one. */
const uint64_t *hg_model_last_stack(const struct hg_pid_model *pm, uint32_t *n_frames,
				    uint32_t *stack_id);
void hg_model_note_stack(struct hg_pid_model *pm, uint32_t stack_id, const uint64_t *ip,
			 uint32_t n_frames);

/* The address of the process's last FREE: a literal FREE is written as a delta from it. */
uint64_t hg_model_last_free(const struct hg_pid_model *pm);

#endif /* HG_EVENT_MODEL_H */
