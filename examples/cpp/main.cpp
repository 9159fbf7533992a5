// inferkit from C++: check the ABI, open a model, print its signature, run one request blocking,
// then submit it and wait for the answer through a std::future.
//
//     cmake -S examples/cpp -B build/example-cpp && cmake --build build/example-cpp
//     ./build/example-cpp/example_cpp tests/fixtures/mlp.onnx
//
// or directly:
//
//     g++ -std=c++17 -Iinclude examples/cpp/main.cpp target/release/libinferkit.a -lpthread -ldl -lm
//
// Every input must be an f32 tensor: each gets a std::vector<float> of 0.25, a dim the model leaves
// open being 1. (mlp.onnx takes x: f32[batch, 16] and returns y: f32[batch, 4].) ONNX Runtime is
// found as inferkit_runtime_init(NULL) finds it: INFERKIT_ORT_DYLIB, ORT_DYLIB_PATH, ….
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "inferkit.hpp"

namespace {

std::string dims(inferkit::Span<std::int64_t> shape) {
  std::ostringstream s;
  s << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

// One output: name, dtype and shape, and its first values when they are f32.
void print_output(const char *how, const inferkit::Outputs &out, std::size_t index) {
  if (out.value(index).kind() != INFERKIT_VALUE_KIND_TENSOR) {
    std::cout << how << ": " << out.name(index) << " (not a tensor)\n";
    return;
  }
  if (out.value(index).tensor().dtype() == INFERKIT_DTYPE_STRING) {
    std::cout << how << ": " << out.name(index) << " = " << out.strings(index).size() << " strings\n";
    return;
  }
  const inferkit::RawTensor raw = out.raw(index);
  std::cout << how << ": " << raw.name << ": " << inferkit::dtype_name(raw.dtype) << dims(raw.shape);
  if (raw.dtype == INFERKIT_DTYPE_F32) {
    const inferkit::TensorView<float> y = out.get<float>(index);
    std::cout << " = [";
    for (std::size_t i = 0; i < y.size() && i < 8; ++i) std::cout << (i ? ", " : "") << y[i];
    std::cout << (y.size() > 8 ? ", ...]" : "]");
  }
  std::cout << '\n';
}

// Whether two outputs hold the same tensors (bytes of numeric tensors, strings of string ones).
bool same(const inferkit::Outputs &a, const inferkit::Outputs &b) {
  if (a.count() != b.count()) return false;
  for (std::size_t i = 0; i < a.count(); ++i) {
    if (a.value(i).kind() != INFERKIT_VALUE_KIND_TENSOR) continue;
    const inferkit::Span<std::uint8_t> x = a.value(i).tensor().bytes(), y = b.value(i).tensor().bytes();
    if (x.to_vector() != y.to_vector()) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::cerr << "usage: " << (argc > 0 ? argv[0] : "example_cpp") << " <model.onnx>\n";
    return 2;
  }
  try {
    inferkit::Runtime::check_abi();
    const inferkit::AbiVersion abi = inferkit::Runtime::abi_version();
    std::cout << "inferkit " << inferkit::Runtime::version() << " (ABI " << abi.major << '.' << abi.minor << ")\n";

    inferkit::ModelOptions options;
    options.set_instances(1);
    const inferkit::Model model = inferkit::Model::open(argv[1], options);
    std::cout << "model " << model.name() << " on ONNX Runtime " << inferkit::Runtime::ort_version().value_or("?")
              << " (" << inferkit::Runtime::ort_path().value_or("?") << ")\n";
    for (const inferkit::TensorInfo &t : model.inputs()) std::cout << "  input  " << t.name << ": " << t.type << '\n';
    for (const inferkit::TensorInfo &t : model.outputs()) std::cout << "  output " << t.name << ": " << t.type << '\n';

    // One std::vector<float> per input, of the right size; borrowed by the request, so they live
    // until its last run.
    inferkit::Request request(model);
    std::vector<std::vector<float>> inputs;
    for (const inferkit::TensorInfo &t : model.inputs()) {
      if (t.kind != INFERKIT_VALUE_KIND_TENSOR || t.dtype != INFERKIT_DTYPE_F32) {
        std::cerr << "input " << t.name << " is " << t.type << ": this example feeds f32 tensors only\n";
        return 1;
      }
      std::vector<std::int64_t> shape = t.any_shape ? std::vector<std::int64_t>{1} : t.shape();
      std::size_t elements = 1;
      for (std::int64_t &d : shape) {
        if (d < 0) d = 1;
        elements *= static_cast<std::size_t>(d);
      }
      inputs.emplace_back(elements, 0.25f);
      request.add_tensor(t.name, inputs.back(), shape);
    }
    request.set_timeout(std::chrono::seconds(10));

    // Blocking.
    const inferkit::Outputs outputs = request.run();
    for (std::size_t i = 0; i < outputs.count(); ++i) print_output("run", outputs, i);

    // Submitted: the inputs are copied, the outputs come through the future (or its get() throws).
    inferkit::Submitted submitted = request.submit();
    const inferkit::Outputs later = submitted.future.get();
    for (std::size_t i = 0; i < later.count(); ++i) print_output("submit", later, i);
    std::cout << "pending is done: " << (submitted.pending.is_done() ? "yes" : "no") << '\n';
    if (!same(outputs, later)) {
      std::cerr << "submit and run disagree\n";
      return 1;
    }
    return 0;
  } catch (const inferkit::Error &e) {
    std::cerr << "inferkit: " << e.status_name() << ": " << e.what() << '\n';
  } catch (const std::exception &e) {
    std::cerr << "error: " << e.what() << '\n';
  }
  return 1;
}
