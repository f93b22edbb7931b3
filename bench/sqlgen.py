#!/usr/bin/env python3
"""sqlgen.py - write the SQL script of bench/run.sh's sqlite3 workload to stdout.

Usage: sqlgen.py ROWS

Inside one transaction, ROWS inserts into each of two tables (customers and orders, so
2 * ROWS inserts in all, one statement each so that sqlite3 parses every one), then a join
with an aggregate whose output the benchmark hashes. The values are deterministic.
"""
import sys

rows = int(sys.argv[1])
out = sys.stdout
out.write("PRAGMA journal_mode=OFF;\nBEGIN;\n")
out.write("CREATE TABLE customer(id INTEGER PRIMARY KEY, name TEXT, region INTEGER);\n")
out.write("CREATE TABLE orders(id INTEGER PRIMARY KEY, customer INTEGER, amount INTEGER,"
          " note TEXT);\n")
for i in range(rows):
    out.write("INSERT INTO customer VALUES(%d,'customer-%d-%s',%d);\n"
              % (i, i, "x" * (i % 17), (i * 7919) % 50))
for i in range(rows):
    out.write("INSERT INTO orders VALUES(%d,%d,%d,'order %d');\n"
              % (i, (i * 104729) % rows, (i * 31337) % 10007, i))
out.write("COMMIT;\n")
out.write("SELECT c.region, count(*), sum(o.amount), max(length(c.name)), min(o.note)\n"
          "  FROM orders o JOIN customer c ON c.id = o.customer\n"
          "  GROUP BY c.region ORDER BY c.region;\n")
