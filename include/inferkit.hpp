/**
 * \file inferkit.hpp
 * \brief inferkit for C++17: RAII handles, exceptions and typed tensors over the C ABI.
 *
 * Header-only; it uses inferkit.h and the standard library, nothing else. Link the inferkit
 * library as a C host does (static: add -lpthread -ldl -lm).
 *
 *     inferkit::Model model = inferkit::Model::open("mlp.onnx");
 *     inferkit::Request request(model);
 *     std::vector<float> x(16, 0.25f);
 *     request.add_tensor("x", x, {1, 16});                 // borrowed: x outlives run()
 *     inferkit::Outputs out = request.run();
 *     inferkit::TensorView<float> y = out.get<float>("y"); // lives as long as `out`
 *
 * Conventions:
 *  - Every failure is an inferkit::Error (a std::runtime_error) with the C status code and the
 *    C message. Checks done here, not by the C library, use the nearest status (documented).
 *  - Handles (ModelOptions, Model, Request, Outputs, Pending, Registry, Value) are move-only.
 *    A moved-from handle holds NULL: destroying or assigning to it is safe; calling it throws
 *    INFERKIT_STATUS_NULL_ARGUMENT (or returns the C ABI's empty answer: "", 0, false).
 *  - Names are std::string_view; they are copied to NUL-terminated strings for the C ABI, and a
 *    name holding a NUL byte is INFERKIT_STATUS_INVALID_ARGUMENT.
 *  - Views (Span, TensorView, RawTensor, ValueRef, TensorRef) borrow from the object they came
 *    from and must not outlive it.
 *  - Thread safety is the C ABI's: Model, Registry and Pending are thread-safe; a Request may be
 *    run or submitted from several threads at once as long as none changes it; Outputs and Values
 *    are read-only; ModelOptions are used from one thread at a time.
 */
#ifndef INFERKIT_HPP
#define INFERKIT_HPP

#if (defined(_MSVC_LANG) ? _MSVC_LANG : __cplusplus) < 201703L
#error "inferkit.hpp needs C++17 or newer (-std=c++17); C++11 hosts can use inferkit.h directly"
#endif

#include "inferkit.h"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <future>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#if !defined(__linux__) && !defined(_WIN32)
#include <time.h>
#endif

namespace inferkit {

/* Errors ================================================================================== */

/**
 * \brief A failed inferkit call: the C status code and its message.
 *
 * what() is the message of the C library's inferkit_error (naming what to fix), or the message of
 * a check done by this wrapper.
 */
class Error : public std::runtime_error {
 public:
  /** An error with a status code and a message. */
  Error(inferkit_status code, const std::string &message) : std::runtime_error(message), code_(code) {}

  /** The status code (INFERKIT_STATUS_*). */
  inferkit_status code() const noexcept { return code_; }

  /** The status code's name without its prefix: "DTYPE_MISMATCH", …. */
  const char *status_name() const noexcept { return inferkit_status_name(code_); }

 private:
  inferkit_status code_;
};

namespace detail {

struct ErrorFree {
  void operator()(inferkit_error *e) const noexcept { inferkit_error_free(e); }
};
using ErrorPtr = std::unique_ptr<inferkit_error, ErrorFree>;

/** Turns a failed status and its error object (taken over and freed) into an Error. */
inline Error make_error(inferkit_status status, inferkit_error *raw) {
  ErrorPtr err(raw);
  const char *message = err ? inferkit_error_message(err.get()) : nullptr;
  if (message == nullptr || *message == '\0')
    return Error(status, std::string(inferkit_status_name(status)) + " (no message)");
  return Error(status, message);
}

/** Throws an Error raised by this wrapper (no C error object). */
[[noreturn]] inline void fail(inferkit_status status, const std::string &message) { throw Error(status, message); }

/**
 * \brief Calls a C function that reports failure through `inferkit_error **error_out`.
 *
 * `f` receives the out-parameter and returns the C status:
 *
 *     detail::call([&](inferkit_error **e) { return inferkit_x(..., e); });
 *
 * The error object is read only after `f` has returned (never as a sibling argument of the call
 * that writes it), turned into an Error, freed, and thrown.
 */
template <class F>
inline void call(F &&f) {
  static_assert(std::is_same_v<std::invoke_result_t<F, inferkit_error **>, inferkit_status>,
                "detail::call: the callable takes inferkit_error ** and returns the inferkit_status");
  inferkit_error *err = nullptr;
  const inferkit_status status = std::forward<F>(f)(&err);  // the call has completed here
  if (status != INFERKIT_STATUS_OK) throw make_error(status, err);
  inferkit_error_free(err);  // never written on success; freeing NULL does nothing
}

/** A NUL-terminated copy of `s` for the C ABI; a NUL byte inside is INVALID_ARGUMENT. */
inline std::string c_string(std::string_view s, const char *what) {
  if (s.find('\0') != std::string_view::npos)
    fail(INFERKIT_STATUS_INVALID_ARGUMENT, std::string(what) + " holds a NUL byte");
  return std::string(s);
}

/** Takes a string the caller must release with inferkit_string_free and copies it. */
inline std::string take_string(char *s) {
  struct Free {
    void operator()(char *p) const noexcept { inferkit_string_free(p); }
  };
  std::unique_ptr<char, Free> owned(s);
  return owned ? std::string(owned.get()) : std::string();
}

/** Microseconds for the C ABI, rounded up, saturating at UINT64_MAX; negative is refused. */
template <class Rep, class Period>
inline std::uint64_t micros_ceil(std::chrono::duration<Rep, Period> d, const char *what) {
  // Converted in floating point: a duration_cast of a huge duration to integer microseconds
  // would overflow.
  const long double us = std::chrono::duration<long double, std::micro>(d).count();
  if (!(us >= 0)) fail(INFERKIT_STATUS_INVALID_ARGUMENT, std::string(what) + " is negative (or not a number)");
  if (us >= 18446744073709551615.0L) return UINT64_MAX;
  auto whole = static_cast<std::uint64_t>(us);
  if (static_cast<long double>(whole) < us) ++whole;
  return whole;
}

template <class T>
struct is_char_type
    : std::bool_constant<std::is_same_v<T, char> || std::is_same_v<T, wchar_t> || std::is_same_v<T, char16_t> ||
                         std::is_same_v<T, char32_t>> {};

template <class T, class = void>
struct dtype_of {};
template <>
struct dtype_of<float> : std::integral_constant<inferkit_dtype, INFERKIT_DTYPE_F32> {};
template <>
struct dtype_of<double> : std::integral_constant<inferkit_dtype, INFERKIT_DTYPE_F64> {};
template <>
struct dtype_of<bool> : std::integral_constant<inferkit_dtype, INFERKIT_DTYPE_BOOL> {};
// Integers by size and signedness (int64_t, long long, … all map); plain char is refused: its
// signedness is the platform's.
template <class T>
struct dtype_of<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> && !is_char_type<T>::value>>
    : std::integral_constant<inferkit_dtype,
                             sizeof(T) == 1   ? (std::is_signed_v<T> ? INFERKIT_DTYPE_I8 : INFERKIT_DTYPE_U8)
                             : sizeof(T) == 2 ? (std::is_signed_v<T> ? INFERKIT_DTYPE_I16 : INFERKIT_DTYPE_U16)
                             : sizeof(T) == 4 ? (std::is_signed_v<T> ? INFERKIT_DTYPE_I32 : INFERKIT_DTYPE_U32)
                                              : (std::is_signed_v<T> ? INFERKIT_DTYPE_I64 : INFERKIT_DTYPE_U64)> {};

template <class T, class = void>
struct is_element : std::false_type {};
template <class T>
struct is_element<T, std::void_t<decltype(dtype_of<T>::value)>> : std::true_type {};

// The element type of a contiguous container (std::data and std::size), or void.
template <class C, class = void>
struct contiguous {
  using element = void;
};
template <class C>
struct contiguous<C, std::void_t<decltype(std::data(std::declval<C &>())), decltype(std::size(std::declval<C &>()))>> {
  using element = std::remove_cv_t<std::remove_pointer_t<decltype(std::data(std::declval<C &>()))>>;
};
template <class C>
using element_t = typename contiguous<std::remove_reference_t<C>>::element;

/** Pointers and lengths of a container of strings (std::string, std::string_view, const char *). */
template <class C>
inline void collect_strings(const C &items, std::vector<const char *> &ptrs, std::vector<std::size_t> &lens) {
  for (const auto &item : items) {
    const std::string_view sv(item);
    ptrs.push_back(sv.data() != nullptr ? sv.data() : "");
    lens.push_back(sv.size());
  }
}

}  // namespace detail

/** Whether T is a tensor element type: float, double, bool, 8- to 64-bit integers (not char). */
template <class T>
inline constexpr bool is_tensor_element_v = detail::is_element<std::remove_cv_t<T>>::value;

/** The inferkit_dtype of a C++ element type: `dtype_of_v<float>` is INFERKIT_DTYPE_F32. */
template <class T>
inline constexpr inferkit_dtype dtype_of_v = detail::dtype_of<std::remove_cv_t<T>>::value;

/** The name of a status: "OK", "DTYPE_MISMATCH", …; "UNKNOWN" for other numbers. */
inline const char *status_name(inferkit_status status) noexcept { return inferkit_status_name(status); }

/** Bytes of one element of `dtype`; 0 for STRING, packed sub-byte types and unknown numbers. */
inline std::size_t dtype_size(inferkit_dtype dtype) noexcept { return inferkit_dtype_size(dtype); }

/** A dtype as inferkit's messages and type strings write it: "f32", "i64", "bool", …. */
inline std::string dtype_name(inferkit_dtype dtype) {
  switch (dtype) {
    case INFERKIT_DTYPE_F32: return "f32";
    case INFERKIT_DTYPE_U8: return "u8";
    case INFERKIT_DTYPE_I8: return "i8";
    case INFERKIT_DTYPE_U16: return "u16";
    case INFERKIT_DTYPE_I16: return "i16";
    case INFERKIT_DTYPE_I32: return "i32";
    case INFERKIT_DTYPE_I64: return "i64";
    case INFERKIT_DTYPE_STRING: return "string";
    case INFERKIT_DTYPE_BOOL: return "bool";
    case INFERKIT_DTYPE_F16: return "f16";
    case INFERKIT_DTYPE_F64: return "f64";
    case INFERKIT_DTYPE_U32: return "u32";
    case INFERKIT_DTYPE_U64: return "u64";
    case INFERKIT_DTYPE_BF16: return "bf16";
    case INFERKIT_DTYPE_F8E4M3FN: return "f8e4m3fn";
    case INFERKIT_DTYPE_F8E4M3FNUZ: return "f8e4m3fnuz";
    case INFERKIT_DTYPE_F8E5M2: return "f8e5m2";
    case INFERKIT_DTYPE_F8E5M2FNUZ: return "f8e5m2fnuz";
    case INFERKIT_DTYPE_U4: return "u4";
    case INFERKIT_DTYPE_I4: return "i4";
    case INFERKIT_DTYPE_F4E2M1: return "f4e2m1";
    case INFERKIT_DTYPE_F8E8M0: return "f8e8m0";
    case INFERKIT_DTYPE_U2: return "u2";
    case INFERKIT_DTYPE_I2: return "i2";
  }
  return "dtype " + std::to_string(static_cast<std::uint32_t>(dtype));
}

/* Views and shapes ======================================================================== */

/**
 * \brief A read-only view of `size()` contiguous elements (C++17 has no std::span).
 *
 * Made from a pointer and a count, or implicitly from a std::vector, std::array, C array or any
 * container with std::data/std::size of the same element type. It borrows: the elements must
 * outlive it.
 */
template <class T>
class Span {
 public:
  using value_type = std::remove_cv_t<T>;
  using const_iterator = const T *;
  using iterator = const T *;

  /** An empty view. */
  constexpr Span() noexcept = default;
  /** `size` elements from `data`. */
  constexpr Span(const T *data, std::size_t size) noexcept : data_(data), size_(size) {}
  /** The elements of a contiguous container of T. */
  template <class C, std::enable_if_t<!std::is_same_v<std::decay_t<C>, Span> &&
                                          std::is_same_v<detail::element_t<const C &>, std::remove_cv_t<T>>,
                                      int> = 0>
  constexpr Span(const C &c) noexcept(noexcept(std::data(c)) && noexcept(std::size(c)))
      : data_(std::data(c)), size_(static_cast<std::size_t>(std::size(c))) {}

  constexpr const T *data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr std::size_t size_bytes() const noexcept { return size_ * sizeof(T); }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const T *begin() const noexcept { return data_; }
  constexpr const T *end() const noexcept { return data_ + size_; }
  /** Element `i`; unchecked. */
  constexpr const T &operator[](std::size_t i) const noexcept { return data_[i]; }
  /** A copy of the elements. */
  std::vector<value_type> to_vector() const { return std::vector<value_type>(begin(), end()); }

 private:
  const T *data_ = nullptr;
  std::size_t size_ = 0;
};

/**
 * \brief The dims of a tensor, row-major: `{3, 16}`; `{}` is a scalar. A dim of -1 is invalid in
 * a request (only model signatures have unknown dims).
 */
class Shape {
 public:
  /** Rank 0: a scalar. */
  Shape() = default;
  /** `{batch, 16}` (give int64_t values: a size_t variable in braces is a narrowing error). */
  Shape(std::initializer_list<std::int64_t> dims) : dims_(dims) {}
  /** From a vector. */
  Shape(std::vector<std::int64_t> dims) : dims_(std::move(dims)) {}
  /** From an array. */
  template <std::size_t N>
  Shape(const std::array<std::int64_t, N> &dims) : dims_(dims.begin(), dims.end()) {}
  /** From a view (a TensorView's shape, for one). */
  Shape(Span<std::int64_t> dims) : dims_(dims.begin(), dims.end()) {}
  /** `rank` dims from `dims`. */
  Shape(const std::int64_t *dims, std::size_t rank) : dims_(dims, dims + rank) {}

  const std::int64_t *data() const noexcept { return dims_.data(); }
  std::size_t rank() const noexcept { return dims_.size(); }
  const std::vector<std::int64_t> &dims() const noexcept { return dims_; }

 private:
  std::vector<std::int64_t> dims_;
};

/**
 * \brief A numeric output tensor read as T: its name, shape and elements.
 *
 * Borrowed from the Outputs it came from, and valid until they are destroyed.
 */
template <class T>
class TensorView {
 public:
  TensorView() = default;
  TensorView(std::string_view name, Span<T> data, Span<std::int64_t> shape) noexcept
      : name_(name), data_(data), shape_(shape) {}

  /** The output's name. */
  std::string_view name() const noexcept { return name_; }
  /** The elements, row-major. */
  Span<T> data() const noexcept { return data_; }
  /** The dims. */
  Span<std::int64_t> shape() const noexcept { return shape_; }
  /** Number of dims. */
  std::size_t rank() const noexcept { return shape_.size(); }
  /** Number of elements. */
  std::size_t size() const noexcept { return data_.size(); }
  bool empty() const noexcept { return data_.empty(); }
  const T *begin() const noexcept { return data_.begin(); }
  const T *end() const noexcept { return data_.end(); }
  /** Element `i` (row-major); unchecked. */
  const T &operator[](std::size_t i) const noexcept { return data_[i]; }
  /** A copy of the elements. */
  std::vector<T> to_vector() const { return data_.to_vector(); }

 private:
  std::string_view name_;
  Span<T> data_;
  Span<std::int64_t> shape_;
};

/** A numeric output tensor of any dtype, as bytes. Borrowed from its Outputs. */
struct RawTensor {
  std::string_view name;      ///< The output's name.
  inferkit_dtype dtype{};     ///< Its element type.
  Span<std::int64_t> shape;   ///< Its dims.
  const void *data = nullptr; ///< Row-major, native byte order, aligned for the dtype.
  std::size_t size_bytes = 0; ///< Number of bytes.
};

/* Runtime ================================================================================= */

/** The library's ABI version. */
struct AbiVersion {
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
};

/** Process-wide: inferkit's version and ABI, and the ONNX Runtime library. */
class Runtime {
 public:
  Runtime() = delete;

  /** Loads ONNX Runtime, looked up as inferkit_runtime_init(NULL) does (INFERKIT_ORT_DYLIB, …).
   * Optional: opening a model does it. Throws RUNTIME_UNAVAILABLE. */
  static void init() {
    detail::call([&](inferkit_error **e) { return inferkit_runtime_init(nullptr, e); });
  }

  /** Loads ONNX Runtime from `dylib_path`. Throws RUNTIME_UNAVAILABLE or
   * RUNTIME_ALREADY_INITIALIZED (another library is loaded). */
  static void init(std::string_view dylib_path) {
    const std::string path = detail::c_string(dylib_path, "dylib_path");
    detail::call([&](inferkit_error **e) { return inferkit_runtime_init(path.c_str(), e); });
  }

  /** The loaded ONNX Runtime's version ("1.31.1"); nullopt before it is loaded. */
  static std::optional<std::string> ort_version() {
    const char *v = inferkit_runtime_ort_version();
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  }

  /** The path of the loaded ONNX Runtime library; nullopt before it is loaded. */
  static std::optional<std::string> ort_path() {
    const char *p = inferkit_runtime_ort_path();
    if (p == nullptr) return std::nullopt;
    return std::string(p);
  }

  /** The library's version, "MAJOR.MINOR.PATCH" (INFERKIT_VERSION_STRING for this header). */
  static std::string version() { return inferkit_version(); }

  /** The library's version as MAJOR * 10000 + MINOR * 100 + PATCH. */
  static std::uint32_t version_number() noexcept { return inferkit_version_number(); }

  /** The C ABI version the library implements. */
  static AbiVersion abi_version() noexcept {
    AbiVersion v;
    inferkit_abi_version(&v.major, &v.minor);
    return v;
  }

  /** Whether the library serves this header's ABI (INFERKIT_ABI_VERSION_MAJOR/MINOR). */
  static bool abi_compatible() noexcept {
    return inferkit_abi_compatible(INFERKIT_ABI_VERSION_MAJOR, INFERKIT_ABI_VERSION_MINOR);
  }

  /** Throws Error(UNSUPPORTED) when the library does not serve this header's ABI. */
  static void check_abi() {
    if (abi_compatible()) return;
    const AbiVersion v = abi_version();
    detail::fail(INFERKIT_STATUS_UNSUPPORTED, "built for inferkit ABI " + std::to_string(INFERKIT_ABI_VERSION_MAJOR) + "." +
                                                  std::to_string(INFERKIT_ABI_VERSION_MINOR) + ", the library has " +
                                                  std::to_string(v.major) + "." + std::to_string(v.minor));
  }
};

/* Model options =========================================================================== */

/** Queueing and batching (inferkit_model_options_set_batching). */
struct Batching {
  std::size_t max_batch_size = 1;                   ///< Rows per batch; 1 turns batching off.
  std::chrono::microseconds max_queue_delay{0};     ///< How long to wait for a fuller batch.
  std::size_t max_queue_size = 1024;                ///< Requests waiting at most.
  std::chrono::microseconds default_timeout{0};     ///< Timeout of requests that set none; 0: none.
};

/**
 * \brief Options for opening a model. Setters return *this for chaining; an invalid value throws
 * and leaves the options unchanged. Use from one thread at a time.
 */
class ModelOptions {
 public:
  /** The defaults (see inferkit_model_options_new). */
  ModelOptions() {
    detail::call([&](inferkit_error **e) { return inferkit_model_options_new(&p_, e); });
  }
  /** Takes over options from the C ABI. */
  explicit ModelOptions(inferkit_model_options *adopt) noexcept : p_(adopt) {}
  ~ModelOptions() { inferkit_model_options_free(p_); }
  ModelOptions(const ModelOptions &) = delete;
  ModelOptions &operator=(const ModelOptions &) = delete;
  ModelOptions(ModelOptions &&o) noexcept : p_(o.release()) {}
  ModelOptions &operator=(ModelOptions &&o) noexcept {
    if (this != &o) {
      inferkit_model_options_free(p_);
      p_ = o.release();
    }
    return *this;
  }

  /** The model's name in errors and metrics. */
  ModelOptions &set_name(std::string_view name) {
    const std::string n = detail::c_string(name, "model name");
    detail::call([&](inferkit_error **e) { return inferkit_model_options_set_name(p_, n.c_str(), e); });
    return *this;
  }
  /** ONNX Runtime threads per session: inside an operator, across operators (1 to 256). */
  ModelOptions &set_threads(std::size_t intra_op, std::size_t inter_op) {
    detail::call([&](inferkit_error **e) { return inferkit_model_options_set_threads(p_, intra_op, inter_op, e); });
    return *this;
  }
  /** Whether idle ONNX Runtime threads spin. */
  ModelOptions &set_spinning(bool spinning) {
    detail::call([&](inferkit_error **e) { return inferkit_model_options_set_spinning(p_, spinning, e); });
    return *this;
  }
  /** The graph optimisation level. */
  ModelOptions &set_optimization_level(inferkit_optimization_level level) {
    detail::call([&](inferkit_error **e) { return inferkit_model_options_set_optimization_level(p_, level, e); });
    return *this;
  }
  /** The engine that runs the model: ONNX Runtime (default), tract (where the library has it;
   *  otherwise throws UNSUPPORTED), or AUTO (ONNX Runtime when it loads, tract when it does not). */
  ModelOptions &set_backend(inferkit_backend backend) {
    detail::call([&](inferkit_error **e) { return inferkit_model_options_set_backend(p_, backend, e); });
    return *this;
  }
  /** Fixes the shape input `name` always has (see inferkit_model_options_set_input_shape). */
  ModelOptions &set_input_shape(std::string_view name, const std::vector<std::int64_t> &shape) {
    const std::string n = detail::c_string(name, "input name");
    detail::call([&](inferkit_error **e) {
      return inferkit_model_options_set_input_shape(p_, n.c_str(), shape.data(), shape.size(), e);
    });
    return *this;
  }
  /** Appends an execution provider; one this build lacks throws UNSUPPORTED. */
  ModelOptions &add_execution_provider(inferkit_execution_provider provider) {
    detail::call([&](inferkit_error **e) { return inferkit_model_options_add_execution_provider(p_, provider, e); });
    return *this;
  }
  /** Sessions serving the model at once (1 to INFERKIT_MAX_INSTANCES). */
  ModelOptions &set_instances(std::size_t instances) {
    detail::call([&](inferkit_error **e) { return inferkit_model_options_set_instances(p_, instances, e); });
    return *this;
  }
  /** Queueing and batching. */
  ModelOptions &set_batching(const Batching &b) {
    const std::uint64_t delay = detail::micros_ceil(b.max_queue_delay, "max_queue_delay");
    const std::uint64_t timeout = detail::micros_ceil(b.default_timeout, "default_timeout");
    detail::call([&](inferkit_error **e) {
      return inferkit_model_options_set_batching(p_, b.max_batch_size, delay, b.max_queue_size, timeout, e);
    });
    return *this;
  }
  /** Batch sizes worth waiting for (set batching first); empty clears them. */
  ModelOptions &set_preferred_batch_sizes(Span<std::size_t> sizes) {
    detail::call([&](inferkit_error **e) {
      return inferkit_model_options_set_preferred_batch_sizes(p_, sizes.data(), sizes.size(), e);
    });
    return *this;
  }
  /** \copydoc set_preferred_batch_sizes */
  ModelOptions &set_preferred_batch_sizes(std::initializer_list<std::size_t> sizes) {
    return set_preferred_batch_sizes(Span<std::size_t>(sizes.begin(), sizes.size()));
  }
  /** The pipeline: the body of a `[pipeline]` table in TOML. Throws CONFIG with key and line. */
  ModelOptions &set_pipeline_toml(std::string_view toml) {
    const std::string t = detail::c_string(toml, "pipeline TOML");
    detail::call([&](inferkit_error **e) { return inferkit_model_options_set_pipeline_toml(p_, t.c_str(), e); });
    return *this;
  }

  /** The C handle (still owned here). */
  inferkit_model_options *get() const noexcept { return p_; }
  /** Gives up the C handle: the caller frees it with inferkit_model_options_free. */
  inferkit_model_options *release() noexcept { return std::exchange(p_, nullptr); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  inferkit_model_options *p_ = nullptr;
};

/* Models ================================================================================== */

/** One dim of a model input or output. */
struct Dim {
  std::int64_t size = -1;            ///< The size, or -1 when each request chooses it.
  std::optional<std::string> symbol; ///< Its name ("batch"), if it has one.
};

/** One input or output of a model's signature. */
struct TensorInfo {
  std::string name;              ///< The name requests use.
  inferkit_dtype dtype{};        ///< Element type (the innermost tensor's for sequences, maps, optionals).
  inferkit_value_kind kind{};    ///< TENSOR, SEQUENCE, MAP or OPTIONAL.
  std::string type;              ///< The whole type as inferkit writes it: "f32[batch, 16]".
  std::vector<Dim> dims;         ///< The dims (none for a scalar, or for a tensor of any shape).
  bool any_shape = false;        ///< The model gives no shape: any rank is accepted (type ends in "[..]").

  /** The dims as numbers, -1 for those each request chooses. */
  std::vector<std::int64_t> shape() const {
    std::vector<std::int64_t> s;
    s.reserve(dims.size());
    for (const Dim &d : dims) s.push_back(d.size);
    return s;
  }
};

/** A model's scheduler counters (inferkit_model_stats). */
struct ModelStats {
  std::size_t instances = 0;       ///< Sessions.
  std::size_t idle = 0;            ///< Sessions idle now.
  std::size_t queued = 0;          ///< Requests queued now.
  std::uint64_t executions = 0;    ///< Session runs so far.
  std::uint64_t requests_run = 0;  ///< Requests those runs served.
};

/**
 * \brief A loaded model (one count of a shared model). Move-only; clone() adds a handle to the
 * same loaded model. Thread-safe: any number of threads may use one Model.
 */
class Model {
 public:
  /** No model (a moved-from state). */
  Model() noexcept = default;
  /** Takes over a model handle from the C ABI (one count). */
  explicit Model(inferkit_model *adopt) noexcept : p_(adopt) {}
  ~Model() { inferkit_model_close(p_); }
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;
  Model(Model &&o) noexcept : p_(o.release()) {}
  Model &operator=(Model &&o) noexcept {
    if (this != &o) {
      inferkit_model_close(p_);
      p_ = o.release();
    }
    return *this;
  }

  /** Loads an ONNX file with the default options. Throws MODEL_NOT_FOUND, INVALID_MODEL, …. */
  static Model open(std::string_view path) { return open_impl(path, nullptr); }
  /** Loads an ONNX file with `options` (read during the call only). */
  static Model open(std::string_view path, const ModelOptions &options) {
    return open_impl(path, checked(options));
  }
  /** Loads a model from bytes in memory; `name` ("" for "model") names it unless the options do. */
  static Model open_bytes(Span<std::uint8_t> bytes, std::string_view name = {}) {
    return open_bytes_impl(bytes, name, nullptr);
  }
  /** Loads a model from bytes in memory with `options`. */
  static Model open_bytes(Span<std::uint8_t> bytes, std::string_view name, const ModelOptions &options) {
    return open_bytes_impl(bytes, name, checked(options));
  }

  /** Another handle to the same loaded model (nothing is reloaded). */
  Model clone() const {
    if (p_ == nullptr) detail::fail(INFERKIT_STATUS_NULL_ARGUMENT, "clone of an empty Model");
    inferkit_model *c = inferkit_model_clone(p_);
    if (c == nullptr) detail::fail(INFERKIT_STATUS_PANIC, "inferkit_model_clone failed");
    return Model(c);
  }

  /** The model's name ("" for an empty Model). */
  std::string name() const { return inferkit_model_name(p_); }
  /** The engine the model runs on (for AUTO, the one chosen when it opened). */
  inferkit_backend backend() const { return static_cast<inferkit_backend>(inferkit_model_backend(p_)); }
  /** Number of inputs. */
  std::size_t input_count() const noexcept { return inferkit_model_tensor_count(p_, INFERKIT_IO_INPUT); }
  /** Number of outputs. */
  std::size_t output_count() const noexcept { return inferkit_model_tensor_count(p_, INFERKIT_IO_OUTPUT); }
  /** Input `index`. Throws INVALID_ARGUMENT out of range. */
  TensorInfo input(std::size_t index) const { return info(INFERKIT_IO_INPUT, index); }
  /** Output `index`. Throws INVALID_ARGUMENT out of range. */
  TensorInfo output(std::size_t index) const { return info(INFERKIT_IO_OUTPUT, index); }
  /** Every input, in signature order. */
  std::vector<TensorInfo> inputs() const { return all(INFERKIT_IO_INPUT); }
  /** Every output, in signature order. */
  std::vector<TensorInfo> outputs() const { return all(INFERKIT_IO_OUTPUT); }

  /** The scheduler counters, now. */
  ModelStats stats() const {
    ModelStats s;
    detail::call([&](inferkit_error **e) {
      return inferkit_model_stats(p_, &s.instances, &s.idle, &s.queued, &s.executions, &s.requests_run, e);
    });
    return s;
  }
  /** How long a run of `rows` rows is expected to take on one session, from the runs measured
   * so far (inferkit_model_run_estimate_ns); zero before any was. */
  std::chrono::nanoseconds run_estimate(std::size_t rows = 1) const {
    std::uint64_t ns = 0;
    detail::call([&](inferkit_error **e) { return inferkit_model_run_estimate_ns(p_, rows, &ns, e); });
    return std::chrono::nanoseconds(static_cast<std::chrono::nanoseconds::rep>(ns));
  }
  /** The model's metrics in the Prometheus text format. */
  std::string metrics_prometheus() const {
    char *text = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_model_metrics_prometheus(p_, &text, e); });
    return detail::take_string(text);
  }
  /** The model's metrics as JSON, with percentiles. */
  std::string metrics_json() const {
    char *text = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_model_metrics_json(p_, &text, e); });
    return detail::take_string(text);
  }

  /** The C handle (still owned here). */
  inferkit_model *get() const noexcept { return p_; }
  /** Gives up the C handle: the caller closes it with inferkit_model_close. */
  inferkit_model *release() noexcept { return std::exchange(p_, nullptr); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  static const inferkit_model_options *checked(const ModelOptions &options) {
    if (!options) detail::fail(INFERKIT_STATUS_NULL_ARGUMENT, "options: a moved-from ModelOptions");
    return options.get();
  }
  static Model open_impl(std::string_view path, const inferkit_model_options *options) {
    const std::string p = detail::c_string(path, "model path");
    inferkit_model *m = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_model_open(p.c_str(), options, &m, e); });
    return Model(m);
  }
  static Model open_bytes_impl(Span<std::uint8_t> bytes, std::string_view name, const inferkit_model_options *options) {
    const std::string n = detail::c_string(name, "model name");
    inferkit_model *m = nullptr;
    detail::call([&](inferkit_error **e) {
      return inferkit_model_open_bytes(name.empty() ? nullptr : n.c_str(), bytes.data(), bytes.size(), options, &m, e);
    });
    return Model(m);
  }
  TensorInfo info(inferkit_io io, std::size_t index) const {
    TensorInfo t;
    const char *name = nullptr;
    const char *type = nullptr;
    std::uint32_t dtype = 0, kind = 0;
    std::size_t rank = 0;
    detail::call([&](inferkit_error **e) { return inferkit_model_tensor_info(p_, io, index, &name, &dtype, &rank, e); });
    detail::call([&](inferkit_error **e) { return inferkit_model_value_type(p_, io, index, &kind, &type, e); });
    t.name = name;
    t.dtype = static_cast<inferkit_dtype>(dtype);
    t.kind = static_cast<inferkit_value_kind>(kind);
    t.type = type;
    t.any_shape = rank == 0 && t.type.size() >= 4 && t.type.compare(t.type.size() - 4, 4, "[..]") == 0;
    t.dims.reserve(rank);
    for (std::size_t axis = 0; axis < rank; ++axis) {
      Dim d;
      const char *symbol = nullptr;
      detail::call([&](inferkit_error **e) { return inferkit_model_tensor_dim(p_, io, index, axis, &d.size, &symbol, e); });
      if (symbol != nullptr) d.symbol = std::string(symbol);
      t.dims.push_back(std::move(d));
    }
    return t;
  }
  std::vector<TensorInfo> all(inferkit_io io) const {
    std::vector<TensorInfo> v;
    const std::size_t n = inferkit_model_tensor_count(p_, io);
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) v.push_back(info(io, i));
    return v;
  }

  inferkit_model *p_ = nullptr;
};

/* Values ================================================================================== */

/** A tensor lent by a value (of Outputs or of a Value): read-only, valid as long as its owner. */
class TensorRef {
 public:
  TensorRef() noexcept = default;
  explicit TensorRef(const inferkit_tensor *t) noexcept : t_(t) {}

  /** The element type. */
  inferkit_dtype dtype() const { return read().dtype; }
  /** The dims. */
  std::vector<std::int64_t> shape() const {
    const Read r = read();
    std::vector<std::int64_t> s;
    s.reserve(r.rank);
    for (std::size_t i = 0; i < r.rank; ++i) s.push_back(static_cast<std::int64_t>(r.dims[i]));
    return s;
  }
  /** Number of elements. */
  std::size_t size() const { return read().elements; }
  /** The raw bytes (for a string tensor: its strings end to end). */
  Span<std::uint8_t> bytes() const {
    const Read r = read();
    return Span<std::uint8_t>(static_cast<const std::uint8_t *>(r.data), r.len);
  }
  /** The elements as T; another dtype throws DTYPE_MISMATCH. */
  template <class T>
  Span<T> data() const {
    static_assert(is_tensor_element_v<T>, "TensorRef::data<T>: T is not a tensor element type");
    const Read r = read();
    if (r.dtype != dtype_of_v<T>)
      detail::fail(INFERKIT_STATUS_DTYPE_MISMATCH,
                   "tensor is " + dtype_name(r.dtype) + ", read as " + dtype_name(dtype_of_v<T>));
    return Span<T>(static_cast<const T *>(r.data), r.len / sizeof(T));
  }
  /** String `index` of a string tensor (bytes; may hold NUL). Throws TYPE_MISMATCH, INVALID_ARGUMENT. */
  std::string_view string(std::size_t index) const {
    const char *s = nullptr;
    std::size_t len = 0;
    detail::call([&](inferkit_error **e) { return inferkit_tensor_string(t_, index, &s, &len, e); });
    return std::string_view(len ? s : "", len);
  }
  /** Every string of a string tensor, copied. */
  std::vector<std::string> strings() const {
    const std::size_t n = size();
    std::vector<std::string> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) v.emplace_back(string(i));
    return v;
  }
  const inferkit_tensor *get() const noexcept { return t_; }
  explicit operator bool() const noexcept { return t_ != nullptr; }

 private:
  struct Read {
    std::uint32_t dtype_raw = 0;
    inferkit_dtype dtype{};
    const std::size_t *dims = nullptr;
    std::size_t rank = 0, elements = 0, len = 0;
    const void *data = nullptr;
  };
  Read read() const {
    Read r;
    detail::call([&](inferkit_error **e) {
      return inferkit_tensor_read(t_, &r.dtype_raw, &r.dims, &r.rank, &r.elements, &r.data, &r.len, e);
    });
    r.dtype = static_cast<inferkit_dtype>(r.dtype_raw);
    return r;
  }
  const inferkit_tensor *t_ = nullptr;
};

/** A value lent by Outputs or by a Value: read-only, valid as long as its owner. */
class ValueRef {
 public:
  ValueRef() noexcept = default;
  explicit ValueRef(const inferkit_value *v) noexcept : v_(v) {}

  /** TENSOR, SEQUENCE, MAP or OPTIONAL (0 for no value). */
  inferkit_value_kind kind() const noexcept { return static_cast<inferkit_value_kind>(inferkit_value_get_kind(v_)); }
  /** A sequence's elements, a map's entries, 1 for a present optional; 0 otherwise. */
  std::size_t size() const noexcept { return inferkit_value_count(v_); }
  /** Whether an optional holds a value. */
  bool has_value() const noexcept { return kind() == INFERKIT_VALUE_KIND_OPTIONAL && size() == 1; }
  /** Item `index` of a sequence, or (0) the value of a present optional. Throws INVALID_ARGUMENT. */
  ValueRef item(std::size_t index) const {
    const inferkit_value *i = inferkit_value_item(v_, index);
    if (i == nullptr) detail::fail(INFERKIT_STATUS_INVALID_ARGUMENT, "no item " + std::to_string(index) + " in this value");
    return ValueRef(i);
  }
  /** The tensor of a tensor value. Throws TYPE_MISMATCH for other kinds. */
  TensorRef tensor() const {
    const inferkit_tensor *t = inferkit_value_tensor(v_);
    if (t == nullptr) detail::fail(INFERKIT_STATUS_TYPE_MISMATCH, "the value is not a tensor");
    return TensorRef(t);
  }
  /** A map's keys (a 1-D tensor). Throws TYPE_MISMATCH for other kinds. */
  TensorRef keys() const { return map_tensor(false); }
  /** A map's values (a 1-D tensor). Throws TYPE_MISMATCH for other kinds. */
  TensorRef values() const { return map_tensor(true); }

  const inferkit_value *get() const noexcept { return v_; }
  explicit operator bool() const noexcept { return v_ != nullptr; }

 private:
  TensorRef map_tensor(bool values) const {
    const inferkit_tensor *t = inferkit_value_map_tensor(v_, values);
    if (t == nullptr) detail::fail(INFERKIT_STATUS_TYPE_MISMATCH, "the value is not a map");
    return TensorRef(t);
  }
  const inferkit_value *v_ = nullptr;
};

/**
 * \brief An input value of any kind (tensor, strings, sequence, map, optional), for
 * Request::add_value. Owns its data (everything is copied in). Move-only.
 */
class Value {
 public:
  Value() noexcept = default;
  /** Takes over a value from inferkit_value_new_*. */
  explicit Value(inferkit_value *adopt) noexcept : p_(adopt) {}
  ~Value() { inferkit_value_free(p_); }
  Value(const Value &) = delete;
  Value &operator=(const Value &) = delete;
  Value(Value &&o) noexcept : p_(o.release()) {}
  Value &operator=(Value &&o) noexcept {
    if (this != &o) {
      inferkit_value_free(p_);
      p_ = o.release();
    }
    return *this;
  }

  /** A tensor of the elements of `data` (copied), dtype deduced from T. */
  template <class T>
  static Value tensor(Span<T> data, const Shape &shape) {
    static_assert(is_tensor_element_v<T>, "Value::tensor: T is not a tensor element type");
    inferkit_value *v = nullptr;
    detail::call([&](inferkit_error **e) {
      return inferkit_value_new_tensor(dtype_of_v<T>, shape.data(), shape.rank(), data.data(), data.size_bytes(), &v, e);
    });
    return Value(v);
  }
  /** \copydoc tensor */
  template <class C, class T = detail::element_t<const C &>, std::enable_if_t<is_tensor_element_v<T>, int> = 0>
  static Value tensor(const C &data, const Shape &shape) {
    return tensor(Span<T>(data), shape);
  }
  /** \copydoc tensor */
  template <class T>
  static Value tensor(std::initializer_list<T> data, const Shape &shape) {
    return tensor(Span<T>(data.begin(), data.size()), shape);
  }
  /** A string tensor (strings copied; they may hold NUL). */
  template <class C>
  static Value strings(const C &items, const Shape &shape) {
    std::vector<const char *> ptrs;
    std::vector<std::size_t> lens;
    detail::collect_strings(items, ptrs, lens);
    inferkit_value *v = nullptr;
    detail::call([&](inferkit_error **e) {
      return inferkit_value_new_strings(shape.data(), shape.rank(), ptrs.data(), lens.data(), ptrs.size(), &v, e);
    });
    return Value(v);
  }
  /** \copydoc strings */
  static Value strings(std::initializer_list<std::string_view> items, const Shape &shape) {
    return Value::strings<std::initializer_list<std::string_view>>(items, shape);
  }
  /** A sequence of copies of `items`. */
  static Value sequence(std::initializer_list<std::reference_wrapper<const Value>> items) {
    std::vector<const inferkit_value *> ptrs;
    for (const Value &i : items) ptrs.push_back(i.get());
    return sequence_of(ptrs);
  }
  /** A sequence of copies of `items`. */
  static Value sequence(const std::vector<Value> &items) {
    std::vector<const inferkit_value *> ptrs;
    for (const Value &i : items) ptrs.push_back(i.get());
    return sequence_of(ptrs);
  }
  /** A map: `keys[i]` (1-D, I64 or STRING) maps to `values[i]` (1-D, same length). */
  static Value map(const Value &keys, const Value &values) {
    inferkit_value *v = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_value_new_map(keys.get(), values.get(), &v, e); });
    return Value(v);
  }
  /** An optional holding a copy of `inner`. */
  static Value optional(const Value &inner) {
    if (!inner) detail::fail(INFERKIT_STATUS_NULL_ARGUMENT, "inner: a moved-from Value");
    return optional_of(inner.get());
  }
  /** An absent optional. */
  static Value none() { return optional_of(nullptr); }

  /** A read-only view of this value. */
  ValueRef ref() const noexcept { return ValueRef(p_); }
  /** The kind (0 for an empty Value). */
  inferkit_value_kind kind() const noexcept { return ref().kind(); }

  const inferkit_value *get() const noexcept { return p_; }
  inferkit_value *release() noexcept { return std::exchange(p_, nullptr); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  static Value sequence_of(const std::vector<const inferkit_value *> &ptrs) {
    inferkit_value *v = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_value_new_sequence(ptrs.data(), ptrs.size(), &v, e); });
    return Value(v);
  }
  static Value optional_of(const inferkit_value *inner) {
    inferkit_value *v = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_value_new_optional(inner, &v, e); });
    return Value(v);
  }
  inferkit_value *p_ = nullptr;
};

/* Outputs ================================================================================= */

/** One class of a `top_k` pipeline step. */
struct Class {
  std::size_t index = 0;             ///< Index along the class axis.
  std::optional<std::string> label;  ///< Its label, when the pipeline has a label file.
  float score = 0.0f;                ///< Its score.
};

/**
 * \brief The outputs of one request. Move-only, read-only; thread-safe to read. Views taken from
 * them (TensorView, RawTensor, ValueRef, names) live until they are destroyed.
 */
class Outputs {
 public:
  Outputs() noexcept = default;
  /** Takes over outputs from the C ABI. */
  explicit Outputs(inferkit_outputs *adopt) noexcept : p_(adopt) {}
  ~Outputs() { inferkit_outputs_free(p_); }
  Outputs(const Outputs &) = delete;
  Outputs &operator=(const Outputs &) = delete;
  Outputs(Outputs &&o) noexcept : p_(o.release()) {}
  Outputs &operator=(Outputs &&o) noexcept {
    if (this != &o) {
      inferkit_outputs_free(p_);
      p_ = o.release();
    }
    return *this;
  }

  /** Number of outputs. */
  std::size_t count() const noexcept { return inferkit_outputs_count(p_); }
  /** Number of outputs. */
  std::size_t size() const noexcept { return count(); }
  /** The name of output `index`. Throws INVALID_ARGUMENT out of range. */
  std::string_view name(std::size_t index) const {
    const char *n = inferkit_outputs_name(p_, index);
    if (n == nullptr) out_of_range(index);
    return n;
  }
  /** Every output's name, in order. */
  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (std::size_t i = 0; i < count(); ++i) v.emplace_back(name(i));
    return v;
  }
  /** The index of output `name`. Throws UNKNOWN_OUTPUT. */
  std::size_t find(std::string_view name) const {
    const std::string n = detail::c_string(name, "output name");
    std::size_t index = 0;
    detail::call([&](inferkit_error **e) { return inferkit_outputs_find(p_, n.c_str(), &index, e); });
    return index;
  }

  /** Numeric output `index` as bytes. Throws TYPE_MISMATCH (not a numeric tensor), INVALID_ARGUMENT. */
  RawTensor raw(std::size_t index) const {
    const char *name = nullptr;
    std::uint32_t dtype = 0;
    const std::int64_t *shape = nullptr;
    std::size_t rank = 0, len = 0;
    const void *data = nullptr;
    detail::call([&](inferkit_error **e) {
      return inferkit_outputs_get(p_, index, &name, &dtype, &shape, &rank, &data, &len, e);
    });
    RawTensor r;
    r.name = name;
    r.dtype = static_cast<inferkit_dtype>(dtype);
    r.shape = Span<std::int64_t>(shape, rank);
    r.data = data;
    r.size_bytes = len;
    return r;
  }
  /** Numeric output `name` as bytes. */
  RawTensor raw(std::string_view name) const { return raw(find(name)); }

  /**
   * \brief Numeric output `index` read as T (float, int64_t, bool, …).
   *
   * Throws DTYPE_MISMATCH when the output's dtype is not T's (the message names both),
   * TYPE_MISMATCH for a string tensor or a non-tensor output, INVALID_ARGUMENT out of range.
   */
  template <class T>
  TensorView<T> get(std::size_t index) const {
    static_assert(is_tensor_element_v<T>, "Outputs::get<T>: T is not a tensor element type");
    const RawTensor r = raw(index);
    if (r.dtype != dtype_of_v<T>)
      detail::fail(INFERKIT_STATUS_DTYPE_MISMATCH, "output `" + std::string(r.name) + "` is " + dtype_name(r.dtype) +
                                                       ", read as " + dtype_name(dtype_of_v<T>));
    return TensorView<T>(r.name, Span<T>(static_cast<const T *>(r.data), r.size_bytes / sizeof(T)), r.shape);
  }
  /** Numeric output `name` read as T. Throws UNKNOWN_OUTPUT, and as get<T>(index). */
  template <class T>
  TensorView<T> get(std::string_view name) const {
    return get<T>(find(name));
  }
  /** A copy of numeric output `index` as a std::vector<T>; checked as get<T>. */
  template <class T>
  std::vector<T> copy(std::size_t index) const {
    return get<T>(index).to_vector();
  }
  /** A copy of numeric output `name` as a std::vector<T>; checked as get<T>. */
  template <class T>
  std::vector<T> copy(std::string_view name) const {
    return get<T>(name).to_vector();
  }

  /** Output `index` as a value of any kind. Throws INVALID_ARGUMENT out of range. */
  ValueRef value(std::size_t index) const {
    const inferkit_value *v = inferkit_outputs_value(p_, index);
    if (v == nullptr) out_of_range(index);
    return ValueRef(v);
  }
  /** Output `name` as a value of any kind. */
  ValueRef value(std::string_view name) const { return value(find(name)); }
  /** String tensor output `index`, copied. Throws TYPE_MISMATCH for other outputs. */
  std::vector<std::string> strings(std::size_t index) const { return value(index).tensor().strings(); }
  /** String tensor output `name`, copied. */
  std::vector<std::string> strings(std::string_view name) const { return strings(find(name)); }

  /** Rows with classes (a pipeline ending with `top_k`); 0 without. */
  std::size_t class_rows() const noexcept { return inferkit_outputs_class_rows(p_); }
  /** Classes in `row` (0 out of range). */
  std::size_t class_count(std::size_t row) const noexcept { return inferkit_outputs_class_count(p_, row); }
  /** Class `rank` (0 is the best) of `row`. Throws INVALID_ARGUMENT out of range. */
  Class class_at(std::size_t row, std::size_t rank) const {
    Class c;
    const char *label = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_outputs_class(p_, row, rank, &c.index, &label, &c.score, e); });
    if (label != nullptr) c.label = std::string(label);
    return c;
  }
  /** Every class of `row`, best first. */
  std::vector<Class> classes(std::size_t row) const {
    std::vector<Class> v;
    const std::size_t n = class_count(row);
    v.reserve(n);
    for (std::size_t r = 0; r < n; ++r) v.push_back(class_at(row, r));
    return v;
  }

  const inferkit_outputs *get() const noexcept { return p_; }
  /** Gives up the C handle: the caller frees it with inferkit_outputs_free. */
  inferkit_outputs *release() noexcept { return std::exchange(p_, nullptr); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  [[noreturn]] void out_of_range(std::size_t index) const {
    if (p_ == nullptr) detail::fail(INFERKIT_STATUS_NULL_ARGUMENT, "outputs: empty Outputs");
    detail::fail(INFERKIT_STATUS_INVALID_ARGUMENT,
                 "output index " + std::to_string(index) + " out of range (" + std::to_string(count()) + " outputs)");
  }
  inferkit_outputs *p_ = nullptr;
};

/** What a submitted request's callback receives: the outputs, or the error. */
using Result = std::variant<Outputs, Error>;

/* Submitted requests ====================================================================== */

/** A submitted request: cancel it or ask whether it is done. Move-only; thread-safe. Destroying
 * it releases the handle only: the request goes on. */
class Pending {
 public:
  Pending() noexcept = default;
  explicit Pending(inferkit_pending *adopt) noexcept : p_(adopt) {}
  ~Pending() { inferkit_pending_free(p_); }
  Pending(const Pending &) = delete;
  Pending &operator=(const Pending &) = delete;
  Pending(Pending &&o) noexcept : p_(o.release()) {}
  Pending &operator=(Pending &&o) noexcept {
    if (this != &o) {
      inferkit_pending_free(p_);
      p_ = o.release();
    }
    return *this;
  }

  /** Withdraws the request or stops its run (its result is then CANCELLED). True when it did;
   * false when the request is done, runs in a batch with others, or this is empty. */
  bool cancel() const noexcept { return inferkit_pending_cancel(p_); }
  /** Whether the result has been delivered (or is being delivered). */
  bool is_done() const noexcept { return inferkit_pending_is_done(p_); }

  const inferkit_pending *get() const noexcept { return p_; }
  inferkit_pending *release() noexcept { return std::exchange(p_, nullptr); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  inferkit_pending *p_ = nullptr;
};

/** Cancels the requests made with it, from any thread: a blocking Request::run() (also one that
 * runs on the calling thread) as well as submitted requests. Once cancelled it stays cancelled:
 * requests made with it afterwards fail with CANCELLED without running. Move-only; thread-safe;
 * a request that carries it keeps its own reference. */
class CancelToken {
 public:
  CancelToken() { detail::call([&](inferkit_error **e) { return inferkit_cancel_token_new(&p_, e); }); }
  ~CancelToken() { inferkit_cancel_token_free(p_); }
  CancelToken(const CancelToken &) = delete;
  CancelToken &operator=(const CancelToken &) = delete;
  CancelToken(CancelToken &&o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  CancelToken &operator=(CancelToken &&o) noexcept {
    if (this != &o) {
      inferkit_cancel_token_free(p_);
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }

  /** Withdraws each queued request made with it and stops each that runs alone on a session
   * (they fail with CANCELLED); one running in a batch with others finishes. */
  void cancel() const noexcept { inferkit_cancel_token_cancel(p_); }
  /** Whether cancel() was called. */
  bool is_cancelled() const noexcept { return inferkit_cancel_token_is_cancelled(p_); }

  const inferkit_cancel_token *get() const noexcept { return p_; }

 private:
  inferkit_cancel_token *p_ = nullptr;
};

/** A request submitted with Request::submit(): its handle and the future of its outputs (whose
 * get() throws the Error on failure). */
struct Submitted {
  Pending pending;                ///< To cancel the request or ask whether it is done.
  std::future<Outputs> future;    ///< The outputs, or the Error.
};

namespace detail {

/** Owns a submitted request's callable: inferkit calls trampoline() exactly once per accepted
 * submission, which takes the holder back and frees it. */
template <class Fn>
struct CallbackHolder {
  Fn fn;

  static void trampoline(void *userdata, inferkit_status status, inferkit_outputs *outputs,
                         inferkit_error *error) noexcept {
    std::unique_ptr<CallbackHolder> self(static_cast<CallbackHolder *>(userdata));
    Outputs out(outputs);  // owned from here, whatever happens
    ErrorPtr err(error);
    // Nothing may unwind into inferkit: whatever the callable (or building its argument) throws
    // stops here, and is said on stderr so that it is not lost without a trace.
    try {
      if (status == INFERKIT_STATUS_OK && out) {
        self->fn(Result(std::in_place_type<Outputs>, std::move(out)));
      } else if (status == INFERKIT_STATUS_OK) {
        self->fn(Result(std::in_place_type<Error>, Error(INFERKIT_STATUS_PANIC, "a callback without outputs")));
      } else {
        self->fn(Result(std::in_place_type<Error>, make_error(status, err.release())));
      }
    } catch (const std::exception &e) {
      std::fprintf(stderr, "inferkit: a submit callback threw, and the exception was dropped: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "inferkit: a submit callback threw, and the exception was dropped\n");
    }
  }
};

}  // namespace detail

/* Requests ================================================================================ */

/**
 * \brief A request to one model: inputs and options; run or submit it as often as wanted.
 *
 * Move-only. It holds its model loaded: the Model it was made from may be destroyed first.
 * Changing it is not thread-safe; run() and submit() may be called from several threads at once
 * while nobody changes it.
 *
 * Borrowed inputs (add_tensor) must stay alive and unchanged until every run() using them has
 * returned (submit() copies them); add_tensor_copy and every other input setter copy.
 */
class Request {
 public:
  Request() noexcept = default;
  /** An empty request to `model`. */
  explicit Request(const Model &model) {
    detail::call([&](inferkit_error **e) { return inferkit_request_new(model.get(), &p_, e); });
  }
  /** Takes over a request from the C ABI. */
  explicit Request(inferkit_request *adopt) noexcept : p_(adopt) {}
  ~Request() { inferkit_request_free(p_); }
  Request(const Request &) = delete;
  Request &operator=(const Request &) = delete;
  Request(Request &&o) noexcept : p_(o.release()) {}
  Request &operator=(Request &&o) noexcept {
    if (this != &o) {
      inferkit_request_free(p_);
      p_ = o.release();
    }
    return *this;
  }

  /* -- tensors -- */

  /**
   * \brief Adds input `name` borrowing `data` (no copy): a std::vector, std::array, C array or
   * Span of T, dtype deduced from T.
   *
   * Temporaries are refused at compile time (they would dangle); use add_tensor_copy. Byte length
   * and signature are checked when the request runs (BYTE_LENGTH_MISMATCH, DTYPE_MISMATCH, …).
   */
  template <class C>
  Request &add_tensor(std::string_view name, C &&data, const Shape &shape) {
    using T = detail::element_t<C>;
    static_assert(!std::is_same_v<std::decay_t<C>, std::vector<bool>>,
                  "std::vector<bool> is not contiguous: use add_tensor_copy, or a bool array");
    static_assert(is_tensor_element_v<T>,
                  "add_tensor: the data must be a contiguous container of a tensor element type");
    static_assert(std::is_lvalue_reference_v<C> || std::is_same_v<std::decay_t<C>, Span<T>>,
                  "add_tensor borrows the data until run() returns: pass an lvalue, or use add_tensor_copy");
    const Span<T> s(std::data(data), static_cast<std::size_t>(std::size(data)));
    return add_raw(name, dtype_of_v<T>, shape, s.data(), s.size_bytes(), false);
  }
  /** Adds input `name` borrowing `count` elements at `data`. */
  template <class T>
  Request &add_tensor(std::string_view name, const T *data, std::size_t count, const Shape &shape) {
    static_assert(is_tensor_element_v<T>, "add_tensor: T is not a tensor element type");
    return add_raw(name, dtype_of_v<T>, shape, data, count * sizeof(T), false);
  }
  /** Adds input `name`, copying `data` (any contiguous container of T, std::vector<bool> too). */
  template <class C, class T = detail::element_t<const C &>>
  Request &add_tensor_copy(std::string_view name, const C &data, const Shape &shape) {
    static_assert(is_tensor_element_v<T>,
                  "add_tensor_copy: the data must be a contiguous container of a tensor element type");
    const Span<T> s(std::data(data), static_cast<std::size_t>(std::size(data)));
    return add_raw(name, dtype_of_v<T>, shape, s.data(), s.size_bytes(), true);
  }
  /** Adds input `name`, copying a braced list: `add_tensor_copy("n", {int64_t{5}}, {})`. */
  template <class T>
  Request &add_tensor_copy(std::string_view name, std::initializer_list<T> data, const Shape &shape) {
    static_assert(is_tensor_element_v<T>, "add_tensor_copy: T is not a tensor element type");
    return add_raw(name, dtype_of_v<T>, shape, data.begin(), data.size() * sizeof(T), true);
  }
  /** Adds a bool input `name`, copying a std::vector<bool>. */
  Request &add_tensor_copy(std::string_view name, const std::vector<bool> &data, const Shape &shape) {
    const std::vector<std::uint8_t> bytes(data.begin(), data.end());
    return add_raw(name, INFERKIT_DTYPE_BOOL, shape, bytes.data(), bytes.size(), true);
  }
  /** Adds input `name`, copying `count` elements at `data`. */
  template <class T>
  Request &add_tensor_copy(std::string_view name, const T *data, std::size_t count, const Shape &shape) {
    static_assert(is_tensor_element_v<T>, "add_tensor_copy: T is not a tensor element type");
    return add_raw(name, dtype_of_v<T>, shape, data, count * sizeof(T), true);
  }
  /** Adds input `name` of any dtype from bytes (f16, bf16, packed types …); `copy` or borrow. */
  Request &add_raw(std::string_view name, inferkit_dtype dtype, const Shape &shape, const void *data,
                   std::size_t size_bytes, bool copy) {
    const std::string n = detail::c_string(name, "input name");
    detail::call([&](inferkit_error **e) {
      return copy ? inferkit_request_add_tensor_copy(p_, n.c_str(), dtype, shape.data(), shape.rank(), data, size_bytes, e)
                  : inferkit_request_add_tensor(p_, n.c_str(), dtype, shape.data(), shape.rank(), data, size_bytes, e);
    });
    return *this;
  }

  /** Adds a string tensor input (copied): a container of std::string, std::string_view or
   * const char*. Strings are bytes and may hold NUL. */
  template <class C>
  Request &add_strings(std::string_view name, const C &items, const Shape &shape) {
    const std::string n = detail::c_string(name, "input name");
    std::vector<const char *> ptrs;
    std::vector<std::size_t> lens;
    detail::collect_strings(items, ptrs, lens);
    detail::call([&](inferkit_error **e) {
      return inferkit_request_add_strings(p_, n.c_str(), shape.data(), shape.rank(), ptrs.data(), lens.data(), ptrs.size(), e);
    });
    return *this;
  }
  /** \copydoc add_strings */
  Request &add_strings(std::string_view name, std::initializer_list<std::string_view> items, const Shape &shape) {
    return add_strings<std::initializer_list<std::string_view>>(name, items, shape);
  }
  /** Adds an input of any kind (copied). */
  Request &add_value(std::string_view name, const Value &value) {
    const std::string n = detail::c_string(name, "input name");
    detail::call([&](inferkit_error **e) { return inferkit_request_add_value(p_, n.c_str(), value.get(), e); });
    return *this;
  }

  /* -- pipeline inputs (one per request, instead of tensors) -- */

  /** A raw tensor for the model's pipeline (copied); without a pipeline it feeds the first input. */
  template <class C, class T = detail::element_t<const C &>>
  Request &set_pipeline_tensor(const C &data, const Shape &shape) {
    static_assert(is_tensor_element_v<T>, "set_pipeline_tensor: the data must be a contiguous container of a tensor element type");
    const Span<T> s(std::data(data), static_cast<std::size_t>(std::size(data)));
    detail::call([&](inferkit_error **e) {
      return inferkit_request_set_pipeline_tensor(p_, dtype_of_v<T>, shape.data(), shape.rank(), s.data(), s.size_bytes(), e);
    });
    return *this;
  }
  /** Raw pixels for the pipeline's image steps (copied): `height` rows of `width` pixels,
   * `stride` bytes apart (0: rows packed, width × bytes per pixel). */
  Request &set_image(Span<std::uint8_t> pixels, inferkit_pixel_format format, std::size_t width, std::size_t height,
                     std::size_t stride = 0) {
    if (stride == 0) stride = width * bytes_per_pixel(format);
    detail::call([&](inferkit_error **e) {
      return inferkit_request_set_image(p_, pixels.data(), pixels.size(), format, width, height, stride, e);
    });
    return *this;
  }
  /** PNG or JPEG bytes for the pipeline (copied; decoded when the request runs). */
  Request &set_encoded_image(Span<std::uint8_t> bytes) {
    detail::call([&](inferkit_error **e) { return inferkit_request_set_encoded_image(p_, bytes.data(), bytes.size(), e); });
    return *this;
  }
  /** \copydoc set_encoded_image */
  Request &set_encoded_image(const void *data, std::size_t size) {
    return set_encoded_image(Span<std::uint8_t>(static_cast<const std::uint8_t *>(data), size));
  }
  /** Text for the pipeline's tokenizer (copied). */
  Request &set_text(std::string_view text) {
    const std::string t = detail::c_string(text, "text");
    detail::call([&](inferkit_error **e) { return inferkit_request_set_text(p_, t.c_str(), e); });
    return *this;
  }
  /** Token ids for the pipeline (copied). */
  Request &set_tokens(Span<std::int64_t> ids) {
    detail::call([&](inferkit_error **e) { return inferkit_request_set_tokens(p_, ids.data(), ids.size(), e); });
    return *this;
  }
  /** \copydoc set_tokens */
  Request &set_tokens(std::initializer_list<std::int64_t> ids) {
    return set_tokens(Span<std::int64_t>(ids.begin(), ids.size()));
  }

  /** Removes every input; options stay. */
  Request &clear() noexcept {
    inferkit_request_clear(p_);
    return *this;
  }

  /* -- options -- */

  /** A timeout counted from each run or submission (rounded up to microseconds). A request not
   * started in time, or running past it, fails with DEADLINE_EXCEEDED. Must be positive. */
  template <class Rep, class Period>
  Request &set_timeout(std::chrono::duration<Rep, Period> timeout) {
    const std::uint64_t us = detail::micros_ceil(timeout, "timeout");
    if (us == 0) detail::fail(INFERKIT_STATUS_INVALID_ARGUMENT, "timeout must be positive (clear_timeout removes it)");
    detail::call([&](inferkit_error **e) { return inferkit_request_set_timeout_us(p_, us, e); });
    return *this;
  }
  /** Removes the timeout (the model's default applies). */
  Request &clear_timeout() {
    detail::call([&](inferkit_error **e) { return inferkit_request_set_timeout_us(p_, 0, e); });
    return *this;
  }
  /** Only queue the request: the thread that submits or runs it does not run it (nor others'
   * requests), inferkit's helper threads do (it does only if no helper thread can start); submit returns once it is queued. Default false: a
   * thread that finds a session idle runs its request at once. */
  Request &set_queue_only(bool queue_only = true) {
    detail::call([&](inferkit_error **e) { return inferkit_request_set_queue_only(p_, queue_only, e); });
    return *this;
  }
  /** Cancelling `token` cancels each run or submission of this request made from now on: withdrawn
   * while queued, stopped while it runs alone on a session (on this thread or another). A
   * moved-from token is empty: giving one removes the request's token. */
  Request &set_cancel_token(const CancelToken &token) {
    detail::call([&](inferkit_error **e) { return inferkit_request_set_cancel_token(p_, token.get(), e); });
    return *this;
  }
  /** Removes the cancel token. */
  Request &clear_cancel_token() {
    detail::call([&](inferkit_error **e) { return inferkit_request_set_cancel_token(p_, nullptr, e); });
    return *this;
  }
  /** An absolute deadline on std::chrono::steady_clock (the C ABI's monotonic clock). A deadline already
   * passed is kept (the request then fails with DEADLINE_EXCEEDED). */
  template <class Duration>
  Request &set_deadline(std::chrono::time_point<std::chrono::steady_clock, Duration> deadline) {
    const std::uint64_t ns = monotonic_ns(deadline);
    detail::call([&](inferkit_error **e) { return inferkit_request_set_deadline_ns(p_, ns, e); });
    return *this;
  }
  /** Removes the deadline. */
  Request &clear_deadline() {
    detail::call([&](inferkit_error **e) { return inferkit_request_set_deadline_ns(p_, 0, e); });
    return *this;
  }
  /** Asks for only these outputs, in this order (a container of strings); empty asks for all.
   * An unknown name fails the run with UNKNOWN_OUTPUT. */
  template <class C>
  Request &set_outputs(const C &names) {
    std::vector<std::string> copies;
    for (const auto &n : names) copies.push_back(detail::c_string(std::string_view(n), "output name"));
    std::vector<const char *> ptrs;
    for (const std::string &c : copies) ptrs.push_back(c.c_str());
    detail::call([&](inferkit_error **e) { return inferkit_request_set_outputs(p_, ptrs.data(), ptrs.size(), e); });
    return *this;
  }
  /** \copydoc set_outputs */
  Request &set_outputs(std::initializer_list<std::string_view> names) {
    return set_outputs<std::initializer_list<std::string_view>>(names);
  }
  /** Asks for every output again. */
  Request &clear_outputs() {
    detail::call([&](inferkit_error **e) { return inferkit_request_set_outputs(p_, nullptr, 0, e); });
    return *this;
  }

  /* -- running -- */

  /** Runs the request and blocks until its outputs are ready. Throws the status of what failed
   * (UNKNOWN_INPUT, DTYPE_MISMATCH, DEADLINE_EXCEEDED, WOULD_DEADLOCK inside a callback of the
   * same model, …). */
  [[nodiscard]] Outputs run() const {
    inferkit_outputs *out = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_request_run(p_, &out, e); });
    return Outputs(out);
  }

  /**
   * \brief Submits the request; `callback(Result)` receives the outputs or the error, exactly once.
   *
   * Inputs are copied: the request may change or go as soon as this returns. The callback runs on
   * whichever thread completes the request, maybe this one before submit returns; it must return
   * promptly and not run() the same model (submit instead). Whatever it throws is caught and
   * dropped. A refusal at submission (inputs that do not fit, QUEUE_FULL, …) is thrown here and
   * the callback is never called (it is destroyed).
   */
  template <class F>
  Pending submit(F &&callback) const {
    static_assert(std::is_invocable_v<std::decay_t<F> &, Result &&>, "submit: the callback takes an inferkit::Result");
    using Holder = detail::CallbackHolder<std::decay_t<F>>;
    std::unique_ptr<Holder> holder(new Holder{std::forward<F>(callback)});
    inferkit_pending *pending = nullptr;
    detail::call([&](inferkit_error **e) {
      return inferkit_request_submit(p_, &Holder::trampoline, holder.get(), &pending, e);
    });
    // Accepted: the trampoline owns the holder now (it may already have run and freed it).
    static_cast<void>(holder.release());
    return Pending(pending);
  }
  /** Submits the request with one callable for the outputs and one for the error. */
  template <class OnOutputs, class OnError>
  Pending submit(OnOutputs &&on_outputs, OnError &&on_error) const {
    return submit([ok = std::forward<OnOutputs>(on_outputs), err = std::forward<OnError>(on_error)](Result r) mutable {
      if (Outputs *o = std::get_if<Outputs>(&r))
        ok(std::move(*o));
      else
        err(std::get<Error>(std::move(r)));
    });
  }
  /** Submits the request; the future holds its outputs, or throws its Error. */
  [[nodiscard]] Submitted submit() const {
    std::promise<Outputs> promise;
    std::future<Outputs> future = promise.get_future();
    Pending pending = submit([p = std::move(promise)](Result r) mutable {
      if (Outputs *o = std::get_if<Outputs>(&r))
        p.set_value(std::move(*o));
      else
        p.set_exception(std::make_exception_ptr(std::get<Error>(std::move(r))));
    });
    return Submitted{std::move(pending), std::move(future)};
  }

  const inferkit_request *get() const noexcept { return p_; }
  inferkit_request *get() noexcept { return p_; }
  /** Gives up the C handle: the caller frees it with inferkit_request_free. */
  inferkit_request *release() noexcept { return std::exchange(p_, nullptr); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  static std::size_t bytes_per_pixel(inferkit_pixel_format format) noexcept {
    switch (format) {
      case INFERKIT_PIXEL_FORMAT_RGB8:
      case INFERKIT_PIXEL_FORMAT_BGR8: return 3;
      case INFERKIT_PIXEL_FORMAT_RGBA8: return 4;
      case INFERKIT_PIXEL_FORMAT_GRAY8: return 1;
    }
    return 0;
  }
  template <class Duration>
  static std::uint64_t monotonic_ns(std::chrono::time_point<std::chrono::steady_clock, Duration> deadline) {
    using std::chrono::nanoseconds;
#if defined(__linux__) || defined(_WIN32)
    // libstdc++ and libc++ read steady_clock from CLOCK_MONOTONIC on Linux; MSVC's and MinGW's
    // from QueryPerformanceCounter in nanoseconds on Windows, the C ABI's clock there.
    const long double ns = std::chrono::duration<long double, std::nano>(deadline.time_since_epoch()).count();
#else
    // Elsewhere steady_clock may have another epoch: carry the distance from now over.
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const long double now = static_cast<long double>(ts.tv_sec) * 1e9L + static_cast<long double>(ts.tv_nsec);
    const long double ns =
        now + std::chrono::duration<long double, std::nano>(deadline - std::chrono::steady_clock::now()).count();
#endif
    if (!(ns >= 1)) return 1;  // passed long ago; 0 would remove the deadline
    if (ns >= 18446744073709551615.0L) return UINT64_MAX;
    return static_cast<std::uint64_t>(ns);
  }

  inferkit_request *p_ = nullptr;
};

/* Model repository ======================================================================== */

/** A model selected from a Registry, and its version number. */
struct Selection {
  Model model;             ///< The handle: it stays on its version.
  std::uint64_t version = 0;  ///< The version's number.
};

/**
 * \brief A model repository (`<root>/<model>/<version>/model.onnx`, optional config.toml).
 * Move-only; thread-safe. Models taken from it outlive it.
 */
class Registry {
 public:
  Registry() noexcept = default;
  explicit Registry(inferkit_registry *adopt) noexcept : p_(adopt) {}
  ~Registry() { inferkit_registry_close(p_); }
  Registry(const Registry &) = delete;
  Registry &operator=(const Registry &) = delete;
  Registry(Registry &&o) noexcept : p_(o.release()) {}
  Registry &operator=(Registry &&o) noexcept {
    if (this != &o) {
      inferkit_registry_close(p_);
      p_ = o.release();
    }
    return *this;
  }

  /** Opens the repository at `root`: every model loaded now (`load_all`) or on load();
   * re-scanned every `poll_interval` on a background thread (0: only on reload()). Throws
   * REPOSITORY_UNREADABLE, CONFIG, INVALID_ARGUMENT. */
  static Registry open(std::string_view root, bool load_all = true,
                       std::chrono::milliseconds poll_interval = std::chrono::milliseconds(0)) {
    const std::string r = detail::c_string(root, "repository root");
    if (poll_interval.count() < 0) detail::fail(INFERKIT_STATUS_INVALID_ARGUMENT, "poll_interval is negative");
    const auto ms = static_cast<std::uint64_t>(poll_interval.count());
    inferkit_registry *reg = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_registry_open(r.c_str(), load_all, ms, &reg, e); });
    return Registry(reg);
  }

  /** The default version of model `name` (the newest ready one the policy serves). */
  Selection select(std::string_view name) const { return select_impl(name, 0, nullptr); }
  /** Version `version` of model `name` (0 selects the default). Throws UNKNOWN_VERSION, …. */
  Selection select(std::string_view name, std::uint64_t version) const { return select_impl(name, version, nullptr); }
  /** The version label `label` points at. Throws UNKNOWN_LABEL, …. */
  Selection select(std::string_view name, std::string_view label) const {
    const std::string l = detail::c_string(label, "label");
    return select_impl(name, 0, l.c_str());
  }
  /** select(name).model. */
  Model model(std::string_view name) const { return select(name).model; }
  /** select(name, version).model. */
  Model model(std::string_view name, std::uint64_t version) const { return select(name, version).model; }
  /** select(name, label).model. */
  Model model(std::string_view name, std::string_view label) const { return select(name, label).model; }

  /** A version through the model's traffic split: the same key, the same version. */
  Selection route(std::string_view name, std::string_view routing_key) const {
    const std::string k = detail::c_string(routing_key, "routing key");
    return route_impl(name, k.c_str());
  }
  /** A version through the traffic split, picked at random by weight. */
  Selection route(std::string_view name) const { return route_impl(name, nullptr); }

  /** Points `label` at ready version `version`, atomically. */
  void set_label(std::string_view name, std::string_view label, std::uint64_t version) const {
    const std::string n = detail::c_string(name, "model name"), l = detail::c_string(label, "label");
    detail::call([&](inferkit_error **e) { return inferkit_registry_set_label(p_, n.c_str(), l.c_str(), version, e); });
  }
  /** Loads (or reloads) model `name` (explicit mode). */
  void load(std::string_view name) const {
    const std::string n = detail::c_string(name, "model name");
    detail::call([&](inferkit_error **e) { return inferkit_registry_load(p_, n.c_str(), e); });
  }
  /** Unloads model `name`; requests in flight finish, handles stay valid. */
  void unload(std::string_view name) const {
    const std::string n = detail::c_string(name, "model name");
    detail::call([&](inferkit_error **e) { return inferkit_registry_unload(p_, n.c_str(), e); });
  }
  /** Unloads one version; `force` also removes labels pointing at it (else LABEL_IN_USE). */
  void unload_version(std::string_view name, std::uint64_t version, bool force = false) const {
    const std::string n = detail::c_string(name, "model name");
    detail::call([&](inferkit_error **e) { return inferkit_registry_unload_version(p_, n.c_str(), version, force, e); });
  }
  /** Re-scans the repository; returns how many models or versions failed (see status_json()). */
  std::size_t reload() const {
    std::size_t failures = 0;
    detail::call([&](inferkit_error **e) { return inferkit_registry_reload(p_, &failures, e); });
    return failures;
  }
  /** Every model's versions, states, labels and default, as JSON. */
  std::string status_json() const {
    char *json = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_registry_status_json(p_, &json, e); });
    return detail::take_string(json);
  }
  /** Metrics of every model version, in the Prometheus text format. */
  std::string metrics_prometheus() const {
    char *text = nullptr;
    detail::call([&](inferkit_error **e) { return inferkit_registry_metrics_prometheus(p_, &text, e); });
    return detail::take_string(text);
  }

  const inferkit_registry *get() const noexcept { return p_; }
  inferkit_registry *release() noexcept { return std::exchange(p_, nullptr); }
  explicit operator bool() const noexcept { return p_ != nullptr; }

 private:
  Selection select_impl(std::string_view name, std::uint64_t version, const char *label) const {
    const std::string n = detail::c_string(name, "model name");
    inferkit_model *m = nullptr;
    Selection s;
    detail::call([&](inferkit_error **e) { return inferkit_registry_model(p_, n.c_str(), version, label, &m, &s.version, e); });
    s.model = Model(m);
    return s;
  }
  Selection route_impl(std::string_view name, const char *key) const {
    const std::string n = detail::c_string(name, "model name");
    inferkit_model *m = nullptr;
    Selection s;
    detail::call([&](inferkit_error **e) { return inferkit_registry_route(p_, n.c_str(), key, &m, &s.version, e); });
    s.model = Model(m);
    return s;
  }

  inferkit_registry *p_ = nullptr;
};

}  // namespace inferkit

#endif  // INFERKIT_HPP
