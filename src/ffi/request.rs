//! `inferkit_request`: the one way to run a model from C. A request carries its inputs (tensors and
//! values, or one raw input for the model's pipeline) and its options (timeout or deadline, the
//! outputs wanted), and is run blocking (`inferkit_request_run`) or submitted with a callback
//! (`inferkit_request_submit`, which hands out an `inferkit_pending`).

use std::ffi::{c_char, c_void};
use std::sync::Arc;
use std::time::{Duration, Instant};

use smallvec::SmallVec;

use super::model::{inferkit_model, pinned};
use super::outputs::{inferkit_outputs, new_outputs, new_pipeline_outputs};
use super::ownership::{free_box, give_box, try_mut, try_ref, Castable, Opaque, OwnershipBox};
use super::value::{inferkit_value, numeric_dtype, parse_shape, strings_tensor, value_ref};
use super::{c_slice, c_str, error, guard, guard_value, inferkit_error, out, write_opt};
use crate::error::{Error, ErrorCode, Result};
use crate::model::Model;
use crate::pipeline::{ImageView, PipelineInput, PixelFormat};
use crate::scheduler::{CancelToken, InferOptions, RequestHandle};
use crate::tensor::{AlignedBytes, DType, Tensor, TensorView};
use crate::value::{AsInput, Input, Value};

/// A request to one model: inputs and options. Made with inferkit_request_new, released with
/// inferkit_request_free; run it as often as wanted.
pub struct inferkit_request {
    _opaque: Opaque,
}

impl Castable for inferkit_request {
    type Ownership = OwnershipBox;
    type RustType = RequestData;
}

enum Data {
    /// Borrowed from the caller, who keeps it valid until the runs that use it return.
    Borrowed(*const u8, usize),
    /// Copied into inferkit's memory.
    Owned(AlignedBytes),
    /// A string tensor, sequence, map or optional, copied.
    Value(Value),
}

/// An input's name: the index of one of the model's inputs (no copy, no reference count to
/// share between threads), or a name the model does not have (the run reports it as unknown).
enum Name {
    Input(usize),
    Other(Box<str>),
}

struct Entry {
    name: Name,
    dtype: DType,
    /// Inline up to rank 8: adding a tensor allocates nothing for its dims.
    shape: SmallVec<[usize; 8]>,
    data: Data,
}

/// A raw input for the model's pipeline, copied.
enum PipelineData {
    Tensor(Tensor),
    Image {
        pixels: Vec<u8>,
        format: PixelFormat,
        width: usize,
        height: usize,
        stride: usize,
    },
    Encoded(Vec<u8>),
    Text(String),
    Tokens(Vec<i64>),
}

/// What a request handle points to.
pub(crate) struct RequestData {
    model: Arc<Model>,
    entries: Vec<Entry>,
    pipeline: Option<PipelineData>,
    options: InferOptions,
}

impl RequestData {
    /// The inputs as the model takes them, borrowing the caller's memory where it was lent (on the
    /// stack for up to 8 inputs: a run allocates nothing for them).
    fn views(&self) -> smallvec::SmallVec<[(&str, Input<'_>); 8]> {
        self.entries
            .iter()
            .map(|e| {
                let name = self.name(&e.name);
                let bytes: &[u8] = match &e.data {
                    // The caller keeps borrowed data valid until the run returns (documented on
                    // inferkit_request_add_tensor); the pointer was checked when it was added.
                    Data::Borrowed(ptr, len) => c_slice(*ptr, *len, "data").unwrap_or(&[]),
                    Data::Owned(buf) => buf.as_bytes(),
                    Data::Value(v) => return (name, v.as_input()),
                };
                (
                    name,
                    Input::Tensor(TensorView::new(e.dtype, &e.shape[..], bytes)),
                )
            })
            .collect()
    }

    /// Copies of the inputs, for a request that outlives the call.
    fn to_owned_values(&self) -> Vec<(String, Value)> {
        self.views()
            .into_iter()
            .map(|(name, input)| {
                let value = match input {
                    Input::Tensor(view) => Value::Tensor(view.to_owned_unchecked()),
                    Input::Value(v) => v.clone(),
                };
                (name.to_string(), value)
            })
            .collect()
    }

    /// An input's name, NUL-terminated, as the request keeps it.
    fn input_name(&self, name: *const c_char) -> Result<Name> {
        let name = c_str(name, "name")?;
        Ok(self
            .model
            .signature()
            .input_index(name)
            .map_or_else(|| Name::Other(name.into()), Name::Input))
    }

    fn name<'a>(&'a self, name: &'a Name) -> &'a str {
        match name {
            Name::Input(i) => &self.model.signature().inputs[*i].name,
            Name::Other(s) => s,
        }
    }

    fn add(&mut self, entry: Entry) -> Result<()> {
        if self.pipeline.is_some() {
            return Err(Error::InvalidArgument {
                name: "request",
                reason: "it carries a pipeline input; a request carries tensors or one pipeline input, not both (inferkit_request_clear empties it)".into(),
            });
        }
        self.entries.push(entry);
        Ok(())
    }

    fn set_pipeline(&mut self, input: PipelineData) -> Result<()> {
        if !self.entries.is_empty() {
            return Err(Error::InvalidArgument {
                name: "request",
                reason: "it carries tensors; a request carries tensors or one pipeline input, not both (inferkit_request_clear empties it)".into(),
            });
        }
        self.pipeline = Some(input);
        Ok(())
    }
}

/// \brief Makes an empty request to a model.
///
/// \param model The model to run.
/// \param request_out Receives the request.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*request_out` and releases it with inferkit_request_free. The
/// request holds the model loaded: `model` may be closed first.
/// Thread safety: thread-safe for `model`.
#[no_mangle]
pub extern "C" fn inferkit_request_new(
    model: *const inferkit_model,
    request_out: *mut *mut inferkit_request,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let model = pinned(model)?;
        let request_out = out(request_out, "request_out")?;
        give_box(
            request_out,
            RequestData {
                model,
                entries: Vec::new(),
                pipeline: None,
                options: InferOptions::default(),
            },
        );
        Ok(())
    })
}

/// \brief Releases a request.
///
/// \param request A request, or NULL (nothing happens).
///
/// Ownership: takes `request` back from the caller; release it once. Data it copied goes with it;
/// borrowed data stays the caller's. Submitted requests go on: they hold copies.
/// Thread safety: must not race with other calls on the same request.
#[no_mangle]
pub extern "C" fn inferkit_request_free(request: *mut inferkit_request) {
    guard_value((), || free_box(request))
}

/// \brief Removes every input (tensors, values and the pipeline input); the options stay.
///
/// \param request A request, or NULL (nothing happens).
///
/// Ownership: copied data is released; borrowed data stays the caller's.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_clear(request: *mut inferkit_request) {
    guard_value((), || {
        if let Ok(r) = try_mut(request, "request") {
            r.entries.clear();
            r.pipeline = None;
        }
    })
}

/// \brief Adds an input tensor that borrows its data: no copy is made.
///
/// The byte length is checked against dtype and shape, and the tensor against the model's
/// signature, when the request runs. Hosts that may not lend memory past a call (Go without
/// runtime.Pinner, managed runtimes whose memory moves) use inferkit_request_add_tensor_copy.
///
/// \param request The request.
/// \param name The input's name, NUL-terminated UTF-8.
/// \param dtype An inferkit_dtype other than STRING (see inferkit_request_add_strings).
/// \param shape `rank` dims.
/// \param rank Number of dims (0: a scalar).
/// \param data `data_len` bytes, row-major, native byte order.
/// \param data_len Length of `data`.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: `name` and `shape` are copied; `data` stays the caller's, who keeps it valid and
/// unchanged until every inferkit_request_run of this request that uses it has returned
/// (inferkit_request_submit copies it).
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_add_tensor(
    request: *mut inferkit_request,
    name: *const c_char,
    dtype: u32,
    shape: *const i64,
    rank: usize,
    data: *const c_void,
    data_len: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let name = r.input_name(name)?;
        let dtype = numeric_dtype(dtype)?;
        let shape = parse_shape(shape, rank, r.name(&name))?;
        c_slice(data.cast::<u8>(), data_len, "data")?;
        r.add(Entry {
            name,
            dtype,
            shape,
            data: Data::Borrowed(data.cast(), data_len),
        })
    })
}

/// \brief Adds an input tensor, copying its data.
///
/// \param request The request.
/// \param name The input's name, NUL-terminated UTF-8.
/// \param dtype An inferkit_dtype other than STRING (see inferkit_request_add_strings).
/// \param shape `rank` dims.
/// \param rank Number of dims (0: a scalar).
/// \param data `data_len` bytes, row-major, native byte order.
/// \param data_len Length of `data`.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: everything is copied; the caller may reuse `data` as soon as this returns.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_add_tensor_copy(
    request: *mut inferkit_request,
    name: *const c_char,
    dtype: u32,
    shape: *const i64,
    rank: usize,
    data: *const c_void,
    data_len: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let name = r.input_name(name)?;
        let dtype = numeric_dtype(dtype)?;
        let shape = parse_shape(shape, rank, r.name(&name))?;
        let bytes = c_slice(data.cast::<u8>(), data_len, "data")?;
        r.add(Entry {
            name,
            dtype,
            shape,
            data: Data::Owned(AlignedBytes::copy_from(bytes)),
        })
    })
}

/// \brief Adds a string tensor input, copying its strings.
///
/// \param request The request.
/// \param name The input's name, NUL-terminated UTF-8.
/// \param shape `rank` dims.
/// \param rank Number of dims (0: a scalar).
/// \param strings One pointer per element, row-major.
/// \param lengths Each string's length in bytes, or NULL when every string is NUL-terminated.
/// \param count Number of strings (and of lengths): the product of the dims.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT (a count that is not the
///         shape's), INFERKIT_STATUS_SHAPE_OVERFLOW or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: everything is copied.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_add_strings(
    request: *mut inferkit_request,
    name: *const c_char,
    shape: *const i64,
    rank: usize,
    strings: *const *const c_char,
    lengths: *const usize,
    count: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let name = r.input_name(name)?;
        let tensor = strings_tensor(shape, rank, strings, lengths, count)?;
        r.add(Entry {
            name,
            dtype: DType::String,
            shape: SmallVec::new(),
            data: Data::Value(Value::Tensor(tensor)),
        })
    })
}

/// \brief Adds an input of any kind: tensor, string tensor, sequence, map or optional.
///
/// An optional input may also be left out, which gives it no value.
///
/// \param request The request.
/// \param name The input's name, NUL-terminated UTF-8.
/// \param value The value.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: `value` is copied and stays the caller's.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_add_value(
    request: *mut inferkit_request,
    name: *const c_char,
    value: *const inferkit_value,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let name = r.input_name(name)?;
        let value = value_ref(value)?.clone();
        r.add(Entry {
            name,
            dtype: DType::U8,
            shape: SmallVec::new(),
            data: Data::Value(value),
        })
    })
}

/// \brief Gives the request a raw tensor for the model's pipeline: its pre steps, the model, its
/// post steps.
///
/// Without a declared pipeline the tensor feeds the model's first input. A request carries
/// tensors or one pipeline input, not both.
///
/// \param request The request.
/// \param dtype An inferkit_dtype other than STRING.
/// \param shape `rank` dims.
/// \param rank Number of dims (0: a scalar).
/// \param data `data_len` bytes, row-major, native byte order.
/// \param data_len Length of `data`.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT,
///         INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, INFERKIT_STATUS_SHAPE_OVERFLOW,
///         INFERKIT_STATUS_INVALID_TENSOR_DATA or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: everything is copied.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_pipeline_tensor(
    request: *mut inferkit_request,
    dtype: u32,
    shape: *const i64,
    rank: usize,
    data: *const c_void,
    data_len: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let dtype = numeric_dtype(dtype)?;
        let shape = parse_shape(shape, rank, "input")?;
        let bytes = c_slice(data.cast::<u8>(), data_len, "data")?;
        let tensor = Tensor::from_bytes(dtype, shape, bytes)?;
        r.set_pipeline(PipelineData::Tensor(tensor))
    })
}

/// \brief Gives the request raw pixels for the model's pipeline: image steps (resize, crop,
/// channel order), pre steps, the model, post steps.
///
/// The image is checked when the request runs: a zero size, a stride shorter than a row or too
/// few bytes is INFERKIT_STATUS_PIPELINE_STEP.
///
/// \param request The request.
/// \param pixels `len` bytes: `height` rows of `width` pixels, rows `stride` bytes apart.
/// \param len Length of `pixels`.
/// \param format An inferkit_pixel_format.
/// \param width Pixels per row.
/// \param height Rows.
/// \param stride Bytes from one row to the next.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the pixels are copied.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_image(
    request: *mut inferkit_request,
    pixels: *const u8,
    len: usize,
    format: u32,
    width: usize,
    height: usize,
    stride: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let format = PixelFormat::from_u32(format).ok_or_else(|| Error::InvalidArgument {
            name: "format",
            reason: format!("{format} is not an inferkit_pixel_format"),
        })?;
        let pixels = c_slice(pixels, len, "pixels")?.to_vec();
        r.set_pipeline(PipelineData::Image {
            pixels,
            format,
            width,
            height,
            stride,
        })
    })
}

/// \brief Gives the request PNG or JPEG bytes for the model's pipeline: decoding, then as
/// inferkit_request_set_image.
///
/// An undecodable image is INFERKIT_STATUS_PIPELINE_STEP (step `decode`) when the request runs;
/// a build without the `decode` feature answers INFERKIT_STATUS_UNSUPPORTED then.
///
/// \param request The request.
/// \param bytes The encoded image, `len` bytes.
/// \param len Length of `bytes`.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the bytes are copied.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_encoded_image(
    request: *mut inferkit_request,
    bytes: *const u8,
    len: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let bytes = c_slice(bytes, len, "bytes")?.to_vec();
        r.set_pipeline(PipelineData::Encoded(bytes))
    })
}

/// \brief Gives the request text for the model's pipeline: its tokenizer, the model, post steps.
///
/// Needs a build with the `tokenizer` feature (INFERKIT_STATUS_UNSUPPORTED when the request runs
/// otherwise) and a pipeline with a `text` table (INFERKIT_STATUS_PIPELINE_CONFIG otherwise).
///
/// \param request The request.
/// \param text NUL-terminated UTF-8.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the text is copied.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_text(
    request: *mut inferkit_request,
    text: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let text = c_str(text, "text")?.to_string();
        r.set_pipeline(PipelineData::Text(text))
    })
}

/// \brief Gives the request token ids for the model's pipeline: padded or truncated to the
/// pipeline's `sequence.max_length` with an attention mask, the model, post steps.
///
/// \param request The request.
/// \param ids `count` token ids.
/// \param count Number of ids.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the ids are copied.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_tokens(
    request: *mut inferkit_request,
    ids: *const i64,
    count: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let ids = c_slice(ids, count, "ids")?.to_vec();
        r.set_pipeline(PipelineData::Tokens(ids))
    })
}

/// \brief Sets a timeout, counted from each run or submission.
///
/// A request that has not started when it expires is not run; one that runs past it alone is
/// stopped. Either way it fails with INFERKIT_STATUS_DEADLINE_EXCEEDED.
///
/// \param request The request.
/// \param timeout_us Microseconds; 0 removes the timeout (the model's default applies).
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_timeout_us(
    request: *mut inferkit_request,
    timeout_us: u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        try_mut(request, "request")?.options.timeout =
            (timeout_us > 0).then(|| Duration::from_micros(timeout_us));
        Ok(())
    })
}

/// \brief Whether the request is only queued, not run on the thread that submits or runs it.
///
/// By default a thread that finds a session idle runs its request at once, on its own thread
/// (with a bounded share of others' work). With `queue_only`, inferkit's helper threads run it
/// instead (the calling thread does only if no helper thread can be started), and
/// inferkit_request_submit returns as soon as the request is queued: for hosts whose
/// threads must not stay inside inferkit for a run, such as a Go binding's goroutines in a cgo
/// call. inferkit_request_run still waits for the result.
///
/// \param request The request.
/// \param queue_only True to only queue it; false (the default) to let this thread run it.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_queue_only(
    request: *mut inferkit_request,
    queue_only: bool,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        try_mut(request, "request")?.options.queue_only = queue_only;
        Ok(())
    })
}

/// A token that cancels the requests made with it, from any thread: a blocking
/// inferkit_request_run as well as submitted requests. Made with inferkit_cancel_token_new,
/// released with inferkit_cancel_token_free. Thread-safe.
pub struct inferkit_cancel_token {
    _opaque: Opaque,
}

impl Castable for inferkit_cancel_token {
    type Ownership = OwnershipBox;
    type RustType = CancelToken;
}

/// \brief Makes a cancel token, not cancelled.
///
/// Give it to requests with inferkit_request_set_cancel_token. Cancelling it
/// (inferkit_cancel_token_cancel) withdraws each of their runs or submissions that no session
/// has taken yet and stops each that runs alone on a session, on the calling thread of
/// inferkit_request_run or another; they fail with INFERKIT_STATUS_CANCELLED. A run in a batch
/// with other requests finishes. Once cancelled it stays cancelled: inferkit_request_run of a
/// request that carries it returns INFERKIT_STATUS_CANCELLED at once, and
/// inferkit_request_submit accepts the request and calls its callback with
/// INFERKIT_STATUS_CANCELLED. Like Go's context.Context: one token per operation to cancel.
///
/// \param token_out Receives the token.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*token_out` and releases it with inferkit_cancel_token_free.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_cancel_token_new(
    token_out: *mut *mut inferkit_cancel_token,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let token_out = out(token_out, "token_out")?;
        give_box(token_out, CancelToken::new());
        Ok(())
    })
}

/// \brief Cancels every request made with the token that is not done, and every one made with it
/// from now on.
///
/// A withdrawn submission's callback runs on this thread before this returns; a stopped run
/// answers on the thread that ran it. Calling it again does nothing more.
///
/// \param token A token, or NULL (nothing happens).
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe: meant to be called from another thread than the runs it cancels.
#[no_mangle]
pub extern "C" fn inferkit_cancel_token_cancel(token: *const inferkit_cancel_token) {
    guard_value((), || {
        if let Ok(t) = try_ref(token, "token") {
            t.cancel();
        }
    })
}

/// \brief Whether inferkit_cancel_token_cancel was called on the token.
///
/// \param token A token, or NULL.
/// \return True when cancelled; false otherwise and for NULL.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_cancel_token_is_cancelled(token: *const inferkit_cancel_token) -> bool {
    guard_value(false, || {
        try_ref(token, "token").is_ok_and(CancelToken::is_cancelled)
    })
}

/// \brief Releases the caller's token.
///
/// Requests that carry it, and runs in progress, keep their own reference, so it may be freed
/// while they run; it does not cancel them, and nothing can cancel them through it any more.
///
/// \param token A token from inferkit_cancel_token_new, or NULL (nothing happens).
///
/// Ownership: takes `token` back from the caller; release it once.
/// Thread safety: must not race with other calls on the same handle.
#[no_mangle]
pub extern "C" fn inferkit_cancel_token_free(token: *mut inferkit_cancel_token) {
    guard_value((), || free_box(token))
}

/// \brief Gives the request a cancel token: cancelling the token cancels each run or submission of
/// the request made from then on, until the token is replaced or removed.
///
/// \param request The request.
/// \param token A token (the request keeps its own reference), or NULL to remove it.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: nothing is handed out; `token` may be freed at once.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_cancel_token(
    request: *mut inferkit_request,
    token: *const inferkit_cancel_token,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        r.options.cancel = if token.is_null() {
            None
        } else {
            Some(try_ref(token, "token")?.clone())
        };
        Ok(())
    })
}

/// The `Instant` of a reading of the platform's monotonic clock in nanoseconds (CLOCK_MONOTONIC;
/// QueryPerformanceCounter on Windows): the distance from now on that clock, added to `Instant::now()` (the two clocks need not be the same one; only their rates
/// must agree, which holds while the machine is awake).
fn instant_of_monotonic_ns(deadline_ns: u64) -> Result<Instant> {
    let now_ns = crate::platform::monotonic_ns().ok_or_else(|| Error::Unsupported {
        what: "absolute deadlines on this platform (no monotonic clock shared with C); use \
               inferkit_request_set_timeout_us"
            .into(),
        feature: None,
    })?;
    let now = Instant::now();
    Ok(if deadline_ns >= now_ns {
        now + Duration::from_nanos(deadline_ns - now_ns)
    } else {
        now.checked_sub(Duration::from_nanos(now_ns - deadline_ns))
            .unwrap_or(now)
    })
}

/// \brief Sets an absolute deadline on the platform's monotonic clock: CLOCK_MONOTONIC (as
/// clock_gettime gives it) on Linux, Android, macOS and iOS; on Windows QueryPerformanceCounter
/// in nanoseconds (count × 10⁹ / QueryPerformanceFrequency, as std::chrono::steady_clock reads it).
///
/// A request that has not started by then is not run; one that runs past it alone is stopped.
/// Either way it fails with INFERKIT_STATUS_DEADLINE_EXCEEDED. With a timeout too, the earlier
/// of the two applies.
///
/// \param request The request.
/// \param deadline_ns Nanoseconds on that clock; 0 removes the deadline.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_NULL_ARGUMENT, or INFERKIT_STATUS_UNSUPPORTED on
///         a platform without such a clock (WebAssembly; use inferkit_request_set_timeout_us
///         there).
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_deadline_ns(
    request: *mut inferkit_request,
    deadline_ns: u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        r.options.deadline = if deadline_ns == 0 {
            None
        } else {
            Some(instant_of_monotonic_ns(deadline_ns)?)
        };
        Ok(())
    })
}

/// \brief Asks for only some outputs, in the order named; ONNX Runtime skips the work only the
/// others need.
///
/// An unknown name is INFERKIT_STATUS_UNKNOWN_OUTPUT when the request runs.
///
/// \param request The request.
/// \param names `count` NUL-terminated output names.
/// \param count Number of names; 0 asks for every output, in signature order.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the names are copied.
/// Thread safety: not thread-safe for `request`; use it from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_request_set_outputs(
    request: *mut inferkit_request,
    names: *const *const c_char,
    count: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_mut(request, "request")?;
        let names = c_slice(names, count, "names")?
            .iter()
            .map(|p| c_str(*p, "names").map(str::to_string))
            .collect::<Result<Vec<_>>>()?;
        r.options.outputs = (!names.is_empty()).then_some(names);
        Ok(())
    })
}

/// \brief Runs the request and blocks until its outputs are ready.
///
/// To bound a wait, give the request a timeout or deadline; to cancel it from another thread, a
/// cancel token (inferkit_request_set_cancel_token), which also stops a run on this thread.
///
/// The inputs are checked against the model's signature first: a request that does not fit fails
/// with the matching status (UNKNOWN_INPUT, MISSING_INPUT, DTYPE_MISMATCH, RANK_MISMATCH,
/// DIM_MISMATCH, BYTE_LENGTH_MISMATCH, TYPE_MISMATCH, …) before ONNX Runtime sees it. With a
/// session idle the model runs on this thread on the caller's memory (ahead of queued requests,
/// unless the model batches long runs); otherwise the request joins a batch. On a model whose
/// runs take microseconds, a caller that finds every session taken first yields its CPU a few
/// times, in case a holder waits for it to finish its run. Called from a
/// callback of the same model it returns INFERKIT_STATUS_WOULD_DEADLOCK (submit instead).
///
/// \param request The request; it may be run again afterwards.
/// \param outputs_out Receives the outputs: every output in signature order, or those asked for
///        with inferkit_request_set_outputs, and classes when the model's pipeline ends with
///        `top_k`.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or the status of what failed.
///
/// Ownership: the caller owns `*outputs_out` and releases it with inferkit_outputs_free.
/// Thread safety: thread-safe: several threads may run one request at once, as long as none
/// changes it meanwhile.
#[no_mangle]
pub extern "C" fn inferkit_request_run(
    request: *const inferkit_request,
    outputs_out: *mut *mut inferkit_outputs,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_ref(request, "request")?;
        let outputs_out = out(outputs_out, "outputs_out")?;
        // The request holds its model; cloning the `Arc` keeps it for the call even if a callback
        // run by this call frees the request's last owner of it.
        let model = r.model.clone();
        let name = model.shared_name();
        let outputs = match &r.pipeline {
            Some(p) => new_pipeline_outputs(
                name,
                model.infer_pipeline_with(pipeline_input(p)?, &r.options)?,
            ),
            None => new_outputs(name, model.infer_inputs(&r.views(), &r.options)?),
        };
        write_opt(outputs_out, outputs);
        Ok(())
    })
}

/// The request's pipeline input as the model takes it.
fn pipeline_input(p: &PipelineData) -> Result<PipelineInput<'_>> {
    Ok(match p {
        PipelineData::Tensor(t) => PipelineInput::Tensor(t.clone()),
        PipelineData::Image {
            pixels,
            format,
            width,
            height,
            stride,
        } => PipelineInput::Image(ImageView::new(pixels, *format, *width, *height, *stride)?),
        PipelineData::Encoded(b) => PipelineInput::Encoded(b),
        PipelineData::Text(t) => PipelineInput::Text(t),
        PipelineData::Tokens(ids) => PipelineInput::Tokens(ids),
    })
}

/// Receives the result of a submitted request.
///
/// Called exactly once per accepted submission, with `userdata` as given. On success `status` is
/// INFERKIT_STATUS_OK, `outputs` is not NULL and `error` is NULL; on failure `outputs` is NULL
/// and `error` describes it. The callee owns both and releases them with inferkit_outputs_free and
/// inferkit_error_free (now or later, on any thread).
///
/// It runs on the thread that completes the request: the submitting thread, before
/// inferkit_request_submit returns, when a session was idle; the thread calling
/// inferkit_pending_cancel, before it returns, for a withdrawn request; otherwise a thread that is
/// running other requests of the same model: an application thread inside an inferkit call, or
/// one of inferkit's helper threads (always for queue-only requests, see
/// inferkit_request_set_queue_only). It must return promptly, must not block on other
/// requests of the same model (a blocking run on that model from here returns
/// INFERKIT_STATUS_WOULD_DEADLOCK; submit instead), and must not unwind (throw) through inferkit.
/// inferkit never reads through `userdata`: any pointer-sized value will do (a handle number, as
/// Go's cgo.Handle).
pub type inferkit_callback = Option<
    extern "C" fn(
        userdata: *mut c_void,
        status: ErrorCode,
        outputs: *mut inferkit_outputs,
        error: *mut inferkit_error,
    ),
>;

/// A submitted request, to cancel it or ask whether it is done. Thread-safe.
pub struct inferkit_pending {
    _opaque: Opaque,
}

impl Castable for inferkit_pending {
    type Ownership = OwnershipBox;
    type RustType = RequestHandle;
}

struct Userdata(*mut c_void);
// SAFETY: the caller is told (inferkit_callback) that the callback and its userdata may be used
// from another thread.
unsafe impl Send for Userdata {}

/// Calls the C callback with a result.
fn deliver<T>(
    callback: extern "C" fn(*mut c_void, ErrorCode, *mut inferkit_outputs, *mut inferkit_error),
    userdata: Userdata,
    result: Result<T>,
    outputs: impl FnOnce(&Arc<str>, T) -> *mut inferkit_outputs,
    model: &Arc<str>,
) {
    match result {
        Ok(v) => callback(
            userdata.0,
            ErrorCode::Ok,
            outputs(model, v),
            std::ptr::null_mut(),
        ),
        Err(e) => callback(
            userdata.0,
            e.code(),
            std::ptr::null_mut(),
            error::new(e.code(), e.to_string()),
        ),
    }
}

/// \brief Submits the request: it is queued, or run on this thread when a session is idle.
///
/// A thread that finds a session idle runs its own request there, with the requests queued before
/// it, the rest of its own batch and at most one batch and one request more of others' work (with their callbacks); what is
/// still queued then goes to inferkit's helper threads. Under a timed batching policy it may also
/// wait up to max_queue_delay_us for a fuller batch. inferkit_request_run does the same.
///
/// The request's inputs are copied, so it may be changed, run again or freed as soon as this
/// returns. Failures found at submission (NULL arguments, inputs that do not fit the signature,
/// unknown outputs, a pipeline's pre steps, INFERKIT_STATUS_QUEUE_FULL) are returned here, and the
/// callback is then not called. Everything after acceptance goes to the callback, a deadline
/// already passed included (INFERKIT_STATUS_DEADLINE_EXCEEDED, on this thread). A pipeline
/// request runs its pre steps on this thread and its post steps before the callback.
///
/// \param request The request.
/// \param callback Receives the result; see inferkit_callback. Must not be NULL.
/// \param userdata Passed to `callback` as is.
/// \param pending_out Receives a handle to cancel the request or ask whether it is done; may be
///        NULL when not wanted.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK when the request was accepted (its result goes to the callback), or
///         the status of what refused it.
///
/// Ownership: the caller owns `*pending_out` and releases it with inferkit_pending_free; the
/// callback owns what it is given.
/// Thread safety: thread-safe: several threads may submit one request at once, as long as none
/// changes it meanwhile.
#[no_mangle]
pub extern "C" fn inferkit_request_submit(
    request: *const inferkit_request,
    callback: inferkit_callback,
    userdata: *mut c_void,
    pending_out: *mut *mut inferkit_pending,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_ref(request, "request")?;
        let Some(callback) = callback else {
            return Err(Error::NullArgument { name: "callback" });
        };
        let model = r.model.clone();
        let userdata = Userdata(userdata);
        let name = model.shared_name().clone();
        let handle = match &r.pipeline {
            Some(p) => model.submit_pipeline_with_callback(
                pipeline_input(p)?,
                &r.options,
                move |result| deliver(callback, userdata, result, new_pipeline_outputs, &name),
            )?,
            None => model.submit_with_callback(r.to_owned_values(), &r.options, move |result| {
                deliver(callback, userdata, result, new_outputs, &name)
            })?,
        };
        give_box(pending_out, handle);
        Ok(())
    })
}

/// \brief Withdraws a submitted request, or stops its run.
///
/// A request no session has taken yet is withdrawn: its callback gets
/// INFERKIT_STATUS_CANCELLED on this thread before this returns. A request a session has taken
/// but not started (a timed policy waiting for a fuller batch) is not run, and a request running
/// alone on a session has its run stopped; either way its callback gets
/// INFERKIT_STATUS_CANCELLED on the session's thread.
///
/// \param pending A submitted request, or NULL.
/// \return True when the request was withdrawn, kept from running or its run stopped; false
///         when it is done, runs in a batch with other requests, or `pending` is NULL.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_pending_cancel(pending: *const inferkit_pending) -> bool {
    guard_value(false, || {
        try_ref(pending, "pending").is_ok_and(|p| p.cancel())
    })
}

/// \brief Whether a submitted request's callback has been called (or is being called).
///
/// \param pending A submitted request, or NULL.
/// \return True when done; false otherwise and for NULL.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_pending_is_done(pending: *const inferkit_pending) -> bool {
    guard_value(false, || {
        try_ref(pending, "pending").is_ok_and(|p| p.is_done())
    })
}

/// \brief Releases the handle of a submitted request; the request itself goes on.
///
/// \param pending A handle from inferkit_request_submit, or NULL (nothing happens).
///
/// Ownership: takes `pending` back from the caller; release it once.
/// Thread safety: must not race with other calls on the same handle.
#[no_mangle]
pub extern "C" fn inferkit_pending_free(pending: *mut inferkit_pending) {
    guard_value((), || free_box(pending))
}

/// Platforms with a monotonic clock a C caller shares (not WebAssembly).
#[cfg(all(test, any(unix, windows)))]
mod tests {
    use super::instant_of_monotonic_ns;
    use std::time::{Duration, Instant};

    /// The platform's monotonic clock in nanoseconds, read here independently of
    /// `platform::monotonic_ns`, as a C caller reads it.
    #[cfg(unix)]
    fn c_callers_clock_ns() -> u64 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: a valid out-pointer.
        assert_eq!(
            unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) },
            0
        );
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }

    #[cfg(windows)]
    fn c_callers_clock_ns() -> u64 {
        use windows_sys::Win32::System::Performance::{
            QueryPerformanceCounter, QueryPerformanceFrequency,
        };
        let (mut count, mut frequency) = (0i64, 0i64);
        // SAFETY: valid out-pointers.
        unsafe {
            assert_ne!(QueryPerformanceFrequency(&mut frequency), 0);
            assert_ne!(QueryPerformanceCounter(&mut count), 0);
        }
        (count as u128 * 1_000_000_000 / frequency as u128) as u64
    }

    /// A C caller's absolute deadline, 200 ms ahead of or behind its clock, lands 200 ms ahead of
    /// or behind now on inferkit's clock, on every platform with such a clock (Windows included:
    /// it answered UNSUPPORTED before QueryPerformanceCounter was read).
    #[test]
    fn an_absolute_deadline_is_read_on_the_c_callers_monotonic_clock() {
        let offset = Duration::from_millis(200);
        let slack = Duration::from_millis(50);
        for ahead in [true, false] {
            let now_ns = c_callers_clock_ns();
            let deadline_ns = if ahead {
                now_ns + offset.as_nanos() as u64
            } else {
                now_ns - offset.as_nanos() as u64
            };
            let now = Instant::now();
            let at = instant_of_monotonic_ns(deadline_ns).expect("a monotonic clock");
            let expected = if ahead { now + offset } else { now - offset };
            let off_by = if at > expected {
                at - expected
            } else {
                expected - at
            };
            assert!(
                off_by < slack,
                "a deadline {} ms {} the C clock is {off_by:?} away from where it should be",
                offset.as_millis(),
                if ahead { "ahead of" } else { "behind" }
            );
        }
    }
}
