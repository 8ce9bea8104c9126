"""demo_check.py - scripts/demo.sh end to end (ctest: analysis_demo; not
collected with the other analysis tests, since the demo sweep takes a minute
or two of two cores):

- the shipped sweeps/demo.yaml on 3 MPI ranks into a fresh folder: exit 0,
  the report's path printed, 9 runs done at 160 px; the report opened in
  headless Chromium shows every image (the trade-off, one grid and one plot
  per varied parameter, a strip and a plot per run) and one table row per
  run; the images are stylised by degrees: for every painting, a larger
  style weight gives a lower SSIM to the photograph and a palette closer to
  the painting's; a screenshot and the grids are kept as artefacts;
- run again: the finished archive is reused, byte for byte, and the report
  written again;
- an archive holding only some runs (`--only`) is resumed: the runs already
  done are kept (one attempt, same image), the others added.

The binary comes from STYLESWEEP_BIN (ctest sets it), so the script skips
package installation and the build here.
"""
import hashlib
import os
import re
import shutil
import subprocess

import numpy as np

import analysis
from conftest import REPO
from test_report_browser import page_facts

QUICK = "image_size=48 iterations=2 evals_per_iteration=3"


def demo(stylesweep, out, extra_env=None):
    env = dict(os.environ, STYLESWEEP_BIN=stylesweep, DEMO_OUT=str(out), PYTHONDONTWRITEBYTECODE="1")
    env.update(extra_env or {})
    r = subprocess.run(["bash", os.path.join(REPO, "scripts", "demo.sh")], capture_output=True, text=True,
                       env=env, cwd=REPO, timeout=1800)
    assert r.returncode == 0, f"demo.sh exit {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_demo(stylesweep, tmp_path, artefacts):
    out = tmp_path / "demo"
    log = demo(stylesweep, out)
    index = out / "report" / "index.html"
    assert f"The report: {index}" in log and "xdg-open" in log
    assert re.search(r"running the 9 runs of sweeps/demo.yaml on 3 MPI ranks", log)
    assert "report: run 9/9" in log  # the report's progress

    a = analysis.open(out / "demo.h5")
    runs = a.runs
    assert len(runs) == 9 and (runs["status"] == "done").all() and (runs["attempts"] == 1).all()
    assert (runs["image_size"] == 160).all() and a.varied() == ["style", "style_weight"]
    for style, df in runs.groupby("style"):
        df = df.sort_values("style_weight")
        assert list(df["style_weight"]) == [10.0, 100.0, 1000.0]
        assert np.all(np.diff(df["ssim_content"]) < 0), (style, list(df["ssim_content"]))
        assert np.all(np.diff(df["colour_distance_style"]) < 0), (style, list(df["colour_distance_style"]))

    total, loaded, rows, _ = page_facts(index, tmp_path)
    assert (total, loaded, rows) == (1 + 2 * 2 + 9 * 2, 23, 9)
    html = index.read_text()
    assert "img/grid-style.png" in html and "img/grid-style_weight.png" in html
    from conftest import chromium
    chromium("file://" + str(index), tmp_path, "--hide-scrollbars", "--window-size=1280,4000",
             "--screenshot=" + os.path.join(artefacts, "demo-report-screenshot.png"))
    for name in ("grid-style.png", "grid-style_weight.png"):
        shutil.copy(out / "report" / "img" / name, os.path.join(artefacts, "demo-" + name))

    before = sha(out / "demo.h5")
    log = demo(stylesweep, out)
    assert "already holds the finished sweep (9 runs done): reusing it" in log
    assert sha(out / "demo.h5") == before and index.exists()


def test_demo_resumes_a_partial_archive(stylesweep, tmp_path):
    out = tmp_path / "partial"
    out.mkdir()
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    sets = [x for kv in QUICK.split() for x in ("--set", kv)]
    r = subprocess.run([stylesweep, "run", "sweeps/demo.yaml", "-o", str(out / "demo.h5"), "--only", "starry",
                        "--threads", "1", "-q", *sets], capture_output=True, text=True, cwd=REPO, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    first = analysis.open(out / "demo.h5")
    assert len(first.runs) == 3
    kept = {rid: first.final(rid)[0] for rid in first.ids}
    log = demo(stylesweep, out, {"DEMO_SET": QUICK})
    assert "exists with 3 of 9 runs done: resuming it" in log
    a = analysis.open(out / "demo.h5")
    assert len(a.runs) == 9 and (a.runs["status"] == "done").all()
    for rid, img in kept.items():
        assert a.runs.loc[rid, "attempts"] == 1 and np.array_equal(a.final(rid)[0], img)
    assert (out / "report" / "index.html").exists()
