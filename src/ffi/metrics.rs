//! Metrics through the C ABI: Prometheus text, and a JSON summary with percentiles.

use std::ffi::{c_char, CString};

use super::model::{inferkit_model, pinned};
use super::registry::inferkit_registry;
use super::{arg, guard, inferkit_error, out, write_opt};
use crate::error::ErrorCode;

fn hand_out(text: String, out_ptr: *mut *mut c_char) {
    write_opt(out_ptr, CString::new(text).unwrap_or_default().into_raw());
}

/// The model's metrics in the Prometheus text format. The caller owns `*text_out` and frees it
/// with `inferkit_string_free`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_metrics_prometheus(
    model: *const inferkit_model,
    text_out: *mut *mut c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let m = pinned(model)?;
        let text_out = out(text_out, "text_out")?;
        hand_out(m.metrics_prometheus(), text_out);
        Ok(())
    })
}

/// The model's metrics as JSON: `{"requests_success", "requests_failed": {code: n}, "rows",
/// "executions", "pending", "inflight", "batch_size": {count, sum, p50, p90, p99},
/// "request_duration"|"queue_duration"|"compute_duration": {count, sum_us, p50_us, p90_us, p99_us}}`.
/// The caller frees `*json_out` with `inferkit_string_free`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_metrics_json(
    model: *const inferkit_model,
    json_out: *mut *mut c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let m = pinned(model)?;
        let json_out = out(json_out, "json_out")?;
        hand_out(m.metrics_json(), json_out);
        Ok(())
    })
}

/// Metrics of every model version in the registry, with load, failure and unload events, in the
/// Prometheus text format. The caller frees `*text_out` with `inferkit_string_free`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_registry_metrics_prometheus(
    registry: *const inferkit_registry,
    text_out: *mut *mut c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = arg(registry, "registry")?;
        let text_out = out(text_out, "text_out")?;
        hand_out(r.registry().metrics_prometheus(), text_out);
        Ok(())
    })
}
