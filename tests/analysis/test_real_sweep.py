"""test_real_sweep.py - the analysis package on an archive written by a
tiny real sweep (conftest.real_archive: 2 style weights x 2 poolings),
checked against the archive read with h5py alone (hdf5/SCHEMA.md)."""
import h5py
import numpy as np
import pandas as pd

import analysis
from analysis import grids, plots


def test_runs_table(real_archive):
    a = analysis.open(real_archive)
    runs = a.runs
    assert list(runs["id"]) == ["run-g001", "run-g002", "run-g003", "run-g004"]
    assert (runs["status"] == "done").all() and (runs["attempts"] == 1).all()
    # every parameter is its own typed column
    for p in ("content", "style", "model", "image_size", "iterations", "style_weight", "pool", "tv_weight",
              "style_layers", "init", "preserve_color", "snapshots"):
        assert p in runs.columns, p
    assert runs["image_size"].dtype == np.int64 and (runs["image_size"] == 32).all()
    assert runs["style_weight"].dtype == np.float64
    assert list(runs["style_weight"]) == [1.0, 1.0, 100.0, 100.0]
    assert list(runs["pool"]) == ["max", "avg", "max", "avg"]
    assert runs["preserve_color"].dtype == bool
    assert runs["style_layers"].iloc[0] == "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1"
    assert (runs["weights"] == "random").all() and runs["weights_used"].str.startswith("random").all()
    assert (runs["iterations_done"] == 3).all()
    assert (runs["backend"] == "cpu").all() and (runs["host"] != "").all()
    with h5py.File(real_archive, "r") as f:
        for rid in runs.index:
            m = f["runs"][rid]["metrics"][:]
            assert runs.loc[rid, "final_loss"] == m["loss"][-1]
            assert runs.loc[rid, "final_style"] == m["style"][-1]
            assert runs.loc[rid, "final_content"] == m["content"][-1]
            assert np.isclose(runs.loc[rid, "seconds"], m["seconds"].sum())
    assert a.varied() == ["style_weight", "pool"]


def test_metrics_snapshots_final(real_archive):
    a = analysis.open(real_archive)
    m = a.metrics("run-g002")
    assert list(m["iteration"]) == [1, 2, 3]
    assert {"loss", "content", "style", "tv", "evaluations", "seconds", "improvement_percent",
            "elapsed"} <= set(m.columns)
    layers = [c for c in m.columns if c.startswith("style_")]
    assert layers == ["style_conv1_1", "style_conv2_1", "style_conv3_1", "style_conv4_1", "style_conv5_1"]
    assert np.allclose(m["elapsed"], np.cumsum(m["seconds"]))
    with h5py.File(real_archive, "r") as f:
        g = f["runs"]["run-g002"]
        assert np.array_equal(m[layers].values, g["style_layers"][:])
        imgs, its = a.snapshots("run-g002")
        assert list(its) == list(g["snapshot_iterations"][:]) == [1, 2, 3]
        assert np.array_equal(imgs, g["snapshots"][:])
        fin, it = a.final("run-g002")
        assert it == 3 and np.array_equal(fin, g["final"][:])
    assert imgs.dtype == np.uint8 and imgs.shape[0] == 3 and imgs.shape[-1] == 3


def test_measures(real_archive):
    a = analysis.open(real_archive)
    runs = a.runs
    # initialised with the content and 3 short iterations: the structure is
    # almost all there, the colours not yet the style's
    assert runs["ssim_content"].between(0.5, 1.0).all()
    assert runs["colour_distance_style"].between(1, 255).all()
    # the content image against itself scores 1 / 0
    from analysis import measures
    img = measures.load_image(a.content_path("run-g001"), a.path, (32, 21))
    assert abs(measures.ssim(img, img) - 1.0) < 1e-9
    assert measures.colour_distance(img, [img]) == 0.0
    assert measures.colour_distance(np.zeros((4, 4, 3), np.uint8), [np.full((4, 4, 3), 255, np.uint8)]) == 255.0


def test_slice_and_groups(real_archive):
    a = analysis.open(real_archive)
    d = a.defaults()
    assert d["style_weight"] == 1 and d["pool"] == "max"
    s = a.slice("pool")
    assert list(s.index) == ["run-g002", "run-g001"]  # avg, max: value order
    s = a.slice("style_weight")
    assert list(s.index) == ["run-g001", "run-g003"]
    rows = a.groups("style_weight")
    assert [label for label, _ in rows] == ["pool=max", "pool=avg"]
    assert [list(df.index) for _, df in rows] == [["run-g001", "run-g003"], ["run-g002", "run-g004"]]


def test_pictures(real_archive, tmp_path):
    a = analysis.open(real_archive)
    p = plots.run_plot(a, "run-g001", str(tmp_path / "run.png"))
    assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    strip = grids.evolution_strip(a, "run-g001", str(tmp_path / "strip.png"))
    paths = grids.comparison_grid(a, "pool", str(tmp_path / "grid.png"))
    assert paths == [str(tmp_path / "grid.png")]
    for p in (strip, paths[0], plots.param_plot(a, "pool", str(tmp_path / "param.png")),
              plots.tradeoff_plot(a, str(tmp_path / "trade.png"))):
        from PIL import Image
        with Image.open(p) as im:
            assert im.size[0] > 100 and im.size[1] > 100
    assert not [x for x in tmp_path.iterdir() if ".tmp-" in x.name]


def test_runs_prints_one_column_per_parameter(real_archive):
    a = analysis.open(real_archive)
    with pd.option_context("display.max_columns", None, "display.width", 10000):
        text = str(a.runs)
    header = text.splitlines()[0].split()
    for p in a.param_names:
        assert p in header, p
