//! Heap allocations per request on the request path: what a request allocates besides its result
//! (the outputs' list, each output's shape and data). A host that serves many small requests pays
//! each allocation in every call, and in allocator contention between its threads.
//!
//! Counted on the calling thread only (a thread-local counter in a counting global allocator): a
//! one-session model runs a request on the thread that submits it when the session is idle, so
//! every allocation of the request's life, its callback's included, happens on that thread.
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::fixture;
use inferkit::{BatchingOptions, Model, ModelOptions, Tensor, TensorView, Value};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: a thread being torn down may still allocate.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call forwards to the system allocator with the same arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// The tiny MLP (one input, one output) on one session that batches.
fn model() -> Model {
    Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default()
            .with_instances(1)
            .with_batching(BatchingOptions::default().with_max_batch_size(32)),
    )
    .expect("model")
}

/// Allocations of a request's result with one output: the list of outputs, the output's shape and
/// its data.
const RESULT: usize = 3;

#[test]
fn a_blocking_request_allocates_only_its_result() {
    let model = model();
    let name = model.signature().inputs[0].name.clone();
    let shape = [1usize, 16];
    let data = [0.25f32; 16];
    // The first runs make what a session keeps from run to run (kept output values).
    for _ in 0..4 {
        model
            .infer(&[(&*name, TensorView::from_slice(&shape, &data))])
            .expect("infer");
    }
    let calls = 50;
    let before = allocations();
    for _ in 0..calls {
        let outputs = model
            .infer(&[(&*name, TensorView::from_slice(&shape, &data))])
            .expect("infer");
        assert_eq!(outputs.len(), 1);
    }
    let per_call = (allocations() - before) as f64 / calls as f64;
    // Validation, the session's run and the result's copy: 5 before the validation's flags, the
    // request's views and the metrics hook were kept off the heap.
    assert!(
        per_call <= RESULT as f64,
        "{per_call} allocations per blocking call, {RESULT} expected (the result)"
    );
}

#[test]
fn an_asynchronous_request_allocates_its_result_its_callback_and_itself() {
    let model = model();
    let name = model.signature().inputs[0].name.clone();
    let tensor = Tensor::from_vec(vec![1, 16], vec![0.25f32; 16]).expect("tensor");
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let submit = |tx: std::sync::mpsc::SyncSender<usize>, input: Vec<(String, Value)>| {
        model
            .submit_with_callback(input, &Default::default(), move |r| {
                tx.send(r.expect("infer").len()).expect("send");
            })
            .expect("submit");
        assert_eq!(
            rx.try_recv(),
            Ok(1),
            "run on submission, the callback called"
        );
    };
    for _ in 0..4 {
        submit(
            tx.clone(),
            vec![(name.to_string(), Value::Tensor(tensor.clone()))],
        );
    }
    let calls = 50;
    let mut own = 0;
    let before = allocations();
    for _ in 0..calls {
        // The caller's own: the input's name, the list and the tensor (its shape and data).
        let at = allocations();
        let input = vec![(name.to_string(), Value::Tensor(tensor.clone()))];
        let tx = tx.clone();
        own += allocations() - at;
        submit(tx, input);
    }
    let per_call = (allocations() - before - own) as f64 / calls as f64;
    // Besides the result: the callback's box and the request itself, and the queue's share of a
    // block of slots (crossbeam's `SegQueue` allocates one every 31 requests). 13 in all before.
    let expected = (RESULT + 2) as f64 + 1.0 / 31.0;
    assert!(
        per_call <= expected + 0.01,
        "{per_call} allocations per asynchronous call, {expected:.2} expected"
    );
}

#[test]
fn a_c_request_run_allocates_only_its_result() {
    use inferkit::ffi::model::{inferkit_model_close, inferkit_model_open};
    use inferkit::ffi::options::{
        inferkit_model_options_free, inferkit_model_options_new,
        inferkit_model_options_set_instances,
    };
    use inferkit::ffi::outputs::inferkit_outputs_free;
    use inferkit::ffi::request::{
        inferkit_request_add_tensor, inferkit_request_free, inferkit_request_new,
        inferkit_request_run,
    };
    use inferkit::ErrorCode;
    use std::ptr::null_mut;

    let path = std::ffi::CString::new(fixture("mlp.onnx").to_str().expect("utf-8")).unwrap();
    let (mut options, mut model, mut request) = (null_mut(), null_mut(), null_mut());
    assert_eq!(
        inferkit_model_options_new(&mut options, null_mut()),
        ErrorCode::Ok
    );
    assert_eq!(
        inferkit_model_options_set_instances(options, 1, null_mut()),
        ErrorCode::Ok
    );
    assert_eq!(
        inferkit_model_open(path.as_ptr(), options, &mut model, null_mut()),
        ErrorCode::Ok
    );
    inferkit_model_options_free(options);
    assert_eq!(
        inferkit_request_new(model, &mut request, null_mut()),
        ErrorCode::Ok
    );
    let (shape, x) = ([1i64, 16], [0.25f32; 16]);
    let code = inferkit_request_add_tensor(
        request,
        c"x".as_ptr(),
        inferkit::DType::F32 as u32,
        shape.as_ptr(),
        2,
        x.as_ptr().cast(),
        std::mem::size_of_val(&x),
        null_mut(),
    );
    assert_eq!(code, ErrorCode::Ok);
    let run = || {
        let mut out = null_mut();
        assert_eq!(
            inferkit_request_run(request, &mut out, null_mut()),
            ErrorCode::Ok
        );
        inferkit_outputs_free(out);
    };
    for _ in 0..4 {
        run();
    }
    let calls = 50;
    let before = allocations();
    for _ in 0..calls {
        run();
    }
    let per_call = (allocations() - before) as f64 / calls as f64;
    // The result and the handle C gets for it; 5 before the views of the inputs were kept on the
    // stack.
    let expected = RESULT + 1;
    assert!(
        per_call <= expected as f64,
        "{per_call} allocations per inferkit_request_run, {expected} expected"
    );
    inferkit_request_free(request);
    inferkit_model_close(model);
}
