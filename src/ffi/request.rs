//! Per-request options (`inferkit_infer_options`) and asynchronous inference with a callback
//! (`inferkit_request`).

use std::ffi::{c_char, c_void};
use std::time::Duration;

use super::model::{inferkit_model, pinned};
use super::tensor::{inferkit_inputs, inferkit_outputs, new_outputs};
use super::{
    arg, arg_mut, c_slice, c_str, error, guard, guard_value, hand_over, inferkit_error, out,
    write_opt,
};
use crate::error::{ErrorCode, Result};
use crate::scheduler::{InferOptions, RequestHandle};

/// Options for one request: a timeout and a subset of outputs. Not thread-safe; read only during
/// the call it is passed to. Create with `inferkit_infer_options_new`, release with
/// `inferkit_infer_options_free`.
pub struct inferkit_infer_options {
    options: InferOptions,
}

/// Creates request options: no timeout (the model's default applies), all outputs. Never NULL.
#[no_mangle]
pub extern "C" fn inferkit_infer_options_new() -> *mut inferkit_infer_options {
    guard_value(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(inferkit_infer_options {
            options: InferOptions::default(),
        }))
    })
}

/// Releases request options. `inferkit_infer_options_free(NULL)` does nothing.
#[no_mangle]
pub extern "C" fn inferkit_infer_options_free(options: *mut inferkit_infer_options) {
    guard_value((), || {
        if !options.is_null() {
            // SAFETY: from inferkit_infer_options_new, freed once.
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

/// Sets the request's timeout in microseconds from the call (0: none). A request that has not
/// started when it expires is not run and fails with INFERKIT_STATUS_DEADLINE_EXCEEDED.
#[no_mangle]
pub extern "C" fn inferkit_infer_options_set_timeout_us(
    options: *mut inferkit_infer_options,
    timeout_us: u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        arg_mut(options, "options")?.options.timeout =
            (timeout_us > 0).then(|| Duration::from_micros(timeout_us));
        Ok(())
    })
}

/// Asks for only the `count` outputs named (copied), in that order; `count` 0 asks for all.
#[no_mangle]
pub extern "C" fn inferkit_infer_options_set_outputs(
    options: *mut inferkit_infer_options,
    names: *const *const c_char,
    count: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let o = arg_mut(options, "options")?;
        let names = c_slice(names, count, "names")?
            .iter()
            .map(|p| c_str(*p, "names").map(str::to_string))
            .collect::<Result<Vec<_>>>()?;
        o.options.outputs = (!names.is_empty()).then_some(names);
        Ok(())
    })
}

fn options_or_default(options: *const inferkit_infer_options) -> InferOptions {
    // SAFETY: NULL or options from inferkit_infer_options_new, not modified during the call.
    unsafe { options.as_ref() }.map_or_else(InferOptions::default, |o| o.options.clone())
}

/// `inferkit_model_infer` with request options (`options` may be NULL).
#[no_mangle]
pub extern "C" fn inferkit_model_infer_with_options(
    model: *const inferkit_model,
    inputs: *const inferkit_inputs,
    options: *const inferkit_infer_options,
    outputs_out: *mut *mut inferkit_outputs,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let m = pinned(model)?;
        let inputs = arg(inputs, "inputs")?;
        let outputs_out = out(outputs_out, "outputs_out")?;
        let result = m.infer_with(&inputs.views(), &options_or_default(options))?;
        write_opt(outputs_out, new_outputs(result));
        Ok(())
    })
}

/// Receives the result of an asynchronous request. Called exactly once per accepted request, with
/// `userdata` as given. On success `status` is INFERKIT_STATUS_OK, `outputs` is non-NULL and
/// `error` is NULL; on failure `outputs` is NULL and `error` describes it. The callee owns both
/// and releases them with `inferkit_outputs_free` / `inferkit_error_free` (now or later, on any
/// thread).
///
/// It runs on the thread that completes the request: the submitting thread, before
/// `inferkit_model_infer_async` returns, when a session was idle; otherwise a thread that is
/// finishing another inference of the same model (an application thread inside an inferkit call).
/// It must return promptly, must not block on other requests of the same model (a blocking
/// inference on that model from here returns INFERKIT_STATUS_WOULD_DEADLOCK; submit instead), and
/// must not unwind (throw) through inferkit.
pub type inferkit_callback = Option<
    extern "C" fn(
        userdata: *mut c_void,
        status: ErrorCode,
        outputs: *mut inferkit_outputs,
        error: *mut inferkit_error,
    ),
>;

/// An asynchronous request, to cancel it or ask whether it is done. Thread-safe. Release with
/// `inferkit_request_free` (that does not cancel the request).
pub struct inferkit_request {
    handle: RequestHandle,
}

struct Userdata(*mut c_void);
// SAFETY: the caller is told (inferkit_callback) that the callback and its userdata may be used
// from another thread.
unsafe impl Send for Userdata {}

/// Submits a request and returns at once (or after running it, when a session was idle and the
/// queue empty). The input data are copied, so `inputs` may be reused or freed when this returns.
/// `options` may be NULL. `callback` receives the result (see `inferkit_callback`).
/// `request_out` may be NULL; if not, it receives a handle the caller owns.
///
/// Failures detected at submission (NULL arguments, a request that does not fit the signature,
/// INFERKIT_STATUS_QUEUE_FULL) are returned here, and the callback is then not called.
/// Thread-safe for `model`.
#[no_mangle]
pub extern "C" fn inferkit_model_infer_async(
    model: *const inferkit_model,
    inputs: *const inferkit_inputs,
    options: *const inferkit_infer_options,
    callback: inferkit_callback,
    userdata: *mut c_void,
    request_out: *mut *mut inferkit_request,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let m = pinned(model)?;
        let inputs = arg(inputs, "inputs")?;
        let Some(callback) = callback else {
            return Err(crate::Error::NullArgument { name: "callback" });
        };
        let owned = inputs.to_owned_values();
        let userdata = Userdata(userdata);
        let options = options_or_default(options);
        let handle = m.submit_with_callback(owned, &options, move |result| {
            let userdata = userdata;
            match result {
                Ok(outputs) => callback(
                    userdata.0,
                    ErrorCode::Ok,
                    new_outputs(outputs),
                    std::ptr::null_mut(),
                ),
                Err(e) => callback(
                    userdata.0,
                    e.code(),
                    std::ptr::null_mut(),
                    error::new(e.code(), e.to_string()),
                ),
            }
        })?;
        hand_over(request_out, Box::new(inferkit_request { handle }));
        Ok(())
    })
}

/// Withdraws the request if no session has taken it yet: its callback is then called with
/// INFERKIT_STATUS_CANCELLED on this thread before this returns, and this returns true. A request
/// that runs alone on a session has its run stopped (true; the callback gets
/// INFERKIT_STATUS_CANCELLED on the running thread). False if it is done, runs in a batch with
/// other requests, or `request` is NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_request_cancel(request: *const inferkit_request) -> bool {
    guard_value(false, || {
        arg(request, "request").is_ok_and(|r| r.handle.cancel())
    })
}

/// Whether the request's callback has been called (or is being called). Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_request_is_done(request: *const inferkit_request) -> bool {
    guard_value(false, || {
        arg(request, "request").is_ok_and(|r| r.handle.is_done())
    })
}

/// Releases a request handle; the request itself goes on. `inferkit_request_free(NULL)` does nothing.
#[no_mangle]
pub extern "C" fn inferkit_request_free(request: *mut inferkit_request) {
    guard_value((), || {
        if !request.is_null() {
            // SAFETY: from inferkit_model_infer_async, freed once.
            drop(unsafe { Box::from_raw(request) });
        }
    })
}
