#!/usr/bin/env bash
# Provisions the real models used by the load benchmark (and the pipeline tests): PaddleOCR models
# shipped inside the `rapidocr-onnxruntime==1.4.4` wheel on PyPI. Nothing is committed; the
# wheel's SHA-256 is pinned. Idempotent and offline once done.
#
#   .ci/provision-models.sh   -> target/models/ch_ppocr_mobile_v2.0_cls_infer.onnx
#                                target/models/ch_PP-OCRv4_det_infer.onnx
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
[ "$missing" = 0 ] && exit 0

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
echo "provision-models: models ready in $dest" >&2
