#!/usr/bin/python3
"""live_reader.py - reads a sweep's archive in a loop while the sweep writes
it, for tests/test_live_read.sh (hdf5/SCHEMA.md, "Reading while a sweep
runs").

  live_reader.py MODE ARCHIVE PID OUT [PERIOD]

Until process PID exits (then once more), a read starts every PERIOD
seconds (0.2 by default; at once when the last one took longer):
  analysis  every 25th read analysis.open(ARCHIVE) and .runs, the others
            .metrics, .snapshots and .final of the last 5 runs started
  h5py      the protocol of SCHEMA.md with h5py alone: the shared lock,
            the run table, the last 20 runs' metrics and final images
  nolock    the same reads without the lock (a control: the numbers are
            reported, not checked)
Writes OUT as JSON: reads, failed, the first errors, and in_progress (reads
that saw a sweep neither empty nor finished: the reads did race it) and
the longest time between the starts of two reads.
"""
import fcntl
import json
import os
import sys
import time

import h5py
import numpy as np

from testlib import alive


def read_h5py(path, lock):
    """(done, total) after reading the table, the last 20 started runs'
    metrics and final images; the lock as SCHEMA.md shows it."""
    def body(f):
        table = f["run_table"][:]
        names = {v: k for k, v in h5py.check_enum_dtype(table.dtype["status"]).items()}
        started = [r for r in table if names[int(r["status"])] != "pending"][-20:]
        for r in started:
            g = f["runs"][r["id"].decode()]
            m = g["metrics"][:]
            assert len(m) == 0 or m["iteration"][-1] == len(m), "metrics rows out of order"
            if "final" in g:
                assert g["final"][:].shape[2] == 3
        done = sum(1 for r in table if names[int(r["status"])] == "done")
        return done, len(table)

    if not lock:
        with h5py.File(path, "r") as f:
            return body(f)
    with open(path, "rb") as lk:
        fcntl.lockf(lk, fcntl.LOCK_SH, 1 << 62)  # waits while the writer applies an update
        with h5py.File(path, "r") as f:  # read everything, then close (that releases the lock)
            return body(f)


_archive = {"a": None, "n": 0, "started": []}


def read_analysis(path):
    """Every 25th read (and until a run has started): analysis.open(path)
    and .runs; the others, .metrics, .snapshots and .final of the last 5
    runs started as that open saw them (each method reads the file on its
    own)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import analysis

    st = _archive
    if st["a"] is None or st["n"] % 25 == 0 or not st["started"]:
        st["a"] = analysis.open(path)
        runs = st["a"].runs
        st["started"] = [rid for rid, s in zip(runs["id"], runs["status"]) if s != "pending"][-5:]
        st["done"] = (int((runs["status"] == "done").sum()), len(runs))
    st["n"] += 1
    for rid in st["started"]:
        st["a"].metrics(rid)
        st["a"].snapshots(rid)
        st["a"].final(rid)
    return st["done"]


def main(argv):
    mode, path, pid, out = argv[1], argv[2], int(argv[3]), argv[4]
    period = float(argv[5]) if len(argv) > 5 else 0.2
    reads = failed = in_progress = 0
    errors = []
    last = False
    gap = 0.0
    gaps = []
    t_prev = None
    while True:
        running = alive(pid)
        t_start = time.monotonic()
        if t_prev is not None:
            gap = max(gap, t_start - t_prev)
            gaps.append(t_start - t_prev)
        t_prev = t_start
        if os.path.exists(path):
            reads += 1
            try:
                done, total = read_analysis(path) if mode == "analysis" else read_h5py(path, mode == "h5py")
                if 0 < done < total:
                    in_progress += 1
            except Exception as e:  # every failure counts
                failed += 1
                if len(errors) < 5:
                    errors.append(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        if last:
            break
        last = not running
        if running:  # the next read starts `period` after this one started (at once when it took longer)
            time.sleep(max(0.0, t_start + period - time.monotonic()))
    with open(out, "w") as f:
        json.dump({"mode": mode, "reads": reads, "failed": failed, "in_progress": in_progress,
                   "longest_gap_s": round(gap, 3),
                   "median_gap_s": round(float(np.median(gaps)), 3) if gaps else 0.0, "errors": errors}, f)
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main(sys.argv))
