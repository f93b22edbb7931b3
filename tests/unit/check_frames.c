/*
 * check_frames.c - which frame of a stack is the user's own code; C++ names for text stacks
 */
#include <check.h>

#include "frames.h"
#include "names.h"

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

/* C++ names as text stacks print them: long template argument lists read <...>. */
START_TEST(test_name_text_elides_long_template_arguments)
{
	static const char *const cases[][2] = {
		{ "std::__shared_count<(__gnu_cxx::_Lock_policy)2>::__shared_count<OutC*>(OutC*)",
		  "std::__shared_count<...>::__shared_count<OutC*>(OutC*)" },
		/* The lists inside are shortened first: this one is then short enough to stay. */
		{ "std::allocator_traits<std::allocator<std::_Sp_counted_ptr_inplace<InB, "
		  "std::allocator<void>, (__gnu_cxx::_Lock_policy)2> > >::allocate(unsigned long)",
		  "std::allocator_traits<std::allocator<...> >::allocate(unsigned long)" },
		/* An operator's brackets open nothing; the list after it does. */
		{ "std::basic_ostream<char, std::char_traits<char> >& std::operator<< "
		  "<std::char_traits<char> >(std::basic_ostream<char, std::char_traits<char> >&, "
		  "char const*)",
		  "std::basic_ostream<...>& std::operator<< <...>(std::basic_ostream<...>&, char "
		  "const*)" },
		{ "std::_Rb_tree<int, std::pair<int const, int>, std::_Select1st<std::pair<int const, "
		  "int> >, std::less<int>, std::allocator<std::pair<int const, int> > >::"
		  "_M_insert_unique<std::pair<int const, int> >(std::pair<int const, int>&&)",
		  "std::_Rb_tree<...>::_M_insert_unique<...>(std::pair<int const, int>&&)" },
		/* A '>' inside parentheses closes nothing; "->" is an operator. */
		{ "Vec<(1>0), long long, unsigned long long>::operator->()",
		  "Vec<...>::operator->()" },
		/* A '<' in parentheses inside a list compares: it opens nothing. */
		{ "f<(aaaa<bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb>c)>(std::vector<int, std::allocator<int> >)",
		  "f<...>(std::vector<...>)" },
		{ "std::function<void (std::vector<int, std::allocator<int> >)>::operator()("
		  "std::vector<int, std::allocator<int> >) const",
		  "std::function<...>::operator()(std::vector<...>) const" },
	};
	/* Left as they are: nothing long, a name ending in "operator" that is not one, no
	 * template, brackets that do not balance. */
	static const char *const same[] = {
		"bool operator< <int>(Foo<int> const&, Foo<int> const&)",
		"my_operator<int>(Foo<int>)",
		"main",
		"broken<a, b(",
		"odd>name",
	};
	char buf[HG_NAME_TEXT_MAX], tiny[16];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(hg_name_text(cases[i][0], buf, sizeof(buf)), cases[i][1]);
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		ck_assert_ptr_eq(hg_name_text(same[i], buf, sizeof(buf)), same[i]);
	ck_assert_ptr_null(hg_name_text(NULL, buf, sizeof(buf)));
	/* A result that does not fit: the whole name. */
	ck_assert_ptr_eq(hg_name_text(cases[0][0], tiny, sizeof(tiny)), cases[0][0]);
	/* --full-names */
	hg_names_set_full(1);
	ck_assert_ptr_eq(hg_name_text(cases[0][0], buf, sizeof(buf)), cases[0][0]);
	hg_names_set_full(0);
}
END_TEST

Suite *frames_suite(void);

Suite *frames_suite(void)
{
	Suite *s = suite_create("frames");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_frames_user_skips_system_headers);
	tcase_add_test(tc, test_frames_user_skips_runtime_modules);
	tcase_add_test(tc, test_name_text_elides_long_template_arguments);
	suite_add_tcase(s, tc);
	return s;
}
