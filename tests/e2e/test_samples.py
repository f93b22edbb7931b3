"""test_samples.py - each sample under `heapgraph record`, checked against its Expect: block

The numbers here are the ones in the header comments of samples/*.c and samples/*.cc; change
both together. The check_* helpers are shared with test_bare.py, which expects the same numbers
without the launcher.
"""
import json
import os
import shutil
import struct

from harness import (Fail, Skip, check, check_frame, check_lineage, check_schema, check_site,
                     clean_env, check_stderr_passthrough, check_totals, clip, eq, fmt_bytes,
                     fn_base, frame_desc, marker_line, only_process, run, site_desc, sites_at,
                     the_site)

MAX_RSS_KIB = 1024 * 1024  # record/report on samples/scale must each stay below 1 GiB


def check_demo(proc, what):
    site = the_site(proc, "build_cache")
    check_site(site, what + " build_cache", live_bytes=16384, live_blocks=16, allocations=16,
               allocated_bytes=16384)
    check_frame(site["frames"][0], "build_cache", "demo.c", "build_cache")
    site = the_site(proc, "make_greeting")
    check_site(site, what + " make_greeting", live_bytes=64, live_blocks=1, allocations=1,
               allocated_bytes=64)
    check_frame(site["frames"][0], "make_greeting", "demo.c", "make_greeting")
    eq(len(sites_at(proc, "count_letters")), 0, what + ": live sites at count_letters")
    eq(fn_base(proc["sites"][0]["frames"][0]), "build_cache", what + ": largest site")


def test_demo(ctx):
    demo = ctx.sample("demo")
    bare = run([demo])
    eq(bare.text, "hello, heapgraph\n16 words cached, 57 letters counted\n",
       "demo stdout (test precondition)")
    res, trace = ctx.record([demo], expect_code=0)
    eq(res.out, bare.out, "demo stdout under record")
    check_stderr_passthrough("", res, trace)
    proc = only_process(ctx.report_json(trace), "demo")
    eq(proc["command"], demo, "command")
    eq(proc["exe"], os.path.realpath(demo), "exe")
    eq((proc["forked"], proc["exec"]), (False, False), "forked/exec")
    eq(proc["exit"], {"code": 0}, "exit")
    eq(proc["totals"]["lost_events"], 0, "lost_events")
    check_demo(proc, "demo")


def test_demo_text_report(ctx):
    _, trace = ctx.record([ctx.sample("demo")], expect_code=0)
    text = ctx.report(trace, fmt="text")
    eq(text.code, 0, "report --format text exit status")
    for word in ("build_cache", "make_greeting", "demo.c"):
        check(word in text.text, "text report does not mention %r:\n%s" % (word, clip(text.text)))
    default = ctx.report(trace, fmt=None)
    eq(default.code, 0, "report (default format) exit status")
    eq(default.text, text.text, "report with no --format vs --format text")


def test_report_top(ctx):
    _, trace = ctx.record([ctx.sample("demo")], expect_code=0)
    proc = only_process(ctx.report_json(trace, top=1), "demo --top 1")
    eq(len(proc["sites"]), 1, "number of sites with --top 1")
    eq(fn_base(proc["sites"][0]["frames"][0]), "build_cache", "--top 1 site")
    full = only_process(ctx.report_json(trace, top=0), "demo --top 0")
    check(len(full["sites"]) >= 2, "--top 0 should list every live site")
    eq(full["totals"], proc["totals"], "totals do not depend on --top")


def test_demo_separate_debug_info(ctx, where):
    """The demo stripped of its symbols and DWARF, which went to a file its .gnu_debuglink
    names: beside it, in .debug/ beside it, or nowhere; or to demo.debug beside it with no
    debuglink. The report symbolizes through the debug file as through the original; without
    one it still counts everything, its frames in the demo only unnamed. DEBUGINFOD_URLS is
    unset, so libdebuginfod is never loaded (the dynamic loader's log says)."""
    objcopy, strip = shutil.which("objcopy"), shutil.which("strip")
    if not objcopy or not strip:
        raise Skip("objcopy or strip not installed")
    d = ctx.fresh_dir("split")
    demo = os.path.join(d, "demo")
    shutil.copy(ctx.sample("demo"), demo)
    debug = os.path.join(d, ".debug" if where == "dotdebug" else "", "demo.debug")
    os.makedirs(os.path.dirname(debug), exist_ok=True)
    steps = [[objcopy, "--only-keep-debug", demo, debug], [strip, "--strip-all", demo]]
    if where != "unlinked":
        steps.append([objcopy, "--add-gnu-debuglink=" + debug, demo])
    for argv in steps:
        step = run(argv, cwd=d)
        eq(step.code, 0, "%s (test precondition)\n%s" % (" ".join(argv), step.describe()))
    if where == "missing":
        os.unlink(debug)
    _, trace = ctx.record([demo], expect_code=0)
    env = {k: v for k, v in clean_env({"LD_DEBUG": "files"}).items() if k != "DEBUGINFOD_URLS"}
    res = run([ctx.hg, "report", trace, "--format", "json", "--top", "0"], env=env)
    eq(res.code, 0, "report exit status\n" + res.describe())
    check("libdebuginfod" not in res.errtext,
          "report loaded libdebuginfod without DEBUGINFOD_URLS:\n" + clip(res.errtext))
    proc = only_process(json.loads(res.out), "stripped demo")
    if where != "missing":
        check_demo(proc, "demo with its debug file " + where)
        return
    mine = [s for s in proc["sites"] if s["frames"] and
            (s["frames"][0].get("module") or "").endswith("/split/demo")]
    eq(sorted((s["live_blocks"], s["live_bytes"]) for s in mine), [(1, 64), (16, 16384)],
       "sites in the stripped demo (blocks, bytes)")
    for s in mine:
        eq(s["frames"][0].get("file"), None, "file of a frame without debug information")


test_demo_separate_debug_info.params = ["beside", "dotdebug", "unlinked", "missing"]


THREAD_EXPECT = (  # function, allocated_bytes, live_blocks, live_bytes
    ("thread_alpha", 880000, 1, 72),
    ("thread_beta", 1200000, 2, 168),
    ("thread_gamma", 1520000, 3, 288),
    ("thread_delta", 1840000, 4, 432),
)


def test_threads(ctx, clock):
    """Four threads; with HEAPGRAPH_CLOCK=monotonic the ring's times are CLOCK_MONOTONIC's
    rather than the scaled TSC's (the default where the kernel keeps time with the TSC), and
    every figure is the same."""
    env = clean_env({"HEAPGRAPH_CLOCK": clock}) if clock != "default" else None
    res, trace = ctx.record([ctx.sample("threads")], expect_code=0, env=env)
    eq(res.text, "threads: done\n", "stdout")
    proc = only_process(ctx.report_json(trace), "threads")
    eq(proc["totals"]["lost_events"], 0, "lost_events")
    for fn, allocated, blocks, live in THREAD_EXPECT:
        site = the_site(proc, fn)
        check_site(site, fn, allocations=20000, allocated_bytes=allocated, live_blocks=blocks,
                   live_bytes=live)
        check_frame(site["frames"][0], fn, "threads.c", fn)


test_threads.params = ["default", "monotonic"]

RING_PAGE = 4096
SLOT = 64 << 10  # record --slot-size below


def test_tracer_memory(ctx):
    """The tracer's own memory in the process, as the shim counts it from its page tables at the
    exit snapshot and as the process exits. threads.c's four threads each write some 1.3 MB of
    records through a ring slot of their own, at once: with 64 KiB slots, each thread's window
    widens from the first 16 KiB to the whole slot, and all of each slot's pages are touched.
    The main thread's slot holds at least a page, and the ring's header
    (4 KiB, then 128 bytes per slot: 2 pages for 64 slots) at most 3. A process killed by a
    signal has no sample: null, and no line in the text."""
    res, trace = ctx.record([ctx.sample("threads")], expect_code=0,
                            options=["--slot-size", str(SLOT), "--slots", "64"])
    eq(res.text, "threads: done\n", "stdout")
    proc = only_process(ctx.report_json(trace), "threads")
    tr = proc["tracer"]
    check(tr is not None, "no sample of the tracer's memory")
    check(4 * SLOT + RING_PAGE <= tr["ring_bytes"] <= 5 * SLOT + 3 * RING_PAGE,
          "ring bytes %d: four whole 64 KiB slots, some of a fifth and the header's pages"
          % tr["ring_bytes"])
    check(0 < tr["tables_bytes"], "tables: %d bytes" % tr["tables_bytes"])
    own, peak = tr["tables_bytes"] + tr["ring_bytes"], proc["totals"]["peak_bytes"]
    share = ("%.1fx the heap's peak" % (own / peak) if own > peak else
             "%.1f%% of the heap's peak" % (100.0 * own / peak))
    text = run([ctx.hg, "report", trace, "--top", "1"]).text
    want = "  tracer's own memory: %s resident (tables %s, ring %s), %s" % (
        fmt_bytes(own), fmt_bytes(tr["tables_bytes"]), fmt_bytes(tr["ring_bytes"]), share)
    check(want in text.splitlines(), "report text lacks %r:\n%s" % (want, clip(text)))
    _, trace = ctx.record([ctx.sample("sigkill")], expect_code=137)
    rep = ctx.report_json(trace)
    eq([p["tracer"] for p in rep["processes"]], [None] * len(rep["processes"]),
       "sigkill: tracer samples")
    text = run([ctx.hg, "report", trace]).text
    check("tracer's own memory" not in text, "sigkill report shows a tracer line:\n" + text)


def test_handoff(ctx, resolution):
    """samples/handoff.c: 40,000 blocks freed by another thread than the one that allocated them,
    the same few addresses going back and forth many times within a millisecond: at the default
    1 ms resolution, as with exact times, every one is accounted for."""
    options = {"default": (), "exact": ("--time-resolution", "1ns")}[resolution]
    res, trace = ctx.record([ctx.sample("handoff")], expect_code=0, options=options)
    eq(res.text, "handoff: 40000 blocks handed over\n", "stdout")
    proc = only_process(ctx.report_json(trace), "handoff")
    eq(proc["totals"]["lost_events"], 0, "lost events")
    eq(proc["totals"]["unknown_frees"], 0, "unknown frees")
    for fn, size in (("produce_small", 48), ("produce_large", 208)):
        site = the_site(proc, fn, through=True)  # frames[0]: produce, inlined into it
        check_site(site, fn, allocations=20001, allocated_bytes=20001 * size, live_blocks=1,
                   live_bytes=size)
    r = run([ctx.hg, "leaks", trace, "--format", "json", "--top", "0"])
    eq(r.code, 0, "leaks exit status")
    leaked = [g for g in only_process(json.loads(r.out), "handoff leaks")["leaks"]
              if any(fn_base(f) in ("produce_small", "produce_large") for f in g["frames"])]
    eq(leaked, [], "leak groups from the producers")


test_handoff.params = ("default", "exact")


ENTRY_EXPECT = (
    ("leak_malloc", 101), ("leak_calloc", 203), ("leak_realloc_grow", 305),
    ("leak_realloc_null", 407), ("leak_reallocarray", 506), ("leak_posix_memalign", 608),
    ("leak_aligned_alloc", 768), ("leak_memalign", 809), ("leak_valloc", 910),
    ("leak_pvalloc", 1011),
)
ENTRY_TOTALS = dict(allocations=14, frees=4, allocated_bytes=5839, live_bytes=5628,
                    live_blocks=10, peak_bytes=5628, lost_events=0, unknown_frees=0)


def check_entrypoints(proc, what, lines=True):
    for fn, size in ENTRY_EXPECT:
        site = the_site(proc, fn)
        check_site(site, "%s %s" % (what, fn), live_bytes=size, live_blocks=1, allocations=1,
                   allocated_bytes=size)
        check_frame(site["frames"][0], fn, "entrypoints.c", fn if lines else None)
    eq(len(proc["sites"]), len(ENTRY_EXPECT), what + ": number of live sites")
    check_totals(proc, what, **ENTRY_TOTALS)


def test_entrypoints(ctx):
    res, trace = ctx.record([ctx.sample("entrypoints")], expect_code=0)
    eq(res.text, "entrypoints: 10 leaks\n", "stdout")
    check_entrypoints(only_process(ctx.report_json(trace), "entrypoints"), "entrypoints")


def test_record_depth(ctx):
    for depth in (1, 2):
        _, trace = ctx.record([ctx.sample("entrypoints")], depth=depth, expect_code=0)
        proc = only_process(ctx.report_json(trace), "entrypoints --depth %d" % depth)
        for site in proc["sites"]:
            check(1 <= len(site["frames"]) <= depth,
                  "--depth %d: site has %d frames: %s" % (depth, len(site["frames"]),
                                                          site_desc(site)))
        check_entrypoints(proc, "entrypoints --depth %d" % depth)
        if depth == 2:
            for site in proc["sites"]:
                eq(fn_base(site["frames"][1]), "main", "--depth 2: frames[1] of " +
                   site_desc(site))


def test_forkexec(ctx):
    prog = ctx.sample("forkexec")
    res, trace = ctx.record([prog], expect_code=0)
    eq(res.text, "forkexec: child exited 42\n", "stdout")
    rep = ctx.report_json(trace)
    eq(len(rep["processes"]), 3, "number of process images")
    eq([(p["forked"], p["exec"]) for p in rep["processes"]],
       [(False, False), (True, False), (False, True)],
       "(forked, exec) of the images in order of start")
    parent, child, image = rep["processes"]
    check_lineage(rep, "forkexec")

    eq(parent["command"], prog, "parent command")
    eq(parent["exit"], {"code": 0}, "parent exit")
    check_site(the_site(parent, "parent_leak"), "parent parent_leak", live_bytes=1111,
               live_blocks=1, allocations=1)
    check_site(the_site(parent, "make_shared_block"), "parent make_shared_block (freed only "
               "in the child)", live_bytes=500, live_blocks=1, allocations=1)
    check_totals(parent, "parent", allocations=2, frees=0, allocated_bytes=1611,
                 live_bytes=1611, live_blocks=2)

    eq(child["ppid"], parent["pid"], "fork child ppid")
    eq(child["exec"], False, "fork child exec flag")
    eq(child["command"], prog, "fork child command")
    eq(child["exit"], {"exec": True}, "fork child exit (replaced by exec)")
    check_site(the_site(child, "child_leak"), "child child_leak", live_bytes=2222,
               live_blocks=1, allocations=1, allocated_bytes=2222)
    check_site(the_site(child, "parent_leak"), "child parent_leak (inherited)",
               live_bytes=1111, live_blocks=1, allocations=0, allocated_bytes=0)
    eq(len(sites_at(child, "make_shared_block")), 0, "child: live make_shared_block sites")
    eq(len(sites_at(child, "exec_leak")), 0, "child: live exec_leak sites")
    eq(len(child["sites"]), 2, "fork child: number of live sites")
    check_totals(child, "fork child", allocations=1, frees=1, allocated_bytes=2222,
                 live_bytes=3333, live_blocks=2, peak_bytes=3333, unknown_frees=0)

    eq(image["pid"], child["pid"], "exec'd image pid")
    eq(image["ppid"], parent["pid"], "exec'd image ppid")
    eq(image["forked"], False, "exec'd image forked flag")
    eq(image["command"], prog + " --exec-image", "exec'd image command")
    eq(os.path.basename(image["exe"]), "forkexec", "exec'd image exe")
    eq(image["exit"], {"code": 42}, "exec'd image exit")
    check_site(the_site(image, "exec_leak"), "exec'd exec_leak", live_bytes=3333,
               live_blocks=1, allocations=1)
    eq(len(image["sites"]), 1, "exec'd image: number of live sites")
    check_totals(image, "exec'd image", allocations=1, frees=0, allocated_bytes=3333,
                 live_bytes=3333, live_blocks=1)


SIGKILL_TOTALS = dict(allocations=105, frees=100, allocated_bytes=22715, live_bytes=15015,
                      live_blocks=5, peak_bytes=15015, lost_events=0, unknown_frees=0)


def test_sigkill(ctx):
    res, trace = ctx.record([ctx.sample("sigkill")], expect_code=137)
    eq(res.text, "sigkill: killing myself\n", "stdout")
    proc = only_process(ctx.report_json(trace), "sigkill")
    eq(proc["exit"], {"signal": 9}, "exit")
    site = the_site(proc, "hoard")
    check_site(site, "hoard", live_blocks=5, live_bytes=15015, allocations=5,
               allocated_bytes=15015)
    check_frame(site["frames"][0], "hoard", "sigkill.c", "hoard")
    eq(len(proc["sites"]), 1, "number of live sites")
    check_totals(proc, "sigkill", **SIGKILL_TOTALS)


def test_reaped(ctx):
    """Children killed by signals: their ends come from the traced parent's waits."""
    res, trace = ctx.record([ctx.sample("reaped")], expect_code=0)
    eq(res.text, "reaped: kill 9, exit 3\n", "stdout")
    rep = ctx.report_json(trace)
    eq(len(rep["processes"]), 4, "number of process images")
    parent, children = rep["processes"][0], rep["processes"][1:]
    eq(parent["exit"], {"code": 0}, "parent exit")
    want = [({"signal": 15}, 1001), ({"signal": 9}, 1002), ({"code": 3}, 1003)]
    for i, (child, (end, size)) in enumerate(zip(children, want)):
        what = "child %d" % (i + 1)
        eq(child["ppid"], parent["pid"], what + " ppid")
        eq(child["exit"], end, what + " exit")
        check_site(the_site(child, "child_block"), what + " child_block", live_bytes=size,
                   live_blocks=1, allocations=1, allocated_bytes=size)
    text = ctx.report(trace, fmt=None, top=None).text
    check("killed by signal 15 (SIGTERM)" in text and "killed by signal 9 (SIGKILL)" in text
          and "end not recorded" not in text, "text report: the children's ends")


def test_dlopen_leak(ctx):
    res, trace = ctx.record([ctx.sample("dlopen_leak")], expect_code=0)
    eq(res.text, "dlopen_leak: leaked 4321 bytes, library unloaded\n",
       "stdout (the library must really be unloaded for this test to mean anything)")
    proc = only_process(ctx.report_json(trace), "dlopen_leak")
    site = the_site(proc, "dlleak_make_garbage")
    check_site(site, "dlleak_make_garbage", live_blocks=1, live_bytes=4321, allocations=1,
               allocated_bytes=4321)
    check_frame(site["frames"][0], "dlleak_make_garbage", "libdlleak.c", "dlleak",
                module_suffix="/libdlleak.so")
    check(len(site["frames"]) >= 2, "dlleak site has no caller frame")
    check_frame(site["frames"][1], "call_library", "dlopen_leak.c")


def test_dlopen_leak_path_arg(ctx):
    lib = ctx.sample("libdlleak.so")
    res, trace = ctx.record([ctx.sample("dlopen_leak"), lib], expect_code=0)
    check("library unloaded" in res.text, "stdout: %r" % res.text)
    proc = only_process(ctx.report_json(trace), "dlopen_leak LIB")
    check_site(the_site(proc, "dlleak_make_garbage"), "dlleak_make_garbage", live_bytes=4321)


def check_dlswap(ctx, env, mode):
    """A library unloaded and another mapped at its address with the same code but another
    frame size: every stack through the second is whole (swap_alloc <- zeroed_caller <- main),
    and each block is named after the library it came from. A stale unwind rule ends those
    stacks at swap_alloc; naming by address alone gives all ten the library mapped last."""
    res, trace = ctx.record([ctx.sample("dlswap"), os.path.join(ctx.build, "samples")],
                            env=env, expect_code=0)
    eq(res.text, "dlswap: 5 of 5 rounds mapped small where big was\n",
       mode + ": stdout (the loader must reuse the address for this test to mean anything)")
    proc = only_process(ctx.report_json(trace), "dlswap")
    sites = sites_at(proc, "swap_alloc")
    by_lib = {}
    for site in sites:
        eq([fn_base(f) for f in site["frames"][1:3]], ["zeroed_caller", "main"],
           "%s: callers of swap_alloc in %s" % (mode, site_desc(site)))
        lib = os.path.basename(site["frames"][0]["module"])
        by_lib[lib] = by_lib.get(lib, 0) + site["live_bytes"]
    eq(sum(s["live_blocks"] for s in sites), 10, mode + ": blocks live from swap_alloc")
    eq(by_lib, {"libswap_big.so": 5 * 100 + 10, "libswap_small.so": 5 * 200 + 10},
       mode + ": bytes live from swap_alloc, by the library named in its frame")


def test_dlswap(ctx):
    check_dlswap(ctx, None, "stack walker")


def test_dlswap_libunwind(ctx):
    """The same with libunwind taking every stack: its fast path keeps frame shapes per thread
    that no flush reaches, so after an unload the shim walks with unw_step."""
    env = dict(os.environ, HEAPGRAPH_UNWIND="libunwind")
    check_dlswap(ctx, env, "libunwind")


def test_fdreuse(ctx, mode):
    """samples/fdreuse.c closes every descriptor it did not open and opens its own files at 3
    and 4: the copy it makes is exact under record, whoever unwinds (libunwind keeps a pipe of
    its own open, that it reads and writes to test memory)."""
    src, dst = ctx.path("fdreuse-%s.in" % mode), ctx.path("fdreuse-%s.out" % mode)
    data = b"".join(b"line %d of the input\n" % i for i in range(2000))
    with open(src, "wb") as f:
        f.write(data)
    env = dict(os.environ, HEAPGRAPH_UNWIND="libunwind") if mode == "libunwind" else None
    res, _ = ctx.record([ctx.sample("fdreuse"), src, dst], env=env, expect_code=0)
    eq(res.text, "fdreuse: IN at fd 3, OUT at fd 4, %d bytes copied\n" % len(data),
       mode + ": stdout")
    with open(dst, "rb") as f:
        eq(f.read() == data, True, mode + ": the copy is identical to the input")


test_fdreuse.params = ["walker", "libunwind"]


def test_cxx(ctx):
    res, trace = ctx.record([ctx.sample("cxx")], expect_code=0)
    eq(res.text, "cxx: vector 1000 ints (capacity 1024), string 200 chars (capacity 240)\n",
       "stdout (capacities depend on libstdc++'s growth policy)")
    proc = only_process(ctx.report_json(trace), "cxx")
    site = the_site(proc, "make_widget")
    check_site(site, "new Widget", live_bytes=72, live_blocks=1, allocations=1,
               allocated_bytes=72)
    check_frame(site["frames"][0], "make_widget", "cxx.cc", "make_widget")
    site = the_site(proc, "make_table")
    check_site(site, "new uint32_t[77]", live_bytes=308, live_blocks=1, allocations=1,
               allocated_bytes=308)
    check_frame(site["frames"][0], "make_table", "cxx.cc", "make_table")
    check_site(the_site(proc, "fill_vector"), "new std::vector", live_bytes=24, live_blocks=1,
               allocations=1)
    check_site(the_site(proc, "fill_vector", through=True), "vector growth", live_bytes=4096,
               live_blocks=1, allocations=11, allocated_bytes=8188)
    check_site(the_site(proc, "grow_string"), "new std::string", live_bytes=32, live_blocks=1,
               allocations=1)
    check_site(the_site(proc, "grow_string", through=True), "string growth", live_bytes=241,
               live_blocks=1, allocations=4, allocated_bytes=454)
    eq([site_desc(s) for s in proc["sites"]
        if any(fn_base(f) == "churn_widgets" for f in s["frames"])], [],
       "live sites through churn_widgets")
    for site in proc["sites"]:
        top = fn_base(site["frames"][0]) or ""
        check(not top.startswith("operator new") and not top.startswith("malloc"),
              "allocator frame not stripped: " + site_desc(site))


def scale_expect():
    """Per path: (allocations, allocated_bytes, live_blocks, live_bytes), from scale.c."""
    def size(p, r, o):
        return 8 + 8 * ((7 * p + 13 * r + 5 * o) % 61)
    out = {}
    for p in range(8192):
        total = sum(size(p, r, o) for r in range(48) for o in range(4))
        out[p] = (192, total, 1, size(p, 47, 3))
    return out


def scale_path(site, bit1, bit0):
    """Recover the path from the descend frames' call-site lines (see scale.c)."""
    frames = site["frames"]
    path = 0
    for level in range(13):
        # frames[1] is descend at level 13; frames[2 + k] is descend at level 12 - k, whose
        # call-site line encodes bit (12 - k).
        f = frames[2 + (12 - level)] if len(frames) > 14 else {}
        line = f.get("line")
        if fn_base(f) != "descend" or line not in (bit0, bit1):
            raise Fail("scale: cannot read the path from %s" % frame_desc(f))
        path |= (line == bit1) << level
    return path


def test_scale(ctx):
    res, trace = ctx.record([ctx.sample("scale")], expect_code=0)
    eq(res.text, "scale: 8192 stacks, 1672864 allocations\n", "stdout")
    check(res.maxrss_kib < MAX_RSS_KIB, "record used %d KiB (limit %d)" % (res.maxrss_kib,
                                                                           MAX_RSS_KIB))
    rep_res = ctx.report(trace)
    eq(rep_res.code, 0, "report exit status")
    check(rep_res.maxrss_kib < MAX_RSS_KIB, "report used %d KiB" % rep_res.maxrss_kib)
    rep = json.loads(rep_res.out)
    check_schema(rep, True)
    proc = only_process(rep, "scale")
    # The header's hint (hg_format.h): the most blocks live, counted at the end of each drain
    # of the process's slot. 100,000 held at once plus the runtime's few at most; at least
    # 100,000 less the frees one drain can hold after the peak (a 1 MiB window of 24-byte
    # FREE records).
    with open(trace, "rb") as f:
        live_max, live_pid = struct.unpack("<II", f.read(52)[44:52])
    eq(live_pid, proc["pid"], "header live_blocks_pid")
    check(100000 - (1 << 20) // 24 <= live_max <= 100000 + 64,
          "header live_blocks_max %d, expected about 100000" % live_max)
    check_totals(proc, "scale", allocations=1672864, frees=1664672, allocated_bytes=394869584,
                 live_bytes=2031824, live_blocks=8192, peak_bytes=4800000, lost_events=0,
                 unknown_frees=0)
    leaves = sites_at(proc, "leaf")
    eq(len(leaves), 8192, "number of distinct live sites at leaf")
    eq(len(sites_at(proc, "hold_many")), 0, "live sites at hold_many")
    expect = scale_expect()
    got = sorted((s["allocations"], s["allocated_bytes"], s["live_blocks"], s["live_bytes"])
                 for s in leaves)
    if got != sorted(expect.values()):
        raise Fail("scale: per-site numbers differ from scale.c's formula (first few: %r)"
                   % got[:3])
    eq(sum(s["allocated_bytes"] for s in leaves), 390069584, "allocated_bytes over leaf sites")
    leaf_line = marker_line("scale.c", "leaf")
    bit1, bit0 = marker_line("scale.c", "bit1"), marker_line("scale.c", "bit0")
    seen = set()
    for site in leaves:
        eq(site["frames"][0].get("line"), leaf_line, "leaf site line")
        path = scale_path(site, bit1, bit0)
        check(path not in seen, "scale: two sites for path %d" % path)
        seen.add(path)
        got = (site["allocations"], site["allocated_bytes"], site["live_blocks"],
               site["live_bytes"])
        eq(got, expect[path], "scale: site of path %d" % path)


EXIT_MODES = (  # mode, record status, report exit
    ("exit", 23, {"code": 23}),
    ("_exit", 24, {"code": 24}),
    ("return", 25, {"code": 25}),
    ("term", 128 + 15, {"signal": 15}),
)
EXIT_TOTALS = dict(allocations=13, frees=10, allocated_bytes=10600, live_bytes=600,
                   live_blocks=3, peak_bytes=1000, lost_events=0, unknown_frees=0)


def check_exitcode(proc, what):
    site = the_site(proc, "leak_before_exit")
    check_site(site, what, live_blocks=3, live_bytes=600, allocations=3, allocated_bytes=600)
    check_frame(site["frames"][0], "leak_before_exit", "exitcode.c", "leak_before_exit")
    eq(len(proc["sites"]), 1, what + ": number of live sites")
    check_totals(proc, what, **EXIT_TOTALS)


def test_exitcode(ctx, mode):
    code, report_exit = {m: (c, e) for m, c, e in EXIT_MODES}[mode]
    prog = ctx.sample("exitcode")
    bare = run([prog, mode])
    eq(bare.code, code if code < 128 else -(code - 128), "untraced exit status (precondition)")
    res, trace = ctx.record([prog, mode], expect_code=code)
    eq(res.out, bare.out, "stdout under record")
    check_stderr_passthrough(bare.errtext, res, trace)
    proc = only_process(ctx.report_json(trace), "exitcode " + mode)
    eq(proc["command"], prog + " " + mode, "command")
    eq(proc["exit"], report_exit, "exit")
    check_exitcode(proc, "exitcode " + mode)


test_exitcode.params = [m for m, _, _ in EXIT_MODES]
