"""conftest.py - fixtures of the analysis package's tests (pytest):

- `repo`: the repository root (on sys.path, so `import analysis` works);
- `stylesweep`: the binary (STYLESWEEP_BIN, else build/stylesweep; the
  tests that need it are skipped with a reason when it is missing);
- `real_archive`: an archive made once per session by a tiny real sweep
  (random weights, channels_div 8, 32 px, 3 iterations; 2 style weights x 2
  poolings: 4 runs, about a second);
- `artefacts`: the folder for test artefacts (ANALYSIS_ARTEFACTS, which
  ctest sets to build/analysis-artefacts, else a temporary folder);
- `write_archive(path, runs, ...)`: writes a hand-made archive with h5py
  following hdf5/SCHEMA.md only.
"""
import hashlib
import math
import os
import shutil
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, REPO)
STATUS = {"pending": 0, "running": 1, "done": 2, "failed": 3, "interrupted": 4}
LAYERS = ["conv1_1", "conv2_1", "conv3_1"]
CHELSEA = os.path.join(REPO, "samples", "content", "chelsea.jpg")
STARRY = os.path.join(REPO, "samples", "style", "starry_night.jpg")


@pytest.fixture(scope="session")
def repo():
    return REPO


@pytest.fixture(scope="session")
def stylesweep():
    path = os.environ.get("STYLESWEEP_BIN") or os.path.join(REPO, "build", "stylesweep")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no stylesweep binary at {path} (build it, or set STYLESWEEP_BIN)")
    return path


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory):
    d = os.environ.get("ANALYSIS_ARTEFACTS")
    if not d:
        return str(tmp_path_factory.mktemp("artefacts"))
    os.makedirs(d, exist_ok=True)
    return d


TINY_MANIFEST = """sweep: tiny
defaults:
  content: {content}
  style: [{style}]
  weights: random
  channels_div: 8
  image_size: 32
  iterations: 3
  evals_per_iteration: 3
  init: content
  snapshots: {{first: 2, every: 1}}
grid:
  style_weight: [1.0, 100.0]
  pool: [max, avg]
"""


@pytest.fixture(scope="session")
def real_archive(stylesweep, tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    manifest = d / "tiny.yaml"
    manifest.write_text(TINY_MANIFEST.format(content=CHELSEA, style=STARRY))
    archive = d / "tiny.h5"
    r = subprocess.run([stylesweep, "run", str(manifest), "-o", str(archive), "--threads", "1", "-q"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"stylesweep run failed ({r.returncode}): {r.stderr}"
    return str(archive)


def image(seed, h=24, w=32):
    """A deterministic RGB test image."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((seed * 37 + y * 7 + x * 5 + c * 80) & 255).astype(np.uint8)


def params_text(params):
    """Parameters as stylesweep writes them: `key: value` lines, lists in [...]."""
    lines = []
    for k, v in params.items():
        if isinstance(v, (list, tuple)):
            v = "[" + ",".join(str(x) for x in v) + "]"
        elif isinstance(v, bool):
            v = "true" if v else "false"
        lines.append(f"{k}: {v}")
    return "\n".join(lines) + "\n"


BASE_PARAMS = {"content": CHELSEA, "style": [STARRY], "model": "vgg16", "weights": "random", "image_size": 32,
               "iterations": 4, "content_weight": 0.25, "style_weight": [1], "tv_weight": 8.5e-5,
               "style_layers": LAYERS, "pool": "max", "init": "noise", "seed": 0, "preserve_color": False}


def write_archive(path, runs, sweep="hand", schema_version=1, fmt="stylesweep-archive"):
    """Writes an archive following hdf5/SCHEMA.md. Each run is a dict:
    id, status, params (overrides of BASE_PARAMS), n (metrics rows),
    snaps (snapshot iterations), final (bool), error, attempts, weights."""
    manifest = f"sweep: {sweep}\n# hand-made\n"
    sdt = h5py.string_dtype()
    enum = h5py.enum_dtype(STATUS, basetype="i1")
    row_dt = np.dtype([("id", sdt), ("status", enum), ("attempts", "<i4"), ("iterations_done", "<i4"),
                       ("final_loss", "<f8"), ("host", sdt), ("rank", "<i4"), ("backend", sdt), ("device", sdt),
                       ("start_time", "<f8"), ("end_time", "<f8"), ("error", sdt)])
    met_dt = np.dtype([("iteration", "<i4"), ("loss", "<f8"), ("content", "<f8"), ("style", "<f8"),
                       ("tv", "<f8"), ("evaluations", "<i4"), ("seconds", "<f8"),
                       ("improvement_percent", "<f8")])
    with h5py.File(path, "w") as f:
        if fmt is not None:
            f.attrs["format"] = fmt
        f.attrs["schema_version"] = np.int64(schema_version)
        f.attrs["created"] = "2025-01-31T12:00:00Z"
        f.attrs["stylesweep_version"] = "0.1.0"
        f.attrs["sweep"] = sweep
        f.attrs["manifest_sha256"] = hashlib.sha256(manifest.encode()).hexdigest()
        f.attrs.create("status_names", ["pending", "running", "done", "failed", "interrupted"], dtype=sdt)
        f.create_dataset("manifest", data=manifest, dtype=sdt)
        table = np.zeros(len(runs), dtype=row_dt)
        grp = f.create_group("runs")
        t0 = 1.7e9
        for i, r in enumerate(runs):
            st = r.get("status", "done")
            n = r.get("n", 4 if st == "done" else 0)
            params = dict(BASE_PARAMS, **r.get("params", {}))
            loss = [1000.0 / (k + 1) + i for k in range(n)]
            started = st != "pending"
            row = (r["id"], STATUS[st], r.get("attempts", 1 if started else 0), n,
                   loss[-1] if n else math.nan, "node1" if started else "", 1 if started else -1,
                   "cpu" if started else "", "Xeon" if started else "", t0 + i if started else math.nan,
                   t0 + i + 10 if st in ("done", "failed", "interrupted") else math.nan, r.get("error", ""))
            table[i] = row
            g = grp.create_group(r["id"])
            for k, v in (("id", r["id"]), ("status", st), ("error", r.get("error", "")),
                         ("host", row[5]), ("backend", row[7]), ("device", row[8]),
                         ("weights", r.get("weights", "random:0" if started else "")),
                         ("params", params_text(params))):
                g.attrs.create(k, v, dtype=sdt)
            g.attrs["index"] = np.int64(i)
            g.attrs["attempts"] = np.int64(row[2])
            g.attrs["rank"] = np.int64(row[6])
            g.attrs["start_time"] = row[9]
            g.attrs["end_time"] = row[10]
            m = np.zeros(n, dtype=met_dt)
            for k in range(n):
                prev = loss[k - 1] if k else loss[k]
                m[k] = (k + 1, loss[k], 10.0 + k, loss[k] - 20.0 - k, 10.0, 20, 0.5 + 0.1 * k,
                        0.0 if k == 0 else (prev - loss[k]) / prev * 100)
            g.create_dataset("metrics", data=m, maxshape=(None,), chunks=(128,))
            if n:
                sl = g.create_dataset("style_layers", data=np.arange(n * 3, dtype="<f8").reshape(n, 3) + 1)
                sl.attrs.create("layer_names", LAYERS, dtype=sdt)
            snaps = r.get("snaps", [1, 2, n] if n >= 3 else list(range(1, n + 1)))
            if snaps:
                imgs = np.stack([image(i * 10 + s) for s in snaps])
                g.create_dataset("snapshots", data=imgs, chunks=(1,) + imgs.shape[1:], compression="gzip",
                                 maxshape=(None,) + imgs.shape[1:])
                g.create_dataset("snapshot_iterations", data=np.array(snaps, dtype="<i4"), maxshape=(None,))
            if r.get("final", st == "done"):
                g.create_dataset("final", data=image(i * 10 + 99), compression="gzip")
        f.create_dataset("run_table", data=table, maxshape=(None,), chunks=(64,))
    return str(path)


@pytest.fixture
def make_archive(tmp_path):
    def make(runs, name="hand.h5", **kw):
        return write_archive(tmp_path / name, runs, **kw)
    return make


def run_cli(*args, cwd=None):
    """python3 -m analysis ARGS...: (returncode, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=REPO, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, "-m", "analysis", *map(str, args)], capture_output=True, text=True,
                       env=env, cwd=cwd or REPO, timeout=600)
    return r.returncode, r.stdout, r.stderr


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(url, tmp, *extra):
    """Runs headless Chromium on url with a fresh profile; returns stdout.
    Skips the test when Chromium is missing."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"{CHROMIUM} not found (scripts/setup.sh installs chromium)")
    profile = os.path.join(str(tmp), f"chromium-profile-{time.monotonic_ns()}")
    r = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
                       capture_output=True, text=True, timeout=180)
    shutil.rmtree(profile, ignore_errors=True)
    return r.stdout
