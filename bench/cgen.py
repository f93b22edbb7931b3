#!/usr/bin/env python3
"""cgen.py - write the C file of bench/run.sh's cc1 workload to stdout.

Usage: cgen.py FUNCTIONS

FUNCTIONS functions of about 25 lines each (200 give about 5,000 lines) with loops, switches,
structs and calls to one another, so that gcc -O2 has inlining, unrolling and register
allocation to do. Deterministic.
"""
import sys

n = int(sys.argv[1])
w = sys.stdout.write
w("#include <stddef.h>\n\nstruct rec { int a, b; long c; double d; struct rec *next; };\n\n")
for i in range(n):
    w("int f%d(struct rec *r, int k);\n" % i)
w("\n")
for i in range(n):
    callee = (i * 37 + 11) % n
    w("int f%d(struct rec *r, int k)\n{\n" % i)
    w("\tint acc = %d;\n\tlong t = k;\n\n" % i)
    w("\tfor (int j = 0; j < %d; j++) {\n" % (i % 13 + 3))
    w("\t\tswitch ((j + k) & 3) {\n")
    w("\t\tcase 0: acc += r->a * j + %d; break;\n" % (i % 97))
    w("\t\tcase 1: acc ^= r->b << (j & 7); break;\n")
    w("\t\tcase 2: t += (long)(r->d * %d.5); break;\n" % (i % 19))
    w("\t\tdefault: acc -= (int)(t >> 3); break;\n\t\t}\n")
    w("\t\tif (r->next && acc > %d)\n\t\t\tr = r->next;\n\t}\n" % (i * 3))
    w("\tr->c += t + acc;\n")
    w("\tif (k > 0 && k < %d)\n" % (i % 5 + 2))
    w("\t\tacc += f%d(r, k - 1);\n" % callee)
    w("\twhile (t > %d) {\n\t\tt /= 3;\n\t\tacc += (int)t;\n\t}\n" % (i + 100))
    w("\tr->d = r->d * 0.5 + acc;\n")
    w("\treturn acc + (int)r->c;\n}\n\n")
