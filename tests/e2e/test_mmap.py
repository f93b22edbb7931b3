"""test_mmap.py - the mmap domain: anonymous mappings the program makes itself, outside malloc."""
import json
import os
import re


from harness import (Skip, check, check_frame, clip, eq, only_process, run)
from test_leaks import check_leak_totals, describe_leaks, leaks_json

KIB, MIB = 1 << 10, 1 << 20
ARENA_LIVE = 53 * MIB - 320 * KIB


def mmap_sites(proc, fn):
    """The mmap domain's sites whose innermost frame is fn."""
    return [s for s in proc["mmap"]["sites"]
            if s["frames"] and s["frames"][0]["function"] == fn]


def test_mmap_arena(ctx):
    """samples/mmap_arena.c: 64 arenas of 1 MiB, some unmapped whole, one trimmed, one split
    by a hole, one grown by mremap; glibc's own mmap of a 1 MiB malloc and a file mapping
    stay out of the domain; a block held only from an arena is reachable."""
    res, trace = ctx.record([ctx.sample("mmap_arena")], expect_code=0)
    eq(res.text, "mmap_arena: %d bytes in 51 mappings\n" % ARENA_LIVE, "stdout")
    proc = only_process(ctx.report_json(trace), "mmap_arena")
    mm = proc["mmap"]
    got = {k: mm[k] for k in ("live_bytes", "live_mappings", "reserved_bytes", "peak_bytes",
                              "mapped_bytes", "mmap_calls", "munmap_calls", "mremap_calls")}
    eq(got, {"live_bytes": ARENA_LIVE, "live_mappings": 51, "reserved_bytes": 14 * MIB,
             "peak_bytes": 64 * MIB, "mapped_bytes": 84 * MIB, "mmap_calls": 65,
             "munmap_calls": 18, "mremap_calls": 1}, "mmap domain totals")
    check(0 < mm["peak_time_ns"], "peak time %r" % mm["peak_time_ns"])
    eq(len(mm["sites"]), 3, "mmap sites")
    for fn, live, maps, calls, mapped in (("arena_new", 47 * MIB - 320 * KIB, 48, 64, 64 * MIB),
                                          ("arena_grow", 4 * MIB, 1, 1, 4 * MIB),
                                          ("arena_reserve", 2 * MIB, 2, 1, 16 * MIB)):
        found = mmap_sites(proc, fn)
        eq(len(found), 1, "mmap sites at %s" % fn)
        s = found[0]
        eq((s["live_bytes"], s["live_mappings"], s["calls"], s["mapped_bytes"]),
           (live, maps, calls, mapped), "mmap site %s (live, mappings, calls, mapped)" % fn)
        check_frame(s["frames"][0], fn, "mmap_arena.c", fn)
    # The heap domain is untouched by the arenas: the 1 MiB block and the kept 100 bytes.
    t = proc["totals"]
    eq((t["allocations"], t["frees"], t["allocated_bytes"], t["peak_bytes"], t["live_bytes"]),
       (2, 1, MIB + 100, MIB, 100), "heap totals")
    lk = only_process(leaks_json(ctx, trace), "mmap_arena")
    check_leak_totals(lk, "mmap_arena (leaks: %s)" % describe_leaks(lk), direct_bytes=0,
                      indirect_bytes=0, cycle_bytes=0, reachable_bytes=100, reachable_blocks=1)
    r = run([ctx.hg, "report", trace, "--frames", "1"])
    eq(r.code, 0, "text report exit status")
    for words in ("anonymous mappings outside malloc: 52.7 MiB in 51 mappings at the end; "
                  "peak 64.0 MiB", "and 14.0 MiB of address space reserved (PROT_NONE",
                  "84.0 MiB mapped in all; calls: 65 mmap, 1 mremap, 18 munmap",
                  "#1 46.7 MiB in 48 mappings (64 calls, 64.0 MiB mapped in all)",
                  "at arena_new (mmap_arena.c:"):
        check(words in r.text, "text report lacks %r:\n%s" % (words, r.text))


def test_mmap_report_top(ctx):
    """--top limits the mmap domain's sites as it does the heap's."""
    _, trace = ctx.record([ctx.sample("mmap_arena")], expect_code=0)
    r = run([ctx.hg, "report", trace, "--format", "json", "--top", "1"])
    eq(r.code, 0, "exit status")
    mm = only_process(json.loads(r.out), "mmap_arena")["mmap"]
    eq([s["frames"][0]["function"] for s in mm["sites"]], ["arena_new"], "top mmap site")


def test_mmap_none(ctx):
    """A program that maps nothing itself has an empty domain and no text section."""
    _, trace = ctx.record([ctx.sample("demo")], expect_code=0)
    mm = only_process(ctx.report_json(trace), "demo")["mmap"]
    eq((mm["live_bytes"], mm["peak_bytes"], mm["mmap_calls"], mm["sites"]), (0, 0, 0, []),
       "demo's mmap domain")
    r = run([ctx.hg, "report", trace])
    check("anonymous mappings" not in r.text, "text report shows an empty mmap domain")


PY = "/usr/bin/python3"


def test_mmap_python_obmalloc(ctx):
    """CPython without PYTHONMALLOC=malloc: a million small objects live in obmalloc's arenas,
    which CPython maps itself; they are in the mmap domain, charged to libpython's frames."""
    if not os.access(PY, os.X_OK):
        raise Skip("%s is not installed" % PY)
    res, trace = ctx.record([PY, "-c", "x = [object() for _ in range(10**6)]; print(len(x))"],
                            expect_code=0)
    eq(res.text, "1000000\n", "stdout")
    procs = [p for p in ctx.report_json(trace)["processes"] if p["mmap"]["mmap_calls"]]
    eq(len(procs), 1, "processes with mappings of their own")
    mm = procs[0]["mmap"]
    # 10**6 objects of 16 bytes fill at least 15 arenas of 1 MiB (256 KiB before 3.10).
    check(mm["peak_bytes"] >= 15 * MIB, "mmap peak %d < 15 MiB" % mm["peak_bytes"])
    by_python = sum(s["mapped_bytes"] for s in mm["sites"]
                    if re.search(r"python", s["frames"][0]["module"] or ""))
    check(by_python >= 15 * MIB, "bytes mapped from python's frames %d < 15 MiB (sites: %r)"
          % (by_python, [(s["frames"][0]["function"], s["mapped_bytes"]) for s in mm["sites"]]))
    # None of the objects is a malloc block: the heap's peak stays below the objects' bytes.
    check(procs[0]["totals"]["peak_bytes"] < 16 * 10**6 + 8 * MIB,
          "heap peak %d counts obmalloc's objects" % procs[0]["totals"]["peak_bytes"])


def test_mmap_peak(ctx):
    """`peak`: the mmap domain's own peak, its sites, and its bytes along the heap's timeline."""
    _, trace = ctx.record([ctx.sample("mmap_arena")], expect_code=0)
    r = run([ctx.hg, "peak", trace, "--format", "json", "--top", "0"])
    eq(r.code, 0, "peak exit status")
    proc = only_process(json.loads(r.out), "mmap_arena")
    mm = proc["mmap"]
    eq((mm["peak_bytes"], mm["live_bytes"], len(mm["sites"])), (64 * MIB, ARENA_LIVE, 3),
       "peak: mmap domain")
    eq(proc["peak"]["bytes"], MIB, "the heap's own peak: big_block")
    tl = proc["timeline"]
    # The heap's last event is kept_block; the reservation (2 MiB committed) comes after it.
    # A timeline point holds the state at the end of its step (1 ms or more), so when the
    # reservation falls in the same step as the mmap domain's previous point, that point
    # already counts it: which of the two depends on how the program was scheduled.
    check(tl[-1]["mmap_bytes"] in (ARENA_LIVE - 2 * MIB, ARENA_LIVE),
          "mmap bytes at the last timeline point: %d" % tl[-1]["mmap_bytes"])
    check(all(p["mmap_bytes"] <= 64 * MIB for p in tl), "timeline mmap bytes above its peak")
    r = run([ctx.hg, "peak", trace])
    eq(r.code, 0, "peak text exit status")
    for words in ("anonymous mappings outside malloc: peak 64.0 MiB at", "52.7 MiB at the end",
                  "the program's own mappings on top of it (=)"):
        check(words in r.text, "peak text lacks %r:\n%s" % (words, r.text))


THREADS_FORK = """
import mmap, os, threading
maps = []
def work():
    for _ in range(25):
        m = mmap.mmap(-1, 1 << 20)
        m.write(b"x" * 4096)
        maps.append(m)
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
pid = os.fork()
if pid == 0:
    os._exit(len(maps) % 7)
print(len(maps), os.waitpid(pid, 0)[1] >> 8)
"""


def test_mmap_python_threads_fork(ctx):
    """Four threads map 100 MiB with Python's mmap module, then the process forks: the parent's
    domain holds them (until Python's exit closes them), the child starts with a copy and
    leaves with os._exit, nothing is lost."""
    if not os.access(PY, os.X_OK):
        raise Skip("%s is not installed" % PY)
    res, trace = ctx.record([PY, "-c", THREADS_FORK], expect_code=0)
    eq(res.text, "100 2\n", "stdout (100 mappings, the child's exit code)")
    rep = ctx.report_json(trace)
    eq(rep["lost_events"], 0, "events lost")
    parent = [p for p in rep["processes"] if not p["forked"]]
    child = [p for p in rep["processes"] if p["forked"]]
    eq((len(parent), len(child)), (1, 1), "images: the program and its fork child")
    pm, cm = parent[0]["mmap"], child[0]["mmap"]
    eq((parent[0]["totals"]["lost_events"], child[0]["totals"]["lost_events"]), (0, 0),
       "events lost per process")
    check(pm["mmap_calls"] >= 100 and pm["peak_bytes"] >= 100 * MIB,
          "parent: %d mmap calls, peak %d bytes" % (pm["mmap_calls"], pm["peak_bytes"]))
    check(pm["munmap_calls"] >= 100 and pm["live_bytes"] < 100 * MIB,
          "parent: Python's exit unmaps the 100 buffers (%d munmap calls, %d bytes live)"
          % (pm["munmap_calls"], pm["live_bytes"]))
    check(cm["live_bytes"] >= 100 * MIB and cm["mmap_calls"] < 100,
          "fork child: a copy of the parent's mappings (%d bytes), not calls of its own (%d)"
          % (cm["live_bytes"], cm["mmap_calls"]))
    # the text names the child's copied mappings as such, as it does its copied blocks
    r = run([ctx.hg, "report", trace])
    eq(r.code, 0, "report exit status")
    check(re.search(r"^  #\d+ [\d.]+ MiB in \d+ mappings \(inherited at the fork\)$", r.text,
                    re.M), "no inherited mapping site in the text:\n" + clip(r.text, 3000))


def test_mmap_behind_another_malloc(ctx):
    """samples/libmapalloc.c, a malloc that maps every block, preloaded behind the shim (as
    jemalloc or tcmalloc would be): its mappings are malloc's, made while the shim records the
    allocation, so the demo's heap report is unchanged, its mmap domain empty, nothing lost."""
    from test_samples import check_demo
    lib = ctx.sample("libmapalloc.so")
    res, trace = ctx.record(["/bin/sh", "-c", 'LD_PRELOAD="$LD_PRELOAD:%s" exec %s'
                             % (lib, ctx.sample("demo"))], expect_code=0)
    eq(res.text, "hello, heapgraph\n16 words cached, 57 letters counted\n", "demo stdout")
    rep = ctx.report_json(trace)
    eq(rep["lost_events"], 0, "events lost")
    demo = [p for p in rep["processes"] if p["exe"].endswith("/demo")]
    eq(len(demo), 1, "the demo's image")
    eq(demo[0]["totals"]["lost_events"], 0, "events lost in the demo")
    check_demo(demo[0], "demo behind libmapalloc")
    mm = demo[0]["mmap"]
    eq((mm["mmap_calls"], mm["munmap_calls"], mm["live_bytes"], mm["sites"]), (0, 0, 0, []),
       "the demo's mmap domain (the allocator's mappings are malloc's)")
