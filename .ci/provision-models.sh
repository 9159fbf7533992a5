#!/usr/bin/env bash
# Provisions the real models and the photograph used by the load benchmark and the real-model
# pipeline tests: PaddleOCR models shipped inside the `rapidocr-onnxruntime==1.4.4` wheel, and
# matplotlib's sample photograph `grace_hopper.jpg` from the `matplotlib==3.9.2` wheel, both on
# PyPI. Nothing is committed; the wheels' SHA-256 are pinned. Idempotent and offline once done.
#
#   .ci/provision-models.sh   -> target/models/ch_ppocr_mobile_v2.0_cls_infer.onnx
#                                target/models/ch_PP-OCRv4_det_infer.onnx
#                                target/models/grace_hopper.jpg
set -euo pipefail

WHEEL=rapidocr_onnxruntime-1.4.4-py3-none-any.whl
WHEEL_SHA256=971d7d5f223a7a808662229df1ef69893809d8457d834e6373d3854bc1782cbf
MODELS="ch_ppocr_mobile_v2.0_cls_infer.onnx:e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c
ch_PP-OCRv4_det_infer.onnx:d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${INFERKIT_MODEL_CACHE:-$root/target/models}
mkdir -p "$dest"
sha() { sha256sum "$1" | cut -d' ' -f1; }

missing=0
for entry in $MODELS; do
  name=${entry%%:*}; want=${entry##*:}
  if [ ! -f "$dest/$name" ] || [ "$(sha "$dest/$name")" != "$want" ]; then missing=1; fi
done
if [ "$missing" = 0 ]; then
  skip_models=1
else
  skip_models=0
fi

if [ "$skip_models" = 0 ]; then
if [ ! -f "$dest/$WHEEL" ] || [ "$(sha "$dest/$WHEEL")" != "$WHEEL_SHA256" ]; then
  echo "provision-models: downloading rapidocr-onnxruntime 1.4.4 from PyPI" >&2
  rm -f "$dest/$WHEEL"
  python3 -m pip download --quiet --no-deps --only-binary=:all: "rapidocr-onnxruntime==1.4.4" -d "$dest"
fi
got=$(sha "$dest/$WHEEL")
if [ "$got" != "$WHEEL_SHA256" ]; then
  echo "provision-models: $WHEEL has SHA-256 $got, expected $WHEEL_SHA256; refusing it" >&2
  rm -f "$dest/$WHEEL"
  exit 1
fi
for entry in $MODELS; do
  name=${entry%%:*}; want=${entry##*:}
  python3 - "$dest/$WHEEL" "$dest" "$name" <<'PY'
import shutil, sys, zipfile
wheel, dest, name = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open("rapidocr_onnxruntime/models/" + name) as src, open(dest + "/" + name + ".part", "wb") as out:
    shutil.copyfileobj(src, out)
PY
  mv "$dest/$name.part" "$dest/$name"
  got=$(sha "$dest/$name")
  if [ "$got" != "$want" ]; then
    echo "provision-models: $name has SHA-256 $got, expected $want" >&2
    exit 1
  fi
done
fi
photo_ready() {
  [ -f "$dest/grace_hopper.jpg" ] && [ "$(sha "$dest/grace_hopper.jpg")" = a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130 ]
}
if ! photo_ready; then
  MPL=matplotlib-3.9.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
  if [ ! -f "$dest/$MPL" ] || [ "$(sha "$dest/$MPL")" != f6ee45bc4245533111ced13f1f2cace1e7f89d1c793390392a80c139d6cf0e6c ]; then
    echo "provision-models: downloading matplotlib 3.9.2 from PyPI (for its sample photograph)" >&2
    rm -f "$dest/$MPL"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 "matplotlib==3.9.2" -d "$dest"
  fi
  if [ "$(sha "$dest/$MPL")" != f6ee45bc4245533111ced13f1f2cace1e7f89d1c793390392a80c139d6cf0e6c ]; then
    echo "provision-models: $MPL does not have the pinned SHA-256; refusing it" >&2
    rm -f "$dest/$MPL"
    exit 1
  fi
  python3 - "$dest/$MPL" "$dest" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    data = z.read("matplotlib/mpl-data/sample_data/grace_hopper.jpg")
open(dest + "/grace_hopper.jpg", "wb").write(data)
PY
  photo_ready || { echo "provision-models: grace_hopper.jpg has an unexpected SHA-256" >&2; exit 1; }
fi
echo "provision-models: models ready in $dest" >&2
