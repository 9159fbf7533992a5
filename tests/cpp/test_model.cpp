// Runtime, ModelOptions and Model: versions and ABI, opening from a path and from bytes, the
// signature, options that take effect and options refused, clones, metrics, and the move-only
// handles (moved-from objects are safe to destroy and to assign to, and throw NULL_ARGUMENT).
#include "common.hpp"

#include <cstdlib>

using inferkit::Error;
using inferkit::Model;
using inferkit::ModelOptions;
using inferkit::Outputs;
using inferkit::Request;

namespace {

// Runs the mlp reference through `model`; y as floats.
std::vector<float> run_mlp(const Model &model, const ikt::Mlp &mlp) {
  Request req(model);
  const std::vector<float> x = mlp.x();
  req.add_tensor("x", x, {3, 16});
  return req.run().copy<float>("y");
}

}  // namespace

TEST(Runtime, VersionAndAbi) {
  EXPECT_EQ(inferkit::Runtime::version(), INFERKIT_VERSION_STRING);
  EXPECT_EQ(inferkit::Runtime::version_number(), static_cast<std::uint32_t>(INFERKIT_VERSION_NUMBER));
  EXPECT_TRUE(inferkit::Runtime::abi_compatible());
  EXPECT_NO_THROW(inferkit::Runtime::check_abi());
  const inferkit::AbiVersion abi = inferkit::Runtime::abi_version();
  EXPECT_EQ(abi.major, static_cast<std::uint32_t>(INFERKIT_ABI_VERSION_MAJOR));
  EXPECT_GE(abi.minor, static_cast<std::uint32_t>(INFERKIT_ABI_VERSION_MINOR));
}

TEST(Runtime, InitLoadsOnnxRuntimeOnce) {
  EXPECT_NO_THROW(inferkit::Runtime::init());
  EXPECT_NO_THROW(inferkit::Runtime::init());  // again: cheap
  const std::optional<std::string> ort = inferkit::Runtime::ort_version();
  ASSERT_TRUE(ort.has_value());
  EXPECT_FALSE(ort->empty());
  const std::optional<std::string> path = inferkit::Runtime::ort_path();
  ASSERT_TRUE(path.has_value());
  EXPECT_EQ(path->front(), '/');
  EXPECT_NE(path->find("libonnxruntime.so.1"), std::string::npos) << *path;
  EXPECT_NO_THROW(inferkit::Runtime::init(*path));  // the library already loaded: fine
  EXPECT_IK_ERROR(INFERKIT_STATUS_RUNTIME_ALREADY_INITIALIZED, "",
                  inferkit::Runtime::init("/nonexistent/libonnxruntime.so"));
}

TEST(Model, Signature) {
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  EXPECT_EQ(model.name(), "mlp");
  ASSERT_EQ(model.input_count(), 1u);
  ASSERT_EQ(model.output_count(), 1u);
  const inferkit::TensorInfo x = model.input(0);
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dtype, INFERKIT_DTYPE_F32);
  EXPECT_EQ(x.kind, INFERKIT_VALUE_KIND_TENSOR);
  EXPECT_EQ(x.type, "f32[batch, 16]");
  EXPECT_FALSE(x.any_shape);
  ASSERT_EQ(x.dims.size(), 2u);
  EXPECT_EQ(x.dims[0].size, -1);
  EXPECT_EQ(x.dims[0].symbol, std::optional<std::string>("batch"));
  EXPECT_EQ(x.dims[1].size, 16);
  EXPECT_FALSE(x.dims[1].symbol.has_value());
  EXPECT_EQ(x.shape(), (std::vector<std::int64_t>{-1, 16}));
  const std::vector<inferkit::TensorInfo> outs = model.outputs();
  ASSERT_EQ(outs.size(), 1u);
  EXPECT_EQ(outs[0].name, "y");
  EXPECT_EQ(outs[0].shape(), (std::vector<std::int64_t>{-1, 4}));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "", model.input(1));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "", model.output(7));

  // Several inputs of several dtypes, a scalar, strings.
  const Model two = Model::open(ikt::fixture("two_io.onnx"));
  const std::vector<inferkit::TensorInfo> ins = two.inputs();
  ASSERT_EQ(ins.size(), 2u);
  EXPECT_EQ(ins[1].name, "offsets");
  EXPECT_EQ(ins[1].dtype, INFERKIT_DTYPE_I64);
  EXPECT_EQ(ins[1].dims[0].symbol, std::optional<std::string>("n"));
  const Model loop = Model::open(ikt::fixture("loop.onnx"));
  EXPECT_EQ(loop.input(0).type, "i64[]");
  EXPECT_TRUE(loop.input(0).dims.empty());
  EXPECT_FALSE(loop.input(0).any_shape);
  const Model strings = Model::open(ikt::fixture("values/strings.onnx"));
  EXPECT_EQ(strings.input(0).dtype, INFERKIT_DTYPE_STRING);
}

// The backend: AUTO runs on ONNX Runtime here; tract, which the test build of libinferkit has,
// gives ONNX Runtime's answers within float rounding.
TEST(Model, Backends) {
  ModelOptions automatic;
  automatic.set_backend(INFERKIT_BACKEND_AUTO);
  EXPECT_EQ(Model::open(ikt::fixture("mlp.onnx"), automatic).backend(), INFERKIT_BACKEND_ONNX_RUNTIME);
  ASSERT_TRUE(inferkit_backend_available(INFERKIT_BACKEND_TRACT)) << "make test builds libinferkit with tract";
  ModelOptions on_tract;
  on_tract.set_backend(INFERKIT_BACKEND_TRACT);
  const Model tract = Model::open(ikt::fixture("mlp.onnx"), on_tract);
  EXPECT_EQ(tract.backend(), INFERKIT_BACKEND_TRACT);
  const ikt::Mlp mlp;
  EXPECT_TRUE(ikt::close(run_mlp(tract, mlp), mlp.y()));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_MODEL, "Loop", Model::open(ikt::fixture("loop.onnx"), on_tract));
  on_tract.set_input_shape("x", {1, 16});
  EXPECT_EQ(Model::open(ikt::fixture("mlp.onnx"), on_tract).input(0).shape(), (std::vector<std::int64_t>{1, 16}));
  ModelOptions unknown;
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_backend",
                  unknown.set_backend(static_cast<inferkit_backend>(42)));
}

TEST(Model, OpenFromBytes) {
  const ikt::Mlp mlp;
  const std::vector<std::uint8_t> bytes = ikt::read_bytes(ikt::fixture("mlp.onnx"));
  const Model named = Model::open_bytes(bytes, "from_bytes");
  EXPECT_EQ(named.name(), "from_bytes");
  EXPECT_TRUE(ikt::close(run_mlp(named, mlp), mlp.y()));
  EXPECT_EQ(Model::open_bytes(bytes).name(), "model");
  // A name in the options wins.
  ModelOptions opts;
  opts.set_name("from_options");
  EXPECT_EQ(Model::open_bytes(bytes, "ignored", opts).name(), "from_options");
}

TEST(Model, OptionsTakeEffect) {
  ModelOptions opts;
  opts.set_name("renamed")
      .set_instances(2)
      .set_threads(1, 1)
      .set_spinning(false)
      .set_optimization_level(INFERKIT_OPTIMIZATION_LEVEL_BASIC)
      .add_execution_provider(INFERKIT_EXECUTION_PROVIDER_CPU)
      .set_batching({8, std::chrono::microseconds(0), 64, std::chrono::seconds(5)})
      .set_preferred_batch_sizes({4, 8});
  const Model model = Model::open(ikt::fixture("mlp.onnx"), opts);
  EXPECT_EQ(model.name(), "renamed");
  const inferkit::ModelStats stats = model.stats();
  EXPECT_EQ(stats.instances, 2u);
  EXPECT_EQ(stats.idle, 2u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.requests_run, 0u);
  EXPECT_EQ(model.run_estimate().count(), 0);
  const ikt::Mlp mlp;
  EXPECT_TRUE(ikt::close(run_mlp(model, mlp), mlp.y()));
  EXPECT_EQ(model.stats().requests_run, 1u);
  EXPECT_GT(model.run_estimate(1).count(), 0);
}

TEST(Model, OptionsRefused) {
  ModelOptions opts;
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "", opts.set_instances(0));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "", opts.set_threads(0, 1));
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNSUPPORTED, "", opts.add_execution_provider(INFERKIT_EXECUTION_PROVIDER_CUDA));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "",
                  opts.set_optimization_level(static_cast<inferkit_optimization_level>(42)));
  EXPECT_IK_ERROR(INFERKIT_STATUS_CONFIG, "", opts.set_pipeline_toml("pre = ["));
  // A pipeline that does not fit the model fails the open.
  ModelOptions bad;
  bad.set_pipeline_toml("sequence = { max_length = 6 }");
  EXPECT_IK_ERROR(INFERKIT_STATUS_PIPELINE_CONFIG, "", Model::open(ikt::fixture("mlp.onnx"), bad));
  // The refusals left the options usable.
  opts.set_instances(1);
  EXPECT_EQ(Model::open(ikt::fixture("mlp.onnx"), opts).stats().instances, 1u);
}

TEST(Model, CloneOutlivesTheOriginal) {
  const ikt::Mlp mlp;
  Model original = Model::open(ikt::fixture("mlp.onnx"));
  Model copy = original.clone();
  EXPECT_EQ(copy.name(), "mlp");
  original = Model();  // closes one count
  EXPECT_FALSE(original);
  EXPECT_TRUE(ikt::close(run_mlp(copy, mlp), mlp.y()));
  // Clones share the model: requests through either count in its stats.
  Model again = copy.clone();
  EXPECT_TRUE(ikt::close(run_mlp(again, mlp), mlp.y()));
  EXPECT_EQ(copy.stats().requests_run, 2u);
}

TEST(Model, Metrics) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  run_mlp(model, mlp);
  run_mlp(model, mlp);
  const std::string text = model.metrics_prometheus();
  EXPECT_NE(text.find("# TYPE inferkit_request_duration_us histogram"), std::string::npos) << text;
  EXPECT_NE(text.find("inferkit_inference_request_success_total"), std::string::npos) << text;
  const std::string json = model.metrics_json();
  EXPECT_NE(json.find("\"requests_success\":2"), std::string::npos) << json;
  EXPECT_NE(json.find("\"p99_us\""), std::string::npos) << json;
}

// Every handle type: moved-from objects hold NULL, are safe to destroy, to move-assign to and
// from, and to self-move-assign; calling them throws NULL_ARGUMENT (or answers the C ABI's empty
// value).
TEST(Handles, MovedFromObjectsAreSafe) {
  const ikt::Mlp mlp;
  ModelOptions opts;
  ModelOptions opts2(std::move(opts));
  EXPECT_FALSE(opts);
  EXPECT_TRUE(opts2);
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", opts.set_instances(1));
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "moved-from", Model::open(ikt::fixture("mlp.onnx"), opts));
  opts = std::move(opts2);  // assign to a moved-from object
  EXPECT_TRUE(opts);
  ModelOptions &alias = opts;
  opts = std::move(alias);  // self-move keeps it
  EXPECT_TRUE(opts);

  Model model = Model::open(ikt::fixture("mlp.onnx"));
  Model moved(std::move(model));
  EXPECT_FALSE(model);
  EXPECT_EQ(model.get(), nullptr);
  EXPECT_EQ(model.name(), "");
  EXPECT_EQ(model.input_count(), 0u);
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", model.stats());
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", model.clone());
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", model.input(0));
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", Request r(model));
  Model &model_alias = moved;
  moved = std::move(model_alias);
  EXPECT_EQ(moved.name(), "mlp");

  Request req(moved);
  const std::vector<float> x = mlp.x();
  req.add_tensor("x", x, {3, 16});
  Request req2 = std::move(req);
  EXPECT_FALSE(req);
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", static_cast<void>(req.run()));
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", req.add_tensor("x", x, {3, 16}));
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", req.submit([](inferkit::Result) {}));
  EXPECT_NO_THROW(req.clear());

  Outputs out = req2.run();
  Outputs out2;
  out2 = std::move(out);
  EXPECT_FALSE(out);
  EXPECT_EQ(out.count(), 0u);
  EXPECT_EQ(out.class_rows(), 0u);
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", out.get<float>(0));
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", out.name(0));
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", out.find("y"));
  EXPECT_TRUE(ikt::close(out2.copy<float>("y"), mlp.y()));
  out = req2.run();  // assign into a moved-from object
  EXPECT_EQ(out.count(), 1u);

  inferkit::Pending pending;
  EXPECT_FALSE(pending);
  EXPECT_FALSE(pending.cancel());
  EXPECT_FALSE(pending.is_done());
  inferkit::Submitted s = req2.submit();
  inferkit::Pending taken(std::move(s.pending));
  EXPECT_FALSE(s.pending.is_done());
  EXPECT_TRUE(taken.is_done());
  EXPECT_TRUE(ikt::close(s.future.get().copy<float>("y"), mlp.y()));

  inferkit::Value v = inferkit::Value::tensor(x, {3, 16});
  inferkit::Value v2 = std::move(v);
  EXPECT_FALSE(v);
  EXPECT_EQ(v.kind(), 0u);
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", req2.add_value("x", v));

  inferkit::Registry reg = inferkit::Registry::open(ikt::models_dir());
  inferkit::Registry reg2 = std::move(reg);
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", reg.status_json());
  EXPECT_IK_ERROR(INFERKIT_STATUS_NULL_ARGUMENT, "", reg.select("classifier"));
  EXPECT_EQ(reg2.select("classifier", 1).version, 1u);
  // Every moved-from object goes out of scope here, as do the live ones.
}

TEST(Handles, ReleaseHandsTheCHandleOver) {
  Model model = Model::open(ikt::fixture("mlp.onnx"));
  inferkit_model *raw = model.release();
  EXPECT_FALSE(model);
  ASSERT_NE(raw, nullptr);
  EXPECT_STREQ(inferkit_model_name(raw), "mlp");
  Model adopted(raw);  // and back
  EXPECT_EQ(adopted.name(), "mlp");

  Request req(adopted);
  inferkit_request *raw_req = req.release();
  inferkit_request_free(raw_req);
}
