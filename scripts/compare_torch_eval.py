#!/usr/bin/python3
"""Check `stylesweep eval` against PyTorch at full width.

For VGG16 and VGG19 with their real channel counts (random He-normal weights,
seeded, written to a temporary Keras-layout file), a 64 px image, content
layer conv4_2 and the style layers conv1_1..conv5_1 (the network through
conv5_1), every content_loss_type (0, 1, 2) and both poolings (max, avg):
runs `stylesweep eval` on pre-processed inputs given as FILE.h5:/dataset (so
that image decoding and pre-processing are out of the loop), computes the
same loss and its gradient with PyTorch in float64 by the formulas of
src/net.c (listed in tests/data/README.md), and prints per case the relative errors:
of the total, the content term, the worst style layer's term and the TV
term (|ours - ref| / |ref|), and of the gradient (||ours - ref||_2 /
||ref||_2). Exits 1 if any exceeds --tol (default 1e-4), 0 otherwise.

The gradient of a ReLU network has kinks: where a pre-activation is within
float32 rounding of zero (or two values of a max-pool window tie), the
float32 program may take the other branch than the float64 reference, and
one such unit moved the gradient of VGG16 by ~1e-3 (a correct result). So
the input x is perturbed slightly (seeded, deterministic) until every
pre-activation and max-pool gap is at least --kink-margin (2e-6) of its
layer's rms; the margin is printed per network.

The reference formulas, weights layout and test images are those of
tests/make_reference.py (imported, with its channel divisor set to 1). As
there, the term weights of each case are chosen so that the gradients of
the content, style and TV terms have similar norms (none hides the others).

With --backend cuda,cpu (a comma-separated list) every case is evaluated
by each backend against the same float64 reference, and the first backend is
also compared with each other one (row "cuda vs cpu": the same relative
errors, the second backend as the reference): the device check's full-width
comparison of the CUDA backend (tests/gpu/check.sh). --pools and
--content-types pick a subset of the cases.

usage:  /usr/bin/python3 scripts/compare_torch_eval.py [--binary build/stylesweep]
            [--models vgg16,vgg19] [--size 64] [--tol 1e-4] [--threads N] [--keep DIR]
            [--backend cpu|cuda|cuda,cpu] [--pools max,avg] [--content-types 0,1,2]
Needs Debian's python3-torch, python3-h5py and python3-numpy (or any Python
with torch, h5py and numpy) and a built stylesweep; takes about a minute on
two cores. Not a ctest test (CI has no PyTorch).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import make_reference as mr  # noqa: E402

mr.DIV = 1  # the real channel counts: 64, 128, 256, 512, 512
mr.COMPRESS = {}  # uncompressed weights: written fast (temporary files)
ALL_STYLE = "conv1_1,conv2_1,conv3_1,conv4_1,conv5_1"
HE_SEEDS = {"vgg16": 16, "vgg19": 19}


def set_size(size):
    mr.SIZE = size


def write_inputs(path, images):
    """images: {name: (3, H, W) float32} -> datasets of one HDF5 file."""
    with h5py.File(path, "w") as f:
        for k, v in images.items():
            f.create_dataset(k, data=np.ascontiguousarray(v, dtype=np.float32))


def stylesweep_eval(binary, weights, case, inputs, out, threads, extra=()):
    """Runs `stylesweep eval` for case on the datasets of inputs; returns
    (total, content, [style per layer], tv, grad (3, H, W) float64)."""
    cmd = [binary, "eval", "--force", "--model", case.model, "--weights", weights, "--pool", case.pool,
           "--content-loss-type", str(case.ctype), "--content-layer", case.content_layer,
           "--style-layers", ",".join(case.style_layers), "--style-norm", case.style_norm,
           "--content-weight", repr(case.content_weight),
           "--style-weight", ",".join(repr(s) for s in case.style_weight),
           "--tv-weight", repr(case.tv_weight), "--tv-power", repr(case.tv_power),
           "--threads", str(threads), *extra,
           f"{inputs}:/content", *[f"{inputs}:/{s}" for s in case.styles], "--x", f"{inputs}:/x", "-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"stylesweep eval failed (exit {r.returncode}): {r.stderr.strip()}\n  {' '.join(cmd)}")
    with h5py.File(out, "r") as f:
        return (float(f["loss"][()]), float(f["content_loss"][()]), [float(v) for v in f["style_loss"][()]],
                float(f["tv_loss"][()]), f["grad"][()].astype(np.float64), f.attrs.get("weights"))


def kink_margin(x, weights, model, pool, deepest):
    """How far x is from the kinks of the network's gradient, relative to
    each layer's rms pre-activation: the smallest |pre-activation| of a ReLU
    and, with max pooling, the smallest gap between a window's largest and
    second largest (positive) value. At a kink the float32 gradient may take
    the other branch: one ReLU unit of VGG16 at 1e-7 of the rms flipped that
    way moves the gradient by ~1e-3."""
    import torch.nn.functional as Fn
    order = mr.layer_order(model)
    worst = float("inf")
    with torch.no_grad():
        h, block = x[None], 1
        for name in order[: order.index(deepest) + 1]:
            b = int(name[4:].split("_")[0])
            if b != block:
                if pool == "max":
                    n, c, hh, ww = h.shape
                    win = h[:, :, : hh // 2 * 2, : ww // 2 * 2].reshape(n, c, hh // 2, 2, ww // 2, 2)
                    win = win.permute(0, 1, 2, 4, 3, 5).reshape(n, c, hh // 2, ww // 2, 4)
                    top = win.topk(2, dim=-1).values
                    gap = (top[..., 0] - top[..., 1])[top[..., 0] > 0]
                    rms = h.pow(2).mean().sqrt()
                    if gap.numel():
                        worst = min(worst, (gap.min() / rms).item())
                    h = Fn.max_pool2d(h, 2, 2)
                else:
                    h = Fn.avg_pool2d(h, 2, 2)
                block = b
            w, bias = weights[name]
            pre = Fn.conv2d(h, w, bias, padding=1)
            worst = min(worst, (pre.abs().min() / pre.pow(2).mean().sqrt()).item())
            h = torch.relu(pre)
    return worst


def untie(x, weights, model, pool, deepest, seed, margin):
    """x, or x plus a small seeded perturbation (0.01 of x's rms), redrawn
    until it is at least margin from every kink (see kink_margin), at most 30
    times (then the best one). Returns (x, its margin, the perturbations tried)."""
    rng = np.random.default_rng(seed)
    cand, best = x, None
    for tries in range(31):
        if tries:
            cand = x + torch.from_numpy(rng.standard_normal(tuple(x.shape)) * 0.01 * x.pow(2).mean().sqrt().item())
        m = kink_margin(cand, weights, model, pool, deepest)
        if best is None or m > best[1]:
            best = (cand, m, tries)
        if m >= margin:
            break
    return best


def rel(a, b):
    return abs(a - b) / abs(b) if b != 0 else abs(a - b)


def as_ref(out):
    """A stylesweep result (total, content, [style], tv, grad, ...) as a reference tuple."""
    return tuple(out[:5])


def compare(case, ours, ref):
    """Relative errors {total, content, style (worst layer), tv, grad}."""
    total, ct, st, tt, g = ours[:5]
    rtotal, rct, rst, rtt, rg = ref
    return {
        "total": rel(total, rtotal),
        "content": rel(ct, rct),
        "style": max(rel(a, b) for a, b in zip(st, rst)) if len(st) == len(rst) else float("inf"),
        "tv": rel(tt, rtt),
        "grad": float(np.linalg.norm(g - rg) / np.linalg.norm(rg)),
    }


def reference(case, weights, images, x):
    """Balances the case's term weights (as make_reference does) and returns
    the float64 reference (total, content, [style], tv, grad numpy)."""
    ev = mr.Evaluator(case, weights, images)
    mr.balance(case, ev, x)
    total, ct, st, tt, g = ev.grad(x)
    return total, ct, st, tt, g.numpy()


HEADER = f"{'case':<34} {'total':>9} {'content':>9} {'style':>9} {'tv':>9} {'grad':>9}"


def row(name, errs, tol):
    bad = [k for k, v in errs.items() if not v <= tol]
    cells = " ".join(f"{errs[k]:9.2e}" for k in ("total", "content", "style", "tv", "grad"))
    return f"{name:<34} {cells}" + (f"  FAIL ({', '.join(bad)})" if bad else ""), not bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "stylesweep"))
    ap.add_argument("--models", default="vgg16,vgg19")
    ap.add_argument("--size", type=int, default=64, help="image side in pixels (square)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=0, help="stylesweep eval --threads")
    ap.add_argument("--backend", default="cpu",
                    help="stylesweep eval --backend, or a comma-separated list (cuda,cpu): each backend is "
                         "compared with the reference and the first with each other one")
    ap.add_argument("--pools", default="max,avg", help="the poolings of the cases")
    ap.add_argument("--content-types", default="0,1,2", help="the content_loss_types of the cases")
    ap.add_argument("--keep", metavar="DIR", help="keep the weights, inputs and outputs in DIR")
    ap.add_argument("--kink-margin", type=float, default=2e-6,
                    help="perturb x until every ReLU pre-activation and max-pool gap is at least this "
                         "fraction of its layer's rms (0: evaluate x as it is)")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        print(f"compare_torch_eval: {a.binary} is not an executable (build first, or --binary)", file=sys.stderr)
        return 2
    backends = [b for b in a.backend.split(",") if b]
    pools = [p for p in a.pools.split(",") if p]
    try:
        ctypes = [int(c) for c in a.content_types.split(",") if c]
    except ValueError:
        ctypes = [-1]
    bad = ([f"--backend {b}" for b in backends if b not in ("cpu", "cuda")] +
           [f"--pools {p}" for p in pools if p not in ("max", "avg")] +
           [f"--content-types {c}" for c in ctypes if c not in (0, 1, 2)])
    if bad or not backends or not pools or not ctypes:
        print(f"compare_torch_eval: bad {', '.join(bad) or 'empty list'} (backends cpu, cuda; pools max, avg; "
              f"content types 0, 1, 2)", file=sys.stderr)
        return 2
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    set_size(a.size)
    work = a.keep or tempfile.mkdtemp(prefix="compare_torch_eval.")
    os.makedirs(work, exist_ok=True)
    try:
        images_np = mr.make_images()
        images = {k: torch.from_numpy(v).double() for k, v in images_np.items()}
        print(f"stylesweep {a.binary} ({','.join(backends)}) vs PyTorch {torch.__version__} (float64), "
              f"{a.size}x{a.size}, "
              f"content conv4_2, style {ALL_STYLE}; relative errors, tolerance {a.tol:g}")
        print(HEADER)
        ok, worst = True, {}
        for model in a.models.split(","):
            wpath = os.path.join(work, f"{model}_he.h5")
            t0 = time.time()
            w = make_he_weights(model)
            mr.write_keras_weights(wpath, model, w)
            weights = mr.read_keras_weights(wpath)
            for pool in pools:
                x, margin, tries = untie(images["x"], weights, model, pool, "conv5_1",
                                         seed=10 * HE_SEEDS[model] + (pool == "max"), margin=a.kink_margin)
                note = f"x perturbed {tries}x, " if tries else ""
                print(f"# {model} {pool}: {note}kink margin {margin:.1e} of the rms"
                      f"{'  (below --kink-margin: a gradient error may be a kink)' if margin < a.kink_margin else ''}")
                imgs = dict(images, x=x)
                inputs = os.path.join(work, f"inputs_{model}_{pool}.h5")
                write_inputs(inputs, dict(images_np, x=x.numpy().astype(np.float32)))
                imgs["x"] = torch.from_numpy(x.numpy().astype(np.float32)).double()  # what stylesweep reads
                for ctype in ctypes:
                    case = mr.Case(model, pool, ctype, style_layers=ALL_STYLE)
                    ref = reference(case, weights, imgs, imgs["x"])
                    outs = {}
                    for b in backends:
                        outs[b] = stylesweep_eval(a.binary, wpath, case, inputs,
                                                  os.path.join(work, f"{model}_{pool}_{ctype}_{b}.h5"), a.threads,
                                                  ("--backend", b))
                    pairs = [(b, ref) for b in backends] + [(f"{backends[0]} vs {b}", as_ref(outs[b]))
                                                            for b in backends[1:]]
                    for label, r in pairs:
                        errs = compare(case, outs[label.split(" ")[0]], r)
                        for k, v in errs.items():
                            worst[k] = max(worst.get(k, 0.0), v)
                        tag = f" {label}" if len(backends) > 1 or backends[0] != "cpu" else ""
                        line, good = row(f"{model} {pool} type{ctype}{tag}", errs, a.tol)
                        ok &= good
                        print(line, flush=True)
            del weights
        print(row("worst", worst, a.tol)[0])
        print("PASS" if ok else "FAIL")
        return 0 if ok else 1
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


def make_he_weights(model):
    """Seeded He-normal kernels (Keras HWIO float32), biases N(0, 0.5),
    rounded to bfloat16-representable values like make_reference's."""
    rng = np.random.default_rng(HE_SEEDS[model])
    w = {}
    for kname, _, cin, cout in mr.conv_table(model):
        std = np.sqrt(2.0 / (9 * cin))
        kernel = mr.round_bf16(rng.standard_normal((3, 3, cin, cout), dtype=np.float32) * np.float32(std))
        bias = mr.round_bf16(rng.standard_normal(cout) * mr.BIAS_STD)
        w[kname] = (kernel, bias)
    return w


if __name__ == "__main__":
    sys.exit(main())
