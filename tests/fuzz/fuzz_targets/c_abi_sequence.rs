//! The bytes are a small program of C ABI calls: opening fixture models with fuzzed options,
//! making requests on them and giving them inputs with fuzzed names, dtypes, dims and byte lengths
//! (borrowed, copied, strings, values of every kind: string tensors, sequences, maps, optionals,
//! nested, with NULLs), or one pipeline input (pixels, encoded images, text, token ids, a raw
//! tensor), mixing the two (which a request refuses), clearing them, setting options (timeouts,
//! deadlines, outputs wanted), running requests, submitting them with callbacks that check and
//! record their results (some of which submit again from inside the callback, or close a handle to
//! the model, possibly its last), cancelling them through their pending handles, cloning and
//! closing models, and freeing everything in a fuzzed order, optionally while another thread runs
//! requests on the same model.
//!
//! The harness plays a correct host: it never passes a dangling or foreign handle and keeps
//! borrowed input bytes alive until the run that uses them returns. NULL pointers, wrong lengths,
//! unknown enum values, non-UTF-8 strings and out-of-range indices are all fair game.
//!
//! Besides crashes, it checks the contracts the header states and panics (a finding) when one
//! breaks: a caught panic (INFERKIT_STATUS_PANIC), an error object whose code is not the status
//! returned, a failure without an error object when one was asked for, an out-parameter written on
//! failure or left unwritten on success, a callback called twice, called for a request that was
//! refused, never called for an accepted one, or called with a status that disagrees with its
//! outputs and error; a request that takes both tensors and a pipeline input, refuses valid
//! arguments, or runs past a deadline that had already passed; a request whose run succeeded but
//! whose submission (unchanged) is refused for another reason than a full queue; a cancelled
//! request whose callback hears anything but INFERKIT_STATUS_CANCELLED.
#![no_main]

mod common;

use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{trace, Reader};
use inferkit::ffi::error::{
    inferkit_error_code, inferkit_error_free, inferkit_error_message, inferkit_string_free,
};
use inferkit::ffi::inferkit_error;
use inferkit::ffi::model::*;
use inferkit::ffi::options::*;
use inferkit::ffi::outputs::*;
use inferkit::ffi::request::*;
use inferkit::ffi::value::*;
use inferkit::{DType, ErrorCode};
use libfuzzer_sys::fuzz_target;

/// Models the program may open: small fixtures of every kind, broken files, and paths that are not
/// models at all, and `slow.onnx`, which with many rows keeps a session busy long enough for requests
/// to queue behind it. (`mlp_large.onnx` is left out: too slow to load per execution.)
const FIXTURES: &[&str] = &[
    "mlp.onnx",
    "two_io.onnx",
    "identity_all.onnx",
    "int_bool.onnx",
    "f16.onnx",
    "gather.onnx",
    "sequence.onnx",
    "tiny_cnn.onnx",
    "tiny_text.onnx",
    "image224_f32.onnx",
    "mlp_v2.onnx",
    "empty.onnx",
    "corrupt.onnx",
    "truncated.onnx",
    "no_such_model.onnx",
    "", // the fixtures directory itself
    "slow.onnx",
    "values/seq_len.onnx",
    "values/seq_split.onnx",
    "values/strings.onnx",
    "values/zipmap.onnx",
    "values/dict_in.onnx",
    "values/optional.onnx",
    "values/two_bit.onnx",
];

/// Pipeline bodies the program may set (the `[pipeline]` table, as config.toml has it).
const PIPELINES: &[&str] = &[
    "pre = [ { op = \"add_batch_dim\" } ]\npost = [ { op = \"softmax\" }, { op = \"top_k\", k = 3 } ]",
    "image = [ { op = \"resize\", width = 8, height = 8 } ]\npre = [ { op = \"scale\", factor = 0.00392157 }, { op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]\npost = [ { op = \"top_k\", k = 2 } ]",
    "image = [ { op = \"resize\", width = 8, height = 8, fit = \"letterbox\", pad = 114 }, { op = \"swap_channels\" } ]\npre = [ { op = \"scale\", factor = 0.0039 }, { op = \"normalize\", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225] }, { op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]\npost = [ { op = \"sigmoid\" }, { op = \"argmax\" } ]",
    "image = [ { op = \"resize\", width = 9, height = 9, fit = \"shorter_side\", filter = \"nearest\" }, { op = \"crop\", x = 1, y = 1, width = 8, height = 8 } ]\npre = [ { op = \"standardize\" }, { op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]",
    "sequence = { max_length = 6, pad_id = 0 }",
    "pre = [ { op = \"reshape\", shape = [1, -1] }, { op = \"clip\", min = -1.0, max = 1.0 } ]\npost = [ { op = \"dequantize\", scale = 0.5, zero_point = 1.0 } ]",
    "pre = [ { op = \"cast\", to = \"f16\" }, { op = \"add_batch_dim\" } ]",
    "input = \"nope\"",
    "post = [ { op = \"top_k\", k = 0 } ]",
];

/// Dims the program may use: ordinary sizes, zero, and values meant to overflow.
const DIMS: &[i64] = &[
    1,
    2,
    3,
    4,
    8,
    16,
    0,
    -1,
    224,
    1 << 31,
    1 << 32,
    i64::MAX,
    i64::MIN,
    (1 << 62) + 1,
];

/// The most bytes one input may take (keeps memory bounded; larger requests get short data).
const MAX_DATA: usize = 1 << 20;

/// Raw pointers handed to callbacks and threads; the harness guarantees their lifetimes.
struct Ptr<T>(*mut T);
impl<T> Clone for Ptr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Ptr<T> {}
// SAFETY: inferkit documents models, outputs, errors, pending handles and (for runs and
// submissions) requests as usable from any thread; the harness never changes a request, or uses
// options, from two threads at once.
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}

/// What every callback reports to; lives until every accepted request has been answered.
#[derive(Default)]
struct Recorder {
    /// Results kept by callbacks for the program to read and free later.
    stash: Mutex<Vec<(Ptr<inferkit_outputs>, Ptr<inferkit_error>)>>,
    /// Requests submitted from callbacks, threads and checks (leaf callbacks), accepted and
    /// answered.
    leaf_accepted: AtomicUsize,
    leaf_called: AtomicUsize,
}

/// One submission by the program, with its own userdata.
struct Slot {
    rec: Arc<Recorder>,
    /// Set once `inferkit_request_submit` has returned, with what it returned.
    submitted: AtomicBool,
    accepted: AtomicBool,
    calls: AtomicU32,
    finished: AtomicBool,
    /// The status the callback was given.
    status: AtomicU32,
    /// `inferkit_pending_cancel` returned true for it: the callback must hear CANCELLED.
    cancelled: AtomicBool,
    /// Keep the result for later (true) or free it in the callback.
    stash: bool,
    /// A request the slot owns, submitted once more from inside the callback.
    resubmit: Option<Ptr<inferkit_request>>,
    /// A model handle the callback closes (NULL: none): a clone only this submission knows, or a
    /// handle the program gave up, sometimes the last one to the model.
    release: AtomicPtr<inferkit_model>,
}

/// What the program knows of one of its requests, from the calls on it that returned OK.
struct Req {
    h: *mut inferkit_request,
    /// It carries tensors or values.
    tensors: bool,
    /// It carries a pipeline input.
    pipeline: bool,
    /// Its deadline has certainly passed (it stays passed until the deadline is changed).
    expired: bool,
}

/// Reads every byte of an outputs object (classes too), and asks for out-of-range and unknown
/// things.
fn touch_outputs(o: *const inferkit_outputs) {
    let n = inferkit_outputs_count(o);
    let mut sum = 0u64;
    for i in 0..=n {
        let value = inferkit_outputs_value(o, i);
        assert_eq!(value.is_null(), i == n || o.is_null(), "outputs_value({i}) of {n}");
        if !value.is_null() {
            sum = sum.wrapping_add(touch_value(value, 0));
        }
        // Numeric tensors (packed ones too) are also read directly; other kinds are refused.
        let numeric = !value.is_null()
            && inferkit_value_get_kind(value) == 1
            && tensor_dtype(inferkit_value_tensor(value)) != DType::String as u32;
        let (mut name, mut dtype, mut shape, mut rank, mut data, mut len) = (
            std::ptr::null(),
            0u32,
            std::ptr::null(),
            0usize,
            std::ptr::null(),
            0usize,
        );
        let mut err = std::ptr::null_mut();
        let code = inferkit_outputs_get(
            o, i, &mut name, &mut dtype, &mut shape, &mut rank, &mut data, &mut len, &mut err,
        );
        check(code, &mut err, true);
        if code != ErrorCode::Ok {
            assert!(
                i == n || o.is_null() || (!numeric && code == ErrorCode::TypeMismatch),
                "outputs_get({i}) of {n} failed: {code:?}"
            );
            continue;
        }
        assert!(i < n && numeric, "outputs_get({i}) succeeded ({n} outputs, numeric {numeric})");
        let bits = DType::from_u32(dtype).map_or(0, DType::bits);
        assert!(bits > 0, "output dtype {dtype}");
        // SAFETY: inferkit promises `rank` dims at `shape` and `len` bytes at `data`.
        unsafe {
            let dims = std::slice::from_raw_parts(shape, rank);
            let elems = dims.iter().try_fold(1i64, |a, d| a.checked_mul(*d));
            assert_eq!(
                elems.map(|e| (e as usize * bits).div_ceil(8)),
                Some(len),
                "output {i}: shape {dims:?} of dtype {dtype} vs {len} bytes"
            );
            if len > 0 {
                let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
                sum = bytes.iter().fold(sum, |s, b| s.wrapping_add(*b as u64));
            }
            let mut index = usize::MAX;
            let mut err = std::ptr::null_mut();
            let code = inferkit_outputs_find(o, name, &mut index, &mut err);
            check(code, &mut err, true);
            assert_eq!(code, ErrorCode::Ok, "outputs_find of a name it gave");
            assert!(index < n);
            let _ = CStr::from_ptr(name).to_bytes().len();
        }
    }
    let mut index = 7usize;
    let mut err = std::ptr::null_mut();
    let code = inferkit_outputs_find(o, c"no such output".as_ptr(), &mut index, &mut err);
    check(code, &mut err, true);
    assert_ne!(code, ErrorCode::Ok);
    assert_eq!(index, 7, "out-parameter written on failure");
    // Classes: rows of a pipeline that ends with top_k, none otherwise.
    let rows = inferkit_outputs_class_rows(o);
    for row in 0..=rows {
        let k = inferkit_outputs_class_count(o, row);
        assert!(row < rows || k == 0, "{k} classes in row {row} of {rows}");
        for rank in 0..=k {
            let (mut index, mut label, mut score) = (usize::MAX, std::ptr::null(), f32::NAN);
            let mut err = std::ptr::null_mut();
            let code = inferkit_outputs_class(
                o, row, rank, &mut index, &mut label, &mut score, &mut err,
            );
            check(code, &mut err, true);
            assert_eq!(
                code == ErrorCode::Ok,
                row < rows && rank < k,
                "class {row}/{rank} of {rows} rows, {k} classes"
            );
            if code != ErrorCode::Ok {
                assert!(
                    index == usize::MAX && label.is_null() && score.is_nan(),
                    "class out-parameters written on failure"
                );
                continue;
            }
            if !label.is_null() {
                // SAFETY: a NUL-terminated label owned by the outputs.
                let _ = unsafe { CStr::from_ptr(label) }.to_bytes().len();
            }
            sum = sum.wrapping_add(index as u64);
        }
    }
    std::hint::black_box(sum);
}

fn tensor_dtype(t: *const inferkit_tensor) -> u32 {
    let mut dtype = 0u32;
    let mut err = std::ptr::null_mut();
    let code = inferkit_tensor_read(
        t,
        &mut dtype,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        &mut err,
    );
    check(code, &mut err, true);
    dtype
}

/// Reads a whole value, checking what the header promises of each kind; returns a checksum.
fn touch_value(v: *const inferkit_value, depth: usize) -> u64 {
    assert!(depth < 20, "values nest deeper than any signature");
    let count = inferkit_value_count(v);
    match inferkit_value_get_kind(v) {
        1 => {
            assert_eq!(count, 0, "a tensor has no items");
            let t = inferkit_value_tensor(v);
            assert!(!t.is_null(), "a tensor value without a tensor");
            touch_tensor(t)
        }
        2 => {
            let mut sum = 0u64;
            for i in 0..=count {
                let item = inferkit_value_item(v, i);
                assert_eq!(item.is_null(), i == count, "sequence item {i} of {count}");
                if !item.is_null() {
                    sum = sum.wrapping_add(touch_value(item, depth + 1));
                }
            }
            sum
        }
        3 => {
            let keys = inferkit_value_map_tensor(v, false);
            let values = inferkit_value_map_tensor(v, true);
            assert!(!keys.is_null() && !values.is_null(), "a map without keys or values");
            touch_tensor(keys).wrapping_add(touch_tensor(values))
        }
        6 => {
            assert!(count <= 1, "an optional holds at most one value");
            let inner = inferkit_value_item(v, 0);
            assert_eq!(inner.is_null(), count == 0, "optional item");
            if inner.is_null() {
                0
            } else {
                touch_value(inner, depth + 1)
            }
        }
        other => panic!("value kind {other}"),
    }
}

fn touch_tensor(t: *const inferkit_tensor) -> u64 {
    let (mut dtype, mut dims, mut rank, mut n, mut data, mut len) = (
        0u32,
        std::ptr::null(),
        0usize,
        0usize,
        std::ptr::null(),
        0usize,
    );
    let mut err = std::ptr::null_mut();
    let code = inferkit_tensor_read(
        t, &mut dtype, &mut dims, &mut rank, &mut n, &mut data, &mut len, &mut err,
    );
    check(code, &mut err, true);
    assert_eq!(code, ErrorCode::Ok, "tensor_read of a live tensor");
    // SAFETY: inferkit promises `rank` dims at `dims` and `len` bytes at `data`.
    let dims = unsafe { std::slice::from_raw_parts(dims, rank) };
    assert_eq!(dims.iter().product::<usize>(), n, "element count");
    let mut sum = 0u64;
    if dtype == DType::String as u32 {
        let mut total = 0usize;
        for i in 0..=n {
            let (mut p, mut l) = (std::ptr::null(), 0usize);
            let mut err = std::ptr::null_mut();
            let code = inferkit_tensor_string(t, i, &mut p, &mut l, &mut err);
            check(code, &mut err, true);
            assert_eq!(code == ErrorCode::Ok, i < n, "string {i} of {n}");
            total += l;
        }
        assert_eq!(total, len, "strings end to end");
    } else {
        let bits = DType::from_u32(dtype).map_or(0, DType::bits);
        assert!(bits > 0, "tensor dtype {dtype}");
        assert_eq!((n * bits).div_ceil(8), len, "bytes of {n} elements of dtype {dtype}");
    }
    if len > 0 {
        // SAFETY: as above.
        let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
        sum = bytes.iter().fold(sum, |s, b| s.wrapping_add(*b as u64));
    }
    sum
}

/// The message of a live error, or "" for NULL.
fn message(err: *const inferkit_error) -> String {
    if err.is_null() {
        return String::new();
    }
    // SAFETY: a live error from inferkit; its message is a NUL-terminated string.
    unsafe { CStr::from_ptr(inferkit_error_message(err)) }
        .to_string_lossy()
        .into_owned()
}

/// Checks the status/error contract and frees the error.
fn check(code: ErrorCode, err: &mut *mut inferkit_error, asked: bool) {
    if code == ErrorCode::Panic {
        panic!("inferkit caught a panic at the C boundary: {}", message(*err));
    }
    if code == ErrorCode::Ok {
        assert!(err.is_null(), "an error object written on success");
        return;
    }
    if !asked {
        return;
    }
    assert!(!err.is_null(), "{code:?} without an error object");
    assert_eq!(inferkit_error_code(*err), code, "error object's code");
    // SAFETY: a live error from inferkit; its message is a NUL-terminated string.
    let msg = unsafe { CStr::from_ptr(inferkit_error_message(*err)) };
    assert!(msg.to_str().is_ok(), "error message is not UTF-8");
    inferkit_error_free(*err);
    *err = std::ptr::null_mut();
}

/// Runs one fallible call, with `error_out` NULL or not as the program says; returns its status
/// and its error's message ("" when none was asked for).
fn call_msg(
    r: &mut Reader,
    f: impl FnOnce(*mut *mut inferkit_error) -> ErrorCode,
) -> (ErrorCode, String) {
    let asked = r.u8() % 8 != 0;
    let mut err = std::ptr::null_mut();
    let code = f(if asked {
        &mut err
    } else {
        std::ptr::null_mut()
    });
    let msg = message(err);
    if trace() {
        eprintln!("    -> {code:?} {msg}");
    }
    check(code, &mut err, asked);
    (code, msg)
}

/// [`call_msg`] without the message.
fn call(r: &mut Reader, f: impl FnOnce(*mut *mut inferkit_error) -> ErrorCode) -> ErrorCode {
    call_msg(r, f).0
}

/// A call whose error the harness always asks for (no program byte).
fn call_quiet(f: impl FnOnce(*mut *mut inferkit_error) -> ErrorCode) -> ErrorCode {
    let mut err = std::ptr::null_mut();
    let code = f(&mut err);
    if trace() {
        eprintln!("    -> {code:?} {}", message(err));
    }
    check(code, &mut err, true);
    code
}

/// Handles of one kind; the program refers to them by index, and an index past the end is NULL.
struct Handles<T>(Vec<*mut T>);

impl<T> Handles<T> {
    fn pick(&self, r: &mut Reader) -> *mut T {
        let i = r.u8() as usize % (self.0.len() + 1);
        self.0.get(i).copied().unwrap_or(std::ptr::null_mut())
    }
    /// Removes a handle to free it (or NULL, which every free accepts).
    fn take(&mut self, r: &mut Reader) -> *mut T {
        let i = r.u8() as usize % (self.0.len() + 1);
        if i < self.0.len() {
            self.0.swap_remove(i)
        } else {
            std::ptr::null_mut()
        }
    }
    /// Gives up one handle equal to `p`. (inferkit_model_clone may return the pointer it was given:
    /// every entry is one handle, one close, even when the pointers are equal.)
    fn remove_one(&mut self, p: *mut T) {
        if let Some(i) = self.0.iter().position(|h| *h == p) {
            self.0.swap_remove(i);
        }
    }
    fn push(&mut self, p: *mut T) {
        assert!(!p.is_null(), "a NULL handle returned on success");
        self.0.push(p);
    }
}

impl<T> Default for Handles<T> {
    fn default() -> Self {
        Handles(Vec::new())
    }
}

extern "C" fn on_slot(
    userdata: *mut c_void,
    status: ErrorCode,
    outputs: *mut inferkit_outputs,
    error: *mut inferkit_error,
) {
    // SAFETY: userdata is a `Slot` the program keeps until every callback has finished.
    let slot = unsafe { &*(userdata as *const Slot) };
    if trace() {
        eprintln!(
            "    callback: {status:?} on {:?}",
            std::thread::current().id()
        );
    }
    assert_eq!(
        slot.calls.fetch_add(1, Ordering::SeqCst),
        0,
        "callback called twice"
    );
    if slot.submitted.load(Ordering::SeqCst) {
        assert!(
            slot.accepted.load(Ordering::SeqCst),
            "callback called for a refused request"
        );
    }
    slot.status.store(status as u32, Ordering::SeqCst);
    answer(&slot.rec, status, outputs, error, slot.stash);
    if let Some(request) = slot.resubmit {
        let mut err = std::ptr::null_mut();
        let rec = Arc::as_ptr(&slot.rec) as *mut c_void;
        let code = inferkit_request_submit(
            request.0,
            Some(on_leaf),
            rec,
            std::ptr::null_mut(),
            &mut err,
        );
        check(code, &mut err, true);
        if code == ErrorCode::Ok {
            slot.rec.leaf_accepted.fetch_add(1, Ordering::SeqCst);
        }
    }
    inferkit_model_close(slot.release.swap(std::ptr::null_mut(), Ordering::SeqCst));
    slot.finished.store(true, Ordering::SeqCst);
}

extern "C" fn on_leaf(
    userdata: *mut c_void,
    status: ErrorCode,
    outputs: *mut inferkit_outputs,
    error: *mut inferkit_error,
) {
    // SAFETY: userdata is the program's `Recorder`, kept until every leaf callback has run.
    let rec = unsafe { &*(userdata as *const Recorder) };
    answer(rec, status, outputs, error, false);
    rec.leaf_called.fetch_add(1, Ordering::SeqCst);
}

/// Checks a callback's arguments, reads the outputs, and frees or stashes them.
fn answer(
    rec: &Recorder,
    status: ErrorCode,
    outputs: *mut inferkit_outputs,
    error: *mut inferkit_error,
    stash: bool,
) {
    assert_ne!(
        status,
        ErrorCode::Panic,
        "a callback told of a caught panic: {}",
        message(error)
    );
    if status == ErrorCode::Ok {
        assert!(
            !outputs.is_null() && error.is_null(),
            "OK with {outputs:?}, {error:?}"
        );
        touch_outputs(outputs);
    } else {
        assert!(
            outputs.is_null() && !error.is_null(),
            "{status:?} with {outputs:?}, {error:?}"
        );
        assert_eq!(inferkit_error_code(error), status);
    }
    if stash {
        rec.stash
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((Ptr(outputs), Ptr(error)));
    } else {
        inferkit_outputs_free(outputs);
        inferkit_error_free(error);
    }
}

/// Paths of the fixtures, as C strings, and one that is not UTF-8.
fn paths() -> &'static Vec<CString> {
    static PATHS: OnceLock<Vec<CString>> = OnceLock::new();
    PATHS.get_or_init(|| {
        let mut v: Vec<CString> = FIXTURES
            .iter()
            .map(|f| {
                let p = common::fixture(f);
                CString::new(p.to_string_lossy().into_owned()).expect("no NUL in paths")
            })
            .collect();
        v.push(CString::new(b"tests/fixtures/\xff\xfe.onnx".to_vec()).expect("no NUL"));
        v
    })
}

/// A C string the program chooses: NULL, a name of a model's tensor, or fuzzed bytes.
struct Name {
    owned: Option<CString>,
}

impl Name {
    fn ptr(&self) -> *const c_char {
        self.owned.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
    }
    /// Not NULL, and UTF-8: what a call taking a name must accept.
    fn valid(&self) -> bool {
        self.owned.as_ref().is_some_and(|c| c.to_str().is_ok())
    }
}

fn name(r: &mut Reader, models: &Handles<inferkit_model>) -> Name {
    match r.u8() % 4 {
        0 => Name { owned: None },
        1 => {
            let bytes: Vec<u8> = r.bytes(16).iter().copied().filter(|b| *b != 0).collect();
            Name {
                owned: Some(CString::new(bytes).expect("NULs removed")),
            }
        }
        _ => {
            let m = models.pick(r);
            let io = (r.u8() % 3) as u32;
            let index = r.u8() as usize % 4;
            let mut p = std::ptr::null();
            let mut err = std::ptr::null_mut();
            let code = inferkit_model_tensor_info(
                m,
                io,
                index,
                &mut p,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut err,
            );
            check(code, &mut err, true);
            // The string belongs to the model handle: copy it, as the handle may be closed first.
            let owned = (code == ErrorCode::Ok)
                // SAFETY: inferkit returned a NUL-terminated string owned by a live handle.
                .then(|| unsafe { CStr::from_ptr(p) }.to_owned());
            Name { owned }
        }
    }
}

/// Bytes for an input: borrowed bytes must outlive the requests that point at them, so they live
/// in the program's arena until the end. Buffers are 8-aligned; the program may offset them by one.
fn buffer(r: &mut Reader, arena: &mut Vec<Vec<u64>>, len: usize) -> *const c_void {
    let fill = match r.u8() % 4 {
        0 => 0u8,
        1 => 1,
        2 => 0xff,
        _ => r.u8(),
    };
    let offset = usize::from(r.u8() % 8 == 0);
    let mut v = vec![0u64; (len + offset).div_ceil(8).max(1)];
    // SAFETY: the buffer has at least len + offset bytes.
    unsafe {
        let bytes = std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), v.len() * 8);
        bytes.fill(fill);
    }
    // SAFETY: offset is within the buffer.
    let p = unsafe { v.as_ptr().cast::<u8>().add(offset) };
    arena.push(v);
    p.cast()
}

/// Dims of a small value: rank 0 to 2, mostly 0 to 3 each, sometimes one of [`DIMS`]; and the
/// element count when it is at most 64.
fn small_dims(r: &mut Reader) -> (Vec<i64>, Option<usize>) {
    let rank = (r.u8() % 3) as usize;
    let dims: Vec<i64> = (0..rank)
        .map(|_| match r.u8() {
            b if b < 0xf0 => (b % 4) as i64,
            _ => DIMS[r.u8() as usize % DIMS.len()],
        })
        .collect();
    let elems = dims
        .iter()
        .try_fold(1usize, |n, d| usize::try_from(*d).ok().and_then(|d| n.checked_mul(d)))
        .filter(|n| *n <= 64);
    (dims, elems)
}

/// Strings for a string tensor of `elems` elements (none when the shape is too large for the
/// harness to fill), NUL-terminated and with lengths, sometimes with a NULL among them.
struct Strings {
    _owned: Vec<Vec<u8>>,
    ptrs: Vec<*const c_char>,
    lengths: Vec<usize>,
    with_lengths: bool,
}

impl Strings {
    fn new(r: &mut Reader, elems: Option<usize>) -> Strings {
        let n = elems.unwrap_or(0);
        let owned: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                let l = (r.u8() % 6) as usize;
                (0..l).map(|_| r.u8().max(1)).chain(std::iter::once(0)).collect()
            })
            .collect();
        let mut ptrs: Vec<*const c_char> = owned.iter().map(|s| s.as_ptr().cast()).collect();
        if !ptrs.is_empty() && r.u8() % 16 == 0 {
            let i = r.u8() as usize % ptrs.len();
            ptrs[i] = std::ptr::null();
        }
        let lengths: Vec<usize> = owned.iter().map(|s| s.len() - 1).collect();
        let with_lengths = r.bool();
        Strings {
            _owned: owned,
            ptrs,
            lengths,
            with_lengths,
        }
    }
    /// A correct host passes one pointer per element of the shape (or NULL, when the shape is too
    /// large for the harness to fill: inferkit must then refuse, not read).
    fn strings(&self) -> *const *const c_char {
        if self.ptrs.is_empty() {
            std::ptr::null()
        } else {
            self.ptrs.as_ptr()
        }
    }
    /// The count passed with the arrays: theirs, or now and then one short (a count that is not
    /// the shape's must be refused; a correct host never passes more than it has).
    fn count(&self, r: &mut Reader) -> usize {
        if r.u8() % 8 == 0 {
            self.ptrs.len().saturating_sub(1)
        } else {
            self.ptrs.len()
        }
    }
    fn lengths(&self) -> *const usize {
        if self.with_lengths {
            self.lengths.as_ptr()
        } else {
            std::ptr::null()
        }
    }
}

/// Makes a value of a fuzzed kind: a tensor of any dtype (byte length right or not), strings (with
/// lengths or NUL-terminated, NULL pointers among them), a sequence, a map or an optional of
/// values made the same way, or NULL. The caller frees it.
fn make_value(r: &mut Reader, arena: &mut Vec<Vec<u64>>, depth: usize) -> *mut inferkit_value {
    let mut out = std::ptr::null_mut();
    let (dims, elems) = small_dims(r);
    let rank = dims.len();
    match r.u8() % 6 {
        0 => {
            let dtype = match r.u8() {
                b if b < 0xf0 => DType::ALL[b as usize % DType::ALL.len()] as u32,
                _ => r.u32(),
            };
            let bits = DType::from_u32(dtype).map_or(8, |d| d.bits().max(8));
            let exact = elems.map_or(0, |n| (n * bits).div_ceil(8));
            let len = if r.u8() % 8 == 0 { r.u8() as usize } else { exact };
            let data = buffer(r, arena, len);
            call(r, |e| {
                inferkit_value_new_tensor(dtype, dims.as_ptr(), rank, data, len, &mut out, e)
            });
        }
        1 => {
            let s = Strings::new(r, elems);
            let count = s.count(r);
            call(r, |e| {
                inferkit_value_new_strings(
                    dims.as_ptr(),
                    rank,
                    s.strings(),
                    s.lengths(),
                    count,
                    &mut out,
                    e,
                )
            });
        }
        2 if depth < 3 => {
            let items: Vec<*mut inferkit_value> =
                (0..r.u8() % 4).map(|_| make_value(r, arena, depth + 1)).collect();
            let ptrs: Vec<*const inferkit_value> = items.iter().map(|p| p.cast_const()).collect();
            call(r, |e| {
                inferkit_value_new_sequence(ptrs.as_ptr(), ptrs.len(), &mut out, e)
            });
            for item in items {
                inferkit_value_free(item);
            }
        }
        3 if depth < 3 => {
            let keys = make_value(r, arena, depth + 1);
            let values = make_value(r, arena, depth + 1);
            call(r, |e| inferkit_value_new_map(keys, values, &mut out, e));
            inferkit_value_free(keys);
            inferkit_value_free(values);
        }
        4 if depth < 3 => {
            let inner = if r.bool() {
                make_value(r, arena, depth + 1)
            } else {
                std::ptr::null_mut()
            };
            call(r, |e| inferkit_value_new_optional(inner, &mut out, e));
            inferkit_value_free(inner);
        }
        _ => {}
    }
    if !out.is_null() {
        touch_value(out, 0);
    }
    out
}

/// A tensor with everything fuzzed: dtype, rank, dims, byte length, pointers.
struct RawTensor {
    dtype: u32,
    dims: Vec<i64>,
    shape_null: bool,
    data: *const c_void,
    len: usize,
}

impl RawTensor {
    fn new(r: &mut Reader, arena: &mut Vec<Vec<u64>>) -> RawTensor {
        let dtype = match r.u8() {
            b if b < 0xf0 => DType::ALL[b as usize % DType::ALL.len()] as u32,
            b if b < 0xf8 => r.u32(),
            b => (b & 7) as u32 + 13,
        };
        let rank = match r.u8() {
            b if b < 0xf8 => (b % 5) as usize,
            b => (b & 7) as usize * 9,
        };
        let dims: Vec<i64> = (0..rank)
            .map(|_| match r.u8() {
                b if b < 0xe0 => DIMS[b as usize % DIMS.len()],
                b => (b & 0x1f) as i64,
            })
            .collect();
        let exact = dims
            .iter()
            .try_fold(1usize, |n, d| {
                usize::try_from(*d).ok().and_then(|d| n.checked_mul(d))
            })
            .and_then(|n| n.checked_mul(DType::from_u32(dtype).map_or(1, DType::size)));
        let len = match r.u8() % 8 {
            0 => r.u16() as usize,
            1 => exact.map_or(0, |n| n.saturating_add(1)),
            2 => exact.map_or(0, |n| n.saturating_sub(1)),
            _ => exact.unwrap_or(0),
        }
        .min(MAX_DATA);
        let shape_null = r.u8() % 16 == 0;
        let data = if r.u8() % 16 == 0 {
            std::ptr::null()
        } else {
            buffer(r, arena, len)
        };
        RawTensor {
            dtype,
            dims,
            shape_null,
            data,
            len,
        }
    }
    fn shape(&self) -> *const i64 {
        if self.shape_null {
            std::ptr::null()
        } else {
            self.dims.as_ptr()
        }
    }
    fn rank(&self) -> usize {
        self.dims.len()
    }
}

/// Notes an input added to a request (tensor, strings or value): a request that carries a
/// pipeline input refuses it.
fn added(q: Option<&mut Req>, code: ErrorCode) {
    if let Some(q) = q {
        assert!(
            !(q.pipeline && code == ErrorCode::Ok),
            "a tensor added to a request that carries a pipeline input"
        );
        if code == ErrorCode::Ok {
            q.tensors = true;
        }
    }
}

/// Notes a pipeline input given to a request: a request that carries tensors refuses it.
fn set_input(q: Option<&mut Req>, code: ErrorCode) {
    if let Some(q) = q {
        assert!(
            !(q.tensors && code == ErrorCode::Ok),
            "a pipeline input given to a request that carries tensors"
        );
        if code == ErrorCode::Ok {
            q.pipeline = true;
        }
    }
}

/// Adds one input with everything fuzzed: name, dtype, rank, dims, byte length, pointers.
fn add_raw(
    r: &mut Reader,
    request: *mut inferkit_request,
    models: &Handles<inferkit_model>,
    arena: &mut Vec<Vec<u64>>,
) -> ErrorCode {
    let name = name(r, models);
    let t = RawTensor::new(r, arena);
    let copy = r.bool();
    call(r, |e| {
        if copy {
            inferkit_request_add_tensor_copy(
                request,
                name.ptr(),
                t.dtype,
                t.shape(),
                t.rank(),
                t.data,
                t.len,
                e,
            )
        } else {
            inferkit_request_add_tensor(
                request,
                name.ptr(),
                t.dtype,
                t.shape(),
                t.rank(),
                t.data,
                t.len,
                e,
            )
        }
    })
}

/// Adds every input a model declares, with dynamic dims chosen by the program and exact bytes:
/// requests that pass validation and reach ONNX Runtime and the batcher (when `model` is the
/// request's). `many` lets the batch dim reach 256 rows (for threads that should keep a session
/// busy).
fn add_matching(
    r: &mut Reader,
    request: *mut inferkit_request,
    model: *const inferkit_model,
    arena: &mut Vec<Vec<u64>>,
    many: bool,
    mut state: Option<&mut Req>,
) {
    // 0 rows is allowed by some models, refused by others.
    let batch = if many {
        [1, 16, 64, 256][r.u8() as usize % 4]
    } else {
        (r.u8() % 4) as i64
    };
    let seq = 1 + (r.u8() % 8) as i64;
    let copy = r.bool();
    let n = inferkit_model_tensor_count(model, 0);
    for i in 0..n {
        let (mut name, mut dtype, mut rank) = (std::ptr::null(), 0u32, 0usize);
        let code = inferkit_model_tensor_info(
            model,
            0,
            i,
            &mut name,
            &mut dtype,
            &mut rank,
            std::ptr::null_mut(),
        );
        assert_eq!(code, ErrorCode::Ok, "tensor_info({i}) of {n}");
        let mut dims = Vec::with_capacity(rank);
        for axis in 0..rank {
            let (mut d, mut sym) = (0i64, std::ptr::null());
            let code = inferkit_model_tensor_dim(
                model,
                0,
                i,
                axis,
                &mut d,
                &mut sym,
                std::ptr::null_mut(),
            );
            assert_eq!(
                code,
                ErrorCode::Ok,
                "tensor_dim({i}, {axis}) of rank {rank}"
            );
            dims.push(if d >= 0 {
                d
            } else if axis == 0 {
                batch
            } else {
                seq
            });
        }
        let len = dims
            .iter()
            .try_fold(inferkit_dtype_size(dtype), |n, d| {
                n.checked_mul(usize::try_from(*d).ok()?)
            })
            .unwrap_or(0);
        if len > MAX_DATA {
            continue;
        }
        // Bools must be 0 or 1: fill with zeros (or ones) unless the program says otherwise.
        let data = buffer(r, arena, len);
        let code = call_quiet(|e| {
            if copy {
                inferkit_request_add_tensor_copy(
                    request,
                    name,
                    dtype,
                    dims.as_ptr(),
                    rank,
                    data,
                    len,
                    e,
                )
            } else {
                inferkit_request_add_tensor(request, name, dtype, dims.as_ptr(), rank, data, len, e)
            }
        });
        added(state.as_deref_mut(), code);
    }
}

fn options(r: &mut Reader) -> *mut inferkit_model_options {
    let mut o = std::ptr::null_mut();
    let code = call_quiet(|e| inferkit_model_options_new(&mut o, e));
    assert_eq!(code, ErrorCode::Ok, "model_options_new");
    assert!(!o.is_null());
    let flags = r.u8();
    // Values on both sides of inferkit's limits (64 instances, 256 threads, 65 536 rows, …).
    let pick = |r: &mut Reader, values: &[u64]| values[r.u8() as usize % values.len()];
    if flags & 1 != 0 {
        let n = pick(r, &[0, 1, 2, 65, u64::MAX]) as usize;
        call(r, |e| inferkit_model_options_set_instances(o, n, e));
    } else {
        call(r, |e| inferkit_model_options_set_instances(o, 1, e));
    }
    if flags & 2 != 0 {
        let max_batch = pick(r, &[0, 1, 4, 65_537, u64::MAX]) as usize;
        // A timed policy makes a lone request wait out the delay (as configured): accepted delays
        // are kept short, or every such program would be a libFuzzer timeout. The last two are
        // beyond inferkit's limit and must be refused.
        let delay = pick(r, &[0, 0, 200, 5000, 60_000_001, u64::MAX]);
        let queue = pick(r, &[0, 1, 2, 1024, 1_048_577, u64::MAX]) as usize;
        let timeout = pick(r, &[0, 0, 1, 3_600_000_001, u64::MAX]);
        call(r, |e| {
            inferkit_model_options_set_batching(o, max_batch, delay, queue, timeout, e)
        });
        let sizes: Vec<usize> = [1, 2, 0, 64].into_iter().chain([1; 66]).collect();
        let count = pick(r, &[0, 1, 2, 3, 4, 65]) as usize;
        call(r, |e| {
            inferkit_model_options_set_preferred_batch_sizes(o, sizes.as_ptr(), count, e)
        });
    }
    if flags & 4 != 0 {
        let intra = pick(r, &[0, 1, 2, 257, u64::MAX]) as usize;
        let inter = pick(r, &[0, 1, 2, 257, u64::MAX]) as usize;
        call(r, |e| {
            inferkit_model_options_set_threads(o, intra, inter, e)
        });
        let level = (r.u8() % 6) as u32;
        call(r, |e| {
            inferkit_model_options_set_optimization_level(o, level, e)
        });
        let ep = (r.u8() % 6) as u32;
        call(r, |e| {
            inferkit_model_options_add_execution_provider(o, ep, e)
        });
        let spin = r.bool();
        call(r, |e| inferkit_model_options_set_spinning(o, spin, e));
    }
    if flags & 8 != 0 {
        let text = if r.u8() % 4 == 0 {
            let bytes: Vec<u8> = r.bytes(64).iter().copied().filter(|b| *b != 0).collect();
            CString::new(bytes).expect("NULs removed")
        } else {
            CString::new(PIPELINES[r.u8() as usize % PIPELINES.len()]).expect("no NUL")
        };
        call(r, |e| {
            inferkit_model_options_set_pipeline_toml(o, text.as_ptr(), e)
        });
    }
    if flags & 16 != 0 {
        let n = CString::new(
            r.bytes(8)
                .iter()
                .copied()
                .filter(|b| *b != 0)
                .collect::<Vec<u8>>(),
        )
        .expect("NULs removed");
        call(r, |e| inferkit_model_options_set_name(o, n.as_ptr(), e));
    }
    o
}

/// Sets a fuzzed timeout on a request: none, 1 us, 1 ms, the largest, or any.
fn set_timeout(r: &mut Reader, h: *mut inferkit_request) {
    let timeout = match r.u8() % 5 {
        0 => 0,
        1 => 1,
        2 => 1000,
        3 => u64::MAX,
        _ => r.u64(),
    };
    let code = call(r, |e| inferkit_request_set_timeout_us(h, timeout, e));
    assert_eq!(code == ErrorCode::Ok, !h.is_null(), "set_timeout_us: {code:?}");
}

/// Asks a request for some outputs by fuzzed names (NULL among them, or a NULL array).
fn set_outputs(r: &mut Reader, h: *mut inferkit_request, models: &Handles<inferkit_model>) {
    let names: Vec<Name> = (0..r.u8() % 4).map(|_| name(r, models)).collect();
    let ptrs: Vec<*const c_char> = names.iter().map(Name::ptr).collect();
    let (base, count) = match r.u8() % 8 {
        0 => (std::ptr::null(), ptrs.len() + 1),
        1 => (std::ptr::null(), ptrs.len()),
        _ => (ptrs.as_ptr(), ptrs.len()),
    };
    let code = call(r, |e| inferkit_request_set_outputs(h, base, count, e));
    // Names are checked against the model when the request runs: any NUL-terminated UTF-8 is taken.
    let valid = !h.is_null() && (count == 0 || (!base.is_null() && names.iter().all(Name::valid)));
    assert_eq!(code == ErrorCode::Ok, valid, "set_outputs: {code:?}");
}

/// CLOCK_MONOTONIC now, in nanoseconds (the clock of inferkit_request_set_deadline_ns).
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

/// Sets a fuzzed deadline on a request: none, long past, now (past by the time it runs), soon,
/// later, or any.
fn set_deadline(r: &mut Reader, h: *mut inferkit_request, q: Option<&mut Req>) {
    let now = monotonic_ns();
    let deadline = match r.u8() % 6 {
        0 => 0,
        1 => 1,
        2 => now,
        3 => now + 1_000_000,
        4 => now + 10_000_000_000,
        _ => r.u64(),
    };
    let code = call(r, |e| inferkit_request_set_deadline_ns(h, deadline, e));
    assert_eq!(code == ErrorCode::Ok, !h.is_null(), "set_deadline_ns: {code:?}");
    if let Some(q) = q {
        if code == ErrorCode::Ok {
            q.expired = deadline != 0 && deadline <= now;
        }
    }
}

const OP_NAMES: [&str; 30] = [
    "open",
    "open",
    "open_bytes",
    "model_options",
    "model_options_free",
    "request_new",
    "request_add_tensor (raw)",
    "request_add_tensor (matching)",
    "request_add_tensor (matching)",
    "request_clear",
    "request_free",
    "request_run",
    "request_run",
    "request_submit",
    "request_submit",
    "pending_cancel",
    "pending_free",
    "model_clone",
    "model_close",
    "outputs (read)",
    "outputs_free",
    "request options (timeout, outputs)",
    "queries",
    "pipeline input (set, run or submit)",
    "stash (read/free)",
    "thread",
    "request_add_value",
    "request_set_deadline_ns",
    "tensors and a pipeline input mixed",
    "request_add_strings",
];

#[derive(Default)]
struct Program {
    models: Handles<inferkit_model>,
    model_options: Handles<inferkit_model_options>,
    requests: Vec<Req>,
    outputs: Handles<inferkit_outputs>,
    /// Pending handles, each with the slot of its submission.
    pendings: Vec<(*mut inferkit_pending, *const Slot)>,
    arena: Vec<Vec<u64>>,
    slots: Vec<Box<Slot>>,
    rec: Arc<Recorder>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Requests owned by slots (submitted from callbacks), freed at the end.
    slot_requests: Vec<Ptr<inferkit_request>>,
}

impl Program {
    /// A request by index (an index past the end is NULL).
    fn pick_req(&self, r: &mut Reader) -> Option<usize> {
        let i = r.u8() as usize % (self.requests.len() + 1);
        (i < self.requests.len()).then_some(i)
    }

    fn req_ptr(&self, q: Option<usize>) -> *mut inferkit_request {
        q.map_or(std::ptr::null_mut(), |i| self.requests[i].h)
    }

    fn step(&mut self, r: &mut Reader) {
        let op = r.u8() % 30;
        if trace() {
            eprintln!("step {op:2} {}", OP_NAMES[op as usize]);
        }
        match op {
            // Open a model from a fixture path (or NULL), with options (or NULL).
            0 | 1 => {
                let path = match r.u8() as usize % (paths().len() + 1) {
                    i if i < paths().len() => paths()[i].as_ptr(),
                    _ => std::ptr::null(),
                };
                let opts = if r.bool() {
                    self.model_options.pick(r)
                } else {
                    std::ptr::null_mut()
                };
                let mut model = std::ptr::null_mut();
                let out = r.u8() % 16 != 0;
                let code = call(r, |e| {
                    inferkit_model_open(
                        path,
                        opts,
                        if out {
                            &mut model
                        } else {
                            std::ptr::null_mut()
                        },
                        e,
                    )
                });
                if code == ErrorCode::Ok {
                    self.models.push(model);
                } else {
                    assert!(model.is_null(), "model_out written on failure");
                }
            }
            // Open a model from bytes: a fixture's, cut short or not.
            2 => {
                let path = &paths()[r.u8() as usize % 11];
                let bytes = std::fs::read(path.to_str().expect("UTF-8 path")).unwrap_or_default();
                let cut = match r.u8() % 4 {
                    0 => bytes.len() / 2,
                    1 => 0,
                    _ => bytes.len(),
                };
                let name = name(r, &self.models);
                let opts = self.model_options.pick(r);
                let mut model = std::ptr::null_mut();
                let code = call(r, |e| {
                    inferkit_model_open_bytes(name.ptr(), bytes.as_ptr(), cut, opts, &mut model, e)
                });
                if code == ErrorCode::Ok {
                    self.models.push(model);
                } else {
                    assert!(model.is_null(), "model_out written on failure");
                }
            }
            3 => {
                if self.model_options.0.len() < 4 {
                    let o = options(r);
                    self.model_options.push(o);
                }
            }
            4 => {
                let o = self.model_options.take(r);
                if o.is_null() {
                    // No handle to free: ask for options without a place to put them.
                    let code = call_quiet(|e| inferkit_model_options_new(std::ptr::null_mut(), e));
                    assert_eq!(code, ErrorCode::NullArgument, "model_options_new(NULL)");
                }
                inferkit_model_options_free(o);
            }
            // A request on a model (or NULL), wanted or not.
            5 => {
                if self.requests.len() < 6 {
                    let m = self.models.pick(r);
                    let want = r.u8() % 16 != 0;
                    let mut q = std::ptr::null_mut();
                    let code = call(r, |e| {
                        inferkit_request_new(
                            m,
                            if want { &mut q } else { std::ptr::null_mut() },
                            e,
                        )
                    });
                    assert_eq!(
                        code == ErrorCode::Ok,
                        want && !m.is_null(),
                        "request_new: {code:?}"
                    );
                    if code == ErrorCode::Ok {
                        assert!(!q.is_null(), "a NULL request returned on success");
                        self.requests.push(Req {
                            h: q,
                            tensors: false,
                            pipeline: false,
                            expired: false,
                        });
                    } else {
                        assert!(q.is_null(), "request_out written on failure");
                    }
                }
            }
            6 => {
                let q = self.pick_req(r);
                let h = self.req_ptr(q);
                let code = add_raw(r, h, &self.models, &mut self.arena);
                added(q.map(|i| &mut self.requests[i]), code);
            }
            // Every input of a model (often the request's own), with exact bytes.
            7 | 8 => {
                let q = self.pick_req(r);
                let m = self.models.pick(r);
                if let Some(i) = q {
                    let h = self.requests[i].h;
                    add_matching(r, h, m, &mut self.arena, false, Some(&mut self.requests[i]));
                }
            }
            // Empty a request; sometimes check it then takes a pipeline input (it carries nothing).
            9 => {
                let q = self.pick_req(r);
                let h = self.req_ptr(q);
                inferkit_request_clear(h);
                if let Some(i) = q {
                    self.requests[i].tensors = false;
                    self.requests[i].pipeline = false;
                }
                if r.bool() && !h.is_null() {
                    let ids = [1i64, 2];
                    let code = call_quiet(|e| inferkit_request_set_tokens(h, ids.as_ptr(), 2, e));
                    assert_eq!(code, ErrorCode::Ok, "set_tokens on a cleared request");
                    inferkit_request_clear(h);
                }
            }
            10 => {
                let q = self.pick_req(r);
                let h = self.req_ptr(q);
                if let Some(i) = q {
                    self.requests.swap_remove(i);
                }
                inferkit_request_free(h);
            }
            // Run a request: as it is, with a new timeout, or asking for some outputs.
            11 | 12 => {
                let q = self.pick_req(r);
                let h = self.req_ptr(q);
                match r.u8() % 3 {
                    0 => {}
                    1 => set_timeout(r, h),
                    _ => set_outputs(r, h, &self.models),
                }
                self.run(r, q);
            }
            // Submit a request with a callback.
            13 | 14 => self.submit(r),
            15 => {
                let i = r.u8() as usize % (self.pendings.len() + 1);
                let (p, slot) = self
                    .pendings
                    .get(i)
                    .copied()
                    .unwrap_or((std::ptr::null_mut(), std::ptr::null()));
                let done_before = inferkit_pending_is_done(p);
                let cancelled = inferkit_pending_cancel(p);
                if trace() {
                    eprintln!("    cancelled: {cancelled} (done before: {done_before})");
                }
                if cancelled {
                    assert!(!done_before, "a finished request was cancelled");
                    // Withdrawn: done now. Stopped while it ran alone: done when its run returns,
                    // on the thread that runs it. Either way its callback hears CANCELLED.
                    // SAFETY: slots live until the end of the program.
                    unsafe { &*slot }.cancelled.store(true, Ordering::SeqCst);
                }
            }
            16 => {
                let i = r.u8() as usize % (self.pendings.len() + 1);
                let p = if i < self.pendings.len() {
                    self.pendings.swap_remove(i).0
                } else {
                    std::ptr::null_mut()
                };
                inferkit_pending_free(p);
            }
            17 => {
                let m = self.models.pick(r);
                let c = inferkit_model_clone(m);
                assert_eq!(c.is_null(), m.is_null(), "clone");
                if !c.is_null() {
                    self.models.push(c);
                }
            }
            18 => inferkit_model_close(self.models.take(r)),
            19 => touch_outputs(self.outputs.pick(r)),
            20 => inferkit_outputs_free(self.outputs.take(r)),
            // Options of a request: a timeout, and sometimes the outputs wanted.
            21 => {
                let q = self.pick_req(r);
                let h = self.req_ptr(q);
                set_timeout(r, h);
                if r.bool() {
                    set_outputs(r, h, &self.models);
                }
            }
            // Signature, stats and metrics queries with fuzzed indices.
            22 => self.query(r),
            // A pipeline input: pixels, encoded bytes, token ids, text or a raw tensor.
            23 => self.pipelined(r),
            // Results stashed by callbacks: read and free some.
            24 => {
                let taken: Vec<_> = {
                    let mut stash = self.rec.stash.lock().unwrap_or_else(|e| e.into_inner());
                    let n = (r.u8() as usize).min(stash.len());
                    stash.drain(..n).collect()
                };
                for (o, e) in taken {
                    if !o.0.is_null() {
                        touch_outputs(o.0);
                    }
                    inferkit_outputs_free(o.0);
                    inferkit_error_free(e.0);
                }
            }
            // Another thread runs and submits a request on a model while the program goes on.
            25 => self.spawn(r),
            // A value of any kind, added under a fuzzed name (copied), then freed.
            26 => {
                let q = self.pick_req(r);
                let h = self.req_ptr(q);
                let name = name(r, &self.models);
                let v = make_value(r, &mut self.arena, 0);
                let code = call(r, |e| inferkit_request_add_value(h, name.ptr(), v, e));
                added(q.map(|i| &mut self.requests[i]), code);
                inferkit_value_free(v);
            }
            // A deadline, and sometimes a run against it.
            27 => {
                let q = self.pick_req(r);
                let h = self.req_ptr(q);
                set_deadline(r, h, q.map(|i| &mut self.requests[i]));
                if r.bool() {
                    self.run(r, q);
                }
            }
            // Tensors and a pipeline input on one request, in either order, with valid arguments:
            // the second is refused exactly when the first was taken.
            28 => self.mix(r),
            // A string tensor under a fuzzed name.
            _ => {
                let q = self.pick_req(r);
                let h = self.req_ptr(q);
                let name = name(r, &self.models);
                let (dims, elems) = small_dims(r);
                let s = Strings::new(r, elems);
                let count = s.count(r);
                let code = call(r, |e| {
                    inferkit_request_add_strings(
                        h,
                        name.ptr(),
                        dims.as_ptr(),
                        dims.len(),
                        s.strings(),
                        s.lengths(),
                        count,
                        e,
                    )
                });
                added(q.map(|i| &mut self.requests[i]), code);
            }
        }
    }

    /// Runs a request (its outputs wanted or not); its outputs join the program's. Then, sometimes,
    /// submits it unchanged: a request that ran must be accepted.
    fn run(&mut self, r: &mut Reader, q: Option<usize>) {
        let h = self.req_ptr(q);
        let mut out = std::ptr::null_mut();
        let want = r.u8() % 16 != 0;
        let out_ptr = if want {
            &mut out as *mut _
        } else {
            std::ptr::null_mut()
        };
        let code = call(r, |e| inferkit_request_run(h, out_ptr, e));
        if code == ErrorCode::Ok {
            assert!(want && !h.is_null(), "run succeeded without a request or outputs_out");
            touch_outputs(out);
            self.outputs.push(out);
        } else {
            assert!(out.is_null(), "outputs_out written on failure");
        }
        if let Some(i) = q {
            let req = &self.requests[i];
            // A request whose deadline had passed is not run.
            assert!(
                !(req.expired && code == ErrorCode::Ok),
                "a request ran past a deadline that had passed"
            );
        }
        if r.u8() % 4 == 0 && code == ErrorCode::Ok {
            let (code, msg) = self.submit_leaf(h);
            // Submission checks what the run checked (signature, outputs, pipeline steps): it may
            // only be refused for a full queue.
            assert!(
                code == ErrorCode::Ok || code == ErrorCode::QueueFull,
                "a request that ran was refused on submission: {code:?} {msg}"
            );
        }
    }

    /// Submits a request to the leaf callback; returns the status and message.
    fn submit_leaf(&self, h: *const inferkit_request) -> (ErrorCode, String) {
        let mut err = std::ptr::null_mut();
        let rec = Arc::as_ptr(&self.rec) as *mut c_void;
        let code = inferkit_request_submit(h, Some(on_leaf), rec, std::ptr::null_mut(), &mut err);
        let msg = message(err);
        if trace() {
            eprintln!("    submit -> {code:?} {msg}");
        }
        check(code, &mut err, true);
        if code == ErrorCode::Ok {
            self.rec.leaf_accepted.fetch_add(1, Ordering::SeqCst);
        }
        (code, msg)
    }

    fn submit(&mut self, r: &mut Reader) {
        if self.slots.len() >= 64 {
            return;
        }
        let m = self.models.pick(r);
        let q = self.pick_req(r);
        let h = self.req_ptr(q);
        let flags = r.u8();
        // The callback closes a model handle: a clone of `m` only the submission knows or `m`
        // itself, which the program then gives up, so that the callback may close the last
        // handle to the model (the request and the submission still hold the model: it must stay
        // loaded until they are done).
        let release = if flags & 8 == 0 || m.is_null() {
            std::ptr::null_mut()
        } else if flags & 0x80 != 0 {
            self.models.remove_one(m);
            m
        } else {
            inferkit_model_clone(m)
        };
        let resubmit = if flags & 4 != 0 && !m.is_null() {
            // The callback submits again a request on `m` that the slot owns. The request holds
            // its model: the clone it was made with is closed at once.
            let clone = inferkit_model_clone(m);
            let mut request = std::ptr::null_mut();
            let code = call_quiet(|e| inferkit_request_new(clone, &mut request, e));
            assert_eq!(code, ErrorCode::Ok, "request_new");
            add_matching(r, request, clone, &mut self.arena, false, None);
            inferkit_model_close(clone);
            self.slot_requests.push(Ptr(request));
            Some(Ptr(request))
        } else {
            None
        };
        let slot = Box::new(Slot {
            rec: self.rec.clone(),
            submitted: AtomicBool::new(false),
            accepted: AtomicBool::new(false),
            calls: AtomicU32::new(0),
            finished: AtomicBool::new(false),
            status: AtomicU32::new(u32::MAX),
            cancelled: AtomicBool::new(false),
            stash: flags & 2 != 0,
            resubmit,
            release: AtomicPtr::new(release),
        });
        let userdata = &*slot as *const Slot as *mut c_void;
        let callback = if flags & 0x70 == 0 {
            None
        } else {
            Some(on_slot as _)
        };
        let mut pending = std::ptr::null_mut();
        let want = flags & 1 != 0;
        // `accepted` must be set before a callback on another thread can check it: assume
        // acceptance, and correct it if the call refuses.
        slot.accepted.store(true, Ordering::SeqCst);
        let (code, msg) = call_msg(r, |e| {
            inferkit_request_submit(
                h,
                callback,
                userdata,
                if want {
                    &mut pending
                } else {
                    std::ptr::null_mut()
                },
                e,
            )
        });
        if code != ErrorCode::Ok {
            // Refused: no callback will close the handle.
            inferkit_model_close(slot.release.swap(std::ptr::null_mut(), Ordering::SeqCst));
            slot.accepted.store(false, Ordering::SeqCst);
            assert_eq!(
                slot.calls.load(Ordering::SeqCst),
                0,
                "callback called, status {code:?}"
            );
            assert!(pending.is_null(), "pending_out written on failure");
            // A pipeline request is only unsupported for a feature this build lacks.
            let pipeline = q.is_some_and(|i| self.requests[i].pipeline);
            if pipeline && code == ErrorCode::Unsupported && !msg.is_empty() {
                assert!(
                    msg.contains("cargo feature"),
                    "pipeline submission unsupported: {msg}"
                );
            }
        } else {
            assert!(
                callback.is_some() && !h.is_null(),
                "submit accepted without a request or a callback"
            );
            if want {
                assert!(!pending.is_null(), "a NULL pending handle returned on success");
                self.pendings.push((pending, &*slot as *const Slot));
            }
        }
        slot.submitted.store(true, Ordering::SeqCst);
        self.slots.push(slot);
    }

    fn query(&mut self, r: &mut Reader) {
        let m = self.models.pick(r);
        let io = (r.u8() % 3) as u32;
        let index = r.u8() as usize % 5;
        let axis = r.u8() as usize % 5;
        std::hint::black_box(inferkit_model_tensor_count(m, io));
        // SAFETY: a NUL-terminated string owned by the handle, or a static "".
        let _ = unsafe { CStr::from_ptr(inferkit_model_name(m)) }
            .to_bytes()
            .len();
        let (mut name, mut dtype, mut rank) = (std::ptr::null(), 0u32, 0usize);
        call(r, |e| {
            inferkit_model_tensor_info(m, io, index, &mut name, &mut dtype, &mut rank, e)
        });
        let (mut dim, mut sym) = (0i64, std::ptr::null());
        call(r, |e| {
            inferkit_model_tensor_dim(m, io, index, axis, &mut dim, &mut sym, e)
        });
        let (mut kind, mut ty) = (0u32, std::ptr::null());
        if call(r, |e| inferkit_model_value_type(m, io, index, &mut kind, &mut ty, e))
            == ErrorCode::Ok
        {
            assert!(matches!(kind, 1 | 2 | 3 | 6), "value kind {kind}");
            // SAFETY: a NUL-terminated string owned by the handle.
            let _ = unsafe { CStr::from_ptr(ty) }.to_bytes().len();
        }
        let mut s = [0usize; 3];
        let mut x = [0u64; 2];
        call(r, |e| {
            inferkit_model_stats(m, &mut s[0], &mut s[1], &mut s[2], &mut x[0], &mut x[1], e)
        });
        let mut text = std::ptr::null_mut();
        let json = r.bool();
        let code = call(r, |e| {
            if json {
                inferkit_model_metrics_json(m, &mut text, e)
            } else {
                inferkit_model_metrics_prometheus(m, &mut text, e)
            }
        });
        if code == ErrorCode::Ok {
            // SAFETY: a string inferkit handed out.
            let _ = unsafe { CStr::from_ptr(text) }.to_bytes().len();
            inferkit_string_free(text);
        } else {
            assert!(text.is_null(), "text_out written on failure");
        }
    }

    /// Gives a request a pipeline input, then leaves it, runs it or submits it.
    fn pipelined(&mut self, r: &mut Reader) {
        let q = self.pick_req(r);
        let h = self.req_ptr(q);
        let code = match r.u8() % 5 {
            0 => {
                let format = match r.u8() {
                    b if b < 0xf0 => (b % 4) as u32,
                    _ => r.u32(),
                };
                let width = (r.u8() % 40) as usize;
                let height = (r.u8() % 40) as usize;
                let bpp = [3usize, 3, 4, 1].get(format as usize).copied().unwrap_or(1);
                let stride = width * bpp + (r.u8() % 4) as usize;
                let stride = if r.u8() % 16 == 0 {
                    stride.saturating_sub(1)
                } else {
                    stride
                };
                let len = match r.u8() % 8 {
                    0 => r.u16() as usize,
                    1 => (stride * height).saturating_sub(1),
                    _ => stride * height,
                };
                let pixels = buffer(r, &mut self.arena, len).cast::<u8>();
                let stride = if r.u8() % 32 == 0 { usize::MAX } else { stride };
                call(r, |e| {
                    inferkit_request_set_image(h, pixels, len, format, width, height, stride, e)
                })
            }
            1 => {
                let which = r.u8();
                let bytes = match which % 4 {
                    0 => std::fs::read(common::fixture("image.png")).unwrap_or_default(),
                    1 => std::fs::read(common::fixture("image.jpg")).unwrap_or_default(),
                    _ => r.bytes(255).to_vec(),
                };
                call(r, |e| {
                    inferkit_request_set_encoded_image(h, bytes.as_ptr(), bytes.len(), e)
                })
            }
            2 => {
                let ids: Vec<i64> = (0..r.u8() % 12)
                    .map(|_| match r.u8() {
                        b if b < 0xf0 => b as i64,
                        _ => r.u64() as i64,
                    })
                    .collect();
                let base = if r.u8() % 16 == 0 {
                    std::ptr::null()
                } else {
                    ids.as_ptr()
                };
                call(r, |e| inferkit_request_set_tokens(h, base, ids.len(), e))
            }
            3 => {
                let text = CString::new(
                    r.bytes(32)
                        .iter()
                        .copied()
                        .filter(|b| *b != 0)
                        .collect::<Vec<u8>>(),
                )
                .expect("NULs removed");
                call(r, |e| inferkit_request_set_text(h, text.as_ptr(), e))
            }
            _ => {
                let t = RawTensor::new(r, &mut self.arena);
                call(r, |e| {
                    inferkit_request_set_pipeline_tensor(
                        h,
                        t.dtype,
                        t.shape(),
                        t.rank(),
                        t.data,
                        t.len,
                        e,
                    )
                })
            }
        };
        set_input(q.map(|i| &mut self.requests[i]), code);
        match r.u8() % 4 {
            0 => {}
            3 => {
                let pipeline = q.is_some_and(|i| self.requests[i].pipeline);
                let (code, msg) = self.submit_leaf(h);
                if pipeline && code == ErrorCode::Unsupported {
                    assert!(
                        msg.contains("cargo feature"),
                        "pipeline submission unsupported: {msg}"
                    );
                }
            }
            _ => self.run(r, q),
        }
    }

    /// Tensors then a pipeline input, or the other way round, all with valid arguments: each call
    /// succeeds unless the request carries the other kind, which is INVALID_ARGUMENT.
    fn mix(&mut self, r: &mut Reader) {
        let q = self.pick_req(r);
        let h = self.req_ptr(q);
        let tensor_first = r.bool();
        let adder = r.u8() % 4;
        let setter = r.u8() % 5;
        for step in 0..2 {
            let adding = (step == 0) == tensor_first;
            let code = if adding {
                self.add_valid(h, adder)
            } else {
                set_valid(h, setter)
            };
            let expected = match q.map(|i| &self.requests[i]) {
                None => ErrorCode::NullArgument,
                Some(req) if (adding && req.pipeline) || (!adding && req.tensors) => {
                    ErrorCode::InvalidArgument
                }
                Some(_) => ErrorCode::Ok,
            };
            assert_eq!(
                code, expected,
                "{} (tensor first: {tensor_first}, adder {adder}, setter {setter})",
                if adding { "adding a tensor" } else { "setting a pipeline input" }
            );
            let state = q.map(|i| &mut self.requests[i]);
            if adding {
                added(state, code);
            } else {
                set_input(state, code);
            }
        }
        if r.bool() {
            self.run(r, q);
        }
    }

    /// Adds a valid input named "x": a borrowed or copied f32 tensor, a string tensor or a value.
    fn add_valid(&mut self, h: *mut inferkit_request, adder: u8) -> ErrorCode {
        let shape = [1i64];
        match adder {
            0 | 1 => {
                let data = vec![0u64; 1];
                let p = data.as_ptr().cast::<c_void>();
                self.arena.push(data);
                call_quiet(|e| {
                    if adder == 0 {
                        inferkit_request_add_tensor(h, c"x".as_ptr(), 1, shape.as_ptr(), 1, p, 4, e)
                    } else {
                        inferkit_request_add_tensor_copy(
                            h,
                            c"x".as_ptr(),
                            1,
                            shape.as_ptr(),
                            1,
                            p,
                            4,
                            e,
                        )
                    }
                })
            }
            2 => {
                let strings = [c"a".as_ptr()];
                call_quiet(|e| {
                    inferkit_request_add_strings(
                        h,
                        c"x".as_ptr(),
                        shape.as_ptr(),
                        1,
                        strings.as_ptr(),
                        std::ptr::null(),
                        1,
                        e,
                    )
                })
            }
            _ => {
                let mut v = std::ptr::null_mut();
                let data = [0u8; 4];
                let code = call_quiet(|e| {
                    inferkit_value_new_tensor(1, shape.as_ptr(), 1, data.as_ptr().cast(), 4, &mut v, e)
                });
                assert_eq!(code, ErrorCode::Ok, "value_new_tensor");
                let code = call_quiet(|e| inferkit_request_add_value(h, c"x".as_ptr(), v, e));
                inferkit_value_free(v);
                code
            }
        }
    }

    fn spawn(&mut self, r: &mut Reader) {
        if self.threads.len() >= 2 {
            return;
        }
        let m = self.models.pick(r);
        if m.is_null() {
            return;
        }
        // The thread's request is made on a clone, closed at once: the request holds the model.
        let clone = inferkit_model_clone(m);
        let mut request = std::ptr::null_mut();
        let code = call_quiet(|e| inferkit_request_new(clone, &mut request, e));
        assert_eq!(code, ErrorCode::Ok, "request_new");
        add_matching(r, request, clone, &mut self.arena, true, None);
        inferkit_model_close(clone);
        let request = Ptr(request);
        let runs = 1 + r.u8() % 8;
        let rec = Ptr(Arc::as_ptr(&self.rec) as *mut Recorder);
        let started = Arc::new(AtomicBool::new(false));
        let go = started.clone();
        let thread = std::thread::spawn(move || {
            let (request, rec) = (request, rec);
            for n in 0..runs {
                go.store(true, Ordering::SeqCst);
                let mut err = std::ptr::null_mut();
                if n % 2 == 0 {
                    let mut out = std::ptr::null_mut();
                    let code = inferkit_request_run(request.0, &mut out, &mut err);
                    check(code, &mut err, true);
                    if code == ErrorCode::Ok {
                        touch_outputs(out);
                        inferkit_outputs_free(out);
                    }
                } else {
                    let code = inferkit_request_submit(
                        request.0,
                        Some(on_leaf),
                        rec.0.cast(),
                        std::ptr::null_mut(),
                        &mut err,
                    );
                    check(code, &mut err, true);
                    if code == ErrorCode::Ok {
                        // SAFETY: the Recorder outlives every thread (they are joined first).
                        unsafe { &*rec.0 }
                            .leaf_accepted
                            .fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
            inferkit_request_free(request.0);
        });
        self.threads.push(thread);
        // Let the thread get into its first inference, so that what the program does next meets a
        // busy session (and a queue) more often than not.
        let until = Instant::now() + Duration::from_millis(50);
        while !started.load(Ordering::SeqCst) && Instant::now() < until {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_micros(300));
    }

    /// Joins threads, waits for every accepted request's callback, then frees everything left in
    /// an order the program chose.
    fn finish(mut self, r: &mut Reader) {
        for t in self.threads.drain(..) {
            if let Err(e) = t.join() {
                std::panic::resume_unwind(e);
            }
        }
        // Free some handles before waiting: requests still queued must be answered even when
        // every handle to their model, every request and every pending handle is gone.
        let order = r.u8();
        if order & 1 != 0 {
            for (p, _) in self.pendings.drain(..) {
                inferkit_pending_free(p);
            }
            for m in self.models.0.drain(..) {
                inferkit_model_close(m);
            }
        }
        if order & 2 != 0 {
            for q in self.requests.drain(..) {
                inferkit_request_free(q.h);
            }
        }
        // Generous: run.sh fuzzes at the lowest priority on busy machines, where a program's
        // inferences can take tens of seconds. A reproducer replayed alone shows whether a
        // "never answered" is real.
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let pending = self.slots.iter().filter(|s| {
                let accepted = s.accepted.load(Ordering::SeqCst);
                let calls = s.calls.load(Ordering::SeqCst);
                assert!(
                    accepted || calls == 0,
                    "callback called for a refused request"
                );
                accepted && !s.finished.load(Ordering::SeqCst)
            });
            let pending = pending.count();
            let leaf = self.rec.leaf_accepted.load(Ordering::SeqCst)
                - self
                    .rec
                    .leaf_called
                    .load(Ordering::SeqCst)
                    .min(self.rec.leaf_accepted.load(Ordering::SeqCst));
            if pending == 0 && leaf == 0 {
                break;
            }
            if Instant::now() > deadline {
                // The slots stay allocated (leaked), since a late callback would use them.
                std::mem::forget(self.slots);
                panic!(
                    "{pending} accepted requests and {leaf} leaf requests never answered in 90 s"
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            self.rec.leaf_called.load(Ordering::SeqCst),
            self.rec.leaf_accepted.load(Ordering::SeqCst),
            "leaf callbacks called more often than requests accepted"
        );
        for s in &self.slots {
            if s.cancelled.load(Ordering::SeqCst) {
                let status = s.status.load(Ordering::SeqCst);
                assert_eq!(
                    status,
                    ErrorCode::Cancelled as u32,
                    "a cancelled request's callback heard status {status}"
                );
            }
        }
        for (p, _) in self.pendings.drain(..) {
            assert!(inferkit_pending_is_done(p), "answered but not done");
            assert!(
                !inferkit_pending_cancel(p),
                "a finished request was cancelled"
            );
            inferkit_pending_free(p);
        }
        for q in self.slot_requests.drain(..) {
            inferkit_request_free(q.0);
        }
        for m in self.models.0.drain(..) {
            inferkit_model_close(m);
        }
        for o in self.outputs.0.drain(..) {
            inferkit_outputs_free(o);
        }
        for q in self.requests.drain(..) {
            inferkit_request_free(q.h);
        }
        for o in self.model_options.0.drain(..) {
            inferkit_model_options_free(o);
        }
        let stash = std::mem::take(&mut *self.rec.stash.lock().unwrap_or_else(|e| e.into_inner()));
        for (o, e) in stash {
            inferkit_outputs_free(o.0);
            inferkit_error_free(e.0);
        }
        drop(self.slots);
        drop(self.arena);
    }
}

/// Sets a valid pipeline input: a raw f32 tensor, a 1×1 RGB image, encoded bytes, text or token
/// ids.
fn set_valid(h: *mut inferkit_request, setter: u8) -> ErrorCode {
    let shape = [1i64];
    let bytes = [0x89u8, b'P', b'N', b'G'];
    call_quiet(|e| match setter {
        0 => inferkit_request_set_pipeline_tensor(h, 1, shape.as_ptr(), 1, bytes.as_ptr().cast(), 4, e),
        1 => inferkit_request_set_image(h, bytes.as_ptr(), 3, 0, 1, 1, 3, e),
        2 => inferkit_request_set_encoded_image(h, bytes.as_ptr(), 4, e),
        3 => inferkit_request_set_text(h, c"hi".as_ptr(), e),
        _ => {
            let ids = [1i64, 2];
            inferkit_request_set_tokens(h, ids.as_ptr(), 2, e)
        }
    })
}

fuzz_target!(|data: &[u8]| {
    common::init();
    let mut r = Reader::new(data);
    let mut program = Program::default();
    let mut steps = 0;
    while !r.is_empty() && steps < 64 {
        program.step(&mut r);
        steps += 1;
    }
    program.finish(&mut r);
});
