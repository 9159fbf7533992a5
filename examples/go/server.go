package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	inferkit "github.com/inferkit/inferkit/bindings/go"
	"github.com/inferkit/inferkit/bindings/go/promcollector"
)

// Server serves a model repository over HTTP.
type Server struct {
	reg *inferkit.Registry
	mux *http.ServeMux
}

// NewServer returns the service's handler: inference, status and metrics.
func NewServer(reg *inferkit.Registry) *Server {
	s := &Server{reg: reg, mux: http.NewServeMux()}
	metrics := prometheus.NewRegistry()
	metrics.MustRegister(promcollector.New(reg), collectors.NewGoCollector())
	s.mux.HandleFunc("POST /v1/models/{name}/infer", s.infer)
	s.mux.HandleFunc("GET /v1/models", s.status)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// TensorJSON is a tensor in requests and responses.
type TensorJSON struct {
	DType string          `json:"dtype,omitempty"`
	Shape []int64         `json:"shape"`
	Data  json.RawMessage `json:"data"`
}

// InferRequest is the body of POST /v1/models/{name}/infer.
type InferRequest struct {
	Inputs  map[string]TensorJSON `json:"inputs"`
	Outputs []string              `json:"outputs,omitempty"`
}

// InferResponse is its answer.
type InferResponse struct {
	Model   string                `json:"model"`
	Version uint64                `json:"version"`
	Outputs map[string]TensorJSON `json:"outputs"`
	Classes [][]inferkit.Class    `json:"classes,omitempty"`
}

// ErrorResponse is the body of every failure.
type ErrorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"`
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context() // cancelled when the client goes away
	q := r.URL.Query()
	if ms := q.Get("timeout_ms"); ms != "" {
		n, err := strconv.Atoi(ms)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, fmt.Errorf("timeout_ms: want a positive number, got %q", ms))
			return
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Millisecond)
		defer cancel()
	}
	model, err := s.selectModel(r.PathValue("name"), q.Get("version"), q.Get("label"), q.Get("key"))
	if err != nil {
		writeError(w, 0, err)
		return
	}
	defer model.Close()

	var body InferRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
		return
	}
	inputs, err := decodeInputs(model, body.Inputs)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var opts []inferkit.RunOption
	if len(body.Outputs) > 0 {
		opts = append(opts, inferkit.WithOutputs(body.Outputs...))
	}
	out, err := model.Infer(ctx, inputs, opts...)
	if err != nil {
		writeError(w, 0, err)
		return
	}
	resp := InferResponse{Model: model.Name(), Version: model.Version(), Outputs: map[string]TensorJSON{}, Classes: out.Classes()}
	for _, name := range out.Names() {
		t, err := encodeOutput(out, name)
		if err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
		resp.Outputs[name] = t
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// selectModel picks the version the query asks for: a number, a label, a routing key, or the
// default.
func (s *Server) selectModel(name, version, label, key string) (*inferkit.Model, error) {
	set := 0
	for _, v := range []string{version, label, key} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return nil, &inferkit.Error{Code: inferkit.CodeInvalidArgument, Message: "give one of version, label and key"}
	}
	switch {
	case version != "":
		v, err := strconv.ParseUint(version, 10, 64)
		if err != nil {
			return nil, &inferkit.Error{Code: inferkit.CodeInvalidArgument, Message: "version: " + err.Error()}
		}
		return s.reg.Version(name, v)
	case label != "":
		return s.reg.Label(name, label)
	case key != "":
		return s.reg.Route(name, key)
	}
	return s.reg.Model(name)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	js, err := s.reg.StatusJSON()
	if err != nil {
		writeError(w, 0, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(js))
}

// decodeInputs makes tensors of the model's input dtypes from JSON arrays.
func decodeInputs(m *inferkit.Model, in map[string]TensorJSON) (inferkit.Inputs, error) {
	dtypes := map[string]inferkit.DType{}
	for _, info := range m.Inputs() {
		dtypes[info.Name] = info.DType
	}
	inputs := inferkit.Inputs{}
	for name, t := range in {
		dtype, ok := dtypes[name]
		if !ok {
			// let inferkit name the problem (UNKNOWN_INPUT)
			dtype = inferkit.Float32
		}
		if t.DType != "" && t.DType != dtype.String() {
			return nil, fmt.Errorf("input %q: the model takes %s, not %s", name, dtype, t.DType)
		}
		tensor, err := decodeTensor(dtype, t)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		inputs[name] = tensor
	}
	return inputs, nil
}

func decodeTensor(dtype inferkit.DType, t TensorJSON) (*inferkit.Tensor, error) {
	switch dtype {
	case inferkit.Float32:
		return decodeAs[float32](t)
	case inferkit.Float64:
		return decodeAs[float64](t)
	case inferkit.Int8:
		return decodeAs[int8](t)
	case inferkit.Int16:
		return decodeAs[int16](t)
	case inferkit.Int32:
		return decodeAs[int32](t)
	case inferkit.Int64:
		return decodeAs[int64](t)
	case inferkit.Uint8:
		return decodeAs[uint8](t)
	case inferkit.Uint16:
		return decodeAs[uint16](t)
	case inferkit.Uint32:
		return decodeAs[uint32](t)
	case inferkit.Uint64:
		return decodeAs[uint64](t)
	case inferkit.Bool:
		return decodeAs[bool](t)
	case inferkit.String:
		var data []string
		if err := json.Unmarshal(t.Data, &data); err != nil {
			return nil, err
		}
		return inferkit.NewStringTensor(data, t.Shape...), nil
	}
	return nil, fmt.Errorf("dtype %s is not supported in JSON", dtype)
}

func decodeAs[T inferkit.Element](t TensorJSON) (*inferkit.Tensor, error) {
	var data []T
	if err := json.Unmarshal(t.Data, &data); err != nil {
		return nil, err
	}
	if t.Shape == nil {
		return nil, errors.New("no shape")
	}
	return inferkit.NewTensor(data, t.Shape...), nil
}

func encodeOutput(out *inferkit.Outputs, name string) (TensorJSON, error) {
	kind, dtype, shape, err := out.Info(name)
	if err != nil {
		return TensorJSON{}, err
	}
	if kind != inferkit.KindTensor {
		return TensorJSON{}, fmt.Errorf("output %q is not a tensor", name)
	}
	var data any
	switch dtype {
	case inferkit.Float32:
		data, _, err = inferkit.Output[float32](out, name)
	case inferkit.Float64:
		data, _, err = inferkit.Output[float64](out, name)
	case inferkit.Int32:
		data, _, err = inferkit.Output[int32](out, name)
	case inferkit.Int64:
		data, _, err = inferkit.Output[int64](out, name)
	case inferkit.Bool:
		data, _, err = inferkit.Output[bool](out, name)
	case inferkit.String:
		data, _, err = out.Strings(name)
	default:
		var raw []byte
		_, _, raw, err = out.Raw(name)
		data = raw // base64 in JSON
	}
	if err != nil {
		return TensorJSON{}, err
	}
	b, err := json.Marshal(data)
	return TensorJSON{DType: dtype.String(), Shape: shape, Data: b}, err
}

// statusOf maps inferkit's codes to HTTP statuses.
func statusOf(err error) int {
	var e *inferkit.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError
	}
	switch e.Code {
	case inferkit.CodeUnknownModel, inferkit.CodeUnknownVersion, inferkit.CodeUnknownLabel, inferkit.CodeNoVersionAvailable:
		return http.StatusNotFound
	case inferkit.CodeQueueFull:
		return http.StatusTooManyRequests
	case inferkit.CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case inferkit.CodeCancelled:
		return 499 // client closed request (nginx's convention); nobody reads it
	case inferkit.CodeVersionNotReady, inferkit.CodeNullArgument:
		return http.StatusServiceUnavailable
	case inferkit.CodeInvalidArgument, inferkit.CodeUnknownInput, inferkit.CodeMissingInput, inferkit.CodeDuplicateInput,
		inferkit.CodeDtypeMismatch, inferkit.CodeRankMismatch, inferkit.CodeDimMismatch, inferkit.CodeByteLengthMismatch,
		inferkit.CodeShapeOverflow, inferkit.CodeUnknownOutput, inferkit.CodeInvalidTensorData, inferkit.CodeTypeMismatch,
		inferkit.CodePipelineStep, inferkit.CodeInvalidModelName:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, status int, err error) {
	resp := ErrorResponse{Error: err.Error()}
	var e *inferkit.Error
	if errors.As(err, &e) {
		resp.Code = e.Code.String()
	}
	if status == 0 {
		status = statusOf(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}
