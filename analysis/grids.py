"""grids.py - image grids as PNG files (matplotlib, Agg backend):

- evolution_strip: one run's snapshots in iteration order, each labelled
  with its iteration (rows of at most 10);
- comparison_grid: for one parameter, the runs' final images side by side in
  value order with the value under each, one row per comparison row of
  Archive.groups (the row's other parameter values on its left); long rows
  wrap at 8 images and pages hold at most 48 images, so 2 runs and 200 runs
  both stay legible.

Images are shown at their own size between 96 and 192 pixels on the long
side (smaller ones enlarged with nearest-neighbour, larger ones reduced).
Files are written under a temporary name and renamed.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .plots import _save, _value_label  # noqa: E402

MAX_COLS = 8
PER_PAGE = 48
STRIP_COLS = 10
DPI = 100


def _cell_inches(images):
    sizes = [max(im.shape[:2]) for im in images if im is not None]
    px = min(192, max(96, max(sizes) if sizes else 96))
    shapes = [im.shape[:2] for im in images if im is not None]
    aspect = (shapes[0][0] / shapes[0][1]) if shapes else 1.0  # height / width
    w = px / DPI if aspect <= 1 else px / aspect / DPI
    return w, w * aspect


def _draw(cells, title, path, row_labels=None):
    """cells: list of visual rows, each a list of (image or None, label,
    note); writes the figure."""
    ncols = max(len(r) for r in cells)
    imgs = [c[0] for r in cells for c in r]
    cw, ch = _cell_inches(imgs)
    lines = [ln for lab in (row_labels or []) for ln in lab.split(", ") if lab]
    left = 0.3 + 0.065 * max(len(ln) for ln in lines) if lines else 0.2
    fw = left + ncols * (cw + 0.15) + 0.2
    fh = 0.6 + len(cells) * (ch + 0.45)
    fig = plt.figure(figsize=(max(fw, 3.2), fh))
    fig.suptitle(title, fontsize=10, y=1 - 0.25 / fh)
    for r, row in enumerate(cells):
        for c, (img, label, note) in enumerate(row):
            x0 = (left + c * (cw + 0.15)) / fw
            y0 = 1 - (0.6 + (r + 1) * (ch + 0.45) - 0.45) / fh
            ax = fig.add_axes([x0, y0, cw / fw, ch / fh])
            ax.set_xticks([])
            ax.set_yticks([])
            if img is not None:
                interp = "nearest" if max(img.shape[:2]) < cw * DPI else "antialiased"
                ax.imshow(img, interpolation=interp, aspect="auto")
            else:
                ax.set_facecolor("#dddddd")
                ax.text(0.5, 0.5, note or "no image", ha="center", va="center", fontsize=8,
                        transform=ax.transAxes, color="#444444", wrap=True)
            ax.set_xlabel(label, fontsize=8, labelpad=2)
            if c == 0 and row_labels and row_labels[r]:
                ax.set_ylabel(row_labels[r].replace(", ", "\n"), fontsize=8, rotation=0, ha="right",
                              va="center", labelpad=4)
    return _save(fig, path)


def evolution_strip(archive, run_id, path):
    """Writes the run's snapshots as a strip (rows of 10) labelled
    'iteration N', followed by the final image when it is not the last
    snapshot; returns path, or None when the run has no images."""
    imgs, its = archive.snapshots(run_id)
    cells = [(imgs[k], f"iteration {int(its[k])}", "") for k in range(len(imgs))]
    fin, fit = archive.final(run_id)
    if fin is not None and (not len(its) or int(its[-1]) != fit
                            or not np.array_equal(fin, imgs[-1])):
        cells.append((fin, f"final ({fit})", ""))
    if not cells:
        return None
    rows = [cells[k:k + STRIP_COLS] for k in range(0, len(cells), STRIP_COLS)]
    row = archive.row(run_id)
    return _draw(rows, f"run {run_id} ({row['status']}): the image after each iteration shown", path)


def page_paths(path, n_pages):
    """The file names of a grid's pages: path, then path with -2, -3 ...
    before its extension."""
    stem, ext = os.path.splitext(path)
    return [path] + [f"{stem}-{k}{ext or '.png'}" for k in range(2, n_pages + 1)]


def comparison_grid(archive, param, path, per_page=PER_PAGE, max_cols=MAX_COLS):
    """Writes the comparison grid of `param` (final image of each run, or
    its last snapshot while it runs; a gray cell naming the status when it
    has none) and returns the list of PNG paths written: `path` and, when
    more than `per_page` images, further pages (page_paths). Raises
    ArchiveError for an unknown parameter."""
    groups = archive.groups(param)
    vrows, vlabels = [], []
    for label, df in groups:
        cells = []
        for rid in df.index:
            img, it = archive.image(rid)
            st = df.loc[rid, "status"]
            value = _value_label(df.loc[rid, param])
            if param in ("content", "style"):
                value = os.path.basename(str(df.loc[rid, param]))
            note = f"{rid}: {st}"
            lab = f"{param}={value}" if img is None or st == "done" else f"{param}={value} ({st}, it. {it})"
            cells.append((img, lab, note))
        for k in range(0, len(cells), max_cols):
            vrows.append(cells[k:k + max_cols])
            vlabels.append(label if k == 0 and len(groups) > 1 else "")
    pages, cur, curl, count = [], [], [], 0
    for row, lab in zip(vrows, vlabels):
        if cur and count + len(row) > per_page:
            pages.append((cur, curl))
            cur, curl, count = [], [], 0
        cur.append(row)
        curl.append(lab)
        count += len(row)
    if cur:
        pages.append((cur, curl))
    paths = page_paths(path, len(pages))
    n_img = sum(len(r) for r in vrows)
    for k, ((rows, labels), p) in enumerate(zip(pages, paths)):
        title = f"final images by {param} ({n_img} runs)"
        if len(pages) > 1:
            title += f", page {k + 1} of {len(pages)}"
        _draw(rows, title, p, labels)
    return paths
