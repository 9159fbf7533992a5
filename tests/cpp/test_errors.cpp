// inferkit::Error and the error helper: codes and messages from the C library, the helper that
// reads the error object only after the call, checks done by the wrapper itself (NUL bytes,
// durations), and the compile-time dtype mapping.
#include "common.hpp"

using inferkit::Error;
using inferkit::Model;
using inferkit::Request;

TEST(Errors, CarryTheCodeAndTheMessageOfTheCLibrary) {
  const std::string path = ikt::fixture("no-such-model.onnx");
  try {
    Model m = Model::open(path);
    FAIL() << "opened a missing file";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), INFERKIT_STATUS_MODEL_NOT_FOUND);
    EXPECT_STREQ(e.status_name(), "MODEL_NOT_FOUND");
    EXPECT_NE(std::string(e.what()).find("no-such-model.onnx"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("does not exist"), std::string::npos) << e.what();
  }
}

TEST(Errors, AreStdRuntimeErrors) {
  EXPECT_THROW(Model::open(ikt::fixture("no-such-model.onnx")), std::runtime_error);
  EXPECT_THROW(Model::open(ikt::fixture("no-such-model.onnx")), std::exception);
  // Copies keep code and message.
  try {
    Model m = Model::open(ikt::fixture("empty.onnx"));
    FAIL();
  } catch (const Error &e) {
    const Error copy = e;
    EXPECT_EQ(copy.code(), e.code());
    EXPECT_STREQ(copy.what(), e.what());
  }
}

TEST(Errors, ModelsThatDoNotLoad) {
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_MODEL, "Protobuf", Model::open(ikt::fixture("corrupt.onnx")));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_MODEL, "is empty", Model::open(ikt::fixture("empty.onnx")));
  EXPECT_IK_ERROR(INFERKIT_STATUS_MODEL_UNREADABLE, "is a directory", Model::open(INFERKIT_FIXTURES));
  const std::vector<std::uint8_t> junk = {1, 2, 3, 4, 5};
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_MODEL, "junk", Model::open_bytes(junk, "junk"));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_MODEL, "", Model::open_bytes(inferkit::Span<std::uint8_t>()));
}

// The helper is given the call as a callable, so the error object can only be read after the call
// has written it: the message of a failing call is never empty and is that call's.
TEST(Errors, TheHelperReadsTheErrorAfterTheCall) {
  int calls = 0;
  inferkit_model *never = nullptr;
  try {
    inferkit::detail::call([&](inferkit_error **e) {
      ++calls;
      EXPECT_NE(e, nullptr);
      EXPECT_EQ(*e, nullptr);  // nothing read or written before the call
      return inferkit_model_open(nullptr, nullptr, &never, e);
    });
    FAIL() << "no exception";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), INFERKIT_STATUS_NULL_ARGUMENT);
    EXPECT_GT(std::strlen(e.what()), 0u);
    EXPECT_NE(std::string(e.what()).find("path"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(never, nullptr);

  // A successful call does not throw, and runs once.
  calls = 0;
  std::size_t instances = 0;
  Model model = Model::open(ikt::fixture("mlp.onnx"));
  EXPECT_NO_THROW(inferkit::detail::call([&](inferkit_error **e) {
    ++calls;
    return inferkit_model_stats(model.get(), &instances, nullptr, nullptr, nullptr, nullptr, e);
  }));
  EXPECT_EQ(calls, 1);
  EXPECT_GE(instances, 1u);
}

TEST(Errors, MessagesOfAFailedRunNameTheInputAndTheDtypes) {
  Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  const std::vector<double> x(16, 0.5);
  req.add_tensor("x", x, {1, 16});
  try {
    inferkit::Outputs out = req.run();
    FAIL() << "ran f64 data as f32";
  } catch (const Error &e) {
    EXPECT_EQ(e.code(), INFERKIT_STATUS_DTYPE_MISMATCH);
    EXPECT_NE(std::string(e.what()).find("expected dtype f32, given f64"), std::string::npos) << e.what();
  }
}

TEST(Errors, ANulByteInANameIsRefusedByTheWrapper) {
  Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  const std::vector<float> x(16, 0.0f);
  const std::string_view bad("x\0y", 3);
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "NUL", req.add_tensor(bad, x, {1, 16}));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "NUL", Model::open(std::string_view("mlp\0.onnx", 9)));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "NUL", req.set_text(bad));
  // The C library's own checks still apply (not UTF-8).
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", req.add_tensor("\xc3", x, {1, 16}));
  // Nothing was added: the request takes exactly one x.
  req.add_tensor("x", x, {1, 16});
  EXPECT_EQ(req.run().count(), 1u);
}

TEST(Errors, DurationsAreCheckedByTheWrapper) {
  Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "positive", req.set_timeout(std::chrono::milliseconds(0)));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "negative", req.set_timeout(std::chrono::milliseconds(-5)));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "negative",
                  req.set_timeout(std::chrono::duration<double>(std::nan(""))));
  inferkit::ModelOptions opts;
  inferkit::Batching b;
  b.max_queue_delay = std::chrono::microseconds(-1);
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "max_queue_delay", opts.set_batching(b));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "poll_interval",
                  inferkit::Registry::open(ikt::models_dir(), true, std::chrono::milliseconds(-1)));
  // A sub-microsecond timeout rounds up (it is not 0, which would remove it), and the longest
  // durations saturate instead of overflowing.
  EXPECT_NO_THROW(req.set_timeout(std::chrono::nanoseconds(1)));
  EXPECT_NO_THROW(req.set_timeout(std::chrono::hours::max()));
  EXPECT_NO_THROW(req.clear_timeout());
}

TEST(Errors, StatusAndDtypeHelpers) {
  EXPECT_STREQ(inferkit::status_name(INFERKIT_STATUS_QUEUE_FULL), "QUEUE_FULL");
  EXPECT_STREQ(inferkit::status_name(static_cast<inferkit_status>(9999)), "UNKNOWN");
  EXPECT_EQ(inferkit::dtype_size(INFERKIT_DTYPE_F32), 4u);
  EXPECT_EQ(inferkit::dtype_size(INFERKIT_DTYPE_STRING), 0u);
  EXPECT_EQ(inferkit::dtype_name(INFERKIT_DTYPE_I64), "i64");
  EXPECT_EQ(inferkit::dtype_name(static_cast<inferkit_dtype>(999)), "dtype 999");

  static_assert(inferkit::dtype_of_v<float> == INFERKIT_DTYPE_F32);
  static_assert(inferkit::dtype_of_v<const double> == INFERKIT_DTYPE_F64);
  static_assert(inferkit::dtype_of_v<bool> == INFERKIT_DTYPE_BOOL);
  static_assert(inferkit::dtype_of_v<std::int8_t> == INFERKIT_DTYPE_I8);
  static_assert(inferkit::dtype_of_v<std::uint8_t> == INFERKIT_DTYPE_U8);
  static_assert(inferkit::dtype_of_v<std::int16_t> == INFERKIT_DTYPE_I16);
  static_assert(inferkit::dtype_of_v<std::uint16_t> == INFERKIT_DTYPE_U16);
  static_assert(inferkit::dtype_of_v<std::int32_t> == INFERKIT_DTYPE_I32);
  static_assert(inferkit::dtype_of_v<std::uint32_t> == INFERKIT_DTYPE_U32);
  static_assert(inferkit::dtype_of_v<std::int64_t> == INFERKIT_DTYPE_I64);
  static_assert(inferkit::dtype_of_v<long long> == INFERKIT_DTYPE_I64);
  static_assert(inferkit::dtype_of_v<std::uint64_t> == INFERKIT_DTYPE_U64);
  static_assert(inferkit::dtype_of_v<unsigned long long> == INFERKIT_DTYPE_U64);
  static_assert(!inferkit::is_tensor_element_v<char>, "plain char has no dtype");
  static_assert(!inferkit::is_tensor_element_v<std::string>);
  static_assert(!inferkit::is_tensor_element_v<void *>);
  SUCCEED();
}
