"""plots.py - the sweep's plots as PNG files (matplotlib, Agg backend):

- run_plot: one run's loss, time and improvement per iteration (the
  founding study's three plots) and its loss terms on a log scale;
- param_plot: for one varied parameter, the runs' loss curves overlaid
  (legend: the values), final loss and each term against the value, and the
  measures comparable across runs (SSIM to the content, colour distance to
  the style) against the value;
- tradeoff_plot: every run's final content loss against its final style
  loss, and SSIM against colour distance, in one figure.

Every function writes the PNG at `path` (under a temporary name, then
renamed) and returns the path; nothing is shown on screen.
"""
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .archive import _short, is_numeric  # noqa: E402

LOSS_UNITS = "loss (weighted sum, no unit; log scale)"
DPI = 90


def _save(fig, path):
    tmp = f"{path}.tmp-{os.getpid()}.png"
    fig.savefig(tmp, dpi=DPI)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _positive(values):
    v = np.asarray(values, dtype=np.float64)
    return v[np.isfinite(v) & (v > 0)]


def _logy(ax, values):
    if len(_positive(values)):
        ax.set_yscale("log")


def _no_data(ax, text="no iterations yet"):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")


def run_plot(archive, run_id, path):
    """Writes a 2x2 PNG for one run: loss per iteration (log), seconds per
    iteration, improvement per iteration (%), and the loss terms (content,
    style, tv and each style layer; log scale). A run without iterations
    gets empty panels saying so."""
    m = archive.metrics(run_id)
    row = archive.row(run_id)
    fig, axs = plt.subplots(2, 2, figsize=(9.6, 6.4))
    fig.suptitle(f"run {run_id} ({row['status']}, {len(m)} iterations)")
    (a, b), (c, d) = axs
    it = m["iteration"]
    a.set_title("loss per iteration")
    b.set_title("time per iteration")
    c.set_title("improvement per iteration")
    d.set_title("loss terms")
    for ax in (a, b, c, d):
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
    a.set_ylabel(LOSS_UNITS)
    b.set_ylabel("wall time (s)")
    c.set_ylabel("loss reduction from the previous iteration (%)")
    d.set_ylabel("term value (no unit; log scale)")
    if len(m) == 0:
        for ax in (a, b, c, d):
            _no_data(ax)
    else:
        a.plot(it, m["loss"], "o-", ms=3)
        _logy(a, m["loss"])
        b.plot(it, m["seconds"], "o-", ms=3, color="tab:orange")
        b.set_ylim(bottom=0)
        c.plot(it, m["improvement_percent"], "o-", ms=3, color="tab:green")
        for name, style in (("content", "-"), ("style", "-"), ("tv", "-")):
            if len(_positive(m[name])):
                d.plot(it, m[name], style, label=name, lw=2)
        for col in m.columns:
            if col.startswith("style_") and len(_positive(m[col])):
                d.plot(it, m[col], ":", label=col[len("style_"):], lw=1)
        if d.lines:
            d.set_yscale("log")
            d.legend(fontsize=7, ncol=2)
        else:
            _no_data(d, "no positive terms")
    fig.tight_layout()
    return _save(fig, path)


def _value_label(v):
    if isinstance(v, float):
        return f"{v:g}"
    return _short(v)


def _xvalues(runs, param):
    """x positions and tick labels for param's values: numbers as they are
    (log axis when all positive and spanning over 20x), else categories in
    value order."""
    col = runs[param]
    if is_numeric(col):
        x = col.astype(float).values
        pos = _positive(x)
        log = len(pos) == len(x) and len(pos) and pos.max() / pos.min() > 20
        return x, None, bool(log)
    cats = sorted({str(v) for v in col})
    index = {c: i for i, c in enumerate(cats)}
    return np.array([index[str(v)] for v in col], dtype=float), [_short(c) for c in cats], False


def param_plot(archive, param, path):
    """Writes a 2x2 PNG for one varied parameter: (1) the loss curves of
    the runs of its first comparison row (Archive.groups) overlaid, the
    legend giving the values; (2) final loss and each final term against
    the value (one line per comparison row); (3) SSIM to the content image
    and (4) colour distance to the style against the value. Numeric
    parameters get a numeric (log when wide) axis, others one position per
    value."""
    runs = archive.runs
    rows = archive.groups(param)
    fig, axs = plt.subplots(2, 2, figsize=(10.4, 7.2))
    fig.suptitle(f"{param}: {runs[param].map(_value_label).nunique()} values, "
                 f"{sum(len(df) for _, df in rows)} runs compared")
    (a, b), (c, d) = axs
    label0, df0 = rows[0]
    a.set_title(f"loss per iteration ({label0})")
    a.set_xlabel("iteration")
    a.xaxis.set_major_locator(MaxNLocator(integer=True))
    a.set_ylabel(LOSS_UNITS)
    cmap = plt.get_cmap("viridis")
    n = len(df0)
    for k, rid in enumerate(df0.index):
        m = archive.metrics(rid)
        if len(m):
            a.plot(m["iteration"], m["loss"], "-", color=cmap(k / max(1, n - 1) * 0.9),
                   label=f"{param}={_value_label(df0.loc[rid, param])}")
    if a.lines:
        _logy(a, np.concatenate([ln.get_ydata() for ln in a.lines]))
        if len(a.lines) <= 12:
            a.legend(fontsize=7)
    else:
        _no_data(a)
    a.grid(True, alpha=0.3)

    panels = ((b, [("final_loss", "loss"), ("final_content", "content"), ("final_style", "style"),
                   ("final_tv", "tv")], "final loss and terms", "value (no unit; log scale)", True),
              (c, [("ssim_content", "SSIM")], "SSIM to the content image",
               "SSIM (0..1, 1 = content structure kept)", False),
              (d, [("colour_distance_style", "colour distance")], "colour distance to the style",
               "mean RGB earth mover's distance (0..255)", False))
    for ax, cols, title, ylabel, logy in panels:
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        ax.set_xlabel(param)
        ax.grid(True, alpha=0.3)
        ticks, log = None, False
        for r, (label, df) in enumerate(rows[:8]):
            x, ticks, log = _xvalues(df, param)
            for j, (col, name) in enumerate(cols):
                y = df[col].astype(float).values
                ok = np.isfinite(y) & (y > 0 if logy else True)
                if not ok.any():
                    continue
                lab = name if len(rows) == 1 else (f"{name}, {label}" if len(cols) > 1 else label)
                ax.plot(x[ok], y[ok], "o-", color=f"C{j if len(cols) > 1 else r}",
                        alpha=1.0 if r == 0 else 0.5, label=lab if (r == 0 or len(cols) == 1) else None)
        if not ax.lines:
            _no_data(ax, "no final images" if not logy else "no final values")
            continue
        if logy:
            _logy(ax, np.concatenate([ln.get_ydata() for ln in ax.lines]))
        _xaxis(ax, runs, param)
        if len(ax.lines) > 1 and len(ax.lines) <= 12:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _xaxis(ax, runs, param):
    x, ticks, log = _xvalues(runs, param)
    if ticks is not None:
        ax.set_xticks(range(len(ticks)))
        ax.set_xticklabels(ticks, rotation=20 if max(len(t) for t in ticks) > 8 else 0, fontsize=8)
        ax.set_xlim(-0.5, len(ticks) - 0.5)
    elif log:
        ax.set_xscale("log")


def tradeoff_plot(archive, path):
    """Writes the whole sweep's trade-off PNG: final content loss against
    final style loss of every run with iterations (log-log), and SSIM to the
    content against colour distance to the style (the same trade-off in
    measures comparable across runs); points labelled with run ids when
    there are at most 40."""
    runs = archive.runs
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.8))
    fig.suptitle(f"content/style trade-off of sweep {archive.sweep} ({len(runs)} runs)")
    for ax, xc, yc, xl, yl, log in (
            (a, "final_style", "final_content", "final style loss (no unit; log scale)",
             "final content loss (no unit; log scale)", True),
            (b, "colour_distance_style", "ssim_content",
             "colour distance to the style (0..255; lower: more style colour)",
             "SSIM to the content (0..1; higher: more content kept)", False)):
        x = runs[xc].astype(float).values
        y = runs[yc].astype(float).values
        ok = np.isfinite(x) & np.isfinite(y)
        if log:
            ok &= (x > 0) & (y > 0)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.grid(True, alpha=0.3)
        if not ok.any():
            _no_data(ax, "no runs with values yet")
            continue
        ax.scatter(x[ok], y[ok], s=24, c=np.arange(ok.sum()), cmap="viridis")
        if log:
            ax.set_xscale("log")
            ax.set_yscale("log")
        if ok.sum() <= 40:
            for rid, xi, yi in zip(runs.index[ok], x[ok], y[ok]):
                ax.annotate(rid, (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
    a.set_title("loss terms (depend on each run's weights)")
    b.set_title("measures comparable across runs")
    fig.tight_layout()
    return _save(fig, path)


def finite(v):
    """Whether v is a finite number."""
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
