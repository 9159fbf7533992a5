/*
 * The generated header compiles as C99 and as C11 with -Wall -Wextra -Wpedantic -Werror, and
 * holds what hosts build on at compile time. Compiled (not linked) by `make test-c`, once per
 * standard. Included twice on purpose: the include guard must hold.
 */
#include "inferkit.h"
#include "inferkit.h"

/* _Static_assert from C11; before it, a typedef of an array whose size is negative when the
 * condition is false. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define IK_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#else
#define IK_CAT2(a, b) a##b
#define IK_CAT(a, b) IK_CAT2(a, b)
#define IK_STATIC_ASSERT(cond, msg) typedef char IK_CAT(ik_static_assert_line_, __LINE__)[(cond) ? 1 : -1]
#endif

IK_STATIC_ASSERT(INFERKIT_STATUS_OK == 0, "success is 0");
IK_STATIC_ASSERT(INFERKIT_VERSION_NUMBER == INFERKIT_VERSION_MAJOR * 10000 + INFERKIT_VERSION_MINOR * 100 + INFERKIT_VERSION_PATCH,
                 "INFERKIT_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH");
IK_STATIC_ASSERT(INFERKIT_ABI_VERSION_MAJOR >= 1, "the ABI is versioned from 1");
IK_STATIC_ASSERT(INFERKIT_ABI_VERSION_MINOR >= 0, "the ABI minor is a number");
IK_STATIC_ASSERT(INFERKIT_DTYPE_F32 == 1 && INFERKIT_DTYPE_STRING == 8 && INFERKIT_DTYPE_BF16 == 16, "dtype numbers are ONNX's");
IK_STATIC_ASSERT(INFERKIT_IO_INPUT == 0 && INFERKIT_IO_OUTPUT == 1, "io numbers");
IK_STATIC_ASSERT(INFERKIT_STATUS_DTYPE_MISMATCH == 33 && INFERKIT_STATUS_QUEUE_FULL == 50 && INFERKIT_STATUS_PIPELINE_STEP == 81,
                 "status numbers are stable");
/* In C the enum types are uint32_t: what crosses the ABI has a fixed size. */
IK_STATIC_ASSERT(sizeof(inferkit_status) == 4 && sizeof(inferkit_dtype) == 4 && sizeof(inferkit_pixel_format) == 4,
                 "enums cross the ABI as uint32_t");

/* The signatures a binding is written against: assigning each function to a pointer of the
 * expected type fails to compile when one changes. */
int inferkit_header_compiles_as_c(void);
int inferkit_header_compiles_as_c(void) {
  inferkit_status (*options_new)(inferkit_model_options **, inferkit_error **) = inferkit_model_options_new;
  inferkit_status (*open)(const char *, const inferkit_model_options *, inferkit_model **, inferkit_error **) = inferkit_model_open;
  void (*close)(inferkit_model *) = inferkit_model_close;
  inferkit_status (*request_new)(const inferkit_model *, inferkit_request **, inferkit_error **) = inferkit_request_new;
  inferkit_status (*run)(const inferkit_request *, inferkit_outputs **, inferkit_error **) = inferkit_request_run;
  inferkit_status (*submit)(const inferkit_request *, inferkit_callback, void *, inferkit_pending **, inferkit_error **) =
      inferkit_request_submit;
  bool (*cancel)(const inferkit_pending *) = inferkit_pending_cancel;
  void (*cancel_token)(const inferkit_cancel_token *) = inferkit_cancel_token_cancel;
  inferkit_status (*set_cancel_token)(inferkit_request *, const inferkit_cancel_token *, inferkit_error **) =
      inferkit_request_set_cancel_token;
  uint32_t (*version_number)(void) = inferkit_version_number;
  void (*abi_version)(uint32_t *, uint32_t *) = inferkit_abi_version;
  size_t (*class_rows)(const inferkit_outputs *) = inferkit_outputs_class_rows;
  inferkit_status (*deadline)(inferkit_request *, uint64_t, inferkit_error **) = inferkit_request_set_deadline_ns;
  return (options_new != 0) + (open != 0) + (close != 0) + (request_new != 0) + (run != 0) + (submit != 0) + (cancel != 0) + (cancel_token != 0) + (set_cancel_token != 0) +
         (version_number != 0) + (abi_version != 0) + (class_rows != 0) + (deadline != 0);
}
