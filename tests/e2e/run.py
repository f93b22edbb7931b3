#!/usr/bin/env python3
"""run.py - end-to-end tests: the real heapgraph CLI and shim on samples and real programs

Every test runs the built binaries (`--build DIR`, default build/) in a fresh temporary
directory and checks exact numbers: the ones stated in the "Expect:" block of each sample's
header comment (samples/*.c, samples/*.cc). A `/* site: NAME */` comment in a sample marks the
source line a test expects in a site's frame; tests look the line up rather than hard-coding it.

Discovery: every function named test_* defined in tests/e2e/test_*.py is a test; files run in
the order of FILE_ORDER (others after them, by name), functions in source order. A test with a
`params` attribute runs once per parameter, named test_x[param]. A test passes by returning,
fails by raising harness.Fail (or any other exception, reported the same way), and is skipped by
raising harness.Skip (printed, not counted as passed or failed).

Output: one line per test ("ok NAME", "FAIL NAME: reason", "skip NAME: reason"), then exactly
"N passed, N failed". Exit status 1 if any test failed, 2 on a usage error.

Tests never assert on timing. Each command has a generous time limit only so that a hang
becomes a failure instead of a stuck suite; its process group is killed then.

Usage: python3 tests/e2e/run.py [--build DIR] [-k SUBSTR]... [-j N] [--keep] [-v] [--list]
"""
import argparse
import concurrent.futures
import importlib
import os
import shutil
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree

from harness import CACHE_VAR, REPO, Ctx, Fail, Skip  # noqa: E402

# Samples first: when the tool is broken, their exact numbers say the most.
FILE_ORDER = ("test_samples.py", "test_cli.py", "test_bare.py", "test_real.py")


def discover():
    """[(name, function, param or None)]: test_*.py files in name order, tests in source
    order. Names imported from another module are not tests of this one."""
    out = []
    names = [n for n in os.listdir(HERE) if n.startswith("test_") and n.endswith(".py")]
    names.sort(key=lambda n: (FILE_ORDER.index(n) if n in FILE_ORDER else len(FILE_ORDER), n))
    for fname in names:
        mod = importlib.import_module(fname[:-3])
        funcs = [f for n, f in vars(mod).items() if n.startswith("test_") and callable(f)
                 and getattr(f, "__module__", None) == mod.__name__]
        funcs.sort(key=lambda f: f.__code__.co_firstlineno)
        for f in funcs:
            params = getattr(f, "params", None)
            if params is None:
                out.append((f.__name__, f, None))
            else:
                out.extend(("%s[%s]" % (f.__name__, p), f, p) for p in params)
    return out


def run_one(build, name, func, param, keep):
    """Run one test in its own temp dir: (status, reason, seconds)."""
    t0 = time.monotonic()
    status, why = run_one_inner(build, name, func, param, keep)
    return status, why, time.monotonic() - t0


def run_one_inner(build, name, func, param, keep):
    tmp = tempfile.mkdtemp(prefix="hg-e2e-")
    try:
        ctx = Ctx(build, tmp)
        if param is None:
            func(ctx)
        else:
            func(ctx, param)
        return "ok", None
    except Skip as e:
        return "skip", str(e)
    except Fail as e:
        return "FAIL", str(e) + (" [kept %s]" % tmp if keep else "")
    except Exception as e:
        where = traceback.extract_tb(e.__traceback__)[-1]
        return "FAIL", "%s: %s (at %s:%d)\n%s" % (type(e).__name__, e,
                                                  os.path.basename(where.filename),
                                                  where.lineno, traceback.format_exc())
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def one_line(why):
    """A failure reason on one line: multi-line details joined with ' | '."""
    return " | ".join(l.strip() for l in why.splitlines() if l.strip())


def main():
    ap = argparse.ArgumentParser(description="heapgraph end-to-end tests")
    ap.add_argument("--build", default=os.path.join(REPO, "build"),
                    help="build directory holding heapgraph, libheapgraph.so and samples/")
    ap.add_argument("-k", action="append", default=[], metavar="SUBSTR",
                    help="run only tests whose name contains SUBSTR (repeatable)")
    ap.add_argument("-j", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                    help="tests to run at once (default: min(2, CPUs))")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs of failed tests")
    ap.add_argument("--list", action="store_true", help="list test names and exit")
    ap.add_argument("-v", action="store_true",
                    help="show how long each test took, and failure details on extra lines")
    args = ap.parse_args()
    build = os.path.abspath(args.build)

    tests = [t for t in discover() if not args.k or any(k in t[0] for k in args.k)]
    if args.list:
        for name, _, _ in tests:
            print(name)
        return 0
    for need in ("heapgraph", "libheapgraph.so"):
        if not os.path.exists(os.path.join(build, need)):
            print("run.py: error: '%s' not found in '%s' (make all samples)" % (need, build),
                  file=sys.stderr)
            return 2
    # One debug cache for the run, shared by its tests as by a user's reports, then removed.
    cache = tempfile.mkdtemp(prefix="hg-e2e-cache-")
    os.environ[CACHE_VAR] = cache
    try:
        return run_tests(build, tests, args)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def run_tests(build, tests, args):
    """Run the tests, print a line for each and a summary; the exit status."""
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.j)) as pool:
        futures = [pool.submit(run_one, build, name, f, p, args.keep) for name, f, p in tests]
        for (name, _, _), fut in zip(tests, futures):
            status, why, secs = fut.result()
            if args.v:
                name += " (%.1f s)" % secs
            if status == "ok":
                passed += 1
                print("ok %s" % name, flush=True)
            elif status == "skip":
                print("skip %s: %s" % (name, why), flush=True)
            else:
                failed += 1
                print("FAIL %s: %s" % (name, one_line(why)), flush=True)
                if args.v and "\n" in why:
                    print("    " + why.rstrip("\n").replace("\n", "\n    "), flush=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
