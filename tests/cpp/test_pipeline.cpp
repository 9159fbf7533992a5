// Pipeline inputs: a raw tensor, raw pixels and PNG bytes through an image pipeline with a
// labelled top_k (classes), token ids through a sequence pipeline, text without a text table,
// and a request carrying tensors or one pipeline input, not both.
#include "common.hpp"

using inferkit::Model;
using inferkit::ModelOptions;
using inferkit::Outputs;
using inferkit::Request;

namespace {

// tiny_cnn with the image pipeline of the Python reference and top 2 labelled classes.
Model image_model() {
  ModelOptions opts;
  opts.set_pipeline_toml(
      "image = [ { op = \"resize\", width = 8, height = 8 } ]\n"
      "pre = [ { op = \"scale\", factor = 0.00392156862745098 },\n"
      "        { op = \"normalize\", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225] },\n"
      "        { op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]\n"
      "post = [ { op = \"top_k\", k = 2, labels = \"" +
      ikt::fixture("tiny_cnn_labels.txt") + "\" } ]\n");
  return Model::open(ikt::fixture("tiny_cnn.onnx"), opts);
}

const std::vector<std::string> kColors = {"red", "green", "blue", "gray"};

}  // namespace

TEST(Pipeline, RawPixelsGiveLabelledClasses) {
  const Model model = image_model();
  const ikt::Pack img = ikt::pack("resize.tpk"), want = ikt::pack("tiny_cnn.outputs.tpk");
  ASSERT_EQ(img[0].shape.size(), 3u);
  const auto h = static_cast<std::size_t>(img[0].shape[0]), w = static_cast<std::size_t>(img[0].shape[1]);
  Request req(model);
  req.set_image(img[0].data, INFERKIT_PIXEL_FORMAT_RGB8, w, h);  // stride: packed rows
  const Outputs out = req.run();
  const std::vector<float> logits = out.copy<float>(0), ref = want[0].as<float>();
  ASSERT_EQ(logits.size(), 4u);
  std::size_t best = 0;
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_NEAR(logits[i], ref[i], 0.02 * std::max(std::fabs(ref[i]), 1.0f)) << i;
    if (ref[i] > ref[best]) best = i;
  }
  ASSERT_EQ(out.class_rows(), 1u);
  ASSERT_EQ(out.class_count(0), 2u);
  const inferkit::Class top = out.class_at(0, 0);
  EXPECT_EQ(top.index, best);
  EXPECT_EQ(top.label, std::optional<std::string>(kColors[best]));
  EXPECT_EQ(top.score, logits[best]);
  const std::vector<inferkit::Class> classes = out.classes(0);
  ASSERT_EQ(classes.size(), 2u);
  EXPECT_NE(classes[1].index, best);
  EXPECT_LE(classes[1].score, top.score);
  EXPECT_EQ(classes[1].score, logits[classes[1].index]);
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", out.class_at(0, 2));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", out.class_at(1, 0));
  EXPECT_EQ(out.class_count(1), 0u);

  // The same image as PNG bytes gives the same logits and classes.
  Request png(model);
  png.set_encoded_image(ikt::read_bytes(ikt::fixture("image.png")));  // copied: the temporary may go
  const Outputs decoded = png.run();
  EXPECT_EQ(decoded.copy<float>(0), logits);
  EXPECT_EQ(decoded.class_at(0, 0).index, best);
  // Not an image: refused when the request runs, naming the step.
  const std::vector<std::uint8_t> bytes = ikt::read_bytes(ikt::fixture("image.png"));
  png.set_encoded_image(bytes.data(), 16);
  EXPECT_IK_ERROR(INFERKIT_STATUS_PIPELINE_STEP, "decode", static_cast<void>(png.run()));
  // A bad pixel layout is refused when the request runs.
  Request bad(model);
  bad.set_image(img[0].data, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w);
  EXPECT_IK_ERROR(INFERKIT_STATUS_PIPELINE_STEP, "stride", static_cast<void>(bad.run()));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_pixel_format",
                  bad.set_image(img[0].data, static_cast<inferkit_pixel_format>(9), w, h, w * 3));
}

TEST(Pipeline, TokensArePaddedAndMasked) {
  ModelOptions opts;
  opts.set_pipeline_toml("sequence = { max_length = 6 }");
  const Model model = Model::open(ikt::fixture("tiny_text.onnx"), opts);
  Request req(model);
  std::vector<std::int64_t> ids = {5, 7, 9};
  req.set_tokens(ids);
  ids.assign(3, 0);  // copied
  const Outputs out = req.run();
  EXPECT_EQ(out.copy<std::int64_t>(0), std::vector<std::int64_t>{21});  // the sum of the ids, padding masked out
  EXPECT_EQ(out.class_rows(), 0u);
  req.set_tokens({1, 2, 3, 4, 5, 6, 7, 8});
  EXPECT_EQ(req.run().copy<std::int64_t>(0), std::vector<std::int64_t>{21});  // only the first 6 are kept
  req.set_text("hello");
  EXPECT_IK_ERROR(INFERKIT_STATUS_PIPELINE_CONFIG, "no `text`", static_cast<void>(req.run()));
}

TEST(Pipeline, ATensorOrAPipelineInputNotBoth) {
  const ikt::Mlp mlp;
  const Model model = Model::open(ikt::fixture("mlp.onnx"));
  Request req(model);
  const std::vector<float> x = mlp.x();
  req.add_tensor("x", x, {3, 16});
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", req.set_pipeline_tensor(x, {3, 16}));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", req.set_tokens({1, 2}));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", req.set_text("hello"));
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y()));  // the tensors stayed
  // Without a declared pipeline the tensor feeds the model's first input.
  req.clear().set_pipeline_tensor(x, {3, 16});
  EXPECT_TRUE(ikt::close(req.run().copy<float>("y"), mlp.y()));
  EXPECT_IK_ERROR(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", req.add_tensor("x", x, {3, 16}));
}
