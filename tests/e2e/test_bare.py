"""test_bare.py - bare mode: `LD_PRELOAD=libheapgraph.so PROG` with no launcher

The shim starts its own collector, which writes heapgraph.<pid>.hgt in the program's cwd (or
HEAPGRAPH_OUTPUT). A user runs `heapgraph report` as soon as the program returns, so for normal
exits the trace must be complete by then; a failure says whether it was merely late.
"""
import os
import tempfile
import time

from harness import (Fail, check_no_ring_left, check_site, clean_env, eq, only_process, run,
                     the_site)
from test_samples import (THREAD_EXPECT, check_demo, check_entrypoints, check_exitcode)

TRACE_WAIT_S = 30  # how long a collector may take to finish after its program died


def collector_running(trace):
    """Whether a `heapgraph collect` writing trace is still alive (found through /proc)."""
    name = os.path.basename(trace)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"collect" in args and any(a.endswith(name.encode()) for a in args):
            return True
    return False


def wait_collector(trace):
    """Wait (bounded) until trace exists and no collector writes it; returns the seconds
    waited. The file is polled too: a collector still between fork and exec is not visible
    under its own name yet."""
    t0 = time.monotonic()
    while ((not os.path.exists(trace) or collector_running(trace))
           and time.monotonic() - t0 < TRACE_WAIT_S):
        time.sleep(0.1)
    return time.monotonic() - t0


def bare_report(ctx, path, check_fn, immediate):
    """Report on a bare-mode trace and apply check_fn(report). With immediate, the trace must
    already be complete when the traced program has exited (a user runs `heapgraph report`
    right after): if it is not, wait for the collector and say whether it was merely late."""
    def attempt():
        if not os.path.isfile(path):
            raise Fail("bare mode wrote no trace at %s (dir has %r)" % (
                path, sorted(os.listdir(os.path.dirname(path)))))
        check_fn(ctx.report_json(path))
    if not immediate:
        wait_collector(path)
        return attempt()
    try:
        return attempt()
    except Fail as first:
        waited = wait_collector(path)
        try:
            attempt()
        except Fail:
            raise first
        raise Fail("trace %s was not complete when the program exited (complete after the "
                   "collector finished, %.1f s later); right after exit: %s"
                   % (os.path.basename(path), waited, first))


def bare_run(ctx, argv, what, expect_code=0, extra_env=None, trace=None, immediate=True,
             check_fn=None):
    """Run argv with LD_PRELOAD in a fresh cwd; check the trace it wrote (heapgraph.<pid>.hgt
    in cwd unless trace is given) with check_fn(process). Returns the Result."""
    cwd = tempfile.mkdtemp(prefix="bare-", dir=ctx.tmp)
    since_ns = time.monotonic_ns()
    res = ctx.bare(argv, cwd, extra_env)
    eq(res.code, expect_code, what + ": exit status with LD_PRELOAD")
    path = trace or os.path.join(cwd, "heapgraph.%d.hgt" % res.pid)

    def check_rep(rep):
        proc = only_process(rep, what)
        eq(proc["pid"], res.pid, what + ": pid")
        eq(proc["ppid"], os.getpid(), what + ": ppid")
        eq(proc["command"], " ".join(argv), what + ": command")
        if check_fn:
            check_fn(proc)
    bare_report(ctx, path, check_rep, immediate)
    wait_collector(path)
    check_no_ring_left(res.pid, since_ns, what)
    return res


def test_bare_demo(ctx):
    def check_fn(proc):
        check_demo(proc, "bare demo")
        eq(proc["exit"], {"code": 0}, "bare demo: exit")
    res = bare_run(ctx, [ctx.sample("demo")], "bare demo", check_fn=check_fn)
    eq(res.text, "hello, heapgraph\n16 words cached, 57 letters counted\n", "stdout")
    eq(res.err, b"", "stderr (the shim must be silent)")


def test_bare_output_env(ctx):
    out = ctx.path("custom-name.hgt")
    cwd = ctx.fresh_dir("bare")
    res = ctx.bare([ctx.sample("entrypoints")], cwd, {"HEAPGRAPH_OUTPUT": out})
    eq(res.code, 0, "exit status")
    bare_report(ctx, out, lambda rep: check_entrypoints(
        only_process(rep, "bare entrypoints"), "bare entrypoints (HEAPGRAPH_OUTPUT)"), True)
    eq([n for n in os.listdir(cwd) if n.endswith(".hgt")], [],
       "traces in cwd when HEAPGRAPH_OUTPUT is set")


def test_bare_unwritable_output(ctx):
    """A trace that cannot be written: one error line on stderr naming it, the program's own
    output and exit status unchanged, and its children run untraced without repeating it (no
    trace anywhere, no file made, no ring left)."""
    cwd = ctx.fresh_dir("bare")
    out = os.path.join(cwd, "no-such-dir", "t.hgt")
    since_ns = time.monotonic_ns()
    res = ctx.bare(["/bin/sh", "-c", "echo one; /bin/echo two; exit 7"], cwd,
                   {"HEAPGRAPH_OUTPUT": out})
    eq(res.code, 7, "exit status")
    eq(res.text, "one\ntwo\n", "stdout")
    eq(res.err.decode(), "heapgraph: error: cannot write trace '%s': No such file or "
       "directory; running untraced\n" % out, "stderr: one line, from the root only")
    eq(sorted(os.listdir(cwd)), [], "files left in cwd")
    check_no_ring_left(res.pid, since_ns, "unwritable output")


REAPER_EXEC = """import ctypes, os, sys
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER, kept across execve
os.execve(sys.argv[1], sys.argv[1:], dict(os.environ, LD_PRELOAD=os.environ["HG_TEST_LIB"]))
"""


def test_bare_reaper(ctx):
    """A process that reaps orphans cannot have a bare-mode collector (it would wait for it):
    it says so once and runs untraced, and its child, no reaper, still traces itself."""
    cwd = ctx.fresh_dir("bare")
    demo = ctx.sample("demo")
    res = run(["/usr/bin/python3", "-c", REAPER_EXEC, "/bin/sh", "-c", demo + "; true"],
              cwd=cwd, env=clean_env({"HG_TEST_LIB": ctx.lib}))
    eq(res.code, 0, "exit status")
    eq(res.text, "hello, heapgraph\n16 words cached, 57 letters counted\n", "stdout")
    eq(res.err.decode(), "heapgraph: error: bare mode: this process reaps orphans, so its "
       "collector would never end; use 'heapgraph record'; running untraced\n", "stderr")
    traces = [n for n in os.listdir(cwd) if n.endswith(".hgt")]
    eq(len(traces), 1, "traces in cwd (the child's only): %r" % traces)

    def check_fn(rep):
        proc = only_process(rep, "reaper's child")
        eq(proc["command"], demo, "reaper's child: command")
        check_demo(proc, "reaper's child")
    bare_report(ctx, os.path.join(cwd, traces[0]), check_fn, False)


def test_bare_exit_paths(ctx, mode):
    code = {"exit": 23, "_exit": 24, "return": 25}[mode]

    def check_fn(proc):
        check_exitcode(proc, "bare exitcode " + mode)
        eq(proc["exit"], {"code": code}, "bare exitcode %s: exit" % mode)
    bare_run(ctx, [ctx.sample("exitcode"), mode], "bare exitcode " + mode, expect_code=code,
             check_fn=check_fn)


test_bare_exit_paths.params = ["exit", "_exit", "return"]


def test_bare_threads(ctx, clock):
    """The shim makes the ring, and calibrates its clock, itself (see test_threads)."""
    def check_fn(proc):
        for fn, allocated, blocks, live in THREAD_EXPECT:
            check_site(the_site(proc, fn), "bare " + fn, allocations=20000,
                       allocated_bytes=allocated, live_blocks=blocks, live_bytes=live)
    bare_run(ctx, [ctx.sample("threads")], "bare threads", check_fn=check_fn,
             extra_env={"HEAPGRAPH_CLOCK": clock} if clock != "default" else None)


test_bare_threads.params = ["default", "monotonic"]


def test_bare_sigkill(ctx):
    """Killed by SIGKILL with no launcher: the leaks must still reach the trace (once the
    collector has noticed; no promise on when, so this one waits for it)."""
    bare_run(ctx, [ctx.sample("sigkill")], "bare sigkill", expect_code=-9, immediate=False,
             check_fn=lambda proc: check_site(the_site(proc, "hoard"), "bare hoard",
                                              live_blocks=5, live_bytes=15015))
