//! The bytes are a small program of C ABI calls: opening fixture models with fuzzed options,
//! building inputs with fuzzed names, dtypes, dims and byte lengths, synchronous, selected and
//! asynchronous inference (with callbacks that check and record their results, some of which
//! submit again from inside the callback), cancelling, cloning, pipelined inference, values of
//! every kind (string tensors, sequences, maps, optionals, nested, with NULLs), and freeing in a
//! fuzzed order, optionally while another thread runs inferences on the same model.
//!
//! The harness plays a correct host: it never passes a dangling or foreign handle and keeps
//! borrowed input bytes alive until the inference that uses them returns. NULL pointers, wrong
//! lengths, unknown enum values, non-UTF-8 strings and out-of-range indices are all fair game.
//!
//! Besides crashes, it checks the contracts the header states and panics (a finding) when one
//! breaks: a caught panic (INFERKIT_STATUS_PANIC), an error object whose code is not the status
//! returned, a failure without an error object when one was asked for, an out-parameter written on
//! failure or left unwritten on success, a callback called twice, called for a request that was
//! refused, never called for an accepted one, or called with a status that disagrees with its
//! outputs and error.
#![no_main]

mod common;

use std::ffi::{c_char, c_void, CStr, CString};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::{trace, Reader};
use inferkit::ffi::error::{inferkit_error_code, inferkit_error_free, inferkit_error_message};
use inferkit::ffi::inferkit_error;
use inferkit::ffi::metrics::{inferkit_model_metrics_json, inferkit_model_metrics_prometheus};
use inferkit::ffi::model::*;
use inferkit::ffi::pipeline::*;
use inferkit::ffi::registry::inferkit_string_free;
use inferkit::ffi::request::*;
use inferkit::ffi::tensor::*;
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
// SAFETY: inferkit documents models, outputs, errors and requests as usable from any thread; the
// harness never uses a non-thread-safe object (inputs, options) from two threads at once.
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}

/// What every callback reports to; lives until every accepted request has been answered.
#[derive(Default)]
struct Recorder {
    /// Results kept by callbacks for the program to read and free later.
    stash: Mutex<Vec<(Ptr<inferkit_outputs>, Ptr<inferkit_error>)>>,
    /// Requests submitted from callbacks and threads (leaf callbacks), accepted and answered.
    leaf_accepted: AtomicUsize,
    leaf_called: AtomicUsize,
}

/// One request submitted by the program, with its own userdata.
struct Slot {
    rec: Arc<Recorder>,
    /// Set once `inferkit_model_infer_async` has returned, with what it returned.
    submitted: AtomicBool,
    accepted: AtomicBool,
    calls: AtomicU32,
    finished: AtomicBool,
    /// Keep the result for later (true) or free it in the callback.
    stash: bool,
    /// Submit once more from inside the callback, with handles the slot owns.
    resubmit: Option<(Ptr<inferkit_model>, Ptr<inferkit_inputs>)>,
    /// A model handle the callback releases (NULL: none): a clone only this request knows, and
    /// sometimes the very handle it was submitted with, so that the callback may drop the last
    /// handle to the model from inside the call that runs it.
    release: std::sync::atomic::AtomicPtr<inferkit_model>,
}

/// Reads every byte of an outputs object, and asks for out-of-range and unknown things.
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

/// Checks the status/error contract and frees the error.
fn check(code: ErrorCode, err: &mut *mut inferkit_error, asked: bool) {
    if code == ErrorCode::Panic {
        let msg = if err.is_null() {
            String::new()
        } else {
            // SAFETY: a live error from inferkit.
            unsafe { CStr::from_ptr(inferkit_error_message(*err)) }
                .to_string_lossy()
                .into_owned()
        };
        panic!("inferkit caught a panic at the C boundary: {msg}");
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

/// Runs one fallible call, with `error_out` NULL or not as the program says.
fn call(r: &mut Reader, f: impl FnOnce(*mut *mut inferkit_error) -> ErrorCode) -> ErrorCode {
    let asked = r.u8() % 8 != 0;
    let mut err = std::ptr::null_mut();
    let code = f(if asked {
        &mut err
    } else {
        std::ptr::null_mut()
    });
    if trace() {
        let msg = if err.is_null() {
            String::new()
        } else {
            // SAFETY: a live error from inferkit.
            unsafe { CStr::from_ptr(inferkit_error_message(err)) }
                .to_string_lossy()
                .into_owned()
        };
        eprintln!("    -> {code:?} {msg}");
    }
    check(code, &mut err, asked);
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
    fn push(&mut self, p: *mut T) {
        assert!(!p.is_null(), "a NULL handle returned on success");
        self.0.push(p);
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
    answer(&slot.rec, status, outputs, error, slot.stash);
    if let Some((model, inputs)) = slot.resubmit {
        let mut err = std::ptr::null_mut();
        let rec = Arc::as_ptr(&slot.rec) as *mut c_void;
        let code = inferkit_model_infer_async(
            model.0,
            inputs.0,
            std::ptr::null(),
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
    inferkit_model_free(slot.release.swap(std::ptr::null_mut(), Ordering::SeqCst));
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
        "a callback told of a caught panic"
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
    borrowed: *const c_char,
}

impl Name {
    fn ptr(&self) -> *const c_char {
        self.owned.as_ref().map_or(self.borrowed, |c| c.as_ptr())
    }
}

fn name(r: &mut Reader, models: &Handles<inferkit_model>) -> Name {
    match r.u8() % 4 {
        0 => Name {
            owned: None,
            borrowed: std::ptr::null(),
        },
        1 => {
            let bytes: Vec<u8> = r.bytes(16).iter().copied().filter(|b| *b != 0).collect();
            Name {
                owned: Some(CString::new(bytes).expect("NULs removed")),
                borrowed: std::ptr::null(),
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
            // The string belongs to the model handle: copy it, as the handle may be freed first.
            let owned = (code == ErrorCode::Ok)
                // SAFETY: inferkit returned a NUL-terminated string owned by a live handle.
                .then(|| unsafe { CStr::from_ptr(p) }.to_owned());
            Name {
                owned,
                borrowed: std::ptr::null(),
            }
        }
    }
}

/// Bytes for an input: borrowed bytes must outlive the inputs that point at them, so they live
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

/// Makes a value of a fuzzed kind: a tensor of any dtype (byte length right or not), strings (with
/// lengths or NUL-terminated, NULL pointers among them), a sequence, a map or an optional of
/// values made the same way, or NULL. The caller frees it.
fn make_value(r: &mut Reader, arena: &mut Vec<Vec<u64>>, depth: usize) -> *mut inferkit_value {
    let mut out = std::ptr::null_mut();
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
            // A correct host passes one pointer per element of `dims` (or NULL, when the shape
            // is too large for the harness to fill: inferkit must then refuse, not read).
            call(r, |e| {
                inferkit_value_new_strings(
                    dims.as_ptr(),
                    rank,
                    if ptrs.is_empty() { std::ptr::null() } else { ptrs.as_ptr() },
                    if with_lengths { lengths.as_ptr() } else { std::ptr::null() },
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

/// Adds one input with everything fuzzed: name, dtype, rank, dims, byte length, pointers.
fn add_raw(
    r: &mut Reader,
    inputs: *mut inferkit_inputs,
    models: &Handles<inferkit_model>,
    arena: &mut Vec<Vec<u64>>,
) {
    let name = name(r, models);
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
    let shape = if r.u8() % 16 == 0 {
        std::ptr::null()
    } else {
        dims.as_ptr()
    };
    let data = if r.u8() % 16 == 0 {
        std::ptr::null()
    } else {
        buffer(r, arena, len)
    };
    let copy = r.bool();
    call(r, |e| {
        if copy {
            inferkit_inputs_add_copy(inputs, name.ptr(), dtype, shape, rank, data, len, e)
        } else {
            inferkit_inputs_add(inputs, name.ptr(), dtype, shape, rank, data, len, e)
        }
    });
}

/// Adds every input a model declares, with dynamic dims chosen by the program and exact bytes:
/// requests that pass validation and reach ONNX Runtime and the batcher.
/// `many` lets the batch dim reach 256 rows (for threads that should keep a session busy).
fn add_matching(
    r: &mut Reader,
    inputs: *mut inferkit_inputs,
    model: *const inferkit_model,
    arena: &mut Vec<Vec<u64>>,
    many: bool,
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
        let mut err = std::ptr::null_mut();
        let code = if copy {
            inferkit_inputs_add_copy(
                inputs,
                name,
                dtype,
                dims.as_ptr(),
                rank,
                data,
                len,
                &mut err,
            )
        } else {
            inferkit_inputs_add(
                inputs,
                name,
                dtype,
                dims.as_ptr(),
                rank,
                data,
                len,
                &mut err,
            )
        };
        check(code, &mut err, true);
    }
}

fn options(r: &mut Reader) -> *mut inferkit_model_options {
    let o = inferkit_model_options_new();
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

fn infer_options(r: &mut Reader, models: &Handles<inferkit_model>) -> *mut inferkit_infer_options {
    let o = inferkit_infer_options_new();
    assert!(!o.is_null());
    let timeout = match r.u8() % 5 {
        0 => 0,
        1 => 1,
        2 => 1000,
        3 => u64::MAX,
        _ => r.u64(),
    };
    call(r, |e| inferkit_infer_options_set_timeout_us(o, timeout, e));
    if r.bool() {
        let names: Vec<Name> = (0..r.u8() % 4).map(|_| name(r, models)).collect();
        let ptrs: Vec<*const c_char> = names.iter().map(Name::ptr).collect();
        let count = if r.u8() % 8 == 0 {
            ptrs.len() + 1
        } else {
            ptrs.len()
        };
        let base = if count > ptrs.len() {
            std::ptr::null()
        } else {
            ptrs.as_ptr()
        };
        call(r, |e| inferkit_infer_options_set_outputs(o, base, count, e));
    }
    o
}

/// Reads a pipelined result and frees it.
fn touch_result(result: *mut inferkit_result) {
    touch_outputs(inferkit_result_outputs(result));
    let rows = inferkit_result_rows(result);
    for row in 0..=rows {
        let k = inferkit_result_class_count(result, row);
        for rank in 0..=k {
            let (mut index, mut label, mut score) = (0usize, std::ptr::null(), 0f32);
            let mut err = std::ptr::null_mut();
            let code = inferkit_result_class(
                result, row, rank, &mut index, &mut label, &mut score, &mut err,
            );
            check(code, &mut err, true);
            assert_eq!(
                code == ErrorCode::Ok,
                row < rows && rank < k,
                "class {row}/{rank}"
            );
            if !label.is_null() {
                // SAFETY: a NUL-terminated label owned by the result.
                let _ = unsafe { CStr::from_ptr(label) }.to_bytes().len();
            }
        }
    }
    inferkit_result_free(result);
}

const OP_NAMES: [&str; 27] = [
    "open",
    "open",
    "open_bytes",
    "model_options",
    "model_options_free",
    "inputs_new",
    "inputs_add (raw)",
    "inputs_add (matching)",
    "inputs_add (matching)",
    "inputs_clear/count",
    "inputs_free",
    "infer",
    "infer",
    "infer_async",
    "infer_async",
    "request_cancel",
    "request_free",
    "model_clone",
    "model_free",
    "outputs (read)",
    "outputs_free",
    "infer_options new/free",
    "queries",
    "pipelined",
    "stash (read/free)",
    "thread",
    "inputs_add_value",
];

#[derive(Default)]
struct Program {
    models: Handles<inferkit_model>,
    model_options: Handles<inferkit_model_options>,
    inputs: Handles<inferkit_inputs>,
    outputs: Handles<inferkit_outputs>,
    requests: Handles<inferkit_request>,
    infer_options: Handles<inferkit_infer_options>,
    arena: Vec<Vec<u64>>,
    slots: Vec<Box<Slot>>,
    rec: Arc<Recorder>,
    threads: Vec<std::thread::JoinHandle<()>>,
    /// Handles owned by slots (for submitting from callbacks), freed at the end.
    slot_handles: Vec<(Ptr<inferkit_model>, Ptr<inferkit_inputs>)>,
}

impl<T> Default for Handles<T> {
    fn default() -> Self {
        Handles(Vec::new())
    }
}

impl Program {
    fn step(&mut self, r: &mut Reader) {
        let op = r.u8() % 27;
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
                }
            }
            3 => {
                if self.model_options.0.len() < 4 {
                    let o = options(r);
                    self.model_options.push(o);
                }
            }
            4 => inferkit_model_options_free(self.model_options.take(r)),
            5 => {
                if self.inputs.0.len() < 6 {
                    self.inputs.push(inferkit_inputs_new());
                }
            }
            6 => {
                let i = self.inputs.pick(r);
                add_raw(r, i, &self.models, &mut self.arena);
            }
            7 | 8 => {
                let i = self.inputs.pick(r);
                let m = self.models.pick(r);
                if !i.is_null() {
                    add_matching(r, i, m, &mut self.arena, false);
                }
            }
            9 => {
                let i = self.inputs.pick(r);
                if r.bool() {
                    inferkit_inputs_clear(i);
                } else {
                    std::hint::black_box(inferkit_inputs_count(i));
                }
            }
            10 => inferkit_inputs_free(self.inputs.take(r)),
            // Synchronous inference, plain, with options, or selecting outputs.
            11 | 12 => {
                let m = self.models.pick(r);
                let i = self.inputs.pick(r);
                let mut out = std::ptr::null_mut();
                let want = r.u8() % 16 != 0;
                let out_ptr = if want {
                    &mut out as *mut _
                } else {
                    std::ptr::null_mut()
                };
                let code = match r.u8() % 3 {
                    0 => call(r, |e| inferkit_model_infer(m, i, out_ptr, e)),
                    1 => {
                        let o = self.infer_options.pick(r);
                        call(r, |e| {
                            inferkit_model_infer_with_options(m, i, o, out_ptr, e)
                        })
                    }
                    _ => {
                        let names: Vec<Name> =
                            (0..r.u8() % 4).map(|_| name(r, &self.models)).collect();
                        let ptrs: Vec<*const c_char> = names.iter().map(Name::ptr).collect();
                        let base = if r.u8() % 8 == 0 {
                            std::ptr::null()
                        } else {
                            ptrs.as_ptr()
                        };
                        call(r, |e| {
                            inferkit_model_infer_select(m, i, base, ptrs.len(), out_ptr, e)
                        })
                    }
                };
                if code == ErrorCode::Ok {
                    touch_outputs(out);
                    self.outputs.push(out);
                } else {
                    assert!(out.is_null(), "outputs_out written on failure");
                }
            }
            // Asynchronous inference with a callback.
            13 | 14 => self.submit(r),
            15 => {
                let q = self.requests.pick(r);
                let done_before = inferkit_request_is_done(q);
                let cancelled = inferkit_request_cancel(q);
                if trace() {
                    eprintln!("    cancelled: {cancelled} (done before: {done_before})");
                }
                if cancelled {
                    assert!(!done_before, "a finished request was cancelled");
                    assert!(inferkit_request_is_done(q), "cancelled but not done");
                }
            }
            16 => inferkit_request_free(self.requests.take(r)),
            17 => {
                let m = self.models.pick(r);
                let c = inferkit_model_clone(m);
                assert_eq!(c.is_null(), m.is_null(), "clone");
                if !c.is_null() {
                    self.models.push(c);
                }
            }
            18 => inferkit_model_free(self.models.take(r)),
            19 => touch_outputs(self.outputs.pick(r)),
            20 => inferkit_outputs_free(self.outputs.take(r)),
            21 => {
                if r.bool() && self.infer_options.0.len() < 4 {
                    let o = infer_options(r, &self.models);
                    self.infer_options.push(o);
                } else {
                    inferkit_infer_options_free(self.infer_options.take(r));
                }
            }
            // Signature, stats and metrics queries with fuzzed indices.
            22 => self.query(r),
            // Pipelined inference: pixels, encoded bytes, token ids, or a raw tensor.
            23 => self.pipelined(r),
            // A value of any kind, added under a fuzzed name (copied), then freed.
            26 => {
                let i = self.inputs.pick(r);
                let name = name(r, &self.models);
                let v = make_value(r, &mut self.arena, 0);
                let before = inferkit_inputs_count(i);
                let code = call(r, |e| inferkit_inputs_add_value(i, name.ptr(), v, e));
                if code == ErrorCode::Ok {
                    assert_eq!(inferkit_inputs_count(i), before + 1, "add_value added one");
                }
                inferkit_value_free(v);
            }
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
            // Another thread runs inferences on a clone of a model while the program goes on.
            _ => self.spawn(r),
        }
    }

    fn submit(&mut self, r: &mut Reader) {
        if self.slots.len() >= 64 {
            return;
        }
        let m = self.models.pick(r);
        let i = self.inputs.pick(r);
        let o = self.infer_options.pick(r);
        let flags = r.u8();
        // The callback releases a model handle: a clone of `m` only the request knows or, when no
        // thread of the program runs (so that no other call can be using it), `m` itself, which the
        // program then gives up. inferkit pins a model for the length of a call, so releasing even
        // the last handle from a callback that runs inside infer_async(m) must be safe.
        let release = if flags & 8 == 0 || m.is_null() {
            std::ptr::null_mut()
        } else if flags & 0x80 != 0 && self.threads.is_empty() {
            self.models.0.retain(|h| *h != m);
            m
        } else {
            inferkit_model_clone(m)
        };
        let resubmit = if flags & 4 != 0 && !m.is_null() {
            // The callback submits again, to a clone of this model, with inputs the slot owns.
            let clone = inferkit_model_clone(m);
            let inputs = inferkit_inputs_new();
            add_matching(r, inputs, clone, &mut self.arena, false);
            self.slot_handles.push((Ptr(clone), Ptr(inputs)));
            Some((Ptr(clone), Ptr(inputs)))
        } else {
            None
        };
        let slot = Box::new(Slot {
            rec: self.rec.clone(),
            submitted: AtomicBool::new(false),
            accepted: AtomicBool::new(false),
            calls: AtomicU32::new(0),
            finished: AtomicBool::new(false),
            stash: flags & 2 != 0,
            resubmit,
            release: std::sync::atomic::AtomicPtr::new(release),
        });
        let userdata = &*slot as *const Slot as *mut c_void;
        let callback = if flags & 0x70 == 0 {
            None
        } else {
            Some(on_slot as _)
        };
        let mut request = std::ptr::null_mut();
        let want = flags & 1 != 0;
        // `accepted` must be set before a callback on another thread can check it: assume
        // acceptance, and correct it if the call refuses.
        slot.accepted.store(true, Ordering::SeqCst);
        let code = call(r, |e| {
            inferkit_model_infer_async(
                m,
                i,
                o,
                callback,
                userdata,
                if want {
                    &mut request
                } else {
                    std::ptr::null_mut()
                },
                e,
            )
        });
        if code != ErrorCode::Ok {
            // Refused: no callback will release the handle.
            inferkit_model_free(slot.release.swap(std::ptr::null_mut(), Ordering::SeqCst));
            slot.accepted.store(false, Ordering::SeqCst);
            assert_eq!(
                slot.calls.load(Ordering::SeqCst),
                0,
                "callback called, status {code:?}"
            );
            assert!(request.is_null(), "request_out written on failure");
        } else if want {
            self.requests.push(request);
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
        }
    }

    fn pipelined(&mut self, r: &mut Reader) {
        let m = self.models.pick(r);
        let mut result = std::ptr::null_mut();
        let want = r.u8() % 16 != 0;
        let out = if want {
            &mut result as *mut _
        } else {
            std::ptr::null_mut()
        };
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
                    inferkit_model_infer_image(
                        m, pixels, len, format, width, height, stride, out, e,
                    )
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
                    inferkit_model_infer_encoded_image(m, bytes.as_ptr(), bytes.len(), out, e)
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
                call(r, |e| {
                    inferkit_model_infer_sequence(m, base, ids.len(), out, e)
                })
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
                call(r, |e| inferkit_model_infer_text(m, text.as_ptr(), out, e))
            }
            _ => {
                let i = self.inputs.pick(r);
                call(r, |e| inferkit_model_infer_pipeline(m, i, out, e))
            }
        };
        if code == ErrorCode::Ok {
            touch_result(result);
        } else {
            assert!(result.is_null(), "result_out written on failure");
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
        let clone = Ptr(inferkit_model_clone(m));
        let inputs = Ptr(inferkit_inputs_new());
        add_matching(r, inputs.0, clone.0, &mut self.arena, true);
        let runs = 1 + r.u8() % 8;
        let rec = Ptr(Arc::as_ptr(&self.rec) as *mut Recorder);
        let started = Arc::new(AtomicBool::new(false));
        let go = started.clone();
        let thread = std::thread::spawn(move || {
            let (clone, inputs, rec) = (clone, inputs, rec);
            for n in 0..runs {
                go.store(true, Ordering::SeqCst);
                let mut err = std::ptr::null_mut();
                if n % 2 == 0 {
                    let mut out = std::ptr::null_mut();
                    let code = inferkit_model_infer(clone.0, inputs.0, &mut out, &mut err);
                    check(code, &mut err, true);
                    if code == ErrorCode::Ok {
                        touch_outputs(out);
                        inferkit_outputs_free(out);
                    }
                } else {
                    let code = inferkit_model_infer_async(
                        clone.0,
                        inputs.0,
                        std::ptr::null(),
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
            inferkit_inputs_free(inputs.0);
            inferkit_model_free(clone.0);
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
        // every handle to their model is gone.
        let order = r.u8();
        if order & 1 != 0 {
            for q in self.requests.0.drain(..) {
                inferkit_request_free(q);
            }
            for m in self.models.0.drain(..) {
                inferkit_model_free(m);
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
        for q in self.requests.0.drain(..) {
            assert!(inferkit_request_is_done(q), "answered but not done");
            assert!(
                !inferkit_request_cancel(q),
                "a finished request was cancelled"
            );
            inferkit_request_free(q);
        }
        for (m, i) in self.slot_handles.drain(..) {
            inferkit_inputs_free(i.0);
            inferkit_model_free(m.0);
        }
        for m in self.models.0.drain(..) {
            inferkit_model_free(m);
        }
        for o in self.outputs.0.drain(..) {
            inferkit_outputs_free(o);
        }
        for i in self.inputs.0.drain(..) {
            inferkit_inputs_free(i);
        }
        for o in self.model_options.0.drain(..) {
            inferkit_model_options_free(o);
        }
        for o in self.infer_options.0.drain(..) {
            inferkit_infer_options_free(o);
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
