package inferkit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// Code is an inferkit status code: the numbers of the C ABI's inferkit_status, which never
// change. A code not listed here (from a newer library) is still a failure; its String is
// "Code(n)".
type Code uint32

// The status codes, one per INFERKIT_STATUS_* of inferkit.h.
const (
	CodeOK                        Code = 0  // Success; never the Code of an *Error.
	CodePanic                     Code = 1  // A bug inside inferkit was caught.
	CodeNullArgument              Code = 2  // A required argument was missing (also: a closed handle).
	CodeInvalidArgument           Code = 3  // An argument was out of range or malformed.
	CodeRuntimeUnavailable        Code = 10 // No usable ONNX Runtime library was found.
	CodeRuntimeAlreadyInitialized Code = 11 // ONNX Runtime was already loaded from another library.
	CodeUnsupported               Code = 12 // Something this build does not include.
	CodeModelNotFound             Code = 20 // The model file does not exist.
	CodeModelUnreadable           Code = 21 // The model path could not be read.
	CodeInvalidModel              Code = 22 // The bytes are not a model ONNX Runtime can load.
	CodeUnknownInput              Code = 30 // An input name the model does not have.
	CodeMissingInput              Code = 31 // A model input the request did not provide.
	CodeDuplicateInput            Code = 32 // The same input name given twice.
	CodeDtypeMismatch             Code = 33 // An element type differs from the model's (or the one asked for).
	CodeRankMismatch              Code = 34 // An input's rank differs from the model's.
	CodeDimMismatch               Code = 35 // A fixed or bound dimension differs.
	CodeByteLengthMismatch        Code = 36 // Data length disagrees with shape and element size.
	CodeShapeOverflow             Code = 37 // The product of the dimensions overflows.
	CodeUnknownOutput             Code = 38 // An output name the model (or the outputs) does not have.
	CodeInvalidTensorData         Code = 39 // Tensor bytes not valid for their dtype.
	CodeInference                 Code = 40 // The engine (ONNX Runtime or tract) failed while running the model.
	CodeTypeMismatch              Code = 41 // An input or output of the wrong kind.
	CodeQueueFull                 Code = 50 // The model's queue is full; the request was not accepted.
	CodeDeadlineExceeded          Code = 51 // The deadline passed before or while the request ran.
	CodeCancelled                 Code = 52 // The request was cancelled.
	CodeWouldDeadlock             Code = 53 // A blocking call from a callback of the same model.
	CodeConfig                    Code = 60 // A config.toml (or pipeline TOML) is invalid.
	CodeUnknownModel              Code = 61 // The registry has no model of that name.
	CodeUnknownVersion            Code = 62 // The model has no ready version of that number.
	CodeUnknownLabel              Code = 63 // The model has no label of that name.
	CodeVersionNotReady           Code = 64 // The version exists but is not ready.
	CodeLabelInUse                Code = 65 // The version cannot be unloaded: a label points at it.
	CodeChecksumMismatch          Code = 66 // A model file's SHA-256 differs from the expected one.
	CodeModelTooLarge             Code = 67 // A model file is larger than the configured maximum.
	CodeInvalidModelName          Code = 68 // A model name that is empty, has a separator, or is . or ..
	CodeRepositoryUnreadable      Code = 69 // The repository directory cannot be read.
	CodeNoVersionAvailable        Code = 70 // The model has no ready version to serve.
	CodePipelineConfig            Code = 80 // A pipeline that cannot work with its model.
	CodePipelineStep              Code = 81 // A pipeline step failed on a request's data.
)

var codeNames = map[Code]string{
	CodeOK:                        "OK",
	CodePanic:                     "PANIC",
	CodeNullArgument:              "NULL_ARGUMENT",
	CodeInvalidArgument:           "INVALID_ARGUMENT",
	CodeRuntimeUnavailable:        "RUNTIME_UNAVAILABLE",
	CodeRuntimeAlreadyInitialized: "RUNTIME_ALREADY_INITIALIZED",
	CodeUnsupported:               "UNSUPPORTED",
	CodeModelNotFound:             "MODEL_NOT_FOUND",
	CodeModelUnreadable:           "MODEL_UNREADABLE",
	CodeInvalidModel:              "INVALID_MODEL",
	CodeUnknownInput:              "UNKNOWN_INPUT",
	CodeMissingInput:              "MISSING_INPUT",
	CodeDuplicateInput:            "DUPLICATE_INPUT",
	CodeDtypeMismatch:             "DTYPE_MISMATCH",
	CodeRankMismatch:              "RANK_MISMATCH",
	CodeDimMismatch:               "DIM_MISMATCH",
	CodeByteLengthMismatch:        "BYTE_LENGTH_MISMATCH",
	CodeShapeOverflow:             "SHAPE_OVERFLOW",
	CodeUnknownOutput:             "UNKNOWN_OUTPUT",
	CodeInvalidTensorData:         "INVALID_TENSOR_DATA",
	CodeInference:                 "INFERENCE",
	CodeTypeMismatch:              "TYPE_MISMATCH",
	CodeQueueFull:                 "QUEUE_FULL",
	CodeDeadlineExceeded:          "DEADLINE_EXCEEDED",
	CodeCancelled:                 "CANCELLED",
	CodeWouldDeadlock:             "WOULD_DEADLOCK",
	CodeConfig:                    "CONFIG",
	CodeUnknownModel:              "UNKNOWN_MODEL",
	CodeUnknownVersion:            "UNKNOWN_VERSION",
	CodeUnknownLabel:              "UNKNOWN_LABEL",
	CodeVersionNotReady:           "VERSION_NOT_READY",
	CodeLabelInUse:                "LABEL_IN_USE",
	CodeChecksumMismatch:          "CHECKSUM_MISMATCH",
	CodeModelTooLarge:             "MODEL_TOO_LARGE",
	CodeInvalidModelName:          "INVALID_MODEL_NAME",
	CodeRepositoryUnreadable:      "REPOSITORY_UNREADABLE",
	CodeNoVersionAvailable:        "NO_VERSION_AVAILABLE",
	CodePipelineConfig:            "PIPELINE_CONFIG",
	CodePipelineStep:              "PIPELINE_STEP",
}

// String returns the code's name as inferkit.h spells it without its prefix ("QUEUE_FULL"), or
// "Code(n)" for a number this package does not know.
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return "Code(" + strconv.FormatUint(uint64(c), 10) + ")"
}

// Error is every error this package returns: an inferkit status code and a message naming what
// to fix. Compare with the sentinels (errors.Is(err, inferkit.ErrQueueFull)), which match any
// *Error of the same Code, or read the Code with errors.As.
//
// An error caused by a context (its deadline passed, or it was cancelled) also matches the
// context's error: errors.Is(err, context.DeadlineExceeded) and errors.Is(err,
// inferkit.ErrDeadlineExceeded) both hold.
type Error struct {
	// Code is the status code; never CodeOK.
	Code Code
	// Message is inferkit's message (or this package's, for checks made in Go).
	Message string

	causes []error // the context's error (and its cause) behind a deadline or cancellation
}

// Error returns "inferkit: CODE: message".
func (e *Error) Error() string {
	if e.Message == "" {
		return "inferkit: " + e.Code.String()
	}
	return "inferkit: " + e.Code.String() + ": " + e.Message
}

// Is reports whether target is an *Error with the same Code: the sentinels match every error of
// their code, whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && e != nil && t.Code == e.Code
}

// Unwrap returns the context errors behind a deadline or cancellation (context.DeadlineExceeded
// or context.Canceled, and the context's cause when it has another), and nil otherwise.
func (e *Error) Unwrap() []error { return e.causes }

// Sentinel errors, one per status code. errors.Is(err, ErrX) holds for every *Error whose Code
// is X's; their own messages only say what the code means.
var (
	ErrPanic                     = &Error{Code: CodePanic, Message: "a bug inside inferkit was caught"}
	ErrNullArgument              = &Error{Code: CodeNullArgument, Message: "a required argument was missing"}
	ErrInvalidArgument           = &Error{Code: CodeInvalidArgument, Message: "an argument was out of range or malformed"}
	ErrRuntimeUnavailable        = &Error{Code: CodeRuntimeUnavailable, Message: "no usable ONNX Runtime library was found"}
	ErrRuntimeAlreadyInitialized = &Error{Code: CodeRuntimeAlreadyInitialized, Message: "ONNX Runtime was already loaded from another library"}
	ErrUnsupported               = &Error{Code: CodeUnsupported, Message: "not supported by this build"}
	ErrModelNotFound             = &Error{Code: CodeModelNotFound, Message: "the model file does not exist"}
	ErrModelUnreadable           = &Error{Code: CodeModelUnreadable, Message: "the model path could not be read"}
	ErrInvalidModel              = &Error{Code: CodeInvalidModel, Message: "not a model ONNX Runtime can load"}
	ErrUnknownInput              = &Error{Code: CodeUnknownInput, Message: "an input name the model does not have"}
	ErrMissingInput              = &Error{Code: CodeMissingInput, Message: "a model input the request did not provide"}
	ErrDuplicateInput            = &Error{Code: CodeDuplicateInput, Message: "the same input given twice"}
	ErrDtypeMismatch             = &Error{Code: CodeDtypeMismatch, Message: "an element type differs"}
	ErrRankMismatch              = &Error{Code: CodeRankMismatch, Message: "an input's rank differs from the model's"}
	ErrDimMismatch               = &Error{Code: CodeDimMismatch, Message: "a dimension differs from the model's"}
	ErrByteLengthMismatch        = &Error{Code: CodeByteLengthMismatch, Message: "data length disagrees with the shape"}
	ErrShapeOverflow             = &Error{Code: CodeShapeOverflow, Message: "the shape's element count overflows"}
	ErrUnknownOutput             = &Error{Code: CodeUnknownOutput, Message: "an output name that does not exist"}
	ErrInvalidTensorData         = &Error{Code: CodeInvalidTensorData, Message: "tensor bytes not valid for their dtype"}
	ErrInference                 = &Error{Code: CodeInference, Message: "the engine failed while running the model"}
	ErrTypeMismatch              = &Error{Code: CodeTypeMismatch, Message: "a value of the wrong kind"}
	ErrQueueFull                 = &Error{Code: CodeQueueFull, Message: "the model's queue is full"}
	ErrDeadlineExceeded          = &Error{Code: CodeDeadlineExceeded, Message: "the deadline passed"}
	ErrCancelled                 = &Error{Code: CodeCancelled, Message: "the request was cancelled"}
	ErrWouldDeadlock             = &Error{Code: CodeWouldDeadlock, Message: "a blocking call inside a callback of the same model"}
	ErrConfig                    = &Error{Code: CodeConfig, Message: "invalid configuration"}
	ErrUnknownModel              = &Error{Code: CodeUnknownModel, Message: "no model of that name"}
	ErrUnknownVersion            = &Error{Code: CodeUnknownVersion, Message: "no ready version of that number"}
	ErrUnknownLabel              = &Error{Code: CodeUnknownLabel, Message: "no label of that name"}
	ErrVersionNotReady           = &Error{Code: CodeVersionNotReady, Message: "the version is not ready"}
	ErrLabelInUse                = &Error{Code: CodeLabelInUse, Message: "a label points at the version"}
	ErrChecksumMismatch          = &Error{Code: CodeChecksumMismatch, Message: "a model file's checksum differs"}
	ErrModelTooLarge             = &Error{Code: CodeModelTooLarge, Message: "a model file is too large"}
	ErrInvalidModelName          = &Error{Code: CodeInvalidModelName, Message: "an invalid model name"}
	ErrRepositoryUnreadable      = &Error{Code: CodeRepositoryUnreadable, Message: "the repository cannot be read"}
	ErrNoVersionAvailable        = &Error{Code: CodeNoVersionAvailable, Message: "no ready version to serve"}
	ErrPipelineConfig            = &Error{Code: CodePipelineConfig, Message: "the pipeline does not fit the model"}
	ErrPipelineStep              = &Error{Code: CodePipelineStep, Message: "a pipeline step failed"}

	// ErrClosed is returned for a call on a closed Model or Registry. Its Code is
	// CodeNullArgument (as the C ABI answers a NULL handle), so it also matches ErrNullArgument.
	ErrClosed = &Error{Code: CodeNullArgument, Message: "use of a closed handle"}
)

// errorf makes an *Error raised by a check in Go.
func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// closedError is ErrClosed naming the kind of handle.
func closedError(what string) *Error {
	return &Error{Code: CodeNullArgument, Message: what + " is closed"}
}

// contextError turns a context's error into an *Error: DEADLINE_EXCEEDED for a passed deadline,
// CANCELLED otherwise, wrapping the context's cause. msg is inferkit's message if it gave one.
func contextError(ctx context.Context, msg string) *Error {
	err := ctx.Err()
	if err == nil { // not done: only called once it is
		err = context.Canceled
	}
	causes := []error{err}
	if c := context.Cause(ctx); c != nil && c != err {
		causes = append(causes, c)
	}
	code := CodeCancelled
	if errors.Is(err, context.DeadlineExceeded) {
		code = CodeDeadlineExceeded
	}
	text := causes[len(causes)-1].Error()
	if msg == "" {
		msg = text
	} else {
		msg += " (" + text + ")"
	}
	return &Error{Code: code, Message: msg, causes: causes}
}
