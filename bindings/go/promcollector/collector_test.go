package promcollector_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/inferkit/inferkit/bindings/go/promcollector"
)

// A sample of inferkit's metrics text (what inferkit_registry_metrics_prometheus returns).
const sample = `# HELP inferkit_inference_request_success_total Requests that returned outputs.
# TYPE inferkit_inference_request_success_total counter
inferkit_inference_request_success_total{model="classifier",version="1"} 7
inferkit_inference_request_success_total{model="classifier",version="2"} 0
# HELP inferkit_inference_request_failure_total Requests that failed, by error code.
# TYPE inferkit_inference_request_failure_total counter
inferkit_inference_request_failure_total{model="classifier",version="1",code="QUEUE_FULL"} 2
# HELP inferkit_request_duration_us End-to-end request latency in microseconds.
# TYPE inferkit_request_duration_us histogram
inferkit_request_duration_us_bucket{model="classifier",version="1",le="50"} 3
inferkit_request_duration_us_bucket{model="classifier",version="1",le="100"} 6
inferkit_request_duration_us_bucket{model="classifier",version="1",le="+Inf"} 7
inferkit_request_duration_us_sum{model="classifier",version="1"} 512.5
inferkit_request_duration_us_count{model="classifier",version="1"} 7
# HELP inferkit_pending_requests Requests waiting in the queue.
# TYPE inferkit_pending_requests gauge
inferkit_pending_requests{model="classifier",version="1"} 4
`

type text string

func (t text) MetricsPrometheus() (string, error) { return string(t), nil }

type failing struct{}

func (failing) MetricsPrometheus() (string, error) { return "", errors.New("model is closed") }

func TestCollectorRegistersWithAServiceRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	own := prometheus.NewCounter(prometheus.CounterOpts{Name: "service_requests_total", Help: "The service's own."})
	own.Add(3)
	reg.MustRegister(own, promcollector.New(text(sample), promcollector.WithConstLabels(prometheus.Labels{"instance": "a"})))

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	if byName["service_requests_total"] == nil {
		t.Fatal("the service's own metric is gone")
	}
	succ := byName["inferkit_inference_request_success_total"]
	if succ == nil || succ.GetType() != dto.MetricType_COUNTER || len(succ.GetMetric()) != 2 {
		t.Fatalf("success counter: %v", succ)
	}
	h := byName["inferkit_request_duration_us"]
	if h == nil || h.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("histogram: %v", h)
	}
	hist := h.GetMetric()[0].GetHistogram()
	if hist.GetSampleCount() != 7 || hist.GetSampleSum() != 512.5 || len(hist.GetBucket()) != 2 ||
		hist.GetBucket()[1].GetCumulativeCount() != 6 {
		t.Fatalf("histogram values: %v", hist)
	}
	if g := byName["inferkit_pending_requests"]; g == nil || g.GetMetric()[0].GetGauge().GetValue() != 4 {
		t.Fatalf("gauge: %v", g)
	}
	// labels: the metric's own and the constant ones
	want := `
# HELP inferkit_inference_request_failure_total Requests that failed, by error code.
# TYPE inferkit_inference_request_failure_total counter
inferkit_inference_request_failure_total{code="QUEUE_FULL",instance="a",model="classifier",version="1"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "inferkit_inference_request_failure_total"); err != nil {
		t.Fatal(err)
	}
}

func TestCollectorReportsErrors(t *testing.T) {
	for name, src := range map[string]promcollector.Source{
		"source fails": failing{},
		"bad text":     text("# TYPE x counter\nx{ 1\n"),
	} {
		reg := prometheus.NewRegistry()
		reg.MustRegister(promcollector.New(src))
		if _, err := reg.Gather(); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
}
