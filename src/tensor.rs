//! Owned tensors and borrowed tensor views, and the Rust types of their elements ([`Element`]).
//!
//! A [`Tensor`] owns its bytes (8-byte aligned, so every element type can be read in place); a
//! [`TensorView`] borrows them from the caller. Both are `dtype + shape + bytes`, the form in which
//! tensors cross the C ABI. Contiguous views reach ONNX Runtime without a copy.
//!
//! ```
//! use inferkit::{DType, Tensor, TensorView};
//! use ndarray::array;
//!
//! let x = array![[1.0f32, 2.0], [3.0, 4.0]];
//! let view = TensorView::from_array(&x)?;            // borrows, no copy
//! assert_eq!(view.dtype(), DType::F32);
//! assert_eq!(view.shape(), &[2, 2]);
//!
//! let owned = Tensor::from_array(x.clone());          // owns a copy
//! assert_eq!(owned.to_array::<f32>()?, x.into_dyn());
//!
//! // half-precision through the `half` crate
//! let h = Tensor::from_f32(DType::F16, vec![3], &[0.5, 1.0, -2.0])?;
//! assert_eq!(h.as_slice::<half::f16>()?[2], half::f16::from_f32(-2.0));
//! assert_eq!(h.to_f32_vec()?, vec![0.5, 1.0, -2.0]);
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;

use half::{bf16, f16};
use ndarray::{ArrayBase, ArrayD, ArrayViewD, Data, Dimension, IxDyn};

use crate::error::{Error, Result};

/// A tensor's dims, inline up to rank 4.
type Dims = smallvec::SmallVec<[usize; 4]>;

pub(crate) use crate::dtype::byte_len;
pub use crate::dtype::DType;

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that is the element of a tensor: `f32`, `f64`, [`half::f16`], [`half::bf16`], the
/// integer types and `bool`. Sealed: these are exactly the types of [`DType`].
pub trait Element:
    sealed::Sealed + ort::value::PrimitiveTensorElementType + Copy + Send + Sync + fmt::Debug + 'static
{
    /// The dtype of this element type.
    const DTYPE: DType;
}

macro_rules! elements {
    ($($t:ty => $d:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t { const DTYPE: DType = DType::$d; }
    )*};
}
elements!(f32 => F32, f64 => F64, f16 => F16, bf16 => BF16, i8 => I8, i16 => I16, i32 => I32, i64 => I64,
          u8 => U8, u16 => U16, u32 => U32, u64 => U64, bool => Bool);

/// Reinterprets elements as bytes. Every [`Element`] is a plain value without padding.
pub(crate) fn bytes_of<T: Element>(data: &[T]) -> &[u8] {
    // SAFETY: Element types are primitive, padding-free and `Copy`; any initialised value is valid bytes.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast::<u8>(), std::mem::size_of_val(data)) }
}

/// Reinterprets bytes as elements, if aligned and of whole elements. For `bool` the caller must
/// have checked that every byte is 0 or 1 (see [`check_bools`]).
fn cast_slice<T: Element>(bytes: &[u8]) -> Option<&[T]> {
    let size = std::mem::size_of::<T>();
    if !bytes.len().is_multiple_of(size)
        || !(bytes.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T>())
    {
        return None;
    }
    // SAFETY: alignment and length checked above; the element types accept every bit pattern,
    // except bool, whose bytes the callers check first.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

fn check_bools(name: &str, bytes: &[u8]) -> Result<()> {
    match bytes.iter().position(|b| *b > 1) {
        None => Ok(()),
        Some(i) => Err(Error::InvalidTensorData {
            input: name.to_string(),
            reason: format!(
                "bool element {i} has byte value {}, expected 0 or 1",
                bytes[i]
            ),
        }),
    }
}

/// Byte storage aligned to 8, enough for every [`DType`].
#[derive(Clone, Default)]
pub(crate) struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    pub(crate) fn zeroed(len: usize) -> Self {
        AlignedBytes {
            words: vec![0u64; len.div_ceil(8)],
            len,
        }
    }

    /// Zeroed storage, or `None` when the memory cannot be had (instead of aborting).
    pub(crate) fn try_zeroed(len: usize) -> Option<Self> {
        let mut words = Vec::new();
        words.try_reserve_exact(len.div_ceil(8)).ok()?;
        words.resize(len.div_ceil(8), 0);
        Some(AlignedBytes { words, len })
    }

    pub(crate) fn copy_from(bytes: &[u8]) -> Self {
        let mut buf = Self::zeroed(bytes.len());
        buf.as_mut_bytes().copy_from_slice(bytes);
        buf
    }

    /// Sets the length, reusing the allocation when it is large enough. New bytes are zero.
    pub(crate) fn resize(&mut self, len: usize) {
        self.words.resize(len.div_ceil(8), 0);
        self.len = len;
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        // SAFETY: `words` holds at least `len` initialised bytes.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    pub(crate) fn as_mut_bytes(&mut self) -> &mut [u8] {
        // SAFETY: as above, uniquely borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }
}

/// A tensor that owns its data.
///
/// A string tensor ([`DType::String`]) keeps its strings one after another in its bytes, with
/// `len() + 1` offsets into them; read them with [`Tensor::strings`] or [`Tensor::string_bytes`].
#[derive(Clone)]
pub struct Tensor {
    dtype: DType,
    /// Inline up to rank 4: most tensors allocate only for their data.
    shape: Dims,
    data: AlignedBytes,
    /// String tensors: where each string starts in `data`, then the end. Empty otherwise.
    offsets: Vec<usize>,
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tensor")
            .field("dtype", &self.dtype)
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Tensor {
    fn eq(&self, other: &Self) -> bool {
        self.dtype == other.dtype
            && self.shape == other.shape
            && self.as_bytes() == other.as_bytes()
            && self.offsets == other.offsets
    }
}

impl Tensor {
    /// A tensor of `dtype` and `shape` from raw little-endian bytes (copied). The length must be
    /// shape × element size (packed types: whole bytes, rounded up); bool bytes must be 0 or 1.
    /// String tensors are made with [`Tensor::from_strings`].
    pub fn from_bytes(dtype: DType, shape: Vec<usize>, bytes: &[u8]) -> Result<Tensor> {
        TensorView::new(dtype, &shape[..], bytes).check("")?;
        Ok(Tensor {
            dtype,
            shape: shape.into(),
            data: AlignedBytes::copy_from(bytes),
            offsets: Vec::new(),
        })
    }

    /// [`Tensor::from_bytes`] for bytes known to hold `shape` of `dtype` (not a string dtype):
    /// copied without checking again.
    pub(crate) fn from_checked_bytes(dtype: DType, shape: &[usize], bytes: &[u8]) -> Tensor {
        debug_assert!(TensorView::new(dtype, shape, bytes).check("").is_ok());
        Tensor {
            dtype,
            shape: Dims::from_slice(shape),
            data: AlignedBytes::copy_from(bytes),
            offsets: Vec::new(),
        }
    }

    /// A string tensor of `shape` from one string per element, row-major (copied). Strings are
    /// bytes: UTF-8 text, or anything else a model's string ops accept.
    ///
    /// ```
    /// use inferkit::{DType, Tensor};
    /// let t = Tensor::from_strings(vec![2], &["cat", "dog"])?;
    /// assert_eq!(t.dtype(), DType::String);
    /// assert_eq!(t.strings()?, vec!["cat", "dog"]);
    /// # Ok::<(), inferkit::Error>(())
    /// ```
    pub fn from_strings<S: AsRef<[u8]>>(shape: Vec<usize>, strings: &[S]) -> Result<Tensor> {
        let (elements, _) =
            byte_len(DType::String, &shape).ok_or_else(|| Error::ShapeOverflow {
                model: String::new(),
                input: String::new(),
                shape: shape.clone(),
            })?;
        if elements != strings.len() {
            return Err(Error::InvalidTensorData {
                input: String::new(),
                reason: format!(
                    "shape {shape:?} holds {elements} strings, {} given",
                    strings.len()
                ),
            });
        }
        let total = strings
            .iter()
            .try_fold(0usize, |acc, s| acc.checked_add(s.as_ref().len()))
            .ok_or_else(|| Error::InvalidTensorData {
                input: String::new(),
                reason: "strings longer than memory".into(),
            })?;
        let mut data = AlignedBytes::zeroed(total);
        let mut offsets = Vec::with_capacity(strings.len() + 1);
        let mut at = 0;
        let bytes = data.as_mut_bytes();
        for s in strings {
            let s = s.as_ref();
            offsets.push(at);
            bytes[at..at + s.len()].copy_from_slice(s);
            at += s.len();
        }
        offsets.push(at);
        Ok(Tensor {
            dtype: DType::String,
            shape: shape.into(),
            data,
            offsets,
        })
    }

    /// A string tensor from its strings laid end to end and `len + 1` offsets into them.
    pub(crate) fn from_string_parts(
        shape: Vec<usize>,
        data: &[u8],
        offsets: Vec<usize>,
    ) -> Result<Tensor> {
        TensorView {
            dtype: DType::String,
            shape: Cow::Borrowed(&shape),
            bytes: data,
            offsets: &offsets,
        }
        .check("")?;
        Ok(Tensor {
            dtype: DType::String,
            shape: shape.into(),
            data: AlignedBytes::copy_from(data),
            offsets,
        })
    }

    /// A tensor of zeros (`false` for bool, empty strings for strings). A shape too large for
    /// memory is an error, not an abort.
    pub fn zeros(dtype: DType, shape: Vec<usize>) -> Result<Tensor> {
        let (elements, len) = byte_len(dtype, &shape).ok_or_else(|| Error::ShapeOverflow {
            model: String::new(),
            input: String::new(),
            shape: shape.clone(),
        })?;
        let too_large = |shape: &[usize]| Error::InvalidArgument {
            name: "shape",
            reason: format!("a {dtype} tensor of shape {shape:?} does not fit in memory"),
        };
        let mut offsets = Vec::new();
        if dtype == DType::String {
            let n = elements.checked_add(1).ok_or_else(|| too_large(&shape))?;
            offsets
                .try_reserve_exact(n)
                .map_err(|_| too_large(&shape))?;
            offsets.resize(n, 0);
        }
        let data = AlignedBytes::try_zeroed(len).ok_or_else(|| too_large(&shape))?;
        Ok(Tensor {
            dtype,
            shape: shape.into(),
            data,
            offsets,
        })
    }

    /// A tensor from a vector of elements in row-major order.
    pub fn from_vec<T: Element>(shape: Vec<usize>, data: Vec<T>) -> Result<Tensor> {
        Tensor::from_bytes(T::DTYPE, shape, bytes_of(&data))
    }

    /// A tensor from an ndarray array of any layout (copied into row-major order).
    pub fn from_array<T: Element, S: Data<Elem = T>, D: Dimension>(
        array: ArrayBase<S, D>,
    ) -> Tensor {
        let shape = array.shape().to_vec();
        let data = match array.as_slice() {
            Some(slice) => AlignedBytes::copy_from(bytes_of(slice)),
            None => AlignedBytes::copy_from(bytes_of(&array.iter().copied().collect::<Vec<T>>())),
        };
        Tensor {
            dtype: T::DTYPE,
            shape: shape.into(),
            data,
            offsets: Vec::new(),
        }
    }

    /// A float tensor of `dtype` (f16, bf16, f32 or f64) from f32 values, rounding to nearest.
    pub fn from_f32(dtype: DType, shape: Vec<usize>, values: &[f32]) -> Result<Tensor> {
        match dtype {
            DType::F32 => Tensor::from_vec(shape, values.to_vec()),
            DType::F64 => Tensor::from_vec(shape, values.iter().map(|v| f64::from(*v)).collect()),
            DType::F16 => {
                Tensor::from_vec(shape, values.iter().map(|v| f16::from_f32(*v)).collect())
            }
            DType::BF16 => {
                Tensor::from_vec(shape, values.iter().map(|v| bf16::from_f32(*v)).collect())
            }
            other => Err(Error::InvalidArgument {
                name: "dtype",
                reason: format!("{other} is not a float type"),
            }),
        }
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw bytes, row-major, native (little-endian) byte order. For a string tensor, its
    /// strings one after another.
    pub fn as_bytes(&self) -> &[u8] {
        self.data.as_bytes()
    }

    /// String `index` of a string tensor, as bytes; `None` for other dtypes or past the end.
    pub fn string_bytes(&self, index: usize) -> Option<&[u8]> {
        self.view().string_bytes(index)
    }

    /// The strings of a string tensor, row-major. Fails for other dtypes, and for a string that is
    /// not UTF-8 (read those with [`Tensor::string_bytes`]).
    pub fn strings(&self) -> Result<Vec<&str>> {
        if self.dtype != DType::String {
            return Err(Error::InvalidArgument {
                name: "dtype",
                reason: format!("tensor holds {}, not strings", self.dtype),
            });
        }
        (0..self.len())
            .map(|i| {
                let bytes = self.string_bytes(i).unwrap_or_default();
                std::str::from_utf8(bytes).map_err(|e| Error::InvalidTensorData {
                    input: String::new(),
                    reason: format!("string {i} is not UTF-8: {e}"),
                })
            })
            .collect()
    }

    /// A borrowed view of this tensor.
    pub fn view(&self) -> TensorView<'_> {
        TensorView {
            dtype: self.dtype,
            shape: Cow::Borrowed(&self.shape[..]),
            bytes: self.data.as_bytes(),
            offsets: &self.offsets,
        }
    }

    /// The elements as a slice of `T`; fails if `T` is not this tensor's dtype.
    pub fn as_slice<T: Element>(&self) -> Result<&[T]> {
        self.view().as_slice()
    }

    /// An ndarray view of the elements; fails if `T` is not this tensor's dtype.
    pub fn array_view<T: Element>(&self) -> Result<ArrayViewD<'_, T>> {
        ArrayViewD::from_shape(IxDyn(&self.shape), self.as_slice::<T>()?).map_err(|e| {
            Error::InvalidTensorData {
                input: String::new(),
                reason: e.to_string(),
            }
        })
    }

    /// An owned ndarray array of the elements; fails if `T` is not this tensor's dtype.
    pub fn to_array<T: Element>(&self) -> Result<ArrayD<T>> {
        Ok(self.array_view::<T>()?.to_owned())
    }

    /// The elements of a float tensor (f16, bf16, f32, f64) converted to f32.
    pub fn to_f32_vec(&self) -> Result<Vec<f32>> {
        Ok(match self.dtype {
            DType::F32 => self.as_slice::<f32>()?.to_vec(),
            DType::F64 => self.as_slice::<f64>()?.iter().map(|v| *v as f32).collect(),
            DType::F16 => self.as_slice::<f16>()?.iter().map(|v| v.to_f32()).collect(),
            DType::BF16 => self
                .as_slice::<bf16>()?
                .iter()
                .map(|v| v.to_f32())
                .collect(),
            other => {
                return Err(Error::InvalidArgument {
                    name: "dtype",
                    reason: format!("{other} is not a float type"),
                })
            }
        })
    }
}

impl<T: Element, D: Dimension> From<ndarray::Array<T, D>> for Tensor {
    fn from(array: ndarray::Array<T, D>) -> Tensor {
        Tensor::from_array(array)
    }
}

/// A tensor whose bytes are borrowed from the caller: `dtype + shape + bytes`.
///
/// Building a view checks nothing; the model checks it against its signature before ONNX Runtime
/// sees it (see [`crate::Signature::validate`]), or call [`TensorView::check`].
#[derive(Clone, Debug)]
pub struct TensorView<'a> {
    dtype: DType,
    shape: Cow<'a, [usize]>,
    bytes: &'a [u8],
    /// String tensors: `len + 1` offsets into `bytes`. Empty otherwise.
    offsets: &'a [usize],
}

impl<'a> TensorView<'a> {
    /// A view over raw bytes.
    pub fn new(
        dtype: DType,
        shape: impl Into<Cow<'a, [usize]>>,
        bytes: &'a [u8],
    ) -> TensorView<'a> {
        TensorView {
            dtype,
            shape: shape.into(),
            bytes,
            offsets: &[],
        }
    }

    /// A view over a slice of elements.
    pub fn from_slice<T: Element>(
        shape: impl Into<Cow<'a, [usize]>>,
        data: &'a [T],
    ) -> TensorView<'a> {
        TensorView {
            dtype: T::DTYPE,
            shape: shape.into(),
            bytes: bytes_of(data),
            offsets: &[],
        }
    }

    /// A view over an ndarray array in standard (row-major, contiguous) layout. Other layouts are an
    /// error: call `as_standard_layout()` first, or use [`Tensor::from_array`].
    pub fn from_array<T: Element, S: Data<Elem = T>, D: Dimension>(
        array: &'a ArrayBase<S, D>,
    ) -> Result<TensorView<'a>> {
        let slice = array.as_slice().ok_or_else(|| Error::InvalidTensorData {
            input: String::new(),
            reason: "array is not in standard layout; call as_standard_layout() first".into(),
        })?;
        Ok(TensorView {
            dtype: T::DTYPE,
            shape: Cow::Owned(array.shape().to_vec()),
            bytes: bytes_of(slice),
            offsets: &[],
        })
    }

    /// A view over the parts of a string tensor (or of any tensor, with no offsets).
    pub(crate) fn with_offsets(
        dtype: DType,
        shape: &'a [usize],
        bytes: &'a [u8],
        offsets: &'a [usize],
    ) -> TensorView<'a> {
        TensorView {
            dtype,
            shape: Cow::Borrowed(shape),
            bytes,
            offsets,
        }
    }

    /// The same view, borrowing its shape instead of cloning it.
    pub(crate) fn reborrow(&self) -> TensorView<'_> {
        TensorView {
            dtype: self.dtype,
            shape: Cow::Borrowed(&self.shape[..]),
            bytes: self.bytes,
            offsets: self.offsets,
        }
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Dimensions, outermost first.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// String `index` of a string view, as bytes; `None` for other dtypes or past the end.
    pub fn string_bytes(&self, index: usize) -> Option<&'a [u8]> {
        let start = *self.offsets.get(index)?;
        let end = *self.offsets.get(index.checked_add(1)?)?;
        self.bytes.get(start..end)
    }

    pub(crate) fn offsets(&self) -> &'a [usize] {
        self.offsets
    }

    /// Checks that the byte length matches the shape and that bool bytes are 0 or 1 (string
    /// tensors: one well-formed string per element). `name` is used in the error.
    pub fn check(&self, name: &str) -> Result<()> {
        let (elements, expected) =
            byte_len(self.dtype, &self.shape).ok_or_else(|| Error::ShapeOverflow {
                model: String::new(),
                input: name.to_string(),
                shape: self.shape.to_vec(),
            })?;
        if self.dtype == DType::String {
            let o = self.offsets;
            let well_formed = o.len() == elements.saturating_add(1)
                && o.first() == Some(&0)
                && o.last() == Some(&self.bytes.len())
                && o.windows(2).all(|w| w[0] <= w[1]);
            if !well_formed {
                return Err(Error::InvalidTensorData {
                    input: name.to_string(),
                    reason: format!(
                        "a string tensor of shape {:?} needs {elements} strings; build it with Tensor::from_strings",
                        self.shape
                    ),
                });
            }
            return Ok(());
        }
        if expected != self.bytes.len() {
            return Err(Error::ByteLengthMismatch {
                model: String::new(),
                input: name.to_string(),
                dtype: self.dtype,
                shape: self.shape.to_vec(),
                expected,
                given: self.bytes.len(),
            });
        }
        if self.dtype == DType::Bool {
            check_bools(name, self.bytes)?;
        }
        Ok(())
    }

    /// The elements as a slice of `T`, without copying. Fails if `T` is not the view's dtype or the
    /// bytes are not aligned for `T` (possible for bytes borrowed from C; [`TensorView::to_owned`]
    /// copies them into aligned storage).
    pub fn as_slice<T: Element>(&self) -> Result<&'a [T]> {
        if T::DTYPE != self.dtype {
            return Err(Error::InvalidArgument {
                name: "T",
                reason: format!("tensor holds {}, asked for {}", self.dtype, T::DTYPE),
            });
        }
        if self.dtype == DType::Bool {
            check_bools("", self.bytes)?;
        }
        cast_slice::<T>(self.bytes).ok_or_else(|| Error::InvalidTensorData {
            input: String::new(),
            reason: format!(
                "{} bytes at {:p} are not aligned to {}",
                self.bytes.len(),
                self.bytes.as_ptr(),
                T::DTYPE
            ),
        })
    }

    /// Copies the view into an owned tensor (checked like [`Tensor::from_bytes`]).
    pub fn to_owned(&self) -> Result<Tensor> {
        self.check("")?;
        Ok(self.to_owned_unchecked())
    }

    /// Copies the view into an owned tensor without checking it (the model checks it when it runs).
    pub(crate) fn to_owned_unchecked(&self) -> Tensor {
        Tensor {
            dtype: self.dtype,
            shape: Dims::from_slice(&self.shape),
            data: AlignedBytes::copy_from(self.bytes),
            offsets: self.offsets.to_vec(),
        }
    }

    /// Whether the bytes can be handed to ONNX Runtime in place.
    pub(crate) fn is_aligned(&self) -> bool {
        (self.bytes.as_ptr() as usize).is_multiple_of(self.dtype.size().max(1))
    }
}

/// Reads a tensor pack: named tensors in the little-endian format written by
/// `tests/fixtures/make_fixtures.py` (`b"IKTP"`, u32 version 1, u32 count; per tensor u32 name
/// length, name, u32 dtype, u32 rank, i64 dims, u64 byte length, bytes). Used for warmup inputs
/// (`warmup.file` in a model's config.toml); the format is not part of the Rust API.
pub(crate) fn read_tensor_pack(path: &std::path::Path) -> Result<Vec<(String, Tensor)>> {
    let bad = |reason: String| Error::InvalidTensorData {
        input: path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
    let mut at = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let end = at
            .checked_add(n)
            .filter(|e| *e <= bytes.len())
            .ok_or_else(|| bad("truncated tensor pack".into()))?;
        let s = &bytes[at..end];
        at = end;
        Ok(s)
    };
    let u32_of = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if take(4)? != b"IKTP" || u32_of(take(4)?) != 1 {
        return Err(bad("not a tensor pack (version 1)".into()));
    }
    let count = u32_of(take(4)?);
    let mut out = Vec::new();
    for _ in 0..count {
        let name_len = u32_of(take(4)?) as usize;
        let name = String::from_utf8(take(name_len)?.to_vec())
            .map_err(|_| bad("tensor name is not UTF-8".into()))?;
        let code = u32_of(take(4)?);
        let dtype = DType::from_u32(code).ok_or_else(|| bad(format!("unknown dtype {code}")))?;
        let rank = u32_of(take(4)?) as usize;
        let mut shape = Vec::with_capacity(rank.min(16));
        for _ in 0..rank {
            let d = i64::from_le_bytes(take(8)?.try_into().map_err(|_| bad("truncated".into()))?);
            shape.push(usize::try_from(d).map_err(|_| bad(format!("negative dim {d}")))?);
        }
        let len =
            u64::from_le_bytes(take(8)?.try_into().map_err(|_| bad("truncated".into()))?) as usize;
        let data = take(len)?;
        out.push((name, Tensor::from_bytes(dtype, shape, data)?));
    }
    Ok(out)
}

impl<'a> From<&'a Tensor> for TensorView<'a> {
    fn from(t: &'a Tensor) -> TensorView<'a> {
        t.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn round_trips_every_element_type() {
        fn rt<T: Element + PartialEq>(v: Vec<T>) {
            let n = v.len();
            let t = Tensor::from_vec(vec![n], v.clone()).unwrap();
            assert_eq!(t.dtype(), T::DTYPE);
            assert_eq!(t.as_bytes().len(), n * T::DTYPE.size());
            assert_eq!(t.as_slice::<T>().unwrap(), &v[..]);
            assert_eq!(t.view().to_owned().unwrap(), t);
        }
        rt(vec![1.5f32, -2.0]);
        rt(vec![1.5f64, -2.0]);
        rt(vec![f16::from_f32(1.5), f16::from_f32(-2.0)]);
        rt(vec![bf16::from_f32(1.5), bf16::from_f32(-2.0)]);
        rt(vec![i8::MIN, i8::MAX]);
        rt(vec![i16::MIN, i16::MAX]);
        rt(vec![i32::MIN, i32::MAX]);
        rt(vec![i64::MIN, i64::MAX]);
        rt(vec![u8::MAX, 0]);
        rt(vec![u16::MAX, 0]);
        rt(vec![u32::MAX, 0]);
        rt(vec![u64::MAX, 0]);
        rt(vec![true, false]);
    }

    #[test]
    fn ndarray_conversions() {
        let a = array![[1i64, 2, 3], [4, 5, 6]];
        let t = Tensor::from_array(a.clone());
        assert_eq!(t.shape(), &[2, 3]);
        assert_eq!(t.to_array::<i64>().unwrap(), a.clone().into_dyn());
        // a transposed (non-standard) array is copied in row-major order
        let tt = Tensor::from_array(a.t());
        assert_eq!(tt.as_slice::<i64>().unwrap(), &[1, 4, 2, 5, 3, 6]);
        // a view refuses a non-standard layout rather than copying behind the caller's back
        assert!(TensorView::from_array(&a.t()).is_err());
        // asking for the wrong element type is an error, not a reinterpretation
        assert!(t.as_slice::<f64>().is_err());
    }

    #[test]
    fn half_conversions() {
        let t = Tensor::from_f32(DType::BF16, vec![2], &[1.0, 3.5]).unwrap();
        assert_eq!(t.to_f32_vec().unwrap(), vec![1.0, 3.5]);
        assert!(Tensor::from_f32(DType::I32, vec![1], &[1.0]).is_err());
    }

    #[test]
    fn checks_lengths_overflow_and_bools() {
        let err = Tensor::from_bytes(DType::F32, vec![2, 2], &[0u8; 15]).unwrap_err();
        assert!(
            matches!(
                err,
                Error::ByteLengthMismatch {
                    expected: 16,
                    given: 15,
                    ..
                }
            ),
            "{err}"
        );
        let err = Tensor::from_bytes(DType::F32, vec![usize::MAX, 2], &[]).unwrap_err();
        assert!(matches!(err, Error::ShapeOverflow { .. }), "{err}");
        let err = Tensor::from_bytes(DType::Bool, vec![2], &[1, 2]).unwrap_err();
        assert!(matches!(err, Error::InvalidTensorData { .. }), "{err}");
        assert!(err.to_string().contains("byte value 2"), "{err}");
    }

    #[test]
    fn misaligned_views_are_detected() {
        let storage = AlignedBytes::zeroed(24);
        let view = TensorView::new(DType::F32, vec![4], &storage.as_bytes()[1..17]);
        assert!(!view.is_aligned());
        assert!(view.as_slice::<f32>().is_err());
        assert_eq!(
            view.to_owned().unwrap().as_slice::<f32>().unwrap(),
            &[0.0; 4]
        );
    }
}
