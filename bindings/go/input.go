package inferkit

/*
#include <stdlib.h>
#include <string.h>
#include "inferkit.h"
*/
import "C"

import (
	"image"
	"image/color"
	"runtime"
	"unsafe"
)

// Input is what one request carries: named tensors (Inputs), a *Tensor alone for a model with
// one input, or one pipeline input (Image, Pixels, EncodedImage, Text, Tokens, PipelineTensor)
// for a model opened with a pipeline. Inputs are copied when the request is submitted.
type Input interface {
	apply(m *Model, req *C.inferkit_request) error
}

// Inputs are a request's input tensors by name: inferkit.Inputs{"x": x}.
type Inputs map[string]*Tensor

func (in Inputs) apply(_ *Model, req *C.inferkit_request) error {
	for name, t := range in {
		if t == nil {
			return errorf(CodeNullArgument, "input %q is a nil *Tensor", name)
		}
		cname, err := goCString(name, "input name")
		if err != nil {
			return err
		}
		if err := t.add(req, cname); err != nil {
			return err
		}
	}
	return nil
}

// apply makes a *Tensor alone the input of a model with one input (the tensor is that input,
// whatever its name): m.Infer(ctx, inferkit.NewTensor(x, 1, 16)).
func (t *Tensor) apply(m *Model, req *C.inferkit_request) error {
	if t == nil {
		return errorf(CodeNullArgument, "nil *Tensor")
	}
	cname, err := m.onlyInput()
	if err != nil {
		return err
	}
	return t.add(req, cname)
}

// shapePtr returns a pointer to the first dim (nil for a scalar), in Go memory that the C call
// only reads during the call.
func shapePtr(shape []int64) *C.int64_t {
	if len(shape) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&shape[0]))
}

// dataPtr returns a pointer for `size` bytes at p: a valid pointer even when empty (inferkit
// refuses NULL data, and an empty buffer is empty whatever its pointer).
func dataPtr(p unsafe.Pointer) unsafe.Pointer {
	if p == nil {
		return unsafe.Pointer(&emptyByte)
	}
	return p
}

var emptyByte byte

// add adds the tensor to a request, copying its data (inferkit_request_add_tensor_copy): the C
// library keeps no pointer into Go memory once the call returns.
func (t *Tensor) add(req *C.inferkit_request, name *C.char) error {
	var cerr *C.inferkit_error
	if t.dtype == String {
		return t.addStrings(req, name)
	}
	st := C.inferkit_request_add_tensor_copy(req, name, C.uint32_t(t.dtype), shapePtr(t.shape), C.size_t(len(t.shape)),
		dataPtr(t.data), C.size_t(t.size), &cerr)
	runtime.KeepAlive(t)
	return takeError(st, cerr)
}

// addStrings adds a string tensor: the strings go through C memory, since an array of pointers
// into Go memory may not be passed to C.
func (t *Tensor) addStrings(req *C.inferkit_request, name *C.char) error {
	n := len(t.strings)
	total := 0
	for _, s := range t.strings {
		total += len(s)
	}
	// One allocation: n pointers, n lengths, then the bytes.
	block := C.malloc(C.size_t(n*int(unsafe.Sizeof(uintptr(0)))*2 + total + 1))
	if block == nil {
		return errorf(CodeInvalidArgument, "out of memory for %d strings", n)
	}
	defer C.free(block)
	ptrs := unsafe.Slice((**C.char)(block), n+1)[:n]
	lens := unsafe.Slice((*C.size_t)(unsafe.Add(block, n*int(unsafe.Sizeof(uintptr(0))))), n+1)[:n]
	bytes := unsafe.Add(block, 2*n*int(unsafe.Sizeof(uintptr(0))))
	off := 0
	for i, s := range t.strings {
		p := unsafe.Add(bytes, off)
		if len(s) > 0 {
			C.memcpy(p, unsafe.Pointer(unsafe.StringData(s)), C.size_t(len(s)))
		}
		ptrs[i] = (*C.char)(p)
		lens[i] = C.size_t(len(s))
		off += len(s)
	}
	var pp **C.char
	var lp *C.size_t
	if n > 0 {
		pp, lp = &ptrs[0], &lens[0]
	} else {
		pp, lp = (**C.char)(block), (*C.size_t)(block)
	}
	var cerr *C.inferkit_error
	st := C.inferkit_request_add_strings(req, name, shapePtr(t.shape), C.size_t(len(t.shape)), pp, lp, C.size_t(n), &cerr)
	return takeError(st, cerr)
}

// PixelFormat is the layout of one pixel of raw image data.
type PixelFormat uint32

// The pixel formats (inferkit_pixel_format).
const (
	RGB8  PixelFormat = 0 // Red, green, blue; one byte each.
	BGR8  PixelFormat = 1 // Blue, green, red (OpenCV's order).
	RGBA8 PixelFormat = 2 // Red, green, blue, alpha.
	Gray8 PixelFormat = 3 // One gray byte.
)

type pixelsInput struct {
	data                  []byte
	format                PixelFormat
	width, height, stride int
}

// Pixels is a pipeline input of raw pixels: height rows of width pixels in format, rows stride
// bytes apart. The model's pipeline resizes, crops and normalises them. A zero size, a short
// stride or too few bytes fail when the request runs (ErrPipelineStep).
func Pixels(data []byte, format PixelFormat, width, height, stride int) Input {
	return pixelsInput{data, format, width, height, stride}
}

func (p pixelsInput) apply(_ *Model, req *C.inferkit_request) error {
	if p.width < 0 || p.height < 0 || p.stride < 0 {
		return errorf(CodeInvalidArgument, "negative image size %dx%d, stride %d", p.width, p.height, p.stride)
	}
	ptr := (*C.uint8_t)(dataPtr(unsafe.Pointer(unsafe.SliceData(p.data))))
	var cerr *C.inferkit_error
	st := C.inferkit_request_set_image(req, ptr, C.size_t(len(p.data)), C.uint32_t(p.format),
		C.size_t(p.width), C.size_t(p.height), C.size_t(p.stride), &cerr)
	return takeError(st, cerr)
}

// Image is a pipeline input made from an image.Image, converted to packed RGB8 (alpha dropped,
// as PIL's convert("RGB") does). *image.RGBA, *image.NRGBA, *image.Gray and *image.YCbCr are
// converted directly; other images through their color model.
func Image(img image.Image) Input {
	if img == nil {
		return errInput{errorf(CodeNullArgument, "nil image")}
	}
	pix, w, h := toRGB8(img)
	return pixelsInput{pix, RGB8, w, h, w * 3}
}

// dropAlpha copies h rows of w four-byte pixels, starting at pix[start] and stride bytes apart,
// into out as packed RGB8.
func dropAlpha(out, pix []byte, start, stride, w, h int) {
	o := 0
	for y := 0; y < h; y++ {
		row := pix[start+y*stride:]
		for x := 0; x < w; x++ {
			out[o], out[o+1], out[o+2] = row[4*x], row[4*x+1], row[4*x+2]
			o += 3
		}
	}
}

// toRGB8 converts an image to packed RGB8 rows.
func toRGB8(img image.Image) ([]byte, int, int) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]byte, w*h*3)
	o := 0
	switch src := img.(type) {
	case *image.RGBA:
		dropAlpha(out, src.Pix, src.PixOffset(b.Min.X, b.Min.Y), src.Stride, w, h)
	case *image.NRGBA:
		dropAlpha(out, src.Pix, src.PixOffset(b.Min.X, b.Min.Y), src.Stride, w, h)
	case *image.Gray:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := src.Pix[src.PixOffset(b.Min.X, y):]
			for x := 0; x < w; x++ {
				g := row[x]
				out[o], out[o+1], out[o+2] = g, g, g
				o += 3
			}
		}
	case *image.YCbCr:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				yi, ci := src.YOffset(x, y), src.COffset(x, y)
				out[o], out[o+1], out[o+2] = color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				o += 3
			}
		}
	default:
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
				out[o], out[o+1], out[o+2] = c.R, c.G, c.B
				o += 3
			}
		}
	}
	return out, w, h
}

type encodedInput []byte

// EncodedImage is a pipeline input of PNG or JPEG bytes, decoded by inferkit. Undecodable bytes
// fail when the request runs (ErrPipelineStep, step "decode").
func EncodedImage(data []byte) Input { return encodedInput(data) }

func (e encodedInput) apply(_ *Model, req *C.inferkit_request) error {
	ptr := (*C.uint8_t)(dataPtr(unsafe.Pointer(unsafe.SliceData(e))))
	var cerr *C.inferkit_error
	return takeError(C.inferkit_request_set_encoded_image(req, ptr, C.size_t(len(e)), &cerr), cerr)
}

type textInput string

// Text is a pipeline input of text for the pipeline's tokenizer (a build with the tokenizer
// feature and a pipeline with a `text` table).
func Text(s string) Input { return textInput(s) }

func (t textInput) apply(_ *Model, req *C.inferkit_request) error {
	cs, err := goCString(string(t), "text")
	if err != nil {
		return err
	}
	var cerr *C.inferkit_error
	return takeError(C.inferkit_request_set_text(req, cs, &cerr), cerr)
}

type tokensInput []int64

// Tokens is a pipeline input of token ids, padded or truncated to the pipeline's
// sequence.max_length with an attention mask.
func Tokens(ids []int64) Input { return tokensInput(ids) }

func (t tokensInput) apply(_ *Model, req *C.inferkit_request) error {
	ptr := (*C.int64_t)(dataPtr(unsafe.Pointer(unsafe.SliceData(t))))
	var cerr *C.inferkit_error
	return takeError(C.inferkit_request_set_tokens(req, ptr, C.size_t(len(t)), &cerr), cerr)
}

type pipelineTensor struct{ t *Tensor }

// PipelineTensor is a pipeline input of one raw tensor: the pipeline's pre steps, the model,
// its post steps. Without a declared pipeline it feeds the model's first input.
func PipelineTensor(t *Tensor) Input { return pipelineTensor{t} }

func (p pipelineTensor) apply(_ *Model, req *C.inferkit_request) error {
	if p.t == nil {
		return errorf(CodeNullArgument, "nil pipeline tensor")
	}
	if p.t.dtype == String {
		return errorf(CodeInvalidArgument, "a pipeline tensor cannot be a string tensor")
	}
	var cerr *C.inferkit_error
	st := C.inferkit_request_set_pipeline_tensor(req, C.uint32_t(p.t.dtype), shapePtr(p.t.shape), C.size_t(len(p.t.shape)),
		dataPtr(p.t.data), C.size_t(p.t.size), &cerr)
	runtime.KeepAlive(p.t)
	return takeError(st, cerr)
}

// errInput is an Input that fails with its error.
type errInput struct{ err error }

func (e errInput) apply(*Model, *C.inferkit_request) error { return e.err }
