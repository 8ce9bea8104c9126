#!/usr/bin/python3
"""Make the masks of the masked demo runs (sweeps/colour.yaml) from a sample
photograph: the content's luma, blurred, split at its median into a white
"bright" mask and its complement "dark" (8-bit grayscale PNGs at the
photograph's size). With one mask per style image (style_masks), each style
paints only where its mask is white (>= 128); a colour mask (color_mask)
keeps the content's colours only there.

usage: /usr/bin/python3 scripts/make_masks.py [CONTENT [OUTDIR]]
       (default: samples/content/chelsea.jpg into samples/masks/)
Needs Debian's python3-pil and python3-numpy. Deterministic: the same input
gives the same files.
"""
import os
import sys

import numpy as np
from PIL import Image, ImageFilter


def main():
    content = sys.argv[1] if len(sys.argv) > 1 else "samples/content/chelsea.jpg"
    out = sys.argv[2] if len(sys.argv) > 2 else "samples/masks"
    os.makedirs(out, exist_ok=True)
    img = Image.open(content).convert("L").filter(ImageFilter.GaussianBlur(radius=12))
    y = np.asarray(img, dtype=np.float64)
    bright = y > np.median(y)
    stem = os.path.splitext(os.path.basename(content))[0]
    for name, m in (("bright", bright), ("dark", ~bright)):
        path = os.path.join(out, f"{stem}_{name}.png")
        Image.fromarray(np.where(m, 255, 0).astype(np.uint8), mode="L").save(path, optimize=True)
        print(f"{path}: {m.mean() * 100:.0f}% white")
    return 0


if __name__ == "__main__":
    sys.exit(main())
