// Registry over examples/models (classifier: version 1 has mlp's weights, version 2 mlp_v2's;
// labels stable = 1, canary = 2): selecting by version, label and default, routing, moving labels,
// errors, reload, status and metrics, explicit loading, and models outliving the registry.
#include "common.hpp"

using inferkit::Model;
using inferkit::Registry;
using inferkit::Request;

namespace {

// y for the inputs of reference `ref` ("mlp", "mlp_v2": x f32[3, 16]) through `model`.
std::vector<float> run_reference(const Model &model, const std::string &ref = "mlp") {
  const ikt::PackTensor x = ikt::pack(ref + ".inputs.tpk").at(0);
  Request req(model);
  req.add_tensor_copy("x", x.as<float>(), x.shape);
  return req.run().copy<float>("y");
}

std::vector<float> reference_y(const std::string &ref) { return ikt::pack(ref + ".outputs.tpk").at(0).as<float>(); }

}  // namespace

TEST(Registry, VersionsAndLabelsServeTheirOwnWeights) {
  const Registry reg = Registry::open(ikt::models_dir());
  const inferkit::Selection v1 = reg.select("classifier", 1);
  const inferkit::Selection v2 = reg.select("classifier", 2);
  EXPECT_EQ(v1.version, 1u);
  EXPECT_EQ(v2.version, 2u);
  EXPECT_EQ(v1.model.name(), "classifier");
  EXPECT_TRUE(ikt::close(run_reference(v1.model, "mlp"), reference_y("mlp")));
  EXPECT_TRUE(ikt::close(run_reference(v2.model, "mlp_v2"), reference_y("mlp_v2")));
  // The same inputs through both versions: different weights, different outputs.
  const std::vector<float> y1 = run_reference(v1.model), y2 = run_reference(v2.model);
  EXPECT_NE(y1, y2);

  const inferkit::Selection stable = reg.select("classifier", "stable");
  const inferkit::Selection canary = reg.select("classifier", std::string("canary"));
  EXPECT_EQ(stable.version, 1u);
  EXPECT_EQ(canary.version, 2u);
  EXPECT_EQ(run_reference(stable.model), y1);
  EXPECT_EQ(run_reference(reg.model("classifier", "canary")), y2);
  EXPECT_EQ(run_reference(reg.model("classifier", 1)), y1);
  // the default: the newest version the policy serves
  EXPECT_EQ(reg.select("classifier").version, 2u);
  EXPECT_EQ(run_reference(reg.model("classifier")), y2);
}

TEST(Registry, RoutingKeysStayOnTheirVersion) {
  const Registry reg = Registry::open(ikt::models_dir());
  const std::uint64_t first = reg.route("classifier", "user-42").version;
  EXPECT_TRUE(first == 1 || first == 2);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(reg.route("classifier", "user-42").version, first);
  const inferkit::Selection random = reg.route("classifier");
  EXPECT_TRUE(random.model);
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_MODEL, "nope", reg.route("nope", "user-42"));
}

TEST(Registry, LabelsMoveHandlesStay) {
  const Registry reg = Registry::open(ikt::models_dir());
  const Model pinned = reg.model("classifier", "stable");
  const std::vector<float> before = run_reference(pinned);
  reg.set_label("classifier", "stable", 2);
  EXPECT_EQ(reg.select("classifier", "stable").version, 2u);
  EXPECT_EQ(run_reference(pinned), before);  // the handle stays on version 1
  EXPECT_IK_ERROR(INFERKIT_STATUS_VERSION_NOT_READY, "version 9", reg.set_label("classifier", "stable", 9));
  EXPECT_IK_ERROR(INFERKIT_STATUS_LABEL_IN_USE, "stable", reg.unload_version("classifier", 2));
}

TEST(Registry, Errors) {
  EXPECT_IK_ERROR(INFERKIT_STATUS_REPOSITORY_UNREADABLE, "no-such-dir", Registry::open("no-such-dir"));
  const Registry reg = Registry::open(ikt::models_dir());
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_MODEL, "nope", reg.select("nope"));
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_LABEL, "beta", reg.select("classifier", "beta"));
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_VERSION, "version 7", reg.select("classifier", 7));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_MODEL_NAME, "../x", reg.load("../x"));
  EXPECT_IK_ERROR(INFERKIT_STATUS_UNKNOWN_MODEL, "nope", reg.unload("nope"));
}

TEST(Registry, ReloadStatusAndMetrics) {
  const Registry reg = Registry::open(ikt::models_dir());
  run_reference(reg.model("classifier", 1));
  EXPECT_EQ(reg.reload(), 0u);
  const std::string status = reg.status_json();
  EXPECT_NE(status.find("\"classifier\""), std::string::npos) << status;
  EXPECT_NE(status.find("\"ready\""), std::string::npos) << status;
  EXPECT_NE(status.find("\"stable\""), std::string::npos) << status;
  const std::string text = reg.metrics_prometheus();
  EXPECT_NE(text.find("inferkit_model_loads_total{model=\"classifier\",version=\"1\"} 1"), std::string::npos) << text;
  const std::string v1 = reg.model("classifier", 1).metrics_prometheus();
  EXPECT_NE(v1.find("inferkit_inference_request_success_total{model=\"classifier\",version=\"1\"} 1"),
            std::string::npos)
      << v1;
}

TEST(Registry, ExplicitLoading) {
  const Registry reg = Registry::open(ikt::models_dir(), false);
  EXPECT_THROW(reg.select("classifier"), inferkit::Error);
  reg.load("classifier");
  EXPECT_EQ(reg.select("classifier", "stable").version, 1u);
  reg.unload("classifier");
  EXPECT_THROW(reg.select("classifier"), inferkit::Error);
}

TEST(Registry, ModelsOutliveTheRegistry) {
  Model m;
  {
    const Registry reg = Registry::open(ikt::models_dir());
    m = reg.model("classifier", 1);
  }
  EXPECT_TRUE(ikt::close(run_reference(m), reference_y("mlp")));
}
