# inferkit: the two commands of the README, and the steps they are made of.
#
#   make demo    the main job: a demo serving the bundled models
#   make test    every test: Rust (unit, integration, doc, examples), loom models, the C ABI under
#                ASan/UBSan and valgrind, the C example, the header's freshness and documentation,
#                the header as C99/C11/C++11/C++17, fmt, clippy and rustdoc, the ONNX conformance
#                run beside onnxruntime's Python API, and each fuzz target for 5 s
#   make fuzz    each fuzz target for FUZZ_SECONDS (600); make soak: the registry hammer for
#                SOAK_SECONDS (60) in a release build
#
# Both provision first: ONNX Runtime (.ci/provision-ort.sh) and the real models and photograph used
# by tests/real_models.rs and the load benchmark (.ci/provision-models.sh); PyPI wheels, SHA-256
# pinned, idempotent, offline once done.

CARGO    ?= cargo
CC       ?= gcc
CXX      ?= g++
CWARN    := -Wall -Wextra -Wpedantic -Werror
SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CDIR     := target/c
LIBDIR   := target/debug
CLIBS    := -lpthread -ldl -lm

.PHONY: demo test provision build test-rust examples example-c test-loom test-c lint doc header soak clean fuzz fuzz-smoke fuzz-tools conformance

demo: provision
	$(CARGO) run --release --example quickstart

test: provision lint test-rust test-loom test-c example-c conformance fuzz-smoke
	@echo "make test: all tests passed"

provision:
	@.ci/provision-ort.sh
	@.ci/provision-models.sh

build: provision
	$(CARGO) build

test-rust: provision
	$(CARGO) test
	$(CARGO) test --features tokenizer --test text
	$(MAKE) examples

# Every example runs to the end (each exits non-zero on a failure); pipeline once more with the
# tokenizer feature, which adds text.
EXAMPLES := quickstart values options submit pipeline registry metrics

examples: provision
	@for e in $(EXAMPLES); do echo "== cargo run --example $$e"; $(CARGO) run --quiet --example $$e >/dev/null || exit 1; done
	$(CARGO) run --quiet --features tokenizer --example pipeline >/dev/null

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
	INFERKIT_UPDATE_HEADER=1 $(CARGO) build

# The C ABI tests (tests/c): each test_<concept>.c is built twice, with ASan/UBSan against the static
# library and plainly against the shared one, and run both ways (the plain build under valgrind);
# every test runs even when one fails, and the target fails if any did. The header is compiled as
# C99, C11, C++11 and C++17.
CTESTS        := version options model request submit pipeline values registry containment
CRUN_ASAN     := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
CRUN_VALGRIND := valgrind --quiet --suppressions=tests/c/valgrind.supp --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=1

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

# The C example (examples/c/request.c), built as a host would build it, and run.
example-c: build
	@mkdir -p $(CDIR)
	$(CC) -std=c11 $(CWARN) -Iinclude examples/c/request.c -L$(LIBDIR) -linferkit -Wl,-rpath,$(CURDIR)/$(LIBDIR) $(CLIBS) -o $(CDIR)/example_request
	$(CDIR)/example_request tests/fixtures/mlp.onnx

# Conformance: every ONNX backend node test the onnx 1.21 wheel ships, through inferkit's C ABI and
# through onnxruntime's Python API, side by side. Fails when inferkit does not pass every case the
# Python API passes, or when a case crashes or hangs (each case runs in a worker process that a
# crash cannot take the run down with). Results: target/conformance/*.json; tests/conformance/run.py.
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
