# heapgraph - one non-recursive Makefile; every output goes under build/.
#
#   make            build build/heapgraph and build/libheapgraph.so
#   make demo       record and report samples/demo (installs build dependencies first)
#   make check      unit tests, then end-to-end tests (installs test dependencies first)
#   make bench      benchmarks against heaptrack (bench/run.sh)
#   make install PREFIX=/opt/hg    bin/heapgraph, lib/libheapgraph.so, include/heapgraph.h
#
# Variables: CC, CXX, PREFIX, DESTDIR, BINDIR, LIBDIR, INCLUDEDIR, OPT, CFLAGS, LDFLAGS, V=1,
# DEVELOPER=1 (adds -Werror; CI sets it), HG_DEBUG=1 (shim assertions).

CC ?= cc
CXX ?= c++
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
OPT ?= -O2 -g
VERSION := 0.1.0

B := build
WARN := -std=gnu11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-Wwrite-strings -Wvla -Wpointer-arith
ifeq ($(CI),true)
DEVELOPER = 1
endif
ifeq ($(DEVELOPER),1)
WARN += -Werror
endif

ifneq ($(V),1)
Q := @
say = @printf '  %-7s %s\n' $(1) $(2);
else
Q :=
say :=
endif

HG_DEBUG ?= 0
COMMON := $(OPT) $(WARN) -Iinclude -D_GNU_SOURCE -DHG_VERSION='"$(VERSION)"' -MMD -MP

# The shim: interposes malloc, so the compiler must not turn malloc+memset into calloc, and
# nothing but the interposed libc names may be visible.
SHIM_CFLAGS := $(COMMON) -fPIC -fvisibility=hidden -ftls-model=initial-exec \
	-fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free \
	-fno-stack-protector -fno-strict-aliasing -DHG_DEBUG=$(HG_DEBUG) $(CFLAGS)
SHIM_LIBS := -ldl -lpthread
SHIM_LDFLAGS := -shared -Wl,--exclude-libs,ALL -Wl,--version-script=preload/exports.map \
	-Wl,-z,nodelete -Wl,-z,now $(LDFLAGS)

ANA_CFLAGS := $(COMMON) -DHG_LIBDIR='"$(LIBDIR)"' $(CFLAGS)
ANA_LIBS := -ldw -lelf -lzstd -lstdc++ -lm $(LDFLAGS)

CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

SHIM_SRC := $(wildcard preload/*.c)
ANA_SRC := $(wildcard analyzer/*.c)
ANA_LIB_SRC := $(filter-out analyzer/main.c,$(ANA_SRC))
UNIT_SRC := $(wildcard tests/unit/*.c)
SAMPLE_C := $(filter-out samples/lib%.c,$(wildcard samples/*.c))
SAMPLE_CXX := $(wildcard samples/*.cc)
SAMPLE_LIB := $(wildcard samples/lib*.c)

SHIM_OBJ := $(SHIM_SRC:%.c=$(B)/%.o)
ANA_OBJ := $(ANA_SRC:%.c=$(B)/%.o)
ANA_LIB_OBJ := $(ANA_LIB_SRC:%.c=$(B)/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(B)/%.o)
SAMPLES := $(SAMPLE_C:samples/%.c=$(B)/samples/%) $(SAMPLE_CXX:samples/%.cc=$(B)/samples/%) \
	$(SAMPLE_LIB:samples/%.c=$(B)/samples/%.so) $(B)/samples/libswap_big.so \
	$(B)/samples/libswap_small.so $(B)/samples/exitcode_static

.PHONY: all deps test-deps demo check unit e2e bench install uninstall clean samples
all: $(B)/heapgraph $(B)/libheapgraph.so

deps:
	$(Q)scripts/install-deps.sh build
test-deps:
	$(Q)scripts/install-deps.sh test

# The entry points find their caller's frame through the frame pointer (HG_CALLER_FRAME, stack.h).
$(B)/preload/shim.o: SHIM_CFLAGS += -fno-omit-frame-pointer
$(B)/preload/%.o: preload/%.c | $(B)/preload
	$(call say,CC,$@)$(CC) $(SHIM_CFLAGS) -c -o $@ $<
$(B)/analyzer/%.o: analyzer/%.c | $(B)/analyzer
	$(call say,CC,$@)$(CC) $(ANA_CFLAGS) -c -o $@ $<
$(B)/tests/unit/%.o: tests/unit/%.c | $(B)/tests/unit
	$(call say,CC,$@)$(CC) $(ANA_CFLAGS) -Ipreload -Ianalyzer $(CHECK_CFLAGS) -c -o $@ $<

$(B)/libheapgraph.so: $(SHIM_OBJ) preload/exports.map
	$(call say,LD,$@)$(CC) $(SHIM_LDFLAGS) -o $@ $(SHIM_OBJ) $(SHIM_LIBS)
$(B)/heapgraph: $(ANA_OBJ)
	$(call say,LD,$@)$(CC) -o $@ $(ANA_OBJ) $(ANA_LIBS)
$(B)/libhganalyzer.a: $(ANA_LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^
# The shim's modules for unit tests, without shim.o and exec.o: their malloc and execve must
# never replace the test binary's own (an archive member is linked for any symbol still
# undefined, malloc included).
$(B)/libhgshim.a: $(filter-out $(B)/preload/shim.o $(B)/preload/exec.o,$(SHIM_OBJ))
	$(call say,AR,$@)rm -f $@ && ar rcs $@ $^
$(B)/check_heapgraph: $(UNIT_OBJ) $(B)/libhganalyzer.a $(B)/libhgshim.a
	$(call say,LD,$@)$(CC) -o $@ $(UNIT_OBJ) $(B)/libhganalyzer.a $(B)/libhgshim.a \
		$(ANA_LIBS) $(SHIM_LIBS) $(CHECK_LIBS)

# Samples: built with debug info and without optimisation so that stacks and lines are exact.
SAMPLE_FLAGS := -O0 -g -fno-omit-frame-pointer -fno-builtin -Iinclude
$(B)/samples/%: samples/%.c | $(B)/samples
	$(call say,CC,$@)$(CC) $(SAMPLE_FLAGS) -o $@ $< -ldl -lpthread -rdynamic
$(B)/samples/%: samples/%.cc | $(B)/samples
	$(call say,CXX,$@)$(CXX) $(SAMPLE_FLAGS) -o $@ $< -lpthread
$(B)/samples/%.so: samples/%.c | $(B)/samples
	$(call say,CC,$@)$(CC) $(SAMPLE_FLAGS) -fPIC -shared -o $@ $<
# Two builds of one function that differ only in frame size (samples/dlswap.c).
$(B)/samples/libswap_big.so: samples/swapframe.S | $(B)/samples
	$(call say,AS,$@)$(CC) -fPIC -shared -DFRAME_BYTES=8200 -o $@ $<
$(B)/samples/libswap_small.so: samples/swapframe.S | $(B)/samples
	$(call say,AS,$@)$(CC) -fPIC -shared -DFRAME_BYTES=264 -o $@ $<
# Samples linked with a sample library of their own, whose constructor or destructor matters:
# own_malloc (an executable's malloc first called from a library constructor) and dtor_cache
# (a library that frees its cache in its destructor).
LINKED_SAMPLES := $(B)/samples/own_malloc $(B)/samples/dtor_cache
$(B)/samples/own_malloc: $(B)/samples/libctormalloc.so
$(B)/samples/own_malloc: SAMPLE_LIB_NAME := ctormalloc
$(B)/samples/dtor_cache: $(B)/samples/libdtorcache.so
$(B)/samples/dtor_cache: SAMPLE_LIB_NAME := dtorcache
$(LINKED_SAMPLES): $(B)/samples/%: samples/%.c | $(B)/samples
	$(call say,CC,$@)$(CC) $(SAMPLE_FLAGS) -o $@ $< -L$(B)/samples -Wl,--no-as-needed \
		-l$(SAMPLE_LIB_NAME) -Wl,-rpath,'$$ORIGIN' -lpthread
# A program LD_PRELOAD cannot reach: record says why nothing was traced.
$(B)/samples/exitcode_static: samples/exitcode.c | $(B)/samples
	$(call say,CC,$@)$(CC) $(SAMPLE_FLAGS) -static -o $@ $<
samples: $(SAMPLES)

$(B)/preload $(B)/analyzer $(B)/tests/unit $(B)/samples:
	$(Q)mkdir -p $@

demo: deps
	$(Q)$(MAKE) --no-print-directory all $(B)/samples/demo
	$(B)/heapgraph record -o $(B)/demo.hgt -- $(B)/samples/demo
	$(B)/heapgraph report $(B)/demo.hgt

check: test-deps
	$(Q)$(MAKE) --no-print-directory unit
	$(Q)$(MAKE) --no-print-directory e2e

unit: $(B)/check_heapgraph
	$(Q)$(B)/check_heapgraph

e2e: all samples
	$(Q)python3 tests/e2e/run.py --build $(B)

bench: all samples
	$(Q)scripts/install-deps.sh bench
	$(Q)bench/run.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)
	install -m 755 $(B)/heapgraph $(DESTDIR)$(BINDIR)/heapgraph
	install -m 644 $(B)/libheapgraph.so $(DESTDIR)$(LIBDIR)/libheapgraph.so
	install -m 644 include/heapgraph.h $(DESTDIR)$(INCLUDEDIR)/heapgraph.h

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/heapgraph $(DESTDIR)$(LIBDIR)/libheapgraph.so \
		$(DESTDIR)$(INCLUDEDIR)/heapgraph.h

clean:
	rm -rf $(B)

-include $(SHIM_OBJ:.o=.d) $(ANA_OBJ:.o=.d) $(UNIT_OBJ:.o=.d)
