/*
 * C ABI: requests through a model's pipeline. Raw pixels, PNG and JPEG bytes, token ids and raw
 * tensors go through the pipeline declared in TOML (image steps, pre steps, the model, post
 * steps); outputs match the Python reference (Pillow and numpy, then onnxruntime) and carry the
 * classes of a `top_k` post step; pipeline inputs that cannot be used fail with typed statuses.
 * Every kind of pipeline input is also submitted with inferkit_request_submit, with the outputs
 * and classes of inferkit_request_run (pipeline_requests_are_submitted_like_runs), and a pipeline
 * request keeps its request options (a_pipeline_request_honours_its_deadline).
 *
 * Built with -Wall -Wextra -Wpedantic -Werror, run under ASan/UBSan and under valgrind by
 * `make test-c`. Usage: test_pipeline <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include "common.h"

static const char *const colors[4] = {"red", "green", "blue", "gray"};

/* tiny_cnn with the image pipeline of the Python reference and top 2 labelled classes. */
static inferkit_model *image_model(void) {
  char toml[8192];
  inferkit_model_options *opts = new_options();
  inferkit_model *model = NULL;
  snprintf(toml, sizeof toml,
           "image = [ { op = \"resize\", width = 8, height = 8 } ]\n"
           "pre = [ { op = \"scale\", factor = 0.00392156862745098 },\n"
           "        { op = \"normalize\", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225] },\n"
           "        { op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]\n"
           "post = [ { op = \"top_k\", k = 2, labels = \"%s\" } ]\n",
           fixture("tiny_cnn_labels.txt"));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, toml, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &model, error_out));
  inferkit_model_options_free(opts);
  return model;
}

/* Outputs `a` and `b` are the same: every output's bytes, and every class. */
static void same_outputs(const char *what, const inferkit_outputs *a, const inferkit_outputs *b) {
  size_t n = inferkit_outputs_count(a), rows = inferkit_outputs_class_rows(a);
  CHECK(a && b && n == inferkit_outputs_count(b) && n > 0, "%s: %zu and %zu outputs", what, n, inferkit_outputs_count(b));
  for (size_t i = 0; i < n && i < inferkit_outputs_count(b); i++) {
    size_t alen = 0, blen = 0;
    const void *ad = output_data(a, i, &alen), *bd = output_data(b, i, &blen);
    CHECK(ad && bd && alen == blen && memcmp(ad, bd, alen) == 0, "%s: output %zu differs", what, i);
  }
  CHECK(rows == inferkit_outputs_class_rows(b), "%s: %zu and %zu class rows", what, rows, inferkit_outputs_class_rows(b));
  for (size_t r = 0; r < rows; r++) {
    size_t k = inferkit_outputs_class_count(a, r);
    CHECK(k == inferkit_outputs_class_count(b, r), "%s: row %zu: class counts", what, r);
    for (size_t c = 0; c < k; c++) {
      size_t ai = 9, bi = 8;
      const char *al = NULL, *bl = NULL;
      float as = 0, bs = 1;
      inferkit_outputs_class(a, r, c, &ai, &al, &as, NULL);
      inferkit_outputs_class(b, r, c, &bi, &bl, &bs, NULL);
      CHECK(ai == bi && as == bs && ((al == NULL && bl == NULL) || (al && bl && strcmp(al, bl) == 0)),
            "%s: row %zu class %zu differs", what, r, c);
    }
  }
}

/* Submits `req` and waits for its callback: the outputs (the caller frees them), or NULL with the
 * failure reported. A pipeline request is submitted like any other. */
static inferkit_outputs *submit_and_wait(const inferkit_request *req, const char *what) {
  recorder rec;
  inferkit_outputs *out = NULL;
  inferkit_error *err = NULL;
  inferkit_pending *pending = NULL;
  inferkit_status st;
  recorder_init(&rec);
  rec.keep = 1;
  st = inferkit_request_submit(req, record, &rec, &pending, &err);
  CHECK(st == INFERKIT_STATUS_OK, "%s: submission %s: %s", what, inferkit_status_name(st), inferkit_error_message(err));
  inferkit_error_free(err);
  if (st == INFERKIT_STATUS_OK) {
    CHECK(recorder_wait(&rec, 1, 60), "%s: no callback", what);
    CHECK(rec.calls == 1 && rec.ok == 1 && rec.contract_broken == 0, "%s: callback %s: %s", what,
          inferkit_status_name(rec.last_status), rec.last_message);
    CHECK(inferkit_pending_is_done(pending), "%s: done", what);
    out = rec.kept;
    rec.kept = NULL;
  }
  inferkit_pending_free(pending);
  recorder_destroy(&rec);
  return out;
}

/* Runs a pipeline request, and submits it: both must succeed with the same outputs and classes.
 * Returns the outputs of the run. */
static inferkit_outputs *run_and_submit(const inferkit_request *req, const char *what) {
  inferkit_outputs *run = run_ok(req, what), *submitted = submit_and_wait(req, what);
  if (run && submitted) same_outputs(what, run, submitted);
  inferkit_outputs_free(submitted);
  return run;
}

static void an_image(void) {
  inferkit_model *model = image_model();
  inferkit_request *req = NULL;
  inferkit_outputs *outs = NULL;
  pack img, want;
  const pack_tensor *src;
  size_t idx = 99, rows = 0, n = 0, w, h;
  const char *label = NULL;
  float score = 0;
  memset(&img, 0, sizeof img);
  memset(&want, 0, sizeof want);
  CHECK(pack_read(fixture("resize.tpk"), &img) && pack_read(fixture("tiny_cnn.outputs.tpk"), &want), "packs");
  src = &img.tensors[0];
  if (!model || src->rank != 3) goto done;
  h = (size_t)src->shape[0];
  w = (size_t)src->shape[1];
  req = new_request(model);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_image(req, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w * 3, error_out));
  outs = run_ok(req, "raw pixels");
  {
    const void *data = NULL;
    size_t len = 0;
    CHECK(outs && inferkit_outputs_get(outs, 0, NULL, NULL, NULL, NULL, &data, &len, NULL) == INFERKIT_STATUS_OK && len == 16, "outputs");
    if (data && len == 16) {
      float got[4], ref[4];
      size_t best = 0;
      memcpy(got, data, 16);
      memcpy(ref, want.tensors[0].data, 16);
      for (int i = 0; i < 4; i++) {
        CHECK(fabsf(got[i] - ref[i]) <= 0.02f * fmaxf(fabsf(ref[i]), 1.0f), "logit %d: %g vs Python %g", i, got[i], ref[i]);
        if (ref[i] > ref[best]) best = (size_t)i;
      }
      rows = inferkit_outputs_class_rows(outs);
      n = inferkit_outputs_class_count(outs, 0);
      CHECK(rows == 1 && n == 2, "%zu rows, %zu classes", rows, n);
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_outputs_class(outs, 0, 0, &idx, &label, &score, error_out));
      CHECK(idx == best && label && strcmp(label, colors[best]) == 0 && score == got[best],
            "best class %zu %s %g", idx, label ? label : "(null)", score);
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_outputs_class(outs, 0, 1, &idx, &label, &score, error_out));
      CHECK(idx != best && score <= got[best] && score == got[idx], "second class %zu %g", idx, score);
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_outputs_class(outs, 0, 0, NULL, NULL, NULL, error_out));
      EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_outputs_class(outs, 0, 2, &idx, &label, &score, error_out));
      EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_outputs_class(outs, 1, 0, &idx, &label, &score, error_out));
      CHECK(inferkit_outputs_class_count(outs, 1) == 0, "no row 1");
    }
  }
  inferkit_outputs_free(outs);
  outs = NULL;

  /* the same image as PNG bytes gives the same logits */
  {
    static unsigned char png[65536], jpg[65536];
    size_t png_len = read_file(fixture("image.png"), png, sizeof png), jpg_len = read_file(fixture("image.jpg"), jpg, sizeof jpg);
    inferkit_request *enc = new_request(model);
    inferkit_outputs *raw = run_ok(req, "raw pixels again"), *decoded;
    CHECK(png_len > 0 && jpg_len > 0, "read image.png and image.jpg");
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_encoded_image(enc, png, png_len, error_out));
    memset(png, 0, png_len); /* copied */
    decoded = run_ok(enc, "PNG");
    if (decoded && raw) same_outputs("PNG and raw pixels", decoded, raw);
    inferkit_outputs_free(decoded);
    /* JPEG decodes too (a lossy image: its logits are its own) */
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_encoded_image(enc, jpg, jpg_len, error_out));
    decoded = run_ok(enc, "JPEG");
    CHECK(inferkit_outputs_class_rows(decoded) == 1 && inferkit_outputs_class_count(decoded, 0) == 2, "JPEG classes");
    inferkit_outputs_free(decoded);
    /* not an image */
    read_file(fixture("image.png"), png, sizeof png);
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_encoded_image(enc, png, 16, error_out));
    EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "decode", enc);
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "bytes", inferkit_request_set_encoded_image(enc, NULL, 16, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_set_encoded_image(NULL, png, 16, error_out));
    inferkit_outputs_free(raw);
    inferkit_request_free(enc);
  }

  /* bad images: refused when set (a bad enum, NULL) or when run (what the pixels say) */
  {
    inferkit_request *bad = new_request(model);
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_pixel_format", inferkit_request_set_image(bad, src->data, src->len, 9, w, h, w * 3, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "pixels", inferkit_request_set_image(bad, NULL, src->len, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w * 3, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_set_image(NULL, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w * 3, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_image(bad, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, 0, h, w * 3, error_out));
    EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "size of zero", bad);
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_image(bad, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w, error_out));
    EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "stride", bad);
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_image(bad, src->data, src->len / 2, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w * 3, error_out));
    EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "", bad);
    /* every pixel format is taken */
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_image(bad, src->data, src->len, INFERKIT_PIXEL_FORMAT_BGR8, w, h, w * 3, error_out));
    outs = run_ok(bad, "BGR8");
    inferkit_outputs_free(outs);
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_image(bad, src->data, (w / 4) * 4 * h, INFERKIT_PIXEL_FORMAT_RGBA8, w / 4, h, (w / 4) * 4, error_out));
    outs = run_ok(bad, "RGBA8");
    inferkit_outputs_free(outs);
    /* gray has 1 channel where the normalize step has 3: the step is named */
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_image(bad, src->data, w * h, INFERKIT_PIXEL_FORMAT_GRAY8, w, h, w, error_out));
    EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "pre[1] Normalize: axis 2 has 1 channels", bad);
    inferkit_request_free(bad);
  }
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
  pack_free(&img);
  pack_free(&want);
}

/* token ids padded with an attention mask; text needs a `text` table (and the tokenizer feature) */
static void tokens(void) {
  inferkit_model_options *opts = new_options();
  inferkit_model *model = NULL;
  inferkit_request *req = NULL;
  int64_t ids[3] = {5, 7, 9}, eight[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, "sequence = { max_length = 6 }", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("tiny_text.onnx"), opts, &model, error_out));
  if (!model) goto done;
  req = new_request(model);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_tokens(req, ids, 3, error_out));
  memset(ids, 0, sizeof ids); /* copied */
  {
    inferkit_outputs *out = run_ok(req, "tokens");
    size_t len = 0;
    const int64_t *y = output_data(out, 0, &len);
    CHECK(y && len == sizeof(int64_t) && y[0] == 21, "sum of the ids, padding masked out: %lld", y ? (long long)y[0] : -1LL);
    CHECK(inferkit_outputs_class_rows(out) == 0, "no classes without top_k");
    inferkit_outputs_free(out);
  }
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_tokens(req, eight, 8, error_out));
  {
    inferkit_outputs *out = run_ok(req, "eight tokens");
    size_t len = 0;
    const int64_t *y = output_data(out, 0, &len);
    CHECK(y && len == sizeof(int64_t) && y[0] == 21, "only the first 6 ids are kept: %lld", y ? (long long)y[0] : -1LL);
    inferkit_outputs_free(out);
  }
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_text(req, "hello", error_out));
  EXPECT_RUN(INFERKIT_STATUS_PIPELINE_CONFIG, "no `text`", req);
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "ids", inferkit_request_set_tokens(req, NULL, 3, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "text", inferkit_request_set_text(req, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_request_set_text(req, "\xff", error_out));
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
  inferkit_model_options_free(opts);
}

/* A raw tensor through pre steps, the model and a labelled top_k: equal to the same steps done by
 * hand, and classes ranked by score. */
static void a_pipeline_tensor(void) {
  char toml[8192];
  inferkit_model_options *opts = new_options(), *mlp_opts = new_options();
  inferkit_model *model = NULL, *mlp = NULL, *plain = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = NULL;
  pack in, want;
  CHECK(packs_of("tiny_cnn", &in, &want), "tiny_cnn packs");
  snprintf(toml, sizeof toml,
           "pre = [ { op = \"add_batch_dim\" } ]\n"
           "post = [ { op = \"top_k\", k = 4, labels = \"%s\" } ]\n",
           fixture("tiny_cnn_labels.txt"));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, toml, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &model, error_out));
  if (model && in.count == 1) {
    const pack_tensor *image = &in.tensors[0];
    int64_t chw[3] = {3, 8, 8};
    inferkit_outputs *out;
    req = new_request(model);
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "data", inferkit_request_set_pipeline_tensor(req, INFERKIT_DTYPE_F32, chw, 3, NULL, image->len, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_dtype", inferkit_request_set_pipeline_tensor(req, 99, chw, 3, image->data, image->len, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "", inferkit_request_set_pipeline_tensor(req, INFERKIT_DTYPE_STRING, chw, 3, image->data, image->len, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, "", inferkit_request_set_pipeline_tensor(req, INFERKIT_DTYPE_F32, chw, 3, image->data, image->len - 4, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_pipeline_tensor(req, INFERKIT_DTYPE_F32, chw, 3, image->data, image->len, error_out));
    out = run_ok(req, "pipeline tensor");
    if (out) {
      float prev = INFINITY;
      int seen[4] = {0, 0, 0, 0};
      const void *y = NULL;
      size_t ylen = 0;
      compare_outputs("pipeline tensor", out, &want);
      inferkit_outputs_get(out, 0, NULL, NULL, NULL, NULL, &y, &ylen, NULL);
      CHECK(inferkit_outputs_class_rows(out) == 1 && inferkit_outputs_class_count(out, 0) == 4, "4 classes");
      for (size_t r = 0; r < inferkit_outputs_class_count(out, 0); r++) {
        size_t idx = 99;
        const char *label = NULL;
        float score = 0, logit = 0;
        CHECK(inferkit_outputs_class(out, 0, r, &idx, &label, &score, NULL) == INFERKIT_STATUS_OK && idx < 4, "class %zu", r);
        if (idx >= 4) continue;
        seen[idx]++;
        memcpy(&logit, (const char *)y + 4 * idx, 4);
        CHECK(score <= prev && score == logit && label && strcmp(label, colors[idx]) == 0, "rank %zu: class %zu %s %g", r, idx,
              label ? label : "(null)", score);
        prev = score;
      }
      CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1 && seen[3] == 1, "each class once");
    }
    inferkit_outputs_free(out);
  }

  /* pre steps equal the same steps done by hand, bitwise; u8 is converted to f32 first */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(mlp_opts,
                "pre = [ { op = \"scale\", factor = 0.5, offset = 1.0 }, { op = \"clip\", min = -2.0, max = 4.0 }, { op = \"add_batch_dim\" } ]", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("mlp.onnx"), mlp_opts, &mlp, error_out));
  if (mlp && plain) {
    float raw[16], by_hand[16];
    uint8_t bytes[16];
    int64_t sixteen[1] = {16}, row[2] = {1, 16};
    inferkit_request *p = new_request(mlp), *h = new_request(plain);
    inferkit_outputs *a, *b;
    for (int i = 0; i < 16; i++) {
      float v = (float)i - 5.0f;
      raw[i] = v;
      by_hand[i] = fminf(fmaxf(v * 0.5f + 1.0f, -2.0f), 4.0f);
    }
    inferkit_request_set_pipeline_tensor(p, INFERKIT_DTYPE_F32, sixteen, 1, raw, sizeof raw, NULL);
    inferkit_request_add_tensor(h, "x", INFERKIT_DTYPE_F32, row, 2, by_hand, sizeof by_hand, NULL);
    a = run_ok(p, "f32 through pre steps");
    b = run_ok(h, "by hand");
    if (a && b) same_outputs("pre steps and by hand", a, b);
    CHECK(inferkit_outputs_class_rows(a) == 0, "no classes without top_k");
    inferkit_outputs_free(a);
    inferkit_outputs_free(b);
    for (int i = 0; i < 16; i++) {
      bytes[i] = (uint8_t)i;
      by_hand[i] = fminf(fmaxf((float)i * 0.5f + 1.0f, -2.0f), 4.0f);
    }
    inferkit_request_set_pipeline_tensor(p, INFERKIT_DTYPE_U8, sixteen, 1, bytes, sizeof bytes, NULL);
    a = run_ok(p, "u8 through pre steps");
    b = run_ok(h, "u8 by hand");
    if (a && b) same_outputs("u8 pre steps and by hand", a, b);
    inferkit_outputs_free(a);
    inferkit_outputs_free(b);
    inferkit_request_free(p);
    inferkit_request_free(h);
  }
  /* a step that fails on the data is a typed error naming the step */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(mlp_opts,
                "pre = [ { op = \"normalize\", mean = [0.0, 0.0], std = [1.0, 1.0] }, { op = \"reshape\", shape = [1, 16] } ]", error_out));
  {
    inferkit_model *norm = open_fixture("mlp.onnx", mlp_opts);
    inferkit_request *r = new_request(norm);
    float zeros[16] = {0};
    int64_t four[2] = {4, 4}, eight[2] = {8, 2};
    inferkit_outputs *ok;
    if (r) {
      inferkit_request_set_pipeline_tensor(r, INFERKIT_DTYPE_F32, four, 2, zeros, sizeof zeros, NULL);
      EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "pre[0] Normalize", r);
      inferkit_request_set_pipeline_tensor(r, INFERKIT_DTYPE_F32, eight, 2, zeros, sizeof zeros, NULL);
      ok = run_ok(r, "two channels");
      inferkit_outputs_free(ok);
    }
    inferkit_request_free(r);
    inferkit_model_close(norm);
  }
  inferkit_request_free(req);
  inferkit_model_close(model);
  inferkit_model_close(mlp);
  inferkit_model_close(plain);
  inferkit_model_options_free(opts);
  inferkit_model_options_free(mlp_opts);
  pack_free(&in);
  pack_free(&want);
}

/* Outputs of a request without a pipeline have no classes. */
static void no_classes_without_top_k(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = new_request(model);
  pack in, want;
  inferkit_outputs *out;
  size_t idx = 7;
  CHECK(packs_of("mlp", &in, &want), "mlp packs");
  if (!req) goto done;
  add_pack(req, &in, 0);
  out = run_ok(req, "mlp");
  CHECK(inferkit_outputs_class_rows(out) == 0 && inferkit_outputs_class_count(out, 0) == 0, "no classes");
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_outputs_class(out, 0, 0, &idx, NULL, NULL, error_out));
  CHECK(idx == 7, "nothing written on failure");
  inferkit_outputs_free(out);
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
  pack_free(&in);
  pack_free(&want);
}

/* Every kind of pipeline input, submitted: accepted, one callback, and the outputs and classes of
 * the same request run blocking. */
static void pipeline_requests_are_submitted_like_runs(void) {
  char toml[8192];
  inferkit_model *image = image_model(), *text = NULL, *tensor = NULL;
  inferkit_model_options *opts = new_options();
  inferkit_request *req;
  pack img, cnn_in, cnn_want;
  static unsigned char png[65536];
  size_t png_len = read_file(fixture("image.png"), png, sizeof png);
  int64_t ids[3] = {5, 7, 9}, chw[3] = {3, 8, 8};
  inferkit_outputs *out;
  CHECK(pack_read(fixture("resize.tpk"), &img) && packs_of("tiny_cnn", &cnn_in, &cnn_want), "packs");
  /* raw pixels and PNG bytes */
  if (image && img.count > 0 && img.tensors[0].rank == 3) {
    const pack_tensor *src = &img.tensors[0];
    size_t h = (size_t)src->shape[0], w = (size_t)src->shape[1];
    req = new_request(image);
    inferkit_request_set_image(req, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w * 3, NULL);
    out = run_and_submit(req, "submitted raw pixels");
    CHECK(inferkit_outputs_class_rows(out) == 1, "raw pixels: classes");
    inferkit_outputs_free(out);
    inferkit_request_clear(req);
    inferkit_request_set_encoded_image(req, png, png_len, NULL);
    out = run_and_submit(req, "submitted PNG");
    inferkit_outputs_free(out);
    /* a failure before the model is returned by the submission, and the callback never called */
    {
      recorder rec;
      inferkit_pending *pending = NULL;
      recorder_init(&rec);
      inferkit_request_set_image(req, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, 0, h, w * 3, NULL);
      EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_STEP, "size of zero", inferkit_request_submit(req, record, &rec, &pending, error_out));
      inferkit_request_set_encoded_image(req, png, 16, NULL);
      EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_STEP, "decode", inferkit_request_submit(req, record, &rec, &pending, error_out));
      CHECK(pending == NULL && rec.calls == 0, "no pending handle, no callback");
      recorder_destroy(&rec);
    }
    inferkit_request_free(req);
  }
  /* token ids */
  inferkit_model_options_set_pipeline_toml(opts, "sequence = { max_length = 6 }", NULL);
  text = open_fixture("tiny_text.onnx", opts);
  if (text) {
    req = new_request(text);
    inferkit_request_set_tokens(req, ids, 3, NULL);
    out = run_and_submit(req, "submitted tokens");
    inferkit_outputs_free(out);
    inferkit_request_free(req);
  }
  /* a raw tensor, with classes */
  snprintf(toml, sizeof toml, "pre = [ { op = \"add_batch_dim\" } ]\npost = [ { op = \"top_k\", k = 4, labels = \"%s\" } ]\n",
           fixture("tiny_cnn_labels.txt"));
  inferkit_model_options_set_pipeline_toml(opts, toml, NULL);
  tensor = open_fixture("tiny_cnn.onnx", opts);
  if (tensor && cnn_in.count == 1) {
    req = new_request(tensor);
    inferkit_request_set_pipeline_tensor(req, INFERKIT_DTYPE_F32, chw, 3, cnn_in.tensors[0].data, cnn_in.tensors[0].len, NULL);
    out = run_and_submit(req, "submitted pipeline tensor");
    CHECK(inferkit_outputs_class_rows(out) == 1 && inferkit_outputs_class_count(out, 0) == 4, "pipeline tensor: classes");
    inferkit_outputs_free(out);
    inferkit_request_free(req);
  }
  inferkit_model_close(image);
  inferkit_model_close(text);
  inferkit_model_close(tensor);
  inferkit_model_options_free(opts);
  pack_free(&img);
  pack_free(&cnn_in);
  pack_free(&cnn_want);
}

/* A pipeline request has the options of any request: a deadline already passed means it is not
 * run, with DEADLINE_EXCEEDED, whether run or submitted. */
static void a_pipeline_request_honours_its_deadline(void) {
  inferkit_model *model = image_model();
  inferkit_request *req = new_request(model);
  static unsigned char png[65536];
  size_t png_len = read_file(fixture("image.png"), png, sizeof png);
  recorder rec;
  recorder_init(&rec);
  if (!req) goto done;
  inferkit_request_set_encoded_image(req, png, png_len, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_deadline_ns(req, monotonic_ns() - 1000000, error_out));
  EXPECT_RUN(INFERKIT_STATUS_DEADLINE_EXCEEDED, "deadline", req);
  /* submitted, as any request with a passed deadline: accepted, and failed in the callback */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &rec, NULL, error_out));
  CHECK(recorder_wait(&rec, 1, 30) && rec.last_status == INFERKIT_STATUS_DEADLINE_EXCEEDED && rec.contract_broken == 0,
        "submitted: callback %s: %s", inferkit_status_name(rec.last_status), rec.last_message);
  /* and without the deadline it runs */
  inferkit_request_set_deadline_ns(req, 0, NULL);
  {
    inferkit_outputs *out = run_ok(req, "deadline removed");
    inferkit_outputs_free(out);
  }
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
  recorder_destroy(&rec);
}

int main(int argc, char **argv) {
  test_start(argc, argv, 1);
  an_image();
  tokens();
  a_pipeline_tensor();
  no_classes_without_top_k();
  pipeline_requests_are_submitted_like_runs();
  a_pipeline_request_honours_its_deadline();
  test_finish("test_pipeline");
  return 0;
}
