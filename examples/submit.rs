//! Submitting requests without blocking: a `Future` (`Model::submit`) and a callback
//! (`Model::submit_with_callback`).
//!
//!     cargo run --example submit
//!
//! No async runtime is needed. A submitted request runs at once on the submitting thread when a
//! session is idle; otherwise it waits in the model's queue and runs on the thread that finishes
//! the current inference of that model. The future can be awaited in any runtime, polled by hand,
//! or waited for; a callback runs on the thread that completes the request.

use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use inferkit::{InferOptions, Model, ModelOptions, Tensor};

fn main() -> Result<(), inferkit::Error> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlp.onnx");
    let model = Model::open_with(path, &ModelOptions::default().with_instances(2))?;

    // A submitted request owns its inputs: (name, Tensor or Value) pairs.
    let request = |v: f32| -> Result<Vec<(String, Tensor)>, inferkit::Error> {
        Ok(vec![(
            "x".to_string(),
            Tensor::from_vec(vec![1, 16], vec![v; 16])?,
        )])
    };

    // 1. Futures. Eight requests in flight from one thread.
    let options = InferOptions::default().with_timeout(Duration::from_secs(5));
    let futures = (0..8)
        .map(|i| model.submit(request(i as f32 * 0.1)?, &options))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, mut future) in futures.into_iter().enumerate() {
        // Poll it by hand (an executor would do this, and wake the task when it is ready)...
        let mut cx = Context::from_waker(Waker::noop());
        let out = match Pin::new(&mut future).poll(&mut cx) {
            Poll::Ready(result) => result?,
            // ...or block this thread until it is done.
            Poll::Pending => future.wait()?,
        };
        println!("future {i}: y = {:?}", out["y"].as_slice::<f32>()?);
    }

    // Dropping a future, or calling `cancel`, withdraws its request if no session has taken it.
    let future = model.submit(request(1.0)?, &InferOptions::default())?;
    if future.is_done() {
        println!("ran at once on this thread (a session was idle)");
    }
    drop(future);

    // 2. Callbacks. The callback gets the outputs or the error; here it sends them back.
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for i in 0..4 {
        let tx = tx.clone();
        let handle = model.submit_with_callback(
            request(i as f32)?,
            &InferOptions::default(),
            move |result| {
                // Runs on whichever thread completes the request: keep it short, never block on
                // this model from here (that is Error::WouldDeadlock); submitting is fine.
                let _ = tx.send((i, result));
            },
        )?;
        handles.push(handle);
    }
    drop(tx);
    for (i, result) in rx {
        println!("callback {i}: y = {:?}", result?["y"].as_slice::<f32>()?);
    }
    assert!(handles.iter().all(|h| h.is_done()));
    Ok(())
}
