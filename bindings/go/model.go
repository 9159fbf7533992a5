package inferkit

/*
#include <stdlib.h>
#include "inferkit.h"
#include "shim.h"
*/
import "C"

import (
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// ValueKind is what kind of value an input or output is (inferkit_value_kind).
type ValueKind uint32

// The value kinds.
const (
	KindTensor   ValueKind = 1 // A tensor (numbers, booleans or strings).
	KindSequence ValueKind = 2 // A sequence of values.
	KindMap      ValueKind = 3 // A map from keys to values.
	KindOptional ValueKind = 6 // A value that may be absent.
)

// IOInfo describes one input or output of a model.
type IOInfo struct {
	// Name is the input's or output's name.
	Name string
	// Kind is a tensor, sequence, map or optional.
	Kind ValueKind
	// DType is the element type (of the innermost tensor for other kinds).
	DType DType
	// Shape has one entry per dimension: its size, or -1 when each request chooses it.
	Shape []int64
	// DimNames names the symbolic dimensions ("batch"); "" for the others.
	DimNames []string
	// Type is the type as inferkit writes it: "f32[batch, 16]", "seq(map(i64, f32))".
	Type string
}

// Stats are a model's scheduler counters at one moment.
type Stats struct {
	Instances   int    // ONNX Runtime sessions.
	Idle        int    // Sessions idle now.
	Queued      int    // Requests queued now.
	Executions  uint64 // Session runs so far.
	RequestsRun uint64 // Requests those runs served.
}

// Model is a loaded model. It is safe for concurrent use by any number of goroutines. Close it
// when done; requests in flight when it closes finish normally (each holds the model loaded),
// and later calls return ErrClosed.
type Model struct {
	p       *C.inferkit_model     // set once; valid while state says open or has users
	cache   *C.ikgo_request_cache // a request kept between calls (C memory), freed with p
	state   atomic.Int64          // closedFlag | the number of calls using p now
	destroy sync.Once
	cleanup runtime.Cleanup
	name    string
	version uint64
	load    *atomic.Int64 // Infer calls in flight on this model (name and version) in this process

	decisions   atomic.Uint64 // calls that chose between blocking and queued (see shortRuns)
	runEstimate atomic.Uint64 // the model's run estimate for one row in ns, as last read
	queueDelay  bool          // the model waits to fill batches (set once, when made)

	infoOnce        sync.Once
	inputs, outputs []IOInfo
	cnames          map[string]*C.char // input names in C memory (read-only once built)
}

const closedFlag = 1 << 62

// Open loads the ONNX model at path.
func Open(path string, opts ...Option) (*Model, error) {
	cpath, err := cString(path, "path")
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cpath))
	return openWith(opts, func(o *C.inferkit_model_options, m **C.inferkit_model, e **C.inferkit_error) C.inferkit_status {
		return C.inferkit_model_open(cpath, o, m, e)
	})
}

// OpenBytes loads an ONNX model from memory; name names it in errors and metrics ("" for
// "model"; WithName wins). data is only read during the call.
func OpenBytes(name string, data []byte, opts ...Option) (*Model, error) {
	var cname *C.char
	if name != "" {
		var err error
		if cname, err = cString(name, "name"); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(cname))
	}
	// A valid pointer even for no bytes: empty is INVALID_MODEL, not NULL_ARGUMENT.
	ptr := (*C.uint8_t)(dataPtr(unsafe.Pointer(unsafe.SliceData(data))))
	return openWith(opts, func(o *C.inferkit_model_options, m **C.inferkit_model, e **C.inferkit_error) C.inferkit_status {
		return C.inferkit_model_open_bytes(cname, ptr, C.size_t(len(data)), o, m, e)
	})
}

func openWith(opts []Option, open func(*C.inferkit_model_options, **C.inferkit_model, **C.inferkit_error) C.inferkit_status) (*Model, error) {
	if err := abiCheck(); err != nil {
		return nil, err
	}
	var cfg modelConfig
	for _, o := range opts {
		o(&cfg)
	}
	copts, err := cfg.build()
	if err != nil {
		return nil, err
	}
	defer C.inferkit_model_options_free(copts)
	var p *C.inferkit_model
	var cerr *C.inferkit_error
	if err := takeError(open(copts, &p, &cerr), cerr); err != nil {
		return nil, err
	}
	return newModel(p, 0), nil
}

// newModel wraps a model handle the caller owns.
func newModel(p *C.inferkit_model, version uint64) *Model {
	cache := C.ikgo_request_cache_new()
	if cache == nil {
		panic("inferkit: out of memory")
	}
	m := &Model{p: p, cache: cache, version: version, name: C.GoString(C.inferkit_model_name(p))}
	var delay C.uint64_t
	if C.inferkit_model_batching(p, nil, &delay, nil, nil, nil) == C.INFERKIT_STATUS_OK {
		m.queueDelay = delay > 0
	}
	l, _ := loads.LoadOrStore(loadKey{m.name, version}, new(atomic.Int64))
	m.load = l.(*atomic.Int64)
	m.cleanup = runtime.AddCleanup(m, func(h handles) {
		C.inferkit_model_close(h.p)
		C.ikgo_request_cache_free(h.cache)
	}, handles{p, cache})
	return m
}

// handles are what a Model's cleanup releases when the Model was not closed.
type handles struct {
	p     *C.inferkit_model
	cache *C.ikgo_request_cache
}

// loads counts the Infer calls in flight per model name and version, shared by every handle
// of one model (and, harmlessly, by models opened from files with the same name).
var loads sync.Map // loadKey -> *atomic.Int64

type loadKey struct {
	name    string
	version uint64
}

// Close closes the model handle. Requests in flight finish (each holds the model loaded) and
// later calls on the Model return ErrClosed; the C handle is closed once the calls using it now
// have returned. Close may be called more than once, from any goroutine; it always returns nil.
func (m *Model) Close() error {
	for {
		old := m.state.Load()
		if old&closedFlag != 0 {
			return nil
		}
		if m.state.CompareAndSwap(old, old|closedFlag) {
			if old == 0 {
				m.release0()
			}
			return nil
		}
	}
}

// acquire marks a call using the C handle; false once the model is closed. Every true is
// followed by one release.
func (m *Model) acquire() bool {
	if m.state.Add(1)&closedFlag != 0 {
		m.release()
		return false
	}
	return true
}

// release ends a call using the C handle; the last one after Close closes it.
func (m *Model) release() {
	if m.state.Add(-1) == closedFlag {
		m.release0()
	}
}

// release0 closes the C handle (once), when the model is closed and no call uses it.
func (m *Model) release0() {
	m.destroy.Do(func() {
		m.cleanup.Stop()
		C.inferkit_model_close(m.p)
		C.ikgo_request_cache_free(m.cache) // its request held the model too
		for _, s := range m.cnames {
			C.free(unsafe.Pointer(s))
		}
	})
}

// Name returns the model's name (from WithName, the file, or the repository).
func (m *Model) Name() string { return m.name }

// Version returns the repository version a Registry selected, or 0 for a model opened from a
// file or bytes.
func (m *Model) Version() uint64 { return m.version }

// with runs f with the handle while holding it open; ErrClosed when it is closed.
func (m *Model) with(f func(p *C.inferkit_model) error) error {
	if !m.acquire() {
		return closedError("model " + m.name)
	}
	defer m.release()
	err := f(m.p)
	runtime.KeepAlive(m)
	return err
}

// cname returns an input name as a C string: cached for the model's inputs, else copied into
// Go memory (for the C call only). The caller holds the handle (acquire).
func (m *Model) cname(name string) (*C.char, error) {
	m.loadInfoHeld()
	if s, ok := m.cnames[name]; ok {
		return s, nil
	}
	return goCString(name, "input name")
}

// onlyInput is the C name of the model's input, for a *Tensor given alone; a model with more or
// fewer inputs wants them named (Inputs). The caller holds the handle (acquire).
func (m *Model) onlyInput() (*C.char, error) {
	m.loadInfoHeld()
	if len(m.inputs) != 1 {
		return nil, errorf(CodeInvalidArgument, "model %s has %d inputs: name them with Inputs (a *Tensor alone is the input of a model with one)", m.name, len(m.inputs))
	}
	return m.cname(m.inputs[0].Name)
}

// Inputs describes the model's inputs (nil once closed, if never read before).
func (m *Model) Inputs() []IOInfo {
	m.loadInfo()
	return m.inputs
}

// Outputs describes the model's outputs (nil once closed, if never read before).
func (m *Model) Outputs() []IOInfo {
	m.loadInfo()
	return m.outputs
}

func (m *Model) loadInfo() {
	m.infoOnce.Do(func() {
		_ = m.with(func(p *C.inferkit_model) error {
			m.readInfo(p)
			return nil
		})
	})
}

// loadInfoHeld is loadInfo for a caller that holds the handle: a Close meanwhile does not leave
// the signature unread for a request that is still entitled to run.
func (m *Model) loadInfoHeld() {
	m.infoOnce.Do(func() { m.readInfo(m.p) })
}

func (m *Model) readInfo(p *C.inferkit_model) {
	m.inputs = readIO(p, C.INFERKIT_IO_INPUT)
	m.outputs = readIO(p, C.INFERKIT_IO_OUTPUT)
	m.cnames = make(map[string]*C.char, len(m.inputs))
	for _, in := range m.inputs {
		if strings.IndexByte(in.Name, 0) < 0 {
			m.cnames[in.Name] = C.CString(in.Name)
		}
	}
}

func readIO(p *C.inferkit_model, io C.uint32_t) []IOInfo {
	n := int(C.inferkit_model_tensor_count(p, io))
	infos := make([]IOInfo, 0, n)
	for i := 0; i < n; i++ {
		var name *C.char
		var dtype C.uint32_t
		var rank C.size_t
		if C.inferkit_model_tensor_info(p, io, C.size_t(i), &name, &dtype, &rank, nil) != C.INFERKIT_STATUS_OK {
			continue
		}
		info := IOInfo{Name: C.GoString(name), DType: DType(dtype), Shape: make([]int64, rank), DimNames: make([]string, rank)}
		var kind C.uint32_t
		var typ *C.char
		if C.inferkit_model_value_type(p, io, C.size_t(i), &kind, &typ, nil) == C.INFERKIT_STATUS_OK {
			info.Kind, info.Type = ValueKind(kind), C.GoString(typ)
		}
		for a := 0; a < int(rank); a++ {
			var dim C.int64_t
			var sym *C.char
			if C.inferkit_model_tensor_dim(p, io, C.size_t(i), C.size_t(a), &dim, &sym, nil) == C.INFERKIT_STATUS_OK {
				info.Shape[a] = int64(dim)
				if sym != nil {
					info.DimNames[a] = C.GoString(sym)
				}
			}
		}
		infos = append(infos, info)
	}
	return infos
}

// Stats reads the model's scheduler counters.
func (m *Model) Stats() (Stats, error) {
	var s Stats
	err := m.with(func(p *C.inferkit_model) error {
		var instances, idle, queued C.size_t
		var executions, run C.uint64_t
		var cerr *C.inferkit_error
		st := C.inferkit_model_stats(p, &instances, &idle, &queued, &executions, &run, &cerr)
		s = Stats{int(instances), int(idle), int(queued), uint64(executions), uint64(run)}
		return takeError(st, cerr)
	})
	return s, err
}

// RunEstimate returns how long a run of rows rows is expected to take on one session, from the
// runs inferkit has measured so far (about one in eight), or 0 before any was.
func (m *Model) RunEstimate(rows int) (time.Duration, error) {
	var ns C.uint64_t
	err := m.with(func(p *C.inferkit_model) error {
		var cerr *C.inferkit_error
		return takeError(C.inferkit_model_run_estimate_ns(p, C.size_t(max(rows, 0)), &ns, &cerr), cerr)
	})
	return time.Duration(min(uint64(ns), math.MaxInt64)), err
}

// Backend returns the engine the model runs on: the one its options asked for, or for
// BackendAuto the one chosen when it was opened.
func (m *Model) Backend() (Backend, error) {
	var b Backend
	err := m.with(func(p *C.inferkit_model) error {
		b = Backend(C.inferkit_model_backend(p))
		return nil
	})
	return b, err
}

// MetricsPrometheus returns the model's metrics in the Prometheus text format (request counts
// by outcome, latency and batch-size histograms, queue depth), labelled with the model's name
// and version. promcollector turns them into a prometheus.Collector.
func (m *Model) MetricsPrometheus() (string, error) {
	var text string
	err := m.with(func(p *C.inferkit_model) (err error) {
		text, err = ownedText(func(s **C.char, e **C.inferkit_error) C.inferkit_status {
			return C.inferkit_model_metrics_prometheus(p, s, e)
		})
		return err
	})
	return text, err
}

// MetricsJSON returns the model's metrics as JSON, with percentiles (the shape is documented at
// inferkit_model_metrics_json in inferkit.h).
func (m *Model) MetricsJSON() (string, error) {
	var text string
	err := m.with(func(p *C.inferkit_model) (err error) {
		text, err = ownedText(func(s **C.char, e **C.inferkit_error) C.inferkit_status {
			return C.inferkit_model_metrics_json(p, s, e)
		})
		return err
	})
	return text, err
}

// cString copies s to C memory (free it with C.free); a NUL byte inside is ErrInvalidArgument.
func cString(s, what string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, errorf(CodeInvalidArgument, "%s holds a NUL byte", what)
	}
	return C.CString(s), nil
}

// goCString returns s NUL-terminated in Go memory, to pass to a C call that only reads it
// during the call; a NUL byte inside is ErrInvalidArgument.
func goCString(s, what string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, errorf(CodeInvalidArgument, "%s holds a NUL byte", what)
	}
	b := make([]byte, len(s)+1)
	copy(b, s)
	return (*C.char)(unsafe.Pointer(&b[0])), nil
}
