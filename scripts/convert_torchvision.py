#!/usr/bin/python3
"""Convert a torchvision VGG16/VGG19 state dict to a Keras-layout "notop"
HDF5 weights file that stylesweep reads (see README.md, "Weights").

usage: scripts/convert_torchvision.py [--model vgg16|vgg19] [--force] INPUT.pth [-o] OUTPUT.h5

INPUT is a file saved with torch.save: torchvision's own downloads
(vgg16-397923af.pth, vgg19-dcbb9e9d.pth, also the _bn variants), a state
dict of your own with the same keys, a checkpoint holding one under
"state_dict" or "model", or a keys prefix "module." (DataParallel). Only the
convolution stack is kept: features.N.weight (out, in, 3, 3) and
features.N.bias, in the order of N; the classifier is dropped. With batch
normalisation (vgg16_bn, vgg19_bn) each BatchNorm that follows a
convolution is folded into it (inference mode: running mean and variance).
The model is recognised from the number of convolutions (13: vgg16, 16:
vgg19) and every shape is checked against it; --model makes a mismatch an
error.

OUTPUT follows the layout of the Keras files (root attribute layer_names,
one group per layer with attribute weight_names, kernels (3, 3, in, out)),
with the root attribute preprocessing = "torchvision": stylesweep then feeds
the network RGB values in 0..1 minus the ImageNet mean (0.485, 0.456, 0.406),
divided by the std (0.229, 0.224, 0.225), instead of Caffe's BGR 0..255.
Also recorded: source_file, source_sha256, converted_by.
The file is written to a temporary name and renamed, so OUTPUT is never a
partial file; an existing OUTPUT is kept unless --force.

Use it as --weights OUTPUT.h5 (and --model matching), or name it
models/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5 for weights: auto.
Mind that loss weights tuned for Caffe weights do not carry over: the
pre-processed image is about 58 times smaller (the TV term scales with it),
and the features differ.

Needs PyTorch only to read INPUT (torch.load on the CPU; torchvision is not
needed), and h5py and numpy. Exit status: 0 converted, 1 an error (missing
file, not a VGG state dict, wrong model, cannot write), 2 usage.
"""
import argparse
import hashlib
import os
import re
import sys

import numpy as np

PROG = "convert_torchvision"
BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
WIDTHS = (64, 128, 256, 512, 512)
BN_EPS = 1e-5  # torch.nn.BatchNorm2d's default, as in torchvision's VGG


class ConvertError(Exception):
    pass


def conv_table(model):
    """[(keras group name, in channels, out channels)] of the model."""
    out, cin = [], 3
    for b, n in enumerate(BLOCKS[model], start=1):
        for i in range(1, n + 1):
            out.append((f"block{b}_conv{i}", cin, WIDTHS[b - 1]))
            cin = WIDTHS[b - 1]
    return out


def keras_layer_names(model):
    names = ["input_1"]
    for b, n in enumerate(BLOCKS[model], start=1):
        names += [f"block{b}_conv{i}" for i in range(1, n + 1)]
        names.append(f"block{b}_pool")
    return names


def load_state_dict(path):
    """The state dict in path as {key: numpy array}."""
    try:
        import torch
    except ImportError:
        raise ConvertError("PyTorch is needed to read .pth files (Debian: apt-get install python3-torch)")
    if not os.path.exists(path):
        raise ConvertError(f"{path}: no such file")
    if os.path.isdir(path):
        raise ConvertError(f"{path}: is a directory")
    with open(path, "rb") as f:
        magic = f.read(4)
    # torch.save writes a zip archive (PK..) or, before torch 1.6, a pickle (0x80 = protocol 2+)
    if not (magic.startswith(b"PK\x03\x04") or magic[:1] == b"\x80"):
        raise ConvertError(f"{path}: not a PyTorch file (neither the zip archive nor the pickle torch.save writes)")
    try:
        try:
            # weights_only: tensors and plain containers, no arbitrary code from the pickle
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except TypeError:  # torch < 1.13 has no weights_only
            obj = torch.load(path, map_location="cpu")
    except Exception as e:  # pickle, zip and torch errors of every kind
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "weights only" in msg.lower() or "weights_only" in msg:
            raise ConvertError(f"{path}: holds objects other than tensors, which torch.load(weights_only=True) "
                               f"refuses; if you trust the file, re-save its state dict alone: "
                               f"torch.save(torch.load(F, weights_only=False)[...], NEW.pth)")
        raise ConvertError(f"{path}: torch.load cannot read it ({msg[:200]})")
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for k in ("state_dict", "model", "model_state_dict"):
            if k in obj and isinstance(obj[k], dict) and not any(torch.is_tensor(v) for v in obj.values()):
                obj = obj[k]
                break
    if not isinstance(obj, dict) or not obj:
        raise ConvertError(f"{path}: holds a {type(obj).__name__}, not a state dict (a dict of tensors)")
    out = {}
    for k, v in obj.items():
        if not torch.is_tensor(v):
            continue
        k = str(k)
        if k.startswith("module."):
            k = k[len("module."):]
        out[k] = v.detach().to(torch.float64).cpu().numpy()
    return out


def extract_convs(sd, path):
    """[(weight (out,in,3,3), bias (out))] of the features.* convolutions in
    order, with BatchNorm folded in."""
    idx = {}
    for k in sd:
        m = re.fullmatch(r"features\.(\d+)\.([A-Za-z_]+)", k)
        if m:
            idx.setdefault(int(m.group(1)), {})[m.group(2)] = sd[k]
    if not idx:
        some = ", ".join(sorted(sd)[:4])
        raise ConvertError(f"{path}: not a torchvision VGG state dict (no features.N.weight keys; it has {some}"
                           f"{', ...' if len(sd) > 4 else ''})")
    convs = []
    order = sorted(idx)
    for j, n in enumerate(order):
        p = idx[n]
        if "weight" not in p:
            continue
        w = p["weight"]
        if w.ndim == 4:
            if w.shape[2:] != (3, 3):
                raise ConvertError(f"{path}: features.{n}.weight has shape {tuple(w.shape)}, a VGG convolution "
                                   f"is (out, in, 3, 3)")
            b = p.get("bias")
            if b is None:
                b = np.zeros(w.shape[0])
            if b.shape != (w.shape[0],):
                raise ConvertError(f"{path}: features.{n}.bias has shape {tuple(b.shape)}, expected ({w.shape[0]},)")
            convs.append([w, b, n])
        elif w.ndim == 1 and "running_mean" in p:  # BatchNorm2d after the last convolution
            if not convs or convs[-1][0].shape[0] != w.shape[0]:
                raise ConvertError(f"{path}: features.{n} is a batch normalisation that follows no convolution "
                                   f"of {w.shape[0]} channels")
            gamma, beta = w, p.get("bias", np.zeros_like(w))
            scale = gamma / np.sqrt(p["running_var"] + BN_EPS)
            cw, cb, _ = convs[-1]
            convs[-1][0] = cw * scale[:, None, None, None]
            convs[-1][1] = (cb - p["running_mean"]) * scale + beta
        else:
            raise ConvertError(f"{path}: features.{n}.weight has shape {tuple(w.shape)}: not a convolution "
                               f"nor a batch normalisation of a VGG")
    for w, b, n in convs:
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise ConvertError(f"{path}: features.{n} holds NaN or infinite values")
    return [(w, b, n) for w, b, n in convs]


def identify(convs, want, path):
    by_count = {len(conv_table(m)): m for m in BLOCKS}
    model = by_count.get(len(convs))
    if model is None:
        raise ConvertError(f"{path}: {len(convs)} convolutions in features.*, a VGG16 has 13 and a VGG19 16 "
                           f"(another network?)")
    if want and want != model:
        raise ConvertError(f"{path}: is a {model} ({len(convs)} convolutions), not a {want}")
    for (w, b, n), (name, cin, cout) in zip(convs, conv_table(model)):
        if w.shape != (cout, cin, 3, 3):
            raise ConvertError(f"{path}: features.{n}.weight has shape {tuple(w.shape)}, {model}'s {name} "
                               f"needs ({cout}, {cin}, 3, 3)")
    return model


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_keras(out, model, convs, source):
    import h5py
    tmp = f"{out}.tmp.{os.getpid()}"
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["layer_names"] = np.array([n.encode() for n in keras_layer_names(model)], dtype="S")
            f.attrs["backend"] = np.bytes_(b"tensorflow")
            f.attrs["preprocessing"] = np.bytes_(b"torchvision")
            f.attrs["source_file"] = np.bytes_(os.path.basename(source).encode())
            f.attrs["source_sha256"] = np.bytes_(sha256(source).encode())
            f.attrs["converted_by"] = np.bytes_(b"stylesweep scripts/convert_torchvision.py")
            weights = {name: (w, b) for (w, b, _), (name, _, _) in zip(convs, conv_table(model))}
            for name in keras_layer_names(model):
                g = f.create_group(name)
                if name not in weights:
                    g.attrs["weight_names"] = np.zeros((0,), dtype=np.float64)
                    continue
                w, b = weights[name]
                wn = [f"{name}/kernel:0".encode(), f"{name}/bias:0".encode()]
                g.attrs["weight_names"] = np.array(wn, dtype="S")
                kernel = np.ascontiguousarray(w.transpose(2, 3, 1, 0)).astype(np.float32)  # OIHW -> HWIO
                g.create_dataset(wn[0].decode(), data=kernel)
                g.create_dataset(wn[1].decode(), data=b.astype(np.float32))
        os.replace(tmp, out)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def main(argv=None):
    paras = __doc__.strip().split("\n\n")
    ap = argparse.ArgumentParser(
        prog="convert_torchvision.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="\n\n".join([paras[0]] + paras[2:]),
        epilog="example: scripts/convert_torchvision.py ~/.cache/torch/hub/checkpoints/vgg19-dcbb9e9d.pth "
               "models/vgg19_torchvision.h5   (then: stylesweep transfer --model vgg19 "
               "--weights models/vgg19_torchvision.h5 ...). More in the file's docstring.")
    ap.add_argument("input", metavar="INPUT.pth", help="torchvision VGG state dict (torch.save file)")
    ap.add_argument("output", metavar="OUTPUT.h5", nargs="?", help="Keras-layout weights file to write")
    ap.add_argument("-o", "--output", dest="output_opt", metavar="OUTPUT.h5", help="the same, as an option")
    ap.add_argument("--model", choices=sorted(BLOCKS), help="fail unless INPUT is this model")
    ap.add_argument("--force", action="store_true", help="overwrite an existing OUTPUT")
    a = ap.parse_args(argv)
    if a.output and a.output_opt and a.output != a.output_opt:
        ap.error(f"two outputs given: {a.output} and -o {a.output_opt}")
    a.output = a.output or a.output_opt
    if not a.output:
        ap.error("no output given (OUTPUT.h5 or -o OUTPUT.h5)")
    try:
        if os.path.exists(a.output) and not a.force:
            raise ConvertError(f"{a.output} exists; give --force to overwrite it")
        d = os.path.dirname(os.path.abspath(a.output))
        if not os.path.isdir(d):
            raise ConvertError(f"{a.output}: directory {d} does not exist")
        sd = load_state_dict(a.input)
        convs = extract_convs(sd, a.input)
        model = identify(convs, a.model, a.input)
        write_keras(a.output, model, convs, a.input)
    except ConvertError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{PROG}: {e.filename or a.output}: {e.strerror or e}", file=sys.stderr)
        return 1
    bn = any(k.endswith("running_mean") for k in sd)
    print(f"{a.output}: {model}, {len(convs)} convolutions{' (batch normalisation folded)' if bn else ''}, "
          f"preprocessing torchvision")
    return 0


if __name__ == "__main__":
    sys.exit(main())
