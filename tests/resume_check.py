#!/usr/bin/python3
"""resume_check.py - archive checks for tests/test_resume.sh, with h5py alone
(hdf5/SCHEMA.md), so they do not depend on stylesweep's own reader.

  resume_check.py wait ARCHIVE RUN MIN_ITERATION PID [SECONDS [SINCE]]
      Polls until run RUN (* = any run), started at or after UNIX time SINCE
      (default 0), has recorded MIN_ITERATION iterations (or is done); exit 0 then, 2 when
      the run was done before SINCE, 1 when PID exits first or SECONDS
      (default 60) pass. The archive is opened read-only each time (a read
      racing a flush is retried).
  resume_check.py unfinished ARCHIVE
      Exit 0 when at least one run of ARCHIVE is not done (the proof that an
      interruption stopped work), printing each run's status and
      iterations; 1 when every run is done.
  resume_check.py wait-file ARCHIVE PID [SECONDS]
      Polls until ARCHIVE exists and opens as an archive.
  resume_check.py state ARCHIVE
      Prints one JSON object: run id -> [status, attempts, start_time,
      metrics rows] (for --before).
  resume_check.py compare REF ARCHIVE [--before JSON ...] [--only ID,ID]
      Every run of REF (or the listed ones) is done in ARCHIVE with the same
      final image, snapshots and metrics (every field but seconds) and style
      layer values, bit for bit; one metrics row per iteration of its params.
      With --before STATE (printed by `state` before an interruption): a run
      done then has the same attempts and start_time now (never computed
      twice). Prints each problem; exit 0 when there is none.
  resume_check.py show ARCHIVE RUN FIELD
      Prints a run-table field (status as its name) or `params` or `n_metrics`.
  resume_check.py opens ARCHIVE
      Exit 0 when the archive opens and its run table, every run's metrics
      and valid checkpoints read (h5py only).
"""
import json
import os
import sys
import time
import zlib

import h5py
import numpy as np
import yaml

from testlib import alive


def open_archive(path):
    return h5py.File(path, "r", locking=False)


def status_names(table):
    names = h5py.check_enum_dtype(table.dtype["status"])
    return {v: k for k, v in names.items()}


def read_table(path):
    with open_archive(path) as f:
        table = f["run_table"][:]
        names = status_names(table)
        return {r["id"].decode(): (names[r["status"]], int(r["attempts"]), int(r["iterations_done"]),
                                   float(r["start_time"])) for r in table}


def cmd_wait(path, run, min_it, pid, seconds=60.0, since=0.0):
    t_end = time.time() + float(seconds)
    pid, since = int(pid), float(since)
    while time.time() < t_end:
        ended = not alive(pid)  # before the read: a run done just before the end is seen
        try:
            rows = read_table(path)
            if run == "*":  # any run started by this job
                if any(start >= since and it >= int(min_it) for st, _, it, start in rows.values()):
                    return 0
            else:
                st, _, it, start = rows.get(run, ("", 0, 0, 0.0))
                if start >= since and (it >= int(min_it) or st == "done"):
                    return 0
                if st == "done" and start < since:
                    print("wait: run %s was done before" % run)
                    return 2
        except Exception:
            pass
        if ended:
            print("wait: process %d ended before run %s reached iteration %s" % (pid, run, min_it))
            return 1
        time.sleep(0.01)
    print("wait: run %s did not reach iteration %s in %s s" % (run, min_it, seconds))
    return 1


def cmd_unfinished(path):
    rows = read_table(path)
    print(" ".join("%s:%s@%d" % (rid, st, it) for rid, (st, _, it, _) in sorted(rows.items())))
    return 0 if any(st != "done" for st, _, _, _ in rows.values()) else 1


def cmd_wait_file(path, pid, seconds=60.0):
    t_end = time.time() + float(seconds)
    pid = int(pid)
    while time.time() < t_end:
        if os.path.exists(path):
            try:
                read_table(path)
                return 0
            except Exception:
                pass
        if not alive(pid):
            print("wait-file: process %d ended before %s appeared" % (pid, path))
            return 1
        time.sleep(0.005)
    print("wait-file: %s did not appear in %s s" % (path, seconds))
    return 1


def cmd_state(path):
    with open_archive(path) as f:
        table = f["run_table"][:]
        names = status_names(table)
        out = {}
        for r in table:
            rid = r["id"].decode()
            out[rid] = [names[r["status"]], int(r["attempts"]), float(r["start_time"]),
                        int(len(f["runs"][rid]["metrics"]))]
    print(json.dumps(out))
    return 0


def checkpoint_ok(g):
    """Every complete checkpoint slot passes its CRC (SCHEMA.md)."""
    for slot in (g["checkpoint"].values() if "checkpoint" in g else []):
        a = slot.attrs
        if a.get("complete", 0) != 1:
            continue
        crc = zlib.crc32(slot["state"][:].tobytes(), zlib.crc32(slot["image"][:].astype("<f4").tobytes()))
        if crc != a["crc32"]:
            return False
    return True


def cmd_opens(path):
    with open_archive(path) as f:
        assert f.attrs["format"] == "stylesweep-archive"
        table = f["run_table"][:]
        for r in table:
            g = f["runs"][r["id"].decode()]
            g["metrics"][:]
            if not checkpoint_ok(g):
                print("opens: run %s has a complete checkpoint slot failing its CRC" % r["id"].decode())
                # a torn slot is tolerated by the validity rule, but complete ones must pass
                return 1
    return 0


METRIC_FIELDS = ("iteration", "loss", "content", "style", "tv", "evaluations", "improvement_percent")


def cmd_compare(ref, path, befores, only):
    problems = []
    with open_archive(ref) as fr, open_archive(path) as fa:
        ta = fa["run_table"][:]
        names = status_names(ta)
        rows = {r["id"].decode(): r for r in ta}
        ids = [r["id"].decode() for r in fr["run_table"][:]]
        if only:
            ids = [i for i in ids if i in only]
        for rid in ids:
            if rid not in rows:
                problems.append("%s: missing" % rid)
                continue
            row = rows[rid]
            st = names[row["status"]]
            if st != "done":
                problems.append("%s: %s, not done (%s)" % (rid, st, row["error"].decode()))
                continue
            gr, ga = fr["runs"][rid], fa["runs"][rid]
            iterations = yaml.safe_load(ga.attrs["params"])["iterations"]
            ma, mr = ga["metrics"][:], gr["metrics"][:]
            if len(ma) != iterations or row["iterations_done"] != iterations:
                problems.append("%s: %d metrics rows (iterations_done %d) for %d iterations" %
                                (rid, len(ma), row["iterations_done"], iterations))
            if len(ma) != len(mr) or any(not np.array_equal(ma[k], mr[k]) for k in METRIC_FIELDS):
                problems.append("%s: metrics differ from the uninterrupted run" % rid)
            if not np.array_equal(ma["iteration"], np.arange(1, len(ma) + 1)):
                problems.append("%s: metrics iterations are not 1..%d" % (rid, len(ma)))
            if "final" not in ga or not np.array_equal(ga["final"][:], gr["final"][:]):
                problems.append("%s: final image differs from the uninterrupted run" % rid)
            if ("snapshots" in gr) != ("snapshots" in ga) or ("snapshots" in gr and (
                    not np.array_equal(ga["snapshots"][:], gr["snapshots"][:]) or
                    not np.array_equal(ga["snapshot_iterations"][:], gr["snapshot_iterations"][:]))):
                problems.append("%s: snapshots differ from the uninterrupted run" % rid)
            if ("style_layers" in gr) != ("style_layers" in ga) or ("style_layers" in gr and not np.array_equal(
                    ga["style_layers"][:], gr["style_layers"][:])):
                problems.append("%s: style layer values differ from the uninterrupted run" % rid)
            for bpath in befores:
                with open(bpath) as bf:
                    before = json.load(bf)
                b = before.get(rid)
                if b and b[0] == "done" and (b[1] != int(row["attempts"]) or b[2] != float(row["start_time"])):
                    problems.append("%s: done before an interruption (%s), computed again: attempts %d -> %d" %
                                    (rid, bpath, b[1], row["attempts"]))
    for p in problems:
        print("compare:", p)
    return 1 if problems else 0


def cmd_show(path, run, field):
    with open_archive(path) as f:
        table = f["run_table"][:]
        names = status_names(table)
        for r in table:
            if r["id"].decode() != run:
                continue
            if field == "params":
                sys.stdout.write(f["runs"][run].attrs["params"])
            elif field == "n_metrics":
                print(len(f["runs"][run]["metrics"]))
            elif field == "status":
                print(names[r["status"]])
            else:
                v = r[field]
                print(v.decode() if isinstance(v, bytes) else v)
            return 0
    print("show: no run %s" % run)
    return 1


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "wait":
        return cmd_wait(*args)
    if cmd == "unfinished":
        return cmd_unfinished(*args)
    if cmd == "wait-file":
        return cmd_wait_file(*args)
    if cmd == "state":
        return cmd_state(*args)
    if cmd == "opens":
        return cmd_opens(*args)
    if cmd == "show":
        return cmd_show(*args)
    if cmd == "compare":
        befores, only, rest = [], None, []
        i = 0
        while i < len(args):
            if args[i] == "--before":
                befores.append(args[i + 1])
                i += 2
            elif args[i] == "--only":
                only = set(args[i + 1].split(","))
                i += 2
            else:
                rest.append(args[i])
                i += 1
        return cmd_compare(rest[0], rest[1], befores, only)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
