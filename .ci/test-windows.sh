#!/usr/bin/env bash
# Runs inferkit's Rust tests for Windows: cross-built here with Debian's MinGW-w64
# (x86_64-pc-windows-gnu), run under wine against ONNX Runtime's own Windows build (onnxruntime.dll
# from the win_amd64 wheel, SHA-256 pinned in provision-ort.sh). The Windows code of
# src/platform.rs runs for real: ONNX Runtime is found beside the test executables through
# GetModuleHandleExW, the per-user cache is %LOCALAPPDATA%'s (tests/runtime_discovery.rs checks
# that errors name it), paths are UTF-16.
#
#   .ci/test-windows.sh              the library's unit tests and every integration test
#   .ci/test-windows.sh -- ARGS      cargo test arguments instead (e.g. `--test batching`)
#
# Setup, once per machine: wine64 and gcc-mingw-w64-x86-64 from Debian (apt-get, as root or
# through sudo -n), the Rust target (rustup). The build goes to target/x86_64-pc-windows-gnu/, the
# wine prefix to target/wine-prefix/.
set -euo pipefail

T=x86_64-pc-windows-gnu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

find_wine() { command -v wine64 || { [ -x /usr/lib/wine/wine64 ] && echo /usr/lib/wine/wine64; } || command -v wine || true; }
have_tools() { command -v x86_64-w64-mingw32-gcc >/dev/null && [ -n "$(find_wine)" ]; }
. .ci/debian-packages.sh
ensure_packages test-windows have_tools wine64 gcc-mingw-w64-x86-64
wine=$(find_wine)
rustup target add "$T" >/dev/null
.ci/provision-ort.sh "$T"
.ci/provision-models.sh
unset INFERKIT_ORT_DYLIB ORT_DYLIB_PATH

# A wine prefix of the tests' own, quiet: no Mono or Gecko installers, no debug channels.
export WINEPREFIX=$root/target/wine-prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wineserver=$(command -v wineserver || echo "$(dirname "$wine")/wineserver")
if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
  "$wine" wineboot -i >/dev/null 2>&1 || true
  # wineboot returns before the prefix is complete; wait for the wine server to finish it.
  "$wineserver" -w || true
fi
# One wine server for the whole run: by default it exits 3 s after its last program, and a test
# program started while it shuts down can fail to start at all (seen: exit status 1, no output).
"$wineserver" -p
trap '"$wineserver" -k 2>/dev/null || true' EXIT
[ -e "$WINEPREFIX/drive_c/windows/system32/kernel32.dll" ] \
  || { echo "test-windows: wineboot made no prefix at $WINEPREFIX" >&2; exit 1; }
# Wine 8.13 and later have bcryptprimitives.dll (Debian 12 has 8.0): the shim goes in only where
# there is none, and is rebuilt when its source changes (the marker says the DLL is the shim).
dll=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
marker=$WINEPREFIX/inferkit-bcryptprimitives-shim
if [ ! -e "$dll" ] || { [ -e "$marker" ] && [ .ci/wine/bcryptprimitives.c -nt "$dll" ]; }; then
  x86_64-w64-mingw32-gcc -shared -O2 -o "$dll" .ci/wine/bcryptprimitives.c -ladvapi32
  touch "$marker"
fi

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$wine

if [ "${1:-}" = "--" ]; then
  shift
  args=("$@")
else
  # runtime_lookup is Linux's (LD_LIBRARY_PATH, SONAME links) and compiles to no tests here.
  args=(--features tokenizer --lib)
  for t in tests/*.rs; do args+=(--test "$(basename "$t" .rs)"); done
fi

start=$(date +%s)
cargo test --target "$T" "${args[@]}"
echo "test-windows: passed under wine ($("$wine" --version 2>/dev/null || echo wine)) in $(( $(date +%s) - start )) s (build included)"
