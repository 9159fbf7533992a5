#!/usr/bin/env bash
# Runs inferkit's Rust tests on aarch64 Linux: cross-built here with Debian's gcc-aarch64-linux-gnu,
# run under qemu-user against ONNX Runtime's own aarch64 build (the manylinux aarch64 wheel, SHA-256
# pinned in provision-ort.sh).
#
#   .ci/test-aarch64.sh              the library's unit tests and every integration test, less the
#                                    ones named in SKIP and SLOW below (with the reasons); what
#                                    `make test` runs
#   .ci/test-aarch64.sh --all        the same with SLOW too (make test-aarch64-all)
#   .ci/test-aarch64.sh -- ARGS      cargo test arguments instead (e.g. `--test batching`)
#
# Setup, once per machine: the cross compiler, the aarch64 C library and qemu-user-static from
# Debian (apt-get, as root), the Rust target (rustup). The build goes to target/aarch64-unknown-linux-gnu/.
set -euo pipefail

T=aarch64-unknown-linux-gnu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

find_qemu() { command -v qemu-aarch64-static || command -v qemu-aarch64 || true; }
have_tools() {
  command -v aarch64-linux-gnu-gcc >/dev/null && [ -n "$(find_qemu)" ] \
    && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]
}
. .ci/debian-packages.sh
ensure_packages test-aarch64 have_tools gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
qemu=$(find_qemu)
rustup target add "$T" >/dev/null
.ci/provision-ort.sh "$T"
.ci/provision-models.sh

# The host's ONNX Runtime must not be named: the tests load the aarch64 one beside them.
unset INFERKIT_ORT_DYLIB ORT_DYLIB_PATH

# qemu's -L prefix: the aarch64 C library (/lib), and a /proc/cpuinfo of aarch64 processors.
# qemu 7 passes the host's (x86) /proc/cpuinfo through, in which the CPU detection ONNX Runtime
# runs when it loads (pytorch/cpuinfo) finds no ARM processor and dereferences NULL; qemu looks
# for a guest's absolute paths under -L first, so this file is what ONNX Runtime reads. It numbers
# processors up to the highest in /sys/devices/system/cpu/present ("0-1" gives two), which the
# detection also reads. (The runner is split at spaces by cargo: the checkout's path must have none.)
sysroot=$root/target/qemu-$T
mkdir -p "$sysroot/proc"
ln -sfn /usr/aarch64-linux-gnu/lib "$sysroot/lib"
cpus=$(( $(sed 's/.*[-,]//' /sys/devices/system/cpu/present) + 1 ))
for ((i = 0; i < cpus; i++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x3\nCPU part\t: 0xd0c\nCPU revision\t: 1\n\n' "$i"
done > "$sysroot/proc/cpuinfo"

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
# The tests find ONNX Runtime beside their executables, where the build script links
# target/onnxruntime-$T/ (nothing is set for it).
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$qemu -L $sysroot"

# Tests left out under qemu, each with its reason:
# - runtime_lookup: runs copies of its own executable as child processes, which needs the kernel
#   to hand aarch64 executables to qemu (binfmt_misc), a host setting this script does not make.
SKIP=(runtime_lookup)
# - SLOW, left out unless --all: tests that hold the one session with a 16,000-row run of
#   slow.onnx while they fill, cancel or time out the queue (four in batching, two in metrics).
#   Each takes 43-45 s under qemu on an AMD EPYC host, and minutes on an Intel Xeon host (a
#   blocking request withdrawn by its token was still waiting for that run after 150 s there;
#   well under a second natively; two run at a time): with them
#   the run takes about 230 s, without them about 90 s, incremental build included. What they
#   check is the scheduler's
#   bookkeeping, the same code on every architecture (and qemu on an x86 host keeps x86's memory
#   ordering, so it would not find an ordering bug either: the loom models are for that).
#   Also a_long_batch_is_shared_with_an_idle_session: 3,200 rows of mlp_large in callback
#   chains, 0.1 s natively; under qemu on an Intel Xeon host it did not finish within its 120 s
#   (at 7aed292 as well as after). Under qemu some of its runs also failed with ONNX Runtime's
#   "GetElementType is not implemented" (not seen natively; unexplained, recorded in issue 10).
SLOW=(a_cancel_that_returns_true_is_always_answered_cancelled a_queued_request_can_be_cancelled
      a_deadline_that_passes_in_the_queue_means_the_request_is_not_run
      a_full_queue_refuses_at_once_and_loses_nothing_accepted
      async_requests_queue_full_and_cancellations_are_counted
      a_blocking_request_withdrawn_by_its_token_is_counted
      a_long_batch_is_shared_with_an_idle_session)

filter=()
case "${1:-}" in
  --)
    shift
    args=("$@")
    ;;
  --all|"")
    # The tokenizer feature too, so that tests/text.rs has its tests.
    args=(--features tokenizer --lib)
    for t in tests/*.rs; do
      name=$(basename "$t" .rs)
      [[ " ${SKIP[*]} " == *" $name "* ]] || args+=(--test "$name")
    done
    if [ "${1:-}" != --all ]; then
      for s in "${SLOW[@]}"; do filter+=(--skip "$s"); done
    fi
    ;;
  *) echo "usage: $0 [--all | -- CARGO_TEST_ARGS]" >&2; exit 2 ;;
esac

start=$(date +%s)
cargo test --target "$T" "${args[@]}" -- ${filter[@]+"${filter[@]}"}
echo "test-aarch64: passed under $(basename "$qemu") in $(( $(date +%s) - start )) s (build included)"
