//! Arbitrary text as the body of a `[pipeline]` table, set through the C ABI exactly as a host
//! does (`inferkit_model_options_set_pipeline_toml`), then the tiny CNN opened with it and, if the
//! pipeline is accepted, a few small images run through it: one request, given each image in turn
//! (`inferkit_request_set_image`, which is `Model::infer_image`) and cleared between them, run with
//! `inferkit_request_run`. Every failure must be a typed status; a caught panic is a finding.
#![no_main]

mod common;

use std::ffi::{CStr, CString};
use std::sync::OnceLock;

use inferkit::ffi::error::{inferkit_error_code, inferkit_error_free, inferkit_error_message};
use inferkit::ffi::inferkit_error;
use inferkit::ffi::model::{inferkit_model, inferkit_model_close, inferkit_model_open_bytes};
use inferkit::ffi::options::{
    inferkit_model_options_free, inferkit_model_options_new, inferkit_model_options_set_instances,
    inferkit_model_options_set_pipeline_toml,
};
use inferkit::ffi::outputs::{
    inferkit_outputs, inferkit_outputs_class, inferkit_outputs_class_count,
    inferkit_outputs_class_rows, inferkit_outputs_count, inferkit_outputs_free,
    inferkit_outputs_get,
};
use inferkit::ffi::request::{
    inferkit_request_clear, inferkit_request_free, inferkit_request_new, inferkit_request_run,
    inferkit_request_set_image,
};
use inferkit::pipeline::PixelFormat;
use inferkit::ErrorCode;
use libfuzzer_sys::fuzz_target;

/// The model's bytes, read once (each input opens it anew, since the pipeline is part of loading).
fn model_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        std::fs::read(common::fixture("tiny_cnn.onnx")).expect("tests/fixtures/tiny_cnn.onnx")
    })
}

/// Small images of every pixel format, one of them with a padded stride.
fn images() -> &'static [(Vec<u8>, PixelFormat, usize, usize, usize)] {
    static IMAGES: OnceLock<Vec<(Vec<u8>, PixelFormat, usize, usize, usize)>> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let pattern = |n: usize| (0..n).map(|i| (i * 37 % 251) as u8).collect::<Vec<u8>>();
        vec![
            (pattern(13 * 9 * 3), PixelFormat::Rgb8, 13, 9, 13 * 3),
            (
                pattern((8 * 4 + 3) * 8),
                PixelFormat::Rgba8,
                8,
                8,
                8 * 4 + 3,
            ),
            (pattern(5 * 3), PixelFormat::Gray8, 5, 3, 5),
            (pattern(1 * 40 * 3), PixelFormat::Bgr8, 1, 40, 3),
        ]
    })
}

/// Checks a status and frees its error; a caught panic is a finding.
fn check(code: ErrorCode, err: &mut *mut inferkit_error) {
    if !err.is_null() {
        assert_eq!(inferkit_error_code(*err), code);
        // SAFETY: a live error from inferkit.
        let msg = unsafe { CStr::from_ptr(inferkit_error_message(*err)) };
        assert_ne!(
            code,
            ErrorCode::Panic,
            "inferkit caught a panic: {}",
            msg.to_string_lossy()
        );
        inferkit_error_free(*err);
        *err = std::ptr::null_mut();
    }
    assert_ne!(code, ErrorCode::Panic);
}

fn read_outputs(outputs: *mut inferkit_outputs) {
    for i in 0..inferkit_outputs_count(outputs) {
        let (mut data, mut len) = (std::ptr::null(), 0usize);
        let code = inferkit_outputs_get(
            outputs,
            i,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut data,
            &mut len,
            std::ptr::null_mut(),
        );
        assert_eq!(code, ErrorCode::Ok);
        if len > 0 {
            // SAFETY: inferkit promises `len` readable bytes at `data`.
            let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
            std::hint::black_box(bytes.iter().fold(0u8, |a, b| a ^ b));
        }
    }
    for row in 0..inferkit_outputs_class_rows(outputs) {
        for rank in 0..inferkit_outputs_class_count(outputs, row) {
            let mut label = std::ptr::null();
            let code = inferkit_outputs_class(
                outputs,
                row,
                rank,
                std::ptr::null_mut(),
                &mut label,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            assert_eq!(code, ErrorCode::Ok);
            if !label.is_null() {
                // SAFETY: a label owned by the outputs.
                std::hint::black_box(unsafe { CStr::from_ptr(label) }.to_bytes().len());
            }
        }
    }
    inferkit_outputs_free(outputs);
}

fuzz_target!(|data: &[u8]| {
    common::init();
    // A C string ends at its first NUL; the bytes need not be UTF-8 (that is a typed error too).
    let text = data.split(|b| *b == 0).next().unwrap_or_default();
    let text = CString::new(text).expect("no NUL before the first NUL");
    let mut options = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    let code = inferkit_model_options_new(&mut options, &mut err);
    check(code, &mut err);
    assert_eq!(code, ErrorCode::Ok);
    let code = inferkit_model_options_set_instances(options, 1, &mut err);
    check(code, &mut err);
    let code = inferkit_model_options_set_pipeline_toml(options, text.as_ptr(), &mut err);
    check(code, &mut err);
    if code != ErrorCode::Ok {
        inferkit_model_options_free(options);
        return;
    }
    let bytes = model_bytes();
    let mut model: *mut inferkit_model = std::ptr::null_mut();
    let code = inferkit_model_open_bytes(
        c"tiny_cnn".as_ptr(),
        bytes.as_ptr(),
        bytes.len(),
        options,
        &mut model,
        &mut err,
    );
    check(code, &mut err);
    inferkit_model_options_free(options);
    if code != ErrorCode::Ok {
        return;
    }
    let mut request = std::ptr::null_mut();
    let code = inferkit_request_new(model, &mut request, &mut err);
    check(code, &mut err);
    assert_eq!(code, ErrorCode::Ok);
    // The request holds the model.
    inferkit_model_close(model);
    for (pixels, format, width, height, stride) in images() {
        inferkit_request_clear(request);
        let code = inferkit_request_set_image(
            request,
            pixels.as_ptr(),
            pixels.len(),
            *format as u32,
            *width,
            *height,
            *stride,
            &mut err,
        );
        check(code, &mut err);
        assert_eq!(code, ErrorCode::Ok, "set_image on a cleared request");
        let mut outputs = std::ptr::null_mut();
        let code = inferkit_request_run(request, &mut outputs, &mut err);
        check(code, &mut err);
        if code == ErrorCode::Ok {
            read_outputs(outputs);
        }
    }
    inferkit_request_free(request);
});
