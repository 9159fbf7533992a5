package inferkit

import (
	"strconv"
	"unsafe"
)

// DType is a tensor's element type: ONNX's TensorProto.DataType numbers, as in inferkit.h.
type DType uint32

// The element types (inferkit_dtype).
const (
	Float32        DType = 1  // float32
	Uint8          DType = 2  // uint8
	Int8           DType = 3  // int8
	Uint16         DType = 4  // uint16
	Int16          DType = 5  // int16
	Int32          DType = 6  // int32
	Int64          DType = 7  // int64
	String         DType = 8  // strings (NewStringTensor)
	Bool           DType = 9  // bool, one byte
	Float16        DType = 10 // IEEE half (raw bytes: NewRawTensor, Outputs.Raw)
	Float64        DType = 11 // float64
	Uint32         DType = 12 // uint32
	Uint64         DType = 13 // uint64
	BFloat16       DType = 16 // bfloat16 (raw bytes)
	Float8E4M3FN   DType = 17 // 8-bit float (raw bytes)
	Float8E4M3FNUZ DType = 18 // 8-bit float (raw bytes)
	Float8E5M2     DType = 19 // 8-bit float (raw bytes)
	Float8E5M2FNUZ DType = 20 // 8-bit float (raw bytes)
	Uint4          DType = 21 // two per byte (raw bytes)
	Int4           DType = 22 // two per byte (raw bytes)
	Float4E2M1     DType = 23 // two per byte (raw bytes)
	Float8E8M0     DType = 24 // 8-bit exponent (raw bytes)
	Uint2          DType = 25 // four per byte (raw bytes)
	Int2           DType = 26 // four per byte (raw bytes)
)

var dtypeNames = map[DType]string{
	Float32: "f32", Uint8: "u8", Int8: "i8", Uint16: "u16", Int16: "i16", Int32: "i32", Int64: "i64",
	String: "string", Bool: "bool", Float16: "f16", Float64: "f64", Uint32: "u32", Uint64: "u64",
	BFloat16: "bf16", Float8E4M3FN: "f8e4m3fn", Float8E4M3FNUZ: "f8e4m3fnuz", Float8E5M2: "f8e5m2",
	Float8E5M2FNUZ: "f8e5m2fnuz", Uint4: "u4", Int4: "i4", Float4E2M1: "f4e2m1", Float8E8M0: "f8e8m0",
	Uint2: "u2", Int2: "i2",
}

// String returns the name inferkit uses in type strings ("f32", "i64", …), or "DType(n)".
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return "DType(" + strconv.FormatUint(uint64(d), 10) + ")"
}

// Numeric is the Go element types of numeric tensors.
type Numeric interface {
	float32 | float64 | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
}

// Element is every Go element type a tensor can be read as: the numeric ones and bool.
type Element interface {
	Numeric | bool
}

// dtypeOf returns the DType of a Go element type.
func dtypeOf[T Element]() DType {
	var z T
	switch any(z).(type) {
	case float32:
		return Float32
	case float64:
		return Float64
	case int8:
		return Int8
	case int16:
		return Int16
	case int32:
		return Int32
	case int64:
		return Int64
	case uint8:
		return Uint8
	case uint16:
		return Uint16
	case uint32:
		return Uint32
	case uint64:
		return Uint64
	case bool:
		return Bool
	}
	panic("unreachable")
}

// Tensor is an input tensor: an element type, a shape and data. It refers to the slice it was
// made from without copying; inferkit copies the data when a request is submitted, so the slice
// may change again as soon as Infer has returned (not while it runs). A Tensor is read-only and
// may be used by any number of requests at once.
type Tensor struct {
	dtype   DType
	shape   []int64
	data    unsafe.Pointer // the first element of the Go slice (nil when empty)
	size    int            // bytes
	strings []string       // a String tensor's elements
	dims    [4]int64       // shape's storage up to rank 4: one allocation per tensor, not two
}

// NewTensor makes a tensor of data with the given shape (row-major). Without a shape the tensor
// is 1-D with len(data) elements; use Scalar for a rank-0 tensor. A shape whose element count
// differs from len(data) fails when the request runs (ErrByteLengthMismatch).
func NewTensor[T Element](data []T, shape ...int64) *Tensor {
	t := &Tensor{dtype: dtypeOf[T]()}
	t.setShape(len(data), shape)
	if len(data) > 0 {
		t.data = unsafe.Pointer(unsafe.SliceData(data))
		t.size = len(data) * int(unsafe.Sizeof(data[0]))
	}
	return t
}

// Scalar makes a rank-0 tensor holding v.
func Scalar[T Element](v T) *Tensor {
	return &Tensor{dtype: dtypeOf[T](), shape: []int64{}, data: unsafe.Pointer(&v), size: int(unsafe.Sizeof(v))}
}

// NewStringTensor makes a string tensor (STRING dtype). Strings are bytes, usually UTF-8, and
// may hold NUL bytes.
func NewStringTensor(data []string, shape ...int64) *Tensor {
	t := &Tensor{dtype: String, strings: data}
	t.setShape(len(data), shape)
	return t
}

// NewRawTensor makes a tensor of any dtype but String from its bytes: row-major, native byte
// order; packed types (Int4, Uint4, Float4E2M1, Int2, Uint2) put the first element in the lowest
// bits. Use it for Float16, BFloat16 and the 8-bit floats. Without a shape it is 1-D of
// len(data) elements (right for one-byte dtypes only).
func NewRawTensor(dtype DType, data []byte, shape ...int64) *Tensor {
	t := &Tensor{dtype: dtype}
	t.setShape(len(data), shape)
	if len(data) > 0 {
		t.data = unsafe.Pointer(unsafe.SliceData(data))
		t.size = len(data)
	}
	return t
}

// setShape copies shape into the tensor (1-D of n elements when shape is nil), in t.dims when
// it fits.
func (t *Tensor) setShape(n int, shape []int64) {
	if shape == nil {
		t.dims[0] = int64(n)
		t.shape = t.dims[:1:1]
		return
	}
	t.shape = keepDims(&t.dims, shape)
}

// keepDims copies dims into buf when they fit (no allocation of their own), else into a new
// slice.
func keepDims(buf *[4]int64, dims []int64) []int64 {
	if len(dims) > len(buf) {
		return append([]int64{}, dims...)
	}
	kept := buf[:len(dims):len(dims)]
	copy(kept, dims)
	return kept
}

// DType returns the tensor's element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns a copy of the tensor's shape.
func (t *Tensor) Shape() []int64 { return append([]int64{}, t.shape...) }
