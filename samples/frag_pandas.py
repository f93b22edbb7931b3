"""frag_pandas.py - "I deleted the data frame, called gc.collect(), and RSS did not go down"

Run with PYTHONMALLOC=malloc under heapgraph. Builds a DataFrame of 400,000 rows with a string
column (each string a separate Python object, so a malloc'd block), keeps every 64th string in
a list, deletes the frame, runs gc.collect(), and takes a heap snapshot labelled "after-del"
through heapgraph_snapshot (looked up with ctypes: present when the shim is preloaded, absent
otherwise). Prints one line: "frag_pandas: rows 400000 kept 6250 rss R".

Expect at "after-del": malloc holds far more free memory than live (allocator_free_bytes is
several times live_bytes), the resident set stays far above the live bytes, and pages are
pinned by the strings that were kept.
"""
import ctypes
import gc
import os

import pandas as pd

ROWS = 400_000
KEEP_EVERY = 64


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    df = pd.DataFrame({"id": range(ROWS), "name": ["customer-%08d" % i for i in range(ROWS)]})
    kept = [df["name"].iat[i] for i in range(0, ROWS, KEEP_EVERY)]
    del df
    gc.collect()
    snap = getattr(ctypes.CDLL(None), "heapgraph_snapshot", None)
    if snap is not None:
        snap(b"after-del")
    print("frag_pandas: rows %d kept %d rss %d" % (ROWS, len(kept), rss_bytes()))


main()
