// What the C++ tests share: fixture paths, a reader of tensor packs (the reference inputs and
// outputs onnxruntime produced in Python; format in tests/fixtures/make_fixtures.py and
// tests/c/common.h), comparisons, and EXPECT_IK_ERROR.
#ifndef INFERKIT_CPP_TEST_COMMON_HPP
#define INFERKIT_CPP_TEST_COMMON_HPP

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "inferkit.hpp"

#ifndef INFERKIT_FIXTURES
#error "INFERKIT_FIXTURES (the tests/fixtures directory) must be defined"
#endif
#ifndef INFERKIT_MODELS
#error "INFERKIT_MODELS (the examples/models repository) must be defined"
#endif

namespace ikt {

/** `<tests/fixtures>/<file>`. */
inline std::string fixture(const std::string &file) { return std::string(INFERKIT_FIXTURES) + "/" + file; }

/** The examples/models repository. */
inline std::string models_dir() { return INFERKIT_MODELS; }

/** A whole file's bytes. */
inline std::vector<std::uint8_t> read_bytes(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot open " + path);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

/** One tensor of a pack. */
struct PackTensor {
  std::string name;
  inferkit_dtype dtype{};
  std::vector<std::int64_t> shape;
  std::vector<std::uint8_t> data;

  /** The elements as T (the dtype must be T's). */
  template <class T>
  std::vector<T> as() const {
    if (dtype != inferkit::dtype_of_v<T>) throw std::runtime_error(name + ": pack dtype is not the one asked for");
    std::vector<T> v(data.size() / sizeof(T));
    if (!v.empty()) std::memcpy(v.data(), data.data(), v.size() * sizeof(T));
    return v;
  }
};

using Pack = std::vector<PackTensor>;

/** Reads a tensor pack: "IKTP", u32 version 1, u32 count, then per tensor u32 name length, the
 * name, u32 dtype, u32 rank, i64 dims, u64 byte length, the bytes. Throws on a malformed file. */
inline Pack read_pack(const std::string &path) {
  const std::vector<std::uint8_t> b = read_bytes(path);
  std::size_t at = 0;
  auto take = [&](void *out, std::size_t n) {
    if (b.size() - at < n) throw std::runtime_error(path + ": truncated pack");
    if (n) std::memcpy(out, b.data() + at, n);
    at += n;
  };
  char magic[4];
  std::uint32_t version = 0, count = 0;
  take(magic, 4);
  take(&version, 4);
  take(&count, 4);
  if (std::memcmp(magic, "IKTP", 4) != 0 || version != 1 || count > 64) throw std::runtime_error(path + ": not a pack");
  Pack pack;
  for (std::uint32_t i = 0; i < count; ++i) {
    PackTensor t;
    std::uint32_t name_len = 0, dtype = 0, rank = 0;
    std::uint64_t len = 0;
    take(&name_len, 4);
    t.name.resize(name_len);
    take(t.name.data(), name_len);
    take(&dtype, 4);
    take(&rank, 4);
    if (rank > 16) throw std::runtime_error(path + ": rank too large");
    t.dtype = static_cast<inferkit_dtype>(dtype);
    t.shape.resize(rank);
    take(t.shape.data(), 8 * static_cast<std::size_t>(rank));
    take(&len, 8);
    t.data.resize(static_cast<std::size_t>(len));
    take(t.data.data(), t.data.size());
    pack.push_back(std::move(t));
  }
  return pack;
}

/** `<fixtures>/<file>` as a pack. */
inline Pack pack(const std::string &file) { return read_pack(fixture(file)); }

/** Floats equal within a relative 1e-5 (absolute floor 1e-6), as the C tests compare. */
inline ::testing::AssertionResult close(const std::vector<float> &got, const std::vector<float> &want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " values, want " << want.size();
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double a = got[i], b = want[i];
    if (std::fabs(a - b) > 1e-5 * std::max(std::fabs(a), std::fabs(b)) + 1e-6)
      return ::testing::AssertionFailure() << "[" << i << "]: got " << a << ", want " << b;
  }
  return ::testing::AssertionSuccess();
}

/** Runs `f` and checks it throws inferkit::Error with `code` and `needle` in its message. */
template <class F>
::testing::AssertionResult throws_status(F &&f, inferkit_status code, const std::string &needle) {
  try {
    f();
  } catch (const inferkit::Error &e) {
    const std::string msg = e.what();
    if (e.code() != code)
      return ::testing::AssertionFailure() << "threw " << inferkit_status_name(e.code()) << " (" << msg << "), want "
                                           << inferkit_status_name(code);
    if (msg.find(needle) == std::string::npos)
      return ::testing::AssertionFailure() << "message \"" << msg << "\" lacks \"" << needle << "\"";
    if (msg.empty()) return ::testing::AssertionFailure() << "empty message";
    return ::testing::AssertionSuccess();
  } catch (const std::exception &e) {
    return ::testing::AssertionFailure() << "threw another exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw; want " << inferkit_status_name(code);
}

/** The mlp reference: x f32[3, 16] and y f32[3, 4]. */
struct Mlp {
  Pack in = pack("mlp.inputs.tpk");
  Pack want = pack("mlp.outputs.tpk");
  std::vector<float> x() const { return in.at(0).as<float>(); }
  std::vector<float> y() const { return want.at(0).as<float>(); }
  /** The first `rows` rows of x or y. */
  std::vector<float> x_rows(std::size_t rows) const { return head(x(), rows * 16); }
  std::vector<float> y_rows(std::size_t rows) const { return head(y(), rows * 4); }
  static std::vector<float> head(std::vector<float> v, std::size_t n) {
    v.resize(n);
    return v;
  }
};

/** Sleeps until `cond()` holds or `limit` passes; whether it held. */
template <class Cond>
bool wait_until(Cond &&cond, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace ikt

/** Expects the statements to throw inferkit::Error with status `code` and `needle` in the message. */
#define EXPECT_IK_ERROR(code, needle, ...) EXPECT_TRUE(::ikt::throws_status([&] { __VA_ARGS__; }, code, needle))

#endif
