"""test_handmade.py - the analysis package on archives written by hand
with h5py following hdf5/SCHEMA.md: a failed run, a run without snapshots,
a sweep still running, a grid over two parameters, missing image files,
reads that race a flush, and bad input."""
import math
import os

import h5py
import numpy as np
import pytest

import analysis
from analysis import grids, plots
from conftest import image, run_cli


def test_failed_and_no_snapshots(make_archive, tmp_path):
    path = make_archive([
        {"id": "ok", "status": "done"},
        {"id": "bad", "status": "failed", "n": 2, "error": "NaN loss at iteration 2", "attempts": 2,
         "params": {"tv_weight": 1e-3}},
        {"id": "nosnap", "status": "done", "snaps": [], "params": {"tv_weight": 1e-2}},
    ])
    a = analysis.open(path)
    r = a.runs
    assert list(r["status"]) == ["done", "failed", "done"]
    assert r.loc["bad", "error"] == "NaN loss at iteration 2" and r.loc["bad", "attempts"] == 2
    assert r.loc["bad", "iterations_done"] == 2 and r.loc["bad", "final_loss"] == 1000.0 / 2 + 1
    assert math.isnan(r.loc["bad", "ssim_content"])  # no final image
    assert a.final("bad") == (None, 0)
    imgs, its = a.snapshots("nosnap")
    assert imgs.shape[0] == 0 and len(its) == 0
    fin, it = a.final("nosnap")
    assert it == 4 and np.array_equal(fin, image(2 * 10 + 99))
    assert r["tv_weight"].dtype == np.float64 and a.varied() == ["tv_weight"]
    # the strip of a run without snapshots still shows its final image
    assert grids.evolution_strip(a, "nosnap", str(tmp_path / "s.png"))
    assert grids.comparison_grid(a, "tv_weight", str(tmp_path / "g.png")) == [str(tmp_path / "g.png")]
    assert plots.run_plot(a, "bad", str(tmp_path / "bad.png"))


def test_sweep_still_running(make_archive, tmp_path):
    path = make_archive([
        {"id": "a", "status": "done"},
        {"id": "b", "status": "running", "n": 2, "snaps": [1, 2], "params": {"pool": "avg"}},
        {"id": "c", "status": "pending", "params": {"pool": "avg", "init": "gray"}},
    ])
    a = analysis.open(path)
    r = a.runs
    assert list(r["status"]) == ["done", "running", "pending"]
    assert r.loc["c", "iterations_done"] == 0 and math.isnan(r.loc["c", "final_loss"])
    assert len(a.metrics("c")) == 0 and list(a.metrics("b")["iteration"]) == [1, 2]
    img, it = a.image("b")  # no final yet: the last snapshot
    assert it == 2 and np.array_equal(img, image(1 * 10 + 2))
    assert a.image("c") == (None, 0)
    # the report shows what is there and says the sweep is unfinished
    code, out, err = run_cli("report", path, "-o", tmp_path / "rep")
    assert code == 0, err
    page = (tmp_path / "rep" / "index.html").read_text()
    assert "id='unfinished'" in page and "1 running and 1 pending" in page
    assert "run 3/3: c (pending)" in err


def test_grid_over_two_parameters(make_archive, tmp_path):
    runs = []
    for i, sw in enumerate([1, 10, 100]):
        for j, pool in enumerate(["max", "avg"]):
            runs.append({"id": f"g{i}{j}", "params": {"style_weight": [sw], "pool": pool}})
    a = analysis.open(make_archive(runs))
    assert a.varied() == ["style_weight", "pool"]
    rows = a.groups("style_weight")
    assert [lab for lab, _ in rows] == ["pool=max", "pool=avg"]
    assert [list(df["style_weight"]) for _, df in rows] == [[1, 10, 100], [1, 10, 100]]
    rows = a.groups("pool")
    assert len(rows) == 3 and all(list(df["pool"]) == ["avg", "max"] for _, df in rows)
    s = a.slice("style_weight")
    assert list(s.index) == ["g00", "g10", "g20"]
    assert grids.comparison_grid(a, "pool", str(tmp_path / "pool.png")) == [str(tmp_path / "pool.png")]


def test_colour_keys(make_archive, tmp_path):
    """preserve_color mixes YAML's false with names (one text column, spelt
    as the manifest does); style_scale is real; style_masks are paths."""
    runs = []
    for i, pc in enumerate([False, "ycbcr", "luminance", "histogram"]):
        for j, scale in enumerate([1, 2.5]):
            runs.append({"id": f"c{i}{j}", "params": {"preserve_color": pc, "style_scale": scale,
                                                        "style_masks": ["m/bright.png"], "output_size": "optimised"}})
    a = analysis.open(make_archive(runs))
    assert a.varied() == ["preserve_color", "style_scale"]
    assert list(a.runs["preserve_color"])[::2] == ["false", "ycbcr", "luminance", "histogram"]
    assert a.runs["style_scale"].dtype == np.float64
    assert (a.runs["style_masks"] == "m/bright.png").all()
    rows = a.groups("preserve_color")
    assert [lab for lab, _ in rows] == ["style_scale=1", "style_scale=2.5"]
    assert grids.comparison_grid(a, "preserve_color", str(tmp_path / "pc.png")) == [str(tmp_path / "pc.png")]


def test_random_sweep_falls_back_to_one_row(make_archive):
    runs = [{"id": f"r{k}", "params": {"tv_weight": 10.0 ** -k, "seed": k}} for k in range(4)]
    a = analysis.open(make_archive(runs))
    rows = a.groups("tv_weight")
    assert len(rows) == 1 and rows[0][0] == "all runs"
    assert list(rows[0][1].index) == ["r3", "r2", "r1", "r0"]  # increasing tv_weight
    assert list(a.slice("tv_weight").index) == ["r3", "r2", "r1", "r0"]


def test_many_runs_are_paged(make_archive, tmp_path):
    runs = [{"id": f"r{k:03d}", "params": {"tv_weight": 1e-6 * (k + 1)}, "snaps": []} for k in range(60)]
    a = analysis.open(make_archive(runs))
    paths = grids.comparison_grid(a, "tv_weight", str(tmp_path / "many.png"))
    assert [os.path.basename(p) for p in paths] == ["many.png", "many-2.png"]
    from PIL import Image
    with Image.open(paths[0]) as im:  # 48 thumbnails, 8 a row: legible, not a strip miles long
        assert im.size[0] < 2000 and im.size[1] < 1400


def test_missing_image_files(make_archive):
    a = analysis.open(make_archive([
        {"id": "x", "params": {"content": "/nonexistent/c.jpg"}},
        {"id": "y", "params": {"style": ["/nonexistent/s.jpg"]}},
        {"id": "z"},
    ]))
    r = a.runs
    assert math.isnan(r.loc["x", "ssim_content"]) and np.isfinite(r.loc["x", "colour_distance_style"])
    assert np.isfinite(r.loc["y", "ssim_content"]) and math.isnan(r.loc["y", "colour_distance_style"])
    assert np.isfinite(r.loc["z", "ssim_content"])


def test_read_racing_a_flush_is_retried_once(make_archive, monkeypatch):
    a = analysis.open(make_archive([{"id": "a"}]))
    real = h5py.File
    calls = {"n": 0}

    def flaky(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("Can't read data (addr overflow)")
        return real(*args, **kw)

    monkeypatch.setattr(h5py, "File", flaky)
    assert len(a.metrics("a")) == 4 and calls["n"] == 2
    calls["n"] = -10  # keeps failing: one clear error naming the file
    monkeypatch.setattr(h5py, "File", lambda *x, **k: (_ for _ in ()).throw(OSError("addr overflow")))
    with pytest.raises(analysis.ArchiveError, match="cannot read the archive: addr overflow"):
        a.metrics("a")


def test_bad_input(make_archive, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not hdf5\n")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    newer = make_archive([{"id": "a"}], name="newer.h5", schema_version=2)
    good = make_archive([{"id": "a"}, {"id": "b", "params": {"pool": "avg"}}], name="good.h5")
    cases = [
        (["table", text], "not an HDF5 file"),
        (["table", tmp_path / "missing.h5"], "no such file"),
        (["table", other], "not a stylesweep archive"),
        (["report", newer, "-o", tmp_path / "r"], "schema_version 2 is newer than this reader understands"),
        (["plot", good, "nope"], "no run 'nope'"),
        (["grid", good, "nope", "-o", tmp_path / "g.png"], "no parameter 'nope' (varied: pool)"),
    ]
    for args, msg in cases:
        code, out, err = run_cli(*args)
        assert code == 1, (args, code, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and msg in lines[0] and lines[0].startswith("analysis: "), (args, err)
    with pytest.raises(analysis.ArchiveError, match="not an HDF5 file"):
        analysis.open(text)
    assert not (tmp_path / "r").exists() and not (tmp_path / "g.png").exists()


def test_cli(make_archive, tmp_path):
    path = make_archive([{"id": "a"}, {"id": "b", "params": {"pool": "avg"}},
                         {"id": "c", "status": "failed", "n": 1, "error": "out of memory"}])
    for sub in ("report", "table", "plot", "grid"):
        code, out, _ = run_cli(sub, "--help")
        assert code == 0 and "usage: python3 -m analysis " + sub in out
    code, out, err = run_cli("table", path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "sweep hand: 3 runs" and "pool" in lines[1] and len(lines) == 2 + 1 + 3
    code, out, err = run_cli("table", path, "--csv")
    import csv
    rows = list(csv.DictReader(out.splitlines()))
    assert [r["id"] for r in rows] == ["a", "b", "c"] and rows[2]["error"] == "out of memory"
    assert "tv_weight" in rows[0] and rows[1]["pool"] == "avg"
    png = tmp_path / "a.png"
    code, out, err = run_cli("plot", path, "a", "-o", png)
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"
    code, out, err = run_cli("plot", path, "a", "-o", png)  # never overwritten unasked
    assert code == 1 and "exists (use --force" in err
    assert run_cli("plot", path, "a", "-o", png, "--force")[0] == 0
    code, out, err = run_cli("grid", path, "pool", "-o", tmp_path / "pool.png")
    assert code == 0 and out.strip() == str(tmp_path / "pool.png")


def test_report_folder_rules(make_archive, tmp_path):
    path = make_archive([{"id": "a"}, {"id": "b", "params": {"pool": "avg"}}])
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.tex").write_text("keep me")
    code, out, err = run_cli("report", path, "-o", precious)
    assert code == 1 and "is not a stylesweep report (use --force" in err
    assert (precious / "thesis.tex").read_text() == "keep me"
    rep = tmp_path / "rep"
    assert run_cli("report", path, "-o", rep)[0] == 0
    (rep / "img" / "stale.png").write_bytes(b"x")
    code, out, err = run_cli("report", path, "-o", rep)  # an earlier report is replaced
    assert code == 0 and not (rep / "img" / "stale.png").exists() and (rep / "index.html").exists()
    assert str(rep / "index.html") in out
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    assert run_cli("report", path, "-o", precious, "--force")[0] == 0
