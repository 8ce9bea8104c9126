#!/usr/bin/python3
"""read_archive.py - reads the sample archive written by `test_archive --write`
with h5py alone, following hdf5/SCHEMA.md (not stylesweep's code), and checks
every value against the formulas of tests/test_archive.c.

usage: /usr/bin/python3 tests/read_archive.py ARCHIVE
Exits non-zero with a message on the first mismatch."""
import hashlib
import math
import sys
import zlib

import h5py
import numpy as np

try:
    import yaml
except ImportError:  # parse the simple "key: value" lines ourselves
    yaml = None

IDS = ["t01", "t02-tv_weight=0.0001", "t03"]
LAYERS = ["conv1_1", "conv3_1", "conv5_1"]
W, H, FINAL_ITERATION = 8, 6, 999


def fail(msg):
    print(f"read_archive.py: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


# the formulas of test_archive.c
def metric(r, k):
    return dict(iteration=k, loss=1000.0 / k + r, content=10.0 * r + k, style=500.0 / k, tv=0.5 * k,
                evaluations=20, seconds=0.25 * k + r, improvement_percent=0.0 if k == 1 else 100.0 / k)


def layer_value(r, k, l):
    return r * 100.0 + k + l * 0.5


def image(r, it, w=W, h=H):
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((r * 50 + it * 7 + y * 11 + x * 3 + c * 60) & 255).astype(np.uint8)


def checkpoint_image(r, it, w=W, h=H):
    c, y, x = np.meshgrid(np.arange(3), np.arange(h), np.arange(w), indexing="ij")
    return (r + c * 0.25 + y * 0.01 + x * 0.001 + it).astype(np.float32)


def checkpoint_state(it):
    return ((np.arange(100 + it) * 31 + it) & 255).astype(np.uint8)


def parse_params(text):
    if yaml is not None:
        return yaml.safe_load(text)
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.strip()
    return out


def valid_checkpoint(g):
    """SCHEMA.md's rule: the complete slot with a matching crc32 and the highest generation."""
    best = None
    for slot in (g["checkpoint"].values() if "checkpoint" in g else []):
        a = slot.attrs
        if a.get("complete", 0) != 1:
            continue
        crc = zlib.crc32(slot["state"][:].tobytes(), zlib.crc32(slot["image"][:].astype("<f4").tobytes()))
        if crc == int(a["crc32"]) and (best is None or a["generation"] > best.attrs["generation"]):
            best = slot
    return best


def main(path):
    with h5py.File(path, "r") as f:
        a = f.attrs
        check(a["format"] == "stylesweep-archive", f"format {a['format']!r}")
        check(int(a["schema_version"]) == 1, f"schema_version {a['schema_version']}")
        check(isinstance(a["created"], str) and a["created"].endswith("Z"), f"created {a['created']!r}")
        check(a["stylesweep_version"].count(".") == 2, f"version {a['stylesweep_version']!r}")
        check(a["sweep"] == "sample", f"sweep {a['sweep']!r}")
        check(list(a["status_names"]) == ["pending", "running", "done", "failed", "interrupted"], "status_names")
        manifest = f["manifest"].asstr()[()]
        check(manifest.startswith("sweep: sample\n"), "manifest text")
        digest = hashlib.sha256(manifest.encode()).hexdigest()
        check(a["manifest_sha256"] == digest, "root manifest_sha256 is the text's SHA-256")
        check(f["manifest"].attrs["sha256"] == digest, "manifest sha256 attribute")

        table = f["run_table"][:]
        check(len(table) == 3, f"{len(table)} runs")
        names = h5py.check_enum_dtype(table.dtype["status"])
        check(names == {"pending": 0, "running": 1, "done": 2, "failed": 3, "interrupted": 4}, f"enum {names}")
        status_of = {v: k for k, v in names.items()}
        want_status = ["done", "interrupted", "failed"]
        n_metrics = [12, 3, 0]
        n_snap = [5, 1, 0]
        for i, row in enumerate(table):
            rid = row["id"].decode()
            check(rid == IDS[i], f"row {i} id {rid}")
            st = status_of[int(row["status"])]
            check(st == want_status[i], f"{rid} status {st}")
            check(row["attempts"] == (2 if i == 2 else 1), f"{rid} attempts {row['attempts']}")
            check(row["iterations_done"] == n_metrics[i], f"{rid} iterations_done {row['iterations_done']}")
            if n_metrics[i]:
                check(row["final_loss"] == metric(i, n_metrics[i])["loss"], f"{rid} final_loss {row['final_loss']}")
            else:
                check(math.isnan(row["final_loss"]), f"{rid} final_loss should be NaN")
            check(row["host"].decode() == ("node2" if i == 1 else "node1"), f"{rid} host")
            check(row["rank"] == i + 1, f"{rid} rank")
            check(row["backend"].decode() == ("cuda" if i == 1 else "cpu"), f"{rid} backend")
            check(row["device"].decode() == ("NVIDIA H200" if i == 1 else "Xeon 8480"), f"{rid} device")
            check(row["start_time"] > 1e9 and row["end_time"] >= row["start_time"], f"{rid} times")
            check(row["error"].decode() == ("NaN loss at iteration 2" if i == 2 else ""), f"{rid} error")

            g = f["runs"][rid]
            ga = g.attrs
            check(ga["id"] == rid and int(ga["index"]) == i, f"{rid} id/index attributes")
            check(ga["status"] == st and ga["error"] == row["error"].decode(), f"{rid} status attributes")
            check(int(ga["attempts"]) == row["attempts"] and int(ga["rank"]) == i + 1, f"{rid} attempts/rank attrs")
            check(ga["host"] == row["host"].decode() and ga["device"] == row["device"].decode(), f"{rid} host attrs")
            check(ga["backend"] == row["backend"].decode(), f"{rid} backend attr")
            check(ga["weights"] == ("vgg16.h5" if i == 1 else "random"), f"{rid} weights {ga['weights']!r}")
            params = parse_params(ga["params"])
            check(int(params["iterations"]) == 12, f"{rid} params iterations {params.get('iterations')}")
            check(float(params["tv_weight"]) == (1e-4 if i == 1 else 8.5e-5), f"{rid} tv_weight")
            if yaml is not None:
                check(params["style_layers"] == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"],
                      f"{rid} style_layers {params['style_layers']}")

            m = g["metrics"][:]
            check(len(m) == n_metrics[i], f"{rid} {len(m)} metrics rows")
            for k, r in enumerate(m):
                want = metric(i, k + 1)
                for field, value in want.items():
                    check(r[field] == value, f"{rid} metrics row {k} {field} {r[field]} != {value}")
            if i == 2:
                check("style_layers" not in g, f"{rid} has no style_layers")
            else:
                sl = g["style_layers"]
                check(sl.shape == (n_metrics[i], 3) and sl.dtype == np.float64, f"{rid} style_layers {sl.shape}")
                check(list(sl.attrs["layer_names"]) == LAYERS, f"{rid} layer_names")
                v = sl[:]
                for k in range(n_metrics[i]):
                    for l in range(3):
                        if i == 1 and k == 0:
                            check(math.isnan(v[k, l]), f"{rid} style_layers[0] should be NaN")
                        else:
                            check(v[k, l] == layer_value(i, k + 1, l), f"{rid} style_layers[{k},{l}]")

            if n_snap[i]:
                s, its = g["snapshots"], g["snapshot_iterations"]
                n = min(len(s), len(its))
                check(n == n_snap[i], f"{rid} {n} snapshots")
                check(s.dtype == np.uint8 and s.shape == (n, H, W, 3), f"{rid} snapshots {s.dtype} {s.shape}")
                check(s.chunks == (1, H, W, 3) and s.compression == "gzip", f"{rid} chunks {s.chunks} {s.compression}")
                want_its = [1, 2, 3, 5, 10] if i == 0 else [1]
                check(list(its[:n]) == want_its, f"{rid} iterations {list(its[:n])}")
                for k in range(n):
                    check(np.array_equal(s[k], image(i, want_its[k])), f"{rid} snapshot {k} pixels")
            else:
                check("snapshots" not in g, f"{rid} has no snapshots")

            if i == 0:
                fin = g["final"]
                check(fin.dtype == np.uint8 and fin.shape == (H, W, 3), f"final {fin.dtype} {fin.shape}")
                check(np.array_equal(fin[:], image(0, FINAL_ITERATION)), "final pixels")
            else:
                check("final" not in g, f"{rid} has no final")

            slot = valid_checkpoint(g)
            want_it = [12, 3, None][i]
            if want_it is None:
                check(slot is None, f"{rid} has no checkpoint")
            else:
                check(slot is not None, f"{rid} has a valid checkpoint")
                sa = slot.attrs
                check(int(sa["iteration"]) == want_it and int(sa["n_metrics"]) == want_it, f"{rid} ckpt iteration")
                check(int(sa["generation"]) == (2 if i == 0 else 1), f"{rid} ckpt generation")
                check(slot["image"].dtype == np.float32 and slot["image"].shape == (3, H, W), f"{rid} ckpt image")
                check(np.array_equal(slot["image"][:], checkpoint_image(i, want_it)), f"{rid} ckpt image values")
                check(np.array_equal(slot["state"][:], checkpoint_state(want_it)), f"{rid} ckpt state")
    print(f"read_archive.py: {path}: all values as written")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
