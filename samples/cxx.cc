/*
 * cxx.cc - C++ allocations: new/delete, new[], std::vector and std::string growth
 *
 * C++ allocates through operator new, which calls malloc; the report strips the operator new
 * frames so that frames[0] of a `new` site is the function that wrote `new`. Container growth
 * allocates from inside the standard library, so for those sites frames[0] is a library
 * function and the user function appears further down the stack.
 *
 * stdout: "cxx: vector 1000 ints (capacity 1024), string 200 chars (capacity 240)".
 * The capacities are printed so that a test can tell a libstdc++ growth policy change from a
 * tracer bug. The C++ runtime and stdio allocate on their own; expectations are only on sites
 * that have one of this file's functions in their frames.
 *
 * Expect, live at exit:
 *   frames[0] make_widget    `new Widget`, sizeof(Widget) == 72: 1 block, 72 bytes, 1 allocation
 *   frames[0] make_table     `new std::uint32_t[77]`: 1 block, 308 bytes, 1 allocation
 *   frames[0] fill_vector    `new std::vector<int>`: 1 block, 24 bytes, 1 allocation
 *   fill_vector deeper in the stack (push_back growth: capacities 1, 2, 4, ..., 1024):
 *                            1 block, 4096 bytes live; 11 allocations, 8188 bytes allocated
 *   frames[0] grow_string    `new std::string`: 1 block, 32 bytes, 1 allocation
 *   grow_string deeper in the stack (push_back growth past the 15-char inline buffer:
 *   capacities 30, 60, 120, 240, each + 1 for the NUL):
 *                            1 block, 241 bytes live; 4 allocations, 454 bytes allocated
 *   churn_widgets: 100 x new/delete Widget and 100 x new[]/delete[] of 720 chars: no live site
 */
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

struct Widget {
	char name[40];
	int id;
	double weights[3];

	explicit Widget(int i) : id(i)
	{
		std::snprintf(name, sizeof(name), "widget-%d", i);
		weights[0] = weights[1] = weights[2] = i * 0.5;
	}
};
static_assert(sizeof(Widget) == 72, "Widget is 72 bytes on x86-64");

static Widget *g_widget;
static std::uint32_t *g_table;
static std::vector<int> *g_vec;
static std::string *g_str;

static Widget *make_widget(int id)
{
	return new Widget(id); /* site: make_widget */
}

static std::uint32_t *make_table(void)
{
	std::uint32_t *t = new std::uint32_t[77]; /* site: make_table */

	for (int i = 0; i < 77; i++)
		t[i] = static_cast<std::uint32_t>(i * i);
	return t;
}

static int churn_widgets(void)
{
	int sum = 0;

	for (int i = 0; i < 100; i++) {
		Widget *w = new Widget(i);
		char *buf = new char[720];

		buf[0] = static_cast<char>(i);
		sum += w->id + buf[0] - i;
		delete w;
		delete[] buf;
	}
	return sum;
}

static void fill_vector(void)
{
	g_vec = new std::vector<int>;
	for (int i = 0; i < 1000; i++)
		g_vec->push_back(i);
}

static void grow_string(void)
{
	g_str = new std::string;
	for (int i = 0; i < 200; i++)
		g_str->push_back(static_cast<char>('a' + i % 26));
}

int main()
{
	g_widget = make_widget(7);
	g_table = make_table();
	if (churn_widgets() != 4950)
		return 1;
	fill_vector();
	grow_string();
	std::printf("cxx: vector %zu ints (capacity %zu), string %zu chars (capacity %zu)\n",
		    g_vec->size(), g_vec->capacity(), g_str->size(), g_str->capacity());
	return g_widget->id == 7 && g_table[3] == 9 ? 0 : 1;
}
