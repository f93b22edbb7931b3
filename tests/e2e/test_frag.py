"""test_frag.py - `heapgraph frag`: live vs free vs resident, pinned pages, trim estimate."""
import json
import re

from harness import check, eq, only_process, run

BLOCKS, SIZE, PAGE = 3200, 512, 4096


def frag_json(ctx, trace):
    r = run([ctx.hg, "frag", trace, "--format", "json", "--top", "0"])
    eq(r.code, 0, "frag exit status")
    return json.loads(r.out)


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
    eq(sorted(at), ["before-trim", "exit"], "fragmentation points")
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
    ex = at["exit"]
    eq(ex["pinners"][0]["frames"][0]["function"], "fill", "at exit fill still pins")
    r = run([ctx.hg, "frag", trace])
    eq(r.code, 0, "text exit status")
    for word in ("pins: fill (frag_fill.c:", "3200 blocks", "pin 12.5 MiB", "diagnosis:"):
        check(word in r.text, "text output lacks %r" % word)


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
