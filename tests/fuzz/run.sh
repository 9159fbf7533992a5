#!/usr/bin/env bash
# Builds the fuzz targets of tests/fuzz once, runs each for SECONDS, and says per target how many
# inputs it ran and whether it crashed. Exits 1 if any target crashed (or failed to run).
#
#   tests/fuzz/run.sh SECONDS [TARGET...]      # default: every target
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`), and ONNX Runtime
# where `make provision` puts it (or INFERKIT_ORT_DYLIB). Everything it writes is under target/:
#   target/fuzz-target/             the build (its own target dir: sanitizer flags differ)
#   target/fuzz-corpus/<target>/    inputs libFuzzer found interesting, kept between runs of a minute
#                                   or more (shorter runs, like `make fuzz-smoke`, start from the
#                                   committed seeds alone in target/fuzz-corpus-fresh/, emptied
#                                   first, so that they take the same time however much was found)
#   target/fuzz-artifacts/<target>/ crashing, leaking, timing-out or out-of-memory inputs
#   target/fuzz-logs/<target>.log   libFuzzer's output
# The committed seeds (tests/fuzz/corpus/<target>/) are read, never written.
#
# Environment: FUZZ_TARGET_DIR (build dir), FUZZ_NO_BUILD=1 (run what is built), FUZZ_FRESH=0|1
# (override the choice of corpus above), FUZZ_ARGS (extra libFuzzer flags, e.g. "-jobs=2"),
# FUZZ_TIMEOUT (seconds one input may take, default 120: fuzzing niced on a busy machine can be
# slow), FUZZ_RSS_MB (default 4096),
# CARGO_BUILD_JOBS (build parallelism), CARGO (default cargo).
set -uo pipefail

usage() { echo "usage: $0 SECONDS [TARGET...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
secs=$1; shift
case $secs in ''|*[!0-9]*) usage ;; esac

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
fuzz_dir=tests/fuzz
all=(model_bytes config_toml pipeline_spec encoded_image c_abi_sequence)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi
for t in "${targets[@]}"; do
  [ -f "$fuzz_dir/fuzz_targets/$t.rs" ] || { echo "run.sh: no fuzz target \`$t\` (have: ${all[*]})" >&2; exit 2; }
done

cargo=${CARGO:-cargo}
target_dir=${FUZZ_TARGET_DIR:-$root/target/fuzz-target}
if ! $cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "run.sh: \`cargo +nightly fuzz\` is missing: rustup toolchain install nightly && cargo install cargo-fuzz --locked" >&2
  exit 2
fi
if [ -z "${INFERKIT_ORT_DYLIB:-}" ] && [ ! -f target/onnxruntime/libonnxruntime.so.1.31.1 ]; then
  echo "run.sh: ONNX Runtime is not provisioned: run \`make provision\` (or set INFERKIT_ORT_DYLIB)" >&2
  exit 2
fi

# One build for every target asked for. The runs below start the built binaries themselves rather
# than through `cargo fuzz run`, which would build again (twice) whenever src/ changed meanwhile.
start=$(date +%s)
build_args=()
[ "${#targets[@]}" -eq 1 ] && build_args=("${targets[0]}")
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir=$target_dir/$triple/release
if [ "${FUZZ_NO_BUILD:-0}" = 1 ]; then
  echo "== not building (FUZZ_NO_BUILD=1): running the binaries in $bin_dir"
else
  echo "== building ${targets[*]} (target dir $target_dir)"
  if ! $cargo +nightly fuzz build --fuzz-dir "$fuzz_dir" --target-dir "$target_dir" "${build_args[@]}"; then
    echo "run.sh: build failed" >&2
    exit 1
  fi
  echo "== built in $(( $(date +%s) - start )) s"
fi
# As `cargo fuzz run` sets it (Rust's statics trip ASan's ODR check).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}

mkdir -p target/fuzz-logs
failed=0
summary=()
fresh=${FUZZ_FRESH:-$([ "$secs" -lt 60 ] && echo 1 || echo 0)}
for t in "${targets[@]}"; do
  if [ "$fresh" = 1 ]; then
    corpus=target/fuzz-corpus-fresh/$t
    rm -rf "$corpus"
  else
    corpus=target/fuzz-corpus/$t
  fi
  artifacts=target/fuzz-artifacts/$t
  log=target/fuzz-logs/$t.log
  mkdir -p "$corpus" "$artifacts"
  echo "== $t: ${secs} s"
  t0=$(date +%s.%N)
  # New inputs go to the scratch corpus (first dir); the committed seeds are only read. This is
  # `cargo +nightly fuzz run $t --fuzz-dir tests/fuzz $corpus tests/fuzz/corpus/$t -- ...` without
  # the rebuild.
  extra=()
  [ -f "$fuzz_dir/dicts/$t.dict" ] && extra+=("-dict=$fuzz_dir/dicts/$t.dict")
  # Programs need room to do something; libFuzzer would otherwise start them at a few bytes.
  [ "$t" = c_abi_sequence ] && extra+=(-max_len=512 -len_control=0)
  # shellcheck disable=SC2086
  "$bin_dir/$t" "$corpus" "$fuzz_dir/corpus/$t" \
    -max_total_time="$secs" -timeout="${FUZZ_TIMEOUT:-120}" -rss_limit_mb="${FUZZ_RSS_MB:-4096}" \
    -report_slow_units="${FUZZ_TIMEOUT:-120}" \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "${extra[@]}" ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  runs=$(grep -a -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  [ -n "$runs" ] || runs=$(grep -a -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  [ -n "$runs" ] || runs=0
  rate=$(awk -v n="$runs" -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; printf "%.0f", (d > 0 ? n / d : 0) }')
  artifact=$(grep -a -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/^Test unit written to //')
  if [ $rc -eq 0 ]; then
    line="$t: $runs executions, ~$rate/s, no crash"
  else
    failed=1
    kind=$(grep -a -oE '^==[0-9]+== ?ERROR: [A-Za-z]+: [a-z-]+|ERROR: libFuzzer: [a-z-]+|panicked at [^:]+:[0-9]+' "$log" | head -1)
    line="$t: $runs executions, ~$rate/s, CRASH (exit $rc) ${kind:+[$kind] }input: ${artifact:-none written}; log: $log"
  fi
  echo "$line"
  summary+=("$line")
done

echo "== summary"
printf '%s\n' "${summary[@]}"
exit $failed
