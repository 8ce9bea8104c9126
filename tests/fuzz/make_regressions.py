#!/usr/bin/env python3
"""make_regressions.py - writes the regression inputs of tests/fuzz/regressions/
(the inputs that once crashed, hung or exhausted the release binary), so that
each is reproducible from this script. Run from the repository root:
    python3 tests/fuzz/make_regressions.py
Needs h5py and numpy for the weights files."""
import io
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions")


def write(kind, name, data):
    d = os.path.join(OUT, kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def images():
    # a 28-byte RLE TGA declaring 12,807 x 16,559 pixels
    tga = struct.pack("<BBBHHBHHHHBB", 0, 0, 10, 0, 0, 0, 0, 0, 12807, 16559, 24, 0) + b"\x80\x10\x20\x30" + b"\0" * 6
    write("image", "tga_huge_declared.tga", tga[:28])
    # a TGA within the pixel budget whose pixel data is missing (8000 x 8000, 30 bytes)
    tga = struct.pack("<BBBHHBHHHHBB", 0, 0, 2, 0, 0, 0, 0, 0, 8000, 8000, 24, 0) + b"\x10" * 12
    write("image", "tga_truncated.tga", tga)
    # a 249-byte GIF declaring 14,649 x 14,649 pixels
    gif = b"GIF89a" + struct.pack("<HHBBB", 14649, 14649, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    gif += b"\x2c" + struct.pack("<HHHHB", 0, 0, 14649, 14649, 0) + b"\x02"
    body = bytes([(i * 37) & 0xFF for i in range(249 - len(gif) - 2)])
    gif += bytes([len(body) - 1]) + body[:-1] + b"\0" + b"\x3b"
    write("image", "gif_huge_declared.gif", gif[:249])
    # a GIF within the budget (8000 x 8000) of 100 bytes
    gif = b"GIF89a" + struct.pack("<HHBBB", 8000, 8000, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    gif += b"\x2c" + struct.pack("<HHHHB", 0, 0, 8000, 8000, 0) + b"\x02\x10" + b"\x84" * 16 + b"\0\x3b"
    write("image", "gif_truncated.gif", gif)
    # a 17-byte 16-bit PNM (stb_image 2.27 reads past its buffer converting it)
    write("image", "pnm_16bit.ppm", b"P6\n2 1\n65535\n\x01\x02\x03")
    # a 16-bit PGM large enough to be read
    write("image", "pgm_16bit.pgm", b"P5 4 4 65535\n" + bytes(range(32)))
    # a PNM whose pixels are missing
    write("image", "pnm_truncated.ppm", b"P6\n4000 4000\n255\n\x01\x02\x03")
    # a JPEG whose Huffman table declares more than 256 codes (stb_image
    # 2.27 writes past its table)
    dht = b"\x00" + bytes([0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 0, 0, 0, 0, 0, 0]) + bytes(range(256)) * 2
    dht = dht[:17 + 300]
    jpg = b"\xff\xd8" + b"\xff\xc4" + struct.pack(">H", len(dht) + 2) + dht
    jpg += b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 8, 1) + b"\x01\x11\x00" + b"\xff\xd9"
    write("image", "jpeg_dht_overflow.jpg", jpg)
    # a JPEG whose code lengths do not fit (3 codes of 1 bit)
    dht = b"\x10" + bytes([3] + [0] * 15) + b"\x01\x02\x03"
    jpg = b"\xff\xd8" + b"\xff\xc4" + struct.pack(">H", len(dht) + 2) + dht
    jpg += b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 8, 8, 1) + b"\x01\x11\x00" + b"\xff\xd9"
    write("image", "jpeg_dht_lengths.jpg", jpg)
    # a BMP declaring 8000 x 8000 24-bit pixels in 60 bytes
    bmp = b"BM" + struct.pack("<IHHI", 60, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 8000, 8000, 1, 24, 0, 0, 0, 0, 0, 0)
    write("image", "bmp_truncated.bmp", bmp + b"\0" * 6)


def weights_file(path, kernel_shape=None, groups=("block1_conv1",)):
    """A VGG16 weights file in the Keras layout of tests/data/ref_vgg16_div8.h5,
    its attributes as variable-length strings (as h5py 3 writes them);
    kernel_shape: block1_conv1's kernel declared with that shape, no data;
    groups: the layer groups stored (all of them listed in layer_names; the
    reader stops at the first missing one), None for all."""
    import h5py
    import numpy as np
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..", "data", "ref_vgg16_div8.h5")
    vlen = h5py.string_dtype()
    with h5py.File(src, "r") as f, h5py.File(path, "w") as o:
        names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["layer_names"]]
        o.attrs["layer_names"] = np.array(names, dtype=vlen)
        for n in names:
            if groups is not None and n not in groups:
                continue
            g, og = f[n], o.create_group(n)
            wn = [x.decode() if isinstance(x, bytes) else x for x in g.attrs["weight_names"]]
            og.attrs["weight_names"] = np.array(wn, dtype=vlen)
            for i, k in enumerate(wn):
                if kernel_shape and n == "block1_conv1" and i == 0:
                    og.create_dataset(k, shape=kernel_shape, dtype="f4", chunks=(3, 3, 3, 1024))
                else:
                    og.create_dataset(k, data=g[k][()])


def weights():
    import tempfile
    d = os.path.join(OUT, "weights")
    os.makedirs(d, exist_ok=True)
    # a small file declaring a 7.1 GB kernel (nothing stored: read as zeros)
    weights_file(os.path.join(d, "kernel_7GB_declared.h5"), (3, 3, 3, 66000000))
    # one changed byte in the global heap of the attribute strings: libhdf5
    # 1.10.8 crashes or hangs in H5Aexists / H5HG_read (FLIPS: offsets whose
    # byte is inverted)
    with tempfile.TemporaryDirectory() as t:
        good = os.path.join(t, "good.h5")
        weights_file(good)
        data = open(good, "rb").read()
    heap = data.find(b"GCOL")
    for off in FLIPS:
        b = bytearray(data)
        b[heap + off] ^= 0xFF
        write("weights", f"gheap_flip_{off}.h5", bytes(b))


# byte changes in the global heap (offsets from its "GCOL" signature) that
# crash or hang libhdf5 1.10.8 when the weights are read
FLIPS = [24, 56]


def manifests():
    # 8 axes of 256 values: 2^64 runs (the run count overflowed: "0 runs")
    axes = {"tv_weight": "%d.0e-6", "style_weight": "%d.5", "content_weight": "%d.25", "learning_rate": "%d.0",
            "seed": "%d", "iterations": "%d", "evals_per_iteration": "%d", "image_size": "1%03d"}
    text = ("sweep: big\ndefaults: {content: ../../../../samples/content/chelsea.jpg, "
            "style: [../../../../samples/style/starry_night.jpg], weights: random}\ngrid:\n")
    for log2 in (64, 63):  # 2^63 failed with "0 errors"
        grid = text
        for i, (a, fmt) in enumerate(axes.items()):
            n = 128 if log2 == 63 and i == 0 else 256
            grid += "  %s: [%s]\n" % (a, ", ".join(fmt % (v + 1) for v in range(n)))
        write("manifest", "grid_2_%d.yaml" % log2, grid.encode())
    # nested aliases: 535 bytes that expanded to 1.5 GB
    text = "sweep: laughs\na0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 10):
        text += "a%d: &a%d [%s]\n" % (i, i, ", ".join("*a%d" % (i - 1) for _ in range(9)))
    text += "experiments:\n  - {id: a, style: *a9}\n"
    write("manifest", "aliases_nested.yaml", text.encode())
    # two bytes libfyaml 0.7.12 loops forever on
    write("manifest", "directive_hang.yaml", b"%\xa7")


def main():
    images()
    manifests()
    if len(sys.argv) > 1 and sys.argv[1] == "--images-only":
        return
    weights()


if __name__ == "__main__":
    main()
