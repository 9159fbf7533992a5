#!/usr/bin/env bash
# A Rust user's first run, outside this repository (`make test-rust-user`; not in `make test`: it
# builds inferkit's dependency tree afresh, about 2 minutes on 2 CPUs): the crate as `cargo
# package` ships it, a new binary crate depending on it by path, a fresh HOME, and the one
# documented command that provisions ONNX Runtime into inferkit's per-user cache. Then `cargo run`
# with no inferkit variable set must find ONNX Runtime and serve a request.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$root/target/rust-user
rm -rf "$work"; mkdir -p "$work/home" "$work/app/src"
export CARGO_HOME=${CARGO_HOME:-$HOME/.cargo} RUSTUP_HOME=${RUSTUP_HOME:-$HOME/.rustup}
export HOME=$work/home
unset INFERKIT_ORT_DYLIB ORT_DYLIB_PATH XDG_CACHE_HOME LD_LIBRARY_PATH

(cd "$root" && cargo package --allow-dirty --no-verify --quiet)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
tar -xzf "$root/target/package/inferkit-$version.crate" -C "$work"
if grep -rqs "target/onnxruntime" "$work/inferkit-$version/target" 2>/dev/null; then
  echo "test-rust-user: the package carries a provisioned runtime" >&2; exit 1
fi

# The one documented command (README, "Rust").
python3 -m pip install --quiet --no-deps --only-binary=:all: --target ~/.cache/inferkit/ort-1.31.1 onnxruntime==1.31.1

cp "$root/tests/fixtures/mlp.onnx" "$work/app/"
cat > "$work/app/Cargo.toml" <<TOML
[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
inferkit = { path = "../inferkit-$version" }
TOML
cat > "$work/app/src/main.rs" <<'RS'
use inferkit::{Model, Runtime, TensorView};

fn main() -> Result<(), inferkit::Error> {
    let model = Model::open("mlp.onnx")?;
    let x = [0.25f32; 16];
    let out = model.infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])?;
    let y: &[f32] = out["y"].as_slice()?;
    println!("y = {y:?}");
    println!("ONNX Runtime from {}", Runtime::get().unwrap().dylib_path().display());
    Ok(())
}
RS
cd "$work/app"
cargo run --quiet | tee "$work/run.log"
grep -q "ONNX Runtime from" "$work/run.log"
# The build script linked the cached library beside the binary, so a copy of target/debug runs
# without the cache too.
ls "$work/app/target/debug/libonnxruntime.so.1.31.1" >/dev/null
mv "$HOME/.cache" "$HOME/cache-moved"
"$work/app/target/debug/app" | grep "ONNX Runtime from $work/app/target/debug/"
echo "test-rust-user: passed"
