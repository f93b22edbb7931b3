/*
 * hg_format.h - the contract between the shim and the analyzer: ring layout, records, trace file
 *
 * Three things are defined here, and nothing else:
 *
 *   1. Records. Every event the shim produces is a record: an 8-byte header (type, flags, size)
 *      followed by a fixed body and, for some types, a variable tail. Records are 8-byte aligned
 *      and their size is a multiple of 8. The same bytes travel through the ring and land in the
 *      trace file unchanged, so there is exactly one encoder (the shim) and one decoder.
 *
 *   2. The shared-memory ring. `heapgraph record` creates a file in /dev/shm holding one
 *      hg_ring_header followed by n_slots slot headers and n_slots data areas. Each producing
 *      thread owns one slot (single producer, single consumer), so the hot path takes no lock and
 *      does no atomic read-modify-write: it copies the record and publishes it with one release
 *      store of `head`. A dead producer can at worst leave its own slot idle; it can never stall
 *      the collector, which drains every slot independently.
 *
 *   3. The trace file: a 64-byte file header, with a CRC-32C of itself, followed by blocks. A
 *      block holds the records that one thread (pid, tid) published, optionally
 *      zstd-compressed, with a CRC-32C of the stored bytes. A reader refuses a damaged file
 *      header, stops at the first damaged block and keeps everything before it.
 *
 * Ordering: records of one thread are in program order. Across threads the analyzer merges by
 * t_ns. The shim takes an allocation's timestamp after the real allocator returns and a free's
 * timestamp before the real free runs, so when one thread frees an address and another thread is
 * then handed the same address, the free's t_ns is never later than the allocation's. At equal
 * t_ns, frees sort first.
 *
 * Clock: every time on a ring and in a trace ("CLOCK_MONOTONIC" below) is read from the ring's
 * clock (hg_ring_header.clock, hg_clock.h): CLOCK_MONOTONIC itself, or where the kernel keeps
 * time with the TSC, the TSC scaled to nanoseconds from one moment of CLOCK_MONOTONIC, which
 * keeps its order and its rate to about ten parts per million.
 *
 * Version policy: removing a field, changing a size or offset, or giving a field a new meaning
 * bumps HG_FORMAT_VERSION. Appending a new record type or a field at the end of a record's tail
 * does not: readers skip record types they do not know (their size is in the header) and ignore
 * bytes past the fields they know. HG_RING_VERSION follows the same rule for the ring layout.
 *
 * All integers are little-endian (the only byte order the shim runs on today).
 */
#ifndef HG_FORMAT_H
#define HG_FORMAT_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------------------------ */
/* 1. Records                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * Record header, at the start of every record.
 *
 *   OFFSET SIZE MEANING
 *   0      2    type (enum hg_rec_type)
 *   2      2    flags, per type (zero where unused)
 *   4      4    size_bytes: whole record including this header; multiple of 8, >= 8
 */
struct hg_rec {
	uint16_t type;       /* enum hg_rec_type */
	uint16_t flags;      /* per-type flags, 0 where unused */
	uint32_t size_bytes; /* header + body + tail, multiple of 8 */
};

enum hg_rec_type {
	HG_REC_ALLOC = 1,    /* a block was handed out */
	HG_REC_FREE = 2,     /* a block was given back */
	/* 3 is reserved (an early draft's realloc record; realloc is a FREE plus an ALLOC). */
	HG_REC_STACK = 4,    /* defines a stack id: the list of return addresses */
	HG_REC_MODULE = 5,   /* a module (executable or shared object) is mapped */
	HG_REC_UNMODULE = 6, /* a module was unmapped (dlclose) */
	HG_REC_PROCESS = 7,  /* a process image starts: fresh start, fork child or exec */
	HG_REC_EXIT = 8,     /* a process ended and how */
	HG_REC_LOSS = 9,     /* events that could not be recorded, and why */
	HG_REC_ORIGIN = 10,  /* sets pid/tid for the records after it in the same block */
	HG_REC_END = 11,     /* the writer vouches that the file is complete up to here */
	HG_REC_SNAPSHOT = 12,/* a heap snapshot begins: the world is stopped */
	HG_REC_REGION = 13,  /* a memory region the snapshot scanned */
	HG_REC_WORDS = 14,   /* (where, value) pairs: words that may point into the heap */
	HG_REC_SNAPSHOT_END = 15, /* the snapshot is complete */
	HG_REC_RSS = 16,     /* the collector sampled a process's resident set */
	HG_REC_MALLINFO = 17,/* the shim sampled glibc's mallinfo2() */
	HG_REC_MMAP = 18,    /* the program mapped anonymous memory itself (not through malloc) */
	HG_REC_MUNMAP = 19,  /* the program unmapped a range */
	HG_REC_MREMAP = 20,  /* the program moved, grew or shrank a mapping */
	HG_REC_MPROTECT = 21,/* the program changed a range's protection */
	/* 22 is kept for records of the shim. */
	HG_REC_HORIZON = 23, /* the collector vouches that earlier events are all in the file */
	HG_REC_FORK = 24,    /* the parent's side of a fork: the moment the child's heap copies */
	HG_REC_TRACER = 25,  /* the shim sampled its own memory in the process */
	HG_REC_TYPE_MAX = 26
};

/* Which entry point produced an allocation (hg_rec_alloc.fn). */
enum hg_alloc_fn {
	HG_FN_MALLOC = 0,
	HG_FN_CALLOC = 1,
	HG_FN_REALLOC = 2,
	HG_FN_REALLOCARRAY = 3,
	HG_FN_POSIX_MEMALIGN = 4,
	HG_FN_ALIGNED_ALLOC = 5,
	HG_FN_MEMALIGN = 6,
	HG_FN_VALLOC = 7,
	HG_FN_PVALLOC = 8,
	HG_FN_MAX = 9
};

/*
 * HG_REC_ALLOC, 40 bytes.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns: CLOCK_MONOTONIC, taken after the real allocator returned and the
 *                 stack was captured
 *   16     8    addr: the pointer handed to the program (never 0)
 *   24     8    size_bytes: the size the program asked for (n * size for calloc)
 *   32     4    stack_id: refers to an HG_REC_STACK of this process or of its fork ancestors
 *   36     1    fn: enum hg_alloc_fn
 *   37     3    zero
 */
struct hg_rec_alloc {
	struct hg_rec hdr;
	uint64_t t_ns;       /* CLOCK_MONOTONIC after the real call */
	uint64_t addr;       /* returned pointer, != 0 */
	uint64_t size_bytes; /* requested size */
	uint32_t stack_id;   /* >= 1; 0 means "no stack captured" */
	uint8_t fn;          /* enum hg_alloc_fn */
	uint8_t pad[3];      /* zero */
};

/*
 * HG_REC_FREE, 24 bytes. Written only for non-NULL pointers.
 *
 * realloc(p, n) that succeeds is written as a FREE of p, timestamped before the call, followed
 * by an ALLOC with fn HG_FN_REALLOC, timestamped after it (also when the block did not move).
 * realloc(p, 0) that frees is a FREE alone; realloc(NULL, n) an ALLOC alone.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns: CLOCK_MONOTONIC, taken before the real free ran
 *   16     8    addr
 */
struct hg_rec_free {
	struct hg_rec hdr;
	uint64_t t_ns; /* CLOCK_MONOTONIC before the real call */
	uint64_t addr; /* pointer given back, != 0 */
};

/*
 * HG_REC_STACK, 16 + 8 * n_frames bytes. Each distinct call stack is written once per process;
 * ids are dense, start at 1, and a fork child inherits its parent's ids defined before the fork.
 * A record that uses an id may reach the trace before the STACK record defining it (they can come
 * from different threads); readers resolve ids once the whole trace is read.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      4    stack_id
 *   12     4    n_frames (<= HG_MAX_FRAMES)
 *   16     8*n  return addresses, innermost first; the caller of the allocation function first
 */
struct hg_rec_stack {
	struct hg_rec hdr;
	uint32_t stack_id;
	uint32_t n_frames;
	uint64_t ip[]; /* innermost first, absolute addresses in this process */
};

#define HG_MAX_FRAMES 256
#define HG_DEFAULT_FRAMES 64

/*
 * HG_REC_MODULE: one loaded ELF object. Written for every module present when a process image
 * starts, and for each module that dlopen() adds.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns
 *   16     8    load_bias: add to an ELF virtual address to get the runtime address
 *   24     4    n_segments: PT_LOAD segments that follow
 *   28     2    build_id_bytes (0 when the module has no NT_GNU_BUILD_ID note)
 *   30     2    path_bytes, including the terminating NUL
 *   32     24*n segments (struct hg_segment)
 *   ..     ..   build id bytes, then the path, then zero padding to a multiple of 8
 *
 * flags: HG_MODULE_MAIN marks the main executable.
 */
struct hg_segment {
	uint64_t vaddr;     /* p_vaddr: ELF virtual address of the segment */
	uint64_t memsz;     /* p_memsz */
	uint32_t flags;     /* p_flags: PF_X, PF_W, PF_R */
	uint32_t pad;       /* zero */
};

struct hg_rec_module {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint64_t load_bias;
	uint32_t n_segments;
	uint16_t build_id_bytes;
	uint16_t path_bytes;
	/* struct hg_segment seg[n_segments]; uint8_t build_id[]; char path[]; */
};

#define HG_MODULE_MAIN 0x1
#define HG_MAX_SEGMENTS 16
#define HG_MAX_BUILD_ID 64

/*
 * HG_REC_UNMODULE, 24 bytes: the module with this load_bias was unmapped. Frames that point into
 * it before t_ns still symbolize through the earlier HG_REC_MODULE.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns
 *   16     8    load_bias
 */
struct hg_rec_unmodule {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint64_t load_bias;
};

/*
 * HG_REC_PROCESS: a process image begins. A pid may start several images (exec); a new PROCESS
 * record for a pid ends the previous image of that pid.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns
 *   16     4    pid
 *   20     4    ppid
 *   24     4    cmdline_bytes: argv joined with NUL bytes (as in /proc/PID/cmdline)
 *   28     4    exe_bytes: path of the executable including its NUL
 *   32     4    max_frames: stack depth the shim captures
 *   36     4    zero
 *   40     ..   cmdline, then exe path, then zero padding to a multiple of 8
 *
 * flags: HG_PROCESS_FORK (a fork child that inherits the parent's stacks, modules and live
 *        blocks; its t_ns is the moment just before fork() in the parent),
 *        HG_PROCESS_BARE (traced without the launcher: LD_PRELOAD only),
 *        HG_PROCESS_FOREIGN_MALLOC (the process's malloc is not the shim's: the executable,
 *        or a library ahead of the shim in the lookup order, defines its own, which the
 *        program calls instead; its allocations are not seen).
 */
struct hg_rec_process {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint32_t pid;
	uint32_t ppid;
	uint32_t cmdline_bytes;
	uint32_t exe_bytes;
	uint32_t max_frames;
	uint32_t pad;
};

#define HG_PROCESS_FORK 0x1
#define HG_PROCESS_BARE 0x2
#define HG_PROCESS_FOREIGN_MALLOC 0x4

/*
 * HG_REC_FORK, 16 bytes: written by a parent in its own thread just before fork(), with the
 * time its fork child's PROCESS record carries (a barrier). The child publishes that record
 * itself once it runs, which on a busy machine can be after the collector's horizon has
 * passed the time; the parent's record is published at once, so the analyzer can take the
 * copy of the parent's heap at the right moment either way and hand it to the child whose
 * PROCESS record has this ppid and time.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns: the fork's time, as in the child's HG_REC_PROCESS
 */
struct hg_rec_fork {
	struct hg_rec hdr;
	uint64_t t_ns;
};

/*
 * HG_REC_EXIT, 32 bytes.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns
 *   16     4    pid
 *   20     4    status: exit code when source says so, else the terminating signal
 *   24     4    source (enum hg_exit_source)
 *   28     4    reaper_pid: the traced parent whose wait reported this end (sources WAIT and
 *                SIGNAL); 0 when the collector's waitpid did, or the process itself
 *
 * A traced parent that reaps a child (waitpid and the rest of the family) writes the child's
 * end in its own slot, with its pid as reaper_pid: a child killed by a signal has no other
 * record of how it ended unless the collector is its parent. A reader takes such a record only
 * for an image whose ppid is reaper_pid. (reaper_pid took the former zero padding: traces
 * written before it hold 0 there, which reads as the collector's word, as it was.)
 */
enum hg_exit_source {
	HG_EXIT_CALL = 1,   /* the shim saw exit()/_exit()/_Exit() with this code */
	HG_EXIT_WAIT = 2,   /* a waitpid (the collector's, or reaper_pid's): exit with this code */
	HG_EXIT_SIGNAL = 3, /* a waitpid (the collector's, or reaper_pid's): killed by this signal */
	HG_EXIT_GONE = 4    /* the process vanished; nobody could learn how (status 0) */
};

struct hg_rec_exit {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint32_t pid;
	int32_t status; /* code or signal, see source */
	uint32_t source; /* enum hg_exit_source */
	uint32_t reaper_pid;
};

/*
 * HG_REC_LOSS, 40 bytes. Events that were not recorded. Losses are never silent: every path
 * that gives up on an event adds to a counter that ends in one of these records.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns
 *   16     4    pid (0: not attributable to one process)
 *   20     4    reason (enum hg_loss_reason)
 *   24     8    n_events
 *   32     8    n_bytes: ring bytes those events would have taken (0 when unknown)
 */
enum hg_loss_reason {
	HG_LOSS_NO_SLOT = 1,        /* no free ring slot for a new thread */
	HG_LOSS_COLLECTOR_GONE = 2, /* the collector died; the shim stopped recording */
	HG_LOSS_TOO_BIG = 3,        /* a record larger than a whole slot */
	HG_LOSS_DEAD_WRITER = 4     /* a producer died half-way through a record */
};

struct hg_rec_loss {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint32_t pid;
	uint32_t reason; /* enum hg_loss_reason */
	uint64_t n_events;
	uint64_t n_bytes;
};

/*
 * HG_REC_ORIGIN, 16 bytes: records after it in the same block come from (pid, tid) rather than
 * from the block header's. Used by the shared overflow slot.
 */
struct hg_rec_origin {
	struct hg_rec hdr;
	uint32_t pid;
	uint32_t tid;
};

/*
 * HG_REC_END, 16 bytes, alone in a block of pid 0. Written when the collector finishes
 * (flags HG_END_FINAL) and whenever a traced process asked for everything so far to be on disk
 * (a bare-mode program on its way out; flags 0: more blocks may follow). A file whose last block
 * is not an END block was cut short or is still being written, and readers say so.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header (flags: HG_END_FINAL)
 *   8      8    t_ns
 */
struct hg_rec_end {
	struct hg_rec hdr;
	uint64_t t_ns;
};

#define HG_END_FINAL 0x1

/*
 * Heap snapshots. A process writes, from one thread and with every other thread stopped:
 *   SNAPSHOT, then REGION records for every writable private mapping it scanned, then WORDS
 *   records with every aligned word of those regions whose value falls inside a writable
 *   private mapping (a possible heap pointer), then SNAPSHOT_END.
 * The analyzer knows which blocks are live at the SNAPSHOT's t_ns (from the events), so it
 * decides what each word is: an edge between two blocks (its address lies inside a live
 * block), a root (it lies in a root region: module data, a live stack, registers, TLS, memory
 * the program mapped itself), or nothing (free memory inside the allocator's own regions).
 *
 * HG_REC_SNAPSHOT, 32 + label bytes.
 *   OFFSET SIZE MEANING
 *   0      8    header (flags: enum hg_snapshot_reason)
 *   8      8    t_ns: CLOCK_MONOTONIC once the world was stopped
 *   16     4    snapshot_id: 1, 2, ... per process image
 *   20     4    label_bytes, including the NUL
 *   24     4    threads: threads of the process
 *   28     4    threads_stopped: of which the snapshot stopped and read (the rest are
 *                 scanned conservatively: their whole stack mapping is a root)
 *   32     ..   label, zero padding to a multiple of 8
 */
enum hg_snapshot_reason {
	HG_SNAP_EXIT = 1,   /* the process is exiting (after its exit handlers) */
	HG_SNAP_SIGNAL = 2, /* HEAPGRAPH_SNAPSHOT_SIGNAL arrived */
	HG_SNAP_CALL = 3,   /* the program called heapgraph_snapshot() */
	HG_SNAP_PERIODIC = 4 /* the collector asked (record --snapshot-every): the snapshot
				signal carried a time, which the label gives ("every@1.500s") */
};

struct hg_rec_snapshot {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint32_t snapshot_id;
	uint32_t label_bytes;
	uint32_t threads;
	uint32_t threads_stopped;
};

/*
 * HG_REC_REGION, 40 bytes.
 *   OFFSET SIZE MEANING
 *   0      8    header (flags: enum hg_region_kind in the low byte, HG_REGION_GUARD_BELOW)
 *   8      4    snapshot_id
 *   12     4    tid: for HG_REGION_STACK and HG_REGION_REGS, the thread; else 0
 *   16     8    lo: first byte of the mapping
 *   24     8    hi: one past its last byte
 *   32     8    live_lo: for a stopped thread's stack, its stack pointer minus the red zone
 *                 (words below are dead frames and were not scanned); else lo
 */
enum hg_region_kind {
	HG_REGION_DATA = 1,  /* a module's writable segment (.data, .bss) */
	HG_REGION_STACK = 2, /* a thread's stack */
	HG_REGION_REGS = 3,  /* saved registers of stopped threads (the shim's own buffer) */
	HG_REGION_ANON = 4,  /* anonymous memory: malloc's arenas, TLS, the program's own maps */
	HG_REGION_BRK = 5    /* the brk heap */
};

/* The mapping just below this region is inaccessible: a thread stack's guard page, possibly of
 * a thread that died and whose stack glibc keeps for reuse. */
#define HG_REGION_GUARD_BELOW 0x100

struct hg_rec_region {
	struct hg_rec hdr;
	uint32_t snapshot_id;
	uint32_t tid;
	uint64_t lo;
	uint64_t hi;
	uint64_t live_lo;
};

/*
 * HG_REC_WORDS, 16 + 16 * n bytes.
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      4    snapshot_id
 *   12     4    n: pairs that follow (<= HG_WORDS_MAX)
 *   16     16*n (where, value): the address of an aligned word and the word
 */
struct hg_rec_words {
	struct hg_rec hdr;
	uint32_t snapshot_id;
	uint32_t n;
	/* uint64_t pair[n][2]; */
};

#define HG_WORDS_MAX 1024

/*
 * HG_REC_SNAPSHOT_END, 32 bytes.
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      4    snapshot_id
 *   12     4    regions: REGION records written
 *   16     8    words_scanned
 *   24     8    pairs: (where, value) pairs written
 */
struct hg_rec_snapshot_end {
	struct hg_rec hdr;
	uint32_t snapshot_id;
	uint32_t regions;
	uint64_t words_scanned;
	uint64_t pairs;
};

/*
 * HG_REC_RSS, 32 bytes, in pid-0 blocks: the collector read /proc/PID/statm.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns
 *   16     4    pid
 *   20     4    zero
 *   24     8    rss_bytes: resident set size
 */
struct hg_rec_rss {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint32_t pid;
	uint32_t pad;
	uint64_t rss_bytes;
};

/*
 * HG_REC_HORIZON, 16 bytes, in pid-0 blocks: written by the collector after each flush.
 * Every ALLOC, FREE and SNAPSHOT record with t_ns <= horizon_ns of any thread was written
 * before this record, so a reader may apply such events in time order without waiting for more
 * of the file. The collector keeps a margin below the start of its last pass over the ring
 * (records timestamped but not yet published then) and below the time any producer began
 * waiting for room or holds a record back (hg_ring_slot.stall_ns). A record that breaks the
 * promise anyway (a producer preempted for longer than the margin) is applied late, not lost.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    horizon_ns: CLOCK_MONOTONIC
 */
struct hg_rec_horizon {
	struct hg_rec hdr;
	uint64_t horizon_ns;
};

/*
 * HG_REC_MALLINFO, 48 bytes: glibc's own account of its heap, sampled by the shim at each
 * heap snapshot, before the other threads are stopped.
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns
 *   16     8    arena_bytes: non-mmapped memory malloc obtained (mallinfo2 arena)
 *   24     8    mmap_bytes: memory in mmapped chunks (hblkhd)
 *   32     8    free_bytes: free bytes in malloc's chunks (fordblks)
 *   40     8    releasable_bytes: free bytes at the top of the heap (keepcost)
 */
struct hg_rec_mallinfo {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint64_t arena_bytes;
	uint64_t mmap_bytes;
	uint64_t free_bytes;
	uint64_t releasable_bytes;
};

/*
 * HG_REC_TRACER, 32 bytes: what tracing itself adds to the process's resident set, sampled by
 * the shim at each heap snapshot and as the process exits (exit() or the end of main; a process
 * killed by a signal writes none). Both figures are pages present in the process's own page
 * tables (/proc/self/pagemap), so they are the part of its RSS that is ours:
 *
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns
 *   16     8    tables_bytes: the shim's tables (stack table, unwind rules, per-thread walk
 *                 state, snapshot buffers: every mapping of its arena)
 *   24     8    ring_bytes: the pages of the shared ring this process has touched (the slots
 *                 its threads wrote through, the header); HG_TRACER_UNKNOWN when pagemap
 *                 could not be read (tables_bytes then counts with mincore)
 */
#define HG_TRACER_UNKNOWN UINT64_MAX
struct hg_rec_tracer {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint64_t tables_bytes;
	uint64_t ring_bytes;
};

/*
 * The program's own anonymous mappings: the "mmap" domain, beside malloc's heap. The shim
 * interposes mmap, mmap64, munmap and mremap, so it sees the calls the program and its
 * libraries make through the dynamic linker (an interpreter's object arenas, a JIT's code
 * cache, a hand-written pool), and not glibc's own (malloc's heaps and large blocks, thread
 * stacks, the loader), which call the kernel from inside the C library. Calls the shim makes
 * itself, or that run while the shim is busy (libunwind's caches), are not recorded.
 *
 * Only anonymous mappings start a range (MMAP records are written for MAP_ANONYMOUS only);
 * every successful munmap, mremap and mprotect is written, and the analyzer applies it to the
 * ranges it tracks: a munmap may remove part of a mapping (trim it or split it in two), an
 * mremap may move, grow or shrink one, an mmap over mapped addresses (MAP_FIXED) replaces what
 * was there, and a range with PROT_NONE is reserved address space, not memory, until an
 * mprotect (or an mmap over it) makes it accessible: runtimes reserve gigabytes that way and
 * commit a little at a time. Lengths are as the program passed them; the analyzer rounds them
 * up to whole pages.
 *
 * HG_REC_MMAP, 48 bytes.
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns: CLOCK_MONOTONIC, taken after the real mmap returned
 *   16     8    addr: the mapping's first byte (never MAP_FAILED)
 *   24     8    length_bytes: the length the program asked for
 *   32     4    stack_id: the caller's stack, as for HG_REC_ALLOC (0: none captured)
 *   36     4    prot: PROT_* as passed
 *   40     4    map_flags: MAP_* as passed (MAP_ANONYMOUS is always set)
 *   44     4    zero
 */
struct hg_rec_mmap {
	struct hg_rec hdr;
	uint64_t t_ns;         /* CLOCK_MONOTONIC after the real call */
	uint64_t addr;         /* returned address */
	uint64_t length_bytes; /* requested length */
	uint32_t stack_id;     /* >= 1; 0 means "no stack captured" */
	uint32_t prot;         /* PROT_* */
	uint32_t map_flags;    /* MAP_*, MAP_ANONYMOUS included */
	uint32_t pad;          /* zero */
};

/*
 * HG_REC_MUNMAP, 32 bytes: a successful munmap. Stamped before the real call, like a FREE, so
 * that a range unmapped by one thread and mapped again by another is seen unmapped first.
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns: CLOCK_MONOTONIC, taken before the real munmap ran
 *   16     8    addr
 *   24     8    length_bytes
 */
struct hg_rec_munmap {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint64_t addr;
	uint64_t length_bytes;
};

/*
 * HG_REC_MREMAP, 56 bytes: a successful mremap. The old range is gone and the new one mapped
 * (the same address when it grew or shrank in place); the new range is charged to the stack of
 * the mremap call, as a realloc'd block is charged to its realloc. An old_bytes of 0 (a second
 * mapping of shared pages) removes nothing.
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns: CLOCK_MONOTONIC, taken after the real mremap returned
 *   16     8    old_addr
 *   24     8    old_bytes
 *   32     8    new_addr
 *   40     8    new_bytes
 *   48     4    stack_id: the caller's stack (0: none captured)
 *   52     4    mremap_flags: MREMAP_* as passed
 */
struct hg_rec_mremap {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint64_t old_addr;
	uint64_t old_bytes;
	uint64_t new_addr;
	uint64_t new_bytes;
	uint32_t stack_id;
	uint32_t mremap_flags;
};

/*
 * HG_REC_MPROTECT, 40 bytes: a successful mprotect (no stack: it maps nothing new).
 *   OFFSET SIZE MEANING
 *   0      8    header
 *   8      8    t_ns: CLOCK_MONOTONIC, taken after the real mprotect returned
 *   16     8    addr
 *   24     8    length_bytes
 *   32     4    prot: PROT_* as passed
 *   36     4    zero
 */
struct hg_rec_mprotect {
	struct hg_rec hdr;
	uint64_t t_ns;
	uint64_t addr;
	uint64_t length_bytes;
	uint32_t prot;
	uint32_t pad;
};

_Static_assert(sizeof(struct hg_rec) == 8, "record header is 8 bytes");
_Static_assert(sizeof(struct hg_rec_mprotect) == 40, "mprotect record is 40 bytes");
_Static_assert(sizeof(struct hg_rec_mmap) == 48, "mmap record is 48 bytes");
_Static_assert(offsetof(struct hg_rec_mmap, stack_id) == 32, "mmap.stack_id at 32");
_Static_assert(sizeof(struct hg_rec_munmap) == 32, "munmap record is 32 bytes");
_Static_assert(sizeof(struct hg_rec_mremap) == 56, "mremap record is 56 bytes");
_Static_assert(offsetof(struct hg_rec_mremap, stack_id) == 48, "mremap.stack_id at 48");
_Static_assert(sizeof(struct hg_rec_mallinfo) == 48, "mallinfo record is 48 bytes");
_Static_assert(sizeof(struct hg_rec_tracer) == 32, "tracer record is 32 bytes");
_Static_assert(sizeof(struct hg_rec_rss) == 32, "rss record is 32 bytes");
_Static_assert(sizeof(struct hg_rec_horizon) == 16, "horizon record is 16 bytes");
_Static_assert(sizeof(struct hg_rec_fork) == 16, "fork record is 16 bytes");
_Static_assert(sizeof(struct hg_rec_end) == 16, "end record is 16 bytes");
_Static_assert(sizeof(struct hg_rec_snapshot) == 32, "snapshot record head is 32 bytes");
_Static_assert(sizeof(struct hg_rec_region) == 40, "region record is 40 bytes");
_Static_assert(sizeof(struct hg_rec_words) == 16, "words record head is 16 bytes");
_Static_assert(sizeof(struct hg_rec_snapshot_end) == 32, "snapshot end record is 32 bytes");
_Static_assert(sizeof(struct hg_rec_alloc) == 40, "alloc record is 40 bytes");
_Static_assert(offsetof(struct hg_rec_alloc, stack_id) == 32, "alloc.stack_id at 32");
_Static_assert(sizeof(struct hg_rec_free) == 24, "free record is 24 bytes");
/* The events whose time the collector rounds all keep it right after the header. */
_Static_assert(offsetof(struct hg_rec_alloc, t_ns) == 8 &&
		       offsetof(struct hg_rec_free, t_ns) == 8 &&
		       offsetof(struct hg_rec_mmap, t_ns) == 8 &&
		       offsetof(struct hg_rec_munmap, t_ns) == 8 &&
		       offsetof(struct hg_rec_mremap, t_ns) == 8 &&
		       offsetof(struct hg_rec_mprotect, t_ns) == 8,
	       "event times at offset 8");
_Static_assert(sizeof(struct hg_rec_stack) == 16, "stack record head is 16 bytes");
_Static_assert(sizeof(struct hg_segment) == 24, "segment is 24 bytes");
_Static_assert(sizeof(struct hg_rec_module) == 32, "module record head is 32 bytes");
_Static_assert(sizeof(struct hg_rec_unmodule) == 24, "unmodule record is 24 bytes");
_Static_assert(sizeof(struct hg_rec_process) == 40, "process record head is 40 bytes");
_Static_assert(sizeof(struct hg_rec_exit) == 32, "exit record is 32 bytes");
_Static_assert(sizeof(struct hg_rec_loss) == 40, "loss record is 40 bytes");
_Static_assert(sizeof(struct hg_rec_origin) == 16, "origin record is 16 bytes");

/* Round a byte count up to the record alignment. */
static inline uint32_t hg_rec_align(uint32_t n)
{
	return (n + 7u) & ~7u;
}

/* ------------------------------------------------------------------------------------------ */
/* 2. The shared-memory ring                                                                  */
/* ------------------------------------------------------------------------------------------ */

/*
 * Layout of the ring file (all offsets from the start of the mapping):
 *
 *   OFFSET                     SIZE                   MEANING
 *   0                          4096                   struct hg_ring_header
 *   4096                       128 * n_slots          struct hg_ring_slot, one per slot
 *   data_offset                slot_bytes * n_slots   slot data areas, slot i at
 *                                                     data_offset + i * slot_bytes
 *
 * Slot life cycle (state):
 *   FREE -> CLAIMING   a producer thread claims it with a CAS, sets pid/tid,
 *   CLAIMING -> OWNED  then publishes them with a release store.
 *   OWNED -> RELEASED  the producer is done (thread exit, process exit; at exec the threads
 *                      exec ended, while the exec'ing thread's slot stays OWNED by the same
 *                      pid and tid and the new image's records follow the old one's in it).
 *   RELEASED -> FREE   the collector drained it; it zeroes head and tail first.
 *   OWNED -> FREE      the collector found the owning thread dead (tgkill signal 0 says so,
 *                      or it is a zombie) and drained it.
 * The last slot is the shared overflow slot: always OWNED by nobody, written under `lock` by
 * threads that found no free slot, each record preceded by an HG_REC_ORIGIN. `lock` holds the
 * holder's tid, so that a waiter can take it over from a holder that died. A heap snapshot
 * with no slot of its own holds the lock from before it stops its process's threads until its
 * last record. The overflow slot's stall_ns is the earliest time of such a snapshot or of a
 * writer that waited for the lock with a record in hand: producers only lower it (0 counts as
 * none), and the collector clears it once the lock has stayed free for 2 ms (version 7), or
 * frees the lock of a holder whose tid is gone.
 *
 * Within a slot, head and tail count bytes since the slot was claimed and only grow; the byte at
 * count c lives at data[c & (window - 1)], where the slot's window is a power of two between
 * HG_RING_FIRST_WINDOW and slot_bytes (0: slot_bytes, as in the overflow slot). Producer: write
 * bytes, then store-release head. Collector: load-acquire head, then read window, copy
 * [tail, head), then store-release tail. The producer waits (back-pressure) while
 * head + n - tail > window.
 *
 * Windows (version 4; the first window 16 KiB since version 6, 64 KiB before): a slot's producer
 * writes through only the first window bytes of its data area, so that a thread that writes
 * little, or that the collector keeps up with, does not make the whole slot resident in its
 * process. Its claimer sets the window to HG_RING_FIRST_WINDOW (or slot_bytes if smaller). A
 * producer that keeps having to wait for room (the rule is the shim's: preload/ring.c,
 * make_room; not while it holds the horizon for a burst such as a snapshot) instead waits until
 * the slot is empty (tail == head), then doubles the window (up to slot_bytes) before it writes
 * on. Every byte in [tail, head) is then written under the window the collector reads after its
 * acquire of head: the window changes only while the slot is empty, and the collector's tail
 * lags head until its copy is done.
 */
#define HG_RING_MAGIC 0x31474e4952474855ull /* "UHGRING1" */
/* 2: barriers; 3: the clock; 4: slot windows; 5: wake-ups; 6: a first window of 16 KiB, not
 * 64 KiB (a version-5 reader takes a 16 or 32 KiB window for none, the whole slot, and would
 * read the slot's bytes from the wrong places); 7: the overflow slot's stall_ns is cleared by
 * the collector, not by the writer that held the lock (a version-6 collector never clears it,
 * and its horizon would stay at the first overflow writer's time for the rest of the run) */
#define HG_RING_VERSION 7
#define HG_RING_BARRIERS 32u
#define HG_RING_HEADER_BYTES 4096u
#define HG_RING_SLOT_HDR_BYTES 128u
/* A ring's file: /dev/shm/ HG_RING_NAME_PREFIX <maker's pid> "." <CLOCK_MONOTONIC ns when made>
 * HG_RING_NAME_SUFFIX, made by `record` or by a bare-mode shim (analyzer/ring_sweep.c reads it). */
#define HG_RING_DIR "/dev/shm"
#define HG_RING_NAME_PREFIX "heapgraph."
#define HG_RING_NAME_SUFFIX ".ring"

#define HG_RING_DEFAULT_SLOTS 64u
#define HG_RING_DEFAULT_SLOT_BYTES (1u << 20)
#define HG_RING_MIN_SLOT_BYTES (1u << 16)
/* A claimed slot's window (above): enough for what a program that writes little, such as gcc's
 * driver, writes between two passes of the collector. 64 KiB before version 6. */
#define HG_RING_FIRST_WINDOW (1u << 14)
#define HG_RING_MAX_SLOTS 4096u

enum hg_slot_state {
	HG_SLOT_FREE = 0,
	HG_SLOT_OWNED = 1,
	HG_SLOT_RELEASED = 2,
	HG_SLOT_CLAIMING = 3 /* a producer won the CAS and is writing pid/tid: leave it alone */
};

/*
 * Ring header. Fields marked "atomic" are only accessed with __atomic builtins.
 *
 *   OFFSET SIZE MEANING
 *   0      8    magic HG_RING_MAGIC
 *   8      4    version HG_RING_VERSION
 *   12     4    n_slots (last one is the shared overflow slot)
 *   16     4    slot_bytes (power of two)
 *   20     4    collector_pid
 *   24     8    data_offset
 *   32     4    flags (atomic): HG_RING_F_*
 *   36     4    max_frames: stack depth requested by `record --depth`
 *   40     8    lost_events (atomic): events no slot could take
 *   48     8    lost_bytes (atomic)
 *   56     8    collector_heartbeat_ns (atomic): CLOCK_MONOTONIC of the last drain pass
 *   64     8    next_hint (atomic): where producers start looking for a free slot
 *   72     8    sync_request (atomic): a producer asks for everything so far to be on disk
 *   80     8    sync_done (atomic): the collector has written all records published before
 *                 sync_request reached this value
 *   88     8    barrier_count (atomic): barriers published so far (version 2)
 *   96     256  barrier_ns[HG_RING_BARRIERS] (atomic): CLOCK_MONOTONIC of barrier k in entry
 *                 k % HG_RING_BARRIERS (version 2)
 *   352    8    barriers_in_flight (atomic): producers between announcing a barrier and
 *                 storing its time (version 2)
 *   360    24   clock: the clock every time on the ring is read from (version 3; written
 *                 before the magic, never changed): TSC reading tsc_base was ns_base
 *                 nanoseconds of CLOCK_MONOTONIC, and a tick is mult / 2^32 nanoseconds.
 *                 mult 0: every time is CLOCK_MONOTONIC itself. See hg_clock.h.
 *   384    4    collector_napping (atomic): 1 while the collector sleeps between passes (5)
 *   388    4    wake_seq (atomic futex word): producers that began to wait for room (5)
 *   392    ..   zero up to 4096
 *
 * Wake-ups (version 5). Each side sleeps on a futex the other wakes, with a short timeout as a
 * fallback (never more than 2 ms). A producer that finds no room stores its slot's stall_ns, adds
 * one to wake_seq and, if collector_napping, wakes the futex on wake_seq; it then sleeps on the
 * futex at the low 32 bits of its slot's tail (hg_ring_tail_word; 50 us, later 500 us at a time).
 * A producer asking for a sync wakes the collector too. The collector reads wake_seq before each
 * pass and sleeps between passes on that futex with the value it read, so a wait that began during
 * the pass cuts its sleep short; after storing a slot's tail it reads stall_ns (sequentially
 * consistent, like the producer's store of stall_ns and its next read of tail) and wakes the
 * tail's futex if it is set (and always for the overflow slot, whose stall_ns stays set after
 * its waiters are through, until the collector clears it).
 *
 * A barrier is a time the analyzer compares other events against exactly: a process image's
 * start (its PROCESS record's t_ns, for a fork child the time the parent stamped before
 * fork()) and a heap snapshot's t_ns. The collector rounds event times down to its
 * time resolution (`record --time-resolution`), but never across a barrier: an event stamped
 * after one keeps a time after it. A producer announces a barrier (barriers_in_flight), then
 * takes its time, counts it, stores it and withdraws the announcement, all sequentially
 * consistent. The collector reads the count, the in-flight number and every entry after its
 * load-acquire of a slot's head: it then knows every barrier stamped before the records it
 * copies, unless one is in flight or was overwritten unread; in that case it keeps exact every
 * time up to the moment it noticed, and makes that moment a barrier itself.
 */
struct hg_ring_clock {
	uint64_t tsc_base;
	uint64_t ns_base;
	uint64_t mult; /* nanoseconds per tick << 32; 0: CLOCK_MONOTONIC */
};

struct hg_ring_header {
	uint64_t magic;
	uint32_t version;
	uint32_t n_slots;
	uint32_t slot_bytes;
	uint32_t collector_pid;
	uint64_t data_offset;
	uint32_t flags;      /* atomic */
	uint32_t max_frames; /* 0: shim default */
	uint64_t lost_events;            /* atomic */
	uint64_t lost_bytes;             /* atomic */
	uint64_t collector_heartbeat_ns; /* atomic */
	uint64_t next_hint;              /* atomic */
	uint64_t sync_request;           /* atomic */
	uint64_t sync_done;              /* atomic */
	uint64_t barrier_count;          /* atomic */
	uint64_t barrier_ns[HG_RING_BARRIERS]; /* atomic */
	uint64_t barriers_in_flight;     /* atomic */
	struct hg_ring_clock clock;
	uint32_t collector_napping;      /* atomic */
	uint32_t wake_seq;               /* atomic */
};

#define HG_RING_F_SHUTDOWN 0x1 /* collector stopped draining: producers must not wait */

/*
 * Slot header, two cache lines so that the producer's head and the collector's tail never share
 * one.
 *
 *   OFFSET SIZE MEANING
 *   0      4    state (atomic, enum hg_slot_state)
 *   4      4    pid of the owner
 *   8      4    tid of the owner
 *   12     4    lock (atomic; overflow slot only): 0 free, else the holder's tid
 *   16     8    head (atomic): bytes published by the producer
 *   24     8    lost_events (atomic): events this producer gave up on
 *   32     8    stall_ns (atomic): CLOCK_MONOTONIC when the producer began to wait for room
 *                 with a timestamped record in hand, or the time of a record it stamped
 *                 before a long call (hg_ring_hold), 0 otherwise; in the overflow slot,
 *                 the earliest time of a waiting writer or a snapshot (above). The
 *                 collector keeps HG_REC_HORIZON below it
 *   40     4    window (atomic): the part of the data area in use, a power of two from
 *                 HG_RING_FIRST_WINDOW to slot_bytes, see above (version 4; from 16 KiB
 *                 since version 6)
 *   44     20   zero
 *   64     8    tail (atomic): bytes consumed by the collector; its low 32 bits are the futex
 *                 a waiting producer sleeps on (version 5)
 *   72     56   zero
 */
struct hg_ring_slot {
	uint32_t state;
	uint32_t pid;
	uint32_t tid;
	uint32_t lock;
	uint64_t head;
	uint64_t lost_events;
	uint64_t stall_ns;   /* atomic */
	uint32_t window;     /* atomic */
	uint8_t pad0[20];
	uint64_t tail;
	uint8_t pad1[56];
};

_Static_assert(sizeof(struct hg_ring_header) == 392, "ring header fields are 392 bytes");
_Static_assert(sizeof(struct hg_ring_slot) == HG_RING_SLOT_HDR_BYTES, "slot header is 128 bytes");
_Static_assert(offsetof(struct hg_ring_slot, tail) == 64, "tail on its own cache line");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the tail's futex is its first word");

/* The futex word of a slot's tail: its low 32 bits, which change with every move of the tail
 * (a slot holds less than 4 GiB). */
static inline uint32_t *hg_ring_tail_word(struct hg_ring_slot *s)
{
	return (uint32_t *)&s->tail;
}

/* Offset of slot i's data area, and the whole file size, for a ring of this shape. */
static inline uint64_t hg_ring_data_offset(uint32_t n_slots)
{
	uint64_t end = HG_RING_HEADER_BYTES + (uint64_t)n_slots * HG_RING_SLOT_HDR_BYTES;
	return (end + 4095u) & ~(uint64_t)4095u;
}

static inline uint64_t hg_ring_file_bytes(uint32_t n_slots, uint32_t slot_bytes)
{
	return hg_ring_data_offset(n_slots) + (uint64_t)n_slots * slot_bytes;
}

/* The window a slot header's field stands for: its own if it is one (a power of two from
 * HG_RING_FIRST_WINDOW to slot_bytes), else the whole slot. */
static inline uint32_t hg_ring_window(const struct hg_ring_header *r, uint32_t window)
{
	if (window < HG_RING_FIRST_WINDOW || window > r->slot_bytes || (window & (window - 1)))
		return r->slot_bytes;
	return window;
}

/*
 * Lay out a fresh ring in zeroed memory of hg_ring_file_bytes(n_slots, slot_bytes) bytes.
 * slot_bytes must be a power of two >= HG_RING_MIN_SLOT_BYTES; n_slots >= 2.
 */
static inline void hg_ring_header_init(struct hg_ring_header *r, uint32_t n_slots,
				       uint32_t slot_bytes, uint32_t collector_pid,
				       uint32_t max_frames, const struct hg_ring_clock *clock)
{
	r->version = HG_RING_VERSION;
	r->n_slots = n_slots;
	r->slot_bytes = slot_bytes;
	r->collector_pid = collector_pid;
	r->data_offset = hg_ring_data_offset(n_slots);
	r->max_frames = max_frames;
	if (clock)
		r->clock = *clock;
	/* Magic last: a reader that sees it sees a complete header. */
	__atomic_store_n(&r->magic, HG_RING_MAGIC, __ATOMIC_RELEASE);
}

/* Whether a mapping of file_bytes bytes holds a ring this code can use. */
static inline int hg_ring_header_valid(const struct hg_ring_header *r, uint64_t file_bytes)
{
	return file_bytes >= HG_RING_HEADER_BYTES && r->magic == HG_RING_MAGIC &&
	       r->version == HG_RING_VERSION && r->n_slots >= 2 &&
	       r->n_slots <= HG_RING_MAX_SLOTS && r->slot_bytes >= HG_RING_MIN_SLOT_BYTES &&
	       (r->slot_bytes & (r->slot_bytes - 1)) == 0 &&
	       r->data_offset == hg_ring_data_offset(r->n_slots) &&
	       hg_ring_file_bytes(r->n_slots, r->slot_bytes) <= file_bytes;
}

/* Environment variables the shim reads. */
#define HG_ENV_RING "HEAPGRAPH_RING"         /* path of the ring file made by `record` */
/* HEAPGRAPH_RING's value once bare mode failed in an ancestor, which said why: its descendants
 * run untraced, quietly, instead of each failing and saying so again. */
#define HG_RING_OFF "off"
#define HG_ENV_OUTPUT "HEAPGRAPH_OUTPUT"     /* bare mode: trace file to write */
#define HG_ENV_DEPTH "HEAPGRAPH_DEPTH"       /* frames to capture, 1..HG_MAX_FRAMES */
#define HG_ENV_DEBUG "HEAPGRAPH_DEBUG"       /* non-empty: the shim logs to stderr */
#define HG_ENV_BIN "HEAPGRAPH_BIN"           /* bare mode: the heapgraph binary to collect */
#define HG_ENV_LIB "HEAPGRAPH_LIB"           /* the CLI: shim to preload */
#define HG_ENV_SNAPSHOT_SIGNAL "HEAPGRAPH_SNAPSHOT_SIGNAL" /* signal number that snapshots */
#define HG_ENV_SNAPSHOT "HEAPGRAPH_SNAPSHOT" /* "0": no snapshot at exit */
#define HG_ENV_UNWIND "HEAPGRAPH_UNWIND"     /* "libunwind": every stack through libunwind */
#define HG_ENV_CLOCK "HEAPGRAPH_CLOCK"       /* a new ring's clock: "tsc" (default), or
						"monotonic" */

/*
 * `record --snapshot-every`: the collector sends the snapshot signal with sigqueue(3), its
 * value (sival_ptr, 64 bits) HG_SNAPSHOT_EVERY_TAG << 32 | ms, ms being the nominal time of
 * the request since recording began (k * the interval). The shim labels that snapshot
 * "every@S.mmms" with reason HG_SNAP_PERIODIC; any other arrival of the signal is "signal".
 */
#define HG_SNAPSHOT_EVERY_TAG 0x68677365u /* "hgse" */

/* ------------------------------------------------------------------------------------------ */
/* 3. The trace file                                                                          */
/* ------------------------------------------------------------------------------------------ */

/*
 * File header, 64 bytes, at offset 0.
 *
 *   OFFSET SIZE MEANING
 *   0      8    magic "HGTRACE\0"
 *   8      4    version HG_FORMAT_VERSION
 *   12     4    header_bytes (64): where the first block starts
 *   16     8    created_unix_ns: wall clock when recording began
 *   24     8    created_mono_ns: CLOCK_MONOTONIC at the same moment (t_ns origin)
 *   32     4    writer_pid: the collector
 *   36     4    time_resolution_ns: event times (ALLOC, FREE, the mmap family) are rounded
 *                 down to a multiple of this, except just after a barrier (see the ring
 *                 header); 0 or 1: exact
 *   40     4    rss_interval_ms: the collector sampled each traced process's resident set
 *                 (HG_REC_RSS) about this often; HG_RSS_INTERVAL_OFF: not at all; 0: a trace
 *                 written before the field, which does not say
 *   44     4    live_blocks_max: the most blocks one process image had live at once (at the
 *                 collector's count: its allocations less its frees, checked each time it
 *                 drained the process's slot), saturated at 2^32-1; 0: not known (a trace
 *                 whose recording did not finish, one with uncounted events, or written
 *                 before the field)
 *   48     4    live_blocks_pid: the pid of that image
 *   52     8    zero
 *   60     4    header_crc: crc32c of bytes 0..59; 0 in traces written before the field
 *                 (bytes 40..63 were all zero), whose header is read unchecked
 *
 * Before header_crc, a flipped byte in 16..63 changed the time origin or the resolution of
 * every report unnoticed (blocks carry their own CRCs). A reader of this version refuses a
 * header whose header_crc is neither 0 nor the CRC of bytes 0..59: nothing after it could be
 * placed in time. 0 must stay "not written", or every earlier trace would be refused; so a
 * header whose CRC happens to be 0 (once in 2^32) is written with 0 and read unchecked, like
 * an old one. A header longer than 64 bytes (header_bytes) has its CRC here too, over bytes
 * 0..59 only. The field took four bytes of zero padding, which readers ignored, so
 * HG_FORMAT_VERSION stays 1.
 *
 * rss_interval_ms took four more bytes of the padding, for the same reason without a version
 * bump: without it, a process with no RSS record could have been recorded with sampling off or
 * have ended before the first sample, and a reader could not say which. 0 keeps meaning "not
 * written", so "off" has a value of its own (record --rss-interval takes at most 60000 ms).
 *
 * live_blocks_max and live_blocks_pid took eight more, again without a bump: they are a hint,
 * written when the collector finishes (the header is rewritten with its CRC), by which a
 * reader sizes its table of that image's live blocks once instead of doubling it up to there.
 * 0 when some events went uncounted (a thread writing through the ring's overflow slot). The
 * hint can still be wrong for another image of the same pid (an exec), and a header can be
 * crafted: a reader bounds what it spends on it (analyzer/addrmap.c, grown_cap).
 */
#define HG_TRACE_MAGIC "HGTRACE"
#define HG_FORMAT_VERSION 1
#define HG_TRACE_HEADER_BYTES 64u
#define HG_RSS_INTERVAL_OFF 0xffffffffu /* rss_interval_ms: the collector took no samples */

struct hg_trace_header {
	char magic[8];
	uint32_t version;
	uint32_t header_bytes;
	uint64_t created_unix_ns;
	uint64_t created_mono_ns;
	uint32_t writer_pid;
	uint32_t time_resolution_ns;
	uint32_t rss_interval_ms; /* HG_RSS_INTERVAL_OFF: no samples; 0: not written */
	uint32_t live_blocks_max; /* a hint: the most blocks one image had live; 0: not known */
	uint32_t live_blocks_pid; /* the pid of that image */
	uint8_t pad[8];       /* zero */
	uint32_t header_crc;  /* crc32c of bytes 0..59; 0: not written (an older trace) */
};

/*
 * Block header, 32 bytes, followed by stored_bytes of payload and zero padding to a multiple
 * of 8. The payload, once decoded, is raw_bytes of whole records.
 *
 *   OFFSET SIZE MEANING
 *   0      4    magic HG_BLOCK_MAGIC
 *   4      4    codec (enum hg_codec)
 *   8      4    stored_bytes: payload bytes in the file
 *   12     4    raw_bytes: payload bytes after decoding (<= HG_BLOCK_MAX_RAW)
 *   16     4    pid that produced the records (0: the collector itself)
 *   20     4    tid that produced the records
 *   24     4    crc32c of the stored payload
 *   28     4    crc32c of bytes 0..27 of this header
 */
#define HG_BLOCK_MAGIC 0x4b424748u /* "HGBK" */
#define HG_BLOCK_MAX_RAW (4u << 20)

enum hg_codec {
	HG_CODEC_NONE = 0,        /* the records as they are */
	HG_CODEC_ZSTD = 1,        /* one zstd frame of the records */
	HG_CODEC_PACKED_ZSTD = 2, /* one zstd frame of the packed stream (docs/FORMAT.md,
				     "Packing") */
	HG_CODEC_PACKED_STREAM = 3, /* the packed stream, as the next flushed part of the zstd
				       frame that runs through the codec-3 blocks of the file (a
				       block may end it and start the next): decoding a block needs
				       the codec-3 blocks before it */
	HG_CODEC_COLUMN_STREAM = 4, /* the same with the packed fields in columns */
	HG_CODEC_EVENT_COLUMNS = 5  /* the same with more address codes and columns (written
				       now) */
};

/* The window of the codec 3-5 zstd frame: how far back a block may refer. */
#define HG_STREAM_WINDOW_LOG 23

struct hg_block_header {
	uint32_t magic;
	uint32_t codec;
	uint32_t stored_bytes;
	uint32_t raw_bytes;
	uint32_t pid;
	uint32_t tid;
	uint32_t payload_crc;
	uint32_t header_crc;
};

_Static_assert(sizeof(struct hg_trace_header) == HG_TRACE_HEADER_BYTES, "file header is 64 bytes");
_Static_assert(offsetof(struct hg_trace_header, created_unix_ns) == 16, "file header layout");
_Static_assert(offsetof(struct hg_trace_header, time_resolution_ns) == 36, "file header layout");
_Static_assert(offsetof(struct hg_trace_header, rss_interval_ms) == 40, "file header layout");
_Static_assert(offsetof(struct hg_trace_header, live_blocks_max) == 44, "file header layout");
_Static_assert(offsetof(struct hg_trace_header, pad) == 52, "file header layout");
_Static_assert(offsetof(struct hg_trace_header, header_crc) == 60, "file header CRC at 60");
_Static_assert(sizeof(struct hg_block_header) == 32, "block header is 32 bytes");

#endif /* HG_FORMAT_H */
