"""make_grids.py - the comparison grids of docs/study.md, one PNG per group
of the founding study's experiments (seed-study.md), from the preview's
three archives (docs/study.md, "The preview"):

    /usr/bin/python3 docs/study/make_grids.py build/study/preview.h5 \
        build/study/preview-sw100.h5 build/study/preview-sw100-noise.h5 -o docs/study

A: every experiment with the study's weights; B: the experiments that take
style_weight from the defaults, with style_weight 100; N: e01 and e20 of B
started from noise (the study's own initial image). Images are doubled
(nearest neighbour) so the labels fit under them; each PNG is reduced to
256 colours. Run from the repository root (analysis/ on the path).
"""
import argparse
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.getcwd())
import analysis  # noqa: E402
from analysis.grids import _draw  # noqa: E402

SCALE = 2


def big(img):
    return None if img is None else np.repeat(np.repeat(img, SCALE, 0), SCALE, 1)


def picture(path, size):
    im = Image.open(path).convert("RGB")
    w, h = im.size
    k = size / max(w, h)
    return np.asarray(im.resize((max(1, round(w * k)), max(1, round(h * k))), Image.LANCZOS))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("noise")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    a = analysis.open(args.a)
    b = analysis.open(args.b)
    n = analysis.open(args.noise)

    def cell(arch, rid, label):
        img, _ = arch.image(rid)
        return (big(img), label, rid)

    def p(rid, label):  # from B
        return cell(b, rid, f"{rid}: {label}")

    def pa(rid, label):  # from A
        return cell(a, rid, f"{rid}: {label}")

    content = picture("samples/content/chelsea.jpg", 96)
    style = picture("samples/style/starry_night.jpg", 96)
    groups = {
        "weights": ("style and content weight (A: the study's weights)", [
            [(big(content), "content", ""), (big(style), "style", ""),
             pa("e04", "cw 100, sw 1"), pa("e02", "cw 1, sw 0.25")],
            [pa("e01", "cw 0.25, sw 1"), pa("e03", "cw 1, sw 100"), p("e01", "B: cw 0.25, sw 100")]]),
        "tv": ("total-variation weight (B; its default 1e-9)", [
            [p("e08", "tv 1e-20"), p("e01", "tv 1e-9"), p("e07", "tv 1e-8"),
             p("e05", "tv 1e-4"), p("e06", "tv 5e-4")]]),
        "style_layers": ("style layers (B)", [
            [p("e09", "1_1 .. 5_1"), p("e10", "1_1 .. 4_1"), p("e11", "1_1 2_1 3_1"),
             p("e12", "1_1 2_1"), p("e13", "1_1")],
            [p("e14", "2_1 .. 5_1"), p("e15", "3_1 4_1 5_1"), p("e16", "4_1 5_1"),
             p("e17", "5_1")],
            [p("e18", "1_1 3_1 5_1"), p("e19", "1_1 3_1"), p("e26", "1_1 2_1 (= e12)")]]),
        "content_layer": ("content layer (B; e34 from A: cw 100, sw 1)", [
            [p("e30", "conv1_2"), p("e31", "conv2_2"), p("e32", "conv3_2"),
             p("e01", "conv4_2"), p("e33", "conv5_2"), pa("e34", "conv5_2, cw 100")]]),
        "image_size": ("image size, long side (A: the study's weights; B without 448 px)", [
            [pa("e01", "A: 96 px"), pa("e28", "A: 112 px"), pa("e29", "A: 448 px")],
            [p("e01", "B: 96 px"), p("e28", "B: 112 px")]]),
        "pool": ("pooling (B)", [[p("e01", "max"), p("e24", "avg")]]),
        "init": ("initial image (B)", [
            [cell(n, "e01", "e01: noise"), p("e25", "gray"), p("e01", "content")],
            [cell(n, "e20", "e20: noise"), p("e27", "content")]]),
        "portraits": ("other content images (B, init content)", [
            [p("e20", "astronaut"), p("e21", "coffee"), p("e22", "woman_with_hat"),
             p("e23", "the_scream")]]),
    }
    os.makedirs(args.output, exist_ok=True)
    for name, (title, rows) in groups.items():
        path = os.path.join(args.output, f"{name}.png")
        _draw(rows, title, path)
        Image.open(path).convert("RGB").quantize(256, method=Image.MEDIANCUT).save(path, optimize=True)
        print(path, os.path.getsize(path))


if __name__ == "__main__":
    main()
