// Command loadgen compares inferkit's Go binding with github.com/yalue/onnxruntime_go under
// load: the same one-row requests from N goroutines for a few seconds, per model.
//
//	go run ./loadgen -model mlp,mlp_large,ppocr_cls -goroutines 1,8,64,1024 -seconds 2
//
// Backends:
//
//	inferkit            Model.Infer with a context, intra-op threads 1, inferkit's default
//	                    instances (2 on a 2-CPU machine); mlp_large opens with batching (32 rows)
//	ort-shared          onnxruntime_go, one DynamicAdvancedSession shared by every goroutine
//	ort-per-goroutine   onnxruntime_go, a DynamicAdvancedSession per goroutine (skipped when the
//	                    sessions would need more than -session-budget of memory)
//
// Both libraries load the same ONNX Runtime file (-ort): inferkit through
// inferkit_runtime_init, onnxruntime_go through its dlopen, which finds it loaded: one copy.
//
// Every cell runs in a fresh process (this program re-executed), so that its peak OS thread
// count and memory are its own (Go keeps the threads it made). Reported per cell: rows per
// second, per-call latency p50 and p99 and mean, and the process's peak OS thread count.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inferkit/inferkit/benches/go/harness"
	inferkit "github.com/inferkit/inferkit/bindings/go"
)

// cellResult is what a child process reports.
type cellResult struct {
	Model      string  `json:"model"`
	Backend    string  `json:"backend"`
	Goroutines int     `json:"goroutines"`
	Rows       int64   `json:"rows"`
	Seconds    float64 `json:"seconds"`
	RowsPerSec float64 `json:"rows_per_sec"`
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	MeanUs     float64 `json:"mean_us"`
	MaxUs      float64 `json:"max_us"`
	PeakThread int     `json:"peak_threads"`
	Skipped    string  `json:"skipped,omitempty"`
	Error      string  `json:"error,omitempty"`
	Note       string  `json:"note,omitempty"`
}

func main() {
	root := harness.RepoRoot()
	models := flag.String("model", "mlp,mlp_large,ppocr_cls", "models, comma-separated: mlp, mlp_large, ppocr_cls")
	goroutines := flag.String("goroutines", "1,8,64,1024", "goroutine counts, comma-separated")
	seconds := flag.Float64("seconds", 2, "seconds measured per cell (after a short warm-up)")
	backends := flag.String("backends", "inferkit,ort-shared,ort-per-goroutine", "backends, comma-separated")
	ortPath := flag.String("ort", filepath.Join(root, "target", "onnxruntime", "libonnxruntime.so.1.31.1"), "the ONNX Runtime library both libraries load")
	budget := flag.Int64("session-budget", 4<<30, "most bytes the sessions of ort-per-goroutine may take")
	instances := flag.Int("instances", 0, "inferkit sessions per model (0: inferkit's default)")
	batchDelay := flag.Duration("batch-delay", 0, "inferkit's batching delay (max_queue_delay) for models that batch")
	jsonOut := flag.Bool("json", false, "print JSON lines instead of a table")
	cell := flag.String("cell", "", "internal: run one cell, model:backend:goroutines")
	flag.Parse()

	if *cell != "" {
		parts := strings.Split(*cell, ":")
		n, _ := strconv.Atoi(parts[2])
		r := runCell(root, *ortPath, parts[0], parts[1], n, *seconds, *budget, *instances, *batchDelay)
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return
	}

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("# loadgen: %s, GOMAXPROCS %d, %d CPUs, ONNX Runtime %s, %.1f s per cell\n\n", cpuModel(), runtime.GOMAXPROCS(0), runtime.NumCPU(), *ortPath, *seconds)
	if !*jsonOut {
		fmt.Println("| model | goroutines | backend | rows/s | p50 µs | p99 µs | mean µs | max µs | peak OS threads | note |")
		fmt.Println("|---|---:|---|---:|---:|---:|---:|---:|---:|---|")
	}
	for _, model := range split(*models) {
		for _, gs := range split(*goroutines) {
			for _, be := range split(*backends) {
				args := []string{"-cell", model + ":" + be + ":" + gs, "-seconds", fmt.Sprint(*seconds), "-ort", *ortPath,
					"-session-budget", fmt.Sprint(*budget), "-instances", fmt.Sprint(*instances), "-batch-delay", batchDelay.String()}
				var out, errb bytes.Buffer
				cmd := exec.Command(self, args...)
				cmd.Stdout, cmd.Stderr = &out, &errb
				var r cellResult
				if err := cmd.Run(); err != nil {
					r = cellResult{Model: model, Backend: be, Error: fmt.Sprintf("%v: %s", err, lastLine(errb.String()))}
					r.Goroutines, _ = strconv.Atoi(gs)
				} else if err := json.Unmarshal(out.Bytes(), &r); err != nil {
					r = cellResult{Model: model, Backend: be, Error: "bad child output: " + out.String()}
				}
				print(r, *jsonOut)
			}
		}
	}
}

func print(r cellResult, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(r)
		return
	}
	note := r.Note
	switch {
	case r.Error != "":
		fmt.Printf("| %s | %d | %s | | | | | | | error: %s |\n", r.Model, r.Goroutines, r.Backend, r.Error)
	case r.Skipped != "":
		fmt.Printf("| %s | %d | %s | | | | | | | skipped: %s |\n", r.Model, r.Goroutines, r.Backend, r.Skipped)
	default:
		fmt.Printf("| %s | %d | %s | %.0f | %.1f | %.1f | %.1f | %.0f | %d | %s |\n", r.Model, r.Goroutines, r.Backend,
			r.RowsPerSec, r.P50us, r.P99us, r.MeanUs, r.MaxUs, r.PeakThread, note)
	}
}

func runCell(root, ortPath, model, backend string, goroutines int, seconds float64, budget int64, instances int, batchDelay time.Duration) (r cellResult) {
	r = cellResult{Model: model, Backend: backend, Goroutines: goroutines}
	if err := harness.InitORT(ortPath); err != nil {
		r.Error = err.Error()
		return r
	}
	if p := inferkit.RuntimePath(); p != ortPath {
		r.Note = "inferkit loaded " + p + ";"
	}
	spec, ok := harness.Specs(root)[model]
	if !ok {
		r.Error = "unknown model " + model
		return r
	}
	spec.BatchDelay = batchDelay
	var be harness.Backend
	var err error
	switch backend {
	case "inferkit":
		be, err = harness.NewInferkit(spec, instances)
	case "ort-shared":
		be, err = harness.NewORTShared(spec)
	case "ort-per-goroutine":
		be, err = harness.NewORTPerCaller(spec)
	default:
		err = fmt.Errorf("unknown backend %s", backend)
	}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer be.Close()

	// The callers (sessions, for ort-per-goroutine), made before the clock starts.
	callers := make([]harness.Caller, 0, goroutines)
	defer func() {
		for _, c := range callers {
			c.Close()
		}
	}()
	for i := 0; i < goroutines; i++ {
		before := rss()
		c, err := be.NewCaller()
		if err != nil {
			r.Error = err.Error()
			return r
		}
		callers = append(callers, c)
		if backend == "ort-per-goroutine" && i == 1 {
			per := rss() - before
			if per*int64(goroutines) > budget {
				r.Skipped = fmt.Sprintf("%d sessions of ~%d MiB > -session-budget %d MiB", goroutines, per>>20, budget>>20)
				return r
			}
			r.Note = fmt.Sprintf("~%.1f MiB per session", float64(per)/(1<<20))
		}
	}
	if backend == "inferkit" {
		if ik, ok := be.(interface {
			Stats() (inferkit.Stats, error)
		}); ok {
			if s, err := ik.Stats(); err == nil {
				r.Note = strings.TrimSpace(fmt.Sprintf("%s %d instances", r.Note, s.Instances))
			}
		}
		if spec.Batching > 1 {
			r.Note = strings.TrimSpace(fmt.Sprintf("%s, batching %d", r.Note, spec.Batching))
			if batchDelay > 0 {
				r.Note += ", delay " + batchDelay.String()
			}
		}
	}

	var peak atomic.Int64
	sampleStop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if n := int64(harness.OSThreads()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-sampleStop:
				return
			case <-t.C:
			}
		}
	}()

	stats := func() (inferkit.Stats, bool) {
		if ik, ok := be.(interface {
			Stats() (inferkit.Stats, error)
		}); ok {
			s, err := ik.Stats()
			return s, err == nil
		}
		return inferkit.Stats{}, false
	}
	var statsStart inferkit.Stats
	warmup := 300 * time.Millisecond
	measure := time.Duration(seconds * float64(time.Second))
	var measuring, stopping atomic.Bool
	var wg sync.WaitGroup
	lat := make([][]time.Duration, goroutines)
	var firstErr atomic.Value
	gate := make(chan struct{})
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			row := harness.Row(spec, g)
			ctx := context.Background()
			local := make([]time.Duration, 0, 1024)
			<-gate
			for !stopping.Load() {
				t0 := time.Now()
				_, err := callers[g].Call(ctx, row)
				d := time.Since(t0)
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
					return
				}
				if measuring.Load() {
					local = append(local, d)
				}
			}
			lat[g] = local
		}(g)
	}
	close(gate)
	time.Sleep(warmup)
	statsStart, _ = stats()
	measuring.Store(true)
	start := time.Now()
	time.Sleep(measure)
	measuring.Store(false)
	elapsed := time.Since(start)
	if end, ok := stats(); ok && end.Executions > statsStart.Executions {
		r.Note = strings.TrimSpace(fmt.Sprintf("%s, mean batch %.1f", r.Note,
			float64(end.RequestsRun-statsStart.RequestsRun)/float64(end.Executions-statsStart.Executions)))
	}
	stopping.Store(true)
	wg.Wait()
	close(sampleStop)
	<-sampled
	if e := firstErr.Load(); e != nil {
		r.Error = e.(string)
		return r
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	r.Rows = int64(len(all))
	r.Seconds = elapsed.Seconds()
	r.RowsPerSec = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		var sum time.Duration
		for _, d := range all {
			sum += d
		}
		us := func(d time.Duration) float64 { return float64(d) / 1e3 }
		r.P50us = us(all[len(all)*50/100])
		r.P99us = us(all[min(len(all)-1, len(all)*99/100)])
		r.MeanUs = us(sum / time.Duration(len(all)))
		r.MaxUs = us(all[len(all)-1])
	}
	r.PeakThread = int(peak.Load())
	return r
}

// rss returns the process's resident memory in bytes.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
		}
	}
	return runtime.GOARCH
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
