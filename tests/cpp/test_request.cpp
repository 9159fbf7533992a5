// Request and Outputs, run blocking: typed tensor inputs from every container (borrowed and
// copied), every element type through identity_all, strings and values, output reads and their
// checks, output selection, every validation status, timeouts and deadlines, the request holding
// its model, and one request run from several threads at once.
#include "common.hpp"

#include <array>
#include <atomic>
#include <limits>

using inferkit::Error;
using inferkit::Model;
using inferkit::Outputs;
using inferkit::Request;

TEST(Request, MlpMatchesTheReference) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  const std::vector<float> x = mlp.x();
  req.add_tensor("x", x, mlp.in[0].shape);
  const Outputs out = req.run();
  ASSERT_EQ(out.count(), 1u);
  EXPECT_EQ(out.name(0), "y");
  EXPECT_EQ(out.find("y"), 0u);
  EXPECT_EQ(out.names(), std::vector<std::string>{"y"});
  const inferkit::TensorView<float> y = out.get<float>("y");
  EXPECT_EQ(y.name(), "y");
  EXPECT_EQ(y.shape().to_vector(), mlp.want[0].shape);
  EXPECT_EQ(y.rank(), 2u);
  EXPECT_EQ(y.size(), 12u);
  EXPECT_TRUE(ikt::close(y.to_vector(), mlp.y()));
  EXPECT_TRUE(ikt::close(std::vector<float>(y.begin(), y.end()), mlp.y()));
  EXPECT_EQ(y[5], y.data()[5]);
  // by index, and copied
  EXPECT_TRUE(ikt::close(out.copy<float>(0), mlp.y()));
  const inferkit::RawTensor raw = out.raw("y");
  EXPECT_EQ(raw.dtype, INFERKIT_DTYPE_F32);
  EXPECT_EQ(raw.size_bytes, 12 * sizeof(float));
  // a request runs as often as wanted
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y()));
}

// std::vector, std::array, C arrays, pointer and count, Span: borrowed and copied, one row each.
TEST(Request, EveryKindOfContainer) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  const std::vector<float> row = mlp.x_rows(1);
  const std::vector<float> want = mlp.y_rows(1);
  std::array<float, 16> arr{};
  float c_array[16];
  std::copy(row.begin(), row.end(), arr.begin());
  std::copy(row.begin(), row.end(), c_array);
  const std::array<std::int64_t, 2> shape_array = {1, 16};
  const std::vector<std::int64_t> shape_vector = {1, 16};

  auto check = [&](const char *what, auto &&add) {
    Request req(model);
    add(req);
    EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), want)) << what;
  };
  check("vector", [&](Request &r) { r.add_tensor("x", row, {1, 16}); });
  check("std::array", [&](Request &r) { r.add_tensor("x", arr, shape_array); });
  check("C array", [&](Request &r) { r.add_tensor("x", c_array, shape_vector); });
  check("pointer and count", [&](Request &r) { r.add_tensor("x", row.data(), row.size(), {1, 16}); });
  check("Span", [&](Request &r) { r.add_tensor("x", inferkit::Span<float>(row.data(), 16), {1, 16}); });
  check("copy of a vector", [&](Request &r) { r.add_tensor_copy("x", std::vector<float>(row), {1, 16}); });
  check("copy of an array", [&](Request &r) { r.add_tensor_copy("x", arr, {1, 16}); });
  check("copy of a C array", [&](Request &r) { r.add_tensor_copy("x", c_array, {1, 16}); });
  check("copy of pointer and count", [&](Request &r) { r.add_tensor_copy("x", row.data(), 16, {1, 16}); });
  check("copy of a braced list", [&](Request &r) {
    r.add_tensor_copy("x", {row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10],
                            row[11], row[12], row[13], row[14], row[15]},
                      {1, 16});
  });
  check("value", [&](Request &r) { r.add_value("x", inferkit::Value::tensor(row, {1, 16})); });
  check("shape from a span", [&](Request &r) {
    r.add_tensor("x", row, inferkit::Shape(inferkit::Span<std::int64_t>(shape_array.data(), 2)));
  });
}

TEST(Request, BorrowedDataIsReadAtRunTimeCopiedDataWhenAdded) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  std::vector<float> buf(48, 0.0f);
  Request borrowed(model), copied(model);
  borrowed.add_tensor("x", buf, {3, 16});  // zeros when added
  const std::vector<float> x = mlp.x();
  std::copy(x.begin(), x.end(), buf.begin());  // the reference when run
  EXPECT_TRUE(ikt::close(borrowed.run().copy<float>("y"), mlp.y()));
  copied.add_tensor_copy("x", buf, {3, 16});  // the reference when added
  std::fill(buf.begin(), buf.end(), 0.0f);     // zeros when run
  EXPECT_TRUE(ikt::close(copied.run().copy<float>("y"), mlp.y()));
  EXPECT_FALSE(ikt::close(borrowed.run().copy<float>("y"), mlp.y()));
}

// The dtype is deduced from the element type: identity_all returns each of its 13 inputs.
TEST(Request, EveryElementTypeThroughIdentity) {
  const Model model = Model::open(ikt::fixture("identity_all.onnx"));
  Request req(model);
  const inferkit::Shape shape{2, 3};
  const std::vector<float> f32 = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
  const std::vector<double> f64 = {1.5, -2.0, 3.25, 0.0, 1e-300, -7.0};
  const std::vector<std::uint16_t> f16 = {0x3c00, 0xc000, 0x4248, 0x0000, 0x1234, 0x7bff};  // raw halves
  const std::vector<std::uint16_t> bf16 = {0x3f80, 0xc000, 0x4050, 0x0000, 0x1234, 0x7f7f};
  const std::vector<std::int8_t> i8 = {-128, -1, 0, 1, 2, 127};
  const std::vector<std::int16_t> i16 = {-32768, -1, 0, 1, 2, 32767};
  const std::vector<std::int32_t> i32 = {std::numeric_limits<std::int32_t>::min(), -1, 0, 1, 2, 7};
  const std::vector<long long> i64 = {std::numeric_limits<long long>::min(), -1, 0, 1, 2, 7};  // long long is i64 too
  const std::vector<std::uint8_t> u8 = {0, 1, 2, 3, 128, 255};
  const std::vector<std::uint16_t> u16 = {0, 1, 2, 3, 128, 65535};
  const std::vector<std::uint32_t> u32 = {0, 1, 2, 3, 128, 4294967295u};
  const std::vector<std::uint64_t> u64 = {0, 1, 2, 3, 128, std::numeric_limits<std::uint64_t>::max()};
  const std::vector<bool> flags = {true, false, true, true, false, false};  // copied: vector<bool> is not contiguous
  req.add_tensor("in_f32", f32, shape)
      .add_tensor("in_f64", f64, shape)
      .add_raw("in_f16", INFERKIT_DTYPE_F16, shape, f16.data(), f16.size() * 2, false)
      .add_raw("in_bf16", INFERKIT_DTYPE_BF16, shape, bf16.data(), bf16.size() * 2, true)
      .add_tensor("in_i8", i8, shape)
      .add_tensor("in_i16", i16, shape)
      .add_tensor("in_i32", i32, shape)
      .add_tensor("in_i64", i64, shape)
      .add_tensor("in_u8", u8, shape)
      .add_tensor("in_u16", u16, shape)
      .add_tensor("in_u32", u32, shape)
      .add_tensor("in_u64", u64, shape)
      .add_tensor_copy("in_bool", flags, shape);
  const Outputs out = req.run();
  ASSERT_EQ(out.count(), 13u);
  EXPECT_EQ(out.copy<float>("out_f32"), f32);
  EXPECT_EQ(out.copy<double>("out_f64"), f64);
  EXPECT_EQ(out.copy<std::int8_t>("out_i8"), i8);
  EXPECT_EQ(out.copy<std::int16_t>("out_i16"), i16);
  EXPECT_EQ(out.copy<std::int32_t>("out_i32"), i32);
  EXPECT_EQ(out.copy<long long>("out_i64"), i64);
  EXPECT_EQ(out.copy<std::uint8_t>("out_u8"), u8);
  EXPECT_EQ(out.copy<std::uint16_t>("out_u16"), u16);
  EXPECT_EQ(out.copy<std::uint32_t>("out_u32"), u32);
  EXPECT_EQ(out.copy<std::uint64_t>("out_u64"), u64);
  const std::vector<bool> got_flags(out.get<bool>("out_bool").begin(), out.get<bool>("out_bool").end());
  EXPECT_EQ(got_flags, flags);
  // Half types are read raw.
  const inferkit::RawTensor h = out.raw("out_f16");
  EXPECT_EQ(h.dtype, INFERKIT_DTYPE_F16);
  ASSERT_EQ(h.size_bytes, 12u);
  EXPECT_EQ(std::memcmp(h.data, f16.data(), 12), 0);
  EXPECT_EQ(std::memcmp(out.raw("out_bf16").data, bf16.data(), 12), 0);
  EXPECT_IK_ERROR(INFERKIT_STATUS_DTYPE_MISMATCH, "`out_f16` is f16, read as u16", out.get<std::uint16_t>("out_f16"));
}

// A bool array borrowed, and every input and output of int_bool against the reference.
TEST(Request, IntegersAndBoolsMatchTheReference) {
  const ikt::Pack in = ikt::pack("int_bool.inputs.tpk"), want = ikt::pack("int_bool.outputs.tpk");
  const Model model = Model::open(ikt::fixture("int_bool.onnx"));
  Request req(model);
  const std::vector<std::int64_t> values = in[0].as<std::int64_t>();
  ASSERT_EQ(in[1].dtype, INFERKIT_DTYPE_BOOL);
  std::vector<std::uint8_t> keep_bytes = in[1].data;
  std::unique_ptr<bool[]> keep(new bool[keep_bytes.size()]);
  for (std::size_t i = 0; i < keep_bytes.size(); ++i) keep[i] = keep_bytes[i] != 0;
  req.add_tensor(in[0].name, values, in[0].shape).add_tensor(in[1].name, keep.get(), keep_bytes.size(), in[1].shape);
  const Outputs out = req.run();
  EXPECT_EQ(out.copy<std::int64_t>(want[0].name), want[0].as<std::int64_t>());
  const inferkit::TensorView<bool> positive = out.get<bool>(want[1].name);
  EXPECT_EQ(positive.shape().to_vector(), want[1].shape);
  ASSERT_EQ(positive.size(), want[1].data.size());
  for (std::size_t i = 0; i < positive.size(); ++i) EXPECT_EQ(positive[i], want[1].data[i] != 0) << i;
}

TEST(Request, StringsInAndOut) {
  const Model model = Model::open(ikt::fixture("values/strings.onnx"));
  Request req(model);
  const std::vector<std::string> words = {"cat", std::string("d\0g", 3), "emu"};
  req.add_strings("words", words, {3});
  Outputs out = req.run();
  ASSERT_EQ(out.count(), 2u);
  const std::vector<std::string> plural = out.strings("plural");
  ASSERT_EQ(plural.size(), 3u);
  EXPECT_EQ(plural[0], "cats");
  EXPECT_EQ(plural[1], std::string("d\0gs", 4));
  EXPECT_EQ(out.copy<std::int64_t>("ids"), (std::vector<std::int64_t>{1, -1, -1}));
  // As a value: a string tensor lent by the outputs.
  const inferkit::ValueRef v = out.value("plural");
  EXPECT_EQ(v.kind(), INFERKIT_VALUE_KIND_TENSOR);
  EXPECT_EQ(v.tensor().dtype(), INFERKIT_DTYPE_STRING);
  EXPECT_EQ(v.tensor().shape(), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(v.tensor().string(2), "emus");
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", v.tensor().string(3));
  // Strings are not numbers, numbers are not strings: the C library's checks.
  EXPECT_IK_ERROR(INFERKIT_STATUS_TYPE_MISMATCH, "", out.get<float>("plural"));
  EXPECT_IK_ERROR(INFERKIT_STATUS_TYPE_MISMATCH, "string tensor", out.strings("ids"));
  EXPECT_IK_ERROR(INFERKIT_STATUS_DTYPE_MISMATCH, "read as f32", out.value("ids").tensor().data<float>());
  EXPECT_EQ(out.value("ids").tensor().data<std::int64_t>()[0], 1);

  // Braced string_views, C strings, and a string value.
  req.clear().add_strings("words", {"dog"}, {1});
  EXPECT_EQ(req.run().strings(0), std::vector<std::string>{"dogs"});
  const std::vector<const char *> c_strings = {"cat", "cow"};
  req.clear().add_strings("words", c_strings, {2});
  EXPECT_EQ(req.run().strings("plural"), (std::vector<std::string>{"cats", "cows"}));
  req.clear().add_value("words", inferkit::Value::strings({"emu", "cat"}, {2}));
  out = req.run();
  EXPECT_EQ(out.strings("plural"), (std::vector<std::string>{"emus", "cats"}));
  // A count that is not the shape's is refused when added.
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "", req.clear().add_strings("words", words, {2}));
}

TEST(Request, ValuesOfEveryKind) {
  const inferkit::Value t = inferkit::Value::tensor({1.0f, 2.0f}, {2});
  const inferkit::Value seq = inferkit::Value::sequence({t, t});
  EXPECT_EQ(seq.kind(), INFERKIT_VALUE_KIND_SEQUENCE);
  EXPECT_EQ(seq.ref().size(), 2u);
  EXPECT_EQ(seq.ref().item(1).tensor().data<float>()[1], 2.0f);
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "no item 2", seq.ref().item(2));
  EXPECT_IK_ERROR(INFERKIT_STATUS_TYPE_MISMATCH, "", seq.ref().tensor());
  const inferkit::Value keys = inferkit::Value::tensor(std::vector<std::int64_t>{7, 9}, {2});
  const inferkit::Value map = inferkit::Value::map(keys, t);
  EXPECT_EQ(map.kind(), INFERKIT_VALUE_KIND_MAP);
  EXPECT_EQ(map.ref().keys().data<std::int64_t>()[1], 9);
  EXPECT_EQ(map.ref().values().data<float>()[0], 1.0f);
  EXPECT_IK_ERROR(INFERKIT_STATUS_TYPE_MISMATCH, "not a map", t.ref().keys());
  EXPECT_TRUE(inferkit::Value::optional(t).ref().has_value());
  EXPECT_FALSE(inferkit::Value::none().ref().has_value());
  EXPECT_EQ(inferkit::Value::none().kind(), INFERKIT_VALUE_KIND_OPTIONAL);
  // A sequence where the model takes a tensor.
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  req.add_value("x", seq);
  EXPECT_IK_ERROR(INFERKIT_STATUS_TYPE_MISMATCH, "x", static_cast<void>(req.run()));
}

TEST(Request, OutputReadsAreChecked) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  const std::vector<float> x = mlp.x();
  req.add_tensor("x", x, {3, 16});
  const Outputs out = req.run();
  EXPECT_IK_ERROR(INFERKIT_STATUS_DTYPE_MISMATCH, "output `y` is f32, read as f64", out.get<double>("y"));
  EXPECT_IK_ERROR(INFERKIT_STATUS_DTYPE_MISMATCH, "read as i64", out.copy<std::int64_t>(0));
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", out.get<float>("nope"));
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_OUTPUT, "model `mlp`", out.find("nope"));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", out.get<float>(1));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", out.name(1));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", out.value(1));
  EXPECT_EQ(out.class_rows(), 0u);
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "", out.class_at(0, 0));
}

TEST(Request, OutputSelection) {
  const ikt::Pack in = ikt::pack("two_io.inputs.tpk"), want = ikt::pack("two_io.outputs.tpk");
  const Model model = Model::open(ikt::fixture("two_io.onnx"));
  Request req(model);
  for (const ikt::PackTensor &t : in) req.add_raw(t.name, t.dtype, t.shape, t.data.data(), t.data.size(), false);
  EXPECT_EQ(req.run().names(), (std::vector<std::string>{"sum", "doubled"}));
  req.set_outputs({"doubled", "sum"});
  Outputs out = req.run();
  EXPECT_EQ(out.names(), (std::vector<std::string>{"doubled", "sum"}));
  EXPECT_EQ(out.copy<std::int64_t>(0), want[1].as<std::int64_t>());
  EXPECT_TRUE(ikt::close(out.copy<float>(1), want[0].as<float>()));
  req.set_outputs(std::vector<std::string>{"sum"});
  EXPECT_EQ(req.run().count(), 1u);
  req.set_outputs({"nope"});
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", static_cast<void>(req.run()));
  req.clear_outputs();
  EXPECT_EQ(req.run().count(), 2u);
}

// Every status a request meets in validation, each a typed Error before ONNX Runtime sees it.
TEST(Request, ValidationStatuses) {
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  const std::vector<float> x(16, 0.0f);
  const std::vector<double> xd(16, 0.0);
  auto run = [&] { static_cast<void>(req.run()); };

  req.add_tensor("x", xd, {1, 16});
  EXPECT_IK_ERROR(INFERKIT_STATUS_DTYPE_MISMATCH, "expected dtype f32, given f64", run());
  req.clear().add_tensor("x", x.data(), 15, {1, 15});
  EXPECT_IK_ERROR(INFERKIT_STATUS_DIM_MISMATCH, "axis 1: expected 16, given 15", run());
  req.clear().add_tensor("x", x, {16});
  EXPECT_IK_ERROR(INFERKIT_STATUS_RANK_MISMATCH, "expected rank 2", run());
  req.clear().add_tensor("x", x.data(), 15, {1, 16});
  EXPECT_IK_ERROR(INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, "needs 64 bytes, given 60", run());
  req.clear();
  EXPECT_IK_ERROR(INFERKIT_STATUS_MISSING_INPUT, "`x`", run());
  req.add_tensor("x", x, {1, 16}).add_tensor("z", x, {1, 16});
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_INPUT, "`z`", run());
  req.clear().add_tensor("x", x, {1, 16}).add_tensor_copy("x", x, {1, 16});
  EXPECT_IK_ERROR(INFERKIT_STATUS_DUPLICATE_INPUT, "x", run());
  req.clear().add_tensor("x", x.data(), 0, {std::int64_t{1} << 62, 16});
  EXPECT_IK_ERROR(INFERKIT_STATUS_SHAPE_OVERFLOW, "x", run());
  // refused when added
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "negative", req.clear().add_tensor("x", x, {-1, 16}));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_dtype",
                  req.add_raw("x", static_cast<inferkit_dtype>(99), {1, 16}, x.data(), 64, true));

  // a bool byte that is neither 0 nor 1
  const Model int_bool = Model::open(ikt::fixture("int_bool.onnx"));
  Request ib(int_bool);
  const std::vector<std::int64_t> values = {1, 1, 1, 1};
  std::vector<std::uint8_t> keep = {1, 0, 7, 1};
  ib.add_tensor("values", values, {1, 4}).add_raw("keep", INFERKIT_DTYPE_BOOL, {1, 4}, keep.data(), keep.size(), false);
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_TENSOR_DATA, "byte value 7", static_cast<void>(ib.run()));
  keep[2] = 1;
  EXPECT_EQ(ib.run().count(), 2u);

  // an empty batch is a request
  req.clear().add_tensor("x", x.data(), 0, {0, 16});
  const Outputs empty = req.run();
  EXPECT_EQ(empty.get<float>("y").shape().to_vector(), (std::vector<std::int64_t>{0, 4}));
  EXPECT_TRUE(empty.get<float>("y").empty());
}

TEST(Request, TimeoutStopsALongRun) {
  const Model model = Model::open(ikt::fixture("loop.onnx"));
  Request req(model);
  std::int64_t n = 1000000000;  // loop.onnx adds 1 n times: minutes
  const float zero = 0.0f;
  req.add_tensor("n", &n, 1, {}).add_tensor("x", &zero, 1, {1}).set_timeout(std::chrono::milliseconds(200));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_IK_ERROR(INFERKIT_STATUS_DEADLINE_EXCEEDED, "", static_cast<void>(req.run()));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  // The session serves the next run; borrowed data is read again.
  n = 5;
  EXPECT_EQ(req.run().copy<float>("y"), std::vector<float>{5.0f});
}

TEST(Request, Deadlines) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  const std::vector<float> x = mlp.x();
  req.add_tensor("x", x, {3, 16});
  using clock = std::chrono::steady_clock;
  req.set_deadline(clock::now() - std::chrono::milliseconds(1));
  EXPECT_IK_ERROR(INFERKIT_STATUS_DEADLINE_EXCEEDED, "", static_cast<void>(req.run()));
  req.set_deadline(clock::time_point());  // the clock's epoch: passed, not "no deadline"
  EXPECT_IK_ERROR(INFERKIT_STATUS_DEADLINE_EXCEEDED, "", static_cast<void>(req.run()));
  // with a timeout too, the earlier applies
  req.set_timeout(std::chrono::minutes(1));
  EXPECT_IK_ERROR(INFERKIT_STATUS_DEADLINE_EXCEEDED, "", static_cast<void>(req.run()));
  req.clear_deadline();
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y()));
  req.set_deadline(clock::now() + std::chrono::minutes(1));
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y()));
  req.set_deadline(clock::time_point::max());
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y()));
  // A deadline of another duration type.
  req.set_deadline(std::chrono::time_point_cast<std::chrono::milliseconds>(clock::now() + std::chrono::seconds(30)));
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y()));
}

// The request holds its model: the Model may go first; and a Model outlives its requests.
TEST(Request, HoldsItsModel) {
  const ikt::Mlp mlp;
  const std::vector<float> x = mlp.x();
  Request req(Model::open(ikt::fixture("mlp.onnx")));  // the temporary Model is closed at once
  req.add_tensor("x", x, {3, 16});
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y()));
  Outputs out = req.run();
  req = Request();  // outputs outlive the request
  EXPECT_TRUE(ikt::close(out.copy<float>("y"), mlp.y()));

  Model model = Model::open(ikt::fixture("mlp.onnx"));
  {
    Request first(model);
    first.add_tensor("x", x, {3, 16});
    EXPECT_EQ(first.run().count(), 1u);
  }
  Request second(model);
  second.add_tensor("x", x, {3, 16});
  EXPECT_TRUE(ikt::close(second.run().copy<float>("y"), mlp.y()));
}

TEST(Request, ClearKeepsOptions) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  const std::vector<float> x = mlp.x_rows(1);
  req.add_tensor("x", x, {1, 16}).set_outputs({"nope"});
  req.clear();
  EXPECT_IK_ERROR(INFERKIT_STATUS_MISSING_INPUT, "`x`", static_cast<void>(req.run()));
  req.add_tensor("x", x, {1, 16});
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", static_cast<void>(req.run()));
  req.clear_outputs();
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y_rows(1)));
}

// One request run by several std::threads at once (documented: allowed while nobody changes it).
TEST(Request, ConcurrentRunsOfOneRequest) {
  const ikt::Mlp mlp;
  inferkit::ModelOptions opts;
  opts.set_instances(2);
  const Model model = Model::open(ikt::fixture("mlp.onnx"), opts);
  Request req(model);
  const std::vector<float> x = mlp.x();
  req.add_tensor("x", x, {3, 16});
  const std::vector<float> first = req.run().copy<float>("y");
  ASSERT_TRUE(ikt::close(first, mlp.y()));
  constexpr int kThreads = 4, kRuns = 25;
  std::atomic<int> differ{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kRuns; ++i) {
        try {
          if (req.run().copy<float>("y") != first) ++differ;
        } catch (const Error &) {
          ++failed;
        }
      }
    });
  }
  for (std::thread &t : threads) t.join();
  EXPECT_EQ(differ.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(model.stats().requests_run, 1u + kThreads * kRuns);
}
