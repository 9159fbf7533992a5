//! Helpers shared by the integration tests: fixture paths, a tensor-pack reader, comparisons.
#![allow(dead_code)]

use std::path::PathBuf;

use inferkit::{DType, Model, Tensor};

/// Waits (up to 10 s) until every session of `model` is idle and nothing is queued, and asserts
/// it. Every request having returned does not mean that: the thread that completed the last one
/// (a helper, or a caller running a callback) still holds its session for a moment, and may look
/// at the queue once more before it gives the session back.
pub fn assert_settles(model: &Model) {
    let start = std::time::Instant::now();
    loop {
        let stats = model.stats();
        if stats.idle_instances == stats.instances && stats.queued == 0 {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "sessions or requests never came back: {stats:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// Reads a tensor pack from tests/fixtures: named tensors in the little-endian format written by
/// `tests/fixtures/make_fixtures.py` (`b"IKTP"`, u32 version 1, u32 count; per tensor u32 name
/// length, name, u32 dtype, u32 rank, i64 dims, u64 byte length, bytes). Panics on a malformed
/// file: the fixtures are committed.
pub fn read_pack(name: &str) -> Vec<(String, Tensor)> {
    let bytes = std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut at = 0usize;
    let mut take = |n: usize| -> &[u8] {
        let s = bytes
            .get(at..at + n)
            .unwrap_or_else(|| panic!("{name}: truncated tensor pack"));
        at += n;
        s
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
    assert_eq!(take(4), b"IKTP", "{name}: not a tensor pack");
    assert_eq!(u32_of(take(4)), 1, "{name}: tensor pack version");
    let count = u32_of(take(4));
    (0..count)
        .map(|_| {
            let len = u32_of(take(4)) as usize;
            let tensor_name = String::from_utf8(take(len).to_vec()).unwrap();
            let code = u32_of(take(4));
            let dtype = DType::from_u32(code).unwrap_or_else(|| panic!("{name}: dtype {code}"));
            let rank = u32_of(take(4)) as usize;
            let shape: Vec<usize> = (0..rank)
                .map(|_| i64::from_le_bytes(take(8).try_into().unwrap()) as usize)
                .collect();
            let len = u64::from_le_bytes(take(8).try_into().unwrap()) as usize;
            let tensor = Tensor::from_bytes(dtype, shape, take(len))
                .unwrap_or_else(|e| panic!("{name}: {tensor_name}: {e}"));
            (tensor_name, tensor)
        })
        .collect()
}

/// Relative tolerance for floats. The references were computed by ONNX Runtime on x86_64, whose
/// kernels inferkit's runs share there; on other architectures ONNX Runtime's own kernels (NEON on
/// aarch64) sum in another order, which moves a deep network's outputs by about 1e-5 relative
/// (PaddleOCR's detector on aarch64: 0.21308127 against 0.21307805).
pub const RELATIVE_TOLERANCE: f32 = if cfg!(target_arch = "x86_64") {
    1e-5
} else {
    1e-4
};

/// Exact for integers and bools, [`RELATIVE_TOLERANCE`] (with a 1e-6 absolute floor) for floats.
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    match want.dtype() {
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => {
            let (g, w) = (got.to_f32_vec().unwrap(), want.to_f32_vec().unwrap());
            for (i, (a, b)) in g.iter().zip(&w).enumerate() {
                let tol = RELATIVE_TOLERANCE * a.abs().max(b.abs()) + 1e-6;
                assert!((a - b).abs() <= tol, "{what}[{i}]: got {a}, want {b}");
            }
        }
        _ => assert_eq!(got.as_bytes(), want.as_bytes(), "{what}: bytes"),
    }
}
