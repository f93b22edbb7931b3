/*
 * leak_cxx.cc - std::shared_ptr cycles leak; a shared_ptr/weak_ptr pair does not
 *
 * Reference counting never frees a cycle of shared_ptrs: each object keeps the other's count
 * above zero. Two such cycles are built and dropped, one with std::make_shared and one with
 * shared_ptr(new T); next to them a parent holding its child by shared_ptr and the child
 * holding its parent by weak_ptr is built and dropped, and frees itself completely.
 *
 * Block layouts (libstdc++, x86-64):
 *   make_shared<T>: ONE block per object, _Sp_counted_ptr_inplace: vptr (8), use and weak
 *     counts (4 + 4), then the T itself at offset 16; sizeof(T) + 16 bytes.
 *   shared_ptr<T>(new T): TWO blocks per object, the T (sizeof(T) bytes, from `new T`) and a
 *     _Sp_counted_ptr control block of 24 bytes: vptr, counts, and the T* at offset 16.
 *   A shared_ptr<U> member is two words: the U* (element), then the control block pointer.
 *
 * The objects (every payload is zeroed; no other pointers in them):
 *   InA  { shared_ptr<InB> peer; char pad[48]; }   64 bytes -> make_shared block 80
 *   InB  { shared_ptr<InA> peer; char pad[80]; }   96 bytes -> make_shared block 112
 *   OutC { shared_ptr<OutD> peer; char pad[112]; } 128 bytes (new) + 24-byte control block
 *   OutD { shared_ptr<OutC> peer; char pad[128]; } 144 bytes (new) + 24-byte control block
 *   Parent { shared_ptr<Child> child; char pad[144]; }  make_shared block 176
 *   Child  { weak_ptr<Parent> parent; char pad[176]; }  make_shared block 208
 *
 * stdout: "leak_cxx: built" (one line). No iostream or stdio: write(2) only.
 *
 * Expect, snapshot "exit" (the C++ runtime allocates on its own; it is reachable):
 *   2 leaked cycles, 512 bytes in 6 blocks; nothing direct, nothing indirect:
 *   - make_shared cycle (make_inplace_cycle in the stack): 2 blocks, 80 + 112 = 192 bytes;
 *     edges A+16 -> B+16 (the InB*, an interior pointer), A+24 -> B (control block),
 *     B+16 -> A, B+24 -> A; so from A: offsets 16 and 24 to B, from B: 16 and 24 to A.
 *   - new-based cycle (make_separate_cycle in the stack): 4 blocks, 128 + 144 + 24 + 24 = 320
 *     bytes; edges C+0 -> D, C+8 -> ctlD, D+0 -> C, D+8 -> ctlC, ctlC+16 -> C, ctlD+16 -> D.
 *   - make_weak_pair: nothing live (both blocks freed when the parent's last shared_ptr goes).
 *   memcheck: definitely + indirectly lost = 512 bytes.
 */
#include <cstring>
#include <memory>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

struct InB;
struct InA {
	std::shared_ptr<InB> peer;
	char pad[48];
	InA() { std::memset(pad, 0, sizeof(pad)); }
};
struct InB {
	std::shared_ptr<InA> peer;
	char pad[80];
	InB() { std::memset(pad, 0, sizeof(pad)); }
};
static_assert(sizeof(InA) == 64 && sizeof(InB) == 96, "InA and InB sizes");

struct OutD;
struct OutC {
	std::shared_ptr<OutD> peer;
	char pad[112];
	OutC() { std::memset(pad, 0, sizeof(pad)); }
};
struct OutD {
	std::shared_ptr<OutC> peer;
	char pad[128];
	OutD() { std::memset(pad, 0, sizeof(pad)); }
};
static_assert(sizeof(OutC) == 128 && sizeof(OutD) == 144, "OutC and OutD sizes");

struct Parent;
struct Child {
	std::weak_ptr<Parent> parent;
	char pad[176];
	Child() { std::memset(pad, 0, sizeof(pad)); }
};
struct Parent {
	std::shared_ptr<Child> child;
	char pad[144];
	Parent() { std::memset(pad, 0, sizeof(pad)); }
};

static NOINLINE void make_inplace_cycle()
{
	std::shared_ptr<InA> a = std::make_shared<InA>(); /* site: inplace_a */
	std::shared_ptr<InB> b = std::make_shared<InB>(); /* site: inplace_b */

	a->peer = b;
	b->peer = a;
}

static NOINLINE void make_separate_cycle()
{
	std::shared_ptr<OutC> c(new OutC); /* site: separate_c */
	std::shared_ptr<OutD> d(new OutD); /* site: separate_d */

	c->peer = d;
	d->peer = c;
}

static NOINLINE void make_weak_pair()
{
	std::shared_ptr<Parent> p = std::make_shared<Parent>();

	p->child = std::make_shared<Child>();
	p->child->parent = p;
}

static NOINLINE void scrub_stack()
{
	volatile char buf[64 << 10];

	std::memset(const_cast<char *>(buf), 0, sizeof(buf));
}

int main()
{
	static const char msg[] = "leak_cxx: built\n";

	make_inplace_cycle();
	make_separate_cycle();
	make_weak_pair();
	ssize_t r = write(1, msg, sizeof(msg) - 1);
	(void)r;
	scrub_stack();
	return 0;
}
