//! Element types: [`DType`], ONNX's numbering, sizes in bits and bytes, names.
//!
//! A leaf module: it depends on nothing else in the crate, so the error type and the tensor types
//! can both use it.
//!
//! ```
//! use inferkit::DType;
//!
//! assert_eq!(DType::F32 as u32, 1);                  // ONNX's TensorProto.DataType code
//! assert_eq!(DType::from_u32(10), Some(DType::F16));
//! assert_eq!((DType::BF16.size(), DType::U4.bits()), (2, 4));
//! assert_eq!(DType::I64.to_string(), "i64");
//! ```

use std::fmt;

/// Element type of a tensor. The numbers are ONNX's `TensorProto.DataType` codes, and they are the
/// values of `inferkit_dtype` in the C ABI.
///
/// Non-exhaustive: ONNX adds element types from time to time.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DType {
    /// 32-bit float.
    F32 = 1,
    /// Unsigned 8-bit integer.
    U8 = 2,
    /// Signed 8-bit integer.
    I8 = 3,
    /// Unsigned 16-bit integer.
    U16 = 4,
    /// Signed 16-bit integer.
    I16 = 5,
    /// Signed 32-bit integer.
    I32 = 6,
    /// Signed 64-bit integer.
    I64 = 7,
    /// Boolean, one byte, 0 or 1.
    Bool = 9,
    /// IEEE 754 half-precision float ([`half::f16`]).
    F16 = 10,
    /// 64-bit float.
    F64 = 11,
    /// Unsigned 32-bit integer.
    U32 = 12,
    /// Unsigned 64-bit integer.
    U64 = 13,
    /// bfloat16 ([`half::bf16`]).
    BF16 = 16,
    /// Strings: byte strings of any length, usually UTF-8 ([`Tensor::from_strings`](crate::Tensor::from_strings)).
    String = 8,
    /// 8-bit float, 4 exponent and 3 mantissa bits, finite only (raw bytes).
    F8E4M3FN = 17,
    /// 8-bit float, 4 exponent and 3 mantissa bits, finite only, no negative zero (raw bytes).
    F8E4M3FNUZ = 18,
    /// 8-bit float, 5 exponent and 2 mantissa bits (raw bytes).
    F8E5M2 = 19,
    /// 8-bit float, 5 exponent and 2 mantissa bits, finite only, no negative zero (raw bytes).
    F8E5M2FNUZ = 20,
    /// Unsigned 4-bit integer, two per byte, the first in the low nibble.
    U4 = 21,
    /// Signed 4-bit integer, two per byte, the first in the low nibble.
    I4 = 22,
    /// 4-bit float, 2 exponent and 1 mantissa bit, two per byte, the first in the low nibble.
    F4E2M1 = 23,
    /// 8-bit exponent-only float, a power of two (raw bytes; the scale type of MX formats).
    F8E8M0 = 24,
    /// Unsigned 2-bit integer, four per byte, the first in the lowest bits.
    U2 = 25,
    /// Signed 2-bit integer, four per byte, the first in the lowest bits.
    I2 = 26,
}

impl DType {
    /// Every dtype inferkit passes through.
    pub const ALL: [DType; 24] = [
        DType::F32,
        DType::U8,
        DType::I8,
        DType::U16,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::Bool,
        DType::F16,
        DType::F64,
        DType::U32,
        DType::U64,
        DType::BF16,
        DType::String,
        DType::F8E4M3FN,
        DType::F8E4M3FNUZ,
        DType::F8E5M2,
        DType::F8E5M2FNUZ,
        DType::U4,
        DType::I4,
        DType::F4E2M1,
        DType::F8E8M0,
        DType::U2,
        DType::I2,
    ];

    /// The dtype with this code (ONNX numbering), if inferkit supports it.
    pub fn from_u32(code: u32) -> Option<DType> {
        Self::ALL.iter().copied().find(|d| *d as u32 == code)
    }

    /// Size of one element in bytes; 0 for strings and for the packed types narrower than a byte
    /// (see [`DType::bits`]).
    pub const fn size(self) -> usize {
        let bits = self.bits();
        if bits.is_multiple_of(8) {
            bits / 8
        } else {
            0
        }
    }

    /// Size of one element in bits: 2 and 4 for the packed types, 0 for strings.
    pub const fn bits(self) -> usize {
        match self {
            DType::String => 0,
            DType::U2 | DType::I2 => 2,
            DType::U4 | DType::I4 | DType::F4E2M1 => 4,
            DType::U8
            | DType::I8
            | DType::Bool
            | DType::F8E4M3FN
            | DType::F8E4M3FNUZ
            | DType::F8E5M2
            | DType::F8E5M2FNUZ
            | DType::F8E8M0 => 8,
            DType::U16 | DType::I16 | DType::F16 | DType::BF16 => 16,
            DType::F32 | DType::I32 | DType::U32 => 32,
            DType::F64 | DType::I64 | DType::U64 => 64,
        }
    }

    /// Whether rows of this dtype can be concatenated and split byte-wise for batching: every
    /// whole-byte type; not strings or the packed types.
    pub const fn is_batchable(self) -> bool {
        self.size() > 0
    }

    /// Short name: `f32`, `bf16`, `bool`, …
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::U8 => "u8",
            DType::I8 => "i8",
            DType::U16 => "u16",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::Bool => "bool",
            DType::F16 => "f16",
            DType::F64 => "f64",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::BF16 => "bf16",
            DType::String => "string",
            DType::F8E4M3FN => "f8e4m3fn",
            DType::F8E4M3FNUZ => "f8e4m3fnuz",
            DType::F8E5M2 => "f8e5m2",
            DType::F8E5M2FNUZ => "f8e5m2fnuz",
            DType::U4 => "u4",
            DType::I4 => "i4",
            DType::F4E2M1 => "f4e2m1",
            DType::F8E8M0 => "f8e8m0",
            DType::U2 => "u2",
            DType::I2 => "i2",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Number of elements and of bytes of `shape` for `dtype` (packed types rounded up to whole bytes;
/// 0 bytes for strings, whose length is their contents'), or `None` on overflow.
pub(crate) fn byte_len(dtype: DType, shape: &[usize]) -> Option<(usize, usize)> {
    let elements = shape
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))?;
    let bytes = match dtype.size() {
        0 => elements.checked_mul(dtype.bits())?.div_ceil(8),
        size => elements.checked_mul(size)?,
    };
    Some((elements, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtype_codes_match_onnx() {
        assert_eq!(DType::F32 as u32, 1);
        assert_eq!(DType::Bool as u32, 9);
        assert_eq!(DType::F16 as u32, 10);
        assert_eq!(DType::BF16 as u32, 16);
        for d in DType::ALL {
            assert_eq!(DType::from_u32(d as u32), Some(d));
        }
        assert_eq!(DType::from_u32(8), Some(DType::String));
        // Complex numbers: ONNX Runtime cannot load models that use them.
        assert_eq!(DType::from_u32(14), None);
        assert_eq!(DType::from_u32(0), None);
        assert_eq!(DType::from_u32(27), None);
    }
}
