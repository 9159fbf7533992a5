//! The session pool and dynamic batching: results under contention equal unbatched results
//! bitwise; shapes never mix; deadlines, a full queue, cancellation and a failing batch behave as
//! documented; async and callback forms.
mod common;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use common::fixture;
use inferkit::{
    BatchingOptions, CancelToken, Error, ErrorCode, InferOptions, Model, ModelOptions, Outputs,
    Tensor, TensorView,
};

/// Batching turned on, as a model's owner does for a model whose rows are independent (it is off
/// by default).
fn batched() -> BatchingOptions {
    BatchingOptions::default().with_max_batch_size(32)
}

fn opts(instances: usize, batching: BatchingOptions) -> ModelOptions {
    ModelOptions::default()
        .with_instances(instances)
        .with_batching(batching)
}

fn unbatched(name: &str) -> Model {
    Model::open_with(
        fixture(name),
        &opts(1, BatchingOptions::default().with_max_batch_size(1)),
    )
    .unwrap()
}

/// Distinct, reproducible inputs for request `i` of `rows` rows and `width` columns.
fn input(i: usize, rows: usize, width: usize) -> Vec<f32> {
    (0..rows * width)
        .map(|j| (((i * 7919 + j * 104729) % 2000) as f32 - 1000.0) / 250.0)
        .collect()
}

/// Runs a future to completion on this thread, parking between polls: no async runtime.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

/// Keeps the model's only session busy on a large `slow` request in another thread until joined.
fn occupy(model: &Arc<Model>, rows: usize) -> std::thread::JoinHandle<Outputs> {
    let m = model.clone();
    let handle = std::thread::spawn(move || {
        let x = vec![0.5f32; rows * 256];
        m.infer(&[("x", TensorView::from_slice(vec![rows, 256], &x))])
            .unwrap()
    });
    let start = Instant::now();
    while model.stats().idle_instances > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the session never became busy"
        );
        std::thread::yield_now();
    }
    handle
}

#[test]
fn batched_results_equal_unbatched_results_bitwise() {
    const THREADS: usize = 32;
    const PER_THREAD: usize = 100;
    let reference = unbatched("mlp.onnx");
    let model = Model::open_with(
        fixture("mlp.onnx"),
        &opts(1, BatchingOptions::default().with_max_batch_size(32)),
    )
    .unwrap();
    assert!(model.batchable());
    let barrier = Barrier::new(THREADS);
    let mismatches = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (model, reference, barrier, mismatches) =
                (&model, &reference, &barrier, &mismatches);
            s.spawn(move || {
                barrier.wait();
                for k in 0..PER_THREAD {
                    let i = t * PER_THREAD + k;
                    let rows = 1 + i % 3; // multi-row requests too
                    let x = input(i, rows, 16);
                    let view = [("x", TensorView::from_slice(vec![rows, 16], &x))];
                    let got = model.infer(&view).unwrap();
                    let want = reference.infer(&view).unwrap();
                    assert_eq!(got["y"].shape(), &[rows, 4]);
                    if got != want {
                        mismatches.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(
        mismatches.load(Ordering::Relaxed),
        0,
        "batched outputs differ from unbatched ones"
    );
    let stats = model.stats();
    assert_eq!(stats.requests_run, (THREADS * PER_THREAD) as u64);
    assert!(
        stats.executions < stats.requests_run,
        "32 threads on one session never formed a batch: {stats:?}"
    );
    common::assert_settles(&model);
}

#[test]
fn requests_of_different_shapes_are_never_concatenated() {
    const THREADS: usize = 16;
    let reference = unbatched("sequence.onnx");
    let model = Model::open_with(fixture("sequence.onnx"), &opts(1, batched())).unwrap();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (model, reference) = (&model, &reference);
            s.spawn(move || {
                for k in 0..60 {
                    let seq = 1 + (t + k) % 5; // the `seq` dim differs between requests
                    let rows = 1 + k % 2;
                    let x = input(t * 1000 + k, rows * seq, 8);
                    let view = [("tokens", TensorView::from_slice(vec![rows, seq, 8], &x))];
                    let got = model.infer(&view).unwrap();
                    assert_eq!(got["scores"].shape(), &[rows, seq]);
                    assert_eq!(got, reference.infer(&view).unwrap());
                }
            });
        }
    });
    let stats = model.stats();
    assert!(stats.executions <= stats.requests_run);
}

#[test]
fn every_request_gets_its_own_rows_under_the_timed_policy() {
    // With a long delay and a preferred size of 4, four requests form one batch deterministically.
    let batching = BatchingOptions::default()
        .with_max_batch_size(32)
        .with_max_queue_delay_us(2_000_000)
        .with_preferred_batch_sizes([4]);
    let model = Model::open_with(fixture("two_io.onnx"), &opts(1, batching)).unwrap();
    let reference = unbatched("two_io.onnx");
    let results: Vec<(Outputs, Outputs)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let (model, reference) = (&model, &reference);
                s.spawn(move || {
                    let f = input(i, 1, 3);
                    let o = [i as i64 * 100];
                    let view = [
                        ("features", TensorView::from_slice(vec![1, 3], &f)),
                        ("offsets", TensorView::from_slice(vec![1], &o)),
                    ];
                    (model.infer(&view).unwrap(), reference.infer(&view).unwrap())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (got, want) in &results {
        assert_eq!(got, want);
    }
    let stats = model.stats();
    assert_eq!(
        (stats.executions, stats.requests_run),
        (1, 4),
        "four requests, one batch: {stats:?}"
    );
}

#[test]
fn a_deadline_that_passes_in_the_queue_means_the_request_is_not_run() {
    let model = Arc::new(Model::open_with(fixture("slow.onnx"), &opts(1, batched())).unwrap());
    let busy = occupy(&model, 16_000);
    let x = vec![1.0f32; 256];
    let options = InferOptions::default().with_timeout(Duration::from_millis(5));
    let started = Instant::now();
    let err = model
        .infer_with(&[("x", TensorView::from_slice(vec![1, 256], &x))], &options)
        .unwrap_err();
    assert!(
        matches!(&err, Error::DeadlineExceeded { model } if model == "slow"),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the caller was released at its deadline"
    );
    busy.join().unwrap();
    // The withdrawn request is dropped from the queue without running.
    model
        .infer(&[("x", TensorView::from_slice(vec![1, 256], &x))])
        .unwrap();
    let stats = model.stats();
    assert_eq!((stats.executions, stats.requests_run), (2, 2), "{stats:?}");
    // A deadline already past is refused before anything runs.
    let past = InferOptions::default().with_deadline(Instant::now() - Duration::from_millis(1));
    assert_eq!(
        model
            .infer_with(&[("x", TensorView::from_slice(vec![1, 256], &x))], &past)
            .unwrap_err()
            .code(),
        ErrorCode::DeadlineExceeded
    );
}

#[test]
fn a_full_queue_refuses_at_once_and_loses_nothing_accepted() {
    let batching = BatchingOptions::default()
        .with_max_batch_size(32)
        .with_max_queue_size(2);
    let model = Arc::new(Model::open_with(fixture("slow.onnx"), &opts(1, batching)).unwrap());
    let busy = occupy(&model, 16_000);
    let req = |v: f32| {
        vec![(
            "x".to_string(),
            Tensor::from_vec(vec![1, 256], vec![v; 256]).unwrap(),
        )]
    };
    let a = model.submit(req(0.1), &InferOptions::default()).unwrap();
    let b = model.submit(req(0.2), &InferOptions::default()).unwrap();
    let started = Instant::now();
    let err = model
        .submit(req(0.3), &InferOptions::default())
        .unwrap_err();
    assert!(
        matches!(&err, Error::QueueFull { capacity: 2, .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "QueueFull comes at once"
    );
    let x = vec![0.3f32; 256];
    assert_eq!(
        model
            .infer(&[("x", TensorView::from_slice(vec![1, 256], &x))])
            .unwrap_err()
            .code(),
        ErrorCode::QueueFull
    );
    busy.join().unwrap();
    let reference = unbatched("slow.onnx");
    for (fut, v) in [(a, 0.1f32), (b, 0.2)] {
        let got = block_on(fut).unwrap();
        let x = vec![v; 256];
        assert_eq!(
            got,
            reference
                .infer(&[("x", TensorView::from_slice(vec![1, 256], &x))])
                .unwrap()
        );
    }
}

#[test]
fn a_queued_request_can_be_cancelled() {
    let model = Arc::new(Model::open_with(fixture("slow.onnx"), &opts(1, batched())).unwrap());
    let busy = occupy(&model, 16_000);
    let req = |v: f32| {
        vec![(
            "x".to_string(),
            Tensor::from_vec(vec![1, 256], vec![v; 256]).unwrap(),
        )]
    };
    let cancelled = model.submit(req(0.1), &InferOptions::default()).unwrap();
    let kept = model.submit(req(0.2), &InferOptions::default()).unwrap();
    let (tx, rx) = mpsc::channel();
    let handle = model
        .submit_with_callback(req(0.3), &InferOptions::default(), move |r| {
            tx.send(r).unwrap()
        })
        .unwrap();
    assert!(cancelled.cancel());
    assert!(!cancelled.cancel(), "cancelling twice does nothing");
    assert!(handle.cancel());
    let err = rx
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.code(),
        ErrorCode::Cancelled,
        "the callback hears of its cancellation"
    );
    assert_eq!(
        block_on(cancelled).unwrap_err().code(),
        ErrorCode::Cancelled
    );
    busy.join().unwrap();
    assert!(block_on(kept).is_ok());
    let stats = model.stats();
    assert_eq!(
        stats.requests_run, 2,
        "the busy request and the kept one ran, the cancelled ones did not: {stats:?}"
    );
}

#[test]
fn an_inference_error_fails_only_the_requests_of_its_batch() {
    let batching = BatchingOptions::default()
        .with_max_batch_size(32)
        .with_max_queue_delay_us(2_000_000)
        .with_preferred_batch_sizes([3]);
    let model = Model::open_with(fixture("gather.onnx"), &opts(1, batching)).unwrap();
    let run = |index: [i64; 2]| {
        let data = [1.0f32, 2.0, 3.0, 4.0];
        model.infer(&[
            ("data", TensorView::from_slice(vec![1, 4], &data)),
            ("index", TensorView::from_slice(vec![1, 2], &index)),
        ])
    };
    // Three requests, one of them bad, form one batch: all three fail with ONNX Runtime's message.
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = [[0, 1], [0, 9], [3, 2]]
            .into_iter()
            .map(|ix| s.spawn(move || run(ix)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &results {
        match r {
            Err(Error::Inference { model, message }) => {
                assert_eq!(model, "gather");
                assert!(
                    message.contains("Out of range value in index tensor"),
                    "{message}"
                );
            }
            other => panic!("expected an inference error, got {other:?}"),
        }
    }
    assert_eq!(model.stats().executions, 1);
    // The next batch is unaffected.
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = [[0, 1], [1, 2], [3, 3]]
            .into_iter()
            .map(|ix| s.spawn(move || run(ix)))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let firsts: Vec<f32> = results
        .iter()
        .map(|r| r.as_ref().unwrap()["y"].as_slice::<f32>().unwrap()[0])
        .collect();
    let mut sorted = firsts.clone();
    sorted.sort_by(f32::total_cmp);
    assert_eq!(sorted, vec![1.0, 2.0, 4.0]);
}

/// Under a timed policy, the wait for a preferred batch ends when enough rows are counted as
/// queued; every request counted must then be in the queue for the batch to take. Counted before
/// its push, a request could be counted, end the wait, and miss the batch: it then waited a whole
/// delay (2 s here) for company of its own. Found on aarch64 under qemu (`make test-aarch64`),
/// where a process's first requests run through freshly translated code and the window between
/// count and push is wide: 3 of 30 processes running three requests once. The loom model
/// `handoff::loom_tests::every_row_counted_can_be_taken` fails on that order every time; here,
/// each of 60 rounds of three concurrent requests must form one batch.
#[test]
fn a_preferred_batch_takes_every_request_that_ended_its_wait() {
    let batching = BatchingOptions::default()
        .with_max_batch_size(32)
        .with_max_queue_delay_us(2_000_000)
        .with_preferred_batch_sizes([3]);
    let model = Model::open_with(fixture("mlp.onnx"), &opts(1, batching)).unwrap();
    const ROUNDS: u64 = 60;
    for round in 0..ROUNDS {
        let start = Instant::now();
        std::thread::scope(|s| {
            for t in 0..3 {
                let model = &model;
                s.spawn(move || {
                    let x = input(round as usize * 3 + t, 1, 16);
                    model
                        .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
                        .unwrap();
                });
            }
        });
        assert_eq!(
            model.stats().executions,
            round + 1,
            "round {round}: three requests ran as more than one batch (after {:?})",
            start.elapsed()
        );
    }
}

#[test]
fn async_requests_complete_without_an_async_runtime() {
    let model = Model::open_with(fixture("mlp.onnx"), &opts(1, batched())).unwrap();
    let reference = unbatched("mlp.onnx");
    std::thread::scope(|s| {
        for t in 0..8 {
            let (model, reference) = (&model, &reference);
            s.spawn(move || {
                for k in 0..50 {
                    let x = input(t * 100 + k, 1, 16);
                    let fut = model
                        .submit(
                            vec![(
                                "x".into(),
                                Tensor::from_vec(vec![1, 16], x.clone()).unwrap(),
                            )],
                            &InferOptions::default(),
                        )
                        .unwrap();
                    let got = block_on(fut).unwrap();
                    assert_eq!(
                        got,
                        reference
                            .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
                            .unwrap()
                    );
                }
            });
        }
    });
    // Validation errors come back at submission.
    let err = model.submit(
        vec![(
            "nope".into(),
            Tensor::zeros(inferkit::DType::F32, vec![1, 16]).unwrap(),
        )],
        &InferOptions::default(),
    );
    assert_eq!(err.unwrap_err().code(), ErrorCode::UnknownInput);
}

#[test]
fn callbacks_receive_every_result() {
    let model = Model::open_with(fixture("mlp.onnx"), &opts(1, batched())).unwrap();
    let (tx, rx) = mpsc::channel::<(usize, Result<Outputs, Error>)>();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (model, tx) = (&model, tx.clone());
            s.spawn(move || {
                for k in 0..25 {
                    let id = t * 25 + k;
                    let x = Tensor::from_vec(vec![1, 16], input(id, 1, 16)).unwrap();
                    let tx = tx.clone();
                    model
                        .submit_with_callback(
                            vec![("x".into(), x)],
                            &InferOptions::default(),
                            move |r| tx.send((id, r)).unwrap(),
                        )
                        .unwrap();
                }
            });
        }
    });
    drop(tx);
    let reference = unbatched("mlp.onnx");
    let mut seen = [false; 200];
    for (id, result) in rx.iter() {
        assert!(
            !std::mem::replace(&mut seen[id], true),
            "callback {id} called twice"
        );
        let x = input(id, 1, 16);
        assert_eq!(
            result.unwrap(),
            reference
                .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
                .unwrap()
        );
    }
    assert!(seen.iter().all(|s| *s), "every callback was called");
}

#[test]
fn output_subsets_batch_separately_and_correctly() {
    let model = Model::open_with(fixture("two_io.onnx"), &opts(1, batched())).unwrap();
    let reference = unbatched("two_io.onnx");
    std::thread::scope(|s| {
        for t in 0..8 {
            let (model, reference) = (&model, &reference);
            s.spawn(move || {
                for k in 0..50 {
                    let f = input(t * 100 + k, 2, 3);
                    let o = [k as i64, -(t as i64)];
                    let view = [
                        ("features", TensorView::from_slice(vec![2, 3], &f)),
                        ("offsets", TensorView::from_slice(vec![2], &o)),
                    ];
                    let outputs: &[&str] = if k % 2 == 0 {
                        &["doubled"]
                    } else {
                        &["sum", "doubled"]
                    };
                    let options = InferOptions::default().with_outputs(outputs.iter().copied());
                    let got = model.infer_with(&view, &options).unwrap();
                    assert_eq!(got, reference.infer_with(&view, &options).unwrap());
                }
            });
        }
    });
}

#[test]
fn a_callback_that_makes_a_blocking_call_on_its_own_model_gets_an_error_not_a_deadlock() {
    // The callback runs on the thread that holds the model's only session: a blocking call on the
    // same model would wait for that session for ever. It is refused at once, with its own code;
    // submitting from the callback, or a blocking call on another model, still works.
    let model = Arc::new(Model::open_with(fixture("mlp.onnx"), &opts(1, batched())).unwrap());
    let other = Arc::new(Model::open(fixture("mlp_v2.onnx")).unwrap());
    let x = input(0, 1, 16);
    let (tx, rx) = mpsc::channel();
    let (m, o) = (model.clone(), other.clone());
    let xc = x.clone();
    // Submitted from another thread: with the session idle, the callback runs inside the submit
    // call, and a deadlock would keep that thread for ever (this one then fails after 30 s).
    let submitter = model.clone();
    std::thread::spawn(move || {
        submitter
            .submit_with_callback(
                vec![(
                    "x".to_string(),
                    Tensor::from_vec(vec![1, 16], xc.clone()).unwrap(),
                )],
                &InferOptions::default(),
                move |first| {
                    let own = m.infer(&[("x", TensorView::from_slice(vec![1, 16], &xc))]);
                    let elsewhere = o.infer(&[("x", TensorView::from_slice(vec![1, 16], &xc))]);
                    tx.send((first.is_ok(), own.map(|_| ()), elsewhere.is_ok()))
                        .unwrap();
                },
            )
            .unwrap();
    });
    let (first, own, elsewhere) = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the callback finished: no deadlock");
    assert!(first && elsewhere);
    let err = own.unwrap_err();
    assert_eq!(err.code(), ErrorCode::WouldDeadlock, "{err}");
    assert!(err.to_string().contains("callback"), "{err}");
    // Outside callbacks the model serves blocking calls as before.
    model
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
        .unwrap();
}

#[test]
fn the_timed_policy_never_holds_a_request_past_its_deadline() {
    // A 2 s batching delay and a lone request with a 500 ms timeout: the wait for company ends
    // before the deadline (it returned OK after 2 s before), leaving a tenth of the time, 50 ms,
    // for the waiting thread to wake and run on a loaded 2-CPU machine (10 ms, with a 100 ms
    // timeout, was once not enough in CI). Blocking, async and callback forms.
    let model = Arc::new(
        Model::open_with(
            fixture("mlp.onnx"),
            &opts(
                1,
                BatchingOptions::default()
                    .with_max_batch_size(32)
                    .with_max_queue_delay_us(2_000_000),
            ),
        )
        .unwrap(),
    );
    let x = input(0, 1, 16);
    let timeout = InferOptions::default().with_timeout(Duration::from_millis(500));
    // It runs, before its deadline, having waited for company until shortly before it.
    let within = |took: Duration, result: &Result<Outputs, Error>| {
        assert!(took < Duration::from_secs(1), "took {took:?}");
        assert!(result.is_ok(), "{result:?}");
    };
    let t0 = Instant::now();
    let r = model.infer_with(&[("x", TensorView::from_slice(vec![1, 16], &x))], &timeout);
    within(t0.elapsed(), &r);
    let t0 = Instant::now();
    let fut = model
        .submit(
            vec![(
                "x".to_string(),
                Tensor::from_vec(vec![1, 16], x.clone()).unwrap(),
            )],
            &timeout,
        )
        .unwrap();
    let r = block_on(fut);
    within(t0.elapsed(), &r);
    let (tx, rx) = mpsc::channel();
    let t0 = Instant::now();
    model
        .submit_with_callback(
            vec![(
                "x".to_string(),
                Tensor::from_vec(vec![1, 16], x.clone()).unwrap(),
            )],
            &timeout,
            move |r| tx.send(r).unwrap(),
        )
        .unwrap();
    let r = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    within(t0.elapsed(), &r);
    // Without a deadline the delay still applies: a lone request waits for company.
    let t0 = Instant::now();
    model
        .infer_with(
            &[("x", TensorView::from_slice(vec![1, 16], &x))],
            &InferOptions::default().with_timeout(Duration::from_millis(300)),
        )
        .unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn a_running_request_is_stopped_at_its_deadline() {
    // loop.onnx adds 1 n times: n = 10^9 runs for many minutes. The deadline was only checked
    // before a run; now the run itself is stopped (ONNX Runtime's terminate flag) when it passes.
    let model = Model::open(fixture("loop.onnx")).unwrap();
    let x = [0.0f32];
    let inputs = |n: &'static [i64; 1]| {
        [
            ("n", TensorView::from_slice(vec![], &n[..])),
            ("x", TensorView::from_slice(vec![1], &x[..])),
        ]
    };
    let timeout = InferOptions::default().with_timeout(Duration::from_millis(200));
    static FOREVER: [i64; 1] = [1_000_000_000];
    static FIVE: [i64; 1] = [5];
    let t0 = Instant::now();
    let err = model.infer_with(&inputs(&FOREVER), &timeout).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeadlineExceeded, "{err}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // The session serves the next request: its flag was cleared.
    let out = model.infer_with(&inputs(&FIVE), &timeout).unwrap();
    assert_eq!(out["y"].as_slice::<f32>().unwrap(), &[5.0]);
    // Async requests too.
    let t0 = Instant::now();
    let owned = vec![
        (
            "n".to_string(),
            Tensor::from_vec(vec![], FOREVER.to_vec()).unwrap(),
        ),
        (
            "x".to_string(),
            Tensor::from_vec(vec![1], x.to_vec()).unwrap(),
        ),
    ];
    let err = block_on(model.submit(owned, &timeout).unwrap()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeadlineExceeded, "{err}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // Without a deadline nothing is armed, and runs complete.
    let out = model.infer(&inputs(&FIVE)).unwrap();
    assert_eq!(out["y"].as_slice::<f32>().unwrap(), &[5.0]);
}

#[test]
fn cancelling_a_request_that_runs_alone_stops_its_run() {
    // One session. Thread A's blocking call runs a short loop, then (draining the queue) the
    // request submitted meanwhile, whose loop would run for many minutes; cancelling it stops
    // that run, its callback gets CANCELLED, and A's call returns.
    let model = Arc::new(
        Model::open_with(fixture("loop.onnx"), &opts(1, BatchingOptions::default())).unwrap(),
    );
    let x = [0.0f32];
    let a = {
        let model = model.clone();
        std::thread::spawn(move || {
            let n = [300_000i64];
            model
                .infer(&[
                    ("n", TensorView::from_slice(vec![], &n[..])),
                    ("x", TensorView::from_slice(vec![1], &x[..])),
                ])
                .map(|o| o["y"].as_slice::<f32>().unwrap()[0])
        })
    };
    while model.stats().idle_instances > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (tx, rx) = mpsc::channel();
    let handle = model
        .submit_with_callback(
            vec![
                (
                    "n".to_string(),
                    Tensor::from_vec(vec![], vec![1_000_000_000i64]).unwrap(),
                ),
                (
                    "x".to_string(),
                    Tensor::from_vec(vec![1], vec![0.0f32]).unwrap(),
                ),
            ],
            &InferOptions::default(),
            move |r| tx.send(r).unwrap(),
        )
        .unwrap();
    // Wait until A has taken it from the queue, then cancel it while it runs.
    let t0 = Instant::now();
    while model.stats().queued > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "never left the queue"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let t0 = Instant::now();
    while !handle.cancel() {
        assert!(!handle.is_done(), "finished without being cancelled");
        assert!(t0.elapsed() < Duration::from_secs(10), "never running");
        std::thread::sleep(Duration::from_millis(5));
    }
    let err = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the run stopped")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    assert_eq!(a.join().unwrap().unwrap(), 300_000.0);
    // The session serves the next request.
    let n = [5i64];
    let out = model
        .infer(&[
            ("n", TensorView::from_slice(vec![], &n[..])),
            ("x", TensorView::from_slice(vec![1], &x[..])),
        ])
        .unwrap();
    assert_eq!(out["y"].as_slice::<f32>().unwrap(), &[5.0]);
}

/// loop.onnx's inputs: `x` plus 1, `n` times.
fn loop_inputs<'a>(n: &'a [i64; 1], x: &'a [f32; 1]) -> [(&'static str, TensorView<'a>); 2] {
    [
        ("n", TensorView::from_slice(vec![], &n[..])),
        ("x", TensorView::from_slice(vec![1], &x[..])),
    ]
}

/// Waits (up to a minute) until `done` holds.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < Duration::from_secs(60), "never: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_cancel_token_stops_a_blocking_run_on_the_callers_own_thread() {
    // A blocking call that finds a session idle runs on the caller's thread, on the caller's
    // memory: nothing else holds a handle to it. Its token reaches the run: a loop of minutes
    // stops, and the call answers CANCELLED.
    let model = Arc::new(
        Model::open_with(fixture("loop.onnx"), &opts(1, BatchingOptions::default())).unwrap(),
    );
    let token = CancelToken::new();
    let caller = {
        let (model, token) = (model.clone(), token.clone());
        std::thread::spawn(move || {
            let options = InferOptions::default().with_cancel(token);
            model.infer_with(&loop_inputs(&[1_000_000_000], &[0.0]), &options)
        })
    };
    wait_until("the run started", || model.stats().idle_instances == 0);
    assert_eq!(model.stats().queued, 0, "it runs on the caller's thread");
    token.cancel();
    assert!(token.is_cancelled());
    let t0 = Instant::now();
    while !caller.is_finished() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the run was not stopped"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let err = caller.join().unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    // The session's stop was cleared for the next run, which has no token.
    let out = model.infer(&loop_inputs(&[5], &[1.0])).unwrap();
    assert_eq!(out["y"].as_slice::<f32>().unwrap(), &[6.0]);
    // A cancelled token stays cancelled: a request made with it fails at once and runs nothing.
    let runs = model.stats().executions;
    let options = InferOptions::default().with_cancel(token.clone());
    let err = model
        .infer_with(&loop_inputs(&[5], &[1.0]), &options)
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    assert_eq!(model.stats().executions, runs);
}

#[test]
fn a_cancel_token_withdraws_a_queued_blocking_request_and_reaches_submitted_ones() {
    let model = Arc::new(
        Model::open_with(fixture("loop.onnx"), &opts(1, BatchingOptions::default())).unwrap(),
    );
    // A holds the one session with a run of minutes, cancellable by its own token.
    let a_token = CancelToken::new();
    let a = {
        let (model, token) = (model.clone(), a_token.clone());
        std::thread::spawn(move || {
            let options = InferOptions::default().with_cancel(token);
            model.infer_with(&loop_inputs(&[1_000_000_000], &[0.0]), &options)
        })
    };
    wait_until("A runs", || model.stats().idle_instances == 0);
    // B's blocking call queues behind it; its token withdraws it while A still runs.
    let b_token = CancelToken::new();
    let b = {
        let (model, token) = (model.clone(), b_token.clone());
        std::thread::spawn(move || {
            let options = InferOptions::default().with_cancel(token);
            model.infer_with(&loop_inputs(&[5], &[0.0]), &options)
        })
    };
    wait_until("B is queued", || model.stats().queued == 1);
    // A submitted request on a third token, queued too.
    let c_token = CancelToken::new();
    let (tx, rx) = mpsc::channel();
    let c_options = InferOptions::default().with_cancel(c_token.clone());
    let loop_owned = |n: i64| {
        vec![
            ("n".to_string(), Tensor::from_vec(vec![], vec![n]).unwrap()),
            (
                "x".to_string(),
                Tensor::from_vec(vec![1], vec![0.0f32]).unwrap(),
            ),
        ]
    };
    let tx2 = tx.clone();
    model
        .submit_with_callback(loop_owned(5), &c_options, move |r| tx2.send(r).unwrap())
        .unwrap();
    b_token.cancel();
    let err = b.join().unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    assert!(!a.is_finished(), "A's run is not stopped by B's token");
    c_token.cancel();
    let err = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the callback came")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    assert!(!a.is_finished(), "A's run is not stopped by C's token");
    // A submission with a token cancelled already is accepted and answered CANCELLED, as one
    // whose deadline passed is.
    model
        .submit_with_callback(loop_owned(5), &c_options, move |r| tx.send(r).unwrap())
        .unwrap();
    let err = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the callback came")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    a_token.cancel();
    let err = a.join().unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    // Nothing ran for B or C: the session's only run was A's.
    assert_eq!(model.stats().executions, 1);
    let out = model.infer(&loop_inputs(&[5], &[1.0])).unwrap();
    assert_eq!(out["y"].as_slice::<f32>().unwrap(), &[6.0]);
}

/// A request a worker has taken from the queue but not started (here: a timed policy waiting for
/// company) is cancelled too: it is not run, and its caller gets CANCELLED. It used to run once
/// the wait was over, its cancel lost.
#[test]
fn a_request_taken_but_not_started_is_not_run_once_cancelled() {
    let model = Arc::new(
        Model::open_with(
            fixture("mlp.onnx"),
            &opts(1, batched().with_max_queue_delay_us(300_000)),
        )
        .unwrap(),
    );
    // Out of the queue, the session held: the timed policy waits for company.
    let taken = || {
        wait_until("taken", || {
            let s = model.stats();
            s.queued == 0 && s.idle_instances == 0
        })
    };
    let token = CancelToken::new();
    let caller = {
        let (model, token) = (model.clone(), token.clone());
        std::thread::spawn(move || {
            let x = input(1, 1, 16);
            model.infer_with(
                &[("x", TensorView::from_slice(vec![1, 16], &x))],
                &InferOptions::default().with_cancel(token),
            )
        })
    };
    taken();
    token.cancel();
    let err = caller.join().unwrap().unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    assert_eq!(model.stats().executions, 0, "nothing ran");
    // A submitted request, the same way, through its handle (queue-only: a helper thread takes
    // it and waits, not this thread).
    let (tx, rx) = mpsc::channel();
    let handle = model
        .submit_with_callback(
            vec![(
                "x".to_string(),
                Tensor::from_vec(vec![1, 16], input(2, 1, 16)).unwrap(),
            )],
            &InferOptions::default().with_queue_only(true),
            move |r| tx.send(r).unwrap(),
        )
        .unwrap();
    taken();
    assert!(handle.cancel());
    let err = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    assert_eq!(model.stats().executions, 0, "nothing ran");
}

/// A token cancelled at spread-out moments around the end of many short runs on the caller's
/// thread: the call answers the loop's sum or CANCELLED, never anything else, and the next run on
/// the session (without a token) is never stopped by a cancel that came late.
#[test]
fn a_late_cancel_never_stops_the_sessions_next_run() {
    let model = Arc::new(
        Model::open_with(fixture("loop.onnx"), &opts(1, BatchingOptions::default())).unwrap(),
    );
    let (mut ok, mut cancelled) = (0, 0);
    for i in 0..200u64 {
        let token = CancelToken::new();
        let canceller = {
            let token = token.clone();
            std::thread::spawn(move || {
                let t0 = Instant::now();
                while t0.elapsed() < Duration::from_micros(i * 10) {
                    std::hint::spin_loop();
                }
                token.cancel();
            })
        };
        let options = InferOptions::default().with_cancel(token);
        match model.infer_with(&loop_inputs(&[300], &[0.0]), &options) {
            Ok(out) => {
                assert_eq!(out["y"].as_slice::<f32>().unwrap(), &[300.0]);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::Cancelled, "{e}");
                cancelled += 1;
            }
        }
        canceller.join().unwrap();
        let out = model.infer(&loop_inputs(&[300], &[1.0])).unwrap();
        assert_eq!(out["y"].as_slice::<f32>().unwrap(), &[301.0]);
    }
    assert_eq!(ok + cancelled, 200);
}

/// A cancel that returns true always means the owner hears `Cancelled`, even when it races with
/// the end of the run it stops: the run may have finished just before the stop flag was set, and
/// its outputs must then be dropped, not delivered as a success. Cancels land at spread-out
/// moments around the end of runs of a short loop, many times over.
#[test]
fn a_cancel_that_returns_true_is_always_answered_cancelled() {
    let model = Arc::new(
        Model::open_with(fixture("loop.onnx"), &opts(1, BatchingOptions::default())).unwrap(),
    );
    let loop_of = |n: i64| {
        vec![
            ("n".to_string(), Tensor::from_vec(vec![], vec![n]).unwrap()),
            (
                "x".to_string(),
                Tensor::from_vec(vec![1], vec![0.0f32]).unwrap(),
            ),
        ]
    };
    // How long a run of the short loop takes, to spread the cancels around its end.
    let t0 = Instant::now();
    for _ in 0..20 {
        let (tx, rx) = mpsc::channel();
        model
            .submit_with_callback(loop_of(300), &InferOptions::default(), move |r| {
                tx.send(r.is_ok()).unwrap()
            })
            .unwrap();
        assert!(rx.recv().unwrap());
    }
    let run = t0.elapsed() / 20;
    let (mut said_true, mut mismatches) = (0, Vec::new());
    for i in 0..1500u32 {
        // A blocking call on another thread holds the session; the request submitted meanwhile
        // queues, and that thread runs it next. Cancel it at a moment spread over its run.
        let busy = {
            let model = model.clone();
            std::thread::spawn(move || {
                let n = [3_000i64];
                let x = [0.0f32];
                model.infer(&[
                    ("n", TensorView::from_slice(vec![], &n[..])),
                    ("x", TensorView::from_slice(vec![1], &x[..])),
                ])
            })
        };
        // (When the blocking call is over before the session is seen busy, the request runs on
        // this thread instead; that trial cancels nothing and counts for nothing.)
        while model.stats().idle_instances > 0 && !busy.is_finished() {
            std::thread::yield_now();
        }
        let (tx, rx) = mpsc::channel();
        let handle = model
            .submit_with_callback(loop_of(300), &InferOptions::default(), move |r| {
                tx.send(r.map(|_| ()).map_err(|e| e.code())).unwrap()
            })
            .unwrap();
        while model.stats().queued > 0 && !handle.is_done() {
            std::hint::spin_loop();
        }
        let wait = run.mul_f64(f64::from(i % 100) / 50.0);
        let until = Instant::now() + wait;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
        let said = handle.cancel();
        let got = rx.recv_timeout(Duration::from_secs(30)).expect("answered");
        busy.join().unwrap().unwrap();
        if said {
            said_true += 1;
            if got != Err(ErrorCode::Cancelled) {
                mismatches.push((i, got));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "cancel returned true but the callback got {mismatches:?} ({said_true} cancels returned true; a run takes {run:?})"
    );
}

/// Submits a chain of `left` requests: each callback submits the next, on whatever thread runs it.
fn chain(
    model: Arc<Model>,
    left: Arc<AtomicUsize>,
    ran: Arc<AtomicUsize>,
    on: Arc<Mutex<Vec<std::thread::ThreadId>>>,
) {
    if left
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| l.checked_sub(1))
        .is_err()
    {
        return;
    }
    let x = Tensor::from_vec(vec![1, 16], input(0, 1, 16)).unwrap();
    let m = model.clone();
    model
        .submit_with_callback(vec![("x".into(), x)], &InferOptions::default(), move |r| {
            r.unwrap();
            ran.fetch_add(1, Ordering::SeqCst);
            on.lock().unwrap().push(std::thread::current().id());
            chain(m, left, ran, on);
        })
        .unwrap();
}

/// A callback chain (each callback submits the next request) used to keep the first submitter
/// inside its `submit` until the whole chain had run. Now `submit` returns after its own request
/// and at most one batch and one request more; a helper thread runs the rest, and all of it runs.
#[test]
fn a_callback_chain_does_not_hold_its_first_submitter() {
    const N: usize = 20_000;
    let model = Arc::new(Model::open_with(fixture("mlp.onnx"), &opts(1, batched())).unwrap());
    let (left, ran) = (Arc::new(AtomicUsize::new(N)), Arc::new(AtomicUsize::new(0)));
    let on = Arc::new(Mutex::new(Vec::new()));
    chain(model.clone(), left.clone(), ran.clone(), on.clone());
    let here = std::thread::current().id();
    let inside = on.lock().unwrap().iter().filter(|t| **t == here).count();
    assert!(
        inside <= 3,
        "{inside} requests of the chain ran inside the first submit (own + one batch + one carried at most)"
    );
    let start = Instant::now();
    while ran.load(Ordering::SeqCst) < N {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the chain stopped at {} of {N}",
            ran.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let elsewhere = on.lock().unwrap().iter().filter(|t| **t != here).count();
    assert_eq!(inside + elsewhere, N);
}

/// Under an async flood (chains of callbacks that keep the queue full), a blocking caller that
/// takes the session runs at most the requests queued before its own (the flood's 64 in flight),
/// the rest of its own batch (31), one batch more (32) and one request; before, it drained the
/// flood's queue until the flood ended.
#[test]
fn a_blocking_caller_serves_at_most_one_batch_of_a_flood() {
    // Far more than the blocking calls need (it is stopped once they are done), and finite, so
    // that a caller that serves the whole flood fails instead of hanging.
    const FLOOD: usize = 2_000_000;
    let model = Arc::new(Model::open_with(fixture("mlp.onnx"), &opts(1, batched())).unwrap());
    let (left, ran) = (
        Arc::new(AtomicUsize::new(FLOOD)),
        Arc::new(AtomicUsize::new(0)),
    );
    let on = Arc::new(Mutex::new(Vec::new()));
    let flooder = {
        let (model, left, ran, on) = (model.clone(), left.clone(), ran.clone(), on.clone());
        std::thread::spawn(move || {
            for _ in 0..64 {
                chain(model.clone(), left.clone(), ran.clone(), on.clone());
            }
        })
    };
    flooder.join().unwrap();
    let here = std::thread::current().id();
    let x = input(1, 1, 16);
    let mut worst = 0;
    for _ in 0..200 {
        let before = on.lock().unwrap().iter().filter(|t| **t == here).count();
        model
            .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
            .unwrap();
        let after = on.lock().unwrap().iter().filter(|t| **t == here).count();
        worst = worst.max(after - before);
    }
    assert!(
        left.load(Ordering::SeqCst) > 0,
        "the flood lasted as long as the blocking calls"
    );
    assert!(
        worst <= 64 + 31 + 32 + 1,
        "a blocking call ran {worst} of the flood's requests (64 queued before it, 31 beside it in its batch, one batch of 32 and one more at most)"
    );
    // The rest of the flood runs to the end.
    left.store(0, Ordering::SeqCst);
    let start = Instant::now();
    while model.stats().queued > 0 || model.stats().idle_instances == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the flood never drained"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Callback chains that resubmit keep every session busy once their submitters have returned: the
/// helper that drains the queue calls another when a session sits idle while work waits. Before,
/// one helper ended up draining everything on one session while the other idled (async load on
/// two sessions ran at half speed).
#[test]
fn callback_chains_keep_every_session_busy() {
    // loop.onnx adds 1 n times; each run takes a few milliseconds and is not batched.
    const RUNS: usize = 2 * 40;
    let model = Arc::new(
        Model::open_with(fixture("loop.onnx"), &opts(2, BatchingOptions::default())).unwrap(),
    );
    let ran = Arc::new(AtomicUsize::new(0));
    fn link(model: Arc<Model>, left: usize, ran: Arc<AtomicUsize>) {
        let m = model.clone();
        model
            .submit_with_callback(
                vec![
                    (
                        "n".into(),
                        Tensor::from_vec(vec![], vec![20_000i64]).unwrap(),
                    ),
                    ("x".into(), Tensor::from_vec(vec![1], vec![0.0f32]).unwrap()),
                ],
                &InferOptions::default(),
                move |r| {
                    assert_eq!(r.unwrap()["y"].as_slice::<f32>().unwrap(), &[20_000.0]);
                    ran.fetch_add(1, Ordering::SeqCst);
                    if left > 1 {
                        link(m, left - 1, ran);
                    }
                },
            )
            .unwrap();
    }
    let t0 = Instant::now();
    link(model.clone(), RUNS / 2, ran.clone());
    link(model.clone(), RUNS / 2, ran.clone());
    let submitted = t0.elapsed();
    // Samples from the chains' second quarter to their third: both submitters returned long ago.
    let (mut both, mut samples) = (0, 0);
    while ran.load(Ordering::SeqCst) < RUNS {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the chains stopped"
        );
        let done = ran.load(Ordering::SeqCst);
        if (RUNS / 4..RUNS * 3 / 4).contains(&done) {
            samples += 1;
            both += usize::from(model.stats().idle_instances == 0);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    eprintln!(
        "submits took {submitted:?}, chains {:?}; both sessions busy in {both} of {samples} samples",
        t0.elapsed()
    );
    assert!(samples >= 10, "too few samples ({samples}): runs too short");
    assert!(
        both * 4 >= samples * 3,
        "both sessions busy in only {both} of {samples} samples"
    );
}

/// Requests that all fit in one batch are split between two sessions when the batch is long enough
/// to pay for it: 32 callback chains on mlp_large (a batch of 32 rows runs for about 400 µs here,
/// far above the 100 µs that makes a split worth it, also on much faster CPUs) used to run as one
/// batch at a time on one session, the other idle.
#[test]
fn a_long_batch_is_shared_with_an_idle_session() {
    const CHAINS: usize = 32;
    const EACH: usize = 100;
    let model = Arc::new(Model::open_with(fixture("mlp_large.onnx"), &opts(2, batched())).unwrap());
    let ran = Arc::new(AtomicUsize::new(0));
    fn link(model: Arc<Model>, left: usize, ran: Arc<AtomicUsize>) {
        let m = model.clone();
        let x = Tensor::from_vec(vec![1, 256], input(left, 1, 256)).unwrap();
        model
            .submit_with_callback(vec![("x".into(), x)], &InferOptions::default(), move |r| {
                r.unwrap();
                ran.fetch_add(1, Ordering::SeqCst);
                if left > 1 {
                    link(m, left - 1, ran);
                }
            })
            .unwrap();
    }
    for _ in 0..CHAINS {
        link(model.clone(), EACH, ran.clone());
    }
    let t0 = Instant::now();
    let (mut both, mut samples) = (0, 0);
    while ran.load(Ordering::SeqCst) < CHAINS * EACH {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the chains stopped"
        );
        let done = ran.load(Ordering::SeqCst);
        if (CHAINS * EACH / 4..CHAINS * EACH * 3 / 4).contains(&done) {
            samples += 1;
            both += usize::from(model.stats().idle_instances == 0);
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let stats = model.stats();
    eprintln!(
        "chains {:?}; both sessions busy in {both} of {samples} samples; mean batch {:.1}",
        t0.elapsed(),
        stats.requests_run as f64 / stats.executions as f64
    );
    assert!(samples >= 10, "too few samples ({samples})");
    assert!(
        both * 2 >= samples,
        "both sessions busy in only {both} of {samples} samples"
    );
}

/// Short work stays with the thread that runs the model's batches: 64 chains of callbacks on the
/// tiny MLP with 2 sessions, whose batches run in microseconds, are run by one thread once the
/// batches' cost is measured (two threads would each free the memory the other's callbacks
/// made), and every result is its own row's.
#[test]
fn short_batches_of_callback_chains_stay_with_one_thread() {
    const CHAINS: usize = 64;
    const EACH: usize = 200;
    let reference = unbatched("mlp.onnx");
    let expected: Arc<Vec<Outputs>> = Arc::new(
        (0..=EACH)
            .map(|i| {
                let x = input(i, 1, 16);
                reference
                    .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
                    .unwrap()
            })
            .collect(),
    );
    let model = Arc::new(Model::open_with(fixture("mlp.onnx"), &opts(2, batched())).unwrap());
    struct Chains {
        expected: Arc<Vec<Outputs>>,
        ran: AtomicUsize,
        wrong: AtomicUsize,
        /// The thread of each callback in the second half of the run.
        threads: Mutex<std::collections::HashMap<std::thread::ThreadId, usize>>,
    }
    fn link(model: Arc<Model>, left: usize, chains: Arc<Chains>) {
        let m = model.clone();
        let x = Tensor::from_vec(vec![1, 16], input(left, 1, 16)).unwrap();
        model
            .submit_with_callback(vec![("x".into(), x)], &InferOptions::default(), move |r| {
                if r.unwrap() != chains.expected[left] {
                    chains.wrong.fetch_add(1, Ordering::SeqCst);
                }
                let ran = chains.ran.fetch_add(1, Ordering::SeqCst) + 1;
                if ran > CHAINS * EACH / 2 {
                    *chains
                        .threads
                        .lock()
                        .unwrap()
                        .entry(std::thread::current().id())
                        .or_default() += 1;
                }
                if left > 1 {
                    link(m, left - 1, chains);
                }
            })
            .unwrap();
    }
    let chains = Arc::new(Chains {
        expected,
        ran: AtomicUsize::new(0),
        wrong: AtomicUsize::new(0),
        threads: Mutex::new(Default::default()),
    });
    for _ in 0..CHAINS {
        link(model.clone(), EACH, chains.clone());
    }
    let t0 = Instant::now();
    while chains.ran.load(Ordering::SeqCst) < CHAINS * EACH {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the chains stopped"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(
        chains.wrong.load(Ordering::SeqCst),
        0,
        "a callback got another row's result"
    );
    let threads = chains.threads.lock().unwrap();
    let (busiest, total) = (
        threads.values().copied().max().unwrap_or(0),
        threads.values().sum::<usize>(),
    );
    // The scheduler's rule reads the measured cost of what is queued (up to 64 rows here): it
    // applies where that runs in under 20 µs, in optimised builds (`cargo test --release`); not in
    // debug builds, whose concatenation and splitting take longer, nor under an emulator. Checked
    // only well inside that (15 µs for 64 rows), so that an estimate near the threshold cannot
    // make the check flaky.
    let per_row_ns = model
        .batch_costs()
        .iter()
        .rfind(|(rows, _)| *rows <= 32)
        .map(|(_, ns)| *ns);
    eprintln!(
        "second half: {busiest} of {total} callbacks on the busiest of {} threads; {per_row_ns:?} \
         ns a row in batches of 32",
        threads.len()
    );
    if per_row_ns.is_some_and(|ns| ns * 64.0 < 15_000.0) {
        assert!(
            busiest * 10 >= total * 9,
            "short batches were shared: {busiest} of {total} callbacks on one thread"
        );
    }
}

/// `queue_only`: the submitting thread only queues the request; a helper thread runs it. A plain
/// submit that finds a session idle runs the request before it returns.
#[test]
fn a_queue_only_request_runs_on_a_helper_not_on_its_submitter() {
    let model =
        Model::open_with(fixture("loop.onnx"), &opts(1, BatchingOptions::default())).unwrap();
    let inputs = |n: i64| {
        vec![
            ("n".to_string(), Tensor::from_vec(vec![], vec![n]).unwrap()),
            (
                "x".to_string(),
                Tensor::from_vec(vec![1], vec![0.0f32]).unwrap(),
            ),
        ]
    };
    let here = std::thread::current().id();
    let submit = |queue_only: bool| {
        let (tx, rx) = mpsc::channel();
        let handle = model
            .submit_with_callback(
                inputs(300_000),
                &InferOptions::default().with_queue_only(queue_only),
                move |r| {
                    let y = r.map(|o| o["y"].as_slice::<f32>().unwrap()[0]);
                    tx.send((y, std::thread::current().id())).unwrap();
                },
            )
            .unwrap();
        let done_at_return = handle.is_done();
        let (y, on) = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(y.unwrap(), 300_000.0);
        (done_at_return, on)
    };
    let (done, on) = submit(false);
    assert!(
        done,
        "a plain submit with a session idle runs the request before it returns"
    );
    assert_eq!(on, here);
    let (done, on) = submit(true);
    assert!(!done, "a queue-only submit returned after the run");
    assert_ne!(on, here, "a queue-only request ran on its submitter");
    // A blocking call waits for its result all the same.
    let out = model
        .infer_with(
            &[
                ("n", TensorView::from_slice(vec![], &[7i64][..])),
                ("x", TensorView::from_slice(vec![1], &[0.5f32][..])),
            ],
            &InferOptions::default().with_queue_only(true),
        )
        .unwrap();
    assert_eq!(out["y"].as_slice::<f32>().unwrap(), &[7.5]);
}

/// A model's run estimate follows its runs: none before the first, then what runs of one row
/// take, whether they ran on their callers' threads or, queued, on inferkit's. Requests of a
/// model that does not batch count as one row (they were not measured when queued, and a host
/// reading the estimate, as the Go binding does to choose how its callers wait, kept the slow
/// first run's figure for ever).
#[test]
fn the_run_estimate_follows_direct_and_queued_runs() {
    let x = Tensor::from_vec(vec![1, 16], vec![0.5f32; 16]).unwrap();
    for batching in [BatchingOptions::default(), batched()] {
        let model = Model::open_with(fixture("mlp.onnx"), &opts(2, batching.clone())).unwrap();
        assert_eq!(model.run_estimate(1), None, "nothing ran yet");
        // One slow sample first, as a session's first run is: queued runs must bring it down.
        model.infer(&[("x", &x)]).unwrap();
        let first = model.run_estimate(1).expect("a run was measured");
        let queued = InferOptions::default().with_queue_only(true);
        let mut estimates = Vec::new();
        for _ in 0..400 {
            let f = model
                .submit(vec![("x".to_string(), x.clone())], &queued)
                .unwrap();
            f.wait().unwrap();
            estimates.push(model.run_estimate(1).unwrap());
        }
        assert!(
            estimates.windows(2).any(|w| w[0] != w[1]),
            "queued runs never moved the estimate ({batching:?}): {first:?} throughout"
        );
        let last = *estimates.last().unwrap();
        assert!(
            last > Duration::ZERO && last < Duration::from_millis(50),
            "{last:?}"
        );
        assert_eq!(
            model.run_estimate(0),
            model.run_estimate(1),
            "0 rows count as 1"
        );
    }
}
