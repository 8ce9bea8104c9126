#!/usr/bin/env bash
# make_seeds.sh - writes the seed corpora of the fuzzing harnesses into
# OUT/{manifest,image,archive,weights} (default build-fuzz/seeds): the
# repository's manifests and small valid ones, small images in every format
# the loader takes, a small archive made by a real sweep, small weights
# files, and the regression inputs of tests/fuzz/regressions. Run from
# anywhere as
#   bash tests/fuzz/make_seeds.sh PATH_TO_STYLESWEEP_BINARY [OUT]
set -eu
BIN=$(realpath "$1")
cd "$(dirname "$0")/../.."
OUT=${2:-build-fuzz/seeds}
mkdir -p "$OUT"/manifest "$OUT"/image "$OUT"/archive "$OUT"/weights
OUT=$(realpath "$OUT")
PY=/usr/bin/python3

# manifests: the repository's, and small ones with aliases, grids, errors
cp sweeps/*.yaml "$OUT/manifest/"
cat >"$OUT/manifest/small.yaml" <<EOF2
sweep: seed
defaults: &d
  content: samples/content/chelsea.jpg
  style: [samples/style/starry_night.jpg]
  weights: random
  image_size: 32
  snapshots: {first: 1, every: 2}
experiments:
  - {id: a, <<: *d}
  - {id: b, pool: max, optimizer: adam, learning_rate: 2}
grid:
  tv_weight: [1.0e-4, 1.0e-3]
  style_weight: [[1], [2]]
EOF2
printf 'sweep: x\nexperiments:\n  - {id: a, image_size: -1, model: vgg99}\n' >"$OUT/manifest/errors.yaml"

# images: tiny ones in each format (the fuzzer mutates headers more than pixels)
"$PY" - "$OUT/image" <<'EOF2'
import io, os, struct, sys
from PIL import Image
out = sys.argv[1]
im = Image.open("samples/content/chelsea.jpg").convert("RGB").resize((12, 8))
for fmt, ext, kw in [("PNG", "png", {}), ("JPEG", "jpg", {"quality": 50}), ("JPEG", "prog.jpg", {"progressive": True}),
                     ("BMP", "bmp", {}), ("GIF", "gif", {}), ("TGA", "tga", {}), ("PPM", "ppm", {})]:
    im.save(os.path.join(out, "seed." + ext), fmt, **kw)
im.convert("LA").save(os.path.join(out, "seed_la.png"))
im.convert("RGBA").save(os.path.join(out, "seed_rgba.png"))
im.convert("L").save(os.path.join(out, "seed_gray.pgm"))
im.save(os.path.join(out, "seed_rle.tga"), "TGA", compression="tga_rle")
EOF2

# an archive: a 2-run sweep on one rank
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cat >"$T/m.yaml" <<EOF2
sweep: seed
defaults:
  content: $PWD/samples/content/chelsea.jpg
  style: [$PWD/samples/style/starry_night.jpg]
  weights: random
  channels_div: 8
  image_size: 16
  content_layer: conv2_2
  style_layers: [conv1_1, conv2_1]
  iterations: 2
  evals_per_iteration: 2
  snapshots: {first: 1, every: 1}
experiments:
  - {id: a}
  - {id: b, pool: max}
EOF2
"$BIN" run "$T/m.yaml" -o "$OUT/archive/seed.h5" -q --threads 1

# weights: small files in the layout of tests/data/ref_vgg16_div8.h5
"$PY" - "$OUT/weights" <<'EOF2'
import os, sys
sys.path.insert(0, "tests/fuzz")
import make_regressions as m
m.weights_file(os.path.join(sys.argv[1], "seed_block1.h5"))
m.weights_file(os.path.join(sys.argv[1], "seed_two.h5"), groups=("block1_conv1", "block1_conv2"))
EOF2

# the regression inputs
for k in image weights manifest archive; do
    if [ -d "tests/fuzz/regressions/$k" ]; then cp tests/fuzz/regressions/$k/* "$OUT/$k/"; fi
done
echo "make_seeds: $(find "$OUT" -type f | wc -l) seeds in $OUT"
