/*
 * The checks the C tests share: CHECK counts and reports a failed condition without stopping;
 * EXPECT_STATUS checks a call's status, its error object's code and message. The counters are
 * updated atomically: callbacks may check from the threads that run them.
 */
#ifndef INFERKIT_TEST_CHECK_H
#define INFERKIT_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "inferkit.h"

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                                  \
  do {                                                                    \
    __atomic_add_fetch(&checks, 1, __ATOMIC_RELAXED);                     \
    if (!(cond)) {                                                        \
      __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);                 \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                       \
      fprintf(stderr, "\n");                                              \
    }                                                                     \
  } while (0)

/* Expects `call` to return `want`, and its error object to carry the same code and a message that
 * contains `needle`. Inside `call`, `error_out` names the inferkit_error ** to pass. */
#define EXPECT_STATUS(want, needle, call_with_err)                                          \
  do {                                                                                      \
    inferkit_error *err_ = NULL;                                                            \
    inferkit_error **error_out = &err_;                                                     \
    inferkit_status got_ = (call_with_err);                                                 \
    CHECK(got_ == (want), "status %u (%s), want %u (%s): %s", (unsigned)got_,              \
          inferkit_status_name(got_), (unsigned)(want), inferkit_status_name(want),         \
          err_ ? inferkit_error_message(err_) : "(no error object)");                       \
    if ((want) != INFERKIT_STATUS_OK) {                                                     \
      CHECK(err_ != NULL, "no error object for status %u", (unsigned)(want));               \
      if (err_) {                                                                           \
        CHECK(inferkit_error_code(err_) == (want), "error code %u", (unsigned)inferkit_error_code(err_)); \
        CHECK(strstr(inferkit_error_message(err_), (needle)) != NULL,                      \
              "message \"%s\" lacks \"%s\"", inferkit_error_message(err_), (needle));       \
      }                                                                                     \
    } else if (got_ == INFERKIT_STATUS_OK) {                                                \
      CHECK(err_ == NULL, "an error object written on success");                            \
    }                                                                                       \
    inferkit_error_free(err_);                                                              \
  } while (0)

#endif
