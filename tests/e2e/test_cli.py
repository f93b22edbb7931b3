"""test_cli.py - the CLI's promises: exit status pass-through, usage errors, bad traces

record must hand back the program's exit status (128+N for signal N) with its stdin, stdout
and stderr untouched; report must exit 2 on usage errors and 3 on unreadable or damaged traces,
with one line on stderr naming the file and, for damage, the report of everything before it.
"""
import contextlib
import json
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import time

from harness import (Fail, Skip, check, check_schema, clean_env, clip, eq, marker_line, one_line,
                     only_process, run, traced_same_as_bare)
from test_samples import check_demo


# ------------------------------------------------------------------------------------------
# record: pass-through and defaults
# ------------------------------------------------------------------------------------------

def test_record_true_false(ctx):
    for prog, code in (("true", 0), ("false", 1)):
        res, trace = ctx.record([shutil.which(prog)], expect_code=code)
        eq(res.out, b"", prog + " stdout")
        rep = ctx.report_json(trace)
        check(len(rep["processes"]) >= 1, prog + ": no process in the report")


def test_record_stdin_and_big_stdout(ctx):
    res, _ = ctx.record([shutil.which("cat")], stdin=b"first\nsecond\n", expect_code=0)
    eq(res.text, "first\nsecond\n", "cat stdout under record (stdin must reach the program)")
    seq = [shutil.which("seq"), "1", "200000"]
    bare = run(seq)
    res, _ = ctx.record(seq, expect_code=0)
    check(res.out == bare.out, "seq 1 200000: stdout under record differs (%d vs %d bytes)"
          % (len(res.out), len(bare.out)))


def test_record_default_trace_path(ctx):
    cwd = ctx.fresh_dir("cwd")
    res = run([ctx.hg, "record", "--", ctx.sample("demo")], cwd=cwd)
    eq(res.code, 0, "record exit status")
    names = [n for n in os.listdir(cwd) if re.fullmatch(r"heapgraph\.\d+\.hgt", n)]
    eq(len(names), 1, "heapgraph.<pid>.hgt files in cwd (%r)" % sorted(os.listdir(cwd)))
    check(names[0] in res.errtext, "record stderr does not name %s: %r" % (names[0],
                                                                          clip(res.errtext)))
    check_demo(only_process(ctx.report_json(os.path.join(cwd, names[0])), "demo"), "demo")


def test_record_static_program(ctx):
    """A statically linked program runs as it would, and record says why nothing was traced,
    -q or not, also when it is the interpreter of a "#!" script."""
    prog = ctx.sample("exitcode_static")
    script = ctx.path("static-script")
    with open(script, "w") as f:
        f.write("#!%s exit\n" % prog)
    os.chmod(script, 0o755)
    warn = ("heapgraph: warning: nothing was traced: '%s' is statically linked; heapgraph "
            "reaches a program through the dynamic loader (LD_PRELOAD), which a static one "
            "never runs\n" % prog)
    for argv, options in (([prog, "exit"], ()), ([prog, "_exit"], ("-q",)), ([script], ())):
        what = " ".join(list(options) + argv)
        bare = run(argv)
        res, trace = ctx.record(argv, expect_code=bare.code, options=options)
        eq((res.out, bare.code), (bare.out, 23 if argv[-1] != "_exit" else 24), what)
        check(warn in res.errtext, "%s: no warning that nothing was traced:\n%s"
              % (what, clip(res.errtext)))
        eq(ctx.report_json(trace)["processes"], [], what + ": processes in the report")


def test_record_program_with_its_own_malloc(ctx):
    """samples/own_malloc.c: the executable's malloc, first called from a library constructor
    that runs before the shim's, maps its arena under its lock; record once hung there (the
    shim started inside that mmap and dlopen called the malloc again). It runs as bare."""
    prog = ctx.sample("own_malloc")
    bare = run([prog])
    eq((bare.code, bare.text), (0, "own_malloc: 100-byte block from the constructor, 'hi' "
                                   "from main\n"), "untraced run (test precondition)")
    res, trace = ctx.record([prog])
    eq((res.code, res.text), (bare.code, bare.text), "exit status, stdout under record")
    # Its blocks are its malloc's, which the tracer never sees: said, not silently 0.
    check("heapgraph: warning: '%s' calls a malloc of its own, linked in ahead of the tracer's: "
          "its heap allocations are not traced, only its mappings\n" % prog in res.errtext,
          "record's warning:\n" + clip(res.errtext))
    proc = only_process(ctx.report_json(trace), "own_malloc")
    eq((proc["foreign_malloc"], proc["totals"]["allocations"]), (True, 0),
       "report: (foreign_malloc, allocations)")
    res = run([ctx.hg, "check", trace])
    eq(res.code, 3, "check of a process whose heap was not traced: exit status")
    check(re.search(r"^skip pid \d+: .*own_malloc: its malloc is its own, linked in ahead of the "
                    r"tracer's: its heap was not traced$", res.errtext, re.M),
          "check's skip line:\n" + clip(res.errtext))


def test_record_under_an_address_space_limit(ctx):
    """ulimit -v of 30 MB, less than the default ring (64 MiB) and the default zstd level's
    window: record says what would fit, and with those options the program runs traced."""
    trace = ctx.path("as-limited.hgt")
    script = 'ulimit -v 30000; t=$1; shift; exec "$0" record -q -o "$t" "$@"'
    res = run(["sh", "-c", script, ctx.hg, trace, "--", "true"], cwd=ctx.tmp)
    eq(res.code, 3, "record exit status under ulimit -v 30000\n" + res.describe())
    check(re.fullmatch(r"heapgraph: error: cannot size ring '\S+' to \d+ bytes: Cannot allocate "
                       r"memory \(a smaller ring needs less: record --slots 8 --slot-size 256K, "
                       r"and --compression 3 for the trace\)\n", res.errtext),
          "stderr: %r" % res.errtext)
    res = run(["sh", "-c", script, ctx.hg, trace, "--slots", "8", "--slot-size", "256K",
               "--compression", "3", "--", "true"], cwd=ctx.tmp)
    eq((res.code, res.errtext), (0, ""), "record with the options the error suggests")
    eq(only_process(ctx.report_json(trace), "true")["exit"], {"code": 0}, "the trace's exit")


def test_record_under_a_file_size_limit(ctx):
    """ulimit -f below the ring's size: record says so in one line and exits 3 (SIGXFSZ
    killed it before); the program keeps its own disposition: killed by SIGXFSZ when it
    writes past the limit, as without record."""
    trace = ctx.path("limited.hgt")
    res = run(["sh", "-c", 'ulimit -f 50; exec "$0" record -o "$1" -- true', ctx.hg, trace],
              cwd=ctx.tmp)
    eq(res.code, 3, "record exit status under ulimit -f 50\n" + res.describe())
    check(re.fullmatch(r"heapgraph: error: cannot size ring '\S+' to \d+ bytes: File too "
                       r"large\n", res.errtext), "stderr: %r" % res.errtext)
    writer = "head -c 1000000 /dev/zero > big"
    bare = run(["sh", "-c", "ulimit -f 600; " + writer], cwd=ctx.tmp)
    # sh is dash: ulimit -f counts 512-byte blocks
    eq(bare.code, 128 + signal.SIGXFSZ, "bare writer past ulimit -f 600 (test precondition)")
    res = run(["sh", "-c", 'ulimit -f 600; exec "$0" record -q --slots 4 --slot-size 64K '
               '-o "$1" -- sh -c "$2"', ctx.hg, ctx.path("writer.hgt"), writer], cwd=ctx.tmp)
    eq(res.code, bare.code, "traced writer past ulimit -f 600\n" + res.describe())
    # The trace itself outgrows the limit (stored, not compressed): one error line, not a
    # second "Bad file descriptor"; the summary calls the trace incomplete; the program's
    # status is record's; report reads the trace up to where it stops.
    trace = ctx.path("outgrown.hgt")
    res = run(["sh", "-c", 'ulimit -f 600; exec "$0" record --compression 0 --slots 4 '
               '--slot-size 64K -o "$1" -- "$2"', ctx.hg, trace,
               ctx.sample("lost_in_handler")], cwd=ctx.tmp)
    eq((res.code, res.text), (0, "lost_in_handler: done\n"), "record whose trace outgrows "
       "ulimit -f 600: exit status, stdout")
    lines = res.errtext.split("\n")
    eq(lines[0], "heapgraph: error: cannot write trace '%s': File too large" % trace,
       "first line of stderr")
    check("Bad file descriptor" not in res.errtext, "stderr: " + clip(res.errtext))
    check(re.search(r"^heapgraph: trace '%s' is incomplete: 300 KiB written before the error "
                    r"above; 'heapgraph report %s' reads it up to there$"
                    % (re.escape(trace), re.escape(trace)), res.errtext, re.M),
          "summary: " + clip(res.errtext))
    rep = ctx.report_json(trace, expect_code=3)
    check(rep["damage"] is not None and "truncated" in rep["damage"]["message"],
          "damage: %r" % (rep["damage"],))


def test_report_from_a_pipe(ctx):
    _, trace = ctx.record([shutil.which("true")], expect_code=0)
    res = run(["sh", "-c", 'cat "$1" | "$0" report /dev/stdin', ctx.hg, trace])
    eq(res.code, 3, "report of a pipe: exit status")
    eq(res.errtext, "heapgraph: error: cannot read trace '/dev/stdin': it is a pipe, and a trace "
       "is read from a file (save it to one first)\n", "report of a pipe: stderr")


def test_record_to_a_pipe_or_link(ctx):
    """A trace is written to a regular file (its header is rewritten as it records): -o
    /dev/stdout is refused as the link it is, a FIFO as a pipe, and the program is not run;
    /dev/null is taken (the summary alone)."""
    fifo = ctx.path("fifo")
    os.mkfifo(fifo)
    for out, why in (("/dev/stdout", "it is a symbolic link (to '/proc/self/fd/1'), which "
                      "heapgraph does not write through; name a regular file"),
                     (fifo, "it is a pipe; a trace must be a regular file, whose header "
                      "heapgraph rewrites as it records")):
        res = run([ctx.hg, "record", "-q", "-o", out, "--", shutil.which("echo"), "ran"])
        eq((res.code, res.out), (3, b""), "record -o %s: exit status, stdout" % out)
        eq(res.errtext, "heapgraph: error: cannot create trace '%s': %s\n" % (out, why),
           "record -o %s: stderr" % out)
    res = run([ctx.hg, "record", "-q", "-o", "/dev/null", "--", shutil.which("echo"), "ran"])
    eq((res.code, res.text, res.errtext), (0, "ran\n", ""), "record -o /dev/null")


def test_command_with_control_characters_on_one_line(ctx):
    """An argument with a newline or another control character: the text headers show the
    command on one line, with escapes; JSON keeps it as it was."""
    sh = shutil.which("sh")
    argv = [sh, "-c", "exit 0", "one\ntwo", "tab\there", "bell\x07"]
    _, trace = ctx.record(argv, expect_code=0)
    shown = "%s -c exit 0 one\\ntwo tab\\there bell\\x07" % sh
    proc = only_process(ctx.report_json(trace), "sh")
    eq(proc["command"], " ".join(argv), "JSON command")
    for view in (["report"], ["leaks"], ["snapshots"], ["peak"], ["frag"]):
        res = run([ctx.hg] + view + [trace])
        eq(res.code, 0, " ".join(view) + " exit status")
        heads = [ln for ln in res.text.splitlines() if ln.startswith("process ")]
        eq(len(heads), 1, "%s: process header lines in %r" % (" ".join(view), clip(res.text)))
        check(heads[0].endswith("): " + shown), "%s header: %r, expected it to end in %r"
              % (" ".join(view), heads[0], "): " + shown))


# ------------------------------------------------------------------------------------------
# CLI errors, --help, --version
# ------------------------------------------------------------------------------------------

def test_cli_usage_errors(ctx):
    trace = ctx.record([ctx.sample("entrypoints")], expect_code=0)[1]
    true = shutil.which("true")
    res = run([ctx.hg])
    eq(res.code, 2, "heapgraph with no arguments: exit status")
    eq(res.out, b"", "heapgraph with no arguments: stdout (usage goes to stderr)")
    cases = (
        ["--bogus"],
        ["frobnicate"],
        ["report"],
        ["report", "--bogus", trace],
        ["report", trace, "--format", "xml"],
        ["report", trace, "--top", "many"],
        ["record"],
        ["record", "--"],
        ["record", "--bogus", "--", true],
        ["record", "--depth", "deep", "--", true],
        ["record", "--time-resolution", "0", "--", true],
        ["record", "--time-resolution", "101ms", "--", true],
        ["record", "--time-resolution", "1ms5", "--", true],
        ["record", "--orphans", "soon", "--", true],
    )
    problems = []
    for args in cases:
        res = run([ctx.hg] + args)
        what = "heapgraph %s" % " ".join(args)
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


def test_record_bad_clock(ctx):
    """HEAPGRAPH_CLOCK names a clock that does not exist: record and check stop before the
    program runs, with one line naming the variable, and leave no trace."""
    trace = ctx.path("bad-clock.hgt")
    marker = ctx.path("bad-clock-ran")
    for cmd in ("record", "check"):
        res = run([ctx.hg, cmd, "-o", trace, "--", "/bin/sh", "-c", "touch " + marker],
                  env=clean_env({"HEAPGRAPH_CLOCK": "sundial"}))
        eq(res.code, 3, cmd + " with HEAPGRAPH_CLOCK=sundial: exit status")
        eq(one_line(res.errtext, cmd), "heapgraph: error: HEAPGRAPH_CLOCK='sundial': expected "
           "'tsc' or 'monotonic'", cmd + " with HEAPGRAPH_CLOCK=sundial: stderr")
        check(not os.path.exists(trace), cmd + " with a bad clock left a trace behind")
        check(not os.path.exists(marker), cmd + " with a bad clock ran the program")


def test_cli_missing_trace(ctx):
    path = ctx.path("no-such-trace.hgt")
    res = ctx.report(path)
    eq(res.code, 3, "exit status")
    check(path in one_line(res.errtext, "missing trace") or "no-such-trace.hgt" in res.errtext,
          "stderr does not name the file: %r" % res.errtext)
    eq(res.out, b"", "stdout")


def test_cli_bad_traces(ctx):
    rng = random.Random(1234)
    bad = {
        "empty.hgt": b"",
        "garbage.hgt": bytes(rng.randrange(256) for _ in range(4096)),
        "text.hgt": b"this is not a heapgraph trace\n" * 20,
        "future.hgt": b"HGTRACE\0" + struct.pack("<II", 99, 64) + bytes(48),
        "badheader.hgt": b"HGTRACE\0" + struct.pack("<II", 1, 7) + bytes(48),
    }
    for name, data in bad.items():
        path = ctx.path(name)
        with open(path, "wb") as f:
            f.write(data)
        for fmt in ("text", "json"):
            res = ctx.report(path, fmt=fmt)
            what = "report %s --format %s" % (name, fmt)
            check(res.code == 3, "%s: expected exit 3, got %s\n%s" % (what, res.code,
                                                                      res.describe()))
            line = one_line(res.errtext, what)
            check(name in line, "%s: stderr does not name the file: %r" % (what, line))
    res = ctx.report(ctx.tmp)
    eq(res.code, 3, "report on a directory: exit status")
    eq(one_line(res.errtext, "report on a directory"),
       "heapgraph: error: cannot read trace '%s': Is a directory" % ctx.tmp,
       "report on a directory: stderr")
    res = ctx.report(ctx.path("empty.hgt"))
    eq(one_line(res.errtext, "report on an empty file"),
       "heapgraph: error: trace '%s' is empty" % ctx.path("empty.hgt"),
       "report on an empty file: stderr")


def test_record_cannot_run(ctx):
    """A program that cannot be executed: the shell's exit status (127 missing, 126 not
    executable), one error line naming it, and no trace left behind; `check -- PROG` too."""
    for prog, code, why in ((ctx.path("no-such-program"), 127, "No such file or directory"),
                            (ctx.path("not-executable"), 126, "Permission denied")):
        if code == 126:
            with open(prog, "w") as f:
                f.write("data\n")
        trace = ctx.path("cannot-run-%d.hgt" % code)
        res = run([ctx.hg, "record", "-o", trace, "--", prog, "arg"])
        eq(res.code, code, "record of %s: exit status" % prog)
        eq(one_line(res.errtext, "record of " + prog),
           "heapgraph: error: cannot run '%s': %s" % (prog, why), "record of %s: stderr" % prog)
        check(not os.path.exists(trace), "record of %s left a trace behind" % prog)
        res = run([ctx.hg, "check", "-o", trace, "--", prog])
        eq(res.code, code, "check of %s: exit status" % prog)
        eq(one_line(res.errtext, "check of " + prog),
           "heapgraph: error: cannot run '%s': %s" % (prog, why), "check of %s: stderr" % prog)
        check(not os.path.exists(trace), "check of %s left a trace behind" % prog)


def trace_blocks(path):
    """(start, end) of every block after the 64-byte header, read from the block headers as
    hg_format.h lays them out (32-byte header, stored_bytes of payload, padding to 8)."""
    with open(path, "rb") as f:
        data = f.read()
    check(data[:8] == b"HGTRACE\0", "%s: no HGTRACE magic" % path)
    header_bytes = struct.unpack_from("<I", data, 12)[0]
    blocks, off = [], header_bytes
    while off < len(data):
        check(off + 32 <= len(data), "%s: partial block header at %d" % (path, off))
        magic, _codec, stored = struct.unpack_from("<III", data, off)
        check(magic == 0x4b424748, "%s: bad block magic at %d" % (path, off))
        end = off + 32 + ((stored + 7) & ~7)
        check(end <= len(data), "%s: block at %d runs past the end" % (path, off))
        blocks.append((off, end))
        off = end
    return data, header_bytes, blocks


def check_truncations(ctx, trace, what):
    data, header_bytes, blocks = trace_blocks(trace)
    check(len(blocks) >= 2, "%s: trace has %d blocks; need 2 to cut between" % (what,
                                                                                 len(blocks)))
    cuts = {len(data) // 2, blocks[0][0] + 20, blocks[1][0] + 40, len(data) - 1}
    for cut in sorted(cuts):
        start = next(s for s, e in blocks if s <= cut < e)
        if cut == start:
            cut += 1
        part = ctx.path("cut-%d.hgt" % cut)
        prefix = ctx.path("prefix-%d.hgt" % start)
        with open(part, "wb") as f:
            f.write(data[:cut])
        with open(prefix, "wb") as f:
            f.write(data[:start])
        label = "%s cut at %d of %d (block at %d)" % (what, cut, len(data), start)
        res = ctx.report(part)
        check(res.code == 3, "%s: expected exit 3, got %s\n%s" % (label, res.code,
                                                                  res.describe()))
        line = one_line(res.errtext, label)
        check(os.path.basename(part) in line, "%s: stderr does not name the file: %r"
              % (label, line))
        try:
            rep = json.loads(res.out)
        except ValueError:
            raise Fail("%s: no JSON report before the error: %s" % (label, clip(res.text)))
        check_schema(rep, True)
        check(rep["damage"] is not None, label + ": damage is null")
        eq(rep["damage"]["offset"], start, label + ": damage.offset (start of the cut block)")
        whole = json.loads(ctx.report(prefix).out)
        eq(rep["processes"], whole["processes"],
           label + ": report vs the trace cut cleanly before the damaged block")
        if cut == len(data) - 1:  # only the END block is cut: every process is there
            check(len(rep["processes"]) >= 1, label + ": no process before the damage")
        text = ctx.report(part, fmt="text")
        eq(text.code, 3, label + ": text report exit status")
        check(text.out.strip() != b"", label + ": text report printed nothing")
    # A flipped byte in the middle block's payload, then in its header: the CRCs catch both.
    start, end = blocks[len(blocks) // 2]
    for where, off in (("payload", start + 32 + (end - start - 32) // 2), ("header", start + 9)):
        bad = bytearray(data)
        bad[off] ^= 0x55
        part = ctx.path("flip-%s.hgt" % where)
        prefix = ctx.path("prefix-%d.hgt" % start)
        with open(part, "wb") as f:
            f.write(bad)
        with open(prefix, "wb") as f:
            f.write(data[:start])
        label = "%s with a byte flipped in the %s of the block at %d" % (what, where, start)
        res = ctx.report(part)
        check(res.code == 3, "%s: expected exit 3, got %s\n%s" % (label, res.code,
                                                                  res.describe()))
        one_line(res.errtext, label)
        rep = json.loads(res.out)
        check_schema(rep, True)
        check(rep["damage"] is not None, label + ": damage is null")
        eq(rep["damage"]["offset"], start, label + ": damage.offset")
        eq(rep["processes"], json.loads(ctx.report(prefix).out)["processes"],
           label + ": report vs the trace cut cleanly before the damaged block")
    # Cut inside the file header: nothing to report, still exit 3 and one line.
    part = ctx.path("cut-header.hgt")
    with open(part, "wb") as f:
        f.write(data[:header_bytes - 14])
    res = ctx.report(part)
    eq(res.code, 3, what + " cut inside the file header: exit status")
    one_line(res.errtext, what + " cut inside the file header")


def test_truncated_trace_forkexec(ctx):
    _, trace = ctx.record([ctx.sample("forkexec")], expect_code=0)
    check_truncations(ctx, trace, "forkexec trace")


def test_truncated_trace_threads(ctx):
    _, trace = ctx.record([ctx.sample("threads")], expect_code=0)
    check_truncations(ctx, trace, "threads trace")


def test_truncated_trace_every_view(ctx):
    """Each text view of a cut trace prints its heading and the damage stderr names, exits 3."""
    _, trace = ctx.record([ctx.sample("threads")], expect_code=0)
    data, _, blocks = trace_blocks(trace)
    start = blocks[1][0]
    part = ctx.path("cut-views.hgt")
    with open(part, "wb") as f:
        f.write(data[:start + 40])
    for cmd, what in (("report", "report"), ("leaks", "report"), ("peak", "report"),
                      ("frag", "report"), ("snapshots", "list")):
        res = run([ctx.hg, cmd, part])
        label = "%s of a trace cut inside the block at %d" % (cmd, start)
        eq(res.code, 3, label + ": exit status")
        err = one_line(res.errtext, label)
        m = re.match(r"heapgraph: error: (.*); report covers the records before it$", err)
        check(m, "%s: stderr: %r" % (label, err))
        check(("DAMAGED: %s; this %s covers the records before it" % (m.group(1), what))
              in res.out.decode(), "%s: no DAMAGED line naming %r on stdout:\n%s"
              % (label, m.group(1), clip(res.text)))


def test_flipped_file_header_byte(ctx):
    """A byte flipped in the file header's bytes 16..63 (times, resolution, padding, its CRC at
    60): every view refuses the trace with one exact line and exit 3, printing nothing, since
    every time hangs on the header. With the CRC zeroed, as traces from before it have it, the
    report is what the intact trace gives, byte for byte, and nothing is said."""
    _, trace = ctx.record([ctx.sample("demo")], expect_code=0)
    with open(trace, "rb") as f:
        data = f.read()
    check(struct.unpack_from("<I", data, 60)[0] != 0, "record wrote no header CRC at byte 60")
    for off in (16, 36, 40, 59, 60):
        bad = bytearray(data)
        bad[off] ^= 0xff
        part = ctx.path("flip-header-%d.hgt" % off)
        with open(part, "wb") as f:
            f.write(bad)
        want = ("heapgraph: error: trace '%s' is corrupt at byte 0 (file header: checksum "
                "mismatch)" % part)
        for argv in (["report", part], ["report", part, "--format", "json"], ["leaks", part],
                     ["check", part]):
            label = "%s with byte %d of the file header flipped" % (" ".join(argv[:1] + argv[2:]),
                                                                   off)
            res = run([ctx.hg] + argv)
            eq(res.code, 3, label + ": exit status")
            eq(one_line(res.errtext, label), want, label + ": stderr")
            eq(res.out, b"", label + ": stdout")
    old = bytearray(data)
    old[60:64] = bytes(4)
    part = ctx.path("no-header-crc.hgt")
    with open(part, "wb") as f:
        f.write(old)
    intact, unchecked = ctx.report(trace), ctx.report(part)
    eq((unchecked.code, unchecked.err), (0, b""), "report of the trace without a header CRC")
    eq(unchecked.out, intact.out.replace(trace.encode(), part.encode()),
       "report of the trace without a header CRC vs the intact trace")
    check_demo(only_process(json.loads(unchecked.out), "demo"), "demo without a header CRC")


def cut_inside_snapshot(ctx, data, blocks, part):
    """Write to part the trace data cut at the last block boundary that falls inside its one
    snapshot; False when none does."""
    for start, _ in reversed(blocks):
        with open(part, "wb") as f:
            f.write(data[:start])
        snaps = json.loads(run([ctx.hg, "snapshots", part, "--format", "json"]).out)
        states = [s["complete"] for p in snaps["processes"] for s in p["snapshots"]]
        if states == [False]:
            return True
    return False


def test_truncated_inside_the_exit_snapshot(ctx):
    """A trace cut between a snapshot's start and its end (samples/scale's exit snapshot has
    1.7 MB of words, more than one flush): the snapshot lacks regions and words, so `leaks`
    must not classify its blocks (it called 90 KiB of reachable blocks leaked) and `frag` must
    not analyse it; both say so, and exit 3 like every view of a damaged trace."""
    part = ctx.path("cut-snapshot.hgt")
    # Blocks end where the collector's passes do: one that takes the whole snapshot in (the
    # collector kept off the CPU meanwhile, on a loaded machine) leaves no boundary inside
    # it, and the program is recorded again.
    for _ in range(3):
        _, trace = ctx.record([ctx.sample("scale")], expect_code=0)
        data, _, blocks = trace_blocks(trace)
        if cut_inside_snapshot(ctx, data, blocks, part):
            break
    else:
        raise Fail("no block boundary of %s falls inside its exit snapshot" % trace)
    res = run([ctx.hg, "leaks", part])
    eq(res.code, 3, "leaks of a trace cut inside the snapshot: exit status")
    check("snapshot 'exit' cut off by the damage: its blocks cannot be classified" in res.text
          and "leaked:" not in res.text, "leaks classified a cut snapshot:\n%s" % clip(res.text))
    rep = json.loads(run([ctx.hg, "leaks", part, "--format", "json"]).out)
    eq([p["snapshot"] for p in rep["processes"]], [None], "leaks --format json: snapshot")
    res = run([ctx.hg, "frag", part])
    eq(res.code, 3, "frag of a trace cut inside the snapshot: exit status")
    check("snapshot 'exit' cut off by the damage: not analysed" in res.text
          and "pages:" not in res.text, "frag analysed a cut snapshot:\n%s" % clip(res.text))


def running_child(pid, exe, timeout_s=20):
    """Wait until process pid has a child running exe (after its exec); its pid."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            kids = []
        for k in kids:
            try:
                if os.path.basename(os.readlink("/proc/%d/exe" % k)) == exe:
                    return k
            except OSError:
                pass
        time.sleep(0.05)
    raise Fail("no child of %d running %s after %d s" % (pid, exe, timeout_s))


@contextlib.contextmanager
def record_in_own_group(ctx, trace, argv, stdout=subprocess.DEVNULL, preexec_fn=None):
    """`record -q -o trace -- argv` as the leader of a process group of its own, to be
    signalled; killed with its group if it is still running when the block ends."""
    proc = subprocess.Popen([ctx.hg, "record", "-q", "-o", trace, "--"] + argv,
                            env=clean_env(), stdin=subprocess.DEVNULL, stdout=stdout,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=preexec_fn)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def default_signals():
    for sig in (signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)


def test_record_passes_on_signals_from_processes(ctx):
    """A signal sent to record alone by another process (kill, timeout) reaches the program:
    SIGTERM and SIGHUP always did, SIGINT and SIGQUIT now too (from a terminal they reach the
    program through its process group, and are not sent twice). record ends as the program
    did, and the trace says so."""
    sleep = shutil.which("sleep")
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        trace = ctx.path("signal-%d.hgt" % sig)
        # A test run started in the background from a script inherits SIGINT and SIGQUIT
        # ignored, which record rightly keeps ignored for the program: start from defaults.
        with record_in_own_group(ctx, trace, [sleep, "60"], preexec_fn=default_signals) as proc:
            running_child(proc.pid, os.path.basename(sleep))
            time.sleep(0.3)  # the shim's start-up, so that the trace has the process
            os.kill(proc.pid, sig)
            code = proc.wait(timeout=30)
        eq(code, 128 + sig, "record after %s sent to it alone: exit status" % sig.name)
        proc_rep = only_process(ctx.report_json(trace), "sleep under record")
        eq(proc_rep["exit"], {"signal": int(sig)}, "%s: the trace's exit" % sig.name)


# Counts the SIGTERMs it gets in about 2 s after saying it is ready.
COUNT_TERMS = """import signal, sys, time
got = [0]
signal.signal(signal.SIGTERM, lambda s, f: got.__setitem__(0, got[0] + 1))
print("ready", flush=True)
end = time.monotonic() + 2
while time.monotonic() < end:
    time.sleep(0.01)
print("TERM", got[0], flush=True)
"""


def test_record_group_signal_reaches_the_program_once(ctx):
    """timeout(1) signals record, then the whole process group: the program, in that group,
    gets the signal from the group, and record passes on no second copy. A signal to the
    group alone is not passed on either; one to record alone is, once."""
    py = shutil.which("python3")
    cases = (("record then the group", True, True), ("the group", False, True),
             ("record alone", True, False))
    for what, to_record, to_group in cases:
        trace = ctx.path("group-signal.hgt")
        with record_in_own_group(ctx, trace, [py, "-c", COUNT_TERMS],
                                 stdout=subprocess.PIPE) as proc:
            eq(proc.stdout.readline(), b"ready\n", what + ": the program started")
            if to_record:
                os.kill(proc.pid, signal.SIGTERM)
            if to_group:
                os.killpg(proc.pid, signal.SIGTERM)
            out = proc.stdout.read()
            code = proc.wait(timeout=30)
        eq(out, b"TERM 1\n", what + ": SIGTERMs the program got")
        eq(code, 0, what + ": record's exit status (the program's)")


# Counts the signals of argv it gets in about 2 s after saying it is ready.
COUNT_SIGNALS = """import signal, sys, time
sigs = [int(a) for a in sys.argv[1:]]
got = dict.fromkeys(sigs, 0)
for s in sigs:
    signal.signal(s, lambda n, f: got.__setitem__(n, got[n] + 1))
print("ready", flush=True)
end = time.monotonic() + 2
while time.monotonic() < end:
    time.sleep(0.01)
print(" ".join("%d=%d" % (s, got[s]) for s in sigs), flush=True)
"""


def test_record_passes_on_every_signal_a_program_may_get(ctx):
    """Not only the four that stop a program: SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGWINCH,
    SIGURG, SIGCONT and a real-time signal sent to record alone reach the program, once, and
    sent to the group they reach it once too. Before, SIGUSR1 to the group killed record and
    left the trace unfinished, and to record alone it killed record and never reached the
    program."""
    py = "/usr/bin/python3"  # not a pyenv shim on PATH: one process to trace
    sigs = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM, signal.SIGPIPE, signal.SIGWINCH,
            signal.SIGURG, signal.SIGCONT, signal.SIGRTMIN + 2]
    want = " ".join("%d=1" % s for s in sigs) + "\n"
    for what, send in (("record alone", os.kill), ("the group", os.killpg)):
        trace = ctx.path("signals.hgt")
        with record_in_own_group(ctx, trace, [py, "-c", COUNT_SIGNALS] +
                                 [str(int(s)) for s in sigs], stdout=subprocess.PIPE) as proc:
            eq(proc.stdout.readline(), b"ready\n", what + ": the program started")
            for sig in sigs:
                send(proc.pid, sig)
                time.sleep(0.05)
            out = proc.stdout.read().decode()
            code = proc.wait(timeout=30)
        eq(out, want, what + ": the signals the program got")
        eq(code, 0, what + ": record's exit status (the program's)")
        rep = ctx.report_json(trace)
        eq((only_process(rep, what)["exit"], rep["damage"]), ({"code": 0}, None),
           what + ": the trace's exit and damage")


def test_record_does_not_return_a_signal_the_program_sends_its_parent(ctx):
    """A program that signals its parent (a readiness signal to the script it thinks started
    it) reaches record: record neither dies of it nor sends it back to the program. And
    pkill -x heapgraph finds record alone, not its sentinel, so the signal is passed on."""
    for sig in ("USR1", "ALRM", "TERM"):
        res, _ = ctx.record(["bash", "-c", "kill -%s $PPID; sleep .3; echo survived" % sig])
        eq((res.code, res.text), (0, "survived\n"), "a program that sent %s to its parent"
           % sig)
    trace = ctx.path("pkill.hgt")
    with record_in_own_group(ctx, trace, ["/usr/bin/python3", "-c", COUNT_SIGNALS,
                                          str(int(signal.SIGUSR1))],
                             stdout=subprocess.PIPE) as proc:
        eq(proc.stdout.readline(), b"ready\n", "pkill: the program started")
        names = run(["ps", "-o", "comm=", "--ppid", str(proc.pid)]).text.split()
        check("heapgraph" not in names, "a child of record is named heapgraph: %r" % names)
        os.kill(proc.pid, signal.SIGUSR1)
        out = proc.stdout.read().decode()
        eq((out, proc.wait(timeout=30)), ("%d=1\n" % signal.SIGUSR1, 0),
           "SIGUSR1 to record alone: the program's count, record's status")


# Allocates for about a second and a half, far more than the ring holds.
ALLOCATE_AWHILE = """import time
print("ready", flush=True)
end = time.monotonic() + 1.5
while time.monotonic() < end:
    x = [str(j) for j in range(200)]
print("done", flush=True)
"""


def test_program_outlives_a_killed_record_its_parent_has_not_reaped(ctx):
    """record killed (SIGKILL) while the script that started it reads the program's output
    before waiting: record is a zombie, which kill(pid, 0) takes for alive. The program must
    notice that its collector is gone and run on untraced, not wait for ring room for good
    (which held up the very output the script was reading)."""
    with record_in_own_group(ctx, ctx.path("zombie.hgt"), ["/usr/bin/python3", "-c",
                                                             ALLOCATE_AWHILE],
                             stdout=subprocess.PIPE) as proc:
        eq(proc.stdout.readline(), b"ready\n", "the program started")
        os.kill(proc.pid, signal.SIGKILL)
        try:
            out, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            raise Fail("the program still runs 60 s after record was killed: it waits for the "
                       "dead collector")
        eq((out, proc.returncode), (b"done\n", -signal.SIGKILL), "the program's output after "
           "record was killed, and record's status")


def test_record_under_timeout(ctx):
    """timeout(1) ends the program and record with it: record exits as timeout expects, the
    trace says the program was killed, and record does not take it for one left running."""
    timeout = shutil.which("timeout")
    if not timeout:
        raise Skip("timeout not installed")
    for k in range(3):
        trace = ctx.path("timeout-%d.hgt" % k)
        res = run([timeout, "1", ctx.hg, "record", "-q", "-o", trace, "--",
                   shutil.which("sleep"), "5"])
        eq(res.code, 124, "timeout's exit status")
        proc_rep = only_process(ctx.report_json(trace), "sleep under timeout")
        eq(proc_rep["exit"], {"signal": int(signal.SIGTERM)}, "the trace's exit of sleep")
        check("still running" not in res.errtext,
              "run %d: record took sleep for a process left running: %r"
              % (k, clip(res.errtext)))


def ignore_hangups():
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_record_keeps_ignored_signals_ignored(ctx):
    """Started ignoring SIGHUP and SIGINT (nohup, trap '' in a shell), record leaves them
    ignored for the program, as without it, and a hang-up sent to the whole group ends
    neither."""
    grep = shutil.which("grep")
    argv = [grep, "^SigIgn", "/proc/self/status"]
    bare = subprocess.run(argv, env=clean_env(), capture_output=True,
                          preexec_fn=ignore_hangups)
    traced = subprocess.run([ctx.hg, "record", "-q", "-o", ctx.path("ign.hgt"), "--"] + argv,
                            env=clean_env(), capture_output=True, preexec_fn=ignore_hangups)
    eq(traced.returncode, 0, "record of grep: exit status")
    eq(traced.stdout, bare.stdout, "the signals the program ignores, traced and bare")
    sleep = shutil.which("sleep")
    with record_in_own_group(ctx, ctx.path("hup.hgt"), [sleep, "1"],
                             preexec_fn=ignore_hangups) as proc:
        running_child(proc.pid, "sleep")
        os.killpg(proc.pid, signal.SIGHUP)
        code = proc.wait(timeout=30)
    eq(code, 0, "record of sleep after a hang-up to its group: exit status")


def test_record_orphans(ctx):
    """A process the program leaves running (here a background sleep of a shell) keeps record
    going for --orphans at most: then a note names it, its image ends unrecorded, and record
    exits as the program did. With --orphans wait, record waits for it and has its exit."""
    sleep = shutil.which("sleep")
    script = "%s 31.25 & echo hi" % sleep
    try:
        res, trace = ctx.record([shutil.which("bash"), "-c", script], options=["--orphans", "1s"],
                                expect_code=0)
        eq(res.text, "hi\n", "stdout")
        rep = ctx.report_json(trace)
        sleeps = [p for p in rep["processes"] if p["exec"] and p["exe"] == os.path.realpath(sleep)]
        eq(len(sleeps), 1, "the background sleep's image")
        eq(sleeps[0]["exit"], {}, "the sleep still running: its end not recorded")
        check("heapgraph: stopped recording 1 process still running after the program ended "
              "(pid %d): its trace ends here\n" % sleeps[0]["pid"] in res.errtext,
              "no note naming the orphan:\n" + clip(res.errtext))
    finally:
        run(["pkill", "-f", "sleep 31.25"])
    res, trace = ctx.record([shutil.which("bash"), "-c", "%s 0.3 & echo hi" % sleep],
                            options=["--orphans", "wait"], expect_code=0)
    check("stopped recording" not in res.errtext, "a note with --orphans wait")
    sleeps = [p for p in ctx.report_json(trace)["processes"] if p["exec"]]
    eq([p["exit"] for p in sleeps], [{"code": 0}], "--orphans wait: the sleep's exit")


def test_record_exec_after_the_parent_ended(ctx):
    """A shell's background subshell execs after the shell has ended: getppid() in the new
    image reads its reaper (init, or record as subreaper), yet its parent is the shell that
    forked the pid, as for the subshell's first image (it read the reaper before)."""
    script = "( %s 0.3; exec %s x ) &" % (shutil.which("sleep"), shutil.which("echo"))
    res, trace = ctx.record(["/bin/sh", "-c", script], expect_code=0)
    eq(res.text, "x\n", "stdout")
    procs = ctx.report_json(trace)["processes"]
    shell = [p for p in procs if p["command"] == "/bin/sh -c " + script and not p["forked"]]
    eq(len(shell), 1, "the shell's image")
    sub = [(p["forked"], p["exec"], p["ppid"]) for p in procs if p["pid"] != shell[0]["pid"] and
           p["command"] in ("/bin/sh -c " + script, "%s x" % shutil.which("echo"))]
    eq(sub, [(True, False, shell[0]["pid"]), (False, True, shell[0]["pid"])],
       "the subshell's images: (forked, exec'd, parent)")


def test_record_spawned_child_of_a_program_that_ended(ctx):
    """A child started by posix_spawn (no fork handlers run, so no FORK record announces it)
    whose parent ends before the child's first record is still recorded: the collector finds it
    by the ring in its environment. Before, 1 run in 2 lost the child. Five runs, all whole."""
    prog = ctx.sample("spawn_late")
    line = marker_line("spawn_late.c", "child_leak")
    for run_no in range(5):
        _, trace = ctx.record([prog], expect_code=0)
        procs = ctx.report_json(trace)["processes"]
        what = "run %d: " % (run_no + 1)
        eq([p["command"] for p in procs], [prog, prog + " --child"], what + "images")
        child = procs[1]
        eq((child["forked"], child["exec"], child["exit"]), (False, False, {"code": 7}),
           what + "the child's start and end")
        eq((child["totals"]["allocations"], child["totals"]["live_bytes"]), (1, 4321),
           what + "the child's allocation")
        eq([(s["live_bytes"], s["frames"][0]["function"], s["frames"][0]["line"])
            for s in child["sites"]], [(4321, "child_leak", line)], what + "the child's site")


def test_record_exec_with_an_environment_of_its_own(ctx):
    """An image started with an environment that lacks LD_PRELOAD (env -i, Python's subprocess
    with env={}, each of the exec family and posix_spawn with an explicit environment, execl
    after clearenv, and execve of 1000 entries from a thread with a 16 KiB stack) is traced
    too: the shim puts LD_PRELOAD and its HEAPGRAPH_ variables back. The child sees the
    caller's own variable, its output and exit status are the untraced run's, and its one leak
    is found. A HEAPGRAPH_RING=off the caller set is kept: that child runs untraced. Before,
    every one of these children ran untraced."""
    prog = ctx.sample("exec_env_cleared")
    line = marker_line("exec_env_cleared.c", "child_leak")
    child_site = [(777, "child_leak", line)]
    ways = ["execve", "execle", "execvpe", "fexecve", "execveat", "posix_spawn", "posix_spawnp",
            "clearenv", "bigenv"]
    py = ("import subprocess, sys; "
          "sys.exit(subprocess.run([sys.argv[1], '--child', 'python'], env={}).returncode)")
    runs = [([prog, way], way) for way in ways]
    runs.append(([shutil.which("env"), "-i", prog, "--child", "env-i"], "env-i"))
    runs.append((["/usr/bin/python3", "-c", py, prog], "python"))
    for argv, way in runs:
        bare, _, rep = traced_same_as_bare(ctx, argv, expect_code=5)
        eq(bare.text, "child %s: HG_SAMPLE=%s\n" % (
            way, "kept" if way not in ("env-i", "python") else "(unset)"),
           way + ": untraced output (test precondition)")
        child = [p for p in rep["processes"] if p["command"] == "%s --child %s" % (prog, way)]
        eq(len(child), 1, way + ": the child's image")
        eq(child[0]["exit"], {"code": 5}, way + ": the child's exit")
        eq([(s["live_bytes"], s["frames"][0]["function"], s["frames"][0]["line"])
            for s in child[0]["sites"] if s["frames"][0]["function"] == "child_leak"],
           child_site, way + ": the child's leak")
    _, _, rep = traced_same_as_bare(ctx, [prog, "off"], expect_code=5)
    eq([p["command"] for p in rep["processes"]], ["%s off" % prog],
       "HEAPGRAPH_RING=off set by the caller: only the parent is traced")


def test_version_and_help(ctx):
    res = run([ctx.hg, "--version"])
    eq(res.code, 0, "--version exit status")
    check(re.search(r"\d+\.\d+\.\d+", res.text), "--version prints no version: %r" % res.text)
    for args, word in ((["--help"], "record"), (["record", "--help"], "record"),
                       (["report", "--help"], "report")):
        res = run([ctx.hg] + args)
        what = "heapgraph " + " ".join(args)
        eq(res.code, 0, what + ": exit status")
        check(word in res.text, "%s: stdout does not mention %r: %r" % (what, word,
                                                                       clip(res.text)))


def libc_build_id(path):
    """The GNU build id of the ELF file at path, as hex, from readelf -n."""
    res = run(["readelf", "-n", path])
    m = re.search(r"Build ID: ([0-9a-f]+)", res.text)
    check(m, "readelf -n %s shows no build id\n%s" % (path, res.describe()))
    return m.group(1)


def test_report_keeps_inflated_debug_files_in_the_cache(ctx):
    """libc6-dbg's compressed DWARF is inflated once, into HEAPGRAPH_CACHE/debug/ID.debug: a
    report reads the copy afterwards, a damaged copy is made again, and with the cache off or
    unusable the report is the same, byte for byte, and says nothing."""
    _, trace = ctx.record([ctx.sample("leak_lines"), "strdup"])
    rep = json.loads(ctx.report(trace, extra=("--plumbing",)).out)
    libc = {f["module"] for p in rep["processes"] for s in p["sites"] for f in s["frames"]
            if os.path.basename(f["module"] or "").startswith("libc.so")}
    eq(len(libc), 1, "libc modules in the stacks")
    bid = libc_build_id(libc.pop())
    original = "/usr/lib/debug/.build-id/%s/%s.debug" % (bid[:2], bid[2:])
    if not os.path.exists(original):
        raise Skip("libc6-dbg is not installed (%s)" % original)
    cache = ctx.path("cache")
    entry = os.path.join(cache, "debug", bid + ".debug")

    def report(where):
        res = run([ctx.hg, "report", trace, "--plumbing", "--top", "0"],
                  env=clean_env({"HEAPGRAPH_CACHE": where}))
        eq((res.code, res.errtext), (0, ""), "report with HEAPGRAPH_CACHE=%s" % where)
        return res.text

    off = report("off")
    check(re.search(r"__strdup \(strdup\.c:\d+\)", off),
          "libc's strdup without its line: is libc6-dbg's file read?\n" + clip(off))
    check(not os.path.exists(cache), "HEAPGRAPH_CACHE=off made the cache")
    eq(report(cache), off, "the report that made the cache")
    made = os.stat(entry)
    check(made.st_size > os.path.getsize(original),
          "the copy (%d bytes) is not larger than the compressed original" % made.st_size)
    eq(made.st_mode & 0o777, 0o600, "the copy's mode")
    eq(report(cache), off, "the report that read the cache")
    eq(os.stat(entry).st_ino, made.st_ino, "the copy was made again instead of read")
    with open(entry, "r+b") as f:
        f.truncate(made.st_size // 2)
    eq(report(cache), off, "the report after the copy was cut short")
    eq(os.path.getsize(entry), made.st_size, "the damaged copy's size after a report")
    eq(report("/dev/null/cache"), off, "a cache that cannot be made")
