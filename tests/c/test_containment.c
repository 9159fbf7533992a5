/*
 * C ABI containment: what a hostile or careless host passes must not become a crash, a hang, a
 * huge allocation or a leak inside inferkit, only a typed status (issue "Containment", items
 * numbered as there; tests/containment.rs has the Rust side).
 *
 * - Lengths and counts past what memory can hold, for every buffer the ABI takes.
 * - Strings that are not UTF-8, wherever the ABI takes a name or text.
 * - Shapes: negative dims, element counts that overflow, a 40 GB fixed input given 4 bytes.
 * - Images: an out-of-range geometry, PNGs that declare more pixels than allowed (a 291 KB PNG of
 *   10000×10000 pixels, a header declaring 60000×60000), refused from the header (item 10).
 * - Pipelines whose numbers would panic or overflow, refused at load (item 5).
 * - Options and configuration files with huge numbers (item 2): typed errors naming the key and
 *   line; a warmup of a 40 GB input fails its version, not the host; a model with an invalid
 *   config.toml is listed with its error (item 14).
 * - A model input named with a NUL byte, refused at open, not truncated (item 17).
 *
 * The callback items of the old test_containment.c (1: a callback closing its model; 4: no pending
 * handle) are in test_submit.c; item 17's empty output selection is in test_request.c.
 *
 * Built with -Wall -Wextra -Wpedantic -Werror, run under ASan/UBSan and under valgrind by
 * `make test-c`. Usage: test_containment <tests/fixtures directory>
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp; implies _POSIX_C_SOURCE 200809L */
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* ---- lengths past memory, strings that are not UTF-8 ---- */

static void lengths_past_memory(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = new_request(model);
  inferkit_model_options *opts = new_options();
  inferkit_model *never = NULL;
  inferkit_value *v = NULL;
  unsigned char byte = 0;
  int64_t shape[2] = {1, 16}, ids[1] = {1};
  const char *name[1] = {"y"};
  size_t sizes[1] = {1};
  if (!req) goto done;
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, &byte, SIZE_MAX, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, shape, 2, &byte, SIZE_MAX, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, SIZE_MAX / 4, &byte, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_request_set_pipeline_tensor(req, INFERKIT_DTYPE_F32, shape, 2, &byte, SIZE_MAX, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_request_set_image(req, &byte, SIZE_MAX, INFERKIT_PIXEL_FORMAT_RGB8, 1, 1, 3, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_request_set_encoded_image(req, &byte, SIZE_MAX, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_request_set_tokens(req, ids, SIZE_MAX / 4, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_request_set_outputs(req, name, SIZE_MAX / 4, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_model_options_set_preferred_batch_sizes(opts, sizes, SIZE_MAX / 4, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_model_open_bytes("m", &byte, SIZE_MAX, NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_value_new_tensor(INFERKIT_DTYPE_U8, shape, 2, &byte, SIZE_MAX, &v, error_out));
  {
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 20};
    const char *s[1] = {"a"};
    /* a huge shape over one string is a count mismatch, never a read past the array */
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "count is 1", inferkit_request_add_strings(req, "x", huge, 2, s, NULL, 1, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_request_add_strings(req, "x", huge, 2, s, NULL, (size_t)1 << 60, error_out));
  }
  CHECK(never == NULL && v == NULL, "nothing written on failure");
  /* none of the refusals added anything: the request is empty */
  EXPECT_RUN(INFERKIT_STATUS_MISSING_INPUT, "`x`", req);
done:
  inferkit_request_free(req);
  inferkit_model_options_free(opts);
  inferkit_model_close(model);
}

static void strings_that_are_not_utf8(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = new_request(model);
  inferkit_model_options *opts = new_options();
  inferkit_registry *reg = NULL;
  inferkit_model *never = NULL;
  float x[16] = {0};
  int64_t shape[2] = {1, 16}, one[1] = {1};
  const char *bad = "\xff\xfe", *names[1] = {"\xc0\xaf"}, *words[1] = {"ok"};
  inferkit_value *v = NULL;
  char root[8192];
  if (!req) goto done;
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_request_add_tensor(req, bad, INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_request_add_tensor_copy(req, bad, INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_request_add_strings(req, bad, one, 1, words, NULL, 1, error_out));
  CHECK(inferkit_value_new_tensor(INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, &v, NULL) == INFERKIT_STATUS_OK, "value");
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_request_add_value(req, bad, v, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_request_set_outputs(req, names, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_request_set_text(req, bad, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_model_options_set_name(opts, bad, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_model_options_set_pipeline_toml(opts, bad, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_model_open(bad, NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_registry_open(bad, true, 0, &reg, error_out));
  /* strings inside a string tensor are bytes: not UTF-8 is fine there */
  {
    const char *raw[1] = {"\xff"};
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_strings(req, "x", one, 1, raw, NULL, 1, error_out));
  }
  snprintf(root, sizeof root, "%s/../../examples/models", fixtures_dir());
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_open(root, false, 0, &reg, error_out));
  if (reg) {
    inferkit_model *m = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_registry_model(reg, bad, 0, NULL, &m, NULL, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_registry_model(reg, "classifier", 0, bad, &m, NULL, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_registry_route(reg, "classifier", bad, &m, NULL, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_registry_load(reg, bad, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_registry_set_label(reg, "classifier", bad, 1, error_out));
    CHECK(m == NULL, "no model written on failure");
    inferkit_registry_close(reg);
  }
done:
  inferkit_value_free(v);
  inferkit_request_free(req);
  inferkit_model_options_free(opts);
  inferkit_model_close(model);
}

/* ---- shapes ---- */

static void hostile_shapes(void) {
  inferkit_model *mlp = open_fixture("mlp.onnx", NULL), *huge = open_fixture("huge_fixed.onnx", NULL);
  inferkit_request *req = new_request(mlp), *hreq = new_request(huge);
  float x[16] = {0};
  int64_t min_shape[2] = {INT64_MIN, 16}, overflow[3] = {INT64_MAX, 16, 2}, fixed[2] = {100000, 100000};
  int64_t ones[64];
  for (int i = 0; i < 64; i++) ones[i] = 1;
  if (!req || !hreq) goto done;
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "negative", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, min_shape, 2, x, sizeof x, error_out));
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, overflow, 3, NULL, 0, NULL);
  EXPECT_RUN(INFERKIT_STATUS_RANK_MISMATCH, "rank", req);
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, overflow, 2, NULL, 0, NULL);
  EXPECT_RUN(INFERKIT_STATUS_SHAPE_OVERFLOW, "x", req);
  inferkit_request_clear(req);
  /* a rank of 64 and a scalar (rank 0, NULL shape) */
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, ones, 64, x, 4, NULL);
  EXPECT_RUN(INFERKIT_STATUS_RANK_MISMATCH, "rank", req);
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, NULL, 0, x, 4, NULL);
  EXPECT_RUN(INFERKIT_STATUS_RANK_MISMATCH, "rank", req);
  /* a fixed input of 40 GB given 4 bytes: refused before anything is allocated */
  inferkit_request_add_tensor(hreq, "x", INFERKIT_DTYPE_F32, fixed, 2, x, 4, NULL);
  EXPECT_RUN(INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, "needs 40000000000 bytes, given 4", hreq);
  inferkit_request_clear(hreq);
  inferkit_request_set_pipeline_tensor(hreq, INFERKIT_DTYPE_F32, NULL, 0, x, 4, NULL);
  EXPECT_RUN(INFERKIT_STATUS_RANK_MISMATCH, "rank", hreq);
  /* many inputs the model does not have */
  inferkit_request_clear(req);
  for (int i = 0; i < 1000; i++) {
    char n[32];
    snprintf(n, sizeof n, "in%d", i);
    inferkit_request_add_tensor(req, n, INFERKIT_DTYPE_F32, ones, 2, x, 4, NULL);
  }
  EXPECT_RUN(INFERKIT_STATUS_UNKNOWN_INPUT, "in", req);
done:
  inferkit_request_free(req);
  inferkit_request_free(hreq);
  inferkit_model_close(mlp);
  inferkit_model_close(huge);
}

/* ---- images (item 10) ---- */

static uint32_t crc32(const unsigned char *bytes, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    crc ^= bytes[i];
    for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
  }
  return ~crc;
}

static size_t put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
  return 4;
}

static size_t png_chunk(unsigned char *out, const char *kind, const unsigned char *data, uint32_t len) {
  size_t n = put_be32(out, len);
  memcpy(out + n, kind, 4);
  if (len) memcpy(out + n + 4, data, len);
  n += 4 + len;
  n += put_be32(out + n, crc32(out + 4, 4 + len));
  return n;
}

/* A PNG whose header declares `width × height` RGB pixels, with a little zero data. */
static size_t png_declaring(unsigned char *out, uint32_t width, uint32_t height) {
  static const unsigned char idat[] = {0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0, 0x04, 0, 0x01};
  unsigned char ihdr[13] = {0};
  size_t n = 8;
  memcpy(out, "\x89PNG\r\n\x1a\n", 8);
  put_be32(ihdr, width);
  put_be32(ihdr + 4, height);
  ihdr[8] = 8;
  ihdr[9] = 2;
  n += png_chunk(out + n, "IHDR", ihdr, sizeof ihdr);
  n += png_chunk(out + n, "IDAT", idat, sizeof idat);
  n += png_chunk(out + n, "IEND", NULL, 0);
  return n;
}

static inferkit_model *image_model(const char *extra) {
  char toml[1024];
  inferkit_model_options *opts = new_options();
  inferkit_model *model = NULL;
  snprintf(toml, sizeof toml,
           "%s\nimage = [ { op = \"resize\", width = 8, height = 8 } ]\n"
           "pre = [ { op = \"scale\", factor = 0.00392156862745098 }, { op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]\n",
           extra);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, toml, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &model, error_out));
  inferkit_model_options_free(opts);
  return model;
}

static void images_that_are_too_large(void) {
  static unsigned char bomb[1 << 20], declared[256], png[65536];
  size_t bomb_len = read_file(fixture("bomb.png"), bomb, sizeof bomb), declared_len = png_declaring(declared, 60000, 60000);
  size_t png_len = read_file(fixture("image.png"), png, sizeof png);
  inferkit_model *model = image_model(""), *strict = image_model("max_pixels = 100");
  inferkit_request *req = new_request(model), *sreq = new_request(strict);
  uint64_t t0;
  CHECK(bomb_len > 200000 && bomb_len < sizeof bomb && png_len > 0, "read bomb.png (%zu bytes) and image.png", bomb_len);
  if (!req || !sreq) goto done;
  /* 291 KB that decode to 10000×10000 RGB (300 MB, 100 MP): over the 64 MP default */
  inferkit_request_set_encoded_image(req, bomb, bomb_len, NULL);
  t0 = monotonic_ns();
  EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "10000×10000", req);
  EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "max_pixels", req);
  inferkit_request_set_encoded_image(req, declared, declared_len, NULL);
  EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "60000×60000", req);
  /* (generous for valgrind: decoding the bomb would take far longer) */
  CHECK(monotonic_ns() - t0 < UINT64_C(20000000000), "refused from the header, not after decoding: %.1f s", (double)(monotonic_ns() - t0) / 1e9);
  /* the limit is the model's to set */
  inferkit_request_set_encoded_image(req, png, png_len, NULL);
  {
    inferkit_outputs *out = run_ok(req, "image.png under the default limit");
    inferkit_outputs_free(out);
  }
  inferkit_request_set_encoded_image(sreq, png, png_len, NULL);
  EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "limit of 100 pixels", sreq);
  /* raw pixels with a geometry that overflows: typed, never a panic */
  inferkit_request_set_image(req, png, 64, INFERKIT_PIXEL_FORMAT_RGB8, SIZE_MAX / 2, 4, SIZE_MAX, NULL);
  EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "", req);
  inferkit_request_set_image(req, png, 64, INFERKIT_PIXEL_FORMAT_RGBA8, 4, SIZE_MAX / 2, 16, NULL);
  EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "", req);
  inferkit_request_set_image(req, png, 64, INFERKIT_PIXEL_FORMAT_GRAY8, 100000, 100000, 100000, NULL);
  EXPECT_RUN(INFERKIT_STATUS_PIPELINE_STEP, "", req);
done:
  inferkit_request_free(req);
  inferkit_request_free(sreq);
  inferkit_model_close(model);
  inferkit_model_close(strict);
  {
    /* a limit of 0, or above the most allowed, is refused at load */
    inferkit_model_options *opts = new_options();
    inferkit_model *never = NULL;
    char toml[128];
    inferkit_model_options_set_pipeline_toml(opts, "max_pixels = 0", NULL);
    EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_CONFIG, "max_pixels", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &never, error_out));
    snprintf(toml, sizeof toml, "max_pixels = %llu", (unsigned long long)INFERKIT_MAX_PIXELS_LIMIT + 1);
    inferkit_model_options_set_pipeline_toml(opts, toml, NULL);
    EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_CONFIG, "max_pixels", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &never, error_out));
    inferkit_model_options_free(opts);
  }
}

/* ---- pipelines whose numbers would panic or overflow (item 5) ---- */

static void pipeline_numbers_are_checked_at_load(void) {
  static const struct {
    const char *toml, *needle;
  } cases[] = {
      {"pre = [ { op = \"clip\", min = 0.0, max = nan } ]", "NaN"},
      {"pre = [ { op = \"clip\", min = 2.0, max = 1.0 } ]", "min 2 > max 1"},
      {"pre = [ { op = \"scale\", factor = inf } ]", "finite"},
      {"pre = [ { op = \"normalize\", mean = [nan], std = [1.0] } ]", "finite"},
      {"pre = [ { op = \"reshape\", shape = [1099511627776, 1099511627776] } ]", "elements"},
      {"post = [ { op = \"dequantize\", scale = nan, zero_point = 0.0 } ]", "post[0] Dequantize: scale is NaN"},
      {"post = [ { op = \"top_k\", k = 4294967296 } ]", "k = 4294967296 is more than 2147483648"},
      {"image = [ { op = \"resize\", width = 100000, height = 8 } ]", "longer than 16384 pixels"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    inferkit_model_options *opts = new_options();
    inferkit_model *never = NULL;
    inferkit_error *err = NULL;
    inferkit_status st = inferkit_model_options_set_pipeline_toml(opts, cases[i].toml, &err);
    if (st == INFERKIT_STATUS_OK) st = inferkit_model_open(fixture(strstr(cases[i].toml, "image") ? "tiny_cnn.onnx" : "mlp.onnx"), opts, &never, &err);
    /* refused when the model opens, naming the step, never later */
    CHECK(st == INFERKIT_STATUS_PIPELINE_CONFIG && err &&
              strstr(inferkit_error_message(err), cases[i].needle),
          "%s: %s %s", cases[i].toml, inferkit_status_name(st), inferkit_error_message(err));
    CHECK(never == NULL, "no model");
    inferkit_error_free(err);
    inferkit_model_options_free(opts);
  }
}

/* ---- options and repositories with huge numbers (items 2 and 14) ---- */

static void a_huge_queue_is_refused_and_the_largest_grows_lazily(void) {
  inferkit_model_options *opts = new_options();
  inferkit_model *model = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_queue_size", inferkit_model_options_set_batching(opts, 32, 0, (size_t)1 << 40, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_queue_size", inferkit_model_options_set_batching(opts, 32, 0, SIZE_MAX, 0, error_out));
  /* the largest documented size loads at once: memory follows the requests, not the limit */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_batching(opts, 32, 0, INFERKIT_MAX_QUEUE_SIZE, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_instances(opts, INFERKIT_MAX_INSTANCES, error_out));
  model = open_fixture("mlp.onnx", opts);
  if (model) {
    inferkit_request *req = new_request(model);
    pack in, want;
    inferkit_outputs *out;
    CHECK(packs_of("mlp", &in, &want), "mlp packs");
    add_pack(req, &in, 0);
    out = run_ok(req, "the largest queue");
    if (out) compare_outputs("the largest queue", out, &want);
    inferkit_outputs_free(out);
    inferkit_request_free(req);
    pack_free(&in);
    pack_free(&want);
  }
  inferkit_model_close(model);
  inferkit_model_options_free(opts);
}

static char repo_root[4096];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void put_file(const char *model, const char *folder, const char *file, const void *data, size_t len) {
  char path[8192];
  FILE *f;
  snprintf(path, sizeof path, "%s/%s", repo_root, model);
  mkdir(path, 0700);
  if (folder) {
    snprintf(path, sizeof path, "%s/%s/%s", repo_root, model, folder);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s/%s", repo_root, model, folder, file);
  } else {
    snprintf(path, sizeof path, "%s/%s/%s", repo_root, model, file);
  }
  f = fopen(path, "wb");
  CHECK(f && fwrite(data, 1, len, f) == len, "write %s", path);
  if (f) fclose(f);
}

static void put_version(const char *model, const char *folder, const char *fixture_name) {
  static unsigned char bytes[1 << 20];
  size_t len = read_file(fixture(fixture_name), bytes, sizeof bytes);
  CHECK(len > 0 && len < sizeof bytes, "read %s", fixture_name);
  put_file(model, folder, "model.onnx", bytes, len);
}

static void put_config(const char *model, const char *text) { put_file(model, NULL, "config.toml", text, strlen(text)); }

/* A repository with: a version whose warmup would need a 40 GB input; a config.toml with a huge
 * queue size; one whose value has the wrong type; and a good model. The host keeps serving. */
static void hostile_repository(void) {
  inferkit_registry *reg = NULL;
  inferkit_model *m = NULL;
  char *json = NULL;
  snprintf(repo_root, sizeof repo_root, "/tmp/inferkit-containment-XXXXXX");
  if (!mkdtemp(repo_root)) {
    CHECK(0, "mkdtemp");
    return;
  }
  put_version("huge", "1", "huge_fixed.onnx");
  put_config("huge", "[warmup]\ninputs = \"zeros\"\ncount = 1\n");
  put_version("queue", "1", "mlp.onnx");
  put_config("queue", "[batching]\nmax_queue_size = 1099511627776\n");
  put_version("broken", "1", "mlp.onnx");
  put_config("broken", "[batching]\nmax_batch_size = \"lots\"\n");
  put_version("fine", "1", "mlp.onnx");

  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_open(repo_root, true, 0, &reg, error_out));
  if (!reg) goto done;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_status_json(reg, &json, error_out));
  CHECK(json && strstr(json, "\"failed\"") && strstr(json, "warmup") && strstr(json, "268435456 bytes"),
        "the warmup of a 40 GB input fails its version: %s", json ? json : "(null)");
  CHECK(json && strstr(json, "max_queue_size") && strstr(json, "line 2"), "the huge queue size is named with its line");
  CHECK(json && strstr(json, "config.toml") && strstr(json, "max_batch_size"), "the broken config is listed with its error");
  inferkit_string_free(json);
  EXPECT_STATUS(INFERKIT_STATUS_NO_VERSION_AVAILABLE, "", inferkit_registry_model(reg, "broken", 0, NULL, &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NO_VERSION_AVAILABLE, "", inferkit_registry_model(reg, "queue", 0, NULL, &m, NULL, error_out));
  {
    inferkit_error *err = NULL;
    inferkit_status st = inferkit_registry_model(reg, "huge", 0, NULL, &m, NULL, &err);
    CHECK(st != INFERKIT_STATUS_OK && m == NULL, "the failed version is not served: %s", inferkit_status_name(st));
    inferkit_error_free(err);
  }
  /* the rest of the repository serves */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "fine", 0, NULL, &m, NULL, error_out));
  inferkit_model_close(m);
  m = NULL;
  /* fixing the file is picked up by the next reload */
  put_config("broken", "[batching]\nmax_batch_size = 4\n");
  {
    size_t failures = 0;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_reload(reg, &failures, error_out));
  }
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "broken", 0, NULL, &m, NULL, error_out));
  inferkit_model_close(m);
  inferkit_registry_close(reg);
done:
  nftw(repo_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- a NUL byte in an input name (item 17) ---- */

static void an_input_name_with_a_nul_byte_is_refused_at_open(void) {
  static unsigned char bytes[1 << 16];
  size_t len = read_file(fixture("nul_name.onnx"), bytes, sizeof bytes);
  inferkit_model *never = NULL;
  /* ONNX Runtime's C API would report `a\0b` as `a`, which no request could feed */
  EXPECT_STATUS(INFERKIT_STATUS_UNSUPPORTED, "`a\\0b` has a NUL byte", inferkit_model_open(fixture("nul_name.onnx"), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNSUPPORTED, "`a\\0b` has a NUL byte", inferkit_model_open_bytes("nul_name", bytes, len, NULL, &never, error_out));
  CHECK(never == NULL, "no model written on failure");
}

int main(int argc, char **argv) {
  test_start(argc, argv, 1);
  lengths_past_memory();
  strings_that_are_not_utf8();
  hostile_shapes();
  images_that_are_too_large();
  pipeline_numbers_are_checked_at_load();
  a_huge_queue_is_refused_and_the_largest_grows_lazily();
  hostile_repository();
  an_input_name_with_a_nul_byte_is_refused_at_open();
  CHECK(strcmp(inferkit_status_name(INFERKIT_STATUS_QUEUE_FULL), "QUEUE_FULL") == 0, "status names as the header spells them");
  test_finish("test_containment");
  return 0;
}
