"""test_stats.py - tracemalloc-like statistics: report --group-by, filters, points, snapshots,
diff, temporary allocations and the size histogram, on samples/stats_cache.c and
samples/stats_callers.c, and diff's pairing of processes on samples/fork_siblings.c (their
header comments state the numbers checked here)."""
import json
import os

from harness import Skip, check, clean_env, eq, marker_line, one_line, only_process, run

CALLERS = "stats_callers.c"
CACHE = "stats_cache.c"


def stats_json(ctx, trace, *extra):
    """report --format json --top 0 EXTRA: the statistics object of the only process."""
    r = run([ctx.hg, "report", trace, "--format", "json", "--top", "0"] + list(extra))
    eq(r.code, 0, "report %s exit status (%s)" % (" ".join(extra), r.errtext.strip()))
    proc = only_process(json.loads(r.out), "report " + " ".join(extra))
    check("sites" in proc and "totals" in proc, "statistics keep the report's own fields")
    return proc["statistics"]


def numbers(st, *keys):
    """{group name: (size_bytes, count, average_bytes)} or the given keys."""
    keys = keys or ("size_bytes", "count", "average_bytes")
    return {g["name"]: tuple(g[k] for k in keys) for g in st["groups"]}


def ours(st, src):
    """The groups of a function/line statistic whose file is src."""
    return {name: v for name, v in numbers(st).items() if "(%s" % src in name or
            name.startswith(src)}


def record_sample(ctx, name):
    res, trace = ctx.record([ctx.sample(name)], expect_code=0)
    eq(res.text, "%s: done\n" % name, "stdout of " + name)
    return trace


def test_stats_group_by(ctx):
    """One helper, three callers: each --group-by gives the sample's exact groups."""
    trace = record_sample(ctx, "stats_callers")
    inc = ["--include", "file:" + CALLERS]
    st = stats_json(ctx, trace, "--group-by", "function", *inc)
    eq(st["group_by"], "function", "group_by")
    eq(st["point"], {"kind": "end"}, "default point")
    eq(numbers(st), {"make_buffer (stats_callers.c)": (1900, 10, 190)}, "by function")
    g = st["groups"][0]
    eq((g["function"], os.path.basename(g["file"]), os.path.basename(g["module"])),
       ("make_buffer", CALLERS, "stats_callers"), "function group identity")
    line = marker_line(CALLERS, "make_buffer")
    st = stats_json(ctx, trace, "--group-by", "line", *inc)
    eq(numbers(st), {"%s:%d (make_buffer)" % (CALLERS, line): (1900, 10, 190)}, "by line")
    eq(st["groups"][0]["line"], line, "line group's line")
    st = stats_json(ctx, trace, "--group-by", "file", *inc)
    eq(numbers(st), {CALLERS: (1900, 10, 190)}, "by file")
    st = stats_json(ctx, trace, "--group-by", "module", *inc)
    eq(numbers(st), {"stats_callers": (1900, 10, 190)}, "by module")
    st = stats_json(ctx, trace, "--group-by", "traceback", *inc)
    got = sorted((g["frames"][1]["function"], g["size_bytes"], g["count"], g["average_bytes"])
                 for g in st["groups"])
    eq(got, [("parse_body", 1000, 5, 200), ("parse_footer", 600, 2, 300),
             ("parse_header", 300, 3, 100)], "by traceback (caller, size, count, average)")
    check(all(g["frames"][0]["function"] == "make_buffer" and
              g["frames"][0]["line"] == line for g in st["groups"]),
          "every traceback starts at make_buffer's malloc line")
    eq([g["size_bytes"] for g in st["groups"]], [1000, 600, 300], "sorted by size")


def test_stats_cumulative(ctx):
    """--cumulative credits every frame once: the callers and main get their share."""
    trace = record_sample(ctx, "stats_callers")
    st = stats_json(ctx, trace, "--group-by", "function", "--cumulative",
                    "--include", "file:" + CALLERS)
    eq(st["cumulative"], True, "cumulative flag")
    eq(ours(st, CALLERS), {
        "make_buffer (stats_callers.c)": (1900, 10, 190),
        "main (stats_callers.c)": (1900, 10, 190),
        "parse_body (stats_callers.c)": (1000, 5, 200),
        "parse_footer (stats_callers.c)": (600, 2, 300),
        "parse_header (stats_callers.c)": (300, 3, 100)}, "cumulative by function")
    eq((st["size_bytes"], st["count"]), (1900, 10), "total counts each block once")
    eq(len(st["groups"]), 5, "no group for libc's start-up frames or _start: %r"
       % sorted(numbers(st)))
    st = stats_json(ctx, trace, "--group-by", "function", "--cumulative", "--plumbing",
                    "--include", "file:" + CALLERS)
    check(any(n.startswith("_start") for n in numbers(st)) and len(st["groups"]) > 5,
          "--plumbing credits the start-up frames too: %r" % sorted(numbers(st)))


def test_stats_filters(ctx):
    """--include/--exclude on function, file or module; innermost frame or --all-frames."""
    trace = record_sample(ctx, "stats_callers")
    st = stats_json(ctx, trace, "-g", "traceback", "--include", "function:parse_*")
    eq(st["groups"], [], "parse_* is never the innermost frame")
    st = stats_json(ctx, trace, "-g", "traceback", "--include", "function:parse_*",
                    "--all-frames")
    eq(sorted(g["size_bytes"] for g in st["groups"]), [300, 600, 1000], "--all-frames")
    st = stats_json(ctx, trace, "-g", "traceback", "--include", "parse_header",
                    "--include", "parse_footer", "--all-frames")
    eq(sorted(g["size_bytes"] for g in st["groups"]), [300, 600], "two includes: either")
    st = stats_json(ctx, trace, "-g", "traceback", "--include", "file:" + CALLERS,
                    "--exclude", "function:parse_body", "--all-frames")
    eq(sorted(g["size_bytes"] for g in st["groups"]), [300, 600], "exclude wins")
    st = stats_json(ctx, trace, "-g", "function", "--exclude", "make_*")
    check(not any(n.startswith("make_buffer") for n in numbers(st)), "excluded make_buffer")
    st = stats_json(ctx, trace, "-g", "function", "--include", "module:stats_callers")
    eq(numbers(st), {"make_buffer (stats_callers.c)": (1900, 10, 190)}, "module pattern")


def test_stats_plumbing(ctx):
    """By default the first frame is the caller's code: no libc frame leads a stack."""
    trace = record_sample(ctx, "stats_callers")
    st = stats_json(ctx, trace, "-g", "traceback")
    for g in st["groups"]:
        mod = os.path.basename(g["frames"][0]["module"] or "")
        check(not mod.startswith(("libc.so", "libstdc++", "libheapgraph")),
              "plumbing frame leads a stack: %r" % g["frames"][0])


def test_stats_hotspots_temporary(ctx):
    """--sort allocations (hot spots), --sort temporary, and the size histogram."""
    trace = record_sample(ctx, "stats_callers")
    inc = ["--include", "file:" + CALLERS]
    st = stats_json(ctx, trace, "-g", "function", "--sort", "allocations", *inc)
    eq(st["order"], "allocations", "order")
    eq([(g["name"].split(" ")[0], g["allocations"], g["allocated_bytes"], g["temporary"])
        for g in st["groups"]],
       [("make_buffer", 10, 1900, 0), ("temp_scratch", 7, 448, 7),
        ("first_of_pair", 4, 160, 0), ("second_of_pair", 4, 96, 4)], "hot spots by count")
    eq((st["allocations"], st["temporary"], st["temporary_bytes"]), (25, 11, 544),
       "whole-run allocations and temporaries of this file")
    st = stats_json(ctx, trace, "-g", "function", "--sort", "allocated", *inc)
    eq(st["order"], "allocated", "order")
    eq([(g["name"].split(" ")[0], g["allocated_bytes"], g["allocations"]) for g in st["groups"]],
       [("make_buffer", 1900, 10), ("temp_scratch", 448, 7), ("first_of_pair", 160, 4),
        ("second_of_pair", 96, 4)], "hot spots by bytes")
    r = run([ctx.hg, "report", trace, "-g", "function", "--sort", "allocated"] + inc)
    eq(r.code, 0, "text exit status")
    rows = [l.split() for l in r.text.split("\n") if l.strip().startswith(("1 ", "4 "))]
    eq([row[:7] for row in rows],
       [["1", "1.86", "KiB", "10", "190", "B", "0"], ["4", "96", "B", "4", "24", "B", "4"]],
       "text rows: allocated, allocs, average, temporary")
    check("bytes allocated over the whole run by function: 2.54 KiB (25 allocations)" in r.text,
          "text header: %s" % r.text)
    st = stats_json(ctx, trace, "-g", "function", "--sort", "temporary", *inc)
    eq([(g["name"].split(" ")[0], g["temporary"], g["temporary_bytes"]) for g in st["groups"]],
       [("temp_scratch", 7, 448), ("second_of_pair", 4, 96)], "temporary allocations")
    hist = {(b["min_bytes"], b["max_bytes"]): (b["allocations"], b["temporary"])
            for b in st["size_histogram"]}
    eq(hist, {(16, 31): (4, 4), (32, 63): (4, 0), (64, 127): (10, 7), (128, 255): (5, 0),
              (256, 511): (2, 0)}, "size histogram (all allocations of the process)")
    r = run([ctx.hg, "report", trace, "-g", "function", "--sort", "temporary", "--histogram"])
    eq(r.code, 0, "text exit status")
    check("64 B to under 128 B" in r.text and
          "temporary allocations by function: 11 (544 B)" in r.text,
          "text histogram and header: %s" % r.text)


def test_stats_text_table(ctx):
    """Text: an aligned table within 100 columns, sizes in units."""
    trace = record_sample(ctx, "stats_callers")
    r = run([ctx.hg, "report", trace, "-g", "function", "--include", "file:" + CALLERS])
    eq(r.code, 0, "exit status")
    rows = [l for l in r.text.split("\n") if l.strip().startswith("1 ")]
    eq(len(rows), 1, "one group row in %r" % r.text)
    eq(rows[0].split(), ["1", "1.86", "KiB", "10", "190", "B", "make_buffer",
                         "(stats_callers.c)"], "the row")
    check("live at the end by function: 1.86 KiB in 10 blocks, 1 group" in r.text,
          "header line: %s" % r.text)
    for args in (["-g", "traceback", "--frames", "64"], ["-g", "function", "--cumulative"],
                 ["--sort", "allocations", "-g", "line", "--histogram"]):
        r = run([ctx.hg, "report", trace] + args)
        eq(r.code, 0, "exit status of %s" % args)
        wide = [l for l in r.text.split("\n") if len(l) > 100 and not l.startswith("process")]
        eq(wide, [], "lines over 100 columns with %s" % args)


def test_stats_points(ctx):
    """--snapshot LABEL, #ID, --at peak, --at TIME past the end: exact live sets."""
    trace = record_sample(ctx, "stats_cache")
    before = {"cache_add (stats_cache.c)": (10000, 10, 1000),
              "scratch_fill (stats_cache.c)": (2560, 5, 512),
              "make_config (stats_cache.c)": (1024, 4, 256)}
    after = {"cache_add (stats_cache.c)": (40000, 40, 1000),
             "make_config (stats_cache.c)": (1024, 4, 256)}
    st = stats_json(ctx, trace, "-g", "function", "--snapshot", "before")
    eq(ours(st, CACHE), before, "at snapshot 'before'")
    eq(st["point"], {"kind": "snapshot", "label": "before"}, "point")
    eq(ours(stats_json(ctx, trace, "-g", "function", "--snapshot", "#2"), CACHE), after,
       "at snapshot #2 ('after')")
    st = stats_json(ctx, trace, "-g", "function", "--at", "peak")
    eq(ours(st, CACHE), after, "at the peak")
    eq(st["size_bytes"], 41024, "live at the peak")
    end = {"make_config (stats_cache.c)": (1024, 4, 256)}
    eq(ours(stats_json(ctx, trace, "-g", "function"), CACHE), end, "at the end")
    st = stats_json(ctx, trace, "-g", "function", "--at", "1h")
    eq(ours(st, CACHE), end, "an hour after start is the end")
    eq(st["point"], {"kind": "time", "time_ns": 3600 * 10 ** 9}, "time point")
    eq(stats_json(ctx, trace, "-g", "function", "--at", "0ns")["groups"], [],
       "nothing live when the process starts")


def test_stats_at_time(ctx):
    """--at TIME between the snapshots holds exactly what 'before' held (times from
    heapgraph snapshots; nothing allocates between a snapshot and the next step)."""
    trace = record_sample(ctx, "stats_cache")
    r = run([ctx.hg, "snapshots", trace, "--format", "json"])
    snaps = only_process(json.loads(r.out), "snapshots")["snapshots"]
    t = snaps[0]["time_ns"]
    st = stats_json(ctx, trace, "-g", "function", "--at", "%dns" % t)
    eq(ours(st, CACHE)["cache_add (stats_cache.c)"], (10000, 10, 1000),
       "at the time of snapshot 'before'")


def test_snapshots_listing(ctx):
    """heapgraph snapshots: id, label, reason, time order, live bytes and blocks."""
    trace = record_sample(ctx, "stats_cache")
    r = run([ctx.hg, "snapshots", trace, "--format", "json"])
    eq(r.code, 0, "exit status")
    snaps = only_process(json.loads(r.out), "snapshots")["snapshots"]
    eq([(s["id"], s["label"], s["reason"], s["live_bytes"], s["live_blocks"]) for s in snaps],
       [(1, "before", "call", 13584, 19), (2, "after", "call", 41024, 44),
        (3, "exit", "exit", 1024, 4)], "snapshots")
    check(snaps[0]["time_ns"] <= snaps[1]["time_ns"] <= snaps[2]["time_ns"], "time order")
    r = run([ctx.hg, "snapshots", trace])
    eq(r.code, 0, "text exit status")
    rows = [l.split() for l in r.text.split("\n") if l.strip().startswith("#")]
    eq([(x[0], x[1], x[-1]) for x in rows], [("#1", "call", "before"), ("#2", "call", "after"),
                                             ("#3", "exit", "exit")], "text rows")


def diff_json(ctx, *args):
    r = run([ctx.hg, "diff"] + list(args) + ["--format", "json", "--top", "0"])
    eq(r.code, 0, "diff exit status (%s)" % r.errtext.strip())
    return json.loads(r.out)


def changes(proc):
    return {g["name"]: (g["size_bytes"], g["size_diff"], g["count"], g["count_diff"])
            for g in proc["diff"]["groups"]}


def test_diff_one_trace(ctx):
    """diff --from before --to after: the cache grew by 30 entries, scratch was freed."""
    trace = record_sample(ctx, "stats_cache")
    proc = only_process(diff_json(ctx, trace, "--from", "before", "--to", "after", "-g",
                                  "function"), "diff")
    eq(changes(proc), {"cache_add (stats_cache.c)": (40000, 30000, 40, 30),
                       "scratch_fill (stats_cache.c)": (0, -2560, 0, -5),
                       "make_config (stats_cache.c)": (1024, 0, 4, 0)}, "changes")
    eq([g["name"].split(" ")[0] for g in proc["diff"]["groups"]],
       ["cache_add", "scratch_fill", "make_config"], "sorted by absolute size change")
    eq((proc["diff"]["size_diff"], proc["diff"]["count_diff"]), (27440, 25), "totals")
    r = run([ctx.hg, "diff", trace, "--from", "before", "--to", "after", "-g", "function"])
    eq(r.code, 0, "text exit status")
    row = [l.split() for l in r.text.split("\n") if "cache_add" in l]
    eq(row, [["1", "39.1", "KiB", "+29.3", "KiB", "40", "+30", "cache_add",
              "(stats_cache.c)"]], "text row of cache_add")
    check("13.3 KiB -> 40.1 KiB (+26.8 KiB), 19 -> 44 blocks (+25)" in r.text,
          "text totals line: %s" % r.text)
    r = run([ctx.hg, "diff", trace, "--from", "before", "--to", "after", "--frames", "64"])
    eq(r.code, 0, "traceback text exit status")
    eq([l for l in r.text.split("\n") if len(l) > 100 and not l.startswith("process")], [],
       "diff lines over 100 columns")


def test_diff_two_traces(ctx):
    """Two runs of one program: stacks match by symbols (not addresses), so nothing changed;
    across traces, --from/--to pick a moment in each."""
    old = record_sample(ctx, "stats_cache")
    new = record_sample(ctx, "stats_cache")
    rep = diff_json(ctx, old, new, "-g", "traceback", "--from", "before", "--to", "before")
    proc = only_process(rep, "diff of two traces")
    eq(rep["old_trace"], old, "old_trace")
    eq(sorted((g["size_bytes"], g["size_diff"], g["count_diff"])
              for g in proc["diff"]["groups"]),
       [(1024, 0, 0), (2560, 0, 0), (10000, 0, 0)], "same stacks, no change")
    proc = only_process(diff_json(ctx, old, new, "-g", "line", "--from", "before", "--to",
                                  "after"), "diff")
    line = marker_line(CACHE, "cache_add")
    eq(changes(proc)["%s:%d (cache_add)" % (CACHE, line)], (40000, 30000, 40, 30),
       "cache_add line across traces")


SIBLINGS = "fork_siblings"
WORKER_LEAK = "worker_leak (fork_siblings.c)"


def record_siblings(ctx, leaks, order):
    """samples/fork_siblings LEAKS under FORK_SIBLINGS_ORDER=order, checked against its Expect
    block: (trace, its five images by name, the workers' names in the order the file has
    them). The names: root, A (the first-born child), B, A worker, B worker."""
    prog = ctx.sample(SIBLINGS)
    res, trace = ctx.record([prog, str(leaks)], env=clean_env({"FORK_SIBLINGS_ORDER": order}),
                            expect_code=0)
    eq(res.text, "fork_siblings: done\n", "stdout of fork_siblings")
    procs = ctx.report_json(trace)["processes"]
    eq(len(procs), 5, "fork_siblings: number of process images")
    roots = [p for p in procs if not p["forked"] and not p["exec"]]
    eq(len(roots), 1, "fork_siblings: root images")
    a, b = sorted((p for p in procs if p["forked"]), key=lambda p: p["start_ns"])
    workers = {p["pid"]: p for p in procs if p["exec"]}
    named = {"root": roots[0], "A": a, "B": b, "A worker": workers[a["pid"]],
             "B worker": workers[b["pid"]]}
    fork = (roots[0]["pid"], "%s %d" % (prog, leaks), {"exec": True}, 0, 0, 0)
    worker = (roots[0]["pid"], prog + " --worker", {"code": 0})
    eq({name: (p["ppid"], p["command"], p["exit"], p["totals"]["allocations"],
               p["totals"]["frees"], p["totals"]["live_bytes"]) for name, p in named.items()},
       {"root": (roots[0]["ppid"], "%s %d" % (prog, leaks), {"code": 0}, 0, 0, 0),
        "A": fork, "B": fork, "A worker": worker + (leaks, 0, 1000 * leaks),
        "B worker": worker + (0, 0, 0)},
       "fork_siblings: (ppid, command, exit, allocations, frees, live_bytes) of each image")
    in_file = [name for p in procs for name in ("A worker", "B worker") if named[name] is p]
    return trace, named, in_file


def diff_pairs(ctx, old, new, group_by="function"):
    """diff OLD NEW -g GROUP_BY as JSON: (exit status, stderr, processes)."""
    r = run([ctx.hg, "diff", old, new, "-g", group_by, "--format", "json", "--top", "0"])
    return r.code, r.errtext, json.loads(r.out)["processes"] if r.code == 0 else None


def totals(proc):
    d = proc["diff"]
    return (d["size_bytes"], d["size_diff"], d["count"], d["count_diff"])


def test_diff_pairs_processes_by_lineage(ctx):
    """Two runs of fork_siblings whose workers reached the file in opposite orders: diff pairs
    each child and its worker with the same child's of the other run (by order of fork, not by
    place in the file), so A's worker grows from 1 leaked block to 3 and B's stays empty. The
    runs' arguments differ, the program does not: no warning."""
    old, o, o_file = record_siblings(ctx, 1, "forward")
    new, n, n_file = record_siblings(ctx, 3, "reverse")
    if (o_file, n_file) != (["A worker", "B worker"], ["B worker", "A worker"]):
        raise Skip("the workers reached the files in orders %r and %r, not opposite ones (the "
                   "collector did not write for 200 ms)" % (o_file, n_file))
    code, err, procs = diff_pairs(ctx, old, new)
    eq((code, err), (0, ""), "diff exit status and stderr")
    prog, worker = ctx.sample(SIBLINGS), ctx.sample(SIBLINGS) + " --worker"
    got = [(p["pid"], p["exec"], p["command"], p["old"]["pid"], p["old"]["command"],
            p["only_in"], totals(p), changes(p)) for p in procs]
    eq(got, [(n["root"]["pid"], False, prog + " 3", o["root"]["pid"], prog + " 1", None,
              (0, 0, 0, 0), {}),
             (n["A"]["pid"], False, prog + " 3", o["A"]["pid"], prog + " 1", None,
              (0, 0, 0, 0), {}),
             (n["A"]["pid"], True, worker, o["A"]["pid"], worker, None,
              (3000, 2000, 3, 2), {WORKER_LEAK: (3000, 2000, 3, 2)}),
             (n["B"]["pid"], False, prog + " 3", o["B"]["pid"], prog + " 1", None,
              (0, 0, 0, 0), {}),
             (n["B"]["pid"], True, worker, o["B"]["pid"], worker, None, (0, 0, 0, 0), {})],
       "pairs, parents first: (pid, exec, command, old pid and command, only_in, totals, "
       "groups)")
    code, err, procs = diff_pairs(ctx, old, new, "line")
    line = "%s.c:%d (worker_leak)" % (SIBLINGS, marker_line(SIBLINGS + ".c", "worker_leak"))
    eq((code, changes(procs[2])), (0, {line: (3000, 2000, 3, 2)}), "A's worker by line")
    r = run([ctx.hg, "diff", old, new, "-g", "function"])
    eq((r.code, r.errtext), (0, ""), "text diff exit status and stderr")
    blocks = [b.split("\n") for b in r.text.rstrip("\n").split("\n\n")]
    eq(blocks[3], ["process %d (parent %d): %s" % (n["A"]["pid"], n["root"]["pid"], worker),
                   "  compared with process %d of the old trace" % o["A"]["pid"],
                   "  the end -> the end, by function:",
                   "  1000 B -> 2.93 KiB (+1.95 KiB), 1 -> 3 blocks (+2)",
                   "    #       size      change    count   change  function",
                   "    1   2.93 KiB   +1.95 KiB        3       +2  " + WORKER_LEAK],
       "text of A's worker")


def test_diff_lone_processes_and_other_program(ctx):
    """leak_fork (a parent, one fork child) against fork_siblings: a one-line warning that the
    programs differ, exit 0; the roots pair, leak_fork's child pairs with the first-born, and
    the rest of fork_siblings is only in its trace, compared with nothing, whichever side it
    is on."""
    _, lf = ctx.record([ctx.sample("leak_fork")], expect_code=0)
    parent, child = sorted(ctx.report_json(lf)["processes"], key=lambda p: p["forked"])
    eq((parent["forked"], child["forked"], child["ppid"]), (False, True, parent["pid"]),
       "leak_fork: a parent and its fork child")
    fs, n, _ = record_siblings(ctx, 2, "forward")
    warning = ("heapgraph: warning: different programs: '%s' traced '%s', '%s' traced '%s' "
               "(their processes are compared all the same)\n")
    code, err, procs = diff_pairs(ctx, lf, fs)
    eq((code, err), (0, warning % (lf, "leak_fork", fs, SIBLINGS)), "exit status and stderr")
    got = [(p["pid"], p["exec"], p.get("old", {}).get("pid"), p["only_in"], totals(p))
           for p in procs]
    eq(got, [(n["root"]["pid"], False, parent["pid"], None, (0, -1104, 0, -3)),
             (n["A"]["pid"], False, child["pid"], None, (0, -864, 0, -3)),
             (n["A"]["pid"], True, None, "new", (2000, 2000, 2, 2)),
             (n["B"]["pid"], False, None, "new", (0, 0, 0, 0)),
             (n["B"]["pid"], True, None, "new", (0, 0, 0, 0))],
       "leak_fork -> fork_siblings: (pid, exec, old pid, only_in, totals)")
    code, err, procs = diff_pairs(ctx, fs, lf)
    eq((code, err), (0, warning % (fs, SIBLINGS, lf, "leak_fork")), "reversed: stderr")
    got = [(p["pid"], p["exec"], p["start_ns"], p.get("old", {}).get("pid"), p["only_in"],
            totals(p)) for p in procs]
    eq(got, [(parent["pid"], False, parent["start_ns"], n["root"]["pid"], None,
              (1104, 1104, 3, 3)),
             (child["pid"], False, child["start_ns"], n["A"]["pid"], None, (864, 864, 3, 3)),
             (n["A"]["pid"], True, n["A worker"]["start_ns"], None, "old",
              (0, -2000, 0, -2)),
             (n["B"]["pid"], False, n["B"]["start_ns"], None, "old", (0, 0, 0, 0)),
             (n["B"]["pid"], True, n["B worker"]["start_ns"], None, "old", (0, 0, 0, 0))],
       "fork_siblings -> leak_fork: (pid, exec, start_ns in its own trace, old pid, only_in, "
       "totals)")
    r = run([ctx.hg, "diff", fs, lf])
    eq(r.code, 0, "text diff exit status")
    eq([l for l in r.text.split("\n") if "only in" in l],
       ["  only in the old trace: the new trace has no process in its place"] * 3,
       "text: processes only in the old trace")


def test_stats_errors(ctx):
    """Bad input: one clear line, exit 2 (usage) or 3 (unreadable trace)."""
    trace = record_sample(ctx, "stats_cache")
    cases = [
        (["report", trace, "--snapshot", "nope"], 2, "no snapshot 'nope' in trace"),
        (["report", trace, "--snapshot", "#9"], 2, "no snapshot #9 in trace"),
        (["report", trace, "--snapshot", "#0"], 2, "invalid snapshot id '#0' for --snapshot"),
        (["report", trace, "--snapshot", "#-1"], 2, "invalid snapshot id '#-1' for --snapshot"),
        (["report", trace, "--at", "5x"], 2, "invalid value '5x' for --at"),
        (["report", trace, "--at", "1.5"], 2, "invalid value '1.5' for --at"),
        (["report", trace, "--include", "func:x"], 2, "unknown field 'func'"),
        (["report", trace, "--exclude", "file:"], 2, "empty pattern"),
        (["report", trace, "--group-by", "stack"], 2, "unknown --group-by 'stack'"),
        (["report", trace, "--cumulative"], 2, "--cumulative needs --group-by"),
        (["report", trace, "--at", "peak", "--snapshot", "before"], 2, "give one"),
        (["report", trace, "--sort", "temporary", "--at", "peak"], 2, "takes no --at"),
        (["report", trace, "--sort", "big"], 2,
         "unknown --sort 'big' (size, count, allocations, allocated or temporary)"),
        (["report", trace, "--sort", "allocated", "--snapshot", "x"], 2, "--snapshot"),
        (["diff", trace], 2, "one trace needs --from"),
        (["diff", trace, "--from", "nope"], 2, "no snapshot 'nope' in trace"),
        (["diff", trace, trace, trace], 2, "one or two trace files"),
        (["snapshots", ctx.path("missing.hgt")], 3, "missing.hgt"),
        (["diff", trace, ctx.path("missing.hgt")], 3, "missing.hgt"),
    ]
    for argv, code, words in cases:
        r = run([ctx.hg] + argv)
        eq(r.code, code, "exit status of %s" % argv[2:])
        line = one_line(r.errtext, "stderr of %s" % argv[2:])
        check(words in line, "%s: %r lacks %r" % (argv[2:], line, words))
        eq(r.out, b"", "stdout of %s" % argv[2:])


def test_snapshot_every(ctx):
    """record --snapshot-every 200ms: each periodic snapshot ends one of the sample's sleeps,
    so the k-th holds exactly k blocks; labels name their nominal time."""
    trace = ctx.new_trace()
    r = run([ctx.hg, "record", "-q", "-o", trace, "--snapshot-every", "200ms", "--",
             ctx.sample("stats_periodic")], cwd=ctx.tmp)
    eq((r.code, r.text), (0, "stats_periodic: done\n"), "exit status and stdout")
    r = run([ctx.hg, "snapshots", trace, "--format", "json"])
    snaps = only_process(json.loads(r.out), "snapshots")["snapshots"]
    periodic = [s for s in snaps if s["reason"] == "periodic"]
    eq([(s["live_bytes"], s["live_blocks"]) for s in periodic],
       [(1000 * k, k) for k in range(1, 6)], "periodic snapshots: k blocks each")
    millis = []
    for s in periodic:
        check(s["label"].startswith("every@") and s["label"].endswith("s"),
              "periodic label %r" % s["label"])
        sec, _, frac = s["label"][6:-1].partition(".")
        eq(len(frac), 3, "milliseconds in %r" % s["label"])
        millis.append(int(sec) * 1000 + int(frac))
    check(all(m % 200 == 0 and m > 0 for m in millis) and millis == sorted(set(millis)),
          "labels at increasing multiples of 200 ms: %r" % millis)
    eq((snaps[-1]["reason"], snaps[-1]["live_bytes"]), ("exit", 5000), "exit snapshot last")
    proc = only_process(diff_json(ctx, trace, "--from", periodic[0]["label"], "--to",
                                  periodic[-1]["label"], "-g", "function"), "diff")
    eq(changes(proc), {"step (stats_periodic.c)": (5000, 4000, 5, 4)}, "diff of periodic")


def test_snapshot_every_errors(ctx):
    """Bad --snapshot-every values and signal settings: usage errors, nothing run."""
    for value in ("5ms", "1x", "0s", "2"):
        r = run([ctx.hg, "record", "-o", ctx.path("x.hgt"), "--snapshot-every", value, "--",
                 "true"])
        eq(r.code, 2, "exit status for %r" % value)
        check("invalid value '%s' for --snapshot-every" % value in
              one_line(r.errtext, "stderr for %r" % value), "message for %r" % value)
        check(not os.path.exists(ctx.path("x.hgt")), "no trace for %r" % value)
    r = run([ctx.hg, "record", "-o", ctx.path("x.hgt"), "--snapshot-every", "1s", "--", "true"],
            env=clean_env({"HEAPGRAPH_SNAPSHOT_SIGNAL": "abc"}))
    eq(r.code, 2, "exit status with a bad HEAPGRAPH_SNAPSHOT_SIGNAL")
    check("HEAPGRAPH_SNAPSHOT_SIGNAL='abc' is not a signal number" in
          one_line(r.errtext, "stderr"), "names the variable")
