"""test_frag.py - `heapgraph frag`: live vs free vs resident, pinned pages, trim estimate."""
import json
import re
import struct

from harness import Skip, check, eq, fmt_bytes, only_process, run

BLOCKS, SIZE, PAGE = 3200, 512, 4096
KIB, MIB = 1 << 10, 1 << 20


def frag_json(ctx, trace):
    r = run([ctx.hg, "frag", trace, "--format", "json", "--top", "0"])
    eq(r.code, 0, "frag exit status")
    return json.loads(r.out)


UNKNOWN_AT_PEAK = ("allocator_free_bytes", "heap_span_bytes", "pages_with_live_data",
                   "pages_free", "trim_estimate_bytes", "malloc", "pinners", "top_block",
                   "other_bytes")


def check_peak_rss(ctx, trace, proc):
    """The peak_rss entry: the moment `peak` names as the largest RSS sample, what only a
    snapshot can tell null, and the gap = RSS - live heap - own mappings."""
    pk = only_process(json.loads(run([ctx.hg, "peak", trace, "--format", "json"]).out),
                      "peak of the same trace")
    fr = [f for f in proc["fragmentation"] if f["at"] == "peak_rss"]
    eq(len(fr), 1, "peak_rss entries")
    fr = fr[0]
    eq((fr["rss_bytes"], fr["time_ns"]), (pk["peak"]["rss_peak_bytes"],
                                          pk["peak"]["rss_peak_time_ns"]),
       "peak_rss is the largest RSS sample `peak` reports")
    for key in UNKNOWN_AT_PEAK:
        eq(fr[key], None, "peak_rss: %s is unknown without a snapshot" % key)
    eq(fr["gap_bytes"], max(0, fr["rss_bytes"] - fr["live_bytes"] - fr["mmap_bytes"]),
       "peak_rss: gap_bytes")
    return fr


def test_frag_fill(ctx):
    """samples/frag_fill.c: 100 MiB of 512-byte blocks, all but every 64th freed."""
    res, trace = ctx.record([ctx.sample("frag_fill")], expect_code=0)
    m = re.match(r"frag_fill: live (\d+) in (\d+) blocks; rss before trim (\d+), after (\d+)\n$",
                 res.text)
    check(m, "stdout %r" % res.text)
    live, blocks, rss_before, rss_after = (int(x) for x in m.groups())
    eq((live, blocks), (BLOCKS * SIZE, BLOCKS), "what the sample says it keeps")
    proc = only_process(frag_json(ctx, trace), "frag_fill")
    at = {f["at"]: f for f in proc["fragmentation"]}
    eq(sorted(at), ["before-trim", "exit", "peak_rss"], "fragmentation points")
    fr = at["before-trim"]
    eq((fr["live_bytes"], fr["live_blocks"]), (live, blocks), "live at the snapshot")
    check(fr["heap_span_bytes"] >= 100 << 20, "heap span %d < 100 MiB" % fr["heap_span_bytes"])
    eq(fr["pages_with_live_data"], BLOCKS, "each kept block alone on its page")
    top = fr["pinners"][0]
    eq((top["frames"][0]["function"], top["blocks"], top["live_bytes"]),
       ("fill", BLOCKS, BLOCKS * SIZE), "the pinning site")
    eq(top["pinned_bytes"], BLOCKS * PAGE, "pinned bytes: one page per kept block")
    # The estimate against what malloc_trim(0) really gave back, as the sample measured it.
    freed = rss_before - rss_after
    check(abs(fr["trim_estimate_bytes"] - freed) <= freed // 5,
          "trim estimate %d vs %d really given back (more than 20%% apart)"
          % (fr["trim_estimate_bytes"], freed))
    # glibc's own account (mallinfo2, sampled by the shim just before the snapshot) agrees
    # with the analysis from the blocks and regions.
    mi = fr["malloc"]
    check(mi is not None, "no mallinfo2 sample before the snapshot")
    eq(mi["arena_bytes"], fr["heap_span_bytes"], "malloc's arena bytes = heap span")
    check(abs(mi["free_bytes"] - fr["allocator_free_bytes"]) <= fr["heap_span_bytes"] // 50,
          "malloc's free bytes %d vs ours %d" % (mi["free_bytes"], fr["allocator_free_bytes"]))
    eq(mi["releasable_bytes"], fr["top_block"]["free_above_bytes"],
       "malloc's releasable top = the free bytes above the top block")
    # Of those, the 63 blocks fill allocated after the last one kept, 528-byte chunks, were
    # handed out: the untouched top starts above them.
    eq(fr["untouched_top_bytes"], fr["top_block"]["free_above_bytes"] - 63 * 528,
       "untouched top at before-trim")
    ex = at["exit"]
    eq(ex["pinners"][0]["frames"][0]["function"], "fill", "at exit fill still pins")
    # malloc_trim(0) gave the top back: what glibc's top chunk holds now was handed out before.
    eq(ex["untouched_top_bytes"], 0, "untouched top at exit, after malloc_trim(0)")
    check_peak_rss(ctx, trace, proc)
    r = run([ctx.hg, "frag", trace])
    eq(r.code, 0, "text exit status")
    for word in ("3,200 blocks", "pin 12.5 MiB", "diagnosis:", "at the peak of the resident set",
                 "pinning sites: n/a"):
        check(word in r.text, "text output lacks %r" % word)
    # A pinning site's line names its callers too (behind a wrapper, its innermost frame alone
    # reads the same on every line).
    check(re.search(r"^    pins: fill \(frag_fill\.c:\d+\) < main \(frag_fill\.c:\d+\) < \S+"
                    r".*: 3,200 blocks, 1\.56 MiB live, pin 12\.5 MiB$", r.text, re.M),
          "pins line:\n" + r.text)


def test_frag_pandas(ctx):
    """samples/frag_pandas.py: a deleted DataFrame leaves malloc's memory free but resident,
    pinned by the strings that were kept (Debian's python3-pandas, PYTHONMALLOC=malloc)."""
    import os
    import subprocess
    from harness import Skip, clean_env
    py = "/usr/bin/python3"
    if subprocess.run([py, "-c", "import pandas"], capture_output=True).returncode != 0:
        raise Skip("python3-pandas is not installed (scripts/install-deps.sh test installs it)")
    sample = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "samples", "frag_pandas.py")
    res, trace = ctx.record([py, sample], expect_code=0,
                            env=clean_env({"PYTHONMALLOC": "malloc"}))
    check(re.match(r"frag_pandas: rows 400000 kept 6250 rss \d+\n$", res.text),
          "stdout %r" % res.text)
    procs = [p for p in frag_json(ctx, trace)["processes"]
             if any(f["at"] == "after-del" for f in p["fragmentation"])]
    eq(len(procs), 1, "one process took the after-del snapshot")
    fr = [f for f in procs[0]["fragmentation"] if f["at"] == "after-del"][0]
    check(fr["allocator_free_bytes"] > fr["live_bytes"],
          "free %d not above live %d after del + gc.collect()"
          % (fr["allocator_free_bytes"], fr["live_bytes"]))
    top = fr["pinners"][0]
    check(top["blocks"] >= 5000 and top["pinned_bytes"] >= 10 * top["live_bytes"],
          "the kept strings pin pages: %r" % {k: top[k] for k in ("blocks", "live_bytes",
                                                                    "pinned_bytes")})
    check(fr["trim_estimate_bytes"] > 0, "nothing to trim after deleting the frame")


def test_frag_mmap_arena(ctx):
    """samples/mmap_arena.c: the program's own mappings are part of where the resident set
    goes, at the exit snapshot and at the largest RSS sample (taken while the sample holds all
    64 arenas for 300 ms)."""
    _, trace = ctx.record([ctx.sample("mmap_arena")], expect_code=0)
    proc = only_process(frag_json(ctx, trace), "mmap_arena")
    at = {f["at"]: f for f in proc["fragmentation"]}
    eq(sorted(at), ["exit", "peak_rss"], "fragmentation points")
    ex = at["exit"]
    eq((ex["live_bytes"], ex["mmap_bytes"], ex["mmap_mappings"]), (100, 53 * MIB - 320 * KIB, 51),
       "exit: live heap, own mappings")
    check(ex["rss_bytes"] is not None, "an RSS sample before the exit snapshot")
    eq(ex["gap_bytes"], max(0, ex["rss_bytes"] - 100 - ex["mmap_bytes"]), "exit: gap_bytes")
    eq(ex["other_bytes"], max(0, ex["rss_bytes"] - ex["heap_span_bytes"] - ex["mmap_bytes"]),
       "exit: other_bytes")
    pk = check_peak_rss(ctx, trace, proc)
    if pk["rss_bytes"] < 64 * MIB:
        raise Skip("no RSS sample fell in the 300 ms the sample holds its 64 arenas")
    eq((pk["mmap_bytes"], pk["mmap_mappings"], pk["live_bytes"], pk["live_blocks"]),
       (64 * MIB, 64, 0, 0), "peak_rss: own mappings, live heap")
    r = run([ctx.hg, "frag", trace])
    eq(r.code, 0, "text exit status")
    for words in ("the program's own anonymous mappings (outside malloc): 52.7 MiB in 51 mappings",
                  "own mappings 64.0 MiB in 64 mappings"):
        check(words in r.text, "frag text lacks %r:\n%s" % (words, r.text))


def test_frag_mmapped(ctx):
    """samples/frag_mmapped.c: three large blocks in mappings of their own. The slack of each
    mapping's last page is no other block's to use and goes with the block when it is freed,
    so it is not a pinned page (it was, before: "pin 12.0 KiB" at keep_large)."""
    res, trace = ctx.record([ctx.sample("frag_mmapped")], expect_code=0)
    eq(res.text, "frag_mmapped: 3 blocks of 200788 bytes\n", "stdout")
    proc = only_process(frag_json(ctx, trace), "frag_mmapped")
    ex = [f for f in proc["fragmentation"] if f["at"] == "exit"]
    eq(len(ex), 1, "exit snapshot entries")
    ex = ex[0]
    eq((ex["live_bytes"], ex["live_blocks"]), (3 * 200788, 3), "live at exit")
    eq(ex["pages_with_live_data"], 3 * 50, "pages with live data: 50 per mapping")
    eq(ex["pinners"], [], "pinning sites")
    # The brk heap holds the tracer's first blocks only: its top chunk was never handed out.
    eq(ex["untouched_top_bytes"], ex["malloc"]["releasable_bytes"], "untouched top")
    r = run([ctx.hg, "frag", trace])
    eq(r.code, 0, "text exit status")
    check("pins:" not in r.text, "frag text names a pinning site:\n%s" % r.text)
    eq([l for l in r.text.split("\n") if l.startswith("    diagnosis:")], [NO_FRAGMENTATION],
       "frag text: diagnosis")


def no_rss_line(ctx, trace):
    """frag's text for the one process of trace: the line under its heading, which says why it
    has no resident-set sample."""
    r = run([ctx.hg, "frag", trace])
    eq(r.code, 0, "frag exit status")
    lines = r.text.split("\n")
    check(len(lines) > 3 and lines[2].startswith("process "), "frag text:\n%s" % r.text)
    return lines[3]


def test_frag_no_rss_sample(ctx):
    """samples/frag_none.c ends well inside the first 10 ms: frag says it ran less than the
    sampling interval (it said "no resident-set sample (record --rss-interval)", as if sampling
    were off). With --rss-interval 0 it says sampling was off; for a trace whose header does
    not record the interval (bytes 40..43 and the CRC zeroed, as traces before the field have
    them) it names both causes and claims neither."""
    res, trace = ctx.record([ctx.sample("frag_none")], expect_code=0)
    eq(res.text, "frag_none: no allocation\n", "stdout")
    rep = frag_json(ctx, trace)
    eq(rep["rss_interval_ms"], 10, "rss_interval_ms: the default")
    if any(f["at"] == "peak_rss" for f in only_process(rep, "frag_none")["fragmentation"]):
        raise Skip("the collector sampled frag_none's resident set (a machine this busy "
                   "stretches a sub-millisecond run past the first sample)")
    line = no_rss_line(ctx, trace)
    m = re.match(r"  no resident-set sample: the process ran (\d+\.\d (?:us|ms)), less than the "
                 r"10 ms sampling interval \(record --rss-interval MS to sample more often\)$",
                 line)
    check(m, "frag's line for a short run: %r" % line)
    ran = m.group(1)
    check(ran.endswith(" us") or float(ran[:-3]) < 10, "ran %s, not under 10 ms" % ran)

    with open(trace, "rb") as f:
        data = bytearray(f.read())
    eq(struct.unpack_from("<I", data, 40)[0], 10, "file header: rss_interval_ms")
    data[40:44] = bytes(4)
    data[60:64] = bytes(4)
    old = ctx.path("no-rss-interval.hgt")
    with open(old, "wb") as f:
        f.write(data)
    eq(frag_json(ctx, old)["rss_interval_ms"], None, "rss_interval_ms of an older trace")
    eq(no_rss_line(ctx, old),
       "  no resident-set sample: sampling was off, or the process (which ran %s) ended before "
       "the first sample; this trace does not record which (record --rss-interval MS)" % ran,
       "frag's line for a trace that does not record the interval")

    _, off = ctx.record([ctx.sample("frag_none")], expect_code=0,
                        options=["--rss-interval", "0"])
    eq(frag_json(ctx, off)["rss_interval_ms"], 0, "rss_interval_ms with sampling off")
    eq(no_rss_line(ctx, off), "  no resident-set sample: sampling was off for this recording "
       "(record --rss-interval MS turns it on)", "frag's line with sampling off")


NO_FRAGMENTATION = ("    diagnosis: no fragmentation: the free memory is mostly untouched "
                    "heap top, which glibc took ahead of use and which is not resident "
                    "until it is handed out")


def exit_entry(ctx, trace, name):
    """The exit snapshot's entry of frag's JSON for the one process of trace, and frag's text
    lines for that snapshot."""
    proc = only_process(frag_json(ctx, trace), name)
    ex = [f for f in proc["fragmentation"] if f["at"] == "exit"]
    eq(len(ex), 1, "%s: exit snapshot entries" % name)
    r = run([ctx.hg, "frag", trace])
    eq(r.code, 0, "frag text exit status")
    lines = r.text.split("\n")
    at = lines.index("  at snapshot 'exit':")
    return ex[0], lines[at + 1:], r.text


def free_line(ex):
    return ("    live %s in %d block%s; malloc holds %s free, of which %s is untouched heap top, "
            "which malloc never handed out; heap span %s"
            % (fmt_bytes(ex["live_bytes"]), ex["live_blocks"], "" if ex["live_blocks"] == 1
               else "s", fmt_bytes(ex["allocator_free_bytes"]),
               fmt_bytes(ex["untouched_top_bytes"]), fmt_bytes(ex["heap_span_bytes"])))


def pages_line(ex):
    return ("    pages: %d hold live data, %d hold none (%d of them untouched); malloc_trim(0) "
            "could give back about %s" % (ex["pages_with_live_data"], ex["pages_free"],
                                          ex["pages_untouched"],
                                          fmt_bytes(ex["trim_estimate_bytes"])))


def test_frag_untouched_top_no_allocation(ctx):
    """samples/frag_none.c never calls malloc: all of malloc's memory is the heap glibc set up
    for the tracer's own first blocks, and its top chunk (glibc's count, sampled for the
    snapshot) was never handed out. frag said "malloc holds 132 KiB free" and "diagnosis:
    100% of malloc's memory is free; it stays resident until malloc_trim(0)"; now that free
    memory is untouched heap top, not resident, with nothing to trim but the tracer's pages."""
    _, trace = ctx.record([ctx.sample("frag_none")], expect_code=0,
                          options=["--rss-interval", "0"])
    ex, lines, text = exit_entry(ctx, trace, "frag_none")
    mi = ex["malloc"]
    check(mi is not None, "no mallinfo2 sample for the exit snapshot")
    eq((ex["live_bytes"], ex["live_blocks"], ex["top_block"], ex["pinners"]), (0, 0, None, []),
       "nothing live")
    eq((ex["allocator_free_bytes"], mi["arena_bytes"]), (ex["heap_span_bytes"],) * 2,
       "free bytes and glibc's arena: the whole heap span")
    eq(ex["untouched_top_bytes"], mi["releasable_bytes"], "untouched: glibc's top chunk")
    span, untouched = ex["heap_span_bytes"], ex["untouched_top_bytes"]
    eq(span % PAGE, 0, "the heap is whole pages")
    eq(ex["pages_free"], span // PAGE, "pages free: all")
    eq(ex["pages_untouched"], span // PAGE - (span - untouched + PAGE - 1) // PAGE,
       "pages untouched: those wholly above the tracer's blocks")
    eq(ex["trim_estimate_bytes"], (ex["pages_free"] - ex["pages_untouched"]) * PAGE,
       "trim estimate: the free pages but the untouched ones")
    eq(lines[0], free_line(ex), "frag text: free memory")
    eq(lines[2], pages_line(ex), "frag text: pages")
    eq(lines[3:5], [NO_FRAGMENTATION, ""], "frag text: diagnosis, the last line")
    check("of malloc's memory is free" not in text, "frag text calls it free memory:\n" + text)


def test_frag_untouched_top_above_a_freed_block(ctx):
    """samples/frag_top.c keeps A (1000 bytes) and frees B, allocated after it: the untouched
    top starts at B's end, D bytes above A's (the sample prints D), though the highest live
    block is A: the replay remembers how high the program's blocks reached."""
    res, trace = ctx.record([ctx.sample("frag_top")], expect_code=0,
                            options=["--rss-interval", "0"])
    m = re.match(r"frag_top: B is A \+ (-?\d+)\n$", res.text)
    check(m, "stdout %r" % res.text)
    d = int(m.group(1))
    ex, lines, _ = exit_entry(ctx, trace, "frag_top")
    eq((ex["live_bytes"], ex["live_blocks"]), (1000, 1), "live at exit")
    top = ex["top_block"]
    eq((top["size"], top["frames"][0]["function"]), (1000, "use_a_little"), "the top block: A")
    eq(ex["untouched_top_bytes"], top["free_above_bytes"] - max(d, 0),
       "untouched: the free bytes above A less B and what lies between")
    eq(lines[0], free_line(ex), "frag text: free memory")
    eq(lines[2], pages_line(ex), "frag text: pages")
    eq([l for l in lines if l.startswith("    diagnosis:")], [NO_FRAGMENTATION],
       "frag text: diagnosis")
