"""harness.py - what every e2e test uses: running commands, assertions, the JSON contract

Tests import from here and nothing else of each other's except the sample expectations in
test_samples.py. Every command runs with a clean environment (no HEAPGRAPH_* or LD_PRELOAD of
the caller, C locale) and a time limit that exists only to turn a hang into a failure.
"""
import glob
import json
import os
import signal
import subprocess
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_SRC = os.path.join(REPO, "samples")
CMD_TIMEOUT_S = 240        # per command: a hang guard, never an assertion


class Fail(Exception):
    """A test's expectation was not met."""


class Skip(Exception):
    """A test cannot run here (a missing program); not counted."""


# ------------------------------------------------------------------------------------------
# Running commands
# ------------------------------------------------------------------------------------------

class Result:
    """What a finished command did: exit code (negative = killed by that signal), output."""

    def __init__(self, argv, pid, code, out, err, maxrss_kib):
        self.argv = argv
        self.pid = pid
        self.code = code
        self.out = out
        self.err = err
        self.maxrss_kib = maxrss_kib

    @property
    def text(self):
        return self.out.decode("utf-8", "replace")

    @property
    def errtext(self):
        return self.err.decode("utf-8", "replace")

    def describe(self):
        return "%s -> %s\n  stdout: %s\n  stderr: %s" % (
            " ".join(self.argv), self.code, clip(self.text), clip(self.errtext))


def clip(s, n=600):
    s = s.rstrip("\n")
    return s if len(s) <= n else s[:n] + "...[%d more chars]" % (len(s) - n)


# The variable run.py sets to the run's own debug cache (HEAPGRAPH_CACHE of every command).
CACHE_VAR = "HG_E2E_CACHE"


def clean_env(extra=None):
    """The environment for every command: ours without any tracer settings, C locale, the
    run's debug cache rather than the user's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HEAPGRAPH_") and k not in ("LD_PRELOAD", "LD_LIBRARY_PATH")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    env["HEAPGRAPH_CACHE"] = os.environ.get(CACHE_VAR) or "off"
    env.update(extra or {})
    return env


def run(argv, cwd=None, env=None, stdin=b"", timeout=CMD_TIMEOUT_S):
    """Run argv to completion and return a Result. Output goes through files (no pipe
    deadlocks); the exit status comes from wait4 so that the peak RSS of the command and the
    children it waited for is known. The command gets its own process group, which is killed
    if the time limit passes (a Fail)."""
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
            tempfile.TemporaryFile() as ferr:
        if stdin:
            fin.write(stdin)
            fin.seek(0)
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env if env is not None else clean_env(),
                                    stdin=fin, stdout=fout, stderr=ferr,
                                    start_new_session=True)
        except OSError as e:
            raise Fail("cannot run %s: %s" % (argv[0], e))
        timed_out = []

        def kill():
            timed_out.append(True)
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, rusage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        fout.seek(0)
        ferr.seek(0)
        res = Result(argv, proc.pid, proc.returncode, fout.read(), ferr.read(),
                     rusage.ru_maxrss)
    if timed_out:
        raise Fail("command timed out after %d s: %s" % (timeout, res.describe()))
    return res


# ------------------------------------------------------------------------------------------
# Assertions
# ------------------------------------------------------------------------------------------

def eq(actual, expected, what):
    if actual != expected:
        raise Fail("%s: expected %r, got %r" % (what, expected, actual))


def check(cond, what):
    if not cond:
        raise Fail(what)


def one_line(text, what):
    """Exactly one non-empty line, newline-terminated."""
    lines = text.split("\n")
    check(len(lines) == 2 and lines[1] == "" and lines[0].strip() != "",
          "%s: expected exactly one line on stderr, got %r" % (what, clip(text)))
    return lines[0]


def fn_base(frame):
    """A frame's function name without a C++ parameter list: "f(int)" -> "f"."""
    name = frame.get("function")
    if name is None:
        return None
    i = name.find("(")
    return name if i < 0 else name[:i]


def frame_desc(frame):
    return "%s at %s:%s in %s" % (frame.get("function"), frame.get("file"), frame.get("line"),
                                  frame.get("module"))


def site_desc(site):
    top = site["frames"][0] if site["frames"] else {}
    return "site(%s; live %d bytes in %d blocks, %d allocations, %d bytes allocated)" % (
        frame_desc(top), site["live_bytes"], site["live_blocks"], site["allocations"],
        site["allocated_bytes"])


def sites_at(proc, fn):
    """Sites whose frames[0] is function fn."""
    return [s for s in proc["sites"] if s["frames"] and fn_base(s["frames"][0]) == fn]


def sites_through(proc, fn):
    """Sites with fn in frames[1:], but not in frames[0]."""
    return [s for s in proc["sites"]
            if s["frames"] and fn_base(s["frames"][0]) != fn
            and any(fn_base(f) == fn for f in s["frames"][1:])]


def the_site(proc, fn, through=False):
    found = sites_through(proc, fn) if through else sites_at(proc, fn)
    if len(found) != 1:
        tops = ", ".join(site_desc(s) for s in proc["sites"][:12])
        raise Fail("expected one live site %s %s in pid %s, found %d; sites: %s" % (
            "through" if through else "at", fn, proc["pid"], len(found), tops or "none"))
    return found[0]


def check_site(site, what, **expected):
    for key, value in expected.items():
        eq(site[key], value, "%s: %s" % (what, key))


def check_totals(proc, what, **expected):
    for key, value in expected.items():
        eq(proc["totals"][key], value, "%s: totals.%s" % (what, key))


def marker_line(src, name):
    """Line number of the `/* site: NAME */` marker in samples/src."""
    with open(os.path.join(SAMPLE_SRC, src)) as f:
        for n, line in enumerate(f, 1):
            if "/* site: %s */" % name in line:
                return n
    raise Fail("no /* site: %s */ marker in samples/%s" % (name, src))


def check_frame(frame, fn, src, marker=None, module_suffix=None):
    """frame is fn in a file named src (basename) at the marked line."""
    what = "frame %s" % frame_desc(frame)
    eq(fn_base(frame), fn, what + ": function")
    eq(os.path.basename(frame.get("file") or ""), src, what + ": file basename")
    if marker is not None:
        eq(frame.get("line"), marker_line(src, marker), what + ": line")
    if module_suffix is not None:
        check((frame.get("module") or "").endswith(module_suffix),
              "%s: module should end in %r" % (what, module_suffix))


# ------------------------------------------------------------------------------------------
# The JSON report contract
# ------------------------------------------------------------------------------------------

TOTAL_KEYS = ("allocations", "frees", "allocated_bytes", "peak_bytes", "peak_time_ns",
              "live_bytes", "live_blocks", "lost_events", "unknown_frees")
PROC_KEYS = ("pid", "ppid", "command", "exe", "forked", "exec", "foreign_malloc", "exit",
             "totals", "tracer", "sites")
SITE_KEYS = ("live_bytes", "live_blocks", "allocations", "allocated_bytes", "frames")
FRAME_KEYS = ("function", "file", "line", "module", "address")


def fmt_bytes(n):
    """As the text reports write a byte count (analyzer/units.c, hg_format_bytes)."""
    if n < 1024:
        return "%d B" % n
    v, unit = float(n), -1
    while v >= 1024.0 and unit < 3:
        v /= 1024.0
        unit += 1
    return ("%.2f %s" if v < 10 else "%.1f %s" if v < 100 else "%.0f %s") % (
        v, ("KiB", "MiB", "GiB", "TiB")[unit])


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_schema(rep, all_sites):
    """Shape and internal consistency of a parsed JSON report, as docs/JSON.md defines it.
    With all_sites (--top 0) the sites must account for every live byte."""
    for key in ("format_version", "trace", "lost_events", "damage", "processes"):
        check(key in rep, "report: missing key %r" % key)
    check(is_int(rep["lost_events"]), "report: lost_events is not an integer")
    eq(rep["format_version"], 1, "report: format_version")
    check(isinstance(rep["trace"], str), "report: trace is not a string")
    dmg = rep["damage"]
    check(dmg is None or (isinstance(dmg, dict) and is_int(dmg.get("offset"))
                          and isinstance(dmg.get("message"), str)),
          "report: damage must be null or {offset, message}: %r" % (dmg,))
    check(isinstance(rep["processes"], list), "report: processes is not a list")
    for proc in rep["processes"]:
        check_proc_schema(proc, all_sites)


def check_proc_schema(proc, all_sites):
    for key in PROC_KEYS:
        check(key in proc, "process: missing key %r in %r" % (key, sorted(proc)))
    what = "process %s" % proc["pid"]
    check(is_int(proc["pid"]) and is_int(proc["ppid"]), what + ": pid/ppid not integers")
    check(isinstance(proc["command"], str) and isinstance(proc["exe"], str),
          what + ": command/exe not strings")
    check(isinstance(proc["forked"], bool) and isinstance(proc["exec"], bool) and
          isinstance(proc["foreign_malloc"], bool), what + ": forked/exec/foreign_malloc not "
          "booleans")
    ex = proc["exit"]
    check(ex == {} or ex == {"exec": True} or (list(ex) == ["code"] and is_int(ex["code"]))
          or (list(ex) == ["signal"] and is_int(ex["signal"])),
          what + ": exit must be {}, {code}, {signal} or {exec: true}: %r" % (ex,))
    for key in TOTAL_KEYS:
        check(is_int(proc["totals"].get(key)), what + ": totals.%s not an integer" % key)
    t = proc["totals"]
    tr = proc["tracer"]
    check(tr is None or (sorted(tr) == ["ring_bytes", "tables_bytes", "time_ns"]
                         and is_int(tr["time_ns"]) and is_int(tr["tables_bytes"])
                         and (tr["ring_bytes"] is None or is_int(tr["ring_bytes"]))),
          what + ": tracer must be null or {time_ns, tables_bytes, ring_bytes}: %r" % (tr,))
    check(tr is None or (tr["tables_bytes"] % 4096 == 0 and (tr["ring_bytes"] or 0) % 4096 == 0),
          what + ": the tracer's memory is counted in whole pages: %r" % (tr,))
    own = not proc["forked"]  # a fork child starts with its parent's live blocks
    check(t["live_bytes"] <= t["peak_bytes"], what + ": live_bytes > peak_bytes")
    check(not own or t["live_bytes"] <= t["allocated_bytes"],
          what + ": live_bytes > allocated_bytes")
    check(not own or t["live_blocks"] <= t["allocations"], what + ": live_blocks > allocations")
    prev = None
    for site in proc["sites"]:
        for key in SITE_KEYS:
            check(key in site, what + ": site missing key %r" % key)
        check(site["live_bytes"] > 0, what + ": listed site with live_bytes 0")
        check(site["live_blocks"] >= 1 and (not own or site["live_blocks"] <= site["allocations"]),
              what + ": site live_blocks not in 1..allocations: " + site_desc(site))
        check(not own or site["live_bytes"] <= site["allocated_bytes"],
              what + ": site live_bytes > allocated_bytes: " + site_desc(site))
        check(prev is None or prev >= site["live_bytes"],
              what + ": sites not sorted by live_bytes descending")
        prev = site["live_bytes"]
        for frame in site["frames"]:
            for key in FRAME_KEYS:
                check(key in frame, what + ": frame missing key %r" % key)
    check_mmap_schema(proc, what, all_sites)
    if all_sites:
        eq(sum(s["live_bytes"] for s in proc["sites"]), t["live_bytes"],
           what + ": sum of site live_bytes vs totals.live_bytes")
        check(sum(s["live_blocks"] for s in proc["sites"]) <= t["live_blocks"],
              what + ": more live blocks in sites than in totals")
        check(not own or sum(s["allocations"] for s in proc["sites"]) <= t["allocations"],
              what + ": more allocations in sites than in totals")


MMAP_KEYS = ("live_bytes", "live_mappings", "reserved_bytes", "peak_bytes", "peak_time_ns",
             "mapped_bytes", "mmap_calls", "munmap_calls", "mremap_calls", "sites")
MMAP_SITE_KEYS = ("live_bytes", "live_mappings", "calls", "mapped_bytes", "frames")


def check_mmap_schema(proc, what, all_sites):
    """A process's "mmap" domain: its keys, whole pages, sites sorted and (with all_sites)
    adding up to its totals."""
    check("mmap" in proc, what + ": missing key 'mmap'")
    mm = proc["mmap"]
    for key in MMAP_KEYS:
        check(key in mm, what + ": mmap missing key %r" % key)
    for key in MMAP_KEYS[:-1]:
        check(is_int(mm[key]), what + ": mmap.%s not an integer" % key)
    check(mm["live_bytes"] % 4096 == 0 and mm["reserved_bytes"] % 4096 == 0,
          what + ": mmap bytes are not whole pages")
    check(mm["live_bytes"] <= mm["peak_bytes"], what + ": mmap live_bytes > peak_bytes")
    check(proc["forked"] or mm["live_bytes"] + mm["reserved_bytes"] <= mm["mapped_bytes"],
          what + ": more mapped now than mapped in all")
    prev = None
    for site in mm["sites"]:
        for key in MMAP_SITE_KEYS:
            check(key in site, what + ": mmap site missing key %r" % key)
        check(site["live_mappings"] >= 1, what + ": mmap site listed with no mapping")
        check(prev is None or prev >= site["live_bytes"],
              what + ": mmap sites not sorted by live_bytes descending")
        prev = site["live_bytes"]
    if all_sites:
        eq(sum(s["live_bytes"] for s in mm["sites"]), mm["live_bytes"],
           what + ": sum of mmap site live_bytes vs mmap.live_bytes")
        eq(sum(s["live_mappings"] for s in mm["sites"]), mm["live_mappings"],
           what + ": sum of mmap site live_mappings vs mmap.live_mappings")


# ------------------------------------------------------------------------------------------
# The test context: paths and heapgraph helpers
# ------------------------------------------------------------------------------------------

class Ctx:
    """One test's world: the build dir's binaries and a temp dir removed after the test."""

    def __init__(self, build, tmp):
        self.build = build
        self.hg = os.path.join(build, "heapgraph")
        self.lib = os.path.join(build, "libheapgraph.so")
        self.tmp = tmp
        self._n = 0

    def sample(self, name):
        path = os.path.join(self.build, "samples", name)
        check(os.path.exists(path), "sample %s is not built (make samples)" % path)
        return path

    def path(self, name):
        return os.path.join(self.tmp, name)

    def fresh_dir(self, name):
        d = self.path(name)
        os.makedirs(d, exist_ok=True)
        return d

    def new_trace(self):
        self._n += 1
        return self.path("t%d.hgt" % self._n)

    def record(self, argv, trace=None, depth=None, cwd=None, env=None, stdin=b"",
               expect_code=None, options=()):
        """heapgraph record -o TRACE [--depth N] [OPTIONS] -- argv.
        Returns (Result, trace path)."""
        trace = trace or self.new_trace()
        cmd = [self.hg, "record", "-o", trace] + list(options)
        if depth is not None:
            cmd += ["--depth", str(depth)]
        since_ns = time.monotonic_ns()
        res = run(cmd + ["--"] + list(argv), cwd=cwd or self.tmp, env=env, stdin=stdin)
        if expect_code is not None and res.code != expect_code:
            raise Fail("record exit status: expected %d, got %s\n%s" % (
                expect_code, res.code, res.describe()))
        check(os.path.isfile(trace), "record wrote no trace at %s\n%s" % (trace, res.describe()))
        check_no_ring_left(res.pid, since_ns, "record")
        return res, trace

    def report(self, trace, fmt="json", top=0, extra=()):
        cmd = [self.hg, "report", trace]
        if fmt is not None:
            cmd += ["--format", fmt]
        if top is not None:
            cmd += ["--top", str(top)]
        return run(cmd + list(extra))

    def report_json(self, trace, expect_code=0, top=0):
        res = self.report(trace, "json", top)
        if res.code != expect_code:
            raise Fail("report exit status: expected %d, got %s\n%s" % (
                expect_code, res.code, res.describe()))
        try:
            rep = json.loads(res.out)
        except ValueError as e:
            raise Fail("report --format json printed invalid JSON (%s): %s" % (e, clip(res.text)))
        check_schema(rep, top == 0)
        if expect_code == 0:
            eq(rep["damage"], None, "damage in a report that exited 0")
        return rep

    def bare(self, argv, cwd, extra_env=None, stdin=b""):
        env = clean_env({"LD_PRELOAD": self.lib})
        env.update(extra_env or {})
        return run(list(argv), cwd=cwd, env=env, stdin=stdin)


def check_lineage(rep, what):
    """For a report of `record` (every image descends from the root): each exec'd image
    follows an image of the same pid that ended with {"exec": true}; each fork child's parent
    is an earlier image in the report."""
    seen = []
    for proc in rep["processes"]:
        if proc["exec"]:
            before = [p for p in seen if p["pid"] == proc["pid"]]
            check(before, "%s: exec'd image of pid %d has no earlier image" % (what,
                                                                               proc["pid"]))
            eq(before[-1]["exit"], {"exec": True}, "%s: exit of the image pid %d exec'd over"
               % (what, proc["pid"]))
        if proc["forked"]:
            check(any(p["pid"] == proc["ppid"] for p in seen),
                  "%s: fork child %d: parent %d is not an earlier image" % (
                      what, proc["pid"], proc["ppid"]))
        seen.append(proc)


def check_no_ring_left(pid, since_ns, what):
    """The shared-memory ring a run made is gone. A ring is named after the process that made
    it and its CLOCK_MONOTONIC time then: one older than since_ns (the run's start) is an
    earlier process's with the same pid, killed before it could remove it, and does not count."""
    left = [p for p in glob.glob("/dev/shm/heapgraph.%d.*.ring" % pid)
            if int(p.rsplit(".", 2)[-2]) >= since_ns]
    eq(left, [], what + ": ring files left in /dev/shm")


def only_process(rep, what):
    eq(len(rep["processes"]), 1, "%s: number of processes in the report" % what)
    return rep["processes"][0]


def traced_same_as_bare(ctx, argv, expect_code=None, stdin=b""):
    """Run argv bare and under record; stdout and exit status must be identical. Returns
    (bare Result, record Result, report)."""
    bare = run(argv, cwd=ctx.fresh_dir("bare"), stdin=stdin)
    res, trace = ctx.record(argv, cwd=ctx.fresh_dir("traced"), stdin=stdin)
    if expect_code is not None:
        eq(bare.code, expect_code, "exit status of the untraced run (test precondition)")
    eq(res.code, bare.code, "exit status under record vs untraced")
    if res.out != bare.out:
        raise Fail("stdout under record differs from untraced:\n  untraced: %s\n  traced: %s"
                   % (clip(bare.text), clip(res.text)))
    rep = ctx.report_json(trace)
    check_lineage(rep, " ".join(argv)[:40])
    return bare, res, rep


def check_stderr_passthrough(prog_err, rec, trace):
    """record's stderr is the program's stderr followed by its own short summary."""
    err = rec.errtext
    check(err.startswith(prog_err), "record stderr does not start with the program's own "
          "stderr %r: %r" % (prog_err, clip(err)))
    tail = err[len(prog_err):]
    lines = [l for l in tail.split("\n") if l]
    check(2 <= len(lines) <= 3, "record summary should be 2 lines plus the trace path, got %r"
          % clip(tail))
    check(trace in tail or os.path.basename(trace) in tail,
          "record summary does not name the trace %s: %r" % (trace, clip(tail)))
