//! A process with loaded models and no traffic uses no CPU: nothing spins, no thread polls.
//! Its own test binary, so no other test's work is counted.
mod common;

use std::time::Duration;

use common::fixture;
use inferkit::{BatchingOptions, Model, ModelOptions, TensorView};

fn opts(instances: usize, batching: BatchingOptions) -> ModelOptions {
    ModelOptions::default()
        .with_instances(instances)
        .with_batching(batching)
}

/// CPU time this process has used, from /proc/self/stat (utime + stime, in clock ticks).
fn process_cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn loaded_models_use_no_cpu_while_idle() {
    let models: Vec<Model> = ["mlp.onnx", "slow.onnx", "sequence.onnx"]
        .iter()
        .map(|f| Model::open_with(fixture(f), &opts(2, BatchingOptions::default())).unwrap())
        .collect();
    let x = vec![0.5f32; 16];
    models[0]
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let before = process_cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = process_cpu_ticks() - before;
    eprintln!("idle: {used} clock ticks (10 ms each) of CPU in one second with 3 models and 6 sessions loaded");
    // Clock ticks are 10 ms; a spinning thread would use ~100 ticks in this second.
    assert!(used <= 2, "{used} ticks of CPU in one idle second");
    drop(models);
}
