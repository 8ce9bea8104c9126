"""measures.py - measures of a final image that do not depend on the run's
own loss weights or normalisations, so they compare across runs:

- ssim_content: structural similarity (skimage's SSIM on luminance, 0..1,
  1 = the content's structure intact) between the run's final image and its
  content image resized to the final image's size;
- colour_distance_style: the colour-distribution distance to the style
  image(s): for each of R, G and B the earth mover's (1-D Wasserstein)
  distance between the histograms of the final image and of all the run's
  style images' pixels pooled together, in 0..255 units, averaged over the
  three channels (0 = the style's colour distribution exactly; lower is
  closer to the style's palette).

The image paths are those recorded in the run's parameters; a file that
cannot be found or read gives NaN (and one note on stderr per file).
"""
import os
import sys

import numpy as np
import pandas as pd

_NOTED = set()
_CACHE = {}
STYLE_SAMPLE = 256  # style images are reduced to this long side for their histogram


def resolve(path, archive_path):
    """The recorded image path as a readable file: as is (absolute, or from
    the current folder), else relative to the archive's folder or one of
    its three parents; None when none exists or the path is a
    FILE.h5:/dataset array."""
    if not path or ".h5:" in path or ".hdf5:" in path:
        return None
    if os.path.isfile(path):
        return path
    if not os.path.isabs(path):
        d = os.path.dirname(os.path.abspath(archive_path))
        for _ in range(4):
            cand = os.path.join(d, path)
            if os.path.isfile(cand):
                return cand
            d = os.path.dirname(d)
    return None


def _note(msg):
    if msg not in _NOTED:
        _NOTED.add(msg)
        print(f"analysis: {msg}", file=sys.stderr)


def load_image(path, archive_path, size=None):
    """RGB uint8 (H, W, 3) of a recorded image path, resized to size
    (width, height) when given; None (with one note on stderr) when the
    file is missing or unreadable."""
    real = resolve(path, archive_path)
    if real is None:
        _note(f"{path}: image not found (measures for it are NaN)")
        return None
    key = (real, size)
    if key not in _CACHE:
        from PIL import Image
        try:
            with Image.open(real) as im:
                im = im.convert("RGB")
                if size is not None and im.size != size:
                    im = im.resize(size, Image.BILINEAR)
                _CACHE[key] = np.asarray(im, dtype=np.uint8)
        except (OSError, ValueError) as e:
            _note(f"{path}: cannot read the image ({e}); measures for it are NaN")
            _CACHE[key] = None
    return _CACHE[key]


def ssim(a, b):
    """SSIM of two RGB uint8 images of one size, on luminance in 0..1."""
    from skimage.metrics import structural_similarity
    ga = a.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
    gb = b.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / 255.0
    win = min(7, min(ga.shape))
    if win % 2 == 0:
        win -= 1
    if win < 3:
        return float("nan")
    return float(structural_similarity(ga, gb, data_range=1.0, win_size=win))


def colour_distance(img, refs):
    """Mean over R, G, B of the earth mover's distance (0..255 units)
    between the value histograms of img and of the pooled pixels of the
    images refs (a list of RGB uint8 arrays)."""
    total = 0.0
    for c in range(3):
        h1 = np.bincount(img[..., c].ravel(), minlength=256).astype(np.float64)
        h2 = sum(np.bincount(r[..., c].ravel(), minlength=256).astype(np.float64) for r in refs)
        c1 = np.cumsum(h1 / h1.sum())
        c2 = np.cumsum(h2 / h2.sum())
        total += float(np.abs(c1 - c2).sum())
    return total / 3.0


def _style_refs(archive, run_id):
    refs = []
    for p in archive.style_paths(run_id):
        img = load_image(p, archive.path)
        if img is None:
            return None
        h, w = img.shape[:2]
        step = max(1, max(h, w) // STYLE_SAMPLE)
        refs.append(img[::step, ::step])
    return refs or None


def run_measures(archive, run_id, image=None):
    """{'ssim_content': float, 'colour_distance_style': float} for the
    run's final image (or `image` when given); NaN where the image or the
    content/style files are missing."""
    if image is None:
        image, _ = archive.final(run_id)
    out = {"ssim_content": float("nan"), "colour_distance_style": float("nan")}
    if image is None:
        return out
    h, w = image.shape[:2]
    content = load_image(archive.content_path(run_id), archive.path, (w, h))
    if content is not None:
        out["ssim_content"] = ssim(image, content)
    refs = _style_refs(archive, run_id)
    if refs is not None:
        out["colour_distance_style"] = colour_distance(image, refs)
    return out


def content_baseline(archive, run_id):
    """The colour distance of the run's content image itself to its
    style(s): what colour_distance_style would be with no style moved (NaN
    when a file is missing)."""
    refs = _style_refs(archive, run_id)
    content = load_image(archive.content_path(run_id), archive.path)
    if refs is None or content is None:
        return float("nan")
    return colour_distance(content, refs)


def archive_measures(archive):
    """DataFrame (index: run id) with ssim_content and
    colour_distance_style of every run (NaN without a final image)."""
    recs = [run_measures(archive, rid) for rid in archive.ids]
    return pd.DataFrame.from_records(recs, index=archive.ids,
                                     columns=["ssim_content", "colour_distance_style"])
