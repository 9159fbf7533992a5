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

/// Reads a tensor pack written by `tests/fixtures/make_fixtures.py` (format documented there).
pub fn read_pack(name: &str) -> Vec<(String, Tensor)> {
    let bytes = std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut pos = 0usize;
    let mut take = |n: usize| {
        let s = &bytes[pos..pos + n];
        pos += n;
        s.to_vec()
    };
    let u32_at = |b: Vec<u8>| u32::from_le_bytes(b.try_into().unwrap());
    assert_eq!(take(4), b"IKTP");
    assert_eq!(u32_at(take(4)), 1);
    let count = u32_at(take(4));
    (0..count)
        .map(|_| {
            let name_len = u32_at(take(4)) as usize;
            let name = String::from_utf8(take(name_len)).unwrap();
            let dtype = DType::from_u32(u32_at(take(4))).unwrap();
            let rank = u32_at(take(4)) as usize;
            let shape = (0..rank)
                .map(|_| i64::from_le_bytes(take(8).try_into().unwrap()) as usize)
                .collect();
            let len = u64::from_le_bytes(take(8).try_into().unwrap()) as usize;
            let data = take(len);
            (name, Tensor::from_bytes(dtype, shape, &data).unwrap())
        })
        .collect()
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
