"""test_leaks.py - `heapgraph leaks`: exact classification of the leak_* samples, memcheck's
agreement, and the command's formats, filters and usage errors

The numbers are the ones in the "Expect:" blocks of samples/leak_*.c and samples/leak_cxx.cc;
change both together. Groups of blocks are told apart by the function that allocated them
(frames[0], or further down the stack for C++ library code) and by their sizes, which no two
structures of a sample share. Block addresses are never hard-coded: cycles are checked for
their shape (which block points to which, at which offset).

The memcheck tests run the same programs under `valgrind --leak-check=full` (skipped when
valgrind is not installed) and compare what it calls lost (definitely + indirectly) with what
heapgraph calls leaked (direct + indirect + cycle).
"""
import json
import os
import re
import shutil
import sys

from harness import (Fail, Skip, check, clean_env, clip, eq, fn_base, frame_desc, one_line,
                     only_process, run, the_site)

LEAK_TOTAL_KEYS = ("direct_bytes", "direct_blocks", "indirect_bytes", "indirect_blocks",
                   "cycle_bytes", "cycle_blocks", "cycle_count", "reachable_bytes",
                   "reachable_blocks", "possibly_bytes", "possibly_blocks")
REPORT_TOTAL_KEYS = ("allocations", "frees", "allocated_bytes", "peak_bytes", "peak_time_ns",
                     "live_bytes", "live_blocks", "lost_events", "unknown_frees")
IMAGE_KEYS = ("pid", "ppid", "command", "exe", "forked", "exec", "start_ns", "exit")
SNAPSHOT_KEYS = ("label", "time_ns", "threads", "threads_stopped", "live_blocks", "edges")
KINDS = ("direct", "indirect", "cycle")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# ------------------------------------------------------------------------------------------
# Running `heapgraph leaks` and checking the shape of its JSON
# ------------------------------------------------------------------------------------------

def leaks(ctx, trace, *extra, fmt="json", expect_code=0):
    res = run([ctx.hg, "leaks", trace, "--format", fmt] + list(extra))
    if res.code != expect_code:
        raise Fail("leaks exit status: expected %d, got %s\n%s" % (expect_code, res.code,
                                                                  res.describe()))
    return res


def leaks_json(ctx, trace, *extra):
    """`heapgraph leaks TRACE --format json --top 0 EXTRA...`, parsed and schema-checked."""
    res = leaks(ctx, trace, "--top", "0", *extra)
    try:
        rep = json.loads(res.out)
    except ValueError as e:
        raise Fail("leaks --format json printed invalid JSON (%s): %s" % (e, clip(res.text)))
    check_leaks_schema(rep, all_groups=True)
    return rep


def check_leaks_schema(rep, all_groups):
    """Shape and internal consistency of a `leaks --format json` report. With all_groups
    (--top 0) the leak groups must add up to the totals of each kind."""
    for key in ("format_version", "trace", "lost_events", "damage", "processes"):
        check(key in rep, "leaks report: missing key %r" % key)
    eq(rep["format_version"], 1, "leaks report: format_version")
    eq(rep["damage"], None, "leaks report: damage")
    for proc in rep["processes"]:
        what = "leaks report, process %s" % proc.get("pid")
        for key in IMAGE_KEYS + ("snapshot",):
            check(key in proc, "%s: missing key %r in %r" % (what, key, sorted(proc)))
        if proc["snapshot"] is None:
            continue
        sn = proc["snapshot"]
        for key in SNAPSHOT_KEYS:
            check(key in sn, "%s: snapshot missing key %r" % (what, key))
        check(isinstance(sn["label"], str) and sn["label"], what + ": empty snapshot label")
        check(1 <= sn["threads_stopped"] <= sn["threads"],
              "%s: threads_stopped %r not in 1..threads %r" % (what, sn["threads_stopped"],
                                                              sn["threads"]))
        t = proc["totals"]
        for key in REPORT_TOTAL_KEYS + LEAK_TOTAL_KEYS:
            check(is_int(t.get(key)), "%s: totals.%s is not an integer" % (what, key))
        eq(t["direct_blocks"] + t["indirect_blocks"] + t["cycle_blocks"] + t["reachable_blocks"],
           sn["live_blocks"], what + ": blocks of every kind vs snapshot.live_blocks")
        check(t["possibly_bytes"] <= t["reachable_bytes"]
              and t["possibly_blocks"] <= t["reachable_blocks"],
              what + ": possibly (a part of reachable) exceeds reachable")
        prev = None
        sums = {k: [0, 0] for k in KINDS}
        for g in proc["leaks"]:
            for key in ("kind", "bytes", "blocks", "frames"):
                check(key in g, "%s: leak group missing key %r" % (what, key))
            check(g["kind"] in KINDS, "%s: leak group of kind %r" % (what, g["kind"]))
            check(g["bytes"] > 0 and g["blocks"] > 0, what + ": empty leak group")
            check(prev is None or prev >= g["bytes"],
                  what + ": leak groups not sorted by bytes, largest first")
            prev = g["bytes"]
            sums[g["kind"]][0] += g["bytes"]
            sums[g["kind"]][1] += g["blocks"]
            for frame in g["frames"]:
                for key in ("function", "file", "line", "module", "address"):
                    check(key in frame, what + ": frame missing key %r" % key)
        if all_groups:
            for k in KINDS:
                eq(sums[k], [t[k + "_bytes"], t[k + "_blocks"]],
                   "%s: [bytes, blocks] of %s leak groups vs totals" % (what, k))
        eq(len(proc["cycles"]), t["cycle_count"], what + ": cycles listed vs cycle_count")
        eq(sum(c["bytes"] for c in proc["cycles"]), t["cycle_bytes"],
           what + ": bytes of the listed cycles vs cycle_bytes")
        eq(sum(len(c["blocks"]) for c in proc["cycles"]), t["cycle_blocks"],
           what + ": blocks of the listed cycles vs cycle_blocks")
        for c in proc["cycles"]:
            addrs = {b["address"] for b in c["blocks"]}
            eq(len(addrs), len(c["blocks"]), what + ": a block listed twice in a cycle")
            eq(sum(b["size"] for b in c["blocks"]), c["bytes"], what + ": cycle bytes")
            check(len(c["blocks"]) >= 2 or any(e["from"] == e["to"] for e in c["edges"]),
                  what + ": a one-block cycle without a self-edge")
            for e in c["edges"]:
                check(e["from"] in addrs and e["to"] in addrs,
                      "%s: cycle edge %r leaves the cycle" % (what, e))
                size = next(b["size"] for b in c["blocks"] if b["address"] == e["from"])
                check(e["offset"] % 8 == 0 and e["offset"] + 8 <= size,
                      "%s: edge offset %d outside its %d-byte block" % (what, e["offset"],
                                                                        size))


def leak_total(proc):
    t = proc["totals"]
    return (t["direct_bytes"] + t["indirect_bytes"] + t["cycle_bytes"],
            t["direct_blocks"] + t["indirect_blocks"] + t["cycle_blocks"])


def check_leak_totals(proc, what, **expected):
    for key, value in expected.items():
        eq(proc["totals"][key], value, "%s: totals.%s" % (what, key))


def group_fn(group, through=None):
    """The function a leak group or cycle block is known by: frames[0], or `through` when
    that function is anywhere in the stack (C++ library code allocates for it)."""
    frames = group["frames"]
    if through is not None:
        return through if any(fn_base(f) == through for f in frames) else None
    return fn_base(frames[0]) if frames else None


def groups(proc, through=()):
    """Sorted [(kind, function, bytes, blocks)] of the leak groups."""
    out = []
    for g in proc["leaks"]:
        fn = next((t for t in through if group_fn(g, t)), None) or group_fn(g)
        out.append((g["kind"], fn, g["bytes"], g["blocks"]))
    return sorted(out)


def describe_leaks(proc):
    return "; ".join("%s %d B in %d (%s)" % (g["kind"], g["bytes"], g["blocks"],
                                             frame_desc(g["frames"][0]) if g["frames"] else "?")
                     for g in proc["leaks"][:12]) or "none"


def cycle_fns(cycle, through=()):
    fns = set()
    for b in cycle["blocks"]:
        fn = next((t for t in through if group_fn(b, t)), None) or group_fn(b)
        fns.add(fn)
    return fns


def the_cycle(proc, fn, through=()):
    found = [c for c in proc["cycles"] if fn in cycle_fns(c, through)]
    if len(found) != 1:
        raise Fail("pid %s: expected one leaked cycle allocated by %s, found %d (cycles by: %s)"
                   % (proc["pid"], fn, len(found),
                      ", ".join(str(sorted(cycle_fns(c, through), key=str))
                                for c in proc["cycles"])))
    return found[0]


def edge_set(cycle):
    return sorted((e["from"], e["offset"], e["to"]) for e in cycle["edges"])


def check_ring(cycle, n, size, what):
    """n blocks of size bytes, each pointing at the next through its word at offset 8, and the
    last back at the first: exactly one out-edge and one in-edge per block."""
    eq(sorted(b["size"] for b in cycle["blocks"]), [size] * n, what + ": block sizes")
    eq(cycle["bytes"], n * size, what + ": bytes")
    nxt = {}
    for e in cycle["edges"]:
        eq(e["offset"], 8, "%s: offset of edge %r" % (what, e))
        check(e["from"] not in nxt, "%s: block 0x%x has two out-edges" % (what, e["from"]))
        nxt[e["from"]] = e["to"]
    eq(len(cycle["edges"]), n, what + ": number of edges")
    start = cycle["blocks"][0]["address"]
    seen, at = [], start
    for _ in range(n):
        check(at in nxt, "%s: block 0x%x has no out-edge" % (what, at))
        seen.append(at)
        at = nxt[at]
    eq(at, start, what + ": following next %d times does not come back" % n)
    eq(len(set(seen)), n, what + ": the ring does not visit every block")


def record_leaks(ctx, sample, expect_code=0, extra=(), options=(), argv=()):
    """Record samples/SAMPLE [ARGV] and return (stdout text, trace, leaks report)."""
    res, trace = ctx.record([ctx.sample(sample)] + list(argv), expect_code=expect_code,
                            options=options)
    return res.text, trace, leaks_json(ctx, trace, *extra)


# ------------------------------------------------------------------------------------------
# leak_cycles: every kind of garbage, exactly
# ------------------------------------------------------------------------------------------

CYCLES_GROUPS = sorted([
    ("indirect", "make_tree", 576, 4), ("cycle", "make_mutual_rings", 416, 2),
    ("cycle", "make_ring5", 400, 5), ("cycle", "make_mutual_rings", 384, 2),
    ("indirect", "make_chained_rings", 352, 2), ("cycle", "make_chained_rings", 320, 2),
    ("indirect", "make_tree", 256, 2), ("cycle", "make_ring3", 192, 3),
    ("direct", "make_tree", 112, 1), ("cycle", "make_ring2", 96, 2),
    ("cycle", "make_self_loop", 32, 1),
])
CYCLES_TOTALS = dict(direct_bytes=112, direct_blocks=1, indirect_bytes=1184, indirect_blocks=8,
                     cycle_bytes=1840, cycle_blocks=17, cycle_count=6, reachable_bytes=512,
                     reachable_blocks=4, possibly_bytes=224, possibly_blocks=1,
                     live_bytes=3648, live_blocks=30, allocations=30, frees=0)


def record_as_bare(ctx, prog, code, text):
    """Run prog untraced (its exit status and stdout must be code and text: a precondition),
    then under record, where both must be the same. Returns the trace."""
    bare = run([prog], cwd=ctx.fresh_dir("bare"))
    eq((bare.code, bare.text), (code, text),
       "untraced run: exit status, stdout (test precondition)")
    res, trace = ctx.record([prog], cwd=ctx.fresh_dir("traced"))
    eq((res.code, res.text), (bare.code, bare.text), "exit status, stdout under record")
    return trace


def test_leak_cycles(ctx):
    out, trace, rep = record_leaks(ctx, "leak_cycles")
    eq(out, "leak_cycles: built\n", "stdout")
    proc = only_process(rep, "leak_cycles")
    sn = proc["snapshot"]
    check(sn is not None, "no exit snapshot")
    eq((sn["label"], sn["threads"], sn["threads_stopped"], sn["live_blocks"], sn["edges"]),
       ("exit", 1, 1, 30, 31), "snapshot (label, threads, threads_stopped, live_blocks, edges)")
    check_leak_totals(proc, "leak_cycles", **CYCLES_TOTALS)
    got = groups(proc)
    if got != CYCLES_GROUPS:
        raise Fail("leak groups (kind, frames[0], bytes, blocks):\n  expected %r\n  got      %r"
                   % (CYCLES_GROUPS, got))
    for fn in ("make_kept_ring", "make_interior"):
        check(all(group_fn(g) != fn for g in proc["leaks"]), "%s reported as a leak" % fn)

    # Every indirect group says which leak holds it: the tree's nodes are held by its direct
    # root (make_tree), the chained ring Q by the leaked cycle P (make_chained_rings).
    via = sorted((g["bytes"], g["via"]["kind"], g["via"]["frames"][0]["function"])
                 for g in proc["leaks"] if g["kind"] == "indirect")
    eq(via, [(256, "direct", "make_tree"), (352, "cycle", "make_chained_rings"),
             (576, "direct", "make_tree")], "indirect groups (bytes, via kind, via function)")
    check(all("via" not in g for g in proc["leaks"] if g["kind"] != "indirect"),
          "only indirect groups have a via")

    for fn, n, size in (("make_ring2", 2, 48), ("make_ring3", 3, 64), ("make_ring5", 5, 80),
                        ("make_self_loop", 1, 32)):
        cy = the_cycle(proc, fn)
        eq(cycle_fns(cy), {fn}, fn + ": functions of the cycle's blocks")
        check_ring(cy, n, size, "cycle of " + fn)

    # P (2 x 160) is the leaked cycle; Q (2 x 176), which only P points to, is indirect: its
    # ring is not a cycle of its own, and P's edge to Q is not one of P's cycle edges.
    cy = the_cycle(proc, "make_chained_rings")
    check_ring(cy, 2, 160, "cycle P of make_chained_rings")

    # R (2 x 192) and S (2 x 208) point at each other: one strongly connected component.
    cy = the_cycle(proc, "make_mutual_rings")
    eq(sorted(b["size"] for b in cy["blocks"]), [192, 192, 208, 208],
       "make_mutual_rings cycle: block sizes (R and S are one cycle)")
    size = {b["address"]: b["size"] for b in cy["blocks"]}
    edges = edge_set(cy)
    eq(len(edges), 6, "make_mutual_rings cycle: number of edges (%r)" % edges)
    cross = [e for e in edges if e[1] == 16]
    ring = [e for e in edges if e[1] == 8]
    eq(len(ring), 4, "make_mutual_rings: edges at offset 8")
    for a, _, b in ring:
        eq(size[a], size[b], "make_mutual_rings: a ring edge joins R and S")
    eq(len(cross), 2, "make_mutual_rings: edges at offset 16")
    (r0, _, s0), (s0b, _, r0b) = sorted(cross, key=lambda e: size[e[0]])
    eq((size[r0], size[s0]), (192, 208), "make_mutual_rings: R0+16 -> S0")
    eq((s0b, r0b), (s0, r0), "make_mutual_rings: S0+16 points back at R0")

    for c in proc["cycles"]:
        for b in c["blocks"]:
            eq(b["frames"][0].get("file") and os.path.basename(b["frames"][0]["file"]),
               "leak_cycles.c", "cycle block frames[0] file: " + frame_desc(b["frames"][0]))

    # The report of live sites agrees: the global-held ring and the interior-pointer block
    # are live at exit (they are the 512 reachable bytes).
    report = only_process(ctx.report_json(trace), "leak_cycles report")
    eq(report["totals"]["live_bytes"], 3648, "report: live_bytes")
    for fn, live, blocks in (("make_kept_ring", 288, 3), ("make_interior", 224, 1)):
        site = the_site(report, fn)
        eq((site["live_bytes"], site["live_blocks"]), (live, blocks), "report: site " + fn)


def test_leak_thread(ctx):
    """samples/leak_thread.c: a thread that ended leaked 333 bytes, pointed at only from the
    frames it left on a stack glibc keeps; a thread still waiting holds 444 on its live stack,
    and main 555 in its frame while exit() runs."""
    out, trace, rep = record_leaks(ctx, "leak_thread")
    eq(out, "leak_thread: one thread ended, one waiting\n", "stdout")
    proc = only_process(rep, "leak_thread")
    sn = proc["snapshot"]
    check(sn is not None, "no exit snapshot")
    eq((sn["threads"], sn["threads_stopped"]), (2, 2), "snapshot (threads, threads_stopped)")
    eq(groups(proc), [("direct", "leak_in_worker", 333, 1)], "leak groups")
    sites = only_process(ctx.report_json(trace), "leak_thread")["sites"]
    held = sorted(s["live_bytes"] for s in sites
                  if s["frames"] and fn_base(s["frames"][0]) in ("hold_in_waiter", "main"))
    eq(held, [444, 555], "live bytes of the waiter's and main's blocks (not leaks: see above)")
    check_leak_totals(proc, "leak_thread", direct_bytes=333, direct_blocks=1, indirect_bytes=0,
                      cycle_bytes=0)


def test_leak_main_exit(ctx):
    """samples/leak_main_exit.c: the main thread called pthread_exit and the process ended in
    a worker. The exit snapshot reads the memory through the worker, not through the zombie
    main thread (whose maps are empty): exactly the dropped pair leaks; the global's block and
    the worker's local are reachable; the zombie is not a thread to stop. The tracer's memory
    is known in full (the main thread's pagemap does not open)."""
    out, trace, rep = record_leaks(ctx, "leak_main_exit")
    eq(out, "leak_main_exit: done\n", "stdout")
    proc = only_process(rep, "leak_main_exit")
    sn = proc["snapshot"]
    check(sn is not None, "no exit snapshot")
    eq((sn["threads"], sn["threads_stopped"]), (1, 1), "snapshot (threads, threads_stopped)")
    eq(groups(proc), [("direct", "make_leak", 700, 1), ("indirect", "make_leak", 90, 1)],
       "leak groups")
    check_leak_totals(proc, "leak_main_exit", direct_bytes=700, direct_blocks=1,
                      indirect_bytes=90, indirect_blocks=1, cycle_bytes=0, cycle_blocks=0)
    report = only_process(ctx.report_json(trace), "leak_main_exit")
    held = sorted((fn_base(s["frames"][0]), s["live_bytes"], s["live_blocks"])
                  for s in report["sites"]
                  if s["frames"] and fn_base(s["frames"][0]) in ("keep_in_global", "run_worker"))
    eq(held, [("keep_in_global", 1500, 1), ("run_worker", 2500, 1)],
       "live sites of the held blocks (not leaks: see above)")
    eq(report["exe"], os.path.realpath(ctx.sample("leak_main_exit")), "exe")
    check(report["tracer"] is not None and report["tracer"]["ring_bytes"] is not None,
          "tracer's memory: the ring's part is not known: %r" % (report["tracer"],))


def test_leak_sigblock(ctx):
    """samples/leak_sigblock.c: a thread that blocks every signal cannot be stopped; it is
    not sent the stop signal (which it would find pending when asked), and the snapshots
    count it as not stopped. Output and exit status are the untraced run's; at both
    snapshots exactly the dropped pair leaks, and the thread's local and the global's block
    are reachable."""
    prog = ctx.sample("leak_sigblock")
    trace = record_as_bare(ctx, prog, 3,
                           "leak_sigblock: no signal pending in the blocked thread\n")
    report = only_process(ctx.report_json(trace), "leak_sigblock")
    held = sorted((fn_base(s["frames"][0]), s["live_bytes"], s["live_blocks"])
                  for s in report["sites"]
                  if s["frames"] and fn_base(s["frames"][0]) in ("keep_in_global",
                                                                  "hold_blocked"))
    eq(held, [("hold_blocked", 1600, 1), ("keep_in_global", 1200, 1)],
       "live sites of the held blocks")
    for label in ("blocked", "exit"):
        proc = snapshot_of(ctx, trace, label)
        sn = proc["snapshot"]
        eq((sn["threads"], sn["threads_stopped"]), (2, 1),
           "%s: snapshot (threads, threads_stopped)" % label)
        eq(groups(proc), [("direct", "make_leak", 560, 1), ("indirect", "make_leak", 48, 1)],
           label + ": leak groups")
        check_leak_totals(proc, label, direct_bytes=560, direct_blocks=1, indirect_bytes=48,
                          indirect_blocks=1, cycle_bytes=0, cycle_blocks=0)
    text = leaks(ctx, trace, fmt="text").text
    check("1 of 2 threads stopped" in text, "text report: threads stopped:\n" + clip(text))


def test_leak_sigwait(ctx):
    """samples/leak_sigwait.c: a signal thread asleep in sigwait on every signal is not sent
    the stop signal (sigwait handed it to the program before: "got other signals too"); the
    snapshot counts it as not stopped and scans its stack whole. Output and exit status are
    the untraced run's; exactly the dropped pair leaks, and the thread's local and the
    global's block are reachable."""
    prog = ctx.sample("leak_sigwait")
    trace = record_as_bare(ctx, prog, 3,
                           "leak_sigwait: the signal thread got SIGUSR1 only\n")
    proc = snapshot_of(ctx, trace, "waiting")
    sn = proc["snapshot"]
    eq((sn["threads"], sn["threads_stopped"]), (2, 1), "snapshot (threads, threads_stopped)")
    eq(groups(proc), [("direct", "make_leak", 560, 1), ("indirect", "make_leak", 48, 1)],
       "leak groups")
    check_leak_totals(proc, "waiting", direct_bytes=560, direct_blocks=1, indirect_bytes=48,
                      indirect_blocks=1, cycle_bytes=0, cycle_blocks=0)
    t = proc["totals"]
    eq((t["reachable_bytes"] - t["possibly_bytes"], t["reachable_blocks"] - t["possibly_blocks"]),
       (1600 + 1200, 2), "reachable (not possibly lost): bytes, blocks")


def test_stop_signal_taken_by_the_program(ctx):
    """samples/stop_signal_taken.c: the program handles SIGRTMAX-2 itself (the JDK's NIO
    does). The snapshot stops its worker with another real-time signal, so both threads are
    stopped (it once stopped none and scanned the stacks whole), and the program's handler
    never runs. Exactly the dropped block leaks; the worker's local and the global's block
    are reachable."""
    prog = ctx.sample("stop_signal_taken")
    trace = record_as_bare(ctx, prog, 3,
                           "stop_signal_taken: handler ran 0 times\n")
    proc = snapshot_of(ctx, trace, "taken")
    sn = proc["snapshot"]
    eq((sn["threads"], sn["threads_stopped"]), (2, 2), "snapshot (threads, threads_stopped)")
    eq(groups(proc), [("direct", "make_leak", 560, 1)], "leak groups")
    t = proc["totals"]
    eq((t["reachable_bytes"] - t["possibly_bytes"], t["reachable_blocks"] - t["possibly_blocks"]),
       (1200 + 900, 2), "reachable (not possibly lost): bytes, blocks")


def test_leak_sparse_reservation(ctx):
    """samples/leak_sparse.c: a 256 MiB reservation with two pages written. The snapshot skips
    the pages never touched (a JVM's snapshot read its whole reserved heap) and still finds
    the block held from 200 MiB in; the dropped block is the one leak."""
    prog = ctx.sample("leak_sparse")
    res, trace = ctx.record([prog], env=clean_env({"HEAPGRAPH_DEBUG": "1"}), expect_code=0)
    eq(res.text, "leak_sparse: done\n", "stdout")
    m = re.search(r"snapshot 1 of pid \d+: .* (\d+) KiB untouched skipped", res.errtext)
    check(m is not None, "no snapshot line in the debug log:\n" + clip(res.errtext))
    check(int(m.group(1)) >= 255 * 1024, "skipped only %s KiB" % m.group(1))
    proc = snapshot_of(ctx, trace, "exit")
    eq(groups(proc), [("direct", "drop_block", 77, 1)], "leak groups")
    t = proc["totals"]
    eq((t["reachable_bytes"], t["reachable_blocks"]), (123, 1), "reachable: bytes, blocks")


def test_exit_while_polling(ctx):
    """samples/exit_while_polling.c: a worker calls exit(4) while main sleeps in poll(); the
    exit snapshot leaves main alone (poll would return EINTR after the stop signal's handler,
    and main exited 9), so the status is the untraced run's."""
    prog = ctx.sample("exit_while_polling")
    bare = run([prog], cwd=ctx.fresh_dir("bare"))
    eq((bare.code, bare.out, bare.err), (4, b"", b""), "untraced run (test precondition)")
    res, trace = ctx.record([prog], cwd=ctx.fresh_dir("traced"))
    eq((res.code, res.out), (4, b""), "exit status, stdout under record")
    check("interrupted" not in res.errtext, "stderr under record: " + clip(res.errtext))
    sn = snapshot_of(ctx, trace, "exit")["snapshot"]
    eq((sn["threads"], sn["threads_stopped"]), (2, 1), "exit snapshot (threads, stopped)")


def test_leak_one_line(ctx):
    """samples/leak_one_line.c: two callocs on one line leak as a cycle; the two return
    addresses symbolize alike, so they are one group, in JSON and in text."""
    out, trace, rep = record_leaks(ctx, "leak_one_line")
    eq(out, "leak_one_line: done\n", "stdout")
    proc = only_process(rep, "leak_one_line")
    eq(groups(proc), [("cycle", "make_pair", 64, 2)], "leak groups")
    eq([c["bytes"] for c in proc["cycles"]], [64], "cycles")
    text = leaks(ctx, trace, fmt="text").text
    eq(text.count("cycle leak: "), 1, "text: cycle leak groups")
    check("cycle leak: 64 B in 2 blocks" in text, "text group:\n" + clip(text))


def test_leak_cycles_text_and_top(ctx):
    _, trace = ctx.record([ctx.sample("leak_cycles")], expect_code=0)
    text = leaks(ctx, trace, fmt="text").text
    for word in ("make_tree", "make_ring5", "make_self_loop", "leak_cycles.c",
                 "leaked cycle #6", "6 cycles", "30 live blocks", "1 of 1 threads stopped"):
        check(word in text, "text output does not mention %r:\n%s" % (word, clip(text, 1500)))
    check("leaked cycle #7" not in text, "text output lists a 7th cycle")
    default = run([ctx.hg, "leaks", trace])
    eq(default.code, 0, "leaks with no --format: exit status")
    eq(default.text, text, "leaks with no --format vs --format text")
    one = leaks(ctx, trace, "--top", "1").out
    rep = json.loads(one)
    check_leaks_schema(rep, all_groups=False)
    proc = only_process(rep, "leak_cycles --top 1")
    eq(groups(proc), [("indirect", "make_tree", 576, 4)], "--top 1: the largest group")
    full = only_process(leaks_json(ctx, trace), "leak_cycles --top 0")
    eq(proc["totals"], full["totals"], "totals do not depend on --top")
    eq(proc["cycles"], full["cycles"], "cycles do not depend on --top")


# ------------------------------------------------------------------------------------------
# leak_cxx: shared_ptr cycles
# ------------------------------------------------------------------------------------------

CXX_FNS = ("make_inplace_cycle", "make_separate_cycle", "make_weak_pair")


def test_leak_cxx(ctx):
    out, trace, rep = record_leaks(ctx, "leak_cxx")
    eq(out, "leak_cxx: built\n", "stdout")
    proc = only_process(rep, "leak_cxx")
    check_leak_totals(proc, "leak_cxx", direct_bytes=0, direct_blocks=0, indirect_bytes=0,
                      indirect_blocks=0, cycle_bytes=512, cycle_blocks=6, cycle_count=2,
                      possibly_bytes=0, possibly_blocks=0)
    eq(sorted((g["kind"], g["bytes"]) for g in proc["leaks"]),
       [("cycle", 24), ("cycle", 24), ("cycle", 80), ("cycle", 112), ("cycle", 128),
        ("cycle", 144)], "leak groups (kind, bytes)")
    for g in proc["leaks"]:
        check(any(group_fn(g, fn) for fn in CXX_FNS[:2]),
              "leak group not allocated under a cycle builder: %s" % frame_desc(g["frames"][0]))
        check(not group_fn(g, "make_weak_pair"), "the weak_ptr pair leaked")

    # make_shared: one block per object (control block + object); the shared_ptr member at
    # offset 16 is (element pointer, control block pointer): two edges to the other block.
    cy = the_cycle(proc, "make_inplace_cycle", through=CXX_FNS)
    eq(sorted(b["size"] for b in cy["blocks"]), [80, 112], "make_shared cycle: block sizes")
    addr = {b["size"]: b["address"] for b in cy["blocks"]}
    a, b = addr[80], addr[112]
    eq(edge_set(cy), sorted([(a, 16, b), (a, 24, b), (b, 16, a), (b, 24, a)]),
       "make_shared cycle: edges (from, offset, to)")

    # shared_ptr(new T): object and a separate 24-byte control block whose word at offset 16
    # is the object pointer; all four blocks form one cycle.
    cy = the_cycle(proc, "make_separate_cycle", through=CXX_FNS)
    eq(sorted(b["size"] for b in cy["blocks"]), [24, 24, 128, 144],
       "shared_ptr(new) cycle: block sizes")
    objs = {b["size"]: b["address"] for b in cy["blocks"] if b["size"] != 24}
    c, d = objs[128], objs[144]
    ctl = {e["to"]: e["from"] for e in cy["edges"] if e["offset"] == 16}
    check(c in ctl and d in ctl, "shared_ptr(new) cycle: no control block pointing at each "
          "object at offset 16: %r" % edge_set(cy))
    eq(edge_set(cy), sorted([(c, 0, d), (c, 8, ctl[d]), (d, 0, c), (d, 8, ctl[c]),
                             (ctl[c], 16, c), (ctl[d], 16, d)]),
       "shared_ptr(new) cycle: edges (from, offset, to)")

    report = only_process(ctx.report_json(trace), "leak_cxx report")
    live = [s for s in report["sites"] if any(fn_base(f) == "make_weak_pair" for f in s["frames"])]
    eq(live, [], "live sites under make_weak_pair (the weak_ptr pair must free itself)")

    # Text stacks show long template argument lists as <...>; --full-names and JSON in full.
    full_fn = ("std::__shared_count<(__gnu_cxx::_Lock_policy)2>::__shared_count<OutC*>(OutC*)")
    short_fn = "std::__shared_count<...>::__shared_count<OutC*>(OutC*)"
    text = leaks(ctx, trace, fmt="text").text
    check("at %s (shared_ptr_base.h:" % short_fn in text,
          "text: no shortened frame %r:\n%s" % (short_fn, clip(text, 3000)))
    check("(__gnu_cxx::_Lock_policy)2" not in text, "text: a long template list in full")
    text = leaks(ctx, trace, "--full-names", fmt="text").text
    check("at %s (shared_ptr_base.h:" % full_fn in text,
          "--full-names: no full frame %r:\n%s" % (full_fn, clip(text, 3000)))
    check("<...>" not in text, "--full-names: a shortened name")
    check(any(f.get("function") == full_fn for g in proc["leaks"] for f in g["frames"]),
          "JSON: no frame %r" % full_fn)

    # frag names the block at the top of the brk heap (a control block of the last cycle
    # built) the same way.
    for extra, want, unwanted in (([], "std::__shared_count<...>::__shared_count<OutD*>(OutD*)",
                                   "_Lock_policy"),
                                  (["--full-names"], full_fn.replace("OutC", "OutD"), "<...>")):
        res = run([ctx.hg, "frag", trace] + extra)
        eq(res.code, 0, "frag %s exit status" % " ".join(extra))
        check("top of the brk heap: 24 B block from %s;" % want in res.text,
              "frag %s: no top block from %r:\n%s" % (" ".join(extra), want, clip(res.text, 3000)))
        check(unwanted not in res.text, "frag %s: %r in the text" % (" ".join(extra), unwanted))


# ------------------------------------------------------------------------------------------
# leak_snapshot: snapshots taken by the program, threads blocked at a snapshot
# ------------------------------------------------------------------------------------------

AFTER_GROUPS = sorted([("direct", "make_between_leak", 2000, 1), ("direct", "make_held", 1200, 1),
                       ("direct", "make_early_leak", 336, 1),
                       ("cycle", "make_between_cycle", 96, 1),
                       ("cycle", "make_between_cycle", 96, 1)])
AFTER_TOTALS = dict(direct_bytes=3536, direct_blocks=3, indirect_bytes=0, indirect_blocks=0,
                    cycle_bytes=192, cycle_blocks=2, cycle_count=1)


def snapshot_of(ctx, trace, label):
    proc = only_process(leaks_json(ctx, trace, "--snapshot", label), "--snapshot " + label)
    check(proc["snapshot"] is not None, "--snapshot %s: snapshot is null" % label)
    eq(proc["snapshot"]["label"], label, "--snapshot %s: label" % label)
    return proc


def check_after(proc, what):
    check_leak_totals(proc, what, **AFTER_TOTALS)
    got = groups(proc)
    if got != AFTER_GROUPS:
        raise Fail("%s: leak groups:\n  expected %r\n  got      %r" % (what, AFTER_GROUPS, got))
    cy = the_cycle(proc, "make_between_cycle")
    check_ring(cy, 2, 96, what + ": cycle of make_between_cycle")


# Event times rounded to the default 1 ms, kept exact, or rounded to 100 ms: the
# snapshots see exactly the same heap. The program allocates and frees right after each
# snapshot, within the same tick: only the barriers keep those events after the snapshot.
TIME_RESOLUTIONS = {"default": (), "exact": ("--time-resolution", "1ns"),
                    "100ms": ("--time-resolution", "100ms")}


def time_resolution(rep, resolution):
    eq(rep["time_resolution_ns"], {"default": 10**6, "exact": 1, "100ms": 10**8}[resolution],
       "time_resolution_ns")


def test_leak_snapshot(ctx, resolution):
    res, trace = ctx.record([ctx.sample("leak_snapshot")], expect_code=0,
                            options=TIME_RESOLUTIONS[resolution])
    eq(res.text, "leak_snapshot: done\n", "stdout")
    time_resolution(leaks_json(ctx, trace), resolution)

    before = snapshot_of(ctx, trace, "before")
    eq((before["snapshot"]["threads"], before["snapshot"]["threads_stopped"],
        before["snapshot"]["live_blocks"]), (1, 1, 2), "before: threads, stopped, live_blocks")
    check_leak_totals(before, "before", direct_bytes=336, direct_blocks=1, indirect_bytes=0,
                      indirect_blocks=0, cycle_bytes=0, cycle_blocks=0, cycle_count=0,
                      reachable_bytes=1200, reachable_blocks=1, possibly_bytes=0)
    eq(groups(before), [("direct", "make_early_leak", 336, 1)], "before: leak groups")

    after = snapshot_of(ctx, trace, "after")
    eq((after["snapshot"]["threads"], after["snapshot"]["live_blocks"]), (1, 5),
       "after: threads, live_blocks")
    check_after(after, "after")
    check_leak_totals(after, "after", reachable_bytes=0, possibly_bytes=0)

    # Four threads blocked with their blocks on their stacks only: all stopped, all reachable.
    thr = snapshot_of(ctx, trace, "threads")
    sn = thr["snapshot"]
    eq((sn["threads"], sn["threads_stopped"]), (5, 5), "threads: threads, threads_stopped")
    check_after(thr, "threads")
    check(all(group_fn(g) != "worker" for g in thr["leaks"]),
          "threads: a worker's block (held on its blocked thread's stack) is reported leaked: "
          + describe_leaks(thr))
    new_blocks = sn["live_blocks"] - after["snapshot"]["live_blocks"]
    check(new_blocks >= 4, "threads: %d more live blocks than at 'after'; the 4 workers' "
          "blocks are missing" % new_blocks)
    eq(thr["totals"]["reachable_blocks"] - after["totals"]["reachable_blocks"], new_blocks,
       "threads: every block allocated since 'after' is reachable")
    check(thr["totals"]["reachable_bytes"] >= 400 + 416 + 432 + 448,
          "threads: reachable_bytes below the workers' 1696 bytes")

    times = [p["snapshot"]["time_ns"] for p in (before, after, thr)]
    check(times == sorted(times), "snapshot times not in program order: %r" % times)

    # No label: each process's last snapshot, the exit one.
    last = only_process(leaks_json(ctx, trace), "no --snapshot")
    eq(last["snapshot"]["label"], "exit", "default snapshot label")
    check(last["snapshot"]["time_ns"] >= times[-1], "exit snapshot before 'threads'")

    # #N: the Nth snapshot of each process, as `report --snapshot` takes it.
    by_id = only_process(leaks_json(ctx, trace, "--snapshot", "#2"), "--snapshot #2")
    eq((by_id["snapshot"]["label"], by_id["snapshot"]["time_ns"]), ("after", times[1]),
       "--snapshot #2: (label, time)")

    # A label nobody used, a process not in the trace: a usage error naming it, as `report`.
    for extra, msg in ((["--snapshot", "nosuch"], "no snapshot labelled 'nosuch' in trace"),
                       (["--snapshot", "#9"], "no snapshot #9 in trace"),
                       (["--snapshot", "#0"], "invalid snapshot id '#0' for --snapshot: each "
                        "process's snapshots are #1, #2, ..."),
                       (["--pid", "4000000"], "no process 4000000 in trace")):
        for fmt in ("json", "text"):
            res = leaks(ctx, trace, *extra, fmt=fmt, expect_code=2)
            check(msg in one_line(res.errtext, " ".join(extra)),
                  "%s: stderr %r" % (" ".join(extra), res.errtext))
            eq(res.out, b"", "%s --format %s: stdout" % (" ".join(extra), fmt))


def test_leaks_snapshot_labelled_end_or_peak(ctx):
    """`leaks --snapshot end` and `--snapshot peak` name the snapshots so labelled: leaks has
    no points but snapshots, where report's --snapshot takes 'end' and 'peak' for points (a
    parser shared with it once made both 'no snapshot #0'). python3 takes them through the
    shim's heapgraph_snapshot, as a program of the user's would."""
    code = ("import ctypes; take = ctypes.CDLL(None).heapgraph_snapshot; "
            "take(b'end'); take(b'peak')")
    _, trace = ctx.record([sys.executable, "-c", code], expect_code=0)
    times = []
    for label in ("end", "peak"):
        proc = snapshot_of(ctx, trace, label)
        times.append(proc["snapshot"]["time_ns"])
        res = leaks(ctx, trace, "--snapshot", label, fmt="text")
        check("snapshot '%s':" % label in res.text, "--snapshot %s text: %s" % (
            label, clip(res.text)))
    check(times[0] < times[1], "'end' taken before 'peak': %r" % times)


def test_leak_snapshot_exit(ctx):
    """At exit the workers have freed their blocks and been joined: the leaks are exactly
    those of 'after'. glibc keeps each joined thread's stack (and, in the thread descriptor at
    its top, the pointer to the thread's DTV, a calloc'd block) in its stack cache for reuse;
    that is not a leak, and memcheck does not report it."""
    _, _, rep = record_leaks(ctx, "leak_snapshot")
    proc = only_process(rep, "leak_snapshot exit")
    eq(proc["snapshot"]["label"], "exit", "snapshot label")
    extra = [g for g in proc["leaks"] if not any(fn_base(f) and fn_base(f).startswith("make_")
                                                 for f in g["frames"])]
    if extra:
        raise Fail("exit: leaks not allocated by the sample's builders (%d bytes): %s" % (
            sum(g["bytes"] for g in extra), "; ".join(
                "%s %d B in %d: %s" % (g["kind"], g["bytes"], g["blocks"],
                                       " <- ".join(frame_desc(f) for f in g["frames"][:3]))
                for g in extra)))
    check_after(proc, "exit")


SR_THREADS, SR_ROUNDS = 4, 50  # samples/snapshot_race.c


def test_snapshot_race(ctx):
    """Four threads call heapgraph_snapshot at once, 50 times each, while allocating
    (samples/snapshot_race.c): each call yields one complete snapshot, ids 1..201 taken one
    after the other, then the exit one. Before snapshots were serialised, two threads
    stopping the world at once parked in each other's stop handler and the program hung."""
    res, trace = ctx.record([ctx.sample("snapshot_race")], expect_code=0)
    eq(res.text, "snapshot_race: done\n", "stdout")
    r = run([ctx.hg, "snapshots", trace, "--format", "json"])
    eq((r.code, r.errtext), (0, ""), "snapshots: exit status and stderr")
    rep = json.loads(r.out)
    eq((rep["damage"], rep["lost_events"]), (None, 0), "snapshots: damage, lost events")
    snaps = only_process(rep, "snapshot_race")["snapshots"]
    n = SR_THREADS * SR_ROUNDS + 1
    eq(len(snaps), n, "number of snapshots")
    # Listed in time order, whichever thread's slot the collector drained first.
    eq([s["id"] for s in snaps], list(range(1, n + 1)), "snapshot ids")
    check(all(s["complete"] for s in snaps), "incomplete snapshots: %r" % [
        s["id"] for s in snaps if not s["complete"]])
    times = [s["time_ns"] for s in snaps]
    check(times == sorted(times), "snapshot times not in id order: one began inside another")
    labels = {}
    for s in snaps[:-1]:
        eq(s["reason"], "call", "snapshot #%d reason" % s["id"])
        labels[s["label"]] = labels.get(s["label"], 0) + 1
    eq(labels, {"race%d" % i: SR_ROUNDS for i in range(SR_THREADS)}, "snapshots per label")
    eq((snaps[-1]["label"], snaps[-1]["reason"]), ("exit", "exit"), "last snapshot")
    ex = snapshot_of(ctx, trace, "exit")
    latest = only_process(leaks_json(ctx, trace), "leaks without --snapshot")
    eq(latest["snapshot"]["label"], "exit", "leaks without --snapshot: the latest snapshot")
    eq((ex["snapshot"]["threads"], ex["snapshot"]["threads_stopped"]), (1, 1),
       "exit: threads, threads_stopped")
    check_leak_totals(ex, "exit", direct_bytes=0, direct_blocks=0, indirect_bytes=0,
                      indirect_blocks=0, cycle_bytes=0, cycle_blocks=0, cycle_count=0)


# ------------------------------------------------------------------------------------------
# leak_fork: an inherited cycle; --pid
# ------------------------------------------------------------------------------------------

def fork_images(rep):
    eq(len(rep["processes"]), 2, "leak_fork: number of process images")
    parent, child = rep["processes"]
    eq((parent["forked"], parent["exec"], child["forked"], child["exec"]),
       (False, False, True, False), "leak_fork: (forked, exec) of parent and child")
    eq(child["ppid"], parent["pid"], "leak_fork: child's ppid")
    return parent, child


def test_leak_fork(ctx, resolution):
    out, _, rep = record_leaks(ctx, "leak_fork", options=TIME_RESOLUTIONS[resolution])
    eq(out, "leak_fork: child exited 0\n", "stdout")
    time_resolution(rep, resolution)
    parent, child = fork_images(rep)
    for proc, fn, size, what in ((parent, "make_parent_leak", 880, "parent"),
                                 (child, "make_child_leak", 640, "child")):
        eq(proc["exit"], {"code": 0}, what + ": exit")
        check(proc["snapshot"] is not None, what + ": no exit snapshot")
        check_leak_totals(proc, what, direct_bytes=size, direct_blocks=1, indirect_bytes=0,
                          cycle_bytes=224, cycle_blocks=2, cycle_count=1, possibly_bytes=0)
        eq(groups(proc), sorted([("direct", fn, size, 1),
                                 ("cycle", "make_inherited_ring", 112, 1),
                                 ("cycle", "make_inherited_ring", 112, 1)]),
           what + ": leak groups")
        check_ring(the_cycle(proc, "make_inherited_ring"), 2, 112, what + ": inherited ring")
    eq(edge_set(parent["cycles"][0]), edge_set(child["cycles"][0]),
       "the child's inherited cycle is the parent's, at the same addresses")


test_leak_fork.params = test_leak_snapshot.params = tuple(TIME_RESOLUTIONS)


def test_leak_fork_child_allocating_nothing(ctx):
    """A fork child that allocates nothing itself still has its parent's blocks: its exit
    snapshot looks for pointers (the shim skips that only in an image that never had a
    block), so the inherited ring is a cycle, not two direct leaks."""
    out, _, rep = record_leaks(ctx, "leak_fork", extra=(), options=(),
                               argv=("--child-allocates-nothing",))
    eq(out, "leak_fork: child exited 0\n", "stdout")
    _, child = fork_images(rep)
    eq((child["totals"]["allocations"], child["totals"]["live_blocks"]), (0, 2),
       "child: allocations, live blocks")
    check_leak_totals(child, "child", direct_bytes=0, direct_blocks=0, indirect_bytes=0,
                      cycle_bytes=224, cycle_blocks=2, cycle_count=1, possibly_bytes=0)
    check(child["snapshot"]["pointer_words"] >= 2, "child: %d pointer words, the ring has 2"
          % child["snapshot"]["pointer_words"])


def test_snapshot_of_an_image_without_blocks(ctx):
    """/bin/true allocates nothing: its exit snapshot is taken and says so, but reads no word
    (none could point into a block the trace knows), which kept a shell loop's trace 21%
    smaller."""
    res, trace = ctx.record(["/bin/true"], expect_code=0)
    proc = only_process(leaks_json(ctx, trace), "/bin/true")
    if proc["totals"]["allocations"]:
        raise Skip("this /bin/true allocates (%d blocks)" % proc["totals"]["allocations"])
    sn = proc["snapshot"]
    eq((sn["label"], sn["live_blocks"], sn["edges"], sn["words_scanned"], sn["pointer_words"]),
       ("exit", 0, 0, 0, 0), "exit snapshot: label, live_blocks, edges, words_scanned, "
       "pointer_words")
    check_leak_totals(proc, "/bin/true", direct_bytes=0, direct_blocks=0, indirect_bytes=0,
                      cycle_bytes=0, cycle_blocks=0, cycle_count=0, reachable_bytes=0,
                      reachable_blocks=0, possibly_bytes=0)


def test_leaks_pid_filter(ctx):
    _, trace = ctx.record([ctx.sample("leak_fork")], expect_code=0)
    parent, child = fork_images(leaks_json(ctx, trace))
    for proc in (parent, child):
        rep = leaks_json(ctx, trace, "--pid", str(proc["pid"]))
        eq(rep["processes"], [proc], "--pid %d: the images listed" % proc["pid"])
        text = leaks(ctx, trace, "--pid", str(proc["pid"]), fmt="text").text
        eq(text.count("\nprocess "), 1, "--pid %d text: process sections" % proc["pid"])
        check("process %d " % proc["pid"] in text, "--pid %d text names another process: %s"
              % (proc["pid"], clip(text)))
    absent = max(parent["pid"], child["pid"]) + 100000
    res = leaks(ctx, trace, "--pid", str(absent), expect_code=2)
    eq(one_line(res.errtext, "--pid of no traced process"),
       "heapgraph: error: no process %d in trace '%s' (heapgraph report lists them)"
       % (absent, trace), "--pid of no traced process: stderr")


# ------------------------------------------------------------------------------------------
# --format dot
# ------------------------------------------------------------------------------------------

DOT_TOKEN = re.compile(r'\s*(?:(->|--|[{}\[\];,=])|("(?:[^"\\]|\\.)*")|([A-Za-z0-9_.]+))', re.S)


def dot_tokens(text):
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = DOT_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Fail("dot: cannot tokenize at %d: %r" % (pos, text[pos:pos + 60]))
        out.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    return out


def parse_dot(text):
    """A digraph in the DOT language (the subset with node, edge, attribute and subgraph
    statements). Returns {"clusters": {name: {"attrs", "nodes", "edges"}}, "nodes", "edges"}
    where nodes maps id -> attrs (the graph's own, outside subgraphs) and edges are
    (tail, head, attrs)."""
    toks = dot_tokens(text)
    pos = [0]

    def peek():
        return toks[pos[0]] if pos[0] < len(toks) else None

    def take(expect=None):
        t = peek()
        if t is None or (expect is not None and t != expect):
            raise Fail("dot: expected %r at token %d, got %r" % (expect, pos[0], t))
        pos[0] += 1
        return t

    def ident():
        t = take()
        if t in ("{", "}", "[", "]", ";", ",", "=", "->", "--"):
            raise Fail("dot: expected an identifier, got %r" % t)
        return t[1:-1] if t.startswith('"') else t

    def attrs():
        a = {}
        while peek() == "[":
            take("[")
            while peek() != "]":
                k = ident()
                take("=")
                a[k] = ident()
                if peek() in (",", ";"):
                    take()
            take("]")
        return a

    def stmts(graph):
        take("{")
        while peek() != "}":
            t = peek()
            if t == "subgraph":
                take()
                name = ident()
                check(name not in graph["clusters"], "dot: subgraph %s twice" % name)
                sub = {"attrs": {}, "nodes": {}, "edges": [], "clusters": {}}
                stmts(sub)
                check(not sub["clusters"], "dot: nested subgraphs")
                graph["clusters"][name] = sub
            elif t in ("node", "edge", "graph"):
                take()
                attrs()
            else:
                a = ident()
                if peek() == "=":
                    take()
                    graph["attrs"][a] = ident()
                elif peek() == "->":
                    take()
                    b = ident()
                    graph["edges"].append((a, b, attrs()))
                elif peek() == "--":
                    raise Fail("dot: undirected edge in a digraph")
                else:
                    graph["nodes"][a] = attrs()
            if peek() == ";":
                take()
        take("}")

    take("digraph")
    if peek() != "{":
        ident()
    g = {"attrs": {}, "nodes": {}, "edges": [], "clusters": {}}
    stmts(g)
    check(peek() is None, "dot: text after the closing brace: %r" % toks[pos[0]:pos[0] + 5])
    return g


def check_dot_cycles(dot, rep, what):
    """One cluster per leaked cycle of every process, with the cycle's blocks as nodes and
    its edges, and nothing else."""
    eq(dot["nodes"], {}, what + ": nodes outside clusters")
    eq(dot["edges"], [], what + ": edges outside clusters")
    n_cycles = sum(len(p["cycles"]) for p in rep["processes"] if p["snapshot"])
    eq(len(dot["clusters"]), n_cycles, what + ": clusters vs leaked cycles in the JSON")
    owner = {}
    for name, cl in dot["clusters"].items():
        check(name.startswith("cluster"), "%s: subgraph %s is not a cluster (Graphviz draws "
              "a box only around subgraphs named cluster*)" % (what, name))
        for node in cl["nodes"]:
            check(node not in owner, "%s: node %s is declared in both %s and %s; DOT node ids "
                  "are global to the graph, so the two clusters share (and draw) one node"
                  % (what, node, owner.get(node), name))
            owner[node] = name
    used = set()
    for proc in rep["processes"]:
        if not proc["snapshot"]:
            continue
        for k, cy in enumerate(proc["cycles"]):
            want = {"0x%x" % b["address"] for b in cy["blocks"]}
            match = None
            for name, cl in dot["clusters"].items():
                if name in used or "pid %d" % proc["pid"] not in cl["attrs"].get("label", ""):
                    continue
                addr = {}
                for node, a in cl["nodes"].items():
                    m = re.search(r"@(0x[0-9a-f]+)", a.get("label", ""))
                    check(m, "%s: node %s label names no address: %r" % (what, node, a))
                    addr[m.group(1)] = node
                if set(addr) == want:
                    match = (name, cl, addr)
                    break
            check(match, "%s: no cluster for cycle #%d of pid %d (blocks %s)" % (
                what, k + 1, proc["pid"], sorted(want)))
            name, cl, addr = match
            used.add(name)
            for b in cy["blocks"]:
                label = cl["nodes"][addr["0x%x" % b["address"]]].get("label", "")
                check(fn_base(b["frames"][0]) in label and "%d B" % b["size"] in label,
                      "%s: node label %r lacks the function %s or the size %d" % (
                          what, label, fn_base(b["frames"][0]), b["size"]))
            got = sorted((t, h, a.get("label")) for t, h, a in cl["edges"])
            exp = sorted((addr["0x%x" % e["from"]], addr["0x%x" % e["to"]], "+%d" % e["offset"])
                         for e in cy["edges"])
            eq(got, exp, "%s: edges of cluster %s" % (what, name))


def test_leaks_dot(ctx):
    _, trace = ctx.record([ctx.sample("leak_cycles")], expect_code=0)
    rep = leaks_json(ctx, trace)
    dot = parse_dot(leaks(ctx, trace, fmt="dot").text)
    eq(len(dot["clusters"]), 6, "leak_cycles: clusters")
    check_dot_cycles(dot, rep, "leak_cycles dot")
    # C++ names (templates, parentheses, commas) inside the quoted labels.
    _, trace = ctx.record([ctx.sample("leak_cxx")], expect_code=0)
    dot = parse_dot(leaks(ctx, trace, fmt="dot").text)
    eq(len(dot["clusters"]), 2, "leak_cxx: clusters")
    check_dot_cycles(dot, leaks_json(ctx, trace), "leak_cxx dot")
    # An image without a snapshot adds nothing, and the output is still one digraph.
    _, trace = ctx.record([ctx.sample("sigkill")], expect_code=137)
    dot = parse_dot(leaks(ctx, trace, fmt="dot").text)
    eq((dot["clusters"], dot["nodes"], dot["edges"]), ({}, {}, []), "sigkill dot")


def test_leaks_dot_fork(ctx):
    """Parent and fork child both hold the inherited cycle at the same addresses: two clusters
    that must not share node ids."""
    _, trace = ctx.record([ctx.sample("leak_fork")], expect_code=0)
    rep = leaks_json(ctx, trace)
    dot = parse_dot(leaks(ctx, trace, fmt="dot").text)
    check_dot_cycles(dot, rep, "leak_fork dot")


# ------------------------------------------------------------------------------------------
# Images without a snapshot; usage errors
# ------------------------------------------------------------------------------------------

def test_leaks_no_snapshot(ctx):
    _, trace = ctx.record([ctx.sample("sigkill")], expect_code=137)
    rep = leaks_json(ctx, trace)
    proc = only_process(rep, "sigkill")
    eq(proc["exit"], {"signal": 9}, "sigkill: exit")
    eq(proc["snapshot"], None, "sigkill: snapshot")
    text = leaks(ctx, trace, fmt="text").text
    check("no snapshot: killed by signal 9 (SIGKILL) before exit" in text,
          "sigkill text does not say why it has no snapshot: %r" % clip(text))
    res = run([ctx.hg, "frag", trace])
    eq(res.code, 0, "sigkill: frag exit status")
    text = res.text
    check("no snapshot: killed by signal 9 (SIGKILL) before exit" in text,
          "sigkill: frag does not say why it has no snapshot: %r" % clip(text))

    # forkexec: the image replaced by exec has no snapshot; the other two have one each.
    _, trace = ctx.record([ctx.sample("forkexec")], expect_code=0)
    rep = leaks_json(ctx, trace)
    eq([(p["forked"], p["exec"], p["snapshot"] is not None) for p in rep["processes"]],
       [(False, False, True), (True, False, False), (False, True, True)],
       "forkexec: (forked, exec, has a snapshot) per image")
    text = leaks(ctx, trace, fmt="text").text
    check("no snapshot: replaced by exec: its heap was discarded" in text,
          "forkexec text does not say the fork child was replaced by exec: %s" % clip(text))

    # HEAPGRAPH_SNAPSHOT=0: no exit snapshot.
    _, trace = ctx.record([ctx.sample("demo")], expect_code=0,
                          env=clean_env({"HEAPGRAPH_SNAPSHOT": "0"}))
    proc = only_process(leaks_json(ctx, trace), "demo with HEAPGRAPH_SNAPSHOT=0")
    eq(proc["snapshot"], None, "HEAPGRAPH_SNAPSHOT=0: snapshot")
    text = leaks(ctx, trace, fmt="text").text
    check("no snapshot: none was taken at its exit: HEAPGRAPH_SNAPSHOT=0" in text,
          "HEAPGRAPH_SNAPSHOT=0: text does not say why: %r" % clip(text))


def test_leaks_usage_errors(ctx):
    trace = ctx.record([ctx.sample("leak_cycles")], expect_code=0)[1]
    cases = (
        [], ["--bogus", trace], [trace, "--format", "xml"], [trace, "--format"],
        [trace, "--pid", "0"], [trace, "--pid", "abc"], [trace, "--pid", "-3"],
        [trace, "--pid", "99999999999"], [trace, "--top", "many"], [trace, "--frames", "0"],
        [trace, "--snapshot"], [trace, trace],
    )
    problems = []
    for args in cases:
        res = run([ctx.hg, "leaks"] + args)
        what = "heapgraph leaks %s" % " ".join(args)
        try:
            eq(res.code, 2, what + ": exit status")
            line = one_line(res.errtext, what)
            check(line.startswith("heapgraph"), "%s: message should start with 'heapgraph': %r"
                  % (what, line))
            eq(res.out, b"", what + ": stdout")
        except Fail as e:
            problems.append(str(e))
    if problems:
        raise Fail("%d of %d usage errors wrong:\n  %s" % (len(problems), len(cases),
                                                          "\n  ".join(problems)))
    res = run([ctx.hg, "leaks", "--help"])
    eq(res.code, 0, "leaks --help: exit status")
    for word in ("--snapshot", "--pid", "--format", "dot"):
        check(word in res.text, "leaks --help does not mention %r" % word)
    res = run([ctx.hg, "leaks", ctx.path("no-such.hgt")])
    eq(res.code, 3, "leaks on a missing trace: exit status")
    check("no-such.hgt" in one_line(res.errtext, "leaks on a missing trace"),
          "leaks on a missing trace: stderr does not name the file")


# ------------------------------------------------------------------------------------------
# Blocks next to malloc's own bookkeeping; a root mapping merged with a malloc mapping
# ------------------------------------------------------------------------------------------

def test_leak_tail(ctx):
    out, _, rep = record_leaks(ctx, "leak_tail")
    eq(out, "leak_tail: done\n", "stdout")
    proc = only_process(rep, "leak_tail")
    t = proc["totals"]
    eq((t["live_blocks"], t["allocations"], t["frees"]), (3, 4, 1),
       "live_blocks, allocations, frees")
    if t["possibly_bytes"]:
        raise Fail("leaked blocks whose last 8 bytes hold the next chunk's malloc header are "
                   "'possibly' reachable (%d bytes in %d blocks), through main_arena's top/bin "
                   "pointers; leaks: %s" % (t["possibly_bytes"], t["possibly_blocks"],
                                            describe_leaks(proc)))
    check_leak_totals(proc, "leak_tail", direct_bytes=3040, direct_blocks=2, indirect_bytes=0,
                      cycle_bytes=0, reachable_bytes=64, reachable_blocks=1)
    eq(groups(proc), sorted([("direct", "make_binned_neighbour", 40, 1),
                             ("direct", "make_top_neighbour", 3000, 1)]), "leak groups")


def test_leak_freed_heap(ctx):
    out, _, rep = record_leaks(ctx, "leak_freed_heap")
    eq(out, "leak_freed_heap: done\n", "stdout")
    proc = only_process(rep, "leak_freed_heap")
    t = proc["totals"]
    eq((t["live_blocks"], t["allocations"], t["frees"]), (12, 262156, 262144),
       "live_blocks, allocations, frees")
    check_leak_totals(proc, "leak_freed_heap", direct_bytes=4096, direct_blocks=1,
                      indirect_bytes=0, cycle_bytes=0, reachable_bytes=544, reachable_blocks=11,
                      possibly_bytes=0)
    eq(groups(proc), [("direct", "keep_some", 4096, 1)], "leak groups")
    scanned = proc["snapshot"]["words_scanned"]
    if scanned >= 1000000:
        raise Fail("the exit snapshot read %d words: the 32 MiB the program freed (4,194,304 "
                   "words) should not be read, only chunks malloc has handed out" % scanned)


def test_leak_mmap_root(ctx):
    res, trace = ctx.record([ctx.sample("leak_mmap_root")])
    if res.code == 77:
        raise Skip("no free address next to the 1 MiB block for the sample's own mapping")
    eq(res.code, 0, "exit status")
    if res.text != "leak_mmap_root: merged\n":
        raise Skip("the kernel did not merge the two mappings (%r)" % res.text)
    proc = only_process(leaks_json(ctx, trace), "leak_mmap_root")
    check_leak_totals(proc, "leak_mmap_root (the 48-byte block is held from the program's "
                      "own anonymous mapping, which shares a maps line with a 1 MiB malloc "
                      "block; leaks: %s)" % describe_leaks(proc),
                      direct_bytes=0, indirect_bytes=0, cycle_bytes=0, reachable_bytes=1048624,
                      reachable_blocks=2, possibly_bytes=0)


def test_own_arena(ctx):
    """The program's own 4 MiB arena holds half a million pointers into itself and the only
    pointer to a 64-byte block; a 1 MiB block lands in a hole the program unmapped. The
    snapshot writes the pointer to the block, not the arena's pointers to itself, and the
    1 MiB block in the former hole stays reachable."""
    res, trace = ctx.record([ctx.sample("own_arena")])
    eq(res.code, 0, "exit status")
    if res.text != "own_arena: reused\n":
        raise Skip("the 1 MiB block did not land in the unmapped hole (%r)" % res.text)
    proc = only_process(leaks_json(ctx, trace), "own_arena")
    check_leak_totals(proc, "own_arena (leaks: %s)" % describe_leaks(proc),
                      direct_bytes=32, direct_blocks=1, indirect_bytes=0, cycle_bytes=0,
                      reachable_bytes=1048640, reachable_blocks=2, possibly_bytes=0)
    eq(groups(proc), [("direct", "lose_one", 32, 1)], "leak groups")
    words = proc["snapshot"]["pointer_words"]
    check(words < 5000, "the exit snapshot wrote %d pointer words: the arena's 524,288 "
          "pointers into itself should not be written" % words)


def test_leaks_behind_own_malloc(ctx):
    """The demo with a malloc of its own behind the shim (samples/libbumpalloc.c: blocks
    carved from a pool its constructor maps with mmap): the same leaks as with glibc's,
    64 bytes lost and 17 blocks reachable, none of them taken for lost because their pool
    looks like the program's own mapping."""
    totals = {}
    for how, env in (("glibc", None),
                     ("own", clean_env({"LD_PRELOAD": ctx.sample("libbumpalloc.so")}))):
        res, trace = ctx.record([ctx.sample("demo")], expect_code=0, env=env)
        eq(res.text, "hello, heapgraph\n16 words cached, 57 letters counted\n",
           "demo stdout with %s malloc" % how)
        proc = only_process(leaks_json(ctx, trace), "demo with %s malloc" % how)
        totals[how] = {k: proc["totals"][k] for k in
                       ("direct_bytes", "direct_blocks", "indirect_bytes", "cycle_bytes",
                        "reachable_bytes", "reachable_blocks", "possibly_bytes")}
    eq(totals["glibc"]["direct_bytes"], 64, "demo's lost greeting")
    eq(totals["glibc"]["reachable_blocks"], 17, "demo's reachable blocks")
    eq(totals["own"], totals["glibc"], "leak totals with the malloc of its own")


# ------------------------------------------------------------------------------------------
# memcheck agreement
# ------------------------------------------------------------------------------------------

VG_KIND = re.compile(r"^==(\d+)==\s+(definitely lost|indirectly lost|possibly lost|"
                     r"still reachable): ([\d,]+) bytes in ([\d,]+) blocks", re.M)
VG_NONE = re.compile(r"^==(\d+)== All heap blocks were freed -- no leaks are possible", re.M)


def memcheck(argv, cwd):
    """Run argv under memcheck; {pid: {kind: (bytes, blocks)}} from each LEAK SUMMARY (-q
    would drop the summaries). Skip when valgrind is not installed."""
    vg = shutil.which("valgrind")
    if not vg:
        raise Skip("valgrind not installed")
    res = run([vg, "--leak-check=full", "--show-leak-kinds=all", "--errors-for-leak-kinds=none",
               "--child-silent-after-fork=no"] + list(argv), cwd=cwd)
    out = {}
    for m in VG_KIND.finditer(res.errtext):
        out.setdefault(int(m.group(1)), {})[m.group(2)] = (int(m.group(3).replace(",", "")),
                                                           int(m.group(4).replace(",", "")))
    for m in VG_NONE.finditer(res.errtext):
        out[int(m.group(1))] = {}
    check(out, "memcheck printed no leak summary for %s:\n%s" % (" ".join(argv),
                                                                clip(res.errtext, 1500)))
    return res, out


def vg_lost(summary):
    d = summary.get("definitely lost", (0, 0))
    i = summary.get("indirectly lost", (0, 0))
    return d[0] + i[0], d[1] + i[1]


def hg_lost_by_image(rep):
    return [(p, leak_total(p)) for p in rep["processes"] if p["snapshot"] is not None]


AGREE_SAMPLES = ("leak_cycles", "leak_cxx", "leak_snapshot", "leak_fork", "leak_tail",
                 "leak_freed_heap", "leak_main_exit", "leak_sigblock")


def test_memcheck_agreement(ctx, sample):
    prog = ctx.sample(sample)
    vres, vg = memcheck([prog], ctx.fresh_dir("vg"))
    res, trace = ctx.record([prog], cwd=ctx.fresh_dir("hg"))
    eq(res.code, vres.code, "exit status under record vs under memcheck")
    eq(res.out, vres.out, "stdout under record vs under memcheck")
    rep = leaks_json(ctx, trace)
    hg = sorted(lost for _, lost in hg_lost_by_image(rep))
    want = sorted(vg_lost(s) for s in vg.values())
    if hg != want:
        detail = " | ".join("pid %d: %s" % (p["pid"], describe_leaks(p))
                            for p, _ in hg_lost_by_image(rep))
        raise Fail("(bytes, blocks) lost per process: memcheck definitely+indirectly %r, "
                   "heapgraph direct+indirect+cycle %r; heapgraph's leaks: %s"
                   % (want, hg, detail))


test_memcheck_agreement.params = AGREE_SAMPLES


REAL_PROGRAMS = {
    "python3": lambda: [os.path.realpath(sys.executable), "-c", "print(1)"],
    "git": lambda: [shutil.which("git"), "--version"] if shutil.which("git") else None,
    "perl": lambda: [shutil.which("perl"), "-e", "1"] if shutil.which("perl") else None,
    "bash": lambda: [shutil.which("bash"), "-c", "true"] if shutil.which("bash") else None,
}


def test_memcheck_real(ctx, name):
    argv = REAL_PROGRAMS[name]()
    if not argv:
        raise Skip("%s not installed" % name)
    vres, vg = memcheck(argv, ctx.fresh_dir("vg"))
    lost = {pid: vg_lost(s) for pid, s in vg.items()}
    if any(b for b, _ in lost.values()):
        raise Skip("memcheck reports %s lost in %s: only a leak-free program is compared"
                   % (sorted(lost.values()), " ".join(argv)))
    res, trace = ctx.record(argv, cwd=ctx.fresh_dir("hg"))
    eq(res.code, vres.code, "exit status under record vs under memcheck")
    rep = leaks_json(ctx, trace)
    images = hg_lost_by_image(rep)
    check(images, "%s: no process image with a snapshot" % " ".join(argv))
    bad = [(p, lost) for p, lost in images if lost != (0, 0)]
    if bad:
        raise Fail("memcheck finds nothing lost in %s; heapgraph reports: %s" % (
            " ".join(argv), " | ".join("pid %d (%s): %d bytes in %d blocks: %s" % (
                p["pid"], os.path.basename(p["exe"]), lost[0], lost[1], describe_leaks(p))
                for p, lost in bad)))


test_memcheck_real.params = tuple(REAL_PROGRAMS)


def test_leak_signal(ctx):
    """HEAPGRAPH_SNAPSHOT_SIGNAL=12: SIGUSR2 takes a snapshot labelled "signal"
    (samples/leak_signal.c), and the handler keeps the signal from killing the program."""
    res, trace = ctx.record([ctx.sample("leak_signal")], expect_code=0,
                            env=clean_env({"HEAPGRAPH_SNAPSHOT_SIGNAL": "12"}))
    eq(res.text, "leak_signal: done\n", "stdout")
    for label, reachable_min in (("signal", 960), ("exit", 0)):
        proc = only_process(leaks_json(ctx, trace, "--snapshot", label), "leak_signal")
        check(proc["snapshot"] is not None, "no snapshot labelled %s" % label)
        eq(proc["snapshot"]["label"], label, "snapshot label")
        t = proc["totals"]
        eq((t["direct_bytes"], t["direct_blocks"], t["indirect_bytes"], t["indirect_blocks"],
            t["cycle_bytes"]), (112, 1, 448, 4, 0), "leaks at snapshot %s" % label)
        check(t["reachable_bytes"] >= reachable_min,
              "snapshot %s: %d bytes reachable, expected the kept list (%d) at least"
              % (label, t["reachable_bytes"], reachable_min))
