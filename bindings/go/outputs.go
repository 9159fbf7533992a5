package inferkit

/*
#include "shim.h"
*/
import "C"

import (
	"unsafe"
)

// Outputs are the outputs of one request, copied into Go memory: they need no closing and stay
// valid as long as they are referenced.
type Outputs struct {
	values  []outputValue
	classes [][]Class
	// Storage for one output's value and dims up to rank 4: one allocation, not three.
	one  [1]outputValue
	dims [4]int64
}

type outputValue struct {
	name  string
	kind  ValueKind
	dtype DType
	shape []int64
	// A tensor's elements: for dtypes with a Go type, allocated as a slice of that type (so
	// aligned for it) and viewed as bytes; for the others, bytes. Not an interface, which
	// would cost an allocation of its own.
	bytes   []byte
	strings []string // a string tensor's elements
}

// Class is one class of a pipeline ending with a top_k step.
type Class struct {
	Index int     // The class's index along the class axis.
	Label string  // Its label from the pipeline's label file, or "" without one.
	Score float32 // Its score.
}

// singleOutput makes Outputs of one numeric tensor read by ikgo_outputs_head_read.
func singleOutput(info *C.ikgo_output, name string) *Outputs {
	o := &Outputs{}
	o.values = o.one[:]
	v := &o.values[0]
	v.name, v.kind, v.dtype = name, KindTensor, DType(info.dtype)
	v.shape = keepDims(&o.dims, unsafe.Slice((*int64)(unsafe.Pointer(info.shape)), int(info.rank)))
	v.bytes = copyData(v.dtype, unsafe.Pointer(info.data), int(info.len))
	return o
}

// readOutputs copies C outputs into Go memory (the caller frees them).
func readOutputs(out *C.inferkit_outputs) (*Outputs, error) {
	n := int(C.inferkit_outputs_count(out))
	o := &Outputs{values: make([]outputValue, n)}
	for i := 0; i < n; i++ {
		var info C.ikgo_output
		var cerr *C.inferkit_error
		st := C.ikgo_output_get(out, C.size_t(i), &info, &cerr)
		v := &o.values[i]
		switch st {
		case C.INFERKIT_STATUS_OK:
			v.name, v.kind, v.dtype = C.GoString(info.name), KindTensor, DType(info.dtype)
			v.shape = append([]int64{}, unsafe.Slice((*int64)(unsafe.Pointer(info.shape)), int(info.rank))...)
			v.bytes = copyData(v.dtype, unsafe.Pointer(info.data), int(info.len))
		case C.INFERKIT_STATUS_TYPE_MISMATCH:
			C.inferkit_error_free(cerr)
			if err := readValueOutput(out, i, v); err != nil {
				return nil, err
			}
		default:
			return nil, newError(st, cerr)
		}
	}
	rows := int(C.inferkit_outputs_class_rows(out))
	if rows > 0 {
		o.classes = make([][]Class, rows)
		for r := 0; r < rows; r++ {
			k := int(C.inferkit_outputs_class_count(out, C.size_t(r)))
			o.classes[r] = make([]Class, k)
			for c := 0; c < k; c++ {
				var idx C.size_t
				var label *C.char
				var score C.float
				var cerr *C.inferkit_error
				if err := takeError(C.inferkit_outputs_class(out, C.size_t(r), C.size_t(c), &idx, &label, &score, &cerr), cerr); err != nil {
					return nil, err
				}
				cl := Class{Index: int(idx), Score: float32(score)}
				if label != nil {
					cl.Label = C.GoString(label)
				}
				o.classes[r][c] = cl
			}
		}
	}
	return o, nil
}

// readValueOutput reads an output that inferkit_outputs_get refuses: a string tensor, or a
// sequence, map or optional (recorded by name and kind only).
func readValueOutput(out *C.inferkit_outputs, i int, v *outputValue) error {
	var info C.ikgo_output
	var tensor *C.inferkit_tensor
	var cerr *C.inferkit_error
	st := C.ikgo_output_tensor(out, C.size_t(i), &tensor, &info, &cerr)
	if st == C.INFERKIT_STATUS_TYPE_MISMATCH {
		C.inferkit_error_free(cerr)
		v.name = C.GoString(C.inferkit_outputs_name(out, C.size_t(i)))
		v.kind = ValueKind(C.inferkit_value_get_kind(C.inferkit_outputs_value(out, C.size_t(i))))
		return nil
	}
	if err := takeError(st, cerr); err != nil {
		return err
	}
	v.name, v.kind, v.dtype = C.GoString(info.name), KindTensor, DType(info.dtype)
	dims := unsafe.Slice((*C.size_t)(unsafe.Pointer(info.dims)), int(info.rank))
	v.shape = make([]int64, len(dims))
	for d, x := range dims {
		v.shape[d] = int64(x)
	}
	if v.dtype != String {
		v.bytes = copyData(v.dtype, unsafe.Pointer(info.data), int(info.len))
		return nil
	}
	strs := make([]string, int(info.elements))
	for k := range strs {
		var p *C.char
		var n C.size_t
		if err := takeError(C.inferkit_tensor_string(tensor, C.size_t(k), &p, &n, &cerr), cerr); err != nil {
			return err
		}
		strs[k] = C.GoStringN(p, C.int(n))
	}
	v.strings = strs
	return nil
}

// copyData copies n bytes of a tensor into Go memory allocated as a slice of its element type
// (bytes for dtypes without a Go type), and returns them as bytes.
func copyData(dtype DType, p unsafe.Pointer, n int) []byte {
	switch dtype {
	case Float32:
		return copyAs[float32](p, n)
	case Float64:
		return copyAs[float64](p, n)
	case Int16:
		return copyAs[int16](p, n)
	case Int32:
		return copyAs[int32](p, n)
	case Int64:
		return copyAs[int64](p, n)
	case Uint16:
		return copyAs[uint16](p, n)
	case Uint32:
		return copyAs[uint32](p, n)
	case Uint64:
		return copyAs[uint64](p, n)
	}
	b := make([]byte, n)
	if n > 0 {
		copy(b, unsafe.Slice((*byte)(p), n))
	}
	return b
}

func copyAs[T any](p unsafe.Pointer, n int) []byte {
	var z T
	count := n / int(unsafe.Sizeof(z))
	s := make([]T, count)
	if count > 0 {
		copy(s, unsafe.Slice((*T)(p), count))
	}
	return sliceBytes(s)
}

// elements views a tensor's bytes (from copyData) as elements of T.
func elements[T Element](b []byte) []T {
	var z T
	if len(b) == 0 {
		return []T{}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/int(unsafe.Sizeof(z)))
}

// Len returns the number of outputs.
func (o *Outputs) Len() int { return len(o.values) }

// Names returns the outputs' names, in order (the model's, or those asked for with WithOutputs).
func (o *Outputs) Names() []string {
	names := make([]string, len(o.values))
	for i, v := range o.values {
		names[i] = v.name
	}
	return names
}

func (o *Outputs) find(name string) (*outputValue, error) {
	for i := range o.values {
		if o.values[i].name == name {
			return &o.values[i], nil
		}
	}
	return nil, errorf(CodeUnknownOutput, "no output named %q (outputs: %q)", name, o.Names())
}

// Info returns an output's kind, dtype and shape (ErrUnknownOutput for a name not there).
func (o *Outputs) Info(name string) (ValueKind, DType, []int64, error) {
	v, err := o.find(name)
	if err != nil {
		return 0, 0, nil, err
	}
	return v.kind, v.dtype, append([]int64{}, v.shape...), nil
}

// Output returns the elements of the tensor output `name` as a []T, and its shape. Both slices
// are the Outputs' own (not copies). ErrUnknownOutput for a name not there; ErrDtypeMismatch when
// the output's dtype is not T's; ErrTypeMismatch for a sequence, map or optional.
func Output[T Element](o *Outputs, name string) ([]T, []int64, error) {
	v, err := o.find(name)
	if err != nil {
		return nil, nil, err
	}
	if v.kind != KindTensor {
		return nil, nil, errorf(CodeTypeMismatch, "output %q is not a tensor (kind %d)", name, v.kind)
	}
	if v.dtype != dtypeOf[T]() {
		return nil, nil, errorf(CodeDtypeMismatch, "output %q is %s, not %s", name, v.dtype, dtypeOf[T]())
	}
	return elements[T](v.bytes), v.shape[:len(v.shape):len(v.shape)], nil
}

// Strings returns the elements of the string tensor output `name`, and its shape
// (ErrDtypeMismatch for another dtype).
func (o *Outputs) Strings(name string) ([]string, []int64, error) {
	v, err := o.find(name)
	if err != nil {
		return nil, nil, err
	}
	if v.kind != KindTensor || v.dtype != String {
		return nil, nil, errorf(CodeDtypeMismatch, "output %q is %s, not string", name, v.dtype)
	}
	return v.strings, append([]int64{}, v.shape...), nil
}

// Raw returns the tensor output `name` as bytes (row-major, native byte order) with its dtype
// and shape: the way to read Float16, BFloat16 and the other dtypes without a Go type.
// ErrDtypeMismatch for a string tensor; ErrTypeMismatch for a sequence, map or optional.
func (o *Outputs) Raw(name string) (DType, []int64, []byte, error) {
	v, err := o.find(name)
	if err != nil {
		return 0, nil, nil, err
	}
	if v.kind != KindTensor {
		return 0, nil, nil, errorf(CodeTypeMismatch, "output %q is not a tensor (kind %d)", name, v.kind)
	}
	if v.dtype == String {
		return 0, nil, nil, errorf(CodeDtypeMismatch, "output %q is a string tensor (use Strings)", name)
	}
	return v.dtype, append([]int64{}, v.shape...), v.bytes, nil
}

func sliceBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return []byte{}
	}
	var z T
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(z)))
}

// Classes returns the classes of a pipeline ending with top_k: one slice per batch row, best
// first; nil without top_k.
func (o *Outputs) Classes() [][]Class { return o.classes }
