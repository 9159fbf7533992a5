// The generated header compiles as C++11 and as C++17 with -Wall -Wextra -Wpedantic -Werror
// (included twice: the guard must hold), with C linkage and enums of a fixed underlying type.
// Compiled (not linked) by `make test-c`, once per standard.
#include "inferkit.h"
#include "inferkit.h"

#include <cstdint>
#include <type_traits>

static_assert(INFERKIT_STATUS_OK == 0, "status numbers are stable");
static_assert(INFERKIT_DTYPE_F32 == 1, "dtype numbers are ONNX's");
static_assert(INFERKIT_VERSION_NUMBER == INFERKIT_VERSION_MAJOR * 10000 + INFERKIT_VERSION_MINOR * 100 + INFERKIT_VERSION_PATCH,
              "INFERKIT_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH");
static_assert(INFERKIT_ABI_VERSION_MAJOR >= 1, "the ABI is versioned from 1");
static_assert(INFERKIT_STATUS_DTYPE_MISMATCH == 33 && INFERKIT_STATUS_QUEUE_FULL == 50, "status numbers are stable");
// In C++ the enums are typed: their underlying type is C's uint32_t.
static_assert(std::is_same<std::underlying_type<inferkit_status>::type, std::uint32_t>::value, "inferkit_status is uint32_t");
static_assert(std::is_same<std::underlying_type<inferkit_dtype>::type, std::uint32_t>::value, "inferkit_dtype is uint32_t");
static_assert(std::is_same<std::underlying_type<inferkit_pixel_format>::type, std::uint32_t>::value, "inferkit_pixel_format is uint32_t");
static_assert(sizeof(inferkit_status) == 4, "enums cross the ABI as uint32_t");

// A callback a C++ host writes (it must not throw through inferkit).
extern "C" void inferkit_header_cpp_callback(void *, inferkit_status, inferkit_outputs *outputs, inferkit_error *error) noexcept {
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);
}

int inferkit_header_compiles_as_cpp() {
  inferkit_callback cb = inferkit_header_cpp_callback;
  inferkit_status (*submit)(const inferkit_request *, inferkit_callback, void *, inferkit_pending **, inferkit_error **) =
      inferkit_request_submit;
  inferkit_status (*run)(const inferkit_request *, inferkit_outputs **, inferkit_error **) = inferkit_request_run;
  return static_cast<int>(INFERKIT_STATUS_DTYPE_MISMATCH) + (cb != nullptr) + (submit != nullptr) + (run != nullptr);
}
