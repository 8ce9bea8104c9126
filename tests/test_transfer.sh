#!/usr/bin/env bash
# test_transfer.sh - `stylesweep transfer` end to end, small and fast.
# Run from anywhere as
#   bash tests/test_transfer.sh PATH_TO_STYLESWEEP_BINARY
# (ctest runs it with the normal and the sanitizer binary). VERBOSE=1 prints
# the measured numbers of every check.
#
# Every run uses random weights, a narrow VGG16 (--channels-div 4) cut at
# conv3_2 and a 64 px image (48 px for the error cases), one thread and 10
# evaluations per iteration: about 2 s in all with the normal binary.
#
# Checks:
#  - a 6-iteration run from noise prints one line per iteration, its loss
#    falls (first printed iteration / last > FIRST_LAST_MIN, the loss of the
#    initial image (from `stylesweep eval`) / last > INITIAL_LAST_MIN), and it
#    writes OUT.png, OUT.params.yaml and exactly the snapshots of
#    --snapshots 3,2 (iterations 1,2,3,4,6), the last equal to OUT.png;
#  - the same seed twice gives bit-identical files, another seed differs;
#    noise, gray and content initial images give three different results;
#  - --init content / gray with a single evaluation write the resized content
#    / its BT.601 luma exactly (compared with `eval`'s x of the same run);
#  - --init gray, one iteration, tiny content and style weights: stays gray
#    (R = G = B within rounding); with style weight 1 it does not;
#  - --preserve-color: the output's Cb/Cr match the resized content's
#    (mean difference < PC_MAX levels), without it they do not (> NPC_MIN);
#  - --preserve-color luminance keeps the content's Cb/Cr too; histogram
#    (eigen) gives another result than none;
#  - --aspect square --output-size content_aspect writes 96x64 images
#    (snapshot too), --output-size content_pixels the content's 451x300;
#  - style masks: eval with an all-white mask per style gives the unmasked
#    style terms, complementary masks smaller ones; a masked transfer runs;
#  - a .jpg output;
#  - bad input (unreadable or missing images, out-of-range parameters, an
#    output in a missing directory or with an unsupported extension, an
#    existing output or snapshot without --force): exit 1 or 2, one line on
#    stderr, nothing on stdout, no file (nor temporary) written, an existing
#    output left as it was.
# Needs /usr/bin/python3 with numpy and h5py (PNG files are decoded by the
# small zlib decoder of tests/testlib.py). Writes only under a mktemp -d
# directory, removed on exit.
set -u
# shellcheck source=tests/testlib.sh
. "$(dirname "$0")/testlib.sh"
make_tmpdir

CONTENT=samples/content/chelsea.jpg
STYLE=samples/style/starry_night.jpg
SMALL=(--image-size 64 --model vgg16 --channels-div 4 --weights random --threads 1
       --content-layer conv3_2 --style-layers conv1_1,conv2_1,conv3_1 --evals-per-iteration 10)

# Thresholds, from measurements (vgg16/4, 64x43, seeds 0..7, 6 iterations
# from noise): first/last printed loss 4.9-5.5, initial/last about 94;
# preserve-color mean |dCb| 0.33, |dCr| 0.06 (without: 28 and 34; from the
# content image: 16 and 17); gray with tiny weights mean |R-G| 0.24, max 2
# (style weight 1: 14).
FIRST_LAST_MIN=3
INITIAL_LAST_MIN=30
PC_MAX=2
NPC_MIN=8

# transfer OUTDIR ARGS...: runs `stylesweep transfer` with the small settings
# (ARGS come after them and override them), output OUTDIR/out.png unless ARGS
# give -o; stdout/stderr in OUTDIR.stdout/.stderr; sets RC.
transfer() {
    local dir=$1
    shift
    mkdir -p "$dir"
    timeout -k 5 120 "$BIN" transfer "${SMALL[@]}" -o "$dir/out.png" "$@" \
        >"$dir.stdout" 2>"$dir.stderr" </dev/null
    RC=$?
}
# ok NAME: the last run succeeded, said nothing on stderr.
ok() {
    n_checks=$((n_checks + 1))
    if [ "$RC" -ne 0 ]; then
        fail "$1: exit status $RC"
        sed 's/^/    stderr: /' "$2.stderr" | head -10
        return 1
    fi
    if [ -s "$2.stderr" ]; then
        fail "$1: stderr is not empty"
        sed 's/^/    stderr: /' "$2.stderr" | head -10
        return 1
    fi
    return 0
}
files_of() { (cd "$1" 2>/dev/null && ls -A | sort | tr '\n' ' '); }
not_cmp() { [ -f "$1" ] && [ -f "$2" ] && ! cmp -s "$1" "$2"; }

cat >"$T/pngtool.py" <<'EOF'
"""Small checks on stylesweep's PNG outputs (decoded by tests/testlib.py)."""
import os
import sys

import numpy as np

sys.path.insert(0, os.environ["TESTS_DIR"])
from testlib import read_png  # noqa: E402

MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


def read_rgb(path):
    """The PNG file's pixels (RGB) as int64."""
    return read_png(path).astype(np.int64)


def content_rgb(h5path):
    """The resized content as stylesweep saw it: `eval --init content`'s x
    (Caffe pre-processing: BGR minus the mean) de-processed."""
    import h5py
    with h5py.File(h5path, "r") as f:
        x = f["x"][()].astype(np.float32)
    rgb = (x + MEAN_BGR[:, None, None])[::-1].transpose(1, 2, 0)
    r = np.rint(rgb)
    if np.abs(rgb - r).max() > 1e-3:
        raise SystemExit(f"{h5path}: x is not an 8-bit image pre-processed")
    return r.astype(np.int64)


def cbcr(a):
    a = a.astype(np.float64)
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    return (-0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b)


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "size":
        img = read_rgb(args[0])
        print(img.shape[1], img.shape[0])
    elif cmd == "gray":  # FILE MAX_MEAN MAX_ABS | FILE --not MIN_MEAN
        img = read_rgb(args[0])
        d = max(np.abs(img[..., 0] - img[..., 1]).mean(), np.abs(img[..., 1] - img[..., 2]).mean())
        m = max(np.abs(img[..., 0] - img[..., 1]).max(), np.abs(img[..., 1] - img[..., 2]).max())
        print(f"mean |R-G|,|G-B| {d:.3f}, max {m}")
        if args[1] == "--not":
            return 0 if d > float(args[2]) else 1
        return 0 if d <= float(args[1]) and m <= float(args[2]) else 1
    elif cmd == "equal":  # FILE EVAL.h5 content|gray
        img, rgb = read_rgb(args[0]), content_rgb(args[1])
        if args[2] == "gray":
            y = (19595 * rgb[..., 0] + 38470 * rgb[..., 1] + 7471 * rgb[..., 2] + 32768) >> 16
            rgb = np.repeat(y[..., None], 3, axis=2)
        if img.shape != rgb.shape:
            print(f"size {img.shape} != {rgb.shape}")
            return 1
        diff = np.abs(img - rgb).max()
        print(f"max difference {diff}")
        return 0 if diff == 0 else 1
    elif cmd == "chroma":  # FILE EVAL.h5 MAX | FILE EVAL.h5 --not MIN
        img, rgb = read_rgb(args[0]), content_rgb(args[1])
        (cb, cr), (cb0, cr0) = cbcr(img), cbcr(rgb)
        d = max(np.abs(cb - cb0).mean(), np.abs(cr - cr0).mean())
        print(f"mean |dCb| {np.abs(cb - cb0).mean():.3f}, |dCr| {np.abs(cr - cr0).mean():.3f}")
        if args[2] == "--not":
            return 0 if d > float(args[3]) else 1
        return 0 if d < float(args[2]) else 1
    else:
        raise SystemExit(f"unknown command {cmd}")
    return 0


sys.exit(main())
EOF
pytool() { "$PY" "$T/pngtool.py" "$@" >"$T/py.out" 2>&1; local rc=$?; verbose "$(cat "$T/py.out")"; [ $rc -eq 0 ] || sed 's/^/    /' "$T/py.out"; return $rc; }

# ------------------------------------------------------------ a short run
A=$T/a
transfer "$A" "$CONTENT" "$STYLE" --init noise --seed 0 --iterations 6 --snapshots 3,2
if ok "run from noise" "$A"; then
    # the per-iteration lines: "   I/6  loss L  content ..."
    awk '$1 ~ /^[0-9]+\/6$/ && $2 == "loss" { split($1, a, "/"); print a[1], $3 }' "$A.stdout" >"$T/losses"
    check "one progress line per iteration (got $(cut -d' ' -f1 "$T/losses" | tr '\n' ' '))" \
        test "$(cut -d' ' -f1 "$T/losses" | tr '\n' ' ')" = "1 2 3 4 5 6 "
    first=$(awk 'NR == 1 { print $2 }' "$T/losses")
    last=$(awk 'END { print $2 }' "$T/losses")
    # the loss of the initial image, from `eval` with the same parameters
    "$BIN" eval "${SMALL[@]}" --init noise --seed 0 "$CONTENT" "$STYLE" -o "$T/a_init.h5" >"$T/eval.out" 2>&1
    initial=$(sed -nE 's/^loss=([^ ]+) .*/\1/p' "$T/eval.out")
    verbose "loss: initial $initial, iteration 1 $first, iteration 6 $last"
    check "loss falls: first $first / last $last > $FIRST_LAST_MIN" \
        awk -v a="$first" -v b="$last" -v k="$FIRST_LAST_MIN" 'BEGIN { exit !(b > 0 && a / b > k) }'
    check "loss falls: initial ${initial:-?} / last $last > $INITIAL_LAST_MIN" \
        awk -v a="${initial:-0}" -v b="$last" -v k="$INITIAL_LAST_MIN" 'BEGIN { exit !(b > 0 && a / b > k) }'
    check "loss decreases at every iteration" \
        awk 'NR > 1 && $2 > prev { bad = 1 } { prev = $2 } END { exit bad }' "$T/losses"
    want="out.params.yaml out.png out_iter0001.png out_iter0002.png out_iter0003.png out_iter0004.png out_iter0006.png "
    check "files written: $(files_of "$A"), expected $want" test "$(files_of "$A")" = "$want"
    check "last snapshot equals the output" cmp -s "$A/out.png" "$A/out_iter0006.png"
    check "output is 64x43" test "$("$PY" "$T/pngtool.py" size "$A/out.png")" = "64 43"
    check "params file records the iterations" grep -qx 'iterations_done: 6' "$A/out.params.yaml"
    check "params file records the init and seed" grep -qx 'init: noise' "$A/out.params.yaml"
    check "params file records the weights used" grep -qx 'weights_used: random:0' "$A/out.params.yaml"
    fl=$(sed -nE 's/^final_loss: //p' "$A/out.params.yaml")
    check "params final_loss $fl matches the last printed loss $last" \
        awk -v a="${fl:-0}" -v b="$last" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-5 * b) }'
    check "the final line names the output" grep -q "out.png written: loss" "$A.stdout"
fi

# ------------------------------------------------------------ determinism
B=$T/b
transfer "$B" "$CONTENT" "$STYLE" --init noise --seed 0 --iterations 6 --snapshots 3,2
if ok "second run, same seed" "$B" && [ -d "$A" ]; then
    for f in out.png out_iter0001.png out_iter0004.png out_iter0006.png; do
        check "same seed: $f bit-identical" cmp -s "$A/$f" "$B/$f"
    done
fi
S1=$T/seed1
transfer "$S1" "$CONTENT" "$STYLE" --init noise --seed 1 --iterations 6 --snapshots 0,0
if ok "run with seed 1" "$S1"; then
    check "seed 1 gives another image than seed 0" not_cmp "$A/out.png" "$S1/out.png"
    check "no snapshot with --snapshots 0,0" test "$(files_of "$S1")" = "out.params.yaml out.png "
fi

# ------------------------------------------------------------ initial images
for init in gray content; do
    transfer "$T/init_$init" "$CONTENT" "$STYLE" --init $init --iterations 6 --snapshots 0,0
    ok "run from $init" "$T/init_$init"
done
check "noise and gray inits differ" not_cmp "$A/out.png" "$T/init_gray/out.png"
check "noise and content inits differ" not_cmp "$A/out.png" "$T/init_content/out.png"
check "gray and content inits differ" not_cmp "$T/init_gray/out.png" "$T/init_content/out.png"

# a single evaluation leaves the initial image: the resized content, its luma
"$BIN" eval "${SMALL[@]}" --init content "$CONTENT" "$STYLE" -o "$T/content.h5" >"$T/eval.out" 2>&1 ||
    fail "eval --init content: $(cat "$T/eval.out")"
for init in content gray; do
    transfer "$T/one_$init" "$CONTENT" "$STYLE" --init $init --iterations 1 --evals-per-iteration 1 --snapshots 0,0
    if ok "one evaluation from $init" "$T/one_$init"; then
        check "one evaluation from $init writes the $init image exactly" \
            pytool equal "$T/one_$init/out.png" "$T/content.h5" $init
    fi
done

# gray stays gray when only TV acts (it is the same in every channel)
transfer "$T/gray_tiny" "$CONTENT" "$STYLE" --init gray --iterations 1 --style-weight 1e-6 --content-weight 1e-6 \
    --snapshots 0,0
ok "gray, tiny weights" "$T/gray_tiny" &&
    check "gray with tiny content and style weights stays gray" pytool gray "$T/gray_tiny/out.png" 1 4
transfer "$T/gray_style" "$CONTENT" "$STYLE" --init gray --iterations 1 --style-weight 1 --content-weight 1e-6 \
    --snapshots 0,0
ok "gray, style weight 1" "$T/gray_style" &&
    check "gray with style weight 1 takes colour (the check above can fail)" \
        pytool gray "$T/gray_style/out.png" --not 5

# ------------------------------------------------------------ colour preservation
transfer "$T/pc" "$CONTENT" "$STYLE" --init noise --iterations 5 --preserve-color true --snapshots 0,0
transfer "$T/npc" "$CONTENT" "$STYLE" --init noise --iterations 5 --snapshots 0,0
if ok "preserve-color run" "$T/pc" && ok "run without preserve-color" "$T/npc"; then
    check "--preserve-color keeps the content's Cb/Cr (mean < $PC_MAX levels)" \
        pytool chroma "$T/pc/out.png" "$T/content.h5" $PC_MAX
    check "without --preserve-color Cb/Cr differ (mean > $NPC_MIN levels)" \
        pytool chroma "$T/npc/out.png" "$T/content.h5" --not $NPC_MIN
fi

# luminance-only transfer puts the content's chrominance back too; the
# histogram-matched transfer differs from the plain one
transfer "$T/lum" "$CONTENT" "$STYLE" --init noise --iterations 5 --preserve-color luminance --snapshots 0,0
ok "preserve-color luminance run" "$T/lum" &&
    check "--preserve-color luminance keeps the content's Cb/Cr (mean < $PC_MAX levels)" \
        pytool chroma "$T/lum/out.png" "$T/content.h5" $PC_MAX
transfer "$T/hist" "$CONTENT" "$STYLE" --init noise --iterations 5 --preserve-color histogram \
    --histogram-method eigen --snapshots 0,0
ok "preserve-color histogram run" "$T/hist" &&
    check "--preserve-color histogram changes the result" not_cmp "$T/hist/out.png" "$T/npc/out.png"

# ------------------------------------------------------------ style masks
# eval: an all-white mask per style changes nothing; complementary masks
# make each style's term smaller (the masked terms are what eval writes)
{ printf 'P5\n30 20\n255\n'; head -c 600 /dev/zero | tr '\0' '\377'; } >"$T/white.pgm"
STYLE2=samples/style/the_scream.jpg
MASKS=samples/masks/chelsea_bright.png,samples/masks/chelsea_dark.png
for v in plain white masked; do
    case $v in
    plain) extra=() ;;
    white) extra=(--style-masks "$T/white.pgm,$T/white.pgm") ;;
    masked) extra=(--style-masks "$MASKS") ;;
    esac
    timeout -k 5 60 "$BIN" eval "${SMALL[@]}" "${extra[@]}" "$CONTENT" "$STYLE" "$STYLE2" -o "$T/eval_$v.h5" \
        >"$T/eval_$v.out" 2>&1 </dev/null || fail "eval ($v masks): $(cat "$T/eval_$v.out")"
done
check "eval with all-white style masks: the same style terms, masked ones smaller" "$PY" -c "
import sys
import h5py
import numpy as np
s = {v: h5py.File('$T/eval_' + v + '.h5', 'r')['style_loss'][()] for v in ('plain', 'white', 'masked')}
print(s)
sys.exit(0 if np.allclose(s['white'], s['plain'], rtol=1e-6) and (s['masked'] < 0.9 * s['plain']).all() else 1)"
transfer "$T/masked" "$CONTENT" "$STYLE" "$STYLE2" --style-masks "$MASKS" --iterations 2 --snapshots 0,0
ok "transfer with two style masks" "$T/masked" &&
    check "style masks: the result differs from the unmasked one" not_cmp "$T/masked/out.png" "$T/npc/out.png"

# ------------------------------------------------------------ output size
# a square optimisation written at the content's aspect ratio (the
# reference's maintain_aspect_ratio), snapshots too, or at its own pixel size
transfer "$T/osa" "$CONTENT" "$STYLE" --iterations 1 --snapshots 1,0 --aspect square --output-size content_aspect
if ok "--output-size content_aspect" "$T/osa"; then
    check "content_aspect: out.png is 96x64" pytool size "$T/osa/out.png" && grep -qx '96 64' "$T/py.out"
    check "content_aspect: the snapshot is 96x64" pytool size "$T/osa/out_iter0001.png" && grep -qx '96 64' "$T/py.out"
fi
transfer "$T/osp" "$CONTENT" "$STYLE" --iterations 1 --snapshots 0,0 --output-size content_pixels
ok "--output-size content_pixels" "$T/osp" &&
    check "content_pixels: out.png is the content's 451x300" pytool size "$T/osp/out.png" &&
    grep -qx '451 300' "$T/py.out"

# ------------------------------------------------------------ JPEG output
transfer "$T/jpg" "$CONTENT" "$STYLE" --iterations 2 --snapshots 1,0 -o "$T/jpg/out.jpg"
if ok "JPEG output" "$T/jpg"; then
    check "JPEG files written: $(files_of "$T/jpg")" test "$(files_of "$T/jpg")" = "out.jpg out.params.yaml out_iter0001.jpg "
    check "out.jpg is a JPEG" test "$(head -c 3 "$T/jpg/out.jpg" | od -An -tx1 | tr -d ' ')" = "ffd8ff"
fi

# ------------------------------------------------------------ bad input
mkdir -p "$T/in"
printf 'this is not a JPEG image\n' >"$T/in/text.jpg"
head -c 300 "$CONTENT" >"$T/in/trunc.jpg"
{ printf 'P5\n30 20\n255\n'; head -c 600 /dev/zero | tr '\0' '\177'; } >"$T/in/black.pgm" # gray 127: black
QUICK=(--image-size 48 --iterations 2 --snapshots 1,1)

# bad NAME PATTERN -- ARGS...: the run fails cleanly, the message contains
# PATTERN, and $T/out stays as it was (its listing in $T/out.before).
bad() {
    local name=$1 pattern=$2
    shift 3
    n_checks=$((n_checks + 1))
    local before
    before=$(cd "$T/out" && ls -lA --time-style=full-iso | sort | md5sum)
    timeout -k 5 60 "$BIN" transfer "${SMALL[@]}" "${QUICK[@]}" "$@" >"$T/stdout" 2>"$T/stderr" </dev/null
    local rc=$? bad=0
    if [ $rc -eq 0 ] || [ $rc -ge 3 ]; then
        fail "[$name] exit status $rc, expected 1 or 2"
        bad=1
    fi
    if [ "$(wc -l <"$T/stderr")" -ne 1 ] || ! grep -q '^stylesweep transfer: ' "$T/stderr"; then
        fail "[$name] stderr is not one line 'stylesweep transfer: ...'"
        bad=1
    elif ! grep -qF -- "$pattern" "$T/stderr"; then
        fail "[$name] the message does not name '$pattern'"
        bad=1
    fi
    if [ -s "$T/stdout" ]; then
        fail "[$name] stdout is not empty"
        bad=1
    fi
    if [ "$(cd "$T/out" && ls -lA --time-style=full-iso | sort | md5sum)" != "$before" ]; then
        fail "[$name] files changed in the output folder: $(files_of "$T/out")"
        bad=1
    fi
    if [ $bad -ne 0 ]; then
        sed 's/^/    stderr: /' "$T/stderr" | head -10
        sed 's/^/    stdout: /' "$T/stdout" | head -5
    fi
    verbose "[$name] exit $rc: $(head -c 300 "$T/stderr")"
}
mkdir -p "$T/out"
O=$T/out/x.png
bad "content not an image" text.jpg -- "$T/in/text.jpg" "$STYLE" -o "$O"
bad "content truncated" trunc.jpg -- "$T/in/trunc.jpg" "$STYLE" -o "$O"
bad "content missing" nothere.jpg -- "$T/in/nothere.jpg" "$STYLE" -o "$O"
bad "style missing" nothere.jpg -- "$CONTENT" "$T/in/nothere.jpg" -o "$O"
bad "style a directory" "$T/in" -- "$CONTENT" "$T/in" -o "$O"
bad "no style" STYLE -- "$CONTENT" -o "$O"
bad "iterations 0" iterations -- "$CONTENT" "$STYLE" -o "$O" --iterations 0
bad "content weight -1" content_weight -- "$CONTENT" "$STYLE" -o "$O" --content-weight -1
bad "unknown layer" conv9_9 -- "$CONTENT" "$STYLE" -o "$O" --content-layer conv9_9
bad "preserve-color unknown" "preserve_color: 'hsv'" -- "$CONTENT" "$STYLE" -o "$O" --preserve-color hsv
bad "color mask missing" "color_mask: cannot read image $T/in/nothere.png" -- "$CONTENT" "$STYLE" -o "$O" --preserve-color true \
    --color-mask "$T/in/nothere.png"
bad "color mask all black" "color_mask: $T/in/black.pgm is all black" -- "$CONTENT" "$STYLE" -o "$O" \
    --preserve-color true --color-mask "$T/in/black.pgm"
bad "color mask not an image" "color_mask: " -- "$CONTENT" "$STYLE" -o "$O" --preserve-color true \
    --color-mask "$T/in/text.jpg"
bad "color mask without preserve-color" "color_mask: needs preserve_color" -- "$CONTENT" "$STYLE" -o "$O" \
    --color-mask "$T/in/black.pgm"
bad "style masks: one for two styles" "style_masks: 1 mask(s) for 2 style image(s)" -- "$CONTENT" "$STYLE" \
    "$STYLE" -o "$O" --style-masks "$T/in/black.pgm"
bad "style mask missing" "style_masks: cannot read image $T/in/nothere.png" -- "$CONTENT" "$STYLE" -o "$O" \
    --style-masks "$T/in/nothere.png"
bad "style mask not an image" "style_masks: " -- "$CONTENT" "$STYLE" -o "$O" --style-masks "$T/in/text.jpg"
bad "style mask all black" "style_masks: $T/in/black.pgm is all black" -- "$CONTENT" "$STYLE" -o "$O" \
    --style-masks "$T/in/black.pgm"
bad "weights file missing" nothere.h5 -- "$CONTENT" "$STYLE" -o "$O" --weights "$T/in/nothere.h5"
bad "output directory missing" /nonexistent -- "$CONTENT" "$STYLE" -o /nonexistent/x.png
bad "output .gif" x.gif -- "$CONTENT" "$STYLE" -o "$T/out/x.gif"
bad "output without extension" "$T/out/x" -- "$CONTENT" "$STYLE" -o "$T/out/x"
bad "no output" "-o" -- "$CONTENT" "$STYLE"
printf 'keep me\n' >"$O"
bad "existing output" exists -- "$CONTENT" "$STYLE" -o "$O"
check "existing output kept" test "$(cat "$O")" = "keep me"
rm -f "$O"
printf 'keep me\n' >"$T/out/x_iter0001.png"
bad "existing snapshot" x_iter0001.png -- "$CONTENT" "$STYLE" -o "$O"
rm -f "$T/out/x_iter0001.png"
printf 'keep me\n' >"$T/out/x.params.yaml"
bad "existing parameters file" x.params.yaml -- "$CONTENT" "$STYLE" -o "$O"
rm -f "$T/out/x.params.yaml"
check "no temporary files left: $(find "$T" -name '*.tmp.*' | head -3)" test -z "$(find "$T" -name '*.tmp.*')"

# --force overwrites
printf 'old\n' >"$O"
timeout -k 5 60 "$BIN" transfer "${SMALL[@]}" "${QUICK[@]}" -q --force "$CONTENT" "$STYLE" -o "$O" \
    >"$T/stdout" 2>"$T/stderr" </dev/null
RC=$?
check "--force overwrites (exit $RC)" test $RC -eq 0
check "--force wrote a PNG" test "$(head -c 4 "$O" | tail -c 3)" = "PNG"
check "--quiet prints nothing" test ! -s "$T/stdout"

check_summary
