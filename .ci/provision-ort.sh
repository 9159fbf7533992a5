#!/usr/bin/env bash
# Provisions ONNX Runtime for inferkit's build tree, from the official `onnxruntime` wheel on PyPI.
#
#   .ci/provision-ort.sh            -> target/onnxruntime/libonnxruntime.so.1.31.1 (this machine, Linux x86_64)
#   .ci/provision-ort.sh aarch64-unknown-linux-gnu
#                                   -> target/onnxruntime-aarch64-unknown-linux-gnu/libonnxruntime.so.1.31.1
#                                      (for cross builds; the build script links it beside that target's tests)
#   .ci/provision-ort.sh x86_64-pc-windows-gnu
#                                   -> target/onnxruntime-x86_64-pc-windows-gnu/onnxruntime.dll (for wine)
#
# The wheel's SHA-256 is pinned; a wheel that does not match is refused. Idempotent: when the
# library is already in place and matches its pinned SHA-256, nothing is downloaded, so a second
# run works with the network cut. The library is the one file inferkit needs from the wheel.
# cargo's build script links it beside what cargo builds (target/<profile>/, deps/, examples/),
# where runtime discovery finds it (see src/runtime.rs); nothing compiled refers to this directory.
set -euo pipefail

ORT_VERSION=1.31.1
LIB=libonnxruntime.so.${ORT_VERSION}
root=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in
  "")
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ;;
      *) echo "provision-ort: only Linux x86_64 is provisioned automatically; set INFERKIT_ORT_DYLIB to an ONNX Runtime ${ORT_VERSION} library" >&2; exit 1 ;;
    esac
    PLATFORM=manylinux_2_28_x86_64
    WHEEL_SHA256=1f3dea47f2f0e5117c2404cea7d21fd253ae7836a3bf167a501cdfbb2600d536
    LIB_SHA256=fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3
    dest=${INFERKIT_ORT_CACHE:-$root/target/onnxruntime}
    ;;
  x86_64-pc-windows-gnu)
    PLATFORM=win_amd64
    WHEEL_SHA256=ae8a9a351efda685cc59a66226cdefaa37a126c1d66872ca23a2de9425326130
    LIB=onnxruntime.dll
    LIB_SHA256=e45f61e50d8650885452be538a00bb14a715e46a1bc3691000ce947e89ed0306
    dest=$root/target/onnxruntime-$1
    ;;
  aarch64-unknown-linux-gnu)
    PLATFORM=manylinux_2_28_aarch64
    WHEEL_SHA256=0b9a492176886992e0e875f06bc0367e333f5fff11711a2d642e18b02f3009cc
    LIB_SHA256=8aa3b76b28c778a2b1dd660d34161adb1d508c9ccd04ff9dc80e26eca5df8467
    dest=$root/target/onnxruntime-$1
    ;;
  *) echo "provision-ort: unknown target $1 (known: aarch64-unknown-linux-gnu, x86_64-pc-windows-gnu)" >&2; exit 1 ;;
esac
WHEEL=onnxruntime-${ORT_VERSION}-cp312-cp312-${PLATFORM}.whl
mkdir -p "$dest"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# The SONAME beside the file, as ONNX Runtime's own archives have it: a program whose rpath names
# this directory finds it through the system loader (the C tests are linked that way).
link_soname() { case "$LIB" in *.so.*) ln -sfn "$LIB" "$dest/libonnxruntime.so.1" ;; esac; }

if [ -f "$dest/$LIB" ] && [ "$(sha "$dest/$LIB")" = "$LIB_SHA256" ]; then
  link_soname
  exit 0
fi

if [ ! -f "$dest/$WHEEL" ] || [ "$(sha "$dest/$WHEEL")" != "$WHEEL_SHA256" ]; then
  echo "provision-ort: downloading onnxruntime ${ORT_VERSION} ($PLATFORM) from PyPI" >&2
  rm -f "$dest/$WHEEL"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --platform "$PLATFORM" "onnxruntime==${ORT_VERSION}" -d "$dest"
fi
got=$(sha "$dest/$WHEEL")
if [ "$got" != "$WHEEL_SHA256" ]; then
  echo "provision-ort: $WHEEL has SHA-256 $got, expected $WHEEL_SHA256; refusing it" >&2
  rm -f "$dest/$WHEEL"
  exit 1
fi

python3 - "$dest/$WHEEL" "$dest" "$LIB" <<'PY'
import shutil, sys, zipfile
wheel, dest, lib = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open("onnxruntime/capi/" + lib) as src, open(dest + "/" + lib + ".part", "wb") as out:
    shutil.copyfileobj(src, out)
PY
mv "$dest/$LIB.part" "$dest/$LIB"
got=$(sha "$dest/$LIB")
if [ "$got" != "$LIB_SHA256" ]; then
  echo "provision-ort: extracted $LIB has SHA-256 $got, expected $LIB_SHA256" >&2
  exit 1
fi
link_soname
echo "provision-ort: ONNX Runtime ${ORT_VERSION} ready at $dest/$LIB" >&2
