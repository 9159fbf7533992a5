/*
 * C ABI: the model repository and metrics. Versions serve their own weights; labels, routing keys
 * and the default select versions; handles stay on their version across label moves and outlive
 * the registry; errors are typed; reload and status JSON; metrics in the Prometheus text format and
 * as JSON, for one model and for the registry.
 *
 * Repository: examples/models (classifier, versions 1 and 2). Built with -Wall -Wextra -Wpedantic
 * -Werror, run under ASan/UBSan and under valgrind by `make test-c`.
 * Usage: test_registry <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include "common.h"

/* Runs the reference inputs of fixture `ref` (mlp-shaped) through `model` and compares with its
 * reference outputs. */
static void check_against(const inferkit_model *model, const char *ref, const char *what) {
  pack in, want;
  inferkit_request *req = new_request(model);
  inferkit_outputs *outputs = NULL;
  const void *data = NULL;
  const int64_t *shape = NULL;
  size_t len = 0, rank = 0;
  uint32_t dtype = 0;
  CHECK(packs_of(ref, &in, &want), "%s: packs", what);
  if (req && in.count == 1) {
    inferkit_request_add_tensor(req, "x", in.tensors[0].dtype, in.tensors[0].shape, in.tensors[0].rank, in.tensors[0].data, in.tensors[0].len, NULL);
    if (inferkit_request_run(req, &outputs, NULL) == INFERKIT_STATUS_OK &&
        inferkit_outputs_get(outputs, 0, NULL, &dtype, &shape, &rank, &data, &len, NULL) == INFERKIT_STATUS_OK) {
      compare(what, &want.tensors[0], dtype, shape, rank, data, len);
    } else {
      CHECK(0, "%s: inference failed", what);
    }
  }
  inferkit_outputs_free(outputs);
  inferkit_request_free(req);
  pack_free(&in);
  pack_free(&want);
}

static void check_registry(void) {
  char root[8192];
  inferkit_registry *reg = NULL, *none = NULL;
  inferkit_model *stable = NULL, *v2 = NULL, *m = NULL;
  uint64_t version = 0, first = 0;
  size_t reload_failures = 99;
  char *json = NULL;
  snprintf(root, sizeof root, "%s/../../examples/models", fixtures_dir());

  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "root", inferkit_registry_open(NULL, true, 0, &reg, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "registry_out", inferkit_registry_open(root, true, 0, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_REPOSITORY_UNREADABLE, "no-such-dir", inferkit_registry_open("no-such-dir", true, 0, &none, error_out));
  CHECK(none == NULL, "no registry written on failure");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_open(root, true, 0, &reg, error_out));
  if (!reg) return;

  /* stable is version 1, which has the MLP's weights; version 2 has mlp_v2's */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 0, "stable", &stable, &version, error_out));
  CHECK(version == 1, "stable is version %llu", (unsigned long long)version);
  if (stable) check_against(stable, "mlp", "classifier@stable");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 2, NULL, &v2, &version, error_out));
  {
    /* a version and a label together are ambiguous: refused, nothing written */
    inferkit_model *both = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", inferkit_registry_model(reg, "classifier", 2, "stable", &both, NULL, error_out));
    CHECK(both == NULL, "no model on failure");
  }
  CHECK(version == 2, "version 2");
  if (v2) check_against(v2, "mlp_v2", "classifier@2");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 0, NULL, &m, &version, error_out));
  CHECK(version == 2, "the default is the newest version the policy serves (%llu)", (unsigned long long)version);
  CHECK(strcmp(inferkit_model_name(m), "classifier") == 0, "a registry model is named after its folder: %s", inferkit_model_name(m));
  inferkit_model_close(m);
  m = NULL;
  /* version_out may be NULL */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 1, NULL, &m, NULL, error_out));
  inferkit_model_close(m);
  m = NULL;

  /* routing: one key, one version */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_route(reg, "classifier", "user-42", &m, &first, error_out));
  inferkit_model_close(m);
  m = NULL;
  for (int i = 0; i < 20; i++) {
    inferkit_registry_route(reg, "classifier", "user-42", &m, &version, NULL);
    CHECK(version == first, "routing key user-42 moved from %llu to %llu", (unsigned long long)first, (unsigned long long)version);
    inferkit_model_close(m);
    m = NULL;
  }
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_route(reg, "classifier", NULL, &m, NULL, error_out));
  inferkit_model_close(m);
  m = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_MODEL, "nope", inferkit_registry_route(reg, "nope", "user-42", &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model_out", inferkit_registry_route(reg, "classifier", NULL, NULL, NULL, error_out));

  /* labels: move stable to 2; the handle taken before stays on version 1 */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_set_label(reg, "classifier", "stable", 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 0, "stable", &m, &version, error_out));
  CHECK(version == 2, "stable moved to 2");
  inferkit_model_close(m);
  m = NULL;
  if (stable) check_against(stable, "mlp", "pinned classifier@1 after the label moved");
  EXPECT_STATUS(INFERKIT_STATUS_VERSION_NOT_READY, "version 9", inferkit_registry_set_label(reg, "classifier", "stable", 9, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_LABEL_IN_USE, "stable", inferkit_registry_unload_version(reg, "classifier", 2, false, error_out));

  /* errors */
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_MODEL, "nope", inferkit_registry_model(reg, "nope", 0, NULL, &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_LABEL, "beta", inferkit_registry_model(reg, "classifier", 0, "beta", &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_VERSION, "version 7", inferkit_registry_model(reg, "classifier", 7, NULL, &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model_out", inferkit_registry_model(reg, "classifier", 0, NULL, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "registry", inferkit_registry_model(NULL, "classifier", 0, NULL, &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_registry_model(reg, NULL, 0, NULL, &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL_NAME, "../x", inferkit_registry_load(reg, "../x", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_registry_load(reg, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_registry_set_label(reg, NULL, "stable", 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "label", inferkit_registry_set_label(reg, "classifier", NULL, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_MODEL, "nope", inferkit_registry_unload(reg, "nope", error_out));
  CHECK(m == NULL, "no model written on failure");

  /* metrics: Prometheus text for the registry and one version, a JSON summary */
  {
    char *text = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_metrics_prometheus(reg, &text, error_out));
    CHECK(text && strstr(text, "# TYPE inferkit_request_duration_us histogram") &&
              strstr(text, "inferkit_model_loads_total{model=\"classifier\",version=\"1\"} 1"),
          "registry metrics lack the expected lines");
    inferkit_string_free(text);
    text = NULL;
    if (stable) {
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_metrics_prometheus(stable, &text, error_out));
      /* version 1 served the 2 inferences of check_against above, after 2 warmups counted apart */
      CHECK(text && strstr(text, "inferkit_inference_request_success_total{model=\"classifier\",version=\"1\"} 2") &&
                strstr(text, "inferkit_warmup_requests_total{model=\"classifier\",version=\"1\"} 2"),
            "version 1 success count in %s", text ? text : "(null)");
      inferkit_string_free(text);
      text = NULL;
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_metrics_json(stable, &text, error_out));
      CHECK(text && strstr(text, "\"requests_success\":2") && strstr(text, "\"warmup_requests\":2") && strstr(text, "\"p99_us\""), "json %s", text ? text : "(null)");
      inferkit_string_free(text);
    }
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "text_out", inferkit_registry_metrics_prometheus(reg, NULL, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "registry", inferkit_registry_metrics_prometheus(NULL, &text, error_out));
  }

  /* reload and status */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_reload(reg, &reload_failures, error_out));
  CHECK(reload_failures == 0, "%zu failures on reload", reload_failures);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_reload(reg, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_status_json(reg, &json, error_out));
  CHECK(json && strstr(json, "\"name\":\"classifier\"") && strstr(json, "\"state\":\"ready\"") &&
            strstr(json, "\"stable\":2"),
        "status %s", json ? json : "(null)");
  inferkit_string_free(json);
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "json_out", inferkit_registry_status_json(reg, NULL, error_out));
  inferkit_string_free(NULL);

  /* unloading a version nobody labels; handles taken before keep serving */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_unload_version(reg, "classifier", 1, false, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_VERSION, "version 1", inferkit_registry_model(reg, "classifier", 1, NULL, &m, NULL, error_out));
  if (stable) check_against(stable, "mlp", "classifier@1 after its unload");

  /* handles outlive the registry */
  inferkit_registry_close(reg);
  inferkit_registry_close(NULL);
  if (v2) check_against(v2, "mlp_v2", "classifier@2 after close");
  inferkit_model_close(stable);
  inferkit_model_close(v2);
}

/* Explicit mode: nothing loads until asked; unload takes the model away. */
static void explicit_mode(void) {
  char root[8192];
  inferkit_registry *reg = NULL;
  inferkit_model *m = NULL;
  uint64_t version = 0;
  snprintf(root, sizeof root, "%s/../../examples/models", fixtures_dir());
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_open(root, false, 0, &reg, error_out));
  if (!reg) return;
  {
    inferkit_error *err = NULL;
    inferkit_status st = inferkit_registry_model(reg, "classifier", 0, NULL, &m, NULL, &err);
    CHECK(st != INFERKIT_STATUS_OK && m == NULL, "nothing loaded before inferkit_registry_load: %s", inferkit_status_name(st));
    inferkit_error_free(err);
  }
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_load(reg, "classifier", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 0, NULL, &m, &version, error_out));
  CHECK(version == 2, "default after load: %llu", (unsigned long long)version);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_unload(reg, "classifier", error_out));
  {
    inferkit_model *gone = NULL;
    inferkit_error *err = NULL;
    inferkit_status st = inferkit_registry_model(reg, "classifier", 0, NULL, &gone, NULL, &err);
    CHECK(st != INFERKIT_STATUS_OK && gone == NULL, "nothing served after unload: %s", inferkit_status_name(st));
    inferkit_error_free(err);
  }
  if (m) check_against(m, "mlp_v2", "classifier@2 after unload");
  inferkit_model_close(m);
  inferkit_registry_close(reg);
}

/* One model's metrics, outside a registry: counters by outcome and error code, histograms. */
static void model_metrics(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = new_request(model);
  pack in, want;
  double xd[48] = {0};
  int64_t shape[2] = {3, 16};
  char *text = NULL;
  CHECK(packs_of("mlp", &in, &want), "mlp packs");
  if (!req) goto done;
  add_pack(req, &in, 0);
  for (int i = 0; i < 2; i++) {
    inferkit_outputs *out = run_ok(req, "mlp");
    inferkit_outputs_free(out);
  }
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F64, shape, 2, xd, sizeof xd, NULL);
  {
    inferkit_outputs *out = NULL;
    CHECK(inferkit_request_run(req, &out, NULL) == INFERKIT_STATUS_DTYPE_MISMATCH, "a failing request");
  }
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_metrics_prometheus(model, &text, error_out));
  CHECK(text && strstr(text, "inferkit_inference_request_success_total{model=\"mlp\",version=\"\"} 2") &&
            strstr(text, "inferkit_inference_request_failure_total{model=\"mlp\",version=\"\",code=\"dtype_mismatch\"} 1") &&
            strstr(text, "inferkit_inference_rows_total{model=\"mlp\",version=\"\"} 6") &&
            strstr(text, "inferkit_request_duration_us_count{model=\"mlp\",version=\"\"} 3") &&
            strstr(text, "# TYPE inferkit_compute_duration_us histogram"),
        "model metrics: %s", text ? text : "(null)");
  inferkit_string_free(text);
  text = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_metrics_json(model, &text, error_out));
  CHECK(text && strstr(text, "\"requests_success\":2") && strstr(text, "\"requests_failed\":{\"dtype_mismatch\":1}") &&
            strstr(text, "\"rows\":6") && strstr(text, "\"executions\":2") && strstr(text, "\"request_duration\":{\"count\":3") &&
            strstr(text, "\"p99_us\"") && strstr(text, "\"pending\":0") && strstr(text, "\"inflight\":0"),
        "json %s", text ? text : "(null)");
  inferkit_string_free(text);
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "text_out", inferkit_model_metrics_prometheus(model, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "json_out", inferkit_model_metrics_json(model, NULL, error_out));
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
  pack_free(&in);
  pack_free(&want);
}

int main(int argc, char **argv) {
  test_start(argc, argv, 1);
  check_registry();
  explicit_mode();
  model_metrics();
  test_finish("test_registry");
  return 0;
}
