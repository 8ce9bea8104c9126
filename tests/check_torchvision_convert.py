#!/usr/bin/python3
"""Check scripts/convert_torchvision.py end to end against PyTorch.

1. Builds a random torchvision-layout VGG19 state dict (features.N.weight
   (out, in, 3, 3) and features.N.bias at torchvision's indices, plus a few
   classifier.* tensors that must be ignored), saves it with torch.save,
   converts it, and compares `stylesweep eval --model vgg19 --weights
   CONVERTED.h5` with PyTorch's own float64 evaluation of the *original*
   state dict (its features.* convolutions applied in order, not the
   converted file) on the same pre-processed inputs (FILE.h5:/dataset, so
   that pre-processing is out of the loop): loss terms (relative) and the
   gradient (relative 2-norm), max and avg pooling, content conv4_2 and
   style conv1_1..conv5_1. Tolerance 1e-4 (float32 against float64).
2. The same for a VGG16 with batch normalisation (vgg16_bn layout, random
   running statistics), which the converter folds into the convolutions;
   PyTorch's reference applies batch_norm in inference mode.
3. Pre-processing: with a 64x64 PNG as the content (no resizing), eval's x
   must be torchvision's pre-processing of its pixels (RGB / 255 minus the
   ImageNet mean, divided by the std), and Caffe's (BGR minus the mean) once
   the converted file's preprocessing attribute is deleted.
4. Errors: a missing file, a file that is not a PyTorch file, a pickled
   list, another network's state dict, a VGG19 with --model vgg16, wrong
   channel counts, an existing output without --force: exit 1, one message
   "convert_torchvision: ..." on stderr, no output and no temporary file.

Run from the repository root after building:
    /usr/bin/python3 tests/check_torchvision_convert.py [--binary build/stylesweep]
Needs Debian's python3-torch (torchvision is not needed), python3-h5py and
python3-numpy; about a minute on two cores. Not a ctest test: CI has no
PyTorch. Exit status 0 when every check passes, 1 otherwise.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import h5py
import numpy as np
import torch
import torch.nn.functional as Fn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import compare_torch_eval as cte  # noqa: E402  (also imports tests/make_reference.py as mr)

mr = cte.mr
CONVERT = os.path.join(ROOT, "scripts", "convert_torchvision.py")
CFG = {"vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
       "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                 512, 512, 512, 512, "M"]}
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
TOL = 1e-4
ALL_STYLE = cte.ALL_STYLE

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def torchvision_state_dict(model, bn=False, seed=0, widths_override=None):
    """A random state dict in torchvision's VGG layout; returns (sd, [conv
    entries in order: dict(weight, bias, bn params or None)])."""
    g = torch.Generator().manual_seed(seed)
    sd, convs, i, cin = {}, [], 0, 3
    for v in CFG[model]:
        if v == "M":
            i += 1
            continue
        cout = widths_override.get(len(convs), v) if widths_override else v
        w = torch.randn(cout, cin, 3, 3, generator=g) * np.sqrt(2.0 / (9 * cin))
        b = torch.randn(cout, generator=g) * 0.1
        sd[f"features.{i}.weight"], sd[f"features.{i}.bias"] = w, b
        entry = {"weight": w, "bias": b, "bn": None}
        i += 1
        if bn:
            p = {"weight": 1 + 0.2 * torch.randn(cout, generator=g), "bias": 0.1 * torch.randn(cout, generator=g),
                 "running_mean": 0.3 * torch.randn(cout, generator=g),
                 "running_var": 0.5 + torch.rand(cout, generator=g)}
            for k, t in p.items():
                sd[f"features.{i}.{k}"] = t
            sd[f"features.{i}.num_batches_tracked"] = torch.tensor(100)
            entry["bn"] = p
            i += 1
        i += 1  # ReLU
        convs.append(entry)
        cin = cout
    # a small stand-in for the classifier (the real one is 120M parameters)
    sd["classifier.0.weight"] = torch.randn(8, 16, generator=g)
    sd["classifier.0.bias"] = torch.randn(8, generator=g)
    return sd, convs


def reference_weights(model, convs):
    """{convB_I: (W, b, bn)} in float64, from the original tensors."""
    names = mr.layer_order(model)
    assert len(names) == len(convs)
    out = {}
    for n, c in zip(names, convs):
        bn = None if c["bn"] is None else {k: v.double() for k, v in c["bn"].items()}
        out[n] = (c["weight"].double(), c["bias"].double(), bn)
    return out


def features_bn(x, weights, model, pool, wanted):
    """make_reference.features with an optional batch normalisation (in
    inference mode) between each convolution and its ReLU."""
    order = mr.layer_order(model)
    last = max(order.index(n) for n in wanted)
    out, h, block = {}, x[None], 1
    for name in order[: last + 1]:
        b = int(name[4:].split("_")[0])
        if b != block:
            h = Fn.max_pool2d(h, 2, 2) if pool == "max" else Fn.avg_pool2d(h, 2, 2)
            block = b
        w, bias, bn = weights[name]
        h = Fn.conv2d(h, w, bias, padding=1)
        if bn is not None:
            h = Fn.batch_norm(h, bn["running_mean"], bn["running_var"], bn["weight"], bn["bias"],
                              training=False, eps=1e-5)
        h = torch.relu(h)
        if name in wanted:
            out[name] = h[0]
    return out


def to_torchvision(img_caffe):
    """make_reference's images (BGR minus the Caffe mean, 0..255 scale) in
    torchvision's domain (RGB / 255 minus mean, divided by std)."""
    rgb = (img_caffe.astype(np.float64) + mr.MEAN_BGR[:, None, None])[::-1] / 255.0
    return ((rgb - MEAN[:, None, None]) / STD[:, None, None]).astype(np.float32)


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def convert(src, dst, *extra):
    return run([sys.executable, CONVERT, *extra, src, dst])


def compare_eval(binary, work, model, h5w, weights, images_np, label):
    """stylesweep eval with the converted file vs the float64 reference on the
    original weights, both poolings; prints the relative errors."""
    images = {k: torch.from_numpy(v).double() for k, v in images_np.items()}
    saved = mr.features
    mr.features = features_bn
    try:
        for pool in ("max", "avg"):
            x, margin, tries = cte.untie(images["x"], {k: v[:2] for k, v in weights.items()} if not any(
                v[2] is not None for v in weights.values()) else fold_for_margin(weights), model, pool,
                "conv5_1", seed=7 + (pool == "max"), margin=2e-6)
            x = torch.from_numpy(x.numpy().astype(np.float32)).double()
            inputs = os.path.join(work, f"in_{label}_{pool}.h5")
            cte.write_inputs(inputs, dict(images_np, x=x.numpy().astype(np.float32)))
            imgs = dict(images, x=x)
            case = mr.Case(model, pool, 1, style_layers=ALL_STYLE)
            ref = cte.reference(case, weights, imgs, x)
            ours = cte.stylesweep_eval(binary, h5w, case, inputs, os.path.join(work, f"out_{label}_{pool}.h5"), 0)
            errs = cte.compare(case, ours, ref)
            worst = max(errs.values())
            cells = "  ".join(f"{k} {v:.2e}" for k, v in errs.items())
            check(worst <= TOL, f"{label} {pool}: stylesweep eval vs PyTorch (kink margin {margin:.1e}): {cells}")
    finally:
        mr.features = saved


def fold_for_margin(weights):
    """Batch normalisation folded, for the kink screening only (the
    reference itself applies batch_norm)."""
    out = {}
    for n, (w, b, bn) in weights.items():
        s = bn["weight"] / torch.sqrt(bn["running_var"] + 1e-5)
        out[n] = (w * s[:, None, None, None], (b - bn["running_mean"]) * s + bn["bias"])
    return out


def write_png(path, rgb):
    """rgb: (H, W, 3) uint8 -> a minimal PNG (filter 0, zlib)."""
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "stylesweep"))
    ap.add_argument("--keep", metavar="DIR", help="keep the files in DIR")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        print(f"check_torchvision_convert: {a.binary} is not an executable (build first)", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cte.set_size(64)
    work = a.keep or tempfile.mkdtemp(prefix="check_tv_convert.")
    os.makedirs(work, exist_ok=True)
    try:
        images_np = {k: to_torchvision(v) for k, v in mr.make_images().items()}

        # ---- 1. VGG19
        sd, convs = torchvision_state_dict("vgg19", seed=19)
        pth, h5w = os.path.join(work, "vgg19-random.pth"), os.path.join(work, "vgg19_tv.h5")
        torch.save(sd, pth)
        r = convert(pth, h5w, "--model", "vgg19")
        check(r.returncode == 0, f"convert vgg19 (exit {r.returncode}) {r.stdout.strip()} {r.stderr.strip()}")
        with h5py.File(h5w, "r") as f:
            pp = f.attrs.get("preprocessing")
            check(pp in (b"torchvision", "torchvision"), f"preprocessing attribute is torchvision ({pp!r})")
            names = [n.decode() for n in f.attrs["layer_names"]]
            check("block5_conv4" in names and "block1_conv1" in names and len(names) == 22,
                  f"layer_names lists the 16 convolutions and 5 poolings ({len(names)} names)")
            k = f["block3_conv2"][f["block3_conv2"].attrs["weight_names"][0].decode()][()]
            want = convs[5]["weight"].numpy().transpose(2, 3, 1, 0)
            check(k.shape == (3, 3, 256, 256) and np.array_equal(k, want.astype(np.float32)),
                  f"block3_conv2 kernel is features.12.weight as (3, 3, in, out) {k.shape}")
        compare_eval(a.binary, work, "vgg19", h5w, reference_weights("vgg19", convs), images_np, "vgg19")

        # ---- 2. VGG16 with batch normalisation
        sd_bn, convs_bn = torchvision_state_dict("vgg16", bn=True, seed=16)
        pth_bn, h5_bn = os.path.join(work, "vgg16_bn-random.pth"), os.path.join(work, "vgg16_bn_tv.h5")
        torch.save(sd_bn, pth_bn)
        r = convert(pth_bn, h5_bn)
        check(r.returncode == 0 and "batch normalisation folded" in r.stdout,
              f"convert vgg16_bn (exit {r.returncode}) {r.stdout.strip()} {r.stderr.strip()}")
        compare_eval(a.binary, work, "vgg16", h5_bn, reference_weights("vgg16", convs_bn), images_np, "vgg16_bn")

        # ---- 3. pre-processing chosen from the file
        rng = np.random.default_rng(5)
        px = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
        png = os.path.join(work, "content.png")
        write_png(png, px)
        small = ["--image-size", "64", "--content-layer", "conv1_2", "--style-layers", "conv1_1", "--init", "content"]
        r = run([a.binary, "eval", "--model", "vgg19", "--weights", h5w, *small, png, png, "-o",
                 os.path.join(work, "pp_tv.h5")])
        check(r.returncode == 0, f"eval with a PNG content (exit {r.returncode}) {r.stderr.strip()}")
        if r.returncode == 0:
            with h5py.File(os.path.join(work, "pp_tv.h5"), "r") as f:
                x = f["x"][()]
            want = (px.transpose(2, 0, 1) / 255.0 - MEAN[:, None, None]) / STD[:, None, None]
            err = np.abs(x - want).max()
            check(err < 1e-5, f"x is torchvision's pre-processing of the PNG (max error {err:.1e})")
        h5_caffe = os.path.join(work, "vgg19_caffe.h5")
        shutil.copyfile(h5w, h5_caffe)
        with h5py.File(h5_caffe, "r+") as f:
            del f.attrs["preprocessing"]
        r = run([a.binary, "eval", "--model", "vgg19", "--weights", h5_caffe, *small, png, png, "-o",
                 os.path.join(work, "pp_caffe.h5")])
        if r.returncode == 0:
            with h5py.File(os.path.join(work, "pp_caffe.h5"), "r") as f:
                x = f["x"][()]
            want = px.transpose(2, 0, 1)[::-1] - mr.MEAN_BGR[:, None, None].astype(np.float64)
            err = np.abs(x - want).max()
            check(err < 1e-4, f"without the attribute, x is Caffe's pre-processing (max error {err:.1e})")
        else:
            check(False, f"eval with the attribute deleted: {r.stderr.strip()}")
        with h5py.File(h5_caffe, "r+") as f:
            f.attrs["preprocessing"] = np.bytes_(b"imagenet")
        r = run([a.binary, "eval", "--model", "vgg19", "--weights", h5_caffe, *small, png, png, "-o",
                 os.path.join(work, "pp_bad.h5")])
        check(r.returncode == 1 and "preprocessing" in r.stderr,
              f"an unknown preprocessing attribute is an error (exit {r.returncode}: {r.stderr.strip()})")

        # ---- 4. errors
        text = os.path.join(work, "text.pth")
        with open(text, "w") as f:
            f.write("not a pytorch file\n")
        lst = os.path.join(work, "list.pth")
        torch.save([1, 2, 3], lst)
        other = os.path.join(work, "resnet.pth")
        torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 512)}, other)
        narrow = os.path.join(work, "narrow.pth")
        torch.save(torchvision_state_dict("vgg19", seed=1, widths_override={0: 32})[0], narrow)
        existing = os.path.join(work, "existing.h5")
        with open(existing, "w") as f:
            f.write("keep\n")
        cases = [
            ("missing input", [os.path.join(work, "nothere.pth")], "no such file"),
            ("not a PyTorch file", [text], "not a PyTorch file"),
            ("a pickled list", [lst], "not a state dict"),
            ("another network", [other], "not a torchvision VGG state dict"),
            ("vgg19 given --model vgg16", [pth, "--model", "vgg16"], "is a vgg19"),
            ("wrong channel counts", [narrow], "needs (64, 3, 3, 3)"),
        ]
        for what, args, pattern in cases:
            out = os.path.join(work, "err_out.h5")
            src, extra = args[0], args[1:]
            r = convert(src, out, *extra)
            lines = r.stderr.strip().splitlines()
            good = (r.returncode == 1 and len(lines) == 1 and lines[0].startswith("convert_torchvision: ")
                    and pattern in lines[0] and not os.path.exists(out))
            check(good, f"error, {what}: exit {r.returncode}, {lines[-1] if lines else '(no message)'}")
        r = convert(pth, existing)
        with open(existing) as f:
            kept = f.read() == "keep\n"
        check(r.returncode == 1 and "exists" in r.stderr and kept,
              f"error, existing output without --force: exit {r.returncode}, {r.stderr.strip()}")
        r = run([sys.executable, CONVERT, "--help"])
        check(r.returncode == 0 and "torchvision" in r.stdout, "--help exits 0")
        left = [n for n in os.listdir(work) if ".tmp." in n]
        check(not left, f"no temporary files left ({left})")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("PASS" if not failures else f"FAIL: {len(failures)} checks")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
