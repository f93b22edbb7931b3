/*
 * check_collector_attach.c - unit tests for bare mode: attaching to a ring the shim made
 */
#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collector.h"
#include "collector_rig.h"
#include "fixtures.h"

static void make_ring_file(const char *p, uint32_t version, uint64_t file_bytes)
{
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct hg_ring_header *r;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)file_bytes), 0);
	r = mmap(NULL, HG_RING_HEADER_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(r, MAP_FAILED);
	hg_ring_header_init(r, 2, HG_RING_MIN_SLOT_BYTES, 1, 0, NULL);
	r->version = version;
	munmap(r, HG_RING_HEADER_BYTES);
	close(fd);
}

START_TEST(test_collector_attach_claims_valid_ring)
{
	struct fx_scratch sc;
	char p[FX_PATH_BYTES];
	struct hg_collector *c;
	struct hg_ring_header h;
	int fd;

	fx_scratch_make(&sc);
	fx_scratch_file(&sc, "ring", p);
	make_ring_file(p, HG_RING_VERSION, hg_ring_file_bytes(2, HG_RING_MIN_SLOT_BYTES));
	c = hg_collector_attach(p);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(hg_collector_ring_path(c), p);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, &h, sizeof(h)), sizeof(h));
	close(fd);
	ck_assert_uint_eq(h.collector_pid, (uint32_t)getpid());
	hg_collector_free(c);
	ck_assert_int_ne(access(p, F_OK), 0); /* the ring file goes with the collector */
	fx_scratch_remove(&sc);
}
END_TEST

START_TEST(test_collector_attach_rejects_bad_ring)
{
	struct fx_scratch sc;
	char p[FX_PATH_BYTES];
	const uint64_t bytes = hg_ring_file_bytes(2, HG_RING_MIN_SLOT_BYTES);

	fx_quiet_stderr();
	fx_scratch_make(&sc);
	fx_scratch_file(&sc, "ring", p);
	ck_assert_ptr_null(hg_collector_attach(p)); /* missing */
	make_ring_file(p, HG_RING_VERSION + 1, bytes);
	ck_assert_ptr_null(hg_collector_attach(p));
	make_ring_file(p, HG_RING_VERSION, bytes - 4096); /* too short for its slots */
	ck_assert_ptr_null(hg_collector_attach(p));
	fx_spit(p, "tiny", 4);
	ck_assert_ptr_null(hg_collector_attach(p));
	fx_scratch_remove(&sc);
}
END_TEST

TCase *collector_attach_tcase(void)
{
	TCase *attach = tcase_create("attach");

	tcase_add_checked_fixture(attach, cr_setup, cr_teardown);
	tcase_set_timeout(attach, 30); /* a hang guard only */
	tcase_add_test(attach, test_collector_attach_claims_valid_ring);
	tcase_add_test(attach, test_collector_attach_rejects_bad_ring);
	return attach;
}
