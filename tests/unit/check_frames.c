/*
 * check_frames.c - which frame of a stack is the user's own code
 */
#include <check.h>

#include "frames.h"

#define F(fn, file, line, module) { fn, file, line, module, 0, 0 }

/* A C++ make_shared inlined into the program: headers first, then the user's function. */
static const struct hg_frame cxx[] = {
	F("std::__new_allocator<X>::allocate", "/usr/include/c++/12/bits/new_allocator.h", 137,
	  "/src/app"),
	F("std::make_shared<X>", "/usr/include/c++/12/bits/shared_ptr.h", 1010, "/src/app"),
	F("std::__detail::hash", "/usr/lib/gcc/x86_64-linux-gnu/12/include/x.h", 3, "/src/app"),
	F("libcxx", "/usr/lib/llvm-14/include/c++/v1/memory", 9, "/src/app"),
	F("make_cycle", "/src/app.cc", 11, "/src/app"),
	F("main", "/src/app.cc", 22, "/src/app"),
	F("__libc_start_call_main", "libc_start_call_main.h", 58,
	  "/lib/x86_64-linux-gnu/libc.so.6"),
};

START_TEST(test_frames_user_skips_system_headers)
{
	ck_assert_ptr_eq(hg_frames_user(cxx, 7), &cxx[4]);
	ck_assert_uint_eq(hg_frames_through_user(cxx, 7, 3), 5);
	ck_assert_uint_eq(hg_frames_through_user(cxx, 7, 6), 6); /* at least min */
	ck_assert_uint_eq(hg_frames_through_user(cxx, 5, 6), 5); /* never past n */
	/* Only headers: the first of them, as before there were rules for headers. */
	ck_assert_ptr_eq(hg_frames_user(cxx, 4), &cxx[0]);
}
END_TEST

START_TEST(test_frames_user_skips_runtime_modules)
{
	static const struct hg_frame fr[] = {
		F("strdup", "strdup.c", 42, "/lib/x86_64-linux-gnu/libc.so.6"),
		F("operator new", "new_op.cc", 50, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
		F("nodebug", NULL, 0, "/src/app"),           /* no line: not a user frame */
		F("unmapped", "/src/a.c", 5, NULL),          /* no module */
		F("copy_name", "names.c", 7, "/src/app"),    /* relative path: the user's */
	};

	ck_assert_ptr_eq(hg_frames_user(fr, 5), &fr[4]);
	ck_assert_ptr_null(hg_frames_user(fr, 4));
	ck_assert_uint_eq(hg_frames_through_user(fr, 4, 3), 3); /* none: just min */
	ck_assert_ptr_null(hg_frames_user(fr, 0));
	ck_assert_uint_eq(hg_frames_through_user(fr, 0, 3), 0);
}
END_TEST

Suite *frames_suite(void);

Suite *frames_suite(void)
{
	Suite *s = suite_create("frames");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_frames_user_skips_system_headers);
	tcase_add_test(tc, test_frames_user_skips_runtime_modules);
	suite_add_tcase(s, tc);
	return s;
}
