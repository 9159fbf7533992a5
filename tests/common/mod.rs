//! Helpers shared by the integration tests: fixture paths, the tensor-pack reader, comparisons.
#![allow(dead_code)]

use std::path::PathBuf;

use inferkit::{DType, Tensor};

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// Reads a tensor pack from tests/fixtures.
pub fn read_pack(name: &str) -> Vec<(String, Tensor)> {
    inferkit::tensor::read_tensor_pack(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Exact for integers and bools, relative 1e-5 (with a 1e-6 absolute floor) for floats.
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    match want.dtype() {
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => {
            let (g, w) = (got.to_f32_vec().unwrap(), want.to_f32_vec().unwrap());
            for (i, (a, b)) in g.iter().zip(&w).enumerate() {
                let tol = 1e-5 * a.abs().max(b.abs()) + 1e-6;
                assert!((a - b).abs() <= tol, "{what}[{i}]: got {a}, want {b}");
            }
        }
        _ => assert_eq!(got.as_bytes(), want.as_bytes(), "{what}: bytes"),
    }
}
