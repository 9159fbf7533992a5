//! Pipelined inference through the C ABI: raw tensors or images in, outputs and classes out.

use std::ffi::{c_char, CString};

use super::model::{inferkit_model, inferkit_model_options, pinned};
use super::tensor::{inferkit_inputs, inferkit_outputs, outputs_handle};
use super::{
    arg, arg_mut, c_slice, c_str, guard, guard_value, inferkit_error, out, to_cstring, write_opt,
};
use crate::error::{Error, ErrorCode, Result};
use crate::pipeline::{ImageView, PipelineOutput, PipelineSpec, PixelFormat};

/// Sets the model's pipeline from TOML text: the body of a `[pipeline]` table (`input`, `output`,
/// `image`, `pre`, `post`), as in config.toml. Label files are relative to the working directory.
/// Errors: INFERKIT_STATUS_CONFIG with the key and line. The pipeline is checked against the model
/// when it opens (INFERKIT_STATUS_PIPELINE_CONFIG naming the step).
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_pipeline_toml(
    options: *mut inferkit_model_options,
    toml_text: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let o = arg_mut(options, "options")?;
        let text = c_str(toml_text, "toml_text")?;
        let spec: PipelineSpec = toml::from_str(text).map_err(|e| Error::Config {
            file: "<pipeline TOML>".into(),
            message: e.to_string().trim_end().to_string(),
        })?;
        o.set_pipeline(spec);
        Ok(())
    })
}

/// The result of a pipelined inference: the model's outputs (the pipeline's output post-processed)
/// and, when the pipeline ends with `top_k`, classes per row. Read-only; release with
/// `inferkit_result_free`.
pub struct inferkit_result {
    outputs: inferkit_outputs,
    classes: Vec<Vec<(usize, Option<CString>, f32)>>,
}

fn new_result(r: PipelineOutput) -> *mut inferkit_result {
    let classes = r
        .classes
        .unwrap_or_default()
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|c| (c.index, c.label.as_deref().map(to_cstring), c.score))
                .collect()
        })
        .collect();
    Box::into_raw(Box::new(inferkit_result {
        outputs: outputs_handle(r.outputs),
        classes,
    }))
}

/// The shared body of the pipelined-inference calls: checks `model` and `result_out`, runs `infer`
/// on the model, and hands the result to the caller.
fn pipelined(
    model: *const inferkit_model,
    result_out: *mut *mut inferkit_result,
    error_out: *mut *mut inferkit_error,
    infer: impl FnOnce(&crate::model::Model) -> Result<PipelineOutput>,
) -> ErrorCode {
    guard(error_out, || {
        let m = pinned(model)?;
        let result_out = out(result_out, "result_out")?;
        write_opt(result_out, new_result(infer(&m)?));
        Ok(())
    })
}

/// Runs the model's pipeline on raw pixels: `height` rows of `width` pixels in `format` (an
/// `inferkit_pixel_format`), rows `stride` bytes apart, `len` bytes at `pixels` (read during the
/// call only). Bad images (a zero size, a stride shorter than a row, too few bytes, an unknown
/// format) are INFERKIT_STATUS_PIPELINE_STEP or INVALID_ARGUMENT. On success `*result_out`
/// receives a result the caller owns. Thread-safe for `model`.
#[no_mangle]
pub extern "C" fn inferkit_model_infer_image(
    model: *const inferkit_model,
    pixels: *const u8,
    len: usize,
    format: u32,
    width: usize,
    height: usize,
    stride: usize,
    result_out: *mut *mut inferkit_result,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    pipelined(model, result_out, error_out, |m| {
        let format = PixelFormat::from_u32(format).ok_or_else(|| Error::InvalidArgument {
            name: "format",
            reason: format!("{format} is not an inferkit_pixel_format"),
        })?;
        m.infer_pipeline(ImageView::new(
            c_slice(pixels, len, "pixels")?,
            format,
            width,
            height,
            stride,
        )?)
    })
}

/// Decodes PNG or JPEG bytes (`len` bytes at `bytes`, read during the call) and runs the model's
/// pipeline on them as `inferkit_model_infer_image` does. An undecodable image is
/// INFERKIT_STATUS_PIPELINE_STEP (step `decode`); a build without the `decode` cargo feature
/// answers INFERKIT_STATUS_UNSUPPORTED.
#[no_mangle]
pub extern "C" fn inferkit_model_infer_encoded_image(
    model: *const inferkit_model,
    bytes: *const u8,
    len: usize,
    result_out: *mut *mut inferkit_result,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    pipelined(model, result_out, error_out, |m| {
        m.infer_pipeline(crate::PipelineInput::Encoded(c_slice(bytes, len, "bytes")?))
    })
}

/// Tokenizes `text` (NUL-terminated UTF-8) with the pipeline's tokenizer and runs the model on
/// it. Needs a build with the `tokenizer` cargo feature (INFERKIT_STATUS_UNSUPPORTED otherwise)
/// and a pipeline with a `text` table (INFERKIT_STATUS_PIPELINE_CONFIG otherwise).
#[no_mangle]
pub extern "C" fn inferkit_model_infer_text(
    model: *const inferkit_model,
    text: *const c_char,
    result_out: *mut *mut inferkit_result,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    pipelined(model, result_out, error_out, |m| {
        m.infer_pipeline(c_str(text, "text")?)
    })
}

/// Pads or truncates `count` token ids (read during the call) to the pipeline's
/// `sequence.max_length`, with an attention mask, and runs the model on them.
#[no_mangle]
pub extern "C" fn inferkit_model_infer_sequence(
    model: *const inferkit_model,
    ids: *const i64,
    count: usize,
    result_out: *mut *mut inferkit_result,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    pipelined(model, result_out, error_out, |m| {
        m.infer_pipeline(c_slice(ids, count, "ids")?)
    })
}

/// Runs the model's pipeline on the first tensor of `inputs` (the raw input the pre steps take).
/// Otherwise as `inferkit_model_infer_image`.
#[no_mangle]
pub extern "C" fn inferkit_model_infer_pipeline(
    model: *const inferkit_model,
    inputs: *const inferkit_inputs,
    result_out: *mut *mut inferkit_result,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    pipelined(model, result_out, error_out, |m| {
        let views = arg(inputs, "inputs")?.views();
        let (_, first) = views.first().ok_or(Error::InvalidArgument {
            name: "inputs",
            reason: "no tensor given".into(),
        })?;
        let first = first.tensor().ok_or(Error::InvalidArgument {
            name: "inputs",
            reason: "a pipeline takes a tensor".into(),
        })?;
        first.check("input")?;
        m.infer_pipeline(first.to_owned()?)
    })
}

/// The outputs of a result; they belong to `result` (do not free them). NULL for NULL.
#[no_mangle]
pub extern "C" fn inferkit_result_outputs(
    result: *const inferkit_result,
) -> *const inferkit_outputs {
    guard_value(std::ptr::null(), || {
        arg(result, "result").map_or(std::ptr::null(), |r| &r.outputs as *const _)
    })
}

/// Number of rows with classes (0 when the pipeline has no `top_k`).
#[no_mangle]
pub extern "C" fn inferkit_result_rows(result: *const inferkit_result) -> usize {
    guard_value(0, || arg(result, "result").map_or(0, |r| r.classes.len()))
}

/// Number of classes in `row` (the `k` of `top_k`, or fewer), or 0 when out of range.
#[no_mangle]
pub extern "C" fn inferkit_result_class_count(result: *const inferkit_result, row: usize) -> usize {
    guard_value(0, || {
        arg(result, "result").map_or(0, |r| r.classes.get(row).map_or(0, Vec::len))
    })
}

/// Reads class `rank` (0 = best) of `row`: its index along the class axis, its label (NULL
/// without a label file; the string belongs to `result`) and its score. Out-parameters may be NULL.
#[no_mangle]
pub extern "C" fn inferkit_result_class(
    result: *const inferkit_result,
    row: usize,
    rank: usize,
    index_out: *mut usize,
    label_out: *mut *const c_char,
    score_out: *mut f32,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = arg(result, "result")?;
        let class = r
            .classes
            .get(row)
            .and_then(|c| c.get(rank))
            .ok_or_else(|| Error::InvalidArgument {
                name: "rank",
                reason: format!("row {row}, rank {rank} is out of range"),
            })?;
        write_opt(index_out, class.0);
        write_opt(
            label_out,
            class.1.as_ref().map_or(std::ptr::null(), |l| l.as_ptr()),
        );
        write_opt(score_out, class.2);
        Ok(())
    })
}

/// Releases a result. `inferkit_result_free(NULL)` does nothing.
#[no_mangle]
pub extern "C" fn inferkit_result_free(result: *mut inferkit_result) {
    guard_value((), || {
        if !result.is_null() {
            // SAFETY: from a pipelined inference, freed once.
            drop(unsafe { Box::from_raw(result) });
        }
    })
}
