#!/usr/bin/env bash
# inferkit on WebAssembly: the library with the tract backend and the decode feature (no ONNX
# Runtime: a wasm32-wasip1 program cannot load shared libraries), built for wasm32-wasip1, and
# tests/wasi.rs run under Node.js's WASI (tests/wasm/wasi.mjs): a fixture model through an image
# pipeline, decoded PNG to labelled classes. Node.js comes with the machine; the Rust target is
# added with rustup when it is missing.
#
#   .ci/test-wasm.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target=wasm32-wasip1
if ! rustup target list --installed | grep -qx "$target"; then
  rustup target add "$target"
fi
command -v node >/dev/null || { echo "test-wasm: node (Node.js 20 or newer, for its WASI) is missing" >&2; exit 1; }

export CARGO_TARGET_WASM32_WASIP1_RUNNER="node --no-warnings $PWD/tests/wasm/wasi.mjs"
cargo test --target "$target" --no-default-features --features tract,decode --test wasi
