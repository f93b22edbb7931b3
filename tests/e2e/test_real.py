"""test_real.py - real programs behave the same under `heapgraph record`

Each program runs untraced and traced, in twin temp dirs set up the same way: exit status and
stdout must be identical, and the report must parse, have sensible lineage and show
allocations. A program that is not installed is skipped (not counted).
"""
import os
import random
import shutil
import sys

from harness import (Skip, check, clean_env, eq, run, traced_same_as_bare)


def some_allocations(rep, what):
    """Some process allocated, and none is taken for one with a malloc of its own (a non-PIE
    executable such as Debian's python3 has an undefined "malloc" at its PLT stub)."""
    check(any(p["totals"]["allocations"] > 0 for p in rep["processes"]),
          "%s: no process with allocations > 0 (%d processes)" % (what, len(rep["processes"])))
    eq([p["exe"] for p in rep["processes"] if p["foreign_malloc"]], [],
       "%s: processes said to call a malloc of their own" % what)


def exes(rep):
    return {os.path.basename(p["exe"]) for p in rep["processes"]}


PY_WORK = r"""
import sys
d = {}
for i in range(200000):
    d["k%d" % (i % 5000)] = d.get("k%d" % (i % 5000), 0) + i
lst = sorted(d.items(), key=lambda kv: kv[1])[:3]
print(len(d), lst)
print(sum(len(str(x)) for x in range(100000)))
sys.exit(3)
"""


def test_real_python(ctx):
    _, _, rep = traced_same_as_bare(ctx, [sys.executable, "-c", PY_WORK], expect_code=3)
    some_allocations(rep, "python3")


PY_THREADS = r"""
import threading
out = [None] * 4
def work(i):
    d = {}
    for k in range(60000):
        d[k % 977] = d.get(k % 977, []) + [k] if k % 50 == 0 else d.get(k % 977, [])
    out[i] = sum(len(v) for v in d.values()) + i
ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(out)
"""


def test_real_python_threads(ctx):
    _, _, rep = traced_same_as_bare(ctx, [sys.executable, "-c", PY_THREADS], expect_code=0)
    some_allocations(rep, "python3 threads")


PERL_WORK = r"""
my %h; for my $i (1..100000) { $h{"k" . ($i % 3000)} .= "x" if $i % 7; }
my @k = sort { length($h{$b}) <=> length($h{$a}) || $a cmp $b } keys %h;
print scalar(@k), " @k[0..2] ", length(join("", values %h)), "\n";
"""


def test_real_perl(ctx):
    perl = shutil.which("perl")
    if not perl:
        raise Skip("perl not installed")
    _, _, rep = traced_same_as_bare(ctx, [perl, "-e", PERL_WORK], expect_code=0)
    some_allocations(rep, "perl")


def git_env(home):
    return clean_env({
        "HOME": home, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Heap Graph",
        "GIT_AUTHOR_EMAIL": "hg@example.invalid", "GIT_COMMITTER_NAME": "Heap Graph",
        "GIT_COMMITTER_EMAIL": "hg@example.invalid",
        "GIT_AUTHOR_DATE": "2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2024-01-02T03:04:05Z",
    })


def test_real_git(ctx):
    git = shutil.which("git")
    if not git:
        raise Skip("git not installed")
    steps = (["init", "-q", "-b", "main", "repo"], ["-C", "repo", "add", "."],
             ["-C", "repo", "commit", "-q", "-m", "first commit"],
             ["-C", "repo", "log", "--stat"])
    outs = {}
    for traced in (False, True):
        top = ctx.fresh_dir("traced" if traced else "bare")
        env = git_env(top)
        os.makedirs(os.path.join(top, "repo"))
        for i in range(20):
            with open(os.path.join(top, "repo", "f%02d.txt" % i), "w") as f:
                f.write("line %d\n" % i * (i + 1))
        outs[traced] = []
        for step in steps:
            if traced:
                res, trace = ctx.record([git] + step, cwd=top, env=env)
                rep = ctx.report_json(trace)
                some_allocations(rep, "git " + step[-1])
            else:
                res = run([git] + step, cwd=top, env=env)
            outs[traced].append((res.code, res.out))
    for step, bare, traced in zip(steps, outs[False], outs[True]):
        eq(bare[0], 0, "git %s: untraced exit status (precondition)" % " ".join(step))
        eq(traced, bare, "git %s: (exit status, stdout) under record vs untraced"
           % " ".join(step))
    check(b"first commit" in outs[True][-1][1], "git log does not show the commit")


SQL = b"""
create table t(id integer primary key, name text, score real);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 20000)
insert into t(name, score) select 'name' || (i % 97), (i * 37) % 1000 / 10.0 from n;
create index t_name on t(name);
select name, count(*), round(avg(score), 3) from t group by name order by 3 desc, 1 limit 5;
select count(*), sum(length(name)) from t where score > 50;
"""


def test_real_sqlite3(ctx):
    sqlite = shutil.which("sqlite3")
    if not sqlite:
        raise Skip("sqlite3 not installed (scripts/install-deps.sh bench installs it)")
    _, _, rep = traced_same_as_bare(ctx, [sqlite, "db.sqlite"], expect_code=0, stdin=SQL)
    some_allocations(rep, "sqlite3")


def test_real_bash_pipeline(ctx):
    script = ("seq 1 20000 | sort -rn | awk '{s += $1} END {print s}'; "
              "seq 1 50 | tr 0-9 a-j | sort | head -3; exit 7")
    _, _, rep = traced_same_as_bare(ctx, [shutil.which("bash"), "-c", script], expect_code=7)
    some_allocations(rep, "bash pipeline")
    check({"bash", "seq", "sort", "tr", "head"} <= exes(rep),
          "bash pipeline: expected images of bash, seq, sort, tr, head; got %r" % exes(rep))
    sorts = [p for p in rep["processes"] if os.path.basename(p["exe"]) == "sort"]
    check(all(p["exec"] for p in sorts), "sort images should have exec true")
    roots = [p for p in rep["processes"] if os.path.basename(p["exe"]) == "bash"
             and not p["forked"] and not p["exec"]]
    eq(len(roots), 1, "bash pipeline: plain (not forked, not exec'd) bash images")
    eq(roots[0]["exit"], {"code": 7}, "bash exit")


def test_real_bash_few_slots(ctx):
    """Twenty subshells at once on a ring of 4 slots: threads share the overflow slot, and a
    fork child's records can reach the file before its parent's. Every image is still whole:
    no unknown frees (a child inheriting nothing from a parent not read yet had them), no
    lost events, and the same output as untraced."""
    script = "for i in $(seq 20); do (ls / >/dev/null; echo $i) & done | sort -n | tail -1; wait"
    argv = [shutil.which("bash"), "-c", script]
    bare = run(argv, cwd=ctx.fresh_dir("bare"))
    eq(bare.text, "20\n", "untraced output (test precondition)")
    res, trace = ctx.record(argv, cwd=ctx.fresh_dir("traced"), options=["--slots", "4"])
    eq((res.code, res.out), (0, bare.out), "exit status and stdout under record --slots 4")
    rep = ctx.report_json(trace)
    check(len(rep["processes"]) >= 40, "bash, 20 subshells and their ls: got %d images"
          % len(rep["processes"]))
    for p in rep["processes"]:
        what = "pid %d (%s)" % (p["pid"], p["command"][:30])
        eq(p["totals"]["unknown_frees"], 0, what + ": unknown frees")
        eq(p["totals"]["lost_events"], 0, what + ": lost events")


HELLO_C = b"""
#include <stdio.h>
#include <stdlib.h>
static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
int main(void) { char *p = malloc(16); printf("fib(20) = %d\\n", fib(20)); free(p); return 0; }
"""


def test_real_gcc(ctx):
    gcc = shutil.which("gcc")
    if not gcc:
        raise Skip("gcc not installed")
    results = {}
    for traced in (False, True):
        top = ctx.fresh_dir("traced" if traced else "bare")
        with open(os.path.join(top, "hello.c"), "wb") as f:
            f.write(HELLO_C)
        argv_obj = [gcc, "-O2", "-c", "hello.c", "-o", "hello.o"]
        argv_exe = [gcc, "-O2", "hello.c", "-o", "hello"]
        if traced:
            r1, t1 = ctx.record(argv_obj, cwd=top)
            r2, t2 = ctx.record(argv_exe, cwd=top)
            for t in (t1, t2):
                rep = ctx.report_json(t)
                some_allocations(rep, "gcc")
            check({"cc1", "collect2"} <= exes(rep),
                  "gcc: expected cc1 and collect2 images, got %r" % exes(rep))
        else:
            r1, r2 = run(argv_obj, cwd=top), run(argv_exe, cwd=top)
        with open(os.path.join(top, "hello.o"), "rb") as f:
            obj = f.read()
        ran = run([os.path.join(top, "hello")]) if r2.code == 0 else None
        results[traced] = (r1.code, r1.out, r2.code, r2.out, obj,
                           ran and (ran.code, ran.out))
    eq(results[False][0], 0, "gcc: untraced exit status (precondition)")
    eq(results[True][:4], results[False][:4], "gcc: exit statuses and stdout under record")
    check(results[True][4] == results[False][4], "gcc: hello.o differs under record")
    eq(results[True][5], (0, b"fib(20) = 6765\n"), "gcc: the compiled program's output")


def test_real_xz_threads(ctx):
    xz = shutil.which("xz")
    if not xz:
        raise Skip("xz not installed")
    rng = random.Random(99)
    words = [("w%d" % rng.randrange(5000)).encode() for _ in range(900000)]
    data = b" ".join(words)
    src = ctx.path("data")
    with open(src, "wb") as f:
        f.write(data)
    comp = [xz, "-T2", "--block-size=1MiB", "-3", "-c", src]
    bare = run(comp)
    eq(bare.code, 0, "xz untraced (precondition)")
    res, trace = ctx.record(comp, expect_code=0)
    check(res.out == bare.out, "xz -T2: compressed output differs under record")
    some_allocations(ctx.report_json(trace), "xz -T2 compress")
    with open(ctx.path("data.xz"), "wb") as f:
        f.write(res.out)
    res, trace = ctx.record([xz, "-T2", "-d", "-c", ctx.path("data.xz")], expect_code=0)
    check(res.out == data, "xz -T2 -d: decompressed output differs from the input")
    some_allocations(ctx.report_json(trace), "xz -T2 decompress")


def test_real_low_descriptor_limit(ctx):
    """Under a low descriptor limit the shim's two descriptors (libunwind's pipe) go to the
    top of the range, so the program's next file still gets the number it gets bare."""
    prlimit = shutil.which("prlimit")
    if not prlimit:
        raise Skip("prlimit not installed")
    code = "import os; print(os.open('/dev/null', os.O_RDONLY))"
    for limit in (16, 64):
        traced_same_as_bare(ctx, [prlimit, "--nofile=%d" % limit, sys.executable, "-c", code])
