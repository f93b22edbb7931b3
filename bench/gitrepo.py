#!/usr/bin/env python3
"""gitrepo.py - write a git fast-import stream for a synthetic repository, for the git workload

The repository is the input of bench/run.sh's `git log -p` workload: 48 text files of a few
hundred lines, and N_COMMITS commits that each edit 10 of them at 5 to 40 random places
(replace, insert or delete a line). Diffing those edits is what `git log -p` spends its
allocations on. Everything comes from a fixed seed and fixed timestamps, so the same N_COMMITS
gives the same commits, the same hashes and the same log output on every machine.

Usage: gitrepo.py N_COMMITS | git -C REPO fast-import --quiet
       (REPO made by `git init -b main`; the commits go to refs/heads/main)
"""
import random
import sys

N_FILES = 48
N_LINES = 300
FILES_PER_COMMIT = 10
WORDS = ['alpha', 'beta', 'gamma', 'delta', 'heap', 'graph', 'trace', 'ring', 'frame', 'unwind',
         'alloc', 'free', 'size', 'stack', 'node', 'edge', 'peak', 'leak', 'page', 'arena']


def text_line(rng):
    return ' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))


def edit(rng, lines):
    """Changes a file in place at 5 to 40 random lines; never shrinks it below 50 lines."""
    for _ in range(rng.randint(5, 40)):
        i = rng.randrange(len(lines))
        op = rng.random()
        if op < 0.4:
            lines[i] = text_line(rng)
        elif op < 0.7:
            lines.insert(i, text_line(rng))
        elif len(lines) > 50:
            del lines[i]


def data(out, payload):
    out.write(b'data %d\n' % len(payload))
    out.write(payload)


def main():
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit('usage: gitrepo.py N_COMMITS')
    n_commits = int(sys.argv[1])
    rng = random.Random(1)
    files = [[text_line(rng) for _ in range(N_LINES)] for _ in range(N_FILES)]
    out = sys.stdout.buffer
    for c in range(n_commits):
        touched = range(N_FILES) if c == 0 else rng.sample(range(N_FILES), FILES_PER_COMMIT)
        out.write(b'commit refs/heads/main\n')
        out.write(b'committer Bench <bench@example.invalid> %d +0000\n' % (1700000000 + 60 * c))
        data(out, b'commit %d\n' % c)
        for f in touched:
            if c:
                edit(rng, files[f])
            out.write(b'M 100644 inline src/file%02d.txt\n' % f)
            data(out, ('\n'.join(files[f]) + '\n').encode())


if __name__ == '__main__':
    main()
