/*
 * fixtures.c - helpers shared by the unit tests: scratch files, record builders, reading a
 * trace back, and a collector with the test's own mapping of its ring
 */
#include <check.h>
#include <ftw.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "crc32c.h"
#include "fixtures.h"
#include "lifecycle.h"
#include "replay.h"
#include "ring.h"
#include "trace_reader.h"
#include "trace_writer.h"

/* ---- scratch files ---------------------------------------------------------------------- */

void fx_scratch_make(struct fx_scratch *s)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(s->dir, sizeof(s->dir), "%s/hgunit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
}

void fx_scratch_file(const struct fx_scratch *s, const char *name, char *out)
{
	int n = snprintf(out, FX_PATH_BYTES, "%s/%s", s->dir, name);

	ck_assert_int_lt(n, FX_PATH_BYTES);
}

struct fx_scratch fx_trace_dir;
char fx_trace_path[FX_PATH_BYTES];

void fx_trace_setup(void)
{
	fx_scratch_make(&fx_trace_dir);
	fx_scratch_file(&fx_trace_dir, "t.hgt", fx_trace_path);
}

void fx_trace_teardown(void)
{
	fx_restore_stderr();
	fx_scratch_remove(&fx_trace_dir);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void fx_scratch_remove(struct fx_scratch *s)
{
	if (!s->dir[0])
		return;
	/* Depth first, symlinks removed rather than followed. */
	if (nftw(s->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "cannot remove scratch directory %s\n", s->dir);
	s->dir[0] = '\0';
}

static int saved_stderr = -1; /* the real stderr while fx_quiet_stderr is in effect */

void fx_stderr_to(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	if (saved_stderr < 0)
		saved_stderr = fcntl(2, F_DUPFD_CLOEXEC, 3);
	ck_assert_int_eq(dup2(fd, 2), 2);
	close(fd);
}

void fx_quiet_stderr(void)
{
	fx_stderr_to("/dev/null");
}

void fx_restore_stderr(void)
{
	if (saved_stderr < 0)
		return;
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	saved_stderr = -1;
}

uint8_t *fx_slurp(const char *path, size_t *n)
{
	struct stat sb;
	uint8_t *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	p = malloc((size_t)sb.st_size + 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(read(fd, p, (size_t)sb.st_size), sb.st_size);
	close(fd);
	*n = (size_t)sb.st_size;
	return p;
}

void fx_read_file_header(const char *path, struct hg_trace_header *fh)
{
	size_t n;
	uint8_t *file = fx_slurp(path, &n);

	ck_assert_uint_ge(n, sizeof(*fh));
	memcpy(fh, file, sizeof(*fh));
	free(file);
	ck_assert_uint_eq(fh->header_crc, hg_crc32c(0, fh, offsetof(struct hg_trace_header,
								     header_crc)));
}

void fx_spit(const char *path, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, bytes, n), (ssize_t)n);
	ck_assert_int_eq(close(fd), 0);
}

/* ---- record builders -------------------------------------------------------------------- */

void fx_buf_release(struct fx_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

size_t fx_buf_put(struct fx_buf *b, const void *bytes, size_t n)
{
	size_t at = b->len;

	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ck_assert_ptr_nonnull(b->p);
		b->cap = cap;
	}
	memcpy(b->p + at, bytes, n);
	b->len += n;
	return at;
}

/* Append a record of `size` bytes (a multiple of 8) whose first `head` bytes are given, the
 * rest zero; returns its offset. */
static size_t put_zeroed(struct fx_buf *b, const void *head, size_t head_bytes, size_t size)
{
	static const uint8_t zero[64];
	size_t at = fx_buf_put(b, head, head_bytes);

	for (size_t left = size - head_bytes; left;) {
		size_t k = left < sizeof(zero) ? left : sizeof(zero);
		fx_buf_put(b, zero, k);
		left -= k;
	}
	return at;
}

size_t fx_alloc(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t size_bytes,
		uint32_t stack_id, uint8_t fn)
{
	struct hg_rec_alloc r;

	memset(&r, 0, sizeof(r));
	r.hdr = (struct hg_rec){ HG_REC_ALLOC, 0, sizeof(r) };
	r.t_ns = t_ns;
	r.addr = addr;
	r.size_bytes = size_bytes;
	r.stack_id = stack_id;
	r.fn = fn;
	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_free(struct fx_buf *b, uint64_t t_ns, uint64_t addr)
{
	struct hg_rec_free r = { { HG_REC_FREE, 0, sizeof(r) }, t_ns, addr };

	return fx_buf_put(b, &r, sizeof(r));
}

/* An anonymous private read-write mapping, as the shim records one. */
size_t fx_mmap(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t length_bytes,
	       uint32_t stack_id)
{
	struct hg_rec_mmap r = { { HG_REC_MMAP, 0, sizeof(r) }, t_ns, addr, length_bytes,
				 stack_id, 3 /* PROT_READ | PROT_WRITE */,
				 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, 0 };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_mmap_none(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t length_bytes,
		    uint32_t stack_id)
{
	struct hg_rec_mmap r = { { HG_REC_MMAP, 0, sizeof(r) }, t_ns, addr, length_bytes,
				 stack_id, 0 /* PROT_NONE */, 0x22, 0 };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_mprotect(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t length_bytes,
		   uint32_t prot)
{
	struct hg_rec_mprotect r = { { HG_REC_MPROTECT, 0, sizeof(r) }, t_ns, addr, length_bytes,
				     prot, 0 };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_munmap(struct fx_buf *b, uint64_t t_ns, uint64_t addr, uint64_t length_bytes)
{
	struct hg_rec_munmap r = { { HG_REC_MUNMAP, 0, sizeof(r) }, t_ns, addr, length_bytes };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_mremap(struct fx_buf *b, uint64_t t_ns, uint64_t old_addr, uint64_t old_bytes,
		 uint64_t new_addr, uint64_t new_bytes, uint32_t stack_id, uint32_t flags)
{
	struct hg_rec_mremap r = { { HG_REC_MREMAP, 0, sizeof(r) }, t_ns, old_addr, old_bytes,
				   new_addr, new_bytes, stack_id, flags };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_stack(struct fx_buf *b, uint32_t stack_id, uint32_t n_frames, const uint64_t *ip)
{
	struct hg_rec_stack r;
	size_t at;

	r.hdr = (struct hg_rec){ HG_REC_STACK, 0, (uint32_t)(sizeof(r) + 8u * n_frames) };
	r.stack_id = stack_id;
	r.n_frames = n_frames;
	at = fx_buf_put(b, &r, sizeof(r));
	if (n_frames)
		fx_buf_put(b, ip, 8u * n_frames);
	return at;
}

size_t fx_module(struct fx_buf *b, uint16_t flags, uint64_t t_ns, uint64_t load_bias,
		 uint32_t n_segments, const struct hg_segment *seg, const uint8_t *build_id,
		 uint16_t build_id_bytes, const char *path)
{
	uint16_t path_bytes = (uint16_t)(strlen(path) + 1);
	uint32_t body = (uint32_t)(sizeof(struct hg_rec_module) + 24u * n_segments +
				   build_id_bytes + path_bytes);
	struct hg_rec_module r;
	size_t at;

	memset(&r, 0, sizeof(r));
	r.hdr = (struct hg_rec){ HG_REC_MODULE, flags, hg_rec_align(body) };
	r.t_ns = t_ns;
	r.load_bias = load_bias;
	r.n_segments = n_segments;
	r.build_id_bytes = build_id_bytes;
	r.path_bytes = path_bytes;
	at = fx_buf_put(b, &r, sizeof(r));
	if (n_segments)
		fx_buf_put(b, seg, 24u * n_segments);
	if (build_id_bytes)
		fx_buf_put(b, build_id, build_id_bytes);
	put_zeroed(b, path, path_bytes, path_bytes + (hg_rec_align(body) - body));
	return at;
}

size_t fx_unmodule(struct fx_buf *b, uint64_t t_ns, uint64_t load_bias)
{
	struct hg_rec_unmodule r = { { HG_REC_UNMODULE, 0, sizeof(r) }, t_ns, load_bias };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_process(struct fx_buf *b, uint16_t flags, uint64_t t_ns, uint32_t pid, uint32_t ppid,
		  const char *cmdline, uint32_t cmdline_bytes, const char *exe,
		  uint32_t max_frames)
{
	uint32_t exe_bytes = (uint32_t)strlen(exe) + 1;
	uint32_t body = (uint32_t)sizeof(struct hg_rec_process) + cmdline_bytes + exe_bytes;
	struct hg_rec_process r;
	size_t at;

	memset(&r, 0, sizeof(r));
	r.hdr = (struct hg_rec){ HG_REC_PROCESS, flags, hg_rec_align(body) };
	r.t_ns = t_ns;
	r.pid = pid;
	r.ppid = ppid;
	r.cmdline_bytes = cmdline_bytes;
	r.exe_bytes = exe_bytes;
	r.max_frames = max_frames;
	at = fx_buf_put(b, &r, sizeof(r));
	if (cmdline_bytes)
		fx_buf_put(b, cmdline, cmdline_bytes);
	put_zeroed(b, exe, exe_bytes, exe_bytes + (hg_rec_align(body) - body));
	return at;
}

size_t fx_exit_reaped(struct fx_buf *b, uint64_t t_ns, uint32_t pid, int32_t status,
		      uint32_t source, uint32_t reaper_pid)
{
	struct hg_rec_exit r = { { HG_REC_EXIT, 0, sizeof(r) }, t_ns, pid, status, source,
				 reaper_pid };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_exit(struct fx_buf *b, uint64_t t_ns, uint32_t pid, int32_t status, uint32_t source)
{
	return fx_exit_reaped(b, t_ns, pid, status, source, 0);
}

size_t fx_loss(struct fx_buf *b, uint64_t t_ns, uint32_t pid, uint32_t reason,
	       uint64_t n_events, uint64_t n_bytes)
{
	struct hg_rec_loss r = { { HG_REC_LOSS, 0, sizeof(r) }, t_ns, pid, reason, n_events,
				 n_bytes };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_tracer(struct fx_buf *b, uint64_t t_ns, uint64_t tables_bytes, uint64_t ring_bytes)
{
	struct hg_rec_tracer r = { { HG_REC_TRACER, 0, sizeof(r) }, t_ns, tables_bytes,
				   ring_bytes };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_origin(struct fx_buf *b, uint32_t pid, uint32_t tid)
{
	struct hg_rec_origin r = { { HG_REC_ORIGIN, 0, sizeof(r) }, pid, tid };

	return fx_buf_put(b, &r, sizeof(r));
}

size_t fx_end(struct fx_buf *b, uint16_t flags, uint64_t t_ns)
{
	struct hg_rec_end r = { { HG_REC_END, flags, sizeof(r) }, t_ns };

	return fx_buf_put(b, &r, sizeof(r));
}

/* ---- reading a trace back --------------------------------------------------------------- */

void fx_read(const char *path, struct fx_trace *t)
{
	struct hg_trace_reader *rd = hg_trace_reader_open(path);
	struct hg_record rec;
	const char *damage;
	int k;

	ck_assert_ptr_nonnull(rd);
	memset(t, 0, sizeof(*t));
	while ((k = hg_trace_reader_next(rd, &rec)) == 1) {
		struct fx_rec *r;

		if (rec.rec->type == HG_REC_HORIZON) {
			t->n_horizons++;
			t->last_horizon_ns = ((const struct hg_rec_horizon *)rec.rec)->horizon_ns;
			continue;
		}
		if (t->n == t->cap) {
			t->cap = t->cap ? 2 * t->cap : 64;
			t->r = realloc(t->r, t->cap * sizeof(*t->r));
			ck_assert_ptr_nonnull(t->r);
		}
		r = &t->r[t->n++];
		r->rec = malloc(rec.rec->size_bytes);
		ck_assert_ptr_nonnull(r->rec);
		memcpy(r->rec, rec.rec, rec.rec->size_bytes);
		r->pid = rec.pid;
		r->tid = rec.tid;
		r->offset = rec.offset;
	}
	t->rc = k;
	damage = hg_trace_reader_damage(rd, &t->damage_offset);
	if (damage)
		snprintf(t->damage, sizeof(t->damage), "%s", damage);
	hg_trace_reader_close(rd);
}

void fx_trace_release(struct fx_trace *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->r[i].rec);
	free(t->r);
	memset(t, 0, sizeof(*t));
}

size_t fx_count(const struct fx_trace *t, uint16_t type)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->r[i].rec->type == type;
	return n;
}

/* ---- a collector and its ring ----------------------------------------------------------- */

void fx_rig_open(struct fx_rig *g, uint32_t n_slots, uint32_t slot_bytes, int zstd_level)
{
	/* No RSS sampling; times stay exact. */
	struct hg_collector_opts o = { n_slots, slot_bytes, 0, zstd_level, 0, 0, 0, 0,
					HG_DEFAULT_ORPHANS_NS };
	int fd;
	void *p;

	memset(g, 0, sizeof(*g));
	fx_scratch_make(&g->scratch);
	fx_scratch_file(&g->scratch, "t.hgt", g->trace);
	g->c = hg_collector_create(&o);
	ck_assert_ptr_nonnull(g->c);
	ck_assert_int_eq(hg_collector_open_trace(g->c, g->trace, zstd_level), 0);
	g->ring_bytes = hg_ring_file_bytes(n_slots, slot_bytes);
	fd = open(hg_collector_ring_path(g->c), O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	p = mmap(NULL, g->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	ck_assert_ptr_ne(p, MAP_FAILED);
	unlink(hg_collector_ring_path(g->c));
	g->ring = p;
	ck_assert(hg_ring_header_valid(g->ring, g->ring_bytes));
}

void fx_rig_finish(struct fx_rig *g, struct fx_trace *t)
{
	ck_assert_int_eq(hg_collector_finish(g->c), 0);
	fx_read(g->trace, t);
}

void fx_rig_close(struct fx_rig *g)
{
	if (g->c)
		hg_collector_free(g->c);
	if (g->ring)
		munmap(g->ring, g->ring_bytes);
	fx_scratch_remove(&g->scratch);
	memset(g, 0, sizeof(*g));
}

struct hg_ring_slot *fx_slot(struct hg_ring_header *r, uint32_t i)
{
	return (struct hg_ring_slot *)((uint8_t *)r + HG_RING_HEADER_BYTES) + i;
}

uint8_t *fx_slot_data(struct hg_ring_header *r, uint32_t i)
{
	return (uint8_t *)r + r->data_offset + (uint64_t)i * r->slot_bytes;
}

uint32_t fx_gettid(void)
{
	return (uint32_t)syscall(SYS_gettid);
}

void fx_replay_rig_open(struct fx_replay_rig *g, const char *name)
{
	memset(g, 0, sizeof(*g));
	fx_scratch_make(&g->scratch);
	fx_scratch_file(&g->scratch, name, g->path);
	g->w = hg_trace_writer_open(g->path, 0);
	ck_assert_ptr_nonnull(g->w);
}

void fx_replay_rig_block(struct fx_replay_rig *g, uint32_t pid, uint32_t tid)
{
	ck_assert_int_eq(hg_trace_writer_block(g->w, pid, tid, g->b.p, (uint32_t)g->b.len), 0);
	g->b.len = 0;
}

struct hg_replay *fx_replay_rig_run(struct fx_replay_rig *g, unsigned flags, uint64_t at_ns)
{
	ck_assert_int_eq(hg_trace_writer_close(g->w), 0);
	g->w = NULL;
	g->r = hg_replay_file_at(g->path, flags, at_ns);
	ck_assert_ptr_nonnull(g->r);
	return g->r;
}

void fx_replay_rig_close(struct fx_replay_rig *g)
{
	fx_restore_stderr();
	if (g->w)
		hg_trace_writer_close(g->w);
	hg_replay_free(g->r);
	fx_buf_release(&g->b);
	fx_scratch_remove(&g->scratch);
	memset(g, 0, sizeof(*g));
}

/* ---- the trace suite's checks and hand-made blocks -------------------------------------- */

size_t fx_expect_records(const struct fx_trace *t, size_t from, const struct fx_buf *b,
			 uint32_t pid, uint32_t tid)
{
	size_t i = from;

	for (size_t off = 0; off < b->len; i++) {
		const struct hg_rec *want = (const struct hg_rec *)(b->p + off);

		ck_assert_uint_lt(i, t->n);
		ck_assert_uint_eq(t->r[i].rec->size_bytes, want->size_bytes);
		ck_assert_mem_eq(t->r[i].rec, want, want->size_bytes);
		ck_assert_uint_eq(t->r[i].pid, pid);
		ck_assert_uint_eq(t->r[i].tid, tid);
		off += want->size_bytes;
	}
	return i;
}

void fx_expect_end(const struct fx_trace *t, size_t i, uint16_t flags)
{
	ck_assert_uint_lt(i, t->n);
	ck_assert_uint_eq(t->r[i].rec->type, HG_REC_END);
	ck_assert_uint_eq(t->r[i].rec->flags, flags);
	ck_assert_uint_eq(t->r[i].rec->size_bytes, sizeof(struct hg_rec_end));
	ck_assert_uint_eq(t->r[i].pid, 0);
	ck_assert_uint_eq(t->r[i].tid, 0);
}

void fx_put_block(struct fx_buf *file, uint32_t codec, const void *stored,
		  uint32_t stored_bytes, uint32_t raw_bytes, uint32_t pid, uint32_t tid)
{
	static const uint8_t zero[8];
	struct hg_block_header h = { HG_BLOCK_MAGIC, codec, stored_bytes, raw_bytes, pid, tid,
				     hg_crc32c(0, stored, stored_bytes), 0 };

	h.header_crc = hg_crc32c(0, &h, 28);
	fx_buf_put(file, &h, sizeof(h));
	fx_buf_put(file, stored, stored_bytes);
	fx_buf_put(file, zero, ((stored_bytes + 7u) & ~7u) - stored_bytes);
}

void fx_put_file_header(struct fx_buf *file, uint32_t header_bytes)
{
	struct hg_trace_header fh;
	static const uint8_t zero[256];

	memset(&fh, 0, sizeof(fh));
	memcpy(fh.magic, HG_TRACE_MAGIC, 8);
	fh.version = HG_FORMAT_VERSION;
	fh.header_bytes = header_bytes;
	fx_buf_put(file, &fh, sizeof(fh));
	fx_buf_put(file, zero, header_bytes - sizeof(fh));
}

/* ---- the ring suite's producer ---------------------------------------------------------- */

void fx_ring_open(struct fx_rig *g, uint32_t n_slots, uint32_t slot_bytes)
{
	fx_rig_open(g, n_slots, slot_bytes, 0);
	hg_self_pid = (uint32_t)getpid();
	hg_ring_forget_thread();
	hg_ring_attach(g->ring);
}

void fx_ring_close(struct fx_rig *g, struct fx_trace *t)
{
	hg_ring_forget_thread();
	hg_ring_attach(NULL);
	fx_trace_release(t);
	fx_rig_close(g);
}

struct fx_rig fx_ring_rig;
struct fx_trace fx_ring_tr;

void fx_ring_setup(void)
{
	memset(&fx_ring_rig, 0, sizeof(fx_ring_rig));
	memset(&fx_ring_tr, 0, sizeof(fx_ring_tr));
}

void fx_ring_teardown(void)
{
	fx_ring_close(&fx_ring_rig, &fx_ring_tr);
}

struct hg_rec_alloc fx_rec_of(uint32_t who, uint32_t seq)
{
	struct hg_rec_alloc a;

	memset(&a, 0, sizeof(a));
	a.hdr = (struct hg_rec){ HG_REC_ALLOC, 0, sizeof(a) };
	a.t_ns = 1000000ull * who + seq;
	a.addr = ((uint64_t)(who + 1) << 32) | seq;
	a.size_bytes = seq % 1000 + who;
	a.stack_id = who + 1;
	a.fn = (uint8_t)(seq % HG_FN_MAX);
	return a;
}

void fx_expect_sequence(const struct fx_trace *t, uint32_t pid, uint32_t tid, uint32_t who,
			uint32_t m)
{
	uint32_t seq = 0;

	for (size_t i = 0; i < t->n; i++) {
		struct hg_rec_alloc want;

		if (t->r[i].pid != pid || t->r[i].tid != tid)
			continue;
		FX_REQUIRE(t->r[i].rec->type == HG_REC_ALLOC, "record %zu of %u/%u has type %u",
			   i, pid, tid, t->r[i].rec->type);
		want = fx_rec_of(who, seq);
		FX_REQUIRE(seq < m, "producer %u: more than %u records", who, m);
		FX_REQUIRE(memcmp(t->r[i].rec, &want, sizeof(want)) == 0,
			   "producer %u: record %zu is not record %u", who, i, seq);
		seq++;
	}
	ck_assert_msg(seq == m, "producer %u (tid %u): %u records arrived, %u written", who, tid,
		      seq, m);
}

uint32_t fx_slot_index(struct hg_ring_header *r, const struct hg_ring_slot *s)
{
	return (uint32_t)(s - fx_slot(r, 0));
}

uint32_t fx_first_window(const struct hg_ring_header *r)
{
	return hg_ring_window(r, HG_RING_FIRST_WINDOW);
}

void fx_sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

uint32_t fx_dead_pid(void)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return (uint32_t)pid;
}

/* The State letter of this process's main thread, from the field after "(comm) " of its stat. */
static char main_thread_state(void)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)getpid());
	if (!(f = fopen(path, "r")))
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' ? paren[2] : '?';
}

struct after_main {
	void (*fn)(int fd);
	int fd;
};

static void *after_main_thread(void *arg)
{
	const struct after_main *a = arg;

	for (int ms = 0; ms < 10000 && main_thread_state() != 'Z'; ms++)
		fx_sleep_us(1000);
	a->fn(a->fd);
	_exit(0);
}

size_t fx_after_main_exit(void (*fn)(int fd), void *out, size_t n)
{
	static struct after_main a;
	int fds[2], status;
	size_t got = 0;
	ssize_t r;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pthread_t t;

		close(fds[0]);
		a.fn = fn;
		a.fd = fds[1];
		if (pthread_create(&t, NULL, after_main_thread, &a) != 0)
			_exit(1);
		pthread_exit(NULL);
	}
	close(fds[1]);
	while (got < n && (r = read(fds[0], (char *)out + got, n - got)) > 0)
		got += (size_t)r;
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	return got;
}
