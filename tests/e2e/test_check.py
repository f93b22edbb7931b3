"""test_check.py - `heapgraph check`, the CI leak gate: exit codes, what fails, suppressions,
baselines, JUnit, SARIF and GitHub annotations, sites with several lines, a process tree, and
the analyzer itself under the gate

The numbers are the ones in the "Expect:" block of samples/gate.c (leak_once: 100 bytes in one
block; leak_new: 48 bytes; peak 4096 bytes in every mode), and of samples/leak_lines.c for the
sites with several lines; change both together. JUnit and SARIF files are parsed (xml.etree,
json) and checked field by field.
"""
import json
import os
import re
import xml.etree.ElementTree as ET

from harness import REPO, Fail, check, clean_env, clip, eq, marker_line, one_line, run

GATE = 23   # the default --error-exitcode


def check_cmd(ctx, *args, expect_code, cwd=None, env=None):
    """heapgraph check ARGS..., its exit status checked."""
    res = run([ctx.hg, "check"] + list(args), cwd=cwd or ctx.tmp, env=env)
    if res.code != expect_code:
        raise Fail("check exit status: expected %d, got %s\n%s" % (expect_code, res.code,
                                                                  res.describe()))
    return res


def gate_argv(ctx, mode):
    return [ctx.sample("gate"), mode]


def verdict(res):
    """The last line of check's stderr: "heapgraph: check passed|failed: ..."."""
    lines = [l for l in res.errtext.split("\n") if l]
    check(lines, "check printed nothing on stderr")
    return lines[-1]


def junit(path):
    """[(name, [(type, message, text)], skipped message or None)] of a JUnit file, after checking
    the counts on <testsuites> and <testsuite> agree with the cases."""
    root = ET.parse(path).getroot()
    eq(root.tag, "testsuites", "JUnit root element")
    suites = root.findall("testsuite")
    eq(len(suites), 1, "JUnit: number of <testsuite>")
    cases = []
    for tc in suites[0].findall("testcase"):
        fails = [(f.get("type"), f.get("message"), f.text) for f in tc.findall("failure")]
        sk = tc.find("skipped")
        cases.append((tc.get("name"), fails, None if sk is None else sk.get("message")))
        check(tc.get("classname", "").startswith("heapgraph."), "JUnit classname %r"
              % tc.get("classname"))
    for el in (root, suites[0]):
        eq(int(el.get("tests")), len(cases), "JUnit %s tests=" % el.tag)
        eq(int(el.get("failures")), sum(1 for c in cases if c[1]), "JUnit %s failures=" % el.tag)
        eq(int(el.get("skipped")), sum(1 for c in cases if c[2] is not None),
           "JUnit %s skipped=" % el.tag)
    return cases


def pid_of(name, command):
    m = re.match(r"pid (\d+): (.*)$", name)
    check(m is not None, "test case name %r is not 'pid N: COMMAND'" % name)
    eq(m.group(2), command, "command in test case name")
    return int(m.group(1))


# ------------------------------------------------------------------------------------------
# Exit codes and what fails
# ------------------------------------------------------------------------------------------

def test_check_exit_codes(ctx):
    res = check_cmd(ctx, "--", *gate_argv(ctx, "clean"), expect_code=0)
    eq(res.out, b"gate: clean\n", "stdout under check is the program's own")
    eq(verdict(res), "heapgraph: check passed: 1 process checked", "verdict")
    res = check_cmd(ctx, "-q", "--", *gate_argv(ctx, "clean"), expect_code=0)
    eq(res.errtext, "heapgraph: check passed: 1 process checked\n", "stderr with --quiet")
    res = check_cmd(ctx, "--", *gate_argv(ctx, "leak"), expect_code=GATE)
    eq(res.out, b"gate: leak\n", "stdout under check is the program's own")
    check(re.search(r"^FAIL pid \d+: .*/gate leak\n  1 leak site: 100 bytes in 1 block\n"
                    r"  direct leak of 100 bytes in 1 block\n      at leak_once \(gate.c:%d\) "
                    r"in gate\n      by main \(gate.c:\d+\) in gate\n"
                    % marker_line("gate.c", "leak_once"), res.errtext, re.M),
          "report does not show the leak_once site:\n" + clip(res.errtext, 2000))
    eq(verdict(res), "heapgraph: check failed: 1 of 1 process (1 leak site, 100 bytes); exit "
       "status 23", "verdict")
    check_cmd(ctx, "--error-exitcode", "42", "--", *gate_argv(ctx, "leak"), expect_code=42)



def test_check_many_short_processes(ctx):
    """A shell loop starting 100 short processes, each a fork and an exec, faster than the
    collector looked for dead slot owners: every process must still get a ring slot for its
    exit snapshot, and each image's records stay in order (its exit after its start). Before,
    a handful to a fifth of them went unchecked, and now and then a fork child was reported
    leaking because an exec'd image's exit snapshot was read as its own."""
    for _ in range(2):
        res = check_cmd(ctx, "-q", "--", "/bin/bash", "-c",
                        "for i in $(seq 1 100); do /bin/true; done", expect_code=0)
        eq(res.errtext, "heapgraph: check passed: 102 processes checked\n", "verdict")


def test_check_more_processes_than_slots(ctx):
    """samples/slots_full.c under 8 ring slots: 20 idle children hold every slot when leaker A
    exits, so its exit snapshot goes through the shared overflow slot (it was left out, and
    check passed on its leak); leaker B, its first records in the overflow slot, may claim a
    freed slot at its snapshot, which must not put its exit before its start (a second image
    of its pid, "parent 0"). Every image has its exit snapshot, and check fails on both."""
    prog = ctx.sample("slots_full")
    for _ in range(2):
        res, trace = ctx.record([prog, "20"], options=["--slots", "8"], expect_code=0)
        eq(res.text, "slots_full: done\n", "stdout of slots_full")
        procs = ctx.report_json(trace)["processes"]
        root = [p for p in procs if not p["forked"]]
        eq(len(root), 1, "images not forked")
        eq((len(procs), sorted({p["ppid"] for p in procs if p["forked"]})), (23, [root[0]["pid"]]),
           "number of images, parents of the forked ones")
        res = check_cmd(ctx, trace, expect_code=GATE)
        eq(verdict(res), "heapgraph: check failed: 2 of 23 processes (2 leak sites, 6144 bytes); "
           "exit status 23", "verdict")
        for fn, size in (("leak_now", 4096), ("leak_later", 2048)):
            check(re.search(r"^  direct leak of %d bytes in 1 block\n      at %s \(slots_full.c:"
                            % (size, fn), res.errtext, re.M), "no %s site:\n%s"
                  % (fn, clip(res.errtext, 2000)))


def test_check_leaves_no_temporary_trace(ctx):
    tmpdir = ctx.fresh_dir("tmpdir")
    cwd = ctx.fresh_dir("cwd")
    check_cmd(ctx, "--", *gate_argv(ctx, "leak"), expect_code=GATE, cwd=cwd,
              env=clean_env({"TMPDIR": tmpdir}))
    eq((os.listdir(tmpdir), os.listdir(cwd)), ([], []), "files left in (TMPDIR, cwd)")
    check_cmd(ctx, "-o", "kept.hgt", "--", *gate_argv(ctx, "clean"), expect_code=0, cwd=cwd,
              env=clean_env({"TMPDIR": tmpdir}))
    eq((os.listdir(tmpdir), os.listdir(cwd)), ([], ["kept.hgt"]), "files with -o")
    check_cmd(ctx, os.path.join(cwd, "kept.hgt"), expect_code=0)


def test_check_program_failure_is_not_a_leak(ctx):
    res = check_cmd(ctx, "--", *gate_argv(ctx, "fail"), expect_code=5)
    check("heapgraph: '%s' exited with code 5: the program's own failure, not a leak\n"
          % ctx.sample("gate") in res.errtext, "no program-failure line:\n" + clip(res.errtext))
    eq(verdict(res), "heapgraph: no leak in 1 process checked, but the program failed (see above)",
       "verdict of a clean program that failed")
    # both: the gate's code wins, and the program's failure is still named
    res = check_cmd(ctx, "--", *gate_argv(ctx, "failleak"), expect_code=GATE)
    check("exited with code 5: the program's own failure" in res.errtext,
          "failing and leaking: the program's failure is not reported:\n" + clip(res.errtext))
    # a program killed by a signal: 128+N, and not checked (no exit snapshot)
    res = check_cmd(ctx, "--", ctx.sample("exitcode"), "term", expect_code=143)
    check("was killed by signal 15 (SIGTERM): the program's own failure, not a leak"
          in res.errtext, "killed program not reported:\n" + clip(res.errtext))
    check(re.search(r"^skip pid \d+: .*exitcode term: no exit snapshot: killed by signal 15 "
                    r"\(SIGTERM\) before exit$",
                    res.errtext, re.M), "killed process not listed as skipped")
    # TRACE mode reads the program's status from the trace
    trace = ctx.path("fail.hgt")
    check_cmd(ctx, "-o", trace, "--", *gate_argv(ctx, "fail"), expect_code=5)
    res = check_cmd(ctx, trace, expect_code=5)
    check("'%s fail' exited with code 5" % ctx.sample("gate") in res.errtext, clip(res.errtext))


def test_check_options_after_the_trace(ctx):
    """TRACE mode takes options after the trace, as report and leaks do."""
    trace = ctx.path("leaky.hgt")
    check_cmd(ctx, "-o", trace, "--", *gate_argv(ctx, "leak"), expect_code=GATE)
    res = check_cmd(ctx, trace, "--error-exitcode", "7", "--frames", "2", expect_code=7)
    check("check failed:" in verdict(res), "verdict: " + verdict(res))
    for extra in ([trace], ["--", "true"]):
        res = check_cmd(ctx, trace, *extra, expect_code=2)
        eq(res.errtext.splitlines()[0], "heapgraph: error: one trace file at a time (put '--' "
           "before a program and its arguments) (see 'heapgraph check --help')",
           "check TRACE %s: usage error" % " ".join(extra))


def test_check_library_destructor_frees_before_the_snapshot(ctx):
    """samples/dtor_cache.c: a library frees its cache in its destructor; the exit snapshot
    comes after every destructor, so nothing is still reachable (it was: the 777 bytes)."""
    res = check_cmd(ctx, "--fail-on", "reachable", "--", ctx.sample("dtor_cache"),
                    expect_code=0)
    eq(verdict(res), "heapgraph: check passed: 1 process checked", "verdict")


def test_check_quick_exit(ctx):
    """samples/leak_quick_exit.c: quick_exit ends the process past the shim's _exit; its exit
    snapshot is taken after the program's at_quick_exit handler, which freed the cache, and
    the leak is found (the process went unchecked)."""
    res = check_cmd(ctx, "--fail-on", "all", "--", ctx.sample("leak_quick_exit"),
                    expect_code=GATE)
    eq(res.out, b"leak_quick_exit: handler ran\n", "stdout under check is the program's own")
    check(re.search(r"^FAIL pid \d+: .*/leak_quick_exit\n  1 leak site: 300 bytes in 1 block\n"
                    r"  direct leak of 300 bytes in 1 block\n      at leak_block "
                    r"\(leak_quick_exit.c:\d+\)", res.errtext, re.M),
          "report does not show the leak_block site alone:\n" + clip(res.errtext, 2000))
    check("exited with code 5: the program's own failure" in res.errtext,
          "exit code 5 not reported: " + clip(res.errtext, 2000))
    eq(verdict(res), "heapgraph: check failed: 1 of 1 process (1 leak site, 300 bytes); exit "
       "status 23", "verdict")


def test_check_says_events_were_lost(ctx):
    """samples/lost_in_handler.c: a SIGPROF handler allocates while the tracer runs; those
    calls cannot be recorded. check passes (nothing leaks) but says how many were lost, in a
    warning and in the verdict, the number report gives."""
    trace = ctx.path("lost.hgt")
    for _ in range(5):  # the ticks that land inside the tracer: almost always some
        res = check_cmd(ctx, "-o", trace, "--", ctx.sample("lost_in_handler"), expect_code=0)
        eq(res.out, b"lost_in_handler: done\n", "stdout under check is the program's own")
        lost = ctx.report_json(trace)["lost_events"]
        if lost:
            break
    if not lost:
        raise Fail("no event lost in 5 runs of lost_in_handler")
    eq(lost % 2, 0, "lost events come in malloc/free pairs")
    warn = ("heapgraph: warning: %d allocation or free events could not be recorded (made in a "
            "signal handler that interrupted the tracer, say; 'heapgraph report' counts them): "
            "a leak among them is not seen, and a block whose free was lost may be reported "
            "leaked" % lost)
    check(warn in res.errtext.split("\n"), "no warning:\n" + clip(res.errtext))
    eq(verdict(res), "heapgraph: check passed: 1 process checked, %d events lost" % lost,
       "verdict")


def test_check_static_program_checks_nothing(ctx):
    """A statically linked program cannot be traced: the gate does not pass on nothing."""
    prog = ctx.sample("exitcode_static")
    warn = ("heapgraph: warning: nothing was traced: '%s' is statically linked; heapgraph "
            "reaches a program through the dynamic loader (LD_PRELOAD), which a static one "
            "never runs\n" % prog)
    trace = ctx.path("static.hgt")
    res = check_cmd(ctx, "-o", trace, "--", prog, "return", expect_code=25)
    check(warn in res.errtext, "no warning that nothing was traced:\n" + clip(res.errtext))
    eq(verdict(res), "heapgraph: check incomplete: no process was traced, so none was checked",
       "verdict of a static program")
    res = check_cmd(ctx, trace, expect_code=3)
    check("heapgraph: error: trace '%s' holds no process: nothing was traced\n" % trace
          in res.errtext, "trace of no process not named:\n" + clip(res.errtext))
    eq(verdict(res), "heapgraph: check incomplete: no process was traced, so none was checked",
       "verdict of a trace of no process")
    # exec'd by a traced shell: the shell is traced, and never seen to exit by its tracer
    res = check_cmd(ctx, "--", "sh", "-c", 'exec "$0" return', prog, expect_code=25)
    # The whole reason, not cut off at 96 or 128 bytes as it was.
    check(re.search(r"^skip pid \d+: sh -c .*: no exit snapshot: its tracer never saw it exit: "
                    r"it exec'd a program not traced \(static, set-user-ID, or run without "
                    r"LD_PRELOAD\), or its tracing stopped$", res.errtext, re.M),
          "skip line of the shell:\n" + clip(res.errtext))
    eq(verdict(res), "heapgraph: check incomplete: no process could be checked (1 traced, none "
       "with an exit snapshot)", "verdict of a shell that exec'd a static program")


def test_check_fail_on_and_limits(ctx):
    trace = ctx.path("leak.hgt")
    check_cmd(ctx, "-o", trace, "--", *gate_argv(ctx, "leak"), expect_code=GATE)
    check_cmd(ctx, "--fail-on", "cycle", trace, expect_code=0)
    check_cmd(ctx, "--fail-on", "indirect,direct", trace, expect_code=GATE)
    check_cmd(ctx, "--max-leaked-bytes", "100", trace, expect_code=0)
    check_cmd(ctx, "--max-leaked-bytes", "99", trace, expect_code=GATE)
    check_cmd(ctx, "--fail-on", "cycle", "--max-peak", "4K", trace, expect_code=0)
    res = check_cmd(ctx, "--fail-on", "cycle", "--max-peak", "4095", trace, expect_code=GATE)
    check(re.search(r"^FAIL pid \d+: .*gate leak\n  peak heap of 4096 bytes is over the limit "
                    r"of 4095 bytes\n", res.errtext, re.M),
          "peak failure not reported:\n" + clip(res.errtext))
    res = check_cmd(ctx, "--fail-on", "sideways", trace, expect_code=2)
    eq(one_line(res.errtext, "bad --fail-on"), "heapgraph: error: unknown kind 'sideways' in "
       "--fail-on (direct, indirect, cycle, reachable, possibly or all) (see 'heapgraph check "
       "--help')", "bad --fail-on message")
    res = check_cmd(ctx, expect_code=2)
    check(one_line(res.errtext, "no arguments").startswith("heapgraph: error: no trace or "
                                                          "program given"), res.errtext)
    res = check_cmd(ctx, trace, trace, expect_code=2)
    check("one trace file at a time" in one_line(res.errtext, "two traces"), res.errtext)


def test_check_damaged_trace(ctx):
    trace = ctx.path("clean.hgt")
    check_cmd(ctx, "-o", trace, "--", *gate_argv(ctx, "clean"), expect_code=0)
    with open(trace, "rb") as f:
        data = f.read()
    cut = ctx.path("cut.hgt")
    with open(cut, "wb") as f:
        f.write(data[:len(data) * 2 // 3])
    res = check_cmd(ctx, cut, expect_code=3)
    check(re.search(r"^heapgraph: error: .*; the check covers the records before it$",
                    res.errtext, re.M), "damage not named:\n" + clip(res.errtext))
    check(re.match(r"heapgraph: check incomplete: no leak in the [01] process(es)? checked "
                   r"before the damage", verdict(res)), "verdict of a cut trace: " + verdict(res))
    res = check_cmd(ctx, ctx.path("missing.hgt"), expect_code=3)


# ------------------------------------------------------------------------------------------
# Suppressions and baselines
# ------------------------------------------------------------------------------------------

def test_check_suppressions(ctx):
    trace = ctx.path("leak.hgt")
    check_cmd(ctx, "-o", trace, "--", *gate_argv(ctx, "leak"), expect_code=GATE)
    supp = ctx.path("ours.supp")
    with open(supp, "w") as f:
        f.write("# known\nleak:no_such_function\nleak:^leak_once$\n")
    res = check_cmd(ctx, "--suppressions", supp, trace, expect_code=0)
    check("\nsuppressions used:\n  1 site, 1 block, 100 bytes: leak:^leak_once$ (%s:3)\n"
          % supp in res.errtext, "suppression counts not reported:\n" + clip(res.errtext))
    check("no_such_function" not in res.errtext, "an unused suppression is listed as used")
    with open(supp, "w") as f:
        f.write("leak:no_such_function\nleak:gate_other.c\n")
    res = check_cmd(ctx, "--suppressions", supp, trace, expect_code=GATE)
    check("suppressions used" not in res.errtext, "no suppression matched, yet some is listed")
    with open(supp, "w") as f:
        f.write("leak:leak_once\nrace:leak_once\n")
    res = check_cmd(ctx, "--suppressions", supp, trace, expect_code=3)
    eq(one_line(res.errtext, "bad suppression file"), "heapgraph: error: suppressions '%s' line "
       "2: unsupported type 'race' (heapgraph reads only 'leak:PATTERN')" % supp, "message")


def test_check_builtin_suppressions(ctx):
    """stdout's buffer (stdio allocates it on first use and never frees it) is reachable: with
    --fail-on reachable it is suppressed by a built-in, and reported without them."""
    trace = ctx.path("demo.hgt")
    check_cmd(ctx, "-o", trace, "--", ctx.sample("demo"), expect_code=GATE)
    res = check_cmd(ctx, "--fail-on", "reachable", "--max-leaked-bytes", "16384", trace,
                    expect_code=0)
    check(re.search(r"^  1 site, 1 block, \d+ bytes: leak:\^_IO_file_doallocate\$ \(built-in\)$",
                    res.errtext, re.M), "built-in suppression not listed:\n" + clip(res.errtext))
    res = check_cmd(ctx, "--fail-on", "reachable", "--max-leaked-bytes", "16384",
                    "--no-builtin-suppressions", trace, expect_code=GATE)
    check(re.search(r"reachable leak of \d+ bytes in 1 block\n      at _IO_file_doallocate",
                    res.errtext), "stdio buffer not reported without built-ins")


def read_baseline(path):
    with open(path) as f:
        return f.read()


def test_check_baseline(ctx):
    base = ctx.path("leaks.baseline")
    check_cmd(ctx, "--write-baseline", base, "--", *gate_argv(ctx, "leak"), expect_code=GATE)
    text = read_baseline(base)
    lines = text.split("\n")
    eq(lines[0], "# heapgraph baseline 1", "baseline header")
    sites = [l for l in lines if l.startswith("site ")]
    eq(sites, ["site direct 100 1 gate"], "baseline sites")
    at = lines.index("site direct 100 1 gate")
    eq(lines[at + 1:at + 3], ["\tleak_once\tgate.c\tgate", "\tmain\tgate.c\tgate"],
       "baseline frames of the site")
    # old leak passes; the same site grown fails; a new site fails, the old one does not
    res = check_cmd(ctx, "--baseline", base, "--", *gate_argv(ctx, "leak"), expect_code=0)
    res = check_cmd(ctx, "--baseline", base, "--", *gate_argv(ctx, "grow"), expect_code=GATE)
    check("direct leak of 200 bytes in 2 blocks (grew from 100 bytes in 1 block)"
          in res.errtext, "grown site not reported:\n" + clip(res.errtext))
    xml = ctx.path("more.xml")
    res = check_cmd(ctx, "--baseline", base, "--junit", xml, "--",
                    *gate_argv(ctx, "more"), expect_code=GATE)
    (name, fails, skipped), = junit(xml)
    eq([(t, re.sub(r" at .*", "", m)) for t, m, _ in fails],
       [("direct", "direct leak of 48 bytes in 1 block")], "failures with a baseline")
    check("(and 1 site in the baseline, not grown)" in res.errtext, clip(res.errtext))
    # the baseline does not depend on addresses: a second recording writes the same file
    again = ctx.path("again.baseline")
    check_cmd(ctx, "--write-baseline", again, "--", *gate_argv(ctx, "leak"), expect_code=GATE)
    eq(read_baseline(again), text, "baseline of a second run")
    with open(base, "w") as f:
        f.write("# heapgraph baseline 1\nsite direct many 1 gate\n")
    res = check_cmd(ctx, "--baseline", base, "--", *gate_argv(ctx, "leak"), expect_code=3)
    check(one_line(res.errtext, "bad baseline").startswith(
        "heapgraph: error: baseline '%s' line 2: expected 'site KIND BYTES BLOCKS PROGRAM'"
        % base), res.errtext)


# ------------------------------------------------------------------------------------------
# CI outputs
# ------------------------------------------------------------------------------------------

def test_check_output_not_written(ctx):
    """A JUnit file that cannot be created: one error line naming it, exit 3, and a verdict
    that does not say "passed"."""
    trace = ctx.path("clean.hgt")
    check_cmd(ctx, "-o", trace, "--", *gate_argv(ctx, "clean"), expect_code=0)
    bad = ctx.path("no-such-dir/r.xml")
    res = check_cmd(ctx, "--junit", bad, trace, expect_code=3)
    check("heapgraph: error: cannot create JUnit file '%s': No such file or directory\n" % bad
          in res.errtext, "no error naming the file:\n" + clip(res.errtext))
    eq(verdict(res), "heapgraph: check incomplete: no leak in 1 process checked, but an output "
       "file could not be written (see above)", "verdict")


def test_check_junit_and_sarif(ctx):
    """leak_fork's ring is one site of two blocks allocated at two lines: the JUnit message and
    stack name both lines, the SARIF result has a location at each (with its share) and a stack
    for each."""
    xml, sarif = ctx.path("r.xml"), ctx.path("r.sarif")
    argv = [ctx.sample("leak_fork")]
    check_cmd(ctx, "--junit", xml, "--sarif", sarif, "--", *argv, expect_code=GATE, cwd=REPO)
    with open(os.path.join(REPO, "samples", "leak_fork.c")) as f:
        src = f.read().split("\n")

    def alloc_lines(fn):
        """The ALLOC lines inside fn in samples/leak_fork.c."""
        start = next(i for i, l in enumerate(src) if re.match(r"static NOINLINE void %s\(" % fn, l))
        return [i + 1 for i in range(start, src.index("}", start)) if "ALLOC(" in src[i]]

    def at(fn):
        return "at %s (%s) in leak_fork" % (fn, ", ".join("leak_fork.c:%d" % n
                                                           for n in alloc_lines(fn)))
    ring = alloc_lines("make_inherited_ring")
    eq(len(ring), 2, "ALLOC lines of make_inherited_ring")
    cases = junit(xml)
    eq(len(cases), 2, "JUnit test cases (parent and fork child)")
    pids = [pid_of(name, argv[0]) for name, _, _ in cases]
    want = [[("direct", "direct leak of 880 bytes in 1 block " + at("make_parent_leak")),
             ("cycle", "cycle leak of 224 bytes in 2 blocks " + at("make_inherited_ring"))],
            [("direct", "direct leak of 640 bytes in 1 block " + at("make_child_leak")),
             ("cycle", "cycle leak of 224 bytes in 2 blocks " + at("make_inherited_ring"))]]
    for (name, fails, skipped), w in zip(cases, want):
        eq(skipped, None, name + ": skipped")
        eq([(t, m) for t, m, _ in fails], w, name + ": failures")
        for _, m, text in fails:
            check(text.startswith("at " + m.split(" at ")[1] + "\n"), "failure text is the stack")
            check("\nby main (leak_fork.c:" in text, "stack has main: %r" % text)
    with open(sarif) as f:
        doc = json.load(f)
    eq(doc["version"], "2.1.0", "SARIF version")
    run_ = doc["runs"][0]
    eq(run_["tool"]["driver"]["name"], "heapgraph", "SARIF tool name")
    rules = [r["id"] for r in run_["tool"]["driver"]["rules"]]
    got = []
    for r in run_["results"]:
        eq(rules[r["ruleIndex"]], r["ruleId"], "SARIF ruleIndex")
        eq(r["level"], "error", "SARIF level")
        locs = [(l["physicalLocation"]["artifactLocation"]["uri"],
                 l["physicalLocation"]["region"]["startLine"], l.get("message", {}).get("text"))
                for l in r["locations"]]
        got.append((r["properties"]["pid"], r["ruleId"], r["properties"]["bytes"], locs,
                    [st["message"]["text"] for st in r["stacks"]]))
        frames = r["stacks"][0]["frames"]
        eq(frames[0]["location"]["physicalLocation"], r["locations"][0]["physicalLocation"],
           "SARIF: the first location is the first stack's first frame")
        eq([st["frames"][0]["location"]["physicalLocation"]["region"]["startLine"]
            for st in r["stacks"]], [l[1] for l in locs], "SARIF: a stack at each location")
    uri = "samples/leak_fork.c"
    share = "112 bytes in 1 block from this line"
    ring_locs = [(uri, ring[0], share), (uri, ring[1], share)]
    ring_stacks = ["allocation stack of 112 bytes in 1 block"] * 2
    eq(sorted(got), sorted([
        (pids[0], "direct", 880, [(uri, alloc_lines("make_parent_leak")[0], None)],
         ["allocation stack"]),
        (pids[0], "cycle", 224, ring_locs, ring_stacks),
        (pids[1], "direct", 640, [(uri, alloc_lines("make_child_leak")[0], None)],
         ["allocation stack"]),
        (pids[1], "cycle", 224, ring_locs, ring_stacks)]),
        "SARIF results (pid, rule, bytes, [(uri, line, share)], stack messages)")
    eq(sorted(r["message"]["text"] for r in run_["results"] if r["ruleId"] == "cycle"),
       sorted("cycle leak of 224 bytes in 2 blocks in pid %d: %s, allocated by "
              "make_inherited_ring at 2 lines: leak_fork.c:%d, leak_fork.c:%d"
              % (pid, argv[0], ring[0], ring[1]) for pid in pids), "SARIF messages of the ring")


def test_check_clean_outputs(ctx):
    xml, sarif = ctx.path("c.xml"), ctx.path("c.sarif")
    check_cmd(ctx, "--junit", xml, "--sarif", sarif, "--", *gate_argv(ctx, "clean"),
              expect_code=0)
    (name, fails, skipped), = junit(xml)
    pid_of(name, " ".join(gate_argv(ctx, "clean")))
    eq((fails, skipped), ([], None), "clean process: no failure, not skipped")
    with open(sarif) as f:
        eq(json.load(f)["runs"][0]["results"], [], "SARIF results of a clean run")


def test_check_github_annotations(ctx):
    env = clean_env({"GITHUB_ACTIONS": "true"})
    res = check_cmd(ctx, "--", *gate_argv(ctx, "more"), expect_code=GATE, cwd=REPO, env=env)
    lines = res.text.split("\n")
    eq(lines[0], "gate: more", "the program's stdout comes first")
    pid = int(re.search(r"^FAIL pid (\d+):", res.errtext, re.M).group(1))
    eq(lines[1:], [
        "::error file=samples/gate.c,line=%d,title=heapgraph%%3A direct leak::direct leak of 100 "
        "bytes in 1 block in pid %d: %s, allocated by leak_once"
        % (marker_line("gate.c", "leak_once"), pid, " ".join(gate_argv(ctx, "more"))),
        "::error file=samples/gate.c,line=%d,title=heapgraph%%3A direct leak::direct leak of 48 "
        "bytes in 1 block in pid %d: %s, allocated by leak_new"
        % (marker_line("gate.c", "leak_new"), pid, " ".join(gate_argv(ctx, "more"))),
        ""], "annotations on stdout")
    res = check_cmd(ctx, "--", *gate_argv(ctx, "more"), expect_code=GATE, cwd=REPO)
    eq(res.out, b"gate: more\n", "no annotations without GITHUB_ACTIONS=true")


# ------------------------------------------------------------------------------------------
# A site with several lines (samples/leak_lines.c): one site, as the baseline keys it, and
# every line named in the report and the CI outputs
# ------------------------------------------------------------------------------------------

def lines_check(ctx, mode, *extra):
    """check -- leak_lines MODE from the repository's top (paths relative to it), with JUnit,
    SARIF and GitHub annotations: (result, pid, JUnit failures, SARIF results, annotations)."""
    xml, sarif = ctx.path(mode + ".xml"), ctx.path(mode + ".sarif")
    res = check_cmd(ctx, "--junit", xml, "--sarif", sarif, *extra, "--",
                    ctx.sample("leak_lines"), mode, expect_code=GATE, cwd=REPO,
                    env=clean_env({"GITHUB_ACTIONS": "true"}))
    out = res.text.split("\n")
    eq((out[0], out[-1]), ("leak_lines: " + mode, ""), "the program's stdout comes first")
    pid = int(re.search(r"^FAIL pid (\d+):", res.errtext, re.M).group(1))
    (name, fails, skipped), = junit(xml)
    eq((name, skipped), ("pid %d: %s %s" % (pid, ctx.sample("leak_lines"), mode), None),
       "JUnit test case")
    with open(sarif) as f:
        results = json.load(f)["runs"][0]["results"]
    return res, pid, fails, results, out[1:-1]


def sarif_where(result):
    """(message, [(uri, line, function, message)] of the locations, [(message, [(function,
    line)] of the first two frames)] of the stacks, bytes, blocks) of a SARIF result."""
    def fl(loc):
        return (loc["logicalLocations"][0]["fullyQualifiedName"],
                loc["physicalLocation"]["region"]["startLine"])
    locs = [(l["physicalLocation"]["artifactLocation"]["uri"],) + fl(l)[::-1] +
            (l.get("message", {}).get("text"),) for l in result["locations"]]
    stacks = [(st["message"]["text"], [fl(fr["location"]) for fr in st["frames"][:2]])
              for st in result["stacks"]]
    return (result["message"]["text"], locs, stacks, result["properties"]["bytes"],
            result["properties"]["blocks"])


def test_check_sarif_cxx_user_frame(ctx):
    """C++: the standard library's templates, compiled into the program from /usr/include, come
    first in the stack; SARIF points at the program's own line, and the message names the
    function that called them."""
    sarif = ctx.path("cxx.sarif")
    check_cmd(ctx, "--sarif", sarif, "--", ctx.sample("leak_cxx"), expect_code=GATE, cwd=REPO)
    with open(sarif) as f:
        results = json.load(f)["runs"][0]["results"]
    got = sorted((r["properties"]["bytes"],) + sarif_where(r)[1][0][:3] for r in results)
    src = "samples/leak_cxx.cc"
    line = lambda name: marker_line("leak_cxx.cc", name)  # noqa: E731
    eq(got, sorted([
        (272, src, line("separate_c"), "make_separate_cycle"),  # the two objects from new
        (112, src, line("inplace_b"), "make_inplace_cycle"),
        (80, src, line("inplace_a"), "make_inplace_cycle"),
        (24, src, line("separate_c"), "make_separate_cycle"),   # the control blocks
        (24, src, line("separate_d"), "make_separate_cycle")]),
       "SARIF results: (bytes, first location's file, line, function)")
    for r in results:
        text = r["message"]["text"]
        if r["properties"]["bytes"] != 272:
            check(re.search(r", allocated by std::\S.*, called from make_(inplace|separate)_cycle$",
                            text), "SARIF message does not name the caller: %r" % text)


def mark(name):
    """The line of the "site: NAME" marker in samples/leak_lines.c."""
    return marker_line("leak_lines.c", name)


def gh_line(line, msg):
    return ("::error file=samples/leak_lines.c,line=%d,title=heapgraph%%3A direct leak::%s"
            % (line, msg))


def test_check_site_at_two_lines(ctx):
    """two_lines leaks at two lines: one site (the baseline's key has no lines), and the
    report, JUnit, SARIF and the annotations name both lines."""
    first, second, call = mark("first"), mark("second"), mark("call_two")
    base = ctx.path("two.baseline")
    res, pid, fails, results, notes = lines_check(ctx, "two", "--write-baseline", base)
    cmd = "%s two" % ctx.sample("leak_lines")
    at = "two_lines (leak_lines.c:%d, leak_lines.c:%d)" % (first, second)
    check("\nFAIL pid %d: %s\n  1 leak site: 1577 bytes in 2 blocks\n"
          "  direct leak of 1577 bytes in 2 blocks\n      at %s in leak_lines\n"
          "      by main (leak_lines.c:%d) in leak_lines\n" % (pid, cmd, at, call)
          in res.errtext, "report does not name both lines:\n" + clip(res.errtext, 2000))
    eq(verdict(res), "heapgraph: check failed: 1 of 1 process (1 leak site, 1577 bytes); exit "
       "status 23", "verdict")
    eq([(t, m) for t, m, _ in fails],
       [("direct", "direct leak of 1577 bytes in 2 blocks at %s in leak_lines" % at)],
       "JUnit failures")
    check(fails[0][2].startswith("at %s in leak_lines\nby main (leak_lines.c:%d) in leak_lines\n"
                                 % (at, call)), "JUnit stack: %r" % fails[0][2])
    msg = ("direct leak of 1577 bytes in 2 blocks in pid %d: %s, allocated by two_lines at 2 "
           "lines: leak_lines.c:%d, leak_lines.c:%d" % (pid, cmd, first, second))
    eq([sarif_where(r) for r in results], [(
        msg,
        [("samples/leak_lines.c", first, "two_lines", "1000 bytes in 1 block from this line"),
         ("samples/leak_lines.c", second, "two_lines", "577 bytes in 1 block from this line")],
        [("allocation stack of 1000 bytes in 1 block", [("two_lines", first), ("main", call)]),
         ("allocation stack of 577 bytes in 1 block", [("two_lines", second), ("main", call)])],
        1577, 2)], "SARIF result")
    eq(notes, [gh_line(first, msg + "; 1000 bytes in 1 block from this line"),
               gh_line(second, msg + "; 577 bytes in 1 block from this line")], "annotations")
    lines = read_baseline(base).split("\n")
    eq([l for l in lines if l.startswith("site ")], ["site direct 1577 2 leak_lines"],
       "baseline sites")
    at = lines.index("site direct 1577 2 leak_lines")
    eq(lines[at + 1:at + 3], ["\ttwo_lines\tleak_lines.c\tleak_lines",
                              "\tmain\tleak_lines.c\tleak_lines"], "baseline frames of the site")
    check_cmd(ctx, "--baseline", base, "--", ctx.sample("leak_lines"), "two", expect_code=0)


def test_check_site_at_six_lines(ctx):
    """six lines: the report, JUnit and the message name four, then "and 2 more"; SARIF has
    all six locations and stacks; four annotations."""
    lines = [mark("six%d" % k) for k in range(1, 7)]
    res, pid, fails, results, notes = lines_check(ctx, "six")
    cmd = "%s six" % ctx.sample("leak_lines")
    named = ", ".join("leak_lines.c:%d" % n for n in lines[:4]) + " and 2 more"
    check("\n  direct leak of 336 bytes in 6 blocks\n      at six_lines (%s) in leak_lines\n"
          "      by main (leak_lines.c:%d) in leak_lines\n"
          % (named, mark("call_six")) in res.errtext,
          "report does not bound the lines:\n" + clip(res.errtext, 2000))
    eq([(t, m) for t, m, _ in fails],
       [("direct", "direct leak of 336 bytes in 6 blocks at six_lines (%s) in leak_lines"
         % named)], "JUnit failures")
    msg = ("direct leak of 336 bytes in 6 blocks in pid %d: %s, allocated by six_lines at 6 "
           "lines: %s" % (pid, cmd, named))
    (text, locs, stacks, nbytes, blocks), = [sarif_where(r) for r in results]
    eq((text, nbytes, blocks), (msg, 336, 6), "SARIF message, bytes, blocks")
    eq(locs, [("samples/leak_lines.c", n, "six_lines", "%d bytes in 1 block from this line"
               % (16 * k)) for k, n in enumerate(lines, 1)], "SARIF locations")
    eq([(m, fr[0]) for m, fr in stacks],
       [("allocation stack of %d bytes in 1 block" % (16 * k), ("six_lines", lines[k - 1]))
        for k in range(6, 0, -1)], "SARIF stacks, largest first")
    eq(notes, [gh_line(n, msg + "; %d bytes in 1 block from this line" % (16 * k))
               for k, n in enumerate(lines[:4], 1)], "annotations")


def test_check_site_of_a_recursion(ctx):
    """recurse(10) reaches its leaf from two lines at each level: 1024 stacks of one site. The
    report names the two lines at each level; SARIF keeps the 10 largest stacks (a recursion
    twice as deep would be 2^depth of them) and one location, the leaf's line."""
    leaf, rec_a, rec_b = mark("rec_leaf"), mark("rec_a"), mark("rec_b")
    res, pid, fails, results, notes = lines_check(ctx, "recurse")
    level = "      by recurse (leak_lines.c:%d, leak_lines.c:%d) in leak_lines\n" % (rec_a, rec_b)
    check("\n  direct leak of 24576 bytes in 1024 blocks\n      at recurse (leak_lines.c:%d) in "
          "leak_lines\n%s      by main (leak_lines.c:%d) in leak_lines\n"
          % (leaf, level * 10, mark("call_rec")) in res.errtext,
          "report does not name both lines of each level:\n" + clip(res.errtext, 3000))
    (text, locs, stacks, nbytes, blocks), = [sarif_where(r) for r in results]
    eq((nbytes, blocks), (24576, 1024), "SARIF bytes, blocks")
    eq([l[:3] for l in locs], [("samples/leak_lines.c", leaf, "recurse")], "SARIF locations")
    eq([m for m, _ in stacks], ["allocation stack of 24 bytes in 1 block"] * 10, "SARIF stacks")
    eq(len(notes), 1, "annotations: " + "\n".join(notes))


def test_check_annotations_every_site_first(ctx):
    """Three sites of four lines or more would make 12 annotations; GitHub shows 10 a step. Each
    site gets its first line's annotation before any site gets a second: four_a's first, then
    six_lines' and four_b's, then the other lines by site while 10 are not reached."""
    res, pid, fails, results, notes = lines_check(ctx, "sites")
    got = [re.match(r"::error file=samples/leak_lines.c,line=(\d+),title=heapgraph%3A direct "
                    r"leak::direct leak of (\d+) bytes", n).groups() for n in notes]
    a = [mark("a%d" % k) for k in range(1, 5)]
    six = [mark("six%d" % k) for k in range(1, 5)]
    b = [mark("b%d" % k) for k in range(1, 5)]
    eq([(int(line), int(nbytes)) for line, nbytes in got],
       [(a[0], 400), (six[0], 336), (b[0], 200)] + [(n, 400) for n in a[1:]] +
       [(n, 336) for n in six[1:]] + [(b[1], 200)], "annotations, in order")


def test_check_site_reached_from_two_lines(ctx):
    """leak_here leaks at one line, reached from two lines of main: the report and JUnit name
    main's two lines; SARIF and the annotation point at the one line, and SARIF has a stack
    for each caller."""
    here, call1, call2 = mark("here"), mark("call1"), mark("call2")
    res, pid, fails, results, notes = lines_check(ctx, "callers")
    cmd = "%s callers" % ctx.sample("leak_lines")
    check("\n  direct leak of 500 bytes in 2 blocks\n      at leak_here (leak_lines.c:%d) in "
          "leak_lines\n      by main (leak_lines.c:%d, leak_lines.c:%d) in leak_lines\n"
          % (here, call1, call2) in res.errtext,
          "report does not name both callers:\n" + clip(res.errtext, 2000))
    eq([(t, m) for t, m, _ in fails], [("direct", "direct leak of 500 bytes in 2 blocks at "
                                        "leak_here (leak_lines.c:%d) in leak_lines" % here)],
       "JUnit failures")
    check(fails[0][2].startswith("at leak_here (leak_lines.c:%d) in leak_lines\nby main "
                                 "(leak_lines.c:%d, leak_lines.c:%d) in leak_lines\n"
                                 % (here, call1, call2)), "JUnit stack: %r" % fails[0][2])
    msg = ("direct leak of 500 bytes in 2 blocks in pid %d: %s, allocated by leak_here"
           % (pid, cmd))
    eq([sarif_where(r) for r in results], [(
        msg, [("samples/leak_lines.c", here, "leak_here", None)],
        [("allocation stack of 300 bytes in 1 block", [("leak_here", here), ("main", call2)]),
         ("allocation stack of 200 bytes in 1 block", [("leak_here", here), ("main", call1)])],
        500, 2)], "SARIF result")
    eq(notes, [gh_line(here, msg)], "annotations")


def test_check_site_called_from_two_lines(ctx):
    """strdup (libc) allocates, called from two lines of dup_lines: the outputs point at
    dup_lines' two lines and say it is the caller."""
    dup1, dup2 = mark("dup1"), mark("dup2")
    res, pid, fails, results, notes = lines_check(ctx, "strdup")
    cmd = "%s strdup" % ctx.sample("leak_lines")
    (text, locs, stacks, nbytes, blocks), = [sarif_where(r) for r in results]
    alloc = results[0]["stacks"][0]["frames"][0]["location"]["logicalLocations"][0][
        "fullyQualifiedName"]
    check(alloc.endswith("strdup"), "allocating frame %r is not libc's strdup" % alloc)
    check(re.search(r"\n  direct leak of 64 bytes in 2 blocks\n      at %s .*in libc\.so\.6\n"
                    r"      by dup_lines \(leak_lines\.c:%d, leak_lines\.c:%d\) in leak_lines\n"
                    r"      by main \(leak_lines\.c:%d\) in leak_lines\n"
                    % (re.escape(alloc), dup1, dup2, mark("call_dup")), res.errtext),
          "report does not name both lines of dup_lines:\n" + clip(res.errtext, 2000))
    eq([(t, m) for t, m, _ in fails], [("direct", "direct leak of 64 bytes in 2 blocks at "
                                        "dup_lines (leak_lines.c:%d, leak_lines.c:%d) in "
                                        "leak_lines" % (dup1, dup2))], "JUnit failures")
    msg = ("direct leak of 64 bytes in 2 blocks in pid %d: %s, allocated by %s, called from "
           "dup_lines at 2 lines: leak_lines.c:%d, leak_lines.c:%d" % (pid, cmd, alloc, dup1,
                                                                      dup2))
    eq((text, locs, [m for m, _ in stacks], [fr[1] for _, fr in stacks], nbytes, blocks),
       (msg, [("samples/leak_lines.c", dup1, "dup_lines", "24 bytes in 1 block from this line"),
              ("samples/leak_lines.c", dup2, "dup_lines", "40 bytes in 1 block from this line")],
        ["allocation stack of 40 bytes in 1 block", "allocation stack of 24 bytes in 1 block"],
        [("dup_lines", dup2), ("dup_lines", dup1)], 64, 2), "SARIF result")
    eq(notes, [gh_line(dup1, msg + "; 24 bytes in 1 block from this line"),
               gh_line(dup2, msg + "; 40 bytes in 1 block from this line")], "annotations")


# ------------------------------------------------------------------------------------------
# A test suite under the gate, and the analyzer itself
# ------------------------------------------------------------------------------------------

def test_check_process_tree_names_the_leaking_child(ctx):
    g = ctx.sample("gate")
    with open(ctx.path("Makefile"), "w") as f:
        f.write("test:\n\t%s clean\n\t%s leak\n\tsh -c '%s clean'\n" % (g, g, g))
    xml = ctx.path("tree.xml")
    res = check_cmd(ctx, "--junit", xml, "--", "make", "-s", "test", expect_code=GATE)
    eq(res.out, b"gate: clean\ngate: leak\ngate: clean\n", "the suite's own output")
    cases = junit(xml)
    failing = [c for c in cases if c[1]]
    eq(len(failing), 1, "failing test cases among %r" % [c[0] for c in cases])
    pid_of(failing[0][0], "%s leak" % g)
    eq([(t, re.sub(r" at .*", "", m)) for t, m, _ in failing[0][1]],
       [("direct", "direct leak of 100 bytes in 1 block")], "failures of the leaking child")
    clean = [c for c in cases if re.match(r"pid \d+: %s clean$" % re.escape(g), c[0])]
    eq(len(clean), 2, "the two clean runs are test cases of their own")
    check(verdict(res).startswith("heapgraph: check failed: 1 of "), verdict(res))


def test_check_dogfood_analyzer_is_leak_free(ctx):
    """The heapgraph CLI itself passes the gate, with no suppression file: every report command
    on a real trace, and check itself."""
    trace = ctx.path("fork.hgt")
    res = run([ctx.hg, "record", "-q", "-o", trace, "--", ctx.sample("leak_fork")])
    eq(res.code, 0, "record leak_fork")
    supp = ctx.path("user.supp")   # for `check` as the program under the gate, not for it
    with open(supp, "w") as f:
        f.write("leak:make_child_leak\nleak:^no_such$\n")
    commands = (["report", trace], ["report", trace, "--format", "json"], ["leaks", trace],
                ["leaks", trace, "--format", "json"], ["leaks", trace, "--format", "dot"],
                ["peak", trace], ["frag", trace],
                ["check", "--junit", ctx.path("x.xml"), "--sarif", ctx.path("x.sarif"),
                 "--write-baseline", ctx.path("x.base"), trace],
                ["check", "--baseline", ctx.path("x.base"), "--suppressions", supp,
                 "--fail-on", "all", "--max-peak", "1K", trace])
    for argv in commands:
        res = check_cmd(ctx, "--", ctx.hg, *argv,
                        expect_code=GATE if argv[0] == "check" else 0)
        what = "heapgraph " + " ".join(argv)
        ok = re.search(r"^ok   pid \d+: %s\n" % re.escape(ctx.hg + " " + " ".join(argv)),
                       res.errtext, re.M)
        check(ok, "%s not checked and passed:\n%s" % (what, clip(res.errtext, 3000)))
        # what the outer check printed after its verdict on the process (the inner one's
        # output, which names its own suppressions, comes before)
        check("suppressions used" not in res.errtext[ok.end():],
              "%s needed a suppression" % what)


def test_check_sarif_every_result_has_a_location(ctx):
    """GitHub's code scanning rejects a whole SARIF file when one result lacks a physical
    location. A leak in code without line information points at its module, with the
    function as a logical location; a peak over --max-peak points at the program."""
    prog = ctx.path("leak_lines_nodebug")
    with open(ctx.sample("leak_lines"), "rb") as src, open(prog, "wb") as dst:
        dst.write(src.read())
    os.chmod(prog, 0o755)
    res = run(["strip", "--strip-debug", prog])
    eq(res.code, 0, "strip --strip-debug (test precondition)\n" + res.describe())
    sarif = ctx.path("s.sarif")
    check_cmd(ctx, "--fail-on", "all", "--max-peak", "1", "--sarif", sarif, "--", prog,
              "strdup", expect_code=GATE)
    with open(sarif) as f:
        results = json.load(f)["runs"][0]["results"]
    where = sorted((r["ruleId"], r["properties"].get("bytes", 0),
                    [(l["physicalLocation"]["artifactLocation"]["uri"],
                      "region" in l["physicalLocation"],
                      [g["fullyQualifiedName"] for g in l.get("logicalLocations", [])],
                      l["message"]["text"]) for l in r["locations"]]) for r in results)
    leak = [("leak_lines_nodebug", False, ["dup_lines"], "no line information")]
    eq(where, [("direct", 64, leak), ("peak", 0,
                [("leak_lines_nodebug", False, [], "the program")])],
       "SARIF results and their locations")
