/*
 * What the C tests share besides check.h: the fixtures directory, start and finish, the reader of
 * tensor packs (the reference inputs and outputs onnxruntime produced in Python), the comparison
 * of outputs with them, small request helpers, and a recorder for callbacks.
 *
 * Every helper is `static inline`, so that a test that does not use one is not warned about it.
 * A test defines _POSIX_C_SOURCE 200809L before including anything (pthreads, clock_gettime,
 * nanosleep).
 */
#ifndef INFERKIT_TEST_COMMON_H
#define INFERKIT_TEST_COMMON_H

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "check.h"

/* ---- the fixtures directory, start and finish ---- */

static inline char *fixtures_dir(void) {
  static char dir[4096];
  return dir;
}

/* `<fixtures>/<file>`, in one of 4 rotating buffers: up to 4 may be used in one expression. */
static inline const char *fixture(const char *file) {
  static char paths[4][8192];
  static unsigned next = 0;
  char *path = paths[next++ % 4];
  snprintf(path, sizeof paths[0], "%s/%s", fixtures_dir(), file);
  return path;
}

/* Reads the fixtures directory from the command line and, if `init_runtime`, loads ONNX Runtime
 * (a test that checks the state before that passes 0). */
static inline void test_start(int argc, char **argv, int init_runtime) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <tests/fixtures directory>\n", argv[0]);
    exit(2);
  }
  snprintf(fixtures_dir(), 4096, "%s", argv[1]);
  if (init_runtime) {
    inferkit_error *err = NULL;
    if (inferkit_runtime_init(NULL, &err) != INFERKIT_STATUS_OK) {
      fprintf(stderr, "runtime: %s\n", inferkit_error_message(err));
      inferkit_error_free(err);
      exit(1);
    }
  }
}

/* Prints the summary and leaves: 0 when every check passed.
 *
 * Everything a test owns is freed before this. It leaves without running static destructors
 * (_Exit): ONNX Runtime keeps an internal thread that can still read ONNX Runtime's own static data
 * while exit() destroys it (valgrind reported this now and then). Leak checks still run:
 * valgrind's at the end of the process, LeakSanitizer's here (it would otherwise run from exit()). */
static inline void test_finish(const char *name) {
  int c = __atomic_load_n(&checks, __ATOMIC_SEQ_CST), f = __atomic_load_n(&failures, __ATOMIC_SEQ_CST);
  printf("%s: %d checks, %d passed, %d failed\n", name, c, c - f, f);
  fflush(stdout);
  fflush(stderr);
#if defined(__SANITIZE_ADDRESS__)
  __lsan_do_leak_check();
#endif
  _Exit(f == 0 ? 0 : 1);
}

/* ---- time ---- */

static inline uint64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- tensor packs (format in tests/fixtures/make_fixtures.py) ---- */

typedef struct {
  char name[64];
  uint32_t dtype;
  uint32_t rank;
  int64_t shape[8];
  uint64_t len;
  void *data;
} pack_tensor;

typedef struct {
  uint32_t count;
  pack_tensor tensors[16];
} pack;

static inline int read_exact(FILE *f, void *buf, size_t n) { return fread(buf, 1, n, f) == n; }

/* Reads a pack; 0 when it cannot (what was read is released, `p` is left empty). */
static inline int pack_read(const char *path, pack *p) {
  FILE *f = fopen(path, "rb");
  char magic[4];
  uint32_t version, count = 0;
  memset(p, 0, sizeof *p);
  if (!f) return 0;
  if (!read_exact(f, magic, 4) || memcmp(magic, "IKTP", 4) != 0 || !read_exact(f, &version, 4) ||
      version != 1 || !read_exact(f, &count, 4) || count > 16)
    goto fail;
  for (uint32_t i = 0; i < count; i++) {
    pack_tensor *t = &p->tensors[i];
    uint32_t name_len;
    if (!read_exact(f, &name_len, 4) || name_len >= sizeof t->name || !read_exact(f, t->name, name_len) ||
        !read_exact(f, &t->dtype, 4) || !read_exact(f, &t->rank, 4) || t->rank > 8 ||
        !read_exact(f, t->shape, 8 * (size_t)t->rank) || !read_exact(f, &t->len, 8))
      goto fail;
    t->data = malloc(t->len ? t->len : 1);
    p->count = i + 1;
    if (!t->data || !read_exact(f, t->data, t->len)) goto fail;
  }
  fclose(f);
  return 1;
fail:
  fclose(f);
  for (uint32_t i = 0; i < p->count; i++) free(p->tensors[i].data);
  memset(p, 0, sizeof *p);
  return 0;
}

static inline void pack_free(pack *p) {
  for (uint32_t i = 0; i < p->count; i++) free(p->tensors[i].data);
  memset(p, 0, sizeof *p);
}

/* Reads `<name>.inputs.tpk` and `<name>.outputs.tpk`. */
static inline int packs_of(const char *name, pack *in, pack *want) {
  char in_file[256], want_file[256];
  snprintf(in_file, sizeof in_file, "%s.inputs.tpk", name);
  snprintf(want_file, sizeof want_file, "%s.outputs.tpk", name);
  return pack_read(fixture(in_file), in) & pack_read(fixture(want_file), want);
}

static inline float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  float f;
  if (exp == 0) {
    f = ldexpf((float)man, -24);
    return sign ? -f : f;
  }
  bits = exp == 31 ? sign | 0x7f800000u | (man << 13) : sign | ((exp + 112) << 23) | (man << 13);
  memcpy(&f, &bits, 4);
  return f;
}

static inline double element(uint32_t dtype, const void *data, size_t i) {
  const unsigned char *b = data;
  switch (dtype) {
    case INFERKIT_DTYPE_F32: { float v; memcpy(&v, b + 4 * i, 4); return v; }
    case INFERKIT_DTYPE_F64: { double v; memcpy(&v, b + 8 * i, 8); return v; }
    case INFERKIT_DTYPE_F16: { uint16_t v; memcpy(&v, b + 2 * i, 2); return half_to_float(v); }
    case INFERKIT_DTYPE_BF16: { uint16_t v; uint32_t w; float f; memcpy(&v, b + 2 * i, 2); w = (uint32_t)v << 16; memcpy(&f, &w, 4); return f; }
    default: return 0.0;
  }
}

static inline int is_float(uint32_t dtype) {
  return dtype == INFERKIT_DTYPE_F32 || dtype == INFERKIT_DTYPE_F64 || dtype == INFERKIT_DTYPE_F16 ||
         dtype == INFERKIT_DTYPE_BF16;
}

/* Exact for integers and bools, relative 1e-5 (absolute floor 1e-6) for floats. */
static inline void compare(const char *what, const pack_tensor *want, uint32_t dtype, const int64_t *shape, size_t rank,
                           const void *data, size_t len) {
  CHECK(dtype == want->dtype, "%s: dtype %u, want %u", what, dtype, want->dtype);
  CHECK(rank == want->rank, "%s: rank %zu, want %u", what, rank, want->rank);
  for (size_t d = 0; d < rank && d < want->rank; d++)
    CHECK(shape[d] == want->shape[d], "%s: dim %zu is %lld, want %lld", what, d, (long long)shape[d], (long long)want->shape[d]);
  CHECK(len == want->len, "%s: %zu bytes, want %llu", what, len, (unsigned long long)want->len);
  if (len != want->len) return;
  if (is_float(dtype)) {
    size_t n = len / inferkit_dtype_size(dtype);
    for (size_t i = 0; i < n; i++) {
      double a = element(dtype, data, i), b = element(dtype, want->data, i);
      double tol = 1e-5 * fmax(fabs(a), fabs(b)) + 1e-6;
      CHECK(fabs(a - b) <= tol, "%s[%zu]: got %g, want %g", what, i, a, b);
    }
  } else {
    CHECK(len == 0 || memcmp(data, want->data, len) == 0, "%s: bytes differ", what);
  }
}

/* Every output of `outputs`, in order, against the pack `want`: names, indices found by name,
 * dtypes, shapes and data. */
static inline void compare_outputs(const char *what, const inferkit_outputs *outputs, const pack *want) {
  CHECK(inferkit_outputs_count(outputs) == want->count, "%s: %zu outputs, want %u", what, inferkit_outputs_count(outputs),
        want->count);
  for (uint32_t i = 0; i < want->count && i < inferkit_outputs_count(outputs); i++) {
    const char *out_name = NULL;
    uint32_t dtype = 0;
    const int64_t *shape = NULL;
    size_t rank = 0, len = 0, index = 99;
    const void *data = NULL;
    char label[160];
    inferkit_status st = inferkit_outputs_get(outputs, i, &out_name, &dtype, &shape, &rank, &data, &len, NULL);
    CHECK(st == INFERKIT_STATUS_OK, "%s: get output %u: %s", what, i, inferkit_status_name(st));
    if (st != INFERKIT_STATUS_OK) continue;
    CHECK(strcmp(out_name, want->tensors[i].name) == 0, "%s: output %u is %s, want %s", what, i, out_name,
          want->tensors[i].name);
    CHECK(inferkit_outputs_find(outputs, want->tensors[i].name, &index, NULL) == INFERKIT_STATUS_OK && index == i,
          "%s: find %s", what, want->tensors[i].name);
    snprintf(label, sizeof label, "%s.%s", what, out_name);
    compare(label, &want->tensors[i], dtype, shape, rank, data, len);
  }
}

/* ---- models and requests ---- */

/* Opens `<fixtures>/<file>`; NULL (reported) when it does not open. */
static inline inferkit_model *open_fixture(const char *file, const inferkit_model_options *options) {
  inferkit_model *model = NULL;
  inferkit_error *err = NULL;
  if (inferkit_model_open(fixture(file), options, &model, &err) != INFERKIT_STATUS_OK) {
    CHECK(0, "open %s: %s", file, inferkit_error_message(err));
    inferkit_error_free(err);
    return NULL;
  }
  return model;
}

static inline inferkit_model_options *new_options(void) {
  inferkit_model_options *opts = NULL;
  inferkit_status st = inferkit_model_options_new(&opts, NULL);
  CHECK(st == INFERKIT_STATUS_OK && opts != NULL, "inferkit_model_options_new: %s", inferkit_status_name(st));
  return opts;
}

/* Model options with `instances` sessions and, if `max_queue_size` is not 0, that queue size (and
 * batches of up to 32 rows, no delay, no default timeout). */
static inline inferkit_model_options *pool_options(size_t instances, size_t max_queue_size) {
  inferkit_model_options *opts = new_options();
  CHECK(inferkit_model_options_set_instances(opts, instances, NULL) == INFERKIT_STATUS_OK, "instances %zu", instances);
  if (max_queue_size)
    CHECK(inferkit_model_options_set_batching(opts, 32, 0, max_queue_size, 0, NULL) == INFERKIT_STATUS_OK, "queue %zu",
          max_queue_size);
  return opts;
}

/* A new request to `model` (NULL, reported, if it cannot be made). */
static inline inferkit_request *new_request(const inferkit_model *model) {
  inferkit_request *req = NULL;
  inferkit_error *err = NULL;
  if (inferkit_request_new(model, &req, &err) != INFERKIT_STATUS_OK) {
    CHECK(0, "inferkit_request_new: %s", inferkit_error_message(err));
    inferkit_error_free(err);
    return NULL;
  }
  return req;
}

/* Adds every tensor of a pack to a request: borrowed (the pack must outlive the runs) or copied. */
static inline void add_pack(inferkit_request *req, const pack *p, int copy) {
  for (uint32_t i = 0; i < p->count; i++) {
    const pack_tensor *t = &p->tensors[i];
    inferkit_error *err = NULL;
    inferkit_status st = copy ? inferkit_request_add_tensor_copy(req, t->name, t->dtype, t->shape, t->rank, t->data, t->len, &err)
                              : inferkit_request_add_tensor(req, t->name, t->dtype, t->shape, t->rank, t->data, t->len, &err);
    CHECK(st == INFERKIT_STATUS_OK, "add %s: %s", t->name, inferkit_error_message(err));
    inferkit_error_free(err);
  }
}

/* Runs a request; NULL (reported, with `what`) on failure. */
/* Runs `req`, expecting `want` with `needle` in the message and nothing written to the outputs. */
#define EXPECT_RUN(want, needle, req)                                                        \
  do {                                                                                       \
    inferkit_outputs *out_ = NULL;                                                           \
    EXPECT_STATUS(want, needle, inferkit_request_run(req, &out_, error_out));                \
    CHECK(out_ == NULL, "no outputs written on failure");                                    \
    inferkit_outputs_free(out_);                                                             \
  } while (0)

static inline inferkit_outputs *run_ok(const inferkit_request *req, const char *what) {
  inferkit_outputs *out = NULL;
  inferkit_error *err = NULL;
  if (inferkit_request_run(req, &out, &err) != INFERKIT_STATUS_OK) {
    CHECK(0, "%s: run failed: %s", what, inferkit_error_message(err));
    inferkit_error_free(err);
    return NULL;
  }
  CHECK(out != NULL, "%s: no outputs", what);
  return out;
}

/* Output `index` of `outputs` as numbers: its bytes (NULL if it cannot be read) and length. */
static inline const void *output_data(const inferkit_outputs *outputs, size_t index, size_t *len) {
  const void *data = NULL;
  *len = 0;
  if (inferkit_outputs_get(outputs, index, NULL, NULL, NULL, NULL, &data, len, NULL) != INFERKIT_STATUS_OK) return NULL;
  return data;
}

/* Reads a whole file into `buf`; its length, 0 when it cannot. */
static inline size_t read_file(const char *path, unsigned char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, cap, f) : 0;
  if (f) fclose(f);
  return n;
}

/* ---- a recorder for callbacks ---- */

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;                 /* callbacks so far */
  int ok;                    /* of which with INFERKIT_STATUS_OK */
  int contract_broken;       /* callbacks whose arguments broke inferkit_callback's contract */
  inferkit_status last_status;
  size_t last_count;         /* outputs of the last successful callback */
  char last_message[512];    /* error message of the last failed callback */
  int keep;                  /* keep the last outputs in `kept` instead of freeing them */
  inferkit_outputs *kept;
} recorder;

static inline void recorder_init(recorder *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  r->last_status = INFERKIT_STATUS_PANIC;
}

static inline void recorder_destroy(recorder *r) {
  inferkit_outputs_free(r->kept);
  r->kept = NULL;
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
}

/* An inferkit_callback: records the result, checks the contract (OK: outputs and no error;
 * otherwise: no outputs and an error of the same code) and releases what it was given. */
static inline void record(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  recorder *r = userdata;
  int broken = status == INFERKIT_STATUS_OK ? (outputs == NULL || error != NULL)
                                            : (outputs != NULL || error == NULL || inferkit_error_code(error) != status);
  pthread_mutex_lock(&r->mu);
  r->calls++;
  r->last_status = status;
  r->contract_broken += broken;
  if (status == INFERKIT_STATUS_OK) {
    r->ok++;
    r->last_count = inferkit_outputs_count(outputs);
  } else {
    snprintf(r->last_message, sizeof r->last_message, "%s", inferkit_error_message(error));
  }
  if (r->keep && outputs) {
    inferkit_outputs_free(r->kept);
    r->kept = outputs;
    outputs = NULL;
  }
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);
}

static inline int recorder_calls(recorder *r) {
  int n;
  pthread_mutex_lock(&r->mu);
  n = r->calls;
  pthread_mutex_unlock(&r->mu);
  return n;
}

/* Waits until the recorder has seen `calls` callbacks, for at most `seconds`: 1 if it has. */
static inline int recorder_wait(recorder *r, int calls, int seconds) {
  struct timespec until;
  int reached;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += seconds;
  pthread_mutex_lock(&r->mu);
  while (r->calls < calls) {
    if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT) break;
  }
  reached = r->calls >= calls;
  pthread_mutex_unlock(&r->mu);
  return reached;
}

#endif
