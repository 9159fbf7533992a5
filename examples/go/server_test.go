package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

func newTestServer(t *testing.T) (*httptest.Server, *inferkit.Registry) {
	t.Helper()
	reg, err := inferkit.OpenRegistry("../models")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(NewServer(reg))
	t.Cleanup(func() {
		ts.Close()
		reg.Close()
	})
	return ts, reg
}

func row() []float32 {
	x := make([]float32, 16)
	for i := range x {
		x[i] = float32(i)/8 - 1
	}
	return x
}

// direct runs the row through the version in process, for comparison.
func direct(t *testing.T, reg *inferkit.Registry, version uint64) []float32 {
	t.Helper()
	m, err := reg.Version("classifier", version)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out, err := m.Infer(context.Background(), inferkit.Inputs{"x": inferkit.NewTensor(row(), 1, 16)})
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := inferkit.Output[float32](out, "y")
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func post(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func inferBody(x []float32, shape string) string {
	data, _ := json.Marshal(x)
	return fmt.Sprintf(`{"inputs": {"x": {"shape": %s, "data": %s}}}`, shape, data)
}

func TestInferByVersionLabelAndKey(t *testing.T) {
	ts, reg := newTestServer(t)
	y1, y2 := direct(t, reg, 1), direct(t, reg, 2)
	for query, want := range map[string]struct {
		version uint64
		y       []float32
	}{
		"?version=1":     {1, y1},
		"?version=2":     {2, y2},
		"?label=stable":  {1, y1},
		"?label=canary":  {2, y2},
		"":               {2, y2}, // the default: the newest version
		"?key=user-42":   {0, nil},
		"?timeout_ms=50": {2, y2},
	} {
		code, body := post(t, ts.URL+"/v1/models/classifier/infer"+query, inferBody(row(), "[1, 16]"))
		if code != http.StatusOK {
			t.Fatalf("%q: %d %s", query, code, body)
		}
		var resp InferResponse
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
		var y []float32
		if err := json.Unmarshal(resp.Outputs["y"].Data, &y); err != nil {
			t.Fatal(err)
		}
		if resp.Model != "classifier" || resp.Outputs["y"].DType != "f32" || !slices.Equal(resp.Outputs["y"].Shape, []int64{1, 4}) {
			t.Fatalf("%q: %s", query, body)
		}
		if want.y == nil { // a routing key: either version, with its outputs
			want.version = resp.Version
			want.y = map[uint64][]float32{1: y1, 2: y2}[resp.Version]
		}
		if resp.Version != want.version || !slices.Equal(y, want.y) {
			t.Fatalf("%q: version %d, y %v; want %d, %v", query, resp.Version, y, want.version, want.y)
		}
	}
}

func TestInferErrors(t *testing.T) {
	ts, _ := newTestServer(t)
	url := ts.URL + "/v1/models/classifier/infer"
	for _, c := range []struct {
		url, body string
		status    int
		code      string
	}{
		{url, `{"inputs": `, http.StatusBadRequest, ""},
		{url, inferBody(row(), "[2, 8]"), http.StatusBadRequest, "DIM_MISMATCH"},
		{url, inferBody(row(), "[16]"), http.StatusBadRequest, "RANK_MISMATCH"},
		{url, `{"inputs": {}}`, http.StatusBadRequest, "MISSING_INPUT"},
		{url, `{"inputs": {"z": {"shape": [1], "data": [1]}}}`, http.StatusBadRequest, "UNKNOWN_INPUT"},
		{url, `{"inputs": {"x": {"dtype": "i64", "shape": [1, 16], "data": []}}}`, http.StatusBadRequest, ""},
		{ts.URL + "/v1/models/nope/infer", inferBody(row(), "[1, 16]"), http.StatusNotFound, "UNKNOWN_MODEL"},
		{url + "?label=beta", inferBody(row(), "[1, 16]"), http.StatusNotFound, "UNKNOWN_LABEL"},
		{url + "?version=9", inferBody(row(), "[1, 16]"), http.StatusNotFound, "UNKNOWN_VERSION"},
		{url + "?version=1&label=stable", inferBody(row(), "[1, 16]"), http.StatusBadRequest, "INVALID_ARGUMENT"},
		{url + "?timeout_ms=x", inferBody(row(), "[1, 16]"), http.StatusBadRequest, ""},
	} {
		status, body := post(t, c.url, c.body)
		var e ErrorResponse
		_ = json.Unmarshal(body, &e)
		if status != c.status || e.Code != c.code || e.Error == "" {
			t.Errorf("%s %s: %d %s; want %d %s", c.url, c.body[:min(len(c.body), 40)], status, body, c.status, c.code)
		}
	}
	if resp, err := http.Get(url); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET infer: %v %v", resp, err)
	}
}

// The request's context reaches inferkit: a client that has gone away runs nothing.
func TestClientGoneCancels(t *testing.T) {
	reg, err := inferkit.OpenRegistry("../models")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	h := NewServer(reg)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client disconnected
	req := httptest.NewRequest(http.MethodPost, "/v1/models/classifier/infer?version=1", bytes.NewReader([]byte(inferBody(row(), "[1, 16]")))).WithContext(ctx)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 499 || !strings.Contains(rec.Body.String(), "CANCELLED") {
		t.Fatalf("%d %s", rec.Code, rec.Body.String())
	}
	text, err := reg.MetricsPrometheus()
	if err != nil || !strings.Contains(text, `inferkit_inference_request_success_total{model="classifier",version="1"} 0`) {
		t.Fatalf("a cancelled request ran: %v\n%s", err, text)
	}
}

func TestStatusAndMetrics(t *testing.T) {
	ts, _ := newTestServer(t)
	if code, body := post(t, ts.URL+"/v1/models/classifier/infer?label=stable", inferBody(row(), "[1, 16]")); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`inferkit_inference_request_success_total{model="classifier",version="1"} 1`,
		`# TYPE inferkit_request_duration_us histogram`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("metrics lack %q:\n%s", want, b)
		}
	}
	resp, err = http.Get(ts.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"classifier"`) {
		t.Fatalf("status: %s", b)
	}
}

// The command serves, then shuts down gracefully when its context ends.
func TestRunAndShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, []string{"-models", "../models", "-addr", "127.0.0.1:0"}, ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-errc:
		t.Fatal(err)
	}
	if code, body := post(t, "http://"+addr+"/v1/models/classifier/infer", inferBody(row(), "[1, 16]")); code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/v1/models"); err == nil {
		t.Fatal("still serving")
	}
}
